//! Messages to customers: a welcome e-mail through a real SMTP server process
//! (Python's aiosmtpd, which `.ci/run` installs), in the customer's language, to those
//! who may receive it only — consent, opt-out and address checked when it is sent —
//! with a working unsubscribe link; texts checked when the program is applied.

use loyd_api::deliver::{Sender, deliver_once};
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, spawn_with_program};

pub(crate) use loyd_testkit::smtp::Smtp;

/// The store of these tests.
pub(crate) const STORE: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"
"#;

/// A store, the SMTP server at `port`, and a welcome e-mail in English and Russian.
pub(crate) fn program(port: u16) -> loyd_domain::config::ConfigDocument {
    toml::from_str(&format!(
        r#"{STORE}
[email]
host = "127.0.0.1"
port = {port}
security = "none"
from = "Loyd Shop <shop@loyd.test>"

[[messages]]
id = "welcome"
event = "customer.registered"
channel = "email"
[messages.texts.en]
subject = "Welcome, {{{{ customer.name }}}}"
body = """Hello {{{{ customer.name }}}},

your card is ready.

Unsubscribe: {{{{ unsubscribe_url }}}}"""
[messages.texts.ru]
subject = "Добро пожаловать, {{{{ customer.name }}}}"
body = """Здравствуйте, {{{{ customer.name }}}}!

Отписаться: {{{{ unsubscribe_url }}}}"""
"#
    ))
    .unwrap()
}

async fn register(app: &TestApp, body: Value) -> i64 {
    let (status, c) = call(app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(body)).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().trim_start_matches("c_").parse().unwrap()
}

/// One pass that makes exactly one attempt, and the newest delivery after it: its id,
/// state, last error and subject.
async fn one_attempt(app: &TestApp, sender: &Sender) -> (i64, String, String, String) {
    assert_eq!(deliver_once(&app.store, sender).await.unwrap(), 1);
    let (_, log) = call(app, "GET", "/v1/admin/deliveries", ADMIN_KEY, None).await;
    let d = &log["deliveries"][0];
    let text = |f: &str| d[f].as_str().unwrap_or_default().to_owned();
    (d["id"].as_i64().unwrap(), text("state"), text("last_error"), text("subject"))
}

fn state_of(log: &[Value], subject: &str) -> (String, String) {
    let d = log.iter().find(|d| d["subject"] == subject).unwrap_or_else(|| panic!("{subject} in {log:?}"));
    (d["state"].as_str().unwrap().to_owned(), d["last_error"].as_str().unwrap_or_default().to_owned())
}

