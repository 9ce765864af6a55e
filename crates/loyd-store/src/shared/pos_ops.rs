//! Gift card activation, visits, card inquiry, the failure log, and the minimal admin
//! (customers, cards, one-time codes, API keys, internal credit), one source for both
//! backends.

use std::collections::BTreeSet;
use std::sync::Arc;

use loyd_domain::cards::{self, CardState};
use loyd_domain::ids::{AccountId, AssetCode};
use loyd_domain::ledger::{AccountSpec, BalancePolicy, Holder, HolderKind, LotTerms, NewTransfer};
use loyd_domain::money::{self, Minor, Scale};
use loyd_domain::operations::{
    ActivateRequest, ActivateResponse, CardInquiry, MaskedCustomer, VisitRequest, VisitResponse, mask_name, mask_phone,
};
use loyd_domain::program::{CardKind, Program};
use loyd_domain::receipt::{BalanceOut, ReceiptError, customer_wire_id, format_time};
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use rand::RngExt;
use sqlx::{QueryBuilder, Row};

use super::ledger::{apply_transfers, ensure_account, find_account, load_accounts};
use super::pos::{
    CardRow, accounts_with_balances, card_row, check_pin, code, identify, keyed_hash, ledger_refusal,
    request_hash, scope_hash, system_id, transfer_id,
};
use super::returns::{customer_balances, stored_operation, store_operation};
use super::{Backend, Conn, Db};
use crate::error::StoreError;
use crate::{
    AttemptCounts, Failure, FailureFilter, IssueCards, IssuedCard, NewFailure, PosCaller, PosReply, Statement, StatementLine,
};

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn scale_in(program: &Program, cur: &AssetCode) -> Scale {
    program.currency(cur).map(|c| c.scale).unwrap_or(Scale::ZERO)
}

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

/// Pass cards a visit may use: the card itself if it is a pass, else the customer's.
async fn candidate_passes(c: &mut Conn, req: &VisitRequest, secret: &crate::crypto::Secrets, now: Timestamp) -> Result<Vec<CardRow>, StoreError> {
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
    let service_of = |card: &CardRow| program.series.get(card.series.as_str()).and_then(|s| s.spec.service.clone());
    let passes: Vec<CardRow> = candidate_passes(c, req, secret, now)
        .await?
        .into_iter()
        .filter(|p| req.service.is_none() || service_of(p) == req.service)
        .collect();
    if passes.is_empty() {
        return Err(ReceiptError::invalid(match &req.service {
            Some(s) => format!("no pass for service {s}"),
            None => "no pass for this customer".into(),
        })
        .into());
    }
    let ids: BTreeSet<AccountId> = passes.iter().filter_map(|p| p.account_id).collect();
    let balances = accounts_with_balances(c, &ids, now, true).await?;
    // The first pass that is usable and has a visit left; otherwise say why the last one failed.
    let mut refusal: Option<StoreError> = None;
    for pass in &passes {
        if pass.state == CardState::Blocked {
            refusal = Some(ReceiptError::CardBlocked(pass.number.clone()).into());
            continue;
        }
        if pass.state == CardState::Expired || pass.valid_until.is_some_and(|v| v <= now) {
            refusal = Some(ReceiptError::PassExpired(format!("pass {} has expired", pass.number)).into());
            continue;
        }
        let Some((account, balance)) = pass.account_id.and_then(|a| balances.get(&a)) else { continue };
        let scale = scale_in(program, &account.asset);
        let one = 10i64.pow(u32::from(scale.places()));
        if balance.available < one {
            refusal = Some(ReceiptError::PassExhausted(format!("pass {} has no visits left", pass.number)).into());
            continue;
        }
        let sink = system_id(c, "redemption", &account.asset, now).await?;
        let t = NewTransfer {
            reference: Some(req.operation_id.clone()),
            at: Some(now),
            ..NewTransfer::single(
                transfer_id(format!("pv:{}", scope_hash(caller.store.id.as_str(), caller.terminal.as_str(), &req.operation_id)))?,
                account.id,
                sink,
                one,
                code("visit"),
            )
        };
        apply_transfers(c, &[t], now).await.map_err(|e| ledger_refusal(e, "pass", scale, &req.operation_id))?;
        let response = VisitResponse {
            operation_id: req.operation_id.clone(),
            card: pass.number.clone(),
            service: service_of(pass),
            remaining: Minor::new(balance.available - one, scale).to_string(),
            valid_until: pass.valid_until.map(|v| format_time(v, &caller.store.timezone)),
        };
        let body = json(&response)?;
        store_operation(c, caller, "visit", &req.operation_id, hash, 201, &body, None, now).await?;
        return Ok(PosReply { status: 201, body, replayed: false });
    }
    Err(refusal.unwrap_or_else(|| ReceiptError::invalid("no usable pass").into()))
}

