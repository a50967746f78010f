//! Every SQL statement the app runs. Portable SQL (SQLite now, PostgreSQL next): `$n`
//! placeholders, TEXT ids, BIGINT Unix-second timestamps, NULL-able timestamps instead of
//! booleans.

use super::tokens::Claims;
use crate::api::{Profile, Role};
use sqlx::{AnyPool, Row};

/// The one view of a user that carries the password hash: only login reads it.
pub struct LoginAccount {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub disabled: bool,
    pub role: Role,
}

pub async fn find_login(db: &AnyPool, username_key: &str) -> Result<Option<LoginAccount>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, username, password_hash, disabled_at, role FROM users WHERE username_key = $1",
    )
    .bind(username_key)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(LoginAccount {
            id: r.try_get("id")?,
            username: r.try_get("username")?,
            password_hash: r.try_get("password_hash")?,
            disabled: r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
            role: Role::parse(&r.try_get::<String, _>("role")?),
        })
    })
    .transpose()
}

/// True when the name, or a look-alike of it (same confusable skeleton), is taken.
pub async fn username_taken(db: &AnyPool, username_key: &str, skeleton: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 FROM users WHERE username_key = $1 OR username_skeleton = $2")
        .bind(username_key)
        .bind(skeleton)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// Users made before skeletons were stored: (id, username_key).
pub async fn users_without_skeleton(db: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, username_key FROM users WHERE username_skeleton IS NULL")
        .fetch_all(db)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("username_key")?))).collect()
}

pub async fn set_skeleton(db: &AnyPool, user_id: &str, skeleton: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET username_skeleton = $1 WHERE id = $2")
        .bind(skeleton)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub username_key: &'a str,
    pub username_skeleton: &'a str,
    pub password_hash: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: &'a str,
    pub now: i64,
}

