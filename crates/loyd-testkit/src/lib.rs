//! # loyd-testkit
//!
//! Every storage test runs on both backends, each with a database of its own:
//! - SQLite: a file in a fresh temporary directory;
//! - PostgreSQL: a fresh schema in the `loyd_test` database of the server at
//!   `LOYD_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`).
//!
//! If PostgreSQL does not answer, the kit starts the local cluster the way CI does
//! (`pg_ctlcluster … main start`) and waits for it. If it still cannot connect, the
//! test **fails**: a PostgreSQL test is never silently skipped.
//!
//! [`both_backends!`] turns one async test body into `name::on_sqlite` and
//! `name::on_postgres`.
//!
//! ## Layout
//! One file, no submodules: [`TestDb`] (a database of one test's own, the [`Store`]
//! opened on it, a text dump of everything it holds, raw SQL), [`both_backends!`], and
//! the PostgreSQL set-up behind them (the `loyd_test` database, starting the local
//! cluster, dropping stale schemas). It re-exports [`loyd_store`]. Where the store's
//! code lives: `docs/architecture.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loyd_store::{DatabaseUrl, ManualClock, Store, StoreOptions, SystemClock};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::OnceCell;

pub mod smtp;

pub use loyd_store;

/// Schemas left by earlier runs are dropped once they are this old.
const STALE_SCHEMA_SECS: u64 = 2 * 3600;

