//! Messages a receipt or a date sends: points accrued above a threshold, a new tier, a
//! coupon issued, a gift due, a balance running low, a birthday some days ahead — each
//! to the customers who may receive it, through a real HTTP listener standing in for
//! the SMS gateway, once.

use loyd_api::deliver::{Sender, deliver_once};
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, spawn_with_program};
use crate::webhooks::Receiver;

/// A store, points worth a cent, a tier ladder over the last year's purchases, a coupon
/// and a gift for receipts of 100.00, and the SMS gateway at `url`.
const RECEIPTS: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[currencies]]
code = "bonus"
kind = "points"
scale = 0
value = "0.01"

[currencies.redeem]

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[counters]]
id = "sum-365"
measure = "sum"
window_days = 365

[[tiers]]
id = "status"
counter = "sum-365"
levels = [{ id = "base", from = "0" }, { id = "silver", from = "100.00" }]

[[coupon_series]]
id = "NEXT"
kind = "unique"
name = "3.00 off the next order"
amount = "3.00"
validity_days = 30

[[campaigns]]
id = "visit"
rewards = [{ type = "accrue", currency = "bonus", fixed = "5" }]

[[campaigns]]
id = "big-basket"
min_total = "50.00"
rewards = [{ type = "accrue", currency = "bonus", fixed = "60" }]

[[campaigns]]
id = "next-order"
min_total = "100.00"
rewards = [{ type = "issue_coupon", coupon_series = "NEXT" }]

[[campaigns]]
id = "tote"
min_total = "100.00"
rewards = [{ type = "gift", gift = "Tote bag" }]
"#;

/// The `[sms]` section posting to `url`, the number and text as JSON.
fn gateway(url: &str) -> String {
    format!("[sms]\nurl = \"{url}\"\nbody = '{{\"to\": {{{{ to | tojson }}}}, \"text\": {{{{ text | tojson }}}}}}'\n")
}

const MESSAGES: &str = r#"
[[messages]]
id = "big-accrual"
event = "points.accrued"
channel = "sms"
min_amount = "50"
[messages.texts.en]
body = "+{{ points.amount }} {{ points.currency }}, now {{ points.balance }}"

[[messages]]
id = "tier-up"
event = "tier.changed"
channel = "sms"
direction = "up"
[messages.texts.en]
body = "You are {{ tier.to }} now (was {{ tier.from }})"

[[messages]]
id = "tier-down"
event = "tier.changed"
channel = "sms"
direction = "down"
[messages.texts.en]
body = "Back to {{ tier.to }}"

[[messages]]
id = "coupon"
event = "coupon.issued"
channel = "sms"
[messages.texts.en]
body = "Coupon {{ coupon.code }} ({{ coupon.series }})"

[[messages]]
id = "gift"
event = "gift.due"
channel = "sms"
[messages.texts.en]
body = "Collect your {{ gift.gift }} at {{ store.name }}"

[[messages]]
id = "low"
event = "points.redeemed"
channel = "sms"
balance_below = "20"
[messages.texts.en]
body = "Spent {{ points.amount }}, only {{ points.balance }} {{ points.currency }} left"
[messages.texts.lv]
body = "Atlikuši tikai {{ points.balance }} {{ points.currency }}"
"#;

fn basket(id: &str, card: Option<&str>, amount: &str) -> Value {
    crate::helpers::receipt(id, card, amount)
}

/// The SMS texts the gateway got, by number, in order.
fn texts(gateway: &Receiver) -> Vec<(String, String)> {
    gateway.got().iter().map(|r| r.json()).map(|b| (b["to"].as_str().unwrap().to_owned(), b["text"].as_str().unwrap().to_owned())).collect()
}

async fn events(app: &TestApp, kind: &str) -> usize {
    app.db().texts(&format!("SELECT CAST(id AS TEXT) FROM events WHERE kind = '{kind}'")).await.len()
}

async fn customer(app: &TestApp, body: Value) -> i64 {
    let (status, c) = call(app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(body)).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().trim_start_matches("c_").parse().unwrap()
}

