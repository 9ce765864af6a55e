//! What a run prints: the machine, per-operation throughput and latency, the reference
//! and the ratios, and the checks.

use serde_json::{Value, json};

use crate::load::LoadResult;
use crate::reference::Reference;
use crate::retries::StormReport;

#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub database: String,
}

impl Machine {
    pub async fn read(url: &loyd_store::DatabaseUrl) -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| t.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_owned()))
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let database = match crate::dataset::Raw::connect(url).await {
            Ok(mut raw) => match url {
                loyd_store::DatabaseUrl::Postgres(_) => raw.text("SELECT 'PostgreSQL ' || current_setting('server_version')").await,
                loyd_store::DatabaseUrl::Sqlite(_) => raw.text("SELECT 'SQLite ' || sqlite_version()").await,
            }
            .unwrap_or_default(),
            Err(_) => String::new(),
        };
        Machine { cpu, cores, database }
    }
}

#[derive(Debug, Clone)]
pub struct RunInfo {
    pub backend: String,
    pub mix: String,
    pub terminals: u32,
    pub seconds: u64,
    pub customers: u64,
    pub history: u64,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub load: Option<LoadResult>,
    pub reference: Option<Reference>,
    /// Receipts in the database before and after the run.
    pub history: (i64, i64),
}

/// The operation the ratio is about: receipt commits.
fn commits(load: &LoadResult) -> Option<(&'static str, &crate::load::OpStats)> {
    load.ops.iter().find(|(k, _)| k.starts_with("commit")).map(|(k, v)| (*k, v))
}

fn rate(n: u64, load: &LoadResult) -> f64 {
    n as f64 / load.measured.as_secs_f64().max(1e-9)
}

pub fn print(machine: &Machine, run: &RunInfo, outcome: &Outcome) {
    println!();
    println!("machine: {} × {}; {}", machine.cores, machine.cpu, machine.database);
    println!(
        "run: {} terminals, mix {}, {} s measured; dataset {} customers, {} receipts of history ({} in the database at the start)",
        run.terminals, run.mix, run.seconds, run.customers, run.history, outcome.history.0
    );
    if let Some(load) = &outcome.load {
        println!();
        println!("{:<30} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}  refused / errors", "operation", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms");
        for (op, s) in &load.ops {
            let n = s.latencies_us.len() as u64;
            let refused: Vec<String> = s.refused.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let errors: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!(
                "{op:<30} {n:>9} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {} / {}",
                rate(n, load),
                s.quantile_ms(0.50),
                s.quantile_ms(0.95),
                s.quantile_ms(0.99),
                s.quantile_ms(1.0),
                if refused.is_empty() { "-".into() } else { refused.join(", ") },
                if errors.is_empty() { "-".into() } else { errors.join(", ") },
            );
        }
        let total: u64 = load.ops.values().map(|s| s.latencies_us.len() as u64).sum();
        println!("{:<30} {total:>9} {:>9.0}", "all requests", rate(total, load));
        if let (Some((op, s)), Some(r)) = (commits(load), &outcome.reference) {
            let ours = rate(s.ok, load);
            println!();
            println!("reference: {}: {:.0} tx/s, p50 {:.2} ms, p99 {:.2} ms", r.what, r.tps, r.p50_ms, r.p99_ms);
            println!(
                "RATIO {op}: {:.0}/s over HTTP = {:.2}× the raw database rate; p99 {:.2} ms = {:.2}× the raw p99",
                ours,
                ours / r.tps,
                s.quantile_ms(0.99),
                s.quantile_ms(0.99) / r.p99_ms.max(1e-9)
            );
        }
    }
}

pub fn storm(r: &StormReport) -> bool {
    println!(
        "storm: {} receipts sent in {} attempts ({} client timeouts, {} refusals for insufficient funds); \
         sent once more afterwards: {} committed, {} refused for insufficient funds",
        r.receipts, r.attempts, r.timeouts, r.insufficient, r.committed, r.refused
    );
    if !r.other_refusals.is_empty() {
        println!("  other refusals: {:?}", r.other_refusals);
    }
    if !r.server_errors.is_empty() {
        println!("  server errors during the storm (retried): {:?}", r.server_errors);
    }
    let mut sound = true;
    for (card, start, end, expected) in &r.cards {
        let ok = end == expected && *end >= 0;
        sound &= ok;
        println!("  card {card}: {start} → {end} points; expected {expected}: {}", if ok { "exact" } else { "MISMATCH" });
    }
    println!("storm: {}", if sound { "nothing applied twice, nothing lost" } else { "MISMATCH" });
    sound
}

pub fn json(machine: &Machine, run: &RunInfo, outcome: &Outcome) -> Value {
    let ops: Vec<Value> = outcome
        .load
        .iter()
        .flat_map(|l| {
            l.ops.iter().map(move |(op, s)| {
                json!({"operation": op, "count": s.latencies_us.len(), "per_second": rate(s.latencies_us.len() as u64, l),
                       "p50_ms": s.quantile_ms(0.5), "p95_ms": s.quantile_ms(0.95), "p99_ms": s.quantile_ms(0.99), "max_ms": s.quantile_ms(1.0),
                       "refused": s.refused, "errors": s.errors})
            })
        })
        .collect();
    let reference = outcome.reference.as_ref().map(|r| json!({"what": r.what, "tps": r.tps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms}));
    json!({
        "machine": {"cpu": machine.cpu, "cores": machine.cores, "database": machine.database},
        "run": {"backend": run.backend, "mix": run.mix, "terminals": run.terminals, "seconds": run.seconds,
                "customers": run.customers, "history": run.history, "receipts_at_start": outcome.history.0},
        "operations": ops,
        "reference": reference,
    })
}
