//! The loyalty program: what a marketer writes in a configuration file (the `*Spec`
//! types, deserialised from TOML or JSON) and its compiled form, [`Program`], which the
//! calculation engine runs against every receipt.
//!
//! Compiling checks everything that can be checked before a receipt arrives (unknown
//! currencies, contradictory options, rates that are not numbers) and reports each
//! problem with its path in the file, so no receipt ever fails on a configuration error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::{SignedDuration, Timestamp, ToSpan};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigDocument, ConfigError, CurrencyKind, CurrencySpec};
use crate::ids::{AssetCode, StoreCode};
use crate::money::{self, Rounding, Scale};

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

// ---- specs: the configuration file ---------------------------------------------------

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

/// How long accrued units live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimeSpec {
    #[serde(default)]
    pub days: Option<u32>,
    #[serde(default)]
    pub months: Option<u32>,
}

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

/// A series of cards: numbering, kind, and what a card of the series may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardSeriesSpec {
    pub id: StoreCode,
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

/// The goods filter and the rate of a spec that carries those fields inline.
macro_rules! goods_and_rate {
    ($spec:ty) => {
        impl $spec {
            fn goods(&self) -> GoodsSpec {
                GoodsSpec {
                    groups: self.groups.clone(),
                    skus: self.skus.clone(),
                    exclude_groups: self.exclude_groups.clone(),
                    exclude_skus: self.exclude_skus.clone(),
                }
            }

            fn rate(&self) -> RateSpec {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// Earn units of a currency at a rate (`percent`, `per` + `units`, `step` + `units`,
    /// `per_item` or `fixed`).
    Accrue,
    /// A discount on the matching lines: `percent` of each, or an `amount` spread over them.
    Discount,
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
            groups: vec![],
            skus: vec![],
            exclude_groups: vec![],
            exclude_skus: vec![],
            exceptions: vec![],
        }
    }
}

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

/// A campaign: when and where it runs, for whom, on what receipts, and what it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    pub id: StoreCode,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: CampaignStatus,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub from: Option<Timestamp>,
    #[serde(default)]
    pub until: Option<Timestamp>,
    #[serde(default)]
    pub stores: Vec<StoreCode>,
    #[serde(default)]
    pub exclude_stores: Vec<StoreCode>,
    #[serde(default)]
    pub formats: Vec<StoreCode>,
    #[serde(default)]
    pub exclude_formats: Vec<StoreCode>,
    /// Only for identified customers.
    #[serde(default)]
    pub customers_only: bool,
    /// The receipt total (before loyalty discounts) must be at least this…
    #[serde(default)]
    pub min_total: Option<Dec>,
    /// …and below this.
    #[serde(default)]
    pub below_total: Option<Dec>,
    #[serde(default)]
    pub rewards: Vec<RewardSpec>,
    #[serde(default)]
    pub messages: MessagesSpec,
}

// ---- compiled program -------------------------------------------------------------

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
    pub lifetime: Option<LifetimeSpec>,
}

