//! Discounts: each campaign's discount rewards on the lines they match, the coupons
//! named on the receipt (validated here: unknown, expired, used or not applicable), and
//! the restriction on the total discount.

use super::*;

pub(super) fn discount(env: &Env<'_>, w: &mut Work<'_>, c: &Campaign, reward: &Reward) -> Result<(), ReceiptError> {
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
pub(super) fn apply_coupons(env: &Env<'_>, w: &mut Work<'_>) -> Result<Vec<CouponCalc>, ReceiptError> {
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
pub(super) fn cap_discounts(env: &Env<'_>, w: &mut Work<'_>) -> Result<(), ReceiptError> {
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
