//! The engine on tables of receipts: no database, no server.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::config::ConfigDocument;
use crate::ids::StoreCode;
use crate::org::TimeZoneName;
use crate::receipt::{CustomerContext, GiftCardContext, Identify, ReceiptRequest, StoreContext};

fn program(doc: serde_json::Value) -> Program {
    let doc: ConfigDocument = serde_json::from_value(doc).expect("test document parses");
    Program::compile(&doc, 1).expect("test program compiles")
}

fn store(format: &str) -> StoreContext {
    StoreContext {
        id: StoreCode::parse("s1").unwrap(),
        format: Some(StoreCode::parse(format).unwrap()),
        timezone: TimeZoneName::parse("Europe/Riga").unwrap(),
        currency: AssetCode::parse("EUR").unwrap(),
        scale: Scale::CENTS,
        partner: None,
    }
}

fn customer(balances: &[(&str, i64)]) -> CustomerContext {
    CustomerContext {
        id: 7,
        card: Some("2770000000017".into()),
        balances: balances
            .iter()
            .map(|(c, a)| (AssetCode::parse(*c).unwrap(), BalanceView { available: *a, pending: 0 }))
            .collect::<BTreeMap<_, _>>(),
        ..CustomerContext::default()
    }
}

fn ctx(customer: Option<CustomerContext>) -> Context {
    Context::new(store("supermarket"), customer)
}

fn receipt(at: &str, lines: serde_json::Value, redeem: serde_json::Value) -> Receipt {
    let req: ReceiptRequest = serde_json::from_value(json!({
        "receipt_id": "r1", "at": at, "customer": {"card": "2770000000017"}, "lines": lines, "redeem": redeem
    }))
    .unwrap();
    req.parse(Scale::CENTS, jiff::Timestamp::UNIX_EPOCH).unwrap()
}

fn one_line(amount: &str) -> serde_json::Value {
    json!([{"line": 1, "sku": "X", "groups": ["misc"], "qty": "1", "amount": amount}])
}

fn accrued_units(c: &Calculation, currency: &str) -> i64 {
    c.accrued.iter().filter(|a| a.currency.as_str() == currency).map(|a| a.units).sum()
}

fn s1() -> Program {
    program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}, {"code": "bonus", "kind": "points", "scale": 0}],
        "campaigns": [{"id": "step-bonus", "min_total": "5.00",
                       "rewards": [{"type": "accrue", "currency": "bonus", "step": "5.00", "units": "1"}]}]
    }))
}

#[test]
fn s1_one_point_per_whole_five_euros() {
    let p = s1();
    for (amount, expected) in [("7.00", 1), ("17.50", 3), ("4.99", 0), ("5.00", 1), ("20.00", 4)] {
        let r = receipt("2026-03-03T12:00:00+02:00", one_line(amount), json!([]));
        let c = calculate(&r, &ctx(Some(customer(&[]))), &p).unwrap();
        assert_eq!(accrued_units(&c, "bonus"), expected, "receipt {amount}");
    }
}

#[test]
fn an_anonymous_receipt_earns_nothing() {
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("17.50"), json!([]));
    let c = calculate(&r, &ctx(None), &s1()).unwrap();
    assert!(c.accrued.is_empty());
    assert_eq!(c.to_pay, 1750);
}

fn s5() -> Program {
    program(json!({
        "currencies": [
            {"code": "EUR", "kind": "money", "scale": 2},
            {"code": "bonus", "kind": "points", "scale": 0, "value": "0.10",
             "redeem": {"min_balance": 100, "max_share": "0.30", "exclude_groups": ["tobacco"]}}
        ],
        "campaigns": [{"id": "points", "rewards": [{
            "type": "accrue", "currency": "bonus", "per": "1.00", "units": "1",
            "exceptions": [{"groups": ["dairy"], "per": "1.00", "units": "2"}, {"groups": ["tobacco"], "fixed": "0"}]
        }]}]
    }))
}

fn s5_lines() -> serde_json::Value {
    json!([
        {"line": 1, "sku": "MILK", "groups": ["dairy"], "qty": "1", "amount": "10.00"},
        {"line": 2, "sku": "BREAD", "groups": ["misc"], "qty": "1", "amount": "20.00"},
        {"line": 3, "sku": "CIGS", "groups": ["tobacco"], "qty": "1", "amount": "5.00"}
    ])
}

#[test]
fn s5_exceptions_earn_their_own_rates() {
    let r = receipt("2026-03-03T12:00:00+02:00", s5_lines(), json!([]));
    let c = calculate(&r, &ctx(Some(customer(&[("bonus", 0)]))), &s5()).unwrap();
    assert_eq!(accrued_units(&c, "bonus"), 40);
    let per_line: Vec<i64> = c.lines.iter().map(|l| l.accrued_units[0]).collect();
    assert_eq!(per_line, vec![20, 20, 0]);
}

#[test]
fn s5_redeem_max_pays_thirty_percent_of_the_payable_lines_and_shrinks_the_base() {
    let r = receipt("2026-03-03T12:00:00+02:00", s5_lines(), json!([{"currency": "bonus", "amount": "max"}]));
    let c = calculate(&r, &ctx(Some(customer(&[("bonus", 500)]))), &s5()).unwrap();
    assert_eq!(c.redeemed[0].units, 90);
    assert_eq!(c.redeemed[0].value, 900);
    let values: Vec<i64> = c.lines.iter().map(|l| l.redeemed_value).collect();
    assert_eq!(values, vec![300, 600, 0]);
    assert_eq!(accrued_units(&c, "bonus"), 28);
    assert_eq!((c.total, c.redeemed_value, c.to_pay), (3500, 900, 2600));
    // 500 − 90 + 28 points after the receipt.
    assert_eq!(c.balances[0].available, 438);
}

