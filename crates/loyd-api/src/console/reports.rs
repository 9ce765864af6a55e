//! Reports in the console: the same tables as the admin API ([`crate::reports`]), with
//! filters, a chart of the report's main figure per period and per currency, and the
//! same CSV and XLSX downloads in the staff member's language.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;

use crate::i18n::Lang;
use super::{Frame, Session, allowed, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::reports::{Cell, Counting, Format, Period, Report, ReportQuery, Scope, Table};

/// A link to one of the reports, for the tabs.
struct Tab {
    name: &'static str,
    label: String,
    current: bool,
}

/// An option of a select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// One cell as shown: text, and whether it is a number (right-aligned).
struct Shown {
    text: String,
    numeric: bool,
    /// The page the cell opens.
    link: Option<String>,
}

/// A bar of the chart, in the SVG's units (600 × 160).
struct Bar {
    x: i64,
    y: i64,
    width: i64,
    height: i64,
    title: String,
}

/// The chart of one currency (and series).
struct Chart {
    title: String,
    bars: Vec<Bar>,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    f: Frame,
    s: Session,
    report: &'static str,
    tabs: Vec<Tab>,
    q: Filled,
    periods: Vec<Choice>,
    stores: Vec<Choice>,
    groups: Vec<Choice>,
    partners: Vec<Choice>,
    labels: Vec<String>,
    rows: Vec<Vec<Shown>>,
    totals: Vec<Vec<Shown>>,
    charts: Vec<Chart>,
    /// KPI: the last period beside the one before.
    compare: Vec<Compared>,
    /// Campaign effect: what each campaign's figures against its control group say.
    verdicts: Vec<Verdict>,
    /// The query string of the report shown, for the download links.
    query: String,
    /// When a long list (transactions, failures) is cut short on the page: how many
    /// rows it holds in all.
    more_rows: Option<String>,
    /// When a list holds as many rows as it may: the period has more.
    limited: Option<String>,
    /// The figures are being counted: the table refreshes itself from `here`.
    counting: bool,
    here: String,
    /// When figures shown were counted, if before the aggregates last moved.
    counted_at: Option<String>,
    error: Option<String>,
}

/// Rows a report page shows; the downloads hold every row.
const SHOWN_ROWS: usize = 1000;

/// A KPI figure of the last period beside the one before, as shown.
struct Compared {
    metric: &'static str,
    label: String,
    current: String,
    previous: String,
    /// `+12.50 %`, or empty.
    change: String,
    /// `up`, `down` or `same`.
    trend: &'static str,
}

/// A campaign's effect against its control group, as shown.
struct Verdict {
    campaign: String,
    /// `pays`, `loses` or `unclear`.
    verdict: &'static str,
    label: String,
    /// Label and value: the uplift and the net effect, each with its interval.
    figures: Vec<(String, String)>,
}

/// The verdict cards of the campaign effect report.
fn verdicts(lang: Lang, t: &Table) -> Vec<Verdict> {
    if t.report != Report::Effect {
        return Vec::new();
    }
    let words = lang.words();
    let cell = |r: &[Cell], k: &str| t.column(k).map_or_else(String::new, |i| show(lang, &r[i], Period::All).text);
    let between = |r: &[Cell], mid: &str, low: &str, high: &str| format!("{} ({} … {})", cell(r, mid), cell(r, low), cell(r, high));
    t.rows
        .iter()
        .map(|r| {
            let verdict = crate::reports::effect::verdict(t, r);
            Verdict {
                campaign: cell(r, "campaign"),
                verdict,
                label: words.get(&format!("report.verdict.{verdict}")).to_owned(),
                figures: vec![
                    (words.get("report.col.treated").to_owned(), cell(r, "treated")),
                    (words.get("report.col.held_out").to_owned(), cell(r, "held_out")),
                    (words.get("report.col.uplift").to_owned(), between(r, "uplift", "uplift_low", "uplift_high")),
                    (words.get("report.col.net_effect").to_owned(), between(r, "net_effect", "net_low", "net_high")),
                ],
            }
        })
        .collect()
}

/// The filters as the form shows them again.
#[derive(Default)]
struct Filled {
    from: String,
    to: String,
    currency: String,
    campaign: String,
    series: String,
    by_store: bool,
}

/// `/admin/reports`: the KPI.
pub async fn index() -> Redirect {
    Redirect::to("/admin/reports/kpi")
}

fn show(lang: Lang, c: &Cell, period: Period) -> Shown {
    let text = match c {
        Cell::Text(t) if t == "total" => lang.words().get("report.total").to_owned(),
        Cell::Text(t) => t.clone(),
        Cell::Day(d) => match period {
            Period::Month => d.strftime("%Y-%m").to_string(),
            Period::Week => format!("{} {}", lang.words().get("report.week_of"), lang.day(*d)),
            _ => lang.day(*d),
        },
        Cell::Count(n) => lang.number(&n.to_string()),
        Cell::Amount(m) => lang.number(&m.to_string()),
        Cell::Ratio(r) => lang.number(&r.to_string()),
        Cell::Empty => "—".to_owned(),
        Cell::Link(t, _) => t.clone(),
    };
    let link = match c {
        Cell::Link(_, href) => Some(href.clone()),
        _ => None,
    };
    Shown { text, numeric: c.numeric(), link }
}

/// Bars of `column` per period, one chart per currency (and series) of the rows.
fn charts(lang: Lang, t: &Table) -> Vec<Chart> {
    let (Some(col), Some(period), Some(cur)) = (t.chart.and_then(|c| t.column(c)), t.column("period"), t.column("currency")) else {
        return Vec::new();
    };
    let series = t.column("series");
    let mut by: std::collections::BTreeMap<String, Vec<(jiff::civil::Date, i64, String)>> = Default::default();
    for r in &t.rows {
        let (Cell::Day(d), Cell::Text(c)) = (&r[period], &r[cur]) else { continue };
        let key = match series.map(|s| &r[s]) {
            Some(Cell::Text(s)) => format!("{s} · {c}"),
            _ => c.clone(),
        };
        let (units, shown) = match &r[col] {
            Cell::Amount(m) => (m.units, lang.number(&m.to_string())),
            Cell::Count(n) => (*n, lang.number(&n.to_string())),
            _ => continue,
        };
        let bars = by.entry(key).or_default();
        // Rows of several stores in one period add up to one bar.
        match bars.iter_mut().find(|b| b.0 == *d) {
            Some(b) => b.1 += units,
            None => bars.push((*d, units, shown)),
        }
    }
    // One bar says nothing a table row does not: a chart needs two periods.
    by.into_iter()
        .filter(|(_, bars)| bars.len() > 1)
        .map(|(key, bars)| {
            let peak = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
            let n = bars.len().max(1) as i64;
            let width = (600 / n).clamp(2, 60);
            let bars = bars
                .iter()
                .enumerate()
                .map(|(k, (d, units, shown))| {
                    let height = (i128::from((*units).max(0)) * 150 / i128::from(peak)) as i64;
                    Bar { x: k as i64 * width + 1, y: 155 - height, width: (width - 2).max(1), height, title: format!("{}: {shown}", lang.day(*d)) }
                })
                .collect();
            Chart { title: format!("{} · {key}", lang.words().get(&format!("report.col.{}", t.chart.unwrap_or_default()))), bars }
        })
        .collect()
}

/// The query string of `q`, for links.
fn query_string(q: &ReportQuery) -> String {
    let pairs = [
        ("from", &q.from),
        ("to", &q.to),
        ("period", &q.period),
        ("store", &q.store),
        ("group", &q.group),
        ("partner", &q.partner),
        ("currency", &q.currency),
        ("campaign", &q.campaign),
        ("series", &q.series),
        ("by", &q.by),
    ];
    pairs
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| format!("{k}={}", super::failures::url_escape(v))))
        .collect::<Vec<_>>()
        .join("&")
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    #[serde(flatten)]
    q: ReportQuery,
    lang: Option<String>,
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(name): Path<String>, Query(pq): Query<PageQuery>) -> Response {
    let lang = lang_of(&headers, pq.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ReportsRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let Some(report) = Report::parse(&name) else {
        return (StatusCode::NOT_FOUND, axum::response::Html(lang.words().get("error.not_found").to_owned())).into_response();
    };
    let q = pq.q;
    let built = async {
        let format = Format::parse(q.format.as_deref())?;
        let scope = Scope::of(&state.reports, &actor.principal, report, &q).await?;
        let table = crate::reports::build(&state.reports, report, &scope).await?;
        Ok::<_, crate::error::ApiError>((format, scope, table))
    };
    let (table, scope, error) = match built.await {
        Ok((Format::Json, scope, table)) => (Some(table), Some(scope), None),
        Ok((format, _, table)) => {
            return crate::reports::download(&table, format, lang).unwrap_or_else(IntoResponse::into_response);
        }
        Err(e) => (None, None, Some(super::refusal(lang.words(), &e))),
    };
    let stores = state.store.stores().await.unwrap_or_default();
    let mine: Vec<_> = stores
        .iter()
        .filter(|s| !actor.principal.role.is_store_scoped() || actor.principal.stores.iter().any(|m| m == s.id.as_str()))
        .collect();
    let picked = |v: &Option<String>, x: &str| v.as_deref().is_some_and(|v| v.split(',').any(|p| p.trim() == x));
    let choices = |values: Vec<String>, asked: &Option<String>| -> Vec<Choice> {
        let mut values = values;
        values.sort();
        values.dedup();
        values.into_iter().map(|v| Choice { selected: picked(asked, &v), label: v.clone(), value: v }).collect()
    };
    let period = scope.as_ref().map_or(Period::Day, |s| s.period);
    let view = ReportsPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, lang.words(), "/admin/reports"),
        report: report.name(),
        tabs: Report::ALL
            .into_iter()
            .map(|r| Tab { name: r.name(), label: lang.words().get(&format!("report.{}", r.name())).to_owned(), current: r == report })
            .collect(),
        q: Filled {
            from: scope.as_ref().map_or_else(|| q.from.clone().unwrap_or_default(), |s| s.from.to_string()),
            to: scope.as_ref().map_or_else(|| q.to.clone().unwrap_or_default(), |s| s.to.to_string()),
            currency: q.currency.clone().unwrap_or_default(),
            campaign: q.campaign.clone().unwrap_or_default(),
            series: q.series.clone().unwrap_or_default(),
            by_store: q.by.as_deref() == Some("store"),
        },
        periods: Period::ALL
            .into_iter()
            .map(|p| Choice { value: p.name().to_owned(), label: lang.words().get(&format!("report.period.{}", p.name())).to_owned(), selected: p == period })
            .collect(),
        stores: mine
            .iter()
            .map(|s| Choice { value: s.id.to_string(), label: format!("{} — {}", s.id, s.name), selected: picked(&q.store, s.id.as_str()) })
            .collect(),
        groups: choices(mine.iter().filter_map(|s| s.format.as_ref().map(|f| f.to_string())).collect(), &q.group),
        partners: choices(mine.iter().filter_map(|s| s.partner.as_ref().map(|p| p.to_string())).collect(), &q.partner),
        labels: table.as_ref().map(|t| t.labels(lang)).unwrap_or_default(),
        rows: table
            .as_ref()
            .map(|t| t.rows.iter().take(SHOWN_ROWS).map(|r| r.iter().map(|c| show(lang, c, period)).collect()).collect())
            .unwrap_or_default(),
        more_rows: table.as_ref().filter(|t| t.rows.len() > SHOWN_ROWS).map(|t| {
            lang.words().get("reports.more_rows").replace("{shown}", &lang.number(&SHOWN_ROWS.to_string())).replace("{total}", &lang.number(&t.rows.len().to_string()))
        }),
        counting: table.as_ref().is_some_and(|t| t.counted == Counting::Running),
        here: format!("/admin/reports/{}?{}", report.name(), query_string(&q)),
        counted_at: table.as_ref().and_then(|t| match t.counted {
            Counting::Earlier(at) => Some(lang.words().get("reports.counted_at").replace("{at}", &at.strftime("%H:%M:%S UTC").to_string())),
            _ => None,
        }),
        // A list read up to its limit: the period holds more than it lists.
        limited: table.as_ref().zip(scope.as_ref()).filter(|(t, s)| t.report == Report::Transactions && t.rows.len() >= s.limit).map(|(_, s)| {
            lang.words()
                .get("reports.limited")
                .replace("{limit}", &lang.number(&s.limit.to_string()))
                .replace("{max}", &lang.number(&crate::reports::MAX_ROWS.to_string()))
        }),
        totals: table.as_ref().map(|t| t.totals.iter().map(|r| r.iter().map(|c| show(lang, c, period)).collect()).collect()).unwrap_or_default(),
        charts: table.as_ref().map(|t| charts(lang, t)).unwrap_or_default(),
        compare: table
            .as_ref()
            .map(|t| {
                t.compare
                    .iter()
                    .map(|c| Compared {
                        metric: c.metric,
                        label: lang.words().get(&format!("report.col.{}", c.metric)).to_owned(),
                        current: show(lang, &c.current, period).text,
                        previous: show(lang, &c.previous, period).text,
                        change: c.change.map(|d| format!("{}{} %", if d.is_sign_positive() && !d.is_zero() { "+" } else { "" }, lang.number(&d.to_string()))).unwrap_or_default(),
                        trend: match c.change {
                            Some(d) if d.is_sign_positive() && !d.is_zero() => "up",
                            Some(d) if d.is_sign_negative() => "down",
                            _ => "same",
                        },
                    })
                    .collect()
            })
            .unwrap_or_default(),
        verdicts: table.as_ref().map(|t| verdicts(lang, t)).unwrap_or_default(),
        query: query_string(&q),
        error,
    };
    let status = if view.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let mut res = render(status, view);
    remember_lang(&mut res, pq.lang.as_deref());
    res
}
