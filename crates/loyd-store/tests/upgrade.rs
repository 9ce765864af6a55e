//! Upgrades: a database as an older Loyd left it, opened by this one.

use loyd_testkit::both_backends;

both_backends! {
    async fn an_upgrade_removes_pins_and_one_time_codes_kept_by_earlier_versions(db: TestDb) {
        // Version 8 kept each receipt's request whole, PINs and one-time codes included,
        // and logged a PIN sent as a JSON number with its value.
        loyd_store::migrate_to(&db.url, 8).await.unwrap();
        let offline = if db.backend() == "postgres" { "false" } else { "0" };
        let legacy = [
            (1, r#"{"receipt_id":"1","customer":{"card":"2770000000017"},"lines":[],"gift_cards":[{"number":"6000000000019","pin":"1712","amount":"5.00"},{"number":"6000000000027","pin":"8403","amount":"1.00"}],"coupons":[]}"#),
            (2, r#"{"receipt_id":"2","customer":{"code":"483920"},"lines":[],"gift_cards":[],"coupons":[]}"#),
            (3, r#"{"receipt_id":"3","customer":{"card":"2770000000025"},"lines":[],"gift_cards":[],"coupons":[]}"#),
        ];
        for (id, request) in legacy {
            let sql = format!(
                "INSERT INTO receipts (store_id, terminal_id, receipt_id, at, status, config_version, total, discount, redeemed_value, \
                 gift_card_value, offline, request_hash, response, effects, returned, recorded_at, request) \
                 VALUES ('riga-01', 'pos-1', '{id}', 0, 'committed', 1, 0, 0, 0, 0, {offline}, 'h', '{{}}', '{{}}', '{{}}', 0, '{request}')"
            );
            db.execute_raw(&sql).await.unwrap();
        }
        db.execute_raw(
            "INSERT INTO failures (at, operation, code, message) VALUES (0, 'commit', 'validation_failed', \
             'Failed to deserialize the JSON body into the target type: gift_cards[0].pin: invalid type: integer `1712`, expected a string')",
        )
        .await
        .unwrap();

        let store = db.store().await;
        let dump = db.dump().await;
        for secret in ["1712", "8403", "483920"] {
            assert!(!dump.contains(secret), "{secret} survived the upgrade");
        }
        // What is no secret stays: the card numbers, amounts and the card a receipt named.
        for kept in ["6000000000019", "6000000000027", "5.00", "2770000000017", "2770000000025"] {
            assert!(dump.contains(kept), "{kept} was lost");
        }
        let failures = store.failures(loyd_store::FailureFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!((failures.len(), failures[0].code.as_str()), (1, "validation_failed"), "the refusal itself stays");
    }
}
