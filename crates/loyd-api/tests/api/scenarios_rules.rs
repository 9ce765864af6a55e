//! The acceptance scenarios of the rules engine (S1, S2, S5, S6, S7, S8), each loading
//! its program from `examples/` and driving the POS API over HTTP, on SQLite and on
//! PostgreSQL.

use jiff::SignedDuration;
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use loyd_api::ApiConfig;

use crate::helpers::{example, receipt, spawn_at, spawn_example, spawn_with_program};

fn at(mut r: Value, when: &str) -> Value {
    r["at"] = json!(when);
    r
}

both_backends! {
    async fn s1_whole_fives_earn_points_and_ten_points_become_a_euro_on_the_wallet(db: TestDb) {
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let (_, card) = app.customer_with_card("+37120000101", "LOY").await;
        for (n, (amount, points)) in [("7.00", "1"), ("4.99", "0"), ("5.00", "1")].iter().enumerate() {
            let (status, body) = app.commit(&receipt(&format!("pre-{n}"), Some(&card), amount)).await;
            assert_eq!(status, 201, "{body}");
            let earned = body["accrued"].as_array().unwrap().first().map(|a| a["amount"].as_str().unwrap().to_owned()).unwrap_or("0".into());
            assert_eq!(earned, *points, "receipt {amount}");
        }
        // A fresh customer for the sequence of the scenario.
        let (_, card) = app.customer_with_card("+37120000102", "LOY").await;
        app.commit(&receipt("a", Some(&card), "17.50")).await;
        assert_eq!(app.balance(&card, "bonus").await.0, "3");
        app.commit(&receipt("b", Some(&card), "20.00")).await;
        assert_eq!(app.balance(&card, "bonus").await.0, "7");
        let (_, third) = app.commit(&receipt("c", Some(&card), "15.00")).await;
        assert_eq!(third["balances"].as_array().unwrap().iter().find(|b| b["currency"] == "wallet").unwrap()["available"], "1.00");
        assert_eq!(app.balance(&card, "bonus").await.0, "0");
        assert_eq!(app.balance(&card, "wallet").await.0, "1.00");
        // The wallet pays like a gift card.
        let mut pay = receipt("d", Some(&card), "3.00");
        pay["redeem"] = json!([{"currency": "wallet", "amount": "1.00"}]);
        let (status, body) = app.commit(&pay).await;
        assert_eq!((status, body["to_pay"].as_str()), (201, Some("2.00")));
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn s2_the_discount_grows_with_the_year_sum_from_the_next_receipt_and_resets_after_a_year(db: TestDb) {
        let app = spawn_example(db, "s2-accumulated-discount.toml").await;
        let (_, card) = app.customer_with_card("+37120000201", "LOY").await;
        for (n, (amount, discount)) in [("40.00", "2.00"), ("20.00", "1.00"), ("100.00", "6.00"), ("10.00", "0.80")].iter().enumerate() {
            let (status, body) = app.commit(&receipt(&format!("r{n}"), Some(&card), amount)).await;
            assert_eq!(status, 201, "{body}");
            assert_eq!(body["discount"], *discount, "receipt {n} of {amount}");
        }
        // A year after the program start the sum starts again.
        app.clock.set("2027-01-02T10:00:00Z".parse().unwrap());
        let (_, body) = app.commit(&receipt("next-year", Some(&card), "100.00")).await;
        assert_eq!(body["discount"], "5.00");
    }

    async fn s5_exceptions_redemption_rules_and_the_inactivity_burn(db: TestDb) {
        let app = spawn_example(db, "s5-points-exceptions.toml").await;
        let (customer, card) = app.customer_with_card("+37120000501", "LOY").await;
        let lines = json!([
            {"line": 1, "sku": "MILK", "groups": ["dairy"], "qty": "1", "amount": "10.00"},
            {"line": 2, "sku": "BREAD", "groups": ["misc"], "qty": "1", "amount": "20.00"},
            {"line": 3, "sku": "CIGS", "groups": ["tobacco"], "qty": "1", "amount": "5.00"}
        ]);
        let (_, plain) = app.commit(&json!({"receipt_id": "plain", "customer": {"card": card}, "lines": lines})).await;
        assert_eq!(plain["accrued"][0]["amount"], "40");
        let lines_earned: Vec<&str> = plain["lines"].as_array().unwrap().iter()
            .map(|l| l["applied"].as_array().unwrap().iter().find(|a| a["kind"] == "accrual").map(|a| a["amount"].as_str().unwrap()).unwrap_or("0"))
            .collect();
        assert_eq!(lines_earned, vec!["20", "20", "0"]);

        app.grant(customer, "bonus", 460).await; // 40 + 460 = 500 points
        let mut r = json!({"receipt_id": "redeem", "customer": {"card": card}, "lines": lines, "redeem": [{"currency": "bonus", "amount": "max"}]});
        let (status, body) = app.commit(&r).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["redeemed"][0]["amount"].as_str(), body["redeemed_value"].as_str()), (Some("90"), Some("9.00")));
        let per_line: Vec<&str> = body["lines"].as_array().unwrap().iter().map(|l| l["redeemed_value"].as_str().unwrap()).collect();
        assert_eq!(per_line, vec!["3.00", "6.00", "0.00"]);
        assert_eq!(body["accrued"][0]["amount"], "28");

        // Below 100 points nothing may be redeemed.
        let (other, other_card) = app.customer_with_card("+37120000502", "LOY").await;
        app.grant(other, "bonus", 99).await;
        r["receipt_id"] = json!("too-few");
        r["customer"] = json!({"card": other_card});
        let (status, body) = app.commit(&r).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("below_minimum_redeem")));

        // 181 days without a purchase: every point burns.
        app.clock.advance(SignedDuration::from_hours(24 * 181));
        assert!(app.store.burn_inactive(100).await.unwrap() >= 1);
        assert_eq!(app.balance(&card, "bonus").await.0, "0");
        assert_eq!(app.store.burn_inactive(100).await.unwrap(), 0, "a burn happens once");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn s6_half_a_percent_on_weekdays_below_a_thousand_outside_discounters_and_discounts_capped_at_a_fifth(db: TestDb) {
        // The program is in force from the 16th; receipts of the 17th and 21st use it.
        let app = spawn_at(db, example("s6-conditional-bonus.toml"), ApiConfig::default(), "2026-11-16T00:00:00Z").await;
        app.clock.set(crate::helpers::START.parse().unwrap());
        let discounter = app.terminal("riga-02").await;
        let (_, card) = app.customer_with_card("+37120000601", "LOY").await;
        let tuesday = "2026-11-17T12:00:00+02:00";
        let saturday = "2026-11-21T12:00:00+02:00";
        let (status, body) = app.commit(&at(receipt("tue-800", Some(&card), "800.00"), tuesday)).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["accrued"][0]["amount"], "4");
        assert!(body["accrued"][0]["expires_at"].as_str().unwrap().starts_with("2027-11-17"), "{body}");
        assert_eq!(body["messages"]["slip"][0], "Накопительная бонусная схема в зависимости от суммы чека.");
        let (_, sat) = app.commit(&at(receipt("sat-800", Some(&card), "800.00"), saturday)).await;
        assert!(sat["accrued"].as_array().unwrap().is_empty());
        let (_, big) = app.commit(&at(receipt("tue-1200", Some(&card), "1200.00"), tuesday)).await;
        assert!(big["accrued"].as_array().unwrap().is_empty());
        let (_, disc) = app.commit_as(&discounter, &at(receipt("disc-800", Some(&card), "800.00"), tuesday)).await;
        assert!(disc["accrued"].as_array().unwrap().is_empty(), "{disc}");
        assert!(disc["messages"]["slip"].as_array().unwrap().is_empty());
        // On a weekend 15% and 10% on dairy would make 25%: the restriction keeps 20%.
        let weekend = json!({"receipt_id": "sat-dairy", "at": saturday, "lines": [
            {"line": 1, "sku": "MILK", "groups": ["dairy"], "qty": "1", "amount": "100.00"}]});
        let (_, capped) = app.commit(&weekend).await;
        assert_eq!(capped["discount"], "20.00");
    }

    async fn s7_a_welcome_coupon_once_per_customer_and_a_thousand_unguessable_single_use_codes(db: TestDb) {
        let app = spawn_example(db, "s7-coupons.toml").await;
        let (_, card) = app.customer_with_card("+37120000701", "LOY").await;
        let dairy = |id: &str| json!({"receipt_id": id, "customer": {"card": card}, "coupons": ["WELCOME10"], "lines": [
            {"line": 1, "sku": "MILK", "groups": ["dairy"], "qty": "1", "amount": "20.00"},
            {"line": 2, "sku": "BREAD", "groups": ["misc"], "qty": "1", "amount": "5.00"}]});
        let (status, body) = app.commit(&dairy("w1")).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["coupons"][0]["status"].as_str(), body["discount"].as_str()), (Some("applied"), Some("2.00")));
        let (status, body) = app.commit(&dairy("w2")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("coupon_used")));
        let preview: Value = app.pos_post("/v1/pos/calculate", &dairy("w3")).await.json().await.unwrap();
        assert_eq!((preview["coupons"][0]["status"].as_str(), preview["coupons"][0]["reason"].as_str()), (Some("rejected"), Some("used")));
        let (_, card2) = app.customer_with_card("+37120000702", "LOY").await;
        let no_dairy = json!({"receipt_id": "w4", "customer": {"card": card2}, "coupons": ["WELCOME10"],
                              "lines": [{"line": 1, "sku": "BREAD", "groups": ["misc"], "qty": "1", "amount": "5.00"}]});
        let (status, body) = app.commit(&no_dairy).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("coupon_not_applicable")));
        app.clock.set("2027-01-02T10:00:00Z".parse().unwrap());
        let mut late = dairy("w5");
        late["customer"] = json!({"card": card2});
        let (status, body) = app.commit(&late).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("coupon_expired")));

        let codes = app.store.generate_coupons("GEN".into(), 1000, None, None, "test".into()).await.unwrap();
        let unique: std::collections::BTreeSet<&String> = codes.iter().map(|(c, _)| c).collect();
        assert_eq!(unique.len(), 1000);
        assert!(codes.iter().all(|(c, _)| loyd_domain::coupons::is_generated(c)));
        let code = &codes[0].0;
        let use_it = |id: &str| json!({"receipt_id": id, "coupons": [code.to_lowercase()], "lines": [
            {"line": 1, "sku": "X", "qty": "1", "amount": "8.00"}]});
        let (status, body) = app.commit(&use_it("g1")).await;
        assert_eq!((status, body["discount"].as_str()), (201, Some("4.00")), "at most half of 8.00: {body}");
        let (status, body) = app.commit(&use_it("g2")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("coupon_used")));
        let guess = json!({"receipt_id": "g3", "coupons": ["0000000000X"], "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "8.00"}]});
        let (status, body) = app.commit(&guess).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("coupon_unknown")));
    }

    async fn s8_tiers_upgrade_from_the_next_receipt_and_downgrade_when_receipts_leave_the_window(db: TestDb) {
        let app = spawn_example(db, "s8-tiers.toml").await;
        let (_, card) = app.customer_with_card("+37120000801", "LOY").await;
        let (_, first) = app.commit(&receipt("t1", Some(&card), "300.00")).await;
        assert_eq!((first["customer"]["tier"].as_str(), first["discount"].as_str()), (Some("base"), Some("0.00")));
        app.clock.advance(SignedDuration::from_hours(24));
        let (_, second) = app.commit(&receipt("t2", Some(&card), "100.00")).await;
        assert_eq!((second["customer"]["tier"].as_str(), second["discount"].as_str()), (Some("silver"), Some("3.00")));
        app.clock.advance(SignedDuration::from_hours(24));
        let (_, third) = app.commit(&receipt("t3", Some(&card), "700.00")).await;
        assert_eq!((third["customer"]["tier"].as_str(), third["discount"].as_str()), (Some("silver"), Some("21.00")));
        app.clock.advance(SignedDuration::from_hours(24));
        let (_, fourth) = app.commit(&receipt("t4", Some(&card), "100.00")).await;
        assert_eq!((fourth["customer"]["tier"].as_str(), fourth["discount"].as_str()), (Some("gold"), Some("5.00")));
        // A year later the first three receipts have left the window.
        app.clock.advance(SignedDuration::from_hours(24 * 366));
        let (_, later) = app.commit(&receipt("t5", Some(&card), "100.00")).await;
        assert_eq!((later["customer"]["tier"].as_str(), later["discount"].as_str()), (Some("base"), Some("0.00")));
    }

    async fn a_card_inquiry_shows_the_customers_tier_and_the_personal_coupons_they_can_present(db: TestDb) {
        let mut program = example("s8-tiers.toml");
        let series: loyd_domain::config::ConfigDocument = serde_json::from_value(json!({"coupon_series": [
            {"id": "THANKS", "kind": "unique", "amount": "5.00", "validity_days": 30, "uses_per_code": 1}
        ]}))
        .unwrap();
        program.coupon_series.extend(series.coupon_series);
        let app = spawn_with_program(db, program).await;
        let (customer, card) = app.customer_with_card("+37120000811", "LOY").await;
        let path = format!("/v1/pos/cards/{card}");
        let inquiry = || app.pos_get(&path);
        let before: Value = inquiry().await.json().await.unwrap();
        assert_eq!((before["tier"].as_str(), before["coupons"].clone()), (Some("base"), json!([])), "{before}");
        app.commit(&receipt("i1", Some(&card), "400.00")).await;
        let codes = app.store.generate_coupons("THANKS".into(), 2, Some(customer), None, "test".into()).await.unwrap();
        // Someone else's coupon is not shown.
        app.store.generate_coupons("THANKS".into(), 1, None, None, "test".into()).await.unwrap();
        let after: Value = inquiry().await.json().await.unwrap();
        assert_eq!(after["tier"], "silver", "{after}");
        let shown: Vec<&str> = after["coupons"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
        let mut expected: Vec<&str> = codes.iter().map(|(c, _)| c.as_str()).collect();
        expected.sort();
        let mut sorted = shown.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "{after}");
        assert_eq!(after["coupons"][0]["series"], "THANKS");
        assert!(after["coupons"][0]["valid_until"].as_str().is_some_and(|v| v.starts_with("2026-12-")), "{after}");
        // A coupon used on a receipt is gone from the list; a lapsed one too.
        let mut spend = receipt("i2", Some(&card), "20.00");
        spend["coupons"] = json!([codes[0].0]);
        let (status, body) = app.commit(&spend).await;
        assert_eq!(status, 201, "{body}");
        let after: Value = inquiry().await.json().await.unwrap();
        let left: Vec<&str> = after["coupons"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
        assert_eq!(left, vec![codes[1].0.as_str()], "{after}");
        app.clock.advance(SignedDuration::from_hours(24 * 31));
        assert_eq!(inquiry().await.json::<Value>().await.unwrap()["coupons"], json!([]));
    }
}

