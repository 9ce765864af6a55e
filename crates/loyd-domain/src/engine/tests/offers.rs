//! The mechanics of the second rules engine on tables: rounding on totals, multi-buys,
//! caps per campaign, uses in all, code-activated campaigns, redemption in steps.

use super::*;
use crate::receipt::{CouponStatus, UsageRow};

fn at() -> &'static str {
    "2026-03-03T12:00:00+02:00"
}

fn eur(campaigns: serde_json::Value) -> Program {
    program(json!({"currencies": [{"code": "EUR", "kind": "money", "scale": 2}], "campaigns": campaigns}))
}

/// Lines of (sku, group, qty, amount).
fn lines(items: &[(&str, &str, &str, &str)]) -> serde_json::Value {
    let lines: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(i, (sku, group, qty, amount))| json!({"line": i + 1, "sku": sku, "groups": [group], "qty": qty, "amount": amount}))
        .collect();
    json!(lines)
}

fn discounts(c: &Calculation) -> Vec<i64> {
    c.lines.iter().map(|l| l.discount).collect()
}

#[test]
fn a_percent_discount_is_rounded_once_on_the_matched_total_unless_per_line_is_asked() {
    let ten = lines(&[("X", "misc", "1", "0.05"); 10]);
    let r = receipt(at(), ten, json!([]));
    let on_total = eur(json!([{"id": "ten", "rewards": [{"type": "discount", "percent": "10"}]}]));
    let c = calculate(&r, &ctx(None), &on_total).unwrap();
    assert_eq!(c.discount, 5, "10 % of 0.50 is 0.05");
    assert_eq!(discounts(&c).iter().sum::<i64>(), c.discount);
    let per_line = eur(json!([{"id": "ten", "rewards": [{"type": "discount", "percent": "10", "round_per_line": true}]}]));
    let c = calculate(&r, &ctx(None), &per_line).unwrap();
    assert_eq!((c.discount, discounts(&c)), (10, vec![1; 10]), "0.005 rounds up to 0.01 on each line");
}

#[test]
fn buy_three_get_the_cheapest_free_applies_per_multiple() {
    let p = eur(json!([{"id": "b3", "rewards": [{"type": "multi_buy", "group": 3, "free": 1, "groups": ["tea"]}]}]));
    let basket = |items: &[(&str, &str, &str, &str)]| calculate(&receipt(at(), lines(items), json!([])), &ctx(None), &p).unwrap();
    // Six units: two groups, the two cheapest units free.
    let c = basket(&[("A", "tea", "3", "6.00"), ("B", "tea", "2", "2.00"), ("C", "tea", "1", "5.00"), ("D", "misc", "4", "4.00")]);
    assert_eq!(discounts(&c), vec![0, 200, 0, 0]);
    // Five units: one group, the cheapest unit.
    let c = basket(&[("A", "tea", "3", "6.00"), ("B", "tea", "1", "1.00"), ("C", "tea", "1", "5.00")]);
    assert_eq!(discounts(&c), vec![0, 100, 0]);
    // Two units: no group.
    let c = basket(&[("A", "tea", "2", "6.00")]);
    assert_eq!(c.discount, 0);
    // A unit of a line of three: a third of the line.
    let c = basket(&[("A", "tea", "3", "10.00")]);
    assert_eq!(c.discount, 333);
}

#[test]
fn n_for_the_price_of_m_same_item_groups_and_the_group_limit() {
    let p = eur(json!([{"id": "3for2", "rewards": [{"type": "multi_buy", "group": 3, "pay": 2, "free_unit": "same", "max_groups": 2}]}]));
    let r = receipt(at(), lines(&[("A", "x", "4", "8.00"), ("B", "x", "2", "2.00"), ("C", "x", "1", "1.00"), ("A", "x", "3", "9.00")]), json!([]));
    let c = calculate(&r, &ctx(None), &p).unwrap();
    // Item A has 7 units (2.00 and 3.00 each): two groups, the two cheapest units free;
    // B and C are one unit short of a group each.
    assert_eq!(discounts(&c), vec![400, 0, 0, 0]);
    let p = eur(json!([{"id": "3for2", "rewards": [{"type": "multi_buy", "group": 3, "pay": 2, "max_groups": 1}]}]));
    let c = calculate(&r, &ctx(None), &p).unwrap();
    assert_eq!(c.discount, 100, "one group: the cheapest unit (C at 1.00)");
}