#[test]
fn redemption_rules_refuse_with_their_own_codes() {
    let p = s5();
    let r = receipt("2026-03-03T12:00:00+02:00", s5_lines(), json!([{"currency": "bonus", "amount": "max"}]));
    let err = calculate(&r, &ctx(Some(customer(&[("bonus", 99)]))), &p).unwrap_err();
    assert_eq!(err.code(), "below_minimum_redeem");
    let r = receipt("2026-03-03T12:00:00+02:00", s5_lines(), json!([{"currency": "bonus", "amount": "91"}]));
    let err = calculate(&r, &ctx(Some(customer(&[("bonus", 500)]))), &p).unwrap_err();
    assert_eq!(err.code(), "redeem_limit_exceeded");
    let r = receipt("2026-03-03T12:00:00+02:00", s5_lines(), json!([{"currency": "bonus", "amount": "600"}]));
    let err = calculate(&r, &ctx(Some(customer(&[("bonus", 500)]))), &p).unwrap_err();
    assert_eq!(err.code(), "insufficient_funds");
    let r = receipt("2026-03-03T12:00:00+02:00", s5_lines(), json!([{"currency": "EUR", "amount": "1"}]));
    assert_eq!(calculate(&r, &ctx(Some(customer(&[]))), &p).unwrap_err().code(), "validation_failed");
}

fn s6() -> Program {
    program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}, {"code": "bonus", "kind": "points", "scale": 0}],
        "campaigns": [{"id": "half-percent", "customers_only": true, "exclude_formats": ["discounter"],
                       "from": "2026-01-01T00:00:00+02:00", "below_total": "1000.00",
                       "rewards": [{"type": "accrue", "currency": "bonus", "percent": "0.5"}],
                       "messages": {"slip": ["Накопительная бонусная схема в зависимости от суммы чека."]}}]
    }))
}

#[test]
fn s6_half_a_percent_below_a_thousand_outside_discounters_with_a_slip_message() {
    let p = s6();
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("800.00"), json!([]));
    let c = calculate(&r, &ctx(Some(customer(&[]))), &p).unwrap();
    assert_eq!(accrued_units(&c, "bonus"), 4);
    assert_eq!(c.messages.slip, vec!["Накопительная бонусная схема в зависимости от суммы чека.".to_string()]);
    let big = receipt("2026-03-03T12:00:00+02:00", one_line("1200.00"), json!([]));
    assert!(calculate(&big, &ctx(Some(customer(&[]))), &p).unwrap().accrued.is_empty());
    let mut discounter = ctx(Some(customer(&[])));
    discounter.store = store("discounter");
    assert!(calculate(&r, &discounter, &p).unwrap().accrued.is_empty());
    let early = receipt("2025-12-31T12:00:00+02:00", one_line("800.00"), json!([]));
    assert!(calculate(&early, &ctx(Some(customer(&[]))), &p).unwrap().accrued.is_empty());
}

#[test]
fn percent_discounts_never_take_a_line_below_zero_and_lines_sum_to_totals() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [
            {"id": "a", "priority": 2, "rewards": [{"type": "discount", "percent": "60"}]},
            {"id": "b", "priority": 1, "rewards": [{"type": "discount", "percent": "100"}]},
            {"id": "c", "rewards": [{"type": "discount", "amount": "1.00", "groups": ["dairy"]}]}
        ]
    }));
    let r = receipt(
        "2026-03-03T12:00:00+02:00",
        json!([{"line": 1, "sku": "A", "groups": ["dairy"], "qty": "1", "amount": "3.33"},
               {"line": 2, "sku": "B", "qty": "3", "amount": "0.01"}]),
        json!([]),
    );
    let c = calculate(&r, &ctx(None), &p).unwrap();
    assert_eq!(c.to_pay, 0);
    assert!(c.lines.iter().all(|l| l.final_amount == 0));
    assert_eq!(c.lines.iter().map(|l| l.discount).sum::<i64>(), c.discount);
}

fn gift(number: &str, available: i64, single_use: bool) -> GiftCardContext {
    GiftCardContext {
        number: number.into(),
        currency: AssetCode::parse("EUR").unwrap(),
        state: crate::cards::CardState::Active,
        valid_until: None,
        single_use,
        available,
    }
}

fn with_gift_cards(cards: serde_json::Value) -> Receipt {
    let req: ReceiptRequest = serde_json::from_value(json!({
        "receipt_id": "r1", "at": "2026-03-03T12:00:00+02:00", "lines": one_line("12.00"), "gift_cards": cards
    }))
    .unwrap();
    req.parse(Scale::CENTS, jiff::Timestamp::UNIX_EPOCH).unwrap()
}

#[test]
fn gift_cards_pay_the_receipt_and_a_single_use_card_burns_its_rest() {
    let p = s1();
    let mut cx = ctx(None);
    cx.gift_cards = vec![gift("GC1", 2000, false), gift("GC2", 2000, true)];
    let r = with_gift_cards(json!([{"number": "GC1", "amount": "5.00"}, {"number": "GC2", "amount": "7.00"}]));
    let c = calculate(&r, &cx, &p).unwrap();
    assert_eq!((c.gift_card_value, c.to_pay), (1200, 0));
    assert_eq!((c.gift_cards[0].balance_after, c.gift_cards[0].burned), (1500, 0));
    assert_eq!((c.gift_cards[1].balance_after, c.gift_cards[1].burned), (0, 1300));
    let too_much = with_gift_cards(json!([{"number": "GC1", "amount": "20.01"}]));
    assert_eq!(calculate(&too_much, &cx, &p).unwrap_err().code(), "insufficient_funds");
    cx.gift_cards[0].state = crate::cards::CardState::Blocked;
    let r = with_gift_cards(json!([{"number": "GC1", "amount": "1.00"}]));
    assert_eq!(calculate(&r, &cx, &p).unwrap_err().code(), "card_blocked");
}

#[test]
fn gift_cards_cannot_pay_more_than_is_due() {
    let mut cx = ctx(None);
    cx.gift_cards = vec![gift("GC1", 5000, false)];
    let r = with_gift_cards(json!([{"number": "GC1", "amount": "12.01"}]));
    assert_eq!(calculate(&r, &cx, &s1()).unwrap_err().code(), "validation_failed");
}

