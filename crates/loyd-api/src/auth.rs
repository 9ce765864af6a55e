//! Staff authentication and authorisation for the admin API.
//!
//! A bearer token is either a login session (`POST /v1/auth/login`) or an API key
//! (`loyd api-key create`); both resolve to a [`Principal`] with a role. Every admin
//! route needs one [`Permission`], looked up in [`permission`] by method and route
//! pattern: a route missing from that table is refused to everyone (deny by default),
//! and a test checks that every documented admin route has an entry.

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jiff::Timestamp;
use loyd_domain::access::{Act, Permission};
use loyd_domain::org::terminal_key_hash;
use loyd_store::{LoginRefusal, Principal, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::Json;

/// How long a login session lasts.
pub const SESSION_HOURS: i64 = 12;

/// The authenticated staff member or integration, put in the request by [`guard`].
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
}

impl Actor {
    pub fn can(&self, p: Permission) -> bool {
        self.principal.role.allows(p)
    }

    /// `user:anna` or `key:erp`: who the audit log names.
    pub fn name(&self) -> String {
        self.principal.name.clone()
    }

    /// The stores this actor is limited to; `None` for roles that see every store.
    pub fn stores(&self) -> Option<&[String]> {
        self.principal.role.is_store_scoped().then_some(self.principal.stores.as_slice())
    }

    /// Refuses an action the role may not take ([`Act::needs`] is the one table of
    /// what value-bearing actions take).
    pub fn require(&self, act: Act) -> Result<(), ApiError> {
        let needs = act.needs();
        if self.can(needs) {
            return Ok(());
        }
        Err(ApiError::new(ErrorCode::Forbidden, format!("your role ({}) does not allow {}", self.principal.role, act.describe()))
            .with_details(json!({ "needs": needs })))
    }

    /// The stores a list asks for, within the actor's: `asked` alone (refused outside
    /// the actor's stores), else the actor's stores, else `None`: every store.
    pub fn store_scope(&self, asked: Option<&String>) -> Result<Option<Vec<String>>, ApiError> {
        Ok(match (asked, self.stores()) {
            (Some(s), _) => {
                self.check_store(s)?;
                Some(vec![s.clone()])
            }
            (None, Some(mine)) => Some(mine.to_vec()),
            (None, None) => None,
        })
    }

    /// Refuses a store outside the actor's stores.
    pub fn check_store(&self, store: &str) -> Result<(), ApiError> {
        match self.stores() {
            Some(mine) if !mine.iter().any(|s| s == store) => {
                Err(ApiError::new(ErrorCode::Forbidden, format!("store '{store}' is not one of your stores")))
            }
            _ => Ok(()),
        }
    }
}

