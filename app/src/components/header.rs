//! The header on every page: app name, navigation and the account area.

use crate::api::Role;
use crate::auth::{AuthState, use_auth};
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    let is_admin = move || matches!(auth.state(), AuthState::SignedIn(user) if user.role == Role::Admin);
    let account = move || match auth.state() {
        // Unknown until the browser has looked: render nothing rather than a wrong guess.
        AuthState::Checking => view! { <span class="account-pending" aria-hidden="true"></span> }.into_any(),
        AuthState::Anonymous => view! {
            <a href="/login">"Log in"</a>
            <a class="button" href="/register">"Register"</a>
        }
        .into_any(),
        AuthState::SignedIn(user) => view! {
            <span class="username" title="Signed in">{user.username}</span>
            <button
                type="button"
                class="secondary"
                on:click=move |_| spawn_local(async move { auth.logout().await })
            >
                "Log out"
            </button>
        }
        .into_any(),
    };
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Leptos Auth"</a>
            <nav aria-label="Main">
                <a href="/">"Home"</a>
                <a href="/profile">"Profile"</a>
                <a href="/security">"Security"</a>
                // A convenience: the server checks the role on every admin call.
                {move || is_admin().then(|| view! { <a href="/admin">"Admin"</a> })}
            </nav>
            <div class="account" aria-live="polite">{account}</div>
        </header>
        <SessionNotice/>
    }
}

/// Says so while the session is alive but cannot be refreshed (offline, throttled): the
/// user keeps working and is never signed out for it.
#[component]
fn SessionNotice() -> impl IntoView {
    let auth = use_auth();
    let transient = move || auth.notice().filter(|n| n.is_transient());
    view! {
        <p class="notice" role="status" hidden=move || transient().is_none()>
            {move || transient().map(|n| n.text())}
        </p>
    }
}
