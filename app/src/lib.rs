//! The Leptos application, compiled twice: with `ssr` into the server and with `hydrate`
//! into the browser's WASM bundle.
//!
//! - [`api`], [`rules`]: wire types and input rules, shared by both sides.
//! - [`functions`]: the server functions (bodies run on the server only).
//! - [`auth`], [`components`], [`pages`]: the UI; `auth` holds the client's `AuthContext`.
//! - [`server`]: server-only code (database, hashing, signing), behind the `ssr` feature.

pub mod api;
pub mod auth;
pub mod components;
pub mod functions;
pub mod pages;
pub mod rules;
#[cfg(feature = "ssr")]
pub mod server;

use auth::AuthProvider;
use components::Header;
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, path};
use pages::{
    AdminRoute, ForgotPasswordRoute, HomePage, LoginPage, NotFoundPage, ProfileRoute, RegisterRoute,
    ResetPasswordRoute, SecurityRoute, VerifyEmailRoute,
};

/// The HTML document around the app, rendered by the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // /pkg/leptos_auth.<content hash>.css in a release build.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Leptos Auth"/>
        <Router>
            <AuthProvider>
                <a class="skip-link" href="#main">"Skip to content"</a>
                <Header/>
                <main id="main">
                    <Routes fallback=|| view! { <NotFoundPage/> }>
                        <Route path=path!("/") view=HomePage/>
                        <Route path=path!("/login") view=LoginPage/>
                        <Route path=path!("/register") view={Lazy::<RegisterRoute>::new()}/>
                        <Route path=path!("/profile") view={Lazy::<ProfileRoute>::new()}/>
                        <Route path=path!("/security") view={Lazy::<SecurityRoute>::new()}/>
                        <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()}/>
                        <Route path=path!("/forgot-password") view={Lazy::<ForgotPasswordRoute>::new()}/>
                        <Route path=path!("/reset-password") view={Lazy::<ResetPasswordRoute>::new()}/>
                        <Route path=path!("/verify-email") view={Lazy::<VerifyEmailRoute>::new()}/>
                    </Routes>
                </main>
            </AuthProvider>
        </Router>
    }
}
