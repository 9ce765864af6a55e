//! Typed identifiers. Parse, don't validate: a value of one of these types has
//! already passed its rules, so no later code re-checks or confuses one id with another.
//!
//! Three families:
//! - **codes** chosen by the operator (`StoreCode`, `TerminalCode`, `AssetCode`, and
//!   `ConfigCode` for every object of the program file): short, readable, used in files
//!   and URLs;
//! - **client ids** chosen by a client for idempotency (`TransferId`, `ClientOpId`):
//!   longer, any safe printable characters;
//! - **numbers** the database assigns, printed with a prefix (`CustomerId` `c_7`,
//!   `OrganisationId` `o_3`) and [`AccountId`]; and the [`CardNumber`] printed on a card.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} '{value}' may contain only {allowed}")]
    BadCharacter { what: &'static str, value: String, allowed: &'static str },
    #[error("'{value}' is not a {what} ({example})")]
    NotAnId { what: &'static str, value: String, example: &'static str },
}

fn check(value: &str, what: &'static str, max: usize, allowed: &'static str, ok: fn(u8) -> bool) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { what });
    }
    if value.len() > max {
        return Err(IdError::TooLong { what, max });
    }
    if !value.bytes().all(ok) {
        return Err(IdError::BadCharacter { what, value: crate::text::escaped(value, max), allowed });
    }
    Ok(())
}

fn code_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

fn client_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'#' | b'@' | b'+' | b'=')
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $allowed:literal, $ok:expr) => {
        $(#[$doc])*
        ///
        /// Shared text: a clone is a reference count, not a copy.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check(&value, $what, $max, $allowed, $ok)?;
                Ok(Self(value.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0.to_string()
            }

            /// The text, shared.
            pub fn shared(&self) -> std::sync::Arc<str> {
                std::sync::Arc::clone(&self.0)
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

string_id!(
    /// A store's code, chosen by the operator: `riga-01`.
    StoreCode, "store id", 64, "letters, digits, '-', '_' and '.'", code_char
);
string_id!(
    /// The id the operator gives a program object in the configuration file: a campaign,
    /// a card or coupon series, a counter, a tier or one of its levels, a segment, a
    /// stack group (`welcome-10`, `gold`).
    ConfigCode, "id", 64, "letters, digits, '-', '_' and '.'", code_char
);
string_id!(
    /// A terminal's code, unique within its store: `pos-3`.
    TerminalCode, "terminal id", 64, "letters, digits, '-', '_' and '.'", code_char
);
string_id!(
    /// An asset (currency) code: `EUR`, `bonus`, `wallet`, `visits-gym`.
    AssetCode, "currency code", 32, "letters, digits, '-', '_' and '.'", code_char
);
string_id!(
    /// A ledger transfer's id, chosen by whoever creates the transfer; the idempotency key
    /// of the ledger (`rcpt:pos-3:0001-000123:accrual`).
    TransferId, "transfer id", 160, "letters, digits and - _ . : / # @ + =", client_id_char
);
string_id!(
    /// An id a client chose for one mutating call (`receipt_id`, `return_id`, `operation_id`).
    ClientOpId, "operation id", 128, "letters, digits and - _ . : / # @ + =", client_id_char
);
string_id!(
    /// Why a transfer was made, in snake_case words: `accrual`, `redemption`, `expiry`.
    TransferCode, "transfer code", 48, "letters, digits, '-', '_' and '.'", code_char
);

/// A ledger account's number, assigned by the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

macro_rules! number_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        ///
        /// Printed and parsed here only: `
        #[doc = $prefix]
        /// ` and the number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// The id as written (`
            #[doc = $prefix]
            /// 7`), or the bare number an operator may type.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let digits = text.strip_prefix($prefix).unwrap_or(text);
                match digits.parse::<i64>() {
                    Ok(n) => Ok(Self(n)),
                    Err(_) => Err(IdError::NotAnId { what: $what, value: crate::text::escaped(text, 40), example: concat!($prefix, "7") }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

number_id!(
    /// A customer, numbered by the database: `c_7` on the wire and in every listing.
    CustomerId, "c_", "customer id"
);
number_id!(
    /// An organisation (a company whose contacts share accounts): `o_3`.
    OrganisationId, "o_", "organisation id"
);

string_id!(
    /// A card number as printed, typed or scanned: letters and digits.
    CardNumber, "card number", 32, "letters and digits", |b: u8| b.is_ascii_alphanumeric()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_accept_readable_names_and_refuse_spaces_and_quotes() {
        assert!(StoreCode::parse("riga-01").is_ok());
        assert!(AssetCode::parse("EUR").is_ok());
        assert!(matches!(StoreCode::parse(""), Err(IdError::Empty { .. })));
        assert!(matches!(StoreCode::parse("riga 01"), Err(IdError::BadCharacter { .. })));
        assert!(matches!(StoreCode::parse("x'; drop"), Err(IdError::BadCharacter { .. })));
        assert!(matches!(StoreCode::parse("a".repeat(65)), Err(IdError::TooLong { .. })));
    }

    #[test]
    fn client_ids_accept_the_characters_pos_systems_use() {
        assert!(ClientOpId::parse("0001-R-000045").is_ok());
        assert!(TransferId::parse("rcpt:pos-3:0001/000123#1").is_ok());
        assert!(ClientOpId::parse("ид-1").is_err());
        assert!(ClientOpId::parse("a\nb").is_err());
    }

    #[test]
    fn customer_and_organisation_ids_print_with_their_prefix_and_parse_back() {
        assert_eq!(CustomerId(7).to_string(), "c_7");
        assert_eq!(CustomerId::parse("c_7"), Ok(CustomerId(7)));
        assert_eq!(CustomerId::parse("7"), Ok(CustomerId(7)), "an operator may type the number");
        assert_eq!(OrganisationId::parse("o_3"), Ok(OrganisationId(3)));
        for bad in ["c_", "o_7", "c_7x", "", "c_99999999999999999999"] {
            assert!(CustomerId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(CustomerId::parse("x").unwrap_err().to_string(), "'x' is not a customer id (c_7)");
        assert_eq!(serde_json::to_string(&CustomerId(7)).unwrap(), "\"c_7\"");
        assert_eq!(serde_json::from_str::<OrganisationId>("\"o_3\"").unwrap(), OrganisationId(3));
    }

    #[test]
    fn card_numbers_are_letters_and_digits_up_to_the_longest_a_pos_sends() {
        assert!(CardNumber::parse("2770000000017").is_ok());
        assert!(CardNumber::parse("R181").is_ok());
        assert!(CardNumber::parse("2770 0000").is_err());
        assert!(CardNumber::parse("x".repeat(33)).is_err());
    }
}
