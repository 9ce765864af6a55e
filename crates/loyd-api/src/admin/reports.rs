//! Reports over the aggregates ([`crate::reports`]): JSON, CSV or XLSX.

use super::*;
use crate::reports::{Format, Report, ReportQuery, Scope};

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    /// The reports there are, by name.
    pub reports: Vec<&'static str>,
}

/// The reports there are.
#[utoipa::path(get, path = "/v1/admin/reports", tag = "admin", security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ReportList), (status = "4XX", body = ErrorBody)))]
pub async fn list() -> Json<ReportList> {
    Json(ReportList { reports: Report::ALL.into_iter().map(Report::name).collect() })
}

/// One report over a period: `sales`, `balances`, `gift_cards` or `campaigns`. Amounts
/// are decimal strings in JSON and CSV, numbers with their places in XLSX. A store
/// manager's reports cover their stores only.
#[utoipa::path(get, path = "/v1/admin/reports/{report}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("report" = String, Path, description = "sales, balances, gift_cards or campaigns"), ReportQuery),
    responses((status = 200, description = "The report: JSON (default), CSV or XLSX by `format`", body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    actor: CurrentActor,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<axum::response::Response, ApiError> {
    let report = Report::parse(&name).ok_or_else(|| ApiError::not_found(format!("there is no report '{name}'")))?;
    let format = Format::parse(q.format.as_deref())?;
    let scope = Scope::of(&state.reports, &actor.principal, report, &q).await?;
    let table = crate::reports::build(&state.reports, report, &scope).await?;
    crate::reports::download(&table, format, crate::i18n::Lang::En)
}
