//! Text a client sends, checked at the edge.
//!
//! Every string that reaches Loyd from outside has an alphabet and a length: ids and
//! codes have theirs in [`crate::ids`], card numbers in [`crate::cards`], PINs here, and
//! free text (names, notes, reasons) is one of two kinds:
//! - [`line()`]: printable characters, no control characters at all;
//! - [`lines`]: the same, plus line breaks and tabs (notes, reasons).
//!
//! NUL (U+0000) is refused everywhere: PostgreSQL cannot store it in text, and no field
//! has a use for it. The HTTP layer refuses it in every URI and JSON body before any
//! field is looked at, so both databases see the same inputs.
//!
//! Messages never echo a refused value verbatim: [`escaped`] shows control characters
//! as `\u{…}` escapes, so a refusal can be logged and stored safely.

use std::fmt::Write;

/// Normalises an e-mail address for storage and lookup: trimmed, lowercased; `None`
/// when it is not a plausible address (one `@`, a dot in the domain, no spaces, at
/// most 254 characters).
pub fn normalize_email(text: &str) -> Option<String> {
    let e = text.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = e.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';'));
    ok.then_some(e)
}

/// Why a text field is refused. Each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{field} must not be empty")]
    Empty { field: String },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: String, max: usize },
    #[error("{field} must not contain control characters")]
    Control { field: String },
    #[error("{field} may contain only {allowed}")]
    Alphabet { field: String, allowed: &'static str },
}

impl TextError {
    /// What this says, by key ([`crate::said`]).
    pub fn said(&self) -> crate::said::Said {
        use crate::said;
        match self {
            TextError::Empty { field } => said::text_empty(field),
            TextError::TooLong { field, max } => said::text_too_long(field, max),
            TextError::Control { field } => said::text_control(field),
            TextError::Alphabet { field, allowed } => said::text_alphabet(field, allowed),
        }
    }

    /// The field the error names.
    pub fn field(&self) -> &str {
        match self {
            TextError::Empty { field }
            | TextError::TooLong { field, .. }
            | TextError::Control { field }
            | TextError::Alphabet { field, .. } => field,
        }
    }
}

/// Longest PIN (or access code) a card may have.
pub const MAX_PIN: usize = 16;

fn bounded(field: &str, value: &str, max: usize) -> Result<(), TextError> {
    if value.trim().is_empty() {
        return Err(TextError::Empty { field: field.to_owned() });
    }
    if value.chars().count() > max {
        return Err(TextError::TooLong { field: field.to_owned(), max });
    }
    Ok(())
}

/// One line of free text (a name, a title): 1 to `max` characters, none of them a
/// control character.
pub fn line(field: &str, value: &str, max: usize) -> Result<(), TextError> {
    bounded(field, value, max)?;
    if value.chars().any(char::is_control) {
        return Err(TextError::Control { field: field.to_owned() });
    }
    Ok(())
}

/// Free text over several lines (a note, a reason): as [`line()`], but line breaks and
/// tabs are allowed.
pub fn lines(field: &str, value: &str, max: usize) -> Result<(), TextError> {
    bounded(field, value, max)?;
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(TextError::Control { field: field.to_owned() });
    }
    Ok(())
}

/// A card's PIN or access code as typed: 1 to [`MAX_PIN`] ASCII letters and digits.
pub fn pin(field: &str, value: &str) -> Result<(), TextError> {
    if value.is_empty() {
        return Err(TextError::Empty { field: field.to_owned() });
    }
    if value.len() > MAX_PIN {
        return Err(TextError::TooLong { field: field.to_owned(), max: MAX_PIN });
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TextError::Alphabet { field: field.to_owned(), allowed: "letters and digits" });
    }
    Ok(())
}

/// Whether `text` holds a character no field accepts anywhere (NUL).
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// `text` with every control character written as a `\u{…}` escape and cut to `max`
/// characters: safe to show in a message, a log line or the failure log.
pub fn escaped(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a JSON document (as sent) carries a NUL inside a string: JSON can only
/// spell it as the escape `\u0000`, which serde would decode into the value. An escape
/// counts only when its backslash is not itself escaped (`\\u0000` is the six
/// characters `\u0000`, which is harmless text).
pub fn json_has_nul_escape(json: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"\\u0000";
    let mut from = 0;
    while let Some(pos) = json[from..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let at = from + pos;
        let backslashes = json[..=at].iter().rev().take_while(|b| **b == b'\\').count();
        if backslashes % 2 == 1 {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_refuses_control_characters_and_a_multi_line_text_allows_only_breaks_and_tabs() {
        assert!(line("name", "Anna Bērziņa", 200).is_ok());
        for bad in ["a\u{0}b", "a\nb", "a\u{7f}", "a\u{1b}[31m"] {
            assert_eq!(line("name", bad, 200), Err(TextError::Control { field: "name".into() }), "{bad:?}");
        }
        assert!(lines("body", "first line\nsecond\tline\r\n", 200).is_ok());
        assert_eq!(lines("body", "a\u{0}b", 200), Err(TextError::Control { field: "body".into() }));
        assert_eq!(line("name", "   ", 200), Err(TextError::Empty { field: "name".into() }));
        assert_eq!(line("name", &"ā".repeat(201), 200), Err(TextError::TooLong { field: "name".into(), max: 200 }));
    }

    #[test]
    fn a_pin_is_letters_and_digits_of_bounded_length() {
        assert!(pin("pin", "1712").is_ok());
        assert!(pin("pin", "A1b2").is_ok());
        assert!(pin("pin", "").is_err());
        assert!(pin("pin", "12 34").is_err());
        assert!(pin("pin", "1\u{0}").is_err());
        assert!(pin("pin", &"1".repeat(17)).is_err());
    }

    #[test]
    fn escaped_text_shows_control_characters_as_escapes_and_is_cut() {
        assert_eq!(escaped("a\u{0}b\nc", 100), "a\\u{0}b\\u{a}c");
        assert_eq!(escaped("abcdef", 3), "abc…");
        assert!(!escaped("x\u{0}", 10).contains('\0'));
    }

    #[test]
    fn a_nul_escape_is_found_only_when_its_backslash_is_not_escaped() {
        assert!(json_has_nul_escape(br#"{"receipt_id": "a\u0000b"}"#));
        assert!(json_has_nul_escape(br#"["\\\u0000"]"#));
        assert!(!json_has_nul_escape(br#"{"note": "a\\u0000b"}"#));
        assert!(!json_has_nul_escape(br#"{"a": "\u0001"}"#));
        assert!(!json_has_nul_escape(b""));
    }
}
