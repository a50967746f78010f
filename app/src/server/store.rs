//! Every SQL statement the app runs. Portable SQL (SQLite now, PostgreSQL next): `$n`
//! placeholders, TEXT ids, BIGINT Unix-second timestamps, NULL-able timestamps instead of
//! booleans.

use super::tokens::Claims;
use crate::api::Profile;
use sqlx::{AnyPool, Row};

/// The one view of a user that carries the password hash: only login reads it.
pub struct LoginAccount {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub disabled: bool,
}

pub async fn find_login(db: &AnyPool, username_key: &str) -> Result<Option<LoginAccount>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, username, password_hash, disabled_at FROM users WHERE username_key = $1")
            .bind(username_key)
            .fetch_optional(db)
            .await?;
    row.map(|r| {
        Ok(LoginAccount {
            id: r.try_get("id")?,
            username: r.try_get("username")?,
            password_hash: r.try_get("password_hash")?,
            disabled: r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        })
    })
    .transpose()
}

pub async fn username_exists(db: &AnyPool, username_key: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 FROM users WHERE username_key = $1")
        .bind(username_key)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub username_key: &'a str,
    pub password_hash: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub now: i64,
}

/// Inserts the user and their profile together: both rows or neither.
pub async fn insert_user(db: &AnyPool, user: &NewUser<'_>) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO users (id, username, username_key, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user.id)
    .bind(user.username)
    .bind(user.username_key)
    .bind(user.password_hash)
    .bind(user.now)
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
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// Starts a session (a refresh-token family) with its first refresh token.
pub async fn start_session(db: &AnyPool, refresh: &Claims, meta: &NewSession<'_>) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
         VALUES ($1, $2, $3, $3, $4, $5, $6)",
    )
    .bind(&refresh.sid)
    .bind(&refresh.user_id)
    .bind(to_i64(refresh.iat))
    .bind(to_i64(refresh.exp))
    .bind(meta.user_agent)
    .bind(meta.ip)
    .execute(&mut *tx)
    .await?;
    insert_refresh_token(&mut tx, refresh, None).await?;
    tx.commit().await
}

async fn insert_refresh_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    claims: &Claims,
    parent: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (jti, session_id, user_id, parent_jti, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&claims.jti)
    .bind(&claims.sid)
    .bind(&claims.user_id)
    .bind(parent)
    .bind(to_i64(claims.iat))
    .bind(to_i64(claims.exp))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rotates `presented` into `child` atomically. Returns the user's current username, or
/// `None` when the presented token is unknown, already used, revoked or expired, or its
/// session or user is gone.
///
/// The guarded UPDATE is what makes concurrent refreshes safe: whichever transaction marks
/// the token used first wins; every other one matches zero rows (SQLite serialises writers,
/// PostgreSQL re-checks the WHERE clause after the row lock).
pub async fn rotate_refresh_token(
    db: &AnyPool,
    presented: &Claims,
    child: &Claims,
    now: u64,
) -> Result<Option<String>, sqlx::Error> {
    let now = to_i64(now);
    let mut tx = db.begin().await?;
    let claimed = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1, replaced_by = $2
         WHERE jti = $3 AND session_id = $4 AND user_id = $5
           AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
           AND EXISTS (
             SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = refresh_tokens.session_id
               AND s.revoked_at IS NULL AND u.disabled_at IS NULL
           )",
    )
    .bind(now)
    .bind(&child.jti)
    .bind(&presented.jti)
    .bind(&presented.sid)
    .bind(&presented.user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    insert_refresh_token(&mut tx, child, Some(&presented.jti)).await?;
    sqlx::query("UPDATE sessions SET last_used_at = $1, expires_at = $2 WHERE id = $3")
        .bind(now)
        .bind(to_i64(child.exp))
        .bind(&child.sid)
        .execute(&mut *tx)
        .await?;
    let username: String = sqlx::query("SELECT username FROM users WHERE id = $1")
        .bind(&child.user_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("username")?;
    tx.commit().await?;
    Ok(Some(username))
}

/// Ends a session and every refresh token in it. False when there was no live session.
pub async fn revoke_session(
    db: &AnyPool,
    session_id: &str,
    user_id: &str,
    now: u64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let now = to_i64(now);
    let mut tx = db.begin().await?;
    let revoked = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2
         WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(session_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
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

/// Timestamps are u64 in tokens and BIGINT in SQL; they fit until the year 292 billion.
fn to_i64(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}
