//! The admin API (`/v1/admin/…`): the minimal administration a POS roll-out needs —
//! customers, cards, one-time codes, balance adjustments, internal credit, the failure
//! log, configuration and the ledger audit; the CRM routes are in [`crate::crm`].
//! Every route is behind [`crate::auth::guard`]: a session or API key whose role holds
//! the route's permission. Changes are written to the audit log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use jiff::Timestamp;
use loyd_domain::access::Act;
use loyd_domain::config::ConfigDocument;
use loyd_domain::ids::{AssetCode, CustomerId};
use loyd_domain::money::{self, Minor, Scale};
use loyd_store::{Applied, CardOwner, Failure, FailureFilter, IssueCards, IssuedCard, LedgerAudit, Statement};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Actor, CurrentActor};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Json, Path, Query};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(crate::crm::router())
        .route("/v1/admin/customers/{id}/codes", post(issue_code))
        .route("/v1/admin/customers/{id}/adjustments", post(adjust))
        .route("/v1/admin/customers/{id}/statement", get(statement))
        .route("/v1/admin/customers/{id}/credit-settlements", post(settle))
        .route("/v1/admin/cards", post(issue_cards))
        .route("/v1/admin/coupons", post(generate_coupons))
        .route("/v1/admin/cards/{number}/block", post(block))
        .route("/v1/admin/cards/{number}/unblock", post(unblock))
        .route("/v1/admin/failures", get(failures))
        .route("/v1/admin/config", get(get_config).post(apply_config))
        .route("/v1/admin/ledger/audit", get(audit))
        .route_layer(middleware::from_fn_with_state(state, crate::auth::guard))
}

/// Writes an audit entry for a change that has already been made. A failure is logged
/// loudly rather than answered: the change stands and the client must not retry it.
pub(crate) async fn audit_after(state: &AppState, actor: &Actor, action: &str, kind: &str, id: &str, after: serde_json::Value) {
    if let Err(e) = state.store.record_audit(actor.name(), action.into(), (kind.into(), id.into()), None, Some(after)).await {
        tracing::error!(error = %e, action, object = id, "could not write the audit log");
    }
}

/// `c_7` (or `7`) to 7.
pub(crate) fn customer_id(text: &str) -> Result<i64, ApiError> {
    CustomerId::parse(text).map(|c| c.0).map_err(|e| ApiError::validation(e.to_string()))
}

/// Whether a customer is a contact of an organisation: their balance is its, so any new
/// way to identify them is a key to it ([`Act`]).
pub(crate) async fn is_contact(state: &AppState, id: i64) -> Result<bool, ApiError> {
    Ok(state.store.customer(id).await?.is_some_and(|c| c.organisation.is_some()))
}

/// The card an admin action names, with whose it is; `404` when there is none.
pub(crate) async fn card_owner(state: &AppState, number: &str) -> Result<CardOwner, ApiError> {
    state.store.card_owner(number.to_owned()).await?.ok_or_else(|| ApiError::not_found(format!("card '{number}' does not exist")))
}

pub(crate) async fn scale_of(state: &AppState, currency: &AssetCode) -> Result<Scale, ApiError> {
    let program = state.store.program().await?;
    program
        .currency(currency)
        .map(|c| c.scale)
        .ok_or_else(|| ApiError::not_found(format!("currency '{currency}' does not exist")))
}

async fn minor_of(state: &AppState, currency: &AssetCode, text: &str) -> Result<(i64, Scale), ApiError> {
    let scale = scale_of(state, currency).await?;
    let value = money::parse_decimal(text).map_err(|e| ApiError::validation(e.to_string()))?;
    let minor = money::to_minor_exact(value, scale).map_err(|e| ApiError::validation(e.to_string()))?;
    Ok((minor, scale))
}

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
    let currency = AssetCode::parse(&body.currency).map_err(|e| ApiError::validation(e.to_string()))?;
    let (minor, scale) = minor_of(&state, &currency, &body.amount).await?;
    let balance = state.store.adjust_balance(body.operation_id, customer_id(&id)?, currency.clone(), minor, body.reason, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(BalanceAfter { currency: currency.to_string(), balance: Minor::new(balance, scale).to_string() })))
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
    if actor.stores().is_some() {
        return Err(ApiError::new(ErrorCode::Forbidden, "a statement spans every store; store managers see their stores' purchases instead"));
    }
    let currency = AssetCode::parse(&q.currency).map_err(|e| ApiError::validation(e.to_string()))?;
    if q.from >= q.to {
        return Err(ApiError::validation("`from` must be before `to`"));
    }
    let scale = scale_of(&state, &currency).await?;
    Ok(Json(state.store.statement(customer_id(&id)?, currency, q.from, q.to, scale).await?))
}

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
}

