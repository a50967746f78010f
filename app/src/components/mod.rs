//! Pieces shared by several pages.

mod form;
mod header;
mod require_auth;

pub use form::{NameFields, PasswordRules, Submission, TextField, use_hydrated};
pub use header::Header;
pub use require_auth::RequireAuth;
