use jiff::Timestamp;

use super::*;
use crate::money::Scale;
use crate::org::TimeZoneName;

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
    let both = CustomerRef { card: Some("1".into()), phone: Some("+37120000000".into()), code: None, entry: None };
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