both_backends! {
    async fn a_welcome_email_reaches_the_customers_who_may_receive_it_in_their_language_and_no_one_else(db: TestDb) {
        let smtp = Smtp::start().await;
        let app = spawn_with_program(db, program(smtp.port)).await;
        admin(&app).await;
        let consent = json!({"email": true});
        let anna = register(&app, json!({"name": "Анна", "email": "anna@example.lv", "consents": consent, "profile": {"language": "ru"}})).await;
        let bob = register(&app, json!({"name": "Bob", "email": "bob@example.lv"})).await;
        let carl = register(&app, json!({"name": "Carl", "phone": "+37120000003", "consents": consent})).await;
        let dora = register(&app, json!({"name": "Dora", "email": "dora@example.lv", "consents": consent})).await;
        let eve = register(&app, json!({"name": "Eve", "email": "eve@example.lv", "consents": consent, "profile": {"language": "et"}})).await;
        // Dora opts out after registering, Eve follows her link before anything is sent:
        // both are honoured when the message is due, not when it was queued.
        let (status, _) = call(&app, "PATCH", &format!("/v1/admin/customers/c_{dora}"), ADMIN_KEY, Some(json!({"opted_out": true}))).await;
        assert_eq!(status, 200);
        let link = app.url(&format!("/unsubscribe/{}", app.store.unsubscribe_token(eve, "email")));
        let page = app.client.get(&link).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("unsubscribe-button") && !page.contains("eve@"), "the page asks, and shows nothing of the customer");
        assert_eq!(app.client.post(&link).send().await.unwrap().status(), 200);

        let sender = Sender::new(&app.url(""));
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 5);
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 0, "nothing twice");
        let mail = smtp.received();
        assert_eq!(mail.len(), 1, "{mail:#?}");
        let m = &mail[0];
        assert_eq!((m["to"].as_str(), m["from"].as_str()), (Some("anna@example.lv"), Some("Loyd Shop <shop@loyd.test>")));
        assert_eq!(m["subject"], "Добро пожаловать, Анна", "her language, decoded");
        assert!(m["text"].as_str().unwrap().starts_with("Здравствуйте, Анна!"), "{m}");
        assert!(m["html"].as_str().unwrap().contains("<p>Здравствуйте, Анна!</p>"), "{m}");
        let unsubscribe = m["list_unsubscribe"].as_str().unwrap().trim_matches(['<', '>']).to_owned();
        assert!(unsubscribe.starts_with(&app.url("/unsubscribe/")) && m["text"].as_str().unwrap().contains(&unsubscribe), "{m}");
        assert_eq!(m["list_unsubscribe_post"], "List-Unsubscribe=One-Click");

        let (_, log) = call(&app, "GET", "/v1/admin/deliveries", ADMIN_KEY, None).await;
        let log = log["deliveries"].as_array().unwrap().clone();
        let delivered = log.iter().find(|d| d["state"] == "delivered").unwrap();
        assert!(m["message_id"].as_str().unwrap().contains(delivered["key"].as_str().unwrap()), "the Message-ID is the delivery's key: {m}");
        assert_eq!(delivered["last_status"], 250, "the SMTP server's reply");
        assert_eq!(state_of(&log, &format!("customer:{anna}")).0, "delivered");
        assert_eq!(state_of(&log, &format!("customer:{bob}")), ("withheld".into(), "the customer has not consented to this channel".into()));
        assert_eq!(state_of(&log, &format!("customer:{carl}")), ("withheld".into(), "the customer has no address on this channel".into()));
        assert_eq!(state_of(&log, &format!("customer:{dora}")), ("withheld".into(), "the customer opted out of all messages".into()));
        assert_eq!(state_of(&log, &format!("customer:{eve}")).0, "withheld");

        // Anna's one-click unsubscribe (what a mail client posts) withdraws her consent.
        let res = app.client.post(&unsubscribe).body("List-Unsubscribe=One-Click").send().await.unwrap();
        assert_eq!(res.status(), 200);
        let (_, anna_now) = call(&app, "GET", &format!("/v1/admin/customers/c_{anna}"), ADMIN_KEY, None).await;
        assert_eq!(anna_now["consents"]["email"]["granted"], false, "{anna_now}");
        // A link made up for another customer is refused, and changes nothing.
        let forged = unsubscribe.replace(&format!("/{anna}.email."), &format!("/{bob}.email."));
        assert_eq!(app.client.post(&forged).send().await.unwrap().status(), 404);
        let audit = app.db().texts("SELECT actor FROM audit_log WHERE action = 'customer.update'").await;
        assert!(audit.iter().any(|a| a == &format!("customer:{anna} (unsubscribe link)")), "{audit:?}");
    }

    async fn a_message_text_reading_an_unknown_variable_or_wanting_email_without_a_server_is_refused_when_applied(db: TestDb) {
        let smtp = Smtp::start().await;
        let app = spawn_with_program(db, program(smtp.port)).await;
        admin(&app).await;
        let file = r#"
[[messages]]
id = "welcome"
event = "customer.registered"
channel = "email"
[messages.texts.en]
subject = "Hi {{ customer.name }}"
body = "Your balance is {{ customer.balance }}"
[messages.texts.xx]
subject = "Line one\nline two"
body = "{% if %}"
"#;
        let res = app.client.post(app.url("/v1/admin/config")).bearer_auth(ADMIN_KEY).header("content-type", "application/toml").body(file).send().await.unwrap();
        let (status, body): (u16, Value) = (res.status().as_u16(), res.json().await.unwrap());
        assert_eq!(status, 422, "{body}");
        let text = body.to_string();
        for expected in ["messages[0].texts.en.body", "customer.balance", "messages[0].texts.xx", "messages[0].texts.xx.subject", "messages[0].texts.xx.body"] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        // Without [email], an e-mail message has nowhere to go.
        let mut doc = program(smtp.port);
        doc.email = None;
        let res = app.client.post(app.url("/v1/admin/config?prune=true")).bearer_auth(ADMIN_KEY).json(&doc).send().await.unwrap();
        let (status, body): (u16, Value) = (res.status().as_u16(), res.json().await.unwrap());
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains("messages[0].channel"), "{body}");
    }

    async fn an_sms_goes_through_the_configured_gateway_with_its_key_to_the_customers_who_consented(db: TestDb) {
        let gateway = crate::webhooks::Receiver::start(&[200]).await;
        let doc: loyd_domain::config::ConfigDocument = toml::from_str(&format!(
            r#"{STORE}
[sms]
url = "{url}"
body = '{{"to": {{{{ to | tojson }}}}, "text": {{{{ text | tojson }}}}, "ref": "{{{{ key }}}}"}}'
auth_header = "X-Api-Key"

[[messages]]
id = "welcome-sms"
event = "customer.registered"
channel = "sms"
[messages.texts.en]
body = "Hi {{{{ customer.name }}}}, welcome!"
[messages.texts.lv]
body = "Sveiki, {{{{ customer.name }}}}!"
"#,
            url = gateway.url
        ))
        .unwrap();
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        let (status, body) = call(&app, "PUT", "/v1/admin/channels/sms/credential", ADMIN_KEY, Some(json!({"secret": "k-123"}))).await;
        assert_eq!(status, 204, "{body}");
        for (channel, code) in [("email", 404), ("fax", 404)] {
            let (status, body) = call(&app, "PUT", &format!("/v1/admin/channels/{channel}/credential"), ADMIN_KEY, Some(json!({"secret": "x"}))).await;
            assert_eq!(status, code, "{channel}: {body}");
        }
        let sms = json!({"sms": true});
        let anna = register(&app, json!({"name": "Anna", "phone": "+37120000011", "consents": sms, "profile": {"language": "lv"}})).await;
        let bob = register(&app, json!({"name": "Bob", "phone": "+37120000012"})).await;
        let carl = register(&app, json!({"name": "Carl", "email": "carl@example.lv", "consents": sms})).await;
        assert_eq!(deliver_once(&app.store, &Sender::new(&app.url(""))).await.unwrap(), 3);
        let got = gateway.got();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].header("x-api-key"), "k-123");
        let sent = got[0].json();
        assert_eq!((sent["to"].as_str(), sent["text"].as_str()), (Some("+37120000011"), Some("Sveiki, Anna!")), "{sent}");
        assert_eq!(sent["ref"].as_str(), Some(got[0].header("idempotency-key")));
        let (_, log) = call(&app, "GET", "/v1/admin/deliveries", ADMIN_KEY, None).await;
        let log = log["deliveries"].as_array().unwrap().clone();
        assert_eq!(state_of(&log, &format!("customer:{anna}")).0, "delivered");
        assert_eq!(state_of(&log, &format!("customer:{bob}")).1, "the customer has not consented to this channel");
        assert_eq!(state_of(&log, &format!("customer:{carl}")).1, "the customer has no address on this channel");
        // The key is sealed at rest.
        assert!(app.db().texts("SELECT secret FROM channel_secrets WHERE name = 'sms'").await.iter().all(|s| !s.contains("k-123")));

        // A gateway whose answer must say it accepted: a bare 200 is not enough, and the
        // message is tried again.
        let file = format!("[sms]\nurl = \"{}\"\nbody = '{{{{ text }}}}'\ncontent_type = \"text/plain\"\nauth_header = \"X-Api-Key\"\nsuccess_contains = \"accepted\"\n", gateway.url);
        let res = app.client.post(app.url("/v1/admin/config")).bearer_auth(ADMIN_KEY).header("content-type", "application/toml").body(file).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        let dora = register(&app, json!({"name": "Dora", "phone": "+37120000014", "consents": sms})).await;
        assert_eq!(deliver_once(&app.store, &Sender::new(&app.url(""))).await.unwrap(), 1);
        assert_eq!(gateway.got().last().unwrap().body, "Hi Dora, welcome!");
        let (_, log) = call(&app, "GET", "/v1/admin/deliveries", ADMIN_KEY, None).await;
        let (state, error) = state_of(log["deliveries"].as_array().unwrap(), &format!("customer:{dora}"));
        assert_eq!((state.as_str(), error.as_str()), ("pending", "the gateway's answer does not say 'accepted'"));
    }

    async fn points_about_to_expire_are_announced_once_with_their_amount_days_before_they_burn(db: TestDb) {
        let smtp = Smtp::start().await;
        let doc: loyd_domain::config::ConfigDocument = toml::from_str(&format!(
            r#"{STORE}
[[currencies]]
code = "bonus"
kind = "points"
scale = 0
value = "0.01"
lifetime = {{ days = 30 }}

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[campaigns]]
id = "points"
[[campaigns.rewards]]
type = "accrue"
currency = "bonus"
fixed = "25"

[email]
host = "127.0.0.1"
port = {port}
security = "none"
from = "Shop <shop@loyd.test>"

[[messages]]
id = "expiring"
event = "points.expiring"
channel = "email"
days_before = 5
[messages.texts.en]
subject = "Your points expire on {{{{ points.expires_on }}}}"
body = "{{{{ points.amount }}}} {{{{ points.currency }}}} expire on {{{{ points.expires_on }}}}."
"#,
            port = smtp.port
        ))
        .unwrap();
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        let anna = register(&app, json!({"name": "Anna", "email": "anna@example.lv", "consents": {"email": true}})).await;
        let card = app.issue("LOY", Some(anna)).await.remove(0).number;
        assert_eq!(app.commit(&crate::helpers::receipt("e1", Some(&card), "10.00")).await.0, 201);
        let sender = Sender::new(&app.url(""));
        let notices = || async { app.store.run_job(loyd_store::Job::ExpiryNotices, "test".into()).await.unwrap().items };
        // Three weeks on, the points are nine days from burning: not yet.
        app.clock.advance(jiff::SignedDuration::from_hours(21 * 24));
        assert_eq!(notices().await, 0);
        // Four days later they are within five days: announced once, however often the job runs.
        app.clock.advance(jiff::SignedDuration::from_hours(4 * 24 + 1));
        assert_eq!(notices().await, 1);
        app.clock.advance(jiff::SignedDuration::from_hours(2));
        assert_eq!(notices().await, 0, "once per customer, currency and day");
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 1);
        let mail = smtp.received();
        assert_eq!(mail.len(), 1, "{mail:#?}");
        let expires = app.db().texts("SELECT CAST(expires_at AS TEXT) FROM lots").await;
        let day = jiff::Timestamp::from_microsecond(expires[0].parse().unwrap()).unwrap().strftime("%Y-%m-%d").to_string();
        assert_eq!(mail[0]["subject"].as_str().unwrap(), format!("Your points expire on {day}"));
        assert_eq!(mail[0]["text"].as_str().unwrap().trim(), format!("25 bonus expire on {day}."));
        // A notice for a customer's event reading another event's figures is refused.
        let file = "[[messages]]\nid = \"hello\"\nevent = \"customer.registered\"\nchannel = \"email\"\ndays_before = 3\n[messages.texts.en]\nsubject = \"Hi\"\nbody = \"{{ points.amount }}\"\n";
        let res = app.client.post(app.url("/v1/admin/config")).bearer_auth(ADMIN_KEY).header("content-type", "application/toml").body(file).send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        let text = body.to_string();
        for expected in ["messages[0].days_before", "messages[0].texts.en.body", "points.amount"] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }

    async fn an_smtp_server_wanting_a_login_gets_the_password_set_in_the_console_and_refuses_without_or_with_a_wrong_one(db: TestDb) {
        let smtp = Smtp::start_with_login("shop", "correct-horse-battery-staple").await;
        let mut doc = program(smtp.port);
        doc.email.as_mut().unwrap().username = Some("shop".into());
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        let anna = register(&app, json!({"name": "Anna", "email": "anna@example.lv", "consents": {"email": true}})).await;
        let sender = Sender::new(&app.url(""));
        let attempt = || async {
            let d = one_attempt(&app, &sender).await;
            assert_eq!(d.3, format!("customer:{anna}"));
            (d.0, d.1, d.2)
        };
        // No password yet: the server refuses the mail for good (530), nothing arrives.
        let (id, state, error) = attempt().await;
        assert_eq!(state, "dead", "{error}");
        assert!(error.contains("530"), "{error}");
        // A wrong one: refused at the login (535).
        let set = |secret: &'static str| {
            let app = &app;
            async move {
                let (status, body) = call(app, "PUT", "/v1/admin/channels/email/credential", ADMIN_KEY, Some(json!({"secret": secret}))).await;
                assert_eq!(status, 204, "{body}");
            }
        };
        set("wrong-password").await;
        assert_eq!(call(&app, "POST", &format!("/v1/admin/deliveries/{id}/retry"), ADMIN_KEY, None).await.0, 200);
        let (_, state, error) = attempt().await;
        assert_eq!(state, "dead", "{error}");
        assert!(error.contains("535"), "{error}");
        assert!(smtp.received().is_empty());
        // The right one: it arrives, once.
        set("correct-horse-battery-staple").await;
        assert_eq!(call(&app, "POST", &format!("/v1/admin/deliveries/{id}/retry"), ADMIN_KEY, None).await.0, 200);
        let (_, state, error) = attempt().await;
        assert_eq!(state, "delivered", "{error}");
        let mail = smtp.received();
        assert_eq!(mail.len(), 1);
        assert_eq!(mail[0]["to"], "anna@example.lv");
    }
}

