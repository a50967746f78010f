//! Abuse resistance: per-client-IP token buckets on the unauthenticated endpoints, and the
//! per-account policy for consecutive failed logins (NIST SP 800-63B §5.2.2).

use crate::api::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// Requests per minute per client IP (also the burst); 0 turns the limit off.
    pub login_per_minute: u32,
    pub register_per_minute: u32,
    pub refresh_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed. Empty: the socket's address is the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// The first lock after repeated failed logins, in seconds; each further failure doubles it.
    pub login_lock_base_secs: u64,
}

#[derive(Clone, Copy, Debug)]
pub enum Action {
    Login,
    Register,
    Refresh,
}

pub struct RateLimits {
    lock_base_secs: u64,
    login: Option<DefaultKeyedRateLimiter<IpAddr>>,
    register: Option<DefaultKeyedRateLimiter<IpAddr>>,
    refresh: Option<DefaultKeyedRateLimiter<IpAddr>>,
    trusted_proxies: Vec<IpAddr>,
}

impl RateLimits {
    pub fn new(settings: &LimitSettings) -> Self {
        let limiter = |per_minute: u32| {
            NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)))
        };
        Self {
            lock_base_secs: settings.login_lock_base_secs,
            login: limiter(settings.login_per_minute),
            register: limiter(settings.register_per_minute),
            refresh: limiter(settings.refresh_per_minute),
            trusted_proxies: settings.trusted_proxies.clone(),
        }
    }

    /// Takes one token from the client's bucket for `action`, or says how long to wait.
    pub fn check(&self, action: Action, client: Option<IpAddr>) -> Result<(), ApiError> {
        let limiter = match action {
            Action::Login => &self.login,
            Action::Register => &self.register,
            Action::Refresh => &self.refresh,
        };
        let (Some(limiter), Some(ip)) = (limiter, client) else {
            return Ok(());
        };
        // One bucket per IPv6 /64: a single host usually owns a whole /64.
        let ip = match ip {
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            v4 => v4,
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            tracing::warn!(security_event = "rate_limited", ?action, %ip, "too many requests from one client");
            ApiError::throttled(wait.as_secs() + 1)
        })
    }

    /// The lock after the `failures`-th consecutive failed password attempt, if any.
    pub fn lock_for(&self, failures: u32) -> Option<u64> {
        lock_after(failures, self.lock_base_secs)
    }

    /// Forgets buckets that have refilled, so memory doesn't grow with every client ever seen.
    pub fn shrink(&self) {
        for limiter in [&self.login, &self.register, &self.refresh].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// The client's address: the socket peer, unless that peer is a trusted proxy, in which
    /// case the nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let hops = forwarded_for.unwrap_or_default().split(',').rev();
        for hop in hops {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if self.trusted_proxies.contains(&ip) => continue,
                Ok(ip) => return Some(ip),
                Err(_) => break,
            }
        }
        Some(peer)
    }
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
    fn buckets_refuse_past_the_burst_per_client() {
        let limits = RateLimits::new(&LimitSettings {
            login_per_minute: 2,
            register_per_minute: 0,
            refresh_per_minute: 2,
            trusted_proxies: vec![],
            login_lock_base_secs: 1,
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limits.check(Action::Login, Some(a)).is_ok());
        assert!(limits.check(Action::Login, Some(a)).is_ok());
        let refused = limits.check(Action::Login, Some(a)).unwrap_err();
        assert_eq!(refused.status(), 429);
        assert!(refused.retry_after.is_some_and(|s| (1..=31).contains(&s)), "{refused:?}");
        assert!(limits.check(Action::Login, Some(b)).is_ok(), "another client has its own bucket");
        let (v6a, v6b): (IpAddr, IpAddr) =
            ("2001:db8::1".parse().unwrap(), "2001:db8::ffff:2".parse().unwrap());
        assert!(limits.check(Action::Login, Some(v6a)).is_ok());
        assert!(limits.check(Action::Login, Some(v6b)).is_ok());
        assert!(limits.check(Action::Login, Some(v6a)).is_err(), "one bucket per IPv6 /64");
        assert!(limits.check(Action::Refresh, Some(a)).is_ok(), "and each action its own");
        for _ in 0..100 {
            assert!(limits.check(Action::Register, Some(a)).is_ok(), "0 turns a limit off");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let limits = RateLimits::new(&LimitSettings {
            login_per_minute: 1,
            register_per_minute: 1,
            refresh_per_minute: 1,
            trusted_proxies: vec![proxy],
            login_lock_base_secs: 1,
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
}
