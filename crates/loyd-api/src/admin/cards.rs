//! Cards: one-time codes for a customer, issuing cards of a series, blocking and
//! unblocking, replacing a lost card.

use super::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeOut {
    /// Six digits the customer shows at the POS (`"customer": {"code": …}`); works once.
    pub code: String,
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
}

/// A one-time code that identifies the customer at a POS for five minutes.
#[utoipa::path(post, path = "/v1/admin/customers/{id}/codes", tag = "admin", security(("api_key" = []), ("session" = [])), params(("id" = String, Path)),
    responses((status = 201, body = CodeOut), (status = "4XX", body = ErrorBody)))]
pub async fn issue_code(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>) -> Result<(StatusCode, Json<CodeOut>), ApiError> {
    let id = customer_id(&id)?;
    actor.require(Act::IssueCode { for_contact: is_contact(&state, id).await? })?;
    let (code, expires_at) = state.store.issue_code(id, jiff::SignedDuration::from_mins(5), actor.name()).await?;
    Ok((StatusCode::CREATED, Json(CodeOut { code, expires_at })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct IssueRequest {
    pub series: String,
    #[serde(default = "one")]
    pub count: u32,
    /// `c_7`: loyalty and credit cards are issued to a customer.
    pub customer: Option<String>,
    /// A given number instead of the next of the series.
    pub number: Option<String>,
    /// A virtual loyalty card (no plastic) for a customer with a phone.
    #[serde(default, rename = "virtual")]
    pub virtual_card: bool,
    /// Your id of this batch. Sent again, it makes no second batch: the same request is
    /// answered `409 already_exists` (the PINs were in the first answer only), another
    /// one `409 idempotency_conflict`.
    pub operation_id: Option<String>,
}

pub(super) fn one() -> u32 {
    1
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedCards {
    /// Each card with its PIN, shown this once.
    #[schema(value_type = Vec<Object>)]
    pub cards: Vec<IssuedCard>,
}

/// Issue cards of a series: loyalty cards, gift cards (to be activated at a POS), passes,
/// employee credit cards. With `Accept: text/csv` the answer is a CSV file
/// (`number,series,pin,valid_until`) for the card printer.
#[utoipa::path(post, path = "/v1/admin/cards", tag = "admin", security(("api_key" = []), ("session" = [])), request_body = IssueRequest,
    responses((status = 201, body = IssuedCards), (status = 201, content_type = "text/csv", body = String), (status = "4XX", body = ErrorBody)))]
pub async fn issue_cards(
    State(state): State<AppState>,
    actor: CurrentActor,
    headers: axum::http::HeaderMap,
    Json(body): Json<IssueRequest>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let series = body.series.clone();
    let cards = issue(&state, &actor, body).await?;
    Ok(if wants_csv(&headers) { cards_csv(&series, &cards) } else { (StatusCode::CREATED, Json(IssuedCards { cards })).into_response() })
}

/// Cards just issued as a CSV file to download: `number,series,pin,valid_until` — the
/// only place their PINs are shown.
pub(crate) fn cards_csv(series: &str, cards: &[IssuedCard]) -> axum::response::Response {
    let rows = cards.iter().map(|c| vec![c.number.clone(), c.series.clone(), c.pin.clone().unwrap_or_default(), c.valid_until.map(|t| t.to_string()).unwrap_or_default()]);
    csv_download(&format!("cards-{series}.csv"), &["number", "series", "pin", "valid_until"], rows)
}

/// Issues cards as the request says, if the staff member may issue cards of that kind
/// to that customer; the console issues through here.
pub(crate) async fn issue(state: &AppState, actor: &crate::auth::Actor, body: IssueRequest) -> Result<Vec<IssuedCard>, ApiError> {
    let customer = body.customer.as_deref().map(customer_id).transpose()?;
    let program = state.store.program().await?;
    let kind = program
        .series
        .get(body.series.as_str())
        .map(|s| s.spec.kind)
        .ok_or_else(|| ApiError::not_found(format!("card series '{}' does not exist", loyd_domain::text::escaped(&body.series, 64))))?;
    let for_contact = match customer {
        Some(id) => is_contact(state, id).await?,
        None => false,
    };
    actor.require(Act::IssueCards { kind, for_contact })?;
    state
        .store
        .issue_cards(
            IssueCards {
                series: body.series,
                count: body.count,
                customer,
                number: body.number,
                virtual_card: body.virtual_card,
                operation_id: super::batch_id(body.operation_id)?,
            },
            actor.name(),
        )
        .await
        .map_err(super::batch_refusal)
}

/// Block a card (lost or stolen).
#[utoipa::path(post, path = "/v1/admin/cards/{number}/block", tag = "admin", security(("api_key" = []), ("session" = [])), params(("number" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn block(State(state): State<AppState>, actor: CurrentActor, Path(number): Path<String>) -> Result<StatusCode, ApiError> {
    set_blocked(&state, &actor, number, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Blocks or unblocks a card (the console and the API); unblocking a card that can
/// pay or identify again takes what [`Act::UnblockCard`] needs.
pub(crate) async fn set_blocked(state: &AppState, actor: &crate::auth::Actor, number: String, blocked: bool) -> Result<(), ApiError> {
    if !blocked {
        let owner = card_owner(state, &number).await?;
        actor.require(Act::UnblockCard { kind: owner.kind, of_contact: owner.organisation.is_some() })?;
    }
    state.store.set_card_blocked(number, blocked, actor.name()).await?;
    Ok(())
}

#[utoipa::path(post, path = "/v1/admin/cards/{number}/unblock", tag = "admin", security(("api_key" = []), ("session" = [])), params(("number" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn unblock(State(state): State<AppState>, actor: CurrentActor, Path(number): Path<String>) -> Result<StatusCode, ApiError> {
    set_blocked(&state, &actor, number, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceCard {
    /// The new card's number.
    pub number: String,
}

/// Replace a lost or damaged card: the new number takes over the customer, the
/// balances and the card's own value; the old one is blocked for good.
#[utoipa::path(post, path = "/v1/admin/cards/{number}/replace", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("number" = String, Path)), request_body = ReplaceCard, responses((status = 201, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn replace_card(State(state): State<AppState>, actor: CurrentActor, Path(number): Path<String>, Json(body): Json<ReplaceCard>) -> Result<(StatusCode, Json<CardInfo>), ApiError> {
    let owner = crate::admin::card_owner(&state, &number).await?;
    actor.require(Act::ReplaceCard { kind: owner.kind, of_contact: owner.organisation.is_some() })?;
    let card = state.store.replace_card(number, body.number, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(card)))
}
