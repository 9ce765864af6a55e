//! The transactions report and its drill-down: every operation of the period, and a
//! receipt with its ledger transfers, returns and their transfers — on both backends.

use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, admin, call, receipt, spawn_example, spawn_with_program, staff};

/// Two stores; 5 % bonus points on every receipt of a customer.
pub(crate) const PROGRAM: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[currencies]]
code = "bonus"
kind = "points"
scale = 2
value = "0.01"
[currencies.redeem]

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"

[[stores]]
id = "tartu-01"
name = "Tartu"
timezone = "Europe/Riga"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[campaigns]]
id = "points"
customers_only = true
[[campaigns.rewards]]
type = "accrue"
currency = "bonus"
percent = "5"
"#;

fn rows_of(report: &Value) -> Vec<(String, String, String)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap().to_owned(), r["receipt"].as_str().unwrap_or_default().to_owned(), r["amount"].as_str().unwrap().to_owned()))
        .collect()
}

both_backends! {
    async fn the_transactions_report_lists_every_operation_and_a_receipt_opens_with_its_transfers_and_returns(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(PROGRAM).unwrap()).await;
        admin(&app).await;
        let (customer, card) = app.customer_with_card("+37120000401", "LOY").await;
        assert_eq!(app.commit(&receipt("s1", Some(&card), "20.00")).await.0, 201);
        app.clock.advance(jiff::SignedDuration::from_mins(5));
        assert_eq!(app.commit(&receipt("s2", None, "10.00")).await.0, 201);
        app.clock.advance(jiff::SignedDuration::from_mins(5));
        let ret = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-1", "receipt_id": "s1", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(ret.status(), 201);
        app.clock.advance(jiff::SignedDuration::from_mins(5));
        assert_eq!(app.pos_post("/v1/pos/receipts/s2/cancel", &json!({})).await.status(), 200);
        app.clock.advance(jiff::SignedDuration::from_mins(5));
        app.grant(customer, "bonus", 500).await;

        let (status, report) = call(&app, "GET", "/v1/admin/reports/transactions", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(
            rows_of(&report),
            [
                ("sale".to_owned(), "s1".to_owned(), "20.00".to_owned()),
                ("sale".into(), "s2".into(), "10.00".into()),
                ("return".into(), "s1".into(), "20.00".into()),
                ("cancellation".into(), "s2".into(), "10.00".into()),
                ("adjustment".into(), String::new(), "5.00".into()),
            ],
            "oldest first: {report}"
        );
        let rows = report["rows"].as_array().unwrap();
        assert_eq!((rows[1]["status"].as_str(), rows[0]["status"].as_str()), (Some("cancelled"), Some("")), "a sale since cancelled says so");
        assert_eq!(rows[0]["customer"], format!("c_{customer}"));
        assert_eq!(rows[4]["customer"], format!("c_{customer}"), "an adjustment names its customer");
        let totals: Vec<(String, i64, String)> = report["totals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["kind"].as_str().unwrap().to_owned(), t["receipt"].as_i64().unwrap(), t["amount"].as_str().unwrap().to_owned()))
            .collect();
        assert!(totals.contains(&("sale".into(), 2, "30.00".into())), "{totals:?}");

        // The oldest rows only, as many as asked; the totals are theirs.
        let (_, two) = call(&app, "GET", "/v1/admin/reports/transactions?limit=2", ADMIN_KEY, None).await;
        assert_eq!(rows_of(&two), rows_of(&report)[..2].to_vec(), "{two}");
        assert!(two["totals"].as_array().unwrap().iter().all(|t| t["kind"] == "sale"), "{two}");
        for bad in ["0", "100001", "many"] {
            let (status, body) = call(&app, "GET", &format!("/v1/admin/reports/transactions?limit={bad}"), ADMIN_KEY, None).await;
            assert!(status == 422 || status == 400, "limit={bad}: {status} {body}");
        }

        // A store's transactions only: the other store's none, the adjustment (made in no
        // store) with every store.
        let (_, tartu) = call(&app, "GET", "/v1/admin/reports/transactions?store=tartu-01", ADMIN_KEY, None).await;
        assert_eq!(rows_of(&tartu), [("adjustment".to_owned(), String::new(), "5.00".to_owned())]);

        // The drill-down: the receipt, the points it accrued, the return that took them
        // back.
        let id: i64 = app.db().texts("SELECT CAST(id AS TEXT) FROM receipts WHERE receipt_id = 's1'").await[0].parse().unwrap();
        let (status, r) = call(&app, "GET", &format!("/v1/admin/receipts/{id}"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!((r["receipt_id"].as_str(), r["total"].as_str(), r["customer"].as_str()), (Some("s1"), Some("20.00"), Some(format!("c_{customer}").as_str())));
        let accrual = r["transfers"].as_array().unwrap().iter().find(|t| t["currency"] == "bonus").unwrap_or_else(|| panic!("{r}"));
        assert_eq!((accrual["amount"].as_str(), accrual["credit"].as_str()), (Some("1.00"), Some(format!("customer:{customer}").as_str())), "{accrual}");
        let ops = r["operations"].as_array().unwrap();
        assert_eq!((ops.len(), ops[0]["kind"].as_str(), ops[0]["operation"].as_str(), ops[0]["refund"].as_str()), (1, Some("return"), Some("ret-1"), Some("20.00")), "{r}");
        let back = ops[0]["transfers"].as_array().unwrap().iter().find(|t| t["currency"] == "bonus").unwrap_or_else(|| panic!("{r}"));
        assert_eq!((back["reverses"].as_str(), back["amount"].as_str(), back["debit"].as_str()), (accrual["id"].as_str(), Some("1.00"), Some(format!("customer:{customer}").as_str())));
        // The report links the sale to this page.
        let (_, csv) = call(&app, "GET", "/v1/admin/reports/transactions?format=csv", ADMIN_KEY, None).await;
        assert!(csv.as_str().unwrap().contains(",sale,riga-01,pos-1,s1,"), "{csv}");

        // Another store's manager does not see it; an unknown receipt is not found.
        let tartu_manager = staff(&app, "tom", "store_manager", &["tartu-01"]).await;
        let (status, err) = call(&app, "GET", &format!("/v1/admin/receipts/{id}"), &tartu_manager, None).await;
        assert_eq!((status, err["error"]["code"].as_str()), (404, Some("not_found")), "{err}");
        assert_eq!(call(&app, "GET", "/v1/admin/receipts/999999", ADMIN_KEY, None).await.0, 404);

        // By default the report is the day's journal; a period takes the days before.
        app.clock.advance(jiff::SignedDuration::from_hours(24));
        assert_eq!(app.commit(&receipt("s3", None, "7.00")).await.0, 201);
        let (_, today) = call(&app, "GET", "/v1/admin/reports/transactions", ADMIN_KEY, None).await;
        assert_eq!(rows_of(&today), [("sale".to_owned(), "s3".to_owned(), "7.00".to_owned())], "{today}");
        let (_, both) = call(&app, "GET", "/v1/admin/reports/transactions?from=2026-11-24", ADMIN_KEY, None).await;
        assert_eq!(rows_of(&both).len(), 6, "{both}");
    }

    async fn the_credit_report_states_each_employees_account_and_reconciles_with_the_ledger(db: TestDb) {
        let app = spawn_example(db, "s12-credit.toml").await;
        admin(&app).await;
        let (ann, card) = app.customer_with_card("+37120000501", "STAFF").await;
        let (bob, _) = app.customer_with_card("+37120000502", "STAFF").await;
        let meal = |id: &str, amount: &str| {
            let mut r = receipt(id, Some(&card), amount);
            r["redeem"] = json!([{"currency": "meals", "amount": amount}]);
            r
        };
        // Before the period: a meal of 8.50 (the day before).
        assert_eq!(app.commit(&meal("m0", "8.50")).await.0, 201);
        app.clock.advance(jiff::SignedDuration::from_hours(24));
        let today = app.store.now().to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Riga").unwrap()).date();
        // In it: meals of 12.00 and 30.00, the 30.00 returned, a settlement of all owed.
        assert_eq!(app.commit(&meal("m1", "12.00")).await.0, 201);
        assert_eq!(app.commit(&meal("m2", "30.00")).await.0, 201);
        let ret = app.pos_post("/v1/pos/returns", &json!({"return_id": "r2", "receipt_id": "m2", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(ret.status(), 201);
        let meals = loyd_domain::ids::AssetCode::parse("meals").unwrap();
        assert_eq!(app.store.settle_credit("payroll-1".into(), ann, meals, None, "test".into()).await.unwrap(), (2050, 0));
        assert_eq!(app.commit(&meal("m3", "4.00")).await.0, 201);

        let (status, report) = call(&app, "GET", &format!("/v1/admin/reports/credit?from={today}&to={today}"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{report}");
        let row = report["rows"].as_array().unwrap().iter().find(|r| r["holder"] == format!("c_{ann}")).unwrap_or_else(|| panic!("{report}"));
        let figures: Vec<&str> = ["credit_limit", "opening", "charged", "returned", "settled", "closing", "owed"].iter().map(|k| row[*k].as_str().unwrap()).collect();
        // −8.50 − 12.00 − 30.00 + 30.00 + 20.50 − 4.00 = −4.00.
        assert_eq!(figures, ["100.00", "-8.50", "46.00", "30.00", "20.50", "-4.00", "4.00"], "{row}");
        let bob_row = report["rows"].as_array().unwrap().iter().find(|r| r["holder"] == format!("c_{bob}")).unwrap();
        assert_eq!((bob_row["opening"].as_str(), bob_row["closing"].as_str()), (Some("0.00"), Some("0.00")));
        assert_eq!(report["totals"][0]["owed"], "4.00");
        // The closing balance is the ledger's: the statement of the same days agrees.
        let statement = app.store.statement(ann, loyd_domain::ids::AssetCode::parse("meals").unwrap(), app.store.now() - jiff::SignedDuration::from_hours(1), app.store.now() + jiff::SignedDuration::from_hours(1), loyd_domain::money::Scale::CENTS).await.unwrap();
        assert_eq!(statement.closing, "-4.00");
        // A store filter is refused: the accounts are the whole chain's.
        let (status, err) = call(&app, "GET", "/v1/admin/reports/credit?store=canteen", ADMIN_KEY, None).await;
        assert_eq!((status, err["error"]["code"].as_str()), (422, Some("validation_failed")), "{err}");
    }
}
