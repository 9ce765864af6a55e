//! The POS API (`/v1/pos/…`, POS-API.md). Every route is authenticated by a terminal
//! key; every refusal, whatever produced it (a rule, a bad body, a wrong key), is
//! written to the failure log by `pos_guard`.

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use jiff::Timestamp;
use loyd_domain::operations::{ActivateRequest, ActivateResponse, CardInquiry, Outcome, VisitRequest, VisitResponse};
use loyd_domain::org::terminal_key_hash;
use loyd_domain::receipt::{ReceiptRequest, ReceiptResponse};
use loyd_domain::returns::{ReturnRequest, ReturnResponse};
use loyd_store::{NewFailure, PosCaller, PosReply};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::attempts::{self, Presented};
use crate::error::{ApiError, ErrorBody, ErrorCode, ErrorInfo, ErrorObject};
use crate::extract::{BodyLimit, Json, OptionalJson, Path, Query};

/// Most receipts one offline upload may carry.
pub const MAX_OFFLINE_RECEIPTS: usize = 1000;
/// Body limit of the offline upload (the other routes use the server's default).
pub const OFFLINE_BODY_LIMIT_BYTES: usize = 16 * 1024 * 1024;

/// The authenticated terminal, put in the request by `pos_guard`.
#[derive(Debug, Clone)]
pub struct Caller(pub PosCaller);

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/pos/terminal", get(whoami))
        .route("/v1/pos/calculate", post(calculate))
        .route("/v1/pos/receipts", post(commit))
        .route("/v1/pos/receipts/{receipt_id}/cancel", post(cancel))
        .route("/v1/pos/returns", post(return_goods))
        .route(
            "/v1/pos/offline",
            post(offline).layer::<_, std::convert::Infallible>((
                DefaultBodyLimit::max(OFFLINE_BODY_LIMIT_BYTES),
                Extension(BodyLimit(OFFLINE_BODY_LIMIT_BYTES)),
            )),
        )
        .route("/v1/pos/cards/{number}", get(card))
        .route("/v1/pos/gift-cards/{number}/activate", post(activate))
        .route("/v1/pos/visits", post(visit))
        .route_layer(middleware::from_fn_with_state(state, pos_guard))
}

/// The operation a POS route performs, as the failure log names it.
fn operation(path: &str) -> &'static str {
    match path {
        "/v1/pos/calculate" => "calculate",
        "/v1/pos/receipts" => "commit",
        "/v1/pos/receipts/{receipt_id}/cancel" => "cancel",
        "/v1/pos/returns" => "return",
        "/v1/pos/offline" => "offline",
        "/v1/pos/cards/{number}" => "card_inquiry",
        "/v1/pos/gift-cards/{number}/activate" => "gift_card_activate",
        "/v1/pos/visits" => "visit",
        "/v1/pos/terminal" => "terminal",
        _ => "pos",
    }
}

/// Authenticates the terminal key, runs the route, and writes every refusal (4xx) to
/// the failure log.
async fn pos_guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let op = operation(req.extensions().get::<MatchedPath>().map(|p| p.as_str()).unwrap_or(""));
    let authorization = req.headers().get(header::AUTHORIZATION).map(|h| h.to_str().map(str::to_owned).unwrap_or_default());
    let caller = match authenticate(&state, authorization).await {
        Ok(c) => c,
        Err(e) => {
            let res = e.into_response();
            // Refusals only: a 503 here means the database is unreachable, and waiting
            // for it again to log that would only delay the answer.
            if res.status().is_client_error() {
                let info = res.extensions().get::<ErrorInfo>().cloned();
                log_refusal(&state, None, op, info).await;
            }
            return res;
        }
    };
    if let Err(e) = crate::http::check_uri(req.uri()) {
        let res = e.into_response();
        log_refusal(&state, Some(&caller), op, res.extensions().get::<ErrorInfo>().cloned()).await;
        return res;
    }
    req.extensions_mut().insert(Caller(caller.clone()));
    let res = next.run(req).await;
    if res.status().is_client_error() {
        let info = res.extensions().get::<ErrorInfo>().cloned();
        log_refusal(&state, Some(&caller), op, info).await;
    }
    res
}

async fn authenticate(state: &AppState, authorization: Option<String>) -> Result<PosCaller, ApiError> {
    let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m.to_owned());
    let header = authorization.ok_or_else(|| unauthorized("send the terminal key as Authorization: Bearer <key>"))?;
    let key = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .ok_or_else(|| unauthorized("the Authorization header must be: Bearer <terminal key>"))?;
    let found = state
        .store
        .terminal_by_key_hash(&terminal_key_hash(key))
        .await?
        .ok_or_else(|| unauthorized("unknown or revoked terminal key").with_details(json!({"hint": "create a key with `loyd terminal create`"})))?;
    Ok(state.store.pos_caller(found).await?)
}

