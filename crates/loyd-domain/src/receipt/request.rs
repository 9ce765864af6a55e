//! The request of calculate and commit as sent ([`ReceiptRequest`]) and as parsed,
//! strictly and once, into a [`Receipt`]: amounts exact, names and limits checked,
//! the customer reference resolved to one [`Identify`].

use std::fmt;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ReceiptError;
use crate::cards::valid_card_text;
use crate::ids::{AssetCode, ClientOpId};
use crate::money::{self, Scale};

/// Most lines one receipt may have.
pub const MAX_LINES: usize = 1000;
/// Longest SKU or group name.
pub const MAX_NAME: usize = 64;
/// Most groups per line.
pub const MAX_GROUPS: usize = 20;
/// Most redemptions, gift cards or coupons per receipt.
pub const MAX_TENDERS: usize = 10;

/// Why a JSON number is refused where an amount is expected. The value is not echoed:
/// messages end up in the failure log, and the field may have been the wrong one.
const NOT_A_NUMBER: &str = "amounts are decimal strings such as \"17.50\", not JSON numbers";

/// A decimal on the wire: always a JSON string (`"17.50"`), never a JSON number,
/// because a JSON number may pass through a binary float on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DecStr(pub Decimal);

impl Serialize for DecStr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DecStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = DecStr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal string such as \"17.50\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DecStr, E> {
                money::parse_decimal(v).map(DecStr).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<DecStr, E> {
                Err(E::custom(NOT_A_NUMBER))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<DecStr, E> {
                Err(E::custom(NOT_A_NUMBER))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<DecStr, E> {
                Err(E::custom(NOT_A_NUMBER))
            }
        }
        d.deserialize_any(V)
    }
}

/// How the POS names the customer: exactly one of the three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9]{1,32}$"))]
    pub card: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\+[0-9]{8,15}$"))]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9]{1,16}$"))]
    pub code: Option<String>,
    /// How the card number reached the till: scanned or typed by hand. Informational:
    /// fraud detection compares how often each terminal and cashier types numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<CardEntry>,
}

/// How a card number reached the till.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CardEntry {
    /// Read from a barcode, magnetic stripe, chip or phone.
    Scanned,
    /// Typed in by the cashier.
    Manual,
}

/// A customer reference once checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identify {
    Card(String),
    /// E.164: `+` and digits.
    Phone(String),
    /// A one-time code from the portal.
    Code(String),
}

/// Normalises a phone number to E.164 (`+37120000000`): strips spaces, dashes, dots and
/// brackets; requires a leading `+` and 8 to 15 digits.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let kept: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = kept.strip_prefix('+')?;
    ((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())).then_some(kept)
}

impl CustomerRef {
    pub fn identify(&self) -> Result<Identify, ReceiptError> {
        match (&self.card, &self.phone, &self.code) {
            (Some(card), None, None) => {
                if !valid_card_text(card) {
                    return Err(ReceiptError::invalid("customer.card must be 1 to 32 letters or digits"));
                }
                Ok(Identify::Card(card.clone()))
            }
            (None, Some(phone), None) => normalize_phone(phone)
                .map(Identify::Phone)
                .ok_or_else(|| ReceiptError::invalid("customer.phone must be an international number, e.g. +37120000000")),
            (None, None, Some(code)) => {
                if code.is_empty() || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(ReceiptError::invalid("customer.code must be the code shown in the customer's portal"));
                }
                Ok(Identify::Code(code.clone()))
            }
            _ => Err(ReceiptError::invalid("customer needs exactly one of card, phone or code")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineRequest {
    pub line: u32,
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[^\x00-\x1f\x7f]{1,64}$"))]
    pub sku: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 20))]
    pub groups: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^[0-9]{1,6}(\.[0-9]{1,3})?$"))]
    pub qty: DecStr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"))]
    pub price: Option<DecStr>,
    /// Line total before loyalty discounts.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"))]
    pub amount: DecStr,
}

