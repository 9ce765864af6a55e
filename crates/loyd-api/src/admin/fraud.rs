//! Fraud alerts: what the `detect_fraud` job found, with its evidence, and staff's
//! decision on each — acknowledged or dismissed with a note, optionally blocking a card.

use loyd_domain::fraud::Severity;
use loyd_domain::program::FraudRule;
use loyd_store::{FraudAlert, FraudDecision, FraudFilter};

use super::*;

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AlertQuery {
    /// `open`, `acknowledged` or `dismissed`.
    pub state: Option<String>,
    /// A rule: `receipts_per_hour`, `stores_per_day`, `return_after_accrual`,
    /// `card_guessing`, `cards_per_phone`, `peer_redemptions`, `peer_manual_entries`.
    pub rule: Option<String>,
    /// `low`, `medium` or `high`.
    pub severity: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// At most 500; default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    #[schema(value_type = Vec<Object>)]
    pub alerts: Vec<FraudAlert>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The states a decision may set.
pub const DECISIONS: [&str; 2] = ["acknowledged", "dismissed"];

/// Checks an alert list's filters and reads the page (the console and the API).
pub(crate) async fn page(state: &AppState, q: AlertQuery) -> Result<AlertPage, ApiError> {
    if let Some(s) = &q.state
        && s != "open"
        && !DECISIONS.contains(&s.as_str())
    {
        return Err(ApiError::validation(format!("state: '{s}' is none of open, acknowledged, dismissed")));
    }
    if let Some(r) = &q.rule
        && FraudRule::parse(r).is_none()
    {
        let known: Vec<&str> = FraudRule::ALL.iter().map(|r| r.name()).collect();
        return Err(ApiError::validation(format!("rule: '{r}' is none of {}", known.join(", "))));
    }
    if let Some(s) = &q.severity
        && Severity::parse(s).is_none()
    {
        return Err(ApiError::validation(format!("severity: '{s}' is none of low, medium, high")));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let alerts = state.store.fraud_alerts(FraudFilter { state: q.state, rule: q.rule, severity: q.severity, before: q.before, limit }).await?;
    let next_before = crate::extract::next_page(&alerts, limit, |a| a.id);
    Ok(AlertPage { alerts, next_before })
}

/// Fraud alerts, newest first.
#[utoipa::path(get, path = "/v1/admin/fraud/alerts", tag = "admin", security(("api_key" = []), ("session" = [])), params(AlertQuery),
    responses((status = 200, body = AlertPage), (status = "4XX", body = ErrorBody)))]
pub async fn alerts(State(state): State<AppState>, Query(q): Query<AlertQuery>) -> Result<Json<AlertPage>, ApiError> {
    Ok(Json(page(&state, q).await?))
}

/// One fraud alert with its evidence.
#[utoipa::path(get, path = "/v1/admin/fraud/alerts/{id}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn alert(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<FraudAlert>, ApiError> {
    Ok(Json(state.store.fraud_alert(id).await?.ok_or_else(|| ApiError::not_found(format!("fraud alert {id} does not exist")))?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `acknowledged` (fraud, or being dealt with) or `dismissed` (not fraud).
    pub state: String,
    /// Why, for whoever reads the alert next (up to 1000 characters).
    #[serde(default)]
    pub note: Option<String>,
    /// A card to block with the decision (needs the cards_manage permission too).
    #[serde(default)]
    pub block_card: Option<String>,
}

/// Checks a decision and records it (the console and the API).
pub(crate) async fn decide(state: &AppState, actor: &Actor, id: i64, d: Decision) -> Result<FraudAlert, ApiError> {
    if !DECISIONS.contains(&d.state.as_str()) {
        return Err(ApiError::validation(format!("state: '{}' is neither acknowledged nor dismissed", d.state)));
    }
    let note = d.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if let Some(n) = &note {
        loyd_domain::text::lines("note", n, 1000).map_err(|e| ApiError::validation(e.to_string()))?;
    }
    let block_card = d.block_card.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if block_card.is_some() && !actor.can(Permission::CardsManage) {
        return Err(ApiError::new(ErrorCode::Forbidden, format!("your role ({}) does not allow blocking cards", actor.principal.role))
            .with_details(json!({ "needs": Permission::CardsManage })));
    }
    Ok(state.store.decide_fraud_alert(id, FraudDecision { state: d.state, note, block_card }, actor.name()).await?)
}

/// Acknowledge or dismiss an alert with a note, optionally blocking a card. Deciding
/// again replaces the decision; each is in the audit log.
#[utoipa::path(post, path = "/v1/admin/fraud/alerts/{id}/decision", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = i64, Path)), request_body = Decision, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn decision(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<i64>, Json(d): Json<Decision>) -> Result<Json<FraudAlert>, ApiError> {
    Ok(Json(decide(&state, &actor, id, d).await?))
}
