//! Accruals: units earned on each line's base, by rate, with exceptions per goods group,
//! within the accrual restriction; and the store-money value of what was accrued.

use super::*;

/// Units of a rate on a base of `base` store-minor units and `qty` items.
/// `fx` is what one unit of the money the currency is counted in is worth in store money
/// ([`Currency::rate_in`]): the base is converted into that money, within the one rounding.
pub(super) fn rate_units(rate: Rate, base: i64, qty: Decimal, store: Scale, cur: &Currency, fx: Decimal) -> Result<i64, ReceiptError> {
    let (to, mode) = (cur.scale, cur.rounding);
    let per = |d: Decimal| if fx == Decimal::ONE { d } else { d * fx };
    match rate {
        Rate::Percent(p) => scaled(base, store, p, per(Decimal::ONE_HUNDRED), to, mode),
        Rate::Per { per: each, units } => scaled(base, store, units, per(each), to, mode),
        Rate::Step { step, units } => {
            let steps = scaled(base, store, Decimal::ONE, per(step), Scale::ZERO, Rounding::Down)?;
            scaled(steps, Scale::ZERO, units, Decimal::ONE, to, mode)
        }
        Rate::PerItem(u) => round(qty * u, to, mode),
        Rate::Fixed(u) => round(u, to, mode),
    }
}

pub(super) fn accrual_value(program: &Program, currency: &AssetCode, units: i64, store: &crate::receipt::StoreContext) -> i64 {
    program.currency(currency).map_or(0, |cur| cur.worth(units, &store.currency, store.scale))
}

/// Gives every line a zero for each accrual `campaigns` may make, so that an accrual
/// writes only the lines it touches; unused columns are cut off afterwards.
pub(super) fn accrual_columns<'c>(w: &mut Work<'_>, campaigns: impl Iterator<Item = &'c Campaign>) {
    let columns = campaigns.flat_map(|c| &c.rewards).filter(|r| matches!(r, Reward::Accrue { .. })).count();
    for l in &mut w.lines {
        l.accrued_units.clear();
        l.accrued_units.resize(columns, 0);
    }
}

/// Each line's accrual base: what remains to pay on it, plus what was paid with
/// currencies that still earn (`accrue_on_redeemed`).
pub(super) fn accrual_bases(w: &Work<'_>, redeemed: &[RedeemedCalc], program: &Program) -> Vec<i64> {
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
pub(super) fn accrue(
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
    // A currency counted in another store currency earns here only at a configured rate.
    let Some(fx) = cur.rate_in(&env.ctx.store.currency) else { return Ok(()) };
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
        let units = rate_units(rate, base, qty, scale, cur, fx)?;
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
        w.lines[i].accrued_units[k] = u;
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
pub(super) fn cap_accruals(env: &Env<'_>, w: &mut Work<'_>, accrued: &mut [AccrualCalc]) {
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
            }
            accrued[k].units = new;
        }
    }
}
