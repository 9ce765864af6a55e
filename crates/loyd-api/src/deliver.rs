//! Sending what the outbox holds: events to the webhooks that want them, and messages
//! to customers (e-mail over SMTP, SMS through an HTTP gateway). Each pass
//! dispatches new events into deliveries, claims the deliveries that are due (for a
//! lease, so several servers never send the same one at once), posts each, signed,
//! outside any transaction, and records how it ended; the store decides when a failed
//! one is tried again (`loyd_domain::events::retry_after`). `loyd serve` runs
//! [`deliver_all`] every interval; `loyd jobs run` once.
//!
//! What a receiver gets: `POST` of the JSON [`loyd_domain::events::body`] with
//! `Idempotency-Key` (the same on every attempt: a receiver that saw it already answers
//! 2xx and does nothing), `Loyd-Event` and `Loyd-Signature`
//! ([`loyd_domain::events::signature`]). A delivery whose webhook has no secret set is
//! not sent: it fails, and is tried again once one is set.
//!
//! A message is rendered when it is sent, for the customer as they are then: an
//! opted-out customer, one without the channel's consent (unless the message is
//! transactional) or without an address is not written to, and the delivery is
//! withheld for good. An e-mail carries the delivery's key as its `Message-ID` (the
//! same on a repeat), a text and an HTML part, and `List-Unsubscribe` with one-click
//! unsubscribing (RFC 8058) that withdraws the e-mail consent without a login.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::Request;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use loyd_domain::events;
use loyd_domain::ids::CustomerId;
use loyd_domain::messages::{self, Channel};
use loyd_domain::program::{EmailSpec, GatewaySpec, Program, SmtpSecurity, TelegramSpec};
use loyd_store::{Attempt, DueDelivery, Mailing, Store, StoreError};
use serde_json::json;

/// Deliveries one pass claims (and sends at once).
const CLAIM: u32 = 32;

/// Steps (a batch of customers enqueued, a change of state) each mailing is moved by in
/// one pass.
const MAILING_STEPS: u32 = 5;

/// How long a claim holds: a worker that died lets its deliveries go after it.
const LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Events one dispatch makes deliveries of.
const DISPATCH: u32 = 500;

/// The HTTP client of deliveries: TLS (rustls on ring) trusting the system's
/// certificates, no redirects (a receiver that moved is a failure the log shows, not a
/// silent post elsewhere), a time limit on every attempt.
#[derive(Clone)]
pub struct Sender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Where customers reach this server (unsubscribe links): `https://loyalty.shop.example`.
    public_url: String,
    smtp: SmtpCache,
}

impl Sender {
    /// A sender whose links point at `public_url`.
    pub fn new(public_url: &str) -> Sender {
        // ring lacks post-quantum key exchange (hence deprecated); aws-lc would need
        // cmake and a long C build on every machine that builds Loyd.
        #[allow(deprecated)]
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        // The system's certificates; those that do not read are skipped, and with none
        // at all an https receiver fails at its attempt, saying why.
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!(error = %e, "a system certificate could not be read; webhooks over https will not trust it");
        }
        roots.add_parsable_certificates(native.certs);
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().wrap_connector(http);
        Sender { client: Client::builder(TokioExecutor::new()).build(https), public_url: public_url.trim_end_matches('/').to_owned(), smtp: SmtpCache::default() }
    }

    /// Sends `body` to `url` with `method`, the delivery's idempotency `key` and the
    /// headers `more`, within [`TIMEOUT`]: the answer, or the failed attempt.
    async fn send(
        &self,
        (method, url): (&str, &str),
        content_type: &str,
        key: &str,
        more: Vec<(&str, String)>,
        body: String,
    ) -> Result<axum::http::Response<impl axum::body::HttpBody<Data = Bytes>>, Attempt> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", content_type)
            .header("user-agent", concat!("loyd/", env!("CARGO_PKG_VERSION")))
            .header("idempotency-key", key);
        for (name, value) in more {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|e| Attempt::failed(format!("the request could not be made: {e}")))?;
        match tokio::time::timeout(TIMEOUT, self.client.request(request)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(Attempt::failed(error_chain(&e))),
            Err(_) => Err(Attempt::failed(format!("no answer within {} s", TIMEOUT.as_secs()))),
        }
    }

    /// Posts one delivery to `url`, signed with `secret` at `now`. The answer's body is
    /// not read: the status is the answer.
    async fn post(&self, url: &str, secret: &str, d: &DueDelivery, now: jiff::Timestamp) -> Attempt {
        let body = events::body(&d.key, d.event, d.created_at, &d.data);
        let signature = events::signature(secret.as_bytes(), now.as_second(), &body);
        let more = vec![("loyd-event", d.event.name().to_owned()), ("loyd-signature", signature)];
        match self.send(("POST", url), "application/json", &d.key, more, body).await {
            Ok(answer) => Attempt::answered(answer.status().as_u16()),
            Err(failed) => failed,
        }
    }
}

