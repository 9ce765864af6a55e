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
