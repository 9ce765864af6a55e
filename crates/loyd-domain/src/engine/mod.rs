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

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::alloc::allocate;
use crate::ids::{AssetCode, ConfigCode};
use crate::money::{self, Minor, Rounding, Scale};
use crate::program::{Campaign, CouponDiscount, Currency, Goods, Program, Rate, Reward};
use crate::receipt::{
    AccrualCalc, Applied, AppliedKind, BalanceCalc, BalanceView, Calculation, Context, ConversionCalc, CouponCalc,
    CouponStatus, GiftCalc, GiftItem, IssueCalc, LineCalc, Messages, Receipt, ReceiptError, RedeemAmount, RedeemedCalc,
    UsageCharge,
};

mod lines;
mod select;

use lines::LineSet;
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

/// Units of a rate on a base of `base` store-minor units and `qty` items.
fn rate_units(rate: Rate, base: i64, qty: Decimal, store: Scale, cur: &Currency) -> Result<i64, ReceiptError> {
    let (to, mode) = (cur.scale, cur.rounding);
    match rate {
        Rate::Percent(p) => scaled(base, store, p, Decimal::ONE_HUNDRED, to, mode),
        Rate::Per { per, units } => scaled(base, store, units, per, to, mode),
        Rate::Step { step, units } => {
            let steps = scaled(base, store, Decimal::ONE, step, Scale::ZERO, Rounding::Down)?;
            scaled(steps, Scale::ZERO, units, Decimal::ONE, to, mode)
        }
        Rate::PerItem(u) => round(qty * u, to, mode),
        Rate::Fixed(u) => round(u, to, mode),
    }
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
        if let Some(customer) = &ctx.customer {
            keys.push((coupon_customer_key(&c.code, customer.id), "all".into()));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn coupon_key(c: &crate::receipt::CouponContext) -> String {
    format!("coupon:{}:{}", c.series, c.code)
}

fn coupon_customer_key(code: &str, customer: i64) -> String {
    format!("coupon:{code}:c{customer}")
}

/// Calculates a receipt. See the module documentation for the order of work.
pub fn calculate(receipt: &Receipt, ctx: &Context, program: &Program) -> Result<Calculation, ReceiptError> {
    let env = Env::new(receipt, ctx, program);
    let mut chosen = stack(&env, candidates(&env));
    loop {
        let calc = run(&env, &chosen)?;
        match over_budget(&env, &calc, &chosen) {
            Some(i) => {
                chosen.remove(i);
            }
            None => return Ok(calc),
        }
    }
}

/// What one campaign alone would give the customer on this receipt, in store money:
/// its discounts plus its accruals at their value (redemptions and other campaigns
/// aside). Used to pick the best campaign of a stack group.
fn isolated_value(env: &Env<'_>, w: &mut Work<'_>, c: &Campaign) -> Result<i64, ReceiptError> {
    w.reset();
    for reward in &c.rewards {
        discount(env, w, c, reward)?;
    }
    let mut value: i64 = w.lines.iter().map(|l| l.discount).sum();
    if env.ctx.customer.is_some() {
        let mut accrued = Vec::new();
        let bases: Vec<i64> = (0..w.lines.len()).map(|i| w.remaining(i)).collect();
        accrual_columns(w, std::iter::once(c));
        let mut scratch = Scratch::default();
        for reward in &c.rewards {
            accrue(env, w, &mut scratch, &bases, &mut accrued, c, reward)?;
        }
        value += accrued.iter().map(|a| accrual_value(env.program, &a.currency, a.units, env.ctx.store.scale)).sum::<i64>();
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
    }
}

fn accrual_value(program: &Program, currency: &AssetCode, units: i64, store: Scale) -> i64 {
    let Some(cur) = program.currency(currency) else { return 0 };
    let Some(value) = cur.value else { return 0 };
    money::round_scaled(units, cur.scale, value, Decimal::ONE, store, Rounding::Down).unwrap_or(0)
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
        for reward in &c.rewards {
            discount(env, &mut w, c, reward)?;
        }
    }
    let coupons = apply_coupons(env, &mut w)?;
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
        charges: Vec::new(),
        conversions,
        tier: env.levels.first().map(|(_, l)| l.clone()),
        campaigns: applied_campaigns,
    };
    calc.charges = charges(env, &calc, campaigns);
    Ok(calc)
}

