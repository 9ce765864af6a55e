//! The operator's commands, one module per capability, named as in the domain, the
//! store and the admin API: [`customers`] (and their CSV [`import_export`]),
//! [`balances`] (adjustments), [`cards`], [`coupons`], [`credit`], [`staff`] (users and
//! API keys), [`keyring`], [`audit`], [`failures`], [`programs`] (simulation). Stores,
//! terminals, `apply` and `ledger verify` are in `main.rs`; the jobs in `jobs.rs`.
//!
//! This file holds what they share: the actor the audit log names, customer ids and
//! amounts as typed on the command line, the bounds of a month in a time zone.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use loyd_domain::access::CHANNELS;
use loyd_domain::ids::{AssetCode, CustomerId, OrganisationId};
use loyd_domain::money::{self, Minor};
use loyd_domain::org::TimeZoneName;
use loyd_store::{
    AuditFilter, Customer, CustomerFilter, CustomerPatch, FailureFilter, ImportRow, IssueCards, NewCustomer, NewUser, Store, UserPatch,
};

use crate::cli::{ApiKeyCommand, AuditArgs, CardCommand, CouponsCommand, CreditCommand, CustomerCommand, FailuresArgs, KeysCommand, UserCommand};
use crate::settings::Settings;

pub mod audit;
pub mod balances;
pub mod cards;
pub mod coupons;
pub mod credit;
pub mod customers;
pub mod failures;
pub mod import_export;
pub mod keyring;
pub mod programs;
pub mod staff;

/// `yes`/`no` (and `y`, `true`, `1`, …) as an operator or a CSV file writes it.
fn yes_no(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// Who the audit log names for commands run on this machine.
pub fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()))
}

/// Accepts `c_7` or `7`.
pub fn customer_id(text: &str) -> anyhow::Result<i64> {
    Ok(CustomerId::parse(text).map_err(|_| anyhow::anyhow!("'{text}' is not a customer id (c_7 or 7)"))?.0)
}

/// Parses a decimal amount into minor units of `currency`.
async fn amount_of(store: &Store, currency: &AssetCode, text: &str) -> anyhow::Result<(i64, loyd_domain::money::Scale)> {
    let program = store.program().await?;
    let scale = program.currency(currency).map(|c| c.scale).with_context(|| format!("unknown currency {currency}"))?;
    let minor = money::to_minor_exact(money::parse_decimal(text)?, scale)?;
    Ok((minor, scale))
}

/// The first and the following month of `YYYY-MM` in `tz`, as instants.
pub fn month_bounds(month: &str, tz: &TimeZoneName) -> anyhow::Result<(jiff::Timestamp, jiff::Timestamp)> {
    let first: jiff::civil::Date = format!("{month}-01").parse().with_context(|| format!("'{month}' is not a month (YYYY-MM)"))?;
    let next = first.checked_add(jiff::Span::new().months(1))?;
    let at = |d: jiff::civil::Date| -> anyhow::Result<jiff::Timestamp> { Ok(d.to_zoned_datetime(tz.zone())?.timestamp()) };
    Ok((at(first)?, at(next)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_accepted_with_or_without_their_prefix() {
        assert_eq!(customer_id("c_7").unwrap(), 7);
        assert_eq!(customer_id("7").unwrap(), 7);
        assert!(customer_id("x7").is_err());
    }

    #[test]
    fn a_month_in_riga_starts_at_local_midnight() {
        let (from, to) = month_bounds("2026-11", &TimeZoneName::parse("Europe/Riga").unwrap()).unwrap();
        assert_eq!(from.to_string(), "2026-10-31T22:00:00Z");
        assert_eq!(to.to_string(), "2026-11-30T22:00:00Z");
    }
}
