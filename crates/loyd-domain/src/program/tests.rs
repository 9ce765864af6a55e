use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde_json::json;

use super::*;

fn compile(doc: serde_json::Value) -> Result<Program, Vec<ConfigError>> {
    let doc: ConfigDocument = serde_json::from_value(doc).expect("test document parses");
    Program::compile(&doc, 1)
}

fn bonus() -> serde_json::Value {
    json!({"code": "bonus", "kind": "points", "scale": 0})
}

fn paths(errors: Vec<ConfigError>) -> Vec<String> {
    errors.into_iter().map(|e| e.path).collect()
}

#[test]
fn counters_from_database_totals_equal_counters_from_the_receipts() {
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    let day = SignedDuration::from_hours(24);
    let counter = |id: &str, measure, days: i64| Counter {
        id: ConfigCode::parse(id).unwrap(),
        measure,
        range: CounterRange::Window(day * days as i32),
    };
    let counters = vec![counter("spent_30", Measure::Sum, 30), counter("receipts_7", Measure::Count, 7), counter("spent_365", Measure::Sum, 365)];
    // Receipts on the edges of the windows, one at `at` itself, one refund-heavy.
    let receipts: Vec<(Timestamp, i64)> = vec![
        (at - day * 400, 10_00),
        (at - day * 365, 25_50),
        (at - day * 30, 7_25),
        (at - day * 29, -3_00),
        (at - day * 7, 1_00),
        (at - day * 2, 99_99),
        (at, 5_00),
    ];
    let totals: Vec<CounterTotals> = counters
        .iter()
        .map(|c| {
            let inside: Vec<i64> = receipts.iter().filter(|(t, _)| *t >= c.start_at(at) && *t <= at).map(|(_, p)| *p).collect();
            CounterTotals { paid: inside.iter().sum(), receipts: inside.len() as i64 }
        })
        .collect();
    assert!(counters_from_totals(&counters));
    let from_rows = counter_values(&counters, &receipts, at, Scale::CENTS, &TimeZone::UTC);
    assert_eq!(counter_values_from_totals(&counters, &totals, Scale::CENTS), from_rows);
    assert_eq!(from_rows["receipts_7"], Decimal::from(3));
    assert_eq!(from_rows["spent_365"], "135.74".parse::<Decimal>().unwrap(), "the receipt a year back to the instant counts");
    let visits = vec![counter("visits", Measure::Visits, 30)];
    assert!(!counters_from_totals(&visits), "visits need the receipts' days");
}

#[test]
fn a_rate_must_name_exactly_one_form() {
    let two = json!({"currencies": [bonus()], "campaigns": [{"id": "c1", "rewards": [
        {"type": "accrue", "currency": "bonus", "percent": "1", "fixed": "1"}]}]});
    assert_eq!(paths(compile(two).unwrap_err()), vec!["campaigns[0].rewards[0]"]);
    let step = json!({"currencies": [bonus()], "campaigns": [{"id": "c1", "rewards": [
        {"type": "accrue", "currency": "bonus", "step": "5.00", "units": "1"}]}]});
    let program = compile(step).unwrap();
    assert!(matches!(program.campaigns[0].rewards[0], Reward::Accrue { rate: Rate::Step { .. }, .. }));
}

#[test]
fn references_to_undefined_things_are_reported_at_compile_time() {
    let doc = json!({
        "currencies": [bonus()],
        "tiers": [{"id": "status", "counter": "nope", "levels": [{"id": "base", "from": 0}]}],
        "campaigns": [{"id": "c1", "tiers": ["platinum"], "series": ["X"], "rewards": [
            {"type": "accrue", "currency": "points", "percent": "1"},
            {"type": "issue_coupon", "coupon_series": "NONE"},
            {"type": "discount", "accumulated": {"counter": "nope", "base": 5, "step": "50", "per_step": 1, "max": 15}}
        ]}]
    });
    let found = paths(compile(doc).unwrap_err());
    for expected in [
        "tiers[0].counter",
        "campaigns[0].rewards[0].currency",
        "campaigns[0].rewards[1].coupon_series",
        "campaigns[0].rewards[2].accumulated.counter",
        "campaigns[0].tiers[0]",
        "campaigns[0].series[0]",
    ] {
        assert!(found.contains(&expected.to_owned()), "{expected} missing from {found:?}");
    }
}

#[test]
fn fields_that_do_not_belong_to_a_reward_type_are_refused() {
    let doc = json!({"currencies": [bonus()], "campaigns": [{"id": "c1", "rewards": [
        {"type": "discount", "percent": "5", "currency": "bonus"}]}]});
    assert_eq!(paths(compile(doc).unwrap_err()), vec!["campaigns[0].rewards[0]"]);
}

