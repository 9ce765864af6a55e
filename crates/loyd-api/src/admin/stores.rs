//! Stores' terminals: listing them, creating one (its key shown once), rotating a lost
//! or leaked key, revoking a terminal. Only the hash of a key is stored.

use loyd_domain::ids::{StoreCode, TerminalCode};

use super::*;
use crate::auth::Actor;

#[derive(Debug, Serialize, ToSchema)]
pub struct TerminalOut {
    pub id: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When it was revoked; absent while it works.
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTerminal {
    /// The terminal's id within the store (`pos-1`).
    pub terminal: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TerminalKey {
    pub store: String,
    pub terminal: String,
    /// The key the cash register sends as `Authorization: Bearer <key>`: shown this
    /// once, never stored.
    pub key: String,
}

fn store_code(store: &str) -> Result<StoreCode, ApiError> {
    StoreCode::parse(store).map_err(|e| ApiError::validation(format!("store: {e}")))
}

fn codes(store: &str, terminal: &str) -> Result<(StoreCode, TerminalCode), ApiError> {
    Ok((store_code(store)?, TerminalCode::parse(terminal).map_err(|e| ApiError::validation(format!("terminal: {e}")))?))
}

/// A store's terminals; `404` for an unknown store.
pub(crate) async fn list(state: &AppState, store: &str) -> Result<Vec<TerminalOut>, ApiError> {
    let store = store_code(store)?;
    if state.store.store(&store).await?.is_none() {
        return Err(ApiError::not_found(format!("no store '{store}'")));
    }
    let rows = state.store.terminals(store).await?;
    Ok(rows.into_iter().map(|t| TerminalOut { id: t.id, created_at: t.created_at, revoked_at: t.revoked_at }).collect())
}

/// A new key for a terminal, created (`rotate` false) or existing (`rotate` true); the
/// console and the API both issue keys through here.
pub(crate) async fn issue_key(state: &AppState, actor: &Actor, store: &str, terminal: &str, rotate: bool) -> Result<TerminalKey, ApiError> {
    let (store, terminal) = codes(store, terminal)?;
    let key = loyd_store::Store::new_terminal_key();
    let hash = loyd_domain::org::terminal_key_hash(&key);
    let action = if rotate {
        state.store.rotate_terminal_key(store.clone(), terminal.clone(), hash).await?;
        "terminal.rotate_key"
    } else {
        state.store.create_terminal(store.clone(), terminal.clone(), hash).await?;
        "terminal.create"
    };
    audit_after(state, actor, action, "terminal", &format!("{store}/{terminal}"), json!({})).await;
    Ok(TerminalKey { store: store.to_string(), terminal: terminal.to_string(), key })
}

/// Revokes a terminal (the console and the API).
pub(crate) async fn revoke_one(state: &AppState, actor: &Actor, store: &str, terminal: &str) -> Result<(), ApiError> {
    let (code, terminal) = codes(store, terminal)?;
    state.store.revoke_terminal(code.clone(), terminal.clone()).await?;
    audit_after(state, actor, "terminal.revoke", "terminal", &format!("{code}/{terminal}"), json!({})).await;
    Ok(())
}

/// A store's terminals, working and revoked.
#[utoipa::path(get, path = "/v1/admin/stores/{store}/terminals", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("store" = String, Path)), responses((status = 200, body = Vec<TerminalOut>), (status = "4XX", body = ErrorBody)))]
pub async fn terminals(State(state): State<AppState>, Path(store): Path<String>) -> Result<Json<Vec<TerminalOut>>, ApiError> {
    Ok(Json(list(&state, &store).await?))
}

/// Create a terminal of a store; the answer holds its key, shown once. An existing
/// terminal is refused (`409 already_exists`): rotate its key instead.
#[utoipa::path(post, path = "/v1/admin/stores/{store}/terminals", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("store" = String, Path)), request_body = NewTerminal,
    responses((status = 201, body = TerminalKey), (status = "4XX", body = ErrorBody)))]
pub async fn create_terminal(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path(store): Path<String>,
    Json(body): Json<NewTerminal>,
) -> Result<(StatusCode, Json<TerminalKey>), ApiError> {
    Ok((StatusCode::CREATED, Json(issue_key(&state, &actor, &store, &body.terminal, false).await?)))
}

/// Give a terminal a new key (its old one stops working at once; a revoked terminal
/// works again with the new key).
#[utoipa::path(post, path = "/v1/admin/stores/{store}/terminals/{terminal}/rotate", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("store" = String, Path), ("terminal" = String, Path)), responses((status = 200, body = TerminalKey), (status = "4XX", body = ErrorBody)))]
pub async fn rotate(State(state): State<AppState>, actor: CurrentActor, Path((store, terminal)): Path<(String, String)>) -> Result<Json<TerminalKey>, ApiError> {
    Ok(Json(issue_key(&state, &actor, &store, &terminal, true).await?))
}

/// Revoke a terminal: its key stops working at once. Repeating it changes nothing.
#[utoipa::path(post, path = "/v1/admin/stores/{store}/terminals/{terminal}/revoke", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("store" = String, Path), ("terminal" = String, Path)), responses((status = 200, body = Vec<TerminalOut>), (status = "4XX", body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path((store, terminal)): Path<(String, String)>,
) -> Result<Json<Vec<TerminalOut>>, ApiError> {
    revoke_one(&state, &actor, &store, &terminal).await?;
    Ok(Json(list(&state, &store).await?))
}