both_backends! {
    async fn a_receipt_tells_its_customer_of_a_big_accrual_a_new_tier_a_coupon_a_gift_and_a_low_balance_once(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let crm = Receiver::start(&[200]).await;
        let hook = format!("[[webhooks]]\nid = \"crm\"\nurl = \"{}\"\nevents = [\"points.accrued\", \"tier.changed\"]\n", crm.url);
        let doc: loyd_domain::config::ConfigDocument = toml::from_str(&format!("{RECEIPTS}{}{MESSAGES}{hook}", gateway(&sms.url))).unwrap();
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        let (status, body) = call(&app, "PUT", "/v1/admin/webhooks/crm/secret", ADMIN_KEY, Some(json!({"secret": "a-long-random-webhook-secret-0123"}))).await;
        assert_eq!(status, 204, "{body}");
        let anna = customer(&app, json!({"name": "Anna", "phone": "+37120000021", "consents": {"sms": true}})).await;
        let ben = customer(&app, json!({"name": "Ben", "phone": "+37120000022"})).await;
        let anna_card = app.issue("LOY", Some(anna)).await.remove(0).number;
        let ben_card = app.issue("LOY", Some(ben)).await.remove(0).number;

        // 10.00: 5 points, below the 50 the message asks; still base.
        assert_eq!(app.commit(&basket("a-1", Some(&anna_card), "10.00")).await.0, 201);
        // 120.00: 65 points, silver (130.00 this year), a coupon and a gift.
        let (status, body) = app.commit(&basket("a-2", Some(&anna_card), "120.00")).await;
        assert_eq!(status, 201, "{body}");
        let coupon = body["issued_coupons"][0]["code"].as_str().unwrap().to_owned();
        // Sent again by the till: the same answer, no event twice.
        assert_eq!(app.commit(&basket("a-2", Some(&anna_card), "120.00")).await.0, 201);
        // 60 points spent on 10.00 (5 more accrued): 15 left, below 20.
        let mut spend = basket("a-3", Some(&anna_card), "10.00");
        spend["redeem"] = json!([{"currency": "bonus", "amount": "60"}]);
        let (status, body) = app.commit(&spend).await;
        assert_eq!(status, 201, "{body}");
        // Ben has not consented to texts; an anonymous receipt has nobody to tell.
        assert_eq!(app.commit(&basket("b-1", Some(&ben_card), "120.00")).await.0, 201);
        assert_eq!(app.commit(&basket("anon-1", None, "120.00")).await.0, 201);

        // Every accrual of an identified customer is an event (the threshold is the message's).
        assert_eq!(events(&app, "points.accrued").await, 4);
        assert_eq!((events(&app, "tier.changed").await, events(&app, "coupon.issued").await, events(&app, "gift.due").await), (2, 2, 2));
        assert_eq!(events(&app, "points.redeemed").await, 1);
        let sender = Sender::new(&app.url(""));
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        let phone = "+37120000021".to_owned();
        // Sent side by side: in any order.
        let mut got = texts(&sms);
        got.sort();
        let mut expected = vec![
                (phone.clone(), "+65 bonus, now 70".to_owned()),
                (phone.clone(), "You are silver now (was base)".to_owned()),
                (phone.clone(), format!("Coupon {coupon} (NEXT)")),
                (phone.clone(), "Collect your Tote bag at Riga Centre".to_owned()),
                (phone.clone(), "Spent 60, only 15 bonus left".to_owned()),
            ];
        expected.sort();
        assert_eq!(got, expected);
        // The integrator gets every accrual (the threshold is the message's) and every change.
        let mut hooked: Vec<(String, String)> =
            crm.got().iter().map(|r| r.json()).map(|b| (b["type"].as_str().unwrap().to_owned(), b["data"]["amount"].as_str().or(b["data"]["to"].as_str()).unwrap().to_owned())).collect();
        hooked.sort();
        let expected: Vec<(String, String)> =
            [("points.accrued", "5"), ("points.accrued", "5"), ("points.accrued", "65"), ("points.accrued", "65"), ("tier.changed", "silver"), ("tier.changed", "silver")]
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect();
        assert_eq!(hooked, expected);
        // Ben's were withheld for want of consent; the coupon's code is not in the log in clear.
        let (_, log) = call(&app, "GET", "/v1/admin/deliveries?state=withheld", ADMIN_KEY, None).await;
        let withheld = log["deliveries"].as_array().unwrap();
        assert_eq!(withheld.len(), 4, "{log}");
        assert!(withheld.iter().all(|d| d["subject"] == format!("customer:{ben}")), "{log}");
        assert!(app.db().texts("SELECT payload FROM events").await.iter().all(|p| !p.contains(&coupon)));

        // The 120.00 receipt cancelled: 20.00 this year, Anna is base again — told once.
        assert_eq!(app.pos_post("/v1/pos/receipts/a-2/cancel", &json!({})).await.status(), 200);
        assert_eq!(app.pos_post("/v1/pos/receipts/a-2/cancel", &json!({})).await.status(), 200);
        assert_eq!(events(&app, "tier.changed").await, 3);
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        assert_eq!(texts(&sms).len(), 6);
        assert_eq!(texts(&sms).last().unwrap(), &(phone, "Back to base".to_owned()));
    }

    async fn a_condition_on_an_event_that_cannot_have_it_is_refused_at_its_field(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let doc: loyd_domain::config::ConfigDocument = toml::from_str(&format!("{RECEIPTS}{}", gateway(&sms.url))).unwrap();
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        let file = r#"
[[messages]]
id = "a"
event = "tier.changed"
channel = "sms"
min_amount = "10"
[messages.texts.en]
body = "{{ points.amount }}"

[[messages]]
id = "b"
event = "customer.birthday"
channel = "sms"
days_before = 61
[messages.texts.en]
body = "Soon"

[[messages]]
id = "c"
event = "points.redeemed"
channel = "sms"
balance_below = "0"
[messages.texts.en]
body = "Low"
"#;
        let res = app.client.post(app.url("/v1/admin/config")).bearer_auth(ADMIN_KEY).header("content-type", "application/toml").body(file).send().await.unwrap();
        let (status, body): (u16, Value) = (res.status().as_u16(), res.json().await.unwrap());
        assert_eq!(status, 422, "{body}");
        let text = body.to_string();
        for expected in ["messages[0].min_amount", "messages[0].texts.en.body", "messages[1].days_before", "days_before is 0 to 60", "messages[2].balance_below"] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        let file = "[[messages]]\nid = \"c\"\nevent = \"tier.changed\"\nchannel = \"sms\"\ndirection = \"sideways\"\n[messages.texts.en]\nbody = \"Moved\"\n";
        let res = app.client.post(app.url("/v1/admin/config")).bearer_auth(ADMIN_KEY).header("content-type", "application/toml").body(file).send().await.unwrap();
        let (status, body): (u16, Value) = (res.status().as_u16(), res.json().await.unwrap());
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains("sideways"), "{body}");
    }

    async fn a_birthday_is_greeted_days_ahead_and_on_the_day_once_a_year_the_29th_of_february_on_the_28th(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let doc: loyd_domain::config::ConfigDocument = toml::from_str(&format!(
            r#"{RECEIPTS}{}
[[messages]]
id = "soon"
event = "customer.birthday"
channel = "sms"
days_before = 3
[messages.texts.en]
body = "{{{{ customer.name }}}}, your birthday is on {{{{ birthday.date }}}}: a gift awaits"

[[messages]]
id = "today"
event = "customer.birthday"
channel = "sms"
[messages.texts.en]
body = "Happy birthday, {{{{ customer.name }}}}!"
"#,
            gateway(&sms.url)
        ))
        .unwrap();
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        let sms_ok = json!({"sms": true});
        // The clock starts on 24 November 2026.
        let anna = customer(&app, json!({"name": "Anna", "phone": "+37120000031", "birth_date": "1990-11-27", "consents": sms_ok})).await;
        customer(&app, json!({"name": "Ben", "phone": "+37120000032", "birth_date": "1985-11-24", "consents": sms_ok})).await;
        customer(&app, json!({"name": "Carl", "phone": "+37120000033", "birth_date": "2000-02-29", "consents": sms_ok})).await;
        customer(&app, json!({"name": "Dora", "phone": "+37120000034", "consents": sms_ok})).await;
        customer(&app, json!({"name": "Eve", "phone": "+37120000035", "birth_date": "1999-11-27"})).await;
        // Anna as a customer of an earlier version, before birthdays were indexed.
        app.db().execute_raw(&format!("UPDATE customers SET birthday_index = NULL WHERE id = {anna}")).await.unwrap();
        let job = || async { app.store.run_job(loyd_store::Job::Birthdays, "test".into()).await.unwrap().items };
        let sender = Sender::new(&app.url(""));

        // Anna and Eve three days ahead, Ben today; once, however often the job runs.
        assert_eq!(job().await, 3);
        assert_eq!(job().await, 0, "at most hourly");
        app.clock.advance(jiff::SignedDuration::from_hours(2));
        assert_eq!(job().await, 0, "once a year per customer and notice");
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        let mut got = texts(&sms);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("+37120000031".to_owned(), "Anna, your birthday is on 2026-11-27: a gift awaits".to_owned()),
                ("+37120000032".to_owned(), "Happy birthday, Ben!".to_owned()),
            ],
            "Eve has not consented"
        );
        // On the 27th: the day's greeting for Anna (and Eve's, withheld).
        app.clock.advance(jiff::SignedDuration::from_hours(3 * 24));
        assert_eq!(job().await, 2);
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        assert_eq!(texts(&sms).last().unwrap().1, "Happy birthday, Anna!");
        // 2027 has no 29 February: Carl is greeted ahead of the 28th.
        app.clock.set("2027-02-25T08:00:00Z".parse().unwrap());
        assert_eq!(job().await, 1);
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        assert_eq!(texts(&sms).last().unwrap().1, "Carl, your birthday is on 2027-02-28: a gift awaits");
        // The next year, Anna again.
        app.clock.set("2027-11-24T08:00:00Z".parse().unwrap());
        assert_eq!(job().await, 3);
    }
}