#[test]
fn a_bundle_price_takes_the_dearest_units_and_rounds_once() {
    let p = eur(json!([{"id": "2for5", "rewards": [{"type": "multi_buy", "group": 2, "price": "5.00", "skus": ["A", "B", "C"]}]}]));
    let r = receipt(at(), lines(&[("A", "x", "1", "3.00"), ("B", "x", "1", "3.50"), ("C", "x", "1", "2.00")]), json!([]));
    let c = calculate(&r, &ctx(None), &p).unwrap();
    // 3.50 + 3.00 = 6.50 for 5.00: 1.50 off those two, in proportion.
    assert_eq!((c.discount, discounts(&c)), (150, vec![69, 81, 0]));
    // Cheaper than the bundle already: nothing.
    let r = receipt(at(), lines(&[("A", "x", "2", "4.00")]), json!([]));
    assert_eq!(calculate(&r, &ctx(None), &p).unwrap().discount, 0);
}

#[test]
fn a_reward_product_is_discounted_when_present_and_asked_for_when_absent() {
    let p = eur(json!([{"id": "shampoo", "rewards": [{"type": "multi_buy", "group": 2, "free": 1, "skus": ["SHAMPOO"], "free_sku": "COND"}]}]));
    let r = receipt(at(), lines(&[("SHAMPOO", "care", "4", "20.00")]), json!([]));
    let c = calculate(&r, &ctx(None), &p).unwrap();
    assert_eq!(c.discount, 0);
    assert_eq!(c.add_products, vec![crate::receipt::ProductToAdd { sku: "COND".into(), quantity: Decimal::from(2), campaign: "shampoo".into() }]);
    let r = receipt(at(), lines(&[("SHAMPOO", "care", "4", "20.00"), ("COND", "care", "1", "3.00")]), json!([]));
    let c = calculate(&r, &ctx(None), &p).unwrap();
    assert_eq!(discounts(&c), vec![0, 300]);
    assert_eq!(c.add_products[0].quantity, Decimal::ONE, "one more conditioner is due");
}

#[test]
fn a_campaign_cap_limits_only_its_own_discount_and_is_allocated_over_its_lines() {
    let p = eur(json!([
        {"id": "cabinets", "priority": 10, "max_discount": "200.00", "rewards": [{"type": "discount", "percent": "20", "groups": ["cabinets"]}]},
        {"id": "all", "rewards": [{"type": "discount", "percent": "5"}]}
    ]));
    let r = receipt(at(), lines(&[("CAB1", "cabinets", "1", "1000.00"), ("CAB2", "cabinets", "1", "500.00"), ("LAMP", "lamps", "1", "100.00")]), json!([]));
    let c = calculate(&r, &ctx(None), &p).unwrap();
    let by = |campaign: &str| -> Vec<i64> {
        c.lines.iter().map(|l| l.applied.iter().filter(|a| &*a.campaign == campaign).map(|a| a.amount).sum()).collect()
    };
    assert_eq!(by("cabinets"), vec![13333, 6667, 0], "300.00 capped to 200.00, in proportion");
    // The other campaign still gives 5 % of what is left: 866.67 + 433.33 + 100.00.
    assert_eq!(by("all"), vec![4333, 2167, 500]);
    let share = eur(json!([{"id": "s", "max_discount_share": "0.10", "rewards": [{"type": "discount", "percent": "50"}]}]));
    assert_eq!(calculate(&r, &ctx(None), &share).unwrap().discount, 16000, "10 % of 1600.00");
}

#[test]
fn a_campaign_with_uses_in_all_stops_when_they_are_used_and_charges_one_counter() {
    let p = eur(json!([{"id": "first100", "limits": {"uses": 100, "budget": "500.00"}, "rewards": [{"type": "discount", "percent": "10"}]}]));
    let r = receipt(at(), one_line("10.00"), json!([]));
    let mut cx = ctx(None);
    let c = calculate(&r, &cx, &p).unwrap();
    let charge = &c.charges[0];
    assert_eq!((c.charges.len(), charge.key.as_str(), charge.uses, charge.max_uses, charge.max_value), (1, "campaign:first100", 1, Some(100), Some(50000)));
    cx.usage.insert(("campaign:first100".into(), "all".into()), UsageRow { uses: 100, value: 10000, items: 0 });
    assert_eq!(calculate(&r, &cx, &p).unwrap().discount, 0);
}

