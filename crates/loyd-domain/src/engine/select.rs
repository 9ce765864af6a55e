//! Which campaigns apply to a receipt: the *when*, *where*, *who* and *what* conditions,
//! custom conditions, limits, then stacking (exclusive campaigns, stack groups).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use rust_decimal::Decimal;

use super::lines::{LineIndex, LineSet};
use crate::program::{Campaign, CelInput, CelLine, Limits, Program, Restrictions, Reward, When};
use crate::money::Scale;
use crate::receipt::{Context, CustomerContext, Receipt};

/// Local calendar facts of the receipt's moment in one time zone.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalTime {
    /// 0 = Monday.
    pub weekday: u8,
    pub month_day: u8,
    pub month: u8,
    pub minute_of_day: u16,
    pub date: Date,
}

impl LocalTime {
    pub fn at(at: Timestamp, tz: &TimeZone) -> LocalTime {
        let z = at.to_zoned_datetime(tz.clone());
        LocalTime {
            weekday: z.weekday().to_monday_zero_offset() as u8,
            month_day: z.day() as u8,
            month: z.month() as u8,
            minute_of_day: z.hour() as u16 * 60 + z.minute() as u16,
            date: z.date(),
        }
    }
}

/// What conditions see of `customer` (none: not identified) at `at`, on tier level
/// `tier`, money counters in minor units of `scale`; the receipt and store parts left
/// empty.
pub fn customer_input(program: &Program, customer: Option<&CustomerContext>, tier: String, scale: Scale, at: Timestamp) -> CelInput {
    let Some(c) = customer else { return CelInput::default() };
    let counters = c
        .counters
        .iter()
        .map(|(k, v)| {
            // Money counters as minor units, counts as they are.
            let is_money = program.counters.iter().any(|x| x.id.as_str() == k && x.measure == crate::program::Measure::Sum);
            let value = if is_money {
                crate::money::round_to_minor(*v, scale, crate::money::Rounding::Down).unwrap_or(0)
            } else {
                i64::try_from(v.trunc().mantissa()).unwrap_or(0)
            };
            (k.clone(), value)
        })
        .collect();
    CelInput {
        identified: true,
        tier,
        series: c.card_series.clone().unwrap_or_default(),
        counters,
        balances: c.balances.iter().map(|(k, v)| (k.to_string(), v.available)).collect(),
        profile: c.profile.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        purchases: c.facts.purchases,
        spent_minor: c.facts.spent,
        average_minor: c.facts.average(),
        days_since_purchase: c.facts.days_since_purchase(at).unwrap_or(-1),
        rfm: c.facts.rfm.clone().unwrap_or_default(),
        rfm_score: c.facts.rfm_score.clone().unwrap_or_default(),
        consents: c.facts.consents.clone(),
        ..CelInput::default()
    }
}

/// Which of the program's segments `customer` is in at `at`, as a job lists them: the
/// segments a job can evaluate ([`crate::segments::job_evaluable`]), each `Some`; the
/// others `None`. Counters are the customer's at `at`, money in minor units of `scale`.
pub fn segments_of(program: &Program, customer: &CustomerContext, scale: Scale, at: Timestamp) -> Vec<Option<bool>> {
    let mut ctx = None;
    program
        .segments
        .iter()
        .map(|s| {
            s.condition.job_evaluable().then(|| {
                let ctx = ctx.get_or_insert_with(|| customer_context(program, customer, scale, at));
                s.condition.holds_in(ctx)
            })
        })
        .collect()
}

/// Whether `customer` meets `condition` at `at`, as [`segments_of`] decides it.
pub fn customer_meets(program: &Program, customer: &CustomerContext, condition: &crate::program::Condition, scale: Scale, at: Timestamp) -> bool {
    condition.holds_in(&customer_context(program, customer, scale, at))
}

fn customer_context(program: &Program, customer: &CustomerContext, scale: Scale, at: Timestamp) -> cel::Context<'static, 'static> {
    let tier = program.tier_levels(&customer.counters).first().map(|(_, l)| l.clone()).unwrap_or_default();
    customer_input(program, Some(customer), tier, scale, at).context()
}

