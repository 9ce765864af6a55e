//! Coupons: generating the codes of a unique coupon series.

use super::*;

#[derive(Debug, Deserialize, ToSchema)]
pub struct GenerateCoupons {
    /// A coupon series of kind `unique`.
    pub series: String,
    pub count: u32,
    /// `c_7`: personal coupons, usable only by that customer.
    pub customer: Option<String>,
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
/// electronic distribution).
#[utoipa::path(post, path = "/v1/admin/coupons", tag = "admin", security(("api_key" = []), ("session" = [])), request_body = GenerateCoupons,
    responses((status = 201, body = GeneratedCoupons), (status = "4XX", body = ErrorBody)))]
pub async fn generate_coupons(
    State(state): State<AppState>,
    actor: CurrentActor,
    Json(body): Json<GenerateCoupons>,
) -> Result<(StatusCode, Json<GeneratedCoupons>), ApiError> {
    let customer = body.customer.as_deref().map(customer_id).transpose()?;
    let coupons = state.store.generate_coupons(body.series, body.count, customer, actor.name()).await?;
    Ok((
        StatusCode::CREATED,
        Json(GeneratedCoupons { coupons: coupons.into_iter().map(|(code, valid_until)| CouponOut { code, valid_until }).collect() }),
    ))
}
