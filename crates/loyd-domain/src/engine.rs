//! The calculation engine: receipt + context + program → [`Calculation`]. A pure
//! function: no IO, no clock, no randomness; the same inputs always give the same
//! result, so calculate (preview) and commit agree to the cent.
//!
//! Order of work, each step on what the previous left:
//! 1. campaigns that apply (status, period, store, customer, receipt total);
//! 2. discounts, in campaign priority order, never below zero on a line;
//! 3. redemptions, in the order asked, within each currency's rules;
//! 4. gift cards, against what is still due;
//! 5. accruals, on each line's base (what was paid, less what the redeemed currencies
//!    exclude), with exceptions per goods group;
//! 6. balances after, and messages.
//!
//! Every per-line figure comes from [`allocate`], so lines always sum to the totals.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::alloc::allocate;
use crate::ids::AssetCode;
use crate::money::{self, Minor, Rounding, Scale};
use crate::program::{Campaign, Currency, Goods, Program, Rate, Reward};
use crate::receipt::{
    AccrualCalc, Applied, AppliedKind, BalanceCalc, BalanceView, Calculation, Context, GiftCalc, LineCalc, Messages,
    Receipt, ReceiptError, RedeemAmount, RedeemedCalc,
};
use crate::cards::CardState;

fn dec(minor: i64, scale: Scale) -> Decimal {
    money::from_minor(minor, scale)
}

fn round(value: Decimal, scale: Scale, mode: Rounding) -> Result<i64, ReceiptError> {
    money::round_to_minor(value, scale, mode).map_err(|e| ReceiptError::invalid(e.to_string()))
}

/// Whether a campaign applies to this receipt at all.
fn applies(c: &Campaign, receipt: &Receipt, ctx: &Context, total: i64) -> bool {
    let store = &ctx.store;
    let at = receipt.at;
    let total = dec(total, store.scale);
    c.from.is_none_or(|f| at >= f)
        && c.until.is_none_or(|u| at < u)
        && (c.stores.is_empty() || c.stores.contains(&store.id))
        && !c.exclude_stores.contains(&store.id)
        && (c.formats.is_empty() || store.format.as_ref().is_some_and(|f| c.formats.contains(f)))
        && !store.format.as_ref().is_some_and(|f| c.exclude_formats.contains(f))
        && (!c.customers_only || ctx.customer.is_some())
        && c.min_total.is_none_or(|m| total >= m)
        && c.below_total.is_none_or(|b| total < b)
}

/// Units of a rate on a base of `base` store-minor units and `qty` items.
fn rate_units(rate: Rate, base: i64, qty: Decimal, store: Scale, cur: &Currency) -> Result<i64, ReceiptError> {
    let money = dec(base, store);
    let units = match rate {
        Rate::Percent(p) => money * p / Decimal::ONE_HUNDRED,
        Rate::Per { per, units } => money / per * units,
        Rate::Step { step, units } => (money / step).trunc() * units,
        Rate::PerItem(u) => qty * u,
        Rate::Fixed(u) => u,
    };
    round(units, cur.scale, cur.rounding)
}

struct Work<'a> {
    lines: Vec<LineCalc>,
    receipt: &'a Receipt,
    ctx: &'a Context,
}

impl Work<'_> {
    /// What is still to pay on each line.
    fn remaining(&self, i: usize) -> i64 {
        let l = &self.lines[i];
        l.amount - l.discount - l.redeemed_value
    }
}

