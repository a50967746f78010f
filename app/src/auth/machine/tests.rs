//! The machine's transitions, timers, single flight and back-off, tested natively.

use super::*;
use crate::api::{SessionUser, SignIn};

const MIN: f64 = 60_000.0;

fn session(refresh: &str, at: f64) -> StoredSession {
    StoredSession::new(
        SignIn {
            tokens: TokenPair { access: format!("a-{refresh}"), refresh: refresh.into(), expires_in: 300 },
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
    assert_eq!(m.wake(4.0 * MIN + 41_000.0, false), vec![Command::Schedule(1_000)], "early timer re-armed");
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
    let placeholder =
        StoredSession { access: String::new(), refresh: String::new(), expires_in: 0, ..session("", 0.0) };
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
