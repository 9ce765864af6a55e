//! One receipt, opened from the transactions report: what was sold and what it was
//! answered line by line, the ledger transfers it made, and the returns and the
//! cancellation made of it with theirs — through the same function as the admin API
//! ([`crate::admin::receipts`]).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use loyd_domain::access::Permission;
use serde::Deserialize;

use super::{Frame, Session, allowed, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::receipts::{ReceiptOut, TransferOut, receipt_of};

struct Line {
    line: String,
    sku: String,
    qty: String,
    amount: String,
    discount: String,
    redeemed: String,
    paid: String,
    campaigns: String,
}

struct Operation {
    kind: String,
    operation: String,
    at: String,
    refund: String,
    transfers: Vec<TransferOut>,
}

#[derive(Template)]
#[template(path = "console/receipt.html")]
struct ReceiptPage {
    f: Frame,
    s: Session,
    r: Option<ReceiptOut>,
    at: String,
    status: String,
    lines: Vec<Line>,
    operations: Vec<Operation>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The receipt's lines: what the till sent beside what it was answered.
fn lines(r: &ReceiptOut) -> Vec<Line> {
    let sent = r.request["lines"].as_array().cloned().unwrap_or_default();
    let answered = r.response["lines"].as_array().cloned().unwrap_or_default();
    answered
        .iter()
        .map(|a| {
            let sold = sent.iter().find(|s| s["line"] == a["line"]).cloned().unwrap_or_default();
            let campaigns: Vec<String> = a["applied"].as_array().into_iter().flatten().map(|x| text(&x["campaign"])).collect();
            Line {
                line: text(&a["line"]),
                sku: text(&sold["sku"]),
                qty: text(&sold["qty"]),
                amount: text(&a["amount"]),
                discount: text(&a["discount"]),
                redeemed: text(&a["redeemed_value"]),
                paid: text(&a["final_amount"]),
                campaigns: campaigns.join(", "),
            }
        })
        .collect()
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::ReceiptsRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    let when = |at: jiff::Timestamp| lang.moment(at, "%H:%M:%S");
    let (r, error, status) = match receipt_of(&state, &actor, id).await {
        Ok(r) => (Some(r), None, StatusCode::OK),
        Err(e) => (None, Some(super::refusal(t, &e)), e.status()),
    };
    let view = ReceiptPage {
        f: Frame::new(lang),
        s: Session::of(&actor.principal, &secret, t, "/admin/reports"),
        at: r.as_ref().map(|r| when(r.at)).unwrap_or_default(),
        status: r.as_ref().map(|r| t.get(&format!("receipt.status.{}", r.status)).to_owned()).unwrap_or_default(),
        lines: r.as_ref().map(lines).unwrap_or_default(),
        operations: r
            .as_ref()
            .map(|r| {
                r.operations
                    .iter()
                    .map(|o| Operation {
                        kind: t.get(&format!("receipt.kind.{}", o.kind)).to_owned(),
                        operation: o.operation.clone(),
                        at: when(o.at),
                        refund: o.refund.clone(),
                        transfers: o.transfers.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        r,
        error,
    };
    let mut res = render(status, view);
    remember_lang(&mut res, q.lang.as_deref());
    res
}
