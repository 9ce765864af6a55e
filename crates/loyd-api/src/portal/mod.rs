//! The customer portal at `/portal`: a member signs in with their phone (or e-mail)
//! and a one-time code sent through the program's `portal.code` messages, or joins with
//! a confirmed phone; then sees their card with a code for the till, balances with
//! what becomes available and what expires, purchases, coupons, notifications, and
//! edits their profile and consents. Server-rendered in four languages, phone first,
//! with the console's assets and security headers.
//!
//! Privacy: no route takes the id of a customer, card, receipt or coupon; every page
//! reads only what belongs to the session's customer ([`Me`]). Sign-in answers alike
//! for a member's phone and anyone else's until the code is typed.
//!
//! Security: the session is an HttpOnly, SameSite=Strict cookie scoped to `/portal`
//! whose token is kept only hashed; every form carries a CSRF token (of the session,
//! or of a cookie of its own before sign-in); codes are single-use, hashed, and
//! rate-limited per address, per network address and in all
//! ([`loyd_domain::portal`]).

mod pages;
mod rewards;


use askama::Template;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use loyd_domain::events::EventKind;
use loyd_domain::org::terminal_key_hash;
use loyd_domain::portal::CodeLimit;
use loyd_store::{CodeAsked, CodeChecked, PortalAddress, PortalJoin, PortalSession};
use serde::Deserialize;

use crate::console::{LANG_COOKIE, LangQuery, cookie, cookie_at, csrf_of, csrf_ok, lang_of, page, random_token};
use crate::i18n::{Catalogue, Lang};
use crate::AppState;

const SESSION_COOKIE: &str = "loyd_portal";
/// The CSRF secret of the forms before sign-in.
const FORM_COOKIE: &str = "loyd_portal_form";
/// A confirmed phone that may join (sealed, with until when).
const JOIN_COOKIE: &str = "loyd_portal_join";
const PATH: &str = "/portal";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route("/portal", get(pages::card))
        .route("/portal/till-code", post(pages::till_code))
        .route("/portal/points", get(pages::points))
        .route("/portal/history", get(pages::history))
        .route("/portal/coupons", get(pages::coupons))
        .route("/portal/rewards", get(rewards::rewards).post(rewards::exchange))
        .route("/portal/messages", get(pages::messages).post(pages::read_messages))
        .route("/portal/profile", get(pages::profile).post(pages::save_profile))
        .route("/portal/data", get(pages::data))
        .route("/portal/erasure", post(pages::erasure))
        .route("/portal/login", get(login_page).post(send_code))
        .route("/portal/code", post(check_code))
        .route("/portal/join", get(join_page).post(join))
        .route("/portal/logout", post(logout))
        .route("/portal/gift-card", get(gift_card_page).post(gift_card_check))
        .route("/portal/stores", get(stores_page))
        .route("/portal/assets/{name}", get(crate::console::assets::serve))
        .route("/portal/manifest.webmanifest", get(manifest))
        .layer(middleware::from_fn(crate::console::security_headers))
}

/// What every portal page's frame shows.
pub struct Frame {
    pub t: &'static Catalogue,
    pub css: String,
    pub htmx: String,
    pub icon: String,
    pub langs: Vec<(&'static str, &'static str)>,
}

impl Frame {
    fn new(lang: Lang) -> Frame {
        Frame {
            t: lang.words(),
            css: crate::console::assets::url_at(PATH, "portal"),
            htmx: crate::console::assets::url_at(PATH, "htmx"),
            icon: crate::console::assets::url_at(PATH, "icon"),
            langs: Lang::ALL.into_iter().map(|l| (l.code(), l.words().get("lang.name"))).collect(),
        }
    }
}

