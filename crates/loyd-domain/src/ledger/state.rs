//! The ledger's rules as a pure function over the part of the ledger a batch touches.
//!
//! Storage loads a [`LedgerState`] in stages ([`Needs`]), holding the locks of the
//! accounts involved, calls [`LedgerState::apply_batch`], and writes [`Changes`] back in
//! the same database transaction. Nothing here does IO, so every rule is unit- and
//! property-tested without a database.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ids::{AccountId, TransferId};
use crate::time::Timestamp;

use super::account::Account;
use super::error::{BatchError, TransferError};
use super::lots::{Lot, LotMove, LotTerms};
use super::transfer::{
    DebitFrom, MAX_REFERENCE_LEN, NewTransfer, PendingState, Transfer, TransferKind, TransferOutcome,
};

/// What must be loaded, first stage: the transfers a batch names and its accounts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The batch's own ids (to detect retries) and the transfers it resolves or reverses.
    pub transfers: BTreeSet<TransferId>,
    /// Every debit and credit account, in id order: lock them in this order.
    pub accounts: BTreeSet<AccountId>,
}

impl Needs {
    pub fn of_batch(batch: &[NewTransfer]) -> Self {
        let mut n = Needs::default();
        for t in batch {
            n.transfers.insert(t.id.clone());
            if let Some(p) = t.kind.resolves() {
                n.transfers.insert(p.clone());
            }
            if let Some(r) = &t.reverses {
                n.transfers.insert(r.clone());
            }
            n.accounts.insert(t.debit);
            n.accounts.insert(t.credit);
        }
        n
    }
}

/// What must be loaded, second stage, once transfers and accounts are in.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LotNeeds {
    /// Transfers whose lot moves may be restored.
    pub moves_of: BTreeSet<TransferId>,
    /// Lot-tracking accounts that will be debited: load all their open lots.
    pub open_lots_of: BTreeSet<AccountId>,
    /// Single lots named by the batch (reversed accruals, burns).
    pub lots: BTreeSet<TransferId>,
}

/// Rows to write back, collected by [`LedgerState::changes`].
#[derive(Debug, Default)]
pub struct Changes {
    /// Bounded accounts with new totals (unbounded accounts keep no stored totals).
    pub accounts: Vec<Account>,
    pub new_transfers: Vec<Transfer>,
    /// Existing transfers whose resolution or reversed amount changed.
    pub updated_transfers: Vec<TransferUpdate>,
    pub new_lots: Vec<Lot>,
    pub updated_lots: Vec<Lot>,
    pub new_moves: Vec<LotMove>,
    pub updated_moves: Vec<LotMove>,
}

/// An existing transfer's new bookkeeping with what it was when loaded, so storage can
/// write it with a guard (`WHERE` the old values) and detect a concurrent change.
#[derive(Debug, Clone)]
pub struct TransferUpdate {
    pub transfer: Transfer,
    pub was_state: Option<PendingState>,
    pub was_reversed: i64,
}

#[derive(Debug, Clone, Default)]
pub struct LedgerState {
    accounts: BTreeMap<AccountId, Account>,
    transfers: HashMap<TransferId, Transfer>,
    lots: BTreeMap<TransferId, Lot>,
    /// Lot moves by owning (debiting) transfer, in consumption order.
    moves: HashMap<TransferId, Vec<LotMove>>,
    /// Bookkeeping of loaded transfers as loaded.
    loaded: HashMap<TransferId, (Option<PendingState>, i64)>,

    dirty_accounts: BTreeSet<AccountId>,
    new_transfers: Vec<TransferId>,
    dirty_transfers: BTreeSet<TransferId>,
    new_lots: BTreeSet<TransferId>,
    dirty_lots: BTreeSet<TransferId>,
    new_moves: BTreeSet<(TransferId, i32)>,
    dirty_moves: BTreeSet<(TransferId, i32)>,
}

fn add(a: i64, b: i64) -> Result<i64, TransferError> {
    a.checked_add(b).ok_or(TransferError::Overflow)
}

