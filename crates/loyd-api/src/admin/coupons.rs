//! Coupons: generating the codes of a unique coupon series, answered as JSON or, for
//! print shops and mailing tools, as CSV. The codes are shown only in this answer: the
//! audit log records how many were made, not which.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::*;
use crate::auth::Actor;

#[derive(Debug, Deserialize, ToSchema)]
pub struct GenerateCoupons {
    /// A coupon series of kind `unique`.
    pub series: String,
    pub count: u32,
    /// `c_7`: personal coupons, usable only by that customer.
    pub customer: Option<String>,
    /// Your id of this batch. Sent again, it makes no second batch: the same request is
    /// answered `409 already_exists` (the codes were in the first answer only), another
    /// one `409 idempotency_conflict`.
    pub operation_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CouponOut {
    pub code: String,
    #[schema(value_type = Option<String>)]
    pub valid_until: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedCoupons {
    pub coupons: Vec<CouponOut>,
}

/// Generate unique, unguessable coupon codes of a series (for print, media or
/// electronic distribution). With `Accept: text/csv` the answer is a CSV file
/// (`code,series,valid_until`) to download.
#[utoipa::path(post, path = "/v1/admin/coupons", tag = "admin", security(("api_key" = []), ("session" = [])), request_body = GenerateCoupons,
    responses((status = 201, body = GeneratedCoupons), (status = 201, content_type = "text/csv", body = String), (status = "4XX", body = ErrorBody)))]
pub async fn generate_coupons(
    State(state): State<AppState>,
    actor: CurrentActor,
    headers: HeaderMap,
    Json(body): Json<GenerateCoupons>,
) -> Result<Response, ApiError> {
    let coupons = generate(&state, &actor, &body.series, body.count, body.customer.as_deref(), body.operation_id).await?;
    Ok(if wants_csv(&headers) { coupons_csv(&body.series, &coupons) } else { (StatusCode::CREATED, Json(GeneratedCoupons { coupons })).into_response() })
}

/// Generates `count` codes of `series` (personal to `customer` if given), once per
/// `operation` id if given; the console generates through here too.
pub(crate) async fn generate(state: &AppState, actor: &Actor, series: &str, count: u32, customer: Option<&str>, operation: Option<String>) -> Result<Vec<CouponOut>, ApiError> {
    let customer = customer.map(customer_id).transpose()?;
    let operation = super::batch_id(operation)?;
    let coupons = state.store.generate_coupons(series.to_owned(), count, customer, operation, actor.name()).await.map_err(super::batch_refusal)?;
    Ok(coupons.into_iter().map(|(code, valid_until)| CouponOut { code, valid_until }).collect())
}

/// Codes as a CSV file to download: `code,series,valid_until` (RFC 3339, empty when
/// the code does not expire).
pub(crate) fn coupons_csv(series: &str, coupons: &[CouponOut]) -> Response {
    let rows = coupons.iter().map(|c| vec![c.code.clone(), series.to_owned(), c.valid_until.map(|t| t.to_string()).unwrap_or_default()]);
    csv_download(&format!("coupons-{series}.csv"), &["code", "series", "valid_until"], rows)
}
