//! Segments: the `segments` job's pass over every customer, their member lists and
//! history, and a condition tried on demand.
//!
//! A pass starts when none has run yet, when the program changed since the last, when
//! one is asked for (a run not started by the schedule) or an hour after the last ended.
//! It first takes the RFM quintiles over every customer with purchases, then goes
//! through the customers in id order, a batch per transaction (its position is kept
//! in `segment_pass`, so a pass stopped half-way goes on where it stopped): scores each
//! one's RFM group onto their row, decides the program's segments a job can evaluate
//! ([`loyd_domain::segments::job_evaluable`]) and writes who joined and who left
//! (`segment_members`, the day's `segment_history`). When the last batch is done, each
//! segment's count is written to the day's history.
//!
//! A till never waits for any of this: the engine decides segments on the receipt
//! from the customer it reads anyway, with the RFM group and purchase facts joined to
//! it by the customer's key (`customer_facts`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use loyd_domain::program::Program;
use loyd_domain::receipt::{CustomerContext, StoreContext};
use loyd_domain::segments::{Group, Rfm, RfmBounds, reads_counters, rfm_segment};
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use crate::crypto::Keyring;
use crate::error::StoreError;
use crate::{Customer, SegmentCount, SegmentDay, SegmentPass};
use super::{Backend, Conn, PG};
use super::customers::customer_from;
use super::rollups::add_rows;

/// How long after a pass ends the next one starts by itself.
const PASS_EVERY: i64 = 3_600;

/// The ids a pass lists members of: the program's segments a job can evaluate, then
/// the RFM groups.
fn listed(program: &Program) -> Vec<String> {
    let own = program.segments.iter().filter(|s| s.condition.job_evaluable()).map(|s| s.id.to_string());
    own.chain(Group::ALL.into_iter().map(rfm_segment)).collect()
}

/// What one customer looks like to segments: their row's facts with the RFM group of
/// this pass, their counters at `now` (when a segment reads them).
async fn context_of(
    c: &mut Conn,
    customer: &Customer,
    program: &Program,
    store: &StoreContext,
    with_counters: bool,
    now: Timestamp,
) -> Result<CustomerContext, StoreError> {
    let counters = if with_counters { super::counters::counters_of(c, customer.id, now, program, store).await? } else { BTreeMap::new() };
    Ok(CustomerContext {
        id: customer.id,
        counters,
        birth_date: customer.birth_date,
        profile: customer.profile.clone(),
        facts: customer.facts.clone(),
        ..CustomerContext::default()
    })
}

/// Whether any segment a job lists reads counters or tiers (then each customer's
/// counters are read: one query per customer).
fn any_reads_counters(program: &Program) -> bool {
    program.segments.iter().filter(|s| s.condition.job_evaluable()).any(|s| reads_counters(s.condition.source()))
}

/// The RFM scores of `customer` under `bounds` at `now`; `None` without purchases.
fn rfm_of(customer: &Customer, bounds: Option<&RfmBounds>, now: Timestamp) -> Option<Rfm> {
    let f = &customer.facts;
    match (bounds, f.days_since_purchase(now)) {
        (Some(b), Some(days)) if f.purchases > 0 && customer.merged_into.is_none() => Some(b.score(days, f.purchases, f.spent)),
        _ => None,
    }
}

impl Backend {
    /// One batch of the segments job (at most `limit` customers): starts a pass if one
    /// is due, then goes on with it; how many customers it went through (0 when no
    /// pass is due). `store` gives the day of the history (its time zone) and the
    /// scale of money counters.
    pub async fn segments_batch(&self, program: Arc<Program>, store: StoreContext, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        let ring = self.secrets.ring.clone();
        self.write(move |c| {
            let (program, store, ring) = (program.clone(), store.clone(), ring.clone());
            Box::pin(async move { segments_batch(c, &program, &store, &ring, i64::from(limit.clamp(1, 2000)), now).await })
        })
        .await
    }

