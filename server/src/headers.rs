//! Response headers: security headers (static ones on every response; the
//! Content-Security-Policy per page, because it names the nonce Leptos puts on its hydration
//! scripts: no `unsafe-inline` script, ever), and the caching of the built site files.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
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

/// The built WASM, JS and CSS under `/pkg/`: the same URL may be sent brotli, gzip or plain
/// depending on `Accept-Encoding`, so caches must key on it (`Vary`). A name with a content
/// hash (the release build's) never changes content, so it is cached for a year without
/// asking again; any other name must be revalidated (`no-cache`, answered 304 while
/// unchanged), so that a tab never mixes files of two builds after a deploy.
pub async fn site_files(req: Request, next: Next) -> Response {
    let site_file = req.uri().path().strip_prefix("/pkg/").map(has_content_hash);
    let mut res = next.run(req).await;
    if let Some(hashed) = site_file
        && res.status().is_success()
    {
        let headers = res.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        let caching = if hashed { "public, max-age=31536000, immutable" } else { "no-cache" };
        headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static(caching));
    }
    res
}

/// Whether a file name carries the content hash cargo-leptos gives each built file
/// (`hash-files`): `<stem>.<22 base64url characters>.<extension>`. The loader's
/// placeholder (`__wasm_split.______________________.js`, unhashed) does not count.
fn has_content_hash(name: &str) -> bool {
    const HASH_LEN: usize = 22;
    let mut parts = name.rsplit('.');
    let (Some(_extension), Some(hash), Some(_stem)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    hash.len() == HASH_LEN
        && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && hash.bytes().any(|b| b != b'_')
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
    fn only_names_with_a_content_hash_are_cached_for_good() {
        for hashed in ["leptos_auth.Xk3b9_Qv-2LmN8pRtY4wZa.wasm", "__wasm_split.Xk3b9_Qv-2LmN8pRtY4wZa.js"] {
            assert!(has_content_hash(hashed), "{hashed}");
        }
        for plain in [
            "leptos_auth.wasm",
            "leptos_auth.css",
            "__wasm_split.______________________.js",
            "leptos_auth.short.wasm",
            "Xk3b9_Qv-2LmN8pRtY4wZa.wasm",
            "leptos_auth.Xk3b9_Qv+2LmN8pRtY4wZa.wasm",
        ] {
            assert!(!has_content_hash(plain), "{plain}");
        }
    }

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
