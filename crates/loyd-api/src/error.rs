//! The one API error. Every non-2xx response has the shape of POS-API.md:
//! `{"error": {"code": "insufficient_funds", "message": "…", "details": {…}}}`.
//! Codes are a closed list ([`ErrorCode`]), each with one HTTP status; internal
//! failures are logged with their cause and shown to clients only as `internal`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use loyd_domain::ledger::TransferError;
use loyd_domain::receipt::ReceiptError;
use loyd_domain::said::{self, Said};
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
    /// 414: the URI is longer than the server accepts.
    UriTooLong,
    /// 431: the request's headers are larger than the server accepts.
    HeadersTooLarge,
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
    // ---- POS (POS-API.md) ----
    /// 404: no such card, customer phone or one-time code.
    UnknownCard,
    /// 409: the card is blocked (or, for a gift card, not yet sold).
    CardBlocked,
    /// 409: the card is past its validity.
    CardExpired,
    /// 409: a gift card that is already activated.
    CardAlreadyActive,
    /// 403: wrong PIN; five in a row lock the card for 15 minutes.
    WrongPin,
    /// 429: the card (or terminal) is locked after too many wrong PINs.
    TooManyAttempts,
    /// 422: the balance is below the currency's minimum for redeeming.
    BelowMinimumRedeem,
    /// 422: more than the currency may pay of this receipt.
    RedeemLimitExceeded,
    /// 422: the currency is counted in another money than this store's, with no rate.
    CurrencyNotAccepted,
    /// 404: no such coupon.
    CouponUnknown,
    /// 409: the coupon has been used.
    CouponUsed,
    /// 409: the coupon has expired.
    CouponExpired,
    /// 422: the coupon does not apply to this receipt.
    CouponNotApplicable,
    /// 409: the pass has no visits left.
    PassExhausted,
    /// 409: the pass has expired.
    PassExpired,
    /// 404: no such receipt.
    ReceiptNotFound,
    /// 409: the return would exceed what was bought (and not yet returned).
    ReturnExceedsReceipt,
    /// 409: the receipt was cancelled.
    ReceiptCancelled,
    /// 422: the receipt's `at` is outside the window the store accepts (before the
    /// store existed, older than its offline policy allows, or ahead of the clock).
    ReceiptTimeOutOfRange,
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
            UriTooLong => StatusCode::URI_TOO_LONG,
            HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Timeout | Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            UnknownCard | CouponUnknown | ReceiptNotFound => StatusCode::NOT_FOUND,
            CardBlocked | CardExpired | CardAlreadyActive | CouponUsed | CouponExpired | PassExhausted | PassExpired
            | ReturnExceedsReceipt | ReceiptCancelled => StatusCode::CONFLICT,
            WrongPin => StatusCode::FORBIDDEN,
            TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            BelowMinimumRedeem | RedeemLimitExceeded | CurrencyNotAccepted | CouponNotApplicable | ReceiptTimeOutOfRange => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
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
            UriTooLong => "uri_too_long",
            HeadersTooLarge => "headers_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            RateLimited => "rate_limited",
            Timeout => "timeout",
            Unavailable => "unavailable",
            Internal => "internal",
            UnknownCard => "unknown_card",
            CardBlocked => "card_blocked",
            CardExpired => "card_expired",
            CardAlreadyActive => "card_already_active",
            WrongPin => "wrong_pin",
            TooManyAttempts => "too_many_attempts",
            BelowMinimumRedeem => "below_minimum_redeem",
            RedeemLimitExceeded => "redeem_limit_exceeded",
            CurrencyNotAccepted => "currency_not_accepted",
            CouponUnknown => "coupon_unknown",
            CouponUsed => "coupon_used",
            CouponExpired => "coupon_expired",
            CouponNotApplicable => "coupon_not_applicable",
            PassExhausted => "pass_exhausted",
            PassExpired => "pass_expired",
            ReceiptNotFound => "receipt_not_found",
            ReturnExceedsReceipt => "return_exceeds_receipt",
            ReceiptCancelled => "receipt_cancelled",
            ReceiptTimeOutOfRange => "receipt_time_out_of_range",
        }
    }

    /// The code of a stable name.
    pub fn parse(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 36] = {
        use ErrorCode::*;
        [
            Unauthorized, Forbidden, ValidationFailed, NotFound, MethodNotAllowed, AlreadyExists, IdempotencyConflict,
            InsufficientFunds, Conflict, PayloadTooLarge, UriTooLong, HeadersTooLarge, UnsupportedMediaType, RateLimited,
            Timeout, Unavailable, Internal, UnknownCard, CardBlocked, CardExpired, CardAlreadyActive, WrongPin,
            TooManyAttempts, BelowMinimumRedeem, RedeemLimitExceeded, CouponUnknown, CouponUsed, CouponExpired,
            CouponNotApplicable, PassExhausted, PassExpired, ReceiptNotFound, ReturnExceedsReceipt, ReceiptCancelled,
            ReceiptTimeOutOfRange, CurrencyNotAccepted,
        ]
    };

    /// The code an HTTP status means when something below the handlers (the HTTP
    /// layer, a middleware) refused the request without saying more.
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            408 | 503 | 504 => ErrorCode::Timeout,
            409 => ErrorCode::Conflict,
            413 => ErrorCode::PayloadTooLarge,
            414 => ErrorCode::UriTooLong,
            415 => ErrorCode::UnsupportedMediaType,
            429 => ErrorCode::RateLimited,
            431 => ErrorCode::HeadersTooLarge,
            400..=499 => ErrorCode::ValidationFailed,
            _ => ErrorCode::Internal,
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
    /// The card the refusal concerns, for the failure log.
    pub card: Option<String>,
    /// The client's id of the refused operation, for the failure log.
    pub client_id: Option<String>,
    /// What the message says, by key, so that the console says it in its language.
    pub said: Option<Box<Said>>,
}

