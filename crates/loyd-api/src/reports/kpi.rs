//! KPI dynamics: per day, week or month — revenue, receipts, average receipt, items per
//! receipt, buyers, purchase frequency, members, new members, the active share and the
//! points liability — with the last period set against the one before it.
//!
//! Sales figures come from `day_sales` (revenue after discounts, cancellations taken
//! off on their day), buyers from `period_buyers` (so buyers, frequency and the
//! active share are monthly figures, shown for `period=month`; several stores
//! together from `customer_months`), members from `member_days`, the liability from
//! `day_flows`. Members and the liability are the whole program's, whatever stores
//! are chosen.

use std::collections::BTreeMap;

use jiff::civil::Date;
use loyd_domain::money::{Minor, Scale};
use loyd_domain::program::{CurrencyKind, Program};
use loyd_store::{FlowFilter, Store};
use rust_decimal::Decimal;

use super::{Cell, Period, Report, Scope, Table, average, fraction, ratio, scale, two_places};
use crate::error::ApiError;

/// One figure of the last period beside the one before.
#[derive(Debug, Clone)]
pub struct Compare {
    pub metric: &'static str,
    pub current: Cell,
    pub previous: Cell,
    /// The change in percent, two places; `None` when the previous is zero or unknown.
    pub change: Option<Decimal>,
}

/// How long a period is.
fn length(period: Period) -> jiff::Span {
    match period {
        Period::Day => jiff::Span::new().days(1),
        Period::Week => jiff::Span::new().weeks(1),
        Period::Month | Period::All => jiff::Span::new().months(1),
    }
}

/// The start of the period after the one starting at `start`.
fn next(period: Period, start: Date) -> Date {
    start.checked_add(length(period)).unwrap_or(start)
}

/// The start of the period before the one starting at `start`.
fn previous(period: Period, start: Date) -> Date {
    start.checked_sub(length(period)).unwrap_or(start)
}

fn number(c: &Cell) -> Option<Decimal> {
    match c {
        Cell::Count(n) => Some(Decimal::from(*n)),
        Cell::Amount(m) => Some(m.to_decimal()),
        Cell::Ratio(r) => Some(*r),
        _ => None,
    }
}

const METRICS: [&str; 10] = ["revenue", "receipts", "average", "items", "buyers", "frequency", "members", "new_members", "active_share", "liability"];

