//! Staff users: list, create, change role, stores, password, or disable.

use super::*;
use crate::auth::Actor;
use loyd_domain::access;
use loyd_store::StoreError;

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
    Ok((StatusCode::CREATED, Json(create(&state, &actor, body).await?)))
}

/// Creates a staff user (the console and the API).
pub(crate) async fn create(state: &AppState, actor: &Actor, body: NewUserRequest) -> Result<UserOut, ApiError> {
    let role = access::check_new_user(&body.login, &body.password, &body.role, &body.stores).map_err(StoreError::from)?;
    let new = NewUser { login: body.login, password: body.password, role, stores: body.stores };
    Ok(state.store.create_user(new, actor.name()).await?.into())
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
    Ok(Json(update(&state, &actor, login, body).await?))
}

/// Changes a staff user (the console and the API).
pub(crate) async fn update(state: &AppState, actor: &Actor, login: String, body: UserChanges) -> Result<UserOut, ApiError> {
    let role = access::check_user_changes(body.password.as_deref(), body.role.as_deref()).map_err(StoreError::from)?;
    let patch = UserPatch { password: body.password, role, stores: body.stores, disabled: body.disabled };
    Ok(state.store.update_user(login, patch, actor.name()).await?.into())
}
