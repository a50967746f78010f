//! The connection pool and the embedded migrations, applied at start.

use anyhow::Context;
use app::server::Pools;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// Connects, applies the migrations, and returns the pools the service uses: on SQLite a
/// small pool for reads and a pool of one connection for writes (SQLite has one writer at
/// a time; see `app::server::Pools`), on PostgreSQL one pool for both.
pub async fn connect(url: &str) -> anyhow::Result<Pools> {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let read = pool(url, sqlite, if sqlite { 4 } else { 16 }).await?;
    MIGRATOR.run(&read).await.context("applying database migrations")?;
    let write = if sqlite { pool(url, sqlite, 1).await? } else { read.clone() };
    Ok(Pools { read, write })
}

async fn pool(url: &str, sqlite: bool, max_connections: u32) -> anyhow::Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        // A ping before every use catches connections a network or proxy dropped; a local
        // SQLite file has no network, and the ping is a round trip to the connection's
        // worker thread on every query.
        .test_before_acquire(!sqlite)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                    // WAL lets readers run beside the one writer; the busy timeout makes
                    // a writer in another process (the CLI) queue instead of failing.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA busy_timeout = 10000",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("connecting to the database at {}", redact(url)))
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Ready to serve: the database answers and every embedded migration has been applied.
pub async fn is_ready(pool: &AnyPool) -> Result<(), String> {
    use sqlx::Row;
    let applied: i64 = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get("n"))
        .map_err(|e| format!("database not reachable: {e}"))?;
    let embedded = MIGRATOR.iter().count();
    if usize::try_from(applied).unwrap_or(0) < embedded {
        return Err(format!("{applied} of {embedded} migrations applied"));
    }
    Ok(())
}
