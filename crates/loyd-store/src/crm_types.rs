//! Types of the CRM and security operations: customers, organisations, staff, the
//! audit log, CRM entries, imports.

use std::collections::BTreeMap;

use jiff::civil::Date;
use loyd_domain::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A customer's answer for one marketing channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub granted: bool,
    /// When it was given or withdrawn.
    pub at: Timestamp,
}

/// A customer record, contact data opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<Date>,
    /// The Telegram chat they connected to the program's bot (its id).
    pub telegram: Option<String>,
    /// Profile fields ([`loyd_domain::profile`]): gender, city, region, custom ones.
    pub profile: BTreeMap<String, String>,
    /// Per channel ([`loyd_domain::access::CHANNELS`]).
    pub consents: BTreeMap<String, Consent>,
    /// Purchases, spending and RFM group, as the aggregates last knew them.
    #[serde(skip)]
    pub facts: loyd_domain::segments::Facts,
    /// Left all marketing; still a member with cards and balances.
    pub opted_out_at: Option<Timestamp>,
    pub organisation: Option<i64>,
    /// A duplicate merged into that customer.
    pub merged_into: Option<i64>,
    /// When their personal data was erased (the ledger keeps their amounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A customer to register.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCustomer {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<Date>,
    pub profile: BTreeMap<String, String>,
    pub consents: BTreeMap<String, bool>,
    pub organisation: Option<i64>,
}

/// Changes to a customer; `None` leaves a field, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatch {
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub birth_date: Option<Option<Date>>,
    /// Connect (`Some(Some(chat))`) or disconnect their Telegram chat.
    pub telegram: Option<Option<String>>,
    /// Set (`Some`) or remove (`None`) profile fields.
    pub profile: BTreeMap<String, Option<String>>,
    pub consents: BTreeMap<String, bool>,
    /// `true` opts out of all marketing (every consent withdrawn); `false` opts back in
    /// (consents must then be given again one by one).
    pub opted_out: Option<bool>,
    pub organisation: Option<Option<i64>>,
}

/// How to find customers. Exact matches for phone, e-mail and card; every word of
/// `name` must start a word of the name (3 letters or more).
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub card: Option<String>,
    pub name: Option<String>,
    pub organisation: Option<i64>,
    /// Keyset pagination: only ids greater than this.
    pub after_id: Option<i64>,
    pub limit: u32,
}

/// A card as the CRM shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardInfo {
    pub number: String,
    pub series: String,
    pub kind: loyd_domain::program::CardKind,
    pub state: loyd_domain::cards::CardState,
    pub is_virtual: bool,
    pub replaced_by: Option<String>,
    pub issued_at: Timestamp,
    /// A replacement gift card's new PIN, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

/// Whose a card is: what permission checks need to know before a card is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOwner {
    pub kind: loyd_domain::program::CardKind,
    /// The organisation whose balance the card spends, for a contact's card.
    pub organisation: Option<i64>,
}

/// A wholesale counterparty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: i64,
    pub name: String,
    pub tax_id: Option<String>,
    pub contacts: Vec<i64>,
    pub created_at: Timestamp,
}

/// A staff member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub role: loyd_domain::access::Role,
    /// The stores a store manager is limited to.
    pub stores: Vec<String>,
    pub disabled: bool,
    /// Where tasks and reminders due to them are sent.
    pub email: Option<String>,
    pub created_at: Timestamp,
}

/// A staff member to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub password: String,
    pub role: loyd_domain::access::Role,
    pub stores: Vec<String>,
    pub email: Option<String>,
}

/// Changes to a staff member.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub password: Option<String>,
    pub role: Option<loyd_domain::access::Role>,
    pub stores: Option<Vec<String>>,
    pub disabled: Option<bool>,
    /// `Some(None)` removes it.
    pub email: Option<Option<String>>,
}

/// Who is acting: a staff member by session or an integration by API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `user:anna`, `key:erp`, or `cli` for the operator's command line.
    pub name: String,
    pub role: loyd_domain::access::Role,
    pub stores: Vec<String>,
}

/// An API key as the admin sees it: its name and role, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub name: String,
    pub role: loyd_domain::access::Role,
    pub created_at: Timestamp,
    /// When it was revoked; `None`: it works.
    pub revoked_at: Option<Timestamp>,
}

/// A login session: the token is shown once.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub expires_at: Timestamp,
    pub user: User,
}

/// Why a login failed. Unknown logins and wrong passwords look the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefusal {
    BadCredentials,
    Locked { until: Timestamp },
}

