//! Staff users and their roles, for admins: add a user with a first password, change
//! a role, disable or enable a login — through the same functions as the admin API
//! ([`crate::admin::staff`]). Any change ends the user's sessions.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use loyd_domain::access::{Permission, Role};
use serde::Deserialize;

use super::i18n::Lang;
use super::{Frame, LangQuery, Session, allowed, checked, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::staff::{NewUserRequest, UserChanges, create as create_user, update};
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
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
}

async fn show(state: &AppState, lang: Lang, actor: &Actor, secret: &str, form: NewUserForm, error: Option<String>) -> Response {
    let loaded = async {
        let users = state.store.users().await?.into_iter().map(UserOut::from).collect();
        let stores = state.store.stores().await?.into_iter().map(|s| s.id.to_string()).collect();
        Ok::<_, loyd_store::StoreError>((users, stores))
    };
    match loaded.await {
        Ok((users, stores)) => {
            let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            let s = Session::of(&actor.principal, secret, lang.words(), "/admin/staff");
            let roles = ROLES.iter().map(|r| r.name()).collect();
            // A refused form comes back without its password.
            let form = NewUserForm { password: String::new(), csrf: String::new(), ..form };
            render(status, StaffPage { f: Frame::new(lang), s, users, roles, stores, form, error })
        }
        Err(e) => {
            tracing::error!(error = %e, "the staff page could not be read");
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
    let mut res = show(&state, lang, &actor, &secret, NewUserForm::default(), None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<NewUserForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::UsersManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let stores = form.stores.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let body = NewUserRequest { login: form.login.trim().to_lowercase(), password: form.password.clone(), role: form.role.clone(), stores };
    match create_user(&state, &actor, body).await {
        Ok(_) => Redirect::to("/admin/staff").into_response(),
        Err(e) => show(&state, lang, &actor, &secret, form, Some(message(&e))).await,
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
        Err(e) => return show(&state, lang, &actor, &secret, NewUserForm::default(), Some(ApiError::from(e).message)).await,
    };
    let Some(disabled) = disabled else { return Redirect::to("/admin/staff").into_response() };
    let change = UserChanges { password: None, role: None, stores: None, disabled: Some(!disabled) };
    match update(&state, &actor, login, change).await {
        Ok(_) => Redirect::to("/admin/staff").into_response(),
        Err(e) => show(&state, lang, &actor, &secret, NewUserForm::default(), Some(message(&e))).await,
    }
}

/// What a refused change says: the domain's reason (it names the field).
fn message(e: &ApiError) -> String {
    e.message.clone()
}
