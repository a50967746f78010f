//! `/healthz` (the process answers) and `/readyz` (the database answers and is migrated),
//! for load balancers and orchestrators.

use crate::db;
use app::server::AuthService;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and is fully migrated. 503 (never a 500) otherwise.
pub async fn readyz(State(auth): State<AuthService>) -> Response {
    match db::is_ready(auth.db()).await {
        Ok(()) => "ready".into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
        }
    }
}