/// An error with its causes (a refused connection says so only in its source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// One pass: dispatches new events, moves the mailings on (a few batches each), then
/// claims what is due and sends it; returns the attempts made.
pub async fn deliver_once(store: &Store, sender: &Sender) -> Result<usize, StoreError> {
    while store.dispatch_events(DISPATCH).await? == DISPATCH as usize {}
    store.advance_mailings(MAILING_STEPS).await?;
    let due = store.claim_deliveries(CLAIM, LEASE).await?;
    let program = store.program().await?;
    // The mailings of this pass's deliveries, read once.
    let mut mailings = std::collections::BTreeMap::new();
    for id in due.iter().filter_map(|d| d.mailing.as_ref().map(|m| m.mailing)) {
        if let std::collections::btree_map::Entry::Vacant(e) = mailings.entry(id) {
            e.insert(store.mailing(id).await?);
        }
    }
    let mailings = std::sync::Arc::new(mailings);
    let mut sends = tokio::task::JoinSet::new();
    for d in due {
        let (store, sender, program, mailings) = (store.clone(), sender.clone(), program.clone(), mailings.clone());
        sends.spawn(async move {
            let mailing = d.mailing.as_ref().and_then(|m| mailings.get(&m.mailing)).and_then(Option::as_ref);
            let attempt = match d.channel.as_str() {
                "webhook" => sender.webhook(&store, &program, &d).await,
                channel if Channel::parse(channel).is_some() => sender.message(&store, &program, &d, mailing).await,
                other => Attempt::failed(format!("no channel '{other}'")),
            };
            if let Some(until) = attempt.defer_until {
                tracing::debug!(delivery = d.id, %until, "a message waits for the end of quiet hours");
            } else if attempt.withheld {
                tracing::info!(delivery = d.id, target = %d.target, reason = attempt.error.as_deref().unwrap_or_default(), "a message was withheld");
            } else if let Some(e) = &attempt.error {
                tracing::warn!(delivery = d.id, target = %d.target, error = %e, "a delivery failed; it will be tried again");
            } else if !attempt.status.is_some_and(events::delivered) {
                tracing::warn!(delivery = d.id, target = %d.target, status = attempt.status, "a receiver refused a delivery; it will be tried again");
            }
            (d.id, attempt)
        });
    }
    // Recorded together, in one transaction, once the pass's sends have ended.
    let mut attempts = Vec::new();
    while let Some(done) = sends.join_next().await {
        match done {
            Ok(attempt) => attempts.push(attempt),
            Err(e) => tracing::error!(error = %e, "a delivery task stopped"),
        }
    }
    let made = attempts.len();
    if made > 0 {
        store.record_attempts(attempts).await?;
    }
    Ok(made)
}

/// Passes until nothing is due now (for `loyd jobs run`); the attempts made.
pub async fn deliver_all(store: &Store, sender: &Sender) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = deliver_once(store, sender).await?;
        total += n;
        if n < CLAIM as usize {
            return Ok(total);
        }
    }
}

impl Sender {
    /// Posts an event to its webhook, signed.
    async fn webhook(&self, store: &Store, program: &Program, d: &DueDelivery) -> Attempt {
        let Some(url) = program.webhooks.iter().find(|w| w.id == d.target).map(|w| w.url.clone()) else {
            return Attempt::failed(format!("webhook '{}' is not in the program in force", d.target));
        };
        match store.channel_secret(&secret_name(&d.target)).await {
            Err(e) => Attempt::failed(format!("its secret could not be read: {e}")),
            Ok(None) => Attempt::failed(format!("webhook '{}' has no secret set, so nothing is signed", d.target)),
            Ok(Some(secret)) => self.post(&url, &secret, d, store.now()).await,
        }
    }

