//! Signing in through an OpenID Connect provider: the redirect there, the callback, and the
//! hand-over to the login page, which opens the session as for any sign-in (so both token
//! storage modes, the second factor and the sessions list work the same).
//!
//! An identity the provider vouches for is linked to at most one account. The first
//! sign-in with an identity nobody has linked creates an account, unless its email address
//! is one an account here already has: that is never linked by itself (the address alone
//! proves nothing about who holds the account): the person is told to sign in to that
//! account and link the provider from the security page (`identities`).

use super::AuthService;
use crate::api::{ApiError, ErrorCode, NewAccount, ProviderInfo, SignIn};
use crate::auth::safe_next;
use crate::rules::{self, email_key};
use crate::server::audit::{Event, Record};
use crate::server::limits::Action;
use crate::server::mail::{link_token, token_hash};
use crate::server::oidc::{CallbackError, Identity, Pending, Provider};
use crate::server::store::{Ceremony, NewIdentity};
use crate::server::{ClientMeta, internal_error, now};

/// How long a person may spend at the provider before the sign-in (or linking) must start
/// again.
const AUTHORIZATION_SECS: u64 = 600;
/// How long the login page has to pick up a finished sign-in.
const HANDOFF_SECS: u64 = 60;

/// Why a sign-in through a provider did not happen, as the login page explains it (the
/// `provider_error` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderRefusal {
    /// The `state` is unknown, used or expired: a replayed, forged or stale callback.
    Expired,
    /// The person said no at the provider (or the provider refused the request).
    Cancelled,
    /// The provider could not be reached to finish.
    Unavailable,
    /// The provider's answer did not check out.
    Refused,
    /// The provider shared no email address, and an account needs one.
    NoEmail,
    /// An account here already has this address: sign in to it and link from there.
    EmailInUse,
    /// The linked account is disabled.
    Disabled,
    /// Linking: the provider's account already signs in to another account here.
    IdentityInUse,
}

impl ProviderRefusal {
    pub const fn code(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Unavailable => "unavailable",
            Self::Refused => "refused",
            Self::NoEmail => "no_email",
            Self::EmailInUse => "email_in_use",
            Self::Disabled => "disabled",
            Self::IdentityInUse => "identity_in_use",
        }
    }
}

impl From<CallbackError> for ProviderRefusal {
    fn from(e: CallbackError) -> Self {
        tracing::warn!(error = %e, "a sign-in through a provider failed");
        match e {
            CallbackError::Unreachable(_) => Self::Unavailable,
            CallbackError::Refused(_) => Self::Refused,
        }
    }
}

/// Where the callback sends the browser.
pub enum CallbackOutcome {
    /// To the login page, which opens the session with the hand-over token, then to `next`.
    SignedIn { next: String, handoff: String },
    /// Back to the security page: the identity now signs in to the account that asked.
    Linked { provider: String },
    /// To the login page (or the security page, when `linking`), saying why not.
    Refused { next: String, why: ProviderRefusal, linking: bool },
}

