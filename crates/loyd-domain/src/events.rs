//! Events and their delivery to integrators: what an event is called, which webhooks a
//! program subscribes to it, how a delivery is signed, and when a failed one is tried
//! again or given up. The store writes an event in the transaction of its cause and
//! each delivery as its own row (the outbox); this module decides, the store and the
//! sender act.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::said::{self, Said};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A customer was registered (the admin API, the console, the command line).
    #[serde(rename = "customer.registered")]
    CustomerRegistered,
    /// Staff asked for a test delivery to one webhook.
    #[serde(rename = "webhook.test")]
    WebhookTest,
    /// A customer's points of one currency expire on a day soon (the `expiry_notices`
    /// job raises it some days ahead, once per customer, currency and day).
    #[serde(rename = "points.expiring")]
    PointsExpiring,
    /// A mailing began to be sent: the one event its deliveries, a customer each, hang
    /// from (no webhook or message subscribes to it).
    #[serde(rename = "mailing")]
    Mailing,
    /// A customer's birthday is some days ahead (the `birthdays` job raises it once a
    /// year per customer and notice: `days_before`, 0 on the day).
    #[serde(rename = "customer.birthday")]
    CustomerBirthday,
    /// A committed receipt accrued points of one currency to its customer.
    #[serde(rename = "points.accrued")]
    PointsAccrued,
    /// A committed receipt spent points of one currency of its customer.
    #[serde(rename = "points.redeemed")]
    PointsRedeemed,
    /// A receipt or a return moved its customer to another level of a tier ladder.
    #[serde(rename = "tier.changed")]
    TierChanged,
    /// A committed receipt issued a coupon to its customer.
    #[serde(rename = "coupon.issued")]
    CouponIssued,
    /// A committed receipt earned its customer a gift to be handed over.
    #[serde(rename = "gift.due")]
    GiftDue,
    /// A gift card was sold as a digital certificate: its number and PIN go to the
    /// address the buyer gave (the PIN is never in a webhook's body).
    #[serde(rename = "gift_card.sold")]
    GiftCardSold,
    /// A CRM task or reminder came due: it goes to its assignee, a staff member (the
    /// `task_reminders` job raises it once per entry and due time).
    #[serde(rename = "crm.task_due")]
    CrmTaskDue,
    /// Someone asked the customer portal for a sign-in code: it goes to the phone (or
    /// e-mail) they typed, member or not yet (the code is never in a webhook's body, and
    /// is taken out of the event once its message is delivered).
    #[serde(rename = "portal.code")]
    PortalCode,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::CustomerRegistered,
        EventKind::WebhookTest,
        EventKind::PointsExpiring,
        EventKind::Mailing,
        EventKind::CustomerBirthday,
        EventKind::PointsAccrued,
        EventKind::PointsRedeemed,
        EventKind::TierChanged,
        EventKind::CouponIssued,
        EventKind::GiftDue,
        EventKind::GiftCardSold,
        EventKind::CrmTaskDue,
        EventKind::PortalCode,
    ];

    /// The kinds a committed receipt may raise (only those a webhook or message of the
    /// program wants are recorded).
    pub const OF_RECEIPTS: [EventKind; 5] =
        [EventKind::PointsAccrued, EventKind::PointsRedeemed, EventKind::TierChanged, EventKind::CouponIssued, EventKind::GiftDue];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::CustomerRegistered => "customer.registered",
            EventKind::WebhookTest => "webhook.test",
            EventKind::PointsExpiring => "points.expiring",
            EventKind::Mailing => "mailing",
            EventKind::CustomerBirthday => "customer.birthday",
            EventKind::PointsAccrued => "points.accrued",
            EventKind::PointsRedeemed => "points.redeemed",
            EventKind::TierChanged => "tier.changed",
            EventKind::CouponIssued => "coupon.issued",
            EventKind::GiftDue => "gift.due",
            EventKind::GiftCardSold => "gift_card.sold",
            EventKind::CrmTaskDue => "crm.task_due",
            EventKind::PortalCode => "portal.code",
        }
    }

    /// Whether its messages go to someone other than a customer (a certificate's
    /// recipient, a staff member, whoever asked for a sign-in code): no consent, limit or
    /// unsubscribe link applies.
    pub fn to_no_customer(self) -> bool {
        matches!(self, EventKind::GiftCardSold | EventKind::CrmTaskDue | EventKind::PortalCode)
    }

    /// Whether its messages go to an address its data names (`to.phone`, `to.email`)
    /// rather than to a customer or a staff member.
    pub fn to_address(self) -> bool {
        matches!(self, EventKind::GiftCardSold | EventKind::PortalCode)
    }

    /// The field of its data only its recipient may read: never in a webhook's body,
    /// and taken out of the stored event once a message of it is delivered.
    pub fn secret_field(self) -> Option<&'static str> {
        match self {
            EventKind::GiftCardSold => Some("pin"),
            EventKind::PortalCode => Some("code"),
            _ => None,
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The names a webhook may subscribe to (a test goes to the webhook it names, to no
    /// other; a mailing's event to its own customers).
    pub fn subscribable() -> impl Iterator<Item = &'static str> {
        EventKind::ALL.into_iter().filter(|k| !matches!(k, EventKind::WebhookTest | EventKind::Mailing)).map(EventKind::name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A webhook of the program in force: where events of the kinds it names are posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<EventKind>,
    /// A paused webhook keeps what was queued for it; it gets no new events.
    pub active: bool,
}

impl Webhook {
    pub fn wants(&self, kind: EventKind) -> bool {
        self.active && self.events.contains(&kind)
    }
}

/// Whether `url` is one a webhook may post to: `http://` or `https://`, a host, no
/// spaces, no user and password in it (those would be stored in the clear).
pub fn check_url(url: &str) -> Result<(), Said> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(|| said::webhook_url_scheme(url))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.contains('@') {
        return Err(said::webhook_url_credentials());
    }
    if host.is_empty() {
        return Err(said::webhook_url_host(url));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(said::webhook_url_spaces(url));
    }
    Ok(())
}

/// How many days before points expire their notice is raised, unless a message says.
pub const EXPIRY_NOTICE_DAYS: u32 = 7;

/// Attempts of a delivery before it is given up (dead).
pub const ATTEMPTS: u32 = 14;

/// The first wait after a failed attempt; each next one doubles, up to [`LONGEST_WAIT`].
pub const FIRST_WAIT: SignedDuration = SignedDuration::from_secs(30);
pub const LONGEST_WAIT: SignedDuration = SignedDuration::from_hours(6);

/// How long to wait before the next attempt after `attempts` failed ones; `None` when
/// the delivery is to be given up. With the defaults a receiver that is down is tried
/// for about 26 hours: 30 s, 1, 2, 4 … minutes, then every 6 hours.
pub fn retry_after(attempts: u32) -> Option<SignedDuration> {
    if attempts >= ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(20);
    let wait = FIRST_WAIT.checked_mul(1 << doublings).unwrap_or(LONGEST_WAIT);
    Some(wait.min(LONGEST_WAIT))
}

/// Whether an answer with HTTP `status` delivers: any 2xx.
pub fn delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The `Loyd-Signature` header of a delivery: `t=<unix seconds>,v1=<hex>`, the hex
/// being HMAC-SHA256 under the webhook's secret of `<unix seconds>.<body>`. A receiver
/// recomputes it and refuses an old timestamp, so a captured delivery cannot be
/// replayed later.
pub fn signature(secret: &[u8], unix_seconds: i64, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_seconds},v1={hex}")
}

