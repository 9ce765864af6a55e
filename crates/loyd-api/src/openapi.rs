//! The OpenAPI document, generated from the handlers' annotations, and a page that
//! renders it.

use axum::response::Html;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorCode, ErrorObject};
use crate::{admin, auth, crm, health, pos};

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
        auth::login,
        auth::logout,
        auth::me,
        crm::list_customers,
        crm::create_customer,
        crm::get_customer,
        crm::update_customer,
        crm::merge,
        crm::purchases,
        crm::history,
        crm::customer_crm,
        crm::add_crm,
        crm::list_crm,
        crm::update_crm,
        crm::list_organisations,
        crm::create_organisation,
        crm::get_organisation,
        crm::organisation_crm,
        crm::add_organisation_crm,
        crm::replace_card,
        crm::list_users,
        crm::create_user,
        crm::update_user,
        crm::audit_log,
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
        auth::LoginRequest,
        auth::SessionOut,
        auth::UserOut,
        auth::MeOut,
        crm::ConsentOut,
        crm::CustomerOut,
        crm::CustomerPage,
        crm::NewCustomer,
        crm::CustomerChanges,
        crm::MergeRequest,
        crm::PurchaseOut,
        crm::PurchasePage,
        crm::AuditPage,
        crm::CrmOut,
        crm::CrmPage,
        crm::NewCrm,
        crm::CrmChanges,
        crm::NewOrganisation,
        crm::OrganisationOut,
        crm::OrganisationPage,
        crm::ReplaceCard,
        crm::UserList,
        crm::NewUserRequest,
        crm::UserChanges,
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
    modifiers(&TerminalKey, &ErrorResponses),
    tags(
        (name = "pos", description = "Cash registers: authenticated by terminal key"),
        (name = "auth", description = "Staff login sessions"),
        (name = "admin", description = "Administration: a session or API key whose role allows the route"),
        (name = "crm", description = "Customers, CRM entries, organisations, staff, audit log"),
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
        components.add_security_scheme("session", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Every operation documents the error shape for refusals (`4XX`) and for the answers
/// a client should retry (`503`: the database is unavailable or the request timed out),
/// so no route can forget them.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let responses = &mut op.responses.responses;
                responses
                    .entry("4XX".into())
                    .or_insert_with(|| error("Refused, with a stable `code` (POS-API.md, docs/guarantees.md)").into());
                responses
                    .entry("503".into())
                    .or_insert_with(|| error("The database is unavailable or the request timed out: retry with the same id").into());
            }
        }
    }
}

pub async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// The vendored renderer of the reference page (`assets/scalar/README.md`). Its name
/// carries its version, so it can be cached for good.
pub const SCALAR_JS: &str = "/docs/scalar-api-reference-1.76.4.js";
const SCALAR_JS_BODY: &[u8] = include_bytes!("../assets/scalar/api-reference-1.76.4.js");

/// A reference page for `/openapi.json`, rendered by a script this server serves itself:
/// nothing is loaded from the internet (no fonts, no telemetry, no proxy).
pub async fn page() -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html>
<head>
  <title>Loyd API</title>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
  <noscript>The API document is at <a href="/openapi.json">/openapi.json</a>.</noscript>
  <script id="api-reference" data-url="/openapi.json"
          data-configuration='{{"withDefaultFonts": false, "telemetry": false, "proxyUrl": "", "hideClientButton": true}}'></script>
  <script src="{SCALAR_JS}"></script>
</body>
</html>
"#
    ))
}

/// The renderer's script, cached for a year (a new version has a new name).
pub async fn scalar_js() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        SCALAR_JS_BODY,
    )
}
