//! Extractors that turn every bad request into our error shape: axum's own
//! rejections (plain-text bodies) never reach a client.
//!
//! A JSON body is read here once: its content type checked, its size bounded by the
//! route's limit, a NUL anywhere in it refused (no field accepts one, and PostgreSQL
//! cannot store it), and a shape error reported with the path of the field at fault.
//! Error messages never echo the values the client sent: a PIN typed into the wrong
//! field must not end up in the failure log.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{ApiError, ErrorCode};

/// The body limit of a route, put in the request by a layer so the extractor can name
/// it when it refuses a body (`details.limit_bytes`).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// JSON in and out. A body that is not JSON is `400 validation_failed`; JSON of the
/// wrong shape is `422 validation_failed` naming the field (`details.field`); an
/// oversized body is `413 payload_too_large`; a body that is not declared as JSON is
/// `415 unsupported_media_type`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_body(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// An optional JSON body: empty (or only whitespace) is `None`; anything else is read
/// as JSON as for [`Json`], whatever its content type (tills have sent these bodies
/// without one since the first version).
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        check_nul(&bytes)?;
        parse_json(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

/// The body of a JSON request: declared as JSON, within the route's limit, with no NUL.
pub async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let bytes = json_body_allowing_nul(req, state).await?;
    check_nul(&bytes)?;
    Ok(bytes)
}

/// As [`json_body`], for the one body that checks NULs part by part (the offline upload).
pub async fn json_body_allowing_nul<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if !is_json(req.headers()) {
        return Err(unsupported_media_type());
    }
    read_body(req, state).await
}

/// The body, within the route's limit ([`BodyLimit`] names it in a refusal).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let limit = req.extensions().get::<BodyLimit>().copied();
    Bytes::from_request(req, state).await.map_err(|r| body_rejection(r.status(), r.body_text(), limit))
}

fn check_nul(bytes: &[u8]) -> Result<(), ApiError> {
    if loyd_domain::text::json_has_nul_escape(bytes) {
        return Err(ApiError::validation("the request body holds a NUL character (\\u0000), which no field accepts")
            .with_details(json!({ "rule": "no NUL characters" })));
    }
    Ok(())
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(ErrorCode::UnsupportedMediaType, "send the body as JSON with Content-Type: application/json")
}

/// `application/json`, or any `application/…+json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_rejection(status: StatusCode, text: String, limit: Option<BodyLimit>) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let mut e = ApiError::new(ErrorCode::PayloadTooLarge, "the request body is larger than this route allows");
        if let Some(BodyLimit(bytes)) = limit {
            e = e.with_details(json!({ "limit_bytes": bytes }));
        }
        return e;
    }
    ApiError::validation(format!("the request body could not be read: {text}")).with_status(StatusCode::BAD_REQUEST)
}

/// Parses a JSON document into `T`: a syntax error is `400`, a shape error `422` with
/// the path of the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(e.into_inner(), (path != ".").then_some(path))
    })?;
    de.end().map_err(|e| json_error(e, None))?;
    Ok(value)
}

fn json_error(e: serde_json::Error, path: Option<String>) -> ApiError {
    let what = without_values(&without_position(&e.to_string()));
    match (e.classify(), path) {
        (serde_json::error::Category::Data, Some(path)) => {
            ApiError::validation(format!("the request body does not match the expected shape: {path}: {what}"))
                .with_details(json!({ "field": path }))
        }
        (serde_json::error::Category::Data, None) => {
            ApiError::validation(format!("the request body does not match the expected shape: {what}"))
        }
        _ => ApiError::validation(format!("the request body is not valid JSON: {what}")).with_status(StatusCode::BAD_REQUEST),
    }
}

/// serde_json's " at line 1 column 80" says nothing a client can use.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_owned(),
        _ => message.to_owned(),
    }
}

