//! The dashboard: today's receipts, revenue, discounts and what points and wallets paid,
//! the points (and wallet money) today's receipts gave and took per currency,
//! customers with a purchase in 30 days, refusals at the tills today (for roles that
//! read the failure log), and a chart of revenue per day — in the
//! stores the staff member works with. Today is counted in the time zone of the first
//! of those stores, at its offset today, from the receipts; the days before come from
//! the sales aggregates (each store's own days, cancellations on the day they were
//! made), which the `roll_up` job keeps up to date every jobs interval. Customers with
//! a purchase in 30 days are, for every store, those whose last purchase the job added
//! is that recent; for some stores, counted from their receipts.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::money::Minor;
use loyd_domain::access::Permission;
use loyd_store::{DaySales, FailureFilter, ReceiptFlows};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::i18n::Lang;
use super::{Frame, LangQuery, Session, lang_of, page as render, remember_lang, staff};
use crate::AppState;

const DAYS: i64 = 30;
/// How long the sales figures of a set of stores are shown before they are read again.
const FRESH: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// Figures of a set of stores nobody looked at for this long are forgotten.
const KEEP: jiff::SignedDuration = jiff::SignedDuration::from_secs(3600);
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One currency's figures.
struct Figures {
    currency: String,
    receipts: String,
    revenue: String,
    discounts: String,
    redeemed: String,
    /// The chart's bars, oldest first.
    bars: Vec<Bar>,
}

/// A bar of the revenue chart, in the SVG's units (600 × 160).
struct Bar {
    x: i64,
    y: i64,
    height: i64,
    /// Shown on hover: the day and its revenue.
    title: String,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    f: Frame,
    s: Session,
    config_version: Option<i64>,
    /// `None` while the figures are first being read: the page asks again.
    sales: Option<SalesView>,
    /// Refusals at the tills since the day began, for roles that read the failure log.
    failures_today: Option<String>,
    open_alerts: Option<(String, String)>,
}

/// The sales figures as the page shows them.
struct SalesView {
    figures: Vec<Figures>,
    active: String,
    /// When they were read.
    as_of: String,
    /// What today's receipts accrued and had redeemed, per currency.
    flows: Vec<Flow>,
}

/// One currency's accruals and redemptions at today's receipts, as the page shows them.
struct Flow {
    currency: String,
    accrued: String,
    redeemed: String,
}

