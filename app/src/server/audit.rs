//! The audit trail: who did what, when, from where, kept in the database (the logs carry
//! the same events as `security_event`s, but logs rotate away).

use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    AccountCreated,
    LoginSucceeded,
    LoginFailed,
    LoginLocked,
    TokenRefreshed,
    RefreshReuseDetected,
    LoggedOut,
    SessionRevoked,
    SignedOutEverywhere,
    PasswordChanged,
    UserDisabled,
    UserEnabled,
    ProfileUpdated,
}

impl Event {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccountCreated => "account_created",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginLocked => "login_locked",
            Self::TokenRefreshed => "token_refreshed",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::LoggedOut => "logged_out",
            Self::SessionRevoked => "session_revoked",
            Self::SignedOutEverywhere => "signed_out_everywhere",
            Self::PasswordChanged => "password_changed",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::ProfileUpdated => "profile_updated",
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
