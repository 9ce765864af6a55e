//! Customers: search by phone, card, name or e-mail, and a customer's page: contact
//! data, balances, cards (issued, blocked, unblocked), purchases, CRM entries (a note
//! added) and goodwill adjustments — through the same functions as the admin API
//! ([`crate::admin::customers`], [`crate::admin::cards`], [`crate::admin::balances`],
//! [`crate::admin::crm_entries`]). Contact data, and CRM texts, are shown in the clear,
//! and searched by, only for roles that may read them.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use loyd_domain::access::{CHANNELS, Permission};
use serde::Deserialize;

use crate::i18n::Lang;
use super::{Frame, Session, allowed, checked, filled, lang_of, page as render, remember_lang};
use crate::AppState;
use crate::admin::cards::set_blocked;
use crate::admin::customers::{CustomerOut, CustomerQuery, one, search};
use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    /// `phone`, `card`, `name` or `email`.
    #[serde(default)]
    by: String,
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "console/customers.html")]
struct SearchPage {
    f: Frame,
    s: Session,
    q: String,
    by: String,
    searched: bool,
    found: Vec<CustomerOut>,
    error: Option<String>,
    /// Requests to erase personal data not yet done: the customer, when they asked, by
    /// when it is due.
    erasures: Vec<(String, String, String)>,
}

/// A purchase as the customer page lists it.
pub struct PurchaseView {
    /// The receipt's page.
    pub link: String,
    pub at: String,
    pub store: String,
    pub receipt_id: String,
    pub status: String,
    pub total: String,
    pub discount: String,
    pub redeemed: String,
    pub currency: String,
}

/// What a form just did or why it was refused, to show on the page after it.
#[derive(Default)]
pub struct Flash {
    /// The form (`cards`, `adjust`, `crm`) and what to fix.
    pub error: Option<(&'static str, String)>,
    /// Cards just issued, with their PINs: shown this once.
    pub issued: Vec<loyd_store::IssuedCard>,
    pub notice: Option<String>,
}

impl Flash {
    /// Form `which` was refused: what to fix, shown at that form.
    fn refused(which: &'static str, what: impl Into<String>) -> Flash {
        Flash { error: Some((which, what.into())), ..Flash::default() }
    }
}

#[derive(Template)]
#[template(path = "console/customer.html")]
struct CustomerPage {
    f: Frame,
    s: Session,
    c: CustomerOut,
    balances: Vec<loyd_domain::receipt::BalanceOut>,
    purchases: Vec<PurchaseView>,
    entries: Vec<crate::admin::crm_entries::CrmOut>,
    /// Whether the customer asked in the portal for their data to be erased (an open
    /// task says so).
    erasure_asked: bool,
    /// Card series a card may be issued from here (loyalty and credit).
    series: Vec<String>,
    currencies: Vec<String>,
    can_cards: bool,
    can_adjust: bool,
    can_crm: bool,
    /// Whether this person may change the profile (and contact data, if they read it).
    can_edit: bool,
    can_contacts: bool,
    /// The consent channels, each with whether the customer gave it.
    consents: Vec<(&'static str, bool)>,
    /// The idempotency id of the adjustment form: a form sent twice adjusts once.
    operation: String,
    flash: Flash,
    lang: Lang,
}

impl CustomerPage {
    /// A card's state in the page's language.
    fn state_label(&self, state: &loyd_domain::cards::CardState) -> &'static str {
        match state {
            loyd_domain::cards::CardState::Issued => self.f.t.get("card.issued"),
            loyd_domain::cards::CardState::Active => self.f.t.get("card.active"),
            loyd_domain::cards::CardState::Blocked => self.f.t.get("card.blocked"),
            loyd_domain::cards::CardState::Expired => self.f.t.get("card.expired"),
        }
    }

