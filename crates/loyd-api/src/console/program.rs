//! The program's other objects — stores, currencies, card series, counters, tiers,
//! segments, coupon series, webhooks, messages — each listed, shown and edited as a form of its fields,
//! created and removed, with its history; and the whole program exported as a file or
//! imported from one with a dry run first. One description per section drives the
//! generic forms of [`super::form`]; everything goes through the admin API's functions
//! ([`crate::admin::programs`]).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::tz::TimeZone;
use loyd_domain::access::Permission;
use loyd_domain::config::{ConfigDocument, Mode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::form::{self, Field, Kind, Problem, Rows, Spec, Values, spec};
use crate::i18n::{Catalogue, Lang};
use super::{Frame, Session, allowed, checked, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::programs::{ObjectVersion, history, object, objects, put};
use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};

/// How one section is edited.
struct Shape {
    section: &'static str,
    title: &'static str,
    help: &'static str,
    fields: &'static [Spec],
    rows: Option<Rows>,
    /// A map of objects (a message's `texts` by language) whose entries a form leaves
    /// blank are removed: a language not written is no text at all.
    blank_entries: Option<&'static str>,
}

const LEVELS: [Spec; 2] = [spec("levels[].id", Kind::Text, "field.level_id", None), spec("levels[].from", Kind::Decimal, "field.level_from", Some("field.level_from_help"))];

/// The fields of a message's text in one language.
macro_rules! text_fields {
    ($($lang:literal),*) => {
        [$(
            spec(concat!("texts.", $lang, ".subject"), Kind::Text, concat!("field.subject_", $lang), None),
            spec(concat!("texts.", $lang, ".body"), Kind::Paragraph, concat!("field.body_", $lang), Some("field.body_help")),
        )*]
    };
}

const MESSAGE_FIELDS: [Spec; 16] = {
    let texts = text_fields!("en", "ru", "lv", "et");
    let head = [
        spec("event", Kind::Select, "field.event", None),
        spec("channel", Kind::Select, "field.channel", None),
        spec("transactional", Kind::Flag, "field.transactional", Some("field.transactional_help")),
        spec("paused", Kind::Flag, "field.paused", Some("field.paused_help")),
        spec("days_before", Kind::Int, "field.days_before", Some("field.days_before_help")),
        spec("min_amount", Kind::Decimal, "field.min_amount", Some("field.min_amount_help")),
        spec("balance_below", Kind::Decimal, "field.balance_below", Some("field.balance_below_help")),
        spec("direction", Kind::Select, "field.direction", Some("field.direction_help")),
    ];
    [
        head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7], texts[0], texts[1], texts[2], texts[3], texts[4], texts[5], texts[6], texts[7],
    ]
};

/// The fields of what the portal shows in each language: a title and a paragraph.
macro_rules! portal_text_fields {
    ($($lang:literal),*) => {
        [$(
            spec(concat!("texts.", $lang, ".title"), Kind::Text, concat!("field.title_", $lang), None),
            spec(concat!("texts.", $lang, ".body"), Kind::Paragraph, concat!("field.text_", $lang), None),
        )*]
    };
}

const PORTAL_TEXTS: [Spec; 8] = portal_text_fields!("en", "ru", "lv", "et");

const PORTAL_FIELDS: [Spec; 10] = {
    let t = PORTAL_TEXTS;
    [
        spec("join", Kind::Flag, "field.portal_join", Some("field.portal_join_help")),
        spec("card_series", Kind::Select, "field.portal_card_series", Some("field.portal_card_series_help")),
        t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7],
    ]
};

/// A profile field the portal asks for, as a row: its name, values and label by language.
const PROFILE_FIELD_ROW: [Spec; 6] = [
    spec("fields[].key", Kind::Text, "field.profile_key", Some("field.profile_key_help")),
    spec("fields[].values", Kind::List, "field.profile_values", Some("field.profile_values_help")),
    spec("fields[].texts.en.title", Kind::Text, "field.title_en", None),
    spec("fields[].texts.ru.title", Kind::Text, "field.title_ru", None),
    spec("fields[].texts.lv.title", Kind::Text, "field.title_lv", None),
    spec("fields[].texts.et.title", Kind::Text, "field.title_et", None),
];

const CATALOGUE_FIELDS: [Spec; 15] = {
    let t = PORTAL_TEXTS;
    [
        spec("currency", Kind::Select, "field.currency", None),
        spec("cost", Kind::Decimal, "field.cost", Some("field.cost_help")),
        spec("coupon_series", Kind::Select, "field.reward_series", Some("field.reward_series_help")),
        spec("segment", Kind::Select, "field.portal_segment", Some("field.portal_segment_help")),
        spec("per_customer", Kind::Int, "field.per_customer", None),
        spec("stock", Kind::Int, "field.stock", Some("field.stock_help")),
        spec("paused", Kind::Flag, "field.paused", None),
        t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7],
    ]
};

