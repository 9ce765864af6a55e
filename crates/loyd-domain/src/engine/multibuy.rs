//! Multi-buy offers on whole units: "buy 3, get the cheapest free" per multiple, "3 for
//! the price of 2", a bundle price ("2 for 5.00"), groups of one item each, and a free
//! reward product the POS is told to add when the receipt lacks it.
//!
//! A line's units are its whole quantity (weighed goods count their whole units); a
//! unit's price is what is still to pay on its line ÷ the line's quantity. The value a
//! multi-buy gives is worked out exactly, rounded once, and allocated over its lines.

use rust_decimal::prelude::ToPrimitive;

use super::*;
use crate::program::{FreeUnits, GroupOffer, MultiBuy};
use crate::receipt::ProductToAdd;

/// Whole units of line `i`.
fn whole_units(env: &Env<'_>, i: usize) -> i64 {
    env.receipt.lines[i].qty.floor().to_i64().unwrap_or(0)
}

pub(super) fn multi_buy(env: &Env<'_>, w: &mut Work<'_>, c: &Campaign, m: &MultiBuy) -> Result<(), ReceiptError> {
    let open = |w: &Work<'_>, i: usize| w.remaining(i) > 0 && whole_units(env, i) >= 1;
    let lines: Vec<usize> = env.lines_of(&m.goods).iter().filter(|&i| open(w, i)).collect();
    let mut groups_left = m.max_groups.map(i64::from).unwrap_or(i64::MAX);
    match &m.free {
        FreeUnits::Cheapest => give(env, w, c, m, &lines, &lines, &mut groups_left, None),
        FreeUnits::Same => {
            let mut skus: Vec<&str> = Vec::new();
            for &i in &lines {
                let sku = env.receipt.lines[i].sku.as_str();
                if !skus.contains(&sku) {
                    skus.push(sku);
                }
            }
            for sku in skus {
                let item: Vec<usize> = lines.iter().copied().filter(|&i| env.receipt.lines[i].sku == sku).collect();
                give(env, w, c, m, &item, &item, &mut groups_left, None)?;
            }
            Ok(())
        }
        FreeUnits::Sku(sku) => {
            let free: Vec<usize> = (0..env.receipt.lines.len()).filter(|&i| env.receipt.lines[i].sku == *sku && open(w, i)).collect();
            give(env, w, c, m, &lines, &free, &mut groups_left, Some(sku))
        }
    }
}

/// The groups the units of `counted` make (at most `groups_left`), and their discount
/// on units of `free_from`. With a reward product `sku`, free units the receipt lacks are
/// asked for in [`Work::add_products`].
#[allow(clippy::too_many_arguments)]
fn give(
    env: &Env<'_>,
    w: &mut Work<'_>,
    c: &Campaign,
    m: &MultiBuy,
    counted: &[usize],
    free_from: &[usize],
    groups_left: &mut i64,
    sku: Option<&str>,
) -> Result<(), ReceiptError> {
    let units: i64 = counted.iter().map(|&i| whole_units(env, i)).sum();
    let groups = (units / i64::from(m.group)).min(*groups_left);
    if groups <= 0 {
        return Ok(());
    }
    *groups_left -= groups;
    let scale = env.ctx.store.scale;
    let unit_price = |i: usize| money::from_minor(w.remaining(i), scale) / env.receipt.lines[i].qty;
    // (line, units taken) from the cheapest units up, or (bundles) the dearest down.
    let (pool, wanted, cheapest_first) = match m.offer {
        GroupOffer::Free(k) => (free_from, groups * i64::from(k), true),
        GroupOffer::Price(_) => (counted, groups * i64::from(m.group), false),
    };
    let mut order: Vec<(usize, Decimal)> = pool.iter().map(|&i| (i, unit_price(i))).collect();
    if cheapest_first {
        order.sort_by_key(|a| a.1);
    } else {
        order.sort_by_key(|a| std::cmp::Reverse(a.1));
    }
    let mut left = wanted;
    let mut taken: Vec<(usize, Decimal)> = Vec::new();
    for (i, price) in order {
        if left == 0 {
            break;
        }
        let t = whole_units(env, i).min(left);
        left -= t;
        taken.push((i, price * Decimal::from(t)));
    }
    if let (Some(sku), true) = (sku, left > 0) {
        w.add_products.push(ProductToAdd { sku: sku.to_owned(), quantity: Decimal::from(left), campaign: c.id.as_str().to_owned() });
    }
    if taken.is_empty() {
        return Ok(());
    }
    let value: Decimal = taken.iter().map(|(_, v)| *v).sum();
    let off = match m.offer {
        GroupOffer::Free(_) => value,
        GroupOffer::Price(p) => value - p * Decimal::from(groups),
    };
    let weights: Vec<i64> = taken.iter().map(|(_, v)| round(*v, scale, Rounding::HalfUp)).collect::<Result<_, _>>()?;
    let off = round(off, scale, Rounding::HalfUp)?.min(weights.iter().sum());
    if off <= 0 {
        return Ok(());
    }
    let id = c.id.shared();
    for ((i, _), d) in taken.iter().zip(allocate(off, &weights)) {
        w.add_discount(*i, d, &id);
    }
    Ok(())
}
