//! The one API error. Every non-2xx response has the shape of POS-API.md:
//! `{"error": {"code": "insufficient_funds", "message": "…", "details": {…}}}`.
//! Codes are a closed list ([`ErrorCode`]), each with one HTTP status; internal
//! failures are logged with their cause and shown to clients only as `internal`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use loyd_domain::ledger::TransferError;
use loyd_store::StoreError;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Stable, snake_case error codes. Clients switch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401: no terminal key, or a key that is unknown or revoked.
    Unauthorized,
    /// 403: authenticated, but not allowed to do this.
    Forbidden,
    /// 400 (unparsable) or 422 (well-formed but invalid): the request is wrong.
    ValidationFailed,
    /// 404: no such route or object.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: the object already exists.
    AlreadyExists,
    /// 409: the same idempotency id was used with a different request body.
    IdempotencyConflict,
    /// 409: a balance, limit or hold cannot cover the operation.
    InsufficientFunds,
    /// 409: the operation conflicts with the state of what it refers to.
    Conflict,
    /// 413: the body is larger than the route allows.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 429: too many requests from this client.
    RateLimited,
    /// 503: the request did not finish in time; it may or may not have been applied,
    /// so retry with the same id.
    Timeout,
    /// 503: the database is unreachable; retry with the same id.
    Unavailable,
    /// 500: a bug. Logged with its cause; never carries internals.
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            Unauthorized => StatusCode::UNAUTHORIZED,
            Forbidden => StatusCode::FORBIDDEN,
            ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AlreadyExists | IdempotencyConflict | InsufficientFunds | Conflict => StatusCode::CONFLICT,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Timeout | Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            ValidationFailed => "validation_failed",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            AlreadyExists => "already_exists",
            IdempotencyConflict => "idempotency_conflict",
            InsufficientFunds => "insufficient_funds",
            Conflict => "conflict",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            RateLimited => "rate_limited",
            Timeout => "timeout",
            Unavailable => "unavailable",
            Internal => "internal",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    /// Overrides the code's usual status (400 for unparsable JSON, where 422 is usual).
    pub status: Option<StatusCode>,
    pub message: String,
    pub details: Option<Value>,
}

/// The error body, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorObject {
    pub code: ErrorCode,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, status: None, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::ValidationFailed, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.code.status())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody { error: ErrorObject { code: self.code, message: self.message, details: self.details } };
        let mut res = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Ledger(batch) => {
                let details = json!({ "transfer": batch.id, "index": batch.index });
                ApiError::from(batch.error).with_details(details)
            }
            StoreError::NotFound { what, id } => ApiError::not_found(format!("{what} '{id}' does not exist")),
            StoreError::AlreadyExists { what, id } => {
                ApiError::new(ErrorCode::AlreadyExists, format!("{what} '{id}' already exists"))
            }
            StoreError::Invalid(message) => ApiError::validation(message),
            StoreError::Config(errors) => ApiError::validation("the configuration cannot be applied")
                .with_details(json!({ "problems": errors })),
            StoreError::Unavailable(message) | StoreError::Retry(message) => {
                tracing::warn!(%message, "database unavailable");
                ApiError::new(ErrorCode::Unavailable, "the database is unavailable; retry with the same id")
            }
            StoreError::Database(cause) => {
                tracing::error!(error = %cause, "database error");
                ApiError::new(ErrorCode::Internal, "internal error")
            }
        }
    }
}

impl From<TransferError> for ApiError {
    fn from(e: TransferError) -> Self {
        let code = match &e {
            TransferError::InsufficientFunds { .. } => ErrorCode::InsufficientFunds,
            TransferError::IdConflict(_) => ErrorCode::IdempotencyConflict,
            TransferError::PendingAlreadyPosted(_)
            | TransferError::PendingAlreadyVoided(_)
            | TransferError::PendingExpired(_)
            | TransferError::PendingNotYetExpired(_)
            | TransferError::ReversalExceedsOriginal { .. } => ErrorCode::Conflict,
            TransferError::DebitAccountNotFound(_)
            | TransferError::CreditAccountNotFound(_)
            | TransferError::PendingNotFound(_)
            | TransferError::ReversedNotFound(_)
            | TransferError::LotNotFound(_) => ErrorCode::NotFound,
            _ => ErrorCode::ValidationFailed,
        };
        ApiError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serialises_to_its_stable_name() {
        use ErrorCode::*;
        for code in [
            Unauthorized,
            Forbidden,
            ValidationFailed,
            NotFound,
            MethodNotAllowed,
            AlreadyExists,
            IdempotencyConflict,
            InsufficientFunds,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            RateLimited,
            Timeout,
            Unavailable,
            Internal,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), Value::String(code.as_str().into()));
        }
    }

    #[test]
    fn internal_errors_never_reach_the_client() {
        let e = ApiError::from(StoreError::Database(sqlx_error()));
        assert_eq!(e.code, ErrorCode::Internal);
        assert_eq!(e.message, "internal error");
    }

    fn sqlx_error() -> sqlx::Error {
        sqlx::Error::Protocol("secret detail".into())
    }
}
