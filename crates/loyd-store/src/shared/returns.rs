//! Returns and cancellations. What to reverse is planned by `loyd_domain::returns`;
//! here the receipt is found, its accounts locked, the reversals recorded as ledger
//! transfers (each `reverses` the original), and the receipt's returned quantities moved
//! forward with a guard.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use loyd_domain::ids::{AccountId, AssetCode};
use loyd_domain::ledger::{NewTransfer, TransferOutcome};
use loyd_domain::money::Minor;
use loyd_domain::operations::Outcome;
use loyd_domain::program::Program;
use loyd_domain::receipt::ReceiptError;
use loyd_domain::returns::{EffectRole, GiftRefundOut, ReceiptEffects, ReturnLineOut, ReturnRequest, ReturnResponse, ReversedLineOut, ReversedOut};
use loyd_domain::time::Timestamp;
use rust_decimal::Decimal;
use sqlx::Row;

use crate::{PosCaller, PosReply};
use crate::error::StoreError;
use super::{Backend, Conn, PG, rows};
use super::balances::{customer_balances, ledger_refusal};
use super::idempotency::{store_operation, stored_operation};
use super::keys::{code, request_hash};
use super::ledger::{apply_transfers, load_accounts};

pub(crate) struct ReceiptRow {
    pub id: i64,
    pub terminal_id: String,
    pub receipt_id: String,
    pub customer_id: Option<i64>,
    pub status: String,
    pub effects: ReceiptEffects,
    pub returned_text: String,
    pub returned: BTreeMap<u32, Decimal>,
    /// What it sold, for the sales aggregates when it is cancelled.
    pub sold: super::rollups::Sold,
}

/// Finds a receipt of the caller's store: on the named terminal, else on the caller's
/// own, else on the only terminal of the store that has that receipt id.
pub(crate) async fn find_receipt(
    c: &mut Conn,
    caller: &PosCaller,
    receipt_id: &str,
    terminal: Option<&str>,
) -> Result<ReceiptRow, StoreError> {
    const COLS: &str = "id, terminal_id, receipt_id, customer_id, status, effects, returned, total, discount, redeemed_value";
    let store = caller.store.id.as_str().to_owned();
    // Locked on PostgreSQL: two returns of one receipt take turns, so the second plans
    // with what the first returned (and is refused with `return_exceeds_receipt`).
    let lock = if PG { " FOR UPDATE" } else { "" };
    let exact = |t: String| {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM receipts WHERE store_id = $1 AND terminal_id = $2 AND receipt_id = $3{lock}"
        )))
        .bind(store.clone())
        .bind(t)
        .bind(receipt_id.to_owned())
    };
    let row = match terminal {
        Some(t) => exact(t.to_owned()).fetch_optional(&mut *c).await?,
        None => match exact(caller.terminal.to_string()).fetch_optional(&mut *c).await? {
            Some(r) => Some(r),
            None => {
                let mut found = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLS} FROM receipts WHERE store_id = $1 AND receipt_id = $2 LIMIT 2{lock}"
                )))
                .bind(store.clone())
                .bind(receipt_id.to_owned())
                .fetch_all(&mut *c)
                .await?;
                if found.len() > 1 {
                    return Err(ReceiptError::invalid(format!(
                        "several terminals of this store have a receipt {receipt_id}: name the selling terminal in `terminal`"
                    ))
                    .into());
                }
                found.pop()
            }
        },
    };
    let row = row.ok_or_else(|| ReceiptError::ReceiptNotFound(receipt_id.to_owned()))?;
    let effects: String = row.try_get("effects")?;
    let returned_text: String = row.try_get("returned")?;
    Ok(ReceiptRow {
        id: row.try_get("id")?,
        terminal_id: row.try_get("terminal_id")?,
        receipt_id: row.try_get("receipt_id")?,
        customer_id: row.try_get("customer_id")?,
        status: row.try_get("status")?,
        effects: serde_json::from_str(&effects).map_err(|e| rows::corrupt(format!("receipt effects: {e}")))?,
        returned: serde_json::from_str(&returned_text).map_err(|e| rows::corrupt(format!("receipt returns: {e}")))?,
        returned_text,
        sold: super::rollups::Sold { id: row.try_get("id")?, total: row.try_get("total")?, discount: row.try_get("discount")?, redeemed: row.try_get("redeemed_value")? },
    })
}

