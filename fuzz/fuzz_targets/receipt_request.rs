//! `POST /v1/pos/receipts` (and `/v1/pos/calculate`) on arbitrary bytes: the body goes
//! through what the POS API does with it before any database work, and none of it may
//! panic:
//!
//! 1. decoding, exactly as the API's `Json<ReceiptRequest>` extractor does (axum's
//!    `Json::from_bytes`: `serde_path_to_error` over `serde_json`, then trailing
//!    characters refused), and the error message a client would get;
//! 2. the request serialised for the idempotency hash and the stored copy, which must
//!    decode again to the same request (simulations and audits re-read it);
//! 3. `ReceiptRequest::parse`, the wire rules, for stores whose money has 0, 2 or 3
//!    decimals, and the server-clock check of `at`;
//! 4. for a valid receipt, the engine (`calculate`) with a fixed program that has
//!    discounts, accruals, a redeemable currency, a coupon series and restrictions, and
//!    the response rendered from the calculation.
//!
//! The offline upload decodes each receipt from a `serde_json::Value` instead: that path
//! is run too.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use loyd_domain::cards::CardState;
use loyd_domain::config::ConfigDocument;
use loyd_domain::engine::{calculate, usage_keys};
use loyd_domain::ids::{AssetCode, StoreCode};
use loyd_domain::money::Scale;
use loyd_domain::org::TimeZoneName;
use loyd_domain::program::Program;
use loyd_domain::receipt::{
    BalanceView, Context, CouponContext, CustomerContext, GiftCardContext, ReceiptRequest, StoreContext,
};

/// The server's clock for every input.
static NOW: LazyLock<jiff::Timestamp> = LazyLock::new(|| "2026-11-24T08:15:00Z".parse().unwrap());

static PROGRAM: LazyLock<Program> = LazyLock::new(|| {
    let doc: ConfigDocument = serde_json::from_value(serde_json::json!({
        "currencies": [
            {"code": "EUR", "kind": "money", "scale": 2},
            {"code": "bonus", "kind": "points", "scale": 0, "value": "0.10",
             "redeem": {"min_balance": 10, "max_share": "0.50", "exclude_groups": ["tobacco"]}},
            {"code": "stars", "kind": "points", "scale": 2, "value": "0.01", "redeem": {}},
            {"code": "wallet", "kind": "money", "scale": 2, "redeem": {}}
        ],
        "counters": [{"id": "year-sum", "measure": "sum",
                      "period": {"start": "2026-01-01T00:00:00+02:00", "every": "year"}}],
        "coupon_series": [{"id": "WELCOME10", "kind": "promo", "percent": "10", "groups": ["dairy"], "max_share": "0.50"},
                          {"id": "FIVE", "kind": "promo", "amount": "5.00"}],
        "campaigns": [
            {"id": "dairy-off", "priority": 30,
             "rewards": [{"type": "discount", "percent": "15", "groups": ["dairy"]}]},
            {"id": "amount-off", "priority": 20, "min_total": "10.00",
             "rewards": [{"type": "discount", "amount": "3.00", "exclude_groups": ["tobacco"]}]},
            {"id": "price", "priority": 10,
             "rewards": [{"type": "discount", "price": "0.99", "skus": ["A100"]}]},
            {"id": "accumulated", "customers_only": true, "rewards": [
                {"type": "discount", "accumulated": {"counter": "year-sum", "base": 1, "step": "50.00", "per_step": 1, "max": 5}}
            ]},
            {"id": "points", "condition": "receipt.total_minor > 0 && customer.identified",
             "rewards": [{
                "type": "accrue", "currency": "bonus", "per": "1.00", "units": "1",
                "exceptions": [{"groups": ["dairy"], "per": "1.00", "units": "2"}, {"groups": ["tobacco"], "fixed": "0"}]
             }]},
            {"id": "stars", "rewards": [{"type": "accrue", "currency": "stars", "per_item": "0.37"}]},
            {"id": "steps", "rewards": [{"type": "accrue", "currency": "stars", "step": "5.00", "units": "1"}]},
            {"id": "gift", "min_quantity": "3", "rewards": [{"type": "gift", "gift": "Tote bag"}]}
        ],
        "restrictions": {"max_discount_share": "0.50", "max_redeem_share": "0.30",
                         "max_accrual": [{"currency": "bonus", "units": "5000"}]}
    }))
    .expect("the fuzzing program parses");
    Program::compile(&doc, 1).expect("the fuzzing program compiles")
});

