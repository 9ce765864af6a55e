//! Fraud alerts: open ones first, each with its severity, what its rule counted
//! against the limit, the evidence with links to the customer, the failure log or the
//! card, and a form to acknowledge or dismiss it with a note (and to block a card) —
//! through the same functions as the admin API ([`crate::admin::fraud`]).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use loyd_domain::access::Permission;
use loyd_store::FraudAlert;
use serde::Deserialize;

use super::failures::url_escape;
use super::{Frame, Session, allowed, checked, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::fraud::{AlertQuery, Decision, decide, page as alert_page};
use crate::i18n::Lang;

const PAGE: u32 = 30;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    /// `open` (the default), `acknowledged`, `dismissed` or `all`.
    #[serde(default)]
    state: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    severity: String,
    before: Option<i64>,
    lang: Option<String>,
}

/// One line of an alert's evidence, with a link where the console has a page for it.
struct EvidenceView {
    what: String,
    at: String,
    place: String,
    detail: String,
    link: Option<String>,
}

struct AlertView {
    id: i64,
    rule: String,
    rule_label: String,
    severity: String,
    severity_label: String,
    state: String,
    state_label: String,
    /// Who or what it is about, with a link.
    subject: String,
    subject_link: Option<String>,
    period: String,
    figure: i64,
    threshold: String,
    at: String,
    evidence: Vec<EvidenceView>,
    note: String,
    decided: String,
    blocked_card: String,
    /// Cards the decision form offers to block.
    cards: Vec<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/fraud.html")]
struct FraudPage {
    f: Frame,
    s: Session,
    state: String,
    rule: String,
    severity: String,
    rules: Vec<(&'static str, String)>,
    states: Vec<(&'static str, String)>,
    severities: Vec<(&'static str, String)>,
    alerts: Vec<AlertView>,
    older: Option<String>,
    can_decide: bool,
    can_block: bool,
    error: Option<String>,
}

fn when(lang: Lang, at: jiff::Timestamp) -> String {
    lang.moment(at, "%H:%M")
}

fn view(lang: Lang, a: FraudAlert, error: Option<String>) -> AlertView {
    let t = lang.words();
    let (kind, who) = a.subject.split_once(':').unwrap_or(("", a.subject.as_str()));
    let subject_link = match kind {
        "customer" => Some(format!("/admin/customers/{who}")),
        "terminal" => who.split_once('/').map(|(s, t)| format!("/admin/failures?store={}&terminal={}", url_escape(s), url_escape(t))),
        _ => None,
    };
    let subject = format!("{} {who}", t.get(&format!("fraud.subject.{kind}")));
    let evidence = a
        .evidence
        .iter()
        .map(|e| {
            let place = [e.store.clone(), e.terminal.clone()].into_iter().flatten().collect::<Vec<_>>().join(" / ");
            let detail = match e.kind.as_str() {
                "peers" => format!("{} {}", t.get("fraud.median"), e.median.clone().unwrap_or_default()),
                "refusal" => format!("{} {}", e.code.clone().unwrap_or_default(), e.card.clone().unwrap_or_default()),
                "card" => e.card.clone().unwrap_or_default(),
                _ => e.receipt.clone().unwrap_or_default(),
            };
            let link = match (e.kind.as_str(), e.customer) {
                ("refusal", _) => Some(format!(
                    "/admin/failures?store={}&terminal={}",
                    url_escape(e.store.as_deref().unwrap_or_default()),
                    url_escape(e.terminal.as_deref().unwrap_or_default())
                )),
                (_, Some(c)) => Some(format!("/admin/customers/{c}")),
                _ => None,
            };
            EvidenceView {
                what: t.get(&format!("fraud.evidence.{}", e.kind)).to_owned(),
                at: e.at.map(|at| when(lang, at)).unwrap_or_default(),
                place,
                detail,
                link,
            }
        })
        .collect();
    let mut cards: Vec<String> = a.card.iter().cloned().chain(a.evidence.iter().filter_map(|e| e.card.clone()).filter(|_| a.rule == "cards_per_phone")).collect();
    cards.dedup();
    AlertView {
        id: a.id,
        rule_label: t.get(&format!("fraud.rule.{}", a.rule)).to_owned(),
        rule: a.rule,
        severity_label: t.get(&format!("fraud.severity.{}", a.severity)).to_owned(),
        severity: a.severity,
        state_label: t.get(&format!("fraud.state.{}", a.state)).to_owned(),
        state: a.state,
        subject,
        subject_link,
        period: a.period,
        figure: a.figure,
        threshold: a.threshold,
        at: when(lang, a.at),
        evidence,
        note: a.note.unwrap_or_default(),
        decided: match (a.decided_by, a.decided_at) {
            (Some(by), Some(at)) => format!("{} · {}", by.trim_start_matches("user:"), when(lang, at)),
            _ => String::new(),
        },
        blocked_card: a.blocked_card.unwrap_or_default(),
        cards,
        error,
    }
}

/// The page, with `refused` (an alert and why its decision was refused) shown at that
/// alert.
async fn show(state: &AppState, headers: &HeaderMap, q: Filters, refused: Option<(i64, String)>) -> Response {
    let lang = lang_of(headers, q.lang.as_deref());
    let (actor, secret) = match allowed(state, headers, lang, Permission::FraudRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let wanted = match q.state.trim() {
        "" => Some("open".to_owned()),
        "all" => None,
        s => Some(s.to_owned()),
    };
    let query = AlertQuery { state: wanted, rule: filled(&q.rule), severity: filled(&q.severity), before: q.before, limit: Some(PAGE) };
    let (alerts, older, error) = match alert_page(state, query).await {
        Ok(p) => {
            let alerts = p
                .alerts
                .into_iter()
                .map(|a| {
                    let error = refused.as_ref().filter(|(id, _)| *id == a.id).map(|(_, e)| e.clone());
                    view(lang, a, error)
                })
                .collect();
            let keep = |k: &str, v: &str| if v.trim().is_empty() { String::new() } else { format!("&{k}={}", url_escape(v.trim())) };
            let older = p.next_before.map(|b| format!("/admin/fraud?before={b}{}{}{}", keep("state", &q.state), keep("rule", &q.rule), keep("severity", &q.severity)));
            (alerts, older, None)
        }
        Err(e) => (Vec::new(), None, Some(super::refusal(t, &e))),
    };
    let status = if error.is_some() || refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let s = Session::of(&actor.principal, &secret, t, "/admin/fraud");
    let rules = loyd_domain::program::FraudRule::ALL.iter().map(|r| (r.name(), t.get(&format!("fraud.rule.{}", r.name())).to_owned())).collect();
    let view = FraudPage {
        f: Frame::new(lang),
        s,
        state: if q.state.trim().is_empty() { "open".into() } else { q.state.trim().to_owned() },
        rule: q.rule.trim().to_owned(),
        severity: q.severity.trim().to_owned(),
        rules,
        states: ["open", "acknowledged", "dismissed", "all"].into_iter().map(|k| (k, t.get(&format!("fraud.state.{k}")).to_owned())).collect(),
        severities: ["high", "medium", "low"].into_iter().map(|k| (k, t.get(&format!("fraud.severity.{k}")).to_owned())).collect(),
        alerts,
        older,
        can_decide: actor.can(Permission::FraudManage),
        can_block: actor.can(Permission::CardsManage),
        error,
    };
    let mut res = render(status, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Filters>) -> Response {
    show(&state, &headers, q, None).await
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    block_card: String,
    #[serde(default)]
    csrf: String,
}

/// Records a decision and goes back to the open alerts; a refused one is shown at its
/// alert with what to fix.
pub async fn decision(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Form<DecisionForm>) -> Response {
    let (lang, actor, _) = match checked(&state, &headers, &form.csrf, Permission::FraudManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let d = Decision { state: form.decision.clone(), note: filled(&form.note), block_card: filled(&form.block_card) };
    match decide(&state, &actor, id, d).await {
        Ok(_) => Redirect::to("/admin/fraud").into_response(),
        Err(e) => {
            let said = super::refusal(lang.words(), &e);
            show(&state, &headers, Filters { state: "all".into(), ..Filters::default() }, Some((id, said))).await
        }
    }
}