#[test]
fn delayed_accruals_count_as_pending_in_the_balances_after() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2},
                       {"code": "bonus", "kind": "points", "scale": 0, "activation_days": 14, "lifetime": {"months": 12}}],
        "campaigns": [{"id": "pct", "rewards": [{"type": "accrue", "currency": "bonus", "percent": "10"}]}]
    }));
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("30.00"), json!([]));
    let c = calculate(&r, &ctx(Some(customer(&[("bonus", 5)]))), &p).unwrap();
    assert_eq!((c.balances[0].available, c.balances[0].pending), (5, 3));
    assert_eq!(c.accrued[0].terms.available_at.unwrap().to_string(), "2026-03-17T10:00:00Z");
    assert_eq!(c.accrued[0].terms.expires_at.unwrap().to_string(), "2027-03-17T10:00:00Z");
}

#[test]
fn the_customer_identification_stays_as_sent() {
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("1.00"), json!([]));
    assert_eq!(r.customer, Some(Identify::Card("2770000000017".into())));
}

proptest! {
    /// Whatever the receipt, discounts and redemptions never push a line below zero and
    /// every per-line figure sums exactly to its receipt total.
    #[test]
    fn lines_always_sum_to_the_totals(
        amounts in proptest::collection::vec(0i64..100_000, 1..30),
        dairy in proptest::collection::vec(any::<bool>(), 30),
        balance in 0i64..5_000,
        pct in 0u32..=100,
    ) {
        let p = program(json!({
            "currencies": [
                {"code": "EUR", "kind": "money", "scale": 2},
                {"code": "bonus", "kind": "points", "scale": 0, "value": "0.10",
                 "redeem": {"max_share": "0.50", "exclude_groups": ["tobacco"]}}
            ],
            "campaigns": [
                {"id": "d", "rewards": [{"type": "discount", "percent": pct.to_string(), "groups": ["dairy"]}]},
                {"id": "a", "rewards": [{"type": "accrue", "currency": "bonus", "per": "1.00", "units": "3"}]}
            ]
        }));
        let lines: Vec<serde_json::Value> = amounts.iter().enumerate().map(|(i, a)| json!({
            "line": i + 1, "sku": format!("S{i}"),
            "groups": [if dairy[i] { "dairy" } else if i % 5 == 0 { "tobacco" } else { "misc" }],
            "qty": "1", "amount": crate::money::Minor::new(*a, Scale::CENTS).to_string()
        })).collect();
        let r = receipt("2026-03-03T12:00:00+02:00", json!(lines), json!([{"currency": "bonus", "amount": "max"}]));
        let c = calculate(&r, &ctx(Some(customer(&[("bonus", balance)]))), &p).unwrap();
        prop_assert_eq!(c.lines.iter().map(|l| l.amount).sum::<i64>(), c.total);
        prop_assert_eq!(c.lines.iter().map(|l| l.discount).sum::<i64>(), c.discount);
        prop_assert_eq!(c.lines.iter().map(|l| l.redeemed_value).sum::<i64>(), c.redeemed_value);
        prop_assert_eq!(c.lines.iter().map(|l| l.final_amount).sum::<i64>(), c.total - c.discount - c.redeemed_value);
        prop_assert!(c.lines.iter().all(|l| l.final_amount >= 0 && l.discount >= 0 && l.redeemed_value >= 0));
        for (k, r) in c.redeemed.iter().enumerate() {
            prop_assert_eq!(c.lines.iter().map(|l| l.redeemed_units[k]).sum::<i64>(), r.units);
            prop_assert!(r.units <= balance);
        }
        for (k, a) in c.accrued.iter().enumerate() {
            prop_assert_eq!(c.lines.iter().map(|l| l.accrued_units[k]).sum::<i64>(), a.units);
        }
        prop_assert!(c.to_pay >= 0);
    }
}

// ---- rules engine mechanics ------------------------------------------------------

fn with_counters(counters: &[(&str, &str)]) -> CustomerContext {
    CustomerContext {
        counters: counters.iter().map(|(k, v)| ((*k).to_owned(), v.parse().unwrap())).collect(),
        ..customer(&[])
    }
}

fn s2() -> Program {
    program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "counters": [{"id": "year-sum", "measure": "sum", "period": {"start": "2026-01-01T00:00:00+02:00", "every": "year"}}],
        "campaigns": [{"id": "accumulated", "customers_only": true, "rewards": [
            {"type": "discount", "accumulated": {"counter": "year-sum", "base": 5, "step": "50.00", "per_step": 1, "max": 15}}
        ]}]
    }))
}

#[test]
fn s2_the_accumulated_discount_grows_by_a_point_per_fifty_paid() {
    let p = s2();
    // (receipt, what the customer had paid before it, expected discount)
    for (amount, paid_before, expected) in [("40.00", "0", 200), ("20.00", "38.00", 100), ("100.00", "57.00", 600), ("10.00", "151.00", 80)] {
        let r = receipt("2026-03-03T12:00:00+02:00", one_line(amount), json!([]));
        let c = calculate(&r, &ctx(Some(with_counters(&[("year-sum", paid_before)]))), &p).unwrap();
        assert_eq!(c.discount, expected, "receipt {amount} after {paid_before}");
    }
    let capped = receipt("2026-03-03T12:00:00+02:00", one_line("100.00"), json!([]));
    let c = calculate(&capped, &ctx(Some(with_counters(&[("year-sum", "9000.00")]))), &p).unwrap();
    assert_eq!(c.discount, 1500, "at most 15%");
}