/// The network address a request came from: the peer's, or (behind a proxy the
/// operator trusts, `LOYD_TRUST_FORWARDED_FOR`) the last one `X-Forwarded-For` names.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<ClientIp, Self::Rejection> {
        let forwarded = || {
            let header = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back()?;
            header.rsplit(',').next().map(|ip| ip.trim().to_owned()).filter(|ip| !ip.is_empty())
        };
        let peer = || parts.extensions.get::<ConnectInfo<crate::http::Peer>>().map(|ConnectInfo(peer)| peer.0.ip().to_string());
        let ip = if state.config.trust_forwarded_for { forwarded().or_else(peer) } else { peer() };
        Ok(ClientIp(ip.unwrap_or_else(|| "unknown".to_owned())))
    }
}

fn set(res: &mut Response, name: &str, value: &str, max_age_secs: i64) {
    res.headers_mut().append(header::SET_COOKIE, cookie_at(PATH, name, value, max_age_secs));
}

/// Remembers a language asked for with `?lang=` (for the portal's pages).
fn remember_lang(res: &mut Response, asked: Option<&str>) {
    if let Some(lang) = asked.and_then(Lang::parse) {
        set(res, LANG_COOKIE, lang.code(), 365 * 24 * 3600);
    }
}

/// The signed-in customer of a request, with their session's token and language.
pub(crate) struct Me {
    pub id: i64,
    pub token: String,
    pub lang: Lang,
}

impl Me {
    /// The CSRF token of their session's forms.
    pub(crate) fn csrf(&self) -> String {
        csrf_of(&self.token)
    }

    /// Who changes what they change here, in the audit log.
    pub(crate) fn actor(&self) -> String {
        format!("customer:{} (portal)", loyd_domain::ids::CustomerId(self.id))
    }
}

/// The customer signed in, or the way to the sign-in page.
pub(crate) async fn me(state: &AppState, headers: &HeaderMap, asked: Option<&str>) -> Result<Me, Response> {
    let lang = lang_of(headers, asked);
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Err(Redirect::to("/portal/login").into_response()) };
    match state.store.portal_customer(terminal_key_hash(token)).await {
        Ok(Some(id)) => Ok(Me { id, token: token.to_owned(), lang }),
        Ok(None) => Err(Redirect::to("/portal/login").into_response()),
        Err(e) => Err(unavailable(lang, &e)),
    }
}

/// A signed-in form: the customer, if its token is their session's.
pub(crate) async fn checked(state: &AppState, headers: &HeaderMap, token: &str) -> Result<Me, Response> {
    let me = me(state, headers, None).await?;
    if !csrf_ok(&me.token, headers, token) {
        return Err(notice(me.lang, StatusCode::FORBIDDEN, "error.forbidden"));
    }
    Ok(me)
}

#[derive(Template)]
#[template(path = "portal/notice.html")]
struct NoticePage {
    f: Frame,
    text: String,
}

/// A page that says one thing (an error), with a way back.
pub(crate) fn notice(lang: Lang, status: StatusCode, key: &str) -> Response {
    page(status, NoticePage { f: Frame::new(lang), text: lang.words().get(key).to_owned() })
}

pub(crate) fn unavailable(lang: Lang, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a portal page could not be made");
    notice(lang, StatusCode::SERVICE_UNAVAILABLE, "portal.unavailable")
}

/// What a phone or e-mail typed at sign-in is, normalised.
fn address_of(typed: &str) -> Option<PortalAddress> {
    let typed = typed.trim();
    if typed.contains('@') {
        loyd_domain::text::normalize_email(typed).map(PortalAddress::Email)
    } else {
        loyd_domain::receipt::normalize_phone(typed).map(PortalAddress::Phone)
    }
}

/// An address as the code page shows it: `+371 •••• 0001`, `a•••@example.com`.
fn masked(to: &PortalAddress) -> String {
    match to {
        PortalAddress::Phone(p) => loyd_domain::operations::mask_phone(p),
        PortalAddress::Email(e) => loyd_domain::access::mask_email(e),
    }
}

#[derive(Template)]
#[template(path = "portal/login.html")]
struct LoginPage {
    f: Frame,
    csrf: String,
    typed: String,
    error: Option<String>,
    /// Whether the program sends sign-in codes at all.
    ready: bool,
    /// The program's greeting (`[portal]` texts).
    welcome: Option<loyd_domain::program::PortalText>,
}

