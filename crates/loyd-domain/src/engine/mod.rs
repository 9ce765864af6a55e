//! The calculation engine: receipt + context + program → [`Calculation`]. A pure
//! function: no IO, no clock, no randomness; the same inputs always give the same
//! result, so calculate (preview) and commit agree to the cent.
//!
//! Order of work, each step on what the previous left:
//! 1. **selection**: campaigns whose conditions hold (when, where, who, what, custom
//!    condition) and whose use limits are not reached (`select`);
//! 2. **stacking**: an exclusive campaign excludes all others; of a stack group, only the
//!    campaign best for the customer stays;
//! 3. **discounts**, in campaign priority order, never below zero on a line; then
//!    **coupons**; then the **restriction** on total discount;
//! 4. **redemptions**, in the order asked, within each currency's rules and the
//!    restriction on the share paid with accumulated currencies;
//! 5. **gift cards**, against what is still due;
//! 6. **accruals** on each line's base (what was paid, less what the redeemed currencies
//!    exclude), with exceptions per goods group, within the accrual restriction;
//! 7. coupons and gifts to issue, messages, balances after, **conversions**;
//! 8. **budgets**: a campaign that would pass its budget or promo-item limit is dropped
//!    and the receipt computed again without it.
//!
//! Every per-line figure comes from [`allocate`], so lines always sum to the totals.
//!
//! ## Layout
//! - this file: [`calculate`], the run over the chosen campaigns, stacking, budgets,
//!   balances after, conversions, usage charges and [`usage_keys`];
//! - `select`: which campaigns apply (when, where, who, what, conditions, limits), the
//!   customer's tier levels and segments (`Env`);
//! - `lines`: the receipt's lines and their goods masks;
//! - `discounts`: discount rewards, coupons (validated in `apply_coupons`), the cap on
//!   the total discount;
//! - `tenders`: redemptions and gift cards;
//! - `accruals`: units earned, by rate and exception, within the accrual restriction;
//! - `tests`: the engine's table tests.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::alloc::allocate;
use crate::ids::{AssetCode, ConfigCode};
use crate::money::{self, Minor, Rounding, Scale};
use crate::program::{Campaign, CouponDiscount, Currency, Goods, Program, Rate, Reward};
use crate::receipt::{
    AccrualCalc, Applied, AppliedKind, BalanceCalc, BalanceView, Calculation, Context, ControlCalc, ConversionCalc, CouponCalc,
    CouponStatus, GiftCalc, GiftItem, IssueCalc, LineCalc, Messages, Receipt, ReceiptError, RedeemAmount, RedeemedCalc,
    UsageCharge,
};

mod accruals;
mod discounts;
mod lines;
mod multibuy;
mod select;
pub use select::{customer_input, customer_meets, segments_of};
mod tenders;

use accruals::{accrual_bases, accrual_columns, accrual_value, accrue, cap_accruals};
use discounts::{apply_coupons, campaign_discounts, cap_discounts};
use lines::LineSet;
use tenders::{pay_with_gift_cards, redeem};
use select::{DISCOUNTED_RECEIPTS, Env, PROMO_ITEMS, campaign_limits, candidates, discounts, has_value, restriction_limits};

fn round(value: Decimal, scale: Scale, mode: Rounding) -> Result<i64, ReceiptError> {
    money::round_to_minor(value, scale, mode).map_err(|e| ReceiptError::invalid(e.to_string()))
}

/// `minor` units of scale `from` × `mul` / `div`, rounded to scale `to`: see
/// [`money::round_scaled`].
fn scaled(minor: i64, from: Scale, mul: Decimal, div: Decimal, to: Scale, mode: Rounding) -> Result<i64, ReceiptError> {
    money::round_scaled(minor, from, mul, div, to, mode).map_err(|e| ReceiptError::invalid(e.to_string()))
}

/// `percent` % of `minor` units, half up, in the same units.
fn percent_of(minor: i64, percent: Decimal, scale: Scale) -> Result<i64, ReceiptError> {
    scaled(minor, scale, percent, Decimal::ONE_HUNDRED, scale, Rounding::HalfUp)
}

/// `share` (0.30 = 30 %) of `minor` units, rounded down, in the same units.
fn share_of(minor: i64, share: Decimal, scale: Scale) -> Result<i64, ReceiptError> {
    scaled(minor, scale, share, Decimal::ONE, scale, Rounding::Down)
}

