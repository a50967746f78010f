//! One module per route. Every page but home and login is a lazy route: a WASM chunk of its
//! own, fetched when it is first shown, so the first load of the home and login pages
//! carries none of their code (`cargo leptos build --split`; see the README's architecture
//! section).

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

pub use home::HomePage;
pub use login::LoginPage;
pub use not_found::NotFoundPage;

/// A lazy route showing `$page`: `Lazy::<$route>::new()` in the router.
macro_rules! lazy_page {
    ($route:ident, $page:ident) => {
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> leptos::prelude::AnyView {
                leptos::prelude::IntoAny::into_any(leptos::view! { <$page/> })
            }
        }
    };
}

use admin::AdminPage;
use profile::ProfilePage;
use recovery::{ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage};
use register::RegisterPage;
use security::SecurityPage;

lazy_page!(RegisterRoute, RegisterPage);
lazy_page!(ProfileRoute, ProfilePage);
lazy_page!(SecurityRoute, SecurityPage);
lazy_page!(AdminRoute, AdminPage);
lazy_page!(ForgotPasswordRoute, ForgotPasswordPage);
lazy_page!(ResetPasswordRoute, ResetPasswordPage);
lazy_page!(VerifyEmailRoute, VerifyEmailPage);
