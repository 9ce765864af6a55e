//! Mailings end to end through a real SMTP server process: a mailing to a segment tried
//! as an A/B split on half of it, the winner by clicks sent to the rest, every member
//! who may receive it getting exactly one message and nobody else any; opens, clicks,
//! unsubscribes and purchases in its report; throttling and quiet hours holding
//! messages till their moment; one mailing per operation id; cancelling.

use std::collections::BTreeSet;

use loyd_api::deliver::{Sender, deliver_all};
use loyd_store::Job;
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, code, receipt, spawn_with_program, staff};
use crate::messages::Smtp;

/// The segments' program (a store in Riga, a card series, the `riga` segment) with the
/// SMTP server at `port`, and `more` of the `[email]` section.
pub(crate) fn program(port: u16, more: &str) -> loyd_domain::config::ConfigDocument {
    let email = format!("[email]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"Loyd Shop <shop@loyd.test>\"\n{more}\n");
    toml::from_str(&format!("{}\n{email}", crate::segments::PROGRAM)).unwrap()
}

/// A customer with an e-mail address, in `city`, with the e-mail consent or not.
async fn customer(app: &TestApp, n: usize, city: &str, consent: bool) -> i64 {
    let new = loyd_store::NewCustomer {
        email: Some(format!("c{n}@example.lv")),
        name: Some(format!("Buyer {n}")),
        profile: [("city".to_owned(), city.to_owned())].into(),
        consents: [("email".to_owned(), consent)].into(),
        ..Default::default()
    };
    app.store.create_customer(new, "test".into()).await.unwrap().id
}

/// Two variants of a sale, each with a tracked link (to a page named in Latvian).
fn variants() -> Value {
    let text = |name: &str| {
        json!({"en": {"subject": format!("Sale {name}"),
                      "body": format!("Hello {{{{ customer.name }}}}, variant {name}: {{{{ \"https://shop.example/izpārdošana?v={name}\" | track }}}}\n\nUnsubscribe: {{{{ unsubscribe_url }}}}")}})
    };
    json!([{"name": "A", "texts": text("A")}, {"name": "B", "texts": text("B")}])
}

async fn report(app: &TestApp, id: &Value) -> Value {
    let (status, r) = call(app, "GET", &format!("/v1/admin/mailings/{id}"), ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{r}");
    r
}

fn variant<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["variants"].as_array().unwrap().iter().find(|v| v["variant"] == name).unwrap()
}

/// The link in `text` that starts with `prefix`.
fn link(text: &str, prefix: &str) -> String {
    let at = text.find(prefix).unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[at..].split(|c: char| c.is_whitespace() || c == '"').next().unwrap().to_owned()
}

