//! Stores and their terminals: a terminal is added with its key shown once, its key
//! replaced, or it is revoked — through the same functions as the admin API
//! ([`crate::admin::stores`]), for those whose role may manage terminals.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;
use serde::Deserialize;

use crate::i18n::Lang;
use super::{Frame, LangQuery, Session, allowed, checked, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::stores::{TerminalKey, issue_key, list, revoke_one};
use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};

struct TerminalView {
    id: String,
    created: String,
    revoked: Option<String>,
}

struct StoreView {
    id: String,
    name: String,
    currency: String,
    timezone: String,
    terminals: Vec<TerminalView>,
    /// A refused form for this store: what to fix.
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/stores.html")]
struct StoresPage {
    f: Frame,
    s: Session,
    stores: Vec<StoreView>,
    /// A key just issued: shown this once.
    key: Option<TerminalKey>,
    /// Whether a form was refused (the store's `error` says why).
    refused: bool,
}

#[derive(Debug, Deserialize)]
pub struct TerminalForm {
    #[serde(default)]
    terminal: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

fn when(lang: Lang, t: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let z = t.to_zoned_datetime(tz.clone());
    format!("{} {:02}:{:02}", lang.day(z.date()), z.hour(), z.minute())
}

async fn show(state: &AppState, lang: Lang, actor: &Actor, secret: &str, key: Option<TerminalKey>, error: Option<(String, String)>) -> Response {
    let loaded = async {
        let mut stores = Vec::new();
        for spec in state.store.stores().await? {
            let tz = spec.timezone.zone();
            let terminals = list(state, spec.id.as_str())
                .await?
                .into_iter()
                .map(|t| TerminalView { id: t.id, created: when(lang, t.created_at, &tz), revoked: t.revoked_at.map(|r| when(lang, r, &tz)) })
                .collect();
            stores.push(StoreView {
                id: spec.id.to_string(),
                name: spec.name.clone(),
                currency: spec.currency.to_string(),
                timezone: spec.timezone.as_str().to_owned(),
                terminals,
                error: error.as_ref().filter(|(at, _)| *at == spec.id.as_str()).map(|(_, e)| e.clone()),
            });
        }
        Ok::<_, ApiError>(stores)
    };
    match loaded.await {
        Ok(stores) => {
            let refused = error.is_some();
            let status = if refused { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            let s = Session::of(&actor.principal, secret, lang.words(), "/admin/stores");
            render(status, StoresPage { f: Frame::new(lang), s, stores, key, refused })
        }
        Err(e) => {
            tracing::error!(error = %e.message, "the stores page could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
        }
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::TerminalsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let mut res = show(&state, lang, &actor, &secret, None, None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// What to tell the person about a refused terminal form, in their language.
fn say(lang: Lang, e: &ApiError) -> String {
    let t = lang.words();
    match e.code {
        ErrorCode::AlreadyExists => t.get("stores.exists").to_owned(),
        ErrorCode::ValidationFailed => t.get("stores.invalid").to_owned(),
        _ => super::refusal(t, e),
    }
}

/// The page after a key was issued (shown once) or refused (said next to the form).
async fn answer(state: &AppState, lang: Lang, actor: &Actor, secret: &str, store: String, issued: Result<TerminalKey, ApiError>) -> Response {
    match issued {
        Ok(key) => show(state, lang, actor, secret, Some(key), None).await,
        Err(e) => show(state, lang, actor, secret, None, Some((store, say(lang, &e)))).await,
    }
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, Path(store): Path<String>, Form(form): Form<TerminalForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::TerminalsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let issued = issue_key(&state, &actor, &store, form.terminal.trim(), false).await;
    answer(&state, lang, &actor, &secret, store, issued).await
}

pub async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((store, terminal)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::TerminalsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let issued = issue_key(&state, &actor, &store, &terminal, true).await;
    answer(&state, lang, &actor, &secret, store, issued).await
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((store, terminal)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::TerminalsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match revoke_one(&state, &actor, &store, &terminal).await {
        Ok(()) => Redirect::to("/admin/stores").into_response(),
        Err(e) => show(&state, lang, &actor, &secret, None, Some((store, say(lang, &e)))).await,
    }
}
