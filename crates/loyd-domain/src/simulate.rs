//! Campaign simulation: what a proposed change would have cost over receipts already
//! committed. Each receipt is computed twice — with the program in force now and with
//! that program plus the change — and the differences are added up: discounts, units
//! accrued (and their value), coupons and gifts issued, customers affected.
//!
//! The customers' history (counters, tiers) is the real one; balances are taken as
//! sufficient for what each receipt originally redeemed, so a change to earning rules
//! is not confused with a change in what customers could spend. Campaign limits and
//! budgets are not consumed during a simulation: the report shows the uncapped cost.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::engine::calculate;
use crate::program::Program;
use crate::receipt::{Calculation, Context, Receipt};

/// The period of a simulation: from the start of day `from` to the end of day `to`
/// (both `YYYY-MM-DD`, inclusive) in time zone `timezone`.
pub fn period(from: &str, to: &str, timezone: &str) -> Result<(jiff::Timestamp, jiff::Timestamp), String> {
    let tz = crate::org::TimeZoneName::parse(timezone).map_err(|e| e.to_string())?;
    let day = |d: &str| d.parse::<jiff::civil::Date>().map_err(|_| format!("'{d}' is not a day (YYYY-MM-DD)"));
    let start = |d: jiff::civil::Date| d.to_zoned_datetime(tz.zone()).map(|z| z.timestamp()).map_err(|e| e.to_string());
    let (first, last) = (day(from)?, day(to)?);
    if first > last {
        return Err(format!("the period starts ({from}) after it ends ({to})"));
    }
    Ok((start(first)?, start(last.tomorrow().map_err(|e| e.to_string())?)?))
}

/// One historical receipt, ready to be computed again.
#[derive(Debug, Clone)]
pub struct SimReceipt {
    pub receipt: Receipt,
    pub context: Context,
}

/// Sums over a set of receipts, in minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimTotals {
    pub receipts: u64,
    pub discount: i64,
    /// Units accrued per currency.
    pub accrued: BTreeMap<String, i64>,
    /// The accrued units at their value, in store money.
    pub accrued_value: i64,
    pub coupons_issued: u64,
    pub gifts: u64,
    /// Discount plus accrued value, per campaign.
    pub by_campaign: BTreeMap<String, i64>,
    /// Receipts the program could not compute (a rule that refuses them).
    pub refused: u64,
}

impl SimTotals {
    fn add(&mut self, calc: &Calculation, program: &Program, store: &crate::receipt::StoreContext) {
        self.receipts += 1;
        self.discount += calc.discount;
        for a in &calc.accrued {
            *self.accrued.entry(a.currency.to_string()).or_default() += a.units;
            let value = program.currency(&a.currency).map_or(0, |c| c.worth(a.units, &store.currency, store.scale));
            self.accrued_value += value;
            *self.by_campaign.entry(a.campaign.to_string()).or_default() += value;
        }
        for l in &calc.lines {
            for a in l.applied.iter().filter(|a| a.kind == crate::receipt::AppliedKind::Discount) {
                *self.by_campaign.entry(a.campaign.to_string()).or_default() += a.amount;
            }
        }
        self.coupons_issued += calc.issued_coupons.len() as u64;
        self.gifts += calc.gifts.len() as u64;
    }

    /// The cost to the retailer: discounts plus points given at their value.
    pub fn cost(&self) -> i64 {
        self.discount + self.accrued_value
    }
}


#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimReport {
    pub baseline: SimTotals,
    pub proposed: SimTotals,
    /// Receipts whose discount, accruals, coupons or gifts differ.
    pub receipts_changed: u64,
    /// Customers with at least one changed receipt.
    pub customers_affected: u64,
}

/// Whether two calculations give the customer something different.
fn differs(a: &Calculation, b: &Calculation) -> bool {
    let accrued = |c: &Calculation| c.accrued.iter().map(|x| (x.currency.clone(), x.units)).collect::<Vec<_>>();
    a.discount != b.discount
        || accrued(a) != accrued(b)
        || a.issued_coupons.len() != b.issued_coupons.len()
        || a.gifts.len() != b.gifts.len()
}