#[derive(Template)]
#[template(path = "portal/code.html")]
struct CodePage {
    f: Frame,
    csrf: String,
    typed: String,
    to: String,
    error: Option<String>,
}

/// A signed-out form's page, its CSRF token of the browser's form secret (a fresh one
/// in its cookie when it has none: pages open in other tabs stay good).
fn signed_out(headers: &HeaderMap, status: StatusCode, make: impl FnOnce(String) -> Response) -> Response {
    let (secret, fresh) = match cookie(headers, FORM_COOKIE) {
        Some(s) => (s.to_owned(), false),
        None => (random_token(), true),
    };
    let mut res = make(csrf_of(&secret));
    *res.status_mut() = status;
    if fresh {
        set(&mut res, FORM_COOKIE, &secret, 3600);
    }
    res
}

fn form_ok(headers: &HeaderMap, token: &str) -> bool {
    cookie(headers, FORM_COOKIE).is_some_and(|secret| csrf_ok(secret, headers, token))
}

/// A text of the program's (by language) for a customer of `lang`: theirs, else
/// English, else the first written, as messages choose theirs.
pub(crate) fn text_in(texts: &std::collections::BTreeMap<String, loyd_domain::program::PortalText>, lang: Lang) -> Option<&loyd_domain::program::PortalText> {
    loyd_domain::messages::text_for(texts, Some(lang.code())).map(|(_, t)| t)
}

/// What the sign-in page says of the program: whether it has a message that carries
/// sign-in codes, and its greeting in `lang`.
struct Ready {
    codes: bool,
    welcome: Option<loyd_domain::program::PortalText>,
}

async fn ready(state: &AppState, lang: Lang) -> Ready {
    match state.store.program().await {
        Ok(p) => Ready {
            codes: p.messages.iter().any(|m| m.event == EventKind::PortalCode),
            welcome: text_in(&p.portal.texts, lang).cloned(),
        },
        Err(_) => Ready { codes: false, welcome: None },
    }
}

fn login_form(headers: &HeaderMap, lang: Lang, status: StatusCode, typed: String, error: Option<String>, ready: Ready) -> Response {
    signed_out(headers, status, |csrf| page(StatusCode::OK, LoginPage { f: Frame::new(lang), csrf, typed, error, ready: ready.codes, welcome: ready.welcome }))
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let mut res = login_form(&headers, lang, StatusCode::OK, String::new(), None, ready(&state, lang).await);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct SendForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    csrf: String,
}

/// Sends a code to the phone or e-mail typed — the same answer whether it is a
/// member's or not — unless a rate limit stops it.
async fn send_code(State(state): State<AppState>, headers: HeaderMap, ClientIp(ip): ClientIp, Form(form): Form<SendForm>) -> Response {
    let lang = lang_of(&headers, None);
    let t = lang.words();
    let typed: String = form.to.chars().take(100).collect();
    let ready = ready(&state, lang).await;
    if !form_ok(&headers, &form.csrf) {
        return login_form(&headers, lang, StatusCode::FORBIDDEN, typed, Some(t.get("portal.form_expired").to_owned()), ready);
    }
    let Some(to) = address_of(&typed) else {
        return login_form(&headers, lang, StatusCode::UNPROCESSABLE_ENTITY, typed, Some(t.get("portal.not_an_address").to_owned()), ready);
    };
    if !ready.codes {
        return login_form(&headers, lang, StatusCode::SERVICE_UNAVAILABLE, typed, Some(t.get("portal.no_codes").to_owned()), ready);
    }
    match state.store.request_portal_code(CodeAsked { to: to.clone(), ip, language: lang.code().to_owned() }).await {
        Ok(Ok(())) => code_form(&headers, lang, StatusCode::OK, typed, &to, None),
        Ok(Err(limit)) => {
            let key = if limit == CodeLimit::Everyone { "portal.busy" } else { "portal.too_many_codes" };
            login_form(&headers, lang, StatusCode::TOO_MANY_REQUESTS, typed, Some(t.get(key).to_owned()), ready)
        }
        Err(e) => unavailable(lang, &e),
    }
}

