//! Cards: numbers and series, states, and the rules every card obeys: whether it is
//! usable, whether it needs its PIN, the PIN lockout, whom it identifies.

use serde::{Deserialize, Serialize};

use crate::ids::AccountId;
use crate::program::{CardKind, CardSeriesSpec, CheckDigit};
use crate::refusal::ReceiptError;
use crate::time::Timestamp;

/// Luhn check digit for a string of digits.
pub fn luhn_digit(body: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in body.bytes().rev().enumerate() {
        let d = u32::from(c.checked_sub(b'0').filter(|d| *d <= 9)?);
        sum += if i % 2 == 0 { let x = d * 2; if x > 9 { x - 9 } else { x } } else { d };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Whether `number` carries a valid check digit of `kind`.
pub fn check_number(number: &str, kind: CheckDigit) -> bool {
    match kind {
        CheckDigit::None => !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        CheckDigit::Luhn => {
            let Some((body, last)) = number.len().checked_sub(1).map(|n| number.split_at(n)) else { return false };
            luhn_digit(body).is_some_and(|d| last.as_bytes()[0] == b'0' + d)
        }
    }
}

/// The `seq`-th number of a series: prefix, the sequence zero-padded, check digit.
/// `None` when the sequence does not fit in the series' length.
pub fn series_number(prefix: &str, length: u8, check: CheckDigit, seq: u64) -> Option<String> {
    let digits = usize::from(length) - usize::from(check != CheckDigit::None);
    let width = digits.checked_sub(prefix.len())?;
    let body = format!("{prefix}{seq:0width$}");
    if body.len() != digits {
        return None;
    }
    Some(match check {
        CheckDigit::Luhn => format!("{body}{}", luhn_digit(&body)?),
        CheckDigit::None => body,
    })
}

/// How many numbers a series has: 10 to the power of its free digits (those after the
/// prefix and before the check digit); `None` past `u64`.
pub fn series_capacity(prefix: &str, length: u8, check: CheckDigit) -> Option<u64> {
    let free = usize::from(length).checked_sub(prefix.len() + usize::from(check != CheckDigit::None))?;
    10u64.checked_pow(u32::try_from(free).ok()?)
}

/// Longest card number or other identifier a POS may send.
pub const MAX_CARD_LEN: usize = crate::ids::CardNumber::MAX_LEN;

/// A card number as typed or scanned: digits and letters only.
pub fn valid_card_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_CARD_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    /// Printed, not yet sold or handed out (gift cards before activation).
    Issued,
    Active,
    Blocked,
    /// Past its validity.
    Expired,
}

impl CardState {
    pub fn name(self) -> &'static str {
        match self {
            CardState::Issued => "issued",
            CardState::Active => "active",
            CardState::Blocked => "blocked",
            CardState::Expired => "expired",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [CardState::Issued, CardState::Active, CardState::Blocked, CardState::Expired].into_iter().find(|k| k.name() == s)
    }
}

impl std::fmt::Display for CardState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Shows the last four characters only: `•••• 0017`.
pub fn mask(number: &str) -> String {
    let tail: String = number.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("•••• {tail}")
}

/// Wrong PINs in a row that lock a card…
pub const PIN_ATTEMPTS: i64 = 5;
/// …for this long.
pub const PIN_LOCK: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// A card as stored: what every rule about a card reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub number: String,
    pub series: String,
    pub kind: CardKind,
    pub state: CardState,
    /// The customer the card is registered to.
    pub customer: Option<i64>,
    /// The ledger account a gift, pass or credit card holds.
    pub account: Option<AccountId>,
    /// The keyed hash of its PIN, if it has one.
    pub pin_hash: Option<String>,
    /// Locked after [`PIN_ATTEMPTS`] wrong PINs, until then.
    pub locked_until: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub single_use: bool,
}

/// The one rule of card state and validity for cards that pay or identify: an issued
/// card is not sold yet, a blocked or expired one refuses, an active one is usable until
/// its `valid_until`.
pub fn check_usable(number: &str, state: CardState, valid_until: Option<Timestamp>, at: Timestamp) -> Result<(), ReceiptError> {
    match state {
        CardState::Blocked => Err(ReceiptError::CardBlocked(number.to_owned())),
        CardState::Expired => Err(ReceiptError::CardExpired(number.to_owned())),
        CardState::Issued => Err(ReceiptError::CardNotActive(number.to_owned())),
        CardState::Active if valid_until.is_some_and(|v| v <= at) => Err(ReceiptError::CardExpired(number.to_owned())),
        CardState::Active => Ok(()),
    }
}

