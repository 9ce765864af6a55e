//! Configuration as code through the admin API, on both backends: program files in and
//! out, versions, diffs, rollback, pruning that refuses to drop what carries value, and
//! simulation.

use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, spawn_example};

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    call(app, "GET", path, ADMIN_KEY, None).await
}

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    call(app, "POST", path, ADMIN_KEY, Some(body)).await
}

/// Sends a program file as the body.
async fn post_file(app: &TestApp, path: &str, text: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/toml")
        .body(text.to_owned())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn export(app: &TestApp, query: &str) -> String {
    let res = app.client.get(app.url(&format!("/v1/admin/config/export{query}"))).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/toml"));
    res.text().await.unwrap()
}

fn teas(id: &str) -> Value {
    json!({"receipt_id": id, "lines": [{"line": 1, "sku": "GREEN", "groups": ["tea"], "qty": "3", "amount": "9.00"}]})
}

const TEA_TWO_FOR_ONE: &str = r#"
[[campaigns]]
id = "tea-3-for-2"
name = "Buy 2 teas, the cheapest free"
[[campaigns.rewards]]
type = "multi_buy"
groups = ["tea"]
group = 2
free = 1

[[campaigns]]
id = "weekend-5"
[[campaigns.rewards]]
type = "discount"
percent = "5"
"#;

both_backends! {
    async fn a_marketer_changes_the_program_and_rolls_it_back_to_yesterdays_version(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        admin(&app).await;
        let (_, body) = app.commit(&teas("t-1")).await;
        assert_eq!(body["discount"], "3.00", "version 1: three teas, one free");

        app.clock.advance(jiff::SignedDuration::from_hours(24));
        let (status, applied) = post_file(&app, "/v1/admin/config", TEA_TWO_FOR_ONE).await;
        assert_eq!((status, applied["version"].as_i64()), (200, Some(2)), "{applied}");
        let (_, body) = app.commit(&teas("t-2")).await;
        assert_eq!(body["discount"], "3.30", "version 2: one tea of two free (3.00), 5 % of the rest (0.30): {body}");

        let (status, versions) = get(&app, "/v1/admin/config/versions").await;
        assert_eq!(status, 200);
        let listed: Vec<(i64, usize)> = versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["version"].as_i64().unwrap(), v["changes"].as_u64().unwrap() as usize))
            .collect();
        assert_eq!(listed[0], (2, 2), "newest first, with its two changes: {versions}");
        assert_eq!(listed[1].0, 1);
        assert!(versions["versions"][0]["source"].as_str().unwrap().starts_with("admin API"));

        let (_, diff) = get(&app, "/v1/admin/config/diff?from=1&to=2").await;
        let steps: Vec<(&str, &str)> = diff["steps"].as_array().unwrap().iter().map(|s| (s["action"].as_str().unwrap(), s["id"].as_str().unwrap())).collect();
        assert_eq!(steps, vec![("update", "tea-3-for-2"), ("create", "weekend-5")]);
        assert!(diff["text"].as_str().unwrap().contains("group: 3 -> 2"), "{diff}");

        // Back to yesterday: a dry run first, then the rollback, as version 3.
        let (_, plan) = post(&app, "/v1/admin/config/rollback?dry_run=true", json!({"version": 1})).await;
        assert_eq!(plan["version"], Value::Null);
        let planned: Vec<&str> = plan["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
        assert_eq!(planned, vec!["remove", "update"], "{plan}");
        let (status, rolled) = post(&app, "/v1/admin/config/rollback", json!({"version": 1})).await;
        assert_eq!((status, rolled["version"].as_i64()), (200, Some(3)), "{rolled}");
        let (_, body) = app.commit(&teas("t-3")).await;
        assert_eq!(body["discount"], "3.00", "version 3 gives what version 1 gave: {body}");
        let (_, same) = get(&app, "/v1/admin/config/diff?from=1").await;
        assert_eq!((same["to"].as_i64(), same["steps"].as_array().unwrap().len()), (Some(3), 0), "{same}");
        let (_, again) = post(&app, "/v1/admin/config/rollback", json!({"version": 1})).await;
        assert_eq!((again["version"].clone(), again["steps"].as_array().unwrap().len()), (Value::Null, 0), "repeating changes nothing");
        let (status, missing) = post(&app, "/v1/admin/config/rollback", json!({"version": 99})).await;
        assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("not_found")));

        // The receipt of yesterday still shows the version it was computed with.
        let (_, v2) = get(&app, "/v1/admin/config/versions/2").await;
        assert_eq!(v2["document"]["campaigns"].as_array().unwrap().len(), 5);
        let (_, audit) = get(&app, "/v1/admin/audit?object_kind=config").await;
        assert!(audit.to_string().contains("config.rollback"), "{audit}");
    }

    async fn the_exported_program_file_applies_back_with_no_changes(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        admin(&app).await;
        let text = export(&app, "").await;
        assert!(text.contains("[[campaigns]]") && text.contains("id = \"tea-3-for-2\""), "{text}");
        let (status, applied) = post_file(&app, "/v1/admin/config?prune=true", &text).await;
        assert_eq!(status, 200, "{applied}");
        assert_eq!((applied["version"].clone(), applied["steps"].as_array().unwrap().len()), (Value::Null, 0), "{applied}");
        // An old version exports too, and its file restores it.
        post_file(&app, "/v1/admin/config", TEA_TWO_FOR_ONE).await;
        let first = export(&app, "?version=1").await;
        assert_eq!(first, text);
        let (_, restored) = post_file(&app, "/v1/admin/config?prune=true", &first).await;
        assert_eq!(restored["version"].as_i64(), Some(3), "{restored}");
        assert_eq!(export(&app, "").await, text);
    }

    async fn pruning_refuses_to_remove_what_still_carries_value_and_says_why(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        admin(&app).await;
        let (customer, _card) = app.customer_with_card("+37120001701", "LOY").await;
        app.grant(customer, "bonus", 500).await;
        // A file with only the money currency and the campaigns: the points currency is
        // held, the store has a terminal, the card series has a card.
        let (_, config) = get(&app, "/v1/admin/config").await;
        let mut doc = config["document"].clone();
        doc["currencies"] = json!([doc["currencies"][0].clone()]);
        doc["stores"] = json!([]);
        doc["card_series"] = json!([]);
        let (status, refused) = post(&app, "/v1/admin/config?prune=true&dry_run=true", doc.clone()).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("validation_failed")), "{refused}");
        let problems: Vec<String> = refused["error"]["details"]["problems"].as_array().unwrap().iter().map(|p| format!("{}: {}", p["path"], p["message"])).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("currency 'bonus'") && problems[0].contains("1 account(s) hold"), "{problems:?}");
        assert!(problems[1].contains("store 'riga-01'") && problems[1].contains("1 terminal(s)"), "{problems:?}");
        assert!(problems[2].contains("card_series 'LOY'") && problems[2].contains("1 card(s)"), "{problems:?}");
        let (status, _) = post(&app, "/v1/admin/config?prune=true", doc).await;
        assert_eq!(status, 422);
        assert_eq!(get(&app, "/v1/admin/config").await.1["version"], 1, "nothing was applied");

        // Dropping a campaign carries no value: the plan shows the removal.
        let mut doc = config["document"].clone();
        doc["campaigns"].as_array_mut().unwrap().retain(|c| c["id"] != "first-lamps");
        let (_, plan) = post(&app, "/v1/admin/config?prune=true&dry_run=true", doc.clone()).await;
        assert_eq!(plan["steps"], json!([{"action": "remove", "object": "campaign", "id": "first-lamps", "before": config["document"]["campaigns"][3], "after": null}]));
        let (_, applied) = post(&app, "/v1/admin/config?prune=true", doc.clone()).await;
        assert_eq!(applied["version"], 2);
        // Without prune, a file that names less removes nothing.
        doc["campaigns"] = json!([]);
        let (_, merged) = post(&app, "/v1/admin/config", doc).await;
        assert_eq!(merged["steps"], json!([]));
    }

    async fn a_program_file_with_problems_is_refused_with_each_problem_at_its_line(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        admin(&app).await;
        let typos = "[[campaigns]]\nid = \"a\"\nnaem = \"x\"\n\n[[campaigns]]\nid = \"b\"\nexclusive = \"yes\"\n";
        let (status, body) = post_file(&app, "/v1/admin/config", typos).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("validation_failed")));
        let problems = body["error"]["details"]["problems"].as_array().unwrap();
        let at: Vec<(i64, &str)> = problems.iter().map(|p| (p["line"].as_i64().unwrap(), p["path"].as_str().unwrap())).collect();
        assert_eq!(at, vec![(3, "campaigns[0].naem"), (7, "campaigns[1].exclusive")], "{body}");
        // Problems the compiler finds are located too.
        let unknown = "[[campaigns]]\nid = \"c\"\n[[campaigns.rewards]]\ntype = \"accrue\"\ncurrency = \"nope\"\npercent = \"1\"\n";
        let (_, body) = post_file(&app, "/v1/admin/config?dry_run=true", unknown).await;
        let p = &body["error"]["details"]["problems"][0];
        assert_eq!((p["line"].as_i64(), p["path"].as_str()), (Some(5), Some("campaigns[0].rewards[0].currency")), "{body}");
        let (status, body) = post_file(&app, "/v1/admin/config", "[[campaigns]\nid = 1").await;
        assert_eq!((status, body["error"]["details"]["problems"][0]["line"].as_i64()), (422, Some(1)), "{body}");
    }

    async fn a_proposed_change_is_simulated_over_past_receipts_through_the_api(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        admin(&app).await;
        for i in 0..3 {
            app.commit(&teas(&format!("sim-{i}"))).await;
        }
        let (status, report) = post_file(&app, "/v1/admin/config/simulate?from=2026-11-20&to=2026-11-30&timezone=Europe/Riga", TEA_TWO_FOR_ONE).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!((report["baseline"]["receipts"].as_u64(), report["baseline"]["discount"].as_i64()), (Some(3), Some(900)), "{report}");
        assert_eq!(report["proposed"]["discount"].as_i64(), Some(990), "{report}");
        assert_eq!(report["receipts_changed"], 3);
        assert_eq!(get(&app, "/v1/admin/config").await.1["version"], 1, "a simulation changes nothing");
        let (status, bad) = post(&app, "/v1/admin/config/simulate?from=2026-11-30&to=2026-11-01", json!({})).await;
        assert_eq!((status, bad["error"]["code"].as_str()), (422, Some("validation_failed")), "{bad}");
    }
}

