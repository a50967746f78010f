//! `outbox`: mail waiting to be sent. Written inside the transaction of the change that
//! causes it (`insert_mail_in`); read by the delivery loop, which claims one row at a time
//! with a lease so that instances sharing the database never send a mail twice.

use super::{Store, Tx, to_i64};
use crate::server::mail::Outgoing;

/// A mail claimed for sending: this instance has it until the lease runs out.
#[derive(sqlx::FromRow)]
pub struct Claimed {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub link: Option<String>,
    pub attempts: i64,
}

impl Claimed {
    pub fn mail(&self) -> Outgoing {
        Outgoing {
            to: self.recipient.clone(),
            subject: self.subject.clone(),
            text: self.text_body.clone(),
            html: self.html_body.clone(),
            link: self.link.clone(),
        }
    }
}

/// Queues a mail in the caller's transaction: it is sent if and only if the change commits.
pub(super) async fn insert_mail_in(tx: &mut Tx<'_>, mail: &Outgoing, now: u64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (id, recipient, subject, text_body, html_body, link, created_at, attempts, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.html)
    .bind(mail.link.as_deref())
    .bind(to_i64(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Queues a mail on its own (a change that has no row of its own to write).
    pub async fn queue_mail(&self, mail: &Outgoing, now: u64) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        insert_mail_in(&mut tx, mail, now).await?;
        tx.commit().await
    }

    /// Claims the oldest mail that is due and not held by anyone, until `lease_until`.
    ///
    /// The outer WHERE repeats the inner one: two instances may pick the same row, but the
    /// UPDATE re-checks the row after taking its lock (PostgreSQL) or runs alone (SQLite),
    /// so only the first claims it; the other updates nothing.
    pub async fn claim_mail(&self, now: u64, lease_until: u64) -> Result<Option<Claimed>, sqlx::Error> {
        sqlx::query_as(
            "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1
             WHERE id = (SELECT id FROM outbox
                         WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
                           AND (claimed_until IS NULL OR claimed_until < $1)
                         ORDER BY next_attempt_at, id LIMIT 1)
               AND sent_at IS NULL AND failed_at IS NULL
               AND (claimed_until IS NULL OR claimed_until < $1)
             RETURNING id, recipient, subject, text_body, html_body, link, attempts",
        )
        .bind(to_i64(now))
        .bind(to_i64(lease_until))
        .fetch_optional(&self.write)
        .await
    }

    /// Marks a mail sent and erases its bodies: the link in them is a live token until used.
    pub async fn mail_sent(&self, id: &str, now: u64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE outbox SET sent_at = $2, claimed_until = NULL, text_body = '', html_body = '', link = NULL,
                    last_error = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(to_i64(now))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: tried again at `retry_at`, or given up on (`None`), in which
    /// case the bodies are erased too.
    pub async fn mail_failed(
        &self,
        id: &str,
        error: &str,
        now: u64,
        retry_at: Option<u64>,
    ) -> Result<(), sqlx::Error> {
        let error: String = error.chars().take(500).collect();
        let query = match retry_at {
            Some(_) => {
                "UPDATE outbox SET claimed_until = NULL, last_error = $2, next_attempt_at = $3 WHERE id = $1"
            }
            None => {
                "UPDATE outbox SET claimed_until = NULL, last_error = $2, failed_at = $3,
                        text_body = '', html_body = '', link = NULL
                 WHERE id = $1"
            }
        };
        sqlx::query(query)
            .bind(id)
            .bind(error)
            .bind(to_i64(retry_at.unwrap_or(now)))
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

/// Forgets mail sent or given up on before `before` (Unix seconds).
pub(super) async fn prune_outbox_in(tx: &mut Tx<'_>, before: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM outbox WHERE sent_at < $1 OR failed_at < $1")
        .bind(before)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
