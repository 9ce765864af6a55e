//! The program as a marketer writes it: the sections of a configuration file
//! (`docs/programs.md` documents every field). Unknown fields are refused everywhere.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{AssetCode, ConfigCode};
use crate::money::{self, Rounding, Scale};

mod campaign;
mod document;
mod fraud;

pub use self::campaign::*;
pub use self::document::*;
pub use self::fraud::*;

/// A decimal in a configuration file, however a person writes it: a string (`"0.10"`,
/// `"+5"`, `".5"`, `"1 000.50"`, `"1_000"`), a whole number (`100`) or a TOML float
/// (`0.1`) — a float is taken as the decimal it is written as (its shortest form), and
/// refused when it has more than 15 significant digits, beyond which the file's text
/// and the number differ. A decimal comma is refused with a hint: `"1,500"` could be
/// either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dec(pub Decimal);

impl Dec {
    /// Reads a decimal as written in a program file (see the type).
    pub fn parse(written: &str) -> Result<Dec, String> {
        let trimmed = written.trim();
        if trimmed.contains(',') {
            return Err(format!("'{written}': write the decimal point as a dot (\"1.5\"), and no thousands separators but spaces"));
        }
        let mut text: String = trimmed.chars().filter(|c| !matches!(c, ' ' | '_' | '\u{a0}' | '\u{202f}')).collect();
        if let Some(rest) = text.strip_prefix('+') {
            text = rest.to_owned();
        }
        if let Some(rest) = text.strip_suffix('.') {
            text = rest.to_owned();
        }
        let (sign, digits) = text.strip_prefix('-').map_or(("", text.as_str()), |d| ("-", d));
        let text = if digits.starts_with('.') { format!("{sign}0{digits}") } else { text.clone() };
        money::parse_decimal(&text).map(Dec).map_err(|_| format!("'{written}' is not a decimal number; write it like \"12.50\""))
    }
}

impl Serialize for Dec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal number, e.g. \"0.10\" or 100")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dec, E> {
                Dec::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dec, E> {
                // The shortest text that reads back as `v`: for up to 15 significant
                // digits, exactly what the file says.
                let shown = format!("{v}");
                let significant = shown.trim_start_matches(['-', '0', '.']).chars().filter(char::is_ascii_digit).count();
                match Dec::parse(&shown) {
                    Ok(d) if v.is_finite() && significant <= 15 => Ok(d),
                    _ => Err(E::custom(format!("{v} cannot be read exactly; write it as a string, e.g. \"12.50\""))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<i64> for Dec {
    fn from(v: i64) -> Self {
        Dec(Decimal::from(v))
    }
}

// ---- currencies ---------------------------------------------------------------------

/// How a currency may pay receipts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemSpec {
    /// Below this balance nothing may be redeemed (`below_minimum_redeem`).
    #[serde(default)]
    pub min_balance: Option<Dec>,
    /// Largest share of the payable lines (after discounts) this currency may pay, 0–1.
    #[serde(default)]
    pub max_share: Option<Dec>,
    /// Goods that cannot be paid with this currency.
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub exclude_skus: Vec<String>,
    /// Whether the part of a receipt paid with this currency still earns accruals.
    /// Default `false`: the paid part leaves every accrual base.
    #[serde(default)]
    pub accrue_on_redeemed: bool,
    /// Units are spent only in multiples of this (`"100"`: 100, 200, …).
    #[serde(default)]
    pub step: Option<Dec>,
    /// At most this many units pay one receipt.
    #[serde(default)]
    pub max_units: Option<Dec>,
}

/// A calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodUnit {
    Month,
    Quarter,
    Year,
}

impl PeriodUnit {
    pub fn months(self) -> i64 {
        match self {
            PeriodUnit::Month => 1,
            PeriodUnit::Quarter => 3,
            PeriodUnit::Year => 12,
        }
    }
}

/// How long accrued units live: exactly one form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimeSpec {
    /// This many days after they become spendable…
    #[serde(default)]
    pub days: Option<u32>,
    /// …or months…
    #[serde(default)]
    pub months: Option<u32>,
    /// …or all at this moment…
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// …or at the end of the calendar period they were earned in (store time).
    #[serde(default)]
    pub period_end: Option<PeriodUnit>,
}

/// "Every 10 points become 1.00 on the wallet": as soon as the balance reaches `every`,
/// that many units are taken and `gives` units of `to` credited, as often as it fits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionSpec {
    pub to: AssetCode,
    pub every: Dec,
    pub gives: Dec,
}

