//! # loyd-store
//!
//! Persistence for Loyd on **SQLite** (embedded, the default) and **PostgreSQL**
//! (production), from one SQL codebase. Each operation loads what it needs, lets
//! `loyd_domain` decide, and writes the result in the same transaction. Where each
//! capability lives across the crates, and the path of a receipt: `docs/architecture.md`.
//!
//! ## Layout
//! - [`Store`] (this file): what the rest of Loyd calls. It owns the clock, the program
//!   cache and the terminal keys, and dispatches to the open backend.
//! - `shared/`: the SQL and row mapping of every capability, compiled once per backend
//!   (`#[path]` modules in `sqlite/` and `postgres/`), so both backends run the very
//!   same statements. Only three things differ and are switched on `PG`: `FOR UPDATE`
//!   locking, DDL in `migrations/`, and the write path. `shared/mod.rs` has the table
//!   of its capability modules (receipts, returns, ledger, cards, customers, …).
//! - `sqlite/`: one writer task with group commit plus a read pool (see its module docs).
//! - `postgres/`: a pool; writes lock rows in id order and retry transient conflicts.
//! - `jobs`: the scheduled jobs ([`Job`]) run to the end in batches, each run recorded.
//! - `clock`: [`SystemClock`] for the server, [`ManualClock`] for tests.
//! - [`crypto`]: the keyring that seals personal data (AES-256-GCM), blind indexes, staff
//!   password hashes.
//! - `error`: [`StoreError`]: domain refusals pass through; database failures are
//!   classified once.
//! - `options`: [`DatabaseUrl`] and [`StoreOptions`], how a database is found and
//!   opened, and the pool settings both backends share.
//! - `migrations`: the embedded migrations of each backend, run at start and by
//!   `loyd migrate`.
//! - `crm_types`: types of the CRM and security operations (customers, organisations,
//!   staff, audit, CRM entries, imports).
//! - `event_types`: events and their deliveries to webhooks (the outbox).
//! - `pos_types`: types of the POS and admin operations (the caller, replies, the
//!   failure log, card issuing, statements).
//! - `programs`: [`Programs`], the compiled program of every configuration version.
//! - `terminal_keys`: terminal keys recently looked up, trusted for [`TERMINAL_KEY_TTL`].
//!
//! Times are stored as microseconds since the epoch and amounts as integer minor units,
//! identically on both backends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use loyd_domain::config::{ConfigDocument, CurrencySpec, Mode, PlanStep};
use loyd_domain::ids::{AccountId, AssetCode, StoreCode, TerminalCode, TransferId};
use loyd_domain::ledger::{Account, AccountSpec, Balance, Holder, NewTransfer, Transfer, TransferOutcome};
use loyd_domain::money::Scale;
use loyd_domain::operations::{ActivateRequest, CardInquiry, VisitRequest};
use loyd_domain::org::StoreSpec;
use loyd_domain::program::Program;
use loyd_domain::receipt::{ReceiptError, ReceiptRequest, ReceiptResponse, StoreContext};
use loyd_domain::returns::ReturnRequest;
use loyd_domain::time::{Clock, Timestamp};

mod clock;
mod counted;
pub mod crypto;
mod error;
mod event_types;
mod jobs;
mod migrations;
mod options;
mod crm_types;
mod pos_types;
mod portal_types;
mod postgres;
mod programs;
mod sqlite;
mod terminal_keys;

pub use clock::{ManualClock, SystemClock};
pub use counted::Counted;
pub use error::StoreError;
pub use event_types::*;
pub use jobs::{Job, JobRun, SCHEDULE};
pub use options::{DatabaseUrl, StoreOptions};
pub use crm_types::*;
pub use pos_types::*;
pub use portal_types::*;
pub use programs::Programs;
pub use terminal_keys::TERMINAL_KEY_TTL;

/// The unbounded accounts every currency has: where value comes from and goes to.
pub const SYSTEM_ACCOUNTS: &[&str] = &["issuance", "redemption", "expired", "breakage", "settlement"];

/// Customers one step of a mailing reads from its audience (and enqueues, at most).
pub const MAILING_BATCH: u32 = 1000;

/// A boxed future borrowing a connection for `'c`: the shape of a unit of work.
pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;


/// What applying a configuration document did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    /// The new configuration version, or `None` when nothing changed.
    pub version: Option<i64>,
    pub steps: Vec<PlanStep>,
}

/// One version in the history of the configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigVersion {
    pub version: i64,
    pub applied_at: Timestamp,
    /// Who or what applied it: a file, `admin API (name)`, a rollback.
    pub source: String,
    /// SHA-256 of the whole configuration after it: equal hashes, equal configurations.
    pub hash: String,
    /// How many objects it created, updated or removed.
    pub changes: usize,
}

/// Per-asset sum of all posted balances: zero when the ledger is sound.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AssetSum {
    pub asset: AssetCode,
    pub sum: i128,
}

/// One of the operator's own accounts in one currency: what went in and out of it, in
/// the currency's minor units. `credits − debits` is what it holds: the breakage, what
/// expired, what was redeemed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SystemBalance {
    /// `issuance`, `redemption`, `expired`, `breakage` or `settlement`.
    pub account: String,
    pub asset: AssetCode,
    pub debits: i64,
    pub credits: i64,
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

/// How many tables hold sealed values (the re-sealing of a key rotation goes through
/// each in turn).
pub(crate) const SEALED_TABLES: usize = 6;

/// The storage handle: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    clock: Arc<dyn Clock>,
    programs: Arc<Programs>,
    secret: Arc<crypto::Secrets>,
    terminals: Arc<terminal_keys::TerminalKeys>,
    /// Regular customers and several stores' buyers counted from every customer's
    /// months, kept.
    regulars: Arc<counted::Memo<Vec<StoreRegulars>>>,
    buyers: Arc<counted::Memo<Vec<MonthBuyers>>>,
}

/// Runs `$call` on whichever backend is open.
macro_rules! on_backend {
    ($self:ident, $b:ident => $call:expr) => {
        match &*$self.backend {
            Backend::Sqlite($b) => $call,
            Backend::Postgres($b) => $call,
        }
    };
}

