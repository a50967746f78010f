//! The release server as a child process: started on a free loopback port with rate limits
//! off, watched until ready, measured through /proc, and killed when dropped.

use anyhow::{Context, Result, bail};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The server's stdout and stderr, in its data folder.
pub const LOG_FILE: &str = "server.log";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server and its site are.
#[derive(Clone, Debug)]
pub struct ServerFiles {
    pub binary: PathBuf,
    pub site_root: PathBuf,
}

/// A running server; dropping it kills the process, also on an error or a panic.
pub struct Server {
    child: Child,
    pid: u32,
    pub base_url: String,
}

/// Memory of the server process, in KiB.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the most resident since start or since the last `reset_peak`.
    pub peak_kib: u64,
}

impl Server {
    /// Starts `<binary>` with its data (and log) in `data_dir`, on SQLite there unless
    /// `database_url` names another database, and waits until /readyz answers 200.
    pub async fn start(files: &ServerFiles, data_dir: &Path, database_url: Option<&str>) -> Result<Self> {
        Self::start_with(files, data_dir, database_url, &[]).await
    }

    /// [`start`](Self::start), with `args` on the server's command line (`--demo`).
    pub async fn start_with(
        files: &ServerFiles,
        data_dir: &Path,
        database_url: Option<&str>,
        args: &[&str],
    ) -> Result<Self> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let log = std::fs::File::create(data_dir.join(LOG_FILE)).context("creating the server log")?;
        let mut command = command(files, data_dir);
        command
            .args(args)
            .env("LEPTOS_SITE_ADDR", &addr)
            .env("LEPTOS_OUTPUT_NAME", "leptos_auth")
            .env("LEPTOS_SITE_ROOT", &files.site_root)
            .env("LEPTOS_SITE_PKG_DIR", "pkg")
            .env("LEPTOS_ENV", "PROD")
            .env("RUST_LOG", "warn")
            // Long enough that the one access token shared by the profile runs never expires.
            .env("ACCESS_TOKEN_LIFETIME", "1h")
            // Every request comes from 127.0.0.1: per-IP limits would measure the limiter.
            .env("LOGIN_RATE_PER_MINUTE", "0")
            .env("REGISTER_RATE_PER_MINUTE", "0")
            .env("REFRESH_RATE_PER_MINUTE", "0")
            // Each chain presents every token once; without a grace window any slip (a token
            // sent twice) revokes the session and shows up as a broken chain.
            .env("REFRESH_GRACE_PERIOD", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        match database_url {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        let child = command.spawn().with_context(|| format!("starting {}", files.binary.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = Server { child, pid, base_url: format!("http://{addr}") };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = crate::client::http_client();
        let url = format!("{}/readyz", self.base_url);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited ({status}) before it was ready");
            }
            if let Ok(response) = client.get(&url).timeout(Duration::from_secs(2)).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("GET /readyz did not answer 200 within {}s", READY_TIMEOUT.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resets VmHWM to the current RSS (writing 5 to clear_refs), so the next reading is the
    /// peak of what follows. False where the kernel doesn't allow it: VmHWM is then the peak
    /// since start.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    pub fn memory(&self) -> Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("reading the server's /proc status")?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("no {name} in /proc/{}/status", self.pid))
        };
        Ok(Memory { rss_kib: field("VmRSS:")?, peak_kib: field("VmHWM:")? })
    }

    /// Kills the server and waits for it, so its port and memory are free for the next one.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Harmless if `stop` already ran; tokio reaps the process in the background.
        let _ = self.child.start_kill();
    }
}

/// `<binary>` with its data in `data_dir`: the server, or with arguments one of its admin
/// commands.
pub fn command(files: &ServerFiles, data_dir: &Path) -> Command {
    let mut command = Command::new(&files.binary);
    // Run in the data folder so that a `.env` in the caller's directory can't change the
    // settings.
    command.current_dir(data_dir).env("APP_DATA_DIR", data_dir);
    command
}

/// A port free right now: bind port 0, read it, let it go. The server binds it a moment later.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The last `n` lines of the server log in `data_dir`, to show what went wrong.
pub fn log_tail(data_dir: &Path, n: usize) -> String {
    let log = std::fs::read_to_string(data_dir.join(LOG_FILE)).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
