//! The dataset: a program, stores and terminals, customers with cards, gift cards and a
//! receipt history of a chosen size.
//!
//! Customers come in through the importer (sealed personal data, blind indexes, cards),
//! as a retailer's would. The history is one real receipt committed through the engine,
//! copied in bulk by SQL with fresh ids, times, customers and ledger rows (a transfer
//! and a lot per receipt, account totals updated to match), so ten million receipts take
//! minutes instead of hours and the ledger stays sound.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use loyd_domain::config::ConfigDocument;
use loyd_domain::ids::{StoreCode, TerminalCode};
use loyd_domain::org::{terminal_key_from_bytes, terminal_key_hash};
use loyd_domain::receipt::ReceiptRequest;
use loyd_store::{DatabaseUrl, ImportRow, IssueCards, NewCustomer, PosCaller, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Connection, Executor};

/// Points every history receipt earned: enough for the redemptions of a load run.
pub const HISTORY_POINTS_PER_RECEIPT: &str = "100.00";
const TEMPLATE_RECEIPT: &str = "bench-template";
const IMPORT_BATCH: usize = 1000;
const HISTORY_CHUNK: u64 = 100_000;

/// What a dataset is made of; a dataset on disk is reused only when all of it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub backend: String,
    pub stores: u32,
    pub terminals: u32,
    pub customers: u64,
    pub history: u64,
}

/// A terminal the load drives.
#[derive(Debug, Clone)]
pub struct Terminal {
    pub store: String,
    pub id: String,
    pub key: String,
}

/// A gift card ready to be sold at a till.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GiftCard {
    pub number: String,
    pub pin: String,
}

pub fn store_code(i: u32) -> String {
    format!("s{:03}", i + 1)
}

/// Terminal `i` belongs to store `i mod stores`; its key is derived from its name, so a
/// reused dataset's keys are known without storing them.
pub fn terminal(i: u32, stores: u32) -> Terminal {
    let store = store_code(i % stores);
    let id = format!("t{:04}", i + 1);
    let bytes: [u8; 32] = Sha256::digest(format!("loyd-bench terminal {store}/{id}").as_bytes()).into();
    Terminal { store, id, key: terminal_key_from_bytes(bytes) }
}

/// The admin API key the mixed load reads purchase pages with.
pub const ADMIN_KEY: &str = "lya_loyd_bench_back_office_key";

/// Loyalty card number of customer `i` (0-based), in the `LOY` series.
pub fn card_number(i: u64) -> String {
    format!("2770{i:09}")
}

/// The benchmark's program: points with exceptions and redemption, an accumulated
/// discount with a yearly counter, group and weekend discounts, gift cards.
pub fn program(stores: u32) -> anyhow::Result<ConfigDocument> {
    let mut text = String::from(include_str!("../program.toml"));
    for i in 0..stores {
        text.push_str(&format!(
            "\n[[stores]]\nid = \"{}\"\nname = \"Store {}\"\nformat = \"supermarket\"\ntimezone = \"Europe/Riga\"\ncurrency = \"EUR\"\n",
            store_code(i),
            i + 1
        ));
    }
    let doc: ConfigDocument = toml::from_str(&text).context("the benchmark program")?;
    if let Err(problems) = doc.validate() {
        bail!("the benchmark program: {problems:?}");
    }
    Ok(doc)
}

/// What `--triggers` adds to the program: an SMS gateway (nothing is sent: the bench
/// runs no delivery worker) and a message for every event a receipt may raise, so that
/// every receipt of an identified customer writes its events to the outbox.
const TRIGGERS: &str = r#"
[sms]
url = "http://127.0.0.1:9/sms"
body = "{{ text }}"

[[messages]]
id = "accrued"
event = "points.accrued"
channel = "sms"
min_amount = "100"
texts.en.body = "+{{ points.amount }} {{ points.currency }}: {{ points.balance }}"

[[messages]]
id = "redeemed"
event = "points.redeemed"
channel = "sms"
balance_below = "50"
texts.en.body = "{{ points.balance }} {{ points.currency }} left"

[[messages]]
id = "tier"
event = "tier.changed"
channel = "sms"
texts.en.body = "{{ tier.to }}"

[[messages]]
id = "coupon"
event = "coupon.issued"
channel = "sms"
texts.en.body = "{{ coupon.code }}"

[[messages]]
id = "gift"
event = "gift.due"
channel = "sms"
texts.en.body = "{{ gift.gift }}"
"#;

