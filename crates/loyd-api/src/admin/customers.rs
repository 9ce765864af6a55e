//! Customers: search, profile with consents, create and update, merge, purchase
//! history and change history. Contact data is shown in the clear only to roles with
//! `Permission::ContactsRead`.

use super::*;
use super::audit::{AuditPage, AuditQuery, audit_page};

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
    /// Per channel: sms, email, push, phone, post, telegram, viber, whatsapp.
    pub consents: BTreeMap<String, ConsentOut>,
    /// Set when the customer left all marketing (membership and balances stay).
    #[schema(value_type = Option<String>)]
    pub opted_out_at: Option<Timestamp>,
    /// `o_3`: the organisation whose accounts this contact uses.
    pub organisation: Option<String>,
    /// `c_5`: this record is a duplicate merged into that customer.
    pub merged_into: Option<String>,
    /// When their personal data was erased (the ledger keeps their amounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub erased_at: Option<Timestamp>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Purchases (identified receipts, less cancellations) as the reports' aggregates
    /// last counted them.
    pub purchases: i64,
    #[schema(value_type = Option<String>)]
    pub first_purchase_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub last_purchase_at: Option<Timestamp>,
    /// Whether they connected a Telegram chat to the program's bot (messages on the
    /// `telegram` channel reach them there).
    pub telegram_connected: bool,
    /// The RFM group (`champions`, `loyal`, … `lost`) the segments job last gave them.
    pub rfm: Option<String>,
    /// Their recency, frequency and money scores, 1–5 each: `545`.
    pub rfm_score: Option<String>,
    /// Cards (on single-customer reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub cards: Option<Vec<CardInfo>>,
}

