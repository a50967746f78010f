//! `identities`: which provider account (its `sub`) signs in to which account here.

use super::{Store, to_i64};

/// A provider's identity to link to an account.
pub struct NewIdentity<'a> {
    pub provider: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub now: u64,
}

impl Store {
    /// The account `subject` of `provider` is linked to, noting this use (and the address
    /// the provider gives now); None when it is linked to none.
    pub async fn use_identity(
        &self,
        provider: &str,
        subject: &str,
        email: Option<&str>,
        now: u64,
    ) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE identities SET last_used_at = $3, email = COALESCE($4, email)
             WHERE provider = $1 AND subject = $2 RETURNING user_id",
        )
        .bind(provider)
        .bind(subject)
        .bind(to_i64(now))
        .bind(email)
        .fetch_optional(&self.write)
        .await?;
        Ok(row.map(|(id,)| id))
    }
}

/// Links `identity` to `user_id`, in the transaction that makes the account.
pub(super) async fn insert_identity_in(
    tx: &mut super::Tx<'_>,
    user_id: &str,
    identity: &NewIdentity<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identities (provider, subject, user_id, email, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(identity.provider)
    .bind(identity.subject)
    .bind(user_id)
    .bind(identity.email)
    .bind(to_i64(identity.now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
