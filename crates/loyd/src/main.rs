//! `loyd`: the server and the operator's command line. Thin: parses arguments, resolves
//! settings, opens the store and calls into the library crates. Where each capability
//! lives across the crates: `docs/architecture.md`; the commands: `docs/operations.md`.
//!
//! ## Layout
//! - `main.rs` (this file): `serve` (the HTTP server, the scheduled jobs and the
//!   configuration poll), `migrate`, `store`, `terminal`, `apply`, `ledger verify`,
//!   `jobs run`, and the dispatch of the other commands.
//! - `cli`: the command line (clap): every command and option, each global option also
//!   from a `LOYD_*` variable or the `--config` file.
//! - `settings`: resolved settings (defaults, file, environment, flags), the secret key
//!   and the keyring.
//! - `commands/`: the operator's commands, one module per capability (customers and
//!   their CSV import/export, balances, cards, coupons, credit, staff users and API
//!   keys, the keyring, the audit log, the failure log, simulation).
//! - `jobs`: the scheduled jobs (holds, expired lots, inactivity, conversions) and the
//!   poll that puts configuration applied elsewhere in force.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use loyd_api::{ApiConfig, AppState};
use loyd_domain::config::{CurrencyKind, CurrencySpec};
use loyd_domain::ids::{AssetCode, StoreCode, TerminalCode};
use loyd_domain::money::Scale;
use loyd_domain::org::{StoreSpec, TimeZoneName, terminal_key_hash};
use loyd_store::{Store, StoreOptions, SystemClock};
use tokio::sync::watch;

mod cli;
mod commands;
mod jobs;
mod settings;

use cli::{Cli, Command, JobsCommand, LedgerCommand, LogFormat, ServeArgs, StoreCommand, TerminalCommand};
use settings::{FileSettings, ServeSettings, Settings};

