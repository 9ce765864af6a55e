//! The loyalty program: what a marketer writes in a configuration file ([`spec`]) and
//! its compiled form, [`Program`], which the calculation engine runs against every
//! receipt.
//!
//! Compiling checks everything that can be checked before a receipt arrives (unknown
//! currencies, counters, tiers and coupon series; contradictory options; rates that are
//! not numbers; custom conditions that do not parse or do not give a boolean) and
//! reports each problem with its path in the file, so no receipt ever fails on a
//! configuration error.

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use rust_decimal::Decimal;

use crate::config::{ConfigDocument, ConfigError, CurrencyKind, CurrencySpec};
use crate::ids::{AssetCode, StoreCode};
use crate::money::{self, Rounding, Scale};
use crate::org::TimeZoneName;

pub mod cel;
pub mod spec;

pub use self::cel::{CelInput, CelLine, Condition};
pub use spec::*;

// ---- compiled program -------------------------------------------------------------

/// When accrued units expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Days(u32),
    Months(u32),
    Until(Timestamp),
    PeriodEnd(PeriodUnit),
}

/// A conversion of one currency into another, in minor units of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub to: AssetCode,
    pub every: i64,
    pub gives: i64,
}

/// A currency as the engine uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    pub code: AssetCode,
    pub kind: CurrencyKind,
    pub scale: Scale,
    pub rounding: Rounding,
    /// Store-money value of one whole unit, if it can pay.
    pub value: Option<Decimal>,
    pub redeem: Option<Redeem>,
    pub activation: Option<SignedDuration>,
    pub lifetime: Option<Lifetime>,
    pub conversion: Option<Conversion>,
    /// All units burn after this long without a purchase.
    pub inactivity: Option<SignedDuration>,
}

/// The first moment of the calendar period of `unit` containing `at`, in `tz`.
fn period_start(at: Timestamp, unit: PeriodUnit, tz: &TimeZone) -> Option<jiff::ZonedDateTime> {
    let z = at.to_zoned_datetime(tz.clone());
    let month = match unit {
        PeriodUnit::Month => z.month(),
        PeriodUnit::Quarter => (z.month() - 1) / 3 * 3 + 1,
        PeriodUnit::Year => 1,
    };
    jiff::civil::date(z.year(), month, 1).to_zoned_datetime(tz.clone()).ok()
}

