//! Scheduled work on balances, one source for both backends: voiding holds past their
//! timeout, burning what is left in expired lots, burning the points of inactive
//! customers and converting balances that reached their threshold. Each item
//! is its own transaction on locked rows and re-checks what it acts on, so reruns and
//! concurrent runners never act twice.

use std::collections::BTreeSet;
use std::sync::Arc;

use loyd_domain::ids::{AccountId, AssetCode, TransferCode, TransferId};
use loyd_domain::ledger::{AccountSpec, BalancePolicy, DebitFrom, Holder, HolderKind, Lot, NewTransfer, Transfer, TransferKind};
use loyd_domain::program::Program;
use loyd_domain::time::{Timestamp, to_micros};
use sqlx::Row;

use super::ledger::{apply_transfers, ensure_account, load_accounts, load_lots, load_open_lots, system_account};
use super::balances::system_id;
use super::keys::{code, transfer_id};
use super::{Backend, Conn, rows};
use crate::error::StoreError;

/// Customer accounts of `asset` with a positive balance whose customer has had no
/// receipt (and whose account no credit) since `since`.
async fn inactive_accounts(c: &mut Conn, asset: &AssetCode, since: Timestamp, limit: u32) -> Result<Vec<AccountId>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.id FROM accounts a \
         WHERE a.asset = $1 AND a.holder_kind = 'customer' AND a.created_at < $2 \
           AND a.credits_posted - a.debits_posted - a.debits_pending > 0 \
           AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.customer_id = CAST(a.holder_id AS BIGINT) \
                           AND r.status = 'committed' AND r.at >= $2) \
           AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.credit_account_id = a.id AND t.at >= $2) \
         ORDER BY a.id LIMIT $3",
    )
    .bind(asset.as_str().to_owned())
    .bind(to_micros(since))
    .bind(i64::from(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok(AccountId(r.try_get("id")?))).collect()
}

/// Burns every open lot of `account` into the asset's `system/expired` account.
async fn burn_all(c: &mut Conn, account: AccountId, asset: &AssetCode, since: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
    let ids = BTreeSet::from([account]);
    load_accounts(c, &ids, true).await?;
    // Re-check under the lock: a purchase may have come in meanwhile.
    if !inactive_accounts(c, asset, since, u32::MAX).await?.contains(&account) {
        return Ok(false);
    }
    let sink = system_id(c, "expired", asset, now).await?;
    let lots = load_open_lots(c, &ids).await?;
    let mut batch = Vec::with_capacity(lots.len());
    for lot in lots {
        batch.push(NewTransfer {
            debit_from: DebitFrom::Lot(lot.id.clone()),
            at: Some(now),
            reference: Some("no purchase".into()),
            ..NewTransfer::single(transfer_id(format!("inactive:{}@{}", lot.id, to_micros(now)))?, account, sink, lot.remaining, code("inactivity"))
        });
    }
    if batch.is_empty() {
        return Ok(false);
    }
    apply_transfers(c, &batch, now).await?;
    Ok(true)
}

/// Customer and organisation accounts of `asset` holding at least `every` (posted).
async fn accounts_over(c: &mut Conn, asset: &AssetCode, every: i64, limit: u32) -> Result<Vec<(AccountId, Holder)>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, holder_kind, holder_id FROM accounts WHERE asset = $1 AND holder_kind IN ('customer', 'organisation') \
         AND credits_posted - debits_posted - debits_pending >= $2 ORDER BY id LIMIT $3",
    )
    .bind(asset.as_str().to_owned())
    .bind(every)
    .bind(i64::from(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let kind = if r.try_get::<String, _>("holder_kind")? == "organisation" { HolderKind::Organisation } else { HolderKind::Customer };
            let holder = Holder::new(kind, r.try_get::<String, _>("holder_id")?).map_err(|e| StoreError::Invalid(e.to_string()))?;
            Ok((AccountId(r.try_get("id")?), holder))
        })
        .collect()
}

/// Converts what is available now in one account, as often as the threshold fits.
async fn convert_one(
    c: &mut Conn,
    account: AccountId,
    holder: &Holder,
    from: &AssetCode,
    program: &Program,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Some(conv) = program.currency(from).and_then(|c| c.conversion.clone()) else { return Ok(false) };
    let ids = BTreeSet::from([account]);
    let accounts = load_accounts(c, &ids, true).await?;
    let Some(acct) = accounts.first() else { return Ok(false) };
    let lots = load_open_lots(c, &ids).await?;
    let available = acct.balance(&lots, now).available;
    let Some((taken, given)) = conv.of(available) else { return Ok(false) };
    let holder = holder.clone();
    let target =
        ensure_account(c, &AccountSpec { holder, asset: conv.to.clone(), policy: BalancePolicy::NonNegative, tracks_lots: true }, now)
            .await?;
    let sink = system_id(c, "redemption", from, now).await?;
    let source = system_id(c, "issuance", &conv.to, now).await?;
    let stamp = to_micros(now);
    let batch = vec![
        NewTransfer {
            at: Some(now),
            ..NewTransfer::single(transfer_id(format!("convert:{account}@{stamp}:from"))?, account, sink, taken, code("conversion"))
        },
        NewTransfer {
            at: Some(now),
            ..NewTransfer::single(transfer_id(format!("convert:{account}@{stamp}:to"))?, source, target.id, given, code("conversion"))
        },
    ];
    apply_transfers(c, &batch, now).await?;
    Ok(true)
}

