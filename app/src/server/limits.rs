//! Abuse resistance: per-client-IP rate limits on the unauthenticated endpoints, and the
//! per-account policy for consecutive failed logins (NIST SP 800-63B §5.2.2).
//!
//! Both live in the database, not in process memory, so every instance of a fleet on one
//! database enforces one shared budget per client and one lock per username.

use super::store::Store;
use crate::api::ApiError;
use std::net::IpAddr;

#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// Requests per minute per client IP (also the burst); 0 turns the limit off.
    pub login_per_minute: u32,
    pub register_per_minute: u32,
    pub refresh_per_minute: u32,
    /// Requests that send mail, per minute per client IP.
    pub mail_per_minute: u32,
    /// Passkey sign-in requests (beginning one, finishing one), per minute per client IP.
    pub passkey_per_minute: u32,
    /// Mails of links an address can be sent per hour, whoever asks (also the burst).
    pub mail_per_address_per_hour: u32,
    /// Proxies whose `X-Forwarded-For` is believed. Empty: the socket's address is the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// The first lock after repeated failed logins, in seconds; each further failure doubles it.
    pub login_lock_base_secs: u64,
    /// At most this many usernames' failure counts are kept (failures are counted for
    /// names that don't exist too, so anyone can add rows); pruning drops the oldest,
    /// unlocked ones first.
    pub throttle_max_rows: u64,
}

#[derive(Clone, Copy, Debug)]
pub enum Action {
    Login,
    Register,
    Refresh,
    /// A request that sends a mail.
    Mail,
    /// Beginning or finishing a passkey sign-in.
    Passkey,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::Refresh => "refresh",
            Self::Mail => "mail",
            Self::Passkey => "passkey",
        }
    }
}

pub struct RateLimits {
    settings: LimitSettings,
}

impl RateLimits {
    pub fn new(settings: &LimitSettings) -> Self {
        Self { settings: settings.clone() }
    }

    /// Takes one request from the client's bucket for `action`, or says how long to wait.
    /// A bucket holds `per_minute` requests and refills at `per_minute` a minute (GCRA).
    pub async fn check(&self, store: &Store, action: Action, client: Option<IpAddr>) -> Result<(), ApiError> {
        let per_minute = match action {
            Action::Login => self.settings.login_per_minute,
            Action::Register => self.settings.register_per_minute,
            Action::Refresh => self.settings.refresh_per_minute,
            Action::Mail => self.settings.mail_per_minute,
            Action::Passkey => self.settings.passkey_per_minute,
        };
        let Some(ip) = client.filter(|_| per_minute > 0) else {
            return Ok(());
        };
        let interval_ms = (60_000 / i64::from(per_minute)).max(1);
        let bucket = bucket_key(action, ip);
        match store.take_rate_token(&bucket, now_ms(), interval_ms, i64::from(per_minute)).await? {
            None => Ok(()),
            Some(wait_ms) => {
                tracing::warn!(security_event = "rate_limited", ?action, %ip, "too many requests from one client");
                metrics::counter!("auth_rate_limited_total", "action" => action.as_str()).increment(1);
                Err(ApiError::throttled(u64::try_from(wait_ms).unwrap_or(0) / 1000 + 1))
            }
        }
    }

    /// Takes one mail from the address's hourly budget (`email_key`, whether or not an
    /// account has it, so the answer reveals nothing), or says how long to wait.
    pub async fn check_address(&self, store: &Store, email_key: &str) -> Result<(), ApiError> {
        let per_hour = self.settings.mail_per_address_per_hour;
        if per_hour == 0 {
            return Ok(());
        }
        let interval_ms = (3_600_000 / i64::from(per_hour)).max(1);
        let bucket = format!("mail-to:{email_key}");
        match store.take_rate_token(&bucket, now_ms(), interval_ms, i64::from(per_hour)).await? {
            None => Ok(()),
            Some(wait_ms) => {
                tracing::warn!(
                    security_event = "rate_limited",
                    action = "mail",
                    "too many mails to one address"
                );
                metrics::counter!("auth_rate_limited_total", "action" => "mail_address").increment(1);
                Err(ApiError::throttled(u64::try_from(wait_ms).unwrap_or(0) / 1000 + 1))
            }
        }
    }

    pub fn throttle_max_rows(&self) -> u64 {
        self.settings.throttle_max_rows
    }

    /// The lock after the `failures`-th consecutive failed password attempt, if any.
    pub fn lock_for(&self, failures: u32) -> Option<u64> {
        lock_after(failures, self.settings.login_lock_base_secs)
    }

    /// The client's address: the socket peer, unless that peer is a trusted proxy, in which
    /// case the nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
    ///
    /// Every address is canonicalised first: on a dual-stack listener an IPv4 client arrives
    /// as `::ffff:a.b.c.d`, which would otherwise share one IPv6 /64 bucket with every other
    /// IPv4 client, and never match a trusted proxy written as IPv4.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        let trusted = |ip: &IpAddr| self.settings.trusted_proxies.iter().any(|t| t.to_canonical() == *ip);
        if !trusted(&peer) {
            return Some(peer);
        }
        let hops = forwarded_for.unwrap_or_default().split(',').rev();
        for hop in hops {
            match hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) {
                Ok(ip) if trusted(&ip) => continue,
                Ok(ip) => return Some(ip),
                Err(_) => break,
            }
        }
        Some(peer)
    }
}

