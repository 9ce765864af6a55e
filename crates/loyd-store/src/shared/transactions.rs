//! Transactions: every operation of a period — sales, the till's returns,
//! cancellations, gift card activations and visits, and the ledger's manual
//! operations (adjustments, settlements, merges) — and one receipt with everything
//! that moved because of it: its transfers, the returns and cancellation made of it
//! and their transfers.
//!
//! Sales are read per store over `receipts (store_id, at)`, the till's other
//! operations over `pos_operations (recorded_at)` and manual operations over a partial
//! index of `transfers` that holds them only: no table is read whole.

use std::collections::BTreeSet;

use loyd_domain::ids::TransferId;
use loyd_domain::time::{from_micros, to_micros};
use sqlx::Row;

use crate::error::StoreError;
use crate::{ReceiptDetail, ReceiptOperation, Transaction, TransactionFilter, TransferLine};
use super::{Backend, Conn, rows};

/// The codes of the ledger's manual operations (`transfers_manual_idx`).
const MANUAL: &str = "('adjustment', 'settlement', 'merge')";

/// What the ids of the transfers a return makes start with: the return's `op_key`
/// (its id; a cancellation's is `cancel:<receipt id>`) made at `store` of a receipt of
/// `terminal` and `receipt_id`. The one place these ids are made.
pub(crate) fn return_transfer_prefix(store: &str, terminal: &str, receipt_id: &str, op_key: &str) -> String {
    let h = super::keys::scope_hash(store, terminal, receipt_id);
    let rh = &super::keys::scope_hash("return", op_key, "")[..8];
    format!("rc:{h}:x{rh}")
}

/// The id of the transfer a return makes to give back the receipt's transfer `k`.
pub(crate) fn return_transfer_id(prefix: &str, k: usize) -> Result<TransferId, StoreError> {
    super::keys::transfer_id(format!("{prefix}:{k}"))
}

/// A decimal string of a stored response's field as minor units and the places it
/// was written with ((0, 0) when absent or not a number).
fn amount_in(response: &serde_json::Value, field: &str) -> (i64, u32) {
    response[field]
        .as_str()
        .and_then(|s| s.parse::<rust_decimal::Decimal>().ok())
        .and_then(|d| i64::try_from(d.mantissa()).ok().map(|m| (m, d.scale())))
        .unwrap_or((0, 0))
}

