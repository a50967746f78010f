//! Is an access token's session still live? Every authenticated call asks.
//!
//! On SQLite (one machine) the answer comes from the database every time: a local read is
//! cheap, and the CLI's `disable-user` in another process is seen at once.
//!
//! On PostgreSQL a fleet of instances would otherwise hit the database on every call, so
//! each instance remembers the sessions it has seen live, and every revocation (logout,
//! reuse detection, sign out everywhere, password change, disabled user, key rotation) is
//! broadcast with `NOTIFY`. Each instance `LISTEN`s and forgets what was revoked, so a
//! logout on one instance is refused by the others within milliseconds, without polling.
//! Whenever the listening connection is down, the memory is bypassed and cleared: a missed
//! notification can never leave a revoked session accepted.

use super::store::Store;
use quick_cache::sync::Cache;
use sqlx::postgres::PgListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The PostgreSQL channel revocations are broadcast on.
const CHANNEL: &str = "leptos_auth_revocations";
/// However reliable the feed, nothing is believed from memory for longer than this.
const REMEMBER_FOR: Duration = Duration::from_secs(60);
const CAPACITY: usize = 100_000;

/// What was revoked, as broadcast between instances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// One session (logout, reuse detected, signed out by its user).
    Session(String),
    /// Every session of a user (sign out everywhere, password change, disabled).
    User(String),
    /// The signing keys changed: reload them.
    Keys,
}

impl Revocation {
    fn encode(&self) -> String {
        match self {
            Self::Session(sid) => format!("s:{sid}"),
            Self::User(user_id) => format!("u:{user_id}"),
            Self::Keys => "k".into(),
        }
    }

    fn decode(payload: &str) -> Option<Self> {
        match payload.split_once(':') {
            Some(("s", sid)) => Some(Self::Session(sid.to_owned())),
            Some(("u", user_id)) => Some(Self::User(user_id.to_owned())),
            _ if payload == "k" => Some(Self::Keys),
            _ => None,
        }
    }
}

pub struct Liveness {
    /// Session id -> (its user, when it was seen live).
    seen_live: Cache<String, (String, Instant)>,
    /// True only while this instance is listening for revocations.
    feed_up: AtomicBool,
    /// Bumped by every revocation, so a database answer that raced one isn't remembered.
    generation: AtomicU64,
    /// Whether revocations are broadcast at all (PostgreSQL).
    broadcast: bool,
}

impl Liveness {
    /// `broadcast`: revocations are told to other instances (PostgreSQL).
    pub fn new(broadcast: bool) -> Self {
        Self {
            seen_live: Cache::new(CAPACITY),
            feed_up: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            broadcast,
        }
    }

    /// Whether revocations from other instances are being followed right now (and so
    /// answers may come from memory).
    pub fn is_following(&self) -> bool {
        self.feed_up.load(Ordering::Acquire)
    }

    /// True when the session is live and its user enabled: from memory when the feed
    /// vouches for it, otherwise from the database.
    pub async fn is_live(&self, store: &Store, session_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
        let trusted = self.feed_up.load(Ordering::Acquire);
        if trusted
            && let Some((owner, seen)) = self.seen_live.get(session_id)
            && owner == user_id
            && seen.elapsed() < REMEMBER_FOR
        {
            return Ok(true);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let live = store.session_is_live(session_id, user_id).await?;
        if live && trusted {
            self.remember(session_id, user_id, generation, || {});
        }
        Ok(live)
    }

    /// Remembers a session the database said was live when `generation` was current, unless
    /// a revocation has been handled since. Insert first, then re-check: a revocation
    /// handled at any moment after the database answered either sees the entry (and
    /// removes it) or has moved the generation on (and this removes it). Checking first
    /// and inserting after would let one slip in between and leave a revoked session
    /// accepted for up to a minute. `between` is for the test of exactly that moment.
    fn remember(&self, session_id: &str, user_id: &str, generation: u64, between: impl FnOnce()) {
        self.seen_live.insert(session_id.to_owned(), (user_id.to_owned(), Instant::now()));
        between();
        if self.generation.load(Ordering::Acquire) != generation {
            self.seen_live.remove(session_id);
        }
    }

    /// Forgets what was revoked, here; and tells the other instances.
    pub async fn revoked(&self, store: &Store, what: Revocation) {
        self.forget(&what);
        if !self.broadcast {
            return;
        }
        if let Err(e) = store.notify(CHANNEL, &what.encode()).await {
            // Other instances' memory expires within REMEMBER_FOR; log loudly meanwhile.
            tracing::error!(error = %e, "could not broadcast a revocation to other instances");
        }
    }

    fn forget(&self, what: &Revocation) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match what {
            Revocation::Session(sid) => {
                self.seen_live.remove(sid.as_str());
            }
            Revocation::User(user_id) => self.seen_live.retain(|_, (owner, _)| owner != user_id),
            Revocation::Keys => {}
        }
    }