/// A redemption amount: a number of currency units, or `"max"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedeemAmount {
    Max,
    Units(Decimal),
}

impl Serialize for RedeemAmount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RedeemAmount::Max => s.serialize_str("max"),
            RedeemAmount::Units(d) => s.collect_str(d),
        }
    }
}

impl<'de> Deserialize<'de> for RedeemAmount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = DecOrMax::deserialize(d)?;
        Ok(s.0)
    }
}

struct DecOrMax(RedeemAmount);

impl<'de> Deserialize<'de> for DecOrMax {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = DecOrMax;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"max\" or a decimal string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DecOrMax, E> {
                if v == "max" {
                    return Ok(DecOrMax(RedeemAmount::Max));
                }
                money::parse_decimal(v).map(|d| DecOrMax(RedeemAmount::Units(d))).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedeemRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^[A-Za-z0-9._-]{1,32}$"))]
    pub currency: AssetCode,
    /// Units of the currency, or `max`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^(max|[0-9]{1,12}(\.[0-9]{1,9})?)$"))]
    pub amount: RedeemAmount,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GiftCardRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9]{1,32}$"))]
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9]{1,16}$"))]
    pub pin: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"))]
    pub amount: DecStr,
}

/// The body of calculate and commit, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptRequest {
    /// Unique per terminal: the idempotency key.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9._:/#@+=-]{1,128}$"))]
    pub receipt_id: String,
    /// RFC 3339 with offset; default: the server's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerRef>,
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub lines: Vec<LineRequest>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub redeem: Vec<RedeemRequest>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub gift_cards: Vec<GiftCardRequest>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub coupons: Vec<String>,
    /// Who rang the receipt up, as the till names its cashiers (1 to 64 printable
    /// characters). Informational: fraud detection compares cashiers with their peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[^\x00-\x1f\x7f]{1,64}$"))]
    pub cashier: Option<String>,
    /// Informational (how the rest was paid); stored, not interpreted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub payments: Option<serde_json::Value>,
}

impl ReceiptRequest {
    /// The request as it may be kept (for simulations and audits): without the secrets
    /// and personal data it carried. Gift card PINs are dropped; a customer named by
    /// phone or one-time code is dropped too (the receipt row names the customer by id),
    /// while a card number, which is no secret, stays.
    pub fn stored_copy(&self) -> ReceiptRequest {
        let customer = self.customer.as_ref().filter(|c| c.phone.is_none() && c.code.is_none()).cloned();
        let gift_cards = self.gift_cards.iter().map(|g| GiftCardRequest { pin: None, ..g.clone() }).collect();
        ReceiptRequest { customer, gift_cards, ..self.clone() }
    }
}

/// A checked receipt line; `amount` in minor units of the store currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub line: u32,
    pub sku: String,
    pub groups: Vec<String>,
    pub qty: Decimal,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCardUse {
    pub number: String,
    pub pin: Option<String>,
    /// Minor units of the store currency.
    pub amount: i64,
}

/// A receipt after parsing: every rule of the wire format checked, amounts exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: ClientOpId,
    pub at: Timestamp,
    pub customer: Option<Identify>,
    pub lines: Vec<Line>,
    pub redeem: Vec<RedeemRequest>,
    pub gift_cards: Vec<GiftCardUse>,
    pub coupons: Vec<String>,
}

fn check_name(what: &str, s: &str) -> Result<(), ReceiptError> {
    if s.is_empty() || s.chars().count() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(ReceiptError::invalid(format!("{what} must be 1 to {MAX_NAME} printable characters")));
    }
    Ok(())
}

