//! Customers, organisations, CRM entries, the audit log and personal data at rest, one
//! source for both backends.
//!
//! Personal data (name, phone, e-mail, birth date) lives only in `customers.pii`,
//! sealed by the keyring ([`crate::crypto`]); phone and e-mail lookups use blind
//! indexes, name search uses blind indexes of word prefixes (`customer_terms`). Every
//! change made through here writes an audit entry in the same transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use loyd_domain::access::{is_channel, normalize_email};
use loyd_domain::ledger::{DebitFrom, Holder, HolderKind, NewTransfer};
use loyd_domain::receipt::{customer_wire_id, normalize_phone};
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row};

use super::ledger::{apply_transfers, ensure_account, load_open_lots};
use super::pos::{code, transfer_id};
use super::{Backend, Conn, Db};
use crate::crypto::{Keyring, Secrets};
use crate::error::StoreError;
use crate::{
    AuditEntry, AuditFilter, CardInfo, CardOwner, Consent, CrmEntry, CrmFilter, CrmPatch, Customer, CustomerFilter, CustomerPatch,
    ImportOutcome, ImportRow, NewCrmEntry, NewCustomer, Organisation, Purchase, Rotation,
};

/// The personal data of a customer, sealed as one JSON value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Pii {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    birth_date: Option<String>,
}

impl Pii {
    fn is_empty(&self) -> bool {
        *self == Pii::default()
    }
}

fn bad(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

fn json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| bad(e.to_string()))
}

pub(crate) fn customer_from(r: &super::rows::DbRow, ring: &Keyring) -> Result<Customer, StoreError> {
    let pii: Pii = match r.try_get::<Option<String>, _>("pii")? {
        Some(sealed) => serde_json::from_str(&ring.open("customer", &sealed)?).map_err(|e| bad(e.to_string()))?,
        None => Pii::default(),
    };
    let profile: Option<String> = r.try_get("profile")?;
    let consents: Option<String> = r.try_get("consents")?;
    Ok(Customer {
        id: r.try_get("id")?,
        phone: pii.phone,
        email: pii.email,
        name: pii.name,
        birth_date: pii.birth_date.and_then(|d| d.parse().ok()),
        profile: profile.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
        consents: consents.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
        opted_out_at: r.try_get::<Option<i64>, _>("opted_out_at")?.map(from_micros),
        organisation: r.try_get("organisation_id")?,
        merged_into: r.try_get("merged_into")?,
        created_at: from_micros(r.try_get("created_at")?),
    })
}

/// A customer record, personal data opened.
pub(crate) async fn customer_row(c: &mut Conn, ring: &Keyring, id: i64) -> Result<Option<Customer>, StoreError> {
    let row = sqlx::query(concat!("SELECT ", customer_cols!(), " FROM customers WHERE id = $1")).bind(id).fetch_optional(&mut *c).await?;
    row.as_ref().map(|r| customer_from(r, ring)).transpose()
}

async fn must_customer(c: &mut Conn, ring: &Keyring, id: i64) -> Result<Customer, StoreError> {
    customer_row(c, ring, id).await?.ok_or_else(|| StoreError::NotFound { what: "customer", id: customer_wire_id(id) })
}

/// The customer a phone number identifies (merged duplicates are never identified).
pub(crate) async fn customer_by_phone(c: &mut Conn, ring: &Keyring, phone: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT id FROM customers WHERE phone_index = $1 AND merged_into IS NULL")
        .bind(ring.index("phone", phone))
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// The ledger holder whose accounts a customer uses: their organisation's when they
/// are a contact of one, else their own.
pub(crate) fn account_holder(customer: i64, organisation: Option<i64>) -> Result<Holder, StoreError> {
    let (kind, id) = match organisation {
        Some(o) => (HolderKind::Organisation, o.to_string()),
        None => (HolderKind::Customer, customer.to_string()),
    };
    Holder::new(kind, id).map_err(|e| bad(e.to_string()))
}

/// [`account_holder`] of a customer known by id.
pub(crate) async fn holder_of(c: &mut Conn, customer: i64) -> Result<Holder, StoreError> {
    let org: Option<i64> = sqlx::query("SELECT organisation_id FROM customers WHERE id = $1")
        .bind(customer)
        .fetch_optional(&mut *c)
        .await?
        .map(|r| r.try_get("organisation_id"))
        .transpose()?
        .flatten();
    account_holder(customer, org)
}

/// Appends to the audit log (inside the caller's transaction). `before` and `after`
/// are sealed: they may hold personal data.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit<B: Serialize, A: Serialize>(
    c: &mut Conn,
    ring: &Keyring,
    now: Timestamp,
    actor: &str,
    action: &str,
    object_kind: &str,
    object_id: &str,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), StoreError> {
    let seal = |v: String| ring.seal("audit", &v);
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, object_kind, object_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(to_micros(now))
    .bind(actor.to_owned())
    .bind(action.to_owned())
    .bind(object_kind.to_owned())
    .bind(object_id.to_owned())
    .bind(before.map(json_text).transpose()?.map(seal))
    .bind(after.map(json_text).transpose()?.map(seal))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Checks and normalises contact data; returns the PII to seal.
fn check_contacts(phone: Option<&str>, email: Option<&str>, name: Option<&str>, birth: Option<jiff::civil::Date>) -> Result<Pii, StoreError> {
    let phone = phone.map(|p| normalize_phone(p).ok_or_else(|| bad("phone must be international, e.g. +37120000000"))).transpose()?;
    let email = email.map(|e| normalize_email(e).ok_or_else(|| bad(format!("'{}' is not an e-mail address", e.chars().take(80).collect::<String>())))).transpose()?;
    let name = match name.map(str::trim) {
        Some(n) if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) => {
            return Err(bad("name must be 1 to 200 characters without control characters"));
        }
        other => other.map(str::to_owned),
    };
    Ok(Pii { name, phone, email, birth_date: birth.map(|d| d.to_string()) })
}

