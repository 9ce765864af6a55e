//! # loyd-store
//!
//! Persistence for Loyd on **SQLite** (embedded, the default) and **PostgreSQL**
//! (production), from one SQL codebase.
//!
//! ## Layout
//! - [`Store`]: what the rest of Loyd calls. It owns the clock and dispatches to a backend.
//! - `sqlite/`: one writer task with group commit plus a read pool (see its module docs).
//! - `postgres/`: a pool; writes lock rows in id order and retry transient conflicts.
//! - `shared/`: the SQL and row mapping, compiled once per backend (`#[path]` modules),
//!   so both backends run the very same statements. Only three things differ and are
//!   switched on `PG`: `FOR UPDATE` locking, DDL in `migrations/`, and the write path.
//! - [`StoreError`]: domain refusals pass through; database failures are classified once.
//!
//! Times are stored as microseconds since the epoch and amounts as integer minor units,
//! identically on both backends.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use loyd_domain::config::{ConfigDocument, ConfigSnapshot, PlanStep};
use loyd_domain::ids::{AccountId, AssetCode, StoreCode, TerminalCode, TransferId};
use loyd_domain::ledger::{Account, AccountSpec, Balance, Holder, NewTransfer, Transfer, TransferOutcome};
use loyd_domain::org::{StoreSpec, Terminal};
use loyd_domain::time::{Clock, Timestamp};

mod clock;
mod error;
mod migrations;
mod postgres;
mod sqlite;

pub use clock::{ManualClock, SystemClock};
pub use error::StoreError;

/// A boxed future borrowing a connection for `'c`: the shape of a unit of work.
pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Where the database is.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// The default: an embedded SQLite file, created on first start.
    pub fn default_sqlite() -> Self {
        DatabaseUrl::Sqlite(PathBuf::from("./loyd-data/loyd.db"))
    }

    /// Accepts `postgres://…`, `postgresql://…`, `sqlite://PATH`, `sqlite:PATH`, or a
    /// plain file path (SQLite).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Err(StoreError::Invalid(
                "a SQLite database needs a file path (in-memory databases cannot be shared by the writer and readers)".into(),
            ));
        }
        if url.contains("://") && !url.starts_with("sqlite://") {
            return Err(StoreError::Invalid(format!(
                "unsupported database URL scheme in '{}': use postgres://… or sqlite://PATH",
                url.split("://").next().unwrap_or_default()
            )));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// The URL with any password replaced, safe for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => {
                    let creds = &u[s + 3..at];
                    let user = creds.split(':').next().unwrap_or_default();
                    let masked = if creds.contains(':') { format!("{user}:***") } else { user.to_owned() };
                    format!("{}{masked}{}", &u[..s + 3], &u[at..])
                }
                _ => u.clone(),
            },
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Run pending migrations when opening.
    pub migrate: bool,
    /// PostgreSQL: pool size. SQLite: read pool size (there is always one writer).
    pub max_connections: u32,
    /// How long a request waits for a connection before it is told the database is busy.
    pub acquire_timeout: Duration,
    /// SQLite: how many writes may queue for the writer before callers wait.
    pub write_queue: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { migrate: true, max_connections: 8, acquire_timeout: Duration::from_secs(5), write_queue: 4096 }
    }
}

/// What applying a configuration document did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    /// The new configuration version, or `None` when nothing changed.
    pub version: Option<i64>,
    pub steps: Vec<PlanStep>,
}

/// Per-asset sum of all posted balances: zero when the ledger is sound.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AssetSum {
    pub asset: AssetCode,
    pub sum: i128,
}

/// The result of checking the ledger's invariants over the whole database.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LedgerAudit {
    pub accounts: usize,
    pub assets: Vec<AssetSum>,
    pub problems: Vec<String>,
}

impl LedgerAudit {
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty() && self.assets.iter().all(|a| a.sum == 0)
    }

    pub(crate) fn check(&mut self, mut account: Account, derived: loyd_domain::ledger::Totals, in_lots: i64) {
        use loyd_domain::ledger::BalancePolicy;
        self.accounts += 1;
        let bounded = account.policy != BalancePolicy::Unbounded;
        if bounded && account.totals != derived {
            self.problems.push(format!(
                "account {}: stored totals {:?} differ from its transfers {:?}",
                account.id, account.totals, derived
            ));
        }
        if !bounded {
            account.totals = derived;
        }
        if let Some(headroom) = account.debit_headroom()
            && headroom < 0
        {
            self.problems.push(format!("account {} is past its limit by {}", account.id, -headroom));
        }
        if account.tracks_lots {
            let t = account.totals;
            let expected = i128::from(t.credits_posted) - i128::from(t.debits_posted) - i128::from(t.debits_pending);
            if i128::from(in_lots) != expected {
                self.problems.push(format!("account {}: lots hold {in_lots}, balance says {expected}", account.id));
            }
        }
        let posted = account.posted();
        match self.assets.iter_mut().find(|a| a.asset == account.asset) {
            Some(a) => a.sum += posted,
            None => self.assets.push(AssetSum { asset: account.asset, sum: posted }),
        }
    }
}

enum Backend {
    Sqlite(sqlite::Backend),
    Postgres(postgres::Backend),
}

/// The storage handle: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    clock: Arc<dyn Clock>,
}

