//! Typed configuration from flags and environment variables, with safe defaults. There is
//! no default secret: without `JWT_SECRET` a key is generated on first start (see `keys`).

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// Folder for the SQLite database and the generated signing key (created if missing).
    #[arg(long, env = "APP_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database to use [default: sqlite://<data dir>/app.db].
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Address to listen on (cargo-leptos sets this from Cargo.toml).
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Access token lifetime: seconds, or a duration such as 5m.
    #[arg(long, env = "ACCESS_TOKEN_LIFETIME", default_value = "5m", value_parser = parse_duration)]
    pub access_token_lifetime: Duration,

    /// Refresh token lifetime (also the session's idle timeout).
    #[arg(long, env = "REFRESH_TOKEN_LIFETIME", default_value = "1d", value_parser = parse_duration)]
    pub refresh_token_lifetime: Duration,

    /// Absolute session lifetime: no refresh outlives it.
    #[arg(long, env = "SESSION_MAX_LIFETIME", default_value = "7d", value_parser = parse_duration)]
    pub session_max_lifetime: Duration,

    /// After a rotation, how long the old refresh token still gets the same new one back
    /// (racing tabs, lost responses). 0 turns it off: any second use revokes the session.
    #[arg(long, env = "REFRESH_GRACE_PERIOD", default_value = "10s", value_parser = parse_duration)]
    pub refresh_grace_period: Duration,

    /// `iss` of every token issued, required of every token accepted.
    #[arg(long, env = "JWT_ISSUER", default_value = "leptos-auth")]
    pub jwt_issuer: String,

    /// `aud` of every token issued, required of every token accepted.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "leptos-auth")]
    pub jwt_audience: String,

    /// Clock skew tolerated when checking token expiry.
    #[arg(long, env = "JWT_LEEWAY", default_value = "0s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,

    /// Token signing algorithm: EdDSA (Ed25519, public keys at /.well-known/jwks.json) or
    /// HS256 (a shared secret).
    #[arg(long, env = "JWT_ALGORITHM", default_value = "EdDSA")]
    pub jwt_algorithm: app::server::KeyAlgorithm,

    /// A fixed HS256 signing key, at least 32 bytes (only with JWT_ALGORITHM=HS256). Set it
    /// by environment, not on the command line. Unset: keys are generated and kept in the
    /// database.
    #[arg(long, env = "JWT_SECRET", hide = true, hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Where the browser app keeps its tokens: `localstorage` (both tokens, readable by the
    /// page's scripts) or `cookie` (the refresh token in an HttpOnly `__Host-` cookie, the
    /// access token in memory only). The REST API is the same in both.
    #[arg(long, env = "TOKEN_STORAGE", default_value = "localstorage")]
    pub token_storage: app::api::TokenStorage,

    /// Logins per minute per client IP (0: no limit).
    #[arg(long, env = "LOGIN_RATE_PER_MINUTE", default_value_t = 10)]
    pub login_rate_per_minute: u32,

    /// Registrations per minute per client IP (0: no limit).
    #[arg(long, env = "REGISTER_RATE_PER_MINUTE", default_value_t = 5)]
    pub register_rate_per_minute: u32,

    /// Requests that send mail (reset, resend, change of address) per minute per client IP
    /// (0: no limit).
    #[arg(long, env = "MAIL_RATE_PER_MINUTE", default_value_t = 5)]
    pub mail_rate_per_minute: u32,

    /// Mails of links one address can be sent per hour, whoever asks (0: no limit).
    #[arg(long, env = "MAIL_PER_ADDRESS_PER_HOUR", default_value_t = 5)]
    pub mail_per_address_per_hour: u32,

    /// The SMTP server mail goes through: smtp://host:port (plain, for a local relay),
    /// smtp://user:pass@host:587?tls=required (STARTTLS) or smtps://user:pass@host (TLS).
    /// Unset: each mail is written as an .eml file under <data dir>/mail/ and its link logged.
    /// Set it by environment, not on the command line.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,

    /// The sender of every mail.
    #[arg(long, env = "MAIL_FROM", default_value = "Leptos Auth <no-reply@localhost>")]
    pub mail_from: String,

    /// The origin people visit (https://auth.example.com): mailed links point at it, and
    /// passkeys belong to its domain name [default: http://<listen address>, with
    /// `localhost` for a loopback or unspecified address].
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Passkeys: `auto` (on where PUBLIC_URL allows them: a domain name over https, or
    /// localhost; otherwise off, with a warning), `on` (refuse to start where they cannot
    /// work) or `off`.
    #[arg(long, env = "PASSKEYS", default_value = "auto")]
    pub passkeys: Passkeys,

    /// Passkey sign-in requests per minute per client IP (0: no limit).
    #[arg(long, env = "PASSKEY_RATE_PER_MINUTE", default_value_t = 30)]
    pub passkey_rate_per_minute: u32,

    /// OpenID Connect providers people can sign in with ("Continue with ..."):
    /// comma-separated ids (lowercase letters and digits), each set up by OIDC_<ID>_ISSUER,
    /// OIDC_<ID>_CLIENT_ID, OIDC_<ID>_CLIENT_SECRET and OIDC_<ID>_NAME (ID in capitals).
    /// Each provider's redirect URI is <PUBLIC_URL>/auth/<id>/callback.
    #[arg(long, env = "OIDC_PROVIDERS", value_delimiter = ',')]
    pub oidc_providers: Vec<String>,

    /// The OIDC_<ID>_* settings given here rather than by the environment (by programs that
    /// run several servers in one process, as the tests do).
    #[arg(skip)]
    pub oidc_settings: std::collections::BTreeMap<String, String>,

    /// Token refreshes per minute per client IP (0: no limit).
    #[arg(long, env = "REFRESH_RATE_PER_MINUTE", default_value_t = 60)]
    pub refresh_rate_per_minute: u32,

    /// Seconds of the first lock after five failed logins in a row; each further failure
    /// doubles it, up to 15 minutes.
    #[arg(long, env = "LOGIN_LOCK_BASE", default_value = "1s", value_parser = parse_duration)]
    pub login_lock_base: Duration,

    /// Usernames whose failed-login counts are kept at most (failures of names that don't
    /// exist are counted too, so the table must be bounded); the oldest unlocked go first.
    #[arg(long, env = "LOGIN_THROTTLE_MAX_ROWS", default_value_t = 100_000)]
    pub login_throttle_max_rows: u64,

    /// Comma-separated origins (https://app.example.com) allowed to call the API from a
    /// browser. Empty: same-origin only.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// Comma-separated proxy addresses whose X-Forwarded-For is believed.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Comma-separated addresses allowed to read /metrics (others get 404).
    #[arg(long, env = "METRICS_ALLOW_FROM", value_delimiter = ',', default_value = "127.0.0.1,::1")]
    pub metrics_allow_from: Vec<std::net::IpAddr>,

    /// When set, /metrics also requires `Authorization: Bearer <token>`: behind a reverse
    /// proxy on the same host every request comes from an allowed address. Set it by
    /// environment, not on the command line.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,

    /// Where the built site is (the WASM, JS and CSS under `pkg/`); cargo-leptos sets it.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Password hashes computed at once [default: number of CPUs].
    #[arg(long, env = "HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
}