fn summer() -> Program {
    program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "coupon_series": [{"id": "summer", "kind": "promo", "code": "SUMMER", "uses_per_customer": 1, "uses_per_code": 1000}],
        "campaigns": [{"id": "summer-shoes", "coupon_series": "summer", "min_total": "50.00", "lines": {"groups": ["shoes"]},
                       "rewards": [{"type": "discount", "percent": "15", "groups": ["shoes"]}]}]
    }))
}

#[test]
fn a_code_activated_campaign_applies_only_with_its_code_and_its_conditions() {
    let p = summer();
    let mut cx = ctx(Some(customer(&[])));
    cx.coupons = vec![coupon_ctx("SUMMER", "summer")];
    let shoes = lines(&[("BOOT", "shoes", "1", "60.00"), ("SOCK", "misc", "1", "5.00")]);
    // Without the code: nothing.
    let c = calculate(&receipt(at(), shoes.clone(), json!([])), &cx, &p).unwrap();
    assert_eq!((c.discount, c.campaigns.len()), (0, 0));
    // With it: the campaign's discount, the code applied and charged.
    let c = calculate(&with_coupon(shoes, "summer", at()), &cx, &p).unwrap();
    assert_eq!((c.discount, c.coupons[0].status, c.coupons[0].discount), (900, CouponStatus::Applied, 900));
    assert!(c.charges.iter().any(|ch| ch.key == "coupon:summer:SUMMER" && ch.max_uses == Some(1000)));
    assert!(c.charges.iter().any(|ch| ch.key == "coupon:SUMMER:c7" && ch.max_uses == Some(1)));
    // Below the minimum: the code is not applicable, says why, and is not charged.
    let small = lines(&[("BOOT", "shoes", "1", "40.00")]);
    let c = calculate(&with_coupon(small, "SUMMER", at()), &cx, &p).unwrap();
    let reason = c.coupons[0].reason.as_ref().unwrap();
    assert_eq!((reason.code(), c.discount), ("coupon_not_applicable", 0));
    assert!(reason.to_string().contains("at least 50.00"), "{reason}");
    assert!(c.charges.is_empty());
    // No shoes: the same, with the goods named.
    let c = calculate(&with_coupon(lines(&[("HAT", "hats", "1", "70.00")]), "SUMMER", at()), &cx, &p).unwrap();
    assert!(c.coupons[0].reason.as_ref().unwrap().to_string().contains("lacks the goods"));
    // Used by this customer before: used.
    cx.usage.insert(("coupon:SUMMER:c7".into(), "all".into()), UsageRow { uses: 1, value: 900, items: 0 });
    let c = calculate(&with_coupon(lines(&[("BOOT", "shoes", "1", "60.00")]), "SUMMER", at()), &cx, &p).unwrap();
    assert_eq!((c.coupons[0].reason.as_ref().map(|r| r.code()), c.discount), (Some("coupon_used"), 0));
}

#[test]
fn a_series_with_uses_in_all_refuses_its_codes_once_they_are_used() {
    let p = program(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "coupon_series": [{"id": "gen", "kind": "unique", "amount": "1.00", "uses_total": 2}]
    }));
    let mut cx = ctx(None);
    cx.coupons = vec![coupon_ctx("ABCDEFGHJK0", "gen")];
    let c = calculate(&with_coupon(one_line("6.00"), "ABCDEFGHJK0", at()), &cx, &p).unwrap();
    assert!(c.charges.iter().any(|ch| ch.key == "coupon-series:gen" && ch.max_uses == Some(2)));
    cx.usage.insert(("coupon-series:gen".into(), "all".into()), UsageRow { uses: 2, value: 200, items: 0 });
    let c = calculate(&with_coupon(one_line("6.00"), "ABCDEFGHJK0", at()), &cx, &p).unwrap();
    assert_eq!(c.coupons[0].reason.as_ref().map(|r| r.code()), Some("coupon_used"));
}

