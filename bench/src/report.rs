//! The results as Markdown, ready to paste into BENCHMARKS.md: the machine, one table of
//! every scenario, and the targets with PASS or FAIL.

use crate::first_load::FirstLoad;
use crate::site::SiteFile;
use crate::suite::{DbReport, Row, Scenario, kib_to_mib};
use std::fmt::Write;
use std::time::SystemTime;

const PROFILE_SHARE_TARGET: f64 = 0.60;
/// The first load of /login: WASM and JS as received, brotli (what Chromium gets) and gzip.
const LOGIN_BROTLI_BUDGET: u64 = 150 * 1024;
const LOGIN_GZIP_BUDGET: u64 = 200 * 1024;
const REFRESH_SHARE_TARGET: f64 = 0.10;
const FLOOD_P99_FACTOR: f64 = 3.0;
const RSS_AFTER_LOGINS_MIB: f64 = 150.0;

/// Where and how the numbers were taken.
pub struct Context {
    started: SystemTime,
    command: String,
    machine: String,
    load: String,
}

impl Context {
    /// The machine and command line now; `load` describes the load in words.
    pub fn capture(load: String) -> Self {
        Context { started: SystemTime::now(), command: command_line(), machine: machine(), load }
    }
}

/// Everything a run found.
pub struct Findings<'a> {
    pub reports: &'a [DbReport],
    /// Each route's first load in Chromium, if measured.
    pub first_load: Option<&'a FirstLoad>,
    /// The site's code files.
    pub site: &'a [SiteFile],
    /// Measurements that could not be taken, and why.
    pub notes: &'a [String],
}

pub fn render(context: &Context, findings: &Findings) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Benchmark\n");
    let _ = writeln!(out, "- date: {}", humantime::format_rfc3339_seconds(context.started));
    let _ = writeln!(out, "- machine: {}", context.machine);
    let _ = writeln!(out, "- command: `{}`", context.command);
    if findings.reports.is_empty() {
        out.push('\n');
    } else {
        let _ = writeln!(out, "- load: {}\n", context.load);
        out.push_str(&results_table(findings.reports));
    }
    let peak_since_start =
        findings.reports.iter().flat_map(|r| &r.rows).any(|row| row.peak_rss.is_some_and(|p| p.since_start));
    if peak_since_start {
        out.push_str(
            "\n\\* VmHWM could not be reset (`/proc/<pid>/clear_refs`): peak since the server started.\n",
        );
    }
    if !findings.notes.is_empty() {
        out.push('\n');
        for note in findings.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    if let Some(first_load) = findings.first_load {
        out.push_str(&first_load_tables(first_load, findings.site));
    }
    if !findings.site.is_empty() {
        out.push_str(&site_table(findings.site));
    }
    out.push_str("\n### Targets\n\n");
    out.push_str(&targets_table(&targets(findings)));
    out
}

fn results_table(reports: &[DbReport]) -> String {
    let mut out = String::from(
        "| db | scenario | req/s | p50 ms | p99 ms | errors | peak RSS MB |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for report in reports {
        for row in &report.rows {
            let r = &row.result;
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {} | {} | {} | {} |",
                report.db,
                row.label,
                r.throughput(),
                fmt_ms(r.latency_ms(0.5)),
                fmt_ms(r.latency_ms(0.99)),
                errors_cell(row),
                peak_cell(row),
            );
        }
    }
    out
}

fn first_load_tables(first_load: &FirstLoad, site: &[SiteFile]) -> String {
    let mut out = String::from(
        "\n### First load in Chromium\n\n\
         A cold visit to each route (a new browser context, so an empty cache), signed in first \
         where the route needs it. Bytes are the bodies as they crossed the wire.\n\n\
         | route | visitor | WASM + JS received | as gzip | code files | encodings | its own chunk |\n\
         |---|---|---:|---:|---:|---|---:|\n",
    );
    for route in &first_load.routes {
        let code: Vec<_> = route.code_files().collect();
        let mut encodings: Vec<&str> = code.iter().map(|f| f.encoding.as_str()).collect();
        encodings.sort_unstable();
        encodings.dedup();
        // A lazy route's own chunk is named after it (`split___<route>_route_view_…`).
        let own =
            code.iter().find(|f| f.name.starts_with("split___")).map_or("-".into(), |f| f.bytes.to_string());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {own} |",
            route.path,
            if route.signed_in { "signed in" } else { "anonymous" },
            fmt_kib(route.code_bytes()),
            route.code_bytes_gzip(site).map_or("?".into(), fmt_kib),
            code.len(),
            encodings.join(", "),
        );
    }
    let samples: Vec<String> = first_load.login_fast_3g_ms.iter().map(|ms| ms.to_string()).collect();
    let _ = writeln!(
        out,
        "\n/login under emulated Fast 3G (562.5 ms latency, 1.44 Mbit/s down), navigation start to an \
         enabled \"Log in\" button: median {} ms (runs: {} ms).",
        first_load.login_fast_3g_median_ms().map_or("-".into(), |ms| ms.to_string()),
        samples.join(", "),
    );
    out
}

