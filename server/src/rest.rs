//! The REST API (docs/api.md; its simplejwt-shaped core is the team's shared contract):
//! thin axum handlers over `AuthService`, answering each path with and without its
//! trailing slash.

use crate::state::AppState;
use app::api::{ApiError, ErrorCode, NewAccount, PasswordChange, Profile, SessionInfo, TokenPair};
use app::server::{AuthService, ClientMeta};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::Method;
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::routing::{MethodRouter, any, delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// CORS for the API: nothing (same-origin only) unless origins are configured; then exactly
/// those, for bearer-token calls. Credentials (cookies) are never allowed cross-origin.
pub fn cors(allowed_origins: &[String]) -> Option<CorsLayer> {
    if allowed_origins.is_empty() {
        return None;
    }
    let origins = allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok());
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

pub fn router() -> Router<AppState> {
    let endpoints: [(&str, MethodRouter<AppState>); 16] = [
        ("/api/token", post(token)),
        ("/api/token/refresh", post(refresh)),
        ("/api/token/verify", post(verify)),
        ("/api/token/blacklist", post(blacklist)),
        ("/api/profile", get(profile)),
        ("/api/register", post(register)),
        // Beyond the simplejwt contract: session management and password change.
        ("/api/sessions", get(list_sessions).delete(logout_everywhere)),
        ("/api/sessions/{id}", delete(revoke_session)),
        ("/api/password", post(change_password)),
        // The account lifecycle (../shared/CONTRACT-ACCOUNTS.md).
        ("/api/email/verify", post(verify_email)),
        ("/api/email/verify/resend", post(resend_verification)),
        ("/api/email/change", post(change_email)),
        ("/api/password/reset", post(request_password_reset)),
        ("/api/password/reset/confirm", post(confirm_password_reset)),
        ("/api/account", delete(delete_account)),
        ("/api/reauthenticate", post(reauthenticate)),
    ];
    let mut router = Router::new();
    for (path, handler) in endpoints {
        router = router.route(path, handler.clone()).route(&format!("{path}/"), handler);
    }
    router
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/openapi.json", get(openapi))
        .route("/api/{*rest}", any(not_found))
        // Credentials and tokens are small; anything bigger is refused before it is parsed.
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .method_not_allowed_fallback(method_not_allowed)
        // Tokens and personal data must never sit in a cache.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// The API described for other clients, generated from the handlers and types above.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Leptos Auth API",
        description = "JWT login with rotating refresh tokens, compatible with djangorestframework-simplejwt. \
                       Every path is also answered without its trailing slash. The full reference (tokens, \
                       errors, limits, the browser app's server functions) is docs/api.md in the repository."
    ),
    paths(token, refresh, verify, blacklist, profile, register, list_sessions, revoke_session,
          logout_everywhere, change_password, verify_email, resend_verification, change_email,
          request_password_reset, confirm_password_reset, delete_account, reauthenticate, jwks),
    components(schemas(ErrorCode)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Request bodies of the API: generous for passphrases and tokens, small for everything else.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

/// Deliberately not `Debug`: it carries a password.
#[derive(Deserialize, ToSchema)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
struct RefreshBody {
    refresh: String,
}

#[derive(Deserialize, ToSchema)]
struct TokenBody {
    token: String,
}

#[utoipa::path(post, path = "/api/token/", tag = "tokens", request_body = Credentials,
    description = "Log in: a new session and its first token pair.",
    responses((status = 200, body = TokenPair), (status = 401, description = "Bad credentials", body = ApiError),
        (status = 422, body = ApiError), (status = 429, body = ApiError)))]
async fn token(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(auth.login(&body.username, body.password, meta).await?.tokens))
}

#[utoipa::path(post, path = "/api/token/refresh/", tag = "tokens", request_body = RefreshBody,
    description = "Rotate: a new pair; the presented refresh token is dead (a replay within the grace window gets the same pair).",
    responses((status = 200, body = TokenPair), (status = 401, body = ApiError), (status = 429, body = ApiError)))]
async fn refresh(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(auth.refresh(&body.refresh, meta).await?))
}

#[utoipa::path(post, path = "/api/token/verify/", tag = "tokens", request_body = TokenBody,
    responses((status = 200, description = "`{}`: the token is good"), (status = 401, body = ApiError)))]
