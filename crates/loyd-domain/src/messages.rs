//! Messages to customers: which event sends which message on which channel, its text in
//! each language, the variables a text may use, and whom it may reach. A text is a
//! template (minijinja: `{{ customer.name }}`, `{% if %}`, filters), checked when the
//! program is applied — a variable not in [`VARIABLES`] is refused there, not found in
//! a customer's inbox — and rendered at sending time with what is true then.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::events::EventKind;
use crate::said::{self, Said};

/// The languages a text may be written in; a customer's is their `language` profile
/// field.
pub const LANGUAGES: [&str; 4] = ["en", "ru", "lv", "et"];

/// What every text may read. `customer.*` is the customer the event is about, as they
/// are when the message is sent; `unsubscribe_url` stops this channel's marketing for
/// them; `telegram_url` connects their Telegram to the program's bot (empty when the
/// program has none); `card.number` is their loyalty card's (empty without one).
/// Besides, `balances.<currency>` for each currency of the program ([`variables_of`]).
pub const VARIABLES: [&str; 8] =
    ["customer.id", "customer.name", "customer.email", "customer.phone", "customer.language", "unsubscribe_url", "telegram_url", "card.number"];

/// The figures an event of `kind` brings to its messages: the name they are read under
/// and the fields of the event's data (`{{ points.amount }}`). Every amount is a decimal
/// string in its currency's units, every day `YYYY-MM-DD`.
pub fn event_variables(kind: EventKind) -> Option<(&'static str, &'static [&'static str])> {
    Some(match kind {
        EventKind::PointsExpiring => ("points", &["amount", "currency", "expires_on"]),
        EventKind::PointsAccrued | EventKind::PointsRedeemed => ("points", &["amount", "currency", "balance"]),
        EventKind::CustomerBirthday => ("birthday", &["date", "days_before"]),
        EventKind::TierChanged => ("tier", &["ladder", "from", "to", "direction"]),
        EventKind::CouponIssued => ("coupon", &["code", "series", "valid_until"]),
        EventKind::GiftDue => ("gift", &["gift", "campaign"]),
        EventKind::GiftCardSold => ("gift_card", &["number", "pin", "amount", "currency", "valid_until", "name", "greeting"]),
        EventKind::CrmTaskDue => ("task", &["kind", "body", "due_at", "customer", "assignee", "url"]),
        EventKind::PortalCode => ("code", &["code", "minutes"]),
        EventKind::CustomerRegistered | EventKind::WebhookTest | EventKind::Mailing => return None,
    })
}

/// What a text of a message sent for a receipt's event may read of the store it was
/// committed at (empty when time, not a receipt, raised it: a tier fallen).
pub const STORE_VARIABLES: [&str; 2] = ["store.id", "store.name"];

/// What a text of a message sent for `kind` may read: [`VARIABLES`], the customer's
/// balance in each of `currencies` (`balances.bonus`: what is available, a decimal
/// string) and the event's own ([`event_variables`]: `points.amount` …).
/// A gift card certificate (to an address the buyer gave) and a task due (to a staff
/// member) go to no customer: they read their own figures only.
pub fn variables_of(kind: Option<EventKind>, currencies: &[String]) -> Vec<String> {
    let own = kind.and_then(event_variables).map(|(name, fields)| fields.iter().map(move |f| format!("{name}.{f}")));
    let to_customer = !kind.is_some_and(EventKind::to_no_customer);
    let common = VARIABLES.iter().filter(|_| to_customer).map(|v| (*v).to_owned());
    let balances = currencies.iter().filter(|_| to_customer).map(|c| format!("balances.{c}"));
    let store = STORE_VARIABLES.iter().filter(|_| kind.is_some_and(|k| EventKind::OF_RECEIPTS.contains(&k))).map(|v| (*v).to_owned());
    common.chain(balances).chain(store).chain(own.into_iter().flatten()).collect()
}

/// The variables a text reads, by their first name (`card`, `balances`, `store`): what
/// is costly to look up is looked up only for the texts that show it. Each template is
/// parsed once.
pub fn reads(text: &TextSpec) -> std::collections::HashSet<String> {
    let env = environment();
    [Some(&text.subject), Some(&text.body), text.html.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|src| env.template_from_str(src).ok().map(|t| t.undeclared_variables(false)))
        .flatten()
        .collect()
}

/// The template variables of an event's message: its `data` fields under the event's
/// name ([`event_variables`]); a field the data lacks is left out (a coupon without an
/// end has no `valid_until`).
pub fn event_context(kind: EventKind, data: &serde_json::Value) -> Option<(&'static str, serde_json::Value)> {
    let (name, fields) = event_variables(kind)?;
    let own: serde_json::Map<String, serde_json::Value> =
        fields.iter().filter_map(|f| data.get(*f).filter(|v| !v.is_null()).map(|v| ((*f).to_owned(), v.clone()))).collect();
    Some((name, own.into()))
}

/// A tier change's way: to a higher level or a lower one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// Which of its event's occurrences a message is sent for (all, unless it says).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct When {
    /// `points.accrued`: when the receipt accrued at least this many.
    pub min_amount: Option<rust_decimal::Decimal>,
    /// `points.redeemed`: when the balance left is below this (a "balance low" notice).
    pub balance_below: Option<rust_decimal::Decimal>,
    /// `tier.changed`: only up, or only down.
    pub direction: Option<Direction>,
}

