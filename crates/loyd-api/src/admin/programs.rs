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
use crate::auth::Actor;
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
    Ok(Json(applied(&state, &actor, &body, mode, q.dry_run).await?))
}

/// Applies a document (or plans it, on a dry run), audited; a file's problems located.
async fn applied(state: &AppState, actor: &Actor, body: &ProgramBody, mode: Mode, dry_run: bool) -> Result<Applied, ApiError> {
    let source = format!("admin API ({})", actor.name());
    let applied = state.store.apply_config_as(body.doc.clone(), source, dry_run, mode).await.map_err(|e| body.locate(e))?;
    if let Some(version) = applied.version {
        let what = json!({ "version": version, "mode": mode, "steps": applied.steps });
        audit_after(state, actor, "config.apply", "config", &version.to_string(), what).await;
    }
    Ok(applied)
}

/// Imports a program file's text as `POST /v1/admin/config` takes it; the console's
/// import goes through here.
pub(crate) async fn imported(state: &AppState, actor: &Actor, text: &str, mode: Mode, dry_run: bool) -> Result<Applied, ApiError> {
    applied(state, actor, &ProgramBody::of_text(text.to_owned())?, mode, dry_run).await
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
    let text = exported(&state, q.version).await?;
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

/// A version of the configuration (default: the one in force) as a program file.
pub(crate) async fn exported(state: &AppState, version: Option<i64>) -> Result<String, ApiError> {
    let doc = match version {
        Some(v) => state.store.config_document(v).await?,
        None => state.store.config_snapshot().await?,
    };
    loyd_domain::program::file::write(&doc).map_err(|e| {
        tracing::error!(error = %e, "the configuration could not be written as a file");
        ApiError::new(ErrorCode::Internal, "internal error")
    })
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
    simulated(&state, &actor, body.doc.clone(), &q).await?.map(Json).map_err(|e| body.locate(e))
}

/// A simulation of `change` over the period and store of `q` (a store manager's own
/// stores only); the console's "simulate" runs through here. The outer error is the
/// request's, the inner one the change's (its problems, to be located by the caller).
pub(crate) async fn simulated(
    state: &AppState,
    actor: &Actor,
    change: ConfigDocument,
    q: &SimulateQuery,
) -> Result<Result<SimReport, loyd_store::StoreError>, ApiError> {
    let (from, to) = loyd_domain::simulate::period(&q.from, &q.to, q.timezone.as_deref().unwrap_or("UTC")).map_err(ApiError::validation)?;
    if let Some(s) = &q.store {
        actor.check_store(s)?;
    }
    let store = match (q.store.clone(), actor.stores()) {
        (Some(s), _) => Some(s),
        (None, Some(mine)) if mine.len() == 1 => Some(mine[0].clone()),
        (None, Some(_)) => return Err(ApiError::validation("name one of your stores in `store`")),
        (None, None) => None,
    };
    Ok(state.store.simulate(change, from, to, store).await)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PreviewQuery {
    /// The store whose till the receipt is computed at.
    pub store: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// A configuration document merged into the one in force, as for an apply (absent:
    /// the program in force).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub change: ConfigDocument,
    /// A receipt as the POS sends it to `/v1/pos/calculate` (POS-API.md).
    #[schema(value_type = Object)]
    pub receipt: loyd_domain::receipt::ReceiptRequest,
}

/// What a sample receipt would get at a store's till under a proposed change: the
/// POS's calculate answer (POS-API.md) computed with the program the change makes, the
/// customer identified as the till would identify them. Nothing is changed.
#[utoipa::path(post, path = "/v1/admin/config/preview", tag = "admin", security(("api_key" = []), ("session" = [])), params(PreviewQuery),
    request_body = PreviewIn, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn preview(
    State(state): State<AppState>,
    actor: CurrentActor,
    Query(q): Query<PreviewQuery>,
    Json(body): Json<PreviewIn>,
) -> Result<Json<loyd_domain::receipt::ReceiptResponse>, ApiError> {
    Ok(Json(previewed(&state, &actor, body.change, &q.store, body.receipt).await?))
}

/// A preview of one receipt; the console's constructor previews through here.
pub(crate) async fn previewed(
    state: &AppState,
    actor: &Actor,
    change: ConfigDocument,
    store: &str,
    receipt: loyd_domain::receipt::ReceiptRequest,
) -> Result<loyd_domain::receipt::ReceiptResponse, ApiError> {
    actor.check_store(store)?;
    let code = loyd_domain::ids::StoreCode::parse(store).map_err(|e| ApiError::validation(format!("store: {e}")))?;
    Ok(state.store.preview_receipt(change, &code, receipt).await?)
}

// ---- one object at a time ------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
pub struct DryRunQuery {
    /// Only check and plan: change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectsOut {
    pub version: Option<i64>,
    /// The section's objects as JSON, every field present (`null`: not set).
    #[schema(value_type = Vec<Object>)]
    pub objects: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectOut {
    pub version: Option<i64>,
    #[schema(value_type = Object)]
    pub object: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectChanged {
    /// The new configuration version; `null` when nothing changed (or on a dry run).
    pub version: Option<i64>,
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<PlanStep>,
    /// The object as it is (or would be) after the change; `null` after a removal.
    #[schema(value_type = Option<Object>)]
    pub object: Option<serde_json::Value>,
}

fn unknown_section(section: &str) -> ApiError {
    let known: Vec<&str> = loyd_domain::config::SECTIONS.iter().map(|(s, _)| *s).collect();
    ApiError::not_found(format!("no section '{section}': one of {}", known.join(", ")))
}

fn no_object(section: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("{section} has no '{id}'"))
}

/// A one-object document's problems, with paths inside the object.
fn object_problems(section: &str, problems: Vec<loyd_domain::config::ConfigError>) -> ApiError {
    ApiError::from(loyd_store::StoreError::Config(loyd_domain::config::within_object(section, problems)))
}

/// Applies a one-object document and answers with the object after it.
async fn change_object(
    state: &AppState,
    actor: &Actor,
    (section, id): (&str, &str),
    doc: ConfigDocument,
    dry_run: bool,
    mode: Mode,
) -> Result<ObjectChanged, ApiError> {
    let source = format!("admin API ({}): {section}/{id}", actor.name());
    let applied = match state.store.apply_config_as(doc, source, dry_run, mode).await {
        Err(loyd_store::StoreError::Config(problems)) => return Err(object_problems(section, problems)),
        other => other?,
    };
    if let Some(version) = applied.version {
        let what = json!({ "version": version, "mode": mode, "steps": applied.steps });
        audit_after(state, actor, "config.apply", "config", &version.to_string(), what).await;
    }
    let object = match mode {
        Mode::Remove => None,
        _ => applied.steps.iter().find_map(|s| s.after.clone()).or(state.store.config_snapshot().await?.object(section, id)),
    };
    Ok(ObjectChanged { version: applied.version, steps: applied.steps, object })
}

/// The objects of one section of the configuration in force (`campaigns`,
/// `coupon_series`, `currencies`, `stores`, `card_series`, `counters`, `tiers`,
/// `segments`).
#[utoipa::path(get, path = "/v1/admin/config/{section}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("section" = String, Path)), responses((status = 200, body = ObjectsOut), (status = "4XX", body = ErrorBody)))]
pub async fn list_objects(State(state): State<AppState>, Path(section): Path<String>) -> Result<Json<ObjectsOut>, ApiError> {
    Ok(Json(objects(&state, &section).await?))
}

/// The objects of one section in force; the console lists them through here too.
pub(crate) async fn objects(state: &AppState, section: &str) -> Result<ObjectsOut, ApiError> {
    let doc = state.store.config_snapshot().await?;
    let objects = doc.objects(section).ok_or_else(|| unknown_section(section))?;
    Ok(ObjectsOut { version: state.store.config_version().await?, objects })
}

/// One object of the configuration in force, every field present, as `PUT` takes it.
#[utoipa::path(get, path = "/v1/admin/config/{section}/{id}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("section" = String, Path), ("id" = String, Path)), responses((status = 200, body = ObjectOut), (status = "4XX", body = ErrorBody)))]
pub async fn get_object(State(state): State<AppState>, Path((section, id)): Path<(String, String)>) -> Result<Json<ObjectOut>, ApiError> {
    Ok(Json(object(&state, &section, &id).await?))
}

/// One object in force, every field present.
pub(crate) async fn object(state: &AppState, section: &str, id: &str) -> Result<ObjectOut, ApiError> {
    let doc = state.store.config_snapshot().await?;
    doc.objects(section).ok_or_else(|| unknown_section(section))?;
    let object = doc.object(section, id).ok_or_else(|| no_object(section, id))?;
    Ok(ObjectOut { version: state.store.config_version().await?, object })
}

/// Create or replace one object (a campaign, a coupon series, …) as a new version of
/// the configuration. Every problem names its field in the object
/// (`details.problems[].path`: `rewards[0].percent`).
#[utoipa::path(put, path = "/v1/admin/config/{section}/{id}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("section" = String, Path), ("id" = String, Path), DryRunQuery), request_body = Object,
    responses((status = 200, body = ObjectChanged), (status = "4XX", body = ErrorBody)))]
pub async fn put_object(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path((section, id)): Path<(String, String)>,
    Query(q): Query<DryRunQuery>,
    Json(object): Json<serde_json::Value>,
) -> Result<Json<ObjectChanged>, ApiError> {
    Ok(Json(put(&state, &actor, (&section, &id), object, q.dry_run).await?))
}

/// Creates or replaces one object; the console's forms save through here.
pub(crate) async fn put(state: &AppState, actor: &Actor, (section, id): (&str, &str), object: serde_json::Value, dry_run: bool) -> Result<ObjectChanged, ApiError> {
    loyd_domain::config::SECTIONS.iter().find(|(s, _)| *s == section).ok_or_else(|| unknown_section(section))?;
    let doc = ConfigDocument::of_object(section, id, object).map_err(|p| object_problems(section, p))?;
    change_object(state, actor, (section, id), doc, dry_run, Mode::Merge).await
}

/// Change some fields of one object (a JSON merge patch: the fields given are set,
/// `null` takes a field back to its default, lists are replaced whole).
#[utoipa::path(patch, path = "/v1/admin/config/{section}/{id}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("section" = String, Path), ("id" = String, Path), DryRunQuery), request_body = Object,
    responses((status = 200, body = ObjectChanged), (status = "4XX", body = ErrorBody)))]
