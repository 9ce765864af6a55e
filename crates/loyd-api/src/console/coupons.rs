//! Coupon series: what each gives and how long it is valid, and, for unique series,
//! codes generated and downloaded at once as a CSV file — through the same functions as
//! the admin API ([`crate::admin::programs`], [`crate::admin::coupons`]). The codes are
//! shown only in that download.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use loyd_domain::access::Permission;
use serde_json::Value;

use crate::i18n::{Catalogue, Lang};
use super::{BatchForm, Frame, LangQuery, Refused, Session, allowed, checked, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::coupons::{coupons_csv, generate};
use crate::admin::programs::objects;
use crate::auth::Actor;

pub struct SeriesRow {
    pub id: String,
    pub name: String,
    pub unique: bool,
    /// A promo series' one code.
    pub code: String,
    pub gives: String,
    pub valid: String,
    pub limits: String,
    /// A refused generation: what to fix.
    pub error: Option<String>,
    pub count: String,
}

#[derive(Template)]
#[template(path = "console/coupons.html")]
struct CouponsPage {
    f: Frame,
    s: Session,
    series: Vec<SeriesRow>,
    can_generate: bool,
    /// This page's batch id ([`super::BatchForm`]).
    operation: String,
}

fn text(o: &Value, k: &str) -> String {
    match o.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn row(o: &Value, t: &Catalogue) -> SeriesRow {
    let gives = match (text(o, "percent"), text(o, "amount")) {
        (p, _) if !p.is_empty() => format!("{p} %"),
        (_, a) if !a.is_empty() => a,
        _ => t.get("coupons.activates").to_owned(),
    };
    let valid = match (text(o, "valid_from"), text(o, "valid_until"), text(o, "validity_days")) {
        (_, _, d) if !d.is_empty() => format!("{d} {}", t.get("coupons.days_from_issue")),
        (a, b, _) if !a.is_empty() || !b.is_empty() => format!("{} – {}", a.chars().take(10).collect::<String>(), b.chars().take(10).collect::<String>()),
        _ => t.get("coupons.no_end").to_owned(),
    };
    let limits = [("uses_per_customer", "coupons.per_customer"), ("uses_per_code", "coupons.per_code"), ("uses_total", "coupons.total")]
        .into_iter()
        .filter_map(|(k, label)| Some(text(o, k)).filter(|v| !v.is_empty()).map(|v| format!("{} {v}", t.get(label))))
        .collect::<Vec<_>>()
        .join(", ");
    SeriesRow {
        id: text(o, "id"),
        name: text(o, "name"),
        unique: text(o, "kind") == "unique",
        // A promo series without a code of its own is used by its id.
        code: Some(text(o, "code")).filter(|c| !c.is_empty()).unwrap_or_else(|| text(o, "id")).to_uppercase(),
        gives,
        valid,
        limits,
        error: None,
        count: String::new(),
    }
}

async fn show(state: &AppState, lang: Lang, actor: &Actor, secret: &str, refused: Option<Refused>) -> Response {
    let t = lang.words();
    let found = match objects(state, "coupon_series").await {
        Ok(o) => o.objects,
        Err(e) => {
            tracing::error!(error = %e.message, "the coupons page could not be read");
            return (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response();
        }
    };
    let series = found
        .iter()
        .map(|o| {
            let mut r = row(o, t);
            (r.count, r.error) = Refused::at(refused.as_ref(), &r.id);
            r
        })
        .collect();
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = CouponsPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, secret, t, "/admin/coupons"),
        series,
        can_generate: actor.can(Permission::CouponsIssue),
        operation: super::random_token(),
    };
    render(status, page)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ConfigRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let mut res = show(&state, lang, &actor, &secret, None).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

/// Generates codes of a unique series and answers them as a CSV file to download; a
/// refusal is said next to the series' form.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Path(series): Path<String>, Form(form): Form<BatchForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CouponsIssue).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let refused = |error: String| show(&state, lang, &actor, &secret, Some(Refused { series: series.clone(), count: form.count.clone(), error }));
    let Ok(count) = form.count.trim().parse::<u32>() else { return refused(t.get("coupons.count_invalid").to_owned()).await };
    match generate(&state, &actor, &series, count, None, Refused::operation(&form)).await {
        Ok(coupons) => coupons_csv(&series, &coupons),
        Err(e) if e.code == crate::error::ErrorCode::ValidationFailed => refused(format!("{} ({})", t.get("coupons.count_invalid"), super::refusal(t, &e))).await,
        Err(e) => refused(Refused::say(t, e)).await,
    }
}
