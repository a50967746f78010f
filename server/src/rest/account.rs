//! One's own account: the profile, registration, the password, the address and the
//! account lifecycle (../shared/CONTRACT-ACCOUNTS.md).

use super::{ApiJson, Bearer, Client, done};
use app::api::ApiError;
use app::api::{NewAccount, PasswordChange, Profile};
use app::server::AuthService;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use serde_json::json;
use utoipa::ToSchema;

#[utoipa::path(get, path = "/api/profile/", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ApiError)))]
pub(super) async fn profile(
    State(auth): State<AuthService>,
    Bearer(access): Bearer,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(auth.profile(&access).await?))
}

#[utoipa::path(post, path = "/api/register/", tag = "account", request_body = NewAccount,
    responses((status = 201, body = Profile), (status = 400, body = ApiError), (status = 409, body = ApiError),
        (status = 422, body = ApiError), (status = 429, body = ApiError)))]
pub(super) async fn register(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(form): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<Profile>), ApiError> {
    Ok((StatusCode::CREATED, Json(auth.register(form, meta).await?)))
}

#[utoipa::path(post, path = "/api/password/", tag = "account", security(("bearer" = [])),
    request_body = PasswordChange, description = "Every other session of the caller ends.",
    responses((status = 200, description = "`{}`"), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub(super) async fn change_password(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(change): ApiJson<PasswordChange>,
) -> Result<Json<Value>, ApiError> {
    auth.change_password(&access, change, meta).await?;
    Ok(done())
}

#[derive(Deserialize, ToSchema)]
pub(super) struct LinkToken {
    token: String,
}

#[utoipa::path(post, path = "/api/email/verify/", tag = "account", request_body = LinkToken,
    description = "Uses a verification link's token: the address is verified, or (a change-of-address link) becomes the account's.",
    responses((status = 200, description = "`{}`"), (status = 400, description = "`invalid_token`", body = ApiError),
        (status = 409, description = "The new address was taken meanwhile", body = ApiError), (status = 429, body = ApiError)))]
pub(super) async fn verify_email(
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
pub(super) async fn resend_verification(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.resend_verification(&access, meta).await?;
    Ok((StatusCode::ACCEPTED, done()))
}

/// Not `Debug`: it may carry a password.
#[derive(Deserialize, ToSchema)]
pub(super) struct EmailChange {
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
pub(super) async fn change_email(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<EmailChange>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.change_email(&access, &body.new_email, body.password, meta).await?;
    Ok((StatusCode::ACCEPTED, done()))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct ResetRequest {
    email: String,
}

#[utoipa::path(post, path = "/api/password/reset/", tag = "account", request_body = ResetRequest,
    description = "Mails a reset link to the account with this address, if any. The same answer, at once, either way.",
    responses((status = 202, description = "`{\"detail\"}`"), (status = 400, body = ApiError), (status = 429, body = ApiError)))]
pub(super) async fn request_password_reset(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.request_password_reset(&body.email, meta).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "detail": app::server::RESET_REQUESTED }))))
}

/// Not `Debug`: it carries a password.
#[derive(Deserialize, ToSchema)]
pub(super) struct ResetConfirm {
    token: String,
    new_password: String,
}

#[utoipa::path(post, path = "/api/password/reset/confirm/", tag = "account", request_body = ResetConfirm,
    description = "Sets the new password; every session of the user ends at once.",
    responses((status = 200, description = "`{}`"),
        (status = 400, description = "`invalid_token`, or `invalid` with `field: new_password`", body = ApiError),
        (status = 429, body = ApiError)))]
pub(super) async fn confirm_password_reset(
    State(auth): State<AuthService>,
    Client(meta): Client,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Result<Json<Value>, ApiError> {
    auth.confirm_password_reset(&body.token, body.new_password, meta).await?;
    Ok(done())
}

/// Not `Debug`: it carries a password.
#[derive(Deserialize, ToSchema)]
pub(super) struct PasswordConfirm {
    /// Optional when the session proved the password in the last 10 minutes.
    #[serde(default)]
    pub(super) password: Option<String>,
}

#[utoipa::path(delete, path = "/api/account/", tag = "account", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "Deletes the caller's account: every session ends, personal data goes, the username is free again.",
    responses((status = 204), (status = 401, description = "`invalid_password` or `reauthentication_required`", body = ApiError)))]
pub(super) async fn delete_account(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let password = super::optional_password(&body)?;
    auth.delete_account(&access, password, meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/reauthenticate/", tag = "account", security(("bearer" = [])), request_body = PasswordConfirm,
    description = "Proves the password again: for 10 minutes, sensitive changes in this session need no password.",
    responses((status = 200, description = "`{\"reauthenticated_until\": <Unix seconds>}`"),
        (status = 401, body = ApiError), (status = 429, body = ApiError)))]
pub(super) async fn reauthenticate(
    State(auth): State<AuthService>,
    Client(meta): Client,
    Bearer(access): Bearer,
    ApiJson(body): ApiJson<PasswordConfirm>,
) -> Result<Json<Value>, ApiError> {
    let until = auth.reauthenticate(&access, body.password.unwrap_or_default(), meta).await?;
    Ok(Json(json!({ "reauthenticated_until": until })))
}
