//! What pays the receipt besides money: redemptions of accumulated currencies (within
//! each currency's rules and the share restriction) and gift cards.

use super::*;

pub(super) fn pay_with_gift_cards(w: &Work<'_>, due: i64) -> Result<(Vec<GiftCalc>, i64), ReceiptError> {
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

/// A redemption and its parts per line: (line index, value, units).
pub(super) type Redeemed = (RedeemedCalc, Vec<(usize, i64, i64)>);

/// Works out one redemption: how many units, their value, and how both spread over the
/// payable lines.
pub(super) fn redeem(
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
    // What a unit is worth here: its value, at the configured rate where the store takes
    // another currency than the one it is counted in (never 1:1 by default).
    let rate = cur.rate_in(&w.ctx.store.currency).ok_or_else(|| ReceiptError::CurrencyNotAccepted {
        currency: code.clone(),
        held_in: cur.denomination.clone().unwrap_or_else(|| code.clone()),
        store: w.ctx.store.currency.clone(),
    })?;
    let value = if rate == Decimal::ONE { value } else { value * rate };
    // Store-money value of `u` minor units of the currency, never more than they are worth.
    let value_of = |u: i64| scaled(u, cur.scale, value, Decimal::ONE, store, Rounding::Down);
    // The most units whose value fits under the cap, within the per-receipt maximum, in
    // whole steps.
    let mut cap_units = scaled(cap_value, store, Decimal::ONE, value, cur.scale, Rounding::Down)?;
    if let Some(max) = rules.max_units {
        cap_units = cap_units.min(max);
    }
    let step = rules.step.max(1);
    cap_units -= cap_units.rem_euclid(step);
    let limit = |max: i64| ReceiptError::RedeemLimitExceeded {
        currency: code.clone(),
        max: shown(max),
        step: (step > 1).then(|| shown(step)),
    };
    let units = match amount {
        RedeemAmount::Max => {
            let units = balance.min(cap_units).max(0);
            units - units.rem_euclid(step)
        }
        RedeemAmount::Units(u) => {
            let u = money::to_minor_exact(u, cur.scale).map_err(|e| ReceiptError::invalid(format!("redeem {code}: {e}")))?;
            if u > balance {
                return Err(ReceiptError::InsufficientFunds {
                    what: format!("{code} balance"),
                    available: shown(balance),
                    requested: shown(u),
                });
            }
            if u > cap_units || u.rem_euclid(step) != 0 {
                return Err(limit(cap_units));
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
