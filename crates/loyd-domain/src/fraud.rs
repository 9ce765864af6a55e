//! Fraud detection's arithmetic, apart from the database: how many events fall in a
//! window, which terminals or cashiers stand out from their peers, how severe an alert
//! is. The rules and their thresholds are [`crate::program::FraudRules`]; the job that
//! reads receipts, returns and refusals and records alerts is the store's.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::program::FraudRule;

/// An hour and a day, in the microseconds times are kept in.
pub const HOUR: i64 = 3_600_000_000;
pub const DAY: i64 = 24 * HOUR;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(name: &str) -> Option<Severity> {
        [Severity::Low, Severity::Medium, Severity::High].into_iter().find(|s| s.name() == name)
    }

    fn up(self) -> Severity {
        match self {
            Severity::Low => Severity::Medium,
            _ => Severity::High,
        }
    }
}

/// An alert's severity: the rule's own, one step up when what was counted is at least
/// twice the limit it passed. Guessing card numbers is high from the start; many cards
/// on one phone is low (families share a phone).
pub fn severity(rule: FraudRule, figure: Decimal, limit: Decimal) -> Severity {
    let base = match rule {
        FraudRule::CardGuessing => Severity::High,
        FraudRule::CardsPerPhone => Severity::Low,
        _ => Severity::Medium,
    };
    if limit > Decimal::ZERO && figure >= limit * Decimal::TWO { base.up() } else { base }
}

/// The events of `times` (sorted) in the window of length `window` that ends at `at`
/// (after `at - window`, up to `at`): their positions in `times`.
pub fn within(times: &[i64], at: i64, window: i64) -> std::ops::Range<usize> {
    let start = times.partition_point(|t| *t <= at - window);
    let end = times.partition_point(|t| *t <= at);
    start..end.max(start)
}

/// A terminal's or cashier's count on one day beside its peers'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlier {
    pub actor: String,
    pub count: i64,
    /// The median count of all of them that day.
    pub median: Decimal,
    /// What the count passed: `factor` × the median (at least 1).
    pub limit: Decimal,
}

/// Peers needed before anyone can stand out from them.
pub const MIN_PEERS: usize = 3;

/// The actors whose count exceeds `factor` times the median of all (counted as at
/// least 1) and is at least `min`. Fewer than [`MIN_PEERS`] actors make no median.
pub fn outliers(counts: &[(String, i64)], factor: Decimal, min: u32) -> Vec<Outlier> {
    if counts.len() < MIN_PEERS {
        return Vec::new();
    }
    let mut sorted: Vec<i64> = counts.iter().map(|(_, n)| *n).collect();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        Decimal::from(sorted[mid])
    } else {
        (Decimal::from(sorted[mid - 1]) + Decimal::from(sorted[mid])) / Decimal::TWO
    };
    let limit = factor * median.max(Decimal::ONE);
    counts
        .iter()
        .filter(|(_, n)| Decimal::from(*n) > limit && *n >= i64::from(min))
        .map(|(actor, n)| Outlier { actor: actor.clone(), count: *n, median, limit })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn a_window_holds_the_events_after_its_start_up_to_its_end() {
        let times = [0, 10, 20, 30, 40];
        assert_eq!(within(&times, 30, 20), 2..4, "20 is on the start and left out; 30 is on the end and kept");
        assert_eq!(within(&times, 5, 100), 0..1);
        assert_eq!(within(&times, 100, 10), 5..5);
    }

    #[test]
    fn a_terminal_stands_out_when_it_passes_the_factor_times_the_median_and_the_minimum() {
        let counts: Vec<(String, i64)> = [("a", 2), ("b", 3), ("c", 4), ("d", 40)].iter().map(|(a, n)| (a.to_string(), *n)).collect();
        let found = outliers(&counts, d("5"), 20);
        assert_eq!(found, vec![Outlier { actor: "d".into(), count: 40, median: d("3.5"), limit: d("17.5") }]);
        assert!(outliers(&counts, d("5"), 41).is_empty(), "below the minimum");
        assert!(outliers(&counts[2..], d("5"), 1).is_empty(), "two are no peers");
        // A median of zero counts as one: 6 > 5 × 1.
        let quiet: Vec<(String, i64)> = [("a", 0), ("b", 0), ("c", 6)].iter().map(|(a, n)| (a.to_string(), *n)).collect();
        assert_eq!(outliers(&quiet, d("5"), 1).len(), 1);
    }

    #[test]
    fn severity_goes_up_a_step_at_twice_the_limit() {
        assert_eq!(severity(FraudRule::ReceiptsPerHour, d("11"), d("10")), Severity::Medium);
        assert_eq!(severity(FraudRule::ReceiptsPerHour, d("20"), d("10")), Severity::High);
        assert_eq!(severity(FraudRule::CardsPerPhone, d("4"), d("3")), Severity::Low);
        assert_eq!(severity(FraudRule::CardsPerPhone, d("6"), d("3")), Severity::Medium);
        assert_eq!(severity(FraudRule::CardGuessing, d("11"), d("10")), Severity::High);
    }
}
