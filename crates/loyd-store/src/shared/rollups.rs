//! Aggregates that reports and the dashboard read instead of scanning receipts:
//! `day_sales`, one row per store and local day.
//!
//! Receipts are added by the `roll_up` job, off the receipt's path: it reads the
//! receipts past its cursor and adds them in the same transaction that moves the
//! cursor, so each receipt is added once however often and by however many servers
//! the job runs. On PostgreSQL, row ids are drawn before their transactions commit, so
//! a receipt with a lower id may become visible after one with a higher id; the job
//! therefore first takes a horizon — the highest id once every transaction writing
//! receipts at that moment has ended (`LOCK … IN SHARE MODE` waits for them and holds
//! new ones back for as long as one index lookup) — and adds only receipts up to it.
//! On SQLite the single writer commits in id order.
//!
//! Returns and cancellations are added by their own transaction, on the day they
//! happen: the receipt's row stays as sold, so nothing depends on whether the job has
//! added the receipt yet.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use loyd_domain::receipt::StoreContext;
use loyd_domain::time::{Timestamp, from_micros};
use sqlx::Row;

use super::{Backend, Conn, PG};
use crate::error::StoreError;

/// One store's sales on one of its days, in its currency's minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Figures {
    receipts: i64,
    total: i64,
    discount: i64,
    redeemed: i64,
    gift_card: i64,
    returns: i64,
    cancelled: i64,
    cancelled_total: i64,
    cancelled_discount: i64,
    cancelled_redeemed: i64,
    paid_back: i64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.receipts += o.receipts;
        self.total += o.total;
        self.discount += o.discount;
        self.redeemed += o.redeemed;
        self.gift_card += o.gift_card;
        self.returns += o.returns;
        self.cancelled += o.cancelled;
        self.cancelled_total += o.cancelled_total;
        self.cancelled_discount += o.cancelled_discount;
        self.cancelled_redeemed += o.cancelled_redeemed;
        self.paid_back += o.paid_back;
    }

    /// Counts the cancellation of a receipt that sold `s`.
    fn cancel(&mut self, s: Sold) {
        (self.cancelled, self.cancelled_total, self.cancelled_discount, self.cancelled_redeemed) = (1, s.total, s.discount, s.redeemed);
    }
}

/// The store's local date of `at`, as the table keeps it.
fn local_day(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone()).date().to_string()
}

/// Adds `f` to the store's row of `day`.
async fn add_to_day(c: &mut Conn, day: &str, store: &str, f: &Figures) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO day_sales (day, store_id, receipts, total, discount, redeemed, gift_card, returns, cancelled, \
         cancelled_total, cancelled_discount, cancelled_redeemed, paid_back) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (day, store_id) DO UPDATE SET receipts = day_sales.receipts + excluded.receipts, \
         total = day_sales.total + excluded.total, discount = day_sales.discount + excluded.discount, \
         redeemed = day_sales.redeemed + excluded.redeemed, gift_card = day_sales.gift_card + excluded.gift_card, \
         returns = day_sales.returns + excluded.returns, cancelled = day_sales.cancelled + excluded.cancelled, \
         cancelled_total = day_sales.cancelled_total + excluded.cancelled_total, \
         cancelled_discount = day_sales.cancelled_discount + excluded.cancelled_discount, \
         cancelled_redeemed = day_sales.cancelled_redeemed + excluded.cancelled_redeemed, \
         paid_back = day_sales.paid_back + excluded.paid_back",
    )
    .bind(day.to_owned())
    .bind(store.to_owned())
    .bind(f.receipts)
    .bind(f.total)
    .bind(f.discount)
    .bind(f.redeemed)
    .bind(f.gift_card)
    .bind(f.returns)
    .bind(f.cancelled)
    .bind(f.cancelled_total)
    .bind(f.cancelled_discount)
    .bind(f.cancelled_redeemed)
    .bind(f.paid_back)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// What a receipt sold, as the aggregates count a cancellation of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sold {
    pub total: i64,
    pub discount: i64,
    pub redeemed: i64,
}

/// Adds a return (or, with `cancelled`, a cancellation of the receipt that sold
/// `cancelled`) made now in `store`, giving back `paid_back`: in the operation's own
/// transaction.
pub(crate) async fn add_return(c: &mut Conn, store: &StoreContext, cancelled: Option<Sold>, paid_back: i64, now: Timestamp) -> Result<(), StoreError> {
    let mut f = Figures { returns: i64::from(cancelled.is_none()), paid_back, ..Figures::default() };
    if let Some(s) = cancelled {
        f.cancel(s);
    }
    add_to_day(c, &local_day(now, &store.timezone.zone()), store.id.as_str(), &f).await
}

/// Receipts the job adds in one transaction.
const ROLL_BATCH: i64 = 2000;

