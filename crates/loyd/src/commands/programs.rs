//! Programs: `loyd apply` (a program file, merged or replacing), `loyd config` (versions,
//! show, diff, rollback, export) and `loyd simulate` (what a proposed change would have
//! cost over past receipts).

use std::path::Path;

use loyd_domain::config::{ConfigDocument, Mode};
use loyd_domain::program::file;
use loyd_store::{Applied, StoreError};

use super::*;
use crate::cli::{ApplyArgs, ConfigCommand};

/// A program file read, or every problem in it printed as `FILE:LINE:COLUMN: path: what`.
fn read_program(path: &Path) -> anyhow::Result<(String, ConfigDocument)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match file::parse(&text) {
        Ok(doc) => Ok((text, doc)),
        Err(problems) => Err(report(path, problems)),
    }
}

fn report(path: &Path, problems: Vec<file::FileProblem>) -> anyhow::Error {
    for p in &problems {
        eprintln!("{}:{p}", path.display());
    }
    anyhow::anyhow!("{} problem(s) in {}; nothing applied", problems.len(), path.display())
}

/// Store problems with the configuration, located in the file they came from.
fn located<T>(path: &Path, text: &str, result: Result<T, StoreError>) -> anyhow::Result<T> {
    match result {
        Err(StoreError::Config(problems)) => Err(report(path, file::locate(text, problems))),
        other => Ok(other?),
    }
}

fn print_plan(applied: &Applied, dry_run: bool, what: &str) {
    for step in &applied.steps {
        println!("{step}");
    }
    match (dry_run, applied.version) {
        (true, _) if applied.steps.is_empty() => println!("no changes"),
        (true, _) => println!("dry run: {} change(s) planned, nothing applied", applied.steps.len()),
        (false, None) => println!("no changes: the configuration already matches {what}"),
        (false, Some(v)) => println!("applied {} change(s) as configuration version {v}", applied.steps.len()),
    }
}

pub async fn apply(store: &Store, args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let (text, doc) = read_program(&args.file)?;
    let mode = if args.prune { Mode::Replace } else { Mode::Merge };
    let source = args.file.display().to_string();
    let applied = located(&args.file, &text, store.apply_config_as(doc, source.clone(), args.dry_run, mode).await)?;
    if let Some(v) = applied.version {
        let what = serde_json::json!({ "version": v, "file": source, "mode": mode, "steps": applied.steps });
        store.record_audit(cli_actor(), "config.apply".into(), ("config".into(), v.to_string()), None, Some(what)).await?;
    }
    print_plan(&applied, args.dry_run, &source);
    Ok(ExitCode::SUCCESS)
}

async fn version_or_current(store: &Store, version: Option<i64>) -> anyhow::Result<i64> {
    match version {
        Some(v) => Ok(v),
        None => store.config_version().await?.context("no configuration has been applied yet"),
    }
}

pub async fn config(store: &Store, cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Versions { limit } => {
            println!("{:>8}  {:<20}  {:>8}  source", "version", "applied at (UTC)", "changes");
            for v in store.config_history(None, limit).await? {
                let at = v.applied_at.strftime("%Y-%m-%d %H:%M:%S");
                println!("{:>8}  {at:<20}  {:>8}  {}", v.version, v.changes, v.source);
            }
        }
        ConfigCommand::Show { version } => {
            let doc = store.config_document(version_or_current(store, version).await?).await?;
            print!("{}", file::write(&doc).map_err(anyhow::Error::msg)?);
        }
        ConfigCommand::Diff { from, to } => {
            let to = version_or_current(store, to).await?;
            let steps = loyd_domain::config::diff(&store.config_document(from).await?, &store.config_document(to).await?);
            for step in &steps {
                println!("{step}");
            }
            println!("{} change(s) from version {from} to version {to}", steps.len());
        }
        ConfigCommand::Rollback { version, dry_run } => {
            let source = format!("loyd config rollback {version}");
            let applied = match store.rollback_config(version, source, dry_run).await {
                Err(StoreError::Config(problems)) => {
                    for p in &problems {
                        eprintln!("{p}");
                    }
                    anyhow::bail!("version {version} cannot be restored; nothing changed");
                }
                other => other?,
            };
            if let Some(v) = applied.version {
                let what = serde_json::json!({ "version": v, "rollback_to": version, "steps": applied.steps });
                store.record_audit(cli_actor(), "config.rollback".into(), ("config".into(), v.to_string()), None, Some(what)).await?;
            }
            print_plan(&applied, dry_run, &format!("version {version}"));
        }
        ConfigCommand::Export { output, version } => {
            let doc = match version {
                Some(v) => store.config_document(v).await?,
                None => store.config_snapshot().await?,
            };
            let text = file::write(&doc).map_err(anyhow::Error::msg)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn simulate(store: &Store, args: crate::cli::SimulateArgs) -> anyhow::Result<ExitCode> {
    let (text, change) = read_program(&args.file)?;
    let (from, to) = loyd_domain::simulate::period(&args.from, &args.to, &args.timezone).map_err(anyhow::Error::msg)?;
    let report = located(&args.file, &text, store.simulate(change, from, to, args.store).await)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let program = store.program().await?;
    let money_scale = program
        .currencies
        .values()
        .find(|c| c.kind == loyd_domain::config::CurrencyKind::Money)
        .map(|c| c.scale)
        .unwrap_or(loyd_domain::money::Scale::CENTS);
    let m = |v: i64| Minor::new(v, money_scale).to_string();
    let (b, p) = (&report.baseline, &report.proposed);
    println!("receipts {} to {}: {}", args.from, args.to, b.receipts + b.refused);
    println!("{:<28}{:>16}{:>16}{:>16}", "", "now", "proposed", "difference");
    println!("{:<28}{:>16}{:>16}{:>16}", "discounts", m(b.discount), m(p.discount), m(p.discount - b.discount));
    let currencies: std::collections::BTreeSet<&String> = b.accrued.keys().chain(p.accrued.keys()).collect();
    for cur in currencies {
        let scale = program.scale_of(cur);
        let (x, y) = (b.accrued.get(cur).copied().unwrap_or(0), p.accrued.get(cur).copied().unwrap_or(0));
        println!("{:<28}{:>16}{:>16}{:>16}", format!("{cur} accrued"), Minor::new(x, scale), Minor::new(y, scale), Minor::new(y - x, scale));
    }
    println!("{:<28}{:>16}{:>16}{:>16}", "accrued, at value", m(b.accrued_value), m(p.accrued_value), m(p.accrued_value - b.accrued_value));
    println!("{:<28}{:>16}{:>16}{:>16}", "coupons issued", b.coupons_issued, p.coupons_issued, p.coupons_issued as i64 - b.coupons_issued as i64);
    println!("{:<28}{:>16}{:>16}{:>16}", "gifts", b.gifts, p.gifts, p.gifts as i64 - b.gifts as i64);
    println!("{:<28}{:>16}{:>16}{:>16}", "cost (discounts + value)", m(b.cost()), m(p.cost()), m(p.cost() - b.cost()));
    println!("receipts changed: {}; customers affected: {}", report.receipts_changed, report.customers_affected);
    if p.refused + b.refused > 0 {
        println!("receipts the programs refused: now {}, proposed {}", b.refused, p.refused);
    }
    println!("by campaign (proposed):");
    for (campaign, cost) in &p.by_campaign {
        println!("  {campaign:<26}{:>16}", m(*cost));
    }
    println!("limits and budgets are not applied in a simulation: the figures are uncapped");
    Ok(ExitCode::SUCCESS)
}