const OFFER_FIELDS: [Spec; 13] = {
    let t = PORTAL_TEXTS;
    [
        spec("segment", Kind::Select, "field.portal_segment", Some("field.portal_segment_help")),
        spec("valid_from", Kind::Moment, "campaign.from", None),
        spec("valid_until", Kind::Moment, "campaign.until", None),
        spec("link", Kind::Text, "field.link", Some("field.link_help")),
        spec("paused", Kind::Flag, "field.paused", None),
        t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7],
    ]
};

/// A channel's pace and its cap per customer (every channel's section has them).
macro_rules! limits {
    () => {
        [
            spec("rate_per_minute", Kind::Int, "field.rate_per_minute", Some("field.rate_per_minute_help")),
            spec("customer_limit.count", Kind::Int, "field.limit_count", Some("field.limit_count_help")),
            spec("customer_limit.days", Kind::Int, "field.limit_days", None),
        ]
    };
}

const EMAIL_FIELDS: [Spec; 9] = {
    let l = limits!();
    [
        spec("host", Kind::Text, "field.host", None),
        spec("port", Kind::Int, "field.port", Some("field.port_help")),
        spec("security", Kind::Select, "field.security", None),
        spec("from", Kind::Text, "field.from", Some("field.from_help")),
        spec("username", Kind::Text, "field.username", Some("field.username_help")),
        l[0],
        l[1],
        l[2],
        spec("ca_certificate", Kind::Paragraph, "field.ca_certificate", Some("field.ca_certificate_help")),
    ]
};

/// A gateway's fields (SMS, Viber, WhatsApp).
const GATEWAY_FIELDS: [Spec; 9] = {
    let l = limits!();
    [
        spec("url", Kind::Text, "field.url", None),
        spec("method", Kind::Select, "field.method", None),
        spec("content_type", Kind::Text, "field.content_type", None),
        spec("body", Kind::Paragraph, "field.gateway_body", Some("field.gateway_body_help")),
        spec("auth_header", Kind::Text, "field.auth_header", Some("field.auth_header_help")),
        spec("success_contains", Kind::Text, "field.success_contains", Some("field.success_contains_help")),
        l[0],
        l[1],
        l[2],
    ]
};

const TELEGRAM_FIELDS: [Spec; 5] = {
    let l = limits!();
    [spec("bot", Kind::Text, "field.bot", Some("field.bot_help")), spec("api_url", Kind::Text, "field.api_url", Some("field.api_url_help")), l[0], l[1], l[2]]
};

/// A channel's section: one object, named by the section.
const fn channel(section: &'static str, title: &'static str, help: &'static str, fields: &'static [Spec]) -> Shape {
    Shape { section, title, help, fields, rows: None, blank_entries: None }
}

