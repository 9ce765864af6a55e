//! Messengers and the portal as channels: a customer connects Telegram by starting the
//! program's bot with their link (the bot's webhook posting real updates to the
//! server, a real HTTP listener standing in for the Bot API), gets the program's
//! messages in that chat, and stops them; Viber and WhatsApp messages go through their
//! own gateways; portal notifications are kept once, sealed, for the customer.

use std::sync::{Arc, Mutex};

use axum::http::{StatusCode, Uri};
use loyd_api::deliver::{Sender, deliver_once};
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, spawn_with_program, staff};
use crate::webhooks::Receiver;

const TOKEN: &str = "123456789:AAEbotTokenForTests_0123-xyz";

/// A store, points, a loyalty card series and 5 points for every receipt.
const PROGRAM: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[currencies]]
code = "bonus"
kind = "points"
scale = 0
value = "0.01"

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[campaigns]]
id = "visit"
rewards = [{ type = "accrue", currency = "bonus", fixed = "5" }]
"#;

/// A gateway section `name` posting the number and the text as JSON to `url`.
fn gateway(name: &str, url: &str, header: Option<&str>) -> String {
    let header = header.map(|h| format!("auth_header = \"{h}\"\n")).unwrap_or_default();
    format!("[{name}]\nurl = \"{url}\"\nbody = '{{\"to\": {{{{ to | tojson }}}}, \"text\": {{{{ text | tojson }}}}}}'\n{header}")
}

/// What the Bot API stand-in got: the method called (`sendMessage`) with the token in
/// its path, and the JSON body.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    body: Value,
}

