//! The ledger audit: every account's balance checked against its transfers.

use super::*;

/// Check every ledger invariant over the whole database.
#[utoipa::path(get, path = "/v1/admin/ledger/audit", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn audit(State(state): State<AppState>) -> Result<Json<LedgerAudit>, ApiError> {
    Ok(Json(state.store.ledger_audit().await?))
}

/// One of the operator's own accounts in one currency, amounts in that currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemAccount {
    /// `issuance`, `redemption`, `expired`, `breakage` or `settlement`.
    pub account: String,
    pub currency: String,
    /// What went in: for `breakage`, the rest of single-use gift cards and what expired
    /// on gift cards and passes; for `expired`, customers' units past their lifetime.
    pub credits: String,
    pub debits: String,
    /// `credits − debits`.
    pub balance: String,
}

/// The operator's own accounts: what was issued, redeemed, expired and kept as breakage,
/// per currency.
#[utoipa::path(get, path = "/v1/admin/ledger/system", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<SystemAccount>), (status = "4XX", body = ErrorBody)))]
pub async fn system(State(state): State<AppState>) -> Result<Json<Vec<SystemAccount>>, ApiError> {
    let program = state.store.program().await?;
    let out = state
        .store
        .system_balances()
        .await?
        .into_iter()
        .map(|b| {
            // A currency no longer configured keeps the minor units it was stored in.
            let scale = program.currency(&b.asset).map_or(Scale::ZERO, |c| c.scale);
            let shown = |m: i64| Minor::new(m, scale).to_string();
            SystemAccount {
                account: b.account,
                currency: b.asset.to_string(),
                credits: shown(b.credits),
                debits: shown(b.debits),
                balance: shown(b.credits - b.debits),
            }
        })
        .collect();
    Ok(Json(out))
}
