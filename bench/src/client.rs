//! The requests of the contract the scenarios send, each worker over its own keep-alive
//! connection.

use crate::load::{Outcome, Request};
use anyhow::{Context, Result, ensure};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// A benchmark user. Each worker logs in as its own user: the server counts a login
/// attempt against its username before checking the password (so parallel guesses can't
/// slip past the lock), which means many concurrent logins of one account look like an
/// attack and get locked, as they should.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub username: String,
    pub password: &'static str,
}

/// Strong enough for the server's password policy; the users exist only in the bench's
/// throw-away database.
const BENCH_PASSWORD: &str = "load generator passphrase, not a secret";

impl Credentials {
    /// The user of worker `index` (see `register`).
    pub fn bench(index: usize) -> Self {
        Self { username: format!("bench{index}"), password: BENCH_PASSWORD }
    }
}

/// POST /api/register/: creates the user of worker `index`.
pub async fn register(client: &reqwest::Client, base_url: &str, index: usize) -> Result<()> {
    let user = Credentials::bench(index);
    let response = client
        .post(format!("{base_url}/api/register/"))
        .json(&serde_json::json!({
            "username": user.username,
            "password": user.password,
            "email": format!("{}@bench.example", user.username),
            "first_name": "Bench",
            "last_name": format!("User {index}"),
        }))
        .send()
        .await?;
    let status = response.status();
    ensure!(status == reqwest::StatusCode::CREATED, "registering {} answered {status}", user.username);
    Ok(())
}

#[derive(Deserialize)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

/// A client holding at most one idle connection: one worker, one keep-alive connection.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        // The server is on loopback; an HTTP_PROXY in the environment must not reroute it.
        .no_proxy()
        .build()
        .expect("a plain HTTP client always builds")
}

/// POST /api/token/.
pub async fn login(client: &reqwest::Client, base_url: &str, user: &Credentials) -> Result<TokenPair> {
    let response = client
        .post(format!("{base_url}/api/token/"))
        .json(&serde_json::json!({ "username": user.username, "password": user.password }))
        .send()
        .await?;
    token_pair(response).await.with_context(|| format!("logging in {}", user.username))
}

/// POST /api/token/refresh/.
async fn refresh(client: &reqwest::Client, base_url: &str, token: &str) -> Result<TokenPair> {
    let response = client
        .post(format!("{base_url}/api/token/refresh/"))
        .json(&serde_json::json!({ "refresh": token }))
        .send()
        .await?;
    token_pair(response).await
}

async fn token_pair(response: reqwest::Response) -> Result<TokenPair> {
    let status = response.status();
    ensure!(status == reqwest::StatusCode::OK, "answered {status}");
    Ok(response.json().await?)
}

/// What a worker asks for, over and over.
#[derive(Clone, Debug)]
pub enum Kind {
    /// GET /healthz: the floor, no database and no crypto.
    Healthz,
    /// GET /api/profile/ with this access token.
    Profile(Arc<str>),
    /// POST /api/token/verify/ with this token.
    Verify(Arc<str>),
    /// POST /api/token/refresh/, each time with the refresh token the previous one returned.
    Refresh,
    /// POST /api/token/: one Argon2 verification and one new session each.
    Login,
    /// GET /: the server-side rendered home page.
    Home,
}

/// One closed-loop worker: its own connection, its own user and, when refreshing, its own
/// session.
pub struct Worker {
    client: reqwest::Client,
    base_url: Arc<str>,
    kind: Kind,
    user: Credentials,
    /// The head of this worker's refresh chain; `None` after a failed attempt to start one.
    refresh_token: Option<String>,
}

impl Worker {
    /// A worker as number `index`; a refreshing worker logs in first to own a session.
    pub async fn connect(base_url: Arc<str>, kind: Kind, index: usize) -> Result<Self> {
        let client = http_client();
        let user = Credentials::bench(index);
        let refresh_token = match kind {
            Kind::Refresh => Some(login(&client, &base_url, &user).await?.refresh),
            _ => None,
        };
        Ok(Worker { client, base_url, kind, user, refresh_token })
    }

    fn request(&self) -> reqwest::RequestBuilder {
        let url = |path: &str| format!("{}{path}", self.base_url);
        match &self.kind {
            Kind::Healthz => self.client.get(url("/healthz")),
            Kind::Home => self.client.get(url("/")),
            Kind::Profile(access) => self.client.get(url("/api/profile/")).bearer_auth(access),
            Kind::Verify(token) => {
                self.client.post(url("/api/token/verify/")).json(&serde_json::json!({ "token": &**token }))
            }
            Kind::Login => self.client.post(url("/api/token/")).json(&serde_json::json!({
                "username": self.user.username,
                "password": self.user.password,
            })),
            Kind::Refresh => unreachable!("refresh requests are chained, see next_refresh"),
        }
    }

    /// Presents the chain's head and keeps the token it gets back. Any failure breaks the
    /// chain (the old token is dead either way), so a new one starts at once, outside the
    /// measured successes, and the worker goes on measuring refreshes.
    async fn next_refresh(&mut self) -> Outcome {
        let Some(token) = self.refresh_token.take() else {
            self.restart_chain().await;
            return Outcome::Error;
        };
        match refresh(&self.client, &self.base_url, &token).await {
            Ok(pair) => {
                self.refresh_token = Some(pair.refresh);
                Outcome::Ok
            }
            Err(_) => {
                self.restart_chain().await;
                Outcome::BrokenChain
            }
        }
    }

    async fn restart_chain(&mut self) {
        self.refresh_token = login(&self.client, &self.base_url, &self.user).await.ok().map(|p| p.refresh);
    }
}

impl Request for Worker {
    async fn send(&mut self) -> Outcome {
        if matches!(self.kind, Kind::Refresh) {
            return self.next_refresh().await;
        }
        let Ok(response) = self.request().send().await else {
            return Outcome::Error;
        };
        let success = response.status().is_success();
        // Read the whole body, also of an error, so the connection can be used again.
        match response.bytes().await {
            Ok(_) if success => Outcome::Ok,
            _ => Outcome::Error,
        }
    }
}