/// What the selection needs, computed once per receipt.
pub(super) struct Env<'a> {
    pub receipt: &'a Receipt,
    pub ctx: &'a Context,
    pub program: &'a Program,
    pub total: i64,
    pub qty: Decimal,
    pub store_local: LocalTime,
    /// The customer's level on each tier ladder, in ladder order.
    pub levels: Vec<(String, String)>,
    /// Which lines carry which goods names.
    index: LineIndex,
    /// The restrictions in force at the receipt's time.
    pub restrictions: Restrictions,
    /// The store's time zone (looking one up by name is not free).
    pub zone: TimeZone,
    /// Lot terms of accruals made by this receipt, per currency, as first computed.
    terms: std::cell::RefCell<Vec<(&'a crate::ids::AssetCode, crate::ledger::LotTerms)>>,
    /// The condition contexts, built when first needed: without and with the lines.
    cel: [std::cell::OnceCell<cel::Context<'static, 'static>>; 2],
    /// Whether the customer is in each of the program's segments, as first decided.
    segments: Vec<std::cell::OnceCell<bool>>,
    /// The receipt's coupon codes, each checked once (before its lines are looked at),
    /// in the order given.
    pub codes: Vec<super::discounts::CheckedCode<'a>>,
}

impl<'a> Env<'a> {
    pub fn new(receipt: &'a Receipt, ctx: &'a Context, program: &'a Program) -> Env<'a> {
        let levels = match &ctx.customer {
            Some(c) => program.tier_levels(&c.counters),
            None => Vec::new(),
        };
        let zone = ctx.store.timezone.zone();
        let mut env = Env {
            receipt,
            ctx,
            program,
            total: receipt.lines.iter().map(|l| l.amount).sum(),
            qty: receipt.lines.iter().map(|l| l.qty).sum(),
            store_local: LocalTime::at(receipt.at, &zone),
            zone,
            terms: Default::default(),
            levels,
            index: LineIndex::new(receipt, &program.names),
            cel: Default::default(),
            segments: vec![std::cell::OnceCell::new(); program.segments.len()],
            restrictions: Restrictions::default(),
            codes: Vec::new(),
        };
        env.codes = receipt.coupons.iter().map(|typed| super::discounts::check_code(receipt, ctx, program, typed)).collect();
        let rules = &program.restrictions;
        env.restrictions = match rules.schedules.iter().find(|(w, _)| env.in_period(w) && env.at_local_times(w)) {
            Some((_, r)) => rules.base.overlaid(r),
            None => rules.base.clone(),
        };
        env
    }

    /// The terms of the units of `currency` this receipt accrues.
    pub fn lot_terms(&self, currency: &'a crate::program::Currency) -> crate::ledger::LotTerms {
        let mut cache = self.terms.borrow_mut();
        if let Some((_, t)) = cache.iter().find(|(c, _)| **c == currency.code) {
            return *t;
        }
        let t = currency.lot_terms(self.receipt.at, &self.zone);
        cache.push((&currency.code, t));
        t
    }

    /// The lines that are `goods`.
    pub fn lines_of(&self, goods: &crate::program::Goods) -> LineSet {
        self.index.lines_of(goods, self.receipt)
    }

    fn local(&self, w: &When) -> LocalTime {
        match &w.timezone {
            Some(tz) => LocalTime::at(self.receipt.at, &tz.zone()),
            None => self.store_local,
        }
    }

    fn cel_context(&self, with_lines: bool) -> &cel::Context<'static, 'static> {
        self.cel[usize::from(with_lines)].get_or_init(|| self.cel_input(with_lines).context())
    }

    fn cel_input(&self, with_lines: bool) -> CelInput {
        let qty_milli = |q: Decimal| {
            crate::money::round_to_minor(q, crate::money::Scale::new(3).expect("3 places"), crate::money::Rounding::Down).unwrap_or(0)
        };
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let tier = self.levels.first().map(|(_, l)| l.clone()).unwrap_or_default();
        CelInput {
            total_minor: self.total,
            qty_milli: qty_milli(self.qty),
            weekday: names[usize::from(self.store_local.weekday)].into(),
            hour: i64::from(self.store_local.minute_of_day / 60),
            month_day: i64::from(self.store_local.month_day),
            month: i64::from(self.store_local.month),
            items: i64::try_from(self.receipt.lines.len()).unwrap_or(i64::MAX),
            lines: self
                .receipt
                .lines
                .iter()
                .filter(|_| with_lines)
                .map(|l| CelLine { sku: l.sku.clone(), groups: l.groups.clone(), amount_minor: l.amount, qty_milli: qty_milli(l.qty) })
                .collect(),
            store_id: self.ctx.store.id.to_string(),
            store_format: self.ctx.store.format.as_ref().map(|f| f.to_string()).unwrap_or_default(),
            store_partner: self.ctx.store.partner.as_ref().map(|f| f.to_string()).unwrap_or_default(),
            ..customer_input(self.program, self.ctx.customer.as_ref(), tier, self.ctx.store.scale, self.receipt.at)
        }
    }

    fn in_birthday_window(&self, c: &Campaign) -> bool {
        let (Some(window), Some(birth)) = (c.birthday, self.ctx.customer.as_ref().and_then(|c| c.birth_date)) else {
            return c.birthday.is_none();
        };
        let today = self.local(&c.when).date;
        // The birthday in the years around the receipt (29 February is the 28th in
        // other years).
        (today.year() - 1..=today.year() + 1).any(|y| {
            let day = Date::new(y, birth.month(), birth.day()).or_else(|_| Date::new(y, 2, 28));
            let Ok(day) = day else { return false };
            let Ok(span) = today.since(day) else { return false };
            let days = span.get_days() as i64;
            -i64::from(window.days_before) <= days && days <= i64::from(window.days_after)
        })
    }

    /// Whether the identified customer is in segment `k` of the program.
    fn in_segment(&self, k: usize) -> bool {
        *self.segments[k].get_or_init(|| {
            let cond = &self.program.segments[k].condition;
            self.ctx.customer.is_some() && cond.holds_in(self.cel_context(cond.reads_lines()))
        })
    }

    fn in_period(&self, w: &When) -> bool {
        let at = self.receipt.at;
        !(w.from.is_some_and(|f| at < f) || w.until.is_some_and(|u| at >= u))
    }

    /// Whether the receipt's local time is on the weekdays, days of the month and hours
    /// of `w`.
    fn at_local_times(&self, w: &When) -> bool {
        if w.weekdays == 0 && w.month_days == 0 && w.hours.is_none() {
            return true;
        }
        let local = self.local(w);
        if w.weekdays != 0 && w.weekdays & (1 << local.weekday) == 0 {
            return false;
        }
        if w.month_days != 0 && w.month_days & (1 << local.month_day) == 0 {
            return false;
        }
        match w.hours {
            Some((from, to)) => {
                let m = local.minute_of_day;
                if from < to { from <= m && m < to } else { m >= from || m < to }
            }
            None => true,
        }
    }

    /// Every condition of the campaign, except its limits: a valid code of its coupon
    /// series, if it has one, and the rest ([`Env::unmet`]).
    pub fn conditions_hold(&self, c: &Campaign) -> bool {
        let code = c.coupon_series.as_ref().is_none_or(|s| self.codes.iter().flatten().any(|v| v.series.id == *s));
        code && self.unmet(c).is_none()
    }

    /// The first condition of the campaign (limits and its code aside) this receipt does
    /// not meet.
    pub fn unmet(&self, c: &Campaign) -> Option<Unmet> {
        let store = &self.ctx.store;
        let w = &c.when;
        if !self.in_period(w) {
            return Some(Unmet::Period);
        }
        if !c.runs_in(&store.id, store.format.as_ref(), store.partner.as_ref()) {
            return Some(Unmet::Store);
        }
        let customer = self.ctx.customer.as_ref();
        if c.customers_only && customer.is_none() {
            return Some(Unmet::Customer);
        }
        if !c.series.is_empty() && !customer.and_then(|x| x.card_series.as_deref()).is_some_and(|s| c.series.iter().any(|x| x.as_str() == s)) {
            return Some(Unmet::Customer);
        }
        if !c.tiers.is_empty() && !self.levels.iter().any(|(_, l)| c.tiers.iter().any(|t| t.as_str() == l)) {
            return Some(Unmet::Customer);
        }
        let money = |d: Decimal| crate::money::round_to_minor(d, store.scale, crate::money::Rounding::HalfUp).unwrap_or(i64::MAX);
        if c.min_total.is_some_and(|m| self.total < money(m)) {
            return Some(Unmet::MinTotal);
        }
        if c.below_total.is_some_and(|b| self.total >= money(b)) {
            return Some(Unmet::BelowTotal);
        }
        if c.min_quantity.is_some_and(|q| self.qty < q) {
            return Some(Unmet::MinQuantity);
        }
        if let Some(lines) = &c.lines {
            let matching = self.lines_of(&lines.goods);
            // A unit price is at least P when the amount is at least P × quantity.
            let paid = |l: &crate::receipt::Line| crate::money::from_minor(l.amount, store.scale);
            let priced = |l: &&crate::receipt::Line| {
                lines.min_price.is_none_or(|p| paid(l) >= p * l.qty) && lines.max_price.is_none_or(|p| paid(l) <= p * l.qty)
            };
            let matching = matching.iter().map(|i| &self.receipt.lines[i]).filter(priced);
            let (amount, qty, any) = matching.fold((0i64, Decimal::ZERO, false), |(a, q, _), l| (a + l.amount, q + l.qty, true));
            if !any || lines.min_amount.is_some_and(|m| amount < money(m)) || lines.min_quantity.is_some_and(|m| qty < m) {
                return Some(Unmet::Lines);
            }
        }
        if !self.at_local_times(w) {
            return Some(Unmet::Period);
        }
        if !self.in_birthday_window(c) {
            return Some(Unmet::Customer);
        }
        if !c.profile.is_empty() {
            let profile = customer.map(|x| &x.profile);
            let matches = |(field, values): &(String, std::collections::BTreeSet<String>)| {
                profile.and_then(|p| p.get(field)).is_some_and(|v| values.contains(&v.to_lowercase()))
            };
            if !c.profile.iter().all(matches) {
                return Some(Unmet::Customer);
            }
        }
        if !c.segments.is_empty() && !c.segments.iter().any(|&k| self.in_segment(k)) {
            return Some(Unmet::Customer);
        }
        if let Some(cond) = &c.condition
            && !cond.holds_in(self.cel_context(cond.reads_lines()))
        {
            return Some(Unmet::Condition);
        }
        None
    }
}

/// A campaign condition a receipt does not meet, to tell a customer why their code does
/// not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unmet {
    Period,
    Store,
    Customer,
    MinTotal,
    BelowTotal,
    MinQuantity,
    Lines,
    Condition,
}

