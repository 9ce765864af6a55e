//! The ledger's persistence, one source for both backends. The rules live in
//! `loyd_domain::ledger`; this module loads what a batch touches (locking bounded
//! accounts on PostgreSQL), lets the domain decide, and writes the changes back.

use std::collections::BTreeSet;
use std::sync::Arc;

use loyd_domain::ids::{AccountId, AssetCode, TransferId};
use loyd_domain::ledger::{
    Account, AccountSpec, Balance, BalancePolicy, Changes, DebitFrom, Holder, LedgerState, Lot, LotMove, Needs,
    NewTransfer, Transfer, TransferKind, TransferOutcome,
};
use loyd_domain::time::{Timestamp, to_micros};
use sqlx::{QueryBuilder, Row};

use super::writes::Writes;
use super::{Backend, Conn, Db, PG, rows};
use crate::error::StoreError;
use crate::LedgerAudit;

/// Rows per multi-row INSERT: far below both backends' bind-parameter limits.
const INSERT_CHUNK: usize = 200;

/// Appends `(v1, v2, …)` binding each value.
pub(super) fn push_in_list<'a, I>(qb: &mut QueryBuilder<Db>, values: I)
where
    I: IntoIterator<Item = &'a str>,
{
    qb.push("(");
    let mut sep = qb.separated(", ");
    for v in values {
        sep.push_bind(v.to_owned());
    }
    sep.push_unseparated(")");
}

pub(super) fn push_id_list<I: IntoIterator<Item = i64>>(qb: &mut QueryBuilder<Db>, values: I) {
    qb.push("(");
    let mut sep = qb.separated(", ");
    for v in values {
        sep.push_bind(v);
    }
    sep.push_unseparated(")");
}

pub(super) async fn load_transfers(
    c: &mut Conn,
    ids: &BTreeSet<TransferId>,
) -> Result<Vec<Transfer>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", transfer_cols!(), " FROM transfers WHERE id IN "));
    push_in_list(&mut qb, ids.iter().map(TransferId::as_str));
    qb.build().fetch_all(&mut *c).await?.iter().map(rows::transfer).collect()
}

/// Loads accounts; on PostgreSQL locks the bounded ones in id order (a single order for
/// every transaction, so no two wait on each other in a cycle). Unbounded accounts are
/// never locked: they take no balance check and keep no stored totals.
pub(super) async fn load_accounts(c: &mut Conn, ids: &BTreeSet<AccountId>, lock: bool) -> Result<Vec<Account>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(ids.len());
    let passes: &[&str] = if PG && lock {
        &[" AND policy <> 'unbounded' ORDER BY id FOR UPDATE", " AND policy = 'unbounded'"]
    } else {
        &[" ORDER BY id"]
    };
    for tail in passes {
        let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", account_cols!(), " FROM accounts WHERE id IN "));
        push_id_list(&mut qb, ids.iter().map(|a| a.0));
        qb.push(tail);
        for row in qb.build().fetch_all(&mut *c).await? {
            out.push(rows::account(&row)?);
        }
    }
    Ok(out)
}

pub(crate) async fn load_open_lots(c: &mut Conn, accounts: &BTreeSet<AccountId>) -> Result<Vec<Lot>, StoreError> {
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", lot_cols!(), " FROM lots WHERE remaining > 0 AND account_id IN "));
    push_id_list(&mut qb, accounts.iter().map(|a| a.0));
    qb.build().fetch_all(&mut *c).await?.iter().map(rows::lot).collect()
}

pub(super) async fn load_lots(c: &mut Conn, ids: &BTreeSet<TransferId>) -> Result<Vec<Lot>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", lot_cols!(), " FROM lots WHERE id IN "));
    push_in_list(&mut qb, ids.iter().map(TransferId::as_str));
    qb.build().fetch_all(&mut *c).await?.iter().map(rows::lot).collect()
}

async fn load_moves(c: &mut Conn, owners: &BTreeSet<TransferId>) -> Result<Vec<LotMove>, StoreError> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", move_cols!(), " FROM lot_moves WHERE transfer_id IN "));
    push_in_list(&mut qb, owners.iter().map(TransferId::as_str));
    qb.build().fetch_all(&mut *c).await?.iter().map(rows::lot_move).collect()
}

