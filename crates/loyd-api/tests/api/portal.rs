//! The customer portal over HTTP, as a browser without scripts uses it (cookies kept,
//! redirects not followed): a new phone joins with a code read from a real HTTP
//! listener standing in for the SMS gateway, gets a virtual card and a code for the
//! till that identifies them at the POS; sign-in answers alike for members and anyone
//! else, codes are single-use, guessed at most five times and rate-limited; a customer
//! sees only their own data and can sign out on every device.

use std::collections::BTreeMap;

use loyd_api::deliver::{Sender, deliver_once};
use loyd_testkit::both_backends;
use serde_json::json;

use crate::helpers::{ADMIN_KEY, TestApp, admin, call, spawn_with_program};
use crate::webhooks::Receiver;

/// Points for every receipt, a loyalty series for portal members, an SMS gateway and
/// the message that carries sign-in codes.
pub(crate) fn program(sms: &str) -> String {
    format!(
        r#"
[[currencies]]
code = "EUR"
kind = "money"
scale = 2

[[currencies]]
code = "bonus"
kind = "points"
scale = 0
value = "0.01"

[[stores]]
id = "riga-01"
name = "Riga Centre"
timezone = "Europe/Riga"
address = "Brīvības iela 1, Rīga"
hours = "Mon–Sat 8–22, Sun 10–20"

[[card_series]]
id = "LOY"
kind = "loyalty"
prefix = "2770"

[[card_series]]
id = "GIFT"
kind = "gift"
prefix = "6000"
currency = "EUR"
amount_min = "5.00"
amount_max = "100.00"
pin = true
validity_days = 365

[[counters]]
id = "spent"
measure = "sum"
window_days = 365

[[tiers]]
id = "status"
counter = "spent"
levels = [{{ id = "base", from = "0" }}, {{ id = "silver", from = "100.00" }}]

[[coupon_series]]
id = "NEXT"
kind = "unique"
percent = "10"

[[campaigns]]
id = "visit"
rewards = [{{ type = "accrue", currency = "bonus", fixed = "5" }}, {{ type = "issue_coupon", coupon_series = "NEXT" }}]

[[campaigns]]
id = "tote"
min_total = "50.00"
rewards = [{{ type = "gift", gift = "Tote bag" }}]

[[coupon_series]]
id = "COFFEE"
kind = "unique"
percent = "100"
skus = ["COFFEE"]
validity_days = 30

[[segments]]
id = "riga"
name = "Riga people"
condition = "customer.profile['city'] == 'Riga'"

[[catalogue]]
id = "coffee"
currency = "bonus"
cost = "10"
coupon_series = "COFFEE"
per_customer = 1
texts.en = {{ title = "A free coffee", body = "Any size, any store." }}
texts.lv = {{ title = "Bezmaksas kafija" }}

[[catalogue]]
id = "riga-bag"
currency = "bonus"
cost = "3"
coupon_series = "NEXT"
segment = "riga"
stock = 1
texts.en = {{ title = "A Riga tote bag" }}

[[catalogue]]
id = "bike"
currency = "bonus"
cost = "1000"
coupon_series = "NEXT"
texts.en = {{ title = "A bicycle" }}

[[offers]]
id = "autumn"
link = "https://shop.example/autumn"
texts.en = {{ title = "Autumn sale", body = "Coats at half price." }}
texts.lv = {{ title = "Rudens izpārdošana" }}

[[offers]]
id = "riga-night"
segment = "riga"
texts.en = {{ title = "Riga night shopping" }}

[[offers]]
id = "old"
valid_until = "2020-01-01T00:00:00Z"
texts.en = {{ title = "Old news" }}

[portal]
card_series = "LOY"
texts.en = {{ title = "Welcome to Shop Club", body = "Points on every purchase." }}
texts.lv = {{ title = "Laipni lūgti Shop Club" }}

[[portal.fields]]
key = "pet"
values = ["cat", "dog"]
texts.en = {{ title = "Your pet" }}
texts.lv = {{ title = "Jūsu mājdzīvnieks" }}

[[portal.fields]]
key = "shoe_size"
texts.en = {{ title = "Shoe size", body = "EU sizes, for offers on shoes." }}

[sms]
url = "{sms}"
body = '{{"to": {{{{ to | tojson }}}}, "text": {{{{ text | tojson }}}}}}'

[[messages]]
id = "sign-in"
event = "portal.code"
channel = "sms"
transactional = true
[messages.texts.en]
body = "Your code: {{{{ code.code }}}} ({{{{ code.minutes }}}} min)"
[messages.texts.lv]
body = "Jūsu kods: {{{{ code.code }}}}"
"#
    )
}

/// A client that keeps cookies and does not follow redirects, as a person's browser
/// would hand them to the next page.
struct Visitor<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

/// An answer: status, body, and where a redirect points.
struct Page {
    status: u16,
    body: String,
    location: Option<String>,
}

