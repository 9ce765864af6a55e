//! Messages and webhooks: the webhooks of the program in force with whether their
//! signing secret is set, setting a secret, sending a test event; the SMTP password;
//! the delivery log and sending a dead delivery again. Webhooks, messages and the SMTP
//! server are configuration (`[[webhooks]]`, `[[messages]]`, `[email]` in the program
//! file); sending is [`crate::deliver`].

use loyd_store::{Delivery, DeliveryFilter};

use super::*;
use crate::deliver::secret_name;
use loyd_domain::messages::Channel;

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
    /// SMS, Viber, WhatsApp: the value of the gateway's `auth_header` (its key).
    /// Telegram: the bot's token (`123456:ABC…` from @BotFather). Stored sealed, never
    /// shown again.
    pub secret: String,
}

/// Checks and sets a channel's credential (the console and the API).
pub(crate) async fn set_credential(state: &AppState, actor: &Actor, channel: &str, secret: String) -> Result<(), ApiError> {
    let program = state.store.program().await?;
    let Some(ch) = Channel::parse(channel).filter(|c| *c != Channel::Portal) else {
        return Err(ApiError::not_found(format!("there is no channel '{channel}' with a credential (email, sms, viber, whatsapp, telegram)")));
    };
    if !program.has_channel(ch) {
        return Err(ApiError::not_found(format!("the program has no [{channel}] section: configure it first")));
    }
    let used = match ch {
        Channel::Email => program.email.as_ref().is_some_and(|e| e.username.is_some()),
        Channel::Telegram | Channel::Portal => true,
        _ => program.gateway(ch).is_some_and(|g| g.auth_header.is_some()),
    };
    if !used {
        return Err(ApiError::validation(format!("the [{channel}] section names no {}", if ch == Channel::Email { "username" } else { "auth_header" })));
    }
    if secret.is_empty() || secret.chars().count() > 500 || secret.chars().any(char::is_control) {
        return Err(ApiError::validation("secret: 1 to 500 characters, no control characters"));
    }
    if ch == Channel::Telegram && !is_bot_token(&secret) {
        return Err(ApiError::validation("secret: a bot's token reads 123456789:AAE… (digits, ':', then letters, digits, '_' and '-')"));
    }
    Ok(state.store.set_channel_secret(channel.to_owned(), secret, actor.name()).await?)
}

