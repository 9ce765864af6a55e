//! The CRM admin routes: customers (search, profile, consents, merge, purchase history,
//! change history), CRM entries (notes, contact events, tasks, reminders),
//! organisations, card replacement, staff users and the audit log.
//!
//! Contact data (name, phone, e-mail, birth date) is shown in the clear only to roles
//! with [`Permission::ContactsRead`]; others see it masked, and may not search by it.

use loyd_domain::ids::{CustomerId, OrganisationId};
use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::Router;
use jiff::Timestamp;
use loyd_domain::access::{Act, Permission, mask_email};
use loyd_domain::operations::{mask_name, mask_phone};
use loyd_store::{
    AuditEntry, AuditFilter, CardInfo, Consent, CrmEntry, CrmFilter, CrmPatch, Customer, CustomerFilter, CustomerPatch, NewCrmEntry,
    NewUser, Organisation, Purchase, UserPatch,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::admin::customer_id;
use crate::auth::{CurrentActor, UserOut};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::{Json, Path, Query};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/customers", get(list_customers).post(create_customer))
        .route("/v1/admin/customers/{id}", get(get_customer).patch(update_customer))
        .route("/v1/admin/customers/{id}/merge", post(merge))
        .route("/v1/admin/customers/{id}/purchases", get(purchases))
        .route("/v1/admin/customers/{id}/history", get(history))
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

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentOut {
    pub granted: bool,
    #[schema(value_type = String)]
    pub at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOut {
    /// `c_7`.
    pub id: String,
    /// Masked (`+371 •••• 0000`) without the contact-data permission.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// YYYY-MM-DD; hidden without the contact-data permission.
    pub birth_date: Option<String>,
    pub profile: BTreeMap<String, String>,
    /// Per channel: sms, email, push, phone, post.
    pub consents: BTreeMap<String, ConsentOut>,
    /// Set when the customer left all marketing (membership and balances stay).
    #[schema(value_type = Option<String>)]
    pub opted_out_at: Option<Timestamp>,
    /// `o_3`: the organisation whose accounts this contact uses.
    pub organisation: Option<String>,
    /// `c_5`: this record is a duplicate merged into that customer.
    pub merged_into: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Cards (on single-customer reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub cards: Option<Vec<CardInfo>>,
}

fn customer_out(c: Customer, clear: bool) -> CustomerOut {
    let consents = c.consents.into_iter().map(|(k, Consent { granted, at })| (k, ConsentOut { granted, at })).collect();
    CustomerOut {
        id: CustomerId(c.id).to_string(),
        phone: c.phone.map(|p| if clear { p } else { mask_phone(&p) }),
        email: c.email.map(|e| if clear { e } else { mask_email(&e) }),
        name: c.name.map(|n| if clear { n } else { mask_name(&n) }),
        birth_date: c.birth_date.filter(|_| clear).map(|d| d.to_string()),
        profile: c.profile,
        consents,
        opted_out_at: c.opted_out_at,
        organisation: c.organisation.map(|o| OrganisationId(o).to_string()),
        merged_into: c.merged_into.map(|m| CustomerId(m).to_string()),
        created_at: c.created_at,
        cards: None,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CustomerQuery {
    /// Exact phone, international format.
    pub phone: Option<String>,
    /// Exact e-mail (any case).
    pub email: Option<String>,
    /// A card number.
    pub card: Option<String>,
    /// Words that start words of the name (3 letters or more each): `ann bēr`.
    pub name: Option<String>,
    /// `o_3`: the organisation's contacts.
    pub organisation: Option<String>,
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    /// At most 1000; default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    pub customers: Vec<CustomerOut>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// Find customers by phone, e-mail, card, name or organisation; without filters, all
/// customers page by page.
#[utoipa::path(get, path = "/v1/admin/customers", tag = "crm", security(("api_key" = []), ("session" = [])), params(CustomerQuery),
    responses((status = 200, body = CustomerPage), (status = "4XX", body = ErrorBody)))]
pub async fn list_customers(State(state): State<AppState>, actor: CurrentActor, Query(q): Query<CustomerQuery>) -> Result<Json<CustomerPage>, ApiError> {
    let clear = actor.can(Permission::ContactsRead);
    if !clear && (q.phone.is_some() || q.email.is_some() || q.name.is_some()) {
        return Err(ApiError::new(ErrorCode::Forbidden, "searching by contact data needs the contact-data permission"));
    }
    if q.name.as_ref().is_some_and(|n| n.len() > 200) || q.card.as_ref().is_some_and(|c| c.len() > 64) {
        return Err(ApiError::validation("search terms are at most 200 characters (cards 64)"));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = CustomerFilter {
        phone: q.phone,
        email: q.email,
        card: q.card,
        name: q.name,
        organisation: q.organisation.as_deref().map(organisation_id).transpose()?,
        after_id: q.after.as_deref().map(customer_id).transpose()?,
        limit,
    };
    let customers = state.store.customers(filter).await?;
    let next_after = crate::extract::next_page(&customers, limit, |c| CustomerId(c.id).to_string());
    Ok(Json(CustomerPage { customers: customers.into_iter().map(|c| customer_out(c, clear)).collect(), next_after }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// International format, e.g. +37120000000.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// YYYY-MM-DD, for birthday campaigns.
    pub birth_date: Option<String>,
    /// Profile fields (`gender`, `city`, `region`, custom ones): names of a-z, 0-9 and
    /// `_`, string values. Campaigns and segments target them.
    #[serde(default)]
    pub profile: BTreeMap<String, String>,
    /// Consent per channel (sms, email, push, phone, post).
    #[serde(default)]
    pub consents: BTreeMap<String, bool>,
    /// `o_3`: a contact of this organisation (shares its accounts).
    pub organisation: Option<String>,
}

/// Register a customer.
#[utoipa::path(post, path = "/v1/admin/customers", tag = "crm", security(("api_key" = []), ("session" = [])), request_body = NewCustomer,
    responses((status = 201, body = CustomerOut), (status = "4XX", body = ErrorBody)))]
pub async fn create_customer(State(state): State<AppState>, actor: CurrentActor, Json(body): Json<NewCustomer>) -> Result<(StatusCode, Json<CustomerOut>), ApiError> {
    if body.organisation.is_some() {
        actor.require(Act::SetOrganisation)?;
    }
    let new = loyd_store::NewCustomer {
        phone: body.phone,
        email: body.email,
        name: body.name,
        birth_date: body.birth_date.as_deref().map(date).transpose()?,
        profile: body.profile,
        consents: body.consents,
        organisation: body.organisation.as_deref().map(organisation_id).transpose()?,
    };
    let c = state.store.create_customer(new, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(customer_out(c, actor.can(Permission::ContactsRead)))))
}

/// A customer with their cards.
#[utoipa::path(get, path = "/v1/admin/customers/{id}", tag = "crm", security(("api_key" = []), ("session" = [])), params(("id" = String, Path)),
    responses((status = 200, body = CustomerOut), (status = "4XX", body = ErrorBody)))]
pub async fn get_customer(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>) -> Result<Json<CustomerOut>, ApiError> {
    let id = customer_id(&id)?;
    let c = state.store.customer(id).await?.ok_or_else(|| ApiError::not_found(format!("customer {} does not exist", CustomerId(id))))?;
    let mut out = customer_out(c, actor.can(Permission::ContactsRead));
    out.cards = Some(state.store.customer_cards(id).await?);
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerChanges {
    /// A new phone; `null` removes it. Absent fields are kept.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub birth_date: Option<Option<String>>,
    /// Profile fields to set; `null` removes a field. Fields not named are kept.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, Option<String>>)]
    pub profile: BTreeMap<String, Option<String>>,
    /// Consents given (`true`) or withdrawn (`false`), per channel.
    #[serde(default)]
    pub consents: BTreeMap<String, bool>,
    /// `true`: leave all marketing (every consent withdrawn; membership stays).
    /// `false`: come back (consents are then given one by one).
    pub opted_out: Option<bool>,
    /// `o_3` to make the customer a contact of an organisation (their balances move to
    /// its accounts); `null` to detach.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub organisation: Option<Option<String>>,
}

/// Change a customer: contact data, profile fields, consents, opt-out, organisation.
#[utoipa::path(patch, path = "/v1/admin/customers/{id}", tag = "crm", security(("api_key" = []), ("session" = [])), params(("id" = String, Path)),
    request_body = CustomerChanges, responses((status = 200, body = CustomerOut), (status = "4XX", body = ErrorBody)))]
pub async fn update_customer(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path(id): Path<String>,
    Json(body): Json<CustomerChanges>,
) -> Result<Json<CustomerOut>, ApiError> {
    let clear = actor.can(Permission::ContactsRead);
    let touches_contacts = body.phone.is_some() || body.email.is_some() || body.name.is_some() || body.birth_date.is_some();
    if touches_contacts && !clear {
        return Err(ApiError::new(ErrorCode::Forbidden, "changing contact data needs the contact-data permission"));
    }
    let id = customer_id(&id)?;
    if body.organisation.is_some() {
        actor.require(Act::SetOrganisation)?;
    }
    if body.phone.is_some() && crate::admin::is_contact(&state, id).await? {
        actor.require(Act::ChangeContactPhone)?;
    }
    let patch = CustomerPatch {
        phone: body.phone,
        email: body.email,
        name: body.name,
        birth_date: body.birth_date.map(|d| d.as_deref().map(date).transpose()).transpose()?,
        profile: body.profile,
        consents: body.consents,
        opted_out: body.opted_out,
        organisation: body.organisation.map(|o| o.as_deref().map(organisation_id).transpose()).transpose()?,
    };
    let c = state.store.update_customer(id, patch, actor.name()).await?;
    Ok(Json(customer_out(c, clear)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// `c_9`: the duplicate to merge into this customer.
    pub duplicate: String,
}

/// Merge a duplicate into this customer: cards, receipts, coupons, CRM entries and
/// balances (with their expiry dates) move over; the duplicate remains as a pointer.
#[utoipa::path(post, path = "/v1/admin/customers/{id}/merge", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), request_body = MergeRequest, responses((status = 200, body = CustomerOut), (status = "4XX", body = ErrorBody)))]
pub async fn merge(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Json(body): Json<MergeRequest>) -> Result<Json<CustomerOut>, ApiError> {
    let c = state.store.merge_customers(customer_id(&id)?, customer_id(&body.duplicate)?, actor.name()).await?;
    Ok(Json(customer_out(c, actor.can(Permission::ContactsRead))))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PurchaseQuery {
    /// Only this store.
    pub store: Option<String>,
    /// Only receipts before this time (the `next_before` of the previous page).
    #[param(value_type = Option<String>)]
    pub before: Option<Timestamp>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseOut {
    pub store: String,
    pub terminal: String,
    pub receipt_id: String,
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub status: String,
    pub currency: String,
    pub total: String,
    pub discount: String,
    pub redeemed_value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchasePage {
    pub purchases: Vec<PurchaseOut>,
    #[schema(value_type = Option<String>)]
    pub next_before: Option<Timestamp>,
}

/// The customer's purchase history, newest first (a store manager sees their stores'
/// receipts only).
#[utoipa::path(get, path = "/v1/admin/customers/{id}/purchases", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path), PurchaseQuery), responses((status = 200, body = PurchasePage), (status = "4XX", body = ErrorBody)))]
pub async fn purchases(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Query(q): Query<PurchaseQuery>) -> Result<Json<PurchasePage>, ApiError> {
    let stores = match (&q.store, actor.stores()) {
        (Some(s), _) => {
            actor.check_store(s)?;
            Some(vec![s.clone()])
        }
        (None, Some(mine)) => Some(mine.to_vec()),
        (None, None) => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows: Vec<Purchase> = state.store.purchases(customer_id(&id)?, stores, q.before, limit).await?;
    let program = state.store.program().await?;
    let next_before = crate::extract::next_page(&rows, limit, |p| p.at);
    let purchases = rows
        .into_iter()
        .map(|p| {
            let scale = program.scale_of(&p.currency);
            let m = |v: i64| loyd_domain::money::Minor::new(v, scale).to_string();
            PurchaseOut {
                total: m(p.total),
                discount: m(p.discount),
                redeemed_value: m(p.redeemed_value),
                store: p.store,
                terminal: p.terminal,
                receipt_id: p.receipt_id,
                at: p.at,
                status: p.status,
                currency: p.currency,
            }
        })
        .collect();
    Ok(Json(PurchasePage { purchases, next_before }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// `customer`, `card`, `user`, `organisation`, `crm_entry`, `config`, …
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    /// `user:anna`, `key:erp`, `cli`.
    pub actor: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}

/// What a role without the contact-data permission sees of a record: contact data
/// masked, birth dates and CRM texts withheld.
fn mask_contacts(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, field) in map.iter_mut() {
                match (k.as_str(), &*field) {
                    ("phone", serde_json::Value::String(p)) => *field = mask_phone(p).into(),
                    ("email", serde_json::Value::String(e)) => *field = mask_email(e).into(),
                    ("name", serde_json::Value::String(n)) => *field = mask_name(n).into(),
                    ("birth_date", _) => *field = serde_json::Value::Null,
                    ("body", serde_json::Value::String(_)) => *field = HIDDEN.into(),
                    _ => mask_contacts(field),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_contacts),
        _ => {}
    }
}

/// A CRM text shown to a role without the contact-data permission.
const HIDDEN: &str = "•••";

async fn audit_page(state: &AppState, actor: &crate::auth::Actor, filter: AuditFilter) -> Result<Json<AuditPage>, ApiError> {
    let limit = filter.limit;
    let mut entries = state.store.audit_log(filter).await?;
    if !actor.can(Permission::ContactsRead) {
        for e in entries.iter_mut().filter(|e| matches!(e.object_kind.as_str(), "customer" | "crm_entry")) {
            e.before.iter_mut().chain(e.after.iter_mut()).for_each(mask_contacts);
        }
    }
    let next_before = crate::extract::next_page(&entries, limit, |e| e.id);
    Ok(Json(AuditPage { entries, next_before }))
}

/// The audit log: every admin change, who made it, when, before and after; newest first.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "crm", security(("api_key" = []), ("session" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = "4XX", body = ErrorBody)))]
pub async fn audit_log(State(state): State<AppState>, actor: CurrentActor, Query(q): Query<AuditQuery>) -> Result<Json<AuditPage>, ApiError> {
    let filter = AuditFilter {
        object_kind: q.object_kind,
        object_id: q.object_id,
        actor: q.actor,
        before_id: q.before,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    audit_page(&state, &actor, filter).await
}

/// A customer's change history (their audit entries), newest first.
#[utoipa::path(get, path = "/v1/admin/customers/{id}/history", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path), AuditQuery), responses((status = 200, body = AuditPage), (status = "4XX", body = ErrorBody)))]
pub async fn history(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Query(q): Query<AuditQuery>) -> Result<Json<AuditPage>, ApiError> {
    let filter = AuditFilter {
        object_kind: Some("customer".into()),
        object_id: Some(CustomerId(customer_id(&id)?).to_string()),
        actor: q.actor,
        before_id: q.before,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    audit_page(&state, &actor, filter).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CrmOut {
    pub id: i64,
    pub customer: Option<String>,
    pub organisation: Option<String>,
    /// note, event, task, reminder.
    pub kind: String,
    pub channel: Option<String>,
    pub body: String,
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Timestamp>,
    pub assignee: Option<String>,
    /// open, done, cancelled.
    pub status: String,
    pub created_by: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
}

impl From<CrmEntry> for CrmOut {
    fn from(e: CrmEntry) -> Self {
        CrmOut {
            id: e.id,
            customer: e.customer.map(|c| CustomerId(c).to_string()),
            organisation: e.organisation.map(|o| OrganisationId(o).to_string()),
            kind: e.kind.name().into(),
            channel: e.channel,
            body: e.body,
            due_at: e.due_at,
            assignee: e.assignee,
            status: e.status.name().into(),
            created_by: e.created_by,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CrmQuery {
    pub assignee: Option<String>,
    /// open, done, cancelled.
    pub status: Option<String>,
    /// note, event, task, reminder.
    pub kind: Option<String>,
    /// `o_3`.
    pub organisation: Option<String>,
    /// Only entries due before this time (overdue tasks: `status=open&due_before=<now>`).
    #[param(value_type = Option<String>)]
    pub due_before: Option<Timestamp>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CrmPage {
    pub entries: Vec<CrmOut>,
    pub next_before: Option<i64>,
}

async fn crm_page(state: &AppState, actor: &crate::auth::Actor, filter: CrmFilter) -> Result<Json<CrmPage>, ApiError> {
    let limit = filter.limit;
    let entries = state.store.crm_entries(filter).await?;
    let next_before = crate::extract::next_page(&entries, limit, |e| e.id);
    let clear = actor.can(Permission::ContactsRead);
    let entries = entries
        .into_iter()
        .map(|e| {
            let mut out = CrmOut::from(e);
            if !clear {
                // Staff write personal details into CRM texts.
                out.body = HIDDEN.into();
            }
            out
        })
        .collect();
    Ok(Json(CrmPage { entries, next_before }))
}

fn crm_filter(q: CrmQuery, customer: Option<i64>) -> Result<CrmFilter, ApiError> {
    Ok(CrmFilter {
        customer,
        organisation: q.organisation.as_deref().map(organisation_id).transpose()?,
        assignee: q.assignee,
        status: q.status,
        kind: q.kind,
        due_before: q.due_before,
        before_id: q.before,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    })
}

/// CRM entries of every customer and organisation: a staff member's task list.
#[utoipa::path(get, path = "/v1/admin/crm", tag = "crm", security(("api_key" = []), ("session" = [])), params(CrmQuery),
    responses((status = 200, body = CrmPage), (status = "4XX", body = ErrorBody)))]
pub async fn list_crm(State(state): State<AppState>, actor: CurrentActor, Query(q): Query<CrmQuery>) -> Result<Json<CrmPage>, ApiError> {
    crm_page(&state, &actor, crm_filter(q, None)?).await
}

/// A customer's notes, contact events, tasks and reminders, newest first.
#[utoipa::path(get, path = "/v1/admin/customers/{id}/crm", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path), CrmQuery), responses((status = 200, body = CrmPage), (status = "4XX", body = ErrorBody)))]
pub async fn customer_crm(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Query(q): Query<CrmQuery>) -> Result<Json<CrmPage>, ApiError> {
    crm_page(&state, &actor, crm_filter(q, Some(customer_id(&id)?))?).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCrm {
    /// note, event (a contact: call, visit, message), task, reminder.
    pub kind: String,
    /// For events: sms, email, push, phone, post.
    pub channel: Option<String>,
    /// The text (sealed at rest).
    pub body: String,
    /// Tasks and reminders: when.
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Timestamp>,
    /// A staff login.
    pub assignee: Option<String>,
}

/// An organisation's notes, contact events, tasks and reminders, newest first.
#[utoipa::path(get, path = "/v1/admin/organisations/{id}/crm", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path), CrmQuery), responses((status = 200, body = CrmPage), (status = "4XX", body = ErrorBody)))]
pub async fn organisation_crm(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Query(q): Query<CrmQuery>) -> Result<Json<CrmPage>, ApiError> {
    let mut filter = crm_filter(q, None)?;
    filter.organisation = Some(organisation_id(&id)?);
    crm_page(&state, &actor, filter).await
}

/// Record a note, contact event, task or reminder about an organisation.
#[utoipa::path(post, path = "/v1/admin/organisations/{id}/crm", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), request_body = NewCrm, responses((status = 201, body = CrmOut), (status = "4XX", body = ErrorBody)))]
pub async fn add_organisation_crm(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path(id): Path<String>,
    Json(body): Json<NewCrm>,
) -> Result<(StatusCode, Json<CrmOut>), ApiError> {
    let entry = NewCrmEntry {
        customer: None,
        organisation: Some(organisation_id(&id)?),
        kind: body.kind,
        channel: body.channel,
        body: body.body,
        due_at: body.due_at,
        assignee: body.assignee,
    };
    let e = state.store.add_crm_entry(entry, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(e.into())))
}

/// Record a note, contact event, task or reminder about a customer.
#[utoipa::path(post, path = "/v1/admin/customers/{id}/crm", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), request_body = NewCrm, responses((status = 201, body = CrmOut), (status = "4XX", body = ErrorBody)))]
pub async fn add_crm(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Json(body): Json<NewCrm>) -> Result<(StatusCode, Json<CrmOut>), ApiError> {
    let entry = NewCrmEntry {
        customer: Some(customer_id(&id)?),
        organisation: None,
        kind: body.kind,
        channel: body.channel,
        body: body.body,
        due_at: body.due_at,
        assignee: body.assignee,
    };
    let e = state.store.add_crm_entry(entry, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(e.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmChanges {
    /// open, done, cancelled.
    pub status: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Option<Timestamp>>,
}

/// Close, reassign or reschedule a task or reminder.
#[utoipa::path(patch, path = "/v1/admin/crm/{id}", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = i64, Path)), request_body = CrmChanges, responses((status = 200, body = CrmOut), (status = "4XX", body = ErrorBody)))]
pub async fn update_crm(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<i64>, Json(body): Json<CrmChanges>) -> Result<Json<CrmOut>, ApiError> {
    let patch = CrmPatch { status: body.status, assignee: body.assignee, due_at: body.due_at };
    Ok(Json(state.store.update_crm_entry(id, patch, actor.name()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    pub name: String,
    /// VAT or company registration number; unique.
    pub tax_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationOut {
    /// `o_3`.
    pub id: String,
    pub name: String,
    pub tax_id: Option<String>,
    /// Its contacts (`c_7`), who share its accounts.
    pub contacts: Vec<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

impl From<Organisation> for OrganisationOut {
    fn from(o: Organisation) -> Self {
        OrganisationOut {
            id: OrganisationId(o.id).to_string(),
            name: o.name,
            tax_id: o.tax_id,
            contacts: o.contacts.into_iter().map(|c| CustomerId(c).to_string()).collect(),
            created_at: o.created_at,
        }
    }
}

/// Register an organisation (a wholesale counterparty); its contacts are customers
/// with `organisation` set.
#[utoipa::path(post, path = "/v1/admin/organisations", tag = "crm", security(("api_key" = []), ("session" = [])),
    request_body = NewOrganisation, responses((status = 201, body = OrganisationOut), (status = "4XX", body = ErrorBody)))]
pub async fn create_organisation(State(state): State<AppState>, actor: CurrentActor, Json(body): Json<NewOrganisation>) -> Result<(StatusCode, Json<OrganisationOut>), ApiError> {
    let o = state.store.create_organisation(body.name, body.tax_id, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(o.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OrganisationQuery {
    /// A part of the name, any case.
    pub name: Option<String>,
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationPage {
    pub organisations: Vec<OrganisationOut>,
    pub next_after: Option<String>,
}

/// Organisations, optionally by a part of the name.
#[utoipa::path(get, path = "/v1/admin/organisations", tag = "crm", security(("api_key" = []), ("session" = [])), params(OrganisationQuery),
    responses((status = 200, body = OrganisationPage), (status = "4XX", body = ErrorBody)))]
pub async fn list_organisations(State(state): State<AppState>, Query(q): Query<OrganisationQuery>) -> Result<Json<OrganisationPage>, ApiError> {
    if q.name.as_ref().is_some_and(|n| n.len() > 200) {
        return Err(ApiError::validation("a name filter is at most 200 characters"));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let orgs = state.store.organisations(q.name, q.after.as_deref().map(organisation_id).transpose()?, limit).await?;
    let next_after = crate::extract::next_page(&orgs, limit, |o| OrganisationId(o.id).to_string());
    Ok(Json(OrganisationPage { organisations: orgs.into_iter().map(OrganisationOut::from).collect(), next_after }))
}

#[utoipa::path(get, path = "/v1/admin/organisations/{id}", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), responses((status = 200, body = OrganisationOut), (status = "4XX", body = ErrorBody)))]
pub async fn get_organisation(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<OrganisationOut>, ApiError> {
    let id = organisation_id(&id)?;
    let o = state.store.organisation(id).await?.ok_or_else(|| ApiError::not_found(format!("organisation {} does not exist", OrganisationId(id))))?;
    Ok(Json(o.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceCard {
    /// The new card's number.
    pub number: String,
}

/// Replace a lost or damaged card: the new number takes over the customer, the
/// balances and the card's own value; the old one is blocked for good.
#[utoipa::path(post, path = "/v1/admin/cards/{number}/replace", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("number" = String, Path)), request_body = ReplaceCard, responses((status = 201, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn replace_card(State(state): State<AppState>, actor: CurrentActor, Path(number): Path<String>, Json(body): Json<ReplaceCard>) -> Result<(StatusCode, Json<CardInfo>), ApiError> {
    let owner = crate::admin::card_owner(&state, &number).await?;
    actor.require(Act::ReplaceCard { kind: owner.kind, of_contact: owner.organisation.is_some() })?;
    let card = state.store.replace_card(number, body.number, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(card)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserOut>,
}

/// Staff users.
#[utoipa::path(get, path = "/v1/admin/users", tag = "crm", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = UserList), (status = "4XX", body = ErrorBody)))]
pub async fn list_users(State(state): State<AppState>) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList { users: state.store.users().await?.into_iter().map(UserOut::from).collect() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// 2 to 64 of a-z, 0-9 and `. _ - @`.
    pub login: String,
    /// 10 to 256 characters; stored as an argon2id hash.
    pub password: String,
    /// admin, marketer, analyst, store_manager, support, auditor.
    pub role: String,
    /// Store managers: their stores.
    #[serde(default)]
    pub stores: Vec<String>,
}

/// Create a staff user.
#[utoipa::path(post, path = "/v1/admin/users", tag = "crm", security(("api_key" = []), ("session" = [])),
    request_body = NewUserRequest, responses((status = 201, body = UserOut), (status = "4XX", body = ErrorBody)))]
pub async fn create_user(State(state): State<AppState>, actor: CurrentActor, Json(body): Json<NewUserRequest>) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let new = NewUser { login: body.login, password: body.password, role: body.role, stores: body.stores };
    let u = state.store.create_user(new, actor.name()).await?;
    Ok((StatusCode::CREATED, Json(u.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    pub password: Option<String>,
    pub role: Option<String>,
    pub stores: Option<Vec<String>>,
    /// `true` disables the login and ends its sessions.
    pub disabled: Option<bool>,
}

/// Change a staff user's password, role, stores, or disable them. Any such change
/// ends the user's sessions.
#[utoipa::path(patch, path = "/v1/admin/users/{login}", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("login" = String, Path)), request_body = UserChanges, responses((status = 200, body = UserOut), (status = "4XX", body = ErrorBody)))]
pub async fn update_user(State(state): State<AppState>, actor: CurrentActor, Path(login): Path<String>, Json(body): Json<UserChanges>) -> Result<Json<UserOut>, ApiError> {
    let patch = UserPatch { password: body.password, role: body.role, stores: body.stores, disabled: body.disabled };
    Ok(Json(state.store.update_user(login, patch, actor.name()).await?.into()))
}
