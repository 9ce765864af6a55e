//! # loyd-domain
//!
//! The pure core of Loyd: no IO, no async, no database or HTTP types. Everything here
//! is a value or a function of values, so it is tested with tables and properties.
//!
//! ## Layout
//! - [`money`]: decimal parsing, minor units, and the one place that rounds.
//! - [`ids`]: typed identifiers, parsed once at the edge; [`text`]: the alphabet and
//!   length of every other string a client sends.
//! - [`time`]: timestamps and the [`time::Clock`] the outer layers inject.
//! - [`ledger`]: accounts, transfers, two-phase holds, lots, and the batch rules.
//! - [`org`]: stores and terminals as the operator defines them.
//! - [`config`]: the configuration-as-code document loaded by `loyd apply`.
//! - [`program`]: the loyalty program (currencies' rules, card series, campaigns),
//!   specified and compiled; [`engine`] applies it to a receipt.
//! - [`profile`]: customers' profile fields, which campaigns and segments target.
//! - [`access`]: staff roles and permissions; e-mail and consent rules of the CRM.

pub mod access;
pub mod alloc;
pub mod cards;
pub mod config;
pub mod coupons;
pub mod crm;
pub mod engine;
pub mod giftcards;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod operations;
pub mod org;
pub mod passes;
pub mod profile;
pub mod program;
pub mod receipt;
pub mod returns;
pub mod simulate;
pub mod text;
pub mod time;
