//! The benchmark: each route's first load in Chromium, then load on the release server on
//! SQLite and on PostgreSQL; the results as Markdown on stdout (progress goes to stderr).

mod client;
mod first_load;
mod load;
mod postgres;
mod report;
mod server;
mod site;
mod suite;

use anyhow::{Context, Result, bail};
use clap::Parser;
use report::Findings;
use server::ServerFiles;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use suite::{Database, DbReport, Plan};

#[derive(Parser, Debug)]
#[command(about = "First load in a browser, and throughput, latency and memory of the release server")]
struct Args {
    /// The release server binary (`cargo leptos build --release` builds it).
    #[arg(long, default_value = "target/release/server")]
    server: PathBuf,

    /// The built site the server serves (LEPTOS_SITE_ROOT).
    #[arg(long, default_value = "target/site")]
    site_root: PathBuf,

    /// Measured time per scenario, after a 2 s warm-up.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// Rounds of the timed scenarios, run in turn (healthz, profile, …, then again); each
    /// scenario reports its median round, so a burst of noise on a shared machine hits one
    /// round of every scenario rather than one scenario.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=99))]
    rounds: u32,

    /// Concurrent connections, each a closed loop (logins use at most 8).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    connections: u32,

    /// Logins before reading the server's memory, on SQLite only (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    logins: u64,

    /// Also measure memory after logins on PostgreSQL.
    #[arg(long)]
    logins_on_postgres: bool,

    /// The PostgreSQL server (no database in the URL); a throw-away database is made on it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,

    /// Run on SQLite only.
    #[arg(long)]
    skip_postgres: bool,

    /// The Playwright script that measures each route's first load in Chromium.
    #[arg(long, default_value = "end2end/bench/first-load.mjs")]
    first_load_script: PathBuf,

    /// Leave out the first loads in the browser.
    #[arg(long, conflicts_with = "first_load_only")]
    skip_first_load: bool,

    /// Measure only the first loads in the browser (no load on the server).
    #[arg(long)]
    first_load_only: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Measures everything and prints the report. Errors only when a server could not be run:
/// a missed target is a result, not a failure.
async fn run(args: Args) -> Result<()> {
    if args.duration.is_zero() {
        bail!("--duration must be more than 0");
    }
    let plan = plan(&args)?;
    let context = report::Context::capture(plan.describe());
    let mut notes = Vec::new();
    let site = match site::code_files(&args.site_root.join("pkg")) {
        Ok(files) => files,
        Err(e) => {
            notes.push(format!("site files not listed: {e:#} (build them with `./scripts/build`)"));
            Vec::new()
        }
    };
    let first_load = if args.skip_first_load {
        notes.push("first loads skipped: --skip-first-load".to_owned());
        None
    } else {
        interruptible(first_load::measure(&plan.files, &args.first_load_script)).await??.into()
    };
    let mut reports = Vec::new();
    // A PostgreSQL failure still lets the other results print; the exit code reports it.
    let mut postgres_failure = None;
    if !args.first_load_only {
        reports.push(interruptible(suite::run(Database::Sqlite, plan.clone())).await??);
        if args.skip_postgres {
            notes.push("PostgreSQL skipped: --skip-postgres".to_owned());
        } else {
            match run_postgres(&args.postgres, &plan, &mut notes).await {
                Ok(report) => reports.extend(report),
                Err(e) => {
                    notes.push("PostgreSQL failed: see the error on stderr".to_owned());
                    postgres_failure = Some(e);
                }
            }
        }
    }
    let findings =
        Findings { reports: &reports, first_load: first_load.as_ref(), site: &site, notes: &notes };
    print!("{}", report::render(&context, &findings));
    postgres_failure.map_or(Ok(()), Err)
}

fn plan(args: &Args) -> Result<Plan> {
    // Absolute, because the server runs in its own data folder.
    let absolute = |path: &PathBuf| std::path::absolute(path).with_context(|| format!("{}", path.display()));
    let binary = absolute(&args.server)?;
    if !binary.is_file() {
        bail!("no server at {}: build it with `cargo leptos build --release`", binary.display());
    }
    Ok(Plan {
        files: ServerFiles { binary, site_root: absolute(&args.site_root)? },
        duration: args.duration,
        rounds: args.rounds as usize,
        connections: args.connections as usize,
        logins: args.logins,
        logins_on_postgres: args.logins_on_postgres,
    })
}

/// The whole run on a throw-away database, dropped afterwards whatever happened. `None`,
/// with a note, when PostgreSQL can't be reached.
async fn run_postgres(server_url: &str, plan: &Plan, notes: &mut Vec<String>) -> Result<Option<DbReport>> {
    let database = match postgres::TempDatabase::create(server_url).await {
        Ok(database) => database,
        Err(e) => {
            let note = format!("PostgreSQL skipped: {e:#}");
            eprintln!("{note}");
            notes.push(note);
            return Ok(None);
        }
    };
    // In a task of its own, so that even a panic or Ctrl-C comes back here and the database
    // is dropped.
    let mut task = tokio::spawn(suite::run(Database::Postgres { url: database.url() }, plan.clone()));
    let run = interruptible(&mut task).await;
    if run.is_err() {
        // Wait for the aborted run to be dropped: that kills its server.
        task.abort();
        let _ = task.await;
    }
    if let Err(e) = database.drop_database().await {
        eprintln!("warning: {e:#}");
    }
    match run? {
        Ok(report) => report.map(Some),
        Err(e) => bail!("the PostgreSQL run panicked: {e}"),
    }
}

/// `work`, unless Ctrl-C comes first: then `work` is dropped, which kills the server it runs
/// and removes its temporary folder.
async fn interruptible<F: Future>(work: F) -> Result<F::Output> {
    tokio::select! {
        output = work => Ok(output),
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}
