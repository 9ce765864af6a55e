//! What the real-process tests share: running the `loyd` CLI against a test database.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loyd_testkit::TestDb;

/// Runs `loyd ARGS` in `dir` against `db`; fails the test unless it succeeds.
pub fn loyd(dir: &Path, db: &TestDb, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_loyd"))
        .current_dir(dir)
        .args(args)
        .env("LOYD_DATABASE_URL", db.url_string())
        .env_remove("LOYD_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "loyd {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[allow(dead_code)] // not every test binary reads a last line
pub fn last_line(s: &str) -> String {
    s.lines().last().unwrap().trim().to_owned()
}

/// Starts `loyd serve` in `dir` against `db` on `port`, with `env` set and its log
/// written to `log` (or dropped), and waits until it is ready.
#[allow(dead_code)] // not every test binary serves
pub async fn serve(dir: &Path, db: &TestDb, port: u16, env: &[(&str, &str)], log: Option<&Path>) -> Child {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    };
    let child = Command::new(env!("CARGO_BIN_EXE_loyd"))
        .current_dir(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("LOYD_DATABASE_URL", db.url_string())
        .env_remove("LOYD_CONFIG")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}
