//! The admin console at `/admin`: pages rendered on the server from typed templates
//! (`templates/console/`), enhanced with htmx, in four languages ([`i18n`]), with its
//! files embedded ([`assets`]). Views call the same store functions as the JSON API,
//! and staff sign in with the same logins, sessions and lockout.
//!
//! Security: the session is an HttpOnly, SameSite=Strict cookie scoped to `/admin`;
//! every form (and every htmx request, by header) carries a CSRF token derived from the
//! session, and the sign-in form one from a cookie of its own; pages are sent with a
//! Content-Security-Policy that allows no inline script.

pub mod assets;
mod audit;
mod campaigns;
mod cards;
mod coupons;
mod customers;
pub mod dashboard;
mod failures;
mod fraud;
mod receipts;
mod segments;
mod reports;
mod form;
mod jobs;
mod organisations;
mod program;
mod staff;
mod stores;
mod mailings;
mod messages;

use askama::Template;
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use loyd_domain::org::terminal_key_hash;
use loyd_store::{LoginRefusal, Principal};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::i18n::{Catalogue, Lang};
use crate::AppState;
use crate::auth::{Actor, SESSION_HOURS};
use loyd_domain::access::Permission;

const SESSION_COOKIE: &str = "loyd_session";
const LOGIN_COOKIE: &str = "loyd_login";
pub(crate) const LANG_COOKIE: &str = "loyd_lang";
/// The header htmx requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard::page))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/assets/{name}", get(assets::serve))
        .route("/admin/campaigns", get(campaigns::list).post(campaigns::create))
        .route("/admin/campaigns/~new", get(campaigns::new))
        .route("/admin/campaigns/~simulate", post(campaigns::simulate))
        .route("/admin/campaigns/~preview", post(campaigns::preview))
        .route("/admin/campaigns/{id}", get(campaigns::show).post(campaigns::save))
        .route("/admin/campaigns/{id}/status", post(campaigns::lifecycle))
        .route("/admin/cards", get(cards::page))
        .route("/admin/cards/{series}", post(cards::create))
        .route("/admin/coupons", get(coupons::page))
        .route("/admin/coupons/{series}", post(coupons::create))
        .route("/admin/program", get(program::index))
        .route("/admin/program/export", get(program::export))
        .route("/admin/program/import", post(program::import))
        .route("/admin/program/{section}", get(program::list).post(program::create))
        .route("/admin/program/{section}/~new", get(program::new))
        .route("/admin/program/messages/~preview", post(program::message_preview))
        .route("/admin/program/{section}/{id}", get(program::show).post(program::save))
        .route("/admin/program/{section}/{id}/remove", post(program::remove))
        .route("/admin/customers", get(customers::page))
        .route("/admin/customers/{id}", get(customers::customer))
        .route("/admin/customers/{id}/cards", post(customers::issue_card))
        .route("/admin/customers/{id}/adjustments", post(customers::adjust))
        .route("/admin/customers/{id}/statement", get(customers::statement))
        .route("/admin/customers/{id}/crm", post(customers::add_note))
        .route("/admin/customers/{id}/crm/{entry}/done", post(customers::close_task))
        .route("/admin/customers/{id}/crm/{entry}/assignee", post(customers::reassign))
        .route("/admin/customers/{id}/profile", post(customers::profile))
        .route("/admin/customers/{id}/merge", post(customers::merge))
        .route("/admin/customers/{id}/erasure", post(customers::erase))
        .route("/admin/customers/{id}/cards/{number}/{action}", post(customers::card))
        .route("/admin/organisations", get(organisations::list).post(organisations::create))
        .route("/admin/organisations/{id}", get(organisations::organisation))
        .route("/admin/organisations/{id}/crm", post(organisations::add_note))
        .route("/admin/failures", get(failures::page))
        .route("/admin/receipts/{id}", get(receipts::page))
        .route("/admin/segments", get(segments::page))
        .route("/admin/segments/try", post(segments::try_it))
        .route("/admin/segments/recompute", post(segments::recompute))
        .route("/admin/segments/{id}", get(segments::segment))
        .route("/admin/fraud", get(fraud::page))
        .route("/admin/fraud/{id}", post(fraud::decision))
        .route("/admin/mailings", get(mailings::list).post(mailings::create))
        .route("/admin/mailings/{id}", get(mailings::mailing))
        .route("/admin/mailings/{id}/cancel", post(mailings::cancel))
        .route("/admin/messages", get(messages::page))
        .route("/admin/messages/{channel}/credential", post(messages::credential))
        .route("/admin/messages/telegram/connect", post(messages::connect_telegram))
        .route("/admin/messages/webhooks/{id}/secret", post(messages::secret))
        .route("/admin/messages/webhooks/{id}/test", post(messages::test))
        .route("/admin/messages/deliveries/{id}/retry", post(messages::retry))
        .route("/admin/reports", get(reports::index))
        .route("/admin/reports/{report}", get(reports::page))
        .route("/admin/audit", get(audit::page))
        .route("/admin/jobs", get(jobs::page))
        .route("/admin/jobs/{job}/run", post(jobs::run))
        .route("/admin/staff", get(staff::page).post(staff::create))
        .route("/admin/staff/{login}", post(staff::change))
        .route("/admin/staff/{login}/switch", post(staff::switch))
        .route("/admin/staff/api-keys", post(staff::create_key))
        .route("/admin/staff/api-keys/{name}/revoke", post(staff::revoke))
        .route("/admin/stores", get(stores::page))
        .route("/admin/stores/{store}/terminals", post(stores::create))
        .route("/admin/stores/{store}/terminals/{terminal}/rotate", post(stores::rotate))
        .route("/admin/stores/{store}/terminals/{terminal}/revoke", post(stores::revoke))
        .layer(middleware::from_fn(security_headers))
}

