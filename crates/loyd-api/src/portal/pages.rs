//! The portal's signed-in pages: the card with a code for the till, points, purchases,
//! coupons, notifications and the profile. Each reads only the session's customer
//! ([`Me`]); none takes another object's id.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::money::Minor;
use loyd_domain::program::{CardKind, Program};
use loyd_store::CustomerPatch;
use serde::Deserialize;

use super::{Frame, Me, checked, me, notice, remember_lang, unavailable};
use crate::console::{LangQuery, page};
use crate::i18n::Lang;
use crate::AppState;

/// A link of the tab bar.
pub struct Tab {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    /// Unread notifications (the messages tab).
    pub count: usize,
}

/// The frame of a signed-in page: the tabs, and the session's form token.
pub struct Signed {
    pub tabs: Vec<Tab>,
    pub csrf: String,
    /// `{"x-csrf-token": "…"}` for htmx requests.
    pub hx_headers: String,
}

impl Signed {
    pub(crate) async fn of(state: &AppState, me: &Me, here: &str) -> Signed {
        let t = me.lang.words();
        let unread = state.store.notifications(me.id, None, 50).await.map(|n| n.iter().filter(|n| n.read_at.is_none()).count()).unwrap_or(0);
        let tabs = [
            ("/portal", "portal.tab.card"),
            ("/portal/points", "portal.tab.points"),
            ("/portal/history", "portal.tab.history"),
            ("/portal/coupons", "portal.tab.coupons"),
            ("/portal/messages", "portal.tab.messages"),
            ("/portal/profile", "portal.tab.profile"),
        ]
        .into_iter()
        .map(|(href, key)| Tab { href, label: t.get(key), current: href == here, count: if href == "/portal/messages" { unread } else { 0 } })
        .collect();
        let csrf = me.csrf();
        Signed { tabs, hx_headers: serde_json::json!({ crate::console::CSRF_HEADER: csrf }).to_string(), csrf }
    }
}

/// An amount of `currency` in minor units as the page's language writes it.
fn amount(lang: Lang, program: &Program, currency: &str, minor: i64) -> String {
    lang.number(&Minor::new(minor, program.scale_of(currency)).to_string())
}

/// The time zone dates are shown in: the customer's home store's, else UTC.
pub(crate) async fn zone(state: &AppState, id: i64) -> jiff::tz::TimeZone {
    state.store.customer_zone(id).await.ok().flatten().and_then(|z| jiff::tz::TimeZone::get(&z).ok()).unwrap_or(jiff::tz::TimeZone::UTC)
}

pub(crate) fn date(lang: Lang, tz: &jiff::tz::TimeZone, at: jiff::Timestamp) -> String {
    lang.date(at.to_zoned_datetime(tz.clone()).date())
}

fn time(tz: &jiff::tz::TimeZone, at: jiff::Timestamp) -> String {
    at.to_zoned_datetime(tz.clone()).strftime("%H:%M").to_string()
}

/// A balance line: currency, what is available, what is pending.
pub struct BalanceLine {
    pub currency: String,
    pub available: String,
    pub pending: Option<String>,
}

async fn balances(state: &AppState, me: &Me) -> Result<Vec<BalanceLine>, Response> {
    let held = state.store.customer_balances(me.id).await.map_err(|e| unavailable(me.lang, &e))?;
    Ok(held
        .into_iter()
        .map(|b| {
            let pending = Some(me.lang.number(&b.pending)).filter(|_| !b.pending.trim_start_matches(['0', '.']).is_empty());
            BalanceLine { currency: b.currency.to_string(), available: me.lang.number(&b.available), pending }
        })
        .collect())
}

/// What the till needs to find the customer: the code, its QR picture, until when.
pub struct TillCode {
    pub code: String,
    pub qr: String,
    pub until: String,
}

/// A tier ladder as the card page shows it: the level reached, and what the next one
/// takes.
pub struct TierLine {
    pub ladder: String,
    pub level: Option<String>,
    /// What the next level takes, in words: `To silver: 120 more`.
    pub next: Option<String>,
}

