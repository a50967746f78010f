//! `audit_events`: the audit trail, written best effort after each auth event.

use super::{Store, from_i64, to_i64};
use crate::server::audit::{Entry, Record};

#[derive(sqlx::FromRow)]
struct EntryRow {
    at: i64,
    event: String,
    session_id: Option<String>,
    ip: Option<String>,
}

impl Store {
    pub async fn insert_audit(&self, id: &str, now: u64, record: &Record<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_events (id, at, event, user_id, session_id, ip) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(to_i64(now))
        .bind(record.event.as_str())
        .bind(record.user_id)
        .bind(record.session_id)
        .bind(record.ip.map(|ip| ip.to_string()))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The user's most recent events, newest first; `None` if there is no such user.
    pub async fn recent_audit(
        &self,
        username_key: &str,
        limit: i64,
    ) -> Result<Option<Vec<Entry>>, sqlx::Error> {
        let user: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE username_key = $1")
            .bind(username_key)
            .fetch_optional(&self.read)
            .await?;
        let Some((user_id,)) = user else {
            return Ok(None);
        };
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT at, event, session_id, ip FROM audit_events WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(Some(
            rows.into_iter()
                .map(|r| Entry { at: from_i64(r.at), event: r.event, session_id: r.session_id, ip: r.ip })
                .collect(),
        ))
    }
}
