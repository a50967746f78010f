use crate::auth::{safe_next, use_auth};
use crate::components::use_hydrated;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let navigate = use_navigate();
    let hydrated = use_hydrated();

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let show_password = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let next = safe_next(query.read_untracked().get("next").as_deref());
        let navigate = navigate.clone();
        spawn_local(async move {
            match auth.login(username.get_untracked(), password.get_untracked()).await {
                Ok(()) => navigate(&next, Default::default()),
                Err(e) => {
                    error.set(Some(e.detail));
                    pending.set(false);
                }
            }
        });
    };

    view! {
        <Title text="Log in · Leptos Auth"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            <form method="post" on:submit=on_submit>
                <div class="field">
                    <label for="login-username">"Username"</label>
                    <input id="login-username" name="username" autocomplete="username" required
                        bind:value=username />
                </div>
                <div class="field">
                    <label for="login-password">"Password"</label>
                    <input id="login-password" name="password" required
                        type=move || if show_password.get() { "text" } else { "password" }
                        autocomplete="current-password"
                        bind:value=password />
                </div>
                <label class="check">
                    <input type="checkbox" bind:checked=show_password />
                    "Show password"
                </label>
                <p class="error" role="alert">{move || error.get()}</p>
                <button type="submit" disabled=move || !hydrated.get() || pending.get()>
                    {move || if pending.get() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
            <p class="aside">"No account yet? " <a href="/register">"Create one"</a> "."</p>
        </section>
    }
}
