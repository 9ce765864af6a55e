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
//! A terminal is its store and its id (ids are unique within a store only). The counts
//! come from the failure log, so they hold across servers and restarts. Each server
//! keeps them for a second per terminal and adds the refusals it writes itself, so a
//! guessing terminal costs one query a second, not one per request. Once a terminal has
//! [`SUSPECT`] refusals of a kind, its requests of that kind still running count as
//! refused until answered, so it cannot burst past the limit; a terminal with a clean
//! record is not held back however many requests it sends at once (a first burst of
//! guesses may so pass the limit by its own parallelism, once a window).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
/// Refusals of a kind past which a terminal's requests still running count as refused
/// too: a till with a clean record may send many at once (a web shop's checkouts), one
/// that has been guessing may not burst past the limit.
pub const SUSPECT: i64 = LIMIT / 2;
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

    /// Whether the request could be a guess of this kind.
    fn asks(self, guess: Guess) -> bool {
        match guess {
            Guess::WrongPin => self.pin,
            Guess::UnknownPhoneOrCode => self.phone_or_code,
            Guess::UnknownCard => self.card,
        }
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
    const ALL: [Guess; 3] = [Guess::WrongPin, Guess::UnknownPhoneOrCode, Guess::UnknownCard];

    /// The guess a refusal with `code` (naming a card or not) was.
    pub fn of(code: ErrorCode, names_card: bool) -> Option<Guess> {
        match code {
            ErrorCode::WrongPin => Some(Guess::WrongPin),
            ErrorCode::UnknownCard if names_card => Some(Guess::UnknownCard),
            ErrorCode::UnknownCard => Some(Guess::UnknownPhoneOrCode),
            _ => None,
        }
    }

    /// Its count among `counts`.
    fn count(self, counts: &mut AttemptCounts) -> &mut i64 {
        match self {
            Guess::WrongPin => &mut counts.wrong_pins,
            Guess::UnknownPhoneOrCode => &mut counts.unknown_phones_or_codes,
            Guess::UnknownCard => &mut counts.unknown_cards,
        }
    }

    /// What the refusal says the terminal sent too many of.
    fn what(self) -> &'static str {
        match self {
            Guess::WrongPin => "wrong PINs",
            Guess::UnknownPhoneOrCode => "unknown phones or one-time codes (identify by card)",
            Guess::UnknownCard => "unknown card numbers",
        }
    }
}

/// One terminal's counts as this server knows them.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// When `counts` was read from the failure log (`None`: never).
    read_at: Option<Instant>,
    /// Refusals: as read, plus those this server wrote since.
    counts: AttemptCounts,
    /// Requests of each kind this server is still answering.
    running: AttemptCounts,
}

impl Entry {
    fn fresh(&self) -> bool {
        self.read_at.is_some_and(|at| at.elapsed() < FRESH_FOR)
    }
}

#[derive(Default)]
pub struct Attempts {
    terminals: Mutex<HashMap<String, Entry>>,
}

/// A terminal as the limits know it: its store and its id.
pub fn terminal_key(caller: &PosCaller) -> String {
    format!("{}/{}", caller.store.id, caller.terminal)
}

impl Attempts {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.terminals.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached(&self, terminal: &str) -> Option<Entry> {
        self.entries().get(terminal).filter(|e| e.fresh()).copied()
    }

    /// Adds `by` to the running requests of every kind `presented` could be.
    fn run(e: &mut Entry, presented: Presented, by: i64) {
        for g in Guess::ALL.into_iter().filter(|g| presented.asks(*g)) {
            *g.count(&mut e.running) += by;
        }
    }

    fn remember(&self, terminal: &str, counts: AttemptCounts) {
        let mut map = self.entries();
        if map.len() >= MAX_TERMINALS {
            map.retain(|_, e| e.fresh() || e.running != AttemptCounts::default());
        }
        let e = map.entry(terminal.to_owned()).or_default();
        e.read_at = Some(Instant::now());
        e.counts = counts;
    }

    /// Counts a refusal this server has just written to the failure log.
    pub fn refused(&self, terminal: &str, guess: Guess) {
        if let Some(e) = self.entries().get_mut(terminal) {
            *guess.count(&mut e.counts) += 1;
        }
    }