    /// Where the job's pass stands.
    pub async fn segment_pass(&self) -> Result<SegmentPass, StoreError> {
        let mut c = self.reader().await?;
        let r = sqlx::query("SELECT next_customer, started_at, finished_at, version FROM segment_pass WHERE id = 1").fetch_one(&mut *c).await?;
        let finished_at: Option<i64> = r.try_get("finished_at")?;
        let started_at: Option<i64> = r.try_get("started_at")?;
        Ok(SegmentPass {
            under_way: started_at.is_some() && finished_at.is_none(),
            started_at: started_at.map(from_micros),
            finished_at: finished_at.map(from_micros),
            version: r.try_get("version")?,
        })
    }

    /// Each listed segment's members now.
    pub async fn segment_counts(&self) -> Result<Vec<SegmentCount>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query("SELECT segment, COUNT(*) AS n FROM segment_members GROUP BY segment ORDER BY segment").fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok(SegmentCount { segment: r.try_get("segment")?, members: r.try_get("n")? })).collect()
    }

    /// The history of `segment` (all segments with `None`) from day `from` on, oldest
    /// first.
    pub async fn segment_history(&self, segment: Option<String>, from: String) -> Result<Vec<SegmentDay>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT day, segment, members, joined, departed FROM segment_history WHERE day >= ");
        qb.push_bind(from);
        if let Some(s) = segment {
            qb.push(" AND segment = ").push_bind(s);
        }
        qb.push(" ORDER BY day, segment");
        let rows = qb.build().fetch_all(&mut *c).await?;
        rows.iter()
            .map(|r| {
                Ok(SegmentDay {
                    day: r.try_get("day")?,
                    segment: r.try_get("segment")?,
                    members: r.try_get("members")?,
                    joined: r.try_get("joined")?,
                    departed: r.try_get("departed")?,
                })
            })
            .collect()
    }

    /// Members of `segment` after customer `after` in id order, at most `limit`, each
    /// with when they joined.
    pub async fn segment_members(&self, segment: String, after: i64, limit: u32) -> Result<Vec<(Customer, Timestamp)>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            customer_cols!("cu."),
            ", m.since FROM segment_members m JOIN customers cu ON cu.id = m.customer_id",
            with_facts!("cu"),
            " WHERE m.segment = $1 AND m.customer_id > $2 ORDER BY m.customer_id LIMIT $3"
        ))
        .bind(segment)
        .bind(after)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&mut *c)
        .await?;
        rows.iter().map(|r| Ok((customer_from(r, &self.secrets.ring)?, from_micros(r.try_get("since")?)))).collect()
    }

    /// Tries a condition on every customer now, as the job would decide a segment of
    /// it: how many meet it and the first `sample` of them by id. Reads every customer.
    pub async fn try_segment(
        &self,
        program: Arc<Program>,
        condition: loyd_domain::program::Condition,
        store: StoreContext,
        sample: u32,
        now: Timestamp,
    ) -> Result<(i64, Vec<Customer>), StoreError> {
        let mut c = self.reader().await?;
        let counters = reads_counters(condition.source());
        let mut after = 0i64;
        let (mut count, mut first) = (0i64, Vec::new());
        loop {
            let rows = sqlx::query(concat!("SELECT ", customer_cols!(), " FROM customers", with_facts!(), " WHERE id > $1 AND merged_into IS NULL ORDER BY id LIMIT 1000"))
                .bind(after)
                .fetch_all(&mut *c)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("id")?;
            for r in &rows {
                let customer = customer_from(r, &self.secrets.ring)?;
                let ctx = context_of(&mut c, &customer, &program, &store, counters, now).await?;
                if loyd_domain::engine::customer_meets(&program, &ctx, &condition, store.scale, now) {
                    count += 1;
                    if first.len() < sample as usize {
                        first.push(customer);
                    }
                }
            }
        }
        Ok((count, first))
    }
}

