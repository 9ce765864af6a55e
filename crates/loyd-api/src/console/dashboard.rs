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

use super::i18n::Lang;
use super::{Frame, LangQuery, Session, lang_of, page as render, remember_lang, staff};
use crate::AppState;

const DAYS: i64 = 30;
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
        let sales = state.store.daily_sales(ids.clone(), from, offset).await?;
        let active = state.store.active_customers(ids.clone(), from).await?;
        let failures = if principal.role.allows(Permission::FailuresRead) {
            let midnight = jiff::Timestamp::from_microsecond(today * MICROS_PER_DAY - offset * 1_000_000).unwrap_or(now);
            let stores = principal.role.is_store_scoped().then_some(ids);
            Some(state.store.failure_count(FailureFilter { from: Some(midnight), stores, ..Default::default() }).await?)
        } else {
            None
        };
        let program = state.store.program().await?;
        Ok::<_, loyd_store::StoreError>((figures(lang, &program, &sales, today), active, failures, state.store.config_version().await?))
    };
    let (figures, active, failures, config_version) = match loaded.await {
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
    };
    let mut res = render(StatusCode::OK, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}
