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
//! receipts or transfers at that moment has ended (`LOCK … IN SHARE MODE` waits for them and holds
//! new ones back for as long as one index lookup) — and adds only receipts up to it.
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
    /// The receipt's row.
    pub id: i64,
    pub total: i64,
    pub discount: i64,
    pub redeemed: i64,
}

/// Adds a return (or, with `cancelled`, a cancellation of the receipt that sold
/// `cancelled`) made now in `store`, giving back `paid_back`: in the operation's own
/// transaction.
pub(crate) async fn add_return(c: &mut Conn, store: &StoreContext, cancelled: Option<Sold>, paid_back: i64, now: Timestamp) -> Result<(), StoreError> {
    let mut f = Figures { returns: i64::from(cancelled.is_none()), paid_back, ..Figures::default() };
    let day = local_day(now, &store.timezone.zone());
    if let Some(s) = cancelled {
        f.cancel(s);
        let response: String = sqlx::query("SELECT response FROM receipts WHERE id = $1").bind(s.id).fetch_one(&mut *c).await?.try_get("response")?;
        for ((campaign, currency), mut g) in campaign_figures(&response, s.total - s.discount, store.currency.as_str())? {
            g.negate();
            add_to_campaign_day(c, &day, store.id.as_str(), &campaign, &currency, &g).await?;
        }
    }
    add_to_day(c, &day, store.id.as_str(), &f).await
}

/// What one campaign gave at receipts, in one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CampaignFigures {
    receipts: i64,
    revenue: i64,
    discount: i64,
    accrued: i64,
    gifts: i64,
    coupons: i64,
}

impl CampaignFigures {
    fn add(&mut self, o: &CampaignFigures) {
        self.receipts += o.receipts;
        self.revenue += o.revenue;
        self.discount += o.discount;
        self.accrued += o.accrued;
        self.gifts += o.gifts;
        self.coupons += o.coupons;
    }

    fn negate(&mut self) {
        *self = CampaignFigures {
            receipts: -self.receipts,
            revenue: -self.revenue,
            discount: -self.discount,
            accrued: -self.accrued,
            gifts: -self.gifts,
            coupons: -self.coupons,
        };
    }
}

/// The parts of a stored receipt response that say what campaigns gave.
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

/// What each campaign gave at a receipt that came to `total` after discounts (store
/// minor units), by campaign
/// and currency: the receipt, its total, discounts, gifts and coupons on the row of
/// the store currency; accruals on the row of their currency (with no receipt or total
/// of its own when that is not the store's). Redemptions are the customer's, not a
/// campaign's: not counted here.
fn campaign_figures(response: &str, total: i64, store_currency: &str) -> Result<BTreeMap<(String, String), CampaignFigures>, StoreError> {
    let given: Given = serde_json::from_str(response).map_err(|e| super::rows::corrupt(format!("a receipt's stored response does not read: {e}")))?;
    let mut out: BTreeMap<(String, String), CampaignFigures> = BTreeMap::new();
    fn at<'a>(out: &'a mut BTreeMap<(String, String), CampaignFigures>, total: i64, campaign: &str, currency: &str) -> &'a mut CampaignFigures {
        out.entry((campaign.to_owned(), currency.to_owned())).or_insert(CampaignFigures { receipts: 1, revenue: total, ..CampaignFigures::default() })
    }
    // The receipt counts once per campaign, on its store currency's row.
    fn other<'a>(out: &'a mut BTreeMap<(String, String), CampaignFigures>, total: i64, campaign: &str, currency: &str, store: &str) -> &'a mut CampaignFigures {
        at(out, total, campaign, store);
        out.entry((campaign.to_owned(), currency.to_owned())).or_default()
    }
    for l in &given.lines {
        for a in l.applied.iter().filter(|a| a.kind == loyd_domain::receipt::AppliedKind::Discount) {
            at(&mut out, total, &a.campaign, store_currency).discount += minor_of(&a.amount)?;
        }
    }
    for a in &given.accrued {
        other(&mut out, total, &a.campaign, &a.currency, store_currency).accrued += minor_of(&a.amount)?;
    }
    for g in &given.gifts {
        at(&mut out, total, &g.campaign, store_currency).gifts += 1;
    }
    for g in &given.issued_coupons {
        at(&mut out, total, &g.campaign, store_currency).coupons += 1;
    }
    Ok(out)
}

/// Adds `f` to the campaign's row of `day`, `store` and `currency`.
async fn add_to_campaign_day(c: &mut Conn, day: &str, store: &str, campaign: &str, currency: &str, f: &CampaignFigures) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO day_campaigns (day, store_id, campaign, currency, receipts, revenue, discount, accrued, gifts, coupons) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (day, store_id, campaign, currency) DO UPDATE SET receipts = day_campaigns.receipts + excluded.receipts, \
         revenue = day_campaigns.revenue + excluded.revenue, discount = day_campaigns.discount + excluded.discount, \
         accrued = day_campaigns.accrued + excluded.accrued, gifts = day_campaigns.gifts + excluded.gifts, \
         coupons = day_campaigns.coupons + excluded.coupons",
    )
    .bind(day.to_owned())
    .bind(store.to_owned())
    .bind(campaign.to_owned())
    .bind(currency.to_owned())
    .bind(f.receipts)
    .bind(f.revenue)
    .bind(f.discount)
    .bind(f.accrued)
    .bind(f.gifts)
    .bind(f.coupons)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// What moved into and out of the holders of one kind (and series) in one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flow {
    credited: i64,
    debited: i64,
    transfers: i64,
}