fn discount(env: &Env<'_>, w: &mut Work<'_>, c: &Campaign, reward: &Reward) -> Result<(), ReceiptError> {
    let scale = env.ctx.store.scale;
    let receipt = env.receipt;
    let id = c.id.shared();
    let percent_off = |w: &mut Work<'_>, percent: Decimal, goods: &Goods| -> Result<(), ReceiptError> {
        for i in env.lines_of(goods).iter() {
            let d = percent_of(w.remaining(i), percent, scale)?;
            w.add_discount(i, d, &id);
        }
        Ok(())
    };
    match reward {
        Reward::DiscountPercent { percent, goods } => percent_off(w, *percent, goods)?,
        Reward::Accumulated { counter, base, step, per_step, max, goods } => {
            let value = env.ctx.customer.as_ref().and_then(|x| x.counters.get(counter.as_str())).copied().unwrap_or_default();
            let percent = (*base + *per_step * (value / *step).floor()).min(*max);
            percent_off(w, percent, goods)?;
        }
        Reward::DiscountAmount { amount, goods } => {
            let idx = matching(env, goods);
            let weights: Vec<i64> = idx.iter().map(|&i| w.remaining(i)).collect();
            let wanted = money::to_minor_exact(*amount, scale).map_err(|e| ReceiptError::invalid(e.to_string()))?;
            let amount = wanted.min(weights.iter().sum());
            if !idx.is_empty() && amount > 0 {
                for (&i, d) in idx.iter().zip(allocate(amount, &weights)) {
                    w.add_discount(i, d, &id);
                }
            }
        }
        Reward::FixedPrice { price, goods } => {
            for i in env.lines_of(goods).iter() {
                let target = round(*price * receipt.lines[i].qty, scale, Rounding::HalfUp)?;
                let d = w.remaining(i) - target;
                w.add_discount(i, d, &id);
            }
        }
        Reward::Accrue { .. } | Reward::IssueCoupon { .. } | Reward::Gift { .. } => {}
    }
    Ok(())
}

/// Checks and applies the receipt's coupons, in the order given.
fn apply_coupons(env: &Env<'_>, w: &mut Work<'_>) -> Result<Vec<CouponCalc>, ReceiptError> {
    let (receipt, ctx, program) = (env.receipt, env.ctx, env.program);
    let scale = ctx.store.scale;
    let mut out: Vec<CouponCalc> = Vec::new();
    for typed in &receipt.coupons {
        // A promo code as typed, or a generated one with confusable letters read right.
        let promo = crate::coupons::canonical(typed);
        let generated = crate::coupons::normalize(typed);
        let code = if ctx.coupons.iter().any(|c| c.code == promo) { promo } else { generated };
        let reject = |reason: ReceiptError, series: Option<ConfigCode>| CouponCalc {
            code: code.clone(),
            status: CouponStatus::Rejected,
            reason: Some(reason),
            series,
            discount: 0,
        };
        if out.iter().any(|o| o.code == code) {
            out.push(reject(ReceiptError::CouponUsed(code.clone()), None));
            continue;
        }
        let Some(cc) = ctx.coupons.iter().find(|c| c.code == code) else {
            out.push(reject(ReceiptError::CouponUnknown(code.clone()), None));
            continue;
        };
        let Some(series) = program.coupon_series.get(&cc.series) else {
            out.push(reject(ReceiptError::CouponUnknown(code.clone()), None));
            continue;
        };
        let sid = Some(series.id.clone());
        let at = receipt.at;
        if cc.void
            || series.valid_from.is_some_and(|f| at < f)
            || series.valid_until.is_some_and(|u| at >= u)
            || cc.valid_until.is_some_and(|u| at >= u)
        {
            out.push(reject(ReceiptError::CouponExpired(code.clone()), sid));
            continue;
        }
        let customer = ctx.customer.as_ref();
        if (series.customers_only && customer.is_none()) || cc.issued_to.is_some_and(|owner| customer.is_none_or(|c| c.id != owner)) {
            out.push(reject(ReceiptError::CouponNotApplicable(code.clone()), sid));
            continue;
        }
        let uses = |key: String| ctx.usage.get(&(key, "all".to_owned())).map(|u| u.uses).unwrap_or(0);
        let code_used = series.uses_per_code.is_some_and(|m| uses(coupon_key(cc)) >= i64::from(m));
        let customer_used = match (series.uses_per_customer, customer) {
            (Some(m), Some(c)) => uses(coupon_customer_key(&code, c.id)) >= i64::from(m),
            _ => false,
        };
        if code_used || customer_used {
            out.push(reject(ReceiptError::CouponUsed(code.clone()), sid));
            continue;
        }
        let idx: Vec<usize> = matching(env, &series.goods).into_iter().filter(|&i| w.remaining(i) > 0).collect();
        if idx.is_empty() {
            out.push(reject(ReceiptError::CouponNotApplicable(code.clone()), sid));
            continue;
        }
        let mut parts: Vec<i64> = match series.discount {
            CouponDiscount::Percent(p) => idx
                .iter()
                .map(|&i| percent_of(w.remaining(i), p, scale))
                .collect::<Result<_, _>>()?,
            CouponDiscount::Amount(a) => {
                let weights: Vec<i64> = idx.iter().map(|&i| w.remaining(i)).collect();
                let amount = money::to_minor_exact(a, scale).map_err(|e| ReceiptError::invalid(e.to_string()))?;
                allocate(amount.min(weights.iter().sum()), &weights)
            }
        };
        if let Some(share) = series.max_share {
            let open: i64 = (0..w.lines.len()).map(|i| w.remaining(i)).sum();
            let cap = share_of(open, share, scale)?;
            let sum: i64 = parts.iter().sum();
            if sum > cap {
                parts = allocate(cap, &parts);
            }
        }
        let source: std::sync::Arc<str> = format!("coupon:{code}").into();
        let before: i64 = w.lines.iter().map(|l| l.discount).sum();
        for (&i, d) in idx.iter().zip(parts) {
            w.add_discount(i, d, &source);
        }
        let given = w.lines.iter().map(|l| l.discount).sum::<i64>() - before;
        out.push(CouponCalc { code: code.clone(), status: CouponStatus::Applied, reason: None, series: sid, discount: given });
    }
    Ok(out)
}

