//! Internal credit: settling what a customer owes on a credit account (payroll
//! deduction), idempotent by the operation id.

use std::collections::BTreeSet;

use loyd_domain::ids::{AssetCode, CustomerId};
use loyd_domain::ledger::{BalancePolicy, NewTransfer};
use loyd_domain::time::Timestamp;

use crate::error::StoreError;
use super::Backend;
use super::balances::{account_posted, customer_account, system_id};
use super::keys::{code, transfer_id};
use super::ledger::{apply_transfers, load_accounts};

impl Backend {
    /// Settles a customer's internal credit (payroll deduction): credits the account by
    /// `amount`, or by everything owed. Idempotent by `operation_id`.
    pub async fn settle_credit(
        &self,
        operation_id: String,
        customer: i64,
        currency: AssetCode,
        amount: Option<i64>,
        actor: String,
        now: Timestamp,
    ) -> Result<(i64, i64), StoreError> {
        let id = transfer_id(format!("settle:{operation_id}"))?;
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (id, currency, operation_id, secrets, actor) = (id.clone(), currency.clone(), operation_id.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                super::idempotency::claim(c, &["settle", &operation_id]).await?;
                if let Some(t) = super::ledger::load_transfers(c, &BTreeSet::from([id.clone()])).await?.pop() {
                    let balance = account_posted(c, t.credit).await?;
                    return Ok((t.amount, balance));
                }
                let account = customer_account(c, customer, &currency).await?;
                if !matches!(account.policy, BalancePolicy::CreditLimit { .. }) {
                    return Err(StoreError::Invalid(format!("{currency} of {} is not a credit account", CustomerId(customer))));
                }
                let locked = load_accounts(c, &BTreeSet::from([account.id]), true).await?;
                let owed = locked.first().map(|a| -a.posted()).unwrap_or(0).max(0);
                let amount = amount.unwrap_or(i64::try_from(owed).unwrap_or(i64::MAX));
                if amount <= 0 {
                    return Err(StoreError::Invalid("nothing to settle".into()));
                }
                let source = system_id(c, "settlement", &currency, now).await?;
                let t = NewTransfer {
                    at: Some(now),
                    reference: Some(operation_id.clone()),
                    ..NewTransfer::single(id, source, account.id, amount, code("settlement"))
                };
                apply_transfers(c, &[t], now).await?;
                let balance = account_posted(c, account.id).await?;
                let what = serde_json::json!({ "operation_id": operation_id, "currency": currency, "settled_minor": amount });
                super::audit::audit(c, &secrets.ring, now, &actor, "credit.settle", "customer", &CustomerId(customer).to_string(), None::<&()>, Some(&what)).await?;
                Ok((amount, balance))
            })
        })
        .await
    }
}
