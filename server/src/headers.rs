//! Security headers. Static ones go on every response; the Content-Security-Policy is per
//! page, because it names the nonce Leptos puts on its hydration scripts (no
//! `unsafe-inline` script, ever).

use axum::http::{HeaderName, HeaderValue, header};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use tower_http::set_header::SetResponseHeaderLayer;

/// Headers every response carries (unless a handler set its own).
pub fn static_layers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ]
    .map(|(name, value)| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)))
}

/// The policy for one HTML page. `dev_reload` is the live-reload websocket of
/// `cargo leptos watch`, allowed only while watching.
pub fn content_security_policy(nonce: &str, dev_reload: Option<&str>) -> String {
    let connect = dev_reload.map(|ws| format!(" {ws}")).unwrap_or_default();
    format!(
        "default-src 'self'; \
         script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'{connect}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Called while Leptos renders a page (from the server's Leptos context): sets the page's
/// Content-Security-Policy with this response's nonce.
pub fn set_page_csp(dev_reload: Option<&str>) {
    let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<ResponseOptions>()) else {
        return;
    };
    let policy = content_security_policy(nonce.as_inner(), dev_reload);
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_allows_only_nonced_scripts_and_no_framing() {
        let csp = content_security_policy("abc123", None);
        assert!(csp.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("connect-src 'self';"));
        assert!(
            content_security_policy("n", Some("ws://127.0.0.1:3001"))
                .contains("connect-src 'self' ws://127.0.0.1:3001;")
        );
    }
}
