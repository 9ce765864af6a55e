//! S9 at scale: many terminals whose clients give up after a short timeout and send the
//! same receipt again, all against a few hot cards, every receipt redeeming more points
//! than it earns. Afterwards every receipt ever sent is sent once more, calmly: its
//! answer is definitive (the stored one if it was committed). Each hot card's balance
//! must then equal its starting balance plus what the definitive answers say was earned
//! and minus what they say was redeemed — a receipt applied twice, or applied without
//! an answer saying so, would break the equation — and no receipt answered 201 during the
//! storm may answer differently afterwards.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::dataset::{Terminal, card_number};
use crate::load::{Answer, send};

/// Whole points: the bench program's `bonus` currency has no decimals.
type Points = i64;

pub struct StormConfig {
    pub base: String,
    pub terminals: Vec<Terminal>,
    pub hot_cards: u64,
    pub duration: Duration,
    pub timeout: Duration,
    /// Makes this run's receipt ids its own.
    pub run_id: String,
}

#[derive(Debug, Default)]
pub struct StormReport {
    pub receipts: u64,
    pub attempts: u64,
    pub timeouts: u64,
    pub committed: u64,
    /// Refusals for insufficient funds during the storm.
    pub insufficient: u64,
    /// Receipts refused for insufficient funds in the definitive pass.
    pub refused: u64,
    pub other_refusals: BTreeMap<String, u64>,
    pub server_errors: BTreeMap<String, u64>,
    /// Per hot card: (start, end, expected end).
    pub cards: Vec<(String, Points, Points, Points)>,
}

fn points(v: &Value) -> Points {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn balance(client: &reqwest::Client, base: &str, key: &str, card: &str) -> anyhow::Result<Points> {
    let a = send(client, key, client.get(format!("{base}/v1/pos/cards/{card}"))).await?;
    ensure!(a.status == 200, "balance inquiry of {card}: {} {}", a.status, a.body);
    let b = a.body["balances"].as_array().into_iter().flatten().find(|b| b["currency"] == "bonus");
    Ok(b.map(|b| points(&b["available"]) + points(&b["pending"])).unwrap_or(0))
}

/// What a receipt sent during the storm was and what the storm heard back.
struct Sent {
    terminal: usize,
    body: Value,
    card: String,
    /// The body of a 201 answer, if one arrived during the storm.
    answered: Option<Value>,
}

pub async fn run(config: StormConfig) -> anyhow::Result<StormReport> {
    let calm = crate::load::client(Duration::from_secs(30), 4)?;
    let key0 = config.terminals[0].key.clone();
    let cards: Vec<String> = (0..config.hot_cards).map(card_number).collect();
    let mut start = BTreeMap::new();
    for c in &cards {
        start.insert(c.clone(), balance(&calm, &config.base, &key0, c).await?);
    }
    let storm = crate::load::client(config.timeout, config.terminals.len())?;
    let config = Arc::new(config);
    let until = Instant::now() + config.duration;
    let mut tasks = Vec::new();
    for (i, t) in config.terminals.iter().enumerate() {
        let (client, config, t, cards) = (storm.clone(), config.clone(), t.clone(), cards.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent: Vec<Sent> = Vec::new();
            let mut report = StormReport::default();
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let card = cards[rand::random_range(0..cards.len())].clone();
                // 10.00 of goods, 50 points (5.00) redeemed: 5 points earned on the rest.
                let body = json!({"receipt_id": format!("{}-storm-{}-{n}", config.run_id, t.id), "customer": {"card": card},
                                  "lines": [{"line": 1, "sku": "HOT", "qty": "1", "amount": "10.00"}],
                                  "redeem": [{"currency": "bonus", "amount": "50"}]});
                report.receipts += 1;
                let mut answered = None;
                // Retry on timeouts and 503s, with the same body, as a till does.
                while Instant::now() < until {
                    report.attempts += 1;
                    match send(&client, &t.key, client.post(format!("{}/v1/pos/receipts", config.base)).json(&body)).await {
                        Ok(Answer { status: 201, body }) => {
                            answered = Some(body);
                            break;
                        }
                        Ok(a) if a.status == 409 && a.code() == "insufficient_funds" => {
                            report.insufficient += 1;
                            break;
                        }
                        Ok(a) if a.status < 500 => {
                            *report.other_refusals.entry(format!("{} {}", a.status, a.code())).or_default() += 1;
                            break;
                        }
                        Ok(a) => *report.server_errors.entry(format!("{} {}", a.status, a.code())).or_default() += 1,
                        Err(e) if e.is_timeout() => report.timeouts += 1,
                        Err(_) => *report.server_errors.entry("connection".into()).or_default() += 1,
                    }
                    tokio::time::sleep(Duration::from_millis(rand::random_range(10..60))).await;
                }
                sent.push(Sent { terminal: i, body, card, answered });
            }
            (sent, report)
        }));
    }
    let mut all = Vec::new();
    let mut report = StormReport::default();
    for t in tasks {
        let (sent, r) = t.await?;
        all.extend(sent);
        report.receipts += r.receipts;
        report.attempts += r.attempts;
        report.timeouts += r.timeouts;
        report.insufficient += r.insufficient;
        for (k, v) in r.other_refusals {
            *report.other_refusals.entry(k).or_default() += v;
        }
        for (k, v) in r.server_errors {
            *report.server_errors.entry(k).or_default() += v;
        }
    }
    // The definitive pass: every receipt once more.
    let mut earned: BTreeMap<String, Points> = BTreeMap::new();
    for s in &all {
        let key = &config.terminals[s.terminal].key;
        let a = send(&calm, key, calm.post(format!("{}/v1/pos/receipts", config.base)).json(&s.body))
            .await
            .with_context(|| format!("resending {}", s.body["receipt_id"]))?;
        match a.status {
            201 => {
                if let Some(first) = &s.answered
                    && *first != a.body
                {
                    bail!("receipt {} answered differently on a retry:\n{first}\n{}", s.body["receipt_id"], a.body);
                }
                report.committed += 1;
                let sum = |k: &str| a.body[k].as_array().into_iter().flatten().filter(|x| x["currency"] == "bonus").map(|x| points(&x["amount"])).sum::<Points>();
                *earned.entry(s.card.clone()).or_default() += sum("accrued") - sum("redeemed");
            }
            409 if a.code() == "insufficient_funds" => {
                report.refused += 1;
                ensure!(s.answered.is_none(), "receipt {} was answered 201, now it is refused: {}", s.body["receipt_id"], a.body);
            }
            _ => bail!("receipt {}: {} {}", s.body["receipt_id"], a.status, a.body),
        }
    }
    for c in &cards {
        let end = balance(&calm, &config.base, &key0, c).await?;
        let expected = start[c] + earned.get(c).copied().unwrap_or(0);
        report.cards.push((c.clone(), start[c], end, expected));
    }
    Ok(report)
}