fn s8() -> Program {
    program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "counters": [{"id": "sum365", "measure": "sum", "window_days": 365}],
        "tiers": [{"id": "status", "counter": "sum365", "levels": [
            {"id": "base", "from": 0}, {"id": "silver", "from": "300.00"}, {"id": "gold", "from": "1000.00"}]}],
        "campaigns": [
            {"id": "silver", "tiers": ["silver"], "rewards": [{"type": "discount", "percent": "3"}]},
            {"id": "gold", "tiers": ["gold"], "rewards": [{"type": "discount", "percent": "5"}]}
        ]
    }))
}

#[test]
fn s8_tiers_follow_the_purchase_sum_of_the_last_year() {
    let p = s8();
    for (sum, tier, discount) in [("299.99", "base", 0), ("300.00", "silver", 300), ("999.99", "silver", 300), ("1000.00", "gold", 500)] {
        let r = receipt("2026-03-03T12:00:00+02:00", one_line("100.00"), json!([]));
        let c = calculate(&r, &ctx(Some(with_counters(&[("sum365", sum)]))), &p).unwrap();
        assert_eq!((c.tier.as_deref(), c.discount), (Some(tier), discount), "sum {sum}");
    }
}

#[test]
fn a_tier_change_names_its_ladder_its_levels_and_whether_it_went_up_or_down() {
    use crate::messages::Direction;
    let p = s8();
    let counters = |sum: &str| [("sum365".to_owned(), sum.parse().unwrap())].into_iter().collect();
    assert_eq!(p.tier_changes(&counters("250.00"), &counters("299.99")), vec![], "base to base");
    let up = p.tier_changes(&counters("250.00"), &counters("1000.00"));
    assert_eq!((up[0].from.as_deref(), up[0].to.as_deref(), up[0].direction), (Some("base"), Some("gold"), Direction::Up));
    assert_eq!(up[0].ladder, "status");
    let after = p.counters_with(&counters("950.00"), 5_000, crate::money::Scale::CENTS).unwrap();
    assert_eq!(p.tier_changes(&counters("950.00"), &after)[0].to.as_deref(), Some("gold"), "950.00 and a receipt of 50.00");
    let visits = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "counters": [{"id": "days", "measure": "visits", "window_days": 30}],
    }));
    assert_eq!(visits.counters_with(&counters("1"), 100, crate::money::Scale::CENTS), None, "whether the day is new needs the receipts");
    let down = p.tier_changes(&counters("1000.00"), &counters("999.99"));
    assert_eq!((down[0].from.as_deref(), down[0].to.as_deref(), down[0].direction), (Some("gold"), Some("silver"), Direction::Down));
}

#[test]
fn campaigns_run_only_on_their_weekdays_hours_and_month_days_in_store_time() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [{"id": "happy-hour", "weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": {"from": "09:00", "to": "12:00"},
                       "rewards": [{"type": "discount", "percent": "10"}]},
                      {"id": "payday", "month_days": [25], "rewards": [{"type": "discount", "percent": "1"}]}]
    }));
    let at = |t: &str| calculate(&receipt(t, one_line("10.00"), json!([])), &ctx(None), &p).unwrap().discount;
    assert_eq!(at("2026-03-03T09:00:00+02:00"), 100, "Tuesday 09:00 Riga");
    assert_eq!(at("2026-03-03T11:59:00+02:00"), 100);
    assert_eq!(at("2026-03-03T12:00:00+02:00"), 0, "the window is closed at 12:00");
    assert_eq!(at("2026-03-03T07:30:00Z"), 100, "07:30 UTC is 09:30 in Riga");
    assert_eq!(at("2026-03-07T10:00:00+02:00"), 0, "Saturday");
    assert_eq!(at("2026-03-25T15:00:00+02:00"), 10, "the 25th");
}

#[test]
fn an_exclusive_campaign_shuts_out_the_others() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [
            {"id": "big", "priority": 10, "exclusive": true, "min_total": "50.00", "rewards": [{"type": "discount", "percent": "20"}]},
            {"id": "small", "priority": 1, "rewards": [{"type": "discount", "percent": "5"}]}
        ]
    }));
    let c = calculate(&receipt("2026-03-03T12:00:00+02:00", one_line("100.00"), json!([])), &ctx(None), &p).unwrap();
    assert_eq!((c.discount, c.campaigns.iter().map(|c| c.as_str()).collect::<Vec<_>>()), (2000, vec!["big"]));
    let c = calculate(&receipt("2026-03-03T12:00:00+02:00", one_line("10.00"), json!([])), &ctx(None), &p).unwrap();
    assert_eq!((c.discount, c.campaigns.iter().map(|c| c.as_str()).collect::<Vec<_>>()), (50, vec!["small"]), "the exclusive one does not apply here");
}

#[test]
fn of_a_stack_group_only_the_campaign_best_for_the_customer_applies() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [
            {"id": "five", "priority": 9, "stack_group": "weekly", "rewards": [{"type": "discount", "percent": "5"}]},
            {"id": "ten-dairy", "priority": 1, "stack_group": "weekly", "rewards": [{"type": "discount", "percent": "10", "groups": ["dairy"]}]},
            {"id": "other", "rewards": [{"type": "discount", "amount": "1.00"}]}
        ]
    }));
    let dairy = json!([{"line": 1, "sku": "M", "groups": ["dairy"], "qty": "1", "amount": "100.00"}]);
    let c = calculate(&receipt("2026-03-03T12:00:00+02:00", dairy, json!([])), &ctx(None), &p).unwrap();
    assert_eq!(c.campaigns, vec!["ten-dairy", "other"]);
    let misc = receipt("2026-03-03T12:00:00+02:00", one_line("100.00"), json!([]));
    let c = calculate(&misc, &ctx(None), &p).unwrap();
    assert_eq!(c.campaigns, vec!["five", "other"]);
}