fn cabinet(id: &str, amount: &str) -> Value {
    json!({"receipt_id": id, "lines": [{"line": 1, "sku": "OAK", "groups": ["cabinets"], "qty": "1", "amount": amount}]})
}

both_backends! {
    async fn a_campaign_is_read_created_changed_and_removed_field_by_field_with_errors_at_the_field(db: TestDb) {
        let app = spawn_example(db, "offers.toml").await;
        admin(&app).await;
        // Read: the section and one object, every field present.
        let (status, body) = get(&app, "/v1/admin/config/campaigns").await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<&str> = body["objects"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec!["tea-3-for-2", "summer-shoes", "cabinets", "first-lamps"]);
        let (_, body) = get(&app, "/v1/admin/config/campaigns/cabinets").await;
        assert_eq!((body["object"]["max_discount"].as_str(), body["object"]["rewards"][0]["percent"].as_str()), (Some("200.00"), Some("20")));
        let version = body["version"].as_i64().unwrap();

        // One field changed: the cap goes to 150.00, a new version, the till sees it.
        let (status, body) = call(&app, "PATCH", "/v1/admin/config/campaigns/cabinets", ADMIN_KEY, Some(json!({"max_discount": "150.00"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["version"].as_i64(), Some(version + 1));
        assert_eq!((body["object"]["max_discount"].as_str(), body["object"]["name"].as_str()), (Some("150.00"), Some("20 % on cabinets, at most 200.00")));
        assert_eq!(body["steps"][0]["action"], "update");
        let (status, receipt) = app.commit(&cabinet("cab-1", "1000.00")).await;
        assert_eq!((status, receipt["discount"].as_str()), (201, Some("150.00")), "{receipt}");

        // Errors point at the field, inside the object; nothing is applied.
        let (status, body) =
            call(&app, "PATCH", "/v1/admin/config/campaigns/cabinets", ADMIN_KEY, Some(json!({"rewards": [{"type": "discount", "percent": "twenty"}]}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("validation_failed")), "{body}");
        assert_eq!(body["error"]["details"]["problems"][0]["path"], "rewards[0].percent", "{body}");
        let (_, body) = call(&app, "PATCH", "/v1/admin/config/campaigns/cabinets", ADMIN_KEY, Some(json!({"max_discount_share": "1.5"}))).await;
        assert_eq!(body["error"]["details"]["problems"][0]["path"], "max_discount_share", "{body}");
        let (_, body) = call(&app, "PATCH", "/v1/admin/config/campaigns/cabinets", ADMIN_KEY, Some(json!({"colour": "red"}))).await;
        assert!(body["error"]["details"]["problems"][0]["message"].as_str().unwrap().contains("colour"), "{body}");
        let (_, body) = call(&app, "PATCH", "/v1/admin/config/campaigns/cabinets", ADMIN_KEY, Some(json!({"id": "wardrobes"}))).await;
        assert_eq!(body["error"]["details"]["problems"][0]["path"], "id", "{body}");
        let (_, body) = get(&app, "/v1/admin/config/campaigns/cabinets").await;
        assert_eq!((body["version"].as_i64(), body["object"]["max_discount"].as_str()), (Some(version + 1), Some("150.00")));

        // `null` takes a field back to its default: no cap at all.
        let (_, body) = call(&app, "PATCH", "/v1/admin/config/campaigns/cabinets?dry_run=true", ADMIN_KEY, Some(json!({"max_discount": null}))).await;
        assert_eq!((body["version"].as_i64(), body["object"]["max_discount"].as_null()), (None, Some(())), "a dry run changes nothing: {body}");
        call(&app, "PATCH", "/v1/admin/config/campaigns/cabinets", ADMIN_KEY, Some(json!({"max_discount": null}))).await;
        assert_eq!(app.commit(&cabinet("cab-2", "1000.00")).await.1["discount"], "200.00");

        // A whole new campaign by PUT (its id from the URL); then removed.
        let spring = json!({"name": "Spring: 10 % on lamps", "rewards": [{"type": "discount", "percent": "10", "groups": ["lamps"]}]});
        let (status, body) = call(&app, "PUT", "/v1/admin/config/campaigns/spring", ADMIN_KEY, Some(spring)).await;
        assert_eq!((status, body["steps"][0]["action"].as_str(), body["object"]["id"].as_str()), (200, Some("create"), Some("spring")), "{body}");
        let (status, body) = call(&app, "DELETE", "/v1/admin/config/campaigns/spring", ADMIN_KEY, None).await;
        assert_eq!((status, body["steps"][0]["action"].as_str(), body["object"].is_null()), (200, Some("remove"), true), "{body}");
        assert_eq!(get(&app, "/v1/admin/config/campaigns/spring").await.0, 404);
        assert_eq!(get(&app, "/v1/admin/config/gadgets").await.0, 404);

        // A currency that holds balances cannot be removed; its siblings are untouched.
        let (customer, _) = app.customer_with_card("+37120001901", "LOY").await;
        app.grant(customer, "bonus", 100).await;
        let (status, body) = call(&app, "DELETE", "/v1/admin/config/currencies/bonus", ADMIN_KEY, None).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("bonus") || body["error"]["details"].to_string().contains("bonus"), "{body}");
        assert_eq!(get(&app, "/v1/admin/config/campaigns").await.1["objects"].as_array().unwrap().len(), 4);
        // A marketer may edit campaigns; an analyst may only read them.
        let analyst = crate::helpers::staff(&app, "ann", "analyst", &[]).await;
        assert_eq!(call(&app, "GET", "/v1/admin/config/campaigns/cabinets", &analyst, None).await.0, 200);
        let (status, body) = call(&app, "PATCH", "/v1/admin/config/campaigns/cabinets", &analyst, Some(json!({"name": "x"}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    }
}
