//! Segments of customers: what a customer's purchase history says about them
//! ([`Facts`]), their RFM scores and named group ([`Rfm`]), and which segments a job
//! can list members of ([`job_evaluable`]).
//!
//! RFM scores each customer with purchases 1 to 5 on recency (days since the last
//! purchase: fewer is better), frequency (purchases) and monetary value (spent), by
//! quintiles over every such customer ([`Quintiles`]): a score is 1 plus how many of
//! the four quintile bounds the value reaches, so equal values always score alike.
//! The named group follows from recency and the rounded mean of frequency and money
//! ([`Group::of`]), the usual map of eleven groups.

use jiff::Timestamp;

/// What the aggregates know of one customer's purchases: kept by the `roll_up` job as
/// receipts are added (a cancellation takes its purchase off), scored by the
/// `segments` job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Purchases (receipts identified as theirs, less cancellations).
    pub purchases: i64,
    /// What they paid after discounts, in store minor units (less cancellations).
    pub spent: i64,
    pub first_purchase: Option<Timestamp>,
    pub last_purchase: Option<Timestamp>,
    /// Their RFM group's name ([`Group::name`]) as the last `segments` run found it.
    pub rfm: Option<String>,
    /// Their recency, frequency and monetary scores, e.g. `"545"`.
    pub rfm_score: Option<String>,
    /// Channels they consented to be written on.
    pub consents: Vec<String>,
}

impl Facts {
    /// Mean receipt in store minor units, 0 without purchases (rounded half away from
    /// zero).
    pub fn average(&self) -> i64 {
        if self.purchases <= 0 {
            return 0;
        }
        let (q, r) = (self.spent / self.purchases, self.spent % self.purchases);
        if 2 * r.abs() >= self.purchases { q + self.spent.signum() } else { q }
    }

    /// Whole days from the last purchase to `now`; `None` without one.
    pub fn days_since_purchase(&self, now: Timestamp) -> Option<i64> {
        self.last_purchase.map(|at| (now.as_second() - at.as_second()).max(0) / 86_400)
    }
}

/// The four bounds that split values into five equal-sized groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quintiles(pub [i64; 4]);

impl Quintiles {
    /// The bounds of `values` (sorted here): the values at 20, 40, 60 and 80 % of the
    /// way. `None` for no values.
    pub fn of(mut values: Vec<i64>) -> Option<Quintiles> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let n = values.len();
        Some(Quintiles([1, 2, 3, 4].map(|k| values[n * k / 5])))
    }

    /// 1 to 5: one plus how many bounds `value` reaches.
    pub fn score(&self, value: i64) -> u8 {
        1 + self.0.iter().filter(|b| value >= **b).count() as u8
    }
}

/// The quintiles of one scoring pass: recency as minus the days since the last
/// purchase (so that more recent is higher), frequency, money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RfmBounds {
    pub recency: Quintiles,
    pub frequency: Quintiles,
    pub monetary: Quintiles,
}

impl RfmBounds {
    /// The bounds over customers given as (days since last purchase, purchases, spent).
    pub fn of(customers: &[(i64, i64, i64)]) -> Option<RfmBounds> {
        Some(RfmBounds {
            recency: Quintiles::of(customers.iter().map(|c| -c.0).collect())?,
            frequency: Quintiles::of(customers.iter().map(|c| c.1).collect())?,
            monetary: Quintiles::of(customers.iter().map(|c| c.2).collect())?,
        })
    }

    /// The scores of a customer who bought `days` ago, `purchases` times, for `spent`.
    pub fn score(&self, days: i64, purchases: i64, spent: i64) -> Rfm {
        Rfm { r: self.recency.score(-days), f: self.frequency.score(purchases), m: self.monetary.score(spent) }
    }
}

/// One customer's scores, each 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfm {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

impl Rfm {
    pub fn group(&self) -> Group {
        Group::of(self.r, (self.f + self.m).div_ceil(2))
    }

    /// `"545"`.
    pub fn code(&self) -> String {
        format!("{}{}{}", self.r, self.f, self.m)
    }
}

/// The named RFM groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Champions,
    Loyal,
    PotentialLoyalists,
    New,
    Promising,
    NeedAttention,
    AboutToSleep,
    CannotLose,
    AtRisk,
    Hibernating,
    Lost,
}

impl Group {
    /// Best first.
    pub const ALL: [Group; 11] = [
        Group::Champions,
        Group::Loyal,
        Group::PotentialLoyalists,
        Group::New,
        Group::Promising,
        Group::NeedAttention,
        Group::AboutToSleep,
        Group::CannotLose,
        Group::AtRisk,
        Group::Hibernating,
        Group::Lost,
    ];

    /// The group of recency score `r` and frequency-and-money score `fm` (each 1–5).
    pub fn of(r: u8, fm: u8) -> Group {
        match (r.clamp(1, 5), fm.clamp(1, 5)) {
            (4..=5, 4..=5) => Group::Champions,
            (3, 4..=5) => Group::Loyal,
            (4..=5, 2..=3) => Group::PotentialLoyalists,
            (5, _) => Group::New,
            (4, _) => Group::Promising,
            (3, 2..=3) => Group::NeedAttention,
            (3, _) => Group::AboutToSleep,
            (1..=2, 5) => Group::CannotLose,
            (1..=2, 3..=4) => Group::AtRisk,
            (2, _) => Group::Hibernating,
            _ => Group::Lost,
        }
    }