fn milli(q: Decimal) -> i64 {
    money::round_to_minor(q, Scale::new(3).expect("3 places"), Rounding::Down).unwrap_or(0)
}

/// The usage counters (key, period) a receipt's calculation reads: the limits of the
/// campaigns whose conditions hold and the uses of its coupons. Storage loads these
/// into [`Context::usage`] before calling [`calculate`].
pub fn usage_keys(receipt: &Receipt, ctx: &Context, program: &Program) -> Vec<(String, String)> {
    let env = Env::new(receipt, ctx, program);
    let mut keys: Vec<(String, String)> = program
        .campaigns
        .iter()
        .filter(|c| c.limits.is_some() && env.conditions_hold(c))
        .flat_map(|c| campaign_limits(&env, c, c.limits.as_ref().expect("filtered")))
        .chain(restriction_limits(&env))
        .map(|k| (k.key, k.period))
        .collect();
    for c in &ctx.coupons {
        keys.push((coupon_key(c), "all".into()));
        keys.push((coupon_series_key(&c.series), "all".into()));
        if let Some(customer) = &ctx.customer {
            keys.push((coupon_customer_key(&c.code, customer.id), "all".into()));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn coupon_key(c: &crate::receipt::CouponContext) -> String {
    coupon_code_key(c.series.as_str(), &c.code)
}

/// The uses of one code of a coupon series (`uses_per_code`).
pub fn coupon_code_key(series: &str, code: &str) -> String {
    format!("coupon:{series}:{code}")
}

/// The uses of all codes of a coupon series.
fn coupon_series_key(series: &ConfigCode) -> String {
    format!("coupon-series:{series}")
}

fn coupon_customer_key(code: &str, customer: i64) -> String {
    format!("coupon:{code}:c{customer}")
}

/// Calculates a receipt. See the module documentation for the order of work.
pub fn calculate(receipt: &Receipt, ctx: &Context, program: &Program) -> Result<Calculation, ReceiptError> {
    let env = Env::new(receipt, ctx, program);
    let (treated, control) = hold_out(&env, candidates(&env));
    let mut chosen = stack(&env, treated);
    loop {
        let mut calc = run(&env, &chosen)?;
        match over_budget(&env, &calc, &chosen) {
            Some(i) => {
                chosen.remove(i);
            }
            None => {
                calc.control = control;
                return Ok(calc);
            }
        }
    }
}

/// Takes out the candidates whose control group holds the customer, and lists the
/// customer's group in every candidate with a control group. Both groups are decided
/// here, among campaigns whose conditions and limits hold, before stacking and
/// budgets: a customer held out is one who would have qualified exactly as a treated
/// one did (stacking may still keep a treated customer's campaign from applying).
fn hold_out<'p>(env: &Env<'p>, candidates: Vec<&'p Campaign>) -> (Vec<&'p Campaign>, Vec<ControlCalc>) {
    let Some(customer) = &env.ctx.customer else { return (candidates, Vec::new()) };
    let mut control = Vec::new();
    let treated = candidates
        .into_iter()
        .filter(|c| {
            if c.control.is_none() {
                return true;
            }
            let held_out = c.holds_out(customer.id);
            control.push(ControlCalc { campaign: c.id.clone(), held_out });
            !held_out
        })
        .collect();
    (treated, control)
}

/// What one campaign alone would give the customer on this receipt, in store money:
/// its discounts plus its accruals at their value (redemptions and other campaigns
/// aside). Used to pick the best campaign of a stack group.
fn isolated_value(env: &Env<'_>, w: &mut Work<'_>, c: &Campaign) -> Result<i64, ReceiptError> {
    w.reset();
    campaign_discounts(env, w, c)?;
    let mut value: i64 = w.lines.iter().map(|l| l.discount).sum();
    if env.ctx.customer.is_some() {
        let mut accrued = Vec::new();
        let bases: Vec<i64> = (0..w.lines.len()).map(|i| w.remaining(i)).collect();
        accrual_columns(w, std::iter::once(c));
        let mut scratch = Scratch::default();
        for reward in &c.rewards {
            accrue(env, w, &mut scratch, &bases, &mut accrued, c, reward)?;
        }
        value += accrued.iter().map(|a| accrual_value(env.program, &a.currency, a.units, &env.ctx.store)).sum::<i64>();
    }
    Ok(value)
}

fn fresh_work<'a>(env: &Env<'a>) -> Work<'a> {
    Work {
        lines: env
            .receipt
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
        receipt: env.receipt,
        ctx: env.ctx,
        add_products: Vec::new(),
        percent: Default::default(),
    }
}