async fn verify(
    State(auth): State<AuthService>,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Json<Value>, ApiError> {
    auth.verify(&body.token).await?;
    Ok(done())
}

#[utoipa::path(post, path = "/api/token/blacklist/", tag = "tokens", request_body = RefreshBody,
    description = "Log out: the refresh token's session ends, access tokens included.",
    responses((status = 200, description = "`{}`"), (status = 401, body = ApiError)))]
async fn blacklist(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<Value>, ApiError> {
    auth.logout(&body.refresh, meta).await?;
    Ok(done())
}

#[utoipa::path(get, path = "/api/profile/", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ApiError)))]
async fn profile(State(auth): State<AuthService>, Bearer(access): Bearer) -> Result<Json<Profile>, ApiError> {
    Ok(Json(auth.profile(&access).await?))
}

#[utoipa::path(post, path = "/api/register/", tag = "account", request_body = NewAccount,
    responses((status = 201, body = Profile), (status = 400, body = ApiError), (status = 409, body = ApiError),
        (status = 422, body = ApiError), (status = 429, body = ApiError)))]
async fn register(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(form): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<Profile>), ApiError> {
    Ok((StatusCode::CREATED, Json(auth.register(form, meta).await?)))
}

#[utoipa::path(get, path = "/api/sessions/", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = ApiError)))]
async fn list_sessions(
    State(auth): State<AuthService>,
    Bearer(access): Bearer,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(auth.sessions(&access).await?))
}

#[utoipa::path(delete, path = "/api/sessions/{id}/", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "A session id from the session list")),
    responses((status = 200, description = "`{}`"), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
async fn revoke_session(
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
async fn logout_everywhere(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
) -> Result<Json<Value>, ApiError> {
    auth.logout_everywhere(&access, meta).await?;
    Ok(done())
}

#[utoipa::path(post, path = "/api/password/", tag = "account", security(("bearer" = [])),
    request_body = PasswordChange, description = "Every other session of the caller ends.",
    responses((status = 200, description = "`{}`"), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
async fn change_password(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(change): ApiJson<PasswordChange>,
) -> Result<Json<Value>, ApiError> {
    auth.change_password(&access, change, meta).await?;
    Ok(done())
}

#[derive(Deserialize, ToSchema)]
struct LinkToken {
    token: String,
}

#[utoipa::path(post, path = "/api/email/verify/", tag = "account", request_body = LinkToken,
    description = "Uses a verification link's token: the address is verified, or (a change-of-address link) becomes the account's.",
    responses((status = 200, description = "`{}`"), (status = 400, description = "`invalid_token`", body = ApiError),
        (status = 409, description = "The new address was taken meanwhile", body = ApiError), (status = 429, body = ApiError)))]
async fn verify_email(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<LinkToken>,
) -> Result<Json<Value>, ApiError> {
    auth.verify_email(&body.token, meta).await?;
    Ok(done())
}

#[utoipa::path(post, path = "/api/email/verify/resend/", tag = "account", security(("bearer" = [])),
    description = "A new verification link to the account's address (the older one dies). Nothing is sent to an address already verified.",
    responses((status = 202, description = "`{}`"), (status = 401, body = ApiError), (status = 429, body = ApiError)))]
async fn resend_verification(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.resend_verification(&access, meta).await?;
    Ok((StatusCode::ACCEPTED, done()))
}

/// Not `Debug`: it may carry a password.
#[derive(Deserialize, ToSchema)]
struct EmailChange {
    new_email: String,
    /// Optional when the session proved the password in the last 10 minutes.
    #[serde(default)]
    password: Option<String>,
}

#[utoipa::path(post, path = "/api/email/change/", tag = "account", security(("bearer" = [])), request_body = EmailChange,
    description = "A link to the new address (used through /api/email/verify/) and a notice to the current one. The address changes only when the link is used.",
    responses((status = 202, description = "`{}`"), (status = 400, body = ApiError),
        (status = 401, description = "`invalid_password` or `reauthentication_required`", body = ApiError),
        (status = 409, body = ApiError), (status = 429, body = ApiError)))]
async fn change_email(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<EmailChange>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.change_email(&access, &body.new_email, body.password, meta).await?;
    Ok((StatusCode::ACCEPTED, done()))
}

#[derive(Deserialize, ToSchema)]
struct ResetRequest {
    email: String,
}

