//! Time as the domain sees it: a [`Timestamp`] handed in by the caller.
//!
//! Domain functions never read the system clock; they take `now` as an argument. The
//! [`Clock`] trait is how the outer layers get `now`, so tests can drive time by hand.

pub use jiff::Timestamp;

/// A source of the current time. The server uses the system clock; tests use a clock
/// they move themselves.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// Microseconds since the Unix epoch: how every time is stored in the database, on both
/// backends (exact, sortable, no time-zone ambiguity).
pub fn to_micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// The inverse of [`to_micros`]. Values outside jiff's range (years beyond ±9999)
/// cannot be written by Loyd, so they are clamped rather than trusted.
pub fn from_micros(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// `t` without its sub-microsecond part: the precision every stored time has, so a
/// value read back equals the value written.
pub fn truncate_micros(t: Timestamp) -> Timestamp {
    from_micros(to_micros(t))
}

/// The end of a validity of `days` days from `from` (24-hour days, as every validity in
/// a program is counted); `None` when there is no limit.
pub fn valid_until(from: Timestamp, days: Option<u32>) -> Option<Timestamp> {
    days.map(|d| from + jiff::SignedDuration::from_hours(24 * i64::from(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validity_counts_whole_days_from_its_start_and_none_means_no_end() {
        let start: Timestamp = "2026-03-28T12:00:00Z".parse().unwrap();
        assert_eq!(valid_until(start, Some(30)), Some("2026-04-27T12:00:00Z".parse().unwrap()));
        assert_eq!(valid_until(start, Some(0)), Some(start));
        assert_eq!(valid_until(start, None), None);
    }
}
