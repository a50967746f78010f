//! Recent authentication: changing the address or the password, deleting the account (and
//! the second-factor settings) need the password proved within the last ten minutes, in
//! this session. A sign-in proves it; so does giving the password with the change, or to
//! `reauthenticate` (what the browser app asks once, then remembers for the window).

use super::{AuthService, password_change_key};
use crate::api::ApiError;
use crate::server::limits::Action;
use crate::server::tokens::Claims;
use crate::server::usernames::username_key;
use crate::server::{ClientMeta, now};

/// How long a proved password counts as recent.
pub const REAUTH_WINDOW_SECS: u64 = 600;

impl AuthService {
    /// Proves the password again for the access token's session. Returns until when (Unix
    /// seconds) sensitive changes may be made without it.
    pub async fn reauthenticate(
        &self,
        access_token: &str,
        password: String,
        meta: ClientMeta,
    ) -> Result<u64, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        self.check_own_password(&claims, password, &meta, ApiError::wrong_password).await?;
        Ok(now() + REAUTH_WINDOW_SECS)
    }

    /// Until when the session's last proved password counts as recent (0 if it doesn't).
    pub async fn reauthenticated_until(&self, access_token: &str) -> Result<u64, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let at = self.store().session_auth_at(&claims.sid, &claims.user_id).await?.unwrap_or(0);
        let until = at + REAUTH_WINDOW_SECS;
        Ok(if until > now() { until } else { 0 })
    }

    /// A live session's claims, through the gate below: how a sensitive change begins.
    pub(super) async fn recently_authenticated(
        &self,
        access_token: &str,
        password: Option<String>,
        meta: &ClientMeta,
    ) -> Result<Claims, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        self.require_recent_auth(&claims, password, meta).await?;
        Ok(claims)
    }

    /// The gate of every sensitive change: the password given with it (checked, and then
    /// recent), or, without one, a password proved in this session within the window.
    pub(super) async fn require_recent_auth(
        &self,
        claims: &Claims,
        password: Option<String>,
        meta: &ClientMeta,
    ) -> Result<(), ApiError> {
        // A password sent is always checked, an empty one too (a REST client that sends
        // `"password": ""` gets `invalid_password`, as the contract says); only a request
        // without one relies on the window.
        if let Some(password) = password {
            return self.check_own_password(claims, password, meta, ApiError::wrong_password).await;
        }
        let at = self.store().session_auth_at(&claims.sid, &claims.user_id).await?;
        let at = at.ok_or_else(ApiError::token_not_valid)?;
        if now().saturating_sub(at) > REAUTH_WINDOW_SECS {
            return Err(ApiError::reauthentication_required());
        }
        Ok(())
    }

    /// Checks the signed-in user's password and, when right, marks the session's password
    /// as just proved. A guess like any login: the same per-IP limit, and consecutive
    /// failures lock, counted per account holder rather than against the username's login
    /// lock (which a stranger can trigger, and which must not keep the owner out of their
    /// own settings). `wrong` is the error for a wrong password.
    pub(super) async fn check_own_password(
        &self,
        claims: &Claims,
        password: String,
        meta: &ClientMeta,
        wrong: fn() -> ApiError,
    ) -> Result<(), ApiError> {
        self.0.limits.check(self.store(), Action::Login, self.client_ip(meta)).await?;
        let key = password_change_key(&claims.user_id);
        self.claim_attempt(&key, now()).await?;
        let hash = self.store().password_hash(&claims.user_id).await?;
        if !self.0.passwords.verify(password, hash).await? {
            return Err(wrong());
        }
        self.store().clear_login_failures(&key).await?;
        if let Some(username) = claims.username.as_deref() {
            self.store().clear_login_failures(&username_key(username)).await?;
        }
        self.store().set_auth_at(&claims.sid, now()).await?;
        Ok(())
    }
}