/// Calculates a receipt. See the module documentation for the order of work.
pub fn calculate(receipt: &Receipt, ctx: &Context, program: &Program) -> Result<Calculation, ReceiptError> {
    // No coupon series exist yet: a coupon cannot be honoured, and a receipt is never
    // committed with part of what the customer asked for silently dropped.
    if let Some(code) = receipt.coupons.first() {
        return Err(ReceiptError::CouponUnknown(code.clone()));
    }
    let scale = ctx.store.scale;
    let total: i64 = receipt.lines.iter().map(|l| l.amount).sum();
    let mut w = Work {
        lines: receipt
            .lines
            .iter()
            .map(|l| LineCalc {
                line: l.line,
                qty: l.qty,
                amount: l.amount,
                discount: 0,
                redeemed_value: 0,
                final_amount: l.amount,
                applied: Vec::new(),
                redeemed_units: Vec::new(),
                accrued_units: Vec::new(),
            })
            .collect(),
        receipt,
        ctx,
    };
    let campaigns: Vec<&Campaign> = program.campaigns.iter().filter(|c| applies(c, receipt, ctx, total)).collect();

    // 2. Discounts.
    for c in &campaigns {
        for reward in &c.rewards {
            match reward {
                Reward::DiscountPercent { percent, goods } => {
                    for i in matching(receipt, goods) {
                        let d = round(dec(w.remaining(i), scale) * percent / Decimal::ONE_HUNDRED, scale, Rounding::HalfUp)?;
                        let d = d.min(w.remaining(i));
                        add_discount(&mut w, i, d, &c.id);
                    }
                }
                Reward::DiscountAmount { amount, goods } => {
                    let idx = matching(receipt, goods);
                    let weights: Vec<i64> = idx.iter().map(|&i| w.remaining(i)).collect();
                    let wanted = money::to_minor_exact(*amount, scale).map_err(|e| ReceiptError::invalid(e.to_string()))?;
                    let amount = wanted.min(weights.iter().sum());
                    if idx.is_empty() || amount == 0 {
                        continue;
                    }
                    for (&i, d) in idx.iter().zip(allocate(amount, &weights)) {
                        add_discount(&mut w, i, d, &c.id);
                    }
                }
                Reward::Accrue { .. } => {}
            }
        }
    }

    // 3. Redemptions.
    let mut redeemed: Vec<RedeemedCalc> = Vec::new();
    for r in &receipt.redeem {
        let calc = redeem(&mut w, r.currency.clone(), r.amount, program)?;
        let index = redeemed.len();
        for l in &mut w.lines {
            l.redeemed_units.push(0);
        }
        if let Some((calc, parts)) = calc {
            for (i, v, u) in parts {
                let line = &mut w.lines[i];
                line.redeemed_value += v;
                line.redeemed_units[index] = u;
                if v > 0 || u > 0 {
                    line.applied.push(Applied {
                        campaign: calc.currency.to_string(),
                        kind: AppliedKind::Redemption,
                        currency: Some(calc.currency.clone()),
                        amount: v,
                    });
                }
            }
            redeemed.push(calc);
        } else {
            redeemed.push(RedeemedCalc { currency: r.currency.clone(), units: 0, value: 0 });
        }
    }
    // Keep only redemptions that took something, with their per-line columns.
    let keep: Vec<bool> = redeemed.iter().map(|r| r.units > 0).collect();
    for l in &mut w.lines {
        let mut k = keep.iter();
        l.redeemed_units.retain(|_| *k.next().unwrap_or(&false));
    }
    redeemed.retain(|r| r.units > 0);

    for l in &mut w.lines {
        l.final_amount = l.amount - l.discount - l.redeemed_value;
    }
    let discount: i64 = w.lines.iter().map(|l| l.discount).sum();
    let redeemed_value: i64 = w.lines.iter().map(|l| l.redeemed_value).sum();
    let due = total - discount - redeemed_value;

    // 4. Gift cards.
    let mut gift_cards = Vec::new();
    let mut gift_total = 0i64;
    for g in &receipt.gift_cards {
        let card = ctx
            .gift_cards
            .iter()
            .find(|c| c.number == g.number)
            .ok_or_else(|| ReceiptError::UnknownCard(g.number.clone()))?;
        match card.state {
            CardState::Blocked => return Err(ReceiptError::CardBlocked(card.number.clone())),
            CardState::Expired => return Err(ReceiptError::CardExpired(card.number.clone())),
            CardState::Issued => return Err(ReceiptError::CardNotActive(card.number.clone())),
            CardState::Active => {}
        }
        if card.valid_until.is_some_and(|v| v <= receipt.at) {
            return Err(ReceiptError::CardExpired(card.number.clone()));
        }
        if card.currency != ctx.store.currency {
            return Err(ReceiptError::invalid(format!(
                "gift card {} holds {}, this store takes {}",
                card.number, card.currency, ctx.store.currency
            )));
        }
        if g.amount > card.available {
            return Err(ReceiptError::InsufficientFunds {
                what: format!("gift card {}", card.number),
                available: Minor::new(card.available, scale).to_string(),
                requested: Minor::new(g.amount, scale).to_string(),
            });
        }
        gift_total += g.amount;
        if gift_total > due {
            return Err(ReceiptError::invalid(format!(
                "gift cards pay {} but only {} is due",
                Minor::new(gift_total, scale),
                Minor::new(due, scale)
            )));
        }
        let rest = card.available - g.amount;
        let burned = if card.single_use { rest } else { 0 };
        gift_cards.push(GiftCalc { number: card.number.clone(), amount: g.amount, balance_after: rest - burned, burned });
    }

    // 5. Accruals (only for an identified customer: there is no one to credit otherwise).
    let mut accrued: Vec<AccrualCalc> = Vec::new();
    if ctx.customer.is_some() {
        for c in &campaigns {
            for reward in &c.rewards {
                let Reward::Accrue { currency, rate, goods, exceptions } = reward else { continue };
                let Some(cur) = program.currency(currency) else { continue };
                let bases: Vec<i64> = (0..w.lines.len()).map(|i| accrual_base(&w, &redeemed, program, i)).collect();
                // Partition the lines by the rate that applies to them.
                let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
                for (i, l) in receipt.lines.iter().enumerate() {
                    let slot = exceptions
                        .iter()
                        .position(|(g, _)| g.matches(&l.sku, &l.groups))
                        .map(|k| k + 1)
                        .or_else(|| goods.matches(&l.sku, &l.groups).then_some(0));
                    if let Some(slot) = slot {
                        groups.entry(slot).or_default().push(i);
                    }
                }
                let mut per_line = vec![0i64; w.lines.len()];
                for (slot, idx) in groups {
                    let rate = if slot == 0 { *rate } else { exceptions[slot - 1].1 };
                    let base: i64 = idx.iter().map(|&i| bases[i]).sum();
                    let qty: Decimal = idx.iter().map(|&i| receipt.lines[i].qty).sum();
                    let units = rate_units(rate, base, qty, scale, cur)?;
                    if units <= 0 {
                        continue;
                    }
                    let weights: Vec<i64> = match rate {
                        Rate::PerItem(_) => idx
                            .iter()
                            .map(|&i| money::round_to_minor(receipt.lines[i].qty, Scale::new(3).expect("3 places"), Rounding::Down).unwrap_or(0))
                            .collect(),
                        _ => idx.iter().map(|&i| bases[i]).collect(),
                    };
                    for (&i, u) in idx.iter().zip(allocate(units, &weights)) {
                        per_line[i] += u;
                    }
                }
                let units: i64 = per_line.iter().sum();
                if units <= 0 {
                    continue;
                }
                for (l, u) in w.lines.iter_mut().zip(&per_line) {
                    l.accrued_units.push(*u);
                    if *u > 0 {
                        l.applied.push(Applied {
                            campaign: c.id.to_string(),
                            kind: AppliedKind::Accrual,
                            currency: Some(currency.clone()),
                            amount: *u,
                        });
                    }
                }
                accrued.push(AccrualCalc {
                    currency: currency.clone(),
                    units,
                    campaign: c.id.to_string(),
                    terms: cur.lot_terms(receipt.at),
                });
            }
        }
    }

    // 6. Messages and balances.
    let mut messages = Messages::default();
    for c in &campaigns {
        messages.slip.extend(c.messages.slip.iter().cloned());
        messages.cashier.extend(c.messages.cashier.iter().cloned());
        messages.display.extend(c.messages.display.iter().cloned());
    }
    let balances = ctx.customer.as_ref().map(|cust| balances_after(&cust.balances, &redeemed, &accrued, receipt)).unwrap_or_default();

    Ok(Calculation {
        total,
        discount,
        redeemed_value,
        gift_card_value: gift_total,
        to_pay: due - gift_total,
        lines: w.lines,
        redeemed,
        gift_cards,
        accrued,
        messages,
        balances,
    })
}