/// A decimal field of an event's data (amounts are decimal strings).
fn decimal_of(data: &serde_json::Value, field: &str) -> Option<rust_decimal::Decimal> {
    data.get(field)?.as_str()?.parse().ok()
}

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    /// A text message through the HTTP gateway of the program's `[sms]`.
    Sms,
    /// A Viber message through the HTTP gateway of the program's `[viber]`, to the
    /// customer's phone number.
    Viber,
    /// A WhatsApp message through the HTTP gateway of the program's `[whatsapp]`, to
    /// the customer's phone number.
    Whatsapp,
    /// A message from the program's bot (`[telegram]`, the Bot API) to the chat the
    /// customer connected by starting the bot with their link.
    Telegram,
    /// A notification kept for the customer and shown when they sign in to the portal:
    /// nothing leaves the server.
    Portal,
}

impl Channel {
    pub const ALL: [Channel; 6] = [Channel::Email, Channel::Sms, Channel::Viber, Channel::Whatsapp, Channel::Telegram, Channel::Portal];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Viber => "viber",
            Channel::Whatsapp => "whatsapp",
            Channel::Telegram => "telegram",
            Channel::Portal => "portal",
        }
    }

    /// The channel `name` names (`email`, `sms`, …).
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The consent (`crate::access::CHANNELS`) a marketing message on it needs; the
    /// portal needs none (its notifications wait until the customer signs in), though
    /// an opted-out customer gets no marketing there either.
    pub fn consent(self) -> Option<&'static str> {
        match self {
            Channel::Portal => None,
            other => Some(other.name()),
        }
    }

    /// Whether it reaches the customer at their phone number (SMS and the messengers
    /// reached through a gateway).
    pub fn by_phone(self) -> bool {
        matches!(self, Channel::Sms | Channel::Viber | Channel::Whatsapp)
    }

    /// Whether it can reach an address someone gave for one message (a gift card
    /// certificate's recipient, a staff member): e-mail and the phone channels.
    pub fn to_any_address(self) -> bool {
        self == Channel::Email || self.by_phone()
    }
}

/// What a gateway's request body (SMS, Viber, WhatsApp) may read: the number
/// (`+37120000000`), the text and the delivery's idempotency key.
pub const GATEWAY_VARIABLES: [&str; 3] = ["to", "text", "key"];

/// Checks a gateway body template: it parses and reads only [`GATEWAY_VARIABLES`].
pub fn check_gateway_template(src: &str) -> Result<(), Said> {
    check_reading(src, &GATEWAY_VARIABLES)
}

/// One language's text of a message, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSpec {
    /// An e-mail's subject (one line); an SMS has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// The plain text; the HTML part is made from it unless `html` is given.
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A message of the program as compiled: checked texts by language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub event: EventKind,
    pub channel: Channel,
    /// Sent without marketing consent (a receipt, a gift card bought): only what the
    /// law allows as such. An opted-out customer still gets nothing.
    pub transactional: bool,
    pub texts: BTreeMap<String, TextSpec>,
    pub paused: bool,
    /// Points expiring, a birthday: how many days ahead the notice goes.
    pub days_before: u32,
    pub when: When,
}

impl Message {
    pub fn wants(&self, kind: EventKind) -> bool {
        !self.paused && self.event == kind
    }

