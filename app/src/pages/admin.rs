use crate::api::{ErrorCode, UserSummary};
use crate::auth::{AuthState, use_auth};
use crate::components::RequireAuth;
use crate::functions;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

/// The accounts, for admins: disable (ending all their sessions) or enable each one. The
/// server decides who is an admin; anyone else gets its 403 and sees the Unauthorized page.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Users · Leptos Auth"/>
        <RequireAuth>
            <UserList/>
        </RequireAuth>
    }
}

#[component]
fn UserList() -> impl IntoView {
    let auth = use_auth();
    // Bumped after each change, to load the list again.
    let version = RwSignal::new(0u32);
    let failure = RwSignal::new(None::<String>);
    let users = LocalResource::new(move || {
        version.track();
        auth.with_access(functions::admin_users)
    });
    let set_disabled = move |username: String, disabled: bool| {
        spawn_local(async move {
            let call = |access| functions::admin_set_disabled(access, username.clone(), disabled);
            match auth.with_access(call).await {
                Ok(()) => {
                    failure.set(None);
                    version.update(|v| *v += 1);
                }
                Err(e) => failure.set(Some(e.detail)),
            }
        });
    };
    view! {
        <Suspense fallback=|| view! { <p class="status" role="status">"Loading the accounts…"</p> }>
            {move || users.get().map(|result| match result {
                Ok(list) => view! {
                    <section class="card wide">
                        <h1>"Users"</h1>
                        {move || failure.get().map(|detail| view! { <p class="error" role="alert">{detail}</p> })}
                        <UserTable users=list set_disabled=set_disabled/>
                    </section>
                }.into_any(),
                Err(e) if e.code == ErrorCode::PermissionDenied => view! { <Unauthorized/> }.into_any(),
                Err(e) => view! {
                    <section class="card"><p class="error" role="alert">{e.detail}</p></section>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn UserTable(users: Vec<UserSummary>, set_disabled: impl Fn(String, bool) + Copy + 'static) -> impl IntoView {
    let me = match use_auth().state() {
        AuthState::SignedIn(user) => Some(user.username),
        _ => None,
    };
    view! {
        <table class="users">
            <thead>
                <tr><th scope="col">"Username"</th><th scope="col">"Name"</th><th scope="col">"Email"</th>
                    <th scope="col">"Role"</th><th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Action"</span></th></tr>
            </thead>
            <tbody>
                {users.into_iter().map(|user| {
                    let (username, disabled) = (user.username.clone(), user.disabled);
                    let action = if disabled { "Enable" } else { "Disable" };
                    // The server refuses it anyway: an admin can't lock themselves out.
                    let is_me = Some(&user.username) == me.as_ref();
                    view! {
                        <tr>
                            <th scope="row">{user.username.clone()}</th>
                            <td data-label="Name">{format!("{} {}", user.first_name, user.last_name)}</td>
                            <td data-label="Email">{user.email}</td>
                            <td data-label="Role">{user.role.as_str()}</td>
                            <td data-label="Status">{if disabled { "disabled" } else { "active" }}</td>
                            <td>
                                {(!is_me).then(|| view! {
                                    <button type="button" class="secondary"
                                        aria-label=format!("{action} {}", user.username)
                                        on:click=move |_| set_disabled(username.clone(), !disabled)>
                                        {action}
                                    </button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// A signed-in user opened a page their account may not see: say so, rather than sending
/// them to the login page they are already past.
#[component]
pub fn Unauthorized() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"Not allowed"</h1>
            <p>"Your account doesn't have access to this page. " <a href="/">"Go to the home page"</a> "."</p>
        </section>
    }
}