/// Exclusive campaigns and stack groups.
fn stack<'p>(env: &Env<'p>, candidates: Vec<&'p Campaign>) -> Vec<&'p Campaign> {
    if let Some(first) = candidates.iter().find(|c| c.exclusive) {
        return vec![*first];
    }
    let mut winners: BTreeMap<&ConfigCode, (&Campaign, i64)> = BTreeMap::new();
    let mut work: Option<Work<'_>> = None;
    for c in &candidates {
        let Some(group) = &c.stack_group else { continue };
        let w = work.get_or_insert_with(|| fresh_work(env));
        let value = if has_value(c) { isolated_value(env, w, c).unwrap_or(0) } else { 0 };
        // Candidates come highest priority first: a later one must be strictly better.
        match winners.get(group) {
            Some((_, best)) if *best >= value => {}
            _ => {
                winners.insert(group, (c, value));
            }
        }
    }
    candidates
        .into_iter()
        .filter(|c| match &c.stack_group {
            None => true,
            Some(g) => winners.get(g).is_some_and(|(w, _)| w.id == c.id),
        })
        .collect()
}

/// The first chosen campaign whose budget or promotional-item limit this receipt would
/// pass; or, if the receipt would pass the promotional-item restriction of all
/// campaigns, the discount campaign of lowest priority.
fn over_budget(env: &Env<'_>, calc: &Calculation, chosen: &[&Campaign]) -> Option<usize> {
    let passes = |k: &select::LimitKey| {
        let used = env.ctx.usage.get(&(k.key.clone(), k.period.clone())).copied().unwrap_or_default();
        let charge = calc.charges.iter().find(|ch| ch.key == k.key && ch.period == k.period);
        let (value, items) = charge.map(|ch| (ch.value, ch.items)).unwrap_or((0, 0));
        k.max_value.is_some_and(|m| used.value + value > m) || k.max_items.is_some_and(|m| used.items + items > m)
    };
    let campaign = chosen.iter().position(|c| {
        let Some(limits) = &c.limits else { return false };
        campaign_limits(env, c, limits).iter().any(passes)
    });
    campaign.or_else(|| {
        if restriction_limits(env).iter().any(passes) { chosen.iter().rposition(|c| discounts(c)) } else { None }
    })
}

struct Work<'a> {
    lines: Vec<LineCalc>,
    receipt: &'a Receipt,
    ctx: &'a Context,
    /// Reward products the receipt lacks (multi-buys).
    add_products: Vec<crate::receipt::ProductToAdd>,
    /// Working memory of percent discounts.
    percent: discounts::PercentParts,
}

/// Working memory reused by every accrual of a calculation.
#[derive(Default)]
struct Scratch {
    sets: Vec<(LineSet, Rate)>,
    /// (line, units) of the accrual being computed.
    touched: Vec<(usize, i64)>,
    idx: Vec<usize>,
    weights: Vec<i64>,
    parts: Vec<i64>,
    splitter: crate::alloc::Splitter,
}

impl Work<'_> {
    /// Back to the receipt as it came, keeping the memory.
    fn reset(&mut self) {
        for l in &mut self.lines {
            l.discount = 0;
            l.redeemed_value = 0;
            l.final_amount = l.amount;
            l.applied.clear();
            l.redeemed_units.clear();
            l.accrued_units.clear();
        }
        self.add_products.clear();
    }

    /// What is still to pay on each line.
    fn remaining(&self, i: usize) -> i64 {
        let l = &self.lines[i];
        l.amount - l.discount - l.redeemed_value
    }

    fn add_discount(&mut self, i: usize, d: i64, source: &std::sync::Arc<str>) {
        let d = d.min(self.remaining(i));
        if d <= 0 {
            return;
        }
        let line = &mut self.lines[i];
        line.discount += d;
        line.applied.push(Applied { campaign: std::sync::Arc::clone(source), kind: AppliedKind::Discount, currency: None, amount: d });
    }
}

fn matching(env: &Env<'_>, goods: &Goods) -> Vec<usize> {
    env.lines_of(goods).iter().collect()
}