/// Rows the caller already read (and, for bounded accounts, locked) in this transaction,
/// so applying transfers need not read them again: accounts, and the complete set of
/// open lots of some lot-tracking accounts.
#[derive(Debug, Default)]
pub(crate) struct Known {
    pub accounts: Vec<Account>,
    /// Accounts whose open lots are all in `lots`.
    pub open_lots_of: BTreeSet<AccountId>,
    pub lots: Vec<Lot>,
    /// The batch's own transfer ids are known not to exist (they derive from an
    /// idempotency key this transaction found unused), so they need not be looked up.
    /// A wrong claim cannot double-apply: the insert would hit the unique id.
    pub fresh_ids: bool,
}

/// Applies a batch of transfers inside the caller's transaction: the one entry point
/// every capability that moves value goes through.
pub(crate) async fn apply_transfers(
    c: &mut Conn,
    batch: &[NewTransfer],
    now: Timestamp,
) -> Result<Vec<TransferOutcome>, StoreError> {
    apply_transfers_with(c, batch, Known::default(), now).await
}

/// [`apply_transfers`], reading only what `known` does not already hold. Bounded
/// accounts in `known` must have been locked in this transaction (`FOR UPDATE`).
pub(crate) async fn apply_transfers_with(
    c: &mut Conn,
    batch: &[NewTransfer],
    known: Known,
    now: Timestamp,
) -> Result<Vec<TransferOutcome>, StoreError> {
    let mut writes = Writes::new();
    let outcomes = stage_transfers(c, batch, known, now, &mut writes).await?;
    writes.run(c).await?;
    Ok(outcomes)
}

/// [`apply_transfers_with`], leaving the writes in `writes` for the caller to add its
/// own and send them all at once.
pub(crate) async fn stage_transfers(
    c: &mut Conn,
    batch: &[NewTransfer],
    known: Known,
    now: Timestamp,
    writes: &mut Writes,
) -> Result<Vec<TransferOutcome>, StoreError> {
    let mut needs = Needs::of_batch(batch);
    if known.fresh_ids {
        for t in batch {
            needs.transfers.remove(&t.id);
        }
    }
    let mut st = LedgerState::default();
    for t in load_transfers(c, &needs.transfers).await? {
        st.add_transfer(t);
    }
    let mut accounts = needs.accounts;
    for a in known.accounts {
        if accounts.remove(&a.id) {
            st.add_account(a);
        }
    }
    for a in load_accounts(c, &accounts, true).await? {
        st.add_account(a);
    }
    let mut lot_needs = st.lot_needs(batch);
    for m in load_moves(c, &lot_needs.moves_of).await? {
        st.add_move(m);
    }
    for l in known.lots {
        if known.open_lots_of.contains(&l.account) && lot_needs.open_lots_of.contains(&l.account) {
            st.add_lot(l);
        }
    }
    lot_needs.open_lots_of.retain(|a| !known.open_lots_of.contains(a));
    for l in load_open_lots(c, &lot_needs.open_lots_of).await? {
        st.add_lot(l);
    }
    let mut named = lot_needs.lots;
    named.extend(st.lots_named_by_moves());
    named.retain(|id| st.lot(id).is_none());
    for l in load_lots(c, &named).await? {
        st.add_lot(l);
    }
    let outcomes = st.apply_batch(batch, now)?;
    let changes = st.changes();
    update_transfers(c, &changes).await?;
    stage(writes, &changes);
    Ok(outcomes)
}

fn opt_micros(t: Option<Timestamp>) -> Option<i64> {
    t.map(to_micros)
}

/// Guarded updates of existing transfers, each checked on its own: a concurrent
/// resolution or reversal of the same transfer (possible only between unlocked system
/// accounts) makes us retry.
async fn update_transfers(c: &mut Conn, ch: &Changes) -> Result<(), StoreError> {
    for u in &ch.updated_transfers {
        let t = &u.transfer;
        let done = sqlx::query(
            "UPDATE transfers SET pending_state = $1, posted_amount = $2, reversed_amount = $3 \
             WHERE id = $4 AND pending_state IS NOT DISTINCT FROM $5 AND reversed_amount = $6",
        )
        .bind(t.pending_state.map(|s| s.name()))
        .bind(t.posted_amount)
        .bind(t.reversed_amount)
        .bind(t.id.as_str().to_owned())
        .bind(u.was_state.map(|s| s.name()))
        .bind(u.was_reversed)
        .execute(&mut *c)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Retry(format!("transfer {} changed concurrently", t.id)));
        }
    }
    Ok(())
}

