//! The auth operations. Each exists once, here; REST handlers and server functions are thin
//! wrappers that only translate transport.

use super::audit::{self, Event, Record};
use super::keys::{KeyAlgorithm, KeyMaterial, KeyRing};
use super::limits::{Action, LimitSettings, RateLimits};
use super::liveness::{Liveness, Revocation};
use super::password::{self, Passwords};
use super::store::{self, Attempt, NewSession, NewUser, Rotation, RotationPolicy, TokenRow};
use super::tokens::{Claims, TokenSettings, TokenType, Tokens, new_jti};
use super::usernames::{self, checked_username_key, username_key};
use super::{ClientMeta, now};
use crate::api::{
    ApiError, ErrorCode, NewAccount, PasswordChange, Profile, ProfileUpdate, Role, SessionInfo, SessionUser,
    SignIn, TokenPair, UserSummary,
};
use crate::rules;
use sqlx::AnyPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub tokens: TokenSettings,
    /// No session lives longer than this, however often it refreshes.
    pub session_max_lifetime: Duration,
    /// How long after a rotation the parent token still gets the same child back (racing
    /// tabs, retried requests). Zero turns it off.
    pub refresh_grace_period: Duration,
    /// Password hashes that may run at once.
    pub hash_concurrency: usize,
    pub limits: LimitSettings,
}

/// The database, as two pools over it: see `Inner::writer`.
#[derive(Clone)]
pub struct Pools {
    pub read: AnyPool,
    pub write: AnyPool,
}

/// Where the signing keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// One HS256 secret given by the operator (`JWT_SECRET`); rotated by changing it.
    Secret(Vec<u8>),
    /// Keys of this algorithm kept in the database: generated on first start, rotated with
    /// `server rotate-key`, shared by every instance on the same database.
    Stored(KeyAlgorithm),
}

/// The application's auth state: database pool, signing key and hasher. Cheap to clone;
/// handed to axum as state and to Leptos as context.
#[derive(Clone)]
pub struct AuthService(Arc<Inner>);

struct Inner {
    /// Reads.
    db: AnyPool,
    /// Writes (and transactions that write). On SQLite a pool of one connection: SQLite
    /// allows one writer at a time, and queueing here is fair and immediate, where
    /// SQLite's own busy handler sleeps in steps of milliseconds. On PostgreSQL the same
    /// pool as `db`.
    writer: AnyPool,
    tokens: Tokens,
    passwords: Passwords,
    limits: RateLimits,
    liveness: Liveness,
    stored_keys: Option<KeyAlgorithm>,
    /// When the keys were last reloaded for an unknown key id (Unix ms).
    last_kid_reload_ms: AtomicI64,
    session_max_lifetime: u64,
    refresh_grace_period: u64,
}

impl AuthService {
    /// Loads (or on first start creates) the signing keys and builds the service.
    pub async fn start(pools: Pools, keys: KeySource, settings: AuthSettings) -> Result<Self, ApiError> {
        let Pools { read: db, write: writer } = pools;
        let (ring, stored_keys) = match keys {
            KeySource::Secret(secret) => {
                let key =
                    KeyMaterial::from_secret(&secret).map_err(|e| ApiError::invalid("JWT_SECRET", e))?;
                (KeyRing::new(KeyAlgorithm::HS256, &[key], 0, 0).map_err(key_error)?, None)
            }
            KeySource::Stored(alg) => {
                if store::signing_keys(&db, alg).await?.is_empty() {
                    let key = KeyMaterial::generate(alg, now()).map_err(key_error)?;
                    store::insert_signing_key(&writer, &key).await?;
                    tracing::info!(kid = %key.kid, alg = alg.as_str(), "generated the first signing key");
                }
                (load_ring(&db, alg, &settings.tokens).await?, Some(alg))
            }
        };
        store_missing_skeletons(&db, &writer).await?;
        Ok(Self(Arc::new(Inner {
            liveness: Liveness::new(&db),
            last_kid_reload_ms: AtomicI64::new(0),
            db,
            writer,
            tokens: Tokens::new(ring, settings.tokens),
            passwords: Passwords::new(settings.hash_concurrency)?,
            limits: RateLimits::new(&settings.limits),
            stored_keys,
            session_max_lifetime: settings.session_max_lifetime.as_secs(),
            refresh_grace_period: settings.refresh_grace_period.as_secs(),
        })))
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
        store::insert_signing_key(&self.0.writer, &key).await?;
        tracing::info!(kid = %key.kid, "signing key rotated");
        self.reload_keys().await?;
        self.0.liveness.revoked(&self.0.db, Revocation::Keys).await;
        Ok(key.kid)
    }

