//! The pages mailed links open, and the way into them: forgot password, reset password,
//! confirm an address. Opening a page never uses its link (mail scanners open every link);
//! only the button's POST does.

use crate::auth::use_auth;
use crate::components::{PasswordRules, Submission, TextField};
use crate::functions;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The `token` of the link that opened the page.
fn link_token() -> impl Fn() -> String + Copy {
    let query = use_query_map();
    move || query.read_untracked().get("token").unwrap_or_default()
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let token = link_token();
    let form = Submission::new();
    let done = RwSignal::new(false);
    let on_submit = move |ev| {
        form.submit(ev, move || async move {
            functions::verify_email(token()).await?;
            done.set(true);
            Ok(())
        });
    };
    view! {
        <Title text="Confirm your email address · Leptos Auth"/>
        <section class="card narrow">
            <h1>"Confirm your email address"</h1>
            <Show when=move || done.get() fallback=move || view! {
                <p>"Confirm that this address is yours: one click, and it is done."</p>
                <form method="post" on:submit=on_submit>
                    <p class="error" role="alert">{move || form.message()}</p>
                    <button type="submit" disabled=move || form.disabled()>
                        {move || if form.pending() { "Confirming…" } else { "Confirm my address" }}
                    </button>
                </form>
            }>
                <p class="notice" role="status">"Your email address is confirmed. Thank you."</p>
                <p><a href="/profile">"Go to your profile"</a></p>
            </Show>
        </section>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let form = Submission::new();
    let email = RwSignal::new(String::new());
    let answer = RwSignal::new(None::<String>);
    let on_submit = move |ev| {
        form.submit(ev, move || async move {
            answer.set(Some(functions::request_password_reset(email.get_untracked()).await?));
            Ok(())
        });
    };
    view! {
        <Title text="Forgot your password? · Leptos Auth"/>
        <section class="card narrow">
            <h1>"Forgot your password?"</h1>
            <Show when=move || answer.with(Option::is_some) fallback=move || view! {
                <p>"Enter your account's email address and we will mail you a link to choose a new password."</p>
                <form method="post" on:submit=on_submit>
                    <TextField id="forgot-email" label="Email" name="email" autocomplete="email" kind="email"
                        value=email invalid=form.invalid("email") />
                    <p class="error" role="alert">{move || form.message()}</p>
                    <button type="submit" disabled=move || form.disabled()>
                        {move || if form.pending() { "Sending…" } else { "Send me a link" }}
                    </button>
                </form>
            }>
                <p class="notice" role="status">{move || answer.get()}</p>
                <p class="aside">"Nothing after a few minutes? Check your spam folder, or "
                    <a href="/forgot-password" on:click=move |_| answer.set(None)>"try another address"</a> "."</p>
            </Show>
            <p class="aside"><a href="/login">"Back to log in"</a></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let auth = use_auth();
    let token = link_token();
    let form = Submission::new();
    let password = RwSignal::new(String::new());
    let done = RwSignal::new(false);
    let on_submit = move |ev| {
        form.submit(ev, move || async move {
            functions::confirm_password_reset(token(), password.get_untracked()).await?;
            done.set(true);
            // Every session ended on the server, this browser's too (and its other tabs).
            if auth.is_signed_in() {
                auth.logout().await;
            }
            Ok(())
        });
    };
    view! {
        <Title text="Choose a new password · Leptos Auth"/>
        <section class="card narrow">
            <h1>"Choose a new password"</h1>
            <Show when=move || done.get() fallback=move || view! {
                <form method="post" on:submit=on_submit>
                    <TextField id="reset-password" label="New password" name="new_password"
                        autocomplete="new-password" kind="password" value=password
                        invalid=form.invalid("new_password")
                        hint="It must also not be easy to guess: that is checked when you submit.".to_owned() />
                    <PasswordRules password=password username=Signal::stored(String::new()) />
                    <p class="error" role="alert">{move || form.message()}</p>
                    <button type="submit" disabled=move || form.disabled()>
                        {move || if form.pending() { "Saving…" } else { "Set new password" }}
                    </button>
                </form>
            }>
                <p class="notice" role="status">
                    "Your password is changed, and every session of your account has ended."
                </p>
                <p><a href="/login">"Log in with your new password"</a></p>
            </Show>
        </section>
    }
}