#[test]
fn a_custom_condition_that_does_not_compile_is_reported_with_its_path() {
    let doc = json!({"campaigns": [{"id": "c1", "condition": "receipt.total_minor >"}]});
    let errors = compile(doc).unwrap_err();
    assert_eq!(errors[0].path, "campaigns[0].condition");
    assert!(errors[0].message.contains("CEL"));
}

#[test]
fn decimals_in_files_are_read_however_a_person_writes_them() {
    let read = |text: &str| serde_json::from_str::<Dec>(text).map(|d| d.0.to_string()).map_err(|e| e.to_string());
    assert_eq!(read("\"0.10\""), Ok("0.10".into()));
    assert_eq!(read("100"), Ok("100".into()));
    assert_eq!(read("\" +5 \""), Ok("5".into()));
    assert_eq!(read("\".5\""), Ok("0.5".into()));
    assert_eq!(read("\"-.5\""), Ok("-0.5".into()));
    assert_eq!(read("\"12.\""), Ok("12".into()));
    assert_eq!(read("\"1 000.50\""), Ok("1000.50".into()));
    assert_eq!(read("\"1_000\""), Ok("1000".into()));
    // A float is the decimal it is written as, not its binary neighbour.
    assert_eq!(read("0.1"), Ok("0.1".into()));
    assert_eq!(read("12.35"), Ok("12.35".into()));
    assert!(read("0.1234567890123456789").unwrap_err().contains("write it as a string"));
    assert!(read("\"1,5\"").unwrap_err().contains("dot"));
    assert!(read("\"1e3\"").unwrap_err().contains("not a decimal"));
    assert!(read("\"ten\"").is_err());
}

#[test]
fn goods_filters_select_by_group_and_sku_with_exclusions_first() {
    let mut names = Names::default();
    let g = Goods::compile(
        &GoodsSpec { groups: vec!["dairy".into()], skus: vec!["X1".into()], exclude_groups: vec![], exclude_skus: vec!["M2".into()] },
        &mut names,
    );
    for (sku, groups) in [("A", vec!["dairy".to_owned()]), ("X1", vec![]), ("M2", vec!["dairy".to_owned()]), ("B", vec!["misc".to_owned()])] {
        assert_eq!(g.matches_line(names.line_mask(sku, &groups), sku, &groups), g.matches(sku, &groups), "{sku}");
    }
    assert!(g.matches("A", &["dairy".into()]));
    assert!(g.matches("X1", &[]));
    assert!(!g.matches("M2", &["dairy".into()]));
    assert!(!g.matches("B", &["misc".into()]));
    assert!(Goods::default().matches("anything", &[]));
}

fn currency_with(lifetime: serde_json::Value, activation: u32) -> Currency {
    let program = compile(json!({"currencies": [{"code": "bonus", "kind": "points", "scale": 0,
        "activation_days": activation, "lifetime": lifetime}]}))
    .unwrap();
    program.currencies.values().next().unwrap().clone()
}

#[test]
fn lot_terms_follow_activation_and_each_form_of_lifetime() {
    let riga = TimeZone::get("Europe/Riga").unwrap();
    let at: Timestamp = "2026-01-31T10:00:00Z".parse().unwrap();
    let months = currency_with(json!({"months": 12}), 14).lot_terms(at, &riga);
    assert_eq!(months.available_at.unwrap().to_string(), "2026-02-14T10:00:00Z");
    assert_eq!(months.expires_at.unwrap().to_string(), "2027-02-14T10:00:00Z");
    let days = currency_with(json!({"days": 30}), 0).lot_terms(at, &riga);
    assert_eq!((days.available_at, days.expires_at.unwrap().to_string()), (None, "2026-03-02T10:00:00Z".into()));
    let until = currency_with(json!({"until": "2026-12-31T22:00:00Z"}), 0).lot_terms(at, &riga);
    assert_eq!(until.expires_at.unwrap().to_string(), "2026-12-31T22:00:00Z");
    // The end of the quarter in Riga: 1 April 00:00 local (UTC+3 in summer time).
    let quarter = currency_with(json!({"period_end": "quarter"}), 0).lot_terms(at, &riga);
    assert_eq!(quarter.expires_at.unwrap().to_string(), "2026-03-31T21:00:00Z");
    let err = compile(json!({"currencies": [{"code": "b", "kind": "points", "scale": 0, "lifetime": {"days": 1, "months": 1}}]}));
    assert_eq!(paths(err.unwrap_err()), vec!["currencies[0].lifetime"]);
}