fn server_url() -> String {
    std::env::var("LOYD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

static PG_READY: OnceCell<()> = OnceCell::const_new();
static SEQ: AtomicU32 = AtomicU32::new(0);

async fn connect(db: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnection::connect(&format!("{}/{db}", server_url())).await
}

/// Makes sure PostgreSQL answers and the `loyd_test` database exists; starts the local
/// cluster if nothing answers. Panics (fails the test) when that is impossible.
async fn ensure_postgres() {
    PG_READY
        .get_or_init(|| async {
            if connect("postgres").await.is_err() {
                start_local_cluster();
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                while connect("postgres").await.is_err() {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "PostgreSQL is not reachable at {} and could not be started; \
                         PostgreSQL tests fail rather than skip. Start it with \
                         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                         or set LOYD_TEST_DATABASE_URL.",
                        server_url()
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            let mut admin = connect("postgres").await.expect("connect to PostgreSQL");
            if let Err(e) = admin.execute("CREATE DATABASE loyd_test").await {
                // 42P04: exists; 23505: another test process created it at the same moment.
                let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
                assert!(matches!(code.as_deref(), Some("42P04" | "23505")), "cannot create loyd_test: {e}");
            }
            drop_stale_schemas().await;
        })
        .await;
}

fn start_local_cluster() {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start")
        .status();
    eprintln!("PostgreSQL did not answer; tried to start the local cluster: {status:?}");
}

async fn drop_stale_schemas() {
    let mut c = connect("loyd_test").await.expect("connect to loyd_test");
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'").fetch_all(&mut c).await.unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    for (name,) in names {
        let born = name.split('_').nth(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        if now.saturating_sub(born) > STALE_SCHEMA_SECS {
            let _ = c.execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))).await;
        }
    }
}

/// A database of one test's own.
pub struct TestDb {
    pub url: DatabaseUrl,
    /// Keeps the SQLite directory alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = DatabaseUrl::Sqlite(dir.path().join("loyd.db"));
        TestDb { url, _dir: Some(dir) }
    }

    pub async fn postgres() -> TestDb {
        ensure_postgres().await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let schema = format!("t_{now}_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        let mut c = connect("loyd_test").await.expect("connect to loyd_test");
        c.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\""))).await.expect("create test schema");
        let url = DatabaseUrl::Postgres(format!("{}/loyd_test?options[search_path]={schema}", server_url()));
        TestDb { url, _dir: None }
    }

    /// A PostgreSQL database the test set up itself (for example on a private cluster
    /// it starts and stops), named by its URL.
    pub fn postgres_at(url: impl Into<String>) -> TestDb {
        TestDb { url: DatabaseUrl::Postgres(url.into()), _dir: None }
    }

    pub fn backend(&self) -> &'static str {
        match self.url {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }

    /// The database URL as the `loyd` binary takes it.
    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => u.clone(),
        }
    }

    /// A migrated store on the system clock.
    pub async fn store(&self) -> Store {
        Store::open(&self.url, StoreOptions::default(), Arc::new(SystemClock)).await.expect("open test store")
    }

    /// Everything the database holds, as text: the SQLite files byte for byte (main
    /// file and write-ahead log), or every value of every row of every table of the
    /// PostgreSQL schema.
    /// Tests search it for plaintext that must not be there.
    pub async fn dump(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut out = String::new();
                for suffix in ["", "-wal"] {
                    let file = format!("{}{suffix}", path.display());
                    if let Ok(bytes) = std::fs::read(&file) {
                        out.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                out
            }
            DatabaseUrl::Postgres(url) => {
                let mut c = PgConnection::connect(url).await.expect("connect to the test schema");
                let tables: Vec<(String,)> =
                    sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()")
                        .fetch_all(&mut c)
                        .await
                        .expect("list tables");
                let mut out = String::new();
                for (t,) in tables {
                    // Each value as its own text: a whole row's text would double the
                    // quotes inside values (`""pin"":""1712""`) and hide what is searched.
                    let columns: Vec<(String,)> = sqlx::query_as(
                        "SELECT column_name::text FROM information_schema.columns \
                         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    )
                    .bind(&t)
                    .fetch_all(&mut c)
                    .await
                    .expect("list columns");
                    let values: Vec<String> = columns.iter().map(|(col,)| format!("\"{col}\"::text")).collect();
                    let sql = format!("SELECT concat_ws(E'\\t', {}) FROM \"{t}\"", values.join(", "));
                    let rows: Vec<(Option<String>,)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.expect("read a table");
                    for (r,) in rows {
                        out.push_str(&r.unwrap_or_default());
                        out.push('\n');
                    }
                }
                out
            }
        }
    }

    /// Runs one raw SQL statement outside Loyd, as a person with database access would;
    /// returns the database's refusal, if any.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, String> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.map_err(|e| e.to_string())?;
                c.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.map(|r| r.rows_affected()).map_err(|e| e.to_string())
            }
            DatabaseUrl::Postgres(url) => {
                let mut c = PgConnection::connect(url).await.map_err(|e| e.to_string())?;
                c.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.map(|r| r.rows_affected()).map_err(|e| e.to_string())
            }
        }
    }

    /// The first column of every row `sql` returns, as text, read outside Loyd.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.expect("open the test file");
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&mut c).await.expect("query the test file")
            }
            DatabaseUrl::Postgres(url) => {
                let mut c = PgConnection::connect(url).await.expect("connect to the test schema");
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&mut c).await.expect("query the test schema")
            }
        }
    }

    /// The store as a `loyd` process run in `dir` sees it: with the secret key and the
    /// keyring it created under `dir/loyd-data/`.
    pub async fn store_of_cli(&self, dir: &std::path::Path) -> Store {
        let hex = std::fs::read_to_string(dir.join("loyd-data/secret.key")).expect("the CLI's secret key");
        let hex = hex.trim();
        let secret: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
        let ring = std::fs::read_to_string(dir.join("loyd-data/pii.keys")).expect("the CLI's keyring");
        let keyring = loyd_store::crypto::Keyring::parse(&ring, &secret).expect("a keyring");
        let opts = StoreOptions { secret: Arc::new(secret), keyring: Some(keyring), ..StoreOptions::default() };
        Store::open(&self.url, opts, Arc::new(SystemClock)).await.expect("open the CLI's store")
    }

    /// A migrated store on a clock the test moves.
    pub async fn store_with_clock(&self, clock: Arc<ManualClock>) -> Store {
        Store::open(&self.url, StoreOptions::default(), clock).await.expect("open test store")
    }
}

/// Defines one test per backend from one async body:
///
/// ```ignore
/// both_backends! {
///     async fn spending_never_overdraws(db: TestDb) { let store = db.store().await; … }
/// }
/// ```
/// gives `spending_never_overdraws::on_sqlite` and `spending_never_overdraws::on_postgres`.
#[macro_export]
macro_rules! both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident : TestDb) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($db: $crate::TestDb) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_sqlite() {
                    run($crate::TestDb::sqlite().await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_postgres() {
                    run($crate::TestDb::postgres().await).await
                }
            }
        )*
    };
}
