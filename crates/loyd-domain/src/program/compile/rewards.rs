//! Rewards and their rates, each checked against the reward's type.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::Problems;
use crate::ids::{AssetCode, ConfigCode};
use crate::said;
use crate::program::*;

fn compile_rate(r: &RateSpec, path: &str, p: &mut Problems) -> Option<Rate> {
    let forms = [
        r.percent.map(|v| Rate::Percent(v.0)),
        match (r.per, r.units) {
            (Some(per), Some(units)) => Some(Rate::Per { per: per.0, units: units.0 }),
            _ => None,
        },
        match (r.step, r.units) {
            (Some(step), Some(units)) => Some(Rate::Step { step: step.0, units: units.0 }),
            _ => None,
        },
        r.per_item.map(|v| Rate::PerItem(v.0)),
        r.fixed.map(|v| Rate::Fixed(v.0)),
    ];
    let given: Vec<Rate> = forms.into_iter().flatten().collect();
    if given.len() != 1 || (r.per.is_some() && r.step.is_some()) || (r.units.is_some() && r.per.is_none() && r.step.is_none()) {
        p.push(path, said::rate_exactly_one());
        return None;
    }
    let rate = given[0];
    let positive = |v: Decimal| v > Decimal::ZERO;
    let ok = match rate {
        Rate::Percent(v) | Rate::PerItem(v) | Rate::Fixed(v) => v >= Decimal::ZERO,
        Rate::Per { per, units } | Rate::Step { step: per, units } => positive(per) && units >= Decimal::ZERO,
    };
    if !ok {
        p.push(path, said::rate_not_negative());
        return None;
    }
    Some(rate)
}

pub(super) fn compile_reward(
    r: &RewardSpec,
    rpath: &str,
    currencies: &BTreeMap<AssetCode, Currency>,
    known_counter: &dyn Fn(&ConfigCode) -> bool,
    coupon_series: &BTreeMap<ConfigCode, CouponSeries>,
    p: &mut Problems,
    names: &mut Names,
) -> Option<Reward> {
    let rate_given = r.rate() != RateSpec::default() || !r.exceptions.is_empty();
    let stray = |p: &mut Problems, what: &str| p.push(rpath, said::reward_stray(what));
    let multi_buy_given = r.group.is_some()
        || r.free.is_some()
        || r.pay.is_some()
        || r.free_unit.is_some()
        || r.free_sku.is_some()
        || r.max_groups.is_some();
    if r.kind != RewardKind::MultiBuy && multi_buy_given {
        stray(p, "group, free, pay, free_unit, free_sku or max_groups (they are for type = \"multi_buy\")");
    }
    if r.kind != RewardKind::Discount && r.round_per_line {
        stray(p, "round_per_line (it is for percent discounts)");
    }
    match r.kind {
        RewardKind::Accrue => {
            if r.amount.is_some() || r.price.is_some() || r.accumulated.is_some() || r.coupon_series.is_some() || r.gift.is_some() {
                stray(p, "amount, price, accumulated, coupon_series or gift");
            }
            let currency = match &r.currency {
                Some(c) if currencies.contains_key(c) => Some(c.clone()),
                Some(c) => {
                    p.push(format!("{rpath}.currency"), said::unknown_currency(c));
                    None
                }
                None => {
                    p.push(format!("{rpath}.currency"), said::accrual_needs_currency());
                    None
                }
            };
            let rate = compile_rate(&r.rate(), rpath, p);
            let mut ex = Vec::new();
            for (k, e) in r.exceptions.iter().enumerate() {
                if let Some(rate) = compile_rate(&e.rate(), &format!("{rpath}.exceptions[{k}]"), p) {
                    ex.push((Goods::compile(&e.goods(), names), rate));
                }
            }
            Some(Reward::Accrue { currency: currency?, rate: rate?, goods: Goods::compile(&r.goods(), names), exceptions: ex })
        }
        RewardKind::Discount => {
            let rate_only = r.per.is_some() || r.step.is_some() || r.units.is_some() || r.per_item.is_some() || r.fixed.is_some();
            if r.currency.is_some() || rate_only || !r.exceptions.is_empty() || r.coupon_series.is_some() || r.gift.is_some() {
                stray(p, "currency, a rate, exceptions, coupon_series or gift");
            }
            let goods = Goods::compile(&r.goods(), names);
            match (r.percent, r.amount, r.price, &r.accumulated) {
                (Some(pc), None, None, None) if pc.0 >= Decimal::ZERO && pc.0 <= Decimal::ONE_HUNDRED => {
                    Some(Reward::DiscountPercent { percent: pc.0, goods, per_line: r.round_per_line })
                }
                (None, Some(a), None, None) if a.0 >= Decimal::ZERO => Some(Reward::DiscountAmount { amount: a.0, goods }),
                (None, None, Some(pr), None) if pr.0 >= Decimal::ZERO => Some(Reward::FixedPrice { price: pr.0, goods }),
                (None, None, None, Some(acc)) => {
                    if !known_counter(&acc.counter) {
                        p.push(format!("{rpath}.accumulated.counter"), said::unknown_counter(&acc.counter));
                    }
                    let ok = acc.step.0 > Decimal::ZERO
                        && acc.base.0 >= Decimal::ZERO
                        && acc.max.0 <= Decimal::ONE_HUNDRED
                        && acc.base.0 <= acc.max.0;
                    if !ok {
                        p.push(format!("{rpath}.accumulated"), said::accumulated_range());
                    }
                    Some(Reward::Accumulated {
                        counter: acc.counter.clone(),
                        base: acc.base.0,
                        step: acc.step.0,
                        per_step: acc.per_step.0,
                        max: acc.max.0,
                        goods,
                        per_line: r.round_per_line,
                    })
                }
                _ => {
                    p.push(rpath, said::discount_exactly_one());
                    None
                }
            }
        }
        RewardKind::MultiBuy => {
            if rate_given || r.amount.is_some() || r.currency.is_some() || r.accumulated.is_some() || r.coupon_series.is_some() || r.gift.is_some() {
                stray(p, "a rate, amount, currency, accumulated, coupon_series or gift");
            }
            compile_multi_buy(r, rpath, p, names).map(Reward::MultiBuy)
        }
        RewardKind::IssueCoupon => {
            if rate_given || r.amount.is_some() || r.price.is_some() || r.currency.is_some() || r.gift.is_some() {
                stray(p, "a rate, amount, price, currency or gift");
            }
            match &r.coupon_series {
                Some(s) if coupon_series.get(s).is_some_and(|c| c.kind == CouponKind::Unique) => {
                    Some(Reward::IssueCoupon { series: s.clone() })
                }
                Some(s) => {
                    p.push(format!("{rpath}.coupon_series"), said::coupon_series_not_unique(s));
                    None
                }
                None => {
                    p.push(format!("{rpath}.coupon_series"), said::coupon_series_needed());
                    None
                }
            }
        }
        RewardKind::Gift => {
            if rate_given || r.amount.is_some() || r.price.is_some() || r.currency.is_some() || r.coupon_series.is_some() {
                stray(p, "a rate, amount, price, currency or coupon_series");
            }
            match &r.gift {
                Some(g) if !g.trim().is_empty() && g.chars().count() <= 100 => Some(Reward::Gift { gift: g.clone() }),
                _ => {
                    p.push(format!("{rpath}.gift"), said::gift_needs_name());
                    None
                }
            }
        }
    }
}

