//! Aggregates that reports and the dashboard read instead of scanning history:
//! `day_sales`, one row per store and local day; `day_campaigns`, what each campaign
//! gave per store, day and currency; `day_flows`, what moved into and out of the
//! accounts of customers, cards and organisations per day, store, currency, transfer
//! code and (for cards) series.
//!
//! Receipts and transfers are added by the `roll_up` job, off the receipt's path: it
//! reads each source past its cursor (`receipts` and `campaigns` over receipts,
//! `transfers` over the ledger) and adds them in the same transaction that moves the
//! cursor, so each receipt is added once however often and by however many servers
//! the job runs. On PostgreSQL, row ids are drawn before their transactions commit, so
//! a receipt with a lower id may become visible after one with a higher id; the job
//! therefore first takes a horizon — the highest ids once every transaction writing
//! receipts (then, apart, transfers) at that moment has ended (`LOCK … IN SHARE MODE`
//! waits for them and holds new ones back for as long as one index lookup) — and adds
//! only rows up to it.
//! On SQLite the single writer commits in id order.
//!
//! Returns and cancellations are added to `day_sales` (and cancellations subtracted
//! from `day_campaigns`) by their own transaction, on the day they happen: the
//! receipt's row stays as sold, so nothing depends on whether the job has added the
//! receipt yet. Their transfers reach `day_flows` like any other.
//!
//! A transfer no store made (an adjustment, expiry) has store `''` and is counted on
//! the day of the time zone of the first store by id (UTC without stores).

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use loyd_domain::receipt::StoreContext;
use loyd_domain::time::{Timestamp, from_micros};
use sqlx::Row;

use super::cursors::{cursor, move_cursor};
use super::{Backend, Conn, PG};
use crate::error::StoreError;

/// Adds `rows` (each its key columns' values, then its amounts) to `table`: a new key
/// is inserted, an existing one gets each amount added to its column — many rows per
/// statement. Keys must be distinct within `rows`.
pub(super) async fn add_rows(c: &mut Conn, table: &str, keys: &[&str], amounts: &[&str], rows: Vec<(Vec<String>, Vec<i64>)>) -> Result<(), StoreError> {
    let per_row = keys.len() + amounts.len();
    let set: Vec<String> = amounts.iter().map(|a| format!("{a} = {table}.{a} + excluded.{a}")).collect();
    for chunk in rows.chunks((8000 / per_row).max(1)) {
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!("INSERT INTO {table} ({}, {}) ", keys.join(", "), amounts.join(", ")));
        qb.push_values(chunk, |mut b, (k, v)| {
            for key in k {
                b.push_bind(key.clone());
            }
            for x in v {
                b.push_bind(*x);
            }
        });
        qb.push(format_args!(" ON CONFLICT ({}) DO UPDATE SET {}", keys.join(", "), set.join(", ")));
        qb.build().execute(&mut *c).await?;
    }
    Ok(())
}

/// The amounts of `day_sales` that [`Figures`] holds, in its order.
const SALES: [&str; 11] = [
    "receipts", "total", "discount", "redeemed", "gift_card", "returns", "cancelled", "cancelled_total", "cancelled_discount", "cancelled_redeemed",
    "paid_back",
];

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
    fn values(&self) -> Vec<i64> {
        vec![
            self.receipts,
            self.total,
            self.discount,
            self.redeemed,
            self.gift_card,
            self.returns,
            self.cancelled,
            self.cancelled_total,
            self.cancelled_discount,
            self.cancelled_redeemed,
            self.paid_back,
        ]
    }

    /// Counts the cancellation of a receipt that sold `s`.
    fn cancel(&mut self, s: Sold) {
        (self.cancelled, self.cancelled_total, self.cancelled_discount, self.cancelled_redeemed) = (1, s.total, s.discount, s.redeemed);
    }
}

/// Sums amounts per key.
fn add_into<K: Ord>(map: &mut BTreeMap<K, Vec<i64>>, key: K, values: &[i64]) {
    let row = map.entry(key).or_insert_with(|| vec![0; values.len()]);
    for (a, b) in row.iter_mut().zip(values) {
        *a += b;
    }
}

/// The store's local date of `at`, as the tables keep it.
fn local_day(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone()).date().to_string()
}

/// What a receipt sold, as the aggregates count a cancellation of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sold {
    /// The receipt's row.
    pub id: i64,
    pub total: i64,
    pub discount: i64,
    pub redeemed: i64,
}

/// Adds a return (or, with `cancelled`, a cancellation of the receipt that sold
/// `cancelled`) made now in `store`, giving back `paid_back`: in the operation's own
/// transaction. A cancellation also takes the receipt's lines off the day and what its
/// campaigns gave, and takes the purchase off its customer's month.
pub(crate) async fn add_return(c: &mut Conn, store: &StoreContext, cancelled: Option<Sold>, paid_back: i64, now: Timestamp) -> Result<(), StoreError> {
    let mut f = Figures { returns: i64::from(cancelled.is_none()), paid_back, ..Figures::default() };
    let tz = store.timezone.zone();
    let day = local_day(now, &tz);
    let mut lines = 0;
    if let Some(s) = cancelled {
        f.cancel(s);
        let row = sqlx::query("SELECT response, customer_id, at FROM receipts WHERE id = $1").bind(s.id).fetch_one(&mut *c).await?;
        let response: String = row.try_get("response")?;
        let mut contents = Contents::default();
        let at: i64 = row.try_get("at")?;
        let sold = Receipt { store: store.id.as_str(), currency: store.currency.as_str(), customer: row.try_get("customer_id")?, net: s.total - s.discount, at };
        let at_day = local_day(from_micros(at), &tz);
        contents.add(&day, &at_day, &sold, &response, -1)?;
        lines = contents.lines.values().sum();
        contents.write(c, false).await?;
    }
    let mut values = f.values();
    values.push(-lines);
    let mut columns = SALES.to_vec();
    columns.push("lines");
    add_rows(c, "day_sales", &["day", "store_id"], &columns, vec![(vec![day, store.id.to_string()], values)]).await
}

