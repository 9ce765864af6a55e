//! Webhooks: events posted to a real HTTP listener the test starts, signed with the
//! secret staff set, retried with backoff under the same idempotency key, given up and
//! sent again, claimed by one worker at a time — on both backends.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use loyd_api::deliver::{Sender, deliver_once};
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, code, spawn_with_program, staff};

pub(crate) const SECRET: &str = "whsec-0123456789abcdef-test";

/// What a receiver got: its headers (by lower-case name) and its body.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    headers: HeaderMap,
    pub(crate) body: String,
}

impl Got {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// An HTTP listener standing in for an integrator: it records every request and
/// answers each with the next status of its script (the last one repeated).
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    pub(crate) async fn start(script: &[u16]) -> Receiver {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.to_vec()));
        let (g, s) = (got.clone(), script.clone());
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    g.lock().unwrap().push(Got { headers, body });
                    let mut s = s.lock().unwrap();
                    let status = if s.len() > 1 { s.remove(0) } else { s[0] };
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got, script }
    }

    pub(crate) fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    fn answer(&self, status: u16) {
        *self.script.lock().unwrap() = vec![status];
    }
}

/// A store and two webhooks for registrations: `crm` at `url`, and `archive`, paused.
fn program(url: &str) -> loyd_domain::config::ConfigDocument {
    toml::from_str(&format!(
        r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"

[[webhooks]]
id = "crm"
url = "{url}"
events = ["customer.registered"]

[[webhooks]]
id = "archive"
url = "{url}"
events = ["customer.registered"]
paused = true
"#
    ))
    .unwrap()
}

async fn registered(app: &TestApp, phone: &str) -> String {
    let (status, c) = call(app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(json!({ "phone": phone }))).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().to_owned()
}

async fn set_secret(app: &TestApp, webhook: &str) {
    let (status, body) = call(app, "PUT", &format!("/v1/admin/webhooks/{webhook}/secret"), ADMIN_KEY, Some(json!({ "secret": SECRET }))).await;
    assert_eq!(status, 204, "{body}");
}

async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = call(app, "GET", &format!("/v1/admin/deliveries{query}"), ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{page}");
    page["deliveries"].as_array().unwrap().clone()
}

