//! Discounts: each campaign's discount rewards on the lines they match, the coupons
//! named on the receipt (validated here: unknown, expired, used or not applicable), and
//! the restriction on the total discount.

use super::*;

/// Working memory of percent discounts, reused by every one of a calculation: the
/// lines still open, what is left on them, and each one's part.
#[derive(Default)]
pub(super) struct PercentParts {
    pub idx: Vec<usize>,
    weights: Vec<i64>,
    pub parts: Vec<i64>,
    splitter: crate::alloc::Splitter,
}

impl PercentParts {
    /// `percent` % off what is left on those of `lines` still open (into `idx`): of their
    /// total, rounded once and allocated over them; or, with `per_line`, of each line
    /// rounded on its own. Each line's part goes into `parts`, in the order of `idx`.
    fn compute(
        &mut self,
        w: &Work<'_>,
        lines: impl Iterator<Item = usize>,
        percent: Decimal,
        per_line: bool,
        scale: Scale,
    ) -> Result<(), ReceiptError> {
        self.idx.clear();
        self.idx.extend(lines.filter(|&i| w.remaining(i) > 0));
        self.parts.clear();
        if per_line {
            for &i in &self.idx {
                self.parts.push(percent_of(w.remaining(i), percent, scale)?);
            }
            return Ok(());
        }
        self.weights.clear();
        self.weights.extend(self.idx.iter().map(|&i| w.remaining(i)));
        let total: i64 = self.weights.iter().sum();
        let off = if total > 0 { percent_of(total, percent, scale)? } else { 0 };
        self.splitter.split_into(off, &self.weights, &mut self.parts);
        Ok(())
    }
}

/// The discounts of one campaign, within its own cap on one receipt.
pub(super) fn campaign_discounts(env: &Env<'_>, w: &mut Work<'_>, c: &Campaign) -> Result<(), ReceiptError> {
    let capped = c.max_discount.is_some() || c.max_discount_share.is_some();
    let before: Vec<i64> = if capped { w.lines.iter().map(|l| l.discount).collect() } else { Vec::new() };
    for reward in &c.rewards {
        discount(env, w, c, reward)?;
    }
    if capped {
        cap_campaign(env, w, c, &before)?;
    }
    Ok(())
}

/// The smaller of an amount and a share of the receipt total, in minor units
/// (`i64::MAX` when neither is set): the cap of a campaign or of the restrictions.
fn discount_cap(env: &Env<'_>, amount: Option<Decimal>, share: Option<Decimal>) -> Result<i64, ReceiptError> {
    let scale = env.ctx.store.scale;
    let mut cap = i64::MAX;
    if let Some(share) = share {
        cap = cap.min(share_of(env.total, share, scale)?);
    }
    if let Some(amount) = amount {
        cap = cap.min(money::to_minor_exact(amount, scale).map_err(|e| ReceiptError::invalid(e.to_string()))?);
    }
    Ok(cap)
}

/// Sets the discount entries of `line` that `mine` selects to `keep` in all, each
/// reduced in proportion; entries brought to zero are dropped and the line's discount
/// follows.
fn reduce_discounts(line: &mut LineCalc, keep: i64, mine: impl Fn(&Applied) -> bool) {
    let idx: Vec<usize> = line.applied.iter().enumerate().filter(|(_, a)| a.kind == AppliedKind::Discount && mine(a)).map(|(i, _)| i).collect();
    let parts: Vec<i64> = idx.iter().map(|&i| line.applied[i].amount).collect();
    let had: i64 = parts.iter().sum();
    for (&i, p) in idx.iter().zip(allocate(keep, &parts)) {
        line.applied[i].amount = p;
    }
    line.applied.retain(|a| a.kind != AppliedKind::Discount || a.amount > 0);
    line.discount -= had - keep;
}

/// Brings what campaign `c` added to the lines' discounts (over `before`) down to its
/// cap, allocated over its lines in proportion.
fn cap_campaign(env: &Env<'_>, w: &mut Work<'_>, c: &Campaign, before: &[i64]) -> Result<(), ReceiptError> {
    let cap = discount_cap(env, c.max_discount, c.max_discount_share)?;
    // The lines it discounted and by how much.
    let (lines, added): (Vec<usize>, Vec<i64>) =
        w.lines.iter().zip(before).enumerate().map(|(i, (l, b))| (i, l.discount - b)).filter(|(_, a)| *a > 0).unzip();
    if added.iter().sum::<i64>() <= cap {
        return Ok(());
    }
    let id = c.id.as_str();
    for ((&i, &add), keep) in lines.iter().zip(&added).zip(allocate(cap, &added)) {
        if add != keep {
            reduce_discounts(&mut w.lines[i], keep, |a| &*a.campaign == id);
        }
    }
    Ok(())
}

