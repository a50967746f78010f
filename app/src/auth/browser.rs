//! The browser APIs behind the session: telling other tabs (BroadcastChannel, with the
//! `storage` event as fallback), hearing about wake-ups (`visibilitychange`, `focus`,
//! `online`), one refresh at a time across tabs (the Web Locks API, with a short storage
//! lease where it is missing), and whether any other tab is open at all (a Web Lock each tab
//! holds while it lives). Browser only: nothing here runs during SSR.

use super::session::StoredSession;
use super::storage::{ROTATED_AT_KEY, STORAGE_KEY};
use crate::api::TokenStorage;
use gloo_storage::{LocalStorage, Storage};
use js_sys::{Function, Promise, Reflect};
use leptos::prelude::window;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

const CHANNEL: &str = "leptos_auth";
const LOCK_NAME: &str = "leptos_auth.refresh";
const LEASE_KEY: &str = "leptos_auth.refresh_lease";
/// Each open tab holds a Web Lock named this plus an id of its own, until it closes.
const TAB_LOCK_PREFIX: &str = "leptos_auth.tab.";
/// Longer than a refresh may take (it times out after 5 s), so a lease is never stolen from
/// a live holder; short enough that a closed tab's lease does not stall the others for long.
const LEASE_MS: f64 = 20_000.0;

/// What tabs tell each other over the channel.
#[derive(Serialize, Deserialize)]
enum Message {
    /// The sender's session changed to this (`None`: signed out).
    Session(Option<StoredSession>),
    /// A tab just opened in cookie mode (it has no token yet) and shows its session's tag:
    /// a tab of that very session answers with its tokens; no other tab answers.
    Hello { session_tag: String },
    /// The sender is about to release the refresh lock, and this is its session now (sent
    /// at `at_ms`): the next holder takes it from here rather than from localStorage, which
    /// Chromium may deliver to other tabs a moment late.
    Handover { session: Option<StoredSession>, at_ms: f64 },
}

/// Tells the other tabs of this browser what this one has.
pub struct Announcer(Option<web_sys::BroadcastChannel>);

impl Announcer {
    pub fn announce(&self, session: Option<&StoredSession>) {
        self.post(&Message::Session(session.cloned()));
    }

    pub fn hello(&self, session_tag: &str) {
        self.post(&Message::Hello { session_tag: session_tag.to_owned() });
    }

    /// Says what this tab holds as it releases the refresh lock (see [`Message::Handover`]).
    pub fn hand_over(&self, session: Option<&StoredSession>) {
        self.post(&Message::Handover { session: session.cloned(), at_ms: js_sys::Date::now() });
    }

    /// True when the other tabs can be told things directly (BroadcastChannel exists).
    pub fn has_channel(&self) -> bool {
        self.0.is_some()
    }

    fn post(&self, message: &Message) {
        // The `storage` event reaches the other tabs too; the channel is faster, and carries
        // the access token where storage holds none.
        if let (Some(channel), Ok(json)) = (&self.0, serde_json::to_string(message)) {
            let _ = channel.post_message(&JsValue::from_str(&json));
        }
    }
}

/// What a tab hears from the others and from the browser.
pub struct Listeners<C, H, O, W> {
    /// Another tab has this session now (`None`: it signed out).
    pub on_change: C,
    /// A new tab of the session with this tag asks for its tokens.
    pub on_hello: H,
    /// Another tab released the refresh lock holding this session, at this time.
    pub on_handover: O,
    /// This tab may have slept: visible again, focused, or back online (`true`: skip the
    /// back-off).
    pub on_wake: W,
}