const SHAPES: [Shape; 18] = [
    Shape {
        section: "stores",
        title: "program.stores",
        help: "program.stores_help",
        fields: &[
            spec("name", Kind::Text, "field.name", None),
            spec("format", Kind::Text, "field.format", Some("field.format_help")),
            spec("timezone", Kind::Text, "field.timezone", Some("field.timezone_help")),
            spec("currency", Kind::Select, "field.currency", None),
            spec("partner", Kind::Text, "field.partner", None),
            spec("offline_days", Kind::Int, "field.offline_days", Some("field.offline_days_help")),
            spec("address", Kind::Text, "field.address", Some("field.address_help")),
            spec("hours", Kind::Text, "field.hours", Some("field.hours_help")),
        ],
        rows: None,
        blank_entries: None,
    },
    Shape {
        section: "currencies",
        title: "program.currencies",
        help: "program.currencies_help",
        fields: &[
            spec("kind", Kind::Select, "field.kind", None),
            spec("name", Kind::Text, "field.name", None),
            spec("scale", Kind::Int, "field.scale", Some("field.scale_help")),
            spec("value", Kind::Decimal, "field.value", Some("field.value_help")),
            spec("denominated_in", Kind::Select, "field.denominated_in", None),
            spec("rounding", Kind::Select, "field.rounding", None),
            spec("activation_days", Kind::Int, "field.activation_days", None),
            spec("inactivity_days", Kind::Int, "field.inactivity_days", None),
        ],
        rows: None,
        blank_entries: None,
    },
    Shape {
        section: "card_series",
        title: "program.card_series",
        help: "program.card_series_help",
        fields: &[
            spec("kind", Kind::Select, "field.kind", None),
            spec("name", Kind::Text, "field.name", None),
            spec("prefix", Kind::Text, "field.prefix", None),
            spec("length", Kind::Int, "field.length", None),
            spec("numbering", Kind::Select, "field.numbering", None),
            spec("check_digit", Kind::Select, "field.check_digit", None),
            spec("pin", Kind::Flag, "field.pin", None),
            spec("validity_days", Kind::Int, "field.validity_days", None),
            spec("currency", Kind::Select, "field.currency", Some("field.series_currency_help")),
            spec("amount_min", Kind::Decimal, "field.amount_min", None),
            spec("amount_max", Kind::Decimal, "field.amount_max", None),
            spec("nominals", Kind::List, "field.nominals", None),
            spec("single_use", Kind::Flag, "field.single_use", None),
            spec("visits", Kind::Int, "field.visits", None),
            spec("service", Kind::Text, "field.service", None),
            spec("credit_limit", Kind::Decimal, "field.credit_limit", None),
        ],
        rows: None,
        blank_entries: None,
    },
    Shape {
        section: "counters",
        title: "program.counters",
        help: "program.counters_help",
        fields: &[spec("measure", Kind::Select, "field.measure", None), spec("window_days", Kind::Int, "field.window_days", None)],
        rows: None,
        blank_entries: None,
    },
    Shape {
        section: "tiers",
        title: "program.tiers",
        help: "program.tiers_help",
        fields: &[spec("counter", Kind::Select, "field.counter", None)],
        rows: Some(Rows { list: "levels", specs: &LEVELS }),
        blank_entries: None,
    },
    Shape {
        section: "segments",
        title: "program.segments",
        help: "program.segments_help",
        fields: &[spec("name", Kind::Text, "field.name", None), spec("condition", Kind::Text, "field.condition", Some("field.condition_help"))],
        rows: None,
        blank_entries: None,
    },
    Shape {
        section: "coupon_series",
        title: "program.coupon_series",
        help: "program.coupon_series_help",
        fields: &[
            spec("kind", Kind::Select, "field.kind", None),
            spec("name", Kind::Text, "field.name", None),
            spec("code", Kind::Text, "field.code", Some("field.code_help")),
            spec("percent", Kind::Decimal, "reward.percent", None),
            spec("amount", Kind::Decimal, "reward.amount", None),
            spec("groups", Kind::List, "reward.groups", Some("reward.goods_help")),
            spec("skus", Kind::List, "reward.skus", None),
            spec("max_share", Kind::Decimal, "field.max_share", Some("campaign.share_help")),
            spec("uses_per_customer", Kind::Int, "field.uses_per_customer", None),
            spec("uses_per_code", Kind::Int, "field.uses_per_code", None),
            spec("uses_total", Kind::Int, "field.uses_total", None),
            spec("valid_from", Kind::Moment, "campaign.from", None),
            spec("valid_until", Kind::Moment, "campaign.until", None),
            spec("validity_days", Kind::Int, "field.validity_days", None),
            spec("customers_only", Kind::Flag, "campaign.customers_only", None),
        ],
        rows: None,
        blank_entries: None,
    },
    Shape {
        section: "webhooks",
        title: "program.webhooks",
        help: "program.webhooks_help",
        fields: &[
            spec("url", Kind::Text, "field.url", Some("field.url_help")),
            spec("events", Kind::List, "field.events", Some("field.events_help")),
            spec("paused", Kind::Flag, "field.paused", Some("field.paused_help")),
        ],
        rows: None,
        blank_entries: None,
    },
    Shape {
        section: "messages",
        title: "program.messages",
        help: "program.messages_help",
        fields: &MESSAGE_FIELDS,
        rows: None,
        blank_entries: Some("texts"),
    },
    Shape { section: "catalogue", title: "program.catalogue", help: "program.catalogue_help", fields: &CATALOGUE_FIELDS, rows: None, blank_entries: Some("texts") },
    Shape { section: "offers", title: "program.offers", help: "program.offers_help", fields: &OFFER_FIELDS, rows: None, blank_entries: Some("texts") },
    channel("email", "program.email", "program.email_help", &EMAIL_FIELDS),
    channel("sms", "program.sms", "program.gateway_help", &GATEWAY_FIELDS),
    channel("viber", "program.viber", "program.gateway_help", &GATEWAY_FIELDS),
    channel("whatsapp", "program.whatsapp", "program.gateway_help", &GATEWAY_FIELDS),
    channel("telegram", "program.telegram", "program.telegram_help", &TELEGRAM_FIELDS),
    Shape {
        section: "portal",
        title: "program.portal",
        help: "program.portal_help",
        fields: &PORTAL_FIELDS,
        rows: Some(Rows { list: "fields", specs: &PROFILE_FIELD_ROW }),
        blank_entries: Some("texts"),
    },
    channel(
        "retention",
        "program.retention",
        "program.retention_help",
        &[
            spec("inactive_days", Kind::Int, "field.inactive_days", Some("field.inactive_days_help")),
            spec("messages_days", Kind::Int, "field.messages_days", Some("field.messages_days_help")),
        ],
    ),
];

