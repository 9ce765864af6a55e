//! The loyalty program: what a marketer writes in a configuration file ([`spec`]) and
//! its compiled form, [`Program`], which the calculation engine runs against every
//! receipt.
//!
//! Compiling checks everything that can be checked before a receipt arrives (unknown
//! currencies, counters, tiers and coupon series; contradictory options; rates that are
//! not numbers; custom conditions that do not parse or do not give a boolean) and
//! reports each problem with its path in the file, so no receipt ever fails on a
//! configuration error.
//!
//! ## Layout
//! - [`spec`]: the file format, as serde types (`*Spec`), with its defaults (campaigns
//!   and restrictions in `spec/campaign.rs`).
//! - `compile/`: [`Program::compile`], spec to compiled program, with every check
//!   (rewards and rates in `compile/rewards.rs`, currencies and card series in
//!   `compile/currencies.rs`).
//! - `currency`: [`Currency`]: scale, rounding, redemption, when accrued units activate
//!   and expire ([`Currency::lot_terms`]), inactivity, [`Conversion`].
//! - `counters`: [`Counter`] values over a window or period and [`Tier::level`], the
//!   level a counter reaches.
//! - `campaign`: [`Campaign`] (when, where, who, rewards, limits), [`Segment`],
//!   [`CouponSeries`], [`Restrictions`].
//! - `goods`: [`Goods`] filters, compiled to bitmasks over [`Names`].
//! - [`cel`]: custom conditions ([`Condition`]), a small CEL subset.
//! - `tests`: compile table tests.

use std::collections::BTreeMap;

use crate::ids::{AssetCode, ConfigCode};
use crate::money::Scale;

mod campaign;
pub mod cel;
mod compile;
mod counters;
mod currency;
mod goods;
pub mod spec;
pub mod file;
#[cfg(test)]
mod tests;

pub use self::campaign::*;
pub use self::cel::{CelInput, CelLine, Condition};
pub use self::counters::*;
pub use self::currency::*;
pub use self::goods::*;
pub use spec::*;

/// A customer's move on a tier ladder ([`Program::tier_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierChange {
    pub ladder: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: crate::messages::Direction,
}

/// The compiled, immutable program of one configuration version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Program {
    pub version: i64,
    pub currencies: BTreeMap<AssetCode, Currency>,
    pub series: BTreeMap<ConfigCode, Series>,
    pub counters: Vec<Counter>,
    pub tiers: Vec<Tier>,
    pub coupon_series: BTreeMap<ConfigCode, CouponSeries>,
    /// Promo codes (upper case) to their series.
    pub promo_codes: BTreeMap<String, ConfigCode>,
    /// Customer segments, in file order.
    pub segments: Vec<Segment>,
    /// Active campaigns, highest priority first, then by id.
    pub campaigns: Vec<Campaign>,
    pub restrictions: RestrictionRules,
    /// The fraud rules' thresholds (`[fraud]`, or the defaults).
    pub fraud: FraudRules,
    /// Where events are posted, in file order.
    pub webhooks: Vec<crate::events::Webhook>,
    /// Messages to customers, in file order.
    pub messages: Vec<crate::messages::Message>,
    /// The SMTP server, when e-mail is configured.
    pub email: Option<EmailSpec>,
    /// The SMS gateway, when SMS are configured.
    pub sms: Option<GatewaySpec>,
    /// The Viber and WhatsApp gateways, when configured.
    pub viber: Option<GatewaySpec>,
    pub whatsapp: Option<GatewaySpec>,
    /// The Telegram bot, when configured.
    pub telegram: Option<TelegramSpec>,
    /// The customer portal (its defaults when the program has no `[portal]`).
    pub portal: PortalSpec,
    /// The portal's rewards catalogue, in file order (paused ones too).
    pub catalogue: Vec<CatalogueItem>,
    /// The portal's advertising blocks, in file order.
    pub offers: Vec<OfferSpec>,
    /// How long personal data is kept, when the program says.
    pub retention: Option<RetentionSpec>,
    /// The names goods filters use, for line masks.
    pub names: Names,
}

/// An entry of the rewards catalogue as compiled: its spec, and its cost in the
/// currency's minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueItem {
    pub spec: CatalogueSpec,
    pub cost: i64,
}

impl Program {
    /// An entry of the rewards catalogue by id.
    pub fn catalogue_item(&self, id: &str) -> Option<&CatalogueItem> {
        self.catalogue.iter().find(|r| r.spec.id.as_str() == id)
    }

    /// Compiles a custom condition as a segment or campaign of this program would have
    /// it (it may read the program's counters and currencies).
    pub fn condition(&self, src: &str) -> Result<Condition, String> {
        let counters: Vec<String> = self.counters.iter().map(|c| c.id.to_string()).collect();
        let currencies: Vec<String> = self.currencies.keys().map(|k| k.to_string()).collect();
        Condition::compile(src, &counters, &currencies)
    }

    pub fn currency(&self, code: &AssetCode) -> Option<&Currency> {
        self.currencies.get(code)
    }

    /// The gateway a channel's messages leave through (SMS, Viber, WhatsApp).
    pub fn gateway(&self, channel: crate::messages::Channel) -> Option<&GatewaySpec> {
        use crate::messages::Channel as C;
        match channel {
            C::Sms => self.sms.as_ref(),
            C::Viber => self.viber.as_ref(),
            C::Whatsapp => self.whatsapp.as_ref(),
            C::Email | C::Telegram | C::Portal => None,
        }
    }