fn figures(lang: Lang, program: &loyd_domain::program::Program, sales: &[DaySales], today: i64) -> Vec<Figures> {
    let mut currencies: Vec<&str> = sales.iter().map(|d| d.currency.as_str()).collect();
    currencies.sort_unstable();
    currencies.dedup();
    currencies
        .into_iter()
        .map(|currency| {
            let scale = program.scale_of(currency);
            let money = |m: i64| lang.number(&Minor::new(m, scale).to_string());
            let mine: Vec<&DaySales> = sales.iter().filter(|d| d.currency == currency).collect();
            let on = |day: i64| mine.iter().find(|d| d.day == day);
            let now = on(today);
            let peak = mine.iter().map(|d| d.total).max().unwrap_or(0).max(1);
            let bars = (0..DAYS)
                .map(|k| {
                    let day = today - (DAYS - 1) + k;
                    let total = on(day).map_or(0, |d| d.total);
                    let height = (i128::from(total) * 150 / i128::from(peak)) as i64;
                    let date = jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(day)).unwrap_or_default();
                    Bar { x: k * 20 + 2, y: 155 - height, height, title: format!("{}: {}", lang.day(date), money(total)) }
                })
                .collect();
            Figures {
                currency: currency.to_owned(),
                receipts: lang.number(&now.map_or(0, |d| d.receipts).to_string()),
                revenue: money(now.map_or(0, |d| d.total)),
                discounts: money(now.map_or(0, |d| d.discount)),
                redeemed: money(now.map_or(0, |d| d.redeemed)),
                bars,
            }
        })
        .collect()
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let Some((principal, secret)) = staff(&state, &headers).await else { return Redirect::to("/admin/login").into_response() };
    let lang = lang_of(&headers, q.lang.as_deref());
    let loaded = async {
        let all = state.store.stores().await?;
        let mine: Vec<_> = all.into_iter().filter(|s| !principal.role.is_store_scoped() || principal.stores.contains(&s.id.to_string())).collect();
        let now = state.store.now();
        let offset = mine.first().map_or(0, |s| i64::from(s.timezone.zone().to_offset(now).seconds()));
        let today = (now.as_microsecond() + offset * 1_000_000).div_euclid(MICROS_PER_DAY);
        let from = jiff::Timestamp::from_microsecond((today - (DAYS - 1)) * MICROS_PER_DAY - offset * 1_000_000).unwrap_or(now);
        let ids: Vec<String> = mine.iter().map(|s| s.id.to_string()).collect();
        let sales = state.dashboard.sales(&state.store, Key { stores: ids.clone(), today, offset }, from).await;
        let failures = if principal.role.allows(Permission::FailuresRead) {
            let midnight = jiff::Timestamp::from_microsecond(today * MICROS_PER_DAY - offset * 1_000_000).unwrap_or(now);
            let stores = principal.role.is_store_scoped().then_some(ids);
            Some(state.store.failure_count(FailureFilter { from: Some(midnight), stores, ..Default::default() }).await?)
        } else {
            None
        };
        let alerts = if principal.role.allows(Permission::FraudRead) { Some(state.store.open_fraud_alerts().await?) } else { None };
        let program = state.store.program().await?;
        let shown = sales.map(|sales| {
            let z = sales.read_at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
            let flows = sales
                .flows
                .iter()
                .map(|f| {
                    let scale = program.scale_of(&f.currency);
                    let shown = |m: i64| lang.number(&Minor::new(m, scale).to_string());
                    Flow { currency: f.currency.clone(), accrued: shown(f.accrued), redeemed: shown(f.redeemed) }
                })
                .collect();
            SalesView {
                figures: figures(lang, &program, &sales.days, today),
                active: lang.number(&sales.active.to_string()),
                as_of: format!("{} {:02}:{:02}:{:02} UTC", lang.day(z.date()), z.hour(), z.minute(), z.second()),
                flows,
            }
        });
        Ok::<_, loyd_store::StoreError>((shown, failures, alerts, state.store.config_version().await?))
    };
    let (sales, failures, alerts, config_version) = match loaded.await {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "the dashboard could not be read");
            return (StatusCode::SERVICE_UNAVAILABLE, axum::response::Html("unavailable".to_owned())).into_response();
        }
    };
    let view = DashboardPage {
        f: Frame::new(lang),
        s: Session::of(&principal, &secret, lang.words(), "/admin"),
        config_version,
        sales,
        failures_today: failures.map(|n| lang.number(&n.to_string())),
        // Open alerts, and how many of them are high.
        open_alerts: alerts.map(|(high, medium, low)| (lang.number(&(high + medium + low).to_string()), lang.number(&high.to_string()))),
    };
    let mut res = render(StatusCode::OK, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// Which figures: the stores, and the day they end with at their offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    stores: Vec<String>,
    today: i64,
    offset: i64,
}

/// The sales of 30 days, the customers who bought in them, and what today's receipts
/// accrued and had redeemed, as read at `read_at`.
#[derive(Debug)]
pub struct Sales {
    days: Vec<DaySales>,
    active: i64,
    flows: Vec<ReceiptFlows>,
    read_at: jiff::Timestamp,
}

struct Entry {
    sales: Arc<Sales>,
    refreshing: bool,
    looked_at: jiff::Timestamp,
}

/// The dashboard's sales figures per set of stores, read at most once a minute: 30 days
/// of receipts of a national chain take the database seconds to sum (`docs/
/// performance.md`), too long for the first page after signing in. A read runs on its
/// own task, so a page that stops waiting (it waits up to [`Cache::wait`], then shows
/// that the figures are being read and asks again every 2 seconds) never cancels it.
/// Later looks get the figures read last; figures older than a minute are read again
/// in the background while still shown. The page says when its figures were read.
pub struct Cache {
    entries: Mutex<HashMap<Key, Entry>>,
    /// Sets of stores whose first read is running.
    reading: Mutex<std::collections::HashSet<Key>>,
    /// How long a page waits for a first read before it shows the figures are coming.
    wait: std::time::Duration,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::waiting(std::time::Duration::from_secs(2))
    }
}

impl Cache {
    /// A cache whose pages wait `wait` for a first read.
    pub fn waiting(wait: std::time::Duration) -> Self {
        Cache { entries: Default::default(), reading: Default::default(), wait }
    }