/// Reverses `lines` of a receipt (all that is left, for a cancellation).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn reverse_in(
    c: &mut Conn,
    caller: &PosCaller,
    receipt: &ReceiptRow,
    lines: &[(u32, Decimal)],
    cancel: bool,
    op_key: &str,
    program: &Program,
    ring: &crate::crypto::Keyring,
    now: Timestamp,
) -> Result<ReturnResponse, StoreError> {
    let effects = &receipt.effects;
    // The customer's levels before, when a message or webhook wants to hear they changed.
    let tiers = match receipt.customer_id {
        Some(customer) if program.tells_tier_changes() => {
            Some((customer, super::counters::counters_of(c, customer, now, program, &caller.store).await?))
        }
        _ => None,
    };
    let plan = effects.plan_return(&receipt.returned, lines)?;
    let accounts: BTreeSet<AccountId> = effects.transfers.iter().flat_map(|t| [t.debit, t.credit]).collect();
    load_accounts(c, &accounts, true).await?;

    let prefix = super::transactions::return_transfer_prefix(caller.store.id.as_str(), &receipt.terminal_id, &receipt.receipt_id, op_key);
    let mut batch = Vec::new();
    let mut index = Vec::new();
    for (k, amount) in plan.reverse.iter().enumerate() {
        let t = &effects.transfers[k];
        if *amount <= 0 || matches!(t.role, EffectRole::Breakage | EffectRole::Conversion) {
            continue;
        }
        batch.push(NewTransfer {
            reverses: Some(t.id.clone()),
            // Points already spent cannot be taken back: take what is there.
            balancing: t.role == EffectRole::Accrual,
            reference: Some(receipt.receipt_id.clone()),
            at: Some(now),
            store: Some(caller.store.id.to_string()),
            ..NewTransfer::single(
                super::transactions::return_transfer_id(&prefix, k)?,
                t.credit,
                t.debit,
                *amount,
                code("return"),
            )
        });
        index.push(k);
    }
    let outcomes = apply_transfers(c, &batch, now)
        .await
        .map_err(|e| ledger_refusal(e, "balance", caller.store.scale, op_key))?;
    let mut moved = vec![0i64; effects.transfers.len()];
    for (k, o) in index.iter().zip(&outcomes) {
        moved[*k] = match o {
            TransferOutcome::Created(t) | TransferOutcome::Exists(t) => t.amount,
        };
    }
    if let Some(customer) = receipt.customer_id {
        super::merge::follow_moved_value(c, customer, effects, &plan.reverse, &mut moved, &prefix, now).await?;
    }

    let returned_after = serde_json::to_string(&plan.returned_after).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let status = if cancel { "cancelled" } else { "committed" };
    let done = sqlx::query(
        "UPDATE receipts SET returned = $1, status = $2, returned_paid = returned_paid + $3 \
         WHERE id = $4 AND returned = $5 AND status = 'committed'",
    )
    .bind(returned_after)
    .bind(status)
    .bind(plan.paid_back)
    .bind(receipt.id)
    .bind(receipt.returned_text.clone())
    .execute(&mut *c)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Retry(format!("receipt {} changed concurrently", receipt.receipt_id)));
    }
    super::rollups::add_return(c, &caller.store, cancel.then_some(receipt.sold), plan.paid_back, now).await?;
    if cancel || plan.complete {
        release(c, receipt).await?;
    }
    if let Some((customer, before)) = tiers {
        let after = super::counters::counters_of(c, customer, now, program, &caller.store).await?;
        super::events::record_tier_changes(c, ring, customer, Some(&receipt.receipt_id), &program.tier_changes(&before, &after), now).await?;
    }

    let money = |m: i64| Minor::new(m, caller.store.scale).to_string();
    let scale = |cur: &AssetCode| program.scale_of(cur.as_str());
    let refund: i64 = plan.lines.iter().map(|(_, _, r)| r).sum();
    let gift_cards: Vec<GiftRefundOut> = effects
        .transfers
        .iter()
        .enumerate()
        .filter(|(k, t)| t.role == EffectRole::GiftCard && moved[*k] > 0)
        .map(|(k, t)| GiftRefundOut { number: t.card.clone().unwrap_or_default(), amount: money(moved[k]) })
        .collect();
    let gift_total: i64 = effects.transfers.iter().enumerate().filter(|(_, t)| t.role == EffectRole::GiftCard).map(|(k, _)| moved[k]).sum();
    let mut per_currency: BTreeMap<AssetCode, (i64, i64, i64)> = BTreeMap::new();
    for (k, t) in effects.transfers.iter().enumerate() {
        let entry = per_currency.entry(t.currency.clone());
        match t.role {
            EffectRole::Accrual if plan.reverse[k] > 0 => {
                let e = entry.or_default();
                e.0 += moved[k];
                e.1 += plan.reverse[k] - moved[k];
            }
            EffectRole::Redemption if plan.reverse[k] > 0 => entry.or_default().2 += moved[k],
            _ => {}
        }
    }
    let response = ReturnResponse {
        return_id: (!cancel).then(|| op_key.to_owned()),
        receipt_id: receipt.receipt_id.clone(),
        status: if cancel { "cancelled".into() } else { "returned".into() },
        refund: money(refund),
        gift_cards,
        to_refund: money(refund - gift_total),
        lines: plan
            .lines
            .iter()
            .map(|(line, qty, r)| ReturnLineOut {
                line: *line,
                qty: qty.normalize().to_string(),
                refund: money(*r),
                reversed: plan
                    .line_reversals
                    .get(line)
                    .into_iter()
                    .flat_map(|parts| parts.iter().enumerate())
                    .filter(|(k, p)| **p > 0 && matches!(effects.transfers[*k].role, EffectRole::Accrual | EffectRole::Redemption))
                    .map(|(k, p)| {
                        let t = &effects.transfers[k];
                        ReversedLineOut { currency: t.currency.clone(), kind: t.role, amount: Minor::new(*p, scale(&t.currency)).to_string() }
                    })
                    .collect(),
            })
            .collect(),
        reversed: per_currency
            .into_iter()
            .map(|(cur, (taken, lost, back))| ReversedOut {
                accrual_taken: Minor::new(taken, scale(&cur)).to_string(),
                accrual_unrecovered: Minor::new(lost, scale(&cur)).to_string(),
                redemption_returned: Minor::new(back, scale(&cur)).to_string(),
                currency: cur,
            })
            .collect(),
        balances: customer_balances(c, receipt.customer_id, program, now).await?,
    };
    Ok(response)
}

