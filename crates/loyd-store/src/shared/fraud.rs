//! Fraud detection: the `detect_fraud` job, off the receipt's path. It reads three
//! sources past cursors of its own — receipts, ledger transfers and refused operations
//! — and in the transaction that moves each cursor records what the rules
//! ([`FraudRules`]) find as alerts, one per rule, subject and period
//! (`UNIQUE (rule, subject, period)`): a later batch that finds more for the same
//! alert raises its figure and evidence, never a second alert, so reruns and servers
//! running the job side by side record each alert once. Receipts and transfers are
//! read up to the same horizon as the aggregates' (see `rollups`).
//!
//! - receipts: a customer's receipts within an hour and stores within 24 hours
//!   (counted over every receipt of theirs, not only the batch's), the cards each
//!   customer holds, and each terminal's and cashier's day (`fraud_days`: receipts,
//!   those paid partly with points, card numbers typed by hand) beside its peers';
//! - transfers: a return that takes back an accrual within `return_within_hours` of
//!   the sale;
//! - refusals: unknown card numbers and wrong PINs at one terminal within an hour.
//!   Refusals are written by transactions of their own and carry no horizon: one made
//!   visible late is still counted in the windows of those after it.
//!
//! A rule listed in `[fraud] block` blocks the customer's card when its alert is
//! first raised, audited as done by `fraud:<rule>`.

use std::collections::{BTreeMap, BTreeSet};

use loyd_domain::fraud::{self, DAY, HOUR};
use loyd_domain::program::{FraudRule, FraudRules};
use loyd_domain::receipt::CardEntry;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use rust_decimal::Decimal;
use sqlx::Row;

use super::cursors::{cursor, move_cursor};
use super::rollups::add_rows;
use super::{Backend, Conn, rows};
use crate::error::StoreError;
use crate::{FraudAlert, FraudDecision, FraudEvidence, FraudFilter};

/// Events an alert lists as its evidence, at most (the figure counts them all).
const EVIDENCE: usize = 50;

/// The UTC day of a time, as alerts name it.
fn utc_day(at: i64) -> String {
    from_micros(at).strftime("%Y-%m-%d").to_string()
}

/// An alert a batch found.
struct Found {
    rule: FraudRule,
    subject: String,
    period: String,
    at: i64,
    store: Option<String>,
    customer: Option<i64>,
    card: Option<String>,
    figure: i64,
    limit: Decimal,
    evidence: Vec<FraudEvidence>,
}

/// Alerts found by one batch, the highest figure per alert.
#[derive(Default)]
struct Findings(BTreeMap<(FraudRule, String, String), Found>);

impl Findings {
    fn add(&mut self, f: Found) {
        let key = (f.rule, f.subject.clone(), f.period.clone());
        match self.0.get(&key) {
            Some(old) if old.figure >= f.figure => {}
            _ => {
                self.0.insert(key, f);
            }
        }
    }

    /// Records every alert: new ones inserted (blocking the card when the rule says
    /// so), known ones raised when this batch counted more. How many were new.
    async fn record(self, c: &mut Conn, rules: &FraudRules, ring: &crate::crypto::Keyring, now: Timestamp) -> Result<usize, StoreError> {
        let mut new = 0;
        for f in self.0.into_values() {
            let severity = match f.rule {
                FraudRule::ReturnAfterAccrual => fraud::severity(f.rule, Decimal::ZERO, Decimal::ZERO),
                _ => fraud::severity(f.rule, Decimal::from(f.figure), f.limit),
            };
            let evidence = serde_json::to_string(&f.evidence).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let inserted = sqlx::query(
                "INSERT INTO fraud_alerts (rule, subject, period, severity, at, found_at, store_id, customer_id, card, figure, threshold, evidence) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (rule, subject, period) DO NOTHING",
            )
            .bind(f.rule.name())
            .bind(f.subject.clone())
            .bind(f.period.clone())
            .bind(severity.name())
            .bind(f.at)
            .bind(to_micros(now))
            .bind(f.store.clone())
            .bind(f.customer)
            .bind(f.card.clone())
            .bind(f.figure)
            .bind(f.limit.normalize().to_string())
            .bind(evidence.clone())
            .execute(&mut *c)
            .await?
            .rows_affected()
                == 1;
            if !inserted {
                sqlx::query(
                    "UPDATE fraud_alerts SET figure = $1, severity = $2, at = $3, evidence = $4 \
                     WHERE rule = $5 AND subject = $6 AND period = $7 AND figure < $1",
                )
                .bind(f.figure)
                .bind(severity.name())
                .bind(f.at)
                .bind(evidence)
                .bind(f.rule.name())
                .bind(f.subject)
                .bind(f.period)
                .execute(&mut *c)
                .await?;
                continue;
            }
            new += 1;
            if !rules.block.contains(&f.rule) {
                continue;
            }
            let card = match (&f.card, f.customer) {
                (Some(card), _) => Some(card.clone()),
                (None, Some(customer)) => loyalty_card(c, customer).await?,
                (None, None) => None,
            };
            if let Some(card) = card
                && block(c, ring, &card, &format!("fraud:{}", f.rule), now).await?
            {
                sqlx::query("UPDATE fraud_alerts SET blocked_card = $1 WHERE rule = $2 AND subject = $3 AND period = $4")
                    .bind(card)
                    .bind(f.rule.name())
                    .bind(f.subject)
                    .bind(f.period)
                    .execute(&mut *c)
                    .await?;
            }
        }
        Ok(new)
    }
}