impl Unmet {
    /// In words, with the campaign's figures.
    pub fn describe(self, c: &Campaign) -> String {
        let goods = |l: &crate::program::LinesCondition| {
            let mut needs = Vec::new();
            if let Some(a) = l.min_amount {
                needs.push(format!("for at least {a}"));
            }
            if let Some(q) = l.min_quantity {
                needs.push(format!("at least {q} of them"));
            }
            if needs.is_empty() { String::new() } else { format!(" ({})", needs.join(", ")) }
        };
        match self {
            Unmet::Period => "the offer does not run at this time".into(),
            Unmet::Store => "the offer does not run in this store".into(),
            Unmet::Customer => "the offer is for other customers".into(),
            Unmet::MinTotal => format!("the receipt total must be at least {}", c.min_total.unwrap_or_default()),
            Unmet::BelowTotal => format!("the receipt total must be below {}", c.below_total.unwrap_or_default()),
            Unmet::MinQuantity => format!("the receipt must hold at least {} items", c.min_quantity.unwrap_or_default()),
            Unmet::Lines => format!("the receipt lacks the goods the offer is for{}", c.lines.as_ref().map(goods).unwrap_or_default()),
            Unmet::Condition => "the receipt does not meet the offer's condition".into(),
        }
    }
}

/// The usage keys and periods of a campaign for this receipt: (key, period, what the
/// limit is). Uses per customer, budget and promotional items over all customers.
pub(super) fn campaign_limits(env: &Env<'_>, c: &Campaign, limits: &Limits) -> Vec<LimitKey> {
    let (day, month) = periods(env);
    let mut keys = Vec::new();
    if let Some(customer) = env.ctx.customer.as_ref() {
        let key = format!("campaign:{}:c{}", c.id, customer.id);
        let per = [(limits.per_customer_day, &day), (limits.per_customer_month, &month), (limits.per_customer, &"all".to_owned())];
        for (max, period) in per {
            if let Some(max) = max {
                keys.push(LimitKey { key: key.clone(), period: period.clone(), max_uses: Some(i64::from(max)), max_value: None, max_items: None });
            }
        }
    }
    let all = format!("campaign:{}", c.id);
    let items = |d: Decimal| crate::money::round_to_minor(d, crate::money::Scale::new(3).expect("3"), crate::money::Rounding::Down).unwrap_or(i64::MAX);
    // Uses in all and the budget share one counter (each use adds its value).
    if limits.budget.is_some() || limits.uses.is_some() {
        let budget = limits
            .budget
            .map(|b| crate::money::round_to_minor(b, env.ctx.store.scale, crate::money::Rounding::Down).unwrap_or(i64::MAX));
        let uses = limits.uses.map(i64::from);
        keys.push(LimitKey { key: all.clone(), period: "all".into(), max_uses: uses, max_value: budget, max_items: None });
    }
    if let Some(q) = limits.promo_items_day {
        keys.push(LimitKey { key: all.clone(), period: day.clone(), max_uses: None, max_value: None, max_items: Some(items(q)) });
    }
    if let Some(q) = limits.promo_items_month {
        keys.push(LimitKey { key: all, period: month, max_uses: None, max_value: None, max_items: Some(items(q)) });
    }
    keys
}