impl Currency {
    /// Lot dates for units accrued at `at` in a store of time zone `tz`.
    pub fn lot_terms(&self, at: Timestamp, tz: &TimeZone) -> crate::ledger::LotTerms {
        let available_at = self.activation.map(|d| at + d);
        let start = available_at.unwrap_or(at);
        let expires_at = self.lifetime.and_then(|l| {
            let zoned = start.to_zoned_datetime(tz.clone());
            match l {
                Lifetime::Days(d) => zoned.checked_add(i64::from(d).days()).ok().map(|z| z.timestamp()),
                Lifetime::Months(m) => zoned.checked_add(i64::from(m).months()).ok().map(|z| z.timestamp()),
                Lifetime::Until(t) => Some(t),
                Lifetime::PeriodEnd(unit) => period_start(start, unit, tz)
                    .and_then(|p| p.checked_add(unit.months().months()).ok())
                    .map(|z| z.timestamp()),
            }
        });
        // Units that would expire before they activate are given with no activation.
        match (available_at, expires_at) {
            (Some(a), Some(e)) if a >= e => crate::ledger::LotTerms { available_at: None, expires_at: Some(e) },
            _ => crate::ledger::LotTerms { available_at, expires_at },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeem {
    /// In minor units of the currency.
    pub min_balance: i64,
    pub max_share: Option<Decimal>,
    pub excluded: Goods,
    pub accrue_on_redeemed: bool,
}

/// The group and SKU names goods filters use, numbered (up to 128) so that filters
/// compile to bitmasks and matching a line is two AND operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    skus: std::collections::HashMap<String, u8, Fnv>,
    groups: std::collections::HashMap<String, u8, Fnv>,
}

/// FNV-1a: every line of every receipt is looked up here, and these short names hash
/// several times faster than with SipHash. Collision attacks need to insert keys, and
/// only the operator's program inserts any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Names past this many are matched by string instead of by bit.
const MASK_BITS: usize = 128;

impl Names {
    fn id(&mut self, kind: char, name: &str) -> Option<u8> {
        let next = self.len();
        let map = if kind == 's' { &mut self.skus } else { &mut self.groups };
        if let Some(id) = map.get(name) {
            return Some(*id);
        }
        if next >= MASK_BITS {
            return None;
        }
        let id = u8::try_from(next).ok()?;
        map.insert(name.to_owned(), id);
        Some(id)
    }

    /// How many names have a bit.
    pub fn len(&self) -> usize {
        self.skus.len() + self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bits of a line: its SKU and groups that some filter names.
    pub fn line_mask(&self, sku: &str, groups: &[String]) -> u128 {
        if self.is_empty() {
            return 0;
        }
        let mut mask = self.skus.get(sku).map_or(0, |id| 1u128 << id);
        for g in groups {
            if let Some(id) = self.groups.get(g.as_str()) {
                mask |= 1u128 << id;
            }
        }
        mask
    }
}

/// A compiled goods filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Goods {
    pub groups: BTreeSet<String>,
    pub skus: BTreeSet<String>,
    pub exclude_groups: BTreeSet<String>,
    pub exclude_skus: BTreeSet<String>,
    /// (include, exclude) bits when every name has a bit.
    mask: Option<(u128, u128)>,
}

impl Goods {
    fn compile(g: &GoodsSpec, names: &mut Names) -> Goods {
        let set = |v: &Vec<String>| v.iter().cloned().collect();
        let mut bits = |kind: char, list: &Vec<String>| -> Option<u128> {
            list.iter().try_fold(0u128, |m, n| names.id(kind, n).map(|id| m | 1u128 << id))
        };
        let mask = (|| {
            let include = bits('g', &g.groups)? | bits('s', &g.skus)?;
            let exclude = bits('g', &g.exclude_groups)? | bits('s', &g.exclude_skus)?;
            Some((include, exclude))
        })();
        Goods {
            groups: set(&g.groups),
            skus: set(&g.skus),
            exclude_groups: set(&g.exclude_groups),
            exclude_skus: set(&g.exclude_skus),
            mask,
        }
    }

    /// Whether a line with this SKU and these groups is selected.
    pub fn matches(&self, sku: &str, groups: &[String]) -> bool {
        if self.exclude_skus.contains(sku) || groups.iter().any(|g| self.exclude_groups.contains(g)) {
            return false;
        }
        if self.groups.is_empty() && self.skus.is_empty() {
            return true;
        }
        self.skus.contains(sku) || groups.iter().any(|g| self.groups.contains(g))
    }

    /// The (include, exclude) name bits, when every name the filter uses has one.
    pub fn mask(&self) -> Option<(u128, u128)> {
        self.mask
    }

    /// [`Goods::matches`] for a line whose [`Names::line_mask`] is `mask`.
    #[inline]
    pub fn matches_line(&self, mask: u128, sku: &str, groups: &[String]) -> bool {
        match self.mask {
            Some((include, exclude)) => mask & exclude == 0 && (include == 0 || mask & include != 0),
            None => self.matches(sku, groups),
        }
    }

    /// Whether a line is named by the *exclusion* lists (for "cannot be paid with").
    pub fn excludes(&self, sku: &str, groups: &[String]) -> bool {
        self.exclude_skus.contains(sku) || groups.iter().any(|g| self.exclude_groups.contains(g))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Units per 100 of money.
    Percent(Decimal),
    /// `units` per `per` of money, proportionally.
    Per { per: Decimal, units: Decimal },
    /// `units` per whole `step` of money.
    Step { step: Decimal, units: Decimal },
    /// Units per unit of quantity.
    PerItem(Decimal),
    /// Units per receipt.
    Fixed(Decimal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reward {
    Accrue { currency: AssetCode, rate: Rate, goods: Goods, exceptions: Vec<(Goods, Rate)> },
    DiscountPercent { percent: Decimal, goods: Goods },
    DiscountAmount { amount: Decimal, goods: Goods },
    /// The matching goods sell at `price` per unit.
    FixedPrice { price: Decimal, goods: Goods },
    /// A percent that grows with a counter.
    Accumulated { counter: StoreCode, base: Decimal, step: Decimal, per_step: Decimal, max: Decimal, goods: Goods },
    IssueCoupon { series: StoreCode },
    Gift { gift: String },
}

/// When a campaign runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct When {
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// The campaign's own zone, else the store's.
    pub timezone: Option<TimeZoneName>,
    /// Bit `i` set: weekday `i` (Monday = 0); 0 means every day.
    pub weekdays: u8,
    /// Bit `d` set: day `d` of the month; 0 means every day.
    pub month_days: u32,
    /// Minutes after midnight, `from` inclusive, `to` exclusive; wraps past midnight.
    pub hours: Option<(u16, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinesCondition {
    pub goods: Goods,
    pub min_amount: Option<Decimal>,
    pub min_quantity: Option<Decimal>,
    /// Unit-price bounds on the lines that count.
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub per_customer_day: Option<u32>,
    pub per_customer_month: Option<u32>,
    pub per_customer: Option<u32>,
    pub budget: Option<Decimal>,
    pub promo_items_day: Option<Decimal>,
    pub promo_items_month: Option<Decimal>,
}

impl Limits {
    pub fn per_customer(&self) -> bool {
        self.per_customer_day.is_some() || self.per_customer_month.is_some() || self.per_customer.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: StoreCode,
    pub priority: i32,
    pub when: When,
    pub stores: BTreeSet<StoreCode>,
    pub exclude_stores: BTreeSet<StoreCode>,
    pub formats: BTreeSet<StoreCode>,
    pub exclude_formats: BTreeSet<StoreCode>,
    pub partners: BTreeSet<StoreCode>,
    pub exclude_partners: BTreeSet<StoreCode>,
    pub customers_only: bool,
    pub series: BTreeSet<StoreCode>,
    pub tiers: BTreeSet<StoreCode>,
    pub birthday: Option<BirthdaySpec>,
    /// Indexes into [`Program::segments`]: the customer must be in one of them.
    pub segments: Vec<usize>,
    /// Profile fields and their allowed values, in lower case: every field must have
    /// one of its values (compared without regard to case).
    pub profile: Vec<(String, BTreeSet<String>)>,
    pub min_total: Option<Decimal>,
    pub below_total: Option<Decimal>,
    pub min_quantity: Option<Decimal>,
    pub lines: Option<LinesCondition>,
    pub condition: Option<Condition>,
    pub exclusive: bool,
    pub stack_group: Option<StoreCode>,
    pub limits: Option<Limits>,
    pub rewards: Vec<Reward>,
    pub messages: MessagesSpec,
}

/// A compiled customer segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: StoreCode,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub spec: CardSeriesSpec,
}

/// Where a counter's receipts start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterRange {
    Window(SignedDuration),
    Period { start: Timestamp, every: PeriodUnit },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub id: StoreCode,
    pub measure: Measure,
    pub range: CounterRange,
}

impl Counter {
    /// Receipts from this moment up to `at` count at `at`. Before the first period
    /// starts, nothing counts.
    pub fn start_at(&self, at: Timestamp) -> Timestamp {
        match self.range {
            CounterRange::Window(w) => at - w,
            CounterRange::Period { start, every } => {
                if at < start {
                    return at;
                }
                // The zone of `start` does not matter for adding months to an instant
                // expressed with its own offset; UTC keeps it exact and simple.
                let z = start.to_zoned_datetime(TimeZone::UTC);
                let mut k: i64 = 0;
                loop {
                    let next = z.checked_add(((k + 1) * every.months()).months()).map(|n| n.timestamp());
                    match next {
                        Ok(n) if n <= at => k += 1,
                        _ => break,
                    }
                }
                z.checked_add((k * every.months()).months()).map(|s| s.timestamp()).unwrap_or(start)
            }
        }
    }
}

/// The values of `counters` at `at`, from a customer's earlier receipts: `(time, paid)`
/// pairs, `paid` in store minor units after discounts and returns. Receipts committed
/// before the one being computed count even when they carry the same time. Money
/// counters are in store money; counts are whole numbers. Visits are distinct days in
/// `tz`.
pub fn counter_values(
    counters: &[Counter],
    receipts: &[(Timestamp, i64)],
    at: Timestamp,
    scale: Scale,
    tz: &TimeZone,
) -> BTreeMap<String, Decimal> {
    counters
        .iter()
        .map(|c| {
            let start = c.start_at(at);
            let inside = receipts.iter().filter(|(t, _)| *t >= start && *t <= at);
            let value = match c.measure {
                Measure::Visits => {
                    let days: BTreeSet<jiff::civil::Date> = inside.map(|(t, _)| t.to_zoned_datetime(tz.clone()).date()).collect();
                    Decimal::from(days.len())
                }
                measure => {
                    let (paid, count) = inside.fold((0i64, 0i64), |(p, n), (_, paid)| (p + paid, n + 1));
                    totals_value(measure, CounterTotals { paid, receipts: count }, scale)
                }
            };
            (c.id.to_string(), value)
        })
        .collect()
}

/// What a database adds up for one counter: the receipts in its range at `at` (from
/// [`Counter::start_at`] to `at`, both included) and the money paid on them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterTotals {
    pub paid: i64,
    pub receipts: i64,
}

/// Whether [`counter_values_from_totals`] can give these counters' values (visits need
/// the receipts' days, so they take [`counter_values`]).
pub fn counters_from_totals(counters: &[Counter]) -> bool {
    counters.iter().all(|c| c.measure != Measure::Visits)
}

/// [`counter_values`] from totals the database added up, one per counter in order, so
/// a customer's long history need not be read receipt by receipt.
pub fn counter_values_from_totals(counters: &[Counter], totals: &[CounterTotals], scale: Scale) -> BTreeMap<String, Decimal> {
    counters.iter().zip(totals).map(|(c, t)| (c.id.to_string(), totals_value(c.measure, *t, scale))).collect()
}

fn totals_value(measure: Measure, t: CounterTotals, scale: Scale) -> Decimal {
    match measure {
        Measure::Sum => money::from_minor(t.paid, scale),
        Measure::Count => Decimal::from(t.receipts),
        Measure::Visits => unreachable!("visits are counted from the receipts' days"),
    }
}

/// The earliest moment any counter looks back to at `at`.
pub fn counters_start(counters: &[Counter], at: Timestamp) -> Option<Timestamp> {
    counters.iter().map(|c| c.start_at(at)).min()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub id: StoreCode,
    pub counter: StoreCode,
    /// Ascending by threshold.
    pub levels: Vec<(StoreCode, Decimal)>,
}

impl Tier {
    /// The level a counter value reaches (the highest threshold at or below it).
    pub fn level(&self, value: Decimal) -> Option<&StoreCode> {
        self.levels.iter().rev().find(|(_, from)| value >= *from).map(|(id, _)| id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponDiscount {
    Percent(Decimal),
    Amount(Decimal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponSeries {
    pub id: StoreCode,
    pub kind: CouponKind,
    /// Promo: the shared code, upper case.
    pub code: Option<String>,
    pub discount: CouponDiscount,
    pub goods: Goods,
    pub max_share: Option<Decimal>,
    pub uses_per_customer: Option<u32>,
    pub uses_per_code: Option<u32>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub validity_days: Option<u32>,
    pub customers_only: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restrictions {
    pub max_discount_share: Option<Decimal>,
    pub max_discount_amount: Option<Decimal>,
    pub max_redeem_share: Option<Decimal>,
    pub max_accrual: BTreeMap<AssetCode, Decimal>,
    pub max_promo_items_day: Option<Decimal>,
    pub max_promo_items_month: Option<Decimal>,
    pub max_discounts_per_customer_day: Option<u32>,
    pub max_discounts_per_customer_month: Option<u32>,
}

impl Restrictions {
    /// These restrictions with every limit `o` sets in its place.
    pub fn overlaid(&self, o: &Restrictions) -> Restrictions {
        let mut max_accrual = self.max_accrual.clone();
        max_accrual.extend(o.max_accrual.iter().map(|(k, v)| (k.clone(), *v)));
        Restrictions {
            max_discount_share: o.max_discount_share.or(self.max_discount_share),
            max_discount_amount: o.max_discount_amount.or(self.max_discount_amount),
            max_redeem_share: o.max_redeem_share.or(self.max_redeem_share),
            max_accrual,
            max_promo_items_day: o.max_promo_items_day.or(self.max_promo_items_day),
            max_promo_items_month: o.max_promo_items_month.or(self.max_promo_items_month),
            max_discounts_per_customer_day: o.max_discounts_per_customer_day.or(self.max_discounts_per_customer_day),
            max_discounts_per_customer_month: o.max_discounts_per_customer_month.or(self.max_discounts_per_customer_month),
        }
    }
}

/// The restrictions always in force, and those of some times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestrictionRules {
    pub base: Restrictions,
    /// In file order: the first whose time matches overlays `base`.
    pub schedules: Vec<(When, Restrictions)>,
}

/// The compiled, immutable program of one configuration version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Program {
    pub version: i64,
    pub currencies: BTreeMap<AssetCode, Currency>,
    pub series: BTreeMap<StoreCode, Series>,
    pub counters: Vec<Counter>,
    pub tiers: Vec<Tier>,
    pub coupon_series: BTreeMap<StoreCode, CouponSeries>,
    /// Promo codes (upper case) to their series.
    pub promo_codes: BTreeMap<String, StoreCode>,
    /// Customer segments, in file order.
    pub segments: Vec<Segment>,
    /// Active campaigns, highest priority first, then by id.
    pub campaigns: Vec<Campaign>,
    pub restrictions: RestrictionRules,
    /// The names goods filters use, for line masks.
    pub names: Names,
}

struct Problems(Vec<ConfigError>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError { path: path.into(), message: message.into() });
    }
}

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
        p.push(path, "give exactly one rate: percent, per + units, step + units, per_item, or fixed");
        return None;
    }
    let rate = given[0];
    let positive = |v: Decimal| v > Decimal::ZERO;
    let ok = match rate {
        Rate::Percent(v) | Rate::PerItem(v) | Rate::Fixed(v) => v >= Decimal::ZERO,
        Rate::Per { per, units } | Rate::Step { step: per, units } => positive(per) && units >= Decimal::ZERO,
    };
    if !ok {
        p.push(path, "rates must not be negative, and per/step must be positive");
        return None;
    }
    Some(rate)
}

fn share(v: Option<Dec>, path: String, p: &mut Problems) -> Option<Decimal> {
    let v = v?.0;
    if v <= Decimal::ZERO || v > Decimal::ONE {
        p.push(path, "a share is a fraction above 0 and at most 1, e.g. \"0.30\"");
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
            p.push(path, "hours are \"HH:MM\" from and to, e.g. from = \"09:00\", to = \"12:00\"");
            None
        }
    }
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
            p.push(format!("{path}.{field}"), "a limit cannot be negative");
        }
    }
    for (k, m) in r.max_accrual.iter().enumerate() {
        if !known(&m.currency) {
            p.push(format!("{path}.max_accrual[{k}].currency"), format!("unknown currency '{}'", m.currency));
        }
        out.max_accrual.insert(m.currency.clone(), m.units.0);
    }
    out
}

impl Program {
    /// Compiles the program parts of a configuration document. Every problem is reported
    /// with its path in the document.
    pub fn compile(doc: &ConfigDocument, version: i64) -> Result<Program, Vec<ConfigError>> {
        let mut p = Problems(Vec::new());
        let mut names = Names::default();
        let mut currencies = BTreeMap::new();
        for (i, c) in doc.currencies.iter().enumerate() {
            currencies.insert(c.code.clone(), compile_currency(c, &format!("currencies[{i}]"), &mut p, &mut names));
        }
        for (i, c) in doc.currencies.iter().enumerate() {
            if let Some(conv) = &c.conversion {
                let compiled = check_conversion(c, conv, &currencies, &format!("currencies[{i}].conversion"), &mut p);
                if let Some(cur) = currencies.get_mut(&c.code) {
                    cur.conversion = compiled;
                }
            }
        }
        let known = |code: &AssetCode| currencies.contains_key(code);

        let mut series = BTreeMap::new();
        for (i, s) in doc.card_series.iter().enumerate() {
            let path = format!("card_series[{i}]");
            check_series(s, &path, &currencies, &mut p);
            if series.insert(s.id.clone(), Series { spec: s.clone() }).is_some() {
                p.push(format!("{path}.id"), format!("card series '{}' is defined twice", s.id));
            }
        }

        let mut counters = Vec::new();
        for (i, c) in doc.counters.iter().enumerate() {
            let path = format!("counters[{i}]");
            let range = match (c.window_days, c.period) {
                (Some(d), None) if d > 0 => Some(CounterRange::Window(SignedDuration::from_hours(24 * i64::from(d)))),
                (None, Some(period)) => Some(CounterRange::Period { start: period.start, every: period.every }),
                _ => {
                    p.push(&path, "a counter needs exactly one of window_days (above 0) or period");
                    None
                }
            };
            if counters.iter().any(|x: &Counter| x.id == c.id) {
                p.push(format!("{path}.id"), format!("counter '{}' is defined twice", c.id));
            }
            if let Some(range) = range {
                counters.push(Counter { id: c.id.clone(), measure: c.measure, range });
            }
        }
        let counter_ids: Vec<String> = counters.iter().map(|c| c.id.to_string()).collect();
        let known_counter = |id: &StoreCode| doc.counters.iter().any(|c| c.id == *id);

        let mut tiers = Vec::new();
        for (i, t) in doc.tiers.iter().enumerate() {
            let path = format!("tiers[{i}]");
            if !known_counter(&t.counter) {
                p.push(format!("{path}.counter"), format!("unknown counter '{}'", t.counter));
            }
            let levels: Vec<(StoreCode, Decimal)> = t.levels.iter().map(|l| (l.id.clone(), l.from.0)).collect();
            if levels.is_empty() || levels.windows(2).any(|w| w[0].1 >= w[1].1) {
                p.push(format!("{path}.levels"), "levels need ascending, distinct `from` values");
            }
            tiers.push(Tier { id: t.id.clone(), counter: t.counter.clone(), levels });
        }
        let known_level = |id: &StoreCode| tiers.iter().any(|t| t.levels.iter().any(|(l, _)| l == id));

        let mut coupon_series = BTreeMap::new();
        let mut promo_codes = BTreeMap::new();
        for (i, c) in doc.coupon_series.iter().enumerate() {
            let path = format!("coupon_series[{i}]");
            let discount = match (c.percent, c.amount) {
                (Some(pc), None) if pc.0 > Decimal::ZERO && pc.0 <= Decimal::ONE_HUNDRED => Some(CouponDiscount::Percent(pc.0)),
                (None, Some(a)) if a.0 > Decimal::ZERO => Some(CouponDiscount::Amount(a.0)),
                _ => {
                    p.push(&path, "a coupon gives exactly one of percent (above 0, at most 100) or amount (above 0)");
                    None
                }
            };
            let code = match c.kind {
                CouponKind::Promo => {
                    let code = c.code.clone().unwrap_or_else(|| c.id.to_string()).to_uppercase();
                    if !crate::coupons::valid_code_text(&code) {
                        p.push(format!("{path}.code"), "a promo code is 1 to 32 letters, digits, '-' or '_'");
                    }
                    if promo_codes.insert(code.clone(), c.id.clone()).is_some() {
                        p.push(format!("{path}.code"), format!("promo code {code} is used by two series"));
                    }
                    Some(code)
                }
                CouponKind::Unique => {
                    if c.code.is_some() {
                        p.push(format!("{path}.code"), "unique coupons get generated codes; `code` is for promo series");
                    }
                    None
                }
            };
            if c.uses_per_code == Some(0) || c.uses_per_customer == Some(0) {
                p.push(&path, "uses must be at least 1");
            }
            if let (Some(a), Some(b)) = (c.valid_from, c.valid_until)
                && a >= b
            {
                p.push(format!("{path}.valid_until"), "a coupon must expire after it becomes valid");
            }
            let max_share = share(c.max_share, format!("{path}.max_share"), &mut p);
            if let Some(discount) = discount {
                let goods = GoodsSpec {
                    groups: c.groups.clone(),
                    skus: c.skus.clone(),
                    exclude_groups: c.exclude_groups.clone(),
                    exclude_skus: c.exclude_skus.clone(),
                };
                coupon_series.insert(
                    c.id.clone(),
                    CouponSeries {
                        id: c.id.clone(),
                        kind: c.kind,
                        code,
                        discount,
                        goods: Goods::compile(&goods, &mut names),
                        max_share,
                        uses_per_customer: c.uses_per_customer,
                        uses_per_code: c.uses_per_code.or((c.kind == CouponKind::Unique).then_some(1)),
                        valid_from: c.valid_from,
                        valid_until: c.valid_until,
                        validity_days: c.validity_days,
                        customers_only: c.customers_only || c.uses_per_customer.is_some(),
                    },
                );
            }
        }

        let currency_ids: Vec<String> = currencies.keys().map(|k| k.to_string()).collect();
        let mut segments: Vec<Segment> = Vec::new();
        for (i, s) in doc.segments.iter().enumerate() {
            let path = format!("segments[{i}]");
            if segments.iter().any(|x| x.id == s.id) {
                p.push(format!("{path}.id"), format!("segment '{}' is defined twice", s.id));
            }
            match Condition::compile(&s.condition, &counter_ids, &currency_ids) {
                Ok(condition) => segments.push(Segment { id: s.id.clone(), condition }),
                Err(e) => p.push(format!("{path}.condition"), e),
            }
        }

        let mut campaigns = Vec::new();
        let mut ids = BTreeSet::new();
        for (i, c) in doc.campaigns.iter().enumerate() {
            let path = format!("campaigns[{i}]");
            if !ids.insert(c.id.clone()) {
                p.push(format!("{path}.id"), format!("campaign '{}' is defined twice", c.id));
            }
            let mut rewards = Vec::new();
            for (j, r) in c.rewards.iter().enumerate() {
                let rpath = format!("{path}.rewards[{j}]");
                if let Some(reward) = compile_reward(r, &rpath, &currencies, &known_counter, &coupon_series, &mut p, &mut names) {
                    rewards.push(reward);
                }
            }
            if let (Some(from), Some(until)) = (c.from, c.until)
                && from >= until
            {
                p.push(format!("{path}.until"), "a campaign must end after it starts");
            }
            let weekdays = weekday_bits(&c.weekdays);
            let mut month_days = 0u32;
            for (k, d) in c.month_days.iter().enumerate() {
                if !(1..=31).contains(d) {
                    p.push(format!("{path}.month_days[{k}]"), "days of the month are 1 to 31");
                } else {
                    month_days |= 1 << d;
                }
            }
            let hours = c.hours.as_ref().and_then(|h| compile_hours(h, &format!("{path}.hours"), &mut p));
            for (k, t) in c.tiers.iter().enumerate() {
                if !known_level(t) {
                    p.push(format!("{path}.tiers[{k}]"), format!("no tier has a level '{t}'"));
                }
            }
            for (k, s) in c.series.iter().enumerate() {
                if !series.contains_key(s) {
                    p.push(format!("{path}.series[{k}]"), format!("unknown card series '{s}'"));
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
                    &mut names,
                ),
                min_amount: l.min_amount.map(|d| d.0),
                min_quantity: l.min_quantity.map(|d| d.0),
                min_price: l.min_price.map(|d| d.0),
                max_price: l.max_price.map(|d| d.0),
            });
            let mut segment_ids = Vec::new();
            for (k, s) in c.segments.iter().enumerate() {
                match segments.iter().position(|x| x.id == *s) {
                    Some(index) => segment_ids.push(index),
                    None if doc.segments.iter().any(|x| x.id == *s) => {}
                    None => p.push(format!("{path}.segments[{k}]"), format!("unknown segment '{s}'")),
                }
            }
            let mut profile = Vec::new();
            for (field, values) in &c.profile {
                if let Err(e) = crate::profile::check_key(field) {
                    p.push(format!("{path}.profile.{field}"), e.to_string());
                } else if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                    p.push(format!("{path}.profile.{field}"), "list the values the field may have, e.g. [\"Riga\"]");
                } else {
                    profile.push((field.clone(), values.iter().map(|v| v.to_lowercase()).collect()));
                }
            }
            let condition = c.condition.as_ref().and_then(|src| match Condition::compile(src, &counter_ids, &currency_ids) {
                Ok(cond) => Some(cond),
                Err(e) => {
                    p.push(format!("{path}.condition"), e);
                    None
                }
            });
            let limits = c.limits.as_ref().map(|l| Limits {
                per_customer_day: l.per_customer_day,
                per_customer_month: l.per_customer_month,
                per_customer: l.per_customer,
                budget: l.budget.map(|d| d.0),
                promo_items_day: l.promo_items_day.map(|d| d.0),
                promo_items_month: l.promo_items_month.map(|d| d.0),
            });
            if limits.as_ref().is_some_and(Limits::per_customer) && !c.customers_only {
                p.push(format!("{path}.limits"), "limits per customer need customers_only = true");
            }
            if c.status != CampaignStatus::Active {
                continue;
            }
            let set = |v: &Vec<StoreCode>| v.iter().cloned().collect::<BTreeSet<_>>();
            campaigns.push(Campaign {
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
                exclusive: c.exclusive,
                stack_group: c.stack_group.clone(),
                limits,
                rewards,
                messages: c.messages.clone(),
            });
        }
        campaigns.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));

        let mut restrictions = RestrictionRules::default();
        if let Some(r) = &doc.restrictions {
            if r.name.is_some() || r.from.is_some() || r.until.is_some() || !r.weekdays.is_empty() || r.hours.is_some() {
                p.push("restrictions", "[restrictions] always holds: give times to its schedules ([[restrictions.schedules]])");
            }
            restrictions.base = compile_restrictions(r, "restrictions", &known, &mut p);
            for (k, s) in r.schedules.iter().enumerate() {
                let path = format!("restrictions.schedules[{k}]");
                if !s.schedules.is_empty() {
                    p.push(format!("{path}.schedules"), "a schedule has no schedules of its own");
                }
                let compiled = compile_restrictions(s, &path, &known, &mut p);
                if let (Some(from), Some(until)) = (s.from, s.until)
                    && from >= until
                {
                    p.push(format!("{path}.until"), "a schedule must end after it starts");
                }
                let hours = s.hours.as_ref().and_then(|h| compile_hours(h, &format!("{path}.hours"), &mut p));
                let when = When { from: s.from, until: s.until, timezone: None, weekdays: weekday_bits(&s.weekdays), month_days: 0, hours };
                restrictions.schedules.push((when, compiled));
            }
        }

        if p.0.is_empty() {
            Ok(Program { version, currencies, series, counters, tiers, coupon_series, promo_codes, segments, campaigns, restrictions, names })
        } else {
            Err(p.0)
        }
    }

    pub fn currency(&self, code: &AssetCode) -> Option<&Currency> {
        self.currencies.get(code)
    }

    /// Whether any receipt needs the customer's counters (tiers, accumulated discounts
    /// or custom conditions read them).
    pub fn needs_counters(&self) -> bool {
        !self.counters.is_empty()
    }
}