/// What one campaign gave at receipts, in one currency: receipts, their revenue,
/// discount, accrued, gifts, coupons (the amounts of `day_campaigns`).
const CAMPAIGNS: [&str; 6] = ["receipts", "revenue", "discount", "accrued", "gifts", "coupons"];

/// The parts of a stored receipt response that say what it held and campaigns gave.
#[derive(serde::Deserialize)]
struct Given {
    #[serde(default)]
    lines: Vec<GivenLine>,
    #[serde(default)]
    accrued: Vec<GivenAccrual>,
    #[serde(default)]
    gifts: Vec<GivenBy>,
    #[serde(default)]
    issued_coupons: Vec<GivenBy>,
    #[serde(default)]
    control: Vec<GivenControl>,
}

#[derive(serde::Deserialize)]
struct GivenControl {
    campaign: String,
    held_out: bool,
}

#[derive(serde::Deserialize)]
struct GivenLine {
    #[serde(default)]
    applied: Vec<GivenApplied>,
}

#[derive(serde::Deserialize)]
struct GivenApplied {
    campaign: String,
    kind: loyd_domain::receipt::AppliedKind,
    amount: String,
}

#[derive(serde::Deserialize)]
struct GivenAccrual {
    currency: String,
    amount: String,
    campaign: String,
}

#[derive(serde::Deserialize)]
struct GivenBy {
    campaign: String,
}

/// Minor units of an amount the response wrote with its currency's scale.
fn minor_of(amount: &str) -> Result<i64, StoreError> {
    let d: rust_decimal::Decimal = amount.parse().map_err(|e| super::rows::corrupt(format!("a receipt's amount '{amount}': {e}")))?;
    i64::try_from(d.mantissa()).map_err(|_| super::rows::corrupt(format!("a receipt's amount '{amount}' is too large")))
}

/// A receipt as the contents pass counts it.
struct Receipt<'a> {
    store: &'a str,
    /// The store's currency.
    currency: &'a str,
    customer: Option<i64>,
    /// Its total after discounts, store minor units.
    net: i64,
    /// Its time, microseconds.
    at: i64,
}

/// What receipts held, summed for one transaction: their lines per store and day, what
/// campaigns gave (`day_campaigns`), each identified customer's purchases per month and
/// year, in each store and in all (`customer_months`, `customer_years`, store `''`),
/// with what they change in the buyers of each (`period_buyers`), and the groups customers
/// joined in campaigns with a control group (`campaign_members`), and each customer's
/// purchases (`customer_facts`).
#[derive(Default)]
struct Contents {
    /// customer → purchases, spent, first and last time (0 for none).
    customers: BTreeMap<i64, [i64; 4]>,
    lines: BTreeMap<(String, String), i64>,
    campaigns: BTreeMap<(String, String, String, String), Vec<i64>>,
    /// (month, store, customer) → purchases, revenue; the same per year.
    months: BTreeMap<(String, String, i64), Vec<i64>>,
    years: BTreeMap<(String, String, i64), Vec<i64>>,
    /// (campaign, customer) → (held out, local day), the first receipt's.
    members: BTreeMap<(String, i64), (bool, String)>,
}

impl Contents {
    /// Adds (`sign` 1) or takes off (-1) receipt `r` of local day `at_day` whose stored
    /// response is `response`, on `day`: what each campaign gave on the row of its
    /// currency — the receipt, its revenue, discounts, gifts and coupons on the store
    /// currency's; accruals on theirs (with no receipt or revenue of their own when not
    /// the store's). Redemptions are the customer's, not a campaign's. The customer's
    /// month is the receipt's own, whenever it is taken off.
    fn add(&mut self, day: &str, at_day: &str, r: &Receipt<'_>, response: &str, sign: i64) -> Result<(), StoreError> {
        let given: Given = serde_json::from_str(response).map_err(|e| super::rows::corrupt(format!("a receipt's stored response does not read: {e}")))?;
        *self.lines.entry((day.to_owned(), r.store.to_owned())).or_default() += sign * given.lines.len() as i64;
        let mut mine: BTreeMap<(String, String), [i64; 6]> = BTreeMap::new();
        let touched = [1, r.net, 0, 0, 0, 0];
        let mut at = |campaign: &str, currency: &str, column: usize, amount: i64| {
            mine.entry((campaign.to_owned(), r.currency.to_owned())).or_insert(touched);
            mine.entry((campaign.to_owned(), currency.to_owned())).or_default()[column] += amount;
        };
        for l in &given.lines {
            for a in l.applied.iter().filter(|a| a.kind == loyd_domain::receipt::AppliedKind::Discount) {
                at(&a.campaign, r.currency, 2, minor_of(&a.amount)?);
            }
        }
        for a in &given.accrued {
            at(&a.campaign, &a.currency, 3, minor_of(&a.amount)?);
        }
        for g in &given.gifts {
            at(&g.campaign, r.currency, 4, 1);
        }
        for g in &given.issued_coupons {
            at(&g.campaign, r.currency, 5, 1);
        }
        for ((campaign, currency), v) in mine {
            let v: Vec<i64> = v.iter().map(|x| x * sign).collect();
            add_into(&mut self.campaigns, (day.to_owned(), r.store.to_owned(), campaign, currency), &v);
        }
        if let Some(customer) = r.customer {
            // A customer joins a campaign's group once, by the first qualifying receipt;
            // a cancellation does not undo having qualified.
            for g in given.control.iter().filter(|_| sign > 0) {
                self.members.entry((g.campaign.clone(), customer)).or_insert_with(|| (g.held_out, at_day.to_owned()));
            }
            let facts = self.customers.entry(customer).or_insert([0, 0, 0, 0]);
            facts[0] += sign;
            facts[1] += sign * r.net;
            // A cancellation leaves the times of purchases as they were.
            if sign > 0 {
                facts[2] = if facts[2] == 0 { r.at } else { facts[2].min(r.at) };
                facts[3] = facts[3].max(r.at);
            }
            for store in [r.store, ""] {
                for (periods, period) in [(&mut self.months, &at_day[..7]), (&mut self.years, &at_day[..4])] {
                    add_into(periods, (period.to_owned(), store.to_owned(), customer), &[sign, sign * r.net]);
                }
            }
        }
        Ok(())
    }

