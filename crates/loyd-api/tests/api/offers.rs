//! The offers of the second rules engine at a till, from `examples/offers.toml`: a
//! multi-buy, a code-activated campaign with conditions and use limits, a cap per
//! campaign, uses in all under concurrency, points in steps. On SQLite and PostgreSQL.

use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::spawn_example;

/// A receipt of (sku, group, qty, amount) lines.
fn basket(id: &str, card: Option<&str>, items: &[(&str, &str, &str, &str)]) -> Value {
    let lines: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (sku, group, qty, amount))| json!({"line": i + 1, "sku": sku, "groups": [group], "qty": qty, "amount": amount}))
        .collect();
    let mut r = json!({"receipt_id": id, "lines": lines});
    if let Some(card) = card {
        r["customer"] = json!({"card": card});
    }
    r
}

fn line_discounts(body: &Value) -> Vec<&str> {
    body["lines"].as_array().unwrap().iter().map(|l| l["discount"].as_str().unwrap()).collect()
}

both_backends! {
    async fn buy_three_teas_and_the_cheapest_is_free_per_multiple(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        let items = [("GREEN", "tea", "3", "9.00"), ("BLACK", "tea", "2", "4.00"), ("HONEY", "misc", "1", "1.00"), ("WHITE", "tea", "1", "5.00")];
        let (status, body) = app.commit(&basket("tea-1", None, &items)).await;
        assert_eq!(status, 201, "{body}");
        // Six teas: two groups, the two cheapest (BLACK at 2.00) free.
        assert_eq!(line_discounts(&body), vec!["0.00", "4.00", "0.00", "0.00"]);
        assert_eq!((body["discount"].as_str(), body["to_pay"].as_str()), (Some("4.00"), Some("15.00")));
        let (_, body) = app.commit(&basket("tea-2", None, &items[..1])).await;
        assert_eq!(body["discount"], "3.00", "three of one tea: one free");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn the_summer_code_needs_fifty_with_shoes_and_is_used_once_per_customer(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        let (_, card) = app.customer_with_card("+37120001601", "LOY").await;
        // Below 50.00: the calculation says the code does not apply and why; a commit
        // with it is refused with the same words, and the code stays unused.
        let mut small = basket("s-1", Some(&card), &[("BOOT", "shoes", "1", "40.00")]);
        small["coupons"] = json!(["summer"]);
        let body: Value = app.pos_post("/v1/pos/calculate", &small).await.json().await.unwrap();
        assert_eq!((body["coupons"][0]["status"].as_str(), body["coupons"][0]["reason"].as_str()), (Some("rejected"), Some("not_applicable")));
        assert!(body["coupons"][0]["message"].as_str().unwrap().contains("at least 50.00"), "{body}");
        assert_eq!(body["discount"], "0.00");
        let (status, body) = app.commit(&small).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("coupon_not_applicable")));
        assert!(body["error"]["message"].as_str().unwrap().contains("at least 50.00"), "{body}");
        // Anonymous: a member offer.
        let mut anonymous = basket("s-2", None, &[("BOOT", "shoes", "1", "80.00")]);
        anonymous["coupons"] = json!(["SUMMER"]);
        let body: Value = app.pos_post("/v1/pos/calculate", &anonymous).await.json().await.unwrap();
        assert_eq!(body["coupons"][0]["reason"], "not_applicable");
        // 80.00 of shoes and a hat: 15 % of the shoes.
        let mut big = basket("s-3", Some(&card), &[("BOOT", "shoes", "1", "80.00"), ("HAT", "hats", "1", "20.00")]);
        big["coupons"] = json!(["Summer"]);
        let (status, body) = app.commit(&big).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["coupons"][0]["status"].as_str(), body["coupons"][0]["discount"].as_str()), (Some("applied"), Some("12.00")));
        assert_eq!(line_discounts(&body), vec!["12.00", "0.00"]);
        // Once per customer.
        big["receipt_id"] = json!("s-4");
        let body: Value = app.pos_post("/v1/pos/calculate", &big).await.json().await.unwrap();
        assert_eq!((body["coupons"][0]["reason"].as_str(), body["discount"].as_str()), (Some("used"), Some("0.00")));
        // Cancelling the receipt that used it gives the use back.
        let res = app.pos_post("/v1/pos/receipts/s-3/cancel", &json!({})).await;
        assert_eq!(res.status(), 200);
        big["receipt_id"] = json!("s-5");
        let (_, body) = app.commit(&big).await;
        assert_eq!(body["coupons"][0]["status"], "applied");
    }

    async fn twenty_percent_on_cabinets_gives_at_most_two_hundred_per_receipt(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        let (status, body) = app.commit(&basket("cab-1", None, &[("OAK", "cabinets", "1", "1000.00"), ("PINE", "cabinets", "1", "500.00"), ("RUG", "misc", "1", "50.00")])).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(line_discounts(&body), vec!["133.33", "66.67", "0.00"]);
        let (_, body) = app.commit(&basket("cab-2", None, &[("PINE", "cabinets", "1", "500.00")])).await;
        assert_eq!(body["discount"], "100.00", "under the cap: 20 %");
    }

    async fn a_campaign_with_three_uses_in_all_gives_exactly_three_under_concurrency(db: TestDb) {
        let app = std::sync::Arc::new(spawn_example(db, "offers.toml").await);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..8 {
            let app = app.clone();
            tasks.spawn(async move { app.commit(&basket(&format!("lamp-{n}"), None, &[("LAMP", "lamps", "1", "30.00")])).await });
        }
        let results = tasks.join_all().await;
        let discounted: Vec<&Value> = results.iter().map(|(s, b)| { assert_eq!(*s, 201, "{b}"); b }).filter(|b| b["discount"] == "5.00").collect();
        assert_eq!(discounted.len(), 3, "{results:?}");
        // A cancelled one gives its use back.
        let id = discounted[0]["receipt_id"].as_str().unwrap().to_owned();
        assert_eq!(app.pos_post(&format!("/v1/pos/receipts/{id}/cancel"), &json!({})).await.status(), 200);
        let (_, body) = app.commit(&basket("lamp-again", None, &[("LAMP", "lamps", "1", "30.00")])).await;
        assert_eq!(body["discount"], "5.00");
        let (_, body) = app.commit(&basket("lamp-late", None, &[("LAMP", "lamps", "1", "30.00")])).await;
        assert_eq!(body["discount"], "0.00");
    }

    async fn points_are_spent_in_steps_of_one_hundred(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        let (customer, card) = app.customer_with_card("+37120001602", "LOY").await;
        app.grant(customer, "bonus", 250).await;
        let mut r = basket("p-1", Some(&card), &[("RUG", "misc", "1", "50.00")]);
        r["redeem"] = json!([{"currency": "bonus", "amount": "150"}]);
        let res = app.pos_post("/v1/pos/calculate", &r).await;
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        assert_eq!((body["error"]["code"].as_str(), body["error"]["details"]["step"].as_str()), (Some("redeem_limit_exceeded"), Some("100")), "{body}");
        r["redeem"] = json!([{"currency": "bonus", "amount": "max"}]);
        let (status, body) = app.commit(&r).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["redeemed"][0]["amount"].as_str(), body["redeemed_value"].as_str()), (Some("200"), Some("2.00")));
        assert_eq!(app.balance(&card, "bonus").await.0, "50");
    }
}

