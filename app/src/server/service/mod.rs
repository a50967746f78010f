//! The auth operations. Each exists once, here; REST handlers and server functions are thin
//! wrappers that only translate transport. One file per use case:
//!
//! - `sign_in`: login, refresh, logout, verify, the signed-in user of a page;
//! - `sessions`: a user's sessions, ending one or all, pruning;
//! - `account`: registration, profile, password change, email change, deletion;
//! - `recovery`: the mailed links: verifying an address, resetting a password;
//! - `reauth`: proving the password again before a sensitive change;
//! - `mfa`: second factors (authenticator app, recovery codes) and a sign-in's second step;
//! - `passkeys`: adding and removing passkeys, and signing in with one;
//! - `providers`: signing in through an OpenID Connect provider;
//! - `identities`: the providers' identities linked to an account (link, unlink);
//! - `outbox`: delivering queued mail;
//! - `admin`: disabling accounts, the admin list, the audit log, signing keys.
//!
//! This file holds the service itself and what every use case shares: authenticating a
//! token, the throttles, and the two helpers through which every revocation and every auth
//! event goes (`revoking`, `record`).

mod account;
mod admin;
mod identities;
mod mfa;
mod outbox;
mod passkeys;
mod providers;
mod reauth;
mod recovery;
mod sessions;
mod sign_in;

pub use providers::{CallbackOutcome, ProviderRefusal};
pub use recovery::RESET_REQUESTED;

use super::audit::{Event, Record};
use super::keys::{KeyAlgorithm, KeyMaterial, KeyRing};
use super::limits::{LimitSettings, RateLimits};
use super::liveness::{Liveness, Revocation};
use super::mail::templates::Mails;
use super::mail::{MailSettings, Mailer};
use super::password::Passwords;
use super::store::{Attempt, Pools, RemoveRefused, Store};
use super::tokens::{Claims, TokenSettings, TokenType, Tokens};
use super::usernames;
use super::{ClientMeta, internal_error, now};
use crate::api::{ApiError, ErrorCode, TokenPair};
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
    pub mail: MailSettings,
    /// The origin passkeys are made for and used on (`PUBLIC_URL`); None turns them off.
    pub passkey_origin: Option<String>,
    /// The OpenID Connect providers people can sign in with; each is discovered at start.
    pub providers: Vec<super::oidc::ProviderSettings>,
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

/// The application's auth state: the database, the signing keys and the hasher. Cheap to
/// clone; handed to axum as state and to Leptos as context.
#[derive(Clone)]
pub struct AuthService(Arc<Inner>);

struct Inner {
    store: Store,
    tokens: Tokens,
    passwords: Passwords,
    limits: RateLimits,
    liveness: Liveness,
    stored_keys: Option<KeyAlgorithm>,
    /// When the keys were last reloaded for an unknown key id (Unix ms).
    last_kid_reload_ms: AtomicI64,
    session_max_lifetime: u64,
    refresh_grace_period: u64,
    mailer: Mailer,
    mails: Mails,
    /// Encrypts second-factor secrets, keys recovery-code hashes.
    data_key: super::data_key::DataKey,
    /// Wakes the delivery loop when a mail has been queued.
    mail_queued: tokio::sync::Notify,
    /// The passkey relying party; None when passkeys are off.
    webauthn: Option<webauthn_rs::Webauthn>,
    providers: super::oidc::Providers,
}

