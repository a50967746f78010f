//! `known_devices`: the browsers and systems each account has signed in from, so that a
//! sign-in from a new one can be mailed to its owner.

use super::outbox::insert_mail_in;
use super::{Store, to_i64};
use crate::server::mail::Outgoing;

impl Store {
    /// Notes a sign-in from `device`. When the account has signed in before, but never from
    /// this device, `notice(email, username)` is queued in the same transaction. Returns
    /// whether it was.
    pub async fn remember_device(
        &self,
        user_id: &str,
        device: &str,
        now: u64,
        notice: impl FnOnce(&str, &str) -> Outgoing,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let (known,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM known_devices WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        let added = sqlx::query(
            "INSERT INTO known_devices (user_id, device, first_seen_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, device) DO NOTHING",
        )
        .bind(user_id)
        .bind(device)
        .bind(to_i64(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added == 0 || known == 0 {
            tx.commit().await?;
            return Ok(false);
        }
        let account: Option<(String, String)> = sqlx::query_as(
            "SELECT p.email, u.username FROM profiles p JOIN users u ON u.id = p.user_id WHERE p.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let mailed = account.is_some();
        if let Some((email, username)) = account {
            insert_mail_in(&mut tx, &notice(&email, &username), now).await?;
        }
        tx.commit().await?;
        Ok(mailed)
    }
}