pub(super) fn customer_out(c: Customer, clear: bool) -> CustomerOut {
    let consents = c.consents.into_iter().map(|(k, Consent { granted, at })| (k, ConsentOut { granted, at })).collect();
    CustomerOut {
        id: CustomerId(c.id).to_string(),
        phone: c.phone.map(|p| if clear { p } else { mask_phone(&p) }),
        email: c.email.map(|e| if clear { e } else { mask_email(&e) }),
        name: c.name.map(|n| if clear { n } else { mask_name(&n) }),
        birth_date: c.birth_date.filter(|_| clear).map(|d| d.to_string()),
        telegram_connected: c.telegram.is_some(),
        profile: c.profile,
        consents,
        opted_out_at: c.opted_out_at,
        organisation: c.organisation.map(|o| OrganisationId(o).to_string()),
        merged_into: c.merged_into.map(|m| CustomerId(m).to_string()),
        erased_at: c.erased_at,
        created_at: c.created_at,
        purchases: c.facts.purchases,
        first_purchase_at: c.facts.first_purchase,
        last_purchase_at: c.facts.last_purchase,
        rfm: c.facts.rfm,
        rfm_score: c.facts.rfm_score,
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
    Ok(Json(search(&state, &actor, q).await?))
}

/// Finds customers (the console and the API): contact data in the clear, and searching
/// by it, only for roles that may read it.
pub(crate) async fn search(state: &AppState, actor: &Actor, q: CustomerQuery) -> Result<CustomerPage, ApiError> {
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
    Ok(CustomerPage { customers: customers.into_iter().map(|c| customer_out(c, clear)).collect(), next_after })
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
    /// Consent per channel (sms, email, push, phone, post, telegram, viber, whatsapp).
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
    Ok(Json(one(&state, &actor, &id).await?))
}

/// One customer with their cards (the console and the API).
pub(crate) async fn one(state: &AppState, actor: &Actor, id: &str) -> Result<CustomerOut, ApiError> {
    let id = customer_id(id)?;
    let c = state.store.customer(id).await?.ok_or_else(|| ApiError::not_found(format!("customer {} does not exist", CustomerId(id))))?;
    let mut out = customer_out(c, actor.can(Permission::ContactsRead));
    out.cards = Some(state.store.customer_cards(id).await?);
    Ok(out)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
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
    Ok(Json(changed(&state, &actor, &id, body).await?))
}

/// Changes a customer (the console and the API): contact data only for roles that read
/// it, the organisation and a contact's phone only for those the value table allows.
pub(crate) async fn changed(state: &AppState, actor: &Actor, id: &str, body: CustomerChanges) -> Result<CustomerOut, ApiError> {
    let clear = actor.can(Permission::ContactsRead);
    let touches_contacts = body.phone.is_some() || body.email.is_some() || body.name.is_some() || body.birth_date.is_some();
    if touches_contacts && !clear {
        return Err(ApiError::new(ErrorCode::Forbidden, "changing contact data needs the contact-data permission"));
    }
    let id = customer_id(id)?;
    if body.organisation.is_some() {
        actor.require(Act::SetOrganisation)?;
    }
    if body.phone.is_some() && crate::admin::is_contact(state, id).await? {
        actor.require(Act::ChangeContactPhone)?;
    }
    let patch = CustomerPatch {
        phone: body.phone,
        email: body.email,
        name: body.name,
        birth_date: body.birth_date.map(|d| d.as_deref().map(date).transpose()).transpose()?,
        // Only the customer connects a chat, by starting the bot.
        telegram: None,
        profile: body.profile,
        consents: body.consents,
        opted_out: body.opted_out,
        organisation: body.organisation.map(|o| o.as_deref().map(organisation_id).transpose()).transpose()?,
    };
    let c = state.store.update_customer(id, patch, actor.name()).await?;
    Ok(customer_out(c, clear))
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
    Ok(Json(merged(&state, &actor, &id, &body.duplicate).await?))
}

/// Merges `duplicate` into the customer `id` (the console and the API).
pub(crate) async fn merged(state: &AppState, actor: &Actor, id: &str, duplicate: &str) -> Result<CustomerOut, ApiError> {
    let c = state.store.merge_customers(customer_id(id)?, customer_id(duplicate)?, actor.name()).await?;
    Ok(customer_out(c, actor.can(Permission::ContactsRead)))
}

/// Erase the customer's personal data — contacts, profile, consents, chat, CRM texts,
/// what the audit log kept of their changes — block their cards and end their portal
/// sessions; the ledger keeps every amount. Irreversible; erasing again changes nothing.
#[utoipa::path(post, path = "/v1/admin/customers/{id}/erasure", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), responses((status = 200, body = CustomerOut), (status = "4XX", body = ErrorBody)))]
pub async fn erase(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>) -> Result<Json<CustomerOut>, ApiError> {
    Ok(Json(erased(&state, &actor, &id).await?))
}

/// Erases the customer `id` (the console and the API).
pub(crate) async fn erased(state: &AppState, actor: &Actor, id: &str) -> Result<CustomerOut, ApiError> {
    let c = state.store.erase_customer(customer_id(id)?, actor.name()).await?;
    Ok(customer_out(c, actor.can(Permission::ContactsRead)))
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
    /// The receipt's row: `/v1/admin/receipts/{id}` opens it with its transfers.
    pub id: i64,
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
    Ok(Json(purchases_of(&state, &actor, &id, q).await?))
}

/// A page of a customer's purchases (a store manager's stores only); the console's
/// customer page reads them through here.
pub(crate) async fn purchases_of(state: &AppState, actor: &Actor, id: &str, q: PurchaseQuery) -> Result<PurchasePage, ApiError> {
    let stores = actor.store_scope(q.store.as_ref())?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows: Vec<Purchase> = state.store.purchases(customer_id(id)?, stores, q.before, limit).await?;
    let program = state.store.program().await?;
    let next_before = crate::extract::next_page(&rows, limit, |p| p.at);
    let purchases = rows
        .into_iter()
        .map(|p| {
            let scale = program.scale_of(&p.currency);
            let m = |v: i64| loyd_domain::money::Minor::new(v, scale).to_string();
            PurchaseOut {
                id: p.id,
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
    Ok(PurchasePage { purchases, next_before })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NotificationQuery {
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// At most 100; default 20.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: i64,
    /// Masked (`•••`) without the contact-data permission, like the customer's data.
    pub subject: String,
    pub body: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When the customer read it in the portal.
    #[schema(value_type = Option<String>)]
    pub read_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<NotificationOut>,
    pub next_before: Option<i64>,
}

/// The notifications the portal channel kept for a customer, newest first (what they
/// see when they sign in to the portal).
#[utoipa::path(get, path = "/v1/admin/customers/{id}/notifications", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path), NotificationQuery), responses((status = 200, body = NotificationPage), (status = "4XX", body = ErrorBody)))]
pub async fn notifications(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Query(q): Query<NotificationQuery>) -> Result<Json<NotificationPage>, ApiError> {
    let id = customer_id(&id)?;
    if state.store.customer(id).await?.is_none() {
        return Err(ApiError::not_found(format!("no customer {}", CustomerId(id))));
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let found = state.store.notifications(id, q.before, limit).await?;
    let clear = actor.can(Permission::ContactsRead);
    let next_before = (found.len() == limit as usize).then(|| found.last().map(|n| n.id)).flatten();
    let hide = |t: String| if clear { t } else { "•••".to_owned() };
    let notifications = found
        .into_iter()
        .map(|n| NotificationOut { id: n.id, subject: hide(n.subject), body: hide(n.body), created_at: n.created_at, read_at: n.read_at })
        .collect();
    Ok(Json(NotificationPage { notifications, next_before }))
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
