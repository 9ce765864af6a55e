//! Scheduled work, run inside `loyd serve` every interval and on demand by
//! `loyd jobs run`: every [`Job`] in turn, each run recorded by the store (which also
//! runs a single job for staff through the admin API); sending the outbox; keeping the
//! program cache current. Every job works in bounded batches and is idempotent, so
//! several server processes may run it at once.

use std::time::Duration;

use loyd_api::deliver::{Sender, deliver_all};
use loyd_store::{Job, JobRun, SCHEDULE, Store, StoreError};
use tokio::sync::watch;

/// Runs every job to the end, in order, each run recorded as started by `started_by`.
pub async fn run_once(store: &Store, started_by: &str) -> Result<Vec<JobRun>, StoreError> {
    let mut runs = Vec::with_capacity(Job::ALL.len());
    for job in Job::ALL {
        runs.push(store.run_job(job, started_by.to_owned()).await?);
    }
    Ok(runs)
}

/// Calls `pass` every `interval` until `stop` changes (a pass still going finishes).
async fn every<F, Fut>(interval: Duration, mut stop: watch::Receiver<bool>, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        pass().await;
    }
}

/// Runs the jobs every `interval` until `stop` changes.
pub async fn run_forever(store: Store, interval: Duration, stop: watch::Receiver<bool>) {
    every(interval, stop, || async {
        match run_once(&store, SCHEDULE).await {
            Ok(runs) => {
                for r in runs {
                    match &r.error {
                        Some(e) => tracing::warn!(job = %r.job, items = r.items, error = %e, "scheduled job failed; will retry at the next interval"),
                        None if r.items > 0 => tracing::info!(job = %r.job, items = r.items, "scheduled job ran"),
                        None => {}
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "scheduled jobs could not be recorded; will retry at the next interval"),
        }
    })
    .await
}

/// Sends what the outbox holds every `interval` until `stop` changes.
pub async fn deliver_forever(store: Store, sender: Sender, interval: Duration, stop: watch::Receiver<bool>) {
    every(interval, stop, || async {
        if let Err(e) = deliver_all(&store, &sender).await {
            tracing::warn!(error = %e, "delivering events failed; will retry at the next interval");
        }
    })
    .await
}

/// Keeps the program cache in step with configuration applied by other processes
/// (`loyd apply`, other servers): checks for a new version every second.
pub async fn refresh_programs(store: Store, stop: watch::Receiver<bool>) {
    every(Duration::from_secs(1), stop, || async {
        match store.refresh_programs().await {
            Ok(true) => tracing::info!("configuration changed; the new program is in force"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not check for a new configuration"),
        }
    })
    .await
}
