//! The decisions of the browser's session, as a state machine with no browser in it: every
//! event (page load, login, a message from another tab, a timer, the tab becoming visible,
//! a refresh's answer) goes in, and the commands the browser must carry out come back
//! (store, clear, arm the timer, start a refresh, go to the login page). `mod.rs` owns the
//! browser side; this file is unit-tested natively.

use super::session::{StoredSession, retry_delay_ms};
use crate::api::{ApiError, ErrorCode, TokenPair};

/// What the browser must do after an event, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Store the session and tell the other tabs.
    Persist(StoredSession),
    /// Remove the session from storage and tell the other tabs.
    Erase,
    /// (Re)arm the one refresh timer to fire after this many milliseconds.
    Schedule(u32),
    /// Disarm the refresh timer.
    Cancel,
    /// Start refresh number `n` (the single flight; its answer comes back with the same `n`).
    Refresh(u64),
    /// The server refused the session: show the login page, coming back here afterwards.
    ToLogin,
    /// End this session on the server (best effort): a renewal that arrived after the
    /// browser had signed out. Empty in cookie mode: the server takes the cookie's token.
    Revoke(String),
}

/// A line the UI shows about the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Refreshing failed without a refusal (offline, 5xx); it is retried, nobody is signed out.
    Offline,
    /// The server answered 429; it is retried after `Retry-After` seconds.
    Throttled { retry_after_secs: u64 },
    /// The server refused the session (revoked, replayed, expired).
    SessionEnded,
    /// Another tab of this browser signed out.
    SignedOutElsewhere,
}

impl Notice {
    pub fn text(self) -> String {
        match self {
            Self::Offline => "You seem to be offline. Retrying…".to_owned(),
            Self::Throttled { retry_after_secs } => {
                format!("Too many attempts. Trying again in {retry_after_secs} s.")
            }
            Self::SessionEnded => "Your session has ended. Please log in again.".to_owned(),
            Self::SignedOutElsewhere => "You logged out in another tab.".to_owned(),
        }
    }

    /// Notices about a live session, shown in a banner; the others belong on the login page.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Offline | Self::Throttled { .. })
    }
}

/// How a refresh request ended, as far as the session is concerned.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Renewed(TokenPair),
    /// 401: the only answer that may end a session.
    Refused,
    /// Network error or 5xx: retry with the same token (the server's grace window accepts it
    /// if the lost answer had rotated it).
    Unavailable,
    Throttled {
        retry_after_secs: u64,
    },
}

impl Outcome {
    pub fn of(result: Result<TokenPair, ApiError>) -> Self {
        match result {
            Ok(pair) => Self::Renewed(pair),
            Err(e) if e.is_auth_failure() => Self::Refused,
            Err(ApiError { code: ErrorCode::Throttled, retry_after, .. }) => {
                Self::Throttled { retry_after_secs: retry_after.unwrap_or(5).max(1) }
            }
            Err(_) => Self::Unavailable,
        }
    }
}

/// What to do once this tab holds the refresh lock.
#[derive(Clone, Debug, PartialEq)]
pub enum BeforeSend {
    /// Send this refresh token.
    Send(String),
    /// Another tab rotated meanwhile: nothing to send (the commands adopt its session).
    Skip(Vec<Command>),
}

#[derive(Debug, Default)]
pub struct Machine {
    /// `false` until the browser has read its storage (and always during SSR).
    known: bool,
    session: Option<StoredSession>,
    /// The refresh in flight, if any: at most one per tab (and the lock makes it one per
    /// browser).
    flight: Option<u64>,
    /// The flight was asked for although the token was not due (a call was refused).
    forced: bool,
    /// The access token of the session whose refresh token the flight sent.
    sent_access: Option<String>,
    flights: u64,
    failures: u32,
    /// While backing off after a failure, no wake-up but a forced one starts a refresh.
    retry_at_ms: Option<f64>,
    notice: Option<Notice>,
}

impl Machine {
    pub fn known(&self) -> bool {
        self.known
    }

