//! Custom conditions (CEL) on arbitrary text: compiled as `loyd apply` compiles a
//! campaign's or segment's `condition` (which also tries it on a sample receipt), and
//! when it compiles, evaluated against fixed receipts as the engine evaluates it at a
//! till: with and without the lines bound, for an identified customer and an anonymous
//! one. Nothing may panic, and nothing may run for long (`-timeout`).

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use loyd_domain::program::{CelInput, CelLine, Condition};

/// Counters and currencies the configuration names (the sample customer has them).
static COUNTERS: LazyLock<Vec<String>> = LazyLock::new(|| vec!["year-sum".into(), "visits90".into(), "count90".into()]);
static CURRENCIES: LazyLock<Vec<String>> = LazyLock::new(|| vec!["bonus".into(), "EUR".into()]);

/// A receipt at a till: two lines, an identified customer on a tier.
static RECEIPT: LazyLock<CelInput> = LazyLock::new(|| CelInput {
    total_minor: 1_250,
    qty_milli: 3_500,
    items: 2,
    weekday: "sat".into(),
    hour: 18,
    month_day: 29,
    month: 11,
    lines: vec![
        CelLine { sku: "A100".into(), groups: vec!["dairy".into(), "milk".into()], amount_minor: 700, qty_milli: 2_000 },
        CelLine { sku: "C200".into(), groups: vec!["coffee".into()], amount_minor: 550, qty_milli: 1_500 },
    ],
    identified: true,
    tier: "silver".into(),
    series: "LOY".into(),
    counters: vec![("year-sum".into(), 123_456), ("visits90".into(), 7)],
    balances: vec![("bonus".into(), 420)],
    profile: vec![("city".into(), "Riga".into()), ("gender".into(), "f".into())],
    store_id: "riga-01".into(),
    store_format: "supermarket".into(),
    store_partner: String::new(),
});

/// An anonymous receipt with extreme numbers and nothing in the maps.
static EDGE: LazyLock<CelInput> = LazyLock::new(|| CelInput {
    total_minor: i64::MAX / 4,
    qty_milli: i64::MAX,
    items: 1_000,
    weekday: "mon".into(),
    hour: 0,
    month_day: 1,
    month: 1,
    lines: vec![CelLine { sku: "X".into(), groups: vec![], amount_minor: i64::MAX / 4, qty_milli: i64::MIN }],
    ..CelInput::default()
});

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let Ok(condition) = Condition::compile(source, &COUNTERS, &CURRENCIES) else { return };
    for input in [&*RECEIPT, &*EDGE] {
        std::hint::black_box(condition.holds(input));
        // The engine's shared context, and the one without lines it uses for conditions
        // that do not read them.
        let ctx = input.context();
        std::hint::black_box(condition.holds_in(&ctx));
        let without_lines = CelInput { lines: Vec::new(), ..input.clone() };
        std::hint::black_box(condition.holds_in(&without_lines.context()));
    }
    std::hint::black_box(condition.reads_lines());
});
