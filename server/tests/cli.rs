//! The server binary as an operator runs it: admin commands and what ends up in its logs.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env("NO_COLOR", "1").env_remove("DATABASE_URL").env_remove("JWT_SECRET").env_remove("DEMO_USERS");
    cmd
}

fn create_user(data_dir: &str, username: &str, stdin: &str) -> std::process::Output {
    create_user_with(data_dir, username, &[], stdin)
}

fn create_user_with(data_dir: &str, username: &str, extra: &[&str], stdin: &str) -> std::process::Output {
    let mut child = server()
        .args(["--data-dir", data_dir, "create-user", "--username", username])
        .args(extra)
        .args(["--email", "ada@example.com", "--first-name", "Ada", "--last-name", "Lovelace"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// A running server process and everything it has printed so far.
struct Running {
    child: Child,
    output: Arc<Mutex<String>>,
    base: String,
}

impl Running {
    fn start(data_dir: &str, extra: &[&str]) -> Self {
        let mut child = server()
            .args(["--data-dir", data_dir, "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            let addr = output.lock().unwrap().lines().find(|l| l.contains("listening")).and_then(|l| {
                l.split("addr=").nth(1).map(|a| a.split_whitespace().next().unwrap_or_default().to_owned())
            });
            if let Some(addr) = addr {
                break format!("http://{addr}");
            }
            assert!(Instant::now() < deadline, "server did not start: {}", output.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        };
        Self { child, output, base }
    }

    async fn post(&self, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
        let res =
            reqwest::Client::new().post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        (res.status(), res.json().await.unwrap())
    }

    /// Stops the server (SIGTERM, as an orchestrator would) and returns all it printed.
    fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server ignored SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100)); // let the reader threads drain
        self.output.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn create_user_takes_the_password_from_stdin_and_the_user_can_log_in() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let out = create_user(dir, "ada", "analytical engine\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created user ada."));

    let server = Running::start(dir, &[]);
    let (status, body) =
        server.post("/api/token/", json!({"username": "ada", "password": "analytical engine"})).await;
    assert_eq!(status, 200, "{body}");
    server.stop();
}

#[test]
fn create_user_with_admin_makes_an_admin() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let out = create_user_with(dir, "grace", &["--admin"], "compilers all the way down\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created admin grace."));
}

