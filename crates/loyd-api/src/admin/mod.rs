//! The admin API (`/v1/admin/…`), one module per capability, named as in the domain and
//! the store:
//! - [`customers`]: search, profile, consents, merge, purchase and change history;
//! - [`crm_entries`]: notes, contact events, tasks and reminders;
//! - [`organisations`]: companies whose contacts share accounts;
//! - [`cards`]: one-time codes, issuing, blocking, replacement;
//! - [`balances`]: adjustments and statements; [`credit`]: settlements;
//! - [`coupons`]: code generation; [`failures`](mod@failures): the failure log;
//! - [`gifts`](mod@gifts): gifts handed over at receipts; [`receipts`]: one receipt with
//!   its transfers, returns and their transfers;
//! - [`programs`]: the configuration in force, its versions, diffs and rollback, applying,
//!   export as a program file, simulation;
//! - [`stores`]: stores' terminals and their keys;
//! - [`jobs`]: the scheduled jobs' runs, and running one now;
//! - [`reports`](mod@reports): sales, balances, gift cards, campaigns as JSON, CSV, XLSX;
//! - [`fraud`]: fraud alerts and decisions on them; [`segments`]: segments and RFM
//!   groups, their members and history, a condition tried on demand;
//! - [`messages`]: webhooks' secrets and test events, the SMTP password, the delivery
//!   log of webhooks and messages; [`mailings`]: mailings to segments and lists, A/B
//!   tests and their reports;
//! - [`ledger`]: the ledger audit and the operator's own accounts; [`audit`](mod@audit): the audit log; [`staff`]: staff users.
//!
//! This file holds the one route table and the helpers the modules share. Every route
//! is behind [`crate::auth::guard`]: a session or API key whose role holds the route's
//! permission. Changes are written to the audit log. Contact data (name, phone, e-mail,
//! birth date) is shown in the clear only to roles with [`Permission::ContactsRead`];
//! others see it masked, and may not search by it.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, patch, post};
use jiff::Timestamp;
use loyd_domain::access::{Act, Permission, mask_email};
use loyd_domain::config::ConfigDocument;
use loyd_domain::ids::{AssetCode, CustomerId, OrganisationId};
use loyd_domain::money::{self, Minor, Scale};
use loyd_domain::operations::{mask_name, mask_phone};
use loyd_store::{
    Applied, AuditEntry, AuditFilter, CardInfo, CardOwner, Consent, CrmEntry, CrmFilter, CrmPatch, Customer, CustomerFilter, CustomerPatch,
    Failure, FailureFilter, IssueCards, IssuedCard, LedgerAudit, NewCrmEntry, NewUser, Organisation, Purchase, Statement, UserPatch,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Actor, CurrentActor, UserOut};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Json, Path, Query};

pub mod audit;
pub mod balances;
pub mod cards;
pub mod coupons;
pub mod credit;
pub mod crm_entries;
pub mod customers;
pub mod failures;
pub mod fraud;
pub mod gifts;
pub mod jobs;
pub mod ledger;
pub mod mailings;
pub mod organisations;
pub mod programs;
pub mod receipts;
pub mod reports;
pub mod segments;
pub mod staff;
pub mod stores;
pub mod messages;

