//! Campaign effect against a control group: for each campaign that holds out a share of
//! the customers who qualify (`control_share`), the treated customers beside the held-out
//! ones over the report's period — revenue per customer, purchases per customer, the
//! average receipt — the uplift in revenue per customer with its 95 % confidence
//! interval, what that comes to over all treated customers, and the net effect once the
//! campaign's points are paid for.
//!
//! Both groups are the customers whose receipts met the campaign's conditions, decided
//! the same way before anything was given (`campaign_members`), so the groups differ only
//! by the campaign. Each member's purchases count from the month of their first
//! qualifying receipt, in the months the period covers (`customer_months`: whole
//! months), after discounts — so the campaign's discounts are already in the treated
//! customers' revenue, and the net effect takes off only the value of the points it
//! accrued (at each currency's `value`). Coupons and gifts it handed out are counted,
//! not valued.
//!
//! The interval is Welch's: uplift ± 1.96 × √(s²ₜ/nₜ + s²꜀/n꜀), from each group's
//! exact sums and sums of squares; every figure is rounded half up to the money's
//! minor unit once, at the end.

use loyd_domain::money::{Minor, Scale};
use loyd_domain::program::Program;
use loyd_store::{ControlGroup, Store};
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};

use super::{Cell, Period, Report, Scope, Table, average, ratio, scale, two_places};
use crate::error::ApiError;

/// The table's columns, in order.
pub const COLUMNS: [&str; 20] = [
    "campaign",
    "currency",
    "control_share",
    "treated",
    "held_out",
    "revenue_treated",
    "revenue_control",
    "frequency_treated",
    "frequency_control",
    "average_treated",
    "average_control",
    "uplift",
    "uplift_low",
    "uplift_high",
    "extra_revenue",
    "discount",
    "points_value",
    "net_effect",
    "net_low",
    "net_high",
];

/// 1.96: the normal distribution's two-sided 95 % point.
fn z95() -> Decimal {
    Decimal::new(196, 2)
}

/// Minor units, rounded half up.
fn minor(d: Decimal, scale: Scale) -> Cell {
    let units = d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(units).map_or(Cell::Empty, |u| Cell::Amount(Minor::new(u, scale)))
}

/// What a group's member bought on average, in minor units (exact).
fn mean(g: &ControlGroup) -> Option<Decimal> {
    (g.members > 0).then(|| Decimal::from(g.revenue) / Decimal::from(g.members))
}

/// The variance of a group's mean revenue per member, s²/n, in squared minor units:
/// (n·Σx² − (Σx)²) / (n²·(n − 1)). `None` below two members or past `Decimal`'s range.
fn variance_of_mean(g: &ControlGroup) -> Option<Decimal> {
    if g.members < 2 {
        return None;
    }
    let n = i128::from(g.members);
    let spread = n.checked_mul(g.revenue_squares)?.checked_sub(i128::from(g.revenue).checked_mul(i128::from(g.revenue))?)?;
    let spread = Decimal::try_from_i128_with_scale(spread, 0).ok()?;
    spread.checked_div(Decimal::try_from_i128_with_scale(n * n * (n - 1), 0).ok()?)
}


