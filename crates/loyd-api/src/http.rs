//! The HTTP layer below the routes: what every request passes before a handler sees it,
//! and the guarantee that every error, whoever raised it, has the documented shape.
//!
//! - [`uri_guard`] refuses URIs that are too long (`414 uri_too_long`) and paths or
//!   query strings holding control characters or bytes that are not UTF-8 (`400
//!   validation_failed`), for every route at once: no text from a URI reaches a store
//!   with a NUL in it.
//! - [`json_errors`] rewrites any error response that is not ours (a rejection of the
//!   routing layer, a middleware's refusal) into `{"error": {"code", "message"}}`.
//! - [`Listener`] wraps the TCP listener so that the errors hyper answers by itself,
//!   before any of the above runs (a request line over 64 KiB, headers over its buffer,
//!   a malformed request), get the same JSON body instead of an empty one.
//! - [`redacted_uri`] is how a URI appears in logs: query values that may carry secrets
//!   or personal data (`pin`, `phone`, `email`, `name`, …) are replaced by `***`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{ApiError, ErrorCode, ErrorInfo};

/// Longest URI a route is asked to handle. Nothing in the API needs more; hyper itself
/// stops at 64 KiB.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Refuses URIs no route should see: too long, or with control characters or non-UTF-8
/// bytes in the path or the query once percent-decoded. The POS routes check their
/// text after authenticating the terminal instead (`pos::pos_guard`), so that such a
/// refusal is written to the failure log like any other.
pub async fn uri_guard(req: Request, next: Next) -> Response {
    let checked = if req.uri().path().starts_with("/v1/pos/") { check_uri_length(req.uri()) } else { check_uri(req.uri()) };
    match checked {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check_uri_length(uri: &Uri) -> Result<(), ApiError> {
    let length = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if length > MAX_URI_BYTES {
        return Err(ApiError::new(ErrorCode::UriTooLong, format!("the URI is longer than {MAX_URI_BYTES} bytes"))
            .with_details(json!({ "limit_bytes": MAX_URI_BYTES })));
    }
    Ok(())
}

/// The URI's length, and the text of its path and query.
pub fn check_uri(uri: &Uri) -> Result<(), ApiError> {
    check_uri_length(uri)?;
    for (part, text) in [("path", Some(uri.path())), ("query", uri.query())] {
        let Some(text) = text else { continue };
        let decoded = percent_decode(text);
        let ok = std::str::from_utf8(&decoded).is_ok_and(|s| !s.chars().any(char::is_control));
        if !ok {
            return Err(ApiError::validation(format!(
                "the URI's {part} holds a control character or bytes that are not UTF-8 once decoded"
            ))
            .with_status(StatusCode::BAD_REQUEST)
            .with_details(json!({ "field": part })));
        }
    }
    Ok(())
}

/// Percent-decodes `text` (`%00` → a NUL byte); a `%` not followed by two hex digits
/// stays as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Gives every error response the documented JSON shape. Our own errors carry
/// [`ErrorInfo`] and pass unchanged; any other 4xx/5xx (a framework rejection, a
/// middleware's answer) is replaced by our error for its status.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    // The console's pages answer errors as pages.
    let page = |res: &Response| res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || res.extensions().get::<ErrorInfo>().is_some() || page(&res) {
        return res;
    }
    let code = ErrorCode::for_status(status);
    let message = status.canonical_reason().unwrap_or("the request was refused").to_lowercase();
    let mut ours = ApiError::new(code, message).with_status(status).into_response();
    // Keep what the refusal said about allowed methods or retrying.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = res.headers().get(&name) {
            ours.headers_mut().insert(name, v.clone());
        }
    }
    ours
}

/// Query parameters whose values may appear in logs. Every other value (a PIN, a
/// phone, an e-mail, a name, a card number…) is written as `***`.
const LOGGABLE_PARAMS: &[&str] = &[
    "limit", "after", "before", "dry_run", "store", "terminal", "operation", "code", "status", "kind", "object_kind",
    "currency", "from", "to", "due_before",
];

/// The URI as logs show it: the path, and the query with every value not known to be
/// harmless replaced by `***`.
pub fn redacted_uri(uri: &Uri) -> String {
    let Some(query) = uri.query() else { return uri.path().to_owned() };
    let params: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if LOGGABLE_PARAMS.contains(&k) => pair.to_owned(),
            Some((k, _)) => format!("{k}=***"),
            None => pair.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), params.join("&"))
}

// ---- errors hyper answers by itself --------------------------------------------------

/// The TCP listener the server accepts on, wrapped so that each connection's
/// automatic error responses are rewritten ([`JsonErrorIo`]).
pub struct Listener(pub TcpListener);

