//! The OpenAPI document, generated from the handlers' annotations, and a page that
//! renders it.

use axum::response::Html;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorCode, ErrorObject};
use crate::{admin, health, pos};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Loyd API",
        description = "Loyalty and CRM for retail. The POS API (`/v1/pos/…`) is the contract with cash \
                       registers: amounts are decimal strings, every mutating call carries a client id and \
                       is idempotent, every error has a stable `code`.",
        license(name = "Apache-2.0"),
    ),
    paths(
        health::healthz,
        health::readyz,
        health::whoami,
        pos::calculate,
        pos::commit,
        pos::cancel,
        pos::return_goods,
        pos::offline,
        pos::card,
        pos::activate,
        pos::visit,
        admin::create_customer,
        admin::get_customer,
        admin::update_customer,
        admin::issue_code,
        admin::adjust,
        admin::statement,
        admin::settle,
        admin::issue_cards,
        admin::generate_coupons,
        admin::block,
        admin::unblock,
        admin::failures,
        admin::get_config,
        admin::apply_config,
        admin::audit,
    ),
    components(schemas(
        ErrorBody,
        ErrorObject,
        ErrorCode,
        health::Health,
        health::Ready,
        health::TerminalInfo,
        pos::OfflineUpload,
        pos::OfflineResult,
        pos::OfflineReport,
        pos::CancelRequest,
        admin::NewCustomer,
        admin::CustomerOut,
        admin::CustomerChanges,
        admin::CodeOut,
        admin::Adjustment,
        admin::BalanceAfter,
        admin::Settlement,
        admin::SettlementOut,
        admin::IssueRequest,
        admin::IssuedCards,
        admin::GenerateCoupons,
        admin::CouponOut,
        admin::GeneratedCoupons,
        admin::FailurePage,
        admin::ConfigOut,
    )),
    modifiers(&TerminalKey),
    tags(
        (name = "pos", description = "Cash registers: authenticated by terminal key"),
        (name = "admin", description = "Administration: authenticated by API key"),
        (name = "operations", description = "Health and readiness for operators and balancers"),
    )
)]
pub struct ApiDoc;

struct TerminalKey;

impl Modify for TerminalKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("terminal_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// A reference page for `/openapi.json` (the renderer's script loads from a CDN; the
/// document itself is always served by this server).
pub async fn page() -> Html<&'static str> {
    Html(
        r#"<!doctype html>
<html>
<head>
  <title>Loyd API</title>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
  <noscript>The API document is at <a href="/openapi.json">/openapi.json</a>.</noscript>
  <script id="api-reference" data-url="/openapi.json"></script>
  <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script>
</body>
</html>
"#,
    )
}
