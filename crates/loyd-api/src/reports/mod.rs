//! Reports: what an analyst or a finance department asks of the loyalty program, read
//! from the aggregates the `roll_up` job keeps (`day_sales`, `day_flows`,
//! `day_campaigns`), never by scanning receipts, so each answers in a few queries over
//! one row per day, store and code whatever the history's size.
//!
//! A report is a [`Table`]: columns, rows and totals, with amounts exact in their
//! currency's minor units. The admin API answers it as JSON, CSV or XLSX
//! (`/v1/admin/reports/{report}`); the console shows the same table with a chart and
//! the same downloads (`/admin/reports/{report}`). Every report takes the same
//! [`ReportQuery`]: a period of local days, a grouping (day, week, month or the whole
//! period), stores (or a store group, or a partner), a currency, campaigns, card series.
//!
//! - [`kpi`]: revenue, receipts, average receipt, items per receipt, buyers, frequency,
//!   members, new members, active share and points liability per period, the last
//!   beside the one before;
//! - [`sales`]: purchases by period and store;
//! - [`balances`]: what customers' points, wallets and credit gained and lost (accrued,
//!   redeemed, expired, converted, returned, adjusted, settled) and what they hold;
//! - [`gift_cards`]: gift cards sold, redeemed, burned and expired, and the liability,
//!   by series;
//! - [`campaigns`]: what each campaign gave (discounts, points, gifts, coupons) and the
//!   revenue of the receipts it touched;
//! - [`effect`]: campaigns against their control groups — the uplift in revenue per
//!   customer, its confidence interval, and the net effect after the points' cost;
//! - regulars: each store's identified buyers by how often they bought;
//! - failures: the failure log over the period, to download;
//! - transactions: every sale, return, cancellation, gift card activation, visit and
//!   manual adjustment, settlement or merge of the period, each sale and return linked
//!   to its receipt's page;
//! - credit: each employee's internal credit account over the period — opening,
//!   charged, given back, settled, closing, owed.

use std::collections::BTreeMap;

use jiff::civil::Date;
use loyd_domain::money::{Minor, Rounding, Scale};
use loyd_domain::program::Program;
use loyd_store::{Principal, Store};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::i18n::Lang;
use crate::error::ApiError;

pub mod effect;
pub mod kpi;
mod render;
mod tables;

pub use render::{Format, download, json};

/// The reports there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Kpi,
    Sales,
    Balances,
    GiftCards,
    Campaigns,
    Effect,
    Regulars,
    Failures,
    Transactions,
    Credit,
}

impl Report {
    pub const ALL: [Report; 10] = [
        Report::Kpi,
        Report::Sales,
        Report::Balances,
        Report::GiftCards,
        Report::Campaigns,
        Report::Effect,
        Report::Regulars,
        Report::Transactions,
        Report::Credit,
        Report::Failures,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Report::Kpi => "kpi",
            Report::Sales => "sales",
            Report::Balances => "balances",
            Report::GiftCards => "gift_cards",
            Report::Campaigns => "campaigns",
            Report::Effect => "effect",
            Report::Regulars => "regulars",
            Report::Failures => "failures",
            Report::Transactions => "transactions",
            Report::Credit => "credit",
        }
    }

    pub fn parse(name: &str) -> Option<Report> {
        Report::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// How rows are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
    /// The whole period as one row.
    All,
}

impl Period {
    pub const ALL: [Period; 4] = [Period::Day, Period::Week, Period::Month, Period::All];

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::All => "all",
        }
    }

    /// The first day of the period `day` is in (`from` for the whole period).
    pub fn start(self, day: Date, from: Date) -> Date {
        match self {
            Period::Day => day,
            Period::Week => day.checked_sub(jiff::Span::new().days(i64::from(day.weekday().to_monday_zero_offset()))).unwrap_or(day),
            Period::Month => day.first_of_month(),
            Period::All => from,
        }
    }
}

