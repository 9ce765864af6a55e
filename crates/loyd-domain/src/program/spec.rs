//! The program as a marketer writes it: the sections of a configuration file
//! (`docs/programs.md` documents every field). Unknown fields are refused everywhere.

use std::fmt;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{AssetCode, ConfigCode, StoreCode};
use crate::money;
use crate::org::TimeZoneName;

/// A decimal in a configuration file: a string (`"0.10"`) or a whole number (`100`).
/// Floats are refused: `0.1` in TOML is a binary fraction, not a tenth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dec(pub Decimal);

impl Serialize for Dec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal as a string, e.g. \"0.10\", or a whole number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dec, E> {
                money::parse_decimal(v).map(Dec).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dec, E> {
                Err(E::custom(format!("{v} is a floating-point number; write decimals as strings, e.g. \"{v}\"")))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<i64> for Dec {
    fn from(v: i64) -> Self {
        Dec(Decimal::from(v))
    }
}

// ---- currencies ---------------------------------------------------------------------

/// How a currency may pay receipts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemSpec {
    /// Below this balance nothing may be redeemed (`below_minimum_redeem`).
    #[serde(default)]
    pub min_balance: Option<Dec>,
    /// Largest share of the payable lines (after discounts) this currency may pay, 0–1.
    #[serde(default)]
    pub max_share: Option<Dec>,
    /// Goods that cannot be paid with this currency.
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub exclude_skus: Vec<String>,
    /// Whether the part of a receipt paid with this currency still earns accruals.
    /// Default `false`: the paid part leaves every accrual base.
    #[serde(default)]
    pub accrue_on_redeemed: bool,
}

/// A calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodUnit {
    Month,
    Quarter,
    Year,
}

impl PeriodUnit {
    pub fn months(self) -> i64 {
        match self {
            PeriodUnit::Month => 1,
            PeriodUnit::Quarter => 3,
            PeriodUnit::Year => 12,
        }
    }
}

/// How long accrued units live: exactly one form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimeSpec {
    /// This many days after they become spendable…
    #[serde(default)]
    pub days: Option<u32>,
    /// …or months…
    #[serde(default)]
    pub months: Option<u32>,
    /// …or all at this moment…
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// …or at the end of the calendar period they were earned in (store time).
    #[serde(default)]
    pub period_end: Option<PeriodUnit>,
}

/// "Every 10 points become 1.00 on the wallet": as soon as the balance reaches `every`,
/// that many units are taken and `gives` units of `to` credited, as often as it fits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionSpec {
    pub to: AssetCode,
    pub every: Dec,
    pub gives: Dec,
}

// ---- cards --------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// A loyalty card bound to a customer: identifies them; their balances are theirs.
    Loyalty,
    /// A gift card or certificate: holds money of its own.
    Gift,
    /// A prepaid pass: holds visits.
    Pass,
    /// An internal credit card (employee meals): bound to a customer whose credit
    /// account may go down to a limit.
    Credit,
}