impl Page {
    /// The CSRF token of the page's first form.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no form token in {}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp) -> Visitor<'a> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Visitor { app, http, cookies: BTreeMap::new() }
    }

    async fn answer(&mut self, res: reqwest::Response) -> Page {
        for v in res.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        Page { status: res.status().as_u16(), location, body: res.text().await.unwrap() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn get(&mut self, path: &str) -> Page {
        let res = self.http.get(self.app.url(path)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.answer(res).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let res = self
            .http
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.answer(res).await
    }

    /// Asks for a code for `to` from the sign-in page.
    async fn ask_code(&mut self, to: &str) -> Page {
        let login = self.get("/portal/login").await;
        assert_eq!(login.status, 200);
        let csrf = login.csrf();
        self.post("/portal/login", &[("to", to), ("csrf", &csrf)]).await
    }

    /// Types `code` on the code page `page` asked for `to`.
    async fn type_code(&mut self, page: &Page, to: &str, code: &str) -> Page {
        let csrf = page.csrf();
        self.post("/portal/code", &[("to", to), ("code", code), ("csrf", &csrf)]).await
    }
}

/// Signs `phone` (a member's) in and returns the session's cookie header.
pub(crate) async fn sign_in_cookie(app: &TestApp, sms: &Receiver, phone: &str) -> String {
    signed_in(app, sms, phone).await.cookie_header()
}

pub(crate) async fn deliver(app: &TestApp) {
    let sender = Sender::new(&app.url(""));
    while deliver_once(&app.store, &sender).await.unwrap() > 0 {}
}

/// The code of the last SMS the gateway got for `phone`.
pub(crate) fn last_code(sms: &Receiver, phone: &str) -> String {
    let got = sms.got();
    let text = got.iter().rev().map(|g| g.json()).find(|m| m["to"] == phone).unwrap_or_else(|| panic!("no SMS to {phone}"))["text"].as_str().unwrap().to_owned();
    text.chars().filter(char::is_ascii_digit).take(6).collect()
}

/// Asks the portal for a gift card's balance, as its page does.
async fn gift_check(v: &mut Visitor<'_>, number: String, pin: String) -> Page {
    let page = v.get("/portal/gift-card").await;
    let csrf = page.csrf();
    v.post("/portal/gift-card", &[("number", number.as_str()), ("pin", pin.as_str()), ("csrf", csrf.as_str())]).await
}

/// A member made by staff, with a phone (and a card of `LOY` if `card`).
async fn member(app: &TestApp, phone: &str, name: &str) -> i64 {
    let (status, c) = call(app, "POST", "/v1/admin/customers", ADMIN_KEY, Some(json!({"phone": phone, "name": name}))).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().trim_start_matches("c_").parse().unwrap()
}

/// Signs `phone` in (a member) and returns the visitor.
async fn signed_in<'a>(app: &'a TestApp, sms: &Receiver, phone: &str) -> Visitor<'a> {
    let mut v = Visitor::new(app);
    let page = v.ask_code(phone).await;
    assert_eq!(page.status, 200, "{}", page.body);
    deliver(app).await;
    let done = v.type_code(&page, phone, &last_code(sms, phone)).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/portal")), "{}", done.body);
    v
}

