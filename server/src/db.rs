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
    if sqlite {
        prepare_sqlite_file(url)?;
    }
    let read = pool(url, sqlite, if sqlite { 4 } else { 16 }, false).await?;
    MIGRATOR.run(&read).await.context("applying database migrations")?;
    let write = if sqlite { pool(url, sqlite, 1, true).await? } else { read.clone() };
    Ok(Pools { read, write })
}

/// `writer`: the SQLite pool of the one writer, which leaves checkpoints to a background
/// task (`tasks::checkpoint_every_second`).
async fn pool(url: &str, sqlite: bool, max_connections: u32, writer: bool) -> anyhow::Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        // A ping before every use catches connections a network or proxy dropped; a local
        // SQLite file has no network, and the ping is a round trip to the connection's
        // worker thread on every query.
        .test_before_acquire(!sqlite)
        .after_connect(move |conn, _meta| {
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
                    if writer {
                        // Otherwise the commit that fills the WAL past 1000 pages copies it
                        // into the database, while holding the one writer everyone waits for.
                        sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(&mut *conn).await?;
                    }
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("connecting to the database at {}", redact(url)))
}

/// The SQLite file holds the private signing keys, so it and its `-wal` and `-shm`
/// companions are owner-only (0600) wherever they are: created so when missing (with their
/// folder, 0700, as the default data folder is), and made so when they exist. A folder
/// others can read is worth a warning: it shows at least which files exist.
fn prepare_sqlite_file(url: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let options: sqlx::sqlite::SqliteConnectOptions =
        url.parse().with_context(|| format!("reading the database URL {}", redact(url)))?;
    let path = options.get_filename();
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(());
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    create_private_folder(folder)?;
    if let Ok(meta) = std::fs::metadata(folder)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            folder = %folder.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the database folder is readable by other users; consider chmod 700"
        );
    }
    // An empty file is a valid empty database; creating it here (rather than letting
    // SQLite do it with the umask's permissions) is what makes it owner-only from birth.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the database file {}", path.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("making {} owner-only", file.display()))?;
        }
    }
    Ok(())
}

/// Creates `folder` (and its parents) owner-only (0700) if it doesn't exist yet.
pub fn create_private_folder(folder: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !folder.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .with_context(|| format!("creating the folder {}", folder.display()))?;
    }
    Ok(())
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
