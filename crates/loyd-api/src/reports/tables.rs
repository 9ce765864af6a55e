//! Each report's table, from the aggregates.

use std::collections::BTreeMap;

use jiff::civil::Date;
use loyd_domain::program::CardKind;
use loyd_domain::money::Minor;
use loyd_domain::program::Program;
use loyd_store::{FlowFilter, Store};

use super::{Cell, Report, Scope, Table, add_into, average, scale};
use crate::error::ApiError;

/// The stores a scope counts, by id: all of them when it names none.
async fn store_ids(store: &Store, scope: &Scope) -> Result<Vec<String>, ApiError> {
    Ok(match &scope.stores {
        Some(s) => s.clone(),
        None => store.stores().await?.iter().map(|s| s.id.to_string()).collect(),
    })
}

/// The leading columns: the period, the store when stores are kept apart.
fn lead(scope: &Scope) -> Vec<&'static str> {
    if scope.by_store { vec!["period", "store"] } else { vec!["period"] }
}

fn lead_cells(scope: &Scope, period: Date, store: &str) -> Vec<Cell> {
    let mut out = vec![Cell::Day(period)];
    if scope.by_store {
        out.push(Cell::Text(store.to_owned()));
    }
    out
}

/// A total row: the lead columns say "total", then `rest`.
fn total_cells(scope: &Scope, rest: Vec<Cell>) -> Vec<Cell> {
    let mut out = vec![Cell::Text("total".into())];
    if scope.by_store {
        out.push(Cell::Empty);
    }
    out.extend(rest);
    out
}

/// Purchases by period and store: receipts, sales before discounts, discounts, revenue
/// (after discounts), what points, wallets and gift cards paid, returns and
/// cancellations, money paid back, net revenue (revenue less money paid back) and the
/// average receipt (revenue per receipt). Cancelled receipts are taken out on the day
/// they were cancelled.
pub(super) async fn sales(store: &Store, program: &Program, scope: &Scope) -> Result<Table, ApiError> {
    let days = store.store_days(store_ids(store, scope).await?, scope.from, scope.to).await?;
    let mut rows: BTreeMap<(Date, String, String), Vec<i64>> = BTreeMap::new();
    let mut totals: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for d in days.iter().filter(|d| scope.currency.as_ref().is_none_or(|c| *c == d.currency)) {
        let v = [
            d.receipts - d.cancelled,
            d.total - d.cancelled_total,
            d.discount - d.cancelled_discount,
            d.redeemed - d.cancelled_redeemed,
            d.gift_card,
            d.returns,
            d.cancelled,
            d.paid_back,
        ];
        let store_key = if scope.by_store { d.store.clone() } else { String::new() };
        add_into(&mut rows, (scope.period.start(d.day, scope.from), store_key, d.currency.clone()), &v);
        add_into(&mut totals, d.currency.clone(), &v);
    }
    let cells = |currency: &str, v: &[i64]| -> Vec<Cell> {
        let s = scale(program, currency);
        let m = |x: i64| Cell::Amount(Minor::new(x, s));
        let revenue = v[1] - v[2];
        vec![
            Cell::Text(currency.to_owned()),
            Cell::Count(v[0]),
            m(v[1]),
            m(v[2]),
            m(revenue),
            m(v[3]),
            m(v[4]),
            Cell::Count(v[5]),
            Cell::Count(v[6]),
            m(v[7]),
            m(revenue - v[7]),
            average(revenue, v[0], s).map_or(Cell::Empty, Cell::Amount),
        ]
    };
    let mut columns = lead(scope);
    columns.extend([
        "currency", "receipts", "gross", "discount", "revenue", "redeemed", "gift_card", "returns", "cancelled", "paid_back", "net_revenue", "average",
    ]);
    Ok(Table::of(
        Report::Sales,
        scope,
        columns,
        rows
            .iter()
            .map(|((p, st, cur), v)| {
                let mut r = lead_cells(scope, *p, st);
                r.extend(cells(cur, v));
                r
            })
            .collect(),
        totals.iter().map(|(cur, v)| total_cells(scope, cells(cur, v))).collect(),
        "revenue",
    ))
}

/// How a transfer code counts in a flow report: the column it adds to and whether it
/// counts what came in (`+`), what went out (`-`), or the difference (`=`).
type Mapping = &'static [(&'static str, &'static str, char)];