/// The signature a receiver computes: HMAC-SHA256 of `<t>.<body>` under the secret.
fn expected_signature(t: &str, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn seconds(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_secs(n)
}

both_backends! {
    async fn a_registered_customer_is_posted_once_to_the_active_webhook_that_wants_it_signed_with_its_secret(db: TestDb) {
        let hooks = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, program(&hooks.url)).await;
        admin(&app).await;
        set_secret(&app, "crm").await;
        let sender = Sender::new("http://127.0.0.1");
        let customer = registered(&app, "+37120000001").await;

        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 1);
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 0, "nothing is sent twice");
        let got = hooks.got();
        assert_eq!(got.len(), 1, "the switched-off webhook gets nothing: {got:?}");
        let body = got[0].json();
        assert_eq!(body["type"], "customer.registered");
        assert_eq!(body["data"]["customer"], customer.as_str());
        assert_eq!(got[0].header("idempotency-key"), body["id"].as_str().unwrap());
        assert_eq!(got[0].header("loyd-event"), "customer.registered");
        assert_eq!(got[0].header("content-type"), "application/json");
        let (t, v1) = got[0].header("loyd-signature").split_once(",v1=").unwrap();
        let t = t.strip_prefix("t=").unwrap();
        assert_eq!(v1, expected_signature(t, &got[0].body));
        assert_eq!(t, app.store.now().as_second().to_string());

        let log = deliveries(&app, "").await;
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!((log[0]["target"].as_str(), log[0]["state"].as_str(), log[0]["attempts"].as_i64(), log[0]["last_status"].as_i64()),
            (Some("crm"), Some("delivered"), Some(1), Some(200)));
        assert_eq!(log[0]["subject"], format!("customer:{}", customer.trim_start_matches("c_")));

        // The secret and the event's data are sealed at rest.
        let stored = app.db().texts("SELECT secret FROM channel_secrets").await;
        assert_eq!(stored.len(), 1);
        assert!(!stored[0].contains(SECRET) && stored[0].starts_with("v1."), "{stored:?}");
        let payloads = app.db().texts("SELECT payload FROM events").await;
        assert!(payloads.iter().all(|p| p.starts_with("v1.") && !p.contains("customer")), "{payloads:?}");
        let audit = app.db().texts("SELECT COALESCE(after, '') FROM audit_log WHERE action = 'channel.secret'").await;
        assert_eq!(audit.len(), 1);
    }

    async fn a_receiver_that_fails_gets_the_same_delivery_again_with_the_same_key_after_the_wait(db: TestDb) {
        let hooks = Receiver::start(&[503, 200]).await;
        let app = spawn_with_program(db, program(&hooks.url)).await;
        admin(&app).await;
        set_secret(&app, "crm").await;
        let sender = Sender::new("http://127.0.0.1");
        registered(&app, "+37120000002").await;

        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 1);
        let log = deliveries(&app, "?webhook=crm").await;
        assert_eq!((log[0]["state"].as_str(), log[0]["attempts"].as_i64(), log[0]["last_status"].as_i64()), (Some("pending"), Some(1), Some(503)));
        // Due again 30 seconds later, not before.
        app.clock.advance(seconds(29));
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 0);
        app.clock.advance(seconds(1));
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 1);
        let got = hooks.got();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].header("idempotency-key"), got[1].header("idempotency-key"));
        assert_eq!(got[0].json()["id"], got[1].json()["id"]);
        let log = deliveries(&app, "?webhook=crm&state=delivered").await;
        assert_eq!((log.len(), log[0]["attempts"].as_i64()), (1, Some(2)));
    }

    async fn a_delivery_is_given_up_after_its_attempts_and_staff_send_it_again_once_the_receiver_is_fixed(db: TestDb) {
        let hooks = Receiver::start(&[500]).await;
        let app = spawn_with_program(db, program(&hooks.url)).await;
        admin(&app).await;
        set_secret(&app, "crm").await;
        let sender = Sender::new("http://127.0.0.1");
        registered(&app, "+37120000003").await;
        for _ in 0..loyd_domain::events::ATTEMPTS {
            assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 1);
            app.clock.advance(seconds(6 * 3600));
        }
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 0, "a dead delivery is not tried");
        let dead = deliveries(&app, "?state=dead").await;
        assert_eq!((dead.len(), dead[0]["attempts"].as_i64()), (1, Some(i64::from(loyd_domain::events::ATTEMPTS))));
        let id = dead[0]["id"].as_i64().unwrap();

        // Only a dead delivery is sent again, and only by a role that may change the configuration.
        let analyst = staff(&app, "ann", "analyst", &[]).await;
        let (status, _) = call(&app, "POST", &format!("/v1/admin/deliveries/{id}/retry"), &analyst, None).await;
        assert_eq!(status, 403);
        hooks.answer(204);
        let (status, d) = call(&app, "POST", &format!("/v1/admin/deliveries/{id}/retry"), ADMIN_KEY, None).await;
        assert_eq!((status, d["state"].as_str(), d["attempts"].as_i64()), (200, Some("pending"), Some(0)), "{d}");
        let (status, again) = call(&app, "POST", &format!("/v1/admin/deliveries/{id}/retry"), ADMIN_KEY, None).await;
        assert_eq!((status, code(&again)), (409, "conflict"), "{again}");
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 1);
        assert_eq!(deliveries(&app, "?state=delivered").await.len(), 1);
        let got = hooks.got();
        assert_eq!(got.len(), loyd_domain::events::ATTEMPTS as usize + 1);
        assert!(got.iter().all(|g| g.header("idempotency-key") == got[0].header("idempotency-key")));
    }

    async fn a_webhook_without_a_secret_is_sent_nothing_and_a_test_event_goes_to_the_one_webhook_named(db: TestDb) {
        let hooks = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, program(&hooks.url)).await;
        admin(&app).await;
        let sender = Sender::new("http://127.0.0.1");
        registered(&app, "+37120000004").await;
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 1);
        assert!(hooks.got().is_empty(), "unsigned deliveries are not sent");
        let log = deliveries(&app, "").await;
        assert!(log[0]["last_error"].as_str().unwrap().contains("no secret"), "{log:?}");
        let (_, listed) = call(&app, "GET", "/v1/admin/webhooks", ADMIN_KEY, None).await;
        assert_eq!(listed[0]["id"], "crm");
        assert!(listed[0]["secret_set_at"].is_null(), "{listed}");

        set_secret(&app, "archive").await;
        let (status, test) = call(&app, "POST", "/v1/admin/webhooks/archive/test", ADMIN_KEY, None).await;
        assert_eq!(status, 202, "{test}");
        assert_eq!(deliver_once(&app.store, &sender).await.unwrap(), 1, "the registration waits for its retry; the test goes now");
        let got = hooks.got();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].json()["type"].as_str(), got[0].json()["data"]["webhook"].as_str()), (Some("webhook.test"), Some("archive")));
        let (_, listed) = call(&app, "GET", "/v1/admin/webhooks", ADMIN_KEY, None).await;
        assert!(listed[1]["secret_set_at"].is_string(), "{listed}");
        assert_eq!(deliveries(&app, "?webhook=archive").await.len(), 1);

        let (status, body) = call(&app, "POST", "/v1/admin/webhooks/nowhere/test", ADMIN_KEY, None).await;
        assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
        let (status, body) = call(&app, "PUT", "/v1/admin/webhooks/nowhere/secret", ADMIN_KEY, Some(json!({ "secret": SECRET }))).await;
        assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
        let (status, body) = call(&app, "PUT", "/v1/admin/webhooks/crm/secret", ADMIN_KEY, Some(json!({ "secret": "short" }))).await;
        assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
        let (status, body) = call(&app, "GET", "/v1/admin/deliveries?state=lost", ADMIN_KEY, None).await;
        assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
        let analyst = staff(&app, "ann", "analyst", &[]).await;
        let (status, _) = call(&app, "PUT", "/v1/admin/webhooks/crm/secret", &analyst, Some(json!({ "secret": SECRET }))).await;
        assert_eq!(status, 403);
    }

    async fn two_workers_never_claim_the_same_delivery_and_a_claim_left_unrecorded_is_sent_again_after_its_lease(db: TestDb) {
        let hooks = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, program(&hooks.url)).await;
        admin(&app).await;
        for k in 0..6 {
            registered(&app, &format!("+3712000010{k}")).await;
        }
        app.store.dispatch_events(100).await.unwrap();
        let lease = jiff::SignedDuration::from_secs(60);
        let (a, b) = tokio::join!(app.store.claim_deliveries(4, lease), app.store.claim_deliveries(4, lease));
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut ids: Vec<i64> = a.iter().chain(&b).map(|d| d.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!((ids.len(), a.len() + b.len()), (6, 6), "every delivery claimed once: {a:?} {b:?}");
        // A worker that died after sending: nobody takes its deliveries until the lease ends.
        assert!(app.store.claim_deliveries(10, lease).await.unwrap().is_empty());
        app.clock.advance(seconds(60));
        let again = app.store.claim_deliveries(10, lease).await.unwrap();
        assert_eq!(again.len(), 6);
        assert_eq!(again.iter().map(|d| d.key.clone()).collect::<Vec<_>>().len(), 6);
        assert!(again.iter().all(|d| a.iter().chain(&b).any(|x| x.key == d.key && x.id == d.id)));
    }

    async fn a_program_with_a_wrong_webhook_is_refused_with_the_field_named(db: TestDb) {
        let hooks = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, program(&hooks.url)).await;
        admin(&app).await;
        let file = r#"
[[webhooks]]
id = "bad"
url = "ftp://example.com/x"
events = ["customer.registered", "customer.vanished"]

[[webhooks]]
id = "secretive"
url = "https://user:pass@example.com/x"
events = ["webhook.test"]
"#;
        let res = app.client.post(app.url("/v1/admin/config")).bearer_auth(ADMIN_KEY).header("content-type", "application/toml").body(file).send().await.unwrap();
        let (status, body): (u16, Value) = (res.status().as_u16(), res.json().await.unwrap());
        assert_eq!(status, 422, "{body}");
        let text = body.to_string();
        for expected in ["webhooks[0].url", "webhooks[0].events[1]", "customer.vanished", "webhooks[1].url", "webhooks[1].events[0]"] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert!(!text.contains("pass@"), "the password is not echoed: {text}");
    }
}
