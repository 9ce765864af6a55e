//! When a store's receipts may be dated ([`TimePolicy`]): the offline window and the
//! clock skew allowed ahead of the server.

use jiff::Timestamp;

use super::ReceiptError;

/// How many days back a store takes receipts by default (offline uploads included).
pub const DEFAULT_OFFLINE_DAYS: u32 = 30;
/// How far ahead of the server's clock a POS clock may run.
pub const CLOCK_SKEW_AHEAD: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// When a store's receipts may be dated: not before the store existed, not older than
/// its offline policy allows, and not ahead of the server's clock by more than
/// [`CLOCK_SKEW_AHEAD`]. A receipt from year 1 or 1970 is a broken POS clock, and
/// would be computed with rules that never applied to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePolicy {
    /// When the store was first configured; `None`: no lower bound from it.
    pub opened_at: Option<Timestamp>,
    /// How many days back a receipt may be dated (the store's `offline_days`).
    pub offline_days: u32,
}

impl Default for TimePolicy {
    fn default() -> Self {
        TimePolicy { opened_at: None, offline_days: DEFAULT_OFFLINE_DAYS }
    }
}

impl TimePolicy {
    /// Refuses `at` outside the window, saying which bound it broke.
    pub fn check(&self, at: Timestamp, now: Timestamp) -> Result<(), ReceiptError> {
        let by_age = now - jiff::SignedDuration::from_hours(24 * i64::from(self.offline_days));
        let earliest = self.opened_at.map_or(by_age, |o| o.max(by_age));
        let latest = now + CLOCK_SKEW_AHEAD;
        let why = if at > latest {
            "more than an hour ahead of the server's clock"
        } else if self.opened_at.is_some_and(|o| at < o) {
            "before the store was configured"
        } else if at < by_age {
            "older than the store's offline policy allows"
        } else {
            return Ok(());
        };
        Err(ReceiptError::TimeOutOfRange { at, why, earliest, latest })
    }
}