    pub fn session(&self) -> Option<&StoredSession> {
        self.session.as_ref()
    }

    pub fn notice(&self) -> Option<Notice> {
        self.notice
    }

    #[cfg(test)]
    fn refreshing(&self) -> Option<u64> {
        self.flight
    }

    /// The page loaded and storage holds `stored`.
    pub fn restore(&mut self, stored: Option<StoredSession>, now_ms: f64) -> Vec<Command> {
        self.known = true;
        self.session = stored;
        self.wake(now_ms, false)
    }

    /// This tab logged in.
    pub fn signed_in(&mut self, session: StoredSession, now_ms: f64) -> Vec<Command> {
        self.known = true;
        self.reset();
        // A refresh in flight belongs to the old session; its answer will be ignored.
        self.flight = None;
        self.session = Some(session.clone());
        vec![Command::Persist(session.clone()), Command::Schedule(session.refresh_delay_ms(now_ms))]
    }

    /// This tab logged out.
    pub fn signed_out(&mut self) -> Vec<Command> {
        self.reset();
        self.flight = None;
        self.session = None;
        vec![Command::Erase, Command::Cancel]
    }

    /// Another tab stored `stored` (a login or a rotation) or cleared it (`None`, a logout).
    pub fn elsewhere(&mut self, stored: Option<StoredSession>, now_ms: f64) -> Vec<Command> {
        if !self.known || stored == self.session {
            return vec![];
        }
        if let (Some(theirs), Some(ours)) = (&stored, &self.session)
            && theirs.user_id == ours.user_id
            && (theirs.access.is_empty() || theirs.received_at_ms < ours.received_at_ms)
        {
            // Older news of this very session (or a tab that has no token yet): keep ours.
            return vec![];
        }
        match stored {
            Some(session) => self.adopt(session, now_ms),
            None => {
                self.reset();
                self.flight = None;
                self.session = None;
                self.notice = Some(Notice::SignedOutElsewhere);
                vec![Command::Cancel]
            }
        }
    }

    /// Something happened that may mean the token is due: the timer fired, the tab became
    /// visible or got focus, or an authenticated call is about to be made. `force` (back
    /// online, or a call that needs a token now) skips the back-off.
    pub fn wake(&mut self, now_ms: f64, force: bool) -> Vec<Command> {
        let Some(session) = &self.session else { return vec![] };
        if self.flight.is_some() {
            return vec![];
        }
        if !session.refresh_is_due(now_ms) {
            return vec![Command::Schedule(session.refresh_delay_ms(now_ms))];
        }
        if !force && let Some(at) = self.retry_at_ms.filter(|at| now_ms < *at) {
            // Backing off; a timer that fired a little early is re-armed for the rest.
            return vec![Command::Schedule((at - now_ms).ceil() as u32)];
        }
        self.start()
    }

    /// A call was refused with 401 although the access token looked fresh: refresh now,
    /// whatever the clock says (unless a refresh is already running).
    pub fn refresh_now(&mut self) -> Vec<Command> {
        if self.session.is_none() || self.flight.is_some() {
            return vec![];
        }
        let commands = self.start();
        self.forced = true;
        commands
    }

    fn start(&mut self) -> Vec<Command> {
        self.flights += 1;
        self.flight = Some(self.flights);
        self.forced = false;
        self.sent_access = None;
        vec![Command::Refresh(self.flights)]
    }