/// Scales every line's discount down to the receipt-wide limit, if one is exceeded.
fn cap_discounts(env: &Env<'_>, w: &mut Work<'_>) -> Result<(), ReceiptError> {
    let r = &env.restrictions;
    let scale = env.ctx.store.scale;
    let mut cap = i64::MAX;
    if let Some(share) = r.max_discount_share {
        cap = cap.min(share_of(env.total, share, scale)?);
    }
    if let Some(amount) = r.max_discount_amount {
        cap = cap.min(money::to_minor_exact(amount, scale).map_err(|e| ReceiptError::invalid(e.to_string()))?);
    }
    let weights: Vec<i64> = w.lines.iter().map(|l| l.discount).collect();
    if weights.iter().sum::<i64>() <= cap {
        return Ok(());
    }
    for (line, new) in w.lines.iter_mut().zip(allocate(cap, &weights)) {
        // Share the line's reduced discount among the discounts that made it.
        let idx: Vec<usize> = line.applied.iter().enumerate().filter(|(_, a)| a.kind == AppliedKind::Discount).map(|(i, _)| i).collect();
        let parts: Vec<i64> = idx.iter().map(|&i| line.applied[i].amount).collect();
        for (&i, p) in idx.iter().zip(allocate(new, &parts)) {
            line.applied[i].amount = p;
        }
        line.applied.retain(|a| a.kind != AppliedKind::Discount || a.amount > 0);
        line.discount = new;
    }
    Ok(())
}

fn pay_with_gift_cards(w: &Work<'_>, due: i64) -> Result<(Vec<GiftCalc>, i64), ReceiptError> {
    let (receipt, ctx) = (w.receipt, w.ctx);
    let scale = ctx.store.scale;
    let mut gift_cards = Vec::new();
    let mut gift_total = 0i64;
    for g in &receipt.gift_cards {
        let card = ctx
            .gift_cards
            .iter()
            .find(|c| c.number == g.number)
            .ok_or_else(|| ReceiptError::UnknownCard(g.number.clone()))?;
        crate::cards::check_usable(&card.number, card.state, card.valid_until, receipt.at)?;
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
    Ok((gift_cards, gift_total))
}

/// Gives every line a zero for each accrual `campaigns` may make, so that an accrual
/// writes only the lines it touches; unused columns are cut off afterwards.
fn accrual_columns<'c>(w: &mut Work<'_>, campaigns: impl Iterator<Item = &'c Campaign>) {
    let columns = campaigns.flat_map(|c| &c.rewards).filter(|r| matches!(r, Reward::Accrue { .. })).count();
    for l in &mut w.lines {
        l.accrued_units.clear();
        l.accrued_units.resize(columns, 0);
    }
}