impl CardKind {
    pub fn name(self) -> &'static str {
        match self {
            CardKind::Loyalty => "loyalty",
            CardKind::Gift => "gift",
            CardKind::Pass => "pass",
            CardKind::Credit => "credit",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [CardKind::Loyalty, CardKind::Gift, CardKind::Pass, CardKind::Credit].into_iter().find(|k| k.name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckDigit {
    /// Luhn (mod 10), as on payment and most loyalty cards.
    #[default]
    Luhn,
    None,
}

/// How a series numbers its cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Numbering {
    /// One after another: easy to hand out in order, easy to guess.
    #[default]
    Sequential,
    /// Drawn at random from the whole range of the series: a guessed number is almost
    /// never a card (with 9 free digits and a million cards, one guess in a thousand).
    Random,
}

/// Fewest free digits (after the prefix and the check digit) a random series has.
pub const MIN_RANDOM_DIGITS: usize = 6;

/// A series of cards: numbering, kind, and what a card of the series may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardSeriesSpec {
    pub id: ConfigCode,
    pub kind: CardKind,
    #[serde(default)]
    pub name: Option<String>,
    /// Digits every number of the series starts with.
    #[serde(default)]
    pub prefix: String,
    /// Digits in a number, check digit included. Default 13.
    #[serde(default = "default_card_length")]
    pub length: u8,
    #[serde(default)]
    pub check_digit: CheckDigit,
    /// Sequential (default) or random numbers.
    #[serde(default, skip_serializing_if = "is_sequential")]
    pub numbering: Numbering,
    /// Whether a PIN is required to use or inquire a card.
    #[serde(default)]
    pub pin: bool,
    /// A card is valid this many days from its activation (or issue, for passes).
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// Gift: the money currency; pass: the counter currency of visits; credit: the
    /// money currency of the credit account.
    #[serde(default)]
    pub currency: Option<AssetCode>,
    /// Gift: the allowed activation amounts, a range…
    #[serde(default)]
    pub amount_min: Option<Dec>,
    #[serde(default)]
    pub amount_max: Option<Dec>,
    /// …or a list of fixed nominals.
    #[serde(default)]
    pub nominals: Vec<Dec>,
    /// Gift: the first payment burns whatever is left (recorded as breakage).
    #[serde(default)]
    pub single_use: bool,
    /// Pass: visits a pass holds when issued.
    #[serde(default)]
    pub visits: Option<u32>,
    /// Pass: the service it admits to (`gym`).
    #[serde(default)]
    pub service: Option<String>,
    /// Credit: the overdraft limit of a card's account.
    #[serde(default)]
    pub credit_limit: Option<Dec>,
}

fn default_card_length() -> u8 {
    13
}

fn is_sequential(n: &Numbering) -> bool {
    *n == Numbering::Sequential
}

// ---- counters and tiers -------------------------------------------------------------

/// What a counter counts over a customer's receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The money paid (after loyalty discounts, less returns), in the store currency.
    Sum,
    /// The number of receipts.
    Count,
    /// The number of distinct days with a receipt.
    Visits,
}

/// Fixed periods that start at `start` and reset every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodSpec {
    pub start: Timestamp,
    pub every: PeriodUnit,
}

/// A counter of customer activity: over a rolling window or over fixed periods.
/// Receipts count from the next receipt on, never the one being computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterSpec {
    pub id: ConfigCode,
    pub measure: Measure,
    /// The last N days, rolling…
    #[serde(default)]
    pub window_days: Option<u32>,
    /// …or fixed periods that reset.
    #[serde(default)]
    pub period: Option<PeriodSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    pub id: ConfigCode,
    /// The counter's value from which this level holds.
    pub from: Dec,
}

/// A ladder of levels (statuses) driven by a counter: upgrade from the next receipt,
/// downgrade when the counter falls (old receipts leave the window, a period resets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub id: ConfigCode,
    pub counter: ConfigCode,
    pub levels: Vec<LevelSpec>,
}

// ---- segments -----------------------------------------------------------------------

/// A named group of customers, defined by a rule: a custom condition over the customer
/// (profile, tier, counters, balances, card series). Campaigns target segments by id;
/// membership is decided at each receipt, so it is always current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    pub id: ConfigCode,
    #[serde(default)]
    pub name: Option<String>,
    /// CEL over `customer` (and `receipt`, `store`), e.g.
    /// `customer.profile['city'] == 'Riga' && customer.counters['count90'] >= 5`.
    pub condition: String,
}

// ---- coupons ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    /// One shared promo code, printed in media.
    Promo,
    /// Generated codes, unique and unguessable, each with its own uses.
    Unique,
}