/// mimalloc: receipts allocate many small, short-lived values (lines, JSON), which it
/// serves faster than the system allocator (≈10 % on the engine benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// How long a request waits for a database connection before it is refused with
/// `503 unavailable`. While PostgreSQL is down (restarting, failing over) the pool keeps
/// trying to connect for all of this time, so this is also how long a request takes to
/// be refused then: well within a POS's timeout, so that the POS gets an answer to retry
/// on rather than no answer at all (`tests/pg_restart.rs`).
const DB_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub(crate) async fn open(settings: &Settings, migrate: bool) -> anyhow::Result<Store> {
    let secret = settings.load_secret()?;
    let keyring = Some(settings.load_keyring(&secret)?);
    let opts = StoreOptions {
        migrate,
        max_connections: settings.db_max_connections,
        acquire_timeout: DB_ACQUIRE_TIMEOUT,
        secret: Arc::new(secret),
        keyring,
        ..StoreOptions::default()
    };
    Store::open(&settings.database_url, opts, Arc::new(SystemClock))
        .await
        .with_context(|| format!("opening the database {}", settings.database_url.redacted()))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let file = FileSettings::load(cli.global.config.as_deref())?;
    let settings = Settings::resolve(&cli.global, &file)?;
    init_logging(&settings);
    match cli.command {
        Command::Serve(args) => serve(&settings, ServeSettings::resolve(&args, &file)?).await,
        Command::Migrate => {
            let store = open(&settings, true).await?;
            println!("migrated {}", store.describe());
            Ok(ExitCode::SUCCESS)
        }
        Command::Store(cmd) => store_command(&settings, cmd).await,
        Command::Terminal(cmd) => terminal_command(&settings, cmd).await,
        Command::Apply(args) => commands::programs::apply(&open(&settings, true).await?, args).await,
        Command::Config(cmd) => commands::programs::config(&open(&settings, true).await?, cmd).await,
        Command::Ledger(LedgerCommand::Verify) => {
            let store = open(&settings, true).await?;
            let audit = store.ledger_audit().await?;
            for a in &audit.assets {
                println!("{}: sum of all balances {}", a.asset, a.sum);
            }
            for p in &audit.problems {
                println!("PROBLEM: {p}");
            }
            println!("{} accounts checked: {}", audit.accounts, if audit.is_sound() { "sound" } else { "NOT SOUND" });
            Ok(if audit.is_sound() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Jobs(JobsCommand::Run) => {
            let store = open(&settings, true).await?;
            let mut ok = true;
            for r in jobs::run_once(&store, "cli").await? {
                match &r.error {
                    Some(e) => {
                        ok = false;
                        println!("{}: {} done, then failed: {e}", r.job, r.items);
                    }
                    None => println!("{}: {} done", r.job, r.items),
                }
            }
            // The links of messages sent from here are the server's (`public_url`).
            let args = ServeArgs { public_url: std::env::var("LOYD_PUBLIC_URL").ok(), ..ServeArgs::default() };
            let sender = loyd_api::deliver::Sender::new(&ServeSettings::resolve(&args, &file)?.public_url);
            match loyd_api::deliver::deliver_all(&store, &sender).await {
                Ok(n) => println!("deliveries: {n} attempted"),
                Err(e) => {
                    ok = false;
                    println!("deliveries: failed: {e}");
                }
            }
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::ApiKey(cmd) => commands::staff::api_key(&open(&settings, true).await?, cmd).await,
        Command::Customer(cmd) => commands::customers::customer(&open(&settings, true).await?, cmd).await,
        Command::User(cmd) => commands::staff::user(&open(&settings, true).await?, cmd).await,
        Command::Keys(cmd) => commands::keyring::keys(&settings, cmd).await,
        Command::Audit(args) => commands::audit::audit(&open(&settings, true).await?, args).await,
        Command::Card(cmd) => commands::cards::card(&open(&settings, true).await?, cmd).await,
        Command::Coupons(cmd) => commands::coupons::coupons(&open(&settings, true).await?, cmd).await,
        Command::Credit(cmd) => commands::credit::credit(&open(&settings, true).await?, cmd).await,
        Command::Failures(args) => commands::failures::failures(&open(&settings, true).await?, args).await,
        Command::Simulate(args) => commands::programs::simulate(&open(&settings, true).await?, args).await,
    }
}

async fn serve(settings: &Settings, serve: ServeSettings) -> anyhow::Result<ExitCode> {
    let store = open(settings, true).await?;
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .with_context(|| format!("listening on {}", serve.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %store.describe(), version = env!("CARGO_PKG_VERSION"), "loyd is serving");

    let (stop_tx, stop_rx) = watch::channel(false);
    let jobs = serve.jobs_interval.map(|every| tokio::spawn(jobs::run_forever(store.clone(), every, stop_rx.clone())));
    let refresher = tokio::spawn(jobs::refresh_programs(store.clone(), stop_rx.clone()));
    let sender = loyd_api::deliver::Sender::new(&serve.public_url);
    let deliveries = serve.deliver_interval.map(|every| tokio::spawn(jobs::deliver_forever(store.clone(), sender, every, stop_rx.clone())));
    let config = ApiConfig {
        request_timeout: serve.request_timeout,
        body_limit_bytes: serve.body_limit_bytes,
        public_url: serve.public_url.clone(),
        trust_forwarded_for: serve.trust_forwarded_for,
    };
    let mut state = AppState::new(store.clone(), config);
    if let Some(url) = &serve.reports_database_url {
        // A replica: read only, never migrated; it must already be at this version.
        let mut replica = settings.clone();
        replica.database_url = url.clone();
        let reports = open(&replica, false).await.context("opening the reports' database")?;
        tracing::info!(database = %reports.describe(), "reports read from a replica");
        state = state.with_reports(reports);
    }
    loyd_api::serve(listener, state, shutdown_signal()).await.context("serving HTTP")?;

    tracing::info!("shutting down: requests finished, stopping jobs");
    let _ = stop_tx.send(true);
    for j in [jobs, deliveries].into_iter().flatten() {
        let _ = j.await;
    }
    let _ = refresher.await;
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM. The SIGTERM handler is installed here, before the
/// server answers anything: a SIGTERM sent once it is ready stops it gracefully, never
/// by the signal's default (death).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
    }
}

async fn store_command(settings: &Settings, cmd: StoreCommand) -> anyhow::Result<ExitCode> {
    let store = open(settings, true).await?;
    match cmd {
        StoreCommand::Create { id, name, format, timezone, currency } => {
            let currency = AssetCode::parse(currency)?;
            let spec = StoreSpec {
                id: StoreCode::parse(id)?,
                name,
                format: format.map(StoreCode::parse).transpose()?,
                timezone: TimeZoneName::parse(timezone)?,
                currency: currency.clone(),
                partner: None,
                offline_days: None,
                address: None,
                hours: None,
            };
            // An ISO 4217 code (three capitals) that is not defined yet is defined as money
            // with two decimals; anything else must be defined with `loyd apply`.
            let iso = currency.as_str().len() == 3 && currency.as_str().bytes().all(|b| b.is_ascii_uppercase());
            let define = iso.then(|| CurrencySpec::new(currency.clone(), CurrencyKind::Money, Scale::CENTS));
            let applied = store.create_store(spec.clone(), define).await.map_err(config_problems)?;
            if applied.steps.iter().any(|s| s.object == "currency") {
                println!("defined currency {currency} (money, 2 decimals)");
            }
            let what = serde_json::json!({ "name": spec.name, "timezone": spec.timezone.as_str(), "currency": spec.currency });
            store.record_audit(commands::cli_actor(), "store.create".into(), ("store".into(), spec.id.to_string()), None, Some(what)).await?;
            println!("created store {} ({})", spec.id, spec.name);
        }
        StoreCommand::List => {
            for s in store.stores().await? {
                let format = s.format.as_ref().map(|f| f.as_str()).unwrap_or("-");
                println!("{}\t{}\t{}\t{}", s.id, s.name, format, s.timezone.as_str());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Spells out configuration problems one per line.
fn config_problems(e: loyd_store::StoreError) -> anyhow::Error {
    match e {
        loyd_store::StoreError::Config(problems) => {
            anyhow::anyhow!(problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))
        }
        other => other.into(),
    }
}

async fn terminal_command(settings: &Settings, cmd: TerminalCommand) -> anyhow::Result<ExitCode> {
    let store = open(settings, true).await?;
    let key = loyd_store::Store::new_terminal_key();
    match cmd {
        TerminalCommand::Create { store: s, terminal: t } => {
            let (s, t) = (StoreCode::parse(s)?, TerminalCode::parse(t)?);
            store.create_terminal(s.clone(), t.clone(), terminal_key_hash(&key)).await?;
            store.record_audit(commands::cli_actor(), "terminal.create".into(), ("terminal".into(), format!("{s}/{t}")), None, None).await?;
            println!("created terminal {t} of store {s}; its key (shown once, keep it secret):");
        }
        TerminalCommand::RotateKey { store: s, terminal: t } => {
            let (s, t) = (StoreCode::parse(s)?, TerminalCode::parse(t)?);
            store.rotate_terminal_key(s.clone(), t.clone(), terminal_key_hash(&key)).await?;
            store.record_audit(commands::cli_actor(), "terminal.rotate_key".into(), ("terminal".into(), format!("{s}/{t}")), None, None).await?;
            println!("replaced the key of terminal {t} of store {s}; the old key no longer works. New key:");
        }
    }
    println!("{key}");
    Ok(ExitCode::SUCCESS)
}