/// One entry of the audit log, sealed values opened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Filters of the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    pub actor: Option<String>,
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// A note, contact event, task or reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrmEntry {
    pub id: i64,
    pub customer: Option<i64>,
    pub organisation: Option<i64>,
    pub kind: loyd_domain::crm::EntryKind,
    pub channel: Option<String>,
    pub body: String,
    pub due_at: Option<Timestamp>,
    pub assignee: Option<String>,
    pub status: loyd_domain::crm::EntryStatus,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A CRM entry to record.
#[derive(Debug, Clone)]
pub struct NewCrmEntry {
    pub customer: Option<i64>,
    pub organisation: Option<i64>,
    pub kind: loyd_domain::crm::EntryKind,
    pub channel: Option<String>,
    pub body: String,
    pub due_at: Option<Timestamp>,
    pub assignee: Option<String>,
}

/// Changes to a CRM entry (tasks and reminders are closed this way).
#[derive(Debug, Clone, Default)]
pub struct CrmPatch {
    pub status: Option<loyd_domain::crm::EntryStatus>,
    pub assignee: Option<Option<String>>,
    pub due_at: Option<Option<Timestamp>>,
}

/// Filters of CRM entries, newest first.
#[derive(Debug, Clone, Default)]
pub struct CrmFilter {
    pub customer: Option<i64>,
    pub organisation: Option<i64>,
    pub assignee: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Only entries due before this (open tasks due today: `status=open&due_before=…`).
    pub due_before: Option<Timestamp>,
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// One day's committed receipts in one store currency (the dashboard's figures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaySales {
    /// Days since 1970-01-01 at the offset asked for.
    pub day: i64,
    pub currency: String,
    pub receipts: i64,
    /// Minor units of `currency`.
    pub total: i64,
    pub discount: i64,
    pub redeemed: i64,
}

/// A store's sales on one of its days (see `day_sales`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreDay {
    /// The store's local date.
    pub day: jiff::civil::Date,
    pub store: String,
    /// The store's currency; amounts are in its minor units.
    pub currency: String,
    /// Receipts committed that day (cancelled ones included: see `cancelled`).
    pub receipts: i64,
    pub total: i64,
    pub discount: i64,
    /// Paid with points and wallets.
    pub redeemed: i64,
    /// Paid with gift cards.
    pub gift_card: i64,
    /// Returns made that day (cancellations aside).
    pub returns: i64,
    /// Receipts cancelled that day, and what they had sold.
    pub cancelled: i64,
    pub cancelled_total: i64,
    pub cancelled_discount: i64,
    pub cancelled_redeemed: i64,
    /// Money given back that day by returns and cancellations.
    pub paid_back: i64,
    /// Lines of that day's receipts, less those of receipts cancelled that day.
    pub lines: i64,
}

/// What receipts accrued to customers and what customers redeemed at them, in one
/// currency (the dashboard's figures), in its minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptFlows {
    pub currency: String,
    pub accrued: i64,
    pub redeemed: i64,
}

/// A non-monetary gift handed over at a receipt (a `gift` reward), for accounting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GiftIssue {
    /// Its number, newest highest: the cursor of the next page.
    pub id: i64,
    pub gift: String,
    pub campaign: String,
    pub customer: Option<i64>,
    pub store: String,
    pub terminal: String,
    pub receipt_id: String,
    pub at: Timestamp,
    /// The receipt's: `committed`, or `cancelled` (then the gift came back).
    pub status: String,
}

/// Which gift issues to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct GiftFilter {
    pub customer: Option<i64>,
    pub campaign: Option<String>,
    /// Only these stores' receipts (a store manager's).
    pub stores: Option<Vec<String>>,
    /// Issues numbered below this.
    pub before: Option<i64>,
    pub limit: u32,
}

/// A committed receipt in a customer's purchase history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purchase {
    /// The receipt's row (its page: `/v1/admin/receipts/{id}`).
    pub id: i64,
    pub store: String,
    pub terminal: String,
    pub receipt_id: String,
    pub at: Timestamp,
    pub status: String,
    pub currency: String,
    /// Minor units of `currency`.
    pub total: i64,
    pub discount: i64,
    pub redeemed_value: i64,
}

/// One row of a customer import, already parsed; `line` is its line in the file.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub customer: NewCustomer,
    /// Loyalty card numbers to issue to the customer in the import's series.
    pub cards: Vec<String>,
}

