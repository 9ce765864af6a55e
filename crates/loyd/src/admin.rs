//! Operator commands for cards, coupons, internal credit, balance adjustments, API keys,
//! the failure log and simulations: the minimal admin a POS roll-out needs (the admin
//! API offers the same).

use std::process::ExitCode;

use anyhow::Context;
use loyd_domain::ids::{AssetCode, CustomerId};
use loyd_domain::money::{self, Minor};
use loyd_domain::org::TimeZoneName;
use loyd_store::{FailureFilter, IssueCards, Store};

use crate::cli::{ApiKeyCommand, CardCommand, CouponsCommand, CreditCommand, FailuresArgs};

/// Accepts `c_7` or `7`.
pub fn customer_id(text: &str) -> anyhow::Result<i64> {
    Ok(CustomerId::parse(text).map_err(|_| anyhow::anyhow!("'{text}' is not a customer id (c_7 or 7)"))?.0)
}

/// Parses a decimal amount into minor units of `currency`.
async fn amount_of(store: &Store, currency: &AssetCode, text: &str) -> anyhow::Result<(i64, loyd_domain::money::Scale)> {
    let program = store.program().await?;
    let scale = program.currency(currency).map(|c| c.scale).with_context(|| format!("unknown currency {currency}"))?;
    let minor = money::to_minor_exact(money::parse_decimal(text)?, scale)?;
    Ok((minor, scale))
}

