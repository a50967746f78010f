//! `totp_factors`, `recovery_codes`, `mfa_challenges` and `data_keys`: second factors, and
//! the step between a password and its second factor.

use super::outbox::insert_mail_in;
use super::sessions::{RevokeReason, revoke_user_sessions_in};
use super::{Store, from_i64, to_i64};
use crate::server::mail::Outgoing;

/// An account's authenticator, as stored.
#[derive(sqlx::FromRow)]
pub struct TotpRow {
    pub secret_box: String,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
}

/// What a second step presents, once checked against the secret: which time step its code
/// is, or which recovery code (as stored).
pub enum Proof {
    Step(u64),
    RecoveryCode(String),
}

/// A password accepted, waiting for its second factor.
#[derive(sqlx::FromRow)]
pub struct Challenge {
    pub user_id: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl Store {
    /// The data key, creating it if there is none. Instances starting together agree: the
    /// first insert wins and everyone reads the winner.
    pub async fn data_key(&self, fresh: &str, now: u64) -> Result<String, sqlx::Error> {
        sqlx::query("INSERT INTO data_keys (kid, key_b64, created_at) VALUES ('1', $1, $2) ON CONFLICT (kid) DO NOTHING")
            .bind(fresh)
            .bind(to_i64(now))
            .execute(&self.write)
            .await?;
        let (key,): (String,) =
            sqlx::query_as("SELECT key_b64 FROM data_keys WHERE kid = '1'").fetch_one(&self.write).await?;
        Ok(key)
    }

    pub async fn totp_factor(&self, user_id: &str) -> Result<Option<TotpRow>, sqlx::Error> {
        sqlx::query_as("SELECT secret_box, confirmed_at, last_step FROM totp_factors WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.read)
            .await
    }

    /// Stores a new pending secret, replacing a pending one; never a confirmed one.
    pub async fn set_pending_totp(
        &self,
        user_id: &str,
        secret_box: &str,
        now: u64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO totp_factors (user_id, secret_box, confirmed_at, last_step, created_at)
             VALUES ($1, $2, NULL, 0, $3)
             ON CONFLICT (user_id) DO UPDATE SET secret_box = $2, last_step = 0, created_at = $3
               WHERE totp_factors.confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(secret_box)
        .bind(to_i64(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Turns the pending secret on, with its first step used, new recovery codes, the user's
    /// other sessions ended and `notice` queued; all at once. False if nothing was pending.
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        step: u64,
        code_hashes: &[String],
        keep_session: &str,
        now: u64,
        notice: &Outgoing,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let confirmed = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = $2, last_step = $3 WHERE user_id = $1 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(to_i64(now))
        .bind(to_i64(step))
        .execute(&mut *tx)
        .await?;
        if confirmed.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        replace_codes_in(&mut tx, user_id, code_hashes).await?;
        factor_changed_in(&mut tx, user_id, keep_session, now, notice).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Turns the authenticator off and forgets the recovery codes, ends the user's other
    /// sessions and queues `notice`. False if there was none.
    pub async fn disable_totp(
        &self,
        user_id: &str,
        keep_session: &str,
        now: u64,
        notice: &Outgoing,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let deleted = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        factor_changed_in(&mut tx, user_id, keep_session, now, notice).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Finishes a sign-in's second step, all or nothing: takes the challenge (once) and uses
    /// the proof (a time step, never one at or before the last used, so a code is refused for
    /// the rest of its window; or an unused recovery code). False, with nothing used up, when
    /// either fails.
    pub async fn finish_second_step(
        &self,
        token_hash: &str,
        user_id: &str,
        proof: &Proof,
        now: u64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let taken = sqlx::query(
            "DELETE FROM mfa_challenges WHERE token_hash = $1 AND user_id = $2 AND expires_at >= $3",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(to_i64(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let used = taken
            && match proof {
                Proof::Step(step) => sqlx::query(
                    "UPDATE totp_factors SET last_step = $2
                     WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
                )
                .bind(user_id)
                .bind(to_i64(*step))
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                Proof::RecoveryCode(hash) => sqlx::query(
                    "UPDATE recovery_codes SET used_at = $3 WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL",
                )
                .bind(hash)
                .bind(user_id)
                .bind(to_i64(now))
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            } == 1;
        if used {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(used)
    }

    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(user_id)
                .fetch_one(&self.read)
                .await?;
        Ok(from_i64(n))
    }

    /// A new set of recovery codes; the old ones stop working.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        code_hashes: &[String],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        replace_codes_in(&mut tx, user_id, code_hashes).await?;
        tx.commit().await
    }

    pub async fn insert_mfa_challenge(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: u64,
        user_agent: Option<&str>,
        ip: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO mfa_challenges (token_hash, user_id, expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(to_i64(expires_at))
        .bind(user_agent)
        .bind(ip)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn find_mfa_challenge(
        &self,
        token_hash: &str,
        now: u64,
    ) -> Result<Option<Challenge>, sqlx::Error> {
        sqlx::query_as(
            "SELECT user_id, user_agent, ip FROM mfa_challenges WHERE token_hash = $1 AND expires_at >= $2",
        )
        .bind(token_hash)
        .bind(to_i64(now))
        .fetch_optional(&self.read)
        .await
    }
}

/// What turning a factor on or off (a passkey added or removed too) does besides: the user's other sessions end and
/// `notice` is queued, in the caller's transaction.
pub(super) async fn factor_changed_in(
    tx: &mut super::Tx<'_>,
    user_id: &str,
    keep_session: &str,
    now: u64,
    notice: &Outgoing,
) -> Result<(), sqlx::Error> {
    revoke_user_sessions_in(tx, user_id, keep_session, to_i64(now), RevokeReason::SecondFactorChanged)
        .await?;
    insert_mail_in(tx, notice, now).await
}

async fn replace_codes_in(
    tx: &mut super::Tx<'_>,
    user_id: &str,
    code_hashes: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    for hash in code_hashes {
        sqlx::query("INSERT INTO recovery_codes (code_hash, user_id) VALUES ($1, $2)")
            .bind(hash)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Forgets expired challenges.
pub(super) async fn prune_challenges_in(tx: &mut super::Tx<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mfa_challenges WHERE expires_at < $1").bind(now).execute(&mut **tx).await?;
    Ok(())
}
