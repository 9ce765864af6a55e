//! Scheduled work, run inside `loyd serve` every interval and on demand by
//! `loyd jobs run`: releasing expired holds, burning expired lots and the points of
//! inactive customers, converting balances that reached their threshold. Every job works in bounded batches and is idempotent, so
//! several server processes may run it at once.

use std::time::Duration;

use loyd_store::{Store, StoreError};
use tokio::sync::watch;

/// Items one batch of a job handles before the next batch (or the next interval).
const BATCH: u32 = 500;

/// What one run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunReport {
    pub holds_expired: usize,
    pub lots_burned: usize,
    pub inactive_burned: usize,
    pub converted: usize,
}

/// Runs every job until it has nothing left to do.
pub async fn run_once(store: &Store) -> Result<RunReport, StoreError> {
    let mut report = RunReport::default();
    loop {
        let n = store.expire_holds(BATCH).await?;
        report.holds_expired += n;
        if n < BATCH as usize {
            break;
        }
    }
    loop {
        let n = store.burn_expired_lots(BATCH).await?;
        report.lots_burned += n;
        if n < BATCH as usize {
            break;
        }
    }
    loop {
        let n = store.burn_inactive(BATCH).await?;
        report.inactive_burned += n;
        if n < BATCH as usize {
            break;
        }
    }
    loop {
        let n = store.convert_balances(BATCH).await?;
        report.converted += n;
        if n < BATCH as usize {
            break;
        }
    }
    Ok(report)
}

/// Runs the jobs every `interval` until `stop` changes.
pub async fn run_forever(store: Store, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match run_once(&store).await {
            Ok(r) if r.holds_expired + r.lots_burned + r.inactive_burned + r.converted > 0 => tracing::info!(
                holds_expired = r.holds_expired,
                lots_burned = r.lots_burned,
                inactive_burned = r.inactive_burned,
                converted = r.converted,
                "scheduled jobs ran"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled jobs failed; will retry at the next interval"),
        }
    }
}

/// Keeps the program cache in step with configuration applied by other processes
/// (`loyd apply`, other servers): checks for a new version every second.
pub async fn refresh_programs(store: Store, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match store.refresh_programs().await {
            Ok(true) => tracing::info!("configuration changed; the new program is in force"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not check for a new configuration"),
        }
    }
}