impl Config {
    /// Parses flags (and the environment), as the binary does. For tests and tools.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        Only::try_parse_from(args).map(|o| o.config)
    }

    /// Checks the settings that only make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.access_token_lifetime.as_secs() < 1 {
            return Err("ACCESS_TOKEN_LIFETIME must be at least 1 second".into());
        }
        if self.refresh_token_lifetime <= self.access_token_lifetime {
            return Err("REFRESH_TOKEN_LIFETIME must be longer than ACCESS_TOKEN_LIFETIME".into());
        }
        if self.session_max_lifetime.as_secs() < 1 {
            return Err("SESSION_MAX_LIFETIME must be at least 1 second".into());
        }
        if self.refresh_grace_period > Duration::from_secs(60) {
            return Err("REFRESH_GRACE_PERIOD above 60 seconds would let a stolen token be replayed".into());
        }
        if self.jwt_leeway > Duration::from_secs(300) {
            return Err("JWT_LEEWAY above 5 minutes would make expiry meaningless".into());
        }
        for origin in &self.cors_allowed_origins {
            let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.ends_with('/')
                && axum::http::HeaderValue::from_str(origin).is_ok();
            if !valid {
                return Err(format!(
                    "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin like https://app.example.com \
                     (no wildcard, no path)"
                ));
            }
        }
        if self.jwt_secret.is_some() && self.jwt_algorithm != app::server::KeyAlgorithm::HS256 {
            return Err("JWT_SECRET is an HS256 key: set JWT_ALGORITHM=HS256 to use it".into());
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err("METRICS_TOKEN must be at least 16 characters".into());
        }
        if let Some(url) = &self.public_url {
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            let host = rest.map(|r| r.trim_end_matches('/'));
            if host.is_none_or(|h| h.is_empty() || h.contains(['/', '?', '#', ' '])) {
                return Err(format!("PUBLIC_URL: {url:?} is not an origin like https://auth.example.com"));
            }
        }
        if self.passkeys == Passkeys::On {
            let origin = self.public_url();
            app::server::passkeys::relying_party(&origin, "check")
                .map_err(|e| format!("PASSKEYS=on, but PUBLIC_URL cannot carry passkeys: {e}"))?;
        }
        self.oidc_providers()?;
        if self.hash_concurrency == Some(0) {
            return Err("HASH_CONCURRENCY must be at least 1".into());
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => {
                let path = std::path::absolute(self.data_dir.join("app.db"))
                    .unwrap_or_else(|_| self.data_dir.join("app.db"));
                format!("sqlite://{}?mode=rwc", path.display())
            }
        }
    }

    /// Where mailed links point, without a trailing slash. Unset, a server on this machine
    /// only is `localhost`: the name browsers treat as secure and allow passkeys for.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if self.addr.ip().is_loopback() || self.addr.ip().is_unspecified() => {
                format!("http://localhost:{}", self.addr.port())
            }
            None => format!("http://{}", self.addr),
        }
    }

    /// The origin passkeys work on, or None when they are off (by choice, or under `auto`
    /// because PUBLIC_URL cannot carry them: that is logged).
    pub fn passkey_origin(&self) -> Option<String> {
        let origin = self.public_url();
        match self.passkeys {
            Passkeys::Off => None,
            Passkeys::On => Some(origin),
            Passkeys::Auto => match app::server::passkeys::relying_party(&origin, "check") {
                Ok(_) => Some(origin),
                Err(why) => {
                    tracing::warn!(
                        "passkeys are off: {why} (set PUBLIC_URL, or PASSKEYS=off to silence this)"
                    );
                    None
                }
            },
        }
    }

    /// Each provider of OIDC_PROVIDERS with its OIDC_<ID>_* settings, checked.
    pub fn oidc_providers(&self) -> Result<Vec<app::server::oidc::ProviderSettings>, String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut providers = Vec::new();
        for id in self.oidc_providers.iter().map(|id| id.trim()).filter(|id| !id.is_empty()) {
            if !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
                return Err(format!("OIDC_PROVIDERS: {id:?} is not an id of lowercase letters and digits"));
            }
            if !seen.insert(id) {
                return Err(format!("OIDC_PROVIDERS names {id} twice"));
            }
            let setting = |name: &str| {
                let key = format!("OIDC_{}_{name}", id.to_ascii_uppercase());
                self.oidc_settings
                    .get(&key)
                    .cloned()
                    .or_else(|| std::env::var(&key).ok())
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("OIDC_PROVIDERS names {id}, but {key} is not set"))
            };
            let issuer = setting("ISSUER")?;
            let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|l| {
                issuer.strip_prefix(l).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            });
            if !issuer.starts_with("https://") && !local {
                return Err(format!(
                    "OIDC_{}_ISSUER: {issuer:?} must be an https URL (plain http only on this machine)",
                    id.to_ascii_uppercase()
                ));
            }
            providers.push(app::server::oidc::ProviderSettings {
                id: id.to_owned(),
                name: setting("NAME")?,
                issuer,
                client_id: setting("CLIENT_ID")?,
                client_secret: setting("CLIENT_SECRET")?,
            });
        }
        Ok(providers)
    }

    pub fn hash_concurrency(&self) -> usize {
        self.hash_concurrency.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
    }
}

