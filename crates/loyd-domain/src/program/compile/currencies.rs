//! Currencies (value, redemption, lifetime, conversion) and card series.

use std::collections::{BTreeMap, BTreeSet};

use jiff::SignedDuration;
use rust_decimal::Decimal;

use super::{Problems, share};

use crate::ids::AssetCode;
use crate::money;
use crate::said;
use crate::program::*;

pub(super) fn compile_currency(c: &CurrencySpec, path: &str, p: &mut Problems, names: &mut Names) -> Currency {
    let value = match (c.value, c.kind) {
        (Some(v), _) if v.0 <= Decimal::ZERO => {
            p.push(format!("{path}.value"), said::unit_value_positive());
            None
        }
        (Some(v), _) => Some(v.0),
        (None, CurrencyKind::Money) => Some(Decimal::ONE),
        (None, _) => None,
    };
    let redeem = c.redeem.as_ref().map(|r| {
        if value.is_none() {
            p.push(format!("{path}.value"), said::unit_value_needed());
        }
        // An amount of this currency of at least `least` minor units, if given and valid.
        let units = |v: Option<Dec>, field: &str, least: i64, p: &mut Problems| match v.map(|m| money::to_minor_exact(m.0, c.scale)) {
            None => None,
            Some(Ok(v)) if v >= least => Some(v),
            Some(_) => {
                let places = c.scale.places();
                p.push(format!("{path}.redeem.{field}"), if least == 0 { said::redeem_not_negative(places) } else { said::redeem_above_zero(places) });
                None
            }
        };
        Redeem {
            min_balance: units(r.min_balance, "min_balance", 0, p).unwrap_or(0),
            max_share: share(r.max_share, format!("{path}.redeem.max_share"), p),
            excluded: Goods::compile(
                &GoodsSpec {
                    exclude_groups: r.exclude_groups.clone(),
                    exclude_skus: r.exclude_skus.clone(),
                    ..GoodsSpec::default()
                },
                names,
            ),
            accrue_on_redeemed: r.accrue_on_redeemed,
            step: units(r.step, "step", 1, p).unwrap_or(1),
            max_units: units(r.max_units, "max_units", 1, p),
        }
    });
    let lifetime = c.lifetime.and_then(|l| {
        let forms = [
            l.days.map(Lifetime::Days),
            l.months.map(Lifetime::Months),
            l.until.map(Lifetime::Until),
            l.period_end.map(Lifetime::PeriodEnd),
        ];
        let given: Vec<Lifetime> = forms.into_iter().flatten().collect();
        if given.len() != 1 {
            p.push(format!("{path}.lifetime"), said::lifetime_exactly_one());
            return None;
        }
        Some(given[0])
    });
    Currency {
        code: c.code.clone(),
        kind: c.kind,
        scale: c.scale,
        rounding: c.rounding(),
        value,
        // Set by `denominate` once every currency is known.
        denomination: None,
        rates: Vec::new(),
        redeem,
        activation: c.activation_days.filter(|d| *d > 0).map(|d| SignedDuration::from_hours(24 * i64::from(d))),
        lifetime,
        conversion: None,
        inactivity: c.inactivity_days.filter(|d| *d > 0).map(|d| SignedDuration::from_hours(24 * i64::from(d))),
    }
}

pub(super) fn check_conversion(
    c: &CurrencySpec,
    conv: &ConversionSpec,
    currencies: &BTreeMap<AssetCode, Currency>,
    path: &str,
    p: &mut Problems,
) -> Option<Conversion> {
    let Some(target) = currencies.get(&conv.to) else {
        p.push(format!("{path}.to"), said::unknown_currency(&conv.to));
        return None;
    };
    if conv.to == c.code {
        p.push(format!("{path}.to"), said::convert_into_itself());
        return None;
    }
    let every = money::to_minor_exact(conv.every.0, c.scale);
    let gives = money::to_minor_exact(conv.gives.0, target.scale);
    match (every, gives) {
        (Ok(every), Ok(gives)) if every > 0 && gives > 0 => Some(Conversion { to: conv.to.clone(), every, gives }),
        _ => {
            p.push(path, said::conversion_positive(&c.code, &conv.to));
            None
        }
    }
}

