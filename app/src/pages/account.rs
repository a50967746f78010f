//! The security page's account settings: the email address and deleting the account. Both
//! need the password proved recently (docs/api.md §3.17): the page asks for it once, then,
//! for the ten minutes the server allows, not again.

use crate::api::{ApiError, ErrorCode};
use crate::auth::{AuthContext, use_auth};
use crate::components::{Submission, TextField};
use crate::functions;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Whether the next sensitive change must carry the password: unknown (`None`) until the
/// server has said (a fresh sign-in counts as recent), then following each answer.
#[derive(Clone, Copy)]
pub struct RecentAuth {
    needs_password: RwSignal<Option<bool>>,
    auth: AuthContext,
}

impl RecentAuth {
    pub fn new() -> Self {
        let needs_password = RwSignal::new(None);
        let auth = use_auth();
        Effect::new(move |_| {
            spawn_local(async move {
                let until = auth.with_access(functions::reauthenticated_until).await;
                // Without an answer (the network failed, say), asking is the safe default.
                let recent = matches!(until, Ok(until) if until > 0);
                needs_password.set(Some(!recent));
            });
        });
        Self { needs_password, auth }
    }

    /// A sensitive call: made with the access token and the typed `password` (empty while
    /// the window is open), and learned from.
    pub async fn call<T, F, Fut>(self, password: RwSignal<String>, call: F) -> Result<T, ApiError>
    where
        F: Fn(String, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let typed = password.get_untracked();
        let result = self.auth.with_access(|access| call(access, typed.clone())).await;
        self.learn(&result);
        result
    }

    /// Until the server has said whether the password is needed, the forms wait (a form
    /// sent without a field the server then wants would only fail).
    pub fn known(self) -> bool {
        self.needs_password.get().is_some()
    }

    fn asks(self) -> bool {
        self.needs_password.get() == Some(true)
    }

    /// Learns from a sensitive call's answer: success proved the password (or the window
    /// was open), a refusal for want of one means the window has closed.
    fn learn<T>(self, result: &Result<T, ApiError>) {
        match result {
            Ok(_) => self.needs_password.set(Some(false)),
            Err(e) if e.code == ErrorCode::ReauthenticationRequired => self.needs_password.set(Some(true)),
            Err(_) => {}
        }
    }
}

/// The password field of a sensitive form, shown only while the server would ask for it.
#[component]
pub fn ConfirmPassword(
    id: &'static str,
    recent: RecentAuth,
    value: RwSignal<String>,
    form: Submission,
) -> impl IntoView {
    view! {
        <Show when=move || recent.asks()>
            <TextField id=id label="Your password" name="password" autocomplete="current-password"
                kind="password" value=value invalid=form.invalid("password")
                hint="Asked once: for ten minutes after, changes here don't need it again.".to_owned() />
        </Show>
    }
}

#[component]
pub fn ChangeEmail(recent: RecentAuth) -> impl IntoView {
    let form = Submission::new();
    let new_email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let sent_to = RwSignal::new(None::<String>);
    let on_submit = move |ev| {
        sent_to.set(None);
        form.submit(ev, move || async move {
            let to = new_email.get_untracked();
            let result =
                recent.call(password, |access, pass| functions::change_email(access, to.clone(), pass)).await;
            result?;
            password.set(String::new());
            new_email.set(String::new());
            sent_to.set(Some(to));
            Ok(())
        });
    };
    view! {
        <section class="card">
            <h2>"Change your email address"</h2>
            <p>"We mail a link to the new address; your address changes when you open it. Your current address is told too."</p>
            <form method="post" on:submit=on_submit>
                <TextField id="new-email" label="New email address" name="new_email" autocomplete="email"
                    kind="email" value=new_email invalid=form.invalid("new_email") />
                <ConfirmPassword id="email-password" recent=recent value=password form=form />
                <p class="error" role="alert">{move || form.message()}</p>
                {move || sent_to.get().map(|to| view! {
                    <p class="status" role="status">{format!("Check {to}: the link there changes your address. It works for 24 hours.")}</p>
                })}
                <button type="submit" disabled=move || form.disabled() || !recent.known()>
                    {move || if form.pending() { "Sending…" } else { "Send the link" }}
                </button>
            </form>
        </section>
    }
    .into_any()
}

#[component]
pub fn DeleteAccount(recent: RecentAuth) -> impl IntoView {
    let auth = use_auth();
    let form = Submission::new();
    let password = RwSignal::new(String::new());
    let sure = RwSignal::new(false);
    let on_submit = move |ev| {
        form.submit(ev, move || async move {
            let result = recent.call(password, functions::delete_account).await;
            result?;
            // Every session is gone on the server: forget this one here and in every tab.
            auth.logout().await;
            Ok(())
        });
    };
    view! {
        <section class="card danger">
            <h2>"Delete your account"</h2>
            <p>"Your account, your profile and every session end for good. Your username becomes free for anyone. This cannot be undone."</p>
            <form method="post" on:submit=on_submit>
                <ConfirmPassword id="delete-password" recent=recent value=password form=form />
                <label class="check">
                    <input type="checkbox" name="sure" bind:checked=sure required />
                    "I understand: delete my account and everything in it"
                </label>
                <p class="error" role="alert">{move || form.message()}</p>
                <button type="submit" class="destructive" disabled=move || form.disabled() || !recent.known() || !sure.get()>
                    {move || if form.pending() { "Deleting…" } else { "Delete my account" }}
                </button>
            </form>
        </section>
    }
    .into_any()
}
