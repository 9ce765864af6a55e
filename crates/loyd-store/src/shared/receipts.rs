//! Receipts: calculate (read-only) and commit (one transaction). The calculation
//! itself is `loyd_domain::engine::calculate`; this module loads the context it needs
//! (customer, balances, counters, usage), locks what it will change, and writes every
//! effect at once. Also the stored receipts a simulation replays.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use loyd_domain::cards::CardState;
use loyd_domain::ids::{AccountId, AssetCode};
use loyd_domain::ledger::{Account, AccountSpec, BalancePolicy, Holder, Lot, NewTransfer, TransferKind};
use loyd_domain::operations::Outcome;
use loyd_domain::program::Program;
use loyd_domain::receipt::{BalanceView, Calculation, Context, CustomerContext, GiftCardContext, Identify, Receipt, ReceiptError, ReceiptRequest, ReceiptResponse, StoreContext};
use loyd_domain::returns::{EffectRole, Movement, Party, ReceiptEffects, movements};
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use crate::{PosCaller, PosReply};
use crate::error::StoreError;
use super::{Backend, Conn, PG, rows};
use super::balances::{accounts_and_lots, balances_of, ledger_refusal};
use super::cards::{card_row, check_pin, identify, reset_pin_failures};
use super::coupons::{coupons_of, new_coupon, store_coupon};
use super::counters::counters_of;
use super::events::{ReceiptDone, receipt_events, record_tier_changes, stage_events};
use loyd_domain::events::EventKind;
use super::keys::{code, keyed_request_hash, scope_hash, transfer_id};
use super::ledger::{Known, SystemAccounts, ensure_account, stage_transfers, system_accounts};
use super::writes::Writes;

/// Everything a receipt's calculation needs, loaded (and, when committing, locked).
pub(crate) struct Loaded {
    pub context: Context,
    /// The customer's accounts by currency (their organisation's, for its contacts).
    pub customer_accounts: BTreeMap<AssetCode, Account>,
    /// Who holds those accounts.
    pub holder: Option<Holder>,
    /// Gift cards named on the receipt, in order, with their accounts.
    pub gift_accounts: Vec<AccountId>,
    /// What was read (and locked) to get here, for applying the transfers without
    /// reading it again.
    pub accounts: Vec<Account>,
    pub open_lots: Vec<Lot>,
}

pub(crate) async fn load_context(
    c: &mut Conn,
    caller: &PosCaller,
    receipt: &Receipt,
    program: &Program,
    secret: &crate::crypto::Secrets,
    commit: bool,
    now: Timestamp,
) -> Result<Loaded, StoreError> {
    let mut customer = match &receipt.customer {
        Some(who) => Some(identify(c, who, receipt.at, secret, commit).await?),
        None => None,
    };
    let mut ids: BTreeSet<AccountId> = BTreeSet::new();
    let (record, holder) = match &mut customer {
        Some(who) => {
            let record = match who.record.take() {
                Some(r) => r,
                None => super::customers::customer_row(c, &secret.ring, who.customer).await?.ok_or(ReceiptError::UnknownCustomer)?,
            };
            let holder = super::balances::account_holder(record.id, record.organisation)?;
            (Some(record), Some(holder))
        }
        None => (None, None),
    };
    let mut cards = Vec::new();
    for g in &receipt.gift_cards {
        let card = card_row(c, &g.number).await?.ok_or_else(|| ReceiptError::UnknownCard(g.number.clone()))?;
        card.check_gift()?;
        check_pin(&card, card.needs_pin(program.card_series(&card.series)), g.pin.as_deref(), secret, now)?;
        if commit {
            reset_pin_failures(c, &card.number).await?;
        }
        let account = card.account.ok_or_else(|| rows::corrupt(format!("gift card {} has no account", g.number)))?;
        ids.insert(account);
        cards.push((card, account));
    }
    // One locking pass over every account the receipt may change, in id order.
    let (accounts, open_lots) = accounts_and_lots(c, holder.as_ref(), &ids, commit).await?;
    let balances = balances_of(accounts, &open_lots, receipt.at);

    let mut customer_accounts = BTreeMap::new();
    let customer_ctx = match customer {
        None => None,
        Some(who) => {
            let mut views = BTreeMap::new();
            for (account, view) in balances.values() {
                if Some(&account.holder) == holder.as_ref() {
                    views.insert(account.asset.clone(), *view);
                    customer_accounts.insert(account.asset.clone(), account.clone());
                }
            }
            let counters = counters_of(c, who.customer, receipt.at, program, &caller.store).await?;
            Some(CustomerContext {
                id: who.customer,
                card: who.card,
                card_series: who.series,
                counters,
                birth_date: record.as_ref().and_then(|r| r.birth_date),
                facts: record.as_ref().map(|r| r.facts.clone()).unwrap_or_default(),
                profile: record.map(|r| r.profile).unwrap_or_default(),
                balances: views,
            })
        }
    };
    let gift_cards = cards
        .iter()
        .map(|(card, account)| {
            let (acct, view) = &balances[account];
            GiftCardContext {
                number: card.number.clone(),
                currency: acct.asset.clone(),
                state: card.state,
                valid_until: card.valid_until,
                single_use: card.single_use,
                available: view.available,
            }
        })
        .collect();
    let mut context = Context::new(caller.store.clone(), customer_ctx);
    context.gift_cards = gift_cards;
    context.coupons = coupons_of(c, receipt, program).await?;
    let keys = loyd_domain::engine::usage_keys(receipt, &context, program);
    context.usage = usage_of(c, &keys, commit).await?;
    let accounts = balances.into_values().map(|(a, _)| a).collect();
    Ok(Loaded { context, customer_accounts, holder, gift_accounts: cards.iter().map(|(_, a)| *a).collect(), accounts, open_lots })
}