#[test]
fn points_are_redeemed_in_steps_and_at_most_so_many_per_receipt() {
    let p = program(json!({
        "currencies": [
            {"code": "EUR", "kind": "money", "scale": 2},
            {"code": "bonus", "kind": "points", "scale": 0, "value": "0.01", "redeem": {"step": "100", "max_units": "300"}}
        ]
    }));
    let redeem = |amount: &str, balance: i64| {
        let r = receipt(at(), one_line("50.00"), json!([{"currency": "bonus", "amount": amount}]));
        calculate(&r, &ctx(Some(customer(&[("bonus", balance)]))), &p)
    };
    assert_eq!(redeem("max", 250).unwrap().redeemed[0].units, 200);
    assert_eq!(redeem("max", 1000).unwrap().redeemed[0].units, 300);
    assert_eq!(redeem("200", 250).unwrap().redeemed_value, 200);
    let err = redeem("150", 250).unwrap_err();
    assert_eq!((err.code(), err.to_string().as_str()), ("redeem_limit_exceeded", "at most 300 bonus can pay this receipt, in steps of 100"));
    assert_eq!(redeem("400", 1000).unwrap_err().code(), "redeem_limit_exceeded");
    assert!(redeem("max", 99).unwrap().redeemed.is_empty(), "less than one step: nothing");
}

#[test]
fn multi_buy_and_capped_campaigns_keep_lines_summing_to_the_totals() {
    let p = eur(json!([
        {"id": "b", "priority": 5, "max_discount": "3.33", "rewards": [{"type": "multi_buy", "group": 2, "free": 1}]},
        {"id": "p", "rewards": [{"type": "discount", "percent": "7"}]}
    ]));
    let r = receipt(at(), lines(&[("A", "x", "3", "10.00"), ("B", "x", "1", "0.99"), ("C", "x", "2.5", "7.77")]), json!([]));
    let c = calculate(&r, &ctx(None), &p).unwrap();
    assert_eq!(discounts(&c).iter().sum::<i64>(), c.discount);
    for l in &c.lines {
        assert_eq!(l.applied.iter().filter(|a| a.kind == AppliedKind::Discount).map(|a| a.amount).sum::<i64>(), l.discount);
        assert!(l.discount <= l.amount);
    }
    assert_eq!(c.lines.iter().flat_map(|l| &l.applied).filter(|a| &*a.campaign == "b").map(|a| a.amount).sum::<i64>(), 333);
}

/// Stores taking EUR, RUB and USD; a wallet counted in EUR with a rate to RUB only, 5 %
/// back on every receipt but in New York.
fn wallet_doc() -> serde_json::Value {
    json!({
        "currencies": [
            {"code": "EUR", "kind": "money", "scale": 2}, {"code": "RUB", "kind": "money", "scale": 2},
            {"code": "USD", "kind": "money", "scale": 2},
            {"code": "wallet", "kind": "money", "scale": 2, "denominated_in": "EUR", "rates": {"RUB": "98.50"}, "redeem": {}},
        ],
        "stores": [{"id": "riga", "name": "Riga", "currency": "EUR"}, {"id": "pskov", "name": "Pskov", "currency": "RUB"},
                   {"id": "nyc", "name": "NYC", "currency": "USD"}],
        "campaigns": [{"id": "back", "exclude_stores": ["nyc"], "rewards": [{"type": "accrue", "currency": "wallet", "percent": "5"}]}]
    })
}

fn wallet_program() -> Program {
    program(wallet_doc())
}

fn in_store(currency: &str, balances: &[(&str, i64)]) -> Context {
    let mut c = ctx(Some(customer(balances)));
    c.store.currency = AssetCode::parse(currency).unwrap();
    c
}