fn site_table(site: &[SiteFile]) -> String {
    let mut out =
        String::from("\n### The site's code files\n\n| file | raw | brotli | gzip |\n|---|---:|---:|---:|\n");
    let size = |bytes: Option<u64>| bytes.map_or("-".into(), |b| b.to_string());
    for file in site {
        let _ =
            writeln!(out, "| {} | {} | {} | {} |", file.name, file.raw, size(file.brotli), size(file.gzip));
    }
    out
}

/// Bytes and KiB, as `306874 B (299.7 KiB)`.
fn fmt_kib(bytes: u64) -> String {
    format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0)
}

fn errors_cell(row: &Row) -> String {
    match row.scenario {
        Scenario::Refresh => format!("{} ({} broken chains)", row.result.errors, row.result.broken_chains),
        _ => row.result.errors.to_string(),
    }
}

fn peak_cell(row: &Row) -> String {
    match row.peak_rss {
        Some(peak) if peak.since_start => format!("{}\\*", fmt_mib(peak.mib)),
        Some(peak) => fmt_mib(peak.mib),
        None => "?".into(),
    }
}

/// Milliseconds with two decimals, `-` when nothing was measured.
pub fn fmt_ms(ms: Option<f64>) -> String {
    ms.map_or("-".into(), |ms| format!("{ms:.2}"))
}

pub fn fmt_mib(mib: f64) -> String {
    format!("{mib:.1}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    Info,
    NotMeasured,
}

impl Verdict {
    fn of(passed: bool) -> Self {
        if passed { Verdict::Pass } else { Verdict::Fail }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Info => "info",
            Verdict::NotMeasured => "n/a",
        }
    }
}

struct Target {
    goal: String,
    measured: String,
    verdict: Verdict,
}

impl Target {
    fn new(goal: impl Into<String>, measured: String, verdict: Verdict) -> Self {
        Target { goal: goal.into(), measured, verdict }
    }

    fn not_measured(goal: impl Into<String>) -> Self {
        Target::new(goal, "not measured".into(), Verdict::NotMeasured)
    }
}

fn targets(findings: &Findings) -> Vec<Target> {
    let by_db = |db: &str| findings.reports.iter().find(|r| r.db == db);
    let sqlite = by_db("SQLite");
    let mut targets = vec![profile_share(sqlite)];
    if let Some(postgres) = by_db("PostgreSQL") {
        targets.push(profile_share_info(postgres));
    }
    targets.extend([
        refresh_share(sqlite),
        flood_p99(sqlite),
        rss_after_logins(sqlite),
        login_first_load(findings.first_load, findings.site),
        login_time_to_interactive(findings.first_load),
        no_errors(findings.reports),
    ]);
    targets
}

/// A scenario's throughput as a share of healthz's on the same server, with both rates.
fn share_of_floor(report: &DbReport, scenario: Scenario) -> Option<(f64, String)> {
    let rate = report.row(scenario)?.result.throughput();
    let floor = report.row(Scenario::Healthz)?.result.throughput();
    (floor > 0.0)
        .then(|| (rate / floor, format!("{:.0}% ({rate:.0} of {floor:.0} req/s)", 100.0 * rate / floor)))
}

fn profile_share(sqlite: Option<&DbReport>) -> Target {
    let goal = "profile throughput ≥ 60% of healthz (SQLite)";
    match sqlite.and_then(|r| share_of_floor(r, Scenario::Profile)) {
        Some((share, text)) => Target::new(goal, text, Verdict::of(share >= PROFILE_SHARE_TARGET)),
        None => Target::not_measured(goal),
    }
}

fn profile_share_info(postgres: &DbReport) -> Target {
    let goal = "profile throughput vs healthz (PostgreSQL, informational)";
    match share_of_floor(postgres, Scenario::Profile) {
        Some((_, text)) => Target::new(goal, text, Verdict::Info),
        None => Target::not_measured(goal),
    }
}

