//! `sessions` and `refresh_tokens`: a session is one login, a family of refresh tokens each
//! replacing the last. Rotation, reuse detection and revocation happen here, each in one
//! transaction.

use super::{Store, Tx, from_i64, to_i64};
use crate::server::audit::Record;
use crate::server::tokens::Claims;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

/// Claims the presented token ($3) for its replacement ($2), if it is current and its session
/// and user are live: the guarded UPDATE at the heart of a rotation.
macro_rules! claim {
    () => {
        "UPDATE refresh_tokens SET used_at = $1, replaced_by = $2
 WHERE jti = $3 AND session_id = $4 AND user_id = $5
   AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
   AND EXISTS (
     SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.id = $4 AND s.revoked_at IS NULL AND s.absolute_expires_at > $1 AND u.disabled_at IS NULL
   )"
    };
}

/// A rotation, in the words of each database: claim the presented token ($3) for its
/// replacement ($2), and only if that claimed it, move the session's expiry, insert the
/// replacement and write the audit row; then read back whom it is for. Parameters: $1 now,
/// $2 the new jti, $3 the presented jti, $4 its session, $5 its user, $6 the refresh
/// lifetime, $7 the audit row's id, $8 its event, $9 the client's address. Every refresh
/// token (and so the session's expiry) ends by the session's absolute cap.
///
/// SQLite: a script of five statements in its own transaction, run in one call to the
/// writer's worker thread, so the one writer is held for that call only, not across the waits
/// between several (its single writer already keeps rotations apart).
const ROTATE_SQLITE: &str = concat!(
    "BEGIN;\n",
    claim!(),
    ";

UPDATE sessions SET last_used_at = $1, expires_at = MIN($1 + $6, absolute_expires_at)
 WHERE id = $4 AND EXISTS (SELECT 1 FROM refresh_tokens WHERE jti = $3 AND replaced_by = $2);
INSERT INTO refresh_tokens (jti, session_id, user_id, parent_jti, issued_at, expires_at)
 SELECT $2, id, user_id, $3, $1, expires_at FROM sessions
 WHERE id = $4 AND EXISTS (SELECT 1 FROM refresh_tokens WHERE jti = $3 AND replaced_by = $2);
INSERT INTO audit_events (id, at, event, user_id, session_id, ip)
 SELECT $7, $1, $8, $5, $4, $9 WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE jti = $2);
SELECT u.username, t.expires_at FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.jti = $2;
COMMIT;"
);

/// PostgreSQL: one statement (after the session row is locked, so it reads a snapshot taken
/// after any revocation it waited for).
const ROTATE_POSTGRES: &str = concat!(
    "WITH claimed AS (",
    claim!(),
    " RETURNING session_id
), moved AS (
  UPDATE sessions SET last_used_at = $1, expires_at = LEAST($1 + $6, absolute_expires_at)
   WHERE id IN (SELECT session_id FROM claimed)
  RETURNING id, user_id, expires_at
), child AS (
  INSERT INTO refresh_tokens (jti, session_id, user_id, parent_jti, issued_at, expires_at)
  SELECT $2, id, user_id, $3, $1, expires_at FROM moved
  RETURNING jti
), audited AS (
  INSERT INTO audit_events (id, at, event, user_id, session_id, ip)
  SELECT $7, $1, $8, $5, $4, $9 FROM child
)
SELECT u.username, m.expires_at FROM moved m JOIN users u ON u.id = m.user_id"
);

pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub created_at: u64,
    pub absolute_expires_at: u64,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// A refresh token as stored: enough to sign it again, byte for byte.
pub struct TokenRow {
    pub jti: String,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// What presenting a refresh token did.
pub enum Rotation {
    /// It was the session's current token: `child` replaces it.
    Rotated { username: String, child: TokenRow },
    /// It was replaced moments ago (inside the grace window) and its replacement is still
    /// current: a racing tab or a retried request gets that same replacement back.
    Replayed { username: String, child: TokenRow },
    /// It had already been replaced: someone is replaying an old token, so the whole session
    /// is now revoked, the newest token included.
    ReuseDetected,
    /// Unknown, revoked or expired; or the session or user is gone.
    Refused,
}

pub struct RotationPolicy {
    pub now: u64,
    pub refresh_lifetime: u64,
    pub grace_period: u64,
}

/// Why a session ended, as recorded in `sessions.revoked_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    /// A rotated refresh token was presented again.
    Reuse,
    /// Its user ended it from the sessions list.
    ByUser,
    /// Its user signed out everywhere.
    LogoutAll,
    PasswordChanged,
    /// A password reset by a mailed link.
    PasswordReset,
    /// A second factor was turned on or off.
    SecondFactorChanged,
    UserDisabled,
}

