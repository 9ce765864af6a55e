//! Stores and terminals: where receipts come from.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{AssetCode, IdError, StoreCode, TerminalCode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("store name must be 1 to {max} characters, none of them a control character")]
    BadName { max: usize },
    #[error("offline_days must be 1 to {max}")]
    BadOfflineDays { max: u32 },
    #[error("a store's {field} is one line of at most {max} characters")]
    BadLine { field: &'static str, max: usize },
    #[error("'{0}' is not a known IANA time zone (e.g. Europe/Riga)")]
    UnknownTimeZone(String),
}

impl OrgError {
    /// What this says, by key, where it has one.
    pub fn said(&self) -> Option<crate::said::Said> {
        match self {
            OrgError::BadName { max } => Some(crate::said::store_name(max)),
            OrgError::BadOfflineDays { max } => Some(crate::said::offline_days_range(max)),
            OrgError::BadLine { field, max } => Some(crate::said::store_line(field, max)),
            OrgError::Id(_) | OrgError::UnknownTimeZone(_) => None,
        }
    }
}

/// An IANA time zone name that the time-zone database knows: `Europe/Riga`. Keeps
/// the zone it names, so using it needs no database lookup.
#[derive(Debug, Clone)]
pub struct TimeZoneName {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl PartialEq for TimeZoneName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for TimeZoneName {}

impl std::hash::Hash for TimeZoneName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl Serialize for TimeZoneName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl TimeZoneName {
    pub fn parse(name: impl Into<String>) -> Result<Self, OrgError> {
        let name = name.into();
        let zone = jiff::tz::TimeZone::get(&name).map_err(|_| OrgError::UnknownTimeZone(name.clone()))?;
        Ok(TimeZoneName { name, zone })
    }

    pub fn utc() -> Self {
        TimeZoneName { name: "UTC".into(), zone: jiff::tz::TimeZone::UTC }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The zone (a cheap, shared clone).
    pub fn zone(&self) -> jiff::tz::TimeZone {
        self.zone.clone()
    }
}

impl<'de> Deserialize<'de> for TimeZoneName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        TimeZoneName::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A store format (`supermarket`, `discounter`): campaigns target or exclude formats.
pub type StoreFormat = crate::ids::StoreCode;

pub const MAX_STORE_NAME: usize = 200;
/// The longest offline policy a store may have: ten years.
pub const MAX_OFFLINE_DAYS: u32 = 3660;

/// A store as the operator defines it (CLI `loyd store create` or a config file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSpec {
    pub id: StoreCode,
    pub name: String,
    #[serde(default)]
    pub format: Option<StoreFormat>,
    #[serde(default = "TimeZoneName::utc")]
    pub timezone: TimeZoneName,
    /// The money currency of the store's receipts. Default EUR.
    #[serde(default = "default_store_currency")]
    pub currency: AssetCode,
    /// The partner (coalition member) the store belongs to, if any.
    #[serde(default)]
    pub partner: Option<StoreCode>,
    /// How many days back its tills may date a receipt (offline uploads included);
    /// default [`crate::receipt::DEFAULT_OFFLINE_DAYS`]. Older receipts are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_days: Option<u32>,
    /// Where customers find it (the portal's list of stores): `Brīvības iela 1, Rīga`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// When it is open, as customers read it: `Mon–Sat 8–22, Sun 10–20`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<String>,
}

fn default_store_currency() -> AssetCode {
    AssetCode::parse("EUR").expect("valid code")
}

impl StoreSpec {
    pub fn validate(&self) -> Result<(), OrgError> {
        if crate::text::line("name", &self.name, MAX_STORE_NAME).is_err() {
            return Err(OrgError::BadName { max: MAX_STORE_NAME });
        }
        if self.offline_days.is_some_and(|d| d == 0 || d > MAX_OFFLINE_DAYS) {
            return Err(OrgError::BadOfflineDays { max: MAX_OFFLINE_DAYS });
        }
        for (field, text) in [("address", &self.address), ("hours", &self.hours)] {
            if let Some(text) = text
                && crate::text::line(field, text, MAX_STORE_NAME).is_err()
            {
                return Err(OrgError::BadLine { field, max: MAX_STORE_NAME });
            }
        }
        Ok(())
    }
}

/// A terminal (cash register) of a store, known to the server by the hash of its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Terminal {
    pub store: StoreCode,
    pub id: TerminalCode,
}

/// Formats 32 random bytes as a terminal key: `lyt_` and 64 hex digits. The prefix lets
/// secret scanners recognise a leaked key.
pub fn terminal_key_from_bytes(bytes: [u8; 32]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("lyt_{hex}")
}

/// Terminal keys are random, high-entropy secrets, so a fast hash is the right tool:
/// it makes a stolen database useless for calling the API while keeping the per-request
/// lookup to one indexed read. (Staff passwords, which are guessable, use argon2.)
pub fn terminal_key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_checked_against_the_zone_database() {
        assert!(TimeZoneName::parse("Europe/Riga").is_ok());
        assert!(matches!(TimeZoneName::parse("Mars/Olympus"), Err(OrgError::UnknownTimeZone(_))));
    }

    #[test]
    fn store_names_must_not_be_blank_or_huge() {
        let mut s = StoreSpec {
            id: StoreCode::parse("riga-01").unwrap(),
            name: "Riga".into(),
            format: None,
            timezone: TimeZoneName::utc(),
            currency: default_store_currency(),
            partner: None,
            offline_days: None,
            address: None,
            hours: None,
        };
        assert!(s.validate().is_ok());
        s.name = "  ".into();
        assert!(s.validate().is_err());
        s.name = "x".repeat(201);
        assert!(s.validate().is_err());
    }

    #[test]
    fn key_hashes_are_stable_hex_digests() {
        assert_eq!(terminal_key_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
