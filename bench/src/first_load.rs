//! The first load of each route in a real browser: `end2end/bench/first-load.mjs` (Playwright
//! driving Debian's chromium) against a release server started here on SQLite, with the demo
//! users and an admin. It reports what crossed the wire for each route's cold visit, and the
//! time to interactive of /login under emulated Fast 3G.

use crate::server::{self, Server, ServerFiles, log_tail};
use crate::site::SiteFile;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// The admin the script signs in as to load /admin (a throw-away server's).
const ADMIN_PASSWORD: &str = "an admin passphrase for the bench";

#[derive(Debug, Deserialize)]
pub struct FirstLoad {
    pub routes: Vec<RouteLoad>,
    /// Milliseconds from navigation start to a usable login form, one per cold visit.
    pub login_fast_3g_ms: Vec<u64>,
}

#[derive(Debug, Deserialize)]
pub struct RouteLoad {
    pub path: String,
    /// Visited signed in (as a demo user, or the admin for /admin).
    pub signed_in: bool,
    /// Every /pkg/ file the visit fetched.
    pub files: Vec<Fetched>,
}

#[derive(Debug, Deserialize)]
pub struct Fetched {
    pub name: String,
    /// The response body's bytes on the wire (encoded).
    pub bytes: u64,
    /// Its Content-Encoding (`identity` when none).
    pub encoding: String,
}

impl Fetched {
    pub fn is_code(&self) -> bool {
        self.name.ends_with(".wasm") || self.name.ends_with(".js")
    }
}

impl RouteLoad {
    /// The WASM and JS files received: what the budget counts.
    pub fn code_files(&self) -> impl Iterator<Item = &Fetched> {
        self.files.iter().filter(|f| f.is_code())
    }

    /// WASM and JS bytes received.
    pub fn code_bytes(&self) -> u64 {
        self.code_files().map(|f| f.bytes).sum()
    }

    /// The same files as a browser without brotli would receive them: their `.gz` copies.
    /// `None` if one has no such copy.
    pub fn code_bytes_gzip(&self, site: &[SiteFile]) -> Option<u64> {
        self.code_files().map(|f| site.iter().find(|s| s.name == f.name)?.gzip).sum()
    }
}

impl FirstLoad {
    pub fn route(&self, path: &str) -> Option<&RouteLoad> {
        self.routes.iter().find(|r| r.path == path)
    }

    /// The median of the throttled /login samples.
    pub fn login_fast_3g_median_ms(&self) -> Option<u64> {
        let mut samples = self.login_fast_3g_ms.clone();
        samples.sort_unstable();
        samples.get(samples.len() / 2).copied()
    }
}

/// Starts a server with the demo users and an admin, runs `script` with node against it, and
/// reads its report.
pub async fn measure(files: &ServerFiles, script: &Path) -> Result<FirstLoad> {
    let dir = tempfile::Builder::new().prefix("leptos-auth-first-load-").tempdir()?;
    create_admin(files, dir.path()).await?;
    let server = Server::start_with(files, dir.path(), None, &["--demo"]).await?;
    // Visited as localhost, the name the server gives itself without PUBLIC_URL.
    let base = server.base_url.replace("127.0.0.1", "localhost");
    eprintln!("first loads in chromium against {base}");
    let output = tokio::process::Command::new("node")
        .arg(script)
        .arg(&base)
        .arg(ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("running node {}", script.display()))?;
    server.stop().await;
    if !output.status.success() {
        bail!("{} failed ({}); server log:\n{}", script.display(), output.status, log_tail(dir.path(), 20));
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("reading the report of {}", script.display()))
}

async fn create_admin(files: &ServerFiles, data_dir: &Path) -> Result<()> {
    let mut child = server::command(files, data_dir)
        .args(["create-user", "--admin", "--username", "admin", "--email", "admin@example.com"])
        .args(["--first-name", "Ada", "--last-name", "Admin"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running the server's create-user")?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    stdin.write_all(format!("{ADMIN_PASSWORD}\n").as_bytes()).await?;
    drop(stdin);
    let status = child.wait().await?;
    if !status.success() {
        bail!("create-user --admin failed ({status})");
    }
    Ok(())
}
