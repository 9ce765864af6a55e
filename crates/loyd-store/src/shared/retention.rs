//! The retention job: personal data kept no longer than the program says
//! (`[retention]`, [`loyd_domain::privacy`]).
//!
//! Every batch deletes the portal's leftovers — sign-in codes and gift card checks that
//! no longer count towards a limit, sessions that ended — a day after they stopped
//! counting. Once a day a pass goes through the events, oldest first, emptying the data
//! of those older than `messages_days` whose deliveries are all done (none waiting or
//! undispatched), and deleting portal notifications as old; then through the customers
//! in id order, erasing ([`super::erasure`]) those who joined, last bought and last
//! signed in to the portal more than `inactive_days` ago (events are gone through once:
//! each pass goes on from the first event the last one left). Where a pass stands is kept
//! (`retention_pass`), so a pass stopped half-way goes on where it stopped; each batch
//! is one transaction that bounds what it does.

use std::sync::Arc;

use loyd_domain::privacy::{self, PASS_EVERY, PORTAL_LEFTOVERS};
use loyd_domain::program::Program;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use super::{Backend, Conn};
use super::keys::json_text;
use crate::crypto::Keyring;
use crate::error::StoreError;

/// Customers erased in one batch at most (each is a dozen small writes: the batch's
/// transaction stays short for the tills waiting on the same database).
const ERASED_PER_BATCH: i64 = 50;
/// Customer ids one batch looks at at most (a range of the primary key), however few
/// of them are inactive.
const CUSTOMERS_PER_BATCH: i64 = 5000;

/// Where the pass stands: the next event and customer to look at, and when it started
/// and ended.
struct Pass {
    event: i64,
    customer: i64,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
}

async fn pass(c: &mut Conn) -> Result<Pass, StoreError> {
    let r = sqlx::query("SELECT next_event, next_customer, started_at, finished_at FROM retention_pass WHERE id = 1").fetch_one(&mut *c).await?;
    Ok(Pass {
        event: r.try_get("next_event")?,
        customer: r.try_get("next_customer")?,
        started_at: r.try_get::<Option<i64>, _>("started_at")?.map(from_micros),
        finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(from_micros),
    })
}