both_backends! {
    async fn budgets_per_customer_limits_and_single_use_coupons_hold_under_concurrent_commits(db: TestDb) {
        let mut program = example("s7-coupons.toml");
        let extra: loyd_domain::config::ConfigDocument = serde_json::from_value(json!({"campaigns": [
            {"id": "budgeted", "limits": {"budget": "10.00"}, "rewards": [{"type": "discount", "amount": "1.00", "skus": ["B"]}]},
            {"id": "thrice", "customers_only": true, "limits": {"per_customer_day": 3}, "rewards": [{"type": "discount", "amount": "0.10", "skus": ["T"]}]}
        ]}))
        .unwrap();
        program.campaigns.extend(extra.campaigns);
        let app = spawn_with_program(db, program).await;
        let (_, card) = app.customer_with_card("+37120000901", "LOY").await;
        let code = app.store.generate_coupons("GEN".into(), 1, None, None, "test".into()).await.unwrap().remove(0).0;

        let burst = |sku: &'static str, prefix: &'static str, customer: Option<String>, coupon: Option<String>| {
            let mut tasks = Vec::new();
            for n in 0..30 {
                let (client, url, key) = (app.client.clone(), app.url("/v1/pos/receipts"), app.key.clone());
                let mut body = json!({"receipt_id": format!("{prefix}-{n}"), "lines": [{"line": 1, "sku": sku, "qty": "1", "amount": "8.00"}]});
                if let Some(card) = &customer {
                    body["customer"] = json!({"card": card});
                }
                if let Some(code) = &coupon {
                    body["coupons"] = json!([code]);
                }
                tasks.push(tokio::spawn(async move {
                    let res = client.post(url).bearer_auth(key).json(&body).send().await.unwrap();
                    (res.status().as_u16(), res.json::<Value>().await.unwrap())
                }));
            }
            tasks
        };
        let discounted = |results: &[(u16, Value)]| results.iter().filter(|(s, b)| *s == 201 && b["discount"] != "0.00").count();

        let mut budget = Vec::new();
        for t in burst("B", "b", None, None) {
            budget.push(t.await.unwrap());
        }
        assert!(budget.iter().all(|(s, _)| *s == 201), "every receipt commits, with or without the campaign");
        assert_eq!(discounted(&budget), 10, "a 10.00 budget gives ten discounts of 1.00");

        let mut limited = Vec::new();
        for t in burst("T", "t", Some(card.clone()), None) {
            limited.push(t.await.unwrap());
        }
        assert_eq!(discounted(&limited), 3, "three times per customer per day");

        let mut coupons = Vec::new();
        for t in burst("X", "c", None, Some(code.clone())) {
            coupons.push(t.await.unwrap());
        }
        let used = coupons.iter().filter(|(s, b)| *s == 409 && b["error"]["code"] == "coupon_used").count();
        assert_eq!((discounted(&coupons), used), (1, 29), "a single-use coupon is used once");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }
}

