//! The security page's two-step sign-in: an authenticator app (set up with a QR code drawn
//! on the server), its recovery codes (shown once, to copy or download), and turning it off.
//! Each change needs the password proved recently (`RecentAuth`).

use crate::api::{RecoveryCodes, TotpEnrolment};
use crate::auth::use_auth;
use crate::components::{Submission, TextField};
use crate::functions;
use crate::pages::account::{ConfirmPassword, RecentAuth};
use leptos::prelude::*;

/// At or below this many recovery codes left, the page says to make new ones.
const FEW_CODES: u64 = 3;

/// Where the section is: showing the state, setting up, or showing new codes.
#[derive(Clone)]
enum Step {
    Status,
    SettingUp(TotpEnrolment),
    Codes(Vec<String>),
}

#[component]
pub fn TwoStep(recent: RecentAuth) -> impl IntoView {
    let auth = use_auth();
    let version = RwSignal::new(0u32);
    let step = RwSignal::new(Step::Status);
    let status = LocalResource::new(move || {
        version.track();
        auth.with_access(functions::mfa_status)
    });
    let show_codes = move |codes: RecoveryCodes| {
        step.set(Step::Codes(codes.recovery_codes));
        version.update(|v| *v += 1);
    };
    // One Suspense whose content follows both the status and the step, as the profile page
    // does: a Suspense unmounted while a form inside it is still answering panics.
    view! {
        <section class="card">
            <h2>"Two-step sign-in"</h2>
            <Suspense fallback=|| view! { <p class="status" role="status">"Loading…"</p> }>
                {move || {
                    let current = step.get();
                    status.get().map(|result| match (current, result) {
                        (Step::SettingUp(enrolment), _) => view! {
                            <SetUp enrolment=enrolment done=show_codes cancel=move || step.set(Step::Status)/>
                        }.into_any(),
                        (Step::Codes(codes), _) => view! {
                            <ShowCodes codes=codes done=move || step.set(Step::Status)/>
                        }.into_any(),
                        (Step::Status, Ok(s)) if s.totp => view! {
                            <p>"On: signing in asks for a code from your authenticator app."</p>
                            <p class:warning=s.recovery_codes_left <= FEW_CODES>
                                {format!("{} of 10 recovery codes left.", s.recovery_codes_left)}
                                {(s.recovery_codes_left <= FEW_CODES).then_some(" Make new ones before you run out.")}
                            </p>
                            <TotpOn recent=recent show_codes=show_codes changed=move || version.update(|v| *v += 1)/>
                        }.into_any(),
                        (Step::Status, Ok(_)) => view! {
                            <p>"Off. With it on, a stolen password is not enough to sign in: you also enter a code from an app on your phone."</p>
                            <Enrol recent=recent started=move |e| step.set(Step::SettingUp(e))/>
                        }.into_any(),
                        (Step::Status, Err(e)) => view! { <p class="error" role="alert">{e.detail}</p> }.into_any(),
                    })
                }}
            </Suspense>
        </section>
    }
    .into_any()
}

#[component]
fn Enrol(recent: RecentAuth, started: impl Fn(TotpEnrolment) + Copy + 'static) -> impl IntoView {
    let form = Submission::new();
    let password = RwSignal::new(String::new());
    let on_submit = move |ev| {
        form.submit(ev, move || async move {
            let result = recent.call(password, functions::enrol_totp).await;
            started(result?);
            Ok(())
        });
    };
    view! {
        <form method="post" on:submit=on_submit>
            <ConfirmPassword id="totp-password" recent=recent value=password form=form />
            <p class="error" role="alert">{move || form.message()}</p>
            <button type="submit" disabled=move || form.disabled() || !recent.known()>
                {move || if form.pending() { "Starting…" } else { "Set up an authenticator app" }}
            </button>
        </form>
    }
}

#[component]
fn SetUp(
    enrolment: TotpEnrolment,
    done: impl Fn(RecoveryCodes) + Copy + 'static,
    cancel: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let auth = use_auth();
    let form = Submission::new();
    let code = RwSignal::new(String::new());
    let on_submit = move |ev| {
        form.submit(ev, move || async move {
            let typed = code.get_untracked();
            done(auth.with_access(|access| functions::confirm_totp(access, typed.clone())).await?);
            Ok(())
        });
    };
    view! {
        <ol class="steps">
            <li>"Scan this code with an authenticator app (any app that does TOTP)."</li>
        </ol>
        // Drawn by the server as SVG from the otpauth:// URI; no script, no image request.
        <div class="qr" role="img" aria-label="QR code of your authenticator key" inner_html=enrolment.qr_svg></div>
        <p>"Or type this key into the app: " <code class="secret">{enrolment.secret}</code></p>
        <form method="post" on:submit=on_submit>
            <TextField id="totp-confirm-code" label="Code from the app" name="code" autocomplete="one-time-code"
                inputmode="numeric" value=code invalid=form.invalid("code") />
            <p class="error" role="alert">{move || form.message()}</p>
            <div class="actions">
                <button type="submit" disabled=move || form.disabled()>
                    {move || if form.pending() { "Checking…" } else { "Turn on" }}
                </button>
                <button type="button" class="secondary" on:click=move |_| cancel()>"Cancel"</button>
            </div>
        </form>
    }
}

#[component]
fn ShowCodes(codes: Vec<String>, done: impl Fn() + Copy + 'static) -> impl IntoView {
    let text = codes.join("\n");
    let download = format!("data:text/plain;charset=utf-8,{}", urlencoding::encode(&format!("{text}\n")));
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(target_arch = "wasm32")]
        {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&text);
        }
        copied.set(true);
    };
    view! {
        <p class="notice" role="status">
            "Save these recovery codes somewhere safe. Each signs you in once if you lose your phone. They are shown only now."
        </p>
        <ul class="codes" aria-label="Recovery codes">
            {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
        </ul>
        <div class="actions">
            <button type="button" class="secondary" on:click=copy>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
            <a class="button secondary" href=download download="leptos-auth-recovery-codes.txt">"Download"</a>
            <button type="button" on:click=move |_| done()>"I saved them"</button>
        </div>
    }
}

#[component]
fn TotpOn(
    recent: RecentAuth,
    show_codes: impl Fn(RecoveryCodes) + Copy + 'static,
    changed: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let form = Submission::new();
    let password = RwSignal::new(String::new());
    let regenerate = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        form.submit_with(move || async move {
            let result = recent.call(password, functions::regenerate_recovery_codes).await;
            show_codes(result?);
            Ok(())
        });
    };
    let turn_off = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        form.submit_with(move || async move {
            let result = recent.call(password, functions::disable_totp).await;
            result?;
            changed();
            Ok(())
        });
    };
    view! {
        <form method="post" on:submit=|ev| ev.prevent_default()>
            <ConfirmPassword id="totp-change-password" recent=recent value=password form=form />
            <p class="error" role="alert">{move || form.message()}</p>
            <div class="actions">
                <button type="button" class="secondary" disabled=move || form.disabled() || !recent.known()
                    on:click=regenerate>"Make new recovery codes"</button>
                <button type="button" class="destructive" disabled=move || form.disabled() || !recent.known()
                    on:click=turn_off>"Turn off"</button>
            </div>
        </form>
    }
}