fn sub(a: i64, b: i64) -> Result<i64, TransferError> {
    a.checked_sub(b).ok_or(TransferError::Overflow)
}

impl LedgerState {
    pub fn add_account(&mut self, a: Account) {
        self.accounts.insert(a.id, a);
    }

    pub fn add_transfer(&mut self, t: Transfer) {
        self.loaded.insert(t.id.clone(), (t.pending_state, t.reversed_amount));
        self.transfers.insert(t.id.clone(), t);
    }

    pub fn add_lot(&mut self, l: Lot) {
        self.lots.insert(l.id.clone(), l);
    }

    /// Adds a loaded move; moves of one transfer may come in any order.
    pub fn add_move(&mut self, m: LotMove) {
        let list = self.moves.entry(m.transfer.clone()).or_default();
        if !list.iter().any(|x| x.ord == m.ord) {
            list.push(m);
            list.sort_by_key(|x| x.ord);
        }
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn transfer(&self, id: &TransferId) -> Option<&Transfer> {
        self.transfers.get(id)
    }

    pub fn lots(&self) -> impl Iterator<Item = &Lot> {
        self.lots.values()
    }

    pub fn lot(&self, id: &TransferId) -> Option<&Lot> {
        self.lots.get(id)
    }

    /// Second loading stage, computed from the batch and the transfers and accounts
    /// loaded for it.
    pub fn lot_needs(&self, batch: &[NewTransfer]) -> LotNeeds {
        let mut n = LotNeeds::default();
        let tracks = |id: AccountId| self.accounts.get(&id).is_some_and(|a| a.tracks_lots);
        for t in batch {
            if tracks(t.debit) {
                n.open_lots_of.insert(t.debit);
            }
            if let Some(p) = t.kind.resolves() {
                n.moves_of.insert(p.clone());
            }
            if let Some(r) = &t.reverses {
                if let Some(orig) = self.transfers.get(r) {
                    n.moves_of.insert(orig.moves_owner().clone());
                }
                n.lots.insert(r.clone());
            }
            if let DebitFrom::Lot(l) = &t.debit_from {
                n.lots.insert(l.clone());
            }
        }
        n
    }

    /// Lots the loaded moves point at (they may be closed, and still need restoring).
    pub fn lots_named_by_moves(&self) -> BTreeSet<TransferId> {
        self.moves.values().flatten().map(|m| m.lot.clone()).filter(|l| !self.lots.contains_key(l)).collect()
    }

    /// Applies a batch atomically at `now`. On error the state is left part-way and
    /// must be discarded, as the caller's database transaction is.
    pub fn apply_batch(&mut self, batch: &[NewTransfer], now: Timestamp) -> Result<Vec<TransferOutcome>, BatchError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(batch.len());
        for (index, t) in batch.iter().enumerate() {
            let fail = |error| BatchError { index, id: t.id.clone(), error };
            if !seen.insert(&t.id) {
                return Err(fail(TransferError::DuplicateIdInBatch(t.id.clone())));
            }
            out.push(self.apply_one(&t.normalized(), crate::time::truncate_micros(now)).map_err(fail)?);
        }
        Ok(out)
    }

