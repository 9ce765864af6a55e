//! Campaigns: the list with their status, and the constructor — when, where, who, what,
//! rewards, limits, stacking and messages as a form, each field named by its path in
//! the campaign so the engine's own checks show next to it; a simulation of the form
//! over past receipts before anything is saved; activate, pause, archive; the campaign's
//! version history field by field. Everything goes through the admin API's functions
//! ([`crate::admin::programs`]): the console has no rule of its own.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::tz::TimeZone;
use loyd_domain::access::Permission;
use loyd_domain::config::ConfigDocument;
use loyd_domain::program::CampaignStatus;
use serde::Deserialize;
use serde_json::{Value, json};

use super::form::{self, Field, Kind, Problem, Spec, Values, spec};
use crate::i18n::{Catalogue, Lang};
use super::{Frame, Session, allowed, checked, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::programs::{ObjectVersion, SimulateQuery, history, object, objects, put, set_status, simulated};
use crate::auth::Actor;
use crate::error::ApiError;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const REWARD_TYPES: [&str; 5] = ["discount", "accrue", "multi_buy", "issue_coupon", "gift"];

/// The constructor's sections and their fields, in the order shown.
const SECTIONS: [(&str, &str, &[Spec]); 6] = [
    ("campaign.basics", "campaign.basics_help", &[
        spec("name", Kind::Text, "campaign.name", None),
        spec("priority", Kind::Int, "campaign.priority", Some("campaign.priority_help")),
    ]),
    ("campaign.when", "campaign.when_help", &[
        spec("from", Kind::Moment, "campaign.from", None),
        spec("until", Kind::Moment, "campaign.until", Some("campaign.until_help")),
        spec("weekdays", Kind::Choices, "campaign.weekdays", Some("campaign.weekdays_help")),
        spec("hours.from", Kind::Time, "campaign.hours_from", None),
        spec("hours.to", Kind::Time, "campaign.hours_to", Some("campaign.hours_help")),
        spec("timezone", Kind::Text, "campaign.timezone", Some("campaign.timezone_help")),
    ]),
    ("campaign.where", "campaign.where_help", &[
        spec("stores", Kind::Choices, "campaign.stores", Some("campaign.stores_help")),
    ]),
    ("campaign.who", "campaign.who_help", &[
        spec("customers_only", Kind::Flag, "campaign.customers_only", None),
        spec("tiers", Kind::Choices, "campaign.tiers", Some("campaign.tiers_help")),
        spec("series", Kind::Choices, "campaign.series", Some("campaign.series_help")),
        spec("control_share", Kind::Decimal, "campaign.control_share", Some("campaign.control_share_help")),
    ]),
    ("campaign.what", "campaign.what_help", &[
        spec("min_total", Kind::Decimal, "campaign.min_total", None),
        spec("lines.groups", Kind::List, "campaign.lines_groups", Some("campaign.codes_help")),
        spec("lines.skus", Kind::List, "campaign.lines_skus", Some("campaign.codes_help")),
        spec("lines.min_amount", Kind::Decimal, "campaign.lines_min_amount", None),
        spec("lines.min_quantity", Kind::Decimal, "campaign.lines_min_quantity", None),
        spec("coupon_series", Kind::Select, "campaign.coupon_series", Some("campaign.coupon_series_help")),
    ]),
    ("campaign.limits", "campaign.limits_help", &[
        spec("limits.per_customer_day", Kind::Int, "campaign.per_customer_day", None),
        spec("limits.per_customer", Kind::Int, "campaign.per_customer", None),
        spec("limits.uses", Kind::Int, "campaign.uses", Some("campaign.uses_help")),
        spec("limits.budget", Kind::Decimal, "campaign.budget", Some("campaign.budget_help")),
        spec("max_discount", Kind::Decimal, "campaign.max_discount", None),
        spec("max_discount_share", Kind::Decimal, "campaign.max_discount_share", Some("campaign.share_help")),
        spec("exclusive", Kind::Flag, "campaign.exclusive", Some("campaign.exclusive_help")),
        spec("stack_group", Kind::Text, "campaign.stack_group", Some("campaign.stack_group_help")),
    ]),
];

/// The fields of one reward (`rewards[]`).
const REWARD: [Spec; 11] = [
    spec("rewards[].type", Kind::Select, "reward.type", Some("reward.type_help")),
    spec("rewards[].percent", Kind::Decimal, "reward.percent", Some("reward.percent_help")),
    spec("rewards[].amount", Kind::Decimal, "reward.amount", None),
    spec("rewards[].price", Kind::Decimal, "reward.price", Some("reward.price_help")),
    spec("rewards[].currency", Kind::Select, "reward.currency", Some("reward.currency_help")),
    spec("rewards[].groups", Kind::List, "reward.groups", Some("reward.goods_help")),
    spec("rewards[].skus", Kind::List, "reward.skus", None),
    spec("rewards[].group", Kind::Int, "reward.group", Some("reward.group_help")),
    spec("rewards[].free", Kind::Int, "reward.free", None),
    spec("rewards[].coupon_series", Kind::Select, "reward.coupon_series", None),
    spec("rewards[].gift", Kind::Text, "reward.gift", None),
];

const MESSAGES: [Spec; 3] = [
    spec("messages.slip", Kind::Lines, "campaign.slip", Some("campaign.lines_help")),
    spec("messages.cashier", Kind::Lines, "campaign.cashier", None),
    spec("messages.display", Kind::Lines, "campaign.display", None),
];

/// Objects left blank are not set at all.
const BLANK_IS_UNSET: [&str; 3] = ["hours", "lines", "limits"];

pub struct Section {
    pub title: &'static str,
    pub help: &'static str,
    pub fields: Vec<Field>,
}

pub struct RewardRow {
    pub index: usize,
    pub fields: Vec<Field>,
    /// A problem with the reward as a whole.
    pub error: Option<String>,
    /// Settings the form does not show, kept as they are (`per_item = 2`).
    pub kept: String,
}

pub struct Row {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub when: String,
    pub rewards: String,
}

#[derive(Template)]
#[template(path = "console/campaigns.html")]
struct ListPage {
    f: Frame,
    s: Session,
    rows: Vec<Row>,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    can_write: bool,
}

#[derive(Template)]
#[template(path = "console/campaign.html")]
struct CampaignPage {
    f: Frame,
    s: Session,
    /// `None` for a campaign not saved yet.
    id: Option<String>,
    /// The id field of a new campaign.
    new_id: Field,
    title: String,
    status: CampaignStatus,
    status_label: &'static str,
    /// The lifecycle actions the status allows: (status, label).
    actions: Vec<(&'static str, &'static str)>,
    sections: Vec<Section>,
    rewards: Vec<RewardRow>,
    messages: Vec<Field>,
    /// Every problem, with the label of its field where the form shows it.
    problems: Vec<(String, String, String)>,
    notice: Option<String>,
    can_write: bool,
    stores: Vec<(String, String)>,
    history: Vec<ObjectVersion>,
    lang: Lang,
}

impl CampaignPage {
    fn plain(&self, json: &str) -> String {
        plain_value(json)
    }

    fn when(&self, v: &ObjectVersion) -> String {
        version_time(self.lang, v)
    }
}

#[derive(Template)]
#[template(path = "console/campaign_sim.html")]
struct SimFragment {
    f: Frame,
    figures: Vec<(&'static str, String)>,
    problems: Vec<String>,
    period: String,
}

impl SimFragment {
    /// The element id of a figure: `sim.cost` is `sim-cost`.
    fn id_of(&self, key: &str) -> String {
        key.replace('.', "-")
    }
}

/// What the page knows of the configuration to offer as choices.
struct Options {
    stores: Vec<(String, String)>,
    tiers: Vec<(String, String)>,
    series: Vec<(String, String)>,
    currencies: Vec<(String, String)>,
    coupon_series: Vec<(String, String)>,
    /// The zone of the first store: times are typed in it unless the campaign has its own.
    zone: TimeZone,
}

impl Options {
    async fn load(state: &AppState) -> Result<Options, ApiError> {
        let doc = state.store.config_snapshot().await?;
        let stores = doc.stores.iter().map(|s| (s.id.to_string(), format!("{} ({})", s.name, s.id))).collect();
        let tiers = doc.tiers.iter().flat_map(|t| t.levels.iter().map(move |l| (l.id.to_string(), format!("{} ({})", l.id, t.id)))).collect();
        let series = doc.card_series.iter().map(|s| (s.id.to_string(), s.id.to_string())).collect();
        let currencies = doc.currencies.iter().map(|c| (c.code.to_string(), c.code.to_string())).collect();
        let none = (String::new(), "—".to_owned());
        let coupon_series = std::iter::once(none).chain(doc.coupon_series.iter().map(|c| (c.id.to_string(), c.id.to_string()))).collect();
        let zone = doc.stores.first().map_or(TimeZone::UTC, |s| s.timezone.zone());
        Ok(Options { stores, tiers, series, currencies, coupon_series, zone })
    }

    fn of(&self, path: &str, t: &Catalogue) -> Vec<(String, String)> {
        let with_none = |items: &[(String, String)]| std::iter::once((String::new(), "—".to_owned())).chain(items.iter().cloned()).collect();
        match path {
            "weekdays" => WEEKDAYS.iter().map(|d| ((*d).to_owned(), t.get(&format!("day.{d}")).to_owned())).collect(),
            "stores" => self.stores.clone(),
            "tiers" => self.tiers.clone(),
            "series" => self.series.clone(),
            "coupon_series" => self.coupon_series.clone(),
            p if p.ends_with(".type") => {
                std::iter::once((String::new(), t.get("reward.none").to_owned()))
                    .chain(REWARD_TYPES.iter().map(|k| ((*k).to_owned(), t.get(&format!("reward.{k}")).to_owned())))
                    .collect()
            }
            p if p.ends_with(".currency") => with_none(&self.currencies),
            p if p.ends_with(".coupon_series") => self.coupon_series.clone(),
            _ => Vec::new(),
        }
    }

    /// The zone times of `object` are typed in.
    fn zone_of(&self, object: &Value) -> TimeZone {
        object.get("timezone").and_then(Value::as_str).and_then(|z| TimeZone::get(z).ok()).unwrap_or_else(|| self.zone.clone())
    }
}

fn status_of(object: &Value) -> CampaignStatus {
    object.get("status").and_then(Value::as_str).and_then(CampaignStatus::parse).unwrap_or_default()
}

fn status_label(t: &'static Catalogue, s: CampaignStatus) -> &'static str {
    t.get(match s {
        CampaignStatus::Draft => "status.draft",
        CampaignStatus::Active => "status.active",
        CampaignStatus::Paused => "status.paused",
        CampaignStatus::Archived => "status.archived",
    })
}

/// The campaign's rewards, edited as rows.
const REWARDS: form::Rows = form::Rows { list: "rewards", specs: &REWARD };

/// The constructor's fields outside the rewards.
fn plain() -> Vec<Spec> {
    SECTIONS.iter().flat_map(|(_, _, specs)| specs.iter()).chain(MESSAGES.iter()).copied().collect()
}

/// The form's values read from a stored campaign.
fn values_of(object: &Value, zone: &TimeZone) -> Values {
    form::read(object, &plain(), Some(&REWARDS), zone)
}

/// The campaign a submitted form makes, laid over `base` (the stored campaign, or an
/// empty one); times are in the zone the form names, else the first store's.
fn build(base: &Value, values: &Values, opts: &Options, t: &Catalogue) -> (Value, Vec<Problem>) {
    let zone = opts.zone_of(&json!({ "timezone": values.one("timezone") }));
    form::build(base, values, &plain(), Some(&REWARDS), &BLANK_IS_UNSET, &zone, t)
}

/// What the page needs to draw the constructor.
struct Draw<'a> {
    state: &'a AppState,
    lang: Lang,
    actor: &'a Actor,
    secret: &'a str,
}

impl Draw<'_> {
    async fn page(&self, code: StatusCode, id: Option<&str>, object: &Value, values: Values, problems: Vec<Problem>, notice: Option<String>) -> Response {
        let t = self.lang.words();
        let loaded = async {
            let opts = Options::load(self.state).await?;
            let history = match id {
                Some(id) => history(self.state, ("campaigns", id), 20).await?,
                None => Vec::new(),
            };
            Ok::<_, ApiError>((opts, history))
        };
        let (opts, history) = match loaded.await {
            Ok(x) => x,
            Err(e) => return unavailable(&e),
        };
        // A field's options by its path as specified (`rewards[].currency`).
        let field = |s: &Spec, i: usize| form::field(s, i, &values, &opts.of(s.path, t), &problems, t);
        let sections = SECTIONS.iter().map(|(title, help, specs)| Section { title: t.get(title), help: t.get(help), fields: specs.iter().map(|s| field(s, 0)).collect() }).collect();
        let rows = REWARDS.sent(&values);
        // One empty row more, to add a reward.
        let rewards = (0..=rows)
            .map(|i| {
                let errors: Vec<&str> = problems.iter().filter(|p| p.path == format!("rewards[{i}]")).map(|p| p.message.as_str()).collect();
                RewardRow {
                    index: i + 1,
                    fields: REWARD.iter().map(|s| field(s, i)).collect(),
                    error: (!errors.is_empty()).then(|| errors.join("; ")),
                    kept: REWARDS.kept(object, i),
                }
            })
            .collect();
        let messages = MESSAGES.iter().map(|s| field(s, 0)).collect();
        let new_id = form::field(&spec("id", Kind::Text, "campaign.id", Some("campaign.id_help")), 0, &values, &[], &problems, t);
        // Problems named by field label where the form shows the field.
        let labels: Vec<(String, String)> = form::fields(&plain(), Some(&REWARDS), rows.max(1))
            .into_iter()
            .map(|(p, _)| {
                let spec = SECTIONS.iter().flat_map(|(_, _, s)| s.iter()).chain(MESSAGES.iter()).chain(REWARD.iter()).find(|s| s.path == p || s.at(index_in(&p)) == p);
                (p.clone(), spec.map_or(p.clone(), |s| t.get(s.label).to_owned()))
            })
            .collect();
        let listed = problems
            .iter()
            .map(|p| {
                let label = labels.iter().find(|(path, _)| *path == p.path).map_or_else(|| p.path.clone(), |(_, l)| l.clone());
                // A reward as a whole: its box.
                let reward = p.path.strip_prefix("rewards[").and_then(|r| r.strip_suffix(']')).and_then(|i| i.parse::<usize>().ok());
                match reward {
                    Some(i) => (format!("reward-{}", i + 1), format!("{} {}", t.get("campaign.reward"), i + 1), p.message.clone()),
                    None if labels.iter().any(|(path, _)| *path == p.path) => (form::id_of(&p.path), label, p.message.clone()),
                    None => (String::new(), label, p.message.clone()),
                }
            })
            .collect();
        let status = status_of(object);
        let actions = match id {
            Some(_) => [("active", "campaign.activate"), ("paused", "campaign.pause"), ("archived", "campaign.archive")]
                .into_iter()
                .filter(|(to, _)| CampaignStatus::parse(to).is_some_and(|to| to != status && status.may_become(to).is_ok()))
                .map(|(to, label)| (to, t.get(label)))
                .collect(),
            None => Vec::new(),
        };
        let title = match (id, object.get("name").and_then(Value::as_str)) {
            (Some(_), Some(name)) if !name.is_empty() => name.to_owned(),
            (Some(id), _) => id.to_owned(),
            (None, _) => t.get("campaign.new").to_owned(),
        };
        let here = "/admin/campaigns";
        let page = CampaignPage {
            f: Frame::new(self.lang),
            s: Session::of(&self.actor.principal, self.secret, t, here),
            id: id.map(str::to_owned),
            new_id,
            title,
            status,
            status_label: status_label(t, status),
            actions,
            sections,
            rewards,
            messages,
            problems: listed,
            notice,
            can_write: self.actor.can(Permission::ConfigWrite),
            stores: opts.stores.clone(),
            history,
            lang: self.lang,
        };
        render(code, page)
    }
}

/// The list index in a path (`rewards[2].percent` is 2), 0 when it has none.
fn index_in(path: &str) -> usize {
    path.split_once('[').and_then(|(_, r)| r.split_once(']')).and_then(|(i, _)| i.parse().ok()).unwrap_or(0)
}

fn unavailable(e: &ApiError) -> Response {
    tracing::error!(error = %e.message, "a campaign page could not be read");
    (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    lang: Option<String>,
}

/// What a campaign's "when" says, shortly: its days and dates.
fn when_of(object: &Value, t: &Catalogue) -> String {
    let mut parts = Vec::new();
    if let Some(Value::Array(days)) = object.get("weekdays")
        && !days.is_empty()
    {
        parts.push(days.iter().filter_map(Value::as_str).map(|d| t.get(&format!("day.{d}")).to_owned()).collect::<Vec<_>>().join(", "));
    }
    let day = |k: &str| object.get(k).and_then(Value::as_str).map(|s| s.chars().take(10).collect::<String>());
    match (day("from"), day("until")) {
        (None, None) => {}
        (a, b) => parts.push(format!("{} – {}", a.unwrap_or_default(), b.unwrap_or_default())),
    }
    if parts.is_empty() { t.get("campaign.always").to_owned() } else { parts.join("; ") }
}

/// What a campaign gives, shortly: `discount 10 % (dairy)`.
fn rewards_of(object: &Value, t: &Catalogue) -> String {
    let Some(Value::Array(rewards)) = object.get("rewards") else { return String::new() };
    rewards
        .iter()
        .map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
            let kind = t.get(&format!("reward.{}", s("type"))).to_owned();
            let size = match (s("percent"), s("amount"), s("price")) {
                (p, _, _) if !p.is_empty() => format!(" {p} %"),
                (_, a, _) if !a.is_empty() => format!(" {a}"),
                (_, _, p) if !p.is_empty() => format!(" @ {p}"),
                _ => String::new(),
            };
            let groups: Vec<&str> = r.get("groups").and_then(Value::as_array).map(|g| g.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            let goods = if groups.is_empty() { String::new() } else { format!(" ({})", groups.join(", ")) };
            format!("{kind}{size}{goods}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let found = match objects(&state, "campaigns").await {
        Ok(o) => o.objects,
        Err(e) => return unavailable(&e),
    };
    let rows = found
        .iter()
        .filter(|o| q.status.is_empty() || status_of(o).name() == q.status)
        .map(|o| Row {
            id: o.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
            name: o.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            status: status_of(o).name(),
            status_label: status_label(t, status_of(o)),
            when: when_of(o, t),
            rewards: rewards_of(o, t),
        })
        .collect();
    let statuses = CampaignStatus::ALL.into_iter().map(|s| (s.name(), status_label(t, s))).collect();
    let page = ListPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, t, "/admin/campaigns"),
        rows,
        status: q.status.clone(),
        statuses,
        can_write: actor.can(Permission::ConfigWrite),
    };
    let mut res = render(StatusCode::OK, page);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// The version just saved (0: nothing changed).
    saved: Option<i64>,
    lang: Option<String>,
}

/// The constructor for a new campaign.
pub async fn new(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let draw = Draw { state: &state, lang, actor: &actor, secret: &secret };
    let object = json!({ "status": "draft" });
    let mut res = draw.page(StatusCode::OK, None, &object, Values::default(), Vec::new(), None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// A campaign in the constructor (read-only for roles that may not change it).
pub async fn show(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let stored = match object(&state, "campaigns", &id).await {
        Ok(o) => o.object,
        Err(e) if e.code == crate::error::ErrorCode::NotFound => return (StatusCode::NOT_FOUND, Html(t.get("campaign.not_found").to_owned())).into_response(),
        Err(e) => return unavailable(&e),
    };
    let opts = match Options::load(&state).await {
        Ok(o) => o,
        Err(e) => return unavailable(&e),
    };
    let notice = q.saved.map(|v| if v > 0 { format!("{} {v}.", t.get("campaign.saved")) } else { t.get("campaign.unchanged").to_owned() });
    let draw = Draw { state: &state, lang, actor: &actor, secret: &secret };
    let mut res = draw.page(StatusCode::OK, Some(&id), &stored, values_of(&stored, &opts.zone_of(&stored)), Vec::new(), notice).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// Saves a new campaign as a draft.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (csrf, values) = form::split(pairs);
    let (lang, actor, secret) = match checked(&state, &headers, &csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let draw = Draw { state: &state, lang, actor: &actor, secret: &secret };
    let id = values.one("id").to_owned();
    let refuse = |problems: Vec<Problem>| {
        let values = values.clone();
        async move { draw.page(StatusCode::UNPROCESSABLE_ENTITY, None, &json!({ "status": "draft" }), values, problems, None).await }
    };
    if id.is_empty() {
        return refuse(vec![Problem { path: "id".into(), message: t.get("campaign.id_needed").into() }]).await;
    }
    match object(&state, "campaigns", &id).await {
        Ok(_) => return refuse(vec![Problem { path: "id".into(), message: t.get("campaign.id_taken").into() }]).await,
        Err(e) if e.code == crate::error::ErrorCode::NotFound => {}
        Err(e) => return unavailable(&e),
    }
    let opts = match Options::load(&state).await {
        Ok(o) => o,
        Err(e) => return unavailable(&e),
    };
    let (mut campaign, problems) = build(&json!({ "status": "draft" }), &values, &opts, t);
    if !problems.is_empty() {
        return refuse(problems).await;
    }
    campaign["id"] = Value::String(id.clone());
    match put(&state, &actor, ("campaigns", &id), campaign, false).await {
        Ok(done) => Redirect::to(&format!("/admin/campaigns/{id}?saved={}", done.version.unwrap_or(0))).into_response(),
        Err(e) => refuse(form::problems_of(&e, t)).await,
    }
}

/// Saves the constructor's form over the stored campaign (its status is unchanged).
pub async fn save(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (csrf, values) = form::split(pairs);
    let (lang, actor, secret) = match checked(&state, &headers, &csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let draw = Draw { state: &state, lang, actor: &actor, secret: &secret };
    let loaded = async { Ok::<_, ApiError>((object(&state, "campaigns", &id).await?.object, Options::load(&state).await?)) };
    let (stored, opts) = match loaded.await {
        Ok(x) => x,
        Err(e) if e.code == crate::error::ErrorCode::NotFound => return (StatusCode::NOT_FOUND, Html(t.get("campaign.not_found").to_owned())).into_response(),
        Err(e) => return unavailable(&e),
    };
    let (campaign, mut problems) = build(&stored, &values, &opts, t);
    if problems.is_empty() {
        match put(&state, &actor, ("campaigns", &id), campaign, false).await {
            Ok(done) => return Redirect::to(&format!("/admin/campaigns/{id}?saved={}", done.version.unwrap_or(0))).into_response(),
            Err(e) => problems = form::problems_of(&e, t),
        }
    }
    draw.page(StatusCode::UNPROCESSABLE_ENTITY, Some(&id), &stored, values, problems, None).await
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    csrf: String,
}

/// Activates, pauses or archives a campaign.
pub async fn lifecycle(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<StatusForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match set_status(&state, &actor, &id, &form.status).await {
        Ok(done) => Redirect::to(&format!("/admin/campaigns/{id}?saved={}", done.version.unwrap_or(0))).into_response(),
        Err(e) => {
            let stored = match object(&state, "campaigns", &id).await {
                Ok(o) => o.object,
                Err(e) => return unavailable(&e),
            };
            let opts = match Options::load(&state).await {
                Ok(o) => o,
                Err(e) => return unavailable(&e),
            };
            let draw = Draw { state: &state, lang, actor: &actor, secret: &secret };
            let values = values_of(&stored, &opts.zone_of(&stored));
            draw.page(StatusCode::CONFLICT, Some(&id), &stored, values, form::problems_of(&e, lang.words()), None).await
        }
    }
}

/// Fields of the simulation and preview, not of the campaign.
fn is_tool_field(k: &str) -> bool {
    ["csrf", "id"].contains(&k) || k.starts_with("sim_") || k.starts_with("pv_")
}

/// The form (saved or not) as an active campaign, in a change to the configuration:
/// its id, the change, the page's options and the configuration in force; or the
/// problems that keep it from being one.
async fn proposal(state: &AppState, values: &Values, t: &Catalogue) -> Result<Result<(String, ConfigDocument, Options, ConfigDocument), Vec<String>>, Response> {
    let id = match values.one("id") {
        "" => "new-campaign".to_owned(),
        id => id.to_owned(),
    };
    let loaded = async {
        let stored = match object(state, "campaigns", &id).await {
            Ok(o) => o.object,
            Err(e) if e.code == crate::error::ErrorCode::NotFound => json!({}),
            Err(e) => return Err(e),
        };
        Ok((stored, Options::load(state).await?, state.store.config_snapshot().await?))
    };
    let (stored, opts, doc) = loaded.await.map_err(|e| unavailable(&e))?;
    // A form shown read-only sends no fields: the stored campaign is used.
    let edited = values.0.keys().any(|k| !is_tool_field(k));
    let (mut campaign, problems) = if edited { build(&stored, values, &opts, t) } else { (stored, Vec::new()) };
    if !problems.is_empty() {
        return Ok(Err(problems.into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect()));
    }
    campaign["id"] = Value::String(id.clone());
    campaign["status"] = Value::String("active".into());
    Ok(match ConfigDocument::of_object("campaigns", &id, campaign) {
        Ok(change) => Ok((id, change, opts, doc)),
        Err(p) => Err(p.into_iter().map(|e| form::problem_of(e, t)).map(|p| format!("{}: {}", p.path, p.message)).collect()),
    })
}

/// Runs the form (saved or not) as an active campaign over the receipts of the last
/// `sim_days` days, beside the program in force: an htmx fragment.
pub async fn simulate(State(state): State<AppState>, headers: HeaderMap, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (csrf, values) = form::split(pairs);
    let (lang, actor, _) = match checked(&state, &headers, &csrf, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let fragment = |figures: Vec<(&'static str, String)>, problems: Vec<String>, period: String| {
        render(StatusCode::OK, SimFragment { f: Frame::new(lang), figures, problems, period })
    };
    let (id, change, opts, doc) = match proposal(&state, &values, t).await {
        Ok(Ok(p)) => p,
        Ok(Err(problems)) => return fragment(Vec::new(), problems, String::new()),
        Err(res) => return res,
    };
    let days: i64 = values.one("sim_days").parse().unwrap_or(30).clamp(1, 366);
    let store = Some(values.one("sim_store").to_owned()).filter(|s| !s.is_empty());
    let zone = store.as_deref().and_then(|s| doc.stores.iter().find(|x| x.id.as_str() == s)).map_or(opts.zone.clone(), |s| s.timezone.zone());
    let today = state.store.now().to_zoned_datetime(zone.clone()).date();
    let first = today.checked_sub(jiff::Span::new().days(days - 1)).unwrap_or(today);
    let q = SimulateQuery { from: first.to_string(), to: today.to_string(), timezone: zone.iana_name().map(str::to_owned), store: store.clone() };
    let period = format!("{} – {}", lang.day(first), lang.day(today));
    let report = match simulated(&state, &actor, change, &q).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fragment(Vec::new(), form::problems_of(&ApiError::from(e), t).into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect(), period),
        Err(e) => return fragment(Vec::new(), vec![super::refusal(t, &e)], period),
    };
    // Money in the stores' currency when they share one; else in minor units.
    let currencies: std::collections::BTreeSet<_> = doc.stores.iter().filter(|s| store.as_deref().is_none_or(|x| x == s.id.as_str())).map(|s| s.currency.clone()).collect();
    let money = |minor: i64| match currencies.iter().next().filter(|_| currencies.len() == 1).and_then(|c| doc.currencies.iter().find(|x| &x.code == c)) {
        Some(c) => format!("{} {}", lang.number(&loyd_domain::money::from_minor(minor, c.scale).to_string()), c.code),
        None => format!("{} ({})", lang.number(&minor.to_string()), t.get("sim.minor_units")),
    };
    let own = report.proposed.by_campaign.get(&id).copied().unwrap_or(0);
    let figures = vec![
        ("sim.receipts", lang.number(&report.proposed.receipts.to_string())),
        ("sim.changed", lang.number(&report.receipts_changed.to_string())),
        ("sim.customers", lang.number(&report.customers_affected.to_string())),
        ("sim.cost", money(own)),
        ("sim.cost_before", money(report.baseline.cost())),
        ("sim.cost_after", money(report.proposed.cost())),
    ];
    fragment(figures, Vec::new(), period)
}

/// A value of a history as a person reads it: text without its JSON quotes, `—` for
/// none.
pub(super) fn plain_value(json: &str) -> String {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::String(s)) => s,
        Ok(Value::Null) | Err(_) if json == "null" || json == "(none)" => "—".to_owned(),
        _ => json.to_owned(),
    }
}

/// When a version was applied, as a history shows it.
pub(super) fn version_time(lang: Lang, v: &ObjectVersion) -> String {
    let z = v.applied_at.to_zoned_datetime(TimeZone::UTC);
    format!("{} {:02}:{:02} UTC", lang.day(z.date()), z.hour(), z.minute())
}

/// How many sample lines the preview offers.
const PREVIEW_LINES: usize = 3;

#[derive(Template)]
#[template(path = "console/campaign_preview.html")]
struct PreviewFragment {
    f: Frame,
    answer: Option<loyd_domain::receipt::ReceiptResponse>,
    problems: Vec<String>,
    /// The SKU of each line of the answer.
    skus: Vec<String>,
}

/// Runs a sample receipt through the engine with the form (saved or not) as an active
/// campaign, as a till of the chosen store would: an htmx fragment.
pub async fn preview(State(state): State<AppState>, headers: HeaderMap, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (csrf, values) = form::split(pairs);
    let (lang, actor, _) = match checked(&state, &headers, &csrf, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let fragment = |answer, problems: Vec<String>, skus| render(StatusCode::OK, PreviewFragment { f: Frame::new(lang), answer, problems, skus });
    let (_, change, _, doc) = match proposal(&state, &values, t).await {
        Ok(Ok(p)) => p,
        Ok(Err(problems)) => return fragment(None, problems, Vec::new()),
        Err(res) => return res,
    };
    let mut lines = Vec::new();
    let mut skus = Vec::new();
    for i in 1..=PREVIEW_LINES {
        let sku = values.one(&format!("pv_sku_{i}"));
        if sku.is_empty() {
            continue;
        }
        let groups: Vec<&str> = values.one(&format!("pv_groups_{i}")).split(',').map(str::trim).filter(|g| !g.is_empty()).collect();
        let qty = Some(values.one(&format!("pv_qty_{i}"))).filter(|q| !q.is_empty()).unwrap_or("1");
        let amount = values.one(&format!("pv_amount_{i}")).replace(',', ".");
        lines.push(json!({"line": lines.len() + 1, "sku": sku, "groups": groups, "qty": qty.replace(',', "."), "amount": amount}));
        skus.push(sku.to_owned());
    }
    if lines.is_empty() {
        return fragment(None, vec![t.get("preview.no_lines").to_owned()], skus);
    }
    let mut receipt = json!({"receipt_id": "console-preview", "lines": lines});
    if !values.one("pv_card").is_empty() {
        receipt["customer"] = json!({"card": values.one("pv_card")});
    }
    let receipt: loyd_domain::receipt::ReceiptRequest = match serde_json::from_value(receipt) {
        Ok(r) => r,
        Err(e) => return fragment(None, vec![e.to_string()], skus),
    };
    let store = match values.one("pv_store") {
        "" => doc.stores.first().map(|s| s.id.to_string()).unwrap_or_default(),
        s => s.to_owned(),
    };
    match crate::admin::programs::previewed(&state, &actor, change, &store, receipt).await {
        Ok(answer) => fragment(Some(answer), Vec::new(), skus),
        Err(e) => fragment(None, form::problems_of(&e, t).into_iter().map(|p| if p.path.is_empty() { p.message } else { format!("{}: {}", p.path, p.message) }).collect(), skus),
    }
}
