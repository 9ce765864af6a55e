//! The audit log: who changed what, with contact data masked for roles that may not
//! read it.

use super::*;

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
pub(super) fn mask_contacts(v: &mut serde_json::Value) {
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

pub(super) async fn audit_page(state: &AppState, actor: &crate::auth::Actor, filter: AuditFilter) -> Result<Json<AuditPage>, ApiError> {
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
    audit_of(&state, &actor, q).await
}

/// A page of the audit log; the console's audit page reads it through here.
pub(crate) async fn audit_of(state: &AppState, actor: &crate::auth::Actor, q: AuditQuery) -> Result<Json<AuditPage>, ApiError> {
    let filter = AuditFilter {
        object_kind: q.object_kind,
        object_id: q.object_id,
        actor: q.actor,
        before_id: q.before,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    audit_page(state, actor, filter).await
}