async fn inquiry_in(
    c: &mut Conn,
    caller: &PosCaller,
    number: &str,
    pin: Option<&str>,
    program: &Program,
    secret: &crate::crypto::Secrets,
    now: Timestamp,
) -> Result<CardInquiry, StoreError> {
    let card = card_row(c, number).await?.ok_or_else(|| ReceiptError::UnknownCard(number.to_owned()))?;
    let needs_pin = card.pin_hash.is_some() && program.series.get(card.series.as_str()).is_none_or(|s| s.spec.pin);
    check_pin(&card, needs_pin, pin, secret, now)?;
    let (customer, balances) = match (card.kind, card.customer_id) {
        (CardKind::Loyalty | CardKind::Credit, Some(id)) => {
            let record = super::crm::customer_row(c, &secret.ring, id).await?;
            let (name, phone) = record.map(|r| (r.name, r.phone)).unwrap_or_default();
            let masked = MaskedCustomer {
                id: customer_wire_id(id),
                name: name.as_deref().map(mask_name),
                phone: phone.as_deref().map(mask_phone),
            };
            (Some(masked), customer_balances(c, Some(id), program, now).await?)
        }
        _ => {
            let ids: BTreeSet<AccountId> = card.account_id.into_iter().collect();
            let balances = accounts_with_balances(c, &ids, now, false).await?;
            let out = balances
                .values()
                .map(|(a, v)| {
                    let scale = scale_in(program, &a.asset);
                    BalanceOut {
                        currency: a.asset.clone(),
                        available: Minor::new(v.available, scale).to_string(),
                        pending: Minor::new(v.pending, scale).to_string(),
                    }
                })
                .collect();
            (None, out)
        }
    };
    let state = if card.state == CardState::Active && card.valid_until.is_some_and(|v| v <= now) {
        CardState::Expired
    } else {
        card.state
    };
    Ok(CardInquiry {
        number: card.number.clone(),
        kind: card.kind.name().into(),
        series: card.series.clone(),
        state: state.name().into(),
        valid_until: card.valid_until.map(|v| format_time(v, &caller.store.timezone)),
        customer,
        balances,
        tier: None,
        coupons: Vec::new(),
    })
}

/// Free numbers of a series: the next ones, or numbers drawn at random from the whole
/// range (`numbering = "random"`).
async fn next_numbers(c: &mut Conn, spec: &loyd_domain::program::CardSeriesSpec, count: u32) -> Result<Vec<String>, StoreError> {
    if spec.numbering == loyd_domain::program::Numbering::Random {
        return random_numbers(c, spec, count).await;
    }
    // Only numbers of the series' shape: a replacement card keeps its series under any
    // number the operator gave it ("R181"), which says nothing about the sequence.
    let last = sqlx::query(
        "SELECT number FROM cards WHERE series = $1 AND length(number) = $2 AND number LIKE $3 ORDER BY number DESC LIMIT 1",
    )
    .bind(spec.id.as_str().to_owned())
    .bind(i64::from(spec.length))
    .bind(format!("{}%", spec.prefix))
    .fetch_optional(&mut *c)
    .await?;
    let digits = usize::from(spec.length) - usize::from(spec.check_digit != loyd_domain::program::CheckDigit::None);
    let mut seq: u64 = match last {
        Some(r) => {
            let n: String = r.try_get("number")?;
            n.get(spec.prefix.len()..digits).and_then(|s| s.parse().ok()).unwrap_or(0)
        }
        None => 0,
    };
    let mut out = Vec::with_capacity(count as usize);
    while out.len() < count as usize {
        seq += 1;
        let number = cards::series_number(&spec.prefix, spec.length, spec.check_digit, seq)
            .ok_or_else(|| StoreError::Invalid(format!("series {} has no numbers left", spec.id)))?;
        // A number given by hand may sit ahead in the sequence: pass over it.
        if card_row(c, &number).await?.is_none() {
            out.push(number);
        }
    }
    Ok(out)
}