// ---- cards --------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// A loyalty card bound to a customer: identifies them; their balances are theirs.
    Loyalty,
    /// A gift card or certificate: holds money of its own.
    Gift,
    /// A prepaid pass: holds visits.
    Pass,
    /// An internal credit card (employee meals): bound to a customer whose credit
    /// account may go down to a limit.
    Credit,
}

impl CardKind {
    pub fn name(self) -> &'static str {
        match self {
            CardKind::Loyalty => "loyalty",
            CardKind::Gift => "gift",
            CardKind::Pass => "pass",
            CardKind::Credit => "credit",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [CardKind::Loyalty, CardKind::Gift, CardKind::Pass, CardKind::Credit].into_iter().find(|k| k.name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckDigit {
    /// Luhn (mod 10), as on payment and most loyalty cards.
    #[default]
    Luhn,
    None,
}

/// How a series numbers its cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Numbering {
    /// One after another: easy to hand out in order, easy to guess.
    #[default]
    Sequential,
    /// Drawn at random from the whole range of the series: a guessed number is almost
    /// never a card (with 9 free digits and a million cards, one guess in a thousand).
    Random,
}

/// Fewest free digits (after the prefix and the check digit) a random series has.
pub const MIN_RANDOM_DIGITS: usize = 6;

/// A series of cards: numbering, kind, and what a card of the series may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardSeriesSpec {
    pub id: ConfigCode,
    pub kind: CardKind,
    #[serde(default)]
    pub name: Option<String>,
    /// Digits every number of the series starts with.
    #[serde(default)]
    pub prefix: String,
    /// Digits in a number, check digit included. Default 13.
    #[serde(default = "default_card_length")]
    pub length: u8,
    #[serde(default)]
    pub check_digit: CheckDigit,
    /// Sequential (default) or random numbers.
    #[serde(default, skip_serializing_if = "is_sequential")]
    pub numbering: Numbering,
    /// Whether a PIN is required to use or inquire a card.
    #[serde(default)]
    pub pin: bool,
    /// A card is valid this many days from its activation (or issue, for passes).
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// Gift: the money currency; pass: the counter currency of visits; credit: the
    /// money currency of the credit account.
    #[serde(default)]
    pub currency: Option<AssetCode>,
    /// Gift: the allowed activation amounts, a range…
    #[serde(default)]
    pub amount_min: Option<Dec>,
    #[serde(default)]
    pub amount_max: Option<Dec>,
    /// …or a list of fixed nominals.
    #[serde(default)]
    pub nominals: Vec<Dec>,
    /// Gift: the first payment burns whatever is left (recorded as breakage).
    #[serde(default)]
    pub single_use: bool,
    /// Pass: visits a pass holds when issued.
    #[serde(default)]
    pub visits: Option<u32>,
    /// Pass: the service it admits to (`gym`).
    #[serde(default)]
    pub service: Option<String>,
    /// Credit: the overdraft limit of a card's account.
    #[serde(default)]
    pub credit_limit: Option<Dec>,
}

fn default_card_length() -> u8 {
    13
}

fn is_sequential(n: &Numbering) -> bool {
    *n == Numbering::Sequential
}

// ---- counters and tiers -------------------------------------------------------------

/// What a counter counts over a customer's receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The money paid (after loyalty discounts, less returns), in the store currency.
    Sum,
    /// The number of receipts.
    Count,
    /// The number of distinct days with a receipt.
    Visits,
}

/// Fixed periods that start at `start` and reset every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodSpec {
    pub start: Timestamp,
    pub every: PeriodUnit,
}

/// A counter of customer activity: over a rolling window or over fixed periods.
/// Receipts count from the next receipt on, never the one being computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterSpec {
    pub id: ConfigCode,
    pub measure: Measure,
    /// The last N days, rolling…
    #[serde(default)]
    pub window_days: Option<u32>,
    /// …or fixed periods that reset.
    #[serde(default)]
    pub period: Option<PeriodSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    pub id: ConfigCode,
    /// The counter's value from which this level holds.
    pub from: Dec,
}

/// A ladder of levels (statuses) driven by a counter: upgrade from the next receipt,
/// downgrade when the counter falls (old receipts leave the window, a period resets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub id: ConfigCode,
    pub counter: ConfigCode,
    pub levels: Vec<LevelSpec>,
}

