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
