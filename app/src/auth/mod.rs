//! The browser's auth state: [`AuthContext`], provided once at the root by
//! [`AuthProvider`] and read anywhere with [`use_auth`].
//!
//! During SSR the state is always `Checking` (the server never reads browser storage and
//! never refreshes: a rotated token could not reach the browser). After hydration an effect
//! restores the session from localStorage, refreshing at once if it is due.

mod session;
mod storage;

pub use session::{CurrentUser, StoredSession, login_url, safe_next};

use crate::api::ApiError;
use crate::functions;
use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use session::retry_delay_ms;
use std::future::Future;
use std::rc::Rc;

#[derive(Clone, Debug, PartialEq)]
pub enum AuthState {
    /// Not known yet: during SSR and until the browser has read its storage.
    Checking,
    Anonymous,
    SignedIn(CurrentUser),
}

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<String, ApiError>>>;

/// Browser-side machinery behind the signal; never touched during SSR.
#[derive(Default)]
struct Runtime {
    timer: Option<gloo_timers::callback::Timeout>,
    /// The refresh in flight, shared by every caller that needs one meanwhile.
    in_flight: Option<RefreshFuture>,
    /// Bumped on login and logout, so a refresh that was in flight across either cannot
    /// bring the old session back.
    epoch: u64,
    navigate: Option<Rc<dyn Fn(&str)>>,
    /// Refreshes that failed in a row without a refusal (network, 5xx, 429).
    failed_refreshes: u32,
}

#[derive(Clone, Copy)]
pub struct AuthContext {
    state: RwSignal<AuthState>,
    /// Browser only. `None` during SSR: thread-local values must not live in a request's
    /// reactive owner, which the server may drop on another thread.
    runtime: Option<StoredValue<Runtime, LocalStorage>>,
}