#[test]
fn fixed_period_counters_restart_at_each_period() {
    let program = compile(json!({"counters": [
        {"id": "year", "measure": "sum", "period": {"start": "2026-01-01T00:00:00+02:00", "every": "year"}},
        {"id": "rolling", "measure": "sum", "window_days": 365}
    ]}))
    .unwrap();
    let year = &program.counters[0];
    let in_2026: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    assert_eq!(year.start_at(in_2026).to_string(), "2025-12-31T22:00:00Z");
    let in_2027: Timestamp = "2027-03-01T00:00:00Z".parse().unwrap();
    assert_eq!(year.start_at(in_2027).to_string(), "2026-12-31T22:00:00Z");
    let before: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
    assert_eq!(year.start_at(before), before, "nothing counts before the first period");
    assert_eq!(program.counters[1].start_at(in_2026).to_string(), "2025-06-01T00:00:00Z");
}

#[test]
fn tier_levels_are_the_highest_threshold_reached() {
    let program = compile(json!({
        "counters": [{"id": "sum365", "measure": "sum", "window_days": 365}],
        "tiers": [{"id": "status", "counter": "sum365", "levels": [
            {"id": "base", "from": 0}, {"id": "silver", "from": "300.00"}, {"id": "gold", "from": "1000.00"}]}]
    }))
    .unwrap();
    let t = &program.tiers[0];
    assert_eq!(t.level(Decimal::new(29999, 2)).unwrap().as_str(), "base");
    assert_eq!(t.level(Decimal::new(30000, 2)).unwrap().as_str(), "silver");
    assert_eq!(t.level(Decimal::from(5000)).unwrap().as_str(), "gold");
    // What the next level takes: 0.01 more to silver, 700 more to gold, nothing at the top.
    let (next, more) = t.next(Decimal::new(29999, 2)).unwrap();
    assert_eq!((next.as_str(), more), ("silver", Decimal::new(1, 2)));
    assert_eq!(t.next(Decimal::from(300)).map(|(l, m)| (l.as_str(), m)), Some(("gold", Decimal::from(700))));
    assert!(t.next(Decimal::from(1000)).is_none());
    let unordered = json!({"counters": [{"id": "c", "measure": "count", "window_days": 30}],
        "tiers": [{"id": "t", "counter": "c", "levels": [{"id": "a", "from": 5}, {"id": "b", "from": 1}]}]});
    assert_eq!(paths(compile(unordered).unwrap_err()), vec!["tiers[0].levels"]);
}

#[test]
fn conversions_are_compiled_in_minor_units_of_both_currencies() {
    let program = compile(json!({"currencies": [
        {"code": "bonus", "kind": "points", "scale": 0, "conversion": {"to": "wallet", "every": 10, "gives": "1.00"}},
        {"code": "wallet", "kind": "money", "scale": 2}
    ]}))
    .unwrap();
    let conv = program.currencies[&AssetCode::parse("bonus").unwrap()].conversion.clone().unwrap();
    assert_eq!((conv.to.as_str(), conv.every, conv.gives), ("wallet", 10, 100));
}

#[test]
fn a_conversion_takes_whole_thresholds_only_and_nothing_below_one() {
    let conv = Conversion { to: AssetCode::parse("wallet").unwrap(), every: 10, gives: 100 };
    for (available, expected) in [(0, None), (9, None), (-20, None), (10, Some((10, 100))), (19, Some((10, 100))), (35, Some((30, 300)))] {
        assert_eq!(conv.of(available), expected, "{available} available");
    }
}

#[test]
fn promo_codes_are_case_insensitive_and_unique_across_series() {
    let program = compile(json!({"coupon_series": [
        {"id": "WELCOME10", "kind": "promo", "percent": "10"},
        {"id": "GEN", "kind": "unique", "amount": "5.00"}
    ]}))
    .unwrap();
    assert_eq!(program.promo_codes.get("WELCOME10").map(|s| s.as_str()), Some("WELCOME10"));
    assert_eq!(program.coupon_series[&ConfigCode::parse("GEN").unwrap()].uses_per_code, Some(1));
    let clash = json!({"coupon_series": [
        {"id": "a", "kind": "promo", "code": "SALE", "percent": "10"},
        {"id": "b", "kind": "promo", "code": "sale", "percent": "5"}]});
    assert_eq!(paths(compile(clash).unwrap_err()), vec!["coupon_series[1].code"]);
}

#[test]
fn a_gift_series_with_both_nominals_and_a_range_says_so() {
    let doc = json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2}],
        "card_series": [
            {"id": "G", "kind": "gift", "currency": "EUR", "nominals": ["10"], "amount_min": "5", "amount_max": "50"},
            {"id": "H", "kind": "gift", "currency": "EUR", "amount_min": "5"}
        ]
    });
    let errors = compile(doc).unwrap_err();
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(shown.iter().any(|e| e.starts_with("card_series[0].nominals: both nominals and amount_min/amount_max given")), "{shown:?}");
    assert!(shown.iter().any(|e| e == "card_series[1]: a range needs both amount_min and amount_max"), "{shown:?}");
}

