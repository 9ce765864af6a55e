//! The storage error: domain refusals pass through unchanged; database failures are
//! classified once, here, into "try again", "unavailable" and "internal".

use loyd_domain::config::ConfigError;
use loyd_domain::ledger::BatchError;
use loyd_domain::receipt::ReceiptError;
use loyd_domain::said::Said;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The ledger refused a batch; says which transfer and why.
    #[error(transparent)]
    Ledger(#[from] BatchError),
    /// A POS operation refused by a business rule (unknown card, insufficient funds…),
    /// with its stable code.
    #[error(transparent)]
    Refused(#[from] ReceiptError),
    /// The same client id was used earlier with a different request.
    #[error("{0} was already used with a different request")]
    IdempotencyConflict(String),
    #[error("{what} '{id}' does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{what} '{id}' already exists")]
    AlreadyExists { what: &'static str, id: String },
    /// The caller may not do this to this object (a rule that depends on the object).
    #[error("{0}")]
    Forbidden(String),
    /// Input that reached storage and breaks a rule only storage can check.
    #[error("{0}")]
    Invalid(String),
    /// Input that breaks a rule of the domain, said by key ([`loyd_domain::said`]).
    #[error("{0}")]
    Rule(Said),
    /// A configuration document that cannot be applied; every problem with its path.
    #[error("the configuration has {} problem(s): {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Config(Vec<ConfigError>),
    /// The database cannot be reached or refused to commit: the caller may retry.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A transient conflict between concurrent transactions (serialization failure,
    /// deadlock, a concurrent insert of the same key). Write paths retry it; it only
    /// escapes when retries are exhausted.
    #[error("concurrent update conflict: {0}")]
    Retry(String),
    /// Anything else: a bug or a broken database. Logged, never shown to clients.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Retry(_))
    }
}

impl From<loyd_domain::access::Invalid> for StoreError {
    fn from(e: loyd_domain::access::Invalid) -> Self {
        StoreError::Rule(e.0)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                // PostgreSQL SQLSTATEs are always five characters; SQLite reports its
                // (extended) result codes as decimal numbers of at most four digits.
                let sqlite_primary = (code.len() < 5).then(|| code.parse::<i32>().ok()).flatten().map(|c| c & 0xff);
                match (code.as_str(), sqlite_primary) {
                    // PostgreSQL: serialization_failure, deadlock_detected.
                    ("40001" | "40P01", _) => StoreError::Retry(db.message().to_owned()),
                    // PostgreSQL: a NUL or another character text cannot hold. Inputs are
                    // checked at the edge (`loyd_domain::text`); this only keeps a miss
                    // there from being a 500.
                    ("22021" | "22P05", _) => StoreError::Invalid("the request holds a character that cannot be stored (NUL)".into()),
                    // PostgreSQL: connection exceptions, shutdown, read-only standby.
                    (c, None) if c.starts_with("08") || c.starts_with("57P") || c == "25006" => {
                        StoreError::Unavailable(db.message().to_owned())
                    }
                    // SQLite: BUSY / LOCKED after busy_timeout (another process), IOERR, FULL.
                    (_, Some(5 | 6 | 10 | 13)) => StoreError::Unavailable(db.message().to_owned()),
                    _ if db.is_unique_violation() => StoreError::Retry(db.message().to_owned()),
                    _ => StoreError::Database(e),
                }
            }
            _ => StoreError::Database(e),
        }
    }
}
