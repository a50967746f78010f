//! localStorage persistence of the session, through gloo-storage. Browser only: called from
//! effects and event handlers, never while rendering (that would run during SSR).

use super::session::StoredSession;
use gloo_storage::{LocalStorage, Storage};

pub const STORAGE_KEY: &str = "leptos_auth.session";

pub fn load() -> Option<StoredSession> {
    LocalStorage::get(STORAGE_KEY).ok()
}

pub fn save(session: &StoredSession) {
    if let Err(e) = LocalStorage::set(STORAGE_KEY, session) {
        // Private mode or a full quota: the session still works in this tab.
        leptos::logging::warn!("could not persist the session: {e}");
    }
}

pub fn clear() {
    LocalStorage::delete(STORAGE_KEY);
}
