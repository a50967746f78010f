//! A throw-away PostgreSQL database for one run, created and dropped through the server's
//! `postgres` maintenance database.

use anyhow::{Context, Result, anyhow};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A database that exists until `drop_database` is called.
pub struct TempDatabase {
    server_url: String,
    name: String,
}

impl TempDatabase {
    /// Creates `leptos_auth_bench_<pid>_<n>` on the PostgreSQL server at `server_url`
    /// (`postgres://user@host:port`, without a database).
    pub async fn create(server_url: &str) -> Result<Self> {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let server_url = server_url.trim_end_matches('/').to_owned();
        let name =
            format!("leptos_auth_bench_{}_{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed));
        let mut admin = connect_admin(&server_url).await?;
        // The name is made of digits and a fixed prefix only, so it can't inject anything;
        // CREATE DATABASE takes no bind parameters.
        sqlx::raw_sql(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await
            .map_err(|e| anyhow!("creating database {name}: {e}"))?;
        admin.close().await.ok();
        Ok(TempDatabase { server_url, name })
    }

    /// The URL the server connects to.
    pub fn url(&self) -> String {
        format!("{}/{}", self.server_url, self.name)
    }

    /// Drops the database, disconnecting whoever still uses it (a server killed a moment
    /// ago may not have closed its connections yet).
    pub async fn drop_database(self) -> Result<()> {
        let mut admin = connect_admin(&self.server_url).await?;
        let name = &self.name;
        sqlx::raw_sql(AssertSqlSafe(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)))
            .execute(&mut admin)
            .await
            .map_err(|e| anyhow!("dropping database {name}: {e}"))?;
        admin.close().await.ok();
        Ok(())
    }
}

async fn connect_admin(server_url: &str) -> Result<PgConnection> {
    let url = format!("{server_url}/postgres");
    tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&url))
        .await
        .with_context(|| {
            format!("no answer from {} within {}s", redacted(server_url), CONNECT_TIMEOUT.as_secs())
        })?
        // sqlx's message already includes its cause; anyhow's chain would repeat it.
        .map_err(|e| anyhow!("connecting to {}: {e}", redacted(server_url)))
}

/// The URL without its password, fit to print.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_printed_url_never_shows_the_password() {
        assert_eq!(redacted("postgres://bob:s3cret@db:5432"), "postgres://bob:***@db:5432");
        assert_eq!(redacted("postgres://postgres@127.0.0.1:5432"), "postgres://postgres@127.0.0.1:5432");
    }
}