pub(super) fn discount(env: &Env<'_>, w: &mut Work<'_>, c: &Campaign, reward: &Reward) -> Result<(), ReceiptError> {
    let scale = env.ctx.store.scale;
    let receipt = env.receipt;
    let id = c.id.shared();
    let percent_off = |w: &mut Work<'_>, percent: Decimal, goods: &Goods, per_line: bool| -> Result<(), ReceiptError> {
        let mut shares = std::mem::take(&mut w.percent);
        shares.compute(w, env.lines_of(goods).iter(), percent, per_line, scale)?;
        for (&i, &d) in shares.idx.iter().zip(&shares.parts) {
            w.add_discount(i, d, &id);
        }
        w.percent = shares;
        Ok(())
    };
    match reward {
        Reward::DiscountPercent { percent, goods, per_line } => percent_off(w, *percent, goods, *per_line)?,
        Reward::Accumulated { counter, base, step, per_step, max, goods, per_line } => {
            let value = env.ctx.customer.as_ref().and_then(|x| x.counters.get(counter.as_str())).copied().unwrap_or_default();
            let percent = (*base + *per_step * (value / *step).floor()).min(*max);
            percent_off(w, percent, goods, *per_line)?;
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
        Reward::MultiBuy(m) => super::multibuy::multi_buy(env, w, c, m)?,
        Reward::Accrue { .. } | Reward::IssueCoupon { .. } | Reward::Gift { .. } => {}
    }
    Ok(())
}

/// A code presented on the receipt that is known, valid now and not used up: what it
/// is, before the receipt's lines are looked at.
pub(super) struct ValidCode<'a> {
    pub code: String,
    pub series: &'a crate::program::CouponSeries,
}

/// A code as [`check_code`] found it: valid, or refused with the code as read, the
/// reason and the series if known.
pub(super) type CheckedCode<'a> = Result<ValidCode<'a>, (String, ReceiptError, Option<ConfigCode>)>;

/// Checks a code as typed: known, valid at the receipt's time, the customer's if it is
/// personal, and with uses left. Refuses with the reason and the series, if known.
pub(super) fn check_code<'a>(
    receipt: &Receipt,
    ctx: &'a Context,
    program: &'a Program,
    typed: &str,
) -> CheckedCode<'a> {
    // A promo code as typed, or a generated one with confusable letters read right.
    let promo = crate::coupons::canonical(typed);
    let code = if ctx.coupons.iter().any(|c| c.code == promo) { promo } else { crate::coupons::normalize(typed) };
    let Some(cc) = ctx.coupons.iter().find(|c| c.code == code) else {
        return Err((code.clone(), ReceiptError::CouponUnknown(code), None));
    };
    let Some(series) = program.coupon_series.get(&cc.series) else {
        return Err((code.clone(), ReceiptError::CouponUnknown(code), None));
    };
    let sid = Some(series.id.clone());
    let at = receipt.at;
    if cc.void || series.valid_from.is_some_and(|f| at < f) || series.valid_until.is_some_and(|u| at >= u) || cc.valid_until.is_some_and(|u| at >= u) {
        return Err((code.clone(), ReceiptError::CouponExpired(code), sid));
    }
    let customer = ctx.customer.as_ref();
    if series.customers_only && customer.is_none() {
        let why = "identify the customer: the coupon is for members".to_owned();
        return Err((code.clone(), ReceiptError::CouponNotApplicable { code, why }, sid));
    }
    if cc.issued_to.is_some_and(|owner| customer.is_none_or(|c| c.id != owner)) {
        let why = "the coupon was issued to another customer".to_owned();
        return Err((code.clone(), ReceiptError::CouponNotApplicable { code, why }, sid));
    }
    let uses = |key: String| ctx.usage.get(&(key, "all".to_owned())).map(|u| u.uses).unwrap_or(0);
    let code_used = series.uses_per_code.is_some_and(|m| uses(coupon_key(cc)) >= i64::from(m));
    let series_used = series.uses_total.is_some_and(|m| uses(coupon_series_key(&series.id)) >= i64::from(m));
    let customer_used = match (series.uses_per_customer, customer) {
        (Some(m), Some(c)) => uses(coupon_customer_key(&code, c.id)) >= i64::from(m),
        _ => false,
    };
    if code_used || series_used || customer_used {
        return Err((code.clone(), ReceiptError::CouponUsed(code), sid));
    }
    Ok(ValidCode { code, series })
}