    /// Writes what was summed; `with_lines`: the lines too (a cancellation writes them
    /// with its day's other figures).
    async fn write(self, c: &mut Conn, with_lines: bool) -> Result<(), StoreError> {
        if with_lines {
            let rows = self.lines.into_iter().map(|((d, s), n)| (vec![d, s], vec![n])).collect();
            add_rows(c, "day_sales", &["day", "store_id"], &["lines"], rows).await?;
        }
        let rows = self.campaigns.into_iter().map(|((d, s, k, cur), v)| (vec![d, s, k, cur], v)).collect();
        add_rows(c, "day_campaigns", &["day", "store_id", "campaign", "currency"], &CAMPAIGNS, rows).await?;
        let mut buyers = BTreeMap::new();
        add_purchases(c, "customer_months", "month", self.months, &mut buyers).await?;
        add_purchases(c, "customer_years", "year", self.years, &mut buyers).await?;
        let rows = buyers.into_iter().map(|((p, s), v)| (vec![p, s], v)).collect();
        add_rows(c, "period_buyers", &["period", "store_id"], &BUYERS, rows).await?;
        write_customers(c, self.customers).await?;
        let members: Vec<_> = self.members.into_iter().collect();
        for chunk in members.chunks(2000) {
            let mut qb = sqlx::QueryBuilder::<super::Db>::new("INSERT INTO campaign_members (campaign, customer_id, held_out, first_day) ");
            qb.push_values(chunk, |mut b, ((campaign, customer), (held_out, day))| {
                b.push_bind(campaign.clone()).push_bind(*customer).push_bind(i16::from(*held_out)).push_bind(day.clone());
            });
            qb.push(" ON CONFLICT (campaign, customer_id) DO NOTHING");
            qb.build().execute(&mut *c).await?;
        }
        Ok(())
    }
}

/// The amounts of `period_buyers`, in the order of [`standing`].
const BUYERS: [&str; 7] = ["buyers", "once", "repeat", "regular", "receipts", "revenue", "regular_revenue"];

/// From how many purchases in a period a buyer is a repeat buyer, and a regular one.
const REPEAT_FROM: i64 = 2;
const REGULAR_FROM: i64 = 4;

/// What a customer with `n` purchases paying `revenue` in a period adds to the
/// period's buyers (`BUYERS`): nothing without a purchase.
fn standing(n: i64, revenue: i64) -> [i64; 7] {
    if n <= 0 {
        return [0; 7];
    }
    let regular = n >= REGULAR_FROM;
    [1, i64::from(n < REPEAT_FROM), i64::from((REPEAT_FROM..REGULAR_FROM).contains(&n)), i64::from(regular), n, revenue, if regular { revenue } else { 0 }]
}

/// Adds purchases to customers' periods: `rows` of (period, store, customer) →
/// purchases, revenue into `table`, whose period column is `period`; and to `buyers`
/// what that changes in each period's buyers — the customer's standing before taken
/// off, after added — from the rows as the statement leaves them.
async fn add_purchases(
    c: &mut Conn,
    table: &str,
    period: &str,
    rows: BTreeMap<(String, String, i64), Vec<i64>>,
    buyers: &mut BTreeMap<(String, String), Vec<i64>>,
) -> Result<(), StoreError> {
    let rows: Vec<_> = rows.into_iter().collect();
    for chunk in rows.chunks(1000) {
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!("INSERT INTO {table} ({period}, store_id, customer_id, receipts, revenue) "));
        qb.push_values(chunk, |mut b, ((p, s, id), v)| {
            b.push_bind(p.clone()).push_bind(s.clone()).push_bind(*id).push_bind(v[0]).push_bind(v[1]);
        });
        qb.push(format_args!(
            " ON CONFLICT ({period}, store_id, customer_id) DO UPDATE SET receipts = {table}.receipts + excluded.receipts, \
             revenue = {table}.revenue + excluded.revenue RETURNING {period} AS period, store_id, customer_id, receipts, revenue"
        ));
        for r in qb.build().fetch_all(&mut *c).await? {
            let key: (String, String, i64) = (r.try_get("period")?, r.try_get("store_id")?, r.try_get("customer_id")?);
            let (n, revenue): (i64, i64) = (r.try_get("receipts")?, r.try_get("revenue")?);
            let added = chunk.binary_search_by(|(k, _)| k.cmp(&key)).map(|i| &chunk[i].1).map_err(|_| super::rows::corrupt(format!("{table} returned a row not written")))?;
            let (before, after) = (standing(n - added[0], revenue - added[1]), standing(n, revenue));
            let change: Vec<i64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
            add_into(buyers, (key.0, key.1), &change);
        }
    }
    Ok(())
}