/// Inserts the user and their profile together: both rows or neither.
pub async fn insert_user(db: &AnyPool, user: &NewUser<'_>) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO users (id, username, username_key, username_skeleton, password_hash, created_at, role)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user.id)
    .bind(user.username)
    .bind(user.username_key)
    .bind(user.username_skeleton)
    .bind(user.password_hash)
    .bind(user.now)
    .bind(user.role)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO profiles (user_id, first_name, last_name, email) VALUES ($1, $2, $3, $4)")
        .bind(user.id)
        .bind(user.first_name)
        .bind(user.last_name)
        .bind(user.email)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub created_at: u64,
    pub absolute_expires_at: u64,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// Starts a session (a refresh-token family) with its first refresh token.
pub async fn start_session(
    db: &AnyPool,
    session: &NewSession<'_>,
    first: &TokenRow,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO sessions
           (id, user_id, created_at, last_used_at, expires_at, absolute_expires_at, user_agent, ip)
         VALUES ($1, $2, $3, $3, $4, $5, $6, $7)",
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

async fn insert_refresh_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
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

/// Rotates the presented refresh token, in one transaction.
///
/// The guarded UPDATE comes first and is what makes concurrent refreshes safe: whichever
/// transaction marks the token used first wins; every other one matches zero rows (SQLite
/// serialises writers, PostgreSQL re-checks the WHERE clause after the row lock) and then
/// finds out why: a replay inside the grace window, a reuse, or a dead token.
pub async fn rotate_refresh_token(
    db: &AnyPool,
    presented: &Claims,
    new_jti: &str,
    policy: &RotationPolicy,
) -> Result<Rotation, sqlx::Error> {
    let now = to_i64(policy.now);
    let mut tx = db.begin().await?;
    // Lock order: the session row first, then its tokens, as logout and revocation do, so
    // a rotation racing a revocation waits instead of deadlocking (PostgreSQL). A no-op
    // write is the portable way to take the row lock (SQLite has no SELECT … FOR UPDATE).
    sqlx::query("UPDATE sessions SET last_used_at = last_used_at WHERE id = $1")
        .bind(&presented.sid)
        .execute(&mut *tx)
        .await?;
    let claimed = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1, replaced_by = $2
         WHERE jti = $3 AND session_id = $4 AND user_id = $5
           AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
           AND EXISTS (
             SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = refresh_tokens.session_id AND s.revoked_at IS NULL
               AND s.absolute_expires_at > $1 AND u.disabled_at IS NULL
           )",
    )
    .bind(now)
    .bind(new_jti)
    .bind(&presented.jti)
    .bind(&presented.sid)
    .bind(&presented.user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();

    if claimed == 1 {
        let row = sqlx::query(
            "SELECT u.username, s.absolute_expires_at FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1",
        )
        .bind(&presented.sid)
        .fetch_one(&mut *tx)
        .await?;
        let username: String = row.try_get("username")?;
        let cap: i64 = row.try_get("absolute_expires_at")?;
        let child = TokenRow {
            jti: new_jti.to_owned(),
            issued_at: policy.now,
            // The session's absolute cap bounds every token in it.
            expires_at: (policy.now + policy.refresh_lifetime).min(from_i64(cap)),
        };
        insert_refresh_token(&mut tx, &child, &presented.sid, &presented.user_id, Some(&presented.jti))
            .await?;
        sqlx::query("UPDATE sessions SET last_used_at = $1, expires_at = $2 WHERE id = $3")
            .bind(now)
            .bind(to_i64(child.expires_at))
            .bind(&presented.sid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(Rotation::Rotated { username, child });
    }

    // Why not? Look at the token, its replacement and its session.
    let row = sqlx::query(
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
    let used_at: Option<i64> = row.try_get("used_at")?;
    let session_live = row.try_get::<Option<i64>, _>("session_revoked_at")?.is_none()
        && row.try_get::<Option<i64>, _>("disabled_at")?.is_none()
        && row.try_get::<i64, _>("absolute_expires_at")? > now;
    let Some(used_at) = used_at.filter(|_| session_live) else {
        tx.rollback().await?;
        return Ok(Rotation::Refused);
    };

    let child_jti: Option<String> = row.try_get("child_jti")?;
    let child_current = row.try_get::<Option<i64>, _>("child_used_at")?.is_none()
        && row.try_get::<Option<i64>, _>("child_revoked_at")?.is_none()
        && row.try_get::<Option<i64>, _>("child_expires_at")?.is_some_and(|exp| exp > now);
    let in_grace = policy.grace_period > 0 && now - used_at <= to_i64(policy.grace_period);
    if let (true, true, Some(jti)) = (in_grace, child_current, child_jti) {
        let child = TokenRow {
            jti,
            issued_at: from_i64(row.try_get::<Option<i64>, _>("child_issued_at")?.unwrap_or_default()),
            expires_at: from_i64(row.try_get::<Option<i64>, _>("child_expires_at")?.unwrap_or_default()),
        };
        let username = row.try_get("username")?;
        tx.rollback().await?;
        return Ok(Rotation::Replayed { username, child });
    }

    revoke_session_in(&mut tx, &presented.sid, &presented.user_id, now, "reuse").await?;
    tx.commit().await?;
    Ok(Rotation::ReuseDetected)
}

/// Ends a session and every refresh token in it. False when there was no live session.
pub async fn revoke_session(
    db: &AnyPool,
    session_id: &str,
    user_id: &str,
    now: u64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let revoked = revoke_session_in(&mut tx, session_id, user_id, to_i64(now), reason).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Revokes a session and all its refresh tokens inside `tx`. False if it was not live.
/// Scoped to the user: a token can only ever end its own user's sessions.
async fn revoke_session_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session_id: &str,
    user_id: &str,
    now: i64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let revoked = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
         WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
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

/// True when the session is live and its user enabled: checked on every authenticated
/// call, so a logout takes effect at once rather than when the access token expires.
pub async fn session_is_live(db: &AnyPool, session_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// Replaces the user's first name, last name and email.
pub async fn update_profile(
    db: &AnyPool,
    user_id: &str,
    first_name: &str,
    last_name: &str,
    email: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE profiles SET first_name = $1, last_name = $2, email = $3 WHERE user_id = $4")
        .bind(first_name)
        .bind(last_name)
        .bind(email)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Username and role of a user, if the user exists.
pub async fn user_brief(db: &AnyPool, user_id: &str) -> Result<Option<(String, Role)>, sqlx::Error> {
    sqlx::query("SELECT username, role FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await?
        .map(|row| Ok((row.try_get("username")?, Role::parse(&row.try_get::<String, _>("role")?))))
        .transpose()
}

pub struct UserRow {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// Every account, oldest first.
pub async fn list_users(db: &AnyPool) -> Result<Vec<UserRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.username, p.first_name, p.last_name, p.email, u.role, u.created_at,
                CAST(CASE WHEN u.disabled_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS disabled
         FROM users u JOIN profiles p ON p.user_id = u.id
         ORDER BY u.created_at, u.username_key",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(UserRow {
                username: row.try_get("username")?,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                email: row.try_get("email")?,
                role: row.try_get("role")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// Sessions neither revoked nor past their expiry.
pub async fn count_active_sessions(db: &AnyPool, now: u64) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "SELECT COUNT(*) AS n FROM sessions
         WHERE revoked_at IS NULL AND expires_at >= $1 AND absolute_expires_at >= $1",
    )
    .bind(to_i64(now))
    .fetch_one(db)
    .await?
    .try_get("n")
}

/// True when the refresh token has neither been used nor revoked.
pub async fn refresh_token_is_unused(db: &AnyPool, jti: &str) -> Result<bool, sqlx::Error> {
    let row =
        sqlx::query("SELECT 1 FROM refresh_tokens WHERE jti = $1 AND used_at IS NULL AND revoked_at IS NULL")
            .bind(jti)
            .fetch_optional(db)
            .await?;
    Ok(row.is_some())
}

/// The profile of the session's user, read in the same query that proves the session live.
pub async fn profile_for_session(
    db: &AnyPool,
    session_id: &str,
    user_id: &str,
) -> Result<Option<Profile>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.username, p.first_name, p.last_name, p.email
         FROM sessions s
         JOIN users u ON u.id = s.user_id
         JOIN profiles p ON p.user_id = u.id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(Profile {
            username: r.try_get("username")?,
            first_name: r.try_get("first_name")?,
            last_name: r.try_get("last_name")?,
            email: r.try_get("email")?,
        })
    })
    .transpose()
}

/// Audit events are kept this long (a year).
const AUDIT_RETENTION_SECS: i64 = 365 * 86_400;

/// Timestamps are u64 in tokens and BIGINT in SQL; they fit until the year 292 billion.
fn to_i64(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn from_i64(secs: i64) -> u64 {
    u64::try_from(secs).unwrap_or(0)
}

pub struct SessionRow {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The user's live sessions, most recently used first.
pub async fn list_sessions(db: &AnyPool, user_id: &str, now: u64) -> Result<Vec<SessionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, created_at, last_used_at, user_agent, ip FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND absolute_expires_at > $2
         ORDER BY last_used_at DESC, created_at DESC",
    )
    .bind(user_id)
    .bind(to_i64(now))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SessionRow {
                id: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
                user_agent: r.try_get("user_agent")?,
                ip: r.try_get("ip")?,
            })
        })
        .collect()
}

/// Ends every live session of the user except `keep` (pass "" to end them all).
pub async fn revoke_user_sessions(
    db: &AnyPool,
    user_id: &str,
    keep: &str,
    now: u64,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let n = revoke_user_sessions_in(&mut tx, user_id, keep, to_i64(now), reason).await?;
    tx.commit().await?;
    Ok(n)
}

async fn revoke_user_sessions_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    keep: &str,
    now: i64,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
         WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
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

pub async fn password_hash(db: &AnyPool, user_id: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1 AND disabled_at IS NULL")
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    row.map(|r| r.try_get("password_hash")).transpose()
}

/// Stores the new hash and ends every other session of the user, together.
pub async fn change_password(
    db: &AnyPool,
    user_id: &str,
    keep_session: &str,
    new_hash: &str,
    now: u64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(new_hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    revoke_user_sessions_in(&mut tx, user_id, keep_session, to_i64(now), "password_changed").await?;
    tx.commit().await
}

/// Disables (or enables) a user; disabling ends all their sessions. Returns the user id,
/// or `None` when there is no such user.
pub async fn set_disabled(
    db: &AnyPool,
    username_key: &str,
    disabled: bool,
    now: u64,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let disabled_at = disabled.then_some(to_i64(now));
    let row = sqlx::query("UPDATE users SET disabled_at = $1 WHERE username_key = $2 RETURNING id")
        .bind(disabled_at)
        .bind(username_key)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(None);
    };
    let user_id: String = row.try_get("id")?;
    if disabled {
        revoke_user_sessions_in(&mut tx, &user_id, "", to_i64(now), "user_disabled").await?;
    }
    tx.commit().await?;
    Ok(Some(user_id))
}

/// Deletes what can never be used again: expired refresh tokens, and sessions that expired
/// or were revoked more than `keep_revoked_secs` ago (their tokens go with them).
/// The login throttle keeps at most `throttle_max_rows` usernames: the locked ones and the
/// most recent failures first.
pub async fn prune(
    db: &AnyPool,
    now: u64,
    keep_revoked_secs: u64,
    throttle_max_rows: u64,
) -> Result<(u64, u64), sqlx::Error> {
    let now = to_i64(now);
    let mut tx = db.begin().await?;
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

/// The outcome of claiming a password attempt for a username.
pub enum Attempt {
    /// Go ahead: this is the `n`-th attempt in a row without a success.
    Allowed(u32),
    /// Locked until then (Unix seconds): don't even check the password.
    Locked(u64),
}

/// Claims one password attempt for the username, atomically: it is counted (as a failure,
/// until a success clears the count) and `lock_for` the new count locks the attempts after
/// it. Counting before the password is checked means parallel attempts can't all slip
/// through before the first failure is recorded.
pub async fn claim_login_attempt(
    db: &AnyPool,
    username_key: &str,
    now: u64,
    lock_for: impl Fn(u32) -> Option<u64>,
) -> Result<Attempt, sqlx::Error> {
    let mut tx = db.begin().await?;
    let counted = sqlx::query(
        "INSERT INTO login_throttle (username_key, failures, locked_until, last_failure_at)
         VALUES ($1, 1, 0, $2)
         ON CONFLICT (username_key) DO UPDATE
           SET failures = login_throttle.failures + 1, last_failure_at = $2
           WHERE login_throttle.locked_until <= $2
         RETURNING failures",
    )
    .bind(username_key)
    .bind(to_i64(now))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = counted else {
        let until: i64 = sqlx::query("SELECT locked_until FROM login_throttle WHERE username_key = $1")
            .bind(username_key)
            .fetch_one(&mut *tx)
            .await?
            .try_get("locked_until")?;
        tx.commit().await?;
        return Ok(Attempt::Locked(from_i64(until)));
    };
    let failures = u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX);
    if let Some(secs) = lock_for(failures) {
        sqlx::query("UPDATE login_throttle SET locked_until = $1 WHERE username_key = $2")
            .bind(to_i64(now.saturating_add(secs)))
            .bind(username_key)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Attempt::Allowed(failures))
}

/// Takes one request from a GCRA bucket, atomically (one statement, so racing instances
/// can't both take the last request): the bucket's "theoretical arrival time" moves on by
/// `interval_ms` unless that would put it more than `burst` intervals ahead of now.
/// `None` when allowed; otherwise the milliseconds until the next request would be.
pub async fn take_rate_token(
    db: &AnyPool,
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
    .fetch_optional(db)
    .await?;
    if taken.is_some() {
        return Ok(None);
    }
    let tat: i64 = sqlx::query("SELECT tat_ms FROM rate_limits WHERE bucket = $1")
        .bind(bucket)
        .fetch_optional(db)
        .await?
        .map(|row| row.try_get("tat_ms"))
        .transpose()?
        .unwrap_or(now_ms);
    Ok(Some((tat + interval_ms - burst * interval_ms - now_ms).max(0)))
}

/// A successful login (or an administrator) resets the count.
pub async fn clear_login_failures(db: &AnyPool, username_key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_throttle WHERE username_key = $1").bind(username_key).execute(db).await?;
    Ok(())
}

pub async fn insert_audit(
    db: &AnyPool,
    id: &str,
    now: u64,
    record: &super::audit::Record<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, event, user_id, session_id, ip) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(to_i64(now))
    .bind(record.event.as_str())
    .bind(record.user_id)
    .bind(record.session_id)
    .bind(record.ip.map(|ip| ip.to_string()))
    .execute(db)
    .await?;
    Ok(())
}

/// The user's most recent events, newest first; `None` if there is no such user.
pub async fn recent_audit(
    db: &AnyPool,
    username_key: &str,
    limit: i64,
) -> Result<Option<Vec<super::audit::Entry>>, sqlx::Error> {
    let Some(user) = sqlx::query("SELECT id FROM users WHERE username_key = $1")
        .bind(username_key)
        .fetch_optional(db)
        .await?
    else {
        return Ok(None);
    };
    let user_id: String = user.try_get("id")?;
    let rows = sqlx::query(
        "SELECT at, event, session_id, ip FROM audit_events WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(super::audit::Entry {
                at: from_i64(r.try_get("at")?),
                event: r.try_get("event")?,
                session_id: r.try_get("session_id")?,
                ip: r.try_get("ip")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map(Some)
}

pub async fn insert_signing_key(db: &AnyPool, key: &super::keys::KeyMaterial) -> Result<(), sqlx::Error> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    sqlx::query("INSERT INTO signing_keys (kid, alg, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&key.kid)
        .bind(key.alg.as_str())
        .bind(b64.encode(&key.private_key))
        .bind(key.public_key.as_ref().map(|k| b64.encode(k)))
        .bind(to_i64(key.created_at))
        .execute(db)
        .await?;
    Ok(())
}

/// Every stored key of `alg`, oldest first. Rows that don't decode are skipped and logged.
pub async fn signing_keys(
    db: &AnyPool,
    alg: super::keys::KeyAlgorithm,
) -> Result<Vec<super::keys::KeyMaterial>, sqlx::Error> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let rows = sqlx::query(
        "SELECT kid, private_key, public_key, created_at FROM signing_keys WHERE alg = $1 ORDER BY created_at, kid",
    )
    .bind(alg.as_str())
    .fetch_all(db)
    .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in rows {
        let kid: String = r.try_get("kid")?;
        let private_key = b64.decode(r.try_get::<String, _>("private_key")?);
        let public_key = r.try_get::<Option<String>, _>("public_key")?.map(|k| b64.decode(k)).transpose();
        match (private_key, public_key) {
            (Ok(private_key), Ok(public_key)) => keys.push(super::keys::KeyMaterial {
                kid,
                alg,
                private_key,
                public_key,
                created_at: from_i64(r.try_get("created_at")?),
            }),
            _ => tracing::error!(%kid, "stored signing key is not valid base64; ignored"),
        }
    }
    Ok(keys)
}