use self::audit::audit_log;
use self::balances::{adjust, statement};
use self::cards::{block, issue_cards, issue_code, replace_card, unblock};
use self::coupons::generate_coupons;
use self::credit::settle;
use self::crm_entries::{add_crm, add_organisation_crm, customer_crm, list_crm, organisation_crm, update_crm};
use self::customers::{create_customer, erase, get_customer, history, list_customers, merge, purchases, update_customer};
use self::failures::failures;
use self::ledger::audit;
use self::organisations::{create_organisation, get_organisation, list_organisations};
use self::programs::{apply_config, diff, export, get_config, get_version, list_versions, rollback, simulate};
use self::staff::{create_user, list_users, update_user};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/admin/customers", get(list_customers).post(create_customer))
        .route("/v1/admin/customers/{id}", get(get_customer).patch(update_customer))
        .route("/v1/admin/customers/{id}/merge", post(merge))
        .route("/v1/admin/customers/{id}/erasure", post(erase))
        .route("/v1/admin/customers/{id}/purchases", get(purchases))
        .route("/v1/admin/customers/{id}/history", get(history))
        .route("/v1/admin/customers/{id}/notifications", get(customers::notifications))
        .route("/v1/admin/customers/{id}/crm", get(customer_crm).post(add_crm))
        .route("/v1/admin/crm", get(list_crm))
        .route("/v1/admin/crm/{id}", patch(update_crm))
        .route("/v1/admin/organisations", get(list_organisations).post(create_organisation))
        .route("/v1/admin/organisations/{id}", get(get_organisation))
        .route("/v1/admin/organisations/{id}/crm", get(organisation_crm).post(add_organisation_crm))
        .route("/v1/admin/cards/{number}/replace", post(replace_card))
        .route("/v1/admin/users", get(list_users).post(create_user))
        .route("/v1/admin/users/{login}", patch(update_user))
        .route("/v1/admin/audit", get(audit_log))
        .route("/v1/admin/customers/{id}/codes", post(issue_code))
        .route("/v1/admin/customers/{id}/adjustments", post(adjust))
        .route("/v1/admin/customers/{id}/statement", get(statement))
        .route("/v1/admin/customers/{id}/balances", get(balances::balances))
        .route("/v1/admin/customers/{id}/credit-settlements", post(settle))
        .route("/v1/admin/cards", post(issue_cards))
        .route("/v1/admin/coupons", post(generate_coupons))
        .route("/v1/admin/cards/{number}/block", post(block))
        .route("/v1/admin/cards/{number}/unblock", post(unblock))
        .route("/v1/admin/failures", get(failures))
        .route("/v1/admin/gifts", get(gifts::gifts))
        .route("/v1/admin/api-keys", get(staff::list_api_keys).post(staff::create_api_key))
        .route("/v1/admin/api-keys/{name}/revoke", post(staff::revoke_api_key))
        .route("/v1/admin/stores/{store}/terminals", get(stores::terminals).post(stores::create_terminal))
        .route("/v1/admin/stores/{store}/terminals/{terminal}/rotate", post(stores::rotate))
        .route("/v1/admin/stores/{store}/terminals/{terminal}/revoke", post(stores::revoke))
        .route("/v1/admin/config", get(get_config).post(apply_config))
        .route("/v1/admin/config/versions", get(list_versions))
        .route("/v1/admin/config/versions/{version}", get(get_version))
        .route("/v1/admin/config/diff", get(diff))
        .route("/v1/admin/config/export", get(export))
        .route("/v1/admin/config/rollback", post(rollback))
        .route("/v1/admin/config/simulate", post(simulate))
        .route("/v1/admin/config/preview", post(programs::preview))
        .route("/v1/admin/config/{section}", get(programs::list_objects))
        .route(
            "/v1/admin/config/{section}/{id}",
            get(programs::get_object).put(programs::put_object).patch(programs::patch_object).delete(programs::remove_object),
        )
        .route("/v1/admin/config/{section}/{id}/versions", get(programs::object_versions))
        .route("/v1/admin/campaigns/{id}/status", post(programs::campaign_status))
        .route("/v1/admin/jobs", get(jobs::jobs))
        .route("/v1/admin/jobs/runs", get(jobs::runs))
        .route("/v1/admin/jobs/{job}/run", post(jobs::run))
        .route("/v1/admin/ledger/audit", get(audit))
        .route("/v1/admin/ledger/system", get(ledger::system))
        .route("/v1/admin/reports", get(reports::list))
        .route("/v1/admin/reports/{report}", get(reports::report))
        .route("/v1/admin/receipts/{id}", get(receipts::receipt))
        .route("/v1/admin/segments", get(segments::segments))
        .route("/v1/admin/segments/try", post(segments::try_segment))
        .route("/v1/admin/segments/{id}/members", get(segments::members))
        .route("/v1/admin/segments/{id}/history", get(segments::history))
        .route("/v1/admin/fraud/alerts", get(fraud::alerts))
        .route("/v1/admin/fraud/alerts/{id}", get(fraud::alert))
        .route("/v1/admin/fraud/alerts/{id}/decision", post(fraud::decision))
        .route("/v1/admin/webhooks", get(messages::webhooks))
        .route("/v1/admin/webhooks/{id}/secret", axum::routing::put(messages::secret))
        .route("/v1/admin/webhooks/{id}/test", post(messages::test))
        .route("/v1/admin/channels/{channel}/credential", axum::routing::put(messages::credential))
        .route("/v1/admin/channels/telegram/webhook", post(messages::telegram_webhook))
        .route("/v1/admin/messages/preview", post(messages::preview_message))
        .route("/v1/admin/deliveries", get(messages::deliveries))
        .route("/v1/admin/deliveries/{id}/retry", post(messages::retry))
        .route("/v1/admin/mailings", get(mailings::list).post(mailings::create))
        .route("/v1/admin/mailings/{id}", get(mailings::report))
        .route("/v1/admin/mailings/{id}/cancel", post(mailings::cancel))
        .route_layer(middleware::from_fn_with_state(state, crate::auth::guard))
}

