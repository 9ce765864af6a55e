//! Where the database is ([`DatabaseUrl`], with the password kept out of logs), how it
//! is opened ([`StoreOptions`]), and the pool settings both backends share.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::crypto;
use crate::error::StoreError;

/// A connection that sat idle longer than this is checked with a ping before use.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Pool settings shared by both backends. sqlx pings a connection on every acquire by
/// default: a round trip per request for nothing under load. Here only a connection
/// idle for [`PING_AFTER_IDLE`] is checked, which still weeds out those a database
/// restart broke (one taken during the outage fails and is dropped when released).
pub(crate) fn pool_options<DB: sqlx::Database>(opts: &StoreOptions) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(opts.max_connections.max(1))
        .acquire_timeout(opts.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Where the database is.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// The default: an embedded SQLite file, created on first start.
    pub fn default_sqlite() -> Self {
        DatabaseUrl::Sqlite(PathBuf::from("./loyd-data/loyd.db"))
    }

    /// Accepts `postgres://…`, `postgresql://…`, `sqlite://PATH`, `sqlite:PATH`, or a
    /// plain file path (SQLite).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Err(StoreError::Invalid(
                "a SQLite database needs a file path (in-memory databases cannot be shared by the writer and readers)".into(),
            ));
        }
        if url.contains("://") && !url.starts_with("sqlite://") {
            return Err(StoreError::Invalid(format!(
                "unsupported database URL scheme in '{}': use postgres://… or sqlite://PATH",
                url.split("://").next().unwrap_or_default()
            )));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// The URL with any password replaced, safe for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => {
                    let creds = &u[s + 3..at];
                    let user = creds.split(':').next().unwrap_or_default();
                    let masked = if creds.contains(':') { format!("{user}:***") } else { user.to_owned() };
                    format!("{}{masked}{}", &u[..s + 3], &u[at..])
                }
                _ => u.clone(),
            },
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Run pending migrations when opening.
    pub migrate: bool,
    /// PostgreSQL: pool size. SQLite: read pool size (there is always one writer).
    pub max_connections: u32,
    /// How long a request waits for a connection before it is told the database is busy.
    pub acquire_timeout: Duration,
    /// SQLite: how many writes may queue for the writer before callers wait.
    pub write_queue: usize,
    /// The server's secret key: PINs and one-time codes are stored as HMACs under it.
    pub secret: Arc<Vec<u8>>,
    /// The data keys that seal personal data; `None` derives a development key from
    /// `secret` (tests only — the server always loads a keyring file).
    pub keyring: Option<crypto::Keyring>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            migrate: true,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            write_queue: 4096,
            secret: Arc::new(b"loyd-development-secret-key-0000".to_vec()),
            keyring: None,
        }
    }
}
