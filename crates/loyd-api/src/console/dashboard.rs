//! The dashboard: today's receipts, revenue, discounts and what points and wallets paid,
//! customers with a purchase in 30 days, refusals at the tills today (for roles that
//! read the failure log), and a chart of revenue per day — in the
//! stores the staff member works with. Days are counted in the time zone of the first
//! of those stores, at its offset today.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::money::Minor;
use loyd_domain::access::Permission;
use loyd_store::{DaySales, FailureFilter};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::i18n::Lang;
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
    figures: Vec<Figures>,
    active_customers: String,
    /// Refusals at the tills since the day began, for roles that read the failure log.
    failures_today: Option<String>,
    /// When the sales figures were read.
    as_of: String,
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
        let sales = state.dashboard.sales(&state.store, Key { stores: ids.clone(), today, offset }, from).await?;
        let failures = if principal.role.allows(Permission::FailuresRead) {
            let midnight = jiff::Timestamp::from_microsecond(today * MICROS_PER_DAY - offset * 1_000_000).unwrap_or(now);
            let stores = principal.role.is_store_scoped().then_some(ids);
            Some(state.store.failure_count(FailureFilter { from: Some(midnight), stores, ..Default::default() }).await?)
        } else {
            None
        };
        let program = state.store.program().await?;
        let z = sales.read_at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let as_of = format!("{} {:02}:{:02}:{:02} UTC", lang.day(z.date()), z.hour(), z.minute(), z.second());
        Ok::<_, loyd_store::StoreError>((figures(lang, &program, &sales.days, today), sales.active, failures, state.store.config_version().await?, as_of))
    };
    let (figures, active, failures, config_version, as_of) = match loaded.await {
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
        figures,
        active_customers: lang.number(&active.to_string()),
        failures_today: failures.map(|n| lang.number(&n.to_string())),
        as_of,
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

/// The sales of 30 days and the customers who bought in them, as read at `read_at`.
#[derive(Debug)]
pub struct Sales {
    days: Vec<DaySales>,
    active: i64,
    read_at: jiff::Timestamp,
}

struct Entry {
    sales: Arc<Sales>,
    refreshing: bool,
    looked_at: jiff::Timestamp,
}

/// The dashboard's sales figures per set of stores, read at most once a minute: 30 days
/// of receipts of a national chain take the database a second or more to sum (`docs/
/// performance.md`), too long for the first page after signing in. The first look at a
/// set of stores reads them; later looks get the figures read last, and one older than
/// a minute is read again in the background while it is still shown. The page says
/// when its figures were read.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Cache {
    async fn sales(self: &Arc<Self>, store: &loyd_store::Store, key: Key, from: jiff::Timestamp) -> Result<Arc<Sales>, loyd_store::StoreError> {
        let now = store.now();
        let (cached, refresh) = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.retain(|_, e| now.duration_since(e.looked_at) < KEEP);
            match entries.get_mut(&key) {
                Some(e) => {
                    e.looked_at = now;
                    let stale = now.duration_since(e.sales.read_at) >= FRESH && !e.refreshing;
                    e.refreshing |= stale;
                    (Some(e.sales.clone()), stale)
                }
                None => (None, false),
            }
        };
        if let Some(sales) = cached {
            if refresh {
                let (store, key, cache) = (store.clone(), key.clone(), Arc::clone(self));
                tokio::spawn(async move {
                    let read = read(&store, &key, from).await;
                    let mut entries = cache.entries.lock().unwrap_or_else(|p| p.into_inner());
                    match (read, entries.get_mut(&key)) {
                        (Ok(sales), Some(e)) => {
                            e.sales = Arc::new(sales);
                            e.refreshing = false;
                        }
                        (Err(e), Some(entry)) => {
                            entry.refreshing = false;
                            tracing::warn!(error = %e, "the dashboard's figures could not be read again; the last ones stay");
                        }
                        (_, None) => {}
                    }
                });
            }
            return Ok(sales);
        }
        let sales = Arc::new(read(store, &key, from).await?);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(key, Entry { sales: sales.clone(), refreshing: false, looked_at: now });
        Ok(sales)
    }
}

async fn read(store: &loyd_store::Store, key: &Key, from: jiff::Timestamp) -> Result<Sales, loyd_store::StoreError> {
    let read_at = store.now();
    let days = store.daily_sales(key.stores.clone(), from, key.offset).await?;
    let active = store.active_customers(key.stores.clone(), from).await?;
    Ok(Sales { days, active, read_at })
}