impl RevokeReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Reuse => "reuse",
            Self::ByUser => "revoked_by_user",
            Self::LogoutAll => "logout_all",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::SecondFactorChanged => "second_factor_changed",
            Self::UserDisabled => "user_disabled",
        }
    }
}

/// One live session, as its user's session list shows it.
#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// Why a presented token was not rotated: the token, its replacement and its session.
#[derive(sqlx::FromRow)]
struct PresentedRow {
    used_at: Option<i64>,
    child_jti: Option<String>,
    child_issued_at: Option<i64>,
    child_expires_at: Option<i64>,
    child_used_at: Option<i64>,
    child_revoked_at: Option<i64>,
    session_revoked_at: Option<i64>,
    absolute_expires_at: i64,
    username: String,
    disabled_at: Option<i64>,
}

impl Store {
    /// Starts a session (a refresh-token family) with its first refresh token.
    pub async fn start_session(&self, session: &NewSession<'_>, first: &TokenRow) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO sessions
               (id, user_id, created_at, last_used_at, expires_at, absolute_expires_at, user_agent, ip, auth_at)
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $3)",
        )
        .bind(session.id)
        .bind(session.user_id)
        .bind(to_i64(session.created_at))
        .bind(to_i64(first.expires_at))
        .bind(to_i64(session.absolute_expires_at))
        .bind(session.user_agent)
        .bind(session.ip)
        .execute(&mut *tx)
        .await?;
        insert_refresh_token(&mut tx, first, session.id, session.user_id, None).await?;
        tx.commit().await
    }

    /// Rotates the presented refresh token, in one transaction, and writes `audit` (the
    /// rotation's event, under `audit_id`) in it when it rotates.
    ///
    /// The guarded UPDATE claims the token and is what makes concurrent refreshes safe:
    /// whichever transaction marks the token used first wins; every other one matches zero
    /// rows (SQLite serialises writers, PostgreSQL re-checks the WHERE clause after the row
    /// lock) and then finds out why: a replay inside the grace window, a reuse, or a dead
    /// token. The statements after the claim do nothing unless it claimed the token.
    pub async fn rotate_refresh_token(
        &self,
        presented: &Claims,
        new_jti: &str,
        policy: &RotationPolicy,
        audit_id: &str,
        audit: &Record<'_>,
    ) -> Result<Rotation, sqlx::Error> {
        let now = to_i64(policy.now);
        let rotation = RotationParams {
            now,
            new_jti: new_jti.to_owned(),
            presented_jti: presented.jti.clone(),
            session_id: presented.sid.clone(),
            user_id: presented.user_id.clone(),
            refresh_lifetime: to_i64(policy.refresh_lifetime),
            audit_id: audit_id.to_owned(),
            audit_event: audit.event.as_str(),
            audit_ip: audit.ip.map(|ip| ip.to_string()),
        };
        let mut tx = if self.is_postgres() {
            let mut tx = self.write.begin().await?;
            // Lock order: the session row first, then its tokens, as logout and revocation
            // do, so a rotation racing a revocation waits instead of deadlocking.
            sqlx::query("SELECT id FROM sessions WHERE id = $1 FOR UPDATE")
                .bind(&presented.sid)
                .fetch_optional(&mut *tx)
                .await?;
            let rows = rotation.bind(sqlx::query(ROTATE_POSTGRES)).fetch_all(&mut *tx).await?;
            if let Some(rotated) = rotated(rows, new_jti, policy.now)? {
                tx.commit().await?;
                return Ok(rotated);
            }
            tx
        } else {
            let rows = rotate_on_sqlite(self.write.clone(), rotation).await?;
            if let Some(rotated) = rotated(rows, new_jti, policy.now)? {
                return Ok(rotated);
            }
            // Nothing was written: find out why in a transaction of its own. A rotation that
            // claimed the token in between is seen as its use, as if this request came later.
            self.write.begin().await?
        };

        // Why not? Look at the token, its replacement and its session.
        let row: Option<PresentedRow> = sqlx::query_as(
            "SELECT t.used_at, c.jti AS child_jti, c.issued_at AS child_issued_at,
                    c.expires_at AS child_expires_at, c.used_at AS child_used_at,
                    c.revoked_at AS child_revoked_at, s.revoked_at AS session_revoked_at,
                    s.absolute_expires_at, u.username, u.disabled_at
             FROM refresh_tokens t
             JOIN sessions s ON s.id = t.session_id
             JOIN users u ON u.id = s.user_id
             LEFT JOIN refresh_tokens c ON c.jti = t.replaced_by
             WHERE t.jti = $1 AND t.session_id = $2 AND t.user_id = $3",
        )
        .bind(&presented.jti)
        .bind(&presented.sid)
        .bind(&presented.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(Rotation::Refused);
        };
        let session_live =
            row.session_revoked_at.is_none() && row.disabled_at.is_none() && row.absolute_expires_at > now;
        let Some(used_at) = row.used_at.filter(|_| session_live) else {
            tx.rollback().await?;
            return Ok(Rotation::Refused);
        };

        let child_current = row.child_used_at.is_none()
            && row.child_revoked_at.is_none()
            && row.child_expires_at.is_some_and(|exp| exp > now);
        let in_grace = policy.grace_period > 0 && now - used_at <= to_i64(policy.grace_period);
        if let (true, true, Some(jti)) = (in_grace, child_current, row.child_jti) {
            let child = TokenRow {
                jti,
                issued_at: from_i64(row.child_issued_at.unwrap_or_default()),
                expires_at: from_i64(row.child_expires_at.unwrap_or_default()),
            };
            tx.rollback().await?;
            return Ok(Rotation::Replayed { username: row.username, child });
        }

        revoke_session_in(&mut tx, &presented.sid, &presented.user_id, now, RevokeReason::Reuse).await?;
        tx.commit().await?;
        Ok(Rotation::ReuseDetected)
    }

    /// Ends a session and every refresh token in it. False when there was no live session.
    pub async fn revoke_session(
        &self,
        session_id: &str,
        user_id: &str,
        now: u64,
        reason: RevokeReason,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let revoked = revoke_session_in(&mut tx, session_id, user_id, to_i64(now), reason).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Ends every live session of the user except `keep` (pass "" to end them all).
    pub async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: &str,
        now: u64,
        reason: RevokeReason,
    ) -> Result<u64, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let n = revoke_user_sessions_in(&mut tx, user_id, keep, to_i64(now), reason).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// When the live session last proved the password (Unix seconds; 0 for sessions from
    /// before this was recorded).
    pub async fn session_auth_at(&self, session_id: &str, user_id: &str) -> Result<Option<u64>, sqlx::Error> {
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT auth_at FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|(at,)| from_i64(at.unwrap_or(0))))
    }

    /// Records that the session has just proved the password again.
    pub async fn set_auth_at(&self, session_id: &str, now: u64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE sessions SET auth_at = $1 WHERE id = $2")
            .bind(to_i64(now))
            .bind(session_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// True when the session is live and its user enabled: checked on every authenticated
    /// call, so a logout takes effect at once rather than when the access token expires.
    pub async fn session_is_live(&self, session_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
        )
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.is_some())
    }

    /// True when the refresh token has neither been used nor revoked.
    pub async fn refresh_token_is_unused(&self, jti: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT 1 FROM refresh_tokens WHERE jti = $1 AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(jti)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.is_some())
    }

    /// The user's live sessions, most recently used first.
    pub async fn list_sessions(&self, user_id: &str, now: u64) -> Result<Vec<SessionRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, created_at, last_used_at, user_agent, ip FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND absolute_expires_at > $2
             ORDER BY last_used_at DESC, created_at DESC",
        )
        .bind(user_id)
        .bind(to_i64(now))
        .fetch_all(&self.read)
        .await
    }

    /// Sessions neither revoked nor past their expiry (the same rule as `list_sessions`).
    pub async fn count_active_sessions(&self, now: u64) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM sessions
             WHERE revoked_at IS NULL AND expires_at > $1 AND absolute_expires_at > $1",
        )
        .bind(to_i64(now))
        .fetch_one(&self.read)
        .await?;
        Ok(n)
    }
}

