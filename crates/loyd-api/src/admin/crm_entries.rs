//! CRM entries of a customer or an organisation: notes, contact events, tasks and
//! reminders; listing, recording and closing them.

use super::*;
use loyd_domain::crm::{EntryKind, EntryStatus};
use loyd_store::StoreError;

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

pub(super) async fn crm_page(state: &AppState, actor: &crate::auth::Actor, filter: CrmFilter) -> Result<Json<CrmPage>, ApiError> {
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

pub(super) fn crm_filter(q: CrmQuery, customer: Option<i64>) -> Result<CrmFilter, ApiError> {
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

/// The newest `limit` entries, whatever their kind, state or assignee.
fn latest(limit: u32) -> CrmQuery {
    CrmQuery { assignee: None, status: None, kind: None, organisation: None, due_before: None, before: None, limit: Some(limit) }
}

/// A customer's latest CRM entries (texts hidden from roles without contact data); the
/// console's customer page reads them through here.
pub(crate) async fn customer_entries(state: &AppState, actor: &crate::auth::Actor, id: &str, limit: u32) -> Result<Vec<CrmOut>, ApiError> {
    Ok(crm_page(state, actor, crm_filter(latest(limit), Some(customer_id(id)?))?).await?.0.entries)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCrm {
    /// note, event (a contact: call, visit, message), task, reminder.
    pub kind: String,
    /// For events: sms, email, push, phone, post, telegram, viber, whatsapp.
    pub channel: Option<String>,
    /// The text (sealed at rest).
    pub body: String,
    /// Tasks and reminders: when.
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Timestamp>,
    /// A staff login.
    pub assignee: Option<String>,
}

impl NewCrm {
    /// The entry to record about a customer or an organisation.
    fn about(self, customer: Option<i64>, organisation: Option<i64>) -> Result<NewCrmEntry, ApiError> {
        let kind = EntryKind::parse(&self.kind).map_err(StoreError::from)?;
        Ok(NewCrmEntry { customer, organisation, kind, channel: self.channel, body: self.body, due_at: self.due_at, assignee: self.assignee })
    }
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
    Ok((StatusCode::CREATED, Json(add_organisation_entry(&state, &actor, &id, body).await?)))
}

/// Records an entry about an organisation; the console records through here.
pub(crate) async fn add_organisation_entry(state: &AppState, actor: &crate::auth::Actor, id: &str, body: NewCrm) -> Result<CrmOut, ApiError> {
    let entry = body.about(None, Some(organisation_id(id)?))?;
    Ok(state.store.add_crm_entry(entry, actor.name()).await?.into())
}

/// An organisation's latest CRM entries (texts hidden from roles without contact data).
pub(crate) async fn organisation_entries(state: &AppState, actor: &crate::auth::Actor, id: &str, limit: u32) -> Result<Vec<CrmOut>, ApiError> {
    let mut filter = crm_filter(latest(limit), None)?;
    filter.organisation = Some(organisation_id(id)?);
    Ok(crm_page(state, actor, filter).await?.0.entries)
}

/// Record a note, contact event, task or reminder about a customer.
#[utoipa::path(post, path = "/v1/admin/customers/{id}/crm", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), request_body = NewCrm, responses((status = 201, body = CrmOut), (status = "4XX", body = ErrorBody)))]
pub async fn add_crm(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Json(body): Json<NewCrm>) -> Result<(StatusCode, Json<CrmOut>), ApiError> {
    Ok((StatusCode::CREATED, Json(add_customer_entry(&state, &actor, &id, body).await?)))
}

/// Records an entry about a customer; the console records through here.
pub(crate) async fn add_customer_entry(state: &AppState, actor: &crate::auth::Actor, id: &str, body: NewCrm) -> Result<CrmOut, ApiError> {
    let entry = body.about(Some(customer_id(id)?), None)?;
    Ok(state.store.add_crm_entry(entry, actor.name()).await?.into())
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
    Ok(Json(updated(&state, &actor, id, body).await?))
}

/// Closes, reassigns or reschedules an entry; the console closes tasks through here.
pub(crate) async fn updated(state: &AppState, actor: &crate::auth::Actor, id: i64, body: CrmChanges) -> Result<CrmOut, ApiError> {
    let status = body.status.as_deref().map(EntryStatus::parse).transpose().map_err(StoreError::from)?;
    let patch = CrmPatch { status, assignee: body.assignee, due_at: body.due_at };
    Ok(state.store.update_crm_entry(id, patch, actor.name()).await?.into())
}