both_backends! {
    async fn a_euro_wallet_pays_in_roubles_at_the_configured_rate_and_never_in_dollars(db: TestDb) {
        let app = spawn_example(db, "two-currencies.toml").await;
        let (customer, card) = app.customer_with_card("+37120001701", "LOY").await;
        app.grant(customer, "wallet", 2000).await;
        let pay = |id: &str, total: &str, amount: &str| {
            let mut r = basket(id, Some(&card), &[("A", "misc", "1", total)]);
            r["redeem"] = json!([{"currency": "wallet", "amount": amount}]);
            r
        };
        // Riga (EUR): 10.00 pays 10.00; 5 % back on the 90.00 left.
        let (status, body) = app.commit(&pay("riga-1", "100.00", "10.00")).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["redeemed_value"].as_str(), body["to_pay"].as_str(), body["accrued"][0]["amount"].as_str()), (Some("10.00"), Some("90.00"), Some("4.50")));
        // Pskov (RUB): 10.00 EUR is worth 985.00 RUB; 5 % of the 985.00 RUB left is 0.50 EUR.
        let pskov = app.terminal_key("pskov-01", "pos-1").await;
        let (status, body) = app.commit_as(&pskov, &pay("pskov-1", "1970.00", "10.00")).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["redeemed"][0]["amount"], "10.00");
        assert_eq!((body["redeemed_value"].as_str(), body["to_pay"].as_str(), body["accrued"][0]["amount"].as_str()), (Some("985.00"), Some("985.00"), Some("0.50")));
        assert_eq!(app.balance(&card, "wallet").await.0, "5.00", "20.00 − 10.00 + 4.50 − 10.00 + 0.50");
        // New York (USD): no rate, so never 1:1. Refused, with what to tell the cashier;
        // the cashback campaign leaves New York out (it could not be applied otherwise).
        let nyc = app.terminal_key("nyc-01", "pos-1").await;
        let (status, body) = app.commit_as(&nyc, &pay("nyc-1", "100.00", "1.00")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("currency_not_accepted")), "{body}");
        assert_eq!(body["error"]["details"], json!({"currency": "wallet", "held_in": "EUR", "store_currency": "USD"}));
        let (status, body) = app.commit_as(&nyc, &basket("nyc-2", Some(&card), &[("A", "misc", "1", "100.00")])).await;
        assert_eq!((status, body["accrued"].as_array().map(Vec::len)), (201, Some(0)), "{body}");
        assert_eq!(app.balance(&card, "wallet").await.0, "5.00");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }
}

