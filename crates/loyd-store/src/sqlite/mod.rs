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

#[path = "../shared/mod.rs"]
#[allow(clippy::duplicate_mod)] // compiled once per backend, on purpose
mod shared;

/// The most requests one group commit takes; bounds the work lost to a failing commit
/// and the latency of the last request in a batch.
const MAX_BATCH: usize = 256;

pub struct Backend {
    writer: mpsc::Sender<Box<dyn Job>>,
    readers: SqlitePool,
    path: PathBuf,
    pub(crate) secrets: std::sync::Arc<crate::crypto::Secrets>,
    /// The committed system accounts, so receipts need not read them.
    pub(crate) system: shared::ledger::SystemCache,
    /// Whether opening applied migrations (which may have scrubbed data).
    pub(crate) migrated: bool,
}

/// The newest migration applied to the database (0: none, or no table yet).
async fn schema_version(c: &mut Conn) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *c)
        .await
        .unwrap_or(0)
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
        let mut migrated = false;
        if opts.migrate {
            let before = schema_version(&mut writer).await;
            // Migrations may scrub secrets: then every replaced byte is zeroed, those of
            // freed overflow pages too (`fast` leaves those for speed).
            sqlx::query("PRAGMA secure_delete = ON").execute(&mut writer).await?;
            crate::migrations::sqlite().run(&mut writer).await.map_err(crate::migrations::error)?;
            sqlx::query("PRAGMA secure_delete = FAST").execute(&mut writer).await?;
            migrated = schema_version(&mut writer).await != before;
        }
        let readers = crate::options::pool_options::<Db>(opts)
            .connect_with(base.clone().pragma("query_only", "ON"))
            .await?;
        let (tx, rx) = mpsc::channel(opts.write_queue);
        tokio::spawn(run_writer(base.clone(), writer, rx));
        Ok(Backend {
            writer: tx,
            readers,
            path: path.to_owned(),
            secrets: crate::crypto::Secrets::shared(opts),
            system: Default::default(),
            migrated,
        })
    }

    pub fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    /// Copies the write-ahead log into the database file and empties it. Run after an
    /// upgrade that scrubbed data: until then the file still holds the old pages (and
    /// the log the changes), so a copy of the files would hold what was removed.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let mut c = SqliteConnectOptions::new().filename(&self.path).busy_timeout(Duration::from_secs(10)).connect().await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut c).await?;
        Ok(())
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
        // Every committed write is answered; one dropped unanswered (it panicked, or the
        // writer stopped) was not committed.
        rx.await.map_err(|_| StoreError::Unavailable("the write ended without an answer and was not committed (see the server's log)".into()))?
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

/// The writer's loop. A request that panics (a bug) takes the connection and the batch
/// with it, not the writer: the others of its batch are answered `unavailable` (none of
/// them was committed, so a retry is safe) and the next batch opens a new connection.
async fn run_writer(options: SqliteConnectOptions, conn: Conn, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut conn = Some(conn);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let c = match conn.take() {
            Some(c) => c,
            None => match options.connect().await {
                Ok(c) => c,
                Err(e) => {
                    let e = e.to_string();
                    for job in jobs.drain(..) {
                        job.fail(StoreError::Unavailable(format!("cannot reopen the database writer: {e}")));
                    }
                    continue;
                }
            },
        };
        conn = group_commit(c, &mut jobs).await;
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}

async fn exec(conn: &mut Conn, sql: &'static str) -> Result<(), String> {
    conn.execute(sql).await.map(|_| ()).map_err(|e| e.to_string())
}