/// The network address a connection came from, handed to handlers as
/// `ConnectInfo<Peer>` (the portal's rate limits count by it).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Listener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl axum::serve::Listener for Listener {
    type Io = JsonErrorIo<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (JsonErrorIo::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection whose writes are watched for the responses hyper sends on its own when
/// it cannot parse a request (400, 414, 431: a status line, no content type, an empty
/// body). Such a response is replaced by one with our JSON error body; hyper closes the
/// connection after it. Every response of ours carries a content type, so none is
/// mistaken for one of these.
pub struct JsonErrorIo<T> {
    inner: T,
    /// A replacement being written, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
    /// How many bytes of hyper's write the replacement stands for.
    swallowed: usize,
}

impl<T> JsonErrorIo<T> {
    pub fn new(inner: T) -> Self {
        JsonErrorIo { inner, pending: None, swallowed: 0 }
    }
}

/// hyper's automatic error response in `buf`, if that is what it is: its status.
fn automatic_error(buf: &[u8]) -> Option<StatusCode> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ").or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = StatusCode::from_bytes(rest.get(..3)?).ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let empty = head.lines().any(|l| l.trim() == "content-length: 0");
    (empty && !head.contains("\ncontent-type:") && end + 4 == buf.len()).then_some(status)
}

fn replacement(status: StatusCode) -> Vec<u8> {
    let code = ErrorCode::for_status(status);
    let message = match status {
        StatusCode::URI_TOO_LONG => "the URI is longer than the server accepts (64 KiB)".to_owned(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "the request's headers are larger than the server accepts".to_owned(),
        _ => "the request is not valid HTTP/1.1".to_owned(),
    };
    let body = json!({ "error": { "code": code, "message": message } }).to_string();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

impl<T: AsyncWrite + Unpin> JsonErrorIo<T> {
    /// Writes what is left of a replacement; ready once all of it is out.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            if *done == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrorIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrorIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none()
            && this.swallowed == 0
            && let Some(status) = automatic_error(buf)
        {
            this.pending = Some((replacement(status), 0));
            this.swallowed = buf.len();
        }
        if this.pending.is_some() || this.swallowed > 0 {
            ready!(this.poll_pending(cx))?;
            let n = std::mem::take(&mut this.swallowed);
            if n > 0 {
                // hyper writes the same bytes again while the replacement is pending.
                return Poll::Ready(Ok(n.min(buf.len())));
            }
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bad_bytes_in_a_uri_are_refused_wherever_they_are() {
        for bad in ["/v1/pos/cards/a%00b", "/v1/pos/cards/a%0Ab", "/v1/admin/customers?phone=%00", "/x?name=%FF%FE", "/x?a=%7f"] {
            let e = check_uri(&bad.parse().unwrap()).unwrap_err();
            assert_eq!((e.code, e.status()), (ErrorCode::ValidationFailed, StatusCode::BAD_REQUEST), "{bad}");
        }
        for good in ["/v1/pos/cards/2770000000017?pin=1712", "/v1/admin/customers?name=B%C4%93rzi%C5%86a", "/x?a=100%", "/"] {
            assert!(check_uri(&good.parse().unwrap()).is_ok(), "{good}");
        }
        let long = format!("/v1/admin/customers?name={}", "a".repeat(MAX_URI_BYTES));
        assert_eq!(check_uri(&long.parse().unwrap()).unwrap_err().code, ErrorCode::UriTooLong);
    }

    #[test]
    fn logged_uris_keep_harmless_parameters_and_hide_the_rest() {
        let uri: Uri = "/v1/pos/cards/2770000000017?pin=1712&limit=5&phone=%2B37120000000&flag".parse().unwrap();
        assert_eq!(redacted_uri(&uri), "/v1/pos/cards/2770000000017?pin=***&limit=5&phone=***&flag");
        assert_eq!(redacted_uri(&"/healthz".parse().unwrap()), "/healthz");
    }

    #[test]
    fn only_hypers_own_bodiless_error_responses_are_recognised() {
        let auto = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 10:00:00 GMT\r\n\r\n";
        assert_eq!(automatic_error(auto), Some(StatusCode::URI_TOO_LONG));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(automatic_error(ours), None);
        let no_content = b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n";
        assert_eq!(automatic_error(no_content), None);
        assert_eq!(automatic_error(b"{\"error\": 1}"), None);
        let body = String::from_utf8(replacement(StatusCode::URI_TOO_LONG)).unwrap();
        let json: serde_json::Value = serde_json::from_str(body.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(json["error"]["code"], "uri_too_long");
        assert!(body.contains(&format!("content-length: {}", body.split("\r\n\r\n").nth(1).unwrap().len())));
    }

    #[tokio::test]
    async fn a_replaced_response_is_written_whole_and_hyper_is_told_its_bytes_went_out() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(64);
        let mut io = JsonErrorIo::new(server);
        let auto = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let writer = tokio::spawn(async move {
            io.write_all(auto).await.unwrap();
            io.shutdown().await.unwrap();
        });
        let mut got = String::new();
        let mut client = client;
        client.read_to_string(&mut got).await.unwrap();
        writer.await.unwrap();
        assert!(got.starts_with("HTTP/1.1 431 "), "{got}");
        assert!(got.ends_with(r#"{"error":{"code":"headers_too_large","message":"the request's headers are larger than the server accepts"}}"#), "{got}");
    }
}
