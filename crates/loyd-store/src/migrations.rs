//! Migrations are embedded in the binary (no files needed at run time) and run at start
//! and by `loyd migrate`. Each backend has its own DDL; versions match one to one.

use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::error::StoreError;

macro_rules! migrations {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        Migrator::with_migrations(vec![$(
            Migration::new(
                $version,
                $name.into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(include_str!(concat!("../migrations/", $dir, "/", $name, ".sql"))),
                false,
            ),
        )*])
    };
}

pub(crate) fn sqlite() -> Migrator {
    migrations!("sqlite": 1 "0001_foundation", 2 "0002_pos", 3 "0003_rules", 4 "0004_profiles", 5 "0005_crm", 6 "0006_history_indexes", 7 "0007_purchase_page_index", 8 "0008_receipt_compression", 9 "0009_hardening", 10 "0010_gift_issue_indexes", 11 "0011_job_runs", 12 "0012_batches", 13 "0013_day_sales", 14 "0014_ledger_flows", 15 "0015_campaign_control", 16 "0016_fraud", 17 "0017_segments", 18 "0018_transactions", 19 "0019_period_buyers", 20 "0020_customer_facts", 21 "0021_events", 22 "0022_event_dedupe", 23 "0023_mailings", 24 "0024_birthdays", 25 "0025_staff_email", 26 "0026_messengers_portal", 27 "0027_portal_sign_in", 28 "0028_rewards_privacy")
}

pub(crate) fn postgres() -> Migrator {
    migrations!("postgres": 1 "0001_foundation", 2 "0002_pos", 3 "0003_rules", 4 "0004_profiles", 5 "0005_crm", 6 "0006_history_indexes", 7 "0007_purchase_page_index", 8 "0008_receipt_compression", 9 "0009_hardening", 10 "0010_gift_issue_indexes", 11 "0011_job_runs", 12 "0012_batches", 13 "0013_day_sales", 14 "0014_ledger_flows", 15 "0015_campaign_control", 16 "0016_fraud", 17 "0017_segments", 18 "0018_transactions", 19 "0019_period_buyers", 20 "0020_customer_facts", 21 "0021_events", 22 "0022_event_dedupe", 23 "0023_mailings", 24 "0024_birthdays", 25 "0025_staff_email", 26 "0026_messengers_portal", 27 "0027_portal_sign_in", 28 "0028_rewards_privacy")
}

pub(crate) fn error(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
        other => StoreError::Unavailable(format!("migration failed: {other}")),
    }
}