fn shape(section: &str) -> Option<&'static Shape> {
    SHAPES.iter().find(|s| s.section == section)
}

/// The field naming an object of a section (`code` for currencies, else `id`); `""`
/// for a channel's section, one object named by the section.
fn key_of(section: &str) -> &'static str {
    loyd_domain::config::SECTIONS.iter().find(|(s, _)| *s == section).map_or("id", |(_, k)| *k)
}

/// The options of a select field, from fixed words or the configuration.
fn choices(section: &str, field: &str, doc: &ConfigDocument) -> Vec<(String, String)> {
    let words = |w: &[&str]| w.iter().map(|x| ((*x).to_owned(), (*x).to_owned())).collect::<Vec<_>>();
    let none = || (String::new(), "—".to_owned());
    let currencies = || std::iter::once(none()).chain(doc.currencies.iter().map(|c| (c.code.to_string(), c.code.to_string()))).collect();
    match (section, field) {
        ("currencies", "kind") => words(&["points", "money", "counter"]),
        ("card_series", "kind") => words(&["loyalty", "gift", "pass", "credit"]),
        ("coupon_series", "kind") => words(&["promo", "unique"]),
        ("currencies", "rounding") => std::iter::once(none()).chain(words(&["down", "half_up", "half_even", "up"])).collect(),
        ("card_series", "numbering") => std::iter::once(none()).chain(words(&["sequential", "random"])).collect(),
        ("card_series", "check_digit") => std::iter::once(none()).chain(words(&["luhn", "none"])).collect(),
        ("counters", "measure") => words(&["sum", "count", "visits"]),
        ("tiers", "counter") => doc.counters.iter().map(|c| (c.id.to_string(), c.id.to_string())).collect(),
        ("messages", "event") => words(&loyd_domain::events::EventKind::subscribable().collect::<Vec<_>>()),
        ("messages", "channel") => words(&loyd_domain::messages::Channel::ALL.map(loyd_domain::messages::Channel::name)),
        ("messages", "direction") => std::iter::once(none()).chain(words(&["up", "down"])).collect(),
        ("email", "security") => words(&["starttls", "tls", "none"]),
        ("portal", "card_series") => std::iter::once(none())
            .chain(doc.card_series.iter().filter(|s| s.kind == loyd_domain::program::CardKind::Loyalty).map(|s| (s.id.to_string(), s.id.to_string())))
            .collect(),
        ("catalogue", "currency") => doc.currencies.iter().filter(|c| c.kind == loyd_domain::program::CurrencyKind::Points).map(|c| (c.code.to_string(), c.code.to_string())).collect(),
        ("catalogue", "coupon_series") => doc
            .coupon_series
            .iter()
            .filter(|s| s.kind == loyd_domain::program::CouponKind::Unique)
            .map(|s| (s.id.to_string(), s.id.to_string()))
            .collect(),
        // Segments the portal can read membership of: those the segments job lists,
        // and the RFM groups.
        ("catalogue" | "offers", "segment") => {
            let own = doc.segments.iter().filter(|s| loyd_domain::segments::job_evaluable(&s.condition)).map(|s| (s.id.to_string(), s.name.clone().unwrap_or_else(|| s.id.to_string())));
            let rfm = loyd_domain::segments::Group::ALL.into_iter().map(|g| (loyd_domain::segments::rfm_segment(g), format!("RFM: {}", g.name())));
            std::iter::once((String::new(), "—".to_owned())).chain(own).chain(rfm).collect()
        }
        ("sms" | "viber" | "whatsapp", "method") => std::iter::once(none()).chain(words(&["POST", "PUT"])).collect(),
        (_, "currency" | "denominated_in") => currencies(),
        _ => Vec::new(),
    }
}

/// The zone times are typed in: the first store's.
fn zone_of(doc: &ConfigDocument) -> TimeZone {
    doc.stores.first().map_or(TimeZone::UTC, |s| s.timezone.zone())
}