/// Each line's accrual base: what remains to pay on it, plus what was paid with
/// currencies that still earn (`accrue_on_redeemed`).
fn accrual_bases(w: &Work<'_>, redeemed: &[RedeemedCalc], program: &Program) -> Vec<i64> {
    let earns: Vec<bool> = redeemed
        .iter()
        .map(|r| program.currency(&r.currency).and_then(|c| c.redeem.as_ref()).is_some_and(|rd| rd.accrue_on_redeemed))
        .collect();
    w.lines
        .iter()
        .map(|line| {
            let mut base = line.amount - line.discount - line.redeemed_value;
            for (k, r) in redeemed.iter().enumerate().filter(|(k, r)| earns[*k] && r.units != 0) {
                let units = line.redeemed_units.get(k).copied().unwrap_or(0);
                // The line's share of this redemption's value, in proportion to its units.
                base += i64::try_from(i128::from(r.value) * i128::from(units) / i128::from(r.units)).unwrap_or(0);
            }
            base
        })
        .collect()
}

/// The accrual of one `Reward::Accrue` of campaign `c`, on each line's base in `bases`.
fn accrue(
    env: &Env<'_>,
    w: &mut Work<'_>,
    scratch: &mut Scratch,
    bases: &[i64],
    accrued: &mut Vec<AccrualCalc>,
    c: &Campaign,
    reward: &Reward,
) -> Result<(), ReceiptError> {
    let Reward::Accrue { currency, rate, goods, exceptions } = reward else { return Ok(()) };
    let (receipt, program) = (env.receipt, env.program);
    let scale = env.ctx.store.scale;
    let Some(cur) = program.currency(currency) else { return Ok(()) };
    let Scratch { touched, idx, weights, parts, splitter, sets } = scratch;
    touched.clear();
    // A line takes the rate of the first exception it falls under, else the campaign's.
    sets.clear();
    let mut claimed = LineSet::empty(receipt.lines.len());
    for (g, r) in exceptions {
        let mut mine = env.lines_of(g);
        mine.remove_all(&claimed);
        claimed.union(&mine);
        sets.push((mine, *r));
    }
    let mut rest = env.lines_of(goods);
    rest.remove_all(&claimed);
    sets.push((rest, *rate));
    for (set, rate) in sets.iter() {
        let rate = *rate;
        idx.clear();
        idx.extend(set.iter());
        if idx.is_empty() {
            continue;
        }
        let base: i64 = idx.iter().map(|&i| bases[i]).sum();
        let qty: Decimal = match rate {
            Rate::PerItem(_) => idx.iter().map(|&i| receipt.lines[i].qty).sum(),
            _ => Decimal::ZERO,
        };
        let units = rate_units(rate, base, qty, scale, cur)?;
        if units <= 0 {
            continue;
        }
        weights.clear();
        match rate {
            Rate::PerItem(_) => weights.extend(idx.iter().map(|&i| milli(receipt.lines[i].qty))),
            _ => weights.extend(idx.iter().map(|&i| bases[i])),
        };
        splitter.split_into(units, weights, parts);
        // The sets are disjoint: each line gets units from one rate at most.
        touched.extend(idx.iter().copied().zip(parts.iter().copied()));
    }
    let units: i64 = touched.iter().map(|(_, u)| u).sum();
    if units <= 0 {
        return Ok(());
    }
    // This accrual's column; every line has room for it (see `accrual_columns`).
    let k = accrued.len();
    for &(i, u) in touched.iter().filter(|(_, u)| *u > 0) {
        let l = &mut w.lines[i];
        l.accrued_units[k] = u;
        l.applied.push(Applied { campaign: c.id.shared(), kind: AppliedKind::Accrual, currency: Some(currency.clone()), amount: u });
    }
    accrued.push(AccrualCalc {
        currency: currency.clone(),
        units,
        campaign: c.id.clone(),
        terms: env.lot_terms(cur),
    });
    Ok(())
}