impl Backend {
    /// The highest receipt id below which every receipt is committed or gone: see the
    /// module. `None` when the lock could not be had soon (a long write holds it); the
    /// next run tries again.
    async fn receipts_horizon(&self) -> Result<Option<i64>, StoreError> {
        if !PG {
            return Ok(Some(i64::MAX));
        }
        self.write(|c| {
            Box::pin(async move {
                sqlx::query("SET LOCAL lock_timeout = '2s'").execute(&mut *c).await?;
                match sqlx::query("LOCK TABLE receipts IN SHARE MODE").execute(&mut *c).await {
                    Ok(_) => {}
                    // lock_not_available: the timeout passed.
                    Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03") => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
                let max: Option<i64> = sqlx::query("SELECT MAX(id) AS m FROM receipts").fetch_one(&mut *c).await?.try_get("m")?;
                Ok(Some(max.unwrap_or(0)))
            })
        })
        .await
    }

    /// Adds the next receipts (at most `limit`, up to the horizon) to `day_sales` and
    /// moves the cursor past them: how many it added.
    pub async fn roll_up(&self, limit: u32) -> Result<usize, StoreError> {
        let Some(horizon) = self.receipts_horizon().await? else { return Ok(0) };
        let limit = i64::from(limit).clamp(1, ROLL_BATCH);
        self.write(move |c| {
            Box::pin(async move {
                let cursor = if PG {
                    "SELECT last FROM rollup_cursors WHERE source = 'receipts' FOR UPDATE"
                } else {
                    "SELECT last FROM rollup_cursors WHERE source = 'receipts'"
                };
                let last: i64 = sqlx::query(cursor)
                    .fetch_one(&mut *c)
                    .await?
                    .try_get("last")?;
                let rows = sqlx::query(
                    "SELECT r.id, r.store_id, s.timezone, r.at, r.total, r.discount, r.redeemed_value, r.gift_card_value, \
                     b.cancelled, b.paid_back \
                     FROM receipts r LEFT JOIN stores s ON s.id = r.store_id LEFT JOIN rollup_backlog b ON b.receipt_ref = r.id \
                     WHERE r.id > $1 AND r.id <= $2 ORDER BY r.id LIMIT $3",
                )
                .bind(last)
                .bind(horizon)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
                let Some(end) = rows.last().map(|r| r.try_get::<i64, _>("id")).transpose()? else { return Ok(0) };
                let mut zones: BTreeMap<String, TimeZone> = BTreeMap::new();
                let mut days: BTreeMap<(String, String), Figures> = BTreeMap::new();
                let mut backlog = Vec::new();
                for r in &rows {
                    let store: String = r.try_get("store_id")?;
                    let tz = match zones.get(&store) {
                        Some(tz) => tz.clone(),
                        None => {
                            let name: Option<String> = r.try_get("timezone")?;
                            let tz = name.and_then(|n| TimeZone::get(&n).ok()).unwrap_or(TimeZone::UTC);
                            zones.insert(store.clone(), tz.clone());
                            tz
                        }
                    };
                    let sold = Sold { total: r.try_get("total")?, discount: r.try_get("discount")?, redeemed: r.try_get("redeemed_value")? };
                    let mut f = Figures {
                        receipts: 1,
                        total: sold.total,
                        discount: sold.discount,
                        redeemed: sold.redeemed,
                        gift_card: r.try_get("gift_card_value")?,
                        ..Figures::default()
                    };
                    // A return or cancellation from before the aggregates existed: on the
                    // receipt's day, as its own day is not known.
                    if let Some(paid_back) = r.try_get::<Option<i64>, _>("paid_back")? {
                        let cancelled: bool = r.try_get("cancelled")?;
                        backlog.push(r.try_get::<i64, _>("id")?);
                        f.paid_back = paid_back;
                        if cancelled {
                            f.cancel(sold);
                        } else if paid_back != 0 {
                            f.returns = 1;
                        }
                    }
                    let day = local_day(from_micros(r.try_get("at")?), &tz);
                    days.entry((day, store)).or_default().add(&f);
                }
                for ((day, store), f) in &days {
                    add_to_day(c, day, store, f).await?;
                }
                for id in backlog {
                    sqlx::query("DELETE FROM rollup_backlog WHERE receipt_ref = $1").bind(id).execute(&mut *c).await?;
                }
                sqlx::query("UPDATE rollup_cursors SET last = $1 WHERE source = 'receipts'").bind(end).execute(&mut *c).await?;
                Ok(rows.len())
            })
        })
        .await
    }

    /// The sales of the stores given (none when empty) on their days from `from` to
    /// `to`, by day and store.
    pub async fn store_days(&self, stores: Vec<String>, from: jiff::civil::Date, to: jiff::civil::Date) -> Result<Vec<crate::StoreDay>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT d.day, d.store_id, s.currency, d.receipts, d.total, d.discount, d.redeemed, d.gift_card, d.returns, \
             d.cancelled, d.cancelled_total, d.cancelled_discount, d.cancelled_redeemed, d.paid_back \
             FROM day_sales d JOIN stores s ON s.id = d.store_id WHERE d.day >= ",
        );
        qb.push_bind(from.to_string()).push(" AND d.day <= ").push_bind(to.to_string());
        if !super::rows::push_in(&mut qb, "d.store_id", &stores) {
            return Ok(Vec::new());
        }
        qb.push(" ORDER BY d.day, d.store_id");
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                let day: String = r.try_get("day")?;
                Ok(crate::StoreDay {
                    day: day.parse().map_err(|e| super::rows::corrupt(format!("day_sales.day '{day}': {e}")))?,
                    store: r.try_get("store_id")?,
                    currency: r.try_get("currency")?,
                    receipts: r.try_get("receipts")?,
                    total: r.try_get("total")?,
                    discount: r.try_get("discount")?,
                    redeemed: r.try_get("redeemed")?,
                    gift_card: r.try_get("gift_card")?,
                    returns: r.try_get("returns")?,
                    cancelled: r.try_get("cancelled")?,
                    cancelled_total: r.try_get("cancelled_total")?,
                    cancelled_discount: r.try_get("cancelled_discount")?,
                    cancelled_redeemed: r.try_get("cancelled_redeemed")?,
                    paid_back: r.try_get("paid_back")?,
                })
            })
            .collect()
    }
}
