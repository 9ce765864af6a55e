//! `loyd-bench`: the load, scale and fault harness of the POS path.
//!
//! One command builds (or reuses) a dataset, serves it with the real server stack (the
//! `loyd-api` router over `loyd-store`, on its own runtime threads), drives it over HTTP
//! with concurrent terminals, checks that nothing was lost or applied twice, measures
//! the raw-database reference on the same machine, and prints the ratio. What the
//! figures are and how to read them: `docs/performance.md`; the path a receipt takes
//! through the crates: `docs/architecture.md`.
//!
//! ```sh
//! cargo run --release -p loyd-bench -- --db sqlite
//! cargo run --release -p loyd-bench -- --db postgres
//! ```
//!
//! ## Layout
//! - `main.rs` (this file): the arguments, the server it starts, and the run: dataset,
//!   load or retry storm, checks, reference, report.
//! - `dataset`: the program, stores, terminals, customers with cards, gift cards and a
//!   receipt history of a chosen size, reused between runs.
//! - `load`: concurrent terminals driving the POS API over HTTP (`--mix`), with
//!   latencies per operation.
//! - `mailing`: `--mailing`, a mailing to every customer enqueued and timed instead.
//! - `retries`: the retry storm (S9 at scale): short client timeouts, the same receipts
//!   sent again against a few hot cards, then every answer checked against the balances.
//! - `reference`: the raw-database reference, one receipt commit without the
//!   application, from the scripts in `reference/`.
//! - `report`: what a run prints (and writes as JSON): the machine, throughput and
//!   latency, the reference, the ratios, the checks.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use loyd_store::{Store, StoreOptions, SystemClock};

mod dataset;
mod load;
mod mailing;
mod reference;
mod report;
mod retries;

use dataset::Shape;
use load::Mix;

/// The allocator `loyd` serves with, so the server stack here runs as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every dataset has this many terminals; a run drives the first `--terminals` of them.
const DATASET_TERMINALS: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

/// Load, scale and fault harness for the POS API.
#[derive(Debug, Parser)]
#[command(name = "loyd-bench", version)]
struct Args {
    /// The database under test.
    #[arg(long, value_enum, default_value = "sqlite")]
    db: Db,
    /// PostgreSQL server (the bench uses databases `--pg-database` and `loyd_bench_ref`).
    #[arg(long, env = "LOYD_BENCH_PG", default_value = "postgres://postgres@127.0.0.1:5432")]
    pg: String,
    /// The PostgreSQL database of the dataset; with its own `--dir`, two datasets (say
    /// 100k and 10M receipts of history) can stand side by side for alternating runs.
    #[arg(long, default_value = "loyd_bench", value_parser = database_name)]
    pg_database: String,
    /// Where SQLite files, the dataset markers and reference scratch files go.
    #[arg(long, default_value = "loyd-bench-data")]
    dir: PathBuf,
    /// What the terminals do.
    #[arg(long, value_enum, default_value = "commit")]
    mix: Mix,
    /// Concurrent terminals (at most 1000).
    #[arg(long, default_value_t = 8)]
    terminals: u32,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Dataset: customers, each with a loyalty card.
    #[arg(long, default_value_t = 100_000)]
    customers: u64,
    /// Dataset: receipts of history (each with its accrual in the ledger).
    #[arg(long, default_value_t = 100_000)]
    history: u64,
    #[arg(long, default_value_t = 10)]
    stores: u32,
    /// Rebuild the dataset even when one of the same shape exists.
    #[arg(long)]
    fresh: bool,
    /// Skip the raw-database reference.
    #[arg(long)]
    no_reference: bool,
    /// Retries: how many hot cards the storm hits.
    #[arg(long, default_value_t = 10)]
    hot_cards: u64,
    /// Client timeout in milliseconds (the retry storm's clients give up after it).
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Run the jobs that read what receipts wrote — `roll_up` (the aggregates) and
    /// `detect_fraud` — on the server every this many milliseconds while the load runs,
    /// after running them over the history once before it; 0: not at all (`loyd serve`
    /// runs them every `jobs_interval_secs`, 30 s by default).
    #[arg(long, default_value_t = 0)]
    roll_up_every_ms: u64,
    /// Server's database connections (PostgreSQL pool; SQLite readers).
    #[arg(long, default_value_t = 16)]
    db_connections: u32,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Instead of the load: enqueue a mailing by SMS to every customer of the dataset
    /// (a third consented), time it, and cancel it (nothing is sent).
    #[arg(long)]
    mailing: bool,
    /// Put in force, before the load, messages for every event a receipt raises
    /// (points accrued and spent, tier changed, coupon issued, gift due): each receipt of
    /// a customer then records its events in the outbox. Without it, the plain program.
    #[arg(long)]
    triggers: bool,
}

