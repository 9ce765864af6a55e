//! The portal's rewards catalogue and offers: a member exchanges points for a personal
//! coupon, and the portal reads which segments a member is in (to show the entries and
//! offers meant for them).
//!
//! An exchange is one transaction, idempotent by the client's operation id: the points
//! leave the member's account for the currency's `redemption` account (a ledger
//! transfer coded `reward`, so the account's history and the balance audit see it), a
//! coupon of the entry's unique series is issued to them, the exchange is kept
//! (`reward_exchanges`) and `coupon.issued` is recorded when the program wants it. The
//! same id again answers the same coupon and moves nothing; a different entry or
//! member under the same id is a conflict. Exchanges of one entry with a stock, and of
//! one member, wait for each other (advisory locks on PostgreSQL; SQLite's one writer),
//! so neither the stock nor a limit per member can be overrun, and the ledger keeps the
//! balance from going below zero.

use std::collections::BTreeSet;
use std::sync::Arc;

use loyd_domain::events::EventKind;
use loyd_domain::ids::{AssetCode, CustomerId};
use loyd_domain::ledger::NewTransfer;
use loyd_domain::program::Program;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use super::balances::{holder_of, ledger_refusal, system_id};
use super::ledger::find_account;
use super::keys::{code, transfer_id};
use super::{Backend, Conn};
use crate::error::StoreError;
use crate::{CatalogueCounts, RewardTaken};

/// An exchange kept under `operation`: its customer, entry and coupon.
async fn exchange_of(c: &mut Conn, operation: &str) -> Result<Option<(i64, String, String)>, StoreError> {
    let row = sqlx::query("SELECT customer_id, reward, coupon_code FROM reward_exchanges WHERE operation_id = $1")
        .bind(operation.to_owned())
        .fetch_optional(&mut *c)
        .await?;
    row.map(|r| Ok((r.try_get("customer_id")?, r.try_get("reward")?, r.try_get("coupon_code")?))).transpose()
}

async fn count(c: &mut Conn, sql: &'static str, key: &str, customer: Option<i64>) -> Result<i64, StoreError> {
    let q = sqlx::query(sql).bind(key.to_owned());
    let q = match customer {
        Some(id) => q.bind(id),
        None => q,
    };
    Ok(q.fetch_one(&mut *c).await?.try_get::<i64, _>(0)?)
}

/// A coupon's end of validity as kept.
async fn coupon_until(c: &mut Conn, code: &str) -> Result<Option<Timestamp>, StoreError> {
    let row = sqlx::query("SELECT valid_until FROM coupons WHERE code = $1").bind(code.to_owned()).fetch_optional(&mut *c).await?;
    Ok(row.map(|r| r.try_get::<Option<i64>, _>("valid_until")).transpose()?.flatten().map(from_micros))
}

