//! `loyd customer adjust`: a goodwill adjustment of a customer's balance.

use super::*;

/// Gives or takes points or money by hand.
pub async fn adjust(store: &Store, customer: String, currency: String, amount: String, reason: String, operation_id: String) -> anyhow::Result<ExitCode> {
    let currency = AssetCode::parse(currency)?;
    let (minor, scale) = amount_of(store, &currency, &amount).await?;
    let id = customer_id(&customer)?;
    let balance = store.adjust_balance(operation_id, id, currency.clone(), minor, reason, super::cli_actor()).await?;
    println!("{currency} balance now {}", Minor::new(balance, scale));
    Ok(ExitCode::SUCCESS)
}