#[test]
fn s6_restriction_keeps_the_discount_within_twenty_percent_of_the_receipt() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "restrictions": {"max_discount_share": "0.20"},
        "campaigns": [
            {"id": "a", "rewards": [{"type": "discount", "percent": "15"}]},
            {"id": "b", "rewards": [{"type": "discount", "percent": "15"}]}
        ]
    }));
    let lines = json!([{"line": 1, "sku": "A", "qty": "1", "amount": "33.33"}, {"line": 2, "sku": "B", "qty": "1", "amount": "66.67"}]);
    let c = calculate(&receipt("2026-03-03T12:00:00+02:00", lines, json!([])), &ctx(None), &p).unwrap();
    assert_eq!(c.discount, 2000);
    assert_eq!(c.lines.iter().map(|l| l.discount).sum::<i64>(), 2000);
    for l in &c.lines {
        let applied: i64 = l.applied.iter().map(|a| a.amount).sum();
        assert_eq!(applied, l.discount, "each line's applied discounts add up to its discount");
    }
}

fn s7() -> Program {
    program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "coupon_series": [
            {"id": "WELCOME10", "kind": "promo", "percent": "10", "groups": ["dairy"], "uses_per_customer": 1,
             "valid_until": "2026-12-31T22:00:00Z"},
            {"id": "GEN5", "kind": "unique", "amount": "5.00", "max_share": "0.50"}
        ]
    }))
}

fn with_coupon(lines: serde_json::Value, coupon: &str, at: &str) -> Receipt {
    let req: ReceiptRequest = serde_json::from_value(json!({
        "receipt_id": "r", "at": at, "customer": {"card": "2770000000017"}, "lines": lines, "coupons": [coupon]
    }))
    .unwrap();
    req.parse(Scale::CENTS, jiff::Timestamp::UNIX_EPOCH).unwrap()
}

fn coupon_ctx(code: &str, series: &str) -> crate::receipt::CouponContext {
    crate::receipt::CouponContext { code: code.into(), series: crate::ids::ConfigCode::parse(series).unwrap(), issued_to: None, valid_until: None, void: false }
}

#[test]
fn s7_a_promo_coupon_applies_once_per_customer_to_dairy_until_its_date() {
    let p = s7();
    let dairy = json!([{"line": 1, "sku": "MILK", "groups": ["dairy"], "qty": "1", "amount": "20.00"},
                       {"line": 2, "sku": "BREAD", "groups": ["misc"], "qty": "1", "amount": "5.00"}]);
    let mut cx = ctx(Some(customer(&[])));
    cx.coupons = vec![coupon_ctx("WELCOME10", "WELCOME10")];
    let c = calculate(&with_coupon(dairy.clone(), "welcome10", "2026-03-03T12:00:00+02:00"), &cx, &p).unwrap();
    assert_eq!((c.coupons[0].status, c.discount), (crate::receipt::CouponStatus::Applied, 200));
    assert!(c.charges.iter().any(|ch| ch.key == "coupon:WELCOME10:c7" && ch.max_uses == Some(1)));

    let mut used = cx.clone();
    used.usage.insert(("coupon:WELCOME10:c7".into(), "all".into()), crate::receipt::UsageRow { uses: 1, value: 200, items: 0 });
    let c = calculate(&with_coupon(dairy.clone(), "WELCOME10", "2026-03-03T12:00:00+02:00"), &used, &p).unwrap();
    assert_eq!(c.coupons[0].reason.as_ref().map(|r| r.code()), Some("coupon_used"));
    assert_eq!(c.discount, 0);

    let c = calculate(&with_coupon(dairy, "WELCOME10", "2027-01-01T12:00:00+02:00"), &cx, &p).unwrap();
    assert_eq!(c.coupons[0].reason.as_ref().map(|r| r.code()), Some("coupon_expired"));
    let c = calculate(&with_coupon(one_line("20.00"), "WELCOME10", "2026-03-03T12:00:00+02:00"), &cx, &p).unwrap();
    assert_eq!(c.coupons[0].reason.as_ref().map(|r| r.code()), Some("coupon_not_applicable"));
    let c = calculate(&with_coupon(one_line("20.00"), "NOPE", "2026-03-03T12:00:00+02:00"), &cx, &p).unwrap();
    assert_eq!(c.coupons[0].reason.as_ref().map(|r| r.code()), Some("coupon_unknown"));
}

#[test]
fn a_generated_coupon_is_single_use_and_keeps_to_its_max_share() {
    let p = s7();
    let mut cx = ctx(Some(customer(&[])));
    cx.coupons = vec![coupon_ctx("ABCDEFGHJK0", "GEN5")];
    let c = calculate(&with_coupon(one_line("6.00"), "ABCDEFGHJK0", "2026-03-03T12:00:00+02:00"), &cx, &p).unwrap();
    assert_eq!(c.discount, 300, "at most half of 6.00");
    cx.usage.insert(("coupon:GEN5:ABCDEFGHJK0".into(), "all".into()), crate::receipt::UsageRow { uses: 1, value: 300, items: 0 });
    let c = calculate(&with_coupon(one_line("6.00"), "ABCDEFGHJK0", "2026-03-03T12:00:00+02:00"), &cx, &p).unwrap();
    assert_eq!(c.coupons[0].reason.as_ref().map(|r| r.code()), Some("coupon_used"));
}

#[test]
fn a_campaign_past_its_budget_is_dropped_and_the_receipt_computed_without_it() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [{"id": "promo", "limits": {"budget": "100.00"}, "rewards": [{"type": "discount", "percent": "30"}]}]
    }));
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("40.00"), json!([]));
    let mut cx = ctx(None);
    let c = calculate(&r, &cx, &p).unwrap();
    assert_eq!(c.discount, 1200);
    assert_eq!((c.charges[0].key.as_str(), c.charges[0].value, c.charges[0].max_value), ("campaign:promo", 1200, Some(10000)));
    cx.usage.insert(("campaign:promo".into(), "all".into()), crate::receipt::UsageRow { uses: 9, value: 8900, items: 0 });
    let c = calculate(&r, &cx, &p).unwrap();
    assert_eq!((c.discount, c.campaigns.len()), (0, 0), "12.00 more would pass the 100.00 budget");
}

