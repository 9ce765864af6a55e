//! [`Program::compile`]: a configuration document to the compiled program, every
//! problem reported with its path in the document.

use std::collections::BTreeSet;

use jiff::SignedDuration;
use rust_decimal::Decimal;

use self::currencies::{check_conversion, check_series, compile_currency, denominate};
use self::rewards::compile_reward;
use super::*;

use crate::ids::{AssetCode, ConfigCode};
use crate::said::{self, Said};

mod currencies;
mod rewards;

pub(super) struct Problems(Vec<ConfigError>);

impl Problems {
    pub(super) fn push(&mut self, path: impl Into<String>, said: Said) {
        self.0.push(ConfigError::said(path, said));
    }

    /// A problem in another's words (a parser's), with no key.
    pub(super) fn push_text(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::text(path, message));
    }
}

pub(super) fn share(v: Option<Dec>, path: String, p: &mut Problems) -> Option<Decimal> {
    let v = v?.0;
    if v <= Decimal::ZERO || v > Decimal::ONE {
        p.push(path, said::share_range());
    }
    Some(v)
}

/// `"HH:MM"` to minutes after midnight (`"24:00"` is the end of the day).
fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    (m < 60 && total <= 24 * 60).then_some(total)
}

fn weekday_bits(days: &[Weekday]) -> u8 {
    days.iter().fold(0u8, |bits, d| bits | 1 << d.index())
}

fn compile_hours(h: &HoursSpec, path: &str, p: &mut Problems) -> Option<(u16, u16)> {
    match (minutes(&h.from), minutes(&h.to)) {
        (Some(a), Some(b)) if a != b => Some((a, b)),
        _ => {
            p.push(path, said::hours_format());
            None
        }
    }
}

/// What is wrong with texts the portal shows (by language: a title of one line, a
/// paragraph), each with its field; `needed`: at least one language must be given.
fn check_portal_texts(texts: &std::collections::BTreeMap<String, PortalText>, needed: bool) -> Vec<(String, Said)> {
    let languages = crate::messages::LANGUAGES;
    let mut problems = Vec::new();
    if needed && texts.is_empty() {
        problems.push(("texts".to_owned(), said::portal_text_needed(languages.join(", "))));
    }
    for (lang, t) in texts {
        if !languages.contains(&lang.as_str()) {
            problems.push((format!("texts.{lang}"), said::portal_text_language(lang, languages.join(", "))));
        }
        if crate::text::line("title", &t.title, 120).is_err() {
            problems.push((format!("texts.{lang}.title"), said::portal_text_title(120)));
        }
        if !t.body.is_empty() && crate::text::lines("body", &t.body, 2000).is_err() {
            problems.push((format!("texts.{lang}.body"), said::portal_text_body(2000)));
        }
    }
    problems
}

fn compile_restrictions(r: &RestrictionsSpec, path: &str, known: &dyn Fn(&AssetCode) -> bool, p: &mut Problems) -> Restrictions {
    let mut out = Restrictions {
        max_discount_share: share(r.max_discount_share, format!("{path}.max_discount_share"), p),
        max_redeem_share: share(r.max_redeem_share, format!("{path}.max_redeem_share"), p),
        max_discount_amount: r.max_discount_amount.map(|d| d.0),
        max_promo_items_day: r.max_promo_items_day.map(|d| d.0),
        max_promo_items_month: r.max_promo_items_month.map(|d| d.0),
        max_discounts_per_customer_day: r.max_discounts_per_customer_day,
        max_discounts_per_customer_month: r.max_discounts_per_customer_month,
        ..Restrictions::default()
    };
    for (field, v) in [("max_promo_items_day", out.max_promo_items_day), ("max_promo_items_month", out.max_promo_items_month), ("max_discount_amount", out.max_discount_amount)] {
        if v.is_some_and(|v| v < Decimal::ZERO) {
            p.push(format!("{path}.{field}"), said::limit_negative());
        }
    }
    for (k, m) in r.max_accrual.iter().enumerate() {
        if !known(&m.currency) {
            p.push(format!("{path}.max_accrual[{k}].currency"), said::unknown_currency(&m.currency));
        }
        out.max_accrual.insert(m.currency.clone(), m.units.0);
    }
    out
}

