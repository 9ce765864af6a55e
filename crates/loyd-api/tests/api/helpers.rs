//! `spawn_app`: a real server on a random port over a database of the test's own, with
//! a program loaded from `examples/` and a terminal to call it with.

use std::sync::Arc;

use loyd_api::{ApiConfig, AppState};
use loyd_domain::config::ConfigDocument;
use loyd_domain::ids::{AssetCode, StoreCode, TerminalCode};
use loyd_domain::org::terminal_key_hash;
use loyd_store::{IssueCards, IssuedCard, ManualClock, Store};
use loyd_testkit::TestDb;
use serde_json::{Value, json};

/// The test clock starts here (10:15 in Riga).
pub const START: &str = "2026-11-24T08:15:00Z";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// A terminal key of the program's first store, terminal `pos-1`.
    pub key: String,
    pub clock: Arc<ManualClock>,
    _db: TestDb,
}

const DEFAULT_PROGRAM: &str = r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[stores]]
id = "riga-01"
name = "Riga Centre"
format = "supermarket"
timezone = "Europe/Riga"
"#;

pub fn example(file: &str) -> ConfigDocument {
    let path = format!("{}/../../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A server with a store `riga-01` (EUR) and nothing else configured.
pub async fn spawn_app(db: TestDb) -> TestApp {
    spawn_with(db, toml::from_str(DEFAULT_PROGRAM).unwrap(), ApiConfig::default()).await
}

/// A server running `program`.
pub async fn spawn_with_program(db: TestDb, program: ConfigDocument) -> TestApp {
    spawn_with(db, program, ApiConfig::default()).await
}

/// A server running the program of `examples/<file>`.
pub async fn spawn_example(db: TestDb, file: &str) -> TestApp {
    spawn_with(db, example(file), ApiConfig::default()).await
}

pub async fn spawn_with(db: TestDb, program: ConfigDocument, config: ApiConfig) -> TestApp {
    spawn_at(db, program, config, START).await
}

/// As [`spawn_with`], with the clock (and so the program's version) starting at `start`.
pub async fn spawn_at(db: TestDb, program: ConfigDocument, config: ApiConfig, start: &str) -> TestApp {
    spawn_reading_reports_from(db, program, config, start, None).await
}

/// As [`spawn_at`], with reports read from `reports` (a replica) when given.
pub async fn spawn_reading_reports_from(db: TestDb, program: ConfigDocument, config: ApiConfig, start: &str, reports: Option<Store>) -> TestApp {
    let clock = Arc::new(ManualClock::new(start.parse().unwrap()));
    let store = db.store_with_clock(clock.clone()).await;
    let store_id: StoreCode = program.stores[0].id.clone();
    store.apply_config(program, "test".into(), false).await.expect("the program applies");
    let key = format!("lyt_test_key_{store_id}_pos_1");
    store
        .create_terminal(store_id, TerminalCode::parse("pos-1").unwrap(), terminal_key_hash(&key))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut state = AppState::new(store.clone(), config);
    if let Some(r) = reports {
        state = state.with_reports(r);
    }
    tokio::spawn(loyd_api::serve(listener, state, std::future::pending()));
    TestApp { base, client: reqwest::Client::new(), store, key, clock, _db: db }
}

impl TestApp {
    /// The test's database, for looking under Loyd's hood.
    pub fn db(&self) -> &TestDb {
        &self._db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn pos_get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(&self.key).send().await.unwrap()
    }

    pub async fn pos_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(&self.key).json(body).send().await.unwrap()
    }

    /// Commits a receipt; returns status and body.
    pub async fn commit(&self, body: &Value) -> (u16, Value) {
        let res = self.pos_post("/v1/pos/receipts", body).await;
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// A key of a new terminal `pos-1` of `store`.
    pub async fn terminal(&self, store: &str) -> String {
        let key = format!("lyt_test_key_{store}_pos_1");
        self.store
            .create_terminal(StoreCode::parse(store).unwrap(), TerminalCode::parse("pos-1").unwrap(), terminal_key_hash(&key))
            .await
            .unwrap();
        key
    }

    /// A key of a new terminal `terminal` of `store`.
    pub async fn terminal_key(&self, store: &str, terminal: &str) -> String {
        let key = format!("lyt_test_key_{store}_{terminal}");
        self.store
            .create_terminal(StoreCode::parse(store).unwrap(), TerminalCode::parse(terminal).unwrap(), terminal_key_hash(&key))
            .await
            .unwrap();
        key
    }

    /// Commits a receipt with another terminal's key.
    pub async fn commit_as(&self, key: &str, body: &Value) -> (u16, Value) {
        let res = self.client.post(self.url("/v1/pos/receipts")).bearer_auth(key).json(body).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// A customer with a loyalty card of `series`; returns (customer id, card number).
    pub async fn customer_with_card(&self, phone: &str, series: &str) -> (i64, String) {
        let new = loyd_store::NewCustomer { phone: Some(phone.into()), name: Some("Test Customer".into()), ..Default::default() };
        let c = self.store.create_customer(new, "test".into()).await.unwrap();
        let card = self.issue(series, Some(c.id)).await.remove(0);
        (c.id, card.number)
    }

    pub async fn issue(&self, series: &str, customer: Option<i64>) -> Vec<IssuedCard> {
        self.store
            .issue_cards(IssueCards { series: series.into(), count: 1, customer, number: None, virtual_card: false, operation_id: None }, "test".into())
            .await
            .unwrap()
    }

    pub async fn grant(&self, customer: i64, currency: &str, amount: i64) {
        self.store
            .adjust_balance(format!("grant-{customer}-{amount}"), customer, AssetCode::parse(currency).unwrap(), amount, "test".into(), "test".into())
            .await
            .unwrap();
    }

    /// The customer's available balance in `currency`, read through the POS inquiry.
    pub async fn balance(&self, card: &str, currency: &str) -> (String, String) {
        let res = self.pos_get(&format!("/v1/pos/cards/{card}")).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        body["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["currency"] == currency)
            .map(|b| (b["available"].as_str().unwrap().to_owned(), b["pending"].as_str().unwrap().to_owned()))
            .unwrap_or_else(|| ("0".into(), "0".into()))
    }

    /// The failure log's codes, newest first.
    pub async fn failure_codes(&self) -> Vec<String> {
        self.store
            .failures(loyd_store::FailureFilter { limit: 100, ..Default::default() })
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.code)
            .collect()
    }
}

/// A receipt of one line of `amount` in group `misc`.
pub fn receipt(id: &str, card: Option<&str>, amount: &str) -> Value {
    let mut r = json!({
        "receipt_id": id,
        "lines": [{"line": 1, "sku": "X", "groups": ["misc"], "qty": "1", "price": amount, "amount": amount}]
    });
    if let Some(card) = card {
        r["customer"] = json!({"card": card});
    }
    r
}

/// Reads an error response and checks it has the contract's shape; returns the code.
pub async fn error_code(res: reqwest::Response) -> String {
    let body: Value = res.json().await.expect("error bodies are JSON");
    let error = body.get("error").expect("error bodies have an `error` object");
    assert!(error.get("message").and_then(|m| m.as_str()).is_some_and(|m| !m.is_empty()), "{body}");
    error["code"].as_str().expect("error code is a string").to_owned()
}

/// The admin API key [`admin`] creates.
pub const ADMIN_KEY: &str = "lya_test_admin_key";

/// Gives the app an admin API key, [`ADMIN_KEY`].
pub async fn admin(app: &TestApp) {
    app.store.create_api_key("ops".into(), terminal_key_hash(ADMIN_KEY), loyd_domain::access::Role::Admin).await.unwrap();
}

/// Calls the API with a bearer token; returns the status and the body (JSON, a JSON
/// string for any other text, `null` when empty).
pub async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method.parse().unwrap(), app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    // A server refusing an oversized body may close the connection before the client
    // has read the answer's body; the status is what counts then.
    let text = res.text().await.unwrap_or_default();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

/// A staff user of `role` (limited to `stores`), logged in: returns the session token.
pub async fn staff(app: &TestApp, login: &str, role: &str, stores: &[&str]) -> String {
    let password = format!("{login}-password-1");
    app.store
        .create_user(
            loyd_store::NewUser {
                login: login.into(),
                password: password.clone(),
                role: loyd_domain::access::Role::parse(role).expect("a role"),
                stores: stores.iter().map(|s| s.to_string()).collect(),
                email: None,
            },
            "test".into(),
        )
        .await
        .unwrap();
    let (status, session) = call(app, "POST", "/v1/auth/login", "", Some(json!({"login": login, "password": password}))).await;
    assert_eq!(status, 201, "{session}");
    session["token"].as_str().unwrap().to_owned()
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}
