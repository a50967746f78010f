//! The one application state: given to axum as state, and its `AuthService` to Leptos as
//! context. Every module that serves requests reads it; it imports none of them.

use app::api::TokenStorage;
use app::server::AuthService;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

/// One state for axum; Leptos gets the `AuthService` from it as context.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub auth: AuthService,
    pub token_storage: TokenStorage,
}