/// `count` unused numbers drawn at random from a series' range, each checked against
/// the cards that exist and the others drawn.
async fn random_numbers(c: &mut Conn, spec: &loyd_domain::program::CardSeriesSpec, count: u32) -> Result<Vec<String>, StoreError> {
    let capacity = cards::series_capacity(&spec.prefix, spec.length, spec.check_digit)
        .ok_or_else(|| StoreError::Invalid(format!("series {} has no room for numbers", spec.id)))?;
    let mut out: Vec<String> = Vec::with_capacity(count as usize);
    let mut drawn = BTreeSet::new();
    for _ in 0..count {
        let mut found = None;
        // A series more than nearly full makes free numbers hard to draw: give up then.
        for _ in 0..100 {
            let seq = rand::rng().random_range(0..capacity);
            let number = cards::series_number(&spec.prefix, spec.length, spec.check_digit, seq)
                .ok_or_else(|| StoreError::Invalid(format!("series {} has no room for numbers", spec.id)))?;
            if !drawn.contains(&number) && card_row(c, &number).await?.is_none() {
                drawn.insert(number.clone());
                found = Some(number);
                break;
            }
        }
        out.push(found.ok_or_else(|| StoreError::Invalid(format!("series {} has almost no free numbers left", spec.id)))?);
    }
    Ok(out)
}

pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