/// Usage counters by (key, period). When committing on PostgreSQL the rows are created
/// if missing and locked, in key order: receipts that would charge the same budget
/// take turns instead of colliding and starting over.
pub(crate) async fn usage_of(
    c: &mut Conn,
    keys: &[(String, String)],
    lock: bool,
) -> Result<BTreeMap<(String, String), loyd_domain::receipt::UsageRow>, StoreError> {
    let mut out = BTreeMap::new();
    for (key, period) in keys {
        if lock && PG {
            sqlx::query("INSERT INTO usage_counters (key, period) VALUES ($1, $2) ON CONFLICT (key, period) DO NOTHING")
                .bind(key.clone())
                .bind(period.clone())
                .execute(&mut *c)
                .await?;
        }
        let sql = if lock && PG {
            "SELECT uses, value, items FROM usage_counters WHERE key = $1 AND period = $2 FOR UPDATE"
        } else {
            "SELECT uses, value, items FROM usage_counters WHERE key = $1 AND period = $2"
        };
        let row = sqlx::query(sql)
            .bind(key.clone())
            .bind(period.clone())
            .fetch_optional(&mut *c)
            .await?;
        if let Some(r) = row {
            out.insert(
                (key.clone(), period.clone()),
                loyd_domain::receipt::UsageRow { uses: r.try_get("uses")?, value: r.try_get("value")?, items: r.try_get("items")? },
            );
        }
    }
    Ok(out)
}

/// Adds a receipt's charges to the usage counters, each guarded by its limit: a
/// concurrent receipt that took the last use makes this transaction start over (and
/// the campaign then no longer applies).
pub(crate) async fn consume_usage(c: &mut Conn, charges: &[loyd_domain::receipt::UsageCharge]) -> Result<(), StoreError> {
    for ch in charges {
        let done = sqlx::query(
            "INSERT INTO usage_counters (key, period, uses, value, items) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (key, period) DO UPDATE SET uses = usage_counters.uses + excluded.uses, \
             value = usage_counters.value + excluded.value, items = usage_counters.items + excluded.items \
             WHERE usage_counters.uses + excluded.uses <= $6 AND usage_counters.value + excluded.value <= $7 \
             AND usage_counters.items + excluded.items <= $8",
        )
        .bind(ch.key.clone())
        .bind(ch.period.clone())
        .bind(ch.uses)
        .bind(ch.value)
        .bind(ch.items)
        .bind(ch.max_uses.unwrap_or(i64::MAX))
        .bind(ch.max_value.unwrap_or(i64::MAX))
        .bind(ch.max_items.unwrap_or(i64::MAX))
        .execute(&mut *c)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Retry(format!("the limit of {} was reached concurrently", ch.key)));
        }
    }
    Ok(())
}