/// Pages are never cached or framed, and run no script but our own files.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the console only.
fn set_cookie(name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    cookie_at("/admin", name, value, max_age_secs)
}

/// A `Set-Cookie` value for the pages under `path`: HttpOnly, SameSite=Strict.
pub(crate) fn cookie_at(path: &str, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let text = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}");
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""))
}

/// The CSRF token of a session: only its holder (the HttpOnly cookie) can know it.
pub(crate) fn csrf_of(secret: &str) -> String {
    let hash = Sha256::digest(format!("loyd-console-csrf\0{secret}").as_bytes());
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether a form carries the token of `secret` — or, when the form has none (an htmx
/// request), its `x-csrf-token` header does — compared in constant time.
pub(crate) fn csrf_ok(secret: &str, headers: &HeaderMap, form_token: &str) -> bool {
    let expected = csrf_of(secret);
    let header = || headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let given = if form_token.is_empty() { header() } else { form_token };
    given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// The language of a request: `?lang=`, then the remembered choice, then the
/// browser's, then English.
pub(crate) fn lang_of(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    asked
        .and_then(Lang::parse)
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(Lang::parse))
        .or_else(|| headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept))
        .unwrap_or(Lang::En)
}

/// Remembers a language asked for with `?lang=`.
pub(crate) fn remember_lang(res: &mut Response, asked: Option<&str>) {
    if let Some(lang) = asked.and_then(Lang::parse) {
        res.headers_mut().append(header::SET_COOKIE, set_cookie(LANG_COOKIE, lang.code(), 365 * 24 * 3600));
    }
}

pub(crate) fn page(status: StatusCode, t: impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("internal error".to_owned())).into_response()
        }
    }
}

/// What every page's frame shows.
pub struct Frame {
    pub t: &'static Catalogue,
    pub htmx: String,
    pub css: String,
    pub langs: Vec<(&'static str, &'static str)>,
}

