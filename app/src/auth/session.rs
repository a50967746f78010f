//! What the browser keeps about a signed-in session, and the timing rules around it. Pure
//! data and arithmetic (no browser APIs), so it is unit-tested natively.

use crate::api::{Role, SessionUser, SignIn, TokenPair};
use serde::{Deserialize, Serialize};

/// Refresh when this fraction of the access lifetime has passed: 4 minutes of 5.
pub const REFRESH_AT_FRACTION: f64 = 0.8;
/// After a failed refresh that was not a refusal (network, 5xx), when to try again: the
/// first retry comes quickly, well inside the server's 10 s grace window (so a response lost
/// after the server rotated still gets the same new pair, not a reuse revocation); later
/// ones back off.
pub fn retry_delay_ms(failures_so_far: u32) -> u32 {
    match failures_so_far {
        0 => 2_000,
        1 => 5_000,
        _ => 15_000,
    }
}
/// Treat the access token as expired this long before it is, so a call doesn't race expiry.
const EXPIRY_MARGIN_MS: f64 = 1_000.0;

/// Persisted in localStorage. `access` stays first (see ../shared/CONTRACT.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredSession {
    pub access: String,
    pub refresh: String,
    pub expires_in: u64,
    /// When the pair arrived (ms since the epoch, browser clock). Expiry is counted from here
    /// and `expires_in`, so a skewed browser clock doesn't matter.
    pub received_at_ms: f64,
    pub user_id: String,
    pub username: String,
    /// Sessions stored before roles existed have none: they show no admin link.
    #[serde(default)]
    pub role: Role,
    /// See `SessionUser::session_tag`.
    #[serde(default)]
    pub session_tag: String,
}

/// The signed-in user as the UI sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentUser {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub access_expires_at_ms: f64,
}

impl StoredSession {
    pub fn new(sign_in: SignIn, now_ms: f64) -> Self {
        let SignIn { tokens, user } = sign_in;
        Self {
            access: tokens.access,
            refresh: tokens.refresh,
            expires_in: tokens.expires_in,
            received_at_ms: now_ms,
            user_id: user.user_id,
            username: user.username,
            role: user.role,
            session_tag: user.session_tag,
        }
    }

    /// Cookie mode, a page just loaded: the server says who is signed in, but this tab has
    /// no access token yet, so a refresh is due at once.
    pub fn known_user(user: SessionUser) -> Self {
        Self {
            access: String::new(),
            refresh: String::new(),
            expires_in: 0,
            received_at_ms: 0.0,
            user_id: user.user_id,
            username: user.username,
            role: user.role,
            session_tag: user.session_tag,
        }
    }

    /// The same session after a rotation.
    pub fn renewed(self, pair: TokenPair, now_ms: f64) -> Self {
        Self {
            access: pair.access,
            refresh: pair.refresh,
            expires_in: pair.expires_in,
            received_at_ms: now_ms,
            ..self
        }
    }

    pub fn user(&self) -> CurrentUser {
        CurrentUser {
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            role: self.role,
            access_expires_at_ms: self.access_expires_at_ms(),
        }
    }

    pub fn access_expires_at_ms(&self) -> f64 {
        self.received_at_ms + self.expires_in as f64 * 1000.0
    }

    pub fn refresh_due_at_ms(&self) -> f64 {
        self.received_at_ms + self.expires_in as f64 * 1000.0 * REFRESH_AT_FRACTION
    }

    /// How long until the refresh timer should fire (0 when it is already due).
    pub fn refresh_delay_ms(&self, now_ms: f64) -> u32 {
        // Browsers fire longer timeouts than 2^31-1 ms at once; clamp rather than loop.
        (self.refresh_due_at_ms() - now_ms).clamp(0.0, f64::from(i32::MAX)) as u32
    }

    pub fn refresh_is_due(&self, now_ms: f64) -> bool {
        now_ms >= self.refresh_due_at_ms()
    }

