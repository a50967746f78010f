//! `ceremonies`: the state of a two-request exchange between its requests (a passkey
//! registration or sign-in; a sign-in through a provider, and its hand-over to the page),
//! found by the SHA-256 of the token the client holds, finished once.

use super::{Store, to_i64};

/// What a ceremony is for; a ceremony finishes only what it began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    PasskeyRegistration,
    PasskeySignIn,
    /// Between the redirect to a provider and its callback.
    ProviderSignIn,
    /// Between the callback and the login page that opens the session.
    ProviderHandoff,
    /// Between a signed-in user's redirect to a provider (to link it) and its callback.
    ProviderLink,
}

impl Ceremony {
    const fn as_str(self) -> &'static str {
        match self {
            Self::PasskeyRegistration => "register",
            Self::PasskeySignIn => "sign_in",
            Self::ProviderSignIn => "provider_sign_in",
            Self::ProviderHandoff => "provider_handoff",
            Self::ProviderLink => "provider_link",
        }
    }
}

impl Store {
    pub async fn insert_ceremony(
        &self,
        token_hash: &str,
        purpose: Ceremony,
        user_id: Option<&str>,
        state: &str,
        expires_at: u64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO ceremonies (token_hash, purpose, user_id, state, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(user_id)
        .bind(state)
        .bind(to_i64(expires_at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Takes a live ceremony of `purpose`, once (two requests racing with one token: one
    /// gets it): its user (for a registration) and its state.
    pub async fn take_ceremony(
        &self,
        token_hash: &str,
        purpose: Ceremony,
        now: u64,
    ) -> Result<Option<(Option<String>, String)>, sqlx::Error> {
        sqlx::query_as(
            "DELETE FROM ceremonies WHERE token_hash = $1 AND purpose = $2 AND expires_at >= $3
             RETURNING user_id, state",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(to_i64(now))
        .fetch_optional(&self.write)
        .await
    }
}

/// Forgets ceremonies nobody finished.
pub(super) async fn prune_ceremonies_in(tx: &mut super::Tx<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM ceremonies WHERE expires_at < $1").bind(now).execute(&mut **tx).await?;
    Ok(())
}
