//! Mailings: one message to many customers, written by a marketer rather than sent by
//! an event. A mailing has an audience (everyone, a segment or RFM group as the
//! segments job listed it, or an uploaded list), a channel, one to four variants of
//! its text, and rules: when it goes, how much of the audience tries the variants
//! first (an A/B split) and by what the winner is chosen for the rest, how long
//! purchases count as its result, and the quiet hours in which nothing is sent.
//!
//! Everything here is decided the same way on every server and every restart: which
//! variant a customer gets is a function of the mailing and the customer
//! ([`bucket`], [`variant_for`]), and the winner a function of the counts
//! ([`winner`]).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::messages::{Channel, TextSpec, check_texts};
use crate::said::{self, Said};

/// At most this many variants of a mailing.
pub const MAX_VARIANTS: usize = 4;

/// What a mailing is sent by and how, as the marketer wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailingSpec {
    /// One (no test) to four variants, each with its texts by language.
    pub variants: Vec<Variant>,
    /// Percent of the audience that tries the variants (split evenly) before the winner
    /// goes to the rest; 100 (the default) sends the variants to everyone.
    #[serde(default = "all_of_them")]
    pub test_share: u8,
    /// What makes a variant the winner.
    #[serde(default)]
    pub winner_by: WinnerBy,
    /// How long after the test is sent the winner is chosen.
    #[serde(default = "a_day")]
    pub decide_after_hours: u32,
    /// Days after a delivery during which a purchase of its customer counts for it.
    #[serde(default = "a_week")]
    pub attribution_days: u32,
    /// Hours of the customer's day in which nothing of it is sent (it waits till they
    /// end): the time zone of the store they last bought at, else `time_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// The zone of customers who never bought; UTC when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl MailingSpec {
    /// `variants` with the default rules: no test share (all of the audience gets the
    /// variants), winner by opens after 24 hours, purchases counted for 7 days, no
    /// quiet hours.
    pub fn of(variants: Vec<Variant>) -> MailingSpec {
        MailingSpec {
            variants,
            test_share: all_of_them(),
            winner_by: WinnerBy::default(),
            decide_after_hours: a_day(),
            attribution_days: a_week(),
            quiet_hours: None,
            time_zone: None,
        }
    }
}

fn all_of_them() -> u8 {
    100
}
fn a_day() -> u32 {
    24
}
fn a_week() -> u32 {
    7
}

/// One variant of a mailing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// `A`, `B`, `short`: 1 to 32 letters, digits, '-' or '_'.
    pub name: String,
    pub texts: BTreeMap<String, TextSpec>,
}

impl Variant {
    /// The text for a customer of `language` ([`crate::messages::text_for`]).
    pub fn text_for(&self, language: Option<&str>) -> Option<(&str, &TextSpec)> {
        crate::messages::text_for(&self.texts, language)
    }
}

/// What the winner of a test is chosen by: the share of its delivered messages that
/// were opened, that had a link clicked, or whose customer bought within the
/// attribution days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WinnerBy {
    #[default]
    Opens,
    Clicks,
    Purchases,
}

/// `from` to `to` in the customer's local time (`"21:00"` to `"09:00"` spans midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub from: String,
    pub to: String,
}

/// The minute of the day `HH:MM` names.
fn minute_of(hhmm: &str) -> Option<i32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

impl QuietHours {
    /// When the quiet hours around `now` end in `zone`, if `now` is in them.
    pub fn until(&self, now: Timestamp, zone: &jiff::tz::TimeZone) -> Option<Timestamp> {
        let (from, to) = (minute_of(&self.from)?, minute_of(&self.to)?);
        let local = now.to_zoned_datetime(zone.clone());
        let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
        let quiet = if from <= to { minute >= from && minute < to } else { minute >= from || minute < to };
        if !quiet || from == to {
            return None;
        }
        // The end is today's `to` if it is still ahead, else tomorrow's.
        let day = local.date();
        let end_today = day.at(i8::try_from(to / 60).ok()?, i8::try_from(to % 60).ok()?, 0, 0).to_zoned_datetime(zone.clone()).ok()?;
        let end = if minute < to { end_today } else { end_today.tomorrow().ok()? };
        Some(end.timestamp())
    }
}

/// Who a mailing goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every customer (not merged away).
    All,
    /// The members of a segment or an RFM group (`rfm:champions`) at the segments
    /// job's last pass.
    Segment(String),
    /// The customers uploaded with the mailing.
    List,
}

