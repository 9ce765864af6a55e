//! Personal data at rest: sealing rows still in plaintext, re-sealing under a new key
//! (key rotation) in batches, and checking which keys are in use.

use sqlx::Row;

use crate::Rotation;
use crate::error::StoreError;
use super::Backend;
use super::customers::{Pii, customer_row, store_pii};

/// The sealed columns, re-sealed in this order (the order of `reseal_batch`'s ids): the
/// table, its sealed columns, and the context each value is sealed in.
const SEALED: [(&str, &[&str], &str); crate::SEALED_TABLES] = [
    ("customers", &["pii"], "customer"),
    ("crm_entries", &["body"], "note"),
    ("audit_log", &["before", "after"], "audit"),
    ("events", &["payload"], "event"),
    ("channel_secrets", &["secret"], "channel"),
    ("notifications", &["content"], "notification"),
];

/// What to re-seal under the current key, per table, per batch.
const RESEAL_BATCH: i64 = 500;

impl Backend {
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
                        telegram: None,
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
    pub async fn reseal_batch(&self, after: [i64; SEALED.len()]) -> Result<(Rotation, [i64; SEALED.len()]), StoreError> {
        let secrets = self.ring();
        self.write(move |c| {
            let secrets = secrets.clone();
            Box::pin(async move {
                let ring = &secrets.ring;
                let current = format!("v1.{}.%", ring.current());
                let mut done = Rotation { key: ring.current().to_owned(), ..Rotation::default() };
                let mut next = after;
                let mut counts = [0u64; SEALED.len()];
                for (k, (table, columns, context)) in SEALED.iter().enumerate() {
                    let stale = columns.iter().map(|c| format!("({c} IS NOT NULL AND {c} NOT LIKE $1)")).collect::<Vec<_>>().join(" OR ");
                    // Keyset pagination: each batch goes on from the last id of the previous one. The
                    // statements are built from the constant SEALED only.
                    let select = format!("SELECT id, {} FROM {table} WHERE id > $3 AND ({stale}) ORDER BY id LIMIT $2", columns.join(", "));
                    let rows = sqlx::query(sqlx::AssertSqlSafe(select)).bind(current.clone()).bind(RESEAL_BATCH).bind(after[k]).fetch_all(&mut *c).await?;
                    let set = columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect::<Vec<_>>().join(", ");
                    let update = format!("UPDATE {table} SET {set} WHERE id = ${}", columns.len() + 1);
                    for r in &rows {
                        let id: i64 = r.try_get("id")?;
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(update.clone()));
                        for column in *columns {
                            let value: Option<String> = r.try_get(*column)?;
                            q = q.bind(value.map(|v| ring.open(context, &v).map(|p| ring.seal(context, &p))).transpose()?);
                        }
                        q.bind(id).execute(&mut *c).await?;
                        next[k] = id;
                    }
                    counts[k] = rows.len() as u64;
                }
                [done.customers, done.crm_entries, done.audit_entries] = [counts[0], counts[1], counts[2]];
                done.events = counts[3..].iter().sum();
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
        let any = SEALED
            .iter()
            .map(|(table, columns, _)| {
                format!("SELECT 1 AS x FROM {table} WHERE {}", columns.iter().map(|c| format!("{c} LIKE $1")).collect::<Vec<_>>().join(" OR "))
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let any = format!("{any} LIMIT 1");
        for id in ids {
            let pattern = format!("v1.{id}.%");
            let row = sqlx::query(sqlx::AssertSqlSafe(any.clone())).bind(pattern).fetch_optional(&mut *c).await?;
            if row.is_some() {
                used.push(id);
            }
        }
        Ok(used)
    }
}
