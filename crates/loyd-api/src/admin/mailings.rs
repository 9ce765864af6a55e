//! Mailings: a message to a segment, an RFM group, everyone or an uploaded list,
//! scheduled, optionally tried as an A/B split before the winner goes to the rest, and
//! its report. Made and cancelled by whoever may change the program (a marketer), read
//! by whoever reads reports. Sending is the outbox's ([`crate::deliver`]).

use loyd_domain::config::ConfigError;
use loyd_domain::mailings::{self, Audience, MailingSpec, QuietHours, Variant, WinnerBy};
use loyd_domain::messages::Channel;
use loyd_domain::said;
use loyd_store::{Mailing, MailingReport, NewMailing};

use super::*;

/// At most this many customers in an uploaded list.
pub const MAX_LIST: usize = 1_000_000;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailingIn {
    /// The client's id of this request: sent again (a retry), it answers the mailing
    /// made the first time; with a different request, `idempotency_conflict`.
    pub operation_id: Option<String>,
    /// What staff call it: 1 to 200 characters.
    pub name: String,
    /// `email` or `sms`; the program must have the channel's section.
    pub channel: String,
    /// `all`, `segment:<id>` (a segment of the program, or an RFM group:
    /// `segment:rfm:champions`) as the segments job last listed it, or `list`.
    pub audience: String,
    /// The customers of a `list` audience (`C12` or `12`).
    #[serde(default)]
    pub customers: Vec<String>,
    /// When it goes; now when absent.
    #[schema(value_type = Option<String>)]
    pub send_at: Option<Timestamp>,
    /// One to four variants: `{"name": "A", "texts": {"en": {"subject", "body", "html"}}}`.
    /// A text may use the customer's variables, `unsubscribe_url`, and `| track` on a
    /// link to count its clicks.
    #[schema(value_type = Vec<Object>)]
    pub variants: Vec<Variant>,
    /// Percent of the audience that tries the variants first (1–100, default 100:
    /// everyone gets the variants, split evenly, and there is no rest).
    pub test_share: Option<u8>,
    /// `opens` (default), `clicks` or `purchases`.
    #[schema(value_type = Option<String>)]
    pub winner_by: Option<WinnerBy>,
    /// Hours after the test is sent before the winner is chosen (default 24).
    pub decide_after_hours: Option<u32>,
    /// Days a purchase counts for the message before it (default 7).
    pub attribution_days: Option<u32>,
    /// `{"from": "21:00", "to": "09:00"}` in the customer's time zone (that of the store
    /// they last bought at, else `time_zone`): nothing is sent then.
    #[schema(value_type = Option<Object>)]
    pub quiet_hours: Option<QuietHours>,
    /// The zone of customers who never bought (default UTC).
    pub time_zone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MailingsPage {
    #[schema(value_type = Vec<Object>)]
    pub mailings: Vec<Mailing>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct MailingsQuery {
    pub before: Option<i64>,
    /// At most 500; default 50.
    pub limit: Option<u32>,
}

/// Checks a mailing as asked, every problem with its field (the console and the API).
pub(crate) async fn checked(state: &AppState, body: MailingIn) -> Result<NewMailing, ApiError> {
    let mut problems: Vec<ConfigError> = Vec::new();
    let program = state.store.program().await?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        problems.push(ConfigError::said("name", said::name_length()));
    }
    let channel = Channel::parse(&body.channel);
    if channel.is_none() {
        let all: Vec<&str> = Channel::ALL.iter().map(|c| c.name()).collect();
        problems.push(ConfigError::text("channel", format!("'{}' is not a channel ({})", body.channel, all.join(", "))));
    }
    let configured = channel.is_none_or(|c| program.has_channel(c));
    if !configured {
        problems.push(ConfigError::said("channel", said::mailing_channel(&body.channel)));
    }
    // A segment is one whose members the segments job lists: the program's (but those
    // only a till can decide) or an RFM group.
    let listed = |id: &str| {
        program.segments.iter().any(|s| s.id.as_str() == id && s.condition.job_evaluable())
            || loyd_domain::segments::Group::ALL.into_iter().any(|g| loyd_domain::segments::rfm_segment(g) == id)
    };
    let audience = Audience::parse(&body.audience).filter(|a| match a {
        Audience::Segment(id) => listed(id),
        _ => true,
    });
    if audience.is_none() {
        problems.push(ConfigError::said("audience", said::mailing_audience(&body.audience)));
    }
    let mut customers = Vec::with_capacity(body.customers.len());
    for (i, c) in body.customers.iter().enumerate() {
        match customer_id(c) {
            Ok(id) => customers.push(id),
            Err(e) => problems.push(ConfigError::text(format!("customers[{i}]"), e.message)),
        }
    }
    match audience {
        Some(Audience::List) if customers.is_empty() && body.customers.is_empty() => problems.push(ConfigError::said("customers", said::mailing_list_needed())),
        Some(Audience::List) if customers.len() > MAX_LIST => problems.push(ConfigError::text("customers", format!("at most {MAX_LIST} customers in a list"))),
        Some(Audience::All | Audience::Segment(_)) if !body.customers.is_empty() => problems.push(ConfigError::said("customers", said::mailing_list_only())),
        _ => {}
    }
    if let Some(op) = &body.operation_id
        && (op.is_empty() || op.len() > 100 || op.chars().any(char::is_control))
    {
        problems.push(ConfigError::text("operation_id", "1 to 100 characters"));
    }
    let mut spec = MailingSpec::of(body.variants);
    spec.test_share = body.test_share.unwrap_or(spec.test_share);
    spec.winner_by = body.winner_by.unwrap_or(spec.winner_by);
    spec.decide_after_hours = body.decide_after_hours.unwrap_or(spec.decide_after_hours);
    spec.attribution_days = body.attribution_days.unwrap_or(spec.attribution_days);
    spec.quiet_hours = body.quiet_hours;
    spec.time_zone = body.time_zone;
    if let Some(channel) = channel {
        let currencies: Vec<String> = program.currencies.keys().map(|c| c.to_string()).collect();
        problems.extend(mailings::check(&spec, channel, &currencies).into_iter().map(|(field, why)| ConfigError::said(field, why)));
    }
    match (problems.is_empty(), channel, audience) {
        (true, Some(channel), Some(audience)) => Ok(NewMailing {
            name,
            channel,
            audience,
            spec,
            send_at: body.send_at.unwrap_or_else(|| state.store.now()),
            customers,
            operation_id: body.operation_id,
        }),
        _ => {
            let text = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            Err(ApiError::validation(format!("the mailing has {} problem(s): {text}", problems.len())).with_details(json!({ "problems": problems })))
        }
    }
}

/// Makes a mailing. It is enqueued from `send_at` a batch at a time; with several
/// variants and a `test_share` under 100, that share tries them and, after
/// `decide_after_hours`, the winner goes to the rest. `201` when made, `200` when the
/// same `operation_id` made it before.
#[utoipa::path(post, path = "/v1/admin/mailings", tag = "admin", security(("api_key" = []), ("session" = [])),
    request_body = MailingIn, responses((status = 201, body = Object), (status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn create(State(state): State<AppState>, actor: CurrentActor, Json(body): Json<MailingIn>) -> Result<(StatusCode, Json<Mailing>), ApiError> {
    let new = checked(&state, body).await?;
    let (m, made) = state.store.create_mailing(new, actor.name()).await?;
    Ok((if made { StatusCode::CREATED } else { StatusCode::OK }, Json(m)))
}

/// Mailings, newest first.
#[utoipa::path(get, path = "/v1/admin/mailings", tag = "admin", security(("api_key" = []), ("session" = [])), params(MailingsQuery),
    responses((status = 200, body = MailingsPage), (status = "4XX", body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, Query(q): Query<MailingsQuery>) -> Result<Json<MailingsPage>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mailings = state.store.mailings(q.before, limit).await?;
    let next_before = crate::extract::next_page(&mailings, limit, |m| m.id);
    Ok(Json(MailingsPage { mailings, next_before }))
}

/// A mailing and its report per variant and in total: enqueued, queued, sent
/// (accepted by the SMTP server or gateway), failed, withheld, opened, clicked,
/// unsubscribed, and purchases within the attribution days.
#[utoipa::path(get, path = "/v1/admin/mailings/{id}", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn report(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<MailingReport>, ApiError> {
    state.store.mailing_report(id).await?.map(Json).ok_or_else(|| ApiError::said(ErrorCode::NotFound, said::not_found("mailing", id)))
}

/// Cancels a mailing not yet finished: nothing more is enqueued and what waits is
/// withheld. A sent or cancelled mailing: `409 conflict`.
#[utoipa::path(post, path = "/v1/admin/mailings/{id}/cancel", tag = "admin", security(("api_key" = []), ("session" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)))]
pub async fn cancel(State(state): State<AppState>, actor: CurrentActor, Path(id): Path<i64>) -> Result<Json<Mailing>, ApiError> {
    let (m, cancelled) = state.store.cancel_mailing(id, actor.name()).await?;
    if !cancelled {
        return Err(ApiError::said(ErrorCode::Conflict, said::mailing_state(&m.state)));
    }
    Ok(Json(m))
}
