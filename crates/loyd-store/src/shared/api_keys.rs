//! API keys: created with their hash only; `staff.rs` (`principal`) resolves them.

use loyd_domain::access::Role;
use loyd_domain::time::{Timestamp, to_micros};

use crate::error::StoreError;
use super::Backend;

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
}