/// A report of ledger flows: which codes go to which columns, and what the chart draws.
struct FlowReport {
    report: Report,
    codes: Mapping,
    columns: &'static [&'static str],
    chart: &'static str,
}

const BALANCES: FlowReport = FlowReport { report: Report::Balances, codes: BALANCE_CODES, columns: &BALANCE_COLUMNS, chart: "accrued" };
const GIFT_CARDS: FlowReport = FlowReport { report: Report::GiftCards, codes: CARD_CODES, columns: &CARD_COLUMNS, chart: "sold" };

/// Customers' balances: codes to columns.
const BALANCE_CODES: Mapping = &[
    ("accrual", "accrued", '+'),
    ("redemption", "redeemed", '-'),
    ("expiry", "expired", '-'),
    ("inactivity", "expired", '-'),
    ("conversion", "converted", '='),
    ("return", "returned", '='),
    ("adjustment", "adjusted", '='),
    ("settlement", "settled", '='),
];
const BALANCE_COLUMNS: [&str; 8] = ["accrued", "redeemed", "expired", "converted", "returned", "adjusted", "settled", "other"];

/// Gift cards: codes to columns.
const CARD_CODES: Mapping = &[
    ("gift_card_sale", "sold", '+'),
    ("gift_card_payment", "redeemed", '-'),
    ("breakage", "burned", '-'),
    ("expiry", "expired", '-'),
    ("return", "refunded", '='),
];
const CARD_COLUMNS: [&str; 6] = ["sold", "redeemed", "burned", "expired", "refunded", "other"];

/// Each flow's value in the columns `columns` (the last one, `other`, takes the
/// difference of every code `codes` does not name), and its net effect on what holders
/// hold.
fn place(codes: Mapping, columns: &[&str], code: &str, credited: i64, debited: i64) -> (usize, i64) {
    match codes.iter().find(|(c, _, _)| *c == code) {
        Some((_, col, how)) => {
            let at = columns.iter().position(|c| c == col).unwrap_or(columns.len() - 1);
            (at, match how {
                '+' => credited,
                '-' => debited,
                _ => credited - debited,
            })
        }
        None => (columns.len() - 1, credited - debited),
    }
}

/// A flow report: rows of (period, store, currency, series) with an opening and a
/// closing balance around the columns. Balances are only known with every store
/// counted (expiry and adjustments belong to no store): otherwise they are empty.
async fn flow_table(store: &Store, program: &Program, scope: &Scope, how: &FlowReport, filter: FlowFilter) -> Result<Table, ApiError> {
    let FlowReport { report, codes, columns, chart } = *how;
    let by_series = filter.by_series;
    let flows = store.flow_days(filter.clone()).await?;
    let balances = scope.stores.is_none() && !scope.by_store;
    let mut held: BTreeMap<(String, String), i64> = BTreeMap::new();
    if balances {
        for h in store.held_before(filter.clone(), scope.from).await? {
            *held.entry((h.asset, h.series)).or_default() += h.amount;
        }
    }
    let width = columns.len();
    // Per row: the columns, then what they do not show (so a `+` column's taken-back
    // part still reaches the closing balance).
    let mut rows: BTreeMap<(Date, String, String, String), Vec<i64>> = BTreeMap::new();
    for f in &flows {
        let (at, v) = place(codes, columns, &f.code, f.credited, f.debited);
        let mut values = vec![0i64; width + 1];
        values[at] = v;
        // The signed change the shown value stands for.
        let shown = match codes.iter().find(|(c, _, _)| *c == f.code).map(|x| x.2) {
            Some('+') => v,
            Some('-') => -v,
            _ => v,
        };
        values[width] = (f.credited - f.debited) - shown;
        add_into(&mut rows, (scope.period.start(f.day, scope.from), f.store.clone(), f.asset.clone(), f.series.clone()), &values);
    }
    // Unshown remainders go to `other`.
    for v in rows.values_mut() {
        let rest = v[width];
        v[width - 1] += rest;
        v.truncate(width);
    }
    let sign: Vec<i64> = columns
        .iter()
        .map(|col| match codes.iter().find(|(_, c, _)| c == col).map(|x| x.2) {
            Some('-') => -1,
            _ => 1,
        })
        .collect();
    let change = |v: &[i64]| -> i64 { v.iter().zip(&sign).map(|(a, s)| a * s).sum() };
    let mut out_columns = lead(scope);
    if by_series {
        out_columns.push("series");
    }
    out_columns.push("currency");
    out_columns.push("opening");
    out_columns.extend(columns.iter().copied());
    out_columns.push("closing");
    let mut running = held.clone();
    let mut out_rows = Vec::new();
    let mut totals: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for ((period, st, asset, series), v) in &rows {
        let s = scale(program, asset);
        let mut r = lead_cells(scope, *period, st);
        if by_series {
            r.push(Cell::Text(series.clone()));
        }
        r.push(Cell::Text(asset.clone()));
        let key = (asset.clone(), series.clone());
        let opening = *running.get(&key).unwrap_or(&0);
        let closing = opening + change(v);
        r.push(if balances { Cell::Amount(Minor::new(opening, s)) } else { Cell::Empty });
        r.extend(v.iter().map(|x| Cell::Amount(Minor::new(*x, s))));
        r.push(if balances { Cell::Amount(Minor::new(closing, s)) } else { Cell::Empty });
        if balances {
            running.insert(key.clone(), closing);
        }
        add_into(&mut totals, key, v);
        out_rows.push(r);
    }
    let totals = totals
        .iter()
        .map(|((asset, series), v)| {
            let s = scale(program, asset);
            let opening = *held.get(&(asset.clone(), series.clone())).unwrap_or(&0);
            let mut rest = Vec::new();
            if by_series {
                rest.push(Cell::Text(series.clone()));
            }
            rest.push(Cell::Text(asset.clone()));
            rest.push(if balances { Cell::Amount(Minor::new(opening, s)) } else { Cell::Empty });
            rest.extend(v.iter().map(|x| Cell::Amount(Minor::new(*x, s))));
            rest.push(if balances { Cell::Amount(Minor::new(opening + change(v), s)) } else { Cell::Empty });
            total_cells(scope, rest)
        })
        .collect();
    Ok(Table::of(report, scope, out_columns, out_rows, totals, chart))
}

