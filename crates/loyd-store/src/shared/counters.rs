//! A customer's counters (sums and counts over their committed receipts in each
//! counter's window), which tiers, accumulated discounts and conditions read: for a
//! receipt being computed and for a card inquiry.

use std::collections::BTreeMap;

use loyd_domain::program::Program;
use loyd_domain::receipt::StoreContext;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use crate::error::StoreError;
use super::Conn;

/// The customer's counters at `at`, from their earlier receipts.
pub(crate) async fn counters_of(
    c: &mut Conn,
    customer: i64,
    at: Timestamp,
    program: &Program,
    store: &StoreContext,
) -> Result<BTreeMap<String, rust_decimal::Decimal>, StoreError> {
    let Some(start) = loyd_domain::program::counters_start(&program.counters, at) else { return Ok(BTreeMap::new()) };
    if loyd_domain::program::counters_from_totals(&program.counters) {
        // Added up by the database: one row whatever the customer's history.
        let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT ");
        for (k, counter) in program.counters.iter().enumerate() {
            let from = to_micros(counter.start_at(at));
            if k > 0 {
                qb.push(", ");
            }
            qb.push("CAST(COALESCE(SUM(CASE WHEN at >= ");
            qb.push_bind(from);
            qb.push(format_args!(" THEN total - discount - returned_paid ELSE 0 END), 0) AS BIGINT) AS p{k}, "));
            qb.push("CAST(COALESCE(SUM(CASE WHEN at >= ");
            qb.push_bind(from);
            qb.push(format_args!(" THEN 1 ELSE 0 END), 0) AS BIGINT) AS n{k}"));
        }
        qb.push(" FROM receipts WHERE customer_id = ");
        qb.push_bind(customer);
        qb.push(" AND status = 'committed' AND at >= ");
        qb.push_bind(to_micros(start));
        qb.push(" AND at <= ");
        qb.push_bind(to_micros(at));
        let row = qb.build().fetch_one(&mut *c).await?;
        let totals = (0..program.counters.len())
            .map(|k| {
                Ok(loyd_domain::program::CounterTotals {
                    paid: row.try_get(format!("p{k}").as_str())?,
                    receipts: row.try_get(format!("n{k}").as_str())?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        return Ok(loyd_domain::program::counter_values_from_totals(&program.counters, &totals, store.scale));
    }
    let history = history(c, customer, start, at).await?;
    Ok(loyd_domain::program::counter_values(&program.counters, &history, at, store.scale, &store.timezone.zone()))
}

/// A customer's committed receipts from `start` to `at` (both included): when, and
/// what they paid after discounts and returns (store minor units).
async fn history(c: &mut Conn, customer: i64, start: Timestamp, at: Timestamp) -> Result<Vec<(Timestamp, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT at, total - discount - returned_paid AS paid FROM receipts \
         WHERE customer_id = $1 AND status = 'committed' AND at >= $2 AND at <= $3",
    )
    .bind(customer)
    .bind(to_micros(start))
    .bind(to_micros(at))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok((from_micros(r.try_get("at")?), r.try_get("paid")?))).collect()
}

impl super::Backend {
    /// A customer's counters now, as tiers read them (the portal shows the progress).
    pub async fn customer_counters(&self, customer: i64, program: std::sync::Arc<Program>, store: StoreContext, now: Timestamp) -> Result<BTreeMap<String, rust_decimal::Decimal>, StoreError> {
        let mut c = self.reader().await?;
        counters_of(&mut c, customer, now, &program, &store).await
    }

    /// Raises `tier.changed` (down) for customers whose level fell because their old
    /// receipts left a tier counter's range — time alone, no receipt, return or
    /// cancellation (those tell their own changes). A pass reviews the time from where
    /// the last one ended (at most a day back) to its start, `limit` customers a
    /// transaction, in customer order, its progress kept in cursors so that a pass cut
    /// short goes on where it stopped and tells nothing twice; how many customers it
    /// reviewed in this batch.
    pub async fn tier_reviews(&self, program: std::sync::Arc<Program>, store: StoreContext, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        if !program.tells_tier_changes() {
            return Ok(0);
        }
        let secrets = self.ring();
        let stores: Vec<String> = self.stores().await?.into_iter().map(|s| s.id.to_string()).collect();
        self.write(move |c| {
            let (program, store, secrets, stores) = (program.clone(), store.clone(), secrets.clone(), stores.clone());
            Box::pin(async move {
                let day = 86_400_000_000;
                let mut until = super::cursors::cursor(c, "tier_reviews:until").await?;
                if until == 0 {
                    // A new pass, up to now.
                    until = to_micros(now);
                    super::cursors::move_cursor(c, "tier_reviews:until", until).await?;
                    super::cursors::move_cursor(c, "tier_reviews:after", 0).await?;
                }
                let from = super::cursors::cursor(c, "tier_reviews").await?.max(until - day);
                let after = super::cursors::cursor(c, "tier_reviews:after").await?;
                let (from, until_at) = (from_micros(from), from_micros(until));
                // The tier counters' receipts that left their range between the two moments.
                let counters: Vec<&loyd_domain::program::Counter> =
                    program.counters.iter().filter(|k| program.tiers.iter().any(|t| t.counter == k.id)).collect();
                let mut candidates = Vec::new();
                if !stores.is_empty() && !counters.is_empty() {
                    let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT DISTINCT customer_id FROM receipts WHERE store_id IN (");
                    let mut list = qb.separated(", ");
                    for s in &stores {
                        list.push_bind(s.clone());
                    }
                    qb.push(") AND status = 'committed' AND customer_id > ");
                    qb.push_bind(after);
                    qb.push(" AND (");
                    for (k, counter) in counters.iter().enumerate() {
                        qb.push(if k > 0 { " OR (at >= " } else { "(at >= " });
                        qb.push_bind(to_micros(counter.start_at(from)));
                        qb.push(" AND at < ");
                        qb.push_bind(to_micros(counter.start_at(until_at)));
                        qb.push(")");
                    }
                    qb.push(") ORDER BY customer_id LIMIT ");
                    qb.push_bind(i64::from(limit));
                    candidates = qb.build().fetch_all(&mut *c).await?.iter().map(|r| r.try_get::<i64, _>("customer_id")).collect::<Result<Vec<_>, _>>()?;
                }
                let earliest = counters.iter().map(|k| k.start_at(from)).min().unwrap_or(from);
                let zone = store.timezone.zone();
                for customer in &candidates {
                    let history = history(c, *customer, earliest, until_at).await?;
                    let before = loyd_domain::program::counter_values_since(&program.counters, &history, from, until_at, store.scale, &zone);
                    let after = loyd_domain::program::counter_values_since(&program.counters, &history, until_at, until_at, store.scale, &zone);
                    let fell: Vec<_> = program.tier_changes(&before, &after).into_iter().filter(|t| t.direction == loyd_domain::messages::Direction::Down).collect();
                    super::events::record_tier_changes(c, &secrets.ring, *customer, None, &fell, now).await?;
                }
                match candidates.last() {
                    Some(last) if candidates.len() == limit as usize => super::cursors::move_cursor(c, "tier_reviews:after", *last).await?,
                    _ => {
                        // The pass is over: the next one starts where it ended.
                        super::cursors::move_cursor(c, "tier_reviews", until).await?;
                        super::cursors::move_cursor(c, "tier_reviews:until", 0).await?;
                    }
                }
                Ok(candidates.len())
            })
        })
        .await
    }
}
