//! `spawn_app`: a real server on a random port over a database of the test's own.

use std::sync::Arc;

use loyd_api::{ApiConfig, AppState};
use loyd_domain::ids::{StoreCode, TerminalCode};
use loyd_domain::org::{StoreSpec, TimeZoneName, terminal_key_hash};
use loyd_store::{ManualClock, Store};
use loyd_testkit::TestDb;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// A terminal key of store `riga-01`, terminal `pos-1`.
    pub key: String,
    #[allow(dead_code)] // moved by tests of time-dependent rules
    pub clock: Arc<ManualClock>,
    _db: TestDb,
}

pub async fn spawn_app(db: TestDb) -> TestApp {
    spawn_app_with(db, ApiConfig::default()).await
}

pub async fn spawn_app_with(db: TestDb, config: ApiConfig) -> TestApp {
    let clock = Arc::new(ManualClock::new("2026-11-24T08:15:00Z".parse().unwrap()));
    let store = db.store_with_clock(clock.clone()).await;
    store
        .create_store(StoreSpec {
            id: StoreCode::parse("riga-01").unwrap(),
            name: "Riga Centre".into(),
            format: Some(StoreCode::parse("supermarket").unwrap()),
            timezone: TimeZoneName::parse("Europe/Riga").unwrap(),
        })
        .await
        .unwrap();
    let key = "lyt_test_key_riga_01_pos_1".to_owned();
    store
        .create_terminal(StoreCode::parse("riga-01").unwrap(), TerminalCode::parse("pos-1").unwrap(), terminal_key_hash(&key))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(store.clone(), config);
    tokio::spawn(loyd_api::serve(listener, state, std::future::pending()));
    TestApp { base, client: reqwest::Client::new(), store, key, clock, _db: db }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn pos_get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(&self.key).send().await.unwrap()
    }
}

/// Reads an error response and checks it has the contract's shape; returns the code.
pub async fn error_code(res: reqwest::Response) -> String {
    let body: serde_json::Value = res.json().await.expect("error bodies are JSON");
    let error = body.get("error").expect("error bodies have an `error` object");
    assert!(error.get("message").and_then(|m| m.as_str()).is_some_and(|m| !m.is_empty()), "{body}");
    error["code"].as_str().expect("error code is a string").to_owned()
}