impl Frame {
    pub(crate) fn new(lang: Lang) -> Frame {
        Frame {
            t: lang.words(),
            htmx: assets::url("htmx"),
            css: assets::url("console"),
            langs: Lang::ALL.into_iter().map(|l| (l.code(), l.words().get("lang.name"))).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    f: Frame,
    csrf: String,
    login: String,
    error: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// What a refusal says, in the page's language where the server says it by key
/// ([`loyd_domain::said`]); in the server's words otherwise.
pub(crate) fn refusal(t: &Catalogue, e: &crate::error::ApiError) -> String {
    e.said.as_ref().map_or_else(|| e.message.clone(), |s| t.say(s))
}

/// What a person typed in a field, trimmed; `None` when they left it empty.
pub(crate) fn filled(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

pub(crate) fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sign-in form with a fresh token for its CSRF check (kept in a cookie of its
/// own), the login typed so far, and what to fix.
fn login_form(lang: Lang, status: StatusCode, login: String, error: Option<&'static str>) -> Response {
    let secret = random_token();
    let mut res = page(status, LoginPage { f: Frame::new(lang), csrf: csrf_of(&secret), login, error });
    res.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &secret, 3600));
    res
}

async fn login_page(headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let mut res = login_form(lang_of(&headers, q.lang.as_deref()), StatusCode::OK, String::new(), None);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// Signs in with the same logins, lockout and sessions as `POST /v1/auth/login`.
async fn login(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let lang = lang_of(&headers, None);
    let t = lang.words();
    let again = |error: &'static str, status: StatusCode| login_form(lang, status, form.login.chars().take(64).collect(), Some(error));
    if !cookie(&headers, LOGIN_COOKIE).is_some_and(|secret| csrf_ok(secret, &headers, &form.csrf)) {
        return again(t.get("login.expired"), StatusCode::FORBIDDEN);
    }
    match crate::auth::start_session(&state, &form.login, form.password.clone()).await {
        Ok(Ok(s)) => {
            let mut res = Redirect::to("/admin").into_response();
            let h = res.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &s.token, SESSION_HOURS * 3600));
            h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0));
            res
        }
        Ok(Err(LoginRefusal::BadCredentials)) => again(t.get("login.wrong"), StatusCode::UNAUTHORIZED),
        Ok(Err(LoginRefusal::Locked { .. })) => again(t.get("login.locked"), StatusCode::TOO_MANY_REQUESTS),
        Err(e) => {
            tracing::error!(error = %e, "console sign-in failed");
            (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
        }
    }
}

/// The signed-in staff member of a request, with their session's secret.
pub(crate) async fn staff(state: &AppState, headers: &HeaderMap) -> Option<(Principal, String)> {
    let token = cookie(headers, SESSION_COOKIE)?;
    let principal = state.store.principal(terminal_key_hash(token)).await.ok().flatten()?;
    Some((principal, token.to_owned()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A form that makes a batch of a series (coupon codes, gift cards): how many.
#[derive(Debug, Deserialize)]
pub struct BatchForm {
    #[serde(default)]
    count: String,
    /// The batch's id, new with each page: a form sent twice makes one batch.
    #[serde(default)]
    operation: String,
    #[serde(default)]
    csrf: String,
}

/// A refused batch form: its series, what was typed and what to fix, shown again at
/// that series' form.
pub(crate) struct Refused {
    pub series: String,
    pub count: String,
    pub error: String,
}

impl Refused {
    /// What to say of a refused batch: in the page's words when the same form was sent
    /// twice, the server's otherwise.
    pub(crate) fn say(t: &Catalogue, e: crate::error::ApiError) -> String {
        if e.code == crate::error::ErrorCode::AlreadyExists { t.get("batch.already_made").to_owned() } else { refusal(t, &e) }
    }

    /// The operation id a batch form sent, if any.
    pub(crate) fn operation(form: &BatchForm) -> Option<String> {
        filled(&form.operation).map(|o| format!("console-{o}"))
    }

    /// What the form of `series` shows: the count typed and why it was refused, if it
    /// was this form; else the usual count.
    pub(crate) fn at(refused: Option<&Refused>, series: &str) -> (String, Option<String>) {
        match refused {
            Some(r) if r.series == series => (r.count.clone(), Some(r.error.clone())),
            _ => ("100".to_owned(), None),
        }
    }
}

/// The staff member of a request whose role holds `needs`, with their session's
/// secret; otherwise the answer to give (to sign in, or that the role does not allow it).
pub(crate) async fn allowed(state: &AppState, headers: &HeaderMap, lang: Lang, needs: Permission) -> Result<(Actor, String), Response> {
    let Some((principal, secret)) = staff(state, headers).await else { return Err(Redirect::to("/admin/login").into_response()) };
    if !principal.role.allows(needs) {
        return Err((StatusCode::FORBIDDEN, Html(lang.words().get("error.not_allowed").to_owned())).into_response());
    }
    Ok((Actor { principal }, secret))
}

/// The language, the staff member and their session's secret of a form that may be
/// acted on: signed in, allowed `needs`, and carrying its session's token.
pub(crate) async fn checked(state: &AppState, headers: &HeaderMap, token: &str, needs: Permission) -> Result<(Lang, Actor, String), Response> {
    let lang = lang_of(headers, None);
    let (actor, secret) = allowed(state, headers, lang, needs).await?;
    if !csrf_ok(&secret, headers, token) {
        return Err((StatusCode::FORBIDDEN, Html(lang.words().get("error.forbidden").to_owned())).into_response());
    }
    Ok((lang, actor, secret))
}

/// Signs out: the session ends on the server, and its cookie is cleared.
async fn logout(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let lang = lang_of(&headers, None);
    let Some(token) = cookie(&headers, SESSION_COOKIE) else { return Redirect::to("/admin/login").into_response() };
    if !csrf_ok(token, &headers, &form.csrf) {
        return (StatusCode::FORBIDDEN, Html(lang.words().get("error.forbidden").to_owned())).into_response();
    }
    if let Err(e) = state.store.logout(terminal_key_hash(token)).await {
        tracing::error!(error = %e, "console sign-out failed");
    }
    let mut res = Redirect::to("/admin/login").into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    res
}

/// A link of the top bar.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame of a signed-in page: who is signed in, the pages their role may open, and
/// their sign-out form.
pub struct Session {
    pub nav: Vec<NavItem>,
    pub name: String,
    pub role: String,
    pub stores: Vec<String>,
    pub csrf: String,
    /// `{"x-csrf-token": "…"}` for htmx requests (an attribute, so no inline script).
    pub hx_headers: String,
}

impl Session {
    pub(crate) fn of(p: &Principal, secret: &str, t: &'static Catalogue, here: &str) -> Session {
        let csrf = csrf_of(secret);
        let pages: [(&'static str, &'static str, Option<Permission>); 16] = [
            ("/admin", "nav.dashboard", None),
            ("/admin/program", "nav.program", Some(Permission::ConfigRead)),
            ("/admin/campaigns", "nav.campaigns", Some(Permission::ConfigRead)),
            ("/admin/coupons", "nav.coupons", Some(Permission::ConfigRead)),
            ("/admin/cards", "nav.cards", Some(Permission::CardsManage)),
            ("/admin/customers", "nav.customers", Some(Permission::CustomersRead)),
            ("/admin/reports", "nav.reports", Some(Permission::ReportsRead)),
            ("/admin/segments", "nav.segments", Some(Permission::ReportsRead)),
            ("/admin/fraud", "nav.fraud", Some(Permission::FraudRead)),
            ("/admin/failures", "nav.failures", Some(Permission::FailuresRead)),
            ("/admin/audit", "nav.audit", Some(Permission::AuditRead)),
            ("/admin/messages", "nav.messages", Some(Permission::ConfigRead)),
            ("/admin/mailings", "nav.mailings", Some(Permission::ReportsRead)),
            ("/admin/jobs", "nav.jobs", Some(Permission::LedgerAudit)),
            ("/admin/stores", "nav.stores", Some(Permission::TerminalsManage)),
            ("/admin/staff", "nav.staff", Some(Permission::UsersManage)),
        ];
        let nav = pages
            .into_iter()
            .filter(|(_, _, needs)| needs.is_none_or(|n| p.role.allows(n)))
            .map(|(href, key, _)| NavItem { href, label: t.get(key), current: href == here })
            .collect();
        Session {
            nav,
            name: p.name.trim_start_matches("user:").to_owned(),
            role: p.role.to_string(),
            stores: if p.role.is_store_scoped() { p.stores.clone() } else { Vec::new() },
            hx_headers: serde_json::json!({ CSRF_HEADER: csrf }).to_string(),
            csrf,
        }
    }
}
