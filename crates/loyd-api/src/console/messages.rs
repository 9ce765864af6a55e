//! Messages and webhooks: the SMTP server, the gateways (SMS, Viber, WhatsApp) and the
//! Telegram bot, each with a form for its credential (and the bot's "connect"), the messages
//! and the events that send them, the webhooks with whether their secret is set (a
//! form to set it, a test event), and the delivery log with "send again" for
//! deliveries given up — through the same functions as the admin API
//! ([`crate::admin::messages`]). Messages, webhooks and the SMTP server are edited as
//! program objects (`/admin/program/…`) or in the program file.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;
use loyd_domain::messages::Channel;
use loyd_store::Delivery;
use serde::Deserialize;

use super::failures::url_escape;
use super::{CsrfForm, Frame, Session, allowed, checked, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::messages::{DeliveryQuery, STATES, WebhookOut, page as deliveries_page, set_credential, set_secret, webhooks_of};
use crate::i18n::Lang;

const PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    webhook: String,
    #[serde(default)]
    state: String,
    before: Option<i64>,
    lang: Option<String>,
}

struct HookView {
    id: String,
    url: String,
    events: String,
    active: bool,
    /// When the secret was set, or empty.
    secret_set: String,
}

struct DeliveryView {
    id: i64,
    at: String,
    event: &'static str,
    subject: String,
    webhook: String,
    channel: String,
    state: String,
    dead: bool,
    attempts: i64,
    /// The last answer: an HTTP status or what went wrong.
    last: String,
    /// When it is tried next (pending ones).
    next: String,
}

struct MessageView {
    id: String,
    event: &'static str,
    channel: &'static str,
    languages: String,
    transactional: bool,
    paused: bool,
}

/// The SMTP server, as configured.
struct EmailView {
    server: String,
    from: String,
    username: String,
    /// When its password was set, or empty.
    password_set: String,
}

/// A gateway (SMS, Viber, WhatsApp): its section and, when configured, its address.
struct GatewayView {
    /// `sms`, `viber`, `whatsapp`: the section, the credential's name, the ids.
    channel: &'static str,
    /// Empty: the program has no such section.
    url: String,
    header: String,
    /// When its key was set, or empty.
    key_set: String,
}

/// The Telegram bot, as configured.
struct TelegramView {
    bot: String,
    /// When its token was set, or empty.
    token_set: String,
    /// Where Telegram posts the bot's updates once it is connected.
    updates_url: String,
}

