//! Gift cards: whether a card may be sold (activated) for an amount, and what the sale
//! loads onto it, decided before anything is written. Paying with a gift card is part
//! of a receipt ([`crate::engine`]).

use rust_decimal::Decimal;

use crate::cards::{Card, CardState};
use crate::ids::AssetCode;
use crate::money::{self, Scale};
use crate::program::{CardSeriesSpec, Dec};
use crate::receipt::ReceiptError;
use crate::time::{Timestamp, valid_until};

/// An activation as planned: the amount loaded (minor units), its currency and the end
/// of the card's validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub amount: i64,
    pub currency: AssetCode,
    pub valid_until: Option<Timestamp>,
}

/// Plans selling `card` (of series `spec`, `None` if the series is no longer
/// configured) for `amount` at a store that sells in `currency` with `scale`, at `now`.
pub fn plan_activation(
    card: &Card,
    spec: Option<&CardSeriesSpec>,
    currency: &AssetCode,
    scale: Scale,
    amount: Decimal,
    now: Timestamp,
) -> Result<Activation, ReceiptError> {
    let number = &card.number;
    card.check_gift()?;
    match card.state {
        CardState::Issued => {}
        CardState::Active => return Err(ReceiptError::CardAlreadyActive(number.clone())),
        CardState::Blocked => return Err(ReceiptError::CardBlocked(number.clone())),
        CardState::Expired => return Err(ReceiptError::CardExpired(number.clone())),
    }
    let spec = spec.ok_or_else(|| ReceiptError::invalid(format!("card series {} is not configured", card.series)))?;
    let held = spec.currency.clone().ok_or_else(|| ReceiptError::invalid("the gift series has no currency"))?;
    if held != *currency {
        return Err(ReceiptError::invalid(format!("gift card {number} holds {held}; this store sells in {currency}")));
    }
    let amount = money::to_minor_exact(amount, scale).map_err(|e| ReceiptError::invalid(format!("amount: {e}")))?;
    if !sold_for(spec, amount, scale) {
        return Err(ReceiptError::invalid(format!("series {} is sold for amounts {}", card.series, amount_rule(spec))));
    }
    Ok(Activation { amount, currency: held, valid_until: valid_until(now, spec.validity_days) })
}

/// Whether a series is sold for `amount` (minor units): one of its nominals, or within
/// its range (from one minor unit up, by default).
fn sold_for(spec: &CardSeriesSpec, amount: i64, scale: Scale) -> bool {
    // A bound finer than the currency's scale matches no amount.
    let as_minor = |d: Dec| money::to_minor_exact(d.0, scale).unwrap_or(-1);
    let allowed = if spec.nominals.is_empty() {
        let (lo, hi) = (spec.amount_min.map(as_minor).unwrap_or(1), spec.amount_max.map(as_minor).unwrap_or(i64::MAX));
        (lo..=hi).contains(&amount)
    } else {
        spec.nominals.iter().any(|n| as_minor(*n) == amount)
    };
    allowed && amount > 0
}

/// The amounts a series is sold for, as a refusal states them.
fn amount_rule(spec: &CardSeriesSpec) -> String {
    if spec.nominals.is_empty() {
        format!(
            "from {} to {}",
            spec.amount_min.map(|d| d.to_string()).unwrap_or_else(|| "0.01".into()),
            spec.amount_max.map(|d| d.to_string()).unwrap_or_else(|| "any".into())
        )
    } else {
        format!("one of {}", spec.nominals.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::tests::card;

    fn series(extra: serde_json::Value) -> CardSeriesSpec {
        let mut v = serde_json::json!({ "id": "gift", "kind": "gift", "currency": "EUR" });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn eur() -> AssetCode {
        AssetCode::parse("EUR").unwrap()
    }

    fn now() -> Timestamp {
        "2026-06-01T10:00:00Z".parse().unwrap()
    }

    fn plan(c: &crate::cards::Card, spec: Option<&CardSeriesSpec>, amount: &str) -> Result<Activation, ReceiptError> {
        plan_activation(c, spec, &eur(), Scale::CENTS, amount.parse().unwrap(), now())
    }

    #[test]
    fn an_issued_gift_card_is_sold_for_an_amount_of_its_range_with_its_validity() {
        let spec = series(serde_json::json!({ "amount_min": "5", "amount_max": "500", "validity_days": 365 }));
        let c = card(crate::program::CardKind::Gift, CardState::Issued);
        let a = plan(&c, Some(&spec), "25.50").unwrap();
        assert_eq!(a, Activation { amount: 2550, currency: eur(), valid_until: Some("2027-06-01T10:00:00Z".parse().unwrap()) });
        for (amount, ok) in [("5", true), ("500", true), ("4.99", false), ("500.01", false), ("0", false), ("-5", false)] {
            assert_eq!(plan(&c, Some(&spec), amount).is_ok(), ok, "{amount}");
        }
        let e = plan(&c, Some(&spec), "1").unwrap_err();
        assert_eq!(e.to_string(), "series s is sold for amounts from 5 to 500");
        assert!(plan(&c, Some(&spec), "10.001").unwrap_err().to_string().starts_with("amount:"), "finer than cents");
    }

    #[test]
    fn a_series_with_nominals_is_sold_for_those_only_and_without_bounds_from_one_cent() {
        let c = card(crate::program::CardKind::Gift, CardState::Issued);
        let fixed = series(serde_json::json!({ "nominals": ["10", "25", "50"] }));
        assert_eq!(plan(&c, Some(&fixed), "25").unwrap().amount, 2500);
        assert_eq!(plan(&c, Some(&fixed), "30").unwrap_err().to_string(), "series s is sold for amounts one of 10, 25, 50");
        let open = series(serde_json::json!({}));
        assert_eq!(plan(&c, Some(&open), "0.01").unwrap().amount, 1);
        assert_eq!(plan(&c, Some(&open), "0.01").unwrap().valid_until, None);
        assert_eq!(plan(&c, Some(&open), "0").unwrap_err().to_string(), "series s is sold for amounts from 0.01 to any");
    }

    #[test]
    fn only_an_issued_gift_card_of_a_configured_series_in_the_stores_currency_is_sold() {
        use crate::program::CardKind;
        let spec = series(serde_json::json!({}));
        let table = [
            (CardKind::Loyalty, CardState::Issued, "validation_failed"),
            (CardKind::Gift, CardState::Active, "card_already_active"),
            (CardKind::Gift, CardState::Blocked, "card_blocked"),
            (CardKind::Gift, CardState::Expired, "card_expired"),
        ];
        for (kind, state, code) in table {
            assert_eq!(plan(&card(kind, state), Some(&spec), "10").unwrap_err().code(), code, "{kind:?} {state:?}");
        }
        let c = card(CardKind::Gift, CardState::Issued);
        assert_eq!(plan(&c, None, "10").unwrap_err().to_string(), "card series s is not configured");
        let usd = series(serde_json::json!({ "currency": "USD" }));
        assert_eq!(plan(&c, Some(&usd), "10").unwrap_err().to_string(), "gift card 2770000000017 holds USD; this store sells in EUR");
    }
}
