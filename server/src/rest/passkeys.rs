//! Passkeys: adding, listing and removing one's own, and signing in with one (docs/api.md
//! §3.19). Each ceremony is two calls: options for the browser, then its answer with the
//! `ceremony` token the options came with.

use super::account::PasswordConfirm;
use super::{ApiJson, Bearer, Client};
use app::api::{ApiError, PasskeyChallenge, PasskeyInfo, TokenPair};
use app::server::AuthService;
use app::server::passkeys::{PublicKeyCredential, RegisterPublicKeyCredential};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

#[utoipa::path(post, path = "/api/token/passkey/options/", tag = "tokens",
    description = "Begins a passkey sign-in: options for `navigator.credentials.get` naming no user, so the browser offers any passkey it holds for this site. Limited per client IP (`PASSKEY_RATE_PER_MINUTE`).",
    responses((status = 200, body = PasskeyChallenge),
        (status = 404, description = "`not_found`: passkeys are off on this server", body = ApiError),
        (status = 429, body = ApiError)))]
pub(super) async fn passkey_sign_in_options(
    State(auth): State<AuthService>,
    Client(meta): Client,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    Ok(Json(auth.begin_passkey_sign_in(meta).await?))
}

/// The browser's answer to a ceremony's options.
#[derive(Deserialize, ToSchema)]
pub(super) struct SignInAnswer {
    ceremony: String,
    /// `PublicKeyCredential.toJSON()` of the assertion.
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
}

#[utoipa::path(post, path = "/api/token/passkey/", tag = "tokens", request_body = SignInAnswer,
    description = "Finishes a passkey sign-in. A passkey needs no second factor.",
    responses((status = 200, body = TokenPair),
        (status = 401, description = "`passkey_refused`: an unknown or removed passkey, a failed signature or origin check, a signature counter that went backwards, or an expired or used `ceremony`", body = ApiError),
        (status = 429, body = ApiError)))]
pub(super) async fn passkey_sign_in(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<SignInAnswer>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(auth.passkey_sign_in(&body.ceremony, &body.credential, meta).await?.tokens))
}

#[utoipa::path(get, path = "/api/passkeys/", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, body = [PasskeyInfo]), (status = 401, body = ApiError)))]
pub(super) async fn list_passkeys(
    State(auth): State<AuthService>,
    Bearer(access): Bearer,
) -> Result<Json<Vec<PasskeyInfo>>, ApiError> {
    Ok(Json(auth.passkeys(&access).await?))
}

#[utoipa::path(post, path = "/api/passkeys/options/", tag = "mfa", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "Begins adding a passkey: options for `navigator.credentials.create`. Needs recent authentication.",
    responses((status = 200, body = PasskeyChallenge),
        (status = 401, description = "`invalid_password` or `reauthentication_required`", body = ApiError),
        (status = 404, description = "`not_found`: passkeys are off on this server", body = ApiError)))]
pub(super) async fn passkey_registration_options(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<PasswordConfirm>,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    Ok(Json(auth.begin_passkey_registration(&access, body.password, meta).await?))
}

/// The browser's answer to registration options, and what to call the passkey.
#[derive(Deserialize, ToSchema)]
pub(super) struct RegistrationAnswer {
    ceremony: String,
    /// At most 64 characters; left out, the browser and system it was made on.
    #[serde(default)]
    name: Option<String>,
    /// `PublicKeyCredential.toJSON()` of the new credential.
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

#[utoipa::path(post, path = "/api/passkeys/", tag = "mfa", security(("bearer" = [])), request_body = RegistrationAnswer,
    description = "Finishes adding a passkey; the caller's other sessions end and a security mail goes out.",
    responses((status = 201, body = PasskeyInfo),
        (status = 400, description = "`invalid` (`field`: `ceremony`, `credential` or `name`)", body = ApiError),
        (status = 401, body = ApiError)))]
pub(super) async fn add_passkey(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<RegistrationAnswer>,
) -> Result<(StatusCode, Json<PasskeyInfo>), ApiError> {
    let name = body.name.as_deref();
    let added =
        auth.finish_passkey_registration(&access, &body.ceremony, name, &body.credential, meta).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

#[utoipa::path(delete, path = "/api/passkeys/{id}/", tag = "mfa", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "Removes one of the caller's passkeys (recent authentication, or the password in the body); their other sessions end and a security mail goes out.",
    params(("id" = String, Path, description = "The passkey's `id`")),
    responses((status = 204),
        (status = 401, description = "`invalid_password` or `reauthentication_required`", body = ApiError),
        (status = 404, body = ApiError)))]
pub(super) async fn remove_passkey(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let password = super::optional_password(&body)?;
    auth.remove_passkey(&access, &id, password, meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