fn matching(receipt: &Receipt, goods: &Goods) -> Vec<usize> {
    receipt.lines.iter().enumerate().filter(|(_, l)| goods.matches(&l.sku, &l.groups)).map(|(i, _)| i).collect()
}

fn add_discount(w: &mut Work<'_>, i: usize, d: i64, campaign: &crate::ids::StoreCode) {
    if d <= 0 {
        return;
    }
    let line = &mut w.lines[i];
    line.discount += d;
    line.applied.push(Applied { campaign: campaign.to_string(), kind: AppliedKind::Discount, currency: None, amount: d });
}

/// A line's accrual base: what remains to pay on it, plus what was paid with currencies
/// that still earn (`accrue_on_redeemed`).
fn accrual_base(w: &Work<'_>, redeemed: &[RedeemedCalc], program: &Program, i: usize) -> i64 {
    let line = &w.lines[i];
    let mut base = line.amount - line.discount - line.redeemed_value;
    for (k, r) in redeemed.iter().enumerate() {
        let earns = program.currency(&r.currency).and_then(|c| c.redeem.as_ref()).is_some_and(|rd| rd.accrue_on_redeemed);
        if earns {
            let units = line.redeemed_units.get(k).copied().unwrap_or(0);
            // The line's share of this redemption's value, in proportion to its units.
            base += if r.units == 0 { 0 } else { i64::try_from(i128::from(r.value) * i128::from(units) / i128::from(r.units)).unwrap_or(0) };
        }
    }
    base
}

