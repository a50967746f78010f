//! The security page's sign-in providers: the provider accounts linked to this one (with
//! when each was linked and last used), linking another through the provider's own login,
//! and unlinking one (never the last way to sign in). Both need the password proved
//! recently (`RecentAuth`), as the other sign-in settings do.

use crate::api::{LinkedIdentity, ProviderInfo};
use crate::auth::use_auth;
use crate::components::Submission;
use crate::functions;
use crate::pages::account::{ConfirmPassword, RecentAuth};
use crate::pages::providers::refusal_text;
use crate::pages::security::when;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInProviders(recent: RecentAuth) -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let version = RwSignal::new(0u32);
    let providers = LocalResource::new(functions::sign_in_providers);
    let linked = LocalResource::new(move || {
        version.track();
        auth.with_access(functions::linked_identities)
    });
    let form = Submission::new();
    // Every row's button: off while a request runs or recency is unknown.
    let disabled = Signal::derive(move || form.disabled() || !recent.known());
    let password = RwSignal::new(String::new());
    // Back from the provider: how linking went.
    let outcome = move || {
        let query = query.read();
        if let Some(provider) = query.get("provider_linked") {
            Some((false, format!("Linked. Your {provider} account now signs you in here too.")))
        } else {
            query.get("provider_error").map(|code| (true, refusal_text(&code).to_owned()))
        }
    };

    let link = move |provider: String| {
        form.submit_with(move || async move {
            let call = |access, typed| functions::link_identity(access, provider.clone(), typed);
            let result = recent.call(password, call).await;
            // Off to the provider; its callback brings the browser back here.
            let _ = window().location().set_href(&result?);
            Ok(())
        });
    };
    let unlink = move |provider: String| {
        form.submit_with(move || async move {
            let call = |access, typed| functions::unlink_identity(access, provider.clone(), typed);
            let result = recent.call(password, call).await;
            result?;
            password.set(String::new());
            version.update(|v| *v += 1);
            Ok(())
        });
    };

    view! {
        // Read under Suspense (not Show): a resource that resolves after the page is gone
        // (the session ended meanwhile) must find no reader left.
        <Suspense fallback=|| ()>
        {move || providers.get().and_then(Result::ok).filter(|p| !p.is_empty()).map(|all| view! {
            <section class="card" aria-labelledby="providers-title">
                <h2 id="providers-title">"Sign-in providers"</h2>
                <p>"Accounts elsewhere that sign you in here with \"Continue with …\" on the login page."</p>
                {move || outcome().map(|(error, text)| if error {
                    view! { <p class="error" role="alert">{text}</p> }.into_any()
                } else {
                    view! { <p class="status" role="status">{text}</p> }.into_any()
                })}
                <Suspense fallback=|| view! { <p class="status" role="status">"Loading…"</p> }>
                    {move || {
                        let all = all.clone();
                        linked.get().map(|result| match result {
                            Ok(linked) => view! {
                                <ProviderTable all=all linked=linked link=link unlink=unlink disabled=disabled/>
                            }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.detail}</p> }.into_any(),
                        })
                    }}
                </Suspense>
                <ConfirmPassword id="providers-password" recent=recent value=password form=form/>
                <p class="error" role="alert">{move || form.message()}</p>
            </section>
        })}
        </Suspense>
    }
}

#[component]
fn ProviderTable(
    all: Vec<ProviderInfo>,
    linked: Vec<LinkedIdentity>,
    link: impl Fn(String) + Copy + 'static,
    unlink: impl Fn(String) + Copy + 'static,
    disabled: Signal<bool>,
) -> impl IntoView {
    let rows = all.into_iter().map(|provider| {
        let identity = linked.iter().find(|l| l.provider == provider.id).cloned();
        let id = provider.id.clone();
        let name = provider.name.clone();
        let action = match &identity {
            Some(_) => view! {
                <button type="button" class="secondary" aria-label=format!("Unlink {name}")
                    disabled=move || disabled.get() on:click=move |_| unlink(id.clone())>"Unlink"</button>
            }
            .into_any(),
            None => view! {
                <button type="button" class="secondary" aria-label=format!("Link {name}")
                    disabled=move || disabled.get() on:click=move |_| link(id.clone())>"Link"</button>
            }
            .into_any(),
        };
        let (account, since, used) = match identity {
            Some(i) => (
                i.email.unwrap_or_else(|| "Linked".to_owned()),
                when(i.created_at),
                i.last_used_at.map_or_else(|| "Never".to_owned(), when),
            ),
            None => ("Not linked".to_owned(), String::new(), String::new()),
        };
        view! {
            <tr>
                <th scope="row">{provider.name}</th>
                <td data-label="Account">{account}</td>
                <td data-label="Linked">{since}</td>
                <td data-label="Last used">{used}</td>
                <td>{action}</td>
            </tr>
        }
    });
    view! {
        <table class="users">
            <thead>
                <tr><th scope="col">"Provider"</th><th scope="col">"Account"</th><th scope="col">"Linked"</th>
                    <th scope="col">"Last used"</th><th scope="col"><span class="visually-hidden">"Action"</span></th></tr>
            </thead>
            <tbody>{rows.collect_view()}</tbody>
        </table>
    }
}
