//! Guards a page for signed-in users. UX only: the server checks the token on every call.

use crate::auth::{login_url, use_auth};
use crate::components::use_hydrated;
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

/// Shows its children to a signed-in user, a loading state while the session is being
/// checked (so a signed-in reload never flashes the login page), and sends anyone else to
/// the login page with a way back.
#[component]
pub fn RequireAuth(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let location = use_location();
    Effect::new(move |_| {
        if auth.is_anonymous() {
            let (path, query) = (location.pathname.get_untracked(), location.search.get_untracked());
            let here = if query.is_empty() { path } else { format!("{path}?{query}") };
            navigate(&login_url(&here), NavigateOptions { replace: true, ..Default::default() });
        }
    });
    let hydrated = use_hydrated();
    let waiting = move || {
        view! {
            <p class="status" role="status">
                {move || {
                    if hydrated.get() && auth.is_anonymous() {
                        "Redirecting to the login page…"
                    } else {
                        "Checking your session…"
                    }
                }}
            </p>
        }
    };
    view! {
        <Show when=move || auth.is_signed_in_once_hydrated(hydrated.get()) fallback=waiting>
            {children()}
        </Show>
    }
}