    /// Flight `n` holds the refresh lock, and `stored` is the browser's newest session (what
    /// storage holds, or in cookie mode what the other tabs said): send its refresh token, or
    /// adopt what another tab renewed while we waited.
    pub fn before_send(&mut self, n: u64, stored: Option<StoredSession>, now_ms: f64) -> BeforeSend {
        if self.flight != Some(n) {
            return BeforeSend::Skip(vec![]);
        }
        let Some(ours) = self.session.clone() else {
            self.flight = None;
            return BeforeSend::Skip(vec![]);
        };
        match stored {
            Some(theirs) if theirs.access != ours.access && !theirs.refresh_is_due(now_ms) => {
                self.flight = None;
                BeforeSend::Skip(self.adopt(theirs, now_ms))
            }
            // Renewed already (in cookie mode the news came from another tab while we waited).
            Some(theirs) if !self.forced && !theirs.refresh_is_due(now_ms) => {
                self.flight = None;
                BeforeSend::Skip(vec![Command::Schedule(theirs.refresh_delay_ms(now_ms))])
            }
            // Storage is the truth for the whole browser: a newer token that is also due is
            // the one to send.
            Some(theirs) => {
                let token = theirs.refresh.clone();
                self.sent_access = Some(theirs.access.clone());
                self.session = Some(theirs);
                BeforeSend::Send(token)
            }
            None => {
                self.flight = None;
                BeforeSend::Skip(self.elsewhere(None, now_ms))
            }
        }
    }

    /// Flight `n` ended with `outcome`; storage now holds `stored` (cookie mode: `None`, the
    /// cookie always holds the newest token, so a refusal is final).
    pub fn refreshed(
        &mut self,
        n: u64,
        outcome: Outcome,
        stored: Option<StoredSession>,
        now_ms: f64,
    ) -> Vec<Command> {
        if self.flight != Some(n) {
            // Logged out or in again meanwhile: this answer belongs to a session that is gone.
            return vec![];
        }
        self.flight = None;
        let sent_access = self.sent_access.take();
        let Some(ours) = self.session.clone() else { return vec![] };
        match outcome {
            Outcome::Renewed(pair) => match stored {
                // Another tab logged out while the answer was on its way: storing the
                // renewal would sign every tab back in. Stay out, and end what it renewed.
                None => {
                    self.reset();
                    self.session = None;
                    self.notice = Some(Notice::SignedOutElsewhere);
                    vec![Command::Cancel, Command::Revoke(pair.refresh)]
                }
                // Another tab logged in meanwhile (as someone else, or anew): theirs wins.
                Some(theirs)
                    if Some(&theirs.access) != sent_access.as_ref() && theirs.access != pair.access =>
                {
                    self.adopt(theirs, now_ms)
                }
                _ => {
                    self.reset();
                    let renewed = ours.renewed(pair, now_ms);
                    self.session = Some(renewed.clone());
                    vec![
                        Command::Persist(renewed.clone()),
                        Command::Schedule(renewed.refresh_delay_ms(now_ms)),
                    ]
                }
            },
            Outcome::Refused => match stored {
                // Another tab (without the lock: an old browser) rotated the same token first.
                Some(newer) if Some(&newer.access) != sent_access.as_ref() => self.adopt(newer, now_ms),
                _ => {
                    self.reset();
                    self.session = None;
                    self.notice = Some(Notice::SessionEnded);
                    vec![Command::Erase, Command::Cancel, Command::ToLogin]
                }
            },
            Outcome::Unavailable => {
                let delay = retry_delay_ms(self.failures);
                self.failures += 1;
                self.notice = Some(Notice::Offline);
                self.retry_at_ms = Some(now_ms + f64::from(delay));
                vec![Command::Schedule(delay)]
            }
            Outcome::Throttled { retry_after_secs } => {
                let delay = u32::try_from(retry_after_secs.saturating_mul(1000)).unwrap_or(u32::MAX);
                self.notice = Some(Notice::Throttled { retry_after_secs });
                self.retry_at_ms = Some(now_ms + f64::from(delay));
                vec![Command::Schedule(delay)]
            }
        }
    }

    fn adopt(&mut self, session: StoredSession, now_ms: f64) -> Vec<Command> {
        self.reset();
        self.session = Some(session.clone());
        vec![Command::Schedule(session.refresh_delay_ms(now_ms))]
    }

