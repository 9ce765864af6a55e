//! PostgreSQL stopped in the middle of a stream of POS commits (`pg_ctl stop -m fast`,
//! later `-m immediate`) and started again, the `loyd` server left running: while the
//! database is down the server says it is unready, answers commits `503` with a stable
//! code well within the client's timeout (no hang, no 500) and stays alive; when the
//! database is back it recovers by itself. A POS retries a refused receipt with the same
//! id: in the end every receipt is there exactly once and earned its points once.
//!
//! The test runs a PostgreSQL cluster of its own (initdb into a temporary directory, a
//! free port), so stopping it disturbs no other test. It needs PostgreSQL's server
//! binaries (`/usr/lib/postgresql/*/bin`, Debian's `postgresql` package) and fails
//! rather than skips without them. Run it with `--nocapture` to see the timings.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loyd_testkit::TestDb;
use serde_json::{Value, json};

/// How long a POS waits for an answer: the server must answer sooner, outage or not.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Concurrent terminals committing receipts.
const WRITERS: usize = 4;
/// How soon the server must refuse a request while the database is down (it waits 2 s for
/// a connection, `DB_ACQUIRE_TIMEOUT` in `main.rs`), well within the client's timeout.
const REFUSED_WITHIN: Duration = Duration::from_millis(3500);
/// How long the database stays down at least, while the server is probed.
const OUTAGE: Duration = Duration::from_secs(4);
/// How long the server may take to be ready again once the database is back.
const RECOVERY: Duration = Duration::from_secs(30);

// ---- a private PostgreSQL cluster ----

/// A PostgreSQL cluster in a temporary directory; stopped (`-m immediate`) when dropped,
/// so a failing test leaves no server behind.
struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// PostgreSQL refuses to run as root: then its commands run as the `postgres` user.
    as_postgres: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn pg_bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.split('.').next()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: this test starts a cluster of its own \
             and fails rather than skips without them; install them with `apt-get install postgresql`"
        ),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgCluster {
    fn start() -> PgCluster {
        let bin = pg_bin_dir();
        let dir = tempfile::Builder::new().prefix("loyd-pg-").tempdir().expect("a temporary directory");
        let as_postgres = dir.path().metadata().unwrap().uid() == 0;
        std::fs::create_dir(dir.path().join("sock")).unwrap();
        if as_postgres {
            let out = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).output();
            let ok = out.as_ref().is_ok_and(|o| o.status.success());
            assert!(ok, "cannot hand {} to the postgres user: {out:?}", dir.path().display());
        }
        let cluster = PgCluster { bin, dir, port: free_port(), as_postgres };
        let data = cluster.path("data");
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale", "C", "--no-sync"]);
        cluster.start_server();
        cluster.run("createdb", &["-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", "postgres", "loyd"]);
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/loyd", self.port)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out =
            self.command(program).args(args).output().unwrap_or_else(|e| {
                panic!("cannot run {program}{}: {e}", if self.as_postgres { " through runuser (util-linux)" } else { "" })
            });
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
    }

    fn start_server(&self) {
        let options = format!("-c listen_addresses=127.0.0.1 -p {} -k {}", self.port, self.path("sock"));
        self.run("pg_ctl", &["start", "-D", &self.path("data"), "-l", &self.path("postgres.log"), "-w", "-t", "30", "-o", &options]);
    }

    fn stop_server(&self, mode: &str) {
        self.run("pg_ctl", &["stop", "-D", &self.path("data"), "-m", mode, "-w", "-t", "30"]);
    }

    fn log_tail(&self) -> String {
        tail(&self.dir.path().join("postgres.log"), "PostgreSQL log")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.path("data");
        let _ = self.command("pg_ctl").args(["stop", "-D", &data, "-m", "immediate", "-w", "-t", "10"]).output();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}

fn tail(path: &Path, what: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!("--- {what} (last lines) ---\n{}", lines[lines.len().saturating_sub(40)..].join("\n"))
}

// ---- the loyd server and CLI ----

mod common;
use common::{last_line, loyd};

/// `loyd serve`, killed when dropped; its log is shown when the test fails.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    async fn start(dir: &Path, db: &TestDb, port: u16) -> Server {
        let log = dir.join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_loyd"))
            .current_dir(dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("LOYD_DATABASE_URL", db.url_string())
            .env_remove("LOYD_CONFIG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let server = Server { child, log };
        let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
            assert!(Instant::now() < deadline, "the server did not become ready\n{}", tail(&server.log, "loyd serve log"));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", tail(&self.log, "loyd serve log"));
        }
    }
}

// ---- the load ----