/// A gift card series with a PIN, e-mail through the SMTP server at `port`, and the
/// certificate's message.
fn certificates(port: u16) -> loyd_domain::config::ConfigDocument {
    toml::from_str(&format!(
        r#"{store}
[[card_series]]
id = "GC"
kind = "gift"
prefix = "6000"
length = 13
currency = "EUR"
amount_min = "5.00"
amount_max = "100.00"
pin = true
validity_days = 365

[email]
host = "127.0.0.1"
port = {port}
security = "none"
from = "Shop <shop@loyd.test>"

[[messages]]
id = "certificate"
event = "gift_card.sold"
channel = "email"
[messages.texts.en]
subject = "A gift card of {{{{ gift_card.amount }}}} {{{{ gift_card.currency }}}}"
body = """{{% if gift_card.name %}}Dear {{{{ gift_card.name }}}},

{{% endif %}}{{% if gift_card.greeting %}}{{{{ gift_card.greeting }}}}

{{% endif %}}Card {{{{ gift_card.number }}}}, PIN {{{{ gift_card.pin }}}}, valid until {{{{ gift_card.valid_until }}}}."""
[messages.texts.lv]
subject = "Dāvanu karte: {{{{ gift_card.amount }}}} {{{{ gift_card.currency }}}}"
body = "Karte {{{{ gift_card.number }}}}, PIN {{{{ gift_card.pin }}}}."
"#,
        store = crate::messages::STORE
    ))
    .unwrap()
}

