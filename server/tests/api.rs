//! The HTTP contract (../shared/CONTRACT.md), walked over real HTTP against the real
//! server on a random port, each test with its own temporary SQLite database.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

struct TestApp {
    base: String,
    /// The PostgreSQL database, when the suite runs on PostgreSQL.
    database_url: Option<String>,
    http: reqwest::Client,
    auth: app::server::AuthService,
    _data: std::sync::Arc<tempfile::TempDir>,
}

/// Starts the real application with demo users on 127.0.0.1:0, on a fresh database: a
/// temporary SQLite file, or, when `TEST_POSTGRES_URL` is set (scripts/test does), a new
/// PostgreSQL database named with `TEST_DB_PREFIX` (scripts/test drops them afterwards).
async fn spawn_app_with(extra: &[&str]) -> TestApp {
    spawn_fleet(1, extra).await.pop().unwrap()
}

/// `n` instances of the server on one database, as behind a load balancer.
async fn spawn_fleet(n: usize, extra: &[&str]) -> Vec<TestApp> {
    let data = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let database_url = match std::env::var("TEST_POSTGRES_URL") {
        Ok(server) => Some(fresh_postgres_database(&server).await),
        Err(_) => None,
    };
    let mut fleet = Vec::new();
    for _ in 0..n {
        fleet.push(spawn_instance(data.clone(), database_url.as_deref(), extra).await);
    }
    fleet
}

