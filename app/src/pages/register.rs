use crate::auth::use_auth;
use crate::components::use_hydrated;
use crate::functions;
use crate::rules::PASSWORD_MIN_CHARS;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let hydrated = use_hydrated();

    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let first_name = RwSignal::new(String::new());
    let last_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    // The message and, when the server named one, the field it is about.
    let error = RwSignal::new(None::<(String, Option<String>)>);
    let invalid = move |field: &'static str| {
        move || error.with(|e| matches!(e, Some((_, Some(f))) if f == field)).then_some("true")
    };

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            let (user, pass) = (username.get_untracked(), password.get_untracked());
            let created = functions::register(
                user.clone(),
                pass.clone(),
                email.get_untracked(),
                first_name.get_untracked(),
                last_name.get_untracked(),
            )
            .await;
            let signed_in = match created {
                Ok(_) => auth.login(user, pass).await,
                Err(e) => Err(e),
            };
            match signed_in {
                Ok(()) => navigate("/profile", Default::default()),
                Err(e) => {
                    error.set(Some((e.detail, e.field)));
                    pending.set(false);
                }
            }
        });
    };

    view! {
        <Title text="Register · Leptos Auth"/>
        <section class="card narrow">
            <h1>"Create an account"</h1>
            <form method="post" on:submit=on_submit>
                <div class="field">
                    <label for="reg-username">"Username"</label>
                    <input id="reg-username" name="username" autocomplete="username" required
                        aria-invalid=invalid("username") bind:value=username />
                </div>
                <div class="field">
                    <label for="reg-email">"Email"</label>
                    <input id="reg-email" name="email" type="email" autocomplete="email" required
                        aria-invalid=invalid("email") bind:value=email />
                </div>
                <div class="row">
                    <div class="field">
                        <label for="reg-first-name">"First name"</label>
                        <input id="reg-first-name" name="first_name" autocomplete="given-name" required
                            aria-invalid=invalid("first_name") bind:value=first_name />
                    </div>
                    <div class="field">
                        <label for="reg-last-name">"Last name"</label>
                        <input id="reg-last-name" name="last_name" autocomplete="family-name" required
                            aria-invalid=invalid("last_name") bind:value=last_name />
                    </div>
                </div>
                <div class="field">
                    <label for="reg-password">"Password"</label>
                    <input id="reg-password" name="password" type="password" autocomplete="new-password"
                        required aria-describedby="reg-password-hint"
                        aria-invalid=invalid("password") bind:value=password />
                    <p id="reg-password-hint" class="hint">
                        {format!("At least {PASSWORD_MIN_CHARS} characters, and not your username.")}
                    </p>
                </div>
                <p class="error" role="alert">{move || error.get().map(|(msg, _)| msg)}</p>
                <button type="submit" disabled=move || !hydrated.get() || pending.get()>
                    {move || if pending.get() { "Creating account…" } else { "Create account" }}
                </button>
            </form>
            <p class="aside">"Already registered? " <a href="/login">"Log in"</a> "."</p>
        </section>
    }
}
