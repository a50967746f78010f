//! The mailed links: proving an address (`verify_email`, `resend_verification`) and getting
//! back into an account (`request_password_reset`, `confirm_password_reset`). OWASP's
//! Forgot Password cheat sheet throughout: the same answer whether or not an address is
//! known, random single-use tokens stored hashed, short lives, and every session ended by
//! a reset.

use super::AuthService;
use crate::api::ApiError;
use crate::rules::{self, email_key};
use crate::server::audit::{Event, Record};
use crate::server::limits::Action;
use crate::server::liveness::Revocation;
use crate::server::mail::{link_token, token_hash};
use crate::server::password;
use crate::server::store::{AccountMail, NewMailToken, Purpose, Verified};
use crate::server::{ClientMeta, internal_error, now};

/// A verification (or change-of-address) link lives a day.
pub const VERIFY_LINK_SECS: u64 = 24 * 3600;
/// A reset link lives an hour.
pub const RESET_LINK_SECS: u64 = 3600;
/// A reset link this young is not replaced by a new request.
const FRESH_LINK_SECS: u64 = 600;

/// The one answer to a reset request, whether or not an account has the address.
pub const RESET_REQUESTED: &str =
    "If an account uses that address, a link to reset its password is on its way. It works for 1 hour.";

impl AuthService {
    /// Uses a verification link: proves the account's address, or makes a requested new
    /// address the account's (and tells the old one).
    pub async fn verify_email(&self, token: &str, meta: ClientMeta) -> Result<(), ApiError> {
        let ip = self.client_ip(&meta);
        self.0.limits.check(self.store(), Action::Login, ip).await?;
        if token.is_empty() || token.len() > 128 {
            return Err(ApiError::invalid_link());
        }
        let mails = &self.0.mails;
        let outcome = self
            .store()
            .use_email_link(&token_hash(token), now(), |old, username, new| {
                mails.email_changed(old, username, new)
            })
            .await?;
        let (event, user_id) = match outcome {
            Verified::Address { user_id } => (Event::EmailVerified, user_id),
            Verified::Changed { user_id, .. } => {
                self.mail_queued();
                (Event::EmailChanged, user_id)
            }
            Verified::Invalid => return Err(ApiError::invalid_link()),
            // The contract's one failure here is `invalid_token`; the detail says why.
            Verified::Taken => {
                return Err(ApiError {
                    detail:
                        "Another account has started using that address, so this link can't change yours."
                            .into(),
                    ..ApiError::invalid_link()
                });
            }
        };
        self.record(Record { event, user_id: Some(&user_id), session_id: None, ip }).await;
        Ok(())
    }

    /// Sends a new verification link to the caller's address (the older one dies).
    pub async fn resend_verification(&self, access_token: &str, meta: ClientMeta) -> Result<(), ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        self.0.limits.check(self.store(), Action::Mail, self.client_ip(&meta)).await?;
        let account = self.own_account(&claims).await?;
        let Some(key) = account.email_key.as_deref() else {
            return Err(ApiError::email_taken("email"));
        };
        self.0.limits.check_address(self.store(), key).await?;
        if account.email_verified_at.is_some() {
            return Ok(());
        }
        let mails = &self.0.mails;
        self.issue_link(&account, Purpose::VerifyEmail, VERIFY_LINK_SECS, |token| {
            mails.verify_email(&account.email, &account.username, token)
        })
        .await
    }

    /// Mails a reset link to the account with this address, if there is one. Answers the
    /// same, at once, either way: the lookup and the mail happen after the answer.
    pub async fn request_password_reset(&self, email: &str, meta: ClientMeta) -> Result<(), ApiError> {
        rules::check_email(email)?;
        let key = email_key(email);
        self.0.limits.check(self.store(), Action::Mail, self.client_ip(&meta)).await?;
        // Over the address's budget, the same answer and no mail: a 429 here would let a
        // stranger keep the owner from asking for a link of their own.
        if self.0.limits.check_address(self.store(), &key).await.is_err() {
            return Ok(());
        }
        let this = self.clone();
        // Detached, so that neither the lookup nor the writes of a known address make its
        // answer slower than an unknown one's.
        tokio::spawn(async move {
            if let Err(e) = this.mail_reset_link(&key).await {
                tracing::error!(error = %e.detail, "a password reset link could not be queued");
            }
        });
        Ok(())
    }

    async fn mail_reset_link(&self, email_key: &str) -> Result<(), ApiError> {
        let Some(account) = self.store().account_by_email(email_key).await? else {
            tracing::info!("password reset asked for an address no account has; no mail sent");
            return Ok(());
        };
        // A link mailed in the last ten minutes stays the one that works: otherwise anyone
        // could void the owner's link, again and again, by asking for another.
        if self
            .store()
            .has_fresh_mail_token(&account.user_id, Purpose::ResetPassword, now() - FRESH_LINK_SECS)
            .await?
        {
            tracing::info!(user_id = %account.user_id, "password reset asked again within ten minutes; the mailed link stands");
            return Ok(());
        }
        let mails = &self.0.mails;
        self.issue_link(&account, Purpose::ResetPassword, RESET_LINK_SECS, |token| {
            mails.reset_password(&account.email, &account.username, token)
        })
        .await?;
        let record = Record {
            event: Event::PasswordResetRequested,
            user_id: Some(&account.user_id),
            session_id: None,
            ip: None,
        };
        self.record(record).await;
        Ok(())
    }

    /// Uses a reset link: the new password (if the policy takes it; the link stays good
    /// otherwise), every session of the user ended at once on every instance, the address
    /// verified (the link proved it), and a notice mailed.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: String,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let ip = self.client_ip(&meta);
        self.0.limits.check(self.store(), Action::Login, ip).await?;
        if token.is_empty() || token.len() > 128 {
            return Err(ApiError::invalid_link());
        }
        let hash = token_hash(token);
        let now = now();
        let link = self.store().find_mail_token(&hash, Purpose::ResetPassword, now).await?;
        let link = link.ok_or_else(ApiError::invalid_link)?;
        let username = link.username.as_str();
        rules::check_password(&new_password, username)
            .map_err(|e| ApiError { field: Some("new_password".into()), ..e })?;
        password::check_strength(&new_password, "new_password", &[username, &link.email])?;
        let new_hash = self.0.passwords.hash(new_password).await?;
        let notice = self.0.mails.password_reset(&link.email, username);
        let write = self.store().reset_password(&hash, &new_hash, now, &notice);
        let reset = self.revoking(write, |user| user.clone().map(Revocation::User)).await?;
        let user_id = reset.ok_or_else(ApiError::invalid_link)?;
        self.mail_queued();
        self.record(Record { event: Event::PasswordReset, user_id: Some(&user_id), session_id: None, ip })
            .await;
        Ok(())
    }

    /// Issues a link token of `purpose` to the account's address and queues `mail(token)`.
    async fn issue_link(
        &self,
        account: &AccountMail,
        purpose: Purpose,
        lifetime: u64,
        mail: impl FnOnce(&str) -> crate::server::mail::Outgoing,
    ) -> Result<(), ApiError> {
        let (token, hash) = link_token().map_err(|e| internal_error("no randomness for a link", e))?;
        let now = now();
        let link = NewMailToken {
            hash: &hash,
            user_id: &account.user_id,
            purpose,
            email: &account.email,
            now,
            expires_at: now + lifetime,
        };
        self.store().issue_mail_token(&link, &[mail(&token)]).await?;
        self.mail_queued();
        Ok(())
    }
}