/// The JSON a webhook receives: the event's id (the idempotency key of the delivery),
/// its kind, time and data.
/// The secret of its kind ([`EventKind::secret_field`]: a gift card's PIN, a sign-in
/// code) is left out: it goes to its recipient alone.
pub fn body(key: &str, kind: EventKind, at: jiff::Timestamp, data: &serde_json::Value) -> String {
    let mut data = data.clone();
    if let (Some(fields), Some(secret)) = (data.as_object_mut(), kind.secret_field()) {
        fields.remove(secret);
    }
    serde_json::json!({ "id": key, "type": kind.name(), "created_at": at.to_string(), "data": data }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_delivery_waits_twice_as_long_each_time_up_to_six_hours_then_is_given_up() {
        let waits: Vec<_> = (1..=ATTEMPTS).map(retry_after).collect();
        assert_eq!(waits[0], Some(SignedDuration::from_secs(30)));
        assert_eq!(waits[1], Some(SignedDuration::from_secs(60)));
        assert_eq!(waits[5], Some(SignedDuration::from_mins(16)));
        assert_eq!(waits[10], Some(LONGEST_WAIT));
        assert_eq!(waits[12], Some(LONGEST_WAIT));
        assert_eq!(waits[13], None);
        let total: i64 = waits.iter().flatten().map(|w| w.as_secs()).sum();
        assert!((24 * 3600..28 * 3600).contains(&total), "a receiver down for a day still gets it: {total}");
    }

    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_and_body_that_a_receiver_recomputes() {
        // HMAC-SHA256 computed independently with
        // `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac Jefe`.
        let s = signature(b"Jefe", 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(s, "t=1700000000,v1=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a");
    }

    #[test]
    fn a_webhook_never_receives_a_gift_cards_pin() {
        let data = serde_json::json!({"number": "6000000000019", "pin": "4321", "amount": "25.00"});
        let sent = body("evt_1_crm", EventKind::GiftCardSold, jiff::Timestamp::UNIX_EPOCH, &data);
        assert!(!sent.contains("4321") && !sent.contains("pin"), "{sent}");
        assert!(sent.contains("6000000000019"), "{sent}");
        let asked = serde_json::json!({"to": {"phone": "+37120000001"}, "code": "482913", "minutes": 10});
        let sent = body("evt_2_crm", EventKind::PortalCode, jiff::Timestamp::UNIX_EPOCH, &asked);
        assert!(!sent.contains("482913") && !sent.contains("\"code\""), "{sent}");
    }

    #[test]
    fn only_plain_http_and_https_urls_without_credentials_are_webhooks() {
        assert!(check_url("https://crm.example.com/hooks/loyd").is_ok());
        assert!(check_url("http://127.0.0.1:9000/x?a=1").is_ok());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("https://").is_err());
        assert!(check_url("https://user:pw@example.com/").is_err());
        assert!(check_url("https://example.com/a b").is_err());
    }

    #[test]
    fn event_kinds_read_back_from_their_names_and_a_test_is_not_subscribable() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.name()), Some(k));
        }
        assert_eq!(
            EventKind::subscribable().collect::<Vec<_>>(),
            vec!["customer.registered", "points.expiring", "customer.birthday", "points.accrued", "points.redeemed", "tier.changed", "coupon.issued", "gift.due", "gift_card.sold", "crm.task_due", "portal.code"]
        );
    }
}
