//! Properties of the engine and of returns, on receipts the engine itself computes:
//! a discount is given out to the lines exactly, and however a committed receipt comes
//! back — one item at a time, in weighed parts, several lines at once — the returns
//! reverse exactly what it applied, never more on the way.

use std::collections::BTreeMap;

use loyd_domain::cards::CardState;
use loyd_domain::config::ConfigDocument;
use loyd_domain::engine::calculate;
use loyd_domain::ids::{AccountId, AssetCode, StoreCode, TransferId};
use loyd_domain::money::{Minor, Scale};
use loyd_domain::org::TimeZoneName;
use loyd_domain::program::Program;
use loyd_domain::receipt::{
    BalanceView, Calculation, Context, CustomerContext, GiftCardContext, Receipt, ReceiptRequest, StoreContext,
};
use loyd_domain::returns::{EffectRole, LineEffect, ReceiptEffects, movements};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

fn program(doc: serde_json::Value) -> Program {
    let doc: ConfigDocument = serde_json::from_value(doc).expect("test document parses");
    Program::compile(&doc, 1).expect("test program compiles")
}

fn store() -> StoreContext {
    StoreContext {
        id: StoreCode::parse("s1").unwrap(),
        format: Some(StoreCode::parse("supermarket").unwrap()),
        partner: None,
        timezone: TimeZoneName::parse("Europe/Riga").unwrap(),
        currency: AssetCode::parse("EUR").unwrap(),
        scale: Scale::CENTS,
    }
}

fn money(minor: i64) -> String {
    Minor::new(minor, Scale::CENTS).to_string()
}

/// A quantity in thousandths of an item, as the POS sends it (`"1.5"`, `"0.001"`).
fn qty(milli: i64) -> Decimal {
    Decimal::new(milli, 3).normalize()
}

const GROUPS: [&str; 3] = ["dairy", "misc", "tobacco"];

/// A receipt line for the strategies: amount (minor units), quantity (thousandths),
/// goods group (index into [`GROUPS`]).
type LineSpec = (i64, i64, usize);

fn line_spec() -> impl Strategy<Value = LineSpec> {
    (
        prop_oneof![1 => Just(0i64), 6 => 0i64..20_000, 1 => 0i64..100_000_000],
        // Counted goods (whole items) or weighed goods (to the gram).
        prop_oneof![1 => (1i64..6).prop_map(|n| n * 1000), 1 => 1i64..5_000],
        0usize..GROUPS.len(),
    )
}

fn receipt(lines: &[LineSpec], redeem: Option<&str>, gift: Option<i64>) -> Receipt {
    let lines: Vec<serde_json::Value> = lines
        .iter()
        .enumerate()
        .map(|(i, (amount, milli, group))| {
            json!({"line": i + 1, "sku": format!("S{i}"), "groups": [GROUPS[*group]],
                   "qty": qty(*milli).to_string(), "amount": money(*amount)})
        })
        .collect();
    let redeem: Vec<serde_json::Value> = redeem.iter().map(|a| json!({"currency": "bonus", "amount": a})).collect();
    let gift: Vec<serde_json::Value> = gift.iter().map(|g| json!({"number": "6000000000019", "amount": money(*g)})).collect();
    let request: ReceiptRequest = serde_json::from_value(json!({
        "receipt_id": "r1", "at": "2026-03-03T12:00:00+02:00", "customer": {"card": "2770000000017"},
        "lines": lines, "redeem": redeem, "gift_cards": gift
    }))
    .unwrap();
    request.parse(Scale::CENTS, jiff::Timestamp::UNIX_EPOCH).unwrap()
}

// ---- discounts ----------------------------------------------------------------------

proptest! {
    /// A fixed-amount discount on some goods, at most what those goods cost, is spread
    /// over their lines so that the parts sum exactly to it (or to the receipt-wide
    /// cap, when one is lower); no line gets a negative part or more than its amount,
    /// and no other line gets any.
    #[test]
    fn a_fixed_discount_is_spread_over_its_lines_exactly_and_never_below_zero(
        lines in proptest::collection::vec(line_spec(), 1..25),
        per_mille in 0i64..=1000,
        cap in proptest::option::of(1i64..50_000),
    ) {
        let dairy: i64 = lines.iter().filter(|l| GROUPS[l.2] == "dairy").map(|l| l.0).sum();
        // Any discount from 0.01 to the dairy lines' total (0.01 when there is none).
        let wanted = (dairy * per_mille / 1000).max(1);
        let mut doc = json!({
            "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
            "campaigns": [{"id": "off", "rewards": [{"type": "discount", "amount": money(wanted), "groups": ["dairy"]}]}]
        });
        if let Some(cap) = cap {
            doc["restrictions"] = json!({"max_discount_amount": money(cap)});
        }
        let c = calculate(&receipt(&lines, None, None), &Context::new(store(), None), &program(doc)).unwrap();
        let expected = wanted.min(dairy).min(cap.unwrap_or(i64::MAX));
        prop_assert_eq!(c.discount, expected);
        prop_assert_eq!(c.lines.iter().map(|l| l.discount).sum::<i64>(), expected);
        for (l, spec) in c.lines.iter().zip(&lines) {
            prop_assert!(l.discount >= 0 && l.discount <= l.amount, "line {}: {} off {}", l.line, l.discount, l.amount);
            if GROUPS[spec.2] != "dairy" {
                prop_assert_eq!(l.discount, 0);
            }
            prop_assert_eq!(l.final_amount, l.amount - l.discount);
            let applied: i64 = l.applied.iter().map(|a| a.amount).sum();
            prop_assert_eq!(applied, l.discount);
        }
    }
}