    /// Whether messages on `channel` have a way out: its section is there (the portal
    /// needs none).
    pub fn has_channel(&self, channel: crate::messages::Channel) -> bool {
        use crate::messages::Channel as C;
        match channel {
            C::Email => self.email.is_some(),
            C::Telegram => self.telegram.is_some(),
            C::Portal => true,
            C::Sms | C::Viber | C::Whatsapp => self.gateway(channel).is_some(),
        }
    }

    /// A channel's `rate_per_minute` and `customer_limit`, as its section gives them.
    fn channel_limits(&self, channel: crate::messages::Channel) -> (Option<u32>, Option<CustomerLimit>) {
        use crate::messages::Channel as C;
        match channel {
            C::Email => self.email.as_ref().map(|e| (e.rate_per_minute, e.customer_limit)),
            C::Telegram => self.telegram.as_ref().map(|t| (t.rate_per_minute, t.customer_limit)),
            C::Portal => None,
            C::Sms | C::Viber | C::Whatsapp => self.gateway(channel).map(|g| (g.rate_per_minute, g.customer_limit)),
        }
        .unwrap_or_default()
    }

    /// Microseconds between two marketing messages on `channel` (its `rate_per_minute`),
    /// `None` when it has no rate.
    pub fn spacing(&self, channel: crate::messages::Channel) -> Option<i64> {
        self.channel_limits(channel).0.filter(|r| *r > 0).map(|r| 60_000_000 / i64::from(r))
    }

    /// At most how many messages a customer gets on `channel` within some days.
    pub fn customer_limit(&self, channel: crate::messages::Channel) -> Option<CustomerLimit> {
        self.channel_limits(channel).1
    }

    /// Whether a level change has anyone to hear of it: the program has tier ladders
    /// and a webhook or message wants `tier.changed`.
    pub fn tells_tier_changes(&self) -> bool {
        !self.tiers.is_empty() && self.raises(crate::events::EventKind::TierChanged)
    }

    /// Whether a webhook or a message of the program wants events of `kind` (else
    /// none is recorded).
    pub fn raises(&self, kind: crate::events::EventKind) -> bool {
        self.webhooks.iter().any(|w| w.wants(kind)) || self.messages.iter().any(|m| m.wants(kind))
    }

    /// The ladders on which a customer's level differs between counters `before` and
    /// `after`: `(ladder, from, to, direction)`, a level `None` below the first one.
    /// Worth computing only when [`Program::tells_tier_changes`].
    pub fn tier_changes(
        &self,
        before: &std::collections::BTreeMap<String, rust_decimal::Decimal>,
        after: &std::collections::BTreeMap<String, rust_decimal::Decimal>,
    ) -> Vec<TierChange> {
        self.tiers
            .iter()
            .filter_map(|t| {
                let rank = |counters: &std::collections::BTreeMap<String, rust_decimal::Decimal>| {
                    let value = counters.get(t.counter.as_str()).copied().unwrap_or_default();
                    t.level(value).and_then(|l| t.levels.iter().position(|(id, _)| id == l).map(|k| (k, l.to_string())))
                };
                let (from, to) = (rank(before), rank(after));
                let direction = match (from.as_ref().map(|f| f.0), to.as_ref().map(|t| t.0)) {
                    (a, b) if a == b => return None,
                    (a, b) if b > a => crate::messages::Direction::Up,
                    _ => crate::messages::Direction::Down,
                };
                Some(TierChange { ladder: t.id.to_string(), from: from.map(|f| f.1), to: to.map(|t| t.1), direction })
            })
            .collect()
    }

    /// A customer's counters once a receipt paying `paid` (minor units of `scale`, after
    /// loyalty discounts) is added to `before` (their counters at the receipt's time,
    /// without it); `None` when a counter counts days (whether the day is new needs
    /// the receipts).
    pub fn counters_with(
        &self,
        before: &std::collections::BTreeMap<String, rust_decimal::Decimal>,
        paid: i64,
        scale: crate::money::Scale,
    ) -> Option<std::collections::BTreeMap<String, rust_decimal::Decimal>> {
        let mut after = before.clone();
        for c in &self.counters {
            let add = match c.measure {
                Measure::Sum => crate::money::from_minor(paid, scale),
                Measure::Count => rust_decimal::Decimal::ONE,
                Measure::Visits => return None,
            };
            *after.entry(c.id.to_string()).or_default() += add;
        }
        Some(after)
    }

    /// A customer's level on each tier ladder they reach, from their counters:
    /// `(ladder, level)`, ladders in the program's order.
    pub fn tier_levels(&self, counters: &std::collections::BTreeMap<String, rust_decimal::Decimal>) -> Vec<(String, String)> {
        self.tiers
            .iter()
            .filter_map(|t| {
                let value = counters.get(t.counter.as_str()).copied().unwrap_or_default();
                t.level(value).map(|l| (t.id.to_string(), l.to_string()))
            })
            .collect()
    }

    /// Whether any receipt needs the customer's counters (tiers, accumulated discounts
    /// or custom conditions read them).
    pub fn needs_counters(&self) -> bool {
        !self.counters.is_empty()
    }

    /// The configured series of a card, `None` when it is no longer configured.
    pub fn card_series(&self, id: &str) -> Option<&CardSeriesSpec> {
        self.series.get(id).map(|s| &s.spec)
    }

    /// The scale of a currency, for showing amounts of its accounts. A currency no longer
    /// configured shows whole units: its accounts still exist, its amounts still print.
    pub fn scale_of(&self, currency: &str) -> Scale {
        self.currencies.get(currency).map(|c| c.scale).unwrap_or(Scale::ZERO)
    }
}