    fn apply_one(&mut self, t: &NewTransfer, now: Timestamp) -> Result<TransferOutcome, TransferError> {
        let fingerprint = t.fingerprint();
        if let Some(existing) = self.transfers.get(&t.id) {
            return if existing.fingerprint == fingerprint {
                Ok(TransferOutcome::Exists(existing.clone()))
            } else {
                Err(TransferError::IdConflict(t.id.clone()))
            };
        }
        let at = t.at.unwrap_or(now);
        self.validate_shape(t)?;

        let mut moved = t.amount;
        let pending_state = match &t.kind {
            TransferKind::Single => {
                moved = if let Some(orig) = &t.reverses {
                    self.reverse(t, orig, at)?
                } else {
                    let moved = self.debit(t, at, None)?;
                    if moved > 0 {
                        self.credit_posted(t.credit, &t.id, moved, t.lot, at)?;
                    }
                    moved
                };
                None
            }
            TransferKind::Pending { .. } => {
                self.debit(t, at, None)?;
                let credit = self.account_mut(t.credit)?;
                credit.totals.credits_pending = add(credit.totals.credits_pending, t.amount)?;
                Some(PendingState::Pending)
            }
            TransferKind::Post { pending } | TransferKind::Void { pending } | TransferKind::Expire { pending } => {
                self.resolve(t, pending, at)?;
                None
            }
        };

        let asset = self.accounts[&t.debit].asset.clone();
        let record = Transfer {
            id: t.id.clone(),
            debit: t.debit,
            credit: t.credit,
            asset,
            amount: moved,
            kind: t.kind.clone(),
            lot: t.lot,
            debit_from: t.debit_from.clone(),
            reverses: t.reverses.clone(),
            code: t.code.clone(),
            reference: t.reference.clone(),
            at,
            recorded_at: now,
            fingerprint,
            pending_state,
            posted_amount: None,
            reversed_amount: 0,
            store: t.store.clone(),
        };
        self.transfers.insert(t.id.clone(), record.clone());
        self.new_transfers.push(t.id.clone());
        Ok(TransferOutcome::Created(record))
    }

    fn validate_shape(&self, t: &NewTransfer) -> Result<(), TransferError> {
        if t.amount <= 0 {
            return Err(TransferError::AmountMustBePositive);
        }
        if t.debit == t.credit {
            return Err(TransferError::SameAccount);
        }
        if t.reference.as_ref().is_some_and(|r| r.chars().count() > MAX_REFERENCE_LEN) {
            return Err(TransferError::ReferenceTooLong { max: MAX_REFERENCE_LEN });
        }
        if let (Some(a), Some(e)) = (t.lot.available_at, t.lot.expires_at)
            && a >= e
        {
            return Err(TransferError::InvalidLotTerms);
        }
        let debit = self.accounts.get(&t.debit).ok_or(TransferError::DebitAccountNotFound(t.debit))?;
        let credit = self.accounts.get(&t.credit).ok_or(TransferError::CreditAccountNotFound(t.credit))?;
        if debit.asset != credit.asset {
            return Err(TransferError::AssetMismatch { debit: debit.asset.clone(), credit: credit.asset.clone() });
        }
        if !t.lot.is_unrestricted() && !credit.tracks_lots {
            return Err(TransferError::LotTermsOnPlainAccount(credit.id));
        }
        let is_resolution = t.kind.resolves().is_some();
        if is_resolution && (!t.lot.is_unrestricted() || t.debit_from != DebitFrom::Fifo) {
            return Err(TransferError::OptionNotAllowed("lot dates and lot choice come from the pending transfer"));
        }
        if t.reverses.is_some() && t.kind != TransferKind::Single {
            return Err(TransferError::OptionNotAllowed("only single transfers can reverse another"));
        }
        if t.balancing && t.kind != TransferKind::Single {
            return Err(TransferError::OptionNotAllowed("only single transfers can be balancing"));
        }
        if matches!(t.debit_from, DebitFrom::Lot(_)) && !debit.tracks_lots {
            return Err(TransferError::LotNotFound(match &t.debit_from {
                DebitFrom::Lot(l) => l.clone(),
                DebitFrom::Fifo => unreachable!(),
            }));
        }
        Ok(())
    }

    fn account_mut(&mut self, id: AccountId) -> Result<&mut Account, TransferError> {
        let a = self.accounts.get_mut(&id).ok_or(TransferError::CreditAccountNotFound(id))?;
        self.dirty_accounts.insert(id);
        Ok(a)
    }

