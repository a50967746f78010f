//! Prometheus metrics at `/metrics`: request counts and latencies by route and status
//! (recorded by the middleware here) and the auth counters that `app::server` records
//! through the `metrics` facade (logins, refreshes, reuse detections, rate limiting).

use crate::config::{Config, Secret};
use app::server::AuthService;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Latency buckets in seconds: from a cached profile read to an Argon2 login under load.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process-wide recorder (the `metrics` facade has exactly one).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("http_request_duration_seconds".into()), &LATENCY_BUCKETS)
            .expect("the latency buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will stay empty");
        }
        tokio::spawn(upkeep(handle.clone()));
        handle
    })
}

/// Histograms are kept in buckets that need draining now and then.
async fn upkeep(handle: PrometheusHandle) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// Counts and times every request by method, route pattern (never the raw path, so the
/// number of series stays bounded) and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let labels = [("method", method), ("route", route), ("status", res.status().as_str().to_owned())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    res
}

/// Who may scrape: by default only this machine (a Prometheus agent beside the server),
/// and, when a token is configured, only with that token.
#[derive(Clone)]
pub struct Scrapers(Arc<(Vec<IpAddr>, Option<Secret>)>);

impl Scrapers {
    pub fn new(config: &Config) -> Self {
        let allowed = config.metrics_allow_from.iter().map(IpAddr::to_canonical).collect();
        Self(Arc::new((allowed, config.metrics_token.clone())))
    }

    fn allows(&self, peer: IpAddr, headers: &HeaderMap) -> Result<(), StatusCode> {
        let (allowed, token) = &*self.0;
        if !allowed.contains(&peer.to_canonical()) {
            return Err(StatusCode::NOT_FOUND);
        }
        let Some(token) = token else { return Ok(()) };
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if constant_time_eq(sent.as_bytes(), token.expose().as_bytes()) {
            Ok(())
        } else {
            Err(StatusCode::UNAUTHORIZED)
        }
    }
}

/// Compares without an early exit, so the time taken says nothing about how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The metrics in Prometheus' text format; 404 to anyone not allowed to scrape, so the
/// endpoint isn't even visible from outside, and 401 without the token when one is set.
pub async fn serve(
    State(auth): State<AuthService>,
    axum::Extension(scrapers): axum::Extension<Scrapers>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(status) = scrapers.allows(peer.ip(), &headers) {
        let mut res = status.into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="metrics""#));
        }
        return res;
    }
    match auth.active_sessions().await {
        Ok(n) => metrics::gauge!("auth_active_sessions").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "could not count active sessions"),
    }
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], handle().render()).into_response()
}