/// The permission an admin route needs; `None`: the route is refused to everyone.
pub fn permission(method: &Method, route: &str) -> Option<Permission> {
    use Permission::*;
    let p = match (method.as_str(), route) {
        ("GET", "/v1/admin/customers" | "/v1/admin/customers/{id}" | "/v1/admin/customers/{id}/statement" | "/v1/admin/customers/{id}/balances") => CustomersRead,
        ("GET", "/v1/admin/customers/{id}/crm" | "/v1/admin/crm" | "/v1/admin/organisations" | "/v1/admin/organisations/{id}") => CustomersRead,
        ("GET", "/v1/admin/customers/{id}/notifications") => CustomersRead,
        ("GET", "/v1/admin/organisations/{id}/crm") => CustomersRead,
        ("POST", "/v1/admin/customers" | "/v1/admin/organisations") => CustomersWrite,
        // A merge moves balances between customers.
        ("POST", "/v1/admin/customers/{id}/merge" | "/v1/admin/customers/{id}/erasure") => BalanceAdjust,
        ("PATCH", "/v1/admin/customers/{id}") => CustomersWrite,
        ("GET", "/v1/admin/customers/{id}/purchases" | "/v1/admin/gifts" | "/v1/admin/receipts/{id}") => ReceiptsRead,
        ("GET", "/v1/admin/customers/{id}/history" | "/v1/admin/audit") => AuditRead,
        ("POST", "/v1/admin/customers/{id}/crm" | "/v1/admin/organisations/{id}/crm") | ("PATCH", "/v1/admin/crm/{id}") => CrmWrite,
        ("POST", "/v1/admin/customers/{id}/codes") => CodesIssue,
        ("POST", "/v1/admin/customers/{id}/adjustments" | "/v1/admin/customers/{id}/credit-settlements") => BalanceAdjust,
        ("POST", "/v1/admin/cards" | "/v1/admin/cards/{number}/block" | "/v1/admin/cards/{number}/unblock" | "/v1/admin/cards/{number}/replace") => {
            CardsManage
        }
        ("POST", "/v1/admin/coupons") => CouponsIssue,
        ("GET", "/v1/admin/failures") => FailuresRead,
        ("GET", "/v1/admin/config" | "/v1/admin/config/versions" | "/v1/admin/config/versions/{version}") => ConfigRead,
        ("GET", "/v1/admin/config/diff" | "/v1/admin/config/export") | ("POST", "/v1/admin/config/simulate" | "/v1/admin/config/preview") => ConfigRead,
        ("POST", "/v1/admin/config" | "/v1/admin/config/rollback") => ConfigWrite,
        ("GET", "/v1/admin/config/{section}" | "/v1/admin/config/{section}/{id}") => ConfigRead,
        ("PUT" | "PATCH" | "DELETE", "/v1/admin/config/{section}/{id}") | ("POST", "/v1/admin/campaigns/{id}/status") => ConfigWrite,
        ("GET", "/v1/admin/config/{section}/{id}/versions") => ConfigRead,
        ("GET", "/v1/admin/ledger/audit" | "/v1/admin/ledger/system" | "/v1/admin/jobs" | "/v1/admin/jobs/runs") => LedgerAudit,
        ("POST", "/v1/admin/jobs/{job}/run") => JobsRun,
        ("GET", "/v1/admin/reports" | "/v1/admin/reports/{report}") => ReportsRead,
        ("GET", "/v1/admin/segments" | "/v1/admin/segments/{id}/history") | ("POST", "/v1/admin/segments/try") => ReportsRead,
        ("GET", "/v1/admin/segments/{id}/members") => CustomersRead,
        ("GET", "/v1/admin/fraud/alerts" | "/v1/admin/fraud/alerts/{id}") => FraudRead,
        ("POST", "/v1/admin/fraud/alerts/{id}/decision") => FraudManage,
        ("GET", "/v1/admin/webhooks" | "/v1/admin/deliveries") | ("POST", "/v1/admin/messages/preview") => ConfigRead,
        ("GET", "/v1/admin/mailings" | "/v1/admin/mailings/{id}") => ReportsRead,
        ("POST", "/v1/admin/mailings" | "/v1/admin/mailings/{id}/cancel") => ConfigWrite,
        ("PUT", "/v1/admin/webhooks/{id}/secret" | "/v1/admin/channels/{channel}/credential") | ("POST", "/v1/admin/webhooks/{id}/test" | "/v1/admin/deliveries/{id}/retry") => ConfigWrite,
        ("POST", "/v1/admin/channels/telegram/webhook") => ConfigWrite,
        ("GET" | "POST", "/v1/admin/users") | ("PATCH", "/v1/admin/users/{login}") => UsersManage,
        ("GET" | "POST", "/v1/admin/stores/{store}/terminals") => TerminalsManage,
        ("GET" | "POST", "/v1/admin/api-keys") | ("POST", "/v1/admin/api-keys/{name}/revoke") => UsersManage,
        ("POST", "/v1/admin/stores/{store}/terminals/{terminal}/rotate" | "/v1/admin/stores/{store}/terminals/{terminal}/revoke") => TerminalsManage,
        _ => return None,
    };
    Some(p)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty() && k.len() <= 256)
}

async fn actor_of(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "send a session token or API key as Authorization: Bearer <token>"));
    };
    let principal = state
        .store
        .principal(terminal_key_hash(&token))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown, expired or revoked token; log in again"))?;
    Ok(Actor { principal })
}

