//! Card numbers and card states.

use serde::{Deserialize, Serialize};

use crate::program::CheckDigit;

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
pub const MAX_CARD_LEN: usize = 32;

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

/// Shows the last four characters only: `•••• 0017`.
pub fn mask(number: &str) -> String {
    let tail: String = number.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("•••• {tail}")
}

#[cfg(test)]
mod tests {
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
}
