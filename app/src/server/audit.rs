//! Auth events: the audit trail kept in the database (who did what, when, from where), and
//! what each event also says in the logs and counts in the metrics. `AuthService::record`
//! does all three at once, so none can be forgotten.

use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    AccountCreated,
    LoginSucceeded,
    LoginFailed,
    LoginLocked,
    TokenRefreshed,
    /// A validly signed refresh token that was revoked, expired or of an ended session.
    RefreshRefused,
    RefreshReuseDetected,
    LoggedOut,
    SessionRevoked,
    SignedOutEverywhere,
    PasswordChanged,
    UserDisabled,
    UserEnabled,
    ProfileUpdated,
    EmailVerified,
    EmailChangeRequested,
    EmailChanged,
    PasswordResetRequested,
    PasswordReset,
    AccountDeleted,
    SecondFactorEnabled,
    SecondFactorDisabled,
    RecoveryCodesRegenerated,
    PasskeyAdded,
    PasskeyRemoved,
    /// A passkey's signature counter went backwards: a copy of it may exist.
    PasskeyCloneSuspected,
    IdentityLinked,
    IdentityUnlinked,
}

impl Event {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccountCreated => "account_created",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginLocked => "login_locked",
            Self::TokenRefreshed => "token_refreshed",
            Self::RefreshRefused => "refresh_refused",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::LoggedOut => "logged_out",
            Self::SessionRevoked => "session_revoked",
            Self::SignedOutEverywhere => "signed_out_everywhere",
            Self::PasswordChanged => "password_changed",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::ProfileUpdated => "profile_updated",
            Self::EmailVerified => "email_verified",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::AccountDeleted => "account_deleted",
            Self::SecondFactorEnabled => "second_factor_enabled",
            Self::SecondFactorDisabled => "second_factor_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::PasskeyCloneSuspected => "passkey_clone_suspected",
            Self::IdentityLinked => "identity_linked",
            Self::IdentityUnlinked => "identity_unlinked",
        }
    }

    /// Whether it gets an audit row. A refused refresh doesn't: a client retrying an old
    /// token would fill the trail with nothing anyone needs to know.
    pub const fn is_audited(self) -> bool {
        !matches!(self, Self::RefreshRefused)
    }

    /// The `security_event` name it is logged under as a warning (what alerting watches).
    const fn security_event(self) -> Option<&'static str> {
        match self {
            Self::LoginLocked => Some("login_throttled"),
            Self::RefreshReuseDetected => Some("refresh_token_reuse"),
            Self::PasswordReset => Some("password_reset"),
            Self::EmailChanged => Some("email_changed"),
            Self::AccountDeleted => Some("account_deleted"),
            Self::SecondFactorDisabled => Some("second_factor_disabled"),
            Self::PasskeyRemoved => Some("passkey_removed"),
            Self::PasskeyCloneSuspected => Some("passkey_clone_suspected"),
            Self::IdentityUnlinked => Some("identity_unlinked"),
            _ => None,
        }
    }

    const fn message(self) -> &'static str {
        match self {
            Self::AccountCreated => "account created",
            Self::LoginSucceeded => "login succeeded",
            Self::LoginFailed => "login refused",
            Self::LoginLocked => "consecutive failed logins: username locked",
            Self::TokenRefreshed => "refresh token rotated",
            Self::RefreshRefused => "refresh refused: token revoked or expired",
            Self::RefreshReuseDetected => "a rotated refresh token was presented again: session revoked",
            Self::LoggedOut => "logged out",
            Self::SessionRevoked => "session revoked by its user",
            Self::SignedOutEverywhere => "signed out everywhere",
            Self::PasswordChanged => "password changed; other sessions ended",
            Self::UserDisabled => "account disabled; its sessions ended",
            Self::UserEnabled => "account enabled",
            Self::ProfileUpdated => "profile updated",
            Self::EmailVerified => "email address verified",
            Self::EmailChangeRequested => "email change requested; link mailed to the new address",
            Self::EmailChanged => "email address changed",
            Self::PasswordResetRequested => "password reset link mailed",
            Self::PasswordReset => "password reset by mailed link; every session ended",
            Self::AccountDeleted => "account deleted; every session ended",
            Self::SecondFactorEnabled => "authenticator app turned on; other sessions ended",
            Self::SecondFactorDisabled => "authenticator app turned off; other sessions ended",
            Self::RecoveryCodesRegenerated => "new recovery codes made; the old ones stopped working",
            Self::PasskeyAdded => "passkey added; other sessions ended",
            Self::PasskeyRemoved => "passkey removed; other sessions ended",
            Self::PasskeyCloneSuspected => {
                "a passkey's signature counter went backwards (a cloned authenticator?): sign-in refused"
            }
            Self::IdentityLinked => "a provider's identity linked: it signs in to this account",
            Self::IdentityUnlinked => "a provider's identity unlinked",
        }
    }

    /// The log line. Never a password, a token or a typed-in username.
    pub fn log(self, record: &Record<'_>) {
        let (user_id, session_id) = (record.user_id.unwrap_or("-"), record.session_id.unwrap_or("-"));
        match self.security_event() {
            Some(name) => tracing::warn!(security_event = name, user_id, session_id, "{}", self.message()),
            // Every few minutes per signed-in browser: not worth an info line each.
            None if self == Self::TokenRefreshed => {
                tracing::debug!(user_id, session_id, "{}", self.message())
            }
            None => tracing::info!(user_id, session_id, "{}", self.message()),
        }
    }

    /// The counter it moves, if any (the names /metrics has always had).
    pub fn count(self) {
        match self {
            Self::LoginSucceeded => {
                metrics::counter!("auth_logins_total", "result" => "succeeded").increment(1)
            }
            Self::LoginFailed | Self::LoginLocked => {
                metrics::counter!("auth_logins_total", "result" => "failed").increment(1);
            }
            Self::TokenRefreshed => {
                metrics::counter!("auth_refreshes_total", "result" => "rotated").increment(1)
            }
            Self::RefreshRefused => {
                metrics::counter!("auth_refreshes_total", "result" => "refused").increment(1)
            }
            Self::RefreshReuseDetected => metrics::counter!("auth_refresh_reuse_detected_total").increment(1),
            _ => {}
        }
    }
}

/// One event to record. Never a password, a token or a typed-in username (people type
/// passwords into the username field).
pub struct Record<'a> {
    pub event: Event,
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub ip: Option<IpAddr>,
}

/// One recorded event, as the CLI prints it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub at: u64,
    pub event: String,
    pub session_id: Option<String>,
    pub ip: Option<String>,
}