/// A redemption and its parts per line: (line index, value, units).
type Redeemed = (RedeemedCalc, Vec<(usize, i64, i64)>);

/// Works out one redemption: how many units, their value, and how both spread over the
/// payable lines.
fn redeem(w: &mut Work<'_>, code: AssetCode, amount: RedeemAmount, program: &Program) -> Result<Option<Redeemed>, ReceiptError> {
    let cur = program
        .currency(&code)
        .ok_or_else(|| ReceiptError::invalid(format!("unknown currency '{code}'")))?;
    let (Some(rules), Some(value)) = (cur.redeem.as_ref(), cur.value) else {
        return Err(ReceiptError::invalid(format!("{code} cannot pay receipts")));
    };
    let customer = w
        .ctx
        .customer
        .as_ref()
        .ok_or_else(|| ReceiptError::invalid(format!("identify the customer to redeem {code}")))?;
    let balance = customer.balances.get(&code).copied().unwrap_or_default().available;
    let store = w.ctx.store.scale;
    let shown = |m: i64| Minor::new(m, cur.scale).to_string();
    if rules.min_balance > 0 && balance < rules.min_balance {
        return Err(ReceiptError::BelowMinimumRedeem { currency: code, minimum: shown(rules.min_balance) });
    }
    let payable: Vec<usize> = w
        .receipt
        .lines
        .iter()
        .enumerate()
        .filter(|(i, l)| !rules.excluded.excludes(&l.sku, &l.groups) && w.remaining(*i) > 0)
        .map(|(i, _)| i)
        .collect();
    let payable_total: i64 = payable.iter().map(|&i| w.remaining(i)).sum();
    let cap_value = match rules.max_share {
        Some(share) => round(dec(payable_total, store) * share, store, Rounding::Down)?,
        None => payable_total,
    };
    // Store-money value of `u` minor units of the currency, never more than they are worth.
    let value_of = |u: i64| round(dec(u, cur.scale) * value, store, Rounding::Down);
    // The most units whose value fits under the cap.
    let cap_units = round(dec(cap_value, store) / value, cur.scale, Rounding::Down)?;
    let units = match amount {
        RedeemAmount::Max => balance.min(cap_units).max(0),
        RedeemAmount::Units(u) => {
            let u = money::to_minor_exact(u, cur.scale).map_err(|e| ReceiptError::invalid(format!("redeem {code}: {e}")))?;
            if u > balance {
                return Err(ReceiptError::InsufficientFunds {
                    what: format!("{code} balance"),
                    available: shown(balance),
                    requested: shown(u),
                });
            }
            if u > cap_units {
                return Err(ReceiptError::RedeemLimitExceeded { currency: code, max: shown(cap_units) });
            }
            u
        }
    };
    if units == 0 {
        return Ok(None);
    }
    let value = value_of(units)?.min(cap_value);
    let weights: Vec<i64> = payable.iter().map(|&i| w.remaining(i)).collect();
    let parts = payable
        .iter()
        .zip(allocate(value, &weights))
        .zip(allocate(units, &weights))
        .map(|((&i, v), u)| (i, v, u))
        .collect();
    Ok(Some((RedeemedCalc { currency: code, units, value }, parts)))
}

fn balances_after(
    before: &BTreeMap<AssetCode, BalanceView>,
    redeemed: &[RedeemedCalc],
    accrued: &[AccrualCalc],
    receipt: &Receipt,
) -> Vec<BalanceCalc> {
    let mut after: BTreeMap<AssetCode, BalanceView> = before.clone();
    for r in redeemed {
        after.entry(r.currency.clone()).or_default().available -= r.units;
    }
    for a in accrued {
        let b = after.entry(a.currency.clone()).or_default();
        if a.terms.available_at.is_some_and(|t| t > receipt.at) {
            b.pending += a.units;
        } else {
            b.available += a.units;
        }
    }
    after.into_iter().map(|(currency, b)| BalanceCalc { currency, available: b.available, pending: b.pending }).collect()
}

#[cfg(test)]
mod tests;
