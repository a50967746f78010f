//! The Leptos server functions: the browser's API. Compiled on both sides; on the server
//! each body authenticates for itself (a client-side guard is UX, not security) and calls
//! the one implementation in [`crate::server::AuthService`], exactly as the REST handlers
//! in `server/src/rest.rs` do. Errors are [`ApiError`]s; their HTTP status is set in one
//! place by the server (see `server/src/startup.rs`).
//!
//! Every call goes through [`CsrfClient`], the browser's fetch plus the CSRF header; login,
//! refresh and logout hand the refresh token over as the server's `TOKEN_STORAGE` says (see
//! `server::token_delivery`).

use crate::api::{
    ApiError, LinkedIdentity, MfaStatus, PasskeyChallenge, PasskeyInfo, Profile, ProviderInfo, RecoveryCodes,
    SessionInfo, SignIn, TokenPair, TotpEnrolment, UserSummary,
};
use leptos::prelude::*;

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<SignIn, ApiError> {
    use crate::server::{AuthService, ClientMeta, token_delivery};
    let auth = AuthService::from_context()?;
    let sign_in = auth.login(&username, password, ClientMeta::from_context()).await?;
    Ok(token_delivery::deliver_sign_in(&auth, sign_in))
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "refresh")]
pub async fn refresh(refresh: String) -> Result<TokenPair, ApiError> {
    use crate::server::{AuthService, ClientMeta, token_delivery};
    let auth = AuthService::from_context()?;
    let token = token_delivery::presented(refresh);
    let pair = token_delivery::forget_on_refusal(auth.refresh(&token, ClientMeta::from_context()).await)?;
    Ok(token_delivery::deliver(&auth, pair))
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "logout")]
pub async fn logout(refresh: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta, token_delivery};
    let token = token_delivery::presented(refresh);
    // The cookie goes whatever the server thinks of the token: the user asked to log out.
    token_delivery::forget();
    AuthService::from_context()?.logout(&token, ClientMeta::from_context()).await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "register")]
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

/// Changes the caller's own first and last name; errors name their field.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "update_profile")]
pub async fn update_profile(
    access: String,
    first_name: String,
    last_name: String,
) -> Result<Profile, ApiError> {
    let update = crate::api::ProfileUpdate { first_name, last_name };
    crate::server::AuthService::from_context()?
        .update_profile(&access, update, crate::server::ClientMeta::from_context())
        .await
}

// `name`: the generated argument struct would otherwise clash with `api::Profile`.
#[server(client = CsrfClient, name = GetProfile, prefix = "/rpc", endpoint = "profile")]
pub async fn profile(access: String) -> Result<Profile, ApiError> {
    crate::server::AuthService::from_context()?.profile(&access).await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "sessions")]
pub async fn sessions(access: String) -> Result<Vec<SessionInfo>, ApiError> {
    crate::server::AuthService::from_context()?.sessions(&access).await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "revoke_session")]
pub async fn revoke_session(access: String, session_id: String) -> Result<(), ApiError> {
    crate::server::AuthService::from_context()?
        .revoke_session(&access, &session_id, crate::server::ClientMeta::from_context())
        .await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "logout_everywhere")]
pub async fn logout_everywhere(access: String) -> Result<(), ApiError> {
    crate::server::AuthService::from_context()?
        .logout_everywhere(&access, crate::server::ClientMeta::from_context())
        .await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "change_password")]
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
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "admin_users")]
pub async fn admin_users(access: String) -> Result<Vec<UserSummary>, ApiError> {
    crate::server::AuthService::from_context()?.list_users(&access).await
}

/// Disables (ending all their sessions) or enables another account. Admins only.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "admin_set_disabled")]
pub async fn admin_set_disabled(access: String, username: String, disabled: bool) -> Result<(), ApiError> {
    crate::server::AuthService::from_context()?.admin_set_disabled(&access, &username, disabled).await
}

/// The browser's fetch client with [`crate::api::CSRF_HEADER`] added to every call. (Compiled
/// on the server too, where server functions run directly and never send anything.)
pub struct CsrfClient;

mod csrf_client {
    use super::CsrfClient;
    use leptos::server_fn::client::Client;
    use leptos::server_fn::client::browser::BrowserClient;
    use leptos::server_fn::error::FromServerFnError;
    use leptos::server_fn::request::browser::BrowserRequest;
    use leptos::server_fn::response::browser::BrowserResponse;
    use std::future::Future;

