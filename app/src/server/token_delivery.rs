//! How the browser app's server functions hand over the refresh token, per [`TokenStorage`]:
//!
//! - `LocalStorage`: in the response body, exactly as the REST contract does.
//! - `Cookie`: only in the `__Host-` cookie below (HttpOnly, Secure, SameSite=Strict); the
//!   body's `refresh` is empty, and an empty `refresh` argument means "the cookie's". Calls
//!   must then carry [`CSRF_HEADER`] and a same-origin `Origin` ([`is_same_origin_call`]).
//!
//! The REST endpoints never read the cookie, so non-browser clients see no difference.

use super::AuthService;
use crate::api::{ApiError, CSRF_HEADER, SessionUser, SignIn, TokenPair, TokenStorage};
use axum::http::{HeaderMap, HeaderValue, header};

/// `__Host-` makes the browser refuse it unless Secure, host-only and `Path=/`; so it can't
/// be path-scoped, but no subdomain can set or shadow it either. Browsers treat
/// `http://localhost` and `http://127.0.0.1` as secure for this, so it works in development.
pub const COOKIE: &str = "__Host-leptos_auth_refresh";

/// The signed-in user of a page request in cookie mode, found by the server from the cookie
/// before rendering, so the first paint already shows them.
#[derive(Clone, Debug)]
pub struct SsrUser(pub SessionUser);

/// The mode the server runs in; localStorage when nothing was provided.
pub fn mode() -> TokenStorage {
    leptos::prelude::use_context::<TokenStorage>().unwrap_or_default()
}

/// A login's answer for the browser: in cookie mode the refresh token goes into the cookie.
pub fn deliver_sign_in(auth: &AuthService, sign_in: SignIn) -> SignIn {
    SignIn { tokens: deliver(auth, sign_in.tokens), ..sign_in }
}

/// A rotation's answer for the browser: in cookie mode the refresh token goes into the cookie.
pub fn deliver(auth: &AuthService, pair: TokenPair) -> TokenPair {
    if mode() != TokenStorage::Cookie {
        return pair;
    }
    set_cookie(&pair.refresh, auth.refresh_lifetime());
    TokenPair { refresh: String::new(), ..pair }
}

/// The refresh token a call presents: its argument, or in cookie mode (argument empty) the
/// cookie's.
pub fn presented(argument: String) -> String {
    if !argument.is_empty() || mode() != TokenStorage::Cookie {
        return argument;
    }
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| cookie_value(&parts.headers))
        .unwrap_or_default()
}

/// In cookie mode, removes the cookie (logout, or a refresh the server refused).
pub fn forget_on_refusal<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if result.as_ref().is_err_and(ApiError::is_auth_failure) {
        forget();
    }
    result
}

pub fn forget() {
    if mode() == TokenStorage::Cookie {
        set_cookie("", 0);
    }
}

fn set_cookie(value: &str, max_age_secs: u64) {
    let cookie =
        format!("{COOKIE}={value}; Max-Age={max_age_secs}; Path=/; Secure; HttpOnly; SameSite=Strict");
    match (leptos::prelude::use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(&cookie)) {
        (Some(response), Ok(value)) => response.append_header(header::SET_COOKIE, value),
        _ => tracing::error!("could not set the refresh cookie"),
    }
}

/// The refresh cookie's value, if the request carries one.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .find(|value| !value.is_empty())
        .map(str::to_owned)
}

/// A call the browser app made itself: it carries the custom header (which a cross-site page
/// can't send without CORS consent) and an `Origin` naming this very host (browsers send
/// `Origin` on every POST; a missing one means no browser, or one too old to trust).
pub fn is_same_origin_call(headers: &HeaderMap) -> bool {
    let has_header = headers.contains_key(CSRF_HEADER);
    let origin_host = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    has_header && origin_host.is_some() && origin_host == host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_cookie_is_found_among_others_and_an_empty_one_is_none() {
        let h = headers(&[("cookie", "a=1; __Host-leptos_auth_refresh=x.y.z; b=2")]);
        assert_eq!(cookie_value(&h).as_deref(), Some("x.y.z"));
        let h = headers(&[("cookie", "a=1"), ("cookie", "__Host-leptos_auth_refresh=t")]);
        assert_eq!(cookie_value(&h).as_deref(), Some("t"));
        assert_eq!(cookie_value(&headers(&[("cookie", "__Host-leptos_auth_refresh=")])), None);
        assert_eq!(
            cookie_value(&headers(&[("cookie", "leptos_auth_refresh=t")])),
            None,
            "no prefix, no cookie"
        );
    }

    #[test]
    fn only_same_origin_calls_with_the_header_pass() {
        let ok = [("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000"), (CSRF_HEADER, "1")];
        assert!(is_same_origin_call(&headers(&ok)));
        assert!(!is_same_origin_call(&headers(&ok[..2])), "no custom header");
        assert!(!is_same_origin_call(&headers(&[ok[0], ok[2]])), "no Origin");
        let foreign = [("host", "127.0.0.1:3000"), ("origin", "http://evil.example"), (CSRF_HEADER, "1")];
        assert!(!is_same_origin_call(&headers(&foreign)));
        let other_port =
            [("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3001"), (CSRF_HEADER, "1")];
        assert!(!is_same_origin_call(&headers(&other_port)));
    }
}