pub async fn patch_object(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path((section, id)): Path<(String, String)>,
    Query(q): Query<DryRunQuery>,
    Json(patch): Json<serde_json::Value>,
) -> Result<Json<ObjectChanged>, ApiError> {
    Ok(Json(patched(&state, &actor, (&section, &id), &patch, q.dry_run).await?))
}

/// Changes some fields of one object (a JSON merge patch).
pub(crate) async fn patched(state: &AppState, actor: &Actor, (section, id): (&str, &str), patch: &serde_json::Value, dry_run: bool) -> Result<ObjectChanged, ApiError> {
    let current = state.store.config_snapshot().await?;
    current.objects(section).ok_or_else(|| unknown_section(section))?;
    if !patch.is_object() {
        return Err(ApiError::validation("a patch is a JSON object of the fields to change"));
    }
    let doc = current.patched_object(section, id, patch).ok_or_else(|| no_object(section, id))?;
    let doc = doc.map_err(|p| object_problems(section, p))?;
    change_object(state, actor, (section, id), doc, dry_run, Mode::Merge).await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ObjectVersionsQuery {
    /// Look at most this many versions back (default 50, at most 200).
    pub limit: Option<u32>,
}

/// A version of the configuration that changed one object.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectVersion {
    pub version: i64,
    #[schema(value_type = String)]
    pub applied_at: Timestamp,
    /// Who or what applied it.
    pub source: String,
    /// `create`, `update` or `remove`.
    pub action: &'static str,
    /// The fields it changed, with their values before and after (JSON text).
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<loyd_domain::config::FieldChange>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectVersionsOut {
    /// Newest first.
    pub versions: Vec<ObjectVersion>,
}

/// The history of one object: the versions of the configuration that created, changed
/// or removed it, newest first, each with the fields it changed.
#[utoipa::path(get, path = "/v1/admin/config/{section}/{id}/versions", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("section" = String, Path), ("id" = String, Path), ObjectVersionsQuery),
    responses((status = 200, body = ObjectVersionsOut), (status = "4XX", body = ErrorBody)))]
