//! `identities`: which provider account (its `sub`) signs in to which account here.

use super::outbox::insert_mail_in;
use super::{Store, to_i64};
use crate::server::mail::Outgoing;

/// A provider's identity to link to an account.
pub struct NewIdentity<'a> {
    pub provider: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub now: u64,
}

impl Store {
    /// The account `subject` of `provider` is linked to, noting this use (and the address
    /// the provider gives now); None when it is linked to none.
    pub async fn use_identity(
        &self,
        provider: &str,
        subject: &str,
        email: Option<&str>,
        now: u64,
    ) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE identities SET last_used_at = $3, email = COALESCE($4, email)
             WHERE provider = $1 AND subject = $2 RETURNING user_id",
        )
        .bind(provider)
        .bind(subject)
        .bind(to_i64(now))
        .bind(email)
        .fetch_optional(&self.write)
        .await?;
        Ok(row.map(|(id,)| id))
    }
}

/// Links `identity` to `user_id`, in the transaction that makes the account.
pub(super) async fn insert_identity_in(
    tx: &mut super::Tx<'_>,
    user_id: &str,
    identity: &NewIdentity<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identities (provider, subject, user_id, email, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(identity.provider)
    .bind(identity.subject)
    .bind(user_id)
    .bind(identity.email)
    .bind(to_i64(identity.now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One identity linked to an account, as the security page lists it.
#[derive(sqlx::FromRow)]
pub struct IdentityRow {
    pub provider: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Why a way to sign in (a linked identity, a passkey) was not removed.
#[derive(Debug, PartialEq, Eq)]
pub enum RemoveRefused {
    NotFound,
    /// It is the account's last way to sign in (no password, no passkey, no identity else).
    LastWay,
}

/// In a transaction that removes one way to sign in: how many the account has besides it
/// (its password, its passkeys but `passkey`, its identities but `provider`). Locks the
/// account's row first (PostgreSQL; SQLite has one writer anyway), so two removals at once
/// cannot each count the other and both go.
pub(super) async fn other_ways_in(
    tx: &mut super::Tx<'_>,
    user_id: &str,
    provider: Option<&str>,
    passkey: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query("UPDATE users SET username = username WHERE id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    let (others,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash <> $2)
              + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1 AND id <> $3)
              + (SELECT COUNT(*) FROM identities WHERE user_id = $1 AND provider <> $4)",
    )
    .bind(user_id)
    .bind(crate::server::password::NO_PASSWORD)
    .bind(passkey.unwrap_or_default())
    .bind(provider.unwrap_or_default())
    .fetch_one(&mut **tx)
    .await?;
    Ok(others)
}

impl Store {
    /// The identities linked to `user_id`, oldest first.
    pub async fn identities_of(&self, user_id: &str) -> Result<Vec<IdentityRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT provider, email, created_at, last_used_at FROM identities WHERE user_id = $1
             ORDER BY created_at, provider",
        )
        .bind(user_id)
        .fetch_all(&self.read)
        .await
    }

    /// The account `subject` of `provider` is linked to, if any.
    pub async fn identity_owner(&self, provider: &str, subject: &str) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT user_id FROM identities WHERE provider = $1 AND subject = $2")
                .bind(provider)
                .bind(subject)
                .fetch_optional(&self.read)
                .await?;
        Ok(row.map(|(id,)| id))
    }

    /// Links `identity` to `user_id` and queues the notice, together. False when the
    /// identity is linked already (to anyone: the primary key decides, under concurrency).
    pub async fn link_identity(
        &self,
        user_id: &str,
        identity: &NewIdentity<'_>,
        notice: &Outgoing,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        match insert_identity_in(&mut tx, user_id, identity).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
            Err(e) => return Err(e),
        }
        insert_mail_in(&mut tx, notice, identity.now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Unlinks `user_id`'s identity at `provider` and queues the notice, unless it is the
    /// account's last way to sign in.
    pub async fn unlink_identity(
        &self,
        user_id: &str,
        provider: &str,
        now: u64,
        notice: &Outgoing,
    ) -> Result<Result<(), RemoveRefused>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let others = other_ways_in(&mut tx, user_id, Some(provider), None).await?;
        let removed = sqlx::query("DELETE FROM identities WHERE user_id = $1 AND provider = $2")
            .bind(user_id)
            .bind(provider)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Ok(Err(RemoveRefused::NotFound));
        }
        if others == 0 {
            tx.rollback().await?;
            return Ok(Err(RemoveRefused::LastWay));
        }
        insert_mail_in(&mut tx, notice, now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}
