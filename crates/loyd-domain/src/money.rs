//! Exact money: decimal on the wire and in computation, integer minor units at rest.
//!
//! Every amount Loyd stores is an `i64` count of *minor units* of an asset whose
//! [`Scale`] (number of decimal places) is fixed when the asset is defined: EUR has
//! scale 2, so `1750` minor units are `17.50`; `bonus` points with scale 0 are whole.
//!
//! **Rounding happens in exactly one place: [`round_to_minor`]**, and in
//! [`round_scaled`], which applies the same modes to an exact fraction (a percentage or
//! a rate of an amount) in integer arithmetic. Every other conversion is exact and
//! fails rather than drop a digit ([`to_minor_exact`]).
//! The modes are documented in `docs/guarantees.md`.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Most decimal places any asset may have. Nine keeps `i64` minor units good for
/// amounts up to 9 billion units even at the finest scale.
pub const MAX_SCALE: u8 = 9;

/// Longest decimal string accepted on the wire (digits, sign and point); longer
/// input is rejected before parsing so no request can make us do big-number work.
const MAX_DECIMAL_LEN: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not a decimal number: use digits with an optional '-' and '.', e.g. \"17.50\"")]
    NotADecimal(String),
    #[error("{value} has more than {scale} decimal places")]
    TooPrecise { value: Decimal, scale: u8 },
    #[error("{0} is out of the range this system can store")]
    OutOfRange(Decimal),
    #[error("scale {0} is larger than the maximum of {MAX_SCALE}")]
    ScaleTooLarge(u8),
}

/// Decimal places of an asset: 2 for EUR, 0 for whole points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Scale(u8);

impl Scale {
    pub const ZERO: Scale = Scale(0);
    pub const CENTS: Scale = Scale(2);

    pub fn new(places: u8) -> Result<Self, MoneyError> {
        if places > MAX_SCALE {
            return Err(MoneyError::ScaleTooLarge(places));
        }
        Ok(Scale(places))
    }

    pub fn places(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Scale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let places = u8::deserialize(d)?;
        Scale::new(places).map_err(serde::de::Error::custom)
    }
}

/// How a computed amount that falls between two minor units is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Commercial rounding: halves go away from zero (0.125 → 0.13). The default for money.
    #[default]
    HalfUp,
    /// Banker's rounding: halves go to the even neighbour (0.125 → 0.12).
    HalfEven,
    /// Towards zero (0.129 → 0.12). The usual choice for points: never give a fraction away.
    Down,
    /// Away from zero (0.121 → 0.13).
    Up,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Down => RoundingStrategy::ToZero,
            Rounding::Up => RoundingStrategy::AwayFromZero,
        }
    }
}

/// Parses a wire decimal strictly: an optional `-`, digits, optionally `.` and digits.
/// No exponents, no `+`, no spaces, no `_` separators (which `Decimal::from_str` would
/// otherwise accept), at most 40 characters.
pub fn parse_decimal(text: &str) -> Result<Decimal, MoneyError> {
    let bad = || MoneyError::NotADecimal(crate::text::escaped(text, MAX_DECIMAL_LEN));
    if text.is_empty() || text.len() > MAX_DECIMAL_LEN {
        return Err(bad());
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(bad());
    }
    text.parse::<Decimal>().map_err(|_| bad())
}

/// Converts a decimal to minor units without rounding: `17.50` at scale 2 is `1750`;
/// `17.505` at scale 2 is an error, never silently rounded.
pub fn to_minor_exact(value: Decimal, scale: Scale) -> Result<i64, MoneyError> {
    let normal = value.normalize();
    if normal.scale() > u32::from(scale.0) {
        return Err(MoneyError::TooPrecise { value, scale: scale.0 });
    }
    rescaled_mantissa(value, scale)
}

/// **The one place where Loyd rounds.** Converts a computed decimal (a percentage of a
/// receipt, a share of a discount) to minor units of `scale` using `rounding`.
pub fn round_to_minor(value: Decimal, scale: Scale, rounding: Rounding) -> Result<i64, MoneyError> {
    let rounded = value.round_dp_with_strategy(u32::from(scale.0), rounding.strategy());
    rescaled_mantissa(rounded, scale)
}