async fn spawn_instance(
    data: std::sync::Arc<tempfile::TempDir>,
    database_url: Option<&str>,
    extra: &[&str],
) -> TestApp {
    let mut args = vec!["server", "--addr", "127.0.0.1:0", "--data-dir", data.path().to_str().unwrap()];
    if let Some(url) = database_url {
        args.extend_from_slice(&["--database-url", url]);
    }
    args.extend_from_slice(extra);
    let config = server::Config::from_args(args).unwrap();
    let app = server::Application::build(&config).await.expect("the app starts");
    server::cli::seed_demo_users(app.auth()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
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
async fn wait_until_following(fleet: &[TestApp]) {
    let started = std::time::Instant::now();
    while fleet.iter().any(|app| app.database_url.is_some() && !app.auth.follows_revocations()) {
        assert!(started.elapsed() < Duration::from_secs(5), "the instances never started listening");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fresh_postgres_database(server: &str) -> String {
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

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}_{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed))
}

async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

impl TestApp {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        Self::read(res).await
    }

    async fn post_raw(&self, path: &str, content_type: &str, body: &'static str) -> (StatusCode, Value) {
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

    async fn profile(&self, access: &str) -> (StatusCode, Value) {
        let res =
            self.http.get(format!("{}/api/profile/", self.base)).bearer_auth(access).send().await.unwrap();
        Self::read(res).await
    }

    async fn send(
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

    async fn jwks(&self) -> Value {
        let res = self.http.get(format!("{}/.well-known/jwks.json", self.base)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    async fn read(res: reqwest::Response) -> (StatusCode, Value) {
        let status = res.status();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn login(&self, username: &str, password: &str) -> Value {
        let (status, body) =
            self.post("/api/token/", json!({"username": username, "password": password})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
}

#[tokio::test]
async fn login_returns_a_token_pair_with_the_contracts_claims() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(format!("{}/api/token/", app.base))
        .json(&json!({"username": "user1", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let text = res.text().await.unwrap();
    assert!(text.starts_with(r#"{"access":"#), "access comes first: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["expires_in"], 300);

    let access = claims(body["access"].as_str().unwrap());
    assert_eq!(access["token_type"], "access");
    assert_eq!(access["username"], "user1");
    assert!(access["user_id"].is_string() && access["jti"].is_string());
    assert_eq!(access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(), 300);
    let refresh = claims(body["refresh"].as_str().unwrap());
    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(refresh["exp"].as_u64().unwrap() - refresh["iat"].as_u64().unwrap(), 86_400);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = app.post("/api/token/", json!({"username": "user1", "password": "nope-nope"})).await;
    let unknown = app.post("/api/token/", json!({"username": "nobody", "password": "nope-nope"})).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
    assert_error_shape(&wrong.1, "no_active_account");
}

#[tokio::test]
async fn usernames_are_matched_without_regard_to_case() {
    let app = spawn_app().await;
    app.login("USER1", "password1").await;
}

#[tokio::test]
async fn profile_shows_only_the_tokens_own_user() {
    let app = spawn_app().await;
    let sam = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let (status, body) = app.profile(sam["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"username": "user1", "first_name": "Sam", "last_name": "Smith", "email": "sam@example.com"})
    );
    let (_, body) = app.profile(tim["access"].as_str().unwrap()).await;
    assert_eq!(body["first_name"], "Tim");
    assert_eq!(body["email"], "tim@example.com");
}

#[tokio::test]
async fn every_path_answers_with_and_without_its_trailing_slash() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let res = app
        .http
        .get(format!("{}/api/profile", app.base))
        .bearer_auth(pair["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let (status, _) = app.post("/api/token", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/token/verify", json!({"token": pair["access"]})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn profile_without_or_with_a_bad_token_is_401() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/api/profile/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_error_shape(&res.json().await.unwrap(), "not_authenticated");

    let (status, body) = app.profile("not-a-jwt").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "token_not_valid");

    let res = app
        .http
        .get(format!("{}/api/profile/", app.base))
        .header("authorization", "Basic dXNlcjE6cGFzc3dvcmQx")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refresh_token_is_refused_as_an_access_token_and_vice_versa() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let (status, body) = app.profile(pair["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "token_not_valid");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["access"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_rotates_and_the_presented_token_dies() {
    // Strict mode: no grace window (see the grace window tests for the default).
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    let first = app.login("user1", "password1").await;
    let (status, second) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh"], first["refresh"]);
    assert_ne!(second["access"], first["access"]);
    assert_eq!(second["expires_in"], 300);
    assert_eq!(
        claims(second["refresh"].as_str().unwrap())["sid"],
        claims(first["refresh"].as_str().unwrap())["sid"]
    );

    let (status, third) = app.post("/api/token/refresh/", json!({"refresh": second["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.profile(third["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "user1");

    let (status, body) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a used token is dead");
    assert_error_shape(&body, "token_not_valid");
}

async fn refresh_20_at_once(app: &TestApp, refresh: &Value) -> Vec<(StatusCode, Value)> {
    futures::future::join_all((0..20).map(|_| app.post("/api/token/refresh/", json!({"refresh": refresh}))))
        .await
}

#[tokio::test]
async fn twenty_concurrent_refreshes_mint_exactly_one_new_token_which_they_all_get() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let results = refresh_20_at_once(&app, &pair["refresh"]).await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK), "racing tabs are not logged out: {results:?}");
    let minted: std::collections::HashSet<_> = results.iter().map(|(_, b)| b["refresh"].clone()).collect();
    assert_eq!(minted.len(), 1, "one rotation, one new refresh token: {minted:?}");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": results[0].1["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "and it works");
}

#[tokio::test]
async fn without_a_grace_window_twenty_concurrent_refreshes_give_exactly_one_success() {
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    let pair = app.login("user1", "password1").await;
    let results = refresh_20_at_once(&app, &pair["refresh"]).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused = results.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
    assert_eq!((ok, refused), (1, 19), "every other one is a clean 401, never a 5xx: {results:?}");
}

#[tokio::test]
async fn reusing_a_rotated_token_revokes_the_whole_session_newest_token_included() {
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    let first = app.login("user1", "password1").await;
    let other_session = app.login("user1", "password1").await;
    let (_, second) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    let (_, third) = app.post("/api/token/refresh/", json!({"refresh": second["refresh"]})).await;

    // An attacker replays the stolen first token.
    let (status, body) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "token_not_valid");

    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": third["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the newest token of the family died too");
    let (status, _) = app.profile(third["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and its access token, at once");
    let (status, _) = app.profile(other_session["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "other sessions are not affected");
}

#[tokio::test]
async fn the_grace_window_returns_the_same_child_and_revokes_after_it() {
    let app = spawn_app_with(&["--refresh-grace-period", "2"]).await;
    let first = app.login("user1", "password1").await;
    let (_, second) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;

    // A second tab (or a retry after a lost response) presents the parent again at once.
    let (status, again) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["refresh"], second["refresh"], "the very same child");
    let (status, _) = app.profile(again["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    // After the window, presenting the parent is reuse: the session ends.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": second["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the child went with the session");
}

#[tokio::test]
async fn an_older_ancestor_revokes_even_inside_the_grace_window() {
    let app = spawn_app().await;
    let first = app.login("user1", "password1").await;
    let (_, second) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    let (_, third) = app.post("/api/token/refresh/", json!({"refresh": second["refresh"]})).await;
    // `first`'s child (`second`) is itself used: `first` is an older ancestor, not a racing twin.
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": third["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_session_outlives_its_absolute_cap_however_often_it_refreshes() {
    let app = spawn_app_with(&[
        "--session-max-lifetime",
        "4",
        "--access-token-lifetime",
        "1",
        "--refresh-token-lifetime",
        "60",
    ])
    .await;
    let mut pair = app.login("user1", "password1").await;
    let first = claims(pair["refresh"].as_str().unwrap());
    let cap = first["exp"].as_u64().unwrap();
    assert_eq!(cap - first["iat"].as_u64().unwrap(), 4, "the first refresh token already stops at the cap");
    for _ in 0..3 {
        let (status, next) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            claims(next["refresh"].as_str().unwrap())["exp"].as_u64().unwrap() <= cap,
            "refreshing never extends it"
        );
        pair = next;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(cap as f64 + 1.1 - now)).await;
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn verify_accepts_good_tokens_and_refuses_used_or_bad_ones() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let (status, body) = app.post("/api/token/verify/", json!({"token": pair["access"]})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (status, _) = app.post("/api/token/verify/", json!({"token": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);

    app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    let (status, body) = app.post("/api/token/verify/", json!({"token": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a rotated refresh token is no longer valid");
    assert_error_shape(&body, "token_not_valid");
    let (status, _) = app.post("/api/token/verify/", json!({"token": "a.b.c"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_kills_the_refresh_token_and_the_sessions_access_tokens() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let other = app.login("user1", "password1").await;
    let (status, body) = app.post("/api/token/blacklist/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));

    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logout is real: the access token dies too");
    let (status, _) = app.post("/api/token/verify/", json!({"token": pair["access"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/blacklist/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a dead token can't be blacklisted twice");

    // Another session of the same user is untouched.
    let (status, _) = app.profile(other["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn blacklist_refuses_invalid_tokens() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    for bad in [json!("garbage"), pair["access"].clone()] {
        let (status, body) = app.post("/api/token/blacklist/", json!({"refresh": bad})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_error_shape(&body, "token_not_valid");
    }
}

#[tokio::test]
async fn tampered_and_alg_none_tokens_are_refused() {
    let app = spawn_app().await;
    let sam = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let access = sam["access"].as_str().unwrap();
    let parts: Vec<&str> = access.split('.').collect();

    // Swap in Tim's identity, keep Sam's signature.
    let mut payload = claims(access);
    let tims = claims(tim["access"].as_str().unwrap());
    payload["user_id"] = tims["user_id"].clone();
    payload["sid"] = tims["sid"].clone();
    let forged_payload = B64.encode(serde_json::to_vec(&payload).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let (status, _) = app.profile(&tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let none_header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    for unsigned in [format!("{none_header}.{forged_payload}."), format!("{none_header}.{forged_payload}")] {
        let (status, _) = app.profile(&unsigned).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    // A token signed with a different key (as if someone guessed a default secret).
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(b"secretsecretsecretsecretsecretsecret"),
    )
    .unwrap();
    let (status, _) = app.profile(&forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let app = spawn_app_with(&["--access-token-lifetime", "1", "--refresh-token-lifetime", "2"]).await;
    let pair = app.login("user1", "password1").await;
    assert_eq!(pair["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let (status, body) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "token_not_valid");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn register_creates_an_account_that_can_log_in() {
    let app = spawn_app().await;
    let form = json!({
        "username": "ada", "password": "analytical engine",
        "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"
    });
    let (status, body) = app.post("/api/register/", form.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"username": "ada", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"})
    );
    let pair = app.login("ada", "analytical engine").await;
    let (_, profile) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!(profile["last_name"], "Lovelace");

    let (status, body) = app.post("/api/register/", form).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error_shape(&body, "username_taken");
    let (status, _) = app
        .post(
            "/api/register/",
            json!({"username": "ADA", "password": "quite something else 7", "email": "a@example.com",
                   "first_name": "A", "last_name": "B"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "case variants are the same account");
}

#[tokio::test]
async fn register_explains_invalid_input_and_stores_nothing() {
    let app = spawn_app_with(&["--register-rate-per-minute", "0"]).await;
    let base = json!({
        "username": "grace", "password": "cobol rules ok since 1959",
        "email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"
    });
    for (field, value) in [
        ("username", json!("")),
        ("username", json!("has space")),
        ("password", json!("short")),
        ("password", json!("grace")),
        ("email", json!("not-an-email")),
        ("first_name", json!("  ")),
    ] {
        let mut form = base.clone();
        form[field] = value;
        let (status, body) = app.post("/api/register/", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert_error_shape(&body, "invalid");
        assert_eq!(body["field"], field);
    }
    // None of those left a half-made account behind.
    let (status, _) = app.post("/api/register/", base).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_and_incomplete_bodies_get_a_4xx_never_a_5xx() {
    let app = spawn_app().await;
    let paths = [
        "/api/token/",
        "/api/token/refresh/",
        "/api/token/verify/",
        "/api/token/blacklist/",
        "/api/register/",
    ];
    for path in paths {
        for (content_type, body) in [
            ("application/json", "{"),
            ("application/json", "[]"),
            ("application/json", "{}"),
            ("application/json", r#"{"username": 1, "password": null, "refresh": 7, "token": false}"#),
            ("application/json", ""),
            ("text/plain", r#"{"username":"user1"}"#),
        ] {
            let (status, res) = app.post_raw(path, content_type, body).await;
            assert!(status.is_client_error(), "{path} {body:?}: {status} {res}");
            assert!(res["code"].is_string() && res["detail"].is_string(), "{path} {body:?}: {res}");
            let text = res.to_string().to_lowercase();
            assert!(!text.contains("sql") && !text.contains("panicked"), "{text}");
        }
    }
    let (status, body) = app.post("/api/token/", json!({"username": "user1"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().contains("password"), "{body}");
}

#[tokio::test]
async fn unknown_api_paths_and_wrong_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/api/nope/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_error_shape(&res.json().await.unwrap(), "not_found");
    let res = app.http.get(format!("{}/api/token/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&res.json().await.unwrap(), "method_not_allowed");
}

#[tokio::test]
async fn server_functions_share_the_error_shape_and_statuses() {
    let app = spawn_app().await;
    let form = [("username", "user1"), ("password", "wrong-password")];
    let res = app.http.post(format!("{}/rpc/login", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_error_shape(&res.json().await.unwrap(), "no_active_account");

    let form = [("username", "user1"), ("password", "password1")];
    let res = app.http.post(format!("{}/rpc/login", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let signed_in: Value = res.json().await.unwrap();
    assert_eq!(signed_in["user"]["username"], "user1");
    let access = signed_in["tokens"]["access"].as_str().unwrap();

    let res =
        app.http.post(format!("{}/rpc/profile", app.base)).form(&[("access", access)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["first_name"], "Sam");

    // A call with a missing argument is the caller's mistake: 4xx.
    let res = app.http.post(format!("{}/rpc/profile", app.base)).form(&[("nope", "x")]).send().await.unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
}

/// A server function call as the app's own page makes it in cookie mode: the CSRF header, a
/// same-origin `Origin`, and the refresh cookie (if any).
async fn rpc_as_the_page(
    app: &TestApp,
    name: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/rpc/{name}", app.base))
        .header("x-leptos-auth-csrf", "1")
        .header("origin", &app.base)
        .form(form);
    if let Some(token) = cookie {
        req = req.header("cookie", format!("__Host-leptos_auth_refresh={token}"));
    }
    req.send().await.unwrap()
}

/// The refresh cookie a response sets: its value and its attributes.
fn refresh_cookie(res: &reqwest::Response) -> (String, String) {
    let header = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-leptos_auth_refresh="))
        .expect("a refresh cookie");
    let (pair, attributes) = header.split_once(';').unwrap();
    (pair.split_once('=').unwrap().1.to_owned(), attributes.to_owned())
}

#[tokio::test]
async fn cookie_mode_keeps_the_refresh_token_in_an_httponly_cookie_behind_a_csrf_check() {
    let app = spawn_app_with(&["--token-storage", "cookie"]).await;
    let login = [("username", "user1"), ("password", "password1")];

    // Without the header, or from another origin, nothing happens (not even a login).
    let res = app.http.post(format!("{}/rpc/login", app.base)).form(&login).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_error_shape(&res.json().await.unwrap(), "permission_denied");
    let res = app
        .http
        .post(format!("{}/rpc/login", app.base))
        .header("x-leptos-auth-csrf", "1")
        .header("origin", "http://evil.example")
        .form(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = rpc_as_the_page(&app, "login", &login, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (first, attributes) = refresh_cookie(&res);
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=86400"] {
        assert!(attributes.contains(attribute), "{attributes} lacks {attribute}");
    }
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["tokens"]["refresh"], "", "the body never carries the refresh token");
    assert_eq!(app.profile(body["tokens"]["access"].as_str().unwrap()).await.0, StatusCode::OK);

    // The server renders the page for the cookie's user, and no shared cache may keep it.
    let res = app
        .http
        .get(format!("{}/profile", app.base))
        .header("cookie", format!("__Host-leptos_auth_refresh={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let page = res.text().await.unwrap();
    assert!(page.contains(">user1<"), "the header shows user1 before any script runs");
    let anonymous = app.http.get(format!("{}/profile", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!anonymous.contains(">user1<"));

    // An empty refresh argument means the cookie's token: it rotates, like any refresh.
    let res = rpc_as_the_page(&app, "refresh", &[("refresh", "")], Some(&first)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (second, _) = refresh_cookie(&res);
    assert_ne!(second, first);
    assert_eq!(res.json::<Value>().await.unwrap()["refresh"], "");

    // A refused cookie is removed.
    let (status, _) = app.post("/api/token/blacklist/", json!({"refresh": second})).await;
    assert_eq!(status, StatusCode::OK);
    let res = rpc_as_the_page(&app, "refresh", &[("refresh", "")], Some(&second)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (value, attributes) = refresh_cookie(&res);
    assert_eq!((value.as_str(), attributes.contains("Max-Age=0")), ("", true));

    // Logout ends the cookie's session and removes the cookie.
    let res = rpc_as_the_page(&app, "login", &login, None).await;
    let (third, _) = refresh_cookie(&res);
    let res = rpc_as_the_page(&app, "logout", &[("refresh", "")], Some(&third)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(refresh_cookie(&res).1.contains("Max-Age=0"));
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": third})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session is dead on the server");

    // The REST contract is unchanged: both tokens in the body, no cookie.
    let (status, body) = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["refresh"].as_str().is_some_and(|t| t.split('.').count() == 3));
}

#[tokio::test]
async fn pages_render_on_the_server_and_unknown_pages_are_404() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<label for="login-username">Username"#), "{html}");
    assert!(html.contains(r#"<button type="submit" disabled>"#), "disabled until hydrated: {html}");
    let res = app.http.get(format!("{}/profile", app.base)).send().await.unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("Checking your session"), "SSR never guesses the user: {html}");
    let res = app.http.get(format!("{}/no/such/page", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn users_see_their_own_sessions_and_can_end_one() {
    let app = spawn_app().await;
    let laptop = app.login("user1", "password1").await;
    let phone = app.login("user1", "password1").await;
    let tims = app.login("user2", "password2").await;

    let (status, list) = app.send(reqwest::Method::GET, "/api/sessions/", &laptop["access"], None).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "Tim's session is not Sam's business: {list:?}");
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], claims(laptop["access"].as_str().unwrap())["sid"]);
    assert!(list.iter().all(|s| s["created_at"].is_u64() && s["last_used_at"].is_u64()));

    let phone_sid = claims(phone["access"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    let tims_sid = claims(tims["access"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    let (status, body) = app
        .send(reqwest::Method::DELETE, &format!("/api/sessions/{tims_sid}/"), &laptop["access"], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nobody ends someone else's session");
    assert_error_shape(&body, "not_found");
    let (status, _) = app.profile(tims["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": tims["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "not even Tim's refresh tokens are touched");

    let (status, _) = app
        .send(reqwest::Method::DELETE, &format!("/api/sessions/{phone_sid}/"), &laptop["access"], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.profile(phone["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the phone's access token dies at once");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": phone["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.profile(laptop["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_the_user_only() {
    let app = spawn_app().await;
    let a = app.login("user1", "password1").await;
    let b = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let (status, _) = app.send(reqwest::Method::DELETE, "/api/sessions/", &a["access"], None).await;
    assert_eq!(status, StatusCode::OK);
    for pair in [&a, &b] {
        let (status, _) = app.profile(pair["access"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app.profile(tim["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_ends_other_sessions() {
    let app = spawn_app().await;
    let here = app.login("user1", "password1").await;
    let elsewhere = app.login("user1", "password1").await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let (status, body) = app
        .send(
            reqwest::Method::POST,
            "/api/password/",
            &here["access"],
            Some(change("wrong", "brand new passphrase 42")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "current_password");
    let (status, body) = app
        .send(reqwest::Method::POST, "/api/password/", &here["access"], Some(change("password1", "short")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "new_password");
    let (status, _) = app.profile(elsewhere["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "refused changes end nothing");

    let (status, _) = app
        .send(
            reqwest::Method::POST,
            "/api/password/",
            &here["access"],
            Some(change("password1", "brand new passphrase 42")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.profile(elsewhere["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "other sessions end");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": elsewhere["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": here["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "this one goes on");

    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("user1", "brand new passphrase 42").await;
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_at_once_and_cannot_log_in() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    app.auth.set_disabled("user1", true).await.unwrap();
    let (status, _) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refused = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    let unknown = app.post("/api/token/", json!({"username": "nobody", "password": "password1"})).await;
    assert_eq!(refused, unknown, "a disabled account looks like no account");

    app.auth.set_disabled("user1", false).await.unwrap();
    app.login("user1", "password1").await;
    assert!(app.auth.set_disabled("nobody", true).await.is_err());
}

#[tokio::test]
async fn pruning_removes_expired_and_revoked_sessions_but_not_live_ones() {
    let app = spawn_app_with(&["--access-token-lifetime", "1", "--refresh-token-lifetime", "2"]).await;
    let expiring = app.login("user1", "password1").await;
    app.post("/api/token/refresh/", json!({"refresh": expiring["refresh"]})).await;
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let live = app.login("user2", "password2").await;
    let (tokens, sessions) = app.auth.prune().await.unwrap();
    assert_eq!((tokens, sessions), (2, 1), "the expired session and its two tokens");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": live["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.auth.prune().await.unwrap(), (0, 0));
}

#[tokio::test]
async fn pages_carry_a_nonce_csp_and_every_response_the_security_headers() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/login", app.base)).send().await.unwrap();
    let headers = res.headers().clone();
    let html = res.text().await.unwrap();
    let csp = headers["content-security-policy"].to_str().unwrap().to_owned();
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce in the CSP");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the CSP's nonce");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("referrer-policy"));

    let again = app.http.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_ne!(again.headers()["content-security-policy"].to_str().unwrap(), csp, "a fresh nonce per page");
    let missing = app.http.get(format!("{}/nope", app.base)).send().await.unwrap();
    assert!(missing.headers().contains_key("content-security-policy"), "the 404 page too");

    let api = app.http.get(format!("{}/api/profile/", app.base)).send().await.unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(api.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn oversized_and_deeply_nested_bodies_get_a_4xx_in_the_error_shape() {
    let app = spawn_app().await;
    let megabyte = format!(r#"{{"username": "user1", "password": "{}"}}"#, "x".repeat(1_000_000));
    let res = app
        .http
        .post(format!("{}/api/token/", app.base))
        .header("content-type", "application/json")
        .body(megabyte.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_shape(&res.json().await.unwrap(), "payload_too_large");

    for depth in [1_000, 100_000] {
        let nested = format!(r#"{{"refresh": {}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
        let res = app
            .http
            .post(format!("{}/api/token/refresh/", app.base))
            .header("content-type", "application/json")
            .body(nested)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "depth {depth}: {}", res.status());
    }

    let res = app.http.post(format!("{}/rpc/login", app.base)).body(megabyte.repeat(2)).send().await.unwrap();
    assert!(res.status().is_client_error(), "server functions are bounded too: {}", res.status());
}

#[tokio::test]
async fn each_client_ip_gets_a_bucket_of_logins_and_then_429_with_retry_after() {
    let app = spawn_app_with(&["--login-rate-per-minute", "3"]).await;
    for password in ["password1", "wrong-one", "password1"] {
        let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": password})).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    // Spoofing X-Forwarded-For changes nothing: no proxy is trusted.
    let res = app
        .http
        .post(format!("{}/api/token/", app.base))
        .header("x-forwarded-for", "203.0.113.99")
        .json(&json!({"username": "user1", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=21).contains(&retry_after), "{retry_after}");
    assert_error_shape(&res.json().await.unwrap(), "throttled");

    // The browser's server function shares the same bucket and the same answer.
    let form = [("username", "user1"), ("password", "password1")];
    let res = app.http.post(format!("{}/rpc/login", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn refresh_and_register_have_buckets_too() {
    let app = spawn_app_with(&["--refresh-rate-per-minute", "2", "--register-rate-per-minute", "1"]).await;
    let mut pair = app.login("user1", "password1").await;
    for _ in 0..2 {
        let (status, next) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
        assert_eq!(status, StatusCode::OK);
        pair = next;
    }
    let (status, body) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_error_shape(&body, "throttled");

    let form = |name: &str| {
        json!({"username": name, "password": "plenty long passphrase", "email": "a@example.com",
               "first_name": "A", "last_name": "B"})
    };
    assert_eq!(app.post("/api/register/", form("first")).await.0, StatusCode::CREATED);
    assert_eq!(app.post("/api/register/", form("second")).await.0, StatusCode::TOO_MANY_REQUESTS);
}

/// Five wrong passwords, then the account is locked for a growing time; unknown usernames
/// behave exactly the same, so the lock reveals nothing.
#[tokio::test]
async fn consecutive_failures_lock_the_username_whether_or_not_it_exists() {
    // A 5-second first lock: long enough that a slow machine still meets it.
    let app = spawn_app_with(&["--login-rate-per-minute", "0", "--login-lock-base", "5"]).await;
    for username in ["user1", "nobody"] {
        for attempt in 1..=5 {
            let (status, body) =
                app.post("/api/token/", json!({"username": username, "password": "guess"})).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{username} attempt {attempt}: {body}");
        }
        let res = app
            .http
            .post(format!("{}/api/token/", app.base))
            .json(&json!({"username": username, "password": "password1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{username}: locked, even with the right password"
        );
        let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=5).contains(&retry_after), "{retry_after}");
    }
    // Another account is not affected.
    app.login("user2", "password2").await;
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    app.login("user1", "password1").await;
    // Success resets the count: one more failure is an ordinary 401, not a lock.
    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "guess"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("user1", "password1").await;
}

#[tokio::test]
async fn unknown_user_and_wrong_password_take_about_as_long() {
    let app = spawn_app_with(&["--login-rate-per-minute", "0"]).await;
    // Interleaved, so a change in machine load hits both alike; and compared by their
    // fastest sample, since load (other tests run beside this one) only ever adds time.
    // A success every few rounds keeps user1 below the per-username lock; each unknown
    // name is used once.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..12 {
        if round % 4 == 3 {
            app.login("user1", "password1").await;
        }
        let nobody = format!("no-such-user-{round}");
        for (username, times) in [("user1", &mut known), (nobody.as_str(), &mut unknown)] {
            let start = std::time::Instant::now();
            let (status, _) =
                app.post("/api/token/", json!({"username": username, "password": "wrong"})).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let fastest = |t: Vec<f64>| t.into_iter().fold(f64::INFINITY, f64::min);
    let (known, unknown) = (fastest(known), fastest(unknown));
    let ratio = unknown / known;
    assert!((0.5..2.0).contains(&ratio), "known {known:.1} ms, unknown {unknown:.1} ms");
}

#[tokio::test]
async fn look_alike_twins_of_a_username_are_the_same_account() {
    let app = spawn_app().await;
    for twin in ["USER1", "ｕｓｅｒ1", "Ｕser１"] {
        let (status, body) = app
            .post(
                "/api/register/",
                json!({"username": twin, "password": "plenty long passphrase", "email": "t@example.com",
                       "first_name": "T", "last_name": "W"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{twin}: {body}");
    }
    app.login("ｕｓｅｒ1", "password1").await;
}

#[tokio::test]
async fn common_or_personal_passwords_are_refused_with_what_to_change() {
    let app = spawn_app_with(&["--register-rate-per-minute", "0"]).await;
    for (password, first_name) in
        [("password123", "Ada"), ("qwertyuiop", "Ada"), ("lovelace1815", "Lovelace")]
    {
        let (status, body) = app
            .post(
                "/api/register/",
                json!({"username": "ada", "password": password, "email": "ada@example.com",
                       "first_name": first_name, "last_name": "Lovelace"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{password}: {body}");
        assert_eq!(body["field"], "password");
        assert!(body["detail"].as_str().unwrap().contains("too easy to guess"), "{body}");
    }
    let long = "a fine long passphrase ".repeat(4);
    let (status, _) = app
        .post(
            "/api/register/",
            json!({"username": "ada", "password": long, "email": "ada@example.com",
                   "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "a 92-character passphrase is accepted, whole");
    let (status, _) = app.post("/api/token/", json!({"username": "ada", "password": &long[..91]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no truncation: every character counts");
    app.login("ada", &long).await;
}

#[tokio::test]
async fn the_audit_log_records_what_happened_to_an_account_newest_first() {
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    app.post("/api/token/", json!({"username": "user1", "password": "wrong"})).await;
    let pair = app.login("user1", "password1").await;
    let (_, rotated) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await; // reuse
    let other = app.login("user1", "password1").await;
    app.post("/api/token/blacklist/", json!({"refresh": other["refresh"]})).await;
    app.auth.set_disabled("user1", true).await.unwrap();

    let events: Vec<String> =
        app.auth.audit_log("user1", 50).await.unwrap().into_iter().map(|e| e.event).collect();
    let expected = [
        "user_disabled",
        "logged_out",
        "login_succeeded",
        "refresh_reuse_detected",
        "token_refreshed",
        "login_succeeded",
        "login_failed",
        "account_created",
    ];
    assert_eq!(events, expected);
    let session = claims(rotated["refresh"].as_str().unwrap())["sid"].clone();
    let entries = app.auth.audit_log("user1", 50).await.unwrap();
    let reuse = entries.iter().find(|e| e.event == "refresh_reuse_detected").unwrap();
    assert_eq!(Some(session.as_str().unwrap()), reuse.session_id.as_deref());
    assert_eq!(reuse.ip.as_deref(), Some("127.0.0.1"));
    assert!(app.auth.audit_log("nobody", 5).await.is_err());
}

#[tokio::test]
async fn headers_that_name_outside_keys_are_never_followed() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let access = pair["access"].as_str().unwrap();
    let header: Value =
        serde_json::from_slice(&B64.decode(access.split('.').next().unwrap()).unwrap()).unwrap();
    let kid = header["kid"].as_str().expect("tokens carry a kid").to_owned();
    let payload = claims(access);
    let attacker_key = jsonwebtoken::EncodingKey::from_secret(b"the attacker's own 32-byte secret!!");
    // Our kid, plus a pointer to the attacker's key set, certificate or embedded key.
    let mut with_jku = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    with_jku.kid = Some(kid.clone());
    with_jku.jku = Some("http://127.0.0.1:9/jwks.json".into());
    let mut with_x5u = with_jku.clone();
    with_x5u.jku = None;
    with_x5u.x5u = Some("http://127.0.0.1:9/cert.pem".into());
    let mut foreign_kid = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    foreign_kid.kid = Some("../../etc/passwd".into());
    let mut other_alg = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
    other_alg.kid = Some(kid);
    for header in [with_jku, with_x5u, foreign_kid, other_alg] {
        let forged = jsonwebtoken::encode(&header, &payload, &attacker_key).unwrap();
        let (status, _) = app.profile(&forged).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header:?}");
    }
    // And the genuine token still works.
    assert_eq!(app.profile(access).await.0, StatusCode::OK);
    assert_eq!(payload["iss"], "leptos-auth");
    assert_eq!(payload["aud"], "leptos-auth");
}

#[tokio::test]
async fn cors_is_same_origin_unless_origins_are_allowed_and_then_only_those() {
    let preflight = |app: &TestApp, origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/api/token/", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let closed = spawn_app().await;
    let res = preflight(&closed, "https://app.example.com").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    let open =
        spawn_app_with(&["--cors-allowed-origins", "https://app.example.com,http://localhost:5173"]).await;
    let res = preflight(&open, "https://app.example.com").await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
    assert!(!res.headers().contains_key("access-control-allow-credentials"), "never with credentials");
    let res = preflight(&open, "https://evil.example").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    let res = open
        .http
        .post(format!("{}/api/token/", open.base))
        .header("origin", "http://localhost:5173")
        .json(&json!({"username": "user1", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], "http://localhost:5173");
}

fn header_of(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn access_tokens_are_ed25519_and_verifiable_by_anyone_with_the_jwk_set() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let access = pair["access"].as_str().unwrap();
    assert_eq!(header_of(access)["alg"], "EdDSA");
    let jwks = app.jwks().await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], header_of(access)["kid"]);
    assert!(key.get("d").is_none(), "never the private half");

    // Another service verifies the token with nothing but the published key.
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["leptos-auth"]);
    validation.set_issuer(&["leptos-auth"]);
    let verified = jsonwebtoken::decode::<Value>(access, &decoding, &validation).unwrap();
    assert_eq!(verified.claims["username"], "user1");
    // The same service is never fooled by a refresh token: it has another audience.
    assert!(
        jsonwebtoken::decode::<Value>(pair["refresh"].as_str().unwrap(), &decoding, &validation).is_err()
    );
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key() {
    let app = spawn_app().await;
    let before = app.login("user1", "password1").await;
    let old_kid = header_of(before["access"].as_str().unwrap())["kid"].clone();
    let new_kid = app.auth.rotate_key().await.unwrap();
    assert_ne!(Value::String(new_kid.clone()), old_kid);

    assert_eq!(app.profile(before["access"].as_str().unwrap()).await.0, StatusCode::OK, "old access token");
    let (status, rotated) = app.post("/api/token/refresh/", json!({"refresh": before["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "old refresh token");
    assert_eq!(header_of(rotated["access"].as_str().unwrap())["kid"], new_kid.as_str());
    let after = app.login("user2", "password2").await;
    assert_eq!(header_of(after["access"].as_str().unwrap())["kid"], new_kid.as_str());

    let jwks = app.jwks().await;
    let kids: Vec<&Value> = jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&&old_kid));
}

#[tokio::test]
async fn hs256_stays_available_by_configuration() {
    let secret = "an operator-chosen secret of at least 32 bytes";
    let app = spawn_app_with(&["--jwt-algorithm", "HS256", "--jwt-secret", secret]).await;
    let pair = app.login("user1", "password1").await;
    let access = pair["access"].as_str().unwrap();
    assert_eq!(header_of(access)["alg"], "HS256");
    assert_eq!(app.profile(access).await.0, StatusCode::OK);
    let jwks = app.jwks().await;
    assert_eq!(jwks, json!({"keys": []}), "a shared secret is never published");
    assert!(app.auth.rotate_key().await.is_err(), "rotate JWT_SECRET by changing it");
    // An EdDSA token (another instance's, or an attacker's) is refused: one algorithm only.
    let other = spawn_app().await;
    let eddsa = other.login("user1", "password1").await;
    assert_eq!(app.profile(eddsa["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_of_the_contract_and_beyond() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/api/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let methods_of = |path: &str| -> Vec<String> {
        let mut m: Vec<String> =
            doc["paths"][path].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        m.retain(|k| k != "parameters");
        m.sort();
        m
    };
    // ../shared/CONTRACT.md, row by row.
    for (path, method) in [
        ("/api/token/", "post"),
        ("/api/token/refresh/", "post"),
        ("/api/token/verify/", "post"),
        ("/api/token/blacklist/", "post"),
        ("/api/profile/", "get"),
        ("/api/register/", "post"),
    ] {
        assert_eq!(methods_of(path), [method], "{path}");
    }
    assert_eq!(methods_of("/api/sessions/"), ["delete", "get"]);
    assert_eq!(methods_of("/api/sessions/{id}/"), ["delete"]);
    assert_eq!(methods_of("/api/password/"), ["post"]);
    assert_eq!(methods_of("/.well-known/jwks.json"), ["get"]);
    assert_eq!(doc["paths"].as_object().unwrap().len(), 10, "nothing undocumented, nothing extra");

    let schemas = &doc["components"]["schemas"];
    let token_pair: Vec<&str> =
        schemas["TokenPair"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(token_pair, ["access", "refresh", "expires_in"]);
    assert!(schemas["ApiError"]["properties"]["detail"].is_object());
    assert!(schemas["ErrorCode"]["enum"].as_array().unwrap().contains(&json!("token_not_valid")));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc["paths"]["/api/register/"]["post"]["responses"]["409"].is_object(), true);
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_lock() {
    let app = spawn_app_with(&["--login-rate-per-minute", "0", "--login-lock-base", "60"]).await;
    let results = futures::future::join_all(
        (0..20).map(|_| app.post("/api/token/", json!({"username": "user1", "password": "guess"}))),
    )
    .await;
    let checked = results.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
    let locked = results.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, locked), (5, 15), "each attempt is counted before its password is checked");
}

#[tokio::test]
async fn health_and_readiness_endpoints_answer() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!((res.status(), res.text().await.unwrap()), (StatusCode::OK, "ok".to_owned()));
    let res = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!((res.status(), res.text().await.unwrap()), (StatusCode::OK, "ready".to_owned()));
    app.auth.close().await;
    let res = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "a dead database is 503, not 500");
    let res = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the process itself is still alive");
}

#[tokio::test]
async fn a_fleet_of_two_instances_on_one_database_shares_every_session() {
    let fleet = spawn_fleet(2, &["--refresh-grace-period", "0"]).await;
    wait_until_following(&fleet).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    let first = a.login("user1", "password1").await;

    // A session started on A refreshes on B, and B's tokens work on A.
    let (status, second) = b.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a.profile(second["access"].as_str().unwrap()).await.0, StatusCode::OK);

    // Reuse of A's rotated token, presented to B, ends the session on A too.
    let (status, _) = b.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.profile(second["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // Logout on A: B refuses that session's access token within a second, although B had
    // just seen the session live (on PostgreSQL B remembers it, and A's NOTIFY makes it forget).
    let pair = b.login("user2", "password2").await;
    let verify = json!({"token": pair["access"]});
    for _ in 0..3 {
        assert_eq!(b.post("/api/token/verify/", verify.clone()).await.0, StatusCode::OK);
    }
    let (status, _) = a.post("/api/token/blacklist/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    let logged_out = std::time::Instant::now();
    while b.post("/api/token/verify/", verify.clone()).await.0 == StatusCode::OK {
        assert!(logged_out.elapsed() < Duration::from_secs(1), "B still accepts a logged-out session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(b.profile(pair["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // Sign out everywhere and disabling a user reach the other instance the same way.
    let tim = a.login("user2", "password2").await;
    assert_eq!(b.post("/api/token/verify/", json!({"token": tim["access"]})).await.0, StatusCode::OK);
    b.auth.set_disabled("user2", true).await.unwrap();
    let disabled = std::time::Instant::now();
    while a.post("/api/token/verify/", json!({"token": tim["access"]})).await.0 == StatusCode::OK {
        assert!(disabled.elapsed() < Duration::from_secs(1), "A still accepts a disabled user");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Both sign with the same key, and publish the same key set.
    assert_eq!(a.jwks().await, b.jwks().await);
}

#[tokio::test]
async fn a_key_rotated_on_one_instance_is_used_and_accepted_by_the_other_at_once() {
    let fleet = spawn_fleet(2, &[]).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    let kid = a.auth.rotate_key().await.unwrap();
    let pair = a.login("user1", "password1").await;
    let header: Value = serde_json::from_slice(
        &B64.decode(pair["access"].as_str().unwrap().split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid.as_str(), "A signs with the new key at once");
    assert_eq!(b.profile(pair["access"].as_str().unwrap()).await.0, StatusCode::OK, "B accepts it at once");
    let (status, next) = b.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    let header: Value = serde_json::from_slice(
        &B64.decode(next["access"].as_str().unwrap().split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid.as_str(), "and B now signs with it too");
    assert_eq!(a.jwks().await, b.jwks().await);
}

#[tokio::test]
async fn rate_limits_and_login_locks_are_shared_by_the_fleet() {
    let fleet = spawn_fleet(2, &["--login-rate-per-minute", "4", "--login-lock-base", "60"]).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    for app in [a, b, a, b] {
        let (status, _) =
            app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
        assert_eq!(status, StatusCode::OK);
    }
    for app in [a, b] {
        let (status, body) =
            app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "one budget per client across the fleet");
        assert_error_shape(&body, "throttled");
    }

    // Five failures spread over both instances lock the username on both.
    let fleet = spawn_fleet(2, &["--login-lock-base", "60"]).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    for app in [a, b, a, b, a] {
        let (status, _) =
            app.post("/api/token/", json!({"username": "user2", "password": "wrong-one"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = b.post("/api/token/", json!({"username": "user2", "password": "password2"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "locked on B by failures on both");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_the_auth_events() {
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    let pair = app.login("user1", "password1").await;
    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "wrong-one"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse");
    app.login("user2", "password2").await;

    let res = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    // The recorder is process-wide (other tests run beside this one): check presence, and
    // that the route label is the pattern, never a raw path.
    for series in [
        r#"http_requests_total{method="POST",route="/api/token/",status="200"}"#,
        r#"http_requests_total{method="POST",route="/api/token/refresh/",status="401"}"#,
        r#"http_request_duration_seconds_bucket{method="POST",route="/api/token/",status="200",le="#,
        r#"auth_logins_total{result="succeeded"}"#,
        r#"auth_logins_total{result="failed"}"#,
        r#"auth_refreshes_total{result="rotated"}"#,
        "auth_refresh_reuse_detected_total",
        "auth_active_sessions",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    let sessions: f64 =
        text.lines().find_map(|l| l.strip_prefix("auth_active_sessions ")).unwrap().parse().unwrap();
    assert_eq!(sessions, 1.0, "user1's session was revoked by the reuse; user2's is live");
}

#[tokio::test]
async fn metrics_are_only_for_the_allowed_scrapers() {
    let app = spawn_app_with(&["--metrics-allow-from", "10.9.9.9"]).await;
    let res = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn on_postgresql_live_sessions_are_remembered_until_a_notify_says_otherwise() {
    use sqlx::Connection;
    let fleet = spawn_fleet(2, &[]).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    let url = match &a.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}/app.db", a._data.path().display()),
    };
    let on_postgres = a.database_url.is_some();
    wait_until_following(&fleet).await;
    let pair = a.login("user1", "password1").await;
    let verify = json!({"token": pair["access"]});
    assert_eq!(b.post("/api/token/verify/", verify.clone()).await.0, StatusCode::OK);

    // Revoke the session behind the servers' backs, without telling anyone.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE sessions SET revoked_at = 1, revoked_reason = 'test'")
        .execute(&mut db)
        .await
        .unwrap();
    let (status, _) = b.post("/api/token/verify/", verify.clone()).await;
    if !on_postgres {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "SQLite: every call asks the database");
        return;
    }
    assert_eq!(status, StatusCode::OK, "PostgreSQL: B answers from memory, not by polling the database");
    // Profile reads the user's data, and with it the truth.
    assert_eq!(b.profile(pair["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // The broadcast every revocation sends makes B forget at once.
    let sid = claims(pair["access"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    sqlx::query("SELECT pg_notify('leptos_auth_revocations', $1)")
        .bind(format!("s:{sid}"))
        .execute(&mut db)
        .await
        .unwrap();
    let notified = std::time::Instant::now();
    while b.post("/api/token/verify/", verify.clone()).await.0 == StatusCode::OK {
        assert!(notified.elapsed() < Duration::from_secs(1), "B ignored the notification");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn only_admins_may_list_disable_and_enable_accounts() {
    let app = spawn_app().await;
    let form = app::api::NewAccount {
        username: "boss".into(),
        password: "a long admin passphrase for tests".into(),
        email: "boss@example.com".into(),
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
    };
    app.auth.create_user(form, app::api::Role::Admin).await.unwrap();
    let admin = app.login("boss", "a long admin passphrase for tests").await;
    let sam = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let rpc = |endpoint: &'static str, form: Vec<(&'static str, String)>| {
        let req = app.http.post(format!("{}/rpc/{endpoint}", app.base)).form(&form);
        async move { TestApp::read(req.send().await.unwrap()).await }
    };
    let access = |pair: &Value| pair["access"].as_str().unwrap().to_owned();

    let (status, users) = rpc("admin_users", vec![("access", access(&admin))]).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let mut listed: Vec<(&str, &str, bool)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (u["username"].as_str().unwrap(), u["role"].as_str().unwrap(), u["disabled"].as_bool().unwrap())
        })
        .collect();
    listed.sort();
    assert_eq!(listed, [("boss", "admin", false), ("user1", "user", false), ("user2", "user", false)]);

    // A signed-in non-admin is refused with 403 whatever the client does; no token is 401.
    for (endpoint, extra) in
        [("admin_users", vec![]), ("admin_set_disabled", vec![("username", "user1"), ("disabled", "true")])]
    {
        let mut form = vec![("access", access(&tim))];
        form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let (status, body) = rpc(endpoint, form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {body}");
        assert_error_shape(&body, "permission_denied");
    }
    let (status, _) = rpc("admin_users", vec![("access", "not-a-token".into())]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.profile(&access(&sam)).await.0, StatusCode::OK, "user1 untouched by the refused call");

    // Disabling ends the user's sessions at once and stops their logins; enabling restores.
    let disable = |username: &'static str, disabled: &'static str| {
        rpc(
            "admin_set_disabled",
            vec![("access", access(&admin)), ("username", username.into()), ("disabled", disabled.into())],
        )
    };
    assert_eq!(disable("user1", "true").await.0, StatusCode::OK);
    assert_eq!(app.profile(&access(&sam)).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, users) = rpc("admin_users", vec![("access", access(&admin))]).await;
    let user1 = users.as_array().unwrap().iter().find(|u| u["username"] == "user1").unwrap();
    assert_eq!(user1["disabled"], true);
    assert_eq!(disable("user1", "false").await.0, StatusCode::OK);
    app.login("user1", "password1").await;

    let (status, body) = disable("BOSS", "true").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no admin disables themselves: {body}");
    assert_eq!(disable("nobody", "true").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_edit_their_own_profile_by_the_registration_rules() {
    let app = spawn_app().await;
    let sam = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let update = |pair: &Value, first: &str, last: &str, email: &str| {
        let form = [
            ("access", pair["access"].as_str().unwrap().to_owned()),
            ("first_name", first.to_owned()),
            ("last_name", last.to_owned()),
            ("email", email.to_owned()),
        ];
        let req = app.http.post(format!("{}/rpc/update_profile", app.base)).form(&form);
        async move { TestApp::read(req.send().await.unwrap()).await }
    };

    let (status, body) = update(&sam, "  Samuel ", "Smith", "samuel@example.org").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"username": "user1", "first_name": "Samuel", "last_name": "Smith", "email": "samuel@example.org"})
    );
    let (_, shown) = app.profile(sam["access"].as_str().unwrap()).await;
    assert_eq!(shown, body, "stored, trimmed, and what the profile now shows");
    let (_, other) = app.profile(tim["access"].as_str().unwrap()).await;
    assert_eq!(other["first_name"], "Tim", "nobody else's profile changes");

    for (first, last, email, field) in [
        ("Sam", "Smith", "sam@localhost", "email"),
        ("", "Smith", "sam@example.com", "first_name"),
        ("Sam", " ", "sam@example.com", "last_name"),
    ] {
        let (status, body) = update(&sam, first, last, email).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error_shape(&body, "invalid");
        assert_eq!(body["field"], field);
    }
    let (_, shown) = app.profile(sam["access"].as_str().unwrap()).await;
    assert_eq!(shown["email"], "samuel@example.org", "a refused edit changes nothing");
    let (status, _) = update(&json!({"access": "forged"}), "A", "B", "a@b.example").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
