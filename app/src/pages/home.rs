use crate::auth::{AuthState, use_auth};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Title text="Leptos Auth"/>
        <section class="card">
            <h1>"Welcome"</h1>
            <p>
                "A full-stack Rust sign-in: short-lived access tokens, rotating refresh tokens, "
                "and a profile only you can see."
            </p>
            {move || match auth.state() {
                AuthState::Checking => ().into_any(),
                AuthState::SignedIn(user) => view! {
                    <p>"You are signed in as " <strong>{user.username}</strong> ". "
                       <a href="/profile">"See your profile"</a> "."</p>
                }.into_any(),
                AuthState::Anonymous => view! {
                    <p><a href="/login">"Log in"</a> " or " <a href="/register">"create an account"</a> "."</p>
                }.into_any(),
            }}
        </section>
    }
}