/// The day and month periods of the receipt (store time): `d:2026-11-24`, `m:2026-11`.
fn periods(env: &Env<'_>) -> (String, String) {
    let date = env.store_local.date;
    (format!("d:{date}"), format!("m:{:04}-{:02}", date.year(), date.month()))
}

/// The usage key of the receipts of a customer that got campaign discounts.
pub(super) const DISCOUNTED_RECEIPTS: &str = "restrictions:discounts";
/// The usage key of the promotional items of all campaigns.
pub(super) const PROMO_ITEMS: &str = "restrictions:promo";

/// The usage counters of the restrictions in force: receipts with campaign discounts
/// per customer (`max_uses`), promotional items of all campaigns (`max_items`).
pub(super) fn restriction_limits(env: &Env<'_>) -> Vec<LimitKey> {
    let r = &env.restrictions;
    if r.max_discounts_per_customer_day.is_none()
        && r.max_discounts_per_customer_month.is_none()
        && r.max_promo_items_day.is_none()
        && r.max_promo_items_month.is_none()
    {
        return Vec::new();
    }
    let (day, month) = periods(env);
    let mut keys = Vec::new();
    if let Some(customer) = &env.ctx.customer {
        let key = format!("{DISCOUNTED_RECEIPTS}:c{}", customer.id);
        for (max, period) in [(r.max_discounts_per_customer_day, &day), (r.max_discounts_per_customer_month, &month)] {
            if let Some(max) = max {
                keys.push(LimitKey { key: key.clone(), period: period.clone(), max_uses: Some(i64::from(max)), max_value: None, max_items: None });
            }
        }
    }
    let items = |d: Decimal| crate::money::round_to_minor(d, crate::money::Scale::new(3).expect("3"), crate::money::Rounding::Down).unwrap_or(i64::MAX);
    for (max, period) in [(r.max_promo_items_day, &day), (r.max_promo_items_month, &month)] {
        if let Some(q) = max {
            keys.push(LimitKey { key: PROMO_ITEMS.into(), period: period.clone(), max_uses: None, max_value: None, max_items: Some(items(q)) });
        }
    }
    keys
}

