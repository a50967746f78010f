//! Signing in and staying signed in: login, refresh (rotation), logout, checking a token,
//! and who a page is rendered for in cookie mode.

use super::{AuthService, audit_id, session_tag};
use crate::api::{ApiError, SessionUser, SignIn, TokenPair};
use crate::server::audit::{Event, Record};
use crate::server::limits::Action;
use crate::server::liveness::Revocation;
use crate::server::store::{LoginAccount, NewSession, RevokeReason, Rotation, RotationPolicy, TokenRow};
use crate::server::tokens::{TokenType, new_jti};
use crate::server::usernames::checked_username_key;
use crate::server::{ClientMeta, now};

impl AuthService {
    /// Username and password in, a new session out. Unknown user, wrong password and
    /// disabled user are indistinguishable: same error, and the same Argon2 work.
    ///
    /// Throttled twice: per client IP (token bucket) and per username (consecutive failures,
    /// growing locks), the latter whether or not the user exists, so a lock reveals nothing.
    pub async fn login(
        &self,
        username: &str,
        password: String,
        meta: ClientMeta,
    ) -> Result<SignIn, ApiError> {
        let client = self.client_ip(&meta);
        self.0.limits.check(self.store(), Action::Login, client).await?;
        let key = checked_username_key(username)?;
        let now = now();
        let attempt = self.claim_attempt(&key, now).await?;
        let account = self.store().find_login(&key).await?;
        let hash = account.as_ref().filter(|a| !a.disabled).map(|a| a.password_hash.clone());
        let matches = self.0.passwords.verify(password, hash).await?;
        let account = match account {
            Some(account) if matches => account,
            other => {
                let event = if self.0.limits.lock_for(attempt).is_some() {
                    Event::LoginLocked
                } else {
                    Event::LoginFailed
                };
                let user_id = other.as_ref().map(|a| a.id.as_str());
                self.record(Record { event, user_id, session_id: None, ip: client }).await;
                return Err(ApiError::invalid_credentials());
            }
        };
        if self.store().totp_factor(&account.id).await?.is_some_and(|f| f.confirmed_at.is_some()) {
            // The password is right; the lock keeps counting until the second factor is too,
            // so a known password doesn't buy unlimited guesses at the code.
            return Err(self.mfa_challenge(&account.id, &meta, now).await?);
        }
        self.store().clear_login_failures(&key).await?;
        self.open_session(account, &meta, now).await
    }

    /// A new session for an account that has proved who it is: its first token pair.
    pub(super) async fn open_session(
        &self,
        account: LoginAccount,
        meta: &ClientMeta,
        now: u64,
    ) -> Result<SignIn, ApiError> {
        let client = self.client_ip(meta);
        let sid = new_jti();
        let absolute_expires_at = now + self.0.session_max_lifetime;
        let first = TokenRow {
            jti: new_jti(),
            issued_at: now,
            expires_at: (now + self.refresh_lifetime()).min(absolute_expires_at),
        };
        let client_ip = client.map(|ip| ip.to_string());
        let session = NewSession {
            id: &sid,
            user_id: &account.id,
            created_at: now,
            absolute_expires_at,
            user_agent: meta.user_agent.as_deref(),
            ip: client_ip.as_deref(),
        };
        self.store().start_session(&session, &first).await?;
        self.note_device(&account.id, meta.user_agent.as_deref(), now).await;
        let refresh =
            self.0.tokens.refresh_claims(&account.id, &sid, &first.jti, first.issued_at, first.expires_at);
        let tokens = self.pair(&account.username, &refresh, now)?;
        let event = Event::LoginSucceeded;
        self.record(Record { event, user_id: Some(&account.id), session_id: Some(&sid), ip: client }).await;
        Ok(SignIn {
            tokens,
            user: SessionUser {
                user_id: account.id,
                username: account.username,
                role: account.role,
                session_tag: session_tag(&sid),
            },
        })
    }

