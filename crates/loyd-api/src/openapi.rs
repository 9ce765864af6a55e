//! The OpenAPI document, generated from the handlers' annotations, and a page that
//! renders it.

use axum::response::Html;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorCode, ErrorObject};
use crate::{admin, auth, health, pos, telegram};

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
        pos::whoami,
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
        admin::customers::list_customers,
        admin::customers::create_customer,
        admin::customers::get_customer,
        admin::customers::update_customer,
        admin::customers::merge,
        admin::customers::erase,
        admin::customers::purchases,
        admin::customers::history,
        admin::crm_entries::customer_crm,
        admin::crm_entries::add_crm,
        admin::crm_entries::list_crm,
        admin::crm_entries::update_crm,
        admin::organisations::list_organisations,
        admin::organisations::create_organisation,
        admin::organisations::get_organisation,
        admin::crm_entries::organisation_crm,
        admin::crm_entries::add_organisation_crm,
        admin::cards::replace_card,
        admin::staff::list_users,
        admin::staff::create_user,
        admin::staff::update_user,
        admin::audit::audit_log,
        admin::cards::issue_code,
        admin::balances::adjust,
        admin::balances::statement,
        admin::balances::balances,
        admin::credit::settle,
        admin::cards::issue_cards,
        admin::coupons::generate_coupons,
        admin::cards::block,
        admin::cards::unblock,
        admin::failures::failures,
        admin::programs::get_config,
        admin::programs::apply_config,
        admin::programs::list_versions,
        admin::programs::get_version,
        admin::programs::diff,
        admin::programs::export,
        admin::programs::rollback,
        admin::programs::simulate,
        admin::programs::preview,
        admin::programs::list_objects,
        admin::programs::get_object,
        admin::programs::put_object,
        admin::programs::patch_object,
        admin::programs::remove_object,
        admin::programs::object_versions,
        admin::programs::campaign_status,
        admin::ledger::audit,
        admin::ledger::system,
        admin::jobs::jobs,
        admin::jobs::runs,
        admin::jobs::run,
        admin::reports::list,
        admin::reports::report,
        admin::fraud::alerts,
        admin::segments::segments,
        admin::receipts::receipt,
        admin::segments::members,
        admin::segments::history,
        admin::segments::try_segment,
        admin::fraud::alert,
        admin::fraud::decision,
        admin::messages::webhooks,
        admin::messages::secret,
        admin::messages::credential,
        admin::messages::telegram_webhook,
        admin::messages::preview_message,
        admin::customers::notifications,
        telegram::updates,
        admin::messages::test,
        admin::messages::deliveries,
        admin::messages::retry,
        admin::mailings::create,
        admin::mailings::list,
        admin::mailings::report,
        admin::mailings::cancel,
        admin::gifts::gifts,
        admin::staff::list_api_keys,
        admin::staff::create_api_key,
        admin::staff::revoke_api_key,
        admin::stores::terminals,
        admin::stores::create_terminal,
        admin::stores::rotate,
        admin::stores::revoke,
    ),
    components(schemas(
        ErrorBody,
        ErrorObject,
        ErrorCode,
        health::Health,
        health::Ready,
        pos::TerminalInfo,
        pos::OfflineUpload,
        pos::OfflineResult,
        pos::OfflineReport,
        pos::CancelRequest,
        auth::LoginRequest,
        auth::SessionOut,
        auth::UserOut,
        auth::MeOut,
        admin::customers::ConsentOut,
        admin::customers::CustomerOut,
        admin::customers::CustomerPage,
        admin::customers::NewCustomer,
        admin::customers::CustomerChanges,
        admin::customers::MergeRequest,
        admin::customers::PurchaseOut,
        admin::customers::PurchasePage,
        admin::audit::AuditPage,
        admin::ledger::SystemAccount,
        admin::jobs::JobOut,
        admin::jobs::JobRunOut,
        admin::jobs::RunPage,
        admin::gifts::GiftOut,
        admin::staff::ApiKeyOut,
        admin::staff::NewApiKey,
        admin::staff::ApiKeyCreated,
        admin::stores::TerminalOut,
        admin::stores::NewTerminal,
        admin::stores::TerminalKey,
        admin::programs::ObjectsOut,
        admin::programs::ObjectOut,
        admin::programs::ObjectChanged,
        admin::programs::ObjectVersion,
        admin::programs::ObjectVersionsOut,
        admin::programs::StatusIn,
        admin::programs::PreviewIn,
        admin::gifts::GiftPage,
        admin::crm_entries::CrmOut,
        admin::crm_entries::CrmPage,
        admin::crm_entries::NewCrm,
        admin::crm_entries::CrmChanges,
        admin::organisations::NewOrganisation,
        admin::organisations::OrganisationOut,
        admin::organisations::OrganisationPage,
        admin::cards::ReplaceCard,
        admin::staff::UserList,
        admin::staff::NewUserRequest,
        admin::staff::UserChanges,
        admin::cards::CodeOut,
        admin::balances::Adjustment,
        admin::balances::BalanceAfter,
        admin::balances::BalancesOut,
        admin::credit::Settlement,
        admin::credit::SettlementOut,
        admin::cards::IssueRequest,
        admin::cards::IssuedCards,
        admin::coupons::GenerateCoupons,
        admin::coupons::CouponOut,
        admin::coupons::GeneratedCoupons,
        admin::failures::FailurePage,
        admin::fraud::AlertPage,
        admin::segments::SegmentsOut,
        admin::receipts::ReceiptOut,
        admin::receipts::TransferOut,
        admin::receipts::OperationOut,
        admin::segments::SegmentOut,
        admin::segments::PassOut,
        admin::segments::MemberPage,
        admin::segments::MemberOut,
        admin::segments::HistoryOut,
        admin::segments::TryRequest,
        admin::segments::TryOut,
        admin::fraud::Decision,
        admin::messages::WebhookOut,
        admin::messages::SecretIn,
        admin::messages::CredentialIn,
        admin::messages::TelegramWebhookOut,
        admin::messages::PreviewIn,
        admin::messages::PreviewText,
        admin::messages::PreviewOut,
        admin::customers::NotificationOut,
        admin::customers::NotificationPage,
        admin::messages::TestOut,
        admin::messages::DeliveryPage,
        admin::programs::ConfigOut,
        admin::programs::VersionsOut,
        admin::programs::DiffOut,
        admin::programs::RollbackIn,
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