impl Program {
    /// Compiles the program parts of a configuration document. Every problem is reported
    /// with its path in the document.
    pub fn compile(doc: &ConfigDocument, version: i64) -> Result<Program, Vec<ConfigError>> {
        let mut c = Compiler {
            doc,
            p: Problems(Vec::new()),
            out: Program { version, ..Program::default() },
            counter_ids: Vec::new(),
            currency_ids: Vec::new(),
        };
        c.currencies();
        c.card_series();
        c.counters();
        // What custom conditions may read, known from here on.
        c.counter_ids = c.out.counters.iter().map(|c| c.id.to_string()).collect();
        c.currency_ids = c.out.currencies.keys().map(|k| k.to_string()).collect();
        c.tiers();
        c.coupon_series();
        c.segments();
        c.campaigns();
        c.restrictions();
        c.fraud();
        c.webhooks();
        c.messages();
        c.portal();
        c.catalogue();
        c.offers();
        c.retention();
        if c.p.0.is_empty() { Ok(c.out) } else { Err(c.p.0) }
    }
}

/// One compilation: the document, the problems found so far, and the program compiled
/// so far (each part may refer to the parts before it, in the order of
/// [`Program::compile`]).
struct Compiler<'a> {
    doc: &'a ConfigDocument,
    p: Problems,
    out: Program,
    /// The counters and currencies custom conditions may name, once compiled.
    counter_ids: Vec<String>,
    currency_ids: Vec<String>,
}