/// What happened to each row of an import batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub line: u64,
    /// The new customer's id, or why the row was refused.
    pub result: Result<i64, String>,
}

/// What key rotation re-sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rotation {
    pub key: String,
    pub customers: u64,
    pub crm_entries: u64,
    pub audit_entries: u64,
    /// Events' data, channel secrets and portal notifications.
    pub events: u64,
}

/// Which rows of the ledger's flow aggregates (`day_flows`) to read, summed per day.
#[derive(Debug, Clone, Default)]
pub struct FlowFilter {
    pub from: Option<jiff::civil::Date>,
    pub to: Option<jiff::civil::Date>,
    /// Only these stores (flows no store made are then left out); `None`: all, with them.
    pub stores: Option<Vec<String>>,
    /// `customer`, `card` or `organisation`; `None`: all.
    pub holder_kind: Option<String>,
    pub asset: Option<String>,
    /// Only cards of these series.
    pub series: Option<Vec<String>>,
    /// Keep stores apart (otherwise summed over them, `store` empty).
    pub by_store: bool,
    /// Keep card series apart (otherwise summed, `series` empty).
    pub by_series: bool,
}

/// What moved into and out of the accounts of one kind of holder on a day (see
/// `day_flows`), in the currency's minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowDay {
    pub day: jiff::civil::Date,
    /// Empty when summed over stores, or for flows no store made.
    pub store: String,
    pub asset: String,
    pub code: String,
    pub holder_kind: String,
    pub series: String,
    pub credited: i64,
    pub debited: i64,
    pub transfers: i64,
}

/// What the holders of one kind held in one currency (and series) at a day's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub asset: String,
    pub holder_kind: String,
    pub series: String,
    pub amount: i64,
}

/// What a campaign gave on a day (see `day_campaigns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignDay {
    pub day: jiff::civil::Date,
    /// Empty when summed over stores.
    pub store: String,
    pub campaign: String,
    /// Discounts, gifts and coupons: the store currency; accruals: their currency.
    pub currency: String,
    pub receipts: i64,
    /// What the receipts the campaign touched totalled.
    pub revenue: i64,
    pub discount: i64,
    pub accrued: i64,
    pub gifts: i64,
    pub coupons: i64,
}

/// One group of a campaign with a control group (see `campaign_members`): its members
/// and what they bought, in store minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ControlGroup {
    /// The control group (the campaign gave them nothing), else the treated.
    pub held_out: bool,
    pub members: i64,
    /// Members with a purchase.
    pub buyers: i64,
    pub receipts: i64,
    pub revenue: i64,
    /// The sum over members of the square of each one's revenue (for the variance).
    pub revenue_squares: i128,
}

/// One month's buyers (see `customer_months`): identified customers with a purchase,
/// their receipts and what they paid after discounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthBuyers {
    /// `YYYY-MM`.
    pub month: String,
    pub buyers: i64,
    pub receipts: i64,
    pub revenue: i64,
}

/// How often a store's identified customers bought over some months (see
/// `customer_months`): buyers by how many purchases they made, in store minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreRegulars {
    /// The store; empty for the stores asked for together (a customer counted once).
    pub store: String,
    pub buyers: i64,
    /// Buyers with one purchase, two or three, four or more.
    pub once: i64,
    pub repeat: i64,
    pub regular: i64,
    pub receipts: i64,
    pub revenue: i64,
    /// What the buyers with four or more purchases paid.
    pub regular_revenue: i64,
}

/// One internal credit account over a period, in minor units of its currency: a
/// negative balance is owed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreditStatement {
    /// `customer` or `organisation`.
    pub holder_kind: String,
    pub holder_id: String,
    pub currency: String,
    pub credit_limit: i64,
    /// The balance at the start of the period.
    pub opening: i64,
    /// What purchases took from it.
    pub charged: i64,
    /// What returns and adjustments gave back.
    pub returned: i64,
    /// What settlements (payroll deductions) paid in.
    pub settled: i64,
    /// The balance at the end: opening − charged + returned + settled.
    pub closing: i64,
}

/// Which transactions to list: local times `[from, until)`, the stores (`None`: all),
/// at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionFilter {
    pub from: Timestamp,
    pub until: Timestamp,
    pub stores: Option<Vec<String>>,
    pub limit: usize,
}