/// A series of coupons: what they give, on which goods, how often, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponSeriesSpec {
    pub id: ConfigCode,
    pub kind: CouponKind,
    #[serde(default)]
    pub name: Option<String>,
    /// Promo: the code customers type (case-insensitive). Default: the series id.
    #[serde(default)]
    pub code: Option<String>,
    /// Percent off the allowed lines…
    #[serde(default)]
    pub percent: Option<Dec>,
    /// …or an amount off them (nominal).
    #[serde(default)]
    pub amount: Option<Dec>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub exclude_skus: Vec<String>,
    /// At most this share of the receipt (after other discounts), 0–1.
    #[serde(default)]
    pub max_share: Option<Dec>,
    /// Uses per customer (the coupon needs an identified customer then).
    #[serde(default)]
    pub uses_per_customer: Option<u32>,
    /// Uses of one code in all (unique coupons: default 1).
    #[serde(default)]
    pub uses_per_code: Option<u32>,
    #[serde(default)]
    pub valid_from: Option<Timestamp>,
    #[serde(default)]
    pub valid_until: Option<Timestamp>,
    /// Unique coupons issued to a customer are valid this many days from issue.
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// Only for identified customers.
    #[serde(default)]
    pub customers_only: bool,
}

// ---- campaigns ----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    #[default]
    Active,
    Paused,
    Archived,
}

/// Which lines a rule applies to: all, or those in `groups`/`skus`, minus exclusions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoodsSpec {
    pub groups: Vec<String>,
    pub skus: Vec<String>,
    pub exclude_groups: Vec<String>,
    pub exclude_skus: Vec<String>,
}

/// A rate of accrual: exactly one of the forms must be given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateSpec {
    pub percent: Option<Dec>,
    pub per: Option<Dec>,
    pub step: Option<Dec>,
    pub units: Option<Dec>,
    pub per_item: Option<Dec>,
    pub fixed: Option<Dec>,
}

/// Goods with their own accrual rate inside an accrual reward (the first matching
/// exception wins; a rate of 0 excludes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionSpec {
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub exclude_skus: Vec<String>,
    #[serde(default)]
    pub percent: Option<Dec>,
    #[serde(default)]
    pub per: Option<Dec>,
    #[serde(default)]
    pub step: Option<Dec>,
    #[serde(default)]
    pub units: Option<Dec>,
    #[serde(default)]
    pub per_item: Option<Dec>,
    #[serde(default)]
    pub fixed: Option<Dec>,
}

/// A discount whose percent grows with a counter (accumulated discount):
/// `base + per_step × ⌊counter / step⌋`, at most `max`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccumulatedSpec {
    pub counter: ConfigCode,
    pub base: Dec,
    pub step: Dec,
    pub per_step: Dec,
    pub max: Dec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// Earn units of a currency at a rate.
    Accrue,
    /// A discount on the matching lines: `percent`, `amount` spread over them, a fixed
    /// unit `price`, or a percent that grows with a counter (`accumulated`).
    Discount,
    /// Issue a coupon of `coupon_series` to the customer (printed on the slip).
    IssueCoupon,
    /// A non-monetary gift the cashier hands over (`gift`); its issuance is recorded.
    Gift,
}

/// One reward of a campaign. Which fields apply depends on `type`; the compiler
/// refuses fields that do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardSpec {
    #[serde(rename = "type")]
    pub kind: RewardKind,
    #[serde(default)]
    pub currency: Option<AssetCode>,
    #[serde(default)]
    pub percent: Option<Dec>,
    #[serde(default)]
    pub per: Option<Dec>,
    #[serde(default)]
    pub step: Option<Dec>,
    #[serde(default)]
    pub units: Option<Dec>,
    #[serde(default)]
    pub per_item: Option<Dec>,
    #[serde(default)]
    pub fixed: Option<Dec>,
    #[serde(default)]
    pub amount: Option<Dec>,
    /// Discount: the unit price the matching goods are sold at.
    #[serde(default)]
    pub price: Option<Dec>,
    #[serde(default)]
    pub accumulated: Option<AccumulatedSpec>,
    #[serde(default)]
    pub coupon_series: Option<ConfigCode>,
    #[serde(default)]
    pub gift: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub exclude_skus: Vec<String>,
    #[serde(default)]
    pub exceptions: Vec<ExceptionSpec>,
}