/// The KPI table: a row per period of the scope (whole periods: the first starts on or
/// before `from`, the last holds `to`), in the money of `currency` (default the first
/// store's) and the points of the first points currency.
pub(super) async fn kpi(store: &Store, program: &Program, scope: &Scope) -> Result<(Table, Vec<Compare>), ApiError> {
    if scope.period == Period::All {
        return Err(ApiError::validation("period: KPI are per day, week or month"));
    }
    let stores = store.stores().await?;
    let home = stores.first().map_or(jiff::tz::TimeZone::UTC, |s| s.timezone.zone());
    let money = match &scope.currency {
        Some(c) => c.clone(),
        None => stores.first().map(|s| s.currency.to_string()).unwrap_or_else(|| "EUR".into()),
    };
    let points = program.currencies.values().find(|c| c.kind == CurrencyKind::Points).map(|c| c.code.to_string());
    // The periods, one more before the first so the first has its previous too.
    let first = previous(scope.period, scope.period.start(scope.from, scope.from));
    let last = scope.period.start(scope.to, scope.from);
    let mut starts = vec![first];
    while let Some(&s) = starts.last()
        && s < last
        && starts.len() < 2000
    {
        starts.push(next(scope.period, s));
    }
    let end = next(scope.period, last).yesterday().unwrap_or(last);
    let ids = match &scope.stores {
        Some(s) => s.clone(),
        None => stores.iter().map(|s| s.id.to_string()).collect(),
    };
    // Sales per period: receipts, revenue, lines.
    let mut sales: BTreeMap<Date, [i64; 3]> = BTreeMap::new();
    for d in store.store_days(ids, first, end).await?.iter().filter(|d| d.currency == money) {
        let row = sales.entry(scope.period.start(d.day, first)).or_default();
        row[0] += d.receipts - d.cancelled;
        row[1] += d.total - d.cancelled_total - (d.discount - d.cancelled_discount);
        row[2] += d.lines;
    }
    // Buyers per month (several stores' together counted in the background).
    let mut counted = super::Counting::Now;
    let buyers: BTreeMap<String, loyd_store::MonthBuyers> = if scope.period == Period::Month {
        let months = starts.iter().map(|s| s.strftime("%Y-%m").to_string()).collect();
        let Some(found) = store.month_buyers(months, scope.stores.clone()).await? else {
            let table = Table { counted: super::Counting::Running, chart: None, ..Table::of(Report::Kpi, scope, METRICS.to_vec(), Vec::new(), Vec::new(), "revenue") };
            return Ok((table, Vec::new()));
        };
        if !found.current {
            counted = super::Counting::Earlier(found.at);
        }
        found.value.into_iter().map(|b| (b.month.clone(), b)).collect()
    } else {
        BTreeMap::new()
    };
    // Members at each period's start and end (the next one's start).
    let midnight = |d: Date| d.to_zoned_datetime(home.clone()).map(|z| z.timestamp()).unwrap_or_default();
    let mut bounds: Vec<jiff::Timestamp> = starts.iter().map(|s| midnight(*s)).collect();
    bounds.push(midnight(next(scope.period, last)));
    let members = store.members_before(bounds).await?;
    // The points liability at each period's end.
    let mut held: BTreeMap<Date, i64> = BTreeMap::new();
    if let Some(p) = &points {
        let filter = FlowFilter { holder_kind: Some("customer".into()), asset: Some(p.clone()), ..FlowFilter::default() };
        let opening: i64 = store.held_before(filter.clone(), first).await?.iter().map(|h| h.amount).sum();
        let flows = store.flow_days(FlowFilter { from: Some(first), to: Some(end), ..filter }).await?;
        let mut running = opening;
        for s in &starts {
            let upto = next(scope.period, *s);
            running += flows.iter().filter(|f| f.day >= *s && f.day < upto).map(|f| f.credited - f.debited).sum::<i64>();
            held.insert(*s, running);
        }
    }
    let ms = scale(program, &money);
    let ps = points.as_deref().map_or(Scale::ZERO, |p| scale(program, p));
    let rows: Vec<Vec<Cell>> = starts
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let [receipts, revenue, lines] = sales.get(s).copied().unwrap_or_default();
            let (joined_before, joined_after) = (members[k], members[k + 1]);
            let month = buyers.get(&s.strftime("%Y-%m").to_string());
            let opt = |x: Option<Decimal>| x.map_or(Cell::Empty, Cell::Ratio);
            vec![
                Cell::Day(*s),
                Cell::Text(money.clone()),
                Cell::Amount(Minor::new(revenue, ms)),
                Cell::Count(receipts),
                average(revenue, receipts, ms).map_or(Cell::Empty, Cell::Amount),
                ratio(lines, receipts),
                month.map_or(Cell::Empty, |b| Cell::Count(b.buyers)),
                opt(month.and_then(|b| fraction(b.receipts, b.buyers))),
                Cell::Count(joined_after),
                Cell::Count(joined_after - joined_before),
                opt(month.and_then(|b| fraction(b.buyers * 100, joined_after))),
                Cell::Text(points.clone().unwrap_or_default()),
                held.get(s).map_or(Cell::Empty, |h| Cell::Amount(Minor::new(*h, ps))),
            ]
        })
        .collect();
    let columns = vec![
        "period", "currency", "revenue", "receipts", "average", "items", "buyers", "frequency", "members", "new_members", "active_share",
        "points_currency", "liability",
    ];
    let compare = match rows.as_slice() {
        [.., before, now] => METRICS
            .iter()
            .filter_map(|m| {
                let at = columns.iter().position(|c| c == m)?;
                let (current, previous) = (now[at].clone(), before[at].clone());
                let change = match (number(&current), number(&previous)) {
                    (Some(c), Some(p)) if !p.is_zero() => {
                        Some(two_places((c - p) * Decimal::ONE_HUNDRED / p))
                    }
                    _ => None,
                };
                Some(Compare { metric: m, current, previous, change })
            })
            .collect(),
        _ => Vec::new(),
    };
    // The extra period before the first is there for comparing only.
    let rows = rows.into_iter().skip(1).collect();
    let table = Table {
        report: Report::Kpi,
        from: scope.from,
        to: scope.to,
        period: scope.period,
        columns,
        rows,
        totals: Vec::new(),
        chart: Some("revenue"),
        compare: Vec::new(),
        counted,
    };
    Ok((table, compare))
}