/// One operation: a sale, a return, a cancellation, a gift card activation, a visit,
/// or a manual adjustment, settlement or merge of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transaction {
    pub at: Timestamp,
    /// `sale`, `return`, `cancellation`, `gift_card_activation`, `visit`,
    /// `adjustment`, `settlement` or `merge`.
    pub kind: String,
    pub store: Option<String>,
    pub terminal: Option<String>,
    /// The till's receipt id (a sale, and what a return or cancellation was of).
    pub receipt: Option<String>,
    /// The receipt's row, for its page.
    pub receipt_ref: Option<i64>,
    pub customer: Option<i64>,
    pub currency: String,
    /// Minor units: a sale's revenue after discounts, what a return or cancellation
    /// gave back, what an adjustment added (negative: took).
    pub amount: i64,
    /// The places `amount` has when the operation's answer said so (the till's other
    /// operations); otherwise those of `currency`.
    pub places: Option<u32>,
    pub discount: i64,
    pub redeemed: i64,
    /// A sale since cancelled.
    pub cancelled: bool,
    /// The operation's id (a return's id, an adjustment's reference).
    pub operation: Option<String>,
}

/// A transfer as a receipt's page shows it: between whose accounts (`customer:7`,
/// `system:redemption`, `card:2770…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferLine {
    pub id: String,
    pub currency: String,
    pub amount: i64,
    pub code: String,
    pub kind: String,
    pub reverses: Option<String>,
    pub at: Timestamp,
    pub debit: String,
    pub credit: String,
}

/// A return or cancellation of a receipt, with its transfers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptOperation {
    /// `return` or `cancellation`.
    pub kind: String,
    pub operation: String,
    pub store: String,
    pub terminal: String,
    pub at: Timestamp,
    /// What it gave back, as the till was told.
    pub refund: String,
    pub transfers: Vec<TransferLine>,
}

/// A receipt with everything that moved because of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceiptDetail {
    pub id: i64,
    pub store: String,
    pub terminal: String,
    pub receipt: String,
    pub customer: Option<i64>,
    pub at: Timestamp,
    pub cancelled: bool,
    pub currency: String,
    /// Minor units of `currency`.
    pub total: i64,
    pub discount: i64,
    pub redeemed: i64,
    pub gift_card: i64,
    /// What the till sent (stored without secrets) and what it was answered.
    pub request: serde_json::Value,
    pub response: serde_json::Value,
    pub transfers: Vec<TransferLine>,
    pub operations: Vec<ReceiptOperation>,
}

/// A segment's members now: a program segment's id or an RFM group's (`rfm:champions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentCount {
    pub segment: String,
    pub members: i64,
}

/// A segment on one day of the segments job's passes: its members at the end of the
/// day's last pass, how many joined and left during the day's passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentDay {
    /// YYYY-MM-DD, the first store's local day.
    pub day: String,
    pub segment: String,
    pub members: i64,
    pub joined: i64,
    pub departed: i64,
}

/// Where the segments job's pass stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentPass {
    pub under_way: bool,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// The program version the last pass evaluated.
    pub version: Option<i64>,
}

/// What a fraud alert counted: a receipt, a return, a refused operation, a card, or a
/// terminal's or cashier's day beside its peers'.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudEvidence {
    /// `receipt`, `return`, `refusal`, `card` or `peers`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<String>,
    /// The POS's receipt id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// A refusal's error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// For `peers`: the peers' median count that day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<String>,
}

/// A fraud alert: what a rule found about a customer, terminal or cashier, and what
/// staff decided about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FraudAlert {
    pub id: i64,
    pub rule: String,
    /// `customer:12`, `terminal:riga-01/t1` or `cashier:riga-01/anna`.
    pub subject: String,
    /// The UTC day it is about, the returned receipt, or empty (once).
    pub period: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// The last event it counted.
    pub at: Timestamp,
    pub found_at: Timestamp,
    pub store: Option<String>,
    pub customer: Option<i64>,
    pub card: Option<String>,
    /// What was counted, and the limit it passed.
    pub figure: i64,
    pub threshold: String,
    pub evidence: Vec<FraudEvidence>,
    /// `open`, `acknowledged` or `dismissed`.
    pub state: String,
    pub note: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    /// The card blocked for it.
    pub blocked_card: Option<String>,
}

/// Which alerts to list: newest first, a page at a time (`before` an id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FraudFilter {
    pub state: Option<String>,
    pub rule: Option<String>,
    pub severity: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// A decision on an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudDecision {
    /// `acknowledged` (it is fraud, or being dealt with) or `dismissed` (it is not).
    pub state: String,
    pub note: Option<String>,
    /// A card to block with it.
    pub block_card: Option<String>,
}