/// The parameters of a rotation, owned: on SQLite it runs in a task of its own.
struct RotationParams {
    now: i64,
    new_jti: String,
    presented_jti: String,
    session_id: String,
    user_id: String,
    refresh_lifetime: i64,
    audit_id: String,
    audit_event: &'static str,
    audit_ip: Option<String>,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

impl RotationParams {
    /// `query` with $1 to $9 bound as [`ROTATE_SQLITE`] and [`ROTATE_POSTGRES`] read them.
    fn bind(self, query: AnyQuery<'_>) -> AnyQuery<'_> {
        query
            .bind(self.now)
            .bind(self.new_jti)
            .bind(self.presented_jti)
            .bind(self.session_id)
            .bind(self.user_id)
            .bind(self.refresh_lifetime)
            .bind(self.audit_id)
            .bind(self.audit_event)
            .bind(self.audit_ip)
    }
}

/// Runs [`ROTATE_SQLITE`] on the writer and returns its rows (all of them: through `Any`,
/// `fetch_optional` would stop the script at its first statement's result).
///
/// The script opens and commits its own transaction, so two things must never happen to
/// it: being dropped part-way (a request whose client went away), hence a task of its own;
/// and leaving a transaction open on the connection when a statement fails, hence the
/// ROLLBACK, or closing the connection when even that fails.
async fn rotate_on_sqlite(writer: AnyPool, rotation: RotationParams) -> Result<Vec<AnyRow>, sqlx::Error> {
    let task = tokio::spawn(async move {
        let mut conn = writer.acquire().await?;
        let result = rotation.bind(sqlx::query(ROTATE_SQLITE)).fetch_all(&mut *conn).await;
        if result.is_err() && sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
            conn.close_on_drop();
        }
        result
    });
    match task.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(sqlx::Error::WorkerCrashed),
    }
}