#[test]
fn create_user_explains_a_refused_password_and_creates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let out = create_user(dir, "ada", "short\n");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 8 characters"), "{stderr}");
    // The name is still free: nothing was half-created.
    assert!(create_user(dir, "ada", "long enough now\n").status.success());
    let again = create_user(dir, "ada", "long enough now\n");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn the_server_refuses_to_start_on_an_invalid_setting() {
    let data = tempfile::tempdir().unwrap();
    let out = server()
        .args(["--data-dir", data.path().to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .env("ACCESS_TOKEN_LIFETIME", "2d")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("REFRESH_TOKEN_LIFETIME"));
    let out = server()
        .args(["--data-dir", data.path().to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .env("JWT_ALGORITHM", "HS256")
        .env("JWT_SECRET", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"));
    let out = server()
        .args(["--data-dir", data.path().to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .env("JWT_SECRET", "a secret that is long enough, but for HS256 only")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_ALGORITHM=HS256"));
}

#[tokio::test]
async fn debug_logs_never_contain_a_password_or_a_token() {
    let data = tempfile::tempdir().unwrap();
    let server = Running::start(data.path().to_str().unwrap(), &["--demo"]);
    let (_, pair) = server.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    let (_, wrong) =
        server.post("/api/token/", json!({"username": "user2", "password": "s3cret-typo"})).await;
    assert_eq!(wrong["code"], "no_active_account");
    let (_, rotated) = server.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    let res = reqwest::Client::new()
        .get(format!("{}/api/profile/", server.base))
        .bearer_auth(rotated["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, _) = server.post("/api/token/blacklist/", json!({"refresh": rotated["refresh"]})).await;
    assert_eq!(status, 200);

    let logs = server.stop();
    assert!(logs.contains("login succeeded"), "the logs are being captured: {logs}");
    assert!(logs.contains("shutting down"), "SIGTERM shuts down gracefully: {logs}");
    for secret in ["password1", "password2", "s3cret-typo"] {
        assert!(!logs.contains(secret), "password {secret:?} in the logs");
    }
    for token in [&pair["access"], &pair["refresh"], &rotated["access"], &rotated["refresh"]] {
        let signature = token.as_str().unwrap().rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "a token is in the logs");
    }
}

#[test]
fn disable_user_and_enable_user_say_what_they_did() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    assert!(create_user(dir, "ada", "analytical engine\n").status.success());
    let run =
        |cmd: &str, user: &str| server().args(["--data-dir", dir, cmd, "--username", user]).output().unwrap();
    let out = run("disable-user", "ada");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Disabled ada"));
    assert!(run("enable-user", "ADA").status.success(), "usernames match without regard to case");
    let out = run("disable-user", "nobody");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("There is no user"));
}

#[test]
fn audit_prints_a_users_recent_events() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    assert!(create_user(dir, "ada", "analytical engine\n").status.success());
    assert!(
        server().args(["--data-dir", dir, "disable-user", "--username", "ada"]).status().unwrap().success()
    );
    let out = server().args(["--data-dir", dir, "audit", "--username", "ada"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let events: Vec<&str> = text.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(events, ["user_disabled", "account_created"], "{text}");
}

#[test]
fn rotate_key_makes_a_new_key_that_a_restarted_server_publishes() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    assert!(create_user(dir, "ada", "analytical engine\n").status.success());
    let out = server().args(["--data-dir", dir, "rotate-key"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let kid = text.split_whitespace().nth(3).unwrap().trim_end_matches(';').to_owned();
    let server = Running::start(dir, &[]);
    let jwks: serde_json::Value = get_json(&format!("{}/.well-known/jwks.json", server.base));
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2, "the first key and the new one: {jwks}");
    assert!(kids.contains(&kid.as_str()), "{kid} in {kids:?}");
    server.stop();
}

/// A GET from a plain test: a one-off runtime for reqwest.
fn get_json(url: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
}

#[test]
fn settings_can_come_from_a_dotenv_file_and_are_still_validated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "ACCESS_TOKEN_LIFETIME=2d\n").unwrap();
    let out = server()
        .current_dir(dir.path())
        .args(["--data-dir", "data", "--addr", "127.0.0.1:0"])
        .env_remove("ACCESS_TOKEN_LIFETIME")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("REFRESH_TOKEN_LIFETIME"), "read from .env");
}

/// Settings for the shutdown tests: no limits in the way, and no grace window, so a
/// rotation the client never heard of would show up as a refused token.
const UNDER_LOAD: [&str; 8] = [
    "--demo",
    "--refresh-grace-period",
    "0",
    "--refresh-rate-per-minute",
    "0",
    "--login-rate-per-minute",
    "0",
    "--hash-concurrency=4",
];
const CHAINS: usize = 12;

/// Logs in `CHAINS` sessions and keeps each refreshing its own chain as fast as it can
/// until the server goes away. Returns each chain's last refresh token received and the
/// number of refreshes completed; panics if any refresh is refused while the server runs.
async fn refresh_until_the_server_is_gone(
    server: &Running,
    stop: impl FnOnce() + Send + 'static,
) -> (Vec<String>, usize) {
    let mut chains = Vec::new();
    for _ in 0..CHAINS {
        let (status, pair) =
            server.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
        assert_eq!(status, 200, "{pair}");
        chains.push(pair["refresh"].as_str().unwrap().to_owned());
    }
    let url = format!("{}/api/token/refresh/", server.base);
    let tasks: Vec<_> = chains
        .into_iter()
        .map(|mut refresh| {
            let (url, http) = (url.clone(), reqwest::Client::new());
            tokio::spawn(async move {
                let mut done = 0;
                loop {
                    let Ok(res) = http.post(&url).json(&json!({"refresh": refresh})).send().await else {
                        return (refresh, done); // the server is gone
                    };
                    let status = res.status();
                    let Ok(body) = res.json::<Value>().await else { return (refresh, done) };
                    assert_eq!(status, 200, "a refresh was refused while the server ran: {body}");
                    refresh = body["refresh"].as_str().unwrap().to_owned();
                    done += 1;
                }
            })
        })
        .collect();
    // Let the load build up, then stop the server in the middle of it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop();
    let mut last = Vec::new();
    let mut total = 0;
    for task in tasks {
        let (refresh, done) = task.await.unwrap();
        last.push(refresh);
        total += done;
    }
    (last, total)
}

fn jti(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
            .unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_refresh_load_finishes_every_refresh_in_flight() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = Running::start(dir, &UNDER_LOAD);
    let pid = server.child.id().to_string();
    let (last, total) = refresh_until_the_server_is_gone(&server, move || {
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
    })
    .await;
    assert!(total > CHAINS, "the load ran ({total} refreshes)");
    let log = server.stop();
    assert!(log.contains("shutting down") && log.contains("stopped"), "{log}");

    // Every chain's last token is still the live one: no refresh was applied whose answer
    // the client didn't get (with no grace window, that token would now be refused).
    let server = Running::start(dir, &UNDER_LOAD);
    for refresh in last {
        let (status, body) = server.post("/api/token/refresh/", json!({"refresh": refresh})).await;
        assert_eq!(status, 200, "a chain was broken by the shutdown: {body}");
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_refresh_load_leaves_every_session_rotated_or_not() {
    use sqlx::Row;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let mut server = Running::start(dir, &UNDER_LOAD);
    let pid = server.child.id().to_string();
    let (last, total) = refresh_until_the_server_is_gone(&server, move || {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    })
    .await;
    assert!(total > CHAINS, "the load ran ({total} refreshes)");
    let _ = server.child.wait();

    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&format!("sqlite://{dir}/app.db")).await.unwrap();
    // Each live session has exactly one usable token, and every used one names its
    // replacement in the same session: no rotation was half-applied.
    let broken: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM sessions s
         WHERE s.revoked_at IS NULL AND 1 <> (SELECT COUNT(*) FROM refresh_tokens t
             WHERE t.session_id = s.id AND t.used_at IS NULL AND t.revoked_at IS NULL)",
    )
    .fetch_one(&db)
    .await
    .unwrap()
    .get("n");
    assert_eq!(broken, 0, "sessions without exactly one usable token");
    let dangling: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM refresh_tokens t
         WHERE t.used_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM refresh_tokens c
             WHERE c.jti = t.replaced_by AND c.session_id = t.session_id AND c.parent_jti = t.jti)",
    )
    .fetch_one(&db)
    .await
    .unwrap()
    .get("n");
    assert_eq!(dangling, 0, "used tokens without their replacement");

    // Each chain's last token is either still the live one, or was rotated by a response
    // the kill swallowed, and then its replacement is the live one.
    let mut swallowed = 0;
    for refresh in &last {
        let row = sqlx::query("SELECT used_at, replaced_by FROM refresh_tokens WHERE jti = $1")
            .bind(jti(refresh))
            .fetch_one(&db)
            .await
            .unwrap();
        if row.get::<Option<i64>, _>("used_at").is_some() {
            swallowed += 1;
            assert!(row.get::<Option<String>, _>("replaced_by").is_some());
        }
    }
    db.close().await;
    let server = Running::start(dir, &UNDER_LOAD);
    let mut live = 0;
    for refresh in last {
        let (status, _) = server.post("/api/token/refresh/", json!({"refresh": refresh})).await;
        live += usize::from(status == 200);
    }
    assert_eq!(live + swallowed, CHAINS, "every chain is either intact or rotated whole");
    server.stop();
}