/// Generates `Store` methods that forward to whichever backend is open.
macro_rules! dispatch {
    ($( $(#[$m:meta])* pub async fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(; now $now:ident)?) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$m])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    $( let $now = self.clock.now(); )?
                    match &*self.backend {
                        Backend::Sqlite(b) => b.$name($($arg,)* $($now)?).await,
                        Backend::Postgres(b) => b.$name($($arg,)* $($now)?).await,
                    }
                }
            )*
        }
    };
}

dispatch! {
    /// Checks that the database answers (and, on SQLite, that the writer runs).
    pub async fn ping(&self) -> Result<(), StoreError>;

    /// Opens an account, or returns the existing one for the same holder and asset.
    pub async fn open_account(&self, spec: AccountSpec; now now) -> Result<Account, StoreError>;
    pub async fn account_by_holder(&self, holder: &Holder, asset: &AssetCode) -> Result<Option<Account>, StoreError>;
    /// An account and its balance now.
    pub async fn balance(&self, id: AccountId; now now) -> Result<(Account, Balance), StoreError>;
    pub async fn set_credit_limit(&self, id: AccountId, limit: i64) -> Result<Account, StoreError>;
    /// Records a batch of transfers atomically (all or none).
    pub async fn create_transfers(&self, batch: Vec<NewTransfer>; now now) -> Result<Vec<TransferOutcome>, StoreError>;
    pub async fn transfer(&self, id: &TransferId) -> Result<Option<Transfer>, StoreError>;
    pub async fn account_transfers(&self, account: AccountId, after_seq: Option<i64>, limit: u32) -> Result<Vec<(i64, Transfer)>, StoreError>;
    /// Expires holds past their timeout (at most `limit`).
    pub async fn expire_holds(&self, limit: u32; now now) -> Result<usize, StoreError>;
    /// Burns lots past their expiry (at most `limit`).
    pub async fn burn_expired_lots(&self, limit: u32; now now) -> Result<usize, StoreError>;
    /// Checks every ledger invariant over the whole database.
    pub async fn ledger_audit(&self) -> Result<LedgerAudit, StoreError>;

    pub async fn create_store(&self, spec: StoreSpec; now now) -> Result<(), StoreError>;
    pub async fn stores(&self) -> Result<Vec<StoreSpec>, StoreError>;
    pub async fn store(&self, id: &StoreCode) -> Result<Option<StoreSpec>, StoreError>;
    pub async fn create_terminal(&self, store: StoreCode, terminal: TerminalCode, key_hash: String; now now) -> Result<(), StoreError>;
    pub async fn rotate_terminal_key(&self, store: StoreCode, terminal: TerminalCode, key_hash: String) -> Result<(), StoreError>;
    pub async fn terminal_by_key_hash(&self, key_hash: &str) -> Result<Option<(Terminal, StoreSpec)>, StoreError>;

    pub async fn config_snapshot(&self) -> Result<ConfigSnapshot, StoreError>;
    pub async fn config_version(&self) -> Result<Option<i64>, StoreError>;
    /// Applies a configuration document (or only plans it, with `dry_run`).
    pub async fn apply_config(&self, doc: ConfigDocument, source: String, dry_run: bool; now now) -> Result<Applied, StoreError>;
}

impl Store {
    /// Opens (creating if needed) the database at `url`, migrating it when
    /// `opts.migrate` is set.
    pub async fn open(url: &DatabaseUrl, opts: StoreOptions, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        let backend = match url {
            DatabaseUrl::Sqlite(path) => Backend::Sqlite(sqlite::Backend::open(path, &opts).await?),
            DatabaseUrl::Postgres(u) => Backend::Postgres(postgres::Backend::open(u, &opts).await?),
        };
        Ok(Store { backend: Arc::new(backend), clock })
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Where the data is, without secrets.
    pub fn describe(&self) -> String {
        match &*self.backend {
            Backend::Sqlite(b) => b.describe(),
            Backend::Postgres(b) => b.describe(),
        }
    }

    /// Connections in the (read) pool: (open, idle).
    pub fn pool_stats(&self) -> (u32, usize) {
        match &*self.backend {
            Backend::Sqlite(b) => b.pool_stats(),
            Backend::Postgres(b) => b.pool_stats(),
        }
    }

    /// Closes the pools; queued SQLite writes finish first.
    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite(b) => b.close().await,
            Backend::Postgres(b) => b.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_pick_the_backend_by_scheme() {
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").unwrap(), DatabaseUrl::Postgres("postgres://u@h/db".into()));
        assert_eq!(DatabaseUrl::parse("sqlite://data/x.db").unwrap(), DatabaseUrl::Sqlite("data/x.db".into()));
        assert_eq!(DatabaseUrl::parse("sqlite:x.db?mode=rwc").unwrap(), DatabaseUrl::Sqlite("x.db".into()));
        assert_eq!(DatabaseUrl::parse("./x.db").unwrap(), DatabaseUrl::Sqlite("./x.db".into()));
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
    }

    #[test]
    fn redacted_urls_never_show_the_password() {
        let url = DatabaseUrl::parse("postgres://loyd:s3cret@db:5432/loyd").unwrap();
        assert_eq!(url.redacted(), "postgres://loyd:***@db:5432/loyd");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}
