//! Customers, CRM and security over HTTP, on both backends: personal data at rest,
//! staff roles and their boundaries, logins, merges, card replacement, organisations,
//! the audit log.

use loyd_testkit::both_backends;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, code, receipt, spawn_example, staff as user};

both_backends! {
    async fn personal_data_is_sealed_at_rest_yet_found_by_phone_email_and_name(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let (status, c) = call(&app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(json!({
            "phone": "+371 2000 0042", "email": "Anna.Berzina@Example.com", "name": "Anna Bērziņa",
            "birth_date": "1990-04-17", "consents": {"sms": true}
        }))).await;
        assert_eq!(status, 201, "{c}");
        assert_eq!(c["email"], "anna.berzina@example.com");
        let id = c["id"].as_str().unwrap().to_owned();
        let (_, note) = call(&app, "POST", &format!("/v1/admin/customers/{id}/crm"), ADMIN_KEY,
            Some(json!({"kind": "note", "body": "Anna Bērziņa prefers calls after 18:00"}))).await;
        assert_eq!(note["kind"], "note", "{note}");
        call(&app, "PATCH", &format!("/v1/admin/customers/{id}"), ADMIN_KEY, Some(json!({"name": "Anna Kalniņa-Bērziņa"}))).await;

        for (query, expect) in [
            ("phone=%2B37120000042", 1), ("email=ANNA.BERZINA@example.com", 1), ("name=ann", 1),
            ("name=KALN%20b%C4%93r", 1), ("name=nna", 0), ("phone=%2B37120000043", 0),
        ] {
            let (status, page) = call(&app, "GET", &format!("/v1/admin/customers?{query}"), ADMIN_KEY, None).await;
            assert_eq!(status, 200, "{query}: {page}");
            assert_eq!(page["customers"].as_array().unwrap().len(), expect, "{query}: {page}");
        }
        // The POS identifies by phone through the blind index.
        let mut r = receipt("by-phone", None, "10.00");
        r["customer"] = json!({"phone": "+37120000042"});
        let (status, body) = app.commit(&r).await;
        assert_eq!((status, body["customer"]["id"].as_str()), (201, Some(id.as_str())), "{body}");

        let dump = app_dump(&app).await;
        for plain in ["37120000042", "2000 0042", "anna.berzina", "Bērziņa", "Berzina", "Kalniņa", "1990-04-17", "prefers calls"] {
            assert!(!dump.contains(plain), "the database holds '{plain}' in the clear");
        }
    }

    async fn each_role_sees_and_changes_only_what_it_may(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let (_, c) = call(&app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(json!({"phone": "+37120000051", "name": "Jānis Ozols"}))).await;
        let id = c["id"].as_str().unwrap().to_owned();
        let analyst = user(&app, "ann.analyst", "analyst", &[]).await;
        let support = user(&app, "sam.support", "support", &[]).await;
        let auditor = user(&app, "al.auditor", "auditor", &[]).await;
        let marketer = user(&app, "mia.marketer", "marketer", &[]).await;

        // An analyst reads customers with contact data masked, and cannot search by it or change anything.
        let (status, seen) = call(&app, "GET", &format!("/v1/admin/customers/{id}"), &analyst, None).await;
        assert_eq!(status, 200);
        assert_eq!(seen["name"], "J. O.");
        assert!(!seen["phone"].as_str().unwrap().contains("0051") || seen["phone"].as_str().unwrap().contains('•'));
        assert_ne!(seen["phone"], "+37120000051");
        assert_eq!(call(&app, "GET", "/v1/admin/customers?phone=%2B37120000051", &analyst, None).await.0, 403);
        assert_eq!(call(&app, "PATCH", &format!("/v1/admin/customers/{id}"), &analyst, Some(json!({"profile": {"city": "Riga"}}))).await.0, 403);
        assert_eq!(call(&app, "GET", "/v1/admin/users", &analyst, None).await.0, 403);
        assert_eq!(call(&app, "POST", "/v1/admin/config", &analyst, Some(json!({}))).await.0, 403);
        // Support changes customers but not configuration, staff or the ledger audit.
        let (status, changed) = call(&app, "PATCH", &format!("/v1/admin/customers/{id}"), &support, Some(json!({"email": "janis@example.lv"}))).await;
        assert_eq!((status, changed["email"].as_str()), (200, Some("janis@example.lv")), "{changed}");
        assert_eq!(call(&app, "GET", "/v1/admin/ledger/audit", &support, None).await.0, 403);
        assert_eq!(call(&app, "POST", "/v1/admin/users", &support, Some(json!({"login": "x", "password": "y", "role": "admin"}))).await.0, 403);
        // A marketer cannot change contact data even though she reads profiles.
        assert_eq!(call(&app, "PATCH", &format!("/v1/admin/customers/{id}"), &marketer, Some(json!({"phone": "+37120000099"}))).await.0, 403);
        // An auditor reads the audit log and the change history, changes nothing.
        let (status, history) = call(&app, "GET", &format!("/v1/admin/customers/{id}/history"), &auditor, None).await;
        assert_eq!(status, 200);
        let actions: Vec<&str> = history["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["customer.update", "customer.create"]);
        assert_eq!(history["entries"][0]["actor"], "user:sam.support");
        assert_eq!(history["entries"][0]["after"]["email"], "j•••@example.lv", "an auditor sees no contact data");
        assert_eq!(history["entries"][1]["after"]["name"], "J. O.");
        let (_, clear) = call(&app, "GET", &format!("/v1/admin/customers/{id}/history"), &support, None).await;
        assert_eq!(clear["entries"][0]["after"]["email"], "janis@example.lv");
        call(&app, "POST", &format!("/v1/admin/customers/{id}/crm"), &support, Some(json!({"kind": "note", "body": "Jānis, +37120000051, VIP"}))).await;
        let (_, notes) = call(&app, "GET", &format!("/v1/admin/customers/{id}/crm"), &analyst, None).await;
        assert_eq!(notes["entries"][0]["body"], "•••");
        let (_, audit) = call(&app, "GET", "/v1/admin/audit?object_kind=crm_entry", &auditor, None).await;
        assert_eq!(audit["entries"][0]["after"]["body"], "•••");
        assert_eq!(call(&app, "POST", &format!("/v1/admin/customers/{id}/adjustments"), &auditor,
            Some(json!({"operation_id": "a1", "currency": "bonus", "amount": "5", "reason": "x"}))).await.0, 403);
        // A terminal key opens nothing of the admin API.
        assert_eq!(call(&app, "GET", &format!("/v1/admin/customers/{id}"), &app.key, None).await.0, 401);
        // Every refusal says why, with a stable code.
        let (_, body) = call(&app, "GET", "/v1/admin/users", &analyst, None).await;
        assert_eq!(code(&body), "forbidden");
        assert_eq!(body["error"]["details"]["needs"], "users_manage");
    }

    async fn a_store_manager_sees_only_their_stores(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let store = app.store.stores().await.unwrap()[0].id.to_string();
        app.store.create_store(
            loyd_domain::org::StoreSpec { id: loyd_domain::ids::StoreCode::parse("tallinn-01").unwrap(), ..app.store.stores().await.unwrap()[0].clone() },
            None,
        ).await.unwrap();
        let other_key = app.terminal("tallinn-01").await;
        let (_, card) = app.customer_with_card("+37120000061", "LOY").await;
        assert_eq!(app.commit(&receipt("here", Some(&card), "10.00")).await.0, 201);
        assert_eq!(app.commit_as(&other_key, &receipt("there", Some(&card), "20.00")).await.0, 201);
        app.commit(&receipt("fail-here", Some("2770000099999"), "1.00")).await;
        app.commit_as(&other_key, &receipt("fail-there", Some("2770000099999"), "1.00")).await;
        let manager = user(&app, "mo.manager", "store_manager", &[store.as_str()]).await;

        let (_, found) = call(&app, "GET", &format!("/v1/admin/customers?card={card}"), &manager, None).await;
        let id = found["customers"][0]["id"].as_str().unwrap().to_owned();
        let (_, mine) = call(&app, "GET", &format!("/v1/admin/customers/{id}/purchases"), &manager, None).await;
        let stores: Vec<&str> = mine["purchases"].as_array().unwrap().iter().map(|p| p["store"].as_str().unwrap()).collect();
        assert_eq!(stores, [store.as_str()], "{mine}");
        let (_, all) = call(&app, "GET", &format!("/v1/admin/customers/{id}/purchases"), ADMIN_KEY, None).await;
        assert_eq!(all["purchases"].as_array().unwrap().len(), 2);
        assert_eq!(all["purchases"][0]["total"], "20.00");
        assert_eq!(call(&app, "GET", &format!("/v1/admin/customers/{id}/purchases?store=tallinn-01"), &manager, None).await.0, 403);
        let (_, failures) = call(&app, "GET", "/v1/admin/failures", &manager, None).await;
        assert!(!failures["failures"].as_array().unwrap().is_empty());
        assert!(failures["failures"].as_array().unwrap().iter().all(|f| f["store"] == store.as_str()), "{failures}");
        assert_eq!(call(&app, "GET", "/v1/admin/failures?store=tallinn-01", &manager, None).await.0, 403);
        assert_eq!(call(&app, "GET", "/v1/admin/config", &manager, None).await.0, 403);
        // Moving balances between customers is not a store manager's to do.
        let (_, other) = call(&app, "POST", "/v1/admin/customers", &manager, Some(json!({"name": "Walk-in"}))).await;
        let other_id = other["id"].as_str().unwrap();
        assert_eq!(call(&app, "POST", &format!("/v1/admin/customers/{id}/merge"), &manager, Some(json!({"duplicate": other_id}))).await.0, 403);
        let (_, org) = call(&app, "POST", "/v1/admin/organisations", &manager, Some(json!({"name": "Shell Co"}))).await;
        let (status, body) = call(&app, "PATCH", &format!("/v1/admin/customers/{id}"), &manager, Some(json!({"organisation": org["id"]}))).await;
        assert_eq!((status, code(&body)), (403, "forbidden"));
        assert_eq!(call(&app, "GET", &format!("/v1/admin/customers/{id}/statement?currency=bonus&from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z"), &manager, None).await.0, 403);
    }

    async fn logins_lock_after_five_wrong_passwords_and_sessions_end(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let token = user(&app, "sue", "support", &[]).await;
        let (status, me) = call(&app, "GET", "/v1/auth/me", &token, None).await;
        assert_eq!((status, me["name"].as_str(), me["role"].as_str()), (200, Some("user:sue"), Some("support")));
        // Unknown logins and wrong passwords look the same.
        let (s1, b1) = call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "nobody", "password": "whatever-123"}))).await;
        let (s2, b2) = call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "sue", "password": "wrong-password"}))).await;
        assert_eq!((s1, &b1["error"]["message"]), (s2, &b2["error"]["message"]));
        assert_eq!(s1, 401);
        for _ in 0..4 {
            call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "sue", "password": "wrong-password"}))).await;
        }
        let (status, body) = call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "sue", "password": "sue-password-1"}))).await;
        assert_eq!((status, code(&body)), (429, "too_many_attempts"), "{body}");
        // A login that does not exist locks the same way: the lock tells nothing.
        for _ in 0..4 {
            call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "nobody", "password": "whatever-123"}))).await;
        }
        let (status, unknown) = call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "nobody", "password": "whatever-123"}))).await;
        assert_eq!((status, code(&unknown)), (429, "too_many_attempts"), "{unknown}");
        // The session opened before still works until logout.
        assert_eq!(call(&app, "GET", "/v1/auth/me", &token, None).await.0, 200);
        assert_eq!(call(&app, "POST", "/v1/auth/logout", &token, None).await.0, 204);
        assert_eq!(call(&app, "GET", "/v1/admin/customers", &token, None).await.0, 401);
        // After the lock expires the right password works; disabling ends every session.
        app.clock.advance(jiff::SignedDuration::from_mins(16));
        let (status, session) = call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "sue", "password": "sue-password-1"}))).await;
        assert_eq!(status, 201, "{session}");
        let token = session["token"].as_str().unwrap();
        assert_eq!(call(&app, "PATCH", "/v1/admin/users/sue", ADMIN_KEY, Some(json!({"disabled": true}))).await.0, 200);
        assert_eq!(call(&app, "GET", "/v1/auth/me", token, None).await.0, 401);
        // Sessions expire.
        let fresh = user(&app, "tom", "analyst", &[]).await;
        app.clock.advance(jiff::SignedDuration::from_hours(13));
        assert_eq!(call(&app, "GET", "/v1/auth/me", &fresh, None).await.0, 401);
    }

    async fn injection_and_oversized_input_get_a_4xx_and_change_nothing(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        call(&app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(json!({"name": "Robert'); DROP TABLE customers;--"}))).await;
        for query in ["name=%27%20OR%201%3D1%20--", "card=%27%20OR%20%271%27%3D%271", "email=x%27%20OR%201%3D1%40a.lv"] {
            let (status, page) = call(&app, "GET", &format!("/v1/admin/customers?{query}"), ADMIN_KEY, None).await;
            assert!(status == 200 || status == 422, "{query}: {status}");
            if status == 200 {
                assert!(page["customers"].as_array().unwrap().iter().all(|c| c["name"].as_str().unwrap_or("").starts_with("Robert")), "{query}: {page}");
            }
        }
        let (status, found) = call(&app, "GET", "/v1/admin/customers?name=robert", ADMIN_KEY, None).await;
        assert_eq!((status, found["customers"].as_array().unwrap().len()), (200, 1), "the table is still there");
        for bad in [
            json!({"phone": "+371' OR 1=1"}), json!({"email": "a@b"}), json!({"name": "x".repeat(201)}),
            json!({"birth_date": "1990-13-45"}), json!({"consents": {"pigeon": true}}), json!({"profile": {"Bad Key": "v"}}),
            json!({"unknown_field": 1}),
        ] {
            let (status, body) = call(&app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(bad.clone())).await;
            assert_eq!((status, code(&body)), (422, "validation_failed"), "{bad}: {body}");
        }
        let huge = json!({"kind": "note", "body": "x".repeat(2 * 1024 * 1024)});
        // The server answers 413 as soon as it sees the size and may close the connection
        // while the client is still sending: either way the request is refused. A client
        // of its own, so the closing connection is not reused by the requests below.
        let once = reqwest::Client::new();
        match once.post(app.url("/v1/admin/customers/c_1/crm")).bearer_auth(ADMIN_KEY).json(&huge).send().await {
            Ok(res) => assert_eq!(res.status().as_u16(), 413),
            Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
        }
        let (status, _) = call(&app, "POST", "/v1/auth/login", "", Some(json!({"login": "a".repeat(100_000), "password": "p"}))).await;
        assert_eq!(status, 401);
        let (_, page) = call(&app, "GET", "/v1/admin/customers", ADMIN_KEY, None).await;
        assert_eq!(page["customers"].as_array().unwrap().len(), 1, "no refused request created a customer");
    }

    async fn guessing_phones_at_a_terminal_is_rate_limited(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        for n in 0..20 {
            let mut r = receipt(&format!("guess-{n}"), None, "1.00");
            r["customer"] = json!({"phone": format!("+3712999{n:04}")});
            let (status, body) = app.commit(&r).await;
            assert_eq!((status, code(&body)), (404, "unknown_card"));
        }
        let mut r = receipt("guess-21", None, "1.00");
        r["customer"] = json!({"phone": "+37129990021"});
        let (status, body) = app.commit(&r).await;
        assert_eq!((status, code(&body)), (429, "too_many_attempts"), "{body}");
        // Cards still work at that terminal.
        let (_, card) = app.customer_with_card("+37120000071", "LOY").await;
        assert_eq!(app.commit(&receipt("by-card", Some(&card), "1.00")).await.0, 201);
    }

    async fn a_lost_card_is_replaced_and_a_duplicate_merged_with_balances_and_history(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let (keep, card) = app.customer_with_card("+37120000081", "LOY").await;
        let (dup, dup_card) = app.customer_with_card("+37120000082", "LOY").await;
        app.grant(keep, "bonus", 30).await;
        app.grant(dup, "bonus", 12).await;
        // Replacement: the new number carries the balance; the old one is refused.
        let (status, new_card) = call(&app, "POST", &format!("/v1/admin/cards/{card}/replace"), ADMIN_KEY, Some(json!({"number": "2770000012345"}))).await;
        assert_eq!(status, 201, "{new_card}");
        assert_eq!(app.balance("2770000012345", "bonus").await.0, "30");
        let (status, body) = app.commit(&receipt("old-card", Some(&card), "1.00")).await;
        assert_eq!((status, code(&body)), (409, "card_blocked"));
        let (status, body) = call(&app, "POST", &format!("/v1/admin/cards/{card}/replace"), ADMIN_KEY, Some(json!({"number": "2770000012346"}))).await;
        assert_eq!(status, 422, "a card is replaced once: {body}");
        let (status, body) = call(&app, "POST", &format!("/v1/admin/cards/{card}/unblock"), ADMIN_KEY, None).await;
        assert_eq!(status, 422, "a replaced card stays blocked: {body}");
        // Merge: the duplicate's card, points and receipts move to the kept customer.
        assert_eq!(app.commit(&receipt("dup-buys", Some(&dup_card), "10.00")).await.0, 201);
        let (dup_points, _) = app.balance(&dup_card, "bonus").await;
        let (status, merged) = call(&app, "POST", &format!("/v1/admin/customers/c_{keep}/merge"), ADMIN_KEY, Some(json!({"duplicate": format!("c_{dup}")}))).await;
        assert_eq!(status, 200, "{merged}");
        let (points, _) = app.balance("2770000012345", "bonus").await;
        let (via_dup_card, _) = app.balance(&dup_card, "bonus").await;
        assert_eq!(points, via_dup_card, "both cards now show one balance");
        let expected = 30 + dup_points.parse::<i64>().unwrap();
        assert_eq!(points, expected.to_string(), "30 of the kept customer plus everything the duplicate had");
        let (_, old) = call(&app, "GET", &format!("/v1/admin/customers/c_{dup}"), ADMIN_KEY, None).await;
        assert_eq!(old["merged_into"], format!("c_{keep}"));
        assert!(old["phone"].is_null(), "the duplicate gave up its phone");
        let (_, purchases) = call(&app, "GET", &format!("/v1/admin/customers/c_{keep}/purchases"), ADMIN_KEY, None).await;
        assert_eq!(purchases["purchases"].as_array().unwrap().len(), 1);
        // Returning the duplicate's purchase takes its points back from where they are now.
        let before_return = app.balance(&dup_card, "bonus").await.0.parse::<i64>().unwrap();
        let res = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-dup", "receipt_id": "dup-buys", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(res.status(), 201);
        let after_return = app.balance(&dup_card, "bonus").await.0.parse::<i64>().unwrap();
        assert_eq!(before_return - after_return, dup_points.parse::<i64>().unwrap() - 12, "the accrual of the returned receipt is taken back");
        // The duplicate's phone no longer identifies anyone at the POS.
        let mut r = receipt("dup-phone", None, "1.00");
        r["customer"] = json!({"phone": "+37120000082"});
        assert_eq!(app.commit(&r).await.0, 404);
        let audit = app.store.ledger_audit().await.unwrap();
        assert!(audit.is_sound(), "{audit:?}");
    }

    async fn consents_opt_out_and_crm_tasks_work_and_every_change_is_audited(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        user(&app, "sam", "support", &[]).await;
        let (_, c) = call(&app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(json!({"phone": "+37120000091", "consents": {"sms": true, "email": true}}))).await;
        let id = c["id"].as_str().unwrap().to_owned();
        assert_eq!(c["consents"]["sms"]["granted"], true);
        let (_, out) = call(&app, "PATCH", &format!("/v1/admin/customers/{id}"), ADMIN_KEY, Some(json!({"opted_out": true}))).await;
        assert!(out["opted_out_at"].is_string());
        assert!(out["consents"].as_object().unwrap().values().all(|c| c["granted"] == false), "{out}");
        let (status, body) = call(&app, "PATCH", &format!("/v1/admin/customers/{id}"), ADMIN_KEY, Some(json!({"consents": {"sms": true}}))).await;
        assert_eq!(status, 422, "no consent while opted out: {body}");
        // Membership stays: the customer still buys and collects.
        let (status, _) = call(&app, "POST", "/v1/admin/cards", ADMIN_KEY, Some(json!({"series": "LOY", "customer": id, "virtual": true}))).await;
        assert_eq!(status, 201);

        let due = "2026-11-25T09:00:00Z";
        let (status, task) = call(&app, "POST", &format!("/v1/admin/customers/{id}/crm"), ADMIN_KEY,
            Some(json!({"kind": "task", "body": "Call back about the lost card", "due_at": due, "assignee": "sam"}))).await;
        assert_eq!((status, task["status"].as_str()), (201, Some("open")), "{task}");
        let (status, _) = call(&app, "POST", &format!("/v1/admin/customers/{id}/crm"), ADMIN_KEY,
            Some(json!({"kind": "task", "body": "x", "due_at": due, "assignee": "nobody"}))).await;
        assert_eq!(status, 404, "tasks go to existing staff");
        let (_, open) = call(&app, "GET", "/v1/admin/crm?assignee=sam&status=open&due_before=2026-11-26T00:00:00Z", ADMIN_KEY, None).await;
        assert_eq!(open["entries"].as_array().unwrap().len(), 1);
        let task_id = task["id"].as_i64().unwrap();
        let (_, done) = call(&app, "PATCH", &format!("/v1/admin/crm/{task_id}"), ADMIN_KEY, Some(json!({"status": "done"}))).await;
        assert_eq!(done["status"], "done");
        let (_, open) = call(&app, "GET", "/v1/admin/crm?assignee=sam&status=open", ADMIN_KEY, None).await;
        assert!(open["entries"].as_array().unwrap().is_empty());
        let (_, audit) = call(&app, "GET", "/v1/admin/audit?object_kind=crm_entry", ADMIN_KEY, None).await;
        let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["crm.update", "crm.create"]);
        let (_, cards) = call(&app, "GET", "/v1/admin/audit?object_kind=card_series", ADMIN_KEY, None).await;
        assert_eq!(cards["entries"][0]["actor"], "key:ops");
        for _ in 0..2 {
            let (status, _) = call(&app, "POST", &format!("/v1/admin/customers/{id}/adjustments"), ADMIN_KEY,
                Some(json!({"operation_id": "goodwill-7", "currency": "bonus", "amount": "5", "reason": "sorry"}))).await;
            assert_eq!(status, 201);
        }
        let (_, history) = call(&app, "GET", &format!("/v1/admin/customers/{id}/history"), ADMIN_KEY, None).await;
        let adjustments: Vec<&Value> = history["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "balance.adjust").collect();
        assert_eq!(adjustments.len(), 1, "a repeated adjustment is audited once: {history}");
        assert_eq!(adjustments[0]["after"]["amount"], "5");
    }

    async fn contacts_of_an_organisation_share_its_account(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        let (status, org) = call(&app, "POST", "/v1/admin/organisations", ADMIN_KEY, Some(json!({"name": "SIA Koks", "tax_id": "LV40003000001"}))).await;
        assert_eq!(status, 201, "{org}");
        let org_id = org["id"].as_str().unwrap().to_owned();
        let (a, card_a) = app.customer_with_card("+37120000101", "LOY").await;
        let (b, card_b) = app.customer_with_card("+37120000102", "LOY").await;
        app.grant(a, "bonus", 7).await;
        for id in [a, b] {
            let (status, body) = call(&app, "PATCH", &format!("/v1/admin/customers/c_{id}"), ADMIN_KEY, Some(json!({"organisation": org_id}))).await;
            assert_eq!(status, 200, "{body}");
        }
        assert_eq!(app.balance(&card_a, "bonus").await.0, "7", "joining moved A's points to the organisation");
        assert_eq!(app.commit(&receipt("b-buys", Some(&card_b), "100.00")).await.0, 201);
        let (a_sees, _) = app.balance(&card_a, "bonus").await;
        let (b_sees, _) = app.balance(&card_b, "bonus").await;
        assert_eq!(a_sees, b_sees, "one account for both contacts");
        assert_ne!(a_sees, "7", "B's purchase accrued to the shared account");
        let (_, got) = call(&app, "GET", &format!("/v1/admin/organisations/{org_id}"), ADMIN_KEY, None).await;
        assert_eq!(got["contacts"], json!([format!("c_{a}"), format!("c_{b}")]));
        let (status, _) = call(&app, "POST", "/v1/admin/organisations", ADMIN_KEY, Some(json!({"name": "Other", "tax_id": "LV40003000001"}))).await;
        assert_eq!(status, 409);
        call(&app, "POST", "/v1/admin/organisations", ADMIN_KEY, Some(json!({"name": "100% Wood_Co"}))).await;
        let (_, found) = call(&app, "GET", "/v1/admin/organisations?name=koks", ADMIN_KEY, None).await;
        assert_eq!(found["organisations"][0]["contacts"].as_array().unwrap().len(), 2, "{found}");
        let (_, found) = call(&app, "GET", "/v1/admin/organisations?name=%25", ADMIN_KEY, None).await;
        assert_eq!(found["organisations"].as_array().unwrap().len(), 1, "a % in the filter is a percent sign: {found}");
        let (status, note) = call(&app, "POST", &format!("/v1/admin/organisations/{org_id}/crm"), ADMIN_KEY,
            Some(json!({"kind": "event", "channel": "phone", "body": "Agreed the spring order"}))).await;
        assert_eq!(status, 201, "{note}");
        let (_, notes) = call(&app, "GET", &format!("/v1/admin/organisations/{org_id}/crm"), ADMIN_KEY, None).await;
        assert_eq!(notes["entries"][0]["body"], "Agreed the spring order");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn a_replaced_gift_card_keeps_its_value_under_a_new_pin(db: TestDb) {
        let app = spawn_example(db, "s4-gift-card.toml").await;
        admin(&app).await;
        let card = app.issue("GC", None).await.remove(0);
        let (number, pin) = (card.number.clone(), card.pin.clone().unwrap());
        let res = app.pos_post(&format!("/v1/pos/gift-cards/{number}/activate"), &json!({"operation_id": "g1", "amount": "20.00"})).await;
        assert_eq!(res.status(), 201);
        let new_number = format!("{}9", &number[..number.len() - 1]);
        let (status, replaced) = call(&app, "POST", &format!("/v1/admin/cards/{number}/replace"), ADMIN_KEY, Some(json!({"number": new_number}))).await;
        assert_eq!(status, 201, "{replaced}");
        let new_pin = replaced["pin"].as_str().expect("a new PIN, shown once").to_owned();
        let (status, _) = call(&app, "GET", &format!("/v1/pos/cards/{new_number}?pin={pin}"), &app.key, None).await;
        assert_eq!(status, 403, "the old PIN does not open the new card");
        let (status, inquiry) = call(&app, "GET", &format!("/v1/pos/cards/{new_number}?pin={new_pin}"), &app.key, None).await;
        assert_eq!((status, inquiry["balances"][0]["available"].as_str()), (200, Some("20.00")), "{inquiry}");
        let mut pay = receipt("after-replace", None, "5.00");
        pay["gift_cards"] = json!([{"number": number, "pin": pin, "amount": "5.00"}]);
        assert_eq!(app.commit(&pay).await.0, 409, "the old card pays no more");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn the_audit_log_cannot_be_rewritten_or_deleted_even_in_the_database(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        call(&app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(json!({"name": "Ieva"}))).await;
        let db = app_db(&app);
        assert!(db.execute_raw("UPDATE audit_log SET actor = 'someone else'").await.unwrap_err().contains("append-only"));
        assert!(db.execute_raw("DELETE FROM audit_log").await.unwrap_err().contains("append-only"));
        if db.backend() == "postgres" {
            assert!(db.execute_raw("TRUNCATE audit_log").await.unwrap_err().contains("append-only"));
        }
        let (_, audit) = call(&app, "GET", "/v1/admin/audit", ADMIN_KEY, None).await;
        assert_eq!(audit["entries"][0]["actor"], "key:ops");
    }

    async fn a_key_whose_stored_role_this_server_does_not_know_is_refused_not_failed(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        admin(&app).await;
        // As a newer version that knows more roles might have left it.
        app_db(&app).execute_raw("UPDATE api_keys SET role = 'owner' WHERE name = 'ops'").await.unwrap();
        let (status, body) = call(&app, "GET", "/v1/admin/audit", ADMIN_KEY, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
        assert_eq!(body["error"]["message"], "role 'owner' is not known to this server");
    }
}

async fn app_dump(app: &TestApp) -> String {
    app_db(app).dump().await
}

fn app_db(app: &TestApp) -> &loyd_testkit::TestDb {
    app.db()
}