async fn tiers(state: &AppState, me: &Me, program: &Program) -> Result<Vec<TierLine>, Response> {
    if program.tiers.is_empty() {
        return Ok(Vec::new());
    }
    let values = state.store.customer_counters(me.id).await.map_err(|e| unavailable(me.lang, &e))?;
    Ok(program
        .tiers
        .iter()
        .map(|t| {
            let value = values.get(t.counter.as_str()).copied().unwrap_or_default();
            TierLine {
                ladder: t.id.to_string(),
                level: t.level(value).map(ToString::to_string),
                next: t.next(value).map(|(level, more)| {
                    me.lang.words().get("portal.tier.next").replace("{level}", level.as_str()).replace("{more}", &me.lang.number(&more.normalize().to_string()))
                }),
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "portal/card.html")]
struct CardPage {
    f: Frame,
    s: Signed,
    name: String,
    card: Option<String>,
    is_virtual: bool,
    balances: Vec<BalanceLine>,
    tiers: Vec<TierLine>,
    till: Option<TillCode>,
    /// The program's greeting, the offers meant for the customer, and whether the
    /// rewards catalogue has entries.
    welcome: Option<loyd_domain::program::PortalText>,
    offers: Vec<super::rewards::OfferLine>,
    has_rewards: bool,
}

#[derive(Template)]
#[template(path = "portal/till.html")]
struct TillFragment {
    f: Frame,
    till: TillCode,
}

async fn card_page(state: &AppState, me: &Me, till: Option<TillCode>) -> Response {
    let customer = match state.store.customer(me.id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Redirect::to("/portal/login").into_response(),
        Err(e) => return unavailable(me.lang, &e),
    };
    let cards = match state.store.customer_cards(me.id).await {
        Ok(c) => c,
        Err(e) => return unavailable(me.lang, &e),
    };
    let card = cards.iter().find(|c| c.kind == CardKind::Loyalty && c.state == loyd_domain::cards::CardState::Active);
    let balances = match balances(state, me).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let program = match state.store.program().await {
        Ok(p) => p,
        Err(e) => return unavailable(me.lang, &e),
    };
    let tiers = match tiers(state, me, &program).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    let offers = match super::rewards::offers(state, me, &program).await {
        Ok(o) => o,
        Err(res) => return res,
    };
    page(
        StatusCode::OK,
        CardPage {
            f: Frame::new(me.lang),
            s: Signed::of(state, me, "/portal").await,
            name: customer.name.unwrap_or_default(),
            card: card.map(|c| spaced(&c.number)),
            is_virtual: card.is_some_and(|c| c.is_virtual),
            balances,
            tiers,
            till,
            welcome: super::text_in(&program.portal.texts, me.lang).cloned(),
            offers,
            has_rewards: program.catalogue.iter().any(|i| !i.spec.paused),
        },
    )
}

/// A card number in groups of four, as it is read aloud.
fn spaced(number: &str) -> String {
    number.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

pub async fn card(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let me = match me(&state, &headers, q.lang.as_deref()).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let mut res = card_page(&state, &me, None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// A one-time code for the till (the POS's `customer.code`), with its QR picture: a
/// fragment for htmx, else the card page showing it.
pub async fn till_code(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let me = match checked(&state, &headers, &form.csrf).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let (code, until) = match state.store.issue_code(me.id, loyd_domain::portal::TILL_CODE_LIFE, me.actor()).await {
        Ok(c) => c,
        Err(e) => return unavailable(me.lang, &e),
    };
    let qr = match qrcode::QrCode::new(code.as_bytes()) {
        Ok(q) => q.render::<qrcode::render::svg::Color>().min_dimensions(160, 160).quiet_zone(true).build(),
        Err(e) => return unavailable(me.lang, &e),
    };
    let tz = zone(&state, me.id).await;
    let till = TillCode { code, qr, until: time(&tz, until) };
    if headers.contains_key("hx-request") {
        return page(StatusCode::OK, TillFragment { f: Frame::new(me.lang), till });
    }
    card_page(&state, &me, Some(till)).await
}

/// A lot of points as the points page lists it.
pub struct LotLine {
    pub currency: String,
    pub amount: String,
    /// When it may be spent, if that is still ahead.
    pub from: Option<String>,
    pub expires: Option<String>,
}

/// A movement of points as the points page lists it.
pub struct MoveLine {
    pub date: String,
    /// What moved them, in words: earned, spent, expired …
    pub what: &'static str,
    pub amount: String,
    pub currency: String,
    pub raised: bool,
}

/// A ledger code in the customer's words.
fn what_moved(t: &'static crate::i18n::Catalogue, code: &str) -> &'static str {
    let key = match code {
        "accrual" => "portal.move.accrual",
        "redemption" => "portal.move.redemption",
        "return" => "portal.move.return",
        "expiry" | "inactivity" => "portal.move.expiry",
        "adjustment" => "portal.move.adjustment",
        "reward" => "portal.move.reward",
        "conversion" => "portal.move.conversion",
        _ => "portal.move.other",
    };
    t.get(key)
}

#[derive(Debug, Deserialize)]
pub struct PointsQuery {
    lang: Option<String>,
    /// The movements of the last this many days: 30, 90 (default) or 365.
    days: Option<i64>,
}

#[derive(Template)]
#[template(path = "portal/points.html")]
struct PointsPage {
    f: Frame,
    s: Signed,
    balances: Vec<BalanceLine>,
    lots: Vec<LotLine>,
    moves: Vec<MoveLine>,
    days: i64,
}

pub async fn points(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PointsQuery>) -> Response {
    let me = match me(&state, &headers, q.lang.as_deref()).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let (program, lots) = match (state.store.program().await, state.store.held_lots(me.id).await) {
        (Ok(p), Ok(l)) => (p, l),
        (Err(e), _) | (_, Err(e)) => return unavailable(me.lang, &e),
    };
    let balances = match balances(&state, &me).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let (now, tz) = (state.store.now(), zone(&state, me.id).await);
    let lots = lots
        .into_iter()
        .map(|l| LotLine {
            amount: amount(me.lang, &program, &l.currency, l.remaining),
            from: l.available_at.filter(|a| *a > now).map(|a| date(me.lang, &tz, a)),
            expires: l.expires_at.map(|e| date(me.lang, &tz, e)),
            currency: l.currency,
        })
        .collect();
    // Movements of the period, newest first, of each currency they hold.
    let days = q.days.filter(|d| [30, 90, 365].contains(d)).unwrap_or(90);
    let from = now - jiff::SignedDuration::from_hours(24 * days);
    // A statement's end is not in it: what happened this very moment is.
    let until = now + jiff::SignedDuration::from_secs(1);
    let t = me.lang.words();
    let mut moves = Vec::new();
    for b in &balances {
        let Ok(currency) = loyd_domain::ids::AssetCode::parse(b.currency.clone()) else { continue };
        let statement = match state.store.statement(me.id, currency, from, until, program.scale_of(&b.currency)).await {
            Ok(s) => s,
            Err(e) => return unavailable(me.lang, &e),
        };
        moves.extend(statement.lines.into_iter().map(|l| MoveLine {
            date: date(me.lang, &tz, l.at),
            what: what_moved(t, &l.code),
            raised: !l.amount.starts_with('-'),
            amount: me.lang.number(&l.amount),
            currency: b.currency.clone(),
        }));
    }
    moves.reverse();
    let page_ = PointsPage { f: Frame::new(me.lang), s: Signed::of(&state, &me, "/portal/points").await, balances, lots, moves, days };
    let mut res = page(StatusCode::OK, page_);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    lang: Option<String>,
    /// Those before this moment (the next page).
    before: Option<String>,
    /// Those of the last this many days: 30, 90 or 365; none: all.
    days: Option<i64>,
    /// `returns`: the returns of goods; else the purchases.
    show: Option<String>,
}

/// A purchase as the history lists it.
pub struct PurchaseLine {
    pub date: String,
    pub store: String,
    pub total: String,
    pub saved: Option<String>,
    pub paid_with_points: Option<String>,
    pub currency: String,
    pub cancelled: bool,
}

/// A return of goods as the history lists it: what was refunded, and the points it
/// took back and gave back, in words.
pub struct ReturnLine {
    pub date: String,
    pub store: String,
    pub refund: String,
    pub currency: String,
    pub points: Vec<String>,
}

#[derive(Template)]
#[template(path = "portal/history.html")]
struct HistoryPage {
    f: Frame,
    s: Signed,
    purchases: Vec<PurchaseLine>,
    returns: Vec<ReturnLine>,
    showing_returns: bool,
    days: Option<i64>,
    /// The periods one may choose, and whether it is the one shown.
    periods: Vec<(i64, bool)>,
    /// The query of the next page.
    next: Option<String>,
}

/// Lines on a page.
const PAGE: u32 = 20;

pub async fn history(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HistoryQuery>) -> Response {
    let me = match me(&state, &headers, q.lang.as_deref()).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let before = q.before.as_deref().and_then(|b| b.parse::<jiff::Timestamp>().ok());
    let days = q.days.filter(|d| [30, 90, 365].contains(d));
    let since = days.map(|d| state.store.now() - jiff::SignedDuration::from_hours(24 * d));
    let showing_returns = q.show.as_deref() == Some("returns");
    let (program, stores) = match (state.store.program().await, state.store.stores().await) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => return unavailable(me.lang, &e),
    };
    let tz = zone(&state, me.id).await;
    let store_name = |id: &str| stores.iter().find(|s| s.id.as_str() == id).map_or_else(|| id.to_owned(), |s| s.name.clone());
    let when = |at: jiff::Timestamp| format!("{} {}", date(me.lang, &tz, at), time(&tz, at));
    // Newest first, a page at a time: those of the period only, and a next page while
    // a full page of them was read.
    let within = |at: jiff::Timestamp| since.is_none_or(|s| at >= s);
    let next_of = |read: usize, kept: usize, last: Option<jiff::Timestamp>| {
        (read == PAGE as usize && kept == read).then_some(last).flatten().map(|at| {
            let mut query = format!("before={at}");
            if let Some(d) = days {
                query.push_str(&format!("&days={d}"));
            }
            if showing_returns {
                query.push_str("&show=returns");
            }
            query
        })
    };
    let (mut purchases, mut returns) = (Vec::new(), Vec::new());
    let next = if showing_returns {
        let made = match state.store.customer_returns(me.id, before, PAGE).await {
            Ok(r) => r,
            Err(e) => return unavailable(me.lang, &e),
        };
        let t = me.lang.words();
        let read = made.len();
        let last = made.last().map(|r| r.at);
        for r in made.into_iter().filter(|r| within(r.at)) {
            let mut points = Vec::new();
            for v in &r.answer.reversed {
                for (units, key) in [(&v.accrual_taken, "portal.returns.taken"), (&v.redemption_returned, "portal.returns.back")] {
                    if units.trim_start_matches(['0', '.']).is_empty() {
                        continue;
                    }
                    points.push(t.get(key).replace("{amount}", &me.lang.number(units)).replace("{currency}", v.currency.as_str()));
                }
            }
            returns.push(ReturnLine { date: when(r.at), store: store_name(&r.store), refund: me.lang.number(&r.answer.refund), currency: r.currency, points });
        }
        next_of(read, returns.len(), last)
    } else {
        let read = match state.store.purchases(me.id, None, before, PAGE).await {
            Ok(r) => r,
            Err(e) => return unavailable(me.lang, &e),
        };
        let some = |minor: i64, currency: &str| (minor != 0).then(|| amount(me.lang, &program, currency, minor));
        purchases = read
            .iter()
            .filter(|p| within(p.at))
            .map(|p| PurchaseLine {
                date: when(p.at),
                store: store_name(&p.store),
                total: amount(me.lang, &program, &p.currency, p.total),
                saved: some(p.discount, &p.currency),
                paid_with_points: some(p.redeemed_value, &p.currency),
                currency: p.currency.clone(),
                cancelled: p.status != "committed",
            })
            .collect();
        next_of(read.len(), purchases.len(), read.last().map(|p| p.at))
    };
    let body = HistoryPage { f: Frame::new(me.lang), s: Signed::of(&state, &me, "/portal/history").await, purchases, returns, showing_returns, days, periods: [30, 90, 365].map(|d| (d, days == Some(d))).to_vec(), next };
    let mut res = page(StatusCode::OK, body);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// A coupon as the coupons page shows it.
pub struct CouponLine {
    pub code: String,
    pub discount: Option<String>,
    pub until: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/coupons.html")]
struct CouponsPage {
    f: Frame,
    s: Signed,
    coupons: Vec<CouponLine>,
    /// Gifts given at a till: what, and when.
    gifts: Vec<(String, String)>,
}

pub async fn coupons(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let me = match me(&state, &headers, q.lang.as_deref()).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let (program, held, gifts) = match (state.store.program().await, state.store.held_coupons(me.id).await, state.store.customer_gifts(me.id, 20).await) {
        (Ok(p), Ok(c), Ok(g)) => (p, c, g),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return unavailable(me.lang, &e),
    };
    let tz = zone(&state, me.id).await;
    let coupons = held
        .into_iter()
        .map(|c| {
            let discount = program.coupon_series.get(c.series.as_str()).and_then(|s| s.discount.as_ref()).map(|d| match d {
                loyd_domain::program::CouponDiscount::Percent(p) => format!("−{} %", me.lang.number(&p.normalize().to_string())),
                loyd_domain::program::CouponDiscount::Amount(a) => format!("−{}", me.lang.number(&a.to_string())),
            });
            CouponLine { code: c.code, discount, until: c.valid_until.map(|v| date(me.lang, &tz, v)) }
        })
        .collect();
    let gifts = gifts.into_iter().map(|(gift, _, at)| (gift, date(me.lang, &tz, at))).collect();
    let mut res = page(StatusCode::OK, CouponsPage { f: Frame::new(me.lang), s: Signed::of(&state, &me, "/portal/coupons").await, coupons, gifts });
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// A notification as the messages page shows it.
pub struct NoteLine {
    pub subject: String,
    pub body: String,
    pub date: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "portal/messages.html")]
struct MessagesPage {
    f: Frame,
    s: Signed,
    notes: Vec<NoteLine>,
    /// The newest one's id: "mark all read" marks up to it (never one that came later).
    newest: i64,
}

pub async fn messages(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let me = match me(&state, &headers, q.lang.as_deref()).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let notes = match state.store.notifications(me.id, None, 50).await {
        Ok(n) => n,
        Err(e) => return unavailable(me.lang, &e),
    };
    let tz = zone(&state, me.id).await;
    let newest = notes.first().map_or(0, |n| n.id);
    let notes = notes
        .into_iter()
        .map(|n| NoteLine { subject: n.subject, body: n.body, date: date(me.lang, &tz, n.created_at), unread: n.read_at.is_none() })
        .collect();
    let mut res = page(StatusCode::OK, MessagesPage { f: Frame::new(me.lang), s: Signed::of(&state, &me, "/portal/messages").await, notes, newest });
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct ReadForm {
    #[serde(default)]
    up_to: i64,
    #[serde(default)]
    csrf: String,
}

/// Marks the customer's notifications read, up to the newest the page showed.
pub async fn read_messages(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<ReadForm>) -> Response {
    let me = match checked(&state, &headers, &form.csrf).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    match state.store.read_notifications(me.id, form.up_to).await {
        Ok(_) => Redirect::to("/portal/messages").into_response(),
        Err(e) => unavailable(me.lang, &e),
    }
}

/// A consent as the profile shows it.
/// A profile field of the program's as the profile page asks for it.
pub struct FieldLine {
    pub key: String,
    pub label: String,
    pub help: String,
    pub value: String,
    /// The values it may have; empty: free text.
    pub values: Vec<String>,
}

pub struct ConsentLine {
    pub channel: &'static str,
    pub label: String,
    pub granted: bool,
}

#[derive(Template)]
#[template(path = "portal/profile.html")]
struct ProfilePage {
    f: Frame,
    s: Signed,
    phone: String,
    name: String,
    email: String,
    birth_date: String,
    city: String,
    fields: Vec<FieldLine>,
    language: String,
    languages: Vec<(&'static str, &'static str)>,
    consents: Vec<ConsentLine>,
    opted_out: bool,
    flash: Option<String>,
    error: Option<String>,
}

async fn profile_page(state: &AppState, me: &Me, status: StatusCode, flash: Option<String>, error: Option<String>, typed: Option<&ProfileForm>) -> Response {
    let customer = match state.store.customer(me.id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Redirect::to("/portal/login").into_response(),
        Err(e) => return unavailable(me.lang, &e),
    };
    let t = me.lang.words();
    let channels = super::consent_channels(state).await;
    let consents = channels
        .into_iter()
        .map(|c| ConsentLine {
            channel: c,
            label: t.get(&format!("portal.channel.{c}")).to_owned(),
            granted: match typed {
                Some(f) => f.consents.iter().any(|x| x == c),
                None => customer.consents.get(c).is_some_and(|x| x.granted),
            },
        })
        .collect();
    let field = |typed: Option<&String>, stored: Option<String>| typed.cloned().unwrap_or_else(|| stored.unwrap_or_default());
    let program = match state.store.program().await {
        Ok(p) => p,
        Err(e) => return unavailable(me.lang, &e),
    };
    let fields = program
        .portal
        .fields
        .iter()
        .map(|f| {
            let text = super::text_in(&f.texts, me.lang);
            FieldLine {
                key: f.key.clone(),
                label: text.map_or_else(|| f.key.clone(), |t| t.title.clone()),
                help: text.map(|t| t.body.clone()).unwrap_or_default(),
                value: field(typed.and_then(|t| t.fields.get(&f.key)), customer.profile.get(&f.key).cloned()),
                values: f.values.clone(),
            }
        })
        .collect();
    page(
        status,
        ProfilePage {
            f: Frame::new(me.lang),
            s: Signed::of(state, me, "/portal/profile").await,
            phone: customer.phone.clone().unwrap_or_default(),
            name: field(typed.map(|f| &f.name), customer.name.clone()),
            email: field(typed.map(|f| &f.email), customer.email.clone()),
            birth_date: field(typed.map(|f| &f.birth_date), customer.birth_date.map(|d| d.to_string())),
            city: field(typed.map(|f| &f.city), customer.profile.get("city").cloned()),
            fields,
            language: customer.profile.get("language").cloned().unwrap_or_else(|| me.lang.code().to_owned()),
            languages: Lang::ALL.into_iter().map(|l| (l.code(), l.words().get("lang.name"))).collect(),
            consents,
            opted_out: typed.map_or(customer.opted_out_at.is_some(), |f| f.opted_out),
            flash,
            error,
        },
    )
}

pub async fn profile(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let me = match me(&state, &headers, q.lang.as_deref()).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let mut res = profile_page(&state, &me, StatusCode::OK, None, None, None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// The profile form: fields, the channels ticked (`consent` repeated), opted out.
#[derive(Debug, Default)]
pub struct ProfileForm {
    name: String,
    email: String,
    birth_date: String,
    city: String,
    language: String,
    consents: Vec<String>,
    opted_out: bool,
    csrf: String,
    /// The program's profile fields, by name (sent as `field.{name}`).
    fields: std::collections::BTreeMap<String, String>,
}

impl ProfileForm {
    fn of(pairs: Vec<(String, String)>) -> ProfileForm {
        let mut form = ProfileForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => form.name = v,
                "email" => form.email = v,
                "birth_date" => form.birth_date = v,
                "city" => form.city = v,
                "language" => form.language = v,
                "consent" => form.consents.push(v),
                "opted_out" => form.opted_out = true,
                "csrf" => form.csrf = v,
                other => {
                    if let Some(key) = other.strip_prefix("field.") {
                        form.fields.insert(key.to_owned(), v);
                    }
                }
            }
        }
        form
    }
}

/// Saves the profile: contacts, language, city, consents per channel, and opting out
/// of all marketing (membership and balances stay).
pub async fn save_profile(State(state): State<AppState>, headers: HeaderMap, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let form = ProfileForm::of(pairs);
    let me = match checked(&state, &headers, &form.csrf).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let t = me.lang.words();
    let again = |key: &str| Some(t.get(key).to_owned());
    let birth_date = match crate::console::filled(&form.birth_date).map(|d| d.parse::<jiff::civil::Date>()) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => return profile_page(&state, &me, StatusCode::UNPROCESSABLE_ENTITY, None, again("portal.bad_date"), Some(&form)).await,
    };
    let language = Lang::parse(&form.language).unwrap_or(me.lang);
    let before = match state.store.customer(me.id).await {
        Ok(Some(c)) => c,
        Ok(None) => return notice(me.lang, StatusCode::NOT_FOUND, "portal.unavailable"),
        Err(e) => return unavailable(me.lang, &e),
    };
    let mut patch = CustomerPatch {
        name: Some(crate::console::filled(&form.name)),
        email: Some(crate::console::filled(&form.email)),
        birth_date: Some(birth_date),
        ..CustomerPatch::default()
    };
    patch.profile.insert("language".into(), Some(language.code().to_owned()));
    patch.profile.insert("city".into(), crate::console::filled(&form.city));
    // The program's fields, each a value it may have (or none).
    let program = match state.store.program().await {
        Ok(p) => p,
        Err(e) => return unavailable(me.lang, &e),
    };
    for f in &program.portal.fields {
        let value = form.fields.get(&f.key).and_then(|v| crate::console::filled(v));
        if value.as_ref().is_some_and(|v| !f.values.is_empty() && !f.values.contains(v)) {
            return profile_page(&state, &me, StatusCode::UNPROCESSABLE_ENTITY, None, again("portal.bad_choice"), Some(&form)).await;
        }
        patch.profile.insert(f.key.clone(), value);
    }
    let was_out = before.opted_out_at.is_some();
    if form.opted_out != was_out {
        patch.opted_out = Some(form.opted_out);
    }
    // Opted out, every consent is withdrawn; otherwise each channel as ticked.
    if !form.opted_out {
        for c in super::consent_channels(&state).await {
            patch.consents.insert(c.to_owned(), form.consents.iter().any(|x| x == c));
        }
    }
    match state.store.update_customer(me.id, patch, me.actor()).await {
        Ok(_) => {
            let me = Me { lang: language, ..me };
            let saved = Some(language.words().get("portal.saved").to_owned());
            let mut res = profile_page(&state, &me, StatusCode::OK, saved, None, None).await;
            remember_lang(&mut res, Some(language.code()));
            res
        }
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            if e.code.status().is_server_error() {
                return unavailable(me.lang, &e.message);
            }
            let why = crate::console::refusal(t, &e);
            profile_page(&state, &me, StatusCode::UNPROCESSABLE_ENTITY, None, Some(why), Some(&form)).await
        }
    }
}

/// Everything the program keeps of the customer, as one JSON file they download: their
/// profile and consents, cards, balances and the lots they are made of, purchases,
/// coupons and notifications. Amounts are decimal strings in their currency's units.
#[derive(Debug, Deserialize)]
pub struct DataQuery {
    /// `csv`: the purchases as a table; else everything as JSON.
    format: Option<String>,
}

pub async fn data(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<DataQuery>) -> Response {
    let me = match me(&state, &headers, None).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let body = match own_data(&state, me.id).await {
        Ok(body) => body,
        Err(e) => return unavailable(me.lang, &e),
    };
    let who = loyd_domain::ids::CustomerId(me.id);
    let (kind, file, text) = if q.format.as_deref() == Some("csv") {
        match purchases_csv(&body) {
            Ok(text) => ("text/csv; charset=utf-8", format!("attachment; filename=\"my-purchases-{who}.csv\""), text),
            Err(e) => return unavailable(me.lang, &e),
        }
    } else {
        ("application/json", format!("attachment; filename=\"my-data-{who}.json\""), body.to_string())
    };
    ([(axum::http::header::CONTENT_TYPE, kind.to_owned()), (axum::http::header::CONTENT_DISPOSITION, file)], text).into_response()
}

/// The purchases of [`own_data`] as CSV, a row each, amounts as decimal strings.
fn purchases_csv(data: &serde_json::Value) -> Result<String, csv::Error> {
    const COLUMNS: [&str; 8] = ["at", "store", "receipt_id", "status", "currency", "total", "discount", "paid_with_points"];
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS)?;
    for p in data["purchases"].as_array().into_iter().flatten() {
        out.write_record(COLUMNS.map(|c| p[c].as_str().unwrap_or_default().to_owned()))?;
    }
    let bytes = out.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

async fn own_data(state: &AppState, id: i64) -> Result<serde_json::Value, loyd_store::StoreError> {
    use serde_json::json;
    let program = state.store.program().await?;
    let decimal = |currency: &str, minor: i64| Minor::new(minor, program.scale_of(currency)).to_string();
    let customer = state.store.customer(id).await?;
    let cards = state.store.customer_cards(id).await?;
    let balances = state.store.customer_balances(id).await?;
    let lots: Vec<_> = state
        .store
        .held_lots(id)
        .await?
        .into_iter()
        .map(|l| json!({ "currency": l.currency, "amount": decimal(&l.currency, l.remaining), "available_at": l.available_at, "expires_at": l.expires_at }))
        .collect();
    // Every purchase, a page at a time.
    let mut purchases = Vec::new();
    let mut before = None;
    loop {
        let page = state.store.purchases(id, None, before, 500).await?;
        let full = page.len() == 500;
        before = page.last().map(|p| p.at);
        purchases.extend(page.into_iter().map(|p| {
            json!({
                "at": p.at, "store": p.store, "receipt_id": p.receipt_id, "status": p.status, "currency": p.currency,
                "total": decimal(&p.currency, p.total), "discount": decimal(&p.currency, p.discount), "paid_with_points": decimal(&p.currency, p.redeemed_value),
            })
        }));
        if !full || purchases.len() >= 100_000 {
            break;
        }
    }
    let coupons: Vec<_> = state
        .store
        .held_coupons(id)
        .await?
        .into_iter()
        .map(|c| json!({ "code": c.code, "series": c.series, "valid_until": c.valid_until, "issued_at": c.issued_at }))
        .collect();
    let notifications = state.store.notifications(id, None, 1000).await?;
    Ok(json!({
        "customer": customer.map(|c| json!({
            "id": loyd_domain::ids::CustomerId(c.id).to_string(), "phone": c.phone, "email": c.email, "name": c.name, "birth_date": c.birth_date,
            "profile": c.profile, "consents": c.consents, "opted_out_at": c.opted_out_at, "telegram_connected": c.telegram.is_some(), "created_at": c.created_at,
        })),
        "cards": cards,
        "balances": balances,
        "lots": lots,
        "purchases": purchases,
        "coupons": coupons,
        "notifications": notifications,
    }))
}

/// The customer asks for their data to be erased: the request is kept (the console
/// lists it) with a task for staff on their CRM record, due in 30 days; once only.
pub async fn erasure(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let me = match checked(&state, &headers, &form.csrf).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    if let Err(e) = state.store.ask_erasure(me.id, me.actor()).await {
        return unavailable(me.lang, &e);
    }
    profile_page(&state, &me, StatusCode::OK, Some(me.lang.words().get("portal.erasure_asked").to_owned()), None, None).await
}