impl Compiler<'_> {
    fn currencies(&mut self) {
        let (doc, p, out) = (self.doc, &mut self.p, &mut self.out);
        for (i, c) in doc.currencies.iter().enumerate() {
            out.currencies.insert(c.code.clone(), compile_currency(c, &format!("currencies[{i}]"), p, &mut out.names));
        }
        let stores = doc.stores.iter().map(|s| s.currency.clone()).collect();
        for (i, c) in doc.currencies.iter().enumerate() {
            let (denomination, rates) = denominate(c, &out.currencies, &stores, &format!("currencies[{i}]"), p);
            if let Some(cur) = out.currencies.get_mut(&c.code) {
                (cur.denomination, cur.rates) = (denomination, rates);
            }
            if let Some(conv) = &c.conversion {
                let compiled = check_conversion(c, conv, &out.currencies, &format!("currencies[{i}].conversion"), p);
                if let Some(cur) = out.currencies.get_mut(&c.code) {
                    cur.conversion = compiled;
                }
            }
        }
    }

    fn card_series(&mut self) {
        let (doc, p, out) = (self.doc, &mut self.p, &mut self.out);
        for (i, s) in doc.card_series.iter().enumerate() {
            let path = format!("card_series[{i}]");
            check_series(s, &path, &out.currencies, p);
            if out.series.insert(s.id.clone(), Series { spec: s.clone() }).is_some() {
                p.push(format!("{path}.id"), said::defined_twice("card series", &s.id));
            }
        }
    }

    fn counters(&mut self) {
        let (doc, p, out) = (self.doc, &mut self.p, &mut self.out);
        for (i, c) in doc.counters.iter().enumerate() {
            let path = format!("counters[{i}]");
            let range = match (c.window_days, c.period) {
                (Some(d), None) if d > 0 => Some(CounterRange::Window(SignedDuration::from_hours(24 * i64::from(d)))),
                (None, Some(period)) => Some(CounterRange::Period { start: period.start, every: period.every }),
                _ => {
                    p.push(&path, said::counter_window());
                    None
                }
            };
            if out.counters.iter().any(|x: &Counter| x.id == c.id) {
                p.push(format!("{path}.id"), said::defined_twice("counter", &c.id));
            }
            if let Some(range) = range {
                out.counters.push(Counter { id: c.id.clone(), measure: c.measure, range });
            }
        }
    }

    /// Whether the document defines a counter (even one that did not compile).
    fn known_counter(doc: &ConfigDocument, id: &ConfigCode) -> bool {
        doc.counters.iter().any(|c| c.id == *id)
    }

    fn tiers(&mut self) {
        for (i, t) in self.doc.tiers.iter().enumerate() {
            let path = format!("tiers[{i}]");
            if !Self::known_counter(self.doc, &t.counter) {
                self.p.push(format!("{path}.counter"), said::unknown_counter(&t.counter));
            }
            let levels: Vec<(ConfigCode, Decimal)> = t.levels.iter().map(|l| (l.id.clone(), l.from.0)).collect();
            if levels.is_empty() || levels.windows(2).any(|w| w[0].1 >= w[1].1) {
                self.p.push(format!("{path}.levels"), said::tier_levels());
            }
            self.out.tiers.push(Tier { id: t.id.clone(), counter: t.counter.clone(), levels });
        }
    }

    fn coupon_series(&mut self) {
        let (doc, p, out) = (self.doc, &mut self.p, &mut self.out);
        for (i, c) in doc.coupon_series.iter().enumerate() {
            let path = format!("coupon_series[{i}]");
            // A series named by a campaign may give nothing itself: the campaign does.
            let activates = doc.campaigns.iter().any(|x| x.coupon_series.as_ref() == Some(&c.id));
            let discount = match (c.percent, c.amount) {
                (Some(pc), None) if pc.0 > Decimal::ZERO && pc.0 <= Decimal::ONE_HUNDRED => Some(Some(CouponDiscount::Percent(pc.0))),
                (None, Some(a)) if a.0 > Decimal::ZERO => Some(Some(CouponDiscount::Amount(a.0))),
                (None, None) if activates => Some(None),
                (None, None) => {
                    p.push(&path, said::coupon_value_or_campaign());
                    None
                }
                (Some(_), Some(_)) => {
                    p.push(&path, said::coupon_percent_and_amount());
                    None
                }
                _ => {
                    p.push(&path, said::coupon_value_range());
                    None
                }
            };
            if c.round_per_line && !matches!(discount, Some(Some(CouponDiscount::Percent(_)))) {
                p.push(format!("{path}.round_per_line"), said::round_per_line_percent());
            }
            let code = match c.kind {
                CouponKind::Promo => {
                    let code = c.code.clone().unwrap_or_else(|| c.id.to_string()).to_uppercase();
                    if !crate::coupons::valid_code_text(&code) {
                        p.push(format!("{path}.code"), said::promo_code_format());
                    }
                    if out.promo_codes.insert(code.clone(), c.id.clone()).is_some() {
                        p.push(format!("{path}.code"), said::promo_code_twice(&code));
                    }
                    Some(code)
                }
                CouponKind::Unique => {
                    if c.code.is_some() {
                        p.push(format!("{path}.code"), said::unique_coupons_no_code());
                    }
                    None
                }
            };
            if c.uses_per_code == Some(0) || c.uses_per_customer == Some(0) || c.uses_total == Some(0) {
                p.push(&path, said::uses_at_least_one());
            }
            if let (Some(a), Some(b)) = (c.valid_from, c.valid_until)
                && a >= b
            {
                p.push(format!("{path}.valid_until"), said::coupon_expires_after_start());
            }
            let max_share = share(c.max_share, format!("{path}.max_share"), p);
            if let Some(discount) = discount {
                let goods = GoodsSpec {
                    groups: c.groups.clone(),
                    skus: c.skus.clone(),
                    exclude_groups: c.exclude_groups.clone(),
                    exclude_skus: c.exclude_skus.clone(),
                };
                out.coupon_series.insert(
                    c.id.clone(),
                    CouponSeries {
                        id: c.id.clone(),
                        kind: c.kind,
                        code,
                        discount,
                        per_line: c.round_per_line,
                        goods: Goods::compile(&goods, &mut out.names),
                        max_share,
                        uses_per_customer: c.uses_per_customer,
                        uses_per_code: c.uses_per_code.or((c.kind == CouponKind::Unique).then_some(1)),
                        uses_total: c.uses_total,
                        valid_from: c.valid_from,
                        valid_until: c.valid_until,
                        validity_days: c.validity_days,
                        customers_only: c.customers_only || c.uses_per_customer.is_some(),
                    },
                );
            }
        }
    }

    /// A custom condition, which may read the program's counters and currencies.
    fn condition(&mut self, src: &str, path: String) -> Option<Condition> {
        match Condition::compile(src, &self.counter_ids, &self.currency_ids) {
            Ok(condition) => Some(condition),
            Err(e) => {
                self.p.push_text(path, e);
                None
            }
        }
    }

    fn segments(&mut self) {
        for (i, s) in self.doc.segments.iter().enumerate() {
            let path = format!("segments[{i}]");
            if self.out.segments.iter().any(|x| x.id == s.id) {
                self.p.push(format!("{path}.id"), said::defined_twice("segment", &s.id));
            }
            if let Some(condition) = self.condition(&s.condition, format!("{path}.condition")) {
                self.out.segments.push(Segment { id: s.id.clone(), condition });
            }
        }
    }

    fn campaigns(&mut self) {
        let mut ids = BTreeSet::new();
        for (i, c) in self.doc.campaigns.iter().enumerate() {
            let path = format!("campaigns[{i}]");
            if !ids.insert(c.id.clone()) {
                self.p.push(format!("{path}.id"), said::defined_twice("campaign", &c.id));
            }
            if let Some(campaign) = self.campaign(c, &path) {
                self.out.campaigns.push(campaign);
            }
        }
        self.out.campaigns.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
    }

    /// One campaign, checked whatever its status; `None` unless it is active.
    fn campaign(&mut self, c: &CampaignSpec, path: &str) -> Option<Campaign> {
        let mut rewards = Vec::new();
        for (j, r) in c.rewards.iter().enumerate() {
            let rpath = format!("{path}.rewards[{j}]");
            let Compiler { doc, p, out, .. } = self;
            let known_counter = |id: &ConfigCode| Self::known_counter(doc, id);
            if let Some(reward) = compile_reward(r, &rpath, &out.currencies, &known_counter, &out.coupon_series, p, &mut out.names) {
                rewards.push(reward);
            }
        }
        if let (Some(from), Some(until)) = (c.from, c.until)
            && from >= until
        {
            self.p.push(format!("{path}.until"), said::campaign_ends_after_start());
        }
        let weekdays = weekday_bits(&c.weekdays);
        let mut month_days = 0u32;
        for (k, d) in c.month_days.iter().enumerate() {
            if !(1..=31).contains(d) {
                self.p.push(format!("{path}.month_days[{k}]"), said::month_days_range());
            } else {
                month_days |= 1 << d;
            }
        }
        let hours = c.hours.as_ref().and_then(|h| compile_hours(h, &format!("{path}.hours"), &mut self.p));
        for (k, t) in c.tiers.iter().enumerate() {
            if !self.out.tiers.iter().any(|tier| tier.levels.iter().any(|(l, _)| l == t)) {
                self.p.push(format!("{path}.tiers[{k}]"), said::unknown_tier_level(t));
            }
        }
        for (k, s) in c.series.iter().enumerate() {
            if !self.out.series.contains_key(s) {
                self.p.push(format!("{path}.series[{k}]"), said::unknown_card_series(s));
            }
        }
        let lines = c.lines.as_ref().map(|l| LinesCondition {
            goods: Goods::compile(
                &GoodsSpec {
                    groups: l.groups.clone(),
                    skus: l.skus.clone(),
                    exclude_groups: l.exclude_groups.clone(),
                    exclude_skus: l.exclude_skus.clone(),
                },
                &mut self.out.names,
            ),
            min_amount: l.min_amount.map(|d| d.0),
            min_quantity: l.min_quantity.map(|d| d.0),
            min_price: l.min_price.map(|d| d.0),
            max_price: l.max_price.map(|d| d.0),
        });
        let mut segment_ids = Vec::new();
        for (k, s) in c.segments.iter().enumerate() {
            match self.out.segments.iter().position(|x| x.id == *s) {
                Some(index) => segment_ids.push(index),
                None if self.doc.segments.iter().any(|x| x.id == *s) => {}
                None => self.p.push(format!("{path}.segments[{k}]"), said::unknown_segment(s)),
            }
        }
        let mut profile = Vec::new();
        for (field, values) in &c.profile {
            if let Err(e) = crate::profile::check_key(field) {
                self.p.push_text(format!("{path}.profile.{field}"), e.to_string());
            } else if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                self.p.push(format!("{path}.profile.{field}"), said::profile_values_needed());
            } else {
                profile.push((field.clone(), values.iter().map(|v| v.to_lowercase()).collect()));
            }
        }
        let condition = c.condition.as_ref().and_then(|src| self.condition(src, format!("{path}.condition")));
        let limits = c.limits.as_ref().map(|l| Limits {
            per_customer_day: l.per_customer_day,
            per_customer_month: l.per_customer_month,
            per_customer: l.per_customer,
            uses: l.uses,
            budget: l.budget.map(|d| d.0),
            promo_items_day: l.promo_items_day.map(|d| d.0),
            promo_items_month: l.promo_items_month.map(|d| d.0),
        });
        if limits.as_ref().is_some_and(Limits::per_customer) && !c.customers_only {
            self.p.push(format!("{path}.limits"), said::limits_need_customers());
        }
        if let Some(l) = &c.limits
            && [l.per_customer_day, l.per_customer_month, l.per_customer, l.uses].contains(&Some(0))
        {
            self.p.push(format!("{path}.limits"), said::limit_uses_at_least_one());
        }
        if let Some(s) = &c.coupon_series
            && !self.doc.coupon_series.iter().any(|x| x.id == *s)
        {
            self.p.push(format!("{path}.coupon_series"), said::unknown_coupon_series(s));
        }
        let max_discount_share = share(c.max_discount_share, format!("{path}.max_discount_share"), &mut self.p);
        let control = c.control_share.map(|d| d.0);
        if control.is_some_and(|s| s <= Decimal::ZERO || s >= Decimal::ONE) {
            self.p.push(format!("{path}.control_share"), said::control_share_range());
        }
        if control.is_some() && c.coupon_series.is_some() {
            self.p.push(format!("{path}.control_share"), said::control_with_code());
        }
        if c.max_discount.is_some_and(|d| d.0 < Decimal::ZERO) {
            self.p.push(format!("{path}.max_discount"), said::limit_negative());
        }
        if c.status != CampaignStatus::Active {
            return None;
        }
        fn set<T: Ord + Clone>(v: &[T]) -> BTreeSet<T> {
            v.iter().cloned().collect()
        }
        let campaign = Campaign {
            id: c.id.clone(),
            priority: c.priority,
            when: When { from: c.from, until: c.until, timezone: c.timezone.clone(), weekdays, month_days, hours },
            stores: set(&c.stores),
            exclude_stores: set(&c.exclude_stores),
            formats: set(&c.formats),
            exclude_formats: set(&c.exclude_formats),
            partners: set(&c.partners),
            exclude_partners: set(&c.exclude_partners),
            customers_only: c.customers_only
                || !c.series.is_empty()
                || !c.tiers.is_empty()
                || c.birthday.is_some()
                || !c.segments.is_empty()
                || !c.profile.is_empty(),
            series: set(&c.series),
            tiers: set(&c.tiers),
            birthday: c.birthday,
            segments: segment_ids,
            profile,
            min_total: c.min_total.map(|d| d.0),
            below_total: c.below_total.map(|d| d.0),
            min_quantity: c.min_quantity.map(|d| d.0),
            lines,
            condition,
            coupon_series: c.coupon_series.clone(),
            max_discount: c.max_discount.map(|d| d.0),
            max_discount_share,
            exclusive: c.exclusive,
            stack_group: c.stack_group.clone(),
            limits,
            control,
            rewards,
            messages: c.messages.clone(),
        };
        self.check_rates(c, &campaign, path);
        Some(campaign)
    }

    /// An accrual of a currency counted in one store currency must have a rate in every
    /// store of another currency the campaign runs in: never silently nothing.
    fn check_rates(&mut self, spec: &CampaignSpec, c: &Campaign, path: &str) {
        for (j, r) in spec.rewards.iter().enumerate().filter(|(_, r)| r.kind == RewardKind::Accrue) {
            let Some(cur) = r.currency.as_ref().and_then(|code| self.out.currencies.get(code)) else { continue };
            let Some(held_in) = &cur.denomination else { continue };
            for s in self.doc.stores.iter().filter(|s| c.runs_in(&s.id, s.format.as_ref(), s.partner.as_ref())) {
                if cur.rate_in(&s.currency).is_none() {
                    self.p.push(
                        format!("{path}.rewards[{j}].currency"),
                        said::accrual_needs_rate(&cur.code, held_in, &s.id, &s.currency),
                    );
                }
            }
        }
    }

    fn webhooks(&mut self) {
        for (i, w) in self.doc.webhooks.iter().enumerate() {
            let path = format!("webhooks[{i}]");
            if let Err(why) = crate::events::check_url(&w.url) {
                self.p.push(format!("{path}.url"), why);
            }
            if w.events.is_empty() {
                self.p.push(format!("{path}.events"), said::webhook_no_events(crate::events::EventKind::subscribable().collect::<Vec<_>>().join(", ")));
            }
            let mut events = Vec::new();
            for (k, e) in w.events.iter().enumerate() {
                match crate::events::EventKind::parse(e).filter(|k| crate::events::EventKind::subscribable().any(|n| n == k.name())) {
                    Some(kind) => events.push(kind),
                    None => self.p.push(
                        format!("{path}.events[{k}]"),
                        said::unknown_event(e, crate::events::EventKind::subscribable().collect::<Vec<_>>().join(", ")),
                    ),
                }
            }
            self.out.webhooks.push(crate::events::Webhook { id: w.id.to_string(), url: w.url.clone(), events, active: !w.paused });
        }
    }

    /// Checks a channel's `rate_per_minute` and `customer_limit`.
    fn limits(&mut self, name: &str, rate: Option<u32>, limit: Option<crate::program::CustomerLimit>) {
        if rate.is_some_and(|r| !(1..=1_000_000).contains(&r)) {
            self.p.push(format!("{name}.rate_per_minute"), said::channel_rate());
        }
        if limit.is_some_and(|l| !l.valid()) {
            self.p.push(format!("{name}.customer_limit"), said::channel_customer_limit());
        }
    }

    fn messages(&mut self) {
        if let Some(e) = &self.doc.email {
            if e.host.trim().is_empty() || e.host.chars().any(|c| c.is_whitespace() || c.is_control()) {
                self.p.push("email.host", said::email_host());
            }
            if !crate::messages::is_sender(&e.from) {
                self.p.push("email.from", said::email_from(&e.from));
            }
            if let Some(pem) = &e.ca_certificate
                && !is_pem_certificate(pem)
            {
                self.p.push("email.ca_certificate", said::email_ca());
            }
            self.limits("email", e.rate_per_minute, e.customer_limit);
            self.out.email = Some(e.clone());
        }
        let gateways = [("sms", &self.doc.sms), ("viber", &self.doc.viber), ("whatsapp", &self.doc.whatsapp)];
        for (name, g) in gateways {
            let Some(g) = g else { continue };
            if let Err(why) = crate::events::check_url(&g.url) {
                self.p.push(format!("{name}.url"), why);
            }
            if let Some(m) = &g.method
                && !matches!(m.as_str(), "POST" | "PUT")
            {
                self.p.push(format!("{name}.method"), said::sms_method(m));
            }
            if let Err(why) = crate::messages::check_gateway_template(&g.body) {
                self.p.push(format!("{name}.body"), why);
            }
            self.limits(name, g.rate_per_minute, g.customer_limit);
            if let Some(h) = &g.auth_header
                && (h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            {
                self.p.push(format!("{name}.auth_header"), said::sms_header(h));
            }
        }
        self.out.sms = self.doc.sms.clone();
        self.out.viber = self.doc.viber.clone();
        self.out.whatsapp = self.doc.whatsapp.clone();
        if let Some(t) = &self.doc.telegram {
            // A username: 5 to 32 letters, digits and '_' (Telegram's rule).
            if !(5..=32).contains(&t.bot.len()) || !t.bot.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                self.p.push("telegram.bot", said::telegram_bot(&t.bot));
            }
            if let Some(url) = &t.api_url
                && let Err(why) = crate::events::check_url(url)
            {
                self.p.push("telegram.api_url", why);
            }
            self.limits("telegram", t.rate_per_minute, t.customer_limit);
            self.out.telegram = Some(t.clone());
        }
        for (i, m) in self.doc.messages.iter().enumerate() {
            let path = format!("messages[{i}]");
            let event = crate::events::EventKind::parse(&m.event).filter(|k| crate::events::EventKind::subscribable().any(|n| n == k.name()));
            if event.is_none() {
                self.p.push(format!("{path}.event"), said::unknown_event(&m.event, crate::events::EventKind::subscribable().collect::<Vec<_>>().join(", ")));
            }
            if !self.out.has_channel(m.channel) {
                self.p.push(format!("{path}.channel"), said::channel_not_configured(m.channel.name()));
            }
            // A certificate goes to the address its buyer gave, a sign-in code to the one
            // typed, a task to its assignee's e-mail: none has a chat or a portal.
            let reachable = match event {
                Some(k) if k.to_address() => m.channel.to_any_address(),
                Some(K::CrmTaskDue) => m.channel == crate::messages::Channel::Email,
                _ => true,
            };
            if !reachable {
                self.p.push(format!("{path}.channel"), said::message_channel_event(m.channel.name(), &m.event));
            }
            let currencies: Vec<String> = self.doc.currencies.iter().map(|c| c.code.to_string()).collect();
            for (field, why) in crate::messages::check_texts(&m.texts, m.channel, event, &currencies) {
                self.p.push(format!("{path}.{field}"), why);
            }
            use crate::events::EventKind as K;
            // Each condition belongs to the events it can be read of.
            let (days, min, below, direction) = (
                matches!(event, Some(K::PointsExpiring | K::CustomerBirthday)),
                event == Some(K::PointsAccrued),
                event == Some(K::PointsRedeemed),
                event == Some(K::TierChanged),
            );
            let lowest = if event == Some(K::CustomerBirthday) { 0 } else { 1 };
            match m.days_before {
                Some(_) if !days => self.p.push(format!("{path}.days_before"), said::message_condition("days_before", "points.expiring, customer.birthday", &m.event)),
                Some(d) if !(lowest..=60).contains(&d) => self.p.push(format!("{path}.days_before"), said::message_days_range(lowest)),
                _ => {}
            }
            for (field, given, fits, events) in [
                ("min_amount", m.min_amount.is_some(), min, "points.accrued"),
                ("balance_below", m.balance_below.is_some(), below, "points.redeemed"),
                ("direction", m.direction.is_some(), direction, "tier.changed"),
            ] {
                if given && !fits {
                    self.p.push(format!("{path}.{field}"), said::message_condition(field, events, &m.event));
                }
            }
            for (field, value) in [("min_amount", m.min_amount), ("balance_below", m.balance_below)] {
                if value.is_some_and(|v| v.0 <= rust_decimal::Decimal::ZERO) {
                    self.p.push(format!("{path}.{field}"), said::message_amount_positive(field));
                }
            }
            let days_before = match event {
                Some(K::PointsExpiring) => m.days_before.unwrap_or(crate::events::EXPIRY_NOTICE_DAYS),
                Some(K::CustomerBirthday) => m.days_before.unwrap_or(0),
                _ => 0,
            };
            let when = crate::messages::When { min_amount: m.min_amount.map(|d| d.0), balance_below: m.balance_below.map(|d| d.0), direction: m.direction };
            if let Some(event) = event {
                self.out.messages.push(crate::messages::Message {
                    id: m.id.to_string(),
                    event,
                    channel: m.channel,
                    transactional: m.transactional,
                    texts: m.texts.clone(),
                    paused: m.paused,
                    days_before,
                    when,
                });
            }
        }
    }

    /// The portal's card series must be a loyalty series of the program.
    fn portal(&mut self) {
        let Some(portal) = &self.doc.portal else { return };
        if let Some(series) = &portal.card_series {
            let kind = self.doc.card_series.iter().find(|s| s.id == *series).map(|s| s.kind);
            if kind != Some(super::CardKind::Loyalty) {
                self.p.push("portal.card_series", said::portal_card_series(series.as_str()));
            }
        }
        for (field, why) in check_portal_texts(&portal.texts, false) {
            self.p.push(format!("portal.{field}"), why);
        }
        if portal.fields.len() > PORTAL_FIELDS {
            self.p.push("portal.fields", said::portal_fields_most(PORTAL_FIELDS));
        }
        let mut keys = BTreeSet::new();
        for (i, f) in portal.fields.iter().enumerate() {
            let path = format!("portal.fields[{i}]");
            // City and language have fields of their own on the page.
            if crate::profile::check_key(&f.key).is_err() || ["city", "language"].contains(&f.key.as_str()) || !keys.insert(f.key.as_str()) {
                self.p.push(format!("{path}.key"), said::portal_field_key(&f.key));
            }
            for (j, v) in f.values.iter().enumerate() {
                if crate::text::line("value", v, crate::profile::MAX_VALUE_CHARS).is_err() || f.values[..j].contains(v) {
                    self.p.push(format!("{path}.values[{j}]"), said::portal_field_value(crate::profile::MAX_VALUE_CHARS));
                }
            }
            for (field, why) in check_portal_texts(&f.texts, true) {
                self.p.push(format!("{path}.{field}"), why);
            }
        }
        self.out.portal = portal.clone();
    }

    /// A segment an offer or a reward is for must be one whose members the segments job
    /// lists: the portal reads who is in it, it cannot decide a condition on a receipt.
    fn portal_segment(&mut self, segment: Option<&String>, path: &str) {
        let Some(segment) = segment else { return };
        let listed = match crate::segments::rfm_group_of(segment) {
            Some(name) => crate::segments::Group::ALL.iter().any(|g| g.name() == name),
            None => self.out.segments.iter().any(|s| s.id.as_str() == segment && s.condition.job_evaluable()),
        };
        if !listed {
            self.p.push(format!("{path}.segment"), said::portal_segment(segment));
        }
    }

    /// The rewards catalogue: each paid in a points currency, giving a coupon of a
    /// unique series.
    fn catalogue(&mut self) {
        for (i, r) in self.doc.catalogue.iter().enumerate() {
            let path = format!("catalogue[{i}]");
            let cost = match self.out.currencies.get(&r.currency) {
                Some(c) if c.kind == CurrencyKind::Points => match crate::money::to_minor_exact(r.cost.0, c.scale) {
                    Ok(minor) if minor > 0 => Some(minor),
                    _ => {
                        self.p.push(format!("{path}.cost"), said::reward_cost(c.scale.places()));
                        None
                    }
                },
                _ => {
                    self.p.push(format!("{path}.currency"), said::reward_currency(&r.currency));
                    None
                }
            };
            if self.out.coupon_series.get(&r.coupon_series).is_none_or(|s| s.kind != CouponKind::Unique) {
                self.p.push(format!("{path}.coupon_series"), said::reward_series(&r.coupon_series));
            }
            self.portal_segment(r.segment.as_ref(), &path);
            for (field, n) in [("per_customer", r.per_customer), ("stock", r.stock)] {
                if n == Some(0) {
                    self.p.push(format!("{path}.{field}"), said::limit_uses_at_least_one());
                }
            }
            for (field, why) in check_portal_texts(&r.texts, true) {
                self.p.push(format!("{path}.{field}"), why);
            }
            if let Some(cost) = cost {
                self.out.catalogue.push(CatalogueItem { spec: r.clone(), cost });
            }
        }
    }

    /// How long personal data is kept: whole days within what makes sense.
    fn retention(&mut self) {
        let Some(r) = &self.doc.retention else { return };
        for (field, days, least) in [("inactive_days", r.inactive_days, crate::privacy::LEAST_INACTIVE_DAYS), ("messages_days", r.messages_days, crate::privacy::LEAST_MESSAGES_DAYS)] {
            if days.is_some_and(|d| !(least..=crate::privacy::MOST_DAYS).contains(&d)) {
                self.p.push(format!("retention.{field}"), said::retention_days(field, least, crate::privacy::MOST_DAYS));
            }
        }
        self.out.retention = Some(r.clone());
    }

    /// The portal's advertising blocks.
    fn offers(&mut self) {
        for (i, o) in self.doc.offers.iter().enumerate() {
            let path = format!("offers[{i}]");
            self.portal_segment(o.segment.as_ref(), &path);
            if let (Some(from), Some(until)) = (o.valid_from, o.valid_until)
                && from >= until
            {
                self.p.push(format!("{path}.valid_until"), said::offer_ends_after_start());
            }
            if let Some(link) = &o.link
                && crate::events::check_url(link).is_err()
            {
                self.p.push(format!("{path}.link"), said::offer_link(link));
            }
            for (field, why) in check_portal_texts(&o.texts, true) {
                self.p.push(format!("{path}.{field}"), why);
            }
        }
        self.out.offers = self.doc.offers.clone();
    }

    fn fraud(&mut self) {
        let Some(f) = &self.doc.fraud else { return };
        match f.rules() {
            Ok(rules) => self.out.fraud = rules,
            Err((field, said)) => self.p.push(format!("fraud.{field}"), said),
        }
    }

    fn restrictions(&mut self) {
        let Some(r) = &self.doc.restrictions else { return };
        let (p, out) = (&mut self.p, &mut self.out);
        let known = |code: &AssetCode| out.currencies.contains_key(code);
        if r.name.is_some() || r.from.is_some() || r.until.is_some() || !r.weekdays.is_empty() || r.hours.is_some() {
            p.push("restrictions", said::restrictions_need_schedules());
        }
        let base = compile_restrictions(r, "restrictions", &known, p);
        let mut schedules = Vec::new();
        for (k, s) in r.schedules.iter().enumerate() {
            let path = format!("restrictions.schedules[{k}]");
            if !s.schedules.is_empty() {
                p.push(format!("{path}.schedules"), said::schedule_nested());
            }
            let compiled = compile_restrictions(s, &path, &known, p);
            if let (Some(from), Some(until)) = (s.from, s.until)
                && from >= until
            {
                p.push(format!("{path}.until"), said::schedule_ends_after_start());
            }
            let hours = s.hours.as_ref().and_then(|h| compile_hours(h, &format!("{path}.hours"), p));
            let when = When { from: s.from, until: s.until, timezone: None, weekdays: weekday_bits(&s.weekdays), month_days: 0, hours };
            schedules.push((when, compiled));
        }
        out.restrictions = RestrictionRules { base, schedules };
    }
}

/// Whether `pem` holds certificates in PEM and nothing else: one or more
/// `BEGIN CERTIFICATE` … `END CERTIFICATE` blocks of base64 (the TLS library reads
/// them; this refuses a key or a typo when the program is applied).
fn is_pem_certificate(pem: &str) -> bool {
    let (begin, end) = ("-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----");
    let mut rest = pem.trim();
    let mut blocks = 0;
    while !rest.is_empty() {
        let Some(body) = rest.strip_prefix(begin) else { return false };
        let Some((inside, after)) = body.split_once(end) else { return false };
        if !inside.chars().all(|c| c.is_ascii_alphanumeric() || "+/=\r\n ".contains(c)) || inside.trim().is_empty() {
            return false;
        }
        blocks += 1;
        rest = after.trim_start();
    }
    blocks > 0
}
