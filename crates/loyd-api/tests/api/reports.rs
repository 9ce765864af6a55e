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
        assert_eq!((run.items, run.error), (4, None));
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