/// Every other change of a ledger batch, added to `w`.
fn stage(w: &mut Writes, ch: &Changes) {
    for a in &ch.accounts {
        let t = a.totals;
        let qb = w.part(5);
        qb.push("UPDATE accounts SET debits_posted = ");
        qb.push_bind(t.debits_posted);
        qb.push(", credits_posted = ");
        qb.push_bind(t.credits_posted);
        qb.push(", debits_pending = ");
        qb.push_bind(t.debits_pending);
        qb.push(", credits_pending = ");
        qb.push_bind(t.credits_pending);
        qb.push(" WHERE id = ");
        qb.push_bind(a.id.0);
    }
    for chunk in ch.new_transfers.chunks(INSERT_CHUNK) {
        let qb = w.part(chunk.len() * 21);
        qb.push(
            "INSERT INTO transfers (id, debit_account_id, credit_account_id, asset, amount, kind, pending_id, \
             timeout_at, pending_state, posted_amount, lot_available_at, lot_expires_at, debit_lot, reverses, \
             reversed_amount, code, reference, at, recorded_at, fingerprint, store_id) ",
        );
        qb.push_values(chunk, |mut b, t| {
            let timeout = match t.kind {
                TransferKind::Pending { timeout_at } => opt_micros(timeout_at),
                _ => None,
            };
            b.push_bind(t.id.as_str().to_owned())
                .push_bind(t.debit.0)
                .push_bind(t.credit.0)
                .push_bind(t.asset.as_str().to_owned())
                .push_bind(t.amount)
                .push_bind(t.kind.name())
                .push_bind(t.kind.resolves().map(|p| p.as_str().to_owned()))
                .push_bind(timeout)
                .push_bind(t.pending_state.map(|s| s.name()))
                .push_bind(t.posted_amount)
                .push_bind(opt_micros(t.lot.available_at))
                .push_bind(opt_micros(t.lot.expires_at))
                .push_bind(match &t.debit_from {
                    DebitFrom::Lot(l) => Some(l.as_str().to_owned()),
                    DebitFrom::Fifo => None,
                })
                .push_bind(t.reverses.as_ref().map(|r| r.as_str().to_owned()))
                .push_bind(t.reversed_amount)
                .push_bind(t.code.as_str().to_owned())
                .push_bind(t.reference.clone())
                .push_bind(to_micros(t.at))
                .push_bind(to_micros(t.recorded_at))
                .push_bind(t.fingerprint.clone())
                .push_bind(t.store.clone());
        });
    }
    for chunk in ch.new_lots.chunks(INSERT_CHUNK) {
        let qb = w.part(chunk.len() * 7);
        qb.push("INSERT INTO lots (id, account_id, amount, remaining, available_at, expires_at, created_at) ");
        qb.push_values(chunk, |mut b, l| {
            b.push_bind(l.id.as_str().to_owned())
                .push_bind(l.account.0)
                .push_bind(l.amount)
                .push_bind(l.remaining)
                .push_bind(opt_micros(l.terms.available_at))
                .push_bind(opt_micros(l.terms.expires_at))
                .push_bind(to_micros(l.created_at));
        });
    }
    for l in &ch.updated_lots {
        let qb = w.part(2);
        qb.push("UPDATE lots SET remaining = ");
        qb.push_bind(l.remaining);
        qb.push(" WHERE id = ");
        qb.push_bind(l.id.as_str().to_owned());
    }
    for chunk in ch.new_moves.chunks(INSERT_CHUNK) {
        let qb = w.part(chunk.len() * 5);
        qb.push("INSERT INTO lot_moves (transfer_id, ord, lot_id, amount, restored) ");
        qb.push_values(chunk, |mut b, m| {
            b.push_bind(m.transfer.as_str().to_owned())
                .push_bind(m.ord)
                .push_bind(m.lot.as_str().to_owned())
                .push_bind(m.amount)
                .push_bind(m.restored);
        });
    }
    for m in &ch.updated_moves {
        let qb = w.part(3);
        qb.push("UPDATE lot_moves SET restored = ");
        qb.push_bind(m.restored);
        qb.push(" WHERE transfer_id = ");
        qb.push_bind(m.transfer.as_str().to_owned());
        qb.push(" AND ord = ");
        qb.push_bind(m.ord);
    }
}

pub(super) async fn find_account(c: &mut Conn, holder: &Holder, asset: &AssetCode) -> Result<Option<Account>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts WHERE holder_kind = $1 AND holder_id = $2 AND asset = $3"
    ))
    .bind(holder.kind.name())
    .bind(holder.id.clone())
    .bind(asset.as_str().to_owned())
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(rows::account).transpose()
}