impl Backend {
    /// Transactions of `[from, until)`, oldest first, at most `limit`; only the stores
    /// given, when given (manual operations made in no store count for all stores).
    pub async fn transactions(&self, f: TransactionFilter) -> Result<Vec<Transaction>, StoreError> {
        let mut c = self.reader().await?;
        let (from, until, limit) = (to_micros(f.from), to_micros(f.until), i64::try_from(f.limit).unwrap_or(i64::MAX));
        let stores: Vec<String> = match &f.stores {
            Some(s) => s.clone(),
            None => sqlx::query("SELECT id FROM stores ORDER BY id").fetch_all(&mut *c).await?.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?,
        };
        let mut out: Vec<Transaction> = Vec::new();
        // The latest time still among the `limit` oldest so far: later stores are read
        // up to it only, so no more than twice `limit` sales are ever held.
        let mut cutoff = until;
        for store in &stores {
            let rows = sqlx::query(
                "SELECT r.id, r.at, r.terminal_id, r.receipt_id, r.customer_id, r.status, r.total, r.discount, r.redeemed_value, s.currency \
                 FROM receipts r LEFT JOIN stores s ON s.id = r.store_id WHERE r.store_id = $1 AND r.at >= $2 AND r.at < $3 ORDER BY r.at, r.id LIMIT $4",
            )
            .bind(store.clone())
            .bind(from)
            .bind(cutoff)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?;
            for r in rows {
                let total: i64 = r.try_get("total")?;
                let discount: i64 = r.try_get("discount")?;
                out.push(Transaction {
                    at: from_micros(r.try_get("at")?),
                    kind: "sale".into(),
                    store: Some(store.clone()),
                    terminal: Some(r.try_get("terminal_id")?),
                    receipt: Some(r.try_get("receipt_id")?),
                    receipt_ref: Some(r.try_get("id")?),
                    customer: r.try_get("customer_id")?,
                    currency: r.try_get::<Option<String>, _>("currency")?.unwrap_or_default(),
                    amount: total - discount,
                    places: None,
                    discount,
                    redeemed: r.try_get("redeemed_value")?,
                    cancelled: r.try_get::<String, _>("status")? == "cancelled",
                    operation: None,
                });
            }
            if out.len() > f.limit {
                out.sort_by_key(|t| (t.at, t.receipt_ref));
                out.truncate(f.limit);
                cutoff = out.last().map_or(until, |t| to_micros(t.at) + 1);
            }
        }
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT o.kind, o.op_id, o.store_id, o.terminal_id, o.response, o.receipt_ref, o.recorded_at, r.receipt_id, r.customer_id, s.currency \
             FROM pos_operations o LEFT JOIN receipts r ON r.id = o.receipt_ref LEFT JOIN stores s ON s.id = o.store_id \
             WHERE o.recorded_at >= ",
        );
        qb.push_bind(from).push(" AND o.recorded_at < ").push_bind(until).push(" AND o.status < 300");
        let listed = f.stores.as_ref().is_none_or(|s| rows::push_in(&mut qb, "o.store_id", s));
        qb.push(" ORDER BY o.recorded_at LIMIT ").push_bind(limit);
        let ops = if listed { qb.build().fetch_all(&mut *c).await? } else { Vec::new() };
        for r in ops {
            let kind: String = r.try_get("kind")?;
            let response: serde_json::Value = serde_json::from_str(&r.try_get::<String, _>("response")?).unwrap_or_default();
            let field = if matches!(kind.as_str(), "return" | "cancel") { "refund" } else { "amount" };
            let (amount, places) = amount_in(&response, field);
            out.push(Transaction {
                at: from_micros(r.try_get("recorded_at")?),
                kind: match kind.as_str() {
                    "cancel" => "cancellation".into(),
                    "activate" => "gift_card_activation".into(),
                    other => other.to_owned(),
                },
                store: Some(r.try_get("store_id")?),
                terminal: Some(r.try_get("terminal_id")?),
                receipt: r.try_get("receipt_id")?,
                receipt_ref: r.try_get("receipt_ref")?,
                customer: r.try_get("customer_id")?,
                currency: r.try_get::<Option<String>, _>("currency")?.unwrap_or_default(),
                amount,
                places: Some(places),
                discount: 0,
                redeemed: 0,
                cancelled: false,
                operation: Some(r.try_get("op_id")?),
            });
        }
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT t.id, t.at, t.code, t.asset, t.amount, t.store_id, t.reference, da.holder_kind AS dk, da.holder_id AS di, \
             ca.holder_kind AS ck, ca.holder_id AS ci \
             FROM transfers t JOIN accounts da ON da.id = t.debit_account_id JOIN accounts ca ON ca.id = t.credit_account_id \
             WHERE t.code IN ",
        );
        qb.push(MANUAL).push(" AND t.at >= ").push_bind(from).push(" AND t.at < ").push_bind(until);
        if let Some(s) = &f.stores {
            qb.push(" AND (t.store_id IS NULL OR t.store_id = ''");
            if !s.is_empty() {
                qb.push(" OR t.store_id IN ");
                super::ledger::push_in_list(&mut qb, s.iter().map(String::as_str));
            }
            qb.push(")");
        }
        qb.push(" ORDER BY t.at LIMIT ").push_bind(limit);
        for r in qb.build().fetch_all(&mut *c).await? {
            // The customer's side, whichever it is: credited by a grant, debited by a
            // deduction.
            let (dk, ck): (String, String) = (r.try_get("dk")?, r.try_get("ck")?);
            let customer_side: Option<String> = if ck == "customer" {
                Some(r.try_get("ci")?)
            } else if dk == "customer" {
                Some(r.try_get("di")?)
            } else {
                None
            };
            let credited_to_holder = ck != "system";
            let amount: i64 = r.try_get("amount")?;
            out.push(Transaction {
                at: from_micros(r.try_get("at")?),
                kind: r.try_get("code")?,
                store: r.try_get::<Option<String>, _>("store_id")?.filter(|s| !s.is_empty()),
                terminal: None,
                receipt: None,
                receipt_ref: None,
                customer: customer_side.and_then(|c| c.parse().ok()),
                currency: r.try_get("asset")?,
                amount: if credited_to_holder { amount } else { -amount },
                places: None,
                discount: 0,
                redeemed: 0,
                cancelled: false,
                operation: Some(r.try_get::<Option<String>, _>("reference")?.unwrap_or(r.try_get("id")?)),
            });
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.kind.cmp(&b.kind)).then(a.receipt_ref.cmp(&b.receipt_ref)));
        out.truncate(f.limit);
        Ok(out)
    }

    /// A receipt by its row id, with its transfers, the returns and cancellation made
    /// of it and their transfers.
    pub async fn receipt_detail(&self, id: i64) -> Result<Option<ReceiptDetail>, StoreError> {
        let mut c = self.reader().await?;
        let Some(r) = sqlx::query(
            "SELECT r.id, r.store_id, r.terminal_id, r.receipt_id, r.customer_id, r.at, r.status, r.total, r.discount, r.redeemed_value, \
             r.gift_card_value, r.request, r.response, r.effects, s.currency \
             FROM receipts r LEFT JOIN stores s ON s.id = r.store_id WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        else {
            return Ok(None);
        };
        let effects: loyd_domain::returns::ReceiptEffects =
            serde_json::from_str(&r.try_get::<String, _>("effects")?).map_err(|e| rows::corrupt(format!("receipt effects: {e}")))?;
        let own: BTreeSet<TransferId> = effects.transfers.iter().map(|t| t.id.clone()).collect();
        let transfers = transfer_lines(&mut c, &own).await?;
        let (terminal, receipt_id): (String, String) = (r.try_get("terminal_id")?, r.try_get("receipt_id")?);
        let ops = sqlx::query("SELECT kind, op_id, store_id, terminal_id, response, recorded_at FROM pos_operations WHERE receipt_ref = $1 ORDER BY recorded_at")
            .bind(id)
            .fetch_all(&mut *c)
            .await?;
        let mut operations = Vec::with_capacity(ops.len());
        for o in ops {
            let (kind, op_id, store): (String, String, String) = (o.try_get("kind")?, o.try_get("op_id")?, o.try_get("store_id")?);
            let key = if kind == "cancel" { format!("cancel:{op_id}") } else { op_id.clone() };
            let prefix = return_transfer_prefix(&store, &terminal, &receipt_id, &key);
            let ids: BTreeSet<TransferId> = (0..effects.transfers.len()).map(|k| return_transfer_id(&prefix, k)).collect::<Result<_, _>>()?;
            let response: serde_json::Value = serde_json::from_str(&o.try_get::<String, _>("response")?).unwrap_or_default();
            operations.push(ReceiptOperation {
                kind: if kind == "cancel" { "cancellation".into() } else { kind },
                operation: op_id,
                store,
                terminal: o.try_get("terminal_id")?,
                at: from_micros(o.try_get("recorded_at")?),
                refund: response["refund"].as_str().unwrap_or_default().to_owned(),
                transfers: transfer_lines(&mut c, &ids).await?,
            });
        }
        Ok(Some(ReceiptDetail {
            id,
            store: r.try_get("store_id")?,
            terminal,
            receipt: receipt_id,
            customer: r.try_get("customer_id")?,
            at: from_micros(r.try_get("at")?),
            cancelled: r.try_get::<String, _>("status")? == "cancelled",
            currency: r.try_get::<Option<String>, _>("currency")?.unwrap_or_default(),
            total: r.try_get("total")?,
            discount: r.try_get("discount")?,
            redeemed: r.try_get("redeemed_value")?,
            gift_card: r.try_get("gift_card_value")?,
            request: serde_json::from_str(&r.try_get::<String, _>("request")?).unwrap_or_default(),
            response: serde_json::from_str(&r.try_get::<String, _>("response")?).unwrap_or_default(),
            transfers,
            operations,
        }))
    }
}

