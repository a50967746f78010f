//! One module per route.

mod account;
mod admin;
mod home;
mod identities;
mod login;
mod not_found;
mod passkeys;
mod profile;
mod providers;
mod recovery;
mod register;
mod security;
mod two_step;

pub use admin::AdminPage;
pub use home::HomePage;
pub use login::LoginPage;
pub use not_found::NotFoundPage;
pub use profile::ProfilePage;
pub use recovery::{ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage};
pub use register::RegisterPage;
pub use security::SecurityPage;
