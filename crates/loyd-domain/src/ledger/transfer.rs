//! Transfers: immutable double-entry movements between two accounts of one asset.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{AccountId, AssetCode, TransferCode, TransferId};
use crate::time::Timestamp;

use super::lots::LotTerms;

/// Longest free-text reference (receipt id, statement note) a transfer may carry.
pub const MAX_REFERENCE_LEN: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransferKind {
    /// Posted at once.
    Single,
    /// A hold: the balance check happens now, the value moves when the hold is posted.
    /// Past `timeout_at` it can no longer be posted and the expiry job voids it.
    Pending { timeout_at: Option<Timestamp> },
    /// Posts a pending transfer, fully or partly (`amount` ≤ the pending amount).
    Post { pending: TransferId },
    /// Releases a pending transfer; `amount` must equal the pending amount.
    Void { pending: TransferId },
    /// Releases a pending transfer whose timeout has passed (made by the expiry job).
    Expire { pending: TransferId },
}

impl TransferKind {
    pub fn name(&self) -> &'static str {
        match self {
            TransferKind::Single => "single",
            TransferKind::Pending { .. } => "pending",
            TransferKind::Post { .. } => "post",
            TransferKind::Void { .. } => "void",
            TransferKind::Expire { .. } => "expire",
        }
    }

    /// The pending transfer this one resolves, if it resolves one.
    pub fn resolves(&self) -> Option<&TransferId> {
        match self {
            TransferKind::Post { pending } | TransferKind::Void { pending } | TransferKind::Expire { pending } => {
                Some(pending)
            }
            _ => None,
        }
    }
}

/// Where a debit from a lot-tracking account takes its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "lot", rename_all = "snake_case")]
pub enum DebitFrom {
    /// Active lots, earliest expiry first.
    #[default]
    Fifo,
    /// Exactly this lot, active or not (burning an expired or forfeited lot).
    Lot(TransferId),
}

/// A transfer as a client asks for it. `id` is the idempotency key: asking again with
/// the same content returns the original; the same id with other content is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NewTransfer {
    pub id: TransferId,
    pub debit: AccountId,
    pub credit: AccountId,
    /// Minor units of the accounts' asset; always positive.
    pub amount: i64,
    pub kind: TransferKind,
    /// Dates of the lot this credit creates (lot-tracking credit accounts only).
    #[serde(default)]
    pub lot: LotTerms,
    #[serde(default)]
    pub debit_from: DebitFrom,
    /// Makes this a (partial) reversal of an earlier posted transfer: the accounts are
    /// swapped, value returns to the lots it came from, and all reversals together can
    /// never exceed the original.
    pub reverses: Option<TransferId>,
    pub code: TransferCode,
    pub reference: Option<String>,
    /// Business time (an offline receipt's original time); `None`: the time of recording.
    pub at: Option<Timestamp>,
    /// A balancing debit (TigerBeetle's `balancing_debit`): move *at most* `amount`, as
    /// much as the debit account can give; the recorded amount is what moved, possibly 0.
    /// Single transfers only.
    #[serde(default)]
    pub balancing: bool,
    /// The store where it happened, set by the operations a store makes (receipts,
    /// returns, gift card sales …) so reports can tell stores apart; never by a client.
    #[serde(skip)]
    pub store: Option<String>,
}

impl NewTransfer {
    /// A plain posted transfer with no lot terms.
    pub fn single(id: TransferId, debit: AccountId, credit: AccountId, amount: i64, code: TransferCode) -> Self {
        NewTransfer {
            id,
            debit,
            credit,
            amount,
            kind: TransferKind::Single,
            lot: LotTerms::default(),
            debit_from: DebitFrom::Fifo,
            reverses: None,
            code,
            reference: None,
            at: None,
            balancing: false,
            store: None,
        }
    }