both_backends! {
    async fn a_gift_card_sold_as_a_certificate_sends_its_number_and_a_new_pin_only_to_the_address_the_buyer_gave(db: TestDb) {
        let smtp = crate::messages::Smtp::start().await;
        let app = spawn_with_program(db, certificates(smtp.port)).await;
        admin(&app).await;
        let card = app.issue("GC", None).await.remove(0);
        let printed = card.pin.clone().expect("a gift card of a series with PINs has one");
        let sale = json!({
            "operation_id": "g-1",
            "amount": "25.00",
            "send_to": {"email": "Liga@Example.LV", "name": "Līga", "greeting": "Happy birthday from Anna!", "language": "en"},
        });
        let res = app.pos_post(&format!("/v1/pos/gift-cards/{}/activate", card.number), &sale).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        // Sold again by a till that lost the answer: one certificate.
        assert_eq!(app.pos_post(&format!("/v1/pos/gift-cards/{}/activate", card.number), &sale).await.status(), 201);
        while deliver_once(&app.store, &Sender::new(&app.url(""))).await.unwrap() > 0 {}
        let mail = smtp.received();
        assert_eq!(mail.len(), 1, "{mail:#?}");
        assert_eq!(smtp.recipients().iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), vec!["liga@example.lv"]);
        assert_eq!(mail[0]["subject"].as_str().unwrap(), "A gift card of 25.00 EUR");
        let text = mail[0]["text"].as_str().unwrap().replace("\r\n", "\n");
        assert!(text.starts_with("Dear Līga,\n\nHappy birthday from Anna!\n\n"), "{text}");
        let pin = text.split("PIN ").nth(1).unwrap().split(',').next().unwrap().to_owned();
        assert_eq!(pin.len(), 4, "{text}");
        assert!(text.contains(&format!("Card {}", card.number)), "{text}");
        // The new PIN pays; the one printed at issue no longer does (unless they happen to match).
        let balance = |pin: String| {
            let app = &app;
            let number = card.number.clone();
            async move { app.pos_get(&format!("/v1/pos/cards/{number}?pin={pin}")).await.status().as_u16() }
        };
        assert_eq!(balance(pin.clone()).await, 200);
        if printed != pin {
            assert_eq!(balance(printed).await, 403);
        }
        // The PIN is nowhere in the clear: not in the outbox, the log, the stored operations.
        for sql in [
            "SELECT payload FROM events",
            "SELECT COALESCE(last_error, '') FROM deliveries",
            "SELECT response FROM pos_operations",
            "SELECT COALESCE(after, '') FROM audit_log",
        ] {
            for value in app.db().texts(sql).await {
                assert!(!value.contains(&format!("PIN {pin}")) && !value.contains(&format!("\"pin\":\"{pin}\"")), "{sql}: {value}");
            }
        }

        // Once delivered, the PIN is gone from the outbox too: sent again, the text cannot be made.
        app.db().execute_raw("UPDATE deliveries SET state = 'pending', next_at = 0, attempts = 0").await.unwrap();
        while deliver_once(&app.store, &Sender::new(&app.url(""))).await.unwrap() > 0 {}
        assert_eq!(smtp.received().len(), 1);
        let (_, log) = call(&app, "GET", "/v1/admin/deliveries", ADMIN_KEY, None).await;
        let error = log["deliveries"][0]["last_error"].as_str().unwrap_or_default().to_owned();
        assert!(error.starts_with("the text does not render"), "{log}");

        // An address that is not one, or both kinds at once, is refused before anything is sold.
        let other = app.issue("GC", None).await.remove(0).number;
        for (send_to, field) in [
            (json!({"email": "not an address"}), "send_to.email"),
            (json!({"email": "a@b.lv", "phone": "+37120000001"}), "send_to"),
            (json!({}), "send_to"),
            (json!({"phone": "+37120000001", "language": "fi"}), "send_to.language"),
        ] {
            let res = app.pos_post(&format!("/v1/pos/gift-cards/{other}/activate"), &json!({"operation_id": "g-2", "amount": "10.00", "send_to": send_to})).await;
            let (status, body): (u16, Value) = (res.status().as_u16(), res.json().await.unwrap());
            assert_eq!((status, body["error"]["code"].as_str()), (422, Some("validation_failed")), "{body}");
            assert!(body.to_string().contains(field), "{field}: {body}");
        }
        // A phone, where the only message is an e-mail: nothing could carry it, so the sale is refused.
        let res = app.pos_post(&format!("/v1/pos/gift-cards/{other}/activate"), &json!({"operation_id": "g-3", "amount": "10.00", "send_to": {"phone": "+37120000001"}})).await;
        let (status, body): (u16, Value) = (res.status().as_u16(), res.json().await.unwrap());
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains("sms"), "{body}");
        let res = app.pos_get(&format!("/v1/pos/cards/{other}")).await;
        let body: Value = res.json().await.unwrap();
        assert_ne!(body["state"], "active", "nothing was sold: {body}");
    }
}