#[test]
fn a_per_customer_daily_limit_stops_the_campaign_for_that_customer_that_day() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [{"id": "daily", "customers_only": true, "limits": {"per_customer_day": 1},
                       "rewards": [{"type": "discount", "amount": "1.00"}]}]
    }));
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("10.00"), json!([]));
    let mut cx = ctx(Some(customer(&[])));
    let c = calculate(&r, &cx, &p).unwrap();
    assert_eq!(c.charges[0].period, "d:2026-03-03");
    cx.usage.insert(("campaign:daily:c7".into(), "d:2026-03-03".into()), crate::receipt::UsageRow { uses: 1, value: 100, items: 1000 });
    assert_eq!(calculate(&r, &cx, &p).unwrap().discount, 0);
}

#[test]
fn s1_ten_points_become_one_euro_on_the_wallet() {
    let p = program(json!({
        "currencies": [
            {"code": "EUR", "kind": "money", "scale": 2},
            {"code": "bonus", "kind": "points", "scale": 0, "conversion": {"to": "wallet", "every": 10, "gives": "1.00"}},
            {"code": "wallet", "kind": "money", "scale": 2, "redeem": {}}
        ],
        "campaigns": [{"id": "step", "min_total": "5.00", "rewards": [{"type": "accrue", "currency": "bonus", "step": "5.00", "units": "1"}]}]
    }));
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("15.00"), json!([]));
    let c = calculate(&r, &ctx(Some(customer(&[("bonus", 7)]))), &p).unwrap();
    assert_eq!(c.conversions.len(), 1);
    assert_eq!((c.conversions[0].taken, c.conversions[0].given), (10, 100));
    let balance = |code: &str| c.balances.iter().find(|b| b.currency.as_str() == code).map(|b| b.available);
    assert_eq!((balance("bonus"), balance("wallet")), (Some(0), Some(100)));
}

#[test]
fn birthday_campaigns_hold_in_the_window_around_the_birthday() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [{"id": "bday", "birthday": {"days_before": 3, "days_after": 3}, "rewards": [{"type": "discount", "percent": "10"}]}]
    }));
    let born = |date: &str| CustomerContext { birth_date: Some(date.parse().unwrap()), ..customer(&[]) };
    let at = |t: &str, who: CustomerContext| calculate(&receipt(t, one_line("10.00"), json!([])), &ctx(Some(who)), &p).unwrap().discount;
    assert_eq!(at("2026-03-03T12:00:00+02:00", born("1990-03-05")), 100);
    assert_eq!(at("2026-03-03T12:00:00+02:00", born("1990-03-07")), 0);
    assert_eq!(at("2026-01-02T12:00:00+02:00", born("1990-12-31")), 100, "across the new year");
    assert_eq!(at("2026-03-03T12:00:00+02:00", CustomerContext { birth_date: None, ..customer(&[]) }), 0);
}

#[test]
fn a_custom_condition_decides_with_the_receipt_and_the_customer() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [{"id": "cel", "condition": "receipt.items >= 2 && receipt.lines.exists(l, 'dairy' in l.groups)",
                       "rewards": [{"type": "discount", "amount": "1.00"}]}]
    }));
    let two = json!([{"line": 1, "sku": "M", "groups": ["dairy"], "qty": "1", "amount": "5.00"},
                     {"line": 2, "sku": "B", "qty": "1", "amount": "5.00"}]);
    assert_eq!(calculate(&receipt("2026-03-03T12:00:00+02:00", two, json!([])), &ctx(None), &p).unwrap().discount, 100);
    assert_eq!(calculate(&receipt("2026-03-03T12:00:00+02:00", one_line("10.00"), json!([])), &ctx(None), &p).unwrap().discount, 0);
}

#[test]
fn fixed_prices_and_maximum_accruals() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}, {"code": "bonus", "kind": "points", "scale": 0}],
        "restrictions": {"max_accrual": [{"currency": "bonus", "units": "50"}]},
        "campaigns": [
            {"id": "price", "rewards": [{"type": "discount", "price": "0.99", "skus": ["BUN"]}]},
            {"id": "pts", "rewards": [{"type": "accrue", "currency": "bonus", "per": "1.00", "units": "1"}]}
        ]
    }));
    let lines = json!([{"line": 1, "sku": "BUN", "qty": "3", "amount": "4.50"}, {"line": 2, "sku": "TV", "qty": "1", "amount": "100.00"}]);
    let c = calculate(&receipt("2026-03-03T12:00:00+02:00", lines, json!([])), &ctx(Some(customer(&[]))), &p).unwrap();
    assert_eq!(c.lines[0].discount, 153, "3 × 0.99 = 2.97 instead of 4.50");
    assert_eq!(c.accrued[0].units, 50, "at most 50 points per receipt");
    assert_eq!(c.lines.iter().map(|l| l.accrued_units[0]).sum::<i64>(), 50);
}

#[test]
fn goods_filters_match_the_same_lines_with_more_names_than_bits() {
    // 150 group names: the first campaigns' filters get bits, the last ones fall back
    // to matching by name; both must pick exactly their lines, over 70 lines.
    let campaigns: Vec<serde_json::Value> = (0..150)
        .map(|g| json!({"id": format!("d{g}"), "rewards": [{"type": "discount", "percent": "10", "groups": [format!("g{g}")]}]}))
        .collect();
    let p = program(json!({"currencies": [{"code": "EUR", "kind": "money", "scale": 2}], "campaigns": campaigns}));
    let lines: Vec<serde_json::Value> = (0..70)
        .map(|i| json!({"line": i + 1, "sku": format!("S{i}"), "groups": [format!("g{}", i * 2)], "qty": "1", "amount": "10.00"}))
        .collect();
    let c = calculate(&receipt("2026-11-24T12:00:00+02:00", json!(lines), json!([])), &ctx(None), &p).unwrap();
    for (i, l) in c.lines.iter().enumerate() {
        // Line i is in group g(2i): discounted only if some campaign names that group.
        let expected = if i * 2 < 150 { 100 } else { 0 };
        assert_eq!(l.discount, expected, "line {}", l.line);
        if expected > 0 {
            assert_eq!(&*l.applied[0].campaign, format!("d{}", i * 2));
        }
    }
}