    fn reset(&mut self) {
        self.failures = 0;
        self.retry_at_ms = None;
        self.notice = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{SessionUser, SignIn};

    const MIN: f64 = 60_000.0;

    fn session(refresh: &str, at: f64) -> StoredSession {
        StoredSession::new(
            SignIn {
                tokens: TokenPair {
                    access: format!("a-{refresh}"),
                    refresh: refresh.into(),
                    expires_in: 300,
                },
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

    fn pair(refresh: &str) -> TokenPair {
        TokenPair { access: format!("a-{refresh}"), refresh: refresh.into(), expires_in: 300 }
    }

    fn signed_in_at(t: f64) -> Machine {
        let mut m = Machine::default();
        m.restore(None, t);
        m.signed_in(session("r1", t), t);
        m
    }

    #[test]
    fn login_stores_the_pair_and_arms_the_timer_for_four_minutes() {
        let mut m = Machine::default();
        assert!(!m.known());
        assert_eq!(m.restore(None, 0.0), vec![]);
        assert!(m.known() && m.session().is_none());
        assert_eq!(
            m.signed_in(session("r1", 0.0), 0.0),
            vec![Command::Persist(session("r1", 0.0)), Command::Schedule(240_000)]
        );
    }

    #[test]
    fn a_page_load_refreshes_at_once_only_when_due() {
        let mut m = Machine::default();
        assert_eq!(m.restore(Some(session("r1", 0.0)), MIN), vec![Command::Schedule(180_000)]);
        let mut m = Machine::default();
        assert_eq!(m.restore(Some(session("r1", 0.0)), 5.0 * MIN), vec![Command::Refresh(1)]);
    }

    #[test]
    fn one_refresh_at_a_time_however_many_wake_ups() {
        let mut m = signed_in_at(0.0);
        assert_eq!(m.wake(4.0 * MIN, false), vec![Command::Refresh(1)]);
        for force in [false, true] {
            assert_eq!(m.wake(4.0 * MIN + 1.0, force), vec![], "single flight");
        }
        assert_eq!(m.refreshing(), Some(1));
    }

    #[test]
    fn a_wake_up_before_the_due_time_only_rearms_the_timer() {
        let mut m = signed_in_at(0.0);
        assert_eq!(m.wake(MIN, false), vec![Command::Schedule(180_000)]);
    }

    #[test]
    fn a_tab_that_slept_past_expiry_refreshes_on_its_first_wake_up() {
        let mut m = signed_in_at(0.0);
        // The timer never fired (throttled); the tab becomes visible an hour later.
        assert_eq!(m.wake(60.0 * MIN, false), vec![Command::Refresh(1)]);
    }

    #[test]
    fn a_renewal_stores_the_new_pair_and_restarts_the_timer_from_it() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        let stored = Some(session("r1", 0.0));
        assert_eq!(m.before_send(1, stored.clone(), 4.0 * MIN), BeforeSend::Send("r1".into()));
        let cmds = m.refreshed(1, Outcome::Renewed(pair("r2")), stored, 4.0 * MIN);
        let renewed = session("r2", 4.0 * MIN);
        assert_eq!(cmds, vec![Command::Persist(renewed.clone()), Command::Schedule(240_000)]);
        assert_eq!(m.session(), Some(&renewed));
        assert_eq!(m.refreshing(), None);
    }

    #[test]
    fn a_tab_that_gets_the_lock_after_another_rotated_adopts_instead_of_sending() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        let theirs = session("r2", 4.0 * MIN);
        assert_eq!(
            m.before_send(1, Some(theirs.clone()), 4.0 * MIN + 50.0),
            BeforeSend::Skip(vec![Command::Schedule(239_950)])
        );
        assert_eq!(m.session(), Some(&theirs));
        assert_eq!(m.refreshing(), None);
    }

    #[test]
    fn a_refused_token_adopts_a_newer_stored_one_before_giving_up() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        m.before_send(1, Some(session("r1", 0.0)), 4.0 * MIN);
        let theirs = session("r2", 4.0 * MIN);
        let cmds = m.refreshed(1, Outcome::Refused, Some(theirs.clone()), 4.0 * MIN);
        assert_eq!(cmds, vec![Command::Schedule(240_000)]);
        assert_eq!(m.session(), Some(&theirs));
        assert_eq!(m.notice(), None);
    }

    #[test]
    fn only_a_refusal_ends_the_session_and_it_says_so() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        assert_eq!(m.before_send(1, Some(session("r1", 0.0)), 4.0 * MIN), BeforeSend::Send("r1".into()));
        let cmds = m.refreshed(1, Outcome::Refused, Some(session("r1", 0.0)), 4.0 * MIN);
        assert_eq!(cmds, vec![Command::Erase, Command::Cancel, Command::ToLogin]);
        assert_eq!(m.session(), None);
        assert_eq!(m.notice(), Some(Notice::SessionEnded));
    }