/// Why no campaign activated by `series` applies, though its code is valid.
fn why_no_campaign(env: &Env<'_>, series: &ConfigCode) -> String {
    let mut activated = env.program.campaigns.iter().filter(|c| c.coupon_series.as_ref() == Some(series));
    let Some(c) = activated.next() else { return "no running campaign takes this code".into() };
    match env.unmet(c) {
        Some(unmet) => unmet.describe(c),
        None => "the offer's limits are reached, or a better offer applies instead".into(),
    }
}

/// Checks and applies the receipt's coupons, in the order given. A code of a series
/// that activates campaigns applies when one of them (`campaigns`, the chosen ones)
/// does.
pub(super) fn apply_coupons(env: &Env<'_>, w: &mut Work<'_>, campaigns: &[&Campaign]) -> Result<Vec<CouponCalc>, ReceiptError> {
    let scale = env.ctx.store.scale;
    let mut out: Vec<CouponCalc> = Vec::new();
    for checked in &env.codes {
        let (code, series) = match checked {
            Ok(valid) if out.iter().any(|o| o.code == valid.code) => {
                let reason = ReceiptError::CouponUsed(valid.code.clone());
                out.push(CouponCalc { code: valid.code.clone(), status: CouponStatus::Rejected, reason: Some(reason), series: None, discount: 0 });
                continue;
            }
            Ok(ValidCode { code, series }) => (code.clone(), *series),
            Err((code, reason, series)) => {
                let (code, reason, series) = (code.clone(), Some(reason.clone()), series.clone());
                out.push(CouponCalc { code, status: CouponStatus::Rejected, reason, series, discount: 0 });
                continue;
            }
        };
        let sid = Some(series.id.clone());
        let not_applicable = |why: String| CouponCalc {
            code: code.clone(),
            status: CouponStatus::Rejected,
            reason: Some(ReceiptError::CouponNotApplicable { code: code.clone(), why }),
            series: sid.clone(),
            discount: 0,
        };
        // What the campaigns this code activated gave.
        let activated: Vec<&str> = campaigns.iter().filter(|c| c.coupon_series.as_ref() == Some(&series.id)).map(|c| c.id.as_str()).collect();
        let by_campaigns: i64 = w
            .lines
            .iter()
            .flat_map(|l| &l.applied)
            .filter(|a| a.kind == AppliedKind::Discount && activated.contains(&&*a.campaign))
            .map(|a| a.amount)
            .sum();
        let Some(discount) = series.discount else {
            out.push(if activated.is_empty() {
                not_applicable(why_no_campaign(env, &series.id))
            } else {
                CouponCalc { code: code.clone(), status: CouponStatus::Applied, reason: None, series: sid, discount: by_campaigns }
            });
            continue;
        };
        let idx: Vec<usize> = matching(env, &series.goods).into_iter().filter(|&i| w.remaining(i) > 0).collect();
        if idx.is_empty() && activated.is_empty() {
            out.push(not_applicable("the receipt has no goods left to discount that the coupon is for".into()));
            continue;
        }
        let mut parts: Vec<i64> = match discount {
            _ if idx.is_empty() => Vec::new(),
            CouponDiscount::Percent(p) => {
                let mut shares = PercentParts::default();
                shares.compute(w, idx.iter().copied(), p, series.per_line, scale)?;
                shares.parts
            }
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
        let given = w.lines.iter().map(|l| l.discount).sum::<i64>() - before + by_campaigns;
        out.push(CouponCalc { code: code.clone(), status: CouponStatus::Applied, reason: None, series: sid, discount: given });
    }
    Ok(out)
}

/// Scales every line's discount down to the receipt-wide limit, if one is exceeded.
pub(super) fn cap_discounts(env: &Env<'_>, w: &mut Work<'_>) -> Result<(), ReceiptError> {
    let r = &env.restrictions;
    let cap = discount_cap(env, r.max_discount_amount, r.max_discount_share)?;
    let weights: Vec<i64> = w.lines.iter().map(|l| l.discount).collect();
    if weights.iter().sum::<i64>() <= cap {
        return Ok(());
    }
    for (line, new) in w.lines.iter_mut().zip(allocate(cap, &weights)) {
        // Share the line's reduced discount among the discounts that made it.
        reduce_discounts(line, new, |_| true);
    }
    Ok(())
}
