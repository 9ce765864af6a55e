//! The admin API over HTTP, on both backends.

use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, error_code, receipt, spawn_example};

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    call(app, "POST", path, ADMIN_KEY, Some(body)).await
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    call(app, "GET", path, ADMIN_KEY, None).await
}

both_backends! {
    async fn the_admin_api_needs_an_admin_key(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let res = app.client.get(app.url("/v1/admin/failures")).send().await.unwrap();
        assert_eq!(error_code(res).await, "unauthorized");
        let res = app.client.get(app.url("/v1/admin/failures")).bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(error_code(res).await, "unauthorized", "a terminal key is not an API key");
        assert_eq!(get(&app, "/v1/admin/failures").await.0, 200);
    }

    async fn an_operator_registers_a_customer_issues_a_card_and_adjusts_points(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let (status, customer) = post(&app, "/v1/admin/customers", json!({"phone": "+37120000030", "name": "Anna"})).await;
        assert_eq!(status, 201, "{customer}");
        let id = customer["id"].as_str().unwrap().to_owned();
        let (status, dup) = post(&app, "/v1/admin/customers", json!({"phone": "+37120000030"})).await;
        assert_eq!((status, dup["error"]["code"].as_str()), (409, Some("already_exists")));
        let (status, cards) = post(&app, "/v1/admin/cards", json!({"series": "LOY", "customer": id})).await;
        assert_eq!(status, 201, "{cards}");
        let card = cards["cards"][0]["number"].as_str().unwrap().to_owned();
        let (status, adj) = post(&app, &format!("/v1/admin/customers/{id}/adjustments"),
            json!({"operation_id": "goodwill-1", "currency": "bonus", "amount": "25", "reason": "apology"})).await;
        assert_eq!((status, adj["balance"].as_str()), (201, Some("25")));
        let (_, again) = post(&app, &format!("/v1/admin/customers/{id}/adjustments"),
            json!({"operation_id": "goodwill-1", "currency": "bonus", "amount": "25", "reason": "apology"})).await;
        assert_eq!(again["balance"], "25", "an adjustment repeated is applied once");
        assert_eq!(app.balance(&card, "bonus").await.0, "25");
        let (status, code) = post(&app, &format!("/v1/admin/customers/{id}/codes"), json!({})).await;
        assert_eq!(status, 201);
        assert_eq!(code["code"].as_str().unwrap().len(), 6);

        let (status, _) = post(&app, &format!("/v1/admin/cards/{card}/block"), json!({})).await;
        assert_eq!(status, 204);
        let (status, body) = app.commit(&receipt("blocked", Some(&card), "1.00")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("card_blocked")));
        post(&app, &format!("/v1/admin/cards/{card}/unblock"), json!({})).await;
        assert_eq!(app.commit(&receipt("unblocked", Some(&card), "1.00")).await.0, 201);
    }

    async fn the_failure_log_is_listed_with_filters_and_pages(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        for n in 0..5 {
            app.commit(&receipt(&format!("u{n}"), Some("2770000099999"), "1.00")).await;
        }
        app.commit(&json!({"receipt_id": "bad", "lines": []})).await;
        let (_, page) = get(&app, "/v1/admin/failures?code=unknown_card&limit=3").await;
        assert_eq!(page["failures"].as_array().unwrap().len(), 3);
        assert!(page["failures"].as_array().unwrap().iter().all(|f| f["code"] == "unknown_card" && f["terminal"] == "pos-1"));
        let next = page["next_before"].as_i64().unwrap();
        let (_, rest) = get(&app, &format!("/v1/admin/failures?code=unknown_card&limit=3&before={next}")).await;
        assert_eq!(rest["failures"].as_array().unwrap().len(), 2);
        assert!(rest["next_before"].is_null());
        let (_, by_card) = get(&app, "/v1/admin/failures?card=2770000099999").await;
        assert_eq!(by_card["failures"].as_array().unwrap().len(), 5);
        let (status, bad) = get(&app, "/v1/admin/failures?from=not-a-time").await;
        assert_eq!((status, bad["error"]["code"].as_str()), (422, Some("validation_failed")));
    }

    async fn credit_statements_and_settlements_through_the_admin_api(db: TestDb) {
        let app = spawn_example(db, "s12-credit.toml").await;
        admin(&app).await;
        let (_, customer) = post(&app, "/v1/admin/customers", json!({"name": "Employee"})).await;
        let id = customer["id"].as_str().unwrap().to_owned();
        let (_, cards) = post(&app, "/v1/admin/cards", json!({"series": "STAFF", "customer": id})).await;
        let card = cards["cards"][0]["number"].as_str().unwrap().to_owned();
        let mut meal = receipt("m1", Some(&card), "30.00");
        meal["redeem"] = json!([{"currency": "meals", "amount": "30.00"}]);
        assert_eq!(app.commit(&meal).await.0, 201);
        let (status, st) = get(&app, &format!("/v1/admin/customers/{id}/statement?currency=meals&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z")).await;
        assert_eq!(status, 200, "{st}");
        assert_eq!((st["closing"].as_str(), st["lines"][0]["amount"].as_str()), (Some("-30.00"), Some("-30.00")));
        let (status, s) = post(&app, &format!("/v1/admin/customers/{id}/credit-settlements"), json!({"operation_id": "pay-1", "currency": "meals"})).await;
        assert_eq!((status, s["settled"].as_str(), s["balance"].as_str()), (201, Some("30.00"), Some("0.00")));
        let (_, audit) = get(&app, "/v1/admin/ledger/audit").await;
        assert!(audit["problems"].as_array().unwrap().is_empty(), "{audit}");
    }

    async fn configuration_is_read_and_applied_through_the_admin_api(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let (status, config) = get(&app, "/v1/admin/config").await;
        assert_eq!(status, 200);
        assert_eq!(config["document"]["campaigns"][0]["id"], "points");
        let change = json!({"stores": [{"id": "jelgava", "name": "Jelgava", "timezone": "Europe/Riga"}]});
        let (status, plan) = post(&app, "/v1/admin/config?dry_run=true", change.clone()).await;
        assert_eq!((status, plan["version"].clone(), plan["steps"][0]["action"].as_str()), (200, Value::Null, Some("create")));
        let (_, applied) = post(&app, "/v1/admin/config", change).await;
        assert_eq!(applied["version"], config["version"].as_i64().unwrap() + 1);
        let (status, bad) = post(&app, "/v1/admin/config", json!({"campaigns": [{"id": "x", "rewards": [{"type": "accrue", "currency": "nope", "percent": "1"}]}]})).await;
        assert_eq!((status, bad["error"]["code"].as_str()), (422, Some("validation_failed")));
        assert_eq!(bad["error"]["details"]["problems"][0]["path"], "campaigns[0].rewards[0].currency");
    }

    async fn campaigns_follow_a_customers_profile_and_segments_as_the_profile_changes(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let program = json!({
            "segments": [{"id": "riga", "condition": "customer.profile['city'] == 'Riga'"}],
            "campaigns": [
                {"id": "riga-5", "segments": ["riga"], "rewards": [{"type": "discount", "percent": "5"}]},
                {"id": "pets", "profile": {"pet": ["cat", "dog"]}, "rewards": [{"type": "discount", "amount": "1.00"}]}
            ]
        });
        let (status, applied) = post(&app, "/v1/admin/config", program).await;
        assert_eq!(status, 200, "{applied}");
        let (status, customer) = post(&app, "/v1/admin/customers", json!({"phone": "+37120000031", "profile": {"city": "Riga"}})).await;
        assert_eq!((status, customer["profile"]["city"].as_str()), (201, Some("Riga")), "{customer}");
        let id = customer["id"].as_str().unwrap().to_owned();
        let (_, cards) = post(&app, "/v1/admin/cards", json!({"series": "LOY", "customer": id})).await;
        let card = cards["cards"][0]["number"].as_str().unwrap().to_owned();

        let (_, body) = app.commit(&receipt("p1", Some(&card), "10.00")).await;
        assert_eq!(body["discount"], "0.50", "in the Riga segment: {body}");

        let patch = |changes: Value| {
            let (app, id) = (&app, id.clone());
            async move {
                let res = app.client.patch(app.url(&format!("/v1/admin/customers/{id}"))).bearer_auth(ADMIN_KEY).json(&changes).send().await.unwrap();
                (res.status().as_u16(), res.json::<Value>().await.unwrap())
            }
        };
        let (status, changed) = patch(json!({"profile": {"city": "Tartu", "pet": "cat"}})).await;
        assert_eq!((status, changed["profile"].clone()), (200, json!({"city": "Tartu", "pet": "cat"})));
        let (_, body) = app.commit(&receipt("p2", Some(&card), "10.00")).await;
        assert_eq!(body["discount"], "1.00", "out of the segment, a cat owner: {body}");

        let (_, changed) = patch(json!({"profile": {"pet": null}})).await;
        assert_eq!(changed["profile"], json!({"city": "Tartu"}), "null removes a field, others stay");
        let (_, body) = app.commit(&receipt("p3", Some(&card), "10.00")).await;
        assert_eq!(body["discount"], "0.00");

        let (status, bad) = patch(json!({"profile": {"Phone": "+371"}})).await;
        assert_eq!((status, bad["error"]["code"].as_str()), (422, Some("validation_failed")), "{bad}");
        let (status, bad) = patch(json!({"profile": {"phone": "+371"}})).await;
        assert_eq!(status, 422, "contact data is not a profile field: {bad}");
        let (_, unchanged) = get(&app, &format!("/v1/admin/customers/{id}")).await;
        assert_eq!(unchanged["profile"], json!({"city": "Tartu"}), "a refused change changes nothing");
        let res = app.client.patch(app.url("/v1/admin/customers/c_999")).bearer_auth(ADMIN_KEY).json(&json!({"profile": {}})).send().await.unwrap();
        assert_eq!(error_code(res).await, "not_found");
    }
}

