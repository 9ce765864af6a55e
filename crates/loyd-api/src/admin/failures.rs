//! The failure log: every refused POS request, with filters.

use super::*;

#[derive(Debug, Deserialize, IntoParams)]
pub struct FailureQuery {
    pub store: Option<String>,
    pub terminal: Option<String>,
    pub code: Option<String>,
    pub card: Option<String>,
    pub operation: Option<String>,
    #[param(value_type = Option<String>)]
    pub from: Option<Timestamp>,
    #[param(value_type = Option<String>)]
    pub to: Option<Timestamp>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// At most 1000; default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailurePage {
    #[schema(value_type = Vec<Object>)]
    pub failures: Vec<Failure>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The failure log: every refused POS operation, newest first.
#[utoipa::path(get, path = "/v1/admin/failures", tag = "admin", security(("api_key" = []), ("session" = [])), params(FailureQuery),
    responses((status = 200, body = FailurePage), (status = "4XX", body = ErrorBody)))]
pub async fn failures(State(state): State<AppState>, actor: CurrentActor, Query(q): Query<FailureQuery>) -> Result<Json<FailurePage>, ApiError> {
    Ok(Json(page(&state, &actor, q).await?))
}

/// A page of the failure log (the console and the API); a store manager's stores only.
pub(crate) async fn page(state: &AppState, actor: &crate::auth::Actor, q: FailureQuery) -> Result<FailurePage, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    if let Some(store) = &q.store {
        actor.check_store(store)?;
    }
    let failures = state
        .store
        .failures(FailureFilter {
            store: q.store,
            terminal: q.terminal,
            code: q.code,
            card: q.card,
            operation: q.operation,
            from: q.from,
            to: q.to,
            before_id: q.before,
            limit,
            // A store manager sees their stores' failures only.
            stores: actor.stores().map(<[String]>::to_vec),
        })
        .await?;
    let next_before = crate::extract::next_page(&failures, limit, |f| f.id);
    Ok(FailurePage { failures, next_before })
}
