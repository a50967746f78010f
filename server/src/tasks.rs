//! The background tasks a serving instance runs beside the requests.

use app::server::AuthService;

/// Picks up keys rotated by the CLI or another instance.
pub async fn reload_keys_periodically(auth: AuthService) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(e) = auth.reload_keys().await {
            tracing::warn!(error = %e, "reloading signing keys failed; keeping the current ones");
        }
    }
}

/// Keeps the session tables from growing without bound.
pub async fn prune_hourly(auth: AuthService) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match auth.prune().await {
            Ok((tokens, sessions)) if tokens + sessions > 0 => {
                tracing::info!(tokens, sessions, "pruned expired and revoked sessions");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed; will retry in an hour"),
        }
    }
}

/// On SQLite, copies the WAL into the database file every second, so the writer never has to
/// (it runs with auto-checkpoints off: `db::connect`). Returns at once on PostgreSQL.
pub async fn checkpoint_every_second(auth: AuthService) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match auth.checkpoint().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; trying again in a second"),
        }
    }
}
