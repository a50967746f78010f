//! The server: configuration, database, signing keys, the REST contract, SSR and the CLI.
//! `main.rs` only parses the command line; everything else is here so integration tests
//! can start the real application on a random port.

pub mod cli;
pub mod config;
pub mod db;
pub mod headers;
mod health;
pub mod metrics;
mod providers;
pub mod rest;
mod rpc;
pub mod startup;
pub mod state;
mod tasks;

pub use config::Config;
pub use startup::Application;