/// Lets through requests whose token's role holds the route's permission.
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let actor = match actor_of(&state, &headers).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default();
    match permission(req.method(), &route) {
        Some(p) if actor.can(p) => {
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        Some(p) => ApiError::new(ErrorCode::Forbidden, format!("your role ({}) does not allow this", actor.principal.role))
            .with_details(json!({ "needs": p }))
            .into_response(),
        None => ApiError::new(ErrorCode::Forbidden, "this route has no permission assigned; nobody may use it").into_response(),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub login: String,
    pub role: String,
    /// The stores a store manager is limited to.
    pub stores: Vec<String>,
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut { login: u.login, role: u.role.name().to_owned(), stores: u.stores, disabled: u.disabled, email: u.email }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    /// Send as `Authorization: Bearer <token>`; shown once.
    pub token: String,
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
    pub user: UserOut,
}

/// Log in with a staff login and password; five wrong passwords in a row lock the
/// login for 15 minutes (`429 too_many_attempts`).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 201, body = SessionOut), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(State(state): State<AppState>, Json(body): Json<LoginRequest>) -> Result<(StatusCode, Json<SessionOut>), ApiError> {
    match start_session(&state, &body.login, body.password).await? {
        Ok(s) => Ok((StatusCode::CREATED, Json(SessionOut { token: s.token, expires_at: s.expires_at, user: s.user.into() }))),
        Err(LoginRefusal::BadCredentials) => Err(ApiError::new(ErrorCode::Unauthorized, "wrong login or password")),
        Err(LoginRefusal::Locked { until }) => Err(ApiError::new(
            ErrorCode::TooManyAttempts,
            "too many wrong passwords: this login is locked for a while",
        )
        .with_details(json!({ "locked_until": until }))),
    }
}

/// A staff member's new session, for the API and the console alike: the login is
/// trimmed and lower-cased; oversized input is a wrong password, never a store lookup.
pub(crate) async fn start_session(state: &AppState, login: &str, password: String) -> Result<Result<loyd_store::Session, LoginRefusal>, loyd_store::StoreError> {
    if login.len() > 64 || password.len() > 1024 {
        return Ok(Err(LoginRefusal::BadCredentials));
    }
    state.store.login(login.trim().to_lowercase(), password, jiff::SignedDuration::from_hours(SESSION_HOURS)).await
}

/// End this session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers).ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "send the session token as Authorization: Bearer <token>"))?;
    state.store.logout(terminal_key_hash(&token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// `user:anna` or `key:erp`.
    pub name: String,
    pub role: String,
    pub stores: Vec<String>,
    /// What this role may do.
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
}

/// Who this token belongs to and what it may do.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("session" = [])),
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<MeOut>, ApiError> {
    let actor = actor_of(&state, &headers).await?;
    use Permission::*;
    let all = [
        CustomersRead, ContactsRead, CustomersWrite, CustomersBulk, CardsManage, CodesIssue, CrmWrite, BalanceAdjust, CouponsIssue,
        ConfigRead, ConfigWrite, ReceiptsRead, FailuresRead, AuditRead, LedgerAudit, UsersManage, TerminalsManage, JobsRun, ReportsRead,
        FraudRead, FraudManage,
    ];
    Ok(Json(MeOut {
        name: actor.principal.name.clone(),
        role: actor.principal.role.to_string(),
        stores: actor.principal.stores.clone(),
        permissions: all.into_iter().filter(|p| actor.can(*p)).collect(),
    }))
}

/// The actor of a request that passed [`guard`].
pub type CurrentActor = Extension<Actor>;

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    #[test]
    fn every_documented_admin_route_needs_a_permission() {
        let doc = crate::openapi::ApiDoc::openapi();
        let mut checked = 0;
        for (path, item) in &doc.paths.paths {
            if !path.starts_with("/v1/admin/") {
                continue;
            }
            let ops = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            for (method, present) in ops {
                if present {
                    assert!(permission(&method, path).is_some(), "{method} {path} has no permission");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 30, "only {checked} admin operations documented");
    }

    #[test]
    fn routes_outside_the_table_are_refused_to_everyone() {
        assert_eq!(permission(&Method::DELETE, "/v1/admin/customers/{id}"), None);
        assert_eq!(permission(&Method::GET, "/v1/admin/secret"), None);
        assert_eq!(permission(&Method::GET, "/v1/admin/users"), Some(Permission::UsersManage));
    }
}