#[test]
fn a_wallet_counted_in_euros_pays_and_earns_at_the_configured_rate_elsewhere_and_is_refused_without_one() {
    let p = wallet_program();
    let wallet = [("wallet", 10_000)];
    let pay = |amount: &str, total: &str| receipt(at(), lines(&[("A", "x", "1", total)]), json!([{"currency": "wallet", "amount": amount}]));
    // At home: 10.00 of the wallet pays 10.00; 5 % back on the 90.00 left.
    let c = calculate(&pay("10.00", "100.00"), &in_store("EUR", &wallet), &p).unwrap();
    assert_eq!((c.redeemed_value, accrued_units(&c, "wallet")), (1000, 450));
    // In roubles: 10.00 EUR pays 985.00 RUB; the 985.00 RUB left are 10.00 EUR, 5 % is 0.50.
    let c = calculate(&pay("10.00", "1970.00"), &in_store("RUB", &wallet), &p).unwrap();
    assert_eq!((c.redeemed[0].units, c.redeemed_value, accrued_units(&c, "wallet")), (1000, 98_500, 50));
    // One cent is worth 0.985 RUB: rounded down once, to 0.98.
    let c = calculate(&pay("0.01", "1970.00"), &in_store("RUB", &wallet), &p).unwrap();
    assert_eq!(c.redeemed_value, 98);
    // "max" takes the most cents whose value fits what is due: 100.00 RUB is 1.01 EUR
    // (1.02 would be worth 100.47).
    let c = calculate(&pay("max", "100.00"), &in_store("RUB", &wallet), &p).unwrap();
    assert_eq!((c.redeemed[0].units, c.redeemed_value), (101, 9_948));
    // No rate to dollars: never 1:1. Paying is refused; a campaign accruing the wallet
    // in the dollar store is refused when the program is applied.
    let err = calculate(&pay("10.00", "100.00"), &in_store("USD", &wallet), &p).unwrap_err();
    assert_eq!(err.code(), "currency_not_accepted", "{err}");
    assert_eq!(err.to_string(), "wallet is counted in EUR and this store takes USD: no rate between them is configured");
    let mut everywhere = wallet_doc();
    everywhere["campaigns"][0].as_object_mut().unwrap().remove("exclude_stores");
    let doc: ConfigDocument = serde_json::from_value(everywhere).unwrap();
    let problems = Program::compile(&doc, 1).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "campaigns[0].rewards[0].currency");
    assert!(problems[0].message.starts_with("wallet is counted in EUR and store nyc takes USD with no rate"), "{}", problems[0].message);
}

#[test]
fn stores_of_two_currencies_make_a_wallet_say_what_it_is_counted_in() {
    let doc = |wallet: serde_json::Value| -> ConfigDocument {
        serde_json::from_value(json!({
            "currencies": [{"code": "EUR", "kind": "money", "scale": 2}, {"code": "RUB", "kind": "money", "scale": 2}, wallet],
            "stores": [{"id": "riga", "name": "Riga", "currency": "EUR"}, {"id": "pskov", "name": "Pskov", "currency": "RUB"}],
        }))
        .unwrap()
    };
    let problems = |d: &ConfigDocument| Program::compile(d, 1).unwrap_err().into_iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>();
    assert_eq!(
        problems(&doc(json!({"code": "wallet", "kind": "money", "scale": 2}))),
        vec!["currencies[2].denominated_in: stores take EUR and RUB: say which of them one unit of wallet is worth (denominated_in)"]
    );
    assert_eq!(
        problems(&doc(json!({"code": "wallet", "kind": "money", "scale": 2, "denominated_in": "EUR", "rates": {"EUR": "1", "bonus": "2", "RUB": "0"}}))),
        vec![
            "currencies[2].rates.EUR: wallet is already counted in EUR",
            "currencies[2].rates.RUB: a rate must be positive",
            "currencies[2].rates.bonus: 'bonus' is not a money currency defined in [[currencies]]",
        ]
    );
    assert_eq!(
        problems(&doc(json!({"code": "pts", "kind": "points", "scale": 0, "value": "0.1", "rates": {"RUB": "98"}}))),
        vec!["currencies[2].rates.RUB: rates convert from the currency named in denominated_in; name it"]
    );
    // Points are a program's rule, "a point pays 0.10" in any store's money, unless counted in one.
    assert!(Program::compile(&doc(json!({"code": "pts", "kind": "points", "scale": 0, "value": "0.1"})), 1).is_ok());
    let p = Program::compile(&doc(json!({"code": "wallet", "kind": "money", "scale": 2, "denominated_in": "RUB"})), 1).unwrap();
    let wallet = p.currency(&AssetCode::parse("wallet").unwrap()).unwrap();
    assert_eq!((wallet.rate_in(&AssetCode::parse("RUB").unwrap()), wallet.rate_in(&AssetCode::parse("EUR").unwrap())), (Some(Decimal::ONE), None));
}