    /// The message of delivery `d` (of an event's message, or of `mailing`), rendered for
    /// its customer as they are now — or the attempt that says why it is not sent now.
    async fn prepare(&self, store: &Store, program: &Program, d: &DueDelivery, mailing: Option<&Mailing>) -> Result<Prepared, Attempt> {
        // What is sent: an event's message of the program, or a mailing's variant.
        let source = match (&d.mailing, mailing) {
            (Some(_), Some(m)) if m.state == "cancelled" => return Err(Attempt::withheld("the mailing was cancelled")),
            (Some(of), Some(m)) => Source::Mailing(m, of),
            (Some(of), None) => return Err(Attempt::failed(format!("mailing {} is not there", of.mailing))),
            (None, _) => match program.messages.iter().find(|m| m.id == d.target) {
                Some(message) => Source::Message(message),
                None => return Err(Attempt::failed(format!("message '{}' is not in the program in force", d.target))),
            },
        };
        // A certificate's recipient, whoever asked for a sign-in code, or a staff member:
        // no customer to read.
        if let Source::Message(message) = source
            && message.event.to_no_customer()
        {
            return if message.event.to_address() { to_address(message, d) } else { self.task_due(store, message, d).await };
        }
        let (id, channel, transactional) = match source {
            Source::Mailing(m, of) => (of.customer, m.channel, false),
            Source::Message(message) => {
                let Some(id) = d.subject.strip_prefix("customer:").and_then(|s| s.parse::<i64>().ok()) else {
                    return Err(Attempt::withheld(format!("'{}' is not a customer", d.subject)));
                };
                (id, message.channel, message.transactional)
            }
        };
        let customer = match store.customer(id).await {
            Ok(Some(c)) if c.merged_into.is_none() => c,
            Ok(_) => return Err(Attempt::withheld("the customer is gone or merged into another")),
            Err(e) => return Err(Attempt::failed(format!("the customer could not be read: {e}"))),
        };
        let address = match channel {
            Channel::Email => customer.email.clone(),
            Channel::Sms | Channel::Viber | Channel::Whatsapp => customer.phone.clone(),
            Channel::Telegram => customer.telegram.clone(),
            // Kept for the customer themselves.
            Channel::Portal => Some(CustomerId(id).to_string()),
        };
        let consented = channel.consent().is_none_or(|ch| customer.consents.get(ch).is_some_and(|c| c.granted));
        if let Err(why) = messages::may_send(transactional, customer.opted_out_at.is_some(), consented, address.as_deref()) {
            return Err(Attempt::withheld(why.reason()));
        }
        if let Some(limit) = program.customer_limit(channel).filter(|_| !transactional) {
            match store.messages_sent(id, channel.name(), limit.days).await {
                Ok(n) if n >= i64::from(limit.count) => {
                    return Err(Attempt::withheld(format!("the customer has had {n} messages on this channel within {} days (the limit)", limit.days)));
                }
                Ok(_) => {}
                Err(e) => return Err(Attempt::failed(format!("the customer's messages could not be counted: {e}"))),
            }
        }
        let language = customer.profile.get("language").map(String::as_str);
        let text = match source {
            Source::Mailing(m, of) => {
                if let Some(quiet) = &m.spec.quiet_hours {
                    let zone = match store.customer_zone(id).await {
                        Ok(z) => z.or_else(|| m.spec.time_zone.clone()),
                        Err(e) => return Err(Attempt::failed(format!("the customer's time zone could not be read: {e}"))),
                    };
                    let zone = zone.and_then(|z| jiff::tz::TimeZone::get(&z).ok()).unwrap_or(jiff::tz::TimeZone::UTC);
                    if let Some(until) = quiet.until(store.now(), &zone) {
                        return Err(Attempt::deferred(until, "the customer's quiet hours"));
                    }
                }
                m.spec.variants.iter().find(|v| v.name == of.variant).and_then(|v| v.text_for(language))
            }
            Source::Message(message) => message.text_for(language),
        };
        let Some((language, text)) = text else {
            return Err(Attempt::failed("the message has no text"));
        };
        // The portal's notifications need no consent, so there is nothing to stop.
        let unsubscribe = channel.consent().map(|ch| format!("{}/unsubscribe/{}", self.public_url, store.unsubscribe_token(id, ch)));
        let telegram = program.telegram.as_ref().map(|t| format!("https://t.me/{}?start={}", t.bot, store.telegram_token(id)));
        let customer_json = json!({
            "id": CustomerId(id).to_string(),
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "language": language,
        });
        let mut context = messages::customer_context(customer_json, unsubscribe.as_deref().unwrap_or_default(), &telegram.unwrap_or_default(), d.event, &d.data);
        holdings(store, program, id, text, &mut context).await.map_err(Attempt::failed)?;
        // A mailing's links go through this server, which counts the click.
        let tracker: Option<messages::Tracker> = d.mailing.as_ref().map(|_| {
            let (store, public, delivery) = (store.clone(), self.public_url.clone(), d.id);
            std::sync::Arc::new(move |url: &str| {
                let to: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
                format!("{public}/m/c/{}?to={to}", store.tracking_token("c", delivery, url))
            }) as messages::Tracker
        });
        let messages::Rendered { subject, body, mut html } =
            messages::render_text(text, &context, tracker).map_err(|e| Attempt::failed(format!("the text does not render: {e}")))?;
        if d.mailing.is_some() && channel == Channel::Email {
            // The opening is counted when the mail client loads this image.
            let pixel = format!("<img src=\"{}/m/o/{}\" width=\"1\" height=\"1\" alt=\"\">", self.public_url, store.tracking_token("o", d.id, ""));
            html = match html.rfind("</body>") {
                Some(at) => format!("{}{pixel}\n{}", &html[..at], &html[at..]),
                None => format!("{html}{pixel}"),
            };
        }
        Ok(Prepared { channel, customer: Some(id), to: address.unwrap_or_default(), subject, body, html, unsubscribe })
    }