impl Card {
    /// See [`check_usable`].
    pub fn check_usable(&self, at: Timestamp) -> Result<(), ReceiptError> {
        check_usable(&self.number, self.state, self.valid_until, at)
    }

    /// The state a cashier is shown: an active card past its validity is expired.
    pub fn state_at(&self, now: Timestamp) -> CardState {
        if self.state == CardState::Active && self.valid_until.is_some_and(|v| v <= now) { CardState::Expired } else { self.state }
    }

    /// Whether using or inquiring the card takes its PIN: it has one and its series
    /// asks for PINs (`series` is `None` when the series is no longer configured).
    pub fn needs_pin(&self, series: Option<&CardSeriesSpec>) -> bool {
        self.pin_hash.is_some() && series.is_none_or(|s| s.pin)
    }

    /// The PIN policy: a locked card refuses everything until the lock ends; a card
    /// that needs its PIN refuses without one or with a wrong one. `matches(hash, pin)`
    /// compares a PIN with the stored hash (the store holds the key). A wrong PIN is
    /// `WrongPin`, which the caller counts outside the refused transaction.
    pub fn check_pin(
        &self,
        needs_pin: bool,
        pin: Option<&str>,
        now: Timestamp,
        matches: impl FnOnce(&str, &str) -> bool,
    ) -> Result<(), ReceiptError> {
        if self.locked_until.is_some_and(|t| t > now) {
            return Err(ReceiptError::TooManyAttempts(self.number.clone()));
        }
        if !needs_pin {
            return Ok(());
        }
        let Some(pin) = pin else {
            return Err(ReceiptError::invalid(format!("card {} needs its PIN", self.number)));
        };
        match &self.pin_hash {
            Some(h) if matches(h, pin) => Ok(()),
            _ => Err(ReceiptError::WrongPin(self.number.clone())),
        }
    }

    /// Refuses a card that is not a gift card where one must pay.
    pub fn check_gift(&self) -> Result<(), ReceiptError> {
        if self.kind == CardKind::Gift { Ok(()) } else { Err(ReceiptError::invalid(format!("card {} is not a gift card", self.number))) }
    }