fn compile_reward(
    r: &RewardSpec,
    rpath: &str,
    currencies: &BTreeMap<AssetCode, Currency>,
    known_counter: &dyn Fn(&StoreCode) -> bool,
    coupon_series: &BTreeMap<StoreCode, CouponSeries>,
    p: &mut Problems,
    names: &mut Names,
) -> Option<Reward> {
    let rate_given = r.rate() != RateSpec::default() || !r.exceptions.is_empty();
    let stray = |p: &mut Problems, what: &str| p.push(rpath, format!("{what} does not belong to a reward of this type"));
    match r.kind {
        RewardKind::Accrue => {
            if r.amount.is_some() || r.price.is_some() || r.accumulated.is_some() || r.coupon_series.is_some() || r.gift.is_some() {
                stray(p, "amount, price, accumulated, coupon_series or gift");
            }
            let currency = match &r.currency {
                Some(c) if currencies.contains_key(c) => Some(c.clone()),
                Some(c) => {
                    p.push(format!("{rpath}.currency"), format!("unknown currency '{c}'"));
                    None
                }
                None => {
                    p.push(format!("{rpath}.currency"), "an accrual needs a currency");
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
                    Some(Reward::DiscountPercent { percent: pc.0, goods })
                }
                (None, Some(a), None, None) if a.0 >= Decimal::ZERO => Some(Reward::DiscountAmount { amount: a.0, goods }),
                (None, None, Some(pr), None) if pr.0 >= Decimal::ZERO => Some(Reward::FixedPrice { price: pr.0, goods }),
                (None, None, None, Some(acc)) => {
                    if !known_counter(&acc.counter) {
                        p.push(format!("{rpath}.accumulated.counter"), format!("unknown counter '{}'", acc.counter));
                    }
                    let ok = acc.step.0 > Decimal::ZERO
                        && acc.base.0 >= Decimal::ZERO
                        && acc.max.0 <= Decimal::ONE_HUNDRED
                        && acc.base.0 <= acc.max.0;
                    if !ok {
                        p.push(format!("{rpath}.accumulated"), "step must be positive and 0 ≤ base ≤ max ≤ 100");
                    }
                    Some(Reward::Accumulated {
                        counter: acc.counter.clone(),
                        base: acc.base.0,
                        step: acc.step.0,
                        per_step: acc.per_step.0,
                        max: acc.max.0,
                        goods,
                    })
                }
                _ => {
                    p.push(rpath, "a discount needs exactly one of percent (0–100), amount, price, or accumulated");
                    None
                }
            }
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
                    p.push(format!("{rpath}.coupon_series"), format!("'{s}' is not a coupon series of kind unique"));
                    None
                }
                None => {
                    p.push(format!("{rpath}.coupon_series"), "issuing a coupon needs its coupon_series");
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
                    p.push(format!("{rpath}.gift"), "a gift needs its name (1 to 100 characters)");
                    None
                }
            }
        }
    }
}

