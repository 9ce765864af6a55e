//! Types of the POS and admin operations shared by both backends.

use loyd_domain::ids::{AssetCode, TerminalCode};
use loyd_domain::org::{StoreSpec, Terminal};
use loyd_domain::receipt::{StoreContext, TimePolicy};
use loyd_domain::time::Timestamp;
use serde::Serialize;

/// Who is calling: the store and terminal a terminal key belongs to.
#[derive(Debug, Clone)]
pub struct PosCaller {
    pub store: StoreContext,
    pub store_name: String,
    pub terminal: TerminalCode,
    /// When the store's receipts may be dated.
    pub time: TimePolicy,
}

/// A terminal as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalRow {
    pub id: String,
    pub created_at: Timestamp,
    /// When its key was revoked; `None`: live.
    pub revoked_at: Option<Timestamp>,
}

/// What a terminal key opens: the terminal, its store, and when the store was first
/// configured (receipts dated before are refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalOfKey {
    pub terminal: Terminal,
    pub store: StoreSpec,
    pub opened_at: Timestamp,
}

/// A POS response as it was first given: a retry gets exactly these bytes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosReply {
    pub outcome: loyd_domain::operations::Outcome,
    pub body: String,
    /// The answer was stored earlier and is replayed.
    pub replayed: bool,
}

/// One entry of the failure log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub id: i64,
    pub at: Timestamp,
    pub store: Option<String>,
    pub terminal: Option<String>,
    pub operation: String,
    pub code: String,
    pub message: String,
    pub card: Option<String>,
    pub client_id: Option<String>,
}

/// A terminal's refusals that count as guesses, over a window (see the API's
/// `attempts`): wrong PINs, phones or one-time codes naming no customer, unknown card
/// numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptCounts {
    pub wrong_pins: i64,
    pub unknown_phones_or_codes: i64,
    pub unknown_cards: i64,
}

/// A refusal to record.
#[derive(Debug, Clone)]
pub struct NewFailure {
    pub store: Option<String>,
    pub terminal: Option<String>,
    pub operation: &'static str,
    pub code: String,
    pub message: String,
    pub card: Option<String>,
    pub client_id: Option<String>,
}

/// Filters of the failure log; all optional, newest first, keyset-paginated by id.
#[derive(Debug, Clone, Default)]
pub struct FailureFilter {
    pub store: Option<String>,
    pub terminal: Option<String>,
    pub code: Option<String>,
    pub card: Option<String>,
    pub operation: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only entries with a smaller id (the last id of the previous page).
    pub before_id: Option<i64>,
    pub limit: u32,
    /// Only these stores (a store manager's).
    pub stores: Option<Vec<String>>,
}

/// A card just issued; `pin` is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedCard {
    pub number: String,
    pub series: String,
    pub kind: loyd_domain::program::CardKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct IssueCards {
    pub series: String,
    pub count: u32,
    /// Bind to this customer (loyalty and credit cards need one).
    pub customer: Option<i64>,
    /// A given number instead of the next ones of the series (count must be 1).
    pub number: Option<String>,
    /// A virtual card (no plastic), bound to a customer who has a phone.
    pub virtual_card: bool,
    /// The client's id of this batch: the same id again makes nothing more.
    pub operation_id: Option<String>,
}

/// One line of an account statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    pub at: Timestamp,
    pub transfer: String,
    pub code: String,
    pub reference: Option<String>,
    /// Signed: positive raises the balance.
    pub amount: String,
    pub balance: String,
}

/// A customer's account in one currency over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub customer: String,
    pub currency: AssetCode,
    pub from: Timestamp,
    pub to: Timestamp,
    pub opening: String,
    pub closing: String,
    pub credit_limit: String,
    pub lines: Vec<StatementLine>,
}
