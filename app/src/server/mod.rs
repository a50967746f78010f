//! Server-only code: the database, password hashing and token signing. Compiled only with
//! the `ssr` feature, so none of it (nor its dependencies) can reach the WASM bundle.
//!
//! [`AuthService`] is the one implementation of every auth operation; the REST handlers in
//! the `server` crate and the Leptos server functions in [`crate::functions`] both call it.

pub mod audit;
mod data_key;
mod error;
pub mod keys;
pub mod limits;
mod liveness;
pub mod mail;
pub mod oidc;
pub mod passkeys;
pub mod password;
mod service;
mod store;
pub mod token_delivery;
pub mod tokens;
pub mod totp;
mod usernames;

pub use error::{ClientMeta, internal_error};
pub use keys::KeyAlgorithm;
pub use limits::LimitSettings;
pub use mail::{MailSettings, MailTransport};
pub use service::{AuthService, AuthSettings, CallbackOutcome, KeySource, ProviderRefusal, RESET_REQUESTED};
pub use store::Pools;
pub use tokens::TokenSettings;

/// Seconds since the Unix epoch: the one clock used for tokens and database rows.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
