//! The load: concurrent terminals driving the POS API over HTTP, each like a till — a
//! preview, then the commit; sometimes a redemption, a balance inquiry, a return of an
//! earlier receipt, a gift card sold or paid with. Latencies are recorded per
//! operation after the warm-up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::dataset::{ADMIN_KEY, GiftCard, Terminal, card_number};

/// What the terminals do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// A till's day: previews and commits, redemptions, inquiries, returns, gift cards.
    Mixed,
    /// Commits only, each with an accrual and a redemption: the figure compared with the
    /// raw database reference.
    Commit,
    /// S9 at scale: clients with short timeouts retrying the same receipts against a few
    /// hot cards; checks that nothing is applied twice.
    Retries,
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub base: String,
    pub terminals: Vec<Terminal>,
    pub warmup: Duration,
    pub measure: Duration,
    pub mix: Mix,
    /// Customers `0..with_points` have points to redeem.
    pub with_points: u64,
    /// Customers `0..customers` exist.
    pub customers: u64,
    /// Gift cards, split among the terminals.
    pub gift_cards: Vec<GiftCard>,
    pub run_id: String,
}

/// One measured operation.
#[derive(Debug, Clone, Default)]
pub struct OpStats {
    pub latencies_us: Vec<u32>,
    pub ok: u64,
    /// 4xx answers, by error code: refusals the program or the balances call for.
    pub refused: BTreeMap<String, u64>,
    /// 5xx answers and transport failures (timeouts, resets), by kind.
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    fn merge(&mut self, other: OpStats) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        for (k, v) in other.refused {
            *self.refused.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    /// The `q` quantile in milliseconds (nearest rank).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies_us, q)
    }
}

/// `latencies` must be sorted.
pub fn quantile_ms(latencies: &[u32], q: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
    f64::from(latencies[rank - 1]) / 1000.0
}

#[derive(Debug, Default)]
pub struct LoadResult {
    pub ops: BTreeMap<&'static str, OpStats>,
    pub measured: Duration,
    /// Commits answered 201 over the whole run, warm-up included.
    pub committed: u64,
    /// Commits that got no answer (timeouts, resets): they may or may not be applied.
    pub unanswered_commits: u64,
}

impl LoadResult {
    fn merge(&mut self, other: LoadResult) {
        for (k, v) in other.ops {
            self.ops.entry(k).or_default().merge(v);
        }
        self.committed += other.committed;
        self.unanswered_commits += other.unanswered_commits;
    }
}

pub fn client(timeout: Duration, connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().timeout(timeout).pool_max_idle_per_host(connections).tcp_nodelay(true).build()?)
}

/// Runs the load and returns what each operation measured.
pub async fn run(config: LoadConfig, client: reqwest::Client) -> anyhow::Result<LoadResult> {
    let config = Arc::new(config);
    let start = Instant::now();
    let per_terminal = config.gift_cards.len() / config.terminals.len().max(1);
    let mut tasks = Vec::new();
    for (i, t) in config.terminals.iter().enumerate() {
        let gifts = config.gift_cards[i * per_terminal..(i + 1) * per_terminal].to_vec();
        let till = Till { n: i, terminal: t.clone(), client: client.clone(), config: config.clone(), gifts, start, seq: 0 };
        tasks.push(tokio::spawn(till.run()));
    }
    let mut result = LoadResult::default();
    for t in tasks {
        result.merge(t.await??);
    }
    for s in result.ops.values_mut() {
        s.latencies_us.sort_unstable();
    }
    result.measured = config.measure;
    Ok(result)
}

/// The answer to one request.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The stable error code of an error answer (`{"error": {"code": …}}`).
    pub fn code(&self) -> String {
        self.body["error"]["code"].as_str().unwrap_or("?").to_owned()
    }
}

pub async fn send(client: &reqwest::Client, key: &str, req: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let _ = client;
    let res = req.bearer_auth(key).send().await?;
    let status = res.status().as_u16();
    let bytes = res.bytes().await?;
    Ok(Answer { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) })
}

