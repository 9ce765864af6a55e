//! The embedded SQLite backend.
//!
//! SQLite allows one writer at a time. Rather than let connections fight over the
//! write lock ("database is locked"), every write goes to **one writer task** that owns
//! the only writing connection. Requests queue on a channel; the writer takes whatever
//! has queued, runs it in one transaction with a savepoint per request (each request
//! stays atomic and independent: a refused one rolls back alone), commits once, and only
//! then answers each caller. Under load many receipts share one fsync (group commit);
//! with one caller it is an ordinary transaction. Reads use a separate pool and see the
//! last committed state (WAL mode).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::{BoxFut, StoreOptions};

pub(crate) type Db = sqlx::Sqlite;
pub(crate) type Conn = sqlx::SqliteConnection;
/// SQL dialect switch for the few statements that differ.
pub(crate) const PG: bool = false;

#[path = "../shared/rows.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
#[macro_use]
mod rows;
#[path = "../shared/ledger.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod ledger;
#[path = "../shared/org.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod org;
#[path = "../shared/config.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod config;
#[path = "../shared/pos.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod pos;
#[path = "../shared/returns.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod returns;
#[path = "../shared/pos_ops.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod pos_ops;
#[path = "../shared/jobs.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod jobs;
#[path = "../shared/crm.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod crm;
#[path = "../shared/staff.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod staff;

/// The most requests one group commit takes; bounds the work lost to a failing commit
/// and the latency of the last request in a batch.
const MAX_BATCH: usize = 256;

pub struct Backend {
    writer: mpsc::Sender<Box<dyn Job>>,
    readers: SqlitePool,
    path: PathBuf,
    pub(crate) secrets: std::sync::Arc<crate::crypto::Secrets>,
    /// The committed system accounts, so receipts need not read them.
    pub(crate) system: ledger::SystemCache,
}

impl Backend {
    pub async fn open(path: &Path, opts: &StoreOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // Durable settings: WAL with a full sync at every commit. Group commit is
            // what makes this fast, not a weaker sync.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Another process (an operator's `loyd` command) may hold the write lock briefly.
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            // Deleted and overwritten content (such as plaintext sealed after an upgrade)
            // is zeroed in its page rather than left in free space.
            .pragma("secure_delete", "fast");

        let mut writer = base.clone().connect().await?;
        if opts.migrate {
            crate::migrations::sqlite().run(&mut writer).await.map_err(crate::migrations::error)?;
        }
        let readers = crate::pool_options::<Db>(opts)
            .connect_with(base.pragma("query_only", "ON"))
            .await?;
        let (tx, rx) = mpsc::channel(opts.write_queue);
        tokio::spawn(run_writer(writer, rx));
        Ok(Backend { writer: tx, readers, path: path.to_owned(), secrets: crate::crypto::Secrets::shared(opts), system: Default::default() })
    }

    pub fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    pub async fn reader(&self) -> Result<PoolConnection<Db>, StoreError> {
        Ok(self.readers.acquire().await?)
    }

    /// Runs `f` atomically in the writer's current group commit and answers once the
    /// commit is durable. `f` runs exactly once (there are no write conflicts to retry).
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Conn) -> BoxFut<'c, Result<T, StoreError>> + Send + Sync + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(Box::new(TypedJob { f, tx }))
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.reader().await?.ping().await?;
        // The writer answers only if its loop is alive.
        self.write(|_| Box::pin(async { Ok(()) })).await
    }

    pub async fn close(&self) {
        self.readers.close().await;
    }

    pub fn pool_stats(&self) -> (u32, usize) {
        (self.readers.size(), self.readers.num_idle())
    }
}

trait Job: Send {
    /// Runs the request; says whether it succeeded and returns how to answer it.
    fn run<'c>(self: Box<Self>, conn: &'c mut Conn) -> BoxFut<'c, (bool, Box<dyn Finish>)>;
    fn fail(self: Box<Self>, err: StoreError);
}

trait Finish: Send {
    /// Answers the caller once the fate of the group commit is known.
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

struct TypedJob<T, F> {
    f: F,
    tx: oneshot::Sender<Result<T, StoreError>>,
}

struct Answer<T> {
    result: Result<T, StoreError>,
    tx: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: for<'c> Fn(&'c mut Conn) -> BoxFut<'c, Result<T, StoreError>> + Send + Sync + 'static,
{
    fn run<'c>(self: Box<Self>, conn: &'c mut Conn) -> BoxFut<'c, (bool, Box<dyn Finish>)> {
        Box::pin(async move {
            let TypedJob { f, tx } = *self;
            let result = f(conn).await;
            let ok = result.is_ok();
            (ok, Box::new(Answer { result, tx }) as Box<dyn Finish>)
        })
    }

    fn fail(self: Box<Self>, err: StoreError) {
        let _ = self.tx.send(Err(err));
    }
}

impl<T: Send> Finish for Answer<T> {
    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let answer = match (self.result, commit) {
            // A refusal stands whatever happened to the others.
            (Err(e), _) => Err(e),
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
        };
        // The caller may have gone (client timeout); the write stands and a retry
        // with the same id will find it.
        let _ = self.tx.send(answer);
    }
}

async fn run_writer(mut conn: Conn, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        group_commit(&mut conn, &mut jobs).await;
    }
    let _ = conn.close().await;
}

async fn exec(conn: &mut Conn, sql: &'static str) -> Result<(), String> {
    conn.execute(sql).await.map(|_| ()).map_err(|e| e.to_string())
}

async fn group_commit(conn: &mut Conn, jobs: &mut Vec<Box<dyn Job>>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        for job in jobs.drain(..) {
            job.fail(StoreError::Unavailable(e.clone()));
        }
        return;
    }
    let mut answers = Vec::with_capacity(jobs.len());
    let mut broken: Option<String> = None;
    for job in jobs.drain(..) {
        if let Some(e) = &broken {
            job.fail(StoreError::Unavailable(e.clone()));
            continue;
        }
        if let Err(e) = exec(conn, "SAVEPOINT request").await {
            job.fail(StoreError::Unavailable(e.clone()));
            broken = Some(e);
            continue;
        }
        let (ok, answer) = job.run(conn).await;
        let end = if ok {
            exec(conn, "RELEASE request").await
        } else {
            match exec(conn, "ROLLBACK TO request").await {
                Ok(()) => exec(conn, "RELEASE request").await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = end {
            broken = Some(e);
        }
        answers.push(answer);
    }
    let commit = match broken {
        None => exec(conn, "COMMIT").await,
        Some(e) => Err(e),
    };
    if commit.is_err() {
        // Leave the connection clean for the next batch whatever state it is in.
        let _ = exec(conn, "ROLLBACK").await;
    }
    for answer in answers {
        answer.finish(commit.clone());
    }
}
