//! Programs: the configuration in force and its history (versions shown and diffed,
//! rollback), applying a new version (merged or replacing, with a dry run), export as a
//! program file, and simulation of a proposed change over past receipts.
//!
//! A document comes as JSON or as a program file (`Content-Type: application/toml`),
//! whose problems are reported with their line and column.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use loyd_domain::config::{Mode, PlanStep};
use loyd_domain::simulate::SimReport;
use loyd_store::ConfigVersion;

use super::*;
use crate::extract::ProgramBody;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigOut {
    pub version: Option<i64>,
    #[schema(value_type = Object)]
    pub document: ConfigDocument,
}

/// The configuration in force, as one document.
#[utoipa::path(get, path = "/v1/admin/config", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ConfigOut), (status = "4XX", body = ErrorBody)))]
pub async fn get_config(State(state): State<AppState>) -> Result<Json<ConfigOut>, ApiError> {
    Ok(Json(ConfigOut { version: state.store.config_version().await?, document: state.store.config_snapshot().await? }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ApplyQuery {
    /// Only plan: change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The document is the whole configuration: remove what it does not name (refused
    /// for objects that still carry value).
    #[serde(default)]
    pub prune: bool,
}

/// Apply a configuration document: the JSON document, or a program file sent as
/// `application/toml`. Idempotent: a document equal to what is stored changes nothing.
#[utoipa::path(post, path = "/v1/admin/config", tag = "admin", security(("api_key" = []), ("session" = [])), params(ApplyQuery),
    request_body(content = Object, description = "A configuration document (JSON), or a program file (application/toml)"),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn apply_config(
    State(state): State<AppState>,
    actor: CurrentActor,
    Query(q): Query<ApplyQuery>,
    body: ProgramBody,
) -> Result<Json<Applied>, ApiError> {
    let mode = if q.prune { Mode::Replace } else { Mode::Merge };
    let source = format!("admin API ({})", actor.name());
    let applied = state.store.apply_config_as(body.doc.clone(), source, q.dry_run, mode).await.map_err(|e| body.locate(e))?;
    if let Some(version) = applied.version {
        let what = json!({ "version": version, "mode": mode, "steps": applied.steps });
        audit_after(&state, &actor, "config.apply", "config", &version.to_string(), what).await;
    }
    Ok(Json(applied))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct VersionsQuery {
    /// Only versions before this one (the next page).
    pub before: Option<i64>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionsOut {
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<ConfigVersion>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

/// The configuration's versions, newest first, with who applied each and how many
/// objects it changed.
#[utoipa::path(get, path = "/v1/admin/config/versions", tag = "admin", security(("api_key" = []), ("session" = [])), params(VersionsQuery),
    responses((status = 200, body = VersionsOut), (status = "4XX", body = ErrorBody)))]
pub async fn list_versions(State(state): State<AppState>, Query(q): Query<VersionsQuery>) -> Result<Json<VersionsOut>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let versions = state.store.config_history(q.before, limit).await?;
    let next_before = (versions.len() == limit as usize).then(|| versions.last().map(|v| v.version)).flatten();
    Ok(Json(VersionsOut { versions, next_before }))
}

/// The whole configuration as of one version.
#[utoipa::path(get, path = "/v1/admin/config/versions/{version}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("version" = i64, Path)), responses((status = 200, body = ConfigOut), (status = "4XX", body = ErrorBody)))]
pub async fn get_version(State(state): State<AppState>, Path(version): Path<i64>) -> Result<Json<ConfigOut>, ApiError> {
    Ok(Json(ConfigOut { version: Some(version), document: state.store.config_document(version).await? }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DiffQuery {
    /// The older version.
    pub from: i64,
    /// The newer version (default: the one in force).
    pub to: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiffOut {
    pub from: i64,
    pub to: i64,
    /// Every object created, updated (`before` and `after`) or removed.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<PlanStep>,
    /// The same steps as text, one per line (`~ update campaign x:` and the fields).
    pub text: String,
}

/// What changed between two versions of the configuration.
#[utoipa::path(get, path = "/v1/admin/config/diff", tag = "admin", security(("api_key" = []), ("session" = [])), params(DiffQuery),
    responses((status = 200, body = DiffOut), (status = "4XX", body = ErrorBody)))]
pub async fn diff(State(state): State<AppState>, Query(q): Query<DiffQuery>) -> Result<Json<DiffOut>, ApiError> {
    let to = match q.to {
        Some(v) => v,
        None => state.store.config_version().await?.ok_or_else(|| ApiError::not_found("no configuration has been applied yet"))?,
    };
    let (a, b) = (state.store.config_document(q.from).await?, state.store.config_document(to).await?);
    let steps = loyd_domain::config::diff(&a, &b);
    let text = steps.iter().map(|s| format!("{s}\n")).collect();
    Ok(Json(DiffOut { from: q.from, to, steps, text }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackIn {
    /// The version whose configuration becomes the one in force again.
    pub version: i64,
}

/// Make an earlier version's configuration the one in force again, as a new version:
/// what was added since is removed (refused for what still carries value). Repeating
/// it changes nothing.
#[utoipa::path(post, path = "/v1/admin/config/rollback", tag = "admin", security(("api_key" = []), ("session" = [])), params(ApplyQuery),
    request_body = RollbackIn, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn rollback(
    State(state): State<AppState>,
    actor: CurrentActor,
    Query(q): Query<ApplyQuery>,
    Json(body): Json<RollbackIn>,
) -> Result<Json<Applied>, ApiError> {
    let source = format!("rollback to version {} (admin API, {})", body.version, actor.name());
    let applied = state.store.rollback_config(body.version, source, q.dry_run).await?;
    if let Some(version) = applied.version {
        let what = json!({ "version": version, "rollback_to": body.version, "steps": applied.steps });
        audit_after(&state, &actor, "config.rollback", "config", &version.to_string(), what).await;
    }
    Ok(Json(applied))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// The version to export (default: the one in force).
    pub version: Option<i64>,
}

/// The configuration as a program file (`application/toml`) that `loyd apply` (or this
/// API) reproduces exactly.
#[utoipa::path(get, path = "/v1/admin/config/export", tag = "admin", security(("api_key" = []), ("session" = [])), params(ExportQuery),
    responses((status = 200, content_type = "application/toml", body = String), (status = "4XX", body = ErrorBody)))]
pub async fn export(State(state): State<AppState>, Query(q): Query<ExportQuery>) -> Result<Response, ApiError> {
    let doc = match q.version {
        Some(v) => state.store.config_document(v).await?,
        None => state.store.config_snapshot().await?,
    };
    let text = loyd_domain::program::file::write(&doc).map_err(|e| {
        tracing::error!(error = %e, "the configuration could not be written as a file");
        ApiError::new(ErrorCode::Internal, "internal error")
    })?;
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SimulateQuery {
    /// First day of the period (YYYY-MM-DD, inclusive).
    pub from: String,
    /// Last day of the period (YYYY-MM-DD, inclusive).
    pub to: String,
    /// Time zone of the days (default UTC).
    pub timezone: Option<String>,
    /// Only the receipts of this store.
    pub store: Option<String>,
}

/// What a proposed change (a document merged into the configuration in force, as for
/// an apply) would have given and cost over the receipts of a period, beside what the
/// program in force gave. Nothing is changed. Limits and budgets are not applied: the
/// figures are uncapped. Amounts are in minor units.
#[utoipa::path(post, path = "/v1/admin/config/simulate", tag = "admin", security(("api_key" = []), ("session" = [])), params(SimulateQuery),
    request_body(content = Object, description = "A configuration document (JSON), or a program file (application/toml)"),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn simulate(
    State(state): State<AppState>,
    actor: CurrentActor,
    Query(q): Query<SimulateQuery>,
    body: ProgramBody,
) -> Result<Json<SimReport>, ApiError> {
    let (from, to) = loyd_domain::simulate::period(&q.from, &q.to, q.timezone.as_deref().unwrap_or("UTC")).map_err(ApiError::validation)?;
    if let Some(s) = &q.store {
        actor.check_store(s)?;
    }
    let store = match (q.store, actor.stores()) {
        (Some(s), _) => Some(s),
        (None, Some(mine)) if mine.len() == 1 => Some(mine[0].clone()),
        (None, Some(_)) => return Err(ApiError::validation("name one of your stores in `store`")),
        (None, None) => None,
    };
    let report = state.store.simulate(body.doc.clone(), from, to, store).await.map_err(|e| body.locate(e))?;
    Ok(Json(report))
}
