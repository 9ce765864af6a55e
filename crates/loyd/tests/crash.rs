//! The server killed with SIGKILL in the middle of a stream of commits, then restarted:
//! every commit that was answered 201 is there, none is there twice, and the ledger is
//! sound. Real processes, real databases, both backends.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use loyd_testkit::both_backends;
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod common;
use common::{last_line, loyd, serve};

both_backends! {
    async fn commits_answered_201_survive_a_sigkill_and_none_is_applied_twice(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let program = format!("{}/../../examples/s10-returns.toml", env!("CARGO_MANIFEST_DIR"));
        loyd(dir.path(), &db, &["apply", "-f", &program]);
        let key = last_line(&loyd(dir.path(), &db, &["terminal", "create", "--store", "riga-01", "--terminal", "pos-1"]));
        let customer = last_line(&loyd(dir.path(), &db, &["customer", "create", "--phone", "+37120000777"]));
        let card = loyd(dir.path(), &db, &["card", "issue", "--series", "LOY", "--customer", &customer]);
        let card = card.lines().nth(1).unwrap().split('\t').next().unwrap().to_owned();

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = serve(dir.path(), &db, port, &[], None).await;
        let url = format!("http://127.0.0.1:{port}/v1/pos/receipts");
        let answered: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let mut writers = Vec::new();
        for w in 0..6 {
            let (client, url, key, card, answered) = (client.clone(), url.clone(), key.clone(), card.clone(), answered.clone());
            writers.push(tokio::spawn(async move {
                for n in 0.. {
                    let id = format!("w{w}-{n}");
                    let body = json!({"receipt_id": id, "customer": {"card": card},
                                      "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "10.00"}]});
                    match client.post(&url).bearer_auth(&key).json(&body).send().await {
                        Ok(res) if res.status() == 201 => answered.lock().await.push((id, res.json().await.unwrap())),
                        Ok(res) => panic!("unexpected status {}", res.status()),
                        // The server is gone: stop this writer.
                        Err(_) => return,
                    }
                }
            }));
        }
        // Let commits flow, then kill the server without warning.
        while answered.lock().await.len() < 150 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        for w in writers {
            w.await.unwrap();
        }
        let answered = answered.lock().await.clone();
        assert!(answered.len() >= 150);

        let mut server = serve(dir.path(), &db, port, &[], None).await;
        let store = db.store_of_cli(dir.path()).await;
        let committed: Vec<String> = store.receipt_ids("riga-01".into(), "pos-1".into()).await.unwrap();
        let unique: BTreeSet<&String> = committed.iter().collect();
        assert_eq!(unique.len(), committed.len(), "a receipt is there twice");
        for (id, _) in &answered {
            assert!(unique.contains(id), "receipt {id} was answered 201 but is lost");
        }
        // Each committed receipt earned exactly 10 points, once.
        let res = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/v1/pos/cards/{card}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let inquiry: Value = res.json().await.unwrap();
        assert_eq!(inquiry["balances"][0]["available"], (committed.len() * 10).to_string());
        // A retry of an answered receipt returns its original answer and changes nothing.
        let (id, original) = &answered[answered.len() / 2];
        let body = json!({"receipt_id": id, "customer": {"card": card},
                          "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "10.00"}]});
        let again: Value = reqwest::Client::new().post(&url).bearer_auth(&key).json(&body).send().await.unwrap().json().await.unwrap();
        assert_eq!(&again, original);
        assert_eq!(store.receipt_ids("riga-01".into(), "pos-1".into()).await.unwrap().len(), committed.len());
        server.kill().unwrap();
        server.wait().unwrap();
        let verify = loyd(dir.path(), &db, &["ledger", "verify"]);
        assert!(verify.contains("sound"), "{verify}");
    }
}