/// The bucket a client's requests for `action` count against: one per IPv4 address, one
/// per IPv6 /64 (a single host usually owns a whole /64).
fn bucket_key(action: Action, ip: IpAddr) -> String {
    let network = match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    };
    format!("{}:{network}", action.as_str())
}

/// Unix milliseconds: buckets refill faster than once a second.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Consecutive failures allowed before the account starts to be locked.
pub const FREE_FAILURES: u32 = 5;
/// The longest lock between attempts.
pub const MAX_LOCK_SECS: u64 = 15 * 60;
/// NIST SP 800-63B: no more than 100 consecutive failures. After that the account stays
/// locked until an administrator runs `enable-user` (a signed-in user's successful password
/// change also clears it).
pub const MAX_CONSECUTIVE_FAILURES: u32 = 100;

/// How long the account is locked after its `failures`-th consecutive failure: nothing for
/// the first few, then `base`, 2×`base`, 4×`base` seconds, … up to 15 minutes; indefinitely
/// at 100.
pub fn lock_after(failures: u32, base_secs: u64) -> Option<u64> {
    if failures >= MAX_CONSECUTIVE_FAILURES {
        return Some(u64::MAX);
    }
    let over = failures.checked_sub(FREE_FAILURES - 1).filter(|n| *n > 0)?;
    Some(base_secs.saturating_mul(2u64.saturating_pow(over - 1)).min(MAX_LOCK_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_and_are_capped() {
        let lock = |n| lock_after(n, 1);
        assert_eq!((1..FREE_FAILURES).map(lock).collect::<Vec<_>>(), vec![None; 4]);
        assert_eq!(lock(5), Some(1));
        assert_eq!(lock(6), Some(2));
        assert_eq!(lock(7), Some(4));
        assert_eq!(lock(30), Some(MAX_LOCK_SECS));
        assert_eq!(lock(99), Some(MAX_LOCK_SECS));
        assert_eq!(lock(100), Some(u64::MAX));
        assert_eq!(lock_after(6, 5), Some(10));
    }

    #[test]
    fn one_bucket_per_action_and_ipv4_address_or_ipv6_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(bucket_key(Action::Login, ip("10.0.0.1")), "login:10.0.0.1");
        assert_ne!(bucket_key(Action::Login, ip("10.0.0.1")), bucket_key(Action::Login, ip("10.0.0.2")));
        assert_ne!(bucket_key(Action::Login, ip("10.0.0.1")), bucket_key(Action::Refresh, ip("10.0.0.1")));
        assert_eq!(
            bucket_key(Action::Login, ip("2001:db8::1")),
            bucket_key(Action::Login, ip("2001:db8::ffff:2")),
            "one bucket per IPv6 /64"
        );
        assert_ne!(
            bucket_key(Action::Login, ip("2001:db8::1")),
            bucket_key(Action::Login, ip("2001:db8:0:1::1"))
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let limits = RateLimits::new(&LimitSettings {
            login_per_minute: 1,
            register_per_minute: 1,
            mail_per_minute: 0,
            passkey_per_minute: 0,
            mail_per_address_per_hour: 0,
            refresh_per_minute: 1,
            trusted_proxies: vec![proxy],
            login_lock_base_secs: 1,
            throttle_max_rows: 10,
        });
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            limits.client_ip(Some(stranger), Some("1.2.3.4")),
            Some(stranger),
            "spoofed header ignored"
        );
        assert_eq!(limits.client_ip(Some(proxy), Some("1.2.3.4, 203.0.113.7")), Some(client));
        assert_eq!(limits.client_ip(Some(proxy), Some("203.0.113.7, 10.0.0.9")), Some(client));
        assert_eq!(limits.client_ip(Some(proxy), None), Some(proxy));
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_count_as_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let limits = RateLimits::new(&LimitSettings {
            login_per_minute: 1,
            register_per_minute: 1,
            mail_per_minute: 0,
            passkey_per_minute: 0,
            mail_per_address_per_hour: 0,
            refresh_per_minute: 1,
            trusted_proxies: vec![ip("10.0.0.9")],
            login_lock_base_secs: 1,
            throttle_max_rows: 10,
        });
        let (a, b) = (ip("::ffff:203.0.113.7"), ip("::ffff:198.51.100.1"));
        assert_eq!(limits.client_ip(Some(a), None), Some(ip("203.0.113.7")));
        let bucket = |peer| bucket_key(Action::Refresh, limits.client_ip(Some(peer), None).unwrap());
        assert_ne!(bucket(a), bucket(b), "two IPv4 clients share no bucket");
        // A proxy written as IPv4 is trusted when it connects over the dual-stack socket, and
        // the hops it forwards are canonicalised too.
        let proxy = ip("::ffff:10.0.0.9");
        assert_eq!(limits.client_ip(Some(proxy), Some("203.0.113.7")), Some(ip("203.0.113.7")));
        assert_eq!(
            limits.client_ip(Some(proxy), Some("::ffff:203.0.113.7, ::ffff:10.0.0.9")),
            Some(ip("203.0.113.7"))
        );
    }
}
