//! The raw-database reference, measured in the same run: what the database alone does
//! for one receipt commit (an idempotent receipt row, a balance update, three journal
//! rows, one transaction), with no application in between. The scripts are the
//! project's reference files in `reference/`, unchanged.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use sqlx::{Connection, Executor};

const SCHEMA: &str = include_str!("../reference/receipt_schema.sql");
const PGBENCH: &str = include_str!("../reference/receipt_tx.pgbench");
const SQLITE: &str = include_str!("../reference/sqlite_receipt_bench.py");

#[derive(Debug, Clone)]
pub struct Reference {
    pub what: String,
    pub tps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

fn pg_parts(server: &str) -> anyhow::Result<(String, String, String)> {
    // postgres://user@host:port
    let rest = server.trim_end_matches('/').strip_prefix("postgres://").or_else(|| server.strip_prefix("postgresql://"));
    let rest = rest.context("--pg must look like postgres://user@host:port")?;
    let (user, hostport) = rest.split_once('@').unwrap_or(("postgres", rest));
    let user = user.split(':').next().unwrap_or("postgres");
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    Ok((user.to_owned(), host.to_owned(), port.to_owned()))
}

/// `receipt_tx.pgbench` with `clients` clients for `seconds`, on database
/// `loyd_bench_ref` (created with the reference schema, 1M accounts, once).
pub async fn postgres(server: &str, clients: usize, seconds: u64, work: &Path) -> anyhow::Result<Reference> {
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server.trim_end_matches('/'))).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = 'loyd_bench_ref'").fetch_optional(&mut admin).await?;
    if exists.is_none() {
        admin.execute("CREATE DATABASE loyd_bench_ref").await?;
    }
    let (user, host, port) = pg_parts(server)?;
    let mut db = sqlx::PgConnection::connect(&format!("{}/loyd_bench_ref", server.trim_end_matches('/'))).await?;
    let ready: Option<i64> = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'loyalty_account'").fetch_one(&mut db).await?;
    if ready != Some(1) {
        println!("reference: loading receipt_schema.sql (1M accounts) into loyd_bench_ref");
        let schema = work.join("receipt_schema.sql");
        std::fs::write(&schema, SCHEMA)?;
        let out = Command::new("psql")
            .args(["-h", &host, "-p", &port, "-U", &user, "-q", "-v", "ON_ERROR_STOP=1", "-d", "loyd_bench_ref", "-f"])
            .arg(&schema)
            .output()
            .context("running psql (Debian package postgresql-client)")?;
        if !out.status.success() {
            bail!("loading the reference schema: {}", String::from_utf8_lossy(&out.stderr));
        }
    } else {
        // Same starting point each run: empty receipt and journal tables.
        db.execute(sqlx::raw_sql("TRUNCATE receipt, journal")).await?;
        db.execute(sqlx::raw_sql("VACUUM ANALYZE receipt, journal")).await?;
    }
    let script = work.join("receipt_tx.pgbench");
    std::fs::write(&script, PGBENCH)?;
    let logs = work.join("pgbench-log");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs)?;
    let out = Command::new("pgbench")
        .args(["-h", &host, "-p", &port, "-U", &user, "-n", "-M", "prepared"])
        .args(["-T", &seconds.to_string(), "-c", &clients.to_string(), "-j", &clients.clamp(1, 2).to_string()])
        .arg("-l")
        .arg(format!("--log-prefix={}", logs.join("tx").display()))
        .arg("-f")
        .arg(&script)
        .arg("loyd_bench_ref")
        .output()
        .context("running pgbench (Debian package postgresql-client)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("pgbench failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    }
    let tps = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
    // Per-transaction log lines: client_id transaction_no time_us script_no epoch epoch_us
    let mut lat: Vec<u32> = Vec::new();
    for entry in std::fs::read_dir(&logs)? {
        let text = std::fs::read_to_string(entry?.path())?;
        lat.extend(text.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok()));
    }
    lat.sort_unstable();
    Ok(Reference {
        what: format!("receipt_tx.pgbench, {clients} clients"),
        tps,
        p50_ms: crate::load::quantile_ms(&lat, 0.50),
        p99_ms: crate::load::quantile_ms(&lat, 0.99),
    })
}

/// `sqlite_receipt_bench.py FULL seconds`: the same transaction on SQLite in WAL mode,
/// one writer, `synchronous=FULL` (the durable setting Loyd runs with).
pub fn sqlite(seconds: u64, work: &Path) -> anyhow::Result<Reference> {
    let script = work.join("sqlite_receipt_bench.py");
    std::fs::write(&script, SQLITE)?;
    let out = Command::new("python3")
        .arg(&script)
        .args(["FULL", &seconds.to_string()])
        .env("BENCH_DIR", work)
        .output()
        .context("running python3")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("the SQLite reference failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    }
    // "... N tx in 10.0s = 3944 tx/s; latency avg 0.2 ms p50 0.2 p99 0.5 p99.9 1.0 ms"
    let after = |key: &str| -> Option<f64> {
        let at = stdout.find(key)? + key.len();
        stdout[at..].split_whitespace().next()?.trim_end_matches(';').parse().ok()
    };
    let tps = stdout.split(" tx/s").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok());
    let (Some(tps), Some(p50), Some(p99)) = (tps, after(" p50 "), after(" p99 ")) else {
        bail!("cannot read the SQLite reference's output: {stdout}");
    };
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(work.join(format!("loyalty_full.db{suffix}")));
    }
    Ok(Reference { what: "sqlite_receipt_bench.py FULL, one writer".into(), tps, p50_ms: p50, p99_ms: p99 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_server_url_splits_into_user_host_and_port() {
        assert_eq!(pg_parts("postgres://postgres@127.0.0.1:5432").unwrap(), ("postgres".into(), "127.0.0.1".into(), "5432".into()));
        assert_eq!(pg_parts("postgres://bench:secret@db.local:6432/").unwrap(), ("bench".into(), "db.local".into(), "6432".into()));
        assert!(pg_parts("mysql://x").is_err());
    }
}
