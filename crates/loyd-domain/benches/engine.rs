//! The calculation of a 50-line receipt against 200 active campaigns (target: < 50 µs),
//! and the same with multi-buys and per-campaign caps among them.
//!
//! The program mixes what a large chain runs at once: group discounts on various days,
//! accruals with exceptions, tier and store targeted campaigns, a stack group, limits,
//! a custom condition, a restriction; most campaigns apply to some lines, some do not
//! apply at all. The receipt has an identified customer with counters and a redemption.
//!
//!     cargo bench -p loyd-domain --bench engine

use std::collections::BTreeMap;
use std::hint::black_box;

/// The allocator the `loyd` binary runs with, so the figure is what a till sees.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use loyd_domain::config::ConfigDocument;
use loyd_domain::engine::calculate;
use loyd_domain::ids::{AssetCode, StoreCode};
use loyd_domain::money::Scale;
use loyd_domain::org::TimeZoneName;
use loyd_domain::program::Program;
use loyd_domain::receipt::{BalanceView, Context, CustomerContext, Receipt, ReceiptRequest, StoreContext};
use serde_json::{Value, json};

const GROUPS: usize = 40;

/// The program; with `offers`, a tenth of the group discounts are multi-buys (buy 3,
/// the cheapest free; or 2 for a bundle price) and another tenth are capped per receipt.
fn program(offers: bool) -> Program {
    let mut campaigns: Vec<Value> = Vec::new();
    for i in 0..100 {
        // Group discounts, most on every day, some on weekends only.
        let groups = json!([format!("g{}", i % GROUPS), format!("g{}", (i * 7) % GROUPS)]);
        let mut c = json!({"id": format!("disc-{i}"), "priority": i % 7,
            "rewards": [{"type": "discount", "percent": format!("{}", 1 + i % 9), "groups": groups}]});
        if offers && i % 10 == 1 {
            c["rewards"] = if i % 20 == 1 {
                json!([{"type": "multi_buy", "group": 3, "free": 1, "groups": groups}])
            } else {
                json!([{"type": "multi_buy", "group": 2, "price": "5.00", "groups": groups}])
            };
        }
        if offers && i % 10 == 2 {
            c["max_discount"] = json!("0.50");
        }
        if i % 5 == 0 {
            c["weekdays"] = json!(["sat", "sun"]);
        }
        if i % 10 == 3 {
            c["stack_group"] = json!("weekly");
        }
        campaigns.push(c);
    }
    for i in 0..60 {
        campaigns.push(json!({"id": format!("acc-{i}"), "customers_only": true,
            "rewards": [{"type": "accrue", "currency": "bonus", "per": "1.00", "units": "1", "groups": [format!("g{}", (i * 3) % GROUPS)],
                         "exceptions": [{"groups": [format!("g{}", (i * 5) % GROUPS)], "per": "1.00", "units": "2"}]}]}));
    }
    for i in 0..40 {
        // Targeted elsewhere: other stores, tiers the customer is not on, big receipts.
        let mut c = json!({"id": format!("target-{i}"), "rewards": [{"type": "discount", "percent": "5"}]});
        match i % 4 {
            0 => c["stores"] = json!(["other-store"]),
            1 => c["tiers"] = json!(["gold"]),
            2 => c["min_total"] = json!("100000.00"),
            _ => c["condition"] = json!("receipt.total_minor > 100000000 && customer.tier == 'gold'"),
        }
        if i == 7 {
            c["limits"] = json!({"budget": "1000000.00"});
        }
        campaigns.push(c);
    }
    let doc: ConfigDocument = serde_json::from_value(json!({
        "currencies": [{"code": "EUR", "kind": "money", "scale": 2},
                       {"code": "bonus", "kind": "points", "scale": 0, "value": "0.10", "redeem": {"max_share": "0.30", "exclude_groups": ["g0"]}}],
        "counters": [{"id": "sum365", "measure": "sum", "window_days": 365}],
        "tiers": [{"id": "status", "counter": "sum365", "levels": [{"id": "base", "from": 0}, {"id": "silver", "from": "300"}, {"id": "gold", "from": "1000"}]}],
        "restrictions": {"max_discount_share": "0.40"},
        "campaigns": campaigns
    }))
    .expect("benchmark program parses");
    let program = Program::compile(&doc, 1).expect("benchmark program compiles");
    assert_eq!(program.campaigns.len(), 200);
    program
}

fn receipt() -> Receipt {
    let lines: Vec<Value> = (0..50)
        .map(|i| json!({"line": i + 1, "sku": format!("SKU{i:05}"), "groups": [format!("g{}", i % GROUPS), "all"],
                         "qty": "2", "price": "3.45", "amount": "6.90"}))
        .collect();
    let req: ReceiptRequest = serde_json::from_value(json!({
        "receipt_id": "bench", "at": "2026-11-24T12:00:00+02:00", "customer": {"card": "2770000000017"},
        "lines": lines, "redeem": [{"currency": "bonus", "amount": "max"}]
    }))
    .unwrap();
    req.parse(Scale::CENTS, jiff::Timestamp::UNIX_EPOCH).unwrap()
}

fn context() -> Context {
    let store = StoreContext {
        id: StoreCode::parse("riga-01").unwrap(),
        format: Some(StoreCode::parse("supermarket").unwrap()),
        partner: None,
        timezone: TimeZoneName::parse("Europe/Riga").unwrap(),
        currency: AssetCode::parse("EUR").unwrap(),
        scale: Scale::CENTS,
    };
    let customer = CustomerContext {
        id: 42,
        card: Some("2770000000017".into()),
        card_series: Some("LOY".into()),
        counters: BTreeMap::from([("sum365".to_owned(), "450.00".parse().unwrap())]),
        birth_date: None,
        profile: BTreeMap::from([("city".to_owned(), "Riga".to_owned())]),
        balances: BTreeMap::from([(AssetCode::parse("bonus").unwrap(), BalanceView { available: 2_000, pending: 0 })]),
        facts: Default::default(),
    };
    Context::new(store, Some(customer))
}

fn bench(c: &mut Criterion) {
    let (receipt, context) = (receipt(), context());
    for (name, program) in [
        ("calculate: 50 lines, 200 campaigns", program(false)),
        ("calculate: 50 lines, 200 campaigns with multi-buys and caps", program(true)),
    ] {
        let calc = calculate(&receipt, &context, &program).expect("the benchmark receipt calculates");
        assert!(calc.discount > 0 && !calc.accrued.is_empty() && !calc.redeemed.is_empty());
        c.bench_function(name, |b| b.iter(|| calculate(black_box(&receipt), black_box(&context), black_box(&program)).unwrap()));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
