use crate::auth::use_auth;
use crate::components::{NameFields, PasswordRules, Submission, TextField};
use crate::functions;
use crate::pages::providers::ProviderButtons;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let form = Submission::new();
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let first_name = RwSignal::new(String::new());
    let last_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());

    let on_submit = move |ev| {
        let navigate = navigate.clone();
        form.submit(ev, move || async move {
            let (user, pass) = (username.get_untracked(), password.get_untracked());
            let (mail, first, last) =
                (email.get_untracked(), first_name.get_untracked(), last_name.get_untracked());
            functions::register(user.clone(), pass.clone(), mail, first, last).await?;
            auth.login(user, pass).await?;
            navigate("/profile", Default::default());
            Ok(())
        });
    };

    view! {
        <Title text="Register · Leptos Auth"/>
        <section class="card narrow">
            <h1>"Create an account"</h1>
            <form method="post" on:submit=on_submit>
                <TextField id="reg-username" label="Username" name="username" autocomplete="username"
                    value=username invalid=form.invalid("username") />
                <TextField id="reg-email" label="Email" name="email" autocomplete="email" kind="email"
                    value=email invalid=form.invalid("email") />
                <NameFields form=form first_name=first_name last_name=last_name
                    ids=("reg-first-name", "reg-last-name") />
                <TextField id="reg-password" label="Password" name="password" autocomplete="new-password"
                    kind="password" value=password invalid=form.invalid("password")
                    hint="It must also not be easy to guess: that is checked when you submit.".to_owned() />
                <PasswordRules password=password username=username />
                <p class="error" role="alert">{move || form.message()}</p>
                <button type="submit" disabled=move || form.disabled()>
                    {move || if form.pending() { "Creating account…" } else { "Create account" }}
                </button>
            </form>
            <ProviderButtons next="/profile".to_owned()/>
            <p class="aside">"Already registered? " <a href="/login">"Log in"</a> "."</p>
        </section>
    }
}
