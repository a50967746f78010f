//! The browser's auth state: [`AuthContext`], provided once at the root by
//! [`AuthProvider`] and read anywhere with [`use_auth`].
//!
//! The decisions live in [`machine`] (pure, unit-tested); this file carries them out with
//! the browser: storage, timers, the refresh lock and the other tabs ([`browser`]).
//!
//! Two modes, as the server's `TOKEN_STORAGE` says ([`TokenStorage`]):
//! - localStorage: during SSR the state is `Checking` (the server can't read browser
//!   storage). After hydration an effect restores the session from localStorage, refreshing
//!   at once if it is due.
//! - Cookie: the server knows the user from the HttpOnly refresh cookie and renders them
//!   (the state is known on the first paint and handed to the browser with the page). The
//!   browser holds the access token in memory only: it gets one from another tab, or by a
//!   refresh (the cookie goes along by itself).

mod browser;
mod machine;
pub mod passkey;
mod session;
mod storage;

pub use machine::Notice;
pub use session::{CurrentUser, StoredSession, login_url, safe_next};

use crate::api::{ApiError, SessionUser, TokenStorage};
use crate::functions;
use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use machine::{BeforeSend, Command, Machine, Outcome};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::rc::Rc;

/// A refresh that hangs (a half-open connection) counts as a network error after this long,
/// and lets the other tabs have the lock. With the first retry 2 s later, the retry reaches
/// the server inside its default 10 s grace window, so a rotation whose answer was lost
/// gets the same pair again instead of looking like a replay.
const REFRESH_TIMEOUT_MS: u32 = 5_000;
/// Cookie mode: how long a tab that got the refresh lock after another tab rotated waits for
/// that tab's news (which carries the access token) before rotating itself.
const NEWS_WAIT_MS: f64 = 500.0;
/// How long a tab that waited for the refresh lock waits for the previous holder's
/// hand-over. It is sent before the lock is released, so it is normally there within
/// milliseconds; only a holder that closed mid-refresh sends none.
const HANDOVER_WAIT_MS: f64 = 1_000.0;

/// What the server tells the browser with the page: the mode, and in cookie mode who is
/// signed in (the server read the cookie).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Boot {
    mode: TokenStorage,
    user: Option<SessionUser>,
}

