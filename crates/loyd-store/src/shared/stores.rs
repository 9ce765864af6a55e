//! Stores and terminals, one source for both backends.

use loyd_domain::ids::{AssetCode, StoreCode, TerminalCode};
use loyd_domain::org::{StoreSpec, Terminal, TimeZoneName};
use loyd_domain::time::{Timestamp, to_micros};
use sqlx::Row;

use super::{Backend, Conn, rows};
use crate::TerminalOfKey;
use crate::error::StoreError;

fn store_from_row(row: &rows::DbRow) -> Result<StoreSpec, StoreError> {
    let bad = |e: &dyn std::fmt::Display| rows::corrupt(format!("stored store is invalid: {e}"));
    Ok(StoreSpec {
        id: StoreCode::parse(row.try_get::<String, _>("id")?).map_err(|e| bad(&e))?,
        name: row.try_get("name")?,
        format: row
            .try_get::<Option<String>, _>("format")?
            .map(StoreCode::parse)
            .transpose()
            .map_err(|e| bad(&e))?,
        timezone: TimeZoneName::parse(row.try_get::<String, _>("timezone")?).map_err(|e| bad(&e))?,
        currency: AssetCode::parse(row.try_get::<String, _>("currency")?).map_err(|e| bad(&e))?,
        partner: row
            .try_get::<Option<String>, _>("partner")?
            .map(StoreCode::parse)
            .transpose()
            .map_err(|e| bad(&e))?,
        offline_days: row
            .try_get::<Option<i64>, _>("offline_days")?
            .map(u32::try_from)
            .transpose()
            .map_err(|e| bad(&e))?,
        address: row.try_get("address")?,
        hours: row.try_get("hours")?,
    })
}

/// The columns [`store_from_row`] reads.
macro_rules! store_cols {
    ($t:literal) => {
        concat!($t, "id, ", $t, "name, ", $t, "format, ", $t, "timezone, ", $t, "currency, ", $t, "partner, ", $t, "offline_days, ", $t, "address, ", $t, "hours")
    };
}

pub(crate) async fn load_stores(c: &mut Conn) -> Result<Vec<StoreSpec>, StoreError> {
    let rows = sqlx::query(concat!("SELECT ", store_cols!(""), " FROM stores ORDER BY id")).fetch_all(&mut *c).await?;
    rows.iter().map(store_from_row).collect()
}

impl Backend {
    pub async fn stores(&self) -> Result<Vec<StoreSpec>, StoreError> {
        let mut c = self.reader().await?;
        load_stores(&mut c).await
    }

    pub async fn store(&self, id: &StoreCode) -> Result<Option<StoreSpec>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(concat!("SELECT ", store_cols!(""), " FROM stores WHERE id = $1"))
            .bind(id.as_str().to_owned())
            .fetch_optional(&mut *c)
            .await?;
        row.as_ref().map(store_from_row).transpose()
    }

    /// Registers a terminal under the hash of its key. Refuses an existing terminal:
    /// keys are replaced with `rotate_terminal_key`, never silently.
    pub async fn create_terminal(
        &self,
        store: StoreCode,
        terminal: TerminalCode,
        key_hash: String,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let (store, terminal, key_hash) = (store.clone(), terminal.clone(), key_hash.clone());
            Box::pin(async move {
                let exists = sqlx::query("SELECT 1 FROM stores WHERE id = $1")
                    .bind(store.as_str().to_owned())
                    .fetch_optional(&mut *c)
                    .await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound { what: "store", id: store.to_string() });
                }
                let done = sqlx::query(
                    "INSERT INTO terminals (store_id, id, key_hash, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (store_id, id) DO NOTHING",
                )
                .bind(store.as_str().to_owned())
                .bind(terminal.as_str().to_owned())
                .bind(key_hash)
                .bind(to_micros(now))
                .execute(&mut *c)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::AlreadyExists { what: "terminal", id: format!("{store}/{terminal}") });
                }
                Ok(())
            })
        })
        .await
    }

    /// Replaces a terminal's key (a lost or leaked key); the old key stops working at once.
    pub async fn rotate_terminal_key(&self, store: StoreCode, terminal: TerminalCode, key_hash: String) -> Result<(), StoreError> {
        self.write(move |c| {
            let (store, terminal, key_hash) = (store.clone(), terminal.clone(), key_hash.clone());
            Box::pin(async move {
                let done = sqlx::query("UPDATE terminals SET key_hash = $1, revoked_at = NULL WHERE store_id = $2 AND id = $3")
                    .bind(key_hash)
                    .bind(store.as_str().to_owned())
                    .bind(terminal.as_str().to_owned())
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { what: "terminal", id: format!("{store}/{terminal}") });
                }
                Ok(())
            })
        })
        .await
    }

    /// A store's terminals, live and revoked, by id.
    pub async fn terminals(&self, store: StoreCode) -> Result<Vec<crate::TerminalRow>, StoreError> {
        let mut c = self.reader().await?;
        let rows = sqlx::query("SELECT id, created_at, revoked_at FROM terminals WHERE store_id = $1 ORDER BY id")
            .bind(store.as_str().to_owned())
            .fetch_all(&mut *c)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::TerminalRow {
                    id: r.try_get("id")?,
                    created_at: loyd_domain::time::from_micros(r.try_get("created_at")?),
                    revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(loyd_domain::time::from_micros),
                })
            })
            .collect()
    }

    /// Revokes a terminal: its key stops working at once (a new key brings it back).
    /// Revoking a revoked terminal changes nothing.
    pub async fn revoke_terminal(&self, store: StoreCode, terminal: TerminalCode, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| {
            let (store, terminal) = (store.clone(), terminal.clone());
            Box::pin(async move {
                let done = sqlx::query("UPDATE terminals SET revoked_at = COALESCE(revoked_at, $1) WHERE store_id = $2 AND id = $3")
                    .bind(to_micros(now))
                    .bind(store.as_str().to_owned())
                    .bind(terminal.as_str().to_owned())
                    .execute(&mut *c)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { what: "terminal", id: format!("{store}/{terminal}") });
                }
                Ok(())
            })
        })
        .await
    }

    /// The live terminal a key belongs to, with its store.
    pub async fn terminal_by_key_hash(&self, key_hash: &str) -> Result<Option<TerminalOfKey>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(concat!(
            "SELECT t.id AS terminal_id, s.created_at AS opened_at, ",
            store_cols!("s."),
            " FROM terminals t JOIN stores s ON s.id = t.store_id WHERE t.key_hash = $1 AND t.revoked_at IS NULL"
        ))
        .bind(key_hash.to_owned())
        .fetch_optional(&mut *c)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let store = store_from_row(&row)?;
        let id = TerminalCode::parse(row.try_get::<String, _>("terminal_id")?)
            .map_err(|e| rows::corrupt(format!("stored terminal id is invalid: {e}")))?;
        let opened_at = loyd_domain::time::from_micros(row.try_get("opened_at")?);
        Ok(Some(TerminalOfKey { terminal: Terminal { store: store.id.clone(), id }, store, opened_at }))
    }
}