impl Currency {
    /// Lot dates for units accrued at `at`.
    pub fn lot_terms(&self, at: Timestamp) -> crate::ledger::LotTerms {
        let available_at = self.activation.map(|d| at + d);
        let start = available_at.unwrap_or(at);
        let expires_at = self.lifetime.and_then(|l| {
            let zoned = start.to_zoned_datetime(jiff::tz::TimeZone::UTC);
            let end = match (l.days, l.months) {
                (Some(d), _) => zoned.checked_add(i64::from(d).days()).ok()?,
                (None, Some(m)) => zoned.checked_add(i64::from(m).months()).ok()?,
                (None, None) => return None,
            };
            Some(end.timestamp())
        });
        crate::ledger::LotTerms { available_at, expires_at }
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

/// A compiled goods filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Goods {
    pub groups: BTreeSet<String>,
    pub skus: BTreeSet<String>,
    pub exclude_groups: BTreeSet<String>,
    pub exclude_skus: BTreeSet<String>,
}

impl Goods {
    fn compile(g: &GoodsSpec) -> Goods {
        let set = |v: &Vec<String>| v.iter().cloned().collect();
        Goods {
            groups: set(&g.groups),
            skus: set(&g.skus),
            exclude_groups: set(&g.exclude_groups),
            exclude_skus: set(&g.exclude_skus),
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: StoreCode,
    pub priority: i32,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub stores: BTreeSet<StoreCode>,
    pub exclude_stores: BTreeSet<StoreCode>,
    pub formats: BTreeSet<StoreCode>,
    pub exclude_formats: BTreeSet<StoreCode>,
    pub customers_only: bool,
    pub min_total: Option<Decimal>,
    pub below_total: Option<Decimal>,
    pub rewards: Vec<Reward>,
    pub messages: MessagesSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub spec: CardSeriesSpec,
}

/// The compiled, immutable program of one configuration version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Program {
    pub version: i64,
    pub currencies: BTreeMap<AssetCode, Currency>,
    pub series: BTreeMap<StoreCode, Series>,
    /// Active campaigns, highest priority first, then by id.
    pub campaigns: Vec<Campaign>,
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

impl Program {
    /// Compiles the program parts of a configuration document (its currencies, card
    /// series and campaigns). Every problem is reported with its path.
    pub fn compile(doc: &ConfigDocument, version: i64) -> Result<Program, Vec<ConfigError>> {
        let mut p = Problems(Vec::new());
        let mut currencies = BTreeMap::new();
        for (i, c) in doc.currencies.iter().enumerate() {
            currencies.insert(c.code.clone(), compile_currency(c, &format!("currencies[{i}]"), &mut p));
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
                match r.kind {
                    RewardKind::Accrue => {
                        if r.amount.is_some() {
                            p.push(format!("{rpath}.amount"), "an accrual takes a rate, not an amount");
                        }
                        let currency = match &r.currency {
                            Some(c) if known(c) => Some(c.clone()),
                            Some(c) => {
                                p.push(format!("{rpath}.currency"), format!("unknown currency '{c}'"));
                                None
                            }
                            None => {
                                p.push(format!("{rpath}.currency"), "an accrual needs a currency");
                                None
                            }
                        };
                        let rate = compile_rate(&r.rate(), &rpath, &mut p);
                        let mut ex = Vec::new();
                        for (k, e) in r.exceptions.iter().enumerate() {
                            if let Some(rate) = compile_rate(&e.rate(), &format!("{rpath}.exceptions[{k}]"), &mut p) {
                                ex.push((Goods::compile(&e.goods()), rate));
                            }
                        }
                        if let (Some(currency), Some(rate)) = (currency, rate) {
                            rewards.push(Reward::Accrue { currency, rate, goods: Goods::compile(&r.goods()), exceptions: ex });
                        }
                    }
                    RewardKind::Discount => {
                        let stray = r.currency.is_some()
                            || r.per.is_some()
                            || r.step.is_some()
                            || r.units.is_some()
                            || r.per_item.is_some()
                            || r.fixed.is_some()
                            || !r.exceptions.is_empty();
                        if stray {
                            p.push(&rpath, "a discount takes only percent or amount and the goods it applies to");
                        }
                        match (r.percent, r.amount) {
                            (Some(pc), None) if pc.0 >= Decimal::ZERO && pc.0 <= Decimal::ONE_HUNDRED => {
                                rewards.push(Reward::DiscountPercent { percent: pc.0, goods: Goods::compile(&r.goods()) })
                            }
                            (None, Some(a)) if a.0 >= Decimal::ZERO => {
                                rewards.push(Reward::DiscountAmount { amount: a.0, goods: Goods::compile(&r.goods()) })
                            }
                            _ => p.push(&rpath, "a discount needs exactly one of percent (0–100) or amount (not negative)"),
                        }
                    }
                }
            }
            if let (Some(from), Some(until)) = (c.from, c.until)
                && from >= until
            {
                p.push(format!("{path}.until"), "a campaign must end after it starts");
            }
            if c.status != CampaignStatus::Active {
                continue;
            }
            let set = |v: &Vec<StoreCode>| v.iter().cloned().collect::<BTreeSet<_>>();
            campaigns.push(Campaign {
                id: c.id.clone(),
                priority: c.priority,
                from: c.from,
                until: c.until,
                stores: set(&c.stores),
                exclude_stores: set(&c.exclude_stores),
                formats: set(&c.formats),
                exclude_formats: set(&c.exclude_formats),
                customers_only: c.customers_only,
                min_total: c.min_total.map(|d| d.0),
                below_total: c.below_total.map(|d| d.0),
                rewards,
                messages: c.messages.clone(),
            });
        }
        campaigns.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        if p.0.is_empty() { Ok(Program { version, currencies, series, campaigns }) } else { Err(p.0) }
    }

    pub fn currency(&self, code: &AssetCode) -> Option<&Currency> {
        self.currencies.get(code)
    }
}

fn compile_currency(c: &CurrencySpec, path: &str, p: &mut Problems) -> Currency {
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
                p.push(format!("{path}.redeem.min_balance"), format!("must be a non-negative amount with at most {} decimals", c.scale.places()));
                0
            }
        };
        if let Some(s) = r.max_share
            && (s.0 <= Decimal::ZERO || s.0 > Decimal::ONE)
        {
            p.push(format!("{path}.redeem.max_share"), "a share is a fraction above 0 and at most 1, e.g. \"0.30\"");
        }
        Redeem {
            min_balance,
            max_share: r.max_share.map(|s| s.0),
            excluded: Goods {
                exclude_groups: r.exclude_groups.iter().cloned().collect(),
                exclude_skus: r.exclude_skus.iter().cloned().collect(),
                ..Goods::default()
            },
            accrue_on_redeemed: r.accrue_on_redeemed,
        }
    });
    if let Some(l) = c.lifetime
        && l.days.is_some() == l.months.is_some()
    {
        p.push(format!("{path}.lifetime"), "give exactly one of days or months");
    }
    Currency {
        code: c.code.clone(),
        kind: c.kind,
        scale: c.scale,
        rounding: c.rounding(),
        value,
        redeem,
        activation: c.activation_days.filter(|d| *d > 0).map(|d| SignedDuration::from_hours(24 * i64::from(d))),
        lifetime: c.lifetime,
    }
}

