//! What the engine produces: [`Calculation`], every amount per receipt and per line in
//! minor units, with what committing it adds to usage counters.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ReceiptError;
use crate::ids::{AssetCode, ConfigCode};
use crate::ledger::LotTerms;

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
    /// Discounts and redemptions, in the order they were made; the accruals are in
    /// `accrued_units` ([`LineCalc::applied_all`] gives both).
    pub applied: Vec<Applied>,
    /// Units taken by each redemption (same order as [`Calculation::redeemed`]).
    pub redeemed_units: Vec<i64>,
    /// Units given by each accrual (same order as [`Calculation::accrued`]).
    pub accrued_units: Vec<i64>,
}

impl LineCalc {
    /// Everything that happened to the line: its discounts and redemptions, then an
    /// accrual for each of `accrued` that gave it units.
    pub fn applied_all<'a>(&'a self, accrued: &'a [AccrualCalc]) -> impl Iterator<Item = AppliedRef<'a>> + 'a {
        let made = self.applied.iter().map(|a| AppliedRef { campaign: &a.campaign, kind: a.kind, currency: a.currency.as_ref(), amount: a.amount });
        let accruals = accrued.iter().zip(&self.accrued_units).filter(|(_, u)| **u > 0).map(|(a, &u)| AppliedRef {
            campaign: a.campaign.as_str(),
            kind: AppliedKind::Accrual,
            currency: Some(&a.currency),
            amount: u,
        });
        made.chain(accruals)
    }
}

/// One thing that happened to a line, borrowed ([`LineCalc::applied_all`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedRef<'a> {
    pub campaign: &'a str,
    pub kind: AppliedKind,
    pub currency: Option<&'a AssetCode>,
    pub amount: i64,
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
    pub campaign: ConfigCode,
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
    pub series: Option<ConfigCode>,
    /// Store minor units.
    pub discount: i64,
}

/// A coupon a campaign issues (its code is generated when the receipt is committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCalc {
    pub series: ConfigCode,
    pub campaign: String,
}

/// A non-monetary gift a campaign gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GiftItem {
    pub gift: String,
    pub campaign: String,
}

/// A reward product the POS should add to the receipt: a multi-buy gives `quantity`
/// more units of `sku` free than the receipt holds. Once added (and calculated again),
/// the line is discounted like the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductToAdd {
    pub sku: String,
    /// Whole units, as a decimal string.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub quantity: rust_decimal::Decimal,
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
    /// Reward products the receipt lacks.
    pub add_products: Vec<ProductToAdd>,
    /// Usage the commit must consume (limits and budgets, coupon uses).
    pub charges: Vec<UsageCharge>,
    pub conversions: Vec<ConversionCalc>,
    /// The customer's level on the first tier ladder.
    pub tier: Option<String>,
    /// The campaigns that applied, in order.
    pub campaigns: Vec<ConfigCode>,
    /// The campaigns with a control group the customer qualified for, and whether the
    /// customer is held out of each (then it gave nothing).
    pub control: Vec<ControlCalc>,
}

/// A customer's group in a campaign with a control group, on a receipt that qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlCalc {
    pub campaign: ConfigCode,
    pub held_out: bool,
}