impl RewardSpec {
    /// A reward of `kind` with no options set.
    pub fn new(kind: RewardKind) -> Self {
        RewardSpec {
            kind,
            currency: None,
            percent: None,
            per: None,
            step: None,
            units: None,
            per_item: None,
            fixed: None,
            amount: None,
            price: None,
            accumulated: None,
            coupon_series: None,
            gift: None,
            groups: vec![],
            skus: vec![],
            exclude_groups: vec![],
            exclude_skus: vec![],
            exceptions: vec![],
        }
    }
}

/// The goods filter and the rate of a spec that carries those fields inline.
macro_rules! goods_and_rate {
    ($spec:ty) => {
        impl $spec {
            pub(crate) fn goods(&self) -> GoodsSpec {
                GoodsSpec {
                    groups: self.groups.clone(),
                    skus: self.skus.clone(),
                    exclude_groups: self.exclude_groups.clone(),
                    exclude_skus: self.exclude_skus.clone(),
                }
            }

            pub(crate) fn rate(&self) -> RateSpec {
                RateSpec {
                    percent: self.percent,
                    per: self.per,
                    step: self.step,
                    units: self.units,
                    per_item: self.per_item,
                    fixed: self.fixed,
                }
            }
        }
    };
}

goods_and_rate!(ExceptionSpec);
goods_and_rate!(RewardSpec);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesSpec {
    #[serde(default)]
    pub slip: Vec<String>,
    #[serde(default)]
    pub cashier: Vec<String>,
    #[serde(default)]
    pub display: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// 0 for Monday … 6 for Sunday.
    pub fn index(self) -> u8 {
        self as u8
    }
}

/// A time-of-day window in the campaign's time zone, `"HH:MM"`, `to` exclusive. A window
/// past midnight (`22:00`–`06:00`) wraps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursSpec {
    pub from: String,
    pub to: String,
}

/// Days around the customer's birthday, in the campaign's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirthdaySpec {
    #[serde(default)]
    pub days_before: u16,
    #[serde(default)]
    pub days_after: u16,
}

/// The receipt must contain goods like these, for at least this amount or quantity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesSpec {
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub exclude_skus: Vec<String>,
    #[serde(default)]
    pub min_amount: Option<Dec>,
    #[serde(default)]
    pub min_quantity: Option<Dec>,
    /// Only lines whose unit price (amount ÷ quantity) is at least this…
    #[serde(default)]
    pub min_price: Option<Dec>,
    /// …and at most this.
    #[serde(default)]
    pub max_price: Option<Dec>,
}

/// How often a campaign may apply and how much it may give. Consumed atomically when a
/// receipt is committed; given back when it is cancelled or fully returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Times per customer per day (store time)…
    #[serde(default)]
    pub per_customer_day: Option<u32>,
    /// …per calendar month…
    #[serde(default)]
    pub per_customer_month: Option<u32>,
    /// …in all.
    #[serde(default)]
    pub per_customer: Option<u32>,
    /// The most the campaign may give in all: discounts plus accrued units at their
    /// value, in store money.
    #[serde(default)]
    pub budget: Option<Dec>,
    /// Promotional items (quantity of rewarded lines) per day, all customers together…
    #[serde(default)]
    pub promo_items_day: Option<Dec>,
    /// …per month.
    #[serde(default)]
    pub promo_items_month: Option<Dec>,
}