    /// Re-reads the stored keys (a rotation by another instance or the CLI).
    pub async fn reload_keys(&self) -> Result<(), ApiError> {
        let Some(alg) = self.0.stored_keys else { return Ok(()) };
        self.0.tokens.replace_keys(load_ring(&self.0.db, alg, self.0.tokens.settings()).await?);
        Ok(())
    }

    /// Follows other instances' revocations and key rotations until the process ends (only
    /// on PostgreSQL; returns at once on SQLite). See `liveness`.
    pub async fn follow_revocations(&self) {
        let this = self.clone();
        let reload = move || {
            let this = this.clone();
            async move {
                if let Err(e) = this.reload_keys().await {
                    tracing::warn!(error = %e, "reloading signing keys failed; keeping the current ones");
                }
            }
        };
        self.0.liveness.follow(&self.0.db, reload).await;
    }

    /// True while this instance follows other instances' revocations (PostgreSQL only).
    pub fn follows_revocations(&self) -> bool {
        self.0.liveness.is_following()
    }

    /// Sessions neither revoked nor expired, for the metrics.
    pub async fn active_sessions(&self) -> Result<i64, ApiError> {
        Ok(store::count_active_sessions(&self.0.db, now()).await?)
    }

    /// The connection pool, for the server's readiness check.
    pub fn db(&self) -> &AnyPool {
        &self.0.db
    }

    /// Closes both pools, waiting for the connections in use to come back (at shutdown).
    pub async fn close(&self) {
        self.0.writer.close().await;
        self.0.db.close().await;
    }