both_backends! {
    async fn a_mailing_to_a_segment_tests_two_variants_on_half_and_sends_the_winner_to_the_rest_and_reports_it(db: TestDb) {
        let smtp = Smtp::start().await;
        let app = spawn_with_program(db, program(smtp.port, "")).await;
        admin(&app).await;
        let mut members = std::collections::BTreeMap::new();
        for n in 0..30 {
            members.insert(format!("c{n}@example.lv"), customer(&app, n, "Riga", true).await);
        }
        customer(&app, 30, "Riga", false).await; // no consent: skipped
        let opted = customer(&app, 31, "Riga", true).await;
        let (status, _) = call(&app, "PATCH", &format!("/v1/admin/customers/c_{opted}"), ADMIN_KEY, Some(json!({"opted_out": true}))).await;
        assert_eq!(status, 200);
        for n in 32..37 {
            customer(&app, n, "Tallinn", true).await; // not in the segment
        }
        app.store.run_job(Job::Segments, "test".into()).await.unwrap();

        let body = json!({"name": "December sale", "channel": "email", "audience": "segment:riga", "variants": variants(),
                          "test_share": 50, "winner_by": "clicks", "decide_after_hours": 24});
        let (status, m) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(body)).await;
        assert_eq!(status, 201, "{m}");
        assert_eq!(m["state"], "scheduled");
        let sender = Sender::new(&app.url(""));
        deliver_all(&app.store, &sender).await.unwrap();

        // The test: half of the segment, split between A and B.
        let test = smtp.received();
        let r = report(&app, &m["id"]).await;
        assert_eq!(r["mailing"]["state"], "testing", "{r}");
        let (a, b) = (variant(&r, "A"), variant(&r, "B"));
        assert_eq!(r["total"]["sent"].as_u64().unwrap() as usize, test.len(), "{r}");
        assert!(a["sent"].as_u64().unwrap() >= 1 && b["sent"].as_u64().unwrap() >= 1, "{r}");
        assert!((8..=24).contains(&test.len()), "about half of 32: {}", test.len());
        for mail in &test {
            let to = mail["to"].as_str().unwrap();
            assert!(members.contains_key(to), "{to} is not a consenting member of the segment");
        }

        // One reader of B clicks its link (which also counts it opened); one of A opens it.
        let b_mail = test.iter().find(|m| m["subject"] == "Sale B").unwrap();
        let click = link(b_mail["text"].as_str().unwrap(), &app.url("/m/c/"));
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let res = no_redirects.get(&click).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "https://shop.example/izp%C4%81rdo%C5%A1ana?v=B", "sent on, its letters percent-encoded");
        let elsewhere = click.replace("shop.example", "evil.example");
        assert_eq!(no_redirects.get(&elsewhere).send().await.unwrap().status(), 404, "the MAC covers the destination");
        let a_mail = test.iter().find(|m| m["subject"] == "Sale A").unwrap();
        let pixel = link(a_mail["html"].as_str().unwrap(), &app.url("/m/o/"));
        let res = app.client.get(&pixel).send().await.unwrap();
        assert_eq!((res.status().as_u16(), res.headers()["content-type"].to_str().unwrap()), (200, "image/gif"));
        let mut forged = pixel.clone();
        forged.pop();
        forged.push(if pixel.ends_with('0') { '1' } else { '0' });
        assert_eq!(app.client.get(&forged).send().await.unwrap().status(), 404);
        let r = report(&app, &m["id"]).await;
        assert_eq!((variant(&r, "A")["opened"].as_u64(), variant(&r, "A")["clicked"].as_u64()), (Some(1), Some(0)), "{r}");
        assert_eq!((variant(&r, "B")["opened"].as_u64(), variant(&r, "B")["clicked"].as_u64()), (Some(1), Some(1)), "{r}");

        // Nothing more before the decision; after it, B goes to the rest.
        deliver_all(&app.store, &sender).await.unwrap();
        assert_eq!(smtp.received().len(), test.len());
        app.clock.advance(jiff::SignedDuration::from_hours(25));
        deliver_all(&app.store, &sender).await.unwrap();
        deliver_all(&app.store, &sender).await.unwrap();
        let all = smtp.received();
        let r = report(&app, &m["id"]).await;
        assert_eq!((r["mailing"]["state"].as_str(), r["mailing"]["winner"].as_str()), (Some("sent"), Some("B")), "{r}");
        let to: Vec<&str> = all.iter().map(|m| m["to"].as_str().unwrap()).collect();
        let unique: BTreeSet<&str> = to.iter().copied().collect();
        assert_eq!(unique.len(), to.len(), "one message per customer");
        assert_eq!(unique, members.keys().map(String::as_str).collect(), "every consenting member, nobody else");
        let ids: BTreeSet<&str> = all.iter().map(|m| m["message_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), all.len());
        let tested_a = test.iter().filter(|m| m["subject"] == "Sale A").count();
        assert_eq!(all.iter().filter(|m| m["subject"] == "Sale A").count(), tested_a, "the rest gets the winner, B");
        assert_eq!((r["mailing"]["enqueued"].as_u64(), r["mailing"]["skipped"].as_u64()), (Some(30), Some(2)), "{r}");
        assert_eq!(r["total"]["sent"], 30);

        // One member unsubscribes through the mailing, another buys within the week.
        let unsubscribe = all[0]["list_unsubscribe"].as_str().unwrap().trim_matches(['<', '>']).to_owned();
        assert_eq!(app.client.post(&unsubscribe).send().await.unwrap().status(), 200);
        let buyer = members[all[1]["to"].as_str().unwrap()];
        let card = app.issue("LOY", Some(buyer)).await.remove(0).number;
        let (status, body) = app.commit(&receipt("after-mail", Some(&card), "25.00")).await;
        assert_eq!(status, 201, "{body}");
        let r = report(&app, &m["id"]).await;
        assert_eq!((r["total"]["unsubscribed"].as_u64(), r["total"]["purchases"].as_u64()), (Some(1), Some(1)), "{r}");
    }

    async fn a_mailing_is_checked_made_once_per_operation_id_read_by_analysts_and_cancelled(db: TestDb) {
        let smtp = Smtp::start().await;
        let app = spawn_with_program(db, program(smtp.port, "")).await;
        admin(&app).await;
        let bad = json!({"name": "", "channel": "sms", "audience": "everyone", "variants": [], "test_share": 0});
        let (status, e) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(bad)).await;
        assert_eq!((status, code(&e)), (422, "validation_failed"), "{e}");
        let fields: Vec<&str> = e["error"]["details"]["problems"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
        assert_eq!(fields, ["name", "channel", "audience", "variants", "test_share"], "{e}");
        let bad_text = json!({"name": "x", "channel": "email", "audience": "all",
                              "variants": [{"name": "A", "texts": {"en": {"subject": "Hi", "body": "{{ customer.balance }}"}}}]});
        let (status, e) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(bad_text)).await;
        assert_eq!(status, 422);
        assert_eq!(e["error"]["details"]["problems"][0]["path"], "variants[0].texts.en.body", "{e}");
        // A segment only a till can decide has no members to write to.
        let till_only = json!({"name": "x", "channel": "email", "audience": "segment:big-basket", "variants": variants()});
        let (status, e) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(till_only)).await;
        assert_eq!((status, e["error"]["details"]["problems"][0]["path"].as_str()), (422, Some("audience")), "{e}");

        let anna = customer(&app, 1, "Riga", true).await;
        let body = json!({"operation_id": "m-1", "name": "Tomorrow", "channel": "email", "audience": "list",
                          "customers": [format!("c_{anna}"), "c_999"], "send_at": "2026-11-25T10:00:00Z", "variants": variants()});
        let (status, first) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(body.clone())).await;
        assert_eq!(status, 201, "{first}");
        let (status, again) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(body.clone())).await;
        assert_eq!((status, &again["id"]), (200, &first["id"]), "a retry answers the mailing made");
        let mut changed = body.clone();
        changed["name"] = json!("Other");
        let (status, e) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(changed)).await;
        assert_eq!((status, code(&e)), (409, "idempotency_conflict"));

        let analyst = staff(&app, "ann", "analyst", &[]).await;
        let (status, list) = call(&app, "GET", "/v1/admin/mailings", &analyst, None).await;
        assert_eq!((status, list["mailings"].as_array().unwrap().len()), (200, 1), "{list}");
        let (status, _) = call(&app, "POST", "/v1/admin/mailings", &analyst, Some(body)).await;
        assert_eq!(status, 403, "an analyst reads mailings, does not send them");

        // Not due yet: nothing goes.
        deliver_all(&app.store, &Sender::new(&app.url(""))).await.unwrap();
        assert!(smtp.received().is_empty());
        assert_eq!(report(&app, &first["id"]).await["mailing"]["state"], "scheduled");
        let (status, m) = call(&app, "POST", &format!("/v1/admin/mailings/{}/cancel", first["id"]), ADMIN_KEY, None).await;
        assert_eq!((status, m["state"].as_str()), (200, Some("cancelled")), "{m}");
        let (status, e) = call(&app, "POST", &format!("/v1/admin/mailings/{}/cancel", first["id"]), ADMIN_KEY, None).await;
        assert_eq!((status, code(&e)), (409, "conflict"));
        app.clock.advance(jiff::SignedDuration::from_hours(48));
        deliver_all(&app.store, &Sender::new(&app.url(""))).await.unwrap();
        assert!(smtp.received().is_empty(), "a cancelled mailing sends nothing");
        let (status, _) = call(&app, "GET", "/v1/admin/mailings/999", ADMIN_KEY, None).await;
        assert_eq!(status, 404);
    }

    async fn a_mailing_goes_at_the_channels_rate_and_waits_out_the_customers_quiet_hours(db: TestDb) {
        let smtp = Smtp::start().await;
        // Two a minute: one every 30 seconds.
        let app = spawn_with_program(db, program(smtp.port, "rate_per_minute = 2")).await;
        admin(&app).await;
        let ids: Vec<String> = [customer(&app, 1, "Riga", true).await, customer(&app, 2, "Riga", true).await, customer(&app, 3, "Riga", true).await]
            .iter()
            .map(|id| format!("c_{id}"))
            .collect();
        let one = json!([{"name": "A", "texts": {"en": {"subject": "News", "body": "Hello {{ customer.name }}"}}}]);
        let body = json!({"name": "Paced", "channel": "email", "audience": "list", "customers": ids, "variants": one});
        let (status, _) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(body)).await;
        assert_eq!(status, 201);
        let sender = Sender::new(&app.url(""));
        for expected in 1..=3 {
            deliver_all(&app.store, &sender).await.unwrap();
            assert_eq!(smtp.received().len(), expected, "one per slot");
            app.clock.advance(jiff::SignedDuration::from_secs(30));
        }

        // 08:16:30 UTC now; quiet from 08:00 to 09:00 in UTC (they never bought in a store).
        let quiet = json!({"name": "Quiet", "channel": "email", "audience": "list", "customers": ids, "variants": one,
                           "quiet_hours": {"from": "08:00", "to": "09:00"}, "time_zone": "UTC"});
        let (status, m) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(quiet)).await;
        assert_eq!(status, 201, "{m}");
        deliver_all(&app.store, &sender).await.unwrap();
        app.clock.advance(jiff::SignedDuration::from_mins(2));
        deliver_all(&app.store, &sender).await.unwrap();
        assert_eq!(smtp.received().len(), 3, "nothing in the quiet hours");
        assert_eq!(report(&app, &m["id"]).await["total"]["queued"], 3);
        app.clock.advance(jiff::SignedDuration::from_mins(45));
        deliver_all(&app.store, &sender).await.unwrap();
        assert_eq!(smtp.received().len(), 6, "all once the quiet hours end");
    }

    async fn a_customer_gets_no_more_marketing_on_a_channel_than_its_limit_allows(db: TestDb) {
        let smtp = Smtp::start().await;
        // At most one e-mail a customer within seven days.
        let app = spawn_with_program(db, program(smtp.port, "customer_limit = { count = 1, days = 7 }")).await;
        admin(&app).await;
        let ids: Vec<String> = [customer(&app, 1, "Riga", true).await, customer(&app, 2, "Riga", true).await].iter().map(|id| format!("c_{id}")).collect();
        let one = json!([{"name": "A", "texts": {"en": {"subject": "News", "body": "Hello {{ customer.name }}"}}}]);
        let sender = Sender::new(&app.url(""));
        let mut mailings = Vec::new();
        for (name, days_later) in [("first", 0), ("second", 3), ("third", 5)] {
            app.clock.advance(jiff::SignedDuration::from_hours(24 * days_later));
            let body = json!({"name": name, "channel": "email", "audience": "list", "customers": ids, "variants": one});
            let (status, m) = call(&app, "POST", "/v1/admin/mailings", ADMIN_KEY, Some(body)).await;
            assert_eq!(status, 201, "{m}");
            deliver_all(&app.store, &sender).await.unwrap();
            mailings.push(m["id"].clone());
        }
        // The first goes; the second, three days later, is over the limit; the third,
        // eight days after the first, goes again.
        assert_eq!(smtp.received().len(), 4);
        let second = report(&app, &mailings[1]).await;
        assert_eq!((second["total"]["sent"].as_u64(), second["total"]["withheld"].as_u64()), (Some(0), Some(2)), "{second}");
        let third = report(&app, &mailings[2]).await;
        assert_eq!(third["total"]["sent"], 2, "{third}");
        let log = app.store.deliveries(loyd_store::DeliveryFilter { state: Some("withheld".into()), limit: 10, ..Default::default() }).await.unwrap();
        assert!(log.iter().all(|d| d.last_error.as_deref().is_some_and(|e| e.contains("within 7 days"))), "{log:?}");
        // A limit out of range is refused when the program is applied.
        let file = format!("[email]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"shop@loyd.test\"\ncustomer_limit = {{ count = 0, days = 7 }}\n", smtp.port);
        let res = app.client.post(app.url("/v1/admin/config")).bearer_auth(ADMIN_KEY).header("content-type", "application/toml").body(file).send().await.unwrap();
        assert_eq!(res.status(), 422);
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"]["details"]["problems"][0]["path"], "email.customer_limit", "{e}");
    }
}
