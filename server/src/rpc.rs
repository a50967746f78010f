//! Middlewares for the Leptos server functions under `/rpc/`: their errors get the statuses
//! the REST API uses, and in cookie mode they must come from the app's own pages (and pages
//! are rendered for the cookie's user).

use crate::state::AppState;
use app::api::{ApiError, ErrorCode, TokenStorage};
use app::server::token_delivery::{SsrUser, cookie_value, is_same_origin_call};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Server functions answer every error with 500; give them the status their `ApiError`
/// carries (the same mapping the REST endpoints use), and keep their tokens out of caches.
pub async fn server_fn_responses(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/rpc/") {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let (mut parts, body) = res.into_parts();
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let is_error = parts.headers.contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER);
    if !is_error {
        return Response::from_parts(parts, body);
    }
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let error: ApiError = serde_json::from_slice(&bytes).unwrap_or_else(|_| ApiError::internal());
    parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(secs) = error.retry_after {
        parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// In cookie mode: server function calls must come from the app's own pages (the refresh
/// cookie would otherwise ride along on a forged cross-site request), and a page request
/// with a live refresh cookie is rendered for its user (see `token_delivery::SsrUser`).
pub async fn cookie_mode(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if state.token_storage != TokenStorage::Cookie {
        return next.run(req).await;
    }
    let path = req.uri().path();
    if path.starts_with("/rpc/") {
        if !is_same_origin_call(req.headers()) {
            tracing::warn!(
                security_event = "csrf_refused",
                path,
                "server function call without the CSRF header or from another origin"
            );
            return ApiError::new(ErrorCode::PermissionDenied, "Cross-site request refused.").into_response();
        }
        return next.run(req).await;
    }
    if req.method() != Method::GET || path.starts_with("/api/") || path.starts_with("/pkg/") {
        return next.run(req).await;
    }
    if let Some(token) = cookie_value(req.headers())
        && let Ok(user) = state.auth.session_user(&token).await
    {
        req.extensions_mut().insert(SsrUser(user));
    }
    // A page may now be rendered for one user: no shared cache may keep it.
    let mut res = next.run(req).await;
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("Cookie"));
    res
}