fn compile_currency(c: &CurrencySpec, path: &str, p: &mut Problems, names: &mut Names) -> Currency {
    let value = match (c.value, c.kind) {
        (Some(v), _) if v.0 <= Decimal::ZERO => {
            p.push(format!("{path}.value"), "the value of a unit must be positive");
            None
        }
        (Some(v), _) => Some(v.0),
        (None, CurrencyKind::Money) => Some(Decimal::ONE),
        (None, _) => None,
    };
    let redeem = c.redeem.as_ref().map(|r| {
        if value.is_none() {
            p.push(format!("{path}.value"), "a currency that pays receipts needs the value of one unit");
        }
        let min_balance = match r.min_balance.map(|m| money::to_minor_exact(m.0, c.scale)) {
            None => 0,
            Some(Ok(v)) if v >= 0 => v,
            Some(_) => {
                p.push(
                    format!("{path}.redeem.min_balance"),
                    format!("must be a non-negative amount with at most {} decimals", c.scale.places()),
                );
                0
            }
        };
        Redeem {
            min_balance,
            max_share: share(r.max_share, format!("{path}.redeem.max_share"), p),
            excluded: Goods::compile(
                &GoodsSpec {
                    exclude_groups: r.exclude_groups.clone(),
                    exclude_skus: r.exclude_skus.clone(),
                    ..GoodsSpec::default()
                },
                names,
            ),
            accrue_on_redeemed: r.accrue_on_redeemed,
        }
    });
    let lifetime = c.lifetime.and_then(|l| {
        let forms = [
            l.days.map(Lifetime::Days),
            l.months.map(Lifetime::Months),
            l.until.map(Lifetime::Until),
            l.period_end.map(Lifetime::PeriodEnd),
        ];
        let given: Vec<Lifetime> = forms.into_iter().flatten().collect();
        if given.len() != 1 {
            p.push(format!("{path}.lifetime"), "give exactly one of days, months, until or period_end");
            return None;
        }
        Some(given[0])
    });
    Currency {
        code: c.code.clone(),
        kind: c.kind,
        scale: c.scale,
        rounding: c.rounding(),
        value,
        redeem,
        activation: c.activation_days.filter(|d| *d > 0).map(|d| SignedDuration::from_hours(24 * i64::from(d))),
        lifetime,
        conversion: None,
        inactivity: c.inactivity_days.filter(|d| *d > 0).map(|d| SignedDuration::from_hours(24 * i64::from(d))),
    }
}