    /// Debits `t.debit` by `t.amount` (a balancing debit: by as much of it as the account
    /// can give), posted or pending according to `t.kind`, after checking the policy and,
    /// for lot accounts, consuming lots. `prefer` names a lot to take from first (a
    /// reversed accrual takes back its own points first). Returns what was debited.
    fn debit(&mut self, t: &NewTransfer, at: Timestamp, prefer: Option<&TransferId>) -> Result<i64, TransferError> {
        let account = &self.accounts[&t.debit];
        let mut amount = t.amount;
        if let Some(headroom) = account.debit_headroom()
            && headroom < i128::from(amount)
        {
            let available = i64::try_from(headroom.max(0)).unwrap_or(i64::MAX);
            if !t.balancing {
                return Err(TransferError::InsufficientFunds { account: t.debit, available, requested: t.amount });
            }
            amount = available;
        }
        if account.tracks_lots {
            amount = self.consume_lots(t, amount, at, prefer)?;
        }
        let pending = matches!(t.kind, TransferKind::Pending { .. });
        let a = self.account_mut(t.debit)?;
        if pending {
            a.totals.debits_pending = add(a.totals.debits_pending, amount)?;
        } else {
            a.totals.debits_posted = add(a.totals.debits_posted, amount)?;
        }
        Ok(amount)
    }

    /// Takes `amount` from the debit account's lots (a balancing debit: as much of it as
    /// the lots hold) and records the moves; returns what was taken.
    fn consume_lots(
        &mut self,
        t: &NewTransfer,
        amount: i64,
        at: Timestamp,
        prefer: Option<&TransferId>,
    ) -> Result<i64, TransferError> {
        let account = t.debit;
        let plan: Vec<(TransferId, i64)> = match &t.debit_from {
            DebitFrom::Lot(id) => {
                let lot = self.lots.get(id).filter(|l| l.account == account).ok_or(TransferError::LotNotFound(id.clone()))?;
                let take = if t.balancing { amount.min(lot.remaining) } else { amount };
                if lot.remaining < take {
                    return Err(TransferError::InsufficientFunds { account, available: lot.remaining, requested: t.amount });
                }
                vec![(id.clone(), take)]
            }
            DebitFrom::Fifo => {
                let preferred = prefer
                    .and_then(|p| self.lots.get(p))
                    .filter(|l| l.account == account && l.remaining > 0 && !l.is_expired(at));
                let mut active: Vec<&Lot> = self
                    .lots
                    .values()
                    .filter(|l| l.account == account && l.remaining > 0 && l.is_active(at))
                    .filter(|l| preferred.is_none_or(|p| p.id != l.id))
                    .collect();
                active.sort_by(|a, b| Lot::spend_order(a, b));
                let mut left = amount;
                let mut plan = Vec::new();
                for lot in preferred.into_iter().chain(active) {
                    if left == 0 {
                        break;
                    }
                    let take = left.min(lot.remaining);
                    plan.push((lot.id.clone(), take));
                    left -= take;
                }
                if left > 0 && !t.balancing {
                    return Err(TransferError::InsufficientFunds {
                        account,
                        available: amount - left,
                        requested: t.amount,
                    });
                }
                plan
            }
        };
        let owner = t.id.clone();
        let mut taken = 0;
        let moves = self.moves.entry(owner.clone()).or_default();
        for (lot_id, take) in plan.into_iter().filter(|(_, take)| *take > 0) {
            let ord = i32::try_from(moves.len()).map_err(|_| TransferError::Overflow)?;
            moves.push(LotMove { transfer: owner.clone(), lot: lot_id.clone(), ord, amount: take, restored: 0 });
            self.new_moves.insert((owner.clone(), ord));
            let lot = self.lots.get_mut(&lot_id).expect("planned from loaded lots");
            lot.remaining -= take;
            taken += take;
            self.dirty_lots.insert(lot_id);
        }
        Ok(taken)
    }