/// Installs the listeners for as long as the page lives.
pub fn listen<C, H, O, W>(mode: TokenStorage, listeners: Listeners<C, H, O, W>) -> Announcer
where
    C: Fn(Option<StoredSession>) + Clone + 'static,
    H: Fn(String) + 'static,
    O: Fn(Option<StoredSession>, f64) + 'static,
    W: Fn(bool) + Clone + 'static,
{
    let Listeners { on_change, on_hello, on_handover, on_wake } = listeners;
    let channel = web_sys::BroadcastChannel::new(CHANNEL).ok();
    if let Some(channel) = &channel {
        let on_change = on_change.clone();
        let handler =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                match ev.data().as_string().and_then(|json| serde_json::from_str(&json).ok()) {
                    Some(Message::Session(session)) => on_change(session),
                    Some(Message::Hello { session_tag }) => on_hello(session_tag),
                    Some(Message::Handover { session, at_ms }) => on_handover(session, at_ms),
                    None => {}
                }
            });
        channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
        handler.forget();
    }
    on_window("storage", move |ev| {
        let key = ev.dyn_ref::<web_sys::StorageEvent>().and_then(web_sys::StorageEvent::key);
        // `None`: storage was cleared as a whole.
        match (mode, key.as_deref()) {
            (TokenStorage::LocalStorage, None | Some(STORAGE_KEY)) => on_change(super::storage::load()),
            // Cookie mode: storage has no token to adopt, but its removal is a logout.
            (TokenStorage::Cookie, None | Some(ROTATED_AT_KEY)) if super::storage::rotated_at().is_none() => {
                on_change(None);
            }
            _ => {}
        }
    });
    let wake = on_wake.clone();
    on_window("focus", move |_| wake(false));
    let wake = on_wake.clone();
    on_window("online", move |_| wake(true));
    let document = window().document().expect("a document");
    let visible = document.clone();
    let handler = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
        if visible.visibility_state() == web_sys::VisibilityState::Visible {
            on_wake(false);
        }
    });
    let _ = document.add_event_listener_with_callback("visibilitychange", handler.as_ref().unchecked_ref());
    handler.forget();
    Announcer(channel)
}

fn on_window(event: &str, f: impl Fn(web_sys::Event) + 'static) {
    let handler = Closure::<dyn Fn(web_sys::Event)>::new(f);
    let _ = window().add_event_listener_with_callback(event, handler.as_ref().unchecked_ref());
    handler.forget();
}

/// The browser's lock manager, where the Web Locks API exists.
fn lock_manager() -> Option<JsValue> {
    Reflect::get(&window().navigator(), &"locks".into()).ok().filter(|locks| !locks.is_undefined())
}