/// A multi-buy: the group, exactly one offer (free units, pay for, or a bundle price)
/// and which units are free.
fn compile_multi_buy(r: &RewardSpec, rpath: &str, p: &mut Problems, names: &mut Names) -> Option<MultiBuy> {
    let Some(group) = r.group.filter(|g| *g >= 1) else {
        p.push(format!("{rpath}.group"), said::multibuy_needs_group());
        return None;
    };
    let offer = match (r.free, r.pay, r.price) {
        (Some(free), None, None) if free >= 1 && free <= group => GroupOffer::Free(free),
        (Some(_), None, None) => {
            p.push(format!("{rpath}.free"), said::multibuy_free_range(group));
            return None;
        }
        (None, Some(pay), None) if pay < group => GroupOffer::Free(group - pay),
        (None, Some(_), None) => {
            p.push(format!("{rpath}.pay"), said::multibuy_pay_fewer(group));
            return None;
        }
        (None, None, Some(price)) if price.0 >= Decimal::ZERO => GroupOffer::Price(price.0),
        (None, None, Some(_)) => {
            p.push(format!("{rpath}.price"), said::bundle_price_negative());
            return None;
        }
        _ => {
            p.push(rpath, said::multibuy_exactly_one());
            return None;
        }
    };
    let free = match (&r.free_sku, r.free_unit) {
        (Some(_), Some(_)) => {
            p.push(format!("{rpath}.free_sku"), said::free_sku_or_unit());
            return None;
        }
        (Some(sku), None) if matches!(offer, GroupOffer::Price(_)) => {
            p.push(format!("{rpath}.free_sku"), said::bundle_has_no_free(sku));
            return None;
        }
        (Some(sku), None) if !sku.trim().is_empty() => FreeUnits::Sku(sku.clone()),
        (Some(_), None) => {
            p.push(format!("{rpath}.free_sku"), said::free_sku_names_item());
            return None;
        }
        (None, Some(FreeUnit::Same)) => FreeUnits::Same,
        (None, _) => FreeUnits::Cheapest,
    };
    if r.max_groups == Some(0) {
        p.push(format!("{rpath}.max_groups"), said::max_groups_at_least_one());
    }
    let mut goods = r.goods();
    if let FreeUnits::Sku(sku) = &free {
        // The reward product does not count toward the groups.
        goods.exclude_skus.push(sku.clone());
    }
    Some(MultiBuy { group, offer, free, goods: Goods::compile(&goods, names), max_groups: r.max_groups })
}