/// Accruals per item and per receipt, a next-order coupon, a gift.
const REWARDS: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[currencies]]
code = "bonus"
kind = "points"
scale = 0

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[coupon_series]]
id = "NEXT"
kind = "unique"
name = "3.00 off the next order"
amount = "3.00"
validity_days = 30

[[campaigns]]
id = "coffee-stars"
rewards = [{ type = "accrue", currency = "bonus", per_item = "2", groups = ["coffee"] }]

[[campaigns]]
id = "visit"
rewards = [{ type = "accrue", currency = "bonus", fixed = "10" }]

[[campaigns]]
id = "next-order"
min_total = "20.00"
rewards = [{ type = "issue_coupon", coupon_series = "NEXT" }]

[[campaigns]]
id = "tote"
min_total = "50.00"
rewards = [{ type = "gift", gift = "Tote bag" }]
"#;

both_backends! {
    async fn accruals_per_item_and_per_receipt_a_personal_next_order_coupon_and_gifts_on_record(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, admin, call, spawn_with_program};
        let app = spawn_with_program(db, toml::from_str(REWARDS).unwrap()).await;
        admin(&app).await;
        let (anna, anna_card) = app.customer_with_card("+37120001801", "LOY").await;
        let (_, ben_card) = app.customer_with_card("+37120001802", "LOY").await;
        // 3 coffees and 1.5 kg of coffee beans: 2 per item is 9 (weighed goods count
        // their quantity); 10 for the visit; a coupon over 20.00; a bag over 50.00.
        let items = [("LATTE", "coffee", "3", "9.00"), ("BEANS", "coffee", "1.5", "30.00"), ("CAKE", "misc", "1", "21.00")];
        let (status, body) = app.commit(&basket("a-1", Some(&anna_card), &items)).await;
        assert_eq!(status, 201, "{body}");
        let accrued: Vec<(&str, &str)> =
            body["accrued"].as_array().unwrap().iter().map(|a| (a["campaign"].as_str().unwrap(), a["amount"].as_str().unwrap())).collect();
        assert_eq!(accrued, vec![("coffee-stars", "9"), ("visit", "10")]);
        assert_eq!(body["gifts"], json!([{"gift": "Tote bag", "campaign": "tote"}]));
        let issued = &body["issued_coupons"][0];
        assert_eq!((issued["series"].as_str(), issued["campaign"].as_str()), (Some("NEXT"), Some("next-order")));
        let code = issued["code"].as_str().unwrap().to_owned();
        let valid_until: jiff::Timestamp = issued["valid_until"].as_str().unwrap().parse().unwrap();
        assert_eq!(valid_until, app.store.now() + jiff::SignedDuration::from_hours(24 * 30), "valid 30 days from issue");
        // A receipt of 5.00: 10 for the visit only.
        let (_, body) = app.commit(&basket("a-2", Some(&anna_card), &[("CAKE", "misc", "1", "5.00")])).await;
        assert_eq!((body["accrued"][0]["campaign"].as_str(), body["accrued"][0]["amount"].as_str()), (Some("visit"), Some("10")));
        assert_eq!(app.balance(&anna_card, "bonus").await.0, "29");

        // The coupon is Anna's: Ben is told why, and a commit with it is refused.
        let mut bens = basket("b-1", Some(&ben_card), &[("CAKE", "misc", "1", "10.00")]);
        bens["coupons"] = json!([code]);
        let body: Value = app.pos_post("/v1/pos/calculate", &bens).await.json().await.unwrap();
        assert!(body["coupons"][0]["message"].as_str().unwrap().ends_with("the coupon was issued to another customer"), "{body}");
        assert_eq!(app.commit(&bens).await.1["error"]["code"], "coupon_not_applicable");
        // Anna uses it once, within its validity.
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 29));
        let mut annas = basket("a-3", Some(&anna_card), &[("CAKE", "misc", "1", "10.00")]);
        annas["coupons"] = json!([code]);
        let (status, body) = app.commit(&annas).await;
        assert_eq!((status, body["discount"].as_str()), (201, Some("3.00")), "{body}");
        annas["receipt_id"] = json!("a-4");
        assert_eq!(app.commit(&annas).await.1["error"]["code"], "coupon_used");
        // A coupon past its 30 days has expired.
        let (_, body) = app.commit(&basket("a-5", Some(&anna_card), &[("CAKE", "misc", "1", "25.00")])).await;
        let later = body["issued_coupons"][0]["code"].as_str().unwrap().to_owned();
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 31));
        let mut late = basket("a-6", Some(&anna_card), &[("CAKE", "misc", "1", "10.00")]);
        late["coupons"] = json!([later]);
        assert_eq!(app.commit(&late).await.1["error"]["code"], "coupon_expired");

        // Gifts on record, per customer and per campaign; a cancelled receipt says so.
        let (_, body) = app.commit(&basket("anon-1", None, &[("CAKE", "misc", "1", "60.00")])).await;
        assert_eq!(body["gifts"][0]["gift"], "Tote bag");
        assert_eq!(app.pos_post("/v1/pos/receipts/a-1/cancel", &json!({})).await.status(), 200);
        let (status, page) = call(&app, "GET", &format!("/v1/admin/gifts?customer=c_{anna}"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{page}");
        let gifts = page["gifts"].as_array().unwrap();
        assert_eq!(gifts.len(), 1);
        assert_eq!(
            (gifts[0]["gift"].as_str(), gifts[0]["campaign"].as_str(), gifts[0]["receipt_id"].as_str(), gifts[0]["status"].as_str()),
            (Some("Tote bag"), Some("tote"), Some("a-1"), Some("cancelled"))
        );
        assert_eq!(gifts[0]["customer"], format!("c_{anna}"));
        let (_, page) = call(&app, "GET", "/v1/admin/gifts?campaign=tote&limit=1", ADMIN_KEY, None).await;
        assert_eq!((page["gifts"][0]["receipt_id"].as_str(), page["gifts"][0]["customer"].as_str()), (Some("anon-1"), None));
        let next = page["next_before"].as_i64().unwrap();
        let (_, page) = call(&app, "GET", &format!("/v1/admin/gifts?campaign=tote&limit=1&before={next}"), ADMIN_KEY, None).await;
        assert_eq!(page["gifts"][0]["receipt_id"], "a-1");
        let (_, page) = call(&app, "GET", "/v1/admin/gifts?campaign=visit", ADMIN_KEY, None).await;
        assert_eq!(page["gifts"], json!([]));
        let (status, _) = call(&app, "GET", "/v1/admin/gifts?customer=nobody", ADMIN_KEY, None).await;
        assert_eq!(status, 422);
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }
}
