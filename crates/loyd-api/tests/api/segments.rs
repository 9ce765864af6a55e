//! Segments: customers' purchase facts kept by the roll_up job, the segments job's RFM
//! groups and member lists with their history, a condition tried on demand, and the
//! same segments targeting campaigns at the till — on both backends.

use loyd_store::Job;
use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, receipt, spawn_with_program, staff};

/// One store; a 10 % campaign for the `big` segment; three segments, one of which
/// only a till can decide.
pub(crate) const PROGRAM: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[segments]]
id = "big"
condition = "customer.spent_minor >= 10000"

[[segments]]
id = "riga"
condition = "customer.profile['city'] == 'Riga'"

[[segments]]
id = "big-basket"
condition = "receipt.total_minor > 10000"

[[segments]]
id = "champions"
condition = "customer.rfm == 'champions'"

[[campaigns]]
id = "vip"
segments = ["champions"]
[[campaigns.rewards]]
type = "discount"
percent = "10"
"#;

fn days(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_hours(24 * n)
}

/// A customer (with `city`, if given) and their loyalty card.
async fn member(app: &TestApp, phone: &str, city: Option<&str>) -> (i64, String) {
    let profile = city.map(|c| [("city".to_owned(), c.to_owned())].into()).unwrap_or_default();
    let new = loyd_store::NewCustomer { phone: Some(phone.into()), name: Some(format!("Buyer {phone}")), profile, ..Default::default() };
    let c = app.store.create_customer(new, "test".into()).await.unwrap();
    let card = app.issue("LOY", Some(c.id)).await.remove(0);
    (c.id, card.number)
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = call(app, "GET", path, ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn members_of(overview: &Value, list: &str, id: &str) -> Value {
    overview[list].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("{id} in {overview}"))["members"].clone()
}

async fn member_ids(app: &TestApp, segment: &str) -> Vec<String> {
    let page = get(app, &format!("/v1/admin/segments/{segment}/members")).await;
    page["members"].as_array().unwrap().iter().map(|m| m["customer"]["id"].as_str().unwrap().to_owned()).collect()
}

/// Three customers who bought once, 120 days before three who bought five times for
/// 50.00 each and one who bought once for 5.00 today.
pub(crate) struct Base {
    pub lapsed: Vec<(i64, String)>,
    pub best: Vec<(i64, String)>,
    pub newcomer: (i64, String),
}

pub(crate) async fn base(app: &TestApp) -> Base {
    let mut lapsed = Vec::new();
    for k in 0..3 {
        let who = member(app, &format!("+3712000010{k}"), (k == 0).then_some("Riga")).await;
        assert_eq!(app.commit(&receipt(&format!("old-{k}"), Some(&who.1), "5.00")).await.0, 201);
        lapsed.push(who);
    }
    app.clock.advance(days(120));
    let mut best = Vec::new();
    for k in 0..3 {
        let who = member(app, &format!("+3712000020{k}"), (k == 0).then_some("Riga")).await;
        for n in 0..5 {
            assert_eq!(app.commit(&receipt(&format!("best-{k}-{n}"), Some(&who.1), "50.00")).await.0, 201);
        }
        best.push(who);
    }
    let newcomer = member(app, "+37120000300", None).await;
    assert_eq!(app.commit(&receipt("new-0", Some(&newcomer.1), "5.00")).await.0, 201);
    app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
    Base { lapsed, best, newcomer }
}

both_backends! {
    async fn the_roll_up_job_adds_each_purchase_to_its_customer_and_a_cancellation_takes_it_off(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(PROGRAM).unwrap()).await;
        admin(&app).await;
        let (id, card) = member(&app, "+37120000001", None).await;
        let first = app.store.now();
        assert_eq!(app.commit(&receipt("a-1", Some(&card), "12.00")).await.0, 201);
        app.clock.advance(days(3));
        let last = app.store.now();
        assert_eq!(app.commit(&receipt("a-2", Some(&card), "8.00")).await.0, 201);
        let before = get(&app, &format!("/v1/admin/customers/c_{id}")).await;
        assert_eq!((before["purchases"].as_i64(), &before["last_purchase_at"]), (Some(0), &Value::Null), "not added before the job: {before}");

        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        app.store.run_job(Job::RollUp, "test".into()).await.unwrap();
        let after = get(&app, &format!("/v1/admin/customers/c_{id}")).await;
        assert_eq!(after["purchases"], 2, "added once however often the job runs: {after}");
        assert_eq!(after["first_purchase_at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap(), first);
        assert_eq!(after["last_purchase_at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap(), last);
        let spent = app.db().texts(&format!("SELECT CAST(spent AS TEXT) FROM customer_facts WHERE customer_id = {id}")).await;
        assert_eq!(spent, ["2000"]);

        // A cancellation takes its purchase off at once, in its own transaction.
        assert_eq!(app.pos_post("/v1/pos/receipts/a-2/cancel", &json!({})).await.status(), 200);
        let cancelled = get(&app, &format!("/v1/admin/customers/c_{id}")).await;
        assert_eq!(cancelled["purchases"], 1, "{cancelled}");
        assert_eq!(app.db().texts(&format!("SELECT CAST(spent AS TEXT) FROM customer_facts WHERE customer_id = {id}")).await, ["1200"]);
    }

    async fn the_segments_job_scores_rfm_groups_and_lists_segment_members_with_their_history(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(PROGRAM).unwrap()).await;
        admin(&app).await;
        let b = base(&app).await;
        let listed = get(&app, "/v1/admin/segments").await;
        assert_eq!(listed["pass"]["finished_at"], Value::Null);
        assert_eq!(members_of(&listed, "segments", "big"), Value::Null, "no counts before the first pass: {listed}");

        let run = app.store.run_job(Job::Segments, "schedule".into()).await.unwrap();
        assert_eq!((run.items, run.error), (7, None), "the first pass goes through every customer");
        let o = get(&app, "/v1/admin/segments").await;
        // Seven buyers. Recency (minus days): -120 ×3, 0 ×4 → bounds [-120, -120, 0, 0];
        // frequency 1 ×4, 5 ×3 → [1, 1, 5, 5]; money 500 ×4, 25000 ×3 → [500, 500, 25000,
        // 25000]. The lapsed score 3 3 3 (need attention), the best 5 5 5 (champions),
        // the newcomer 5 3 3 (potential loyalists).
        assert_eq!(members_of(&o, "rfm", "rfm:champions"), 3, "{o}");
        assert_eq!(members_of(&o, "rfm", "rfm:need_attention"), 3, "{o}");
        assert_eq!(members_of(&o, "rfm", "rfm:potential_loyalists"), 1, "{o}");
        assert_eq!(members_of(&o, "rfm", "rfm:lost"), 0, "{o}");
        assert_eq!(members_of(&o, "segments", "big"), 3);
        assert_eq!(members_of(&o, "segments", "riga"), 2);
        assert_eq!(members_of(&o, "segments", "champions"), 3, "a segment may read the RFM group");
        let till_only = o["segments"].as_array().unwrap().iter().find(|s| s["id"] == "big-basket").unwrap();
        assert_eq!((&till_only["listed"], &till_only["members"]), (&json!(false), &Value::Null), "{till_only}");

        let best: Vec<String> = b.best.iter().map(|(id, _)| format!("c_{id}")).collect();
        assert_eq!(member_ids(&app, "big").await, best);
        assert_eq!(member_ids(&app, "riga").await, [format!("c_{}", b.lapsed[0].0), format!("c_{}", b.best[0].0)]);
        assert_eq!(member_ids(&app, "rfm:potential_loyalists").await, [format!("c_{}", b.newcomer.0)]);
        let customer = get(&app, &format!("/v1/admin/customers/c_{}", b.best[1].0)).await;
        assert_eq!((customer["rfm"].as_str(), customer["rfm_score"].as_str()), (Some("champions"), Some("555")), "{customer}");

        // The schedule makes no new pass within the hour when nothing changed.
        assert_eq!(app.store.run_job(Job::Segments, "schedule".into()).await.unwrap().items, 0);

        // One of the best cancels four purchases: 50.00 spent, out of `big`. A pass asked
        // for (not the schedule's) sees it at once; the day's history keeps who joined
        // and who left.
        for n in 0..4 {
            assert_eq!(app.pos_post(&format!("/v1/pos/receipts/best-2-{n}/cancel"), &json!({})).await.status(), 200);
        }
        assert_eq!(app.store.run_job(Job::Segments, "user:ann".into()).await.unwrap().items, 7);
        assert_eq!(member_ids(&app, "big").await, best[..2]);
        let history = get(&app, "/v1/admin/segments/big/history").await;
        let today = app.store.now().to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Riga").unwrap()).date().to_string();
        assert_eq!(history["days"], json!([{"day": today, "segment": "big", "members": 2, "joined": 3, "departed": 1}]), "{history}");

        // A day later the schedule makes a pass by itself, counted on its own day.
        app.clock.advance(days(1));
        assert_eq!(app.store.run_job(Job::Segments, "schedule".into()).await.unwrap().items, 7);
        let history = get(&app, "/v1/admin/segments/big/history").await;
        assert_eq!(history["days"].as_array().unwrap().len(), 2, "{history}");
        assert_eq!((history["days"][1]["members"].as_i64(), history["days"][1]["joined"].as_i64()), (Some(2), Some(0)));
    }

    async fn campaigns_target_a_segment_of_rfm_groups_at_the_till_from_the_customers_row(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(PROGRAM).unwrap()).await;
        admin(&app).await;
        let b = base(&app).await;
        let (_, before) = app.commit(&receipt("vip-0", Some(&b.best[0].1), "10.00")).await;
        assert_eq!(before["discount"], "0.00", "not scored yet: {before}");
        app.store.run_job(Job::Segments, "schedule".into()).await.unwrap();
        let (_, champion) = app.commit(&receipt("vip-1", Some(&b.best[0].1), "10.00")).await;
        assert_eq!(champion["discount"], "1.00", "a champion gets the campaign: {champion}");
        let (_, lapsed) = app.commit(&receipt("vip-2", Some(&b.lapsed[0].1), "10.00")).await;
        assert_eq!(lapsed["discount"], "0.00", "{lapsed}");
    }

    async fn a_condition_is_tried_on_every_customer_on_demand_and_bad_ones_are_refused_with_a_code(db: TestDb) {
        let app = spawn_with_program(db, toml::from_str(PROGRAM).unwrap()).await;
        admin(&app).await;
        let b = base(&app).await;
        let (status, tried) = call(&app, "POST", "/v1/admin/segments/try", ADMIN_KEY, Some(json!({"condition": "customer.purchases >= 5 || customer.days_since_purchase > 100", "sample": 2}))).await;
        assert_eq!(status, 200, "{tried}");
        assert_eq!(tried["members"], 6, "three best and three lapsed: {tried}");
        let sample: Vec<&str> = tried["sample"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(sample, [format!("c_{}", b.lapsed[0].0), format!("c_{}", b.lapsed[1].0)]);
        let (status, by_id) = call(&app, "POST", "/v1/admin/segments/try", ADMIN_KEY, Some(json!({"segment": "riga"}))).await;
        assert_eq!((status, by_id["members"].as_i64()), (200, Some(2)), "{by_id}");

        for (body, status, code) in [
            (json!({"condition": "customer.purchases >"}), 422, "validation_failed"),
            (json!({"condition": "receipt.total_minor > 100"}), 422, "validation_failed"),
            (json!({"segment": "nope"}), 404, "not_found"),
            (json!({}), 422, "validation_failed"),
        ] {
            let (got, err) = call(&app, "POST", "/v1/admin/segments/try", ADMIN_KEY, Some(body.clone())).await;
            assert_eq!((got, err["error"]["code"].as_str()), (status, Some(code)), "{body}: {err}");
        }
        for (path, status) in [("/v1/admin/segments/nope/members", 404), ("/v1/admin/segments/rfm:nope/members", 404), ("/v1/admin/segments/big-basket/members", 422)] {
            assert_eq!(call(&app, "GET", path, ADMIN_KEY, None).await.0, status, "{path}");
        }

        // A marketer reads segments and members, contacts masked; support, without the
        // reports, reads no segments.
        app.store.run_job(Job::Segments, "schedule".into()).await.unwrap();
        let marketer = staff(&app, "mia", "marketer", &[]).await;
        let (status, page) = call(&app, "GET", "/v1/admin/segments/big/members", &marketer, None).await;
        assert_eq!(status, 200, "{page}");
        let phone = page["members"][0]["customer"]["phone"].as_str().unwrap();
        assert!(phone.contains('•'), "masked: {phone}");
        let support = staff(&app, "sam", "support", &[]).await;
        assert_eq!(call(&app, "GET", "/v1/admin/segments", &support, None).await.0, 403);
    }
}
