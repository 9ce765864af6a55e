//! Sales aggregates: the per-store, per-day figures the `roll_up` job keeps agree with
//! the receipts themselves, however often the job runs and while tills commit.

use loyd_store::Job;
use loyd_testkit::both_backends;
use serde_json::json;

use crate::helpers::{TestApp, receipt, spawn_example};

/// What the receipts table says of the store's days since the clock's start, read by
/// scanning it (committed receipts only, at the store's offset in December: +02:00).
async fn scanned(app: &TestApp) -> Vec<(jiff::civil::Date, i64, i64, i64, i64)> {
    let from: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let days = app.store.daily_sales(vec!["riga-01".into()], from, 7200).await.unwrap();
    let epoch = jiff::civil::date(1970, 1, 1);
    days.iter().map(|d| (epoch.checked_add(jiff::Span::new().days(d.day)).unwrap(), d.receipts, d.total, d.discount, d.redeemed)).collect()
}

/// The same from the aggregates, cancellations taken off.
async fn aggregated(app: &TestApp) -> Vec<(jiff::civil::Date, i64, i64, i64, i64)> {
    let days = app.store.store_days(vec!["riga-01".into()], jiff::civil::date(2026, 1, 1), jiff::civil::date(2027, 12, 31)).await.unwrap();
    days.iter()
        .map(|d| (d.day, d.receipts - d.cancelled, d.total - d.cancelled_total, d.discount - d.cancelled_discount, d.redeemed - d.cancelled_redeemed))
        .filter(|d| d.1 != 0)
        .collect()
}

