//! The audit log: who changed what, with the record before and after; personal data in
//! it is sealed like the profile.

use loyd_domain::time::{Timestamp, from_micros, to_micros};
use serde::Serialize;
use sqlx::{QueryBuilder, Row};

use crate::{AuditEntry, AuditFilter};
use crate::crypto::Keyring;
use crate::error::StoreError;
use super::{Backend, Conn, Db};
use super::keys::{bad, json_text};

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

impl Backend {
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
}
