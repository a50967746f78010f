//! Signing in and out, and one's sessions: the simplejwt-shaped token endpoints of the
//! contract, and the session list beside them.

use super::{ApiJson, Bearer, Client, done};
use app::api::ApiError;
use app::api::{SessionInfo, TokenPair};
use app::server::AuthService;
use axum::Json;
use axum::extract::Path;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Deliberately not `Debug`: it carries a password.
#[derive(Deserialize, ToSchema)]
pub(super) struct Credentials {
    username: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub(super) struct RefreshBody {
    refresh: String,
}

#[derive(Deserialize, ToSchema)]
pub(super) struct TokenBody {
    token: String,
}

#[utoipa::path(post, path = "/api/token/", tag = "tokens", request_body = Credentials,
    description = "Log in: a new session and its first token pair.",
    responses((status = 200, body = TokenPair), (status = 401, description = "Bad credentials", body = ApiError),
        (status = 422, body = ApiError), (status = 429, body = ApiError)))]
pub(super) async fn token(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(auth.login(&body.username, body.password, meta).await?.tokens))
}

#[utoipa::path(post, path = "/api/token/refresh/", tag = "tokens", request_body = RefreshBody,
    description = "Rotate: a new pair; the presented refresh token is dead (a replay within the grace window gets the same pair).",
    responses((status = 200, body = TokenPair), (status = 401, body = ApiError), (status = 429, body = ApiError)))]
pub(super) async fn refresh(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(auth.refresh(&body.refresh, meta).await?))
}

#[utoipa::path(post, path = "/api/token/verify/", tag = "tokens", request_body = TokenBody,
    responses((status = 200, description = "`{}`: the token is good"), (status = 401, body = ApiError)))]
pub(super) async fn verify(
    State(auth): State<AuthService>,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Json<Value>, ApiError> {
    auth.verify(&body.token).await?;
    Ok(done())
}

#[utoipa::path(post, path = "/api/token/blacklist/", tag = "tokens", request_body = RefreshBody,
    description = "Log out: the refresh token's session ends, access tokens included.",
    responses((status = 200, description = "`{}`"), (status = 401, body = ApiError)))]
pub(super) async fn blacklist(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<Value>, ApiError> {
    auth.logout(&body.refresh, meta).await?;
    Ok(done())
}

#[utoipa::path(get, path = "/api/sessions/", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = ApiError)))]
pub(super) async fn list_sessions(
    State(auth): State<AuthService>,
    Bearer(access): Bearer,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(auth.sessions(&access).await?))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "A session id from the session list")),
    responses((status = 200, description = "`{}`"), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub(super) async fn revoke_session(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.revoke_session(&access, &id, meta).await?;
    Ok(done())
}

#[utoipa::path(delete, path = "/api/sessions/", tag = "sessions", security(("bearer" = [])),
    description = "Sign out everywhere: every session of the caller ends.",
    responses((status = 200, description = "`{}`"), (status = 401, body = ApiError)))]
pub(super) async fn logout_everywhere(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
) -> Result<Json<Value>, ApiError> {
    auth.logout_everywhere(&access, meta).await?;
    Ok(done())
}