/// `minor` units of scale `from`, times `mul`, divided by `div`, rounded to minor
/// units of scale `to` with `rounding`: a percentage (`mul` = percent, `div` = 100), a
/// rate per amount (`mul` = units, `div` = per), a value of points. The same rounding
/// as [`round_to_minor`], applied to the exact rational result, computed in 128-bit
/// integers (the engine does thousands of these per receipt); only numbers too large
/// for that go through decimal arithmetic (28 significant digits) and
/// [`round_to_minor`].
pub fn round_scaled(minor: i64, from: Scale, mul: Decimal, div: Decimal, to: Scale, rounding: Rounding) -> Result<i64, MoneyError> {
    let exact = || -> Option<i64> {
        // minor/10^from × (m/10^ms) / (d/10^ds) × 10^to
        //   = minor × m × 10^(to + ds)  /  (d × 10^(from + ms))
        let (to_places, from_places) = (u32::from(to.0) + div.scale(), u32::from(from.0) + mul.scale());
        // Most amounts fit 64 bits, whose arithmetic is several times faster.
        let small = || -> Option<(i64, i64)> {
            let (m, d) = (i64::try_from(mul.mantissa()).ok()?, i64::try_from(div.mantissa()).ok()?);
            let num = minor.checked_mul(m)?.checked_mul(10i64.checked_pow(to_places)?)?;
            let den = d.checked_mul(10i64.checked_pow(from_places)?)?;
            (den != 0 && den != -1).then_some((num, den))
        };
        let (num, den, q, r) = match small() {
            Some((n, d)) => (i128::from(n), i128::from(d), i128::from(n / d), i128::from(n % d)),
            None => {
                let num = i128::from(minor).checked_mul(mul.mantissa())?.checked_mul(10i128.checked_pow(to_places)?)?;
                let den = div.mantissa().checked_mul(10i128.checked_pow(from_places)?)?;
                if den == 0 {
                    return None;
                }
                (num, den, num / den, num % den)
            }
        };
        let (r2, d) = (r.unsigned_abs().checked_mul(2)?, den.unsigned_abs());
        let away = match rounding {
            Rounding::Down => false,
            Rounding::Up => r != 0,
            Rounding::HalfUp => r2 >= d,
            Rounding::HalfEven => r2 > d || (r2 == d && q % 2 != 0),
        };
        let sign = if (num < 0) != (den < 0) { -1 } else { 1 };
        i64::try_from(if away { q + sign } else { q }).ok()
    };
    match exact() {
        Some(v) => Ok(v),
        None => {
            let value = from_minor(minor, from).checked_mul(mul).and_then(|v| v.checked_div(div)).ok_or(MoneyError::OutOfRange(mul))?;
            round_to_minor(value, to, rounding)
        }
    }
}

fn rescaled_mantissa(value: Decimal, scale: Scale) -> Result<i64, MoneyError> {
    let mut v = value;
    v.rescale(u32::from(scale.0));
    // `rescale` silently keeps a smaller scale when the number cannot be represented.
    if v.scale() != u32::from(scale.0) {
        return Err(MoneyError::OutOfRange(value));
    }
    i64::try_from(v.mantissa()).map_err(|_| MoneyError::OutOfRange(value))
}

/// Minor units back to a decimal with exactly `scale` places (`1750`, 2 → `17.50`).
pub fn from_minor(minor: i64, scale: Scale) -> Decimal {
    Decimal::new(minor, u32::from(scale.0))
}

/// An amount of some asset in minor units together with its scale: what a response
/// prints as a decimal string ("17.50") and what the database stores as `1750`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Minor {
    pub units: i64,
    pub scale: Scale,
}

impl Minor {
    pub fn new(units: i64, scale: Scale) -> Self {
        Minor { units, scale }
    }

    pub fn to_decimal(self) -> Decimal {
        from_minor(self.units, self.scale)
    }
}

impl fmt::Display for Minor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal())
    }
}