pub(crate) async fn issue_in(c: &mut Conn, req: &IssueCards, program: &Program, secret: &crate::crypto::Secrets, now: Timestamp) -> Result<Vec<IssuedCard>, StoreError> {
    let series = program
        .series
        .get(req.series.as_str())
        .ok_or_else(|| StoreError::NotFound { what: "card series", id: req.series.clone() })?;
    let spec = &series.spec;
    if req.count == 0 || req.count > 10_000 {
        return Err(StoreError::Invalid("issue 1 to 10000 cards at a time".into()));
    }
    let customer = match req.customer {
        Some(id) => {
            let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(id).fetch_optional(&mut *c).await?;
            if exists.is_none() {
                return Err(StoreError::NotFound { what: "customer", id: customer_wire_id(id) });
            }
            Some(id)
        }
        None if matches!(spec.kind, CardKind::Loyalty | CardKind::Credit) => {
            return Err(StoreError::Invalid(format!("a {} card is issued to a customer", spec.kind.name())));
        }
        None => None,
    };
    if req.virtual_card {
        let id = customer.ok_or_else(|| StoreError::Invalid("a virtual card is issued to a customer".into()))?;
        if spec.kind != CardKind::Loyalty || req.count != 1 {
            return Err(StoreError::Invalid("a virtual card is one loyalty card".into()));
        }
        let record = super::crm::customer_row(c, &secret.ring, id).await?;
        if record.and_then(|r| r.phone).is_none() {
            return Err(StoreError::Invalid("a virtual card is bound to the customer's phone; give the customer a phone first".into()));
        }
    }
    let numbers = match &req.number {
        Some(n) => {
            if req.count != 1 {
                return Err(StoreError::Invalid("give either a number or a count".into()));
            }
            if !cards::valid_card_text(n) || !n.starts_with(&spec.prefix) {
                return Err(StoreError::Invalid(format!("{n} is not a number of series {} (prefix {:?})", spec.id, spec.prefix)));
            }
            if card_row(c, n).await?.is_some() {
                return Err(StoreError::AlreadyExists { what: "card", id: n.clone() });
            }
            vec![n.clone()]
        }
        // Free numbers only: `next_numbers` passes over those that exist.
        None => next_numbers(c, spec, req.count).await?,
    };
    let mut issued = Vec::with_capacity(numbers.len());
    for number in numbers {
        let pin = spec.pin.then(|| random_digits(4));
        let (state, valid_until, account) = match spec.kind {
            CardKind::Loyalty => (CardState::Active, None, None),
            CardKind::Gift => {
                let acct = ensure_account(c, &card_account(&number, spec)?, now).await?;
                (CardState::Issued, None, Some(acct.id))
            }
            CardKind::Pass => {
                let acct = ensure_account(c, &card_account(&number, spec)?, now).await?;
                let valid_until = spec.validity_days.map(|d| now + jiff::SignedDuration::from_hours(24 * i64::from(d)));
                let currency = acct.asset.clone();
                let one = 10i64.pow(u32::from(scale_in(program, &currency).places()));
                let visits = i64::from(spec.visits.unwrap_or(0)) * one;
                let source = system_id(c, "issuance", &currency, now).await?;
                let t = NewTransfer {
                    lot: LotTerms { available_at: None, expires_at: valid_until.map(loyd_domain::time::truncate_micros) },
                    at: Some(now),
                    ..NewTransfer::single(transfer_id(format!("pass:{number}"))?, source, acct.id, visits, code("pass_sale"))
                };
                apply_transfers(c, &[t], now).await?;
                (CardState::Active, valid_until, Some(acct.id))
            }
            CardKind::Credit => {
                let currency = spec.currency.clone().ok_or_else(|| StoreError::Invalid("credit series without currency".into()))?;
                let scale = scale_in(program, &currency);
                let limit = spec
                    .credit_limit
                    .map(|l| money::to_minor_exact(l.0, scale))
                    .transpose()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
                    .unwrap_or(0);
                let id = customer.expect("checked above");
                let holder = super::crm::holder_of(c, id).await?;
                let acct = ensure_account(
                    c,
                    &AccountSpec {
                        holder,
                        asset: currency,
                        policy: BalancePolicy::CreditLimit { limit },
                        tracks_lots: false,
                    },
                    now,
                )
                .await?;
                (CardState::Active, None, Some(acct.id))
            }
        };
        sqlx::query(
            "INSERT INTO cards (number, series, kind, state, customer_id, account_id, pin_hash, valid_until, single_use, issued_at, virtual) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(number.clone())
        .bind(spec.id.as_str().to_owned())
        .bind(spec.kind.name())
        .bind(state.name())
        .bind(customer)
        .bind(account.map(|a| a.0))
        .bind(pin.as_ref().map(|p| keyed_hash(secret, &["pin", &number, p])))
        .bind(valid_until.map(to_micros))
        .bind(spec.single_use)
        .bind(to_micros(now))
        .bind(i64::from(req.virtual_card))
        .execute(&mut *c)
        .await?;
        issued.push(IssuedCard {
            number,
            series: spec.id.to_string(),
            kind: spec.kind.name().into(),
            pin,
            customer: customer.map(customer_wire_id),
            valid_until,
        });
    }
    Ok(issued)
}

fn card_account(number: &str, spec: &loyd_domain::program::CardSeriesSpec) -> Result<AccountSpec, StoreError> {
    Ok(AccountSpec {
        holder: Holder::new(HolderKind::Card, number).map_err(|e| StoreError::Invalid(e.to_string()))?,
        asset: spec.currency.clone().ok_or_else(|| StoreError::Invalid(format!("series {} has no currency", spec.id)))?,
        policy: BalancePolicy::NonNegative,
        tracks_lots: true,
    })
}

fn failure_from_row(r: &super::rows::DbRow) -> Result<Failure, StoreError> {
    Ok(Failure {
        id: r.try_get("id")?,
        at: from_micros(r.try_get("at")?),
        store: r.try_get("store_id")?,
        terminal: r.try_get("terminal_id")?,
        operation: r.try_get("operation")?,
        code: r.try_get("code")?,
        message: r.try_get("message")?,
        card: r.try_get("card")?,
        client_id: r.try_get("client_id")?,
    })
}

/// A customer's account of `currency` (their organisation's, for its contacts).
async fn customer_account(c: &mut Conn, customer: i64, currency: &AssetCode) -> Result<loyd_domain::ledger::Account, StoreError> {
    let holder = super::crm::holder_of(c, customer).await?;
    find_account(c, &holder, currency)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "account", id: format!("{} {currency}", customer_wire_id(customer)) })
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

    pub async fn register_visit(
        &self,
        caller: PosCaller,
        request: VisitRequest,
        program: Arc<Program>,
        secret: Arc<crate::crypto::Secrets>,
        now: Timestamp,
    ) -> Result<PosReply, StoreError> {
        request.check()?;
        let hash = super::pos::keyed_request_hash(&secret, &request);
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

    pub async fn card_inquiry(
        &self,
        caller: PosCaller,
        number: String,
        pin: Option<String>,
        program: Arc<Program>,
        secret: Arc<crate::crypto::Secrets>,
        now: Timestamp,
    ) -> Result<CardInquiry, StoreError> {
        loyd_domain::operations::check_card_number("number", &number)?;
        if let Some(p) = &pin {
            loyd_domain::text::pin("pin", p).map_err(ReceiptError::from)?;
        }
        let mut c = self.reader().await?;
        inquiry_in(&mut c, &caller, &number, pin.as_deref(), &program, &secret, now).await
    }

    /// Records a refusal in the failure log. What the client sent is kept only as
    /// escaped text ([`loyd_domain::text::escaped`]): a refused id may hold anything.
    pub async fn record_failure(&self, failure: NewFailure, now: Timestamp) -> Result<(), StoreError> {
        use loyd_domain::text::escaped;
        let failure = Arc::new(NewFailure {
            message: escaped(&failure.message, 500),
            card: failure.card.as_deref().map(|c| escaped(c, 64)),
            client_id: failure.client_id.as_deref().map(|c| escaped(c, 160)),
            ..failure
        });
        self.write(move |c| {
            let f = failure.clone();
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO failures (at, store_id, terminal_id, operation, code, message, card, client_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(to_micros(now))
                .bind(f.store.clone())
                .bind(f.terminal.clone())
                .bind(f.operation)
                .bind(f.code.clone())
                .bind(f.message.clone())
                .bind(f.card.clone())
                .bind(f.client_id.clone())
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// The failure log, newest first.
    pub async fn failures(&self, filter: FailureFilter) -> Result<Vec<Failure>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, at, store_id, terminal_id, operation, code, message, card, client_id FROM failures WHERE 1 = 1",
        );
        let text_filters = [
            ("store_id", &filter.store),
            ("terminal_id", &filter.terminal),
            ("code", &filter.code),
            ("card", &filter.card),
            ("operation", &filter.operation),
        ];
        for (column, value) in text_filters {
            if let Some(v) = value {
                qb.push(format_args!(" AND {column} = ")).push_bind(v.clone());
            }
        }
        if let Some(stores) = &filter.stores {
            if stores.is_empty() {
                return Ok(Vec::new());
            }
            qb.push(" AND store_id IN (");
            let mut list = qb.separated(", ");
            for s in stores {
                list.push_bind(s.clone());
            }
            qb.push(")");
        }
        if let Some(from) = filter.from {
            qb.push(" AND at >= ").push_bind(to_micros(from));
        }
        if let Some(to) = filter.to {
            qb.push(" AND at < ").push_bind(to_micros(to));
        }
        if let Some(before) = filter.before_id {
            qb.push(" AND id < ").push_bind(before);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit.clamp(1, 1000)));
        qb.build().fetch_all(&mut *c).await?.iter().map(failure_from_row).collect()
    }

    /// The refusals since `since` of a store's terminal that count as guesses: wrong
    /// PINs, unknown phones or one-time codes (refusals naming no card), unknown card
    /// numbers.
    pub async fn attempt_counts(&self, store: String, terminal: String, since: Timestamp) -> Result<AttemptCounts, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(
            "SELECT \
               CAST(COALESCE(SUM(CASE WHEN code = 'wrong_pin' THEN 1 ELSE 0 END), 0) AS BIGINT) AS pins, \
               CAST(COALESCE(SUM(CASE WHEN code = 'unknown_card' AND card IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS ids, \
               CAST(COALESCE(SUM(CASE WHEN code = 'unknown_card' AND card IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS cards \
             FROM failures WHERE terminal_id = $1 AND store_id = $3 AND code IN ('wrong_pin', 'unknown_card') AND at >= $2",
        )
        .bind(terminal)
        .bind(to_micros(since))
        .bind(store)
        .fetch_one(&mut *c)
        .await?;
        Ok(AttemptCounts { wrong_pins: row.try_get("pins")?, unknown_phones_or_codes: row.try_get("ids")?, unknown_cards: row.try_get("cards")? })
    }

    pub async fn issue_cards(
        &self,
        request: IssueCards,
        program: Arc<Program>,
        secret: Arc<crate::crypto::Secrets>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<IssuedCard>, StoreError> {
        let request = Arc::new(request);
        self.write(move |c| {
            let (request, program, secret, actor) = (request.clone(), program.clone(), secret.clone(), actor.clone());
            Box::pin(async move {
                let issued = issue_in(c, &request, &program, &secret, now).await?;
                // Numbers only: PINs are shown once and never recorded.
                let numbers: Vec<&str> = issued.iter().map(|c| c.number.as_str()).collect();
                let what = serde_json::json!({ "numbers": numbers, "customer": request.customer.map(customer_wire_id), "virtual": request.virtual_card });
                super::crm::audit(c, &secret.ring, now, &actor, "card.issue", "card_series", &request.series, None::<&()>, Some(&what)).await?;
                Ok(issued)
            })
        })
        .await
    }

    /// Blocks or unblocks a card.
    pub async fn set_card_blocked(&self, number: String, blocked: bool, actor: String, now: Timestamp) -> Result<(), StoreError> {
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (number, secrets, actor) = (number.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let (to, from) = if blocked { ("blocked", "active") } else { ("active", "blocked") };
                if !blocked {
                    let replaced = sqlx::query("SELECT replaced_by FROM cards WHERE number = $1 AND replaced_by IS NOT NULL")
                        .bind(number.clone())
                        .fetch_optional(&mut *c)
                        .await?;
                    if let Some(r) = replaced {
                        let next: String = r.try_get("replaced_by")?;
                        return Err(StoreError::Refused(ReceiptError::invalid(format!("card {number} was replaced by {next} and stays blocked"))));
                    }
                }
                let done = sqlx::query("UPDATE cards SET state = $1 WHERE number = $2 AND state = $3")
                    .bind(to)
                    .bind(number.clone())
                    .bind(from)
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 && card_row(c, &number).await?.is_none() {
                    return Err(StoreError::NotFound { what: "card", id: number });
                }
                if done.rows_affected() == 1 {
                    let action = if blocked { "card.block" } else { "card.unblock" };
                    let (before, after) = (serde_json::json!({ "state": from }), serde_json::json!({ "state": to }));
                    super::crm::audit(c, &secrets.ring, now, &actor, action, "card", &number, Some(&before), Some(&after)).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Generates `count` unique coupons of a `unique` series, personal to `customer` if
    /// given. Returns each code with its end of validity.
    pub async fn generate_coupons(
        &self,
        series: String,
        count: u32,
        customer: Option<i64>,
        program: Arc<Program>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<(String, Option<Timestamp>)>, StoreError> {
        let series = loyd_domain::ids::StoreCode::parse(series).map_err(|e| StoreError::Invalid(e.to_string()))?;
        match program.coupon_series.get(&series) {
            None => return Err(StoreError::NotFound { what: "coupon series", id: series.to_string() }),
            Some(s) if s.kind != loyd_domain::program::CouponKind::Unique => {
                return Err(StoreError::Invalid(format!("{series} is a promo series: its one code is in the configuration")));
            }
            Some(_) => {}
        }
        if count == 0 || count > 100_000 {
            return Err(StoreError::Invalid("generate 1 to 100000 coupons at a time".into()));
        }
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (series, program, secrets, actor) = (series.clone(), program.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                if let Some(id) = customer {
                    let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(id).fetch_optional(&mut *c).await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound { what: "customer", id: customer_wire_id(id) });
                    }
                }
                let mut out = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let (code, valid_until) = super::pos::new_coupon(&program, &series, now)?;
                    super::pos::store_coupon(c, &code, &series, customer, valid_until, None, now).await?;
                    out.push((code, valid_until));
                }
                // How many, not which: the codes are bearer secrets.
                let what = serde_json::json!({ "count": count, "customer": customer.map(customer_wire_id) });
                super::crm::audit(c, &secrets.ring, now, &actor, "coupons.generate", "coupon_series", series.as_str(), None::<&()>, Some(&what)).await?;
                Ok(out)
            })
        })
        .await
    }

    /// A one-time code identifying `customer` at a POS for `ttl`; only its HMAC is kept.
    pub async fn issue_code(
        &self,
        customer: i64,
        ttl: jiff::SignedDuration,
        secret: Arc<crate::crypto::Secrets>,
        actor: String,
        now: Timestamp,
    ) -> Result<(String, Timestamp), StoreError> {
        let expires = now + ttl;
        self.write(move |c| {
            let (secret, actor) = (secret.clone(), actor.clone());
            Box::pin(async move {
                let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(customer).fetch_optional(&mut *c).await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound { what: "customer", id: customer_wire_id(customer) });
                }
                // Expired codes free their numbers.
                sqlx::query("DELETE FROM one_time_codes WHERE expires_at <= $1").bind(to_micros(now)).execute(&mut *c).await?;
                for _ in 0..10 {
                    let code = random_digits(6);
                    let done = sqlx::query(
                        "INSERT INTO one_time_codes (code_hash, customer_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (code_hash) DO NOTHING",
                    )
                    .bind(keyed_hash(&secret, &["code", &code]))
                    .bind(customer)
                    .bind(to_micros(expires))
                    .execute(&mut *c)
                    .await?;
                    if done.rows_affected() == 1 {
                        let what = serde_json::json!({ "expires_at": expires });
                        super::crm::audit(c, &secret.ring, now, &actor, "customer.code", "customer", &customer_wire_id(customer), None::<&()>, Some(&what))
                            .await?;
                        return Ok((code, expires));
                    }
                }
                Err(StoreError::Unavailable("no free one-time code; try again".into()))
            })
        })
        .await
    }

    pub async fn create_api_key(&self, name: String, key_hash: String, role: String, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| {
            let (name, key_hash, role) = (name.clone(), key_hash.clone(), role.clone());
            Box::pin(async move {
                let done = sqlx::query(
                    "INSERT INTO api_keys (name, key_hash, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name.clone())
                .bind(key_hash)
                .bind(role)
                .bind(to_micros(now))
                .execute(&mut *c)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::AlreadyExists { what: "API key", id: name });
                }
                Ok(())
            })
        })
        .await
    }

    /// The (name, role) of a live API key.
    pub async fn api_key(&self, key_hash: String) -> Result<Option<(String, String)>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query("SELECT name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(&mut *c)
            .await?;
        row.map(|r| Ok((r.try_get("name")?, r.try_get("role")?))).transpose()
    }

    /// Settles a customer's internal credit (payroll deduction): credits the account by
    /// `amount`, or by everything owed. Idempotent by `operation_id`.
    pub async fn settle_credit(
        &self,
        operation_id: String,
        customer: i64,
        currency: AssetCode,
        amount: Option<i64>,
        actor: String,
        now: Timestamp,
    ) -> Result<(i64, i64), StoreError> {
        let id = transfer_id(format!("settle:{operation_id}"))?;
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (id, currency, operation_id, secrets, actor) = (id.clone(), currency.clone(), operation_id.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                super::returns::claim(c, &["settle", &operation_id]).await?;
                if let Some(t) = super::ledger::load_transfers(c, &BTreeSet::from([id.clone()])).await?.pop() {
                    let balance = account_posted(c, t.credit).await?;
                    return Ok((t.amount, balance));
                }
                let account = customer_account(c, customer, &currency).await?;
                if !matches!(account.policy, BalancePolicy::CreditLimit { .. }) {
                    return Err(StoreError::Invalid(format!("{currency} of {} is not a credit account", customer_wire_id(customer))));
                }
                let locked = load_accounts(c, &BTreeSet::from([account.id]), true).await?;
                let owed = locked.first().map(|a| -a.posted()).unwrap_or(0).max(0);
                let amount = amount.unwrap_or(i64::try_from(owed).unwrap_or(i64::MAX));
                if amount <= 0 {
                    return Err(StoreError::Invalid("nothing to settle".into()));
                }
                let source = system_id(c, "settlement", &currency, now).await?;
                let t = NewTransfer {
                    at: Some(now),
                    reference: Some(operation_id.clone()),
                    ..NewTransfer::single(id, source, account.id, amount, code("settlement"))
                };
                apply_transfers(c, &[t], now).await?;
                let balance = account_posted(c, account.id).await?;
                let what = serde_json::json!({ "operation_id": operation_id, "currency": currency, "settled_minor": amount });
                super::crm::audit(c, &secrets.ring, now, &actor, "credit.settle", "customer", &customer_wire_id(customer), None::<&()>, Some(&what)).await?;
                Ok((amount, balance))
            })
        })
        .await
    }

    /// Adjusts a customer's balance by hand (goodwill points, corrections): positive
    /// amounts are issued (with the currency's lot dates), negative ones taken back.
    /// Idempotent by `operation_id`. Returns the posted balance after.
    #[allow(clippy::too_many_arguments)]
    pub async fn adjust_balance(
        &self,
        operation_id: String,
        customer: i64,
        currency: AssetCode,
        amount: i64,
        reason: String,
        program: Arc<Program>,
        actor: String,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        if amount == 0 {
            return Err(StoreError::Invalid("an adjustment needs a non-zero amount".into()));
        }
        loyd_domain::ids::ClientOpId::parse(&operation_id).map_err(|e| StoreError::Invalid(format!("operation_id: {e}")))?;
        loyd_domain::text::lines("reason", &reason, 1000).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let cur = program
            .currency(&currency)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { what: "currency", id: currency.to_string() })?;
        let id = transfer_id(format!("adjust:{operation_id}"))?;
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (id, cur, reason, operation_id, secrets, actor) =
                (id.clone(), cur.clone(), reason.clone(), operation_id.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                super::returns::claim(c, &["adjust", &operation_id]).await?;
                let replay = !super::ledger::load_transfers(c, &BTreeSet::from([id.clone()])).await?.is_empty();
                let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(customer).fetch_optional(&mut *c).await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound { what: "customer", id: customer_wire_id(customer) });
                }
                let spec = AccountSpec {
                    holder: super::crm::holder_of(c, customer).await?,
                    asset: cur.code.clone(),
                    policy: BalancePolicy::NonNegative,
                    tracks_lots: true,
                };
                let account = match find_account(c, &spec.holder, &cur.code).await? {
                    Some(a) => a,
                    None => ensure_account(c, &spec, now).await?,
                };
                let t = if amount > 0 {
                    let source = system_id(c, "issuance", &cur.code, now).await?;
                    NewTransfer {
                        lot: if account.tracks_lots { cur.lot_terms(now, &jiff::tz::TimeZone::UTC) } else { LotTerms::default() },
                        ..NewTransfer::single(id, source, account.id, amount, code("adjustment"))
                    }
                } else {
                    let sink = system_id(c, "redemption", &cur.code, now).await?;
                    NewTransfer::single(id, account.id, sink, -amount, code("adjustment"))
                };
                let t = NewTransfer { reference: Some(reason.chars().take(200).collect()), at: Some(now), ..t };
                apply_transfers(c, &[t], now).await.map_err(|e| ledger_refusal(e, "balance", cur.scale, &operation_id))?;
                if !replay {
                    let what = serde_json::json!({
                        "operation_id": operation_id, "currency": cur.code, "amount": Minor::new(amount, cur.scale).to_string(), "reason": reason,
                    });
                    super::crm::audit(c, &secrets.ring, now, &actor, "balance.adjust", "customer", &customer_wire_id(customer), None::<&()>, Some(&what))
                        .await?;
                }
                account_posted(c, account.id).await
            })
        })
        .await
    }

    /// A customer's account in `currency` between `from` and `to`.
    pub async fn statement(
        &self,
        customer: i64,
        currency: AssetCode,
        from: Timestamp,
        to: Timestamp,
        scale: Scale,
    ) -> Result<Statement, StoreError> {
        let mut c = self.reader().await?;
        let account = customer_account(&mut c, customer, &currency).await?;
        let signed = "CASE WHEN credit_account_id = $1 THEN amount ELSE -amount END";
        let opening: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(COALESCE(SUM({signed}), 0) AS BIGINT) AS s FROM transfers \
             WHERE (debit_account_id = $1 OR credit_account_id = $1) AND kind IN ('single', 'post') AND at < $2"
        )))
        .bind(account.id.0)
        .bind(to_micros(from))
        .fetch_one(&mut *c)
        .await?
        .try_get("s")?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, code, reference, at, {signed} AS signed FROM transfers \
             WHERE (debit_account_id = $1 OR credit_account_id = $1) AND kind IN ('single', 'post') \
             AND at >= $2 AND at < $3 ORDER BY at, seq"
        )))
        .bind(account.id.0)
        .bind(to_micros(from))
        .bind(to_micros(to))
        .fetch_all(&mut *c)
        .await?;
        let mut balance = opening;
        let mut lines = Vec::with_capacity(rows.len());
        for r in rows {
            let amount: i64 = r.try_get("signed")?;
            if amount == 0 {
                continue;
            }
            balance += amount;
            lines.push(StatementLine {
                at: from_micros(r.try_get("at")?),
                transfer: r.try_get("id")?,
                code: r.try_get("code")?,
                reference: r.try_get("reference")?,
                amount: Minor::new(amount, scale).to_string(),
                balance: Minor::new(balance, scale).to_string(),
            });
        }
        Ok(Statement {
            customer: customer_wire_id(customer),
            currency,
            from,
            to,
            opening: Minor::new(opening, scale).to_string(),
            closing: Minor::new(balance, scale).to_string(),
            credit_limit: Minor::new(account.policy.limit(), scale).to_string(),
            lines,
        })
    }
}

/// An account's posted balance.
async fn account_posted(c: &mut Conn, id: AccountId) -> Result<i64, StoreError> {
    let a = load_accounts(c, &BTreeSet::from([id]), false).await?;
    Ok(a.first().map(|a| i64::try_from(a.posted()).unwrap_or(0)).unwrap_or(0))
}