    /// The public verification keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        self.0.tokens.keys().jwks().clone()
    }

    /// The service as provided to Leptos by the server (see `server::startup`).
    pub fn from_context() -> Result<Self, ApiError> {
        leptos::prelude::use_context::<Self>().ok_or_else(|| {
            tracing::error!("AuthService missing from the Leptos context");
            ApiError::internal()
        })
    }

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
        self.0.limits.check(&self.0.writer, Action::Login, client).await?;
        let key = checked_username_key(username)?;
        let now = now();
        let attempt = self.claim_attempt(&key, now).await?;
        let account = store::find_login(&self.0.db, &key).await?;
        let hash = account.as_ref().filter(|a| !a.disabled).map(|a| a.password_hash.clone());
        let matches = self.0.passwords.verify(password, hash).await?;
        let account = match account {
            Some(account) if matches => account,
            other => {
                let locked = self.0.limits.lock_for(attempt).is_some();
                if locked {
                    tracing::warn!(
                        security_event = "login_throttled",
                        failures = attempt,
                        "consecutive failed logins"
                    );
                } else {
                    tracing::info!("login refused");
                }
                let event = if locked { Event::LoginLocked } else { Event::LoginFailed };
                metrics::counter!("auth_logins_total", "result" => "failed").increment(1);
                let user_id = other.as_ref().map(|a| a.id.as_str());
                self.audit(Record { event, user_id, session_id: None, ip: client }).await;
                return Err(ApiError::invalid_credentials());
            }
        };
        store::clear_login_failures(&self.0.writer, &key).await?;

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
        store::start_session(&self.0.writer, &session, &first).await?;
        let refresh =
            self.0.tokens.refresh_claims(&account.id, &sid, &first.jti, first.issued_at, first.expires_at);
        let tokens = self.pair(&account.username, &refresh, now)?;
        tracing::info!(user_id = %account.id, session_id = %sid, "login succeeded");
        metrics::counter!("auth_logins_total", "result" => "succeeded").increment(1);
        let record = Record {
            event: Event::LoginSucceeded,
            user_id: Some(&account.id),
            session_id: Some(&sid),
            ip: client,
        };
        self.audit(record).await;
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

    /// Trades a refresh token for a new pair. The presented token is dead afterwards, except
    /// that inside the grace window it gets the same replacement again. Presenting it later
    /// (or any older token of the session) revokes the whole session (RFC 9700 §4.14.2).
    pub async fn refresh(&self, refresh_token: &str, meta: ClientMeta) -> Result<TokenPair, ApiError> {
        let client = self.client_ip(&meta);
        self.0.limits.check(&self.0.writer, Action::Refresh, client).await?;
        let presented = self.decode(refresh_token, Some(TokenType::Refresh)).await?;
        let record = |event| Record {
            event,
            user_id: Some(&presented.user_id),
            session_id: Some(&presented.sid),
            ip: client,
        };
        let now = now();
        let policy = RotationPolicy {
            now,
            refresh_lifetime: self.refresh_lifetime(),
            grace_period: self.0.refresh_grace_period,
        };
        let (username, child) = match store::rotate_refresh_token(
            &self.0.writer,
            &presented,
            &new_jti(),
            &policy,
        )
        .await?
        {
            Rotation::Rotated { username, child } => {
                tracing::debug!(session_id = %presented.sid, "refresh token rotated");
                (username, child)
            }
            Rotation::Replayed { username, child } => {
                tracing::info!(session_id = %presented.sid, "refresh token replayed inside the grace window");
                (username, child)
            }
            Rotation::ReuseDetected => {
                tracing::warn!(
                    security_event = "refresh_token_reuse",
                    user_id = %presented.user_id,
                    session_id = %presented.sid,
                    "a rotated refresh token was presented again: session revoked"
                );
                metrics::counter!("auth_refresh_reuse_detected_total").increment(1);
                self.0.liveness.revoked(&self.0.db, Revocation::Session(presented.sid.clone())).await;
                self.audit(record(Event::RefreshReuseDetected)).await;
                return Err(ApiError::token_not_valid());
            }
            Rotation::Refused => {
                metrics::counter!("auth_refreshes_total", "result" => "refused").increment(1);
                tracing::info!(session_id = %presented.sid, "refresh refused: token revoked or expired");
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
        self.audit(record(Event::TokenRefreshed)).await;
        metrics::counter!("auth_refreshes_total", "result" => "rotated").increment(1);
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
            store::user_brief(&self.0.db, &claims.user_id).await?.ok_or_else(ApiError::token_not_valid)?;
        Ok(SessionUser { session_tag: session_tag(&claims.sid), user_id: claims.user_id, username, role })
    }

    /// Logout: the refresh token's whole session ends, and with it every token of it.
    pub async fn logout(&self, refresh_token: &str, meta: ClientMeta) -> Result<(), ApiError> {
        let claims = self.decode(refresh_token, Some(TokenType::Refresh)).await?;
        if !store::revoke_session(&self.0.writer, &claims.sid, &claims.user_id, now(), "logout").await? {
            return Err(ApiError::token_not_valid());
        }
        self.0.liveness.revoked(&self.0.db, Revocation::Session(claims.sid.clone())).await;
        tracing::info!(user_id = %claims.user_id, session_id = %claims.sid, "logged out");
        self.audit_claims(Event::LoggedOut, &claims, &meta).await;
        Ok(())
    }

    /// Is this token (of either type) currently good?
    pub async fn verify(&self, token: &str) -> Result<(), ApiError> {
        let claims = self.decode(token, None).await?;
        let live = match claims.token_type {
            TokenType::Access => self.is_live(&claims).await?,
            TokenType::Refresh => {
                store::refresh_token_is_unused(&self.0.db, &claims.jti).await?
                    && self.is_live(&claims).await?
            }
        };
        if live { Ok(()) } else { Err(ApiError::token_not_valid()) }
    }

    /// The caller's own profile. Authenticates from the access token on every call,
    /// including that its session is still live.
    pub async fn profile(&self, access_token: &str) -> Result<Profile, ApiError> {
        let claims = self.authenticate(access_token).await?;
        store::profile_for_session(&self.0.db, &claims.sid, &claims.user_id)
            .await?
            .ok_or_else(ApiError::token_not_valid)
    }

    /// Changes the caller's own first name, last name and email (by the same rules as at
    /// registration; an error names its field). Returns the profile as now stored.
    pub async fn update_profile(
        &self,
        access_token: &str,
        update: ProfileUpdate,
        meta: ClientMeta,
    ) -> Result<Profile, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        rules::check_profile(&update)?;
        let (first, last, email) = (update.first_name.trim(), update.last_name.trim(), update.email.trim());
        store::update_profile(&self.0.writer, &claims.user_id, first, last, email).await?;
        tracing::info!(user_id = %claims.user_id, "profile updated");
        self.audit_claims(Event::ProfileUpdated, &claims, &meta).await;
        store::profile_for_session(&self.0.db, &claims.sid, &claims.user_id)
            .await?
            .ok_or_else(ApiError::token_not_valid)
    }

    /// Creates an account (registration and the CLI's create-user).
    pub async fn register(&self, form: NewAccount, meta: ClientMeta) -> Result<Profile, ApiError> {
        self.0.limits.check(&self.0.writer, Action::Register, self.client_ip(&meta)).await?;
        self.create_account(form, Role::User, true).await
    }

    /// Creates an account with a role (the CLI's create-user; `--admin` makes an admin).
    pub async fn create_user(&self, form: NewAccount, role: Role) -> Result<Profile, ApiError> {
        self.create_account(form, role, true).await
    }

    /// The demo accounts' passwords (`password1`, ...) are the contract's, and deliberately
    /// weak: only this explicit, opt-in path skips the strength check.
    pub async fn create_demo_account(&self, form: NewAccount) -> Result<Profile, ApiError> {
        self.create_account(form, Role::User, false).await
    }

    async fn create_account(
        &self,
        form: NewAccount,
        role: Role,
        check_strength: bool,
    ) -> Result<Profile, ApiError> {
        rules::check_new_account(&form)?;
        let key = checked_username_key(&form.username)?;
        usernames::check_new_username(&key)?;
        let skeleton = usernames::skeleton(&key);
        // Cheap early answer that saves an Argon2 run; the UNIQUE constraints below are what
        // actually guarantee one account per name (and per look-alike) under concurrency.
        if store::username_taken(&self.0.db, &key, &skeleton).await? {
            return Err(ApiError::username_taken());
        }
        if check_strength {
            let context = [&*form.username, &*form.email, &*form.first_name, &*form.last_name];
            password::check_strength(&form.password, "password", &context)?;
        }
        let (email, first_name, last_name) =
            (form.email.trim(), form.first_name.trim(), form.last_name.trim());
        let password_hash = self.0.passwords.hash(form.password).await?;
        let id = new_jti();
        let user = NewUser {
            id: &id,
            username: &form.username,
            username_key: &key,
            username_skeleton: &skeleton,
            password_hash: &password_hash,
            email,
            first_name,
            last_name,
            role: role.as_str(),
            now: i64::try_from(now()).unwrap_or(i64::MAX),
        };
        match store::insert_user(&self.0.writer, &user).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(ApiError::username_taken());
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_id = %id, "account created");
        self.audit(Record { event: Event::AccountCreated, user_id: Some(&id), session_id: None, ip: None })
            .await;
        Ok(Profile {
            username: form.username,
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            email: email.to_owned(),
        })
    }

    /// The caller's live sessions, the current one marked.
    pub async fn sessions(&self, access_token: &str) -> Result<Vec<SessionInfo>, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let rows = store::list_sessions(&self.0.db, &claims.user_id, now()).await?;
        Ok(rows
            .into_iter()
            .map(|r| SessionInfo {
                current: r.id == claims.sid,
                id: r.id,
                created_at: u64::try_from(r.created_at).unwrap_or_default(),
                last_used_at: u64::try_from(r.last_used_at).unwrap_or_default(),
                user_agent: r.user_agent,
                ip: r.ip,
            })
            .collect())
    }

    /// Ends one of the caller's own sessions (any other user's session is "not found").
    pub async fn revoke_session(
        &self,
        access_token: &str,
        session_id: &str,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        rules::check_session_id(session_id)?;
        if !store::revoke_session(&self.0.writer, session_id, &claims.user_id, now(), "revoked_by_user")
            .await?
        {
            return Err(ApiError::new(ErrorCode::NotFound, "No such session."));
        }
        self.0.liveness.revoked(&self.0.db, Revocation::Session(session_id.to_owned())).await;
        tracing::info!(user_id = %claims.user_id, session_id, "session revoked by its user");
        let ip = self.client_ip(&meta);
        let record = Record {
            event: Event::SessionRevoked,
            user_id: Some(&claims.user_id),
            session_id: Some(session_id),
            ip,
        };
        self.audit(record).await;
        Ok(())
    }

    /// Sign out everywhere: every session of the caller ends, this one included.
    pub async fn logout_everywhere(&self, access_token: &str, meta: ClientMeta) -> Result<(), ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let n = store::revoke_user_sessions(&self.0.writer, &claims.user_id, "", now(), "logout_all").await?;
        self.0.liveness.revoked(&self.0.db, Revocation::User(claims.user_id.clone())).await;
        tracing::info!(user_id = %claims.user_id, sessions = n, "signed out everywhere");
        self.audit_claims(Event::SignedOutEverywhere, &claims, &meta).await;
        Ok(())
    }

    /// Changes the caller's password. Requires the current one; every other session ends.
    pub async fn change_password(
        &self,
        access_token: &str,
        change: PasswordChange,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let username = claims.username.as_deref().unwrap_or_default();
        // Checking the current password is a password guess like any login: same limits,
        // but counted per account holder, not against the username's login lock. That lock
        // is what a stranger can trigger, and it must not keep the owner, signed in with the
        // right current password, from changing the password (the documented way out).
        self.0.limits.check(&self.0.writer, Action::Login, self.client_ip(&meta)).await?;
        let change_key = password_change_key(&claims.user_id);
        self.claim_attempt(&change_key, now()).await?;
        let hash = store::password_hash(&self.0.db, &claims.user_id).await?;
        if !self.0.passwords.verify(change.current_password, hash).await? {
            return Err(ApiError::invalid("current_password", "Your current password is not correct."));
        }
        store::clear_login_failures(&self.0.writer, &change_key).await?;
        store::clear_login_failures(&self.0.writer, &username_key(username)).await?;
        rules::check_password(&change.new_password, username)
            .map_err(|e| ApiError { field: Some("new_password".into()), ..e })?;
        password::check_strength(&change.new_password, "new_password", &[username])?;
        let new_hash = self.0.passwords.hash(change.new_password).await?;
        store::change_password(&self.0.writer, &claims.user_id, &claims.sid, &new_hash, now()).await?;
        self.0.liveness.revoked(&self.0.db, Revocation::User(claims.user_id.clone())).await;
        tracing::info!(user_id = %claims.user_id, "password changed; other sessions ended");
        self.audit_claims(Event::PasswordChanged, &claims, &meta).await;
        Ok(())
    }

    /// Disables or enables an account (admin CLI). Disabling ends all its sessions at once.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<(), ApiError> {
        let key = checked_username_key(username)?;
        let Some(user_id) = store::set_disabled(&self.0.writer, &key, disabled, now()).await? else {
            return Err(ApiError::new(ErrorCode::NotFound, format!("There is no user {username:?}.")));
        };
        if disabled {
            self.0.liveness.revoked(&self.0.db, Revocation::User(user_id.clone())).await;
        } else {
            // Enabling is also how an administrator lifts a failed-login lock (and the lock on
            // password-change attempts, which only the account holder can trigger).
            store::clear_login_failures(&self.0.writer, &key).await?;
            store::clear_login_failures(&self.0.writer, &password_change_key(&user_id)).await?;
        }
        tracing::info!(%user_id, disabled, "account disabled flag changed");
        let event = if disabled { Event::UserDisabled } else { Event::UserEnabled };
        self.audit(Record { event, user_id: Some(&user_id), session_id: None, ip: None }).await;
        Ok(())
    }

    /// Every account, for the admin page. Admins only.
    pub async fn list_users(&self, access_token: &str) -> Result<Vec<UserSummary>, ApiError> {
        self.require_admin(access_token).await?;
        let rows = store::list_users(&self.0.db).await?;
        Ok(rows
            .into_iter()
            .map(|r| UserSummary {
                role: Role::parse(&r.role),
                username: r.username,
                first_name: r.first_name,
                last_name: r.last_name,
                email: r.email,
                disabled: r.disabled,
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
        if store::user_brief(&self.0.db, &claims.user_id).await?.map(|(_, role)| role) != Some(Role::Admin) {
            tracing::warn!(security_event = "permission_denied", user_id = %claims.user_id, "admin call by a non-admin");
            return Err(ApiError::new(ErrorCode::PermissionDenied, "You don't have permission to do that."));
        }
        Ok(claims)
    }

    /// The user's most recent audit events, newest first (admin CLI).
    pub async fn audit_log(&self, username: &str, limit: u32) -> Result<Vec<audit::Entry>, ApiError> {
        store::recent_audit(&self.0.db, &checked_username_key(username)?, i64::from(limit))
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("There is no user {username:?}.")))
    }

    /// Records an audit event. Best effort: a failure is logged, never fails the operation
    /// (which has already happened).
    async fn audit(&self, record: Record<'_>) {
        // UUIDv7: ordered by time, so the log reads back in the order things happened.
        let id = uuid::Uuid::now_v7().to_string();
        if let Err(e) = store::insert_audit(&self.0.writer, &id, now(), &record).await {
            tracing::error!(error = %e, event = record.event.as_str(), "could not record an audit event");
        }
    }

    async fn audit_claims(&self, event: Event, claims: &Claims, meta: &ClientMeta) {
        let ip = self.client_ip(meta);
        self.audit(Record { event, user_id: Some(&claims.user_id), session_id: Some(&claims.sid), ip }).await;
    }

    /// Deletes expired and long-revoked sessions and tokens; see `store::prune`.
    pub async fn prune(&self) -> Result<(u64, u64), ApiError> {
        Ok(store::prune(&self.0.writer, now(), 86_400, self.0.limits.throttle_max_rows()).await?)
    }

    /// Counts a password attempt against the username's lock, or refuses it while locked.
    async fn claim_attempt(&self, key: &str, now: u64) -> Result<u32, ApiError> {
        match store::claim_login_attempt(&self.0.writer, key, now, |n| self.0.limits.lock_for(n)).await? {
            Attempt::Allowed(n) => Ok(n),
            Attempt::Locked(until) => Err(ApiError::throttled(until.saturating_sub(now).max(1))),
        }
    }

    fn client_ip(&self, meta: &ClientMeta) -> Option<std::net::IpAddr> {
        self.0.limits.client_ip(meta.peer, meta.forwarded_for.as_deref())
    }

    /// An access token whose session is still live.
    async fn authenticate_live(&self, access_token: &str) -> Result<Claims, ApiError> {
        let claims = self.authenticate(access_token).await?;
        if !self.is_live(&claims).await? {
            return Err(ApiError::token_not_valid());
        }
        Ok(claims)
    }

    async fn is_live(&self, claims: &Claims) -> Result<bool, ApiError> {
        Ok(self.0.liveness.is_live(&self.0.db, &claims.sid, &claims.user_id).await?)
    }

    /// Decodes a token (of the `expected` type, or either). A key id this instance hasn't
    /// loaded (rotated a moment ago by another instance) makes it reload the stored keys
    /// once and try again; at most once a second, so forged key ids can't hammer the database.
    async fn decode(&self, token: &str, expected: Option<TokenType>) -> Result<Claims, ApiError> {
        let decode = || match expected {
            Some(token_type) => self.0.tokens.decode(token, token_type),
            None => self.0.tokens.decode_any(token),
        };
        let first = decode();
        if first.is_ok() || self.0.stored_keys.is_none() || !self.0.tokens.has_unknown_kid(token) {
            return first;
        }
        let now_ms = super::limits::now_ms();
        let last = self.0.last_kid_reload_ms.load(Ordering::Acquire);
        let due = now_ms - last >= 1000
            && self
                .0
                .last_kid_reload_ms
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
        if !due {
            return first;
        }
        if let Err(e) = self.reload_keys().await {
            tracing::warn!(error = %e, "reloading signing keys failed; keeping the current ones");
        }
        decode()
    }

    /// Seconds a refresh token lives.
    pub fn refresh_lifetime(&self) -> u64 {
        self.0.tokens.settings().refresh_lifetime.as_secs()
    }

    async fn authenticate(&self, access_token: &str) -> Result<Claims, ApiError> {
        if access_token.is_empty() {
            return Err(ApiError::not_authenticated());
        }
        self.decode(access_token, Some(TokenType::Access)).await
    }

    fn pair(&self, username: &str, refresh: &Claims, now: u64) -> Result<TokenPair, ApiError> {
        let access = self.0.tokens.access_claims(&refresh.user_id, username, &refresh.sid, now);
        Ok(TokenPair {
            access: self.0.tokens.sign(&access)?,
            refresh: self.0.tokens.sign(refresh)?,
            expires_in: access.exp - now,
        })
    }
}

