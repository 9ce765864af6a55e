//! The failure log: every refused POS request, newest first, filtered by store,
//! terminal, code or card, a page at a time — through the same function as the admin
//! API ([`crate::admin::failures`]); a store manager sees their stores only.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use loyd_domain::access::Permission;
use loyd_store::Failure;
use serde::Deserialize;

use super::{Frame, Session, allowed, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::failures::{FailureQuery, page as failure_page};

const PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    store: String,
    #[serde(default)]
    terminal: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    card: String,
    before: Option<i64>,
    lang: Option<String>,
}

struct Row {
    at: String,
    store: String,
    terminal: String,
    operation: String,
    code: String,
    message: String,
    card: String,
}

#[derive(Template)]
#[template(path = "console/failures.html")]
struct FailuresPage {
    f: Frame,
    s: Session,
    store: String,
    terminal: String,
    code: String,
    card: String,
    rows: Vec<Row>,
    /// The link to the next (older) page, with the same filters.
    older: Option<String>,
    error: Option<String>,
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Filters>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::FailuresRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let query = FailureQuery {
        store: filled(&q.store),
        terminal: filled(&q.terminal),
        code: filled(&q.code),
        card: filled(&q.card),
        operation: None,
        from: None,
        to: None,
        before: q.before,
        limit: Some(PAGE),
    };
    let (rows, older, error) = match failure_page(&state, &actor, query).await {
        Ok(p) => {
            let rows = p.failures.into_iter().map(|f: Failure| Row {
                at: lang.moment(f.at, "%H:%M:%S"),
                store: f.store.unwrap_or_default(),
                terminal: f.terminal.unwrap_or_default(),
                operation: f.operation,
                code: f.code,
                message: f.message,
                card: f.card.unwrap_or_default(),
            });
            let older = p.next_before.map(|b| {
                let keep = |k: &str, v: &str| if v.trim().is_empty() { String::new() } else { format!("&{k}={}", url_escape(v.trim())) };
                format!("/admin/failures?before={b}{}{}{}{}", keep("store", &q.store), keep("terminal", &q.terminal), keep("code", &q.code), keep("card", &q.card))
            });
            (rows.collect(), older, None)
        }
        Err(e) => (Vec::new(), None, Some(super::refusal(lang.words(), &e))),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let s = Session::of(&actor.principal, &secret, lang.words(), "/admin/failures");
    let view = FailuresPage { f: Frame::new(lang), s, store: q.store.clone(), terminal: q.terminal.clone(), code: q.code.clone(), card: q.card.clone(), rows, older, error };
    let mut res = render(status, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// A filter value in a link: every byte but letters, digits and `-_.` percent-encoded.
pub(super) fn url_escape(v: &str) -> String {
    v.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
