//! Accounts: one per holder × asset, with a balance policy.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, AssetCode, IdError};
use crate::time::Timestamp;

use super::lots::Lot;

/// What an account's balance may do. Balances are *credit-normal*: a credit raises the
/// holder's balance (points earned), a debit lowers it (points spent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BalancePolicy {
    /// Never below zero: points, gift card value, wallets.
    NonNegative,
    /// May go down to `-limit` minor units: internal credit (employee meals).
    CreditLimit { limit: i64 },
    /// No bound at all: system accounts such as issuance (the ledger's "world"), where
    /// points come from and go to. Their running totals are not stored (a row every
    /// receipt touches would serialise all receipts); they are derived from transfers.
    Unbounded,
}

impl BalancePolicy {
    pub fn name(self) -> &'static str {
        match self {
            BalancePolicy::NonNegative => "non_negative",
            BalancePolicy::CreditLimit { .. } => "credit_limit",
            BalancePolicy::Unbounded => "unbounded",
        }
    }

    /// Rebuilds a policy from its stored name and limit column.
    pub fn from_parts(name: &str, limit: i64) -> Option<Self> {
        match name {
            "non_negative" => Some(BalancePolicy::NonNegative),
            "credit_limit" => Some(BalancePolicy::CreditLimit { limit }),
            "unbounded" => Some(BalancePolicy::Unbounded),
            _ => None,
        }
    }

    pub fn limit(self) -> i64 {
        match self {
            BalancePolicy::CreditLimit { limit } => limit,
            _ => 0,
        }
    }
}

/// Who an account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolderKind {
    /// The operator itself: issuance, redemption, expiry, breakage accounts.
    System,
    Customer,
    /// A card that holds value of its own: gift cards, passes, credit cards.
    Card,
    Organisation,
}

impl HolderKind {
    pub fn name(self) -> &'static str {
        match self {
            HolderKind::System => "system",
            HolderKind::Customer => "customer",
            HolderKind::Card => "card",
            HolderKind::Organisation => "organisation",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [HolderKind::System, HolderKind::Customer, HolderKind::Card, HolderKind::Organisation]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// An account holder: a kind and that kind's id (`system/issuance`, `customer/42`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Holder {
    pub kind: HolderKind,
    pub id: String,
}

impl Holder {
    pub const MAX_ID_LEN: usize = 64;

    pub fn new(kind: HolderKind, id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        if id.is_empty() {
            return Err(IdError::Empty { what: "holder id" });
        }
        if id.len() > Self::MAX_ID_LEN {
            return Err(IdError::TooLong { what: "holder id", max: Self::MAX_ID_LEN });
        }
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
            return Err(IdError::BadCharacter {
                what: "holder id",
                value: id,
                allowed: "letters, digits, '-', '_', '.' and ':'",
            });
        }
        Ok(Holder { kind, id })
    }

    pub fn system(name: &str) -> Result<Self, IdError> {
        Holder::new(HolderKind::System, name)
    }
}

/// What it takes to open an account. Opening is idempotent by `(holder, asset)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSpec {
    pub holder: Holder,
    pub asset: AssetCode,
    pub policy: BalancePolicy,
    /// Credits land in lots that carry activation and expiry dates; debits consume
    /// them oldest-expiry-first. Only for non-negative accounts.
    pub tracks_lots: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountSpecError {
    #[error("only non-negative accounts can track lots")]
    LotsNeedNonNegative,
    #[error("a credit limit must not be negative")]
    NegativeCreditLimit,
}

impl AccountSpec {
    pub fn validate(&self) -> Result<(), AccountSpecError> {
        if self.tracks_lots && self.policy != BalancePolicy::NonNegative {
            return Err(AccountSpecError::LotsNeedNonNegative);
        }
        if self.policy.limit() < 0 {
            return Err(AccountSpecError::NegativeCreditLimit);
        }
        Ok(())
    }
}

/// Running totals in minor units, TigerBeetle style: posted and pending, debits and
/// credits kept apart so every balance can be derived and audited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub holder: Holder,
    pub asset: AssetCode,
    pub policy: BalancePolicy,
    pub tracks_lots: bool,
    pub totals: Totals,
}

impl Account {
    /// Credits minus debits, posted only.
    pub fn posted(&self) -> i128 {
        i128::from(self.totals.credits_posted) - i128::from(self.totals.debits_posted)
    }

    /// How much more may be debited, by the account's policy alone (lots aside);
    /// `None` for unbounded accounts.
    pub fn debit_headroom(&self) -> Option<i128> {
        let free = self.posted() - i128::from(self.totals.debits_pending);
        match self.policy {
            BalancePolicy::NonNegative => Some(free),
            BalancePolicy::CreditLimit { limit } => Some(free + i128::from(limit)),
            BalancePolicy::Unbounded => None,
        }
    }

    /// The balance at `now`, given this account's open lots (ignored for accounts
    /// that do not track lots).
    pub fn balance<'a>(&self, open_lots: impl IntoIterator<Item = &'a Lot>, now: Timestamp) -> Balance {
        let t = self.totals;
        let mut b = Balance {
            posted: clamp(self.posted()),
            pending_debits: t.debits_pending,
            pending_credits: t.credits_pending,
            inactive: 0,
            expired: 0,
            available: 0,
            credit_limit: self.policy.limit(),
        };
        if self.tracks_lots {
            for lot in open_lots {
                if lot.is_expired(now) {
                    b.expired += lot.remaining;
                } else if lot.is_inactive(now) {
                    b.inactive += lot.remaining;
                } else {
                    b.available += lot.remaining;
                }
            }
        } else {
            b.available = clamp(self.debit_headroom().unwrap_or(self.posted() - i128::from(t.debits_pending)));
        }
        b
    }
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// A balance at a moment, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Credits minus debits, posted.
    pub posted: i64,
    /// Held by two-phase transfers not yet posted or voided: out of the account…
    pub pending_debits: i64,
    /// …and into it.
    pub pending_credits: i64,
    /// In lots not yet activated (points earned, spendable later).
    pub inactive: i64,
    /// In lots past their expiry that the expiry job has not yet burned.
    pub expired: i64,
    /// What can be spent now: active lots, or for plain accounts posted − held + limit.
    pub available: i64,
    /// The overdraft allowed (credit accounts), else 0.
    pub credit_limit: i64,
}