/// The filters every report takes. Dates are local days of the stores, `YYYY-MM-DD`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day; default 29 days before `to` (KPI: 11 months before; regular
    /// customers: the first of `to`'s month; transactions: `to` itself).
    pub from: Option<String>,
    /// Last day, included; default today.
    pub to: Option<String>,
    /// `day` (default), `week`, `month` (KPI's default) or `all`.
    pub period: Option<String>,
    /// Store ids, comma-separated.
    pub store: Option<String>,
    /// A store group (format).
    pub group: Option<String>,
    /// A partner: its stores.
    pub partner: Option<String>,
    /// One currency.
    pub currency: Option<String>,
    /// Campaign ids, comma-separated (the campaigns report).
    pub campaign: Option<String>,
    /// Card series ids, comma-separated (the gift cards report).
    pub series: Option<String>,
    /// `store` to keep stores apart (sales, balances and campaigns).
    pub by: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// Transactions: the most rows, oldest first — default 10 000 (100 000 for a CSV or
    /// XLSX download), at most 100 000.
    pub limit: Option<usize>,
}

/// The rows a list report (transactions) holds by default, and at most: a page reads
/// a day of a large chain's operations, a download a month of a smaller one's.
pub const ROWS: usize = 10_000;
pub const MAX_ROWS: usize = 100_000;

/// The longest period a report covers.
const MAX_DAYS: i64 = 3 * 366 + 1;

/// A [`ReportQuery`] checked and resolved against the stores the staff member sees.
#[derive(Debug, Clone)]
pub struct Scope {
    pub from: Date,
    pub to: Date,
    pub period: Period,
    /// The stores whose figures count; `None`: all, and what no store made.
    pub stores: Option<Vec<String>>,
    pub currency: Option<String>,
    pub campaigns: Option<Vec<String>>,
    pub series: Option<Vec<String>>,
    pub by_store: bool,
    /// The most rows a list report (transactions) holds.
    pub limit: usize,
}

fn list(text: &Option<String>) -> Option<Vec<String>> {
    text.as_deref().map(|t| t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>()).filter(|l| !l.is_empty())
}

fn date(name: &str, text: &str) -> Result<Date, ApiError> {
    text.trim().parse().map_err(|_| ApiError::validation(format!("{name}: '{text}' is not a date (YYYY-MM-DD)")))
}

