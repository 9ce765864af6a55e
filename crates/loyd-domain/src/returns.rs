//! Returns: what a (partial) return of goods reverses, computed from what the receipt
//! did ([`ReceiptEffects`]) and what was returned before.
//!
//! Every effect is reversed in proportion to the returned share of each line, by
//! **cumulative targets**: after returns of `q` of a line's `Q` items, the part of an
//! effect `s` reversed is `floor(s × q / Q)`, and exactly `s` once `q = Q`. Each return
//! reverses the difference between the targets after and before it. So however the
//! goods come back — one by one, in halves, all at once — the reversals never exceed
//! the receipt, and once everything is back every balance is exactly as before.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, AssetCode, TransferId};
use crate::ledger::LotTerms;
use crate::receipt::{Calculation, ReceiptError};

/// What a receipt's transfer did, for reversing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EffectRole {
    /// Units accrued to the customer: reversed by taking them back.
    Accrual,
    /// Units the customer redeemed: reversed by giving them back.
    Redemption,
    /// Gift card value paid: reversed by refunding the card.
    GiftCard,
    /// A single-use card's burned remainder: never reversed.
    Breakage,
    /// Units converted into another currency ("10 points become 1.00"): not reversed.
    Conversion,
}

/// One transfer made by a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectTransfer {
    pub id: TransferId,
    pub role: EffectRole,
    pub currency: AssetCode,
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: i64,
    /// The gift card, for gift card effects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
}

/// One line as the receipt left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineEffect {
    pub line: u32,
    pub qty: Decimal,
    /// What the customer paid for the line by money or gift card (store minor units).
    pub final_amount: i64,
    /// The line after discounts (store minor units): what activity counters count.
    #[serde(default)]
    pub paid: i64,
    /// This line's part of each per-line transfer (accruals and redemptions), by index
    /// into [`ReceiptEffects::transfers`]; 0 for receipt-level ones.
    pub shares: Vec<i64>,
}

/// Everything a committed receipt did, kept with it so returns can undo it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptEffects {
    pub lines: Vec<LineEffect>,
    pub transfers: Vec<EffectTransfer>,
    /// Usage the receipt consumed (limits, budgets, coupon uses): given back when the
    /// receipt is cancelled or fully returned.
    #[serde(default)]
    pub charges: Vec<crate::receipt::UsageCharge>,
}

/// Who is on one side of a receipt's transfer, before accounts are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// The customer's account in this currency.
    Customer(AssetCode),
    /// The account of the receipt's gift card payment of this index.
    GiftCard(usize),
    /// A system account (`issuance`, `redemption`, `breakage`) in this currency.
    System(&'static str, AssetCode),
}

/// One transfer that committing a receipt makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// Unique within the receipt (`r0`, `a0`, `g0`, `b0`, `cf0`, `ct0`); with the
    /// receipt's scope it makes the transfer's id.
    pub key: String,
    pub role: EffectRole,
    /// The transfer code the ledger records.
    pub code: &'static str,
    pub currency: AssetCode,
    pub amount: i64,
    pub from: Party,
    pub to: Party,
    /// The gift card, for gift card payments and breakage.
    pub card: Option<String>,
    /// Accruals: the terms of the lot they open.
    pub lot: Option<LotTerms>,
}

