//! Shared by every area: the real application on a random port, on a fresh database, and
//! the HTTP calls the tests make against it.

pub use base64::Engine;
pub use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
pub use reqwest::StatusCode;
pub use serde_json::{Value, json};
pub use std::time::Duration;

pub struct TestApp {
    pub base: String,
    /// The PostgreSQL database, when the suite runs on PostgreSQL.
    pub database_url: Option<String>,
    pub http: reqwest::Client,
    pub auth: app::server::AuthService,
    pub _data: std::sync::Arc<tempfile::TempDir>,
}

/// Starts the real application with demo users on 127.0.0.1:0, on a fresh database: a
/// temporary SQLite file, or, when `TEST_POSTGRES_URL` is set (scripts/test does), a new
/// PostgreSQL database named with `TEST_DB_PREFIX` (scripts/test drops them afterwards).
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    spawn_fleet(1, extra).await.pop().unwrap()
}

/// `n` instances of the server on one database, as behind a load balancer.
pub async fn spawn_fleet(n: usize, extra: &[&str]) -> Vec<TestApp> {
    let data = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let database_url = fresh_database().await;
    let mut fleet = Vec::new();
    for _ in 0..n {
        fleet.push(spawn_instance(data.clone(), database_url.as_deref(), extra).await);
    }
    fleet
}

/// As `spawn_app_with`, with OpenID provider settings (`OIDC_<ID>_*`) of its own.
pub async fn spawn_app_with_oidc(
    extra: &[&str],
    oidc: std::collections::BTreeMap<String, String>,
) -> TestApp {
    let data = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let database_url = fresh_database().await;
    let config = config_for(&data, database_url.as_deref(), extra);
    let config = server::Config { oidc_settings: oidc, ..config };
    start(config, data, database_url.as_deref()).await
}

/// A new PostgreSQL database when the suite runs on PostgreSQL; None for SQLite (a file in
/// the data folder).
async fn fresh_database() -> Option<String> {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(server) => Some(fresh_postgres_database(&server).await),
        Err(_) => None,
    }
}

pub async fn spawn_instance(
    data: std::sync::Arc<tempfile::TempDir>,
    database_url: Option<&str>,
    extra: &[&str],
) -> TestApp {
    let config = config_for(&data, database_url, extra);
    start(config, data, database_url).await
}

fn config_for(data: &tempfile::TempDir, database_url: Option<&str>, extra: &[&str]) -> server::Config {
    let mut args = vec!["server", "--data-dir", data.path().to_str().unwrap()];
    if !extra.contains(&"--addr") {
        args.extend_from_slice(&["--addr", "127.0.0.1:0"]);
    }
    if let Some(url) = database_url {
        args.extend_from_slice(&["--database-url", url]);
    }
    args.extend_from_slice(extra);
    server::Config::from_args(args).unwrap()
}

async fn start(
    config: server::Config,
    data: std::sync::Arc<tempfile::TempDir>,
    database_url: Option<&str>,
) -> TestApp {
    let app = server::Application::build(&config).await.expect("the app starts");
    server::cli::seed_demo_users(app.auth()).await.unwrap();
    // A listener on an IPv4-mapped address is reached over plain IPv4, as its clients would.
    let addr = app.local_addr();
    let base = format!("http://{}", std::net::SocketAddr::new(addr.ip().to_canonical(), addr.port()));
    let auth = app.auth().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        database_url: database_url.map(str::to_owned),
        http: reqwest::Client::new(),
        auth,
        _data: data,
    }
}

/// On PostgreSQL, waits until every instance listens for the others' revocations (so a
/// test exercises the broadcast, not the fallback of asking the database every time).
pub async fn wait_until_following(fleet: &[TestApp]) {
    let started = std::time::Instant::now();
    while fleet.iter().any(|app| app.database_url.is_some() && !app.auth.follows_revocations()) {
        assert!(started.elapsed() < Duration::from_secs(5), "the instances never started listening");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn fresh_postgres_database(server: &str) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let prefix = std::env::var("TEST_DB_PREFIX").unwrap_or_else(|_| "leptos_auth_test_".into());
    let name = format!("{prefix}{}", uuid_like());
    let mut admin =
        sqlx::AnyConnection::connect(&format!("{server}/postgres")).await.expect("PostgreSQL reachable");
    // The name is ours (prefix + pid + time + counter), never user input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    format!("{server}/{name}")
}

pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}_{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

impl TestApp {
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        Self::read(res).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &'static str) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        Self::read(res).await
    }

    pub async fn profile(&self, access: &str) -> (StatusCode, Value) {
        let res =
            self.http.get(format!("{}/api/profile/", self.base)).bearer_auth(access).send().await.unwrap();
        Self::read(res).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        access: &Value,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req =
            self.http.request(method, format!("{}{path}", self.base)).bearer_auth(access.as_str().unwrap());
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::read(req.send().await.unwrap()).await
    }

    pub async fn jwks(&self) -> Value {
        let res = self.http.get(format!("{}/.well-known/jwks.json", self.base)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    pub async fn read(res: reqwest::Response) -> (StatusCode, Value) {
        let status = res.status();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// Runs a `SELECT COUNT(*) …` straight against the app's database: what a test can't
    /// see through the API (nothing written, a table bounded).
    pub async fn count(&self, sql: &'static str) -> i64 {
        use sqlx::{Connection, Row};
        let mut db = sqlx::AnyConnection::connect(&self.db_url()).await.unwrap();
        let n = sqlx::query(sql).fetch_one(&mut db).await.unwrap().try_get::<i64, _>(0).unwrap();
        db.close().await.unwrap();
        n
    }

    /// Runs a statement straight against the app's database: what a test can't do through
    /// the API (make a link old, say).
    pub async fn exec(&self, sql: &'static str) {
        use sqlx::Connection;
        let mut db = sqlx::AnyConnection::connect(&self.db_url()).await.unwrap();
        sqlx::query(sql).execute(&mut db).await.unwrap();
        db.close().await.unwrap();
    }

    fn db_url(&self) -> String {
        sqlx::any::install_default_drivers();
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}/app.db", self._data.path().display()),
        }
    }

    /// `POST /api/password/` with the access token: the status it answers.
    pub async fn change_password(&self, access: &Value, current: &str, new: &str) -> StatusCode {
        let body = json!({"current_password": current, "new_password": new});
        self.send(reqwest::Method::POST, "/api/password/", access, Some(body)).await.0
    }

    pub async fn login(&self, username: &str, password: &str) -> Value {
        let (status, body) =
            self.post("/api/token/", json!({"username": username, "password": password})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

pub fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
}