/// Whether `token` has the shape of a Telegram bot's token: the bot's id, `:`, a key.
fn is_bot_token(token: &str) -> bool {
    token.split_once(':').is_some_and(|(id, key)| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && key.len() >= 20 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// Sets a channel's credential: `email` (the SMTP password), `sms`, `viber`, `whatsapp`
/// (the gateway's key) or `telegram` (the bot's token). Setting it again replaces it;
/// the audit log records that it changed.
#[utoipa::path(put, path = "/v1/admin/channels/{channel}/credential", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("channel" = String, Path)), request_body = CredentialIn, responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn credential(State(state): State<AppState>, actor: CurrentActor, Path(channel): Path<String>, Json(body): Json<CredentialIn>) -> Result<StatusCode, ApiError> {
    set_credential(&state, &actor, &channel, body.secret).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TelegramWebhookOut {
    /// Where Telegram now posts the bot's updates: this server's
    /// `/v1/telegram/updates`.
    pub url: String,
    /// What the Bot API answered (`Webhook was set`).
    pub answer: String,
}

/// Registers this server as the bot's webhook (the Bot API's `setWebhook`, with the
/// secret Telegram sends back on every update), so that customers who start the bot
/// with their link are connected (the console and the API).
pub(crate) async fn connect_telegram(state: &AppState) -> Result<TelegramWebhookOut, ApiError> {
    let program = state.store.program().await?;
    let Some(bot) = &program.telegram else {
        return Err(ApiError::not_found("the program has no [telegram] section: configure it first"));
    };
    let Some(token) = state.store.channel_secret(Channel::Telegram.name()).await? else {
        return Err(ApiError::validation("the bot's token is not set: set the telegram credential first"));
    };
    let url = format!("{}/v1/telegram/updates", state.config.public_url.trim_end_matches('/'));
    let body = serde_json::json!({
        "url": url,
        "secret_token": state.store.telegram_webhook_secret(),
        "allowed_updates": ["message", "my_chat_member"],
    });
    let sender = crate::deliver::Sender::new(&state.config.public_url);
    match sender.telegram(bot, &token, "setWebhook", body).await {
        Ok((status, answer)) if (200..300).contains(&status) && answer["ok"] == serde_json::Value::Bool(true) => {
            Ok(TelegramWebhookOut { url, answer: answer["description"].as_str().unwrap_or("ok").to_owned() })
        }
        Ok((status, answer)) => Err(ApiError::new(
            crate::error::ErrorCode::Unavailable,
            format!("the Bot API refused the webhook ({status}): {}", answer["description"].as_str().unwrap_or("no reason given")),
        )),
        Err(failed) => Err(ApiError::new(crate::error::ErrorCode::Unavailable, format!("the Bot API could not be reached: {}", failed.error.unwrap_or_default()))),
    }
}

/// Registers this server's `/v1/telegram/updates` as the bot's webhook
/// (`public_url` must reach it over HTTPS from Telegram).
#[utoipa::path(post, path = "/v1/admin/channels/telegram/webhook", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = TelegramWebhookOut), (status = "4XX", body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn telegram_webhook(State(state): State<AppState>) -> Result<Json<TelegramWebhookOut>, ApiError> {
    Ok(Json(connect_telegram(&state).await?))
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// The event that sends it (`points.expiring`): its sample figures fill the text.
    pub event: String,
    /// `email`, `sms`, `viber`, `whatsapp`, `telegram` or `portal`.
    pub channel: String,
    /// By language, as a message has them.
    #[schema(value_type = Object)]
    pub texts: BTreeMap<String, loyd_domain::messages::TextSpec>,
    /// `c_12`: the customer whose data fills the texts (masked for a role without
    /// contact data); absent: a sample customer.
    pub customer: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewText {
    pub language: String,
    pub subject: String,
    pub body: String,
    /// The e-mail's HTML part.
    pub html: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    /// Whose data filled the texts: `c_12`, or `sample`.
    pub customer: String,
    /// The event's sample figures the texts read.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub texts: Vec<PreviewText>,
}

/// A message's texts rendered as they would be sent: for a sample customer or a real
/// one, with sample figures of the event; checked first like a saved message (a text
/// reading what it may not is refused at its field). Nothing is sent or saved (the
/// console's preview and the API).
pub(crate) async fn preview(state: &AppState, actor: &Actor, input: PreviewIn) -> Result<PreviewOut, ApiError> {
    use loyd_domain::config::ConfigError;
    use loyd_domain::events::EventKind;
    use loyd_domain::messages;

    let mut problems = Vec::new();
    let event = EventKind::parse(&input.event).filter(|k| EventKind::subscribable().any(|n| n == k.name()));
    if event.is_none() {
        problems.push(ConfigError::said("event", loyd_domain::said::unknown_event(&input.event, EventKind::subscribable().collect::<Vec<_>>().join(", "))));
    }
    let channel = Channel::parse(&input.channel);
    if channel.is_none() {
        let all: Vec<&str> = Channel::ALL.iter().map(|c| c.name()).collect();
        problems.push(ConfigError::text("channel", format!("'{}' is not a channel ({})", input.channel, all.join(", "))));
    }
    let (Some(event), Some(channel)) = (event, channel) else {
        return Err(loyd_store::StoreError::Config(problems).into());
    };
    let program = state.store.program().await?;
    let currencies: Vec<String> = program.currencies.keys().map(|c| c.to_string()).collect();
    problems.extend(messages::check_texts(&input.texts, channel, Some(event), &currencies).into_iter().map(|(path, said)| ConfigError::said(path, said)));
    if !problems.is_empty() {
        return Err(loyd_store::StoreError::Config(problems).into());
    }
    let (who, customer, real) = match &input.customer {
        Some(given) => {
            let id = super::customer_id(given)?;
            let Some(c) = state.store.customer(id).await?.filter(|c| c.merged_into.is_none()) else {
                return Err(ApiError::not_found(format!("no customer {}", CustomerId(id))));
            };
            let clear = actor.can(Permission::ContactsRead);
            let masked = |v: Option<String>, mask: fn(&str) -> String| v.map(|v| if clear { v } else { mask(&v) });
            let json = json!({
                "id": CustomerId(id).to_string(),
                "name": masked(c.name, mask_name),
                "email": masked(c.email, mask_email),
                "phone": masked(c.phone, mask_phone),
            });
            (CustomerId(id).to_string(), json, Some(id))
        }
        None => ("sample".to_owned(), json!({"id": "c_0", "name": "Anna Ozola", "email": "anna@example.lv", "phone": "+37120000000"}), None),
    };
    let currency = program.currencies.iter().find(|(_, c)| c.kind == loyd_domain::program::CurrencyKind::Points).map_or("bonus".to_owned(), |(code, _)| code.to_string());
    let today = state.store.now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let data = messages::sample_data(event, &currency, today);
    let public = state.config.public_url.trim_end_matches('/');
    let unsubscribe = format!("{public}/unsubscribe/…");
    let telegram = program.telegram.as_ref().map(|t| format!("https://t.me/{}?start=…", t.bot)).unwrap_or_default();
    // A receipt's event happens at a store: the first, for the sample.
    let first_store = state.store.stores().await?.into_iter().next();
    let mut texts = Vec::new();
    for (language, text) in &input.texts {
        let mut customer = customer.clone();
        customer["language"] = language.clone().into();
        let mut context = messages::customer_context(customer, &unsubscribe, &telegram, event, &data);
        match real {
            // The customer's own card and balances, as a message to them would show.
            Some(id) => crate::deliver::holdings(&state.store, &program, id, text, &mut context).await.map_err(|e| ApiError::new(crate::error::ErrorCode::Unavailable, e))?,
            None => {
                context["card"] = json!({ "number": "2770000000012" });
                context["balances"] = program.currencies.keys().map(|c| (c.to_string(), json!("320"))).collect::<serde_json::Map<_, _>>().into();
            }
        }
        if let (Some(s), true) = (&first_store, EventKind::OF_RECEIPTS.contains(&event)) {
            context["store"] = json!({ "id": s.id.to_string(), "name": s.name });
        }
        let r = messages::render_text(text, &context, None)
            .map_err(|e| loyd_store::StoreError::Config(vec![ConfigError::text(format!("texts.{language}"), format!("does not render: {e}"))]))?;
        texts.push(PreviewText { language: language.clone(), subject: r.subject, body: r.body, html: r.html });
    }
    Ok(PreviewOut { customer: who, data, texts })
}

/// Renders a message's texts for a sample or a real customer with its event's sample
/// figures, without sending or saving anything.
#[utoipa::path(post, path = "/v1/admin/messages/preview", tag = "admin", security(("api_key" = []), ("session" = [])),
    request_body = PreviewIn, responses((status = 200, body = PreviewOut), (status = "4XX", body = ErrorBody)))]
pub async fn preview_message(State(state): State<AppState>, actor: CurrentActor, Json(input): Json<PreviewIn>) -> Result<Json<PreviewOut>, ApiError> {
    Ok(Json(preview(&state, &actor, input).await?))
}
