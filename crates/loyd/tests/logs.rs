//! The server's logs at the most verbose level hold no secret and no personal data: no
//! PIN, phone, e-mail, name, password or key, whether it came in a query string, a
//! path or a body. Real process, both backends.

use loyd_testkit::both_backends;
use serde_json::json;

mod common;
use common::{last_line, loyd, serve};

both_backends! {
    async fn trace_logs_hold_no_pin_phone_email_name_password_or_key(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let program = format!("{}/../../examples/s4-gift-card.toml", env!("CARGO_MANIFEST_DIR"));
        loyd(dir.path(), &db, &["apply", "-f", &program]);
        let key = last_line(&loyd(dir.path(), &db, &["terminal", "create", "--store", "riga-01", "--terminal", "pos-1"]));
        let api_key = last_line(&loyd(dir.path(), &db, &["api-key", "create", "--name", "ops", "--role", "admin"]));
        let issued = loyd(dir.path(), &db, &["card", "issue", "--series", "GC"]);
        let mut fields = issued.lines().nth(1).unwrap().split('\t');
        let (gift, pin) = (fields.next().unwrap().to_owned(), fields.next().unwrap().to_owned());

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("server.log");
        let mut server = serve(dir.path(), &db, port, &[("LOYD_LOG", "trace")], Some(&log)).await;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let (phone, email, name, password) = ("+37129990123", "zelma.ozola@example.lv", "Zelma Ozola", "Zelma-Secret-Password-77");
        let res = client.post(format!("{base}/v1/pos/gift-cards/{gift}/activate")).bearer_auth(&key)
            .json(&json!({"operation_id": "a1", "amount": "20.00"})).send().await.unwrap();
        assert_eq!(res.status(), 201);
        // Secrets and personal data in query strings, paths and bodies, accepted and refused.
        for url in [
            format!("{base}/v1/pos/cards/{gift}?pin={pin}"),
            format!("{base}/v1/pos/cards/{gift}?pin=9{pin}"),
            format!("{base}/v1/admin/customers?phone=%2B37129990123"),
            format!("{base}/v1/admin/customers?email={email}"),
            format!("{base}/v1/admin/customers?name=Zelma%20Ozola"),
        ] {
            let token = if url.contains("/admin/") { &api_key } else { &key };
            client.get(&url).bearer_auth(token).send().await.unwrap();
        }
        let res = client.post(format!("{base}/v1/admin/customers")).bearer_auth(&api_key)
            .json(&json!({"phone": phone, "email": email, "name": name})).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let receipt = json!({"receipt_id": "r1", "customer": {"phone": phone}, "gift_cards": [{"number": gift, "pin": pin, "amount": "5.00"}],
                             "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "10.00"}]});
        let res = client.post(format!("{base}/v1/pos/receipts")).bearer_auth(&key).json(&receipt).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let mut wrong = receipt.clone();
        wrong["receipt_id"] = json!("r2");
        wrong["gift_cards"][0]["pin"] = json!(pin.parse::<u64>().unwrap());
        client.post(format!("{base}/v1/pos/receipts")).bearer_auth(&key).json(&wrong).send().await.unwrap();
        client.post(format!("{base}/v1/admin/users")).bearer_auth(&api_key)
            .json(&json!({"login": "zelma", "password": password, "role": "support"})).send().await.unwrap();
        client.post(format!("{base}/v1/auth/login")).json(&json!({"login": "zelma", "password": password})).send().await.unwrap();
        client.post(format!("{base}/v1/auth/login")).json(&json!({"login": "zelma", "password": format!("{password}x")})).send().await.unwrap();
        server.kill().unwrap();
        server.wait().unwrap();

        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("/v1/pos/cards/"), "the log is at trace level and names requests: {}", &text[..text.len().min(2000)]);
        assert!(text.contains("pin=***"), "a redacted query is still shown");
        for (what, secret) in [
            ("terminal key", key.as_str()), ("API key", api_key.as_str()), ("password", password),
            ("phone", "29990123"), ("e-mail", "zelma.ozola"), ("name", "Ozola"),
        ] {
            assert!(!text.contains(secret), "the log holds the {what}");
        }
        for shape in [format!("pin={pin}"), format!("\"{pin}\""), format!("`{pin}`"), format!("pin: {pin}")] {
            assert!(!text.contains(&shape), "the log holds the PIN as {shape}");
        }
    }
}