/// Computes every receipt with both programs and adds up the differences.
pub fn simulate(receipts: &[SimReceipt], baseline: &Program, proposed: &Program) -> SimReport {
    let mut report = SimReport::default();
    let mut customers = BTreeSet::new();
    for r in receipts {
        let store = &r.context.store;
        let before = calculate(&r.receipt, &r.context, baseline);
        let after = calculate(&r.receipt, &r.context, proposed);
        match &before {
            Ok(c) => report.baseline.add(c, baseline, store),
            Err(_) => report.baseline.refused += 1,
        }
        match &after {
            Ok(c) => report.proposed.add(c, proposed, store),
            Err(_) => report.proposed.refused += 1,
        }
        let changed = match (&before, &after) {
            (Ok(a), Ok(b)) => differs(a, b),
            (Err(_), Err(_)) => false,
            _ => true,
        };
        if changed {
            report.receipts_changed += 1;
            if let Some(c) = &r.context.customer {
                customers.insert(c.id);
            }
        }
    }
    report.customers_affected = customers.len() as u64;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigDocument;
    use crate::ids::{AssetCode, StoreCode};
    use crate::money::Scale;
    use crate::org::TimeZoneName;
    use crate::receipt::{CustomerContext, ReceiptRequest, StoreContext};
    use serde_json::json;

    fn program(doc: serde_json::Value) -> Program {
        let doc: ConfigDocument = serde_json::from_value(doc).unwrap();
        Program::compile(&doc, 1).unwrap()
    }

    fn receipt(id: &str, customer: Option<i64>, amount: &str) -> SimReceipt {
        let req: ReceiptRequest = serde_json::from_value(json!({
            "receipt_id": id, "at": "2026-03-03T12:00:00+02:00",
            "lines": [{"line": 1, "sku": "X", "groups": ["dairy"], "qty": "1", "amount": amount}]
        }))
        .unwrap();
        let store = StoreContext {
            id: StoreCode::parse("s").unwrap(),
            format: None,
            partner: None,
            timezone: TimeZoneName::utc(),
            currency: AssetCode::parse("EUR").unwrap(),
            scale: Scale::CENTS,
        };
        let customer = customer.map(|id| CustomerContext { id, ..CustomerContext::default() });
        SimReceipt { receipt: req.parse(Scale::CENTS, jiff::Timestamp::UNIX_EPOCH).unwrap(), context: Context::new(store, customer) }
    }

    #[test]
    fn a_proposed_discount_is_costed_over_past_receipts() {
        let base = json!({"currencies": [{"code": "EUR", "kind": "money", "scale": 2},
                                         {"code": "bonus", "kind": "points", "scale": 0, "value": "0.10"}],
                          "campaigns": [{"id": "pts", "rewards": [{"type": "accrue", "currency": "bonus", "per": "1.00", "units": "1"}]}]});
        let mut proposed = base.clone();
        proposed["campaigns"].as_array_mut().unwrap().push(json!({"id": "dairy-10", "customers_only": true,
            "rewards": [{"type": "discount", "percent": "10", "groups": ["dairy"]}]}));
        let receipts = vec![receipt("a", Some(1), "10.00"), receipt("b", Some(2), "20.00"), receipt("c", None, "30.00"), receipt("d", Some(1), "5.00")];
        let report = simulate(&receipts, &program(base), &program(proposed));
        assert_eq!(report.baseline.discount, 0);
        assert_eq!(report.proposed.discount, 100 + 200 + 50);
        assert_eq!(report.proposed.by_campaign["dairy-10"], 350);
        // Points are earned on what is paid: the discount lowers them too.
        assert_eq!(report.baseline.accrued["bonus"], 35);
        assert_eq!(report.proposed.accrued["bonus"], 31);
        assert_eq!((report.receipts_changed, report.customers_affected), (3, 2));
        assert_eq!(report.proposed.cost() - report.baseline.cost(), 350 - 40);
    }
}