    /// The transfer with every time cut to the microsecond, the precision storage keeps.
    pub fn normalized(&self) -> NewTransfer {
        use crate::time::truncate_micros as tm;
        let mut t = self.clone();
        t.at = t.at.map(tm);
        t.lot.available_at = t.lot.available_at.map(tm);
        t.lot.expires_at = t.lot.expires_at.map(tm);
        if let TransferKind::Pending { timeout_at } = &mut t.kind {
            *timeout_at = timeout_at.map(tm);
        }
        t
    }

    /// Digest of everything the client chose, to tell a faithful retry from a reuse of
    /// the id. Fields are length-prefixed so no two requests share an encoding.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        let opt_ts = |t: Option<Timestamp>| t.map(|t| t.as_microsecond().to_string()).unwrap_or_default();
        field(self.id.as_str());
        field(&self.debit.0.to_string());
        field(&self.credit.0.to_string());
        field(&self.amount.to_string());
        field(self.kind.name());
        match &self.kind {
            TransferKind::Pending { timeout_at } => field(&opt_ts(*timeout_at)),
            TransferKind::Post { pending } | TransferKind::Void { pending } | TransferKind::Expire { pending } => {
                field(pending.as_str())
            }
            TransferKind::Single => field(""),
        }
        field(&opt_ts(self.lot.available_at));
        field(&opt_ts(self.lot.expires_at));
        match &self.debit_from {
            DebitFrom::Fifo => field("fifo"),
            DebitFrom::Lot(l) => field(&format!("lot:{l}")),
        }
        field(self.reverses.as_ref().map(TransferId::as_str).unwrap_or(""));
        field(self.code.as_str());
        field(self.reference.as_deref().unwrap_or(""));
        field(&opt_ts(self.at));
        field(if self.balancing { "balancing" } else { "" });
        let digest = h.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The state of a pending (two-phase) transfer. Each is resolved exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingState {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl PendingState {
    pub fn name(self) -> &'static str {
        match self {
            PendingState::Pending => "pending",
            PendingState::Posted => "posted",
            PendingState::Voided => "voided",
            PendingState::Expired => "expired",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [PendingState::Pending, PendingState::Posted, PendingState::Voided, PendingState::Expired]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// A recorded transfer. Immutable, except the bookkeeping of what later transfers did
/// to it: a pending transfer's resolution, and how much of it has been reversed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    pub id: TransferId,
    pub debit: AccountId,
    pub credit: AccountId,
    pub asset: AssetCode,
    /// What moved. For a balancing debit this may be less than asked, even 0.
    pub amount: i64,
    pub kind: TransferKind,
    pub lot: LotTerms,
    pub debit_from: DebitFrom,
    pub reverses: Option<TransferId>,
    pub code: TransferCode,
    pub reference: Option<String>,
    /// Business time.
    pub at: Timestamp,
    /// When the ledger recorded it.
    pub recorded_at: Timestamp,
    /// [`NewTransfer::fingerprint`] of the request that created it.
    pub fingerprint: String,
    /// For pending transfers: where they stand.
    pub pending_state: Option<PendingState>,
    /// For posted pending transfers: the amount that was posted.
    pub posted_amount: Option<i64>,
    /// Sum of the reversals made of this transfer so far.
    pub reversed_amount: i64,
    /// The store where it happened, when a store's operation made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

impl Transfer {
    /// Whose lot moves a reversal of this transfer restores: a post's consumption was
    /// recorded on its pending transfer.
    pub fn moves_owner(&self) -> &TransferId {
        match &self.kind {
            TransferKind::Post { pending } => pending,
            _ => &self.id,
        }
    }
}

/// What happened to one transfer of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "transfer", rename_all = "snake_case")]
pub enum TransferOutcome {
    Created(Transfer),
    /// A faithful retry: the transfer was already recorded and nothing changed.
    Exists(Transfer),
}

impl TransferOutcome {
    pub fn transfer(&self) -> &Transfer {
        match self {
            TransferOutcome::Created(t) | TransferOutcome::Exists(t) => t,
        }
    }
}