both_backends! {
    async fn marketing_an_event_sends_goes_at_the_channels_rate_and_a_transactional_message_at_once(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let doc: loyd_domain::config::ConfigDocument = toml::from_str(&format!(
            r#"{RECEIPTS}{}rate_per_minute = 2

[[messages]]
id = "card-ready"
event = "customer.registered"
channel = "sms"
transactional = true
[messages.texts.en]
body = "Your card is ready"

[[messages]]
id = "today"
event = "customer.birthday"
channel = "sms"
[messages.texts.en]
body = "Happy birthday, {{{{ customer.name }}}}!"
"#,
            gateway(&sms.url)
        ))
        .unwrap();
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        for (name, phone) in [("Anna", "+37120000041"), ("Ben", "+37120000042"), ("Carl", "+37120000043")] {
            customer(&app, json!({"name": name, "phone": phone, "birth_date": "1990-11-24", "consents": {"sms": true}})).await;
        }
        assert_eq!(app.store.run_job(loyd_store::Job::Birthdays, "test".into()).await.unwrap().items, 3);
        let sender = Sender::new(&app.url(""));
        let birthdays = || texts(&sms).into_iter().filter(|(_, t)| t.starts_with("Happy")).count();
        // Three cards ready at once; two a minute of the greetings: one now, one each 30 s.
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        assert_eq!(texts(&sms).iter().filter(|(_, t)| t == "Your card is ready").count(), 3);
        assert_eq!(birthdays(), 1);
        app.clock.advance(jiff::SignedDuration::from_secs(29));
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        assert_eq!(birthdays(), 1);
        app.clock.advance(jiff::SignedDuration::from_secs(1));
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        assert_eq!(birthdays(), 2);
        app.clock.advance(jiff::SignedDuration::from_secs(30));
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        assert_eq!(birthdays(), 3);
    }
}

