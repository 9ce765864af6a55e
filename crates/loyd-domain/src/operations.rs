//! The smaller POS operations: gift card activation, visits on a pass, card inquiry.
//! Requests as sent; responses as returned.

use serde::{Deserialize, Serialize};

use crate::receipt::{BalanceOut, CustomerRef, DecStr};

/// `POST /v1/pos/gift-cards/{number}/activate`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActivateRequest {
    pub operation_id: String,
    pub amount: DecStr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateResponse {
    pub operation_id: String,
    pub number: String,
    pub amount: String,
    pub balance: String,
    pub currency: String,
    pub valid_until: Option<String>,
}

/// `POST /v1/pos/visits`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VisitRequest {
    pub operation_id: String,
    pub customer: CustomerRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitResponse {
    pub operation_id: String,
    /// The pass the visit was registered on.
    pub card: String,
    pub service: Option<String>,
    /// Visits left on the pass after this one.
    pub remaining: String,
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedCustomer {
    pub id: String,
    /// First letters only: `J. D.`.
    pub name: Option<String>,
    /// Last digits only: `+371 •••• 0000`.
    pub phone: Option<String>,
}

/// `GET /v1/pos/cards/{number}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardInquiry {
    pub number: String,
    pub kind: String,
    pub series: String,
    pub state: String,
    pub valid_until: Option<String>,
    pub customer: Option<MaskedCustomer>,
    pub balances: Vec<BalanceOut>,
    pub tier: Option<String>,
    pub coupons: Vec<serde_json::Value>,
}

/// Masks a name to its initials.
pub fn mask_name(name: &str) -> String {
    name.split_whitespace().filter_map(|w| w.chars().next()).map(|c| format!("{c}.")).collect::<Vec<_>>().join(" ")
}

/// Masks a phone number to its country prefix and last four digits.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    let tail: String = digits.iter().rev().take(4).rev().collect();
    let head: String = digits.iter().take(4).collect();
    format!("{head} •••• {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_a_cashier_needs() {
        assert_eq!(mask_name("Jānis  Bērziņš"), "J. B.");
        assert_eq!(mask_phone("+37120000123"), "+371 •••• 0123");
    }
}