fn unavailable(e: &ApiError) -> Response {
    tracing::error!(error = %e.message, "a program page could not be read");
    (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
}

fn not_found(t: &Catalogue) -> Response {
    (StatusCode::NOT_FOUND, Html(t.get("program.not_found").to_owned())).into_response()
}

// ---- the index: sections, export, import ------------------------------------------------

pub struct SectionLink {
    pub href: String,
    pub title: &'static str,
    pub help: &'static str,
    pub count: usize,
}

#[derive(Template)]
#[template(path = "console/program.html")]
struct IndexPage {
    f: Frame,
    s: Session,
    sections: Vec<SectionLink>,
    version: Option<i64>,
    can_write: bool,
    /// The program file pasted for import.
    text: String,
    /// The dry run's plan, one step per line; `None` before one.
    plan: Option<Vec<String>>,
    /// What is wrong with the file.
    problems: Vec<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct IndexQuery {
    lang: Option<String>,
    /// The version an import made (0: nothing changed).
    imported: Option<i64>,
}

/// What the import form shows: the file pasted, its plan or its problems.
#[derive(Default)]
struct Import {
    text: String,
    plan: Option<Vec<String>>,
    problems: Vec<String>,
}

async fn index_page(state: &AppState, lang: Lang, actor: &Actor, secret: &str, import: Import, notice: Option<String>) -> Response {
    let Import { text, plan, problems } = import;
    let t = lang.words();
    let (doc, version) = match async { Ok::<_, ApiError>((state.store.config_snapshot().await?, state.store.config_version().await?)) }.await {
        Ok(x) => x,
        Err(e) => return unavailable(&e),
    };
    let mut sections: Vec<SectionLink> = SHAPES
        .iter()
        .map(|s| SectionLink {
            href: format!("/admin/program/{}", s.section),
            title: t.get(s.title),
            help: t.get(s.help),
            count: doc.objects(s.section).map_or(0, |o| o.len()),
        })
        .collect();
    sections.insert(4, SectionLink { href: "/admin/campaigns".into(), title: t.get("nav.campaigns"), help: t.get("program.campaigns_help"), count: doc.campaigns.len() });
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = IndexPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, secret, t, "/admin/program"),
        sections,
        version,
        can_write: actor.can(Permission::ConfigWrite),
        text,
        plan,
        problems,
        notice,
    };
    render(status, page)
}