impl Scope {
    /// Checks `q`: dates, period, and stores — a store manager's reports cover their
    /// stores only, and asking for another store is refused.
    /// KPI default to months, a year of them; regular customers to the month so far;
    /// transactions to the day; the others to days, 30 of them.
    pub async fn of(store: &Store, who: &Principal, report: Report, q: &ReportQuery) -> Result<Scope, ApiError> {
        let kpi = report == Report::Kpi;
        let stores = store.stores().await?;
        let today = {
            let tz = stores.first().map_or(jiff::tz::TimeZone::UTC, |s| s.timezone.zone());
            store.now().to_zoned_datetime(tz).date()
        };
        let to = q.to.as_deref().filter(|t| !t.trim().is_empty()).map(|t| date("to", t)).transpose()?.unwrap_or(today);
        let from = q.from.as_deref().filter(|t| !t.trim().is_empty()).map(|t| date("from", t)).transpose()?;
        let back = if kpi { jiff::Span::new().months(11) } else { jiff::Span::new().days(29) };
        // Regular customers: the month so far, which is read as kept; transactions: the
        // day, a journal of operations read one by one.
        let from = from.unwrap_or_else(|| match report {
            Report::Regulars => to.first_of_month(),
            Report::Transactions => to,
            _ => to.checked_sub(back).unwrap_or(to),
        });
        if from > to {
            return Err(ApiError::validation(format!("from ({from}) is after to ({to})")));
        }
        if from.until(to).map_or(0, |s| i64::from(s.get_days())) > MAX_DAYS {
            return Err(ApiError::validation(format!("a report covers at most {MAX_DAYS} days")));
        }
        let period = match q.period.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None if kpi => Period::Month,
            None => Period::Day,
            Some(p) => Period::ALL
                .into_iter()
                .find(|x| x.name() == p)
                .ok_or_else(|| ApiError::validation(format!("period: '{p}' is not day, week, month or all")))?,
        };
        let named = list(&q.store);
        for s in named.iter().flatten() {
            if !stores.iter().any(|x| x.id.as_str() == s) {
                return Err(ApiError::not_found(format!("store '{s}' does not exist")));
            }
        }
        let group = q.group.as_deref().map(str::trim).filter(|g| !g.is_empty());
        let partner = q.partner.as_deref().map(str::trim).filter(|g| !g.is_empty());
        let scoped = who.role.is_store_scoped();
        if scoped && let Some(s) = named.iter().flatten().find(|s| !who.stores.contains(s)) {
            return Err(ApiError::new(crate::error::ErrorCode::Forbidden, format!("store '{s}' is not one of your stores")));
        }
        let stores = (named.is_some() || group.is_some() || partner.is_some() || scoped).then(|| {
            stores
                .iter()
                .filter(|s| named.as_ref().is_none_or(|n| n.iter().any(|x| x == s.id.as_str())))
                .filter(|s| group.is_none_or(|g| s.format.as_ref().is_some_and(|f| f.as_str() == g)))
                .filter(|s| partner.is_none_or(|p| s.partner.as_ref().is_some_and(|x| x.as_str() == p)))
                .filter(|s| !scoped || who.stores.iter().any(|x| x == s.id.as_str()))
                .map(|s| s.id.to_string())
                .collect()
        });
        let by_store = match q.by.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            None => false,
            Some("store") => true,
            Some(b) => return Err(ApiError::validation(format!("by: '{b}' is not 'store'"))),
        };
        let download = q.format.as_deref().is_some_and(|f| matches!(f.trim(), "csv" | "xlsx"));
        let limit = match q.limit {
            None if download => MAX_ROWS,
            None => ROWS,
            Some(n) if (1..=MAX_ROWS).contains(&n) => n,
            Some(n) => return Err(ApiError::validation(format!("limit: {n} is not between 1 and {MAX_ROWS}"))),
        };
        Ok(Scope {
            limit,
            from,
            to,
            period,
            stores,
            currency: q.currency.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned),
            campaigns: list(&q.campaign),
            series: list(&q.series),
            by_store,
        })
    }
}

/// One value of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Day(Date),
    Count(i64),
    Amount(Minor),
    /// A ratio (items per receipt, purchases per buyer, a share in percent), two places.
    Ratio(rust_decimal::Decimal),
    /// Not known here (what customers hold, when only some stores are counted).
    Empty,
    /// Text with the console page it opens (a receipt's): the text alone elsewhere.
    Link(String, String),
}

impl Cell {
    /// As CSV and JSON write it: amounts as decimal strings with their scale.
    pub fn plain(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Day(d) => d.to_string(),
            Cell::Count(n) => n.to_string(),
            Cell::Amount(m) => m.to_string(),
            Cell::Ratio(r) => r.to_string(),
            Cell::Empty => String::new(),
            Cell::Link(t, _) => t.clone(),
        }
    }

    pub fn numeric(&self) -> bool {
        matches!(self, Cell::Count(_) | Cell::Amount(_) | Cell::Ratio(_))
    }
}

/// A report as rows.
#[derive(Debug, Clone)]
pub struct Table {
    pub report: Report,
    pub from: Date,
    pub to: Date,
    pub period: Period,
    /// Column keys: stable names for integrations; their labels are `report.col.<key>`.
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// A total per currency (or per currency and series), same columns.
    pub totals: Vec<Vec<Cell>>,
    /// The column the console's chart draws per period, if any.
    pub chart: Option<&'static str>,
    /// KPI: the last period's figures beside the one before.
    pub compare: Vec<kpi::Compare>,
    /// Figures counted in the background from every customer's rows: `Counting` while
    /// the first count runs (no rows yet), `Counted(at)` for a count made before the
    /// aggregates last moved (a newer one is under way).
    pub counted: Counting,
}

