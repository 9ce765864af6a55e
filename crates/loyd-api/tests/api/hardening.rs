//! What security and correctness probes found, each with the test that failed before
//! the fix, on both backends: text with NULs and control characters, error shapes of
//! the HTTP layer, secrets at rest, identical retries racing each other, concurrent
//! returns, receipt times, PIN guessing and card enumeration.

use std::collections::BTreeSet;

use loyd_testkit::both_backends;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, code, example, receipt, spawn_with_program};

/// The program of every kind of value a till handles (`examples/every-card-kind.toml`).
fn program() -> loyd_domain::config::ConfigDocument {
    example("every-card-kind.toml")
}

async fn app(db: loyd_testkit::TestDb) -> TestApp {
    let app = spawn_with_program(db, program()).await;
    admin(&app).await;
    app
}

/// Sends `bytes` on a fresh connection and reads the whole answer (requests say
/// `Connection: close`, or are refused by hyper, which closes).
async fn raw(app: &TestApp, bytes: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    // A server that answers before reading all of a too-large request closes the
    // connection with bytes unread: the rest of the write, and the end of the read, may
    // then meet a reset. What was answered before it is what counts.
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 8192];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open: {}", String::from_utf8_lossy(&out));
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON error of a raw HTTP answer, checked for the documented shape.
fn raw_error(answer: &str) -> (u16, String) {
    let status: u16 = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {answer:?}"));
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{answer}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    (status, v["error"]["code"].as_str().unwrap().to_owned())
}

