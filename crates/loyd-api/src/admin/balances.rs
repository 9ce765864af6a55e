//! Balances: what a customer holds, goodwill adjustments and account statements.

use super::*;

#[derive(Debug, Deserialize, ToSchema)]
pub struct Adjustment {
    /// Idempotency id: repeating the call with it changes nothing.
    pub operation_id: String,
    pub currency: String,
    /// Signed decimal string: "50" gives, "-50" takes.
    pub amount: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceAfter {
    pub currency: String,
    /// The posted balance after the operation.
    pub balance: String,
}

/// Give or take points or money by hand (goodwill, corrections).
#[utoipa::path(post, path = "/v1/admin/customers/{id}/adjustments", tag = "admin", security(("api_key" = []), ("session" = [])), params(("id" = String, Path)),
    request_body = Adjustment, responses((status = 201, body = BalanceAfter), (status = "4XX", body = ErrorBody)))]
pub async fn adjust(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path(id): Path<String>,
    Json(body): Json<Adjustment>,
) -> Result<(StatusCode, Json<BalanceAfter>), ApiError> {
    Ok((StatusCode::CREATED, Json(adjusted(&state, &actor, &id, body).await?)))
}

/// Gives or takes by hand, idempotent by the operation id; the console adjusts through
/// here.
pub(crate) async fn adjusted(state: &AppState, actor: &crate::auth::Actor, id: &str, body: Adjustment) -> Result<BalanceAfter, ApiError> {
    let currency = AssetCode::parse(&body.currency).map_err(|e| ApiError::validation(e.to_string()))?;
    let (minor, scale) = minor_of(state, &currency, &body.amount).await?;
    let balance = state.store.adjust_balance(body.operation_id, customer_id(id)?, currency.clone(), minor, body.reason, actor.name()).await?;
    Ok(BalanceAfter { currency: currency.to_string(), balance: Minor::new(balance, scale).to_string() })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct StatementQuery {
    pub currency: String,
    /// RFC 3339, inclusive.
    #[param(value_type = String)]
    pub from: Timestamp,
    /// RFC 3339, exclusive.
    #[param(value_type = String)]
    pub to: Timestamp,
}

/// A customer's account in one currency over a period: opening balance, every
/// movement, closing balance (internal credit statements).
#[utoipa::path(get, path = "/v1/admin/customers/{id}/statement", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path), StatementQuery), responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn statement(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path(id): Path<String>,
    Query(q): Query<StatementQuery>,
) -> Result<Json<Statement>, ApiError> {
    Ok(Json(statement_of(&state, &actor, &id, q).await?))
}

/// A customer's statement; the console's statement page reads it through here.
pub(crate) async fn statement_of(state: &AppState, actor: &crate::auth::Actor, id: &str, q: StatementQuery) -> Result<Statement, ApiError> {
    if actor.stores().is_some() {
        return Err(ApiError::new(ErrorCode::Forbidden, "a statement spans every store; store managers see their stores' purchases instead"));
    }
    let currency = AssetCode::parse(&q.currency).map_err(|e| ApiError::validation(e.to_string()))?;
    if q.from >= q.to {
        return Err(ApiError::validation("`from` must be before `to`"));
    }
    let scale = scale_of(state, &currency).await?;
    Ok(state.store.statement(customer_id(id)?, currency, q.from, q.to, scale).await?)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalancesOut {
    /// Per currency: what is available and what is pending (earned, not yet spendable).
    #[schema(value_type = Vec<Object>)]
    pub balances: Vec<loyd_domain::receipt::BalanceOut>,
}

/// A customer's balances now, per currency (their organisation's, for its contacts).
#[utoipa::path(get, path = "/v1/admin/customers/{id}/balances", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), responses((status = 200, body = BalancesOut), (status = "4XX", body = ErrorBody)))]
pub async fn balances(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<BalancesOut>, ApiError> {
    Ok(Json(BalancesOut { balances: balances_of(&state, &id).await? }))
}

/// A customer's balances; the console's customer page reads them through here.
pub(crate) async fn balances_of(state: &AppState, id: &str) -> Result<Vec<loyd_domain::receipt::BalanceOut>, ApiError> {
    let id = customer_id(id)?;
    if state.store.customer(id).await?.is_none() {
        return Err(ApiError::not_found(format!("no customer {}", CustomerId(id))));
    }
    Ok(state.store.customer_balances(id).await?)
}
