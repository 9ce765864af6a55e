//! Gift cards: activation (the sale of a gift card) at a POS, idempotent by the
//! operation id. Paying with a gift card is part of a receipt ([`super::receipts`]).

use std::sync::Arc;

use loyd_domain::cards::CardState;
use loyd_domain::ledger::{LotTerms, NewTransfer};
use loyd_domain::money::{self, Minor};
use loyd_domain::operations::{ActivateRequest, ActivateResponse};
use loyd_domain::program::{CardKind, Program};
use loyd_domain::receipt::{ReceiptError, format_time};
use loyd_domain::time::{Timestamp, to_micros};

use crate::{PosCaller, PosReply};
use crate::error::StoreError;
use super::{Backend, Conn};
use super::balances::{ledger_refusal, system_id};
use super::cards::card_row;
use super::idempotency::{store_operation, stored_operation};
use super::keys::{code, json, request_hash, scope_hash, transfer_id};
use super::ledger::apply_transfers;

async fn activate_in(
    c: &mut Conn,
    caller: &PosCaller,
    number: &str,
    req: &ActivateRequest,
    hash: &str,
    program: &Program,
    now: Timestamp,
) -> Result<PosReply, StoreError> {
    if let Some(reply) = stored_operation(c, caller, "activate", &req.operation_id, hash).await? {
        return Ok(reply);
    }
    let card = card_row(c, number).await?.ok_or_else(|| ReceiptError::UnknownCard(number.to_owned()))?;
    if card.kind != CardKind::Gift {
        return Err(ReceiptError::invalid(format!("card {number} is not a gift card")).into());
    }
    match card.state {
        CardState::Issued => {}
        CardState::Active => return Err(ReceiptError::CardAlreadyActive(number.to_owned()).into()),
        CardState::Blocked => return Err(ReceiptError::CardBlocked(number.to_owned()).into()),
        CardState::Expired => return Err(ReceiptError::CardExpired(number.to_owned()).into()),
    }
    let series = program
        .series
        .get(card.series.as_str())
        .ok_or_else(|| ReceiptError::invalid(format!("card series {} is not configured", card.series)))?;
    let spec = &series.spec;
    let currency = spec.currency.clone().ok_or_else(|| ReceiptError::invalid("the gift series has no currency"))?;
    if currency != caller.store.currency {
        return Err(ReceiptError::invalid(format!("gift card {number} holds {currency}; this store sells in {}", caller.store.currency)).into());
    }
    let scale = caller.store.scale;
    let amount = money::to_minor_exact(req.amount.0, scale).map_err(|e| ReceiptError::invalid(format!("amount: {e}")))?;
    let as_minor = |d: loyd_domain::program::Dec| money::to_minor_exact(d.0, scale).unwrap_or(-1);
    let allowed = if spec.nominals.is_empty() {
        let (lo, hi) = (spec.amount_min.map(as_minor).unwrap_or(1), spec.amount_max.map(as_minor).unwrap_or(i64::MAX));
        (lo..=hi).contains(&amount)
    } else {
        spec.nominals.iter().any(|n| as_minor(*n) == amount)
    };
    if !allowed || amount <= 0 {
        let rule = if spec.nominals.is_empty() {
            format!(
                "from {} to {}",
                spec.amount_min.map(|d| d.to_string()).unwrap_or_else(|| "0.01".into()),
                spec.amount_max.map(|d| d.to_string()).unwrap_or_else(|| "any".into())
            )
        } else {
            format!("one of {}", spec.nominals.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "))
        };
        return Err(ReceiptError::invalid(format!("series {} is sold for amounts {rule}", card.series)).into());
    }
    let account = card.account_id.ok_or_else(|| super::rows::corrupt(format!("gift card {number} has no account")))?;
    let valid_until = spec.validity_days.map(|d| now + jiff::SignedDuration::from_hours(24 * i64::from(d)));
    let source = system_id(c, "issuance", &currency, now).await?;
    let t = NewTransfer {
        lot: LotTerms { available_at: None, expires_at: valid_until.map(loyd_domain::time::truncate_micros) },
        reference: Some(req.operation_id.clone()),
        at: Some(now),
        ..NewTransfer::single(
            transfer_id(format!("ga:{}", scope_hash(caller.store.id.as_str(), caller.terminal.as_str(), &req.operation_id)))?,
            source,
            account,
            amount,
            code("gift_card_sale"),
        )
    };
    apply_transfers(c, &[t], now).await.map_err(|e| ledger_refusal(e, "gift card", scale, &req.operation_id))?;
    let done = sqlx::query("UPDATE cards SET state = 'active', activated_at = $1, valid_until = $2 WHERE number = $3 AND state = 'issued'")
        .bind(to_micros(now))
        .bind(valid_until.map(to_micros))
        .bind(number.to_owned())
        .execute(&mut *c)
        .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Retry(format!("card {number} changed concurrently")));
    }
    let response = ActivateResponse {
        operation_id: req.operation_id.clone(),
        number: number.to_owned(),
        amount: Minor::new(amount, scale).to_string(),
        balance: Minor::new(amount, scale).to_string(),
        currency: currency.to_string(),
        valid_until: valid_until.map(|v| format_time(v, &caller.store.timezone)),
    };
    let body = json(&response)?;
    store_operation(c, caller, "activate", &req.operation_id, hash, 201, &body, None, now).await?;
    Ok(PosReply { status: 201, body, replayed: false })
}

impl Backend {
    pub async fn activate_gift_card(
        &self,
        caller: PosCaller,
        number: String,
        request: ActivateRequest,
        program: Arc<Program>,
        now: Timestamp,
    ) -> Result<PosReply, StoreError> {
        request.check_ids(&number)?;
        let hash = request_hash(&(&number, &request));
        let shared = Arc::new((caller, number, request, hash));
        self.write(move |c| {
            let (shared, program) = (shared.clone(), program.clone());
            Box::pin(async move {
                let (caller, number, request, hash) = &*shared;
                activate_in(c, caller, number, request, hash, &program, now).await
            })
        })
        .await
    }
}