pub async fn api_key(store: &Store, cmd: ApiKeyCommand) -> anyhow::Result<ExitCode> {
    let ApiKeyCommand::Create { name, role } = cmd;
    anyhow::ensure!(
        loyd_domain::access::Role::parse(&role).is_some_and(|r| !r.is_store_scoped()),
        "an API key's role is one of admin, marketer, analyst, support, auditor"
    );
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let key = format!("lya_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    store.create_api_key(name.clone(), loyd_domain::org::terminal_key_hash(&key), role.clone()).await?;
    let what = serde_json::json!({ "role": role });
    store.record_audit(crate::crm::cli_actor(), "api_key.create".into(), ("api_key".into(), name.clone()), None, Some(what)).await?;
    println!("created API key {name}; the key (shown once, keep it secret):");
    println!("{key}");
    Ok(ExitCode::SUCCESS)
}

/// Gives or takes points or money by hand.
pub async fn adjust(store: &Store, customer: String, currency: String, amount: String, reason: String, operation_id: String) -> anyhow::Result<ExitCode> {
    let currency = AssetCode::parse(currency)?;
    let (minor, scale) = amount_of(store, &currency, &amount).await?;
    let id = customer_id(&customer)?;
    let balance = store.adjust_balance(operation_id, id, currency.clone(), minor, reason, crate::crm::cli_actor()).await?;
    println!("{currency} balance now {}", Minor::new(balance, scale));
    Ok(ExitCode::SUCCESS)
}

pub async fn card(store: &Store, cmd: CardCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CardCommand::Issue { series, count, customer, number, virtual_card } => {
            let customer = customer.as_deref().map(customer_id).transpose()?;
            let cards = store.issue_cards(IssueCards { series, count, customer, number, virtual_card }, crate::crm::cli_actor()).await?;
            println!("number\tpin\tcustomer\tvalid_until");
            for c in cards {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.number,
                    c.pin.as_deref().unwrap_or("-"),
                    c.customer.as_deref().unwrap_or("-"),
                    c.valid_until.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
                );
            }
        }
        CardCommand::Replace { number, new_number } => {
            let card = store.replace_card(number.clone(), new_number, crate::crm::cli_actor()).await?;
            println!("card {number} is replaced by {} ({})", card.number, card.state);
            if let Some(pin) = card.pin {
                println!("new PIN (shown once):");
                println!("{pin}");
            }
        }
        CardCommand::Block { number } => {
            store.set_card_blocked(number.clone(), true, crate::crm::cli_actor()).await?;
            println!("card {number} is blocked");
        }
        CardCommand::Unblock { number } => {
            store.set_card_blocked(number.clone(), false, crate::crm::cli_actor()).await?;
            println!("card {number} is active");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn coupons(store: &Store, cmd: CouponsCommand) -> anyhow::Result<ExitCode> {
    let CouponsCommand::Generate { series, count, customer } = cmd;
    let customer = customer.as_deref().map(customer_id).transpose()?;
    for (code, valid_until) in store.generate_coupons(series, count, customer, crate::crm::cli_actor()).await? {
        match valid_until {
            Some(v) => println!("{code}\t{v}"),
            None => println!("{code}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

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

/// The first and the following month of `YYYY-MM` in `tz`, as instants.
pub fn month_bounds(month: &str, tz: &TimeZoneName) -> anyhow::Result<(jiff::Timestamp, jiff::Timestamp)> {
    let first: jiff::civil::Date = format!("{month}-01").parse().with_context(|| format!("'{month}' is not a month (YYYY-MM)"))?;
    let next = first.checked_add(jiff::Span::new().months(1))?;
    let at = |d: jiff::civil::Date| -> anyhow::Result<jiff::Timestamp> { Ok(d.to_zoned_datetime(tz.zone())?.timestamp()) };
    Ok((at(first)?, at(next)?))
}

pub async fn credit(store: &Store, cmd: CreditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CreditCommand::Settle { customer, currency, amount, operation_id } => {
            let currency = AssetCode::parse(currency)?;
            let (minor, scale) = match &amount {
                Some(a) => {
                    let (m, s) = amount_of(store, &currency, a).await?;
                    (Some(m), s)
                }
                None => (None, amount_of(store, &currency, "0").await?.1),
            };
            let (settled, balance) = store.settle_credit(operation_id, customer_id(&customer)?, currency.clone(), minor, crate::crm::cli_actor()).await?;
            println!("settled {} {currency}; balance now {}", Minor::new(settled, scale), Minor::new(balance, scale));
        }
        CreditCommand::Statement { customer, currency, month, timezone } => {
            let currency = AssetCode::parse(currency)?;
            let tz = TimeZoneName::parse(timezone)?;
            let (from, to) = month_bounds(&month, &tz)?;
            let scale = amount_of(store, &currency, "0").await?.1;
            let s = store.statement(customer_id(&customer)?, currency, from, to, scale).await?;
            println!("statement of {} in {} for {month} (limit {})", s.customer, s.currency, s.credit_limit);
            println!("opening balance\t{}", s.opening);
            for l in &s.lines {
                println!("{}\t{}\t{}\t{}\t{}", l.at, l.code, l.reference.as_deref().unwrap_or("-"), l.amount, l.balance);
            }
            println!("closing balance\t{}", s.closing);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn failures(store: &Store, args: FailuresArgs) -> anyhow::Result<ExitCode> {
    let list = store
        .failures(FailureFilter {
            store: args.store,
            terminal: args.terminal,
            code: args.code,
            card: args.card,
            limit: args.limit,
            ..FailureFilter::default()
        })
        .await?;
    println!("at\tstore\tterminal\toperation\tcode\tcard\tid\tmessage");
    for f in list {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            f.at,
            dash(&f.store),
            dash(&f.terminal),
            f.operation,
            f.code,
            dash(&f.card),
            dash(&f.client_id),
            f.message
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_accepted_with_or_without_their_prefix() {
        assert_eq!(customer_id("c_7").unwrap(), 7);
        assert_eq!(customer_id("7").unwrap(), 7);
        assert!(customer_id("x7").is_err());
    }

    #[test]
    fn a_month_in_riga_starts_at_local_midnight() {
        let (from, to) = month_bounds("2026-11", &TimeZoneName::parse("Europe/Riga").unwrap()).unwrap();
        assert_eq!(from.to_string(), "2026-10-31T22:00:00Z");
        assert_eq!(to.to_string(), "2026-11-30T22:00:00Z");
    }
}
