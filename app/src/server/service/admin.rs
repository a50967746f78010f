//! Administration: disabling and enabling accounts (CLI and admin page), the account list,
//! the audit log, and the signing keys.

use super::{AuthService, key_error, load_ring, password_change_key};
use crate::api::{ApiError, ErrorCode, Role, UserSummary};
use crate::server::audit::{Entry, Event, Record};
use crate::server::keys::KeyMaterial;
use crate::server::liveness::Revocation;
use crate::server::now;
use crate::server::tokens::Claims;
use crate::server::usernames::{checked_username_key, username_key};

impl AuthService {
    /// Disables or enables an account (admin CLI). Disabling ends all its sessions at once.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<(), ApiError> {
        let key = checked_username_key(username)?;
        let no_such_user = || ApiError::new(ErrorCode::NotFound, format!("There is no user {username:?}."));
        let write = self.store().set_disabled(&key, disabled, now());
        let user_id = self
            .revoking(write, |user_id| user_id.clone().filter(|_| disabled).map(Revocation::User))
            .await?
            .ok_or_else(no_such_user)?;
        if !disabled {
            // Enabling is also how an administrator lifts a failed-login lock (and the lock on
            // password-change attempts, which only the account holder can trigger).
            self.store().clear_login_failures(&key).await?;
            self.store().clear_login_failures(&password_change_key(&user_id)).await?;
        }
        let event = if disabled { Event::UserDisabled } else { Event::UserEnabled };
        self.record(Record { event, user_id: Some(&user_id), session_id: None, ip: None }).await;
        Ok(())
    }

    /// Every account, for the admin page. Admins only.
    pub async fn list_users(&self, access_token: &str) -> Result<Vec<UserSummary>, ApiError> {
        self.require_admin(access_token).await?;
        let rows = self.store().list_users().await?;
        Ok(rows
            .into_iter()
            .map(|r| UserSummary {
                role: Role::parse(&r.role),
                username: r.username,
                first_name: r.first_name,
                last_name: r.last_name,
                email: r.email,
                disabled: r.disabled != 0,
                created_at: u64::try_from(r.created_at).unwrap_or_default(),
            })
            .collect())
    }

    /// Disables or enables another account from the admin page. Admins only; an admin
    /// can't disable themselves (and so lock everyone out of the page).
    pub async fn admin_set_disabled(
        &self,
        access_token: &str,
        username: &str,
        disabled: bool,
    ) -> Result<(), ApiError> {
        let claims = self.require_admin(access_token).await?;
        if claims.username.as_deref().map(username_key) == Some(username_key(username)) {
            return Err(ApiError::invalid("username", "You can't disable or enable your own account."));
        }
        tracing::info!(admin = %claims.user_id, username, disabled, "admin changed an account");
        self.set_disabled(username, disabled).await
    }

    /// An access token of a live session whose user is an admin right now.
    async fn require_admin(&self, access_token: &str) -> Result<Claims, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        if self.store().user_brief(&claims.user_id).await?.map(|(_, role)| role) != Some(Role::Admin) {
            tracing::warn!(security_event = "permission_denied", user_id = %claims.user_id, "admin call by a non-admin");
            return Err(ApiError::new(ErrorCode::PermissionDenied, "You don't have permission to do that."));
        }
        Ok(claims)
    }

    /// The user's most recent audit events, newest first (admin CLI).
    pub async fn audit_log(&self, username: &str, limit: u32) -> Result<Vec<Entry>, ApiError> {
        self.store()
            .recent_audit(&checked_username_key(username)?, i64::from(limit))
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("There is no user {username:?}.")))
    }

    /// Makes a new signing key: new tokens use it at once (here; other instances within
    /// their next key reload), and older keys keep verifying until their tokens expire.
    pub async fn rotate_key(&self) -> Result<String, ApiError> {
        let Some(alg) = self.0.stored_keys else {
            return Err(ApiError::invalid(
                "JWT_SECRET",
                "The key comes from JWT_SECRET: rotate it by changing that.",
            ));
        };
        let key = KeyMaterial::generate(alg, now()).map_err(key_error)?;
        // Not a revocation, but news on the same channel: every other instance reloads.
        self.revoking(self.store().insert_signing_key(&key), |()| Some(Revocation::Keys)).await?;
        tracing::info!(kid = %key.kid, "signing key rotated");
        self.reload_keys().await?;
        Ok(key.kid)
    }

    /// Re-reads the stored keys (a rotation by another instance or the CLI).
    pub async fn reload_keys(&self) -> Result<(), ApiError> {
        let Some(alg) = self.0.stored_keys else { return Ok(()) };
        self.0.tokens.replace_keys(load_ring(self.store(), alg, self.0.tokens.settings()).await?);
        Ok(())
    }
}
