//! Gift cards: activation (the sale of a gift card) at a POS, idempotent by the
//! operation id. Paying with a gift card is part of a receipt ([`super::receipts`]).

use std::sync::Arc;

use loyd_domain::giftcards;
use loyd_domain::ledger::{LotTerms, NewTransfer};
use loyd_domain::money::Minor;
use loyd_domain::operations::{ActivateRequest, ActivateResponse, Outcome};
use loyd_domain::program::Program;
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

#[allow(clippy::too_many_arguments)]
async fn activate_in(
    c: &mut Conn,
    caller: &PosCaller,
    number: &str,
    req: &ActivateRequest,
    hash: &str,
    program: &Program,
    secret: &crate::crypto::Secrets,
    now: Timestamp,
) -> Result<PosReply, StoreError> {
    if let Some(reply) = stored_operation(c, caller, "activate", &req.operation_id, hash).await? {
        return Ok(reply);
    }
    let card = card_row(c, number).await?.ok_or_else(|| ReceiptError::UnknownCard(number.to_owned()))?;
    let plan = giftcards::plan_activation(&card, program.card_series(&card.series), &caller.store.currency, caller.store.scale, req.amount.0, now)?;
    let (scale, amount, currency, valid_until) = (caller.store.scale, plan.amount, plan.currency, plan.valid_until);
    let account = card.account.ok_or_else(|| super::rows::corrupt(format!("gift card {number} has no account")))?;
    let source = system_id(c, "issuance", &currency, now).await?;
    let t = NewTransfer {
        lot: LotTerms { available_at: None, expires_at: valid_until.map(loyd_domain::time::truncate_micros) },
        reference: Some(req.operation_id.clone()),
        at: Some(now),
        store: Some(caller.store.id.to_string()),
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
    if let Some(to) = &req.send_to {
        // A certificate: a new PIN, known only to its recipient (the printed one, if any, stops working).
        let pin = program.card_series(&card.series).is_some_and(|s| s.pin).then(|| super::keys::random_digits(4));
        if let Some(pin) = &pin {
            sqlx::query("UPDATE cards SET pin_hash = $1, pin_failures = 0 WHERE number = $2")
                .bind(super::keys::keyed_hash(secret, &["pin", number, pin]))
                .bind(number.to_owned())
                .execute(&mut *c)
                .await?;
        }
        let data = serde_json::json!({
            "number": number,
            "pin": pin,
            "amount": Minor::new(amount, scale).to_string(),
            "currency": currency.to_string(),
            "valid_until": valid_until.map(|v| format_time(v, &caller.store.timezone)),
            "name": to.name,
            "greeting": to.greeting,
            "language": to.language,
            "to": { "email": to.email, "phone": to.phone },
        });
        let kind = loyd_domain::events::EventKind::GiftCardSold;
        super::events::record_event(c, &secret.ring, kind, &format!("gift_card:{number}"), &data, None, now).await?;
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
    store_operation(c, caller, "activate", &req.operation_id, hash, Outcome::Created, body, None, now).await
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
        let mut request = request;
        if let Some(to) = &request.send_to {
            // Checked, and something must be able to carry it, before anything is sold.
            let to = to.checked()?;
            if !program.messages.iter().any(|m| m.wants(loyd_domain::events::EventKind::GiftCardSold) && to.reached_by(m.channel)) {
                return Err(ReceiptError::invalid(format!("send_to: the program has no gift_card.sold message by {}", to.reachable_by())).into());
            }
            request.send_to = Some(to);
        }
        let shared = Arc::new((caller, number, request, hash));
        let secrets = self.ring();
        self.write(move |c| {
            let (shared, program, secrets) = (shared.clone(), program.clone(), secrets.clone());
            Box::pin(async move {
                let (caller, number, request, hash) = &*shared;
                activate_in(c, caller, number, request, hash, &program, &secrets, now).await
            })
        })
        .await
    }
}