/// Writes a refusal to the failure log (guesses are counted by the request that made
/// them, [`attempts::Admitted::settle`]).
async fn log_refusal(state: &AppState, caller: Option<&PosCaller>, op: &'static str, info: Option<ErrorInfo>) {
    let Some(info) = info else { return };
    let failure = NewFailure {
        store: caller.map(|c| c.store.id.to_string()),
        terminal: caller.map(|c| c.terminal.to_string()),
        operation: op,
        code: info.code.as_str().to_owned(),
        message: info.message,
        card: info.card,
        client_id: info.client_id,
    };
    if let Err(e) = state.store.record_failure(failure).await {
        tracing::warn!(error = %e, "could not write the failure log");
    }
}

/// A stored POS answer, replayed byte for byte on retries.
fn reply(r: PosReply) -> Response {
    let status = match r.outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Changed => StatusCode::OK,
    };
    let mut res = (status, [(header::CONTENT_TYPE, "application/json")], r.body).into_response();
    if r.replayed {
        res.headers_mut().insert("idempotent-replay", header::HeaderValue::from_static("true"));
    }
    res
}

fn customer_card(req: &ReceiptRequest) -> Option<String> {
    req.customer.as_ref().and_then(|c| c.card.clone())
}

/// Preview a receipt: no side effects.
#[utoipa::path(post, path = "/v1/pos/calculate", tag = "pos", security(("terminal_key" = [])),
    request_body(content = ReceiptRequest, description = "A receipt (POS-API.md)"),
    responses((status = 200, description = "The receipt as it would be committed", body = ReceiptResponse),
              (status = "4XX", body = ErrorBody)))]
pub async fn calculate(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Json(req): Json<ReceiptRequest>,
) -> Result<Json<ReceiptResponse>, ApiError> {
    let (id, card) = (req.receipt_id.clone(), customer_card(&req));
    let admitted = attempts::check(&state, &caller, Presented::receipt(&req)).await.map_err(|e| e.for_client_id(id.clone()))?;
    admitted.settle(
        state.store.calculate_receipt(caller, req).await.map(Json).map_err(|e| ApiError::from(e).for_client_id(id).for_card(card)),
    )
}

/// Commit a receipt in one transaction. A retry with the same `receipt_id` and body
/// returns the stored response; another body is `409 idempotency_conflict`.
#[utoipa::path(post, path = "/v1/pos/receipts", tag = "pos", security(("terminal_key" = [])),
    request_body(content = ReceiptRequest, description = "A receipt (POS-API.md)"),
    responses((status = 201, description = "Committed: the calculate response plus status and transaction_id", body = ReceiptResponse),
              (status = "4XX", body = ErrorBody)))]
pub async fn commit(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Json(req): Json<ReceiptRequest>,
) -> Result<Response, ApiError> {
    let (id, card) = (req.receipt_id.clone(), customer_card(&req));
    let admitted = attempts::check(&state, &caller, Presented::receipt(&req)).await.map_err(|e| e.for_client_id(id.clone()))?;
    admitted.settle(
        state.store.commit_receipt(caller, req, false).await.map(reply).map_err(|e| ApiError::from(e).for_client_id(id).for_card(card)),
    )
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CancelRequest {
    /// The selling terminal, if not this one.
    #[serde(default)]
    pub terminal: Option<String>,
}

/// Void a committed receipt entirely. Idempotent.
#[utoipa::path(post, path = "/v1/pos/receipts/{receipt_id}/cancel", tag = "pos", security(("terminal_key" = [])),
    params(("receipt_id" = String, Path)),
    request_body(content = Option<CancelRequest>, description = "Optional"),
    responses((status = 200, description = "Cancelled, with what was reversed", body = ReturnResponse),
              (status = "4XX", body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(receipt_id): Path<String>,
    // The body is optional: empty, or {"terminal": "…"}.
    body: Result<OptionalJson<CancelRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let terminal = body.map_err(|e| e.for_client_id(receipt_id.clone()))?.0.and_then(|b| b.terminal);
    state
        .store
        .cancel_receipt(caller, receipt_id.clone(), terminal)
        .await
        .map(reply)
        .map_err(|e| ApiError::from(e).for_client_id(receipt_id))
}

/// Return goods of a committed receipt, fully or partly, as often as needed.
#[utoipa::path(post, path = "/v1/pos/returns", tag = "pos", security(("terminal_key" = [])),
    request_body(content = ReturnRequest, description = "{return_id, receipt_id, lines: [{line, qty}]}"),
    responses((status = 201, description = "What was reversed, per currency and per line", body = ReturnResponse),
              (status = "4XX", body = ErrorBody)))]
