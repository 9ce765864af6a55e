//! `loyd simulate`: what a proposed campaign would have cost over past receipts.

use super::*;

pub async fn simulate(store: &Store, args: crate::cli::SimulateArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let change: loyd_domain::config::ConfigDocument = toml::from_str(&text).with_context(|| format!("in {}", args.file.display()))?;
    let tz = TimeZoneName::parse(args.timezone)?;
    let day = |d: &str| -> anyhow::Result<jiff::civil::Date> { d.parse().with_context(|| format!("'{d}' is not a day (YYYY-MM-DD)")) };
    let from = day(&args.from)?.to_zoned_datetime(tz.zone())?.timestamp();
    let to = day(&args.to)?.tomorrow()?.to_zoned_datetime(tz.zone())?.timestamp();
    anyhow::ensure!(from < to, "--from must not be after --to");
    let report = match store.simulate(change, from, to, args.store).await {
        Err(loyd_store::StoreError::Config(problems)) => {
            for p in &problems {
                eprintln!("{}: {p}", args.file.display());
            }
            anyhow::bail!("{} problem(s) in {}", problems.len(), args.file.display());
        }
        other => other?,
    };
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