/// Gives a receipt's charges back (cancellation, full return).
pub(crate) async fn give_back_usage(c: &mut Conn, charges: &[loyd_domain::receipt::UsageCharge]) -> Result<(), StoreError> {
    for ch in charges {
        sqlx::query("UPDATE usage_counters SET uses = uses - $3, value = value - $4, items = items - $5 WHERE key = $1 AND period = $2")
            .bind(ch.key.clone())
            .bind(ch.period.clone())
            .bind(ch.uses)
            .bind(ch.value)
            .bind(ch.items)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Calculates without side effects.
pub(crate) async fn calculate_in(
    c: &mut Conn,
    caller: &PosCaller,
    request: &ReceiptRequest,
    program: &Program,
    secret: &crate::crypto::Secrets,
    now: Timestamp,
) -> Result<ReceiptResponse, StoreError> {
    let receipt = request.parse(caller.store.scale, now)?;
    caller.time.check(receipt.at, now)?;
    let loaded = load_context(c, caller, &receipt, program, secret, false, now).await?;
    let calc = loyd_domain::engine::calculate(&receipt, &loaded.context, program)?;
    Ok(render(&calc, request, &loaded, caller, program, receipt.at))
}

/// The response of a calculation, before commit adds what only it knows.
fn render(calc: &Calculation, request: &ReceiptRequest, loaded: &Loaded, caller: &PosCaller, program: &Program, at: Timestamp) -> ReceiptResponse {
    let scale_of = |c: &AssetCode| program.scale_of(c.as_str());
    calc.response(&request.receipt_id, loaded.context.customer.as_ref(), &caller.store, &scale_of, program.version, at)
}

/// Commits a receipt: checks the idempotency key, computes with the locked state,
/// writes transfers, the receipt and its response, all in the caller's transaction.
/// `system` is the committed copy of the system accounts; the answer says whether it
/// lacked one the receipt used.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn commit_in(
    c: &mut Conn,
    caller: &PosCaller,
    request: &ReceiptRequest,
    receipt: &Receipt,
    hash: &str,
    program: &Program,
    secret: &crate::crypto::Secrets,
    offline: bool,
    system: &SystemAccounts,
    now: Timestamp,
) -> Result<(PosReply, bool), StoreError> {
    let store = caller.store.id.as_str();
    let terminal = caller.terminal.as_str();
    let existing = sqlx::query("SELECT request_hash, response FROM receipts WHERE store_id = $1 AND terminal_id = $2 AND receipt_id = $3")
        .bind(store.to_owned())
        .bind(terminal.to_owned())
        .bind(request.receipt_id.clone())
        .fetch_optional(&mut *c)
        .await?;
    if let Some(row) = existing {
        let stored: String = row.try_get("request_hash")?;
        if stored != hash {
            return Err(StoreError::IdempotencyConflict(format!("receipt_id {}", request.receipt_id)));
        }
        return Ok((PosReply { outcome: Outcome::Created, body: row.try_get("response")?, replayed: true }, false));
    }

    caller.time.check(receipt.at, now)?;
    let loaded = load_context(c, caller, receipt, program, secret, true, now).await?;
    let calc = loyd_domain::engine::calculate(receipt, &loaded.context, program)?;
    // A coupon the customer asked for that cannot be honoured refuses the receipt.
    if let Some(reason) = calc.coupons.iter().find_map(|c| c.reason.clone()) {
        return Err(reason.into());
    }

    let h = scope_hash(store, terminal, &request.receipt_id);
    let Plan { batch, effects, system, system_missed } =
        plan_transfers(c, &h, receipt, &calc, &loaded, &caller.store, system, now).await?;
    let mut known = Known {
        accounts: loaded.accounts.clone(),
        open_lots_of: BTreeSet::new(),
        lots: loaded.open_lots.clone(),
        // The receipt id was found unused above, and every id derives from it.
        fresh_ids: true,
    };
    known.open_lots_of = known.accounts.iter().filter(|a| a.tracks_lots).map(|a| a.id).collect();
    known.accounts.extend(system);
    // The ledger's writes and the receipt row go to the database as one statement.
    let mut writes = Writes::new();
    stage_transfers(c, &batch, known, now, &mut writes)
        .await
        .map_err(|e| ledger_refusal(e, "balance", caller.store.scale, &request.receipt_id))?;

    let mut response = render(&calc, request, &loaded, caller, program, receipt.at);
    response.status = Some("committed".into());
    response.transaction_id = Some(format!("rc_{h}"));
    consume_usage(c, &calc.charges).await?;
    let customer_id = loaded.context.customer.as_ref().map(|c| c.id);
    let mut new_coupons = Vec::with_capacity(calc.issued_coupons.len());
    for (issued, out) in calc.issued_coupons.iter().zip(response.issued_coupons.iter_mut()) {
        let coupon = new_coupon(program, &issued.series, now)?;
        out.code = Some(coupon.0.clone());
        out.valid_until = coupon.1.map(|v| loyd_domain::receipt::format_time(v, &caller.store.timezone));
        new_coupons.push((issued.series.clone(), coupon));
    }
    let body = serde_json::to_string(&response).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let effects_json = serde_json::to_string(&effects).map_err(|e| StoreError::Invalid(e.to_string()))?;
    // Kept for simulations and audits, without secrets or personal data.
    let request_json = serde_json::to_string(&request.stored_copy()).map_err(|e| StoreError::Invalid(e.to_string()))?;
    // What the receipt did that a message or webhook wants to hear: its events ride in
    // the batch with the receipt row.
    let mut tiers_later = None;
    if let Some(customer) = &loaded.context.customer
        && EventKind::OF_RECEIPTS.into_iter().any(|k| program.raises(k))
    {
        let tiers = if program.tells_tier_changes() {
            match program.counters_with(&customer.counters, calc.total - calc.discount, caller.store.scale) {
                Some(after) => program.tier_changes(&customer.counters, &after),
                None => {
                    tiers_later = Some(customer.id);
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let coupons = new_coupons.iter().zip(&response.issued_coupons).map(|((series, (code, _)), out)| (series.as_str(), code.as_str(), out.valid_until.as_deref())).collect();
        let done = ReceiptDone { customer: customer.id, receipt: &request.receipt_id, store: caller.store.id.as_str(), calc: &calc, coupons, tiers };
        stage_events(&mut writes, &secret.ring, customer.id, receipt_events(program, &done), now);
    }
    let qb = writes.part(16);
    qb.push(
        "INSERT INTO receipts (store_id, terminal_id, receipt_id, customer_id, at, status, config_version, total, \
         discount, redeemed_value, gift_card_value, offline, request_hash, response, effects, returned, recorded_at, request) \
         VALUES (",
    );
    let mut values = qb.separated(", ");
    values
        .push_bind(store.to_owned())
        .push_bind(terminal.to_owned())
        .push_bind(request.receipt_id.clone())
        .push_bind(customer_id)
        .push_bind(to_micros(receipt.at))
        .push("'committed'")
        .push_bind(program.version)
        .push_bind(calc.total)
        .push_bind(calc.discount)
        .push_bind(calc.redeemed_value)
        .push_bind(calc.gift_card_value)
        .push_bind(offline)
        .push_bind(hash.to_owned())
        .push_bind(body.clone())
        .push_bind(effects_json)
        .push("'{}'")
        .push_bind(to_micros(now))
        .push_bind(request_json);
    qb.push(") RETURNING id");
    let receipt_ref = writes.run_returning_id(c).await?;
    for (series, (code, valid_until)) in &new_coupons {
        store_coupon(c, code, series, customer_id, *valid_until, Some(receipt_ref), now).await?;
    }
    for g in &calc.gifts {
        sqlx::query("INSERT INTO gift_issues (receipt_ref, customer_id, campaign, gift, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(receipt_ref)
            .bind(customer_id)
            .bind(g.campaign.clone())
            .bind(g.gift.clone())
            .bind(to_micros(receipt.at))
            .execute(&mut *c)
            .await?;
    }
    if let Some(customer) = tiers_later {
        // Counters of days: the receipt row is in, the counters now count it.
        let before = loaded.context.customer.as_ref().map(|c| c.counters.clone()).unwrap_or_default();
        let after = counters_of(c, customer, receipt.at, program, &caller.store).await?;
        record_tier_changes(c, &secret.ring, customer, Some(&request.receipt_id), &program.tier_changes(&before, &after), now).await?;
    }
    Ok((PosReply { outcome: Outcome::Created, body, replayed: false }, system_missed))
}

/// The transfers a calculated receipt makes, in the order that keeps the ledger honest
/// (redemptions spend existing lots before today's accruals arrive), the record of
/// them that returns will reverse, and the system accounts they use (from `known`, the
/// committed copy, where it has them).
#[allow(clippy::too_many_arguments)]
async fn plan_transfers(
    c: &mut Conn,
    h: &str,
    receipt: &Receipt,
    calc: &Calculation,
    loaded: &Loaded,
    store: &StoreContext,
    known: &SystemAccounts,
    now: Timestamp,
) -> Result<Plan, StoreError> {
    let moves = movements(calc, &store.currency);
    // Every system account the receipt uses, read at once.
    let wanted: BTreeSet<(&'static str, AssetCode)> = moves
        .iter()
        .flat_map(|m| [&m.from, &m.to])
        .filter_map(|p| match p {
            Party::System(name, asset) => Some((*name, asset.clone())),
            _ => None,
        })
        .collect();
    let (system, system_missed) = system_accounts(c, &wanted, known, now).await?;
    let reference = Some(receipt.id.to_string());
    let mut batch = Vec::with_capacity(moves.len());
    let mut made = Vec::with_capacity(moves.len());
    for m in &moves {
        let debit = party_account(c, &m.from, m, loaded, &system, now).await?;
        let credit = party_account(c, &m.to, m, loaded, &system, now).await?;
        let mut t = NewTransfer {
            at: Some(receipt.at),
            reference: reference.clone(),
            store: Some(store.id.to_string()),
            ..NewTransfer::single(transfer_id(format!("rc:{h}:{}", m.key))?, debit, credit, m.amount, code(m.code))
        };
        if let Some(lot) = m.lot {
            t.lot = lot;
        }
        made.push((t.id.clone(), debit, credit));
        batch.push(t);
    }
    let effects = ReceiptEffects::of(calc, &moves, &made);
    debug_assert!(batch.iter().all(|t| t.kind == TransferKind::Single));
    Ok(Plan { batch, effects, system: system.into_values().collect(), system_missed })
}

/// The account on one side of a receipt's transfer. A customer without an account in
/// the currency has nothing to redeem; any other movement to or from the customer
/// opens the account.
async fn party_account(
    c: &mut Conn,
    party: &Party,
    m: &Movement,
    loaded: &Loaded,
    system: &BTreeMap<(&'static str, AssetCode), Account>,
    now: Timestamp,
) -> Result<AccountId, StoreError> {
    match party {
        Party::System(name, asset) => {
            system.get(&(*name, asset.clone())).map(|a| a.id).ok_or_else(|| rows::corrupt(format!("system account {name} {asset} missing")))
        }
        Party::GiftCard(k) => loaded.gift_accounts.get(*k).copied().ok_or_else(|| rows::corrupt(format!("gift card payment {k} has no account"))),
        Party::Customer(asset) => match loaded.customer_accounts.get(asset) {
            Some(a) => Ok(a.id),
            None if m.role == EffectRole::Redemption => Err(ReceiptError::InsufficientFunds {
                what: format!("{asset} balance"),
                available: "0".into(),
                requested: m.amount.to_string(),
            }
            .into()),
            None => {
                let holder = loaded.holder.clone().ok_or_else(|| StoreError::Invalid(format!("{} without a customer", m.code)))?;
                let spec = AccountSpec { holder, asset: asset.clone(), policy: BalancePolicy::NonNegative, tracks_lots: true };
                Ok(ensure_account(c, &spec, now).await?.id)
            }
        },
    }
}

/// What [`plan_transfers`] decided.
struct Plan {
    batch: Vec<NewTransfer>,
    effects: ReceiptEffects,
    /// The system accounts the batch uses.
    system: Vec<Account>,
    /// Whether the committed copy lacked one of them (it is then read again).
    system_missed: bool,
}

impl Backend {
    pub async fn calculate_receipt(
        &self,
        caller: PosCaller,
        request: ReceiptRequest,
        program: Arc<Program>,
        secret: Arc<crate::crypto::Secrets>,
        now: Timestamp,
    ) -> Result<ReceiptResponse, StoreError> {
        let mut c = self.reader().await?;
        calculate_in(&mut c, &caller, &request, &program, &secret, now).await
    }

    pub async fn commit_receipt(
        &self,
        caller: PosCaller,
        request: ReceiptRequest,
        program: Arc<Program>,
        secret: Arc<crate::crypto::Secrets>,
        offline: bool,
        now: Timestamp,
    ) -> Result<PosReply, StoreError> {
        // Checked before any statement names its ids, and outside the transaction.
        let receipt = request.parse(caller.store.scale, now)?;
        let hash = keyed_request_hash(&secret, &request);
        let system = self.system_copy().await?;
        let shared = Arc::new((caller, request, receipt, hash, system));
        let reply = self
            .write(move |c| {
                let (shared, program, secret) = (shared.clone(), program.clone(), secret.clone());
                Box::pin(async move {
                    let (caller, request, receipt, hash, system) = &*shared;
                    commit_in(c, caller, request, receipt, hash, &program, &secret, offline, system, now).await
                })
            })
            .await;
        if matches!(&reply, Ok((_, true))) {
            self.system.mark_stale();
        }
        reply.map(|(r, _)| r)
    }

    /// The receipt ids a terminal has committed, in order (reconciliation with the POS).
    pub async fn receipt_ids(&self, store: String, terminal: String) -> Result<Vec<String>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query("SELECT receipt_id FROM receipts WHERE store_id = $1 AND terminal_id = $2 ORDER BY id")
            .bind(store)
            .bind(terminal)
            .fetch_all(&mut *c)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("receipt_id")?)).collect()
    }

    /// The committed receipts of `[from, to)` (of one store, if given), with contexts
    /// for simulation: real history and counters, balances sufficient for what each
    /// receipt redeemed. `program` gives scales and recognises promo codes.
    pub async fn simulation_receipts(
        &self,
        from: Timestamp,
        to: Timestamp,
        store: Option<String>,
        program: Arc<Program>,
    ) -> Result<Vec<loyd_domain::simulate::SimReceipt>, StoreError> {
        let mut c = self.reader().await?;
        let stores: BTreeMap<String, loyd_domain::org::StoreSpec> =
            super::stores::load_stores(&mut c).await?.into_iter().map(|s| (s.id.to_string(), s)).collect();
        let rows = sqlx::query(
            "SELECT store_id, customer_id, at, request, response FROM receipts \
             WHERE status = 'committed' AND at >= $1 AND at < $2 AND ($3 IS NULL OR store_id = $3) ORDER BY at, id",
        )
        .bind(to_micros(from))
        .bind(to_micros(to))
        .bind(store)
        .fetch_all(&mut *c)
        .await?;
        let history_start = loyd_domain::program::counters_start(&program.counters, from).unwrap_or(from);
        let customers: BTreeSet<i64> = rows.iter().filter_map(|r| r.try_get::<Option<i64>, _>("customer_id").ok().flatten()).collect();
        let mut history: BTreeMap<i64, Vec<(Timestamp, i64)>> = BTreeMap::new();
        if !customers.is_empty() && !program.counters.is_empty() {
            let hist = sqlx::query(
                "SELECT customer_id, at, total - discount - returned_paid AS paid FROM receipts \
                 WHERE customer_id IS NOT NULL AND status = 'committed' AND at >= $1 AND at < $2",
            )
            .bind(to_micros(history_start))
            .bind(to_micros(to))
            .fetch_all(&mut *c)
            .await?;
            for h in hist {
                let id: i64 = h.try_get("customer_id")?;
                if customers.contains(&id) {
                    history.entry(id).or_default().push((from_micros(h.try_get("at")?), h.try_get("paid")?));
                }
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let store_id: String = r.try_get("store_id")?;
            let Some(spec) = stores.get(&store_id) else { continue };
            let Some(scale) = program.currency(&spec.currency).map(|c| c.scale) else { continue };
            let store_ctx = StoreContext::of(spec, scale);
            let request: String = r.try_get("request")?;
            let Ok(request) = serde_json::from_str::<ReceiptRequest>(&request) else { continue };
            let at = from_micros(r.try_get("at")?);
            let Ok(receipt) = request.parse(scale, at) else { continue };
            let original: Option<ReceiptResponse> = serde_json::from_str(&r.try_get::<String, _>("response")?).ok();
            let customer = match r.try_get::<Option<i64>, _>("customer_id")? {
                None => None,
                Some(id) => {
                    let series = match &receipt.customer {
                        Some(Identify::Card(n)) => card_row(&mut c, n).await?.map(|card| card.series),
                        _ => None,
                    };
                    let record = super::customers::customer_row(&mut c, &self.secrets.ring, id).await?;
                    let counters = loyd_domain::program::counter_values(
                        &program.counters,
                        history.get(&id).map(Vec::as_slice).unwrap_or(&[]),
                        at,
                        scale,
                        &spec.timezone.zone(),
                    );
                    let mut balances = BTreeMap::new();
                    for red in original.iter().flat_map(|o| o.redeemed.iter()) {
                        let cur_scale = program.scale_of(red.currency.as_str());
                        let units = loyd_domain::money::parse_decimal(&red.amount)
                            .ok()
                            .and_then(|d| loyd_domain::money::to_minor_exact(d, cur_scale).ok())
                            .unwrap_or(0);
                        let min = program.currency(&red.currency).and_then(|c| c.redeem.as_ref()).map(|r| r.min_balance).unwrap_or(0);
                        balances.insert(red.currency.clone(), BalanceView { available: units.max(min), pending: 0 });
                    }
                    Some(CustomerContext {
                        id,
                        card: None,
                        card_series: series,
                        counters,
                        birth_date: record.as_ref().and_then(|r| r.birth_date),
                        facts: record.as_ref().map(|r| r.facts.clone()).unwrap_or_default(),
                        profile: record.map(|r| r.profile).unwrap_or_default(),
                        balances,
                    })
                }
            };
            let mut context = Context::new(store_ctx, customer);
            context.gift_cards = receipt
                .gift_cards
                .iter()
                .map(|g| GiftCardContext {
                    number: g.number.clone(),
                    currency: spec.currency.clone(),
                    state: CardState::Active,
                    valid_until: None,
                    single_use: false,
                    available: g.amount,
                })
                .collect();
            context.coupons = coupons_of(&mut c, &receipt, &program).await?;
            out.push(loyd_domain::simulate::SimReceipt { receipt, context });
        }
        Ok(out)
    }
}

impl Backend {
    /// Gifts handed over, newest first, by customer, campaign and store.
    pub async fn gift_issues(&self, f: crate::GiftFilter) -> Result<Vec<crate::GiftIssue>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT g.id, g.gift, g.campaign, g.customer_id, g.at, r.store_id, r.terminal_id, r.receipt_id, r.status \
             FROM gift_issues g JOIN receipts r ON r.id = g.receipt_ref WHERE 1 = 1",
        );
        if let Some(customer) = f.customer {
            qb.push(" AND g.customer_id = ").push_bind(customer);
        }
        if let Some(campaign) = f.campaign {
            qb.push(" AND g.campaign = ").push_bind(campaign);
        }
        if let Some(stores) = f.stores
            && !super::rows::push_in(&mut qb, "r.store_id", &stores)
        {
            return Ok(Vec::new());
        }
        if let Some(before) = f.before {
            qb.push(" AND g.id < ").push_bind(before);
        }
        qb.push(" ORDER BY g.id DESC LIMIT ").push_bind(i64::from(f.limit.clamp(1, 1000)));
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(crate::GiftIssue {
                    id: r.try_get("id")?,
                    gift: r.try_get("gift")?,
                    campaign: r.try_get("campaign")?,
                    customer: r.try_get("customer_id")?,
                    store: r.try_get("store_id")?,
                    terminal: r.try_get("terminal_id")?,
                    receipt_id: r.try_get("receipt_id")?,
                    at: from_micros(r.try_get("at")?),
                    status: r.try_get("status")?,
                })
            })
            .collect()
    }
}

impl Backend {
    /// Committed receipts per day and store currency since `from`, in the stores given
    /// (every store reads its own index range), days counted at `offset_secs` from UTC.
    pub async fn daily_sales(&self, stores: Vec<String>, from: Timestamp, offset_secs: i64) -> Result<Vec<crate::DaySales>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT (r.at + ");
        qb.push_bind(offset_secs * 1_000_000).push(") / 86400000000 AS day, s.currency, COUNT(*) AS receipts, ");
        qb.push(
            "CAST(SUM(r.total) AS BIGINT) AS total, CAST(SUM(r.discount) AS BIGINT) AS discount, \
             CAST(SUM(r.redeemed_value) AS BIGINT) AS redeemed \
             FROM receipts r JOIN stores s ON s.id = r.store_id WHERE r.status = 'committed' AND r.at >= ",
        );
        qb.push_bind(to_micros(from));
        if !super::rows::push_in(&mut qb, "r.store_id", &stores) {
            return Ok(Vec::new());
        }
        qb.push(" GROUP BY day, s.currency ORDER BY day, s.currency");
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(crate::DaySales {
                    day: r.try_get("day")?,
                    currency: r.try_get("currency")?,
                    receipts: r.try_get("receipts")?,
                    total: r.try_get("total")?,
                    discount: r.try_get("discount")?,
                    redeemed: r.try_get("redeemed")?,
                })
            })
            .collect()
    }

    /// What the receipts committed since `from` in the stores given accrued and had
    /// redeemed, per currency, read from each receipt's effects as they are streamed
    /// (today's receipts: the dashboard).
    pub async fn receipt_flows(&self, stores: Vec<String>, from: Timestamp) -> Result<Vec<crate::ReceiptFlows>, StoreError> {
        use futures_util::TryStreamExt;
        /// Only what is summed of a receipt's effects; the rest is skipped.
        #[derive(serde::Deserialize)]
        struct Effects {
            transfers: Vec<Moved>,
        }
        #[derive(serde::Deserialize)]
        struct Moved {
            role: EffectRole,
            currency: String,
            amount: i64,
        }
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT r.effects FROM receipts r WHERE r.status = 'committed' AND r.at >= ");
        qb.push_bind(to_micros(from));
        if !super::rows::push_in(&mut qb, "r.store_id", &stores) {
            return Ok(Vec::new());
        }
        let mut sums: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let query = qb.build();
        let mut rows = query.fetch(&mut *c);
        while let Some(row) = rows.try_next().await? {
            let text: String = row.try_get("effects")?;
            let effects: Effects = serde_json::from_str(&text).map_err(|e| StoreError::Invalid(format!("a receipt's stored effects do not read: {e}")))?;
            for t in effects.transfers {
                let sum = sums.entry(t.currency).or_default();
                match t.role {
                    EffectRole::Accrual => sum.0 += t.amount,
                    EffectRole::Redemption => sum.1 += t.amount,
                    EffectRole::GiftCard | EffectRole::Breakage | EffectRole::Conversion => {}
                }
            }
        }
        Ok(sums.into_iter().map(|(currency, (accrued, redeemed))| crate::ReceiptFlows { currency, accrued, redeemed }).collect())
    }

    /// Customers with a committed receipt since `from` in the stores given.
    pub async fn active_customers(&self, stores: Vec<String>, from: Timestamp) -> Result<i64, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT COUNT(DISTINCT r.customer_id) AS n FROM receipts r WHERE r.status = 'committed' AND r.customer_id IS NOT NULL AND r.at >= ",
        );
        qb.push_bind(to_micros(from));
        if !super::rows::push_in(&mut qb, "r.store_id", &stores) {
            return Ok(0);
        }
        Ok(qb.build().fetch_one(&mut *c).await?.try_get("n")?)
    }
}
