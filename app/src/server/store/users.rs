//! `users` and `profiles`: accounts, their names and their one profile each.

use super::identities::{NewIdentity, insert_identity_in};
use super::mail_tokens::{NewMailToken, Purpose, insert_token_in, take_token_in};
use super::outbox::insert_mail_in;
use super::sessions::{RevokeReason, revoke_user_sessions_in};
use super::{Store, to_i64};
use crate::api::{Profile, Role};
use crate::server::mail::Outgoing;

/// The one view of a user that carries the password hash: only login reads it.
pub struct LoginAccount {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub disabled: bool,
    pub role: Role,
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: String,
    username: String,
    password_hash: String,
    disabled_at: Option<i64>,
    role: String,
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub username_key: &'a str,
    pub username_skeleton: &'a str,
    pub password_hash: &'a str,
    pub email: &'a str,
    pub email_key: &'a str,
    /// Demo accounts start verified; everyone else proves the address by a mailed link.
    pub email_verified: bool,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: Role,
    pub now: u64,
}

/// One account, as the admin page lists it.
#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: String,
    pub disabled: i64,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    email_verified_at: Option<i64>,
    mfa: i64,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Self {
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            email_verified: r.email_verified_at.is_some(),
            mfa: r.mfa != 0,
        }
    }
}

/// Who to write to about an account.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountMail {
    pub user_id: String,
    pub username: String,
    pub username_key: String,
    pub email: String,
    pub email_key: Option<String>,
    pub email_verified_at: Option<i64>,
}

const ACCOUNT_MAIL: &str =
    "SELECT u.id AS user_id, u.username, u.username_key, p.email, p.email_key, p.email_verified_at
     FROM users u JOIN profiles p ON p.user_id = u.id";

