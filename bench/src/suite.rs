//! One database's run: start a server on it, run every scenario, stop the server.

use crate::client::{self, Credentials, Kind, Worker};
use crate::load::{self, Budget, LoadResult};
use crate::report::{fmt_mib, fmt_ms};
use crate::server::{LOG_FILE, Memory, Server, ServerFiles, log_tail};
use anyhow::{Context, Result, anyhow};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Not measured: connections open, caches fill, the allocator settles.
pub const WARMUP: Duration = Duration::from_secs(2);
/// Argon2 runs at most one hash per core at a time; more login connections only queue.
pub const LOGIN_CONNECTIONS: usize = 8;
/// Extra workers logging in while the profile load runs.
pub const FLOOD_WORKERS: usize = 16;

#[derive(Clone, Debug)]
pub enum Database {
    Sqlite,
    Postgres { url: String },
}

impl Database {
    pub fn label(&self) -> &'static str {
        match self {
            Database::Sqlite => "SQLite",
            Database::Postgres { .. } => "PostgreSQL",
        }
    }

    fn url(&self) -> Option<&str> {
        match self {
            Database::Sqlite => None,
            Database::Postgres { url } => Some(url),
        }
    }
}

/// What every database's run does.
#[derive(Clone, Debug)]
pub struct Plan {
    pub files: ServerFiles,
    pub duration: Duration,
    /// Rounds of the timed scenarios; each reports its median round.
    pub rounds: usize,
    pub connections: usize,
    /// Logins before reading the server's memory; 0 skips that measurement.
    pub logins: u64,
    /// Also measure memory after logins on PostgreSQL (it takes a while).
    pub logins_on_postgres: bool,
}

