//! What the browser keeps in localStorage, through gloo-storage. Browser only: called from
//! effects and event handlers, never while rendering (that would run during SSR).
//!
//! - localStorage mode: the whole session, tokens included.
//! - Cookie mode: no token, only when the newest rotation happened, so a tab that waited
//!   for the refresh lock knows another tab renewed meanwhile (the new access token itself
//!   travels over the BroadcastChannel).

use super::session::StoredSession;
use crate::api::TokenStorage;
use gloo_storage::{LocalStorage, Storage};

pub const STORAGE_KEY: &str = "leptos_auth.session";
pub const ROTATED_AT_KEY: &str = "leptos_auth.rotated_at";
/// When this browser last signed out: a refresh answer that arrives later must not sign it
/// back in (cookie mode has no stored session to tell by).
const SIGNED_OUT_AT_KEY: &str = "leptos_auth.signed_out_at";

/// The stored session (localStorage mode only).
pub fn load() -> Option<StoredSession> {
    LocalStorage::get(STORAGE_KEY).ok()
}

pub fn save(mode: TokenStorage, session: &StoredSession) {
    let saved = match mode {
        TokenStorage::LocalStorage => LocalStorage::set(STORAGE_KEY, session),
        TokenStorage::Cookie => LocalStorage::set(ROTATED_AT_KEY, session.received_at_ms),
    };
    if let Err(e) = saved {
        // Private mode or a full quota: the session still works in this tab.
        leptos::logging::warn!("could not persist the session: {e}");
    }
}

/// When the newest session of this browser was received (cookie mode only).
pub fn rotated_at() -> Option<f64> {
    LocalStorage::get(ROTATED_AT_KEY).ok()
}

pub fn clear() {
    LocalStorage::delete(STORAGE_KEY);
    LocalStorage::delete(ROTATED_AT_KEY);
    let _ = LocalStorage::set(SIGNED_OUT_AT_KEY, js_sys::Date::now());
}

/// True if this browser signed out at or after `since_ms`.
pub fn signed_out_since(since_ms: f64) -> bool {
    LocalStorage::get::<f64>(SIGNED_OUT_AT_KEY).is_ok_and(|at| at >= since_ms)
}