impl AuthService {
    /// The providers people can sign in with.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.0.providers.listed()
    }

    /// Begins a sign-in through `provider`: the URL to send the browser to. What the
    /// callback needs (the PKCE verifier, the nonce, `next`) stays here, under the `state`.
    pub async fn begin_provider_sign_in(
        &self,
        provider: &str,
        next: Option<&str>,
        meta: &ClientMeta,
    ) -> Result<String, ApiError> {
        let provider = self.provider(provider)?;
        self.0.limits.check(self.store(), Action::Login, self.client_ip(meta)).await?;
        self.send_to(provider, safe_next(next), Ceremony::ProviderSignIn, None).await
    }

    /// A configured provider, or 404.
    pub(super) fn provider(&self, id: &str) -> Result<&Provider, ApiError> {
        self.0
            .providers
            .get(id)
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "No such sign-in provider."))
    }

    /// A new authorization request to `provider`: its URL. What the callback needs (the
    /// PKCE verifier, the nonce, `next`) stays here, under the `state`'s hash, as a ceremony
    /// of `purpose` (begun by `user_id` when linking).
    pub(super) async fn send_to(
        &self,
        provider: &Provider,
        next: String,
        purpose: Ceremony,
        user_id: Option<&str>,
    ) -> Result<String, ApiError> {
        let authorization = provider.authorize(next);
        let pending =
            serde_json::to_string(&authorization.pending).map_err(|e| internal_error("state", e))?;
        let expires_at = now() + AUTHORIZATION_SECS;
        let hash = token_hash(&authorization.state);
        self.store().insert_ceremony(&hash, purpose, user_id, &pending, expires_at).await?;
        Ok(authorization.url)
    }

    /// The provider's callback: `state` must be one this server began (and not finished)
    /// for this provider; then the code is exchanged and the ID token checked, and the
    /// identity signs in to its account, or makes one. Nothing is created unless all of it
    /// succeeded.
    pub async fn provider_callback(
        &self,
        provider: &str,
        state: &str,
        code: Option<&str>,
        meta: &ClientMeta,
    ) -> Result<CallbackOutcome, ApiError> {
        let now = now();
        let hash = token_hash(state);
        // A sign-in, or a signed-in user linking another way to sign in.
        let (linking_user, pending) =
            match self.store().take_ceremony(&hash, Ceremony::ProviderSignIn, now).await? {
                Some((_, pending)) => (None, pending),
                None => match self.store().take_ceremony(&hash, Ceremony::ProviderLink, now).await? {
                    Some((user_id, pending)) if user_id.is_some() => (user_id, pending),
                    _ => {
                        let why = ProviderRefusal::Expired;
                        return Ok(CallbackOutcome::Refused { next: safe_next(None), why, linking: false });
                    }
                },
            };
        let linking = linking_user.is_some();
        let pending: Pending =
            serde_json::from_str(&pending).map_err(|e| internal_error("stored state", e))?;
        let next = pending.next.clone();
        let refuse = |why| Ok(CallbackOutcome::Refused { next: next.clone(), why, linking });
        let Some(client) = self.0.providers.get(provider).filter(|_| pending.provider == provider) else {
            return refuse(ProviderRefusal::Expired);
        };
        // No code: the provider sent an error (the person cancelled, say) instead.
        let Some(code) = code else { return refuse(ProviderRefusal::Cancelled) };
        let identity = match client.finish(code, pending).await {
            Ok(identity) => identity,
            Err(e) => return refuse(e.into()),
        };
        if let Some(user_id) = linking_user {
            return match self.link(&user_id, &identity, meta, now).await? {
                Ok(()) => Ok(CallbackOutcome::Linked { provider: identity.provider }),
                Err(why) => refuse(why),
            };
        }
        let user_id = match self.account_for(&identity, now).await? {
            Ok(user_id) => user_id,
            Err(why) => {
                let event = Event::LoginFailed;
                let ip = self.client_ip(meta);
                self.record(Record { event, user_id: None, session_id: None, ip }).await;
                return refuse(why);
            }
        };
        let (token, hash) = link_token().map_err(|e| internal_error("no randomness for a token", e))?;
        let expires_at = now + HANDOFF_SECS;
        self.store()
            .insert_ceremony(&hash, Ceremony::ProviderHandoff, Some(&user_id), "", expires_at)
            .await?;
        Ok(CallbackOutcome::SignedIn { next, handoff: token })
    }

    /// The login page's half: the hand-over token (once, within a minute) for a session,
    /// or `mfa_required` when the account has a second factor.
    pub async fn finish_provider_sign_in(&self, handoff: &str, meta: ClientMeta) -> Result<SignIn, ApiError> {
        let now = now();
        let expired = || ApiError::invalid("handoff", "This sign-in has expired. Try again.");
        let (user_id, _) = self
            .store()
            .take_ceremony(&token_hash(handoff), Ceremony::ProviderHandoff, now)
            .await?
            .ok_or_else(expired)?;
        let user_id = user_id.ok_or_else(expired)?;
        let (account, _) = self
            .store()
            .find_login_by_id(&user_id)
            .await?
            .filter(|(a, _)| !a.disabled)
            .ok_or_else(ApiError::invalid_credentials)?;
        if self.store().totp_factor(&account.id).await?.is_some_and(|f| f.confirmed_at.is_some()) {
            return Err(self.mfa_challenge(&account.id, &meta, now).await?);
        }
        self.open_session(account, &meta, now).await
    }

    /// The account `identity` signs in to: the one it is linked to, or a new one.
    async fn account_for(
        &self,
        identity: &Identity,
        now: u64,
    ) -> Result<Result<String, ProviderRefusal>, ApiError> {
        let email = identity.email.as_deref().map(str::trim).filter(|e| rules::check_email(e).is_ok());
        if let Some(user_id) =
            self.store().use_identity(&identity.provider, &identity.subject, email, now).await?
        {
            let disabled = self.store().find_login_by_id(&user_id).await?.is_none_or(|(a, _)| a.disabled);
            return Ok(if disabled { Err(ProviderRefusal::Disabled) } else { Ok(user_id) });
        }
        let Some(email) = email else { return Ok(Err(ProviderRefusal::NoEmail)) };
        if self.store().email_taken(&email_key(email)).await? {
            return Ok(Err(ProviderRefusal::EmailInUse));
        }
        self.create_provider_account(identity, email, now).await
    }

    /// A new account for `identity`: a free username from what the provider calls the
    /// person, their names, the address (verified only when the provider says so), and no
    /// password (one can be set later through "Forgot password?").
    async fn create_provider_account(
        &self,
        identity: &Identity,
        email: &str,
        now: u64,
    ) -> Result<Result<String, ProviderRefusal>, ApiError> {
        let (first_name, last_name) = names(identity);
        let base = username_base(identity, email);
        for attempt in 0..20u32 {
            let username = match attempt {
                0 => base.clone(),
                n => format!("{base}{}", n + 1),
            };
            let form = NewAccount {
                username,
                password: String::new(),
                email: email.to_owned(),
                first_name: first_name.clone(),
                last_name: last_name.clone(),
            };
            let link = NewIdentity {
                provider: &identity.provider,
                subject: &identity.subject,
                email: Some(email),
                now,
            };
            match self.create_linked_account(form, identity.email_verified, &link).await {
                Ok(user_id) => return Ok(Ok(user_id)),
                // Taken (or a look-alike of one taken, or reserved): the next candidate.
                Err(e) if e.field.as_deref() == Some("username") => continue,
                Err(e) if e.field.as_deref() == Some("email") => return Ok(Err(ProviderRefusal::EmailInUse)),
                Err(e) => return Err(e),
            }
        }
        Err(internal_error("no free username for a provider's account", base))
    }
}

/// First and last name as the provider gave them; a missing part is left for the person to
/// fill in on the profile page (the profile's rules need something there meanwhile).
fn names(identity: &Identity) -> (String, String) {
    let full = identity.name.as_deref().unwrap_or_default().trim();
    let (full_first, full_last) = full.split_once(' ').unwrap_or((full, ""));
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control())
            .take(rules::NAME_MAX_CHARS)
            .collect::<String>()
            .trim()
            .to_owned()
    };
    let first = clean(identity.given_name.as_deref().unwrap_or(full_first));
    let last = clean(identity.family_name.as_deref().unwrap_or(full_last));
    let or = |s: String, fallback: &str| if s.is_empty() { fallback.to_owned() } else { s };
    (or(first, "New"), or(last, "User"))
}

/// A username from the provider's preferred one, or the address's local part: the letters,
/// digits and `._-` of it, at least three characters.
fn username_base(identity: &Identity, email: &str) -> String {
    let wanted =
        identity.preferred_username.as_deref().unwrap_or_else(|| email.split('@').next().unwrap_or(""));
    let base: String = wanted
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(24)
        .collect();
    if base.chars().count() >= 3 { base } else { format!("user{base}") }
}
