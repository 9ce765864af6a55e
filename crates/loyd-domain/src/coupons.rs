//! Coupon codes: generated codes are unguessable (50 random bits) and carry a check
//! character, so a mistyped code is refused before anything is looked up.

/// Crockford's base 32: digits and capitals without I, L, O and U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random characters of a generated code (5 bits each).
pub const RANDOM_CHARS: usize = 10;

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// Luhn mod 32 check character of `body` (detects every single wrong character and
/// most swaps of neighbours).
fn check_char(body: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in body.iter().rev().enumerate() {
        let mut v = value(c)?;
        if i % 2 == 0 {
            v *= 2;
            v = v / 32 + v % 32;
        }
        sum += v;
    }
    Some(ALPHABET[((32 - sum % 32) % 32) as usize])
}

/// A code from random bytes: 10 characters of Crockford base 32 and a check character.
pub fn code_from_random(random: [u8; 8]) -> String {
    let mut bits = u64::from_le_bytes(random);
    let mut body = Vec::with_capacity(RANDOM_CHARS + 1);
    for _ in 0..RANDOM_CHARS {
        body.push(ALPHABET[(bits & 31) as usize]);
        bits >>= 5;
    }
    let check = check_char(&body).expect("generated from the alphabet");
    body.push(check);
    String::from_utf8(body).expect("ASCII")
}

/// A promo code as typed, made canonical: trimmed, upper case.
pub fn canonical(text: &str) -> String {
    text.trim().to_uppercase()
}

/// A generated code as typed, made canonical: upper case, no spaces or dashes, and the
/// letters people confuse with digits read as those digits (O → 0, I and L → 1).
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// Whether a normalized code has the shape and check character of a generated code.
pub fn is_generated(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == RANDOM_CHARS + 1 && b.iter().all(|c| value(*c).is_some()) && check_char(&b[..RANDOM_CHARS]) == Some(b[RANDOM_CHARS])
}

/// A promo code a marketer may choose: 1 to 32 capitals, digits, `-` or `_`.
pub fn valid_code_text(code: &str) -> bool {
    !code.is_empty() && code.len() <= 32 && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The end of validity of a coupon issued at `now`: `validity_days` after it, but never
/// past the series' own end; either alone when only one is set.
pub fn valid_until(now: crate::time::Timestamp, validity_days: Option<u32>, series_end: Option<crate::time::Timestamp>) -> Option<crate::time::Timestamp> {
    match (crate::time::valid_until(now, validity_days), series_end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_codes_carry_a_check_character() {
        let code = code_from_random([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(code.len(), 11);
        assert!(is_generated(&code));
        assert!(is_generated(&normalize(&code.to_lowercase())));
    }

    proptest! {
        #[test]
        fn any_single_wrong_character_is_detected(random in any::<[u8; 8]>(), pos in 0usize..11, with in 0usize..32) {
            let code = code_from_random(random);
            let mut bytes = code.into_bytes();
            prop_assume!(bytes[pos] != ALPHABET[with]);
            bytes[pos] = ALPHABET[with];
            prop_assert!(!is_generated(std::str::from_utf8(&bytes).unwrap()));
        }
    }

    #[test]
    fn a_coupon_is_valid_for_its_days_but_never_past_its_series() {
        let t = |s: &str| -> crate::time::Timestamp { s.parse().unwrap() };
        let now = t("2026-06-01T10:00:00Z");
        assert_eq!(valid_until(now, Some(30), None), Some(t("2026-07-01T10:00:00Z")));
        assert_eq!(valid_until(now, Some(30), Some(t("2026-06-15T00:00:00Z"))), Some(t("2026-06-15T00:00:00Z")));
        assert_eq!(valid_until(now, Some(3), Some(t("2026-06-15T00:00:00Z"))), Some(t("2026-06-04T10:00:00Z")));
        assert_eq!(valid_until(now, None, Some(t("2026-06-15T00:00:00Z"))), Some(t("2026-06-15T00:00:00Z")));
        assert_eq!(valid_until(now, None, None), None);
    }
}