/// Whether a campaign gives discounts.
pub(super) fn discounts(c: &Campaign) -> bool {
    c.rewards.iter().any(|r| {
        matches!(
            r,
            Reward::DiscountPercent { .. }
                | Reward::DiscountAmount { .. }
                | Reward::FixedPrice { .. }
                | Reward::Accumulated { .. }
                | Reward::MultiBuy(_)
        )
    })
}

/// One limited usage counter of a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LimitKey {
    pub key: String,
    pub period: String,
    pub max_uses: Option<i64>,
    pub max_value: Option<i64>,
    pub max_items: Option<i64>,
}

impl LimitKey {
    /// One use of this counter by a receipt that gives `value` and `items`.
    pub fn charge(self, value: i64, items: i64) -> crate::receipt::UsageCharge {
        crate::receipt::UsageCharge {
            key: self.key,
            period: self.period,
            uses: 1,
            value,
            items,
            max_uses: self.max_uses,
            max_value: self.max_value,
            max_items: self.max_items,
        }
    }
}

/// Campaigns whose conditions hold and whose per-customer use limits are not reached,
/// highest priority first.
pub(super) fn candidates<'p>(env: &Env<'p>) -> Vec<&'p Campaign> {
    let used = |k: &LimitKey| env.ctx.usage.get(&(k.key.clone(), k.period.clone())).copied().unwrap_or_default();
    // A customer who had all the discounted receipts allowed gets no campaign discount.
    let no_discounts = restriction_limits(env).iter().any(|k| k.max_uses.is_some_and(|m| used(k).uses >= m));
    env.program
        .campaigns
        .iter()
        .filter(|c| !(no_discounts && discounts(c)))
        .filter(|c| env.conditions_hold(c))
        .filter(|c| {
            let Some(limits) = &c.limits else { return true };
            campaign_limits(env, c, limits).iter().all(|k| {
                let used = env.ctx.usage.get(&(k.key.clone(), k.period.clone())).copied().unwrap_or_default();
                k.max_uses.is_none_or(|m| used.uses < m)
                    && k.max_value.is_none_or(|m| used.value < m)
                    && k.max_items.is_none_or(|m| used.items < m)
            })
        })
        .collect()
}

/// Whether a campaign gives anything monetary (for best-for-customer comparisons).
pub(super) fn has_value(c: &Campaign) -> bool {
    c.rewards.iter().any(|r| !matches!(r, Reward::IssueCoupon { .. } | Reward::Gift { .. }))
}
