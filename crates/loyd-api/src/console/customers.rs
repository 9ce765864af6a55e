//! Customers: search by phone, card, name or e-mail, and a customer's page with their
//! cards, which staff who may manage cards block and unblock — through the same
//! functions as the admin API ([`crate::admin::customers`], [`crate::admin::cards`]).
//! Contact data is shown in the clear, and searched by, only for roles that may read it.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;
use serde::Deserialize;

use super::i18n::Lang;
use super::{Frame, Session, allowed, checked, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::cards::set_blocked;
use crate::admin::customers::{CustomerOut, CustomerQuery, one, search};
use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    /// `phone`, `card`, `name` or `email`.
    #[serde(default)]
    by: String,
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "console/customers.html")]
struct SearchPage {
    f: Frame,
    s: Session,
    q: String,
    by: String,
    searched: bool,
    found: Vec<CustomerOut>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/customer.html")]
struct CustomerPage {
    f: Frame,
    s: Session,
    c: CustomerOut,
    can_cards: bool,
    error: Option<String>,
}

impl CustomerPage {
    /// A card's state in the page's language.
    fn state_label(&self, state: &loyd_domain::cards::CardState) -> &'static str {
        match state {
            loyd_domain::cards::CardState::Issued => self.f.t.get("card.issued"),
            loyd_domain::cards::CardState::Active => self.f.t.get("card.active"),
            loyd_domain::cards::CardState::Blocked => self.f.t.get("card.blocked"),
            loyd_domain::cards::CardState::Expired => self.f.t.get("card.expired"),
        }
    }
}

/// What to tell the person about a refusal, in their language where the console knows it.
fn say(lang: Lang, e: &ApiError) -> String {
    match e.code {
        ErrorCode::Forbidden => lang.words().get("customers.forbidden").to_owned(),
        _ => e.message.clone(),
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<SearchQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::CustomersRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let term = q.q.trim().to_owned();
    let searched = !term.is_empty();
    let by = if ["phone", "card", "name", "email"].contains(&q.by.as_str()) { q.by.clone() } else { "phone".to_owned() };
    let (found, error) = if searched {
        let mut query = CustomerQuery { phone: None, email: None, card: None, name: None, organisation: None, after: None, limit: Some(50) };
        match by.as_str() {
            "card" => query.card = Some(term.clone()),
            "name" => query.name = Some(term.clone()),
            "email" => query.email = Some(term.clone()),
            _ => query.phone = Some(term.clone()),
        }
        match search(&state, &actor, query).await {
            Ok(page) => (page.customers, None),
            Err(e) => (Vec::new(), Some(say(lang, &e))),
        }
    } else {
        (Vec::new(), None)
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let s = Session::of(&actor.principal, &secret, lang.words(), "/admin/customers");
    let mut res = render(status, SearchPage { f: Frame::new(lang), s, q: term, by, searched, found, error });
    remember_lang(&mut res, q.lang.as_deref());
    res
}

async fn show(state: &AppState, lang: Lang, actor: &Actor, secret: &str, id: &str, error: Option<String>) -> Response {
    match one(state, actor, id).await {
        Ok(c) => {
            let s = Session::of(&actor.principal, secret, lang.words(), "/admin/customers");
            let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            let can_cards = actor.can(Permission::CardsManage);
            render(status, CustomerPage { f: Frame::new(lang), s, c, can_cards, error })
        }
        Err(e) if e.code == ErrorCode::NotFound || e.code == ErrorCode::ValidationFailed => {
            (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e.message, "a customer page could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LangOnly {
    lang: Option<String>,
}

pub async fn customer(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<LangOnly>) -> Response {
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
pub struct CardForm {
    #[serde(default)]
    csrf: String,
}

/// Blocks (`block`) or unblocks (`unblock`) a card of the customer.
pub async fn card(State(state): State<AppState>, headers: HeaderMap, Path((id, number, action)): Path<(String, String, String)>, Form(form): Form<CardForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CardsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let blocked = match action.as_str() {
        "block" => true,
        "unblock" => false,
        _ => return (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response(),
    };
    // Only the customer's own cards, from their page.
    let theirs = one(&state, &actor, &id).await.ok().and_then(|c| c.cards).is_some_and(|cards| cards.iter().any(|c| c.number == number));
    if !theirs {
        return (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response();
    }
    match set_blocked(&state, &actor, number, blocked).await {
        Ok(()) => Redirect::to(&format!("/admin/customers/{id}")).into_response(),
        Err(e) => show(&state, lang, &actor, &secret, &id, Some(say(lang, &e))).await,
    }
}