/// The benchmark's program, with the messages of [`TRIGGERS`] when `triggers`.
pub fn program_with(stores: u32, triggers: bool) -> anyhow::Result<ConfigDocument> {
    let mut doc = program(stores)?;
    if triggers {
        let more: ConfigDocument = toml::from_str(TRIGGERS).context("the triggers")?;
        doc.sms = more.sms;
        doc.messages = more.messages;
    }
    Ok(doc)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = format!("{what:<22} {{bar:40}} {{pos}}/{{len}} [{{elapsed_precise}}, {{eta}} left]");
    bar.set_style(ProgressStyle::with_template(&style).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// The database of a run: PostgreSQL database `pg_database` on the given server, or
/// `loyd.db` under the bench directory.
pub fn database_url(backend: &str, pg_server: &str, pg_database: &str, dir: &Path) -> DatabaseUrl {
    match backend {
        "postgres" => DatabaseUrl::Postgres(format!("{}/{pg_database}", pg_server.trim_end_matches('/'))),
        _ => DatabaseUrl::Sqlite(dir.join("loyd.db")),
    }
}

fn marker(dir: &Path, backend: &str) -> PathBuf {
    dir.join(format!("dataset-{backend}.json"))
}

/// Whether a dataset of exactly this shape is already there.
pub fn existing(dir: &Path, shape: &Shape) -> bool {
    std::fs::read(marker(dir, &shape.backend))
        .ok()
        .and_then(|b| serde_json::from_slice::<Shape>(&b).ok())
        .is_some_and(|s| s == *shape)
}

/// Drops whatever was there, so a new dataset starts empty.
pub async fn wipe(dir: &Path, shape: &Shape, pg_server: &str, pg_database: &str) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(marker(dir, &shape.backend));
    if shape.backend == "postgres" {
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", pg_server.trim_end_matches('/')))
            .await
            .with_context(|| format!("connecting to PostgreSQL at {pg_server}"))?;
        // The name is checked by the command line parser: lowercase letters, digits, `_`.
        for sql in [format!("DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)"), format!("CREATE DATABASE {pg_database}")] {
            admin.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))).await?;
        }
    } else {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("loyd.db{suffix}")));
        }
    }
    Ok(())
}

