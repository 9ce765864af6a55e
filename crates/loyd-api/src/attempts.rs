//! Guessing limits of the POS API, in one place.
//!
//! A terminal that guesses is refused for the rest of a 15-minute window once it has
//! been refused [`LIMIT`] times for one kind of guess:
//! - **PINs**: wrong PINs, whichever path checked them (receipts, calculations,
//!   offline uploads, balance inquiries); then every request that carries a PIN;
//! - **phones and one-time codes** that name no customer; then every request that
//!   names a customer by phone or code;
//! - **card numbers** that do not exist (loyalty, gift and pass cards alike); then every
//!   request that names a card. With numbers drawn at random from a large range
//!   (`numbering = "random"`), a guesser meets unknown numbers almost always and is
//!   stopped long before finding a real one.
//!
//! The counts come from the failure log, so they hold across servers and restarts.
//! Each server keeps them for a second per terminal and adds the refusals it writes
//! itself, so a guessing terminal costs one query a second, not one per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use loyd_domain::operations::VisitRequest;
use loyd_domain::receipt::{CustomerRef, ReceiptRequest};
use loyd_store::{AttemptCounts, PosCaller};

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// Refusals of one kind a terminal may have per window.
pub const LIMIT: i64 = 20;
/// The window the refusals are counted over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a server trusts the counts it read without reading them again.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Above this many terminals the stale entries are dropped.
const MAX_TERMINALS: usize = 100_000;

/// What a request asks the server to check that a guesser would vary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Presented {
    /// It carries a PIN.
    pub pin: bool,
    /// It names a customer by phone or one-time code.
    pub phone_or_code: bool,
    /// It names a card by number.
    pub card: bool,
}

impl Presented {
    fn customer(who: Option<&CustomerRef>) -> Presented {
        Presented {
            phone_or_code: who.is_some_and(|w| w.phone.is_some() || w.code.is_some()),
            card: who.is_some_and(|w| w.card.is_some()),
            pin: false,
        }
    }

    pub fn receipt(r: &ReceiptRequest) -> Presented {
        let mut p = Presented::customer(r.customer.as_ref());
        p.card |= !r.gift_cards.is_empty();
        p.pin = r.gift_cards.iter().any(|g| g.pin.is_some());
        p
    }

    pub fn visit(v: &VisitRequest) -> Presented {
        Presented::customer(Some(&v.customer))
    }

    /// A card named in the path (inquiry, activation), with or without a PIN.
    pub fn card(pin: bool) -> Presented {
        Presented { pin, card: true, phone_or_code: false }
    }
}

/// The refusals of a failure-log entry that count as guesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guess {
    WrongPin,
    UnknownPhoneOrCode,
    UnknownCard,
}

impl Guess {
    /// The guess a refusal with `code` (naming a card or not) was.
    pub fn of(code: ErrorCode, names_card: bool) -> Option<Guess> {
        match code {
            ErrorCode::WrongPin => Some(Guess::WrongPin),
            ErrorCode::UnknownCard if names_card => Some(Guess::UnknownCard),
            ErrorCode::UnknownCard => Some(Guess::UnknownPhoneOrCode),
            _ => None,
        }
    }
}

#[derive(Default)]
pub struct Attempts {
    terminals: Mutex<HashMap<String, (Instant, AttemptCounts)>>,
}

impl Attempts {
    fn cached(&self, terminal: &str) -> Option<AttemptCounts> {
        let map = self.terminals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(terminal).filter(|(at, _)| at.elapsed() < FRESH_FOR).map(|(_, c)| *c)
    }

    fn remember(&self, terminal: &str, counts: AttemptCounts) {
        let mut map = self.terminals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_TERMINALS {
            map.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
        }
        map.insert(terminal.to_owned(), (Instant::now(), counts));
    }

    /// Counts a refusal this server has just written to the failure log.
    pub fn refused(&self, terminal: &str, guess: Guess) {
        let mut map = self.terminals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, c)) = map.get_mut(terminal) {
            match guess {
                Guess::WrongPin => c.wrong_pins += 1,
                Guess::UnknownPhoneOrCode => c.unknown_phones_or_codes += 1,
                Guess::UnknownCard => c.unknown_cards += 1,
            }
        }
    }
}

/// Refuses a request that presents what its terminal may no longer guess.
pub async fn check(state: &AppState, caller: &PosCaller, presented: Presented) -> Result<(), ApiError> {
    if presented == Presented::default() {
        return Ok(());
    }
    let terminal = caller.terminal.as_str();
    let counts = match state.attempts.cached(terminal) {
        Some(c) => c,
        None => {
            let since = state.store.now() - jiff::SignedDuration::try_from(WINDOW).unwrap_or_default();
            let c = state.store.attempt_counts(terminal.to_owned(), since).await?;
            state.attempts.remember(terminal, c);
            c
        }
    };
    let refuse = |what: &str| {
        Err(ApiError::new(ErrorCode::TooManyAttempts, format!("too many {what} from this terminal; try again later"))
            .with_details(serde_json::json!({ "limit": LIMIT, "window_seconds": WINDOW.as_secs() })))
    };
    if presented.pin && counts.wrong_pins >= LIMIT {
        return refuse("wrong PINs");
    }
    if presented.phone_or_code && counts.unknown_phones_or_codes >= LIMIT {
        return refuse("unknown phones or one-time codes (identify by card)");
    }
    if presented.card && counts.unknown_cards >= LIMIT {
        return refuse("unknown card numbers");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_presents_the_pins_phones_and_cards_it_carries() {
        let r: ReceiptRequest = serde_json::from_value(serde_json::json!({
            "receipt_id": "1", "customer": {"phone": "+37120000000"},
            "gift_cards": [{"number": "6000", "pin": "1712", "amount": "1"}],
            "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "1"}]
        }))
        .unwrap();
        assert_eq!(Presented::receipt(&r), Presented { pin: true, phone_or_code: true, card: true });
        let plain: ReceiptRequest =
            serde_json::from_value(serde_json::json!({"receipt_id": "1", "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "1"}]})).unwrap();
        assert_eq!(Presented::receipt(&plain), Presented::default());
    }

    #[test]
    fn refusals_are_guesses_only_for_pins_and_unknown_identifiers() {
        assert_eq!(Guess::of(ErrorCode::WrongPin, true), Some(Guess::WrongPin));
        assert_eq!(Guess::of(ErrorCode::UnknownCard, true), Some(Guess::UnknownCard));
        assert_eq!(Guess::of(ErrorCode::UnknownCard, false), Some(Guess::UnknownPhoneOrCode));
        assert_eq!(Guess::of(ErrorCode::InsufficientFunds, true), None);
    }

    #[test]
    fn a_refusal_is_added_to_the_remembered_counts() {
        let a = Attempts::default();
        a.refused("pos-1", Guess::WrongPin);
        assert_eq!(a.cached("pos-1"), None, "nothing is made up for a terminal not read yet");
        a.remember("pos-1", AttemptCounts { wrong_pins: 19, ..AttemptCounts::default() });
        a.refused("pos-1", Guess::WrongPin);
        a.refused("pos-1", Guess::UnknownCard);
        assert_eq!(a.cached("pos-1"), Some(AttemptCounts { wrong_pins: 20, unknown_phones_or_codes: 0, unknown_cards: 1 }));
    }
}