/// What an error response carried, left in the response's extensions so the POS
/// middleware can write the failure log without parsing bodies.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub code: ErrorCode,
    pub message: String,
    pub card: Option<String>,
    pub client_id: Option<String>,
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
        ApiError { code, status: None, message: message.into(), details: None, card: None, client_id: None, said: None }
    }

    /// A refusal whose message is said by key ([`loyd_domain::said`]).
    pub fn said(code: ErrorCode, said: Said) -> Self {
        ApiError { message: said.english(), said: Some(Box::new(said)), ..ApiError::new(code, "") }
    }

    /// Names the client's id of the refused operation (failure log).
    pub fn for_client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// Names the card concerned, unless the error already names one.
    pub fn for_card(mut self, card: Option<String>) -> Self {
        if self.card.is_none() {
            self.card = card;
        }
        self
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

    /// Something of ours failed (a file could not be written): logged, answered 500.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(%message, "internal error");
        ApiError::new(ErrorCode::Internal, message)
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.code.status())
    }

    /// What the failure log keeps of this refusal.
    pub fn info(&self) -> ErrorInfo {
        ErrorInfo { code: self.code, message: self.message.clone(), card: self.card.clone(), client_id: self.client_id.clone() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let info = self.info();
        let body = ErrorBody { error: ErrorObject { code: self.code, message: self.message, details: self.details } };
        let mut res = (status, axum::Json(body)).into_response();
        res.extensions_mut().insert(info);
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
            StoreError::Refused(e) => ApiError::from(e),
            StoreError::IdempotencyConflict(what) => ApiError::said(ErrorCode::IdempotencyConflict, said::id_used(what)),
            StoreError::NotFound { what, id } => ApiError::said(ErrorCode::NotFound, said::not_found(what, id)),
            StoreError::AlreadyExists { what, id } => ApiError::said(ErrorCode::AlreadyExists, said::already_exists(what, id)),
            StoreError::Invalid(message) => ApiError::validation(message),
            StoreError::Rule(said) => ApiError::said(ErrorCode::ValidationFailed, said),
            StoreError::Forbidden(message) => ApiError::new(ErrorCode::Forbidden, message),
            StoreError::Config(errors) => ApiError::validation("the configuration cannot be applied")
                .with_details(json!({ "problems": errors })),
            StoreError::Unavailable(message) | StoreError::Retry(message) => {
                tracing::warn!(%message, "database unavailable");
                ApiError::said(ErrorCode::Unavailable, said::database_unavailable())
            }
            StoreError::Database(cause) => {
                tracing::error!(error = %cause, "database error");
                ApiError::new(ErrorCode::Internal, "internal error")
            }
        }
    }
}