both_backends! {
    async fn the_sales_aggregates_agree_with_the_receipts_count_each_once_and_put_returns_on_their_day(db: TestDb) {
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let (customer, card) = app.customer_with_card("+37120005551", "LOY").await;
        app.grant(customer, "wallet", 500).await;
        for (i, amount) in ["12.40", "99.99", "250.00", "7.05"].into_iter().enumerate() {
            let mut r = receipt(&format!("d1-{i}"), (i % 2 == 0).then_some(card.as_str()), amount);
            if i == 2 {
                r["redeem"] = json!([{"currency": "wallet", "amount": "1.00"}]);
            }
            let (status, body) = app.commit(&r).await;
            assert_eq!(status, 201, "{body}");
        }
        // Nothing is aggregated before the job runs; then everything, once.
        assert!(aggregated(&app).await.is_empty());
        let run = app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        let transfers: i64 = app.db().texts("SELECT CAST(COUNT(*) AS TEXT) FROM transfers").await[0].parse().unwrap();
        assert_eq!((run.items, run.error), (4 + transfers, None), "4 receipts and their transfers");
        assert_eq!(app.store.run_job(Job::RollUp, "test".into()).await.unwrap().items, 0, "nothing twice");
        assert_eq!(aggregated(&app).await, scanned(&app).await);
        // The next day: two receipts, a cancellation of one of them and a return of
        // part of yesterday's; the return is that day's, yesterday's sales stay.
        app.clock.advance(jiff::SignedDuration::from_hours(24));
        assert_eq!(app.commit(&receipt("d2-0", Some(&card), "40.00")).await.0, 201);
        assert_eq!(app.commit(&receipt("d2-1", None, "15.50")).await.0, 201);
        assert_eq!(app.pos_post("/v1/pos/receipts/d2-1/cancel", &json!({})).await.status(), 200);
        let ret = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-1", "receipt_id": "d1-1", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(ret.status(), 201);
        let refund: serde_json::Value = ret.json().await.unwrap();
        assert_eq!(refund["refund"], "99.99");
        // The same return again is its stored answer, not a second return.
        assert_eq!(app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-1", "receipt_id": "d1-1", "lines": [{"line": 1, "qty": "1"}]})).await.status(), 201);
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        let days = app.store.store_days(vec!["riga-01".into()], jiff::civil::date(2026, 1, 1), jiff::civil::date(2027, 12, 31)).await.unwrap();
        assert_eq!(days.len(), 2, "{days:?}");
        let (first, second) = (&days[0], &days[1]);
        assert_eq!((first.receipts, first.total, first.returns, first.paid_back), (4, 36944, 0, 0), "{first:?}");
        assert_eq!((second.receipts, second.cancelled, second.cancelled_total, second.returns, second.paid_back), (2, 1, 1550, 1, 9999 + 1550), "{second:?}");
        assert_eq!(second.currency, "EUR");
        // The scan no longer counts yesterday's returned receipt's amount differently:
        // it keeps sales on the day of sale; the aggregates agree net of cancellations.
        assert_eq!(aggregated(&app).await, scanned(&app).await);
        assert_eq!(app.store.store_days(Vec::new(), jiff::civil::date(2026, 1, 1), jiff::civil::date(2027, 12, 31)).await.unwrap(), Vec::new(), "no store, no rows");
    }

    async fn receipts_committed_while_the_job_runs_are_each_added_once(db: TestDb) {
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let mut keys = Vec::new();
        for t in 0..4 {
            keys.push(app.terminal_key("riga-01", &format!("till-{t}")).await);
        }
        let till = |t: usize| {
            let (app, key) = (&app, keys[t].clone());
            async move {
                for i in 0..25 {
                    let (status, body) = app.commit_as(&key, &receipt(&format!("c{t}-{i}"), None, &format!("{}.{:02}", 10 + i, t * 7))).await;
                    assert_eq!(status, 201, "{body}");
                }
            }
        };
        let done = std::sync::atomic::AtomicBool::new(false);
        let job = async {
            let mut added = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                added += app.store.roll_up(7).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            added
        };
        let tills = async {
            tokio::join!(till(0), till(1), till(2), till(3));
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        };
        let (added, ()) = tokio::join!(job, tills);
        let mut rest = 0;
        loop {
            let n = app.store.roll_up(500).await.unwrap();
            if n == 0 {
                break;
            }
            rest += n;
        }
        assert_eq!(added + rest, 100, "every receipt once");
        assert_eq!(aggregated(&app).await, scanned(&app).await);
    }
}

/// On PostgreSQL a receipt's id is drawn before its transaction commits: one with a
/// lower id can commit after one with a higher id. The job must wait for it rather than
/// move its cursor past it. (SQLite's single writer commits in id order.)
#[tokio::test]
async fn a_receipt_whose_transaction_commits_late_is_still_added_on_postgres() {
    use sqlx::Connection;
    let db = loyd_testkit::TestDb::postgres().await;
    let url = db.url_string();
    let app = spawn_example(db, "s1-step-bonus.toml").await;
    // A till's transaction has drawn its receipt's id and not committed yet.
    let mut held = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut tx = held.begin().await.unwrap();
    let now = loyd_domain::time::to_micros(app.store.now());
    sqlx::query(
        "INSERT INTO receipts (store_id, terminal_id, receipt_id, at, status, config_version, total, discount, redeemed_value, \
         gift_card_value, request_hash, response, effects, returned, recorded_at) \
         VALUES ('riga-01', 'held', 'held-1', $1, 'committed', 1, 500, 0, 0, 0, 'h', '{}', '{}', '{}', $1)",
    )
    .bind(now)
    .execute(&mut *tx)
    .await
    .unwrap();
    // Another till commits a receipt with a higher id; the job starts meanwhile.
    assert_eq!(app.commit(&receipt("after", None, "10.00")).await.0, 201);
    let job = tokio::spawn({
        let store = app.store.clone();
        async move { store.roll_up(500).await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    tx.commit().await.unwrap();
    let mut added = job.await.unwrap();
    added += app.store.roll_up(500).await.unwrap();
    assert_eq!(added, 2, "the late receipt too");
    let days = app.store.store_days(vec!["riga-01".into()], jiff::civil::date(2026, 1, 1), jiff::civil::date(2027, 12, 31)).await.unwrap();
    assert_eq!((days[0].receipts, days[0].total), (2, 1500));
}

/// Points that expire in 30 days and convert to a wallet, a discount campaign, gift
/// cards of two series (one single-use).
pub(crate) const LEDGER_PROGRAM: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[currencies]]
code = "bonus"
kind = "points"
scale = 0
lifetime = { days = 30 }
conversion = { to = "wallet", every = 10, gives = "1.00" }

[[currencies]]
code = "wallet"
kind = "money"
scale = 2
[currencies.redeem]

[[stores]]
id = "riga-01"
name = "Riga Centre"
format = "supermarket"
timezone = "Europe/Riga"

[[stores]]
id = "tallinn-01"
name = "Tallinn"
format = "express"
timezone = "Europe/Tallinn"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[card_series]]
id = "GC"
kind = "gift"
prefix = "6000"
currency = "EUR"
amount_min = "5.00"
amount_max = "100.00"
validity_days = 365

[[card_series]]
id = "GC1"
kind = "gift"
prefix = "6001"
currency = "EUR"
amount_min = "5.00"
amount_max = "100.00"
single_use = true
validity_days = 365

[[campaigns]]
id = "step-bonus"
name = "1 point per whole 5.00"
[[campaigns.rewards]]
type = "accrue"
currency = "bonus"
step = "5.00"
units = "1"

[[campaigns]]
id = "big-basket"
name = "10 % from 50.00"
min_total = "50.00"
[[campaigns.rewards]]
type = "discount"
percent = "10"
"#;

/// `asset:amount` per currency of what holders of `kind` hold, read from the ledger's
/// accounts outside Loyd (minor units).
async fn held(app: &TestApp, filter: &str) -> Vec<String> {
    app.db()
        .texts(&format!(
            "SELECT a.asset || ':' || CAST(SUM(a.credits_posted - a.debits_posted) AS TEXT) FROM accounts a {filter} \
             GROUP BY a.asset ORDER BY a.asset"
        ))
        .await
}

/// A report counted in the background: asked until it is (`202` until then).
async fn counted(app: &crate::helpers::TestApp, path: &str) -> serde_json::Value {
    for _ in 0..200 {
        let (status, body) = crate::helpers::call(app, "GET", path, crate::helpers::ADMIN_KEY, None).await;
        match status {
            200 => return body,
            202 => assert_eq!(body["counting"], true, "{body}"),
            _ => panic!("{status} {body}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{path} was not counted within 5 s");
}

fn report_rows<'a>(body: &'a serde_json::Value, key: &str) -> Vec<&'a serde_json::Value> {
    body[key].as_array().unwrap_or_else(|| panic!("{body}")).iter().collect()
}

both_backends! {
    async fn every_reports_totals_reconcile_with_the_ledger_and_download_as_csv_and_xlsx(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, call};
        let app = crate::helpers::spawn_with_program(db, toml::from_str(LEDGER_PROGRAM).unwrap()).await;
        crate::helpers::admin(&app).await;
        let tallinn = app.terminal_key("tallinn-01", "t-1").await;
        let (ann, ann_card) = app.customer_with_card("+37120005561", "LOY").await;
        let (_bob, bob_card) = app.customer_with_card("+37120005562", "LOY").await;
        app.grant(ann, "wallet", 500).await;
        // Day one: a big basket (10 %), small ones, a wallet payment, one in Tallinn.
        for (id, card, amount) in [("a1", &ann_card, "60.00"), ("a2", &ann_card, "12.40"), ("b1", &bob_card, "27.35"), ("x1", &bob_card, "8.00")] {
            let mut r = receipt(id, Some(card), amount);
            if id == "a2" {
                r["redeem"] = json!([{"currency": "wallet", "amount": "1.50"}]);
            }
            let (status, body) = app.commit(&r).await;
            assert_eq!(status, 201, "{body}");
        }
        let (status, body) = app.commit_as(&tallinn, &receipt("t1", Some(&bob_card), "55.00")).await;
        assert_eq!(status, 201, "{body}");
        // Gift cards: one sold and partly spent, one single-use whose rest burns.
        let gc = app.issue("GC", None).await.remove(0).number;
        let gc1 = app.issue("GC1", None).await.remove(0).number;
        for (n, op, amount) in [(&gc, "g1", "50.00"), (&gc1, "g2", "30.00")] {
            let res = app.pos_post(&format!("/v1/pos/gift-cards/{n}/activate"), &json!({"operation_id": op, "amount": amount})).await;
            assert_eq!(res.status(), 201);
        }
        for (id, n, amount) in [("p1", &gc, "20.00"), ("p2", &gc1, "10.00")] {
            let mut r = receipt(id, None, amount);
            r["gift_cards"] = json!([{"number": n, "amount": amount}]);
            let (status, body) = app.commit(&r).await;
            assert_eq!(status, 201, "{body}");
        }
        // Day two: a cancellation and a return, then the bonus expires a month later
        // (after what was convertible became wallet money).
        app.clock.advance(jiff::SignedDuration::from_hours(24));
        assert_eq!(app.pos_post("/v1/pos/receipts/x1/cancel", &json!({})).await.status(), 200);
        let ret = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-1", "receipt_id": "p1", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(ret.status(), 201);
        app.store.run_job(Job::ConvertBalances, "test".into()).await.unwrap();
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 31));
        app.store.run_job(Job::ExpireLots, "test".into()).await.unwrap();
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        assert_eq!(app.store.run_job(Job::RollUp, "test".into()).await.unwrap().items, 0);

        let range = "from=2026-11-01&to=2027-01-31&period=all";
        // Balances: what customers hold at the end is what their accounts hold.
        let (status, b) = call(&app, "GET", &format!("/v1/admin/reports/balances?{range}"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{b}");
        let scale = |c: &str| if c == "bonus" { 0 } else { 2 };
        let minor = |v: &serde_json::Value, c: &str| -> i64 {
            let d: rust_decimal::Decimal = v.as_str().unwrap_or_else(|| panic!("{v}")).parse().unwrap();
            (d * rust_decimal::Decimal::from(10i64.pow(scale(c)))).try_into().unwrap()
        };
        let closing: Vec<String> = report_rows(&b, "totals").iter().map(|t| {
            let c = t["currency"].as_str().unwrap();
            assert_eq!(minor(&t["opening"], c), 0);
            format!("{c}:{}", minor(&t["closing"], c))
        }).collect();
        assert_eq!(closing, held(&app, "WHERE a.holder_kind = 'customer'").await);
        let bonus = report_rows(&b, "totals").into_iter().find(|t| t["currency"] == "bonus").unwrap().clone();
        // 54.00 → 10, 12.40 → 2, 27.35 → 5, 8.00 → 1 (cancelled: taken back), Tallinn 49.50 → 9.
        assert_eq!((bonus["accrued"].as_str(), bonus["converted"].as_str()), (Some("27"), Some("-20")), "{bonus}");
        assert_eq!(bonus["closing"], "0", "the rest expired: {bonus}");
        let wallet = report_rows(&b, "totals").into_iter().find(|t| t["currency"] == "wallet").unwrap().clone();
        assert_eq!((wallet["redeemed"].as_str(), wallet["adjusted"].as_str(), wallet["converted"].as_str()), (Some("1.50"), Some("5.00"), Some("2.00")), "{wallet}");

        // Gift cards: liability per series is what the cards hold.
        let (status, g) = call(&app, "GET", &format!("/v1/admin/reports/gift_cards?{range}"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{g}");
        let totals = report_rows(&g, "totals");
        let gc_total = totals.iter().find(|t| t["series"] == "GC").unwrap();
        let gc1_total = totals.iter().find(|t| t["series"] == "GC1").unwrap();
        assert_eq!((gc_total["sold"].as_str(), gc_total["redeemed"].as_str(), gc_total["refunded"].as_str(), gc_total["closing"].as_str()), (Some("50.00"), Some("20.00"), Some("20.00"), Some("50.00")), "{gc_total}");
        assert_eq!((gc1_total["sold"].as_str(), gc1_total["redeemed"].as_str(), gc1_total["burned"].as_str(), gc1_total["closing"].as_str()), (Some("30.00"), Some("10.00"), Some("20.00"), Some("0.00")), "{gc1_total}");
        let liability: i64 = totals.iter().map(|t| minor(&t["closing"], "EUR")).sum();
        assert_eq!(vec![format!("EUR:{liability}")], held(&app, "WHERE a.holder_kind = 'card'").await);

        // Sales: net of the cancellation; Riga and Tallinn apart when asked.
        let (status, s) = call(&app, "GET", &format!("/v1/admin/reports/sales?{range}&by=store"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{s}");
        let rows = report_rows(&s, "rows");
        let riga = rows.iter().find(|r| r["store"] == "riga-01").unwrap();
        assert_eq!((riga["receipts"].as_i64(), riga["revenue"].as_str(), riga["discount"].as_str(), riga["cancelled"].as_i64()), (Some(5), Some("123.75"), Some("6.00"), Some(1)), "{riga}");
        assert_eq!((riga["redeemed"].as_str(), riga["gift_card"].as_str(), riga["paid_back"].as_str()), (Some("1.50"), Some("30.00"), Some("28.00")), "{riga}");
        let tln = rows.iter().find(|r| r["store"] == "tallinn-01").unwrap();
        assert_eq!((tln["receipts"].as_i64(), tln["revenue"].as_str(), tln["average"].as_str()), (Some(1), Some("49.50"), Some("49.50")));
        assert_eq!((riga["gross"].as_str(), riga["average"].as_str(), riga["net_revenue"].as_str()), (Some("129.75"), Some("24.75"), Some("95.75")));
        let scanned = app.db().texts("SELECT CAST(SUM(total - discount) AS TEXT) FROM receipts WHERE status = 'committed'").await;
        assert_eq!(scanned, vec![(12375 + 4950).to_string()], "revenue is the committed receipts'");

        // Campaigns: the discount campaign's discounts are the receipts' discounts.
        let (status, c) = call(&app, "GET", &format!("/v1/admin/reports/campaigns?{range}"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{c}");
        let totals = report_rows(&c, "totals");
        let basket = totals.iter().find(|t| t["campaign"] == "big-basket").unwrap();
        assert_eq!((basket["receipts"].as_i64(), basket["discount"].as_str(), basket["revenue"].as_str()), (Some(2), Some("11.50"), Some("103.50")), "{basket}");
        let step: Vec<_> = totals.iter().filter(|t| t["campaign"] == "step-bonus").collect();
        let points = step.iter().find(|t| t["currency"] == "bonus").unwrap();
        assert_eq!(points["accrued"], "26", "the cancelled receipt's point is taken off: {points}");
        let discounts = app.db().texts("SELECT CAST(SUM(discount) AS TEXT) FROM receipts WHERE status = 'committed'").await;
        assert_eq!(discounts, vec!["1150".to_owned()]);

        // A store's balances have no opening or closing: expiry belongs to no store.
        let (_, b) = call(&app, "GET", &format!("/v1/admin/reports/balances?{range}&store=riga-01"), ADMIN_KEY, None).await;
        assert!(report_rows(&b, "totals").iter().all(|t| t["opening"].is_null() && t["closing"].is_null()), "{b}");

        // The same report as CSV and as XLSX, as finance opens them.
        let csv = app.client.get(app.url(&format!("/v1/admin/reports/gift_cards?{range}&format=csv"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
        assert_eq!(csv.status(), 200);
        assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("loyd-gift-cards-2026-11-01-2027-01-31.csv"));
        let text = csv.text().await.unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("Period,Series,Currency,Opening,Sold,Redeemed,Burned,Expired,Refunded,Other,Closing"));
        assert!(text.contains("Total,GC1,EUR,0.00,30.00,10.00,20.00,0.00,0.00,0.00,0.00"), "{text}");
        let xlsx = app.client.get(app.url(&format!("/v1/admin/reports/gift_cards?{range}&format=xlsx"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
        assert_eq!(xlsx.status(), 200);
        assert_eq!(xlsx.headers()["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
        let bytes = xlsx.bytes().await.unwrap().to_vec();
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("gift_cards").unwrap();
        assert_eq!(sheet.get_value((0, 1)), Some(&calamine::Data::String("Series".into())));
        let last = sheet.height() - 1;
        let liability_cells: f64 = (1..=last).filter(|r| sheet.get_value((*r as u32, 0)) == Some(&calamine::Data::String("Total".into())))
            .map(|r| match sheet.get_value((r as u32, 10)) { Some(calamine::Data::Float(f)) => *f, other => panic!("{other:?}") })
            .sum();
        assert_eq!(liability_cells, 50.0, "the liability, as numbers a spreadsheet adds");
    }

    async fn reports_refuse_bad_filters_and_keep_a_store_manager_to_their_stores(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, call, code, staff};
        let app = crate::helpers::spawn_with_program(db, toml::from_str(LEDGER_PROGRAM).unwrap()).await;
        crate::helpers::admin(&app).await;
        for (q, expect) in [
            ("sales?from=2026-13-01", 422),
            ("sales?from=2026-12-01&to=2026-11-01", 422),
            ("sales?period=year", 422),
            ("sales?format=pdf", 422),
            ("sales?by=terminal", 422),
            ("sales?store=nowhere", 404),
            ("gift_cards?series=LOY", 422),
            ("nothing", 404),
            ("sales?from=2020-01-01&to=2026-01-01", 422),
        ] {
            let (status, body) = call(&app, "GET", &format!("/v1/admin/reports/{q}"), ADMIN_KEY, None).await;
            assert_eq!(status, expect, "{q}: {body}");
        }
        let manager = staff(&app, "mara", "store_manager", &["tallinn-01"]).await;
        let (status, body) = call(&app, "GET", "/v1/admin/reports/sales?store=riga-01", &manager, None).await;
        assert_eq!((status, code(&body)), (403, "forbidden"));
        assert_eq!(app.commit(&receipt("r1", None, "10.00")).await.0, 201);
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        let (status, body) = call(&app, "GET", "/v1/admin/reports/sales?period=all", &manager, None).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["rows"].as_array().unwrap().is_empty(), "Riga's receipt is not the manager's: {body}");
        let (_, body) = call(&app, "GET", "/v1/admin/reports/sales?period=all", ADMIN_KEY, None).await;
        assert_eq!(body["totals"][0]["revenue"], "10.00");
        let support = staff(&app, "sue", "support", &[]).await;
        assert_eq!(call(&app, "GET", "/v1/admin/reports/sales", &support, None).await.0, 403);
    }
}

both_backends! {
    async fn kpi_set_last_month_against_the_month_before_from_the_aggregates(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, call};
        let app = crate::helpers::spawn_with_program(db, toml::from_str(LEDGER_PROGRAM).unwrap()).await;
        crate::helpers::admin(&app).await;
        // November: two members buy, and someone without a card buys two things.
        let (_, ann) = app.customer_with_card("+37120005571", "LOY").await;
        let (_, bob) = app.customer_with_card("+37120005572", "LOY").await;
        assert_eq!(app.commit(&receipt("n1", Some(&ann), "60.00")).await.0, 201);
        assert_eq!(app.commit(&receipt("n2", Some(&bob), "27.35")).await.0, 201);
        let two = json!({"receipt_id": "n3", "lines": [
            {"line": 1, "sku": "A", "groups": ["misc"], "qty": "1", "price": "4.00", "amount": "4.00"},
            {"line": 2, "sku": "B", "groups": ["misc"], "qty": "2", "price": "3.00", "amount": "6.00"}]});
        assert_eq!(app.commit(&two).await.0, 201);
        // December: Ann again, and a new member.
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 10));
        let (_, cid) = app.customer_with_card("+37120005573", "LOY").await;
        assert_eq!(app.commit(&receipt("d1", Some(&ann), "12.40")).await.0, 201);
        assert_eq!(app.commit(&receipt("d2", Some(&cid), "8.00")).await.0, 201);
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();

        let (status, k) = call(&app, "GET", "/v1/admin/reports/kpi?from=2026-11-01&to=2026-12-31", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{k}");
        let rows = report_rows(&k, "rows");
        assert_eq!(rows.len(), 2, "November and December: {k}");
        let (nov, dec) = (rows[0], rows[1]);
        let figures = |r: &serde_json::Value| -> Vec<String> {
            ["period", "revenue", "receipts", "average", "items", "buyers", "frequency", "members", "new_members", "active_share", "liability"]
                .iter()
                .map(|c| match &r[*c] { serde_json::Value::String(s) => s.clone(), other => other.to_string() })
                .collect()
        };
        // 60.00 less 10 % is 54.00; 4 lines in 3 receipts; both members bought; Ann's 10
        // points became wallet money at once (every 10 convert), Bob keeps 5.
        assert_eq!(figures(nov), ["2026-11-01", "91.35", "3", "30.45", "1.33", "2", "1.00", "2", "2", "100.00", "5"]);
        assert_eq!(figures(dec), ["2026-12-01", "20.40", "2", "10.20", "1.00", "2", "1.00", "3", "1", "66.67", "8"]);
        assert_eq!(held(&app, "WHERE a.holder_kind = 'customer' AND a.asset = 'bonus'").await, ["bonus:8"], "the liability is the ledger's");
        let compare = report_rows(&k, "compare");
        let revenue = compare.iter().find(|c| c["metric"] == "revenue").unwrap();
        assert_eq!((revenue["current"].as_str(), revenue["previous"].as_str(), revenue["change_percent"].as_str()), (Some("20.40"), Some("91.35"), Some("-77.67")));
        let members = compare.iter().find(|c| c["metric"] == "members").unwrap();
        assert_eq!(members["change_percent"], "50.00");
        // Weeks: buyers are monthly, so not shown; sales are.
        let (status, w) = call(&app, "GET", "/v1/admin/reports/kpi?period=week&from=2026-11-23&to=2026-12-06", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{w}");
        let weeks = report_rows(&w, "rows");
        assert_eq!((weeks[0]["period"].as_str(), weeks[0]["receipts"].as_i64(), weeks[0]["buyers"].is_null()), (Some("2026-11-23"), Some(3), true));
        assert_eq!(call(&app, "GET", "/v1/admin/reports/kpi?period=all", ADMIN_KEY, None).await.0, 422);
    }
}

/// A campaign that holds out half of its customers, with points worth 0.01 each.
pub(crate) const CONTROL_PROGRAM: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[currencies]]
code = "bonus"
kind = "points"
scale = 0
value = "0.01"

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[campaigns]]
id = "autumn"
name = "10 % and 10 points from 20.00"
min_total = "20.00"
control_share = "0.5"
[[campaigns.rewards]]
type = "discount"
percent = "10"
[[campaigns.rewards]]
type = "accrue"
currency = "bonus"
fixed = "10"
"#;

/// New customers with cards, sorted into `autumn`'s groups by asking the POS to
/// calculate a qualifying receipt (which commits nothing): the first `n` treated and
/// the first `n` held out.
pub(crate) async fn control_groups_of(app: &TestApp, n: usize) -> (Vec<String>, Vec<String>) {
    let (mut treated, mut held) = (Vec::new(), Vec::new());
    for k in 0..200 {
        if treated.len() == n && held.len() == n {
            break;
        }
        let (_, card) = app.customer_with_card(&format!("+3712000{k:04}"), "LOY").await;
        let res = app.pos_post("/v1/pos/calculate", &receipt(&format!("probe-{k}"), Some(&card), "40.00")).await;
        let body: serde_json::Value = res.json().await.unwrap();
        let group = body["control"].as_array().unwrap_or_else(|| panic!("{body}"));
        assert_eq!(group.len(), 1, "{body}");
        let side = if group[0]["held_out"] == true { &mut held } else { &mut treated };
        if side.len() < n {
            side.push(card);
        }
    }
    (treated, held)
}

both_backends! {
    async fn a_campaigns_effect_sets_its_treated_customers_against_its_control_group(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, call};
        let app = crate::helpers::spawn_with_program(db, toml::from_str(CONTROL_PROGRAM).unwrap()).await;
        crate::helpers::admin(&app).await;
        let (treated, held) = control_groups_of(&app, 2).await;
        assert_eq!((treated.len(), held.len()), (2, 2), "half of the customers are held out");
        // Treated: 40.00 less 10 % and 10 points, then 10.00 (not qualifying); 40.00.
        let (status, t1) = app.commit(&receipt("t1", Some(&treated[0]), "40.00")).await;
        assert_eq!((status, t1["discount"].as_str(), t1["control"][0]["held_out"].as_bool()), (201, Some("4.00"), Some(false)), "{t1}");
        assert_eq!(app.commit(&receipt("t1b", Some(&treated[0]), "10.00")).await.0, 201);
        assert_eq!(app.commit(&receipt("t2", Some(&treated[1]), "40.00")).await.0, 201);
        // Held out: nothing from the campaign, though the receipts qualify.
        let (status, c1) = app.commit(&receipt("c1", Some(&held[0]), "40.00")).await;
        assert_eq!((status, c1["discount"].as_str(), c1["accrued"].as_array().map(Vec::len)), (201, Some("0.00"), Some(0)), "{c1}");
        assert_eq!((c1["control"][0]["campaign"].as_str(), c1["control"][0]["held_out"].as_bool()), (Some("autumn"), Some(true)));
        assert_eq!(app.commit(&receipt("c2", Some(&held[1]), "30.00")).await.0, 201);
        // Someone without a card gets the campaign and joins no group.
        let (_, anon) = app.commit(&receipt("a1", None, "40.00")).await;
        assert_eq!((anon["discount"].as_str(), anon.get("control")), (Some("4.00"), None), "{anon}");
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        // The probes committed nothing: only customers with a receipt are members.
        assert_eq!(app.db().texts("SELECT CAST(COUNT(*) AS TEXT) FROM campaign_members").await, ["4"]);

        let (status, e) = call(&app, "GET", "/v1/admin/reports/effect?from=2026-11-01&to=2026-11-30", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{e}");
        let rows = report_rows(&e, "rows");
        assert_eq!(rows.len(), 1, "{e}");
        let r = rows[0];
        let figures: Vec<String> = loyd_api::reports::effect::COLUMNS
            .iter()
            .map(|c| match &r[*c] { serde_json::Value::String(s) => s.clone(), other => other.to_string() })
            .collect();
        // Treated paid 36.00 + 10.00 and 36.00: 41.00 each, 1.5 receipts, 27.33 a receipt;
        // held out 40.00 and 30.00: 35.00 each. Uplift 6.00; each group's s²/n is
        // 500² (in cents), so the margin is 1.96 × √(250 000 + 250 000) = 1 385.93 cents.
        // Over 2 treated: 12.00 extra, less 20 points at 0.01. The discount column is all
        // the campaign gave: 4.00 + 4.00 to the treated and 4.00 to the anonymous buyer.
        assert_eq!(
            figures,
            [
                "autumn", "EUR", "50.00", "2", "2", "41.00", "35.00", "1.50", "1.00", "27.33", "35.00", "6.00", "-7.86", "19.86", "12.00", "12.00",
                "0.20", "11.80", "-15.92", "39.52"
            ]
        );
        // Treated: the campaign's own report counts only what it gave.
        let (_, given) = call(&app, "GET", "/v1/admin/reports/campaigns?from=2026-11-01&to=2026-11-30&period=all", ADMIN_KEY, None).await;
        let autumn: Vec<_> = report_rows(&given, "totals").into_iter().filter(|t| t["campaign"] == "autumn" && t["currency"] == "EUR").collect();
        assert_eq!(autumn[0]["receipts"], 3, "two treated and the anonymous receipt: {given}");
        // A period before anyone qualified has the campaign with no members.
        let (_, before) = call(&app, "GET", "/v1/admin/reports/effect?from=2026-10-01&to=2026-10-31", ADMIN_KEY, None).await;
        let b = report_rows(&before, "rows");
        assert_eq!((b[0]["treated"].as_i64(), b[0]["held_out"].as_i64(), b[0]["uplift"].is_null()), (Some(0), Some(0), true), "{before}");
        // The CSV has the same figures.
        let csv = app.client.get(app.url("/v1/admin/reports/effect?from=2026-11-01&to=2026-11-30&format=csv")).bearer_auth(ADMIN_KEY).send().await.unwrap().text().await.unwrap();
        assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with("autumn,EUR,50.00,2,2,41.00,35.00") && l.ends_with("11.80,-15.92,39.52")), "{csv}");
    }
}

/// A row's figures in the order of `columns`, as the JSON writes them.
fn figures_of(row: &serde_json::Value, columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| match &row[*c] { serde_json::Value::String(s) => s.clone(), other => other.to_string() }).collect()
}

both_backends! {
    async fn regular_customers_are_counted_per_store_by_how_often_they_bought_and_once_across_stores(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, call};
        let app = crate::helpers::spawn_with_program(db, toml::from_str(crate::fraud::FRAUD_PROGRAM).unwrap()).await;
        crate::helpers::admin(&app).await;
        let airport = app.terminal("riga-02").await;
        let (_, ann) = app.customer_with_card("+37120007001", "LOY").await;
        let (_, bob) = app.customer_with_card("+37120007002", "LOY").await;
        let (_, cat) = app.customer_with_card("+37120007003", "LOY").await;
        // Ann: four purchases in the centre, one at the airport; Bob: two in the centre;
        // Cat: one at the airport; and an anonymous receipt, not counted.
        for k in 0..4 {
            assert_eq!(app.commit(&receipt(&format!("a{k}"), Some(&ann), "10.00")).await.0, 201);
        }
        assert_eq!(app.commit_as(&airport, &receipt("a-air", Some(&ann), "10.00")).await.0, 201);
        for k in 0..2 {
            assert_eq!(app.commit(&receipt(&format!("b{k}"), Some(&bob), "10.00")).await.0, 201);
        }
        assert_eq!(app.commit_as(&airport, &receipt("c-air", Some(&cat), "10.00")).await.0, 201);
        assert_eq!(app.commit(&receipt("anon", None, "10.00")).await.0, 201);
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        let (status, body) = call(&app, "GET", "/v1/admin/reports/regulars?from=2026-11-01&to=2026-11-30", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{body}");
        let columns = ["store", "currency", "buyers", "once", "repeat", "regular", "regular_share", "frequency", "revenue", "regular_revenue"];
        let rows: Vec<Vec<String>> = report_rows(&body, "rows").into_iter().map(|r| figures_of(r, &columns)).collect();
        assert_eq!(
            rows,
            [
                ["riga-01", "EUR", "2", "0", "1", "1", "50.00", "3.00", "60.00", "40.00"],
                ["riga-02", "EUR", "2", "2", "0", "0", "0.00", "1.00", "20.00", "0.00"],
            ]
        );
        // Together Ann is one regular of five purchases.
        let total = figures_of(report_rows(&body, "totals")[0], &columns);
        assert_eq!(total, ["total", "EUR", "3", "1", "1", "1", "33.33", "2.67", "80.00", "50.00"]);
        // The airport alone.
        let (_, airport_only) = call(&app, "GET", "/v1/admin/reports/regulars?from=2026-11-01&to=2026-11-30&store=riga-02", ADMIN_KEY, None).await;
        assert_eq!(report_rows(&airport_only, "rows").len(), 1, "{airport_only}");
        assert_eq!(figures_of(report_rows(&airport_only, "totals")[0], &columns)[2], "2");
    }

    async fn buyers_kept_per_month_and_year_are_those_the_customers_months_give_through_purchases_and_cancellations(db: TestDb) {
        let app = crate::helpers::spawn_with_program(db, toml::from_str(crate::fraud::FRAUD_PROGRAM).unwrap()).await;
        crate::helpers::admin(&app).await;
        let airport = app.terminal("riga-02").await;
        let mut cards = Vec::new();
        for k in 0..4 {
            cards.push(app.customer_with_card(&format!("+3712000710{k}"), "LOY").await.1);
        }
        // November: customer k buys k + 1 times in the centre, the last also at the
        // airport; one of the fourth's is cancelled before the job added it, one of the
        // third's after.
        for (k, card) in cards.iter().enumerate() {
            for n in 0..=k {
                assert_eq!(app.commit(&receipt(&format!("n{k}-{n}"), Some(card), &format!("{}.00", 10 + n))).await.0, 201);
            }
        }
        assert_eq!(app.commit_as(&airport, &receipt("n-air", Some(&cards[3]), "7.50")).await.0, 201);
        assert_eq!(app.pos_post("/v1/pos/receipts/n3-0/cancel", &json!({})).await.status(), 200);
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        assert_eq!(app.pos_post("/v1/pos/receipts/n2-1/cancel", &json!({})).await.status(), 200);
        // December: the first buys once more, and one of the second's November
        // purchases is cancelled.
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 10));
        assert_eq!(app.commit(&receipt("d0", Some(&cards[0]), "5.00")).await.0, 201);
        assert_eq!(app.pos_post("/v1/pos/receipts/n1-0/cancel", &json!({})).await.status(), 200);
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();

        // What is kept is what every customer's months and years give.
        let kept = app
            .db()
            .texts(
                "SELECT period || ' ' || store_id || ' ' || buyers || ' ' || once || ' ' || repeat || ' ' || regular || ' ' || receipts || ' ' || revenue || ' ' || regular_revenue \
                 FROM period_buyers WHERE buyers > 0 ORDER BY period, store_id",
            )
            .await;
        let of = |table: &str, period: &str| {
            format!(
                "SELECT {period} || ' ' || store_id || ' ' || COUNT(*) || ' ' || SUM(CASE WHEN receipts = 1 THEN 1 ELSE 0 END) || ' ' || \
                 SUM(CASE WHEN receipts BETWEEN 2 AND 3 THEN 1 ELSE 0 END) || ' ' || SUM(CASE WHEN receipts >= 4 THEN 1 ELSE 0 END) || ' ' || \
                 SUM(receipts) || ' ' || SUM(revenue) || ' ' || SUM(CASE WHEN receipts >= 4 THEN revenue ELSE 0 END) \
                 FROM {table} WHERE receipts > 0 GROUP BY {period}, store_id ORDER BY {period}, store_id"
            )
        };
        let mut given = app.db().texts(&of("customer_years", "year")).await;
        given.extend(app.db().texts(&of("customer_months", "month")).await);
        assert_eq!(kept, given);
        // By hand: November in the centre, the first and second once (10.00, 11.00),
        // the third twice (22.00), the fourth three times (36.00); with the airport's
        // 7.50 the fourth is regular across stores; in the year the first bought twice.
        assert!(kept.contains(&"2026-11 riga-01 4 2 2 0 7 7900 0".to_owned()), "{kept:?}");
        assert!(kept.contains(&"2026-11  4 2 1 1 8 8650 4350".to_owned()), "{kept:?}");
        assert!(kept.contains(&"2026 riga-01 4 1 3 0 8 8400 0".to_owned()), "{kept:?}");
        assert_eq!(
            app.db().texts("SELECT year || ' ' || CAST(SUM(receipts) AS TEXT) FROM customer_years GROUP BY year").await,
            app.db().texts("SELECT substr(month, 1, 4) || ' ' || CAST(SUM(receipts) AS TEXT) FROM customer_months GROUP BY substr(month, 1, 4)").await
        );

        // The report reads a month or a year as kept, other months from the customers'
        // months, some stores together from the customers' months too (counted in the
        // background: asked again until counted): the same figures.
        let report = |q: &'static str| {
            let app = &app;
            async move {
                let body = counted(app, &format!("/v1/admin/reports/regulars?{q}")).await;
                let columns = ["store", "currency", "buyers", "once", "repeat", "regular", "regular_share", "frequency", "revenue", "regular_revenue"];
                let rows: Vec<Vec<String>> = report_rows(&body, "rows").into_iter().chain(report_rows(&body, "totals")).map(|r| figures_of(r, &columns)).collect();
                rows
            }
        };
        let november = report("from=2026-11-01&to=2026-11-30").await;
        assert_eq!(november.last().unwrap()[..6], ["total", "EUR", "4", "2", "1", "1"]);
        assert_eq!(report("from=2026-10-01&to=2026-11-30").await, november);
        assert_eq!(report("from=2026-11-01&to=2026-11-30&store=riga-01,riga-02").await, november);
        let year = report("from=2026-01-01&to=2026-12-31").await;
        assert_eq!(report("from=2026-02-01&to=2026-12-31").await, year);
        assert_eq!(report("from=2026-01-01&to=2026-12-07").await, year, "the year so far is the year");
        assert_ne!(report("from=2026-01-01&to=2026-11-30").await, year, "not when December has purchases");
        // The KPI's buyers: all stores and one store as kept, two from the months
        // (counted in the background).
        let buyers = |q: &'static str| {
            let app = &app;
            async move {
                let k = counted(app, &format!("/v1/admin/reports/kpi?from=2026-11-01&to=2026-12-31{q}")).await;
                report_rows(&k, "rows").iter().map(|r| format!("{} {}", r["buyers"], r["frequency"])).collect::<Vec<_>>()
            }
        };
        assert_eq!(buyers("").await, ["4 \"2.00\"", "1 \"1.00\""]);
        assert_eq!(buyers("&store=riga-01,riga-02").await, buyers("").await);
        assert_eq!(buyers("&store=riga-02").await, ["1 \"1.00\"", "null null"]);
    }

    async fn the_failure_log_downloads_as_a_report_of_the_period_and_a_store_manager_sees_their_stores_only(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, call};
        let app = crate::helpers::spawn_with_program(db, toml::from_str(crate::fraud::FRAUD_PROGRAM).unwrap()).await;
        crate::helpers::admin(&app).await;
        for k in 0..2 {
            assert_eq!(app.pos_get(&format!("/v1/pos/cards/277000000000{k}")).await.status(), 404);
        }
        let (status, body) = call(&app, "GET", "/v1/admin/reports/failures?from=2026-11-24&to=2026-11-24", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{body}");
        let rows = report_rows(&body, "rows");
        let seen: Vec<(String, String, String)> = rows.iter().map(|r| (r["code"].as_str().unwrap().into(), r["card"].as_str().unwrap().into(), r["at"].as_str().unwrap().into())).collect();
        assert_eq!(
            seen,
            [
                ("unknown_card".to_owned(), "2770000000001".to_owned(), "2026-11-24 08:15:00".to_owned()),
                ("unknown_card".to_owned(), "2770000000000".to_owned(), "2026-11-24 08:15:00".to_owned())
            ],
            "newest first"
        );
        assert_eq!(report_rows(&body, "totals")[0]["code"], 2);
        // The day before has none; the CSV has a header and two rows.
        let (_, before) = call(&app, "GET", "/v1/admin/reports/failures?from=2026-11-23&to=2026-11-23", ADMIN_KEY, None).await;
        assert!(report_rows(&before, "rows").is_empty(), "{before}");
        let csv = app.client.get(app.url("/v1/admin/reports/failures?from=2026-11-24&to=2026-11-24&format=csv")).bearer_auth(ADMIN_KEY).send().await.unwrap().text().await.unwrap();
        assert_eq!(csv.lines().filter(|l| l.contains("unknown_card")).count(), 2, "{csv}");
        let manager = crate::helpers::staff(&app, "meg", "store_manager", &["riga-02"]).await;
        let (status, theirs) = call(&app, "GET", "/v1/admin/reports/failures?from=2026-11-24&to=2026-11-24", &manager, None).await;
        assert_eq!(status, 200, "{theirs}");
        assert!(report_rows(&theirs, "rows").is_empty(), "the refusals were at riga-01: {theirs}");
    }

    async fn regular_customers_over_months_not_kept_are_counted_in_the_background_and_the_last_count_is_read_at_once(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, call};
        let app = crate::helpers::spawn_with_program(db, toml::from_str(crate::fraud::FRAUD_PROGRAM).unwrap()).await;
        crate::helpers::admin(&app).await;
        let (_, ann) = app.customer_with_card("+37120007201", "LOY").await;
        assert_eq!(app.commit(&receipt("r1", Some(&ann), "10.00")).await.0, 201);
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        let path = "/v1/admin/reports/regulars?from=2026-10-01&to=2026-11-30";
        // The first to ask hears it is being counted, in every format.
        let res = app.client.get(app.url(path)).bearer_auth(ADMIN_KEY).send().await.unwrap();
        assert_eq!((res.status().as_u16(), res.headers().get("retry-after").and_then(|v| v.to_str().ok())), (202, Some("1")));
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!((body["counting"].as_bool(), body["rows"].as_array().map(Vec::len)), (Some(true), Some(0)), "{body}");
        let first = counted(&app, path).await;
        assert_eq!(first["totals"][0]["buyers"], 1, "{first}");
        assert!(first["counted_at"].is_null(), "current: {first}");
        // Ann buys again: the next reader gets the last count at once, saying when it was
        // made, while the new one is counted behind it.
        app.clock.advance(jiff::SignedDuration::from_mins(5));
        assert_eq!(app.commit(&receipt("r2", Some(&ann), "10.00")).await.0, 201);
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        let (status, earlier) = call(&app, "GET", path, ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{earlier}");
        assert_eq!((earlier["totals"][0]["once"].as_i64(), earlier["counted_at"].is_string()), (Some(1), true), "{earlier}");
        let mut now = earlier.clone();
        for _ in 0..200 {
            if now["counted_at"].is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            now = call(&app, "GET", path, ADMIN_KEY, None).await.1;
        }
        assert_eq!((now["totals"][0]["once"].as_i64(), now["totals"][0]["repeat"].as_i64()), (Some(0), Some(1)), "{now}");
    }
}

/// With a replica configured (`LOYD_REPORTS_DATABASE_URL`), reports read it, not the
/// database the tills write: here a replica that has not caught up yet.
#[tokio::test]
async fn reports_read_the_replica_when_one_is_configured() {
    use crate::helpers::{ADMIN_KEY, call};
    let program: loyd_domain::config::ConfigDocument = toml::from_str(LEDGER_PROGRAM).unwrap();
    let replica_db = loyd_testkit::TestDb::sqlite().await;
    let replica = replica_db.store().await;
    replica.apply_config(program.clone(), "test".into(), false).await.unwrap();
    let app = crate::helpers::spawn_reading_reports_from(
        loyd_testkit::TestDb::sqlite().await,
        program,
        loyd_api::ApiConfig::default(),
        crate::helpers::START,
        Some(replica),
    )
    .await;
    crate::helpers::admin(&app).await;
    assert_eq!(app.commit(&receipt("r1", None, "10.00")).await.0, 201);
    app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
    let (status, body) = call(&app, "GET", "/v1/admin/reports/sales?period=all", ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["rows"].as_array().unwrap().is_empty(), "the replica has no receipt yet: {body}");
    assert_eq!(app.store.store_days(vec!["riga-01".into()], jiff::civil::date(2026, 11, 1), jiff::civil::date(2026, 12, 31)).await.unwrap().len(), 1);
    drop(replica_db);
}
