//! Mailings: the list, a form for a new one (audience, one or two variants of the text
//! in one language, the A/B test, schedule and quiet hours) and each mailing's report
//! with a button to cancel it — through the same functions as the admin API
//! ([`crate::admin::mailings`]).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;
use loyd_domain::mailings::{QuietHours, Variant, WinnerBy};
use loyd_domain::messages::{LANGUAGES, TextSpec};
use loyd_store::{Mailing, VariantReport};
use serde::Deserialize;

use super::{CsrfForm, Frame, LangQuery, Session, allowed, checked, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::mailings::{MailingIn, checked as checked_mailing};
use crate::i18n::Lang;

struct Row {
    id: i64,
    name: String,
    channel: String,
    audience: String,
    state: String,
    send_at: String,
    enqueued: i64,
}

/// What the new-mailing form holds (as typed, to show again with what to fix).
#[derive(Debug, Default, Deserialize)]
pub struct MailingForm {
    #[serde(default)]
    csrf: String,
    /// This page's id of the request: a form sent twice makes one mailing.
    #[serde(default)]
    operation: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    audience: String,
    /// Customer ids of a list, separated by spaces, commas or lines.
    #[serde(default)]
    customers: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    a_subject: String,
    #[serde(default)]
    a_body: String,
    #[serde(default)]
    b_subject: String,
    #[serde(default)]
    b_body: String,
    #[serde(default)]
    test_share: String,
    #[serde(default)]
    winner_by: String,
    #[serde(default)]
    decide_after_hours: String,
    /// `YYYY-MM-DDTHH:MM` in UTC; empty: now.
    #[serde(default)]
    send_at: String,
    #[serde(default)]
    quiet_from: String,
    #[serde(default)]
    quiet_to: String,
    #[serde(default)]
    time_zone: String,
}

#[derive(Template)]
#[template(path = "console/mailings.html")]
struct MailingsPage {
    f: Frame,
    s: Session,
    rows: Vec<Row>,
    can_change: bool,
    form: MailingForm,
    /// The audiences to choose from: (value, label).
    audiences: Vec<(String, String)>,
    languages: &'static [&'static str],
    operation: String,
    /// What to fix in the form, one line each.
    problems: Vec<String>,
}

struct Figures {
    label: String,
    v: VariantReport,
}

#[derive(Template)]
#[template(path = "console/mailing.html")]
struct MailingPage {
    f: Frame,
    s: Session,
    m: Mailing,
    state: String,
    send_at: String,
    finished_at: String,
    figures: Vec<Figures>,
    can_cancel: bool,
}

fn at(lang: Lang, ts: jiff::Timestamp) -> String {
    lang.moment(ts, "%H:%M")
}

fn state_word(lang: Lang, state: &str) -> String {
    lang.words().get(&format!("mailings.state.{state}")).to_owned()
}