/// Whether a table's figures are a count still to come or an earlier one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Counting {
    /// Read now.
    #[default]
    Now,
    /// Being counted: ask again in a moment.
    Running,
    /// Counted at that time; a newer count is under way.
    Earlier(jiff::Timestamp),
}

impl Table {
    fn of(report: Report, scope: &Scope, columns: Vec<&'static str>, rows: Vec<Vec<Cell>>, totals: Vec<Vec<Cell>>, chart: &'static str) -> Table {
        Table { report, from: scope.from, to: scope.to, period: scope.period, columns, rows, totals, chart: Some(chart), compare: Vec::new(), counted: Counting::Now }
    }

    pub fn column(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == key)
    }

    /// The column labels in `lang`.
    pub fn labels(&self, lang: Lang) -> Vec<String> {
        self.columns.iter().map(|c| lang.words().get(&format!("report.col.{c}")).to_owned()).collect()
    }
}

/// Builds `report` over `scope`.
pub async fn build(store: &Store, report: Report, scope: &Scope) -> Result<Table, ApiError> {
    let program = store.program().await?;
    match report {
        Report::Kpi => {
            let (mut table, compare) = kpi::kpi(store, &program, scope).await?;
            table.compare = compare;
            Ok(table)
        }
        Report::Sales => tables::sales(store, &program, scope).await,
        Report::Balances => tables::balances(store, &program, scope).await,
        Report::GiftCards => tables::gift_cards(store, &program, scope).await,
        Report::Campaigns => tables::campaigns(store, &program, scope).await,
        Report::Effect => effect::effect(store, &program, scope).await,
        Report::Regulars => tables::regulars(store, &program, scope).await,
        Report::Failures => tables::failures(store, scope).await,
        Report::Transactions => tables::transactions(store, &program, scope).await,
        Report::Credit => tables::credit(store, &program, scope).await,
    }
}

/// `part` of `whole` averaged over `n`, rounded half up at `scale`: the one rounding
/// the reports do (an average receipt). `None` for no receipts.
pub(crate) fn average(total: i64, n: i64, scale: Scale) -> Option<Minor> {
    if n <= 0 {
        return None;
    }
    let units = loyd_domain::money::round_scaled(total, scale, rust_decimal::Decimal::ONE, rust_decimal::Decimal::from(n), scale, Rounding::HalfUp).ok()?;
    Some(Minor::new(units, scale))
}

/// Sums rows of numbers keyed by `K`.
pub(crate) fn add_into<K: Ord>(map: &mut BTreeMap<K, Vec<i64>>, key: K, values: &[i64]) {
    let row = map.entry(key).or_insert_with(|| vec![0; values.len()]);
    for (a, b) in row.iter_mut().zip(values) {
        *a += b;
    }
}

/// Rounded half up to exactly two places (`1` → `1.00`): ratios and shares.
pub(crate) fn two_places(d: rust_decimal::Decimal) -> rust_decimal::Decimal {
    let mut r = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

/// `a / b` to two places, half up; `None` for nothing to divide by.
pub(crate) fn fraction(a: i64, b: i64) -> Option<rust_decimal::Decimal> {
    (b > 0).then(|| two_places(rust_decimal::Decimal::from(a) / rust_decimal::Decimal::from(b)))
}

/// [`fraction`] as a cell, empty for nothing to divide by.
pub(crate) fn ratio(a: i64, b: i64) -> Cell {
    fraction(a, b).map_or(Cell::Empty, Cell::Ratio)
}

pub(crate) fn scale(program: &Program, currency: &str) -> Scale {
    program.scale_of(currency)
}