#[utoipa::path(post, path = "/api/password/reset/", tag = "account", request_body = ResetRequest,
    description = "Mails a reset link to the account with this address, if any. The same answer, at once, either way.",
    responses((status = 202, description = "`{\"detail\"}`"), (status = 400, body = ApiError), (status = 429, body = ApiError)))]
async fn request_password_reset(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.request_password_reset(&body.email, meta).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "detail": app::server::RESET_REQUESTED }))))
}

/// Not `Debug`: it carries a password.
#[derive(Deserialize, ToSchema)]
struct ResetConfirm {
    token: String,
    new_password: String,
}

#[utoipa::path(post, path = "/api/password/reset/confirm/", tag = "account", request_body = ResetConfirm,
    description = "Sets the new password; every session of the user ends at once.",
    responses((status = 200, description = "`{}`"),
        (status = 400, description = "`invalid_token`, or `invalid` with `field: new_password`", body = ApiError),
        (status = 429, body = ApiError)))]
async fn confirm_password_reset(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Result<Json<Value>, ApiError> {
    auth.confirm_password_reset(&body.token, body.new_password, meta).await?;
    Ok(done())
}

/// Not `Debug`: it carries a password.
#[derive(Deserialize, ToSchema)]
struct PasswordConfirm {
    /// Optional for account deletion when the session proved the password in the last 10 minutes.
    #[serde(default)]
    password: Option<String>,
}

#[utoipa::path(delete, path = "/api/account/", tag = "account", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "Deletes the caller's account: every session ends, personal data goes, the username is free again.",
    responses((status = 204), (status = 401, description = "`invalid_password` or `reauthentication_required`", body = ApiError)))]
async fn delete_account(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    // The body is optional here (a DELETE often has none): without one, recent
    // authentication must come from the session.
    let password = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<PasswordConfirm>(&body)
            .map_err(|_| ApiError::new(ErrorCode::ParseError, "The request body is not valid JSON."))?
            .password
    };
    auth.delete_account(&access, password, meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/reauthenticate/", tag = "account", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "Proves the password again: for 10 minutes, sensitive changes in this session need no password.",
    responses((status = 200, description = "`{\"reauthenticated_until\": <Unix seconds>}`"),
        (status = 401, body = ApiError), (status = 429, body = ApiError)))]
async fn reauthenticate(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<PasswordConfirm>,
) -> Result<Json<Value>, ApiError> {
    let until = auth.reauthenticate(&access, body.password.unwrap_or_default(), meta).await?;
    Ok(Json(json!({ "reauthenticated_until": until })))
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, description = "The public keys that verify access tokens (RFC 7517)")))]
/// The public keys that verify access tokens (RFC 7517), for other services.
async fn jwks(State(auth): State<AuthService>) -> Json<Value> {
    Json(auth.jwks())
}

/// The body limit in front of every route (`MAX_BODY_BYTES` in startup) refuses a body by its
/// `Content-Length` alone, answering 413 in plain text; this gives that answer the error
/// shape every other error has.
pub async fn oversized_in_error_shape(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::new(ErrorCode::PayloadTooLarge, "The request body is too large.").into_response();
    }
    res
}

/// The contract's empty success body, `{}`.
fn done() -> Json<Value> {
    Json(json!({}))
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "Not found.")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "Method not allowed.")
}

/// `axum::Json`, but a body it cannot read gets the contract's error shape and a 4xx.
struct ApiJson<T>(T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => ApiError::new(ErrorCode::InvalidBody, e.body_text()),
                JsonRejection::JsonSyntaxError(_) => {
                    ApiError::new(ErrorCode::ParseError, "The request body is not valid JSON.")
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "Send the body as JSON, with Content-Type: application/json.",
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(ErrorCode::PayloadTooLarge, "The request body is too large.")
                }
                other => ApiError::new(ErrorCode::ParseError, other.body_text()),
            }),
        }
    }
}

/// What the request says about its client (peer address, forwarded-for, user agent).
struct Client(ClientMeta);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        Ok(Self(ClientMeta::from_parts(&parts.headers, peer)))
    }
}

/// The access token from `Authorization: Bearer <token>`.
struct Bearer(String);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(ApiError::not_authenticated)?
            .to_str()
            .map_err(|_| ApiError::token_not_valid())?;
        match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                Ok(Self(token.trim().to_owned()))
            }
            _ => Err(ApiError::not_authenticated()),
        }
    }
}