/// Asks for a pass: the next batch starts one, unless one is under way (then that is
/// the pass asked for).
pub(crate) async fn ask_for_pass(c: &mut Conn) -> Result<(), StoreError> {
    sqlx::query("UPDATE segment_pass SET started_at = NULL, finished_at = NULL WHERE started_at IS NULL OR finished_at IS NOT NULL")
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn segments_batch(c: &mut Conn, program: &Program, store: &StoreContext, ring: &Keyring, limit: i64, now: Timestamp) -> Result<usize, StoreError> {
    let lock = if PG { " FOR UPDATE" } else { "" };
    let pass = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT next_customer, started_at, finished_at, version, bounds FROM segment_pass WHERE id = 1{lock}")))
        .fetch_one(&mut *c)
        .await?;
    let started_at: Option<i64> = pass.try_get("started_at")?;
    let finished_at: Option<i64> = pass.try_get("finished_at")?;
    let under_way = started_at.is_some() && finished_at.is_none();
    let mut next: i64 = if under_way { pass.try_get("next_customer")? } else { 0 };
    let ids = listed(program);
    let bounds: Option<RfmBounds> = if under_way {
        let text: Option<String> = pass.try_get("bounds")?;
        text.and_then(|t| serde_json::from_str(&t).ok())
    } else {
        let version: Option<i64> = pass.try_get("version")?;
        let due = match finished_at {
            // Never run, or asked for.
            None => true,
            Some(end) => version != Some(program.version) || to_micros(now) - end >= PASS_EVERY * 1_000_000,
        };
        if !due {
            return Ok(0);
        }
        start_pass(c, program, &ids, now).await?
    };
    let rows = sqlx::query(concat!("SELECT ", customer_cols!(), " FROM customers", with_facts!(), " WHERE id > $1 ORDER BY id LIMIT $2"))
        .bind(next)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
    let customers: Vec<Customer> = rows.iter().map(|r| customer_from(r, ring)).collect::<Result<_, _>>()?;
    let day = store_day(now, store);
    if let (Some(first), Some(last)) = (customers.first(), customers.last()) {
        let counters = any_reads_counters(program);
        let mut want: BTreeSet<(String, i64)> = BTreeSet::new();
        let mut scores = Vec::new();
        for mut customer in customers.iter().cloned() {
            let scored = rfm_of(&customer, bounds.as_ref(), now);
            let (rfm, score) = (scored.map(|s| s.group().name().to_owned()), scored.map(|s| s.code()));
            if (&rfm, &score) != (&customer.facts.rfm, &customer.facts.rfm_score) {
                scores.push((customer.id, rfm.clone(), score.clone()));
            }
            if customer.merged_into.is_some() {
                continue;
            }
            if let Some(s) = scored {
                want.insert((rfm_segment(s.group()), customer.id));
            }
            (customer.facts.rfm, customer.facts.rfm_score) = (rfm, score);
            let ctx = context_of(c, &customer, program, store, counters, now).await?;
            let decided = loyd_domain::engine::segments_of(program, &ctx, store.scale, now);
            for (s, d) in program.segments.iter().zip(decided) {
                if d == Some(true) {
                    want.insert((s.id.to_string(), customer.id));
                }
            }
        }
        write_scores(c, scores).await?;
        let have: BTreeSet<(String, i64)> = sqlx::query("SELECT segment, customer_id FROM segment_members WHERE customer_id >= $1 AND customer_id <= $2")
            .bind(first.id)
            .bind(last.id)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("segment")?, r.try_get("customer_id")?)))
            .collect::<Result<_, StoreError>>()?;
        let mut moves: BTreeMap<String, [i64; 2]> = BTreeMap::new();
        let joined: Vec<_> = want.difference(&have).collect();
        for chunk in joined.chunks(2000) {
            let mut qb = sqlx::QueryBuilder::<super::Db>::new("INSERT INTO segment_members (segment, customer_id, since) ");
            qb.push_values(chunk, |mut b, (s, id)| {
                b.push_bind(s.clone()).push_bind(*id).push_bind(to_micros(now));
            });
            qb.build().execute(&mut *c).await?;
        }
        for (s, _) in &joined {
            moves.entry(s.clone()).or_default()[0] += 1;
        }
        for (s, id) in have.difference(&want) {
            sqlx::query("DELETE FROM segment_members WHERE segment = $1 AND customer_id = $2").bind(s.clone()).bind(*id).execute(&mut *c).await?;
            moves.entry(s.clone()).or_default()[1] += 1;
        }
        let rows = moves.into_iter().map(|(s, [j, d])| (vec![day.clone(), s], vec![j, d])).collect();
        add_rows(c, "segment_history", &["day", "segment"], &["joined", "departed"], rows).await?;
        next = last.id;
    }
    let done = customers.len();
    if (done as i64) < limit {
        finish_pass(c, &ids, &day, now).await?;
    } else {
        sqlx::query("UPDATE segment_pass SET next_customer = $1 WHERE id = 1").bind(next).execute(&mut *c).await?;
    }
    Ok(done)
}