/// The transfers committing `calc` makes, in the order its effects record them:
/// redemptions, then accruals (so a line's shares index them by position), then each
/// gift card payment and its breakage, then conversions.
pub fn movements(calc: &Calculation, store_currency: &AssetCode) -> Vec<Movement> {
    let mut out = Vec::new();
    let mut push = |key: String, role, code, currency: &AssetCode, amount, from, to, card, lot| {
        out.push(Movement { key, role, code, currency: currency.clone(), amount, from, to, card, lot });
    };
    for (k, r) in calc.redeemed.iter().enumerate() {
        let (from, to) = (Party::Customer(r.currency.clone()), Party::System("redemption", r.currency.clone()));
        push(format!("r{k}"), EffectRole::Redemption, "redemption", &r.currency, r.units, from, to, None, None);
    }
    for (k, a) in calc.accrued.iter().enumerate() {
        let (from, to) = (Party::System("issuance", a.currency.clone()), Party::Customer(a.currency.clone()));
        push(format!("a{k}"), EffectRole::Accrual, "accrual", &a.currency, a.units, from, to, None, Some(a.terms));
    }
    for (k, g) in calc.gift_cards.iter().enumerate() {
        let card = Some(g.number.clone());
        let sink = Party::System("redemption", store_currency.clone());
        push(format!("g{k}"), EffectRole::GiftCard, "gift_card_payment", store_currency, g.amount, Party::GiftCard(k), sink, card.clone(), None);
        if g.burned > 0 {
            let sink = Party::System("breakage", store_currency.clone());
            push(format!("b{k}"), EffectRole::Breakage, "breakage", store_currency, g.burned, Party::GiftCard(k), sink, card, None);
        }
    }
    for (k, c) in calc.conversions.iter().enumerate() {
        let (from, sink) = (Party::Customer(c.from.clone()), Party::System("redemption", c.from.clone()));
        push(format!("cf{k}"), EffectRole::Conversion, "conversion", &c.from, c.taken, from, sink, None, None);
        let (source, to) = (Party::System("issuance", c.to.clone()), Party::Customer(c.to.clone()));
        push(format!("ct{k}"), EffectRole::Conversion, "conversion", &c.to, c.given, source, to, None, None);
    }
    out
}

impl ReceiptEffects {
    /// What committing `calc` did, given the transfer (id, debit, credit) made for each
    /// of its [`movements`], in their order.
    pub fn of(calc: &Calculation, movements: &[Movement], transfers: &[(TransferId, AccountId, AccountId)]) -> ReceiptEffects {
        debug_assert_eq!(movements.len(), transfers.len());
        let transfers: Vec<EffectTransfer> = movements
            .iter()
            .zip(transfers)
            .map(|(m, (id, debit, credit))| EffectTransfer {
                id: id.clone(),
                role: m.role,
                currency: m.currency.clone(),
                debit: *debit,
                credit: *credit,
                amount: m.amount,
                card: m.card.clone(),
            })
            .collect();
        let redemptions = calc.redeemed.len();
        let lines = calc
            .lines
            .iter()
            .map(|l| {
                let mut shares = vec![0i64; transfers.len()];
                for (k, u) in l.redeemed_units.iter().enumerate() {
                    shares[k] = *u;
                }
                for (k, u) in l.accrued_units.iter().enumerate() {
                    shares[redemptions + k] = *u;
                }
                LineEffect { line: l.line, qty: l.qty, final_amount: l.final_amount, paid: l.amount - l.discount, shares }
            })
            .collect();
        ReceiptEffects { lines, transfers, charges: calc.charges.clone() }
    }
}

/// What one return reverses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnPlan {
    /// Per transfer (same index as the effects): the amount to reverse now.
    pub reverse: Vec<i64>,
    /// Per returned line: quantity and the refund value (its share of `final_amount`).
    pub lines: Vec<(u32, Decimal, i64)>,
    /// Per line, per transfer: the part reversed now (for the response).
    pub line_reversals: BTreeMap<u32, Vec<i64>>,
    /// Cumulative returned quantity per line after this return.
    pub returned_after: BTreeMap<u32, Decimal>,
    /// The part of the lines' paid amounts (after discounts) this return gives back.
    pub paid_back: i64,
    /// Whether everything has now been returned.
    pub complete: bool,
}

/// `floor(part × q / whole)`, or `part` exactly when `q = whole`.
fn target(part: i64, q: Decimal, whole: Decimal) -> i64 {
    if q >= whole {
        return part;
    }
    let exact = Decimal::from(part) * q / whole;
    i64::try_from(exact.floor().mantissa()).unwrap_or(0)
}

