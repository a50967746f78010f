//! One's own account: registration, the profile, the password.

use super::{AuthService, password_change_key};
use crate::api::{ApiError, NewAccount, PasswordChange, Profile, ProfileUpdate, Role};
use crate::rules;
use crate::server::audit::{Event, Record};
use crate::server::limits::Action;
use crate::server::liveness::Revocation;
use crate::server::password;
use crate::server::store::NewUser;
use crate::server::tokens::new_jti;
use crate::server::usernames::{self, checked_username_key, username_key};
use crate::server::{ClientMeta, now};

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

    /// Changes the caller's own first name, last name and email (by the same rules as at
    /// registration; an error names its field). Returns the profile as now stored.
    pub async fn update_profile(
        &self,
        access_token: &str,
        update: ProfileUpdate,
        meta: ClientMeta,
    ) -> Result<Profile, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        rules::check_profile(&update)?;
        let (first, last, email) = (update.first_name.trim(), update.last_name.trim(), update.email.trim());
        self.store().update_profile(&claims.user_id, first, last, email).await?;
        self.record_for(Event::ProfileUpdated, &claims, &meta).await;
        self.store()
            .profile_for_session(&claims.sid, &claims.user_id)
            .await?
            .ok_or_else(ApiError::token_not_valid)
    }

    /// Creates an account (registration).
    pub async fn register(&self, form: NewAccount, meta: ClientMeta) -> Result<Profile, ApiError> {
        self.0.limits.check(self.store(), Action::Register, self.client_ip(&meta)).await?;
        self.create_account(form, Role::User, true).await
    }

    /// Creates an account with a role (the CLI's create-user; `--admin` makes an admin).
    pub async fn create_user(&self, form: NewAccount, role: Role) -> Result<Profile, ApiError> {
        self.create_account(form, role, true).await
    }

    /// The demo accounts' passwords (`password1`, ...) are the contract's, and deliberately
    /// weak: only this explicit, opt-in path skips the strength check.
    pub async fn create_demo_account(&self, form: NewAccount) -> Result<Profile, ApiError> {
        self.create_account(form, Role::User, false).await
    }

    async fn create_account(
        &self,
        form: NewAccount,
        role: Role,
        check_strength: bool,
    ) -> Result<Profile, ApiError> {
        rules::check_new_account(&form)?;
        let key = checked_username_key(&form.username)?;
        usernames::check_new_username(&key)?;
        let skeleton = usernames::skeleton(&key);
        // Cheap early answer that saves an Argon2 run; the UNIQUE constraints below are what
        // actually guarantee one account per name (and per look-alike) under concurrency.
        if self.store().username_taken(&key, &skeleton).await? {
            return Err(ApiError::username_taken());
        }
        if check_strength {
            let context = [&*form.username, &*form.email, &*form.first_name, &*form.last_name];
            password::check_strength(&form.password, "password", &context)?;
        }
        let (email, first_name, last_name) =
            (form.email.trim(), form.first_name.trim(), form.last_name.trim());
        let password_hash = self.0.passwords.hash(form.password).await?;
        let id = new_jti();
        let user = NewUser {
            id: &id,
            username: &form.username,
            username_key: &key,
            username_skeleton: &skeleton,
            password_hash: &password_hash,
            email,
            first_name,
            last_name,
            role,
            now: now(),
        };
        match self.store().insert_user(&user).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(ApiError::username_taken());
            }
            Err(e) => return Err(e.into()),
        }
        self.record(Record { event: Event::AccountCreated, user_id: Some(&id), session_id: None, ip: None })
            .await;
        Ok(Profile {
            username: form.username,
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            email: email.to_owned(),
        })
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
        // Checking the current password is a password guess like any login: same limits,
        // but counted per account holder, not against the username's login lock. That lock
        // is what a stranger can trigger, and it must not keep the owner, signed in with the
        // right current password, from changing the password (the documented way out).
        self.0.limits.check(self.store(), Action::Login, self.client_ip(&meta)).await?;
        let change_key = password_change_key(&claims.user_id);
        self.claim_attempt(&change_key, now()).await?;
        let hash = self.store().password_hash(&claims.user_id).await?;
        if !self.0.passwords.verify(change.current_password, hash).await? {
            return Err(ApiError::invalid("current_password", "Your current password is not correct."));
        }
        self.store().clear_login_failures(&change_key).await?;
        self.store().clear_login_failures(&username_key(username)).await?;
        rules::check_password(&change.new_password, username)
            .map_err(|e| ApiError { field: Some("new_password".into()), ..e })?;
        password::check_strength(&change.new_password, "new_password", &[username])?;
        let new_hash = self.0.passwords.hash(change.new_password).await?;
        let write = self.store().change_password(&claims.user_id, &claims.sid, &new_hash, now());
        self.revoking(write, |_| Some(Revocation::User(claims.user_id.clone()))).await?;
        self.record_for(Event::PasswordChanged, &claims, &meta).await;
        Ok(())
    }
}