    /// Whether it is sent for this occurrence of its event, given the event's `data`:
    /// a birthday notice of its own `days_before`, at least `min_amount` accrued, a
    /// balance left below `balance_below`, a tier change the `direction` it names.
    pub fn accepts(&self, data: &serde_json::Value) -> bool {
        let w = &self.when;
        let days = self.event != EventKind::CustomerBirthday || data.get("days_before").and_then(serde_json::Value::as_u64) == Some(u64::from(self.days_before));
        let amount = w.min_amount.is_none_or(|min| decimal_of(data, "amount").is_some_and(|a| a >= min));
        let balance = w.balance_below.is_none_or(|below| decimal_of(data, "balance").is_some_and(|b| b < below));
        let direction = w.direction.is_none_or(|d| data.get("direction").and_then(serde_json::Value::as_str) == Some(d.name()));
        days && amount && balance && direction
    }

    /// The text for a customer of `language` ([`text_for`]).
    pub fn text_for(&self, language: Option<&str>) -> Option<(&str, &TextSpec)> {
        text_for(&self.texts, language)
    }
}

/// Of `texts` by language (a message's, or what the portal shows), the one for a
/// customer of `language`: theirs, else English, else the first written; with the
/// language it is in.
pub fn text_for<'a, T>(texts: &'a BTreeMap<String, T>, language: Option<&str>) -> Option<(&'a str, &'a T)> {
    language
        .and_then(|l| texts.get_key_value(l))
        .or_else(|| texts.get_key_value("en"))
        .or_else(|| texts.iter().next())
        .map(|(l, t)| (l.as_str(), t))
}

/// Why a message is not sent to a customer (final: it is not retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// They opted out of all marketing.
    OptedOut,
    /// No consent for the channel, for a message that needs it.
    NoConsent,
    /// No address on the channel.
    NoAddress,
}

impl Withheld {
    pub fn reason(self) -> &'static str {
        match self {
            Withheld::OptedOut => "the customer opted out of all messages",
            Withheld::NoConsent => "the customer has not consented to this channel",
            Withheld::NoAddress => "the customer has no address on this channel",
        }
    }
}

/// Whether a message may go to a customer now: `opted_out` (all marketing),
/// `consented` (this channel), `address` (theirs on it). An opted-out customer gets
/// nothing at all, transactional or not.
pub fn may_send(transactional: bool, opted_out: bool, consented: bool, address: Option<&str>) -> Result<(), Withheld> {
    if opted_out {
        return Err(Withheld::OptedOut);
    }
    if !transactional && !consented {
        return Err(Withheld::NoConsent);
    }
    if address.is_none_or(|a| a.trim().is_empty()) {
        return Err(Withheld::NoAddress);
    }
    Ok(())
}

/// Whether `from` is a sender: an address, or a display name and an address in angle
/// brackets (`Shop <news@shop.example>`).
pub fn is_sender(from: &str) -> bool {
    if from.chars().any(char::is_control) {
        return false;
    }
    let address = match from.trim().strip_suffix('>').and_then(|s| s.rsplit_once('<')) {
        Some((name, address)) => {
            if name.contains(['<', '>']) {
                return false;
            }
            address
        }
        None => from,
    };
    crate::text::normalize_email(address).is_some()
}

/// What a text's `track` filter makes of a link: `{{ "https://shop.example/sale" | track }}`
/// is the link through this server, which counts the click and sends the customer on.
pub type Tracker = std::sync::Arc<dyn Fn(&str) -> String + Send + Sync>;

fn environment() -> Environment<'static> {
    environment_tracking(None)
}

/// The templates' environment; `track` leaves a link as it is unless a tracker is given.
fn environment_tracking(tracker: Option<Tracker>) -> Environment<'static> {
    let mut env = Environment::new();
    // A missing value is an error, except where a text asks whether it is there.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.add_filter("track", move |url: String| match &tracker {
        Some(track) => track(&url),
        None => url,
    });
    env
}

/// Checks a template of a message sent for `kind` by a program of `currencies`: it
/// parses, and reads only what [`variables_of`] allows.
pub fn check_template(src: &str, kind: Option<EventKind>, currencies: &[String]) -> Result<(), Said> {
    check_reading(src, &variables_of(kind, currencies))
}

