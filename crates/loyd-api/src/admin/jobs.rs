//! The scheduled jobs: each job's last run, the runs in pages, and "run now".

use loyd_store::{Job, JobRun};

use super::*;

/// One run of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobRunOut {
    pub id: i64,
    /// `expire_holds`, `expire_lots`, `burn_inactive`, `convert_balances`, `roll_up`, `detect_fraud` or `segments`.
    pub job: String,
    /// `schedule`, `cli`, or who asked (`user:ann`, `key:ops`).
    pub started_by: String,
    #[schema(value_type = String)]
    pub started_at: Timestamp,
    /// Absent while it runs, or when its server stopped before it ended.
    #[schema(value_type = Option<String>)]
    pub finished_at: Option<Timestamp>,
    /// `running`, `done` or `failed`.
    pub state: &'static str,
    /// Holds, lots, accounts or balances it acted on.
    pub items: i64,
    /// Why it stopped, when it failed; what it did before that stays done.
    pub error: Option<String>,
}

impl From<JobRun> for JobRunOut {
    fn from(r: JobRun) -> Self {
        let state = match (&r.finished_at, &r.error) {
            (None, _) => "running",
            (Some(_), Some(_)) => "failed",
            (Some(_), None) => "done",
        };
        JobRunOut { id: r.id, job: r.job.to_string(), started_by: r.started_by, started_at: r.started_at, finished_at: r.finished_at, state, items: r.items, error: r.error }
    }
}

/// A job and its last run.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobOut {
    pub job: String,
    /// Absent when it has never run on this database.
    pub last_run: Option<JobRunOut>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct RunQuery {
    /// One job's runs only.
    pub job: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// At most 200; default 50.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<JobRunOut>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

fn job_of(name: &str) -> Result<Job, ApiError> {
    Job::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Job::ALL.iter().map(|j| j.name()).collect();
        ApiError::not_found(format!("there is no job '{name}'; the jobs are {}", known.join(", "))).with_details(json!({ "jobs": known }))
    })
}

/// Every job, in the order a full run takes them, with its last run.
pub(crate) async fn overview(state: &AppState) -> Result<Vec<JobOut>, ApiError> {
    let mut last = state.store.last_job_runs().await?;
    Ok(Job::ALL
        .into_iter()
        .map(|job| JobOut { job: job.to_string(), last_run: last.iter().position(|r| r.job == job).map(|i| last.swap_remove(i).into()) })
        .collect())
}

/// A page of runs, newest first.
pub(crate) async fn runs_page(state: &AppState, q: RunQuery) -> Result<RunPage, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let job = q.job.as_deref().filter(|j| !j.is_empty()).map(job_of).transpose()?;
    let runs = state.store.job_runs(job, q.before, limit).await?;
    let next_before = crate::extract::next_page(&runs, limit, |r| r.id);
    Ok(RunPage { runs: runs.into_iter().map(JobRunOut::from).collect(), next_before })
}

/// Starts a run of `job` in the background and answers the run as it started; audited.
pub(crate) async fn start(state: &AppState, actor: &crate::auth::Actor, job: &str) -> Result<JobRunOut, ApiError> {
    let job = job_of(job)?;
    let started = state.store.start_job_run(job, actor.name()).await?;
    let (store, id) = (state.store.clone(), started.id);
    tokio::spawn(async move {
        match store.finish_job(job, id).await {
            Ok(r) if r.error.is_some() => tracing::warn!(job = %job, run = id, error = r.error.as_deref().unwrap_or(""), "job run failed"),
            Ok(r) => tracing::info!(job = %job, run = id, items = r.items, "job run ended"),
            Err(e) => tracing::error!(job = %job, run = id, error = %e, "job run could not be recorded"),
        }
    });
    audit_after(state, actor, "job.run", "job", job.name(), json!({ "run": id })).await;
    Ok(started.into())
}

/// The scheduled jobs, each with its last run.
#[utoipa::path(get, path = "/v1/admin/jobs", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<JobOut>), (status = "4XX", body = ErrorBody)))]
pub async fn jobs(State(state): State<AppState>) -> Result<Json<Vec<JobOut>>, ApiError> {
    Ok(Json(overview(&state).await?))
}

/// Runs of the jobs, newest first: each with who started it, when it ended, how many
/// items it handled and why it failed. A scheduled run that found nothing to do replaces
/// the one before it.
#[utoipa::path(get, path = "/v1/admin/jobs/runs", tag = "admin", security(("api_key" = []), ("session" = [])), params(RunQuery),
    responses((status = 200, body = RunPage), (status = "4XX", body = ErrorBody)))]
pub async fn runs(State(state): State<AppState>, Query(q): Query<RunQuery>) -> Result<Json<RunPage>, ApiError> {
    Ok(Json(runs_page(&state, q).await?))
}

/// Runs a job now, in the background: answers `202` with the run, whose state reads
/// `running` until it ends (`GET /v1/admin/jobs/runs`). Jobs are idempotent: a second
/// run, or one racing the schedule, acts only on what is still due.
#[utoipa::path(post, path = "/v1/admin/jobs/{job}/run", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("job" = String, Path, description = "expire_holds, expire_lots, burn_inactive, convert_balances, roll_up, detect_fraud or segments")),
    responses((status = 202, body = JobRunOut), (status = "4XX", body = ErrorBody)))]
pub async fn run(State(state): State<AppState>, actor: CurrentActor, Path(job): Path<String>) -> Result<(StatusCode, Json<JobRunOut>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(start(&state, &actor, &job).await?)))
}