    pub fn access_expired(&self, now_ms: f64) -> bool {
        now_ms >= self.access_expires_at_ms() - EXPIRY_MARGIN_MS
    }
}

/// The page to show after login: `next` if it is a path on this site, else the profile.
/// Anything else (`//evil.example`, `https://…`, `/\evil`) is an open redirect and ignored.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        // Browsers drop tabs and newlines from URLs, so `/\t/evil` would become `//evil`.
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.chars().any(|c| c == '\\' || c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/profile".to_owned(),
    }
}

/// The login page URL that brings the user back to `here` afterwards. Already on the login
/// page, it stays put: the session can end and the guard react to it in either order.
pub fn login_url(here: &str) -> String {
    if here.starts_with("/login") {
        here.to_owned()
    } else if here.is_empty() || here == "/" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", urlencoding::encode(here))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SessionUser;

    fn session(expires_in: u64, at: f64) -> StoredSession {
        StoredSession::new(
            SignIn {
                tokens: TokenPair { access: "a".into(), refresh: "r".into(), expires_in },
                user: SessionUser {
                    user_id: "u1".into(),
                    username: "user1".into(),
                    role: Default::default(),
                    session_tag: "t1".into(),
                },
            },
            at,
        )
    }

    #[test]
    fn default_token_refreshes_after_four_minutes() {
        let s = session(300, 1_000.0);
        assert_eq!(s.refresh_delay_ms(1_000.0), 240_000);
        assert!(!s.refresh_is_due(1_000.0 + 239_999.0));
        assert!(s.refresh_is_due(1_000.0 + 240_000.0));
    }

    #[test]
    fn five_second_token_refreshes_after_four_seconds() {
        assert_eq!(session(5, 0.0).refresh_delay_ms(0.0), 4_000);
    }

    #[test]
    fn timer_restarts_from_each_new_token() {
        let s = session(300, 0.0)
            .renewed(TokenPair { access: "a2".into(), refresh: "r2".into(), expires_in: 300 }, 240_000.0);
        assert_eq!(s.refresh_delay_ms(240_000.0), 240_000);
        assert_eq!((s.access.as_str(), s.refresh.as_str()), ("a2", "r2"));
        assert_eq!(s.username, "user1", "the user survives rotation");
    }

    #[test]
    fn overdue_refresh_has_zero_delay() {
        let s = session(300, 0.0);
        assert_eq!(s.refresh_delay_ms(10_000_000.0), 0);
        assert!(s.access_expired(300_000.0));
        assert!(s.access_expired(299_500.0), "a second of margin");
        assert!(!s.access_expired(200_000.0));
    }

    #[test]
    fn the_first_retry_stays_inside_the_grace_window_and_later_ones_back_off() {
        assert!(retry_delay_ms(0) < 10_000);
        assert!(retry_delay_ms(1) > retry_delay_ms(0));
        assert_eq!(retry_delay_ms(7), 15_000);
    }

    #[test]
    fn stored_json_lists_access_first() {
        let json = serde_json::to_string(&session(300, 0.0)).unwrap();
        assert!(json.starts_with(r#"{"access":"#), "{json}");
    }

    #[test]
    fn next_only_allows_local_paths() {
        assert_eq!(safe_next(Some("/profile?tab=1")), "/profile?tab=1");
        assert_eq!(safe_next(None), "/profile");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_next(Some(evil)), "/profile", "{evil}");
        }
    }

    #[test]
    fn login_url_remembers_where_the_user_was() {
        assert_eq!(login_url("/profile"), "/login?next=%2Fprofile");
        assert_eq!(login_url("/profile?x=1&y=2"), "/login?next=%2Fprofile%3Fx%3D1%26y%3D2");
        assert_eq!(login_url("/login?next=%2Fprofile"), "/login?next=%2Fprofile");
        assert_eq!(login_url("/"), "/login");
    }
}