pub async fn return_goods(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Json(req): Json<ReturnRequest>,
) -> Result<Response, ApiError> {
    let id = req.return_id.clone();
    state.store.return_goods(caller, req).await.map(reply).map_err(|e| ApiError::from(e).for_client_id(id))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OfflineUpload {
    /// Receipts completed offline, each with its original `at`.
    #[schema(value_type = Vec<ReceiptRequest>, max_items = 1000)]
    pub receipts: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineResult {
    pub receipt_id: Option<String>,
    /// `committed`, `duplicate` (committed before), `refused` (it never will be: see
    /// `error`), or `retry` (not processed now, the database was unavailable or the
    /// server failed: upload it again).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ErrorObject>)]
    pub error: Option<Value>,
    /// The commit response (committed and duplicate receipts).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ReceiptResponse>)]
    pub response: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineReport {
    pub receipts: Vec<OfflineResult>,
}

/// Upload receipts completed offline. Each is committed at its original time with the
/// rules of that time, idempotently; each gets its own answer, and one bad receipt
/// does not block the others.
#[utoipa::path(post, path = "/v1/pos/offline", tag = "pos", security(("terminal_key" = [])),
    request_body = OfflineUpload,
    responses((status = 200, body = OfflineReport), (status = "4XX", body = ErrorBody)))]
pub async fn offline(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    body: Result<OfflineBody, ApiError>,
) -> Result<Json<OfflineReport>, ApiError> {
    let upload = body?.0;
    if upload.receipts.len() > MAX_OFFLINE_RECEIPTS {
        return Err(ApiError::validation(format!("upload at most {MAX_OFFLINE_RECEIPTS} receipts at a time"))
            .with_details(json!({ "field": "receipts", "limit": MAX_OFFLINE_RECEIPTS })));
    }
    let mut results = Vec::with_capacity(upload.receipts.len());
    // Once the database is unavailable the rest would only wait for it in turn.
    let mut unavailable: Option<ApiError> = None;
    for raw in upload.receipts {
        let receipt_id = raw.get("receipt_id").and_then(Value::as_str).map(|id| loyd_domain::text::escaped(id, 160));
        let outcome = match &unavailable {
            Some(e) => Err(e.clone()),
            None => offline_one(&state, &caller, raw).await,
        };
        results.push(match outcome {
            Ok(r) => OfflineResult {
                receipt_id,
                status: if r.replayed { "duplicate" } else { "committed" },
                error: None,
                response: serde_json::from_str(&r.body).ok(),
            },
            Err(e) if e.status().is_server_error() => {
                if e.code == ErrorCode::Unavailable || e.code == ErrorCode::Timeout {
                    unavailable.get_or_insert_with(|| e.clone());
                }
                OfflineResult {
                    receipt_id,
                    status: "retry",
                    error: Some(json!({"code": e.code, "message": e.message})),
                    response: None,
                }
            }
            Err(e) => {
                let e = match &receipt_id {
                    Some(id) => e.for_client_id(id.clone()),
                    None => e,
                };
                log_refusal(&state, Some(&caller), "offline", Some(e.info())).await;
                let mut error = json!({"code": e.code, "message": e.message});
                if let Some(d) = &e.details {
                    error["details"] = d.clone();
                }
                OfflineResult { receipt_id, status: "refused", error: Some(error), response: None }
            }
        });
    }
    Ok(Json(OfflineReport { receipts: results }))
}

/// One receipt of an offline upload, checked and committed on its own.
async fn offline_one(state: &AppState, caller: &PosCaller, raw: Value) -> Result<PosReply, ApiError> {
    if value_has_nul(&raw) {
        return Err(ApiError::validation("the receipt holds a NUL character (\\u0000), which no field accepts"));
    }
    let req = serde_json::from_value::<ReceiptRequest>(raw).map_err(|e| {
        ApiError::validation(format!("the receipt does not match the expected shape: {}", crate::extract::without_values(&e.to_string())))
    })?;
    let card = customer_card(&req);
    let admitted = attempts::check(state, caller, Presented::receipt(&req)).await.map_err(|e| e.for_card(card.clone()))?;
    admitted.settle(state.store.commit_receipt(caller.clone(), req, true).await.map_err(|e| ApiError::from(e).for_card(card)))
}

/// Whether a JSON value holds a NUL in any string or key.
fn value_has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => loyd_domain::text::has_nul(s),
        Value::Array(items) => items.iter().any(value_has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| loyd_domain::text::has_nul(k) || value_has_nul(v)),
        _ => false,
    }
}

