//! A mailing's tracking links, without a login: `/m/o/{token}` is the 1×1 image at the
//! end of a mailing's e-mail, whose loading counts it opened; `/m/c/{token}?to=URL` is
//! a link of its text written `{{ "URL" | track }}`, which counts a click (and an
//! opening) and sends the customer on to `URL`. A token is the delivery and a MAC
//! under the server's secret over it and the URL, so nobody counts another's message
//! or sends people elsewhere through this server: a token that is not ours is a 404,
//! and the answer says nothing about whom the message went to.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

pub fn router() -> Router<AppState> {
    Router::new().route("/m/o/{token}", get(opened)).route("/m/c/{token}", get(clicked))
}

fn unknown() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// Counts the opening and answers the image; never cached, so each loading asks.
pub async fn opened(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(delivery) = state.store.tracked("o", &token, "") else { return unknown() };
    if let Err(e) = state.store.mark_tracked(delivery, false).await {
        // The image is shown all the same: a reader is not told our troubles.
        tracing::warn!(error = %e, delivery, "an opening could not be counted");
    }
    let headers = [(header::CONTENT_TYPE, HeaderValue::from_static("image/gif")), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    (headers, PIXEL).into_response()
}

#[derive(Debug, Deserialize)]
pub struct Click {
    to: String,
}

/// Counts the click and sends the customer on (`303 See Other`).
pub async fn clicked(State(state): State<AppState>, Path(token): Path<String>, Query(q): Query<Click>) -> Response {
    let Some(delivery) = state.store.tracked("c", &token, &q.to) else { return unknown() };
    let Ok(location) = HeaderValue::from_str(&ascii_url(&q.to)) else { return unknown() };
    if let Err(e) = state.store.mark_tracked(delivery, true).await {
        tracing::warn!(error = %e, delivery, "a click could not be counted");
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, location), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]).into_response()
}

/// `url` with what a header may not carry (spaces, controls, letters beyond ASCII:
/// `…/izpārdošana`) percent-encoded as UTF-8, the rest as written.
fn ascii_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        if c.is_ascii_graphic() {
            out.push(c);
        } else {
            let mut bytes = [0u8; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ascii_url;

    #[test]
    fn a_destination_beyond_ascii_is_percent_encoded_for_the_location_header() {
        assert_eq!(ascii_url("https://shop.example/lv/izpārdošana?a=1 2"), "https://shop.example/lv/izp%C4%81rdo%C5%A1ana?a=1%202");
        assert_eq!(ascii_url("https://shop.example/sale?v=B"), "https://shop.example/sale?v=B");
    }
}
