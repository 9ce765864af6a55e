//! The scheduled jobs: what each does, its last run, "run now" for those allowed, and
//! the runs a page at a time — through the same functions as the admin API
//! ([`crate::admin::jobs`]). A run started here goes on in the background; the page
//! refreshes its table while a run is going.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;
use loyd_store::Job;
use serde::Deserialize;

use super::failures::url_escape;
use crate::i18n::Lang;
use super::{CsrfForm, Frame, Session, allowed, checked, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::jobs::{JobRunOut, RunQuery, overview, runs_page, start};

const PAGE: u32 = 30;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    job: String,
    before: Option<i64>,
    lang: Option<String>,
}

struct RunView {
    id: i64,
    job: &'static str,
    by: String,
    started: String,
    /// How long it took, or that it is still going.
    took: String,
    state: &'static str,
    /// Still going: the page refreshes its table.
    running: bool,
    items: i64,
    error: String,
}

struct JobView {
    name: &'static str,
    label: &'static str,
    help: &'static str,
    last: Option<RunView>,
}

#[derive(Template)]
#[template(path = "console/jobs.html")]
struct JobsPage {
    f: Frame,
    s: Session,
    jobs: Vec<JobView>,
    runs: Vec<RunView>,
    /// Every job with its label, for the filter.
    choices: Vec<(&'static str, &'static str)>,
    job: String,
    older: Option<String>,
    /// Whether this person may start a run.
    can_run: bool,
    /// Whether a run is going: the table refreshes itself.
    running: bool,
    error: Option<String>,
}

fn view(lang: Lang, r: JobRunOut) -> RunView {
    let t = lang.words();
    let job = Job::parse(&r.job).unwrap_or(Job::ExpireHolds);
    let at = |ts: jiff::Timestamp| lang.moment(ts, "%H:%M:%S");
    let took = match r.finished_at {
        Some(end) => {
            let ms = end.duration_since(r.started_at).as_millis().max(0);
            if ms < 1000 { format!("{ms} ms") } else { format!("{} s", lang.number(&format!("{}.{}", ms / 1000, ms % 1000 / 100))) }
        }
        None => t.get("jobs.running").to_owned(),
    };
    RunView {
        id: r.id,
        job: t.get(label_key(job)),
        by: r.started_by.trim_start_matches("user:").to_owned(),
        started: at(r.started_at),
        took,
        state: t.get(match r.state {
            "running" => "jobs.running",
            "failed" => "jobs.failed",
            _ => "jobs.done",
        }),
        items: r.items,
        running: r.finished_at.is_none(),
        error: r.error.unwrap_or_default(),
    }
}

fn label_key(job: Job) -> &'static str {
    match job {
        Job::ExpireHolds => "jobs.expire_holds",
        Job::ExpireLots => "jobs.expire_lots",
        Job::BurnInactive => "jobs.burn_inactive",
        Job::ConvertBalances => "jobs.convert_balances",
        Job::RollUp => "jobs.roll_up",
        Job::DetectFraud => "jobs.detect_fraud",
        Job::Segments => "jobs.segments",
        Job::ExpiryNotices => "jobs.expiry_notices",
        Job::Birthdays => "jobs.birthdays",
        Job::TaskReminders => "jobs.task_reminders",
        Job::TierReviews => "jobs.tier_reviews",
        Job::Retention => "jobs.retention",
    }
}

fn help_key(job: Job) -> &'static str {
    match job {
        Job::ExpireHolds => "jobs.expire_holds_help",
        Job::ExpireLots => "jobs.expire_lots_help",
        Job::BurnInactive => "jobs.burn_inactive_help",
        Job::ConvertBalances => "jobs.convert_balances_help",
        Job::RollUp => "jobs.roll_up_help",
        Job::DetectFraud => "jobs.detect_fraud_help",
        Job::Segments => "jobs.segments_help",
        Job::ExpiryNotices => "jobs.expiry_notices_help",
        Job::Birthdays => "jobs.birthdays_help",
        Job::TaskReminders => "jobs.task_reminders_help",
        Job::TierReviews => "jobs.tier_reviews_help",
        Job::Retention => "jobs.retention_help",
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Filters>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::LedgerAudit).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let mut error = None;
    let jobs = match overview(&state).await {
        Ok(jobs) => jobs,
        Err(e) => {
            error = Some(super::refusal(t, &e));
            Vec::new()
        }
    };
    let jobs: Vec<JobView> = jobs
        .into_iter()
        .filter_map(|j| {
            let job = Job::parse(&j.job)?;
            Some(JobView { name: job.name(), label: t.get(label_key(job)), help: t.get(help_key(job)), last: j.last_run.map(|r| view(lang, r)) })
        })
        .collect();
    let query = RunQuery { job: filled(&q.job), before: q.before, limit: Some(PAGE) };
    let (runs, older) = match runs_page(&state, query).await {
        Ok(p) => {
            let keep = if q.job.trim().is_empty() { String::new() } else { format!("&job={}", url_escape(q.job.trim())) };
            (p.runs.into_iter().map(|r| view(lang, r)).collect(), p.next_before.map(|b| format!("/admin/jobs?before={b}{keep}")))
        }
        Err(e) => {
            error = Some(super::refusal(t, &e));
            (Vec::new(), None)
        }
    };
    let running = jobs.iter().any(|j| j.last.as_ref().is_some_and(|r| r.running));
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let s = Session::of(&actor.principal, &secret, t, "/admin/jobs");
    let choices = Job::ALL.into_iter().map(|j| (j.name(), t.get(label_key(j)))).collect();
    let can_run = actor.principal.role.allows(Permission::JobsRun);
    let view = JobsPage { f: Frame::new(lang), s, jobs, runs, choices, job: q.job.trim().to_owned(), older, can_run, running, error };
    let mut res = render(status, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// Starts a run and goes back to the page, which shows it going.
pub async fn run(State(state): State<AppState>, headers: HeaderMap, Path(job): Path<String>, Form(form): Form<CsrfForm>) -> Response {
    let (_, actor, _) = match checked(&state, &headers, &form.csrf, Permission::JobsRun).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match start(&state, &actor, &job).await {
        Ok(_) => Redirect::to("/admin/jobs").into_response(),
        Err(e) => e.into_response(),
    }
}