/// Runs a batch in one transaction, each request in its savepoint, and gives the
/// connection back (none if a request panicked with it). The statements that end one
/// request's savepoint and open the next one's (or begin and commit the transaction) go
/// to SQLite together, one call each: every call costs a hand-off to the connection's
/// thread, and the writer is bound by those, not by the CPU.
async fn group_commit(mut conn: Conn, jobs: &mut Vec<Box<dyn Job>>) -> Option<Conn> {
    if let Err(e) = exec(&mut conn, "BEGIN IMMEDIATE; SAVEPOINT request").await {
        let _ = exec(&mut conn, "ROLLBACK").await;
        for job in jobs.drain(..) {
            job.fail(StoreError::Unavailable(e.clone()));
        }
        return Some(conn);
    }
    let mut answers: Vec<Box<dyn Finish>> = Vec::with_capacity(jobs.len());
    let mut commit: Result<(), String> = Ok(());
    let last = jobs.len() - 1;
    let mut jobs = jobs.drain(..).enumerate();
    while let Some((i, job)) = jobs.next() {
        if let Err(e) = &commit {
            job.fail(StoreError::Unavailable(e.clone()));
            continue;
        }
        // On a task of its own, so that a panic ends only this request.
        let ran = tokio::spawn(async move {
            let out = job.run(&mut conn).await;
            (conn, out)
        })
        .await;
        let (ok, answer) = match ran {
            Ok((c, out)) => {
                conn = c;
                out
            }
            Err(e) => {
                // The connection went with the task; closing it rolled the batch back.
                tracing::error!(error = %e, "a write panicked; its batch is rolled back and the writer reopens the database");
                let gone = Err("a request in the same batch failed and the batch was rolled back".to_owned());
                for (_, job) in jobs {
                    job.fail(StoreError::Unavailable("the batch was rolled back".into()));
                }
                for answer in answers {
                    answer.finish(gone.clone());
                }
                return None;
            }
        };
        let next = match (ok, i == last) {
            (true, false) => "RELEASE request; SAVEPOINT request",
            (true, true) => "RELEASE request; COMMIT",
            (false, false) => "ROLLBACK TO request; RELEASE request; SAVEPOINT request",
            (false, true) => "ROLLBACK TO request; RELEASE request; COMMIT",
        };
        commit = exec(&mut conn, next).await;
        answers.push(answer);
    }
    if commit.is_err() {
        // Leave the connection clean for the next batch whatever state it is in.
        let _ = exec(&mut conn, "ROLLBACK").await;
    }
    for answer in answers {
        answer.finish(commit.clone());
    }
    Some(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer on a fresh database holding one table, `t (n)`, and its directory.
    async fn backend_with_table(tag: &str) -> (std::sync::Arc<Backend>, PathBuf) {
        let dir = std::env::temp_dir().join(format!("loyd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let opts = StoreOptions { migrate: false, ..StoreOptions::default() };
        let backend = std::sync::Arc::new(Backend::open(&dir.join("t.db"), &opts).await.unwrap());
        backend
            .write(|c| Box::pin(async move { c.execute("CREATE TABLE t (n INTEGER NOT NULL)").await.map(|_| ()).map_err(StoreError::from) }))
            .await
            .unwrap();
        (backend, dir)
    }

    /// Writes `n` into `t`, then answers what `then` says.
    async fn insert(backend: &Backend, n: i64, then: fn(i64) -> Result<i64, StoreError>) -> Result<i64, StoreError> {
        backend
            .write(move |c| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *c).await?;
                    then(n)
                })
            })
            .await
    }

    #[tokio::test]
    async fn the_bundled_sqlite_is_built_without_stat4_so_statistics_never_replan_each_execution() {
        // .cargo/config.toml sets LIBSQLITE3_FLAGS; a build without it would make every
        // commit re-prepare its statements once the database has been analysed.
        let mut c = SqliteConnectOptions::new().in_memory(true).connect().await.unwrap();
        let options: Vec<String> = sqlx::query_scalar("SELECT compile_options FROM pragma_compile_options").fetch_all(&mut c).await.unwrap();
        assert!(options.iter().any(|o| o.starts_with("THREADSAFE")), "compile options readable: {options:?}");
        assert!(!options.iter().any(|o| o == "ENABLE_STAT4"), "{options:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_panics_loses_only_its_batch_and_the_writer_keeps_serving() {
        let (backend, dir) = backend_with_table("writer-panic").await;
        // Sent at once, they share batches; number 13 writes its row and then panics.
        let mut writes = tokio::task::JoinSet::new();
        for n in 0..32_i64 {
            let backend = backend.clone();
            writes.spawn(async move {
                let result = insert(&backend, n, |n| {
                    assert!(n != 13, "a bug in request {n}");
                    Ok(n)
                })
                .await;
                (n, result)
            });
        }
        let mut answered = Vec::new();
        while let Some(joined) = writes.join_next().await {
            match joined.unwrap() {
                (n, Ok(_)) => answered.push(n),
                (n, Err(e)) => assert!(matches!(e, StoreError::Unavailable(_)), "{n}: {e:?}"),
            }
        }
        assert!(!answered.contains(&13));
        // The writer still writes, and what it answered is exactly what is there.
        insert(&backend, 100, Ok).await.unwrap();
        answered.push(100);
        answered.sort();
        let mut c = backend.reader().await.unwrap();
        let kept: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY n").fetch_all(&mut *c).await.unwrap();
        assert_eq!(kept, answered);
        drop(c);
        backend.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_request_in_a_group_commit_rolls_back_alone_and_the_others_commit() {
        let (backend, dir) = backend_with_table("group-commit").await;
        // Sent at once, they queue while the writer is busy and share batches; every odd
        // one writes its row and then refuses.
        let mut writes = tokio::task::JoinSet::new();
        for n in 0..64_i64 {
            let backend = backend.clone();
            writes.spawn(async move {
                let result = insert(&backend, n, |n| if n % 2 == 1 { Err(StoreError::Invalid(format!("refused {n}"))) } else { Ok(n) }).await;
                (n, result)
            });
        }
        while let Some(joined) = writes.join_next().await {
            match joined.unwrap() {
                (n, Ok(v)) => assert!(n % 2 == 0 && v == n, "{n} answered {v}"),
                (n, Err(e)) => assert!(n % 2 == 1 && matches!(&e, StoreError::Invalid(m) if *m == format!("refused {n}")), "{n}: {e:?}"),
            }
        }
        let mut c = backend.reader().await.unwrap();
        let kept: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY n").fetch_all(&mut *c).await.unwrap();
        assert_eq!(kept, (0..64).filter(|n| n % 2 == 0).collect::<Vec<_>>());
        drop(c);
        backend.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