pub(super) async fn effect(store: &Store, program: &Program, scope: &Scope) -> Result<Table, ApiError> {
    let stores = store.stores().await?;
    let money = match &scope.currency {
        Some(c) => c.clone(),
        None => stores.first().map(|s| s.currency.to_string()).unwrap_or_else(|| "EUR".into()),
    };
    let ms = scale(program, &money);
    let money_code = loyd_domain::ids::AssetCode::parse(&money).map_err(|e| ApiError::validation(format!("currency: {e}")))?;
    // The campaigns with a control group, running or not (one that has ended is still
    // worth reading), and any other asked for by name.
    let doc = store.config_snapshot().await?;
    let share = |id: &str| doc.campaigns.iter().find(|c| c.id.as_str() == id).and_then(|c| c.control_share.map(|d| d.0));
    let mut campaigns: Vec<(String, Option<Decimal>)> =
        doc.campaigns.iter().filter(|c| c.control_share.is_some()).map(|c| (c.id.to_string(), share(c.id.as_str()))).collect();
    if let Some(named) = &scope.campaigns {
        campaigns.retain(|(id, _)| named.contains(id));
        for id in named {
            if !campaigns.iter().any(|(c, _)| c == id) {
                campaigns.push((id.clone(), share(id)));
            }
        }
    }
    let (from_month, to_month) = (scope.from.strftime("%Y-%m").to_string(), scope.to.strftime("%Y-%m").to_string());
    let ids: Vec<String> = campaigns.iter().map(|(id, _)| id.clone()).collect();
    let given = if ids.is_empty() { Vec::new() } else { store.campaign_days(scope.from, scope.to, scope.stores.clone(), Some(ids), false).await? };
    let mut rows = Vec::new();
    for (id, share) in &campaigns {
        let groups = store.control_groups(id.clone(), from_month.clone(), to_month.clone(), scope.to, scope.stores.clone()).await?;
        let treated = groups.iter().find(|g| !g.held_out).cloned().unwrap_or_default();
        let control = groups.iter().find(|g| g.held_out).cloned().unwrap_or(ControlGroup { held_out: true, ..Default::default() });
        let mine = given.iter().filter(|d| d.campaign == *id);
        let discount: i64 = mine.clone().filter(|d| d.currency == money).map(|d| d.discount).sum();
        let points_value: i64 = mine
            .filter(|d| d.currency != money)
            .filter_map(|d| {
                let code = loyd_domain::ids::AssetCode::parse(&d.currency).ok()?;
                Some(program.currency(&code)?.worth(d.accrued, &money_code, ms))
            })
            .sum();
        let uplift = mean(&treated).zip(mean(&control)).map(|(t, c)| t - c);
        let margin = variance_of_mean(&treated)
            .zip(variance_of_mean(&control))
            .and_then(|(t, c)| (t + c).sqrt())
            .map(|se| se * z95());
        let n = Decimal::from(treated.members);
        let cost = Decimal::from(points_value);
        let amount = |d: Option<Decimal>| d.map_or(Cell::Empty, |d| minor(d, ms));
        let low = uplift.zip(margin).map(|(u, m)| u - m);
        let high = uplift.zip(margin).map(|(u, m)| u + m);
        rows.push(vec![
            Cell::Text(id.clone()),
            Cell::Text(money.clone()),
            share.map_or(Cell::Empty, |s| Cell::Ratio(two_places(s * Decimal::ONE_HUNDRED))),
            Cell::Count(treated.members),
            Cell::Count(control.members),
            average(treated.revenue, treated.members, ms).map_or(Cell::Empty, Cell::Amount),
            average(control.revenue, control.members, ms).map_or(Cell::Empty, Cell::Amount),
            ratio(treated.receipts, treated.members),
            ratio(control.receipts, control.members),
            average(treated.revenue, treated.receipts, ms).map_or(Cell::Empty, Cell::Amount),
            average(control.revenue, control.receipts, ms).map_or(Cell::Empty, Cell::Amount),
            amount(uplift),
            amount(low),
            amount(high),
            amount(uplift.map(|u| u * n)),
            Cell::Amount(Minor::new(discount, ms)),
            Cell::Amount(Minor::new(points_value, ms)),
            amount(uplift.map(|u| u * n - cost)),
            amount(low.map(|u| u * n - cost)),
            amount(high.map(|u| u * n - cost)),
        ]);
    }
    Ok(Table {
        report: Report::Effect,
        from: scope.from,
        to: scope.to,
        period: Period::All,
        columns: COLUMNS.to_vec(),
        rows,
        totals: Vec::new(),
        chart: None,
        compare: Vec::new(),
        counted: super::Counting::Now,
    })
}

/// What the net effect's interval says: `pays` when even its low end is above zero,
/// `loses` when even its high end is below, `unclear` otherwise (or unknown).
pub fn verdict(table: &Table, row: &[Cell]) -> &'static str {
    let at = |k: &str| table.column(k).and_then(|i| row.get(i));
    match (at("net_low"), at("net_high")) {
        (Some(Cell::Amount(low)), _) if low.to_decimal() > Decimal::ZERO => "pays",
        (_, Some(Cell::Amount(high))) if high.to_decimal() < Decimal::ZERO => "loses",
        _ => "unclear",
    }
}
