//! Assembles the application from a `Config`: database, keys, auth service, and the router
//! of every part (REST, server functions, pages, health, metrics). Binding port 0 gives
//! tests a random port; `local_addr` says which.

use crate::config::Config;
use crate::state::AppState;
use crate::{db, headers, health, metrics, providers, rest, rpc, tasks};
use anyhow::Context;
use app::server::{
    AuthService, AuthSettings, KeySource, LimitSettings, MailSettings, MailTransport, TokenSettings,
};
use app::{App, shell};
use axum::Router;
use axum::middleware;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub struct Application {
    listener: TcpListener,
    router: Router,
    auth: AuthService,
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let auth = auth_service(config).await?;
        metrics::handle();
        let listener =
            TcpListener::bind(config.addr).await.with_context(|| format!("listening on {}", config.addr))?;
        let mut leptos_options =
            get_configuration(None).context("reading the Leptos configuration")?.leptos_options;
        leptos_options.site_addr = listener.local_addr()?;
        leptos_options.site_root = config.site_root.to_string_lossy().into();
        // The release build names the site's files by content hash (`hash-files`) and writes
        // the names to a file beside the binary. Whether they are hashed is that file's
        // presence, not the environment: whoever started the binary, and a test binary (no
        // such file; leptos would panic looking for it) alike.
        leptos_options.hash_files = std::env::current_exe()
            .is_ok_and(|exe| exe.with_file_name(leptos_options.hash_file.as_ref()).is_file());
        if leptos_options.output_name.is_empty() {
            // Outside cargo-leptos (plain `cargo test`); the name is only used for asset URLs.
            leptos_options.output_name = "leptos_auth".into();
        }
        let router = router(
            AppState { leptos_options, auth: auth.clone(), token_storage: config.token_storage },
            config,
        );
        Ok(Self { listener, router, auth })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn auth(&self) -> &AuthService {
        &self.auth
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting, finishes the requests in
    /// flight and closes the database pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let background = [
            tokio::spawn(tasks::prune_hourly(self.auth.clone())),
            tokio::spawn(tasks::checkpoint_every_second(self.auth.clone())),
            tokio::spawn(tasks::reload_keys_periodically(self.auth.clone())),
            tokio::spawn({
                let auth = self.auth.clone();
                async move { auth.deliver_mail().await }
            }),
            tokio::spawn({
                let auth = self.auth.clone();
                async move { auth.follow_revocations().await }
            }),
        ];
        tracing::info!(addr = %self.local_addr(), "listening");
        let served =
            axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown_signal())
                .await;
        for task in background {
            task.abort();
        }
        self.auth.close().await;
        tracing::info!("stopped");
        served
    }
}

/// Everything but the web server: settings checked, data folder, database (migrated),
/// signing key. The CLI's admin commands use this alone, beside a running server.
pub async fn auth_service(config: &Config) -> anyhow::Result<AuthService> {
    config.validate().map_err(anyhow::Error::msg)?;
    db::create_private_folder(&config.data_dir)?;
    let pools = db::connect(&config.database_url()).await?;
    let keys = match &config.jwt_secret {
        Some(secret) => KeySource::Secret(secret.expose().as_bytes().to_vec()),
        None => KeySource::Stored(config.jwt_algorithm),
    };
    let settings = AuthSettings {
        tokens: TokenSettings {
            access_lifetime: config.access_token_lifetime,
            refresh_lifetime: config.refresh_token_lifetime,
            leeway: config.jwt_leeway,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        },
        session_max_lifetime: config.session_max_lifetime,
        refresh_grace_period: config.refresh_grace_period,
        hash_concurrency: config.hash_concurrency(),
        limits: LimitSettings {
            login_per_minute: config.login_rate_per_minute,
            register_per_minute: config.register_rate_per_minute,
            refresh_per_minute: config.refresh_rate_per_minute,
            trusted_proxies: config.trusted_proxies.clone(),
            login_lock_base_secs: config.login_lock_base.as_secs().max(1),
            throttle_max_rows: config.login_throttle_max_rows,
            mail_per_minute: config.mail_rate_per_minute,
            passkey_per_minute: config.passkey_rate_per_minute,
            mail_per_address_per_hour: config.mail_per_address_per_hour,
        },
        mail: MailSettings {
            transport: match &config.smtp_url {
                Some(url) => MailTransport::Smtp(url.expose().to_owned()),
                None => {
                    let folder = config.data_dir.join("mail");
                    db::create_private_folder(&folder)?;
                    MailTransport::Files(folder)
                }
            },
            from: config.mail_from.clone(),
            public_url: config.public_url(),
        },
        passkey_origin: config.passkey_origin(),
        providers: config.oidc_providers().map_err(anyhow::Error::msg)?,
    };
    AuthService::start(pools, keys, settings)
        .await
        .map_err(|e| anyhow::anyhow!("starting the auth service: {e}"))
}

/// The largest request body accepted anywhere (REST bodies have a lower limit of their own,
/// answered in the API's error shape).
const MAX_BODY_BYTES: usize = 1024 * 1024;

fn router(state: AppState, config: &Config) -> Router {
    let routes = generate_route_list(App);
    let auth = state.auth.clone();
    // `cargo leptos watch` serves a live-reload websocket the page must be allowed to reach.
    let dev_reload = std::env::var_os("LEPTOS_WATCH").map(|_| {
        format!("ws://{}:{}", state.leptos_options.site_addr.ip(), state.leptos_options.reload_port)
    });
    let token_storage = config.token_storage;
    let leptos_context = move || {
        provide_context(auth.clone());
        provide_context(token_storage);
        headers::set_page_csp(dev_reload.as_deref());
    };
    let [nosniff, referrer, frames, opener] = headers::static_layers();
    let api = match rest::cors(&config.cors_allowed_origins) {
        Some(cors) => rest::router().layer(cors),
        None => rest::router(),
    };
    Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/readyz", axum::routing::get(health::readyz))
        .route("/metrics", axum::routing::get(metrics::serve))
        .merge(api)
        .merge(providers::router())
        .leptos_routes_with_context(&state, routes, leptos_context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(leptos_context, shell))
        .layer(middleware::from_fn(rpc::server_fn_responses))
        .layer(middleware::from_fn(headers::site_files))
        .layer(middleware::from_fn_with_state(state.clone(), rpc::cookie_mode))
        .layer(middleware::from_fn(metrics::track))
        .layer(axum::Extension(metrics::Scrapers::new(config)))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn(rest::oversized_in_error_shape))
        .layer(nosniff)
        .layer(referrer)
        .layer(frames)
        .layer(opener)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
