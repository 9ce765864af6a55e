//! What the engine is given besides the receipt: the store, the identified customer
//! with balances, lots and counters, coupons, gift cards and usage counters.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rust_decimal::Decimal;

use crate::cards::CardState;
use crate::ids::{AssetCode, ConfigCode, StoreCode};
use crate::money::Scale;
use crate::org::TimeZoneName;

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
    /// Purchases, spending, RFM group and consents, as the aggregates last knew them.
    pub facts: crate::segments::Facts,
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
    pub series: ConfigCode,
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
