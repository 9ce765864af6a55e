//! Messages and webhooks: the webhooks of the program in force with whether their
//! signing secret is set, setting a secret, sending a test event; the SMTP password;
//! the delivery log and sending a dead delivery again. Webhooks, messages and the SMTP
//! server are configuration (`[[webhooks]]`, `[[messages]]`, `[email]` in the program
//! file); sending is [`crate::deliver`].

use loyd_store::{Delivery, DeliveryFilter};

use super::*;
use crate::deliver::secret_name;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    /// When its signing secret was set; absent: none is, and nothing is sent to it.
    #[schema(value_type = Option<String>)]
    pub secret_set_at: Option<Timestamp>,
}

/// The webhooks of `program`, with when each secret of `set` (the channel secrets set)
/// was set (the console and the API).
pub(crate) fn webhooks_of(program: &loyd_domain::program::Program, set: &[(String, Timestamp)]) -> Vec<WebhookOut> {
    program
        .webhooks
        .iter()
        .map(|w| WebhookOut {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.iter().map(|e| e.name().to_owned()).collect(),
            active: w.active,
            secret_set_at: set.iter().find(|(n, _)| *n == secret_name(&w.id)).map(|(_, at)| *at),
        })
        .collect()
}

/// The webhooks of the program in force, and whether each has its secret.
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<WebhookOut>), (status = "4XX", body = ErrorBody)))]
pub async fn webhooks(State(state): State<AppState>) -> Result<Json<Vec<WebhookOut>>, ApiError> {
    Ok(Json(webhooks_of(&*state.store.program().await?, &state.store.channel_secrets_set().await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretIn {
    /// 24 to 200 printable characters without spaces; the receiver keeps the same to
    /// check `Loyd-Signature`. Stored sealed, never shown again.
    pub secret: String,
}

/// Checks and sets a webhook's secret (the console and the API).
pub(crate) async fn set_secret(state: &AppState, actor: &Actor, id: &str, secret: String) -> Result<(), ApiError> {
    if !state.store.program().await?.webhooks.iter().any(|w| w.id == id) {
        return Err(ApiError::not_found(format!("webhook '{id}' is not in the program in force")));
    }
    let len = secret.chars().count();
    if !(24..=200).contains(&len) || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::validation("secret: 24 to 200 characters, no spaces (a long random string)"));
    }
    Ok(state.store.set_channel_secret(secret_name(id), secret, actor.name()).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialIn {
    /// E-mail: the password of the `[email]` section's `username` at the SMTP server.
    /// SMS: the value of the `[sms]` section's `auth_header` (the gateway's key). Stored
    /// sealed, never shown again.
    pub secret: String,
}

/// Checks and sets a channel's credential (the console and the API).
pub(crate) async fn set_credential(state: &AppState, actor: &Actor, channel: &str, secret: String) -> Result<(), ApiError> {
    let program = state.store.program().await?;
    let (configured, used) = match channel {
        "email" => (program.email.is_some(), program.email.as_ref().is_some_and(|e| e.username.is_some())),
        "sms" => (program.sms.is_some(), program.sms.as_ref().is_some_and(|g| g.auth_header.is_some())),
        other => return Err(ApiError::not_found(format!("there is no channel '{other}' (email, sms)"))),
    };
    if !configured {
        return Err(ApiError::not_found(format!("the program has no [{channel}] section: configure it first")));
    }
    if !used {
        return Err(ApiError::validation(format!("the [{channel}] section names no {}", if channel == "email" { "username" } else { "auth_header" })));
    }
    if secret.is_empty() || secret.chars().count() > 500 || secret.chars().any(char::is_control) {
        return Err(ApiError::validation("secret: 1 to 500 characters, no control characters"));
    }
    Ok(state.store.set_channel_secret(channel.to_owned(), secret, actor.name()).await?)
}

/// Sets a channel's credential: `email` (the SMTP password) or `sms` (the gateway's
/// key). Setting it again replaces it; the audit log records that it changed.
#[utoipa::path(put, path = "/v1/admin/channels/{channel}/credential", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("channel" = String, Path)), request_body = CredentialIn, responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn credential(State(state): State<AppState>, actor: CurrentActor, Path(channel): Path<String>, Json(body): Json<CredentialIn>) -> Result<StatusCode, ApiError> {
    set_credential(&state, &actor, &channel, body.secret).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the secret a webhook's deliveries are signed with. Setting it again replaces
/// it; the audit log records that it changed, not what it is.
#[utoipa::path(put, path = "/v1/admin/webhooks/{id}/secret", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), request_body = SecretIn, responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn secret(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Json(body): Json<SecretIn>) -> Result<StatusCode, ApiError> {
    set_secret(&state, &actor, &id, body.secret).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestOut {
    /// The test event; its delivery is in the log within a second or so.
    pub event: i64,
}

/// Sends a `webhook.test` event to this webhook alone, active or not.
#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/test", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), responses((status = 202, body = TestOut), (status = "4XX", body = ErrorBody)))]
pub async fn test(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>) -> Result<(StatusCode, Json<TestOut>), ApiError> {
    let event = state.store.test_webhook(id, actor.name()).await?;
    Ok((StatusCode::ACCEPTED, Json(TestOut { event })))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// One webhook's or message's.
    pub webhook: Option<String>,
    /// `pending`, `delivered`, `dead` or `withheld`.
    pub state: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// At most 500; default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    #[schema(value_type = Vec<Object>)]
    pub deliveries: Vec<Delivery>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The states of a delivery.
pub const STATES: [&str; 4] = ["pending", "delivered", "dead", "withheld"];

/// Checks a delivery list's filters and reads the page (the console and the API).
pub(crate) async fn page(state: &AppState, q: DeliveryQuery) -> Result<DeliveryPage, ApiError> {
    if let Some(s) = &q.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::validation(format!("state: '{s}' is none of {}", STATES.join(", "))));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let deliveries = state.store.deliveries(DeliveryFilter { target: q.webhook, state: q.state, before: q.before, limit }).await?;
    let next_before = crate::extract::next_page(&deliveries, limit, |d| d.id);
    Ok(DeliveryPage { deliveries, next_before })
}

/// Deliveries of events to webhooks and of messages to customers, newest first: each
/// attempt's status (HTTP, or the SMTP server's reply) or error; withheld messages say
/// why (no consent, opted out, no address).
#[utoipa::path(get, path = "/v1/admin/deliveries", tag = "admin", security(("api_key" = []), ("session" = [])), params(DeliveryQuery),
    responses((status = 200, body = DeliveryPage), (status = "4XX", body = ErrorBody)))]
pub async fn deliveries(State(state): State<AppState>, Query(q): Query<DeliveryQuery>) -> Result<Json<DeliveryPage>, ApiError> {
    Ok(Json(page(&state, q).await?))
}

/// Sends a dead delivery again (the receiver was fixed): its attempts start afresh,
/// with the same idempotency key.
#[utoipa::path(post, path = "/v1/admin/deliveries/{id}/retry", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn retry(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<i64>) -> Result<Json<Delivery>, ApiError> {
    state
        .store
        .retry_delivery(id, actor.name())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::Conflict, format!("delivery {id} does not exist or was not given up: only a dead delivery is sent again")))
}
