//! The portal's rewards catalogue (points exchanged for a personal coupon) and the
//! offers on the card page, each shown to whom the program meant it for: everyone, or
//! the members of a segment. Both read only the session's customer ([`Me`]).

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use loyd_domain::money::Minor;
use loyd_domain::program::Program;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::pages::{Signed, date, zone};
use super::{Frame, Me, checked, me, remember_lang, unavailable};
use crate::console::{LangQuery, page};
use crate::AppState;

/// Whether something meant for `segment` is for a customer in `mine`.
fn meant_for(segment: Option<&String>, mine: &BTreeSet<String>) -> bool {
    segment.is_none_or(|s| mine.contains(s))
}

/// The segments the customer is in, read only when something is meant for a segment.
async fn segments_if(state: &AppState, me: &Me, needed: bool) -> Result<BTreeSet<String>, Response> {
    if !needed {
        return Ok(BTreeSet::new());
    }
    state.store.customer_segments(me.id).await.map_err(|e| unavailable(me.lang, &e))
}

/// An offer as the card page shows it.
pub struct OfferLine {
    pub id: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
}

/// The offers shown to the customer now, in the program's order.
pub(crate) async fn offers(state: &AppState, me: &Me, program: &Program) -> Result<Vec<OfferLine>, Response> {
    let now = state.store.now();
    let shown: Vec<_> = program.offers.iter().filter(|o| o.shown_at(now)).collect();
    let mine = segments_if(state, me, shown.iter().any(|o| o.segment.is_some())).await?;
    Ok(shown
        .into_iter()
        .filter(|o| meant_for(o.segment.as_ref(), &mine))
        .filter_map(|o| {
            let text = super::text_in(&o.texts, me.lang)?;
            Some(OfferLine { id: o.id.to_string(), title: text.title.clone(), body: text.body.clone(), link: o.link.clone() })
        })
        .collect())
}

/// An entry of the catalogue as the rewards page shows it.
pub struct RewardLine {
    pub id: String,
    pub title: String,
    pub body: String,
    pub cost: String,
    pub currency: String,
    /// Why it cannot be taken now, in words; `None`: it can.
    pub why_not: Option<String>,
}

/// A coupon just taken.
pub struct Taken {
    pub code: String,
    pub until: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/rewards.html")]
struct RewardsPage {
    f: Frame,
    s: Signed,
    rewards: Vec<RewardLine>,
    /// What the customer holds of each currency the catalogue is paid in.
    balances: Vec<(String, String)>,
    taken: Option<Taken>,
    error: Option<String>,
    /// The id the page's exchanges are sent under, with each entry's id after it (a
    /// form sent twice exchanges once; another entry from the same page is its own).
    operation: String,
}

async fn rewards_page(state: &AppState, me: &Me, status: StatusCode, taken: Option<Taken>, error: Option<String>) -> Response {
    let t = me.lang.words();
    let (program, held) = match (state.store.program().await, state.store.customer_balances(me.id).await) {
        (Ok(p), Ok(b)) => (p, b),
        (Err(e), _) | (_, Err(e)) => return unavailable(me.lang, &e),
    };
    let listed: Vec<_> = program.catalogue.iter().filter(|i| !i.spec.paused).collect();
    let mine = match segments_if(state, me, listed.iter().any(|i| i.spec.segment.is_some())).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let listed: Vec<_> = listed.into_iter().filter(|i| meant_for(i.spec.segment.as_ref(), &mine)).collect();
    let stocked = listed.iter().filter(|i| i.spec.stock.is_some()).map(|i| i.spec.id.to_string()).collect();
    let counts = match state.store.catalogue_counts(me.id, stocked).await {
        Ok(c) => c,
        Err(e) => return unavailable(me.lang, &e),
    };
    let available = |currency: &str| held.iter().find(|b| b.currency.as_str() == currency).and_then(|b| b.available.parse::<Decimal>().ok()).unwrap_or_default();
    let rewards = listed
        .into_iter()
        .filter_map(|i| {
            let spec = &i.spec;
            let text = super::text_in(&spec.texts, me.lang)?;
            let currency = spec.currency.as_str();
            let cost = Minor::new(i.cost, program.scale_of(currency)).to_decimal();
            let id = spec.id.as_str();
            let why_not = if spec.per_customer.is_some_and(|most| counts.mine.get(id).copied().unwrap_or(0) >= i64::from(most)) {
                Some(t.get("portal.rewards.taken").to_owned())
            } else if spec.stock.is_some_and(|stock| counts.all.get(id).copied().unwrap_or(0) >= i64::from(stock)) {
                Some(t.get("portal.rewards.out").to_owned())
            } else if available(currency) < cost {
                let more = (cost - available(currency)).normalize().to_string();
                Some(t.get("portal.rewards.more").replace("{more}", &me.lang.number(&more)).replace("{currency}", currency))
            } else {
                None
            };
            Some(RewardLine {
                id: id.to_owned(),
                title: text.title.clone(),
                body: text.body.clone(),
                cost: me.lang.number(&cost.normalize().to_string()),
                currency: currency.to_owned(),
                why_not,
            })
        })
        .collect::<Vec<_>>();
    let currencies: BTreeSet<&str> = program.catalogue.iter().map(|i| i.spec.currency.as_str()).collect();
    let balances = currencies.into_iter().map(|c| (c.to_owned(), me.lang.number(&available(c).normalize().to_string()))).collect();
    let body = RewardsPage {
        f: Frame::new(me.lang),
        s: Signed::of(state, me, "/portal/rewards").await,
        rewards,
        balances,
        taken,
        error,
        operation: crate::console::random_token(),
    };
    page(status, body)
}

pub async fn rewards(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let me = match me(&state, &headers, q.lang.as_deref()).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let mut res = rewards_page(&state, &me, StatusCode::OK, None, None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct ExchangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reward: String,
    #[serde(default)]
    operation: String,
}

/// Exchanges points for an entry's coupon. The page is made again with the coupon, or
/// with why not; sent again (a reload, a double tap) under the same operation id, it
/// shows the same coupon and takes nothing more.
pub async fn exchange(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<ExchangeForm>) -> Response {
    let me = match checked(&state, &headers, &form.csrf).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let t = me.lang.words();
    match state.store.exchange_reward(form.operation.clone(), me.id, form.reward.clone()).await {
        Ok(taken) => {
            let tz = zone(&state, me.id).await;
            let taken = Taken { code: taken.code, until: taken.valid_until.map(|v| date(me.lang, &tz, v)) };
            rewards_page(&state, &me, StatusCode::OK, Some(taken), None).await
        }
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            if e.code.status().is_server_error() {
                return unavailable(me.lang, &e.message);
            }
            // An entry unknown, paused or meant for others reads alike: not available.
            let why = if e.code.status() == StatusCode::NOT_FOUND { t.get("portal.rewards.gone").to_owned() } else { crate::console::refusal(t, &e) };
            let status = if e.code.status() == StatusCode::NOT_FOUND { StatusCode::NOT_FOUND } else { StatusCode::UNPROCESSABLE_ENTITY };
            rewards_page(&state, &me, status, None, Some(why)).await
        }
    }
}