impl Serialize for Minor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn wire_decimals_parse_only_in_plain_notation() {
        assert_eq!(parse_decimal("17.50").unwrap(), d("17.50"));
        assert_eq!(parse_decimal("-0.5").unwrap(), d("-0.5"));
        assert_eq!(parse_decimal("0").unwrap(), d("0"));
        for bad in ["", "1e5", "+1", " 1", "1 ", "1_000", ".5", "5.", "1.2.3", "abc", "--1", "NaN"] {
            assert!(parse_decimal(bad).is_err(), "{bad:?} must be rejected");
        }
        assert!(parse_decimal(&"9".repeat(41)).is_err());
    }

    #[test]
    fn exact_conversion_refuses_to_drop_digits() {
        assert_eq!(to_minor_exact(d("17.50"), Scale::CENTS).unwrap(), 1750);
        assert_eq!(to_minor_exact(d("17.5000"), Scale::CENTS).unwrap(), 1750);
        assert_eq!(to_minor_exact(d("3"), Scale::ZERO).unwrap(), 3);
        assert!(matches!(to_minor_exact(d("17.505"), Scale::CENTS), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(to_minor_exact(d("0.5"), Scale::ZERO), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(
            to_minor_exact(d("99999999999999999999"), Scale::CENTS),
            Err(MoneyError::OutOfRange(_))
        ));
    }

    #[test]
    fn each_rounding_mode_resolves_halves_as_documented() {
        let cases = [
            ("0.125", Rounding::HalfUp, 13),
            ("0.125", Rounding::HalfEven, 12),
            ("0.135", Rounding::HalfEven, 14),
            ("0.129", Rounding::Down, 12),
            ("0.121", Rounding::Up, 13),
            ("-0.125", Rounding::HalfUp, -13),
            ("-0.129", Rounding::Down, -12),
        ];
        for (value, mode, expected) in cases {
            assert_eq!(round_to_minor(d(value), Scale::CENTS, mode).unwrap(), expected, "{value} {mode:?}");
        }
    }

    #[test]
    fn minor_units_print_with_exactly_the_scale_of_their_asset() {
        assert_eq!(Minor::new(1750, Scale::CENTS).to_string(), "17.50");
        assert_eq!(Minor::new(5, Scale::CENTS).to_string(), "0.05");
        assert_eq!(Minor::new(-5, Scale::CENTS).to_string(), "-0.05");
        assert_eq!(Minor::new(40, Scale::ZERO).to_string(), "40");
        assert_eq!(Minor::new(0, Scale::CENTS).to_string(), "0.00");
    }

    proptest! {
        #[test]
        fn minor_units_survive_a_round_trip_through_decimal_text(units in any::<i64>(), places in 0u8..=MAX_SCALE) {
            let scale = Scale::new(places).unwrap();
            let text = Minor::new(units, scale).to_string();
            let back = to_minor_exact(parse_decimal(&text).unwrap(), scale).unwrap();
            prop_assert_eq!(back, units);
        }

        #[test]
        fn rounding_never_moves_a_value_by_a_whole_minor_unit(cents in -1_000_000_000i64..1_000_000_000, extra in 0u32..1000) {
            // value = cents/100 + extra/100000: somewhere between two cent values.
            let value = Decimal::new(cents, 2) + Decimal::new(i64::from(extra), 5);
            for mode in [Rounding::HalfUp, Rounding::HalfEven, Rounding::Down, Rounding::Up] {
                let r = round_to_minor(value, Scale::CENTS, mode).unwrap();
                let diff = (from_minor(r, Scale::CENTS) - value).abs();
                prop_assert!(diff < Decimal::new(1, 2));
            }
        }

        #[test]
        fn a_scaled_amount_is_exactly_the_decimal_result_rounded(
            minor in -1_000_000_000_000i64..1_000_000_000_000, mantissa in -10_000_000i64..10_000_000, places in 0u32..=12,
            from in 0u8..=4, to in 0u8..=4, div in prop::sample::select(vec!["1", "100", "0.5", "2.5", "4", "0.08", "-20"])
        ) {
            let (from, to, mul, div) = (Scale::new(from).unwrap(), Scale::new(to).unwrap(), Decimal::new(mantissa, places), d(div));
            for mode in [Rounding::HalfUp, Rounding::HalfEven, Rounding::Down, Rounding::Up] {
                // These divisors divide exactly, so decimal arithmetic is exact too.
                let slow = round_to_minor(from_minor(minor, from) * mul / div, to, mode);
                prop_assert_eq!(round_scaled(minor, from, mul, div, to, mode), slow, "{} x {} / {} {:?}", minor, mul, div, mode);
            }
        }
    }

    #[test]
    fn a_scaled_amount_resolves_halves_like_round_to_minor() {
        // 0.25 × 0.5 = 0.125 and 0.35 × 0.5 = 0.175, at scale 2.
        let one = Decimal::ONE;
        for (minor, mode, expected) in [(25, Rounding::HalfUp, 13), (25, Rounding::HalfEven, 12), (35, Rounding::HalfEven, 18), (-25, Rounding::HalfUp, -13), (25, Rounding::Down, 12), (-25, Rounding::Up, -13)] {
            assert_eq!(round_scaled(minor, Scale::CENTS, d("0.5"), one, Scale::CENTS, mode).unwrap(), expected, "{minor} {mode:?}");
        }
    }

    #[test]
    fn a_scaled_amount_rounds_the_exact_fraction_not_a_truncated_decimal() {
        // 3.00 × 1 / 3 is exactly 1, though 1/3 has no finite decimal.
        let (three, one) = (d("3"), Decimal::ONE);
        assert_eq!(round_scaled(300, Scale::CENTS, one, three, Scale::ZERO, Rounding::Down).unwrap(), 1);
        assert_eq!(round_scaled(300, Scale::CENTS, one, three, Scale::ZERO, Rounding::Up).unwrap(), 1);
        // 10.00 per 3.00 → 3.33… units: 3 down, 4 up.
        assert_eq!(round_scaled(1000, Scale::CENTS, one, three, Scale::ZERO, Rounding::Down).unwrap(), 3);
        assert_eq!(round_scaled(1000, Scale::CENTS, one, three, Scale::ZERO, Rounding::Up).unwrap(), 4);
    }
}