    /// Writes a message to its customer, on its channel, if they may receive it now.
    async fn message(&self, store: &Store, program: &Program, d: &DueDelivery, mailing: Option<&Mailing>) -> Attempt {
        let m = match self.prepare(store, program, d, mailing).await {
            Ok(m) => m,
            Err(attempt) => return attempt,
        };
        // A portal notification stays here: no credential to read.
        let credential = match m.channel {
            Channel::Portal => None,
            channel => match store.channel_secret(channel.name()).await {
                Ok(c) => c,
                Err(e) => return Attempt::failed(format!("the channel's credential could not be read: {e}")),
            },
        };
        let sent = match (m.channel, &program.email, &program.telegram) {
            (Channel::Email, Some(smtp), _) => self.send_smtp(smtp, credential, &d.key, &m).await,
            (Channel::Telegram, _, Some(bot)) => self.send_telegram(store, bot, credential, &m).await,
            // Kept once per delivery key however often it is tried.
            (Channel::Portal, ..) => match m.customer {
                Some(customer) => store
                    .keep_notification(customer, d.key.clone(), m.subject.clone(), m.body.clone())
                    .await
                    .map(|()| 200)
                    .map_err(|e| Attempt::failed(format!("the notification could not be kept: {e}"))),
                None => Err(Attempt::withheld("a portal notification is for a customer")),
            },
            (channel, ..) => match program.gateway(channel) {
                Some(gateway) => self.send_gateway(gateway, credential, &d.key, &m).await,
                None => Err(Attempt::failed(format!("the program has no [{}] section", channel.name()))),
            },
        };
        sent.map_or_else(|failed| failed, Attempt::answered)
    }

    /// Sends one message through a gateway (SMS, Viber, WhatsApp): its body template
    /// filled with the number, the text and the key; sent when the answer is 2xx and
    /// holds what `success_contains` asks.
    async fn send_gateway(&self, gateway: &GatewaySpec, credential: Option<String>, key: &str, m: &Prepared) -> Result<u16, Attempt> {
        let body = messages::render(&gateway.body, &json!({ "to": m.to, "text": m.body, "key": key }))
            .map_err(|e| Attempt::failed(format!("the gateway body does not render: {e}")))?;
        let more = match (&gateway.auth_header, credential) {
            (Some(name), Some(value)) => vec![(name.as_str(), value)],
            _ => Vec::new(),
        };
        let method = gateway.method.as_deref().unwrap_or("POST");
        let content_type = gateway.content_type.as_deref().unwrap_or("application/json");
        let answer = self.send((method, &gateway.url), content_type, key, more, body).await?;
        let status = answer.status().as_u16();
        if !events::delivered(status) {
            return Ok(status);
        }
        let Some(expected) = &gateway.success_contains else { return Ok(status) };
        let read = tokio::time::timeout(TIMEOUT, http_body_util::BodyExt::collect(answer.into_body())).await;
        let Ok(Ok(collected)) = read else { return Err(Attempt::failed("the gateway's answer could not be read")) };
        if String::from_utf8_lossy(&collected.to_bytes()).contains(expected.as_str()) {
            Ok(status)
        } else {
            Err(Attempt { status: Some(status), ..Attempt::failed(format!("the gateway's answer does not say '{expected}'")) })
        }
    }
}

