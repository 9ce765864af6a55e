//! Extractors that turn every bad request into our error shape: axum's own
//! rejections (plain-text bodies) never reach a client.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use crate::error::{ApiError, ErrorCode};

/// JSON in and out. A body that is not JSON is `400 validation_failed`; JSON of the
/// wrong shape is `422 validation_failed` naming the field; an oversized body is
/// `413 payload_too_large`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            ApiError::validation(format!("the request body does not match the expected shape: {}", e.body_text()))
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::validation(format!("the request body is not valid JSON: {}", e.body_text()))
                .with_status(StatusCode::BAD_REQUEST)
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new(ErrorCode::UnsupportedMediaType, "send the body as JSON with Content-Type: application/json")
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::PayloadTooLarge, "the request body is larger than this route allows")
        }
        other => ApiError::validation(other.body_text()).with_status(StatusCode::BAD_REQUEST),
    }
}

/// Path parameters, with our error on a mismatch.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| ApiError::validation(e.body_text()))
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
            .map_err(|e: QueryRejection| ApiError::validation(e.body_text()))
    }
}

/// The cursor of the next page: the key of the last item of a full page; `None` when
/// the page is not full (it was the last one).
pub fn next_page<T, K>(items: &[T], limit: u32, key: impl Fn(&T) -> K) -> Option<K> {
    if items.len() == limit as usize { items.last().map(key) } else { None }
}
