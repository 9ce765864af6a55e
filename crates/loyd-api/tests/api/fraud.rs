//! Fraud detection: the `detect_fraud` job's rules over receipts, returns and refusals,
//! the alerts on the admin API, and decisions on them — on both backends.

use loyd_store::Job;
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, admin, call, receipt, spawn_with_program};

/// Two stores; bonus points on every receipt; tight limits so a test can pass them.
pub(crate) const FRAUD_PROGRAM: &str = r#"
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

[[stores]]
id = "riga-02"
name = "Riga Airport"
timezone = "Europe/Riga"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[campaigns]]
id = "points"
[[campaigns.rewards]]
type = "accrue"
currency = "bonus"
fixed = "10"

[fraud]
receipts_per_hour = 3
stores_per_day = 1
return_within_hours = 24
card_misses_per_hour = 4
cards_per_phone = 2
peer_min = 3
block = ["receipts_per_hour"]
"#;

async fn alerts(app: &crate::helpers::TestApp, query: &str) -> Vec<Value> {
    let (status, page) = call(app, "GET", &format!("/v1/admin/fraud/alerts{query}"), ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{page}");
    page["alerts"].as_array().unwrap().clone()
}

fn minutes(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_mins(n)
}

both_backends! {
    async fn a_card_used_too_often_raises_one_alert_however_often_the_job_runs_and_its_rule_blocks_the_card(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(FRAUD_PROGRAM).unwrap()).await;
        admin(&app).await;
        let (customer, card) = app.customer_with_card("+37120000001", "LOY").await;
        let (_, calm) = app.customer_with_card("+37120000002", "LOY").await;
        // Four receipts within 45 minutes: one more than three an hour.
        for k in 0..4 {
            assert_eq!(app.commit(&receipt(&format!("v{k}"), Some(&card), "10.00")).await.0, 201);
            app.clock.advance(minutes(15));
        }
        // Another customer's two receipts an hour apart raise nothing.
        assert_eq!(app.commit(&receipt("calm-1", Some(&calm), "10.00")).await.0, 201);
        app.store.run_job(Job::DetectFraud, "test".into()).await.unwrap();
        app.store.run_job(Job::DetectFraud, "test".into()).await.unwrap();
        let found = alerts(&app, "").await;
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(
            (a["rule"].as_str(), a["subject"].as_str(), a["figure"].as_i64(), a["threshold"].as_str(), a["severity"].as_str()),
            (Some("receipts_per_hour"), Some(format!("customer:{customer}").as_str()), Some(4), Some("3"), Some("medium"))
        );
        let receipts: Vec<&str> = a["evidence"].as_array().unwrap().iter().map(|e| e["receipt"].as_str().unwrap()).collect();
        assert_eq!(receipts, ["v0", "v1", "v2", "v3"]);
        // Its rule is in `block`: the card was blocked when the alert was raised, and
        // the till now refuses it.
        assert_eq!(a["blocked_card"].as_str(), Some(card.as_str()));
        let res = app.pos_post("/v1/pos/receipts", &receipt("v4", Some(&card), "10.00")).await;
        assert_eq!(crate::helpers::error_code(res).await, "card_blocked");
        // Two more within the hour raise the same alert's figure, not a second alert.
        app.store.set_card_blocked(card.clone(), false, "test".into()).await.unwrap();
        app.clock.advance(minutes(1));
        for k in 5..7 {
            assert_eq!(app.commit(&receipt(&format!("v{k}"), Some(&card), "10.00")).await.0, 201);
        }
        app.store.run_job(Job::DetectFraud, "test".into()).await.unwrap();
        let found = alerts(&app, "").await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["figure"].as_i64(), Some(5), "v1, v2, v3, v5 and v6; v0 is an hour and a minute before: {}", found[0]);
        assert_eq!(app.db().texts("SELECT actor FROM audit_log WHERE action = 'card.block' ORDER BY id").await, ["fraud:receipts_per_hour"]);
    }

    async fn a_customer_in_two_stores_a_quick_return_and_a_third_card_each_raise_their_alert(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(FRAUD_PROGRAM).unwrap()).await;
        admin(&app).await;
        let airport = app.terminal("riga-02").await;
        let (customer, card) = app.customer_with_card("+37120000003", "LOY").await;
        assert_eq!(app.commit(&receipt("s1", Some(&card), "20.00")).await.0, 201);
        app.clock.advance(minutes(120));
        assert_eq!(app.commit_as(&airport, &receipt("s2", Some(&card), "20.00")).await.0, 201);
        // Returned three hours after the sale that accrued its points.
        app.clock.advance(minutes(60));
        let ret = app.pos_post("/v1/pos/returns", &json!({"return_id": "r1", "receipt_id": "s1", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(ret.status(), 201);
        // Two more cards for the same customer: three in all, one more than two.
        app.issue("LOY", Some(customer)).await;
        app.issue("LOY", Some(customer)).await;
        assert_eq!(app.commit(&receipt("s3", Some(&card), "5.00")).await.0, 201);
        app.store.run_job(Job::DetectFraud, "test".into()).await.unwrap();
        let mut found: Vec<(String, i64, String)> = alerts(&app, "")
            .await
            .iter()
            .map(|a| (a["rule"].as_str().unwrap().to_owned(), a["figure"].as_i64().unwrap(), a["period"].as_str().unwrap().to_owned()))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("cards_per_phone".to_owned(), 3, String::new()),
                ("return_after_accrual".to_owned(), 3, "receipt:riga-01/s1".to_owned()),
                ("stores_per_day".to_owned(), 2, "2026-11-24".to_owned()),
            ]
        );
        let quick = &alerts(&app, "?rule=return_after_accrual").await[0];
        let kinds: Vec<&str> = quick["evidence"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["receipt", "return"]);
        // No card was blocked: those rules are not in `block`.
        assert!(alerts(&app, "").await.iter().all(|a| a["blocked_card"].is_null()));
    }

    async fn guessing_card_numbers_at_a_terminal_and_a_terminal_far_above_its_peers_raise_alerts(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(FRAUD_PROGRAM).unwrap()).await;
        admin(&app).await;
        // Five unknown numbers within minutes: more than four an hour.
        for k in 0..5 {
            let res = app.pos_get(&format!("/v1/pos/cards/27709999000{k}")).await;
            assert_eq!(res.status(), 404);
        }
        // Three terminals; pos-2 takes points on four receipts, the others on none or one.
        let (customer, card) = app.customer_with_card("+37120000004", "LOY").await;
        app.grant(customer, "bonus", 1000).await;
        let t2 = app.terminal_key("riga-01", "pos-2").await;
        let t3 = app.terminal_key("riga-01", "pos-3").await;
        let paying = |id: &str| {
            let mut r = receipt(id, Some(&card), "10.00");
            r["redeem"] = json!([{"currency": "bonus", "amount": "1"}]);
            r
        };
        for k in 0..4 {
            let (status, body) = app.commit_as(&t2, &paying(&format!("p2-{k}"))).await;
            assert_eq!(status, 201, "{body}");
            app.clock.advance(minutes(20));
        }
        assert_eq!(app.commit_as(&t3, &paying("p3-0")).await.0, 201);
        assert_eq!(app.commit(&receipt("p1-0", None, "10.00")).await.0, 201);
        app.store.run_job(Job::DetectFraud, "test".into()).await.unwrap();
        let guess = alerts(&app, "?rule=card_guessing").await;
        assert_eq!(guess.len(), 1, "{guess:?}");
        assert_eq!(
            (guess[0]["subject"].as_str(), guess[0]["figure"].as_i64(), guess[0]["severity"].as_str()),
            (Some("terminal:riga-01/pos-1"), Some(5), Some("high"))
        );
        assert_eq!(guess[0]["evidence"][0]["code"].as_str(), Some("unknown_card"));
        // Median of 0, 1 and 4 is 1: 4 is more than 5 × 1? No — so with the default
        // factor nothing stands out; at factor 2 pos-2 does.
        assert!(alerts(&app, "?rule=peer_redemptions").await.is_empty());
        let (status, applied) = call(&app, "POST", "/v1/admin/config", ADMIN_KEY, Some(json!({"fraud": {"receipts_per_hour": 3, "stores_per_day": 1, "card_misses_per_hour": 4, "cards_per_phone": 2, "peer_min": 3, "peer_factor": "2"}}))).await;
        assert!(status == 200 || status == 201, "{applied}");
        assert_eq!(app.commit_as(&t3, &receipt("p3-1", None, "10.00")).await.0, 201);
        app.store.run_job(Job::DetectFraud, "test".into()).await.unwrap();
        let peers = alerts(&app, "?rule=peer_redemptions").await;
        assert_eq!(peers.len(), 1, "{peers:?}");
        assert_eq!(
            (peers[0]["subject"].as_str(), peers[0]["figure"].as_i64(), peers[0]["threshold"].as_str(), peers[0]["evidence"][0]["median"].as_str()),
            (Some("terminal:riga-01/pos-2"), Some(4), Some("2"), Some("1"))
        );
    }

    async fn a_cashier_who_types_card_numbers_far_more_often_than_the_others_raises_an_alert(db: TestDb) {
        let program = FRAUD_PROGRAM.replace("peer_min = 3", "peer_min = 3\npeer_factor = \"2\"");
        let app = spawn_with_program(db, toml::from_str(&program).unwrap()).await;
        admin(&app).await;
        // Eve types four numbers by hand, Ann one, Bob scans; the POS says who and how.
        let typed = [("eve", "manual"), ("eve", "manual"), ("eve", "manual"), ("eve", "manual"), ("ann", "manual"), ("ann", "scanned"), ("bob", "scanned")];
        for (k, (cashier, entry)) in typed.iter().enumerate() {
            let (_, card) = app.customer_with_card(&format!("+3712100000{k}"), "LOY").await;
            let mut r = receipt(&format!("m{k}"), Some(&card), "10.00");
            r["cashier"] = json!(cashier);
            r["customer"]["entry"] = json!(entry);
            let (status, body) = app.commit(&r).await;
            assert_eq!(status, 201, "{body}");
        }
        let mut bad = receipt("m-bad", None, "10.00");
        bad["cashier"] = json!("eve\u{7}");
        assert_eq!(app.commit(&bad).await.0, 422, "a cashier's name is printable text");
        app.store.run_job(Job::DetectFraud, "test".into()).await.unwrap();
        let found = alerts(&app, "?rule=peer_manual_entries").await;
        assert_eq!(found.len(), 1, "{found:?}");
        // Counts 4, 1 and 0: the median is 1, the limit 2 × 1.
        assert_eq!(
            (found[0]["subject"].as_str(), found[0]["figure"].as_i64(), found[0]["threshold"].as_str()),
            (Some("cashier:riga-01/eve"), Some(4), Some("2"))
        );
        // One terminal has no peers.
        assert!(alerts(&app, "").await.iter().all(|a| a["subject"].as_str().is_some_and(|s| s.starts_with("cashier:"))));
    }

    async fn staff_acknowledge_or_dismiss_an_alert_with_a_note_and_may_block_its_card(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(&FRAUD_PROGRAM.replace("block = [\"receipts_per_hour\"]", "")).unwrap()).await;
        admin(&app).await;
        let (_, card) = app.customer_with_card("+37120000005", "LOY").await;
        for k in 0..4 {
            assert_eq!(app.commit(&receipt(&format!("d{k}"), Some(&card), "10.00")).await.0, 201);
        }
        app.store.run_job(Job::DetectFraud, "test".into()).await.unwrap();
        let a = alerts(&app, "?state=open").await.remove(0);
        let id = a["id"].as_i64().unwrap();
        assert!(a["blocked_card"].is_null(), "not in block: nothing blocked");
        // An analyst acknowledges it but may not block cards.
        let analyst = crate::helpers::staff(&app, "ana", "analyst", &[]).await;
        let path = format!("/v1/admin/fraud/alerts/{id}/decision");
        let (status, refused) = call(&app, "POST", &path, &analyst, Some(json!({"state": "acknowledged", "block_card": card}))).await;
        assert_eq!((status, crate::helpers::code(&refused)), (403, "forbidden"), "{refused}");
        let (status, bad) = call(&app, "POST", &path, &analyst, Some(json!({"state": "closed"}))).await;
        assert_eq!((status, crate::helpers::code(&bad)), (422, "validation_failed"), "{bad}");
        let (status, done) = call(&app, "POST", &path, &analyst, Some(json!({"state": "acknowledged", "note": "Called the customer: a shared card."}))).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!((done["state"].as_str(), done["note"].as_str(), done["decided_by"].as_str()), (Some("acknowledged"), Some("Called the customer: a shared card."), Some("user:ana")));
        assert!(alerts(&app, "?state=open").await.is_empty());
        // The admin blocks the card with a second decision; the till refuses it.
        let (status, blocked) = call(&app, "POST", &path, ADMIN_KEY, Some(json!({"state": "acknowledged", "note": "Blocked.", "block_card": card}))).await;
        assert_eq!((status, blocked["blocked_card"].as_str()), (200, Some(card.as_str())), "{blocked}");
        let res = app.pos_post("/v1/pos/receipts", &receipt("d9", Some(&card), "10.00")).await;
        assert_eq!(crate::helpers::error_code(res).await, "card_blocked");
        let actions = app.db().texts("SELECT action FROM audit_log WHERE action IN ('fraud_alert.decide', 'card.block') ORDER BY id").await;
        assert_eq!(actions, ["fraud_alert.decide", "card.block", "fraud_alert.decide"]);
        let (status, missing) = call(&app, "POST", "/v1/admin/fraud/alerts/999/decision", ADMIN_KEY, Some(json!({"state": "dismissed"}))).await;
        assert_eq!((status, crate::helpers::code(&missing)), (404, "not_found"), "{missing}");
        // A store manager has no fraud alerts to read.
        let manager = crate::helpers::staff(&app, "meg", "store_manager", &["riga-01"]).await;
        assert_eq!(call(&app, "GET", "/v1/admin/fraud/alerts", &manager, None).await.0, 403);
    }
}

#[test]
fn a_fraud_section_that_blocks_on_a_rule_without_a_customer_is_refused_with_its_path() {
    let mut doc: loyd_domain::config::ConfigDocument = toml::from_str(FRAUD_PROGRAM).unwrap();
    doc.fraud.as_mut().unwrap().block = vec![loyd_domain::program::FraudRule::CardGuessing];
    let errors = loyd_domain::program::Program::compile(&doc, 1).unwrap_err();
    assert_eq!(errors.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["fraud.block[0]"]);
    assert!(errors[0].message.contains("card_guessing"), "{}", errors[0].message);
}
