//! Compiled campaigns (when, where, who, what, rewards, limits), segments, card and
//! coupon series, and the receipt-wide restrictions.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use rust_decimal::Decimal;

use super::{BirthdaySpec, CardSeriesSpec, Condition, CouponKind, Goods, MessagesSpec};
use crate::ids::{AssetCode, ConfigCode, StoreCode};
use crate::org::TimeZoneName;

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

/// What a multi-buy group costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOffer {
    /// This many units of each group are free.
    Free(u32),
    /// Each group costs this (a bundle price).
    Price(Decimal),
}

/// Which units of a multi-buy are free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreeUnits {
    /// The cheapest matching units.
    Cheapest,
    /// The cheapest units of the item each group is made of.
    Same,
    /// Units of this item (a reward product), which does not count toward the groups.
    Sku(String),
}

/// A multi-buy: groups of `group` matching units, each at its offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiBuy {
    pub group: u32,
    pub offer: GroupOffer,
    pub free: FreeUnits,
    pub goods: Goods,
    pub max_groups: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reward {
    Accrue { currency: AssetCode, rate: Rate, goods: Goods, exceptions: Vec<(Goods, Rate)> },
    /// `percent` of the matching lines' total, rounded once and allocated over them (or,
    /// with `per_line`, rounded on each line).
    DiscountPercent { percent: Decimal, goods: Goods, per_line: bool },
    DiscountAmount { amount: Decimal, goods: Goods },
    /// The matching goods sell at `price` per unit.
    FixedPrice { price: Decimal, goods: Goods },
    /// A percent that grows with a counter.
    Accumulated { counter: ConfigCode, base: Decimal, step: Decimal, per_step: Decimal, max: Decimal, goods: Goods, per_line: bool },
    MultiBuy(MultiBuy),
    IssueCoupon { series: ConfigCode },
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
    /// Uses in all, all customers together.
    pub uses: Option<u32>,
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
    pub id: ConfigCode,
    pub priority: i32,
    pub when: When,
    pub stores: BTreeSet<StoreCode>,
    pub exclude_stores: BTreeSet<StoreCode>,
    pub formats: BTreeSet<StoreCode>,
    pub exclude_formats: BTreeSet<StoreCode>,
    pub partners: BTreeSet<StoreCode>,
    pub exclude_partners: BTreeSet<StoreCode>,
    pub customers_only: bool,
    pub series: BTreeSet<ConfigCode>,
    pub tiers: BTreeSet<ConfigCode>,
    pub birthday: Option<BirthdaySpec>,
    /// Indexes into [`Program::segments`](super::Program::segments): the customer must be in one of them.
    pub segments: Vec<usize>,
    /// Profile fields and their allowed values, in lower case: every field must have
    /// one of its values (compared without regard to case).
    pub profile: Vec<(String, BTreeSet<String>)>,
    pub min_total: Option<Decimal>,
    pub below_total: Option<Decimal>,
    pub min_quantity: Option<Decimal>,
    pub lines: Option<LinesCondition>,
    pub condition: Option<Condition>,
    /// Applies only with a code of this coupon series.
    pub coupon_series: Option<ConfigCode>,
    /// The most its discounts give on one receipt: an amount, a share of the total.
    pub max_discount: Option<Decimal>,
    pub max_discount_share: Option<Decimal>,
    pub exclusive: bool,
    pub stack_group: Option<ConfigCode>,
    pub limits: Option<Limits>,
    /// The share of qualifying customers held out as its control group (0–1, exclusive).
    pub control: Option<Decimal>,
    pub rewards: Vec<Reward>,
    pub messages: MessagesSpec,
}

impl Campaign {
    /// Whether `customer` is in the campaign's control group: customers are spread over
    /// 10 000 buckets by a hash of the campaign's id and the customer's, and the first
    /// `control` × 10 000 buckets are held out. The same customer is always in the same
    /// group of the same campaign, whatever the receipt, server or version.
    pub fn holds_out(&self, customer: i64) -> bool {
        let Some(share) = self.control else { return false };
        let bucket = control_bucket(self.id.as_str(), customer);
        Decimal::from(bucket) < share * Decimal::from(CONTROL_BUCKETS)
    }

    /// Whether the campaign runs in a store of this id, format and partner (its `stores`,
    /// `formats` and `partners`, and their exclusions).
    pub fn runs_in(&self, store: &StoreCode, format: Option<&StoreCode>, partner: Option<&StoreCode>) -> bool {
        let within = |only: &BTreeSet<StoreCode>, except: &BTreeSet<StoreCode>, v: Option<&StoreCode>| {
            (only.is_empty() || v.is_some_and(|x| only.contains(x))) && !v.is_some_and(|x| except.contains(x))
        };
        within(&self.stores, &self.exclude_stores, Some(store))
            && within(&self.formats, &self.exclude_formats, format)
            && within(&self.partners, &self.exclude_partners, partner)
    }
}

/// How finely control groups are drawn: a share is held out to 0.01 %.
const CONTROL_BUCKETS: u64 = 10_000;

/// The bucket (0–9 999) of a customer in a campaign: FNV-1a (64 bits) of
/// `"<campaign>/<customer id>"`. Fixed forever: changing it would move customers
/// between the groups of running campaigns.
pub(crate) fn control_bucket(campaign: &str, customer: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in campaign.bytes().chain(*b"/").chain(customer.to_string().into_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % CONTROL_BUCKETS
}

/// A compiled customer segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: ConfigCode,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub spec: CardSeriesSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponDiscount {
    Percent(Decimal),
    Amount(Decimal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponSeries {
    pub id: ConfigCode,
    pub kind: CouponKind,
    /// Promo: the shared code, upper case.
    pub code: Option<String>,
    /// `None`: the series only activates campaigns (their `coupon_series`).
    pub discount: Option<CouponDiscount>,
    /// Percent coupons: round per line instead of on the total.
    pub per_line: bool,
    pub goods: Goods,
    pub max_share: Option<Decimal>,
    pub uses_per_customer: Option<u32>,
    pub uses_per_code: Option<u32>,
    /// Uses of all the series' codes together.
    pub uses_total: Option<u32>,
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
