//! The admin console over HTTP, on both backends: signing in and out with cookies and
//! CSRF tokens, the security headers, the languages and the embedded files. (What a
//! person does in a browser is tested in a real browser.)

use loyd_testkit::both_backends;
use reqwest::header::{HeaderMap, SET_COOKIE};

use serde_json::json;

use crate::helpers::{TestApp, receipt, spawn_app, spawn_example};

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The `Set-Cookie` header setting `name`, whole.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&format!("{name}="))).map(str::to_owned)
}

/// `name=value` of a `Set-Cookie` header, for the next request's `Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The value of the hidden `csrf` field of a page.
fn csrf(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("the page has a CSRF field") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// A form body of `pairs`, URL-encoded.
fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>();
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

struct Signed {
    page: String,
}

/// Opens the sign-in form and sends it; returns the answer's status, headers and body.
async fn sign_in(app: &TestApp, login: &str, password: &str) -> (u16, HeaderMap, String) {
    let c = client();
    let form = c.get(app.url("/admin/login")).send().await.unwrap();
    let login_cookie = pair(&set_cookie(form.headers(), "loyd_login").expect("the form sets its cookie"));
    let token = csrf(&form.text().await.unwrap());
    let res = c
        .post(app.url("/admin/login"))
        .header("cookie", login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("login={login}&password={password}&csrf={token}"))
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.text().await.unwrap())
}

/// A new staff member of `role`, signed in: their session cookie.
async fn session(app: &TestApp, login: &str, role: &str) -> String {
    crate::helpers::staff(app, login, role, &[]).await;
    let (_, headers, _) = sign_in(app, login, &format!("{login}-password-1")).await;
    pair(&set_cookie(&headers, "loyd_session").unwrap())
}

async fn signed_in(app: &TestApp, login: &str) -> Signed {
    signed_in_as(app, login, "marketer", &[], "").await
}

/// A staff member of `role` (limited to `stores`) signed in; their dashboard in `lang`.
async fn signed_in_as(app: &TestApp, login: &str, role: &str, stores: &[&str], lang: &str) -> Signed {
    crate::helpers::staff(app, login, role, stores).await;
    let (status, headers, _) = sign_in(app, login, &format!("{login}-password-1")).await;
    assert_eq!(status, 303);
    let cookie = pair(&set_cookie(&headers, "loyd_session").unwrap());
    let page = client().get(app.url(&format!("/admin?lang={lang}"))).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    Signed { page }
}

/// The texts the console's catalogues give (i18n/said.lv.toml, said.et.toml).
const LV_NOT_EMAIL: &str = "„anna-at-example“ nav e-pasta adrese";
const ET_PASSWORD: &str = "parool peab olema 10 kuni 256 märki pikk";
const ET_LOGIN_TAKEN: &str = "juba olemas: töötaja „mara“";