impl Plan {
    /// The load in words, for the report.
    pub fn describe(&self) -> String {
        format!(
            "closed loop, {} connections (logins at most {LOGIN_CONNECTIONS}), {} warm-up then {} \
             per scenario, {} interleaved rounds, each scenario's median round (by req/s) shown; \
             the login flood adds {FLOOD_WORKERS} connections logging in",
            self.connections,
            humantime::format_duration(WARMUP),
            humantime::format_duration(self.duration),
            self.rounds,
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Healthz,
    Profile,
    Verify,
    Refresh,
    Login,
    Home,
    ProfileDuringFlood,
    LoginFlood,
    Logins,
}

/// One line of the results table.
pub struct Row {
    pub scenario: Scenario,
    pub label: String,
    pub result: LoadResult,
    pub peak_rss: Option<PeakRss>,
}

/// The server's VmHWM over a scenario.
#[derive(Clone, Copy, Debug)]
pub struct PeakRss {
    pub mib: f64,
    /// The peak since the server started: VmHWM could not be reset before the scenario.
    pub since_start: bool,
}

/// The server's memory after `logins` logins.
#[derive(Clone, Copy, Debug)]
pub struct AfterLogins {
    pub logins: u64,
    pub memory: Memory,
}

pub struct DbReport {
    pub db: &'static str,
    pub rows: Vec<Row>,
    pub after_logins: Option<AfterLogins>,
}

impl DbReport {
    pub fn row(&self, scenario: Scenario) -> Option<&Row> {
        self.rows.iter().find(|row| row.scenario == scenario)
    }
}

/// Runs every scenario on a fresh server over `db`. On failure the server's data folder,
/// with its log, is kept and named in the error.
pub async fn run(db: Database, plan: Plan) -> Result<DbReport> {
    let dir = tempfile::Builder::new().prefix("leptos-auth-bench-").tempdir()?;
    match run_in(dir.path(), &db, &plan).await {
        Ok(report) => Ok(report),
        Err(e) => {
            let kept = dir.keep();
            Err(anyhow!(
                "{}: {e:#}\nserver log kept at {}; its last lines:\n{}",
                db.label(),
                kept.join(LOG_FILE).display(),
                log_tail(&kept, 20),
            ))
        }
    }
}

async fn run_in(dir: &Path, db: &Database, plan: &Plan) -> Result<DbReport> {
    eprintln!("[{}] starting {}", db.label(), plan.files.binary.display());
    let server = Server::start(&plan.files, dir, db.url()).await?;
    let bench = Bench { server: &server, base_url: server.base_url.as_str().into(), db: db.label() };
    let measure_logins = plan.logins > 0 && (plan.logins_on_postgres || matches!(db, Database::Sqlite));
    let result = bench.all_scenarios(plan, measure_logins).await;
    server.stop().await;
    result
}

/// A running server and how to load it.
struct Bench<'a> {
    server: &'a Server,
    base_url: Arc<str>,
    db: &'static str,
}

impl Bench<'_> {
    async fn all_scenarios(&self, plan: &Plan, measure_logins: bool) -> Result<DbReport> {
        let n = plan.connections;
        let http = client::http_client();
        eprintln!("[{}] registering {} users, one per worker", self.db, n.max(FLOOD_WORKERS));
        for index in 0..n.max(FLOOD_WORKERS) {
            client::register(&http, &self.base_url, index).await?;
        }
        let access: Arc<str> = client::login(&http, &self.base_url, &Credentials::bench(0))
            .await
            .context("the login that gets the access token for the profile and verify runs")?
            .access
            .into();
        let timed = Budget::Timed { warmup: WARMUP, measure: plan.duration };
        let login_connections = n.min(LOGIN_CONNECTIONS);
        let scenarios = [
            (Scenario::Healthz, "healthz".to_owned(), Kind::Healthz, n),
            (Scenario::Profile, "profile".into(), Kind::Profile(access.clone()), n),
            (Scenario::Verify, "verify".into(), Kind::Verify(access.clone()), n),
            (Scenario::Refresh, "refresh (chained)".into(), Kind::Refresh, n),
            (
                Scenario::Login,
                format!("login ({login_connections} connections)"),
                Kind::Login,
                login_connections,
            ),
            (Scenario::Home, "ssr home (GET /)".into(), Kind::Home, n),
        ];
        let mut rounds: Vec<Vec<Row>> = scenarios.iter().map(|_| Vec::new()).collect();
        for round in 1..=plan.rounds {
            eprintln!("[{}] round {round} of {}", self.db, plan.rounds);
            for ((scenario, label, kind, connections), results) in scenarios.iter().zip(&mut rounds) {
                results
                    .push(self.measure(*scenario, label.clone(), kind.clone(), *connections, timed).await?);
            }
        }
        let mut rows: Vec<Row> = rounds.into_iter().map(median_round).collect();
        rows.extend(self.login_flood(access, n, timed).await?);
        let mut after_logins = None;
        if measure_logins {
            let (row, memory) = self.memory_after_logins(plan.logins).await?;
            rows.push(row);
            after_logins = Some(AfterLogins { logins: plan.logins, memory });
        }
        Ok(DbReport { db: self.db, rows, after_logins })
    }

    /// One closed-loop scenario, with the server's peak memory over it.
    async fn measure(
        &self,
        scenario: Scenario,
        label: String,
        kind: Kind,
        connections: usize,
        budget: Budget,
    ) -> Result<Row> {
        let workers = self.workers(&kind, connections).await?;
        eprintln!("[{}] {label}: {connections} connections, {}", self.db, describe(budget));
        let reset = self.server.reset_peak();
        let result = load::run(workers, budget).await;
        let row = Row { scenario, label, result, peak_rss: self.peak_rss(reset) };
        self.progress(&row);
        Ok(row)
    }

