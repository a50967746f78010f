//! The browser's way through an OpenID Connect provider: `/auth/<id>/start` sends it to the
//! provider, and the provider sends it back to `/auth/<id>/callback`. Both answer with
//! redirects. A sign-in ends on the login page: with a hand-over token in the URL's fragment
//! (never sent to a server, so never in a log or a Referer) that the page exchanges for a
//! session, or with `provider_error` saying why not. Linking (begun from the security page
//! by the `link_identity` server function) ends back on the security page.

use crate::rest::Client;
use crate::state::AppState;
use app::api::ErrorCode;
use app::server::{AuthService, CallbackOutcome, ProviderRefusal};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/{provider}/start", get(start))
        .route("/auth/{provider}/callback", get(callback))
}

#[derive(Deserialize)]
struct Start {
    next: Option<String>,
}

/// Sends the browser to the provider's login page.
async fn start(
    State(auth): State<AuthService>,
    Path(provider): Path<String>,
    Query(query): Query<Start>,
    Client(meta): Client,
) -> Response {
    match auth.begin_provider_sign_in(&provider, query.next.as_deref(), &meta).await {
        Ok(url) => no_store(Redirect::to(&url)),
        Err(e) if e.code == ErrorCode::NotFound => e.into_response(),
        Err(e) => {
            let why =
                if e.code == ErrorCode::Throttled { "busy" } else { ProviderRefusal::Unavailable.code() };
            no_store(Redirect::to(&login_page(query.next.as_deref().unwrap_or("/profile"), Err(why))))
        }
    }
}

/// What the provider sends back: a code and our `state`, or an error and our `state`.
#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
}

async fn callback(
    State(auth): State<AuthService>,
    Path(provider): Path<String>,
    Query(query): Query<Callback>,
    Client(meta): Client,
) -> Response {
    let state = query.state.unwrap_or_default();
    let outcome = auth.provider_callback(&provider, &state, query.code.as_deref(), &meta).await;
    let target = match outcome {
        Ok(CallbackOutcome::SignedIn { next, handoff }) => login_page(&next, Ok(&handoff)),
        Ok(CallbackOutcome::Linked { provider }) => {
            return back_to_security(&[("provider_linked", &provider)]);
        }
        Ok(CallbackOutcome::Refused { why, linking: true, .. }) => {
            return back_to_security(&[("provider_error", why.code())]);
        }
        Ok(CallbackOutcome::Refused { next, why, linking: false }) => login_page(&next, Err(why.code())),
        Err(e) => {
            tracing::warn!(error = %e.detail, "a provider's callback failed");
            login_page("/profile", Err(ProviderRefusal::Unavailable.code()))
        }
    };
    no_store(Redirect::to(&target))
}

/// The login page, with `next` and either the hand-over token (in the fragment) or the
/// refusal's code.
fn login_page(next: &str, result: Result<&str, &str>) -> String {
    let query = |pairs: &[(&str, &str)]| serde_urlencoded::to_string(pairs).unwrap_or_default();
    match result {
        Ok(handoff) => format!("/login?{}#{}", query(&[("next", next)]), query(&[("handoff", handoff)])),
        Err(why) => format!("/login?{}", query(&[("next", next), ("provider_error", why)])),
    }
}

/// Back to the security page after linking, saying how it went. Not by a redirect: the
/// provider's redirect here is a cross-site navigation, and a redirect would keep it one, so
/// the `SameSite=Strict` session cookie (cookie mode) would not come along and the page
/// would find nobody signed in. A page of this site that moves on by itself makes the next
/// request same-site.
fn back_to_security(query: &[(&str, &str)]) -> Response {
    let url = format!("/security?{}", serde_urlencoded::to_string(query).unwrap_or_default());
    let url = url.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={url}\"><title>Back to your security page</title></head>\
         <body><p><a href=\"{url}\">Back to your security page</a></p></body></html>"
    );
    let mut response = axum::response::Html(page).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn no_store(redirect: Redirect) -> Response {
    let mut response = redirect.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::login_page;

    #[test]
    fn the_token_travels_in_the_fragment_and_next_is_encoded() {
        assert_eq!(login_page("/admin?x=1", Ok("t0k")), "/login?next=%2Fadmin%3Fx%3D1#handoff=t0k");
        assert_eq!(
            login_page("/profile", Err("email_in_use")),
            "/login?next=%2Fprofile&provider_error=email_in_use"
        );
    }
}