// ---- segments -----------------------------------------------------------------------

/// A named group of customers, defined by a rule: a custom condition over the customer
/// (profile, tier, counters, balances, card series). Campaigns target segments by id;
/// membership is decided at each receipt, so it is always current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    pub id: ConfigCode,
    #[serde(default)]
    pub name: Option<String>,
    /// CEL over `customer` (and `receipt`, `store`), e.g.
    /// `customer.profile['city'] == 'Riga' && customer.counters['count90'] >= 5`.
    pub condition: String,
}

// ---- webhooks -----------------------------------------------------------------------

/// Where events are posted for an integrator (a CRM, a data warehouse): a URL and the
/// kinds of events it wants. Its signing secret is not here (a program file is stored
/// and exported in the clear): staff set it through the admin API or the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub id: ConfigCode,
    pub url: String,
    /// Event kinds, e.g. `customer.registered`.
    pub events: Vec<String>,
    /// `true` stops new events for it; what was queued is still delivered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

// ---- messages -----------------------------------------------------------------------

/// How e-mail leaves: the SMTP server and the sender. The password of `username` is
/// set in the console or the admin API (sealed), never here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSpec {
    pub host: String,
    /// Default: 587 with `starttls`, 465 with `tls`, 25 with `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    /// `Shop <news@shop.example>` or an address alone.
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A certificate authority (PEM) the server's certificate may be signed by, trusted
    /// besides the system's: a closed network's own. A CA's certificate is public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
    /// At most this many mailing e-mails a minute (the server's or the provider's
    /// limit); none: as fast as the worker sends. Messages sent by events are not held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<u32>,
    /// At most this many messages a customer gets on the channel within some days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_limit: Option<CustomerLimit>,
}

/// At most `count` messages to one customer on a channel within `days` days: a
/// marketing message beyond it is withheld; a transactional one is sent, and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerLimit {
    pub count: u32,
    pub days: u32,
}

impl CustomerLimit {
    /// 1 to 1 000 messages within 1 to 365 days.
    pub fn valid(self) -> bool {
        (1..=1000).contains(&self.count) && (1..=365).contains(&self.days)
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: a relay on the same host or network only.
    None,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }
}

/// A gateway reached over HTTP (`[sms]`, `[viber]`, `[whatsapp]`), described so that any
/// provider fits: where to send, the request body as a template over `to`, `text` and
/// `key`, and how success reads. The value of `auth_header` (an API key) is set in the
/// console or the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySpec {
    pub url: String,
    /// `POST` (default) or `PUT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Default `application/json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// E.g. `{"to": {{ to | tojson }}, "text": {{ text | tojson }}}`.
    pub body: String,
    /// The header the gateway's key goes in, e.g. `Authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_header: Option<String>,
    /// Sent when the answer is 2xx and, if given, its body contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_contains: Option<String>,
    /// At most this many mailing texts a minute; none: as fast as the worker sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<u32>,
    /// At most this many messages a customer gets on the channel within some days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_limit: Option<CustomerLimit>,
}

/// The program's Telegram bot: customers connect their chat by starting it with their
/// link (`https://t.me/{bot}?start=…`); messages go through the Bot API. The bot's
/// token is set in the console or the admin API (sealed), never here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSpec {
    /// The bot's username, without `@` (`ShopBot`).
    pub bot: String,
    /// The Bot API's address; default `https://api.telegram.org` (a local Bot API
    /// server, or a test's, otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// At most this many marketing messages a minute; none: as fast as the worker sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<u32>,
    /// At most this many messages a customer gets on the channel within some days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_limit: Option<CustomerLimit>,
}

impl TelegramSpec {
    /// The Bot API's address, without a trailing `/`.
    pub fn api(&self) -> &str {
        self.api_url.as_deref().unwrap_or("https://api.telegram.org").trim_end_matches('/')
    }
}

/// The customer portal: whether people may join the program from it, and the card a
/// new member gets. Without `[portal]` people may join and get no card (the till finds
/// them by phone or by the code the portal shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSpec {
    /// Whether someone whose phone is no member's may join from the portal (default
    /// `true`); `false`: only members sign in.
    #[serde(default = "portal_join")]
    pub join: bool,
    /// The loyalty card series a member who joins gets a virtual card of (bound to
    /// their phone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_series: Option<ConfigCode>,
    /// The greeting the card page and the sign-in page show, by language (`en`, `ru`,
    /// `lv`, `et`): a title and a paragraph.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, PortalText>,
    /// Profile fields members fill in on the portal's profile page, beside name,
    /// e-mail, birth date, city and language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<PortalField>,
}