pub async fn index(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<IndexQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let notice = q.imported.map(|v| if v > 0 { format!("{} {v}.", t.get("campaign.saved")) } else { t.get("campaign.unchanged").to_owned() });
    let mut res = index_page(&state, lang, &actor, &secret, Import::default(), notice).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// The program in force as a file to download, as `loyd config export` writes it.
pub async fn export(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers, None);
    if let Err(res) = allowed(&state, &headers, lang, Permission::ConfigRead).await {
        return res;
    }
    let text = match crate::admin::programs::exported(&state, None).await {
        Ok(t) => t,
        Err(e) => return unavailable(&e),
    };
    (
        [(header::CONTENT_TYPE, "application/toml; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"program.toml\"")],
        text,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    text: String,
    /// `plan` (a dry run) or `apply`.
    #[serde(default)]
    step: String,
    /// Remove what the file does not name.
    #[serde(default)]
    prune: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Imports a program file: first its plan (nothing changed), then, asked again, applied.
pub async fn import(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<ImportForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let mode = if form.prune.is_some() { Mode::Replace } else { Mode::Merge };
    let dry_run = form.step != "apply";
    match crate::admin::programs::imported(&state, &actor, &form.text, mode, dry_run).await {
        Ok(applied) if dry_run => {
            let mut plan: Vec<String> = applied.steps.iter().map(|s| s.to_string()).collect();
            if plan.is_empty() {
                plan.push(t.get("program.no_changes").to_owned());
            }
            index_page(&state, lang, &actor, &secret, Import { text: form.text, plan: Some(plan), problems: Vec::new() }, None).await
        }
        Ok(applied) => Redirect::to(&format!("/admin/program?imported={}", applied.version.unwrap_or(0))).into_response(),
        Err(e) => {
            // Each problem at its line of the file, where the file says where.
            let listed = e.details.as_ref().and_then(|d| d.get("problems")).and_then(Value::as_array).cloned().unwrap_or_default();
            let mut problems: Vec<String> = listed
                .iter()
                .map(|p| {
                    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
                    let at = match (p.get("line").and_then(Value::as_u64), p.get("column").and_then(Value::as_u64)) {
                        (Some(l), Some(c)) => format!("{} {l}:{c}: ", t.get("program.line")),
                        _ => String::new(),
                    };
                    let path = if s("path").is_empty() { String::new() } else { format!("{}: ", s("path")) };
                    format!("{at}{path}{}", form::message_of(p, t))
                })
                .collect();
            if problems.is_empty() {
                problems.push(super::refusal(t, &e));
            }
            index_page(&state, lang, &actor, &secret, Import { text: form.text, plan: None, problems }, None).await
        }
    }
}

// ---- a section and its objects ------------------------------------------------------

pub struct ObjectRow {
    pub id: String,
    pub name: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "console/program_list.html")]
struct ListPage {
    f: Frame,
    s: Session,
    section: &'static str,
    title: &'static str,
    help: &'static str,
    rows: Vec<ObjectRow>,
    /// One object named by the section (a channel's): made once, then edited.
    single: bool,
    can_write: bool,
}

/// A short line of an object's fields that say what it is.
fn summary(o: &Value, shape: &Shape) -> String {
    shape
        .fields
        .iter()
        .filter(|s| s.path != "name")
        .take(4)
        .filter_map(|s| match o.get(s.path) {
            Some(Value::String(v)) if !v.is_empty() => Some(format!("{} {v}", s.path)),
            Some(Value::Number(n)) => Some(format!("{} {n}", s.path)),
            Some(Value::Bool(true)) => Some(s.path.to_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, Path(section): Path<String>, Query(q): Query<super::LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let Some(shape) = shape(&section) else { return not_found(t) };
    let found = match objects(&state, shape.section).await {
        Ok(o) => o.objects,
        Err(e) => return unavailable(&e),
    };
    let key = key_of(shape.section);
    let rows = found
        .iter()
        .map(|o| ObjectRow {
            id: if key.is_empty() { shape.section.to_owned() } else { o.get(key).and_then(Value::as_str).unwrap_or_default().to_owned() },
            name: o.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            summary: summary(o, shape),
        })
        .collect();
    let page = ListPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, t, "/admin/program"),
        section: shape.section,
        title: t.get(shape.title),
        help: t.get(shape.help),
        rows,
        single: key.is_empty(),
        can_write: actor.can(Permission::ConfigWrite),
    };
    let mut res = render(StatusCode::OK, page);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

pub struct RowView {
    pub index: usize,
    pub fields: Vec<Field>,
    pub kept: String,
}

#[derive(Template)]
#[template(path = "console/program_object.html")]
struct ObjectPage {
    f: Frame,
    s: Session,
    section: &'static str,
    section_title: &'static str,
    /// `None` for an object not saved yet.
    id: Option<String>,
    /// A channel's section: no id to type.
    single: bool,
    new_id: Field,
    fields: Vec<Field>,
    rows: Vec<RowView>,
    /// The settings the form does not show, kept as they are.
    kept: String,
    problems: Vec<(String, String)>,
    notice: Option<String>,
    can_write: bool,
    history: Vec<ObjectVersion>,
    lang: Lang,
}

impl ObjectPage {
    fn plain(&self, json: &str) -> String {
        super::campaigns::plain_value(json)
    }

    fn when(&self, v: &ObjectVersion) -> String {
        super::campaigns::version_time(self.lang, v)
    }
}

/// The settings of an object the form does not show.
fn kept(object: &Value, shape: &Shape, key: &str) -> String {
    let Value::Object(m) = object else { return String::new() };
    // A field of a nested object (`texts.en.body`) shows that object.
    let shown = |k: &str| {
        k == key || k == "id" || shape.fields.iter().any(|s| s.path == k || s.path.strip_prefix(k).is_some_and(|rest| rest.starts_with('.'))) || shape.rows.is_some_and(|r| r.list == k)
    };
    m.iter().filter(|(k, v)| !shown(k) && !form::is_blank(v)).map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")
}

struct Draw<'a> {
    state: &'a AppState,
    lang: Lang,
    actor: &'a Actor,
    secret: &'a str,
    shape: &'static Shape,
}

impl Draw<'_> {
    async fn page(&self, code: StatusCode, id: Option<&str>, object: &Value, values: Values, problems: Vec<Problem>, notice: Option<String>) -> Response {
        let t = self.lang.words();
        let shape = self.shape;
        let loaded = async {
            let doc = self.state.store.config_snapshot().await?;
            let history = match id {
                Some(id) => history(self.state, (shape.section, id), 20).await?,
                None => Vec::new(),
            };
            Ok::<_, ApiError>((doc, history))
        };
        let (doc, history) = match loaded.await {
            Ok(x) => x,
            Err(e) => return unavailable(&e),
        };
        let field = |s: &Spec, i: usize| {
            let name = s.path.rsplit('.').next().unwrap_or(s.path);
            form::field(s, i, &values, &choices(shape.section, name, &doc), &problems, t)
        };
        let fields = shape.fields.iter().map(|s| field(s, 0)).collect();
        let rows = match shape.rows {
            Some(r) => (0..=r.sent(&values)).map(|i| RowView { index: i + 1, fields: r.specs.iter().map(|s| field(s, i)).collect(), kept: r.kept(object, i) }).collect(),
            None => Vec::new(),
        };
        let key = key_of(shape.section);
        let new_id = form::field(&spec(key, Kind::Text, "campaign.id", Some("program.id_help")), 0, &values, &[], &problems, t);
        let known = |path: &str| path == key || form::fields(shape.fields, shape.rows.as_ref(), shape.rows.map_or(0, |r| r.sent(&values))).iter().any(|(p, _)| p == path);
        let problems = problems
            .iter()
            .map(|p| (if known(&p.path) { form::id_of(&p.path) } else { String::new() }, if p.path.is_empty() { p.message.clone() } else { format!("{}: {}", p.path, p.message) }))
            .collect();
        let page = ObjectPage {
            f: Frame::new(self.lang),
            s: Session::of(&self.actor.principal, self.secret, t, "/admin/program"),
            section: shape.section,
            section_title: t.get(shape.title),
            id: id.map(str::to_owned),
            single: key.is_empty(),
            new_id,
            fields,
            rows,
            kept: kept(object, shape, key),
            problems,
            notice,
            can_write: self.actor.can(Permission::ConfigWrite),
            history,
            lang: self.lang,
        };
        render(code, page)
    }
}

#[derive(Debug, Deserialize)]
pub struct ObjectQuery {
    /// The version just saved (0: nothing changed).
    saved: Option<i64>,
    lang: Option<String>,
}

/// A section's shape and the staff member, or the answer to give.
async fn opened(state: &AppState, headers: &HeaderMap, lang: Lang, section: &str, needs: Permission) -> Result<(&'static Shape, Actor, String), Response> {
    let (actor, secret) = allowed(state, headers, lang, needs).await?;
    let shape = shape(section).ok_or_else(|| not_found(lang.words()))?;
    Ok((shape, actor, secret))
}

pub async fn new(State(state): State<AppState>, headers: HeaderMap, Path(section): Path<String>, Query(q): Query<ObjectQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (shape, actor, secret) = match opened(&state, &headers, lang, &section, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let draw = Draw { state: &state, lang, actor: &actor, secret: &secret, shape };
    draw.page(StatusCode::OK, None, &json!({}), Values::default(), Vec::new(), None).await
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap, Path((section, id)): Path<(String, String)>, Query(q): Query<ObjectQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (shape, actor, secret) = match opened(&state, &headers, lang, &section, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let loaded = async { Ok::<_, ApiError>((object(&state, shape.section, &id).await?.object, state.store.config_snapshot().await?)) };
    let (stored, doc) = match loaded.await {
        Ok(x) => x,
        Err(e) if e.code == ErrorCode::NotFound => return not_found(t),
        Err(e) => return unavailable(&e),
    };
    let notice = q.saved.map(|v| if v > 0 { format!("{} {v}.", t.get("campaign.saved")) } else { t.get("campaign.unchanged").to_owned() });
    let values = form::read(&stored, shape.fields, shape.rows.as_ref(), &zone_of(&doc));
    let draw = Draw { state: &state, lang, actor: &actor, secret: &secret, shape };
    let mut res = draw.page(StatusCode::OK, Some(&id), &stored, values, Vec::new(), notice).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// Saves a form: a new object (`id` from the form, refused when it exists) or the
/// changes to a stored one.
async fn save_object(state: &AppState, headers: &HeaderMap, section: &str, id: Option<String>, pairs: Vec<(String, String)>) -> Response {
    let (csrf, values) = form::split(pairs);
    let lang = lang_of(headers, None);
    let (shape, _, _) = match opened(state, headers, lang, section, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let (lang, actor, secret) = match checked(state, headers, &csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let key = key_of(shape.section);
    let draw = Draw { state, lang, actor: &actor, secret: &secret, shape };
    let is_new = id.is_none();
    let id = match id {
        Some(id) => id,
        None if key.is_empty() => shape.section.to_owned(),
        None => values.one(key).to_owned(),
    };
    let loaded = async {
        let stored = match object(state, shape.section, &id).await {
            Ok(o) => Some(o.object),
            Err(e) if e.code == ErrorCode::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok((stored, state.store.config_snapshot().await?))
    };
    let (stored, doc) = match loaded.await {
        Ok(x) => x,
        Err(e) => return unavailable(&e),
    };
    let refuse = |problems: Vec<Problem>, base: Value| {
        let values = values.clone();
        let shown = (!is_new).then(|| id.clone());
        async move { draw.page(StatusCode::UNPROCESSABLE_ENTITY, shown.as_deref(), &base, values, problems, None).await }
    };
    let base = match (is_new, stored) {
        (true, _) if id.is_empty() => return refuse(vec![Problem { path: key.into(), message: t.get("program.id_needed").into() }], json!({})).await,
        (true, Some(_)) => return refuse(vec![Problem { path: key.into(), message: t.get("program.id_taken").into() }], json!({})).await,
        (true, None) => json!({}),
        (false, Some(s)) => s,
        (false, None) => return not_found(t),
    };
    let (mut built, problems) = form::build(&base, &values, shape.fields, shape.rows.as_ref(), &[], &zone_of(&doc), t);
    if !problems.is_empty() {
        return refuse(problems, base).await;
    }
    if key.is_empty() {
        // A channel's section: a limit left blank is no limit.
        if let Value::Object(m) = &mut built {
            m.retain(|_, v| !(v.is_object() && form::is_blank(v)));
        }
    } else {
        built[key] = Value::String(id.clone());
    }
    if let Some(Value::Object(entries)) = shape.blank_entries.and_then(|m| built.get_mut(m)) {
        entries.retain(|_, v| !form::is_blank(v));
    }
    // The same map in each row (a portal field's label by language).
    if let (Some(m), Some(r)) = (shape.blank_entries, shape.rows.as_ref())
        && let Some(Value::Array(items)) = built.get_mut(r.list)
    {
        for item in items {
            if let Some(Value::Object(entries)) = item.get_mut(m) {
                entries.retain(|_, v| !form::is_blank(v));
            }
        }
    }
    match put(state, &actor, (shape.section, &id), built, false).await {
        Ok(done) => Redirect::to(&format!("/admin/program/{}/{id}?saved={}", shape.section, done.version.unwrap_or(0))).into_response(),
        Err(e) => refuse(form::problems_of(&e, t), base).await,
    }
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, Path(section): Path<String>, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    save_object(&state, &headers, &section, None, pairs).await
}

pub async fn save(State(state): State<AppState>, headers: HeaderMap, Path((section, id)): Path<(String, String)>, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    save_object(&state, &headers, &section, Some(id), pairs).await
}

/// Removes an object; refused, and said why, for one that still carries value.
pub async fn remove(State(state): State<AppState>, headers: HeaderMap, Path((section, id)): Path<(String, String)>, Form(form): Form<super::CsrfForm>) -> Response {
    let lang = lang_of(&headers, None);
    let (shape, _, _) = match opened(&state, &headers, lang, &section, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::ConfigWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    match crate::admin::programs::removed(&state, &actor, (shape.section, &id)).await {
        Ok(_) => Redirect::to(&format!("/admin/program/{}", shape.section)).into_response(),
        Err(e) => {
            let loaded = async { Ok::<_, ApiError>((object(&state, shape.section, &id).await?.object, state.store.config_snapshot().await?)) };
            let (stored, doc) = match loaded.await {
                Ok(x) => x,
                Err(e) => return unavailable(&e),
            };
            let values = form::read(&stored, shape.fields, shape.rows.as_ref(), &zone_of(&doc));
            let draw = Draw { state: &state, lang, actor: &actor, secret: &secret, shape };
            draw.page(StatusCode::CONFLICT, Some(&id), &stored, values, form::problems_of(&e, lang.words()), None).await
        }
    }
}

#[derive(Template)]
#[template(path = "console/message_preview.html")]
struct MessagePreview {
    f: Frame,
    preview: Option<crate::admin::messages::PreviewOut>,
    problems: Vec<String>,
}

/// Renders the message of the form (saved or not) for a sample customer, or the one
/// typed, with its event's sample figures: an htmx fragment. Nothing is sent or saved.
pub async fn message_preview(State(state): State<AppState>, headers: HeaderMap, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let (csrf, values) = form::split(pairs);
    let (lang, actor, _) = match checked(&state, &headers, &csrf, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let fragment = |preview, problems| render(StatusCode::OK, MessagePreview { f: Frame::new(lang), preview, problems });
    let Some(shape) = shape("messages") else { return not_found(t) };
    let (mut built, problems) = form::build(&json!({}), &values, shape.fields, None, &[], &TimeZone::UTC, t);
    if !problems.is_empty() {
        return fragment(None, problems.into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect());
    }
    if let Some(Value::Object(entries)) = built.get_mut("texts") {
        entries.retain(|_, v| !form::is_blank(v));
    }
    let text = |field: &str| built.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let customer = Some(values.one("pv_customer").trim().to_owned()).filter(|c| !c.is_empty());
    let texts = match serde_json::from_value(built.get("texts").cloned().unwrap_or_else(|| json!({}))) {
        Ok(texts) => texts,
        Err(e) => return fragment(None, vec![e.to_string()]),
    };
    let input = crate::admin::messages::PreviewIn { event: text("event"), channel: text("channel"), texts, customer };
    match crate::admin::messages::preview(&state, &actor, input).await {
        Ok(p) => fragment(Some(p), Vec::new()),
        Err(e) => fragment(None, form::problems_of(&e, t).into_iter().map(|p| if p.path.is_empty() { p.message } else { format!("{}: {}", p.path, p.message) }).collect()),
    }
}
