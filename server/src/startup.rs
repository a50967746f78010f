//! Builds the application from a `Config`: database, key, auth service, router. Binding
//! port 0 gives tests a random port; `local_addr` says which.

use crate::config::Config;
use crate::{db, headers, metrics, rest};
use anyhow::Context;
use app::api::{ApiError, ErrorCode};
use app::server::{AuthService, AuthSettings, KeySource, LimitSettings, TokenSettings};
use app::{App, shell};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

/// One state for axum; Leptos gets the `AuthService` from it as context.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub auth: AuthService,
    pub token_storage: app::api::TokenStorage,
}

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
            tokio::spawn(prune_hourly(self.auth.clone())),
            tokio::spawn(reload_keys_periodically(self.auth.clone())),
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
    create_data_dir(&config.data_dir)?;
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
        },
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
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(metrics::serve))
        .merge(api)
        .leptos_routes_with_context(&state, routes, leptos_context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(leptos_context, shell))
        .layer(middleware::from_fn(server_fn_responses))
        .layer(middleware::from_fn_with_state(state.clone(), cookie_mode))
        .layer(middleware::from_fn(metrics::track))
        .layer(axum::Extension(metrics::Scrapers(std::sync::Arc::new(config.metrics_allow_from.clone()))))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(nosniff)
        .layer(referrer)
        .layer(frames)
        .layer(opener)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and is fully migrated. 503 (never a 500) otherwise.
async fn readyz(axum::extract::State(auth): axum::extract::State<AuthService>) -> Response {
    use axum::response::IntoResponse;
    match db::is_ready(auth.db()).await {
        Ok(()) => "ready".into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
        }
    }
}

/// Server functions answer every error with 500; give them the status their `ApiError`
/// carries (the same mapping the REST endpoints use), and keep their tokens out of caches.
async fn server_fn_responses(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/rpc/") {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let (mut parts, body) = res.into_parts();
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let is_error = parts.headers.contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER);
    if !is_error {
        return Response::from_parts(parts, body);
    }
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let error: ApiError = serde_json::from_slice(&bytes).unwrap_or_else(|_| ApiError::internal());
    parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(secs) = error.retry_after {
        parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// In cookie mode: server function calls must come from the app's own pages (the refresh
/// cookie would otherwise ride along on a forged cross-site request), and a page request
/// with a live refresh cookie is rendered for its user (see `browser_tokens::SsrUser`).
async fn cookie_mode(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    use app::server::browser_tokens::{SsrUser, cookie_value, is_same_origin_call};
    use axum::response::IntoResponse;
    if state.token_storage != app::api::TokenStorage::Cookie {
        return next.run(req).await;
    }
    let path = req.uri().path();
    if path.starts_with("/rpc/") {
        if !is_same_origin_call(req.headers()) {
            tracing::warn!(
                security_event = "csrf_refused",
                path,
                "server function call without the CSRF header or from another origin"
            );
            return ApiError::new(ErrorCode::PermissionDenied, "Cross-site request refused.").into_response();
        }
        return next.run(req).await;
    }
    if req.method() != axum::http::Method::GET || path.starts_with("/api/") || path.starts_with("/pkg/") {
        return next.run(req).await;
    }
    if let Some(token) = cookie_value(req.headers())
        && let Ok(user) = state.auth.session_user(&token).await
    {
        req.extensions_mut().insert(SsrUser(user));
    }
    // A page may now be rendered for one user: no shared cache may keep it.
    let mut res = next.run(req).await;
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("Cookie"));
    res
}

/// Picks up keys rotated by the CLI or another instance.
async fn reload_keys_periodically(auth: AuthService) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(e) = auth.reload_keys().await {
            tracing::warn!(error = %e, "reloading signing keys failed; keeping the current ones");
        }
    }
}

/// Keeps the session tables from growing without bound.
async fn prune_hourly(auth: AuthService) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match auth.prune().await {
            Ok((tokens, sessions)) if tokens + sessions > 0 => {
                tracing::info!(tokens, sessions, "pruned expired and revoked sessions");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed; will retry in an hour"),
        }
    }
}

fn create_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the data folder {}", dir.display()))?;
    }
    Ok(())
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
