//! Currencies as the engine uses them: scale, rounding, value, redemption, when accrued
//! units activate and expire ([`Currency::lot_terms`]), inactivity, and conversion into
//! another currency ([`Conversion::of`]).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use rust_decimal::Decimal;

use super::{CurrencyKind, Goods, PeriodUnit};
use crate::ids::AssetCode;
use crate::money::{Rounding, Scale};

/// When accrued units expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Days(u32),
    Months(u32),
    Until(Timestamp),
    PeriodEnd(PeriodUnit),
}

/// A conversion of one currency into another, in minor units of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub to: AssetCode,
    pub every: i64,
    pub gives: i64,
}

impl Conversion {
    /// What converting `available` minor units takes and gives, as often as the threshold
    /// fits; `None` below the threshold. The engine shows it, the job applies it.
    pub fn of(&self, available: i64) -> Option<(i64, i64)> {
        let times = available / self.every;
        (times > 0).then(|| (times * self.every, times * self.gives))
    }
}

/// A currency as the engine uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    pub code: AssetCode,
    pub kind: CurrencyKind,
    pub scale: Scale,
    pub rounding: Rounding,
    /// Store-money value of one whole unit, if it can pay.
    pub value: Option<Decimal>,
    /// The store currency `value` counts in; `None`: any store's money.
    pub denomination: Option<AssetCode>,
    /// What one unit of the denomination is worth in other store currencies.
    pub rates: Vec<(AssetCode, Decimal)>,
    pub redeem: Option<Redeem>,
    pub activation: Option<SignedDuration>,
    pub lifetime: Option<Lifetime>,
    pub conversion: Option<Conversion>,
    /// All units burn after this long without a purchase.
    pub inactivity: Option<SignedDuration>,
}

/// The first moment of the calendar period of `unit` containing `at`, in `tz`.
fn period_start(at: Timestamp, unit: PeriodUnit, tz: &TimeZone) -> Option<jiff::ZonedDateTime> {
    let z = at.to_zoned_datetime(tz.clone());
    let month = match unit {
        PeriodUnit::Month => z.month(),
        PeriodUnit::Quarter => (z.month() - 1) / 3 * 3 + 1,
        PeriodUnit::Year => 1,
    };
    jiff::civil::date(z.year(), month, 1).to_zoned_datetime(tz.clone()).ok()
}

impl Currency {
    /// How much money of a store taking `store_currency` one unit of this currency's
    /// denomination is worth: 1 where the store takes the denomination (or the currency
    /// has none), the configured rate elsewhere, `None` without a rate, where the
    /// currency neither pays nor earns.
    pub fn rate_in(&self, store_currency: &AssetCode) -> Option<Decimal> {
        match &self.denomination {
            None => Some(Decimal::ONE),
            Some(d) if d == store_currency => Some(Decimal::ONE),
            Some(_) => self.rates.iter().find(|(c, _)| c == store_currency).map(|(_, r)| *r),
        }
    }

    /// Store-money value, in minor units of a store taking `store_currency` at `scale`,
    /// of `units` minor units of this currency: units × value × rate, rounded down once
    /// (never more than they are worth). 0 when the currency has no value there.
    pub fn worth(&self, units: i64, store_currency: &AssetCode, scale: Scale) -> i64 {
        let (Some(value), Some(rate)) = (self.value, self.rate_in(store_currency)) else { return 0 };
        let value = if rate == Decimal::ONE { value } else { value * rate };
        crate::money::round_scaled(units, self.scale, value, Decimal::ONE, scale, Rounding::Down).unwrap_or(0)
    }

    /// Lot dates for units accrued at `at` in a store of time zone `tz`.
    pub fn lot_terms(&self, at: Timestamp, tz: &TimeZone) -> crate::ledger::LotTerms {
        let available_at = self.activation.map(|d| at + d);
        let start = available_at.unwrap_or(at);
        let expires_at = self.lifetime.and_then(|l| {
            let zoned = start.to_zoned_datetime(tz.clone());
            match l {
                Lifetime::Days(d) => zoned.checked_add(i64::from(d).days()).ok().map(|z| z.timestamp()),
                Lifetime::Months(m) => zoned.checked_add(i64::from(m).months()).ok().map(|z| z.timestamp()),
                Lifetime::Until(t) => Some(t),
                Lifetime::PeriodEnd(unit) => period_start(start, unit, tz)
                    .and_then(|p| p.checked_add(unit.months().months()).ok())
                    .map(|z| z.timestamp()),
            }
        });
        // Units that would expire before they activate are given with no activation.
        match (available_at, expires_at) {
            (Some(a), Some(e)) if a >= e => crate::ledger::LotTerms { available_at: None, expires_at: Some(e) },
            _ => crate::ledger::LotTerms { available_at, expires_at },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeem {
    /// In minor units of the currency.
    pub min_balance: i64,
    pub max_share: Option<Decimal>,
    pub excluded: Goods,
    pub accrue_on_redeemed: bool,
    /// Units are spent in multiples of this many minor units (1: any amount).
    pub step: i64,
    /// At most this many minor units per receipt.
    pub max_units: Option<i64>,
}