both_backends! {
    async fn a_task_come_due_is_mailed_to_its_assignee_once_with_a_link_to_the_customer(db: TestDb) {
        let smtp = crate::messages::Smtp::start().await;
        let doc: loyd_domain::config::ConfigDocument = toml::from_str(&format!(
            r#"{store}
[email]
host = "127.0.0.1"
port = {port}
security = "none"
from = "Loyd <crm@loyd.test>"

[[messages]]
id = "task-due"
event = "crm.task_due"
channel = "email"
[messages.texts.en]
subject = "Due: {{{{ task.body }}}}"
body = "{{{{ task.kind }}}} due {{{{ task.due_at }}}}: {{{{ task.body }}}}{{% if task.url %}} — {{{{ task.url }}}}{{% endif %}}"
"#,
            store = crate::messages::STORE,
            port = smtp.port
        ))
        .unwrap();
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        for (login, email) in [("sue", json!("Sue@Shop.Example")), ("sam", json!(null))] {
            let body = json!({"login": login, "password": "a-long-password-1", "role": "support", "email": email});
            let (status, user) = call(&app, "POST", "/v1/admin/users", ADMIN_KEY, Some(body)).await;
            assert_eq!(status, 201, "{user}");
        }
        let (status, body) = call(&app, "POST", "/v1/admin/users", ADMIN_KEY, Some(json!({"login": "bad", "password": "a-long-password-1", "role": "support", "email": "not mail"}))).await;
        assert_eq!(status, 422, "{body}");
        let anna = customer(&app, json!({"name": "Anna", "phone": "+37120000051"})).await;
        for (assignee, body) in [("sue", "Call back about the lost card"), ("sam", "Send the invoice")] {
            let task = json!({"kind": "task", "body": body, "assignee": assignee, "due_at": "2026-11-24T09:15:00Z"});
            let (status, t) = call(&app, "POST", &format!("/v1/admin/customers/c_{anna}/crm"), ADMIN_KEY, Some(task)).await;
            assert_eq!(status, 201, "{t}");
        }
        let job = || async { app.store.run_job(loyd_store::Job::TaskReminders, "test".into()).await.unwrap().items };
        assert_eq!(job().await, 0, "not due yet (08:15)");
        app.clock.advance(jiff::SignedDuration::from_hours(1));
        assert_eq!(job().await, 2);
        assert_eq!(job().await, 0, "once");
        let sender = Sender::new(&app.url(""));
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        let mail = smtp.received();
        assert_eq!(mail.len(), 1, "{mail:#?}");
        assert_eq!(mail[0]["to"], "sue@shop.example");
        assert_eq!(mail[0]["subject"], "Due: Call back about the lost card");
        let text = mail[0]["text"].as_str().unwrap().trim().to_owned();
        assert_eq!(text, format!("task due 2026-11-24T09:15:00Z: Call back about the lost card — {}/admin/customers/c_{anna}", app.url("")));
        assert_eq!(mail[0]["list_unsubscribe"], "None", "staff mail has no unsubscribe link");
        let (_, log) = call(&app, "GET", "/v1/admin/deliveries?state=withheld", ADMIN_KEY, None).await;
        assert_eq!(log["deliveries"][0]["subject"], "user:sam", "{log}");
        assert!(log["deliveries"][0]["last_error"].as_str().unwrap().contains("no e-mail address"), "{log}");
    }
}

