//! The Leptos server functions: the browser's API. Compiled on both sides; on the server
//! each body authenticates for itself (a client-side guard is UX, not security) and calls
//! the one implementation in [`crate::server::AuthService`], exactly as the REST handlers
//! in `server/src/rest.rs` do. Errors are [`ApiError`]s; their HTTP status is set in one
//! place by the server (see `server/src/startup.rs`).

use crate::api::{ApiError, Profile, SessionInfo, SignIn, TokenPair, UserSummary};
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<SignIn, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.login(&username, password, ClientMeta::from_context()).await
}

#[server(prefix = "/rpc", endpoint = "refresh")]
pub async fn refresh(refresh: String) -> Result<TokenPair, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.refresh(&refresh, ClientMeta::from_context()).await
}

#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout(refresh: String) -> Result<(), ApiError> {
    crate::server::AuthService::from_context()?
        .logout(&refresh, crate::server::ClientMeta::from_context())
        .await
}

#[server(prefix = "/rpc", endpoint = "register")]
pub async fn register(
    username: String,
    password: String,
    email: String,
    first_name: String,
    last_name: String,
) -> Result<Profile, ApiError> {
    let form = crate::api::NewAccount { username, password, email, first_name, last_name };
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.register(form, ClientMeta::from_context()).await
}

/// Changes the caller's own first name, last name and email; errors name their field.
#[server(prefix = "/rpc", endpoint = "update_profile")]
pub async fn update_profile(
    access: String,
    first_name: String,
    last_name: String,
    email: String,
) -> Result<Profile, ApiError> {
    let update = crate::api::ProfileUpdate { first_name, last_name, email };
    crate::server::AuthService::from_context()?
        .update_profile(&access, update, crate::server::ClientMeta::from_context())
        .await
}

// `name`: the generated argument struct would otherwise clash with `api::Profile`.
#[server(name = GetProfile, prefix = "/rpc", endpoint = "profile")]
pub async fn profile(access: String) -> Result<Profile, ApiError> {
    crate::server::AuthService::from_context()?.profile(&access).await
}

#[server(prefix = "/rpc", endpoint = "sessions")]
pub async fn sessions(access: String) -> Result<Vec<SessionInfo>, ApiError> {
    crate::server::AuthService::from_context()?.sessions(&access).await
}

#[server(prefix = "/rpc", endpoint = "revoke_session")]
pub async fn revoke_session(access: String, session_id: String) -> Result<(), ApiError> {
    crate::server::AuthService::from_context()?
        .revoke_session(&access, &session_id, crate::server::ClientMeta::from_context())
        .await
}

#[server(prefix = "/rpc", endpoint = "logout_everywhere")]
pub async fn logout_everywhere(access: String) -> Result<(), ApiError> {
    crate::server::AuthService::from_context()?
        .logout_everywhere(&access, crate::server::ClientMeta::from_context())
        .await
}

#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(
    access: String,
    current_password: String,
    new_password: String,
) -> Result<(), ApiError> {
    let change = crate::api::PasswordChange { current_password, new_password };
    crate::server::AuthService::from_context()?
        .change_password(&access, change, crate::server::ClientMeta::from_context())
        .await
}

/// Every account (admins only: anyone else gets 403, whatever the page shows).
#[server(prefix = "/rpc", endpoint = "admin_users")]
pub async fn admin_users(access: String) -> Result<Vec<UserSummary>, ApiError> {
    crate::server::AuthService::from_context()?.list_users(&access).await
}

/// Disables (ending all their sessions) or enables another account. Admins only.
#[server(prefix = "/rpc", endpoint = "admin_set_disabled")]
pub async fn admin_set_disabled(access: String, username: String, disabled: bool) -> Result<(), ApiError> {
    crate::server::AuthService::from_context()?.admin_set_disabled(&access, &username, disabled).await
}