pub async fn object_versions(
    State(state): State<AppState>,
    Path((section, id)): Path<(String, String)>,
    Query(q): Query<ObjectVersionsQuery>,
) -> Result<Json<ObjectVersionsOut>, ApiError> {
    Ok(Json(ObjectVersionsOut { versions: history(&state, (&section, &id), q.limit.unwrap_or(50).clamp(1, 200)).await? }))
}

/// The versions among the last `limit` that changed one object, newest first.
pub(crate) async fn history(state: &AppState, (section, id): (&str, &str), limit: u32) -> Result<Vec<ObjectVersion>, ApiError> {
    if !loyd_domain::config::SECTIONS.iter().any(|(s, _)| *s == section) {
        return Err(unknown_section(section));
    }
    // One version more than asked for: the state the oldest one changed. With the
    // whole history in view, that state is the empty configuration.
    let versions = state.store.config_history(None, limit + 1).await?;
    let whole = versions.len() <= limit as usize;
    let mut states = Vec::with_capacity(versions.len() + 1);
    for v in &versions {
        states.push((Some(v), state.store.config_document(v.version).await?.object(section, id)));
    }
    if whole {
        states.push((None, None));
    }
    let mut out = Vec::new();
    for pair in states.windows(2) {
        let ((Some(v), after), (_, before)) = (&pair[0], &pair[1]) else { continue };
        let action = match (before, after) {
            (a, b) if a == b => continue,
            (None, _) => "create",
            (_, None) => "remove",
            _ => "update",
        };
        let changes = changes_between(before.as_ref(), after.as_ref());
        out.push(ObjectVersion { version: v.version, applied_at: v.applied_at, source: v.source.clone(), action, changes });
    }
    Ok(out)
}