/// The transfers of `ids` that exist, in the order they were recorded, with whose
/// accounts they moved between.
async fn transfer_lines(c: &mut Conn, ids: &BTreeSet<TransferId>) -> Result<Vec<TransferLine>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = sqlx::QueryBuilder::<super::Db>::new(
        "SELECT t.id, t.seq, t.asset, t.amount, t.code, t.kind, t.reverses, t.at, da.holder_kind AS dk, da.holder_id AS di, \
         ca.holder_kind AS ck, ca.holder_id AS ci \
         FROM transfers t JOIN accounts da ON da.id = t.debit_account_id JOIN accounts ca ON ca.id = t.credit_account_id WHERE t.id IN ",
    );
    super::ledger::push_in_list(&mut qb, ids.iter().map(TransferId::as_str));
    qb.push(" ORDER BY t.seq");
    qb.build()
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| {
            Ok(TransferLine {
                id: r.try_get("id")?,
                currency: r.try_get("asset")?,
                amount: r.try_get("amount")?,
                code: r.try_get("code")?,
                kind: r.try_get("kind")?,
                reverses: r.try_get("reverses")?,
                at: from_micros(r.try_get("at")?),
                debit: format!("{}:{}", r.try_get::<String, _>("dk")?, r.try_get::<String, _>("di")?),
                credit: format!("{}:{}", r.try_get::<String, _>("ck")?, r.try_get::<String, _>("ci")?),
            })
        })
        .collect()
}