fn code_form(headers: &HeaderMap, lang: Lang, status: StatusCode, typed: String, to: &PortalAddress, error: Option<String>) -> Response {
    let shown = masked(to);
    signed_out(headers, status, |csrf| page(StatusCode::OK, CodePage { f: Frame::new(lang), csrf, typed, to: shown, error }))
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

/// Checks the code typed: a member is signed in, a new phone may join.
async fn check_code(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CodeForm>) -> Response {
    let lang = lang_of(&headers, None);
    let t = lang.words();
    let typed: String = form.to.chars().take(100).collect();
    let Some(to) = address_of(&typed) else { return Redirect::to("/portal/login").into_response() };
    if !form_ok(&headers, &form.csrf) {
        return code_form(&headers, lang, StatusCode::FORBIDDEN, typed, &to, Some(t.get("portal.form_expired").to_owned()));
    }
    let code: String = form.code.chars().filter(char::is_ascii_digit).take(12).collect();
    match state.store.check_portal_code(to.clone(), code).await {
        Ok(CodeChecked::Member(session)) => signed_in(session),
        Ok(CodeChecked::Newcomer) => match (&to, state.store.program().await) {
            (PortalAddress::Phone(phone), Ok(program)) if program.portal.join => {
                let until = state.store.now() + loyd_domain::portal::JOIN_LIFE;
                let ticket = state.store.keyring().seal("portal-join", &serde_json::json!({ "phone": phone, "until": until }).to_string());
                let mut res = Redirect::to("/portal/join").into_response();
                set(&mut res, JOIN_COOKIE, &ticket, loyd_domain::portal::JOIN_LIFE.as_secs());
                res
            }
            (PortalAddress::Email(_), Ok(_)) => notice(lang, StatusCode::NOT_FOUND, "portal.email_not_member"),
            (_, Ok(_)) => notice(lang, StatusCode::NOT_FOUND, "portal.join_closed"),
            (_, Err(e)) => unavailable(lang, &e),
        },
        Ok(CodeChecked::Refused) => code_form(&headers, lang, StatusCode::UNAUTHORIZED, typed, &to, Some(t.get("portal.wrong_code").to_owned())),
        Err(e) => unavailable(lang, &e),
    }
}

/// Sets the session's cookie and goes to the card.
fn signed_in(session: PortalSession) -> Response {
    let mut res = Redirect::to(PATH).into_response();
    // The cookie lives as long as the session (the server ends it at `expires_at`).
    set(&mut res, SESSION_COOKIE, &session.token, loyd_domain::portal::SESSION_LIFE.as_secs());
    set(&mut res, FORM_COOKIE, "", 0);
    set(&mut res, JOIN_COOKIE, "", 0);
    res
}

/// The phone a join cookie confirms, while it is good.
fn confirmed_phone(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let sealed = cookie(headers, JOIN_COOKIE)?;
    let ticket: serde_json::Value = serde_json::from_str(&state.store.keyring().open("portal-join", sealed).ok()?).ok()?;
    let until: jiff::Timestamp = ticket["until"].as_str()?.parse().ok()?;
    (until > state.store.now()).then(|| ticket["phone"].as_str().map(str::to_owned)).flatten()
}

/// The channels a new member may consent to: those the program sends messages on.
async fn consent_channels(state: &AppState) -> Vec<&'static str> {
    let Ok(program) = state.store.program().await else { return Vec::new() };
    loyd_domain::access::CHANNELS
        .into_iter()
        .filter(|name| loyd_domain::messages::Channel::parse(name).is_some_and(|c| program.has_channel(c)))
        .collect()
}

