//! Stores' terminals: listing them, creating one (its key shown once), rotating a lost
//! or leaked key, revoking a terminal. Only the hash of a key is stored.

use loyd_domain::ids::{StoreCode, TerminalCode};

use super::*;

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

/// A store's terminals, working and revoked.
#[utoipa::path(get, path = "/v1/admin/stores/{store}/terminals", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("store" = String, Path)), responses((status = 200, body = Vec<TerminalOut>), (status = "4XX", body = ErrorBody)))]
pub async fn terminals(State(state): State<AppState>, Path(store): Path<String>) -> Result<Json<Vec<TerminalOut>>, ApiError> {
    let store = store_code(&store)?;
    if state.store.store(&store).await?.is_none() {
        return Err(ApiError::not_found(format!("no store '{store}'")));
    }
    let rows = state.store.terminals(store).await?;
    Ok(Json(rows.into_iter().map(|t| TerminalOut { id: t.id, created_at: t.created_at, revoked_at: t.revoked_at }).collect()))
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
    let (store, terminal) = codes(&store, &body.terminal)?;
    let key = loyd_store::Store::new_terminal_key();
    state.store.create_terminal(store.clone(), terminal.clone(), loyd_domain::org::terminal_key_hash(&key)).await?;
    audit_after(&state, &actor, "terminal.create", "terminal", &format!("{store}/{terminal}"), json!({})).await;
    Ok((StatusCode::CREATED, Json(TerminalKey { store: store.to_string(), terminal: terminal.to_string(), key })))
}

/// Give a terminal a new key (its old one stops working at once; a revoked terminal
/// works again with the new key).
#[utoipa::path(post, path = "/v1/admin/stores/{store}/terminals/{terminal}/rotate", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("store" = String, Path), ("terminal" = String, Path)), responses((status = 200, body = TerminalKey), (status = "4XX", body = ErrorBody)))]
pub async fn rotate(State(state): State<AppState>, actor: CurrentActor, Path((store, terminal)): Path<(String, String)>) -> Result<Json<TerminalKey>, ApiError> {
    let (store, terminal) = codes(&store, &terminal)?;
    let key = loyd_store::Store::new_terminal_key();
    state.store.rotate_terminal_key(store.clone(), terminal.clone(), loyd_domain::org::terminal_key_hash(&key)).await?;
    audit_after(&state, &actor, "terminal.rotate_key", "terminal", &format!("{store}/{terminal}"), json!({})).await;
    Ok(Json(TerminalKey { store: store.to_string(), terminal: terminal.to_string(), key }))
}

/// Revoke a terminal: its key stops working at once. Repeating it changes nothing.
#[utoipa::path(post, path = "/v1/admin/stores/{store}/terminals/{terminal}/revoke", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("store" = String, Path), ("terminal" = String, Path)), responses((status = 200, body = Vec<TerminalOut>), (status = "4XX", body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path((store, terminal)): Path<(String, String)>,
) -> Result<Json<Vec<TerminalOut>>, ApiError> {
    let (code, terminal) = codes(&store, &terminal)?;
    state.store.revoke_terminal(code.clone(), terminal.clone()).await?;
    audit_after(&state, &actor, "terminal.revoke", "terminal", &format!("{code}/{terminal}"), json!({})).await;
    terminals(State(state), Path(store)).await
}
