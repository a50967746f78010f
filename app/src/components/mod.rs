//! Pieces shared by several pages.

mod header;
mod require_auth;

pub use header::Header;
pub use require_auth::RequireAuth;

use leptos::prelude::*;

/// True once this page is hydrated (always false during SSR). Forms keep their submit button
/// disabled until then, so a click can't be lost before the WASM runs, nor fall back to a
/// native form submission that would put a password in a URL.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}