    /// How many purchases and when the last: `12 · last Nov 24`, or `—`.
    fn activity(&self) -> String {
        match self.c.last_purchase_at {
            Some(at) if self.c.purchases > 0 => format!(
                "{} · {} {}",
                self.lang.number(&self.c.purchases.to_string()),
                self.f.t.get("customers.last"),
                self.lang.day(at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
            ),
            _ => "—".to_owned(),
        }
    }

    /// A moment as the page's language writes its day (UTC).
    fn when(&self, at: &jiff::Timestamp) -> String {
        self.lang.day(at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
    }

    /// Whether the customer gave any consent.
    fn any_consent(&self) -> bool {
        self.consents.iter().any(|(_, given)| *given)
    }

    /// The refusal of form `which`, if that form was refused.
    fn error_of(&self, which: &str) -> Option<&str> {
        self.flash.error.as_ref().filter(|(w, _)| *w == which).map(|(_, e)| e.as_str())
    }

    fn amount(&self, text: &str) -> String {
        self.lang.number(text)
    }

    /// The statement of a currency's account.
    fn statement_of(&self, currency: &loyd_domain::ids::AssetCode) -> Option<String> {
        Some(format!("/admin/customers/{}/statement?currency={currency}", self.c.id))
    }
}

/// What to tell the person about a refusal, in their language where the console knows it.
fn say(lang: Lang, e: &ApiError) -> String {
    match e.code {
        ErrorCode::Forbidden => lang.words().get("customers.forbidden").to_owned(),
        _ => super::refusal(lang.words(), e),
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<SearchQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::CustomersRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let term = q.q.trim().to_owned();
    let searched = !term.is_empty();
    let by = if ["phone", "card", "name", "email"].contains(&q.by.as_str()) { q.by.clone() } else { "phone".to_owned() };
    let (found, error) = if searched {
        let mut query = CustomerQuery { phone: None, email: None, card: None, name: None, organisation: None, after: None, limit: Some(50) };
        match by.as_str() {
            "card" => query.card = Some(term.clone()),
            "name" => query.name = Some(term.clone()),
            "email" => query.email = Some(term.clone()),
            _ => query.phone = Some(term.clone()),
        }
        match search(&state, &actor, query).await {
            Ok(page) => (page.customers, None),
            Err(e) => (Vec::new(), Some(say(lang, &e))),
        }
    } else {
        (Vec::new(), None)
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let day = |at: jiff::Timestamp| lang.day(at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date());
    let erasures = match state.store.erasure_requests().await {
        Ok(r) => r.into_iter().map(|(id, asked)| (loyd_domain::ids::CustomerId(id).to_string(), day(asked), day(asked + jiff::SignedDuration::from_hours(30 * 24)))).collect(),
        Err(e) => {
            tracing::error!(error = %e, "erasure requests could not be read");
            Vec::new()
        }
    };
    let s = Session::of(&actor.principal, &secret, lang.words(), "/admin/customers");
    let mut res = render(status, SearchPage { f: Frame::new(lang), s, q: term, by, searched, found, error, erasures });
    remember_lang(&mut res, q.lang.as_deref());
    res
}

async fn show(state: &AppState, lang: Lang, actor: &Actor, secret: &str, id: &str, flash: Flash) -> Response {
    let loaded = async {
        let c = one(state, actor, id).await?;
        let balances = crate::admin::balances::balances_of(state, id).await?;
        let purchases = if actor.can(Permission::ReceiptsRead) {
            let q = crate::admin::customers::PurchaseQuery { store: None, before: None, limit: Some(20) };
            crate::admin::customers::purchases_of(state, actor, id, q).await?.purchases
        } else {
            Vec::new()
        };
        let entries = crate::admin::crm_entries::customer_entries(state, actor, id, 20).await?;
        let doc = state.store.config_snapshot().await?;
        Ok::<_, ApiError>((c, balances, purchases, entries, doc))
    };
    match loaded.await {
        Ok((c, balances, purchases, entries, doc)) => {
            let s = Session::of(&actor.principal, secret, lang.words(), "/admin/customers");
            let status = if flash.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            let purchases = purchases
                .into_iter()
                .map(|p| {
                    let z = p.at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
                    PurchaseView {
                        link: format!("/admin/receipts/{}", p.id),
                        at: format!("{} {:02}:{:02} UTC", lang.day(z.date()), z.hour(), z.minute()),
                        store: p.store,
                        receipt_id: p.receipt_id,
                        status: p.status,
                        total: lang.number(&p.total),
                        discount: lang.number(&p.discount),
                        redeemed: lang.number(&p.redeemed_value),
                        currency: p.currency,
                    }
                })
                .collect();
            use loyd_domain::program::CardKind;
            let series = doc.card_series.iter().filter(|x| matches!(x.kind, CardKind::Loyalty | CardKind::Credit)).map(|x| x.id.to_string()).collect();
            let currencies = doc.currencies.iter().map(|x| x.code.to_string()).collect();
            let consents = CHANNELS.into_iter().map(|ch| (ch, c.consents.get(ch).is_some_and(|x| x.granted))).collect();
            let erasure_asked = entries.iter().any(|e| e.status == "open" && e.body == loyd_store::ERASURE_ASKED);
            let page = CustomerPage {
                f: Frame::new(lang),
                s,
                c,
                balances,
                purchases,
                entries,
                erasure_asked,
                series,
                currencies,
                can_cards: actor.can(Permission::CardsManage),
                can_adjust: actor.can(Permission::BalanceAdjust),
                can_crm: actor.can(Permission::CrmWrite),
                can_edit: actor.can(Permission::CustomersWrite),
                can_contacts: actor.can(Permission::ContactsRead),
                consents,
                operation: super::random_token(),
                flash,
                lang,
            };
            render(status, page)
        }
        Err(e) if e.code == ErrorCode::NotFound || e.code == ErrorCode::ValidationFailed => {
            (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e.message, "a customer page could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LangOnly {
    lang: Option<String>,
}

pub async fn customer(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<LangOnly>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::CustomersRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let mut res = show(&state, lang, &actor, &secret, &id, Flash::default()).await;
    remember_lang(&mut res, q.lang.as_deref());
    res
}

#[derive(Debug, Deserialize)]
pub struct CardForm {
    #[serde(default)]
    csrf: String,
}

/// Blocks (`block`) or unblocks (`unblock`) a card of the customer.
pub async fn card(State(state): State<AppState>, headers: HeaderMap, Path((id, number, action)): Path<(String, String, String)>, Form(form): Form<CardForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CardsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let blocked = match action.as_str() {
        "block" => true,
        "unblock" => false,
        _ => return (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response(),
    };
    // Only the customer's own cards, from their page.
    let theirs = one(&state, &actor, &id).await.ok().and_then(|c| c.cards).is_some_and(|cards| cards.iter().any(|c| c.number == number));
    if !theirs {
        return (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response();
    }
    match set_blocked(&state, &actor, number, blocked).await {
        Ok(()) => Redirect::to(&format!("/admin/customers/{id}")).into_response(),
        Err(e) => show(&state, lang, &actor, &secret, &id, Flash::refused("cards", say(lang, &e))).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    series: String,
    #[serde(default, rename = "virtual")]
    virtual_card: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Issues the customer a card of a series; its number (and PIN, if the series has one)
/// is shown this once.
pub async fn issue_card(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<IssueForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CardsManage).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let request = crate::admin::cards::IssueRequest { series: form.series, count: 1, customer: Some(id.clone()), number: None, virtual_card: form.virtual_card.is_some(), operation_id: None };
    let flash = match crate::admin::cards::issue(&state, &actor, request).await {
        Ok(issued) => Flash { issued, ..Flash::default() },
        Err(e) => Flash::refused("cards", say(lang, &e)),
    };
    show(&state, lang, &actor, &secret, &id, flash).await
}

#[derive(Debug, Deserialize)]
pub struct AdjustForm {
    #[serde(default)]
    operation: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
}

/// Gives or takes by hand; the form's operation id makes a second sending of the same
/// form change nothing.
pub async fn adjust(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<AdjustForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::BalanceAdjust).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    if form.reason.trim().is_empty() {
        return show(&state, lang, &actor, &secret, &id, Flash::refused("adjust", t.get("customers.reason_needed"))).await;
    }
    let body = crate::admin::balances::Adjustment {
        operation_id: format!("console-{}", form.operation),
        currency: form.currency,
        amount: form.amount.trim().replace(',', "."),
        reason: form.reason.trim().to_owned(),
    };
    let flash = match crate::admin::balances::adjusted(&state, &actor, &id, body).await {
        Ok(after) => Flash { notice: Some(format!("{} {} {}", t.get("customers.adjusted"), lang.number(&after.balance), after.currency)), ..Flash::default() },
        Err(e) => Flash::refused("adjust", say(lang, &e)),
    };
    show(&state, lang, &actor, &secret, &id, flash).await
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
    /// `note` (the default), `event`, `task` or `reminder`.
    #[serde(default)]
    kind: String,
    /// An event's channel.
    #[serde(default)]
    channel: String,
    /// A task's or reminder's due day and time (`YYYY-MM-DDTHH:MM`, UTC).
    #[serde(default)]
    due: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    csrf: String,
}


/// A due time typed in the form (a `datetime-local` field, read as UTC); `Err` says
/// what to fix.
fn due_at(lang: Lang, text: &str) -> Result<Option<jiff::Timestamp>, String> {
    let Some(text) = filled(text) else { return Ok(None) };
    text.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
        .map(|z| Some(z.timestamp()))
        .ok_or_else(|| lang.words().get("customers.bad_due").to_owned())
}

/// Records a note, a contact event, a task or a reminder about the customer.
pub async fn add_note(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<NoteForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CrmWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let due = match due_at(lang, &form.due) {
        Ok(due) => due,
        Err(e) => return show(&state, lang, &actor, &secret, &id, Flash::refused("crm", e)).await,
    };
    let kind = filled(&form.kind).unwrap_or_else(|| "note".into());
    let note = crate::admin::crm_entries::NewCrm { kind, channel: filled(&form.channel), body: form.body, due_at: due, assignee: filled(&form.assignee) };
    match crate::admin::crm_entries::add_customer_entry(&state, &actor, &id, note).await {
        Ok(_) => Redirect::to(&format!("/admin/customers/{id}#crm")).into_response(),
        Err(e) => show(&state, lang, &actor, &secret, &id, Flash::refused("crm", say(lang, &e))).await,
    }
}

#[derive(Template)]
#[template(path = "console/statement.html")]
struct StatementPage {
    f: Frame,
    s: Session,
    id: String,
    statement: loyd_store::Statement,
    days: i64,
    lang: Lang,
}

impl StatementPage {
    fn when(&self, t: &jiff::Timestamp) -> String {
        let z = t.to_zoned_datetime(jiff::tz::TimeZone::UTC);
        format!("{} {:02}:{:02} UTC", self.lang.day(z.date()), z.hour(), z.minute())
    }

    fn amount(&self, text: &str) -> String {
        self.lang.number(text)
    }
}

#[derive(Debug, Deserialize)]
pub struct StatementQuery {
    #[serde(default)]
    currency: String,
    /// The last this many days (default 30, at most 366).
    days: Option<i64>,
    lang: Option<String>,
}

/// A customer's account in one currency over the last days: opening balance, every
/// movement, closing balance.
pub async fn statement(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<StatementQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let (actor, secret) = match allowed(&state, &headers, lang, Permission::CustomersRead).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let days = q.days.unwrap_or(30).clamp(1, 366);
    // Up to now, inclusive (`to` is exclusive).
    let now = state.store.now();
    let to = now.checked_add(jiff::SignedDuration::from_micros(1)).unwrap_or(now);
    let from = now.checked_sub(jiff::SignedDuration::from_hours(24 * days)).unwrap_or(now);
    let query = crate::admin::balances::StatementQuery { currency: q.currency.clone(), from, to };
    match crate::admin::balances::statement_of(&state, &actor, &id, query).await {
        Ok(statement) => {
            let s = Session::of(&actor.principal, &secret, lang.words(), "/admin/customers");
            let mut res = render(StatusCode::OK, StatementPage { f: Frame::new(lang), s, id, statement, days, lang });
            remember_lang(&mut res, q.lang.as_deref());
            res
        }
        Err(e) if e.code == ErrorCode::Forbidden => (StatusCode::FORBIDDEN, Html(super::refusal(lang.words(), &e))).into_response(),
        Err(e) if e.code == ErrorCode::NotFound || e.code == ErrorCode::ValidationFailed => {
            (StatusCode::NOT_FOUND, Html(lang.words().get("customers.no_statement").to_owned())).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e.message, "a statement could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, Html("unavailable".to_owned())).into_response()
        }
    }
}

/// Marks an open task or reminder of the customer done.
pub async fn close_task(State(state): State<AppState>, headers: HeaderMap, Path((id, entry)): Path<(String, i64)>, Form(form): Form<CardForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CrmWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    // Only the customer's own entries, from their page.
    let theirs = crate::admin::crm_entries::customer_entries(&state, &actor, &id, 1000).await.is_ok_and(|entries| entries.iter().any(|e| e.id == entry));
    if !theirs {
        return (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response();
    }
    let done = crate::admin::crm_entries::CrmChanges { status: Some("done".into()), assignee: None, due_at: None };
    match crate::admin::crm_entries::updated(&state, &actor, entry, done).await {
        Ok(_) => Redirect::to(&format!("/admin/customers/{id}#crm")).into_response(),
        Err(e) => show(&state, lang, &actor, &secret, &id, Flash::refused("crm", say(lang, &e))).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    csrf: String,
}

/// Gives an open task or reminder of the customer to another staff member.
pub async fn reassign(State(state): State<AppState>, headers: HeaderMap, Path((id, entry)): Path<(String, i64)>, Form(form): Form<AssignForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::CrmWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let theirs = crate::admin::crm_entries::customer_entries(&state, &actor, &id, 1000).await.is_ok_and(|entries| entries.iter().any(|e| e.id == entry));
    if !theirs {
        return (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response();
    }
    let Some(login) = filled(&form.assignee) else {
        return show(&state, lang, &actor, &secret, &id, Flash::refused("crm", lang.words().get("customers.assignee_needed"))).await;
    };
    let change = crate::admin::crm_entries::CrmChanges { status: None, assignee: Some(Some(login)), due_at: None };
    match crate::admin::crm_entries::updated(&state, &actor, entry, change).await {
        Ok(_) => Redirect::to(&format!("/admin/customers/{id}#crm")).into_response(),
        Err(e) => show(&state, lang, &actor, &secret, &id, Flash::refused("crm", say(lang, &e))).await,
    }
}

/// Changes the profile: only what differs from the record is sent, so a role that
/// does not read contact data (whose form has no contact fields) changes none, and an
/// unchanged phone of an organisation's contact needs no extra permission. Consents are
/// the checked boxes (`consent=sms&consent=email`).
pub async fn profile(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());
    let (lang, actor, secret) = match checked(&state, &headers, field("csrf"), Permission::CustomersWrite).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let current = match one(&state, &actor, &id).await {
        Ok(c) => c,
        Err(_) => return (StatusCode::NOT_FOUND, Html(lang.words().get("customers.not_found").to_owned())).into_response(),
    };
    let differs = |now: &Option<String>, typed: &str| (now.as_deref().unwrap_or("") != typed.trim()).then(|| filled(typed));
    let mut changes = crate::admin::customers::CustomerChanges::default();
    if actor.can(Permission::ContactsRead) {
        changes.name = differs(&current.name, field("name"));
        changes.phone = differs(&current.phone, field("phone"));
        changes.email = differs(&current.email, field("email"));
        changes.birth_date = differs(&current.birth_date, field("birth_date"));
    }
    changes.organisation = differs(&current.organisation, field("organisation"));
    let given: Vec<&str> = pairs.iter().filter(|(k, _)| k == "consent").map(|(_, v)| v.as_str()).collect();
    for ch in CHANNELS {
        let (was, is) = (current.consents.get(ch).is_some_and(|c| c.granted), given.contains(&ch));
        if was != is {
            changes.consents.insert(ch.to_owned(), is);
        }
    }
    let leaving = !field("opted_out").is_empty();
    if leaving != current.opted_out_at.is_some() {
        changes.opted_out = Some(leaving);
    }
    let t = lang.words();
    let flash = match crate::admin::customers::changed(&state, &actor, &id, changes).await {
        Ok(_) => Flash { notice: Some(t.get("customers.saved").to_owned()), ..Flash::default() },
        Err(e) => Flash::refused("profile", say(lang, &e)),
    };
    show(&state, lang, &actor, &secret, &id, flash).await
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    duplicate: String,
    #[serde(default)]
    confirm: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Merges a duplicate into the customer, once the person confirmed it.
#[derive(Debug, Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    confirm: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Erases the customer's personal data, once confirmed (see [`crate::admin::customers::erase`]).
pub async fn erase(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<EraseForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::BalanceAdjust).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    if form.confirm.is_none() {
        return show(&state, lang, &actor, &secret, &id, Flash::refused("erase", t.get("customers.erase_confirm_needed"))).await;
    }
    let flash = match crate::admin::customers::erased(&state, &actor, &id).await {
        Ok(_) => Flash { notice: Some(t.get("customers.erased_notice").to_owned()), ..Flash::default() },
        Err(e) => Flash::refused("erase", say(lang, &e)),
    };
    show(&state, lang, &actor, &secret, &id, flash).await
}

pub async fn merge(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Form(form): Form<MergeForm>) -> Response {
    let (lang, actor, secret) = match checked(&state, &headers, &form.csrf, Permission::BalanceAdjust).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let t = lang.words();
    if form.confirm.is_none() {
        return show(&state, lang, &actor, &secret, &id, Flash::refused("merge", t.get("customers.merge_confirm_needed"))).await;
    }
    let flash = match crate::admin::customers::merged(&state, &actor, &id, form.duplicate.trim()).await {
        Ok(_) => Flash { notice: Some(format!("{} {}", t.get("customers.merged"), form.duplicate.trim())), ..Flash::default() },
        Err(e) => Flash::refused("merge", say(lang, &e)),
    };
    show(&state, lang, &actor, &secret, &id, flash).await
}
