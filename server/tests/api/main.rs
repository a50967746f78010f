//! The HTTP contract (../shared/CONTRACT.md), walked over real HTTP against the real server
//! on a random port, each test with its own temporary SQLite database (or PostgreSQL database,
//! with `TEST_POSTGRES_URL`). One module per area: `cargo test --test api rotation::` runs one.

mod account_mail;
mod accounts;
mod authenticator;
mod cookie_mode;
mod data;
mod fleet;
mod helpers;
mod keys;
mod limits;
mod mfa;
mod oidc_provider;
mod passkeys;
mod providers;
mod recovery;
mod rotation;
mod sessions;
mod smtp;
mod tokens;
mod transport;
