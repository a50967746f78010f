//! The browser's half of a passkey ceremony: `navigator.credentials.create` / `.get` with the
//! server's options, and the answer as the JSON text the server reads. The options arrive in
//! the W3C JSON form, and the browser's own `PublicKeyCredential.parse…OptionsFromJSON` and
//! `toJSON()` convert them, so the WASM bundle carries no WebAuthn encoding of its own.
//! Browser only: called from event handlers and effects, never during SSR.

use crate::api::{ApiError, ErrorCode};
use js_sys::{Function, Promise, Reflect};
use leptos::prelude::window;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why a ceremony ended without an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasskeyError {
    /// The person closed the browser's dialog, or it timed out: nothing to report loudly.
    Cancelled,
    /// This browser has no passkey support (or not the JSON helpers this app relies on).
    Unsupported,
    /// Something else, said for people.
    Failed(String),
}

impl From<PasskeyError> for ApiError {
    fn from(e: PasskeyError) -> Self {
        let detail = match e {
            PasskeyError::Cancelled => "The passkey request was cancelled or timed out.".to_owned(),
            PasskeyError::Unsupported => "This browser cannot use passkeys.".to_owned(),
            PasskeyError::Failed(detail) => detail,
        };
        ApiError::new(ErrorCode::Invalid, detail)
    }
}

/// True when the browser can make and use passkeys the way this app asks.
pub fn supported() -> bool {
    static_method("parseRequestOptionsFromJSON").is_some()
}

/// True when the browser offers passkeys in a username field's autofill (conditional
/// mediation).
pub async fn autofill_available() -> bool {
    let Some(check) = static_method("isConditionalMediationAvailable") else { return false };
    let Some(class) = class() else { return false };
    let Ok(promise) = check.call0(&class).and_then(|p| p.dyn_into::<Promise>()) else {
        return false;
    };
    JsFuture::from(promise).await.ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

/// Makes a passkey: `options` as `passkey_registration_options` gave them. The new
/// credential's JSON text, for `add_passkey`.
pub async fn create(options: &serde_json::Value) -> Result<String, PasskeyError> {
    let public_key = parsed(options, "parseCreationOptionsFromJSON")?;
    let request = web_sys::CredentialCreationOptions::new();
    set_public_key(&request, &public_key);
    let container = window().navigator().credentials();
    let promise = container.create_with_options(&request).map_err(|e| failure(&e, options))?;
    answer(promise, options).await
}

/// Signs in with a passkey: `options` as `passkey_sign_in_options` gave them. With a
/// `signal`, the request is conditional: the browser offers the passkeys it holds in the
/// username field's autofill, and the request waits (until aborted) for one to be picked.
pub async fn get(
    options: &serde_json::Value,
    conditional: Option<&web_sys::AbortSignal>,
) -> Result<String, PasskeyError> {
    let public_key = parsed(options, "parseRequestOptionsFromJSON")?;
    let request = web_sys::CredentialRequestOptions::new();
    set_public_key(&request, &public_key);
    if let Some(signal) = conditional {
        // web-sys has no binding for `mediation` yet.
        let _ = Reflect::set(&request, &"mediation".into(), &"conditional".into());
        request.set_signal(signal);
    }
    let container = window().navigator().credentials();
    let promise = container.get_with_options(&request).map_err(|e| failure(&e, options))?;
    answer(promise, options).await
}

/// web-sys types `publicKey` only with the option dictionaries' own bindings, which would add
/// code for what the browser's JSON parser already built.
fn set_public_key(request: &JsValue, public_key: &JsValue) {
    let _ = Reflect::set(request, &"publicKey".into(), public_key);
}

fn class() -> Option<JsValue> {
    Reflect::get(&window(), &"PublicKeyCredential".into()).ok().filter(|c| !c.is_undefined())
}

fn static_method(name: &str) -> Option<Function> {
    Reflect::get(&class()?, &name.into()).ok()?.dyn_into().ok()
}

/// `options.publicKey` turned into the browser's own options object.
fn parsed(options: &serde_json::Value, parser: &str) -> Result<JsValue, PasskeyError> {
    let parse = static_method(parser).ok_or(PasskeyError::Unsupported)?;
    let json = js_sys::JSON::parse(&options["publicKey"].to_string())
        .map_err(|_| PasskeyError::Failed("The server's passkey options could not be read.".into()))?;
    parse.call1(&JsValue::NULL, &json).map_err(|e| failure(&e, options))
}

async fn answer(promise: Promise, options: &serde_json::Value) -> Result<String, PasskeyError> {
    let credential = JsFuture::from(promise).await.map_err(|e| failure(&e, options))?;
    if credential.is_null() {
        return Err(PasskeyError::Cancelled);
    }
    let to_json: Function = Reflect::get(&credential, &"toJSON".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or(PasskeyError::Unsupported)?;
    let json = to_json.call0(&credential).map_err(|e| failure(&e, options))?;
    js_sys::JSON::stringify(&json)
        .map(String::from)
        .map_err(|_| PasskeyError::Failed("The passkey's answer could not be read.".into()))
}

/// A DOMException from the ceremony, said for people.
fn failure(error: &JsValue, options: &serde_json::Value) -> PasskeyError {
    let name = Reflect::get(error, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "AbortError" => PasskeyError::Cancelled,
        "InvalidStateError" => {
            PasskeyError::Failed("This device already holds a passkey for your account.".into())
        }
        "NotSupportedError" => PasskeyError::Unsupported,
        "SecurityError" => {
            let pk = &options["publicKey"];
            let rp = pk["rpId"].as_str().or_else(|| pk["rp"]["id"].as_str()).unwrap_or("this site's address");
            PasskeyError::Failed(format!("Passkeys here belong to {rp}: open this page at that address."))
        }
        _ => PasskeyError::Failed("The passkey request failed. Try again.".into()),
    }
}