/// What customers' points, wallets and credit gained and lost, by period (and store),
/// with what they held before and after.
pub(super) async fn balances(store: &Store, program: &Program, scope: &Scope) -> Result<Table, ApiError> {
    let filter = FlowFilter {
        from: Some(scope.from),
        to: Some(scope.to),
        stores: scope.stores.clone(),
        holder_kind: Some("customer".into()),
        asset: scope.currency.clone(),
        series: None,
        by_store: scope.by_store,
        by_series: false,
    };
    flow_table(store, program, scope, &BALANCES, filter).await
}

/// Gift cards by series: sold, redeemed, burned (single-use rests), expired, refunded,
/// and the liability — what their holders may still spend.
pub(super) async fn gift_cards(store: &Store, program: &Program, scope: &Scope) -> Result<Table, ApiError> {
    let gift: Vec<String> = program.series.values().filter(|s| s.spec.kind == CardKind::Gift).map(|s| s.spec.id.to_string()).collect();
    let series = match &scope.series {
        Some(asked) => {
            if let Some(s) = asked.iter().find(|s| !gift.contains(s)) {
                return Err(ApiError::validation(format!("series: '{s}' is not a gift card series")));
            }
            asked.clone()
        }
        None => gift,
    };
    let filter = FlowFilter {
        from: Some(scope.from),
        to: Some(scope.to),
        stores: scope.stores.clone(),
        holder_kind: Some("card".into()),
        asset: scope.currency.clone(),
        series: Some(series),
        by_store: scope.by_store,
        by_series: true,
    };
    flow_table(store, program, scope, &GIFT_CARDS, filter).await
}

