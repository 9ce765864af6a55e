//! Liveness, readiness and the terminal self-check.

use std::time::Duration;

use axum::extract::State;
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::Json;
use crate::pos::Caller;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

/// Readiness: the database answers (on SQLite, the writer runs too). A balancer should
/// send traffic only to ready instances.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Ready),
    (status = 503, description = "The database does not answer", body = ErrorBody),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(Ready { status: "ready", database: state.store.backend_name() })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            Err(ApiError::new(ErrorCode::Unavailable, "the database does not answer"))
        }
        Err(_) => Err(ApiError::new(ErrorCode::Unavailable, "the database did not answer within 2 s")),
    }
}

#[derive(Serialize, ToSchema)]
pub struct TerminalInfo {
    pub store: String,
    pub store_name: String,
    pub terminal: String,
    /// The store's IANA time zone: receipt times without an offset are not accepted,
    /// but rules with a time of day are evaluated in this zone.
    pub timezone: String,
    /// The money currency of the store's receipts.
    pub currency: String,
    /// Server time, to detect a drifting POS clock.
    #[schema(value_type = String, format = DateTime)]
    pub server_time: Timestamp,
}

/// Tells a terminal who the server thinks it is: the first call of an integration.
#[utoipa::path(get, path = "/v1/pos/terminal", tag = "pos", security(("terminal_key" = [])), responses(
    (status = 200, body = TerminalInfo),
    (status = 401, body = ErrorBody),
))]
pub async fn whoami(State(state): State<AppState>, axum::Extension(Caller(caller)): axum::Extension<Caller>) -> Json<TerminalInfo> {
    Json(TerminalInfo {
        store: caller.store.id.to_string(),
        store_name: caller.store_name,
        terminal: caller.terminal.to_string(),
        timezone: caller.store.timezone.as_str().to_owned(),
        currency: caller.store.currency.to_string(),
        server_time: state.store.now(),
    })
}