/// Checks the texts of a message on `channel` sent for `kind` (`None`: a mailing, not
/// an event): at least one, in known languages, an e-mail's subject one line and
/// there, every template checked ([`check_template`]). Each problem with the field it
/// is in (`texts.lv.subject`).
pub fn check_texts(texts: &BTreeMap<String, TextSpec>, channel: Channel, kind: Option<EventKind>, currencies: &[String]) -> Vec<(String, Said)> {
    let mut problems = Vec::new();
    if texts.is_empty() {
        problems.push(("texts".to_owned(), said::message_no_text(LANGUAGES.join(", "))));
    }
    for (lang, t) in texts {
        if !LANGUAGES.contains(&lang.as_str()) {
            problems.push((format!("texts.{lang}"), said::message_language(lang, LANGUAGES.join(", "))));
        }
        if t.subject.contains(['\n', '\r']) {
            problems.push((format!("texts.{lang}.subject"), said::message_subject_line()));
        }
        if channel == Channel::Email && t.subject.trim().is_empty() {
            problems.push((format!("texts.{lang}.subject"), said::message_subject_needed()));
        }
        for (field, src) in [("subject", Some(&t.subject)), ("body", Some(&t.body)), ("html", t.html.as_ref())] {
            if let Some(src) = src
                && let Err(why) = check_template(src, kind, currencies)
            {
                problems.push((format!("texts.{lang}.{field}"), why));
            }
        }
    }
    problems
}

fn check_reading<S: AsRef<str>>(src: &str, variables: &[S]) -> Result<(), Said> {
    let variables: Vec<&str> = variables.iter().map(AsRef::as_ref).collect();
    let env = environment();
    let t = env.template_from_str(src).map_err(|e| said::template_invalid(e.to_string()))?;
    let mut unknown: Vec<String> = t.undeclared_variables(true).into_iter().filter(|v| !variables.contains(&v.as_str())).collect();
    unknown.sort();
    match unknown.first() {
        Some(v) => Err(said::template_variable(v, variables.join(", "))),
        None => Ok(()),
    }
}

/// Renders a checked template with `context` (`{"customer": {...}, "unsubscribe_url": …}`).
pub fn render(src: &str, context: &serde_json::Value) -> Result<String, String> {
    render_tracking(src, context, None)
}

/// As [`render`], links passed through `track` made by `tracker`.
pub fn render_tracking(src: &str, context: &serde_json::Value, tracker: Option<Tracker>) -> Result<String, String> {
    let env = environment_tracking(tracker);
    let t = env.template_from_str(src).map_err(|e| e.to_string())?;
    t.render(minijinja::Value::from_serialize(context)).map_err(|e| e.to_string())
}

/// A text rendered for one recipient: its subject, plain body and HTML part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    pub html: String,
}

/// Renders one language's text with `context`: the subject, the body, and the HTML
/// part — its own template, or the body's paragraphs ([`html_of`]).
pub fn render_text(text: &TextSpec, context: &serde_json::Value, tracker: Option<Tracker>) -> Result<Rendered, String> {
    let render = |src: &str| render_tracking(src, context, tracker.clone());
    let body = render(&text.body)?;
    let html = match &text.html {
        Some(h) => render(h)?,
        None => html_of(&body),
    };
    Ok(Rendered { subject: render(&text.subject)?, body, html })
}

/// The variables of a message to a customer: `customer` (their fields as JSON),
/// `unsubscribe_url`, `telegram_url`, and the figures of event `kind` from its `data`
/// ([`event_context`]).
pub fn customer_context(customer: serde_json::Value, unsubscribe_url: &str, telegram_url: &str, kind: EventKind, data: &serde_json::Value) -> serde_json::Value {
    let mut context = serde_json::json!({ "customer": customer, "unsubscribe_url": unsubscribe_url, "telegram_url": telegram_url });
    if let Some((name, own)) = event_context(kind, data) {
        context[name] = own;
    }
    if EventKind::OF_RECEIPTS.contains(&kind) {
        context["store"] = serde_json::json!({ "id": data["store"].as_str().unwrap_or_default(), "name": "" });
    }
    context
}

