//! Organisations: companies whose contacts share accounts.

use super::*;

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
    Ok((StatusCode::CREATED, Json(created(&state, &actor, body).await?)))
}

/// Registers an organisation (the console and the API).
pub(crate) async fn created(state: &AppState, actor: &crate::auth::Actor, body: NewOrganisation) -> Result<OrganisationOut, ApiError> {
    Ok(state.store.create_organisation(body.name, body.tax_id, actor.name()).await?.into())
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
    Ok(Json(page_of(&state, q).await?))
}

/// A page of organisations (the console and the API).
pub(crate) async fn page_of(state: &AppState, q: OrganisationQuery) -> Result<OrganisationPage, ApiError> {
    if q.name.as_ref().is_some_and(|n| n.len() > 200) {
        return Err(ApiError::validation("a name filter is at most 200 characters"));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let orgs = state.store.organisations(q.name, q.after.as_deref().map(organisation_id).transpose()?, limit).await?;
    let next_after = crate::extract::next_page(&orgs, limit, |o| OrganisationId(o.id).to_string());
    Ok(OrganisationPage { organisations: orgs.into_iter().map(OrganisationOut::from).collect(), next_after })
}

#[utoipa::path(get, path = "/v1/admin/organisations/{id}", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path)), responses((status = 200, body = OrganisationOut), (status = "4XX", body = ErrorBody)))]
pub async fn get_organisation(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<OrganisationOut>, ApiError> {
    Ok(Json(one(&state, &id).await?))
}

/// An organisation by its id (`o_3`); `404` when there is none.
pub(crate) async fn one(state: &AppState, id: &str) -> Result<OrganisationOut, ApiError> {
    let id = organisation_id(id)?;
    let o = state.store.organisation(id).await?.ok_or_else(|| ApiError::not_found(format!("organisation {} does not exist", OrganisationId(id))))?;
    Ok(o.into())
}