    /// Remembers the browser and system of a sign-in; the first sign-in from one the account
    /// has not used before is mailed to its owner. Best effort: the sign-in has happened.
    async fn note_device(&self, user_id: &str, user_agent: Option<&str>, now: u64) {
        let device = device_name(user_agent.unwrap_or_default());
        let mails = &self.0.mails;
        let noted = self
            .store()
            .remember_device(user_id, &device, now, |email, username| {
                mails.new_sign_in(email, username, &device)
            })
            .await;
        match noted {
            Ok(true) => self.mail_queued(),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, user_id, "could not note the sign-in's device"),
        }
    }

    /// Trades a refresh token for a new pair. The presented token is dead afterwards, except
    /// that inside the grace window it gets the same replacement again. Presenting it later
    /// (or any older token of the session) revokes the whole session (RFC 9700 §4.14.2).
    pub async fn refresh(&self, refresh_token: &str, meta: ClientMeta) -> Result<TokenPair, ApiError> {
        let client = self.client_ip(&meta);
        self.0.limits.check(self.store(), Action::Refresh, client).await?;
        let presented = self.decode(refresh_token, Some(TokenType::Refresh)).await?;
        let now = now();
        let policy = RotationPolicy {
            now,
            refresh_lifetime: self.refresh_lifetime(),
            grace_period: self.0.refresh_grace_period,
        };
        let new_jti = new_jti();
        let record = |event| Record {
            event,
            user_id: Some(&presented.user_id),
            session_id: Some(&presented.sid),
            ip: client,
        };
        // The rotation writes its own audit row, in its transaction: the hot path's one trip
        // to the database.
        let (rotated, audit_id) = (record(Event::TokenRefreshed), audit_id());
        let write = self.store().rotate_refresh_token(&presented, &new_jti, &policy, &audit_id, &rotated);
        let rotation = self.revoking(write, |r| {
            matches!(r, Rotation::ReuseDetected).then(|| Revocation::Session(presented.sid.clone()))
        });
        let (username, child) = match rotation.await? {
            Rotation::Rotated { username, child } => {
                self.noted(&rotated);
                (username, child)
            }
            Rotation::Replayed { username, child } => {
                tracing::info!(session_id = %presented.sid, "refresh token replayed inside the grace window");
                self.record(rotated).await;
                (username, child)
            }
            Rotation::ReuseDetected => {
                self.record(record(Event::RefreshReuseDetected)).await;
                return Err(ApiError::token_not_valid());
            }
            Rotation::Refused => {
                self.record(record(Event::RefreshRefused)).await;
                return Err(ApiError::token_not_valid());
            }
        };
        let claims = self.0.tokens.refresh_claims(
            &presented.user_id,
            &presented.sid,
            &child.jti,
            child.issued_at,
            child.expires_at,
        );
        self.pair(&username, &claims, now)
    }

    /// Who a refresh token's session belongs to, if it is live: how the server renders a page
    /// for a signed-in user in cookie mode. Nothing is rotated; the browser refreshes itself.
    pub async fn session_user(&self, refresh_token: &str) -> Result<SessionUser, ApiError> {
        let claims = self.decode(refresh_token, Some(TokenType::Refresh)).await?;
        if !self.is_live(&claims).await? {
            return Err(ApiError::token_not_valid());
        }
        let (username, role) =
            self.store().user_brief(&claims.user_id).await?.ok_or_else(ApiError::token_not_valid)?;
        Ok(SessionUser { session_tag: session_tag(&claims.sid), user_id: claims.user_id, username, role })
    }

    /// Logout: the refresh token's whole session ends, and with it every token of it.
    pub async fn logout(&self, refresh_token: &str, meta: ClientMeta) -> Result<(), ApiError> {
        let claims = self.decode(refresh_token, Some(TokenType::Refresh)).await?;
        let write = self.store().revoke_session(&claims.sid, &claims.user_id, now(), RevokeReason::Logout);
        let ended =
            self.revoking(write, |ended| ended.then(|| Revocation::Session(claims.sid.clone()))).await?;
        if !ended {
            return Err(ApiError::token_not_valid());
        }
        self.record_for(Event::LoggedOut, &claims, &meta).await;
        Ok(())
    }

    /// Is this token (of either type) currently good?
    pub async fn verify(&self, token: &str) -> Result<(), ApiError> {
        let claims = self.decode(token, None).await?;
        let live = match claims.token_type {
            TokenType::Access => self.is_live(&claims).await?,
            TokenType::Refresh => {
                self.store().refresh_token_is_unused(&claims.jti).await? && self.is_live(&claims).await?
            }
        };
        if live { Ok(()) } else { Err(ApiError::token_not_valid()) }
    }
}

/// "Firefox on Linux": the browser family and system a User-Agent names, coarse enough that
/// a browser update is not a new device. Order matters: Edge and Opera say "Chrome" too,
/// Chrome says "Safari", Android says "Linux".
pub fn device_name(user_agent: &str) -> String {
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let browser =
        BROWSERS.iter().find(|(mark, _)| user_agent.contains(mark)).map_or("An unknown browser", |b| b.1);
    match SYSTEMS.iter().find(|(mark, _)| user_agent.contains(mark)) {
        Some((_, system)) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn devices_are_browser_and_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_name(firefox), "Firefox on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                    Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(device_name(edge), "Edge on Windows");
        let android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36";
        assert_eq!(device_name(android), "Chrome on Android");
        assert_eq!(device_name(""), "An unknown browser");
    }
}
