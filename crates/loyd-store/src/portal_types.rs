//! What the customer portal's store functions take and answer.

use loyd_domain::time::Timestamp;

/// What the task for staff says when a customer asks in the portal for their personal
/// data to be erased.
pub const ERASURE_ASKED: &str = "The customer asked in the portal for their personal data to be erased (the ledger keeps its amounts).";

/// Where a sign-in code goes: a normalised phone (`+37120000001`) or e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalAddress {
    Phone(String),
    Email(String),
}

impl PortalAddress {
    /// `phone:+37120000001`: what its keyed hash is taken of.
    pub fn key(&self) -> String {
        match self {
            PortalAddress::Phone(p) => format!("phone:{p}"),
            PortalAddress::Email(e) => format!("email:{e}"),
        }
    }
}

/// A sign-in code asked for.
#[derive(Debug, Clone)]
pub struct CodeAsked {
    pub to: PortalAddress,
    /// The network address asking (only its keyed hash is kept).
    pub ip: String,
    /// The language the portal spoke (the code's message is sent in it).
    pub language: String,
}

/// A portal session opened: its bearer token (kept only hashed) and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    pub token: String,
    pub customer: i64,
    pub expires_at: Timestamp,
}

/// What typing a sign-in code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeChecked {
    /// Wrong, expired, used, or none sent: the portal says the same for all.
    Refused,
    /// A member's code: signed in.
    Member(PortalSession),
    /// The address is no member's: they may join (the address is confirmed).
    Newcomer,
}

/// Someone joining from the portal with a confirmed phone.
#[derive(Debug, Clone)]
pub struct PortalJoin {
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub language: String,
    /// Consents they gave, by channel.
    pub consents: std::collections::BTreeMap<String, bool>,
}

/// A lot of points still held: how much is left, from when it may be spent and when
/// what is left expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLot {
    pub currency: String,
    /// Minor units.
    pub remaining: i64,
    pub available_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

/// A coupon issued to a customer that they may still use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCoupon {
    pub code: String,
    pub series: String,
    pub valid_until: Option<Timestamp>,
    pub issued_at: Timestamp,
}

/// A coupon taken from the rewards catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardTaken {
    pub code: String,
    pub valid_until: Option<Timestamp>,
    /// The operation was done before: nothing moved this time.
    pub replay: bool,
}

/// Exchanges of the catalogue's entries: a customer's, and (for entries with a stock)
/// everyone's, by entry id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogueCounts {
    pub mine: std::collections::BTreeMap<String, i64>,
    pub all: std::collections::BTreeMap<String, i64>,
}

/// A return of goods a customer made: when, at which store, of which receipt, and the
/// till's answer (what was refunded, what points were taken back or given back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnMade {
    pub at: Timestamp,
    pub store: String,
    pub receipt: String,
    /// The store's money currency.
    pub currency: String,
    pub answer: loyd_domain::returns::ReturnResponse,
}
