use crate::api::Profile;
use crate::auth::use_auth;
use crate::components::{NameFields, RequireAuth, Submission};
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
    // Bumped after a save, to show what the server stored.
    let version = RwSignal::new(0u32);
    let editing = RwSignal::new(false);
    let profile = LocalResource::new(move || {
        version.track();
        auth.with_access(functions::profile)
    });
    let saved = move || {
        editing.set(false);
        version.update(|v| *v += 1);
    };
    view! {
        <section class="card">
            <h1>"Your profile"</h1>
            <Suspense fallback=|| view! { <p class="status" role="status">"Loading your profile…"</p> }>
                {move || profile.get().map(|result| match result {
                    Ok(p) if editing.get() => view! { <ProfileForm profile=p saved=saved cancel=move || editing.set(false)/> }.into_any(),
                    Ok(p) => view! {
                        {(!p.email_verified).then(|| view! { <VerifyBanner email=p.email.clone()/> })}
                        <dl class="profile">
                            <dt>"Username"</dt><dd>{p.username}</dd>
                            <dt>"First name"</dt><dd>{p.first_name}</dd>
                            <dt>"Last name"</dt><dd>{p.last_name}</dd>
                            <dt>"Email"</dt><dd>{p.email}</dd>
                        </dl>
                        <button type="button" class="secondary" on:click=move |_| editing.set(true)>"Edit profile"</button>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.detail}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// First and last name, checked by the server; an error is shown on its field. The address
/// changes on the security page, through a mailed link.
#[component]
fn ProfileForm(
    profile: Profile,
    saved: impl Fn() + Copy + 'static,
    cancel: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let auth = use_auth();
    let form = Submission::new();
    let first_name = RwSignal::new(profile.first_name);
    let last_name = RwSignal::new(profile.last_name);
    let on_submit = move |ev| {
        form.submit(ev, move || async move {
            let (first, last) = (first_name.get_untracked(), last_name.get_untracked());
            let call = |access| functions::update_profile(access, first.clone(), last.clone());
            auth.with_access(call).await?;
            saved();
            Ok(())
        });
    };
    view! {
        <form method="post" on:submit=on_submit>
            <NameFields form=form first_name=first_name last_name=last_name
                ids=("profile-first-name", "profile-last-name") />
            <p class="error" role="alert">{move || form.message()}</p>
            <div class="actions">
                <button type="submit" disabled=move || form.disabled()>
                    {move || if form.pending() { "Saving…" } else { "Save" }}
                </button>
                <button type="button" class="secondary" on:click=move |_| cancel()>"Cancel"</button>
            </div>
        </form>
    }
}

/// Until the address is proved: what to do, and a way to get a new link.
#[component]
fn VerifyBanner(email: String) -> impl IntoView {
    let auth = use_auth();
    let form = Submission::new();
    let sent = RwSignal::new(false);
    let on_submit = move |ev| {
        form.submit(ev, move || async move {
            auth.with_access(functions::resend_verification).await?;
            sent.set(true);
            Ok(())
        });
    };
    view! {
        <div class="banner">
            <p>"Please confirm your email address: open the link we mailed to " <strong>{email}</strong> "."</p>
            <form method="post" on:submit=on_submit>
                <p class="error" role="alert">{move || form.message()}</p>
                {move || sent.get().then(|| view! { <p class="status" role="status">"A new link is on its way."</p> })}
                <button type="submit" class="secondary" disabled=move || form.disabled()>
                    {move || if form.pending() { "Sending…" } else { "Resend the link" }}
                </button>
            </form>
        </div>
    }
}
