use crate::api::SessionInfo;
use crate::auth::{AuthState, use_auth};
use crate::components::{PasswordRules, RequireAuth, Submission, TextField};
use crate::functions;
use crate::pages::account::{ChangeEmail, DeleteAccount, RecentAuth};
use crate::pages::identities::SignInProviders;
use crate::pages::passkeys::Passkeys;
use crate::pages::two_step::TwoStep;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

/// Where the user is signed in (ending any of those sessions, or all), the password, the
/// address, and deleting the account.
#[component]
pub fn SecurityPage() -> impl IntoView {
    view! {
        <Title text="Security · Leptos Auth"/>
        <RequireAuth>
            <Sessions/>
            <ChangePassword/>
            <AccountSettings/>
        </RequireAuth>
    }
}

#[component]
fn AccountSettings() -> impl IntoView {
    let recent = RecentAuth::new();
    // Erased: the page's nested view type would otherwise exceed the compiler's depth limit.
    view! {
        <Passkeys recent=recent/>
        <SignInProviders recent=recent/>
        <TwoStep recent=recent/>
        <ChangeEmail recent=recent/>
        <DeleteAccount recent=recent/>
    }
    .into_any()
}

#[component]
fn Sessions() -> impl IntoView {
    let auth = use_auth();
    let version = RwSignal::new(0u32);
    let failure = RwSignal::new(None::<String>);
    let sessions = LocalResource::new(move || {
        version.track();
        auth.with_access(functions::sessions)
    });
    let sign_out = move |session_id: String| {
        spawn_local(async move {
            let call = |access| functions::revoke_session(access, session_id.clone());
            match auth.with_access(call).await {
                Ok(()) => {
                    failure.set(None);
                    version.update(|v| *v += 1);
                }
                Err(e) => failure.set(Some(e.detail)),
            }
        });
    };
    let sign_out_everywhere = move |_| {
        spawn_local(async move {
            match auth.with_access(functions::logout_everywhere).await {
                // This session ended too: forget it here and go to the login page.
                Ok(()) => auth.logout().await,
                Err(e) => failure.set(Some(e.detail)),
            }
        });
    };
    view! {
        <section class="card wide">
            <h1>"Where you're signed in"</h1>
            {move || failure.get().map(|detail| view! { <p class="error" role="alert">{detail}</p> })}
            <Suspense fallback=|| view! { <p class="status" role="status">"Loading your sessions…"</p> }>
                {move || sessions.get().map(|result| match result {
                    Ok(list) => view! { <SessionTable sessions=list sign_out=sign_out/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.detail}</p> }.into_any(),
                })}
            </Suspense>
            <button type="button" class="secondary" on:click=sign_out_everywhere>"Sign out everywhere"</button>
        </section>
    }
}

#[component]
fn SessionTable(sessions: Vec<SessionInfo>, sign_out: impl Fn(String) + Copy + 'static) -> impl IntoView {
    view! {
        <table class="users">
            <thead>
                <tr><th scope="col">"Device"</th><th scope="col">"Signed in"</th><th scope="col">"Last used"</th>
                    <th scope="col"><span class="visually-hidden">"Action"</span></th></tr>
            </thead>
            <tbody>
                {sessions.into_iter().map(|s| {
                    let device = s.user_agent.clone().unwrap_or_else(|| "Unknown device".into());
                    let label = format!("{} ({})", device_name(&device), s.ip.clone().unwrap_or_default());
                    let id = s.id.clone();
                    view! {
                        <tr>
                            <th scope="row" title=device>
                                {label.clone()}
                                {s.current.then(|| view! { <strong class="badge">" This device"</strong> })}
                            </th>
                            <td data-label="Signed in">{when(s.created_at)}</td>
                            <td data-label="Last used">{when(s.last_used_at)}</td>
                            <td>
                                {(!s.current).then(|| view! {
                                    <button type="button" class="secondary"
                                        aria-label=format!("Sign out {label}")
                                        on:click=move |_| sign_out(id.clone())>"Sign out"</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// A short name for a user agent: the browser and the system, as people name them.
fn device_name(user_agent: &str) -> String {
    let browser = ["Firefox", "Edg", "Chrome", "Safari"]
        .into_iter()
        .find(|b| user_agent.contains(b))
        .map(|b| if b == "Edg" { "Edge" } else { b });
    let system =
        ["Android", "iPhone", "Windows", "Mac OS", "Linux"].into_iter().find(|s| user_agent.contains(s));
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        _ => user_agent.chars().take(40).collect(),
    }
}

/// Unix seconds as the browser's local date and time.
pub(crate) fn when(unix_secs: u64) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let date = js_sys::Date::new_0();
        date.set_time(unix_secs as f64 * 1000.0);
        String::from(date.to_locale_string("default", &js_sys::wasm_bindgen::JsValue::UNDEFINED))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        unix_secs.to_string()
    }
}

#[component]
fn ChangePassword() -> impl IntoView {
    let auth = use_auth();
    let form = Submission::new();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let done = RwSignal::new(false);
    let username = Signal::derive(move || match auth.state() {
        AuthState::SignedIn(user) => user.username,
        _ => String::new(),
    });
    let on_submit = move |ev| {
        done.set(false);
        form.submit(ev, move || async move {
            let (old_password, new_password) = (current.get_untracked(), new.get_untracked());
            let call =
                |access| functions::change_password(access, old_password.clone(), new_password.clone());
            auth.with_access(call).await?;
            current.set(String::new());
            new.set(String::new());
            done.set(true);
            Ok(())
        });
    };
    view! {
        <section class="card">
            <h2>"Change your password"</h2>
            <form method="post" on:submit=on_submit>
                <TextField id="current-password" label="Current password" name="current_password"
                    autocomplete="current-password" kind="password" value=current
                    invalid=form.invalid("current_password") />
                <TextField id="new-password" label="New password" name="new_password"
                    autocomplete="new-password" kind="password" value=new invalid=form.invalid("new_password")
                    hint="It must also not be easy to guess: that is checked when you submit.".to_owned() />
                <PasswordRules password=new username=username />
                <p class="error" role="alert">{move || form.message()}</p>
                {move || done.get().then(|| view! {
                    <p class="status" role="status">"Password changed. Your other sessions have ended."</p>
                })}
                <button type="submit" disabled=move || form.disabled()>
                    {move || if form.pending() { "Changing…" } else { "Change password" }}
                </button>
            </form>
        </section>
    }
}
