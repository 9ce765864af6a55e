//! The console in a real headless Chromium (Debian's `chromium` and `chromedriver`,
//! which `.ci/run` installs when absent): a person signs in, sees who they are, signs
//! out. Screenshots at desktop and phone widths go to `$LOYD_SCREENSHOTS` when set.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use loyd_testkit::both_backends;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_example};

/// A chromedriver process and a browser session of it; both end when dropped.
struct Browser {
    client: Client,
    driver: Child,
    /// Where the browser saves downloads.
    downloads: std::path::PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.downloads);
    }
}

impl Browser {
    /// A headless Chromium `width` pixels wide (below 500, a phone's screen emulated:
    /// a window cannot be that narrow). Fails, never skips, when the browser is missing.
    async fn start(width: u32) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver must be installed (Debian: chromium-driver); .ci/run installs it");
        let mut caps = serde_json::Map::new();
        let mut options = json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", format!("--window-size={},900", width.max(500))]});
        if width < 500 {
            options["mobileEmulation"] = json!({"deviceMetrics": {"width": width, "height": 740, "pixelRatio": 2, "touch": true}});
        }
        let downloads = std::env::temp_dir().join(format!("loyd-browser-downloads-{port}"));
        std::fs::create_dir_all(&downloads).unwrap();
        options["prefs"] = json!({"download.default_directory": downloads, "download.prompt_for_download": false});
        caps.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new()).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => return Browser { client, driver, downloads },
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no browser session from chromedriver: {last:?}");
    }

    /// A desktop browser where a new staff member of `role` has signed in.
    async fn signed_in(app: &TestApp, login: &str, role: &str) -> Browser {
        Browser::signed_in_to(app, login, role, &[]).await
    }

    /// As [`Browser::signed_in`], for a staff member limited to `stores`.
    async fn signed_in_to(app: &TestApp, login: &str, role: &str, stores: &[&str]) -> Browser {
        Browser::signed_in_at(app, login, role, stores, 1280).await
    }

    /// As [`Browser::signed_in_to`], in a browser `width` pixels wide.
    async fn signed_in_at(app: &TestApp, login: &str, role: &str, stores: &[&str], width: u32) -> Browser {
        crate::helpers::staff(app, login, role, stores).await;
        let b = Browser::start(width).await;
        b.client.goto(&app.url("/admin/login")).await.unwrap();
        b.fill("#login", login).await;
        b.fill("#password", &format!("{login}-password-1")).await;
        b.click("button[type=submit]").await;
        assert_eq!(b.text("#who").await, login);
        b
    }

    async fn text(&self, css: &str) -> String {
        self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
    }

    /// The text of `css` once it satisfies `done` (the page may still be the one before
    /// a click, or follow work in the background), within 30 s: a full suite on two
    /// cores can hold a background job's pass past 10 s.
    async fn text_when(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..300 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = e.text().await
            {
                if done(&t) {
                    return t;
                }
                last = t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("failed").await;
        panic!("{css} still says {last:?}");
    }

    /// Types `value` into `css` once the page shows it (a click before may still be
    /// loading the next page), within 10 s.
    async fn fill(&self, css: &str, value: &str) {
        self.act(css, |e| async move { e.send_keys(value).await }).await;
    }

    /// Replaces what the field `css` holds with `value`, once the page shows it.
    async fn refill(&self, css: &str, value: &str) {
        self.act(css, |e| async move { e.clear().await?; e.send_keys(value).await }).await;
    }

    /// Clicks `css` once the page shows it, within 10 s — scrolled to the middle of the
    /// screen first, as a person would (a bar fixed at the screen's foot covers what the
    /// browser only scrolls to its edge).
    async fn click(&self, css: &str) {
        self.act(css, |e| async move {
            let at = serde_json::to_value(&e).unwrap_or_default();
            self.client.execute("arguments[0].scrollIntoView({block: 'center'})", vec![at]).await?;
            e.click().await.map(|_| ())
        })
        .await;
    }

    /// Does `what` to the element `css`, retried while the element is missing or was
    /// replaced under it by a page still loading.
    async fn act<F, Fut>(&self, css: &str, what: F)
    where
        F: Fn(fantoccini::elements::Element) -> Fut,
        Fut: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
    {
        let mut last = None;
        for _ in 0..100 {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => match what(e).await {
                    Ok(()) => return,
                    Err(err) => last = Some(err),
                },
                Err(err) => last = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css}: {last:?}");
    }

    /// The name and text of the one file downloaded so far, once complete, within 10 s.
    async fn downloaded(&self) -> (String, String) {
        let (name, bytes) = self.downloaded_bytes().await;
        (name, String::from_utf8(bytes).unwrap())
    }

    /// The name and bytes of the one file downloaded so far, once complete, within 10 s.
    async fn downloaded_bytes(&self) -> (String, Vec<u8>) {
        for _ in 0..100 {
            // Chromium reserves the file's name with an empty file, writes to a hidden or
            // `.crdownload` one, and renames it over the name at the end: complete once no
            // partial file is left and the named one has content.
            let all: Vec<_> = std::fs::read_dir(&self.downloads).unwrap().filter_map(Result::ok).map(|e| e.path()).collect();
            let partial = |p: &std::path::PathBuf| p.file_name().unwrap().to_string_lossy().starts_with('.') || p.extension().is_some_and(|x| x == "crdownload");
            let files: Vec<_> = all.iter().filter(|p| !partial(p)).collect();
            if let ([one], false) = (files.as_slice(), all.iter().any(partial)) {
                let bytes = std::fs::read(one).unwrap();
                if !bytes.is_empty() {
                    return (one.file_name().unwrap().to_string_lossy().into_owned(), bytes);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nothing was downloaded to {}", self.downloads.display());
    }

    /// Chooses the option `value` of the select `css`.
    async fn choose(&self, css: &str, value: &str) {
        self.act(css, |e| async move { e.select_by_value(value).await }).await;
    }

    /// Saves a PNG of the page as `$LOYD_SCREENSHOTS/{name}.png`, when that is set.
    async fn screenshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("LOYD_SCREENSHOTS") {
            let png = self.client.screenshot().await.unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
        }
    }
}

async fn sign_in_and_out(app: &TestApp, width: u32, shots: &str) {
    let b = Browser::start(width).await;
    b.client.goto(&app.url("/admin")).await.unwrap();
    // Not signed in: the sign-in form.
    assert_eq!(b.text("h2").await, "Sign in");
    b.screenshot(&format!("console-login-{shots}")).await;
    b.fill("#login", "mara").await;
    b.fill("#password", "not-her-password").await;
    b.click("button[type=submit]").await;
    assert_eq!(b.text("#login-error").await, "Wrong login or password.");
    b.fill("#password", "mara-password-1").await;
    b.click("button[type=submit]").await;
    assert_eq!(b.text("#who").await, "mara");
    assert_eq!(b.client.find_all(Locator::Css("svg.chart rect")).await.unwrap().len(), 30);
    let inner: serde_json::Value = b.client.execute("return window.innerWidth", vec![]).await.unwrap();
    assert_eq!(inner, json!(width), "the page is laid out {width} px wide");
    let overflow: serde_json::Value = b.client.execute("return document.documentElement.scrollWidth > window.innerWidth", vec![]).await.unwrap();
    assert_eq!(overflow, json!(false), "nothing sticks out sideways at {width} px");
    assert_eq!(b.client.current_url().await.unwrap().path(), "/admin");
    b.screenshot(&format!("console-dashboard-{shots}")).await;
    // The page's own script (htmx) runs under the policy; nothing inline does.
    let htmx: serde_json::Value = b.client.execute("return typeof window.htmx", vec![]).await.unwrap();
    assert_eq!(htmx, "object");
    // Another language, remembered.
    b.click("a[hreflang=lv]").await;
    assert_eq!(b.text("html[lang=lv] h1").await, "Pārskats");
    b.click(".who button[type=submit]").await;
    assert_eq!(b.text("form.card h2").await, "Pieteikšanās");
    // Signed out: the console is closed again.
    b.client.goto(&app.url("/admin")).await.unwrap();
    assert_eq!(b.client.current_url().await.unwrap().path(), "/admin/login");
    b.client.clone().close().await.unwrap();
}

both_backends! {
    async fn a_person_signs_in_and_out_of_the_console_in_a_real_browser_at_desktop_and_phone_widths(db: TestDb) {
        let app = spawn_app(db).await;
        // A week of receipts for the dashboard to show.
        for day in 0..7 {
            for k in 0..=(day % 3) {
                let amount = format!("{}.50", 20 + day * 7 + k * 3);
                assert_eq!(app.commit(&crate::helpers::receipt(&format!("d{day}-{k}"), None, &amount)).await.0, 201);
            }
            app.clock.advance(std::time::Duration::from_secs(24 * 3600).try_into().unwrap());
        }
        // The server's jobs add them to the sales aggregates the chart reads.
        app.store.run_job(loyd_store::Job::RollUp, "test".into()).await.unwrap();
        crate::helpers::staff(&app, "mara", "marketer", &[]).await;
        sign_in_and_out(&app, 1280, "desktop").await;
        sign_in_and_out(&app, 360, "phone").await;
    }

    async fn an_admin_adds_a_terminal_reads_its_key_once_and_revokes_it_in_a_real_browser(db: TestDb) {
        let app = spawn_app(db).await;
        let b = Browser::signed_in(&app, "ada", "admin").await;
        b.click("a[href='/admin/stores']").await;
        b.fill("#new-riga-01", "pos-2").await;
        b.click("#store-riga-01 form.inline button").await;
        let key = b.text("#key").await;
        assert!(key.starts_with("lyt_"), "{key}");
        let till = app.client.get(app.url("/v1/pos/terminal")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(till.status(), 200, "the key shown works at the till");
        b.screenshot("console-stores-desktop").await;
        b.click("#terminal-riga-01-pos-2 button.revoke").await;
        b.text_when("#terminal-riga-01-pos-2 td:nth-child(3)", |t| t.starts_with("Revoked")).await;
        assert_eq!(b.client.find_all(Locator::Css("#key")).await.unwrap().len(), 0, "the key is gone from the page");
        let till = app.client.get(app.url("/v1/pos/terminal")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(till.status(), 401);
        b.client.clone().close().await.unwrap();
    }

    async fn a_support_agent_finds_a_customer_by_phone_and_blocks_their_card_in_a_real_browser(db: TestDb) {
        let app = crate::helpers::spawn_example(db, "s10-returns.toml").await;
        let (_, card) = app.customer_with_card("+37120004242", "LOY").await;
        let b = Browser::signed_in(&app, "sofia", "support").await;
        b.click("a[href='/admin/customers']").await;
        b.fill("#q", "+37120004242").await;
        b.click("form[role=search] button").await;
        b.click("#results a").await;
        assert!(b.text("#cards").await.contains(&card));
        b.screenshot("console-customer-desktop").await;
        b.click(&format!("#card-{card} button.revoke")).await;
        b.text_when(&format!("#card-{card} td.state"), |t| t == "Blocked").await;
        let inquiry: serde_json::Value = app.pos_get(&format!("/v1/pos/cards/{card}")).await.json().await.unwrap();
        assert_eq!(inquiry["state"], "blocked", "the till sees the card blocked");
        b.client.clone().close().await.unwrap();
    }

    async fn a_marketer_builds_a_weekend_dairy_campaign_for_silver_simulates_it_activates_it_and_the_till_gives_it(db: TestDb) {
        // Saturday 28 November 2026, 10:00 in Riga.
        let app = crate::helpers::spawn_at(db, crate::helpers::example("s8-tiers.toml"), loyd_api::ApiConfig::default(), "2026-11-28T08:00:00Z").await;
        let (_, card) = app.customer_with_card("+37120005555", "LOY").await;
        let line = |sku: &str, group: &str, amount: &str| json!({"line": 1, "sku": sku, "groups": [group], "qty": "1", "amount": amount});
        let receipt = |id: &str, l: serde_json::Value| json!({"receipt_id": id, "customer": {"card": card}, "lines": [l]});
        // 300.00 makes the customer silver; their next receipt has 20.00 of dairy.
        assert_eq!(app.commit(&receipt("r-1", line("TV", "electronics", "300.00"))).await.0, 201);
        assert_eq!(app.commit(&receipt("r-2", line("MILK", "dairy", "20.00"))).await.0, 201);

        let b = Browser::signed_in(&app, "mara", "marketer").await;
        b.click("a[href='/admin/campaigns']").await;
        b.click("#new-campaign").await;
        b.fill("#f-id", "weekend-dairy-silver").await;
        b.fill("#f-name", "10 % on dairy for silver at weekends").await;
        b.click("input[name=weekdays][value=sat]").await;
        b.click("input[name=weekdays][value=sun]").await;
        b.click("input[name=tiers][value=silver]").await;
        b.choose("#f-rewards-0-type", "discount").await;
        b.fill("#f-rewards-0-percent", "10,5").await;
        b.fill("#f-rewards-0-groups", "dairy").await;
        b.click("#save").await;
        b.text_when("#status", |t| t == "Draft").await;
        b.screenshot("console-campaign-desktop").await;
        // 10.5 % was a typo: 10 %, and the simulation of the last 30 days.
        b.client.find(Locator::Css("#f-rewards-0-percent")).await.unwrap().clear().await.unwrap();
        b.fill("#f-rewards-0-percent", "10").await;
        b.click("#simulate").await;
        // 10 % of the 20.00 of dairy, after silver's own 3 % (0.60), which runs first.
        b.text_when("#sim-cost", |t| t == "1.94 EUR").await;
        assert_eq!(b.text("#sim-customers").await, "1");
        // A sample receipt for this customer: silver's 3 % of 50.00, then 10 % of the rest.
        b.fill("#pv_card", &card).await;
        b.fill("#pv_sku_1", "CHEESE").await;
        b.fill("#pv_groups_1", "dairy").await;
        b.fill("#pv_amount_1", "50.00").await;
        b.click("#run-preview").await;
        b.text_when("#preview-line-1 .discount", |t| t == "6.35").await;
        b.client.execute("document.getElementById('preview').scrollIntoView()", vec![]).await.unwrap();
        b.screenshot("console-campaign-preview").await;
        b.client.execute("document.getElementById('rewards').scrollIntoView()", vec![]).await.unwrap();
        b.screenshot("console-campaign-rewards").await;
        b.client.execute("document.getElementById('simulation').scrollIntoView()", vec![]).await.unwrap();
        b.screenshot("console-campaign-simulation").await;
        assert_eq!(b.text("#sim-changed").await, "1");
        b.click("#save").await;
        b.text_when("#history", |t| t.contains("rewards[0].percent")).await;
        b.click("#to-active").await;
        b.text_when("#status", |t| t == "Active").await;

        let (status, body) = app.commit(&receipt("r-3", line("CHEESE", "dairy", "50.00"))).await;
        assert_eq!(status, 201, "{body}");
        let applied = body["lines"][0]["applied"].as_array().unwrap();
        let ours = applied.iter().find(|a| a["campaign"] == "weekend-dairy-silver").unwrap_or_else(|| panic!("{body}"));
        // 10 % of 50.00 less silver's 1.50.
        assert_eq!(ours["amount"], "4.85");
        b.client.clone().close().await.unwrap();
    }

    async fn a_store_manager_sees_only_their_stores_in_a_real_browser(db: TestDb) {
        let app = crate::helpers::spawn_example(db, "two-currencies.toml").await;
        // A refusal at each store: an unknown card asked for at its till.
        let pskov = app.terminal("pskov-01").await;
        assert_eq!(app.pos_get("/v1/pos/cards/2770000000011").await.status(), 404);
        let res = app.client.get(app.url("/v1/pos/cards/2770000000022")).bearer_auth(&pskov).send().await.unwrap();
        assert_eq!(res.status(), 404);

        let b = Browser::signed_in_to(&app, "tom", "store_manager", &["riga-01"]).await;
        assert!(b.text("main").await.contains("riga-01"));
        // The top bar offers no pages the role may not open…
        let nav = b.text("header nav").await;
        assert!(!nav.contains("Stores") && !nav.contains("Staff") && !nav.contains("Campaigns"), "{nav}");
        b.click("a[href='/admin/failures']").await;
        let log = b.text_when("main", |t| t.contains("2770000000011")).await;
        assert!(!log.contains("2770000000022"), "another store's refusals are not shown: {log}");
        // …and the server refuses them when asked directly.
        b.client.goto(&app.url("/admin/failures?store=pskov-01")).await.unwrap();
        let refused = b.text("main").await;
        assert!(!refused.contains("2770000000022"), "{refused}");
        b.client.goto(&app.url("/admin/stores")).await.unwrap();
        assert_eq!(b.text("body").await, "Your role does not allow this page.");
        b.screenshot("console-store-manager").await;
        b.client.clone().close().await.unwrap();
    }

    async fn a_marketer_generates_coupon_codes_and_downloads_them_as_csv_that_the_till_accepts(db: TestDb) {
        let app = crate::helpers::spawn_example(db, "s7-coupons.toml").await;
        let b = Browser::signed_in(&app, "mara", "marketer").await;
        b.click("a[href='/admin/coupons']").await;
        assert!(b.text("#series-WELCOME10").await.contains("WELCOME10"));
        let count = "#count-GEN";
        b.client.find(Locator::Css(count)).await.unwrap().clear().await.unwrap();
        b.fill(count, "25").await;
        b.click("#generate-GEN button").await;
        let (name, csv) = b.downloaded().await;
        assert_eq!(name, "coupons-GEN.csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!((lines[0], lines.len()), ("code,series,valid_until", 26), "{csv}");
        let code = lines[1].split(',').next().unwrap();
        // A code of the file takes 5.00 off at the till.
        let mut r = crate::helpers::receipt("c-1", None, "20.00");
        r["coupons"] = json!([code]);
        let (status, body) = app.commit(&r).await;
        assert_eq!((status, body["discount"].as_str()), (201, Some("5.00")), "{body}");
        b.client.clone().close().await.unwrap();
    }

    async fn an_admin_sets_up_a_store_a_terminal_points_a_tier_and_a_weekend_campaign_issues_a_card_and_sees_a_receipt_without_a_file(db: TestDb) {
        // Saturday 28 November 2026, 10:00 in Tallinn; only the first store is configured.
        let app = crate::helpers::spawn_at(db, crate::helpers::example("s1-step-bonus.toml"), loyd_api::ApiConfig::default(), "2026-11-28T08:00:00Z").await;
        let b = Browser::signed_in(&app, "ada", "admin").await;
        // A store.
        b.click("a[href='/admin/program']").await;
        b.click("a[href='/admin/program/stores']").await;
        b.click("#new-object").await;
        b.fill("#f-id", "tallinn-01").await;
        b.fill("#f-name", "Tallinn").await;
        b.fill("#f-timezone", "Europe/Tallinn").await;
        b.choose("#f-currency", "EUR").await;
        b.click("#save").await;
        b.text_when("#notice", |t| t.starts_with("Saved as configuration version")).await;
        // Its terminal, the key read off the page.
        b.click("a[href='/admin/stores']").await;
        b.fill("#new-tallinn-01", "pos-1").await;
        b.click("#store-tallinn-01 form.inline button").await;
        let key = b.text("#key").await;
        // Points, a counter and a tier with two levels.
        for (section, fields, selects) in [
            ("currencies", vec![("#f-code", "PTS"), ("#f-scale", "0"), ("#f-value", "0.01")], vec![("#f-kind", "points")]),
            ("counters", vec![("#f-id", "sum-365"), ("#f-window_days", "365")], vec![("#f-measure", "sum")]),
            ("tiers", vec![("#f-id", "status"), ("#f-levels-0-id", "base"), ("#f-levels-0-from", "0")], vec![("#f-counter", "sum-365")]),
        ] {
            b.client.goto(&app.url(&format!("/admin/program/{section}/~new"))).await.unwrap();
            for (css, v) in fields {
                b.fill(css, v).await;
            }
            for (css, v) in selects {
                b.choose(css, v).await;
            }
            b.click("#save").await;
            b.text_when("#notice", |t| t.starts_with("Saved")).await;
        }
        b.fill("#f-levels-1-id", "silver").await;
        b.fill("#f-levels-1-from", "300").await;
        b.click("#save").await;
        b.text_when("#history", |t| t.contains("levels[1]")).await;
        b.screenshot("console-program-tier").await;
        // A weekend campaign: 10 points per 100.00 at weekends, activated.
        b.click("a[href='/admin/campaigns']").await;
        b.click("#new-campaign").await;
        b.fill("#f-id", "weekend-points").await;
        b.click("input[name=weekdays][value=sat]").await;
        b.click("input[name=weekdays][value=sun]").await;
        b.choose("#f-rewards-0-type", "accrue").await;
        b.choose("#f-rewards-0-currency", "PTS").await;
        b.fill("#f-rewards-0-percent", "10").await;
        b.click("#save").await;
        b.text_when("#status", |t| t == "Draft").await;
        b.click("#to-active").await;
        b.text_when("#status", |t| t == "Active").await;
        // A customer who signed up (at a till or in the portal) gets a card in the console…
        let customer = app.store.create_customer(loyd_store::NewCustomer { phone: Some("+37250001111".into()), ..Default::default() }, "test".into()).await.unwrap();
        b.click("a[href='/admin/customers']").await;
        b.fill("#q", "+37250001111").await;
        b.click("form[role=search] button").await;
        b.click("#results a").await;
        b.click("#issue-card button").await;
        let card = b.text(".issued-number").await;
        assert!(card.starts_with("2770"), "{card}");
        // …and the new till gives them the campaign's points, which their page shows.
        let receipt = json!({"receipt_id": "t-1", "customer": {"card": card}, "lines": [{"line": 1, "sku": "BREAD", "qty": "1", "amount": "50.00"}]});
        let (status, body) = app.commit_as(&key, &receipt).await;
        assert_eq!(status, 201, "{body}");
        let ours = body["accrued"].as_array().unwrap().iter().find(|a| a["campaign"] == "weekend-points").unwrap_or_else(|| panic!("{body}"));
        assert_eq!((ours["currency"].as_str(), ours["amount"].as_str()), (Some("PTS"), Some("5")), "10 per 100.00 of 50.00: {body}");
        b.client.goto(&app.url(&format!("/admin/customers/c_{}", customer.id))).await.unwrap();
        assert_eq!(b.text("#balance-PTS .available").await, "5");
        assert!(b.text("#receipt-t-1").await.contains("tallinn-01"));
        b.screenshot("console-customer-balances").await;
        b.client.clone().close().await.unwrap();
    }

    async fn every_page_of_the_console_is_usable_on_a_phone_nothing_sticks_out_sideways(db: TestDb) {
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let (id, card) = app.customer_with_card("+37120007777", "LOY").await;
        assert_eq!(app.commit(&crate::helpers::receipt("p-phone", Some(&card), "12.00")).await.0, 201);
        app.store.run_job(loyd_store::Job::ExpireLots, "cli".into()).await.unwrap();
        // Another card used eleven times within the hour: a fraud alert to show.
        let (_, busy) = app.customer_with_card("+37120007778", "LOY").await;
        for k in 0..11 {
            assert_eq!(app.commit(&crate::helpers::receipt(&format!("p-busy-{k}"), Some(&busy), "1.00")).await.0, 201);
        }
        app.store.run_job(loyd_store::Job::DetectFraud, "cli".into()).await.unwrap();
        let b = Browser::signed_in_at(&app, "ada", "admin", &[], 360).await;
        let customer = format!("/admin/customers/c_{id}");
        let statement = format!("/admin/customers/c_{id}/statement?currency=bonus");
        let sold = app.db().texts("SELECT CAST(id AS TEXT) FROM receipts WHERE receipt_id = 'p-phone'").await;
        let sold = format!("/admin/receipts/{}", sold[0]);
        let pages = [
            ("/admin", "h1", "dashboard"),
            ("/admin/program", "h1", "program"),
            ("/admin/program/currencies", "h1", "program-list"),
            ("/admin/campaigns", "h1", "campaigns"),
            ("/admin/campaigns/~new", "#constructor", "campaign"),
            ("/admin/coupons", "h1", "coupons"),
            ("/admin/cards", "h1", "cards"),
            ("/admin/customers?q=%2B37120007777&by=phone", "#results", "customers"),
            (customer.as_str(), "#balances", "customer"),
            (statement.as_str(), "#closing", "statement"),
            ("/admin/organisations", "h1", "organisations"),
            ("/admin/failures", "h1", "failures"),
            ("/admin/fraud", ".alert .counted", "fraud"),
            ("/admin/reports/sales?period=all", "#report", "reports"),
            ("/admin/reports/kpi", "#report", "reports-kpi"),
            ("/admin/reports/transactions", "#report", "reports-transactions"),
            ("/admin/reports/regulars", "#report", "reports-regulars"),
            (sold.as_str(), "#receipt-title", "receipt"),
            ("/admin/segments", "h1", "segments"),
            ("/admin/segments/rfm:champions", "#segment-title", "segment"),
            ("/admin/audit", "h1", "audit"),
            ("/admin/messages", "#deliveries", "messages"),
            ("/admin/jobs", "#jobs", "jobs"),
            ("/admin/stores", "h1", "stores"),
            ("/admin/staff", "h1", "staff"),
        ];
        for (path, ready, shot) in pages {
            b.client.goto(&app.url(path)).await.unwrap();
            b.text(ready).await;
            // A phone shrinks a page wider than its screen to fit (the window then reads
            // wider than 360 px): both the window and the page must stay 360 px wide.
            let widths: serde_json::Value = b.client.execute("return [window.innerWidth, document.documentElement.scrollWidth]", vec![]).await.unwrap();
            assert_eq!(widths, json!([360, 360]), "{path} is wider than a 360 px phone");
            if path == customer {
                assert_eq!(b.text("#balance-bonus .available").await, "2", "the available balance (2 steps of 5.00) is shown on a phone");
            }
            b.screenshot(&format!("console-{shot}-phone")).await;
        }
        // The top bar's links still reach every page by keyboard: each is a link in order.
        let links = b.client.find_all(Locator::Css("nav a")).await.unwrap().len();
        assert!(links >= 12, "{links} links in the top bar");
        b.client.clone().close().await.unwrap();
    }

    async fn an_analyst_reads_the_gift_card_liability_and_downloads_it_as_xlsx_that_a_spreadsheet_opens(db: TestDb) {
        let app = crate::helpers::spawn_with_program(db, toml::from_str(crate::reports::LEDGER_PROGRAM).unwrap()).await;
        let gc = app.issue("GC", None).await.remove(0).number;
        let res = app.pos_post(&format!("/v1/pos/gift-cards/{gc}/activate"), &json!({"operation_id": "g1", "amount": "50.00"})).await;
        assert_eq!(res.status(), 201);
        let mut pay = crate::helpers::receipt("p1", None, "20.00");
        pay["gift_cards"] = json!([{"number": gc, "amount": "20.00"}]);
        assert_eq!(app.commit(&pay).await.0, 201);
        app.store.run_job(loyd_store::Job::RollUp, "test".into()).await.unwrap();
        let b = Browser::signed_in(&app, "ana", "analyst").await;
        b.click("a[href='/admin/reports']").await;
        // The KPI first: this month's revenue against the month before.
        b.text_when("#tab-kpi[aria-current]", |t| t == "KPI").await;
        assert_eq!(b.text("#kpi-revenue .current").await, "20.00", "this month's sale");
        assert_eq!(b.text("#kpi-revenue .previous").await, "0.00");
        b.screenshot("console-reports-kpi").await;
        b.click("#tab-sales").await;
        assert!(b.text_when("#report", |t| t.contains("20.00")).await.contains("20.00"), "today's sale is in the sales report");
        b.click("#tab-gift_cards").await;
        b.choose("#r-period", "all").await;
        b.click("#report-filters button[type=submit]").await;
        let table = b.text_when("#report tr.total", |t| t.contains("Total")).await;
        assert!(table.contains("GC") && table.contains("50.00") && table.contains("30.00"), "sold 50.00, 30.00 left: {table}");
        b.screenshot("console-reports-gift-cards").await;
        b.click("#download-xlsx").await;
        let (name, bytes) = b.downloaded_bytes().await;
        assert!(name.starts_with("loyd-gift-cards-") && name.ends_with(".xlsx"), "{name}");
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("gift_cards").unwrap();
        assert_eq!(sheet.get_value((0, 10)), Some(&calamine::Data::String("Closing".into())));
        let total = (1..sheet.height() as u32).find(|r| sheet.get_value((*r, 0)) == Some(&calamine::Data::String("Total".into()))).expect("a total row");
        assert_eq!(sheet.get_value((total, 10)), Some(&calamine::Data::Float(30.0)), "the liability");
        b.client.clone().close().await.unwrap();
    }

    async fn a_marketer_sees_which_campaign_paid_for_itself_against_its_control_group(db: TestDb) {
        let app = crate::helpers::spawn_with_program(db, toml::from_str(crate::reports::CONTROL_PROGRAM).unwrap()).await;
        let (treated, held) = crate::reports::control_groups_of(&app, 2).await;
        // The treated buy far more than the held out: 81.00 and 82.80 against 30.00 and 32.00.
        for (k, (card, amount)) in [(&treated[0], "90.00"), (&treated[1], "92.00"), (&held[0], "30.00"), (&held[1], "32.00")].into_iter().enumerate() {
            assert_eq!(app.commit(&crate::helpers::receipt(&format!("e{k}"), Some(card), amount)).await.0, 201);
        }
        app.store.run_job(loyd_store::Job::RollUp, "test".into()).await.unwrap();
        let b = Browser::signed_in(&app, "mia", "marketer").await;
        b.click("a[href='/admin/reports']").await;
        b.click("#tab-effect").await;
        let card = b.text_when("#effect-autumn", |t| t.contains("Paid for itself")).await;

        assert!(card.contains("50.90 (48.26 … 53.54)"), "the uplift and its interval: {card}");
        assert!(card.contains("101.60 (96.33 … 106.87)"), "the net effect: {card}");
        b.screenshot("console-reports-effect").await;
        // In Latvian the verdict reads so too.
        b.client.goto(&app.url("/admin/reports/effect?lang=lv")).await.unwrap();
        assert!(b.text_when("#effect-autumn", |t| t.contains("Atmaksājās")).await.contains("Atmaksājās"));
        b.client.clone().close().await.unwrap();
    }

    async fn an_analyst_reads_a_fraud_alerts_evidence_and_acknowledges_it_with_a_note(db: TestDb) {
        let program = crate::fraud::FRAUD_PROGRAM.replace("block = [\"receipts_per_hour\"]", "");
        let app = crate::helpers::spawn_with_program(db, toml::from_str(&program).unwrap()).await;
        let (customer, card) = app.customer_with_card("+37120000077", "LOY").await;
        for k in 0..5 {
            assert_eq!(app.commit(&crate::helpers::receipt(&format!("f{k}"), Some(&card), "10.00")).await.0, 201);
            app.clock.advance(jiff::SignedDuration::from_mins(5));
        }
        app.store.run_job(loyd_store::Job::DetectFraud, "test".into()).await.unwrap();
        let id = app.db().texts("SELECT CAST(id AS TEXT) FROM fraud_alerts").await.remove(0);
        let b = Browser::signed_in(&app, "ana", "analyst").await;
        // The dashboard counts the open alert and links to it.
        assert_eq!(b.text("[data-figure=alerts]").await, "1");
        b.click("dt a[href='/admin/fraud']").await;
        let alert = b.text_when(&format!("#alert-{id}"), |t| t.contains("Many receipts within an hour")).await;
        assert!(alert.contains("Medium") && alert.contains(&format!("Customer {customer}")), "{alert}");
        assert!(alert.contains("5 (limit 3)"), "what was counted against the limit: {alert}");
        // The evidence lists the receipts, each linked to the customer.
        for k in 0..5 {
            assert!(alert.contains(&format!("f{k}")), "receipt f{k} in the evidence: {alert}");
        }
        let links = b.client.find_all(fantoccini::Locator::Css(&format!("#alert-{id} table.evidence a[href='/admin/customers/{customer}']"))).await.unwrap();
        assert_eq!(links.len(), 5);
        // An analyst may not block cards: the form offers no card.
        assert!(b.client.find(fantoccini::Locator::Css(&format!("#block-{id}"))).await.is_err());
        b.screenshot("console-fraud").await;
        b.fill(&format!("#note-{id}"), "Checked with the store: a family shares the card.").await;
        b.click(&format!("#ack-{id}")).await;
        b.text_when("#fraud-none", |t| t == "No alerts match.").await;
        let row = app.db().texts("SELECT state || '|' || note || '|' || decided_by FROM fraud_alerts").await;
        assert_eq!(row, ["acknowledged|Checked with the store: a family shares the card.|user:ana"]);
        // Among acknowledged alerts it shows who decided and why.
        b.choose("#f-state", "acknowledged").await;
        b.click("form[role=search] button[type=submit]").await;
        let done = b.text_when(&format!("#alert-{id} .state"), |t| t.contains("Acknowledged")).await;
        assert!(done.contains("ana"), "{done}");
        assert_eq!(b.text(&format!("#alert-{id} .note")).await, "Checked with the store: a family shares the card.");
        b.client.clone().close().await.unwrap();
    }

    async fn a_marketer_reads_rfm_groups_tries_a_condition_and_opens_a_segments_members(db: TestDb) {
        let app = crate::helpers::spawn_with_program(db, toml::from_str(crate::segments::PROGRAM).unwrap()).await;
        let b_ = crate::segments::base(&app).await;
        let ops = Browser::signed_in(&app, "ops", "admin").await;
        ops.click("a[href='/admin/segments']").await;
        assert_eq!(ops.text("#pass-state").await, "The segments job has not run yet.");
        // Recompute: the pass runs in the background; the page follows it to the end.
        ops.click("#recompute").await;
        ops.text_when("#pass-state", |t| t.starts_with("Last pass")).await;
        ops.client.clone().close().await.unwrap();

        let b = Browser::signed_in(&app, "mia", "marketer").await;
        b.click("a[href='/admin/segments']").await;
        assert_eq!(b.text("#row-rfm-champions .members").await, "3");
        assert_eq!(b.text("#row-rfm-need_attention .members").await, "3");
        assert_eq!(b.text("#scored").await, "7");
        assert!(b.text("#row-big-basket").await.contains("decided at the till only"));
        // A marketer may not run jobs: no button.
        assert!(b.client.find(fantoccini::Locator::Css("#recompute")).await.is_err());
        b.screenshot("console-segments").await;
        b.fill("#condition", "customer.rfm == 'champions' && customer.profile['city'] == 'Riga'").await;
        b.click("#try").await;
        assert_eq!(b.text_when("#tried-members", |t| !t.is_empty()).await, "1");
        assert_eq!(b.text("#tried-sample a").await, format!("c_{}", b_.best[0].0));
        // A bad condition is refused with its reason, the typed text kept.
        b.act("#condition", |e| async move { e.clear().await }).await;
        b.fill("#condition", "customer.purchases >").await;
        b.click("#try").await;
        assert!(b.text_when("#segments-error", |t| !t.is_empty()).await.contains("not a valid CEL expression"));
        assert_eq!(b.client.find(fantoccini::Locator::Css("#condition")).await.unwrap().prop("value").await.unwrap().as_deref(), Some("customer.purchases >"));

        b.click("#row-big a").await;
        let members = b.text_when("#members", |t| t.contains("Champions")).await;
        for (id, _) in &b_.best {
            assert!(members.contains(&format!("c_{id}")), "c_{id} in {members}");
        }
        assert_eq!(b.text("#history .members").await, "3");
        assert_eq!(b.text("#history .joined").await, "+3");
        b.screenshot("console-segment").await;
        // A member's page says their group and how often they bought.
        b.click(&format!("#members a[href='/admin/customers/c_{}']", b_.best[0].0)).await;
        assert_eq!(b.text_when("#rfm", |t| t.contains("Champions")).await, "Champions 555");
        assert!(b.text("#activity").await.starts_with("5 · last "));
        b.client.clone().close().await.unwrap();
    }

    async fn an_analyst_opens_a_receipt_from_the_transactions_report_and_reads_its_transfers_and_return(db: TestDb) {
        let app = crate::helpers::spawn_with_program(db, toml::from_str(crate::transactions::PROGRAM).unwrap()).await;
        let (customer, card) = app.customer_with_card("+37120000402", "LOY").await;
        assert_eq!(app.commit(&crate::helpers::receipt("t1", Some(&card), "20.00")).await.0, 201);
        let ret = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-9", "receipt_id": "t1", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(ret.status(), 201);
        let b = Browser::signed_in(&app, "ana", "analyst").await;
        b.click("a[href='/admin/reports']").await;
        b.click("#tab-transactions").await;
        let table = b.text_when("#report", |t| t.contains("return")).await;
        assert!(table.contains("sale") && table.contains(&format!("c_{customer}")), "{table}");
        b.click("#report a[href^='/admin/receipts/']").await;
        assert_eq!(b.text_when("#receipt-title", |t| t.contains("t1")).await, "Receipt t1");
        assert_eq!(b.text("#receipt-total").await, "20.00 EUR");
        let transfers = b.text("#receipt-transfers").await;
        assert!(transfers.contains(&format!("customer:{customer}")) && transfers.contains("1.00"), "{transfers}");
        let operation = b.text(".operation").await;
        assert!(operation.contains("Return ret-9") && operation.contains("20.00"), "{operation}");
        b.screenshot("console-receipt").await;
        b.client.clone().close().await.unwrap();
    }

    async fn an_admin_adds_a_webhook_sets_its_secret_and_reads_the_deliveries_a_real_listener_received(db: TestDb) {
        use crate::webhooks::{Receiver, SECRET};
        let hooks = Receiver::start(&[200]).await;
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let b = Browser::signed_in(&app, "ada", "admin").await;
        b.client.goto(&app.url("/admin/program/webhooks/~new")).await.unwrap();
        b.fill("#f-id", "crm").await;
        b.fill("#f-url", &hooks.url).await;
        b.fill("#f-events", "customer.registered").await;
        b.click("#save").await;
        b.text_when("#notice", |t| t.starts_with("Saved")).await;
        b.click("a[href='/admin/messages']").await;
        assert!(b.text("#hook-crm .secret-state").await.contains("Not set"));
        b.fill("#secret-crm", SECRET).await;
        b.click("#save-secret-crm").await;
        b.text_when("#notice", |t| t.contains("secret of crm")).await;
        assert!(b.text("#hook-crm .secret-state").await.starts_with("Set"));
        assert!(!b.client.source().await.unwrap().contains(SECRET), "the secret is never shown again");
        b.click("#test-crm").await;
        b.text_when("#notice", |t| t.contains("test event")).await;
        let customer = app.store.create_customer(loyd_store::NewCustomer { phone: Some("+37120008888".into()), ..Default::default() }, "test".into()).await.unwrap();
        let sender = loyd_api::deliver::Sender::new("http://127.0.0.1");
        assert_eq!(loyd_api::deliver::deliver_once(&app.store, &sender).await.unwrap(), 2);
        // Sent at once, in no promised order.
        let mut got = hooks.got();
        got.sort_by_key(|g| g.json()["type"].as_str().unwrap().to_owned());
        let kinds: Vec<String> = got.iter().map(|g| g.json()["type"].as_str().unwrap().to_owned()).collect();
        assert_eq!(kinds, ["customer.registered", "webhook.test"]);
        assert_eq!(got[0].json()["data"]["customer"], format!("c_{}", customer.id));
        b.client.goto(&app.url("/admin/messages")).await.unwrap();
        let log = b.text("#deliveries").await;
        assert_eq!(log.matches("Delivered").count(), 2, "{log}");
        assert!(log.contains("HTTP 200") && log.contains(&format!("customer:{}", customer.id)), "{log}");
        // The page opens on e-mail and SMS; the picture is of the webhooks and their deliveries.
        b.client.execute("document.getElementById('hooks').scrollIntoView()", vec![]).await.unwrap();
        b.screenshot("console-webhooks").await;
        b.client.clone().close().await.unwrap();
    }

    async fn a_marketer_configures_email_and_sms_writes_a_welcome_in_two_languages_and_it_reaches_only_the_customer_who_consented(db: TestDb) {
        let smtp = crate::messages::Smtp::start().await;
        let gateway = crate::webhooks::Receiver::start(&[200]).await;
        let app = spawn_example(db, "s1-step-bonus.toml").await;
        let b = Browser::signed_in(&app, "mia", "marketer").await;
        // The SMTP server, in its form under Program: one object, no id to type.
        b.client.goto(&app.url("/admin/program/email")).await.unwrap();
        b.click("#new-object").await;
        b.fill("#f-host", "127.0.0.1").await;
        b.fill("#f-port", &smtp.port.to_string()).await;
        b.choose("#f-security", "none").await;
        b.fill("#f-from", "not an address").await;
        b.click("#save").await;
        // A wrong field is refused at that field, the rest kept.
        assert!(b.text("#f-from-error").await.contains("not an address"));
        b.refill("#f-from", "Shop <shop@loyd.test>").await;
        b.click("#save").await;
        b.text_when("#notice", |t| t.starts_with("Saved")).await;
        b.client.goto(&app.url("/admin/program/email")).await.unwrap();
        assert!(b.client.find(Locator::Css("#new-object")).await.is_err(), "one SMTP server: edited, not added");
        // The SMS gateway in its form; a limit left blank is no limit.
        b.client.goto(&app.url("/admin/program/sms/~new")).await.unwrap();
        b.fill("#f-url", &gateway.url).await;
        b.fill("#f-body", r#"{"to": {{ to | tojson }}, "text": {{ text | tojson }}}"#).await;
        b.fill("#f-auth_header", "X-Api-Key").await;
        b.click("#save").await;
        b.text_when("#notice", |t| t.starts_with("Saved")).await;
        let program = app.store.program().await.unwrap();
        let email = program.email.as_ref().unwrap();
        assert_eq!((email.port, email.from.as_str(), program.sms.as_ref().map(|g| g.customer_limit)), (Some(smtp.port), "Shop <shop@loyd.test>", Some(None)));
        // The gateway's key, on the Messages page: never shown again.
        b.client.goto(&app.url("/admin/messages")).await.unwrap();
        b.fill("#sms-key", "gateway-key-0123").await;
        b.click("#save-sms-key").await;
        b.text_when("#notice", |t| t.contains("sms")).await;
        assert!(b.text("#sms .key-state").await.starts_with("Set"));
        assert!(!b.client.source().await.unwrap().contains("gateway-key-0123"));
        // The welcome message, in English and Latvian, in the form, by e-mail and by SMS.
        for (id, channel) in [("welcome", "email"), ("welcome-sms", "sms")] {
            b.client.goto(&app.url("/admin/program/messages/~new")).await.unwrap();
            b.fill("#f-id", id).await;
            b.choose("#f-event", "customer.registered").await;
            b.choose("#f-channel", channel).await;
            b.fill("#f-texts-en-subject", "Welcome, {{ customer.name }}").await;
            b.fill("#f-texts-en-body", "Hello {{ customer.name }}!\n\nUnsubscribe: {{ unsubscribe_url }}").await;
            b.fill("#f-texts-lv-subject", "Sveicināti, {{ customer.name }}").await;
            b.fill("#f-texts-lv-body", "Labdien, {{ customer.name }}!\n\nAtteikties: {{ unsubscribe_url }}").await;
            b.click("#save").await;
            b.text_when("#notice", |t| t.starts_with("Saved")).await;
        }
        // Kept with plain line ends, whatever the browser sent: the e-mail's paragraphs stay paragraphs.
        let program = app.store.program().await.unwrap();
        assert_eq!(program.messages[0].texts["en"].body, "Hello {{ customer.name }}!\n\nUnsubscribe: {{ unsubscribe_url }}");
        // The preview renders the unsaved form for a sample customer, in both languages.
        b.click("#run-message-preview").await;
        let lv = b.text_when("#preview-lv", |t| t.contains("Labdien")).await;
        assert!(lv.contains("Sveicināti, Anna Ozola") && lv.contains("Labdien, Anna Ozola!"), "{lv}");
        b.client.execute("document.getElementById('message-preview').scrollIntoView()", vec![]).await.unwrap();
        b.screenshot("console-message-preview").await;
        // A text reading what it may not is refused at its field.
        b.fill("#f-texts-en-body", " {{ customer.balance }}").await;
        b.click("#save").await;
        assert!(b.text("#f-texts-en-body-error").await.contains("customer.balance"));
        // Two customers register; only Līga consented to e-mail and texts.
        let consent = std::collections::BTreeMap::from([("email".to_owned(), true), ("sms".to_owned(), true)]);
        let new = |name: &str, email: &str, phone: &str, consents: std::collections::BTreeMap<String, bool>| loyd_store::NewCustomer {
            name: Some(name.into()),
            email: Some(email.into()),
            phone: Some(phone.into()),
            consents,
            profile: [("language".to_owned(), "lv".to_owned())].into(),
            ..Default::default()
        };
        app.store.create_customer(new("Līga", "liga@example.lv", "+37120000071", consent), "test".into()).await.unwrap();
        app.store.create_customer(new("Pēteris", "peteris@example.lv", "+37120000072", Default::default()), "test".into()).await.unwrap();
        let sender = loyd_api::deliver::Sender::new(&app.url(""));
        assert_eq!(loyd_api::deliver::deliver_once(&app.store, &sender).await.unwrap(), 4);
        let mail = smtp.received();
        assert_eq!(mail.len(), 1, "{mail:#?}");
        assert_eq!((mail[0]["to"].as_str(), mail[0]["subject"].as_str()), (Some("liga@example.lv"), Some("Sveicināti, Līga")));
        assert!(mail[0]["text"].as_str().unwrap().starts_with("Labdien, Līga!"), "{}", mail[0]);
        let texts: Vec<serde_json::Value> = gateway.got().iter().map(|g| g.json()).collect();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert_eq!((texts[0]["to"].as_str(), gateway.got()[0].header("x-api-key")), (Some("+37120000071"), "gateway-key-0123"));
        assert!(texts[0]["text"].as_str().unwrap().starts_with("Labdien, Līga!"), "{}", texts[0]);
        // The console shows the messages and every delivery.
        b.click("a[href='/admin/messages']").await;
        assert_eq!(b.text("#message-welcome td:nth-child(4)").await, "en, lv");
        assert!(b.text("#sms .gateway").await.contains(&gateway.url));
        let log = b.text("#deliveries").await;
        assert!(log.contains("Delivered") && log.contains("250") && log.contains("HTTP 200") && log.contains("Withheld") && log.contains("not consented"), "{log}");
        b.screenshot("console-messages").await;
        b.client.goto(&app.url("/admin/program/email/email")).await.unwrap();
        b.screenshot("console-channel-email").await;
        b.client.clone().close().await.unwrap();
    }

    async fn a_marketer_sends_a_mailing_with_two_variants_to_a_segment_and_reads_its_report(db: TestDb) {
        let smtp = crate::messages::Smtp::start().await;
        let app = crate::helpers::spawn_with_program(db, crate::mailings::program(smtp.port, "")).await;
        for (n, city) in ["Riga", "Riga", "Riga", "Riga", "Riga", "Riga", "Tallinn"].iter().enumerate() {
            let new = loyd_store::NewCustomer {
                name: Some(format!("Buyer {n}")),
                email: Some(format!("b{n}@example.lv")),
                profile: [("city".to_owned(), (*city).to_owned())].into(),
                consents: [("email".to_owned(), true)].into(),
                ..Default::default()
            };
            app.store.create_customer(new, "test".into()).await.unwrap();
        }
        app.store.run_job(loyd_store::Job::Segments, "test".into()).await.unwrap();
        let b = Browser::signed_in(&app, "mia", "marketer").await;
        b.click("a[href='/admin/mailings']").await;
        assert!(b.text("#mailings-none").await.contains("No mailings"));
        b.fill("#name", "Winter sale").await;
        b.choose("#audience", "segment:riga").await;
        b.fill("#a_subject", "Sale A").await;
        b.fill("#a_body", "Hello {{ customer.balance }}").await;
        b.fill("#b_subject", "Sale B").await;
        b.fill("#b_body", "Hello {{ customer.name }}: {{ \"https://shop.example/b\" | track }}").await;
        b.click("#send-mailing").await;
        // A text reading what it may not is refused, naming the field; what was typed stays.
        let problems = b.text("#mailing-problems").await;
        assert!(problems.contains("variants[0].texts.en.body") && problems.contains("customer.balance"), "{problems}");
        b.client.execute("document.getElementById('a_body').value = 'Hello {{ customer.name }}'", vec![]).await.unwrap();
        b.client.execute("document.getElementById('test_share').value = '100'", vec![]).await.unwrap();
        b.client.execute("document.getElementById('new-title').scrollIntoView()", vec![]).await.unwrap();
        b.screenshot("console-mailing-new").await;
        b.click("#send-mailing").await;
        assert_eq!(b.text_when("#mailing-state", |t| !t.is_empty()).await, "scheduled");
        let sender = loyd_api::deliver::Sender::new(&app.url(""));
        loyd_api::deliver::deliver_all(&app.store, &sender).await.unwrap();
        loyd_api::deliver::deliver_all(&app.store, &sender).await.unwrap();
        let mail = smtp.received();
        assert_eq!(mail.len(), 6, "the six in Riga, split between A and B");
        assert!(mail.iter().any(|m| m["subject"] == "Sale A") && mail.iter().any(|m| m["subject"] == "Sale B"));
        b.client.refresh().await.unwrap();
        assert_eq!(b.text("#mailing-state").await, "sent");
        let total = b.text("#report tbody tr:last-child").await;
        assert!(total.starts_with("Total 6 0 6 0 0"), "{total}");
        b.screenshot("console-mailing").await;
        b.click("a[href='/admin/mailings']").await;
        assert!(b.text("#mailings").await.contains("Winter sale"));
        b.client.clone().close().await.unwrap();
        // An analyst reads the report on a phone and may not make one.
        let a = Browser::signed_in_at(&app, "ana", "analyst", &[], 360).await;
        a.client.goto(&app.url("/admin/mailings")).await.unwrap();
        assert!(a.text("#mailings").await.contains("Winter sale"));
        assert!(a.client.find(fantoccini::Locator::Css("#new-mailing")).await.is_err());
        a.click("#mailings a").await;
        assert_eq!(a.text("#mailing-state").await, "sent");
        let overflow: serde_json::Value = a.client.execute("return document.documentElement.scrollWidth > window.innerWidth", vec![]).await.unwrap();
        assert_eq!(overflow, json!(false), "nothing of the report sticks out sideways at 360 px");
        a.screenshot("console-mailing-phone").await;
        a.client.clone().close().await.unwrap();
    }
}

/// Widths of the page at a phone's 360 px: both the window and the page.
async fn phone_widths(b: &Browser) -> serde_json::Value {
    b.client.execute("return [window.innerWidth, document.documentElement.scrollWidth]", vec![]).await.unwrap()
}

/// Signs `phone` in to the portal in browser `b` with the code the SMS gateway got.
async fn portal_sign_in(b: &Browser, app: &TestApp, sms: &crate::webhooks::Receiver, phone: &str) {
    b.client.goto(&app.url("/portal")).await.unwrap();
    b.fill("#to", phone).await;
    b.click("#send").await;
    b.text("#sent").await;
    crate::portal::deliver(app).await;
    b.fill("#code", &crate::portal::last_code(sms, phone)).await;
    b.click("#check").await;
}

both_backends! {
    async fn a_new_customer_joins_on_a_phone_shows_the_code_at_the_till_and_sees_points_and_a_coupon_in_latvian_then_russian(db: TestDb) {
        let sms = crate::webhooks::Receiver::start(&[200]).await;
        let app = crate::helpers::spawn_with_program(db, toml::from_str(&crate::portal::program(&sms.url)).unwrap()).await;
        crate::helpers::admin(&app).await;
        let b = Browser::start(360).await;

        // Signed out, the portal is its sign-in page; in Latvian from here on.
        b.client.goto(&app.url("/portal")).await.unwrap();
        assert_eq!(b.client.current_url().await.unwrap().path(), "/portal/login");
        b.click("a[hreflang=lv]").await;
        assert_eq!(b.text("html[lang=lv] form h2").await, "Pieteikties");
        b.screenshot("portal-login-phone").await;
        b.fill("#to", "+371 2000 0001").await;
        b.click("#send").await;
        assert!(b.text("#sent").await.contains("+371 •••• 0001"));
        crate::portal::deliver(&app).await;
        assert!(sms.got()[0].json()["text"].as_str().unwrap().starts_with("Jūsu kods: "), "the code comes in the portal's language");
        b.fill("#code", "000000").await;
        b.click("#check").await;
        assert_eq!(b.text("#code-error").await, "Kods ir nepareizs vai beidzies. Pārbaudiet to vai pieprasiet jaunu.");
        b.fill("#code", &crate::portal::last_code(&sms, "+37120000001")).await;
        b.click("#check").await;

        // A new phone joins: name, consent, the rules.
        b.fill("#name", "Līga").await;
        b.click("#consent-sms").await;
        b.screenshot("portal-join-phone").await;
        b.click("#accept").await;
        b.click("#join").await;
        b.text_when("h1", |t| t == "Sveiki, Līga").await;
        let number = b.text("#card-number").await;
        assert!(number.starts_with("2770"), "a virtual card: {number}");
        assert_eq!(phone_widths(&b).await, json!([360, 360]));

        // The code for the till (htmx swaps it in), typed at the POS: the receipt is hers.
        b.click("#show-code").await;
        let code = b.text_when("#till-code", |t| t.len() == 6).await;
        assert_eq!(b.client.find_all(Locator::Css("#till svg")).await.unwrap().len(), 1, "a QR picture to scan");
        b.screenshot("portal-card-phone").await;
        let mut r = crate::helpers::receipt("till-1", None, "12.00");
        r["customer"] = json!({"code": code});
        let (status, body) = app.commit(&r).await;
        assert_eq!(status, 201, "{body}");
        let coupon = body["issued_coupons"][0]["code"].as_str().unwrap().to_owned();

        // The points and their expiry, the purchase, the coupon: in Latvian.
        for (path, ready, shot) in [("/portal/points", "#balances", "points"), ("/portal/history", "#purchases", "history"), ("/portal/coupons", ".coupon", "coupons"), ("/portal/profile", "#save", "profile")] {
            b.client.goto(&app.url(path)).await.unwrap();
            b.text(ready).await;
            assert_eq!(phone_widths(&b).await, json!([360, 360]), "{path} is wider than a 360 px phone");
            b.screenshot(&format!("portal-{shot}-phone")).await;
        }
        b.client.goto(&app.url("/portal/points")).await.unwrap();
        assert_eq!(b.text("#balances dd[data-currency=bonus]").await, "5");
        b.client.goto(&app.url("/portal/coupons")).await.unwrap();
        assert!(b.text(".coupon .code").await.contains(&coupon));
        assert_eq!(b.text("nav.tabs a[aria-current]").await, "Kuponi");

        // The program's greeting and offer on her card; ten more points buy a free coffee.
        b.client.goto(&app.url("/portal")).await.unwrap();
        assert_eq!(b.text("#welcome h2").await, "Laipni lūgti Shop Club");
        assert_eq!(b.text("#offer-autumn h2").await, "Rudens izpārdošana");
        let (_, found) = crate::helpers::call(&app, "GET", "/v1/admin/customers?phone=%2B37120000001", crate::helpers::ADMIN_KEY, None).await;
        let id = found["customers"][0]["id"].as_str().unwrap().to_owned();
        let (status, _) = crate::helpers::call(&app, "POST", &format!("/v1/admin/customers/{id}/adjustments"), crate::helpers::ADMIN_KEY,
            Some(json!({"operation_id": "gift-10", "currency": "bonus", "amount": "10", "reason": "birthday"}))).await;
        assert_eq!(status, 201);
        b.click("#rewards-link").await;
        assert_eq!(b.text("#reward-coffee h2").await, "Bezmaksas kafija");
        b.click("#reward-coffee button").await;
        let free = b.text_when("#taken .code", |t| !t.is_empty()).await;
        assert_eq!(b.text("#balances dd[data-currency=bonus]").await, "5");
        assert_eq!(phone_widths(&b).await, json!([360, 360]));
        b.screenshot("portal-rewards-phone").await;
        b.click("#taken a").await;
        b.text_when("h1", |t| t == "Kuponi").await;
        assert!(b.client.source().await.unwrap().contains(&free));

        // Then in Russian: the same purchase, its amount written the Russian way.
        b.click("a[hreflang=ru]").await;
        assert_eq!(b.text("html[lang=ru] nav.tabs a[aria-current]").await, "Купоны");
        b.client.goto(&app.url("/portal/history")).await.unwrap();
        b.text_when("h1", |t| t == "Покупки").await;
        assert!(b.text("#purchases").await.contains("12,00 EUR"));

        // She stops offers without leaving the program, then signs out.
        // Messages too from now on in Russian.
        b.client.goto(&app.url("/portal/profile")).await.unwrap();
        b.choose("#language", "ru").await;
        b.click("#opted-out").await;
        b.click("#save").await;
        assert_eq!(b.text("#flash").await, "Сохранено.");
        let (_, found) = crate::helpers::call(&app, "GET", "/v1/admin/customers?phone=%2B37120000001", crate::helpers::ADMIN_KEY, None).await;
        assert!(found["customers"][0]["opted_out_at"].is_string(), "{found}");
        assert_eq!(found["customers"][0]["profile"]["language"], "ru", "{found}");
        b.click("#logout").await;
        b.text_when("form h2", |t| t == "Вход").await;

        // Another customer in the same browser reads nothing of hers.
        let (status, _) = crate::helpers::call(&app, "POST", "/v1/admin/customers", crate::helpers::ADMIN_KEY, Some(json!({"phone": "+37120000002", "name": "Boris"}))).await;
        assert_eq!(status, 201);
        portal_sign_in(&b, &app, &sms, "+37120000002").await;
        b.text_when("h1", |t| t == "Здравствуйте, Boris").await;
        for path in ["/portal", "/portal/points", "/portal/history", "/portal/coupons", "/portal/messages", "/portal/profile"] {
            b.client.goto(&app.url(path)).await.unwrap();
            let page = b.client.source().await.unwrap();
            for hers in ["Līga", &number, &coupon, "12,00"] {
                assert!(!page.contains(hers), "{path} shows her {hers}");
            }
        }
        b.client.clone().close().await.unwrap();
    }
}
