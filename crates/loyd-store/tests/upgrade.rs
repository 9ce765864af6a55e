//! Upgrades: a database as an older Loyd left it, opened by this one.

use loyd_testkit::both_backends;

both_backends! {
    async fn returns_and_cancellations_made_before_the_sales_aggregates_are_added_with_their_receipts_and_campaigns_without_the_cancelled(db: TestDb) {
        // Version 12 had no aggregates: a receipt partly returned, one cancelled, one kept.
        loyd_store::migrate_to(&db.url, 12).await.unwrap();
        let offline = if db.backend() == "postgres" { "false" } else { "0" };
        db.execute_raw("INSERT INTO stores (id, name, timezone, created_at, updated_at) VALUES ('riga-01', 'Riga', 'Europe/Riga', 0, 0)").await.unwrap();
        // 2026-12-05 23:30 UTC is already the 6th in Riga.
        let at = 1_796_513_400_000_000i64;
        // Each receipt had 1.00 off by one campaign.
        let given = r#"{"lines":[{"applied":[{"campaign":"club","kind":"discount","amount":"1.00"}]}]}"#;
        for (id, status, total, paid_back) in [("1", "committed", 1000, 250), ("2", "cancelled", 700, 700), ("3", "committed", 300, 0)] {
            db.execute_raw(&format!(
                "INSERT INTO receipts (store_id, terminal_id, receipt_id, at, status, config_version, total, discount, redeemed_value, \
                 gift_card_value, offline, request_hash, response, effects, returned, recorded_at, returned_paid) \
                 VALUES ('riga-01', 'pos-1', '{id}', {at}, '{status}', 1, {total}, 100, 0, 0, {offline}, 'h', '{given}', '{{}}', '{{}}', 0, {paid_back})"
            ))
            .await
            .unwrap();
        }
        let store = db.store().await;
        assert_eq!(store.roll_up(500).await.unwrap(), 3);
        assert_eq!(store.roll_up(500).await.unwrap(), 0);
        let days = store.store_days(vec!["riga-01".into()], jiff::civil::date(2026, 12, 1), jiff::civil::date(2026, 12, 31)).await.unwrap();
        assert_eq!(days.len(), 1, "{days:?}");
        let d = &days[0];
        assert_eq!(d.day, jiff::civil::date(2026, 12, 6), "the store's own day");
        assert_eq!((d.receipts, d.total, d.returns, d.cancelled, d.cancelled_total, d.paid_back), (3, 2000, 1, 1, 700, 950), "{d:?}");
        // The campaign's figures leave out the receipt cancelled before the upgrade.
        let c = store.campaign_days(jiff::civil::date(2026, 12, 1), jiff::civil::date(2026, 12, 31), None, None, false).await.unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!((c[0].campaign.as_str(), c[0].currency.as_str(), c[0].receipts, c[0].revenue, c[0].discount), ("club", "EUR", 2, 1100, 200), "{c:?}");
    }

    async fn an_upgrade_removes_pins_and_one_time_codes_kept_by_earlier_versions(db: TestDb) {
        // Version 8 kept each receipt's request whole, PINs and one-time codes included,
        // and logged a PIN sent as a JSON number with its value.
        loyd_store::migrate_to(&db.url, 8).await.unwrap();
        let offline = if db.backend() == "postgres" { "false" } else { "0" };
        // A receipt of 200 lines: its row spills into SQLite's overflow pages.
        let many: Vec<String> = (1..=200)
            .map(|n| format!(r#"{{"line":{n},"sku":"SKU-{n:05}","groups":["dairy"],"qty":"1","amount":"1.00"}}"#))
            .collect();
        let big = format!(
            r#"{{"receipt_id":"4","customer":{{"card":"2770000000033"}},"lines":[{}],"redeem":[],"gift_cards":[{{"number":"6000000000035","pin":"5926","amount":"2.00"}}],"coupons":[],"payments":{{"note":"a\u0000b"}}}}"#,
            many.join(",")
        );
        let legacy = [
            (1, r#"{"receipt_id":"1","customer":{"card":"2770000000017"},"lines":[],"redeem":[],"gift_cards":[{"number":"6000000000019","pin":"1712","amount":"5.00"},{"number":"6000000000027","pin":"8403","amount":"1.00"}],"coupons":[]}"#.to_owned()),
            (2, r#"{"receipt_id":"2","customer":{"code":"483920"},"lines":[],"redeem":[],"gift_cards":[],"coupons":[]}"#.to_owned()),
            (3, r#"{"receipt_id":"3","customer":{"card":"2770000000025"},"lines":[],"redeem":[],"gift_cards":[],"coupons":[]}"#.to_owned()),
            (4, big),
        ];
        for (id, request) in &legacy {
            let request = request.replace('\'', "''");
            let sql = format!(
                "INSERT INTO receipts (store_id, terminal_id, receipt_id, at, status, config_version, total, discount, redeemed_value, \
                 gift_card_value, offline, request_hash, response, effects, returned, recorded_at, request) \
                 VALUES ('riga-01', 'pos-1', '{id}', 0, 'committed', 1, 0, 0, 0, 0, {offline}, 'h', '{{}}', '{{}}', '{{}}', 0, '{request}')"
            );
            db.execute_raw(&sql).await.unwrap();
        }
        for message in [
            "Failed to deserialize the JSON body into the target type: gift_cards[0].pin: invalid type: integer `1712`, expected a string",
            "the receipt does not match the expected shape: invalid type: integer `8403`, expected a string",
            "Failed to deserialize the JSON body into the target type: customer.code: invalid type: integer `483920`, expected a string",
        ] {
            db.execute_raw(&format!(
                "INSERT INTO failures (at, operation, code, message) VALUES (0, 'commit', 'validation_failed', '{message}')"
            ))
            .await
            .unwrap();
        }

        let store = db.store().await;
        let dump = db.dump().await;
        // Searched in the shapes a stored secret takes (a JSON string or number, a
        // quoted value in a message), as the hardening tests do: four bare digits also
        // turn up by chance inside timestamps, hashes and sealed values.
        for secret in ["1712", "8403", "483920", "5926"] {
            for shape in [format!("\"{secret}\""), format!("`{secret}`"), format!(":{secret},"), format!(":{secret}}}")] {
                assert!(!dump.contains(&shape), "{secret} survived the upgrade ({shape})");
            }
        }
        // What is no secret stays, in its shape: the gift cards as objects with their
        // numbers and amounts, the card a receipt named, every line.
        let kept = db.texts("SELECT request FROM receipts ORDER BY receipt_id").await;
        let request = |id: &str| -> serde_json::Value {
            let r: serde_json::Value = serde_json::from_str(&kept[id.parse::<usize>().unwrap() - 1]).unwrap();
            assert_eq!(r["receipt_id"], id);
            r
        };
        let first = request("1");
        assert_eq!(first["gift_cards"][0], serde_json::json!({"number": "6000000000019", "amount": "5.00"}), "{first}");
        assert_eq!(first["gift_cards"][1], serde_json::json!({"number": "6000000000027", "amount": "1.00"}));
        assert_eq!(first["customer"], serde_json::json!({"card": "2770000000017"}));
        assert!(request("2").get("customer").is_none(), "a customer named by a one-time code is named by id only");
        let fourth = request("4");
        assert_eq!(fourth["lines"].as_array().unwrap().len(), 200);
        assert_eq!(fourth["gift_cards"][0], serde_json::json!({"number": "6000000000035", "amount": "2.00"}));
        let failures = store.failures(loyd_store::FailureFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(failures.len(), 3, "the refusals themselves stay");
        assert!(failures.iter().all(|f| f.code == "validation_failed"));
    }
}
