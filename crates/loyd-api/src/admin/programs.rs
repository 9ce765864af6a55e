//! Programs: the configuration in force, and applying a new version (with a dry run).

use super::*;

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
}

/// Apply a configuration document (the same format as `loyd apply`, as JSON).
#[utoipa::path(post, path = "/v1/admin/config", tag = "admin", security(("api_key" = []), ("session" = [])), params(ApplyQuery),
    request_body(content = Object, description = "A configuration document: currencies, stores, card_series, campaigns"),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn apply_config(
    State(state): State<AppState>,
    actor: CurrentActor,
    Query(q): Query<ApplyQuery>,
    Json(doc): Json<ConfigDocument>,
) -> Result<Json<Applied>, ApiError> {
    let applied = state.store.apply_config(doc, format!("admin API ({})", actor.name()), q.dry_run).await?;
    if let Some(version) = applied.version {
        let what = json!({ "version": version, "steps": applied.steps });
        audit_after(&state, &actor, "config.apply", "config", &version.to_string(), what).await;
    }
    Ok(Json(applied))
}
