//! The address of a profile changing state: proved by a verification link, or replaced by
//! the new address a change link proves. Each in one transaction with the mail it causes.

use super::mail_tokens::{Purpose, take_token_in};
use super::outbox::insert_mail_in;
use super::{Store, to_i64};
use crate::rules::email_key;
use crate::server::mail::Outgoing;

/// What using a verification link did.
pub enum Verified {
    /// The account's address is proved.
    Address { user_id: String },
    /// The account's address is now the link's (`old` is where it was).
    Changed { user_id: String, username: String, old: String, new: String },
    /// No such live link (unknown, used, expired, superseded, another purpose, or the
    /// address it proves is no longer the account's).
    Invalid,
    /// The link's new address was taken by another account meanwhile.
    Taken,
}

impl Store {
    /// Uses up a verification or change link. `changed_notice(old, username, new)` is the
    /// mail to the old address after a change, queued in the same transaction.
    pub async fn use_email_link(
        &self,
        token_hash: &str,
        now: u64,
        changed_notice: impl FnOnce(&str, &str, &str) -> Outgoing,
    ) -> Result<Verified, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let purposes = [Purpose::VerifyEmail, Purpose::ChangeEmail];
        let Some(token) = take_token_in(&mut tx, token_hash, &purposes, now).await? else {
            tx.rollback().await?;
            return Ok(Verified::Invalid);
        };
        let key = email_key(&token.email);
        if token.purpose == Purpose::VerifyEmail {
            let done = sqlx::query(
                "UPDATE profiles SET email_verified_at = COALESCE(email_verified_at, $1)
                 WHERE user_id = $2 AND email_key = $3",
            )
            .bind(to_i64(now))
            .bind(&token.user_id)
            .bind(&key)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(Verified::Invalid);
            }
            tx.commit().await?;
            return Ok(Verified::Address { user_id: token.user_id });
        }
        let old: Option<(String, String)> = sqlx::query_as(
            "SELECT p.email, u.username FROM profiles p JOIN users u ON u.id = p.user_id
             WHERE p.user_id = $1 AND u.disabled_at IS NULL",
        )
        .bind(&token.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((old, username)) = old else {
            tx.rollback().await?;
            return Ok(Verified::Invalid);
        };
        let changed = sqlx::query(
            "UPDATE profiles SET email = $1, email_key = $2, email_verified_at = $3 WHERE user_id = $4",
        )
        .bind(&token.email)
        .bind(&key)
        .bind(to_i64(now))
        .bind(&token.user_id)
        .execute(&mut *tx)
        .await;
        match changed {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(Verified::Taken);
            }
            Err(e) => return Err(e),
        }
        // Links mailed to the old address (a reset, say) must not outlive it.
        sqlx::query("DELETE FROM mail_tokens WHERE user_id = $1")
            .bind(&token.user_id)
            .execute(&mut *tx)
            .await?;
        insert_mail_in(&mut tx, &changed_notice(&old, &username, &token.email), now).await?;
        tx.commit().await?;
        Ok(Verified::Changed { user_id: token.user_id, username, old, new: token.email })
    }
}