both_backends! {
    async fn a_nul_or_control_character_in_any_text_is_a_4xx_on_every_route(db: TestDb) {
        let app = app(db).await;
        let (_, card) = app.customer_with_card("+37120000001", "LOY").await;
        let line = json!([{"line": 1, "sku": "X", "qty": "1", "amount": "1.00"}]);
        let nul = "a\u{0}b";
        let pos: Vec<(&str, String, Option<Value>)> = vec![
            ("POST", "/v1/pos/calculate".into(), Some(json!({"receipt_id": nul, "lines": line}))),
            ("POST", "/v1/pos/receipts".into(), Some(json!({"receipt_id": nul, "lines": line}))),
            ("POST", "/v1/pos/receipts".into(), Some(json!({"receipt_id": "r-sku", "lines": [{"line": 1, "sku": nul, "qty": "1", "amount": "1"}]}))),
            ("POST", "/v1/pos/receipts".into(), Some(json!({"receipt_id": "r-pay", "lines": line, "payments": {"cash": nul}}))),
            ("POST", "/v1/pos/receipts".into(), Some(json!({"receipt_id": "r-card", "customer": {"card": nul}, "lines": line}))),
            ("POST", "/v1/pos/receipts/a%00b/cancel".into(), None),
            ("POST", "/v1/pos/receipts/r1/cancel".into(), Some(json!({"terminal": nul}))),
            ("POST", "/v1/pos/returns".into(), Some(json!({"return_id": nul, "receipt_id": "r1", "lines": [{"line": 1, "qty": "1"}]}))),
            ("POST", "/v1/pos/returns".into(), Some(json!({"return_id": "ok", "receipt_id": nul, "lines": [{"line": 1, "qty": "1"}]}))),
            ("POST", "/v1/pos/returns".into(), Some(json!({"return_id": "ok", "receipt_id": "r1", "terminal": "pos\n1", "lines": [{"line": 1, "qty": "1"}]}))),
            ("GET", "/v1/pos/cards/a%00b".into(), None),
            ("GET", format!("/v1/pos/cards/{card}?pin=%00"), None),
            ("GET", format!("/v1/pos/cards/{card}%0A"), None),
            ("POST", "/v1/pos/gift-cards/a%00b/activate".into(), Some(json!({"operation_id": "g", "amount": "5.00"}))),
            ("POST", "/v1/pos/gift-cards/6000000000019/activate".into(), Some(json!({"operation_id": nul, "amount": "5.00"}))),
            ("POST", "/v1/pos/visits".into(), Some(json!({"operation_id": "v", "customer": {"card": nul}}))),
            ("POST", "/v1/pos/visits".into(), Some(json!({"operation_id": "v", "customer": {"card": card}, "service": "gym\u{1b}"}))),
            ("POST", "/v1/pos/offline".into(), Some(json!({"receipts": nul}))),
        ];
        let admin_calls: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", "/v1/admin/customers?card=%00".into(), None),
            ("GET", "/v1/admin/customers?name=a%00b".into(), None),
            ("GET", "/v1/admin/customers/c_1%00".into(), None),
            ("POST", "/v1/admin/customers".into(), Some(json!({"name": nul}))),
            ("POST", "/v1/admin/customers".into(), Some(json!({"name": "Anna\nBērziņa"}))),
            ("PATCH", "/v1/admin/customers/c_1".into(), Some(json!({"profile": {"city": nul}}))),
            ("POST", "/v1/admin/customers/c_1/crm".into(), Some(json!({"kind": "note", "body": nul}))),
            ("POST", "/v1/admin/customers/c_1/adjustments".into(), Some(json!({"operation_id": "adj", "currency": "bonus", "amount": "1", "reason": "a\u{7}"}))),
            ("GET", "/v1/admin/failures?terminal=%00".into(), None),
            ("GET", "/v1/admin/audit?actor=%00".into(), None),
            ("POST", "/v1/admin/cards/a%00b/block".into(), None),
            ("POST", "/v1/admin/cards".into(), Some(json!({"series": nul}))),
            ("PATCH", "/v1/admin/users/a%00b".into(), Some(json!({"disabled": true}))),
            ("POST", "/v1/admin/organisations".into(), Some(json!({"name": nul}))),
            ("POST", "/v1/admin/organisations".into(), Some(json!({"name": "Koks", "tax_id": "LV\t1"}))),
            ("POST", "/v1/admin/config".into(), Some(json!({"stores": [{"id": "x", "name": nul}]}))),
            ("POST", "/v1/admin/config".into(), Some(json!({"stores": [{"id": "x", "name": "Bad\nName"}]}))),
            ("POST", "/v1/auth/login".into(), Some(json!({"login": nul, "password": "whatever-123"}))),
        ];
        let mut checked = 0;
        let pos_calls = pos.len();
        for (calls, token) in [(pos, app.key.clone()), (admin_calls, ADMIN_KEY.to_owned())] {
            for (method, path, body) in calls {
                let (status, answer) = call(&app, method, &path, &token, body.clone()).await;
                assert!((400..500).contains(&status), "{method} {path} {body:?} answered {status}: {answer}");
                assert!(!code(&answer).is_empty() && answer["error"]["message"].is_string(), "{method} {path}: {answer}");
                assert_ne!(status, 401, "{method} {path}: the caller is authorised, the text is what is wrong");
                checked += 1;
            }
        }
        assert!(checked >= 36);
        // Every refused POS call is in the failure log, and nothing there holds a NUL.
        let failures = app.store.failures(loyd_store::FailureFilter { limit: 1000, ..Default::default() }).await.unwrap();
        assert_eq!(failures.len(), pos_calls, "{failures:?}");
        assert!(failures.iter().all(|f| !format!("{f:?}").contains("\\0")), "{failures:?}");
    }

    async fn an_offline_upload_answers_per_receipt_even_when_one_holds_a_nul_or_breaks_a_rule(db: TestDb) {
        let app = app(db).await;
        let (_, card) = app.customer_with_card("+37120000002", "LOY").await;
        let good = |id: &str| receipt(id, Some(&card), "10.00");
        let mut nul = good("o-nul");
        nul["lines"][0]["sku"] = json!("x\u{0}y");
        let mut nul_id = good("o-x");
        nul_id["receipt_id"] = json!("o\u{0}");
        let res = app.pos_post("/v1/pos/offline", &json!({"receipts": [good("o-1"), nul, nul_id, good("o-2")]})).await;
        assert_eq!(res.status(), 200);
        let report: Value = res.json().await.unwrap();
        let statuses: Vec<&str> = report["receipts"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["committed", "refused", "refused", "committed"], "{report}");
        assert_eq!(report["receipts"][1]["error"]["code"], "validation_failed");
        assert_eq!(report["receipts"][2]["receipt_id"], "o\\u{0}", "the id is echoed escaped");
        assert_eq!(app.balance(&card, "bonus").await.0, "20");
    }

    async fn every_error_of_the_http_layer_has_the_json_shape(db: TestDb) {
        let app = app(db).await;
        let host = app.base.trim_start_matches("http://").to_owned();
        // 414 from the routes' guard (over 8 KiB) and from hyper itself (over 64 KiB).
        for len in [10_000, 100_000] {
            let path = format!("/v1/admin/customers?name={}", "a".repeat(len));
            let answer = raw(&app, format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ADMIN_KEY}\r\nConnection: close\r\n\r\n").as_bytes()).await;
            assert_eq!(raw_error(&answer), (414, "uri_too_long".into()), "{len}");
        }
        // 431: more headers than hyper takes.
        let many: String = (0..200).map(|i| format!("X-H{i}: {i}\r\n")).collect();
        let big = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n{many}Connection: close\r\n\r\n");
        assert_eq!(raw_error(&raw(&app, big.as_bytes()).await), (431, "headers_too_large".into()));
        // 400: not HTTP at all.
        assert_eq!(raw_error(&raw(&app, b"HELLO THERE\r\n\r\n").await), (400, "validation_failed".into()));
        // 413 on every kind of body, including the optional one of a cancellation.
        let huge = "x".repeat(2 * 1024 * 1024);
        for path in ["/v1/pos/receipts", "/v1/pos/receipts/r1/cancel", "/v1/pos/returns"] {
            let res = app.client.post(app.url(path)).bearer_auth(&app.key).header("content-type", "application/json").body(huge.clone()).send().await.unwrap();
            assert_eq!(res.status(), 413, "{path}");
            let body: Value = res.json().await.unwrap();
            assert_eq!((code(&body), &body["error"]["details"]["limit_bytes"]), ("payload_too_large", &json!(1024 * 1024)), "{path}: {body}");
        }
        // 415, 405, 404: JSON too.
        let res = app.client.post(app.url("/v1/pos/receipts")).bearer_auth(&app.key).body("{}").send().await.unwrap();
        assert_eq!(res.status(), 415);
        assert_eq!(code(&res.json().await.unwrap()), "unsupported_media_type");
        let res = app.client.delete(app.url("/v1/pos/receipts")).bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(res.status(), 405);
        assert_eq!(code(&res.json().await.unwrap()), "method_not_allowed");
        let res = app.client.get(app.url("/nowhere")).send().await.unwrap();
        assert_eq!(code(&res.json().await.unwrap()), "not_found");
    }

    async fn errors_say_which_field_which_limit_and_what_balance(db: TestDb) {
        let app = app(db).await;
        let (customer, card) = app.customer_with_card("+37120000003", "LOY").await;
        app.grant(customer, "bonus", 20).await;
        let mut r = receipt("d-1", Some(&card), "10.00");
        r["lines"][0]["qty"] = json!(1);
        let (status, body) = app.commit(&r).await;
        assert_eq!((status, code(&body)), (422, "validation_failed"));
        assert_eq!(body["error"]["details"]["field"], "lines[0].qty", "{body}");
        let mut r = receipt("d-2", Some(&card), "100.00");
        r["redeem"] = json!([{"currency": "bonus", "amount": "30"}]);
        let (status, body) = app.commit(&r).await;
        assert_eq!((status, code(&body)), (409, "insufficient_funds"), "{body}");
        assert_eq!((body["error"]["details"]["available"].as_str(), body["error"]["details"]["requested"].as_str()), (Some("20"), Some("30")), "{body}");
    }

    async fn no_pin_password_one_time_code_or_key_is_stored_anywhere(db: TestDb) {
        let app = app(db).await;
        let (customer, card) = app.customer_with_card("+37120000004", "LOY").await;
        // Staff: a user made over the API, a login, a wrong password, a password change.
        let password = "Correct-Horse-Battery-42";
        let (status, _) = call(&app, "POST", "/v1/admin/users", ADMIN_KEY,
            Some(json!({"login": "kate", "password": password, "role": "support"}))).await;
        assert_eq!(status, 201);
        let (status, session) = call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "kate", "password": password}))).await;
        assert_eq!(status, 201);
        let token = session["token"].as_str().unwrap().to_owned();
        call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "kate", "password": "Wrong-Horse-Battery-43"}))).await;
        let new_password = "Another-Horse-Battery-44";
        assert_eq!(call(&app, "PATCH", "/v1/admin/users/kate", ADMIN_KEY, Some(json!({"password": new_password}))).await.0, 200);
        // Gift cards, issued over the API (PINs shown once), sold, paid with, inquired.
        let (status, issued) = call(&app, "POST", "/v1/admin/cards", ADMIN_KEY, Some(json!({"series": "GC", "count": 3}))).await;
        assert_eq!(status, 201, "{issued}");
        let gifts: Vec<(String, String)> = issued["cards"].as_array().unwrap().iter()
            .map(|c| (c["number"].as_str().unwrap().to_owned(), c["pin"].as_str().unwrap().to_owned())).collect();
        for (n, (number, _)) in gifts.iter().enumerate() {
            let res = app.pos_post(&format!("/v1/pos/gift-cards/{number}/activate"), &json!({"operation_id": format!("act-{n}"), "amount": "20.00"})).await;
            assert_eq!(res.status(), 201);
        }
        let (g0, p0) = &gifts[0];
        let (g1, p1) = &gifts[1];
        let (g2, p2) = &gifts[2];
        let (_, coupons) = call(&app, "POST", "/v1/admin/coupons", ADMIN_KEY, Some(json!({"series": "GEN", "count": 1}))).await;
        let coupon = coupons["coupons"][0]["code"].as_str().unwrap().to_owned();
        let mut paid = receipt("s-1", Some(&card), "30.00");
        paid["gift_cards"] = json!([{"number": g0, "pin": p0, "amount": "5.00"}]);
        paid["coupons"] = json!([coupon]);
        assert_eq!(app.pos_post("/v1/pos/calculate", &paid).await.status(), 200);
        let (status, body) = app.commit(&paid).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(app.commit(&paid).await.0, 201, "a retry");
        // Refusals that carry PINs: a wrong one, one sent as a JSON number, one over the limit.
        let mut wrong = receipt("s-2", None, "5.00");
        wrong["gift_cards"] = json!([{"number": g1, "pin": "0000", "amount": "1.00"}]);
        app.commit(&wrong).await;
        let mut as_number = receipt("s-3", None, "5.00");
        as_number["gift_cards"] = json!([{"number": g1, "pin": p1.parse::<u64>().unwrap(), "amount": "1.00"}]);
        let (status, body) = app.commit(&as_number).await;
        assert_eq!(status, 422, "{body}");
        assert!(!body.to_string().contains(p1.as_str()), "the refusal does not echo the PIN: {body}");
        let res = app.pos_get(&format!("/v1/pos/cards/{g1}?pin={p1}")).await;
        assert_eq!(res.status(), 200);
        app.pos_get(&format!("/v1/pos/cards/{g1}?pin=9999")).await;
        // An offline upload paying with a gift card and its PIN.
        let mut offline = receipt("s-4", None, "5.00");
        offline["gift_cards"] = json!([{"number": g2, "pin": p2, "amount": "2.00"}]);
        let report: Value = app.pos_post("/v1/pos/offline", &json!({"receipts": [offline]})).await.json().await.unwrap();
        assert_eq!(report["receipts"][0]["status"], "committed", "{report}");
        // One-time codes: issued, used by a calculation and a receipt, used again.
        let (_, issued_code) = call(&app, "POST", &format!("/v1/admin/customers/c_{customer}/codes"), ADMIN_KEY, None).await;
        let one_time = issued_code["code"].as_str().unwrap().to_owned();
        let by_code = json!({"receipt_id": "s-5", "customer": {"code": one_time}, "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "3.00"}]});
        assert_eq!(app.pos_post("/v1/pos/calculate", &by_code).await.status(), 200);
        assert_eq!(app.commit(&by_code).await.0, 201);
        let again = json!({"receipt_id": "s-6", "customer": {"code": one_time}, "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "3.00"}]});
        assert_eq!(app.commit(&again).await.0, 404);
        // A replaced gift card gets a new PIN.
        let (status, replaced) = call(&app, "POST", &format!("/v1/admin/cards/{g2}/replace"), ADMIN_KEY, Some(json!({"number": "6000999999993"}))).await;
        assert_eq!(status, 201, "{replaced}");
        let new_pin = replaced["pin"].as_str().unwrap().to_owned();

        let dump = app.db().dump().await;
        assert!(!dump.contains("\"pin\":\"") && !dump.contains("\"pin\": \""), "a copy of a request keeps a PIN");
        for (what, secret) in [("password", password), ("new password", new_password), ("session", token.as_str()),
                               ("API key", ADMIN_KEY), ("terminal key", app.key.as_str())] {
            assert!(!dump.contains(secret), "the database holds the {what} in the clear");
        }
        for pin in [p0, p1, p2, &new_pin] {
            for shape in [format!("\"{pin}\""), format!("`{pin}`"), format!(":{pin},"), format!(":{pin}}}")] {
                assert!(!dump.contains(&shape), "the database holds a PIN ({shape})");
            }
        }
        for shape in [format!("\"{one_time}\""), format!("code\":\"{one_time}")] {
            assert!(!dump.contains(&shape), "the database holds the one-time code ({shape})");
        }
    }

    async fn identical_concurrent_retries_all_get_the_original_answer(db: TestDb) {
        let app = std::sync::Arc::new(app(db).await);
        let (customer, card) = app.customer_with_card("+37120000005", "LOY").await;
        let gift = app.issue("GC", None).await.remove(0);
        let pass = app.issue("GYM", Some(customer)).await.remove(0);
        assert_eq!(app.commit(&receipt("to-cancel", Some(&card), "10.00")).await.0, 201);
        let mut three = receipt("to-return", Some(&card), "30.00");
        three["lines"][0]["qty"] = json!("3");
        assert_eq!(app.commit(&three).await.0, 201);
        let calls: Vec<(&str, String, Value)> = vec![
            ("activation", format!("/v1/pos/gift-cards/{}/activate", gift.number), json!({"operation_id": "g-1", "amount": "25.00"})),
            ("visit", "/v1/pos/visits".into(), json!({"operation_id": "v-1", "customer": {"card": pass.number}, "service": "gym"})),
            ("receipt", "/v1/pos/receipts".into(), receipt("r-1", Some(&card), "12.00")),
            ("return", "/v1/pos/returns".into(), json!({"return_id": "ret-1", "receipt_id": "to-return", "lines": [{"line": 1, "qty": "1"}]})),
            ("cancellation", "/v1/pos/receipts/to-cancel/cancel".into(), json!({})),
        ];
        for (what, path, body) in calls {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..20 {
                let (app, path, body) = (app.clone(), path.clone(), body.clone());
                tasks.spawn(async move {
                    let res = app.pos_post(&path, &body).await;
                    (res.status().as_u16(), res.text().await.unwrap())
                });
            }
            let answers: BTreeSet<(u16, String)> = tasks.join_all().await.into_iter().collect();
            assert_eq!(answers.len(), 1, "{what}: 20 identical calls got different answers: {answers:?}");
            let (status, _) = answers.first().unwrap();
            assert!(matches!(status, 200 | 201), "{what}: {answers:?}");
        }
        // Each effect was applied once.
        let res: Value = app.pos_get(&format!("/v1/pos/cards/{}", pass.number)).await.json().await.unwrap();
        assert_eq!(res["balances"][0]["available"], "9");
        let res: Value = app.pos_get(&format!("/v1/pos/cards/{}?pin={}", gift.number, gift.pin.as_deref().unwrap())).await.json().await.unwrap();
        assert_eq!(res["balances"][0]["available"], "25.00");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn concurrent_returns_beyond_the_receipt_are_refused_as_exceeding_it(db: TestDb) {
        let app = std::sync::Arc::new(app(db).await);
        let (_, card) = app.customer_with_card("+37120000006", "LOY").await;
        assert_eq!(app.commit(&receipt("one-item", Some(&card), "10.00")).await.0, 201);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..10 {
            let app = app.clone();
            tasks.spawn(async move {
                let body = json!({"return_id": format!("back-{n}"), "receipt_id": "one-item", "lines": [{"line": 1, "qty": "1"}]});
                let res = app.pos_post("/v1/pos/returns", &body).await;
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap();
                (status, code(&body).to_owned())
            });
        }
        let mut answers = tasks.join_all().await;
        answers.sort();
        let mut expected = vec![(201, String::new())];
        expected.extend(std::iter::repeat_n((409, "return_exceeds_receipt".to_owned()), 9));
        assert_eq!(answers, expected);
        assert_eq!(app.balance(&card, "bonus").await.0, "0");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn receipts_dated_outside_the_stores_window_are_refused_online_and_offline(db: TestDb) {
        let app = app(db).await;
        let (_, card) = app.customer_with_card("+37120000007", "LOY").await;
        let dated = |id: &str, at: &str| {
            let mut r = receipt(id, Some(&card), "10.00");
            r["at"] = json!(at);
            r
        };
        // START is when the store was configured.
        for (id, at, why) in [
            ("y1", "0001-01-01T00:00:00Z", "before the store was configured"),
            ("y1970", "1970-01-01T00:00:00Z", "before the store was configured"),
            ("early", "2026-11-24T08:00:00Z", "before the store was configured"),
            ("ahead", "2026-11-24T10:00:00Z", "ahead of the server's clock"),
        ] {
            for path in ["/v1/pos/calculate", "/v1/pos/receipts"] {
                let res = app.pos_post(path, &dated(id, at)).await;
                assert_eq!(res.status(), 422, "{id} {path}");
                let body: Value = res.json().await.unwrap();
                assert_eq!(code(&body), "receipt_time_out_of_range", "{id}: {body}");
                assert!(body["error"]["message"].as_str().unwrap().contains(why), "{id}: {body}");
                assert_eq!(body["error"]["details"]["field"], "at");
            }
        }
        // Forty days on: 31 days back is too old by default, 29 is fine.
        app.clock.set("2027-01-03T08:15:00Z".parse().unwrap());
        let (status, body) = app.commit(&dated("old", "2026-12-03T08:00:00Z")).await;
        assert_eq!((status, code(&body)), (422, "receipt_time_out_of_range"), "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("offline policy"), "{body}");
        assert_eq!(app.commit(&dated("recent", "2026-12-06T08:00:00Z")).await.0, 201);
        let report: Value = app
            .pos_post("/v1/pos/offline", &json!({"receipts": [dated("off-old", "1970-01-01T00:00:00Z"), dated("off-ok", "2026-12-20T12:00:00Z")]}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(report["receipts"][0]["status"], "refused");
        assert_eq!(report["receipts"][0]["error"]["code"], "receipt_time_out_of_range");
        assert_eq!(report["receipts"][1]["status"], "committed");
        // A store whose tills may be offline for 60 days takes the old receipt.
        let mut program = program();
        program.stores[0].offline_days = Some(60);
        app.store.apply_config(program, "test".into(), false).await.unwrap();
        // (The terminal's store is remembered for a few seconds; a new key sees the change.)
        let key = app.terminal_key("riga-01", "pos-2").await;
        let (status, body) = app.commit_as(&key, &dated("old", "2026-12-03T08:00:00Z")).await;
        assert_eq!(status, 201, "{body}");
    }

    async fn a_terminal_guessing_pins_is_refused_on_every_path_that_checks_one(db: TestDb) {
        let app = app(db).await;
        // Six gift cards, four wrong PINs each stays under the per-card lock (five).
        let mut gifts = Vec::new();
        for n in 0..6 {
            let g = app.issue("GC", None).await.remove(0);
            let res = app.pos_post(&format!("/v1/pos/gift-cards/{}/activate", g.number), &json!({"operation_id": format!("a-{n}"), "amount": "20.00"})).await;
            assert_eq!(res.status(), 201);
            gifts.push(g);
        }
        let paying = |id: &str, number: &str, pin: &str| {
            let mut r = receipt(id, None, "5.00");
            r["gift_cards"] = json!([{"number": number, "pin": pin, "amount": "1.00"}]);
            r
        };
        // Twenty wrong PINs through calculations only, never the balance inquiry.
        for k in 0..20 {
            let g = &gifts[k / 4];
            let wrong = if g.pin.as_deref() == Some("0000") { "1111" } else { "0000" };
            let res = app.pos_post("/v1/pos/calculate", &paying(&format!("c-{k}"), &g.number, wrong)).await;
            assert_eq!(res.status(), 403, "guess {k}");
        }
        let right = &gifts[5];
        let pin = right.pin.as_deref().unwrap();
        for path in ["/v1/pos/calculate", "/v1/pos/receipts"] {
            let res = app.pos_post(path, &paying("p-1", &right.number, pin)).await;
            assert_eq!(res.status(), 429, "{path}: the right PIN is not even checked now");
            assert_eq!(code(&res.json().await.unwrap()), "too_many_attempts");
        }
        let res = app.pos_get(&format!("/v1/pos/cards/{}?pin={pin}", right.number)).await;
        assert_eq!(res.status(), 429);
        let report: Value = app.pos_post("/v1/pos/offline", &json!({"receipts": [paying("p-2", &right.number, pin)]})).await.json().await.unwrap();
        assert_eq!(report["receipts"][0]["error"]["code"], "too_many_attempts", "{report}");
        // Requests without a PIN still work, and so does another terminal.
        assert_eq!(app.commit(&receipt("plain", None, "5.00")).await.0, 201);
        let other = app.terminal_key("riga-01", "pos-2").await;
        let (status, body) = app.commit_as(&other, &paying("p-3", &right.number, pin)).await;
        assert_eq!(status, 201, "{body}");
    }

    async fn card_numbers_can_be_unguessable_and_guessing_them_is_refused(db: TestDb) {
        let mut program = program();
        program.card_series[0].numbering = loyd_domain::program::Numbering::Random;
        program.card_series[1].numbering = loyd_domain::program::Numbering::Random;
        program.card_series[1].prefix = "2771".into();
        let app = spawn_with_program(db, program).await;
        admin(&app).await;
        let (_, issued) = call(&app, "POST", "/v1/admin/cards", ADMIN_KEY, Some(json!({"series": "GC", "count": 200}))).await;
        let numbers: Vec<String> = issued["cards"].as_array().unwrap().iter().map(|c| c["number"].as_str().unwrap().to_owned()).collect();
        assert_eq!(numbers.iter().collect::<BTreeSet<_>>().len(), 200);
        for n in &numbers {
            assert!(n.len() == 13 && n.starts_with("2771"), "{n}");
            assert!(loyd_domain::cards::check_number(n, loyd_domain::program::CheckDigit::Luhn), "{n}");
        }
        let mut sorted: Vec<u64> = numbers.iter().map(|n| n[4..12].parse().unwrap()).collect();
        sorted.sort();
        let neighbours = sorted.windows(2).filter(|w| w[1] - w[0] == 1).count();
        assert!(neighbours < 5, "random numbers are not consecutive: {neighbours} neighbours among 200");
        // A terminal that inquires twenty unknown numbers is refused every card after.
        let (_, card) = app.customer_with_card("+37120000008", "LOY").await;
        for k in 0..20u64 {
            let guess = loyd_domain::cards::series_number("2770", 13, loyd_domain::program::CheckDigit::Luhn, 77_000_000 + k).unwrap();
            if numbers.contains(&guess) || guess == card {
                continue;
            }
            assert_eq!(app.pos_get(&format!("/v1/pos/cards/{guess}")).await.status(), 404);
        }
        let res = app.pos_get(&format!("/v1/pos/cards/{card}")).await;
        assert_eq!(res.status(), 429, "a known card is refused too, or the answers would tell known from unknown");
        let (status, body) = app.commit(&receipt("named", Some(&card), "5.00")).await;
        assert_eq!((status, code(&body)), (429, "too_many_attempts"));
        assert_eq!(app.commit(&receipt("anonymous", None, "5.00")).await.0, 201);
        let other = app.terminal_key("riga-01", "pos-2").await;
        assert_eq!(app.commit_as(&other, &receipt("elsewhere", Some(&card), "5.00")).await.0, 201);
        // Terminal ids are unique within a store only: another store's pos-1 is another till.
        let mut second = loyd_domain::config::ConfigDocument::default();
        second.stores.push(loyd_domain::org::StoreSpec { id: loyd_domain::ids::StoreCode::parse("tallinn-01").unwrap(), ..app.store.stores().await.unwrap()[0].clone() });
        app.store.apply_config(second, "test".into(), false).await.unwrap();
        let namesake = app.terminal("tallinn-01").await;
        assert_eq!(app.commit_as(&namesake, &receipt("namesake", Some(&card), "5.00")).await.0, 201);
        // Phones are limited apart from cards.
        let by_phone = json!({"receipt_id": "ph", "customer": {"phone": "+37120000008"}, "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "1.00"}]});
        assert_eq!(app.commit(&by_phone).await.0, 201);
    }

    async fn the_role_matrix_of_the_docs_is_what_the_server_does(db: TestDb) {
        let app = app(db).await;
        const ROLES: [&str; 6] = ["admin", "marketer", "analyst", "store_manager", "support", "auditor"];
        let mut tokens = Vec::new();
        for role in ROLES {
            let stores: &[&str] = if role == "store_manager" { &["riga-01"] } else { &[] };
            tokens.push(crate::helpers::staff(&app, &format!("matrix-{}", role.replace('_', "-")), role, stores).await);
        }
        // Fixtures, made by the operator.
        let admin_call = |method: &'static str, path: String, body: Value| {
            let app = &app;
            async move {
                let (status, out) = call(app, method, &path, ADMIN_KEY, Some(body)).await;
                assert!(status < 300, "fixture {method} {path}: {out}");
                out
            }
        };
        let (customer, card) = app.customer_with_card("+37120000901", "LOY").await;
        app.grant(customer, "bonus", 100).await;
        app.issue("STAFF", Some(customer)).await;
        let org = admin_call("POST", "/v1/admin/organisations".into(), json!({"name": "Matrix SIA"})).await["id"].as_str().unwrap().to_owned();
        let contact = admin_call("POST", "/v1/admin/customers".into(), json!({"phone": "+37120000902", "organisation": org})).await["id"].as_str().unwrap().to_owned();
        let task = admin_call("POST", format!("/v1/admin/customers/c_{customer}/crm"), json!({"kind": "task", "body": "call", "due_at": "2026-12-01T00:00:00Z"})).await["id"].as_i64().unwrap();
        admin_call("POST", "/v1/admin/users".into(), json!({"login": "target", "password": "target-password-1", "role": "support"})).await;

        let doc = std::fs::read_to_string(format!("{}/../../docs/crm.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let section = doc.split("### Who may do what").nth(1).expect("docs/crm.md has the matrix").split("\n\n- ").next().unwrap();
        let mut rows = 0;
        let mut n = 0u32;
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let (action, allowed) = (cells[0], &cells[1..]);
            assert_eq!(allowed.len(), ROLES.len(), "{line}");
            for (role, (token, cell)) in ROLES.iter().zip(tokens.iter().zip(allowed)) {
                n += 1;
                let fresh = |what: &str| format!("{what}-{n}");
                let c = format!("c_{customer}");
                let (method, path, body): (&str, String, Option<Value>) = match action {
                    "`GET /v1/admin/customers` list and search by card" => ("GET", format!("/v1/admin/customers?card={card}"), None),
                    "`GET /v1/admin/customers?phone=` search by contact data" => ("GET", "/v1/admin/customers?phone=%2B37120000901".into(), None),
                    "`GET /v1/admin/customers/{id}`" => ("GET", format!("/v1/admin/customers/{c}"), None),
                    "`POST /v1/admin/customers`" => ("POST", "/v1/admin/customers".into(), Some(json!({"name": fresh("Walk In")}))),
                    "`POST /v1/admin/customers` as a contact of an organisation" => ("POST", "/v1/admin/customers".into(), Some(json!({"name": fresh("Buyer"), "organisation": org}))),
                    "`PATCH /v1/admin/customers/{id}` profile and consents" => ("PATCH", format!("/v1/admin/customers/{c}"), Some(json!({"profile": {"city": "Riga"}, "consents": {"sms": true}}))),
                    "`PATCH /v1/admin/customers/{id}` contact data" => ("PATCH", format!("/v1/admin/customers/{c}"), Some(json!({"email": format!("m{n}@example.lv")}))),
                    "`PATCH /v1/admin/customers/{id}` phone of an organisation's contact" => ("PATCH", format!("/v1/admin/customers/{contact}"), Some(json!({"phone": format!("+3712100{n:04}")}))),
                    "`PATCH /v1/admin/customers/{id}` join or leave an organisation" => {
                        let joiner = admin_call("POST", "/v1/admin/customers".into(), json!({"name": fresh("Joiner")})).await["id"].as_str().unwrap().to_owned();
                        ("PATCH", format!("/v1/admin/customers/{joiner}"), Some(json!({"organisation": org})))
                    }
                    "`POST /v1/admin/customers/{id}/merge`" => {
                        let dup = admin_call("POST", "/v1/admin/customers".into(), json!({"name": fresh("Duplicate")})).await["id"].as_str().unwrap().to_owned();
                        ("POST", format!("/v1/admin/customers/{c}/merge"), Some(json!({"duplicate": dup})))
                    }
                    "`POST /v1/admin/customers/{id}/erasure`" => {
                        let gone = admin_call("POST", "/v1/admin/customers".into(), json!({"name": fresh("Leaving")})).await["id"].as_str().unwrap().to_owned();
                        ("POST", format!("/v1/admin/customers/{gone}/erasure"), None)
                    }
                    "`GET /v1/admin/customers/{id}/purchases`" => ("GET", format!("/v1/admin/customers/{c}/purchases"), None),
                    "`GET /v1/admin/customers/{id}/history`" => ("GET", format!("/v1/admin/customers/{c}/history"), None),
                    "`GET /v1/admin/customers/{id}/balances`" => ("GET", format!("/v1/admin/customers/{c}/balances"), None),
                    "`GET /v1/admin/customers/{id}/statement`" => ("GET", format!("/v1/admin/customers/{c}/statement?currency=bonus&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z"), None),
                    "`GET /v1/admin/customers/{id}/crm`" => ("GET", format!("/v1/admin/customers/{c}/crm"), None),
                    "`POST /v1/admin/customers/{id}/crm`" => ("POST", format!("/v1/admin/customers/{c}/crm"), Some(json!({"kind": "note", "body": "seen"}))),
                    "`GET /v1/admin/crm`" => ("GET", "/v1/admin/crm".into(), None),
                    "`PATCH /v1/admin/crm/{id}`" => ("PATCH", format!("/v1/admin/crm/{task}"), Some(json!({"due_at": "2026-12-02T00:00:00Z"}))),
                    "`POST /v1/admin/customers/{id}/codes`" => ("POST", format!("/v1/admin/customers/{c}/codes"), None),
                    "`POST /v1/admin/customers/{id}/codes` for an organisation's contact" => ("POST", format!("/v1/admin/customers/{contact}/codes"), None),
                    "`POST /v1/admin/customers/{id}/adjustments`" => ("POST", format!("/v1/admin/customers/{c}/adjustments"), Some(json!({"operation_id": fresh("adj"), "currency": "bonus", "amount": "1", "reason": "goodwill"}))),
                    "`POST /v1/admin/customers/{id}/credit-settlements`" => ("POST", format!("/v1/admin/customers/{c}/credit-settlements"), Some(json!({"operation_id": fresh("set"), "currency": "meals", "amount": "1.00"}))),
                    "`POST /v1/admin/cards` loyalty card" => ("POST", "/v1/admin/cards".into(), Some(json!({"series": "LOY", "customer": c}))),
                    "`POST /v1/admin/cards` loyalty card of an organisation's contact" => ("POST", "/v1/admin/cards".into(), Some(json!({"series": "LOY", "customer": contact}))),
                    "`POST /v1/admin/cards` gift cards" => ("POST", "/v1/admin/cards".into(), Some(json!({"series": "GC", "count": 2}))),
                    "`POST /v1/admin/cards` pass" => ("POST", "/v1/admin/cards".into(), Some(json!({"series": "GYM", "customer": c}))),
                    "`POST /v1/admin/cards` credit card" => ("POST", "/v1/admin/cards".into(), Some(json!({"series": "STAFF", "customer": c}))),
                    "`POST /v1/admin/cards/{number}/block`" => ("POST", format!("/v1/admin/cards/{card}/block"), None),
                    "`POST /v1/admin/cards/{number}/unblock` loyalty card" => ("POST", format!("/v1/admin/cards/{card}/unblock"), None),
                    "`POST /v1/admin/cards/{number}/unblock` loyalty card of an organisation's contact" => {
                        let id = contact.trim_start_matches("c_").parse().unwrap();
                        let blocked = app.issue("LOY", Some(id)).await.remove(0).number;
                        admin_call("POST", format!("/v1/admin/cards/{blocked}/block"), Value::Null).await;
                        ("POST", format!("/v1/admin/cards/{blocked}/unblock"), None)
                    }
                    "`POST /v1/admin/cards/{number}/unblock` gift card" => {
                        let blocked = app.issue("GC", None).await.remove(0).number;
                        admin_call("POST", format!("/v1/admin/cards/{blocked}/block"), Value::Null).await;
                        ("POST", format!("/v1/admin/cards/{blocked}/unblock"), None)
                    }
                    "`POST /v1/admin/cards/{number}/replace` loyalty card" => {
                        let old = app.issue("LOY", Some(customer)).await.remove(0).number;
                        ("POST", format!("/v1/admin/cards/{old}/replace"), Some(json!({"number": format!("R{n}")})))
                    }
                    "`POST /v1/admin/cards/{number}/replace` loyalty card of an organisation's contact" => {
                        let id = contact.trim_start_matches("c_").parse().unwrap();
                        let old = app.issue("LOY", Some(id)).await.remove(0).number;
                        ("POST", format!("/v1/admin/cards/{old}/replace"), Some(json!({"number": format!("R{n}")})))
                    }
                    "`POST /v1/admin/cards/{number}/replace` gift card" => {
                        let old = app.issue("GC", None).await.remove(0).number;
                        ("POST", format!("/v1/admin/cards/{old}/replace"), Some(json!({"number": format!("R{n}")})))
                    }
                    "`POST /v1/admin/coupons`" => ("POST", "/v1/admin/coupons".into(), Some(json!({"series": "GEN", "count": 1}))),
                    "`GET /v1/admin/organisations`" => ("GET", "/v1/admin/organisations".into(), None),
                    "`GET /v1/admin/organisations/{id}`" => ("GET", format!("/v1/admin/organisations/{org}"), None),
                    "`POST /v1/admin/organisations`" => ("POST", "/v1/admin/organisations".into(), Some(json!({"name": fresh("Org")}))),
                    "`GET /v1/admin/organisations/{id}/crm`" => ("GET", format!("/v1/admin/organisations/{org}/crm"), None),
                    "`POST /v1/admin/organisations/{id}/crm`" => ("POST", format!("/v1/admin/organisations/{org}/crm"), Some(json!({"kind": "note", "body": "met"}))),
                    "`GET /v1/admin/failures`" => ("GET", "/v1/admin/failures".into(), None),
                    "`GET /v1/admin/config`" => ("GET", "/v1/admin/config".into(), None),
                    "`POST /v1/admin/config`" => ("POST", "/v1/admin/config?dry_run=true".into(), Some(json!({}))),
                    "`GET /v1/admin/config/versions`" => ("GET", "/v1/admin/config/versions".into(), None),
                    "`GET /v1/admin/config/versions/{version}`" => ("GET", "/v1/admin/config/versions/1".into(), None),
                    "`GET /v1/admin/config/diff`" => ("GET", "/v1/admin/config/diff?from=1".into(), None),
                    "`GET /v1/admin/config/export`" => ("GET", "/v1/admin/config/export".into(), None),
                    "`POST /v1/admin/config/simulate`" => ("POST", "/v1/admin/config/simulate?from=2026-11-01&to=2026-11-30".into(), Some(json!({}))),
                    "`POST /v1/admin/config/preview`" => {
                        ("POST", "/v1/admin/config/preview?store=riga-01".into(), Some(json!({"receipt": {"receipt_id": fresh("p"), "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "5.00"}]}})))
                    }
                    "`POST /v1/admin/config/rollback`" => ("POST", "/v1/admin/config/rollback?dry_run=true".into(), Some(json!({"version": 1}))),
                    "`GET /v1/admin/config/{section}`" => ("GET", "/v1/admin/config/campaigns".into(), None),
                    "`GET /v1/admin/config/{section}/{id}`" => ("GET", "/v1/admin/config/campaigns/points".into(), None),
                    "`PUT /v1/admin/config/{section}/{id}`" => {
                        ("PUT", format!("/v1/admin/config/campaigns/{}", fresh("new")), Some(json!({"rewards": [{"type": "discount", "percent": "1"}]})))
                    }
                    "`PATCH /v1/admin/config/{section}/{id}`" => ("PATCH", "/v1/admin/config/campaigns/points?dry_run=true".into(), Some(json!({"name": "Points"}))),
                    "`DELETE /v1/admin/config/{section}/{id}`" => {
                        let id = fresh("gone");
                        admin_call("PUT", format!("/v1/admin/config/campaigns/{id}"), json!({"rewards": [{"type": "discount", "percent": "1"}]})).await;
                        ("DELETE", format!("/v1/admin/config/campaigns/{id}"), None)
                    }
                    "`GET /v1/admin/config/{section}/{id}/versions`" => ("GET", "/v1/admin/config/campaigns/points/versions".into(), None),
                    "`POST /v1/admin/campaigns/{id}/status`" => {
                        let id = fresh("paused");
                        admin_call("PUT", format!("/v1/admin/config/campaigns/{id}"), json!({"rewards": [{"type": "discount", "percent": "1"}]})).await;
                        ("POST", format!("/v1/admin/campaigns/{id}/status"), Some(json!({"status": "paused"})))
                    }
                    "`GET /v1/admin/ledger/audit`" => ("GET", "/v1/admin/ledger/audit".into(), None),
                    "`GET /v1/admin/ledger/system`" => ("GET", "/v1/admin/ledger/system".into(), None),
                    "`GET /v1/admin/jobs`" => ("GET", "/v1/admin/jobs".into(), None),
                    "`GET /v1/admin/jobs/runs`" => ("GET", "/v1/admin/jobs/runs?job=expire_lots".into(), None),
                    "`POST /v1/admin/jobs/{job}/run`" => ("POST", "/v1/admin/jobs/expire_holds/run".into(), None),
                    "`GET /v1/admin/gifts`" => ("GET", "/v1/admin/gifts".into(), None),
                    "`GET /v1/admin/reports`" => ("GET", "/v1/admin/reports".into(), None),
                    "`GET /v1/admin/reports/{report}`" => ("GET", "/v1/admin/reports/sales?period=all".into(), None),
                    "`GET /v1/admin/api-keys`" => ("GET", "/v1/admin/api-keys".into(), None),
                    "`POST /v1/admin/api-keys`" => ("POST", "/v1/admin/api-keys".into(), Some(json!({"name": fresh("erp"), "role": "analyst"}))),
                    "`POST /v1/admin/api-keys/{name}/revoke`" => {
                        let name = fresh("old");
                        admin_call("POST", "/v1/admin/api-keys".into(), json!({"name": name, "role": "auditor"})).await;
                        ("POST", format!("/v1/admin/api-keys/{name}/revoke"), None)
                    }
                    "`GET /v1/admin/stores/{store}/terminals`" => ("GET", "/v1/admin/stores/riga-01/terminals".into(), None),
                    "`POST /v1/admin/stores/{store}/terminals`" => ("POST", "/v1/admin/stores/riga-01/terminals".into(), Some(json!({"terminal": fresh("till")}))),
                    "`POST /v1/admin/stores/{store}/terminals/{terminal}/rotate`" => {
                        let till = fresh("rot");
                        admin_call("POST", "/v1/admin/stores/riga-01/terminals".into(), json!({"terminal": till})).await;
                        ("POST", format!("/v1/admin/stores/riga-01/terminals/{till}/rotate"), None)
                    }
                    "`POST /v1/admin/stores/{store}/terminals/{terminal}/revoke`" => {
                        let till = fresh("rev");
                        admin_call("POST", "/v1/admin/stores/riga-01/terminals".into(), json!({"terminal": till})).await;
                        ("POST", format!("/v1/admin/stores/riga-01/terminals/{till}/revoke"), None)
                    }
                    "`GET /v1/admin/audit`" => ("GET", "/v1/admin/audit".into(), None),
                    "`GET /v1/admin/users`" => ("GET", "/v1/admin/users".into(), None),
                    "`POST /v1/admin/users`" => ("POST", "/v1/admin/users".into(), Some(json!({"login": fresh("new"), "password": "new-password-12", "role": "analyst"}))),
                    "`PATCH /v1/admin/users/{login}`" => ("PATCH", "/v1/admin/users/target".into(), Some(json!({"role": "analyst"}))),
                    "`GET /v1/auth/me`" => ("GET", "/v1/auth/me".into(), None),
                    other => panic!("the matrix in docs/crm.md names an action this test cannot make: {other}"),
                };
                let (status, answer) = call(&app, method, &path, token, body).await;
                match *cell {
                    "✓" => assert!((200..300).contains(&status), "{role} may {action}, got {status}: {answer}"),
                    "—" => assert_eq!((status, code(&answer)), (403, "forbidden"), "{role} may not {action}: {answer}"),
                    other => panic!("a cell of the matrix is ✓ or —, not {other}"),
                }
            }
            rows += 1;
        }
        assert!(rows >= 45, "only {rows} rows");
    }
}