    /// The profile load again while extra workers log in as fast as they can: does
    /// Argon2 starve the cheap requests?
    async fn login_flood(&self, access: Arc<str>, connections: usize, budget: Budget) -> Result<[Row; 2]> {
        let profile_workers = self.workers(&Kind::Profile(access), connections).await?;
        let login_workers = self.workers(&Kind::Login, FLOOD_WORKERS).await?;
        eprintln!(
            "[{}] profile during login flood: {connections} connections + {FLOOD_WORKERS} logging in, {}",
            self.db,
            describe(budget)
        );
        let reset = self.server.reset_peak();
        let (profile, logins) =
            tokio::join!(load::run(profile_workers, budget), load::run(login_workers, budget));
        let peak_rss = self.peak_rss(reset);
        let rows = [
            Row {
                scenario: Scenario::ProfileDuringFlood,
                label: "profile during login flood".into(),
                result: profile,
                peak_rss,
            },
            Row {
                scenario: Scenario::LoginFlood,
                label: format!("login flood ({FLOOD_WORKERS} connections)"),
                result: logins,
                peak_rss,
            },
        ];
        rows.iter().for_each(|row| self.progress(row));
        Ok(rows)
    }

    /// `logins` logins (each one a new session), then the server's memory.
    async fn memory_after_logins(&self, logins: u64) -> Result<(Row, Memory)> {
        let workers = self.workers(&Kind::Login, LOGIN_CONNECTIONS).await?;
        eprintln!("[{}] {logins} logins: {LOGIN_CONNECTIONS} connections", self.db);
        let reset = self.server.reset_peak();
        let result = load::run(workers, Budget::Requests(logins)).await;
        let memory = self.server.memory()?;
        let row = Row {
            scenario: Scenario::Logins,
            label: format!("{logins} logins ({LOGIN_CONNECTIONS} connections)"),
            result,
            peak_rss: Some(PeakRss { mib: kib_to_mib(memory.peak_kib), since_start: !reset }),
        };
        self.progress(&row);
        eprintln!("[{}] RSS after {logins} logins: {} MB", self.db, fmt_mib(kib_to_mib(memory.rss_kib)));
        Ok((row, memory))
    }

    /// `n` workers of one kind, connected (and, for refresh, logged in) concurrently.
    async fn workers(&self, kind: &Kind, n: usize) -> Result<Vec<Worker>> {
        let mut connecting = JoinSet::new();
        for index in 0..n {
            connecting.spawn(Worker::connect(Arc::clone(&self.base_url), kind.clone(), index));
        }
        connecting.join_all().await.into_iter().collect::<Result<_>>().context("setting up the workers")
    }

    fn peak_rss(&self, reset: bool) -> Option<PeakRss> {
        let memory = self.server.memory().ok()?;
        Some(PeakRss { mib: kib_to_mib(memory.peak_kib), since_start: !reset })
    }

    fn progress(&self, row: &Row) {
        let r = &row.result;
        eprintln!(
            "[{}] {}: {:.0} req/s, p50 {} ms, p99 {} ms, {} errors ({} broken chains), peak RSS {} MB",
            self.db,
            row.label,
            r.throughput(),
            fmt_ms(r.latency_ms(0.5)),
            fmt_ms(r.latency_ms(0.99)),
            r.errors,
            r.broken_chains,
            row.peak_rss.map_or("?".into(), |p| fmt_mib(p.mib)),
        );
    }
}

/// The round with the median throughput (of an even number, the lower middle one). Its
/// errors are the sum over all rounds: an error in any round is a finding.
fn median_round(mut rounds: Vec<Row>) -> Row {
    let errors: u64 = rounds.iter().map(|row| row.result.errors).sum();
    let broken: u64 = rounds.iter().map(|row| row.result.broken_chains).sum();
    rounds.sort_by(|a, b| a.result.throughput().total_cmp(&b.result.throughput()));
    let mut median = rounds.swap_remove((rounds.len() - 1) / 2);
    median.result.errors = errors;
    median.result.broken_chains = broken;
    median
}

pub fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn describe(budget: Budget) -> String {
    match budget {
        Budget::Timed { warmup, measure } => {
            format!(
                "{} warm-up + {}",
                humantime::format_duration(warmup),
                humantime::format_duration(measure)
            )
        }
        Budget::Requests(n) => format!("{n} requests"),
    }
}