impl AuthService {
    /// Loads (or on first start creates) the signing keys and builds the service.
    pub async fn start(pools: Pools, keys: KeySource, settings: AuthSettings) -> Result<Self, ApiError> {
        let store = Store::new(pools);
        let (ring, stored_keys) = match keys {
            KeySource::Secret(secret) => {
                let key =
                    KeyMaterial::from_secret(&secret).map_err(|e| ApiError::invalid("JWT_SECRET", e))?;
                (KeyRing::new(KeyAlgorithm::HS256, &[key], 0, 0).map_err(key_error)?, None)
            }
            KeySource::Stored(alg) => {
                if store.signing_keys(alg).await?.is_empty() {
                    let key = KeyMaterial::generate(alg, now()).map_err(key_error)?;
                    store.insert_signing_key(&key).await?;
                    tracing::info!(kid = %key.kid, alg = alg.as_str(), "generated the first signing key");
                }
                (load_ring(&store, alg, &settings.tokens).await?, Some(alg))
            }
        };
        store_missing_skeletons(&store).await?;
        store_missing_email_keys(&store).await?;
        let webauthn = match &settings.passkey_origin {
            Some(origin) => Some(
                super::passkeys::relying_party(origin, super::mail::templates::APP_NAME)
                    .map_err(|e| ApiError::invalid("PUBLIC_URL", e))?,
            ),
            None => None,
        };
        let mut providers = Vec::new();
        for provider in &settings.providers {
            let callback = format!("{}/auth/{}/callback", settings.mail.public_url, provider.id);
            let discovered = super::oidc::Provider::discover(provider, &callback)
                .await
                .map_err(|e| ApiError::invalid("OIDC", format!("provider {}: {e}", provider.id)))?;
            providers.push(discovered);
        }
        let mailer = Mailer::new(&settings.mail).map_err(|e| ApiError::invalid("mail", e))?;
        let fresh =
            super::data_key::DataKey::generate().map_err(|e| internal_error("no randomness for a key", e))?;
        let stored = store.data_key(&fresh.to_b64(), now()).await?;
        let data_key = super::data_key::DataKey::from_b64(&stored)
            .ok_or_else(|| internal_error("the stored data key is unreadable", "not 32 bytes of base64"))?;
        Ok(Self(Arc::new(Inner {
            data_key,
            webauthn,
            providers: super::oidc::Providers::new(providers),
            mailer,
            mails: Mails::new(&settings.mail.public_url),
            mail_queued: tokio::sync::Notify::new(),
            liveness: Liveness::new(store.is_postgres()),
            last_kid_reload_ms: AtomicI64::new(0),
            store,
            tokens: Tokens::new(ring, settings.tokens),
            passwords: Passwords::new(settings.hash_concurrency)?,
            limits: RateLimits::new(&settings.limits),
            stored_keys,
            session_max_lifetime: settings.session_max_lifetime.as_secs(),
            refresh_grace_period: settings.refresh_grace_period.as_secs(),
        })))
    }

    /// The service as provided to Leptos by the server (see `server::startup`).
    pub fn from_context() -> Result<Self, ApiError> {
        leptos::prelude::use_context::<Self>().ok_or_else(|| {
            tracing::error!("AuthService missing from the Leptos context");
            ApiError::internal()
        })
    }

    /// The reader pool, for the server's readiness check.
    pub fn db(&self) -> &sqlx::AnyPool {
        self.0.store.reader()
    }

    /// Closes the database, waiting for the connections in use to come back (at shutdown).
    pub async fn close(&self) {
        self.0.store.close().await;
    }