impl Sender {
    /// Calls the Bot API's `method` with the bot's `token`: the answer's status and
    /// JSON body, or the failed attempt.
    pub async fn telegram(&self, bot: &TelegramSpec, token: &str, method: &str, body: serde_json::Value) -> Result<(u16, serde_json::Value), Attempt> {
        let url = format!("{}/bot{token}/{method}", bot.api());
        // The token is in the path: an error that quotes the address must not show it.
        let hide = |a: Attempt| Attempt { error: a.error.map(|e| e.replace(token, "…")), ..a };
        let answer = self.send(("POST", &url), "application/json", "-", Vec::new(), body.to_string()).await.map_err(hide)?;
        let status = answer.status().as_u16();
        let read = tokio::time::timeout(TIMEOUT, http_body_util::BodyExt::collect(answer.into_body())).await;
        let json = match read {
            Ok(Ok(collected)) => serde_json::from_slice(&collected.to_bytes()).unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        Ok((status, json))
    }

    /// Sends one message from the program's bot to the customer's chat: the subject,
    /// if any, on a line above the text. A chat that blocked the bot or is gone (403,
    /// "chat not found") is let go — the customer is disconnected and their consent
    /// withdrawn — and the message withheld; another 400 gives up; other refusals are
    /// tried again.
    async fn send_telegram(&self, store: &Store, bot: &TelegramSpec, token: Option<String>, m: &Prepared) -> Result<u16, Attempt> {
        let Some(token) = token else {
            return Err(Attempt::failed("the Telegram bot's token is not set"));
        };
        let text = if m.subject.trim().is_empty() { m.body.clone() } else { format!("{}\n\n{}", m.subject, m.body) };
        let (status, answer) = self.telegram(bot, &token, "sendMessage", json!({ "chat_id": m.to, "text": text })).await?;
        let why = answer["description"].as_str().unwrap_or("the message was refused");
        let gone = status == 403 || (status == 400 && why.contains("chat not found"));
        if gone {
            if let Err(e) = store.disconnect_telegram(m.to.clone()).await {
                tracing::warn!(error = %e, "a chat that refused the bot could not be let go");
            }
            return Err(Attempt { status: Some(status), ..Attempt::withheld(format!("Telegram: {why}; the chat is disconnected")) });
        }
        if status == 400 {
            // The message itself is wrong (too long, say): no attempt will do better.
            return Err(Attempt { status: Some(status), give_up: true, ..Attempt::failed(format!("Telegram: {why}")) });
        }
        Ok(status)
    }
}

impl Sender {
    /// A task or reminder come due, to its assignee's e-mail (a staff member: no
    /// consent, limit or unsubscribe link), with a link to the customer in the console.
    async fn task_due(&self, store: &Store, message: &messages::Message, d: &DueDelivery) -> Result<Prepared, Attempt> {
        let login = d.subject.strip_prefix("user:").unwrap_or_default();
        let users = store.users().await.map_err(|e| Attempt::failed(format!("the staff could not be read: {e}")))?;
        let to = match (message.channel, users.into_iter().find(|u| u.login == login && !u.disabled)) {
            (Channel::Email, Some(u)) => u.email,
            _ => None,
        };
        let Some(to) = to else {
            return Err(Attempt::withheld(format!("staff member '{login}' has no e-mail address (or is disabled)")));
        };
        let Some((_, text)) = message.text_for(None) else {
            return Err(Attempt::failed("the message has no text"));
        };
        let mut data = d.data.clone();
        if let Some(customer) = d.data["customer"].as_str() {
            data["url"] = format!("{}/admin/customers/{customer}", self.public_url).into();
        }
        to_no_customer(Channel::Email, to, text, d.event, &data)
    }
}

/// The customer's card number (`card.number`: their active loyalty card's, empty
/// without one) and balances (`balances.<currency>`: available now, every currency of
/// the program, `0` where they have none) into `context` — each read only for a text
/// that shows it.
pub(crate) async fn holdings(store: &Store, program: &Program, id: i64, text: &messages::TextSpec, context: &mut serde_json::Value) -> Result<(), String> {
    let reads = messages::reads(text);
    if reads.contains("store") {
        // The store of the receipt that raised the event (none when time did).
        let code = context["store"]["id"].as_str().and_then(|c| loyd_domain::ids::StoreCode::parse(c).ok());
        let name = match code {
            Some(code) => store.store(&code).await.map_err(|e| format!("the store could not be read: {e}"))?.map(|s| s.name.to_string()),
            None => None,
        };
        context["store"]["name"] = name.unwrap_or_default().into();
    }
    if reads.contains("card") {
        let cards = store.customer_cards(id).await.map_err(|e| format!("the customer's cards could not be read: {e}"))?;
        let number = cards
            .into_iter()
            .find(|c| c.kind == loyd_domain::program::CardKind::Loyalty && c.state == loyd_domain::cards::CardState::Active && c.replaced_by.is_none())
            .map(|c| c.number)
            .unwrap_or_default();
        context["card"] = json!({ "number": number });
    }
    if reads.contains("balances") {
        let held = store.customer_balances(id).await.map_err(|e| format!("the customer's balances could not be read: {e}"))?;
        let mut balances: serde_json::Map<String, serde_json::Value> = program.currencies.keys().map(|c| (c.to_string(), json!("0"))).collect();
        balances.extend(held.into_iter().map(|b| (b.currency.to_string(), json!(b.available))));
        context["balances"] = balances.into();
    }
    Ok(())
}

/// A message to someone who is no customer (a certificate's recipient, a staff
/// member): its text filled with its event's figures only, no unsubscribe link.
fn to_no_customer(channel: Channel, to: String, text: &messages::TextSpec, event: events::EventKind, data: &serde_json::Value) -> Result<Prepared, Attempt> {
    let mut context = json!({});
    if let Some((name, own)) = messages::event_context(event, data) {
        context[name] = own;
    }
    let messages::Rendered { subject, body, html } = messages::render_text(text, &context, None).map_err(|e| Attempt::failed(format!("the text does not render: {e}")))?;
    Ok(Prepared { channel, customer: None, to, subject, body, html, unsubscribe: None })
}

/// A message to the address its event names (a gift card certificate to the address
/// the buyer gave, a sign-in code to the one typed), in the language chosen there: no
/// customer, so no consent, limit or unsubscribe link (it was asked for).
fn to_address(message: &messages::Message, d: &DueDelivery) -> Result<Prepared, Attempt> {
    let field = if message.channel == Channel::Email { "email" } else { "phone" };
    let Some(to) = d.data["to"][field].as_str().filter(|a| !a.is_empty()) else {
        return Err(Attempt::withheld(messages::Withheld::NoAddress.reason()));
    };
    let Some((_, text)) = message.text_for(d.data["language"].as_str()) else {
        return Err(Attempt::failed("the message has no text"));
    };
    to_no_customer(message.channel, to.to_owned(), text, d.event, &d.data)
}

/// Where a message's channel and text come from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A message of the program, sent for an event.
    Message(&'a messages::Message),
    /// A variant of a mailing, to the delivery's customer.
    Mailing(&'a Mailing, &'a loyd_store::MailingDelivery),
}

/// A message rendered for its customer, ready to go.
struct Prepared {
    channel: Channel,
    /// Whom it is for: a customer, or (a certificate, a task) an address alone.
    customer: Option<i64>,
    /// The customer's address on the channel.
    to: String,
    subject: String,
    body: String,
    html: String,
    /// Where the customer stops this channel's marketing (none for a certificate: its
    /// recipient is no customer).
    unsubscribe: Option<String>,
}

/// An SMTP transport: a pool of connections to one server, kept open between messages
/// (lettre's pool: as many as a pass sends at once, closed after a minute idle).
type SmtpTransport = lettre::AsyncSmtpTransport<lettre::Tokio1Executor>;

/// The transport of the program's `[email]` with its password, kept while they stay
/// the same: the server and the login it was made for, and the transport.
type SmtpCache = std::sync::Arc<tokio::sync::Mutex<Option<((EmailSpec, Option<String>), SmtpTransport)>>>;

/// A transport to the SMTP server of `smtp`, logging in with `password` if it names a
/// user.
fn smtp_transport(smtp: &EmailSpec, password: Option<String>) -> Result<SmtpTransport, Attempt> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};

    let port = smtp.port.unwrap_or(smtp.security.default_port());
    let tls = |host: &str| {
        let mut builder = TlsParameters::builder(host.to_owned());
        if let Some(pem) = &smtp.ca_certificate {
            let ca = lettre::transport::smtp::client::Certificate::from_pem(pem.as_bytes()).map_err(|e| Attempt::failed(format!("ca_certificate does not read: {e}")))?;
            builder = builder.add_root_certificate(ca);
        }
        builder.build_rustls().map_err(|e| Attempt::failed(format!("TLS: {e}")))
    };
    let pool = lettre::transport::smtp::PoolConfig::new().max_size(CLAIM);
    let mut transport = SmtpTransport::builder_dangerous(smtp.host.as_str()).port(port).timeout(Some(TIMEOUT)).pool_config(pool);
    transport = match smtp.security {
        SmtpSecurity::Starttls => transport.tls(Tls::Required(tls(&smtp.host)?)),
        SmtpSecurity::Tls => transport.tls(Tls::Wrapper(tls(&smtp.host)?)),
        SmtpSecurity::None => transport.tls(Tls::None),
    };
    if let (Some(user), Some(password)) = (&smtp.username, password) {
        transport = transport.credentials(Credentials::new(user.clone(), password));
    }
    Ok(transport.build())
}

