//! Passes: registering a visit against a pass card, idempotent by the operation id.

use std::collections::BTreeSet;
use std::sync::Arc;

use loyd_domain::passes;
use loyd_domain::cards::Card;
use loyd_domain::ids::AccountId;
use loyd_domain::ledger::NewTransfer;
use loyd_domain::money::Minor;
use loyd_domain::operations::{Outcome, VisitRequest, VisitResponse};
use loyd_domain::program::{CardKind, Program};
use loyd_domain::receipt::{ReceiptError, format_time};
use loyd_domain::time::Timestamp;
use sqlx::Row;

use crate::{PosCaller, PosReply};
use crate::error::StoreError;
use super::{Backend, Conn, rows};
use super::balances::{accounts_with_balances, ledger_refusal, system_id};
use super::cards::{card_row, identify};
use super::idempotency::{store_operation, stored_operation};
use super::keys::{code, json, scope_hash, transfer_id};
use super::ledger::apply_transfers;

/// Pass cards a visit may use: the card itself if it is a pass, else the customer's.
async fn candidate_passes(c: &mut Conn, req: &VisitRequest, secret: &crate::crypto::Secrets, now: Timestamp) -> Result<Vec<Card>, StoreError> {
    let who = req.customer.identify()?;
    if let loyd_domain::receipt::Identify::Card(number) = &who {
        let card = card_row(c, number).await?.ok_or_else(|| ReceiptError::UnknownCard(number.clone()))?;
        if card.kind == CardKind::Pass {
            return Ok(vec![card]);
        }
    }
    let customer = identify(c, &who, now, secret, false).await?.customer;
    let rows = sqlx::query("SELECT number FROM cards WHERE customer_id = $1 AND kind = 'pass' ORDER BY issued_at, number")
        .bind(customer)
        .fetch_all(&mut *c)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let number: String = r.try_get("number")?;
        if let Some(card) = card_row(c, &number).await? {
            out.push(card);
        }
    }
    Ok(out)
}

async fn visit_in(
    c: &mut Conn,
    caller: &PosCaller,
    req: &VisitRequest,
    hash: &str,
    program: &Program,
    secret: &crate::crypto::Secrets,
    now: Timestamp,
) -> Result<PosReply, StoreError> {
    if let Some(reply) = stored_operation(c, caller, "visit", &req.operation_id, hash).await? {
        return Ok(reply);
    }
    let service_of = |card: &Card| program.card_series(&card.series).and_then(|s| s.service.clone());
    let passes: Vec<(Card, Option<String>)> = candidate_passes(c, req, secret, now)
        .await?
        .into_iter()
        .map(|p| {
            let service = service_of(&p);
            (p, service)
        })
        .filter(|(_, service)| passes::serves(service.as_deref(), req.service.as_deref()))
        .collect();
    let ids: BTreeSet<AccountId> = passes.iter().filter_map(|(p, _)| p.account).collect();
    let balances = accounts_with_balances(c, &ids, now, true).await?;
    let candidates: Vec<passes::Candidate> = passes
        .into_iter()
        .map(|(card, service)| {
            let balance = card.account.and_then(|a| balances.get(&a)).map(|(a, b)| (b.available, program.scale_of(a.asset.as_str())));
            passes::Candidate { card, service, balance }
        })
        .collect();
    let visit = passes::plan_visit(&candidates, req.service.as_deref(), now)?;
    let pass = &candidates[visit.index];
    let (account, _) = pass.card.account.and_then(|a| balances.get(&a)).ok_or_else(|| rows::corrupt("a planned pass has no account".into()))?;
    let scale = program.scale_of(account.asset.as_str());
    let sink = system_id(c, "redemption", &account.asset, now).await?;
    let t = NewTransfer {
        reference: Some(req.operation_id.clone()),
        at: Some(now),
        store: Some(caller.store.id.to_string()),
        ..NewTransfer::single(
            transfer_id(format!("pv:{}", scope_hash(caller.store.id.as_str(), caller.terminal.as_str(), &req.operation_id)))?,
            account.id,
            sink,
            visit.units,
            code("visit"),
        )
    };
    apply_transfers(c, &[t], now).await.map_err(|e| ledger_refusal(e, "pass", scale, &req.operation_id))?;
    let response = VisitResponse {
        operation_id: req.operation_id.clone(),
        card: pass.card.number.clone(),
        service: pass.service.clone(),
        remaining: Minor::new(visit.remaining, scale).to_string(),
        valid_until: pass.card.valid_until.map(|v| format_time(v, &caller.store.timezone)),
    };
    let body = json(&response)?;
    store_operation(c, caller, "visit", &req.operation_id, hash, Outcome::Created, body, None, now).await
}

impl Backend {
    pub async fn register_visit(
        &self,
        caller: PosCaller,
        request: VisitRequest,
        program: Arc<Program>,
        secret: Arc<crate::crypto::Secrets>,
        now: Timestamp,
    ) -> Result<PosReply, StoreError> {
        request.check()?;
        let hash = super::keys::keyed_request_hash(&secret, &request);
        let shared = Arc::new((caller, request, hash));
        self.write(move |c| {
            let (shared, program, secret) = (shared.clone(), program.clone(), secret.clone());
            Box::pin(async move {
                let (caller, request, hash) = &*shared;
                visit_in(c, caller, request, hash, &program, &secret, now).await
            })
        })
        .await
    }
}
