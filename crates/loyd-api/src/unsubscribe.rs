//! Unsubscribe links: `/unsubscribe/{token}` from a message withdraws the customer's
//! consent to that channel, without a login — the token (the customer, the channel and
//! a MAC under the server's secret) is the proof. `GET` shows a page with one button;
//! `POST` unsubscribes, from that button or from a mail client's one-click unsubscribe
//! (RFC 8058: `List-Unsubscribe-Post`), and answers a page saying so. Nothing about the
//! customer is shown: whoever holds the link learns nothing from it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;
use crate::console::{Frame, lang_of, page};

pub fn router() -> Router<AppState> {
    Router::new().route("/unsubscribe/{token}", get(show).post(unsubscribe))
}

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    f: Frame,
    token: String,
    /// `ask`, `done` or `unknown`.
    state: &'static str,
}

pub async fn show(headers: HeaderMap, Path(token): Path<String>, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    page(StatusCode::OK, UnsubscribePage { f: Frame::new(lang), token, state: "ask" })
}

pub async fn unsubscribe(State(state): State<AppState>, headers: HeaderMap, Path(token): Path<String>, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    match state.store.unsubscribe(&token).await {
        Ok(Some(_)) => page(StatusCode::OK, UnsubscribePage { f: Frame::new(lang), token: String::new(), state: "done" }),
        Ok(None) => page(StatusCode::NOT_FOUND, UnsubscribePage { f: Frame::new(lang), token: String::new(), state: "unknown" }),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
