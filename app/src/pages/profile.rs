use crate::auth::use_auth;
use crate::components::RequireAuth;
use crate::functions;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Your profile · Leptos Auth"/>
        <RequireAuth>
            <ProfileCard/>
        </RequireAuth>
    }
}

#[component]
fn ProfileCard() -> impl IntoView {
    let auth = use_auth();
    let profile = LocalResource::new(move || auth.with_access(functions::profile));
    view! {
        <section class="card">
            <h1>"Your profile"</h1>
            <Suspense fallback=|| view! { <p class="status" role="status">"Loading your profile…"</p> }>
                {move || profile.get().map(|result| match result {
                    Ok(p) => view! {
                        <dl class="profile">
                            <dt>"Username"</dt><dd>{p.username}</dd>
                            <dt>"First name"</dt><dd>{p.first_name}</dd>
                            <dt>"Last name"</dt><dd>{p.last_name}</dd>
                            <dt>"Email"</dt><dd>{p.email}</dd>
                        </dl>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.detail}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