/// What a receipt held that it no longer may, once it is cancelled or wholly returned:
/// the limits and budgets it used are given back, the coupons it issued voided.
async fn release(c: &mut Conn, receipt: &ReceiptRow) -> Result<(), StoreError> {
    super::receipts::give_back_usage(c, &receipt.effects.charges).await?;
    sqlx::query("UPDATE coupons SET void = true WHERE receipt_ref = $1")
        .bind(receipt.id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

impl Backend {
    pub async fn return_goods(
        &self,
        caller: PosCaller,
        request: ReturnRequest,
        program: Arc<Program>,
        now: Timestamp,
    ) -> Result<PosReply, StoreError> {
        request.check_ids()?;
        let hash = request_hash(&request);
        let shared = Arc::new((caller, request, hash));
        let secrets = self.ring();
        self.write(move |c| {
            let (shared, program, secrets) = (shared.clone(), program.clone(), secrets.clone());
            Box::pin(async move {
                let (caller, request, hash) = &*shared;
                if let Some(reply) = stored_operation(c, caller, "return", &request.return_id, hash).await? {
                    return Ok(reply);
                }
                let receipt = find_receipt(c, caller, &request.receipt_id, request.terminal.as_deref()).await?;
                if receipt.status == "cancelled" {
                    return Err(ReceiptError::ReceiptCancelled(format!("receipt {} was cancelled", receipt.receipt_id)).into());
                }
                let lines: Vec<(u32, Decimal)> = request.lines.iter().map(|l| (l.line, l.qty.0)).collect();
                let response = reverse_in(c, caller, &receipt, &lines, false, &request.return_id, &program, &secrets.ring, now).await?;
                let body = serde_json::to_string(&response).map_err(|e| StoreError::Invalid(e.to_string()))?;
                store_operation(c, caller, "return", &request.return_id, hash, Outcome::Created, body, Some(receipt.id), now).await
            })
        })
        .await
    }

    pub async fn cancel_receipt(
        &self,
        caller: PosCaller,
        receipt_id: String,
        terminal: Option<String>,
        program: Arc<Program>,
        now: Timestamp,
    ) -> Result<PosReply, StoreError> {
        loyd_domain::returns::check_receipt_ref(&receipt_id, terminal.as_deref())?;
        let hash = request_hash(&serde_json::json!({ "cancel": receipt_id, "terminal": terminal }));
        let shared = Arc::new((caller, receipt_id, terminal, hash));
        let secrets = self.ring();
        self.write(move |c| {
            let (shared, program, secrets) = (shared.clone(), program.clone(), secrets.clone());
            Box::pin(async move {
                let (caller, receipt_id, terminal, hash) = &*shared;
                if let Some(reply) = stored_operation(c, caller, "cancel", receipt_id, hash).await? {
                    return Ok(reply);
                }
                let receipt = find_receipt(c, caller, receipt_id, terminal.as_deref()).await?;
                let left: Vec<(u32, Decimal)> = receipt
                    .effects
                    .lines
                    .iter()
                    .map(|l| (l.line, l.qty - receipt.returned.get(&l.line).copied().unwrap_or_default()))
                    .filter(|(_, q)| *q > Decimal::ZERO)
                    .collect();
                let response = if receipt.status == "committed" && !left.is_empty() {
                    reverse_in(c, caller, &receipt, &left, true, &format!("cancel:{receipt_id}"), &program, &secrets.ring, now).await?
                } else {
                    // Cancelled before (from another terminal), or everything was returned
                    // already: nothing is left to reverse, the cancellation only marks it.
                    sqlx::query("UPDATE receipts SET status = 'cancelled' WHERE id = $1")
                        .bind(receipt.id)
                        .execute(&mut *c)
                        .await?;
                    if receipt.status == "committed" {
                        super::rollups::add_return(c, &caller.store, Some(receipt.sold), 0, now).await?;
                    }
                    let zero = Minor::new(0, caller.store.scale).to_string();
                    ReturnResponse {
                        return_id: None,
                        receipt_id: receipt.receipt_id.clone(),
                        status: "cancelled".into(),
                        refund: zero.clone(),
                        gift_cards: vec![],
                        to_refund: zero,
                        lines: vec![],
                        reversed: vec![],
                        balances: customer_balances(c, receipt.customer_id, &program, now).await?,
                    }
                };
                let body = serde_json::to_string(&response).map_err(|e| StoreError::Invalid(e.to_string()))?;
                store_operation(c, caller, "cancel", receipt_id, hash, Outcome::Changed, body, Some(receipt.id), now).await
            })
        })
        .await
    }
}
