//! The relying party of passkeys (WebAuthn): who this server is to an authenticator. Its id
//! and its one accepted origin come from `PUBLIC_URL`; an origin browsers would never offer
//! passkeys on is refused here, so the server can refuse to start with it.

use webauthn_rs::prelude::{CreationChallengeResponse, Url, Webauthn, WebauthnBuilder};
/// The browser's answers (`PublicKeyCredential.toJSON()`), as the REST handlers read them.
pub use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

/// How long a ceremony may take, from its options to its answer (also the browser's timeout).
pub const CEREMONY_SECS: u64 = 300;

/// The relying party for `origin` (`https://auth.example.com`), or why passkeys cannot work
/// there.
pub fn relying_party(origin: &str, name: &str) -> Result<Webauthn, String> {
    let url = Url::parse(origin).map_err(|_| format!("{origin:?} is not a URL"))?;
    let Some(host) = url.domain() else {
        return Err(format!(
            "{origin}: a passkey belongs to a domain name, and browsers refuse an IP address; \
             use the name people visit (http://localhost:3000 on your own machine)"
        ));
    };
    let local = host == "localhost" || host.ends_with(".localhost");
    if url.scheme() != "https" && !local {
        return Err(format!("{origin}: browsers offer passkeys only on https:// (or on http://localhost)"));
    }
    WebauthnBuilder::new(host, &url)
        .map(|b| b.rp_name(name).timeout(std::time::Duration::from_secs(CEREMONY_SECS)))
        .and_then(WebauthnBuilder::build)
        .map_err(|e| format!("{origin}: {e}"))
}

/// Asks for a discoverable credential: a passkey the browser can offer before anyone types a
/// username (autofill, the "Sign in with a passkey" button). webauthn-rs asks for one only
/// if the authenticator prefers; every passkey provider can make one.
pub fn require_discoverable(options: &mut CreationChallengeResponse) {
    use webauthn_rs_proto::ResidentKeyRequirement;
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
}

/// The options as the browser's JSON parsers take them. webauthn-rs writes absent members
/// as `null`, which `parse…OptionsFromJSON` refuses (a dictionary member is left out, not
/// null), so they go.
pub fn browser_options(options: impl serde::Serialize) -> Result<serde_json::Value, serde_json::Error> {
    fn drop_nulls(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(drop_nulls);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(options)?;
    drop_nulls(&mut value);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::relying_party;

    #[test]
    fn only_origins_browsers_offer_passkeys_on_make_a_relying_party() {
        for good in ["https://auth.example.com", "http://localhost:3000", "http://app.localhost:8080"] {
            assert!(relying_party(good, "x").is_ok(), "{good}");
        }
        for (bad, why) in [
            ("http://127.0.0.1:3000", "IP address"),
            ("https://[::1]:3000", "IP address"),
            ("http://auth.example.com", "https://"),
            ("not a url", "not a URL"),
        ] {
            let err = relying_party(bad, "x").unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn registration_options_parse_in_a_browser() {
        let rp = relying_party("http://localhost:3000", "Leptos Auth").unwrap();
        let user = uuid::Uuid::new_v4();
        let (options, _) = rp.start_passkey_registration(user, "sam", "sam", None).unwrap();
        let json = super::browser_options(&options).unwrap();
        let text = json.to_string();
        assert!(!text.contains("null"), "{text}");
        assert_eq!(json["publicKey"]["rp"]["id"], "localhost");
        assert!(json["publicKey"]["challenge"].is_string());
    }
}
