//! CRM entries: notes, events, tasks and reminders on a customer, with assignees and
//! statuses.

use std::sync::Arc;

use loyd_domain::crm;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::{QueryBuilder, Row};

use crate::{CrmEntry, CrmFilter, CrmPatch, NewCrmEntry};
use crate::crypto::Keyring;
use crate::error::StoreError;
use super::{Backend, Conn, Db};
use super::audit::audit;
use super::customers::must_customer;
use super::organisations::check_organisation;

fn crm_from(r: &super::rows::DbRow, ring: &Keyring) -> Result<CrmEntry, StoreError> {
    Ok(CrmEntry {
        id: r.try_get("id")?,
        customer: r.try_get("customer_id")?,
        organisation: r.try_get("organisation_id")?,
        kind: crm::EntryKind::parse(&r.try_get::<String, _>("kind")?).map_err(|e| super::rows::corrupt(e.to_string()))?,
        channel: r.try_get("channel")?,
        body: ring.open("note", &r.try_get::<String, _>("body")?)?,
        due_at: r.try_get::<Option<i64>, _>("due_at")?.map(from_micros),
        assignee: r.try_get("assignee")?,
        status: crm::EntryStatus::parse(&r.try_get::<String, _>("status")?).map_err(|e| super::rows::corrupt(e.to_string()))?,
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

async fn crm_row(c: &mut Conn, ring: &Keyring, id: i64) -> Result<CrmEntry, StoreError> {
    let row = sqlx::query(concat!("SELECT ", crm_cols!(), " FROM crm_entries WHERE id = $1")).bind(id).fetch_optional(&mut *c).await?;
    row.as_ref().map(|r| crm_from(r, ring)).transpose()?.ok_or_else(|| StoreError::NotFound { what: "CRM entry", id: id.to_string() })
}

async fn assignee_exists(c: &mut Conn, login: &str) -> Result<(), StoreError> {
    let found = sqlx::query("SELECT 1 FROM users WHERE login = $1 AND disabled_at IS NULL").bind(login.to_owned()).fetch_optional(&mut *c).await?;
    if found.is_none() {
        return Err(StoreError::NotFound { what: "staff user", id: login.to_owned() });
    }
    Ok(())
}

/// Adds a checked CRM entry and audits it, inside the caller's transaction.
pub(crate) async fn insert_entry(c: &mut Conn, ring: &Keyring, entry: &NewCrmEntry, actor: &str, now: Timestamp) -> Result<CrmEntry, StoreError> {
    let kind = entry.kind;
    let id: i64 = sqlx::query(
        "INSERT INTO crm_entries (customer_id, organisation_id, kind, channel, body, due_at, assignee, status, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(entry.customer)
    .bind(entry.organisation)
    .bind(kind.name())
    .bind(entry.channel.clone())
    .bind(ring.seal("note", &entry.body))
    .bind(entry.due_at.map(to_micros))
    .bind(entry.assignee.clone())
    .bind(kind.first_status().name())
    .bind(actor.to_owned())
    .bind(to_micros(now))
    .fetch_one(&mut *c)
    .await?
    .try_get("id")?;
    let created = crm_row(c, ring, id).await?;
    audit(c, ring, now, actor, "crm.create", "crm_entry", &id.to_string(), None::<&()>, Some(&created)).await?;
    Ok(created)
}

impl Backend {
    /// Raises `crm.task_due` for each open task or reminder with an assignee that came
    /// due since the last look (at most a day back the first time), once per entry and
    /// due time: moved to a later time, it is due again. Nothing unless a message or
    /// webhook wants it; returns how many it raised.
    pub async fn task_notices(&self, program: Arc<loyd_domain::program::Program>, now: Timestamp) -> Result<usize, StoreError> {
        let kind = loyd_domain::events::EventKind::CrmTaskDue;
        if !program.raises(kind) {
            return Ok(0);
        }
        let secrets = self.ring();
        self.write(move |c| {
            let secrets = secrets.clone();
            Box::pin(async move {
                let at = to_micros(now);
                let day = 86_400_000_000;
                let since = super::cursors::cursor(c, "task_reminders").await?.max(at - day);
                let rows = sqlx::query(
                    "SELECT id, kind, body, due_at, customer_id, assignee FROM crm_entries WHERE status = 'open' \
                     AND kind IN ('task', 'reminder') AND assignee IS NOT NULL AND due_at > $1 AND due_at <= $2 ORDER BY due_at, id",
                )
                .bind(since)
                .bind(at)
                .fetch_all(&mut *c)
                .await?;
                let mut raised = 0;
                for r in &rows {
                    let (id, due): (i64, i64) = (r.try_get("id")?, r.try_get("due_at")?);
                    let assignee: String = r.try_get("assignee")?;
                    let data = serde_json::json!({
                        "entry": id,
                        "kind": r.try_get::<String, _>("kind")?,
                        "body": secrets.ring.open("note", &r.try_get::<String, _>("body")?)?,
                        "due_at": from_micros(due).to_string(),
                        "customer": r.try_get::<Option<i64>, _>("customer_id")?.map(|c| loyd_domain::ids::CustomerId(c).to_string()),
                        "assignee": assignee,
                    });
                    let dedupe = format!("{}:{id}:{due}", kind.name());
                    let subject = format!("user:{assignee}");
                    if super::events::record_once(c, &secrets.ring, (kind, &subject, &data), None, Some(&dedupe), now).await?.is_some() {
                        raised += 1;
                    }
                }
                super::cursors::move_cursor(c, "task_reminders", at).await?;
                Ok(raised)
            })
        })
        .await
    }

    pub async fn add_crm_entry(&self, entry: NewCrmEntry, actor: String, now: Timestamp) -> Result<CrmEntry, StoreError> {
        let kind = entry.kind;
        crm::check_entry(
            kind,
            &entry.body,
            entry.customer.is_some(),
            entry.organisation.is_some(),
            entry.due_at,
            entry.channel.as_deref(),
        )?;
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
                insert_entry(c, ring, &entry, &actor, now).await
            })
        })
        .await
    }

    pub async fn update_crm_entry(&self, id: i64, patch: CrmPatch, actor: String, now: Timestamp) -> Result<CrmEntry, StoreError> {
        let status = patch.status;
        let (patch, secrets) = (Arc::new(patch), self.ring());
        self.write(move |c| {
            let (patch, secrets, actor) = (patch.clone(), secrets.clone(), actor.clone());
            Box::pin(async move {
                let ring = &secrets.ring;
                let before = crm_row(c, ring, id).await?;
                if let Some(Some(login)) = &patch.assignee {
                    assignee_exists(c, login).await?;
                }
                let status = status.unwrap_or(before.status);
                let assignee = patch.assignee.clone().unwrap_or_else(|| before.assignee.clone());
                let due = patch.due_at.unwrap_or(before.due_at);
                sqlx::query("UPDATE crm_entries SET status = $1, assignee = $2, due_at = $3, updated_at = $4 WHERE id = $5")
                    .bind(status.name())
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
}