/// Opens the account `spec` describes, or returns it if it exists with the same policy.
pub(crate) async fn ensure_account(c: &mut Conn, spec: &AccountSpec, now: Timestamp) -> Result<Account, StoreError> {
    spec.validate().map_err(|e| StoreError::Invalid(e.to_string()))?;
    if let Some(existing) = find_account(c, &spec.holder, &spec.asset).await? {
        return check_same_policy(existing, spec);
    }
    let known = sqlx::query("SELECT 1 FROM currencies WHERE code = $1")
        .bind(spec.asset.as_str().to_owned())
        .fetch_optional(&mut *c)
        .await?;
    if known.is_none() {
        return Err(StoreError::NotFound { what: "currency", id: spec.asset.to_string() });
    }
    // ON CONFLICT: a concurrent transaction may open the same account first.
    sqlx::query(
        "INSERT INTO accounts (holder_kind, holder_id, asset, policy, credit_limit, tracks_lots, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (holder_kind, holder_id, asset) DO NOTHING",
    )
    .bind(spec.holder.kind.name())
    .bind(spec.holder.id.clone())
    .bind(spec.asset.as_str().to_owned())
    .bind(spec.policy.name())
    .bind(spec.policy.limit())
    .bind(spec.tracks_lots)
    .bind(to_micros(now))
    .execute(&mut *c)
    .await?;
    let account = find_account(c, &spec.holder, &spec.asset)
        .await?
        .ok_or_else(|| StoreError::Retry("account opened concurrently".into()))?;
    check_same_policy(account, spec)
}

fn check_same_policy(account: Account, spec: &AccountSpec) -> Result<Account, StoreError> {
    if account.policy.name() != spec.policy.name() || account.tracks_lots != spec.tracks_lots {
        return Err(StoreError::AlreadyExists {
            what: "account with another policy",
            id: format!("{}/{}/{}", spec.holder.kind.name(), spec.holder.id, spec.asset),
        });
    }
    Ok(account)
}

/// The system account (unbounded) of `name` for `asset`, opened on first use.
pub(crate) async fn system_account(c: &mut Conn, name: &str, asset: &AssetCode, now: Timestamp) -> Result<Account, StoreError> {
    let holder = Holder::system(name).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let spec = AccountSpec { holder, asset: asset.clone(), policy: BalancePolicy::Unbounded, tracks_lots: false };
    ensure_account(c, &spec, now).await
}

/// System accounts by (name, currency), as committed.
pub(crate) type SystemAccounts = std::collections::BTreeMap<(String, AssetCode), Account>;

/// A copy of the committed system accounts, so a receipt need not read them. Once
/// opened a system account never changes (unbounded, no stored totals), so a copy read
/// from committed state stays true; it is never filled from inside a transaction, whose
/// new accounts could still roll back. A receipt that needs one the copy lacks reads it
/// (or opens it) as before and marks the copy stale, to be read again.
#[derive(Default)]
pub(crate) struct SystemCache(std::sync::RwLock<Option<Arc<SystemAccounts>>>);

