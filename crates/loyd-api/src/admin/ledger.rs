//! The ledger audit: every account's balance checked against its transfers.

use super::*;

/// Check every ledger invariant over the whole database.
#[utoipa::path(get, path = "/v1/admin/ledger/audit", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn audit(State(state): State<AppState>) -> Result<Json<LedgerAudit>, ApiError> {
    Ok(Json(state.store.ledger_audit().await?))
}