#[derive(Template)]
#[template(path = "portal/join.html")]
struct JoinPage {
    f: Frame,
    csrf: String,
    phone: String,
    name: String,
    email: String,
    channels: Vec<(&'static str, String, bool)>,
    error: Option<String>,
}

async fn join_form(state: &AppState, headers: &HeaderMap, lang: Lang, status: StatusCode, phone: &str, form: Option<&JoinForm>, error: Option<String>) -> Response {
    let t = lang.words();
    let channels = consent_channels(state).await;
    let channels = channels.into_iter().map(|c| (c, t.get(&format!("portal.channel.{c}")).to_owned(), form.is_some_and(|f| f.consents.iter().any(|x| x == c)))).collect();
    let shown = loyd_domain::operations::mask_phone(phone);
    let (name, email) = form.map_or_else(Default::default, |f| (f.name.clone(), f.email.clone()));
    signed_out(headers, status, |csrf| page(StatusCode::OK, JoinPage { f: Frame::new(lang), csrf, phone: shown, name, email, channels, error }))
}

async fn join_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let Some(phone) = confirmed_phone(&state, &headers) else { return Redirect::to("/portal/login").into_response() };
    let mut res = join_form(&state, &headers, lang, StatusCode::OK, &phone, None, None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// The join form: its fields, and the channels ticked (`consent` repeated).
#[derive(Debug, Default)]
pub struct JoinForm {
    name: String,
    email: String,
    consents: Vec<String>,
    accept: bool,
    csrf: String,
}

impl JoinForm {
    fn of(pairs: Vec<(String, String)>) -> JoinForm {
        let mut form = JoinForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => form.name = v,
                "email" => form.email = v,
                "consent" => form.consents.push(v),
                "accept" => form.accept = true,
                "csrf" => form.csrf = v,
                _ => {}
            }
        }
        form
    }
}