    fn feed_down(&self) {
        self.feed_up.store(false, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.seen_live.clear();
    }

    /// Listens for other instances' revocations until the process ends, reconnecting after
    /// any failure. `on_keys` runs when the signing keys changed.
    pub async fn follow<F, Fut>(&self, store: &Store, on_keys: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()>,
    {
        if !self.broadcast {
            return;
        }
        let url = store.reader().connect_options().database_url.to_string();
        let mut backoff = Duration::from_millis(250);
        loop {
            match self.listen(&url, &on_keys).await {
                Ok(()) => backoff = Duration::from_millis(250),
                Err(e) => {
                    tracing::warn!(error = %e, "revocation feed lost; checking the database on every call")
                }
            }
            self.feed_down();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// One connection's worth of listening. Returns when the connection is lost.
    async fn listen<F, Fut>(&self, url: &str, on_keys: &F) -> Result<(), sqlx::Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        // Keys may have changed while nobody listened.
        on_keys().await;
        self.seen_live.clear();
        self.feed_up.store(true, Ordering::Release);
        tracing::info!("following revocations from other instances");
        // `try_recv` answers None when the connection dropped: whatever was sent meanwhile
        // is lost, so stop trusting memory until listening again.
        while let Some(notification) = listener.try_recv().await? {
            match Revocation::decode(notification.payload()) {
                Some(Revocation::Keys) => on_keys().await,
                Some(what) => self.forget(&what),
                None => tracing::warn!(payload = notification.payload(), "unknown revocation message"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered(liveness: &Liveness, sid: &str) -> bool {
        liveness.seen_live.get(sid).is_some()
    }

    /// The database said "live", then a revocation is handled before, while or after the
    /// answer is remembered: in every order, the session is not remembered as live.
    #[test]
    fn a_revocation_handled_around_a_database_answer_always_wins() {
        let revoke = |l: &Liveness| l.forget(&Revocation::Session("s1".into()));
        let liveness = Liveness::new(true);
        let generation = liveness.generation.load(Ordering::Acquire);
        revoke(&liveness);
        liveness.remember("s1", "u1", generation, || {});
        assert!(!remembered(&liveness, "s1"), "revoked before it was remembered");

        let liveness = Liveness::new(true);
        let generation = liveness.generation.load(Ordering::Acquire);
        liveness.remember("s1", "u1", generation, || revoke(&liveness));
        assert!(!remembered(&liveness, "s1"), "revoked while it was being remembered");

        let liveness = Liveness::new(true);
        let generation = liveness.generation.load(Ordering::Acquire);
        liveness.remember("s1", "u1", generation, || {});
        assert!(remembered(&liveness, "s1"), "no revocation: remembered");
        revoke(&liveness);
        assert!(!remembered(&liveness, "s1"), "revoked after it was remembered");
    }

    #[test]
    fn messages_round_trip_and_garbage_is_ignored() {
        for what in [Revocation::Session("abc".into()), Revocation::User("u1".into()), Revocation::Keys] {
            assert_eq!(Revocation::decode(&what.encode()), Some(what));
        }
        assert_eq!(Revocation::decode("x:1"), None);
        assert_eq!(Revocation::decode(""), None);
    }
}