/// The throttle key of a user's password-change attempts (no username contains a colon).
fn password_change_key(user_id: &str) -> String {
    format!("password-change:{user_id}")
}

/// A session's tag for the browser's tabs (see `SessionUser::session_tag`): derived from the
/// session id, from which it can't be turned back.
fn session_tag(session_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("leptos-auth tab tag\0{session_id}"));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored keys of `alg` as a ring: an old key verifies as long as a refresh token it
/// signed can live.
async fn load_ring(db: &AnyPool, alg: KeyAlgorithm, tokens: &TokenSettings) -> Result<KeyRing, ApiError> {
    let window = tokens.refresh_lifetime.as_secs() + tokens.leeway.as_secs();
    let keys = store::signing_keys(db, alg).await?;
    KeyRing::new(alg, &keys, now(), window).map_err(key_error)
}

/// Accounts made before look-alike detection get their skeleton at start. Two existing
/// accounts that look alike both keep working; the second is left without one (and logged).
async fn store_missing_skeletons(db: &AnyPool, writer: &AnyPool) -> Result<(), ApiError> {
    for (user_id, key) in store::users_without_skeleton(db).await? {
        match store::set_skeleton(writer, &user_id, &usernames::skeleton(&key)).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tracing::warn!(%user_id, "an existing account looks like another one; both are kept");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn key_error(e: String) -> ApiError {
    super::internal_error("signing keys unusable", e)
}