impl ReceiptEffects {
    /// Plans a return of `request` (line, quantity) given what was returned before.
    pub fn plan_return(
        &self,
        returned_before: &BTreeMap<u32, Decimal>,
        request: &[(u32, Decimal)],
    ) -> Result<ReturnPlan, ReceiptError> {
        if request.is_empty() {
            return Err(ReceiptError::invalid("a return names at least one line"));
        }
        let mut after = returned_before.clone();
        let mut lines = Vec::new();
        for (i, (line, qty)) in request.iter().enumerate() {
            if request[..i].iter().any(|(l, _)| l == line) {
                return Err(ReceiptError::invalid(format!("line {line} appears twice in the return")));
            }
            let effect = self
                .lines
                .iter()
                .find(|l| l.line == *line)
                .ok_or_else(|| ReceiptError::invalid(format!("the receipt has no line {line}")))?;
            if *qty <= Decimal::ZERO || qty.normalize().scale() > 3 {
                return Err(ReceiptError::invalid(format!("line {line}: qty must be above 0 with at most 3 decimals")));
            }
            let before = returned_before.get(line).copied().unwrap_or_default();
            if before + qty > effect.qty {
                return Err(ReceiptError::ReturnExceedsReceipt(format!(
                    "line {line}: {} bought, {before} already returned, {qty} more asked",
                    effect.qty
                )));
            }
            after.insert(*line, before + qty);
        }

        let n = self.transfers.len();
        let mut reverse = vec![0i64; n];
        let mut line_reversals = BTreeMap::new();
        let (mut refund_before, mut refund_after) = (0i64, 0i64);
        let mut paid_back = 0i64;
        for l in &self.lines {
            let q0 = returned_before.get(&l.line).copied().unwrap_or_default();
            let q1 = after.get(&l.line).copied().unwrap_or_default();
            paid_back += target(l.paid, q1, l.qty) - target(l.paid, q0, l.qty);
            refund_before += target(l.final_amount, q0, l.qty);
            let refund = target(l.final_amount, q1, l.qty);
            refund_after += refund;
            if q1 == q0 {
                continue;
            }
            let mut parts = vec![0i64; n];
            for (k, share) in l.shares.iter().enumerate().take(n) {
                parts[k] = target(*share, q1, l.qty) - target(*share, q0, l.qty);
                reverse[k] += parts[k];
            }
            lines.push((l.line, q1 - q0, refund - target(l.final_amount, q0, l.qty)));
            line_reversals.insert(l.line, parts);
        }
        let complete = self.lines.iter().all(|l| after.get(&l.line).copied().unwrap_or_default() >= l.qty);
        let paid: i64 = self.lines.iter().map(|l| l.final_amount).sum();
        for (k, t) in self.transfers.iter().enumerate() {
            if t.role != EffectRole::GiftCard {
                continue;
            }
            let share_of = |refund: i64, all: bool| {
                if all || paid == 0 {
                    if all { t.amount } else { 0 }
                } else {
                    i64::try_from(i128::from(t.amount) * i128::from(refund) / i128::from(paid)).unwrap_or(0)
                }
            };
            let was_complete = self.lines.iter().all(|l| returned_before.get(&l.line).copied().unwrap_or_default() >= l.qty);
            reverse[k] = share_of(refund_after, complete) - share_of(refund_before, was_complete);
        }
        Ok(ReturnPlan { reverse, lines, line_reversals, returned_after: after, paid_back, complete })
    }
}

/// `POST /v1/pos/returns`, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnRequest {
    pub return_id: String,
    pub receipt_id: String,
    pub lines: Vec<ReturnLineRequest>,
    /// The terminal that sold the goods, when it is not the one taking them back
    /// (receipt ids are unique per terminal). Default: this terminal, then any
    /// terminal of this store with that receipt id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<String>,
}

impl ReturnRequest {
    /// Checks the ids a return names, before anything is looked up by them.
    pub fn check_ids(&self) -> Result<(), ReceiptError> {
        ReceiptError::client_id("return_id", &self.return_id)?;
        check_receipt_ref(&self.receipt_id, self.terminal.as_deref())
    }
}

