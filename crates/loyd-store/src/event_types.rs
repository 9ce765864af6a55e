//! Types of events and their deliveries to webhooks (the outbox).

use loyd_domain::events::EventKind;
use loyd_domain::time::Timestamp;
use serde::Serialize;

/// A delivery of one event to one webhook or of one message, as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub event_id: i64,
    pub event: EventKind,
    /// What the event is about: `customer:12`, `webhook:crm`.
    pub subject: String,
    /// `webhook` or `email`.
    pub channel: String,
    /// The webhook's or the message's id.
    pub target: String,
    /// The idempotency key the receiver gets with every attempt (and the body's `id`).
    pub key: String,
    /// `pending`, `delivered`, `dead` or `withheld` (the customer's consent, opt-out or
    /// address forbade it: never sent).
    pub state: String,
    pub attempts: i64,
    /// When the next attempt is due (pending ones).
    pub next_at: Timestamp,
    pub last_at: Option<Timestamp>,
    /// The receiver's HTTP status at the last attempt (none when it did not answer).
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// A delivery a worker has claimed, with what it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub key: String,
    pub event: EventKind,
    /// `webhook` or `email`.
    pub channel: String,
    pub target: String,
    /// What the event is about: `customer:12`.
    pub subject: String,
    /// The event's time and data.
    pub created_at: Timestamp,
    pub data: serde_json::Value,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// How one attempt ended: the receiver's HTTP status (an SMTP server's reply code),
/// or what kept it from answering; `withheld`: not sent, for good (no consent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub withheld: bool,
    /// A permanent refusal (an unknown mailbox): given up at once.
    pub give_up: bool,
}

impl Attempt {
    /// An answer with a status.
    pub fn answered(status: u16) -> Attempt {
        Attempt { status: Some(status), ..Attempt::default() }
    }

    /// No answer, and why.
    pub fn failed(error: impl Into<String>) -> Attempt {
        Attempt { error: Some(error.into()), ..Attempt::default() }
    }

    /// Not sent, for good, and why.
    pub fn withheld(reason: impl Into<String>) -> Attempt {
        Attempt { error: Some(reason.into()), withheld: true, ..Attempt::default() }
    }
}

/// Which deliveries to list: newest first, a page at a time (`before` an id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub target: Option<String>,
    pub state: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}
