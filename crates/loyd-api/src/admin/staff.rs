//! Staff users (list, create, change role, stores, password, or disable) and the API
//! keys of integrations (list, create with the key shown once, revoke).

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
    /// Where tasks and reminders due to them are sent.
    #[serde(default)]
    pub email: Option<String>,
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
    let new = NewUser { login: body.login, password: body.password, role, stores: body.stores, email: body.email };
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
    /// Their e-mail (where tasks due are sent); `""` removes it.
    pub email: Option<String>,
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
    let email = body.email.map(|e| Some(e).filter(|e| !e.trim().is_empty()));
    let patch = UserPatch { password: body.password, role, stores: body.stores, disabled: body.disabled, email };
    Ok(state.store.update_user(login, patch, actor.name()).await?.into())
}

// ---- API keys --------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    pub name: String,
    pub role: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When it was revoked; absent while it works.
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// 2 to 64 of a-z, 0-9, `. _ -`: how the audit log names what the key did (`key:erp`).
    pub name: String,
    /// Any role but store_manager.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    pub name: String,
    pub role: String,
    /// Send as `Authorization: Bearer <key>`: shown this once, never stored.
    pub key: String,
}

/// Every API key, working and revoked (names and roles; keys are never kept).
pub(crate) async fn keys(state: &AppState) -> Result<Vec<ApiKeyOut>, ApiError> {
    let rows = state.store.api_keys().await?;
    Ok(rows.into_iter().map(|k| ApiKeyOut { name: k.name, role: k.role.name().to_owned(), created_at: k.created_at, revoked_at: k.revoked_at }).collect())
}

/// Creates an API key (the console and the API).
pub(crate) async fn new_key(state: &AppState, actor: &Actor, body: NewApiKey) -> Result<ApiKeyCreated, ApiError> {
    let role = access::check_api_key(&body.name, &body.role).map_err(StoreError::from)?;
    let key = loyd_store::Store::new_api_key();
    state.store.create_api_key(body.name.clone(), loyd_domain::org::terminal_key_hash(&key), role).await?;
    audit_after(state, actor, "api_key.create", "api_key", &body.name, json!({ "role": role.name() })).await;
    Ok(ApiKeyCreated { name: body.name, role: role.name().to_owned(), key })
}

/// Revokes an API key (the console and the API).
pub(crate) async fn revoke_key(state: &AppState, actor: &Actor, name: String) -> Result<(), ApiError> {
    state.store.revoke_api_key(name.clone()).await?;
    audit_after(state, actor, "api_key.revoke", "api_key", &name, json!({})).await;
    Ok(())
}

/// API keys for integrations, working and revoked.
#[utoipa::path(get, path = "/v1/admin/api-keys", tag = "crm", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<ApiKeyOut>), (status = "4XX", body = ErrorBody)))]
pub async fn list_api_keys(State(state): State<AppState>) -> Result<Json<Vec<ApiKeyOut>>, ApiError> {
    Ok(Json(keys(&state).await?))
}

/// Create an API key; the answer holds the key, shown once. A name in use is refused.
#[utoipa::path(post, path = "/v1/admin/api-keys", tag = "crm", security(("api_key" = []), ("session" = [])),
    request_body = NewApiKey, responses((status = 201, body = ApiKeyCreated), (status = "4XX", body = ErrorBody)))]
pub async fn create_api_key(State(state): State<AppState>, actor: CurrentActor, Json(body): Json<NewApiKey>) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    Ok((StatusCode::CREATED, Json(new_key(&state, &actor, body).await?)))
}

/// Revoke an API key: it stops working at once. Repeating it changes nothing.
#[utoipa::path(post, path = "/v1/admin/api-keys/{name}/revoke", tag = "crm", security(("api_key" = []), ("session" = [])),
    params(("name" = String, Path)), responses((status = 200, body = Vec<ApiKeyOut>), (status = "4XX", body = ErrorBody)))]
pub async fn revoke_api_key(State(state): State<AppState>, actor: CurrentActor, Path(name): Path<String>) -> Result<Json<Vec<ApiKeyOut>>, ApiError> {
    revoke_key(&state, &actor, name).await?;
    Ok(Json(keys(&state).await?))
}