    #[test]
    fn network_errors_back_off_keep_the_session_and_an_online_event_retries_at_once() {
        let mut m = signed_in_at(0.0);
        let mut now = 4.0 * MIN;
        let mut delays = vec![];
        for n in 1..=4 {
            assert_eq!(m.wake(now, false), vec![Command::Refresh(n)]);
            let cmds = m.refreshed(n, Outcome::Unavailable, Some(session("r1", 0.0)), now);
            let [Command::Schedule(delay)] = cmds[..] else { panic!("{cmds:?}") };
            delays.push(delay);
            assert_eq!(m.notice(), Some(Notice::Offline));
            assert!(m.session().is_some(), "never signed out");
            // Focus during the back-off does not hammer the server…
            assert_eq!(m.wake(now + 100.0, false), vec![Command::Schedule(delay - 100)]);
            now += f64::from(delay);
        }
        assert_eq!(delays, vec![2_000, 5_000, 15_000, 15_000]);
        // …but coming back online retries at once.
        assert_eq!(m.wake(now - 1_000.0, true), vec![Command::Refresh(5)]);
        m.refreshed(5, Outcome::Renewed(pair("r2")), Some(session("r1", 0.0)), now);
        assert_eq!(m.notice(), None, "the notice goes once a refresh succeeds");
    }

