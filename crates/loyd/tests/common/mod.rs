//! What the real-process tests share: running the `loyd` CLI against a test database.

use std::path::Path;
use std::process::Command;

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

pub fn last_line(s: &str) -> String {
    s.lines().last().unwrap().trim().to_owned()
}