/// One answer to one commit attempt.
#[derive(Debug, Clone)]
struct Answer {
    id: String,
    started: Instant,
    took: Duration,
    /// `None`: no answer (the client timed out or the connection failed), see `error`.
    status: Option<u16>,
    code: Option<String>,
    replay: bool,
    retry_after: bool,
    body: Value,
    error: Option<String>,
}

impl Answer {
    fn ended(&self) -> Instant {
        self.started + self.took
    }
}

/// One line per answer, for failure messages.
fn brief<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> String {
    let lines = answers.into_iter().map(|a| match (a.status, &a.error) {
        (Some(status), None) => format!("\n  {}: {status} after {:.2} s: {}", a.id, a.took.as_secs_f64(), a.body),
        (_, Some(error)) => format!("\n  {}: no answer after {:.2} s: {error}", a.id, a.took.as_secs_f64()),
        (None, None) => unreachable!(),
    });
    lines.collect()
}

type Answers = Arc<Mutex<Vec<Answer>>>;

fn receipt(id: &str, card: &str) -> Value {
    json!({"receipt_id": id, "customer": {"card": card},
           "lines": [{"line": 1, "sku": "X", "qty": "1", "amount": "10.00"}]})
}

async fn post_receipt(client: &reqwest::Client, url: &str, key: &str, body: &Value) -> Answer {
    let started = Instant::now();
    let mut answer = Answer {
        id: body["receipt_id"].as_str().unwrap().to_owned(),
        started,
        took: Duration::ZERO,
        status: None,
        code: None,
        replay: false,
        retry_after: false,
        body: Value::Null,
        error: None,
    };
    match client.post(url).bearer_auth(key).json(body).send().await {
        Ok(res) => {
            answer.status = Some(res.status().as_u16());
            answer.replay = res.headers().contains_key("idempotent-replay");
            answer.retry_after = res.headers().contains_key("retry-after");
            match res.json::<Value>().await {
                Ok(v) => answer.body = v,
                Err(e) => answer.error = Some(format!("reading the body: {e}")),
            }
            answer.code = answer.body["error"]["code"].as_str().map(str::to_owned);
        }
        Err(e) => answer.error = Some(format!("{e:?}")),
    }
    answer.took = started.elapsed();
    answer
}

/// A terminal committing one receipt after another. Like a real POS it retries a receipt
/// that got no definite answer (503, or none at all) with the same id until it gets one.
async fn writer(w: usize, target: (reqwest::Client, String, String, String), stop: Arc<AtomicBool>, answers: Answers, deadline: Instant) {
    let (client, url, key, card) = target;
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let body = receipt(&format!("w{w}-{n}"), &card);
        loop {
            let answer = post_receipt(&client, &url, &key, &body).await;
            let definite = answer.status.is_some_and(|s| s != 503);
            answers.lock().unwrap().push(answer);
            if definite {
                break;
            }
            if Instant::now() > deadline {
                return; // the final checks report the receipt left without an answer
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn count(answers: &Answers, pred: impl Fn(&Answer) -> bool) -> usize {
    answers.lock().unwrap().iter().filter(|a| pred(a)).count()
}

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, Value, Duration), String> {
    let started = Instant::now();
    let res = client.get(url).send().await.map_err(|e| format!("no answer after {:?}: {e:?}", started.elapsed()))?;
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, body, started.elapsed()))
}

/// What one outage looked like.
#[derive(Debug)]
struct Outage {
    mode: &'static str,
    stop_issued: Instant,
    down: Instant,
    up: Instant,
    ready: Instant,
    readyz_probes: usize,
    readyz_slowest: Duration,
}