/// Builds the dataset into an empty database.
pub async fn build(store: &Store, dir: &Path, shape: &Shape, url: &DatabaseUrl) -> anyhow::Result<()> {
    let started = Instant::now();
    let applied = store.apply_config(program(shape.stores)?, "loyd-bench".into(), false).await?;
    println!("program: {} change(s), version {:?}", applied.steps.len(), applied.version);

    let b = bar(u64::from(shape.terminals), "terminals");
    for i in 0..shape.terminals {
        let t = terminal(i, shape.stores);
        store.create_terminal(StoreCode::parse(&t.store)?, TerminalCode::parse(&t.id)?, terminal_key_hash(&t.key)).await?;
        b.inc(1);
    }
    b.finish();

    let b = bar(shape.customers, "customers (import)");
    let mut next = 0u64;
    while next < shape.customers {
        let end = (next + IMPORT_BATCH as u64).min(shape.customers);
        let rows = (next..end)
            .map(|i| ImportRow {
                line: i + 2,
                customer: NewCustomer {
                    phone: Some(format!("+3712{i:07}")),
                    email: Some(format!("customer{i}@example.lv")),
                    name: Some(format!("Customer {i}")),
                    consents: [("sms".to_owned(), i % 3 == 0)].into_iter().collect(),
                    ..NewCustomer::default()
                },
                cards: vec![card_number(i)],
            })
            .collect();
        let outcomes = store.import_customers(rows, Some("LOY".into()), "loyd-bench".into()).await?;
        if let Some(bad) = outcomes.iter().find(|o| o.result.is_err()) {
            bail!("customer import refused line {}: {:?}", bad.line, bad.result);
        }
        b.inc(end - next);
        next = end;
    }
    b.finish();

    if shape.history > 0 {
        history(store, shape, url).await?;
    }
    let shape_json = serde_json::to_vec_pretty(shape)?;
    std::fs::write(marker(dir, &shape.backend), shape_json)?;
    println!("dataset built in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Gift cards for this run, fresh each run (a sold card cannot be sold again).
pub async fn gift_cards(store: &Store, count: u32) -> anyhow::Result<Vec<GiftCard>> {
    let issued = store
        .issue_cards(IssueCards { series: "GC".into(), count, customer: None, number: None, virtual_card: false, operation_id: None }, "loyd-bench".into())
        .await?;
    Ok(issued.into_iter().map(|c| GiftCard { number: c.number, pin: c.pin.unwrap_or_default() }).collect())
}

/// Commits the template receipt through the engine, then copies it `history` times.
async fn history(store: &Store, shape: &Shape, url: &DatabaseUrl) -> anyhow::Result<()> {
    let spec = store.store(&StoreCode::parse(store_code(0))?).await?.context("store s001")?;
    // The history is dated over the past months: no time window applies to it.
    let time = loyd_domain::receipt::TimePolicy { opened_at: None, offline_days: loyd_domain::org::MAX_OFFLINE_DAYS };
    let caller = PosCaller { store: store.store_context(&spec).await?, store_name: spec.name.clone(), terminal: TerminalCode::parse("t0001")?, time };
    let request: ReceiptRequest = serde_json::from_value(serde_json::json!({
        "receipt_id": TEMPLATE_RECEIPT,
        "customer": {"card": card_number(0)},
        "lines": [{"line": 1, "sku": "HIST", "qty": "1", "amount": HISTORY_POINTS_PER_RECEIPT}],
    }))?;
    let reply = store.commit_receipt(caller, request, false).await?;
    anyhow::ensure!(reply.outcome == loyd_domain::operations::Outcome::Created, "the template receipt was refused: {}", reply.body);

    let b = bar(shape.history, "receipt history (SQL)");
    let mut c = Raw::connect(url).await?;
    copy_history(&mut c, shape, &b).await?;
    b.finish();
    let audit = store.ledger_audit().await?;
    anyhow::ensure!(audit.is_sound(), "the ledger is not sound after building the history: {:?}", audit.problems);
    Ok(())
}

/// A plain connection to the bench database, for the bulk SQL and the checks.
pub enum Raw {
    Pg(sqlx::PgConnection),
    Lite(sqlx::SqliteConnection),
}

impl Raw {
    pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Raw> {
        Ok(match url {
            DatabaseUrl::Postgres(u) => Raw::Pg(sqlx::PgConnection::connect(u).await?),
            DatabaseUrl::Sqlite(path) => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path).busy_timeout(std::time::Duration::from_secs(60));
                Raw::Lite(sqlx::SqliteConnection::connect_with(&opts).await?)
            }
        })
    }

    fn pg(&self) -> bool {
        matches!(self, Raw::Pg(_))
    }

    /// Runs statements (several, separated by `;`).
    pub async fn exec(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Raw::Pg(c) => c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))).await.map(drop)?,
            Raw::Lite(c) => c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))).await.map(drop)?,
        }
        Ok(())
    }

    /// The first column of the first row, as a number.
    pub async fn number(&mut self, sql: &str) -> anyhow::Result<i64> {
        Ok(match self {
            Raw::Pg(c) => sqlx::query_scalar::<_, Option<i64>>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(c).await?,
            Raw::Lite(c) => sqlx::query_scalar::<_, Option<i64>>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(c).await?,
        }
        .unwrap_or(0))
    }

    pub async fn text(&mut self, sql: &str) -> anyhow::Result<String> {
        Ok(match self {
            Raw::Pg(c) => sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(c).await?,
            Raw::Lite(c) => sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(c).await?,
        })
    }
}

