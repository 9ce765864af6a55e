//! Receipts as the POS API carries them: the request (parsed strictly once, here), the
//! context the engine needs, the calculation it produces, and the response rendered
//! from it. Field names follow `POS-API.md` exactly.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::cards::{CardState, valid_card_text};
use crate::ids::{AssetCode, ClientOpId, StoreCode};
use crate::ledger::LotTerms;
use crate::money::{self, Minor, Scale};
use crate::org::TimeZoneName;

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

// ---- errors -------------------------------------------------------------------------

/// Why a receipt (or another POS operation) is refused. Each maps to a stable code of
/// the POS API ([`ReceiptError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("{0}")]
    Invalid(String),
    #[error("card {0} is not known")]
    UnknownCard(String),
    #[error("no customer with this phone number")]
    UnknownCustomer,
    #[error("the one-time code is unknown, used or expired")]
    UnknownCode,
    #[error("card {0} is blocked")]
    CardBlocked(String),
    #[error("card {0} has expired")]
    CardExpired(String),
    #[error("card {0} is not activated")]
    CardNotActive(String),
    #[error("card {0} is already activated")]
    CardAlreadyActive(String),
    #[error("wrong PIN for card {0}")]
    WrongPin(String),
    #[error("too many wrong PINs for card {0}; try again later")]
    TooManyAttempts(String),
    #[error("{what}: {available} available, {requested} requested")]
    InsufficientFunds { what: String, available: String, requested: String },
    #[error("{currency} can be redeemed from a balance of {minimum}")]
    BelowMinimumRedeem { currency: AssetCode, minimum: String },
    #[error("at most {max} {currency} can pay this receipt")]
    RedeemLimitExceeded { currency: AssetCode, max: String },
    #[error("{0}")]
    PassExhausted(String),
    #[error("{0}")]
    PassExpired(String),
    #[error("receipt {0} was not found")]
    ReceiptNotFound(String),
    #[error("{0}")]
    ReturnExceedsReceipt(String),
    #[error("{0}")]
    ReceiptCancelled(String),
    #[error("coupon {0} is not known")]
    CouponUnknown(String),
    #[error("coupon {0} has been used")]
    CouponUsed(String),
    #[error("coupon {0} has expired or is not valid yet")]
    CouponExpired(String),
    #[error("coupon {0} does not apply to this receipt")]
    CouponNotApplicable(String),
    #[error("`at` ({at}) is {why}: this store takes receipts dated from {earliest} to {latest}")]
    TimeOutOfRange { at: Timestamp, why: &'static str, earliest: Timestamp, latest: Timestamp },
}

/// A text field that breaks its rules refuses the operation it came with.
impl From<crate::text::TextError> for ReceiptError {
    fn from(e: crate::text::TextError) -> Self {
        ReceiptError::Invalid(e.to_string())
    }
}

impl ReceiptError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ReceiptError::Invalid(message.into())
    }

    /// A client's id for one call, named `field` in the refusal if it breaks the rules.
    pub fn client_id(field: &str, text: &str) -> Result<ClientOpId, ReceiptError> {
        ClientOpId::parse(text).map_err(|e| ReceiptError::invalid(format!("{field}: {e}")))
    }

    /// The stable error code of POS-API.md.
    pub fn code(&self) -> &'static str {
        match self {
            ReceiptError::Invalid(_) => "validation_failed",
            ReceiptError::UnknownCard(_) | ReceiptError::UnknownCustomer | ReceiptError::UnknownCode => "unknown_card",
            ReceiptError::CardBlocked(_) | ReceiptError::CardNotActive(_) => "card_blocked",
            ReceiptError::CardExpired(_) => "card_expired",
            ReceiptError::CardAlreadyActive(_) => "card_already_active",
            ReceiptError::WrongPin(_) => "wrong_pin",
            ReceiptError::TooManyAttempts(_) => "too_many_attempts",
            ReceiptError::InsufficientFunds { .. } => "insufficient_funds",
            ReceiptError::BelowMinimumRedeem { .. } => "below_minimum_redeem",
            ReceiptError::RedeemLimitExceeded { .. } => "redeem_limit_exceeded",
            ReceiptError::PassExhausted(_) => "pass_exhausted",
            ReceiptError::PassExpired(_) => "pass_expired",
            ReceiptError::ReceiptNotFound(_) => "receipt_not_found",
            ReceiptError::ReturnExceedsReceipt(_) => "return_exceeds_receipt",
            ReceiptError::ReceiptCancelled(_) => "receipt_cancelled",
            ReceiptError::CouponUnknown(_) => "coupon_unknown",
            ReceiptError::CouponUsed(_) => "coupon_used",
            ReceiptError::CouponExpired(_) => "coupon_expired",
            ReceiptError::CouponNotApplicable(_) => "coupon_not_applicable",
            ReceiptError::TimeOutOfRange { .. } => "receipt_time_out_of_range",
        }
    }
}