/// Adds purchases to customers' facts (`customer_facts`): `facts` per customer are
/// purchases, spent, first and last time (0: none), many customers per statement.
async fn write_customers(c: &mut Conn, facts: BTreeMap<i64, [i64; 4]>) -> Result<(), StoreError> {
    let (least, greatest) = if PG { ("LEAST", "GREATEST") } else { ("MIN", "MAX") };
    let rows: Vec<_> = facts.into_iter().collect();
    for chunk in rows.chunks(1000) {
        let mut qb = sqlx::QueryBuilder::<super::Db>::new("INSERT INTO customer_facts (customer_id, purchases, spent, first_purchase_at, last_purchase_at) ");
        qb.push_values(chunk, |mut b, (id, f)| {
            let time = |t: i64| (t != 0).then_some(t);
            b.push_bind(*id).push_bind(f[0]).push_bind(f[1]).push_bind(time(f[2])).push_bind(time(f[3]));
        });
        qb.push(format_args!(
            " ON CONFLICT (customer_id) DO UPDATE SET purchases = customer_facts.purchases + excluded.purchases, \
             spent = customer_facts.spent + excluded.spent, \
             first_purchase_at = {least}(COALESCE(customer_facts.first_purchase_at, excluded.first_purchase_at), \
             COALESCE(excluded.first_purchase_at, customer_facts.first_purchase_at)), \
             last_purchase_at = {greatest}(COALESCE(customer_facts.last_purchase_at, excluded.last_purchase_at), \
             COALESCE(excluded.last_purchase_at, customer_facts.last_purchase_at))"
        ));
        qb.build().execute(&mut *c).await?;
    }
    Ok(())
}

/// The amounts of `day_flows`: what moved into and out of the holders of one kind (and
/// series) in one currency, and in how many transfers.
const FLOWS: [&str; 3] = ["credited", "debited", "transfers"];

/// Where a flow is counted: day, store, asset, code, holder kind, series.
type FlowKey = (String, String, String, String, String, String);

/// The time zones of stores, UTC for those gone or unknown.
struct Zones(BTreeMap<String, TimeZone>);

impl Zones {
    fn of(&mut self, store: &str, name: Option<String>) -> TimeZone {
        if let Some(tz) = self.0.get(store) {
            return tz.clone();
        }
        let tz = name.and_then(|n| TimeZone::get(&n).ok()).unwrap_or(TimeZone::UTC);
        self.0.insert(store.to_owned(), tz.clone());
        tz
    }
}

/// The highest ids below which every receipt and every transfer is committed or gone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Horizon {
    pub(super) receipts: i64,
    pub(super) transfers: i64,
}

/// Receipts the job adds in one transaction.
const ROLL_BATCH: i64 = 2000;

impl Backend {
    /// The highest ids below which every receipt and transfer is committed or gone: see
    /// the module. `None` when a lock could not be had soon (a long write holds it);
    /// the next run tries again.
    ///
    /// Each table is locked in a transaction of its own. Locked together, the job could
    /// hold `receipts` while waiting for `transfers`, held by a till that wants
    /// `receipts` next: a deadlock, which PostgreSQL breaks only after
    /// `deadlock_timeout` (1 s), with every till waiting meanwhile.
    pub(super) async fn horizon(&self) -> Result<Option<Horizon>, StoreError> {
        if !PG {
            return Ok(Some(Horizon { receipts: i64::MAX, transfers: i64::MAX }));
        }
        let Some(receipts) = self.highest("receipts", "id").await? else { return Ok(None) };
        let Some(transfers) = self.highest("transfers", "seq").await? else { return Ok(None) };
        Ok(Some(Horizon { receipts, transfers }))
    }