impl Boot {
    #[cfg(feature = "ssr")]
    fn from_request() -> Self {
        use crate::server::token_delivery::{SsrUser, mode};
        let user = use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<SsrUser>().map(|u| u.0.clone()));
        Self { mode: mode(), user }
    }

    /// Only the server computes it; the browser reads the server's value from the page.
    #[cfg(not(feature = "ssr"))]
    fn from_request() -> Self {
        Self::default()
    }

    fn initial_state(&self) -> AuthState {
        match (self.mode, &self.user) {
            (TokenStorage::LocalStorage, _) => AuthState::Checking,
            (TokenStorage::Cookie, None) => AuthState::Anonymous,
            (TokenStorage::Cookie, Some(user)) => {
                AuthState::SignedIn(StoredSession::known_user(user.clone()).user())
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum AuthState {
    /// Not known yet: during SSR and until the browser has read its storage.
    Checking,
    Anonymous,
    SignedIn(CurrentUser),
}

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<String, ApiError>>>;

/// Browser-side machinery behind the signals; never touched during SSR.
struct Runtime {
    /// Cookie mode: who the server said is signed in, until [`AuthContext::start`] takes it.
    /// `None` once started.
    boot_user: Option<Option<SessionUser>>,
    machine: Machine,
    timer: Option<gloo_timers::callback::Timeout>,
    /// The refresh in flight, shared by every caller that needs one meanwhile.
    flight: Option<(u64, RefreshFuture)>,
    navigate: Rc<dyn Fn(&str)>,
    announcer: Option<browser::Announcer>,
    /// The newest hand-over another tab made as it released the refresh lock: when, and the
    /// session it held.
    handover: Option<(f64, Option<StoredSession>)>,
}

#[derive(Clone, Copy)]
pub struct AuthContext {
    mode: TokenStorage,
    state: RwSignal<AuthState>,
    notice: RwSignal<Option<Notice>>,
    /// Whether the server rendered the page signed in: what a view must show until it has
    /// hydrated (see [`AuthContext::is_signed_in_once_hydrated`]).
    rendered_signed_in: bool,
    /// Browser only. `None` during SSR: thread-local values must not live in a request's
    /// reactive owner, which the server may drop on another thread.
    runtime: Option<StoredValue<Runtime, LocalStorage>>,
}

/// Installs the auth context for everything inside it. Must sit inside the `<Router>`.
#[component]
pub fn AuthProvider(children: Children) -> impl IntoView {
    let navigate = use_navigate();
    let boot = SharedValue::new(Boot::from_request).into_inner();
    let runtime = cfg!(target_arch = "wasm32").then(|| {
        StoredValue::new_local(Runtime {
            boot_user: Some(boot.user.clone()),
            machine: Machine::default(),
            timer: None,
            flight: None,
            navigate: Rc::new(move |to: &str| navigate(to, Default::default())),
            announcer: None,
            handover: None,
        })
    });
    let initial = boot.initial_state();
    let auth = AuthContext {
        mode: boot.mode,
        rendered_signed_in: matches!(initial, AuthState::SignedIn(_)),
        state: RwSignal::new(initial),
        notice: RwSignal::new(None),
        runtime,
    };
    provide_context(auth);
    // Effects run only in the browser, after hydration: storage is read there (or by the
    // first authenticated call, if that comes first).
    Effect::new(move |_| auth.start());
    children()
}

/// The auth context. Panics outside [`AuthProvider`], which wraps the whole app.
pub fn use_auth() -> AuthContext {
    expect_context::<AuthContext>()
}

impl AuthContext {
    pub fn state(&self) -> AuthState {
        self.state.get()
    }

    pub fn is_signed_in(&self) -> bool {
        self.state.with(|s| matches!(s, AuthState::SignedIn(_)))
    }

    /// [`is_signed_in`](Self::is_signed_in) once `hydrated`, and before that what the
    /// server rendered. A lazy route hydrates only after its chunk has loaded, by when the
    /// session may already have been restored from storage: its first render must still
    /// match the server's HTML.
    pub fn is_signed_in_once_hydrated(&self, hydrated: bool) -> bool {
        if hydrated { self.is_signed_in() } else { self.rendered_signed_in }
    }

    pub fn is_anonymous(&self) -> bool {
        self.state.with(|s| matches!(s, AuthState::Anonymous))
    }

    /// What the UI should say about the session, if anything.
    pub fn notice(&self) -> Option<Notice> {
        self.notice.get()
    }

    /// Signs in with a password. For an account with a second factor this answers
    /// `mfa_required` (with its `mfa_token`): then [`Self::login_mfa`] finishes.
    pub async fn login(self, username: String, password: String) -> Result<(), ApiError> {
        self.signed_in(functions::login(username, password).await?);
        Ok(())
    }

    /// The second step of a sign-in: the code from the authenticator, or a recovery code.
    pub async fn login_mfa(self, mfa_token: String, code: String) -> Result<(), ApiError> {
        self.signed_in(functions::login_mfa(mfa_token, code).await?);
        Ok(())
    }

    /// Signs in with a passkey: the browser's answer ([`passkey::get`]) to the options of
    /// `ceremony`. No second factor follows.
    pub async fn login_passkey(self, ceremony: String, credential: String) -> Result<(), ApiError> {
        self.signed_in(functions::passkey_sign_in(ceremony, credential).await?);
        Ok(())
    }

    /// Signs in with what a provider's callback handed over (`mfa_required` for an account
    /// with a second factor: then [`Self::login_mfa`] finishes).
    pub async fn login_provider(self, handoff: String) -> Result<(), ApiError> {
        self.signed_in(functions::provider_sign_in(handoff).await?);
        Ok(())
    }

    fn signed_in(self, sign_in: crate::api::SignIn) {
        self.step(|m| m.signed_in(StoredSession::new(sign_in, now_ms()), now_ms()));
    }

    /// Signs out here (and in every other tab) at once, then tells the server to end the
    /// session. If the server cannot be reached the tokens are still gone from this browser.
    pub async fn logout(self) {
        let session = self.session();
        self.step(Machine::signed_out);
        if let Some(session) = session
            && let Err(e) = functions::logout(session.refresh).await
        {
            leptos::logging::warn!("logout could not reach the server: {e}");
        }
    }

    /// Rotates the tokens now and returns the new access token. Concurrent callers share
    /// one request, and other tabs wait for it (see [`machine::Machine::before_send`]).
    pub async fn refresh(self) -> Result<String, ApiError> {
        self.step(Machine::refresh_now);
        match self.flight() {
            Some(flight) => flight.await,
            None => Err(ApiError::not_authenticated()),
        }
    }

    /// Runs an authenticated call with the current access token. A token that is due is
    /// refreshed first (a tab that slept past the access lifetime must not fail its first
    /// call); a call refused with 401 is retried once after a refresh.
    pub async fn with_access<T, F, Fut>(self, call: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        self.start();
        self.step(|m| m.wake(now_ms(), false));
        let access = match self.session() {
            None => return Err(ApiError::not_authenticated()),
            Some(s) if s.access_expired(now_ms()) => self.refresh_or_wait().await?,
            Some(s) => s.access,
        };
        match call(access).await {
            Err(e) if e.is_auth_failure() => call(self.refresh().await?).await,
            other => other,
        }
    }

    /// Reads storage (or the server's word, in cookie mode), listens to the other tabs and
    /// the wake-up events, and restores the session. Once; later calls do nothing.
    fn start(self) {
        let Some(runtime) = self.runtime else {
            return;
        };
        // In cookie mode a signed-in page renders its content at once, and that content's
        // first call may come before the provider's effect has run.
        let Some(user) = runtime.try_update_value(|r| r.boot_user.take()).flatten() else {
            return;
        };
        let announcer = browser::listen(
            self.mode,
            browser::Listeners {
                on_change: move |stored| self.step(|m| m.elsewhere(stored, now_ms())),
                on_hello: move |tag: String| {
                    // Only to a tab of this very session (a tab of another, or a script that
                    // can't show the tag, gets nothing); a tab with no access token yet has
                    // nothing to give.
                    if let Some(session) = self
                        .session()
                        .filter(|s| !s.access.is_empty() && !s.session_tag.is_empty() && s.session_tag == tag)
                    {
                        self.announce(Some(&session));
                    }
                },
                on_handover: move |session, at_ms| {
                    self.update_runtime(|r| {
                        if r.handover.as_ref().is_none_or(|(newest, _)| at_ms >= *newest) {
                            r.handover = Some((at_ms, session));
                        }
                    });
                },
                on_wake: move |force| self.step(|m| m.wake(now_ms(), force)),
            },
        );
        let stored = match self.mode {
            TokenStorage::LocalStorage => storage::load(),
            TokenStorage::Cookie => {
                browser::mark_tab_open();
                if let Some(user) = &user {
                    announcer.hello(&user.session_tag);
                }
                user.map(StoredSession::known_user)
            }
        };
        runtime.update_value(|r| r.announcer = Some(announcer));
        self.step(|m| m.restore(stored, now_ms()));
    }

    /// The access token, after the refresh in flight (or one started now, back-off or not).
    async fn refresh_or_wait(self) -> Result<String, ApiError> {
        self.step(|m| m.wake(now_ms(), true));
        match self.flight() {
            Some(flight) => flight.await,
            None => self.access(),
        }
    }

    /// Flight `n`: waits for the lock shared by all tabs, then refreshes unless another tab
    /// already did. The lock is held until the result is stored and handed over, so the next
    /// tab starts from it.
    async fn fly(self, n: u64) -> Result<String, ApiError> {
        let asked_at = now_ms();
        let held = browser::refresh_lock().await;
        let newest = match held.contended {
            true => self.handed_over_since(asked_at).await,
            false => None,
        };
        let newest = match newest {
            Some(handed_over) => handed_over,
            None => self.newest().await,
        };
        let sent = match self.decide(|m| m.before_send(n, newest, now_ms())) {
            Some(BeforeSend::Send(token)) => token,
            Some(BeforeSend::Skip(commands)) => {
                self.run(commands);
                self.hand_over();
                held.release();
                self.end_flight(n);
                return self.access();
            }
            None => {
                self.hand_over();
                return Err(ApiError::not_authenticated());
            }
        };
        let sent_at = now_ms();
        let result = with_timeout(functions::refresh(sent)).await;
        let error = result.as_ref().err().cloned();
        // What the browser holds now (a logout or login elsewhere may have come first).
        let stored = match self.mode {
            TokenStorage::LocalStorage => storage::load(),
            TokenStorage::Cookie if storage::signed_out_since(sent_at) => None,
            TokenStorage::Cookie => self.session(),
        };
        self.step(|m| m.refreshed(n, Outcome::of(result), stored, now_ms()));
        self.hand_over();
        held.release();
        self.end_flight(n);
        match error {
            Some(e) => Err(e),
            None => self.access(),
        }
    }

    /// Tells the next holder of the refresh lock what this tab holds now (before releasing
    /// it: messages from one tab arrive in order, so the next holder has seen this tab's
    /// news too by the time the hand-over reaches it).
    fn hand_over(self) {
        let session = self.session();
        self.read_runtime(|r| {
            if let Some(announcer) = &r.announcer {
                announcer.hand_over(session.as_ref());
            }
        });
    }

    /// The session the previous holder of the refresh lock handed over, for a tab that had
    /// to wait for the lock since `asked_at`. localStorage can't be trusted right then:
    /// Chromium delivers one tab's writes to the others a moment later, and the token read
    /// from it may be the one the previous holder has just rotated (a reuse, which ends the
    /// session when the grace window is off). `None` when there is no channel, or no
    /// hand-over came (its sender closed mid-refresh).
    async fn handed_over_since(self, asked_at: f64) -> Option<Option<StoredSession>> {
        if !self.read_runtime(|r| r.announcer.as_ref().is_some_and(browser::Announcer::has_channel))? {
            return None;
        }
        let give_up_at = now_ms() + HANDOVER_WAIT_MS;
        loop {
            let handed = self.read_runtime(|r| r.handover.clone()).flatten();
            if let Some((_, session)) = handed.filter(|(at_ms, _)| *at_ms >= asked_at) {
                return Some(session);
            }
            if now_ms() >= give_up_at {
                return None;
            }
            gloo_timers::future::TimeoutFuture::new(10).await;
        }
    }

    /// The browser's newest session, for a tab that just got the refresh lock. In
    /// localStorage mode that is storage. In cookie mode storage only says when the newest
    /// rotation happened: if that is newer than ours, the rotating tab's news (with the access
    /// token) is on its way, so wait for it briefly.
    async fn newest(self) -> Option<StoredSession> {
        if self.mode == TokenStorage::LocalStorage {
            return storage::load();
        }
        let give_up_at = now_ms() + NEWS_WAIT_MS;
        let mut asked_for_others = false;
        loop {
            let ours = self.session()?;
            let Some(rotated_at) = storage::rotated_at() else {
                // Nothing stored: no tab has rotated since the last logout (or this tab is
                // the first after a restart); the cookie is the newest we have.
                return Some(ours);
            };
            if ours.received_at_ms >= rotated_at || now_ms() >= give_up_at {
                return Some(ours);
            }
            // The news would come from another tab: with none open, there is nobody to wait for.
            if !asked_for_others {
                asked_for_others = true;
                if browser::other_tabs_open().await == Some(false) {
                    return Some(ours);
                }
            }
            gloo_timers::future::TimeoutFuture::new(25).await;
        }
    }

    fn end_flight(self, n: u64) {
        self.update_runtime(|r| {
            if r.flight.as_ref().is_some_and(|(m, _)| *m == n) {
                r.flight = None;
            }
        });
    }

    /// Feeds one event to the machine and carries out what it decides.
    fn step(self, event: impl FnOnce(&mut Machine) -> Vec<Command>) {
        if let Some(commands) = self.decide(event) {
            self.run(commands);
        }
    }

    fn decide<T>(self, event: impl FnOnce(&mut Machine) -> T) -> Option<T> {
        let runtime = self.runtime?;
        let (out, state, notice) = runtime.try_update_value(|r| {
            let out = event(&mut r.machine);
            let state = match (r.machine.known(), r.machine.session()) {
                (false, _) => AuthState::Checking,
                (true, None) => AuthState::Anonymous,
                (true, Some(s)) => AuthState::SignedIn(s.user()),
            };
            (out, state, r.machine.notice())
        })?;
        // Set only on change: every page reading the state would re-render otherwise.
        if self.state.with_untracked(|s| *s != state) {
            self.state.set(state);
        }
        if self.notice.get_untracked() != notice {
            self.notice.set(notice);
        }
        Some(out)
    }

    fn run(self, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::Persist(session) => {
                    storage::save(self.mode, &session);
                    self.announce(Some(&session));
                }
                Command::Erase => {
                    storage::clear();
                    self.announce(None);
                }
                Command::Schedule(delay_ms) => {
                    let timer = gloo_timers::callback::Timeout::new(delay_ms, move || {
                        self.step(|m| m.wake(now_ms(), false));
                    });
                    // Replacing the old Timeout drops it, which cancels it.
                    self.update_runtime(|r| r.timer = Some(timer));
                }
                Command::Cancel => self.update_runtime(|r| r.timer = None),
                Command::Refresh(n) => {
                    let flight = self.fly(n).boxed_local().shared();
                    self.update_runtime(|r| r.flight = Some((n, flight.clone())));
                    spawn_local(async move {
                        let _ = flight.await;
                    });
                }
                Command::Revoke(token) => spawn_local(async move {
                    if let Err(e) = functions::logout(token).await {
                        leptos::logging::warn!("could not end a session renewed after logout: {e}");
                    }
                }),
                Command::ToLogin => {
                    let here = window()
                        .location()
                        .pathname()
                        .and_then(|p| window().location().search().map(|s| p + &s))
                        .unwrap_or_default();
                    if let Some(navigate) = self.read_runtime(|r| r.navigate.clone()) {
                        navigate(&login_url(&here));
                    }
                }
            }
        }
    }

    fn announce(self, session: Option<&StoredSession>) {
        self.read_runtime(|r| {
            if let Some(announcer) = &r.announcer {
                announcer.announce(session);
            }
        });
    }

    /// The refresh in flight, if any.
    fn flight(self) -> Option<RefreshFuture> {
        self.read_runtime(|r| r.flight.as_ref().map(|(_, f)| f.clone())).flatten()
    }

    /// The access token this tab holds now.
    fn access(self) -> Result<String, ApiError> {
        self.session().map(|s| s.access).ok_or_else(ApiError::not_authenticated)
    }

    fn session(self) -> Option<StoredSession> {
        self.read_runtime(|r| r.machine.session().cloned()).flatten()
    }

    fn read_runtime<T>(self, f: impl FnOnce(&Runtime) -> T) -> Option<T> {
        self.runtime.and_then(|rt| rt.try_with_value(f))
    }

    fn update_runtime(self, f: impl FnOnce(&mut Runtime)) {
        if let Some(rt) = self.runtime {
            rt.try_update_value(f);
        }
    }
}

/// The refresh call, or a network error if it has not answered in [`REFRESH_TIMEOUT_MS`].
async fn with_timeout<T>(call: impl Future<Output = Result<T, ApiError>>) -> Result<T, ApiError> {
    let timeout = gloo_timers::future::TimeoutFuture::new(REFRESH_TIMEOUT_MS);
    match futures::future::select(Box::pin(call), Box::pin(timeout)).await {
        futures::future::Either::Left((result, _)) => result,
        futures::future::Either::Right(_) => Err(ApiError::network("The server did not answer in time.")),
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}