async fn save(c: &mut Conn, p: &Pass) -> Result<(), StoreError> {
    sqlx::query("UPDATE retention_pass SET next_event = $1, next_customer = $2, started_at = $3, finished_at = $4 WHERE id = 1")
        .bind(p.event)
        .bind(p.customer)
        .bind(p.started_at.map(to_micros))
        .bind(p.finished_at.map(to_micros))
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Deletes at most `limit` of the portal's leftovers of each kind; how many.
async fn portal_leftovers(c: &mut Conn, limit: i64, now: Timestamp) -> Result<usize, StoreError> {
    let before = to_micros(now - PORTAL_LEFTOVERS);
    let mut gone = 0;
    for sql in [
        "DELETE FROM portal_codes WHERE id IN (SELECT id FROM portal_codes WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        "DELETE FROM portal_sessions WHERE token_hash IN (SELECT token_hash FROM portal_sessions WHERE (expires_at < $1 OR revoked_at < $1) LIMIT $2)",
    ] {
        gone += sqlx::query(sql).bind(before).bind(limit).execute(&mut *c).await?.rows_affected();
    }
    // Checks are a network address's hash and a time, a few an hour each.
    gone += sqlx::query("DELETE FROM portal_guesses WHERE at < $1").bind(before).execute(&mut *c).await?.rows_affected();
    Ok(usize::try_from(gone).unwrap_or(usize::MAX))
}

/// Empties the data of at most `limit` events from the pass's position on that are
/// older than `cutoff` and whose deliveries are all done; deletes portal notifications
/// older than `cutoff`. How many events it went through; `true` when no more are due.
async fn old_events(c: &mut Conn, ring: &Keyring, p: &mut Pass, cutoff: Timestamp, limit: i64) -> Result<(usize, bool), StoreError> {
    // Nothing at or after the first event still to be dispatched or delivered.
    let waiting: Option<i64> = sqlx::query(
        "SELECT MIN(id) AS id FROM (SELECT MIN(id) AS id FROM events WHERE dispatched = 0 \
         UNION ALL SELECT MIN(event_id) AS id FROM deliveries WHERE state = 'pending') w",
    )
    .fetch_one(&mut *c)
    .await?
    .try_get("id")?;
    let rows = sqlx::query("SELECT id, created_at FROM events WHERE id >= $1 ORDER BY id LIMIT $2").bind(p.event).bind(limit).fetch_all(&mut *c).await?;
    let mut due = Vec::new();
    let mut done = rows.len() < usize::try_from(limit).unwrap_or(usize::MAX);
    for r in &rows {
        let (id, at): (i64, i64) = (r.try_get("id")?, r.try_get("created_at")?);
        if at >= to_micros(cutoff) || waiting.is_some_and(|w| id >= w) {
            done = true;
            break;
        }
        due.push(id);
    }
    if let (Some(first), Some(last)) = (due.first(), due.last()) {
        let emptied = ring.seal("event", &json_text(&serde_json::json!({ "erased": true }))?);
        sqlx::query("UPDATE events SET payload = $1 WHERE id >= $2 AND id <= $3").bind(emptied).bind(*first).bind(*last).execute(&mut *c).await?;
        p.event = last + 1;
    }
    sqlx::query("DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE created_at < $1 ORDER BY id LIMIT $2)")
        .bind(to_micros(cutoff))
        .bind(limit)
        .execute(&mut *c)
        .await?;
    Ok((due.len(), done))
}

/// Erases at most [`ERASED_PER_BATCH`] customers among the next
/// [`CUSTOMERS_PER_BATCH`] ids from the pass's position on who joined, last bought and
/// last signed in before `cutoff`. How many it erased; `true` when no more are due.
async fn inactive_customers(c: &mut Conn, ring: &Keyring, p: &mut Pass, cutoff: Timestamp, now: Timestamp) -> Result<(usize, bool), StoreError> {
    let cutoff = to_micros(cutoff);
    let until = p.customer.saturating_add(CUSTOMERS_PER_BATCH);
    let rows = sqlx::query(
        "SELECT c.id FROM customers c LEFT JOIN customer_facts f ON f.customer_id = c.id \
         WHERE c.id >= $1 AND c.id < $2 AND c.erased_at IS NULL AND c.merged_into IS NULL AND c.created_at < $3 \
         AND COALESCE(f.last_purchase_at, 0) < $3 AND COALESCE(c.seen_at, 0) < $3 \
         ORDER BY c.id LIMIT $4",
    )
    .bind(p.customer)
    .bind(until)
    .bind(cutoff)
    .bind(ERASED_PER_BATCH)
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        super::erasure::erase(c, ring, id, "job:retention", now).await?;
    }
    if rows.len() == usize::try_from(ERASED_PER_BATCH).unwrap_or(usize::MAX) {
        // As many as a batch erases: the rest of the range next time.
        p.customer = rows.last().map_or(until, |r| r.try_get::<i64, _>("id").map_or(until, |id| id + 1));
        return Ok((rows.len(), false));
    }
    p.customer = until;
    let last: Option<i64> = sqlx::query("SELECT MAX(id) AS id FROM customers").fetch_one(&mut *c).await?.try_get("id")?;
    Ok((rows.len(), last.is_none_or(|last| until > last)))
}

impl Backend {
    /// One batch of the retention job (see the module's note): the portal's leftovers,
    /// then, when a pass is due or under way, old events and inactive customers. How
    /// many things it went through; `limit` while the pass has more to do.
    pub async fn retention_batch(&self, program: Arc<Program>, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        let ring = self.secrets.ring.clone();
        self.write(move |c| {
            let (program, ring) = (program.clone(), ring.clone());
            Box::pin(async move {
                let limit = i64::from(limit.clamp(1, 5000));
                let mut went = portal_leftovers(c, limit, now).await?;
                let Some(r) = program.retention.as_ref() else { return Ok(went) };
                let mut p = pass(c).await?;
                let under_way = p.started_at.is_some() && p.finished_at.is_none();
                if !under_way {
                    if p.finished_at.is_some_and(|f| now - PASS_EVERY < f) {
                        return Ok(went);
                    }
                    // Events only grow older: the next pass goes on from where this one
                    // stopped. Customers become inactive anywhere: from the first.
                    p = Pass { customer: 0, started_at: Some(now), finished_at: None, ..p };
                }
                let (events, events_done) = match r.messages_days {
                    Some(days) => old_events(c, &ring, &mut p, privacy::cutoff(now, days), limit).await?,
                    None => (0, true),
                };
                went += events;
                let mut finished = events_done;
                if events_done {
                    let (erased, customers_done) = match r.inactive_days {
                        Some(days) => inactive_customers(c, &ring, &mut p, privacy::cutoff(now, days), now).await?,
                        None => (0, true),
                    };
                    went += erased;
                    finished = customers_done;
                }
                if finished {
                    p.finished_at = Some(now);
                }
                save(c, &p).await?;
                Ok(if finished { went.min(usize::try_from(limit).unwrap_or(0).saturating_sub(1)) } else { went.max(usize::try_from(limit).unwrap_or(0)) })
            })
        })
        .await
    }
}