async fn show(state: &AppState, lang: Lang, headers: &HeaderMap, form: MailingForm, problems: Vec<String>) -> Response {
    let (actor, secret) = match allowed(state, headers, lang, Permission::ReportsRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let mailings = match state.store.mailings(None, 100).await {
        Ok(m) => m,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let rows = mailings
        .into_iter()
        .map(|m| Row {
            id: m.id,
            state: state_word(lang, &m.state),
            send_at: at(lang, m.send_at),
            name: m.name,
            channel: m.channel.name().to_owned(),
            audience: m.audience,
            enqueued: m.enqueued,
        })
        .collect();
    let mut audiences = vec![("all".to_owned(), t.get("mailings.everyone").to_owned())];
    if let Ok(program) = state.store.program().await {
        audiences.extend(program.segments.iter().filter(|s| s.condition.job_evaluable()).map(|s| (format!("segment:{}", s.id), s.id.to_string())));
    }
    audiences.extend(loyd_domain::segments::Group::ALL.into_iter().map(|g| {
        let id = loyd_domain::segments::rfm_segment(g);
        (format!("segment:{id}"), id)
    }));
    audiences.push(("list".to_owned(), t.get("mailings.list").to_owned()));
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = MailingsPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, t, "/admin/mailings"),
        rows,
        can_change: actor.can(Permission::ConfigWrite),
        form,
        audiences,
        languages: &LANGUAGES,
        operation: super::random_token(),
        problems,
    };
    render(status, page)
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let form = MailingForm { channel: "email".into(), audience: "all".into(), language: "en".into(), test_share: "100".into(), ..MailingForm::default() };
    let mut res = show(&state, lang, &headers, form, Vec::new()).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// The form as the admin API's request; what does not read is said in `problems`.
fn request(form: &MailingForm, problems: &mut Vec<String>, t: &crate::i18n::Catalogue) -> MailingIn {
    let text = |subject: &str, body: &str| {
        let lang = if LANGUAGES.contains(&form.language.as_str()) { form.language.clone() } else { "en".to_owned() };
        [(lang, TextSpec { subject: subject.trim().to_owned(), body: body.replace("\r\n", "\n"), html: None })].into()
    };
    let mut variants = vec![Variant { name: "A".into(), texts: text(&form.a_subject, &form.a_body) }];
    if filled(&form.b_body).is_some() || filled(&form.b_subject).is_some() {
        variants.push(Variant { name: "B".into(), texts: text(&form.b_subject, &form.b_body) });
    }
    let number = |field: &str, v: &str, problems: &mut Vec<String>| -> Option<u32> {
        let v = filled(v)?;
        v.parse::<u32>().map_err(|_| problems.push(format!("{}: {}", t.get(field), t.get("mailings.not_a_number")))).ok()
    };
    let send_at = filled(&form.send_at).and_then(|s| {
        let civil = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", &s).ok();
        let at = civil.and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok()).map(|z| z.timestamp());
        if at.is_none() {
            problems.push(format!("{}: {}", t.get("mailings.send_at"), t.get("mailings.not_a_moment")));
        }
        at
    });
    let quiet_hours = match (filled(&form.quiet_from), filled(&form.quiet_to)) {
        (None, None) => None,
        (from, to) => Some(QuietHours { from: from.unwrap_or_default(), to: to.unwrap_or_default() }),
    };
    MailingIn {
        operation_id: filled(&form.operation),
        name: form.name.clone(),
        channel: form.channel.clone(),
        audience: form.audience.clone(),
        customers: if form.audience == "list" {
            form.customers.split(|c: char| c.is_whitespace() || c == ',' || c == ';').filter(|s| !s.is_empty()).map(str::to_owned).collect()
        } else {
            Vec::new()
        },
        send_at,
        variants,
        test_share: number("mailings.test_share", &form.test_share, problems).map(|n| u8::try_from(n).unwrap_or(0)),
        winner_by: match form.winner_by.as_str() {
            "clicks" => Some(WinnerBy::Clicks),
            "purchases" => Some(WinnerBy::Purchases),
            _ => Some(WinnerBy::Opens),
        },
        decide_after_hours: number("mailings.decide_after", &form.decide_after_hours, problems),
        attribution_days: None,
        quiet_hours,
        time_zone: filled(&form.time_zone),
    }
}

/// Makes a mailing from the form and shows its report; what to fix is said above the
/// form, which keeps what was typed.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<MailingForm>) -> Response {
    let (lang, actor, _) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let mut problems = Vec::new();
    let body = request(&form, &mut problems, t);
    if !problems.is_empty() {
        return show(&state, lang, &headers, form, problems).await;
    }
    let made = match checked_mailing(&state, body).await {
        Ok(new) => state.store.create_mailing(new, actor.name()).await.map_err(crate::error::ApiError::from),
        Err(e) => Err(e),
    };
    match made {
        Ok((m, _)) => Redirect::to(&format!("/admin/mailings/{}", m.id)).into_response(),
        Err(e) => {
            let problems = match e.details.as_ref().and_then(|d| d["problems"].as_array()) {
                Some(list) => list
                    .iter()
                    .map(|p| {
                        let said = p["kind"].as_str().and_then(|k| p["args"].as_object().and_then(|a| t.say_kind(k, a)));
                        format!("{}: {}", p["path"].as_str().unwrap_or_default(), said.unwrap_or_else(|| p["message"].as_str().unwrap_or_default().to_owned()))
                    })
                    .collect(),
                None => vec![super::refusal(t, &e)],
            };
            show(&state, lang, &headers, form, problems).await
        }
    }
}

pub async fn mailing(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ReportsRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let report = match state.store.mailing_report(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return (StatusCode::NOT_FOUND, axum::response::Html(t.get("mailings.unknown").to_owned())).into_response(),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let m = report.mailing;
    let mut figures: Vec<Figures> = report.variants.into_iter().map(|v| Figures { label: v.variant.clone(), v }).collect();
    figures.push(Figures { label: t.get("mailings.total").to_owned(), v: report.total });
    let page = MailingPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, t, "/admin/mailings"),
        state: state_word(lang, &m.state),
        send_at: at(lang, m.send_at),
        finished_at: m.finished_at.map(|f| at(lang, f)).unwrap_or_default(),
        can_cancel: actor.can(Permission::ConfigWrite) && !matches!(m.state.as_str(), "sent" | "cancelled"),
        m,
        figures,
    };
    let mut res = render(StatusCode::OK, page);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// Cancels a mailing and shows it again.
pub async fn cancel(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Form<CsrfForm>) -> Response {
    let (_, actor, _) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match state.store.cancel_mailing(id, actor.name()).await {
        Ok(_) => Redirect::to(&format!("/admin/mailings/{id}")).into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