/// Scales the accruals of a currency down to the per-receipt maximum, if exceeded.
fn cap_accruals(env: &Env<'_>, w: &mut Work<'_>, accrued: &mut [AccrualCalc]) {
    for (currency, max) in &env.restrictions.max_accrual {
        let Some(cur) = env.program.currency(currency) else { continue };
        let Ok(max) = money::round_to_minor(*max, cur.scale, Rounding::Down) else { continue };
        let idx: Vec<usize> = accrued.iter().enumerate().filter(|(_, a)| a.currency == *currency).map(|(k, _)| k).collect();
        let weights: Vec<i64> = idx.iter().map(|&k| accrued[k].units).collect();
        if weights.iter().sum::<i64>() <= max {
            continue;
        }
        for (&k, new) in idx.iter().zip(allocate(max, &weights)) {
            let parts: Vec<i64> = w.lines.iter().map(|l| l.accrued_units[k]).collect();
            for (l, p) in w.lines.iter_mut().zip(allocate(new, &parts)) {
                l.accrued_units[k] = p;
                let campaign = &accrued[k].campaign;
                for a in l.applied.iter_mut().filter(|a| a.kind == AppliedKind::Accrual && *a.campaign == *campaign.as_str() && a.currency.as_ref() == Some(currency)) {
                    a.amount = p;
                }
                l.applied.retain(|a| a.kind != AppliedKind::Accrual || a.amount > 0);
            }
            accrued[k].units = new;
        }
    }
}

/// A redemption and its parts per line: (line index, value, units).
type Redeemed = (RedeemedCalc, Vec<(usize, i64, i64)>);

/// Works out one redemption: how many units, their value, and how both spread over the
/// payable lines.
fn redeem(
    w: &mut Work<'_>,
    code: AssetCode,
    amount: RedeemAmount,
    program: &Program,
    restrictions: &crate::program::Restrictions,
    earlier: &[RedeemedCalc],
) -> Result<Option<Redeemed>, ReceiptError> {
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
    let mut cap_value = match rules.max_share {
        Some(share) => share_of(payable_total, share, store)?,
        None => payable_total,
    };
    // Accumulated currencies together may pay at most a share of the receipt.
    if cur.kind == crate::config::CurrencyKind::Points
        && let Some(share) = restrictions.max_redeem_share
    {
        let after_discounts: i64 = w.lines.iter().map(|l| l.amount - l.discount).sum();
        let points_so_far: i64 = earlier
            .iter()
            .filter(|r| program.currency(&r.currency).is_some_and(|c| c.kind == crate::config::CurrencyKind::Points))
            .map(|r| r.value)
            .sum();
        let global = share_of(after_discounts, share, store)? - points_so_far;
        cap_value = cap_value.min(global.max(0));
    }
    // Store-money value of `u` minor units of the currency, never more than they are worth.
    let value_of = |u: i64| scaled(u, cur.scale, value, Decimal::ONE, store, Rounding::Down);
    // The most units whose value fits under the cap.
    let cap_units = scaled(cap_value, store, Decimal::ONE, value, cur.scale, Rounding::Down)?;
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
    let scale = env.ctx.store.scale;
    let mut out = Vec::new();
    for c in campaigns {
        let Some(limits) = &c.limits else { continue };
        let id = c.id.as_str();
        let mut value = 0i64;
        let mut items = 0i64;
        for l in &calc.lines {
            let mine = l.applied.iter().filter(|a| &*a.campaign == id);
            let mut touched = false;
            for a in mine {
                touched = true;
                value += match (a.kind, &a.currency) {
                    (AppliedKind::Accrual, Some(cur)) => accrual_value(env.program, cur, a.amount, scale),
                    _ => a.amount,
                };
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
        let key = format!("coupon:{}:{}", series.id, cc.code);
        out.push(UsageCharge {
            key,
            period: "all".into(),
            uses: 1,
            value: cc.discount,
            items: 0,
            max_uses: series.uses_per_code.map(i64::from),
            max_value: None,
            max_items: None,
        });
        if let (Some(max), Some(customer)) = (series.uses_per_customer, &env.ctx.customer) {
            out.push(UsageCharge {
                key: coupon_customer_key(&cc.code, customer.id),
                period: "all".into(),
                uses: 1,
                value: cc.discount,
                items: 0,
                max_uses: Some(i64::from(max)),
                max_value: None,
                max_items: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