/// The offline upload's body. Unlike other bodies it may hold a NUL: the receipt that
/// holds it is refused on its own (`offline_one`).
pub struct OfflineBody(OfflineUpload);

impl<S: Send + Sync> axum::extract::FromRequest<S> for OfflineBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = crate::extract::json_body_allowing_nul(req, state).await?;
        crate::extract::parse_json(&bytes).map(OfflineBody)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CardQuery {
    /// The card's PIN, when its series requires one (gift cards).
    pub pin: Option<String>,
}

/// Balance inquiry: card state, customer (masked), balances, tier, coupons.
#[utoipa::path(get, path = "/v1/pos/cards/{number}", tag = "pos", security(("terminal_key" = [])),
    params(("number" = String, Path), CardQuery),
    responses((status = 200, body = CardInquiry), (status = "4XX", body = ErrorBody)))]
pub async fn card(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(number): Path<String>,
    Query(q): Query<CardQuery>,
) -> Result<Json<CardInquiry>, ApiError> {
    let admitted = attempts::check(&state, &caller, Presented::card(q.pin.is_some())).await.map_err(|e| e.for_card(Some(number.clone())))?;
    admitted.settle(state.store.card_inquiry(caller, number.clone(), q.pin).await.map(Json).map_err(|e| ApiError::from(e).for_card(Some(number))))
}

/// Activate (sell) a gift card for an amount its series allows.
#[utoipa::path(post, path = "/v1/pos/gift-cards/{number}/activate", tag = "pos", security(("terminal_key" = [])),
    params(("number" = String, Path)),
    request_body(content = ActivateRequest, description = "{operation_id, amount}"),
    responses((status = 201, body = ActivateResponse), (status = "4XX", body = ErrorBody)))]
pub async fn activate(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(number): Path<String>,
    Json(req): Json<ActivateRequest>,
) -> Result<Response, ApiError> {
    let id = req.operation_id.clone();
    let admitted =
        attempts::check(&state, &caller, Presented::card(false)).await.map_err(|e| e.for_client_id(id.clone()).for_card(Some(number.clone())))?;
    admitted.settle(
        state
            .store
            .activate_gift_card(caller, number.clone(), req)
            .await
            .map(reply)
            .map_err(|e| ApiError::from(e).for_client_id(id).for_card(Some(number))),
    )
}

/// Register a visit on a pass: `409 pass_exhausted` past its visits.
#[utoipa::path(post, path = "/v1/pos/visits", tag = "pos", security(("terminal_key" = [])),
    request_body(content = VisitRequest, description = "{operation_id, customer: {card}, service}"),
    responses((status = 201, body = VisitResponse), (status = "4XX", body = ErrorBody)))]
pub async fn visit(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Json(req): Json<VisitRequest>,
) -> Result<Response, ApiError> {
    let (id, card) = (req.operation_id.clone(), req.customer.card.clone());
    let admitted = attempts::check(&state, &caller, Presented::visit(&req)).await.map_err(|e| e.for_client_id(id.clone()))?;
    admitted.settle(state.store.register_visit(caller, req).await.map(reply).map_err(|e| ApiError::from(e).for_client_id(id).for_card(card)))
}

#[derive(Serialize, ToSchema)]
pub struct TerminalInfo {
    pub store: String,
    pub store_name: String,
    pub terminal: String,
    /// The store's IANA time zone: receipt times without an offset are not accepted,
    /// but rules with a time of day are evaluated in this zone.
    pub timezone: String,
    /// The money currency of the store's receipts.
    pub currency: String,
    /// Server time, to detect a drifting POS clock.
    #[schema(value_type = String, format = DateTime)]
    pub server_time: Timestamp,
}

/// Tells a terminal who the server thinks it is: the first call of an integration.
#[utoipa::path(get, path = "/v1/pos/terminal", tag = "pos", security(("terminal_key" = [])), responses(
    (status = 200, body = TerminalInfo),
    (status = 401, body = ErrorBody),
))]
pub async fn whoami(State(state): State<AppState>, Extension(Caller(caller)): Extension<Caller>) -> Json<TerminalInfo> {
    Json(TerminalInfo {
        store: caller.store.id.to_string(),
        store_name: caller.store_name,
        terminal: caller.terminal.to_string(),
        timezone: caller.store.timezone.as_str().to_owned(),
        currency: caller.store.currency.to_string(),
        server_time: state.store.now(),
    })
}