fn check_consents(consents: &BTreeMap<String, bool>) -> Result<(), StoreError> {
    match consents.keys().find(|k| !is_channel(k)) {
        Some(k) => Err(bad(format!("'{k}' is not a consent channel ({})", loyd_domain::access::CHANNELS.join(", ")))),
        None => Ok(()),
    }
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
struct SealedPii {
    sealed: Option<String>,
    phone_index: Option<String>,
    email_index: Option<String>,
}

impl Pii {
    fn seal(&self, ring: &Keyring) -> Result<SealedPii, StoreError> {
        Ok(SealedPii {
            sealed: if self.is_empty() { None } else { Some(ring.seal("customer", &json_text(self)?)) },
            phone_index: self.phone.as_ref().map(|p| ring.index("phone", p)),
            email_index: self.email.as_ref().map(|e| ring.index("email", e)),
        })
    }
}

/// Seals a customer's PII and rewrites its indexes and name terms.
async fn store_pii(c: &mut Conn, ring: &Keyring, id: i64, pii: &Pii) -> Result<(), StoreError> {
    let s = pii.seal(ring)?;
    sqlx::query(
        "UPDATE customers SET pii = $1, phone_index = $2, email_index = $3, phone = NULL, name = NULL, birth_date = NULL WHERE id = $4",
    )
    .bind(s.sealed)
    .bind(s.phone_index)
    .bind(s.email_index)
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

fn consents_from(given: &BTreeMap<String, bool>, now: Timestamp) -> BTreeMap<String, Consent> {
    given.iter().map(|(k, v)| (k.clone(), Consent { granted: *v, at: now })).collect()
}

async fn check_organisation(c: &mut Conn, org: Option<i64>) -> Result<(), StoreError> {
    if let Some(o) = org {
        let exists = sqlx::query("SELECT 1 FROM organisations WHERE id = $1").bind(o).fetch_optional(&mut *c).await?;
        if exists.is_none() {
            return Err(StoreError::NotFound { what: "organisation", id: format!("o_{o}") });
        }
    }
    Ok(())
}

/// Registers a customer (inside the caller's transaction); returns the new id.
pub(crate) async fn insert_customer(c: &mut Conn, ring: &Keyring, new: &NewCustomer, now: Timestamp) -> Result<i64, StoreError> {
    let pii = check_contacts(new.phone.as_deref(), new.email.as_deref(), new.name.as_deref(), new.birth_date)?;
    loyd_domain::profile::check(&new.profile).map_err(|e| bad(e.to_string()))?;
    check_consents(&new.consents)?;
    check_unique(c, ring, &pii, None).await?;
    check_organisation(c, new.organisation).await?;
    let consents = consents_from(&new.consents, now);
    let s = pii.seal(ring)?;
    let id: i64 = sqlx::query(
        "INSERT INTO customers (pii, phone_index, email_index, profile, consents, organisation_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(s.sealed)
    .bind(s.phone_index)
    .bind(s.email_index)
    .bind(super::pos::profile_text(&new.profile)?)
    .bind((!consents.is_empty()).then(|| json_text(&consents)).transpose()?)
    .bind(new.organisation)
    .bind(to_micros(now))
    .fetch_one(&mut *c)
    .await?
    .try_get("id")?;
    write_terms(c, ring, id, pii.name.as_deref()).await?;
    Ok(id)
}

/// Moves every balance of `from`'s accounts to `to`'s accounts of the same currency,
/// lot by lot so activation and expiry dates travel along; debts (credit accounts
/// below zero) move the other way. Refuses accounts with open holds.
async fn move_balances(c: &mut Conn, from: &Holder, to: &Holder, tag: &str, now: Timestamp) -> Result<usize, StoreError> {
    let rows = sqlx::query(concat!("SELECT ", account_cols!(), " FROM accounts WHERE holder_kind = $1 AND holder_id = $2 ORDER BY id"))
        .bind(from.kind.name())
        .bind(from.id.clone())
        .fetch_all(&mut *c)
        .await?;
    let accounts: Vec<_> = rows.iter().map(super::rows::account).collect::<Result<_, _>>()?;
    let mut moved = 0;
    for account in accounts {
        let t = account.totals;
        if t.debits_pending != 0 || t.credits_pending != 0 {
            return Err(StoreError::Refused(loyd_domain::receipt::ReceiptError::invalid(format!(
                "account {} has open holds; resolve them first",
                account.id
            ))));
        }
        let target = ensure_account(
            c,
            &loyd_domain::ledger::AccountSpec {
                holder: to.clone(),
                asset: account.asset.clone(),
                policy: account.policy,
                tracks_lots: account.tracks_lots,
            },
            now,
        )
        .await?;
        let mut batch = Vec::new();
        let id = |n: usize| transfer_id(format!("{tag}:{}:{n}", account.id));
        if account.tracks_lots {
            let lots = load_open_lots(c, &BTreeSet::from([account.id])).await?;
            for (n, lot) in lots.into_iter().enumerate() {
                batch.push(NewTransfer {
                    lot: lot.terms,
                    debit_from: DebitFrom::Lot(lot.id.clone()),
                    at: Some(now),
                    ..NewTransfer::single(id(n)?, account.id, target.id, lot.remaining, code("merge"))
                });
            }
        } else {
            let balance = i128::from(t.credits_posted) - i128::from(t.debits_posted);
            let amount = i64::try_from(balance.abs()).map_err(|_| bad("balance out of range"))?;
            if balance > 0 {
                batch.push(NewTransfer { at: Some(now), ..NewTransfer::single(id(0)?, account.id, target.id, amount, code("merge")) });
            } else if balance < 0 {
                batch.push(NewTransfer { at: Some(now), ..NewTransfer::single(id(0)?, target.id, account.id, amount, code("merge")) });
            }
        }
        moved += batch.len();
        if !batch.is_empty() {
            apply_transfers(c, &batch, now).await?;
        }
    }
    Ok(moved)
}

/// The holder whose accounts a customer's value lives in now: a merged duplicate's
/// value is with the customer it was merged into (and their organisation, if any).
async fn current_holder(c: &mut Conn, customer: i64) -> Result<Holder, StoreError> {
    let mut id = customer;
    for _ in 0..16 {
        let next: Option<i64> = sqlx::query("SELECT merged_into FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
            .map(|r| r.try_get("merged_into"))
            .transpose()?
            .flatten();
        match next {
            Some(n) => id = n,
            None => break,
        }
    }
    holder_of(c, id).await
}

/// A return of a receipt whose customer has since been merged into another or joined an
/// organisation reverses the transfers of the receipt's time, against the accounts of
/// then. Value has moved on since: points an accrual gave that are no longer in the old
/// account are taken back from where they went (as far as its balance allows), and
/// whatever the return refunded to an old account follows to the current one.
pub(crate) async fn follow_moved_value(
    c: &mut Conn,
    customer: i64,
    effects: &loyd_domain::returns::ReceiptEffects,
    planned: &[i64],
    moved: &mut [i64],
    tag: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    use loyd_domain::returns::EffectRole;
    let current = current_holder(c, customer).await?;
    let ids: BTreeSet<_> = effects.transfers.iter().flat_map(|t| [t.debit, t.credit]).collect();
    let abandoned: Vec<_> = super::ledger::load_accounts(c, &ids, false)
        .await?
        .into_iter()
        // A customer's own accounts left behind by a merge or by joining an organisation.
        // (An organisation's accounts stay its own when a contact leaves.)
        .filter(|a| a.holder.kind == HolderKind::Customer && a.holder != current)
        .collect();
    if abandoned.is_empty() {
        return Ok(());
    }
    for (k, t) in effects.transfers.iter().enumerate() {
        if t.role != EffectRole::Accrual || planned[k] <= moved[k] {
            continue;
        }
        let Some(old) = abandoned.iter().find(|a| a.id == t.credit) else { continue };
        let Some(now_at) = super::ledger::find_account(c, &current, &old.asset).await? else { continue };
        let take = NewTransfer {
            balancing: true,
            at: Some(now),
            ..NewTransfer::single(transfer_id(format!("{tag}:f{k}"))?, now_at.id, t.debit, planned[k] - moved[k], code("return"))
        };
        for o in apply_transfers(c, &[take], now).await? {
            let (loyd_domain::ledger::TransferOutcome::Created(x) | loyd_domain::ledger::TransferOutcome::Exists(x)) = o;
            moved[k] += x.amount;
        }
    }
    let holders: BTreeSet<(String, String)> = abandoned.iter().map(|a| (a.holder.kind.name().to_owned(), a.holder.id.clone())).collect();
    for (kind, id) in holders {
        let kind = HolderKind::from_name(&kind).ok_or_else(|| bad("unknown holder kind"))?;
        let from = Holder::new(kind, id).map_err(|e| bad(e.to_string()))?;
        move_balances(c, &from, &current, &format!("{tag}:s"), now).await?;
    }
    Ok(())
}

async fn apply_patch(c: &mut Conn, ring: &Keyring, id: i64, patch: &CustomerPatch, now: Timestamp) -> Result<(Customer, Customer), StoreError> {
    let before = must_customer(c, ring, id).await?;
    if before.merged_into.is_some() {
        return Err(bad(format!("{} was merged into another customer and cannot change", customer_wire_id(id))));
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
    let pii = check_contacts(phone.as_deref(), email.as_deref(), name.as_deref(), birth)?;
    check_unique(c, ring, &pii, Some(id)).await?;
    let profile = loyd_domain::profile::apply(&before.profile, &patch.profile).map_err(|e| bad(e.to_string()))?;
    check_consents(&patch.consents)?;
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
        .bind(super::pos::profile_text(&profile)?)
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

fn card_info(r: &super::rows::DbRow) -> Result<CardInfo, StoreError> {
    Ok(CardInfo {
        number: r.try_get("number")?,
        series: r.try_get("series")?,
        kind: r.try_get("kind")?,
        state: r.try_get("state")?,
        is_virtual: r.try_get::<i64, _>("virtual")? != 0,
        replaced_by: r.try_get("replaced_by")?,
        issued_at: from_micros(r.try_get("issued_at")?),
        pin: None,
    })
}

fn crm_from(r: &super::rows::DbRow, ring: &Keyring) -> Result<CrmEntry, StoreError> {
    Ok(CrmEntry {
        id: r.try_get("id")?,
        customer: r.try_get("customer_id")?,
        organisation: r.try_get("organisation_id")?,
        kind: r.try_get("kind")?,
        channel: r.try_get("channel")?,
        body: ring.open("note", &r.try_get::<String, _>("body")?)?,
        due_at: r.try_get::<Option<i64>, _>("due_at")?.map(from_micros),
        assignee: r.try_get("assignee")?,
        status: r.try_get("status")?,
        created_by: r.try_get("created_by")?,
        created_at: from_micros(r.try_get("created_at")?),
        updated_at: from_micros(r.try_get("updated_at")?),
    })
}

macro_rules! crm_cols {
    () => {
        "id, customer_id, organisation_id, kind, channel, body, due_at, assignee, status, created_by, created_at, updated_at"
    };
}
const CRM_KINDS: [&str; 4] = ["note", "event", "task", "reminder"];
const CRM_STATUSES: [&str; 3] = ["open", "done", "cancelled"];

async fn crm_row(c: &mut Conn, ring: &Keyring, id: i64) -> Result<CrmEntry, StoreError> {
    let row = sqlx::query(concat!("SELECT ", crm_cols!(), " FROM crm_entries WHERE id = $1")).bind(id).fetch_optional(&mut *c).await?;
    row.as_ref().map(|r| crm_from(r, ring)).transpose()?.ok_or_else(|| StoreError::NotFound { what: "CRM entry", id: id.to_string() })
}

async fn organisation_row(c: &mut Conn, id: i64) -> Result<Option<Organisation>, StoreError> {
    let Some(r) = sqlx::query("SELECT id, name, tax_id, created_at FROM organisations WHERE id = $1").bind(id).fetch_optional(&mut *c).await? else {
        return Ok(None);
    };
    let contacts = sqlx::query("SELECT id FROM customers WHERE organisation_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    Ok(Some(Organisation {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        tax_id: r.try_get("tax_id")?,
        contacts,
        created_at: from_micros(r.try_get("created_at")?),
    }))
}

/// What to re-seal under the current key, per table, per batch.
const RESEAL_BATCH: i64 = 500;

impl Backend {
    fn ring(&self) -> Arc<Secrets> {
        self.secrets.clone()
    }

    pub async fn create_customer(&self, new: NewCustomer, actor: String, now: Timestamp) -> Result<Customer, StoreError> {
        let (new, secrets) = (Arc::new(new), self.ring());
        self.write(move |c| {
            let (new, secrets, actor) = (new.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let id = insert_customer(c, &secrets.ring, &new, now).await?;
                let customer = must_customer(c, &secrets.ring, id).await?;
                audit(c, &secrets.ring, now, &actor, "customer.create", "customer", &customer_wire_id(customer.id), None::<&()>, Some(&customer))
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
            Box::pin(async move {
                let (before, after) = apply_patch(c, &secrets.ring, id, &patch, now).await?;
                if before != after {
                    audit(c, &secrets.ring, now, &actor, "customer.update", "customer", &customer_wire_id(id), Some(&before), Some(&after)).await?;
                }
                Ok(after)
            })
        })
        .await
    }

    /// Finds customers; see [`CustomerFilter`].
    pub async fn customers(&self, filter: CustomerFilter) -> Result<Vec<Customer>, StoreError> {
        let ring = &self.secrets.ring;
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", customer_cols!(), " FROM customers WHERE 1 = 1"));
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
        qb.build().fetch_all(&mut *c).await?.iter().map(|r| customer_from(r, ring)).collect()
    }

    /// A customer's cards, oldest first.
    pub async fn customer_cards(&self, id: i64) -> Result<Vec<CardInfo>, StoreError> {
        let mut c = self.reader().await?;
        sqlx::query("SELECT number, series, kind, state, virtual, replaced_by, issued_at FROM cards WHERE customer_id = $1 ORDER BY issued_at, number")
            .bind(id)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(card_info)
            .collect()
    }

    /// The kind of a card and whose it is.
    pub async fn card_owner(&self, number: String) -> Result<Option<CardOwner>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(
            "SELECT cards.kind, cu.organisation_id FROM cards \
             LEFT JOIN customers cu ON cu.id = cards.customer_id WHERE cards.number = $1",
        )
        .bind(number)
        .fetch_optional(&mut *c)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let kind: String = r.try_get("kind")?;
        Ok(Some(CardOwner {
            kind: loyd_domain::program::CardKind::from_name(&kind).ok_or_else(|| super::rows::corrupt(format!("unknown card kind {kind}")))?,
            organisation: r.try_get("organisation_id")?,
        }))
    }

    /// Replaces a (lost) card: the new card takes over its customer, its own account
    /// (gift value, pass visits) and its PIN-less state; the old one is blocked for
    /// good and names its successor. Who may replace which card is the caller's check
    /// (`loyd_domain::access::Act::ReplaceCard`).
    pub async fn replace_card(&self, old: String, new: String, actor: String, now: Timestamp) -> Result<CardInfo, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (old, new, secrets, actor) = (old.clone(), new.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let card = super::pos::card_row(c, &old).await?.ok_or_else(|| StoreError::NotFound { what: "card", id: old.clone() })?;
                let row = sqlx::query("SELECT replaced_by, issued_at FROM cards WHERE number = $1").bind(old.clone()).fetch_one(&mut *c).await?;
                if let Some(next) = row.try_get::<Option<String>, _>("replaced_by")? {
                    return Err(StoreError::Refused(loyd_domain::receipt::ReceiptError::invalid(format!("card {old} was already replaced by {next}"))));
                }
                if !loyd_domain::cards::valid_card_text(&new) {
                    return Err(bad(format!("'{new}' is not a card number")));
                }
                if super::pos::card_row(c, &new).await?.is_some() {
                    return Err(StoreError::AlreadyExists { what: "card", id: new.clone() });
                }
                // A PIN is bound to its card's number: the new card gets a new one.
                let pin = card.pin_hash.is_some().then(|| super::pos_ops::random_digits(4));
                sqlx::query(
                    "INSERT INTO cards (number, series, kind, state, customer_id, account_id, pin_hash, valid_until, single_use, issued_at, activated_at) \
                     SELECT $1, series, kind, CASE WHEN state = 'blocked' THEN 'active' ELSE state END, customer_id, account_id, $2, valid_until, single_use, $3, activated_at \
                     FROM cards WHERE number = $4",
                )
                .bind(new.clone())
                .bind(pin.as_ref().map(|p| super::pos::keyed_hash(&secrets, &["pin", &new, p])))
                .bind(to_micros(now))
                .bind(old.clone())
                .execute(&mut *c)
                .await?;
                sqlx::query("UPDATE cards SET state = 'blocked', replaced_by = $1 WHERE number = $2")
                    .bind(new.clone())
                    .bind(old.clone())
                    .execute(&mut *c)
                    .await?;
                let mut info = card_info(
                    &sqlx::query("SELECT number, series, kind, state, virtual, replaced_by, issued_at FROM cards WHERE number = $1")
                        .bind(new.clone())
                        .fetch_one(&mut *c)
                        .await?,
                )?;
                let before = serde_json::json!({ "number": old, "state": card.state.name() });
                audit(c, &secrets.ring, now, &actor, "card.replace", "card", &old, Some(&before), Some(&info)).await?;
                info.pin = pin;
                Ok(info)
            })
        })
        .await
    }

    /// Merges `duplicate` into `keep`: cards, receipts, coupons, CRM entries and every
    /// balance (lot by lot) move over; contact data the kept record lacks is taken
    /// over; the duplicate stays as a record pointing to `keep`, never identified again.
    pub async fn merge_customers(&self, keep: i64, duplicate: i64, actor: String, now: Timestamp) -> Result<Customer, StoreError> {
        if keep == duplicate {
            return Err(bad("a customer cannot be merged into itself"));
        }
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, actor) = (secrets.clone(), actor.clone());
            Box::pin(async move {
                let ring = &secrets.ring;
                let kept = must_customer(c, ring, keep).await?;
                let dup = must_customer(c, ring, duplicate).await?;
                if kept.merged_into.is_some() || dup.merged_into.is_some() {
                    return Err(bad("a merged customer cannot be merged again"));
                }
                let to = holder_of(c, keep).await?;
                if dup.organisation.is_none() {
                    move_balances(c, &account_holder(duplicate, None)?, &to, &format!("merge:c{duplicate}"), now).await?;
                }
                for sql in [
                    "UPDATE cards SET customer_id = $1 WHERE customer_id = $2",
                    "UPDATE receipts SET customer_id = $1 WHERE customer_id = $2",
                    "UPDATE coupons SET customer_id = $1 WHERE customer_id = $2",
                    "UPDATE gift_issues SET customer_id = $1 WHERE customer_id = $2",
                    "UPDATE crm_entries SET customer_id = $1 WHERE customer_id = $2",
                ] {
                    sqlx::query(sql).bind(keep).bind(duplicate).execute(&mut *c).await?;
                }
                sqlx::query("DELETE FROM one_time_codes WHERE customer_id = $1").bind(duplicate).execute(&mut *c).await?;
                // The duplicate gives up its contact data first (unique indexes)…
                store_pii(c, ring, duplicate, &Pii { name: dup.name.clone(), ..Pii::default() }).await?;
                sqlx::query("UPDATE customers SET merged_into = $1, updated_at = $2 WHERE id = $3")
                    .bind(keep)
                    .bind(to_micros(now))
                    .bind(duplicate)
                    .execute(&mut *c)
                    .await?;
                // …and the kept record fills its gaps from it.
                let mut profile = dup.profile.clone();
                profile.extend(kept.profile.clone());
                let patch = CustomerPatch {
                    phone: kept.phone.is_none().then(|| dup.phone.clone()),
                    email: kept.email.is_none().then(|| dup.email.clone()),
                    name: kept.name.is_none().then(|| dup.name.clone()),
                    birth_date: kept.birth_date.is_none().then_some(dup.birth_date),
                    profile: profile.into_iter().map(|(k, v)| (k, Some(v))).collect(),
                    ..CustomerPatch::default()
                };
                let (_, after) = apply_patch(c, ring, keep, &patch, now).await?;
                let id = customer_wire_id(keep);
                audit(c, ring, now, &actor, "customer.merge", "customer", &id, Some(&kept), Some(&after)).await?;
                let merged = serde_json::json!({ "merged_into": id });
                audit(c, ring, now, &actor, "customer.merged", "customer", &customer_wire_id(duplicate), Some(&dup), Some(&merged)).await?;
                Ok(after)
            })
        })
        .await
    }

    /// A customer's committed and cancelled receipts, newest first, optionally only
    /// those of some stores.
    pub async fn purchases(&self, customer: i64, stores: Option<Vec<String>>, before: Option<Timestamp>, limit: u32) -> Result<Vec<Purchase>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT r.store_id, r.terminal_id, r.receipt_id, r.at, r.status, s.currency, r.total, r.discount, r.redeemed_value \
             FROM receipts r JOIN stores s ON s.id = r.store_id WHERE r.customer_id = ",
        );
        qb.push_bind(customer);
        if let Some(stores) = stores {
            if stores.is_empty() {
                return Ok(Vec::new());
            }
            qb.push(" AND r.store_id IN (");
            let mut sep = qb.separated(", ");
            for s in stores {
                sep.push_bind(s);
            }
            qb.push(")");
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

    pub async fn create_organisation(&self, name: String, tax_id: Option<String>, actor: String, now: Timestamp) -> Result<Organisation, StoreError> {
        let name = name.trim().to_owned();
        loyd_domain::text::line("name", &name, 200).map_err(|e| bad(format!("an organisation's {e}")))?;
        if let Some(t) = &tax_id {
            loyd_domain::text::line("tax_id", t, 64).map_err(|e| bad(e.to_string()))?;
        }
        let secrets = self.ring();
        self.write(move |c| {
            let (name, tax_id, secrets, actor) = (name.clone(), tax_id.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                if let Some(t) = &tax_id
                    && sqlx::query("SELECT 1 FROM organisations WHERE tax_id = $1").bind(t.clone()).fetch_optional(&mut *c).await?.is_some()
                {
                    return Err(StoreError::AlreadyExists { what: "organisation with tax id", id: t.clone() });
                }
                let id: i64 = sqlx::query("INSERT INTO organisations (name, tax_id, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id")
                    .bind(name)
                    .bind(tax_id)
                    .bind(to_micros(now))
                    .fetch_one(&mut *c)
                    .await?
                    .try_get("id")?;
                let org = organisation_row(c, id).await?.expect("just inserted");
                audit(c, &secrets.ring, now, &actor, "organisation.create", "organisation", &format!("o_{id}"), None::<&()>, Some(&org)).await?;
                Ok(org)
            })
        })
        .await
    }

    pub async fn organisation(&self, id: i64) -> Result<Option<Organisation>, StoreError> {
        let mut c = self.reader().await?;
        organisation_row(&mut c, id).await
    }

    /// Organisations by id, optionally those whose name contains `name` (any case).
    pub async fn organisations(&self, name: Option<String>, after_id: Option<i64>, limit: u32) -> Result<Vec<Organisation>, StoreError> {
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new("SELECT id, name, tax_id, created_at FROM organisations WHERE 1 = 1");
        if let Some(n) = name {
            let escaped = n.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            qb.push(" AND LOWER(name) LIKE ").push_bind(format!("%{escaped}%")).push(" ESCAPE '\\'");
        }
        if let Some(a) = after_id {
            qb.push(" AND id > ").push_bind(a);
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit.clamp(1, 1000)));
        let mut orgs: Vec<Organisation> = qb
            .build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(Organisation {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    tax_id: r.try_get("tax_id")?,
                    contacts: Vec::new(),
                    created_at: from_micros(r.try_get("created_at")?),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        if !orgs.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("SELECT id, organisation_id FROM customers WHERE organisation_id IN (");
            let mut list = qb.separated(", ");
            for o in &orgs {
                list.push_bind(o.id);
            }
            qb.push(") ORDER BY id");
            for r in qb.build().fetch_all(&mut *c).await? {
                let org: i64 = r.try_get("organisation_id")?;
                if let Some(o) = orgs.iter_mut().find(|o| o.id == org) {
                    o.contacts.push(r.try_get("id")?);
                }
            }
        }
        Ok(orgs)
    }

    pub async fn add_crm_entry(&self, entry: NewCrmEntry, actor: String, now: Timestamp) -> Result<CrmEntry, StoreError> {
        if !CRM_KINDS.contains(&entry.kind.as_str()) {
            return Err(bad(format!("a CRM entry is one of {}", CRM_KINDS.join(", "))));
        }
        loyd_domain::text::lines("body", &entry.body, 10_000).map_err(|e| bad(format!("a CRM entry's {e}")))?;
        if entry.customer.is_none() == entry.organisation.is_none() {
            return Err(bad("a CRM entry is about one customer or one organisation"));
        }
        if matches!(entry.kind.as_str(), "task" | "reminder") && entry.due_at.is_none() {
            return Err(bad("tasks and reminders need a due time"));
        }
        if entry.channel.as_ref().is_some_and(|ch| !is_channel(ch)) {
            return Err(bad(format!("a channel is one of {}", loyd_domain::access::CHANNELS.join(", "))));
        }
        let (entry, secrets) = (Arc::new(entry), self.ring());
        self.write(move |c| {
            let (entry, secrets, actor) = (entry.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let ring = &secrets.ring;
                if let Some(id) = entry.customer {
                    must_customer(c, ring, id).await?;
                }
                check_organisation(c, entry.organisation).await?;
                if let Some(login) = &entry.assignee {
                    assignee_exists(c, login).await?;
                }
                let id: i64 = sqlx::query(
                    "INSERT INTO crm_entries (customer_id, organisation_id, kind, channel, body, due_at, assignee, status, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
                )
                .bind(entry.customer)
                .bind(entry.organisation)
                .bind(entry.kind.clone())
                .bind(entry.channel.clone())
                .bind(ring.seal("note", &entry.body))
                .bind(entry.due_at.map(to_micros))
                .bind(entry.assignee.clone())
                .bind(if matches!(entry.kind.as_str(), "task" | "reminder") { "open" } else { "done" })
                .bind(actor.clone())
                .bind(to_micros(now))
                .fetch_one(&mut *c)
                .await?
                .try_get("id")?;
                let created = crm_row(c, ring, id).await?;
                audit(c, ring, now, &actor, "crm.create", "crm_entry", &id.to_string(), None::<&()>, Some(&created)).await?;
                Ok(created)
            })
        })
        .await
    }

    pub async fn update_crm_entry(&self, id: i64, patch: CrmPatch, actor: String, now: Timestamp) -> Result<CrmEntry, StoreError> {
        if patch.status.as_ref().is_some_and(|s| !CRM_STATUSES.contains(&s.as_str())) {
            return Err(bad(format!("a status is one of {}", CRM_STATUSES.join(", "))));
        }
        let (patch, secrets) = (Arc::new(patch), self.ring());
        self.write(move |c| {
            let (patch, secrets, actor) = (patch.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let ring = &secrets.ring;
                let before = crm_row(c, ring, id).await?;
                if let Some(Some(login)) = &patch.assignee {
                    assignee_exists(c, login).await?;
                }
                let status = patch.status.clone().unwrap_or_else(|| before.status.clone());
                let assignee = patch.assignee.clone().unwrap_or_else(|| before.assignee.clone());
                let due = patch.due_at.unwrap_or(before.due_at);
                sqlx::query("UPDATE crm_entries SET status = $1, assignee = $2, due_at = $3, updated_at = $4 WHERE id = $5")
                    .bind(status)
                    .bind(assignee)
                    .bind(due.map(to_micros))
                    .bind(to_micros(now))
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                let after = crm_row(c, ring, id).await?;
                audit(c, ring, now, &actor, "crm.update", "crm_entry", &id.to_string(), Some(&before), Some(&after)).await?;
                Ok(after)
            })
        })
        .await
    }

    pub async fn crm_entries(&self, filter: CrmFilter) -> Result<Vec<CrmEntry>, StoreError> {
        let ring = &self.secrets.ring;
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new(concat!("SELECT ", crm_cols!(), " FROM crm_entries WHERE 1 = 1"));
        if let Some(v) = filter.customer {
            qb.push(" AND customer_id = ").push_bind(v);
        }
        if let Some(v) = filter.organisation {
            qb.push(" AND organisation_id = ").push_bind(v);
        }
        if let Some(v) = filter.assignee {
            qb.push(" AND assignee = ").push_bind(v);
        }
        if let Some(v) = filter.status {
            qb.push(" AND status = ").push_bind(v);
        }
        if let Some(v) = filter.kind {
            qb.push(" AND kind = ").push_bind(v);
        }
        if let Some(v) = filter.due_before {
            qb.push(" AND due_at < ").push_bind(to_micros(v));
        }
        if let Some(v) = filter.before_id {
            qb.push(" AND id < ").push_bind(v);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit.clamp(1, 1000)));
        qb.build().fetch_all(&mut *c).await?.iter().map(|r| crm_from(r, ring)).collect()
    }

    /// The audit log, newest first, sealed values opened.
    pub async fn audit_log(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let ring = &self.secrets.ring;
        let mut c = self.reader().await?;
        let mut qb = QueryBuilder::<Db>::new("SELECT id, at, actor, action, object_kind, object_id, before, after FROM audit_log WHERE 1 = 1");
        if let Some(v) = filter.object_kind {
            qb.push(" AND object_kind = ").push_bind(v);
        }
        if let Some(v) = filter.object_id {
            qb.push(" AND object_id = ").push_bind(v);
        }
        if let Some(v) = filter.actor {
            qb.push(" AND actor = ").push_bind(v);
        }
        if let Some(v) = filter.before_id {
            qb.push(" AND id < ").push_bind(v);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit.clamp(1, 1000)));
        let open = |v: Option<String>| -> Result<Option<serde_json::Value>, StoreError> {
            v.map(|s| ring.open("audit", &s).and_then(|t| serde_json::from_str(&t).map_err(|e| bad(e.to_string())))).transpose()
        };
        qb.build()
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: from_micros(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    object_kind: r.try_get("object_kind")?,
                    object_id: r.try_get("object_id")?,
                    before: open(r.try_get("before")?)?,
                    after: open(r.try_get("after")?)?,
                })
            })
            .collect()
    }

    /// Records an audit entry on its own (changes made outside this module).
    pub async fn record_audit(
        &self,
        actor: String,
        action: String,
        object: (String, String),
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let (secrets, actor, action, object, before, after) =
                (secrets.clone(), actor.clone(), action.clone(), object.clone(), before.clone(), after.clone());
            Box::pin(async move { audit(c, &secrets.ring, now, &actor, &action, &object.0, &object.1, before.as_ref(), after.as_ref()).await })
        })
        .await
    }

    /// Imports a batch of customers in one transaction. Each row is checked completely
    /// before anything of it is written, so a refused row (with its reason) leaves no
    /// trace and the good rows stand; a failure while writing aborts the whole batch.
    /// One audit entry per batch.
    pub async fn import_customers(
        &self,
        rows: Vec<ImportRow>,
        card_series: Option<String>,
        program: Arc<loyd_domain::program::Program>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let (rows, secrets) = (Arc::new(rows), self.ring());
        self.write(move |c| {
            let (rows, secrets, actor, series, program) = (rows.clone(), secrets.clone(), actor.clone(), card_series.clone(), program.clone());
            Box::pin(async move {
                let out = import_batch(c, &secrets.ring, &rows, series.as_deref(), &program, now).await?;
                let created: Vec<i64> = out.iter().filter_map(|o| o.result.as_ref().ok().copied()).collect();
                if let (Some(first), Some(last)) = (created.first(), created.last()) {
                    let summary = serde_json::json!({ "created": created.len(), "first": customer_wire_id(*first), "last": customer_wire_id(*last) });
                    audit(c, &secrets.ring, now, &actor, "customer.import", "import", &to_micros(now).to_string(), None::<&()>, Some(&summary)).await?;
                }
                Ok(out)
            })
        })
        .await
    }

    /// A page of customers for export, by id, with their card numbers.
    pub async fn export_customers(&self, after_id: i64, limit: u32) -> Result<Vec<(Customer, Vec<String>)>, StoreError> {
        let customers = self.customers(CustomerFilter { after_id: Some(after_id), limit, ..CustomerFilter::default() }).await?;
        let (Some(first), Some(last)) = (customers.first().map(|c| c.id), customers.last().map(|c| c.id)) else {
            return Ok(Vec::new());
        };
        let mut c = self.reader().await?;
        let mut cards: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let rows = sqlx::query("SELECT customer_id, number FROM cards WHERE customer_id >= $1 AND customer_id <= $2 AND replaced_by IS NULL ORDER BY number")
            .bind(first)
            .bind(last)
            .fetch_all(&mut *c)
            .await?;
        for r in rows {
            cards.entry(r.try_get("customer_id")?).or_default().push(r.try_get("number")?);
        }
        Ok(customers.into_iter().map(|cu| {
            let numbers = cards.remove(&cu.id).unwrap_or_default();
            (cu, numbers)
        }).collect())
    }

    /// Seals personal data still in the plaintext columns of earlier versions (at most
    /// `limit` customers); returns how many it sealed.
    pub async fn seal_plaintext(&self, limit: u32) -> Result<usize, StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let secrets = secrets.clone();
            Box::pin(async move {
                let rows = sqlx::query(
                    "SELECT id, phone, name, birth_date FROM customers \
                     WHERE phone IS NOT NULL OR name IS NOT NULL OR birth_date IS NOT NULL ORDER BY id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                // An upgrade: receipts of earlier versions kept the phone a customer was
                // named by. (Only then, so a sealed database never scans its receipts.)
                let receipts = sqlx::query("SELECT id, request FROM receipts WHERE request LIKE '%\"phone\"%'").fetch_all(&mut *c).await?;
                for r in &receipts {
                    let mut request: serde_json::Value = serde_json::from_str(&r.try_get::<String, _>("request")?).unwrap_or_default();
                    if request.get("customer").and_then(|c| c.get("phone")).is_some() {
                        if let Some(map) = request.as_object_mut() {
                            map.remove("customer");
                        }
                        sqlx::query("UPDATE receipts SET request = $1 WHERE id = $2")
                            .bind(request.to_string())
                            .bind(r.try_get::<i64, _>("id")?)
                            .execute(&mut *c)
                            .await?;
                    }
                }
                for r in &rows {
                    let id: i64 = r.try_get("id")?;
                    let old = customer_row(c, &secrets.ring, id).await?.map(|cu| (cu.email, cu.phone, cu.name, cu.birth_date));
                    let (email, phone, name, birth) = old.unwrap_or_default();
                    let pii = Pii {
                        phone: r.try_get::<Option<String>, _>("phone")?.or(phone),
                        name: r.try_get::<Option<String>, _>("name")?.or(name),
                        email,
                        birth_date: r.try_get::<Option<String>, _>("birth_date")?.or(birth.map(|d| d.to_string())),
                    };
                    store_pii(c, &secrets.ring, id, &pii).await?;
                }
                Ok(rows.len())
            })
        })
        .await
    }

    /// Re-seals up to `RESEAL_BATCH` values of each sealed column that are not under
    /// the current key; returns how many of each it re-sealed.
    pub async fn reseal_batch(&self, after: [i64; 3]) -> Result<(Rotation, [i64; 3]), StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let secrets = secrets.clone();
            Box::pin(async move {
                let ring = &secrets.ring;
                let current = format!("v1.{}.%", ring.current());
                let mut done = Rotation { key: ring.current().to_owned(), ..Rotation::default() };
                let mut next = after;
                // Keyset pagination: each batch goes on from the last id of the previous one.
                let rows = sqlx::query("SELECT id, pii FROM customers WHERE id > $3 AND pii IS NOT NULL AND pii NOT LIKE $1 ORDER BY id LIMIT $2")
                    .bind(current.clone())
                    .bind(RESEAL_BATCH)
                    .bind(after[0])
                    .fetch_all(&mut *c)
                    .await?;
                for r in &rows {
                    let plain = ring.open("customer", &r.try_get::<String, _>("pii")?)?;
                    let id: i64 = r.try_get("id")?;
                    sqlx::query("UPDATE customers SET pii = $1 WHERE id = $2").bind(ring.seal("customer", &plain)).bind(id).execute(&mut *c).await?;
                    next[0] = id;
                }
                done.customers = rows.len() as u64;
                let rows = sqlx::query("SELECT id, body FROM crm_entries WHERE id > $3 AND body NOT LIKE $1 ORDER BY id LIMIT $2")
                    .bind(current.clone())
                    .bind(RESEAL_BATCH)
                    .bind(after[1])
                    .fetch_all(&mut *c)
                    .await?;
                for r in &rows {
                    let plain = ring.open("note", &r.try_get::<String, _>("body")?)?;
                    let id: i64 = r.try_get("id")?;
                    sqlx::query("UPDATE crm_entries SET body = $1 WHERE id = $2").bind(ring.seal("note", &plain)).bind(id).execute(&mut *c).await?;
                    next[1] = id;
                }
                done.crm_entries = rows.len() as u64;
                let rows = sqlx::query(
                    "SELECT id, before, after FROM audit_log WHERE id > $3 AND ((before IS NOT NULL AND before NOT LIKE $1) OR (after IS NOT NULL AND after NOT LIKE $1)) ORDER BY id LIMIT $2",
                )
                .bind(current)
                .bind(RESEAL_BATCH)
                .bind(after[2])
                .fetch_all(&mut *c)
                .await?;
                for r in &rows {
                    let reseal = |v: Option<String>| v.map(|s| ring.open("audit", &s).map(|p| ring.seal("audit", &p))).transpose();
                    let id: i64 = r.try_get("id")?;
                    sqlx::query("UPDATE audit_log SET before = $1, after = $2 WHERE id = $3")
                        .bind(reseal(r.try_get("before")?)?)
                        .bind(reseal(r.try_get("after")?)?)
                        .bind(id)
                        .execute(&mut *c)
                        .await?;
                    next[2] = id;
                }
                done.audit_entries = rows.len() as u64;
                Ok((done, next))
            })
        })
        .await
    }

    /// Whether the keyring opens the data already in the database (one sample value);
    /// `Err` names the problem. A server given the wrong keyring refuses to start.
    pub async fn check_keyring(&self) -> Result<(), StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query("SELECT pii FROM customers WHERE pii IS NOT NULL ORDER BY id DESC LIMIT 1").fetch_optional(&mut *c).await?;
        if let Some(r) = row {
            self.secrets.ring.open("customer", &r.try_get::<String, _>("pii")?).map_err(|e| {
                StoreError::Unavailable(format!("{e}; give this server the keyring the database was written with"))
            })?;
        }
        Ok(())
    }

    /// Which of `ids` still seal some value in the database.
    pub async fn keys_in_use(&self, ids: Vec<String>) -> Result<Vec<String>, StoreError> {
        let mut c = self.reader().await?;
        let mut used = Vec::new();
        for id in ids {
            let pattern = format!("v1.{id}.%");
            let row = sqlx::query(
                "SELECT 1 AS x FROM customers WHERE pii LIKE $1 \
                 UNION ALL SELECT 1 FROM crm_entries WHERE body LIKE $1 \
                 UNION ALL SELECT 1 FROM audit_log WHERE before LIKE $1 OR after LIKE $1 LIMIT 1",
            )
            .bind(pattern)
            .fetch_optional(&mut *c)
            .await?;
            if row.is_some() {
                used.push(id);
            }
        }
        Ok(used)
    }
}