impl From<ReceiptError> for ApiError {
    fn from(e: ReceiptError) -> Self {
        use ReceiptError as R;
        // The refusal's code is the domain's (`ReceiptError::code`): one table.
        let code = ErrorCode::parse(e.code()).unwrap_or_else(|| {
            tracing::error!(code = e.code(), "a refusal code the API does not know");
            ErrorCode::Internal
        });
        let card = e.card().map(str::to_owned);
        let details = match &e {
            R::InsufficientFunds { what, available, requested } => {
                Some(json!({ "what": what, "available": available, "requested": requested }))
            }
            R::BelowMinimumRedeem { currency, minimum } => Some(json!({ "currency": currency, "minimum": minimum })),
            R::RedeemLimitExceeded { currency, max, step: None } => Some(json!({ "currency": currency, "max": max })),
            R::RedeemLimitExceeded { currency, max, step: Some(step) } => Some(json!({ "currency": currency, "max": max, "step": step })),
            R::CurrencyNotAccepted { currency, held_in, store } => {
                Some(json!({ "currency": currency, "held_in": held_in, "store_currency": store }))
            }
            R::WrongPin(c) | R::TooManyAttempts(c) => Some(json!({ "card": c })),
            R::TimeOutOfRange { at, earliest, latest, .. } => {
                Some(json!({ "field": "at", "at": at, "earliest": earliest, "latest": latest }))
            }
            _ => None,
        };
        let mut err = ApiError::new(code, e.to_string());
        err.details = details;
        err.card = card;
        err.said = e.said().map(Box::new);
        err
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
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), Value::String(code.as_str().into()));
        }
    }

    #[test]
    fn the_codes_of_the_pos_contract_all_exist() {
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        for required in [
            "unauthorized", "forbidden", "validation_failed", "unknown_card", "card_blocked", "card_expired", "wrong_pin",
            "too_many_attempts", "insufficient_funds", "below_minimum_redeem", "redeem_limit_exceeded", "coupon_unknown",
            "coupon_used", "coupon_expired", "coupon_not_applicable", "pass_exhausted", "pass_expired", "receipt_not_found",
            "return_exceeds_receipt", "idempotency_conflict", "rate_limited",
        ] {
            assert!(names.contains(&required), "{required} is missing");
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

    #[test]
    fn every_refusal_of_the_domain_keeps_its_code_and_names_its_card() {
        use loyd_domain::ids::AssetCode;
        let c = || "2770000000017".to_owned();
        let at: loyd_domain::time::Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();
        let every = [
            ReceiptError::Invalid("x".into()),
            ReceiptError::UnknownCard(c()),
            ReceiptError::UnknownCustomer,
            ReceiptError::UnknownCode,
            ReceiptError::CardBlocked(c()),
            ReceiptError::CardExpired(c()),
            ReceiptError::CardNotActive(c()),
            ReceiptError::CardAlreadyActive(c()),
            ReceiptError::WrongPin(c()),
            ReceiptError::TooManyAttempts(c()),
            ReceiptError::InsufficientFunds { what: "x".into(), available: "1".into(), requested: "2".into() },
            ReceiptError::BelowMinimumRedeem { currency: AssetCode::parse("EUR").unwrap(), minimum: "1".into() },
            ReceiptError::RedeemLimitExceeded { currency: AssetCode::parse("EUR").unwrap(), max: "1".into(), step: None },
            ReceiptError::CurrencyNotAccepted {
                currency: AssetCode::parse("wallet").unwrap(),
                held_in: AssetCode::parse("EUR").unwrap(),
                store: AssetCode::parse("RUB").unwrap(),
            },
            ReceiptError::PassExhausted("x".into()),
            ReceiptError::PassExpired("x".into()),
            ReceiptError::ReceiptNotFound("x".into()),
            ReceiptError::ReturnExceedsReceipt("x".into()),
            ReceiptError::ReceiptCancelled("x".into()),
            ReceiptError::CouponUnknown("x".into()),
            ReceiptError::CouponUsed("x".into()),
            ReceiptError::CouponExpired("x".into()),
            ReceiptError::CouponNotApplicable { code: "x".into(), why: "y".into() },
            ReceiptError::TimeOutOfRange { at, why: "x", earliest: at, latest: at },
        ];
        for e in every {
            // Every refusal above that carries a card carries this number.
            let named = format!("{e:?}").contains("2770000000017");
            let api = ApiError::from(e.clone());
            assert_eq!(api.code.as_str(), e.code(), "{e:?}");
            assert_ne!(api.code, ErrorCode::Internal, "{e:?}");
            assert_eq!(api.card.as_deref(), named.then_some("2770000000017"), "{e:?}");
        }
    }
}