fn store(scale: Scale) -> StoreContext {
    StoreContext {
        id: StoreCode::parse("riga-01").unwrap(),
        format: Some(StoreCode::parse("supermarket").unwrap()),
        partner: None,
        timezone: TimeZoneName::parse("Europe/Riga").unwrap(),
        currency: AssetCode::parse("EUR").unwrap(),
        scale,
    }
}

/// What storage would load for the receipt: a customer with balances and a counter, the
/// gift card and coupon most seeds name.
fn context(identified: bool) -> Context {
    let customer = identified.then(|| CustomerContext {
        id: 7,
        card: Some("2770000000017".into()),
        counters: [("year-sum".to_owned(), "12345".parse().unwrap())].into(),
        balances: [
            (AssetCode::parse("bonus").unwrap(), BalanceView { available: 1_000, pending: 0 }),
            (AssetCode::parse("stars").unwrap(), BalanceView { available: 250, pending: 10 }),
            (AssetCode::parse("wallet").unwrap(), BalanceView { available: 2_000, pending: 0 }),
        ]
        .into(),
        ..CustomerContext::default()
    });
    let mut ctx = Context::new(store(Scale::CENTS), customer);
    ctx.gift_cards.push(GiftCardContext {
        number: "6000000000019".into(),
        currency: AssetCode::parse("EUR").unwrap(),
        state: CardState::Active,
        valid_until: None,
        single_use: false,
        available: 2_500,
    });
    ctx.coupons.push(CouponContext {
        code: "WELCOME10".into(),
        series: StoreCode::parse("WELCOME10").unwrap(),
        issued_to: None,
        valid_until: None,
        void: false,
    });
    ctx.coupons.push(CouponContext {
        code: "FIVE".into(),
        series: StoreCode::parse("FIVE").unwrap(),
        issued_to: None,
        valid_until: None,
        void: false,
    });
    ctx
}

/// axum's `Json::<ReceiptRequest>::from_bytes`.
fn decode(data: &[u8]) -> Result<ReceiptRequest, String> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let request: ReceiptRequest =
        serde_path_to_error::deserialize(&mut de).map_err(|e| format!("{} at {}", e.inner(), e.path()))?;
    de.end().map_err(|e| e.to_string())?;
    Ok(request)
}

fn scale_of(c: &AssetCode) -> Scale {
    PROGRAM.currency(c).map(|c| c.scale).unwrap_or(Scale::ZERO)
}

fuzz_target!(|data: &[u8]| {
    // The offline upload's path: any JSON value, then the request from it.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = serde_json::from_value::<ReceiptRequest>(value);
    }

    let request = match decode(data) {
        Ok(r) => r,
        Err(message) => {
            // The client's 4xx message is built from it.
            std::hint::black_box(message);
            return;
        }
    };

    // The idempotency hash and the stored request: what was accepted serialises, and
    // reads back as the same request.
    let stored = serde_json::to_string(&request).expect("an accepted request serialises");
    let again: ReceiptRequest = serde_json::from_str(&stored)
        .unwrap_or_else(|e| panic!("the stored request {stored} does not decode again: {e}"));
    assert_eq!(again, request, "the stored request {stored} decodes to another request");

    for places in [0, 3] {
        let _ = request.parse(Scale::new(places).unwrap(), *NOW);
    }
    let Ok(receipt) = request.parse(Scale::CENTS, *NOW) else { return };
    // The commit's clock check (`check_time` in loyd-store).
    if receipt.at > *NOW + jiff::SignedDuration::from_hours(1) {
        return;
    }
    for identified in [true, false] {
        let ctx = context(identified);
        std::hint::black_box(usage_keys(&receipt, &ctx, &PROGRAM));
        if let Ok(calc) = calculate(&receipt, &ctx, &PROGRAM) {
            let response =
                calc.response(&request.receipt_id, ctx.customer.as_ref(), &ctx.store, &scale_of, PROGRAM.version, receipt.at);
            std::hint::black_box(serde_json::to_vec(&response).expect("a response serialises"));
        }
    }
});