/// A customer's newest active loyalty card.
async fn loyalty_card(c: &mut Conn, customer: i64) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT number FROM cards WHERE customer_id = $1 AND kind = 'loyalty' AND state = 'active' ORDER BY issued_at DESC, number LIMIT 1")
        .bind(customer)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.try_get("number")).transpose()?)
}

/// Blocks an active card and audits it; whether it was active.
async fn block(c: &mut Conn, ring: &crate::crypto::Keyring, card: &str, actor: &str, now: Timestamp) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE cards SET state = 'blocked' WHERE number = $1 AND state = 'active'").bind(card.to_owned()).execute(&mut *c).await?;
    if done.rows_affected() == 1 {
        let (before, after) = (serde_json::json!({ "state": "active" }), serde_json::json!({ "state": "blocked" }));
        super::audit::audit(c, ring, now, actor, "card.block", "card", card, Some(&before), Some(&after)).await?;
    }
    Ok(done.rows_affected() == 1)
}

/// The parts of a stored receipt request fraud detection reads.
#[derive(serde::Deserialize, Default)]
struct StoredRequest {
    #[serde(default)]
    cashier: Option<String>,
    #[serde(default)]
    customer: Option<StoredCustomer>,
}

#[derive(serde::Deserialize, Default)]
struct StoredCustomer {
    #[serde(default)]
    card: Option<String>,
    #[serde(default)]
    entry: Option<CardEntry>,
}

/// A receipt of the batch.
struct Sale {
    store: String,
    terminal: String,
    customer: Option<i64>,
    at: i64,
    redeemed: bool,
    card: Option<String>,
    cashier: Option<String>,
    manual: bool,
}

/// Each actor's count of one day: (actor, count).
type Counts = Vec<(String, i64)>;

/// A customer's receipt in the windows: (at, store, terminal, receipt id).
type Visit = (i64, String, String, String);

fn visit_evidence(v: &Visit, customer: i64) -> FraudEvidence {
    FraudEvidence {
        kind: "receipt".into(),
        at: Some(from_micros(v.0)),
        store: Some(v.1.clone()),
        terminal: Some(v.2.clone()),
        receipt: Some(v.3.clone()),
        customer: Some(customer),
        ..FraudEvidence::default()
    }
}