/// Stops PostgreSQL under load, checks the server while it is down, starts it again and
/// waits for the server to recover by itself.
async fn outage(pg: &PgCluster, mode: &'static str, client: &reqwest::Client, base: &str, answers: &Answers) -> Outage {
    let readyz = format!("{base}/readyz");
    let healthz = format!("{base}/healthz");
    let stop_issued = Instant::now();
    tokio::task::block_in_place(|| pg.stop_server(mode));
    let down = Instant::now();

    // While it is down: unready (503 `unavailable`) and alive, answering promptly; the
    // writers get 503s too (checked in detail at the end).
    let (mut readyz_probes, mut readyz_slowest) = (0, Duration::ZERO);
    loop {
        let (status, body, took) = get(client, &readyz).await.unwrap_or_else(|e| panic!("/readyz with PostgreSQL down ({mode}): {e}"));
        assert_eq!(status, 503, "/readyz with PostgreSQL down ({mode}): {body}");
        assert_eq!(body["error"]["code"], "unavailable", "/readyz with PostgreSQL down ({mode}): {body}");
        assert!(took < REFUSED_WITHIN, "/readyz took {took:?} to answer with PostgreSQL down ({mode})");
        (readyz_probes, readyz_slowest) = (readyz_probes + 1, readyz_slowest.max(took));
        let (status, body, took) = get(client, &healthz).await.unwrap_or_else(|e| panic!("/healthz with PostgreSQL down ({mode}): {e}"));
        assert_eq!(status, 200, "/healthz with PostgreSQL down ({mode}): {body}");
        assert!(took < Duration::from_secs(1), "/healthz took {took:?} with PostgreSQL down");

        let since_stop: Vec<Answer> = answers.lock().unwrap().iter().filter(|a| a.started >= stop_issued).cloned().collect();
        let hung: Vec<&Answer> = since_stop.iter().filter(|a| a.status.is_none()).collect();
        assert!(hung.is_empty(), "with PostgreSQL down ({mode}) commits got no answer within {CLIENT_TIMEOUT:?}:{}", brief(hung));
        let refused = since_stop.iter().filter(|a| a.started >= down && a.status == Some(503)).count();
        if down.elapsed() >= OUTAGE && refused >= WRITERS {
            break;
        }
        assert!(
            down.elapsed() < Duration::from_secs(20),
            "PostgreSQL has been down ({mode}) for 20 s and the writers got only {refused} answers 503; the last answers:{}",
            brief(&since_stop[since_stop.len().saturating_sub(8)..])
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    tokio::task::block_in_place(|| pg.start_server());
    let up = Instant::now();
    // The server recovers by itself: ready again, and new commits go through.
    loop {
        if let Ok((200, _, _)) = get(client, &readyz).await {
            break;
        }
        assert!(up.elapsed() < RECOVERY, "the server is still not ready {RECOVERY:?} after PostgreSQL came back ({mode})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = Instant::now();
    while count(answers, |a| a.started >= ready && a.status == Some(201) && !a.replay) < 20 {
        assert!(up.elapsed() < RECOVERY, "commits do not go through {RECOVERY:?} after PostgreSQL came back ({mode})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Outage { mode, stop_issued, down, up, ready, readyz_probes, readyz_slowest }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_makes_the_server_unready_with_503s_and_it_recovers_by_itself() {
    let test_started = Instant::now();
    let pg = PgCluster::start();
    let db = TestDb::postgres_at(pg.url());
    let dir = tempfile::tempdir().unwrap();
    let program = format!("{}/../../examples/s10-returns.toml", env!("CARGO_MANIFEST_DIR"));
    loyd(dir.path(), &db, &["apply", "-f", &program]);
    let key = last_line(&loyd(dir.path(), &db, &["terminal", "create", "--store", "riga-01", "--terminal", "pos-1"]));
    let customer = last_line(&loyd(dir.path(), &db, &["customer", "create", "--phone", "+37120000888"]));
    let card = loyd(dir.path(), &db, &["card", "issue", "--series", "LOY", "--customer", &customer]);
    let card = card.lines().nth(1).unwrap().split('\t').next().unwrap().to_owned();

    let port = free_port();
    let mut server = Server::start(dir.path(), &db, port).await;
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/v1/pos/receipts");
    let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();

    let answers: Answers = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = test_started + Duration::from_secs(55);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let target = (client.clone(), url.clone(), key.clone(), card.clone());
            tokio::spawn(writer(w, target, stop.clone(), answers.clone(), deadline))
        })
        .collect();
    while count(&answers, |a| a.status == Some(201)) < 40 {
        if Instant::now() > deadline {
            let last = answers.lock().unwrap().last().cloned();
            panic!("commits do not flow; the last answer:{}", brief(&last));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let fast = outage(&pg, "fast", &client, &base, &answers).await;
    let immediate = outage(&pg, "immediate", &client, &base, &answers).await;

    stop.store(true, Ordering::Relaxed);
    for w in writers {
        tokio::time::timeout(Duration::from_secs(15), w).await.expect("a writer does not stop").unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    let end = Instant::now();

    // What the outages looked like, for the record.
    for (o, next) in [(&fast, immediate.stop_issued), (&immediate, end)] {
        let during = |a: &&Answer| a.started >= o.stop_issued && a.started < next;
        let refused: Vec<&Answer> = answers.iter().filter(during).filter(|a| a.status == Some(503)).collect();
        let created = answers.iter().filter(during).filter(|a| a.status == Some(201)).count();
        let first_503 = refused.iter().map(|a| a.ended()).min().unwrap();
        let last_503 = refused.iter().map(|a| a.ended()).max().unwrap();
        let first_new_201 = answers.iter().filter(|a| a.started >= o.up && a.status == Some(201)).map(|a| a.ended()).min().unwrap();
        let slowest_503 = refused.iter().map(|a| a.took).max().unwrap();
        eprintln!(
            "pg_ctl stop -m {}: stopping took {}; 503s from {} to {} after the stop began ({} long), {} answers 503 \
             (slowest {}), {} answers 201 until the next phase; /readyz 503 in {} probes, slowest {}; PostgreSQL down \
             for {}; after it came back: ready in {}, first commit answered in {}",
            o.mode,
            secs(o.down - o.stop_issued),
            secs(first_503 - o.stop_issued),
            secs(last_503 - o.stop_issued),
            secs(last_503 - first_503),
            refused.len(),
            secs(slowest_503),
            created,
            o.readyz_probes,
            secs(o.readyz_slowest),
            secs(o.up - o.down),
            secs(o.ready - o.up),
            secs(first_new_201 - o.up),
        );
    }

    // Never a hang, never a 500: every attempt got 201 or 503, promptly.
    let bad: Vec<&Answer> = answers.iter().filter(|a| !matches!(a.status, Some(201 | 503)) || a.error.is_some()).collect();
    assert!(bad.is_empty(), "answers other than 201 or 503 (or none within {CLIENT_TIMEOUT:?}):{}", brief(bad));
    // Every 503 carries the one stable code, and asks to retry.
    let codes: BTreeSet<&str> = answers.iter().filter(|a| a.status == Some(503)).filter_map(|a| a.code.as_deref()).collect();
    assert_eq!(codes, BTreeSet::from(["unavailable"]), "the codes of the 503 answers");
    assert!(answers.iter().filter(|a| a.status == Some(503)).all(|a| a.retry_after), "a 503 without Retry-After");
    let slow: Vec<&Answer> = answers.iter().filter(|a| a.status == Some(503) && a.took >= REFUSED_WITHIN).collect();
    assert!(slow.is_empty(), "503s that took {REFUSED_WITHIN:?} or more:{}", brief(slow));

    // Every receipt ended answered 201, exactly once.
    let mut created: BTreeMap<&str, &Answer> = BTreeMap::new();
    for a in answers.iter().filter(|a| a.status == Some(201)) {
        assert!(created.insert(&a.id, a).is_none(), "receipt {} answered 201 twice", a.id);
    }
    let attempted: BTreeSet<&str> = answers.iter().map(|a| a.id.as_str()).collect();
    let unanswered: Vec<&&str> = attempted.iter().filter(|id| !created.contains_key(**id)).collect();
    assert!(unanswered.is_empty(), "receipts never answered 201: {unanswered:?}");
    let refused: BTreeSet<&str> = answers.iter().filter(|a| a.status == Some(503)).map(|a| a.id.as_str()).collect();
    let replayed = refused.iter().filter(|id| created[**id].replay).count();
    let total_503 = answers.iter().filter(|a| a.status == Some(503)).count();
    eprintln!(
        "{} receipts committed (answered 201); {total_503} answers 503 for {} receipts, whose retries with the same id \
         committed {} of them and replayed the original answer of {} (committed before the 503 went out)",
        created.len(),
        refused.len(),
        refused.len() - replayed,
        replayed,
    );

    // The database holds each of them exactly once, and nothing else.
    let store = db.store_of_cli(dir.path()).await;
    let committed: Vec<String> = store.receipt_ids("riga-01".into(), "pos-1".into()).await.unwrap();
    let unique: BTreeSet<&str> = committed.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), committed.len(), "a receipt is there twice");
    let answered: BTreeSet<&str> = created.keys().copied().collect();
    assert_eq!(unique, answered, "the receipts in the database differ from those answered 201");

    // Each earned its 10 points once.
    let res = client.get(format!("{base}/v1/pos/cards/{card}")).bearer_auth(&key).send().await.unwrap();
    let inquiry: Value = res.json().await.unwrap();
    assert_eq!(inquiry["balances"][0]["available"], (committed.len() * 10).to_string(), "{inquiry}");

    // Retrying a receipt that got a 503 now returns its original answer and changes nothing.
    for id in &refused {
        let again = post_receipt(&client, &url, &key, &receipt(id, &card)).await;
        assert_eq!(again.status, Some(201), "retry of {id}: {again:?}");
        assert!(again.replay, "a retry of {id} was not a replay: {again:?}");
        assert_eq!(again.body, created[*id].body, "a retry of {id} answered differently");
    }
    assert_eq!(store.receipt_ids("riga-01".into(), "pos-1".into()).await.unwrap().len(), committed.len());
    store.close().await;

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let verify = loyd(dir.path(), &db, &["ledger", "verify"]);
    assert!(verify.contains("sound"), "{verify}");
    eprintln!("the whole test took {}", secs(test_started.elapsed()));
}
