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
    let rows = sqlx::query(
        "SELECT at, total - discount - returned_paid AS paid FROM receipts \
         WHERE customer_id = $1 AND status = 'committed' AND at >= $2 AND at <= $3",
    )
    .bind(customer)
    .bind(to_micros(start))
    .bind(to_micros(at))
    .fetch_all(&mut *c)
    .await?;
    let history: Vec<(Timestamp, i64)> =
        rows.iter().map(|r| Ok((from_micros(r.try_get("at")?), r.try_get("paid")?))).collect::<Result<_, StoreError>>()?;
    Ok(loyd_domain::program::counter_values(&program.counters, &history, at, store.scale, &store.timezone.zone()))
}
