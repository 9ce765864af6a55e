//! The ledger: double-entry accounts and transfers (after TigerBeetle and Formance).
//!
//! - [`Account`]s belong to a holder and hold one asset, under a [`BalancePolicy`].
//! - [`Transfer`]s move a positive amount from a debit to a credit account of the same
//!   asset. They are immutable and named by a client-chosen [`TransferId`]: a retry with
//!   the same content returns the original, other content under the same id is refused.
//!   Corrections are new transfers (reversals), never edits.
//! - Two-phase transfers hold value ([`TransferKind::Pending`]) and are resolved exactly
//!   once: posted (fully or partly), voided, or expired after their timeout.
//! - Lot-tracking accounts keep [`Lot`]s with activation and expiry dates; debits burn
//!   the earliest-expiring active lots first.
//! - A batch succeeds or fails as a whole ([`LedgerState::apply_batch`]).
//!
//! The guarantees (sum zero per asset, no account past its limit, replay changes
//! nothing) are stated in `docs/ledger.md` and checked by the property tests below.
//!
//! ## Layout
//! - `account`: accounts, holders, balance policies, balances;
//! - `transfer`: transfers, their kinds and outcomes;
//! - `lots`: lots, which are active, and the order debits spend them in;
//! - `state`: [`LedgerState::apply_batch`], the batch rules on loaded state;
//! - `error`: why a transfer or batch is refused;
//! - `tests`: property and table tests.
//!
//! [`TransferId`]: crate::ids::TransferId

mod account;
mod error;
mod lots;
mod state;
mod transfer;

pub use account::{Account, AccountSpec, AccountSpecError, Balance, BalancePolicy, Holder, HolderKind, Totals};
pub use error::{BatchError, TransferError};
pub use lots::{Lot, LotMove, LotTerms};
pub use state::{Changes, LedgerState, LotNeeds, Needs, TransferUpdate};
pub use transfer::{
    DebitFrom, MAX_REFERENCE_LEN, NewTransfer, PendingState, Transfer, TransferKind, TransferOutcome,
};

#[cfg(test)]
mod tests;
