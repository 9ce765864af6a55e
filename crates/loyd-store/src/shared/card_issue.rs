//! Issuing cards: free numbers of a series (sequential or random), new loyalty, gift,
//! pass and credit cards with their accounts, and replacing a lost card.

use std::collections::BTreeSet;
use std::sync::Arc;

use loyd_domain::money;
use loyd_domain::said;
use loyd_domain::cards::{self, CardState};
use loyd_domain::ids::CustomerId;
use loyd_domain::ledger::{AccountSpec, BalancePolicy, Holder, HolderKind, LotTerms, NewTransfer};
use loyd_domain::program::{CardKind, Program};
use loyd_domain::time::{Timestamp, to_micros};
use rand::RngExt;
use sqlx::Row;

use crate::{CardInfo, IssueCards, IssuedCard};
use crate::error::StoreError;
use super::{Backend, Conn};
use super::audit::audit;
use super::balances::{holder_of, system_id};
use super::cards::{card_info, card_row};
use super::keys::{bad, code, keyed_hash, random_digits, transfer_id};
use super::ledger::{apply_transfers, ensure_account};

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
            .ok_or_else(|| StoreError::Rule(said::series_full(&spec.id)))?;
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
        out.push(found.ok_or_else(|| StoreError::Rule(said::series_full(&spec.id)))?);
    }
    Ok(out)
}

pub(crate) async fn issue_in(c: &mut Conn, req: &IssueCards, program: &Program, secret: &crate::crypto::Secrets, now: Timestamp) -> Result<Vec<IssuedCard>, StoreError> {
    let series = program
        .series
        .get(req.series.as_str())
        .ok_or_else(|| StoreError::NotFound { what: "card series", id: req.series.clone() })?;
    let spec = &series.spec;
    if req.count == 0 || req.count > 10_000 {
        return Err(StoreError::Rule(said::cards_at_a_time(10_000)));
    }
    let customer = match req.customer {
        Some(id) => {
            let exists = sqlx::query("SELECT 1 FROM customers WHERE id = $1 AND merged_into IS NULL").bind(id).fetch_optional(&mut *c).await?;
            if exists.is_none() {
                return Err(StoreError::NotFound { what: "customer", id: CustomerId(id).to_string() });
            }
            Some(id)
        }
        None if matches!(spec.kind, CardKind::Loyalty | CardKind::Credit) => {
            return Err(StoreError::Rule(said::card_needs_customer(spec.kind.name())));
        }
        None => None,
    };
    if req.virtual_card {
        let id = customer.ok_or_else(|| StoreError::Rule(said::card_needs_customer("virtual")))?;
        if spec.kind != CardKind::Loyalty || req.count != 1 {
            return Err(StoreError::Rule(said::virtual_card_one()));
        }
        let record = super::customers::customer_row(c, &secret.ring, id).await?;
        if record.and_then(|r| r.phone).is_none() {
            return Err(StoreError::Rule(said::virtual_card_phone()));
        }
    }
    let numbers = match &req.number {
        Some(n) => {
            if req.count != 1 {
                return Err(StoreError::Rule(said::number_or_count()));
            }
            if !cards::valid_card_text(n) || !n.starts_with(&spec.prefix) {
                return Err(StoreError::Rule(said::not_series_number(n, &spec.id, &spec.prefix)));
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
                let valid_until = loyd_domain::time::valid_until(now, spec.validity_days);
                let currency = acct.asset.clone();
                let visits = loyd_domain::passes::issued_units(spec.visits, program.scale_of(currency.as_str()));
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
                let scale = program.scale_of(currency.as_str());
                let limit = spec
                    .credit_limit
                    .map(|l| money::to_minor_exact(l.0, scale))
                    .transpose()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
                    .unwrap_or(0);
                let id = customer.expect("checked above");
                let holder = holder_of(c, id).await?;
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
            kind: spec.kind,
            pin,
            customer: customer.map(|c| CustomerId(c).to_string()),
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

impl Backend {
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
                if let Some(op) = &request.operation_id {
                    let same = (&request.series, request.count, request.customer, &request.number, request.virtual_card);
                    super::idempotency::record_batch(c, "cards", op, &same, request.count, &actor, now).await?;
                }
                let issued = issue_in(c, &request, &program, &secret, now).await?;
                // Numbers only: PINs are shown once and never recorded.
                let numbers: Vec<&str> = issued.iter().map(|c| c.number.as_str()).collect();
                let what = serde_json::json!({ "numbers": numbers, "customer": request.customer.map(|c| CustomerId(c).to_string()), "virtual": request.virtual_card });
                super::audit::audit(c, &secret.ring, now, &actor, "card.issue", "card_series", &request.series, None::<&()>, Some(&what)).await?;
                Ok(issued)
            })
        })
        .await
    }

    /// Replaces a (lost) card: the new card takes over its customer, its own account
    /// (gift value, pass visits) and its PIN-less state; the old one is blocked for
    /// good and names its successor. Who may replace which card is the caller's check
    /// (`loyd_domain::access::Act::ReplaceCard`).
    pub async fn replace_card(&self, old: String, new: String, actor: String, now: Timestamp) -> Result<CardInfo, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (old, new, secrets, actor) = (old.clone(), new.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let card = super::cards::card_row(c, &old).await?.ok_or_else(|| StoreError::NotFound { what: "card", id: old.clone() })?;
                let row = sqlx::query("SELECT replaced_by, issued_at FROM cards WHERE number = $1").bind(old.clone()).fetch_one(&mut *c).await?;
                if let Some(next) = row.try_get::<Option<String>, _>("replaced_by")? {
                    return Err(StoreError::Refused(loyd_domain::receipt::ReceiptError::invalid(format!("card {old} was already replaced by {next}"))));
                }
                if !loyd_domain::cards::valid_card_text(&new) {
                    return Err(bad(format!("'{new}' is not a card number")));
                }
                if super::cards::card_row(c, &new).await?.is_some() {
                    return Err(StoreError::AlreadyExists { what: "card", id: new.clone() });
                }
                // A PIN is bound to its card's number: the new card gets a new one.
                let pin = card.pin_hash.is_some().then(|| super::keys::random_digits(4));
                sqlx::query(
                    "INSERT INTO cards (number, series, kind, state, customer_id, account_id, pin_hash, valid_until, single_use, issued_at, activated_at) \
                     SELECT $1, series, kind, CASE WHEN state = 'blocked' THEN 'active' ELSE state END, customer_id, account_id, $2, valid_until, single_use, $3, activated_at \
                     FROM cards WHERE number = $4",
                )
                .bind(new.clone())
                .bind(pin.as_ref().map(|p| super::keys::keyed_hash(&secrets, &["pin", &new, p])))
                .bind(to_micros(now))
                .bind(old.clone())
                .execute(&mut *c)
                .await?;
                sqlx::query("UPDATE cards SET state = 'blocked', replaced_by = $1 WHERE number = $2")
                    .bind(new.clone())
                    .bind(old.clone())
                    .execute(&mut *c)
                    .await?;
                let mut info = card_info(
                    &sqlx::query("SELECT number, series, kind, state, virtual, replaced_by, issued_at FROM cards WHERE number = $1")
                        .bind(new.clone())
                        .fetch_one(&mut *c)
                        .await?,
                )?;
                let before = serde_json::json!({ "number": old, "state": card.state.name() });
                audit(c, &secrets.ring, now, &actor, "card.replace", "card", &old, Some(&before), Some(&info)).await?;
                info.pin = pin;
                Ok(info)
            })
        })
        .await
    }
}