    /// As conditions and the API name it: `champions`, `at_risk` …
    pub fn name(self) -> &'static str {
        match self {
            Group::Champions => "champions",
            Group::Loyal => "loyal",
            Group::PotentialLoyalists => "potential_loyalists",
            Group::New => "new",
            Group::Promising => "promising",
            Group::NeedAttention => "need_attention",
            Group::AboutToSleep => "about_to_sleep",
            Group::CannotLose => "cannot_lose",
            Group::AtRisk => "at_risk",
            Group::Hibernating => "hibernating",
            Group::Lost => "lost",
        }
    }

    pub fn parse(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == name)
    }
}

/// What the ids of RFM groups listed beside the program's segments start with. No
/// program segment can take such an id (`:` is not allowed in an id).
const RFM_PREFIX: &str = "rfm:";

/// The id under which an RFM group's members are listed: `rfm:champions`.
pub fn rfm_segment(g: Group) -> String {
    format!("{RFM_PREFIX}{}", g.name())
}

/// The group name an RFM group's segment id names (`rfm:champions` → `champions`,
/// known group or not); `None` for a program segment's id.
pub fn rfm_group_of(segment: &str) -> Option<&str> {
    segment.strip_prefix(RFM_PREFIX)
}

/// Whether a condition reads the customer's counters or tier: a job deciding it reads
/// the customer's counters first (one query per customer).
pub fn reads_counters(condition: &str) -> bool {
    mentions(condition, "counters") || mentions(condition, "tier")
}

/// Whether a job can list a segment's members: its condition reads only what is
/// known of a customer without a receipt — profile, tier, counters, purchases,
/// consents, RFM — and neither `receipt`, `store` nor `customer.balances` (those are
/// known at a till only: such a segment still targets campaigns there).
pub fn job_evaluable(condition: &str) -> bool {
    !["receipt", "store", "balances"].iter().any(|w| mentions(condition, w))
}

/// Whether `word` occurs in `text` as a whole identifier.
pub fn mentions(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|w| w == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_of_scores_falls_in_exactly_the_group_the_map_draws() {
        // Rows: recency 5 down to 1; columns: frequency-and-money 1 to 5.
        let map = [
            ["new", "potential_loyalists", "potential_loyalists", "champions", "champions"],
            ["promising", "potential_loyalists", "potential_loyalists", "champions", "champions"],
            ["about_to_sleep", "need_attention", "need_attention", "loyal", "loyal"],
            ["hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"],
            ["lost", "lost", "at_risk", "at_risk", "cannot_lose"],
        ];
        for (row, names) in map.iter().enumerate() {
            for (col, name) in names.iter().enumerate() {
                assert_eq!(Group::of(5 - row as u8, col as u8 + 1).name(), *name, "r {} fm {}", 5 - row, col + 1);
            }
        }
        for g in Group::ALL {
            assert_eq!(Group::parse(g.name()), Some(g));
            assert_eq!(rfm_group_of(&rfm_segment(g)), Some(g.name()));
        }
        assert_eq!(rfm_group_of("big-spenders"), None);
    }

    #[test]
    fn quintiles_score_equal_values_alike_and_split_distinct_ones_evenly() {
        let q = Quintiles::of((1..=10).collect()).unwrap();
        assert_eq!(q, Quintiles([3, 5, 7, 9]));
        let scores: Vec<u8> = (1..=10).map(|v| q.score(v)).collect();
        assert_eq!(scores, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Most customers bought once: they all score 1 in frequency, whoever they are.
        let many_ones = Quintiles::of([1, 1, 1, 1, 1, 1, 1, 2, 5, 9].to_vec()).unwrap();
        assert_eq!([1, 2, 5, 9].map(|v| many_ones.score(v)), [4, 4, 5, 5]);
        assert_eq!(Quintiles::of(Vec::new()), None);
    }

    #[test]
    fn recent_frequent_big_spenders_are_champions_and_the_long_gone_are_lost() {
        // Ten customers: i days ago, 11 - i purchases, (11 - i) × 10.00 spent.
        let customers: Vec<(i64, i64, i64)> = (1..=10).map(|i| (i, 11 - i, (11 - i) * 1000)).collect();
        let b = RfmBounds::of(&customers).unwrap();
        let best = b.score(1, 10, 10_000);
        assert_eq!((best.code(), best.group()), ("555".to_owned(), Group::Champions));
        let worst = b.score(10, 1, 1000);
        assert_eq!((worst.code(), worst.group()), ("111".to_owned(), Group::Lost));
        // A big spender who stopped coming.
        assert_eq!(b.score(10, 10, 10_000).group(), Group::CannotLose);
        // A recent first purchase.
        assert_eq!(b.score(0, 1, 1000).group(), Group::New);
    }

    #[test]
    fn the_mean_receipt_rounds_half_away_from_zero_and_is_zero_without_purchases() {
        let f = |purchases, spent| Facts { purchases, spent, ..Facts::default() }.average();
        assert_eq!(f(3, 1000), 333);
        assert_eq!(f(2, 1001), 501);
        assert_eq!(f(0, 0), 0);
        assert_eq!(f(2, -1001), -501);
    }

    #[test]
    fn a_job_lists_segments_of_customer_facts_but_not_those_reading_a_receipt() {
        assert!(job_evaluable("customer.rfm == 'champions' && customer.profile['region'] == 'Kurzeme'"));
        assert!(job_evaluable("customer.tier == 'gold' && customer.counters['year'] > 100"));
        assert!(!job_evaluable("receipt.total_minor > 100"));
        assert!(!job_evaluable("store.format == 'mall'"));
        assert!(!job_evaluable("customer.balances['bonus'] > 0"));
        assert!(job_evaluable("customer.profile['storehouse'] == 'x'"), "whole words only");
    }
}
