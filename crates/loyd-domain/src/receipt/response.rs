//! The response of calculate and commit ([`ReceiptResponse`]), rendered from a
//! [`Calculation`] with decimal strings and times in the store's offset.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{AppliedKind, Calculation, CouponStatus, CustomerContext, GiftItem, Messages, ProductToAdd, StoreContext};
use crate::ids::AssetCode;
use crate::money::{Minor, Scale};
use crate::org::TimeZoneName;

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
    /// A rejected coupon: what is wrong, in words (for `not_applicable`, the condition
    /// the receipt does not meet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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
    /// Reward products to add to the receipt (a multi-buy's free item that is missing).
    #[serde(default)]
    pub add_products: Vec<ProductToAdd>,
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
    /// The campaigns with a control group this receipt qualified for, and whether the
    /// customer is in the control group (`held_out`: the campaign gave nothing). For
    /// information: nothing for the POS to do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub control: Vec<ControlOut>,
}

/// The customer's group in one campaign with a control group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlOut {
    pub campaign: String,
    pub held_out: bool,
}

/// RFC 3339 with the store's offset at that moment: `2026-11-24T10:15:00+02:00`.
pub fn format_time(t: Timestamp, tz: &TimeZoneName) -> String {
    let zone = tz.zone();
    let offset = zone.to_offset(t);
    t.display_with_offset(offset).to_string()
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
            customer: customer.map(|c| CustomerInfo { id: crate::ids::CustomerId(c.id).to_string(), card: c.card.clone(), tier: self.tier.clone() }),
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
                        .applied_all(&self.accrued)
                        .map(|a| AppliedOut {
                            campaign: a.campaign.to_owned(),
                            kind: a.kind,
                            currency: a.currency.cloned(),
                            amount: match (a.kind, a.currency) {
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
                    message: c.reason.as_ref().map(ToString::to_string),
                    discount: (c.status == CouponStatus::Applied).then(|| money(c.discount)),
                })
                .collect(),
            issued_coupons: self
                .issued_coupons
                .iter()
                .map(|i| IssuedCouponOut { series: i.series.to_string(), campaign: i.campaign.clone(), code: None, valid_until: None })
                .collect(),
            gifts: self.gifts.clone(),
            add_products: self.add_products.clone(),
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
            control: self.control.iter().map(|c| ControlOut { campaign: c.campaign.to_string(), held_out: c.held_out }).collect(),
        }
    }
}
