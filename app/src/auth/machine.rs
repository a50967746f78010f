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
mod tests;