/// Checks how a return or a cancellation names its receipt: the receipt id and, when
/// given, the selling terminal.
pub fn check_receipt_ref(receipt_id: &str, terminal: Option<&str>) -> Result<(), ReceiptError> {
    ReceiptError::client_id("receipt_id", receipt_id)?;
    if let Some(t) = terminal {
        crate::ids::TerminalCode::parse(t).map_err(|e| ReceiptError::invalid(format!("terminal: {e}")))?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnLineRequest {
    pub line: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub qty: crate::receipt::DecStr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReversedLineOut {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: AssetCode,
    /// `accrual` (taken back) or `redemption` (given back).
    pub kind: EffectRole,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnLineOut {
    pub line: u32,
    pub qty: String,
    /// The part of what the customer paid for the line that the return gives back.
    pub refund: String,
    pub reversed: Vec<ReversedLineOut>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReversedOut {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: AssetCode,
    /// Accrued units taken back from the customer.
    pub accrual_taken: String,
    /// Accrued units that could not be taken back because the customer had already
    /// spent them: written off (policy in docs/pos-integration.md).
    pub accrual_unrecovered: String,
    /// Redeemed units given back to the customer.
    pub redemption_returned: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GiftRefundOut {
    pub number: String,
    pub amount: String,
}

/// The response of a return or a cancellation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_id: Option<String>,
    pub receipt_id: String,
    /// `returned` (some goods back), `cancelled` (the receipt voided).
    pub status: String,
    /// Value of the returned goods the customer had paid (money and gift cards).
    pub refund: String,
    /// The part of `refund` that goes back onto gift cards.
    pub gift_cards: Vec<GiftRefundOut>,
    /// The rest, for the cashier to pay back by ordinary means.
    pub to_refund: String,
    pub lines: Vec<ReturnLineOut>,
    pub reversed: Vec<ReversedOut>,
    pub balances: Vec<crate::receipt::BalanceOut>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(role: EffectRole, amount: i64) -> EffectTransfer {
        EffectTransfer {
            id: TransferId::parse("x").unwrap(),
            role,
            currency: AssetCode::parse("bonus").unwrap(),
            debit: AccountId(1),
            credit: AccountId(2),
            amount,
            card: None,
        }
    }

    fn effects() -> ReceiptEffects {
        // Three lines; an accrual of 28 (14, 14, 0), a redemption of 90 (30, 60, 0), a
        // gift card payment of 5.00.
        ReceiptEffects {
            lines: vec![
                LineEffect { line: 1, qty: Decimal::from(2), final_amount: 700, paid: 1000, shares: vec![14, 30, 0] },
                LineEffect { line: 2, qty: Decimal::from(1), final_amount: 1400, paid: 2000, shares: vec![14, 60, 0] },
                LineEffect { line: 3, qty: Decimal::new(15, 1), final_amount: 500, paid: 500, shares: vec![0, 0, 0] },
            ],
            transfers: vec![t(EffectRole::Accrual, 28), t(EffectRole::Redemption, 90), t(EffectRole::GiftCard, 500)],
            charges: vec![],
        }
    }

    #[test]
    fn a_partial_return_then_the_rest_reverses_everything_exactly() {
        let e = effects();
        let first = e.plan_return(&BTreeMap::new(), &[(1, Decimal::ONE)]).unwrap();
        assert_eq!(first.reverse, vec![7, 15, 67]);
        assert_eq!(first.lines, vec![(1, Decimal::ONE, 350)]);
        assert!(!first.complete);
        let rest = e
            .plan_return(&first.returned_after, &[(1, Decimal::ONE), (2, Decimal::ONE), (3, Decimal::new(15, 1))])
            .unwrap();
        assert!(rest.complete);
        let total: Vec<i64> = first.reverse.iter().zip(&rest.reverse).map(|(a, b)| a + b).collect();
        assert_eq!(total, vec![28, 90, 500]);
    }

    #[test]
    fn returning_more_than_was_bought_is_refused() {
        let e = effects();
        let err = e.plan_return(&BTreeMap::new(), &[(2, Decimal::from(2))]).unwrap_err();
        assert_eq!(err.code(), "return_exceeds_receipt");
        let first = e.plan_return(&BTreeMap::new(), &[(3, Decimal::ONE)]).unwrap();
        let err = e.plan_return(&first.returned_after, &[(3, Decimal::ONE)]).unwrap_err();
        assert_eq!(err.code(), "return_exceeds_receipt");
        assert_eq!(e.plan_return(&BTreeMap::new(), &[(9, Decimal::ONE)]).unwrap_err().code(), "validation_failed");
    }

    proptest! {
        /// Any sequence of partial returns reverses, in total, exactly the receipt's
        /// effects once everything is back, and never more at any step.
        #[test]
        fn any_sequence_of_partial_returns_restores_exactly(
            qtys in proptest::collection::vec(1i64..6, 1..5),
            shares in proptest::collection::vec((0i64..500, 0i64..500, 0i64..5000), 5),
            steps in proptest::collection::vec((0usize..5, 1i64..4), 1..20),
            gift in 0i64..3000,
        ) {
            let lines: Vec<LineEffect> = qtys.iter().enumerate().map(|(i, q)| LineEffect {
                line: i as u32 + 1,
                qty: Decimal::from(*q),
                final_amount: shares[i].2,
                paid: shares[i].2,
                shares: vec![shares[i].0, shares[i].1, 0],
            }).collect();
            let paid: i64 = lines.iter().map(|l| l.final_amount).sum();
            let e = ReceiptEffects {
                transfers: vec![
                    t(EffectRole::Accrual, lines.iter().map(|l| l.shares[0]).sum()),
                    t(EffectRole::Redemption, lines.iter().map(|l| l.shares[1]).sum()),
                    t(EffectRole::GiftCard, gift.min(paid)),
                ],
                lines,
                charges: vec![],
            };
            let mut returned = BTreeMap::new();
            let mut total = [0i64; 3];
            for (line, qty) in steps {
                let line = (line % e.lines.len()) as u32 + 1;
                let left = e.lines[line as usize - 1].qty - returned.get(&line).copied().unwrap_or_default();
                let qty = Decimal::from(qty).min(left);
                if qty <= Decimal::ZERO { continue; }
                let plan = e.plan_return(&returned, &[(line, qty)]).unwrap();
                for (k, t) in total.iter_mut().enumerate() {
                    prop_assert!(plan.reverse[k] >= 0);
                    *t += plan.reverse[k];
                    prop_assert!(*t <= e.transfers[k].amount);
                }
                returned = plan.returned_after;
            }
            // Return whatever is left: everything must now be reversed exactly.
            let rest: Vec<(u32, Decimal)> = e.lines.iter()
                .map(|l| (l.line, l.qty - returned.get(&l.line).copied().unwrap_or_default()))
                .filter(|(_, q)| *q > Decimal::ZERO).collect();
            if !rest.is_empty() {
                let plan = e.plan_return(&returned, &rest).unwrap();
                prop_assert!(plan.complete);
                for (t, r) in total.iter_mut().zip(&plan.reverse) { *t += r; }
            }
            for (t, effect) in total.iter().zip(&e.transfers) {
                prop_assert_eq!(*t, effect.amount);
            }
        }

        /// Returns of weighed goods (to the gram) and counted ones, up to the largest
        /// quantities and amounts a receipt may carry, several lines per return, a receipt paid partly with several gift cards and with a burned
        /// remainder: no return reverses, refunds or gives back to the counters more
        /// than the receipt applied, the gift cards never get back more than the goods
        /// returned were worth, and once everything is back each transfer is reversed
        /// exactly (breakage not at all), line by line, and every refund and counter adds
        /// up exactly to what the receipt paid.
        #[test]
        fn returns_in_any_split_and_order_reverse_exactly_what_the_receipt_applied(
            specs in proptest::collection::vec(
                (
                    prop_oneof![4 => 1i64..=6_000, 1 => 1i64..=1_000_000_000],
                    prop_oneof![4 => 0i64..1_000_000, 1 => 0i64..i64::MAX / 64],
                    0i64..100_000,
                    prop_oneof![4 => 0i64..1_000_000_000, 1 => 0i64..i64::MAX / 64],
                    0i64..1_000_000,
                ),
                1..6,
            ),
            gifts in proptest::collection::vec(1i64..=1000, 0..4),
            burned in 0i64..1_000,
            steps in proptest::collection::vec((0usize..6, 1i64..6_000, any::<bool>()), 0..30),
        ) {
            // Per line: quantity in thousandths, what the customer paid (money and gift
            // cards), the discount-free part redeemed with points, its accrual, its
            // redemption.
            let paid: i64 = specs.iter().map(|s| s.1).sum();
            let mut transfers = vec![
                t(EffectRole::Accrual, specs.iter().map(|s| s.3).sum()),
                t(EffectRole::Redemption, specs.iter().map(|s| s.4).sum()),
            ];
            for pm in &gifts {
                // Together the cards pay at most what was due.
                let share = i128::from(paid) * i128::from(*pm) / 1000 / gifts.len() as i128;
                transfers.push(t(EffectRole::GiftCard, i64::try_from(share).unwrap()));
            }
            if !gifts.is_empty() {
                transfers.push(t(EffectRole::Breakage, burned));
            }
            let n = transfers.len();
            let e = ReceiptEffects {
                lines: specs.iter().enumerate().map(|(i, (milli, final_amount, redeemed, accrued, redemption))| {
                    let mut shares = vec![0; n];
                    shares[0] = *accrued;
                    shares[1] = *redemption;
                    LineEffect {
                        line: i as u32 + 1,
                        qty: Decimal::new(*milli, 3),
                        final_amount: *final_amount,
                        paid: final_amount + redeemed,
                        shares,
                    }
                }).collect(),
                transfers,
                charges: vec![],
            };
            let after_discounts: i64 = e.lines.iter().map(|l| l.paid).sum();

            let mut returned: BTreeMap<u32, Decimal> = BTreeMap::new();
            let mut reversed = vec![0i64; n];
            let mut per_line: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
            let (mut refund, mut paid_back, mut complete) = (0i64, 0i64, false);
            let left = |returned: &BTreeMap<u32, Decimal>, l: &LineEffect| l.qty - returned.get(&l.line).copied().unwrap_or_default();
            let mut take_back = |returned: &mut BTreeMap<u32, Decimal>, request: &[(u32, Decimal)]| -> Result<(), TestCaseError> {
                let plan = e.plan_return(returned, request).map_err(|err| TestCaseError::fail(format!("{request:?}: {err}")))?;
                for (k, effect) in e.transfers.iter().enumerate() {
                    prop_assert!(plan.reverse[k] >= 0, "{:?}: transfer {} reversed by {}", request, k, plan.reverse[k]);
                    reversed[k] += plan.reverse[k];
                    prop_assert!(reversed[k] <= effect.amount, "{:?}: transfer {} reversed {} of {}", request, k, reversed[k], effect.amount);
                }
                for (line, parts) in &plan.line_reversals {
                    let sum = per_line.entry(*line).or_insert_with(|| vec![0; n]);
                    for (s, p) in sum.iter_mut().zip(parts) {
                        *s += p;
                    }
                }
                refund += plan.lines.iter().map(|(_, _, r)| r).sum::<i64>();
                paid_back += plan.paid_back;
                prop_assert!(refund <= paid && paid_back <= after_discounts);
                let to_cards: i64 = e.transfers.iter().zip(&reversed).filter(|(t, _)| t.role == EffectRole::GiftCard).map(|(_, r)| r).sum();
                prop_assert!(to_cards <= refund, "gift cards got back {} of a refund of {}", to_cards, refund);
                complete = plan.complete;
                prop_assert_eq!(complete, e.lines.iter().all(|l| plan.returned_after.get(&l.line) == Some(&l.qty)));
                *returned = plan.returned_after;
                Ok(())
            };
            let mut request: Vec<(u32, Decimal)> = Vec::new();
            for (i, milli, join) in steps {
                let l = &e.lines[i % e.lines.len()];
                if !request.is_empty() && (!join || request.iter().any(|(n, _)| *n == l.line)) {
                    take_back(&mut returned, &request)?;
                    request.clear();
                }
                let q = Decimal::new(milli, 3).min(left(&returned, l));
                if q > Decimal::ZERO {
                    request.push((l.line, q));
                }
            }
            if !request.is_empty() {
                take_back(&mut returned, &request)?;
            }
            let rest: Vec<(u32, Decimal)> =
                e.lines.iter().map(|l| (l.line, left(&returned, l))).filter(|(_, q)| *q > Decimal::ZERO).collect();
            if !rest.is_empty() {
                take_back(&mut returned, &rest)?;
            }
            prop_assert!(complete);
            for (k, effect) in e.transfers.iter().enumerate() {
                let expected = if effect.role == EffectRole::Breakage { 0 } else { effect.amount };
                prop_assert_eq!(reversed[k], expected, "transfer {} ({:?})", k, effect.role);
            }
            for l in &e.lines {
                prop_assert_eq!(&per_line.get(&l.line).cloned().unwrap_or_else(|| vec![0; n]), &l.shares, "line {}", l.line);
            }
            prop_assert_eq!(refund, paid);
            prop_assert_eq!(paid_back, after_discounts);
        }
    }
}