fn refresh_share(sqlite: Option<&DbReport>) -> Target {
    let goal = "refresh throughput ≥ 10% of healthz, 0 errors, 0 broken chains (SQLite)";
    let Some((report, row)) = sqlite.and_then(|r| Some((r, r.row(Scenario::Refresh)?))) else {
        return Target::not_measured(goal);
    };
    let Some((share, text)) = share_of_floor(report, Scenario::Refresh) else {
        return Target::not_measured(goal);
    };
    let (errors, broken) = (row.result.errors, row.result.broken_chains);
    let passed = share >= REFRESH_SHARE_TARGET && errors == 0 && broken == 0;
    Target::new(goal, format!("{text}, {errors} errors, {broken} broken chains"), Verdict::of(passed))
}

fn flood_p99(sqlite: Option<&DbReport>) -> Target {
    let goal = "profile p99 during login flood < 3× without it (SQLite)";
    let p99 = |scenario| sqlite?.row(scenario)?.result.latency_ms(0.99);
    let (Some(flooded), Some(calm)) = (p99(Scenario::ProfileDuringFlood), p99(Scenario::Profile)) else {
        return Target::not_measured(goal);
    };
    let ratio = flooded / calm;
    let measured = format!("{flooded:.2} ms vs {calm:.2} ms: {ratio:.2}×");
    Target::new(goal, measured, Verdict::of(ratio < FLOOD_P99_FACTOR))
}

fn rss_after_logins(sqlite: Option<&DbReport>) -> Target {
    let Some(after) = sqlite.and_then(|r| r.after_logins) else {
        return Target::not_measured("server RSS after 10000 logins < 150 MB (SQLite)");
    };
    let rss = kib_to_mib(after.memory.rss_kib);
    let peak = kib_to_mib(after.memory.peak_kib);
    Target::new(
        format!("server RSS after {} logins < 150 MB (SQLite)", after.logins),
        format!("{} MB (peak {} MB)", fmt_mib(rss), fmt_mib(peak)),
        Verdict::of(rss < RSS_AFTER_LOGINS_MIB),
    )
}

fn login_first_load(first_load: Option<&FirstLoad>, site: &[SiteFile]) -> Target {
    let goal = "first load of /login (WASM + JS): ≤ 150 KiB brotli, ≤ 200 KiB gzip";
    let Some(login) = first_load.and_then(|f| f.route("/login")) else {
        return Target::not_measured(goal);
    };
    let brotli = login.code_bytes();
    let all_brotli = login.code_files().all(|f| f.encoding == "br");
    let gzip = login.code_bytes_gzip(site);
    let measured = format!(
        "{} received{}; {} as gzip",
        fmt_kib(brotli),
        if all_brotli { " brotli" } else { " (not all of it brotli)" },
        gzip.map_or("?".into(), fmt_kib)
    );
    let passed = all_brotli && brotli <= LOGIN_BROTLI_BUDGET && gzip.is_some_and(|g| g <= LOGIN_GZIP_BUDGET);
    Target::new(goal, measured, Verdict::of(passed))
}

fn login_time_to_interactive(first_load: Option<&FirstLoad>) -> Target {
    let goal = "time to interactive of /login, Fast 3G, median of 5 (informational)";
    match first_load.and_then(FirstLoad::login_fast_3g_median_ms) {
        Some(ms) => Target::new(goal, format!("{ms} ms"), Verdict::Info),
        None => Target::not_measured(goal),
    }
}

fn no_errors(reports: &[DbReport]) -> Target {
    let goal = "every scenario: errors = 0";
    let rows = || reports.iter().flat_map(|r| r.rows.iter().map(move |row| (r.db, row)));
    if rows().next().is_none() {
        return Target::not_measured(goal);
    }
    let failing: Vec<String> = rows()
        .filter(|(_, row)| row.result.errors > 0)
        .map(|(db, row)| format!("{db} {}: {}", row.label, row.result.errors))
        .collect();
    let measured =
        if failing.is_empty() { format!("0 errors in {} rows", rows().count()) } else { failing.join("; ") };
    Target::new(goal, measured, Verdict::of(failing.is_empty()))
}

fn targets_table(targets: &[Target]) -> String {
    let mut out = String::from("| target | measured | result |\n|---|---|---|\n");
    for t in targets {
        let _ = writeln!(out, "| {} | {} | {} |", t.goal, t.measured, t.verdict.label());
    }
    out
}

/// The command as typed, URLs without their passwords.
fn command_line() -> String {
    std::env::args()
        .map(|arg| if arg.contains("://") { crate::postgres::redacted(&arg) } else { arg })
        .map(|arg| if arg.contains(' ') { format!("'{arg}'") } else { arg })
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPUs, CPU model and kernel, from /proc.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} CPUs ({model}), Linux {}; the server and the load generator share them", kernel.trim())
}
