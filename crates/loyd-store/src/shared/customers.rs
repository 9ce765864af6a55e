//! Customers: profiles with personal data sealed at rest, lookups by phone and e-mail
//! through blind indexes, name search through blind indexes of word prefixes
//! (`customer_terms`), and purchase history. Every change writes an audit entry in the
//! same transaction ([`super::audit`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use loyd_domain::text::normalize_email;
use loyd_domain::events::EventKind;
use loyd_domain::ids::CustomerId;
use loyd_domain::receipt::normalize_phone;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row};

use crate::{Consent, Customer, CustomerFilter, CustomerPatch, NewCustomer, Purchase};
use crate::crypto::{Keyring, Secrets};
use crate::error::StoreError;
use super::{Backend, Conn, Db};
use super::audit::audit;
use super::balances::{account_holder, move_balances};
use super::keys::{bad, json_text};
use super::organisations::check_organisation;

/// The personal data of a customer, sealed as one JSON value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pii {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) birth_date: Option<String>,
    /// The Telegram chat they connected to the program's bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) telegram: Option<String>,
}

impl Pii {
    fn is_empty(&self) -> bool {
        *self == Pii::default()
    }
}

pub(crate) fn customer_from(r: &super::rows::DbRow, ring: &Keyring) -> Result<Customer, StoreError> {
    let pii: Pii = match r.try_get::<Option<String>, _>("pii")? {
        Some(sealed) => serde_json::from_str(&ring.open("customer", &sealed)?).map_err(|e| bad(e.to_string()))?,
        None => Pii::default(),
    };
    let profile: Option<String> = r.try_get("profile")?;
    let consents: Option<String> = r.try_get("consents")?;
    let consents: BTreeMap<String, Consent> = consents.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let facts = loyd_domain::segments::Facts {
        purchases: r.try_get("purchases")?,
        spent: r.try_get("spent")?,
        first_purchase: r.try_get::<Option<i64>, _>("first_purchase_at")?.map(from_micros),
        last_purchase: r.try_get::<Option<i64>, _>("last_purchase_at")?.map(from_micros),
        rfm: r.try_get("rfm")?,
        rfm_score: r.try_get("rfm_score")?,
        consents: consents.iter().filter(|(_, c)| c.granted).map(|(k, _)| k.clone()).collect(),
    };
    Ok(Customer {
        id: r.try_get("id")?,
        phone: pii.phone,
        email: pii.email,
        name: pii.name,
        birth_date: pii.birth_date.and_then(|d| d.parse().ok()),
        telegram: pii.telegram,
        profile: profile.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
        consents,
        facts,
        opted_out_at: r.try_get::<Option<i64>, _>("opted_out_at")?.map(from_micros),
        organisation: r.try_get("organisation_id")?,
        merged_into: r.try_get("merged_into")?,
        erased_at: r.try_get::<Option<i64>, _>("erased_at")?.map(from_micros),
        created_at: from_micros(r.try_get("created_at")?),
    })
}

/// A customer record, personal data opened.
pub(crate) async fn customer_row(c: &mut Conn, ring: &Keyring, id: i64) -> Result<Option<Customer>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", customer_cols!(), " FROM customers", with_facts!(), " WHERE id = $1")).bind(id).fetch_optional(&mut *c).await?;
    row.as_ref().map(|r| customer_from(r, ring)).transpose()
}

pub(crate) async fn must_customer(c: &mut Conn, ring: &Keyring, id: i64) -> Result<Customer, StoreError> {
    customer_row(c, ring, id).await?.ok_or_else(|| StoreError::NotFound { what: "customer", id: CustomerId(id).to_string() })
}

