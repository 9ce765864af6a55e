//! The audit log: every change made by staff, keys and the CLI, newest first, filtered
//! by what was changed and by whom, each shown field by field — through the same
//! function as the admin API ([`crate::admin::audit`]), with contact data masked for
//! roles that may not read it.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use loyd_domain::access::Permission;
use loyd_domain::config::FieldChange;
use serde::Deserialize;

use super::{Frame, Session, allowed, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::audit::{AuditQuery, audit_of};
use crate::admin::programs::changes_between;

const PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
pub struct Filters {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    actor: String,
    before: Option<i64>,
    lang: Option<String>,
}

pub struct Row {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub changes: Vec<FieldChange>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    f: Frame,
    s: Session,
    kind: String,
    id: String,
    actor: String,
    rows: Vec<Row>,
    older: Option<String>,
    error: Option<String>,
}

impl AuditPage {
    fn plain(&self, json: &str) -> String {
        super::campaigns::plain_value(json)
    }
}

/// What a record changed, field by field. A configuration version's record lists its
/// steps (each object created, updated or removed): their fields, named by the object.
fn changes_of(before: Option<&serde_json::Value>, after: Option<&serde_json::Value>) -> Vec<FieldChange> {
    let steps = after.and_then(|a| a.get("steps")).and_then(serde_json::Value::as_array);
    let Some(steps) = steps else { return changes_between(before, after) };
    steps
        .iter()
        .flat_map(|step| {
            let name = |k: &str| step.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
            let prefix = format!("{} {}", name("object"), name("id"));
            let state = |k: &str| step.get(k).filter(|v| !v.is_null());
            changes_between(state("before"), state("after")).into_iter().map(move |c| FieldChange { path: format!("{prefix}: {}", c.path), ..c })
        })
        .collect()
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Filters>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::AuditRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let query = AuditQuery { object_kind: filled(&q.kind), object_id: filled(&q.id), actor: filled(&q.actor), before: q.before, limit: Some(PAGE) };
    let (rows, older, error) = match audit_of(&state, &actor, query).await {
        Ok(crate::extract::Json(p)) => {
            let rows = p
                .entries
                .into_iter()
                .map(|e| {
                    let z = e.at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
                    Row {
                        id: e.id,
                        at: format!("{} {:02}:{:02}:{:02} UTC", lang.day(z.date()), z.hour(), z.minute(), z.second()),
                        actor: e.actor,
                        action: e.action,
                        object: format!("{} {}", e.object_kind, e.object_id),
                        changes: changes_of(e.before.as_ref(), e.after.as_ref()),
                    }
                })
                .collect();
            let older = p.next_before.map(|b| {
                let keep = |k: &str, v: &str| if v.trim().is_empty() { String::new() } else { format!("&{k}={}", super::failures::url_escape(v.trim())) };
                format!("/admin/audit?before={b}{}{}{}", keep("kind", &q.kind), keep("id", &q.id), keep("actor", &q.actor))
            });
            (rows, older, None)
        }
        Err(e) => (Vec::new(), None, Some(super::refusal(lang.words(), &e))),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let s = Session::of(&actor.principal, &secret, lang.words(), "/admin/audit");
    let view = AuditPage { f: Frame::new(lang), s, kind: q.kind.clone(), id: q.id.clone(), actor: q.actor.clone(), rows, older, error };
    let mut res = render(status, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}
