//! Segments: the program's segments and the RFM groups with their members as the
//! `segments` job last listed them, a condition tried on every customer, "recompute
//! now", and one segment's members and history — through the same functions as the
//! admin API ([`crate::admin::segments`]).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;
use serde::Deserialize;

use super::failures::url_escape;
use super::{CsrfForm, Frame, Session, allowed, checked, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::segments::{MemberQuery, SegmentOut, TryOut, TryRequest, history_from, member_page, overview, try_condition};
use crate::i18n::Lang;

const PAGE: u32 = 50;

struct Row {
    id: String,
    /// The id as an HTML id: `rfm-champions`.
    anchor: String,
    /// The group's name in the page's language, or the segment's id.
    label: String,
    condition: String,
    listed: bool,
    members: Option<i64>,
    /// Of the scored customers, in per cent with one place (RFM groups).
    share: String,
    /// 0–100, the bar's width.
    width: i64,
    link: String,
}

struct TryView {
    members: i64,
    sample: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/segments.html")]
struct SegmentsPage {
    f: Frame,
    s: Session,
    segments: Vec<Row>,
    rfm: Vec<Row>,
    scored: i64,
    pass: String,
    under_way: bool,
    can_run: bool,
    condition: String,
    tried: Option<TryView>,
    error: Option<String>,
}

fn when(lang: Lang, at: jiff::Timestamp) -> String {
    lang.moment(at, "%H:%M")
}

/// One tenth of a per cent, written as the language writes numbers.
fn share(lang: Lang, part: i64, whole: i64) -> String {
    if whole <= 0 {
        return String::new();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    lang.number(&format!("{}.{}", tenths / 10, tenths % 10)) + " %"
}

/// A segment's name on the page: an RFM group's in the page's language, a program
/// segment's id.
fn label(lang: Lang, id: &str) -> String {
    match loyd_domain::segments::rfm_group_of(id) {
        Some(g) => lang.words().get(&format!("segments.rfm.{g}")).to_owned(),
        None => id.to_owned(),
    }
}

fn row(lang: Lang, s: SegmentOut, scored: i64) -> Row {
    let label = label(lang, &s.id);
    let n = s.members.unwrap_or(0);
    Row {
        link: format!("/admin/segments/{}", url_escape(&s.id)),
        label,
        condition: s.condition.unwrap_or_default(),
        listed: s.listed,
        share: share(lang, n, scored),
        width: if scored > 0 { n * 100 / scored } else { 0 },
        members: s.members,
        anchor: s.id.replace(':', "-"),
        id: s.id,
    }
}

async fn show(state: &AppState, headers: &HeaderMap, lang: Lang, condition: String, tried: Option<Result<TryOut, crate::error::ApiError>>) -> Response {
    let (actor, secret) = match allowed(state, headers, lang, Permission::ReportsRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let mut error = None;
    // A run asked for a moment ago is under way before its first batch marks the pass
    // (a run its server did not live to end counts for an hour at most).
    let asked = state.store.job_runs(Some(loyd_store::Job::Segments), None, 1).await.ok().and_then(|r| r.into_iter().next()).is_some_and(|r| {
        r.finished_at.is_none() && state.store.now() - r.started_at < jiff::SignedDuration::from_hours(1)
    });
    let (segments, rfm, scored, pass, under_way) = match overview(state).await {
        Ok(o) => {
            let scored = o.rfm.iter().filter_map(|r| r.members).sum();
            let running = o.pass.under_way || asked;
            let pass = match (running, o.pass.finished_at) {
                (true, _) => t.get("segments.under_way").to_owned(),
                (false, Some(at)) => format!("{} {}", t.get("segments.last_pass"), when(lang, at)),
                (false, None) => t.get("segments.never").to_owned(),
            };
            let segments = o.segments.into_iter().map(|s| row(lang, s, scored)).collect();
            let rfm = o.rfm.into_iter().map(|s| row(lang, s, scored)).collect();
            (segments, rfm, scored, pass, running)
        }
        Err(e) => {
            error = Some(super::refusal(t, &e));
            (Vec::new(), Vec::new(), 0, String::new(), false)
        }
    };
    let tried = match tried {
        Some(Ok(out)) => Some(TryView {
            members: out.members,
            sample: out
                .sample
                .into_iter()
                .map(|c| (c.id, c.name.unwrap_or_default()))
                .collect(),
        }),
        Some(Err(e)) => {
            error = Some(super::refusal(t, &e));
            None
        }
        None => None,
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let view = SegmentsPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, t, "/admin/segments"),
        segments,
        rfm,
        scored,
        pass,
        under_way,
        can_run: actor.can(Permission::JobsRun),
        condition,
        tried,
        error,
    };
    render(status, view)
}

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let mut res = show(&state, &headers, lang, String::new(), None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct TryForm {
    #[serde(default)]
    condition: String,
    #[serde(default)]
    csrf: String,
}

/// Tries a condition on every customer and shows how many meet it.
pub async fn try_it(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<TryForm>) -> Response {
    let (lang, actor, _) = match checked(&state, &headers, &form.csrf, Permission::ReportsRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let condition = form.condition.trim().to_owned();
    let result = match filled(&condition) {
        Some(c) => try_condition(&state, &actor, TryRequest { condition: Some(c), segment: None, sample: Some(10) }).await,
        None => Err(crate::error::ApiError::validation(lang.words().get("segments.condition_needed"))),
    };
    show(&state, &headers, lang, condition, Some(result)).await
}

/// Starts a pass of the segments job and comes back to the page.
pub async fn recompute(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let (_, actor, _) = match checked(&state, &headers, &form.csrf, Permission::JobsRun).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match crate::admin::jobs::start(&state, &actor, "segments").await {
        Ok(_) => Redirect::to("/admin/segments").into_response(),
        Err(e) => e.into_response(),
    }
}

struct Member {
    id: String,
    name: String,
    rfm: String,
    purchases: i64,
    last: String,
    since: String,
}

struct Day {
    day: String,
    members: i64,
    joined: i64,
    departed: i64,
    width: i64,
}

#[derive(Template)]
#[template(path = "console/segment.html")]
struct SegmentPage {
    f: Frame,
    s: Session,
    label: String,
    condition: String,
    members: Vec<Member>,
    more: Option<String>,
    days: Vec<Day>,
    can_see_members: bool,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SegmentQuery {
    after: Option<String>,
    lang: Option<String>,
}

/// One segment: its members (with the customer-read permission) and its history.
pub async fn segment(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<SegmentQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ReportsRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let mut error = None;
    let can_see_members = actor.can(Permission::CustomersRead);
    let (members, more) = if can_see_members {
        match member_page(&state, &actor, &id, MemberQuery { after: q.after.clone(), limit: Some(PAGE) }).await {
            Ok(p) => {
                let members = p
                    .members
                    .into_iter()
                    .map(|m| Member {
                        name: m.customer.name.clone().unwrap_or_default(),
                        rfm: m.customer.rfm.as_deref().map(|g| t.get(&format!("segments.rfm.{g}")).to_owned()).unwrap_or_default(),
                        purchases: m.customer.purchases,
                        last: m.customer.last_purchase_at.map(|at| lang.day(at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())).unwrap_or_default(),
                        since: lang.day(m.since.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()),
                        id: m.customer.id,
                    })
                    .collect();
                (members, p.next_after.map(|a| format!("/admin/segments/{}?after={a}", url_escape(&id))))
            }
            Err(e) => {
                error = Some(super::refusal(t, &e));
                (Vec::new(), None)
            }
        }
    } else {
        (Vec::new(), None)
    };
    let days = match history_from(&state, None) {
        Ok(from) if error.is_none() => match state.reports.segment_history(Some(id.clone()), from).await {
            Ok(days) => {
                let top = days.iter().map(|d| d.members).max().unwrap_or(0).max(1);
                days.into_iter().rev().map(|d| Day { width: d.members * 100 / top, day: d.day, members: d.members, joined: d.joined, departed: d.departed }).collect()
            }
            Err(e) => {
                error = Some(super::refusal(t, &crate::error::ApiError::from(e)));
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    let program = state.store.program().await.ok();
    let condition = program
        .as_ref()
        .and_then(|p| p.segments.iter().find(|s| s.id.as_str() == id).map(|s| s.condition.source().to_owned()))
        .unwrap_or_default();
    let label = label(lang, &id);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let view = SegmentPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, t, "/admin/segments"),
        label,
        condition,
        members,
        more,
        days,
        can_see_members,
        error,
    };
    let mut res = render(status, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}