impl SystemCache {
    pub(crate) fn mark_stale(&self) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

impl Backend {
    /// The copy of the committed system accounts, read again if stale.
    pub(crate) async fn system_copy(&self) -> Result<Arc<SystemAccounts>, StoreError> {
        if let Some(copy) = self.system.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone() {
            return Ok(copy);
        }
        let mut reader = self.reader().await?;
        let rows = sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts WHERE holder_kind = $1"))
            .bind(loyd_domain::ledger::HolderKind::System.name())
            .fetch_all(&mut *reader)
            .await?;
        let mut copy = SystemAccounts::new();
        for row in &rows {
            let a = rows::account(row)?;
            copy.insert((a.holder.id.clone(), a.asset.clone()), a);
        }
        let copy = Arc::new(copy);
        *self.system.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(copy.clone());
        Ok(copy)
    }
}

/// Several system accounts at once: from `known` (a committed copy), then one query for
/// the rest; any not yet opened is opened. Says whether `known` lacked any.
pub(crate) async fn system_accounts(
    c: &mut Conn,
    wanted: &BTreeSet<(&'static str, AssetCode)>,
    known: &SystemAccounts,
    now: Timestamp,
) -> Result<(std::collections::BTreeMap<(&'static str, AssetCode), Account>, bool), StoreError> {
    let mut out = std::collections::BTreeMap::new();
    for (name, asset) in wanted {
        if let Some(a) = known.get(&((*name).to_owned(), asset.clone())) {
            out.insert((*name, asset.clone()), a.clone());
        }
    }
    if out.len() == wanted.len() {
        return Ok((out, false));
    }
    let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", account_cols!(), " FROM accounts WHERE holder_kind = "));
    qb.push_bind(loyd_domain::ledger::HolderKind::System.name());
    qb.push(" AND holder_id IN ");
    push_in_list(&mut qb, wanted.iter().map(|(name, _)| *name));
    qb.push(" AND asset IN ");
    push_in_list(&mut qb, wanted.iter().map(|(_, asset)| asset.as_str()));
    for row in qb.build().fetch_all(&mut *c).await? {
        let a = rows::account(&row)?;
        if let Some(key) = wanted.iter().find(|(name, asset)| a.holder.id == *name && a.asset == *asset) {
            out.insert(key.clone(), a);
        }
    }
    for (name, asset) in wanted {
        if let std::collections::btree_map::Entry::Vacant(slot) = out.entry((*name, asset.clone())) {
            slot.insert(system_account(c, name, asset, now).await?);
        }
    }
    Ok((out, true))
}

/// Totals of an unbounded account, derived from its transfers (none are stored).
async fn derived_totals(c: &mut Conn, id: AccountId) -> Result<loyd_domain::ledger::Totals, StoreError> {
    let row = sqlx::query(
        "SELECT \
           CAST(COALESCE(SUM(CASE WHEN debit_account_id = $1 AND kind IN ('single', 'post') THEN amount ELSE 0 END), 0) AS BIGINT) AS dp, \
           CAST(COALESCE(SUM(CASE WHEN credit_account_id = $1 AND kind IN ('single', 'post') THEN amount ELSE 0 END), 0) AS BIGINT) AS cp, \
           CAST(COALESCE(SUM(CASE WHEN debit_account_id = $1 AND pending_state = 'pending' THEN amount ELSE 0 END), 0) AS BIGINT) AS dpe, \
           CAST(COALESCE(SUM(CASE WHEN credit_account_id = $1 AND pending_state = 'pending' THEN amount ELSE 0 END), 0) AS BIGINT) AS cpe \
         FROM transfers WHERE debit_account_id = $1 OR credit_account_id = $1",
    )
    .bind(id.0)
    .fetch_one(&mut *c)
    .await?;
    Ok(loyd_domain::ledger::Totals {
        debits_posted: row.try_get("dp")?,
        credits_posted: row.try_get("cp")?,
        debits_pending: row.try_get("dpe")?,
        credits_pending: row.try_get("cpe")?,
    })
}

async fn account_with_balance(c: &mut Conn, id: AccountId, now: Timestamp) -> Result<Option<(Account, Balance)>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut account = rows::account(&row)?;
    if account.policy == BalancePolicy::Unbounded {
        account.totals = derived_totals(c, id).await?;
    }
    let lots = if account.tracks_lots { load_open_lots(c, &BTreeSet::from([id])).await? } else { Vec::new() };
    let balance = account.balance(&lots, now);
    Ok(Some((account, balance)))
}

impl Backend {
    /// The operator's own accounts (`system/issuance`, `system/breakage`, …) in every
    /// currency, with their totals from their transfers.
    pub async fn system_balances(&self) -> Result<Vec<crate::SystemBalance>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query("SELECT id, holder_id, asset FROM accounts WHERE holder_kind = 'system' ORDER BY holder_id, asset")
            .fetch_all(&mut *c)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let totals = derived_totals(&mut c, AccountId(r.try_get("id")?)).await?;
            let asset = AssetCode::parse(r.try_get::<String, _>("asset")?).map_err(|e| rows::corrupt(e.to_string()))?;
            out.push(crate::SystemBalance {
                account: r.try_get("holder_id")?,
                asset,
                debits: totals.debits_posted,
                credits: totals.credits_posted,
            });
        }
        Ok(out)
    }

    pub async fn open_account(&self, spec: AccountSpec, now: Timestamp) -> Result<Account, StoreError> {
        let spec = Arc::new(spec);
        self.write(move |c| {
            let spec = spec.clone();
            Box::pin(async move { ensure_account(c, &spec, now).await })
        })
        .await
    }

    pub async fn account_by_holder(&self, holder: &Holder, asset: &AssetCode) -> Result<Option<Account>, StoreError> {
        let mut c = self.reader().await?;
        find_account(&mut c, holder, asset).await
    }