/// A campaign: when and where it runs, for whom, on what receipts, and what it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    pub id: ConfigCode,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: CampaignStatus,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i32,
    // -- when
    #[serde(default)]
    pub from: Option<Timestamp>,
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// The zone of `weekdays`, `month_days`, `hours` and `birthday`; default: the store's.
    #[serde(default)]
    pub timezone: Option<TimeZoneName>,
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    #[serde(default)]
    pub month_days: Vec<u8>,
    #[serde(default)]
    pub hours: Option<HoursSpec>,
    // -- where
    #[serde(default)]
    pub stores: Vec<StoreCode>,
    #[serde(default)]
    pub exclude_stores: Vec<StoreCode>,
    #[serde(default)]
    pub formats: Vec<StoreCode>,
    #[serde(default)]
    pub exclude_formats: Vec<StoreCode>,
    #[serde(default)]
    pub partners: Vec<StoreCode>,
    #[serde(default)]
    pub exclude_partners: Vec<StoreCode>,
    // -- who
    /// Only for identified customers.
    #[serde(default)]
    pub customers_only: bool,
    /// Only for customers identified by a card of these series.
    #[serde(default)]
    pub series: Vec<ConfigCode>,
    /// Only for customers on these tier levels.
    #[serde(default)]
    pub tiers: Vec<ConfigCode>,
    #[serde(default)]
    pub birthday: Option<BirthdaySpec>,
    /// Only for customers in one of these segments.
    #[serde(default)]
    pub segments: Vec<ConfigCode>,
    /// Only for customers whose profile field has one of the listed values, for every
    /// field listed: `{ city = ["Riga", "Jurmala"] }`.
    #[serde(default)]
    pub profile: std::collections::BTreeMap<String, Vec<String>>,
    // -- what
    /// The receipt total (before loyalty discounts) must be at least this…
    #[serde(default)]
    pub min_total: Option<Dec>,
    /// …and below this.
    #[serde(default)]
    pub below_total: Option<Dec>,
    /// The receipt must hold at least this many items.
    #[serde(default)]
    pub min_quantity: Option<Dec>,
    #[serde(default)]
    pub lines: Option<LinesSpec>,
    /// A custom condition in CEL over `receipt`, `customer` and `store`.
    #[serde(default)]
    pub condition: Option<String>,
    // -- stacking and limits
    /// When it applies, no other campaign does (the highest-priority exclusive one wins).
    #[serde(default)]
    pub exclusive: bool,
    /// Of the campaigns of one stack group that apply, only the one best for the
    /// customer does.
    #[serde(default)]
    pub stack_group: Option<ConfigCode>,
    #[serde(default)]
    pub limits: Option<LimitsSpec>,
    // -- rewards and messages
    #[serde(default)]
    pub rewards: Vec<RewardSpec>,
    #[serde(default)]
    pub messages: MessagesSpec,
}

/// At most `units` of `currency` accrued per receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxAccrualSpec {
    pub currency: AssetCode,
    pub units: Dec,
}

/// Limits on top of all campaigns: `[restrictions]` always holds; each of its
/// `schedules` (the same fields, with times) replaces, while its time matches, the
/// limits it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionsSpec {
    /// A schedule's name.
    #[serde(default)]
    pub name: Option<String>,
    /// A schedule's times (store time), as for campaigns.
    #[serde(default)]
    pub from: Option<Timestamp>,
    #[serde(default)]
    pub until: Option<Timestamp>,
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    #[serde(default)]
    pub hours: Option<HoursSpec>,
    /// Discounts on a receipt never exceed this share of its total…
    #[serde(default)]
    pub max_discount_share: Option<Dec>,
    /// …nor this amount.
    #[serde(default)]
    pub max_discount_amount: Option<Dec>,
    /// Accumulated currencies (points) together pay at most this share of a receipt.
    #[serde(default)]
    pub max_redeem_share: Option<Dec>,
    #[serde(default)]
    pub max_accrual: Vec<MaxAccrualSpec>,
    /// Promotional items (quantity of lines discounted by campaigns) per day, all
    /// campaigns and customers together…
    #[serde(default)]
    pub max_promo_items_day: Option<Dec>,
    /// …per month.
    #[serde(default)]
    pub max_promo_items_month: Option<Dec>,
    /// Receipts per customer per day that may get campaign discounts…
    #[serde(default)]
    pub max_discounts_per_customer_day: Option<u32>,
    /// …per month.
    #[serde(default)]
    pub max_discounts_per_customer_month: Option<u32>,
    /// Other limits at some times: the first schedule that matches a receipt's time
    /// replaces the limits it sets.
    #[serde(default)]
    pub schedules: Vec<RestrictionsSpec>,
}