/// The `PASSKEYS` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Passkeys {
    Auto,
    On,
    Off,
}

/// A secret string: never printed, never logged.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Whole seconds (`300`) or a humantime duration (`5m`, `1d`, `500ms` is refused: tokens
/// count whole seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = match s.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s.trim())
            .map_err(|e| format!("`{s}` is not a duration like 300, 90s, 5m or 1d: {e}"))?,
    };
    if d.subsec_nanos() != 0 {
        return Err(format!("`{s}`: use whole seconds"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("1500ms").is_err());
    }

    #[test]
    fn defaults_are_the_contracts() {
        let c = Config::from_args(["server"]).unwrap();
        assert_eq!(c.access_token_lifetime, Duration::from_secs(300));
        assert_eq!(c.refresh_token_lifetime, Duration::from_secs(86_400));
        assert_eq!(c.jwt_leeway, Duration::ZERO);
        assert_eq!(
            c.metrics_allow_from,
            ["127.0.0.1".parse::<std::net::IpAddr>().unwrap(), "::1".parse().unwrap()]
        );
        assert!(c.validate().is_ok());
    }

    #[test]
    fn nonsense_combinations_are_refused() {
        let c = Config::from_args(["server", "--access-token-lifetime", "2d"]).unwrap();
        assert!(c.validate().unwrap_err().contains("REFRESH_TOKEN_LIFETIME"));
    }

    #[test]
    fn cors_origins_must_be_origins() {
        for bad in ["*", "app.example.com", "https://app.example.com/"] {
            let c = Config::from_args(["server", "--cors-allowed-origins", bad]).unwrap();
            assert!(c.validate().unwrap_err().contains("CORS_ALLOWED_ORIGINS"), "{bad}");
        }
        let c = Config::from_args([
            "server",
            "--cors-allowed-origins",
            "https://a.example,http://localhost:5173",
        ])
        .unwrap();
        assert!(c.validate().is_ok());
    }

    #[test]
    fn public_url_must_be_an_origin() {
        for bad in ["auth.example.com", "https://", "https://a.example/path", "ftp://a.example"] {
            let c = Config::from_args(["server", "--public-url", bad]).unwrap();
            assert!(c.validate().unwrap_err().contains("PUBLIC_URL"), "{bad}");
        }
        let c = Config::from_args(["server", "--public-url", "https://auth.example.com/"]).unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.public_url(), "https://auth.example.com");
        assert_eq!(Config::from_args(["server"]).unwrap().public_url(), "http://localhost:3000");
        let lan = Config::from_args(["server", "--addr", "192.0.2.7:80"]).unwrap();
        assert_eq!(lan.public_url(), "http://192.0.2.7:80");
    }

    #[test]
    fn oidc_providers_need_all_their_settings_and_a_safe_issuer() {
        let with = |settings: &[(&str, &str)]| {
            let mut c = Config::from_args(["server", "--oidc-providers", "corp"]).unwrap();
            c.oidc_settings = settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            c
        };
        let full = [
            ("OIDC_CORP_ISSUER", "https://id.example.com"),
            ("OIDC_CORP_CLIENT_ID", "app"),
            ("OIDC_CORP_CLIENT_SECRET", "s3cret"),
            ("OIDC_CORP_NAME", "Corp ID"),
        ];
        let providers = with(&full).oidc_providers().unwrap();
        assert_eq!(providers.len(), 1);
        assert_eq!((providers[0].id.as_str(), providers[0].name.as_str()), ("corp", "Corp ID"));
        let missing = with(&full[..3]).validate().unwrap_err();
        assert!(missing.contains("OIDC_CORP_NAME is not set"), "{missing}");
        for issuer in ["http://id.example.com", "ftp://x", "http://127.0.0.1.evil.com"] {
            let mut settings = full;
            settings[0].1 = issuer;
            let err = with(&settings).validate().unwrap_err();
            assert!(err.contains("OIDC_CORP_ISSUER"), "{issuer}: {err}");
        }
        let mut local = full;
        local[0].1 = "http://127.0.0.1:8080";
        assert!(with(&local).validate().is_ok());
        let bad_id = Config::from_args(["server", "--oidc-providers", "Corp"]).unwrap();
        assert!(bad_id.validate().unwrap_err().contains("lowercase"));
    }

    #[test]
    fn passkeys_on_where_they_cannot_work_refuse_to_start() {
        let local = Config::from_args(["server", "--passkeys", "on"]).unwrap();
        assert!(local.validate().is_ok());
        assert_eq!(local.passkey_origin().as_deref(), Some("http://localhost:3000"));
        for bad in ["http://auth.example.com", "https://192.0.2.7"] {
            let c = Config::from_args(["server", "--passkeys", "on", "--public-url", bad]).unwrap();
            let err = c.validate().unwrap_err();
            assert!(err.contains("PASSKEYS=on") && err.contains("PUBLIC_URL"), "{bad}: {err}");
            // The default, `auto`, starts without them instead.
            let c = Config::from_args(["server", "--public-url", bad]).unwrap();
            assert!(c.validate().is_ok());
            assert_eq!(c.passkey_origin(), None);
        }
        let off = Config::from_args(["server", "--passkeys", "off"]).unwrap();
        assert_eq!(off.passkey_origin(), None);
    }

    #[test]
    fn secrets_never_print() {
        let s: Secret = "hunter2".parse().unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