#[test]
fn campaigns_target_profile_fields_and_segments_of_customers() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "counters": [{"id": "count90", "measure": "count", "window_days": 90}],
        "segments": [{"id": "riga-regulars", "condition": "customer.profile['city'] == 'Riga' && customer.counters['count90'] >= 5"}],
        "campaigns": [
            {"id": "women", "profile": {"gender": ["f"]}, "rewards": [{"type": "discount", "percent": "10"}]},
            {"id": "regulars", "segments": ["riga-regulars"], "rewards": [{"type": "discount", "amount": "1.00"}]}
        ]
    }));
    let who = |profile: &[(&str, &str)], visits: &str| CustomerContext {
        profile: profile.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        counters: BTreeMap::from([("count90".to_owned(), visits.parse().unwrap())]),
        ..customer(&[])
    };
    let discount = |c: Option<CustomerContext>| calculate(&receipt("2026-11-24T12:00:00+02:00", one_line("20.00"), json!([])), &ctx(c), &p).unwrap().discount;
    // Both (equal priorities run by id): 1.00 off, then 10 % of the 19.00 left.
    assert_eq!(discount(Some(who(&[("gender", "F"), ("city", "Riga")], "5"))), 100 + 190, "a woman (any case) in the segment");
    assert_eq!(discount(Some(who(&[("gender", "m"), ("city", "Riga")], "5"))), 100, "the segment only");
    assert_eq!(discount(Some(who(&[("gender", "f"), ("city", "Riga")], "4"))), 200, "four visits are not a regular");
    assert_eq!(discount(Some(who(&[], "9"))), 0, "no profile: neither");
    assert_eq!(discount(None), 0, "an anonymous receipt: neither");
}

#[test]
fn targeting_unknown_segments_or_bad_profile_fields_is_refused_when_applied() {
    let doc: ConfigDocument = serde_json::from_value(json!({
        "segments": [{"id": "bad", "condition": "customer.profile['city'] +"}],
        "campaigns": [{"id": "c", "segments": ["nope"], "profile": {"City": ["Riga"], "gender": []}, "rewards": []}]
    }))
    .unwrap();
    let mut paths: Vec<String> = Program::compile(&doc, 1).unwrap_err().into_iter().map(|e| e.path).collect();
    paths.sort();
    assert_eq!(paths, vec!["campaigns[0].profile.City", "campaigns[0].profile.gender", "campaigns[0].segments[0]", "segments[0].condition"]);
}

#[test]
fn a_line_condition_can_count_only_lines_within_a_unit_price_range() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [{"id": "premium", "lines": {"groups": ["wine"], "min_price": "20.00", "max_price": "100.00"},
                       "rewards": [{"type": "discount", "amount": "5.00"}]}]
    }));
    let wine = |amount: &str, qty: &str| json!([{"line": 1, "sku": "W", "groups": ["wine"], "qty": qty, "amount": amount}]);
    let discount = |lines| calculate(&receipt("2026-11-24T12:00:00+02:00", lines, json!([])), &ctx(None), &p).unwrap().discount;
    assert_eq!(discount(wine("40.00", "2")), 500, "two bottles at 20.00 each");
    assert_eq!(discount(wine("39.98", "2")), 0, "19.99 a bottle is below the range");
    assert_eq!(discount(wine("100.01", "1")), 0, "above the range");
}

#[test]
fn a_restriction_schedule_replaces_the_limits_it_sets_at_its_times() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "restrictions": {"max_discount_share": "0.50", "schedules": [
            {"name": "weekends", "weekdays": ["sat", "sun"], "max_discount_share": "0.10"},
            {"name": "evenings", "hours": {"from": "18:00", "to": "23:00"}, "max_discount_amount": "1.00"}
        ]},
        "campaigns": [{"id": "big", "rewards": [{"type": "discount", "percent": "40"}]}]
    }));
    let at = |when: &str| calculate(&receipt(when, one_line("10.00"), json!([])), &ctx(None), &p).unwrap().discount;
    assert_eq!(at("2026-11-24T12:00:00+02:00"), 400, "a Tuesday noon: 40 % is within half");
    assert_eq!(at("2026-11-28T12:00:00+02:00"), 100, "a Saturday: at most a tenth");
    assert_eq!(at("2026-11-28T19:00:00+02:00"), 100, "the first matching schedule wins");
    assert_eq!(at("2026-11-24T19:00:00+02:00"), 100, "a Tuesday evening: at most 1.00, the base share still holds");
}

#[test]
fn a_customer_gets_campaign_discounts_on_at_most_so_many_receipts_a_day() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}, {"code": "bonus", "kind": "points", "scale": 0}],
        "restrictions": {"max_discounts_per_customer_day": 1},
        "campaigns": [
            {"id": "ten", "rewards": [{"type": "discount", "percent": "10"}]},
            {"id": "points", "customers_only": true, "rewards": [{"type": "accrue", "currency": "bonus", "percent": "1"}]}
        ]
    }));
    let r = receipt("2026-11-24T12:00:00+02:00", one_line("10.00"), json!([]));
    let mut cx = ctx(Some(customer(&[])));
    let key = ("restrictions:discounts:c7".to_owned(), "d:2026-11-24".to_owned());
    assert!(usage_keys(&r, &cx, &p).contains(&key));
    let first = calculate(&r, &cx, &p).unwrap();
    assert_eq!(first.discount, 100);
    let charge = first.charges.iter().find(|ch| (ch.key.clone(), ch.period.clone()) == key).unwrap();
    assert_eq!((charge.uses, charge.max_uses), (1, Some(1)));
    cx.usage.insert(key, crate::receipt::UsageRow { uses: 1, value: 100, items: 1000 });
    let second = calculate(&r, &cx, &p).unwrap();
    assert_eq!((second.discount, second.campaigns.iter().map(|c| c.as_str()).collect::<Vec<_>>()), (0, vec!["points"]), "accruals still apply");
    assert!(calculate(&r, &ctx(None), &p).unwrap().discount == 100, "anonymous receipts have no customer to count");
}

