//! Currencies (value, redemption, lifetime, conversion) and card series.

use std::collections::{BTreeMap, BTreeSet};

use jiff::SignedDuration;
use rust_decimal::Decimal;

use super::{Problems, share};

use crate::ids::AssetCode;
use crate::money;
use crate::program::*;

pub(super) fn compile_currency(c: &CurrencySpec, path: &str, p: &mut Problems, names: &mut Names) -> Currency {
    let value = match (c.value, c.kind) {
        (Some(v), _) if v.0 <= Decimal::ZERO => {
            p.push(format!("{path}.value"), "the value of a unit must be positive");
            None
        }
        (Some(v), _) => Some(v.0),
        (None, CurrencyKind::Money) => Some(Decimal::ONE),
        (None, _) => None,
    };
    let redeem = c.redeem.as_ref().map(|r| {
        if value.is_none() {
            p.push(format!("{path}.value"), "a currency that pays receipts needs the value of one unit");
        }
        // An amount of this currency of at least `least` minor units, if given and valid.
        let units = |v: Option<Dec>, field: &str, least: i64, p: &mut Problems| match v.map(|m| money::to_minor_exact(m.0, c.scale)) {
            None => None,
            Some(Ok(v)) if v >= least => Some(v),
            Some(_) => {
                let what = if least == 0 { "a non-negative amount" } else { "an amount above 0" };
                p.push(format!("{path}.redeem.{field}"), format!("must be {what} with at most {} decimals", c.scale.places()));
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
            p.push(format!("{path}.lifetime"), "give exactly one of days, months, until or period_end");
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
        p.push(format!("{path}.to"), format!("unknown currency '{}'", conv.to));
        return None;
    };
    if conv.to == c.code {
        p.push(format!("{path}.to"), "a currency cannot convert into itself");
        return None;
    }
    let every = money::to_minor_exact(conv.every.0, c.scale);
    let gives = money::to_minor_exact(conv.gives.0, target.scale);
    match (every, gives) {
        (Ok(every), Ok(gives)) if every > 0 && gives > 0 => Some(Conversion { to: conv.to.clone(), every, gives }),
        _ => {
            p.push(path, format!("every and gives must be positive amounts of {} and {}", c.code, conv.to));
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
            p.push(format!("{path}.denominated_in"), format!("'{d}' is not a money currency defined in [[currencies]]"));
            None
        }
        Some(d) if stores.contains(&c.code) && *d != c.code => {
            p.push(format!("{path}.denominated_in"), format!("{} is a store currency: it is counted in itself", c.code));
            None
        }
        Some(d) => Some(d.clone()),
        None if c.kind != CurrencyKind::Money => None,
        None if stores.contains(&c.code) => Some(c.code.clone()),
        None if stores.len() > 1 => {
            p.push(
                format!("{path}.denominated_in"),
                format!("stores take {}: say which of them one unit of {} is worth (denominated_in)", listed(), c.code),
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
                p.push(at, "rates convert from the currency named in denominated_in; name it");
            }
            Some(d) if d == to => p.push(at, format!("{} is already counted in {to}", c.code)),
            _ if !money(to) => p.push(at, format!("'{to}' is not a money currency defined in [[currencies]]")),
            _ if rate.0 <= Decimal::ZERO => p.push(at, "a rate must be positive"),
            _ => rates.push((to.clone(), rate.0)),
        }
    }
    (denomination, rates)
}

pub(super) fn check_series(s: &CardSeriesSpec, path: &str, currencies: &BTreeMap<AssetCode, Currency>, p: &mut Problems) {
    if !s.prefix.bytes().all(|b| b.is_ascii_digit()) {
        p.push(format!("{path}.prefix"), "a prefix is digits only");
    }
    if !(6..=19).contains(&s.length) || usize::from(s.length) <= s.prefix.len() + 1 {
        p.push(format!("{path}.length"), "a card number has 6 to 19 digits, more than the prefix and check digit");
    }
    let free = usize::from(s.length).saturating_sub(s.prefix.len() + usize::from(s.check_digit != CheckDigit::None));
    if s.numbering == spec::Numbering::Random && free < spec::MIN_RANDOM_DIGITS {
        p.push(
            format!("{path}.numbering"),
            format!("random numbers need at least {} digits after the prefix and check digit; this series has {free}", spec::MIN_RANDOM_DIGITS),
        );
    }
    let currency = |kinds: &[CurrencyKind], p: &mut Problems| match &s.currency {
        None => p.push(format!("{path}.currency"), format!("a {} series needs a currency", s.kind.name())),
        Some(c) => match currencies.get(c) {
            None => p.push(format!("{path}.currency"), format!("unknown currency '{c}'")),
            Some(cur) if !kinds.contains(&cur.kind) => p.push(
                format!("{path}.currency"),
                format!("a {} series needs a {} currency", s.kind.name(), kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(" or ")),
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
                    "both nominals and amount_min/amount_max given: a gift series sells either fixed nominals or any amount in a range",
                ),
                (false, false) => p.push(path, "a gift series needs either amount_min and amount_max, or nominals"),
                _ => {}
            }
            if range && (s.amount_min.is_none() || s.amount_max.is_none()) {
                p.push(path, "a range needs both amount_min and amount_max");
            }
            if let (Some(a), Some(b)) = (s.amount_min, s.amount_max)
                && (a.0 <= Decimal::ZERO || a.0 > b.0)
            {
                p.push(format!("{path}.amount_min"), "amount_min must be positive and at most amount_max");
            }
        }
        CardKind::Pass => {
            currency(&[CurrencyKind::Counter], p);
            if s.visits.is_none_or(|v| v == 0) {
                p.push(format!("{path}.visits"), "a pass series needs a number of visits");
            }
        }
        CardKind::Credit => {
            currency(&[CurrencyKind::Money], p);
            if s.credit_limit.is_none_or(|l| l.0 < Decimal::ZERO) {
                p.push(format!("{path}.credit_limit"), "a credit series needs a credit limit");
            }
        }
        CardKind::Loyalty => {}
    }
}