/// What each campaign gave — discounts, points, gifts, coupons — and the receipts it
/// touched, by period (and store).
pub(super) async fn campaigns(store: &Store, program: &Program, scope: &Scope) -> Result<Table, ApiError> {
    let days = store.campaign_days(scope.from, scope.to, scope.stores.clone(), scope.campaigns.clone(), scope.by_store).await?;
    let mut rows: BTreeMap<(Date, String, String, String), Vec<i64>> = BTreeMap::new();
    let mut totals: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for d in days.iter().filter(|d| scope.currency.as_ref().is_none_or(|c| *c == d.currency)) {
        let v = [d.receipts, d.revenue, d.discount, d.accrued, d.gifts, d.coupons];
        add_into(&mut rows, (scope.period.start(d.day, scope.from), d.store.clone(), d.campaign.clone(), d.currency.clone()), &v);
        add_into(&mut totals, (d.campaign.clone(), d.currency.clone()), &v);
    }
    // Receipts and revenue are on the row of the store currency; a row in an accrual
    // currency has only what was accrued.
    let cells = |campaign: &str, currency: &str, v: &[i64]| -> Vec<Cell> {
        let own = scale(program, currency);
        vec![
            Cell::Text(campaign.to_owned()),
            Cell::Text(currency.to_owned()),
            Cell::Count(v[0]),
            Cell::Amount(Minor::new(v[1], own)),
            Cell::Amount(Minor::new(v[2], own)),
            Cell::Amount(Minor::new(v[3], own)),
            Cell::Count(v[4]),
            Cell::Count(v[5]),
        ]
    };
    let mut columns = lead(scope);
    columns.extend(["campaign", "currency", "receipts", "revenue", "discount", "accrued", "gifts", "coupons"]);
    Ok(Table::of(
        Report::Campaigns,
        scope,
        columns,
        rows
            .iter()
            .map(|((p, st, campaign, cur), v)| {
                let mut r = lead_cells(scope, *p, st);
                r.extend(cells(campaign, cur, v));
                r
            })
            .collect(),
        totals.iter().map(|((campaign, cur), v)| total_cells(scope, cells(campaign, cur, v))).collect(),
        "discount",
    ))
}

/// Regular customers per store: each store's identified buyers over the months the
/// period covers (whole months, from `customer_months`), by how many purchases they
/// made there — one, two or three, four or more (regular) — the regulars' share of
/// the buyers, purchases per buyer, revenue and what the regulars paid; then all the
/// stores together, a customer counted once. Anonymous receipts are not counted.
pub(super) async fn regulars(store: &Store, program: &Program, scope: &Scope) -> Result<Table, ApiError> {
    let (from, to) = (scope.from.strftime("%Y-%m").to_string(), scope.to.strftime("%Y-%m").to_string());
    let currencies: BTreeMap<String, String> = store.stores().await?.iter().map(|s| (s.id.to_string(), s.currency.to_string())).collect();
    let columns = vec!["store", "currency", "buyers", "once", "repeat", "regular", "regular_share", "frequency", "revenue", "regular_revenue"];
    let Some(counted) = store.store_regulars(from, to, scope.stores.clone()).await? else {
        return Ok(Table { chart: None, counted: super::Counting::Running, ..Table::of(Report::Regulars, scope, columns, Vec::new(), Vec::new(), "regular") });
    };
    let found = counted.value;
    let shown: Vec<&String> = found.iter().filter(|r| !r.store.is_empty()).filter_map(|r| currencies.get(&r.store)).collect();
    // Together only when the stores take one currency.
    let one = shown.first().filter(|c| shown.iter().all(|x| x == *c)).map(|c| (*c).clone());
    let cells = |r: &loyd_store::StoreRegulars, currency: Option<&String>| -> Vec<Cell> {
        let amount = |x: i64| currency.map_or(Cell::Empty, |c| Cell::Amount(Minor::new(x, scale(program, c))));
        vec![
            Cell::Text(currency.cloned().unwrap_or_default()),
            Cell::Count(r.buyers),
            Cell::Count(r.once),
            Cell::Count(r.repeat),
            Cell::Count(r.regular),
            super::ratio(r.regular * 100, r.buyers),
            super::ratio(r.receipts, r.buyers),
            amount(r.revenue),
            amount(r.regular_revenue),
        ]
    };
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    for r in &found {
        if r.store.is_empty() {
            let mut row = vec![Cell::Text("total".into())];
            row.extend(cells(r, one.as_ref()));
            totals.push(row);
        } else {
            let mut row = vec![Cell::Text(r.store.clone())];
            row.extend(cells(r, currencies.get(&r.store)));
            rows.push(row);
        }
    }
    let counted = if counted.current { super::Counting::Now } else { super::Counting::Earlier(counted.at) };
    Ok(Table { chart: None, counted, ..Table::of(Report::Regulars, scope, columns, rows, totals, "regular") })
}

