//! The command line. Every global option can also come from a `LOYD_*` environment
//! variable or the TOML file given by `--config`; flags win over the environment, the
//! environment over the file, the file over defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "loyd", version, about = "Loyalty and CRM for retail: server and operator CLI")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// TOML configuration file (see docs/operations.md).
    #[arg(long, global = true, env = "LOYD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database: postgres://user@host/db, or sqlite://PATH. Default: sqlite://./loyd-data/loyd.db.
    #[arg(long, global = true, env = "LOYD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log format on stderr.
    #[arg(long, global = true, env = "LOYD_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `loyd=debug,sqlx=warn`.
    #[arg(long, global = true, env = "LOYD_LOG")]
    pub log_level: Option<String>,
    /// Database connections (PostgreSQL pool; SQLite read pool).
    #[arg(long, global = true, env = "LOYD_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,
    /// The server's secret key, 64 hex digits (PINs and one-time codes are stored as
    /// HMACs under it). Every server of one deployment needs the same key.
    #[arg(long, global = true, env = "LOYD_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// File holding the secret key; created with a new random key if missing.
    /// Default ./loyd-data/secret.key.
    #[arg(long, global = true, env = "LOYD_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// The data keys that seal personal data: `ID HEX` entries (64 hex digits)
    /// separated by `;`, the last one sealing. Every server needs the same keyring.
    #[arg(long, global = true, env = "LOYD_KEYRING", hide_env_values = true)]
    pub keyring: Option<String>,
    /// File holding the keyring; created with one random key if missing.
    /// Default ./loyd-data/pii.keys.
    #[arg(long, global = true, env = "LOYD_KEYRING_FILE")]
    pub keyring_file: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Stores.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Terminals (cash registers) and their keys.
    #[command(subcommand)]
    Terminal(TerminalCommand),
    /// Load a program file (configuration as code); idempotent.
    Apply(ApplyArgs),
    /// The configuration's history: versions, diffs, rollback, export as a program file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Ledger maintenance.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Scheduled work.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// API keys for the admin API.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Customers.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Cards: issue, block, unblock.
    #[command(subcommand)]
    Card(CardCommand),
    /// Coupons: generate unique codes.
    #[command(subcommand)]
    Coupons(CouponsCommand),
    /// Internal credit: settlements and statements.
    #[command(subcommand)]
    Credit(CreditCommand),
    /// The failure log: every refused POS operation and why.
    Failures(FailuresArgs),
    /// What a proposed change would have cost over past receipts, before launching it.
    Simulate(SimulateArgs),
    /// Staff users and their roles.
    #[command(subcommand)]
    User(UserCommand),
    /// The data keys that seal personal data.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit log: who changed what, when.
    Audit(AuditArgs),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a staff user; prints a generated password on the last line (shown once)
    /// unless --password-stdin gives one.
    Create {
        /// The user's login name.
        login: String,
        /// admin, marketer, analyst, store_manager, support, auditor.
        #[arg(long)]
        role: String,
        /// A store manager's store (repeat for more).
        #[arg(long = "store")]
        stores: Vec<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// Their e-mail: where tasks and reminders due to them are sent.
        #[arg(long)]
        email: Option<String>,
    },
    /// List staff users.
    List,
    /// Change a user's role or stores, reset the password, disable or enable; every
    /// change ends the user's sessions.
    Update {
        /// The user's login name.
        login: String,
        /// New role: admin, marketer, analyst, store_manager, support, auditor.
        #[arg(long)]
        role: Option<String>,
        /// Replace the user's stores (repeat for more).
        #[arg(long = "store")]
        stores: Vec<String>,
        /// Generate a new password and print it on the last line.
        #[arg(long)]
        reset_password: bool,
        /// Disable the user: they can no longer sign in.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable a disabled user again.
        #[arg(long)]
        enable: bool,
        /// Their e-mail (where tasks due to them are sent); "" removes it.
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List the keyring's keys and which still seal data.
    List,
    /// Add a new key to the keyring file and re-seal all personal data under it.
    /// With --retire, remove keys that no longer seal anything afterwards.
    Rotate {
        /// Re-seal under the current last key without adding one (after adding a key
        /// to every server's keyring by hand).
        #[arg(long)]
        no_new_key: bool,
        /// Afterwards, remove keys that no longer seal anything.
        #[arg(long)]
        retire: bool,
    },
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// customer, card, user, organisation, crm_entry, config, …
    #[arg(long)]
    pub object_kind: Option<String>,
    /// e.g. c_7.
    #[arg(long)]
    pub object_id: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The proposed change: a configuration file, as for `loyd apply`.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// First day of the period (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub from: String,
    /// Last day of the period (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub to: String,
    /// Only the receipts of this store.
    #[arg(long)]
    pub store: Option<String>,
    /// Time zone of the days.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Create an admin API key; prints it alone on the last line (shown once).
    Create {
        /// What the key is for, e.g. "erp-export"; shown in the audit log.
        #[arg(long)]
        name: String,
        /// admin, marketer, analyst, store_manager, support, auditor.
        #[arg(long, default_value = "admin")]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CustomerCommand {
    /// Register a customer.
    Create {
        /// International phone number, e.g. +37120000000.
        #[arg(long)]
        phone: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Full name.
        #[arg(long)]
        name: Option<String>,
        /// YYYY-MM-DD, for birthday campaigns.
        #[arg(long)]
        birth_date: Option<String>,
        /// A profile field, `field=value` (repeat for more): `--profile city=Riga`.
        #[arg(long, value_name = "FIELD=VALUE")]
        profile: Vec<String>,
    },
    /// Show a customer: contact data and profile fields.
    Show {
        /// Customer id (c_7 or 7).
        customer: String,
    },
    /// Change contact data (an empty value removes it) and profile fields:
    /// `--profile city=Tartu` sets, `--profile city=` removes. Other fields are kept.
    Update {
        /// Customer id (c_7 or 7).
        customer: String,
        /// New phone number (empty: remove).
        #[arg(long)]
        phone: Option<String>,
        /// New e-mail address (empty: remove).
        #[arg(long)]
        email: Option<String>,
        /// New name (empty: remove).
        #[arg(long)]
        name: Option<String>,
        /// A profile field, `field=value` sets, `field=` removes (repeat for more).
        #[arg(long, value_name = "FIELD=VALUE")]
        profile: Vec<String>,
        /// Consent per channel: `--consent sms=yes`, `--consent email=no`.
        #[arg(long, value_name = "CHANNEL=yes|no")]
        consent: Vec<String>,
        /// Leave all marketing (membership and balances stay).
        #[arg(long, conflicts_with = "opt_in")]
        opt_out: bool,
        /// Come back to marketing (give consents again one by one).
        #[arg(long)]
        opt_in: bool,
    },
    /// Find customers by phone, e-mail, card or name words.
    Find {
        /// The phone number, exactly.
        #[arg(long)]
        phone: Option<String>,
        /// The e-mail address, exactly.
        #[arg(long)]
        email: Option<String>,
        /// A card number.
        #[arg(long)]
        card: Option<String>,
        /// Words of the name, in any order.
        #[arg(long)]
        name: Option<String>,
        /// At most this many customers.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Merge a duplicate into a customer: cards, receipts, balances move over.
    Merge {
        /// The customer to keep (c_7).
        keep: String,
        /// The duplicate (c_9).
        duplicate: String,
    },
    /// Import customers from CSV (header row: phone, email, name, birth_date, cards,
    /// consent_<channel>, any other column is a profile field). Bad rows are reported
    /// with their line number; good rows are kept.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The loyalty series of the numbers in a `card`/`cards` column.
        #[arg(long)]
        card_series: Option<String>,
        /// Write refused rows (line, reason) to this CSV file instead of stderr.
        #[arg(long)]
        errors: Option<PathBuf>,
        /// Rows per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Export every customer as CSV (the import format, plus id), streaming.
    Export {
        /// Default: stdout.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// No progress on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// A one-time code that identifies the customer at a POS for five minutes.
    Code {
        /// Customer id (c_7 or 7).
        customer: String,
    },
    /// Give or take points or money by hand (goodwill, corrections).
    Adjust {
        /// Customer id (c_7 or 7).
        customer: String,
        /// The currency's code, e.g. bonus.
        #[arg(long)]
        currency: String,
        /// Signed decimal: "50" gives, "-50" takes.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Why, for the statement and the audit log.
        #[arg(long)]
        reason: String,
        /// Idempotency id: repeating the command with the same id changes nothing.
        #[arg(long)]
        operation_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CardCommand {
    /// Issue cards of a series: the next numbers, or one given number. Gift card PINs
    /// are printed once.
    Issue {
        /// The card series' id.
        #[arg(long)]
        series: String,
        /// How many cards.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Bind to this customer (c_7 or 7); loyalty and credit cards need one.
        #[arg(long)]
        customer: Option<String>,
        /// Issue this number instead of the next one.
        #[arg(long)]
        number: Option<String>,
        /// A virtual loyalty card (no plastic) for a customer with a phone.
        #[arg(long = "virtual")]
        virtual_card: bool,
    },
    /// Replace a lost card: the new number keeps the customer and balances; the old
    /// one is blocked for good.
    Replace {
        /// The lost card's number.
        number: String,
        /// The new card's number (issued now, or an issued card not yet bound).
        #[arg(long = "new")]
        new_number: String,
    },
    /// Block a card (lost, stolen): it is refused everywhere until unblocked.
    Block {
        /// The card's number.
        number: String,
    },
    /// Unblock a blocked card: it works again.
    Unblock {
        /// The card's number.
        number: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CouponsCommand {
    /// Generate unique, unguessable codes of a series; prints one per line.
    Generate {
        /// The coupon series' id.
        #[arg(long)]
        series: String,
        /// How many codes.
        #[arg(long)]
        count: u32,
        /// Personal coupons of this customer (c_7 or 7).
        #[arg(long)]
        customer: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CreditCommand {
    /// Settle a customer's credit (payroll deduction): everything owed, or --amount.
    Settle {
        /// Customer id (c_7 or 7).
        customer: String,
        /// The credit currency's code.
        #[arg(long)]
        currency: String,
        /// Settle this much (a decimal) instead of everything owed.
        #[arg(long)]
        amount: Option<String>,
        /// Idempotency id, e.g. payroll-2026-11-c7.
        #[arg(long)]
        operation_id: String,
    },
    /// A customer's statement for a month.
    Statement {
        /// Customer id (c_7 or 7).
        customer: String,
        /// The credit currency's code.
        #[arg(long)]
        currency: String,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// Time zone of the month's boundaries.
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
}

#[derive(Args, Debug)]
pub struct FailuresArgs {
    /// Only this store's refusals.
    #[arg(long)]
    pub store: Option<String>,
    /// Only this terminal's refusals (with --store).
    #[arg(long)]
    pub terminal: Option<String>,
    /// Only refusals with this error code, e.g. insufficient_funds.
    #[arg(long)]
    pub code: Option<String>,
    /// Only refusals of this card.
    #[arg(long)]
    pub card: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on. Default 127.0.0.1:8080.
    #[arg(long, env = "LOYD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Seconds before a request is answered `503 timeout`. Default 10.
    #[arg(long, env = "LOYD_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Largest request body in bytes. Default 1048576.
    #[arg(long, env = "LOYD_BODY_LIMIT_BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// Seconds between runs of the scheduled jobs; 0 disables them. Default 30.
    #[arg(long, env = "LOYD_JOBS_INTERVAL_SECS")]
    pub jobs_interval_secs: Option<u64>,
    /// Milliseconds between passes that send events to webhooks; 0 stops sending (the
    /// events wait in the database). Default 1000.
    #[arg(long, env = "LOYD_DELIVER_INTERVAL_MS")]
    pub deliver_interval_ms: Option<u64>,
    /// Where customers reach this server, for the links in messages (unsubscribing):
    /// `https://loyalty.shop.example`. Default: `http://` and the listen address.
    #[arg(long, env = "LOYD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Behind a reverse proxy you run: take a client's network address from the last
    /// entry of `X-Forwarded-For` (the portal's rate limits count by it). Default: no.
    #[arg(long, env = "LOYD_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: Option<bool>,
    /// Where reports read: a read-only replica of the database (it is never written
    /// or migrated). Default: the database itself.
    #[arg(long, env = "LOYD_REPORTS_DATABASE_URL", hide_env_values = true)]
    pub reports_database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Create a store.
    Create {
        /// The store's id (letters, digits, '-', '_', '.').
        id: String,
        /// The store's name as people know it.
        #[arg(long)]
        name: String,
        /// Store format used by campaign targeting, e.g. supermarket, discounter.
        #[arg(long)]
        format: Option<String>,
        /// IANA time zone. Default UTC.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// The money currency of the store's receipts; an ISO code not yet defined is
        /// defined as money with 2 decimals.
        #[arg(long, default_value = "EUR")]
        currency: String,
    },
    /// List stores.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TerminalCommand {
    /// Create a terminal; prints its key alone on the last line (shown once, stored hashed).
    Create {
        /// The store's id.
        #[arg(long)]
        store: String,
        /// The terminal's id within the store.
        #[arg(long)]
        terminal: String,
    },
    /// Replace a terminal's key; the old key stops working at once. Prints the new key.
    RotateKey {
        /// The store's id.
        #[arg(long)]
        store: String,
        /// The terminal's id within the store.
        #[arg(long)]
        terminal: String,
    },
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The program file (TOML; docs/programs.md).
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Print what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The file is the whole configuration: remove what it does not name. Refused for
    /// what still carries value (a currency held, a store with terminals or receipts,
    /// a series with cards or live coupons). Try it with --dry-run first.
    #[arg(long)]
    pub prune: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// List the versions, newest first: when, by whom or what, how many changes.
    Versions {
        /// How many versions to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Print a version's whole configuration as a program file.
    Show {
        /// The version (default: the one in force).
        version: Option<i64>,
    },
    /// What changed between two versions.
    Diff {
        /// The older version.
        from: i64,
        /// The newer version (default: the one in force).
        to: Option<i64>,
    },
    /// Make an earlier version's configuration the one in force again, as a new
    /// version; what was added since is removed unless it carries value.
    Rollback {
        /// The version to return to.
        version: i64,
        /// Print what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the configuration in force as a program file that `loyd apply` reproduces.
    Export {
        /// Write to this file instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Export this version instead of the one in force.
        #[arg(long)]
        version: Option<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Check every ledger invariant over the whole database; exits 1 if any fails.
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Run every scheduled job once, to completion.
    Run,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every command and every option, with the path of commands that leads to it.
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        if cmd.get_about().is_none() && !path.is_empty() {
            out.push(format!("command `{path}` has no help text"));
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("`{path} --{}` has no help text", arg.get_long().unwrap_or(id)));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()).trim(), out);
        }
    }

    #[test]
    fn every_command_and_option_has_help_text() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "", &mut missing);
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
