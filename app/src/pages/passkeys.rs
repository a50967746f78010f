//! The security page's passkeys: the list (with when each was added and last used), adding
//! one made by this device or a phone (named, or named after the browser), and removing one.
//! Adding and removing need the password proved recently (`RecentAuth`), as the other
//! sign-in settings do.

use crate::api::PasskeyInfo;
use crate::auth::{passkey, use_auth};
use crate::components::{Submission, TextField};
use crate::functions;
use crate::pages::account::{ConfirmPassword, RecentAuth};
use crate::pages::security::when;
use leptos::prelude::*;

#[component]
pub fn Passkeys(recent: RecentAuth) -> impl IntoView {
    let auth = use_auth();
    let version = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        version.track();
        auth.with_access(functions::passkeys)
    });
    // Known only in the browser, after hydration.
    let supported = RwSignal::new(None::<bool>);
    Effect::new(move |_| supported.set(Some(passkey::supported())));
    let form = Submission::new();
    let removal = Submission::new();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let added = RwSignal::new(None::<String>);

    let on_submit = move |ev| {
        added.set(None);
        form.submit(ev, move || async move {
            let options = recent.call(password, functions::passkey_registration_options).await;
            let challenge = options?;
            password.set(String::new());
            let credential = passkey::create(&challenge.options).await?;
            let label = name.get_untracked();
            let add = |access| {
                functions::add_passkey(access, challenge.ceremony.clone(), label.clone(), credential.clone())
            };
            let info = auth.with_access(add).await?;
            name.set(String::new());
            added.set(Some(info.name));
            version.update(|v| *v += 1);
            Ok(())
        });
    };
    let remove = move |id: String| {
        added.set(None);
        removal.submit_with(move || async move {
            let result = recent
                .call(password, |access, typed| functions::remove_passkey(access, id.clone(), typed))
                .await;
            result?;
            password.set(String::new());
            version.update(|v| *v += 1);
            Ok(())
        });
    };

    view! {
        <section class="card" aria-labelledby="passkeys-title">
            <h2 id="passkeys-title">"Passkeys"</h2>
            <p>"A passkey signs you in with your device's screen lock (a fingerprint, your face or a PIN) \
                instead of a password and a code. It only works on this site, so it cannot be phished."</p>
            <Suspense fallback=|| view! { <p class="status" role="status">"Loading your passkeys…"</p> }>
                {move || list.get().map(|result| match result {
                    Ok(keys) if keys.is_empty() => view! { <p>"You have no passkeys yet."</p> }.into_any(),
                    Ok(keys) => view! { <PasskeyTable keys=keys remove=remove/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.detail}</p> }.into_any(),
                })}
            </Suspense>
            <p class="error" role="alert">{move || removal.message()}</p>
            {move || match supported.get() {
                Some(false) => view! {
                    <p class="status">"This browser cannot make passkeys. You can still sign in with one made elsewhere."</p>
                }.into_any(),
                _ => view! {
                    <form method="post" on:submit=on_submit>
                        <TextField id="passkey-name" label="Name (optional)" name="name" autocomplete="off"
                            optional=true value=name invalid=form.invalid("name")
                            hint="To tell your passkeys apart, such as \"Work laptop\".".to_owned() />
                        <ConfirmPassword id="passkey-password" recent=recent value=password form=form/>
                        <p class="error" role="alert">{move || form.message()}</p>
                        {move || added.get().map(|name| view! {
                            <p class="status" role="status">{format!("Passkey \"{name}\" added. Your other sessions have ended.")}</p>
                        })}
                        <button type="submit" disabled=move || form.disabled() || !recent.known()>
                            {move || if form.pending() { "Waiting for your device…" } else { "Add a passkey" }}
                        </button>
                    </form>
                }.into_any(),
            }}
        </section>
    }
    .into_any()
}

#[component]
fn PasskeyTable(keys: Vec<PasskeyInfo>, remove: impl Fn(String) + Copy + 'static) -> impl IntoView {
    view! {
        <table class="users">
            <thead>
                <tr><th scope="col">"Name"</th><th scope="col">"Added"</th><th scope="col">"Last used"</th>
                    <th scope="col"><span class="visually-hidden">"Action"</span></th></tr>
            </thead>
            <tbody>
                {keys.into_iter().map(|key| {
                    let id = key.id.clone();
                    view! {
                        <tr>
                            <th scope="row">{key.name.clone()}</th>
                            <td data-label="Added">{when(key.created_at)}</td>
                            <td data-label="Last used">{key.last_used_at.map_or_else(|| "Never".to_owned(), when)}</td>
                            <td>
                                <button type="button" class="secondary" aria-label=format!("Remove passkey {}", key.name)
                                    on:click=move |_| remove(id.clone())>"Remove"</button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
