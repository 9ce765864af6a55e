//! Segments: the program's segments and the RFM groups with their members as the
//! `segments` job last listed them, member lists, history, and a condition tried on
//! every customer on demand. Reads go where reports read (a replica when one is set).

use loyd_domain::segments::Group;
use loyd_store::{SegmentCount, SegmentDay};

use super::*;
use super::customers::CustomerOut;

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentOut {
    /// The program's id, or `rfm:champions` … for an RFM group.
    pub id: String,
    /// The segment's condition; absent for an RFM group.
    pub condition: Option<String>,
    /// Whether the job lists its members. A segment whose condition reads the
    /// receipt, the store or balances is decided at the till only.
    pub listed: bool,
    /// Members at the job's last pass; absent when not listed.
    pub members: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PassOut {
    /// A pass is going through the customers now.
    pub under_way: bool,
    #[schema(value_type = Option<String>)]
    pub started_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub finished_at: Option<Timestamp>,
    /// The program version the last pass evaluated.
    pub version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentsOut {
    /// The program's segments, in file order.
    pub segments: Vec<SegmentOut>,
    /// The RFM groups, best first.
    pub rfm: Vec<SegmentOut>,
    pub pass: PassOut,
}

/// The program's segments and the RFM groups, with their members (console and API).
pub(crate) async fn overview(state: &AppState) -> Result<SegmentsOut, ApiError> {
    let program = state.store.program().await?;
    let counts: BTreeMap<String, i64> = state.reports.segment_counts().await?.into_iter().map(|SegmentCount { segment, members }| (segment, members)).collect();
    let pass = state.reports.segment_pass().await?;
    // A run just started may not have begun its pass yet: it is under way all the same.
    let running = state.store.last_job_runs().await?.iter().any(|r| r.job == loyd_store::Job::Segments && r.finished_at.is_none());
    let ran = pass.finished_at.is_some() || pass.under_way;
    let count = |id: &str| ran.then(|| counts.get(id).copied().unwrap_or(0));
    let segments = program
        .segments
        .iter()
        .map(|s| {
            let listed = s.condition.job_evaluable();
            SegmentOut { id: s.id.to_string(), condition: Some(s.condition.source().to_owned()), listed, members: count(s.id.as_str()).filter(|_| listed) }
        })
        .collect();
    let rfm = Group::ALL
        .into_iter()
        .map(|g| {
            let id = loyd_domain::segments::rfm_segment(g);
            SegmentOut { members: count(&id), id, condition: None, listed: true }
        })
        .collect();
    Ok(SegmentsOut {
        segments,
        rfm,
        pass: PassOut { under_way: pass.under_way || running, started_at: pass.started_at, finished_at: pass.finished_at, version: pass.version },
    })
}

/// The program's segments and the RFM groups, each with its members at the segments
/// job's last pass, and where that pass stands.
#[utoipa::path(get, path = "/v1/admin/segments", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = SegmentsOut), (status = "4XX", body = ErrorBody)))]
pub async fn segments(State(state): State<AppState>) -> Result<Json<SegmentsOut>, ApiError> {
    Ok(Json(overview(&state).await?))
}

/// Checks that `id` names a program segment the job lists, or an RFM group.
pub(crate) async fn listed_segment(state: &AppState, id: &str) -> Result<(), ApiError> {
    if let Some(group) = loyd_domain::segments::rfm_group_of(id) {
        return match Group::parse(group) {
            Some(_) => Ok(()),
            None => {
                let names: Vec<&str> = Group::ALL.iter().map(|g| g.name()).collect();
                Err(ApiError::not_found(format!("'{group}' is no RFM group; the groups are {}", names.join(", "))))
            }
        };
    }
    let program = state.store.program().await?;
    match program.segments.iter().find(|s| s.id.as_str() == id) {
        None => Err(ApiError::not_found(format!("segment '{id}' does not exist"))),
        Some(s) if !s.condition.job_evaluable() => Err(ApiError::validation(format!(
            "segment '{id}' reads the receipt, the store or balances: only a till decides it, so it has no member list"
        ))),
        Some(_) => Ok(()),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct MemberQuery {
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    /// At most 1000; default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub customer: CustomerOut,
    /// When the job first found them in the segment.
    #[schema(value_type = String)]
    pub since: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    pub members: Vec<MemberOut>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// A page of members (console and API): contact data masked without the permission.
pub(crate) async fn member_page(state: &AppState, actor: &Actor, id: &str, q: MemberQuery) -> Result<MemberPage, ApiError> {
    listed_segment(state, id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let after = q.after.as_deref().map(customer_id).transpose()?.unwrap_or(0);
    let rows = state.reports.segment_members(id.to_owned(), after, limit).await?;
    let next_after = crate::extract::next_page(&rows, limit, |(c, _)| CustomerId(c.id).to_string());
    let clear = actor.can(Permission::ContactsRead);
    let members = rows.into_iter().map(|(c, since)| MemberOut { customer: super::customers::customer_out(c, clear), since }).collect();
    Ok(MemberPage { members, next_after })
}

/// Members of a segment (or of an RFM group, `rfm:champions`) as the segments job last
/// listed them, by customer id.
#[utoipa::path(get, path = "/v1/admin/segments/{id}/members", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path), MemberQuery), responses((status = 200, body = MemberPage), (status = "4XX", body = ErrorBody)))]
pub async fn members(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<String>, Query(q): Query<MemberQuery>) -> Result<Json<MemberPage>, ApiError> {
    Ok(Json(member_page(&state, &actor, &id, q).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// YYYY-MM-DD; default 90 days ago.
    pub from: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryOut {
    /// Per day of the job's passes (the first store's local day): members at the end of
    /// the day's last pass, how many joined and left during the day.
    #[schema(value_type = Vec<Object>)]
    pub days: Vec<SegmentDay>,
}

/// The first day a history shows: `from`, or 90 days before today.
pub(crate) fn history_from(state: &AppState, from: Option<&str>) -> Result<String, ApiError> {
    match from {
        Some(f) => f.parse::<jiff::civil::Date>().map(|d| d.to_string()).map_err(|_| ApiError::validation(format!("from: '{f}' is not a date (YYYY-MM-DD)"))),
        None => {
            let today = state.store.now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            Ok(today.checked_sub(jiff::Span::new().days(90)).unwrap_or(today).to_string())
        }
    }
}

/// A segment's members over time, with who joined and who left.
#[utoipa::path(get, path = "/v1/admin/segments/{id}/history", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = String, Path), HistoryQuery), responses((status = 200, body = HistoryOut), (status = "4XX", body = ErrorBody)))]
pub async fn history(State(state): State<AppState>, Path(id): Path<String>, Query(q): Query<HistoryQuery>) -> Result<Json<HistoryOut>, ApiError> {
    listed_segment(&state, &id).await?;
    let from = history_from(&state, q.from.as_deref())?;
    Ok(Json(HistoryOut { days: state.reports.segment_history(Some(id), from).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TryRequest {
    /// A condition as a segment's (`customer.rfm == 'at_risk' && customer.purchases >= 3`),
    /// or the id of one of the program's segments.
    pub condition: Option<String>,
    pub segment: Option<String>,
    /// How many of the customers who meet it to show (at most 100; default 20).
    pub sample: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TryOut {
    pub condition: String,
    /// Customers who meet it now.
    pub members: i64,
    /// The first of them by id.
    pub sample: Vec<CustomerOut>,
}

/// Tries a condition (or a segment's) on every customer now (console and API).
pub(crate) async fn try_condition(state: &AppState, actor: &Actor, body: TryRequest) -> Result<TryOut, ApiError> {
    let condition = match (body.condition, body.segment) {
        (Some(c), None) => c,
        (None, Some(id)) => {
            let program = state.store.program().await?;
            let s = program.segments.iter().find(|s| s.id.as_str() == id).ok_or_else(|| ApiError::not_found(format!("segment '{id}' does not exist")))?;
            s.condition.source().to_owned()
        }
        _ => return Err(ApiError::validation("give either condition or segment")),
    };
    let sample = body.sample.unwrap_or(20).min(100);
    let (members, first) = state.reports.try_segment(&condition, sample).await?;
    let clear = actor.can(Permission::ContactsRead);
    Ok(TryOut { condition, members, sample: first.into_iter().map(|c| super::customers::customer_out(c, clear)).collect() })
}

/// Tries a segment's condition on every customer now, as the segments job would decide
/// it: how many meet it, and the first of them. Reads every customer, so it takes
/// seconds on a large base; the job's lists are the cheap way to read a segment.
#[utoipa::path(post, path = "/v1/admin/segments/try", tag = "admin", security(("api_key" = []), ("session" = [])), request_body = TryRequest,
    responses((status = 200, body = TryOut), (status = "4XX", body = ErrorBody)))]
pub async fn try_segment(State(state): State<AppState>, actor: CurrentActor, Json(body): Json<TryRequest>) -> Result<Json<TryOut>, ApiError> {
    Ok(Json(try_condition(&state, &actor, body).await?))
}