fn check_series(s: &CardSeriesSpec, path: &str, currencies: &BTreeMap<AssetCode, Currency>, p: &mut Problems) {
    if !s.prefix.bytes().all(|b| b.is_ascii_digit()) {
        p.push(format!("{path}.prefix"), "a prefix is digits only");
    }
    if !(6..=19).contains(&s.length) || usize::from(s.length) <= s.prefix.len() + 1 {
        p.push(format!("{path}.length"), "a card number has 6 to 19 digits, more than the prefix and check digit");
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

    fn doc(toml_like: ConfigDocument) -> Result<Program, Vec<ConfigError>> {
        Program::compile(&toml_like, 1)
    }

    fn bonus() -> CurrencySpec {
        CurrencySpec {
            code: AssetCode::parse("bonus").unwrap(),
            kind: CurrencyKind::Points,
            scale: Scale::ZERO,
            name: None,
            rounding: None,
            value: None,
            redeem: None,
            activation_days: None,
            lifetime: None,
        }
    }

    fn accrue(rate: RateSpec) -> RewardSpec {
        RewardSpec {
            currency: Some(AssetCode::parse("bonus").unwrap()),
            percent: rate.percent,
            step: rate.step,
            units: rate.units,
            fixed: rate.fixed,
            ..RewardSpec::new(RewardKind::Accrue)
        }
    }

    fn campaign(rewards: Vec<RewardSpec>) -> CampaignSpec {
        CampaignSpec {
            id: StoreCode::parse("c1").unwrap(),
            name: None,
            status: CampaignStatus::Active,
            priority: 0,
            from: None,
            until: None,
            stores: vec![],
            exclude_stores: vec![],
            formats: vec![],
            exclude_formats: vec![],
            customers_only: false,
            min_total: None,
            below_total: None,
            rewards,
            messages: MessagesSpec::default(),
        }
    }

    #[test]
    fn a_rate_must_name_exactly_one_form() {
        let two = RateSpec { percent: Some(Dec(Decimal::ONE)), fixed: Some(Dec(Decimal::ONE)), ..RateSpec::default() };
        let d = ConfigDocument { currencies: vec![bonus()], campaigns: vec![campaign(vec![accrue(two)])], ..Default::default() };
        let errors = doc(d).unwrap_err();
        assert_eq!(errors[0].path, "campaigns[0].rewards[0]");
        let step = RateSpec { step: Some(Dec(Decimal::new(500, 2))), units: Some(Dec(Decimal::ONE)), ..RateSpec::default() };
        let d = ConfigDocument { currencies: vec![bonus()], campaigns: vec![campaign(vec![accrue(step)])], ..Default::default() };
        let program = doc(d).unwrap();
        assert!(matches!(program.campaigns[0].rewards[0], Reward::Accrue { rate: Rate::Step { .. }, .. }));
    }

    #[test]
    fn an_accrual_in_an_unknown_currency_is_reported_at_compile_time() {
        let d = ConfigDocument {
            campaigns: vec![campaign(vec![accrue(RateSpec { percent: Some(Dec(Decimal::ONE)), ..RateSpec::default() })])],
            ..Default::default()
        };
        let errors = doc(d).unwrap_err();
        assert_eq!(errors[0].path, "campaigns[0].rewards[0].currency");
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
        let g = Goods::compile(&GoodsSpec {
            groups: vec!["dairy".into()],
            skus: vec!["X1".into()],
            exclude_groups: vec![],
            exclude_skus: vec!["M2".into()],
        });
        assert!(g.matches("A", &["dairy".into()]));
        assert!(g.matches("X1", &[]));
        assert!(!g.matches("M2", &["dairy".into()]));
        assert!(!g.matches("B", &["misc".into()]));
        assert!(Goods::default().matches("anything", &[]));
    }

    #[test]
    fn lot_terms_follow_activation_and_lifetime() {
        let mut c = compile_currency(&bonus(), "c", &mut Problems(vec![]));
        c.activation = Some(SignedDuration::from_hours(24 * 14));
        c.lifetime = Some(LifetimeSpec { days: None, months: Some(12) });
        let at: Timestamp = "2026-01-31T10:00:00Z".parse().unwrap();
        let t = c.lot_terms(at);
        assert_eq!(t.available_at.unwrap().to_string(), "2026-02-14T10:00:00Z");
        assert_eq!(t.expires_at.unwrap().to_string(), "2027-02-14T10:00:00Z");
    }
}