// ---- returns ------------------------------------------------------------------------

/// What committing `calc` records for returns, by the same code `loyd-store` uses; the
/// transfers get ids and accounts of their own here (returns do not look at them).
fn effects_of(calc: &Calculation, store: &StoreContext) -> ReceiptEffects {
    let moves = movements(calc, &store.currency);
    let made: Vec<_> = (0..moves.len()).map(|k| (TransferId::parse(format!("rc:t{k}")).unwrap(), AccountId(1), AccountId(2))).collect();
    ReceiptEffects::of(calc, &moves, &made)
}

/// Points and stars, discounts on dairy and on the whole receipt, a cap on the points a
/// receipt may earn.
fn returns_program(percent: u32, amount_off: i64, max_points: Option<i64>) -> Program {
    let mut doc = json!({
        "currencies": [
            {"code": "EUR", "kind": "money", "scale": 2},
            {"code": "bonus", "kind": "points", "scale": 0, "value": "0.10",
             "redeem": {"max_share": "0.50", "exclude_groups": ["tobacco"]}},
            {"code": "stars", "kind": "points", "scale": 2}
        ],
        "campaigns": [
            {"id": "dairy-off", "priority": 20,
             "rewards": [{"type": "discount", "percent": percent.to_string(), "groups": ["dairy"]}]},
            {"id": "amount-off", "priority": 10,
             "rewards": [{"type": "discount", "amount": money(amount_off), "exclude_groups": ["tobacco"]}]},
            {"id": "points", "rewards": [{
                "type": "accrue", "currency": "bonus", "per": "1.00", "units": "1",
                "exceptions": [{"groups": ["dairy"], "per": "1.00", "units": "2"}, {"groups": ["tobacco"], "fixed": "0"}]
            }]},
            {"id": "stars", "rewards": [{"type": "accrue", "currency": "stars", "per_item": "0.37"}]}
        ]
    });
    if let Some(max) = max_points {
        doc["restrictions"] = json!({"max_accrual": [{"currency": "bonus", "units": max.to_string()}]});
    }
    program(doc)
}

/// A committed receipt to return, as the strategy draws it.
#[derive(Debug, Clone)]
struct Sale {
    lines: Vec<LineSpec>,
    percent: u32,
    amount_off: i64,
    max_points: Option<i64>,
    balance: i64,
    redeem: Option<&'static str>,
    /// Thousandths of what is due to pay with a gift card, if any; whether it is a
    /// single-use card (its remainder burned).
    gift: Option<(i64, bool)>,
}

fn sale() -> impl Strategy<Value = Sale> {
    (
        proptest::collection::vec(line_spec(), 1..8),
        0u32..=100,
        1i64..5_000,
        proptest::option::of(1i64..2_000),
        0i64..20_000,
        prop_oneof![Just(None), Just(Some("max")), Just(Some("25"))],
        proptest::option::of((1i64..=1000, any::<bool>())),
    )
        .prop_map(|(lines, percent, amount_off, max_points, balance, redeem, gift)| Sale {
            lines,
            percent,
            amount_off,
            max_points,
            balance,
            redeem,
            gift,
        })
}

const GIFT_AVAILABLE: i64 = 1_000_000_000;

impl Sale {
    fn context(&self) -> Context {
        let customer = CustomerContext {
            id: 7,
            card: Some("2770000000017".into()),
            balances: [(AssetCode::parse("bonus").unwrap(), BalanceView { available: self.balance, pending: 0 })].into(),
            ..CustomerContext::default()
        };
        let mut ctx = Context::new(store(), Some(customer));
        ctx.gift_cards.push(GiftCardContext {
            number: "6000000000019".into(),
            currency: AssetCode::parse("EUR").unwrap(),
            state: CardState::Active,
            valid_until: None,
            single_use: self.gift.is_some_and(|g| g.1),
            available: GIFT_AVAILABLE,
        });
        ctx
    }