both_backends! {
    async fn a_simulation_costs_a_proposed_campaign_over_committed_receipts(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let (_, card) = app.customer_with_card("+37120000951", "LOY").await;
        let dairy = |id: &str, amount: &str| json!({"receipt_id": id, "customer": {"card": card},
            "lines": [{"line": 1, "sku": "MILK", "groups": ["dairy"], "qty": "1", "amount": amount}]});
        for (id, amount) in [("s1", "10.00"), ("s2", "20.00")] {
            assert_eq!(app.commit(&dairy(id, amount)).await.0, 201);
        }
        assert_eq!(app.commit(&receipt("anon", None, "50.00")).await.0, 201);
        let change: loyd_domain::config::ConfigDocument = serde_json::from_value(json!({"campaigns": [
            {"id": "dairy-10", "customers_only": true, "rewards": [{"type": "discount", "percent": "10", "groups": ["dairy"]}]}
        ]}))
        .unwrap();
        let day = |d: &str| d.parse::<jiff::Timestamp>().unwrap();
        let report = app.store.simulate(change, day("2026-11-01T00:00:00Z"), day("2026-12-01T00:00:00Z"), None).await.unwrap();
        assert_eq!(report.baseline.receipts, 3);
        assert_eq!((report.baseline.discount, report.proposed.discount), (0, 300));
        // Dairy earns 2 per 1.00 on what is paid: 60 points before, 54 after the discount.
        assert_eq!((report.baseline.accrued["bonus"], report.proposed.accrued["bonus"]), (60, 54));
        assert_eq!((report.receipts_changed, report.customers_affected), (2, 1));
        assert_eq!(app.store.config_version().await.unwrap(), Some(1), "a simulation changes nothing");
    }

    async fn discounted_receipts_per_customer_are_counted_at_commit_and_given_back_on_cancel(db: TestDb) {
        let mut program = example("s10-returns.toml");
        let change: loyd_domain::config::ConfigDocument = serde_json::from_value(json!({
            "restrictions": {"max_discounts_per_customer_day": 1},
            "campaigns": [{"id": "ten", "rewards": [{"type": "discount", "percent": "10"}]}]
        }))
        .unwrap();
        program = change.merge_into(&program).unwrap().0;
        let app = spawn_with_program(db, program).await;
        let (_, card) = app.customer_with_card("+37120000191", "LOY").await;
        let (status, first) = app.commit(&receipt("d-1", Some(&card), "10.00")).await;
        assert_eq!((status, first["discount"].as_str()), (201, Some("1.00")), "{first}");
        let (_, second) = app.commit(&receipt("d-2", Some(&card), "10.00")).await;
        assert_eq!(second["discount"], "0.00", "one discounted receipt a day");
        let res = app.pos_post("/v1/pos/receipts/d-1/cancel", &json!({})).await;
        assert_eq!(res.status().as_u16(), 200);
        let (_, third) = app.commit(&receipt("d-3", Some(&card), "10.00")).await;
        assert_eq!(third["discount"], "1.00", "the cancelled receipt gave its use back");
        let (_, other) = app.commit(&receipt("d-4", None, "10.00")).await;
        assert_eq!(other["discount"], "1.00", "anonymous receipts are not counted");
    }
}