impl Audience {
    /// `all`, `segment:<id>` or `list`.
    pub fn parse(s: &str) -> Option<Audience> {
        match s {
            "all" => Some(Audience::All),
            "list" => Some(Audience::List),
            _ => s.strip_prefix("segment:").filter(|id| !id.is_empty() && id.len() <= 64).map(|id| Audience::Segment(id.to_owned())),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Audience::All => "all".into(),
            Audience::Segment(id) => format!("segment:{id}"),
            Audience::List => "list".into(),
        }
    }
}

/// Checks a mailing's rules and texts for `channel`; each problem with the field it
/// is in (`variants[1].texts.lv.subject`).
pub fn check(spec: &MailingSpec, channel: Channel, currencies: &[String]) -> Vec<(String, Said)> {
    let mut problems = Vec::new();
    if spec.variants.is_empty() || spec.variants.len() > MAX_VARIANTS {
        problems.push(("variants".to_owned(), said::mailing_variants(MAX_VARIANTS.to_string())));
    }
    for (i, v) in spec.variants.iter().enumerate() {
        let ok = (1..=32).contains(&v.name.len()) && v.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            problems.push((format!("variants[{i}].name"), said::mailing_variant_name(&v.name)));
        } else if spec.variants[..i].iter().any(|o| o.name == v.name) {
            problems.push((format!("variants[{i}].name"), said::mailing_variant_twice(&v.name)));
        }
        for (field, why) in check_texts(&v.texts, channel, None, currencies) {
            problems.push((format!("variants[{i}].{field}"), why));
        }
    }
    if !(1..=100).contains(&spec.test_share) {
        problems.push(("test_share".to_owned(), said::mailing_test_share()));
    }
    if !(1..=720).contains(&spec.decide_after_hours) {
        problems.push(("decide_after_hours".to_owned(), said::mailing_decide_after()));
    }
    if !(1..=90).contains(&spec.attribution_days) {
        problems.push(("attribution_days".to_owned(), said::mailing_attribution_days()));
    }
    if let Some(q) = &spec.quiet_hours {
        for (field, v) in [("from", &q.from), ("to", &q.to)] {
            if minute_of(v).is_none() {
                problems.push((format!("quiet_hours.{field}"), said::mailing_quiet_hours(v)));
            }
        }
    }
    if let Some(z) = &spec.time_zone
        && jiff::tz::TimeZone::get(z).is_err()
    {
        problems.push(("time_zone".to_owned(), said::mailing_time_zone(z)));
    }
    problems
}

/// A customer's place in a mailing's audience, 0 to 99: the same on every server and
/// every run, independent from mailing to mailing.
pub fn bucket(mailing: i64, customer: i64) -> u8 {
    // splitmix64 of the pair: well spread, no state.
    let mut z = (mailing as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (customer as u64);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % 100) as u8
}

/// The variant (index) a customer in `bucket` gets in the test of `variants` variants
/// on `test_share` percent; `None`: they are in the rest, and wait for the winner. One
/// variant is no test: everyone gets it at once.
pub fn variant_for(bucket: u8, test_share: u8, variants: usize) -> Option<usize> {
    if variants <= 1 {
        return Some(0);
    }
    (bucket < test_share).then(|| usize::from(bucket) * variants / usize::from(test_share))
}

/// Whether the mailing has a rest that waits for a winner.
pub fn has_rest(spec: &MailingSpec) -> bool {
    spec.variants.len() > 1 && spec.test_share < 100
}

/// What a variant's test gave: messages delivered, and of those opened, clicked, and
/// followed by a purchase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub delivered: i64,
    pub opened: i64,
    pub clicked: i64,
    pub purchases: i64,
}