    /// The calculation the receipt was committed with, or `None` when the engine refuses
    /// it (a redemption of 25 points the customer does not have, say).
    fn commit(&self) -> Option<Calculation> {
        let p = returns_program(self.percent, self.amount_off, self.max_points);
        let ctx = self.context();
        let calc = calculate(&receipt(&self.lines, self.redeem, None), &ctx, &p).ok()?;
        let Some((per_mille, _)) = self.gift else { return Some(calc) };
        let gift = calc.to_pay * per_mille / 1000;
        if gift == 0 {
            return Some(calc);
        }
        calculate(&receipt(&self.lines, self.redeem, Some(gift)), &ctx, &p).ok()
    }
}

/// Totals of what returns gave back so far.
#[derive(Debug, Default)]
struct Returned {
    reverse: Vec<i64>,
    per_line: BTreeMap<u32, Vec<i64>>,
    refund: i64,
    refund_per_line: BTreeMap<u32, i64>,
    paid_back: i64,
    qty: BTreeMap<u32, Decimal>,
    returns: usize,
    complete: bool,
}

/// Plans one return, checks it never takes the totals past the receipt, and adds it up.
fn take_back(e: &ReceiptEffects, so_far: &mut Returned, request: &[(u32, Decimal)]) -> Result<(), TestCaseError> {
    let plan = e.plan_return(&so_far.qty, request).map_err(|err| TestCaseError::fail(format!("{request:?}: {err}")))?;
    so_far.returns += 1;
    prop_assert_eq!(plan.reverse.len(), e.transfers.len());
    for (k, t) in e.transfers.iter().enumerate() {
        prop_assert!(plan.reverse[k] >= 0, "return {} reverses {} of transfer {}", so_far.returns, plan.reverse[k], k);
        so_far.reverse[k] += plan.reverse[k];
        prop_assert!(
            so_far.reverse[k] <= t.amount,
            "after return {} ({request:?}) transfer {k} ({:?}) is reversed {} of {}",
            so_far.returns,
            t.role,
            so_far.reverse[k],
            t.amount
        );
        if matches!(t.role, EffectRole::Accrual | EffectRole::Redemption) {
            // Per line, the parts of a per-line transfer add up to what it reverses.
            let by_lines: i64 = plan.line_reversals.values().map(|parts| parts[k]).sum();
            prop_assert_eq!(by_lines, plan.reverse[k]);
        }
    }
    for (line, parts) in &plan.line_reversals {
        let total = so_far.per_line.entry(*line).or_insert_with(|| vec![0; e.transfers.len()]);
        for (t, p) in total.iter_mut().zip(parts) {
            prop_assert!(*p >= 0);
            *t += p;
        }
    }
    for (line, q, refund) in &plan.lines {
        prop_assert!(*q > Decimal::ZERO && *refund >= 0);
        so_far.refund += refund;
        *so_far.refund_per_line.entry(*line).or_default() += refund;
    }
    prop_assert!(plan.paid_back >= 0);
    so_far.paid_back += plan.paid_back;
    let paid: i64 = e.lines.iter().map(|l| l.final_amount).sum();
    let after_discounts: i64 = e.lines.iter().map(|l| l.paid).sum();
    prop_assert!(so_far.refund <= paid, "refunded {} of {}", so_far.refund, paid);
    prop_assert!(so_far.paid_back <= after_discounts, "counters given back {} of {}", so_far.paid_back, after_discounts);
    let all_back = e.lines.iter().all(|l| plan.returned_after.get(&l.line).is_some_and(|q| *q == l.qty));
    prop_assert_eq!(plan.complete, all_back, "after return {} ({:?})", so_far.returns, request);
    so_far.qty = plan.returned_after;
    so_far.complete = plan.complete;
    Ok(())
}