    fn cached(&self, key: &Key, now: jiff::Timestamp) -> Option<(Arc<Sales>, bool)> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| now.duration_since(e.looked_at) < KEEP);
        let e = entries.get_mut(key)?;
        e.looked_at = now;
        let stale = now.duration_since(e.sales.read_at) >= FRESH && !e.refreshing;
        e.refreshing |= stale;
        Some((e.sales.clone(), stale))
    }

    /// Reads the figures of `key` on a task of its own and keeps them.
    fn read_in_background(self: &Arc<Self>, store: &loyd_store::Store, key: Key, from: jiff::Timestamp) {
        let (store, cache) = (store.clone(), Arc::clone(self));
        tokio::spawn(async move {
            let read = read(&store, &key, from).await;
            let now = store.now();
            {
                let mut entries = cache.entries.lock().unwrap_or_else(|p| p.into_inner());
                match read {
                    Ok(sales) => {
                        entries.insert(key.clone(), Entry { sales: Arc::new(sales), refreshing: false, looked_at: now });
                    }
                    Err(e) => {
                        if let Some(entry) = entries.get_mut(&key) {
                            entry.refreshing = false;
                        }
                        tracing::warn!(error = %e, "the dashboard's figures could not be read; the next look tries again");
                    }
                }
            }
            cache.reading.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        });
    }

    /// The figures of `key`: those kept, or a first read waited for up to
    /// [`Cache::wait`]; `None` while that read is still running.
    pub async fn sales(self: &Arc<Self>, store: &loyd_store::Store, key: Key, from: jiff::Timestamp) -> Option<Arc<Sales>> {
        let now = store.now();
        if let Some((sales, stale)) = self.cached(&key, now) {
            if stale {
                self.read_in_background(store, key, from);
            }
            return Some(sales);
        }
        if self.reading.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
            self.read_in_background(store, key.clone(), from);
        }
        let until = std::time::Instant::now() + self.wait;
        loop {
            if let Some((sales, _)) = self.cached(&key, now) {
                return Some(sales);
            }
            if std::time::Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

async fn read(store: &loyd_store::Store, key: &Key, from: jiff::Timestamp) -> Result<Sales, loyd_store::StoreError> {
    let read_at = store.now();
    let midnight = jiff::Timestamp::from_microsecond(key.today * MICROS_PER_DAY - key.offset * 1_000_000).unwrap_or(read_at);
    // Today from the receipts themselves; the days before from the aggregates the
    // `roll_up` job keeps (net of cancellations, on the day they were made).
    let mut days = store.daily_sales(key.stores.clone(), midnight, key.offset).await?;
    let epoch = jiff::civil::date(1970, 1, 1);
    let day = |n: i64| epoch.checked_add(jiff::Span::new().days(n)).unwrap_or(epoch);
    let mut before: std::collections::BTreeMap<(i64, String), DaySales> = std::collections::BTreeMap::new();
    for d in store.store_days(key.stores.clone(), day(key.today - (DAYS - 1)), day(key.today - 1)).await? {
        let n = i64::from(epoch.until(d.day).map_or(0, |s| s.get_days()));
        let e = before.entry((n, d.currency.clone())).or_insert_with(|| DaySales { day: n, currency: d.currency.clone(), receipts: 0, total: 0, discount: 0, redeemed: 0 });
        e.receipts += d.receipts - d.cancelled;
        e.total += d.total - d.cancelled_total;
        e.discount += d.discount - d.cancelled_discount;
        e.redeemed += d.redeemed - d.cancelled_redeemed;
    }
    days.extend(before.into_values());
    // Every store: the customers' last purchases as the `roll_up` job keeps them (a
    // narrow row per customer); some stores: their receipts of the 30 days.
    let every = store.stores().await?.len() == key.stores.len();
    let active = if every { store.recent_buyers(from).await? } else { store.active_customers(key.stores.clone(), from).await? };
    let flows = store.receipt_flows(key.stores.clone(), midnight).await?;
    Ok(Sales { days, active, flows, read_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_first_read_that_outlasts_the_wait_goes_on_and_its_figures_are_there_at_the_next_look() {
        let db = loyd_testkit::TestDb::sqlite().await;
        let store = db.store().await;
        // A page that waits for nothing: the first look finds the read still running.
        let cache = Arc::new(Cache::waiting(std::time::Duration::ZERO));
        let key = Key { stores: vec!["riga-01".into()], today: 20_000, offset: 0 };
        let from = store.now();
        assert!(cache.sales(&store, key.clone(), from).await.is_none());
        // The read was not cancelled with the look: a later look gets its figures.
        let mut found = None;
        for _ in 0..500 {
            found = cache.sales(&store, key.clone(), from).await;
            if found.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let sales = found.expect("the first read ended and its figures were kept");
        assert_eq!((sales.days.len(), sales.active, sales.flows.len()), (0, 0, 0));
        // Nothing is left marked as being read.
        assert!(cache.reading.lock().unwrap().is_empty());
    }
}