    /// The highest `column` of `table` once every transaction writing it has ended.
    async fn highest(&self, table: &'static str, column: &'static str) -> Result<Option<i64>, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                sqlx::query("SET LOCAL lock_timeout = '2s'").execute(&mut *c).await?;
                match sqlx::query(sqlx::AssertSqlSafe(format!("LOCK TABLE {table} IN SHARE MODE"))).execute(&mut *c).await {
                    Ok(_) => {}
                    // lock_not_available: the timeout passed.
                    Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03") => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT MAX({column}) AS top FROM {table}"))).fetch_one(&mut *c).await?;
                Ok(Some(row.try_get::<Option<i64>, _>("top")?.unwrap_or(0)))
            })
        })
        .await
    }

    /// Adds the next receipts and transfers (at most `limit` of each source, up to the
    /// horizon) to the aggregates and moves the cursors past them: how many receipts
    /// and transfers it added (a receipt added to both its aggregates counts once; 0
    /// when every source is up to date).
    pub async fn roll_up(&self, limit: u32) -> Result<usize, StoreError> {
        let Some(horizon) = self.horizon().await? else { return Ok(0) };
        let limit = i64::from(limit).clamp(1, ROLL_BATCH);
        let sales = self.roll_up_sales(horizon.receipts, limit).await?;
        let campaigns = self.roll_up_contents(horizon.receipts, limit).await?;
        let flows = self.roll_up_flows(horizon.transfers, limit).await?;
        Ok(sales.max(campaigns) + flows)
    }

    /// Adds receipts to `day_sales`.
    async fn roll_up_sales(&self, horizon: i64, limit: i64) -> Result<usize, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let last = cursor(c, "receipts").await?;
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
                let mut zones = Zones(BTreeMap::new());
                let mut days: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
                let mut backlog = Vec::new();
                for r in &rows {
                    let store: String = r.try_get("store_id")?;
                    let tz = zones.of(&store, r.try_get("timezone")?);
                    let id: i64 = r.try_get("id")?;
                    let sold = Sold { id, total: r.try_get("total")?, discount: r.try_get("discount")?, redeemed: r.try_get("redeemed_value")? };
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
                        backlog.push(id);
                        f.paid_back = paid_back;
                        if cancelled {
                            f.cancel(sold);
                        } else if paid_back != 0 {
                            f.returns = 1;
                        }
                    }
                    let day = local_day(from_micros(r.try_get("at")?), &tz);
                    add_into(&mut days, (day, store), &f.values());
                }
                let rows_added = rows.len();
                let days = days.into_iter().map(|((d, s), v)| (vec![d, s], v)).collect();
                add_rows(c, "day_sales", &["day", "store_id"], &SALES, days).await?;
                for id in backlog {
                    sqlx::query("DELETE FROM rollup_backlog WHERE receipt_ref = $1").bind(id).execute(&mut *c).await?;
                }
                move_cursor(c, "receipts", end).await?;
                Ok(rows_added)
            })
        })
        .await
    }

    /// Adds what receipts held to the aggregates that read their contents: their lines
    /// (`day_sales.lines`), what campaigns gave (`day_campaigns`) and their customers'
    /// months (`customer_months`). Its cursor is `campaigns`.
    async fn roll_up_contents(&self, horizon: i64, limit: i64) -> Result<usize, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let last = cursor(c, "campaigns").await?;
                // Only receipts the sales pass has added: the two stay in step.
                let horizon = horizon.min(cursor(c, "receipts").await?);
                let rows = sqlx::query(
                    "SELECT r.id, r.store_id, s.timezone, s.currency, r.at, r.customer_id, r.total - r.discount AS net, r.response, \
                     k.receipt_ref AS skipped \
                     FROM receipts r LEFT JOIN stores s ON s.id = r.store_id \
                     LEFT JOIN rollup_cancelled_before k ON k.receipt_ref = r.id \
                     WHERE r.id > $1 AND r.id <= $2 ORDER BY r.id LIMIT $3",
                )
                .bind(last)
                .bind(horizon)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
                let Some(end) = rows.last().map(|r| r.try_get::<i64, _>("id")).transpose()? else { return Ok(0) };
                let mut zones = Zones(BTreeMap::new());
                let mut contents = Contents::default();
                let mut skipped = Vec::new();
                for r in &rows {
                    // Cancelled before the aggregates existed: nothing to add.
                    if let Some(id) = r.try_get::<Option<i64>, _>("skipped")? {
                        skipped.push(id);
                        continue;
                    }
                    let store: String = r.try_get("store_id")?;
                    let tz = zones.of(&store, r.try_get("timezone")?);
                    let currency: Option<String> = r.try_get("currency")?;
                    let response: String = r.try_get("response")?;
                    let at: i64 = r.try_get("at")?;
                    let day = local_day(from_micros(at), &tz);
                    let receipt = Receipt {
                        store: &store,
                        currency: currency.as_deref().unwrap_or(""),
                        customer: r.try_get("customer_id")?,
                        net: r.try_get("net")?,
                        at,
                    };
                    contents.add(&day, &day, &receipt, &response, 1)?;
                }
                contents.write(c, true).await?;
                for id in skipped {
                    sqlx::query("DELETE FROM rollup_cancelled_before WHERE receipt_ref = $1").bind(id).execute(&mut *c).await?;
                }
                move_cursor(c, "campaigns", end).await?;
                Ok(rows.len())
            })
        })
        .await
    }

    /// Adds transfers to `day_flows`: each side that is not the system's is counted for
    /// its kind of holder (and card series). Pending transfers move nothing until posted,
    /// so only single and posting transfers count.
    async fn roll_up_flows(&self, horizon: i64, limit: i64) -> Result<usize, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let last = cursor(c, "transfers").await?;
                let rows = sqlx::query(
                    "SELECT t.seq, t.asset, t.amount, t.kind, t.code, t.at, t.store_id, s.timezone, \
                     da.holder_kind AS dk, dc.series AS ds, ca.holder_kind AS ck, cc.series AS cs \
                     FROM transfers t \
                     JOIN accounts da ON da.id = t.debit_account_id JOIN accounts ca ON ca.id = t.credit_account_id \
                     LEFT JOIN cards dc ON da.holder_kind = 'card' AND dc.number = da.holder_id \
                     LEFT JOIN cards cc ON ca.holder_kind = 'card' AND cc.number = ca.holder_id \
                     LEFT JOIN stores s ON s.id = t.store_id \
                     WHERE t.seq > $1 AND t.seq <= $2 ORDER BY t.seq LIMIT $3",
                )
                .bind(last)
                .bind(horizon)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
                let Some(end) = rows.last().map(|r| r.try_get::<i64, _>("seq")).transpose()? else { return Ok(0) };
                let home: Option<String> =
                    sqlx::query("SELECT timezone FROM stores ORDER BY id LIMIT 1").fetch_optional(&mut *c).await?.map(|r| r.try_get("timezone")).transpose()?;
                let mut zones = Zones(BTreeMap::new());
                let home = zones.of("", home);
                let mut days: BTreeMap<FlowKey, Vec<i64>> = BTreeMap::new();
                for r in &rows {
                    let kind: String = r.try_get("kind")?;
                    if kind != "single" && kind != "post" {
                        continue;
                    }
                    let store: Option<String> = r.try_get("store_id")?;
                    let tz = match &store {
                        Some(s) => zones.of(s, r.try_get("timezone")?),
                        None => home.clone(),
                    };
                    let day = local_day(from_micros(r.try_get("at")?), &tz);
                    let (asset, code, amount): (String, String, i64) = (r.try_get("asset")?, r.try_get("code")?, r.try_get("amount")?);
                    for (holder, series, credited) in [("dk", "ds", false), ("ck", "cs", true)] {
                        let holder: String = r.try_get(holder)?;
                        if holder == "system" {
                            continue;
                        }
                        let series: Option<String> = r.try_get(series)?;
                        let key = (day.clone(), store.clone().unwrap_or_default(), asset.clone(), code.clone(), holder, series.unwrap_or_default());
                        add_into(&mut days, key, &if credited { [amount, 0, 1] } else { [0, amount, 1] });
                    }
                }
                let days = days
                    .into_iter()
                    .map(|((d, st, a, code, h, se), v)| (vec![d, st, a, code, h, se], v))
                    .collect();
                add_rows(c, "day_flows", &["day", "store_id", "asset", "code", "holder_kind", "series"], &FLOWS, days).await?;
                move_cursor(c, "transfers", end).await?;
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
             d.cancelled, d.cancelled_total, d.cancelled_discount, d.cancelled_redeemed, d.paid_back, d.lines \
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
                    lines: r.try_get("lines")?,
                })
            })
            .collect()
    }
}

