//! Second factors: an authenticator app (TOTP) with recovery codes, and the second step of
//! a sign-in. Turning a factor on or off needs recent authentication, ends the user's other
//! sessions and is mailed to them.

use super::AuthService;
use crate::api::{ApiError, ErrorCode, MfaStatus, RecoveryCodes, SignIn, TotpEnrolment};
use crate::server::audit::{Event, Record};
use crate::server::limits::Action;
use crate::server::mail::templates::APP_NAME;
use crate::server::mail::{link_token, token_hash};
use crate::server::store::Proof;
use crate::server::{ClientMeta, internal_error, now, totp};

/// An `mfa_token` lives five minutes.
const CHALLENGE_SECS: u64 = 300;
const RECOVERY_CODES: usize = 10;
/// Recovery codes: 10 characters of base32 (50 bits), shown as two groups of five.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

impl AuthService {
    /// Whether the account has an authenticator, and how many recovery codes are left.
    pub async fn mfa_status(&self, access_token: &str) -> Result<MfaStatus, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let on = self.totp_enabled(&claims.user_id).await?;
        let left = if on { self.store().recovery_codes_left(&claims.user_id).await? } else { 0 };
        Ok(MfaStatus { totp: on, recovery_codes_left: left })
    }

    pub(super) async fn totp_enabled(&self, user_id: &str) -> Result<bool, ApiError> {
        Ok(self.store().totp_factor(user_id).await?.is_some_and(|f| f.confirmed_at.is_some()))
    }

    /// Starts enrolment: a new secret (replacing one not yet confirmed), returned once as
    /// text, URI and QR code. Nothing changes for sign-in until `confirm_totp`.
    pub async fn enrol_totp(
        &self,
        access_token: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<TotpEnrolment, ApiError> {
        let claims = self.recently_authenticated(access_token, password, &meta).await?;
        let secret = totp::new_secret().map_err(|e| internal_error("no randomness for a secret", e))?;
        let sealed =
            self.0.data_key.seal(&secret, &claims.user_id).map_err(|e| internal_error("sealing", e))?;
        if !self.store().set_pending_totp(&claims.user_id, &sealed, now()).await? {
            return Err(ApiError::new(ErrorCode::MfaAlreadyEnabled, "An authenticator app is on already."));
        }
        let account = claims.username.as_deref().unwrap_or_default();
        let uri = totp::otpauth_uri(&secret, APP_NAME, account);
        let qr_svg = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| internal_error("QR code", e))?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        Ok(TotpEnrolment { secret: totp::base32(&secret), otpauth_uri: uri, qr_svg })
    }

    /// Confirms enrolment with a code from the new authenticator: it is on from now, the
    /// user's other sessions end, and ten recovery codes are returned, once.
    pub async fn confirm_totp(
        &self,
        access_token: &str,
        code: &str,
        meta: ClientMeta,
    ) -> Result<RecoveryCodes, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        // Six digits can be guessed: the same limits as a password check of one's own.
        self.0.limits.check(self.store(), Action::Login, self.client_ip(&meta)).await?;
        let attempts = super::password_change_key(&claims.user_id);
        self.claim_attempt(&attempts, now()).await?;
        let wrong = || ApiError {
            field: Some("code".into()),
            ..ApiError::new(
                ErrorCode::InvalidEnrolmentCode,
                "That code does not match. Try the one showing now.",
            )
        };
        let factor = self.store().totp_factor(&claims.user_id).await?;
        let Some(factor) = factor.filter(|f| f.confirmed_at.is_none()) else {
            return Err(wrong());
        };
        let secret = self.0.data_key.open(&factor.secret_box, &claims.user_id).ok_or_else(wrong)?;
        let now = now();
        let step = totp::matching_step(&secret, code, now, 0).ok_or_else(wrong)?;
        self.store().clear_login_failures(&attempts).await?;
        let (codes, hashes) = self.new_recovery_codes(&claims.user_id)?;
        let account = self.own_account(&claims).await?;
        let notice = self.0.mails.second_factor_changed(&account.email, &account.username, true);
        let write = self.store().confirm_totp(&claims.user_id, step, &hashes, &claims.sid, now, &notice);
        let revoked = crate::server::liveness::Revocation::User(claims.user_id.clone());
        if !self.revoking(write, |done| done.then_some(revoked)).await? {
            return Err(wrong());
        }
        self.mail_queued();
        self.record_for(Event::SecondFactorEnabled, &claims, &meta).await;
        Ok(RecoveryCodes { recovery_codes: codes })
    }

    /// Turns the authenticator off (recovery codes too); the user's other sessions end.
    pub async fn disable_totp(
        &self,
        access_token: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.recently_authenticated(access_token, password, &meta).await?;
        let account = self.own_account(&claims).await?;
        let notice = self.0.mails.second_factor_changed(&account.email, &account.username, false);
        let write = self.store().disable_totp(&claims.user_id, &claims.sid, now(), &notice);
        let revoked = crate::server::liveness::Revocation::User(claims.user_id.clone());
        if self.revoking(write, |done| done.then_some(revoked)).await? {
            self.mail_queued();
            self.record_for(Event::SecondFactorDisabled, &claims, &meta).await;
        }
        Ok(())
    }

    /// A new set of recovery codes (the old ones stop working), shown once.
    pub async fn regenerate_recovery_codes(
        &self,
        access_token: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<RecoveryCodes, ApiError> {
        let claims = self.recently_authenticated(access_token, password, &meta).await?;
        if !self.totp_enabled(&claims.user_id).await? {
            return Err(ApiError::invalid("code", "Turn on an authenticator app first."));
        }
        let (codes, hashes) = self.new_recovery_codes(&claims.user_id)?;
        self.store().replace_recovery_codes(&claims.user_id, &hashes).await?;
        self.record_for(Event::RecoveryCodesRegenerated, &claims, &meta).await;
        Ok(RecoveryCodes { recovery_codes: codes })
    }

    /// The password was right for an account with a second factor: a challenge, answered
    /// as `mfa_required` with its token.
    pub(super) async fn mfa_challenge(
        &self,
        user_id: &str,
        meta: &ClientMeta,
        now: u64,
    ) -> Result<ApiError, ApiError> {
        let (token, hash) = link_token().map_err(|e| internal_error("no randomness for a token", e))?;
        let ip = self.client_ip(meta).map(|ip| ip.to_string());
        let ua = meta.user_agent.as_deref();
        self.store().insert_mfa_challenge(&hash, user_id, now + CHALLENGE_SECS, ua, ip.as_deref()).await?;
        Ok(ApiError::mfa_required(token))
    }

    /// The second step of a sign-in: the challenge's token and a current code from the
    /// authenticator, or an unused recovery code. A wrong code counts toward the account's
    /// login lock like a wrong password.
    pub async fn login_mfa(&self, mfa_token: &str, code: &str, meta: ClientMeta) -> Result<SignIn, ApiError> {
        let client = self.client_ip(&meta);
        self.0.limits.check(self.store(), Action::Login, client).await?;
        if mfa_token.is_empty() || mfa_token.len() > 128 || code.len() > 64 {
            return Err(ApiError::invalid_code());
        }
        let hash = token_hash(mfa_token);
        let now = now();
        let challenge =
            self.store().find_mfa_challenge(&hash, now).await?.ok_or_else(ApiError::invalid_code)?;
        let (account, username_key) = self
            .store()
            .find_login_by_id(&challenge.user_id)
            .await?
            .filter(|(a, _)| !a.disabled)
            .ok_or_else(ApiError::invalid_code)?;
        self.claim_attempt(&username_key, now).await?;
        let proof = self.second_factor(&account.id, code, now).await?;
        let finished = match proof {
            Some(proof) => self.store().finish_second_step(&hash, &account.id, &proof, now).await?,
            None => false,
        };
        if !finished {
            let record = Record {
                event: Event::LoginFailed,
                user_id: Some(&account.id),
                session_id: None,
                ip: client,
            };
            self.record(record).await;
            return Err(ApiError::invalid_code());
        }
        self.store().clear_login_failures(&username_key).await?;
        self.open_session(account, &meta, now).await
    }

    /// What the code proves, if anything: a time step of the authenticator newer than the
    /// last used (6 digits), or otherwise a recovery code (used or not: the store decides).
    async fn second_factor(&self, user_id: &str, code: &str, now: u64) -> Result<Option<Proof>, ApiError> {
        let code = code.trim();
        if code.len() == totp::DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit()) {
            let Some(factor) = self.store().totp_factor(user_id).await?.filter(|f| f.confirmed_at.is_some())
            else {
                return Ok(None);
            };
            let Some(secret) = self.0.data_key.open(&factor.secret_box, user_id) else {
                tracing::error!(user_id, "an authenticator secret does not open with the data key");
                return Ok(None);
            };
            let last = u64::try_from(factor.last_step).unwrap_or(0);
            return Ok(totp::matching_step(&secret, code, now, last).map(Proof::Step));
        }
        let normalised = normalise_recovery_code(code);
        if normalised.len() != 10 {
            return Ok(None);
        }
        Ok(Some(Proof::RecoveryCode(self.recovery_hash(user_id, &normalised))))
    }

    /// What is stored of a recovery code: keyed, and bound to its user (two users' equal
    /// codes never share a row key).
    fn recovery_hash(&self, user_id: &str, normalised: &str) -> String {
        self.0.data_key.mac(&format!("{user_id}:{normalised}"))
    }

    /// Ten new codes as shown (`abcde-fghij`) and as stored (keyed hashes).
    fn new_recovery_codes(&self, user_id: &str) -> Result<(Vec<String>, Vec<String>), ApiError> {
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut hashes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let mut bytes = [0u8; 10];
            getrandom::fill(&mut bytes).map_err(|e| internal_error("no randomness for a code", e))?;
            let chars: String =
                bytes.iter().map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)])).collect();
            hashes.push(self.recovery_hash(user_id, &chars));
            codes.push(format!("{}-{}", &chars[..5], &chars[5..]));
        }
        Ok((codes, hashes))
    }
}

/// What people type of a recovery code, as it was made: no dashes or spaces, lower case.
fn normalise_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}