impl ReceiptRequest {
    /// Checks the request against the wire rules for a store whose money has `scale`.
    /// `now` stands in for a missing `at`.
    pub fn parse(&self, scale: Scale, now: Timestamp) -> Result<Receipt, ReceiptError> {
        let id = ReceiptError::client_id("receipt_id", &self.receipt_id)?;
        if let Some(cashier) = &self.cashier {
            check_name("cashier", cashier)?;
        }
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            return Err(ReceiptError::invalid(format!("a receipt has 1 to {MAX_LINES} lines")));
        }
        if self.redeem.len() > MAX_TENDERS || self.gift_cards.len() > MAX_TENDERS || self.coupons.len() > MAX_TENDERS {
            return Err(ReceiptError::invalid(format!("at most {MAX_TENDERS} redemptions, gift cards and coupons each")));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut lines = Vec::with_capacity(self.lines.len());
        for l in &self.lines {
            let at = format!("lines[line {}]", l.line);
            if !seen.insert(l.line) {
                return Err(ReceiptError::invalid(format!("line number {} appears twice", l.line)));
            }
            check_name(&format!("{at}.sku"), &l.sku)?;
            if l.groups.len() > MAX_GROUPS {
                return Err(ReceiptError::invalid(format!("{at}: at most {MAX_GROUPS} groups")));
            }
            for g in &l.groups {
                check_name(&format!("{at}.groups"), g)?;
            }
            let qty = l.qty.0;
            if qty <= Decimal::ZERO || qty > Decimal::from(1_000_000) || qty.normalize().scale() > 3 {
                return Err(ReceiptError::invalid(format!("{at}.qty must be above 0, at most 1000000, with at most 3 decimals")));
            }
            if l.price.is_some_and(|p| p.0 < Decimal::ZERO) {
                return Err(ReceiptError::invalid(format!("{at}.price must not be negative")));
            }
            let amount = money::to_minor_exact(l.amount.0, scale)
                .map_err(|e| ReceiptError::invalid(format!("{at}.amount: {e}")))?;
            if amount < 0 {
                return Err(ReceiptError::invalid(format!("{at}.amount must not be negative")));
            }
            lines.push(Line { line: l.line, sku: l.sku.clone(), groups: l.groups.clone(), qty, amount });
        }
        let total: i128 = lines.iter().map(|l| i128::from(l.amount)).sum();
        if total > i128::from(i64::MAX / 4) {
            return Err(ReceiptError::invalid("the receipt total is out of range"));
        }
        let mut gift_cards = Vec::with_capacity(self.gift_cards.len());
        for g in &self.gift_cards {
            if !valid_card_text(&g.number) {
                return Err(ReceiptError::invalid("gift_cards[].number must be 1 to 32 letters or digits"));
            }
            if gift_cards.iter().any(|u: &GiftCardUse| u.number == g.number) {
                return Err(ReceiptError::invalid(format!("gift card {} appears twice", g.number)));
            }
            let amount = money::to_minor_exact(g.amount.0, scale)
                .map_err(|e| ReceiptError::invalid(format!("gift_cards[].amount: {e}")))?;
            if amount <= 0 {
                return Err(ReceiptError::invalid("gift_cards[].amount must be positive"));
            }
            if let Some(pin) = &g.pin {
                crate::text::pin("gift_cards[].pin", pin)?;
            }
            gift_cards.push(GiftCardUse { number: g.number.clone(), pin: g.pin.clone(), amount });
        }
        for (i, r) in self.redeem.iter().enumerate() {
            if self.redeem[..i].iter().any(|o| o.currency == r.currency) {
                return Err(ReceiptError::invalid(format!("redeem names currency {} twice", r.currency)));
            }
            if let RedeemAmount::Units(u) = r.amount
                && u < Decimal::ZERO
            {
                return Err(ReceiptError::invalid("redeem amounts must not be negative"));
            }
        }
        for c in &self.coupons {
            check_name("coupons[]", c)?;
        }
        Ok(Receipt {
            id,
            at: crate::time::truncate_micros(self.at.unwrap_or(now)),
            customer: self.customer.as_ref().map(CustomerRef::identify).transpose()?,
            lines,
            redeem: self.redeem.clone(),
            gift_cards,
            coupons: self.coupons.clone(),
        })
    }
}