#[derive(Template)]
#[template(path = "console/messages.html")]
struct MessagesPage {
    f: Frame,
    s: Session,
    email: Option<EmailView>,
    gateways: Vec<GatewayView>,
    telegram: Option<TelegramView>,
    messages: Vec<MessageView>,
    hooks: Vec<HookView>,
    deliveries: Vec<DeliveryView>,
    states: Vec<(&'static str, String)>,
    webhook: String,
    state: String,
    older: Option<String>,
    can_change: bool,
    /// What was just done, or refused.
    notice: Option<String>,
    error: Option<String>,
}

fn at(lang: Lang, ts: jiff::Timestamp) -> String {
    lang.moment(ts, "%H:%M:%S")
}

fn hook_view(lang: Lang, w: WebhookOut) -> HookView {
    HookView { id: w.id, url: w.url, events: w.events.join(", "), active: w.active, secret_set: w.secret_set_at.map(|t| at(lang, t)).unwrap_or_default() }
}

fn delivery_view(lang: Lang, d: Delivery) -> DeliveryView {
    let t = lang.words();
    // A webhook's or gateway's HTTP status, an SMTP server's reply code.
    let protocol = if d.channel == "email" { "SMTP" } else { "HTTP" };
    let last = match (d.last_status, &d.last_error) {
        (Some(s), Some(e)) => format!("{protocol} {s}: {e}"),
        (Some(s), None) => format!("{protocol} {s}"),
        (None, Some(e)) => e.clone(),
        (None, None) => String::new(),
    };
    DeliveryView {
        id: d.id,
        at: at(lang, d.created_at),
        event: d.event.name(),
        subject: d.subject,
        webhook: d.target,
        channel: d.channel,
        state: t.get(&format!("webhooks.state.{}", d.state)).to_owned(),
        dead: d.state == "dead",
        attempts: d.attempts,
        last,
        next: if d.state == "pending" { at(lang, d.next_at) } else { String::new() },
    }
}

async fn show(state: &AppState, headers: &HeaderMap, q: Filters, notice: Option<String>, refused: Option<String>) -> Response {
    let lang = lang_of(headers, q.lang.as_deref());
    let (actor, secret) = match allowed(state, headers, lang, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let mut error = refused;
    let program = match state.store.program().await {
        Ok(p) => Some(p),
        Err(e) => {
            error = Some(super::refusal(t, &e.into()));
            None
        }
    };
    let secrets = match state.store.channel_secrets_set().await {
        Ok(s) => s,
        Err(e) => {
            error = Some(super::refusal(t, &e.into()));
            Vec::new()
        }
    };
    let email = program.as_ref().and_then(|p| p.email.as_ref()).map(|e| EmailView {
        server: format!("{}:{} ({:?})", e.host, e.port.unwrap_or(e.security.default_port()), e.security).to_lowercase(),
        from: e.from.clone(),
        username: e.username.clone().unwrap_or_default(),
        password_set: secrets.iter().find(|(n, _)| n == "email").map(|(_, t)| at(lang, *t)).unwrap_or_default(),
    });
    let set_at = |name: &str| secrets.iter().find(|(n, _)| n == name).map(|(_, t)| at(lang, *t)).unwrap_or_default();
    let gateways = [Channel::Sms, Channel::Viber, Channel::Whatsapp]
        .into_iter()
        .map(|ch| {
            let g = program.as_ref().and_then(|p| p.gateway(ch));
            GatewayView {
                channel: ch.name(),
                url: g.map(|g| g.url.clone()).unwrap_or_default(),
                header: g.and_then(|g| g.auth_header.clone()).unwrap_or_default(),
                key_set: set_at(ch.name()),
            }
        })
        .collect();
    let telegram = program.as_ref().and_then(|p| p.telegram.as_ref()).map(|t| TelegramView {
        bot: t.bot.clone(),
        token_set: set_at(Channel::Telegram.name()),
        updates_url: format!("{}/v1/telegram/updates", state.config.public_url.trim_end_matches('/')),
    });
    let messages = program
        .as_ref()
        .map(|p| {
            p.messages
                .iter()
                .map(|m| MessageView {
                    id: m.id.clone(),
                    event: m.event.name(),
                    channel: m.channel.name(),
                    languages: m.texts.keys().cloned().collect::<Vec<_>>().join(", "),
                    transactional: m.transactional,
                    paused: m.paused,
                })
                .collect()
        })
        .unwrap_or_default();
    let hooks = program.as_ref().map(|p| webhooks_of(p, &secrets).into_iter().map(|w| hook_view(lang, w)).collect()).unwrap_or_default();
    let query = DeliveryQuery { webhook: filled(&q.webhook), state: filled(&q.state), before: q.before, limit: Some(PAGE) };
    let (deliveries, older) = match deliveries_page(state, query).await {
        Ok(p) => {
            let keep = |k: &str, v: &str| if v.trim().is_empty() { String::new() } else { format!("&{k}={}", url_escape(v.trim())) };
            let older = p.next_before.map(|b| format!("/admin/messages?before={b}{}{}", keep("webhook", &q.webhook), keep("state", &q.state)));
            (p.deliveries.into_iter().map(|d| delivery_view(lang, d)).collect(), older)
        }
        Err(e) => {
            error = Some(super::refusal(t, &e));
            (Vec::new(), None)
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let view = MessagesPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, t, "/admin/messages"),
        email,
        gateways,
        telegram,
        messages,
        hooks,
        deliveries,
        states: STATES.into_iter().map(|k| (k, t.get(&format!("webhooks.state.{k}")).to_owned())).collect(),
        webhook: q.webhook.trim().to_owned(),
        state: q.state.trim().to_owned(),
        older,
        can_change: actor.can(Permission::ConfigWrite),
        notice,
        error,
    };
    let mut res = render(status, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Filters>) -> Response {
    show(&state, &headers, q, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct SecretForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    csrf: String,
}

/// Sets a webhook's secret; a refused one is shown with what to fix (never echoed).
pub async fn secret(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<SecretForm>) -> Response {
    let (lang, actor, _) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match set_secret(&state, &actor, &id, form.secret.trim().to_owned()).await {
        Ok(()) => show(&state, &headers, Filters::default(), Some(lang.words().get("webhooks.secret_saved").replace("{webhook}", &id)), None).await,
        Err(e) => show(&state, &headers, Filters::default(), None, Some(format!("{id}: {}", super::refusal(lang.words(), &e)))).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct CredentialForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    csrf: String,
}

/// Sets a channel's credential (the SMTP password, the SMS gateway's key); never echoed.
pub async fn credential(State(state): State<AppState>, headers: HeaderMap, Path(channel): Path<String>, Form(form): Form<CredentialForm>) -> Response {
    let (lang, actor, _) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match set_credential(&state, &actor, &channel, form.secret).await {
        Ok(()) => show(&state, &headers, Filters::default(), Some(lang.words().get("messages.credential_saved").replace("{channel}", &channel)), None).await,
        Err(e) => show(&state, &headers, Filters::default(), None, Some(super::refusal(lang.words(), &e))).await,
    }
}

/// Registers this server as the Telegram bot's webhook and says where, or why not.
pub async fn connect_telegram(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let (lang, _, _) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match crate::admin::messages::connect_telegram(&state).await {
        Ok(done) => show(&state, &headers, Filters::default(), Some(lang.words().get("messages.bot_connected").replace("{url}", &done.url)), None).await,
        Err(e) => show(&state, &headers, Filters::default(), None, Some(super::refusal(lang.words(), &e))).await,
    }
}

/// Sends a test event to one webhook and shows the log, where its delivery appears.
pub async fn test(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Response {
    let (lang, actor, _) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match state.store.test_webhook(id.clone(), actor.name()).await {
        Ok(_) => show(&state, &headers, Filters::default(), Some(lang.words().get("webhooks.test_sent").replace("{webhook}", &id)), None).await,
        Err(e) => show(&state, &headers, Filters::default(), None, Some(super::refusal(lang.words(), &e.into()))).await,
    }
}

/// Sends a dead delivery again.
pub async fn retry(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Form<CsrfForm>) -> Response {
    let (_, actor, _) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match state.store.retry_delivery(id, actor.name()).await {
        Ok(_) => Redirect::to("/admin/messages").into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