/// The store currency a currency's value counts in, and its rates in other store
/// currencies (see [`CurrencySpec::denominated_in`]); `stores` holds the currencies the
/// configured stores take.
pub(super) fn denominate(
    c: &CurrencySpec,
    currencies: &BTreeMap<AssetCode, Currency>,
    stores: &BTreeSet<AssetCode>,
    path: &str,
    p: &mut Problems,
) -> (Option<AssetCode>, Vec<(AssetCode, Decimal)>) {
    let money = |code: &AssetCode| currencies.get(code).is_some_and(|x| x.kind == CurrencyKind::Money);
    let listed = || stores.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" and ");
    let denomination = match &c.denominated_in {
        Some(d) if !money(d) => {
            p.push(format!("{path}.denominated_in"), said::not_money_currency(d));
            None
        }
        Some(d) if stores.contains(&c.code) && *d != c.code => {
            p.push(format!("{path}.denominated_in"), said::store_currency_in_itself(&c.code));
            None
        }
        Some(d) => Some(d.clone()),
        None if c.kind != CurrencyKind::Money => None,
        None if stores.contains(&c.code) => Some(c.code.clone()),
        None if stores.len() > 1 => {
            p.push(
                format!("{path}.denominated_in"),
                said::denomination_needed(listed(), &c.code),
            );
            None
        }
        None => stores.first().cloned(),
    };
    let mut rates = Vec::new();
    for (to, rate) in &c.rates {
        let at = format!("{path}.rates.{to}");
        match &denomination {
            None if c.denominated_in.is_none() && c.kind != CurrencyKind::Money => {
                p.push(at, said::rates_need_denomination());
            }
            Some(d) if d == to => p.push(at, said::already_counted_in(&c.code, to)),
            _ if !money(to) => p.push(at, said::not_money_currency(to)),
            _ if rate.0 <= Decimal::ZERO => p.push(at, said::rate_positive()),
            _ => rates.push((to.clone(), rate.0)),
        }
    }
    (denomination, rates)
}

pub(super) fn check_series(s: &CardSeriesSpec, path: &str, currencies: &BTreeMap<AssetCode, Currency>, p: &mut Problems) {
    if !s.prefix.bytes().all(|b| b.is_ascii_digit()) {
        p.push(format!("{path}.prefix"), said::prefix_digits());
    }
    if !(6..=19).contains(&s.length) || usize::from(s.length) <= s.prefix.len() + 1 {
        p.push(format!("{path}.length"), said::card_number_length());
    }
    let free = usize::from(s.length).saturating_sub(s.prefix.len() + usize::from(s.check_digit != CheckDigit::None));
    if s.numbering == spec::Numbering::Random && free < spec::MIN_RANDOM_DIGITS {
        p.push(
            format!("{path}.numbering"),
            said::random_digits(spec::MIN_RANDOM_DIGITS, free),
        );
    }
    let currency = |kinds: &[CurrencyKind], p: &mut Problems| match &s.currency {
        None => p.push(format!("{path}.currency"), said::series_needs_currency(s.kind.name())),
        Some(c) => match currencies.get(c) {
            None => p.push(format!("{path}.currency"), said::unknown_currency(c)),
            Some(cur) if !kinds.contains(&cur.kind) => p.push(
                format!("{path}.currency"),
                said::series_currency_kind(s.kind.name(), kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(" or ")),
            ),
            Some(_) => {}
        },
    };
    match s.kind {
        CardKind::Gift => {
            currency(&[CurrencyKind::Money], p);
            let range = s.amount_min.is_some() || s.amount_max.is_some();
            let has_nominals = !s.nominals.is_empty();
            match (range, has_nominals) {
                (true, true) => p.push(
                    format!("{path}.nominals"),
                    said::gift_range_or_nominals(),
                ),
                (false, false) => p.push(path, said::gift_needs_amounts()),
                _ => {}
            }
            if range && (s.amount_min.is_none() || s.amount_max.is_none()) {
                p.push(path, said::range_needs_both());
            }
            if let (Some(a), Some(b)) = (s.amount_min, s.amount_max)
                && (a.0 <= Decimal::ZERO || a.0 > b.0)
            {
                p.push(format!("{path}.amount_min"), said::amount_min_range());
            }
        }
        CardKind::Pass => {
            currency(&[CurrencyKind::Counter], p);
            if s.visits.is_none_or(|v| v == 0) {
                p.push(format!("{path}.visits"), said::pass_needs_visits());
            }
        }
        CardKind::Credit => {
            currency(&[CurrencyKind::Money], p);
            if s.credit_limit.is_none_or(|l| l.0 < Decimal::ZERO) {
                p.push(format!("{path}.credit_limit"), said::credit_needs_limit());
            }
        }
        CardKind::Loyalty => {}
    }
}
