//! The server shell: health, readiness, metrics, OpenAPI, errors, auth.

use loyd_testkit::both_backends;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{error_code, spawn_app};

both_backends! {
    async fn health_and_readiness_answer_when_the_database_does(db: TestDb) {
        let backend = db.backend();
        let app = spawn_app(db).await;
        let res = app.get("/healthz").await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["database"], backend);
    }

    async fn readiness_fails_with_a_code_once_the_database_is_gone(db: TestDb) {
        let app = spawn_app(db).await;
        app.store.close().await;
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key("retry-after"));
        assert_eq!(error_code(res).await, "unavailable");
    }

    async fn unknown_routes_and_methods_get_the_error_shape(db: TestDb) {
        let app = spawn_app(db).await;
        let res = app.get("/v1/nothing-here").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(res).await, "not_found");
        let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(error_code(res).await, "method_not_allowed");
    }

    async fn pos_calls_need_a_valid_terminal_key(db: TestDb) {
        let app = spawn_app(db).await;
        let res = app.get("/v1/pos/terminal").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(res).await, "unauthorized");
        let res = app.client.get(app.url("/v1/pos/terminal")).bearer_auth("lyt_wrong").send().await.unwrap();
        assert_eq!(error_code(res).await, "unauthorized");
        let res = app.client.get(app.url("/v1/pos/terminal")).header("Authorization", "Basic abc").send().await.unwrap();
        assert_eq!(error_code(res).await, "unauthorized");
        let res = app.client.get(app.url("/v1/pos/terminal")).bearer_auth("x".repeat(10_000)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = app.pos_get("/v1/pos/terminal").await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        assert_eq!((body["store"].as_str(), body["terminal"].as_str()), (Some("riga-01"), Some("pos-1")));
        assert_eq!(body["timezone"], "Europe/Riga");
    }

    async fn metrics_count_requests_by_route_and_status(db: TestDb) {
        let app = spawn_app(db).await;
        app.get("/healthz").await;
        app.get("/no-such-thing").await;
        let text = app.get("/metrics").await.text().await.unwrap();
        assert!(text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"}"#), "{text}");
        assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
        assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
        assert!(text.contains("db_pool_connections"), "{text}");
    }

    async fn the_openapi_document_describes_the_routes_and_the_error_shape(db: TestDb) {
        let app = spawn_app(db).await;
        let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
        for path in ["/healthz", "/readyz", "/v1/pos/terminal"] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing from the document");
        }
        assert!(doc["components"]["schemas"].get("ErrorBody").is_some());
        assert!(doc["components"]["securitySchemes"].get("terminal_key").is_some());
        let page = app.get("/docs").await.text().await.unwrap();
        assert!(page.contains("/openapi.json"));
        // The page loads nothing from the internet: its one script is served from here.
        assert!(!page.contains("http://") && !page.contains("https://"), "{page}");
        let script = page.split("<script src=\"").nth(1).and_then(|s| s.split('"').next()).expect("the page names its script");
        let res = app.get(script).await;
        assert_eq!(res.status(), 200, "{script}");
        assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        assert!(res.text().await.unwrap().len() > 1_000_000, "the renderer itself");
    }
}
