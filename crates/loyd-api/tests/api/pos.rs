//! The POS contract beyond the scenarios: calculate has no side effects, identification
//! by card, phone and one-time code, validation, cancellations, the failure log.

use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{error_code, receipt, spawn_example};

both_backends! {
    async fn calculate_previews_without_changing_anything(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let (customer, card) = app.customer_with_card("+37120000020", "LOY").await;
        app.grant(customer, "bonus", 100).await;
        let mut r = receipt("p-1", Some(&card), "30.00");
        r["redeem"] = json!([{"currency": "bonus", "amount": "max"}]);
        let preview: Value = app.pos_post("/v1/pos/calculate", &r).await.json().await.unwrap();
        assert_eq!(preview["redeemed"][0]["amount"], "100");
        assert_eq!(preview["to_pay"], "20.00");
        assert!(preview.get("status").is_none());
        assert_eq!(app.balance(&card, "bonus").await.0, "100", "calculate changed nothing");
        let (status, committed) = app.commit(&r).await;
        assert_eq!(status, 201);
        for field in ["total", "discount", "redeemed_value", "to_pay", "lines", "redeemed", "accrued", "balances"] {
            assert_eq!(committed[field], preview[field], "{field} differs between calculate and commit");
        }
        assert_eq!(committed["status"], "committed");
        assert!(committed["transaction_id"].as_str().is_some_and(|t| t.starts_with("rc_")));
    }

    async fn customers_are_identified_by_card_phone_or_one_time_code(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let (customer, _) = app.customer_with_card("+37120000021", "LOY").await;
        let by_phone = json!({"receipt_id": "ph", "customer": {"phone": "+371 2000 0021"},
                              "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "10.00"}]});
        let (status, body) = app.commit(&by_phone).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["customer"]["id"], format!("c_{customer}"));
        let (code, _) = app.store.issue_code(customer, jiff::SignedDuration::from_mins(5), "test".into()).await.unwrap();
        let by_code = json!({"receipt_id": "cd", "customer": {"code": code},
                             "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "10.00"}]});
        let (status, body) = app.commit(&by_code).await;
        assert_eq!((status, body["accrued"][0]["amount"].as_str()), (201, Some("10")));
        let reuse = json!({"receipt_id": "cd2", "customer": {"code": code},
                           "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "10.00"}]});
        let (status, body) = app.commit(&reuse).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_card")), "a one-time code works once");
        let (status, body) = app.commit(&receipt("u", Some("2770999999999"), "1.00")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_card")));
    }

    async fn bad_receipts_get_validation_errors_never_500(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let cases = [
            json!({"receipt_id": "v1", "lines": []}),
            json!({"receipt_id": "v2", "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": 10.0}]}),
            json!({"receipt_id": "v3", "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "10.001"}]}),
            json!({"receipt_id": "", "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "1"}]}),
            json!({"receipt_id": "v5", "at": "yesterday", "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "1"}]}),
            json!({"receipt_id": "v7", "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "1"}], "redeem": [{"currency": "bonus", "amount": "5"}]}),
            json!({"receipt_id": "v8", "customer": {"card": "1", "phone": "+37120000000"}, "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "1"}]}),
            json!({"receipt_id": "v9", "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "1"}], "redeem": [{"currency": "nope", "amount": "5"}]}),
            json!("just a string"),
        ];
        for body in cases {
            let res = app.pos_post("/v1/pos/receipts", &body).await;
            assert!(res.status().is_client_error(), "{body} got {}", res.status());
            assert_eq!(error_code(res).await, "validation_failed", "{body}");
        }
        let res = app.client.post(app.url("/v1/pos/receipts")).bearer_auth(&app.key).body("{not json").header("content-type", "application/json").send().await.unwrap();
        assert_eq!(res.status(), 400);
        let huge = "x".repeat(2 * 1024 * 1024);
        let res = app.client.post(app.url("/v1/pos/receipts")).bearer_auth(&app.key).body(huge).header("content-type", "application/json").send().await.unwrap();
        assert_eq!(res.status(), 413);
        assert_eq!(error_code(res).await, "payload_too_large");
        let logged = app.failure_codes().await;
        assert!(logged.iter().filter(|c| *c == "validation_failed").count() >= 10, "{logged:?}");
    }

    async fn a_cancelled_receipt_gives_everything_back_and_cannot_be_returned(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let (customer, card) = app.customer_with_card("+37120000022", "LOY").await;
        app.grant(customer, "bonus", 40).await;
        let mut r = receipt("c-1", Some(&card), "40.00");
        r["redeem"] = json!([{"currency": "bonus", "amount": "40"}]);
        let (status, _) = app.commit(&r).await;
        assert_eq!(status, 201);
        let res = app.pos_post("/v1/pos/receipts/c-1/cancel", &json!({})).await;
        assert_eq!(res.status(), 200);
        let first: Value = res.json().await.unwrap();
        assert_eq!(first["status"], "cancelled");
        let again: Value = app.pos_post("/v1/pos/receipts/c-1/cancel", &json!({})).await.json().await.unwrap();
        assert_eq!(first, again, "cancelling twice is cancelling once");
        assert_eq!(app.balance(&card, "bonus").await.0, "40");
        let ret = app.pos_post("/v1/pos/returns", &json!({"return_id": "r", "receipt_id": "c-1", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(error_code(ret).await, "receipt_cancelled");
        let missing = app.pos_post("/v1/pos/receipts/nope/cancel", &json!({})).await;
        assert_eq!(error_code(missing).await, "receipt_not_found");
    }

    async fn returning_goods_whose_points_were_spent_takes_back_what_is_left(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let (_, card) = app.customer_with_card("+37120000023", "LOY").await;
        let (status, body) = app.commit(&receipt("earn", Some(&card), "100.00")).await;
        assert_eq!((status, body["accrued"][0]["amount"].as_str()), (201, Some("100")));
        let mut spend = receipt("spend", Some(&card), "20.00");
        spend["redeem"] = json!([{"currency": "bonus", "amount": "70"}]);
        assert_eq!(app.commit(&spend).await.0, 201);
        // 30 + 13 (earned on the 13.00 paid) are left; the return wants 100 back.
        let ret: Value = app
            .pos_post("/v1/pos/returns", &json!({"return_id": "r1", "receipt_id": "earn", "lines": [{"line": 1, "qty": "1"}]}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!((ret["reversed"][0]["accrual_taken"].as_str(), ret["reversed"][0]["accrual_unrecovered"].as_str()), (Some("43"), Some("57")));
        assert_eq!(app.balance(&card, "bonus").await.0, "0");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn two_gift_cards_and_points_pay_one_receipt_together(db: TestDb) {
        let app = spawn_example(db, "s4-gift-card.toml").await;
        let a = app.issue("GC", None).await.remove(0);
        let b = app.issue("GC", None).await.remove(0);
        for (n, card) in [&a, &b].iter().enumerate() {
            let res = app.pos_post(&format!("/v1/pos/gift-cards/{}/activate", card.number), &json!({"operation_id": format!("act-{n}"), "amount": "10.00"})).await;
            assert_eq!(res.status(), 201);
        }
        let mut r = receipt("two", None, "25.00");
        r["gift_cards"] = json!([
            {"number": a.number, "pin": a.pin, "amount": "10.00"},
            {"number": b.number, "pin": b.pin, "amount": "6.50"}
        ]);
        let (status, body) = app.commit(&r).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["gift_card_value"].as_str(), body["to_pay"].as_str()), (Some("16.50"), Some("8.50")));
        assert_eq!((body["gift_cards"][0]["balance_after"].as_str(), body["gift_cards"][1]["balance_after"].as_str()), (Some("0.00"), Some("3.50")));
        // A partial return refunds the cards in proportion to what they paid.
        let ret: Value = app
            .pos_post("/v1/pos/returns", &json!({"return_id": "back", "receipt_id": "two", "lines": [{"line": 1, "qty": "1"}]}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!((ret["refund"].as_str(), ret["to_refund"].as_str()), (Some("25.00"), Some("8.50")));
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn every_refusal_lands_in_the_failure_log_with_its_terminal(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let res = app.client.post(app.url("/v1/pos/receipts")).bearer_auth("wrong-key").json(&json!({})).send().await.unwrap();
        assert_eq!(res.status(), 401);
        app.commit(&receipt("x", Some("2770123"), "1.00")).await;
        let failures = app.store.failures(loyd_store::FailureFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(failures[0].code, "unknown_card");
        assert_eq!(failures[0].terminal.as_deref(), Some("pos-1"));
        assert_eq!(failures[0].operation, "commit");
        assert_eq!(failures[0].client_id.as_deref(), Some("x"));
        assert_eq!(failures[0].card.as_deref(), Some("2770123"));
        assert_eq!((failures[1].code.as_str(), failures[1].terminal.as_deref()), ("unauthorized", None));
    }
}
