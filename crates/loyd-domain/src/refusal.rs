//! [`ReceiptError`]: why a receipt or another POS operation is refused, and its stable
//! code ([`ReceiptError::code`], the one list the API maps to statuses). Every
//! capability's planner refuses with it; `receipt` re-exports it.

use jiff::Timestamp;

use crate::ids::{AssetCode, ClientOpId};
use crate::said::{self, Said};

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
    /// More than the currency may pay, or (with `step`) not a multiple of its step.
    #[error("at most {max} {currency} can pay this receipt{}", .step.as_ref().map(|s| format!(", in steps of {s}")).unwrap_or_default())]
    RedeemLimitExceeded { currency: AssetCode, max: String, step: Option<String> },
    /// A currency counted in another store currency, with no rate to this store's.
    #[error("{currency} is counted in {held_in} and this store takes {store}: no rate between them is configured")]
    CurrencyNotAccepted { currency: AssetCode, held_in: AssetCode, store: AssetCode },
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
    /// The coupon is valid but this receipt does not meet what it asks; `why` says what.
    #[error("coupon {code} does not apply to this receipt: {why}")]
    CouponNotApplicable { code: String, why: String },
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

    /// The card the refusal is about, if it names one (for the failure log).
    pub fn card(&self) -> Option<&str> {
        match self {
            Self::UnknownCard(c)
            | Self::CardBlocked(c)
            | Self::CardNotActive(c)
            | Self::CardExpired(c)
            | Self::CardAlreadyActive(c)
            | Self::WrongPin(c)
            | Self::TooManyAttempts(c) => Some(c),
            _ => None,
        }
    }

    /// What this says, by key ([`crate::said`]); `None` for refusals in free text.
    pub fn said(&self) -> Option<Said> {
        use ReceiptError as R;
        Some(match self {
            R::UnknownCard(c) => said::card_unknown(c),
            R::UnknownCustomer => said::customer_unknown(),
            R::UnknownCode => said::code_unknown(),
            R::CardBlocked(c) => said::card_blocked(c),
            R::CardExpired(c) => said::card_expired(c),
            R::CardNotActive(c) => said::card_not_active(c),
            R::CardAlreadyActive(c) => said::card_already_active(c),
            R::WrongPin(c) => said::wrong_pin(c),
            R::TooManyAttempts(c) => said::too_many_attempts(c),
            R::InsufficientFunds { what, available, requested } => said::insufficient_funds(what, available, requested),
            R::BelowMinimumRedeem { currency, minimum } => said::below_minimum_redeem(currency, minimum),
            R::RedeemLimitExceeded { currency, max, step: None } => said::redeem_limit(max, currency),
            R::RedeemLimitExceeded { currency, max, step: Some(step) } => said::redeem_limit_step(max, currency, step),
            R::CurrencyNotAccepted { currency, held_in, store } => said::currency_not_accepted(currency, held_in, store),
            R::ReceiptNotFound(r) => said::receipt_not_found(r),
            R::CouponUnknown(c) => said::coupon_unknown(c),
            R::CouponUsed(c) => said::coupon_used(c),
            R::CouponExpired(c) => said::coupon_expired(c),
            R::Invalid(_)
            | R::PassExhausted(_)
            | R::PassExpired(_)
            | R::ReturnExceedsReceipt(_)
            | R::ReceiptCancelled(_)
            | R::CouponNotApplicable { .. }
            | R::TimeOutOfRange { .. } => return None,
        })
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
            ReceiptError::CurrencyNotAccepted { .. } => "currency_not_accepted",
            ReceiptError::PassExhausted(_) => "pass_exhausted",
            ReceiptError::PassExpired(_) => "pass_expired",
            ReceiptError::ReceiptNotFound(_) => "receipt_not_found",
            ReceiptError::ReturnExceedsReceipt(_) => "return_exceeds_receipt",
            ReceiptError::ReceiptCancelled(_) => "receipt_cancelled",
            ReceiptError::CouponUnknown(_) => "coupon_unknown",
            ReceiptError::CouponUsed(_) => "coupon_used",
            ReceiptError::CouponExpired(_) => "coupon_expired",
            ReceiptError::CouponNotApplicable { .. } => "coupon_not_applicable",
            ReceiptError::TimeOutOfRange { .. } => "receipt_time_out_of_range",
        }
    }
}