#[test]
fn a_campaign_goes_from_draft_to_active_to_paused_to_archived_and_never_back() {
    use CampaignStatus::*;
    let ok = |a: CampaignStatus, b: CampaignStatus| a.may_become(b).is_ok();
    assert!(ok(Draft, Active) && ok(Active, Paused) && ok(Paused, Active) && ok(Paused, Archived));
    assert!(ok(Draft, Archived) && ok(Active, Archived));
    assert!(ok(Active, Active) && ok(Archived, Archived), "repeating an action changes nothing");
    assert!(!ok(Draft, Paused) && !ok(Active, Draft) && !ok(Paused, Draft));
    for to in [Draft, Active, Paused] {
        assert!(Archived.may_become(to).unwrap_err().english().contains("archived"));
    }
    assert_eq!(CampaignStatus::ALL.map(|s| CampaignStatus::parse(s.name())), CampaignStatus::ALL.map(Some));
}

#[test]
fn a_customers_control_bucket_is_fixed_forever_so_groups_never_move_between_versions() {
    // Computed apart (FNV-1a 64 of "autumn/<id>", modulo 10 000): a change here would
    // move customers between the groups of running campaigns.
    let buckets: Vec<u64> = [1, 2, 3, 1_000_000].into_iter().map(|id| campaign::control_bucket("autumn", id)).collect();
    assert_eq!(buckets, [5503, 3714, 1925, 2967]);
}

#[test]
fn the_portals_catalogue_and_offers_name_what_the_program_has_and_the_portal_can_read() {
    let eur = json!({"code": "EUR", "kind": "money", "scale": 2});
    let texts = json!({"en": {"title": "A free coffee"}});
    let doc = json!({
        "currencies": [bonus(), eur],
        "coupon_series": [{"id": "FREE", "kind": "unique", "percent": "100"}, {"id": "PROMO", "kind": "promo", "code": "SUMMER", "percent": "5"}],
        "segments": [
            {"id": "riga", "condition": "customer.profile['city'] == 'Riga'"},
            {"id": "big-basket", "condition": "receipt.total_minor > 10000"}
        ],
        "catalogue": [
            {"id": "ok", "currency": "bonus", "cost": "500", "coupon_series": "FREE", "segment": "rfm:champions", "texts": texts},
            {"id": "money", "currency": "EUR", "cost": "5", "coupon_series": "FREE", "texts": texts},
            {"id": "fine", "currency": "bonus", "cost": "2.5", "coupon_series": "PROMO", "segment": "big-basket", "stock": 0, "texts": {}},
            {"id": "words", "currency": "bonus", "cost": "1", "coupon_series": "FREE", "segment": "rfm:nobody", "texts": {"fi": {"title": "Kahvi"}, "en": {"title": "two\nlines"}}}
        ],
        "offers": [
            {"id": "good", "segment": "riga", "link": "https://shop.example/a", "texts": texts},
            {"id": "bad", "link": "shop.example", "valid_from": "2026-02-01T00:00:00Z", "valid_until": "2026-01-01T00:00:00Z", "texts": texts}
        ],
        "portal": {"texts": {"en": {"title": ""}}}
    });
    let found = paths(compile(doc.clone()).unwrap_err());
    let expected = [
        "catalogue[1].currency",
        "catalogue[2].cost",
        "catalogue[2].coupon_series",
        "catalogue[2].segment",
        "catalogue[2].stock",
        "catalogue[2].texts",
        "catalogue[3].segment",
        "catalogue[3].texts.fi",
        "catalogue[3].texts.en.title",
        "offers[1].valid_until",
        "offers[1].link",
        "portal.texts.en.title",
    ];
    let mut sorted = found.clone();
    sorted.sort();
    let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(sorted, want);
    // The sound ones compile: the cost in minor units, the offers as written.
    let mut fixed = doc;
    fixed["catalogue"] = json!([fixed["catalogue"][0].clone()]);
    fixed["offers"] = json!([fixed["offers"][0].clone()]);
    fixed["portal"] = json!({"texts": {"en": {"title": "Welcome", "body": "Points on\nevery purchase."}}});
    let program = compile(fixed).unwrap();
    assert_eq!((program.catalogue[0].cost, program.catalogue_item("ok").map(|i| i.spec.segment.as_deref())), (500, Some(Some("rfm:champions"))));
    assert!(program.offers[0].shown_at(Timestamp::UNIX_EPOCH) && program.portal.texts["en"].body.contains('\n'));
}
