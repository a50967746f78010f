//! A user's sessions: listing them, ending one or all, and keeping the tables small.

use super::AuthService;
use crate::api::{ApiError, ErrorCode, SessionInfo};
use crate::rules;
use crate::server::audit::{Event, Record};
use crate::server::liveness::Revocation;
use crate::server::store::RevokeReason;
use crate::server::{ClientMeta, now};

impl AuthService {
    /// The caller's live sessions, the current one marked.
    pub async fn sessions(&self, access_token: &str) -> Result<Vec<SessionInfo>, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let rows = self.store().list_sessions(&claims.user_id, now()).await?;
        Ok(rows
            .into_iter()
            .map(|r| SessionInfo {
                current: r.id == claims.sid,
                id: r.id,
                created_at: u64::try_from(r.created_at).unwrap_or_default(),
                last_used_at: u64::try_from(r.last_used_at).unwrap_or_default(),
                user_agent: r.user_agent,
                ip: r.ip,
            })
            .collect())
    }

    /// Ends one of the caller's own sessions (any other user's session is "not found").
    pub async fn revoke_session(
        &self,
        access_token: &str,
        session_id: &str,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        rules::check_session_id(session_id)?;
        let write = self.store().revoke_session(session_id, &claims.user_id, now(), RevokeReason::ByUser);
        let ended =
            self.revoking(write, |ended| ended.then(|| Revocation::Session(session_id.to_owned()))).await?;
        if !ended {
            return Err(ApiError::new(ErrorCode::NotFound, "No such session."));
        }
        let ip = self.client_ip(&meta);
        let event = Event::SessionRevoked;
        self.record(Record { event, user_id: Some(&claims.user_id), session_id: Some(session_id), ip }).await;
        Ok(())
    }

    /// Sign out everywhere: every session of the caller ends, this one included.
    pub async fn logout_everywhere(&self, access_token: &str, meta: ClientMeta) -> Result<(), ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let write = self.store().revoke_user_sessions(&claims.user_id, "", now(), RevokeReason::LogoutAll);
        self.revoking(write, |_| Some(Revocation::User(claims.user_id.clone()))).await?;
        self.record_for(Event::SignedOutEverywhere, &claims, &meta).await;
        Ok(())
    }

    /// Sessions neither revoked nor expired, for the metrics.
    pub async fn active_sessions(&self) -> Result<i64, ApiError> {
        Ok(self.store().count_active_sessions(now()).await?)
    }

    /// Deletes expired and long-revoked sessions and tokens, and bounds the throttle table;
    /// see `Store::prune`.
    pub async fn prune(&self) -> Result<(u64, u64), ApiError> {
        Ok(self.store().prune(now(), 86_400, self.0.limits.throttle_max_rows()).await?)
    }

    /// Copies SQLite's WAL into the database file (see
    /// [`Store::checkpoint`](crate::server::store::Store::checkpoint)). False on
    /// PostgreSQL: nothing to do, ever.
    pub async fn checkpoint(&self) -> Result<bool, ApiError> {
        Ok(self.store().checkpoint().await?)
    }
}