/// Starts a pass: the RFM quintiles over every customer with purchases, members of
/// segments no longer listed dropped.
async fn start_pass(c: &mut Conn, program: &Program, ids: &[String], now: Timestamp) -> Result<Option<RfmBounds>, StoreError> {
    let rows = sqlx::query("SELECT f.last_purchase_at, f.purchases, f.spent FROM customer_facts f JOIN customers cu ON cu.id = f.customer_id \
         WHERE cu.merged_into IS NULL AND f.purchases > 0 AND f.last_purchase_at IS NOT NULL")
        .fetch_all(&mut *c)
        .await?;
    let now_s = now.as_second();
    let facts: Vec<(i64, i64, i64)> = rows
        .iter()
        .map(|r| {
            let last: i64 = r.try_get("last_purchase_at")?;
            Ok((((now_s - last / 1_000_000).max(0)) / 86_400, r.try_get("purchases")?, r.try_get("spent")?))
        })
        .collect::<Result<_, StoreError>>()?;
    let bounds = RfmBounds::of(&facts);
    let mut qb = sqlx::QueryBuilder::<super::Db>::new("DELETE FROM segment_members WHERE segment NOT IN (");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(id.clone());
    }
    qb.push(")");
    qb.build().execute(&mut *c).await?;
    let text = bounds.as_ref().map(serde_json::to_string).transpose().map_err(|e| super::rows::corrupt(e.to_string()))?;
    sqlx::query("UPDATE segment_pass SET next_customer = 0, started_at = $1, finished_at = NULL, version = $2, bounds = $3 WHERE id = 1")
        .bind(to_micros(now))
        .bind(program.version)
        .bind(text)
        .execute(&mut *c)
        .await?;
    Ok(bounds)
}

/// Ends a pass: each listed segment's count on the day's history.
async fn finish_pass(c: &mut Conn, ids: &[String], day: &str, now: Timestamp) -> Result<(), StoreError> {
    let counts: BTreeMap<String, i64> = sqlx::query("SELECT segment, COUNT(*) AS n FROM segment_members GROUP BY segment")
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("segment")?, r.try_get("n")?)))
        .collect::<Result<_, StoreError>>()?;
    for id in ids {
        let n = counts.get(id).copied().unwrap_or(0);
        sqlx::query(
            "INSERT INTO segment_history (day, segment, members) VALUES ($1, $2, $3) \
             ON CONFLICT (day, segment) DO UPDATE SET members = excluded.members",
        )
        .bind(day.to_owned())
        .bind(id.clone())
        .bind(n)
        .execute(&mut *c)
        .await?;
    }
    sqlx::query("UPDATE segment_pass SET next_customer = 0, finished_at = $1 WHERE id = 1").bind(to_micros(now)).execute(&mut *c).await?;
    Ok(())
}

/// Writes customers' new RFM groups and scores, many per statement.
async fn write_scores(c: &mut Conn, scores: Vec<(i64, Option<String>, Option<String>)>) -> Result<(), StoreError> {
    for chunk in scores.chunks(1000) {
        let mut qb = sqlx::QueryBuilder::<super::Db>::new("INSERT INTO customer_facts (customer_id, rfm, rfm_score) ");
        qb.push_values(chunk, |mut b, (id, rfm, score)| {
            b.push_bind(*id).push_bind(rfm.clone()).push_bind(score.clone());
        });
        qb.push(" ON CONFLICT (customer_id) DO UPDATE SET rfm = excluded.rfm, rfm_score = excluded.rfm_score");
        qb.build().execute(&mut *c).await?;
    }
    Ok(())
}

/// The local day of `now` in `store`'s time zone.
fn store_day(now: Timestamp, store: &StoreContext) -> String {
    now.to_zoned_datetime(store.timezone.zone()).date().to_string()
}