/// A profile field ([`crate::profile`]) members fill in on the portal: its name, the
/// values it may have (none: free text), and its label and help by language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalField {
    pub key: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// The label (`title`) and a help line (`body`) by language.
    pub texts: BTreeMap<String, PortalText>,
}

/// Most profile fields the portal asks for.
pub const PORTAL_FIELDS: usize = 10;

fn portal_join() -> bool {
    true
}

impl Default for PortalSpec {
    fn default() -> PortalSpec {
        PortalSpec { join: true, card_series: None, texts: BTreeMap::new(), fields: Vec::new() }
    }
}

/// How long personal data is kept ([`crate::privacy`]): the retention job erases the
/// personal data of members inactive this long and empties the data of delivered
/// messages and the portal's notifications older than this. Without `[retention]`
/// nothing is purged but the portal's spent sign-in codes and ended sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSpec {
    /// Members with no purchase and no sign-in for this many days (and who joined
    /// before that) have their personal data erased; the ledger keeps their amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_days: Option<u32>,
    /// Messages' data (what a delivered event carried: names, addresses, codes) and
    /// portal notifications older than this many days are emptied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_days: Option<u32>,
}

/// What the portal shows of something in one language: a title (one line) and a
/// paragraph below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalText {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// An entry of the portal's rewards catalogue: a member exchanges `cost` of a points
/// `currency` for a coupon of a unique `coupon_series` (a discount, or a product free:
/// a series of 100 % on its skus), personal to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueSpec {
    pub id: ConfigCode,
    pub currency: AssetCode,
    /// What it costs, in the currency's units (`"500"`).
    pub cost: Dec,
    pub coupon_series: ConfigCode,
    /// Only members of this segment see and may take it: a segment the segments job
    /// lists, or an RFM group (`rfm:champions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// At most this many exchanges per member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer: Option<u32>,
    /// At most this many exchanges in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<u32>,
    /// Shown to nobody and taken by nobody while paused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Its title and description by language.
    pub texts: BTreeMap<String, PortalText>,
}

/// An advertising block of the portal's card page, for everyone or a segment's members,
/// between two moments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferSpec {
    pub id: ConfigCode,
    /// Shown only to members of this segment (as for [`CatalogueSpec::segment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// Where "more" leads (`https://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Its title and text by language.
    pub texts: BTreeMap<String, PortalText>,
}

impl OfferSpec {
    /// Whether it is shown at `now` (not paused, within its moments).
    pub fn shown_at(&self, now: Timestamp) -> bool {
        !self.paused && self.valid_from.is_none_or(|f| f <= now) && self.valid_until.is_none_or(|u| now < u)
    }
}

/// A message sent when an event happens: its channel and its text in each language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    pub id: ConfigCode,
    /// The event that sends it, e.g. `customer.registered`.
    pub event: String,
    pub channel: crate::messages::Channel,
    /// Sent without marketing consent; only what the law allows as such.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transactional: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// `points.expiring`: how many days before the points expire (default 7, 1 to 60);
    /// `customer.birthday`: before the birthday (default 0, the day itself; 0 to 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_before: Option<u32>,
    /// `points.accrued`: sent only when a receipt accrued at least this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<Dec>,
    /// `points.redeemed`: sent only when the balance left is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_below: Option<Dec>,
    /// `tier.changed`: `up` or `down` only (default both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<crate::messages::Direction>,
    /// By language (`en`, `ru`, `lv`, `et`).
    pub texts: std::collections::BTreeMap<String, crate::messages::TextSpec>,
}

// ---- coupons ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    /// One shared promo code, printed in media.
    Promo,
    /// Generated codes, unique and unguessable, each with its own uses.
    Unique,
}