/// The customer and peer rules over one batch of receipts.
async fn check_receipts(c: &mut Conn, rules: &FraudRules, sales: &[Sale], found: &mut Findings) -> Result<(), StoreError> {
    let customers: Vec<i64> = sales.iter().filter_map(|s| s.customer).collect::<BTreeSet<_>>().into_iter().collect();
    if !customers.is_empty() && (rules.receipts_per_hour > 0 || rules.stores_per_day > 0) {
        let lo = sales.iter().map(|s| s.at).min().unwrap_or_default() - DAY;
        let hi = sales.iter().map(|s| s.at).max().unwrap_or_default();
        let mut visits: BTreeMap<i64, Vec<Visit>> = BTreeMap::new();
        for chunk in customers.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT customer_id, at, store_id, terminal_id, receipt_id FROM receipts WHERE at > ");
            qb.push_bind(lo).push(" AND at <= ").push_bind(hi);
            rows::push_in(&mut qb, "customer_id", chunk);
            for r in qb.build().fetch_all(&mut *c).await? {
                let v: Visit = (r.try_get("at")?, r.try_get("store_id")?, r.try_get("terminal_id")?, r.try_get("receipt_id")?);
                visits.entry(r.try_get("customer_id")?).or_default().push(v);
            }
        }
        // Each customer's visits in time order, beside their times alone.
        let visits: BTreeMap<i64, (Vec<Visit>, Vec<i64>)> = visits
            .into_iter()
            .map(|(customer, mut v)| {
                v.sort();
                let times = v.iter().map(|v| v.0).collect();
                (customer, (v, times))
            })
            .collect();
        for s in sales {
            let Some(customer) = s.customer else { continue };
            let Some((mine, times)) = visits.get(&customer) else { continue };
            let subject = format!("customer:{customer}");
            let hour = fraud::within(times, s.at, HOUR);
            if rules.receipts_per_hour > 0 && hour.len() > rules.receipts_per_hour as usize {
                found.add(Found {
                    rule: FraudRule::ReceiptsPerHour,
                    subject: subject.clone(),
                    period: utc_day(s.at),
                    at: s.at,
                    store: Some(s.store.clone()),
                    customer: Some(customer),
                    card: s.card.clone(),
                    figure: hour.len() as i64,
                    limit: Decimal::from(rules.receipts_per_hour),
                    evidence: mine[hour].iter().take(EVIDENCE).map(|v| visit_evidence(v, customer)).collect(),
                });
            }
            let day = &mine[fraud::within(times, s.at, DAY)];
            let stores: BTreeSet<&str> = day.iter().map(|v| v.1.as_str()).collect();
            if rules.stores_per_day > 0 && stores.len() > rules.stores_per_day as usize {
                // One receipt per store shows where: the first there.
                let mut seen = BTreeSet::new();
                let evidence = day.iter().filter(|v| seen.insert(v.1.as_str())).take(EVIDENCE).map(|v| visit_evidence(v, customer)).collect();
                found.add(Found {
                    rule: FraudRule::StoresPerDay,
                    subject,
                    period: utc_day(s.at),
                    at: s.at,
                    store: Some(s.store.clone()),
                    customer: Some(customer),
                    card: s.card.clone(),
                    figure: stores.len() as i64,
                    limit: Decimal::from(rules.stores_per_day),
                    evidence,
                });
            }
        }
    }
    if !customers.is_empty() && rules.cards_per_phone > 0 {
        for chunk in customers.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT customer_id, number, issued_at FROM cards WHERE replaced_by IS NULL AND state <> 'expired'");
            rows::push_in(&mut qb, "customer_id", chunk);
            qb.push(" ORDER BY customer_id, issued_at, number");
            let mut held: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
            for r in qb.build().fetch_all(&mut *c).await? {
                held.entry(r.try_get("customer_id")?).or_default().push((r.try_get("number")?, r.try_get("issued_at")?));
            }
            for (customer, cards) in held.into_iter().filter(|(_, cards)| cards.len() > rules.cards_per_phone as usize) {
                let last = sales.iter().filter(|s| s.customer == Some(customer)).map(|s| s.at).max().unwrap_or_default();
                found.add(Found {
                    rule: FraudRule::CardsPerPhone,
                    subject: format!("customer:{customer}"),
                    period: String::new(),
                    at: last,
                    store: None,
                    customer: Some(customer),
                    // Which of them to block is for staff to say.
                    card: None,
                    figure: cards.len() as i64,
                    limit: Decimal::from(rules.cards_per_phone),
                    evidence: cards
                        .iter()
                        .take(EVIDENCE)
                        .map(|(n, at)| FraudEvidence { kind: "card".into(), at: Some(from_micros(*at)), card: Some(n.clone()), customer: Some(customer), ..FraudEvidence::default() })
                        .collect(),
                });
            }
        }
    }
    // Each terminal's and cashier's day, then the days this batch touched beside peers.
    let mut days: BTreeMap<(String, String), [i64; 3]> = BTreeMap::new();
    for s in sales {
        let day = utc_day(s.at);
        let mut actors = vec![format!("terminal:{}/{}", s.store, s.terminal)];
        if let Some(cashier) = &s.cashier {
            actors.push(format!("cashier:{}/{cashier}", s.store));
        }
        for actor in actors {
            let row = days.entry((day.clone(), actor)).or_default();
            row[0] += 1;
            row[1] += i64::from(s.redeemed);
            row[2] += i64::from(s.manual);
        }
    }
    let touched: BTreeSet<String> = days.keys().map(|(d, _)| d.clone()).collect();
    let rows = days.into_iter().map(|((d, a), v)| (vec![d, a], v.to_vec())).collect();
    add_rows(c, "fraud_days", &["day", "actor"], &["receipts", "redemptions", "manual"], rows).await?;
    if rules.peer_min == 0 {
        return Ok(());
    }
    for day in touched {
        let rows = sqlx::query("SELECT actor, redemptions, manual FROM fraud_days WHERE day = $1").bind(day.clone()).fetch_all(&mut *c).await?;
        let mut by_kind: BTreeMap<String, (Counts, Counts)> = BTreeMap::new();
        for r in rows {
            let actor: String = r.try_get("actor")?;
            let kind = actor.split(':').next().unwrap_or_default().to_owned();
            let entry = by_kind.entry(kind).or_default();
            entry.0.push((actor.clone(), r.try_get("redemptions")?));
            entry.1.push((actor, r.try_get("manual")?));
        }
        for (redemptions, manual) in by_kind.values() {
            for (rule, counts) in [(FraudRule::PeerRedemptions, redemptions), (FraudRule::PeerManualEntries, manual)] {
                for o in fraud::outliers(counts, rules.peer_factor, rules.peer_min) {
                    let (store, who) = o.actor.split_once(':').map(|(_, rest)| rest).and_then(|r| r.split_once('/')).unwrap_or_default();
                    let terminal = o.actor.starts_with("terminal:").then(|| who.to_owned());
                    found.add(Found {
                        rule,
                        subject: o.actor.clone(),
                        period: day.clone(),
                        at: sales.iter().map(|s| s.at).max().unwrap_or_default(),
                        store: Some(store.to_owned()),
                        customer: None,
                        card: None,
                        figure: o.count,
                        limit: o.limit,
                        evidence: vec![FraudEvidence {
                            kind: "peers".into(),
                            store: Some(store.to_owned()),
                            terminal,
                            median: Some(o.median.normalize().to_string()),
                            ..FraudEvidence::default()
                        }],
                    });
                }
            }
        }
    }
    Ok(())
}