both_backends! {
    async fn e_mail_goes_over_starttls_or_tls_to_a_server_a_private_ca_vouches_for_and_never_in_the_clear(db: TestDb) {
        let ca = loyd_testkit::smtp::TestCa::new();
        let smtp = Smtp::start_with_tls("starttls", &ca).await;
        let mut doc = program(smtp.port);
        doc.email.as_mut().unwrap().security = loyd_domain::program::SmtpSecurity::Starttls;
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        register(&app, json!({"name": "Anna", "email": "anna@example.lv", "consents": {"email": true}})).await;
        let sender = Sender::new(&app.url(""));
        let attempt = || async {
            let d = one_attempt(&app, &sender).await;
            (d.0, d.1, d.2)
        };
        let email = |security: &str, port: u16, ca: Option<String>| {
            json!({"host": "127.0.0.1", "port": port, "security": security, "from": "Loyd Shop <shop@loyd.test>", "ca_certificate": ca})
        };
        // The server's certificate is signed by no authority the system trusts: not sent, tried again.
        let (id, state, error) = attempt().await;
        assert_eq!(state, "pending", "{error}");
        assert!(error.to_lowercase().contains("certificate"), "{error}");
        // Without STARTTLS the server takes nothing (530): given up, nothing went in the clear.
        let (status, body) = call(&app, "PUT", "/v1/admin/config/email/email", ADMIN_KEY, Some(email("none", smtp.port, None))).await;
        assert_eq!(status, 200, "{body}");
        // (only one given up is sent again by hand: this one is due at its next attempt)
        assert_eq!(call(&app, "POST", &format!("/v1/admin/deliveries/{id}/retry"), ADMIN_KEY, None).await.0, 409);
        app.clock.advance(jiff::SignedDuration::from_secs(60));
        let (_, state, error) = attempt().await;
        assert_eq!(state, "dead", "{error}");
        assert!(error.contains("530"), "{error}");
        assert_eq!(smtp.count(), 0);
        // What is not a certificate is refused where it is written.
        let (status, body) = call(&app, "PUT", "/v1/admin/config/email/email", ADMIN_KEY, Some(email("starttls", smtp.port, Some("not a certificate".into())))).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["details"]["problems"][0]["path"], "ca_certificate", "{body}");
        // The network's own authority trusted: upgraded with STARTTLS, checked, delivered once.
        let (status, body) = call(&app, "PUT", "/v1/admin/config/email/email", ADMIN_KEY, Some(email("starttls", smtp.port, Some(ca.ca_pem())))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(call(&app, "POST", &format!("/v1/admin/deliveries/{id}/retry"), ADMIN_KEY, None).await.0, 200);
        let (_, state, error) = attempt().await;
        assert_eq!(state, "delivered", "{error}");
        let mail = smtp.received();
        assert_eq!((mail.len(), mail[0]["to"].as_str()), (1, Some("anna@example.lv")));
        // TLS from the first byte (port 465 style) with the same authority.
        let tls = Smtp::start_with_tls("tls", &ca).await;
        let (status, body) = call(&app, "PUT", "/v1/admin/config/email/email", ADMIN_KEY, Some(email("tls", tls.port, Some(ca.ca_pem())))).await;
        assert_eq!(status, 200, "{body}");
        register(&app, json!({"name": "Ben", "email": "ben@example.lv", "consents": {"email": true}})).await;
        let (_, state, error) = attempt().await;
        assert_eq!(state, "delivered", "{error}");
        assert_eq!(tls.received()[0]["to"], "ben@example.lv");
        assert_eq!(smtp.count(), 1, "nothing more to the first server");
    }
}