/// The fields that differ between two states of an object, as a person reads them: a
/// creation or removal lists, field by field, those that are set, not every default
/// (the object is compared with itself emptied). The audit page shows records so too.
pub(crate) fn changes_between(before: Option<&serde_json::Value>, after: Option<&serde_json::Value>) -> Vec<loyd_domain::config::FieldChange> {
    let unset = |v: &str| matches!(v, "(none)" | "null" | "[]" | "{}" | "false");
    let (b, a) = match (before, after) {
        (Some(b), Some(a)) => (b.clone(), a.clone()),
        (None, Some(a)) => (emptied(a), a.clone()),
        (Some(b), None) => (b.clone(), emptied(b)),
        (None, None) => return Vec::new(),
    };
    loyd_domain::config::field_changes(&b, &a).into_iter().filter(|c| !(unset(&c.before) && unset(&c.after))).collect()
}

/// `v` with every field emptied and lists of objects kept item by item, so that a diff
/// against it names each field that is set (`rewards[0].percent`).
fn emptied(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), emptied(v))).collect()),
        Value::Array(items) if items.iter().any(Value::is_object) => Value::Array(items.iter().map(emptied).collect()),
        Value::Array(_) => Value::Array(Vec::new()),
        _ => Value::Null,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    /// `active`, `paused` or `archived` (`draft` only for a draft).
    pub status: String,
}

/// A campaign's lifecycle: activate a draft, pause and resume, archive — each a new
/// version of the configuration, audited. Refused (`409 conflict`) when the campaign's
/// status does not allow it (an archived campaign never runs again); asking for the
/// status it already has changes nothing.
#[utoipa::path(post, path = "/v1/admin/campaigns/{id}/status", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), request_body = StatusIn,
    responses((status = 200, body = ObjectChanged), (status = "4XX", body = ErrorBody)))]
pub async fn campaign_status(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path(id): Path<String>,
    Json(body): Json<StatusIn>,
) -> Result<Json<ObjectChanged>, ApiError> {
    Ok(Json(set_status(&state, &actor, &id, &body.status).await?))
}

/// Moves a campaign to `status` if its lifecycle allows it.
pub(crate) async fn set_status(state: &AppState, actor: &Actor, id: &str, status: &str) -> Result<ObjectChanged, ApiError> {
    use loyd_domain::program::CampaignStatus;
    let to = CampaignStatus::parse(status).ok_or_else(|| ApiError::validation(format!("status: '{status}' is not one of draft, active, paused, archived")))?;
    let current = object(state, "campaigns", id).await?.object;
    let from = current.get("status").and_then(|s| s.as_str()).and_then(CampaignStatus::parse).unwrap_or_default();
    from.may_become(to).map_err(|why| ApiError::said(ErrorCode::Conflict, why))?;
    patched(state, actor, ("campaigns", id), &json!({ "status": to.name() }), false).await
}

/// Remove one object as a new version of the configuration; refused for what still
/// carries value (a currency with balances, a card series with cards, …).
#[utoipa::path(delete, path = "/v1/admin/config/{section}/{id}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("section" = String, Path), ("id" = String, Path), DryRunQuery),
    responses((status = 200, body = ObjectChanged), (status = "4XX", body = ErrorBody)))]
pub async fn remove_object(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path((section, id)): Path<(String, String)>,
    Query(q): Query<DryRunQuery>,
) -> Result<Json<ObjectChanged>, ApiError> {
    Ok(Json(removal(&state, &actor, (&section, &id), q.dry_run).await?))
}

/// Removes one object; the console removes through here.
pub(crate) async fn removed(state: &AppState, actor: &Actor, (section, id): (&str, &str)) -> Result<ObjectChanged, ApiError> {
    removal(state, actor, (section, id), false).await
}

async fn removal(state: &AppState, actor: &Actor, (section, id): (&str, &str), dry_run: bool) -> Result<ObjectChanged, ApiError> {
    let current = state.store.config_snapshot().await?;
    current.objects(section).ok_or_else(|| unknown_section(section))?;
    let object = current.object(section, id).ok_or_else(|| no_object(section, id))?;
    let doc = ConfigDocument::of_object(section, id, object).map_err(|p| object_problems(section, p))?;
    change_object(state, actor, (section, id), doc, dry_run, Mode::Remove).await
}