// ---- time window ----------------------------------------------------------------------

/// How many days back a store takes receipts by default (offline uploads included).
pub const DEFAULT_OFFLINE_DAYS: u32 = 30;
/// How far ahead of the server's clock a POS clock may run.
pub const CLOCK_SKEW_AHEAD: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// When a store's receipts may be dated: not before the store existed, not older than
/// its offline policy allows, and not ahead of the server's clock by more than
/// [`CLOCK_SKEW_AHEAD`]. A receipt from year 1 or 1970 is a broken POS clock, and
/// would be computed with rules that never applied to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePolicy {
    /// When the store was first configured; `None`: no lower bound from it.
    pub opened_at: Option<Timestamp>,
    /// How many days back a receipt may be dated (the store's `offline_days`).
    pub offline_days: u32,
}

impl Default for TimePolicy {
    fn default() -> Self {
        TimePolicy { opened_at: None, offline_days: DEFAULT_OFFLINE_DAYS }
    }
}

impl TimePolicy {
    /// Refuses `at` outside the window, saying which bound it broke.
    pub fn check(&self, at: Timestamp, now: Timestamp) -> Result<(), ReceiptError> {
        let by_age = now - jiff::SignedDuration::from_hours(24 * i64::from(self.offline_days));
        let earliest = self.opened_at.map_or(by_age, |o| o.max(by_age));
        let latest = now + CLOCK_SKEW_AHEAD;
        let why = if at > latest {
            "more than an hour ahead of the server's clock"
        } else if self.opened_at.is_some_and(|o| at < o) {
            "before the store was configured"
        } else if at < by_age {
            "older than the store's offline policy allows"
        } else {
            return Ok(());
        };
        Err(ReceiptError::TimeOutOfRange { at, why, earliest, latest })
    }
}

// ---- context ------------------------------------------------------------------------

/// The store a receipt is made in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreContext {
    pub id: StoreCode,
    pub format: Option<StoreCode>,
    pub partner: Option<StoreCode>,
    pub timezone: TimeZoneName,
    pub currency: AssetCode,
    pub scale: Scale,
}

impl StoreContext {
    /// The context of a configured store whose currency has `scale`.
    pub fn of(spec: &crate::org::StoreSpec, scale: Scale) -> StoreContext {
        StoreContext {
            id: spec.id.clone(),
            format: spec.format.clone(),
            partner: spec.partner.clone(),
            timezone: spec.timezone.clone(),
            currency: spec.currency.clone(),
            scale,
        }
    }
}

/// A balance as the engine sees it, in minor units of its currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BalanceView {
    pub available: i64,
    /// Earned, not yet spendable.
    pub pending: i64,
}

/// The identified customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerContext {
    pub id: i64,
    /// The card they were identified by, if any.
    pub card: Option<String>,
    /// That card's series.
    pub card_series: Option<String>,
    /// Counter values at the receipt's time (money counters in store money).
    pub counters: BTreeMap<String, Decimal>,
    pub birth_date: Option<jiff::civil::Date>,
    /// Profile fields ([`crate::profile`]).
    pub profile: BTreeMap<String, String>,
    pub balances: BTreeMap<AssetCode, BalanceView>,
}

/// Uses, value given and promotional items counted so far for one usage key and
/// period (see `engine::usage_keys`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageRow {
    pub uses: i64,
    /// Store minor units.
    pub value: i64,
    /// Thousandths of an item.
    pub items: i64,
}

/// A coupon named on the receipt, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponContext {
    /// As typed, normalized.
    pub code: String,
    pub series: StoreCode,
    /// A personal coupon's owner.
    pub issued_to: Option<i64>,
    /// A generated coupon's own end of validity.
    pub valid_until: Option<Timestamp>,
    /// Voided by an operator.
    pub void: bool,
}

/// A gift card named on the receipt, its PIN already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCardContext {
    pub number: String,
    pub currency: AssetCode,
    pub state: CardState,
    pub valid_until: Option<Timestamp>,
    pub single_use: bool,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub store: StoreContext,
    pub customer: Option<CustomerContext>,
    pub gift_cards: Vec<GiftCardContext>,
    /// The coupons of the receipt that exist (unknown ones are absent).
    pub coupons: Vec<CouponContext>,
    /// Usage so far, by (key, period), for the keys `engine::usage_keys` names.
    pub usage: BTreeMap<(String, String), UsageRow>,
}

