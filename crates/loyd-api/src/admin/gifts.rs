//! Gifts handed over at receipts (`gift` rewards), for accounting: per customer, per
//! campaign, per store.

use super::*;

#[derive(Debug, Deserialize, IntoParams)]
pub struct GiftQuery {
    /// Only this customer's (`c_7`).
    pub customer: Option<String>,
    /// Only this campaign's.
    pub campaign: Option<String>,
    /// Only this store's receipts.
    pub store: Option<String>,
    /// Only issues numbered below this (the `next_before` of the previous page).
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftOut {
    pub id: i64,
    pub gift: String,
    pub campaign: String,
    /// `c_7`; none for an anonymous receipt.
    pub customer: Option<String>,
    pub store: String,
    pub terminal: String,
    pub receipt_id: String,
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// The receipt's status: `committed`, or `cancelled` (the gift came back).
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftPage {
    pub gifts: Vec<GiftOut>,
    pub next_before: Option<i64>,
}

/// Gifts handed over, newest first (a store manager sees their stores' only).
#[utoipa::path(get, path = "/v1/admin/gifts", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(GiftQuery), responses((status = 200, body = GiftPage), (status = "4XX", body = ErrorBody)))]
pub async fn gifts(State(state): State<AppState>, actor: CurrentActor, Query(q): Query<GiftQuery>) -> Result<Json<GiftPage>, ApiError> {
    let stores = actor.store_scope(q.store.as_ref())?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let customer = q.customer.as_deref().map(customer_id).transpose()?;
    let filter = loyd_store::GiftFilter { customer, campaign: q.campaign, stores, before: q.before, limit };
    let rows = state.store.gift_issues(filter).await?;
    let next_before = crate::extract::next_page(&rows, limit, |g| g.id);
    let gifts = rows
        .into_iter()
        .map(|g| GiftOut {
            id: g.id,
            gift: g.gift,
            campaign: g.campaign,
            customer: g.customer.map(|c| CustomerId(c).to_string()),
            store: g.store,
            terminal: g.terminal,
            receipt_id: g.receipt_id,
            at: g.at,
            status: g.status,
        })
        .collect();
    Ok(Json(GiftPage { gifts, next_before }))
}
