//! Passes: which of a customer's passes a visit uses, and how many visits a new pass
//! holds. A visit is one whole unit of the pass's counter currency.

use crate::cards::{Card, CardState};
use crate::money::Scale;
use crate::receipt::ReceiptError;
use crate::time::Timestamp;

/// A pass a visit may use: the card, the service its series admits to, and its
/// balance (visits left, in minor units of `scale`) if it has an account.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub card: Card,
    pub service: Option<String>,
    pub balance: Option<(i64, Scale)>,
}

/// A visit as planned: which candidate, the units taken and the units left after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    pub index: usize,
    pub units: i64,
    pub remaining: i64,
}

/// One visit in minor units of a counter currency of `scale`.
pub fn one_visit(scale: Scale) -> i64 {
    10i64.pow(u32::from(scale.places()))
}

/// The units a new pass holds: `visits` whole visits.
pub fn issued_units(visits: Option<u32>, scale: Scale) -> i64 {
    i64::from(visits.unwrap_or(0)) * one_visit(scale)
}

/// Whether a pass admitting to `service` serves a visit asking for `wanted`.
pub fn serves(service: Option<&str>, wanted: Option<&str>) -> bool {
    wanted.is_none() || service == wanted
}

/// The refusal when a customer has no pass for the service asked.
pub fn no_pass(wanted: Option<&str>) -> ReceiptError {
    ReceiptError::invalid(match wanted {
        Some(s) => format!("no pass for service {s}"),
        None => "no pass for this customer".into(),
    })
}

/// Chooses the first pass (in the given order) that is usable and has a visit left;
/// otherwise refuses with the reason the last one failed. `candidates` are those
/// serving the visit's service ([`serves`]).
pub fn plan_visit(candidates: &[Candidate], wanted: Option<&str>, now: Timestamp) -> Result<Visit, ReceiptError> {
    if candidates.is_empty() {
        return Err(no_pass(wanted));
    }
    let mut refusal = None;
    for (index, pass) in candidates.iter().enumerate() {
        let card = &pass.card;
        if card.state == CardState::Blocked {
            refusal = Some(ReceiptError::CardBlocked(card.number.clone()));
            continue;
        }
        if card.state == CardState::Expired || card.valid_until.is_some_and(|v| v <= now) {
            refusal = Some(ReceiptError::PassExpired(format!("pass {} has expired", card.number)));
            continue;
        }
        let Some((available, scale)) = pass.balance else { continue };
        let units = one_visit(scale);
        if available < units {
            refusal = Some(ReceiptError::PassExhausted(format!("pass {} has no visits left", card.number)));
            continue;
        }
        return Ok(Visit { index, units, remaining: available - units });
    }
    Err(refusal.unwrap_or_else(|| ReceiptError::invalid("no usable pass")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::tests::card;
    use crate::program::CardKind;

    fn now() -> Timestamp {
        "2026-06-01T10:00:00Z".parse().unwrap()
    }

    fn pass(number: &str, state: CardState, visits_left: Option<i64>) -> Candidate {
        let mut c = card(CardKind::Pass, state);
        c.number = number.into();
        Candidate { card: c, service: Some("gym".into()), balance: visits_left.map(|v| (v, Scale::ZERO)) }
    }

    #[test]
    fn a_visit_takes_one_whole_unit_from_the_first_usable_pass_with_visits_left() {
        let passes = [pass("A", CardState::Active, Some(0)), pass("B", CardState::Active, Some(3)), pass("C", CardState::Active, Some(9))];
        assert_eq!(plan_visit(&passes, Some("gym"), now()).unwrap(), Visit { index: 1, units: 1, remaining: 2 });
        let mut fine = pass("D", CardState::Active, Some(250));
        fine.balance = Some((250, Scale::CENTS));
        assert_eq!(plan_visit(&[fine], None, now()).unwrap(), Visit { index: 0, units: 100, remaining: 150 });
    }

    #[test]
    fn without_a_usable_pass_the_refusal_says_why_the_last_one_failed() {
        let mut expired = pass("E", CardState::Active, Some(5));
        expired.card.valid_until = Some(now());
        let table: [(Vec<Candidate>, &str); 5] = [
            (vec![], "validation_failed"),
            (vec![pass("A", CardState::Blocked, Some(5))], "card_blocked"),
            (vec![pass("A", CardState::Blocked, Some(5)), expired], "pass_expired"),
            (vec![pass("A", CardState::Expired, Some(5)), pass("B", CardState::Active, Some(0))], "pass_exhausted"),
            (vec![pass("A", CardState::Active, None)], "validation_failed"),
        ];
        for (passes, code) in table {
            assert_eq!(plan_visit(&passes, Some("gym"), now()).unwrap_err().code(), code);
        }
        assert_eq!(plan_visit(&[], Some("gym"), now()).unwrap_err().to_string(), "no pass for service gym");
        assert_eq!(plan_visit(&[], None, now()).unwrap_err().to_string(), "no pass for this customer");
        assert_eq!(plan_visit(&[pass("A", CardState::Active, None)], None, now()).unwrap_err().to_string(), "no usable pass");
    }

    #[test]
    fn a_pass_serves_its_own_service_or_any_visit_that_names_none() {
        assert!(serves(Some("gym"), Some("gym")));
        assert!(!serves(Some("gym"), Some("pool")));
        assert!(!serves(None, Some("pool")));
        assert!(serves(Some("gym"), None));
        assert!(serves(None, None));
    }

    #[test]
    fn a_new_pass_holds_its_visits_in_whole_units_of_its_counter() {
        assert_eq!(issued_units(Some(10), Scale::ZERO), 10);
        assert_eq!(issued_units(Some(10), Scale::CENTS), 1000);
        assert_eq!(issued_units(None, Scale::ZERO), 0);
    }
}