both_backends! {
    async fn a_customer_whose_old_purchases_leave_the_tiers_year_is_told_once_that_their_level_fell(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let doc: loyd_domain::config::ConfigDocument = toml::from_str(&format!("{RECEIPTS}{}{MESSAGES}", gateway(&sms.url))).unwrap();
        let app = spawn_with_program(db, doc).await;
        admin(&app).await;
        let anna = customer(&app, json!({"phone": "+37120000081", "consents": {"sms": true}})).await;
        let ben = customer(&app, json!({"phone": "+37120000082", "consents": {"sms": true}})).await;
        let anna_card = app.issue("LOY", Some(anna)).await.remove(0).number;
        let ben_card = app.issue("LOY", Some(ben)).await.remove(0).number;
        let start = app.store.now();
        // Both become silver; half a year on, Anna buys for 10.00, Ben for 150.00.
        assert_eq!(app.commit(&basket("y-1", Some(&anna_card), "120.00")).await.0, 201);
        assert_eq!(app.commit(&basket("y-2", Some(&ben_card), "120.00")).await.0, 201);
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 180));
        assert_eq!(app.commit(&basket("y-3", Some(&anna_card), "10.00")).await.0, 201);
        assert_eq!(app.commit(&basket("y-4", Some(&ben_card), "150.00")).await.0, 201);
        let ups = events(&app, "tier.changed").await;
        assert_eq!(ups, 2);
        // A pass before the year is out finds nobody.
        assert_eq!(app.store.run_job(loyd_store::Job::TierReviews, "test".into()).await.unwrap().items, 0);
        // A year and an hour after the first purchases they leave the window: Anna has
        // 10.00 of the 100.00 silver asks, Ben 150.00.
        app.clock.set(start + jiff::SignedDuration::from_hours(24 * 365 + 1));
        let run = app.store.run_job(loyd_store::Job::TierReviews, "test".into()).await.unwrap();
        assert_eq!((run.items, run.error), (2, None), "both reviewed");
        assert_eq!(events(&app, "tier.changed").await, ups + 1, "only Anna fell");
        // Told once, by SMS: a second pass finds nothing new.
        assert_eq!(app.store.run_job(loyd_store::Job::TierReviews, "test".into()).await.unwrap().items, 0);
        let sender = Sender::new(&app.url(""));
        while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
        let down: Vec<(String, String)> = texts(&sms).into_iter().filter(|(_, t)| t.starts_with("Back to")).collect();
        assert_eq!(down, [("+37120000081".to_owned(), "Back to base".to_owned())]);
        let (_, log) = call(&app, "GET", "/v1/admin/deliveries?webhook=tier-down", ADMIN_KEY, None).await;
        assert_eq!(log["deliveries"].as_array().unwrap().len(), 1, "{log}");
    }
}