/// The winner among `outcomes` (in variant order) by `by`: the highest share of the
/// delivered; on a tie, the first. Compared as fractions, exactly.
pub fn winner(outcomes: &[Outcome], by: WinnerBy) -> usize {
    let score = |o: &Outcome| match by {
        WinnerBy::Opens => o.opened,
        WinnerBy::Clicks => o.clicked,
        WinnerBy::Purchases => o.purchases,
    };
    let mut best = 0;
    for (i, o) in outcomes.iter().enumerate().skip(1) {
        let b = &outcomes[best];
        // score(o)/delivered(o) > score(b)/delivered(b), nothing delivered counting 0.
        let (so, sb) = (i128::from(score(o)), i128::from(score(b)));
        let (d_o, d_b) = (i128::from(o.delivered.max(1)), i128::from(b.delivered.max(1)));
        if so * d_b > sb * d_o {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(variants: &[&str], share: u8) -> MailingSpec {
        let text = TextSpec { subject: "Sale".into(), body: "Hi {{ customer.name }}: {{ \"https://shop.example\" | track }}".into(), html: None };
        MailingSpec {
            variants: variants.iter().map(|n| Variant { name: (*n).into(), texts: [("en".to_owned(), text.clone())].into() }).collect(),
            test_share: share,
            winner_by: WinnerBy::Opens,
            decide_after_hours: 24,
            attribution_days: 7,
            quiet_hours: None,
            time_zone: None,
        }
    }

    #[test]
    fn a_mailing_is_checked_field_by_field() {
        assert!(check(&spec(&["A", "B"], 20), Channel::Email, &[]).is_empty(), "{:?}", check(&spec(&["A", "B"], 20), Channel::Email, &[]));
        let fields = |s: &MailingSpec| check(s, Channel::Email, &[]).into_iter().map(|(f, _)| f).collect::<Vec<_>>();
        assert_eq!(fields(&spec(&[], 100)), ["variants"]);
        assert_eq!(fields(&spec(&["A", "A"], 100)), ["variants[1].name"]);
        assert_eq!(fields(&spec(&["A B"], 0)), ["variants[0].name", "test_share"]);
        let mut s = spec(&["A"], 100);
        s.variants[0].texts.get_mut("en").unwrap().body = "{{ customer.balance }}".into();
        s.quiet_hours = Some(QuietHours { from: "25:00".into(), to: "9:00".into() });
        s.time_zone = Some("Mars/Olympus".into());
        assert_eq!(fields(&s), ["variants[0].texts.en.body", "quiet_hours.from", "quiet_hours.to", "time_zone"]);
    }

    #[test]
    fn the_test_share_is_split_evenly_and_the_rest_waits() {
        let mut counts = [0usize; 3];
        let mut rest = 0;
        for customer in 0..30_000 {
            match variant_for(bucket(7, customer), 30, 3) {
                Some(v) => counts[v] += 1,
                None => rest += 1,
            }
        }
        // 30 % in the test, 10 % each; the rest 70 %, within sampling noise.
        for c in counts {
            assert!((2_700..3_300).contains(&c), "{counts:?}");
        }
        assert!((20_400..21_600).contains(&rest), "{rest}");
        assert_eq!(variant_for(99, 100, 4), Some(3));
        assert_eq!(variant_for(0, 100, 4), Some(0));
        assert_eq!(variant_for(55, 10, 1), Some(0), "one variant: no test, everyone");
        assert_eq!(bucket(7, 12), bucket(7, 12), "the same on every run");
    }

    #[test]
    fn the_winner_has_the_best_share_of_its_delivered_and_a_tie_goes_to_the_first() {
        let o = |delivered, opened| Outcome { delivered, opened, clicked: 0, purchases: 0 };
        assert_eq!(winner(&[o(100, 20), o(50, 11)], WinnerBy::Opens), 1, "22 % beats 20 %");
        assert_eq!(winner(&[o(100, 20), o(50, 10)], WinnerBy::Opens), 0, "a tie: the first");
        assert_eq!(winner(&[o(0, 0), o(10, 1)], WinnerBy::Opens), 1);
        assert_eq!(winner(&[o(10, 5), o(10, 1)], WinnerBy::Clicks), 0, "nobody clicked: the first");
    }

    #[test]
    fn quiet_hours_hold_a_message_till_they_end_in_the_customers_zone() {
        let q = QuietHours { from: "21:00".into(), to: "09:00".into() };
        let riga = jiff::tz::TimeZone::get("Europe/Riga").unwrap();
        // 23:30 in Riga (UTC+2 in December): quiet till 09:00 the next day.
        let late: Timestamp = "2026-12-07T21:30:00Z".parse().unwrap();
        assert_eq!(q.until(late, &riga), Some("2026-12-08T07:00:00Z".parse().unwrap()));
        // 06:00 in Riga: quiet till 09:00 the same day.
        let early: Timestamp = "2026-12-07T04:00:00Z".parse().unwrap();
        assert_eq!(q.until(early, &riga), Some("2026-12-07T07:00:00Z".parse().unwrap()));
        // 12:00 in Riga: not quiet.
        assert_eq!(q.until("2026-12-07T10:00:00Z".parse().unwrap(), &riga), None);
        let day = QuietHours { from: "13:00".into(), to: "14:00".into() };
        assert_eq!(day.until("2026-12-07T13:30:00Z".parse().unwrap(), &jiff::tz::TimeZone::UTC), Some("2026-12-07T14:00:00Z".parse().unwrap()));
    }

    #[test]
    fn an_audience_is_everyone_a_segment_or_a_list() {
        assert_eq!(Audience::parse("all"), Some(Audience::All));
        assert_eq!(Audience::parse("segment:rfm:champions"), Some(Audience::Segment("rfm:champions".into())));
        assert_eq!(Audience::parse("segment:"), None);
        assert_eq!(Audience::parse("everyone"), None);
        assert_eq!(Audience::parse("list").map(|a| a.name()), Some("list".into()));
    }
}