/// Where a flow is counted: day, store, asset, code, holder kind, series.
type FlowKey = (String, String, String, String, String, String);

async fn add_to_flow_day(c: &mut Conn, k: &FlowKey, f: &Flow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO day_flows (day, store_id, asset, code, holder_kind, series, credited, debited, transfers) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (day, store_id, asset, code, holder_kind, series) DO UPDATE SET \
         credited = day_flows.credited + excluded.credited, debited = day_flows.debited + excluded.debited, \
         transfers = day_flows.transfers + excluded.transfers",
    )
    .bind(k.0.clone())
    .bind(k.1.clone())
    .bind(k.2.clone())
    .bind(k.3.clone())
    .bind(k.4.clone())
    .bind(k.5.clone())
    .bind(f.credited)
    .bind(f.debited)
    .bind(f.transfers)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The time zones of the stores of `rows` (a `store_id` and `timezone` column each),
/// UTC for those gone or unknown.
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

/// Reads a source's cursor, locking it on PostgreSQL so two servers never add a batch
/// twice.
async fn cursor(c: &mut Conn, source: &'static str) -> Result<i64, StoreError> {
    let q = if PG {
        "SELECT last FROM rollup_cursors WHERE source = $1 FOR UPDATE"
    } else {
        "SELECT last FROM rollup_cursors WHERE source = $1"
    };
    Ok(sqlx::query(q).bind(source).fetch_one(&mut *c).await?.try_get("last")?)
}

async fn move_cursor(c: &mut Conn, source: &'static str, to: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE rollup_cursors SET last = $1 WHERE source = $2").bind(to).bind(source).execute(&mut *c).await?;
    Ok(())
}

/// The highest ids below which every receipt and every transfer is committed or gone.
#[derive(Debug, Clone, Copy)]
struct Horizon {
    receipts: i64,
    transfers: i64,
}

/// Receipts the job adds in one transaction.
const ROLL_BATCH: i64 = 2000;

impl Backend {
    /// The highest ids below which every receipt and transfer is committed or gone: see
    /// the module. `None` when the lock could not be had soon (a long write holds it);
    /// the next run tries again.
    async fn horizon(&self) -> Result<Option<Horizon>, StoreError> {
        if !PG {
            return Ok(Some(Horizon { receipts: i64::MAX, transfers: i64::MAX }));
        }
        self.write(|c| {
            Box::pin(async move {
                sqlx::query("SET LOCAL lock_timeout = '2s'").execute(&mut *c).await?;
                match sqlx::query("LOCK TABLE receipts, transfers IN SHARE MODE").execute(&mut *c).await {
                    Ok(_) => {}
                    // lock_not_available: the timeout passed.
                    Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03") => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
                let row = sqlx::query("SELECT (SELECT MAX(id) FROM receipts) AS r, (SELECT MAX(seq) FROM transfers) AS t").fetch_one(&mut *c).await?;
                let (r, t): (Option<i64>, Option<i64>) = (row.try_get("r")?, row.try_get("t")?);
                Ok(Some(Horizon { receipts: r.unwrap_or(0), transfers: t.unwrap_or(0) }))
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
        let campaigns = self.roll_up_campaigns(horizon.receipts, limit).await?;
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
                let mut days: BTreeMap<(String, String), Figures> = BTreeMap::new();
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
                    days.entry((day, store)).or_default().add(&f);
                }
                for ((day, store), f) in &days {
                    add_to_day(c, day, store, f).await?;
                }
                for id in backlog {
                    sqlx::query("DELETE FROM rollup_backlog WHERE receipt_ref = $1").bind(id).execute(&mut *c).await?;
                }
                move_cursor(c, "receipts", end).await?;
                Ok(rows.len())
            })
        })
        .await
    }

    /// Adds what campaigns gave at receipts to `day_campaigns`.
    async fn roll_up_campaigns(&self, horizon: i64, limit: i64) -> Result<usize, StoreError> {
        self.write(move |c| {
            Box::pin(async move {
                let last = cursor(c, "campaigns").await?;
                // Only receipts the sales pass has added: the two stay in step.
                let horizon = horizon.min(cursor(c, "receipts").await?);
                let rows = sqlx::query(
                    "SELECT r.id, r.store_id, s.timezone, s.currency, r.at, r.total - r.discount AS net, r.response, k.receipt_ref AS skipped \
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
                let mut days: BTreeMap<(String, String, String, String), CampaignFigures> = BTreeMap::new();
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
                    let day = local_day(from_micros(r.try_get("at")?), &tz);
                    for ((campaign, cur), g) in campaign_figures(&response, r.try_get("net")?, currency.as_deref().unwrap_or(""))? {
                        days.entry((day.clone(), store.clone(), campaign, cur)).or_default().add(&g);
                    }
                }
                for ((day, store, campaign, currency), g) in &days {
                    add_to_campaign_day(c, day, store, campaign, currency, g).await?;
                }
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
                let mut days: BTreeMap<FlowKey, Flow> = BTreeMap::new();
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
                        let f = days.entry(key).or_default();
                        if credited {
                            f.credited += amount;
                        } else {
                            f.debited += amount;
                        }
                        f.transfers += 1;
                    }
                }
                for (k, f) in &days {
                    add_to_flow_day(c, k, f).await?;
                }
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
}
