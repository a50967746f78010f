//! The REST API (docs/api.md; its simplejwt-shaped core is the team's shared contract):
//! thin axum handlers over `AuthService`, answering each path with and without its
//! trailing slash. This file has the router, the OpenAPI document and the extractors; the
//! handlers are by area: `tokens` (signing in, sessions), `account`, `mfa`, `passkeys`.

mod account;
mod mfa;
mod passkeys;
mod tokens;

use crate::state::AppState;
use app::api::{ApiError, ErrorCode};
use app::server::{AuthService, ClientMeta};
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::Method;
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::routing::{MethodRouter, any, delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::net::SocketAddr;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
    use account::*;
    use mfa::*;
    use passkeys::*;
    use tokens::*;
    let endpoints: [(&str, MethodRouter<AppState>); 26] = [
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
        // Second factors (the TOTP rows of CONTRACT-ACCOUNTS.md, and beyond).
        ("/api/token/mfa", post(token_mfa)),
        ("/api/mfa", get(mfa_status)),
        ("/api/mfa/totp", post(enrol_totp).delete(disable_totp)),
        ("/api/mfa/totp/confirm", post(confirm_totp)),
        ("/api/mfa/recovery-codes", post(regenerate_recovery_codes)),
        // Passkeys (WebAuthn).
        ("/api/token/passkey/options", post(passkey_sign_in_options)),
        ("/api/token/passkey", post(passkey_sign_in)),
        ("/api/passkeys", get(list_passkeys).post(add_passkey)),
        ("/api/passkeys/options", post(passkey_registration_options)),
        ("/api/passkeys/{id}", delete(remove_passkey)),
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
    paths(tokens::token, tokens::refresh, tokens::verify, tokens::blacklist, account::profile, account::register,
          tokens::list_sessions, tokens::revoke_session, tokens::logout_everywhere, account::change_password,
          account::verify_email, account::resend_verification, account::change_email,
          account::request_password_reset, account::confirm_password_reset, account::delete_account,
          account::reauthenticate, mfa::token_mfa, mfa::mfa_status, mfa::enrol_totp, mfa::disable_totp,
          mfa::confirm_totp, mfa::regenerate_recovery_codes, passkeys::passkey_sign_in_options,
          passkeys::passkey_sign_in, passkeys::list_passkeys, passkeys::passkey_registration_options,
          passkeys::add_passkey, passkeys::remove_passkey, jwks),
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

/// The `password` of a DELETE's optional JSON body (a DELETE often has none: then recent
/// authentication must come from the session).
fn optional_password(body: &[u8]) -> Result<Option<String>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        password: Option<String>,
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.password)
        .map_err(|_| ApiError::new(ErrorCode::ParseError, "The request body is not valid JSON."))
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
pub(crate) struct Client(pub ClientMeta);

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