struct Till {
    n: usize,
    terminal: Terminal,
    client: reqwest::Client,
    config: Arc<LoadConfig>,
    gifts: Vec<GiftCard>,
    start: Instant,
    seq: u64,
}

/// A committed receipt a later return may take goods back from.
struct Sold {
    receipt_id: String,
    lines: u32,
}

fn random(n: u64) -> u64 {
    if n == 0 { 0 } else { rand::random_range(0..n) }
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// 3 to 12 lines of groceries.
fn lines() -> Vec<Value> {
    const GROUPS: [&[&str]; 5] = [&["dairy"], &["produce"], &["household"], &[], &["bakery"]];
    (1..=3 + random(10))
        .map(|line| {
            let qty = 1 + random(3);
            let price = 50 + random(1500);
            json!({"line": line, "sku": format!("SKU{}", random(5000)), "groups": GROUPS[random(5) as usize],
                   "qty": qty.to_string(), "price": money(price), "amount": money(price * qty)})
        })
        .collect()
}

impl Till {
    fn next_id(&mut self, kind: &str) -> String {
        self.seq += 1;
        format!("{}-{}-{kind}{}", self.config.run_id, self.n, self.seq)
    }

    fn customer_card(&self, with_points: bool) -> String {
        let n = if with_points { self.config.with_points } else { self.config.customers };
        card_number(random(n))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base)
    }

    async fn run(mut self) -> anyhow::Result<LoadResult> {
        let mut result = LoadResult::default();
        let measure_from = self.start + self.config.warmup;
        let until = measure_from + self.config.measure;
        let mut sold: Vec<Sold> = Vec::new();
        let mut active_gifts: Vec<GiftCard> = Vec::new();
        while Instant::now() < until {
            let pick = random(100);
            let (op, req, commit): (&'static str, reqwest::RequestBuilder, Option<Sold>) = match self.config.mix {
                Mix::Commit => {
                    let lines = lines();
                    let sale = Sold { receipt_id: self.next_id("r"), lines: lines.len() as u32 };
                    let body = json!({"receipt_id": sale.receipt_id, "customer": {"card": self.customer_card(true)},
                                      "lines": lines, "redeem": [{"currency": "bonus", "amount": (1 + random(5)).to_string()}]});
                    ("commit (accrual + redemption)", self.client.post(self.url("/v1/pos/receipts")).json(&body), Some(sale))
                }
                Mix::Mixed if pick < 55 => {
                    let lines = lines();
                    let sale = Sold { receipt_id: self.next_id("r"), lines: lines.len() as u32 };
                    let body = json!({"receipt_id": sale.receipt_id, "customer": {"card": self.customer_card(false)}, "lines": lines});
                    // The till previews the receipt, then commits it.
                    self.timed(&mut result, "calculate", measure_from, self.client.post(self.url("/v1/pos/calculate")).json(&body), None).await;
                    ("commit", self.client.post(self.url("/v1/pos/receipts")).json(&body), Some(sale))
                }
                Mix::Mixed if pick < 70 => {
                    let lines = lines();
                    let sale = Sold { receipt_id: self.next_id("r"), lines: lines.len() as u32 };
                    let body = json!({"receipt_id": sale.receipt_id, "customer": {"card": self.customer_card(true)},
                                      "lines": lines, "redeem": [{"currency": "bonus", "amount": (1 + random(20)).to_string()}]});
                    ("commit + redemption", self.client.post(self.url("/v1/pos/receipts")).json(&body), Some(sale))
                }
                Mix::Mixed if pick < 78 => {
                    let card = self.customer_card(false);
                    ("balance inquiry", self.client.get(self.url(&format!("/v1/pos/cards/{card}"))), None)
                }
                Mix::Mixed if pick < 80 => {
                    // A customer's purchase history, first page, as the back office and
                    // the customer portal show it. Customers were imported in card order.
                    let id = 1 + random(self.config.with_points);
                    let req = self.client.get(self.url(&format!("/v1/admin/customers/c_{id}/purchases?limit=20")));
                    self.timed_with(&mut result, "purchase history page", measure_from, req, None, ADMIN_KEY).await;
                    continue;
                }
                Mix::Mixed if pick < 88 && !sold.is_empty() => {
                    let s = sold.swap_remove(random(sold.len() as u64) as usize);
                    let body = json!({"return_id": self.next_id("ret"), "receipt_id": s.receipt_id,
                                      "lines": [{"line": 1 + random(u64::from(s.lines)), "qty": "1"}]});
                    ("return", self.client.post(self.url("/v1/pos/returns")).json(&body), None)
                }
                Mix::Mixed if pick < 92 || (pick >= 88 && active_gifts.is_empty()) => {
                    let Some(card) = self.gifts.pop() else { continue };
                    let body = json!({"operation_id": self.next_id("g"), "amount": "50.00"});
                    let req = self.client.post(self.url(&format!("/v1/pos/gift-cards/{}/activate", card.number))).json(&body);
                    let ok = self.timed(&mut result, "gift card sale", measure_from, req, None).await;
                    if ok {
                        active_gifts.push(card);
                    }
                    continue;
                }
                Mix::Mixed => {
                    let card = &active_gifts[random(active_gifts.len() as u64) as usize];
                    let lines = lines();
                    let sale = Sold { receipt_id: self.next_id("r"), lines: lines.len() as u32 };
                    let body = json!({"receipt_id": sale.receipt_id, "lines": lines,
                                      "gift_cards": [{"number": card.number, "pin": card.pin, "amount": money(100 + random(400))}]});
                    ("commit paid by gift card", self.client.post(self.url("/v1/pos/receipts")).json(&body), Some(sale))
                }
                Mix::Retries => unreachable!("the retry storm has its own driver"),
            };
            let ok = self.timed(&mut result, op, measure_from, req, commit.as_ref().map(|_| ())).await;
            if let (true, Some(sale)) = (ok, commit)
                && sold.len() < 64
            {
                sold.push(sale);
            }
        }
        Ok(result)
    }

    /// Sends a request and records it (after the warm-up). `commit` marks receipt commits,
    /// which are counted over the whole run for the check that none is lost.
    async fn timed(&mut self, result: &mut LoadResult, op: &'static str, measure_from: Instant, req: reqwest::RequestBuilder, commit: Option<()>) -> bool {
        let key = self.terminal.key.clone();
        self.timed_with(result, op, measure_from, req, commit, &key).await
    }

    /// [`Till::timed`] with the key `key` (an API key, for back-office requests).
    async fn timed_with(
        &mut self,
        result: &mut LoadResult,
        op: &'static str,
        measure_from: Instant,
        req: reqwest::RequestBuilder,
        commit: Option<()>,
        key: &str,
    ) -> bool {
        let t0 = Instant::now();
        let answer = send(&self.client, key, req).await;
        let micros = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
        let ok = matches!(&answer, Ok(a) if a.status < 300);
        if commit.is_some() {
            match &answer {
                Ok(a) if a.status == 201 => result.committed += 1,
                Err(_) => result.unanswered_commits += 1,
                Ok(a) if a.status >= 500 => result.unanswered_commits += 1,
                Ok(_) => {}
            }
        }
        if t0 >= measure_from {
            let s = result.ops.entry(op).or_default();
            s.latencies_us.push(micros);
            match answer {
                Ok(a) if a.status < 300 => s.ok += 1,
                Ok(a) if a.status < 500 => *s.refused.entry(a.code()).or_default() += 1,
                Ok(a) => *s.errors.entry(format!("{} {}", a.status, a.code())).or_default() += 1,
                Err(e) => *s.errors.entry(if e.is_timeout() { "timeout".into() } else { "connection".into() }).or_default() += 1,
            }
        }
        ok
    }
}