    /// Puts up to `amount` back into the lots `owner` consumed, newest consumption first.
    /// Returns what could not be restored (more than was consumed from lots).
    fn restore_moves(&mut self, owner: &TransferId, amount: i64) -> i64 {
        let mut left = amount;
        let Some(moves) = self.moves.get_mut(owner) else { return left };
        for m in moves.iter_mut().rev() {
            if left == 0 {
                break;
            }
            let give = left.min(m.restorable());
            if give == 0 {
                continue;
            }
            let Some(lot) = self.lots.get_mut(&m.lot) else { continue };
            m.restored += give;
            lot.remaining += give;
            left -= give;
            self.dirty_moves.insert((m.transfer.clone(), m.ord));
            self.dirty_lots.insert(m.lot.clone());
        }
        left
    }

    /// Posts a credit: raises the account's posted credits and, for lot accounts,
    /// makes the lot `lot_id` with `terms`.
    fn credit_posted(
        &mut self,
        account: AccountId,
        lot_id: &TransferId,
        amount: i64,
        terms: LotTerms,
        at: Timestamp,
    ) -> Result<(), TransferError> {
        let a = self.account_mut(account)?;
        a.totals.credits_posted = add(a.totals.credits_posted, amount)?;
        if a.tracks_lots {
            self.new_lot(account, lot_id, amount, terms, at);
        }
        Ok(())
    }

    fn new_lot(&mut self, account: AccountId, id: &TransferId, amount: i64, terms: LotTerms, at: Timestamp) {
        let lot = Lot { id: id.clone(), account, amount, remaining: amount, terms, created_at: at };
        self.lots.insert(id.clone(), lot);
        self.new_lots.insert(id.clone());
    }

    fn resolve(&mut self, t: &NewTransfer, pending_id: &TransferId, at: Timestamp) -> Result<(), TransferError> {
        let p = self.transfers.get(pending_id).ok_or_else(|| TransferError::PendingNotFound(pending_id.clone()))?;
        let TransferKind::Pending { timeout_at } = p.kind else {
            return Err(TransferError::NotPending(pending_id.clone()));
        };
        match p.pending_state {
            Some(PendingState::Pending) => {}
            Some(PendingState::Posted) => return Err(TransferError::PendingAlreadyPosted(pending_id.clone())),
            Some(PendingState::Voided) => return Err(TransferError::PendingAlreadyVoided(pending_id.clone())),
            Some(PendingState::Expired) | None => return Err(TransferError::PendingExpired(pending_id.clone())),
        }
        if t.debit != p.debit || t.credit != p.credit {
            return Err(TransferError::AccountsDifferFromPending);
        }
        let timed_out = timeout_at.is_some_and(|deadline| deadline <= at);
        let held = p.amount;
        let terms = p.lot;
        let (new_state, posted) = match &t.kind {
            TransferKind::Post { .. } => {
                if timed_out {
                    return Err(TransferError::PendingExpired(pending_id.clone()));
                }
                if t.amount > held {
                    return Err(TransferError::PostExceedsPending { pending: held, requested: t.amount });
                }
                (PendingState::Posted, t.amount)
            }
            TransferKind::Void { .. } | TransferKind::Expire { .. } => {
                if t.amount != held {
                    return Err(TransferError::VoidAmountMismatch { pending: held, requested: t.amount });
                }
                if matches!(t.kind, TransferKind::Void { .. }) && timed_out {
                    return Err(TransferError::PendingExpired(pending_id.clone()));
                }
                if matches!(t.kind, TransferKind::Expire { .. }) && !timed_out {
                    return Err(TransferError::PendingNotYetExpired(pending_id.clone()));
                }
                let state =
                    if matches!(t.kind, TransferKind::Void { .. }) { PendingState::Voided } else { PendingState::Expired };
                (state, 0)
            }
            TransferKind::Single | TransferKind::Pending { .. } => unreachable!("resolve is called for resolutions"),
        };

        let debit = self.account_mut(t.debit)?;
        debit.totals.debits_pending = sub(debit.totals.debits_pending, held)?;
        debit.totals.debits_posted = add(debit.totals.debits_posted, posted)?;
        if debit.tracks_lots {
            let left = self.restore_moves(pending_id, held - posted);
            if left > 0 {
                // Storage loads every lot a move names, so this is a safety net: value
                // is never lost, it returns as an unrestricted lot.
                self.new_lot(t.debit, &t.id, left, LotTerms::default(), at);
            }
        }
        let credit = self.account_mut(t.credit)?;
        credit.totals.credits_pending = sub(credit.totals.credits_pending, held)?;
        credit.totals.credits_posted = add(credit.totals.credits_posted, posted)?;
        if credit.tracks_lots && posted > 0 {
            self.new_lot(t.credit, &t.id, posted, terms, at);
        }

        let p = self.transfers.get_mut(pending_id).expect("checked above");
        p.pending_state = Some(new_state);
        if new_state == PendingState::Posted {
            p.posted_amount = Some(posted);
        }
        self.dirty_transfers.insert(pending_id.clone());
        Ok(())
    }

