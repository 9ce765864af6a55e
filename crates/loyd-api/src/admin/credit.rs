//! Internal credit: settling what a customer owes.

use super::*;

#[derive(Debug, Deserialize, ToSchema)]
pub struct Settlement {
    pub operation_id: String,
    pub currency: String,
    /// Default: everything owed.
    pub amount: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementOut {
    pub currency: String,
    pub settled: String,
    pub balance: String,
}

/// Settle internal credit (payroll deduction). Idempotent by `operation_id`.
#[utoipa::path(post, path = "/v1/admin/customers/{id}/credit-settlements", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), request_body = Settlement, responses((status = 201, body = SettlementOut), (status = "4XX", body = ErrorBody)))]
pub async fn settle(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path(id): Path<String>,
    Json(body): Json<Settlement>,
) -> Result<(StatusCode, Json<SettlementOut>), ApiError> {
    let currency = AssetCode::parse(&body.currency).map_err(|e| ApiError::validation(e.to_string()))?;
    let scale = scale_of(&state, &currency).await?;
    let amount = match &body.amount {
        Some(a) => Some(minor_of(&state, &currency, a).await?.0),
        None => None,
    };
    let (settled, balance) = state.store.settle_credit(body.operation_id, customer_id(&id)?, currency.clone(), amount, actor.name()).await?;
    Ok((
        StatusCode::CREATED,
        Json(SettlementOut {
            currency: currency.to_string(),
            settled: Minor::new(settled, scale).to_string(),
            balance: Minor::new(balance, scale).to_string(),
        }),
    ))
}