/// The SQL of the copy, one dialect switch: PostgreSQL's `generate_series`, SQLite's
/// recursive CTE.
async fn copy_history(c: &mut Raw, shape: &Shape, b: &ProgressBar) -> anyhow::Result<()> {
    let pg = c.pg();
    let series = if pg {
        "WITH g(n) AS (SELECT generate_series(CAST({a} AS BIGINT), CAST({b} AS BIGINT)))"
    } else {
        "WITH RECURSIVE g(n) AS (SELECT {a} UNION ALL SELECT n + 1 FROM g WHERE n < {b})"
    };
    let customers = shape.customers.max(1);
    // Template ids, spelled into the statements (they are our own integers and names).
    let tmpl_receipt = c.number(&format!("SELECT id FROM receipts WHERE receipt_id = '{TEMPLATE_RECEIPT}'")).await?;
    let tmpl_account = c
        .number(&format!(
            "SELECT a.id FROM accounts a, receipts r WHERE r.id = {tmpl_receipt} AND a.holder_kind = 'customer' \
             AND a.holder_id = CAST(r.customer_id AS TEXT) AND a.asset = 'bonus'"
        ))
        .await?;
    let tmpl_transfer = c.text(&format!("SELECT id FROM transfers WHERE credit_account_id = {tmpl_account}")).await.context("the template's accrual")?;
    let first_customer = c.number("SELECT MIN(id) FROM customers").await?;
    c.exec(&format!(
        "INSERT INTO accounts (holder_kind, holder_id, asset, policy, credit_limit, tracks_lots, created_at) \
         SELECT t.holder_kind, CAST(cu.id AS TEXT), t.asset, t.policy, t.credit_limit, t.tracks_lots, t.created_at \
         FROM customers cu, accounts t WHERE t.id = {tmpl_account} \
         AND NOT EXISTS (SELECT 1 FROM accounts x WHERE x.holder_kind = t.holder_kind AND x.holder_id = CAST(cu.id AS TEXT) AND x.asset = t.asset)"
    ))
    .await
    .context("opening the customers' point accounts")?;
    let step = 6_000_000i64; // history receipts six seconds apart, going back in time
    let mut a = 1u64;
    while a <= shape.history {
        let end = (a + HISTORY_CHUNK - 1).min(shape.history);
        let g = series.replace("{a}", &a.to_string()).replace("{b}", &end.to_string());
        let customer = format!("({first_customer} + (g.n % {customers}))");
        let account = format!(
            "(SELECT x.id FROM accounts x WHERE x.holder_kind = 'customer' AND x.holder_id = CAST({customer} AS TEXT) AND x.asset = 'bonus')"
        );
        let sql = format!(
            "BEGIN;
             {g} INSERT INTO receipts (store_id, terminal_id, receipt_id, customer_id, at, status, config_version, total, discount,
                 redeemed_value, gift_card_value, offline, request_hash, response, effects, returned, recorded_at, request, returned_paid)
             SELECT r.store_id, 'history', 'h' || CAST(g.n AS TEXT), {customer}, r.at - g.n * {step}, r.status, r.config_version, r.total,
                 r.discount, r.redeemed_value, r.gift_card_value, r.offline, r.request_hash,
                 replace(r.response, '{TEMPLATE_RECEIPT}', 'h' || CAST(g.n AS TEXT)),
                 replace(r.effects, '{tmpl_transfer}', 'hist:' || CAST(g.n AS TEXT)), r.returned, r.recorded_at - g.n * {step},
                 r.request, r.returned_paid
             FROM receipts r, g WHERE r.id = {tmpl_receipt};
             {g} INSERT INTO transfers (id, debit_account_id, credit_account_id, asset, amount, kind, pending_id, timeout_at, pending_state,
                 posted_amount, lot_available_at, lot_expires_at, debit_lot, reverses, reversed_amount, code, reference, at, recorded_at, fingerprint)
             SELECT 'hist:' || CAST(g.n AS TEXT), t.debit_account_id, {account}, t.asset, t.amount, t.kind, t.pending_id, t.timeout_at,
                 t.pending_state, t.posted_amount, t.lot_available_at - g.n * {step}, t.lot_expires_at, t.debit_lot, t.reverses, 0, t.code,
                 t.reference, t.at - g.n * {step}, t.recorded_at - g.n * {step}, t.fingerprint
             FROM transfers t, g WHERE t.id = '{tmpl_transfer}';
             INSERT INTO lots (id, account_id, amount, remaining, available_at, expires_at, created_at)
             SELECT t.id, t.credit_account_id, t.amount, t.amount, t.lot_available_at, t.lot_expires_at, t.recorded_at
             FROM transfers t WHERE t.id LIKE 'hist:%' AND t.seq > (SELECT COALESCE(MAX(seq), 0) FROM transfers WHERE id = 'hist:{prev}');
             COMMIT;",
            prev = a.saturating_sub(1),
        );
        c.exec(&sql).await.with_context(|| format!("copying history receipts {a}..={end}"))?;
        b.set_position(end);
        a = end + 1;
    }
    // Account totals follow the copied transfers, in one statement.
    c.exec(
        "UPDATE accounts SET credits_posted = credits_posted + s.total \
         FROM (SELECT credit_account_id AS account, SUM(amount) AS total FROM transfers WHERE id LIKE 'hist:%' GROUP BY credit_account_id) s \
         WHERE accounts.id = s.account",
    )
    .await
    .context("adding the history to the account totals")?;
    c.exec(if pg { "VACUUM ANALYZE" } else { "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)" }).await?;
    Ok(())
}