impl Store {
    pub async fn find_login(&self, username_key: &str) -> Result<Option<LoginAccount>, sqlx::Error> {
        let row: Option<LoginRow> = sqlx::query_as(
            "SELECT id, username, password_hash, disabled_at, role FROM users WHERE username_key = $1",
        )
        .bind(username_key)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|r| LoginAccount {
            id: r.id,
            username: r.username,
            password_hash: r.password_hash,
            disabled: r.disabled_at.is_some(),
            role: Role::parse(&r.role),
        }))
    }

    /// The account by id, with its username lookup key (the second step of a sign-in).
    pub async fn find_login_by_id(
        &self,
        user_id: &str,
    ) -> Result<Option<(LoginAccount, String)>, sqlx::Error> {
        let key: Option<(String,)> = sqlx::query_as("SELECT username_key FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.read)
            .await?;
        let Some((key,)) = key else { return Ok(None) };
        Ok(self.find_login(&key).await?.map(|account| (account, key)))
    }

    /// True when the name, or a look-alike of it (same confusable skeleton), is taken.
    pub async fn username_taken(&self, username_key: &str, skeleton: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT 1 FROM users WHERE username_key = $1 OR username_skeleton = $2")
            .bind(username_key)
            .bind(skeleton)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }

    /// Users made before skeletons were stored: (id, username_key).
    pub async fn users_without_skeleton(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT id, username_key FROM users WHERE username_skeleton IS NULL")
            .fetch_all(&self.read)
            .await
    }

    pub async fn set_skeleton(&self, user_id: &str, skeleton: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET username_skeleton = $1 WHERE id = $2")
            .bind(skeleton)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Inserts the user and their profile together (both rows or neither), with the link
    /// that verifies the address and its mail, when there is one.
    pub async fn insert_user(
        &self,
        user: &NewUser<'_>,
        verification: Option<(&NewMailToken<'_>, &Outgoing)>,
        identity: Option<&NewIdentity<'_>>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, username, username_key, username_skeleton, password_hash, created_at, role)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user.id)
        .bind(user.username)
        .bind(user.username_key)
        .bind(user.username_skeleton)
        .bind(user.password_hash)
        .bind(to_i64(user.now))
        .bind(user.role.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO profiles (user_id, first_name, last_name, email, email_key, email_verified_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id)
        .bind(user.first_name)
        .bind(user.last_name)
        .bind(user.email)
        .bind(user.email_key)
        .bind(user.email_verified.then_some(to_i64(user.now)))
        .execute(&mut *tx)
        .await?;
        if let Some((token, mail)) = verification {
            insert_token_in(&mut tx, token).await?;
            insert_mail_in(&mut tx, mail, user.now).await?;
        }
        if let Some(identity) = identity {
            insert_identity_in(&mut tx, user.id, identity).await?;
        }
        tx.commit().await
    }

    /// Replaces the user's first and last name.
    pub async fn update_profile(
        &self,
        user_id: &str,
        first_name: &str,
        last_name: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE profiles SET first_name = $1, last_name = $2 WHERE user_id = $3")
            .bind(first_name)
            .bind(last_name)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// The account's address, by user id.
    pub async fn account_mail(&self, user_id: &str) -> Result<Option<AccountMail>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{ACCOUNT_MAIL} WHERE u.id = $1 AND u.disabled_at IS NULL"
        )))
        .bind(user_id)
        .fetch_optional(&self.read)
        .await
    }

    /// The enabled account with this address (compared as `email_key`), if any.
    pub async fn account_by_email(&self, email_key: &str) -> Result<Option<AccountMail>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{ACCOUNT_MAIL} WHERE p.email_key = $1 AND u.disabled_at IS NULL"
        )))
        .bind(email_key)
        .fetch_optional(&self.read)
        .await
    }

    /// True when some account uses the address.
    pub async fn email_taken(&self, email_key: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT 1 FROM profiles WHERE email_key = $1")
            .bind(email_key)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }

    /// Profiles made before addresses were compared: (user id, email).
    pub async fn profiles_without_email_key(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT user_id, email FROM profiles WHERE email_key IS NULL")
            .fetch_all(&self.read)
            .await
    }

    pub async fn set_email_key(&self, user_id: &str, email_key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE profiles SET email_key = $1 WHERE user_id = $2")
            .bind(email_key)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Uses up a reset link: the new password hash, every session ended, every other link
    /// of the user void, the login lock cleared, the address verified if the link went to
    /// it, and `notice` queued; all at once. `None` when the link was used meanwhile.
    pub async fn reset_password(
        &self,
        token_hash: &str,
        new_hash: &str,
        now: u64,
        notice: &Outgoing,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let Some(token) = take_token_in(&mut tx, token_hash, &[Purpose::ResetPassword], now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let user_id = token.user_id;
        let (username_key,): (String,) =
            sqlx::query_as("UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING username_key")
                .bind(new_hash)
                .bind(&user_id)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "UPDATE profiles SET email_verified_at = COALESCE(email_verified_at, $1)
             WHERE user_id = $2 AND email_key = $3",
        )
        .bind(to_i64(now))
        .bind(&user_id)
        .bind(crate::rules::email_key(&token.email))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM mail_tokens WHERE user_id = $1").bind(&user_id).execute(&mut *tx).await?;
        // A second step begun with the old password must not finish after it.
        sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1").bind(&user_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM login_throttle WHERE username_key = $1")
            .bind(&username_key)
            .execute(&mut *tx)
            .await?;
        revoke_user_sessions_in(&mut tx, &user_id, "", to_i64(now), RevokeReason::PasswordReset).await?;
        insert_mail_in(&mut tx, notice, now).await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }

    /// Deletes the account: the user row, and with it (ON DELETE CASCADE) the profile, every
    /// session and token, every link and known device; `notice` is queued in the same
    /// transaction. The audit trail keeps its rows (the user id, which names no one) as the
    /// tombstone. Returns false when there was no such user.
    pub async fn delete_user(&self, user_id: &str, now: u64, notice: &Outgoing) -> Result<bool, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_mail_in(&mut tx, notice, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The profile of the session's user, read in the same query that proves the session live.
    pub async fn profile_for_session(
        &self,
        session_id: &str,
        user_id: &str,
    ) -> Result<Option<Profile>, sqlx::Error> {
        let row: Option<ProfileRow> = sqlx::query_as(
            "SELECT u.username, p.first_name, p.last_name, p.email, p.email_verified_at,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM totp_factors t
                                           WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
                         THEN 1 ELSE 0 END AS BIGINT) AS mfa
             FROM sessions s
             JOIN users u ON u.id = s.user_id
             JOIN profiles p ON p.user_id = u.id
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
        )
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(Profile::from))
    }

    /// Username and role of a user, if the user exists.
    pub async fn user_brief(&self, user_id: &str) -> Result<Option<(String, Role)>, sqlx::Error> {
        let row: Option<(String, String)> = sqlx::query_as("SELECT username, role FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|(username, role)| (username, Role::parse(&role))))
    }

    /// Every account, oldest first.
    pub async fn list_users(&self) -> Result<Vec<UserRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT u.username, p.first_name, p.last_name, p.email, u.role, u.created_at,
                    CAST(CASE WHEN u.disabled_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS disabled
             FROM users u JOIN profiles p ON p.user_id = u.id
             ORDER BY u.created_at, u.username_key",
        )
        .fetch_all(&self.read)
        .await
    }

    /// The password hash of an enabled user.
    pub async fn password_hash(&self, user_id: &str) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT password_hash FROM users WHERE id = $1 AND disabled_at IS NULL")
                .bind(user_id)
                .fetch_optional(&self.read)
                .await?;
        Ok(row.map(|(hash,)| hash))
    }

    /// Stores the new hash, ends every other session of the user and queues `notice`, together.
    pub async fn change_password(
        &self,
        user_id: &str,
        keep_session: &str,
        new_hash: &str,
        now: u64,
        notice: &Outgoing,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(new_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // A second step begun with the old password must not finish after it.
        sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        revoke_user_sessions_in(&mut tx, user_id, keep_session, to_i64(now), RevokeReason::PasswordChanged)
            .await?;
        insert_mail_in(&mut tx, notice, now).await?;
        tx.commit().await
    }

    /// Disables (or enables) a user; disabling ends all their sessions. Returns the user id,
    /// or `None` when there is no such user.
    pub async fn set_disabled(
        &self,
        username_key: &str,
        disabled: bool,
        now: u64,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let disabled_at = disabled.then_some(to_i64(now));
        let row: Option<(String,)> =
            sqlx::query_as("UPDATE users SET disabled_at = $1 WHERE username_key = $2 RETURNING id")
                .bind(disabled_at)
                .bind(username_key)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((user_id,)) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        if disabled {
            revoke_user_sessions_in(&mut tx, &user_id, "", to_i64(now), RevokeReason::UserDisabled).await?;
        }
        tx.commit().await?;
        Ok(Some(user_id))
    }
}
