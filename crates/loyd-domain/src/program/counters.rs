//! Counters (sums, counts and visits over a window or a calendar period) and the tier
//! levels they reach: [`Tier::level`] is where a customer's level is computed, per
//! receipt, from [`counter_values`] or [`counter_values_from_totals`].

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use rust_decimal::Decimal;

use super::{Measure, PeriodUnit};
use crate::ids::ConfigCode;
use crate::money::{self, Scale};

/// Where a counter's receipts start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterRange {
    Window(SignedDuration),
    Period { start: Timestamp, every: PeriodUnit },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub id: ConfigCode,
    pub measure: Measure,
    pub range: CounterRange,
}

impl Counter {
    /// Receipts from this moment up to `at` count at `at`. Before the first period
    /// starts, nothing counts.
    pub fn start_at(&self, at: Timestamp) -> Timestamp {
        match self.range {
            CounterRange::Window(w) => at - w,
            CounterRange::Period { start, every } => {
                if at < start {
                    return at;
                }
                // The zone of `start` does not matter for adding months to an instant
                // expressed with its own offset; UTC keeps it exact and simple.
                let z = start.to_zoned_datetime(TimeZone::UTC);
                let mut k: i64 = 0;
                loop {
                    let next = z.checked_add(((k + 1) * every.months()).months()).map(|n| n.timestamp());
                    match next {
                        Ok(n) if n <= at => k += 1,
                        _ => break,
                    }
                }
                z.checked_add((k * every.months()).months()).map(|s| s.timestamp()).unwrap_or(start)
            }
        }
    }
}

/// The values of `counters` at `at`, from a customer's earlier receipts: `(time, paid)`
/// pairs, `paid` in store minor units after discounts and returns. Receipts committed
/// before the one being computed count even when they carry the same time. Money
/// counters are in store money; counts are whole numbers. Visits are distinct days in
/// `tz`.
pub fn counter_values(
    counters: &[Counter],
    receipts: &[(Timestamp, i64)],
    at: Timestamp,
    scale: Scale,
    tz: &TimeZone,
) -> BTreeMap<String, Decimal> {
    counter_values_since(counters, receipts, at, at, scale, tz)
}

/// [`counter_values`] up to `at` with each counter's range starting where it started at
/// `window_at` (earlier than `at`: the receipts that have left a window since
/// `window_at` still count) — what the tier reviews compare with the values at `at`.
pub fn counter_values_since(
    counters: &[Counter],
    receipts: &[(Timestamp, i64)],
    window_at: Timestamp,
    at: Timestamp,
    scale: Scale,
    tz: &TimeZone,
) -> BTreeMap<String, Decimal> {
    counters
        .iter()
        .map(|c| {
            let start = c.start_at(window_at);
            let inside = receipts.iter().filter(|(t, _)| *t >= start && *t <= at);
            let value = match c.measure {
                Measure::Visits => {
                    let days: BTreeSet<jiff::civil::Date> = inside.map(|(t, _)| t.to_zoned_datetime(tz.clone()).date()).collect();
                    Decimal::from(days.len())
                }
                measure => {
                    let (paid, count) = inside.fold((0i64, 0i64), |(p, n), (_, paid)| (p + paid, n + 1));
                    totals_value(measure, CounterTotals { paid, receipts: count }, scale)
                }
            };
            (c.id.to_string(), value)
        })
        .collect()
}

/// What a database adds up for one counter: the receipts in its range at `at` (from
/// [`Counter::start_at`] to `at`, both included) and the money paid on them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterTotals {
    pub paid: i64,
    pub receipts: i64,
}

/// Whether [`counter_values_from_totals`] can give these counters' values (visits need
/// the receipts' days, so they take [`counter_values`]).
pub fn counters_from_totals(counters: &[Counter]) -> bool {
    counters.iter().all(|c| c.measure != Measure::Visits)
}

/// [`counter_values`] from totals the database added up, one per counter in order, so
/// a customer's long history need not be read receipt by receipt.
pub fn counter_values_from_totals(counters: &[Counter], totals: &[CounterTotals], scale: Scale) -> BTreeMap<String, Decimal> {
    counters.iter().zip(totals).map(|(c, t)| (c.id.to_string(), totals_value(c.measure, *t, scale))).collect()
}

fn totals_value(measure: Measure, t: CounterTotals, scale: Scale) -> Decimal {
    match measure {
        Measure::Sum => money::from_minor(t.paid, scale),
        Measure::Count => Decimal::from(t.receipts),
        Measure::Visits => unreachable!("visits are counted from the receipts' days"),
    }
}

/// The earliest moment any counter looks back to at `at`.
pub fn counters_start(counters: &[Counter], at: Timestamp) -> Option<Timestamp> {
    counters.iter().map(|c| c.start_at(at)).min()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub id: ConfigCode,
    pub counter: ConfigCode,
    /// Ascending by threshold.
    pub levels: Vec<(ConfigCode, Decimal)>,
}

impl Tier {
    /// The level a counter value reaches (the highest threshold at or below it).
    pub fn level(&self, value: Decimal) -> Option<&ConfigCode> {
        self.levels.iter().rev().find(|(_, from)| value >= *from).map(|(id, _)| id)
    }

    /// The next level above what `value` reaches, with how much more of the counter it
    /// takes; `None` at the top.
    pub fn next(&self, value: Decimal) -> Option<(&ConfigCode, Decimal)> {
        self.levels.iter().find(|(_, from)| value < *from).map(|(id, from)| (id, *from - value))
    }
}
