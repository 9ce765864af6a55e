//! `[fraud]`: the thresholds of the fraud rules, and which rules block a card at once.
//! Every field is optional: an absent one keeps its default, `0` turns its rule off.

use serde::{Deserialize, Serialize};

use super::Dec;

/// A fraud rule, by the name alerts and the file use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FraudRule {
    /// One customer, more receipts within an hour than the limit.
    ReceiptsPerHour,
    /// One customer, receipts in more stores within a day than the limit.
    StoresPerDay,
    /// A receipt that accrued points returned within hours of the sale.
    ReturnAfterAccrual,
    /// Unknown card numbers and wrong PINs at one terminal, more within an hour than
    /// the limit: someone guessing gift card numbers.
    CardGuessing,
    /// One customer (one phone) holding more cards than the limit.
    CardsPerPhone,
    /// A terminal or cashier whose receipts with points paid in one day far exceed
    /// its peers'.
    PeerRedemptions,
    /// A terminal or cashier whose card numbers typed by hand in one day far exceed
    /// its peers'.
    PeerManualEntries,
}

impl FraudRule {
    pub const ALL: [FraudRule; 7] = [
        FraudRule::ReceiptsPerHour,
        FraudRule::StoresPerDay,
        FraudRule::ReturnAfterAccrual,
        FraudRule::CardGuessing,
        FraudRule::CardsPerPhone,
        FraudRule::PeerRedemptions,
        FraudRule::PeerManualEntries,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FraudRule::ReceiptsPerHour => "receipts_per_hour",
            FraudRule::StoresPerDay => "stores_per_day",
            FraudRule::ReturnAfterAccrual => "return_after_accrual",
            FraudRule::CardGuessing => "card_guessing",
            FraudRule::CardsPerPhone => "cards_per_phone",
            FraudRule::PeerRedemptions => "peer_redemptions",
            FraudRule::PeerManualEntries => "peer_manual_entries",
        }
    }

    pub fn parse(name: &str) -> Option<FraudRule> {
        FraudRule::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether its alerts are about a customer, whose card it can block.
    pub fn about_a_customer(self) -> bool {
        matches!(self, FraudRule::ReceiptsPerHour | FraudRule::StoresPerDay | FraudRule::ReturnAfterAccrual | FraudRule::CardsPerPhone)
    }
}

impl std::fmt::Display for FraudRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `[fraud]` section as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FraudSpec {
    /// More receipts than this by one customer within an hour (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipts_per_hour: Option<u32>,
    /// Receipts in more stores than this by one customer within 24 hours (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stores_per_day: Option<u32>,
    /// A return of a receipt that accrued points within this many hours of the sale
    /// (default 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_within_hours: Option<u32>,
    /// More unknown card numbers and wrong PINs than this at one terminal within an
    /// hour (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_misses_per_hour: Option<u32>,
    /// More cards than this held by one customer (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cards_per_phone: Option<u32>,
    /// A terminal or cashier is an outlier when its count of a day exceeds this many
    /// times its peers' median (default 5)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_factor: Option<Dec>,
    /// …and is at least this (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_min: Option<u32>,
    /// Rules whose alerts block the customer's card at once (rules about a customer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block: Vec<FraudRule>,
}

/// The fraud rules in force: `[fraud]` with its defaults filled in (a limit of 0 turns
/// its rule off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudRules {
    pub receipts_per_hour: u32,
    pub stores_per_day: u32,
    pub return_within_hours: u32,
    pub card_misses_per_hour: u32,
    pub cards_per_phone: u32,
    pub peer_factor: rust_decimal::Decimal,
    pub peer_min: u32,
    pub block: std::collections::BTreeSet<FraudRule>,
}

impl Default for FraudRules {
    fn default() -> FraudRules {
        FraudRules {
            receipts_per_hour: 10,
            stores_per_day: 3,
            return_within_hours: 24,
            card_misses_per_hour: 10,
            cards_per_phone: 3,
            peer_factor: rust_decimal::Decimal::from(5),
            peer_min: 20,
            block: Default::default(),
        }
    }
}

impl FraudSpec {
    /// The rules this section sets, on top of the defaults; `Err` with the field and
    /// what is wrong with it.
    pub fn rules(&self) -> Result<FraudRules, (String, crate::said::Said)> {
        let d = FraudRules::default();
        if let Some(r) = self.block.iter().find(|r| !r.about_a_customer()) {
            let k = self.block.iter().position(|b| b == r).unwrap_or_default();
            return Err((format!("block[{k}]"), crate::said::fraud_block_rule(r.name())));
        }
        let peer_factor = self.peer_factor.map_or(d.peer_factor, |f| f.0);
        if peer_factor < rust_decimal::Decimal::ONE {
            return Err(("peer_factor".into(), crate::said::fraud_peer_factor()));
        }
        Ok(FraudRules {
            receipts_per_hour: self.receipts_per_hour.unwrap_or(d.receipts_per_hour),
            stores_per_day: self.stores_per_day.unwrap_or(d.stores_per_day),
            return_within_hours: self.return_within_hours.unwrap_or(d.return_within_hours),
            card_misses_per_hour: self.card_misses_per_hour.unwrap_or(d.card_misses_per_hour),
            cards_per_phone: self.cards_per_phone.unwrap_or(d.cards_per_phone),
            peer_factor,
            peer_min: self.peer_min.unwrap_or(d.peer_min),
            block: self.block.iter().copied().collect(),
        })
    }
}
