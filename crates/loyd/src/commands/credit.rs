//! `loyd credit`: settle internal credit, print a monthly statement.

use super::*;

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
            let (settled, balance) = store.settle_credit(operation_id, customer_id(&customer)?, currency.clone(), minor, super::cli_actor()).await?;
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
