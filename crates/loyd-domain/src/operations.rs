//! The smaller POS operations: gift card activation, visits on a pass, card inquiry.
//! Requests as sent; responses as returned; the [`Outcome`] of every POS operation.

use serde::{Deserialize, Serialize};

use crate::cards::{MAX_CARD_LEN, valid_card_text};
use crate::receipt::{BalanceOut, CustomerRef, DecStr, ReceiptError};

/// What a POS operation did: a new record (a receipt, a return, an activation, a visit)
/// or a change to an existing one (a cancellation). The API chooses the HTTP status
/// from it (`201` and `200`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Changed,
}

/// `POST /v1/pos/gift-cards/{number}/activate`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivateRequest {
    pub operation_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: DecStr,
    /// Sold as a digital certificate: where its number and a new PIN are sent (the
    /// program's `gift_card.sold` message), and to no one else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_to: Option<SendTo>,
}

impl ActivateRequest {
    /// Checks the operation id and the card number before anything is looked up.
    pub fn check_ids(&self, number: &str) -> Result<(), ReceiptError> {
        ReceiptError::client_id("operation_id", &self.operation_id)?;
        check_card_number("number", number)
    }
}

/// Where a gift card sold as a digital certificate goes: an e-mail address or a phone
/// (one of them), with the recipient's name, a greeting from the buyer, and the
/// language of the text (`en`, `ru`, `lv`, `et`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SendTo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// International, `+37120000000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl SendTo {
    /// Checked and normalised: exactly one address, a valid one; a language of
    /// [`crate::messages::LANGUAGES`]; a name of one line and a greeting of at most 500
    /// characters. The refusal names the field (`send_to.email`).
    pub fn checked(&self) -> Result<SendTo, ReceiptError> {
        let bad = |field: &str, why: &str| ReceiptError::invalid(format!("send_to.{field}: {why}"));
        let email = match &self.email {
            Some(e) => Some(crate::text::normalize_email(e).ok_or_else(|| bad("email", "is not an e-mail address"))?),
            None => None,
        };
        let phone = match &self.phone {
            Some(p) => Some(crate::receipt::normalize_phone(p).ok_or_else(|| bad("phone", "must be international, e.g. +37120000000"))?),
            None => None,
        };
        if email.is_some() == phone.is_some() {
            return Err(ReceiptError::invalid("send_to: give an email or a phone, one of them"));
        }
        if let Some(l) = &self.language
            && !crate::messages::LANGUAGES.contains(&l.as_str())
        {
            return Err(bad("language", &format!("is one of {}", crate::messages::LANGUAGES.join(", "))));
        }
        let name = self.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if name.is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control)) {
            return Err(bad("name", "is one line of at most 100 characters"));
        }
        let greeting = self.greeting.as_deref().map(str::trim).filter(|g| !g.is_empty());
        if greeting.is_some_and(|g| g.chars().count() > 500 || g.chars().any(|c| c.is_control() && c != '\n')) {
            return Err(bad("greeting", "is at most 500 characters"));
        }
        Ok(SendTo { email, phone, name: name.map(str::to_owned), greeting: greeting.map(str::to_owned), language: self.language.clone() })
    }

    /// Whether a message on `channel` can reach its address: an e-mail by e-mail, a
    /// phone by SMS, Viber or WhatsApp.
    pub fn reached_by(&self, channel: crate::messages::Channel) -> bool {
        if self.email.is_some() { channel == crate::messages::Channel::Email } else { channel.by_phone() }
    }

    /// The channels that can reach it, for a refusal: `email`, or the phone's.
    pub fn reachable_by(&self) -> &'static str {
        if self.email.is_some() { "email" } else { "sms, viber or whatsapp" }
    }
}

/// A card number named in a path or a body: letters and digits, as printed.
pub fn check_card_number(field: &str, number: &str) -> Result<(), ReceiptError> {
    if valid_card_text(number) {
        Ok(())
    } else {
        Err(ReceiptError::invalid(format!("{field} must be 1 to {MAX_CARD_LEN} letters or digits")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitRequest {
    pub operation_id: String,
    pub customer: CustomerRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl VisitRequest {
    /// Checks the operation id, the customer reference and the service name.
    pub fn check(&self) -> Result<crate::receipt::Identify, ReceiptError> {
        ReceiptError::client_id("operation_id", &self.operation_id)?;
        if let Some(s) = &self.service {
            crate::text::line("service", s, crate::receipt::MAX_NAME)?;
        }
        self.customer.identify()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaskedCustomer {
    pub id: String,
    /// First letters only: `J. D.`.
    pub name: Option<String>,
    /// Last digits only: `+371 •••• 0000`.
    pub phone: Option<String>,
}

/// `GET /v1/pos/cards/{number}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardInquiry {
    pub number: String,
    pub kind: String,
    pub series: String,
    pub state: String,
    pub valid_until: Option<String>,
    pub customer: Option<MaskedCustomer>,
    pub balances: Vec<BalanceOut>,
    pub tier: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
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