/// A database name the bench may drop and create: lowercase letters, digits and `_`.
fn database_name(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name != "postgres"
        && name != "loyd_bench_ref";
    if ok { Ok(name.to_owned()) } else { Err("use lowercase letters, digits and _ (not postgres or loyd_bench_ref)".into()) }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,sqlx::query=error,sqlx::postgres::notice=error".into())).try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The server stack on a runtime of its own, as a `loyd serve` process would run it.
struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Opens the store on the server's runtime (its connections belong to that runtime's
    /// reactor, as in a server process) and serves until stopped.
    fn start(url: loyd_store::DatabaseUrl, connections: u32, threads: usize, roll_up_every: Option<Duration>) -> anyhow::Result<Server> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(threads).thread_name("server").enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return drop(ready_tx.send(Err(e.into()))),
            };
            runtime.block_on(async move {
                let store = match open(&url, connections).await {
                    Ok(s) => s,
                    Err(e) => return drop(ready_tx.send(Err(e))),
                };
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return drop(ready_tx.send(Err(e.into()))),
                };
                if let Some(every) = roll_up_every {
                    // The history first, so the load meets only the job's steady work.
                    for job in [loyd_store::Job::RollUp, loyd_store::Job::DetectFraud] {
                        if let Err(e) = store.run_job(job, "bench".into()).await {
                            return drop(ready_tx.send(Err(e.into())));
                        }
                    }
                    let store = store.clone();
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(every);
                        loop {
                            tick.tick().await;
                            if let Err(e) = store.roll_up(500).await {
                                eprintln!("roll_up failed: {e}");
                            }
                            if let Err(e) = store.detect_fraud(500).await {
                                eprintln!("detect_fraud failed: {e}");
                            }
                        }
                    });
                }
                let _ = ready_tx.send(Ok(()));
                let state = loyd_api::AppState::new(store.clone(), loyd_api::ApiConfig::default());
                let _ = loyd_api::serve(listener, state, async move {
                    let _ = stop_rx.await;
                })
                .await;
                store.close().await;
            });
        });
        ready_rx.recv().context("the server thread ended")??;
        Ok(Server { base, stop: Some(stop_tx), thread: Some(thread) })
    }

    fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn open(url: &loyd_store::DatabaseUrl, connections: u32) -> anyhow::Result<Store> {
    let opts = StoreOptions {
        max_connections: connections,
        // As `loyd serve`: a request waits at most 2 s for a connection, then gets 503.
        acquire_timeout: Duration::from_secs(2),
        secret: Arc::new(b"loyd-bench: a fixed secret, so a reused dataset opens".to_vec()),
        ..StoreOptions::default()
    };
    Store::open(url, opts, Arc::new(SystemClock)).await.with_context(|| format!("opening {}", url.redacted()))
}

