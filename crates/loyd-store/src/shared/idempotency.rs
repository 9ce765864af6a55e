//! Idempotency of POS and admin operations: the stored reply of an operation by its
//! client id (a faithful retry gets it again; a reused id with another request is
//! refused), and the advisory claim that serialises concurrent attempts of one id.

use loyd_domain::operations::Outcome;
use loyd_domain::time::{Timestamp, to_micros};
use sqlx::Row;

use crate::{PosCaller, PosReply};
use crate::error::StoreError;
use super::{Conn, PG};

/// A stored POS operation answer for (caller, kind, id), checked against `hash`.
///
/// Claims the id first ([`claim`]): an identical retry that arrives while the first
/// call is still running waits for it and then gets its answer, never a conflict with
/// its half-done effects.
pub(crate) async fn stored_operation(
    c: &mut Conn,
    caller: &PosCaller,
    kind: &str,
    op_id: &str,
    hash: &str,
) -> Result<Option<PosReply>, StoreError> {
    claim(c, &[caller.store.id.as_str(), caller.terminal.as_str(), kind, op_id]).await?;
    let row = sqlx::query(
        "SELECT request_hash, status, response FROM pos_operations \
         WHERE store_id = $1 AND terminal_id = $2 AND kind = $3 AND op_id = $4",
    )
    .bind(caller.store.id.as_str().to_owned())
    .bind(caller.terminal.as_str().to_owned())
    .bind(kind.to_owned())
    .bind(op_id.to_owned())
    .fetch_optional(&mut *c)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let stored: String = row.try_get("request_hash")?;
    if stored != hash {
        return Err(StoreError::IdempotencyConflict(format!("{kind} id {op_id}")));
    }
    let outcome = outcome_of(row.try_get("status")?);
    Ok(Some(PosReply { outcome, body: row.try_get("response")?, replayed: true }))
}

/// Holds the idempotency key `parts` until this transaction ends. On PostgreSQL, a
/// transaction-level advisory lock on a 64-bit digest of the key: a second transaction
/// with the same key waits here, and its next statement sees what the first committed.
/// (Different keys with the same digest only wait for each other.) On SQLite the single
/// writer already runs one write at a time.
pub(crate) async fn claim(c: &mut Conn, parts: &[&str]) -> Result<(), StoreError> {
    if PG {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(super::keys::key_digest(parts)).execute(&mut *c).await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn store_operation(
    c: &mut Conn,
    caller: &PosCaller,
    kind: &str,
    op_id: &str,
    hash: &str,
    outcome: Outcome,
    body: String,
    receipt_ref: Option<i64>,
    now: Timestamp,
) -> Result<PosReply, StoreError> {
    sqlx::query(
        "INSERT INTO pos_operations (store_id, terminal_id, kind, op_id, request_hash, status, response, receipt_ref, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(caller.store.id.as_str().to_owned())
    .bind(caller.terminal.as_str().to_owned())
    .bind(kind.to_owned())
    .bind(op_id.to_owned())
    .bind(hash.to_owned())
    .bind(status_of(outcome))
    .bind(body.clone())
    .bind(receipt_ref)
    .bind(to_micros(now))
    .execute(&mut *c)
    .await?;
    Ok(PosReply { outcome, body, replayed: false })
}

/// How an outcome is kept in `pos_operations.status`: as the HTTP status the first
/// schema stored (`201` created, `200` changed), so rows written before read the same.
fn status_of(outcome: Outcome) -> i64 {
    match outcome {
        Outcome::Created => 201,
        Outcome::Changed => 200,
    }
}

fn outcome_of(status: i64) -> Outcome {
    if status == 201 { Outcome::Created } else { Outcome::Changed }
}

/// Records a batch (of coupon codes, of cards) made with the client's operation id, in
/// the transaction that makes it. The same id again is refused: as already made when
/// the request is the same (its codes were shown once and are not kept), as a conflict
/// when it is another. Concurrent attempts of one id wait for each other ([`claim`]).
pub(crate) async fn record_batch<T: serde::Serialize>(
    c: &mut Conn,
    kind: &str,
    op_id: &str,
    request: &T,
    items: u32,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    claim(c, &["batch", kind, op_id]).await?;
    let hash = super::keys::request_hash(request);
    let row = sqlx::query("SELECT request_hash FROM batches WHERE kind = $1 AND op_id = $2")
        .bind(kind.to_owned())
        .bind(op_id.to_owned())
        .fetch_optional(&mut *c)
        .await?;
    if let Some(row) = row {
        let stored: String = row.try_get("request_hash")?;
        if stored != hash {
            return Err(StoreError::IdempotencyConflict(format!("batch id {op_id}")));
        }
        return Err(StoreError::AlreadyExists { what: "batch", id: op_id.to_owned() });
    }
    sqlx::query("INSERT INTO batches (kind, op_id, request_hash, items, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(kind.to_owned())
        .bind(op_id.to_owned())
        .bind(hash)
        .bind(i64::from(items))
        .bind(actor.to_owned())
        .bind(to_micros(now))
        .execute(&mut *c)
        .await?;
    Ok(())
}