async fn assignee_exists(c: &mut Conn, login: &str) -> Result<(), StoreError> {
    let found = sqlx::query("SELECT 1 FROM users WHERE login = $1 AND disabled_at IS NULL").bind(login.to_owned()).fetch_optional(&mut *c).await?;
    if found.is_none() {
        return Err(StoreError::NotFound { what: "staff user", id: login.to_owned() });
    }
    Ok(())
}

/// Values of `column` among `values` that the table already holds (chunked IN lists).
async fn existing(c: &mut Conn, table_column: (&'static str, &'static str), values: Vec<String>) -> Result<BTreeSet<String>, StoreError> {
    let mut found = BTreeSet::new();
    for chunk in values.chunks(500) {
        let mut qb = QueryBuilder::<Db>::new(format_args!("SELECT {1} AS v FROM {0} WHERE {1} IN (", table_column.0, table_column.1).to_string());
        let mut list = qb.separated(", ");
        for v in chunk {
            list.push_bind(v.clone());
        }
        qb.push(")");
        for r in qb.build().fetch_all(&mut *c).await? {
            found.insert(r.try_get::<String, _>("v")?);
        }
    }
    Ok(found)
}

/// Imports a batch: every row is checked completely (against the database, read once
/// for the whole batch, and against the batch's earlier rows) before anything of it is
/// written, so a refused row leaves no trace; the good rows are written with one
/// statement per customer and multi-row inserts for name terms and cards.
async fn import_batch(
    c: &mut Conn,
    ring: &Keyring,
    rows: &[ImportRow],
    series: Option<&str>,
    program: &loyd_domain::program::Program,
    now: Timestamp,
) -> Result<Vec<ImportOutcome>, StoreError> {
    let spec = match series {
        Some(s) => {
            let spec = &program.series.get(s).ok_or_else(|| StoreError::NotFound { what: "card series", id: s.to_owned() })?.spec;
            if spec.kind != loyd_domain::program::CardKind::Loyalty {
                return Err(bad(format!("series {s} is not a loyalty series")));
            }
            Some(spec)
        }
        None => None,
    };
    // What each row would write (its PII, sealed and indexed), or why not.
    let mut checked: Vec<Result<(Pii, SealedPii), String>> = Vec::with_capacity(rows.len());
    for row in rows {
        let r = check_contacts(row.customer.phone.as_deref(), row.customer.email.as_deref(), row.customer.name.as_deref(), row.customer.birth_date)
            .and_then(|pii| {
                loyd_domain::profile::check(&row.customer.profile).map_err(|e| bad(e.to_string()))?;
                check_consents(&row.customer.consents)?;
                if row.customer.organisation.is_some() {
                    return Err(bad("an import does not attach organisations"));
                }
                let sealed = pii.seal(ring)?;
                Ok((pii, sealed))
            })
            .map_err(|e| e.to_string());
        checked.push(r);
    }
    let mut phones: BTreeSet<String> = BTreeSet::new();
    let mut emails: BTreeSet<String> = BTreeSet::new();
    for (_, s) in checked.iter().flatten() {
        phones.extend(s.phone_index.clone());
        emails.extend(s.email_index.clone());
    }
    let mut taken_phones = existing(c, ("customers", "phone_index"), phones.into_iter().collect()).await?;
    let mut taken_emails = existing(c, ("customers", "email_index"), emails.into_iter().collect()).await?;
    let numbers: Vec<String> = rows.iter().flat_map(|r| r.cards.iter().cloned()).collect();
    let mut taken_cards = existing(c, ("cards", "number"), numbers).await?;

    let mut out = Vec::with_capacity(rows.len());
    let mut terms: Vec<(String, i64)> = Vec::new();
    let mut cards: Vec<(String, i64)> = Vec::new();
    for (row, check) in rows.iter().zip(checked) {
        let refuse = |out: &mut Vec<ImportOutcome>, reason: String| out.push(ImportOutcome { line: row.line, result: Err(reason) });
        let (pii, SealedPii { sealed, phone_index: phone, email_index: email }) = match check {
            Ok(v) => v,
            Err(reason) => {
                refuse(&mut out, reason);
                continue;
            }
        };
        if phone.as_ref().is_some_and(|p| taken_phones.contains(p)) {
            refuse(&mut out, format!("customer with phone '{}' already exists", pii.phone.clone().unwrap_or_default()));
            continue;
        }
        if email.as_ref().is_some_and(|e| taken_emails.contains(e)) {
            refuse(&mut out, format!("customer with e-mail '{}' already exists", pii.email.clone().unwrap_or_default()));
            continue;
        }
        let card_problem = if row.cards.is_empty() {
            None
        } else if let Some(spec) = spec {
            let mut seen = BTreeSet::new();
            row.cards.iter().find_map(|n| {
                if !loyd_domain::cards::valid_card_text(n) || !n.starts_with(&spec.prefix) {
                    Some(format!("{n} is not a number of series {} (prefix {:?})", spec.id, spec.prefix))
                } else if !seen.insert(n) || taken_cards.contains(n) {
                    Some(format!("card '{n}' already exists"))
                } else {
                    None
                }
            })
        } else {
            Some("the file has card numbers: name their series (--card-series)".into())
        };
        if let Some(reason) = card_problem {
            refuse(&mut out, reason);
            continue;
        }
        let consents = consents_from(&row.customer.consents, now);
        let id: i64 = sqlx::query(
            "INSERT INTO customers (pii, phone_index, email_index, profile, consents, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(sealed)
        .bind(phone.clone())
        .bind(email.clone())
        .bind(super::pos::profile_text(&row.customer.profile)?)
        .bind((!consents.is_empty()).then(|| json_text(&consents)).transpose()?)
        .bind(to_micros(now))
        .fetch_one(&mut *c)
        .await?
        .try_get("id")?;
        taken_phones.extend(phone);
        taken_emails.extend(email);
        for n in &row.cards {
            taken_cards.insert(n.clone());
            cards.push((n.clone(), id));
        }
        terms.extend(pii.name.as_deref().map(|n| ring.name_terms(n)).unwrap_or_default().into_iter().map(|t| (t, id)));
        out.push(ImportOutcome { line: row.line, result: Ok(id) });
    }
    for chunk in terms.chunks(5000) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO customer_terms (term, customer_id) ");
        qb.push_values(chunk, |mut b, (t, id)| {
            b.push_bind(t.clone()).push_bind(*id);
        });
        qb.build().execute(&mut *c).await?;
    }
    if let Some(spec) = spec {
        // Imported loyalty cards are active and carry no PIN (nobody would see it).
        for chunk in cards.chunks(2000) {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO cards (number, series, kind, state, customer_id, single_use, issued_at, virtual) ");
            qb.push_values(chunk, |mut b, (n, id)| {
                b.push_bind(n.clone())
                    .push_bind(spec.id.as_str().to_owned())
                    .push_bind("loyalty")
                    .push_bind("active")
                    .push_bind(*id)
                    .push_bind(spec.single_use)
                    .push_bind(to_micros(now))
                    .push_bind(0i64);
            });
            qb.build().execute(&mut *c).await?;
        }
    }
    Ok(out)
}