impl Backend {
    /// Exchanges `cost` points of catalogue entry `reward` for a coupon of its series,
    /// for `customer`, once per `operation_id` (see the module's note). An entry meant
    /// for a segment is only for its members; a paused or unknown one is for nobody.
    pub async fn exchange_reward(
        &self,
        operation_id: String,
        customer: i64,
        reward: String,
        program: Arc<Program>,
        now: Timestamp,
    ) -> Result<RewardTaken, StoreError> {
        loyd_domain::ids::ClientOpId::parse(&operation_id).map_err(|e| StoreError::Invalid(format!("operation_id: {e}")))?;
        let item = program
            .catalogue_item(&reward)
            .filter(|i| !i.spec.paused)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { what: "reward", id: reward.clone() })?;
        let id = transfer_id(format!("reward:{operation_id}"))?;
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (id, item, program, operation_id, secrets) = (id.clone(), item.clone(), program.clone(), operation_id.clone(), secrets.clone());
            Box::pin(async move {
                let spec = &item.spec;
                super::idempotency::claim(c, &["reward", &operation_id]).await?;
                if let Some((who, what, code)) = exchange_of(c, &operation_id).await? {
                    if who != customer || what != spec.id.as_str() {
                        return Err(StoreError::IdempotencyConflict(operation_id));
                    }
                    let valid_until = coupon_until(c, &code).await?;
                    return Ok(RewardTaken { code, valid_until, replay: true });
                }
                if spec.stock.is_some() {
                    super::idempotency::claim(c, &["reward-stock", spec.id.as_str()]).await?;
                }
                super::idempotency::claim(c, &["reward-customer", &customer.to_string()]).await?;
                let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(customer).fetch_optional(&mut *c).await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound { what: "customer", id: CustomerId(customer).to_string() });
                }
                if let Some(segment) = &spec.segment
                    && !segments_of(c, customer).await?.contains(segment)
                {
                    return Err(StoreError::NotFound { what: "reward", id: spec.id.to_string() });
                }
                if let Some(most) = spec.per_customer {
                    let taken = count(c, "SELECT COUNT(*) FROM reward_exchanges WHERE reward = $1 AND customer_id = $2", spec.id.as_str(), Some(customer)).await?;
                    if taken >= i64::from(most) {
                        return Err(StoreError::Rule(loyd_domain::said::reward_per_customer(most)));
                    }
                }
                if let Some(stock) = spec.stock {
                    let taken = count(c, "SELECT COUNT(*) FROM reward_exchanges WHERE reward = $1", spec.id.as_str(), None).await?;
                    if taken >= i64::from(stock) {
                        return Err(StoreError::Rule(loyd_domain::said::reward_out_of_stock()));
                    }
                }
                let currency: &AssetCode = &spec.currency;
                let scale = program.scale_of(currency.as_str());
                let holder = holder_of(c, customer).await?;
                let Some(account) = find_account(c, &holder, currency).await? else {
                    let none = loyd_domain::money::Minor::new(0, scale).to_string();
                    let requested = loyd_domain::money::Minor::new(item.cost, scale).to_string();
                    return Err(loyd_domain::receipt::ReceiptError::InsufficientFunds { what: currency.to_string(), available: none, requested }.into());
                };
                let sink = system_id(c, "redemption", currency, now).await?;
                let t = NewTransfer { reference: Some(format!("reward {}", spec.id)), at: Some(now), ..NewTransfer::single(id, account.id, sink, item.cost, code("reward")) };
                super::ledger::apply_transfers(c, &[t], now).await.map_err(|e| ledger_refusal(e, currency.as_str(), scale, &operation_id))?;
                let (coupon, valid_until) = super::coupons::new_coupon(&program, &spec.coupon_series, now)?;
                super::coupons::store_coupon(c, &coupon, &spec.coupon_series, Some(customer), valid_until, None, now).await?;
                sqlx::query(
                    "INSERT INTO reward_exchanges (operation_id, customer_id, reward, currency, cost, coupon_code, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(operation_id.clone())
                .bind(customer)
                .bind(spec.id.to_string())
                .bind(currency.to_string())
                .bind(item.cost)
                .bind(coupon.clone())
                .bind(to_micros(now))
                .execute(&mut *c)
                .await?;
                if program.raises(EventKind::CouponIssued) {
                    let data = serde_json::json!({
                        "code": coupon, "series": spec.coupon_series, "valid_until": valid_until.map(|t| t.to_string()),
                        "customer": CustomerId(customer).to_string(), "reward": spec.id,
                    });
                    super::events::record_event(c, &secrets.ring, EventKind::CouponIssued, &format!("customer:{customer}"), &data, None, now).await?;
                }
                Ok(RewardTaken { code: coupon, valid_until, replay: false })
            })
        })
        .await
    }

    /// The segments a customer is in (as the segments job last listed them).
    pub async fn customer_segments(&self, customer: i64) -> Result<BTreeSet<String>, StoreError> {
        let mut c = self.reader().await?;
        segments_of(&mut c, customer).await
    }

    /// How many exchanges of each catalogue entry the customer made, and how many of
    /// each entry of `stocked` there are in all.
    pub async fn catalogue_counts(&self, customer: i64, stocked: Vec<String>) -> Result<CatalogueCounts, StoreError> {
        let mut c = self.reader().await?;
        let mut out = CatalogueCounts::default();
        let mine = sqlx::query("SELECT reward, COUNT(*) AS n FROM reward_exchanges WHERE customer_id = $1 GROUP BY reward").bind(customer).fetch_all(&mut *c).await?;
        for r in mine {
            out.mine.insert(r.try_get("reward")?, r.try_get("n")?);
        }
        for reward in stocked {
            let n = count(&mut c, "SELECT COUNT(*) FROM reward_exchanges WHERE reward = $1", &reward, None).await?;
            out.all.insert(reward, n);
        }
        Ok(out)
    }
}

async fn segments_of(c: &mut Conn, customer: i64) -> Result<BTreeSet<String>, StoreError> {
    let rows = sqlx::query("SELECT segment FROM segment_members WHERE customer_id = $1").bind(customer).fetch_all(&mut *c).await?;
    rows.iter().map(|r| r.try_get::<String, _>("segment").map_err(Into::into)).collect()
}