    #[test]
    fn too_many_requests_waits_as_long_as_the_server_says() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        let cmds = m.refreshed(1, Outcome::Throttled { retry_after_secs: 42 }, None, 4.0 * MIN);
        assert_eq!(cmds, vec![Command::Schedule(42_000)]);
        assert_eq!(m.notice().unwrap().text(), "Too many attempts. Trying again in 42 s.");
        assert_eq!(
            m.wake(4.0 * MIN + 41_000.0, false),
            vec![Command::Schedule(1_000)],
            "early timer re-armed"
        );
        assert_eq!(m.wake(4.0 * MIN + 42_000.0, false), vec![Command::Refresh(2)]);
    }

    #[test]
    fn an_answer_for_a_session_that_ended_meanwhile_is_ignored() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        m.signed_out();
        assert_eq!(m.refreshed(1, Outcome::Renewed(pair("r2")), None, 4.0 * MIN), vec![]);
        assert_eq!(m.session(), None);

        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        m.signed_in(session("other", 4.0 * MIN), 4.0 * MIN);
        assert_eq!(m.refreshed(1, Outcome::Refused, None, 4.0 * MIN), vec![]);
        assert_eq!(m.session().unwrap().refresh, "other", "a new login survives the old answer");
    }

    #[test]
    fn other_tabs_rotations_are_adopted_and_their_logout_signs_this_tab_out() {
        let mut m = signed_in_at(0.0);
        assert_eq!(m.elsewhere(Some(session("r1", 0.0)), MIN), vec![], "our own news");
        let theirs = session("r2", MIN);
        assert_eq!(m.elsewhere(Some(theirs.clone()), MIN), vec![Command::Schedule(240_000)]);
        assert_eq!(m.session(), Some(&theirs));
        assert_eq!(m.elsewhere(None, 2.0 * MIN), vec![Command::Cancel]);
        assert_eq!(m.session(), None);
        assert_eq!(m.notice(), Some(Notice::SignedOutElsewhere));
        // A login elsewhere signs this tab in.
        assert_eq!(m.elsewhere(Some(session("r3", 3.0 * MIN)), 3.0 * MIN), vec![Command::Schedule(240_000)]);
        assert_eq!(m.notice(), None);
    }

    #[test]
    fn a_renewal_that_arrives_after_a_logout_elsewhere_is_not_stored_but_revoked() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        m.before_send(1, Some(session("r1", 0.0)), 4.0 * MIN);
        // Storage was cleared by the other tab's logout before its message arrived here.
        let cmds = m.refreshed(1, Outcome::Renewed(pair("r2")), None, 4.0 * MIN);
        assert_eq!(cmds, vec![Command::Cancel, Command::Revoke("r2".into())]);
        assert_eq!(m.session(), None);
        assert_eq!(m.notice(), Some(Notice::SignedOutElsewhere));
    }

    #[test]
    fn a_renewal_that_arrives_after_a_new_login_elsewhere_yields_to_it() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        m.before_send(1, Some(session("r1", 0.0)), 4.0 * MIN);
        let newer = session("user2-login", 4.0 * MIN);
        let cmds = m.refreshed(1, Outcome::Renewed(pair("r2")), Some(newer.clone()), 4.0 * MIN);
        assert_eq!(cmds, vec![Command::Schedule(240_000)]);
        assert_eq!(m.session(), Some(&newer));
    }

    #[test]
    fn older_news_of_the_same_session_is_ignored() {
        let mut m = signed_in_at(MIN);
        assert_eq!(m.elsewhere(Some(session("r0", 0.0)), MIN), vec![], "older");
        let placeholder = StoredSession { access: String::new(), ..session("", 2.0 * MIN) };
        assert_eq!(m.elsewhere(Some(placeholder), 2.0 * MIN), vec![], "no token yet");
        assert_eq!(m.session().unwrap().refresh, "r1");
    }

    #[test]
    fn a_call_refused_with_a_fresh_token_forces_a_refresh_that_is_not_due() {
        let mut m = signed_in_at(0.0);
        assert_eq!(m.refresh_now(), vec![Command::Refresh(1)]);
        assert_eq!(m.refresh_now(), vec![], "single flight");
        let stored = Some(session("r1", 0.0));
        assert_eq!(m.before_send(1, stored, MIN), BeforeSend::Send("r1".into()));
    }

    #[test]
    fn cookie_mode_a_new_tab_adopts_another_tabs_session_instead_of_rotating() {
        // Cookie mode: the page knows the user from the server, but has no access token yet.
        let mut m = Machine::default();
        let placeholder = StoredSession {
            access: String::new(),
            refresh: String::new(),
            expires_in: 0,
            ..session("", 0.0)
        };
        assert_eq!(m.restore(Some(placeholder), MIN), vec![Command::Refresh(1)]);
        // While it waits for the lock, another tab answers its hello with the live session.
        let theirs = StoredSession { refresh: String::new(), ..session("x", MIN - 1_000.0) };
        assert_eq!(m.elsewhere(Some(theirs.clone()), MIN), vec![Command::Schedule(239_000)]);
        let newest = m.session().cloned();
        assert_eq!(m.before_send(1, newest, MIN), BeforeSend::Skip(vec![Command::Schedule(239_000)]));
        assert_eq!(m.session(), Some(&theirs));
        assert_eq!(m.refreshing(), None);
    }

    #[test]
    fn cookie_mode_a_refusal_is_final() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        m.before_send(1, m.session().cloned(), 4.0 * MIN);
        let cmds = m.refreshed(1, Outcome::Refused, None, 4.0 * MIN);
        assert_eq!(cmds, vec![Command::Erase, Command::Cancel, Command::ToLogin]);
    }

    #[test]
    fn a_logout_elsewhere_while_waiting_for_the_lock_sends_nothing() {
        let mut m = signed_in_at(0.0);
        m.wake(4.0 * MIN, false);
        assert_eq!(m.before_send(1, None, 4.0 * MIN), BeforeSend::Skip(vec![Command::Cancel]));
        assert_eq!(m.session(), None);
        assert_eq!(m.wake(5.0 * MIN, true), vec![]);
    }
}