/// An HTTP listener standing in for the Telegram Bot API: it records every call and
/// answers `{"ok": true}`, or what `refuse` sets (a blocked bot's 403).
#[derive(Clone)]
struct BotApi {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    refusal: Arc<Mutex<Option<(u16, &'static str)>>>,
}

impl BotApi {
    async fn start() -> BotApi {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let refusal: Arc<Mutex<Option<(u16, &'static str)>>> = Arc::default();
        let (c, r) = (calls.clone(), refusal.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, body: String| {
            let (c, r) = (c.clone(), r.clone());
            async move {
                c.lock().unwrap().push(Call { path: uri.path().to_owned(), body: serde_json::from_str(&body).unwrap_or_default() });
                match *r.lock().unwrap() {
                    Some((status, why)) => (StatusCode::from_u16(status).unwrap(), axum::Json(json!({"ok": false, "error_code": status, "description": why}))),
                    None => (StatusCode::OK, axum::Json(json!({"ok": true, "result": true, "description": "Webhook was set"}))),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        BotApi { url, calls, refusal }
    }

    fn calls(&self, method: &str) -> Vec<Value> {
        let path = format!("/bot{TOKEN}/{method}");
        self.calls.lock().unwrap().iter().filter(|c| c.path == path).map(|c| c.body.clone()).collect()
    }

    fn refuse(&self, status: u16, why: &'static str) {
        *self.refusal.lock().unwrap() = Some((status, why));
    }
}

async fn customer(app: &TestApp, body: Value) -> i64 {
    let (status, c) = call(app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(body)).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().trim_start_matches("c_").parse().unwrap()
}

async fn customer_json(app: &TestApp, id: i64) -> Value {
    let (status, c) = call(app, "GET", &format!("/v1/admin/customers/c_{id}"), ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{c}");
    c
}

/// Posts an update to the bot's webhook as Telegram does: the status and the reply.
async fn update(app: &TestApp, secret: &str, update: Value) -> (u16, Value) {
    let res = app.client.post(app.url("/v1/telegram/updates")).header("x-telegram-bot-api-secret-token", secret).json(&update).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// A private message from chat `chat` whose app is in `language`.
fn text_from(chat: i64, language: &str, text: &str) -> Value {
    json!({"update_id": chat, "message": {"message_id": 1, "chat": {"id": chat, "type": "private"}, "from": {"id": chat, "language_code": language}, "text": text}})
}

async fn deliver(app: &TestApp) {
    let sender = Sender::new(&app.url(""));
    while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
}

async fn states(app: &TestApp, message: &str) -> Vec<String> {
    let (status, page) = call(app, "GET", &format!("/v1/admin/deliveries?webhook={message}"), ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{page}");
    page["deliveries"].as_array().unwrap().iter().map(|d| d["state"].as_str().unwrap().to_owned()).collect()
}

both_backends! {
    async fn a_customer_connects_telegram_with_their_link_gets_the_programs_messages_there_and_stopping_lets_the_chat_go(db: TestDb) {
        let bot = BotApi::start().await;
        let sms = Receiver::start(&[200]).await;
        let file = format!(
            r#"{PROGRAM}{}
[telegram]
bot = "ShopLoydBot"
api_url = "{}"

[[messages]]
id = "welcome"
event = "customer.registered"
channel = "sms"
transactional = true
[messages.texts.en]
body = "Welcome! Your offers in Telegram: {{{{ telegram_url }}}}"

[[messages]]
id = "accrued"
event = "points.accrued"
channel = "telegram"
[messages.texts.en]
subject = "Shop"
body = "+{{{{ points.amount }}}} {{{{ points.currency }}}}, now {{{{ points.balance }}}}"
[messages.texts.lv]
subject = "Veikals"
body = "+{{{{ points.amount }}}} {{{{ points.currency }}}}, kopā {{{{ points.balance }}}}"
"#,
            gateway("sms", &sms.url, None),
            bot.url
        );
        let app = spawn_with_program(db, toml::from_str(&file).unwrap()).await;
        admin(&app).await;

        // The bot's token: checked for its shape, kept sealed; then the webhook is registered.
        let (status, body) = call(&app, "PUT", "/v1/admin/channels/telegram/credential", ADMIN_KEY, Some(json!({"secret": "not-a-token"}))).await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = call(&app, "PUT", "/v1/admin/channels/telegram/credential", ADMIN_KEY, Some(json!({"secret": TOKEN}))).await;
        assert_eq!(status, 204, "{body}");
        assert!(app.db().texts("SELECT secret FROM channel_secrets").await.iter().all(|s| !s.contains("AAEbot")));
        let (status, body) = call(&app, "POST", "/v1/admin/channels/telegram/webhook", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{body}");
        let set = bot.calls("setWebhook");
        assert_eq!(set.len(), 1);
        assert!(set[0]["url"].as_str().unwrap().ends_with("/v1/telegram/updates"), "{}", set[0]);
        let secret = set[0]["secret_token"].as_str().unwrap().to_owned();
        assert_eq!(body["url"], set[0]["url"]);

        // Anna registers; her welcome text carries her link to the bot.
        let anna = customer(&app, json!({"name": "Anna", "phone": "+37120000031", "profile": {"language": "lv"}, "consents": {"sms": true}})).await;
        deliver(&app).await;
        let welcome = sms.got()[0].json()["text"].as_str().unwrap().to_owned();
        let link = welcome.split_whitespace().last().unwrap().to_owned();
        assert!(link.starts_with("https://t.me/ShopLoydBot?start="), "{welcome}");
        let token = link.split("start=").nth(1).unwrap().to_owned();

        // Only Telegram, which knows the secret, is heard.
        let (status, body) = update(&app, "guess", text_from(5550001, "lv", &format!("/start {token}"))).await;
        assert_eq!(status, 401, "{body}");
        // A made-up or altered link connects nobody, and says so in the app's language.
        let forged = format!("{anna}-{}", "0".repeat(32));
        let (status, reply) = update(&app, &secret, text_from(5550001, "ru", &format!("/start {forged}"))).await;
        assert_eq!(status, 200);
        assert!(reply["text"].as_str().unwrap().starts_with("Эта ссылка недействительна"), "{reply}");
        assert_eq!(customer_json(&app, anna).await["telegram_connected"], false);

        // Her link: connected, consenting, answered in her language in the webhook's reply.
        let (status, reply) = update(&app, &secret, text_from(5550001, "en", &format!("/start {token}"))).await;
        assert_eq!(status, 200);
        assert_eq!((reply["method"].as_str(), reply["chat_id"].as_str()), (Some("sendMessage"), Some("5550001")), "{reply}");
        assert!(reply["text"].as_str().unwrap().starts_with("Pievienots"), "{reply}");
        let c = customer_json(&app, anna).await;
        assert_eq!((c["telegram_connected"].as_bool(), c["consents"]["telegram"]["granted"].as_bool()), (Some(true), Some(true)), "{c}");
        // The chat id is personal data: sealed, found by a blind index only.
        for sql in ["SELECT COALESCE(pii, '') FROM customers", "SELECT COALESCE(telegram_index, '') FROM customers", "SELECT COALESCE(after, '') FROM audit_log"] {
            assert!(app.db().texts(sql).await.iter().all(|t| !t.contains("5550001")), "{sql}");
        }

        // A receipt: its accrual reaches her chat once, in Latvian, from the bot.
        let card = app.issue("LOY", Some(anna)).await.remove(0).number;
        assert_eq!(app.commit(&crate::helpers::receipt("t-1", Some(&card), "10.00")).await.0, 201);
        deliver(&app).await;
        deliver(&app).await;
        let sent = bot.calls("sendMessage");
        assert_eq!(sent, vec![json!({"chat_id": "5550001", "text": "Veikals\n\n+5 bonus, kopā 5"})]);

        // /stop: let go, consent withdrawn; the next accrual is withheld, not sent.
        let (_, reply) = update(&app, &secret, text_from(5550001, "en", "/stop")).await;
        assert!(reply["text"].as_str().unwrap().starts_with("Apturēts"), "{reply}");
        let c = customer_json(&app, anna).await;
        assert_eq!((c["telegram_connected"].as_bool(), c["consents"]["telegram"]["granted"].as_bool()), (Some(false), Some(false)), "{c}");
        assert_eq!(app.commit(&crate::helpers::receipt("t-2", Some(&card), "10.00")).await.0, 201);
        deliver(&app).await;
        assert_eq!(bot.calls("sendMessage").len(), 1);
        assert_eq!(states(&app, "accrued").await, vec!["withheld", "delivered"]);

        // Connected again, then she blocks the bot: Telegram refuses, the chat is let go.
        assert_eq!(update(&app, &secret, text_from(5550001, "en", &format!("/start {token}"))).await.0, 200);
        bot.refuse(403, "Forbidden: bot was blocked by the user");
        assert_eq!(app.commit(&crate::helpers::receipt("t-3", Some(&card), "10.00")).await.0, 201);
        deliver(&app).await;
        assert_eq!(states(&app, "accrued").await, vec!["withheld", "withheld", "delivered"]);
        assert_eq!(customer_json(&app, anna).await["telegram_connected"], false);
        // Blocking seen as a chat member update lets the chat go just the same.
        assert_eq!(update(&app, &secret, text_from(5550001, "en", &format!("/start {token}"))).await.0, 200);
        assert_eq!(customer_json(&app, anna).await["telegram_connected"], true);
        let kicked = json!({"update_id": 9, "my_chat_member": {"chat": {"id": 5550001, "type": "private"}, "new_chat_member": {"status": "kicked"}}});
        assert_eq!(update(&app, &secret, kicked).await, (200, json!({})));
        assert_eq!(customer_json(&app, anna).await["telegram_connected"], false);
    }

    async fn viber_and_whatsapp_messages_go_through_their_own_gateways_to_the_phones_of_customers_who_consented(db: TestDb) {
        let viber = Receiver::start(&[200]).await;
        let whatsapp = Receiver::start(&[200]).await;
        let file = format!(
            r#"{PROGRAM}{}{}
[[messages]]
id = "viber-accrued"
event = "points.accrued"
channel = "viber"
[messages.texts.en]
body = "Viber: +{{{{ points.amount }}}}"

[[messages]]
id = "whatsapp-accrued"
event = "points.accrued"
channel = "whatsapp"
[messages.texts.en]
body = "WhatsApp: +{{{{ points.amount }}}}"
"#,
            gateway("viber", &viber.url, Some("X-Api-Key")),
            gateway("whatsapp", &whatsapp.url, None)
        );
        let app = spawn_with_program(db, toml::from_str(&file).unwrap()).await;
        admin(&app).await;
        let (status, body) = call(&app, "PUT", "/v1/admin/channels/viber/credential", ADMIN_KEY, Some(json!({"secret": "viber-key-1"}))).await;
        assert_eq!(status, 204, "{body}");
        // WhatsApp's gateway names no header: there is no key to set.
        let (status, body) = call(&app, "PUT", "/v1/admin/channels/whatsapp/credential", ADMIN_KEY, Some(json!({"secret": "k"}))).await;
        assert_eq!(status, 422, "{body}");

        let anna = customer(&app, json!({"phone": "+37120000041", "consents": {"viber": true}})).await;
        let ben = customer(&app, json!({"phone": "+37120000042", "consents": {"whatsapp": true}})).await;
        let cleo = customer(&app, json!({"phone": "+37120000043", "consents": {"sms": true}})).await;
        for (i, who) in [anna, ben, cleo].into_iter().enumerate() {
            let card = app.issue("LOY", Some(who)).await.remove(0).number;
            assert_eq!(app.commit(&crate::helpers::receipt(&format!("g-{i}"), Some(&card), "10.00")).await.0, 201);
        }
        deliver(&app).await;
        deliver(&app).await;
        let got = |r: &Receiver| r.got().iter().map(|g| (g.json()["to"].as_str().unwrap().to_owned(), g.json()["text"].as_str().unwrap().to_owned())).collect::<Vec<_>>();
        assert_eq!(got(&viber), vec![("+37120000041".to_owned(), "Viber: +5".to_owned())]);
        assert_eq!(got(&whatsapp), vec![("+37120000042".to_owned(), "WhatsApp: +5".to_owned())]);
        assert_eq!(viber.got()[0].header("x-api-key"), "viber-key-1");
        // The others were withheld for want of that channel's consent.
        let mut all = states(&app, "viber-accrued").await;
        all.extend(states(&app, "whatsapp-accrued").await);
        all.sort();
        assert_eq!(all, ["delivered", "delivered", "withheld", "withheld", "withheld", "withheld"]);
    }

    async fn portal_notifications_are_kept_once_sealed_and_shown_to_staff_masked_by_role(db: TestDb) {
        let file = format!(
            r#"{PROGRAM}
[[messages]]
id = "portal-accrued"
event = "points.accrued"
channel = "portal"
[messages.texts.en]
subject = "Points for you"
body = "Hello {{{{ customer.name }}}}: +{{{{ points.amount }}}} {{{{ points.currency }}}} on card {{{{ card.number }}}}, {{{{ balances.bonus }}}} in all"
"#
        );
        let app = spawn_with_program(db, toml::from_str(&file).unwrap()).await;
        admin(&app).await;
        // No consent is asked of the portal; a customer who opted out gets no marketing there either.
        let anna = customer(&app, json!({"name": "Anna Ozola", "phone": "+37120000051"})).await;
        let ben = customer(&app, json!({"name": "Ben", "phone": "+37120000052"})).await;
        let (status, body) = call(&app, "PATCH", &format!("/v1/admin/customers/c_{ben}"), ADMIN_KEY, Some(json!({"opted_out": true}))).await;
        assert_eq!(status, 200, "{body}");
        let mut cards = Vec::new();
        for (i, who) in [anna, ben].into_iter().enumerate() {
            let card = app.issue("LOY", Some(who)).await.remove(0).number;
            assert_eq!(app.commit(&crate::helpers::receipt(&format!("p-{i}"), Some(&card), "10.00")).await.0, 201);
            cards.push(card);
        }
        // A second receipt: the balance the text shows is the one at sending.
        assert_eq!(app.commit(&crate::helpers::receipt("p-2", Some(&cards[0]), "10.00")).await.0, 201);
        deliver(&app).await;
        // Tried again (a crash before the attempt was recorded): still one.
        app.db().execute_raw("UPDATE deliveries SET state = 'pending', next_at = 0 WHERE state = 'delivered'").await.unwrap();
        deliver(&app).await;

        let (status, page) = call(&app, "GET", &format!("/v1/admin/customers/c_{anna}/notifications"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{page}");
        let list = page["notifications"].as_array().unwrap();
        assert_eq!(list.len(), 2, "{page}");
        let expected = format!("Hello Anna Ozola: +5 bonus on card {}, 10 in all", cards[0]);
        assert_eq!((list[0]["subject"].as_str(), list[0]["body"].as_str()), (Some("Points for you"), Some(expected.as_str())));
        assert_eq!((list[1]["body"].as_str(), &list[0]["read_at"]), (Some(expected.as_str()), &Value::Null));
        let (_, page) = call(&app, "GET", &format!("/v1/admin/customers/c_{ben}/notifications"), ADMIN_KEY, None).await;
        assert_eq!(page["notifications"], json!([]));
        let mut all = states(&app, "portal-accrued").await;
        all.sort();
        assert_eq!(all, ["delivered", "delivered", "withheld"]);
        // Sealed at rest; a role without contact data sees it masked.
        assert!(app.db().texts("SELECT content FROM notifications").await.iter().all(|t| !t.contains("Anna")));
        let marketer = staff(&app, "mara", "marketer", &[]).await;
        let (status, page) = call(&app, "GET", &format!("/v1/admin/customers/c_{anna}/notifications"), &marketer, None).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!((page["notifications"][0]["subject"].as_str(), page["notifications"][0]["body"].as_str()), (Some("•••"), Some("•••")));
        let (status, _) = call(&app, "GET", "/v1/admin/customers/c_999999/notifications", ADMIN_KEY, None).await;
        assert_eq!(status, 404);
    }

    async fn a_message_on_a_channel_without_its_section_or_that_cannot_reach_its_recipient_is_refused_at_its_field(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(PROGRAM).unwrap()).await;
        admin(&app).await;
        let file = r#"
[telegram]
bot = "@shop"

[[messages]]
id = "a"
event = "points.accrued"
channel = "whatsapp"
[messages.texts.en]
body = "+{{ points.amount }}"

[[messages]]
id = "b"
event = "gift_card.sold"
channel = "portal"
[messages.texts.en]
body = "{{ gift_card.number }}"

[[messages]]
id = "c"
event = "points.accrued"
channel = "portal"
[messages.texts.en]
body = "{{ balances.bonus }} and {{ balances.gold }}"
"#;
        let res = app.client.post(app.url("/v1/admin/config")).bearer_auth(ADMIN_KEY).header("content-type", "application/toml").body(file).send().await.unwrap();
        let (status, body): (u16, Value) = (res.status().as_u16(), res.json().await.unwrap());
        assert_eq!(status, 422, "{body}");
        let text = body.to_string();
        for expected in ["telegram.bot", "not a bot's username", "messages[0].channel", "need the program's [whatsapp] section", "messages[1].channel", "cannot go by portal", "messages[2].texts.en.body", "balances.gold"] {
            assert!(text.contains(expected), "{expected} in {text}");
        }

        // A channel's section is one object, named by the section, through the admin API too.
        let (status, body) = call(&app, "PUT", "/v1/admin/config/telegram/telegram", ADMIN_KEY, Some(json!({"bot": "x"}))).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["details"]["problems"][0]["path"], "bot", "{body}");
        let (status, body) = call(&app, "PUT", "/v1/admin/config/telegram/other", ADMIN_KEY, Some(json!({"bot": "ShopLoydBot"}))).await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = call(&app, "PUT", "/v1/admin/config/telegram/telegram", ADMIN_KEY, Some(json!({"bot": "ShopLoydBot"}))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = call(&app, "GET", "/v1/admin/config/telegram", ADMIN_KEY, None).await;
        assert_eq!((status, body["objects"].clone()), (200, json!([{"bot": "ShopLoydBot"}])), "{body}");
        assert_eq!(app.store.program().await.unwrap().telegram.as_ref().map(|t| t.bot.as_str()), Some("ShopLoydBot"));
        let (status, body) = call(&app, "DELETE", "/v1/admin/config/telegram/telegram", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{body}");
        assert!(app.store.program().await.unwrap().telegram.is_none());
        let (status, _) = call(&app, "GET", "/v1/admin/config/telegram/telegram", ADMIN_KEY, None).await;
        assert_eq!(status, 404);
    }
}

both_backends! {
    async fn a_message_is_previewed_for_a_sample_or_a_real_customer_with_its_events_sample_figures_and_nothing_is_sent(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&format!("{PROGRAM}{}", gateway("sms", &sms.url, None))).unwrap()).await;
        admin(&app).await;
        let ben = customer(&app, json!({"name": "Ben Bērziņš", "phone": "+37120000061", "consents": {"sms": true}})).await;
        let texts = json!({
            "en": {"body": "{{ customer.name }}: {{ points.amount }} {{ points.currency }} expire on {{ points.expires_on }}", "subject": "Card {{ card.number }}"},
            "lv": {"body": "{{ customer.name }}, {{ points.amount }} {{ points.currency }} beigsies {{ points.expires_on }}"},
        });
        let week = app.store.now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(7)).unwrap().to_string();
        let ask = |customer: Option<String>| json!({"event": "points.expiring", "channel": "sms", "texts": texts, "customer": customer});
        // A sample customer, the event's sample figures in the program's points.
        let (status, out) = call(&app, "POST", "/v1/admin/messages/preview", ADMIN_KEY, Some(ask(None))).await;
        assert_eq!(status, 200, "{out}");
        assert_eq!((out["customer"].as_str(), out["texts"][0]["subject"].as_str()), (Some("sample"), Some("Card 2770000000012")));
        let bodies: Vec<(&str, &str)> = out["texts"].as_array().unwrap().iter().map(|t| (t["language"].as_str().unwrap(), t["body"].as_str().unwrap())).collect();
        assert_eq!(bodies, [("en", format!("Anna Ozola: 25 bonus expire on {week}").as_str()), ("lv", format!("Anna Ozola, 25 bonus beigsies {week}").as_str())]);
        // A real customer: their name — masked for a role without contact data.
        let (status, out) = call(&app, "POST", "/v1/admin/messages/preview", ADMIN_KEY, Some(ask(Some(format!("c_{ben}"))))).await;
        assert_eq!(status, 200, "{out}");
        assert!(out["texts"][0]["body"].as_str().unwrap().starts_with("Ben Bērziņš: 25 bonus"), "{out}");
        assert_eq!(out["texts"][0]["subject"], "Card ", "Ben has no card: his own, empty");
        let marketer = staff(&app, "mara", "marketer", &[]).await;
        let (status, out) = call(&app, "POST", "/v1/admin/messages/preview", &marketer, Some(ask(Some(format!("c_{ben}"))))).await;
        assert_eq!(status, 200, "{out}");
        assert!(!out["texts"][0]["body"].as_str().unwrap().contains("Bērziņš"), "{out}");
        // Checked like a saved message: an unknown variable is refused at its field.
        let bad = json!({"event": "points.expiring", "channel": "sms", "texts": {"en": {"body": "{{ customer.balance }}"}}});
        let (status, out) = call(&app, "POST", "/v1/admin/messages/preview", ADMIN_KEY, Some(bad)).await;
        assert_eq!(status, 422, "{out}");
        assert_eq!(out["error"]["details"]["problems"][0]["path"], "texts.en.body", "{out}");
        let (status, _) = call(&app, "POST", "/v1/admin/messages/preview", ADMIN_KEY, Some(ask(Some("c_999999".into())))).await;
        assert_eq!(status, 404);
        // Nothing was queued or sent.
        deliver(&app).await;
        assert!(sms.got().is_empty());
        assert!(app.db().texts("SELECT CAST(id AS TEXT) FROM deliveries").await.is_empty());
    }
}