/// What the rotation's rows say: rotated (whom for, and the replacement's expiry), or not.
fn rotated(rows: Vec<AnyRow>, new_jti: &str, now: u64) -> Result<Option<Rotation>, sqlx::Error> {
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let (username, expires_at): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
    let child = TokenRow { jti: new_jti.to_owned(), issued_at: now, expires_at: from_i64(expires_at) };
    Ok(Some(Rotation::Rotated { username, child }))
}

async fn insert_refresh_token(
    tx: &mut Tx<'_>,
    token: &TokenRow,
    session_id: &str,
    user_id: &str,
    parent: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (jti, session_id, user_id, parent_jti, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.jti)
    .bind(session_id)
    .bind(user_id)
    .bind(parent)
    .bind(to_i64(token.issued_at))
    .bind(to_i64(token.expires_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revokes a session and all its refresh tokens inside `tx`. False if it was not live.
/// Scoped to the user: a token can only ever end its own user's sessions.
async fn revoke_session_in(
    tx: &mut Tx<'_>,
    session_id: &str,
    user_id: &str,
    now: i64,
    reason: RevokeReason,
) -> Result<bool, sqlx::Error> {
    let revoked = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
         WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(session_id)
    .bind(user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    // Scoped to the user as well: another user's session id must touch nothing at all.
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1
         WHERE session_id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(session_id)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(revoked == 1)
}

/// Ends every live session of the user except `keep`, inside `tx` (password change and
/// disabling do it together with their own write).
pub(super) async fn revoke_user_sessions_in(
    tx: &mut Tx<'_>,
    user_id: &str,
    keep: &str,
    now: i64,
    reason: RevokeReason,
) -> Result<u64, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
         WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(user_id)
    .bind(keep)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1
         WHERE user_id = $2 AND session_id <> $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(keep)
    .execute(&mut **tx)
    .await?;
    Ok(n)
}
