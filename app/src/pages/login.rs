use crate::api::ErrorCode;
use crate::auth::{passkey, safe_next, use_auth};
use crate::components::{Submission, TextField};
use crate::functions;
use crate::pages::providers::{ProviderButtons, ProviderHandoff, refusal_text};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let navigate = use_navigate();
    let form = Submission::new();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let show_password = RwSignal::new(false);
    // After a right password for an account with a second factor: the challenge's token.
    let mfa_token = RwSignal::new(None::<String>);
    let next = move || safe_next(query.read_untracked().get("next").as_deref());
    // Back from a provider without a sign-in: why.
    let provider_error = move || query.read().get("provider_error").map(|code| refusal_text(&code));

    // Signed in by another tab (or already signed in): nothing to do here, go on.
    let go_on = navigate.clone();
    Effect::new(move |_| {
        if auth.is_signed_in() && !form.pending() {
            go_on(&next(), NavigateOptions { replace: true, ..Default::default() });
        }
    });

    let go_on = {
        let navigate = navigate.clone();
        move || navigate(&next(), Default::default())
    };
    let on_submit = move |ev| {
        let next = next();
        let navigate = navigate.clone();
        form.submit(ev, move || async move {
            match auth.login(username.get_untracked(), password.get_untracked()).await {
                Err(e) if e.code == ErrorCode::MfaRequired => {
                    password.set(String::new());
                    mfa_token.set(e.mfa_token);
                    return Ok(());
                }
                other => other?,
            }
            navigate(&next, Default::default());
            Ok(())
        });
    };

    view! {
        <Title text="Log in · Leptos Auth"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            // Why the user is here, when the session ended by itself or in another tab.
            {move || auth.notice().filter(|n| !n.is_transient()).map(|n| view! {
                <p class="notice" role="status">{n.text()}</p>
            })}
            {move || provider_error().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <ProviderHandoff mfa_token=mfa_token go_on=go_on.clone()/>
            <Show when=move || mfa_token.with(Option::is_none) fallback=move || view! {
                <SecondStep mfa_token=mfa_token go_on=go_on.clone()/>
            }>
            <form method="post" on:submit=on_submit.clone()>
                // `webauthn`: the browser may offer this site's passkeys in the field's autofill.
                <TextField id="login-username" label="Username" name="username" autocomplete="username webauthn"
                    value=username />
                <TextField id="login-password" label="Password" name="password" autocomplete="current-password"
                    value=password
                    kind=Signal::derive(move || if show_password.get() { "text" } else { "password" }) />
                <div class="row spread">
                    <label class="check">
                        <input type="checkbox" bind:checked=show_password />
                        "Show password"
                    </label>
                    <a href="/forgot-password">"Forgot password?"</a>
                </div>
                <p class="error" role="alert">{move || form.message()}</p>
                <button type="submit" disabled=move || form.disabled()>
                    {move || if form.pending() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
            <PasskeySignIn/>
            <ProviderButtons next=Signal::derive(next)/>
            </Show>
            <p class="aside">"No account yet? " <a href="/register">"Create one"</a> "."</p>
        </section>
    }
}

/// The second step: a code from the authenticator app, or a recovery code instead.
#[component]
fn SecondStep(mfa_token: RwSignal<Option<String>>, go_on: impl Fn() + Clone + 'static) -> impl IntoView {
    let auth = use_auth();
    let form = Submission::new();
    let code = RwSignal::new(String::new());
    let recovery = RwSignal::new(false);
    let on_submit = move |ev| {
        let go_on = go_on.clone();
        form.submit(ev, move || async move {
            let token = mfa_token.get_untracked().unwrap_or_default();
            match auth.login_mfa(token, code.get_untracked()).await {
                Ok(()) => {
                    go_on();
                    Ok(())
                }
                Err(e) => {
                    code.set(String::new());
                    Err(e)
                }
            }
        });
    };
    view! {
        <form method="post" on:submit=on_submit>
            <p>{move || if recovery.get() {
                "Enter one of the recovery codes you saved when you set up two-step sign-in. Each works once."
            } else {
                "Open your authenticator app and enter the 6-digit code it shows for Leptos Auth."
            }}</p>
            <Show when=move || !recovery.get() fallback=move || view! {
                <TextField id="login-recovery-code" label="Recovery code" name="code" autocomplete="off"
                    value=code invalid=form.invalid("code") />
            }>
                <TextField id="login-code" label="Authentication code" name="code" autocomplete="one-time-code"
                    inputmode="numeric" value=code invalid=form.invalid("code") />
            </Show>
            <p class="error" role="alert">{move || form.message()}</p>
            <button type="submit" disabled=move || form.disabled()>
                {move || if form.pending() { "Checking…" } else { "Continue" }}
            </button>
        </form>
        <p class="aside">
            <button type="button" class="link" on:click=move |_| recovery.update(|r| *r = !*r)>
                {move || if recovery.get() { "Use the code from your app instead" } else { "Use a recovery code instead" }}
            </button>
            " · "
            <a href="/login" on:click=move |_| mfa_token.set(None)>"Start over"</a>
        </p>
    }
}

/// Signing in with a passkey: offered in the username field's autofill for as long as the
/// page is open (where the browser can), and by a button. Once signed in, the page's effect
/// goes on to `next`, as for any sign-in.
#[component]
fn PasskeySignIn() -> impl IntoView {
    let auth = use_auth();
    let form = Submission::new();
    // Known only in the browser, after hydration: the button shows where it can work.
    let supported = RwSignal::new(false);
    // The pending autofill request, aborted when the button is used or the page goes.
    // Browser only: a thread-local value must not live in a server request's owner, whose
    // cleanup may run on another thread (and panicked there, cutting the page short).
    let autofill =
        cfg!(target_arch = "wasm32").then(|| StoredValue::new_local(None::<web_sys::AbortController>));
    let stop_autofill = move || {
        if let Some(controller) = autofill.and_then(|a| a.try_update_value(Option::take).flatten()) {
            controller.abort();
        }
    };
    Effect::new(move |_| {
        supported.set(passkey::supported());
        spawn_local(async move {
            if !passkey::autofill_available().await {
                return;
            }
            // Quietly nothing if the server has passkeys off or is busy: the form still works.
            let Ok(challenge) = functions::passkey_sign_in_options().await else { return };
            let Ok(controller) = web_sys::AbortController::new() else { return };
            let signal = controller.signal();
            if let Some(autofill) = autofill {
                autofill.set_value(Some(controller));
            }
            if let Ok(credential) = passkey::get(&challenge.options, Some(&signal)).await {
                form.submit_with(move || auth.login_passkey(challenge.ceremony, credential));
            }
        });
    });
    on_cleanup(stop_autofill);
    let with_button = move |_| {
        stop_autofill();
        form.submit_with(move || async move {
            let challenge = functions::passkey_sign_in_options().await?;
            let credential = passkey::get(&challenge.options, None).await?;
            auth.login_passkey(challenge.ceremony, credential).await
        });
    };
    view! {
        <Show when=move || supported.get()>
            <div class="alternative">
                <p class="divider"><span>"or"</span></p>
                <p class="error" role="alert">{move || form.message()}</p>
                <button type="button" class="secondary" on:click=with_button disabled=move || form.disabled()>
                    {move || if form.pending() { "Waiting for your passkey…" } else { "Sign in with a passkey" }}
                </button>
            </div>
        </Show>
    }
}
