//! The database: every SQL statement the app runs, one file per table (or pair of tables
//! that live and die together). Portable SQL, the same on SQLite and PostgreSQL: `$n`
//! placeholders, TEXT ids, BIGINT Unix-second timestamps, NULL-able timestamps instead of
//! booleans.
//!
//! [`Store`] owns both pools, and each method picks the one it needs: reads go to the
//! reader pool, writes (and transactions that write) to the writer. On SQLite the writer is
//! a pool of one connection: SQLite allows one writer at a time, and queueing here is fair
//! and immediate, where SQLite's own busy handler sleeps in steps of milliseconds. On
//! PostgreSQL both are the same pool.

mod audit;
mod ceremonies;
mod devices;
mod emails;
mod factors;
mod identities;
mod keys;
mod mail_tokens;
mod outbox;
mod passkeys;
mod sessions;
mod throttle;
mod users;

pub use ceremonies::Ceremony;
pub use emails::Verified;
pub use factors::Proof;
pub use identities::{NewIdentity, RemoveRefused};
pub use mail_tokens::{NewMailToken, Purpose};
pub use passkeys::{AddRefused, MAX_PASSKEYS, NewPasskey};
pub use sessions::{NewSession, RevokeReason, Rotation, RotationPolicy, TokenRow};
pub use throttle::Attempt;
pub use users::{AccountMail, LoginAccount, NewUser};

/// A transaction on either database.
type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

use sqlx::AnyPool;

/// The database, as two pools over it (see the module docs).
#[derive(Clone)]
pub struct Pools {
    pub read: AnyPool,
    pub write: AnyPool,
}

#[derive(Clone)]
pub struct Store {
    read: AnyPool,
    write: AnyPool,
}

/// Audit events are kept this long (a year).
const AUDIT_RETENTION_SECS: i64 = 365 * 86_400;

/// Sent (or given-up) mail is kept this long (a week), bodies erased, for the record.
const OUTBOX_RETENTION_SECS: i64 = 7 * 86_400;

impl Store {
    pub fn new(pools: Pools) -> Self {
        Self { read: pools.read, write: pools.write }
    }

    /// The reader pool: for the readiness check, and the connection URL of the revocation feed.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// True on PostgreSQL, where instances share the database and tell each other things.
    pub fn is_postgres(&self) -> bool {
        self.read.connect_options().database_url.scheme().starts_with("postgres")
    }

    /// SQLite: copies the WAL into the database file without blocking anyone (PASSIVE; what
    /// readers still hold waits for the next time). The writer runs with auto-checkpoints
    /// off, so that no commit does this while everyone waits for it. False on PostgreSQL,
    /// which has nothing of the kind to do.
    pub async fn checkpoint(&self) -> Result<bool, sqlx::Error> {
        if self.is_postgres() {
            return Ok(false);
        }
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.read).await?;
        Ok(true)
    }

    /// Closes both pools, waiting for the connections in use to come back (at shutdown).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Sends `payload` to every instance listening on `channel` (PostgreSQL `NOTIFY`).
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(&self.read).await?;
        Ok(())
    }

    /// Deletes what can never be used again, across the tables: expired refresh tokens,
    /// sessions that expired or were revoked more than `keep_revoked_secs` ago (their tokens
    /// go with them), year-old audit events, full rate-limit buckets, and old failed-login
    /// counts, of which at most `throttle_max_rows` are kept (the locked ones and the most
    /// recent failures first). Returns the tokens and sessions deleted.
    pub async fn prune(
        &self,
        now: u64,
        keep_revoked_secs: u64,
        throttle_max_rows: u64,
    ) -> Result<(u64, u64), sqlx::Error> {
        let now = to_i64(now);
        let mut tx = self.write.begin().await?;
        let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(now - AUDIT_RETENTION_SECS)
            .execute(&mut *tx)
            .await?;
        // A bucket whose arrival time has passed is full again: the same as no row.
        sqlx::query("DELETE FROM rate_limits WHERE tat_ms < $1")
            .bind(now.saturating_mul(1000))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM login_throttle WHERE locked_until < $1 AND last_failure_at < $2")
            .bind(now)
            .bind(now - 7 * 86_400)
            .execute(&mut *tx)
            .await?;
        // `LIMIT huge OFFSET n` is the portable "all rows after the first n".
        sqlx::query(
            "DELETE FROM login_throttle WHERE username_key IN (
               SELECT username_key FROM login_throttle
               ORDER BY CASE WHEN locked_until > $1 THEN 0 ELSE 1 END, last_failure_at DESC, username_key
               LIMIT $2 OFFSET $3)",
        )
        .bind(now)
        .bind(i64::MAX)
        .bind(to_i64(throttle_max_rows))
        .execute(&mut *tx)
        .await?;
        mail_tokens::prune_tokens_in(&mut tx, now).await?;
        factors::prune_challenges_in(&mut tx, now).await?;
        ceremonies::prune_ceremonies_in(&mut tx, now).await?;
        outbox::prune_outbox_in(&mut tx, now - OUTBOX_RETENTION_SECS).await?;
        let sessions = sqlx::query(
            "DELETE FROM sessions
             WHERE expires_at < $1 OR absolute_expires_at < $1 OR revoked_at < $2",
        )
        .bind(now)
        .bind(now - to_i64(keep_revoked_secs))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((tokens, sessions))
    }
}

/// Timestamps are u64 in tokens and BIGINT in SQL; they fit until the year 292 billion.
fn to_i64(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn from_i64(secs: i64) -> u64 {
    u64::try_from(secs).unwrap_or(0)
}
