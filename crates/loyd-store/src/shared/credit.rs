//! Internal credit: settling what a customer owes on a credit account (payroll
//! deduction), idempotent by the operation id; each credit account's statement over a
//! period.

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

impl Backend {
    /// Each credit account's statement over `[from, until)`: what it held at the start
    /// and the end, what it was charged, given back and settled in between. Read from
    /// the account's posted totals and its transfers since `from` (over the accounts'
    /// transfer indexes): the further back `from`, the more transfers are read.
    pub async fn credit_statements(&self, from: Timestamp, until: Timestamp, currency: Option<String>) -> Result<Vec<crate::CreditStatement>, StoreError> {
        use sqlx::Row;
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT id, holder_kind, holder_id, asset, credit_limit, credits_posted - debits_posted AS balance FROM accounts WHERE policy = 'credit_limit'",
        );
        if let Some(cur) = currency {
            qb.push(" AND asset = ").push_bind(cur);
        }
        qb.push(" ORDER BY asset, holder_kind, holder_id");
        let accounts = qb.build().fetch_all(&mut *c).await?;
        let (from, until) = (loyd_domain::time::to_micros(from), loyd_domain::time::to_micros(until));
        let mut out = Vec::with_capacity(accounts.len());
        for a in accounts {
            let id: i64 = a.try_get("id")?;
            let mut s = crate::CreditStatement {
                holder_kind: a.try_get("holder_kind")?,
                holder_id: a.try_get("holder_id")?,
                currency: a.try_get("asset")?,
                credit_limit: a.try_get("credit_limit")?,
                closing: a.try_get("balance")?,
                ..Default::default()
            };
            // What moved since `from`: in the period, and after it (taken off the balance
            // now to give the closing one).
            for (side, sign) in [("debit_account_id", -1i64), ("credit_account_id", 1)] {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT code, at < $3 AS within, CAST(SUM(amount) AS BIGINT) AS amount FROM transfers \
                     WHERE {side} = $1 AND at >= $2 AND kind IN ('single', 'post') GROUP BY code, at < $3"
                )))
                .bind(id)
                .bind(from)
                .bind(until)
                .fetch_all(&mut *c)
                .await?;
                for r in rows {
                    let (code, within, amount): (String, bool, i64) = (r.try_get("code")?, r.try_get("within")?, r.try_get("amount")?);
                    if !within {
                        s.closing -= sign * amount;
                        continue;
                    }
                    match (sign, code.as_str()) {
                        (-1, _) => s.charged += amount,
                        (_, "settlement") => s.settled += amount,
                        _ => s.returned += amount,
                    }
                }
            }
            s.opening = s.closing + s.charged - s.settled - s.returned;
            out.push(s);
        }
        Ok(out)
    }
}