/// The period's first and last local days of the first store as times: from the
/// start of `from` to the start of the day after `to`.
async fn bounds(store: &Store, scope: &Scope) -> Result<(jiff::Timestamp, jiff::Timestamp), ApiError> {
    let tz = store.stores().await?.first().map_or(jiff::tz::TimeZone::UTC, |s| s.timezone.zone());
    let from = tz.to_timestamp(scope.from.to_datetime(jiff::civil::Time::midnight())).map_err(|e| ApiError::validation(e.to_string()))?;
    let next = scope.to.tomorrow().map_err(|e| ApiError::validation(e.to_string()))?;
    let until = tz.to_timestamp(next.to_datetime(jiff::civil::Time::midnight())).map_err(|e| ApiError::validation(e.to_string()))?;
    Ok((from, until))
}

/// Every operation of the period (local days of the first store), oldest first, in the
/// stores asked for and the currency asked for: when (UTC), kind, store, terminal, the
/// receipt (linked to its page), the customer, currency, amount (a sale's revenue
/// after discounts, what a return or cancellation gave back, what an adjustment added
/// or took), discount, redeemed, status (a sale since cancelled) and the operation's
/// id. Totals per kind and currency, of the rows listed: at most the scope's `limit`
/// ([`super::ROWS`] by default, [`super::MAX_ROWS`] at most), the oldest.
pub(super) async fn transactions(store: &Store, program: &Program, scope: &Scope) -> Result<Table, ApiError> {
    let (from, until) = bounds(store, scope).await?;
    let found = store.transactions(loyd_store::TransactionFilter { from, until, stores: scope.stores.clone(), limit: scope.limit }).await?;
    let mut rows = Vec::with_capacity(found.len());
    let mut sums: BTreeMap<(String, String), (i64, Vec<i64>)> = BTreeMap::new();
    for t in found.into_iter().filter(|t| scope.currency.as_ref().is_none_or(|c| *c == t.currency)) {
        let cur = scale(program, &t.currency);
        let places = t.places.and_then(|p| loyd_domain::money::Scale::new(p as u8).ok()).unwrap_or(cur);
        let receipt = match (t.receipt, t.receipt_ref) {
            (Some(r), Some(id)) => Cell::Link(r, format!("/admin/receipts/{id}")),
            (Some(r), None) => Cell::Text(r),
            _ => Cell::Empty,
        };
        let entry = sums.entry((t.kind.clone(), t.currency.clone())).or_insert((0, vec![0; 3]));
        entry.0 += 1;
        // What the till's answer wrote, in the currency's places (it writes them so).
        let amount = loyd_domain::money::to_minor_exact(Minor::new(t.amount, places).to_decimal(), cur).unwrap_or(t.amount);
        for (x, v) in entry.1.iter_mut().zip([amount, t.discount, t.redeemed]) {
            *x += v;
        }
        rows.push(vec![
            Cell::Text(t.at.strftime("%Y-%m-%d %H:%M:%S").to_string()),
            Cell::Text(t.kind),
            Cell::Text(t.store.unwrap_or_default()),
            Cell::Text(t.terminal.unwrap_or_default()),
            receipt,
            t.customer.map_or(Cell::Empty, |c| Cell::Link(loyd_domain::ids::CustomerId(c).to_string(), format!("/admin/customers/{c}"))),
            Cell::Text(t.currency),
            Cell::Amount(Minor::new(amount, cur)),
            Cell::Amount(Minor::new(t.discount, cur)),
            Cell::Amount(Minor::new(t.redeemed, cur)),
            Cell::Text(if t.cancelled { "cancelled".into() } else { String::new() }),
            Cell::Text(t.operation.unwrap_or_default()),
        ]);
    }
    let totals = sums
        .into_iter()
        .map(|((kind, currency), (n, v))| {
            let cur = scale(program, &currency);
            vec![
                Cell::Text("total".into()),
                Cell::Text(kind),
                Cell::Empty,
                Cell::Empty,
                Cell::Count(n),
                Cell::Empty,
                Cell::Text(currency),
                Cell::Amount(Minor::new(v[0], cur)),
                Cell::Amount(Minor::new(v[1], cur)),
                Cell::Amount(Minor::new(v[2], cur)),
                Cell::Empty,
                Cell::Empty,
            ]
        })
        .collect();
    let columns = vec!["at", "kind", "store", "terminal", "receipt", "customer", "currency", "amount", "discount", "redeemed", "status", "operation"];
    Ok(Table { chart: None, ..Table::of(Report::Transactions, scope, columns, rows, totals, "amount") })
}

