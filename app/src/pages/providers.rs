//! Signing in through OpenID Connect providers, on the login and register pages: one
//! "Continue with <name>" link per provider (plain links to `/auth/<id>/start`, so they work
//! before the page hydrates), and the login page's pick-up of a finished round trip: the
//! hand-over token in the URL's fragment, or the reason in `provider_error`.

use crate::api::ErrorCode;
use crate::auth::use_auth;
use crate::components::Submission;
use crate::functions;
use leptos::prelude::*;

/// The providers' buttons; nothing when none is configured.
#[component]
pub fn ProviderButtons(#[prop(into)] next: Signal<String>) -> impl IntoView {
    let providers = Resource::new(|| (), |_| functions::sign_in_providers());
    view! {
        <Transition fallback=|| ()>
            {move || providers.get().and_then(Result::ok).filter(|p| !p.is_empty()).map(|providers| view! {
                <div class="alternative">
                    <p class="divider"><span>"or"</span></p>
                    {providers.into_iter().map(|p| {
                        let href = move || format!("/auth/{}/start?next={}", p.id, encode(&next.get()));
                        // `external`: a server route, not one of the app's pages.
                        view! { <a class="button secondary" rel="external" href=href>{format!("Continue with {}", p.name)}</a> }
                    }).collect_view()}
                </div>
            })}
        </Transition>
    }
}

/// Why a provider's round trip did not sign anyone in, for people.
pub fn refusal_text(code: &str) -> &'static str {
    match code {
        "email_in_use" => {
            "An account here already uses that email address, so this sign-in was not joined to it. \
             Log in to that account, then link the provider from the security page."
        }
        "no_email" => "The provider did not share your email address, which an account here needs.",
        "cancelled" => "The sign-in was cancelled at the provider.",
        "expired" => "That sign-in took too long or was already used. Try again.",
        "disabled" => "This account is disabled.",
        "identity_in_use" => "That account at the provider already signs in to another account here.",
        "busy" => "Too many attempts. Wait a minute and try again.",
        "refused" => "The provider's answer could not be verified. Try again.",
        _ => "The provider could not be reached. Try again in a moment.",
    }
}

/// On the login page after a provider's callback: exchanges the hand-over token for a
/// session (once; the token leaves the address bar at once). An account with a second
/// factor goes on to the code step (`mfa_token`).
#[component]
pub fn ProviderHandoff(
    mfa_token: RwSignal<Option<String>>,
    go_on: impl Fn() + Clone + 'static,
) -> impl IntoView {
    let auth = use_auth();
    let form = Submission::new();
    Effect::new(move |_| {
        let Some(token) = take_handoff() else { return };
        let go_on = go_on.clone();
        form.submit_with(move || async move {
            match auth.login_provider(token).await {
                Ok(()) => go_on(),
                Err(e) if e.code == ErrorCode::MfaRequired => mfa_token.set(e.mfa_token),
                Err(e) => return Err(e),
            }
            Ok(())
        });
    });
    view! {
        {move || form.pending().then(|| view! { <p class="status" role="status">"Signing you in…"</p> })}
        <p class="error" role="alert">{move || form.message()}</p>
    }
}

/// The `handoff` of the URL's fragment, removed from the address bar (and history).
fn take_handoff() -> Option<String> {
    let location = window().location();
    let hash = location.hash().ok()?;
    let token = hash.strip_prefix("#handoff=")?.to_owned();
    let clean = format!("{}{}", location.pathname().ok()?, location.search().ok()?);
    let _ = window().history().ok()?.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
    (!token.is_empty()).then_some(token)
}

/// `next` as a query value: everything but RFC 3986's unreserved characters
/// percent-encoded.
fn encode(next: &str) -> String {
    next.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