/// Figures an event of `kind` could bring, to preview a text with: `currency` for its
/// amounts, `today` for its days.
pub fn sample_data(kind: EventKind, currency: &str, today: jiff::civil::Date) -> serde_json::Value {
    let day = |days: i64| today.checked_add(jiff::Span::new().days(days)).unwrap_or(today).to_string();
    match kind {
        EventKind::PointsExpiring => serde_json::json!({"amount": "25", "currency": currency, "expires_on": day(7)}),
        EventKind::PointsAccrued => serde_json::json!({"amount": "65", "currency": currency, "balance": "320"}),
        EventKind::PointsRedeemed => serde_json::json!({"amount": "300", "currency": currency, "balance": "20"}),
        EventKind::CustomerBirthday => serde_json::json!({"date": day(3), "days_before": 3}),
        EventKind::TierChanged => serde_json::json!({"ladder": "status", "from": "base", "to": "silver", "direction": "up"}),
        EventKind::CouponIssued => serde_json::json!({"code": "NEXT-7Q2M-KX4P", "series": "NEXT", "valid_until": format!("{}T23:59:59Z", day(30))}),
        EventKind::GiftDue => serde_json::json!({"gift": "Tote bag", "campaign": "tote"}),
        EventKind::GiftCardSold => serde_json::json!({
            "number": "6000000000019", "pin": "4821", "amount": "25.00", "currency": currency, "valid_until": day(365),
            "name": "Līga", "greeting": "Happy birthday!"
        }),
        EventKind::CrmTaskDue => serde_json::json!({
            "kind": "task", "body": "Call back about the order", "due_at": format!("{today}T09:00:00Z"), "customer": "c_12", "assignee": "sue",
            "url": "https://loyalty.shop.example/admin/customers/c_12"
        }),
        EventKind::PortalCode => serde_json::json!({"code": "482913", "minutes": 10}),
        EventKind::CustomerRegistered | EventKind::WebhookTest | EventKind::Mailing => serde_json::json!({}),
    }
}