/// The dashboard's count of customers with a purchase in 30 days.
fn active(html: &str) -> &str {
    html.split(r#"data-figure="active">"#).nth(1).and_then(|r| r.split('<').next()).expect("the figure is shown")
}

/// The text of the element with `data-figure="{name}"` within the section `id`.
fn figure(html: &str, section: &str, name: &str) -> Option<String> {
    let at = html.find(&format!(r#"id="{section}""#))?;
    let rest = &html[at..];
    let rest = &rest[..rest.find("</section>").unwrap_or(rest.len())];
    let f = rest.find(&format!(r#"data-figure="{name}">"#))? + format!(r#"data-figure="{name}">"#).len();
    Some(rest[f..].split('<').next().unwrap().to_owned())
}

both_backends! {
    async fn staff_sign_in_with_a_session_cookie_only_scripts_can_not_read_and_sign_out_with_its_token(db: TestDb) {
        let app = spawn_app(db).await;
        // Not signed in: to the sign-in form.
        let res = client().get(app.url("/admin")).send().await.unwrap();
        assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (303, "/admin/login"));
        crate::helpers::staff(&app, "mara", "marketer", &[]).await;
        // A wrong password: the form again, the error next to the field, the login kept.
        let (status, _, html) = sign_in(&app, "mara", "wrong-password").await;
        assert_eq!(status, 401);
        assert!(html.contains(r#"id="login-error" class="error" role="alert">Wrong login or password."#), "{html}");
        assert!(html.contains(r#"value="mara""#));
        // The right one: a session cookie for the console only, out of scripts' reach.
        let (status, headers, _) = sign_in(&app, "mara", "mara-password-1").await;
        assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/admin"));
        let session = set_cookie(&headers, "loyd_session").unwrap();
        for part in ["Path=/admin", "HttpOnly", "SameSite=Strict"] {
            assert!(session.contains(part), "{session}");
        }
        let cookie = pair(&session);
        let res = client().get(app.url("/admin")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        let page = res.text().await.unwrap();
        assert!(page.contains(r#"<strong id="who">mara</strong>"#), "{page}");
        assert!(!page.contains("<script>"), "no inline script");
        // Signing out needs the page's token; without it, nothing happens.
        let post = |body: String| client().post(app.url("/admin/logout")).header("cookie", &cookie).header("content-type", "application/x-www-form-urlencoded").body(body).send();
        assert_eq!(post("csrf=0000".into()).await.unwrap().status(), 403);
        assert_eq!(client().get(app.url("/admin")).header("cookie", &cookie).send().await.unwrap().status(), 200, "still signed in");
        let res = post(format!("csrf={}", csrf(&page))).await.unwrap();
        assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (303, "/admin/login"));
        assert!(set_cookie(res.headers(), "loyd_session").unwrap().contains("Max-Age=0"));
        // The session is over on the server too: the old cookie no longer works.
        assert_eq!(client().get(app.url("/admin")).header("cookie", &cookie).send().await.unwrap().status(), 303);
    }

    async fn a_sign_in_form_without_its_token_is_refused_and_wrong_passwords_lock_the_login(db: TestDb) {
        let app = spawn_app(db).await;
        crate::helpers::staff(&app, "olga", "support", &[]).await;
        // Posted from elsewhere: no form cookie, no token.
        let res = client()
            .post(app.url("/admin/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("login=olga&password=olga-password-1&csrf=x")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        assert!(set_cookie(res.headers(), "loyd_session").is_none());
        for _ in 0..5 {
            assert_eq!(sign_in(&app, "olga", "nope").await.0, 401);
        }
        let (status, _, html) = sign_in(&app, "olga", "olga-password-1").await;
        assert_eq!(status, 429);
        assert!(html.contains("locked"), "{html}");
    }

    async fn the_console_speaks_the_language_asked_for_and_remembers_it(db: TestDb) {
        let app = spawn_app(db).await;
        let get = |path: &str, headers: &[(&str, &str)]| {
            let mut req = client().get(app.url(path));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send()
        };
        let html = get("/admin/login", &[]).await.unwrap().text().await.unwrap();
        assert!(html.contains(r#"<html lang="en">"#) && html.contains("Sign in"));
        let html = get("/admin/login", &[("accept-language", "de-DE,ru;q=0.8")]).await.unwrap().text().await.unwrap();
        assert!(html.contains(r#"<html lang="ru">"#) && html.contains("Войти"), "{html}");
        let res = get("/admin/login?lang=lv", &[("accept-language", "ru")]).await.unwrap();
        let remembered = pair(&set_cookie(res.headers(), "loyd_lang").unwrap());
        assert!(res.text().await.unwrap().contains("Pieteikties"));
        let html = get("/admin/login", &[("accept-language", "ru"), ("cookie", &remembered)]).await.unwrap().text().await.unwrap();
        assert!(html.contains(r#"<html lang="lv">"#), "the choice outlasts the browser's");
        let html = get("/admin/login?lang=et", &[]).await.unwrap().text().await.unwrap();
        assert!(html.contains("Logi sisse"));
        let signed = signed_in(&app, "mara").await;
        assert!(signed.page.contains("Dashboard") && signed.page.contains("Sign out"));
    }

    async fn the_consoles_files_are_embedded_under_names_that_change_with_their_content(db: TestDb) {
        let app = spawn_app(db).await;
        let html = client().get(app.url("/admin/login")).send().await.unwrap().text().await.unwrap();
        for (prefix, kind) in [("/admin/assets/htmx-", "text/javascript"), ("/admin/assets/console-", "text/css")] {
            let at = html.find(prefix).unwrap_or_else(|| panic!("{prefix} linked: {html}"));
            let path = html[at..].split('"').next().unwrap().to_owned();
            let res = client().get(app.url(&path)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            assert!(res.headers()["content-type"].to_str().unwrap().starts_with(kind));
            assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
            assert!(!res.bytes().await.unwrap().is_empty());
        }
        assert_eq!(client().get(app.url("/admin/assets/htmx-000000000000.js")).send().await.unwrap().status(), 404);
    }

    async fn the_dashboard_shows_todays_figures_per_currency_and_30_days_of_revenue_in_the_staff_members_stores(db: TestDb) {
        let app = spawn_example(db, "two-currencies.toml").await;
        let (customer, card) = app.customer_with_card("+37120002001", "LOY").await;
        app.grant(customer, "wallet", 500).await;
        assert_eq!(app.commit(&receipt("old", Some(&card), "10.00")).await.0, 201);
        let unknown = |id: &str| receipt(id, Some("2770000000999"), "5.00");
        assert_eq!(app.commit(&unknown("old-refused")).await.0, 404);
        app.clock.advance(jiff::SignedDuration::from_hours(72));
        assert_eq!(app.commit(&unknown("refused-riga")).await.0, 404);
        let mut paid = receipt("r-1", Some(&card), "12.00");
        paid["redeem"] = json!([{"currency": "wallet", "amount": "2.00"}]);
        let (status, body) = app.commit(&paid).await;
        assert_eq!(status, 201, "{body}");
        let earned = body["accrued"].as_array().unwrap().iter().find(|a| a["currency"] == "wallet").map(|a| a["amount"].as_str().unwrap().to_owned()).unwrap();
        assert_eq!(app.commit(&receipt("r-2", None, "1234.50")).await.0, 201);
        let pskov = app.terminal_key("pskov-01", "pos-1").await;
        assert_eq!(app.commit_as(&pskov, &receipt("p-1", None, "1970.00")).await.0, 201);
        assert_eq!(app.commit_as(&pskov, &unknown("refused-pskov")).await.0, 404);
        // The days before today come from the sales aggregates, which the job keeps.
        let added = app.store.roll_up(500).await.unwrap();
        let transfers: usize = app.db().texts("SELECT CAST(COUNT(*) AS TEXT) FROM transfers").await[0].parse().unwrap();
        assert_eq!(added, 4 + transfers, "4 receipts and the ledger's transfers");

        let page = signed_in_as(&app, "mara", "marketer", &[], "").await.page;
        assert_eq!(figure(&page, "today-EUR", "receipts").as_deref(), Some("2"), "{page}");
        assert_eq!(figure(&page, "today-EUR", "revenue").as_deref(), Some("1,246.50"));
        assert_eq!(figure(&page, "today-EUR", "redeemed").as_deref(), Some("2.00"));
        assert_eq!(figure(&page, "today-RUB", "revenue").as_deref(), Some("1,970.00"));
        assert!(page.contains("1,970.00</title>"), "today's bar of roubles");
        assert!(page.contains(": 10.00</title>"), "the euro bar of three days ago: {page}");
        assert_eq!(page.matches("<rect ").count(), 60, "30 days for each currency");
        assert_eq!(active(&page), "1", "one customer bought, twice");
        // What today's receipts gave and took: the wallet's cashback and its 2.00 (the
        // cashback of three days ago is not today's).
        let flow = |page: &str, class: &str| page.split(r#"<tr id="points-wallet">"#).nth(1).and_then(|r| r.split(&format!(r#"class="{class}">"#)).nth(1)).map(|r| r.split('<').next().unwrap().to_owned());
        assert_eq!((flow(&page, "accrued"), flow(&page, "redeemed")), (Some(earned.clone()), Some("2.00".to_owned())), "{page}");
        assert_eq!(figure(&page, "totals", "failures"), None, "a marketer does not read the failure log");
        let page = signed_in_as(&app, "anna", "analyst", &[], "").await.page;
        assert_eq!(figure(&page, "totals", "failures").as_deref(), Some("2"), "today's refusals, not the one of three days ago");
        // A store manager of Pskov sees Pskov only, in Russian numbers.
        let page = signed_in_as(&app, "pavel", "store_manager", &["pskov-01"], "ru").await.page;
        assert_eq!(figure(&page, "today-EUR", "revenue"), None);
        assert_eq!(figure(&page, "today-RUB", "revenue").as_deref(), Some("1\u{a0}970,00"));
        assert_eq!(active(&page), "0");
        assert_eq!(figure(&page, "totals", "failures").as_deref(), Some("1"));
        assert!(!page.contains(r#"id="points""#), "nothing was given or taken in Pskov");
    }

    async fn an_admin_adds_a_terminal_in_the_console_sees_its_key_once_and_revokes_it_others_may_not(db: TestDb) {
        let app = spawn_app(db).await;
        let admin = session(&app, "ada", "admin").await;
        let page = client().get(app.url("/admin/stores")).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"id="store-riga-01""#) && page.contains(r#"href="/admin/stores" aria-current="page""#), "{page}");
        let token = csrf(&page);
        let post = |path: &str, body: String| {
            client().post(app.url(path)).header("cookie", &admin).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        // Added: the key is on the page once, and works at the till.
        let res = post("/admin/stores/riga-01/terminals", format!("terminal=pos-7&csrf={token}")).await.unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        let key = page.split(r#"<code id="key">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
        let till = |key: String| {
            let app = &app;
            async move { app.client.get(app.url("/v1/pos/terminal")).bearer_auth(key).send().await.unwrap().status().as_u16() }
        };
        assert_eq!(till(key.clone()).await, 200);
        let again = client().get(app.url("/admin/stores")).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
        assert!(!again.contains(&key), "the key is never shown again");
        assert!(again.contains(r#"id="terminal-riga-01-pos-7""#));
        // The same id again: refused next to the form, in words that say what to do.
        let res = post("/admin/stores/riga-01/terminals", format!("terminal=pos-7&csrf={token}")).await.unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        assert!(page.contains(r#"id="error-riga-01" class="error" role="alert">This store already has a terminal with that id"#), "{page}");
        // Without the form's token nothing happens.
        assert_eq!(post("/admin/stores/riga-01/terminals/pos-7/revoke", "csrf=nope".into()).await.unwrap().status(), 403);
        assert_eq!(till(key.clone()).await, 200);
        let res = post("/admin/stores/riga-01/terminals/pos-7/revoke", format!("csrf={token}")).await.unwrap();
        assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (303, "/admin/stores"));
        assert_eq!(till(key).await, 401);
        // An htmx request carries the token in its header instead of a field: a wrong
        // one is refused, the page's one works (a new key brings the terminal back).
        let hx = |token: String| {
            client()
                .post(app.url("/admin/stores/riga-01/terminals/pos-7/rotate"))
                .header("cookie", &admin)
                .header("x-csrf-token", token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("")
                .send()
        };
        assert_eq!(hx("0000".into()).await.unwrap().status(), 403);
        let page = hx(token.clone()).await.unwrap().text().await.unwrap();
        let key = page.split(r#"<code id="key">"#).nth(1).expect("a new key is shown").split('<').next().unwrap().to_owned();
        assert_eq!(till(key).await, 200);
        // A marketer has no such page: no link, and the server refuses it.
        let marketer = session(&app, "mara", "marketer").await;
        let home = client().get(app.url("/admin")).header("cookie", &marketer).send().await.unwrap().text().await.unwrap();
        assert!(!home.contains(r#"href="/admin/stores""#));
        assert_eq!(client().get(app.url("/admin/stores")).header("cookie", &marketer).send().await.unwrap().status(), 403);
        let res = client()
            .post(app.url("/admin/stores/riga-01/terminals"))
            .header("cookie", &marketer)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("terminal=pos-8&csrf=x")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }

    async fn an_admin_adds_a_staff_member_in_the_console_and_disabling_them_ends_their_session(db: TestDb) {
        let app = spawn_app(db).await;
        let session = |login: &'static str, password: String| {
            let app = &app;
            async move {
                let (status, headers, _) = sign_in(app, login, &password).await;
                assert_eq!(status, 303, "{login} signs in");
                pair(&set_cookie(&headers, "loyd_session").unwrap())
            }
        };
        crate::helpers::staff(&app, "ada", "admin", &[]).await;
        let admin = session("ada", "ada-password-1".into()).await;
        let page = client().get(app.url("/admin/staff")).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"href="/admin/staff" aria-current="page""#), "{page}");
        let token = csrf(&page);
        let post = |path: &str, body: String| {
            client().post(app.url(path)).header("cookie", &admin).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        // Too short a password: said next to the form, the login kept, nobody created.
        let res = post("/admin/staff", format!("login=pavel&password=short&role=store_manager&stores=riga-01&csrf={token}")).await.unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        assert!(page.contains(r#"id="user-error" class="error" role="alert">"#) && page.contains(r#"value="pavel""#), "{page}");
        assert!(!page.contains(r#"id="user-pavel""#));
        // Created: a store manager of Riga, who can sign in.
        let res = post("/admin/staff", format!("login=Pavel&password=pavel-password-1&role=store_manager&stores=riga-01&csrf={token}")).await.unwrap();
        assert_eq!(res.status(), 303);
        let page = client().get(app.url("/admin/staff")).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"<tr id="user-pavel">"#) && page.contains(r#"<span class="tag">riga-01</span>"#), "{page}");
        let pavel = session("pavel", "pavel-password-1".into()).await;
        assert_eq!(client().get(app.url("/admin")).header("cookie", &pavel).send().await.unwrap().status(), 200);
        // Disabled: his session ends at once; enabled again, he signs in anew.
        assert_eq!(post("/admin/staff/pavel/switch", format!("csrf={token}")).await.unwrap().status(), 303);
        assert_eq!(client().get(app.url("/admin")).header("cookie", &pavel).send().await.unwrap().status(), 303);
        assert_eq!(sign_in(&app, "pavel", "pavel-password-1").await.0, 401);
        assert_eq!(post("/admin/staff/pavel/switch", format!("csrf={token}")).await.unwrap().status(), 303);
        let pavel = session("pavel", "pavel-password-1".into()).await;
        // The admin cannot switch themselves off from the page, and others have no page.
        let page = client().get(app.url("/admin/staff")).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
        assert!(!page.contains(r#"action="/admin/staff/ada/switch""#));
        assert_eq!(client().get(app.url("/admin/staff")).header("cookie", &pavel).send().await.unwrap().status(), 403);
        // An API key for an integration: shown once, works with its role, revoked at once.
        let res = post("/admin/staff/api-keys", format!("name=erp&role=store_manager&csrf={token}")).await.unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        assert!(page.contains(r#"id="key-error" class="error" role="alert">"#) && page.contains("role is one of admin, marketer"), "{page}");
        let page = post("/admin/staff/api-keys", format!("name=erp&role=analyst&csrf={token}")).await.unwrap().text().await.unwrap();
        let key = page.split(r#"<code id="key">"#).nth(1).expect("the key is shown").split('<').next().unwrap().to_owned();
        let api = |key: String| {
            let app = &app;
            async move { crate::helpers::call(app, "GET", "/v1/admin/customers", &key, None).await.0 }
        };
        assert_eq!(api(key.clone()).await, 200);
        let page = client().get(app.url("/admin/staff")).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"<tr id="api-key-erp">"#) && !page.contains(&key), "listed, the key never shown again");
        assert_eq!(post("/admin/staff/api-keys/erp/revoke", format!("csrf={token}")).await.unwrap().status(), 303);
        assert_eq!(api(key).await, 401);
    }

    async fn customers_are_found_as_each_role_may_and_only_card_managers_block_cards(db: TestDb) {
        let app = spawn_example(db, "s10-returns.toml").await;
        let (id, card) = app.customer_with_card("+37120004343", "LOY").await;
        let get = |cookie: String, path: String| {
            let app = &app;
            async move {
                let res = client().get(app.url(&path)).header("cookie", cookie).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let support = session(&app, "sofia", "support").await;
        let (status, page) = get(support.clone(), "/admin/customers?by=phone&q=%2B37120004343".into()).await;
        assert_eq!(status, 200);
        assert!(page.contains(&format!(r#"<a href="/admin/customers/c_{id}">c_{id}</a>"#)) && page.contains("+37120004343"), "{page}");
        let (_, page) = get(support.clone(), format!("/admin/customers/c_{id}")).await;
        assert!(page.contains(&format!(r#"action="/admin/customers/c_{id}/cards/{card}/block""#)), "support may block: {page}");
        // An analyst sees contact data masked and cannot search by it; by card, yes.
        let analyst = session(&app, "anton", "analyst").await;
        let (status, page) = get(analyst.clone(), "/admin/customers?by=phone&q=%2B37120004343".into()).await;
        assert_eq!(status, 422);
        assert!(page.contains(r#"id="search-error" class="error" role="alert">Your role sees contact data masked"#), "{page}");
        let (_, page) = get(analyst.clone(), format!("/admin/customers?by=card&q={card}")).await;
        assert!(page.contains(&format!("c_{id}")) && !page.contains("+37120004343"), "{page}");
        let (_, page) = get(analyst.clone(), format!("/admin/customers/c_{id}")).await;
        assert!(!page.contains("/block\""), "no block button for an analyst");
        let res = client()
            .post(app.url(&format!("/admin/customers/c_{id}/cards/{card}/block")))
            .header("cookie", &analyst)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("csrf=x")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "and the server refuses it");
        let state = |card: String| {
            let app = &app;
            async move { app.pos_get(&format!("/v1/pos/cards/{card}")).await.json::<serde_json::Value>().await.unwrap()["state"].clone() }
        };
        assert_eq!(state(card.clone()).await, "active");
        // Support blocks it, with the page's token; another customer's card is not reachable from this page.
        let token = csrf(&get(support.clone(), format!("/admin/customers/c_{id}")).await.1);
        let post = |path: String| {
            client().post(app.url(&path)).header("cookie", &support).header("content-type", "application/x-www-form-urlencoded").body(format!("csrf={token}")).send()
        };
        assert_eq!(post(format!("/admin/customers/c_{id}/cards/9999999999999/block")).await.unwrap().status(), 404);
        let res = post(format!("/admin/customers/c_{id}/cards/{card}/block")).await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(state(card.clone()).await, "blocked");
        assert_eq!(get(support, "/admin/customers/c_999".into()).await.0, 404);
    }

    async fn the_failure_log_shows_refusals_newest_first_filtered_and_only_in_ones_stores(db: TestDb) {
        let app = spawn_example(db, "two-currencies.toml").await;
        for k in 0..3 {
            let (status, _) = app.commit(&receipt(&format!("bad-{k}"), Some(&format!("27700000099{k}")), "5.00")).await;
            assert_eq!(status, 404, "an unknown card is refused and logged");
        }
        let pskov = app.terminal_key("pskov-01", "pos-1").await;
        assert_eq!(app.commit_as(&pskov, &receipt("p-bad", Some("2770000000999"), "5.00")).await.0, 404);
        let support = session(&app, "sofia", "support").await;
        let get = |cookie: String, path: &'static str| {
            let app = &app;
            async move {
                let res = client().get(app.url(path)).header("cookie", cookie).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let (status, page) = get(support.clone(), "/admin/failures").await;
        assert_eq!(status, 200);
        assert_eq!(page.matches("<code>unknown_card</code>").count(), 4, "{page}");
        let (_, page) = get(support.clone(), "/admin/failures?store=pskov-01").await;
        assert_eq!(page.matches("<code>unknown_card</code>").count(), 1);
        let (_, page) = get(support, "/admin/failures?code=wrong_pin").await;
        assert!(page.contains("No refusals match."));
        // A store manager of Riga sees Riga's only; a marketer has no such page.
        crate::helpers::staff(&app, "rita", "store_manager", &["riga-01"]).await;
        let (_, headers, _) = sign_in(&app, "rita", "rita-password-1").await;
        let rita = pair(&set_cookie(&headers, "loyd_session").unwrap());
        let (_, page) = get(rita, "/admin/failures").await;
        assert_eq!(page.matches("<code>unknown_card</code>").count(), 3, "{page}");
        let marketer = session(&app, "mara", "marketer").await;
        let (status, home) = get(marketer.clone(), "/admin").await;
        assert_eq!(status, 200);
        assert!(!home.contains(r#"href="/admin/failures""#));
        assert_eq!(get(marketer, "/admin/failures").await.0, 403);
    }

    async fn a_campaign_is_built_checked_at_its_fields_simulated_and_run_through_its_lifecycle_in_the_console(db: TestDb) {
        let app = crate::helpers::spawn_at(db, crate::helpers::example("s8-tiers.toml"), loyd_api::ApiConfig::default(), "2026-11-28T08:00:00Z").await;
        crate::helpers::admin(&app).await;
        let (_, card) = app.customer_with_card("+37120006666", "LOY").await;
        // 300.00 makes the customer silver; their next receipt has 40.00 of dairy.
        assert_eq!(app.commit(&receipt("r-0", Some(&card), "300.00")).await.0, 201);
        let mut r = receipt("r-1", Some(&card), "40.00");
        r["lines"][0]["groups"] = json!(["dairy"]);
        let (_, body) = app.commit(&r).await;
        assert_eq!(body["discount"], "1.20", "silver's own 3 %: {body}");
        let marketer = session(&app, "mara", "marketer").await;
        let get = |path: String, cookie: String| {
            let app = &app;
            async move {
                let res = client().get(app.url(&path)).header("cookie", cookie).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let post = |path: &str, cookie: &str, body: String| {
            client().post(app.url(path)).header("cookie", cookie).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let (status, page) = get("/admin/campaigns/~new".into(), marketer.clone()).await;
        assert_eq!(status, 200);
        let token = csrf(&page);
        assert!(page.contains(r#"name="tiers" value="silver""#) && page.contains(r#"name="rewards[0].type""#), "the choices come from the program");
        // Every problem at once, each next to its field: a word for a number is the
        // form's to refuse, a percent over 100 the engine's.
        let base = [("csrf", token.as_str()), ("id", "dairy-10"), ("name", "Dairy"), ("weekdays", "sat"), ("weekdays", "sun"), ("tiers", "silver"), ("rewards[0].type", "discount"), ("rewards[0].groups", "dairy")];
        let with = |extra: &[(&'static str, &'static str)]| form(&[&base[..], extra].concat());
        let res = post("/admin/campaigns", &marketer, with(&[("rewards[0].percent", "ten"), ("priority", "high")])).await.unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        assert!(page.contains(r#"id="f-rewards-0-percent-error">Enter a number"#) && page.contains(r#"id="f-priority-error">Enter a whole number"#), "{page}");
        assert!(page.contains(r#"value="ten""#), "what was typed is kept");
        let res = post("/admin/campaigns", &marketer, with(&[("rewards[0].percent", "150")])).await.unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        let reward = page.split(r#"id="reward-1""#).nth(1).unwrap().split("</fieldset>").next().unwrap();
        assert!(reward.contains(r#"<p class="error" role="alert">a discount needs exactly one of percent (0–100)"#), "{page}");
        assert!(page.contains(r##"<a href="#reward-1">Reward 1</a>"##), "the summary links to the reward");
        assert_eq!(call_status(&app, "/v1/admin/config/campaigns/dairy-10").await, 404, "nothing was saved");
        // Saved as a draft: it runs nowhere yet.
        let res = post("/admin/campaigns", &marketer, with(&[("rewards[0].percent", "10")])).await.unwrap();
        assert_eq!(res.status(), 303);
        assert!(res.headers()["location"].to_str().unwrap().starts_with("/admin/campaigns/dairy-10?saved="));
        let (_, stored) = crate::helpers::call(&app, "GET", "/v1/admin/config/campaigns/dairy-10", crate::helpers::ADMIN_KEY, None).await;
        let c = &stored["object"];
        assert_eq!((c["status"].as_str(), c["weekdays"].clone(), c["tiers"].clone()), (Some("draft"), json!(["sat", "sun"]), json!(["silver"])));
        assert_eq!((c["rewards"][0]["percent"].as_str(), c["rewards"][0]["groups"].clone()), (Some("10"), json!(["dairy"])));
        // The same id again is refused at the id.
        let res = post("/admin/campaigns", &marketer, with(&[("rewards[0].percent", "10")])).await.unwrap();
        assert!(res.text().await.unwrap().contains(r#"id="f-id-error">A campaign with this id exists"#));
        // Simulated over the last 30 days as the form stands: 10 % of 40.00 of dairy.
        let res = post("/admin/campaigns/~simulate", &marketer, with(&[("rewards[0].percent", "10"), ("sim_days", "30")])).await.unwrap();
        let fragment = res.text().await.unwrap();
        assert!(fragment.contains(r#"id="sim-cost">4.00 EUR"#) && fragment.contains(r#"id="sim-customers">1"#), "{fragment}");
        // A sample receipt as the customer's till would compute it with the draft: 10 % of
        // the dairy first (campaigns of one priority run by id), then silver's 3 %.
        let sample = [("pv_store", "riga-01"), ("pv_card", card.as_str()), ("pv_sku_1", "CHEESE"), ("pv_groups_1", "dairy"), ("pv_amount_1", "50,00"), ("pv_sku_2", "SOAP"), ("pv_amount_2", "10.00")];
        let res = post("/admin/campaigns/~preview", &marketer, form(&[&base[..], &[("rewards[0].percent", "10")], &sample[..]].concat())).await.unwrap();
        let fragment = res.text().await.unwrap();
        let cheese = fragment.split(r#"id="preview-line-1""#).nth(1).unwrap().split("</tr>").next().unwrap();
        assert!(cheese.contains("dairy-10: 5.00") && cheese.contains("silver-3: 1.35"), "{fragment}");
        assert!(fragment.contains(r#"id="preview-discount">6.65"#), "5.00 + 1.35 + 3 % of the soap: {fragment}");
        let res = post("/admin/campaigns/~preview", &marketer, form(&[&base[..], &[("rewards[0].percent", "10"), ("pv_card", "2770999999999"), ("pv_sku_1", "X"), ("pv_amount_1", "1.00")]].concat())).await.unwrap();
        assert!(res.text().await.unwrap().contains("The receipt could not be computed"), "an unknown card is said");
        let (_, answer) = crate::helpers::call(&app, "POST", "/v1/admin/config/preview?store=riga-01", crate::helpers::ADMIN_KEY,
            Some(json!({"receipt": {"receipt_id": "p-1", "customer": {"card": card}, "lines": [{"line": 1, "sku": "CHEESE", "groups": ["dairy"], "qty": "1", "amount": "50.00"}]}}))).await;
        assert_eq!(answer["discount"], "1.50", "without a change, the program in force: silver's 3 % only: {answer}");
        assert!(app.failure_codes().await.is_empty(), "a preview is no till's refusal");
        // The lifecycle: a draft is not paused; activated, paused, archived; never back.
        let (_, page) = get("/admin/campaigns/dairy-10".into(), marketer.clone()).await;
        assert!(page.contains(r#"id="to-active""#) && !page.contains(r#"id="to-paused""#), "{page}");
        let status = |to: &str| post("/admin/campaigns/dairy-10/status", &marketer, form(&[("csrf", &token), ("status", to)]));
        assert_eq!(status("paused").await.unwrap().status(), 409);
        for to in ["active", "paused", "active", "archived"] {
            assert_eq!(status(to).await.unwrap().status(), 303, "{to}");
        }
        let res = status("active").await.unwrap();
        assert_eq!(res.status(), 409);
        assert!(res.text().await.unwrap().contains("cannot run again"));
        // Its history, field by field, newest first.
        let (_, page) = get("/admin/campaigns/dairy-10".into(), marketer.clone()).await;
        assert!(page.contains("<code>status</code>: active → archived"), "{page}");
        let (_, versions) = crate::helpers::call(&app, "GET", "/v1/admin/config/campaigns/dairy-10/versions", crate::helpers::ADMIN_KEY, None).await;
        let actions: Vec<&str> = versions["versions"].as_array().unwrap().iter().map(|v| v["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["update", "update", "update", "update", "create"]);
        // The list filters by status.
        let (_, list) = get("/admin/campaigns?status=archived".into(), marketer.clone()).await;
        assert!(list.contains(r#"id="campaign-dairy-10""#) && !list.contains(r#"id="campaign-gold-5""#));
        // An analyst reads campaigns but changes nothing; customer care has no page.
        let analyst = session(&app, "ann", "analyst").await;
        let (status, page) = get("/admin/campaigns/gold-5".into(), analyst.clone()).await;
        assert_eq!(status, 200);
        assert!(page.contains("<fieldset class=\"plain\" disabled>") && !page.contains(r#"id="save""#));
        let res = post("/admin/campaigns/gold-5", &analyst, form(&[("csrf", &csrf(&page)), ("name", "Mine")])).await.unwrap();
        assert_eq!(res.status(), 403);
        let support = session(&app, "sue", "support").await;
        assert_eq!(get("/admin/campaigns".into(), support).await.0, 403);
        // Without its token, a form changes nothing.
        assert_eq!(post("/admin/campaigns/gold-5", &marketer, form(&[("name", "Forged")])).await.unwrap().status(), 403);
    }

    async fn coupon_codes_are_generated_as_a_csv_download_by_those_who_may_issue_coupons_and_a_bad_count_is_said_at_the_form(db: TestDb) {
        let app = spawn_example(db, "s7-coupons.toml").await;
        crate::helpers::admin(&app).await;
        let marketer = session(&app, "mara", "marketer").await;
        let page = client().get(app.url("/admin/coupons")).header("cookie", &marketer).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("<code>WELCOME10</code>") && page.contains(r#"id="generate-GEN""#) && !page.contains(r#"id="generate-WELCOME10""#), "{page}");
        let token = csrf(&page);
        let post = |cookie: &str, body: String| {
            client().post(app.url("/admin/coupons/GEN")).header("cookie", cookie).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let res = post(&marketer, form(&[("csrf", &token), ("count", "3")])).await.unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        assert_eq!(res.headers()["content-disposition"], r#"attachment; filename="coupons-GEN.csv""#);
        let csv = res.text().await.unwrap();
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), 3, "{csv}");
        // 90 days from today, in RFC 3339.
        assert!(rows.iter().all(|r| r.split(',').nth(1) == Some("GEN") && r.ends_with("Z") && r.contains("2027-02-22")), "{csv}");
        // The same form sent again (a double click) makes no second batch, and says why.
        let operation = page.split(r#"name="operation" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
        assert_eq!(post(&marketer, form(&[("csrf", &token), ("operation", &operation), ("count", "2")])).await.unwrap().status(), 201);
        let res = post(&marketer, form(&[("csrf", &token), ("operation", &operation), ("count", "2")])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(r#"id="count-GEN-error">This batch was already made"#));
        for bad in ["0", "many", "100001"] {
            let res = post(&marketer, form(&[("csrf", &token), ("count", bad)])).await.unwrap();
            assert_eq!(res.status(), 422, "{bad}");
            let page = res.text().await.unwrap();
            assert!(page.contains(r#"id="count-GEN-error">Enter how many codes, from 1 to 100 000."#), "{page}");
            assert!(page.contains(&format!(r#"value="{bad}""#)), "what was typed stays");
        }
        // An analyst reads the series but cannot generate; without a token, nobody can.
        let analyst = session(&app, "ann", "analyst").await;
        let page = client().get(app.url("/admin/coupons")).header("cookie", &analyst).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"id="series-GEN""#) && !page.contains(r#"id="generate-GEN""#));
        assert_eq!(post(&analyst, form(&[("csrf", &csrf(&page)), ("count", "3")])).await.unwrap().status(), 403);
        assert_eq!(post(&marketer, form(&[("count", "3")])).await.unwrap().status(), 403);
        // The API answers CSV when asked for it, JSON otherwise.
        let res = app.client.post(app.url("/v1/admin/coupons")).bearer_auth(crate::helpers::ADMIN_KEY).header("accept", "text/csv")
            .json(&json!({"series": "GEN", "count": 2})).send().await.unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(res.text().await.unwrap().lines().count(), 3);
        let (status, body) = crate::helpers::call(&app, "POST", "/v1/admin/coupons", crate::helpers::ADMIN_KEY, Some(json!({"series": "GEN", "count": 2}))).await;
        assert_eq!((status, body["coupons"].as_array().map(Vec::len)), (201, Some(2)));
    }

    async fn the_program_is_edited_object_by_object_and_exported_and_imported_with_a_dry_run_first(db: TestDb) {
        let app = spawn_example(db, "s8-tiers.toml").await;
        crate::helpers::admin(&app).await;
        let (_, card) = app.customer_with_card("+37120007777", "LOY").await;
        let marketer = session(&app, "mara", "marketer").await;
        let get = |path: &str, cookie: &str| {
            let req = client().get(app.url(path)).header("cookie", cookie);
            async move {
                let res = req.send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let post = |path: &str, cookie: &str, body: String| {
            client().post(app.url(path)).header("cookie", cookie).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let object = |path: &'static str| {
            let app = &app;
            async move { crate::helpers::call(app, "GET", path, crate::helpers::ADMIN_KEY, None).await.1["object"].clone() }
        };
        let (status, index) = get("/admin/program", &marketer).await;
        assert_eq!(status, 200);
        assert!(index.contains(r#"href="/admin/program/tiers""#) && index.contains(r#"href="/admin/campaigns""#), "{index}");
        let token = csrf(&index);
        // A tier's levels as rows: a level added, a bad number said at its field.
        let (_, page) = get("/admin/program/tiers/status", &marketer).await;
        assert!(page.contains(r#"id="f-levels-1-from" name="levels[1].from" value="300.00""#), "{page}");
        let levels = |extra: &[(&'static str, &'static str)]| {
            let base = [("csrf", token.as_str()), ("counter", "sum-365"), ("levels[0].id", "base"), ("levels[0].from", "0"), ("levels[1].id", "silver"), ("levels[2].id", "gold"), ("levels[2].from", "1000.00")];
            form(&[&base[..], extra].concat())
        };
        let res = post("/admin/program/tiers/status", &marketer, levels(&[("levels[1].from", "lots")])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(r#"id="f-levels-1-from-error">Enter a number"#));
        let res = post("/admin/program/tiers/status", &marketer, levels(&[("levels[1].from", "300,00"), ("levels[3].id", "platinum"), ("levels[3].from", "5000")])).await.unwrap();
        assert_eq!(res.status(), 303);
        let tier = object("/v1/admin/config/tiers/status").await;
        assert_eq!(tier["levels"][3], json!({"id": "platinum", "from": "5000"}), "{tier}");
        assert_eq!(tier["levels"][1]["from"], "300.00");
        // A new currency; the same id again is refused at the id.
        let points = [("csrf", token.as_str()), ("code", "BONUS"), ("kind", "points"), ("scale", "0"), ("value", "0.10")];
        let res = post("/admin/program/currencies", &marketer, form(&points)).await.unwrap();
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        assert_eq!(object("/v1/admin/config/currencies/BONUS").await["value"], "0.10");
        let res = post("/admin/program/currencies", &marketer, form(&points)).await.unwrap();
        assert!(res.text().await.unwrap().contains(r#"id="f-code-error">One with this id exists"#));
        // What still carries value is not removed, and the page says why.
        assert!(!card.is_empty());
        let res = post("/admin/program/card_series/LOY/remove", &marketer, form(&[("csrf", &token)])).await.unwrap();
        assert_eq!(res.status(), 409);
        assert!(res.text().await.unwrap().contains("card"), "the reason is given");
        // Export, then import with a change: planned first, nothing changed until applied.
        let res = client().get(app.url("/admin/program/export")).header("cookie", &marketer).send().await.unwrap();
        assert_eq!(res.headers()["content-disposition"], r#"attachment; filename="program.toml""#);
        let file = res.text().await.unwrap();
        assert!(file.contains("platinum") && file.contains("BONUS"));
        let changed = file.replacen(r#"percent = "3""#, r#"percent = "4""#, 1);
        assert_ne!(changed, file);
        let res = post("/admin/program/import", &marketer, form(&[("csrf", &token), ("text", &changed), ("step", "plan")])).await.unwrap();
        let page = res.text().await.unwrap();
        assert!(page.contains("~ update campaign silver-3") && page.contains(r#"id="apply""#), "{page}");
        assert_eq!(object("/v1/admin/config/campaigns/silver-3").await["rewards"][0]["percent"], "3", "a dry run changes nothing");
        let res = post("/admin/program/import", &marketer, form(&[("csrf", &token), ("text", &changed), ("step", "apply")])).await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(object("/v1/admin/config/campaigns/silver-3").await["rewards"][0]["percent"], "4");
        let res = post("/admin/program/import", &marketer, form(&[("csrf", &token), ("text", "[[campaigns]]\nid = \"x\"\npriority = \"high\"\n"), ("step", "plan")])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("line 3:"), "a file's problem is said at its line");
        // An analyst reads the program but changes nothing.
        let analyst = session(&app, "ann", "analyst").await;
        let (status, page) = get("/admin/program/currencies/EUR", &analyst).await;
        assert_eq!(status, 200);
        assert!(!page.contains(r#"id="save""#) && !page.contains(r#"id="import""#));
        let res = post("/admin/program/currencies/EUR", &analyst, form(&[("csrf", &csrf(&page)), ("kind", "money"), ("scale", "3")])).await.unwrap();
        assert_eq!(res.status(), 403);
        assert_eq!(post("/admin/program/import", &analyst, form(&[("csrf", &csrf(&page)), ("text", &file)])).await.unwrap().status(), 403);
    }

    async fn a_customers_page_shows_balances_purchases_and_notes_and_adjusts_once_per_form(db: TestDb) {
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let (id, card) = app.customer_with_card("+37120008888", "LOY").await;
        assert_eq!(app.commit(&receipt("p-1", Some(&card), "12.00")).await.0, 201);
        let support = session(&app, "sue", "support").await;
        let path = format!("/admin/customers/c_{id}");
        let page = client().get(app.url(&path)).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"id="receipt-p-1""#) && page.contains(r#"id="balance-bonus""#), "{page}");
        let token = csrf(&page);
        let operation = page.split(r#"name="operation" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
        let post = |what: &str, body: String| {
            client().post(app.url(&format!("{path}/{what}"))).header("cookie", &support).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let before = app.balance(&card, "bonus").await.0;
        // The same form sent twice gives once.
        for _ in 0..2 {
            let adjust = form(&[("csrf", &token), ("operation", &operation), ("currency", "bonus"), ("amount", "50"), ("reason", "goodwill: late delivery")]);
            let page = post("adjustments", adjust).await.unwrap().text().await.unwrap();
            assert!(page.contains(r#"id="notice">Done. The balance is now"#), "{page}");
        }
        let after = app.balance(&card, "bonus").await.0;
        assert_eq!(after.parse::<i64>().unwrap() - before.parse::<i64>().unwrap(), 50, "{before} → {after}");
        let res = post("adjustments", form(&[("csrf", &token), ("operation", "other"), ("currency", "bonus"), ("amount", "5"), ("reason", " ")])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(r#"id="adjust-error">Say why"#));
        // A note, shown to those who see contact data and hidden from the others.
        assert_eq!(post("crm", form(&[("csrf", &token), ("body", "Called about the card")])).await.unwrap().status(), 303);
        let page = client().get(app.url(&path)).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Called about the card"));
        let analyst = session(&app, "ann", "analyst").await;
        let page = client().get(app.url(&path)).header("cookie", &analyst).send().await.unwrap().text().await.unwrap();
        assert!(!page.contains("Called about the card") && page.contains(r#"id="balance-bonus""#));
        assert!(!page.contains(r#"id="adjust""#) && !page.contains(r#"id="issue-card""#) && !page.contains(r#"id="add-note""#));
        let res = client().post(app.url(&format!("{path}/adjustments"))).header("cookie", &analyst).header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", &csrf(&page)), ("operation", "x"), ("currency", "bonus"), ("amount", "5"), ("reason", "r")])).send().await.unwrap();
        assert_eq!(res.status(), 403);
        // A card issued from the page: its number shown once.
        let page = post("cards", form(&[("csrf", &token), ("series", "LOY")])).await.unwrap().text().await.unwrap();
        let number = page.split(r#"<code class="issued-number">"#).nth(1).unwrap().split('<').next().unwrap();
        assert!(page.contains(&format!(r#"id="card-{number}""#)), "the new card is in the list");
        // A task recorded through the API is closed from the page.
        let ada = crate::helpers::staff(&app, "ada", "admin", &[]).await;
        let (_, task) = crate::helpers::call(&app, "POST", &format!("/v1/admin/customers/c_{id}/crm"), &ada, Some(json!({"kind": "task", "body": "Call back", "assignee": "sue", "due_at": "2026-11-25T09:00:00Z"}))).await;
        assert!(task["id"].is_i64(), "{task}");
        let task = task["id"].as_i64().unwrap();
        let page = client().get(app.url(&path)).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(&format!("/crm/{task}/done")), "{page}");
        assert_eq!(post(&format!("crm/{task}/done"), form(&[("csrf", &token)])).await.unwrap().status(), 303);
        let (_, entries) = crate::helpers::call(&app, "GET", &format!("/v1/admin/customers/c_{id}/crm"), &ada, None).await;
        assert!(entries["entries"].as_array().unwrap().iter().any(|e| e["id"] == task && e["status"] == "done"), "{entries}");
        assert_eq!(post("crm/999999/done", form(&[("csrf", &token)])).await.unwrap().status(), 404, "only the customer's own entries");
        // The statement of a currency: the receipt's accrual and the adjustment, once.
        let page = client().get(app.url(&format!("{path}/statement?currency=bonus"))).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert_eq!(page.matches("<code>adjustment</code>").count(), 1, "{page}");
        assert!(page.contains(&format!(r#"id="closing">{after}<"#)), "{page}");
        crate::helpers::staff(&app, "sam", "store_manager", &["riga-01"]).await;
        let (_, headers, _) = sign_in(&app, "sam", "sam-password-1").await;
        let manager = pair(&set_cookie(&headers, "loyd_session").unwrap());
        let res = client().get(app.url(&format!("{path}/statement?currency=bonus"))).header("cookie", &manager).send().await.unwrap();
        assert_eq!(res.status(), 403, "a statement spans every store");
        let (_, api) = crate::helpers::call(&app, "GET", &format!("/v1/admin/customers/c_{id}/balances"), &ada, None).await;
        assert!(api["balances"].as_array().unwrap().iter().any(|b| b["currency"] == "bonus" && b["available"] == after.as_str()), "{api}");
    }

    async fn the_audit_log_shows_who_changed_what_field_by_field_with_filters_and_contacts_masked_for_auditors(db: TestDb) {
        let app = spawn_app(db).await;
        let ada = crate::helpers::staff(&app, "ada", "admin", &[]).await;
        let (status, _) = crate::helpers::call(&app, "POST", "/v1/admin/customers", &ada, Some(json!({"phone": "+37120009999", "name": "Liga Berzina"}))).await;
        assert_eq!(status, 201);
        let (status, _) = crate::helpers::call(&app, "PATCH", "/v1/admin/config/stores/riga-01", &ada, Some(json!({"name": "Riga Old Town"}))).await;
        assert_eq!(status, 200);
        let get = |path: &str, cookie: &str| {
            let req = client().get(app.url(path)).header("cookie", cookie);
            async move {
                let res = req.send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let support = session(&app, "sue", "support").await;
        let (status, page) = get("/admin/audit", &support).await;
        assert_eq!(status, 200);
        assert!(page.contains("<code>store riga-01: name</code>: Riga Centre → Riga Old Town"), "{page}");
        assert!(page.contains("+37120009999") && page.contains("user:ada"), "{page}");
        let (_, page) = get("/admin/audit?kind=customer&actor=user%3Aada", &support).await;
        assert!(page.contains("Liga Berzina") && !page.contains("Riga Old Town"), "{page}");
        let auditor = session(&app, "aldis", "auditor").await;
        let (_, page) = get("/admin/audit?kind=customer", &auditor).await;
        assert!(!page.contains("+37120009999") && !page.contains("Liga Berzina") && page.contains("customer.create"), "{page}");
        let marketer = session(&app, "mara", "marketer").await;
        assert_eq!(get("/admin/audit", &marketer).await.0, 403);
    }

    async fn an_admin_changes_a_staff_members_role_stores_and_password_and_their_sessions_end(db: TestDb) {
        let app = spawn_app(db).await;
        let admin = session(&app, "ada", "admin").await;
        let mara = session(&app, "mara", "marketer").await;
        let page = client().get(app.url("/admin/staff")).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"id="change-mara""#), "{page}");
        let token = csrf(&page);
        let post = |body: String| client().post(app.url("/admin/staff/mara")).header("cookie", &admin).header("content-type", "application/x-www-form-urlencoded").body(body).send();
        let res = post(form(&[("csrf", &token), ("role", "support"), ("stores", ""), ("password", "short")])).await.unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        assert!(page.contains(r#"id="change-mara-error">"#) && page.contains("<details open>"), "said in her row: {page}");
        let res = post(form(&[("csrf", &token), ("role", "store_manager"), ("stores", "riga-01"), ("password", "mara-new-password-2")])).await.unwrap();
        assert_eq!(res.status(), 303);
        let home = client().get(app.url("/admin")).header("cookie", &mara).send().await.unwrap();
        assert_eq!((home.status().as_u16(), home.headers()["location"].to_str().unwrap()), (303, "/admin/login"), "her session ended");
        let (status, headers, _) = sign_in(&app, "mara", "mara-new-password-2").await;
        assert_eq!(status, 303);
        let again = pair(&set_cookie(&headers, "loyd_session").unwrap());
        let home = client().get(app.url("/admin")).header("cookie", &again).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("store_manager") && home.contains("riga-01"), "{home}");
    }

    async fn gift_cards_are_issued_in_a_batch_as_a_csv_with_their_pins_by_those_who_may_and_the_till_knows_them(db: TestDb) {
        let app = spawn_example(db, "s4-gift-card.toml").await;
        let support = session(&app, "sue", "support").await;
        let page = client().get(app.url("/admin/cards")).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"id="issue-GC""#), "{page}");
        let token = csrf(&page);
        let post = |cookie: &str, body: String| {
            client().post(app.url("/admin/cards/GC")).header("cookie", cookie).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let res = post(&support, form(&[("csrf", &token), ("count", "3")])).await.unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["content-disposition"], r#"attachment; filename="cards-GC.csv""#);
        let csv = res.text().await.unwrap();
        let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
        assert_eq!((csv.lines().next(), rows.len()), (Some("number,series,pin,valid_until"), 3), "{csv}");
        assert!(rows.iter().all(|r| r[0].starts_with("6000") && r[1] == "GC"), "{csv}");
        // The till knows each card by its number and the PIN of the file.
        let inquiry: serde_json::Value = app.pos_get(&format!("/v1/pos/cards/{}?pin={}", rows[0][0], rows[0][2])).await.json().await.unwrap();
        assert_eq!(inquiry["state"], "issued", "{inquiry}");
        let res = post(&support, form(&[("csrf", &token), ("count", "0")])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(r#"id="count-GC-error">Enter how many cards"#));
        // A store manager manages cards but may not issue gift cards: told so at the form.
        crate::helpers::staff(&app, "sam", "store_manager", &["riga-01"]).await;
        let (_, headers, _) = sign_in(&app, "sam", "sam-password-1").await;
        let manager = pair(&set_cookie(&headers, "loyd_session").unwrap());
        let page = client().get(app.url("/admin/cards")).header("cookie", &manager).send().await.unwrap().text().await.unwrap();
        let res = post(&manager, form(&[("csrf", &csrf(&page)), ("count", "1")])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(r#"id="count-GC-error">"#));
        let analyst = session(&app, "ann", "analyst").await;
        assert_eq!(client().get(app.url("/admin/cards")).header("cookie", &analyst).send().await.unwrap().status(), 403);
    }
}

async fn call_status(app: &TestApp, path: &str) -> u16 {
    crate::helpers::call(app, "GET", path, crate::helpers::ADMIN_KEY, None).await.0
}

both_backends! {
    async fn an_admin_runs_a_job_from_its_page_and_sees_the_run_an_auditor_only_reads_them(db: TestDb) {
        let app = spawn_app(db).await;
        let admin = session(&app, "ada", "admin").await;
        let open = |cookie: String, path: &'static str| {
            let app = &app;
            async move {
                let res = client().get(app.url(path)).header("cookie", cookie).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let (status, page) = open(admin.clone(), "/admin/jobs").await;
        assert_eq!(status, 200);
        assert!(page.contains(r#"href="/admin/jobs" aria-current="page""#), "{page}");
        for job in ["expire_holds", "expire_lots", "burn_inactive", "convert_balances", "roll_up", "detect_fraud", "segments", "expiry_notices", "birthdays", "task_reminders", "tier_reviews", "retention"] {
            assert!(page.contains(&format!(r#"id="run-{job}""#)), "{job}: {page}");
        }
        assert_eq!(page.matches("Has not run yet.").count(), 12);
        let token = csrf(&page);
        let post = |path: &'static str, body: String| {
            client().post(app.url(path)).header("cookie", &admin).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        // Without the page's token nothing runs.
        assert_eq!(post("/admin/jobs/expire_lots/run", "csrf=nope".into()).await.unwrap().status(), 403);
        assert!(app.store.job_runs(None, None, 10).await.unwrap().is_empty());
        let res = post("/admin/jobs/expire_lots/run", format!("csrf={token}")).await.unwrap();
        assert_eq!((res.status().as_u16(), res.headers()["location"].to_str().unwrap()), (303, "/admin/jobs"));
        let runs = app.store.job_runs(None, None, 10).await.unwrap();
        assert_eq!((runs.len(), runs[0].job, runs[0].started_by.as_str()), (1, loyd_store::Job::ExpireLots, "user:ada"));
        // Once it has ended, the page shows it as the job's last run and in the runs.
        for _ in 0..200 {
            if app.store.job_runs(None, None, 1).await.unwrap()[0].finished_at.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let (_, page) = open(admin.clone(), "/admin/jobs").await;
        assert_eq!(page.matches("Has not run yet.").count(), 11, "{page}");
        let row = page.split(r#"<tr id="job-expire_lots">"#).nth(1).unwrap().split("</tr>").next().unwrap();
        assert!(row.contains("· ada ·") && row.contains(r#"<td class="state">done"#), "{row}");
        assert!(page.contains(&format!(r#"<tr id="run-{}">"#, runs[0].id)), "{page}");
        assert!(!page.contains("hx-trigger=\"every 2s\""), "nothing runs: the table does not refresh itself");
        // In Russian, the same page in its words.
        let (_, ru) = open(admin.clone(), "/admin/jobs?lang=ru").await;
        assert!(ru.contains("Регламентные задания") && ru.contains("выполнено"), "{ru}");
        // An auditor reads the page without a button; a marketer may not open it.
        let auditor = session(&app, "aude", "auditor").await;
        let (status, page) = open(auditor.clone(), "/admin/jobs").await;
        assert_eq!(status, 200);
        assert!(!page.contains(r#"id="run-expire_lots""#) && page.contains(r#"<tr id="job-expire_lots">"#), "{page}");
        let token = csrf(&page);
        let res = client()
            .post(app.url("/admin/jobs/expire_lots/run"))
            .header("cookie", &auditor)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        let marketer = session(&app, "mara", "marketer").await;
        assert_eq!(open(marketer.clone(), "/admin/jobs").await.0, 403);
        let (_, home) = open(marketer, "/admin").await;
        assert!(!home.contains(r#"href="/admin/jobs""#));
    }
}

both_backends! {
    async fn support_changes_a_profile_and_consents_records_a_task_for_a_colleague_and_merges_a_duplicate_from_the_customer_page(db: TestDb) {
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let (id, _) = app.customer_with_card("+37120008881", "LOY").await;
        let (dup, dup_card) = app.customer_with_card("+37120008882", "LOY").await;
        app.grant(dup, "bonus", 30).await;
        let ada = crate::helpers::staff(&app, "ada", "admin", &[]).await;
        let support = session(&app, "sue", "support").await;
        let path = format!("/admin/customers/c_{id}");
        let page = client().get(app.url(&path)).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"id="profile""#) && page.contains(r#"id="merge""#), "{page}");
        let token = csrf(&page);
        let post = |what: &str, body: String| {
            client().post(app.url(&format!("{path}/{what}"))).header("cookie", &support).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let customer = |who: i64| {
            let (app, ada) = (&app, ada.clone());
            async move { crate::helpers::call(app, "GET", &format!("/v1/admin/customers/c_{who}"), &ada, None).await.1 }
        };
        // The profile: a name and an e-mail added, the SMS consent given; the phone sent
        // unchanged is not a change.
        let profile = form(&[("csrf", &token), ("name", "Anna Ozola"), ("phone", "+37120008881"), ("email", "anna@example.lv"), ("birth_date", ""), ("organisation", ""), ("consent", "sms")]);
        let res = post("profile", profile).await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains(r#"id="notice">Saved."#));
        let c = customer(id).await;
        assert_eq!((c["name"].as_str(), c["email"].as_str(), c["phone"].as_str()), (Some("Anna Ozola"), Some("anna@example.lv"), Some("+37120008881")), "{c}");
        assert_eq!((c["consents"]["sms"]["granted"].as_bool(), c["consents"].get("email")), (Some(true), None), "{c}");
        // A bad e-mail is said at the form and changes nothing.
        let res = post("profile", form(&[("csrf", &token), ("name", "Anna Ozola"), ("phone", "+37120008881"), ("email", "not an address"), ("consent", "sms")])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(r#"id="profile-error""#));
        assert_eq!(customer(id).await["email"], "anna@example.lv");
        // The SMS consent withdrawn and the e-mail one given; an organisation joined.
        let (_, org) = crate::helpers::call(&app, "POST", "/v1/admin/organisations", &ada, Some(json!({"name": "Ozols SIA"}))).await;
        let org = org["id"].as_str().unwrap().to_owned();
        let res = post("profile", form(&[("csrf", &token), ("name", "Anna Ozola"), ("phone", "+37120008881"), ("email", "anna@example.lv"), ("organisation", &org), ("consent", "email")])).await.unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(page.contains(&format!(r#"id="organisation"><a href="/admin/organisations/{org}">{org}</a><"#)) && page.contains(r#"<span class="tag">email</span>"#), "{page}");
        let c = customer(id).await;
        assert_eq!((c["consents"]["sms"]["granted"].as_bool(), c["consents"]["email"]["granted"].as_bool()), (Some(false), Some(true)));
        // A marketer reads the page but has no profile form, and is refused one.
        let marketer = session(&app, "mara", "marketer").await;
        let page = client().get(app.url(&path)).header("cookie", &marketer).send().await.unwrap().text().await.unwrap();
        assert!(!page.contains(r#"id="profile""#) && !page.contains(r#"id="merge""#));
        let res = client().post(app.url(&format!("{path}/profile"))).header("cookie", &marketer).header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", &csrf(&page)), ("organisation", "")])).send().await.unwrap();
        assert_eq!(res.status(), 403);
        // A task for a colleague, due tomorrow, then given to another.
        let res = post("crm", form(&[("csrf", &token), ("kind", "task"), ("body", "Call about the duplicate"), ("due", "2026-11-25T10:00"), ("assignee", "sue")])).await.unwrap();
        assert_eq!(res.status(), 303);
        let (_, entries) = crate::helpers::call(&app, "GET", &format!("/v1/admin/customers/c_{id}/crm"), &ada, None).await;
        let task = entries["entries"].as_array().unwrap().iter().find(|e| e["kind"] == "task").cloned().expect("the task is recorded");
        assert_eq!((task["assignee"].as_str(), task["due_at"].as_str(), task["status"].as_str()), (Some("sue"), Some("2026-11-25T10:00:00Z"), Some("open")), "{task}");
        let res = post("crm", form(&[("csrf", &token), ("kind", "task"), ("body", "Later"), ("due", "tomorrow")])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(r#"id="crm-error">The due time is not a date and time."#));
        let task = task["id"].as_i64().unwrap();
        assert_eq!(post(&format!("crm/{task}/assignee"), form(&[("csrf", &token), ("assignee", "ada")])).await.unwrap().status(), 303);
        let (_, entries) = crate::helpers::call(&app, "GET", &format!("/v1/admin/customers/c_{id}/crm"), &ada, None).await;
        assert!(entries["entries"].as_array().unwrap().iter().any(|e| e["id"] == task && e["assignee"] == "ada"), "{entries}");
        assert_eq!(post(&format!("crm/{task}/assignee"), form(&[("csrf", &token), ("assignee", " ")])).await.unwrap().status(), 422);
        // A merge needs the box ticked; then the duplicate's card and points are here.
        let duplicate = format!("c_{dup}");
        let res = post("merge", form(&[("csrf", &token), ("duplicate", &duplicate)])).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(r#"id="merge-error""#));
        assert!(customer(dup).await["merged_into"].is_null());
        let res = post("merge", form(&[("csrf", &token), ("duplicate", &duplicate), ("confirm", "on")])).await.unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(page.contains(&format!(r#"id="notice">Merged into this customer: {duplicate}"#)) && page.contains(&format!(r#"id="card-{dup_card}""#)), "{page}");
        assert_eq!(customer(dup).await["merged_into"].as_str(), Some(format!("c_{id}").as_str()));
        let page = client().get(app.url(&format!("/admin/customers/{duplicate}"))).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(&format!(r#"<a href="/admin/customers/c_{id}">c_{id}</a>"#)) && !page.contains(r#"id="merge""#), "{page}");
    }
}

both_backends! {
    async fn the_dashboard_reads_sales_at_most_once_a_minute_per_set_of_stores_and_says_when(db: TestDb) {
        let app = spawn_app(db).await;
        assert_eq!(app.commit(&receipt("r-1", None, "10.00")).await.0, 201);
        let admin = session(&app, "ada", "admin").await;
        let dashboard = || {
            let (app, admin) = (&app, admin.clone());
            async move { client().get(app.url("/admin")).header("cookie", admin).send().await.unwrap().text().await.unwrap() }
        };
        let page = dashboard().await;
        assert_eq!(figure(&page, "today-EUR", "receipts").as_deref(), Some("1"), "{page}");
        assert!(page.contains(r#"id="as-of">Sales figures as read at Nov 24 08:15:00 UTC"#), "{page}");
        // A receipt within the minute: the figures read then are shown.
        assert_eq!(app.commit(&receipt("r-2", None, "10.00")).await.0, 201);
        assert_eq!(figure(&dashboard().await, "today-EUR", "receipts").as_deref(), Some("1"));
        // A minute on, the page still answers at once with them, and reads them again
        // meanwhile; the next look has the new ones.
        app.clock.advance(jiff::SignedDuration::from_secs(61));
        assert_eq!(figure(&dashboard().await, "today-EUR", "receipts").as_deref(), Some("1"));
        let mut seen = String::new();
        for _ in 0..200 {
            seen = figure(&dashboard().await, "today-EUR", "receipts").unwrap_or_default();
            if seen == "2" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(seen, "2");
        assert!(dashboard().await.contains("08:16:01 UTC"));
    }
}

both_backends! {
    async fn staff_add_an_organisation_find_it_by_name_and_see_its_contacts_shared_balances_and_notes(db: TestDb) {
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let support = session(&app, "sue", "support").await;
        let open = |cookie: String, path: String| {
            let app = &app;
            async move {
                let res = client().get(app.url(&path)).header("cookie", cookie).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let (status, page) = open(support.clone(), "/admin/organisations".into()).await;
        assert_eq!(status, 200);
        assert!(page.contains("No organisations match.") && page.contains(r#"id="add-organisation""#), "{page}");
        let token = csrf(&page);
        let post = |path: &'static str, body: String| {
            client().post(app.url(path)).header("cookie", &support).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        // Added: its page opens.
        let res = post("/admin/organisations", form(&[("csrf", &token), ("name", "Ozols SIA"), ("tax_id", "LV40003000001")])).await.unwrap();
        assert_eq!(res.status(), 303);
        let at = res.headers()["location"].to_str().unwrap().to_owned();
        let org = at.trim_start_matches("/admin/organisations/").to_owned();
        assert!(org.starts_with("o_"), "{at}");
        // The same tax number again: said at the form, what was typed kept.
        let res = post("/admin/organisations", form(&[("csrf", &token), ("name", "Ozols again"), ("tax_id", "LV40003000001")])).await.unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        assert!(page.contains(r#"id="organisation-error">An organisation with that tax number already exists."#) && page.contains(r#"value="Ozols again""#), "{page}");
        // A customer joins it on their page; their receipt's points are the organisation's.
        let (id, card) = app.customer_with_card("+37120006661", "LOY").await;
        let page = open(support.clone(), format!("/admin/customers/c_{id}")).await.1;
        let res = client().post(app.url(&format!("/admin/customers/c_{id}/profile"))).header("cookie", &support).header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", &csrf(&page)), ("phone", "+37120006661"), ("organisation", &org)])).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains(&format!(r#"<a href="/admin/organisations/{org}">{org}</a>"#)));
        assert_eq!(app.commit(&receipt("o-1", Some(&card), "20.00")).await.0, 201);
        let (status, page) = open(support.clone(), at.clone()).await;
        assert_eq!(status, 200);
        assert!(page.contains(&format!(r#"<a href="/admin/customers/c_{id}">c_{id}</a>"#)), "{page}");
        assert!(page.contains(r#"<td class="available">4</td>"#), "20.00 in steps of 5.00: {page}");
        // A note about it.
        assert_eq!(post_to(&app, &support, &format!("{at}/crm"), form(&[("csrf", &token), ("body", "Invoice monthly")])).await, 303);
        assert!(open(support.clone(), at.clone()).await.1.contains("Invoice monthly"));
        // Found by a part of its name; a marketer reads it, but adds nothing.
        let (_, page) = open(support.clone(), "/admin/organisations?name=ozo".into()).await;
        assert!(page.contains(&format!(r#"id="org-{org}""#)), "{page}");
        let marketer = session(&app, "mara", "marketer").await;
        let (status, page) = open(marketer.clone(), "/admin/organisations".into()).await;
        assert_eq!(status, 200);
        assert!(!page.contains(r#"id="add-organisation""#) && page.contains("Ozols SIA"));
        assert!(!open(marketer, at.clone()).await.1.contains(r#"id="add-note""#));
        assert_eq!(open(support, "/admin/organisations/o_999".into()).await.0, 404);
    }
}

/// Posts a form with a session cookie; the answer's status.
async fn post_to(app: &TestApp, cookie: &str, path: &str, body: String) -> u16 {
    client().post(app.url(path)).header("cookie", cookie).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap().status().as_u16()
}

both_backends! {
    async fn refusals_are_said_in_the_staff_members_language_and_the_api_names_each_problem_by_its_kind(db: TestDb) {
        let app = spawn_example(db, "s8-tiers.toml").await;
        crate::helpers::admin(&app).await;
        let (id, _) = app.customer_with_card("+37120007771", "LOY").await;
        // The API: a problem of a campaign names its kind and values beside the message.
        let bad = json!({"name": "Dairy", "status": "draft", "rewards": [{"type": "discount", "percent": "150"}], "tiers": ["platinum"]});
        let (status, body) = crate::helpers::call(&app, "PUT", "/v1/admin/config/campaigns/dairy", crate::helpers::ADMIN_KEY, Some(bad)).await;
        assert_eq!(status, 422, "{body}");
        let problems = body["error"]["details"]["problems"].as_array().unwrap();
        let tier = problems.iter().find(|p| p["path"] == "tiers[0]").expect("the unknown tier level");
        assert_eq!((tier["kind"].as_str(), tier["args"].clone(), tier["message"].as_str()), (Some("unknown_tier_level"), json!({"level": "platinum"}), Some("no tier has a level 'platinum'")));
        assert!(problems.iter().any(|p| p["kind"] == "discount_exactly_one"), "{body}");
        // The console says the same in the page's language: Russian for a marketer whose
        // browser asks for it.
        let in_lang = |cookie: String, lang: &'static str| {
            let app = &app;
            move |method: reqwest::Method, path: String, body: Option<String>| {
                let mut r = client().request(method, app.url(&path)).header("cookie", cookie.clone()).header("accept-language", lang);
                if let Some(body) = body {
                    r = r.header("content-type", "application/x-www-form-urlencoded").body(body);
                }
                async move {
                    let res = r.send().await.unwrap();
                    (res.status().as_u16(), res.text().await.unwrap())
                }
            }
        };
        let marketer = in_lang(session(&app, "mara", "marketer").await, "ru");
        let (_, page) = marketer(reqwest::Method::GET, "/admin/campaigns/~new".into(), None).await;
        let token = csrf(&page);
        let sent = form(&[("csrf", &token), ("id", "dairy"), ("name", "Dairy"), ("tiers", "silver"), ("rewards[0].type", "discount"), ("rewards[0].percent", "150")]);
        let (status, page) = marketer(reqwest::Method::POST, "/admin/campaigns".into(), Some(sent)).await;
        assert_eq!(status, 422);
        assert!(page.contains("для скидки укажите ровно одно из: percent (0–100), amount, price или accumulated"), "{page}");
        assert!(!page.contains("a discount needs exactly one of"), "no English left: {page}");
        // Latvian for support: a bad e-mail, with what was typed.
        let support = in_lang(session(&app, "sue", "support").await, "lv");
        let path = format!("/admin/customers/c_{id}");
        let (_, page) = support(reqwest::Method::GET, path.clone(), None).await;
        let token = csrf(&page);
        let sent = form(&[("csrf", &token), ("phone", "+37120007771"), ("email", "anna-at-example")]);
        let (status, page) = support(reqwest::Method::POST, format!("{path}/profile"), Some(sent)).await;
        assert_eq!(status, 422);
        assert!(page.contains(LV_NOT_EMAIL), "{page}");
        // Estonian for an admin: a password too short, and a login that exists.
        let admin = in_lang(session(&app, "ada", "admin").await, "et");
        let (_, page) = admin(reqwest::Method::GET, "/admin/staff".into(), None).await;
        let token = csrf(&page);
        let (status, page) = admin(reqwest::Method::POST, "/admin/staff".into(), Some(format!("login=pavel&password=short&role=marketer&csrf={token}"))).await;
        assert_eq!(status, 422);
        assert!(page.contains(ET_PASSWORD), "{page}");
        let (status, page) = admin(reqwest::Method::POST, "/admin/staff".into(), Some(format!("login=mara&password=long-enough-1&role=marketer&csrf={token}"))).await;
        assert_eq!(status, 422);
        assert!(page.contains(ET_LOGIN_TAKEN), "{page}");
    }

    async fn a_campaign_or_store_whose_id_is_a_word_the_console_uses_opens_like_any_other(db: TestDb) {
        let app = spawn_app(db).await;
        crate::helpers::admin(&app).await;
        for (path, body) in [
            ("/v1/admin/config/campaigns/new", json!({"name": "New customers: 10 %", "rewards": [{"type": "discount", "percent": "10"}]})),
            ("/v1/admin/config/campaigns/preview", json!({"name": "Preview week", "rewards": [{"type": "discount", "percent": "5"}]})),
        ] {
            let (status, body) = crate::helpers::call(&app, "PUT", path, crate::helpers::ADMIN_KEY, Some(body)).await;
            assert_eq!(status, 200, "{body}");
        }
        let marketer = session(&app, "mara", "marketer").await;
        let open = |path: &'static str| {
            let (app, marketer) = (&app, marketer.clone());
            async move {
                let res = client().get(app.url(path)).header("cookie", marketer).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let (status, page) = open("/admin/campaigns/new").await;
        assert_eq!(status, 200);
        assert!(page.contains("New customers: 10 %"), "the campaign called new, not a blank form: {page}");
        assert!(open("/admin/campaigns/preview").await.1.contains("Preview week"));
        let (status, blank) = open("/admin/campaigns/~new").await;
        assert_eq!(status, 200);
        assert!(!blank.contains("New customers: 10 %") && blank.contains(r#"id="constructor""#));
        let (_, list) = open("/admin/campaigns").await;
        assert!(list.contains(r#"href="/admin/campaigns/new""#) && list.contains(r#"href="/admin/campaigns/~new""#), "{list}");
    }

    async fn staff_make_the_rewards_catalogue_offers_and_greeting_of_the_portal_in_the_console(db: TestDb) {
        let sms = crate::webhooks::Receiver::start(&[200]).await;
        let app = crate::helpers::spawn_with_program(db, toml::from_str(&crate::portal::program(&sms.url)).unwrap()).await;
        crate::helpers::admin(&app).await;
        let marketer = session(&app, "mara", "marketer").await;
        let post = |path: &str, body: String| {
            client().post(app.url(path)).header("cookie", &marketer).header("content-type", "application/x-www-form-urlencoded").body(body).send()
        };
        let index = client().get(app.url("/admin/program")).header("cookie", &marketer).send().await.unwrap().text().await.unwrap();
        assert!(index.contains(r#"href="/admin/program/catalogue""#) && index.contains(r#"href="/admin/program/offers""#), "{index}");
        let token = csrf(&index);
        // The entry's form offers points currencies, unique series and listed segments only.
        let blank = client().get(app.url("/admin/program/catalogue/~new")).header("cookie", &marketer).send().await.unwrap().text().await.unwrap();
        assert!(blank.contains(r#"<option value="bonus""#) && !blank.contains(r#"<option value="EUR""#), "{blank}");
        assert!(blank.contains(r#"<option value="riga""#) && blank.contains(r#"<option value="rfm:champions""#), "{blank}");
        // A cost finer than the currency's units is refused at its field.
        let entry = |cost: &'static str| {
            form(&[("csrf", token.as_str()), ("id", "tea"), ("currency", "bonus"), ("cost", cost), ("coupon_series", "COFFEE"), ("per_customer", "2"),
                ("texts.en.title", "A free tea"), ("texts.en.body", ""), ("texts.ru.title", "Чай в подарок"), ("texts.lv.title", ""), ("texts.et.title", "")])
        };
        let res = post("/admin/program/catalogue", entry("2.5")).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("at most 0 decimal places"));
        let res = post("/admin/program/catalogue", entry("25")).await.unwrap();
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        let (_, kept) = crate::helpers::call(&app, "GET", "/v1/admin/config/catalogue/tea", crate::helpers::ADMIN_KEY, None).await;
        assert_eq!(kept["object"]["texts"], json!({"en": {"title": "A free tea"}, "ru": {"title": "Чай в подарок"}}), "languages left blank are none: {kept}");
        // An offer, and the portal's greeting.
        let offer = form(&[("csrf", token.as_str()), ("id", "tea-week"), ("link", "https://shop.example/tea"), ("texts.en.title", "Tea week"), ("texts.en.body", "All teas −20 %")]);
        assert_eq!(post("/admin/program/offers", offer).await.unwrap().status(), 303);
        let greeting = form(&[("csrf", token.as_str()), ("join", "on"), ("card_series", "LOY"), ("texts.en.title", "Hello from the tea shop"),
            ("fields[0].key", "tea"), ("fields[0].values", "green, black"), ("fields[0].texts.en.title", "Your tea"), ("fields[0].texts.ru.title", ""),
            ("fields[1].key", "")]);
        let res = post("/admin/program/portal/portal", greeting).await.unwrap();
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        // The first row changed, the second's name cleared (removed), languages left blank none.
        let (_, kept) = crate::helpers::call(&app, "GET", "/v1/admin/config/portal/portal", crate::helpers::ADMIN_KEY, None).await;
        assert_eq!(kept["object"]["fields"], json!([{"key": "tea", "values": ["green", "black"], "texts": {"en": {"title": "Your tea"}}}]), "{kept}");

        // A member sees them.
        let (status, _) = crate::helpers::call(&app, "POST", "/v1/admin/customers", crate::helpers::ADMIN_KEY, Some(json!({"phone": "+37120000041", "name": "Rita"}))).await;
        assert_eq!(status, 201);
        let cookie = crate::portal::sign_in_cookie(&app, &sms, "+37120000041").await;
        let page = |path: &'static str| {
            let req = client().get(app.url(path)).header("cookie", &cookie);
            async move { req.send().await.unwrap().text().await.unwrap() }
        };
        let home = page("/portal").await;
        assert!(home.contains("Hello from the tea shop") && home.contains("Tea week") && home.contains("All teas −20 %"), "{home}");
        assert!(page("/portal/rewards").await.contains("A free tea"));
        assert!(page("/portal/rewards?lang=ru").await.contains("Чай в подарок"));
        assert!(page("/portal/profile?lang=en").await.contains("Your tea"));
    }

    async fn a_customers_request_to_be_erased_is_listed_for_staff_who_erase_them_in_one_step_and_the_ledger_keeps_the_amounts(db: TestDb) {
        let sms = crate::webhooks::Receiver::start(&[200]).await;
        let app = crate::helpers::spawn_with_program(db, toml::from_str(&crate::portal::program(&sms.url)).unwrap()).await;
        crate::helpers::admin(&app).await;
        let key = crate::helpers::ADMIN_KEY;
        let (_, c) = crate::helpers::call(&app, "POST", "/v1/admin/customers", key, Some(json!({"phone": "+37120000051", "name": "Zane Kalniņa", "email": "zane@example.lv", "profile": {"city": "Riga"}}))).await;
        let id = c["id"].as_str().unwrap().to_owned();
        let (_, cards) = crate::helpers::call(&app, "POST", "/v1/admin/cards", key, Some(json!({"series": "LOY", "customer": id}))).await;
        let card = cards["cards"][0]["number"].as_str().unwrap().to_owned();
        assert_eq!(app.commit(&crate::helpers::receipt("z-1", Some(&card), "20.00")).await.0, 201);
        crate::helpers::call(&app, "POST", &format!("/v1/admin/customers/{id}/crm"), key, Some(json!({"kind": "note", "body": "Zane calls after 18:00"}))).await;
        crate::helpers::call(&app, "PATCH", &format!("/v1/admin/customers/{id}"), key, Some(json!({"email": "zane.k@example.lv"}))).await;

        // She asks in the portal, twice: one request, one task.
        let cookie = crate::portal::sign_in_cookie(&app, &sms, "+37120000051").await;
        let profile = client().get(app.url("/portal/profile")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        let token = csrf(&profile);
        for _ in 0..2 {
            let res = client().post(app.url("/portal/erasure")).header("cookie", &cookie).header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[("csrf", &token)])).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
        let (_, entries) = crate::helpers::call(&app, "GET", &format!("/v1/admin/customers/{id}/crm"), key, None).await;
        assert_eq!(entries["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "task").count(), 1, "{entries}");

        // Support see the request on the customers page and at the customer, and erase once confirmed.
        let support = session(&app, "sue", "support").await;
        let list = client().get(app.url("/admin/customers")).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(list.contains(r#"id="erasures""#) && list.contains(&format!(r#"href="/admin/customers/{id}""#)), "{list}");
        let page = client().get(app.url(&format!("/admin/customers/{id}"))).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"id="erasure-asked""#), "{page}");
        let token = csrf(&page);
        let erase = |body: String| client().post(app.url(&format!("/admin/customers/{id}/erasure"))).header("cookie", &support)
            .header("content-type", "application/x-www-form-urlencoded").body(body).send();
        assert_eq!(erase(form(&[("csrf", &token)])).await.unwrap().status(), 422, "not without the box ticked");
        let done = erase(form(&[("csrf", &token), ("confirm", "on")])).await.unwrap().text().await.unwrap();
        assert!(done.contains(r#"id="erased""#) && !done.contains("Zane") && !done.contains("zane"), "{done}");

        // Nothing of her is left to read: not the record, the note, the history, nor a way in.
        let (_, after) = crate::helpers::call(&app, "GET", &format!("/v1/admin/customers/{id}"), key, None).await;
        for field in ["name", "phone", "email", "birth_date"] {
            assert!(after[field].is_null(), "{field}: {after}");
        }
        assert!(after["erased_at"].is_string() && after["profile"] == json!({}) && after["cards"][0]["state"] == "blocked", "{after}");
        let (_, entries) = crate::helpers::call(&app, "GET", &format!("/v1/admin/customers/{id}/crm"), key, None).await;
        assert!(entries["entries"].as_array().unwrap().iter().all(|e| e["body"] == "(erased)" && e["status"] != "open"), "{entries}");
        let (_, history) = crate::helpers::call(&app, "GET", &format!("/v1/admin/customers/{id}/history"), key, None).await;
        let text = history.to_string();
        assert!(!text.contains("Zane") && !text.contains("zane") && !text.contains("20000051") && text.contains("customer.erase"), "{history}");
        let (_, audit) = crate::helpers::call(&app, "GET", "/v1/admin/audit?object_kind=crm_entry", key, None).await;
        assert!(!audit.to_string().contains("18:00"), "{audit}");
        let (_, found) = crate::helpers::call(&app, "GET", "/v1/admin/customers?phone=%2B37120000051", key, None).await;
        assert_eq!(found["customers"], json!([]), "her phone finds nobody");
        let back = client().get(app.url("/portal")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(back.status(), 303, "her portal session ended");
        let (status, body) = app.commit(&crate::helpers::receipt("z-2", Some(&card), "5.00")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("card_blocked")), "{body}");
        // The ledger keeps the amounts: the receipt and the points it gave.
        let numeric: i64 = id.trim_start_matches("c_").parse().unwrap();
        assert_eq!(app.store.customer_balances(numeric).await.unwrap()[0].available, "5");
        assert_eq!(app.store.purchases(numeric, None, None, 10).await.unwrap().len(), 1);
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
        // The request is done; erasing again changes nothing.
        let list = client().get(app.url("/admin/customers")).header("cookie", &support).send().await.unwrap().text().await.unwrap();
        assert!(!list.contains(r#"id="erasures""#), "{list}");
        let (status, again) = crate::helpers::call(&app, "POST", &format!("/v1/admin/customers/{id}/erasure"), key, None).await;
        assert_eq!((status, &again["erased_at"]), (200, &after["erased_at"]));
    }
}
