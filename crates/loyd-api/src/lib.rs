//! # loyd-api
//!
//! Loyd's HTTP surface (axum): the POS API, the admin, CRM and auth routes, health,
//! metrics and the OpenAPI document. Where each capability lives across the crates, and
//! the path of a receipt from a route to the database: `docs/architecture.md`.
//!
//! ## Layout
//! - [`router`] (this file) assembles routes and the middleware every request passes
//!   through: panic catching, tracing (URIs redacted), metrics, JSON errors, the URI
//!   guard, a timeout, a body limit; [`serve`] runs it.
//! - [`http`]: the layer below the routes: URI checks, JSON bodies for every error
//!   (hyper's own included), log redaction.
//! - [`error`]: the one error type, its stable codes and the one table of their HTTP
//!   statuses.
//! - [`extract`]: JSON/path/query extractors with our error shape (NUL refused, the
//!   field at fault named, refused values never echoed).
//! - [`pos`]: the POS API (`/v1/pos/…`) behind terminal keys, the terminal self-check
//!   included; every refusal goes to the failure log.
//! - [`attempts`]: the POS API's guessing limits (PINs, phones and codes, card numbers),
//!   one place for every route.
//! - [`auth`]: staff login and sessions (`/v1/auth/…`), the bearer token (session or
//!   API key) of every admin request, and the per-route permission table.
//! - [`admin`]: the admin API (`/v1/admin/…`), its one route table in `admin/mod.rs`
//!   and one module per capability: [`admin::customers`], [`admin::crm_entries`],
//!   [`admin::organisations`], [`admin::cards`], [`admin::balances`], [`admin::credit`],
//!   [`admin::coupons`], [`admin::failures`], [`admin::gifts`], [`admin::programs`],
//!   [`admin::ledger`], [`admin::audit`], [`admin::staff`].
//! - [`console`]: the admin console (`/admin`): server-rendered pages in four languages,
//!   cookie sessions with CSRF tokens, embedded files.
//! - [`portal`]: the customer portal (`/portal`): sign-in by a code sent to the phone,
//!   joining, the card with a code for the till, points, purchases, coupons,
//!   notifications, profile and consents — each page the session's customer's only.
//! - [`deliver`]: sending the outbox: events to the webhooks that want them, signed,
//!   retried.
//! - [`health`]: liveness and readiness.
//! - [`metrics`]: Prometheus metrics: requests and latency by route, the database pool.
//! - [`openapi`]: the OpenAPI document and the page that renders it.
//! - [`unsubscribe`]: the unsubscribe links of messages, without a login.
//! - [`telegram`]: the Telegram bot's webhook: customers connect their chat and let it go.
//! - [`track`]: a mailing's tracking links: its opening image, its links' clicks.
//!
//! Handlers are thin: they parse, call the store or the domain, and render.

use std::future::Future;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use loyd_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub mod admin;
pub mod attempts;
pub mod auth;
pub mod console;
pub mod deliver;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod openapi;
pub mod track;
pub mod telegram;
pub mod unsubscribe;
pub mod pos;
pub mod portal;
pub mod reports;

use error::{ApiError, ErrorCode};

/// Limits and timeouts of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// A request still running after this is answered `503 timeout` (its effects, if
    /// any, stand; the client retries with the same id).
    pub request_timeout: Duration,
    /// Largest request body accepted.
    pub body_limit_bytes: usize,
    /// Where customers and services reach this server (`https://loyalty.shop.example`):
    /// the Telegram bot's webhook is registered there.
    pub public_url: String,
    /// Whether a client's network address is the last one `X-Forwarded-For` names (set
    /// behind a reverse proxy the operator runs; the portal's rate limits count by it).
    pub trust_forwarded_for: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { request_timeout: Duration::from_secs(10), body_limit_bytes: 1024 * 1024, public_url: "http://127.0.0.1:8080".into(), trust_forwarded_for: false }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: PrometheusHandle,
    pub config: ApiConfig,
    /// Guessing counts per terminal, read from the failure log at most once a second.
    pub attempts: std::sync::Arc<attempts::Attempts>,
    /// The console dashboard's sales figures, read at most once a minute per set of stores.
    pub dashboard: std::sync::Arc<console::dashboard::Cache>,
    /// Where reports read: the database itself, or a read-only replica of it
    /// (`LOYD_REPORTS_DATABASE_URL`).
    pub reports: Store,
}

impl AppState {
    pub fn new(store: Store, config: ApiConfig) -> Self {
        AppState { reports: store.clone(), store, metrics: metrics::handle(), config, attempts: Default::default(), dashboard: Default::default() }
    }

    /// Reports read from `reports` (a replica) instead of the database itself.
    pub fn with_reports(mut self, reports: Store) -> Self {
        self.reports = reports;
        self
    }
}

/// The whole application as one router.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit_bytes;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::document))
        .route("/docs", get(openapi::page))
        .route(openapi::SCALAR_JS, get(openapi::scalar_js))
        .merge(pos::router(state.clone()))
        .merge(auth::router())
        .merge(admin::router(state.clone()))
        .merge(console::router())
        .merge(portal::router())
        .merge(unsubscribe::router())
        .merge(telegram::router())
        .merge(track::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(Extension(extract::BodyLimit(body_limit)))
        .layer(middleware::from_fn_with_state(timeout, time_limit))
        .layer(middleware::from_fn(http::uri_guard))
        .layer(middleware::from_fn(http::json_errors))
        .layer(middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // Never the raw URI: its query may carry a PIN or a phone.
            tracing::debug_span!("request", method = %req.method(), uri = %http::redacted_uri(req.uri()), version = ?req.version())
        }))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            ApiError::new(ErrorCode::Internal, "internal error").into_response()
        }))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not accept this method; see /openapi.json")
}

async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            ErrorCode::Timeout,
            format!("the request did not finish within {} s; retry with the same id", limit.as_secs_f32()),
        )
        .into_response(),
    }
}

/// Serves until `shutdown` resolves, then stops accepting, lets requests in flight
/// finish, and returns.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<http::Peer>();
    axum::serve(http::Listener(listener), app).with_graceful_shutdown(shutdown).await
}
