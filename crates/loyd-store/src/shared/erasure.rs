//! Erasing a customer's personal data (a person's right to be forgotten): in one
//! transaction their contacts, profile, consents and Telegram chat are emptied and
//! their indexes and name terms removed, their cards blocked (a number no longer finds
//! anyone), their portal sessions and notifications deleted, the texts of their CRM
//! entries replaced (open tasks done — the erasure request among them), and what the
//! audit log kept of them before and after each change replaced by a mark that it was
//! erased. The ledger keeps every amount: balances, receipts and their totals stay, as
//! the accounts of an anonymous member (`c_7`, erased on a date).
//!
//! Erasing an erased customer does nothing more; a merged duplicate is erased through
//! the customer it was merged into.
//!
//! A customer asks for it in the portal: the request is kept (`erasure_requests`, the
//! console's list of them) with a task for staff on their CRM record, due in 30 days,
//! in one transaction; asking again while it is open adds nothing.

use loyd_domain::ids::CustomerId;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use super::{Backend, Conn};
use super::customers::{Pii, must_customer, store_pii};
use super::keys::{bad, json_text};
use crate::crypto::Keyring;
use crate::error::StoreError;
use crate::{Consent, Customer, ERASURE_ASKED, NewCrmEntry};

/// What stands in for erased text (a CRM entry's, an audit entry's before and after).
const ERASED: &str = "(erased)";

/// Erases customer `id` inside the caller's transaction (see the module's note).
pub(crate) async fn erase(c: &mut Conn, ring: &Keyring, id: i64, actor: &str, now: Timestamp) -> Result<Customer, StoreError> {
    let before = must_customer(c, ring, id).await?;
    if before.erased_at.is_some() {
        return Ok(before);
    }
    if let Some(into) = before.merged_into {
        return Err(bad(format!("{} was merged into {}: erase that customer", CustomerId(id), CustomerId(into))));
    }
    store_pii(c, ring, id, &Pii::default()).await?;
    let withdrawn: std::collections::BTreeMap<String, Consent> =
        before.consents.keys().map(|ch| (ch.clone(), Consent { granted: false, at: now })).collect();
    sqlx::query(
        "UPDATE customers SET profile = NULL, consents = $1, opted_out_at = COALESCE(opted_out_at, $2), erased_at = $2, updated_at = $2 WHERE id = $3",
    )
    .bind((!withdrawn.is_empty()).then(|| json_text(&withdrawn)).transpose()?)
    .bind(to_micros(now))
    .bind(id)
    .execute(&mut *c)
    .await?;
    sqlx::query("UPDATE cards SET state = 'blocked' WHERE customer_id = $1 AND state IN ('issued', 'active')").bind(id).execute(&mut *c).await?;
    sqlx::query("DELETE FROM portal_sessions WHERE customer_id = $1").bind(id).execute(&mut *c).await?;
    sqlx::query("DELETE FROM notifications WHERE customer_id = $1").bind(id).execute(&mut *c).await?;
    sqlx::query(
        "UPDATE crm_entries SET body = $1, status = CASE WHEN status = 'open' THEN 'done' ELSE status END, updated_at = $2 WHERE customer_id = $3",
    )
    .bind(ring.seal("note", ERASED))
    .bind(to_micros(now))
    .bind(id)
    .execute(&mut *c)
    .await?;
    // The log keeps that each change happened, by whom and when; not what it said (of
    // the customer, and of their CRM entries).
    let mark = ring.seal("audit", &json_text(&serde_json::json!({ "erased": true }))?);
    let erased = "UPDATE audit_log SET before = CASE WHEN before IS NULL THEN NULL ELSE $1 END, after = CASE WHEN after IS NULL THEN NULL ELSE $1 END WHERE ";
    sqlx::query(sqlx::AssertSqlSafe(format!("{erased}object_kind = 'customer' AND object_id = $2")))
        .bind(mark.clone())
        .bind(CustomerId(id).to_string())
        .execute(&mut *c)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{erased}object_kind = 'crm_entry' AND object_id IN (SELECT CAST(id AS TEXT) FROM crm_entries WHERE customer_id = $2)"
    )))
    .bind(mark)
    .bind(id)
    .execute(&mut *c)
    .await?;
    sqlx::query("UPDATE erasure_requests SET erased_at = $1 WHERE customer_id = $2").bind(to_micros(now)).bind(id).execute(&mut *c).await?;
    super::audit::audit(c, ring, now, actor, "customer.erase", "customer", &CustomerId(id).to_string(), None::<&()>, Some(&serde_json::json!({ "erased": true })))
        .await?;
    must_customer(c, ring, id).await
}


/// How long staff have to act on a request (the law's month).
const DUE: jiff::SignedDuration = jiff::SignedDuration::from_hours(30 * 24);

impl Backend {
    /// Keeps a customer's request to erase their data, with a task for staff due in 30
    /// days; `false` when one is open already (nothing added).
    pub async fn ask_erasure(&self, id: i64, actor: String, now: Timestamp) -> Result<bool, StoreError> {
        let ring = self.secrets.ring.clone();
        self.write(move |c| {
            let (ring, actor) = (ring.clone(), actor.clone());
            Box::pin(async move {
                must_customer(c, &ring, id).await?;
                let open = sqlx::query("SELECT erased_at FROM erasure_requests WHERE customer_id = $1").bind(id).fetch_optional(&mut *c).await?;
                if open.is_some() {
                    return Ok(false);
                }
                sqlx::query("INSERT INTO erasure_requests (customer_id, asked_at) VALUES ($1, $2)").bind(id).bind(to_micros(now)).execute(&mut *c).await?;
                let task = NewCrmEntry {
                    customer: Some(id),
                    organisation: None,
                    kind: loyd_domain::crm::EntryKind::Task,
                    channel: None,
                    body: ERASURE_ASKED.to_owned(),
                    due_at: Some(now + DUE),
                    assignee: None,
                };
                super::crm_entries::insert_entry(c, &ring, &task, &actor, now).await?;
                Ok(true)
            })
        })
        .await
    }

    /// The requests to erase not yet done, oldest first: each customer and when they asked.
    pub async fn erasure_requests(&self) -> Result<Vec<(i64, Timestamp)>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query("SELECT customer_id, asked_at FROM erasure_requests WHERE erased_at IS NULL ORDER BY asked_at LIMIT 1000").fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok((r.try_get("customer_id")?, from_micros(r.try_get("asked_at")?)))).collect()
    }

    /// Erases a customer's personal data, keeping the ledger's amounts (see the module's
    /// note); the customer after.
    pub async fn erase_customer(&self, id: i64, actor: String, now: Timestamp) -> Result<Customer, StoreError> {
        let ring = self.secrets.ring.clone();
        self.write(move |c| {
            let (ring, actor) = (ring.clone(), actor.clone());
            Box::pin(async move { erase(c, &ring, id, &actor, now).await })
        })
        .await
    }
}