fn check_conversion(
    c: &CurrencySpec,
    conv: &ConversionSpec,
    currencies: &BTreeMap<AssetCode, Currency>,
    path: &str,
    p: &mut Problems,
) -> Option<Conversion> {
    let Some(target) = currencies.get(&conv.to) else {
        p.push(format!("{path}.to"), format!("unknown currency '{}'", conv.to));
        return None;
    };
    if conv.to == c.code {
        p.push(format!("{path}.to"), "a currency cannot convert into itself");
        return None;
    }
    let every = money::to_minor_exact(conv.every.0, c.scale);
    let gives = money::to_minor_exact(conv.gives.0, target.scale);
    match (every, gives) {
        (Ok(every), Ok(gives)) if every > 0 && gives > 0 => Some(Conversion { to: conv.to.clone(), every, gives }),
        _ => {
            p.push(path, format!("every and gives must be positive amounts of {} and {}", c.code, conv.to));
            None
        }
    }
}

fn check_series(s: &CardSeriesSpec, path: &str, currencies: &BTreeMap<AssetCode, Currency>, p: &mut Problems) {
    if !s.prefix.bytes().all(|b| b.is_ascii_digit()) {
        p.push(format!("{path}.prefix"), "a prefix is digits only");
    }
    if !(6..=19).contains(&s.length) || usize::from(s.length) <= s.prefix.len() + 1 {
        p.push(format!("{path}.length"), "a card number has 6 to 19 digits, more than the prefix and check digit");
    }
    let free = usize::from(s.length).saturating_sub(s.prefix.len() + usize::from(s.check_digit != CheckDigit::None));
    if s.numbering == spec::Numbering::Random && free < spec::MIN_RANDOM_DIGITS {
        p.push(
            format!("{path}.numbering"),
            format!("random numbers need at least {} digits after the prefix and check digit; this series has {free}", spec::MIN_RANDOM_DIGITS),
        );
    }
    let currency = |kinds: &[CurrencyKind], p: &mut Problems| match &s.currency {
        None => p.push(format!("{path}.currency"), format!("a {} series needs a currency", s.kind.name())),
        Some(c) => match currencies.get(c) {
            None => p.push(format!("{path}.currency"), format!("unknown currency '{c}'")),
            Some(cur) if !kinds.contains(&cur.kind) => p.push(
                format!("{path}.currency"),
                format!("a {} series needs a {} currency", s.kind.name(), kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(" or ")),
            ),
            Some(_) => {}
        },
    };
    match s.kind {
        CardKind::Gift => {
            currency(&[CurrencyKind::Money], p);
            let range = s.amount_min.is_some() || s.amount_max.is_some();
            let has_nominals = !s.nominals.is_empty();
            if range == has_nominals {
                p.push(path, "a gift series needs either amount_min and amount_max, or nominals");
            }
            if let (Some(a), Some(b)) = (s.amount_min, s.amount_max)
                && (a.0 <= Decimal::ZERO || a.0 > b.0)
            {
                p.push(format!("{path}.amount_min"), "amount_min must be positive and at most amount_max");
            }
        }
        CardKind::Pass => {
            currency(&[CurrencyKind::Counter], p);
            if s.visits.is_none_or(|v| v == 0) {
                p.push(format!("{path}.visits"), "a pass series needs a number of visits");
            }
        }
        CardKind::Credit => {
            currency(&[CurrencyKind::Money], p);
            if s.credit_limit.is_none_or(|l| l.0 < Decimal::ZERO) {
                p.push(format!("{path}.credit_limit"), "a credit series needs a credit limit");
            }
        }
        CardKind::Loyalty => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(doc: serde_json::Value) -> Result<Program, Vec<ConfigError>> {
        let doc: ConfigDocument = serde_json::from_value(doc).expect("test document parses");
        Program::compile(&doc, 1)
    }

    fn bonus() -> serde_json::Value {
        json!({"code": "bonus", "kind": "points", "scale": 0})
    }

    fn paths(errors: Vec<ConfigError>) -> Vec<String> {
        errors.into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn counters_from_database_totals_equal_counters_from_the_receipts() {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let day = SignedDuration::from_hours(24);
        let counter = |id: &str, measure, days: i64| Counter {
            id: StoreCode::parse(id).unwrap(),
            measure,
            range: CounterRange::Window(day * days as i32),
        };
        let counters = vec![counter("spent_30", Measure::Sum, 30), counter("receipts_7", Measure::Count, 7), counter("spent_365", Measure::Sum, 365)];
        // Receipts on the edges of the windows, one at `at` itself, one refund-heavy.
        let receipts: Vec<(Timestamp, i64)> = vec![
            (at - day * 400, 10_00),
            (at - day * 365, 25_50),
            (at - day * 30, 7_25),
            (at - day * 29, -3_00),
            (at - day * 7, 1_00),
            (at - day * 2, 99_99),
            (at, 5_00),
        ];
        let totals: Vec<CounterTotals> = counters
            .iter()
            .map(|c| {
                let inside: Vec<i64> = receipts.iter().filter(|(t, _)| *t >= c.start_at(at) && *t <= at).map(|(_, p)| *p).collect();
                CounterTotals { paid: inside.iter().sum(), receipts: inside.len() as i64 }
            })
            .collect();
        assert!(counters_from_totals(&counters));
        let from_rows = counter_values(&counters, &receipts, at, Scale::CENTS, &TimeZone::UTC);
        assert_eq!(counter_values_from_totals(&counters, &totals, Scale::CENTS), from_rows);
        assert_eq!(from_rows["receipts_7"], Decimal::from(3));
        assert_eq!(from_rows["spent_365"], "135.74".parse::<Decimal>().unwrap(), "the receipt a year back to the instant counts");
        let visits = vec![counter("visits", Measure::Visits, 30)];
        assert!(!counters_from_totals(&visits), "visits need the receipts' days");
    }

    #[test]
    fn a_rate_must_name_exactly_one_form() {
        let two = json!({"currencies": [bonus()], "campaigns": [{"id": "c1", "rewards": [
            {"type": "accrue", "currency": "bonus", "percent": "1", "fixed": "1"}]}]});
        assert_eq!(paths(compile(two).unwrap_err()), vec!["campaigns[0].rewards[0]"]);
        let step = json!({"currencies": [bonus()], "campaigns": [{"id": "c1", "rewards": [
            {"type": "accrue", "currency": "bonus", "step": "5.00", "units": "1"}]}]});
        let program = compile(step).unwrap();
        assert!(matches!(program.campaigns[0].rewards[0], Reward::Accrue { rate: Rate::Step { .. }, .. }));
    }

    #[test]
    fn references_to_undefined_things_are_reported_at_compile_time() {
        let doc = json!({
            "currencies": [bonus()],
            "tiers": [{"id": "status", "counter": "nope", "levels": [{"id": "base", "from": 0}]}],
            "campaigns": [{"id": "c1", "tiers": ["platinum"], "series": ["X"], "rewards": [
                {"type": "accrue", "currency": "points", "percent": "1"},
                {"type": "issue_coupon", "coupon_series": "NONE"},
                {"type": "discount", "accumulated": {"counter": "nope", "base": 5, "step": "50", "per_step": 1, "max": 15}}
            ]}]
        });
        let found = paths(compile(doc).unwrap_err());
        for expected in [
            "tiers[0].counter",
            "campaigns[0].rewards[0].currency",
            "campaigns[0].rewards[1].coupon_series",
            "campaigns[0].rewards[2].accumulated.counter",
            "campaigns[0].tiers[0]",
            "campaigns[0].series[0]",
        ] {
            assert!(found.contains(&expected.to_owned()), "{expected} missing from {found:?}");
        }
    }

    #[test]
    fn fields_that_do_not_belong_to_a_reward_type_are_refused() {
        let doc = json!({"currencies": [bonus()], "campaigns": [{"id": "c1", "rewards": [
            {"type": "discount", "percent": "5", "currency": "bonus"}]}]});
        assert_eq!(paths(compile(doc).unwrap_err()), vec!["campaigns[0].rewards[0]"]);
    }

    #[test]
    fn a_custom_condition_that_does_not_compile_is_reported_with_its_path() {
        let doc = json!({"campaigns": [{"id": "c1", "condition": "receipt.total_minor >"}]});
        let errors = compile(doc).unwrap_err();
        assert_eq!(errors[0].path, "campaigns[0].condition");
        assert!(errors[0].message.contains("CEL"));
    }

    #[test]
    fn decimals_in_files_may_be_strings_or_integers_but_not_floats() {
        assert_eq!(serde_json::from_str::<Dec>("\"0.10\"").unwrap(), Dec(Decimal::new(10, 2)));
        assert_eq!(serde_json::from_str::<Dec>("100").unwrap(), Dec(Decimal::from(100)));
        assert!(serde_json::from_str::<Dec>("0.1").is_err());
        assert!(serde_json::from_str::<Dec>("\"1e3\"").is_err());
    }

    #[test]
    fn goods_filters_select_by_group_and_sku_with_exclusions_first() {
        let mut names = Names::default();
        let g = Goods::compile(
            &GoodsSpec { groups: vec!["dairy".into()], skus: vec!["X1".into()], exclude_groups: vec![], exclude_skus: vec!["M2".into()] },
            &mut names,
        );
        for (sku, groups) in [("A", vec!["dairy".to_owned()]), ("X1", vec![]), ("M2", vec!["dairy".to_owned()]), ("B", vec!["misc".to_owned()])] {
            assert_eq!(g.matches_line(names.line_mask(sku, &groups), sku, &groups), g.matches(sku, &groups), "{sku}");
        }
        assert!(g.matches("A", &["dairy".into()]));
        assert!(g.matches("X1", &[]));
        assert!(!g.matches("M2", &["dairy".into()]));
        assert!(!g.matches("B", &["misc".into()]));
        assert!(Goods::default().matches("anything", &[]));
    }

    fn currency_with(lifetime: serde_json::Value, activation: u32) -> Currency {
        let program = compile(json!({"currencies": [{"code": "bonus", "kind": "points", "scale": 0,
            "activation_days": activation, "lifetime": lifetime}]}))
        .unwrap();
        program.currencies.values().next().unwrap().clone()
    }

    #[test]
    fn lot_terms_follow_activation_and_each_form_of_lifetime() {
        let riga = TimeZone::get("Europe/Riga").unwrap();
        let at: Timestamp = "2026-01-31T10:00:00Z".parse().unwrap();
        let months = currency_with(json!({"months": 12}), 14).lot_terms(at, &riga);
        assert_eq!(months.available_at.unwrap().to_string(), "2026-02-14T10:00:00Z");
        assert_eq!(months.expires_at.unwrap().to_string(), "2027-02-14T10:00:00Z");
        let days = currency_with(json!({"days": 30}), 0).lot_terms(at, &riga);
        assert_eq!((days.available_at, days.expires_at.unwrap().to_string()), (None, "2026-03-02T10:00:00Z".into()));
        let until = currency_with(json!({"until": "2026-12-31T22:00:00Z"}), 0).lot_terms(at, &riga);
        assert_eq!(until.expires_at.unwrap().to_string(), "2026-12-31T22:00:00Z");
        // The end of the quarter in Riga: 1 April 00:00 local (UTC+3 in summer time).
        let quarter = currency_with(json!({"period_end": "quarter"}), 0).lot_terms(at, &riga);
        assert_eq!(quarter.expires_at.unwrap().to_string(), "2026-03-31T21:00:00Z");
        let err = compile(json!({"currencies": [{"code": "b", "kind": "points", "scale": 0, "lifetime": {"days": 1, "months": 1}}]}));
        assert_eq!(paths(err.unwrap_err()), vec!["currencies[0].lifetime"]);
    }

    #[test]
    fn fixed_period_counters_restart_at_each_period() {
        let program = compile(json!({"counters": [
            {"id": "year", "measure": "sum", "period": {"start": "2026-01-01T00:00:00+02:00", "every": "year"}},
            {"id": "rolling", "measure": "sum", "window_days": 365}
        ]}))
        .unwrap();
        let year = &program.counters[0];
        let in_2026: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        assert_eq!(year.start_at(in_2026).to_string(), "2025-12-31T22:00:00Z");
        let in_2027: Timestamp = "2027-03-01T00:00:00Z".parse().unwrap();
        assert_eq!(year.start_at(in_2027).to_string(), "2026-12-31T22:00:00Z");
        let before: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
        assert_eq!(year.start_at(before), before, "nothing counts before the first period");
        assert_eq!(program.counters[1].start_at(in_2026).to_string(), "2025-06-01T00:00:00Z");
    }

    #[test]
    fn tier_levels_are_the_highest_threshold_reached() {
        let program = compile(json!({
            "counters": [{"id": "sum365", "measure": "sum", "window_days": 365}],
            "tiers": [{"id": "status", "counter": "sum365", "levels": [
                {"id": "base", "from": 0}, {"id": "silver", "from": "300.00"}, {"id": "gold", "from": "1000.00"}]}]
        }))
        .unwrap();
        let t = &program.tiers[0];
        assert_eq!(t.level(Decimal::new(29999, 2)).unwrap().as_str(), "base");
        assert_eq!(t.level(Decimal::new(30000, 2)).unwrap().as_str(), "silver");
        assert_eq!(t.level(Decimal::from(5000)).unwrap().as_str(), "gold");
        let unordered = json!({"counters": [{"id": "c", "measure": "count", "window_days": 30}],
            "tiers": [{"id": "t", "counter": "c", "levels": [{"id": "a", "from": 5}, {"id": "b", "from": 1}]}]});
        assert_eq!(paths(compile(unordered).unwrap_err()), vec!["tiers[0].levels"]);
    }

    #[test]
    fn conversions_are_compiled_in_minor_units_of_both_currencies() {
        let program = compile(json!({"currencies": [
            {"code": "bonus", "kind": "points", "scale": 0, "conversion": {"to": "wallet", "every": 10, "gives": "1.00"}},
            {"code": "wallet", "kind": "money", "scale": 2}
        ]}))
        .unwrap();
        let conv = program.currencies[&AssetCode::parse("bonus").unwrap()].conversion.clone().unwrap();
        assert_eq!((conv.to.as_str(), conv.every, conv.gives), ("wallet", 10, 100));
    }

    #[test]
    fn promo_codes_are_case_insensitive_and_unique_across_series() {
        let program = compile(json!({"coupon_series": [
            {"id": "WELCOME10", "kind": "promo", "percent": "10"},
            {"id": "GEN", "kind": "unique", "amount": "5.00"}
        ]}))
        .unwrap();
        assert_eq!(program.promo_codes.get("WELCOME10").map(|s| s.as_str()), Some("WELCOME10"));
        assert_eq!(program.coupon_series[&StoreCode::parse("GEN").unwrap()].uses_per_code, Some(1));
        let clash = json!({"coupon_series": [
            {"id": "a", "kind": "promo", "code": "SALE", "percent": "10"},
            {"id": "b", "kind": "promo", "code": "sale", "percent": "5"}]});
        assert_eq!(paths(compile(clash).unwrap_err()), vec!["coupon_series[1].code"]);
    }
}