both_backends! {
    async fn an_admin_creates_a_terminal_whose_key_is_shown_once_rotates_it_and_revokes_it(db: TestDb) {
        let app = crate::helpers::spawn_app(db).await;
        crate::helpers::admin(&app).await;
        let call = |method: &'static str, path: String, body: Option<serde_json::Value>| {
            let app = &app;
            async move { crate::helpers::call(app, method, &path, crate::helpers::ADMIN_KEY, body).await }
        };
        let (status, created) = call("POST", "/v1/admin/stores/riga-01/terminals".into(), Some(serde_json::json!({"terminal": "pos-9"}))).await;
        assert_eq!(status, 201, "{created}");
        let key = created["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("lyt_") && key.len() == 68, "{key}");
        let till = |key: String| {
            let app = &app;
            async move { app.client.get(app.url("/v1/pos/terminal")).bearer_auth(key).send().await.unwrap().status().as_u16() }
        };
        assert_eq!(till(key.clone()).await, 200, "the new key works at the till");
        // Creating it again is refused, and shows no key.
        let (status, again) = call("POST", "/v1/admin/stores/riga-01/terminals".into(), Some(serde_json::json!({"terminal": "pos-9"}))).await;
        assert_eq!((status, again["key"].is_null()), (409, true), "{again}");
        // A new key: the old one stops at once.
        let (status, rotated) = call("POST", "/v1/admin/stores/riga-01/terminals/pos-9/rotate".into(), None).await;
        assert_eq!(status, 200);
        let new_key = rotated["key"].as_str().unwrap().to_owned();
        assert_ne!(new_key, key);
        assert_eq!((till(key).await, till(new_key.clone()).await), (401, 200));
        // Revoked: nothing works; the list says when.
        let (status, list) = call("POST", "/v1/admin/stores/riga-01/terminals/pos-9/revoke".into(), None).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(till(new_key).await, 401);
        let (_, list) = call("GET", "/v1/admin/stores/riga-01/terminals".into(), None).await;
        let pos9 = list.as_array().unwrap().iter().find(|t| t["id"] == "pos-9").unwrap().clone();
        assert!(pos9["revoked_at"].is_string(), "{pos9}");
        assert_eq!(call("POST", "/v1/admin/stores/riga-01/terminals/pos-9/revoke".into(), None).await.0, 200, "again: nothing changes");
        assert_eq!(call("POST", "/v1/admin/stores/riga-01/terminals/nope/revoke".into(), None).await.0, 404);
        assert_eq!(call("GET", "/v1/admin/stores/tallinn/terminals".into(), None).await.0, 404);
        // The audit log names who did it.
        let (_, audit) = call("GET", "/v1/admin/audit?action=terminal.revoke".into(), None).await;
        assert!(audit.to_string().contains("riga-01/pos-9"), "{audit}");
    }
}