#[test]
fn promotional_items_of_all_campaigns_stop_at_the_daily_restriction() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "restrictions": {"max_promo_items_day": "5"},
        "campaigns": [
            {"id": "milk", "priority": 2, "rewards": [{"type": "discount", "percent": "10", "groups": ["milk"]}]},
            {"id": "bread", "priority": 1, "rewards": [{"type": "discount", "percent": "10", "groups": ["bread"]}]}
        ]
    }));
    let lines = json!([{"line": 1, "sku": "M", "groups": ["milk"], "qty": "2", "amount": "2.00"},
                       {"line": 2, "sku": "B", "groups": ["bread"], "qty": "1", "amount": "1.00"}]);
    let r = receipt("2026-11-24T12:00:00+02:00", lines, json!([]));
    let mut cx = ctx(None);
    let c = calculate(&r, &cx, &p).unwrap();
    assert_eq!(c.discount, 20 + 10);
    assert_eq!(c.charges.iter().find(|ch| ch.key == "restrictions:promo").map(|ch| ch.items), Some(3000));
    cx.usage.insert(("restrictions:promo".into(), "d:2026-11-24".into()), crate::receipt::UsageRow { uses: 1, value: 0, items: 3000 });
    let c = calculate(&r, &cx, &p).unwrap();
    assert_eq!((c.discount, c.campaigns.iter().map(|c| c.as_str()).collect::<Vec<_>>()), (20, vec!["milk"]), "two more items fit, three do not: the lowest priority goes");
}

#[test]
fn restriction_times_belong_to_schedules_and_schedules_do_not_nest() {
    let doc: ConfigDocument = serde_json::from_value(json!({
        "restrictions": {"weekdays": ["sat"], "max_discount_share": "0.5",
                         "schedules": [{"hours": {"from": "25:00", "to": "26:00"}, "schedules": [{}]}]}
    }))
    .unwrap();
    let mut paths: Vec<String> = Program::compile(&doc, 1).unwrap_err().into_iter().map(|e| e.path).collect();
    paths.sort();
    assert_eq!(paths, vec!["restrictions", "restrictions.schedules[0].hours", "restrictions.schedules[0].schedules"]);
}

mod offers;

fn with_control(share: &str) -> Program {
    program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}, {"code": "bonus", "kind": "points", "scale": 0}],
        "campaigns": [
            {"id": "autumn", "control_share": share, "rewards": [{"type": "discount", "percent": "10"}]},
            {"id": "base", "rewards": [{"type": "accrue", "currency": "bonus", "percent": "100"}]}
        ]
    }))
}

#[test]
fn a_control_group_holds_out_its_share_of_customers_always_the_same_ones_and_gives_them_nothing() {
    let p = with_control("0.25");
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("10.00"), json!([]));
    let mut held = 0;
    for id in 1..=2000 {
        let who = CustomerContext { id, ..customer(&[]) };
        let c = calculate(&r, &ctx(Some(who.clone())), &p).unwrap();
        assert_eq!(c.control.len(), 1, "customer {id}: one campaign has a control group");
        assert_eq!(c.control[0].campaign.as_str(), "autumn");
        let out = c.control[0].held_out;
        // Held out: no discount, but the campaign without a control group still earns.
        assert_eq!(c.discount, if out { 0 } else { 100 }, "customer {id}");
        assert_eq!(c.campaigns.iter().any(|k| k.as_str() == "autumn"), !out);
        assert_eq!(accrued_units(&c, "bonus"), if out { 10 } else { 9 });
        // The same customer lands in the same group on every receipt.
        let again = receipt("2026-05-20T18:00:00+02:00", one_line("42.00"), json!([]));
        assert_eq!(calculate(&again, &ctx(Some(who)), &p).unwrap().control[0].held_out, out);
        held += usize::from(out);
    }
    assert!((400..600).contains(&held), "about a quarter of 2000 held out, got {held}");
}

#[test]
fn an_anonymous_receipt_gets_the_campaign_and_joins_no_group() {
    let p = with_control("0.99");
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("10.00"), json!([]));
    let c = calculate(&r, &ctx(None), &p).unwrap();
    assert_eq!(c.discount, 100);
    assert!(c.control.is_empty());
}

#[test]
fn a_receipt_that_does_not_qualify_joins_no_group() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "campaigns": [{"id": "big", "min_total": "50.00", "control_share": "0.5", "rewards": [{"type": "discount", "percent": "10"}]}]
    }));
    let r = receipt("2026-03-03T12:00:00+02:00", one_line("10.00"), json!([]));
    assert!(calculate(&r, &ctx(Some(customer(&[]))), &p).unwrap().control.is_empty());
}

#[test]
fn a_control_share_must_be_between_zero_and_one_and_not_on_a_campaign_that_needs_a_code() {
    for share in ["0", "1", "1.5"] {
        let doc: ConfigDocument = serde_json::from_value(json!({
            "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
            "campaigns": [{"id": "c", "control_share": share, "rewards": [{"type": "discount", "percent": "10"}]}]
        }))
        .unwrap();
        let err = format!("{:?}", Program::compile(&doc, 1).unwrap_err());
        assert!(err.contains("campaigns[0].control_share"), "{share}: {err}");
    }
    let doc: ConfigDocument = serde_json::from_value(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "coupon_series": [{"id": "promo", "kind": "promo", "code": "AUTUMN"}],
        "campaigns": [{"id": "c", "control_share": "0.1", "coupon_series": "promo", "rewards": [{"type": "discount", "percent": "10"}]}]
    }))
    .unwrap();
    let err = format!("{:?}", Program::compile(&doc, 1).unwrap_err());
    assert!(err.contains("needs a code"), "{err}");
}