    /// The public verification keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        self.0.tokens.keys().jwks().clone()
    }

    /// Seconds a refresh token lives.
    pub fn refresh_lifetime(&self) -> u64 {
        self.0.tokens.settings().refresh_lifetime.as_secs()
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
        self.0.liveness.follow(&self.0.store, reload).await;
    }

    /// True while this instance follows other instances' revocations (PostgreSQL only).
    pub fn follows_revocations(&self) -> bool {
        self.0.liveness.is_following()
    }

    fn store(&self) -> &Store {
        &self.0.store
    }

    /// Every revocation goes through here: `write` is the store call that ends sessions (on
    /// its own, or in one transaction with the change that causes it), and `revoked` reads
    /// from its outcome what ended, which this instance's memory and every other instance are
    /// told in the same call. A revocation written but not told would be accepted from
    /// memory elsewhere for up to a minute.
    async fn revoking<T>(
        &self,
        write: impl Future<Output = Result<T, sqlx::Error>>,
        revoked: impl FnOnce(&T) -> Option<Revocation>,
    ) -> Result<T, ApiError> {
        let out = write.await?;
        if let Some(what) = revoked(&out) {
            self.0.liveness.revoked(&self.0.store, what).await;
        }
        Ok(out)
    }

    /// Records an auth event: its log line, its metric and its audit row, together. The row
    /// is best effort: a failure is logged and never fails the operation (which has already
    /// happened).
    async fn record(&self, record: Record<'_>) {
        self.noted(&record);
        if !record.event.is_audited() {
            return;
        }
        if let Err(e) = self.store().insert_audit(&audit_id(), now(), &record).await {
            tracing::error!(error = %e, event = record.event.as_str(), "could not record an audit event");
        }
    }

    /// An event's log line and metric, for one whose audit row is written with the change.
    fn noted(&self, record: &Record<'_>) {
        record.event.log(record);
        record.event.count();
    }

    /// Records an event of the session an access or refresh token belongs to.
    async fn record_for(&self, event: Event, claims: &Claims, meta: &ClientMeta) {
        let ip = self.client_ip(meta);
        self.record(Record { event, user_id: Some(&claims.user_id), session_id: Some(&claims.sid), ip })
            .await;
    }

    /// Counts a password attempt against `key`'s lock, or refuses it while locked.
    async fn claim_attempt(&self, key: &str, now: u64) -> Result<u32, ApiError> {
        match self.store().claim_login_attempt(key, now, |n| self.0.limits.lock_for(n)).await? {
            Attempt::Allowed(n) => Ok(n),
            Attempt::Locked(until) => Err(ApiError::throttled(until.saturating_sub(now).max(1))),
        }
    }

    fn client_ip(&self, meta: &ClientMeta) -> Option<std::net::IpAddr> {
        self.0.limits.client_ip(meta.peer, meta.forwarded_for.as_deref())
    }

    async fn authenticate(&self, access_token: &str) -> Result<Claims, ApiError> {
        if access_token.is_empty() {
            return Err(ApiError::not_authenticated());
        }
        self.decode(access_token, Some(TokenType::Access)).await
    }

    /// Who to write to about the token's own account.
    async fn own_account(&self, claims: &Claims) -> Result<super::store::AccountMail, ApiError> {
        self.store().account_mail(&claims.user_id).await?.ok_or_else(ApiError::token_not_valid)
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
        Ok(self.0.liveness.is_live(&self.0.store, &claims.sid, &claims.user_id).await?)
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

    fn pair(&self, username: &str, refresh: &Claims, now: u64) -> Result<TokenPair, ApiError> {
        let access = self.0.tokens.access_claims(&refresh.user_id, username, &refresh.sid, now);
        Ok(TokenPair {
            access: self.0.tokens.sign(&access)?,
            refresh: self.0.tokens.sign(refresh)?,
            expires_in: access.exp - now,
        })
    }
}

/// The stored keys of `alg` as a ring: an old key verifies as long as a refresh token it
/// signed can live.
async fn load_ring(store: &Store, alg: KeyAlgorithm, tokens: &TokenSettings) -> Result<KeyRing, ApiError> {
    let window = tokens.refresh_lifetime.as_secs() + tokens.leeway.as_secs();
    let keys = store.signing_keys(alg).await?;
    KeyRing::new(alg, &keys, now(), window).map_err(key_error)
}

fn key_error(e: String) -> ApiError {
    super::internal_error("signing keys unusable", e)
}

/// Accounts made before look-alike detection get their skeleton at start. Two existing
/// accounts that look alike both keep working; the second is left without one (and logged).
async fn store_missing_skeletons(store: &Store) -> Result<(), ApiError> {
    for (user_id, key) in store.users_without_skeleton().await? {
        match store.set_skeleton(&user_id, &usernames::skeleton(&key)).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tracing::warn!(%user_id, "an existing account looks like another one; both are kept");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Accounts made before addresses were compared get their `email_key` at start. An address
/// that two older accounts share stays with the first; the other account keeps working,
/// cannot receive links until its owner changes its address, and is reported here.
async fn store_missing_email_keys(store: &Store) -> Result<(), ApiError> {
    for (user_id, email) in store.profiles_without_email_key().await? {
        match store.set_email_key(&user_id, &crate::rules::email_key(&email)).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tracing::warn!(
                    %user_id,
                    "this account's email address is also another account's (compared without case); \
                     it keeps working, but gets no mailed links until it changes its address"
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
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

/// A new audit row's id. UUIDv7: ordered by time, so the log reads back in the order things
/// happened.
pub(crate) fn audit_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Why a way to sign in (what `field` names) was not removed, as the caller is told:
/// `not_found` when there is no such thing, or that it is the account's last way in.
fn removal_refused(refused: RemoveRefused, not_found: &str, field: &str) -> ApiError {
    match refused {
        RemoveRefused::NotFound => ApiError::new(ErrorCode::NotFound, not_found),
        RemoveRefused::LastWay => ApiError::last_way_to_sign_in(field),
    }
}
