//! One receipt with everything that moved because of it: its ledger transfers, and the
//! returns and cancellation made of it with theirs — the drill-down of the
//! transactions report.

use loyd_store::{ReceiptDetail, TransferLine};

use super::*;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferOut {
    pub id: String,
    pub currency: String,
    /// Decimal, in the currency's places.
    pub amount: String,
    /// What it was for: `accrual`, `redemption`, `return`, `gift_card` …
    pub code: String,
    /// `single`, `pending`, `post`, `void` or `expire`.
    pub kind: String,
    /// The transfer it gives back, for a return's.
    pub reverses: Option<String>,
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// Whose account it left: `customer:7`, `card:2770…`, `system:redemption` …
    pub debit: String,
    /// Whose account it reached.
    pub credit: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperationOut {
    /// `return` or `cancellation`.
    pub kind: String,
    /// The return's id; a cancellation's is the receipt's.
    pub operation: String,
    pub store: String,
    pub terminal: String,
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// What it gave back, as the till was told.
    pub refund: String,
    pub transfers: Vec<TransferOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptOut {
    /// The receipt's row: `/v1/admin/receipts/{id}`.
    pub id: i64,
    pub store: String,
    pub terminal: String,
    /// The till's receipt id.
    pub receipt_id: String,
    /// `c_7`.
    pub customer: Option<String>,
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// `committed` or `cancelled`.
    pub status: &'static str,
    pub currency: String,
    pub total: String,
    pub discount: String,
    pub redeemed: String,
    pub gift_card: String,
    /// What the till sent, as stored (without PINs or codes).
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// What it was answered.
    #[schema(value_type = Object)]
    pub response: serde_json::Value,
    pub transfers: Vec<TransferOut>,
    pub operations: Vec<OperationOut>,
}

fn transfer_out(program: &loyd_domain::program::Program, t: TransferLine) -> TransferOut {
    TransferOut {
        amount: Minor::new(t.amount, program.scale_of(&t.currency)).to_string(),
        id: t.id,
        currency: t.currency,
        code: t.code,
        kind: t.kind,
        reverses: t.reverses,
        at: t.at,
        debit: t.debit,
        credit: t.credit,
    }
}

/// A receipt as the API and the console show it; `404` when there is none, or it is
/// of a store the staff member does not see.
pub(crate) async fn receipt_of(state: &AppState, actor: &Actor, id: i64) -> Result<ReceiptOut, ApiError> {
    let missing = || ApiError::not_found(format!("receipt {id} does not exist"));
    let r: ReceiptDetail = state.reports.receipt_detail(id).await?.ok_or_else(missing)?;
    if actor.check_store(&r.store).is_err() {
        return Err(missing());
    }
    let program = state.store.program().await?;
    let scale = program.scale_of(&r.currency);
    let m = |v: i64| Minor::new(v, scale).to_string();
    Ok(ReceiptOut {
        id: r.id,
        status: if r.cancelled { "cancelled" } else { "committed" },
        total: m(r.total),
        discount: m(r.discount),
        redeemed: m(r.redeemed),
        gift_card: m(r.gift_card),
        store: r.store,
        terminal: r.terminal,
        receipt_id: r.receipt,
        customer: r.customer.map(|c| CustomerId(c).to_string()),
        at: r.at,
        currency: r.currency,
        request: r.request,
        response: r.response,
        transfers: r.transfers.into_iter().map(|t| transfer_out(&program, t)).collect(),
        operations: r
            .operations
            .into_iter()
            .map(|o| OperationOut {
                kind: o.kind,
                operation: o.operation,
                store: o.store,
                terminal: o.terminal,
                at: o.at,
                refund: o.refund,
                transfers: o.transfers.into_iter().map(|t| transfer_out(&program, t)).collect(),
            })
            .collect(),
    })
}

/// A receipt with its ledger transfers, and the returns and cancellation made of it
/// with theirs (a store manager sees their stores' receipts only). `{id}` is the
/// receipt's row, as the transactions report gives it.
#[utoipa::path(get, path = "/v1/admin/receipts/{id}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ReceiptOut), (status = "4XX", body = ErrorBody)))]
pub async fn receipt(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<i64>) -> Result<Json<ReceiptOut>, ApiError> {
    Ok(Json(receipt_of(&state, &actor, id).await?))
}