/// Installs the auth context for everything inside it. Must sit inside the `<Router>`.
#[component]
pub fn AuthProvider(children: Children) -> impl IntoView {
    let navigate = use_navigate();
    let runtime = cfg!(target_arch = "wasm32").then(|| {
        StoredValue::new_local(Runtime {
            navigate: Some(Rc::new(move |to: &str| navigate(to, Default::default()))),
            ..Runtime::default()
        })
    });
    let auth = AuthContext { state: RwSignal::new(AuthState::Checking), runtime };
    provide_context(auth);
    // Effects run only in the browser, after hydration: the one place storage is read.
    Effect::new(move |_| auth.restore());
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

    pub fn is_anonymous(&self) -> bool {
        self.state.with(|s| matches!(s, AuthState::Anonymous))
    }

    pub async fn login(self, username: String, password: String) -> Result<(), ApiError> {
        let sign_in = functions::login(username, password).await?;
        self.bump_epoch();
        self.adopt(StoredSession::new(sign_in, now_ms()));
        Ok(())
    }

    /// Signs out here at once, then tells the server to end the session. If the server
    /// cannot be reached the tokens are still gone from this browser.
    pub async fn logout(self) {
        let stored = storage::load();
        self.bump_epoch();
        self.forget();
        if let Some(stored) = stored
            && let Err(e) = functions::logout(stored.refresh).await
        {
            leptos::logging::warn!("logout could not reach the server: {e}");
        }
    }

    /// Rotates the tokens and returns the new access token. Concurrent callers share one
    /// request. A refusal (401) ends the session and sends the user to the login page; any
    /// other failure keeps the session and retries later.
    pub async fn refresh(self) -> Result<String, ApiError> {
        let pending = self.read_runtime(|r| r.in_flight.clone()).flatten();
        let shared = match pending {
            Some(shared) => shared,
            None => {
                let shared = self.refresh_once().boxed_local().shared();
                self.update_runtime(|r| r.in_flight = Some(shared.clone()));
                shared
            }
        };
        shared.await
    }

    /// Runs an authenticated call with the current access token. A token that has expired
    /// is refreshed first; a call refused with 401 is retried once after a refresh.
    pub async fn with_access<T, F, Fut>(self, call: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let access = match storage::load() {
            None => return Err(ApiError::not_authenticated()),
            Some(s) if s.access_expired(now_ms()) => self.refresh().await?,
            Some(s) => s.access,
        };
        match call(access).await {
            Err(e) if e.is_auth_failure() => call(self.refresh().await?).await,
            other => other,
        }
    }

    fn restore(self) {
        let Some(stored) = storage::load() else {
            self.state.set(AuthState::Anonymous);
            return;
        };
        let now = now_ms();
        self.state.set(AuthState::SignedIn(stored.user()));
        if stored.refresh_is_due(now) {
            spawn_local(async move {
                let _ = self.refresh().await;
            });
        } else {
            self.schedule_refresh(stored.refresh_delay_ms(now));
        }
    }

    async fn refresh_once(self) -> Result<String, ApiError> {
        let epoch = self.epoch();
        let Some(stored) = storage::load() else {
            self.update_runtime(|r| r.in_flight = None);
            self.expire();
            return Err(ApiError::not_authenticated());
        };
        let sent = stored.refresh.clone();
        let result = functions::refresh(sent.clone()).await.map(|pair| stored.renewed(pair, now_ms()));
        self.update_runtime(|r| r.in_flight = None);
        if epoch != self.epoch() {
            // Logged out (or in again) meanwhile: this answer belongs to a dead session.
            return Err(ApiError::not_authenticated());
        }
        match result {
            Ok(renewed) => {
                let access = renewed.access.clone();
                self.update_runtime(|r| r.failed_refreshes = 0);
                self.adopt(renewed);
                Ok(access)
            }
            Err(e) if e.is_auth_failure() => match storage::load() {
                // Another tab of this browser rotated the same token first and stored the
                // result: ours was refused because it was already used. Adopt theirs.
                Some(newer) if newer.refresh != sent => {
                    let access = newer.access.clone();
                    self.adopt(newer);
                    Ok(access)
                }
                _ => {
                    self.expire();
                    Err(e)
                }
            },
            Err(e) => {
                leptos::logging::warn!("refresh failed, retrying later: {e}");
                let failures = self.read_runtime(|r| r.failed_refreshes).unwrap_or_default();
                self.update_runtime(|r| r.failed_refreshes += 1);
                self.schedule_refresh(retry_delay_ms(failures));
                Err(e)
            }
        }
    }

    /// Stores a new pair, shows the user as signed in and restarts the refresh timer.
    fn adopt(self, stored: StoredSession) {
        storage::save(&stored);
        self.state.set(AuthState::SignedIn(stored.user()));
        self.schedule_refresh(stored.refresh_delay_ms(now_ms()));
    }

    /// The server refused our refresh token: forget it and ask the user to log in again,
    /// coming back to where they were.
    fn expire(self) {
        self.forget();
        let here = window()
            .location()
            .pathname()
            .and_then(|p| window().location().search().map(|s| p + &s))
            .unwrap_or_default();
        let target = login_url(&here);
        if let Some(navigate) = self.read_runtime(|r| r.navigate.clone()).flatten() {
            navigate(&target);
        }
    }

    fn forget(self) {
        storage::clear();
        self.update_runtime(|r| r.timer = None);
        self.state.set(AuthState::Anonymous);
    }

    fn schedule_refresh(self, delay_ms: u32) {
        let timer = gloo_timers::callback::Timeout::new(delay_ms, move || {
            spawn_local(async move {
                let _ = self.refresh().await;
            });
        });
        // Replacing the old Timeout drops it, which cancels it.
        self.update_runtime(|r| r.timer = Some(timer));
    }

    fn epoch(self) -> u64 {
        self.read_runtime(|r| r.epoch).unwrap_or_default()
    }

    fn bump_epoch(self) {
        // A refresh in flight belongs to the old session: nobody may wait on it any more.
        self.update_runtime(|r| {
            r.epoch += 1;
            r.in_flight = None;
            r.failed_refreshes = 0;
        });
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

fn now_ms() -> f64 {
    js_sys::Date::now()
}