/// serde's messages quote the value they refused (``invalid type: integer `1712` ``,
/// `invalid value: string "x"`). The value may be a secret typed into the wrong field,
/// so it is dropped; the kind of value and what was expected stay.
pub fn without_values(message: &str) -> String {
    const KINDS: [(&str, char); 6] = [
        ("integer `", '`'),
        ("floating point `", '`'),
        ("boolean `", '`'),
        ("character `", '`'),
        ("unknown variant `", '`'),
        ("string \"", '"'),
    ];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    'scan: while !rest.is_empty() {
        for (prefix, close) in KINDS {
            if let Some(tail) = rest.strip_prefix(prefix) {
                out.push_str(prefix.trim_end_matches(['`', '"']).trim_end());
                // Skip the quoted value, minding escaped quotes inside strings.
                let mut escaped = false;
                let mut end = tail.len();
                for (i, ch) in tail.char_indices() {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' && close == '"' {
                        escaped = true;
                    } else if ch == close {
                        end = i + ch.len_utf8();
                        break;
                    }
                }
                rest = &tail[end..];
                continue 'scan;
            }
        }
        let ch = rest.chars().next().expect("not empty");
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// Path parameters, with our error on a mismatch.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| ApiError::validation(without_values(&e.body_text())))
    }
}

/// Query parameters, with our error on a mismatch.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| ApiError::validation(without_values(&e.body_text())))
    }
}

/// The cursor of the next page: the key of the last item of a full page; `None` when
/// the page is not full (it was the last one).
pub fn next_page<T, K>(items: &[T], limit: u32, key: impl Fn(&T) -> K) -> Option<K> {
    if items.len() == limit as usize { items.last().map(key) } else { None }
}

/// A configuration document: JSON (`application/json`, the document as an object) or a
/// program file (`application/toml`, the text `loyd apply` reads). A program file's
/// problems are all reported, each with its line and column (`details.problems`).
pub struct ProgramBody {
    pub doc: loyd_domain::config::ConfigDocument,
    /// The file's text, when it came as one: later problems are located in it.
    pub text: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for ProgramBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_toml(req.headers()) {
            let bytes = json_body(req, state).await?;
            return parse_json(&bytes).map(|doc| ProgramBody { doc, text: None });
        }
        let bytes = read_body(req, state).await?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::validation("the program file is not UTF-8 text").with_status(StatusCode::BAD_REQUEST))?;
        ProgramBody::of_text(text)
    }
}

impl ProgramBody {
    /// A program file's text, read; its problems all at once, each at its line.
    pub fn of_text(text: String) -> Result<ProgramBody, ApiError> {
        match loyd_domain::program::file::parse(&text) {
            Ok(doc) => Ok(ProgramBody { doc, text: Some(text) }),
            Err(problems) => Err(program_problems(problems)),
        }
    }
}

impl ProgramBody {
    /// A store error, with configuration problems located in the file when it came as one.
    pub fn locate(&self, e: loyd_store::StoreError) -> ApiError {
        match (e, &self.text) {
            (loyd_store::StoreError::Config(problems), Some(text)) => {
                program_problems(loyd_domain::program::file::locate(text, problems))
            }
            (e, _) => ApiError::from(e),
        }
    }
}

fn program_problems(problems: Vec<loyd_domain::program::file::FileProblem>) -> ApiError {
    ApiError::validation(format!("the program file has {} problem(s); nothing was applied", problems.len()))
        .with_details(json!({ "problems": problems }))
}

/// `application/toml` (or `text/x-toml`, `text/toml`): a program file.
fn is_toml(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    matches!(essence.as_str(), "application/toml" | "text/toml" | "text/x-toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_values_are_dropped_from_messages_but_the_kind_and_expectation_stay() {
        assert_eq!(without_values("invalid type: integer `1712`, expected a string"), "invalid type: integer, expected a string");
        assert_eq!(
            without_values(r#"invalid value: string "17\"12", expected a decimal"#),
            "invalid value: string, expected a decimal"
        );
        assert_eq!(without_values("unknown variant `pin1712`, expected `a`"), "unknown variant, expected `a`");
        assert_eq!(without_values("missing field `lines`"), "missing field `lines`");
    }

    #[test]
    fn a_shape_error_names_the_field_and_not_the_value() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Card {
            pin: String,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            gift_cards: Vec<Card>,
        }
        let e = parse_json::<Body>(br#"{"gift_cards": [{"pin": 1712}]}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed);
        assert_eq!(e.details, Some(json!({ "field": "gift_cards[0].pin" })));
        assert!(!e.message.contains("1712"), "{}", e.message);
        let syntax = parse_json::<Body>(b"{not json").unwrap_err();
        assert_eq!(syntax.status(), StatusCode::BAD_REQUEST);
        let trailing = parse_json::<serde_json::Value>(b"{} x").unwrap_err();
        assert_eq!(trailing.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn json_is_recognised_with_parameters_and_suffixes() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/problem+json"));
        assert!(!with("text/json"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
