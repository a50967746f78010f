//! `mail_tokens`: the tokens of mailed links, kept only as SHA-256 hashes. Issuing one
//! deletes the user's older ones of the same purpose; consuming one deletes it, so each
//! works once.

use super::outbox::insert_mail_in;
use super::{Store, Tx, to_i64};
use crate::server::mail::Outgoing;

/// What a link is for. A token works only for its own purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Proves the account's current address.
    VerifyEmail,
    /// Proves a new address, which becomes the account's when the link is used.
    ChangeEmail,
    ResetPassword,
}

impl Purpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ChangeEmail => "change_email",
            Self::ResetPassword => "reset_password",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::VerifyEmail, Self::ChangeEmail, Self::ResetPassword].into_iter().find(|p| p.as_str() == s)
    }
}

pub struct NewMailToken<'a> {
    pub hash: &'a str,
    pub user_id: &'a str,
    pub purpose: Purpose,
    pub email: &'a str,
    pub now: u64,
    pub expires_at: u64,
}

/// A live token, as found by its hash.
pub struct MailToken {
    pub user_id: String,
    pub purpose: Purpose,
    pub email: String,
    pub username: String,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    user_id: String,
    purpose: String,
    email: String,
    username: String,
}

/// Issues a token in the caller's transaction, replacing the user's older ones of its purpose.
pub(super) async fn insert_token_in(tx: &mut Tx<'_>, token: &NewMailToken<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mail_tokens WHERE user_id = $1 AND purpose = $2")
        .bind(token.user_id)
        .bind(token.purpose.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO mail_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token.hash)
    .bind(token.user_id)
    .bind(token.purpose.as_str())
    .bind(token.email)
    .bind(to_i64(token.now))
    .bind(to_i64(token.expires_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the token out, if it is live and of one of `purposes`: the one step that makes a
/// link single-use, even when two clicks race.
pub(super) async fn take_token_in(
    tx: &mut Tx<'_>,
    hash: &str,
    purposes: &[Purpose],
    now: u64,
) -> Result<Option<MailToken>, sqlx::Error> {
    let row: Option<TokenRow> = sqlx::query_as(
        "DELETE FROM mail_tokens WHERE token_hash = $1 AND expires_at >= $2
         RETURNING user_id, purpose, email, '' AS username",
    )
    .bind(hash)
    .bind(to_i64(now))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(into_token).filter(|t| purposes.contains(&t.purpose)))
}

fn into_token(row: TokenRow) -> Option<MailToken> {
    Some(MailToken {
        purpose: Purpose::parse(&row.purpose)?,
        user_id: row.user_id,
        email: row.email,
        username: row.username,
    })
}

impl Store {
    /// Issues a token and queues the mail that carries it, together.
    pub async fn issue_mail_token(
        &self,
        token: &NewMailToken<'_>,
        mails: &[Outgoing],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        insert_token_in(&mut tx, token).await?;
        for mail in mails {
            insert_mail_in(&mut tx, mail, token.now).await?;
        }
        tx.commit().await
    }

    /// True when the user has a live token of `purpose` issued since `since`.
    pub async fn has_fresh_mail_token(
        &self,
        user_id: &str,
        purpose: Purpose,
        since: u64,
    ) -> Result<bool, sqlx::Error> {
        let row =
            sqlx::query("SELECT 1 FROM mail_tokens WHERE user_id = $1 AND purpose = $2 AND created_at >= $3")
                .bind(user_id)
                .bind(purpose.as_str())
                .bind(to_i64(since))
                .fetch_optional(&self.read)
                .await?;
        Ok(row.is_some())
    }

    /// A live token of `purpose`, without using it up (to check a reset's new password
    /// before the link is spent on it).
    pub async fn find_mail_token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: u64,
    ) -> Result<Option<MailToken>, sqlx::Error> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT t.user_id, t.purpose, t.email, u.username FROM mail_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.purpose = $2 AND t.expires_at >= $3 AND u.disabled_at IS NULL",
        )
        .bind(hash)
        .bind(purpose.as_str())
        .bind(to_i64(now))
        .fetch_optional(&self.read)
        .await?;
        Ok(row.and_then(into_token))
    }
}

/// Forgets expired tokens.
pub(super) async fn prune_tokens_in(tx: &mut Tx<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mail_tokens WHERE expires_at < $1").bind(now).execute(&mut **tx).await?;
    Ok(())
}