    fn reverse(&mut self, t: &NewTransfer, orig_id: &TransferId, at: Timestamp) -> Result<i64, TransferError> {
        let orig = self.transfers.get(orig_id).ok_or_else(|| TransferError::ReversedNotFound(orig_id.clone()))?;
        if !matches!(orig.kind, TransferKind::Single | TransferKind::Post { .. }) {
            return Err(TransferError::CannotReverse(orig_id.clone()));
        }
        if t.debit != orig.credit || t.credit != orig.debit {
            return Err(TransferError::ReversalAccountsMismatch);
        }
        let remaining = orig.amount - orig.reversed_amount;
        if t.amount > remaining {
            return Err(TransferError::ReversalExceedsOriginal { remaining, requested: t.amount });
        }
        let owner = orig.moves_owner().clone();

        // Take the value back, first from the lot the original credit created.
        let moved = self.debit(t, at, Some(orig_id))?;
        // Give it back where it came from; what the original did not take from lots
        // (or lots we cannot see) becomes a fresh lot with the reversal's own terms.
        let credit = self.account_mut(t.credit)?;
        credit.totals.credits_posted = add(credit.totals.credits_posted, moved)?;
        if credit.tracks_lots {
            let left = self.restore_moves(&owner, moved);
            if left > 0 {
                self.new_lot(t.credit, &t.id, left, t.lot, at);
            }
        }

        let orig = self.transfers.get_mut(orig_id).expect("checked above");
        orig.reversed_amount += moved;
        self.dirty_transfers.insert(orig_id.clone());
        Ok(moved)
    }

    /// Everything the applied batches changed, for storage to write back.
    pub fn changes(&self) -> Changes {
        let mv = |key: &(TransferId, i32)| {
            self.moves.get(&key.0).and_then(|ms| ms.iter().find(|m| m.ord == key.1)).cloned()
        };
        Changes {
            accounts: self
                .dirty_accounts
                .iter()
                .filter_map(|id| self.accounts.get(id))
                .filter(|a| a.policy != super::BalancePolicy::Unbounded)
                .cloned()
                .collect(),
            new_transfers: self.new_transfers.iter().map(|id| self.transfers[id].clone()).collect(),
            updated_transfers: self
                .dirty_transfers
                .iter()
                .filter(|id| !self.new_transfers.contains(id))
                .map(|id| {
                    let (was_state, was_reversed) = self.loaded.get(id).copied().unwrap_or((None, 0));
                    TransferUpdate { transfer: self.transfers[id].clone(), was_state, was_reversed }
                })
                .collect(),
            new_lots: self.new_lots.iter().map(|id| self.lots[id].clone()).collect(),
            updated_lots: self
                .dirty_lots
                .iter()
                .filter(|id| !self.new_lots.contains(*id))
                .map(|id| self.lots[id].clone())
                .collect(),
            new_moves: self.new_moves.iter().filter_map(mv).collect(),
            updated_moves: self.dirty_moves.iter().filter(|k| !self.new_moves.contains(*k)).filter_map(mv).collect(),
        }
    }
}