/// Generates `Store` methods that forward to whichever backend is open.
macro_rules! dispatch {
    ($( $(#[$m:meta])* pub async fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(; now $now:ident)?) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$m])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    $( let $now = self.now(); )?
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
    /// Records that a run of a job started ([`Store::finish_job`] runs it).
    pub async fn start_job_run(&self, job: Job, started_by: String; now now) -> Result<JobRun, StoreError>;
    /// Records how a run ended.
    pub async fn finish_job_run(&self, id: i64, items: i64, error: Option<String>; now now) -> Result<JobRun, StoreError>;
    /// Runs of the jobs (of one, or all), newest first, older than `before`.
    pub async fn job_runs(&self, job: Option<Job>, before: Option<i64>, limit: u32) -> Result<Vec<JobRun>, StoreError>;
    /// The last run of each job that has run.
    pub async fn last_job_runs(&self) -> Result<Vec<JobRun>, StoreError>;
    /// Checks every ledger invariant over the whole database.
    pub async fn ledger_audit(&self) -> Result<LedgerAudit, StoreError>;
    /// The operator's own accounts with their totals (breakage, expiry, redemption, …).
    pub async fn system_balances(&self) -> Result<Vec<SystemBalance>, StoreError>;

    pub async fn stores(&self) -> Result<Vec<StoreSpec>, StoreError>;
    pub async fn store(&self, id: &StoreCode) -> Result<Option<StoreSpec>, StoreError>;
    pub async fn create_terminal(&self, store: StoreCode, terminal: TerminalCode, key_hash: String; now now) -> Result<(), StoreError>;
    /// A store's terminals, live and revoked.
    pub async fn terminals(&self, store: StoreCode) -> Result<Vec<TerminalRow>, StoreError>;

    /// The whole configuration in force now.
    pub async fn config_snapshot(&self) -> Result<ConfigDocument, StoreError>;
    pub async fn config_version(&self) -> Result<Option<i64>, StoreError>;
    pub async fn config_versions(&self) -> Result<Vec<(i64, Timestamp)>, StoreError>;
    pub async fn config_document(&self, version: i64) -> Result<ConfigDocument, StoreError>;
    /// The configuration's history, newest first, in pages.
    pub async fn config_history(&self, before: Option<i64>, limit: u32) -> Result<Vec<ConfigVersion>, StoreError>;

    /// Records a refusal in the failure log.
    pub async fn record_failure(&self, failure: NewFailure; now now) -> Result<(), StoreError>;
    /// The failure log, newest first.
    pub async fn failures(&self, filter: FailureFilter) -> Result<Vec<Failure>, StoreError>;
    /// How many entries of the failure log match (its page aside).
    pub async fn failure_count(&self, filter: FailureFilter) -> Result<i64, StoreError>;
    /// A terminal's refusals since `since` that count as guesses.
    pub async fn attempt_counts(&self, store: String, terminal: String, since: Timestamp) -> Result<AttemptCounts, StoreError>;
    /// The receipt ids a terminal has committed, in order.
    pub async fn receipt_ids(&self, store: String, terminal: String) -> Result<Vec<String>, StoreError>;
    /// Counts a wrong PIN; the fifth in a row locks the card.
    pub async fn record_pin_failure(&self, number: String; now now) -> Result<(), StoreError>;

    pub async fn create_customer(&self, new: NewCustomer, actor: String; now now) -> Result<Customer, StoreError>;
    pub async fn customer(&self, id: i64) -> Result<Option<Customer>, StoreError>;
    /// Changes a customer atomically; see [`CustomerPatch`].
    pub async fn update_customer(&self, id: i64, patch: CustomerPatch, actor: String; now now) -> Result<Customer, StoreError>;
    /// Finds customers by phone, e-mail, card, name words or organisation, by id.
    pub async fn customers(&self, filter: CustomerFilter) -> Result<Vec<Customer>, StoreError>;
    pub async fn customer_cards(&self, id: i64) -> Result<Vec<CardInfo>, StoreError>;
    /// Replaces a lost card by a new number, keeping customer and balances.
    pub async fn replace_card(&self, old: String, new: String, actor: String; now now) -> Result<CardInfo, StoreError>;
    /// The kind of a card and whose it is.
    pub async fn card_owner(&self, number: String) -> Result<Option<CardOwner>, StoreError>;
    /// Erases a customer's personal data; the ledger keeps its amounts (see
    /// `shared/erasure.rs`).
    pub async fn erase_customer(&self, id: i64, actor: String; now now) -> Result<Customer, StoreError>;
    /// Keeps a customer's request to erase their data with a task for staff; `false` when
    /// one is open already.
    pub async fn ask_erasure(&self, id: i64, actor: String; now now) -> Result<bool, StoreError>;
    /// The requests to erase not yet done, oldest first.
    pub async fn erasure_requests(&self) -> Result<Vec<(i64, Timestamp)>, StoreError>;
    /// Merges a duplicate customer (and their ledger) into another.
    pub async fn merge_customers(&self, keep: i64, duplicate: i64, actor: String; now now) -> Result<Customer, StoreError>;
    /// A customer's receipts, newest first, optionally of some stores only.
    pub async fn purchases(&self, customer: i64, stores: Option<Vec<String>>, before: Option<Timestamp>, limit: u32) -> Result<Vec<Purchase>, StoreError>;
    /// Committed receipts per day and store currency since `from` (the dashboard).
    pub async fn daily_sales(&self, stores: Vec<String>, from: Timestamp, offset_secs: i64) -> Result<Vec<DaySales>, StoreError>;
    /// Sales per store and local day from `from` to `to` (the aggregates the `roll_up`
    /// job keeps), of the stores given.
    pub async fn store_days(&self, stores: Vec<String>, from: jiff::civil::Date, to: jiff::civil::Date) -> Result<Vec<StoreDay>, StoreError>;
    /// Adds the next receipts and transfers (at most `limit` of each) to the
    /// aggregates: how many receipts and transfers (0: all are up to date).
    pub async fn roll_up(&self, limit: u32) -> Result<usize, StoreError>;
    /// The ledger's flows per day (the aggregates the `roll_up` job keeps).
    pub async fn flow_days(&self, filter: FlowFilter) -> Result<Vec<FlowDay>, StoreError>;
    /// What the holders of a kind held at the start of `day`, per currency (and series
    /// with `by_series`), as the flow aggregates count it.
    pub async fn held_before(&self, filter: FlowFilter, day: jiff::civil::Date) -> Result<Vec<Held>, StoreError>;
    /// Buyers per month (identified customers with a purchase), of the stores given
    /// (`None`: all).
    /// Each internal credit account's statement over `[from, until)` (of one currency).
    pub async fn credit_statements(&self, from: Timestamp, until: Timestamp, currency: Option<String>) -> Result<Vec<CreditStatement>, StoreError>;
    /// Transactions of a period, oldest first: sales, the till's other operations, and
    /// manual operations of the ledger.
    pub async fn transactions(&self, filter: TransactionFilter) -> Result<Vec<Transaction>, StoreError>;
    /// A receipt by its row id with its transfers, returns and cancellation.
    pub async fn receipt_detail(&self, id: i64) -> Result<Option<ReceiptDetail>, StoreError>;
    /// Where the segments job's pass stands.
    pub async fn segment_pass(&self) -> Result<SegmentPass, StoreError>;
    /// Each segment's members now (program segments a job lists, RFM groups).
    pub async fn segment_counts(&self) -> Result<Vec<SegmentCount>, StoreError>;
    /// Segments' members, joiners and leavers per day from `from` on.
    pub async fn segment_history(&self, segment: Option<String>, from: String) -> Result<Vec<SegmentDay>, StoreError>;
    /// Members of a segment after customer id `after`, with when they joined.
    pub async fn segment_members(&self, segment: String, after: i64, limit: u32) -> Result<Vec<(Customer, Timestamp)>, StoreError>;
    /// The control group and the treated customers of a campaign (those who joined by
    /// `to`), with their purchases in the months `from_month` to `to_month`, each
    /// member's counted from the month they joined, in the stores given (`None`: all).
    pub async fn control_groups(&self, campaign: String, from_month: String, to_month: String, to: jiff::civil::Date, stores: Option<Vec<String>>) -> Result<Vec<ControlGroup>, StoreError>;
    /// Fraud alerts, newest first (see `shared/fraud.rs`).
    pub async fn fraud_alerts(&self, filter: FraudFilter) -> Result<Vec<FraudAlert>, StoreError>;
    pub async fn fraud_alert(&self, id: i64) -> Result<Option<FraudAlert>, StoreError>;
    /// Open fraud alerts by severity: (high, medium, low).
    pub async fn open_fraud_alerts(&self) -> Result<(i64, i64, i64), StoreError>;
    /// Acknowledges or dismisses an alert with a note, optionally blocking a card.
    pub async fn decide_fraud_alert(&self, id: i64, decision: FraudDecision, actor: String; now now) -> Result<FraudAlert, StoreError>;
    /// How many customers had joined before each of `bounds`.
    pub async fn members_before(&self, bounds: Vec<Timestamp>) -> Result<Vec<i64>, StoreError>;
    /// What campaigns gave per day, of the stores given (`None`: all) and campaigns given
    /// (`None`: all).
    pub async fn campaign_days(&self, from: jiff::civil::Date, to: jiff::civil::Date, stores: Option<Vec<String>>, campaigns: Option<Vec<String>>, by_store: bool) -> Result<Vec<CampaignDay>, StoreError>;
    /// What receipts committed since `from` accrued and had redeemed, per currency.
    pub async fn receipt_flows(&self, stores: Vec<String>, from: Timestamp) -> Result<Vec<ReceiptFlows>, StoreError>;
    /// Customers with a committed receipt since `from`.
    pub async fn active_customers(&self, stores: Vec<String>, from: Timestamp) -> Result<i64, StoreError>;
    /// Customers whose last purchase the `roll_up` job has added is `from` or later.
    pub async fn recent_buyers(&self, from: Timestamp) -> Result<i64, StoreError>;
    /// Gifts handed over at receipts, newest first.
    pub async fn gift_issues(&self, filter: GiftFilter) -> Result<Vec<GiftIssue>, StoreError>;
    pub async fn create_organisation(&self, name: String, tax_id: Option<String>, actor: String; now now) -> Result<Organisation, StoreError>;
    pub async fn organisation(&self, id: i64) -> Result<Option<Organisation>, StoreError>;
    /// Organisations by id; `name` filters by a part of the name.
    pub async fn organisations(&self, name: Option<String>, after_id: Option<i64>, limit: u32) -> Result<Vec<Organisation>, StoreError>;
    pub async fn add_crm_entry(&self, entry: NewCrmEntry, actor: String; now now) -> Result<CrmEntry, StoreError>;
    pub async fn update_crm_entry(&self, id: i64, patch: CrmPatch, actor: String; now now) -> Result<CrmEntry, StoreError>;
    pub async fn crm_entries(&self, filter: CrmFilter) -> Result<Vec<CrmEntry>, StoreError>;
    /// The audit log, newest first.
    pub async fn audit_log(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    /// Records an audit entry for a change made elsewhere (configuration, keys).
    pub async fn record_audit(&self, actor: String, action: String, object: (String, String), before: Option<serde_json::Value>, after: Option<serde_json::Value>; now now) -> Result<(), StoreError>;
    /// A page of customers (ids above `after_id`) with their live card numbers.
    pub async fn export_customers(&self, after_id: i64, limit: u32) -> Result<Vec<(Customer, Vec<String>)>, StoreError>;
    /// Which of these key ids still seal something.
    pub async fn keys_in_use(&self, ids: Vec<String>) -> Result<Vec<String>, StoreError>;
    pub async fn create_user(&self, new: NewUser, actor: String; now now) -> Result<User, StoreError>;
    pub async fn users(&self) -> Result<Vec<User>, StoreError>;
    pub async fn update_user(&self, login: String, patch: UserPatch, actor: String; now now) -> Result<User, StoreError>;
    /// Checks a password and opens a session of `ttl`.
    pub async fn login(&self, login: String, password: String, ttl: jiff::SignedDuration; now now) -> Result<Result<Session, LoginRefusal>, StoreError>;
    pub async fn logout(&self, token_hash: String; now now) -> Result<(), StoreError>;
    /// Who a bearer token (its SHA-256) belongs to: a session or an API key.
    pub async fn principal(&self, token_hash: String; now now) -> Result<Option<Principal>, StoreError>;
    /// Blocks or unblocks a card; `actor` is named in the audit log.
    pub async fn set_card_blocked(&self, number: String, blocked: bool, actor: String; now now) -> Result<(), StoreError>;
    pub async fn create_api_key(&self, name: String, key_hash: String, role: loyd_domain::access::Role; now now) -> Result<(), StoreError>;
    /// Every API key (names and roles; keys are never kept).
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError>;
    /// Revokes an API key; it stops working at once.
    pub async fn revoke_api_key(&self, name: String; now now) -> Result<(), StoreError>;
    /// Settles internal credit; returns (amount settled, balance after), in minor units.
    pub async fn settle_credit(&self, operation_id: String, customer: i64, currency: AssetCode, amount: Option<i64>, actor: String; now now) -> Result<(i64, i64), StoreError>;
    pub async fn statement(&self, customer: i64, currency: AssetCode, from: Timestamp, to: Timestamp, scale: Scale) -> Result<Statement, StoreError>;
}

/// Migrates the database at `url` up to `version` and no further: upgrade tests start
/// from a database as an older Loyd left it.
#[doc(hidden)]
pub async fn migrate_to(url: &DatabaseUrl, version: i64) -> Result<(), StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(opts).await?;
            migrations::sqlite().run_to(version, &pool).await.map_err(migrations::error)?;
            pool.close().await;
        }
        DatabaseUrl::Postgres(u) => {
            let pool = sqlx::PgPool::connect(u).await?;
            migrations::postgres().run_to(version, &pool).await.map_err(migrations::error)?;
            pool.close().await;
        }
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database at `url`, migrating it when
    /// `opts.migrate` is set.
    pub async fn open(url: &DatabaseUrl, opts: StoreOptions, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        let backend = match url {
            DatabaseUrl::Sqlite(path) => Backend::Sqlite(sqlite::Backend::open(path, &opts).await?),
            DatabaseUrl::Postgres(u) => Backend::Postgres(postgres::Backend::open(u, &opts).await?),
        };
        let secret = match &backend {
            Backend::Sqlite(b) => b.secrets.clone(),
            Backend::Postgres(b) => b.secrets.clone(),
        };
        let store = Store { backend: Arc::new(backend), clock, programs: Arc::new(Programs::default()), secret, terminals: Default::default(), regulars: Default::default(), buyers: Default::default() };
        if opts.migrate {
            let sealed = store.seal_plaintext().await?;
            // An upgrade scrubs secrets; on SQLite the replaced pages must leave the files
            // too. Only then: a checkpoint waits for readers, and an operator's command may
            // open the database while the server is busy.
            if let Backend::Sqlite(b) = &*store.backend
                && (b.migrated || sealed > 0)
            {
                b.checkpoint().await?;
            }
        }
        on_backend!(store, b => b.check_keyring().await)?;
        Ok(store)
    }

    /// Seals personal data left in plaintext by versions before 0005 (a no-op once
    /// done); returns how many customers it sealed.
    pub async fn seal_plaintext(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = on_backend!(self, b => b.seal_plaintext(500).await)?;
            total += n;
            if n == 0 {
                if total > 0 {
                    tracing::info!(customers = total, "sealed personal data left in plaintext by an earlier version");
                }
                return Ok(total);
            }
        }
    }

    /// Re-seals every sealed value under the keyring's current key, in batches;
    /// `progress` hears the running totals.
    pub async fn rotate_keys(&self, mut progress: impl FnMut(&Rotation)) -> Result<Rotation, StoreError> {
        let mut total = Rotation { key: self.secret.ring.current().to_owned(), ..Rotation::default() };
        let mut cursor = [0i64; SEALED_TABLES];
        loop {
            let (done, next) = on_backend!(self, b => b.reseal_batch(cursor).await)?;
            cursor = next;
            total.customers += done.customers;
            total.crm_entries += done.crm_entries;
            total.audit_entries += done.audit_entries;
            total.events += done.events;
            progress(&total);
            if done.customers + done.crm_entries + done.audit_entries + done.events == 0 {
                return Ok(total);
            }
        }
    }

    /// The keyring this store seals with.
    pub fn keyring(&self) -> &crypto::Keyring {
        &self.secret.ring
    }

    /// Imports a batch of parsed rows; each row succeeds or fails alone.
    pub async fn import_customers(&self, rows: Vec<ImportRow>, card_series: Option<String>, actor: String) -> Result<Vec<ImportOutcome>, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.import_customers(rows, card_series, program, actor, now).await)
    }

    /// Applies a configuration document, merged into what is stored (or only plans it,
    /// with `dry_run`); the new program is in force for this process at once.
    pub async fn apply_config(&self, doc: ConfigDocument, source: String, dry_run: bool) -> Result<Applied, StoreError> {
        self.apply_config_as(doc, source, dry_run, Mode::Merge).await
    }

    /// [`Store::apply_config`] in either mode: [`Mode::Replace`] removes what the
    /// document lacks (refusing what still carries value).
    pub async fn apply_config_as(&self, doc: ConfigDocument, source: String, dry_run: bool, mode: Mode) -> Result<Applied, StoreError> {
        let now = self.now();
        let applied = on_backend!(self, b => b.apply_config(doc, source, dry_run, mode, now).await)?;
        if applied.version.is_some() {
            self.refresh_programs().await?;
        }
        Ok(applied)
    }

    /// Applies the configuration of an earlier `version` again, as a new version.
    pub async fn rollback_config(&self, version: i64, source: String, dry_run: bool) -> Result<Applied, StoreError> {
        let now = self.now();
        let applied = on_backend!(self, b => b.rollback_config(version, source, dry_run, now).await)?;
        if applied.version.is_some() {
            self.refresh_programs().await?;
        }
        Ok(applied)
    }

    /// Creates a store (through the configuration); defines `currency` too when the
    /// store's currency is not defined yet.
    pub async fn create_store(&self, spec: StoreSpec, currency: Option<CurrencySpec>) -> Result<Applied, StoreError> {
        let now = self.now();
        let applied = on_backend!(self, b => b.create_store(spec, currency, now).await)?;
        self.refresh_programs().await?;
        Ok(applied)
    }

    /// Re-reads the list of configuration versions; says whether it changed. The server
    /// calls this every second so applies made by other processes take effect.
    pub async fn refresh_programs(&self) -> Result<bool, StoreError> {
        let versions = on_backend!(self, b => b.config_versions().await)?;
        let changed = self.programs.set_versions(versions);
        if changed {
            // A new configuration may have changed stores the remembered keys carry.
            self.terminals.clear();
        }
        Ok(changed)
    }

    /// A new admin API key: 32 random bytes as `lya_` and 64 hex digits. Only its hash
    /// is stored; the key itself is shown once.
    pub fn new_api_key() -> String {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        format!("lya_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    /// A new terminal key: 32 random bytes as `lyt_` and 64 hex digits. Only its hash is
    /// stored; the key itself is shown once.
    pub fn new_terminal_key() -> String {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        loyd_domain::org::terminal_key_from_bytes(bytes)
    }

    /// Revokes a terminal; its key stops working on this server at once.
    pub async fn revoke_terminal(&self, store: StoreCode, terminal: TerminalCode) -> Result<(), StoreError> {
        let now = self.now();
        let done = on_backend!(self, b => b.revoke_terminal(store, terminal, now).await);
        self.terminals.clear();
        done
    }

    /// Gives a terminal a new key; the old one stops working on this server at once.
    pub async fn rotate_terminal_key(&self, store: StoreCode, terminal: TerminalCode, key_hash: String) -> Result<(), StoreError> {
        let done = on_backend!(self, b => b.rotate_terminal_key(store, terminal, key_hash).await);
        self.terminals.clear();
        done
    }

    /// The terminal holding a key and its store. A found key is remembered for
    /// [`TERMINAL_KEY_TTL`], so a key rotated on another server stops working here
    /// within that time.
    pub async fn terminal_by_key_hash(&self, key_hash: &str) -> Result<Option<TerminalOfKey>, StoreError> {
        let now = self.now();
        let generation = match self.terminals.get(key_hash, now) {
            Ok(found) => return Ok(Some(found)),
            Err(generation) => generation,
        };
        let found = on_backend!(self, b => b.terminal_by_key_hash(key_hash).await)?;
        if let Some(f) = &found {
            self.terminals.put(key_hash, f, now, generation);
        }
        Ok(found)
    }

    /// The compiled program of a version, compiling it on first use.
    async fn program_version(&self, version: i64) -> Result<Arc<Program>, StoreError> {
        if let Some(p) = self.programs.get(version) {
            return Ok(p);
        }
        let doc = on_backend!(self, b => b.config_document(version).await)?;
        let program = Program::compile(&doc, version).map_err(StoreError::Config)?;
        Ok(self.programs.put(program))
    }

    /// The program in force at `at`.
    pub async fn program_at(&self, at: Timestamp) -> Result<Arc<Program>, StoreError> {
        if !self.programs.is_loaded() {
            self.refresh_programs().await?;
        }
        self.program_version(self.programs.version_at(at)).await
    }

    /// The program in force now.
    pub async fn program(&self) -> Result<Arc<Program>, StoreError> {
        if !self.programs.is_loaded() {
            self.refresh_programs().await?;
        }
        self.program_version(self.programs.latest()).await
    }

    /// The caller of a POS request made with a key that opened `found`.
    pub async fn pos_caller(&self, found: TerminalOfKey) -> Result<PosCaller, StoreError> {
        let store = self.store_context(&found.store).await?;
        let time = loyd_domain::receipt::TimePolicy {
            opened_at: Some(found.opened_at),
            offline_days: found.store.offline_days.unwrap_or(loyd_domain::receipt::DEFAULT_OFFLINE_DAYS),
        };
        Ok(PosCaller { store, store_name: found.store.name, terminal: found.terminal.id, time })
    }

    /// A store as receipts see it (with its currency's scale).
    pub async fn store_context(&self, spec: &StoreSpec) -> Result<StoreContext, StoreError> {
        let program = self.program().await?;
        let scale = program
            .currency(&spec.currency)
            .map(|c| c.scale)
            .ok_or_else(|| StoreError::Invalid(format!("store {} uses currency {}, which is not defined", spec.id, spec.currency)))?;
        Ok(StoreContext::of(spec, scale))
    }

    /// Counts wrong PINs of refused operations (outside their rolled-back transaction).
    async fn after<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Refused(ReceiptError::WrongPin(number))) = &result
            && let Err(e) = self.record_pin_failure(number.clone()).await
        {
            tracing::warn!(error = %e, "could not count a wrong PIN");
        }
        result
    }

    /// Calculates a receipt without side effects.
    pub async fn calculate_receipt(&self, caller: PosCaller, request: ReceiptRequest) -> Result<ReceiptResponse, StoreError> {
        let now = self.now();
        let program = self.program_at(request.at.unwrap_or(now)).await?;
        let secret = self.secret.clone();
        let r = on_backend!(self, b => b.calculate_receipt(caller, request, program, secret, now).await);
        self.after(r).await
    }

    /// Commits a receipt (idempotent by its `receipt_id` per terminal).
    pub async fn commit_receipt(&self, caller: PosCaller, request: ReceiptRequest, offline: bool) -> Result<PosReply, StoreError> {
        let now = self.now();
        let program = self.program_at(request.at.unwrap_or(now)).await?;
        let secret = self.secret.clone();
        let r = on_backend!(self, b => b.commit_receipt(caller, request, program, secret, offline, now).await);
        self.after(r).await
    }

    pub async fn return_goods(&self, caller: PosCaller, request: ReturnRequest) -> Result<PosReply, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.return_goods(caller, request, program, now).await)
    }

    pub async fn cancel_receipt(&self, caller: PosCaller, receipt_id: String, terminal: Option<String>) -> Result<PosReply, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.cancel_receipt(caller, receipt_id, terminal, program, now).await)
    }

    pub async fn activate_gift_card(&self, caller: PosCaller, number: String, request: ActivateRequest) -> Result<PosReply, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.activate_gift_card(caller, number, request, program, now).await)
    }

    pub async fn register_visit(&self, caller: PosCaller, request: VisitRequest) -> Result<PosReply, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        let secret = self.secret.clone();
        on_backend!(self, b => b.register_visit(caller, request, program, secret, now).await)
    }

    pub async fn card_inquiry(&self, caller: PosCaller, number: String, pin: Option<String>) -> Result<CardInquiry, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        let secret = self.secret.clone();
        let r = on_backend!(self, b => b.card_inquiry(caller, number, pin, program, secret, now).await);
        self.after(r).await
    }

    /// Issues cards of a series; gift card PINs are generated and shown once.
    pub async fn issue_cards(&self, request: IssueCards, actor: String) -> Result<Vec<IssuedCard>, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        let secret = self.secret.clone();
        on_backend!(self, b => b.issue_cards(request, program, secret, actor, now).await)
    }

    /// Adjusts a customer's balance by hand; returns the posted balance after (minor units).
    pub async fn adjust_balance(&self, operation_id: String, customer: i64, currency: AssetCode, amount: i64, reason: String, actor: String) -> Result<i64, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.adjust_balance(operation_id, customer, currency, amount, reason, program, actor, now).await)
    }

    /// Burns the points of customers inactive for their currency's `inactivity_days`.
    pub async fn burn_inactive(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.burn_inactive(program, limit, now).await)
    }

    /// One batch of the segments job: see `shared/segments.rs`.
    pub async fn segments_batch(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        let store = self.home_store(&program).await?;
        on_backend!(self, b => b.segments_batch(program, store, limit, now).await)
    }

    /// Tries a segment's condition (`src`) on every customer now, as the segments job
    /// would decide it: how many meet it and the first `sample` by id. Refused for a
    /// condition only a till can decide.
    pub async fn try_segment(&self, src: &str, sample: u32) -> Result<(i64, Vec<Customer>), StoreError> {
        let now = self.now();
        let program = self.program().await?;
        let condition = program.condition(src).map_err(StoreError::Invalid)?;
        if !condition.job_evaluable() {
            return Err(StoreError::Invalid(
                "the condition reads the receipt, the store or balances: only a till can decide it, so it has no member list".into(),
            ));
        }
        let store = self.home_store(&program).await?;
        on_backend!(self, b => b.try_segment(program, condition, store, sample, now).await)
    }

    /// The first store by id, as segments and other work off any receipt take it: its
    /// time zone dates the days, its currency's scale reads money counters. Without
    /// stores, UTC and two places.
    async fn home_store(&self, program: &Program) -> Result<StoreContext, StoreError> {
        let stores = self.stores().await?;
        match stores.iter().min_by(|a, b| a.id.as_str().cmp(b.id.as_str())) {
            Some(spec) => {
                let scale = program.currency(&spec.currency).map(|c| c.scale).unwrap_or(loyd_domain::money::Scale::CENTS);
                Ok(StoreContext::of(spec, scale))
            }
            None => Ok(StoreContext {
                id: loyd_domain::ids::StoreCode::parse("none").map_err(|e| StoreError::Invalid(e.to_string()))?,
                format: None,
                partner: None,
                timezone: loyd_domain::org::TimeZoneName::parse("UTC").map_err(|e| StoreError::Invalid(e.to_string()))?,
                currency: loyd_domain::ids::AssetCode::parse("EUR").map_err(|e| StoreError::Invalid(e.to_string()))?,
                scale: loyd_domain::money::Scale::CENTS,
            }),
        }
    }

    /// Runs the fraud rules of the program in force over what came since the last run.
    pub async fn detect_fraud(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.now();
        let rules = self.program().await?.fraud.clone();
        on_backend!(self, b => b.detect_fraud(rules, limit, now).await)
    }

    /// Raises `points.expiring` for points expiring soon (see the store's `events`).
    pub async fn expiry_notices(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.expiry_notices(program, now).await)
    }

    /// Raises `customer.birthday` for birthdays some days ahead (see the store's `events`).
    pub async fn birthday_notices(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.birthday_notices(program, now).await)
    }

    /// Raises `crm.task_due` for tasks and reminders come due (see the store's `crm_entries`).
    pub async fn task_notices(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.task_notices(program, now).await)
    }

    /// A customer's counter values now (their tiers' levels are read of them).
    pub async fn customer_counters(&self, customer: i64) -> Result<std::collections::BTreeMap<String, rust_decimal::Decimal>, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        let store = self.home_store(&program).await?;
        on_backend!(self, b => b.customer_counters(customer, program, store, now).await)
    }

    /// Reviews up to `limit` customers whose old receipts left a tier counter's range,
    /// raising `tier.changed` for those whose level fell (see the store's `counters`).
    pub async fn tier_reviews(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        let store = self.home_store(&program).await?;
        on_backend!(self, b => b.tier_reviews(program, store, limit, now).await)
    }

    /// Makes the deliveries of up to `limit` events not yet dispatched, for the webhooks
    /// of the program in force; how many events it dispatched.
    pub async fn dispatch_events(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.dispatch_events(program, limit, now).await)
    }

    /// Claims up to `limit` deliveries due now for `lease` (see the store's `events`).
    pub async fn claim_deliveries(&self, limit: u32, lease: jiff::SignedDuration) -> Result<Vec<DueDelivery>, StoreError> {
        let now = self.now();
        on_backend!(self, b => b.claim_deliveries(limit, lease, now).await)
    }

    /// How many messages on `channel` were sent to `customer` in the last `days` days.
    pub async fn messages_sent(&self, customer: i64, channel: &str, days: u32) -> Result<i64, StoreError> {
        let since = self.now().saturating_sub(jiff::SignedDuration::from_hours(i64::from(days) * 24)).unwrap_or(Timestamp::MIN);
        on_backend!(self, b => b.messages_sent(customer, channel.to_owned(), since).await)
    }

    /// Records how the attempts at claimed deliveries ended, in one transaction.
    pub async fn record_attempts(&self, attempts: Vec<(i64, Attempt)>) -> Result<(), StoreError> {
        let now = self.now();
        on_backend!(self, b => b.record_attempts(attempts, now).await)
    }

    pub async fn deliveries(&self, filter: DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        on_backend!(self, b => b.deliveries(filter).await)
    }

    /// Sends a dead delivery again; `None` when `id` is not a dead delivery.
    pub async fn retry_delivery(&self, id: i64, actor: String) -> Result<Option<Delivery>, StoreError> {
        let now = self.now();
        on_backend!(self, b => b.retry_delivery(id, actor, now).await)
    }

    /// Records a test event for the webhook `id` of the program in force; the event's
    /// id. `NotFound` when the program has no such webhook.
    pub async fn test_webhook(&self, id: String, actor: String) -> Result<i64, StoreError> {
        let now = self.now();
        if !self.program().await?.webhooks.iter().any(|w| w.id == id) {
            return Err(StoreError::NotFound { what: "webhook", id });
        }
        on_backend!(self, b => b.test_webhook(id, actor, now).await)
    }

    /// The token of a customer's unsubscribe link for `channel`: their id, the channel
    /// and a MAC under the server's secret, so it cannot be made for another customer.
    pub fn unsubscribe_token(&self, customer: i64, channel: &str) -> String {
        format!("{customer}.{channel}.{}", self.secret.ring.index("unsubscribe", &format!("{customer}.{channel}")))
    }

    /// Withdraws the consent an unsubscribe link names (no login: the token is the
    /// proof); the customer after, `None` for a token that is not one of ours.
    pub async fn unsubscribe(&self, token: &str) -> Result<Option<Customer>, StoreError> {
        let mut parts = token.splitn(3, '.');
        let (Some(id), Some(channel), Some(_)) = (parts.next(), parts.next(), parts.next()) else { return Ok(None) };
        let Ok(id) = id.parse::<i64>() else { return Ok(None) };
        if !loyd_domain::access::CHANNELS.contains(&channel) || !crypto::same(&self.unsubscribe_token(id, channel), token) {
            return Ok(None);
        }
        let (now, actor) = (self.now(), format!("customer:{id} (unsubscribe link)"));
        match on_backend!(self, b => b.unsubscribe_customer(id, channel.to_owned(), actor, now).await) {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The start parameter of a customer's link to the program's Telegram bot
    /// (`https://t.me/{bot}?start={token}`): their id and a MAC under the server's
    /// secret, so no one makes the link of another customer.
    pub fn telegram_token(&self, customer: i64) -> String {
        format!("{customer}-{}", self.secret.ring.index("telegram-start", &customer.to_string()))
    }

    /// The secret Telegram sends with every update of the bot's webhook
    /// (`X-Telegram-Bot-Api-Secret-Token`), set when the webhook is registered.
    pub fn telegram_webhook_secret(&self) -> String {
        self.secret.ring.index("telegram-webhook", "updates")
    }

    /// Connects Telegram chat `chat` to the customer whose link `token` is (they
    /// started the bot with it); `None` for a token that is not one of ours or a
    /// customer who is gone.
    pub async fn connect_telegram(&self, token: &str, chat: String) -> Result<Option<(i64, Connected)>, StoreError> {
        let Some(id) = token.split_once('-').and_then(|(id, _)| id.parse::<i64>().ok()) else { return Ok(None) };
        if !crypto::same(&self.telegram_token(id), token) {
            return Ok(None);
        }
        let (now, actor) = (self.now(), format!("customer:{id} (telegram)"));
        match on_backend!(self, b => b.connect_telegram(id, chat, actor, now).await) {
            Ok(done) => Ok(Some((id, done))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lets chat `chat` go (stopped or blocked the bot): the customer it was connected
    /// to, now without it and without Telegram consent.
    pub async fn disconnect_telegram(&self, chat: String) -> Result<Option<i64>, StoreError> {
        let now = self.now();
        on_backend!(self, b => b.disconnect_telegram(chat, "telegram (chat stopped)".to_owned(), now).await)
    }

    /// Keeps a portal notification for `customer`, once per delivery `key`.
    pub async fn keep_notification(&self, customer: i64, key: String, subject: String, body: String) -> Result<(), StoreError> {
        let now = self.now();
        on_backend!(self, b => b.keep_notification(customer, key, subject, body, now).await)
    }

    /// A customer's portal notifications, newest first, older than `before`.
    pub async fn notifications(&self, customer: i64, before: Option<i64>, limit: u32) -> Result<Vec<Notification>, StoreError> {
        on_backend!(self, b => b.notifications(customer, before, limit).await)
    }

    /// Marks a customer's notifications up to `up_to` read; how many it marked.
    pub async fn read_notifications(&self, customer: i64, up_to: i64) -> Result<u64, StoreError> {
        let now = self.now();
        on_backend!(self, b => b.read_notifications(customer, up_to, now).await)
    }

    /// Sets a channel's secret (`webhook:<id>`, `email`), sealed.
    pub async fn set_channel_secret(&self, name: String, secret: String, actor: String) -> Result<(), StoreError> {
        let now = self.now();
        on_backend!(self, b => b.set_channel_secret(name, secret, actor, now).await)
    }

    /// A channel's secret, opened, to sign with; `None` when none is set.
    pub async fn channel_secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        on_backend!(self, b => b.channel_secret(name).await)
    }

    /// The channels with a secret set, and when it was set.
    pub async fn channel_secrets_set(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        on_backend!(self, b => b.channel_secrets_set().await)
    }

    /// Makes a mailing (see the store's `mailings`); `false`: the same operation id made
    /// it before.
    pub async fn create_mailing(&self, new: NewMailing, actor: String) -> Result<(Mailing, bool), StoreError> {
        let now = self.now();
        on_backend!(self, b => b.create_mailing(new, actor, now).await)
    }

    /// Mailings, newest first.
    pub async fn mailings(&self, before: Option<i64>, limit: u32) -> Result<Vec<Mailing>, StoreError> {
        on_backend!(self, b => b.mailings(before, limit).await)
    }

    /// A mailing; `None` when there is none.
    pub async fn mailing(&self, id: i64) -> Result<Option<Mailing>, StoreError> {
        on_backend!(self, b => b.mailing(id).await)
    }

    /// A mailing and its figures; `None` when there is none.
    pub async fn mailing_report(&self, id: i64) -> Result<Option<MailingReport>, StoreError> {
        on_backend!(self, b => b.mailing_report(id).await)
    }

    /// Cancels a mailing not yet finished; `false`: it was finished already.
    pub async fn cancel_mailing(&self, id: i64, actor: String) -> Result<(Mailing, bool), StoreError> {
        let now = self.now();
        on_backend!(self, b => b.cancel_mailing(id, actor, now).await)
    }

    /// Moves every mailing with work to do on, each by up to `batches` steps of
    /// [`MAILING_BATCH`] customers: enqueued at its channel's rate (the program's
    /// `rate_per_minute`), tested, decided, finished. Returns the steps that did something.
    pub async fn advance_mailings(&self, batches: u32) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        let mut done = 0;
        for (id, channel) in on_backend!(self, b => b.active_mailings(now).await)? {
            let spacing = program.spacing(channel);
            for _ in 0..batches {
                match on_backend!(self, b => b.mailing_step(id, spacing, MAILING_BATCH, now).await)? {
                    MailingStep::Idle => break,
                    _ => done += 1,
                }
            }
        }
        Ok(done)
    }

    /// Counts an open of a mailing's delivery (and a click with `clicked`).
    pub async fn mark_tracked(&self, delivery: i64, clicked: bool) -> Result<(), StoreError> {
        let now = self.now();
        on_backend!(self, b => b.mark_tracked(delivery, clicked, now).await)
    }

    /// The token of a mailing's tracking link: what it counts (`o` an open, `c` a click
    /// through to `url`), the delivery and a MAC under the server's secret, so nobody
    /// counts another's or sends people elsewhere through this server.
    pub fn tracking_token(&self, kind: &str, delivery: i64, url: &str) -> String {
        format!("{delivery}.{}", self.secret.ring.index("tracking", &format!("{kind}.{delivery}.{url}")))
    }

    /// The delivery a tracking token names, if it is one of ours.
    pub fn tracked(&self, kind: &str, token: &str, url: &str) -> Option<i64> {
        let delivery = token.split_once('.')?.0.parse::<i64>().ok()?;
        crypto::same(&self.tracking_token(kind, delivery, url), token).then_some(delivery)
    }

    /// The time zone of the store a customer last bought at.
    pub async fn customer_zone(&self, customer: i64) -> Result<Option<String>, StoreError> {
        on_backend!(self, b => b.customer_zone(customer).await)
    }

    /// Each store's buyers by how often they bought over whole months, then all the
    /// stores together (store empty). One kept month or year is read at once; other
    /// months, and several stores together, are counted from every customer's months
    /// in the background (`counted`): `None` while the first count of the question
    /// runs, else the last count.
    pub async fn store_regulars(&self, from_month: String, to_month: String, stores: Option<Vec<String>>) -> Result<Option<Counted<Vec<StoreRegulars>>>, StoreError> {
        let (f, t, s) = (from_month.clone(), to_month.clone(), stores.clone());
        if let Some(kept) = on_backend!(self, b => b.store_regulars(f, t, s, false).await)? {
            return Ok(Some(Counted { value: kept, at: self.now(), current: true }));
        }
        let key = format!("{from_month} {to_month} {stores:?}");
        self.counted(|s| &s.regulars, key, move |store| async move {
            on_backend!(store, b => b.store_regulars(from_month, to_month, stores, true).await).map(Option::unwrap_or_default)
        })
        .await
    }

    /// Buyers per month: all stores' or one store's as kept; several stores' together
    /// (a customer counted once) counted in the background like [`Store::store_regulars`].
    pub async fn month_buyers(&self, months: Vec<String>, stores: Option<Vec<String>>) -> Result<Option<Counted<Vec<MonthBuyers>>>, StoreError> {
        let (m, s) = (months.clone(), stores.clone());
        if let Some(kept) = on_backend!(self, b => b.month_buyers(m, s, false).await)? {
            return Ok(Some(Counted { value: kept, at: self.now(), current: true }));
        }
        let key = format!("{months:?} {stores:?}");
        self.counted(|s| &s.buyers, key, move |store| async move {
            on_backend!(store, b => b.month_buyers(months, stores, true).await).map(Option::unwrap_or_default)
        })
        .await
    }

    /// The last count of `key` kept in `memo`, starting a new one with `count` when none
    /// runs and the aggregates moved since (see `counted`); `None` while the first runs.
    async fn counted<T, F, Fut>(&self, memo: fn(&Store) -> &counted::Memo<T>, key: String, count: F) -> Result<Option<Counted<T>>, StoreError>
    where
        T: Clone + Send + 'static,
        F: FnOnce(Store) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let version = on_backend!(self, b => b.rollup_version().await)?;
        let (last, start) = memo(self).look(&key, version);
        if start {
            let store = self.clone();
            tokio::spawn(async move {
                let counted = count(store.clone()).await;
                if let Err(e) = &counted {
                    tracing::warn!(error = %e, question = %key, "figures could not be counted; the next reader starts again");
                }
                memo(&store).put(&key, version, counted.ok(), store.now());
            });
        }
        Ok(last)
    }

    /// Converts balances that reached their conversion threshold.
    pub async fn convert_balances(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.convert_balances(program, limit, now).await)
    }

    /// What `change` (a configuration file) would have cost over the receipts committed
    /// in `[from, to)`, compared with the program in force now.
    pub async fn simulate(
        &self,
        change: ConfigDocument,
        from: Timestamp,
        to: Timestamp,
        store: Option<String>,
    ) -> Result<loyd_domain::simulate::SimReport, StoreError> {
        let baseline = self.program().await?;
        let proposed = self.proposed(change, &baseline).await?;
        let receipts = on_backend!(self, b => b.simulation_receipts(from, to, store, proposed.clone()).await)?;
        Ok(loyd_domain::simulate::simulate(&receipts, &baseline, &proposed))
    }

    /// The program a proposed change (merged into the configuration in force) would make.
    async fn proposed(&self, change: ConfigDocument, baseline: &Program) -> Result<Arc<Program>, StoreError> {
        let current = self.config_snapshot().await?;
        let (merged, _) = change.merge_into(&current).map_err(StoreError::Config)?;
        Ok(Arc::new(Program::compile(&merged, baseline.version + 1).map_err(StoreError::Config)?))
    }

    /// What a receipt at `store` would get under a proposed change: the POS's calculate
    /// with the program the change makes, identifying the customer as the till would.
    /// Nothing is written.
    pub async fn preview_receipt(&self, change: ConfigDocument, store: &StoreCode, request: ReceiptRequest) -> Result<ReceiptResponse, StoreError> {
        let now = self.now();
        let spec = self.store(store).await?.ok_or_else(|| StoreError::NotFound { what: "store", id: store.to_string() })?;
        let time = loyd_domain::receipt::TimePolicy { opened_at: None, offline_days: spec.offline_days.unwrap_or(loyd_domain::receipt::DEFAULT_OFFLINE_DAYS) };
        let terminal = TerminalCode::parse("preview").map_err(|e| StoreError::Invalid(e.to_string()))?;
        let caller = PosCaller { store: self.store_context(&spec).await?, store_name: spec.name, terminal, time };
        let baseline = self.program().await?;
        let proposed = self.proposed(change, &baseline).await?;
        let secret = self.secret.clone();
        on_backend!(self, b => b.calculate_receipt(caller, request, proposed, secret, now).await)
    }

    /// A customer's balances now (their organisation's, for its contacts), by currency.
    pub async fn customer_balances(&self, customer: i64) -> Result<Vec<loyd_domain::receipt::BalanceOut>, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.customer_balances(customer, program, now).await)
    }

    /// Generates unique coupons of a series, personal to `customer` if given.
    /// With `operation`, the client's id of the batch: the same id again makes nothing more.
    pub async fn generate_coupons(&self, series: String, count: u32, customer: Option<i64>, operation: Option<String>, actor: String) -> Result<Vec<(String, Option<Timestamp>)>, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.generate_coupons(series, count, customer, operation, program, actor, now).await)
    }

    /// Sends a portal sign-in code to an address, unless a rate limit is reached (see
    /// `shared/portal.rs`).
    pub async fn request_portal_code(&self, asked: CodeAsked) -> Result<Result<(), loyd_domain::portal::CodeLimit>, StoreError> {
        let now = self.now();
        on_backend!(self, b => b.request_portal_code(asked, now).await)
    }

    /// Checks a portal sign-in code typed for an address.
    pub async fn check_portal_code(&self, to: PortalAddress, code: String) -> Result<CodeChecked, StoreError> {
        let now = self.now();
        on_backend!(self, b => b.check_portal_code(to, code, now).await)
    }

    /// Someone with a confirmed phone joins from the portal (a customer, a virtual card
    /// of the portal's series, a session).
    pub async fn join_portal(&self, join: PortalJoin) -> Result<PortalSession, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.join_portal(join, program, now).await)
    }

    /// The customer of a live portal session, by the SHA-256 of its token.
    pub async fn portal_customer(&self, token_hash: String) -> Result<Option<i64>, StoreError> {
        let now = self.now();
        on_backend!(self, b => b.portal_customer(token_hash, now).await)
    }

    /// Ends a portal session, or every session of its customer.
    pub async fn end_portal_session(&self, token_hash: String, everywhere: bool) -> Result<(), StoreError> {
        let now = self.now();
        on_backend!(self, b => b.end_portal_session(token_hash, everywhere, now).await)
    }

    /// A gift card's balance asked for in the portal by number and PIN, from network
    /// address `ip`: `Err(())` when that address asked too often within the hour;
    /// `None` alike for an unknown card, a wrong PIN, a locked card, a card that is no
    /// gift card or one whose series has no PIN. Wrong PINs count towards the card's
    /// lock as at a till.
    pub async fn gift_card_check(&self, number: String, pin: String, ip: String) -> Result<Result<Option<CardInquiry>, ()>, StoreError> {
        let now = self.now();
        if !on_backend!(self, b => b.count_gift_check(ip, now).await)? {
            return Ok(Err(()));
        }
        let program = self.program().await?;
        let store = self.home_store(&program).await?;
        let terminal = TerminalCode::parse("portal").map_err(|e| StoreError::Invalid(e.to_string()))?;
        let time = loyd_domain::receipt::TimePolicy { opened_at: None, offline_days: loyd_domain::receipt::DEFAULT_OFFLINE_DAYS };
        let caller = PosCaller { store, store_name: String::new(), terminal, time };
        match self.card_inquiry(caller, number, Some(pin)).await {
            Ok(card) => {
                let pinned = program.card_series(&card.series).is_some_and(|s| s.pin);
                Ok(Ok(Some(card).filter(|c| pinned && c.kind == "gift")))
            }
            Err(StoreError::Refused(_) | StoreError::NotFound { .. }) => Ok(Ok(None)),
            Err(e) => Err(e),
        }
    }

    /// Exchanges points for a coupon of the rewards catalogue's entry `reward`, for
    /// `customer`, once per `operation_id` (see `shared/catalogue.rs`).
    pub async fn exchange_reward(&self, operation_id: String, customer: i64, reward: String) -> Result<RewardTaken, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.exchange_reward(operation_id, customer, reward, program, now).await)
    }

    /// The segments a customer is in, as the segments job last listed them.
    pub async fn customer_segments(&self, customer: i64) -> Result<std::collections::BTreeSet<String>, StoreError> {
        on_backend!(self, b => b.customer_segments(customer).await)
    }

    /// Exchanges of the catalogue's entries: the customer's, and everyone's of `stocked`.
    pub async fn catalogue_counts(&self, customer: i64, stocked: Vec<String>) -> Result<CatalogueCounts, StoreError> {
        on_backend!(self, b => b.catalogue_counts(customer, stocked).await)
    }

    /// The returns of goods a customer made, newest first, before `before`.
    pub async fn customer_returns(&self, customer: i64, before: Option<Timestamp>, limit: u32) -> Result<Vec<ReturnMade>, StoreError> {
        on_backend!(self, b => b.customer_returns(customer, before, limit).await)
    }

    /// One batch of the retention job (see `shared/retention.rs`).
    pub async fn retention_batch(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.retention_batch(program, limit, now).await)
    }

    /// The lots a customer's balances are made of, soonest to expire first.
    pub async fn held_lots(&self, customer: i64) -> Result<Vec<HeldLot>, StoreError> {
        on_backend!(self, b => b.held_lots(customer).await)
    }

    /// The gifts a customer was given at a till, newest first: gift, campaign, when.
    pub async fn customer_gifts(&self, customer: i64, limit: u32) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
        on_backend!(self, b => b.customer_gifts(customer, limit).await)
    }

    /// The coupons issued to a customer that they may still use.
    pub async fn held_coupons(&self, customer: i64) -> Result<Vec<HeldCoupon>, StoreError> {
        let now = self.now();
        let program = self.program().await?;
        on_backend!(self, b => b.held_coupons(customer, program, now).await)
    }

    /// A one-time code identifying a customer at the POS for `ttl`.
    pub async fn issue_code(&self, customer: i64, ttl: jiff::SignedDuration, actor: String) -> Result<(String, Timestamp), StoreError> {
        let now = self.now();
        let secret = self.secret.clone();
        on_backend!(self, b => b.issue_code(customer, ttl, secret, actor, now).await)
    }

    /// Now, to the microsecond (the precision everything is stored with).
    pub fn now(&self) -> Timestamp {
        loyd_domain::time::truncate_micros(self.clock.now())
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