    impl<E, IS, OS> Client<E, IS, OS> for CsrfClient
    where
        E: FromServerFnError,
        IS: FromServerFnError,
        OS: FromServerFnError,
    {
        type Request = BrowserRequest;
        type Response = BrowserResponse;

        fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
            req.headers().set(crate::api::CSRF_HEADER, "1");
            <BrowserClient as Client<E, IS, OS>>::send(req)
        }

        fn open_websocket(
            path: &str,
        ) -> impl Future<
            Output = Result<
                (
                    impl futures::Stream<Item = Result<leptos::server_fn::Bytes, leptos::server_fn::Bytes>>
                    + Send
                    + 'static,
                    impl futures::Sink<leptos::server_fn::Bytes> + Send + 'static,
                ),
                E,
            >,
        > + Send {
            <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
        }

        fn spawn(future: impl Future<Output = ()> + Send + 'static) {
            <BrowserClient as Client<E, IS, OS>>::spawn(future)
        }
    }
}

// The account lifecycle: mailed links, the address, deletion (docs/api.md §3.11–§3.17).

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.verify_email(&token, ClientMeta::from_context()).await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "resend_verification")]
pub async fn resend_verification(access: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.resend_verification(&access, ClientMeta::from_context()).await
}

/// Answers the same message whether or not an account has the address.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<String, ApiError> {
    use crate::server::{AuthService, ClientMeta, RESET_REQUESTED};
    AuthService::from_context()?.request_password_reset(&email, ClientMeta::from_context()).await?;
    Ok(RESET_REQUESTED.to_owned())
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "confirm_password_reset")]
pub async fn confirm_password_reset(token: String, new_password: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?
        .confirm_password_reset(&token, new_password, ClientMeta::from_context())
        .await
}

/// `password` may be empty while the session's password is recent.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "change_email")]
pub async fn change_email(access: String, new_email: String, password: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?
        .change_email(&access, &new_email, recent_or(password), ClientMeta::from_context())
        .await
}

/// `password` may be empty while the session's password is recent.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "delete_account")]
pub async fn delete_account(access: String, password: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta, token_delivery};
    AuthService::from_context()?
        .delete_account(&access, recent_or(password), ClientMeta::from_context())
        .await?;
    // In cookie mode the refresh cookie names a session that no longer exists.
    token_delivery::forget();
    Ok(())
}

/// Until when (Unix seconds) the session's password counts as recent; 0 when it doesn't.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "reauthenticated_until")]
pub async fn reauthenticated_until(access: String) -> Result<u64, ApiError> {
    crate::server::AuthService::from_context()?.reauthenticated_until(&access).await
}

// Second factors (docs/api.md §3.18–§3.22).

/// The second step of a sign-in: `login` answered `mfa_required` with `mfa_token`.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "login_mfa")]
pub async fn login_mfa(mfa_token: String, code: String) -> Result<SignIn, ApiError> {
    use crate::server::{AuthService, ClientMeta, token_delivery};
    let auth = AuthService::from_context()?;
    let sign_in = auth.login_mfa(&mfa_token, &code, ClientMeta::from_context()).await?;
    Ok(token_delivery::deliver_sign_in(&auth, sign_in))
}

#[server(client = CsrfClient, name = GetMfaStatus, prefix = "/rpc", endpoint = "mfa_status")]
pub async fn mfa_status(access: String) -> Result<MfaStatus, ApiError> {
    crate::server::AuthService::from_context()?.mfa_status(&access).await
}

/// `password` may be empty while the session's password is recent.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "enrol_totp")]
pub async fn enrol_totp(access: String, password: String) -> Result<TotpEnrolment, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.enrol_totp(&access, recent_or(password), ClientMeta::from_context()).await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "confirm_totp")]
pub async fn confirm_totp(access: String, code: String) -> Result<RecoveryCodes, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.confirm_totp(&access, &code, ClientMeta::from_context()).await
}

/// `password` may be empty while the session's password is recent.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "disable_totp")]
pub async fn disable_totp(access: String, password: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.disable_totp(&access, recent_or(password), ClientMeta::from_context()).await
}

/// `password` may be empty while the session's password is recent.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "regenerate_recovery_codes")]
pub async fn regenerate_recovery_codes(access: String, password: String) -> Result<RecoveryCodes, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?
        .regenerate_recovery_codes(&access, recent_or(password), ClientMeta::from_context())
        .await
}