/// Adds the conditions of `f` to a query over `day_flows`: false when they match
/// nothing.
fn push_flow_filter(qb: &mut sqlx::QueryBuilder<super::Db>, f: &crate::FlowFilter) -> bool {
    qb.push(" WHERE 1 = 1");
    if let Some(from) = f.from {
        qb.push(" AND day >= ").push_bind(from.to_string());
    }
    if let Some(to) = f.to {
        qb.push(" AND day <= ").push_bind(to.to_string());
    }
    if let Some(k) = &f.holder_kind {
        qb.push(" AND holder_kind = ").push_bind(k.clone());
    }
    if let Some(a) = &f.asset {
        qb.push(" AND asset = ").push_bind(a.clone());
    }
    if let Some(stores) = &f.stores
        && !super::rows::push_in(qb, "store_id", stores)
    {
        return false;
    }
    if let Some(series) = &f.series
        && !super::rows::push_in(qb, "series", series)
    {
        return false;
    }
    true
}

/// A column a query keeps apart (selects and groups by) or sums over (selects as
/// `''`): what to select, and what to add to `GROUP BY` — PostgreSQL refuses a
/// constant there.
fn apart(on: bool, column: &'static str) -> (&'static str, String) {
    if on { (column, format!(", {column}")) } else { ("''", String::new()) }
}

fn parse_day(day: &str, table: &str) -> Result<jiff::civil::Date, StoreError> {
    day.parse().map_err(|e| super::rows::corrupt(format!("{table}.day '{day}': {e}")))
}

