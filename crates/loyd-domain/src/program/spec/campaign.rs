//! Campaigns as the file writes them: when, where, who, what, rewards with their rates
//! and goods, stacking, limits, messages; and the receipt-wide restrictions.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::*;
use crate::ids::{AssetCode, ConfigCode, StoreCode};
use crate::org::TimeZoneName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    #[default]
    Active,
    Paused,
    Archived,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 4] = [CampaignStatus::Draft, CampaignStatus::Active, CampaignStatus::Paused, CampaignStatus::Archived];

    pub fn name(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Active => "active",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Archived => "archived",
        }
    }

    pub fn parse(name: &str) -> Option<CampaignStatus> {
        CampaignStatus::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether a campaign in this status may be put in `to` by a lifecycle action: a
    /// draft is activated (or archived unused), an active campaign paused or archived, a
    /// paused one activated again or archived; an archived campaign stays archived (its
    /// uses and gifts stay on record under its id). Staying put is allowed: repeating an
    /// action changes nothing. The refusal says what may be done instead.
    pub fn may_become(self, to: CampaignStatus) -> Result<(), crate::said::Said> {
        use crate::said;
        use CampaignStatus::*;
        match (self, to) {
            (a, b) if a == b => Ok(()),
            (Draft | Paused, Active) | (Active, Paused) | (Draft | Active | Paused, Archived) => Ok(()),
            (Archived, _) => Err(said::archived_stays()),
            (Draft, Paused) => Err(said::draft_not_paused()),
            // What is left: an active or paused campaign back to a draft.
            _ => Err(said::run_not_draft()),
        }
    }
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
    /// Multi-buy on the matching goods: in every `group` of units, `free` units free (or
    /// the group for the `price` of `pay` units, or for a bundle `price`).
    MultiBuy,
}

/// Which units of a multi-buy group are free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeUnit {
    /// The cheapest matching units of the receipt.
    #[default]
    Cheapest,
    /// Groups are made of one item (SKU) each: buy 3 of it, one of it free.
    Same,
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
    /// Discount: the unit price the matching goods are sold at. Multi-buy: the price of
    /// one group (a bundle price, "2 for 5.00").
    #[serde(default)]
    pub price: Option<Dec>,
    /// Percent discounts: round each line's part on its own instead of the matched total
    /// once (for slips that print the discount per line).
    #[serde(default)]
    pub round_per_line: bool,
    /// Multi-buy: units in one group…
    #[serde(default)]
    pub group: Option<u32>,
    /// …of which this many are free…
    #[serde(default)]
    pub free: Option<u32>,
    /// …or: the group costs what this many of its units cost ("3 for the price of 2").
    #[serde(default)]
    pub pay: Option<u32>,
    /// Multi-buy: which units are free (`cheapest`, default, or `same`).
    #[serde(default)]
    pub free_unit: Option<FreeUnit>,
    /// Multi-buy: the free units are this item (a reward product); the POS is told to
    /// add it when the receipt has fewer than are due.
    #[serde(default)]
    pub free_sku: Option<String>,
    /// Multi-buy: at most this many groups per receipt.
    #[serde(default)]
    pub max_groups: Option<u32>,
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
            round_per_line: false,
            group: None,
            free: None,
            pay: None,
            free_unit: None,
            free_sku: None,
            max_groups: None,
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
    /// Times in all, all customers together (each receipt it applies to is one use).
    #[serde(default)]
    pub uses: Option<u32>,
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
    /// Applies only when a code of this coupon series (a promo code or a generated code)
    /// is presented; the code is used only when the campaign applies.
    #[serde(default)]
    pub coupon_series: Option<ConfigCode>,
    // -- the most it gives on one receipt
    /// Its discounts on one receipt come to at most this amount…
    #[serde(default)]
    pub max_discount: Option<Dec>,
    /// …and at most this share of the receipt total, 0–1.
    #[serde(default)]
    pub max_discount_share: Option<Dec>,
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
    /// The share of qualifying customers held out as a control group, above 0 and below
    /// 1: they get nothing from the campaign, and the effect report compares them with
    /// the rest. Who is held out depends only on the customer and the campaign.
    #[serde(default)]
    pub control_share: Option<Dec>,
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
