//! A real OpenID Connect provider for the tests: npm `oidc-provider` (end2end/oidc/
//! provider.mjs, installed by scripts/bootstrap.sh) on a free 127.0.0.1 port, and a browser's
//! way through its development login page, cookies and redirects by hand.

use crate::helpers::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const CLIENT_ID: &str = "leptos-auth-test";
pub const CLIENT_SECRET: &str = "a client secret for the tests only";
/// The origin the test servers are told they are at (unless a test says otherwise): only the
/// provider's redirect and the app's callback URL carry it, and the test's "browser" sends
/// the callback to the real server instead.
pub const PUBLIC_URL: &str = "http://app.test";

pub struct OidcProvider {
    pub issuer: String,
    /// Where the app it knows is (its callbacks' origin).
    pub public_url: String,
    port: u16,
    redirects: Vec<String>,
    tamper: Option<&'static str>,
    child: Child,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

impl OidcProvider {
    /// Starts a provider that knows one client, whose callbacks are those of providers
    /// `ids` of a server at `PUBLIC_URL`.
    pub fn start(ids: &[&str]) -> Self {
        Self::spawn(PUBLIC_URL, ids, None)
    }

    /// One whose client is an app at `public_url` instead.
    pub fn start_for(public_url: &str, ids: &[&str]) -> Self {
        Self::spawn(public_url, ids, None)
    }

    /// One whose token endpoint hands out ID tokens the app must refuse, otherwise as
    /// issued: `issuer` or `audience` (another one named), `expired`, or `key` (signed by a
    /// key that is not the provider's). See end2end/oidc/provider.mjs.
    pub fn tampering(ids: &[&str], tamper: &'static str) -> Self {
        Self::spawn(PUBLIC_URL, ids, Some(tamper))
    }

    fn spawn(public_url: &str, ids: &[&str], tamper: Option<&'static str>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let redirects: Vec<String> =
            ids.iter().map(|id| format!("{public_url}/auth/{id}/callback")).collect();
        let (issuer, child) = Self::run(port, &redirects, tamper);
        Self { issuer, public_url: public_url.to_owned(), port, redirects, tamper, child }
    }

    fn run(port: u16, redirects: &[String], tamper: Option<&str>) -> (String, Child) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/oidc/provider.mjs");
        let mut command = Command::new("node");
        command
            .arg(script)
            .arg(port.to_string())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URIS", redirects.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(tamper) = tamper {
            command.env("OIDC_TAMPER", tamper);
        }
        let mut child =
            command.spawn().expect("node runs (scripts/bootstrap.sh installs it and end2end's npm packages)");
        let (ready, wait) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        // Reads (and drains) its output for as long as it runs.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("OIDC_READY ") {
                    let _ = ready.send(issuer.to_owned());
                }
            }
        });
        let issuer = wait
            .recv_timeout(Duration::from_secs(30))
            .expect("the OpenID provider started (is end2end/node_modules installed?)");
        (issuer, child)
    }

    /// Stops it and starts it again at the same address: it forgets its sessions and signs
    /// with a new key from now on, as a provider that rotates its keys.
    pub fn restart(&mut self) {
        self.stop();
        let (issuer, child) = Self::run(self.port, &self.redirects, self.tamper);
        assert_eq!(issuer, self.issuer);
        self.child = child;
    }

    /// The provider as server setting `OIDC_<ID>_*` for provider `id`.
    pub fn settings(&self, id: &str) -> BTreeMap<String, String> {
        let key = |name: &str| format!("OIDC_{}_{name}", id.to_ascii_uppercase());
        BTreeMap::from([
            (key("ISSUER"), self.issuer.clone()),
            (key("CLIENT_ID"), CLIENT_ID.to_owned()),
            (key("CLIENT_SECRET"), CLIENT_SECRET.to_owned()),
            (key("NAME"), "Test ID".to_owned()),
        ])
    }

    /// Stops it (as a provider that goes down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser's cookies for the provider, by name (one provider, one path: enough here).
pub struct Browser {
    cookies: BTreeMap<String, String>,
    http: reqwest::Client,
}

impl Browser {
    pub fn open() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { cookies: BTreeMap::new(), http }
    }

    /// One request, cookies sent and kept; the status and the `Location` it redirects to.
    pub async fn visit(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut request = self.http.request(method.clone(), url).header("cookie", cookie);
        if method == reqwest::Method::POST {
            request = request.form(form);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (response.status(), location.unwrap_or_default())
    }

    pub async fn get(&mut self, url: &str) -> (StatusCode, String) {
        self.visit(reqwest::Method::GET, url, &[]).await
    }

    /// From the app's `start` to the provider's redirect back (not followed): logs in at the
    /// provider's development login page as `login` on the way. The callback URL, pointed
    /// at `app`.
    pub async fn through_provider(
        &mut self,
        app: &TestApp,
        op: &OidcProvider,
        start: &str,
        login: &str,
    ) -> String {
        let authorize = self.begin(app, op, start).await;
        self.through_authorization(app, op, &authorize, login).await
    }

    /// The app's `start`: the provider's authorization URL it redirects to.
    pub async fn begin(&mut self, app: &TestApp, op: &OidcProvider, start: &str) -> String {
        let (status, authorize) = self.get(&format!("{}{start}", app.base)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "start redirects to the provider");
        assert!(authorize.starts_with(&op.issuer), "{authorize}");
        authorize
    }

    /// From the provider's authorization URL to its redirect back, logging in as `login`.
    pub async fn through_authorization(
        &mut self,
        app: &TestApp,
        op: &OidcProvider,
        authorize: &str,
        login: &str,
    ) -> String {
        let (_, interaction) = self.get(authorize).await;
        let interaction = absolute(&op.issuer, &interaction);
        let form = [("prompt", "login"), ("login", login), ("password", "anything")];
        let (_, resume) = self.visit(reqwest::Method::POST, &interaction, &form).await;
        let (status, callback) = self.get(&absolute(&op.issuer, &resume)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let path =
            callback.strip_prefix(&op.public_url).unwrap_or_else(|| panic!("back to the app: {callback}"));
        format!("{}{path}", app.base)
    }
}

fn absolute(issuer: &str, location: &str) -> String {
    if location.starts_with("http") { location.to_owned() } else { format!("{issuer}{location}") }
}