/// Each internal credit account's statement over the period: holder, currency, limit,
/// opening balance, charged (purchases and deductions), returned (returns and other
/// credits), settled (payroll deductions paid in), closing balance and what is owed
/// at the end; totals per currency. Accounts are the whole chain's: a store filter is
/// refused.
pub(super) async fn credit(store: &Store, program: &Program, scope: &Scope) -> Result<Table, ApiError> {
    if scope.stores.is_some() {
        return Err(ApiError::validation("credit statements cover each account in every store: the report takes no store filter (a store manager cannot read it)"));
    }
    let (from, until) = bounds(store, scope).await?;
    let statements = store.credit_statements(from, until, scope.currency.clone()).await?;
    let mut rows = Vec::with_capacity(statements.len());
    let mut sums: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for s in statements {
        let cur = scale(program, &s.currency);
        let owed = (-s.closing).max(0);
        let values = [s.credit_limit, s.opening, s.charged, s.returned, s.settled, s.closing, owed];
        add_into(&mut sums, s.currency.clone(), &values);
        let holder = match (s.holder_kind.as_str(), s.holder_id.parse::<i64>()) {
            ("customer", Ok(id)) => Cell::Link(loyd_domain::ids::CustomerId(id).to_string(), format!("/admin/customers/{id}")),
            ("organisation", Ok(id)) => Cell::Link(loyd_domain::ids::OrganisationId(id).to_string(), format!("/admin/organisations/{id}")),
            _ => Cell::Text(format!("{}:{}", s.holder_kind, s.holder_id)),
        };
        let mut row = vec![holder, Cell::Text(s.currency)];
        row.extend(values.iter().map(|v| Cell::Amount(Minor::new(*v, cur))));
        rows.push(row);
    }
    let totals = sums
        .into_iter()
        .map(|(currency, v)| {
            let cur = scale(program, &currency);
            let mut row = vec![Cell::Text("total".into()), Cell::Text(currency)];
            row.extend(v.iter().map(|x| Cell::Amount(Minor::new(*x, cur))));
            row
        })
        .collect();
    let columns = vec!["holder", "currency", "credit_limit", "opening", "charged", "returned", "settled", "closing", "owed"];
    Ok(Table { chart: None, ..Table::of(Report::Credit, scope, columns, rows, totals, "owed") })
}

/// Refusals a download holds, at most.
pub const MAX_FAILURES: usize = 100_000;

/// The failure log over the period (local days of the first store), newest first, in the
/// stores asked for: when (UTC), store, terminal, operation, code, card, message; a
/// total row counts them. At most [`MAX_FAILURES`] rows.
pub(super) async fn failures(store: &Store, scope: &Scope) -> Result<Table, ApiError> {
    let (from, until) = bounds(store, scope).await?;
    let mut rows = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .failures(loyd_store::FailureFilter {
                from: Some(from),
                to: Some(until),
                stores: scope.stores.clone(),
                before_id: before,
                limit: 1000,
                ..Default::default()
            })
            .await?;
        before = page.last().map(|f| f.id);
        let done = page.len() < 1000;
        for f in page {
            rows.push(vec![
                Cell::Text(f.at.strftime("%Y-%m-%d %H:%M:%S").to_string()),
                Cell::Text(f.store.unwrap_or_default()),
                Cell::Text(f.terminal.unwrap_or_default()),
                Cell::Text(f.operation),
                Cell::Text(f.code),
                Cell::Text(f.card.unwrap_or_default()),
                Cell::Text(f.message),
            ]);
        }
        if done || rows.len() >= MAX_FAILURES {
            break;
        }
    }
    rows.truncate(MAX_FAILURES);
    let total = vec![Cell::Text("total".into()), Cell::Empty, Cell::Empty, Cell::Empty, Cell::Count(rows.len() as i64), Cell::Empty, Cell::Empty];
    let columns = vec!["at", "store", "terminal", "operation", "code", "card", "message"];
    Ok(Table { chart: None, ..Table::of(Report::Failures, scope, columns, rows, vec![total], "code") })
}