/// Writes an audit entry for a change that has already been made. A failure is logged
/// loudly rather than answered: the change stands and the client must not retry it.
pub(crate) async fn audit_after(state: &AppState, actor: &Actor, action: &str, kind: &str, id: &str, after: serde_json::Value) {
    if let Err(e) = state.store.record_audit(actor.name(), action.into(), (kind.into(), id.into()), None, Some(after)).await {
        tracing::error!(error = %e, action, object = id, "could not write the audit log");
    }
}

/// A CSV file to download (RFC 4180: fields with a comma, quote or line break quoted),
/// answered `201 Created` as the batch it lists was just made.
pub(crate) fn csv_download(file: &str, header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> axum::response::Response {
    use axum::http::{HeaderValue, header as h};
    use axum::response::IntoResponse;
    let field = |f: &str| if f.contains([',', '"', '\r', '\n']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.to_owned() };
    let mut text = header.join(",") + "\r\n";
    for row in rows {
        text.push_str(&row.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
        text.push_str("\r\n");
    }
    let safe: String = file.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")).unwrap_or(HeaderValue::from_static("attachment"));
    (StatusCode::CREATED, [(h::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")), (h::CONTENT_DISPOSITION, disposition)], text).into_response()
}

/// A batch's operation id as the client sent it, checked like every client id.
pub(crate) fn batch_id(id: Option<String>) -> Result<Option<String>, ApiError> {
    id.map(|id| loyd_domain::ids::ClientOpId::parse(&id).map(|_| id).map_err(|e| ApiError::validation(format!("operation_id: {e}")))).transpose()
}

/// A batch refused because its operation id made one already: said so, and that its
/// codes or PINs were in that first answer only.
pub(crate) fn batch_refusal(e: loyd_store::StoreError) -> ApiError {
    match e {
        loyd_store::StoreError::AlreadyExists { what: "batch", id } => ApiError::new(
            ErrorCode::AlreadyExists,
            format!("batch '{id}' was already made; its codes and PINs were in its first answer only and are kept nowhere"),
        )
        .with_details(json!({ "operation_id": id })),
        other => other.into(),
    }
}

/// Whether a request asks for CSV (`Accept: text/csv`).
pub(crate) fn wants_csv(headers: &axum::http::HeaderMap) -> bool {
    headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/csv"))
}

/// `c_7` (or `7`) to 7.
pub(crate) fn customer_id(text: &str) -> Result<i64, ApiError> {
    CustomerId::parse(text).map(|c| c.0).map_err(|e| ApiError::validation(e.to_string()))
}

/// Whether a customer is a contact of an organisation: their balance is its, so any new
/// way to identify them is a key to it ([`Act`]).
pub(crate) async fn is_contact(state: &AppState, id: i64) -> Result<bool, ApiError> {
    Ok(state.store.customer(id).await?.is_some_and(|c| c.organisation.is_some()))
}

/// The card an admin action names, with whose it is; `404` when there is none.
pub(crate) async fn card_owner(state: &AppState, number: &str) -> Result<CardOwner, ApiError> {
    state.store.card_owner(number.to_owned()).await?.ok_or_else(|| ApiError::not_found(format!("card '{number}' does not exist")))
}

pub(crate) async fn scale_of(state: &AppState, currency: &AssetCode) -> Result<Scale, ApiError> {
    let program = state.store.program().await?;
    program
        .currency(currency)
        .map(|c| c.scale)
        .ok_or_else(|| ApiError::not_found(format!("currency '{currency}' does not exist")))
}

async fn minor_of(state: &AppState, currency: &AssetCode, text: &str) -> Result<(i64, Scale), ApiError> {
    let scale = scale_of(state, currency).await?;
    let value = money::parse_decimal(text).map_err(|e| ApiError::validation(e.to_string()))?;
    let minor = money::to_minor_exact(value, scale).map_err(|e| ApiError::validation(e.to_string()))?;
    Ok((minor, scale))
}

fn organisation_id(text: &str) -> Result<i64, ApiError> {
    OrganisationId::parse(text).map(|o| o.0).map_err(|e| ApiError::validation(e.to_string()))
}

fn date(text: &str) -> Result<jiff::civil::Date, ApiError> {
    text.parse().map_err(|_| ApiError::validation(format!("'{text}' is not a date (YYYY-MM-DD)")))
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A CRM text shown to a role without the contact-data permission.
const HIDDEN: &str = "•••";
