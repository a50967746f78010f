use crate::auth::{safe_next, use_auth};
use crate::components::{Submission, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let navigate = use_navigate();
    let form = Submission::new();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let show_password = RwSignal::new(false);
    let next = move || safe_next(query.read_untracked().get("next").as_deref());

    // Signed in by another tab (or already signed in): nothing to do here, go on.
    let go_on = navigate.clone();
    Effect::new(move |_| {
        if auth.is_signed_in() && !form.pending() {
            go_on(&next(), NavigateOptions { replace: true, ..Default::default() });
        }
    });

    let on_submit = move |ev| {
        let next = next();
        let navigate = navigate.clone();
        form.submit(ev, move || async move {
            auth.login(username.get_untracked(), password.get_untracked()).await?;
            navigate(&next, Default::default());
            Ok(())
        });
    };

    view! {
        <Title text="Log in · Leptos Auth"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            // Why the user is here, when the session ended by itself or in another tab.
            {move || auth.notice().filter(|n| !n.is_transient()).map(|n| view! {
                <p class="notice" role="status">{n.text()}</p>
            })}
            <form method="post" on:submit=on_submit>
                <TextField id="login-username" label="Username" name="username" autocomplete="username"
                    value=username />
                <TextField id="login-password" label="Password" name="password" autocomplete="current-password"
                    value=password
                    kind=Signal::derive(move || if show_password.get() { "text" } else { "password" }) />
                <div class="row spread">
                    <label class="check">
                        <input type="checkbox" bind:checked=show_password />
                        "Show password"
                    </label>
                    <a href="/forgot-password">"Forgot password?"</a>
                </div>
                <p class="error" role="alert">{move || form.message()}</p>
                <button type="submit" disabled=move || form.disabled()>
                    {move || if form.pending() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
            <p class="aside">"No account yet? " <a href="/register">"Create one"</a> "."</p>
        </section>
    }
}
