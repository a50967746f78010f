//! One's own account: registration, the profile, the password, the address, deletion.

use super::AuthService;
use super::recovery::VERIFY_LINK_SECS;
use crate::api::{ApiError, NewAccount, PasswordChange, Profile, ProfileUpdate, Role};
use crate::rules::{self, email_key};
use crate::server::audit::{Event, Record};
use crate::server::limits::Action;
use crate::server::liveness::Revocation;
use crate::server::mail::link_token;
use crate::server::password;
use crate::server::store::{NewIdentity, NewMailToken, NewUser, Purpose};
use crate::server::tokens::new_jti;
use crate::server::usernames::{self, checked_username_key};
use crate::server::{ClientMeta, internal_error, now};

impl AuthService {
    /// The caller's own profile. Authenticates from the access token on every call,
    /// including that its session is still live.
    pub async fn profile(&self, access_token: &str) -> Result<Profile, ApiError> {
        let claims = self.authenticate(access_token).await?;
        self.store()
            .profile_for_session(&claims.sid, &claims.user_id)
            .await?
            .ok_or_else(ApiError::token_not_valid)
    }

    /// Changes the caller's own first and last name (by the same rules as at registration;
    /// an error names its field). Returns the profile as now stored.
    pub async fn update_profile(
        &self,
        access_token: &str,
        update: ProfileUpdate,
        meta: ClientMeta,
    ) -> Result<Profile, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        rules::check_profile(&update)?;
        let (first, last) = (update.first_name.trim(), update.last_name.trim());
        self.store().update_profile(&claims.user_id, first, last).await?;
        self.record_for(Event::ProfileUpdated, &claims, &meta).await;
        self.store()
            .profile_for_session(&claims.sid, &claims.user_id)
            .await?
            .ok_or_else(ApiError::token_not_valid)
    }

    /// Creates an account (registration).
    pub async fn register(&self, form: NewAccount, meta: ClientMeta) -> Result<Profile, ApiError> {
        self.0.limits.check(self.store(), Action::Register, self.client_ip(&meta)).await?;
        self.create_account(form, Role::User, Origin::Registered).await.map(|(_, profile)| profile)
    }

    /// Creates an account with a role (the CLI's create-user; `--admin` makes an admin).
    pub async fn create_user(&self, form: NewAccount, role: Role) -> Result<Profile, ApiError> {
        self.create_account(form, role, Origin::Registered).await.map(|(_, profile)| profile)
    }

    /// The demo accounts' passwords (`password1`, ...) are the contract's, and deliberately
    /// weak: only this explicit, opt-in path skips the strength check. Their addresses
    /// count as verified.
    pub async fn create_demo_account(&self, form: NewAccount) -> Result<Profile, ApiError> {
        self.create_account(form, Role::User, Origin::Demo).await.map(|(_, profile)| profile)
    }

    /// Creates an account for a provider's identity, linked to it, with no password (the
    /// form's is ignored). Its id.
    pub(super) async fn create_linked_account(
        &self,
        form: NewAccount,
        email_verified: bool,
        identity: &NewIdentity<'_>,
    ) -> Result<String, ApiError> {
        let origin = Origin::Provider { email_verified, identity };
        self.create_account(form, Role::User, origin).await.map(|(id, _)| id)
    }

    /// The one way accounts are made: its id and profile.
    async fn create_account(
        &self,
        form: NewAccount,
        role: Role,
        origin: Origin<'_>,
    ) -> Result<(String, Profile), ApiError> {
        match origin {
            Origin::Provider { .. } => rules::check_new_profile(&form)?,
            _ => rules::check_new_account(&form)?,
        }
        let key = checked_username_key(&form.username)?;
        usernames::check_new_username(&key)?;
        let skeleton = usernames::skeleton(&key);
        // Cheap early answer that saves an Argon2 run; the UNIQUE constraints below are what
        // actually guarantee one account per name (and per look-alike) under concurrency.
        if self.store().username_taken(&key, &skeleton).await? {
            return Err(ApiError::username_taken());
        }
        let mail_key = email_key(&form.email);
        if self.store().email_taken(&mail_key).await? {
            return Err(ApiError::email_taken("email"));
        }
        if matches!(origin, Origin::Registered) {
            let context = [&*form.username, &*form.email, &*form.first_name, &*form.last_name];
            password::check_strength(&form.password, "password", &context)?;
        }
        let (email, first_name, last_name) =
            (form.email.trim(), form.first_name.trim(), form.last_name.trim());
        let email_verified = match origin {
            Origin::Registered => false,
            Origin::Demo => true,
            Origin::Provider { email_verified, .. } => email_verified,
        };
        let mails_a_link = !email_verified;
        if mails_a_link {
            // The account is about to be made and its address mailed: that spends from the
            // address's budget like any link (refused forms above spend nothing).
            self.0.limits.check_address(self.store(), &mail_key).await?;
        }
        let password_hash = match origin {
            Origin::Provider { .. } => password::NO_PASSWORD.to_owned(),
            _ => self.0.passwords.hash(form.password).await?,
        };
        let id = new_jti();
        let now = now();
        let user = NewUser {
            id: &id,
            username: &form.username,
            username_key: &key,
            username_skeleton: &skeleton,
            password_hash: &password_hash,
            email,
            email_key: &mail_key,
            email_verified,
            first_name,
            last_name,
            role,
            now,
        };
        let (token, hash) = link_token().map_err(|e| internal_error("no randomness for a link", e))?;
        let link = NewMailToken {
            hash: &hash,
            user_id: &id,
            purpose: Purpose::VerifyEmail,
            email,
            now,
            expires_at: now + VERIFY_LINK_SECS,
        };
        let mail = self.0.mails.verify_email(email, &form.username, &token);
        let verification = mails_a_link.then_some((&link, &mail));
        let identity = match origin {
            Origin::Provider { identity, .. } => Some(identity),
            _ => None,
        };
        match self.store().insert_user(&user, verification, identity).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                // Whichever constraint it was, the cheap checks above passed a moment ago.
                return Err(if self.store().email_taken(&mail_key).await? {
                    ApiError::email_taken("email")
                } else {
                    ApiError::username_taken()
                });
            }
            Err(e) => return Err(e.into()),
        }
        if verification.is_some() {
            self.mail_queued();
        }
        self.record(Record { event: Event::AccountCreated, user_id: Some(&id), session_id: None, ip: None })
            .await;
        let profile = Profile {
            username: form.username,
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            email: email.to_owned(),
            email_verified,
            mfa: false,
        };
        Ok((id, profile))
    }

    /// Changes the caller's password. Requires the current one; every other session ends.
    pub async fn change_password(
        &self,
        access_token: &str,
        change: PasswordChange,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let username = claims.username.as_deref().unwrap_or_default();
        let wrong = || ApiError::invalid("current_password", "Your current password is not correct.");
        self.check_own_password(&claims, change.current_password, &meta, wrong).await?;
        rules::check_password(&change.new_password, username)
            .map_err(|e| ApiError { field: Some("new_password".into()), ..e })?;
        password::check_strength(&change.new_password, "new_password", &[username])?;
        let new_hash = self.0.passwords.hash(change.new_password).await?;
        let account = self.own_account(&claims).await?;
        let notice = self.0.mails.password_changed(&account.email, &account.username);
        let write = self.store().change_password(&claims.user_id, &claims.sid, &new_hash, now(), &notice);
        self.revoking(write, |_| Some(Revocation::User(claims.user_id.clone()))).await?;
        self.mail_queued();
        self.record_for(Event::PasswordChanged, &claims, &meta).await;
        Ok(())
    }

    /// Starts a change of address: a link to the new address (the address changes only when
    /// it is used, through `verify_email`) and a notice to the current one. Needs recent
    /// authentication: the password with the request, or proved in the last ten minutes.
    pub async fn change_email(
        &self,
        access_token: &str,
        new_email: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        rules::check_email(new_email).map_err(|e| ApiError { field: Some("new_email".into()), ..e })?;
        self.require_recent_auth(&claims, password, &meta).await?;
        let account = self.own_account(&claims).await?;
        let (new_email, new_key) = (new_email.trim(), email_key(new_email));
        // Before the address is looked up: each 409 says an address is registered.
        self.0.limits.check(self.store(), Action::Mail, self.client_ip(&meta)).await?;
        self.0.limits.check_address(self.store(), &new_key).await?;
        if account.email_key.as_deref() == Some(new_key.as_str()) {
            return Err(ApiError::invalid("new_email", "That is already your address."));
        }
        if self.store().email_taken(&new_key).await? {
            return Err(ApiError::email_taken("new_email"));
        }
        let (token, hash) = link_token().map_err(|e| internal_error("no randomness for a link", e))?;
        let now = now();
        let link = NewMailToken {
            hash: &hash,
            user_id: &claims.user_id,
            purpose: Purpose::ChangeEmail,
            email: new_email,
            now,
            expires_at: now + VERIFY_LINK_SECS,
        };
        let mails = [
            self.0.mails.change_email(new_email, &account.username, &token),
            self.0.mails.email_change_requested(&account.email, &account.username, new_email),
        ];
        self.store().issue_mail_token(&link, &mails).await?;
        self.mail_queued();
        self.record_for(Event::EmailChangeRequested, &claims, &meta).await;
        Ok(())
    }

    /// Deletes the caller's account: every session ends at once (on every instance), the
    /// personal data goes, the username is free again, and the audit trail keeps a
    /// tombstone. Needs recent authentication, as `change_email` does.
    pub async fn delete_account(
        &self,
        access_token: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.recently_authenticated(access_token, password, &meta).await?;
        let account = self.own_account(&claims).await?;
        let notice = self.0.mails.account_deleted(&account.email, &account.username);
        let write = self.store().delete_user(&claims.user_id, now(), &notice);
        let deleted = self.revoking(write, |d| d.then(|| Revocation::User(claims.user_id.clone()))).await?;
        if !deleted {
            return Err(ApiError::token_not_valid());
        }
        self.mail_queued();
        self.record_for(Event::AccountDeleted, &claims, &meta).await;
        Ok(())
    }
}

/// How an account comes to be.
#[derive(Clone, Copy)]
enum Origin<'a> {
    /// Registration or the CLI: the strength check applies, the address needs verifying.
    Registered,
    /// A demo account (`DEMO_USERS=1`): weak contract passwords, addresses verified.
    Demo,
    /// A provider's identity signing in for the first time: no password; the address is
    /// verified when the provider vouches for it.
    Provider { email_verified: bool, identity: &'a NewIdentity<'a> },
}
