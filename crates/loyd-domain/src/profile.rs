//! Profile fields of a customer: the questionnaire answers and custom attributes that
//! are not contact data (`gender`, `city`, `region`, `pet`, …). Campaigns target them
//! (`profile = { city = ["Riga"] }`) and custom conditions read them
//! (`customer.profile['city']`). Name, phone, e-mail and birth date have fields of their
//! own and are not profile fields.

use std::collections::BTreeMap;

/// Most fields a customer may have.
pub const MAX_FIELDS: usize = 50;
/// Longest field name.
pub const MAX_KEY_LEN: usize = 32;
/// Longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// Contact data with fields of their own, refused as profile fields.
const RESERVED: [&str; 5] = ["name", "phone", "email", "birth_date", "id"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("profile field '{0}': a name is 1 to {MAX_KEY_LEN} of a-z, 0-9 and '_', starting with a letter")]
    BadKey(String),
    #[error("profile field '{0}' has a field of its own; set it there")]
    Reserved(String),
    #[error("profile field '{0}': a value is 1 to {MAX_VALUE_CHARS} characters")]
    BadValue(String),
    #[error("a customer has at most {MAX_FIELDS} profile fields")]
    TooMany,
}

/// Checks a field name.
pub fn check_key(key: &str) -> Result<(), ProfileError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.as_bytes()[0].is_ascii_lowercase()
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(ProfileError::BadKey(key.chars().take(MAX_KEY_LEN + 8).collect()));
    }
    if RESERVED.contains(&key) {
        return Err(ProfileError::Reserved(key.to_owned()));
    }
    Ok(())
}

fn check_value(key: &str, value: &str) -> Result<(), ProfileError> {
    let n = value.chars().count();
    if value.trim().is_empty() || n > MAX_VALUE_CHARS || value.chars().any(char::is_control) {
        return Err(ProfileError::BadValue(key.to_owned()));
    }
    Ok(())
}

/// Checks a whole profile.
pub fn check(profile: &BTreeMap<String, String>) -> Result<(), ProfileError> {
    if profile.len() > MAX_FIELDS {
        return Err(ProfileError::TooMany);
    }
    for (k, v) in profile {
        check_key(k)?;
        check_value(k, v)?;
    }
    Ok(())
}

/// `profile` with `changes` applied: a value sets a field, `None` removes it. The
/// result is checked; on error nothing is changed.
pub fn apply(profile: &BTreeMap<String, String>, changes: &BTreeMap<String, Option<String>>) -> Result<BTreeMap<String, String>, ProfileError> {
    let mut out = profile.clone();
    for (k, v) in changes {
        check_key(k)?;
        match v {
            Some(v) => {
                check_value(k, v)?;
                out.insert(k.clone(), v.clone());
            }
            None => {
                out.remove(k);
            }
        }
    }
    check(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn profile_fields_are_named_in_lower_case_and_never_hold_contact_data() {
        assert!(check(&map(&[("city", "Rīga"), ("pet_2", "cat")])).is_ok());
        for bad in ["", "City", "2city", "ci ty", "city-name", &"x".repeat(33)] {
            assert!(matches!(check_key(bad), Err(ProfileError::BadKey(_))), "{bad:?}");
        }
        assert_eq!(check_key("phone"), Err(ProfileError::Reserved("phone".into())));
        assert!(matches!(check(&map(&[("city", " ")])), Err(ProfileError::BadValue(_))));
        assert!(matches!(check(&map(&[("city", "a\nb")])), Err(ProfileError::BadValue(_))));
        let many: BTreeMap<String, String> = (0..51).map(|i| (format!("f{i}"), "x".to_owned())).collect();
        assert_eq!(check(&many), Err(ProfileError::TooMany));
    }

    #[test]
    fn changes_set_and_remove_fields_or_change_nothing() {
        let before = map(&[("city", "Riga"), ("gender", "f")]);
        let changes = BTreeMap::from([("city".to_owned(), Some("Tartu".to_owned())), ("gender".to_owned(), None)]);
        assert_eq!(apply(&before, &changes).unwrap(), map(&[("city", "Tartu")]));
        let bad = BTreeMap::from([("city".to_owned(), Some("Tallinn".to_owned())), ("Bad".to_owned(), None)]);
        assert!(apply(&before, &bad).is_err());
    }
}
