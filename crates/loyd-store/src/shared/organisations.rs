//! Organisations: companies whose contacts share one set of accounts.

use loyd_domain::ids::OrganisationId;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::{QueryBuilder, Row};

use crate::Organisation;
use crate::error::StoreError;
use super::{Backend, Conn, Db};
use super::audit::audit;
use super::keys::bad;

pub(crate) async fn check_organisation(c: &mut Conn, org: Option<i64>) -> Result<(), StoreError> {
    if let Some(o) = org {
        let exists = sqlx::query("SELECT 1 FROM organisations WHERE id = $1").bind(o).fetch_optional(&mut *c).await?;
        if exists.is_none() {
            return Err(StoreError::NotFound { what: "organisation", id: OrganisationId(o).to_string() });
        }
    }
    Ok(())
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

impl Backend {
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
                audit(c, &secrets.ring, now, &actor, "organisation.create", "organisation", &OrganisationId(id).to_string(), None::<&()>, Some(&org)).await?;
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
}
