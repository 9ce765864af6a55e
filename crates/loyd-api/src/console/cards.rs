//! Gift cards and passes: their series, and cards issued in a batch for the card printer
//! as a CSV file with their PINs (the only place the PINs are shown), to be sold and
//! activated at the till — through the same functions as the admin API
//! ([`crate::admin::cards`]).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use loyd_domain::access::Permission;
use loyd_domain::program::{CardKind, CardSeriesSpec};

use crate::i18n::{Catalogue, Lang};
use super::{BatchForm, Frame, LangQuery, Refused, Session, allowed, checked, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::cards::{IssueRequest, cards_csv, issue};
use crate::auth::Actor;

pub struct SeriesRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub value: String,
    pub valid: String,
    pub pin: bool,
    pub error: Option<String>,
    pub count: String,
}

#[derive(Template)]
#[template(path = "console/cards.html")]
struct CardsPage {
    f: Frame,
    s: Session,
    series: Vec<SeriesRow>,
    /// This page's batch id ([`super::BatchForm`]).
    operation: String,
}

fn row(x: &CardSeriesSpec, t: &'static Catalogue) -> SeriesRow {
    let currency = x.currency.as_ref().map(|c| c.to_string()).unwrap_or_default();
    let value = match (x.kind, x.nominals.is_empty(), &x.amount_min, &x.amount_max) {
        (CardKind::Gift, false, _, _) => format!("{} {currency}", x.nominals.iter().map(|n| n.0.to_string()).collect::<Vec<_>>().join(" / ")),
        (CardKind::Gift, true, Some(a), Some(b)) => format!("{} – {} {currency}", a.0, b.0),
        (CardKind::Pass, _, _, _) => format!("{} × {}", x.visits.unwrap_or(0), x.service.clone().unwrap_or_default()),
        _ => "—".to_owned(),
    };
    SeriesRow {
        id: x.id.to_string(),
        name: x.name.clone().unwrap_or_default(),
        kind: if x.kind == CardKind::Gift { t.get("cards.gift") } else { t.get("cards.pass") },
        value,
        valid: x.validity_days.map_or_else(|| t.get("coupons.no_end").to_owned(), |d| format!("{d} {}", t.get("cards.days_from_activation"))),
        pin: x.pin,
        error: None,
        count: String::new(),
    }
}

async fn show(state: &AppState, lang: Lang, actor: &Actor, secret: &str, refused: Option<Refused>) -> Response {
    let t = lang.words();
    let doc = match state.store.config_snapshot().await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "the cards page could not be read");
            return (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response();
        }
    };
    let series = doc
        .card_series
        .iter()
        .filter(|x| matches!(x.kind, CardKind::Gift | CardKind::Pass))
        .map(|x| {
            let mut r = row(x, t);
            (r.count, r.error) = Refused::at(refused.as_ref(), &r.id);
            r
        })
        .collect();
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = CardsPage { f: Frame::new(lang), s: Session::of(&actor.principal, secret, t, "/admin/cards"), series, operation: super::random_token() };
    render(status, page)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::CardsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let mut res = show(&state, lang, &actor, &secret, None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// Issues a batch of cards of a series and answers them as a CSV file to download; a
/// refusal is said next to the series' form.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Path(series): Path<String>, Form(form): Form<BatchForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CardsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let refused = |error: String| show(&state, lang, &actor, &secret, Some(Refused { series: series.clone(), count: form.count.clone(), error }));
    let count = match form.count.trim().parse::<u32>() {
        Ok(n) if (1..=10_000).contains(&n) => n,
        _ => return refused(t.get("cards.count_invalid").to_owned()).await,
    };
    let request = IssueRequest { series: series.clone(), count, customer: None, number: None, virtual_card: false, operation_id: Refused::operation(&form) };
    match issue(&state, &actor, request).await {
        Ok(cards) => cards_csv(&series, &cards),
        Err(e) => refused(Refused::say(t, e)).await,
    }
}