impl Context {
    pub fn new(store: StoreContext, customer: Option<CustomerContext>) -> Self {
        Context { store, customer, gift_cards: Vec::new(), coupons: Vec::new(), usage: BTreeMap::new() }
    }
}

// ---- calculation ----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AppliedKind {
    Discount,
    Redemption,
    Accrual,
}

/// One thing that happened to a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The campaign, or for a redemption the currency's code (shared: a receipt
    /// names the same campaign on many lines).
    pub campaign: std::sync::Arc<str>,
    pub kind: AppliedKind,
    /// For redemptions and accruals: the currency.
    pub currency: Option<AssetCode>,
    /// Discounts and redemption values: store minor units; accruals: currency minor units.
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineCalc {
    pub line: u32,
    pub qty: Decimal,
    pub amount: i64,
    pub discount: i64,
    pub redeemed_value: i64,
    pub final_amount: i64,
    pub applied: Vec<Applied>,
    /// Units taken by each redemption (same order as [`Calculation::redeemed`]).
    pub redeemed_units: Vec<i64>,
    /// Units given by each accrual (same order as [`Calculation::accrued`]).
    pub accrued_units: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedCalc {
    pub currency: AssetCode,
    pub units: i64,
    /// Store minor units.
    pub value: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCalc {
    pub number: String,
    pub amount: i64,
    pub balance_after: i64,
    /// A single-use card's remainder, burned as breakage.
    pub burned: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccrualCalc {
    pub currency: AssetCode,
    pub units: i64,
    pub campaign: StoreCode,
    pub terms: LotTerms,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Messages {
    pub slip: Vec<String>,
    pub cashier: Vec<String>,
    pub display: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceCalc {
    pub currency: AssetCode,
    pub available: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CouponStatus {
    Applied,
    Rejected,
}

/// What became of a coupon named on the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponCalc {
    pub code: String,
    pub status: CouponStatus,
    /// For a rejected coupon: the error code it would refuse a commit with.
    pub reason: Option<ReceiptError>,
    pub series: Option<StoreCode>,
    /// Store minor units.
    pub discount: i64,
}

/// A coupon a campaign issues (its code is generated when the receipt is committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCalc {
    pub series: StoreCode,
    pub campaign: String,
}

/// A non-monetary gift a campaign gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GiftItem {
    pub gift: String,
    pub campaign: String,
}

/// What committing the receipt adds to one usage counter, and the most it may reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCharge {
    pub key: String,
    pub period: String,
    pub uses: i64,
    pub value: i64,
    pub items: i64,
    pub max_uses: Option<i64>,
    pub max_value: Option<i64>,
    pub max_items: Option<i64>,
}

/// Units of one currency turned into another ("10 points become 1.00").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionCalc {
    pub from: AssetCode,
    pub to: AssetCode,
    pub taken: i64,
    pub given: i64,
}

/// The engine's result: every amount, per receipt and per line, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calculation {
    pub total: i64,
    pub discount: i64,
    pub redeemed_value: i64,
    pub gift_card_value: i64,
    pub to_pay: i64,
    pub lines: Vec<LineCalc>,
    pub redeemed: Vec<RedeemedCalc>,
    pub gift_cards: Vec<GiftCalc>,
    pub accrued: Vec<AccrualCalc>,
    pub messages: Messages,
    pub balances: Vec<BalanceCalc>,
    pub coupons: Vec<CouponCalc>,
    pub issued_coupons: Vec<IssueCalc>,
    pub gifts: Vec<GiftItem>,
    /// Usage the commit must consume (limits and budgets, coupon uses).
    pub charges: Vec<UsageCharge>,
    pub conversions: Vec<ConversionCalc>,
    /// The customer's level on the first tier ladder.
    pub tier: Option<String>,
    /// The campaigns that applied, in order.
    pub campaigns: Vec<StoreCode>,
}