    /// An account with its balance at `now`.
    pub async fn balance(&self, id: AccountId, now: Timestamp) -> Result<(Account, Balance), StoreError> {
        let mut c = self.reader().await?;
        account_with_balance(&mut c, id, now)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: "account", id: id.to_string() })
    }

    /// Changes a credit account's limit. Lowering it below what is already used is
    /// allowed (the account then simply cannot be debited until it is paid down).
    pub async fn set_credit_limit(&self, id: AccountId, limit: i64) -> Result<Account, StoreError> {
        if limit < 0 {
            return Err(StoreError::Invalid("a credit limit must not be negative".into()));
        }
        self.write(move |c| {
            Box::pin(async move {
                let done = sqlx::query("UPDATE accounts SET credit_limit = $1 WHERE id = $2 AND policy = 'credit_limit'")
                    .bind(limit)
                    .bind(id.0)
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { what: "credit account", id: id.to_string() });
                }
                let row = sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts WHERE id = $1"))
                    .bind(id.0)
                    .fetch_one(&mut *c)
                    .await?;
                rows::account(&row)
            })
        })
        .await
    }

    /// Records a batch of transfers atomically; see `loyd_domain::ledger`.
    pub async fn create_transfers(&self, batch: Vec<NewTransfer>, now: Timestamp) -> Result<Vec<TransferOutcome>, StoreError> {
        let batch = Arc::new(batch);
        self.write(move |c| {
            let batch = batch.clone();
            Box::pin(async move { apply_transfers(c, &batch, now).await })
        })
        .await
    }

    pub async fn transfer(&self, id: &TransferId) -> Result<Option<Transfer>, StoreError> {
        let mut c = self.reader().await?;
        Ok(load_transfers(&mut c, &BTreeSet::from([id.clone()])).await?.pop())
    }

    /// An account's transfers in recording order, a page at a time: pass the last `seq`
    /// seen to get the next page (keyset pagination stays fast at any depth).
    pub async fn account_transfers(
        &self,
        account: AccountId,
        after_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Transfer)>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query(concat!(
            "SELECT seq, ",
            transfer_cols!(),
            " FROM transfers WHERE (debit_account_id = $1 OR credit_account_id = $1) AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(account.0)
        .bind(after_seq.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("seq")?, rows::transfer(r)?))).collect()
    }

    /// Checks the ledger's invariants over the whole database: every bounded account's
    /// stored totals equal the sums of its transfers, lots account for every unit, no
    /// account is past its limit, and every asset sums to zero.
    pub async fn ledger_audit(&self) -> Result<LedgerAudit, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            account_cols!(),
            ", COALESCE(d.dp, 0) AS sum_dp, COALESCE(d.dpe, 0) AS sum_dpe, COALESCE(k.cp, 0) AS sum_cp, \
               COALESCE(k.cpe, 0) AS sum_cpe, COALESCE(l.lots, 0) AS sum_lots \
             FROM accounts a \
             LEFT JOIN (SELECT debit_account_id AS acct, \
                  CAST(SUM(CASE WHEN kind IN ('single', 'post') THEN amount ELSE 0 END) AS BIGINT) AS dp, \
                  CAST(SUM(CASE WHEN pending_state = 'pending' THEN amount ELSE 0 END) AS BIGINT) AS dpe \
                FROM transfers GROUP BY debit_account_id) d ON d.acct = a.id \
             LEFT JOIN (SELECT credit_account_id AS acct, \
                  CAST(SUM(CASE WHEN kind IN ('single', 'post') THEN amount ELSE 0 END) AS BIGINT) AS cp, \
                  CAST(SUM(CASE WHEN pending_state = 'pending' THEN amount ELSE 0 END) AS BIGINT) AS cpe \
                FROM transfers GROUP BY credit_account_id) k ON k.acct = a.id \
             LEFT JOIN (SELECT account_id AS acct, CAST(SUM(remaining) AS BIGINT) AS lots FROM lots GROUP BY account_id) l \
                ON l.acct = a.id \
             ORDER BY a.id"
        ))
        .fetch_all(&mut *c)
        .await?;
        let mut audit = LedgerAudit::default();
        for row in &rows {
            let account = rows::account(row)?;
            let derived = loyd_domain::ledger::Totals {
                debits_posted: row.try_get("sum_dp")?,
                credits_posted: row.try_get("sum_cp")?,
                debits_pending: row.try_get("sum_dpe")?,
                credits_pending: row.try_get("sum_cpe")?,
            };
            let in_lots: i64 = row.try_get("sum_lots")?;
            audit.check(account, derived, in_lots);
        }
        Ok(audit)
    }
}