impl Backend {
    pub async fn flow_days(&self, f: crate::FlowFilter) -> Result<Vec<crate::FlowDay>, StoreError> {
        let mut c = self.reader().await?;
        let ((store, by_store), (series, by_series)) = (apart(f.by_store, "store_id"), apart(f.by_series, "series"));
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!(
            "SELECT day, {store} AS store_id, asset, code, holder_kind, {series} AS series, \
             CAST(SUM(credited) AS BIGINT) AS credited, CAST(SUM(debited) AS BIGINT) AS debited, \
             CAST(SUM(transfers) AS BIGINT) AS transfers FROM day_flows"
        ));
        if !push_flow_filter(&mut qb, &f) {
            return Ok(Vec::new());
        }
        qb.push(format_args!(" GROUP BY day, asset, code, holder_kind{by_store}{by_series} ORDER BY day, 2, asset, code, holder_kind, 6"));
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(crate::FlowDay {
                    day: parse_day(&r.try_get::<String, _>("day")?, "day_flows")?,
                    store: r.try_get("store_id")?,
                    asset: r.try_get("asset")?,
                    code: r.try_get("code")?,
                    holder_kind: r.try_get("holder_kind")?,
                    series: r.try_get("series")?,
                    credited: r.try_get("credited")?,
                    debited: r.try_get("debited")?,
                    transfers: r.try_get("transfers")?,
                })
            })
            .collect()
    }

    pub async fn held_before(&self, f: crate::FlowFilter, day: jiff::civil::Date) -> Result<Vec<crate::Held>, StoreError> {
        let mut c = self.reader().await?;
        let (series, by_series) = apart(f.by_series, "series");
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!(
            "SELECT asset, holder_kind, {series} AS series, CAST(SUM(credited - debited) AS BIGINT) AS amount FROM day_flows"
        ));
        let f = crate::FlowFilter { from: None, to: None, ..f };
        if !push_flow_filter(&mut qb, &f) {
            return Ok(Vec::new());
        }
        qb.push(" AND day < ").push_bind(day.to_string());
        qb.push(format_args!(" GROUP BY asset, holder_kind{by_series} ORDER BY asset, holder_kind, 3"));
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(crate::Held {
                    asset: r.try_get("asset")?,
                    holder_kind: r.try_get("holder_kind")?,
                    series: r.try_get("series")?,
                    amount: r.try_get("amount")?,
                })
            })
            .collect()
    }

    pub async fn campaign_days(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        stores: Option<Vec<String>>,
        campaigns: Option<Vec<String>>,
        by_store: bool,
    ) -> Result<Vec<crate::CampaignDay>, StoreError> {
        let mut c = self.reader().await?;
        let (store, by_store) = apart(by_store, "store_id");
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!(
            "SELECT day, {store} AS store_id, campaign, currency, CAST(SUM(receipts) AS BIGINT) AS receipts, \
             CAST(SUM(revenue) AS BIGINT) AS revenue, CAST(SUM(discount) AS BIGINT) AS discount, \
             CAST(SUM(accrued) AS BIGINT) AS accrued, CAST(SUM(gifts) AS BIGINT) AS gifts, \
             CAST(SUM(coupons) AS BIGINT) AS coupons FROM day_campaigns WHERE day >= "
        ));
        qb.push_bind(from.to_string()).push(" AND day <= ").push_bind(to.to_string());
        if let Some(stores) = &stores
            && !super::rows::push_in(&mut qb, "store_id", stores)
        {
            return Ok(Vec::new());
        }
        if let Some(campaigns) = &campaigns
            && !super::rows::push_in(&mut qb, "campaign", campaigns)
        {
            return Ok(Vec::new());
        }
        qb.push(format_args!(" GROUP BY day, campaign, currency{by_store} ORDER BY day, 2, campaign, currency"));
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(crate::CampaignDay {
                    day: parse_day(&r.try_get::<String, _>("day")?, "day_campaigns")?,
                    store: r.try_get("store_id")?,
                    campaign: r.try_get("campaign")?,
                    currency: r.try_get("currency")?,
                    receipts: r.try_get("receipts")?,
                    revenue: r.try_get("revenue")?,
                    discount: r.try_get("discount")?,
                    accrued: r.try_get("accrued")?,
                    gifts: r.try_get("gifts")?,
                    coupons: r.try_get("coupons")?,
                })
            })
            .collect()
    }

    /// Regular customers over the months `from_month` to `to_month` (see
    /// `Store::store_regulars`); `None` when that needs every customer's months and
    /// `count` is false.
    pub async fn store_regulars(
        &self,
        from_month: String,
        to_month: String,
        stores: Option<Vec<String>>,
        count: bool,
    ) -> Result<Option<Vec<crate::StoreRegulars>>, StoreError> {
        let mut c = self.reader().await?;
        let Some(period) = one_period(&mut c, &from_month, &to_month).await? else {
            return if count { regulars_over(&mut c, &from_month, &to_month, &stores).await.map(Some) } else { Ok(None) };
        };
        // One month or year: its buyers as kept, each store's and all stores'.
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!("SELECT store_id, {} FROM period_buyers WHERE period = ", BUYERS.join(", ")));
        qb.push_bind(period);
        if let Some(list) = &stores
            && !super::rows::push_in(&mut qb, "store_id", list)
        {
            return Ok(Some(Vec::new()));
        }
        qb.push(" AND buyers > 0 ORDER BY store_id");
        let mut out: Vec<crate::StoreRegulars> = qb.build().fetch_all(&mut *c).await?.iter().map(regulars_of).collect::<Result<_, _>>()?;
        // All stores together come first in the order; they go last.
        let mut together: Vec<_> = out.iter().filter(|r| r.store.is_empty()).cloned().collect();
        out.retain(|r| !r.store.is_empty());
        match stores {
            None => {}
            // One store: its customers together are its own.
            Some(list) if list.len() == 1 => together = out.iter().map(|r| crate::StoreRegulars { store: String::new(), ..r.clone() }).collect(),
            // Some stores: a customer who bought in two counts once, which only their
            // customers' rows tell.
            Some(_) if !count => return Ok(None),
            Some(list) => together = regulars_over(&mut c, &from_month, &to_month, &Some(list)).await?.into_iter().filter(|r| r.store.is_empty()).collect(),
        }
        out.extend(together);
        Ok(Some(out))
    }

    /// A number that changes whenever the jobs add to the aggregates: the sum of their
    /// cursors.
    pub async fn rollup_version(&self) -> Result<i64, StoreError> {
        let mut c = self.reader().await?;
        Ok(sqlx::query("SELECT CAST(COALESCE(SUM(last), 0) AS BIGINT) AS v FROM rollup_cursors").fetch_one(&mut *c).await?.try_get("v")?)
    }

    /// Buyers per month (see `Store::month_buyers`); `None` when that needs every
    /// customer's months and `count` is false.
    pub async fn month_buyers(&self, months: Vec<String>, stores: Option<Vec<String>>, count: bool) -> Result<Option<Vec<crate::MonthBuyers>>, StoreError> {
        let mut c = self.reader().await?;
        // All stores or one: the buyers as kept; some stores: a customer who bought in
        // two of them counts once, which only the customers' months tell.
        let kept = match &stores {
            None => Some(String::new()),
            Some(list) if list.len() == 1 => Some(list[0].clone()),
            Some(_) => None,
        };
        if kept.is_none() && !count {
            return Ok(None);
        }
        let mut qb = match &kept {
            Some(store) => {
                let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT period AS month, buyers, receipts, revenue FROM period_buyers WHERE store_id = ");
                qb.push_bind(store.clone());
                if !super::rows::push_in(&mut qb, "period", &months) {
                    return Ok(Some(Vec::new()));
                }
                qb.push(" AND buyers > 0 ORDER BY period");
                qb
            }
            None => {
                let mut qb = sqlx::QueryBuilder::<super::Db>::new(
                    "SELECT month, COUNT(DISTINCT customer_id) AS buyers, CAST(SUM(receipts) AS BIGINT) AS receipts, \
                     CAST(SUM(revenue) AS BIGINT) AS revenue FROM customer_months WHERE receipts > 0",
                );
                if !super::rows::push_in(&mut qb, "month", &months) || !super::rows::push_in(&mut qb, "store_id", stores.as_deref().unwrap_or_default()) {
                    return Ok(Some(Vec::new()));
                }
                qb.push(" GROUP BY month ORDER BY month");
                qb
            }
        };
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(crate::MonthBuyers {
                    month: r.try_get("month")?,
                    buyers: r.try_get("buyers")?,
                    receipts: r.try_get("receipts")?,
                    revenue: r.try_get("revenue")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map(Some)
    }

    pub async fn control_groups(
        &self,
        campaign: String,
        from_month: String,
        to_month: String,
        to: jiff::civil::Date,
        stores: Option<Vec<String>>,
    ) -> Result<Vec<crate::ControlGroup>, StoreError> {
        let mut c = self.reader().await?;
        // Each member's purchases, then the groups' sums here: the squares of large
        // sums do not fit the databases' integers.
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT m.held_out, CAST(COALESCE(SUM(b.receipts), 0) AS BIGINT) AS receipts, CAST(COALESCE(SUM(b.revenue), 0) AS BIGINT) AS revenue \
             FROM campaign_members m LEFT JOIN customer_months b ON b.customer_id = m.customer_id \
             AND b.month >= substr(m.first_day, 1, 7) AND b.month >= ",
        );
        qb.push_bind(from_month).push(" AND b.month <= ").push_bind(to_month);
        match &stores {
            None => {
                qb.push(" AND b.store_id = ''");
            }
            Some(stores) if stores.is_empty() => {
                qb.push(" AND 1 = 0");
            }
            Some(stores) => {
                super::rows::push_in(&mut qb, "b.store_id", stores);
            }
        }
        qb.push(" WHERE m.campaign = ").push_bind(campaign).push(" AND m.first_day <= ").push_bind(to.to_string());
        qb.push(" GROUP BY m.held_out, m.customer_id");
        let mut groups = [crate::ControlGroup::default(), crate::ControlGroup { held_out: true, ..Default::default() }];
        for r in qb.build().fetch_all(&mut *c).await? {
            let held_out: i16 = r.try_get("held_out")?;
            let (receipts, revenue): (i64, i64) = (r.try_get("receipts")?, r.try_get("revenue")?);
            let g = &mut groups[usize::from(held_out != 0)];
            g.members += 1;
            g.buyers += i64::from(receipts > 0);
            g.receipts += receipts;
            g.revenue += revenue;
            g.revenue_squares += i128::from(revenue) * i128::from(revenue);
        }
        Ok(groups.into_iter().filter(|g| g.members > 0).collect())
    }

    pub async fn recent_buyers(&self, from: Timestamp) -> Result<i64, StoreError> {
        let mut c = self.reader().await?;
        // One narrow row per customer who ever bought, not the period's receipts.
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM customer_facts WHERE last_purchase_at >= $1")
            .bind(loyd_domain::time::to_micros(from))
            .fetch_one(&mut *c)
            .await?
            .try_get("n")?)
    }

    pub async fn members_before(&self, bounds: Vec<Timestamp>) -> Result<Vec<i64>, StoreError> {
        use super::customers::DAY_MICROS;
        let mut c = self.reader().await?;
        // The days before each bound's day as kept, then that day's own registrations
        // before the bound: a few rows however many customers there are.
        let days: Vec<(i64, i64)> = sqlx::query("SELECT day, joined FROM member_days ORDER BY day")
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("day")?, r.try_get("joined")?)))
            .collect::<Result<_, StoreError>>()?;
        let mut out = Vec::with_capacity(bounds.len());
        for b in bounds {
            let at = loyd_domain::time::to_micros(b);
            let day = at.div_euclid(DAY_MICROS);
            let before: i64 = days.iter().take_while(|(d, _)| *d < day).map(|(_, n)| n).sum();
            let that_day: i64 = sqlx::query("SELECT COUNT(*) AS n FROM customers WHERE created_at >= $1 AND created_at < $2")
                .bind(day * DAY_MICROS)
                .bind(at)
                .fetch_one(&mut *c)
                .await?
                .try_get("n")?;
            out.push(before + that_day);
        }
        Ok(out)
    }
}

