//! The scheduled jobs, run by `loyd serve` every interval, by `loyd jobs run` and by
//! staff from the admin API: releasing expired holds, burning expired lots and the
//! points of inactive customers, converting balances that reached their threshold,
//! adding new receipts to the sales aggregates (each batch moves its cursor in the
//! transaction that adds them). Each works in bounded batches until nothing is left, and each item is its own
//! transaction that re-checks what it acts on, so reruns and several servers running
//! the same job at once never act twice. Every run is recorded in `job_runs`.

use crate::{Store, StoreError};
use loyd_domain::time::Timestamp;

/// Items one batch of a job handles before the next batch.
const BATCH: u32 = 500;

/// Who starts the runs of the server's schedule.
pub const SCHEDULE: &str = "schedule";

/// A scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Voids holds past their timeout.
    ExpireHolds,
    /// Burns what is left in lots past their expiry (points to `expired`, a card's
    /// prepaid rest to `breakage`).
    ExpireLots,
    /// Burns the points of customers inactive for their currency's `inactivity_days`.
    BurnInactive,
    /// Converts balances that reached their conversion threshold.
    ConvertBalances,
    /// Adds new receipts to the sales aggregates reports and the dashboard read.
    RollUp,
    /// Runs the fraud rules over new receipts, returns and refusals.
    DetectFraud,
    /// Scores customers' RFM groups and lists the members of segments (a pass at most
    /// hourly, or when the program changed or one was asked for).
    Segments,
    /// Raises `points.expiring` for points that expire soon (at most hourly), for the
    /// messages and webhooks that want it.
    ExpiryNotices,
    /// Raises `customer.birthday` the days ahead the messages ask (at most hourly), once a
    /// year per customer and notice.
    Birthdays,
    /// Raises `crm.task_due` for tasks and reminders that came due, for their assignees.
    TaskReminders,
    /// Raises `tier.changed` for customers whose level fell as old receipts left a tier
    /// counter's range.
    TierReviews,
    /// Deletes the portal's spent codes and ended sessions; once a day, as `[retention]`
    /// says, empties old messages' data and erases the personal data of inactive members.
    Retention,
}

impl Job {
    /// In the order a full run takes them.
    pub const ALL: [Job; 12] = [
        Job::ExpireHolds,
        Job::ExpireLots,
        Job::BurnInactive,
        Job::ConvertBalances,
        Job::RollUp,
        Job::DetectFraud,
        Job::Segments,
        Job::ExpiryNotices,
        Job::Birthdays,
        Job::TaskReminders,
        Job::TierReviews,
        Job::Retention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Job::ExpireHolds => "expire_holds",
            Job::ExpireLots => "expire_lots",
            Job::BurnInactive => "burn_inactive",
            Job::ConvertBalances => "convert_balances",
            Job::RollUp => "roll_up",
            Job::DetectFraud => "detect_fraud",
            Job::Segments => "segments",
            Job::ExpiryNotices => "expiry_notices",
            Job::Birthdays => "birthdays",
            Job::TaskReminders => "task_reminders",
            Job::TierReviews => "tier_reviews",
            Job::Retention => "retention",
        }
    }

    pub fn parse(name: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == name)
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRun {
    pub id: i64,
    pub job: Job,
    /// [`SCHEDULE`], `cli`, or the staff member or API key (`user:ann`, `key:ops`).
    pub started_by: String,
    pub started_at: Timestamp,
    /// `None` while it runs (or when its server stopped before it ended).
    pub finished_at: Option<Timestamp>,
    /// Holds, lots, accounts or balances it acted on.
    pub items: i64,
    /// Why it stopped, when it failed; what it did before stays done.
    pub error: Option<String>,
}

impl Store {
    /// Runs `job` to the end and records the run as started by `started_by`.
    pub async fn run_job(&self, job: Job, started_by: String) -> Result<JobRun, StoreError> {
        let run = self.start_job_run(job, started_by).await?;
        self.finish_job(job, run.id).await
    }

    /// Runs `job` to the end under the run `id` recorded by [`Store::start_job_run`],
    /// then records how it ended. A failing batch ends the run with its error; what
    /// the batches before it did stays done. `Err` only when the run cannot be recorded.
    pub async fn finish_job(&self, job: Job, id: i64) -> Result<JobRun, StoreError> {
        let mut items = 0usize;
        let error = loop {
            let batch = match job {
                Job::ExpireHolds => self.expire_holds(BATCH).await,
                Job::ExpireLots => self.burn_expired_lots(BATCH).await,
                Job::BurnInactive => self.burn_inactive(BATCH).await,
                Job::ConvertBalances => self.convert_balances(BATCH).await,
                Job::RollUp => self.roll_up(BATCH).await,
                Job::DetectFraud => self.detect_fraud(BATCH).await,
                Job::Segments => self.segments_batch(BATCH).await,
                // One pass an hour: a second within the hour raises nothing and ends the run.
                Job::ExpiryNotices => self.expiry_notices().await,
                Job::Birthdays => self.birthday_notices().await,
                Job::TaskReminders => self.task_notices().await,
                Job::TierReviews => self.tier_reviews(BATCH).await,
                Job::Retention => self.retention_batch(BATCH).await,
            };
            match batch {
                Ok(n) => {
                    items += n;
                    if n < BATCH as usize {
                        break None;
                    }
                }
                Err(e) => break Some(e.to_string()),
            }
        };
        self.finish_job_run(id, i64::try_from(items).unwrap_or(i64::MAX), error).await
    }
}