/// Refusals that count as guessing card numbers or PINs.
const GUESSES: &str = "(code = 'wrong_pin' OR (code = 'unknown_card' AND card IS NOT NULL))";

impl Backend {
    /// Runs the fraud rules over the next receipts, transfers and refusals (at most
    /// `limit` of each) and moves the cursors past them: how many it read.
    pub async fn detect_fraud(&self, rules: FraudRules, limit: u32, now: Timestamp) -> Result<usize, StoreError> {
        let Some(horizon) = self.horizon().await? else { return Ok(0) };
        let limit = i64::from(limit).clamp(1, 2000);
        let receipts = self.fraud_receipts(rules.clone(), horizon.receipts, limit, now).await?;
        let transfers = self.fraud_transfers(rules.clone(), horizon.transfers, limit, now).await?;
        let failures = self.fraud_failures(rules, limit, now).await?;
        Ok(receipts.max(transfers).max(failures))
    }

    async fn fraud_receipts(&self, rules: FraudRules, horizon: i64, limit: i64, now: Timestamp) -> Result<usize, StoreError> {
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (rules, secrets) = (rules.clone(), secrets.clone());
            Box::pin(async move {
                let last = cursor(c, "fraud_receipts").await?;
                let batch = sqlx::query(
                    "SELECT id, store_id, terminal_id, customer_id, at, redeemed_value, request \
                     FROM receipts WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3",
                )
                .bind(last)
                .bind(horizon)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
                let Some(end) = batch.last().map(|r| r.try_get::<i64, _>("id")).transpose()? else { return Ok(0) };
                let mut sales = Vec::with_capacity(batch.len());
                for r in &batch {
                    // The request the till sent (its stored copy, smaller than the
                    // response): the card it named, how, and the cashier. A customer
                    // named by phone or code has no card here; a block then takes their
                    // loyalty card.
                    let request: String = r.try_get("request")?;
                    let req: StoredRequest = serde_json::from_str(&request).unwrap_or_default();
                    let typed = req.customer.as_ref().is_some_and(|c| c.card.is_some() && c.entry == Some(CardEntry::Manual));
                    let card = req.customer.and_then(|c| c.card);
                    sales.push(Sale {
                        store: r.try_get("store_id")?,
                        terminal: r.try_get("terminal_id")?,
                        customer: r.try_get("customer_id")?,
                        at: r.try_get("at")?,
                        redeemed: r.try_get::<i64, _>("redeemed_value")? > 0,
                        card,
                        cashier: req.cashier,
                        manual: typed,
                    });
                }
                let mut found = Findings::default();
                check_receipts(c, &rules, &sales, &mut found).await?;
                found.record(c, &rules, &secrets.ring, now).await?;
                move_cursor(c, "fraud_receipts", end).await?;
                Ok(sales.len())
            })
        })
        .await
    }

    async fn fraud_transfers(&self, rules: FraudRules, horizon: i64, limit: i64, now: Timestamp) -> Result<usize, StoreError> {
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (rules, secrets) = (rules.clone(), secrets.clone());
            Box::pin(async move {
                let last = cursor(c, "fraud_transfers").await?;
                let top: Option<i64> = sqlx::query("SELECT MAX(seq) AS top FROM transfers WHERE seq <= $1").bind(horizon).fetch_one(&mut *c).await?.try_get("top")?;
                let end = top.unwrap_or(0).min(last.saturating_add(limit * 8));
                if end <= last {
                    return Ok(0);
                }
                let rows = sqlx::query(
                    "SELECT t.at, t.reference, t.store_id, o.at AS sold_at, o.store_id AS sold_store, a.holder_id \
                     FROM transfers t JOIN transfers o ON o.id = t.reverses JOIN accounts a ON a.id = o.credit_account_id \
                     WHERE t.seq > $1 AND t.seq <= $2 AND t.code = 'return' AND o.code = 'accrual' AND a.holder_kind = 'customer' \
                     ORDER BY t.seq",
                )
                .bind(last)
                .bind(end)
                .fetch_all(&mut *c)
                .await?;
                let mut found = Findings::default();
                let window = i64::from(rules.return_within_hours) * HOUR;
                for r in rows {
                    let (at, sold_at): (i64, i64) = (r.try_get("at")?, r.try_get("sold_at")?);
                    if rules.return_within_hours == 0 || at - sold_at > window {
                        continue;
                    }
                    let customer: i64 = r.try_get::<String, _>("holder_id")?.parse().map_err(|_| rows::corrupt("a customer account's holder is not a number".into()))?;
                    let receipt: Option<String> = r.try_get("reference")?;
                    let store: Option<String> = r.try_get("store_id")?;
                    let sold_store: Option<String> = r.try_get("sold_store")?;
                    let store = store.or(sold_store);
                    let hours = (at - sold_at) / HOUR;
                    found.add(Found {
                        rule: FraudRule::ReturnAfterAccrual,
                        subject: format!("customer:{customer}"),
                        period: format!("receipt:{}/{}", store.clone().unwrap_or_default(), receipt.clone().unwrap_or_default()),
                        at,
                        store: store.clone(),
                        customer: Some(customer),
                        card: None,
                        figure: hours,
                        limit: Decimal::from(rules.return_within_hours),
                        evidence: vec![
                            FraudEvidence { kind: "receipt".into(), at: Some(from_micros(sold_at)), store: store.clone(), receipt: receipt.clone(), customer: Some(customer), ..FraudEvidence::default() },
                            FraudEvidence { kind: "return".into(), at: Some(from_micros(at)), store, receipt, customer: Some(customer), ..FraudEvidence::default() },
                        ],
                    });
                }
                found.record(c, &rules, &secrets.ring, now).await?;
                move_cursor(c, "fraud_transfers", end).await?;
                Ok(usize::try_from(end - last).unwrap_or(usize::MAX))
            })
        })
        .await
    }

    async fn fraud_failures(&self, rules: FraudRules, limit: i64, now: Timestamp) -> Result<usize, StoreError> {
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (rules, secrets) = (rules.clone(), secrets.clone());
            Box::pin(async move {
                let last = cursor(c, "fraud_failures").await?;
                let top: Option<i64> = sqlx::query("SELECT MAX(id) AS top FROM failures").fetch_one(&mut *c).await?.try_get("top")?;
                let end = top.unwrap_or(0).min(last.saturating_add(limit * 8));
                if end <= last {
                    return Ok(0);
                }
                let mut found = Findings::default();
                if rules.card_misses_per_hour > 0 {
                    let new = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT store_id, terminal_id, MIN(at) AS lo, MAX(at) AS hi FROM failures \
                         WHERE id > $1 AND id <= $2 AND terminal_id IS NOT NULL AND {GUESSES} GROUP BY store_id, terminal_id"
                    )))
                    .bind(last)
                    .bind(end)
                    .fetch_all(&mut *c)
                    .await?;
                    for t in new {
                        let (store, terminal): (Option<String>, String) = (t.try_get("store_id")?, t.try_get("terminal_id")?);
                        let (lo, hi): (i64, i64) = (t.try_get("lo")?, t.try_get("hi")?);
                        let misses = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT id, at, code, card FROM failures WHERE terminal_id = $1 AND store_id = $2 AND at > $3 AND at <= $4 AND {GUESSES} ORDER BY at, id"
                        )))
                        .bind(terminal.clone())
                        .bind(store.clone())
                        .bind(lo - HOUR)
                        .bind(hi)
                        .fetch_all(&mut *c)
                        .await?;
                        let mut events = Vec::with_capacity(misses.len());
                        for m in misses {
                            events.push((m.try_get::<i64, _>("at")?, m.try_get::<i64, _>("id")?, m.try_get::<String, _>("code")?, m.try_get::<Option<String>, _>("card")?));
                        }
                        let times: Vec<i64> = events.iter().map(|e| e.0).collect();
                        for (at, id, _, _) in &events {
                            if *id <= last {
                                continue;
                            }
                            let window = fraud::within(&times, *at, HOUR);
                            if window.len() <= rules.card_misses_per_hour as usize {
                                continue;
                            }
                            found.add(Found {
                                rule: FraudRule::CardGuessing,
                                subject: format!("terminal:{}/{terminal}", store.clone().unwrap_or_default()),
                                period: utc_day(*at),
                                at: *at,
                                store: store.clone(),
                                customer: None,
                                card: None,
                                figure: window.len() as i64,
                                limit: Decimal::from(rules.card_misses_per_hour),
                                evidence: events[window]
                                    .iter()
                                    .take(EVIDENCE)
                                    .map(|(at, _, code, card)| FraudEvidence {
                                        kind: "refusal".into(),
                                        at: Some(from_micros(*at)),
                                        store: store.clone(),
                                        terminal: Some(terminal.clone()),
                                        card: card.clone(),
                                        code: Some(code.clone()),
                                        ..FraudEvidence::default()
                                    })
                                    .collect(),
                            });
                        }
                    }
                }
                found.record(c, &rules, &secrets.ring, now).await?;
                move_cursor(c, "fraud_failures", end).await?;
                Ok(usize::try_from(end - last).unwrap_or(usize::MAX))
            })
        })
        .await
    }

    /// Alerts, newest first.
    pub async fn fraud_alerts(&self, filter: FraudFilter) -> Result<Vec<FraudAlert>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(format!("SELECT {ALERT} FROM fraud_alerts WHERE 1 = 1"));
        for (column, value) in [("state", &filter.state), ("rule", &filter.rule), ("severity", &filter.severity)] {
            if let Some(v) = value {
                qb.push(format_args!(" AND {column} = ")).push_bind(v.clone());
            }
        }
        if let Some(before) = filter.before {
            qb.push(" AND id < ").push_bind(before);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit.clamp(1, 500)));
        qb.build().fetch_all(&mut *c).await?.iter().map(alert_row).collect()
    }

    pub async fn fraud_alert(&self, id: i64) -> Result<Option<FraudAlert>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ALERT} FROM fraud_alerts WHERE id = $1"))).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(alert_row).transpose()
    }

    /// Open alerts by severity: (high, medium, low).
    pub async fn open_fraud_alerts(&self) -> Result<(i64, i64, i64), StoreError> {
        let mut c = self.reader().await?;
        let mut out = (0, 0, 0);
        for r in sqlx::query("SELECT severity, COUNT(*) AS n FROM fraud_alerts WHERE state = 'open' GROUP BY severity").fetch_all(&mut *c).await? {
            let n: i64 = r.try_get("n")?;
            match r.try_get::<String, _>("severity")?.as_str() {
                "high" => out.0 = n,
                "medium" => out.1 = n,
                _ => out.2 = n,
            }
        }
        Ok(out)
    }

    /// Records a decision on an alert, blocking the card it names: the alert after.
    /// Deciding again replaces the decision; each is audited.
    pub async fn decide_fraud_alert(&self, id: i64, decision: FraudDecision, actor: String, now: Timestamp) -> Result<FraudAlert, StoreError> {
        let secrets = self.secrets.clone();
        self.write(move |c| {
            let (decision, actor, secrets) = (decision.clone(), actor.clone(), secrets.clone());
            Box::pin(async move {
                let lock = if super::PG { " FOR UPDATE" } else { "" };
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ALERT} FROM fraud_alerts WHERE id = $1{lock}")))
                    .bind(id)
                    .fetch_optional(&mut *c)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { what: "fraud alert", id: id.to_string() })?;
                let before = alert_row(&row)?;
                let mut blocked = before.blocked_card.clone();
                if let Some(card) = &decision.block_card {
                    let known = sqlx::query("SELECT state FROM cards WHERE number = $1").bind(card.clone()).fetch_optional(&mut *c).await?;
                    if known.is_none() {
                        return Err(StoreError::NotFound { what: "card", id: card.clone() });
                    }
                    if block(c, &secrets.ring, card, &actor, now).await? {
                        blocked = Some(card.clone());
                    }
                }
                sqlx::query("UPDATE fraud_alerts SET state = $1, note = $2, decided_by = $3, decided_at = $4, blocked_card = $5 WHERE id = $6")
                    .bind(decision.state.clone())
                    .bind(decision.note.clone())
                    .bind(actor.clone())
                    .bind(to_micros(now))
                    .bind(blocked.clone())
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                let after = FraudAlert { state: decision.state.clone(), note: decision.note.clone(), decided_by: Some(actor.clone()), decided_at: Some(now), blocked_card: blocked, ..before.clone() };
                let said = |a: &FraudAlert| serde_json::json!({ "state": a.state, "note": a.note, "blocked_card": a.blocked_card });
                super::audit::audit(c, &secrets.ring, now, &actor, "fraud_alert.decide", "fraud_alert", &id.to_string(), Some(&said(&before)), Some(&said(&after))).await?;
                Ok(after)
            })
        })
        .await
    }
}

const ALERT: &str = "id, rule, subject, period, severity, at, found_at, store_id, customer_id, card, figure, threshold, evidence, state, note, decided_by, decided_at, blocked_card";

fn alert_row(r: &rows::DbRow) -> Result<FraudAlert, StoreError> {
    let evidence: String = r.try_get("evidence")?;
    Ok(FraudAlert {
        id: r.try_get("id")?,
        rule: r.try_get("rule")?,
        subject: r.try_get("subject")?,
        period: r.try_get("period")?,
        severity: r.try_get("severity")?,
        at: from_micros(r.try_get("at")?),
        found_at: from_micros(r.try_get("found_at")?),
        store: r.try_get("store_id")?,
        customer: r.try_get("customer_id")?,
        card: r.try_get("card")?,
        figure: r.try_get("figure")?,
        threshold: r.try_get("threshold")?,
        evidence: serde_json::from_str(&evidence).map_err(|e| rows::corrupt(format!("a fraud alert's evidence does not read: {e}")))?,
        state: r.try_get("state")?,
        note: r.try_get("note")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(from_micros),
        blocked_card: r.try_get("blocked_card")?,
    })
}
