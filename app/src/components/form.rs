//! Form building blocks: a labelled field, and the submit-once-and-show-the-error state that
//! every form shares.

use crate::api::ApiError;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::future::Future;

/// A form that submits one request at a time and shows what the server refused.
#[derive(Clone, Copy)]
pub struct Submission {
    pending: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
    hydrated: ReadSignal<bool>,
}

impl Submission {
    pub fn new() -> Self {
        Self { pending: RwSignal::new(false), error: RwSignal::new(None), hydrated: use_hydrated() }
    }

    /// Stops the browser's own submission and runs `request` unless one is already running.
    /// An error it returns is shown; success is up to `request` (usually a navigation).
    pub fn submit<F>(self, ev: SubmitEvent, request: impl FnOnce() -> F)
    where
        F: Future<Output = Result<(), ApiError>> + 'static,
    {
        ev.prevent_default();
        self.submit_with(request);
    }

    /// As `submit`, for a request started by something other than the form's submit (one
    /// of several buttons, say).
    pub fn submit_with<F>(self, request: impl FnOnce() -> F)
    where
        F: Future<Output = Result<(), ApiError>> + 'static,
    {
        if self.pending.get_untracked() {
            return;
        }
        self.pending.set(true);
        self.error.set(None);
        let request = request();
        spawn_local(async move {
            let result = request.await;
            self.pending.set(false);
            self.error.set(result.err());
        });
    }

    pub fn pending(self) -> bool {
        self.pending.get()
    }

    /// Disabled until hydrated (a click before the WASM runs would be lost, or fall back to
    /// a native submission that puts the password in a URL) and while a request runs.
    pub fn disabled(self) -> bool {
        !self.hydrated.get() || self.pending.get()
    }

    pub fn message(self) -> Option<String> {
        self.error.with(|e| e.as_ref().map(|e| e.detail.clone()))
    }

    /// True when the last error was about `field`.
    pub fn invalid(self, field: &'static str) -> Signal<bool> {
        Signal::derive(move || {
            self.error.with(|e| e.as_ref().and_then(|e| e.field.as_deref()) == Some(field))
        })
    }
}

impl Default for Submission {
    fn default() -> Self {
        Self::new()
    }
}

/// True once this page is hydrated (always false during SSR).
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

/// A labelled input bound to `value`, marked invalid when `invalid` says so, with an
/// optional hint that assistive technology reads with it.
#[component]
pub fn TextField(
    id: &'static str,
    label: &'static str,
    name: &'static str,
    autocomplete: &'static str,
    value: RwSignal<String>,
    #[prop(into, default = Signal::stored("text"))] kind: Signal<&'static str>,
    #[prop(optional)] invalid: Signal<bool>,
    #[prop(optional)] hint: Option<String>,
    /// The keyboard a phone shows (`numeric` for codes).
    #[prop(optional)]
    inputmode: Option<&'static str>,
    /// May be left empty (fields are required unless they say so).
    #[prop(optional)]
    optional: bool,
) -> impl IntoView {
    let hint_id = hint.as_ref().map(|_| format!("{id}-hint"));
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input
                id=id
                name=name
                type=move || kind.get()
                autocomplete=autocomplete
                inputmode=inputmode
                required=!optional
                aria-describedby=hint_id.clone()
                aria-invalid=move || invalid.get().then_some("true")
                bind:value=value
            />
            {hint.map(|text| view! { <p id=hint_id class="hint">{text}</p> })}
        </div>
    }
}

/// First and last name side by side, as registration and the profile form both ask for
/// them; `ids` keeps each page's field ids its own.
#[component]
pub fn NameFields(
    form: Submission,
    first_name: RwSignal<String>,
    last_name: RwSignal<String>,
    ids: (&'static str, &'static str),
) -> impl IntoView {
    view! {
        <div class="row">
            <TextField id=ids.0 label="First name" name="first_name"
                autocomplete="given-name" value=first_name invalid=form.invalid("first_name") />
            <TextField id=ids.1 label="Last name" name="last_name"
                autocomplete="family-name" value=last_name invalid=form.invalid("last_name") />
        </div>
    }
}

/// The password rules, ticked off as the user types: the same rules the server applies
/// ([`crate::rules::password_rules`]), so the list and the server's answer never disagree.
#[component]
pub fn PasswordRules(
    #[prop(into)] password: Signal<String>,
    #[prop(into)] username: Signal<String>,
) -> impl IntoView {
    let rules = move || {
        let rules = password.with(|p| username.with(|u| crate::rules::password_rules(p, u)));
        rules
            .into_iter()
            .filter(|r| r.always_shown || !r.met)
            .map(|r| {
                let (mark, state) = if r.met { ("✓", "met") } else { ("✗", "not met") };
                view! {
                    <li class:met=r.met>
                        <span aria-hidden="true">{mark}" "</span>
                        {r.text}
                        <span class="visually-hidden">{format!(" ({state})")}</span>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <ul class="password-rules" aria-label="Requirements" aria-live="polite">{rules}</ul>
    }
}
