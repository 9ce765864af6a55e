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
    /// A mailing's delivery: the mailing, the variant whose text goes, the customer.
    pub mailing: Option<MailingDelivery>,
}

/// What a delivery of a mailing carries beside the mailing's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailingDelivery {
    pub mailing: i64,
    pub variant: String,
    pub customer: i64,
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
    /// Not tried now (the customer's quiet hours): due again then, no attempt counted.
    pub defer_until: Option<Timestamp>,
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

    /// Not sent yet: due again at `until`, and why.
    pub fn deferred(until: Timestamp, reason: impl Into<String>) -> Attempt {
        Attempt { error: Some(reason.into()), defer_until: Some(until), ..Attempt::default() }
    }
}

/// A mailing as created: to whom, on which channel, what, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMailing {
    pub name: String,
    pub channel: loyd_domain::messages::Channel,
    pub audience: loyd_domain::mailings::Audience,
    pub spec: loyd_domain::mailings::MailingSpec,
    pub send_at: Timestamp,
    /// The customers of a mailing to a list (ids; unknown ones are left out when it is
    /// enqueued).
    pub customers: Vec<i64>,
    /// The client's id: the same again returns the mailing made the first time.
    pub operation_id: Option<String>,
}

/// A mailing and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailing {
    pub id: i64,
    pub name: String,
    pub channel: loyd_domain::messages::Channel,
    /// `all`, `segment:<id>` or `list`.
    pub audience: String,
    pub spec: loyd_domain::mailings::MailingSpec,
    /// `scheduled`, `enqueuing`, `testing` (the test share is out; the rest waits for
    /// the winner), `sending`, `sent` or `cancelled`.
    pub state: String,
    pub send_at: Timestamp,
    /// The variant the rest of the audience gets, once chosen.
    pub winner: Option<String>,
    /// Deliveries made, and audience members left out (merged, opted out, no consent).
    pub enqueued: i64,
    pub skipped: i64,
    pub started_at: Option<Timestamp>,
    /// When the (first phase of the) audience was all enqueued.
    pub enqueued_at: Option<Timestamp>,
    pub decided_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// What became of one variant's messages (or of all, `variant` empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VariantReport {
    pub variant: String,
    /// Deliveries made for it.
    pub enqueued: i64,
    /// Waiting for their moment (throttling, quiet hours) or a retry.
    pub queued: i64,
    /// Accepted by the SMTP server or the gateway.
    pub sent: i64,
    /// Given up after the attempts.
    pub failed: i64,
    /// Not sent for good: no consent, opted out, no address when due, or cancelled.
    pub withheld: i64,
    pub opened: i64,
    pub clicked: i64,
    /// Customers who withdrew the channel's consent through it.
    pub unsubscribed: i64,
    /// Sent messages whose customer bought within the attribution days after.
    pub purchases: i64,
}

/// A mailing with its figures per variant and in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailingReport {
    pub mailing: Mailing,
    pub variants: Vec<VariantReport>,
    pub total: VariantReport,
}

/// Which deliveries to list: newest first, a page at a time (`before` an id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub target: Option<String>,
    pub state: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// What one step of a mailing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailingStep {
    /// Nothing to do now (not due, waiting for the winner or its deliveries, or
    /// another server holds it).
    Idle,
    /// A batch was read: there may be more.
    Batch,
    /// It moved to another state.
    Moved,
}

/// A notification the portal channel keeps for a customer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notification {
    pub id: i64,
    pub subject: String,
    pub body: String,
    pub created_at: jiff::Timestamp,
    /// When the customer marked it read; `None` while it is new.
    pub read_at: Option<jiff::Timestamp>,
}

/// What starting the bot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    /// The chat is the customer's now, and they consent to Telegram messages.
    Consenting,
    /// The chat is theirs, but they opted out of all marketing: it carries nothing
    /// until they opt back in.
    OptedOut,
}