/// Joins with the confirmed phone: a member, their card and a session.
async fn join(State(state): State<AppState>, headers: HeaderMap, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let form = JoinForm::of(pairs);
    let lang = lang_of(&headers, None);
    let t = lang.words();
    let Some(phone) = confirmed_phone(&state, &headers) else { return Redirect::to("/portal/login").into_response() };
    if !form_ok(&headers, &form.csrf) {
        return join_form(&state, &headers, lang, StatusCode::FORBIDDEN, &phone, Some(&form), Some(t.get("portal.form_expired").to_owned())).await;
    }
    if !form.accept {
        return join_form(&state, &headers, lang, StatusCode::UNPROCESSABLE_ENTITY, &phone, Some(&form), Some(t.get("portal.accept_needed").to_owned())).await;
    }
    let offered = consent_channels(&state).await;
    let consents = offered.iter().map(|c| ((*c).to_owned(), form.consents.iter().any(|x| x == c))).collect();
    let join = PortalJoin {
        phone: phone.clone(),
        name: crate::console::filled(&form.name),
        email: crate::console::filled(&form.email),
        language: lang.code().to_owned(),
        consents,
    };
    match state.store.join_portal(join).await {
        Ok(session) => signed_in(session),
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            if e.code.status().is_server_error() {
                return unavailable(lang, &e.message);
            }
            let why = crate::console::refusal(t, &e);
            join_form(&state, &headers, lang, StatusCode::UNPROCESSABLE_ENTITY, &phone, Some(&form), Some(why)).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    everywhere: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Signs out here, or on every device.
async fn logout(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LogoutForm>) -> Response {
    let me = match checked(&state, &headers, &form.csrf).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    if let Err(e) = state.store.end_portal_session(terminal_key_hash(&me.token), form.everywhere.is_some()).await {
        return unavailable(me.lang, &e);
    }
    let mut res = Redirect::to("/portal/login").into_response();
    set(&mut res, SESSION_COOKIE, "", 0);
    res
}

/// The web app manifest: the portal installs on a phone's home screen.
async fn manifest(headers: HeaderMap) -> Response {
    let lang = lang_of(&headers, None);
    let t = lang.words();
    let icon = |size: &str, stem: &str, kind: &str| serde_json::json!({ "src": crate::console::assets::url_at(PATH, stem), "sizes": size, "type": kind });
    let body = serde_json::json!({
        "name": t.get("portal.app_name"),
        "short_name": t.get("portal.app_short_name"),
        "lang": lang.code(),
        "start_url": "/portal",
        "scope": "/portal",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b6e4f",
        "icons": [icon("192x192", "icon-192", "image/png"), icon("512x512", "icon-512", "image/png"), icon("any", "icon", "image/svg+xml")],
    });
    ([(header::CONTENT_TYPE, "application/manifest+json"), (header::CACHE_CONTROL, "public, max-age=3600")], body.to_string()).into_response()
}

/// A gift card found: each balance (amount, currency), and until when it is good.
type GiftFound = (Vec<(String, String)>, Option<String>);

#[derive(Template)]
#[template(path = "portal/gift_card.html")]
struct GiftCardPage {
    f: Frame,
    csrf: String,
    number: String,
    found: Option<GiftFound>,
    error: Option<String>,
}

fn gift_card_form(headers: &HeaderMap, lang: Lang, status: StatusCode, number: String, found: Option<GiftFound>, error: Option<String>) -> Response {
    signed_out(headers, status, |csrf| page(StatusCode::OK, GiftCardPage { f: Frame::new(lang), csrf, number, found, error }))
}

async fn gift_card_page(headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let mut res = gift_card_form(&headers, lang, StatusCode::OK, String::new(), None, None);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct GiftCardForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    pin: String,
    #[serde(default)]
    csrf: String,
}

/// A gift card's balance by its number and PIN, signed in or not: the same answer for
/// an unknown card and a wrong PIN, at most a few checks an hour from one address.
async fn gift_card_check(State(state): State<AppState>, headers: HeaderMap, ClientIp(ip): ClientIp, Form(form): Form<GiftCardForm>) -> Response {
    let lang = lang_of(&headers, None);
    let t = lang.words();
    let number: String = form.number.chars().filter(|c| !c.is_whitespace()).take(32).collect();
    let again = |status, key: &str| gift_card_form(&headers, lang, status, number.clone(), None, Some(t.get(key).to_owned()));
    if !form_ok(&headers, &form.csrf) {
        return again(StatusCode::FORBIDDEN, "portal.form_expired");
    }
    let pin: String = form.pin.trim().chars().take(16).collect();
    if number.is_empty() || pin.is_empty() {
        return again(StatusCode::UNPROCESSABLE_ENTITY, "portal.gift.not_found");
    }
    match state.store.gift_card_check(number.clone(), pin, ip).await {
        Ok(Err(())) => again(StatusCode::TOO_MANY_REQUESTS, "portal.gift.too_many"),
        Ok(Ok(None)) => again(StatusCode::NOT_FOUND, "portal.gift.not_found"),
        Ok(Ok(Some(card))) => {
            let balances = card.balances.iter().map(|b| (lang.number(&b.available), b.currency.to_string())).collect();
            let until = card.valid_until.as_deref().and_then(|v| v.get(..10)).and_then(|d| d.parse::<jiff::civil::Date>().ok()).map(|d| lang.date(d));
            gift_card_form(&headers, lang, StatusCode::OK, number, Some((balances, until)), None)
        }
        Err(e) => unavailable(lang, &e),
    }
}

#[derive(Template)]
#[template(path = "portal/stores.html")]
struct StoresPage {
    f: Frame,
    /// Name, address, opening hours.
    stores: Vec<(String, Option<String>, Option<String>)>,
}

/// The program's stores with their addresses and opening hours, signed in or not.
async fn stores_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let stores = match state.store.stores().await {
        Ok(s) => s.into_iter().map(|s| (s.name, s.address, s.hours)).collect(),
        Err(e) => return unavailable(lang, &e),
    };
    let mut res = page(StatusCode::OK, StoresPage { f: Frame::new(lang), stores });
    remember_lang(&mut res, q.lang.as_deref());
    res
}