both_backends! {
    async fn an_admin_creates_an_api_key_shown_once_and_revokes_it(db: TestDb) {
        let app = crate::helpers::spawn_app(db).await;
        admin(&app).await;
        let (status, created) = call(&app, "POST", "/v1/admin/api-keys", ADMIN_KEY, Some(json!({"name": "erp", "role": "analyst"}))).await;
        assert_eq!(status, 201, "{created}");
        let key = created["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("lya_") && key.len() == 68);
        assert_eq!(call(&app, "GET", "/v1/admin/customers", &key, None).await.0, 200, "an analyst's key reads customers");
        assert_eq!(call(&app, "GET", "/v1/admin/users", &key, None).await.0, 403, "and nothing an analyst may not");
        let (status, again) = call(&app, "POST", "/v1/admin/api-keys", ADMIN_KEY, Some(json!({"name": "erp", "role": "admin"}))).await;
        assert_eq!((status, again["key"].is_null()), (409, true));
        for (name, role) in [("ERP 2", "analyst"), ("erp2", "store_manager"), ("erp2", "king")] {
            let (status, body) = call(&app, "POST", "/v1/admin/api-keys", ADMIN_KEY, Some(json!({"name": name, "role": role}))).await;
            assert_eq!(status, 422, "{name} {role}: {body}");
        }
        let (status, list) = call(&app, "POST", "/v1/admin/api-keys/erp/revoke", ADMIN_KEY, None).await;
        assert_eq!(status, 200);
        let erp = list.as_array().unwrap().iter().find(|k| k["name"] == "erp").unwrap().clone();
        assert!(erp["revoked_at"].is_string() && erp.get("key").is_none(), "{erp}");
        assert_eq!(call(&app, "GET", "/v1/admin/customers", &key, None).await.0, 401, "revoked at once");
        assert_eq!(call(&app, "POST", "/v1/admin/api-keys/nope/revoke", ADMIN_KEY, None).await.0, 404);
    }
}

/// The runs of `job` once none is still running, newest first.
async fn settled_runs(app: &TestApp, job: &str) -> Vec<Value> {
    for _ in 0..200 {
        let (status, page) = get(app, &format!("/v1/admin/jobs/runs?job={job}")).await;
        assert_eq!(status, 200, "{page}");
        let runs = page["runs"].as_array().unwrap().clone();
        if runs.iter().all(|r| r["state"] != "running") {
            return runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("a run of {job} did not end");
}

both_backends! {
    async fn staff_run_a_job_now_see_it_burn_what_expired_once_and_read_every_run_with_who_started_it(db: TestDb) {
        let app = spawn_example(db, "s6-conditional-bonus.toml").await;
        admin(&app).await;
        let (_, card) = app.customer_with_card("+37120000061", "LOY").await;
        // A weekday receipt under 1 000 earns 0.5 %: 2 bonus points that live 12 months.
        let (status, body) = app.commit(&receipt("r-jobs-1", Some(&card), "400.00")).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(app.balance(&card, "bonus").await.0, "2");
        // No job has run on this database yet.
        let (status, jobs) = get(&app, "/v1/admin/jobs").await;
        assert_eq!(status, 200, "{jobs}");
        let names: Vec<&str> = jobs.as_array().unwrap().iter().map(|j| j["job"].as_str().unwrap()).collect();
        assert_eq!(names, ["expire_holds", "expire_lots", "burn_inactive", "convert_balances", "roll_up", "detect_fraud", "segments", "expiry_notices", "birthdays", "task_reminders", "tier_reviews", "retention"]);
        assert!(jobs.as_array().unwrap().iter().all(|j| j["last_run"].is_null()), "{jobs}");
        // Thirteen months on, the points are past their lifetime: run the expiry now.
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 396));
        let (status, started) = post(&app, "/v1/admin/jobs/expire_lots/run", json!({})).await;
        assert_eq!(status, 202, "{started}");
        assert_eq!((started["job"].as_str(), started["started_by"].as_str()), (Some("expire_lots"), Some("key:ops")));
        let runs = settled_runs(&app, "expire_lots").await;
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0]["id"].clone(), runs[0]["state"].as_str(), runs[0]["items"].as_i64()), (started["id"].clone(), Some("done"), Some(1)));
        assert!(runs[0]["finished_at"].is_string() && runs[0]["error"].is_null(), "{runs:?}");
        assert_eq!(app.balance(&card, "bonus").await.0, "0");
        // Again: nothing is due any more, and nothing is burned twice.
        post(&app, "/v1/admin/jobs/expire_lots/run", json!({})).await;
        let runs = settled_runs(&app, "expire_lots").await;
        assert_eq!(runs.iter().map(|r| r["items"].as_i64().unwrap()).collect::<Vec<_>>(), [0, 1]);
        let (_, jobs) = get(&app, "/v1/admin/jobs").await;
        assert_eq!(jobs[1]["last_run"]["id"], runs[0]["id"]);
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
        // The schedule's runs that found nothing replace each other; the last is kept.
        for _ in 0..3 {
            let run = app.store.run_job(loyd_store::Job::ExpireHolds, loyd_store::SCHEDULE.into()).await.unwrap();
            assert_eq!((run.items, run.error), (0, None));
        }
        let (_, holds) = get(&app, "/v1/admin/jobs/runs?job=expire_holds").await;
        assert_eq!(holds["runs"].as_array().unwrap().len(), 1, "{holds}");
        assert_eq!(holds["runs"][0]["started_by"], "schedule");
        // Pages, newest first, across jobs.
        let (_, first) = get(&app, "/v1/admin/jobs/runs?limit=2").await;
        assert_eq!(first["runs"].as_array().unwrap().len(), 2);
        let (_, rest) = get(&app, &format!("/v1/admin/jobs/runs?limit=2&before={}", first["next_before"])).await;
        assert_eq!(rest["runs"].as_array().unwrap().len(), 1, "{rest}");
        assert!(rest["next_before"].is_null());
        // A job that does not exist is said so, with the ones that do.
        let (status, body) = post(&app, "/v1/admin/jobs/burn_everything/run", json!({})).await;
        assert_eq!((status, crate::helpers::code(&body)), (404, "not_found"), "{body}");
        assert_eq!(body["error"]["details"]["jobs"][1], "expire_lots");
        // An auditor reads the runs but may not start one; each run is in the audit log.
        let auditor = crate::helpers::staff(&app, "aude", "auditor", &[]).await;
        assert_eq!(call(&app, "GET", "/v1/admin/jobs/runs", &auditor, None).await.0, 200);
        assert_eq!(call(&app, "POST", "/v1/admin/jobs/expire_lots/run", &auditor, None).await.0, 403);
        let (_, audit) = get(&app, "/v1/admin/audit?object_kind=job").await;
        assert_eq!(audit["entries"].as_array().map(Vec::len), Some(2), "{audit}");
    }
}