/// A series of coupons: what they give, on which goods, how often, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponSeriesSpec {
    pub id: ConfigCode,
    pub kind: CouponKind,
    #[serde(default)]
    pub name: Option<String>,
    /// Promo: the code customers type (case-insensitive). Default: the series id.
    #[serde(default)]
    pub code: Option<String>,
    /// Percent off the allowed lines… (neither, when the series only activates the
    /// campaigns that name it in their `coupon_series`)
    #[serde(default)]
    pub percent: Option<Dec>,
    /// …or an amount off them (nominal).
    #[serde(default)]
    pub amount: Option<Dec>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub exclude_skus: Vec<String>,
    /// At most this share of the receipt (after other discounts), 0–1.
    #[serde(default)]
    pub max_share: Option<Dec>,
    /// Uses per customer (the coupon needs an identified customer then).
    #[serde(default)]
    pub uses_per_customer: Option<u32>,
    /// Uses of one code in all (unique coupons: default 1).
    #[serde(default)]
    pub uses_per_code: Option<u32>,
    /// Uses of all the series' codes together, over all customers.
    #[serde(default)]
    pub uses_total: Option<u32>,
    /// A percent coupon: round each line's part on its own instead of the total once.
    #[serde(default)]
    pub round_per_line: bool,
    #[serde(default)]
    pub valid_from: Option<Timestamp>,
    #[serde(default)]
    pub valid_until: Option<Timestamp>,
    /// Unique coupons issued to a customer are valid this many days from issue.
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// Only for identified customers.
    #[serde(default)]
    pub customers_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrencyKind {
    /// Loyalty points ("bonuses"): earned and spent, may carry activation and lifetime.
    Points,
    /// Money-like balances: gift card value, e-wallet, internal credit, store currency.
    Money,
    /// Counted things: visits, stamps.
    Counter,
}

impl CurrencyKind {
    pub fn name(self) -> &'static str {
        match self {
            CurrencyKind::Points => "points",
            CurrencyKind::Money => "money",
            CurrencyKind::Counter => "counter",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [CurrencyKind::Points, CurrencyKind::Money, CurrencyKind::Counter].into_iter().find(|k| k.name() == name)
    }
}

/// A currency (ledger asset). Its scale fixes the minor unit forever, so it cannot
/// change once defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencySpec {
    pub code: AssetCode,
    pub kind: CurrencyKind,
    /// Decimal places: 2 for EUR, 0 for whole points.
    pub scale: Scale,
    #[serde(default)]
    pub name: Option<String>,
    /// How computed amounts are rounded; default: down for points and counters (never
    /// give a fraction away), half-up for money.
    #[serde(default)]
    pub rounding: Option<Rounding>,
    /// Store-money value of one unit when it pays a receipt (`"0.10"` per point).
    /// Money currencies default to 1.
    #[serde(default)]
    pub value: Option<Dec>,
    /// The store currency `value` is counted in. A money currency defaults to itself
    /// when stores take it, else to the one currency every store takes; points without
    /// it are worth `value` of any store's money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominated_in: Option<AssetCode>,
    /// What one unit of `denominated_in` is worth in another store currency
    /// (`RUB = "98.50"`). In a store taking a currency with no rate here, this currency
    /// neither pays nor earns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rates: BTreeMap<AssetCode, Dec>,
    /// Present when the currency may pay receipts.
    #[serde(default)]
    pub redeem: Option<RedeemSpec>,
    /// Accrued units become spendable this many days after the purchase.
    #[serde(default)]
    pub activation_days: Option<u32>,
    /// When accrued units expire.
    #[serde(default)]
    pub lifetime: Option<LifetimeSpec>,
    /// All units burn when the customer makes no purchase for this many days.
    #[serde(default)]
    pub inactivity_days: Option<u32>,
    /// "Every 10 points become 1.00 on the wallet".
    #[serde(default)]
    pub conversion: Option<ConversionSpec>,
}

impl CurrencySpec {
    /// A currency with no rules: it neither pays nor expires.
    pub fn new(code: AssetCode, kind: CurrencyKind, scale: Scale) -> Self {
        CurrencySpec {
            code,
            kind,
            scale,
            name: None,
            rounding: None,
            value: None,
            denominated_in: None,
            rates: BTreeMap::new(),
            redeem: None,
            activation_days: None,
            lifetime: None,
            inactivity_days: None,
            conversion: None,
        }
    }

    pub fn rounding(&self) -> Rounding {
        self.rounding.unwrap_or(match self.kind {
            CurrencyKind::Points | CurrencyKind::Counter => Rounding::Down,
            CurrencyKind::Money => Rounding::HalfUp,
        })
    }

    /// The spec with defaults made explicit, so a stored spec and a file spec that mean
    /// the same thing compare equal.
    pub fn normalized(&self) -> Self {
        CurrencySpec { rounding: Some(self.rounding()), ..self.clone() }
    }
}