proptest! {
    /// A receipt with discounts, accruals in two currencies (one capped), maybe a
    /// redemption and a gift card payment, returned by an arbitrary sequence of partial
    /// returns and then the rest: no return ever takes back more than the receipt
    /// applied, and once everything is back, every transfer is reversed exactly (the
    /// customer's balances are as before the receipt), the refunds add up to what was
    /// paid, and the activity counters get back exactly what the receipt added.
    #[test]
    fn any_sequence_of_partial_returns_reverses_exactly_what_the_receipt_applied(
        sale in sale(),
        steps in proptest::collection::vec((0usize..8, 1i64..3_000, any::<bool>()), 0..25),
        rest_line_by_line in any::<bool>(),
    ) {
        let Some(calc) = sale.commit() else { return Ok(()) };
        let e = effects_of(&calc, &store());
        // The effects record what the engine computed, line by line.
        for (k, t) in e.transfers.iter().enumerate() {
            if matches!(t.role, EffectRole::Accrual | EffectRole::Redemption) {
                prop_assert_eq!(e.lines.iter().map(|l| l.shares[k]).sum::<i64>(), t.amount, "transfer {} ({:?})", k, t.role);
            }
        }

        let mut so_far = Returned { reverse: vec![0; e.transfers.len()], ..Returned::default() };
        let left = |so_far: &Returned, l: &LineEffect| l.qty - so_far.qty.get(&l.line).copied().unwrap_or_default();
        // Partial returns: each names some quantity of a line, maybe together with the
        // step before it when that is another line.
        let mut request: Vec<(u32, Decimal)> = Vec::new();
        for (i, milli, join) in steps {
            let l = &e.lines[i % e.lines.len()];
            if !request.is_empty() && (!join || request.iter().any(|(n, _)| *n == l.line)) {
                take_back(&e, &mut so_far, &request)?;
                request.clear();
            }
            let q = qty(milli).min(left(&so_far, l));
            if q > Decimal::ZERO {
                request.push((l.line, q));
            }
        }
        if !request.is_empty() {
            take_back(&e, &mut so_far, &request)?;
        }
        // Then whatever is left: at once, or line by line.
        let rest: Vec<(u32, Decimal)> =
            e.lines.iter().map(|l| (l.line, left(&so_far, l))).filter(|(_, q)| *q > Decimal::ZERO).collect();
        if rest_line_by_line {
            for r in &rest {
                take_back(&e, &mut so_far, std::slice::from_ref(r))?;
            }
        } else if !rest.is_empty() {
            take_back(&e, &mut so_far, &rest)?;
        }
        prop_assert!(e.lines.iter().all(|l| left(&so_far, l) == Decimal::ZERO));
        prop_assert!(so_far.complete, "the last return completes the receipt");

        // Everything is back: every reversible transfer is reversed exactly, breakage
        // and conversions not at all.
        for (k, t) in e.transfers.iter().enumerate() {
            let expected = match t.role {
                EffectRole::Accrual | EffectRole::Redemption | EffectRole::GiftCard => t.amount,
                EffectRole::Breakage | EffectRole::Conversion => 0,
            };
            prop_assert_eq!(so_far.reverse[k], expected, "transfer {} ({:?})", k, t.role);
        }
        // Line by line too.
        for l in &e.lines {
            let reversed = so_far.per_line.get(&l.line).cloned().unwrap_or_else(|| vec![0; e.transfers.len()]);
            for (k, t) in e.transfers.iter().enumerate() {
                if matches!(t.role, EffectRole::Accrual | EffectRole::Redemption) {
                    prop_assert_eq!(reversed[k], l.shares[k], "line {} transfer {}", l.line, k);
                }
            }
            prop_assert_eq!(so_far.refund_per_line.get(&l.line).copied().unwrap_or(0), l.final_amount, "line {} refund", l.line);
        }
        prop_assert_eq!(so_far.refund, calc.total - calc.discount - calc.redeemed_value);
        prop_assert_eq!(so_far.paid_back, calc.total - calc.discount);

        // The customer's balances: before the receipt, after it, and after the returns.
        let mut balances: BTreeMap<AssetCode, i64> = [(AssetCode::parse("bonus").unwrap(), sale.balance)].into();
        for b in &calc.balances {
            prop_assert_eq!(
                b.available + b.pending,
                balances.get(&b.currency).copied().unwrap_or(0)
                    - calc.redeemed.iter().filter(|r| r.currency == b.currency).map(|r| r.units).sum::<i64>()
                    + calc.accrued.iter().filter(|a| a.currency == b.currency).map(|a| a.units).sum::<i64>(),
                "{} after the receipt", b.currency
            );
        }
        let mut gift_card = GIFT_AVAILABLE;
        for (k, t) in e.transfers.iter().enumerate() {
            let (applied, reversed) = (t.amount, so_far.reverse[k]);
            match t.role {
                EffectRole::Redemption => *balances.entry(t.currency.clone()).or_default() += reversed - applied,
                EffectRole::Accrual => *balances.entry(t.currency.clone()).or_default() += applied - reversed,
                EffectRole::GiftCard => gift_card += reversed - applied,
                EffectRole::Breakage | EffectRole::Conversion => {}
            }
        }
        prop_assert_eq!(balances.get("bonus").copied(), Some(sale.balance), "bonus after the returns");
        prop_assert_eq!(balances.get("stars").copied().unwrap_or(0), 0, "stars after the returns");
        if !calc.gift_cards.iter().any(|g| g.burned > 0) {
            prop_assert_eq!(gift_card, GIFT_AVAILABLE, "gift card after the returns");
        }
    }
}