// Passkeys (docs/api.md §3.23–§3.26). The browser's answers travel as the JSON text of
// `PublicKeyCredential.toJSON()`, read on the server into webauthn-rs's types.

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "passkey_sign_in_options")]
pub async fn passkey_sign_in_options() -> Result<PasskeyChallenge, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?.begin_passkey_sign_in(ClientMeta::from_context()).await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "passkey_sign_in")]
pub async fn passkey_sign_in(ceremony: String, credential: String) -> Result<SignIn, ApiError> {
    use crate::server::{AuthService, ClientMeta, token_delivery};
    let credential = browser_answer(&credential)?;
    let auth = AuthService::from_context()?;
    let sign_in = auth.passkey_sign_in(&ceremony, &credential, ClientMeta::from_context()).await?;
    Ok(token_delivery::deliver_sign_in(&auth, sign_in))
}

#[server(client = CsrfClient, name = GetPasskeys, prefix = "/rpc", endpoint = "passkeys")]
pub async fn passkeys(access: String) -> Result<Vec<PasskeyInfo>, ApiError> {
    crate::server::AuthService::from_context()?.passkeys(&access).await
}

/// `password` may be empty while the session's password is recent.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "passkey_registration_options")]
pub async fn passkey_registration_options(
    access: String,
    password: String,
) -> Result<PasskeyChallenge, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?
        .begin_passkey_registration(&access, recent_or(password), ClientMeta::from_context())
        .await
}

#[server(client = CsrfClient, prefix = "/rpc", endpoint = "add_passkey")]
pub async fn add_passkey(
    access: String,
    ceremony: String,
    name: String,
    credential: String,
) -> Result<PasskeyInfo, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    let credential = browser_answer(&credential)?;
    AuthService::from_context()?
        .finish_passkey_registration(&access, &ceremony, Some(&name), &credential, ClientMeta::from_context())
        .await
}

/// `password` may be empty while the session's password is recent.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "remove_passkey")]
pub async fn remove_passkey(access: String, id: String, password: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?
        .remove_passkey(&access, &id, recent_or(password), ClientMeta::from_context())
        .await
}

/// A credential as the browser serialised it, or a clear error.
#[cfg(feature = "ssr")]
fn browser_answer<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ApiError> {
    serde_json::from_str(json)
        .map_err(|_| ApiError::invalid("credential", "The browser's passkey answer could not be read."))
}

/// The browser sends an empty password when the page did not ask for one (the session's
/// password is recent): that is "none", not a wrong one.
#[cfg(feature = "ssr")]
fn recent_or(password: String) -> Option<String> {
    (!password.is_empty()).then_some(password)
}

// Sign-in through OpenID Connect providers: the browser goes through `/auth/<id>/start` and
// `/auth/<id>/callback` (server/src/providers.rs); these are the login page's two calls.

/// The providers people can sign in with, for the login and register pages' buttons.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "sign_in_providers")]
pub async fn sign_in_providers() -> Result<Vec<ProviderInfo>, ApiError> {
    Ok(crate::server::AuthService::from_context()?.providers())
}

/// The hand-over token a provider's callback left for the login page: a session (or
/// `mfa_required`, for an account with a second factor).
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "provider_sign_in")]
pub async fn provider_sign_in(handoff: String) -> Result<SignIn, ApiError> {
    use crate::server::{AuthService, ClientMeta, token_delivery};
    let auth = AuthService::from_context()?;
    let sign_in = auth.finish_provider_sign_in(&handoff, ClientMeta::from_context()).await?;
    Ok(token_delivery::deliver_sign_in(&auth, sign_in))
}

/// The caller's linked identities (the security page).
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "linked_identities")]
pub async fn linked_identities(access: String) -> Result<Vec<LinkedIdentity>, ApiError> {
    crate::server::AuthService::from_context()?.linked_identities(&access).await
}

/// Begins linking `provider`: the URL to send the browser to. `password` may be empty
/// while the session's password is recent.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "link_identity")]
pub async fn link_identity(access: String, provider: String, password: String) -> Result<String, ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?
        .begin_link(&access, &provider, recent_or(password), ClientMeta::from_context())
        .await
}

/// Unlinks the caller's identity at `provider`; never the last way to sign in.
#[server(client = CsrfClient, prefix = "/rpc", endpoint = "unlink_identity")]
pub async fn unlink_identity(access: String, provider: String, password: String) -> Result<(), ApiError> {
    use crate::server::{AuthService, ClientMeta};
    AuthService::from_context()?
        .unlink_identity(&access, &provider, recent_or(password), ClientMeta::from_context())
        .await
}
