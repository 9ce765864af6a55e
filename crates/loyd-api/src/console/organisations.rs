//! Organisations: companies whose contacts share accounts — found by a part of the
//! name, added, and each with its contacts, the balances they share and its CRM
//! entries (a note added) — through the same functions as the admin API
//! ([`crate::admin::organisations`], [`crate::admin::crm_entries`]). Which customer is
//! a contact is changed on the customer's page.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;
use serde::Deserialize;

use super::failures::url_escape;
use crate::i18n::Lang;
use super::{Frame, Session, allowed, checked, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::organisations::{NewOrganisation, OrganisationOut, OrganisationQuery, created, one, page_of};
use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};

const PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    name: String,
    after: Option<String>,
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "console/organisations.html")]
struct ListPage {
    f: Frame,
    s: Session,
    name: String,
    found: Vec<OrganisationOut>,
    next: Option<String>,
    can_add: bool,
    /// A refused form: the name and tax id typed, and what to fix.
    typed: (String, String),
    error: Option<String>,
}

async fn list_page(state: &AppState, lang: Lang, actor: &Actor, secret: &str, q: &ListQuery, typed: (String, String), error: Option<String>) -> Response {
    let name = q.name.trim().to_owned();
    let query = OrganisationQuery { name: Some(name.clone()).filter(|n| !n.is_empty()), after: q.after.clone(), limit: Some(PAGE) };
    let (found, next, error) = match page_of(state, query).await {
        Ok(p) => {
            let keep = if name.is_empty() { String::new() } else { format!("&name={}", url_escape(&name)) };
            (p.organisations, p.next_after.map(|a| format!("/admin/organisations?after={a}{keep}")), error)
        }
        Err(e) => (Vec::new(), None, Some(super::refusal(lang.words(), &e))),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let s = Session::of(&actor.principal, secret, lang.words(), "/admin/customers");
    let can_add = actor.can(Permission::CustomersWrite);
    render(status, ListPage { f: Frame::new(lang), s, name, found, next, can_add, typed, error })
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::CustomersRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let mut res = list_page(&state, lang, &actor, &secret, &q, Default::default(), None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tax_id: String,
    #[serde(default)]
    csrf: String,
}

/// Registers an organisation and opens its page; a refusal is said at the form.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<NewForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CustomersWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let tax_id = filled(&form.tax_id);
    match created(&state, &actor, NewOrganisation { name: form.name.trim().to_owned(), tax_id }).await {
        Ok(o) => Redirect::to(&format!("/admin/organisations/{}", o.id)).into_response(),
        Err(e) => {
            let said = if e.code == ErrorCode::AlreadyExists { lang.words().get("organisations.exists").to_owned() } else { super::refusal(lang.words(), &e) };
            list_page(&state, lang, &actor, &secret, &ListQuery::default(), (form.name, form.tax_id), Some(said)).await
        }
    }
}

#[derive(Template)]
#[template(path = "console/organisation.html")]
struct OrganisationPage {
    f: Frame,
    s: Session,
    o: OrganisationOut,
    balances: Vec<loyd_domain::receipt::BalanceOut>,
    entries: Vec<crate::admin::crm_entries::CrmOut>,
    can_crm: bool,
    error: Option<String>,
    lang: Lang,
}

impl OrganisationPage {
    fn amount(&self, text: &str) -> String {
        self.lang.number(text)
    }

    /// Statements are a customer's: none here.
    fn statement_of(&self, _currency: &loyd_domain::ids::AssetCode) -> Option<String> {
        None
    }
}

async fn show(state: &AppState, lang: Lang, actor: &Actor, secret: &str, id: &str, error: Option<String>) -> Response {
    let loaded = async {
        let o = one(state, id).await?;
        // Its contacts spend its balances: any contact's balances are the organisation's.
        let balances = match o.contacts.first() {
            Some(contact) => crate::admin::balances::balances_of(state, contact).await?,
            None => Vec::new(),
        };
        let entries = crate::admin::crm_entries::organisation_entries(state, actor, id, 20).await?;
        Ok::<_, ApiError>((o, balances, entries))
    };
    match loaded.await {
        Ok((o, balances, entries)) => {
            let s = Session::of(&actor.principal, secret, lang.words(), "/admin/customers");
            let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            let can_crm = actor.can(Permission::CrmWrite);
            render(status, OrganisationPage { f: Frame::new(lang), s, o, balances, entries, can_crm, error, lang })
        }
        Err(e) if e.code == ErrorCode::NotFound || e.code == ErrorCode::ValidationFailed => {
            (StatusCode::NOT_FOUND, Html(lang.words().get("organisations.not_found").to_owned())).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e.message, "an organisation's page could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LangOnly {
    lang: Option<String>,
}

pub async fn organisation(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<LangOnly>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::CustomersRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let mut res = show(&state, lang, &actor, &secret, &id, None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    csrf: String,
}

/// Adds a note about the organisation.
pub async fn add_note(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<NoteForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CrmWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let note = crate::admin::crm_entries::NewCrm { kind: "note".into(), channel: None, body: form.body, due_at: None, assignee: None };
    match crate::admin::crm_entries::add_organisation_entry(&state, &actor, &id, note).await {
        Ok(_) => Redirect::to(&format!("/admin/organisations/{id}#crm")).into_response(),
        Err(e) => show(&state, lang, &actor, &secret, &id, Some(super::refusal(lang.words(), &e))).await,
    }
}