    /// The customer a card identifies at a POS: gift cards and passes pay or admit and
    /// identify no one; a usable loyalty or credit card identifies its holder.
    pub fn identifies(&self, at: Timestamp) -> Result<i64, ReceiptError> {
        if matches!(self.kind, CardKind::Gift | CardKind::Pass) {
            return Err(ReceiptError::invalid(format!(
                "card {} is a {} card: it pays or admits, it does not identify a customer",
                self.number,
                self.kind.name()
            )));
        }
        self.check_usable(at)?;
        self.customer.ok_or_else(|| ReceiptError::invalid(format!("card {} is not registered to a customer", self.number)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn luhn_numbers_validate_and_series_numbers_carry_their_check_digit() {
        assert_eq!(luhn_digit("7992739871"), Some(3));
        assert!(check_number("79927398713", CheckDigit::Luhn));
        assert!(!check_number("79927398710", CheckDigit::Luhn));
        let n = series_number("6000", 13, CheckDigit::Luhn, 1).unwrap();
        assert_eq!(n.len(), 13);
        assert!(n.starts_with("600000000001"));
        assert!(check_number(&n, CheckDigit::Luhn));
        assert_eq!(series_number("6000", 6, CheckDigit::Luhn, 1234), None);
    }

    #[test]
    fn a_series_holds_ten_to_the_power_of_its_free_digits() {
        assert_eq!(series_capacity("2770", 13, CheckDigit::Luhn), Some(100_000_000));
        assert_eq!(series_capacity("2770", 13, CheckDigit::None), Some(1_000_000_000));
        assert_eq!(series_capacity("27701234567", 12, CheckDigit::Luhn), Some(1));
        assert_eq!(series_capacity("2770", 4, CheckDigit::Luhn), None);
        // Every number below the capacity fits; the capacity itself does not.
        assert!(series_number("2770", 13, CheckDigit::Luhn, 99_999_999).is_some());
        assert!(series_number("2770", 13, CheckDigit::Luhn, 100_000_000).is_none());
    }

    #[test]
    fn masked_numbers_show_only_the_last_four() {
        assert_eq!(mask("2770000000017"), "•••• 0017");
    }

    pub(crate) fn card(kind: CardKind, state: CardState) -> Card {
        Card {
            number: "2770000000017".into(),
            series: "s".into(),
            kind,
            state,
            customer: Some(7),
            account: None,
            pin_hash: None,
            locked_until: None,
            valid_until: None,
            single_use: false,
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn only_an_active_card_within_its_validity_is_usable() {
        let now = at("2026-06-01T10:00:00Z");
        let code = |state, valid: Option<&str>| check_usable("1", state, valid.map(at), now).map_err(|e| e.code());
        let table = [
            (CardState::Active, None, Ok(())),
            (CardState::Active, Some("2026-06-01T10:00:01Z"), Ok(())),
            (CardState::Active, Some("2026-06-01T10:00:00Z"), Err("card_expired")),
            (CardState::Issued, None, Err("card_blocked")),
            (CardState::Blocked, None, Err("card_blocked")),
            (CardState::Expired, None, Err("card_expired")),
        ];
        for (state, valid, want) in table {
            assert_eq!(code(state, valid), want, "{state:?} valid until {valid:?}");
        }
        assert!(matches!(check_usable("1", CardState::Issued, None, now), Err(ReceiptError::CardNotActive(_))));
    }

    #[test]
    fn an_active_card_past_its_validity_shows_as_expired() {
        let mut c = card(CardKind::Loyalty, CardState::Active);
        c.valid_until = Some(at("2026-06-01T00:00:00Z"));
        assert_eq!(c.state_at(at("2026-05-31T23:59:59Z")), CardState::Active);
        assert_eq!(c.state_at(at("2026-06-01T00:00:00Z")), CardState::Expired);
        c.state = CardState::Blocked;
        assert_eq!(c.state_at(at("2026-06-02T00:00:00Z")), CardState::Blocked);
    }

    #[test]
    fn a_pin_is_asked_when_the_card_has_one_and_its_series_wants_it_or_is_gone() {
        let mut c = card(CardKind::Gift, CardState::Active);
        let series = |pin: bool| -> CardSeriesSpec {
            serde_json::from_value(serde_json::json!({ "id": "s", "kind": "gift", "pin": pin })).unwrap()
        };
        assert!(!c.needs_pin(Some(&series(true))), "no PIN stored, none to ask");
        c.pin_hash = Some("h".into());
        assert!(c.needs_pin(Some(&series(true))));
        assert!(!c.needs_pin(Some(&series(false))));
        assert!(c.needs_pin(None), "a series no longer configured keeps asking");
    }

    #[test]
    fn the_pin_policy_refuses_a_locked_card_a_missing_pin_and_a_wrong_one() {
        let now = at("2026-06-01T10:00:00Z");
        let mut c = card(CardKind::Gift, CardState::Active);
        c.pin_hash = Some("hash-of-1234".into());
        let matches = |hash: &str, pin: &str| hash == format!("hash-of-{pin}");
        assert!(c.check_pin(true, Some("1234"), now, matches).is_ok());
        assert_eq!(c.check_pin(true, Some("9999"), now, matches).unwrap_err().code(), "wrong_pin");
        let missing = c.check_pin(true, None, now, matches).unwrap_err();
        assert_eq!(missing.to_string(), "card 2770000000017 needs its PIN");
        assert!(c.check_pin(false, None, now, matches).is_ok(), "a PIN the series does not ask for is not checked");
        c.locked_until = Some(at("2026-06-01T10:15:00Z"));
        assert_eq!(c.check_pin(true, Some("1234"), now, matches).unwrap_err().code(), "too_many_attempts");
        assert_eq!(c.check_pin(false, None, now, matches).unwrap_err().code(), "too_many_attempts", "a lock holds even without a PIN");
        assert!(c.check_pin(true, Some("1234"), at("2026-06-01T10:15:00Z"), matches).is_ok(), "the lock ends");
        assert_eq!(PIN_ATTEMPTS, 5);
        assert_eq!(PIN_LOCK, jiff::SignedDuration::from_mins(15));
    }

    #[test]
    fn loyalty_and_credit_cards_identify_their_holder_gift_cards_and_passes_do_not() {
        let now = at("2026-06-01T10:00:00Z");
        assert_eq!(card(CardKind::Loyalty, CardState::Active).identifies(now).unwrap(), 7);
        assert_eq!(card(CardKind::Credit, CardState::Active).identifies(now).unwrap(), 7);
        for kind in [CardKind::Gift, CardKind::Pass] {
            let e = card(kind, CardState::Active).identifies(now).unwrap_err();
            assert!(e.to_string().contains("does not identify a customer"), "{e}");
        }
        assert_eq!(card(CardKind::Loyalty, CardState::Blocked).identifies(now).unwrap_err().code(), "card_blocked");
        let mut unregistered = card(CardKind::Loyalty, CardState::Active);
        unregistered.customer = None;
        assert!(unregistered.identifies(now).unwrap_err().to_string().contains("not registered"));
        assert!(card(CardKind::Gift, CardState::Active).check_gift().is_ok());
        assert!(card(CardKind::Loyalty, CardState::Active).check_gift().unwrap_err().to_string().contains("is not a gift card"));
    }
}