// ---- response -----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerInfo {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    pub tier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppliedOut {
    pub campaign: String,
    pub kind: AppliedKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub currency: Option<AssetCode>,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineOut {
    pub line: u32,
    pub amount: String,
    pub discount: String,
    pub redeemed_value: String,
    pub final_amount: String,
    pub applied: Vec<AppliedOut>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedeemedOut {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: AssetCode,
    pub amount: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GiftOut {
    pub number: String,
    pub amount: String,
    pub balance_after: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burned: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccruedOut {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: AssetCode,
    pub amount: String,
    pub campaign: String,
    pub available_at: String,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BalanceOut {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: AssetCode,
    pub available: String,
    pub pending: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CouponOut {
    pub code: String,
    /// `applied` or `rejected`.
    pub status: CouponStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<String>,
}

/// A coupon issued by the receipt, for the slip. `code` is absent in a calculation (it
/// is generated at commit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedCouponOut {
    pub series: String,
    pub campaign: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
}

/// The response of calculate and commit, as POS-API.md defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptResponse {
    pub receipt_id: String,
    pub customer: Option<CustomerInfo>,
    pub total: String,
    pub discount: String,
    pub redeemed_value: String,
    pub gift_card_value: String,
    pub to_pay: String,
    pub lines: Vec<LineOut>,
    pub redeemed: Vec<RedeemedOut>,
    pub gift_cards: Vec<GiftOut>,
    pub accrued: Vec<AccruedOut>,
    pub coupons: Vec<CouponOut>,
    pub issued_coupons: Vec<IssuedCouponOut>,
    pub gifts: Vec<GiftItem>,
    pub messages: Messages,
    pub balances: Vec<BalanceOut>,
    /// Commit only: `committed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Commit only: the server's id of the committed receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The configuration version the receipt was computed with.
    pub config_version: i64,
}

/// RFC 3339 with the store's offset at that moment: `2026-11-24T10:15:00+02:00`.
pub fn format_time(t: Timestamp, tz: &TimeZoneName) -> String {
    let zone = tz.zone();
    let offset = zone.to_offset(t);
    t.display_with_offset(offset).to_string()
}

/// Customer ids on the wire: `c_42`.
pub fn customer_wire_id(id: i64) -> String {
    format!("c_{id}")
}

impl Calculation {
    /// Renders the response; `scale_of` gives each currency's scale.
    pub fn response(
        &self,
        receipt_id: &str,
        customer: Option<&CustomerContext>,
        store: &StoreContext,
        scale_of: &dyn Fn(&AssetCode) -> Scale,
        config_version: i64,
        at: Timestamp,
    ) -> ReceiptResponse {
        let money = |m: i64| Minor::new(m, store.scale).to_string();
        let units = |c: &AssetCode, m: i64| Minor::new(m, scale_of(c)).to_string();
        ReceiptResponse {
            receipt_id: receipt_id.to_owned(),
            customer: customer.map(|c| CustomerInfo { id: customer_wire_id(c.id), card: c.card.clone(), tier: self.tier.clone() }),
            total: money(self.total),
            discount: money(self.discount),
            redeemed_value: money(self.redeemed_value),
            gift_card_value: money(self.gift_card_value),
            to_pay: money(self.to_pay),
            lines: self
                .lines
                .iter()
                .map(|l| LineOut {
                    line: l.line,
                    amount: money(l.amount),
                    discount: money(l.discount),
                    redeemed_value: money(l.redeemed_value),
                    final_amount: money(l.final_amount),
                    applied: l
                        .applied
                        .iter()
                        .map(|a| AppliedOut {
                            campaign: a.campaign.to_string(),
                            kind: a.kind,
                            currency: a.currency.clone(),
                            amount: match (a.kind, &a.currency) {
                                (AppliedKind::Accrual, Some(c)) => units(c, a.amount),
                                _ => money(a.amount),
                            },
                        })
                        .collect(),
                })
                .collect(),
            redeemed: self
                .redeemed
                .iter()
                .map(|r| RedeemedOut { currency: r.currency.clone(), amount: units(&r.currency, r.units), value: money(r.value) })
                .collect(),
            gift_cards: self
                .gift_cards
                .iter()
                .map(|g| GiftOut {
                    number: g.number.clone(),
                    amount: money(g.amount),
                    balance_after: money(g.balance_after),
                    burned: (g.burned > 0).then(|| money(g.burned)),
                })
                .collect(),
            accrued: self
                .accrued
                .iter()
                .map(|a| AccruedOut {
                    currency: a.currency.clone(),
                    amount: units(&a.currency, a.units),
                    campaign: a.campaign.to_string(),
                    available_at: format_time(a.terms.available_at.unwrap_or(at), &store.timezone),
                    expires_at: a.terms.expires_at.map(|e| format_time(e, &store.timezone)),
                })
                .collect(),
            coupons: self
                .coupons
                .iter()
                .map(|c| CouponOut {
                    code: c.code.clone(),
                    status: c.status,
                    reason: c.reason.as_ref().map(|r| r.code().trim_start_matches("coupon_").to_owned()),
                    discount: (c.status == CouponStatus::Applied).then(|| money(c.discount)),
                })
                .collect(),
            issued_coupons: self
                .issued_coupons
                .iter()
                .map(|i| IssuedCouponOut { series: i.series.to_string(), campaign: i.campaign.clone(), code: None, valid_until: None })
                .collect(),
            gifts: self.gifts.clone(),
            messages: self.messages.clone(),
            balances: self
                .balances
                .iter()
                .map(|b| BalanceOut {
                    currency: b.currency.clone(),
                    available: units(&b.currency, b.available),
                    pending: units(&b.currency, b.pending),
                })
                .collect(),
            status: None,
            transaction_id: None,
            config_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Result<ReceiptRequest, serde_json::Error> {
        serde_json::from_value(json)
    }

    #[test]
    fn the_pos_api_example_parses_with_exact_amounts() {
        let r = request(serde_json::json!({
            "receipt_id": "0001-000123",
            "at": "2026-11-24T10:15:00+02:00",
            "customer": {"card": "2770000000017"},
            "lines": [
                {"line": 1, "sku": "A100", "groups": ["dairy", "milk"], "qty": "2", "price": "3.50", "amount": "7.00"},
                {"line": 2, "sku": "T900", "groups": ["tobacco"], "qty": "1", "price": "5.00", "amount": "5.00"}
            ],
            "redeem": [{"currency": "bonus", "amount": "max"}],
            "gift_cards": [{"number": "6000000000019", "pin": "1234", "amount": "5.00"}],
            "coupons": ["WELCOME10"]
        }))
        .unwrap();
        let parsed = r.parse(Scale::CENTS, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(parsed.lines[0].amount, 700);
        assert_eq!(parsed.gift_cards[0].amount, 500);
        assert_eq!(parsed.redeem[0].amount, RedeemAmount::Max);
        assert_eq!(parsed.customer, Some(Identify::Card("2770000000017".into())));
        assert_eq!(parsed.at.to_string(), "2026-11-24T08:15:00Z");
    }

    #[test]
    fn amounts_sent_as_json_numbers_are_refused() {
        let err = request(serde_json::json!({
            "receipt_id": "1", "lines": [{"line": 1, "sku": "A", "qty": "1", "amount": 7.0}]
        }))
        .unwrap_err();
        assert!(err.to_string().contains("decimal strings"), "{err}");
    }

    #[test]
    fn wire_rules_are_checked_with_a_reason() {
        let base = |lines: serde_json::Value| {
            request(serde_json::json!({"receipt_id": "1", "lines": lines})).unwrap().parse(Scale::CENTS, Timestamp::UNIX_EPOCH)
        };
        let cases = [
            (serde_json::json!([]), "1 to 1000 lines"),
            (serde_json::json!([{"line": 1, "sku": "A", "qty": "1", "amount": "1.005"}]), "more than 2 decimal"),
            (serde_json::json!([{"line": 1, "sku": "A", "qty": "0", "amount": "1"}]), "qty"),
            (serde_json::json!([{"line": 1, "sku": "A", "qty": "1", "amount": "-1"}]), "negative"),
            (serde_json::json!([{"line": 1, "sku": "", "qty": "1", "amount": "1"}]), "sku"),
            (
                serde_json::json!([{"line": 1, "sku": "A", "qty": "1", "amount": "1"}, {"line": 1, "sku": "B", "qty": "1", "amount": "1"}]),
                "twice",
            ),
        ];
        for (lines, expected) in cases {
            let err = base(lines.clone()).unwrap_err();
            assert_eq!(err.code(), "validation_failed");
            assert!(err.to_string().contains(expected), "{lines}: {err}");
        }
    }

    #[test]
    fn a_customer_is_named_by_exactly_one_reference() {
        let both = CustomerRef { card: Some("1".into()), phone: Some("+37120000000".into()), code: None };
        assert!(both.identify().is_err());
        let phone = CustomerRef { phone: Some("+371 2000-0000".into()), ..CustomerRef::default() };
        assert_eq!(phone.identify().unwrap(), Identify::Phone("+37120000000".into()));
        assert!(CustomerRef { phone: Some("20000000".into()), ..CustomerRef::default() }.identify().is_err());
    }

    #[test]
    fn times_render_in_the_store_offset() {
        let t: Timestamp = "2026-11-24T08:15:00Z".parse().unwrap();
        assert_eq!(format_time(t, &TimeZoneName::parse("Europe/Riga").unwrap()), "2026-11-24T10:15:00+02:00");
    }
}
