//! Turning server-side failures into [`ApiError`]s: causes go to the log, never to the
//! client; statuses come from [`crate::api::ErrorCode::status`].

use crate::api::{ApiError, ErrorCode};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Logs an unexpected failure with its cause and returns the generic 500 error.
pub fn internal_error(context: &'static str, cause: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %cause, "{context}");
    ApiError::internal()
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        internal_error("database error", err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let challenge = bearer_challenge(self.code);
        let mut res = (status, axum::Json(self)).into_response();
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = challenge {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        res
    }
}

/// RFC 6750 §3: every 401 names the scheme that would work, and says `invalid_token` when a
/// token was sent and refused (no error code when none was sent, §3.1).
fn bearer_challenge(code: ErrorCode) -> Option<&'static str> {
    match code {
        ErrorCode::TokenNotValid => Some(r#"Bearer realm="api", error="invalid_token""#),
        ErrorCode::NotAuthenticated
        | ErrorCode::NoActiveAccount
        | ErrorCode::InvalidPassword
        | ErrorCode::ReauthenticationRequired
        | ErrorCode::MfaRequired
        | ErrorCode::InvalidCode => Some(r#"Bearer realm="api""#),
        _ => None,
    }
}

/// What the server records about the client that starts a session (shown in session lists).
/// Who is calling: what the transport knows about the client. The service decides which
/// address is the client's (see `limits::RateLimits::client_ip`).
#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    pub user_agent: Option<String>,
    /// The socket peer.
    pub peer: Option<std::net::IpAddr>,
    /// `X-Forwarded-For`, believed only when the peer is a trusted proxy.
    pub forwarded_for: Option<String>,
}

impl ClientMeta {
    pub fn from_parts(headers: &axum::http::HeaderMap, peer: Option<std::net::IpAddr>) -> Self {
        let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        // Every X-Forwarded-For line, in order: a proxy may append its own line rather than
        // extend the client's, and the client's line must not be the only one read.
        let forwarded: Vec<&str> = headers
            .get_all(header::HeaderName::from_static("x-forwarded-for"))
            .iter()
            .filter_map(|v: &HeaderValue| v.to_str().ok())
            .collect();
        Self {
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            peer,
            forwarded_for: (!forwarded.is_empty()).then(|| forwarded.join(",")),
        }
    }
}

impl ClientMeta {
    /// The calling client, read from the request Leptos is serving (server functions).
    pub fn from_context() -> Self {
        let Some(parts) = leptos::prelude::use_context::<axum::http::request::Parts>() else {
            return Self::default();
        };
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        Self::from_parts(&parts.headers, ip)
    }
}
