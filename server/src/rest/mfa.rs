//! Second factors: the sign-in's second step and the authenticator settings (the TOTP rows
//! of ../shared/CONTRACT-ACCOUNTS.md, plus status and new recovery codes).

use super::account::PasswordConfirm;
use super::{ApiJson, Bearer, Client};
use app::api::{ApiError, MfaStatus, RecoveryCodes, TokenPair, TotpEnrolment};
use app::server::AuthService;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

/// Not `Debug`: it carries a one-time code.
#[derive(Deserialize, ToSchema)]
pub(super) struct MfaStep {
    mfa_token: String,
    /// A current code from the authenticator app, or an unused recovery code.
    code: String,
}

#[utoipa::path(post, path = "/api/token/mfa/", tag = "tokens", request_body = MfaStep,
    description = "The second step of a sign-in for an account with a second factor: /api/token/ answered 401 `mfa_required` with an `mfa_token` (5 minutes, one successful use).",
    responses((status = 200, body = TokenPair),
        (status = 401, description = "`invalid_code`: a wrong or used code, or an unknown or expired `mfa_token`", body = ApiError),
        (status = 429, body = ApiError)))]
pub(super) async fn token_mfa(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<MfaStep>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(auth.login_mfa(&body.mfa_token, &body.code, meta).await?.tokens))
}

#[utoipa::path(get, path = "/api/mfa/", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, body = MfaStatus), (status = 401, body = ApiError)))]
pub(super) async fn mfa_status(
    State(auth): State<AuthService>,
    Bearer(access): Bearer,
) -> Result<Json<MfaStatus>, ApiError> {
    Ok(Json(auth.mfa_status(&access).await?))
}

#[utoipa::path(post, path = "/api/mfa/totp/", tag = "mfa", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "A new authenticator secret, not active until confirmed. Replaces one not yet confirmed.",
    responses((status = 200, body = TotpEnrolment),
        (status = 401, description = "`invalid_password` or `reauthentication_required`", body = ApiError),
        (status = 409, description = "`mfa_already_enabled`", body = ApiError)))]
pub(super) async fn enrol_totp(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<PasswordConfirm>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    Ok(Json(auth.enrol_totp(&access, body.password, meta).await?))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct CodeBody {
    code: String,
}

#[utoipa::path(post, path = "/api/mfa/totp/confirm/", tag = "mfa", security(("bearer" = [])), request_body = CodeBody,
    description = "Turns the new authenticator on; the caller's other sessions end. The ten recovery codes are shown this once.",
    responses((status = 200, body = RecoveryCodes), (status = 400, description = "`invalid_code`", body = ApiError),
        (status = 401, body = ApiError)))]
pub(super) async fn confirm_totp(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    Ok(Json(auth.confirm_totp(&access, &body.code, meta).await?))
}

#[utoipa::path(delete, path = "/api/mfa/totp/", tag = "mfa", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "Turns the authenticator off; the recovery codes go too, and the caller's other sessions end.",
    responses((status = 204), (status = 401, description = "`invalid_password` or `reauthentication_required`", body = ApiError)))]
pub(super) async fn disable_totp(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let password = super::optional_password(&body)?;
    auth.disable_totp(&access, password, meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/mfa/recovery-codes/", tag = "mfa", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "Ten new recovery codes, shown this once; the old ones stop working.",
    responses((status = 200, body = RecoveryCodes),
        (status = 401, description = "`invalid_password` or `reauthentication_required`", body = ApiError)))]
pub(super) async fn regenerate_recovery_codes(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<PasswordConfirm>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    Ok(Json(auth.regenerate_recovery_codes(&access, body.password, meta).await?))
}
