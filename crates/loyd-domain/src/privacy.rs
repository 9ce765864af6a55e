//! How long personal data is kept (`[retention]` of the program): the bounds a program
//! may set, and what the retention job decides from them. The store erases and empties;
//! this module says when.

use jiff::{SignedDuration, Timestamp};

/// Members are erased after at least this many days without activity (a season's
/// customers are not forgotten between seasons).
pub const LEAST_INACTIVE_DAYS: u32 = 90;
/// Messages' data is kept at least this many days (the time to look into a complaint).
pub const LEAST_MESSAGES_DAYS: u32 = 7;
/// At most ten years.
pub const MOST_DAYS: u32 = 3660;
/// The portal's sign-in codes, gift card checks and ended sessions are deleted this
/// long after they stopped counting (rate limits look back an hour).
pub const PORTAL_LEFTOVERS: SignedDuration = SignedDuration::from_hours(24);
/// A pass of the retention job starts at most this often.
pub const PASS_EVERY: SignedDuration = SignedDuration::from_hours(24);

/// The moment before which what is `days` old counts as too old, at `now`.
pub fn cutoff(now: Timestamp, days: u32) -> Timestamp {
    now - SignedDuration::from_hours(24 * i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_whole_days_before_now() {
        let now: Timestamp = "2026-12-08T10:00:00Z".parse().unwrap();
        assert_eq!(cutoff(now, 90).to_string(), "2026-09-09T10:00:00Z");
    }
}
