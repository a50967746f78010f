//! Passkeys (WebAuthn): adding one to an account, listing and removing them, and signing in
//! with one, no username or password needed. A passkey proves possession of a device and
//! its unlocking (user verification is required), so its sign-in needs no second factor.
//!
//! Each ceremony is two requests: the options (with a fresh challenge) and the browser's
//! answer. Between them the state lives in `ceremonies`, so a fleet can finish on
//! any instance, and each ceremony finishes once.

use super::sign_in::device_name;
use super::{AuthService, removal_refused};
use crate::api::{ApiError, ErrorCode, PasskeyChallenge, PasskeyInfo, SignIn};
use crate::server::audit::{Event, Record};
use crate::server::limits::Action;
use crate::server::mail::{link_token, token_hash};
use crate::server::passkeys::{CEREMONY_SECS, browser_options, require_discoverable};
use crate::server::store::{AddRefused, Ceremony, MAX_PASSKEYS, NewPasskey};
use crate::server::{ClientMeta, internal_error, now};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnError,
};

/// Longest passkey name, in characters.
const MAX_NAME_CHARS: usize = 64;

impl AuthService {
    fn relying_party(&self) -> Result<&Webauthn, ApiError> {
        self.0
            .webauthn
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "Passkeys are not turned on for this server."))
    }

    /// The caller's passkeys, newest first.
    pub async fn passkeys(&self, access_token: &str) -> Result<Vec<PasskeyInfo>, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        Ok(self.store().passkeys_of(&claims.user_id).await?)
    }

    /// Begins adding a passkey (after recent authentication): the options for
    /// `navigator.credentials.create`. An authenticator that holds one of the account's
    /// passkeys already is not asked again.
    pub async fn begin_passkey_registration(
        &self,
        access_token: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<PasskeyChallenge, ApiError> {
        let rp = self.relying_party()?;
        let claims = self.recently_authenticated(access_token, password, &meta).await?;
        let user = Uuid::try_parse(&claims.user_id).map_err(|e| internal_error("a user id is no UUID", e))?;
        let exclude = self.store().passkey_credential_ids(&claims.user_id).await?;
        let exclude = exclude.iter().filter_map(|id| decode_credential_id(id)).collect();
        let name = claims.username.as_deref().unwrap_or_default();
        let (mut options, state) = rp
            .start_passkey_registration(user, name, name, Some(exclude))
            .map_err(|e| internal_error("starting a passkey registration", e))?;
        require_discoverable(&mut options);
        let state = serde_json::to_string(&state).map_err(|e| internal_error("passkey state", e))?;
        let ceremony =
            self.store_ceremony(Ceremony::PasskeyRegistration, Some(&claims.user_id), &state, now()).await?;
        let options = browser_options(&options).map_err(|e| internal_error("passkey options", e))?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// Finishes adding a passkey with the browser's answer: stored under `name` (or the
    /// browser and system it was made on), the user's other sessions ended, a mail sent.
    pub async fn finish_passkey_registration(
        &self,
        access_token: &str,
        ceremony: &str,
        name: Option<&str>,
        credential: &RegisterPublicKeyCredential,
        meta: ClientMeta,
    ) -> Result<PasskeyInfo, ApiError> {
        let rp = self.relying_party()?;
        let claims = self.authenticate_live(access_token).await?;
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => checked_name(name)?,
            None => device_name(meta.user_agent.as_deref().unwrap_or_default()),
        };
        let expired = || {
            ApiError::invalid(
                "ceremony",
                "Adding the passkey took too long, or was finished already. Try again.",
            )
        };
        let now = now();
        let (owner, state) = self
            .store()
            .take_ceremony(&token_hash(ceremony), Ceremony::PasskeyRegistration, now)
            .await?
            .ok_or_else(expired)?;
        if owner.as_deref() != Some(claims.user_id.as_str()) {
            return Err(expired());
        }
        let state: PasskeyRegistration =
            serde_json::from_str(&state).map_err(|e| internal_error("stored passkey state", e))?;
        let passkey = rp.finish_passkey_registration(credential, &state).map_err(|e| {
            tracing::info!(error = %e, user_id = %claims.user_id, "a passkey registration was refused");
            ApiError::invalid("credential", registration_refusal(&e))
        })?;
        let stored = serde_json::to_string(&passkey).map_err(|e| internal_error("passkey", e))?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let credential_id = encode_credential_id(passkey.cred_id().as_ref());
        let new = NewPasskey {
            id: &id,
            user_id: &claims.user_id,
            credential_id: &credential_id,
            name: &name,
            credential: &stored,
        };
        let account = self.own_account(&claims).await?;
        let notice = self.0.mails.passkey_changed(&account.email, &account.username, &name, true);
        let write = self.store().add_passkey(&new, &claims.sid, now, &notice);
        let revoked = crate::server::liveness::Revocation::User(claims.user_id.clone());
        match self.revoking(write, |done| done.is_ok().then_some(revoked)).await? {
            Ok(()) => {}
            Err(AddRefused::Taken) => {
                return Err(ApiError::invalid("credential", "This passkey is registered already."));
            }
            Err(AddRefused::Full) => {
                let detail =
                    format!("An account can have at most {MAX_PASSKEYS} passkeys. Remove one first.");
                return Err(ApiError::invalid("credential", detail));
            }
        }
        self.mail_queued();
        self.record_for(Event::PasskeyAdded, &claims, &meta).await;
        Ok(PasskeyInfo { id, name, created_at: now, last_used_at: None })
    }

    /// Removes one of the caller's passkeys (after recent authentication); their other
    /// sessions end and a mail goes out.
    pub async fn remove_passkey(
        &self,
        access_token: &str,
        id: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.recently_authenticated(access_token, password, &meta).await?;
        let account = self.own_account(&claims).await?;
        let mails = &self.0.mails;
        let notice = |name: &str| mails.passkey_changed(&account.email, &account.username, name, false);
        let write = self.store().remove_passkey(&claims.user_id, id, &claims.sid, now(), notice);
        let revoked = crate::server::liveness::Revocation::User(claims.user_id.clone());
        self.revoking(write, |removed| removed.is_ok().then_some(revoked))
            .await?
            .map_err(|r| removal_refused(r, "No such passkey.", "id"))?;
        self.mail_queued();
        self.record_for(Event::PasskeyRemoved, &claims, &meta).await;
        Ok(())
    }

    /// Begins a passkey sign-in: options for `navigator.credentials.get` that name no user
    /// or credential, so the browser offers whatever passkey it holds for this site (as a
    /// button's dialog, or in the username field's autofill).
    pub async fn begin_passkey_sign_in(&self, meta: ClientMeta) -> Result<PasskeyChallenge, ApiError> {
        let rp = self.relying_party()?;
        self.0.limits.check(self.store(), Action::Passkey, self.client_ip(&meta)).await?;
        let (options, state) = rp
            .start_discoverable_authentication()
            .map_err(|e| internal_error("starting a passkey sign-in", e))?;
        let state = serde_json::to_string(&state).map_err(|e| internal_error("passkey state", e))?;
        let ceremony = self.store_ceremony(Ceremony::PasskeySignIn, None, &state, now()).await?;
        // `mediation` says "conditional" (autofill); the browser is told per call instead.
        let options = browser_options(&options).map_err(|e| internal_error("passkey options", e))?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// Finishes a passkey sign-in: the assertion must be for this site and this ceremony's
    /// challenge, by a registered passkey of the account it names, with user verification,
    /// and with a signature counter that moved forward (if the authenticator keeps one).
    /// Then a session starts, as after a password and a second factor.
    pub async fn passkey_sign_in(
        &self,
        ceremony: &str,
        credential: &PublicKeyCredential,
        meta: ClientMeta,
    ) -> Result<SignIn, ApiError> {
        let rp = self.relying_party()?;
        let client = self.client_ip(&meta);
        self.0.limits.check(self.store(), Action::Passkey, client).await?;
        let now = now();
        let (_, state) = self
            .store()
            .take_ceremony(&token_hash(ceremony), Ceremony::PasskeySignIn, now)
            .await?
            .ok_or_else(ApiError::passkey_refused)?;
        let state: DiscoverableAuthentication =
            serde_json::from_str(&state).map_err(|e| internal_error("stored passkey state", e))?;
        let (user, credential_id) =
            rp.identify_discoverable_authentication(credential).map_err(|_| ApiError::passkey_refused())?;
        let row = self
            .store()
            .passkey_by_credential(&encode_credential_id(credential_id))
            .await?
            // The authenticator's user handle must name the passkey's owner.
            .filter(|row| Uuid::try_parse(&row.user_id).is_ok_and(|owner| owner == user))
            .ok_or_else(ApiError::passkey_refused)?;
        let refused = |event| Record { event, user_id: Some(&row.user_id), session_id: None, ip: client };
        let mut passkey: Passkey =
            serde_json::from_str(&row.credential).map_err(|e| internal_error("stored passkey", e))?;
        let result = match rp.finish_discoverable_authentication_v2(credential, state, &passkey) {
            Ok(result) => result,
            Err(e) => {
                let event = if matches!(e, WebauthnError::CredentialPossibleCompromise) {
                    Event::PasskeyCloneSuspected
                } else {
                    Event::LoginFailed
                };
                tracing::info!(error = %e, user_id = %row.user_id, "a passkey sign-in was refused");
                self.record(refused(event)).await;
                return Err(ApiError::passkey_refused());
            }
        };
        passkey.update_credential(&result);
        let updated = serde_json::to_string(&passkey).map_err(|e| internal_error("passkey", e))?;
        if !self.store().passkey_used(&row.id, &row.credential, &updated, now).await? {
            // Another sign-in with this passkey won the race, or it was removed meanwhile.
            self.record(refused(Event::LoginFailed)).await;
            return Err(ApiError::passkey_refused());
        }
        let (account, _) = self
            .store()
            .find_login_by_id(&row.user_id)
            .await?
            .filter(|(a, _)| !a.disabled)
            .ok_or_else(ApiError::passkey_refused)?;
        self.open_session(account, &meta, now).await
    }

    /// Stores a ceremony's state; the token that finishes it.
    async fn store_ceremony(
        &self,
        purpose: Ceremony,
        user_id: Option<&str>,
        state: &str,
        now: u64,
    ) -> Result<String, ApiError> {
        let (token, hash) = link_token().map_err(|e| internal_error("no randomness for a token", e))?;
        self.store().insert_ceremony(&hash, purpose, user_id, state, now + CEREMONY_SECS).await?;
        Ok(token)
    }
}

/// A passkey's name as typed: trimmed, printable, not too long.
fn checked_name(name: &str) -> Result<String, ApiError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid("name", format!("Use at most {MAX_NAME_CHARS} characters.")));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name", "Use letters, digits, spaces and punctuation only."));
    }
    Ok(name.to_owned())
}

/// What a person can do about a refused registration.
fn registration_refusal(e: &WebauthnError) -> &'static str {
    match e {
        WebauthnError::InvalidRPOrigin | WebauthnError::InvalidRPIDHash => {
            "This passkey was made for another site."
        }
        WebauthnError::UserNotVerified => {
            "Your device did not confirm it was you (a PIN, fingerprint or face). Try again."
        }
        _ => "Your device's answer could not be verified. Try again.",
    }
}

fn encode_credential_id(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn decode_credential_id(id: &str) -> Option<webauthn_rs::prelude::CredentialID> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id).ok()
}