    /// Counts a request as running, unless the limit is reached counting it; says which
    /// limit it is over.
    fn admit(&self, terminal: &str, presented: Presented) -> Result<(), &'static str> {
        let mut map = self.entries();
        let e = map.entry(terminal.to_owned()).or_default();
        for g in Guess::ALL.into_iter().filter(|g| presented.asks(*g)) {
            let (refused, running) = (*g.count(&mut e.counts), *g.count(&mut e.running));
            if refused >= LIMIT || (refused >= SUSPECT && refused + running >= LIMIT) {
                return Err(g.what());
            }
        }
        Self::run(e, presented, 1);
        Ok(())
    }

    fn finished(&self, terminal: &str, presented: Presented) {
        if let Some(e) = self.entries().get_mut(terminal) {
            Self::run(e, presented, -1);
        }
    }
}

/// A request admitted past the limits, counted as running until it is dropped (hold it
/// until the request is answered).
pub struct Admitted {
    attempts: Option<(Arc<Attempts>, String, Presented)>,
}

impl Admitted {
    /// Passes the request's answer through, counting it first if it was a refused guess
    /// (before the request stops counting as running, so no request slips in between).
    pub fn settle<T>(self, answer: Result<T, ApiError>) -> Result<T, ApiError> {
        if let (Err(e), Some((attempts, terminal, _))) = (&answer, &self.attempts)
            && let Some(guess) = Guess::of(e.code, e.card.is_some())
        {
            attempts.refused(terminal, guess);
        }
        answer
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((attempts, terminal, presented)) = self.attempts.take() {
            attempts.finished(&terminal, presented);
        }
    }
}

/// Refuses a request that presents what its terminal may no longer guess; otherwise
/// counts it as running while the returned guard lives.
pub async fn check(state: &AppState, caller: &PosCaller, presented: Presented) -> Result<Admitted, ApiError> {
    if presented == Presented::default() {
        return Ok(Admitted { attempts: None });
    }
    let terminal = terminal_key(caller);
    if state.attempts.cached(&terminal).is_none() {
        let since = state.store.now() - jiff::SignedDuration::try_from(WINDOW).unwrap_or_default();
        let counts = state.store.attempt_counts(caller.store.id.to_string(), caller.terminal.to_string(), since).await?;
        state.attempts.remember(&terminal, counts);
    }
    match state.attempts.admit(&terminal, presented) {
        Ok(()) => Ok(Admitted { attempts: Some((state.attempts.clone(), terminal, presented)) }),
        Err(what) => Err(ApiError::new(ErrorCode::TooManyAttempts, format!("too many {what} from this terminal; try again later"))
            .with_details(serde_json::json!({ "limit": LIMIT, "window_seconds": WINDOW.as_secs() }))),
    }
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
        a.refused("s/pos-1", Guess::WrongPin);
        assert!(a.cached("s/pos-1").is_none(), "nothing is made up for a terminal not read yet");
        a.remember("s/pos-1", AttemptCounts { wrong_pins: 19, ..AttemptCounts::default() });
        a.refused("s/pos-1", Guess::WrongPin);
        a.refused("s/pos-1", Guess::UnknownCard);
        let counts = a.cached("s/pos-1").unwrap().counts;
        assert_eq!(counts, AttemptCounts { wrong_pins: 20, unknown_phones_or_codes: 0, unknown_cards: 1 });
    }

    #[test]
    fn requests_still_running_count_against_the_limit_once_a_terminal_has_been_guessing() {
        let a = Attempts::default();
        a.remember("clean/pos-1", AttemptCounts::default());
        for _ in 0..30 {
            assert!(a.admit("clean/pos-1", Presented::card(false)).is_ok(), "a clean terminal may send many at once");
        }
        a.remember("s/pos-1", AttemptCounts { unknown_cards: 18, ..AttemptCounts::default() });
        let card = Presented::card(false);
        assert!(a.admit("s/pos-1", card).is_ok());
        assert!(a.admit("s/pos-1", card).is_ok());
        assert_eq!(a.admit("s/pos-1", card), Err("unknown card numbers"), "two running, eighteen refused: the limit");
        a.finished("s/pos-1", card);
        assert!(a.admit("s/pos-1", card).is_ok(), "one answered without a refusal frees its place");
        assert!(a.admit("s/pos-1", Presented::card(true)).is_err(), "a PIN request names a card too");
        assert!(a.admit("s/pos-1", Presented { phone_or_code: true, ..Presented::default() }).is_ok(), "phones are counted apart");
        assert!(a.admit("other/pos-1", card).is_ok(), "the same terminal id in another store is another terminal");
    }
}