/// The customer a phone number identifies (merged duplicates are never identified).
pub(crate) async fn customer_by_phone(c: &mut Conn, ring: &Keyring, phone: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT id FROM customers WHERE phone_index = $1 AND merged_into IS NULL")
        .bind(ring.index("phone", phone))
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// Checks and normalises contact data by the domain's rules
/// ([`loyd_domain::access::check_contacts`]); returns the PII to seal.
pub(crate) fn check_contacts(phone: Option<&str>, email: Option<&str>, name: Option<&str>, birth: Option<jiff::civil::Date>) -> Result<Pii, StoreError> {
    let c = loyd_domain::access::check_contacts(phone, email, name, birth)?;
    Ok(Pii { name: c.name, phone: c.phone, email: c.email, birth_date: c.birth_date.map(|d| d.to_string()), telegram: None })
}

/// Refuses contact data another (unmerged) customer already has.
async fn check_unique(c: &mut Conn, ring: &Keyring, pii: &Pii, except: Option<i64>) -> Result<(), StoreError> {
    for (kind, value, what, sql) in [
        ("phone", &pii.phone, "customer with phone", "SELECT id FROM customers WHERE phone_index = $1"),
        ("email", &pii.email, "customer with e-mail", "SELECT id FROM customers WHERE email_index = $1"),
    ] {
        let Some(value) = value else { continue };
        if let Some(row) = sqlx::query(sql).bind(ring.index(kind, value)).fetch_optional(&mut *c).await? {
            let id: i64 = row.try_get("id")?;
            if Some(id) != except {
                return Err(StoreError::AlreadyExists { what, id: value.clone() });
            }
        }
    }
    Ok(())
}

/// What the `customers` row holds of a customer's PII: the sealed value (`None` when
/// there is none) and the blind indexes of phone and e-mail.
pub(crate) struct SealedPii {
    pub(crate) sealed: Option<String>,
    pub(crate) phone_index: Option<String>,
    pub(crate) email_index: Option<String>,
    /// [`birthday_index`] of the birth date, `-` when there is none.
    pub(crate) birthday_index: String,
    /// [`telegram_index`] of the connected chat.
    pub(crate) telegram_index: Option<String>,
}

/// The blind index a Telegram chat id is found under.
pub(crate) fn telegram_index(ring: &Keyring, chat: &str) -> String {
    ring.index("telegram", chat)
}

/// Birthday indexes filled per transaction for customers of earlier versions.
const BIRTHDAY_FILL: i64 = 1000;

/// The blind index of a birthday (`MM-DD`) that the birthdays job looks customers up by.
pub(crate) fn birthday_index(ring: &Keyring, month_day: &str) -> String {
    ring.index("birthday", month_day)
}

/// The birthday index a customer's birth date (`YYYY-MM-DD`) is found under, `-` for none.
pub(crate) fn birthday_index_of(ring: &Keyring, birth_date: Option<&str>) -> String {
    match birth_date.and_then(|d| d.get(5..10)) {
        Some(month_day) => birthday_index(ring, month_day),
        None => "-".to_owned(),
    }
}

impl Pii {
    pub(crate) fn seal(&self, ring: &Keyring) -> Result<SealedPii, StoreError> {
        Ok(SealedPii {
            sealed: if self.is_empty() { None } else { Some(ring.seal("customer", &json_text(self)?)) },
            phone_index: self.phone.as_ref().map(|p| ring.index("phone", p)),
            email_index: self.email.as_ref().map(|e| ring.index("email", e)),
            birthday_index: birthday_index_of(ring, self.birth_date.as_deref()),
            telegram_index: self.telegram.as_ref().map(|t| telegram_index(ring, t)),
        })
    }
}

/// Seals a customer's PII and rewrites its indexes and name terms.
pub(crate) async fn store_pii(c: &mut Conn, ring: &Keyring, id: i64, pii: &Pii) -> Result<(), StoreError> {
    let s = pii.seal(ring)?;
    sqlx::query(
        "UPDATE customers SET pii = $1, phone_index = $2, email_index = $3, birthday_index = $4, telegram_index = $5, phone = NULL, name = NULL, birth_date = NULL \
         WHERE id = $6",
    )
    .bind(s.sealed)
    .bind(s.phone_index)
    .bind(s.email_index)
    .bind(s.birthday_index)
    .bind(s.telegram_index)
    .bind(id)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM customer_terms WHERE customer_id = $1").bind(id).execute(&mut *c).await?;
    write_terms(c, ring, id, pii.name.as_deref()).await
}

/// Indexes a name for search.
async fn write_terms(c: &mut Conn, ring: &Keyring, id: i64, name: Option<&str>) -> Result<(), StoreError> {
    let terms = name.map(|n| ring.name_terms(n)).unwrap_or_default();
    if !terms.is_empty() {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO customer_terms (term, customer_id) ");
        qb.push_values(terms, |mut b, t| {
            b.push_bind(t).push_bind(id);
        });
        qb.build().execute(&mut *c).await?;
    }
    Ok(())
}

pub(crate) fn consents_from(given: &BTreeMap<String, bool>, now: Timestamp) -> BTreeMap<String, Consent> {
    given.iter().map(|(k, v)| (k.clone(), Consent { granted: *v, at: now })).collect()
}

/// Changes a customer by `patch` and audits it as `actor`, inside the caller's
/// transaction; the customer after.
pub(crate) async fn update_in(c: &mut Conn, ring: &Keyring, id: i64, patch: &CustomerPatch, actor: &str, now: Timestamp) -> Result<Customer, StoreError> {
    let (before, after) = apply_patch(c, ring, id, patch, now).await?;
    if before != after {
        audit(c, ring, now, actor, "customer.update", "customer", &CustomerId(id).to_string(), Some(&before), Some(&after)).await?;
    }
    Ok(after)
}

/// Registers a customer (inside the caller's transaction); returns the new id.
pub(crate) async fn insert_customer(c: &mut Conn, ring: &Keyring, new: &NewCustomer, now: Timestamp) -> Result<i64, StoreError> {
    let pii = check_contacts(new.phone.as_deref(), new.email.as_deref(), new.name.as_deref(), new.birth_date)?;
    loyd_domain::profile::check(&new.profile).map_err(|e| bad(e.to_string()))?;
    loyd_domain::access::check_consents(&new.consents)?;
    check_unique(c, ring, &pii, None).await?;
    check_organisation(c, new.organisation).await?;
    let consents = consents_from(&new.consents, now);
    let s = pii.seal(ring)?;
    let id: i64 = sqlx::query(
        "INSERT INTO customers (pii, phone_index, email_index, profile, consents, organisation_id, created_at, updated_at, birthday_index) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id",
    )
    .bind(s.sealed)
    .bind(s.phone_index)
    .bind(s.email_index)
    .bind(super::customers::profile_text(&new.profile)?)
    .bind((!consents.is_empty()).then(|| json_text(&consents)).transpose()?)
    .bind(new.organisation)
    .bind(to_micros(now))
    .bind(s.birthday_index)
    .fetch_one(&mut *c)
    .await?
    .try_get("id")?;
    write_terms(c, ring, id, pii.name.as_deref()).await?;
    count_joined(c, now, 1).await?;
    let data = serde_json::json!({ "customer": CustomerId(id).to_string() });
    super::events::record_event(c, ring, EventKind::CustomerRegistered, &format!("customer:{id}"), &data, None, now).await?;
    Ok(id)
}

/// Microseconds in a day: `member_days` keys days since 1970-01-01 in UTC.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// Counts `n` customers registered at `now` in `member_days`, in the transaction that
/// registers them.
pub(crate) async fn count_joined(c: &mut Conn, now: Timestamp, n: i64) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO member_days (day, joined) VALUES ($1, $2) ON CONFLICT (day) DO UPDATE SET joined = member_days.joined + excluded.joined")
        .bind(to_micros(now).div_euclid(DAY_MICROS))
        .bind(n)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(crate) async fn apply_patch(c: &mut Conn, ring: &Keyring, id: i64, patch: &CustomerPatch, now: Timestamp) -> Result<(Customer, Customer), StoreError> {
    let before = must_customer(c, ring, id).await?;
    if before.merged_into.is_some() {
        return Err(bad(format!("{} was merged into another customer and cannot change", CustomerId(id))));
    }
    let pick = |change: &Option<Option<String>>, current: &Option<String>| match change {
        Some(v) => v.clone(),
        None => current.clone(),
    };
    let phone = pick(&patch.phone, &before.phone);
    let email = pick(&patch.email, &before.email);
    let name = pick(&patch.name, &before.name);
    let birth = match patch.birth_date {
        Some(v) => v,
        None => before.birth_date,
    };
    let mut pii = check_contacts(phone.as_deref(), email.as_deref(), name.as_deref(), birth)?;
    pii.telegram = pick(&patch.telegram, &before.telegram);
    check_unique(c, ring, &pii, Some(id)).await?;
    let profile = loyd_domain::profile::apply(&before.profile, &patch.profile).map_err(|e| bad(e.to_string()))?;
    loyd_domain::access::check_consents(&patch.consents)?;
    let mut consents = before.consents.clone();
    let mut opted_out_at = before.opted_out_at;
    match patch.opted_out {
        Some(true) => {
            opted_out_at = opted_out_at.or(Some(now));
            for ch in loyd_domain::access::CHANNELS {
                consents.insert(ch.to_owned(), Consent { granted: false, at: now });
            }
        }
        Some(false) => opted_out_at = None,
        None => {}
    }
    for (ch, granted) in &patch.consents {
        if *granted && opted_out_at.is_some() {
            return Err(bad("the customer opted out of all marketing; opt them back in first"));
        }
        if consents.get(ch).map(|c| c.granted) != Some(*granted) {
            consents.insert(ch.clone(), Consent { granted: *granted, at: now });
        }
    }
    let organisation = match patch.organisation {
        Some(o) => o,
        None => before.organisation,
    };
    if organisation != before.organisation {
        check_organisation(c, organisation).await?;
        // Joining: the customer's own balances go to the organisation's accounts.
        if let (None, Some(org)) = (before.organisation, organisation) {
            move_balances(c, &account_holder(id, None)?, &account_holder(id, Some(org))?, &format!("join:c{id}:o{org}:{}", to_micros(now)), now).await?;
        }
    }
    sqlx::query("UPDATE customers SET profile = $1, consents = $2, opted_out_at = $3, organisation_id = $4, updated_at = $5 WHERE id = $6")
        .bind(super::customers::profile_text(&profile)?)
        .bind((!consents.is_empty()).then(|| json_text(&consents)).transpose()?)
        .bind(opted_out_at.map(to_micros))
        .bind(organisation)
        .bind(to_micros(now))
        .bind(id)
        .execute(&mut *c)
        .await?;
    store_pii(c, ring, id, &pii).await?;
    let after = must_customer(c, ring, id).await?;
    Ok((before, after))
}

/// A profile to store: `NULL` when empty.
pub(crate) fn profile_text(profile: &BTreeMap<String, String>) -> Result<Option<String>, StoreError> {
    if profile.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(profile).map(Some).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Backend {
    pub(crate) fn ring(&self) -> Arc<Secrets> {
        self.secrets.clone()
    }

    pub async fn create_customer(&self, new: NewCustomer, actor: String, now: Timestamp) -> Result<Customer, StoreError> {
        let (new, secrets) = (Arc::new(new), self.ring());
        self.write(move |c| {
            let (new, secrets, actor) = (new.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let id = insert_customer(c, &secrets.ring, &new, now).await?;
                let customer = must_customer(c, &secrets.ring, id).await?;
                audit(c, &secrets.ring, now, &actor, "customer.create", "customer", &CustomerId(customer.id).to_string(), None::<&()>, Some(&customer))
                    .await?;
                Ok(customer)
            })
        })
        .await
    }

    pub async fn customer(&self, id: i64) -> Result<Option<Customer>, StoreError> {
        let mut c = self.reader().await?;
        customer_row(&mut c, &self.secrets.ring, id).await
    }

    pub async fn update_customer(&self, id: i64, patch: CustomerPatch, actor: String, now: Timestamp) -> Result<Customer, StoreError> {
        let (patch, secrets) = (Arc::new(patch), self.ring());
        self.write(move |c| {
            let (patch, secrets, actor) = (patch.clone(), secrets.clone(), actor.clone());
            Box::pin(async move { update_in(c, &secrets.ring, id, &patch, &actor, now).await })
        })
        .await
    }

    /// Raises `customer.birthday` for customers whose birthday (by the UTC calendar) is
    /// `days_before` ahead for a message that wants it (0, the day itself, for
    /// webhooks), once a year per customer and notice, at most hourly; returns how many
    /// it raised. A notice missed while no server ran goes up to two days late (never
    /// after the birthday). First fills the birthday index of customers of earlier
    /// versions, a thousand per transaction.
    pub async fn birthday_notices(&self, program: Arc<loyd_domain::program::Program>, now: Timestamp) -> Result<usize, StoreError> {
        let kind = EventKind::CustomerBirthday;
        let mut notices: std::collections::BTreeSet<u32> = program.messages.iter().filter(|m| m.wants(kind)).map(|m| m.days_before).collect();
        if program.webhooks.iter().any(|w| w.wants(kind)) {
            notices.insert(0);
        }
        if notices.is_empty() {
            return Ok(0);
        }
        loop {
            // Most runs have nothing to fill: asked of a reader, that costs no commit.
            let mut r = self.reader().await?;
            if sqlx::query("SELECT 1 FROM customers WHERE birthday_index IS NULL LIMIT 1").fetch_optional(&mut *r).await?.is_none() {
                break;
            }
            drop(r);
            let secrets = self.ring();
            let filled = self
                .write(move |c| {
                    let secrets = secrets.clone();
                    Box::pin(async move {
                        let rows = sqlx::query("SELECT id, pii FROM customers WHERE birthday_index IS NULL ORDER BY id LIMIT $1")
                            .bind(BIRTHDAY_FILL)
                            .fetch_all(&mut *c)
                            .await?;
                        for r in &rows {
                            let birth = match r.try_get::<Option<String>, _>("pii")? {
                                Some(sealed) => serde_json::from_str::<Pii>(&secrets.ring.open("customer", &sealed)?)
                                    .map_err(|e| super::rows::corrupt(format!("a customer's data does not read: {e}")))?
                                    .birth_date,
                                None => None,
                            };
                            sqlx::query("UPDATE customers SET birthday_index = $1 WHERE id = $2")
                                .bind(birthday_index_of(&secrets.ring, birth.as_deref()))
                                .bind(r.try_get::<i64, _>("id")?)
                                .execute(&mut *c)
                                .await?;
                        }
                        Ok(rows.len())
                    })
                })
                .await?;
            if i64::try_from(filled).unwrap_or(0) < BIRTHDAY_FILL {
                break;
            }
        }
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, notices) = (secrets.clone(), notices.clone());
            Box::pin(async move {
                let at = to_micros(now);
                if at - super::cursors::cursor(c, "birthdays").await? < i64::try_from(super::events::NOTICE_EVERY.as_micros()).unwrap_or(i64::MAX) {
                    return Ok(0);
                }
                let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
                let mut raised = 0;
                for days in notices {
                    // The birthday `days` ahead, and those of the two days before if missed.
                    for late in 0..=days.min(2) {
                        let Ok(date) = today.checked_add(jiff::Span::new().days(i64::from(days - late))) else { continue };
                        let mut indexes = vec![birthday_index(&secrets.ring, &date.strftime("%m-%d").to_string())];
                        if date.month() == 2 && date.day() == 28 && !date.in_leap_year() {
                            // Born on 29 February: the 28th, in a year without the 29th.
                            indexes.push(birthday_index(&secrets.ring, "02-29"));
                        }
                        let mut qb = sqlx::QueryBuilder::<super::Db>::new("SELECT id FROM customers WHERE merged_into IS NULL AND birthday_index IN (");
                        let mut list = qb.separated(", ");
                        for i in indexes {
                            list.push_bind(i);
                        }
                        qb.push(") ORDER BY id");
                        let ids: Vec<i64> = qb.build().fetch_all(&mut *c).await?.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
                        for id in ids {
                            let data = serde_json::json!({
                                "customer": loyd_domain::ids::CustomerId(id).to_string(),
                                "date": date.to_string(),
                                "days_before": days,
                            });
                            let dedupe = format!("{}:{id}:{}:{days}", kind.name(), date.year());
                            if super::events::record_once(c, &secrets.ring, (kind, &format!("customer:{id}"), &data), None, Some(&dedupe), now).await?.is_some() {
                                raised += 1;
                            }
                        }
                    }
                }
                super::cursors::move_cursor(c, "birthdays", at).await?;
                Ok(raised)
            })
        })
        .await
    }

    /// Finds customers; see [`CustomerFilter`].
    pub async fn customers(&self, filter: CustomerFilter) -> Result<Vec<Customer>, StoreError> {
        let ring = &self.secrets.ring;
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", customer_cols!(), " FROM customers", with_facts!(), " WHERE 1 = 1"));
        if let Some(p) = &filter.phone {
            let p = normalize_phone(p).ok_or_else(|| bad("phone must be international, e.g. +37120000000"))?;
            qb.push(" AND phone_index = ").push_bind(ring.index("phone", &p));
        }
        if let Some(e) = &filter.email {
            let e = normalize_email(e).ok_or_else(|| bad("not an e-mail address"))?;
            qb.push(" AND email_index = ").push_bind(ring.index("email", &e));
        }
        if let Some(card) = &filter.card {
            qb.push(" AND id IN (SELECT customer_id FROM cards WHERE number = ").push_bind(card.clone()).push(")");
        }
        if let Some(name) = &filter.name {
            let terms = ring.query_terms(name);
            if terms.is_empty() {
                return Err(bad("a name search needs at least one letter or digit"));
            }
            for t in terms {
                qb.push(" AND id IN (SELECT customer_id FROM customer_terms WHERE term = ").push_bind(t).push(")");
            }
        }
        if let Some(o) = filter.organisation {
            qb.push(" AND organisation_id = ").push_bind(o);
        }
        if let Some(after) = filter.after_id {
            qb.push(" AND id > ").push_bind(after);
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(i64::from(filter.limit.clamp(1, 1000)));
        // A name search is planned for its own terms each time: a name's words differ by
        // orders of magnitude in how many customers have them ("customer" a million,
        // "531802" one), and a plan made once for any terms walked the million (75–450 ms
        // at 1M customers on PostgreSQL instead of 2 ms).
        let reuse_plan = filter.name.is_none();
        qb.build().persistent(reuse_plan).fetch_all(&mut *c).await?.iter().map(|r| customer_from(r, ring)).collect()
    }

    /// A customer's committed and cancelled receipts, newest first, optionally only
    /// those of some stores.
    pub async fn purchases(&self, customer: i64, stores: Option<Vec<String>>, before: Option<Timestamp>, limit: u32) -> Result<Vec<Purchase>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT r.id, r.store_id, r.terminal_id, r.receipt_id, r.at, r.status, s.currency, r.total, r.discount, r.redeemed_value \
             FROM receipts r JOIN stores s ON s.id = r.store_id WHERE r.customer_id = ",
        );
        qb.push_bind(customer);
        if let Some(stores) = stores
            && !super::rows::push_in(&mut qb, "r.store_id", &stores)
        {
            return Ok(Vec::new());
        }
        if let Some(b) = before {
            qb.push(" AND r.at < ").push_bind(to_micros(b));
        }
        qb.push(" ORDER BY r.at DESC, r.id DESC LIMIT ").push_bind(i64::from(limit.clamp(1, 1000)));
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(Purchase {
                    id: r.try_get("id")?,
                    store: r.try_get("store_id")?,
                    terminal: r.try_get("terminal_id")?,
                    receipt_id: r.try_get("receipt_id")?,
                    at: from_micros(r.try_get("at")?),
                    status: r.try_get("status")?,
                    currency: r.try_get("currency")?,
                    total: r.try_get("total")?,
                    discount: r.try_get("discount")?,
                    redeemed_value: r.try_get("redeemed_value")?,
                })
            })
            .collect()
    }
}