thread_local! {
    /// This tab's own presence lock, once taken.
    static TAB_LOCK: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Marks this tab open for as long as it lives: a Web Lock of its own that it never
/// releases (the browser releases it when the tab closes or navigates away).
pub fn mark_tab_open() {
    let Some(locks) = lock_manager() else { return };
    let Ok(request) = Reflect::get(&locks, &"request".into()).and_then(|r| r.dyn_into::<Function>()) else {
        return;
    };
    let name = format!("{TAB_LOCK_PREFIX}{}", js_sys::Math::random());
    let hold = Closure::once_into_js(|_lock: JsValue| Promise::new(&mut |_resolve, _reject| {}));
    if request.call2(&locks, &JsValue::from_str(&name), &hold).is_ok() {
        TAB_LOCK.with(|tab| *tab.borrow_mut() = Some(name));
    }
}

/// Whether another tab of this site is open (holds its presence lock); `None` when that
/// can't be known (no Web Locks, or this tab has no presence lock).
pub async fn other_tabs_open() -> Option<bool> {
    let ours = TAB_LOCK.with(|tab| tab.borrow().clone())?;
    let locks = lock_manager()?;
    let query: Function = Reflect::get(&locks, &"query".into()).ok()?.dyn_into().ok()?;
    let promise: Promise = query.call0(&locks).ok()?.dyn_into().ok()?;
    let snapshot = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let held: js_sys::Array = Reflect::get(&snapshot, &"held".into()).ok()?.dyn_into().ok()?;
    let tabs: Vec<String> = held
        .iter()
        .filter_map(|lock| Reflect::get(&lock, &"name".into()).ok()?.as_string())
        .filter(|name| name.starts_with(TAB_LOCK_PREFIX))
        .collect();
    // Ours must be listed, or the snapshot is not to be trusted (our request still pending).
    tabs.contains(&ours).then(|| tabs.iter().any(|name| *name != ours))
}

/// Held while this tab refreshes; dropping it lets the next tab in.
pub enum RefreshLock {
    /// Resolving the promise the Web Lock waits on releases it.
    WebLock(Function),
    Lease(String),
    /// Neither could be had in time: refresh anyway rather than never.
    None,
}

impl Drop for RefreshLock {
    fn drop(&mut self) {
        match self {
            Self::WebLock(release) => {
                let _ = release.call0(&JsValue::NULL);
            }
            Self::Lease(me) => {
                if read_lease().is_some_and(|l| l.owner == *me) {
                    LocalStorage::delete(LEASE_KEY);
                }
            }
            Self::None => {}
        }
    }
}

/// The refresh lock, once this tab has it.
pub struct Held {
    lock: RefreshLock,
    /// Another tab held it when this one asked: that tab's news (its hand-over) is what
    /// this one must go by.
    pub contended: bool,
}

impl Held {
    /// Lets the next tab in (dropping it does the same).
    pub fn release(self) {
        drop(self.lock);
    }
}

/// Waits until no other tab of this browser is refreshing.
pub async fn refresh_lock() -> Held {
    match lock_manager() {
        Some(locks) => web_lock(&locks).await.unwrap_or(Held { lock: RefreshLock::None, contended: true }),
        None => lease().await,
    }
}

async fn web_lock(locks: &JsValue) -> Option<Held> {
    // First without waiting: most of the time nobody else holds it, and then there is no
    // hand-over to wait for.
    if let Some(release) = request_web_lock(locks, true).await? {
        return Some(Held { lock: RefreshLock::WebLock(release), contended: false });
    }
    let release = request_web_lock(locks, false).await??;
    Some(Held { lock: RefreshLock::WebLock(release), contended: true })
}

/// Asks for the Web Lock. `Some(Some(release))` once granted; `Some(None)` when
/// `if_available` and another tab holds it; `None` when the API failed or, waiting, it was
/// not granted in time: a tab that holds the lock but was frozen by the browser must not
/// stall this one for ever (the grace window absorbs a rare double refresh).
async fn request_web_lock(locks: &JsValue, if_available: bool) -> Option<Option<Function>> {
    let request: Function = Reflect::get(locks, &"request".into()).ok()?.dyn_into().ok()?;
    let (granted, on_grant) = futures::channel::oneshot::channel::<Option<Function>>();
    // The lock is held until the promise this callback returns settles; with `ifAvailable`
    // the callback gets `null` at once when the lock is taken.
    let callback = Closure::once_into_js(move |lock: JsValue| -> Promise {
        if lock.is_null() {
            let _ = granted.send(None);
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let mut granted = Some(granted);
        Promise::new(&mut |resolve, _reject| {
            if let Some(granted) = granted.take()
                && let Err(Some(resolve)) = granted.send(Some(resolve))
            {
                // Nobody waits any more (gave up below): let the next tab in at once.
                let _ = resolve.call0(&JsValue::NULL);
            }
        })
    });
    let options = js_sys::Object::new();
    Reflect::set(&options, &"ifAvailable".into(), &JsValue::from_bool(if_available)).ok()?;
    request.call3(locks, &JsValue::from_str(LOCK_NAME), &options, &callback).ok()?;
    let give_up = gloo_timers::future::TimeoutFuture::new(LEASE_MS as u32);
    match futures::future::select(on_grant, give_up).await {
        futures::future::Either::Left((Ok(granted), _)) => Some(granted),
        _ => None,
    }
}

#[derive(Serialize, Deserialize)]
struct Lease {
    owner: String,
    until_ms: f64,
}

fn read_lease() -> Option<Lease> {
    LocalStorage::get(LEASE_KEY).ok()
}

/// Where Web Locks are missing: a lease in localStorage. Write, wait a moment, and check
/// that ours survived: two tabs writing at once both see the one that landed last.
async fn lease() -> Held {
    let me = format!("{}", js_sys::Math::random());
    let give_up_at = js_sys::Date::now() + LEASE_MS;
    let mut contended = false;
    while js_sys::Date::now() < give_up_at {
        let now = js_sys::Date::now();
        if read_lease().is_none_or(|l| l.until_ms < now) {
            let _ = LocalStorage::set(LEASE_KEY, Lease { owner: me.clone(), until_ms: now + LEASE_MS });
            gloo_timers::future::TimeoutFuture::new(50).await;
            if read_lease().is_some_and(|l| l.owner == me) {
                return Held { lock: RefreshLock::Lease(me), contended };
            }
        }
        contended = true;
        gloo_timers::future::TimeoutFuture::new(200).await;
    }
    Held { lock: RefreshLock::None, contended: true }
}
