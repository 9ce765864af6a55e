//! Lots: the parts of a balance that arrived together and share activation and expiry
//! dates. Each posted credit to a lot-tracking account makes one lot, named by the id of
//! that credit transfer. Debits consume active lots oldest-expiry-first and remember
//! what they took ([`LotMove`]), so a void, a partial post or a return can put value
//! back exactly where it came from, with its original dates.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, TransferId};
use crate::time::Timestamp;

/// When the value in a lot may be spent, and until when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LotTerms {
    /// Not spendable before this moment (activation delay); `None`: at once.
    pub available_at: Option<Timestamp>,
    /// Burns at this moment (lifetime); `None`: never.
    pub expires_at: Option<Timestamp>,
}

impl LotTerms {
    pub fn is_unrestricted(&self) -> bool {
        self.available_at.is_none() && self.expires_at.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lot {
    /// The transfer whose credit created the lot.
    pub id: TransferId,
    pub account: AccountId,
    /// What the lot was created with.
    pub amount: i64,
    /// What is left in it; never negative, never above `amount`.
    pub remaining: i64,
    pub terms: LotTerms,
    /// Business time of the credit: the tie-breaker between lots of equal expiry.
    pub created_at: Timestamp,
}

impl Lot {
    pub fn is_inactive(&self, now: Timestamp) -> bool {
        self.terms.available_at.is_some_and(|a| a > now)
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.terms.expires_at.is_some_and(|e| e <= now)
    }

    /// Spendable at `now`: activated and not expired.
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.is_inactive(now) && !self.is_expired(now)
    }

    /// The order in which debits consume lots: earliest expiry first (lots that never
    /// expire last), then oldest, then by id so the order is total and deterministic.
    pub fn spend_order(a: &Lot, b: &Lot) -> Ordering {
        let expiry = match (a.terms.expires_at, b.terms.expires_at) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        expiry.then(a.created_at.cmp(&b.created_at)).then_with(|| a.id.cmp(&b.id))
    }
}

/// What one debit took from one lot, and how much of that has since been put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotMove {
    /// The debiting transfer (for two-phase transfers: the pending one).
    pub transfer: TransferId,
    pub lot: TransferId,
    /// Position in the order of consumption; restoration walks it backwards.
    pub ord: i32,
    pub amount: i64,
    pub restored: i64,
}

impl LotMove {
    pub fn restorable(&self) -> i64 {
        self.amount - self.restored
    }
}