both_backends! {
    async fn a_batch_of_codes_or_cards_sent_again_with_its_operation_id_is_made_once_even_when_sent_at_once(db: TestDb) {
        let app = spawn_example(db, "every-card-kind.toml").await;
        admin(&app).await;
        // Coupons: the first answer has the codes; the same batch again makes none.
        let batch = json!({"series": "GEN", "count": 3, "operation_id": "print-2026-12"});
        let (status, first) = post(&app, "/v1/admin/coupons", batch.clone()).await;
        assert_eq!(status, 201, "{first}");
        assert_eq!(first["coupons"].as_array().unwrap().len(), 3);
        let (status, again) = post(&app, "/v1/admin/coupons", batch).await;
        assert_eq!((status, crate::helpers::code(&again)), (409, "already_exists"), "{again}");
        assert_eq!(again["error"]["details"]["operation_id"], "print-2026-12");
        assert!(again["error"]["message"].as_str().unwrap().contains("first answer only"), "{again}");
        assert!(!again.to_string().contains(first["coupons"][0]["code"].as_str().unwrap()), "a retry never shows the codes again");
        let (status, other) = post(&app, "/v1/admin/coupons", json!({"series": "GEN", "count": 4, "operation_id": "print-2026-12"})).await;
        assert_eq!((status, crate::helpers::code(&other)), (409, "idempotency_conflict"), "{other}");
        let (status, bad) = post(&app, "/v1/admin/coupons", json!({"series": "GEN", "count": 1, "operation_id": "two words"})).await;
        assert_eq!((status, crate::helpers::code(&bad)), (422, "validation_failed"), "{bad}");
        // Without an id every request is a batch of its own, as before.
        assert_eq!(post(&app, "/v1/admin/coupons", json!({"series": "GEN", "count": 1})).await.0, 201);
        let (_, audit) = get(&app, "/v1/admin/audit?object_kind=coupon_series&object_id=GEN").await;
        assert_eq!(audit["entries"].as_array().map(Vec::len), Some(2), "two batches were made: {audit}");
        // Cards: eight identical requests at once make one batch of two gift cards.
        let batch = json!({"series": "GC", "count": 2, "operation_id": "gc-batch-7"});
        let app = std::sync::Arc::new(app);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (app, batch) = (app.clone(), batch.clone());
            tasks.spawn(async move { post(&app, "/v1/admin/cards", batch).await });
        }
        let answers = tasks.join_all().await;
        let made: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
        assert_eq!(made.len(), 1, "{answers:?}");
        assert_eq!(made[0]["cards"].as_array().unwrap().len(), 2);
        assert!(answers.iter().all(|(s, b)| *s == 201 || (*s == 409 && crate::helpers::code(b) == "already_exists")), "{answers:?}");
        let (_, audit) = get(&app, "/v1/admin/audit?object_kind=card_series&object_id=GC").await;
        assert_eq!(audit["entries"].as_array().map(Vec::len), Some(1), "{audit}");
    }
}