impl Backend {
    /// Voids holds whose timeout has passed, at most `limit` of them; returns how many.
    /// Each is its own transaction with a deterministic id, so concurrent runners and
    /// reruns never expire a hold twice.
    pub async fn expire_holds(&self, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        let due: Vec<Transfer> = {
            let mut c = self.reader().await?;
            let rows = sqlx::query(concat!(
                "SELECT ",
                transfer_cols!(),
                " FROM transfers WHERE pending_state = 'pending' AND timeout_at <= $1 ORDER BY timeout_at LIMIT $2"
            ))
            .bind(to_micros(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(rows::transfer).collect::<Result<_, _>>()?
        };
        let mut expired = 0;
        for p in due {
            let id = TransferId::parse(format!("expire:{}", p.id)).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let code = TransferCode::parse("hold_expired").expect("valid code");
            let t = NewTransfer {
                kind: TransferKind::Expire { pending: p.id.clone() },
                at: Some(now),
                ..NewTransfer::single(id, p.debit, p.credit, p.amount, code)
            };
            match self.create_transfers(vec![t], now).await {
                Ok(_) => expired += 1,
                // Posted or voided meanwhile: nothing to expire.
                Err(StoreError::Ledger(e)) => tracing::debug!(error = %e, "hold not expired"),
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }

    /// Burns what is left in lots past their expiry, at most `limit` lots; returns how
    /// many. A customer's points go to the asset's `system/expired` account; the rest of
    /// a card's prepaid value (a gift card, a pass past its validity) is breakage and goes
    /// to `system/breakage`.
    pub async fn burn_expired_lots(&self, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        let due: Vec<(Lot, AssetCode, &'static str)> = {
            let mut c = self.reader().await?;
            let rows = sqlx::query(
                "SELECT l.id, l.account_id, l.amount, l.remaining, l.available_at, l.expires_at, l.created_at, a.asset, a.holder_kind \
                 FROM lots l JOIN accounts a ON a.id = l.account_id \
                 WHERE l.remaining > 0 AND l.expires_at IS NOT NULL AND l.expires_at <= $1 ORDER BY l.expires_at LIMIT $2",
            )
            .bind(to_micros(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await?;
            rows.iter()
                .map(|r| {
                    let asset = AssetCode::parse(r.try_get::<String, _>("asset")?).map_err(|e| rows::corrupt(e.to_string()))?;
                    let sink = if r.try_get::<String, _>("holder_kind")? == HolderKind::Card.name() { "breakage" } else { "expired" };
                    Ok((rows::lot(r)?, asset, sink))
                })
                .collect::<Result<_, StoreError>>()?
        };
        let mut burned = 0;
        for (lot, asset, sink) in due {
            let lot = Arc::new(lot);
            let asset = Arc::new(asset);
            let done = self
                .write(move |c| {
                    let (lot, asset) = (lot.clone(), asset.clone());
                    Box::pin(async move {
                        let sink = system_account(c, sink, &asset, now).await?;
                        // Re-read under the account lock: a return may have refilled it,
                        // a concurrent run may have burned it.
                        load_accounts(c, &BTreeSet::from([lot.account]), true).await?;
                        let Some(current) = load_lots(c, &BTreeSet::from([lot.id.clone()])).await?.pop() else {
                            return Ok(false);
                        };
                        if current.remaining == 0 {
                            return Ok(false);
                        }
                        let id = TransferId::parse(format!("expiry:{}@{}", lot.id, to_micros(now)))
                            .map_err(|e| StoreError::Invalid(e.to_string()))?;
                        let t = NewTransfer {
                            debit_from: DebitFrom::Lot(lot.id.clone()),
                            at: Some(now),
                            ..NewTransfer::single(
                                id,
                                lot.account,
                                sink.id,
                                current.remaining,
                                TransferCode::parse("expiry").expect("valid code"),
                            )
                        };
                        apply_transfers(c, &[t], now).await?;
                        Ok(true)
                    })
                })
                .await?;
            burned += usize::from(done);
        }
        Ok(burned)
    }

    /// Burns the points of customers inactive for their currency's `inactivity_days`;
    /// at most `limit` accounts per currency. Returns how many accounts were burned.
    pub async fn burn_inactive(&self, program: Arc<Program>, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        let mut burned = 0;
        for cur in program.currencies.values() {
            let Some(inactivity) = cur.inactivity else { continue };
            let since = now - inactivity;
            let due = {
                let mut c = self.reader().await?;
                inactive_accounts(&mut c, &cur.code, since, limit).await?
            };
            for account in due {
                let asset = cur.code.clone();
                let done = self
                    .write(move |c| {
                        let asset = asset.clone();
                        Box::pin(async move { burn_all(c, account, &asset, since, now).await })
                    })
                    .await?;
                burned += usize::from(done);
            }
        }
        Ok(burned)
    }

    /// Converts balances that reached their conversion threshold (points that activated
    /// after the purchase that earned them). Returns how many accounts converted.
    pub async fn convert_balances(&self, program: Arc<Program>, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        let mut converted = 0;
        for cur in program.currencies.values() {
            let Some(conv) = &cur.conversion else { continue };
            let due = {
                let mut c = self.reader().await?;
                accounts_over(&mut c, &cur.code, conv.every, limit).await?
            };
            for (account, holder) in due {
                let (from, program, holder) = (cur.code.clone(), program.clone(), holder.clone());
                let done = self
                    .write(move |c| {
                        let (from, program, holder) = (from.clone(), program.clone(), holder.clone());
                        Box::pin(async move { convert_one(c, account, &holder, &from, &program, now).await })
                    })
                    .await?;
                converted += usize::from(done);
            }
        }
        Ok(converted)
    }
}

fn job_run(r: &super::rows::DbRow) -> Result<crate::JobRun, StoreError> {
    let job: String = r.try_get("job")?;
    Ok(crate::JobRun {
        id: r.try_get("id")?,
        job: crate::Job::parse(&job).ok_or_else(|| StoreError::Invalid(format!("unknown job '{job}' in job_runs")))?,
        started_by: r.try_get("started_by")?,
        started_at: loyd_domain::time::from_micros(r.try_get("started_at")?),
        finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(loyd_domain::time::from_micros),
        items: r.try_get("items")?,
        error: r.try_get("error")?,
    })
}

macro_rules! run_cols {
    () => {
        "id, job, started_by, started_at, finished_at, items, error"
    };
}

impl Backend {
    /// Records that a run of `job` started; returns the run as recorded. A run of
    /// `segments` not started by the schedule asks for a pass.
    pub async fn start_job_run(&self, job: crate::Job, started_by: String, now: Timestamp) -> Result<crate::JobRun, StoreError> {
        let started_by = Arc::new(started_by);
        self.write(move |c| {
            let by = started_by.clone();
            Box::pin(async move {
                let row = sqlx::query(concat!("INSERT INTO job_runs (job, started_by, started_at) VALUES ($1, $2, $3) RETURNING ", run_cols!()))
                    .bind(job.name())
                    .bind(by.as_str().to_owned())
                    .bind(to_micros(now))
                    .fetch_one(&mut *c)
                    .await?;
                // A run someone asked for makes a fresh pass over the customers.
                if job == crate::Job::Segments && by.as_str() != crate::SCHEDULE {
                    super::segments::ask_for_pass(c).await?;
                }
                job_run(&row)
            })
        })
        .await
    }

    /// Records how a run ended; returns the run as recorded. A scheduled run that found
    /// nothing to do replaces the scheduled idle runs of the same job before it.
    pub async fn finish_job_run(&self, id: i64, items: i64, error: Option<String>, now: Timestamp) -> Result<crate::JobRun, StoreError> {
        let error = Arc::new(error.map(|e| loyd_domain::text::escaped(&e, 500)));
        self.write(move |c| {
            let error = error.clone();
            Box::pin(async move {
                let row = sqlx::query(concat!("UPDATE job_runs SET finished_at = $1, items = $2, error = $3 WHERE id = $4 RETURNING ", run_cols!()))
                    .bind(to_micros(now))
                    .bind(items)
                    .bind(error.as_ref().clone())
                    .bind(id)
                    .fetch_one(&mut *c)
                    .await?;
                let run = job_run(&row)?;
                if run.started_by == crate::SCHEDULE && run.items == 0 && run.error.is_none() {
                    sqlx::query(
                        "DELETE FROM job_runs WHERE job = $1 AND id < $2 AND started_by = $3 AND items = 0 \
                         AND error IS NULL AND finished_at IS NOT NULL",
                    )
                    .bind(run.job.name())
                    .bind(id)
                    .bind(crate::SCHEDULE)
                    .execute(&mut *c)
                    .await?;
                }
                Ok(run)
            })
        })
        .await
    }

    /// Runs of the jobs, newest first: of one job or all, older than `before`.
    pub async fn job_runs(&self, job: Option<crate::Job>, before: Option<i64>, limit: u32) -> Result<Vec<crate::JobRun>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(concat!("SELECT ", run_cols!(), " FROM job_runs WHERE 1 = 1"));
        if let Some(job) = job {
            qb.push(" AND job = ").push_bind(job.name());
        }
        if let Some(before) = before {
            qb.push(" AND id < ").push_bind(before);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
        qb.build().fetch_all(&mut *c).await?.iter().map(job_run).collect()
    }

    /// The last run of each job that has run.
    pub async fn last_job_runs(&self) -> Result<Vec<crate::JobRun>, StoreError> {
        let mut c = self.reader().await?;
        sqlx::query(concat!("SELECT ", run_cols!(), " FROM job_runs WHERE id IN (SELECT MAX(id) FROM job_runs GROUP BY job)"))
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(job_run)
            .collect()
    }
}
