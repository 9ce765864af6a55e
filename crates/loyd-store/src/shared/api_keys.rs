//! API keys: created with their hash only; `staff.rs` (`principal`) resolves them.

use loyd_domain::access::Role;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use crate::error::StoreError;
use super::{Backend, rows};

impl Backend {
    pub async fn create_api_key(&self, name: String, key_hash: String, role: Role, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| {
            let (name, key_hash) = (name.clone(), key_hash.clone());
            Box::pin(async move {
                let done = sqlx::query(
                    "INSERT INTO api_keys (name, key_hash, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name.clone())
                .bind(key_hash)
                .bind(role.name())
                .bind(to_micros(now))
                .execute(&mut *c)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::AlreadyExists { what: "API key", id: name });
                }
                Ok(())
            })
        })
        .await
    }

    /// Every API key, live and revoked, by name (never the key: only its hash is kept).
    pub async fn api_keys(&self) -> Result<Vec<crate::ApiKeyRow>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query("SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY name").fetch_all(&mut *c).await?;
        rows.iter()
            .map(|r| {
                let role = Role::parse(&r.try_get::<String, _>("role")?).ok_or_else(|| rows::corrupt("stored API key role is unknown".into()))?;
                Ok(crate::ApiKeyRow {
                    name: r.try_get("name")?,
                    role,
                    created_at: from_micros(r.try_get("created_at")?),
                    revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(from_micros),
                })
            })
            .collect()
    }

    /// Revokes an API key: it stops working at once. Revoking it again changes nothing.
    pub async fn revoke_api_key(&self, name: String, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| {
            let name = name.clone();
            Box::pin(async move {
                let done = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE name = $2")
                    .bind(to_micros(now))
                    .bind(name.clone())
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { what: "API key", id: name });
                }
                Ok(())
            })
        })
        .await
    }
}
