//! `passkeys`: the passkeys registered to accounts.

use super::factors::factor_changed_in;
use super::identities::{RemoveRefused, other_ways_in};
use super::{Store, from_i64, to_i64};
use crate::api::PasskeyInfo;
use crate::server::mail::Outgoing;

/// At most this many passkeys per account.
pub const MAX_PASSKEYS: u64 = 20;

/// A passkey as stored: its owner and webauthn-rs's `Passkey` as JSON.
#[derive(sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    pub credential: String,
}

/// A passkey to add.
pub struct NewPasskey<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
}

/// Why a passkey was not added.
pub enum AddRefused {
    /// This authenticator's credential is registered already (to this account or another).
    Taken,
    /// The account has [`MAX_PASSKEYS`].
    Full,
}

#[derive(sqlx::FromRow)]
struct InfoRow {
    id: String,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl Store {
    /// The user's passkeys, newest first.
    pub async fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyInfo>, sqlx::Error> {
        let rows: Vec<InfoRow> = sqlx::query_as(
            "SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1
             ORDER BY created_at DESC, id",
        )
        .bind(user_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| PasskeyInfo {
                id: r.id,
                name: r.name,
                created_at: from_i64(r.created_at),
                last_used_at: r.last_used_at.map(from_i64),
            })
            .collect())
    }

    /// The credential ids of the user's passkeys (base64url): an authenticator that holds one
    /// of them is not asked to make another.
    pub async fn passkey_credential_ids(&self, user_id: &str) -> Result<Vec<String>, sqlx::Error> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT credential_id FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<PasskeyRow>, sqlx::Error> {
        sqlx::query_as("SELECT id, user_id, credential FROM passkeys WHERE credential_id = $1")
            .bind(credential_id)
            .fetch_optional(&self.read)
            .await
    }

    /// Adds a passkey, ends the user's other sessions and queues `notice`, at once; or says
    /// why not, with nothing written.
    pub async fn add_passkey(
        &self,
        new: &NewPasskey<'_>,
        keep_session: &str,
        now: u64,
        notice: &Outgoing,
    ) -> Result<Result<(), AddRefused>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(new.user_id)
            .fetch_one(&mut *tx)
            .await?;
        if from_i64(count) >= MAX_PASSKEYS {
            tx.rollback().await?;
            return Ok(Err(AddRefused::Full));
        }
        let inserted = sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.credential_id)
        .bind(new.name)
        .bind(new.credential)
        .bind(to_i64(now))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(Err(AddRefused::Taken));
        }
        factor_changed_in(&mut tx, new.user_id, keep_session, now, notice).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Records a sign-in with a passkey: its new state (the signature counter) and when. Only
    /// if it is still as it was read (`before`): of two sign-ins racing with one passkey, one
    /// wins. False if the passkey changed or went meanwhile.
    pub async fn passkey_used(
        &self,
        id: &str,
        before: &str,
        after: &str,
        now: u64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE passkeys SET credential = $3, last_used_at = $4 WHERE id = $1 AND credential = $2",
        )
        .bind(id)
        .bind(before)
        .bind(after)
        .bind(to_i64(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes one of the user's passkeys, ends their other sessions and queues `notice`,
    /// at once. The removed passkey's name, or None if the user has no such passkey.
    pub async fn remove_passkey(
        &self,
        user_id: &str,
        id: &str,
        keep_session: &str,
        now: u64,
        notice: impl FnOnce(&str) -> Outgoing,
    ) -> Result<Result<String, RemoveRefused>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let others = other_ways_in(&mut tx, user_id, None, Some(id)).await?;
        let removed: Option<(String,)> =
            sqlx::query_as("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name")
                .bind(id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((name,)) = removed else {
            tx.rollback().await?;
            return Ok(Err(RemoveRefused::NotFound));
        };
        if others == 0 {
            tx.rollback().await?;
            return Ok(Err(RemoveRefused::LastWay));
        }
        factor_changed_in(&mut tx, user_id, keep_session, now, &notice(&name)).await?;
        tx.commit().await?;
        Ok(Ok(name))
    }
}