impl Sender {
    /// Sends one e-mail through the program's SMTP server, over a connection kept from
    /// the messages before; the server's reply code, or the failed attempt (a permanent
    /// refusal, such as an unknown mailbox, gives up).
    async fn send_smtp(&self, smtp: &EmailSpec, password: Option<String>, key: &str, m: &Prepared) -> Result<u16, Attempt> {
        use lettre::AsyncTransport;
        use lettre::message::header::{HeaderName, HeaderValue};
        use lettre::message::{Mailbox, MultiPart};

        let from: Mailbox = smtp.from.parse().map_err(|e| Attempt::failed(format!("the sender '{}' does not read: {e}", smtp.from)))?;
        let to: Mailbox = m.to.parse().map_err(|e| Attempt::withheld(format!("the customer's address does not read: {e}")))?;
        let domain = from.email.domain().to_owned();
        let header = |name: &'static str, value: String| HeaderValue::new(HeaderName::new_from_ascii_str(name), value);
        let mut builder = lettre::Message::builder().from(from).to(to).subject(m.subject.as_str()).message_id(Some(format!("<{key}@{domain}>")));
        if let Some(unsubscribe) = &m.unsubscribe {
            builder = builder
                .raw_header(header("List-Unsubscribe", format!("<{unsubscribe}>")))
                .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(m.body.clone(), m.html.clone()))
            .map_err(|e| Attempt::failed(format!("the e-mail could not be made: {e}")))?;
        let transport = {
            let mut cached = self.smtp.lock().await;
            let wanted = (smtp.clone(), password);
            match cached.as_ref() {
                Some((made_for, t)) if *made_for == wanted => t.clone(),
                _ => {
                    let t = smtp_transport(smtp, wanted.1.clone())?;
                    *cached = Some((wanted, t.clone()));
                    t
                }
            }
        };
        match transport.send(email).await {
            Ok(reply) => Ok(reply_code(&reply.code())),
            Err(e) if e.is_permanent() => Err(Attempt { give_up: true, ..Attempt::failed(error_chain(&e)) }),
            Err(e) => Err(Attempt::failed(error_chain(&e))),
        }
    }
}

/// An SMTP reply code as a number (250).
fn reply_code(code: &lettre::transport::smtp::response::Code) -> u16 {
    code.to_string().parse().unwrap_or(0)
}

/// The name a webhook's secret is kept under.
pub fn secret_name(webhook: &str) -> String {
    format!("webhook:{webhook}")
}