/// The HTML part made from a plain text: escaped, paragraphs at blank lines, line
/// breaks kept, links left as text.
pub fn html_of(text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;");
    let paragraphs: Vec<String> = escaped.split("\n\n").map(|p| format!("<p>{}</p>", p.trim().replace('\n', "<br>\n"))).collect();
    format!("<!doctype html>\n<html><body>\n{}\n</body></html>\n", paragraphs.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_may_read_only_the_known_variables_and_must_parse() {
        let welcome = Some(EventKind::CustomerRegistered);
        assert!(check_template("Hello {{ customer.name }}, {{ unsubscribe_url }}", welcome, &[]).is_ok());
        assert!(check_template("{% if customer.name %}Hi {{ customer.name | upper }}{% endif %}", welcome, &[]).is_ok());
        assert_eq!(check_template("Your balance: {{ customer.balance }}", welcome, &[]).unwrap_err().key, "template_variable");
        assert_eq!(check_template("{{ password }}", welcome, &[]).unwrap_err().key, "template_variable");
        assert_eq!(check_template("Hello {{ customer.name ", welcome, &[]).unwrap_err().key, "template_invalid");
        // An event's own figures only in its messages.
        assert!(check_template("{{ points.amount }} expire on {{ points.expires_on }}", Some(EventKind::PointsExpiring), &[]).is_ok());
        assert_eq!(check_template("{{ points.amount }}", welcome, &[]).unwrap_err().key, "template_variable");
    }

    #[test]
    fn a_message_is_sent_only_for_the_occurrences_its_conditions_name() {
        let message = |event, days_before, when| Message {
            id: "m".into(),
            event,
            channel: Channel::Sms,
            transactional: false,
            texts: BTreeMap::new(),
            paused: false,
            days_before,
            when,
        };
        let d = rust_decimal::Decimal::from;
        let big = message(EventKind::PointsAccrued, 0, When { min_amount: Some(d(100)), ..When::default() });
        assert!(big.accepts(&serde_json::json!({"amount": "100", "currency": "PTS"})));
        assert!(!big.accepts(&serde_json::json!({"amount": "99.99"})));
        assert!(!big.accepts(&serde_json::json!({})), "no amount: not sent");
        let low = message(EventKind::PointsRedeemed, 0, When { balance_below: Some(d(50)), ..When::default() });
        assert!(low.accepts(&serde_json::json!({"amount": "10", "balance": "49.50"})));
        assert!(!low.accepts(&serde_json::json!({"amount": "10", "balance": "50"})));
        let up = message(EventKind::TierChanged, 0, When { direction: Some(Direction::Up), ..When::default() });
        assert!(up.accepts(&serde_json::json!({"direction": "up"})));
        assert!(!up.accepts(&serde_json::json!({"direction": "down"})));
        assert!(message(EventKind::TierChanged, 0, When::default()).accepts(&serde_json::json!({"direction": "down"})));
        let week = message(EventKind::CustomerBirthday, 7, When::default());
        assert!(week.accepts(&serde_json::json!({"days_before": 7})));
        assert!(!week.accepts(&serde_json::json!({"days_before": 0})), "the notice on the day is another message's");
    }

    #[test]
    fn an_events_figures_are_read_under_its_name_and_only_in_its_messages() {
        assert!(check_template("{{ coupon.code }} until {{ coupon.valid_until }}", Some(EventKind::CouponIssued), &[]).is_ok());
        assert_eq!(check_template("{{ coupon.code }}", Some(EventKind::PointsAccrued), &[]).unwrap_err().key, "template_variable");
        assert!(check_template("{{ tier.from }} → {{ tier.to }}", Some(EventKind::TierChanged), &[]).is_ok());
        let data = serde_json::json!({"customer": "C-1", "code": "X7", "series": "welcome", "valid_until": null});
        let (name, own) = event_context(EventKind::CouponIssued, &data).unwrap();
        assert_eq!(name, "coupon");
        assert_eq!(own, serde_json::json!({"code": "X7", "series": "welcome"}), "the customer is not a coupon's; a missing end is left out");
        assert_eq!(event_context(EventKind::CustomerRegistered, &data), None);
        // A certificate's text reads the card, not a customer (it goes to whom the buyer named).
        assert!(check_template("{{ gift_card.number }} {{ gift_card.pin }}", Some(EventKind::GiftCardSold), &[]).is_ok());
        assert_eq!(check_template("{{ customer.name }}", Some(EventKind::GiftCardSold), &[]).unwrap_err().key, "template_variable");
    }

    #[test]
    fn rendering_fills_the_customer_and_refuses_what_is_missing() {
        let ctx = serde_json::json!({"customer": {"name": "Anna"}, "unsubscribe_url": "https://x/u/1"});
        assert_eq!(render("Hi {{ customer.name }} ({{ unsubscribe_url }})", &ctx).unwrap(), "Hi Anna (https://x/u/1)");
        assert!(render("Hi {{ customer.email }}", &ctx).is_err(), "strict: nothing silently empty");
        assert_eq!(render("Hi{% if customer.email %} {{ customer.email }}{% endif %}", &ctx).unwrap(), "Hi");
    }

    #[test]
    fn an_opted_out_customer_gets_nothing_and_marketing_needs_consent_and_an_address() {
        assert_eq!(may_send(true, true, true, Some("a@b.lv")), Err(Withheld::OptedOut));
        assert_eq!(may_send(false, false, false, Some("a@b.lv")), Err(Withheld::NoConsent));
        assert_eq!(may_send(true, false, false, Some("a@b.lv")), Ok(()), "transactional: no marketing consent needed");
        assert_eq!(may_send(false, false, true, None), Err(Withheld::NoAddress));
        assert_eq!(may_send(false, false, true, Some("a@b.lv")), Ok(()));
    }

    #[test]
    fn the_customers_language_is_chosen_then_english_then_the_first_written() {
        let t = |s: &str| TextSpec { subject: s.into(), body: s.into(), html: None };
        let m = Message {
            id: "w".into(),
            event: EventKind::CustomerRegistered,
            channel: Channel::Email,
            transactional: false,
            texts: [("lv".to_owned(), t("Sveiki")), ("ru".to_owned(), t("Привет"))].into(),
            paused: false,
            days_before: 0,
            when: When::default(),
        };
        assert_eq!(m.text_for(Some("ru")).unwrap().0, "ru");
        assert_eq!(m.text_for(Some("et")).unwrap().0, "lv", "no Estonian, no English: the first written");
        assert_eq!(m.text_for(None).unwrap().0, "lv");
    }

    #[test]
    fn a_gateway_body_reads_the_number_the_text_and_the_key_and_quotes_them_as_json() {
        assert!(check_gateway_template(r#"{"to": {{ to | tojson }}, "text": {{ text | tojson }}, "id": "{{ key }}"}"#).is_ok());
        assert_eq!(check_gateway_template("{{ customer.name }}").unwrap_err().key, "template_variable");
        let body = render(r#"{"text": {{ text | tojson }}}"#, &serde_json::json!({"text": "Say \"hi\"\nnow"})).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["text"], "Say \"hi\"\nnow");
    }

    #[test]
    fn a_sender_is_an_address_with_or_without_a_display_name() {
        assert!(is_sender("news@shop.example"));
        assert!(is_sender("Shop Rīga <news@shop.example>"));
        assert!(!is_sender("Shop"));
        assert!(!is_sender("Shop <news@>"));
        assert!(!is_sender("Shop <a@b.lv>\r\nBcc: x@y.lv"));
    }

    #[test]
    fn the_html_part_escapes_the_text_and_keeps_its_paragraphs() {
        let html = html_of("Hello <b>Anna</b> & co\nline two\n\nNext");
        assert!(html.contains("<p>Hello &lt;b&gt;Anna&lt;/b&gt; &amp; co<br>\nline two</p>\n<p>Next</p>"), "{html}");
    }
}