async fn run(args: Args) -> anyhow::Result<bool> {
    anyhow::ensure!((1..=DATASET_TERMINALS).contains(&args.terminals), "--terminals must be 1 to {DATASET_TERMINALS}");
    std::fs::create_dir_all(&args.dir)?;
    let shape = Shape {
        backend: args.db.name().into(),
        stores: args.stores,
        terminals: DATASET_TERMINALS,
        customers: args.customers,
        history: args.history,
    };
    let url = dataset::database_url(args.db.name(), &args.pg, &args.pg_database, &args.dir);
    if args.fresh || !dataset::existing(&args.dir, &shape) {
        println!("building the dataset: {shape:?}");
        dataset::wipe(&args.dir, &shape, &args.pg, &args.pg_database).await?;
        let store = open(&url, args.db_connections).await?;
        dataset::build(&store, &args.dir, &shape, &url).await?;
        store.close().await;
    } else {
        println!("reusing the dataset in {} ({shape:?}); --fresh rebuilds it", url.redacted());
    }
    let machine = report::Machine::read(&url).await;
    {
        // The program of this run: the dataset's, with or without the triggers.
        let store = open(&url, 2).await?;
        let doc = dataset::program_with(args.stores, args.triggers)?;
        store.apply_config_as(doc, "loyd-bench".into(), false, loyd_domain::config::Mode::Replace).await?;
        store.close().await;
        println!("triggers: {}", if args.triggers { "on (messages for every receipt event)" } else { "off" });
    }
    if args.mailing {
        let store = open(&url, args.db_connections).await?;
        let done = mailing::run(&store).await?;
        store.close().await;
        println!(
            "mailing: {} customers read, {} deliveries enqueued, {} skipped (no consent), in {:.1} s ({:.0} customers/s)",
            done.customers,
            done.enqueued,
            done.skipped,
            done.seconds,
            done.customers as f64 / done.seconds.max(0.001)
        );
        return Ok(done.customers == i64::try_from(args.customers).unwrap_or(i64::MAX));
    }

    let mut raw = dataset::Raw::connect(&url).await?;
    let receipts_before = raw.number("SELECT COUNT(*) FROM receipts").await?;
    let terminals: Vec<_> = (0..args.terminals).map(|i| dataset::terminal(i, args.stores)).collect();
    let gift_cards = if args.mix == Mix::Mixed {
        let store = open(&url, 2).await?;
        let cards = dataset::gift_cards(&store, args.terminals * 20).await?;
        // The back office reads customers' purchase pages with this key.
        match store.create_api_key("loyd-bench".into(), loyd_domain::org::terminal_key_hash(dataset::ADMIN_KEY), loyd_domain::access::Role::Admin).await {
            Ok(()) | Err(loyd_store::StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        store.close().await;
        cards
    } else {
        Vec::new()
    };
    let run_id = format!("run{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs());
    if args.mix == Mix::Retries {
        // Hot cards get points for about 200 receipts each: the storm spends them all, so
        // both commits and refusals for insufficient funds happen under contention.
        let store = open(&url, 2).await?;
        for i in 0..args.hot_cards.min(args.customers) {
            let customer = raw.number(&format!("SELECT customer_id FROM cards WHERE number = '{}'", dataset::card_number(i))).await?;
            let asset = loyd_domain::ids::AssetCode::parse("bonus")?;
            store.adjust_balance(format!("{run_id}-topup-{i}"), customer, asset, 10_000, "loyd-bench retry storm".into(), "loyd-bench".into()).await?;
        }
        store.close().await;
    }
    let roll_up_every = (args.roll_up_every_ms > 0).then(|| Duration::from_millis(args.roll_up_every_ms));
    let server = Server::start(url.clone(), args.db_connections, args.server_threads, roll_up_every)?;
    
    let mut sound = true;
    let mut outcome = report::Outcome::default();
    if args.mix == Mix::Retries {
        println!("retry storm: {} terminals, {} hot cards, client timeout {} ms, {} s", args.terminals, args.hot_cards, args.timeout_ms.unwrap_or(1000), args.seconds);
        let storm = retries::run(retries::StormConfig {
            base: server.base.clone(),
            terminals,
            hot_cards: args.hot_cards.min(args.customers).max(1),
            duration: Duration::from_secs(args.seconds),
            timeout: Duration::from_millis(args.timeout_ms.unwrap_or(1000)),
            run_id: run_id.clone(),
        })
        .await?;
        sound &= report::storm(&storm);
    } else {
        println!(
            "load: {} terminals, mix {:?}, {} s warm-up + {} s measured, against {}",
            args.terminals,
            args.mix,
            args.warmup,
            args.seconds,
            url.redacted()
        );
        let client = load::client(Duration::from_millis(args.timeout_ms.unwrap_or(30_000)), args.terminals as usize)?;
        let result = load::run(
            load::LoadConfig {
                base: server.base.clone(),
                terminals,
                warmup: Duration::from_secs(args.warmup),
                measure: Duration::from_secs(args.seconds),
                mix: args.mix,
                with_points: args.customers.min(args.history).max(1),
                customers: args.customers.max(1),
                gift_cards,
                run_id: run_id.clone(),
            },
            client,
        )
        .await?;
        let in_db = raw.number(&format!("SELECT COUNT(*) FROM receipts WHERE receipt_id LIKE '{run_id}-%'")).await?;
        let in_db = u64::try_from(in_db).unwrap_or(0);
        let nothing_lost = in_db >= result.committed && in_db <= result.committed + result.unanswered_commits;
        println!(
            "receipts answered 201: {}; unanswered: {}; in the database: {} → {}",
            result.committed,
            result.unanswered_commits,
            in_db,
            if nothing_lost { "none lost, none twice" } else { "MISMATCH" }
        );
        sound &= nothing_lost;
        outcome.load = Some(result);
    }
    server.stop();

    let started = Instant::now();
    let store = open(&url, 2).await?;
    let audit = store.ledger_audit().await?;
    println!(
        "ledger: {} accounts checked in {:.1} s: {}",
        audit.accounts,
        started.elapsed().as_secs_f64(),
        if audit.is_sound() { "sound (sums to zero, balances equal their transfers)" } else { "NOT SOUND" }
    );
    for p in audit.problems.iter().take(10) {
        println!("  PROBLEM: {p}");
    }
    sound &= audit.is_sound();
    let receipts_after = raw.number("SELECT COUNT(*) FROM receipts").await?;
    store.close().await;

    if !args.no_reference && args.mix != Mix::Retries {
        println!("reference: {} s of the raw database transaction…", args.seconds);
        outcome.reference = Some(match args.db {
            Db::Postgres => reference::postgres(&args.pg, args.terminals as usize, args.seconds, &args.dir).await?,
            Db::Sqlite => reference::sqlite(args.seconds, &args.dir)?,
        });
    }
    outcome.history = (receipts_before, receipts_after);
    report::print(&machine, &args_summary(&args), &outcome);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report::json(&machine, &args_summary(&args), &outcome))?)?;
    }
    Ok(sound)
}

fn args_summary(args: &Args) -> report::RunInfo {
    report::RunInfo {
        backend: args.db.name().into(),
        mix: format!("{:?}", args.mix).to_lowercase(),
        terminals: args.terminals,
        seconds: args.seconds,
        customers: args.customers,
        history: args.history,
    }
}

#[cfg(test)]
mod tests {
    use super::database_name;

    #[test]
    fn only_plain_database_names_other_than_the_servers_and_the_references_may_be_dropped_and_created() {
        assert_eq!(database_name("loyd_bench_10m"), Ok("loyd_bench_10m".to_owned()));
        for bad in ["", "postgres", "loyd_bench_ref", "Loyd", "a b", "x; DROP DATABASE y", "x\"y", &"a".repeat(64)] {
            assert!(database_name(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
