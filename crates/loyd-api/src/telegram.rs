//! The Telegram bot's webhook: `POST /v1/telegram/updates`, where Telegram posts what
//! customers send the program's bot (registered by
//! `POST /v1/admin/channels/telegram/webhook`). Only Telegram knows the secret it sends
//! back in `X-Telegram-Bot-Api-Secret-Token`; anything else is refused.
//!
//! - `/start TOKEN` — a customer opened their link (`https://t.me/{bot}?start=TOKEN`,
//!   the `telegram_url` of a message, the portal): the chat is connected to them and
//!   their Telegram consent granted (not for a customer who opted out of all
//!   marketing: connected, but nothing is sent).
//! - `/stop`, or blocking the bot — the chat is let go and the consent withdrawn.
//!
//! The bot answers in the customer's language by replying in the webhook's answer (a
//! `sendMessage` Telegram performs), so nothing leaves this server for it. A token that
//! is not one of ours is answered like any other unknown link: it says nothing of who
//! is a customer.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use loyd_store::Connected;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Lang;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/telegram/updates", post(updates))
}

/// What the bot does with one update from Telegram; answers 200 with a reply for the
/// chat, or with nothing to do.
#[utoipa::path(post, path = "/v1/telegram/updates", tag = "telegram",
    request_body(content = Object, description = "A Telegram Bot API `Update`"),
    params(("X-Telegram-Bot-Api-Secret-Token" = String, Header, description = "The secret registered with the webhook")),
    responses((status = 200, description = "Done; the body may be a `sendMessage` for the chat"), (status = 401, body = crate::error::ErrorBody)))]
pub async fn updates(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let given = headers.get("x-telegram-bot-api-secret-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !loyd_store::crypto::same(given, &state.store.telegram_webhook_secret()) {
        return ApiError::new(ErrorCode::Unauthorized, "not Telegram: the webhook's secret is missing or wrong").into_response();
    }
    // Whatever Telegram sends is answered 200, or it sends it again and again.
    let update: Value = serde_json::from_slice(&body).unwrap_or_default();
    match handle(&state, &update).await {
        Ok(Some(reply)) => (StatusCode::OK, axum::Json(reply)).into_response(),
        Ok(None) => (StatusCode::OK, axum::Json(json!({}))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(state: &AppState, update: &Value) -> Result<Option<Value>, ApiError> {
    if state.store.program().await?.telegram.is_none() {
        return Ok(None);
    }
    // Blocking the bot: Telegram says the bot's member status in the chat is `kicked`.
    let member = &update["my_chat_member"];
    if member["new_chat_member"]["status"] == "kicked"
        && let Some(chat) = chat_id(&member["chat"])
    {
        state.store.disconnect_telegram(chat).await?;
        return Ok(None);
    }
    let message = &update["message"];
    let (Some(chat), Some(text)) = (chat_id(&message["chat"]), message["text"].as_str()) else { return Ok(None) };
    if message["chat"]["type"] != "private" {
        return Ok(None);
    }
    // Until a customer is known, the language Telegram's app is in.
    let mut lang = message["from"]["language_code"].as_str().and_then(Lang::parse).unwrap_or(Lang::En);
    let mut words = text.split_whitespace();
    let key = match (words.next(), words.next()) {
        (Some("/start"), Some(token)) => match state.store.connect_telegram(token, chat.clone()).await? {
            Some((customer, done)) => {
                lang = language_of(state, customer).await?.unwrap_or(lang);
                match done {
                    Connected::Consenting => "telegram.connected",
                    Connected::OptedOut => "telegram.connected_opted_out",
                }
            }
            None => "telegram.unknown_link",
        },
        (Some("/start"), None) => "telegram.no_link",
        (Some("/stop"), _) => {
            if let Some(customer) = state.store.disconnect_telegram(chat.clone()).await? {
                lang = language_of(state, customer).await?.unwrap_or(lang);
            }
            "telegram.stopped"
        }
        _ => "telegram.help",
    };
    Ok(Some(json!({ "method": "sendMessage", "chat_id": chat, "text": lang.words().get(key) })))
}

/// The language of a customer's profile, if it is one the bot speaks.
async fn language_of(state: &AppState, customer: i64) -> Result<Option<Lang>, ApiError> {
    Ok(state.store.customer(customer).await?.and_then(|c| c.profile.get("language").and_then(|l| Lang::parse(l))))
}

/// A chat's id as text (Telegram's ids are integers up to 52 bits).
fn chat_id(chat: &Value) -> Option<String> {
    chat["id"].as_i64().map(|id| id.to_string())
}
