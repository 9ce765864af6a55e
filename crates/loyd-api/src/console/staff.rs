//! Staff users and their roles, for admins: add a user with a first password, change a
//! user's role, stores or password, disable or enable a login (any change ends the
//! user's sessions); and the API keys of
//! integrations: add one with its key shown once, revoke one — through the same
//! functions as the admin API ([`crate::admin::staff`]).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use loyd_domain::access::{Permission, Role};
use serde::Deserialize;

use crate::i18n::Lang;
use super::{Frame, LangQuery, Session, allowed, checked, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::staff::{ApiKeyCreated, ApiKeyOut, NewApiKey, NewUserRequest, UserChanges, create as create_user, keys, new_key, revoke_key, update};
use crate::auth::{Actor, UserOut};
use crate::error::ApiError;

const ROLES: [Role; 6] = [Role::Admin, Role::Marketer, Role::Analyst, Role::StoreManager, Role::Support, Role::Auditor];

#[derive(Template)]
#[template(path = "console/staff.html")]
struct StaffPage {
    f: Frame,
    s: Session,
    users: Vec<UserOut>,
    roles: Vec<&'static str>,
    stores: Vec<String>,
    /// What the refused form said, to show it again with what to fix.
    form: NewUserForm,
    error: Option<String>,
    keys: Vec<ApiKeyOut>,
    key_roles: Vec<&'static str>,
    /// A key just created: shown this once.
    created: Option<ApiKeyCreated>,
    key_error: Option<String>,
    /// A refused change of one user: their login and what to fix.
    user_error: Option<(String, String)>,
}

impl StaffPage {
    /// The refusal of the change form of `login`, if it was refused.
    fn error_for(&self, login: &str) -> Option<&str> {
        self.user_error.as_ref().filter(|(l, _)| l == login).map(|(_, e)| e.as_str())
    }
}

/// What a page shows besides the lists: a refused user form, or a key just created or
/// refused.
#[derive(Default)]
struct Outcome {
    form: NewUserForm,
    error: Option<String>,
    created: Option<ApiKeyCreated>,
    key_error: Option<String>,
    user_error: Option<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    /// Store ids, separated by commas or spaces (store managers).
    #[serde(default)]
    stores: String,
    /// Where tasks due to them are sent.
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
}

async fn show(state: &AppState, lang: Lang, actor: &Actor, secret: &str, o: Outcome) -> Response {
    let loaded = async {
        let users = state.store.users().await?.into_iter().map(UserOut::from).collect();
        let stores = state.store.stores().await?.into_iter().map(|s| s.id.to_string()).collect();
        Ok::<_, ApiError>((users, stores, keys(state).await?))
    };
    match loaded.await {
        Ok((users, stores, keys)) => {
            let refused = o.error.is_some() || o.key_error.is_some() || o.user_error.is_some();
            let status = if refused { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            let s = Session::of(&actor.principal, secret, lang.words(), "/admin/staff");
            let roles = ROLES.iter().map(|r| r.name()).collect();
            let key_roles = ROLES.iter().filter(|r| !r.is_store_scoped()).map(|r| r.name()).collect();
            // A refused form comes back without its password.
            let form = NewUserForm { password: String::new(), csrf: String::new(), ..o.form };
            let page = StaffPage {
                f: Frame::new(lang),
                s,
                users,
                roles,
                stores,
                form,
                error: o.error,
                keys,
                key_roles,
                created: o.created,
                key_error: o.key_error,
                user_error: o.user_error,
            };
            render(status, page)
        }
        Err(e) => {
            tracing::error!(error = %e.message, "the staff page could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
        }
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::UsersManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let mut res = show(&state, lang, &actor, &secret, Outcome::default()).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<NewUserForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::UsersManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let stores = form.stores.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let email = Some(form.email.trim().to_owned()).filter(|e| !e.is_empty());
    let body = NewUserRequest { login: form.login.trim().to_lowercase(), password: form.password.clone(), role: form.role.clone(), stores, email };
    match create_user(&state, &actor, body).await {
        Ok(_) => Redirect::to("/admin/staff").into_response(),
        Err(e) => show(&state, lang, &actor, &secret, Outcome { form, error: Some(super::refusal(lang.words(), &e)), ..Outcome::default() }).await,
    }
}

/// Disables an enabled login, or enables a disabled one.
pub async fn switch(State(state): State<AppState>, headers: HeaderMap, Path(login): Path<String>, Form(form): Form<SwitchForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::UsersManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let disabled = match state.store.users().await {
        Ok(users) => users.iter().find(|u| u.login == login).map(|u| u.disabled),
        Err(e) => return show(&state, lang, &actor, &secret, Outcome { error: Some(super::refusal(lang.words(), &ApiError::from(e))), ..Outcome::default() }).await,
    };
    let Some(disabled) = disabled else { return Redirect::to("/admin/staff").into_response() };
    let change = UserChanges { password: None, role: None, stores: None, disabled: Some(!disabled), email: None };
    match update(&state, &actor, login, change).await {
        Ok(_) => Redirect::to("/admin/staff").into_response(),
        Err(e) => show(&state, lang, &actor, &secret, Outcome { error: Some(super::refusal(lang.words(), &e)), ..Outcome::default() }).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    role: String,
    /// Store ids, separated by commas or spaces (store managers).
    #[serde(default)]
    stores: String,
    /// A new password; empty keeps the one they have.
    #[serde(default)]
    password: String,
    /// Their e-mail; empty removes it.
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

/// Changes a user's role and stores, and their password when one is given; their
/// sessions end.
pub async fn change(State(state): State<AppState>, headers: HeaderMap, Path(login): Path<String>, Form(form): Form<ChangeForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::UsersManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let stores = form.stores.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let password = Some(form.password.clone()).filter(|p| !p.is_empty());
    let change = UserChanges { password, role: Some(form.role.clone()), stores: Some(stores), disabled: None, email: Some(form.email.clone()) };
    match update(&state, &actor, login.clone(), change).await {
        Ok(_) => Redirect::to("/admin/staff").into_response(),
        Err(e) => show(&state, lang, &actor, &secret, Outcome { user_error: Some((login, super::refusal(lang.words(), &e))), ..Outcome::default() }).await,
    }
}


pub async fn create_key(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<NewKeyForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::UsersManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let body = NewApiKey { name: form.name.trim().to_owned(), role: form.role.clone() };
    let o = match new_key(&state, &actor, body).await {
        Ok(created) => Outcome { created: Some(created), ..Outcome::default() },
        Err(e) => Outcome { key_error: Some(super::refusal(lang.words(), &e)), ..Outcome::default() },
    };
    show(&state, lang, &actor, &secret, o).await
}

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, Path(name): Path<String>, Form(form): Form<SwitchForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::UsersManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match revoke_key(&state, &actor, name).await {
        Ok(()) => Redirect::to("/admin/staff").into_response(),
        Err(e) => show(&state, lang, &actor, &secret, Outcome { key_error: Some(super::refusal(lang.words(), &e)), ..Outcome::default() }).await,
    }
}