/// The whole pipeline with a given set of campaigns.
fn run(env: &Env<'_>, campaigns: &[&Campaign]) -> Result<Calculation, ReceiptError> {
    let (receipt, ctx, program) = (env.receipt, env.ctx, env.program);
    let total = env.total;
    let mut w = fresh_work(env);
    for l in &mut w.lines {
        // Room for what usually happens to a line, without regrowing.
        l.applied.reserve_exact(8);
    }

    // Discounts.
    for c in campaigns {
        campaign_discounts(env, &mut w, c)?;
    }
    let coupons = apply_coupons(env, &mut w, campaigns)?;
    cap_discounts(env, &mut w)?;

    // Redemptions.
    let mut redeemed: Vec<RedeemedCalc> = Vec::new();
    for l in &mut w.lines {
        l.redeemed_units.reserve_exact(receipt.redeem.len());
    }
    for r in &receipt.redeem {
        let calc = redeem(&mut w, r.currency.clone(), r.amount, program, &env.restrictions, &redeemed)?;
        let index = redeemed.len();
        for l in &mut w.lines {
            l.redeemed_units.push(0);
        }
        match calc {
            Some((calc, parts)) => {
                for (i, v, u) in parts {
                    let line = &mut w.lines[i];
                    line.redeemed_value += v;
                    line.redeemed_units[index] = u;
                    if v > 0 || u > 0 {
                        line.applied.push(Applied {
                            campaign: calc.currency.shared(),
                            kind: AppliedKind::Redemption,
                            currency: Some(calc.currency.clone()),
                            amount: v,
                        });
                    }
                }
                redeemed.push(calc);
            }
            None => redeemed.push(RedeemedCalc { currency: r.currency.clone(), units: 0, value: 0 }),
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
    let discount_total: i64 = w.lines.iter().map(|l| l.discount).sum();
    let redeemed_value: i64 = w.lines.iter().map(|l| l.redeemed_value).sum();
    let due = total - discount_total - redeemed_value;

    let (gift_cards, gift_total) = pay_with_gift_cards(&w, due)?;

    // Accruals (only for an identified customer: there is no one to credit otherwise).
    let mut accrued: Vec<AccrualCalc> = Vec::new();
    if ctx.customer.is_some() {
        // Accruals do not change one another's base.
        accrual_columns(&mut w, campaigns.iter().copied());
        let bases = accrual_bases(&w, &redeemed, program);
        let mut scratch = Scratch::default();
        for c in campaigns {
            for reward in &c.rewards {
                accrue(env, &mut w, &mut scratch, &bases, &mut accrued, c, reward)?;
            }
        }
        for l in &mut w.lines {
            l.accrued_units.truncate(accrued.len());
        }
        cap_accruals(env, &mut w, &mut accrued);
    }

    // Coupons and gifts to issue, messages.
    let mut issued_coupons = Vec::new();
    let mut gifts = Vec::new();
    let mut messages = Messages::default();
    let mut applied_campaigns = Vec::new();
    for c in campaigns {
        for reward in &c.rewards {
            match reward {
                Reward::IssueCoupon { series } => issued_coupons.push(IssueCalc { series: series.clone(), campaign: c.id.as_str().to_owned() }),
                Reward::Gift { gift } => gifts.push(GiftItem { gift: gift.clone(), campaign: c.id.as_str().to_owned() }),
                _ => {}
            }
        }
        messages.slip.extend(c.messages.slip.iter().cloned());
        messages.cashier.extend(c.messages.cashier.iter().cloned());
        messages.display.extend(c.messages.display.iter().cloned());
        applied_campaigns.push(c.id.clone());
    }

    let mut balances: BTreeMap<AssetCode, BalanceView> = BTreeMap::new();
    let mut conversions = Vec::new();
    if let Some(customer) = &ctx.customer {
        balances = balances_after(&customer.balances, &redeemed, &accrued, receipt);
        conversions = convert(program, &mut balances);
    }

    let mut calc = Calculation {
        total,
        discount: discount_total,
        redeemed_value,
        gift_card_value: gift_total,
        to_pay: due - gift_total,
        lines: w.lines,
        redeemed,
        gift_cards,
        accrued,
        messages,
        balances: balances.into_iter().map(|(currency, b)| BalanceCalc { currency, available: b.available, pending: b.pending }).collect(),
        coupons,
        issued_coupons,
        gifts,
        add_products: std::mem::take(&mut w.add_products),
        charges: Vec::new(),
        conversions,
        tier: env.levels.first().map(|(_, l)| l.clone()),
        campaigns: applied_campaigns,
        control: Vec::new(),
    };
    calc.charges = charges(env, &calc, campaigns);
    Ok(calc)
}

fn balances_after(
    before: &BTreeMap<AssetCode, BalanceView>,
    redeemed: &[RedeemedCalc],
    accrued: &[AccrualCalc],
    receipt: &Receipt,
) -> BTreeMap<AssetCode, BalanceView> {
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
    after
}

/// Conversions of currencies that reached their threshold, applied to `balances`.
fn convert(program: &Program, balances: &mut BTreeMap<AssetCode, BalanceView>) -> Vec<ConversionCalc> {
    let mut out = Vec::new();
    for (code, cur) in &program.currencies {
        let Some(conv) = &cur.conversion else { continue };
        let available = balances.get(code).map(|b| b.available).unwrap_or(0);
        let Some((taken, given)) = conv.of(available) else { continue };
        if let Some(b) = balances.get_mut(code) {
            b.available -= taken;
        }
        balances.entry(conv.to.clone()).or_default().available += given;
        out.push(ConversionCalc { from: code.clone(), to: conv.to.clone(), taken, given });
    }
    out
}

/// What committing this calculation adds to the usage counters.
fn charges(env: &Env<'_>, calc: &Calculation, campaigns: &[&Campaign]) -> Vec<UsageCharge> {
    let mut out = Vec::new();
    for c in campaigns {
        let Some(limits) = &c.limits else { continue };
        let id = c.id.as_str();
        let mut value = 0i64;
        let mut items = 0i64;
        for l in &calc.lines {
            let mut touched = false;
            for a in l.applied.iter().filter(|a| &*a.campaign == id) {
                touched = true;
                value += a.amount;
            }
            for (a, &u) in calc.accrued.iter().zip(&l.accrued_units).filter(|(a, u)| a.campaign.as_str() == id && **u > 0) {
                touched = true;
                value += accrual_value(env.program, &a.currency, u, &env.ctx.store);
            }
            if touched {
                items += milli(l.qty);
            }
        }
        let gave_other = calc.issued_coupons.iter().any(|i| i.campaign == id) || calc.gifts.iter().any(|g| g.campaign == id);
        if value == 0 && items == 0 && !gave_other {
            continue;
        }
        out.extend(campaign_limits(env, c, limits).into_iter().map(|k| k.charge(value, items)));
    }
    // The restrictions: a receipt with campaign discounts counts once for its customer;
    // its discounted lines count as promotional items. (Coupon discounts, whose sources
    // are `coupon:CODE` — a campaign id has no ':' — have limits of their own.)
    let restricted = restriction_limits(env);
    let mut discount = 0i64;
    let mut items = 0i64;
    for l in calc.lines.iter().filter(|_| !restricted.is_empty()) {
        let by_campaigns: i64 =
            l.applied.iter().filter(|a| a.kind == AppliedKind::Discount && !a.campaign.contains(':')).map(|a| a.amount).sum();
        if by_campaigns > 0 {
            discount += by_campaigns;
            items += milli(l.qty);
        }
    }
    if discount > 0 {
        for k in restricted {
            let (value, items) = if k.key == PROMO_ITEMS { (0, items) } else { (discount, 0) };
            debug_assert!(k.key == PROMO_ITEMS || k.key.starts_with(DISCOUNTED_RECEIPTS));
            out.push(k.charge(value, items));
        }
    }
    for cc in calc.coupons.iter().filter(|c| c.status == CouponStatus::Applied) {
        let Some(series) = cc.series.as_ref().and_then(|s| env.program.coupon_series.get(s)) else { continue };
        // One use of each of the code's counters: the code, the series, the customer's.
        let customer_key = env.ctx.customer.as_ref().map(|c| coupon_customer_key(&cc.code, c.id));
        let counters = [
            (Some(format!("coupon:{}:{}", series.id, cc.code)), series.uses_per_code),
            (series.uses_total.map(|_| coupon_series_key(&series.id)), series.uses_total),
            (customer_key.filter(|_| series.uses_per_customer.is_some()), series.uses_per_customer),
        ];
        for (key, max) in counters {
            let Some(key) = key else { continue };
            let max_uses = max.map(i64::from);
            out.push(UsageCharge { key, period: "all".into(), uses: 1, value: cc.discount, items: 0, max_uses, max_value: None, max_items: None });
        }
    }
    out
}

#[cfg(test)]
mod tests;
