//! `login_throttle` and `rate_limits`: consecutive failed password attempts per username,
//! and the per-client GCRA buckets. The policy (how many, how long) is `limits`'; this is
//! only how it is stored, each step one atomic statement so every instance shares it.

use super::{Store, from_i64, to_i64};

/// The outcome of claiming a password attempt for a username.
pub enum Attempt {
    /// Go ahead: this is the `n`-th attempt in a row without a success.
    Allowed(u32),
    /// Locked until then (Unix seconds): don't even check the password.
    Locked(u64),
}

impl Store {
    /// Claims one password attempt for the key, atomically: it is counted (as a failure,
    /// until a success clears the count) and `lock_for` the new count locks the attempts after
    /// it. Counting before the password is checked means parallel attempts can't all slip
    /// through before the first failure is recorded.
    pub async fn claim_login_attempt(
        &self,
        key: &str,
        now: u64,
        lock_for: impl Fn(u32) -> Option<u64>,
    ) -> Result<Attempt, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let counted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO login_throttle (username_key, failures, locked_until, last_failure_at)
             VALUES ($1, 1, 0, $2)
             ON CONFLICT (username_key) DO UPDATE
               SET failures = login_throttle.failures + 1, last_failure_at = $2
               WHERE login_throttle.locked_until <= $2
             RETURNING failures",
        )
        .bind(key)
        .bind(to_i64(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((failures,)) = counted else {
            let (until,): (i64,) =
                sqlx::query_as("SELECT locked_until FROM login_throttle WHERE username_key = $1")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            return Ok(Attempt::Locked(from_i64(until)));
        };
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        if let Some(secs) = lock_for(failures) {
            sqlx::query("UPDATE login_throttle SET locked_until = $1 WHERE username_key = $2")
                .bind(to_i64(now.saturating_add(secs)))
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Attempt::Allowed(failures))
    }

    /// A success (or an administrator) resets the count.
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_throttle WHERE username_key = $1")
            .bind(key)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Takes one request from a GCRA bucket, atomically (one statement, so racing instances
    /// can't both take the last request): the bucket's "theoretical arrival time" moves on by
    /// `interval_ms` unless that would put it more than `burst` intervals ahead of now.
    /// `None` when allowed; otherwise the milliseconds until the next request would be.
    pub async fn take_rate_token(
        &self,
        bucket: &str,
        now_ms: i64,
        interval_ms: i64,
        burst: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let taken = sqlx::query(
            "INSERT INTO rate_limits (bucket, tat_ms) VALUES ($1, $2 + $3)
             ON CONFLICT (bucket) DO UPDATE
               SET tat_ms = (CASE WHEN rate_limits.tat_ms > $2 THEN rate_limits.tat_ms ELSE $2 END) + $3
               WHERE (CASE WHEN rate_limits.tat_ms > $2 THEN rate_limits.tat_ms ELSE $2 END) + $3 - $2 <= $4
             RETURNING tat_ms",
        )
        .bind(bucket)
        .bind(now_ms)
        .bind(interval_ms)
        .bind(burst * interval_ms)
        .fetch_optional(&self.write)
        .await?;
        if taken.is_some() {
            return Ok(None);
        }
        let tat: Option<(i64,)> = sqlx::query_as("SELECT tat_ms FROM rate_limits WHERE bucket = $1")
            .bind(bucket)
            .fetch_optional(&self.write)
            .await?;
        let tat = tat.map_or(now_ms, |(tat,)| tat);
        Ok(Some((tat + interval_ms - burst * interval_ms - now_ms).max(0)))
    }
}