fn one() -> u32 {
    1
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedCards {
    /// Each card with its PIN, shown this once.
    #[schema(value_type = Vec<Object>)]
    pub cards: Vec<IssuedCard>,
}

/// Issue cards of a series: loyalty cards, gift cards (to be activated at a POS), passes,
/// employee credit cards.
#[utoipa::path(post, path = "/v1/admin/cards", tag = "admin", security(("api_key" = []), ("session" = [])), request_body = IssueRequest,
    responses((status = 201, body = IssuedCards), (status = "4XX", body = ErrorBody)))]
pub async fn issue_cards(State(state): State<AppState>, actor: CurrentActor, Json(body): Json<IssueRequest>) -> Result<(StatusCode, Json<IssuedCards>), ApiError> {
    let customer = body.customer.as_deref().map(customer_id).transpose()?;
    let program = state.store.program().await?;
    let kind = program
        .series
        .get(body.series.as_str())
        .map(|s| s.spec.kind)
        .ok_or_else(|| ApiError::not_found(format!("card series '{}' does not exist", loyd_domain::text::escaped(&body.series, 64))))?;
    let for_contact = match customer {
        Some(id) => is_contact(&state, id).await?,
        None => false,
    };
    actor.require(Act::IssueCards { kind, for_contact })?;
    let cards = state
        .store
        .issue_cards(IssueCards { series: body.series, count: body.count, customer, number: body.number, virtual_card: body.virtual_card }, actor.name())
        .await?;
    Ok((StatusCode::CREATED, Json(IssuedCards { cards })))
}

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

/// Block a card (lost or stolen).
#[utoipa::path(post, path = "/v1/admin/cards/{number}/block", tag = "admin", security(("api_key" = []), ("session" = [])), params(("number" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn block(State(state): State<AppState>, actor: CurrentActor, Path(number): Path<String>) -> Result<StatusCode, ApiError> {
    state.store.set_card_blocked(number, true, actor.name()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/admin/cards/{number}/unblock", tag = "admin", security(("api_key" = []), ("session" = [])), params(("number" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn unblock(State(state): State<AppState>, actor: CurrentActor, Path(number): Path<String>) -> Result<StatusCode, ApiError> {
    let owner = card_owner(&state, &number).await?;
    actor.require(Act::UnblockCard { kind: owner.kind, of_contact: owner.organisation.is_some() })?;
    state.store.set_card_blocked(number, false, actor.name()).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
    Ok(Json(FailurePage { failures, next_before }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigOut {
    pub version: Option<i64>,
    #[schema(value_type = Object)]
    pub document: ConfigDocument,
}

/// The configuration in force, as one document.
#[utoipa::path(get, path = "/v1/admin/config", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ConfigOut), (status = "4XX", body = ErrorBody)))]
pub async fn get_config(State(state): State<AppState>) -> Result<Json<ConfigOut>, ApiError> {
    Ok(Json(ConfigOut { version: state.store.config_version().await?, document: state.store.config_snapshot().await? }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ApplyQuery {
    /// Only plan: change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Apply a configuration document (the same format as `loyd apply`, as JSON).
#[utoipa::path(post, path = "/v1/admin/config", tag = "admin", security(("api_key" = []), ("session" = [])), params(ApplyQuery),
    request_body(content = Object, description = "A configuration document: currencies, stores, card_series, campaigns"),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn apply_config(
    State(state): State<AppState>,
    actor: CurrentActor,
    Query(q): Query<ApplyQuery>,
    Json(doc): Json<ConfigDocument>,
) -> Result<Json<Applied>, ApiError> {
    let applied = state.store.apply_config(doc, format!("admin API ({})", actor.name()), q.dry_run).await?;
    if let Some(version) = applied.version {
        let what = json!({ "version": version, "steps": applied.steps });
        audit_after(&state, &actor, "config.apply", "config", &version.to_string(), what).await;
    }
    Ok(Json(applied))
}

/// Check every ledger invariant over the whole database.
#[utoipa::path(get, path = "/v1/admin/ledger/audit", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn audit(State(state): State<AppState>) -> Result<Json<LedgerAudit>, ApiError> {
    Ok(Json(state.store.ledger_audit().await?))
}