both_backends! {
    async fn a_new_phone_joins_with_the_code_it_was_sent_gets_a_virtual_card_and_a_till_code_that_finds_it_at_the_pos(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&program(&sms.url)).unwrap()).await;
        admin(&app).await;
        let phone = "+37120000001";

        let mut v = Visitor::new(&app);
        let asked = v.ask_code("+371 2000 0001").await;
        assert_eq!(asked.status, 200, "{}", asked.body);
        assert!(asked.body.contains("+371 •••• 0001"), "{}", asked.body);
        deliver(&app).await;
        let code = last_code(&sms, phone);
        assert_eq!(code.len(), 6);
        // Neither the code nor the phone is kept in the clear; the event forgot the code once sent.
        let kept = app.db().texts("SELECT address_hash || ' ' || code_hash FROM portal_codes").await;
        assert_eq!(kept.len(), 1);
        assert!(!kept[0].contains(&code) && !kept[0].contains("20000001"), "{kept:?}");
        let payloads = app.db().texts("SELECT payload FROM events WHERE kind = 'portal.code'").await;
        let opened = app.store.keyring().open("event", &payloads[0]).unwrap();
        assert!(!opened.contains(&code) && opened.contains("\"minutes\":10"), "{opened}");

        // A wrong code is refused; the right one confirms the phone, which may join.
        let wrong = v.type_code(&asked, "+371 2000 0001", if code == "000000" { "111111" } else { "000000" }).await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
        let right = v.type_code(&wrong, "+371 2000 0001", &code).await;
        assert_eq!((right.status, right.location.as_deref()), (303, Some("/portal/join")), "{}", right.body);
        let join = v.get("/portal/join").await;
        assert_eq!(join.status, 200, "{}", join.body);
        assert!(join.body.contains("consent-sms"), "the program's channels are offered: {}", join.body);
        let csrf = join.csrf();
        let refused = v.post("/portal/join", &[("name", "Līga Ozola"), ("csrf", &csrf)]).await;
        assert_eq!(refused.status, 422, "the rules must be accepted: {}", refused.body);
        let csrf = refused.csrf();
        let joined = v.post("/portal/join", &[("name", "Līga Ozola"), ("consent", "sms"), ("accept", "on"), ("csrf", &csrf)]).await;
        assert_eq!((joined.status, joined.location.as_deref()), (303, Some("/portal")), "{}", joined.body);
        // The code confirmed the phone once: it signs in no more.
        let mut other = Visitor::new(&app);
        let login = other.get("/portal/login").await;
        assert_eq!(other.type_code(&login, "+371 2000 0001", &code).await.status, 401);

        // A member with the phone, the consent and a virtual card of the portal's series.
        let (_, found) = call(&app, "GET", "/v1/admin/customers?phone=%2B37120000001", ADMIN_KEY, None).await;
        let id = found["customers"][0]["id"].as_str().unwrap().to_owned();
        let (_, c) = call(&app, "GET", &format!("/v1/admin/customers/{id}"), ADMIN_KEY, None).await;
        assert_eq!(c["name"], "Līga Ozola");
        assert_eq!(c["consents"]["sms"]["granted"], true, "{c}");
        let card = c["cards"][0]["number"].as_str().unwrap().to_owned();
        assert!(card.starts_with("2770") && c["cards"][0]["is_virtual"] == true, "{c}");

        let home = v.get("/portal").await;
        assert_eq!(home.status, 200, "{}", home.body);
        assert!(home.body.contains("Līga Ozola") && home.body.contains(&card[..4]), "{}", home.body);
        let csrf = home.csrf();
        let till = v.post("/portal/till-code", &[("csrf", &csrf)]).await;
        assert_eq!(till.status, 200, "{}", till.body);
        assert!(till.body.contains("<svg"), "a QR picture: {}", till.body);
        let at = till.body.find("id=\"till-code\">").unwrap() + 15;
        let till_code = till.body[at..at + 6].to_owned();
        assert!(till_code.chars().all(|c| c.is_ascii_digit()), "{till_code}");

        // The till finds the customer by that code; the receipt's points, coupon and purchase show.
        let mut r = crate::helpers::receipt("r-1", None, "12.00");
        r["customer"] = json!({"code": till_code});
        let (status, body) = app.commit(&r).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["customer"]["id"].as_str(), Some(id.as_str()), "{body}");
        let home = v.get("/portal").await;
        assert!(home.body.contains("<span class=\"level\">base</span>") && home.body.contains("To silver: 88 more"), "{}", home.body);
        let points = v.get("/portal/points").await;
        assert!(points.body.contains("data-currency=\"bonus\">5<"), "{}", points.body);
        let moves = &points.body[points.body.find("id=\"moves\"").unwrap()..];
        assert!(moves.contains("Earned") && moves.contains("+5 bonus"), "the receipt's points among the movements: {moves}");
        let history = v.get("/portal/history").await;
        assert!(history.body.contains("Riga Centre") && history.body.contains("12.00"), "{}", history.body);
        let coupons = v.get("/portal/coupons").await;
        let issued = body["issued_coupons"][0]["code"].as_str().unwrap();
        assert!(coupons.body.contains(issued) && coupons.body.contains("−10 %"), "{}", coupons.body);

        // In Latvian, remembered: numbers and words in the language chosen.
        let lv = v.get("/portal/history?lang=lv").await;
        assert!(lv.body.contains("Pirkumi") && lv.body.contains("12,00"), "{}", lv.body);
        assert!(v.get("/portal").await.body.contains("Jūsu karte"));
    }

    async fn sign_in_answers_alike_for_a_member_and_anyone_else_and_codes_are_single_use_guessed_five_times_and_limited(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&program(&sms.url)).unwrap()).await;
        admin(&app).await;
        member(&app, "+37120000002", "Anna").await;

        // A member's phone and a stranger's get the same page (the phone aside).
        let mut v = Visitor::new(&app);
        let theirs = v.ask_code("+37120000002").await;
        let strangers = v.ask_code("+37120000009").await;
        assert_eq!((theirs.status, strangers.status), (200, 200));
        let blank = |p: &Page| p.body.replace("0002", "").replace("0009", "").split("name=\"csrf\"").next().unwrap().to_owned();
        assert_eq!(blank(&theirs), blank(&strangers));
        deliver(&app).await;
        assert_eq!(sms.got().len(), 2, "both phones get a code");

        // Five wrong guesses spend the code: even the right one is refused then.
        let code = last_code(&sms, "+37120000002");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            assert_eq!(v.type_code(&theirs, "+37120000002", wrong).await.status, 401);
        }
        assert_eq!(v.type_code(&theirs, "+37120000002", &code).await.status, 401);
        // The stranger's code is theirs alone: it does not sign the member in.
        let strangers_code = last_code(&sms, "+37120000009");
        assert_eq!(v.type_code(&theirs, "+37120000002", &strangers_code).await.status, 401);

        // At most five codes a phone an hour (one was sent already).
        for _ in 0..4 {
            assert_eq!(v.ask_code("+37120000002").await.status, 200);
        }
        let limited = v.ask_code("+37120000002").await;
        assert_eq!(limited.status, 429, "{}", limited.body);
        app.clock.advance(jiff::SignedDuration::from_mins(61));
        assert_eq!(v.ask_code("+37120000002").await.status, 200);

        // Twenty an hour from one network address, whatever the phones (an hour on, none
        // counts but the last one).
        for n in 0..19 {
            assert_eq!(v.ask_code(&format!("+3712100{n:04}")).await.status, 200, "code {n}");
        }
        assert_eq!(v.ask_code("+37121009999").await.status, 429);

        // Without the form's token nothing is sent; nonsense is no address.
        let mut bare = Visitor::new(&app);
        assert_eq!(bare.post("/portal/login", &[("to", "+37120000002"), ("csrf", "x")]).await.status, 403);
        assert_eq!(v.ask_code("call me").await.status, 422);
    }

    async fn a_customer_sees_only_their_own_data_edits_their_profile_and_signs_out_everywhere(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&program(&sms.url)).unwrap()).await;
        admin(&app).await;
        let anna = member(&app, "+37120000003", "Anna Bērziņa").await;
        let (_, cards) = call(&app, "POST", "/v1/admin/cards", ADMIN_KEY, Some(json!({"series": "LOY", "customer": format!("c_{anna}")}))).await;
        let annas_card = cards["cards"][0]["number"].as_str().unwrap().to_owned();
        let (status, body) = app.commit(&crate::helpers::receipt("anna-1", Some(&annas_card), "77.70")).await;
        assert_eq!(status, 201, "{body}");
        let annas_coupon = body["issued_coupons"][0]["code"].as_str().unwrap().to_owned();
        let boris = member(&app, "+37120000004", "Boris").await;

        let mut b = signed_in(&app, &sms, "+37120000004").await;
        // Boris reads nothing of Anna's on any page, whatever he puts in the address.
        for path in [
            "/portal".to_owned(),
            "/portal/points".to_owned(),
            "/portal/history".to_owned(),
            format!("/portal/history?customer=c_{anna}&before=2100-01-01T00:00:00Z"),
            "/portal/coupons".to_owned(),
            format!("/portal/coupons?customer=c_{anna}"),
            "/portal/messages".to_owned(),
            "/portal/profile".to_owned(),
            "/portal/rewards".to_owned(),
            format!("/portal/history?show=returns&customer=c_{anna}"),
            "/portal/data?format=csv".to_owned(),
        ] {
            let page = b.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            for theirs in ["Anna", "Bērziņa", &annas_card, &annas_coupon, "77.70", "0003", "Tote bag"] {
                assert!(!page.body.contains(theirs), "{path} shows Anna's {theirs}");
            }
        }
        assert!(b.get("/portal/profile").await.body.contains("Boris"));
        // Anna sees the gift her receipt gave.
        let mut a = signed_in(&app, &sms, "+37120000003").await;
        let hers = a.get("/portal/coupons").await;
        assert!(hers.body.contains(r#"id="gifts""#) && hers.body.contains("Tote bag"), "{}", hers.body);

        // His own data, as one file: his, and nothing of Anna's.
        let data = b.get("/portal/data").await;
        assert_eq!(data.status, 200);
        let data: serde_json::Value = serde_json::from_str(&data.body).unwrap();
        assert_eq!(data["customer"]["phone"], "+37120000004");
        assert_eq!(data["purchases"].as_array().unwrap().len(), 0);
        for theirs in ["Anna", &annas_card, &annas_coupon, "77.70"] {
            assert!(!data.to_string().contains(theirs), "his data holds Anna's {theirs}");
        }
        // Asking twice for erasure makes one open task for staff.
        for _ in 0..2 {
            let csrf = b.get("/portal/profile").await.csrf();
            assert_eq!(b.post("/portal/erasure", &[("csrf", &csrf)]).await.status, 200);
        }
        let (status, crm) = call(&app, "GET", &format!("/v1/admin/customers/c_{boris}/crm"), ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{crm}");
        let tasks: Vec<_> = crm["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "task" && e["body"].as_str().unwrap().contains("erased")).collect();
        assert_eq!(tasks.len(), 1, "{crm}");
        assert_eq!(tasks[0]["status"], "open");

        // A form without the session's token changes nothing.
        let refused = b.post("/portal/profile", &[("name", "Mallory"), ("csrf", "0123")]).await;
        assert_eq!(refused.status, 403);
        // The profile: name, e-mail, city, language, consents, and no marketing at all.
        let csrf = b.get("/portal/profile").await.csrf();
        let saved = b
            .post("/portal/profile", &[("name", "Boris K"), ("email", "boris@example.com"), ("birth_date", "1990-02-03"), ("city", "Rīga"), ("language", "ru"), ("consent", "sms"), ("csrf", &csrf)])
            .await;
        assert_eq!(saved.status, 200, "{}", saved.body);
        assert!(saved.body.contains("Сохранено"), "the page speaks the language chosen: {}", saved.body);
        let (_, c) = call(&app, "GET", &format!("/v1/admin/customers/c_{boris}"), ADMIN_KEY, None).await;
        assert_eq!((c["name"].as_str(), c["email"].as_str(), c["birth_date"].as_str()), (Some("Boris K"), Some("boris@example.com"), Some("1990-02-03")));
        assert_eq!((c["profile"]["city"].as_str(), c["profile"]["language"].as_str()), (Some("Rīga"), Some("ru")));
        assert_eq!(c["consents"]["sms"]["granted"], true);
        let csrf = saved.csrf();
        let out = b.post("/portal/profile", &[("name", "Boris K"), ("email", "boris@example.com"), ("language", "ru"), ("opted_out", "on"), ("csrf", &csrf)]).await;
        assert_eq!(out.status, 200, "{}", out.body);
        let (_, c) = call(&app, "GET", &format!("/v1/admin/customers/c_{boris}"), ADMIN_KEY, None).await;
        assert!(c["opted_out_at"].is_string() && c["consents"]["sms"]["granted"] == false, "{c}");
        // Anna's e-mail cannot be taken.
        call(&app, "PATCH", &format!("/v1/admin/customers/c_{anna}"), ADMIN_KEY, Some(json!({"email": "anna@example.com"}))).await;
        let csrf = out.csrf();
        let taken = b.post("/portal/profile", &[("name", "Boris K"), ("email", "anna@example.com"), ("csrf", &csrf)]).await;
        assert_eq!(taken.status, 422, "{}", taken.body);
        assert!(!taken.body.contains("Bērziņa"));

        // Signed in on a second device too; signing out everywhere ends both sessions.
        let mut phone2 = signed_in(&app, &sms, "+37120000004").await;
        assert_eq!(phone2.get("/portal").await.status, 200);
        let csrf = b.get("/portal/profile").await.csrf();
        let gone = b.post("/portal/logout", &[("everywhere", "1"), ("csrf", &csrf)]).await;
        assert_eq!((gone.status, gone.location.as_deref()), (303, Some("/portal/login")));
        assert_eq!(b.get("/portal").await.location.as_deref(), Some("/portal/login"));
        assert_eq!(phone2.get("/portal").await.location.as_deref(), Some("/portal/login"));
    }

    async fn a_gift_cards_balance_is_read_by_number_and_pin_alike_for_unknown_and_wrong_and_limited_per_address(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&program(&sms.url)).unwrap()).await;
        admin(&app).await;
        let card = app.issue("GIFT", None).await.remove(0);
        let pin = card.pin.clone().unwrap();
        let res = app.pos_post(&format!("/v1/pos/gift-cards/{}/activate", card.number), &json!({"operation_id": "act-1", "amount": "25.00"})).await;
        assert_eq!(res.status(), 201);

        let mut v = Visitor::new(&app);
        let found = gift_check(&mut v, card.number.clone(), pin.clone()).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert!(found.body.contains("id=\"gift-balance\"") && found.body.contains("25.00 EUR"), "{}", found.body);
        // A wrong PIN and an unknown number get the same answer.
        let wrong_pin = if pin == "0000" { "1111" } else { "0000" };
        let wrong = gift_check(&mut v, card.number.clone(), wrong_pin.to_owned()).await;
        let unknown = gift_check(&mut v, "6000999999999".to_owned(), pin.clone()).await;
        assert_eq!((wrong.status, unknown.status), (404, 404));
        let said = |p: &Page| p.body[p.body.find("id=\"gift-error\"").unwrap()..].split('<').next().unwrap().to_owned();
        assert_eq!(said(&wrong), said(&unknown));
        assert!(!unknown.body.contains("gift-balance"));
        // Ten checks an hour from one address.
        for _ in 0..7 {
            assert_ne!(gift_check(&mut v, card.number.clone(), pin.clone()).await.status, 429);
        }
        assert_eq!(gift_check(&mut v, card.number.clone(), pin.clone()).await.status, 429);

        // The stores, with where and when, for anyone.
        let stores = v.get("/portal/stores").await;
        assert!(stores.body.contains("Riga Centre") && stores.body.contains("Brīvības iela 1, Rīga") && stores.body.contains("Mon–Sat 8–22"), "{}", stores.body);
        // A store's address is one line.
        let (status, body) = call(&app, "PATCH", "/v1/admin/config/stores/riga-01", ADMIN_KEY, Some(json!({"address": "line one\nline two"}))).await;
        assert_eq!(status, 422, "{body}");
    }

    async fn a_member_exchanges_points_for_a_coupon_once_per_operation_within_the_limits_and_sees_the_offers_meant_for_them(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&program(&sms.url)).unwrap()).await;
        admin(&app).await;
        let id = member(&app, "+37120000005", "Ilze").await;
        let (status, adj) = call(&app, "POST", &format!("/v1/admin/customers/c_{id}/adjustments"), ADMIN_KEY,
            Some(json!({"operation_id": "welcome-20", "currency": "bonus", "amount": "20", "reason": "welcome"}))).await;
        assert_eq!(status, 201, "{adj}");
        let mut v = signed_in(&app, &sms, "+37120000005").await;

        // The card page: the program's greeting, the offers for everyone that are on now,
        // not those of a segment she is not in, nor those over; a way to the rewards.
        let home = v.get("/portal").await;
        for shown in ["Welcome to Shop Club", "Autumn sale", "Coats at half price.", "https://shop.example/autumn", "href=\"/portal/rewards\""] {
            assert!(home.body.contains(shown), "{shown}: {}", home.body);
        }
        assert!(!home.body.contains("Riga night shopping") && !home.body.contains("Old news"), "{}", home.body);
        let rewards = v.get("/portal/rewards").await;
        assert_eq!(rewards.status, 200, "{}", rewards.body);
        assert!(rewards.body.contains("A free coffee") && rewards.body.contains("Any size, any store."), "{}", rewards.body);
        assert!(!rewards.body.contains("A Riga tote bag"), "meant for Riga people only: {}", rewards.body);
        let bike = &rewards.body[rewards.body.find("id=\"reward-bike\"").unwrap()..];
        assert!(bike.contains("980 bonus more needed.") && !bike[..bike.find("</section>").unwrap()].contains("<form"), "{bike}");

        // Exchanged: the points leave, a coupon of the series is hers; sent again, the same.
        let csrf = rewards.csrf();
        let op = "exchange-1";
        let got = v.post("/portal/rewards", &[("csrf", &csrf), ("reward", "coffee"), ("operation", op)]).await;
        assert_eq!(got.status, 200, "{}", got.body);
        let at = got.body.find("id=\"taken\"").unwrap();
        let code_at = got.body[at..].find("class=\"code\">").unwrap() + at + 14;
        let code = got.body[code_at..code_at + got.body[code_at..].find('<').unwrap()].to_owned();
        assert!(!code.is_empty() && got.body.contains("data-currency=\"bonus\">10<"), "{}", got.body);
        let again = v.post("/portal/rewards", &[("csrf", &csrf), ("reward", "coffee"), ("operation", op)]).await;
        assert!(again.status == 200 && again.body.contains(&code) && again.body.contains("data-currency=\"bonus\">10<"), "{}", again.body);
        let kept = app.db().texts(&format!("SELECT series FROM coupons WHERE customer_id = {id}")).await;
        assert_eq!(kept, ["COFFEE"], "one coupon for one operation");
        assert!(v.get("/portal/coupons").await.body.contains(&code));
        assert!(v.get("/portal/points").await.body.contains("Exchanged for a reward"));
        // Once per member: the page says so, and another operation is refused with why.
        let rewards = v.get("/portal/rewards").await;
        assert!(rewards.body.contains("You have taken this reward as many times as it allows."), "{}", rewards.body);
        let twice = v.post("/portal/rewards", &[("csrf", &csrf), ("reward", "coffee"), ("operation", "exchange-2")]).await;
        assert_eq!(twice.status, 422, "{}", twice.body);
        assert!(twice.body.contains("at most 1 time(s) per member"), "{}", twice.body);
        // Too few points: refused, nothing moves.
        let poor = v.post("/portal/rewards", &[("csrf", &csrf), ("reward", "bike"), ("operation", "exchange-3")]).await;
        assert_eq!(poor.status, 422, "{}", poor.body);
        assert!(poor.body.contains("data-currency=\"bonus\">10<"), "{}", poor.body);
        // Meant for others, unknown, or without the form's token: nothing.
        let others = v.post("/portal/rewards", &[("csrf", &csrf), ("reward", "riga-bag"), ("operation", "exchange-4")]).await;
        assert!(others.status == 404 && others.body.contains("This reward is not available."), "{}", others.body);
        assert_eq!(v.post("/portal/rewards", &[("csrf", &csrf), ("reward", "car"), ("operation", "exchange-5")]).await.status, 404);
        assert_eq!(v.post("/portal/rewards", &[("csrf", "forged"), ("reward", "coffee"), ("operation", "exchange-6")]).await.status, 403);

        // In Riga (as the segments job lists her) the bag and the Riga offer are hers; the
        // stock of one is taken by the first exchange.
        let (status, c) = call(&app, "PATCH", &format!("/v1/admin/customers/c_{id}"), ADMIN_KEY, Some(json!({"profile": {"city": "Riga"}}))).await;
        assert_eq!(status, 200, "{c}");
        app.store.run_job(loyd_store::Job::Segments, "test".into()).await.unwrap();
        assert!(v.get("/portal").await.body.contains("Riga night shopping"));
        let bag = v.post("/portal/rewards", &[("csrf", &csrf), ("reward", "riga-bag"), ("operation", "exchange-7")]).await;
        assert!(bag.status == 200 && bag.body.contains("id=\"taken\""), "{}", bag.body);
        assert!(bag.body.contains("Out of stock.") && bag.body.contains("data-currency=\"bonus\">7<"), "{}", bag.body);
        assert!(app.store.ledger_audit().await.unwrap().is_sound());

        // In Latvian: the texts written in it, the others in English.
        let lv = v.get("/portal?lang=lv").await;
        assert!(lv.body.contains("Laipni lūgti Shop Club") && lv.body.contains("Rudens izpārdošana") && lv.body.contains("Riga night shopping"), "{}", lv.body);
    }

    async fn concurrent_exchanges_take_a_limited_reward_once_and_an_operation_once(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&program(&sms.url)).unwrap()).await;
        admin(&app).await;
        let id = member(&app, "+37120000006", "Jānis").await;
        let (status, _) = call(&app, "POST", &format!("/v1/admin/customers/c_{id}/adjustments"), ADMIN_KEY,
            Some(json!({"operation_id": "seed", "currency": "bonus", "amount": "100", "reason": "test"}))).await;
        assert_eq!(status, 201);
        let race = |ops: Vec<String>, reward: &'static str| {
            let mut tasks = tokio::task::JoinSet::new();
            for op in ops {
                let store = app.store.clone();
                tasks.spawn(async move { store.exchange_reward(op, id, reward.into()).await });
            }
            tasks.join_all()
        };
        // Eight operations at once for a reward taken once per member: one goes through.
        let done = race((0..8).map(|n| format!("race-{n}")).collect(), "coffee").await;
        assert_eq!(done.iter().filter(|r| r.is_ok()).count(), 1, "{done:?}");
        let (status, _) = call(&app, "POST", &format!("/v1/admin/customers/c_{id}/adjustments"), ADMIN_KEY,
            Some(json!({"operation_id": "seed-2", "currency": "bonus", "amount": "1000", "reason": "test"}))).await;
        assert_eq!(status, 201);
        // One operation sent eight times at once: one coupon, the same for all.
        let done = race(vec!["one-bike".to_owned(); 8], "bike").await;
        let codes: std::collections::BTreeSet<String> = done.iter().map(|r| r.as_ref().unwrap().code.clone()).collect();
        assert_eq!(codes.len(), 1, "{done:?}");
        assert_eq!(done.iter().filter(|r| !r.as_ref().unwrap().replay).count(), 1);
        // Four operations at once for a bicycle with points for one: one goes through.
        let (status, _) = call(&app, "POST", &format!("/v1/admin/customers/c_{id}/adjustments"), ADMIN_KEY,
            Some(json!({"operation_id": "seed-3", "currency": "bonus", "amount": "1000", "reason": "test"}))).await;
        assert_eq!(status, 201);
        let done = race((0..4).map(|n| format!("bike-{n}")).collect(), "bike").await;
        assert_eq!(done.iter().filter(|r| r.is_ok()).count(), 1, "1090 points: {done:?}");
        let held = app.store.customer_balances(id).await.unwrap();
        assert_eq!(held[0].available, "90", "2100 less 10, 1000 and 1000: {held:?}");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn the_history_lists_purchases_and_returns_apart_over_a_period_chosen(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&program(&sms.url)).unwrap()).await;
        admin(&app).await;
        let id = member(&app, "+37120000007", "Oskars").await;
        let (_, cards) = call(&app, "POST", "/v1/admin/cards", ADMIN_KEY, Some(json!({"series": "LOY", "customer": format!("c_{id}")}))).await;
        let card = cards["cards"][0]["number"].as_str().unwrap().to_owned();
        assert_eq!(app.commit(&crate::helpers::receipt("old-1", Some(&card), "30.00")).await.0, 201);
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 60));
        assert_eq!(app.commit(&crate::helpers::receipt("new-1", Some(&card), "12.00")).await.0, 201);
        let ret = app.pos_post("/v1/pos/returns", &json!({"return_id": "ret-1", "receipt_id": "new-1", "lines": [{"line": 1, "qty": "1"}]})).await;
        assert_eq!(ret.status(), 201);

        let mut v = signed_in(&app, &sms, "+37120000007").await;
        let all = v.get("/portal/history").await;
        assert!(all.body.contains("30.00") && all.body.contains("12.00") && !all.body.contains("id=\"returns\""), "{}", all.body);
        let month = v.get("/portal/history?days=30").await;
        assert!(month.body.contains("12.00") && !month.body.contains("30.00"), "{}", month.body);
        let returns = v.get("/portal/history?show=returns&days=30").await;
        let table = &returns.body[returns.body.find("id=\"returns\"").unwrap_or_else(|| panic!("{}", returns.body))..];
        assert!(table.contains("Riga Centre") && table.contains("12.00 EUR") && table.contains("Points taken back: 5 bonus"), "{table}");
        // Their purchases as a table to download.
        let csv = v.get("/portal/data?format=csv").await;
        let rows: Vec<&str> = csv.body.lines().collect();
        assert_eq!(rows.len(), 3, "{}", csv.body);
        assert!(rows[0] == "at,store,receipt_id,status,currency,total,discount,paid_with_points" && rows[1].contains(",riga-01,new-1,committed,EUR,12.00,"), "{}", csv.body);
        // Only theirs: another member's history has neither.
        member(&app, "+37120000008", "Pēteris").await;
        let mut other = signed_in(&app, &sms, "+37120000008").await;
        let theirs = other.get("/portal/history?show=returns").await;
        assert!(theirs.body.contains("No returns.") && !theirs.body.contains("12.00"), "{}", theirs.body);
    }

    async fn the_retention_job_erases_inactive_members_empties_old_messages_and_deletes_the_portals_leftovers(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let text = format!("{}\n[retention]\ninactive_days = 90\nmessages_days = 30\n", program(&sms.url));
        let app = spawn_with_program(db, toml::from_str(&text).unwrap()).await;
        admin(&app).await;
        let card_of = |id: i64| {
            let app = &app;
            async move {
                let (_, cards) = call(app, "POST", "/v1/admin/cards", ADMIN_KEY, Some(json!({"series": "LOY", "customer": format!("c_{id}")}))).await;
                cards["cards"][0]["number"].as_str().unwrap().to_owned()
            }
        };
        let olga = member(&app, "+37120000061", "Olga").await;
        let sandra = member(&app, "+37120000062", "Sandra").await;
        let bruno = member(&app, "+37120000063", "Bruno").await;
        let olgas = card_of(olga).await;
        assert_eq!(app.commit(&crate::helpers::receipt("o-1", Some(&olgas), "10.00")).await.0, 201);
        // Olga signs in today (a code by SMS, delivered), then nobody hears of her.
        let _ = signed_in(&app, &sms, "+37120000061").await;
        let old_event = app.db().texts("SELECT CAST(MAX(id) AS TEXT) FROM events").await[0].clone();
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 70));
        let brunos = card_of(bruno).await;
        assert_eq!(app.commit(&crate::helpers::receipt("b-1", Some(&brunos), "10.00")).await.0, 201);
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 10));
        let _ = signed_in(&app, &sms, "+37120000062").await;
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 20));

        // A member far along the ids (an import's, say): the pass reaches them too,
        // range by range.
        let far = match app.db().backend() {
            "postgres" => "INSERT INTO customers (id, created_at, updated_at) OVERRIDING SYSTEM VALUE VALUES (23456, 0, 0)",
            _ => "INSERT INTO customers (id, created_at, updated_at) VALUES (23456, 0, 0)",
        };
        app.db().execute_raw(far).await.unwrap();
        // A hundred days on: Olga is erased; Sandra (signed in 20 days ago) and Bruno
        // (bought 30 days ago) are kept.
        app.store.run_job(loyd_store::Job::RollUp, "test".into()).await.unwrap();
        let run = app.store.run_job(loyd_store::Job::Retention, "test".into()).await.unwrap();
        assert!(run.error.is_none() && run.items > 0, "{run:?}");
        let read = |id: i64| {
            let app = &app;
            async move { call(app, "GET", &format!("/v1/admin/customers/c_{id}"), ADMIN_KEY, None).await.1 }
        };
        let o = read(olga).await;
        assert!(o["erased_at"].is_string() && o["name"].is_null() && o["phone"].is_null(), "{o}");
        assert!(read(23456).await["erased_at"].is_string());
        for (id, name) in [(sandra, "Sandra"), (bruno, "Bruno")] {
            let c = read(id).await;
            assert!(c["erased_at"].is_null() && c["name"] == name, "{c}");
        }
        assert_eq!(app.store.customer_balances(olga).await.unwrap()[0].available, "5", "the ledger keeps her points");
        // Messages older than 30 days keep no data; the newer ones do.
        let payload = |id: &str| {
            let app = &app;
            let id = id.to_owned();
            async move {
                let sealed = app.db().texts(&format!("SELECT payload FROM events WHERE id = {id}")).await;
                app.store.keyring().open("event", &sealed[0]).unwrap()
            }
        };
        assert_eq!(payload(&old_event).await, r#"{"erased":true}"#);
        let newest = app.db().texts("SELECT CAST(MAX(id) AS TEXT) FROM events").await[0].clone();
        assert_ne!(payload(&newest).await, r#"{"erased":true}"#);
        // Spent codes and checks are gone; the pass is done for the day.
        assert_eq!(app.db().texts("SELECT CAST(COUNT(*) AS TEXT) FROM portal_codes").await, ["0"]);
        let again = app.store.run_job(loyd_store::Job::Retention, "test".into()).await.unwrap();
        assert_eq!(again.items, 0, "{again:?}");
        let (_, history) = call(&app, "GET", &format!("/v1/admin/customers/c_{olga}/history"), ADMIN_KEY, None).await;
        let erasures = history["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "customer.erase").count();
        assert_eq!(erasures, 1, "{history}");
        assert!(app.store.ledger_audit().await.unwrap().is_sound());
    }

    async fn members_fill_in_the_programs_own_profile_fields_with_the_values_it_allows(db: TestDb) {
        let sms = Receiver::start(&[200]).await;
        let app = spawn_with_program(db, toml::from_str(&program(&sms.url)).unwrap()).await;
        admin(&app).await;
        let id = member(&app, "+37120000071", "Marta").await;
        let mut v = signed_in(&app, &sms, "+37120000071").await;
        let page = v.get("/portal/profile").await;
        assert!(page.body.contains(r#"<select id="field-pet" name="field.pet""#) && page.body.contains("Your pet"), "{}", page.body);
        assert!(page.body.contains(r#"id="field-shoe_size""#) && page.body.contains("EU sizes, for offers on shoes."), "{}", page.body);
        let csrf = page.csrf();
        // A value the field does not have is refused; one it has is kept.
        for (pet, status) in [("fish", 422), ("dog", 200)] {
            let page = v.post("/portal/profile", &[("csrf", &csrf), ("name", "Marta"), ("language", "en"), ("field.pet", pet), ("field.shoe_size", "39")]).await;
            assert_eq!(page.status, status, "{}", page.body);
            assert_eq!(page.body.contains("Choose one of the values offered."), status == 422, "{}", page.body);
        }
        let (_, c) = call(&app, "GET", &format!("/v1/admin/customers/c_{id}"), ADMIN_KEY, None).await;
        assert_eq!((c["profile"]["pet"].as_str(), c["profile"]["shoe_size"].as_str()), (Some("dog"), Some("39")), "{c}");
        // In Latvian, its label in Latvian; the chosen value stays chosen.
        let lv = v.get("/portal/profile?lang=lv").await;
        assert!(lv.body.contains("Jūsu mājdzīvnieks") && lv.body.contains(r#"<option value="dog" selected>"#), "{}", lv.body);
    }
}
