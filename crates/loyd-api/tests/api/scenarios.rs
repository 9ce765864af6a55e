//! The acceptance scenarios of SCENARIOS.md that POS processing covers (S3, S4, S9–S12),
//! each loading its program from `examples/` and driving the POS API over HTTP, on
//! SQLite and on PostgreSQL.

use jiff::SignedDuration;
use loyd_api::ApiConfig;
use loyd_domain::ids::AssetCode;
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, admin, call, error_code, example, receipt, spawn_at, spawn_example};

fn visit(op: &str, card: &str) -> Value {
    json!({"operation_id": op, "customer": {"card": card}, "service": "gym"})
}

both_backends! {
    async fn s3_the_eleventh_visit_of_a_ten_visit_pass_is_refused(db: TestDb) {
        let app = spawn_example(db, "s3-pass.toml").await;
        let pass = app.issue("GYM10", None).await.remove(0).number;
        for n in 1..=10 {
            let res = app.pos_post("/v1/pos/visits", &visit(&format!("v{n}"), &pass)).await;
            assert_eq!(res.status(), 201);
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["remaining"], (10 - n).to_string(), "visit {n}");
        }
        let res = app.pos_post("/v1/pos/visits", &visit("v11", &pass)).await;
        assert_eq!(res.status(), 409);
        assert_eq!(error_code(res).await, "pass_exhausted");
        assert_eq!(app.failure_codes().await.first().map(String::as_str), Some("pass_exhausted"));
        // A retried visit is the same visit.
        let again: Value = app.pos_post("/v1/pos/visits", &visit("v3", &pass)).await.json().await.unwrap();
        assert_eq!(again["remaining"], "7");
        let balance = app.balance(&pass, "gym-visits").await;
        assert_eq!(balance.0, "0");
    }

    async fn s3_a_pass_past_its_validity_is_refused_as_expired(db: TestDb) {
        let app = spawn_example(db, "s3-pass.toml").await;
        let pass = app.issue("GYM10", None).await.remove(0).number;
        app.clock.advance(SignedDuration::from_hours(24 * 91));
        let res = app.pos_post("/v1/pos/visits", &visit("v1", &pass)).await;
        assert_eq!(res.status(), 409);
        assert_eq!(error_code(res).await, "pass_expired");
    }

    async fn s4_a_gift_card_pays_refuses_overdraft_and_takes_refunds(db: TestDb) {
        let app = spawn_example(db, "s4-gift-card.toml").await;
        let card = app.issue("GC", None).await.remove(0);
        let (number, pin) = (card.number.clone(), card.pin.clone().expect("GC cards have PINs"));
        let res = app.pos_post(&format!("/v1/pos/gift-cards/{number}/activate"), &json!({"operation_id": "g1", "amount": "20.00"})).await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["balance"], "20.00");
        let twice = app.pos_post(&format!("/v1/pos/gift-cards/{number}/activate"), &json!({"operation_id": "g2", "amount": "20.00"})).await;
        assert_eq!(error_code(twice).await, "card_already_active");

        let mut pay = receipt("r-12", None, "12.00");
        pay["gift_cards"] = json!([{"number": number, "pin": pin, "amount": "12.00"}]);
        let (status, body) = app.commit(&pay).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["gift_card_value"].as_str(), body["to_pay"].as_str()), (Some("12.00"), Some("0.00")));
        assert_eq!(body["gift_cards"][0]["balance_after"], "8.00");

        let mut too_much = receipt("r-10", None, "10.00");
        too_much["gift_cards"] = json!([{"number": number, "pin": pin, "amount": "10.00"}]);
        let (status, body) = app.commit(&too_much).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("insufficient_funds")));
        let inquiry: Value = app.pos_get(&format!("/v1/pos/cards/{number}?pin={pin}")).await.json().await.unwrap();
        assert_eq!(inquiry["balances"][0]["available"], "8.00", "nothing applied");

        let res = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-1", "receipt_id": "r-12", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(res.status(), 201);
        let ret: Value = res.json().await.unwrap();
        assert_eq!((ret["refund"].as_str(), ret["gift_cards"][0]["amount"].as_str(), ret["to_refund"].as_str()), (Some("12.00"), Some("12.00"), Some("0.00")));
        let inquiry: Value = app.pos_get(&format!("/v1/pos/cards/{number}?pin={pin}")).await.json().await.unwrap();
        assert_eq!(inquiry["balances"][0]["available"], "20.00");
    }

    async fn s4_five_wrong_pins_lock_a_gift_card_for_fifteen_minutes(db: TestDb) {
        let app = spawn_example(db, "s4-gift-card.toml").await;
        let card = app.issue("GC", None).await.remove(0);
        let (number, pin) = (card.number.clone(), card.pin.clone().unwrap());
        app.pos_post(&format!("/v1/pos/gift-cards/{number}/activate"), &json!({"operation_id": "g1", "amount": "20.00"})).await;
        let wrong = if pin == "0000" { "1111" } else { "0000" };
        for n in 1..=5 {
            let mut pay = receipt(&format!("w{n}"), None, "1.00");
            pay["gift_cards"] = json!([{"number": number, "pin": wrong, "amount": "1.00"}]);
            let (status, body) = app.commit(&pay).await;
            assert_eq!((status, body["error"]["code"].as_str()), (403, Some("wrong_pin")), "attempt {n}");
        }
        let mut right = receipt("ok", None, "1.00");
        right["gift_cards"] = json!([{"number": number, "pin": pin, "amount": "1.00"}]);
        let (status, body) = app.commit(&right).await;
        assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_attempts")));
        let inquiry = app.pos_get(&format!("/v1/pos/cards/{number}?pin={pin}")).await;
        assert_eq!(error_code(inquiry).await, "too_many_attempts");
        app.clock.advance(SignedDuration::from_mins(15));
        let (status, _) = app.commit(&right).await;
        assert_eq!(status, 201);
        let codes = app.failure_codes().await;
        assert_eq!(codes.iter().filter(|c| *c == "wrong_pin").count(), 5);
    }

    async fn s4_a_single_use_card_burns_its_rest_as_breakage(db: TestDb) {
        let app = spawn_example(db, "s4-gift-card.toml").await;
        let card = app.issue("GC1", None).await.remove(0);
        let (number, pin) = (card.number.clone(), card.pin.clone().unwrap());
        app.pos_post(&format!("/v1/pos/gift-cards/{number}/activate"), &json!({"operation_id": "g1", "amount": "20.00"})).await;
        let mut pay = receipt("r-12", None, "12.00");
        pay["gift_cards"] = json!([{"number": number, "pin": pin, "amount": "12.00"}]);
        let (status, body) = app.commit(&pay).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["gift_cards"][0]["balance_after"].as_str(), body["gift_cards"][0]["burned"].as_str()), (Some("0.00"), Some("8.00")));
        let breakage = app
            .store
            .account_by_holder(&loyd_domain::ledger::Holder::system("breakage").unwrap(), &AssetCode::parse("EUR").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(app.store.balance(breakage.id).await.unwrap().1.posted, 800);
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn an_expired_gift_cards_rest_is_breakage_in_the_operators_accounts(db: TestDb) {
        let app = spawn_example(db, "s4-gift-card.toml").await;
        let (number, pin) = {
            let card = app.issue("GC", None).await.remove(0);
            (card.number, card.pin.unwrap())
        };
        app.pos_post(&format!("/v1/pos/gift-cards/{number}/activate"), &json!({"operation_id": "g1", "amount": "30.00"})).await;
        let mut pay = receipt("r-10", None, "10.00");
        pay["gift_cards"] = json!([{"number": number, "pin": pin, "amount": "10.00"}]);
        assert_eq!(app.commit(&pay).await.0, 201);
        // A year later the card's validity is over: the job burns the 20.00 left.
        app.clock.advance(SignedDuration::from_hours(24 * 366));
        assert_eq!(app.store.burn_expired_lots(100).await.unwrap(), 1);
        admin(&app).await;
        let (status, body) = call(&app, "GET", "/v1/admin/ledger/system", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{body}");
        let row = |account: &str| body.as_array().unwrap().iter().find(|r| r["account"] == account && r["currency"] == "EUR").cloned();
        assert_eq!(row("breakage"), Some(json!({"account": "breakage", "currency": "EUR", "credits": "20.00", "debits": "0.00", "balance": "20.00"})));
        assert_eq!(row("expired").unwrap()["balance"], "0.00", "a gift card's rest is breakage, not expired points");
        assert_eq!(row("redemption").unwrap()["balance"], "10.00");
        // Points past their lifetime still go to `expired`: see the lifetime tests.
        let (status, _) = call(&app, "GET", "/v1/admin/ledger/system", "lyk_not_a_key", None).await;
        assert_eq!(status, 401);
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn s9_retries_never_apply_twice_and_fifty_concurrent_redemptions_never_overdraw(db: TestDb) {
        let app = spawn_example(db, "s9-retries.toml").await;
        let (customer, card) = app.customer_with_card("+37120000009", "LOY").await;
        app.grant(customer, "bonus", 100).await;

        let mut first = receipt("dup-1", Some(&card), "5.00");
        first["redeem"] = json!([{"currency": "bonus", "amount": "0"}]);
        let (s1, b1) = app.commit(&first).await;
        let (s2, b2) = app.commit(&first).await;
        assert_eq!((s1, s2), (201, 201));
        assert_eq!(b1, b2, "a retry returns the same body");
        let mut other = first.clone();
        other["lines"][0]["amount"] = json!("6.00");
        let (status, body) = app.commit(&other).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("idempotency_conflict")));

        let mut tasks = Vec::new();
        for n in 0..50 {
            let (client, url, key) = (app.client.clone(), app.url("/v1/pos/receipts"), app.key.clone());
            let mut r = receipt(&format!("c-{n}"), Some(&card), "5.00");
            r["redeem"] = json!([{"currency": "bonus", "amount": "10"}]);
            tasks.push(tokio::spawn(async move {
                let res = client.post(url).bearer_auth(key).json(&r).send().await.unwrap();
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap();
                (status, body["error"]["code"].as_str().map(str::to_owned))
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                (201, None) => ok += 1,
                (409, Some(code)) => assert_eq!(code, "insufficient_funds"),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ok, 10);
        assert_eq!(app.balance(&card, "bonus").await.0, "0");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn s10_after_a_partial_and_a_final_return_every_balance_is_as_before(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let (customer, card) = app.customer_with_card("+37120000010", "LOY").await;
        app.grant(customer, "bonus", 200).await;
        let before = app.balance(&card, "bonus").await;
        assert_eq!(before.0, "200");
        let r = json!({
            "receipt_id": "r-1", "customer": {"card": card},
            "lines": [
                {"line": 1, "sku": "MILK", "groups": ["dairy"], "qty": "2", "price": "5.00", "amount": "10.00"},
                {"line": 2, "sku": "CHEESE", "groups": ["misc"], "qty": "1", "price": "20.00", "amount": "20.00"},
                {"line": 3, "sku": "BREAD", "groups": ["misc"], "qty": "1", "price": "5.00", "amount": "5.00"}
            ],
            "redeem": [{"currency": "bonus", "amount": "50"}]
        });
        let (status, body) = app.commit(&r).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["redeemed"][0]["amount"], "50");
        assert_ne!(body["accrued"][0]["amount"], "0");
        let after_receipt = app.balance(&card, "bonus").await;
        assert_ne!(after_receipt, before);

        let part = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-1", "receipt_id": "r-1", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(part.status(), 201);
        let rest = app
            .pos_post(
                "/v1/pos/returns",
                &json!({"return_id": "ret-2", "receipt_id": "r-1", "lines": [{"line": 1, "qty": "1"}, {"line": 2, "qty": "1"}, {"line": 3, "qty": "1"}]}),
            )
            .await;
        assert_eq!(rest.status(), 201);
        let rest: Value = rest.json().await.unwrap();
        assert_eq!(rest["reversed"][0]["accrual_unrecovered"], "0");
        assert_eq!(app.balance(&card, "bonus").await, before);
        let more = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-3", "receipt_id": "r-1", "lines": [{"line": 3, "qty": "1"}]})).await;
        assert_eq!(error_code(more).await, "return_exceeds_receipt");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn s11_offline_receipts_commit_with_the_rules_of_their_time_and_none_blocks_another(db: TestDb) {
        let app = spawn_at(db, example("s11-offline.toml"), ApiConfig::default(), "2026-11-23T07:00:00Z").await;
        let (_, card) = app.customer_with_card("+37120000011", "LOY").await;
        // Today the program changes: three points per 1.00.
        app.clock.set("2026-11-24T08:15:00Z".parse().unwrap());
        let mut today = example("s11-offline.toml");
        today.campaigns[0].rewards[0].units = Some(loyd_domain::program::Dec(3.into()));
        app.store.apply_config(today, "v2".into(), false).await.unwrap();

        let at = "2026-11-23T12:00:00+02:00";
        let mut o1 = receipt("o-1", Some(&card), "10.00");
        o1["at"] = json!(at);
        let mut o2 = receipt("o-2", Some(&card), "20.00");
        o2["at"] = json!(at);
        let mut bad = receipt("o-3", Some(&card), "20.00");
        bad["at"] = json!(at);
        bad["lines"][0]["qty"] = json!("-1");
        let res = app.pos_post("/v1/pos/offline", &json!({"receipts": [o1, o2, o1, bad, {"no": "receipt"}]})).await;
        assert_eq!(res.status(), 200);
        let report: Value = res.json().await.unwrap();
        let statuses: Vec<&str> = report["receipts"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, vec!["committed", "committed", "duplicate", "refused", "refused"]);
        assert_eq!(report["receipts"][3]["error"]["code"], "validation_failed");
        assert_eq!(report["receipts"][0]["response"]["accrued"][0]["amount"], "10", "yesterday's rate");
        assert_eq!(report["receipts"][1]["response"]["accrued"][0]["amount"], "20");
        assert_eq!(app.balance(&card, "bonus").await.0, "30");
        let (status, body) = app.commit(&receipt("t-1", Some(&card), "10.00")).await;
        assert_eq!((status, body["accrued"][0]["amount"].as_str()), (201, Some("30")), "today's rate");
        assert!(app.failure_codes().await.iter().filter(|c| *c == "validation_failed").count() >= 2);
    }

    async fn s12_meals_are_paid_on_credit_up_to_the_limit_then_settled(db: TestDb) {
        let app = spawn_example(db, "s12-credit.toml").await;
        let (customer, card) = app.customer_with_card("+37120000012", "STAFF").await;
        let meal = |id: &str, amount: &str| {
            let mut r = receipt(id, Some(&card), amount);
            r["redeem"] = json!([{"currency": "meals", "amount": amount}]);
            r
        };
        for (n, amount) in ["8.50", "12.00", "45.50", "29.00"].iter().enumerate() {
            let (status, body) = app.commit(&meal(&format!("m{n}"), amount)).await;
            assert_eq!(status, 201, "{body}");
            assert_eq!(body["to_pay"], "0.00");
        }
        let (status, body) = app.commit(&meal("m-over", "6.00")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("insufficient_funds")));
        let (status, _) = app.commit(&meal("m-last", "5.00")).await;
        assert_eq!(status, 201);
        let meals = AssetCode::parse("meals").unwrap();
        let month = app
            .store
            .statement(customer, meals.clone(), "2026-11-01T00:00:00Z".parse().unwrap(), "2026-12-01T00:00:00Z".parse().unwrap(), loyd_domain::money::Scale::CENTS)
            .await
            .unwrap();
        assert_eq!((month.opening.as_str(), month.closing.as_str(), month.lines.len()), ("0.00", "-100.00", 5));
        assert_eq!(month.credit_limit, "100.00");
        let (settled, balance) = app.store.settle_credit("payroll-2026-11".into(), customer, meals.clone(), None, "test".into()).await.unwrap();
        assert_eq!((settled, balance), (10000, 0));
        let again = app.store.settle_credit("payroll-2026-11".into(), customer, meals, None, "test".into()).await.unwrap();
        assert_eq!(again, (10000, 0), "a repeated settlement is the same settlement");
        let (status, _) = app.commit(&meal("m-after", "10.00")).await;
        assert_eq!(status, 201);
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }
}