/// The month or year whose buyers `period_buyers` keeps that is exactly the months
/// `from`..=`to` (`YYYY-MM`): one month, or a year's January to December — or to a
/// month after which that year has no purchases yet.
async fn one_period(c: &mut Conn, from: &str, to: &str) -> Result<Option<String>, StoreError> {
    if from == to {
        return Ok(Some(from.to_owned()));
    }
    let year = &from[..from.len().min(4)];
    if !from.ends_with("-01") || !to.starts_with(year) {
        return Ok(None);
    }
    let later: i64 = sqlx::query("SELECT COUNT(*) AS n FROM period_buyers WHERE period > $1 AND period <= $2 AND buyers > 0")
        .bind(to)
        .bind(format!("{year}-12"))
        .fetch_one(&mut *c)
        .await?
        .try_get("n")?;
    Ok((later == 0).then(|| year.to_owned()))
}

/// Each store's buyers over the months `from`..=`to` by how many purchases they made,
/// then the stores together (store `''`, a customer counted once), summed from every
/// customer's months: for periods `period_buyers` does not keep.
async fn regulars_over(c: &mut Conn, from: &str, to: &str, stores: &Option<Vec<String>>) -> Result<Vec<crate::StoreRegulars>, StoreError> {
    let mut out = Vec::new();
    for together in [false, true] {
        let key = if together { "''" } else { "store_id" };
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!(
            "SELECT s AS store_id, COUNT(*) AS buyers, \
             CAST(SUM(CASE WHEN n < {REPEAT_FROM} THEN 1 ELSE 0 END) AS BIGINT) AS once, \
             CAST(SUM(CASE WHEN n >= {REPEAT_FROM} AND n < {REGULAR_FROM} THEN 1 ELSE 0 END) AS BIGINT) AS repeat, \
             CAST(SUM(CASE WHEN n >= {REGULAR_FROM} THEN 1 ELSE 0 END) AS BIGINT) AS regular, \
             CAST(SUM(n) AS BIGINT) AS receipts, CAST(SUM(rev) AS BIGINT) AS revenue, \
             CAST(SUM(CASE WHEN n >= {REGULAR_FROM} THEN rev ELSE 0 END) AS BIGINT) AS regular_revenue \
             FROM (SELECT {key} AS s, customer_id, SUM(receipts) AS n, SUM(revenue) AS rev FROM customer_months \
             WHERE month >= "
        ));
        qb.push_bind(from.to_owned()).push(" AND month <= ").push_bind(to.to_owned());
        match (stores, together) {
            (None, true) => {
                qb.push(" AND store_id = ''");
            }
            (None, false) => {
                qb.push(" AND store_id <> ''");
            }
            (Some(list), _) => {
                if !super::rows::push_in(&mut qb, "store_id", list) {
                    return Ok(Vec::new());
                }
            }
        }
        // PostgreSQL groups by no constant: the stores together group by customer.
        let inner = if together { "customer_id" } else { "store_id, customer_id" };
        qb.push(format_args!(" GROUP BY {inner}) x WHERE n > 0 GROUP BY s ORDER BY s"));
        for r in qb.build().fetch_all(&mut *c).await? {
            out.push(regulars_of(&r)?);
        }
    }
    Ok(out)
}

/// A store's buyers by how often they bought, from a row with the columns of
/// `period_buyers` and the store's id.
fn regulars_of(r: &<super::Db as sqlx::Database>::Row) -> Result<crate::StoreRegulars, StoreError> {
    Ok(crate::StoreRegulars {
        store: r.try_get("store_id")?,
        buyers: r.try_get("buyers")?,
        once: r.try_get("once")?,
        repeat: r.try_get("repeat")?,
        regular: r.try_get("regular")?,
        receipts: r.try_get("receipts")?,
        revenue: r.try_get("revenue")?,
        regular_revenue: r.try_get("regular_revenue")?,
    })
}
