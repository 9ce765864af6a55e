//! The PostgreSQL backend: a connection pool; each write is a transaction that locks
//! the rows it changes (`SELECT … FOR UPDATE` in id order, so two transactions never
//! wait on each other in a cycle) and is retried on the transient conflicts that
//! concurrent transactions can meet (serialization failure, deadlock, a concurrent
//! insert of the same idempotency key).

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::Connection;

use crate::error::StoreError;
use crate::{BoxFut, StoreOptions};

pub(crate) type Db = sqlx::Postgres;
pub(crate) type Conn = sqlx::PgConnection;
/// SQL dialect switch for the few statements that differ.
pub(crate) const PG: bool = true;

#[path = "../shared/mod.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod shared;

/// How many times a write meets a transient conflict before the caller is told.
const MAX_ATTEMPTS: u32 = 8;

pub struct Backend {
    pool: PgPool,
    described: String,
    pub(crate) secrets: std::sync::Arc<crate::crypto::Secrets>,
    /// The committed system accounts, so receipts need not read them.
    pub(crate) system: shared::ledger::SystemCache,
}

impl Backend {
    pub async fn open(url: &str, opts: &StoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)?.application_name("loyd");
        let described = format!(
            "postgres://{}@{}:{}/{}",
            connect.get_username(),
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or("")
        );
        let pool = crate::options::pool_options::<Db>(opts)
            .max_connections(opts.max_connections.max(2))
            .connect_with(connect)
            .await?;
        if opts.migrate {
            crate::migrations::postgres().run(&pool).await.map_err(crate::migrations::error)?;
        }
        Ok(Backend { pool, described, secrets: crate::crypto::Secrets::shared(opts), system: Default::default() })
    }

    pub fn describe(&self) -> String {
        self.described.clone()
    }

    pub async fn reader(&self) -> Result<PoolConnection<Db>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Runs `f` in a transaction and commits; on a transient conflict rolls back and
    /// runs it again from the start (so `f` must only depend on what it reads).
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Conn) -> BoxFut<'c, Result<T, StoreError>> + Send + Sync + 'static,
    {
        let mut attempt = 1;
        loop {
            let mut tx = self.pool.begin().await?;
            let result = match f(&mut tx).await {
                Ok(v) => tx.commit().await.map(|()| v).map_err(StoreError::from),
                Err(e) => Err(e), // dropping `tx` rolls back
            };
            match result {
                Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "retrying a write after a transient conflict");
                    // Spread the retries of colliding transactions apart.
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt * attempt))).await;
                    attempt += 1;
                }
                Err(StoreError::Retry(msg)) => {
                    return Err(StoreError::Unavailable(format!("still conflicting after {attempt} attempts: {msg}")));
                }
                other => return other,
            }
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.reader().await?.ping().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }
}
