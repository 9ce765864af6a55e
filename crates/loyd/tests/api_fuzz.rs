//! The API fuzzed from its own OpenAPI document by schemathesis (from PyPI), against a
//! real `loyd serve` on both backends: the POS routes with a terminal key, the admin and
//! auth routes with an admin key. The build fails on any 5xx, any status the document
//! does not list, and any answer that does not match its schema. Afterwards the ledger
//! must still be sound.
//!
//! Bounded: a fixed number of cases per operation and a fixed seed, so a run takes a
//! few minutes and a failure can be replayed. Schemathesis is installed into the
//! target directory on first use (or taken from `LOYD_SCHEMATHESIS`); without Python or
//! PyPI the test fails rather than skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use loyd_testkit::both_backends;
use serde_json::{Value, json};

mod common;
use common::{last_line, loyd, serve};

/// The version the document is fuzzed with; a new one is a deliberate change.
const SCHEMATHESIS: &str = "4.32.5";
/// Cases per operation and phase.
const CASES: &str = "25";
const SEED: &str = "20261204";

/// The `st` command: `LOYD_SCHEMATHESIS`, or a virtual environment in the target
/// directory, made once under a file lock (both backends' tests share it); a `complete`
/// marker tells a finished install from one that was interrupted.
fn schemathesis() -> PathBuf {
    static ST: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ST.get_or_init(|| {
        if let Ok(st) = std::env::var("LOYD_SCHEMATHESIS") {
            return PathBuf::from(st);
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{SCHEMATHESIS}"));
        let complete = venv.join("complete");
        // Test runners may start both backends' tests as processes at once: one installs.
        let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
        lock.lock().unwrap();
        if !complete.exists() {
            let _ = std::fs::remove_dir_all(&venv);
            let run = |cmd: &mut Command, what: &str| {
                let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}; the API fuzzer needs Python 3 with venv and pip"));
                assert!(out.status.success(), "{what} failed; the API fuzzer needs it:\n{}", String::from_utf8_lossy(&out.stderr));
            };
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv");
            run(Command::new(venv.join("bin/pip")).args(["install", "-q", &format!("schemathesis=={SCHEMATHESIS}")]), "pip install schemathesis");
            std::fs::write(&complete, SCHEMATHESIS).unwrap();
        }
        drop(lock);
        venv.join("bin/st")
    })
    .clone()
}

/// Runs schemathesis on the operations matching `paths` with `token`; panics with its
/// report unless it found nothing. One worker: with several threads Hypothesis 6 at
/// times trips over its own caches and reports an error of its own.
fn fuzz(st: &Path, dir: &Path, base: &str, token: &str, paths: &str, label: &str) {
    let out = Command::new(st)
        .current_dir(dir)
        .args(["--no-color", "run", &format!("{base}/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--include-path-regex", paths])
        // Revoking API keys would revoke the fuzzer's own and end the run's reach;
        // the HTTP tests cover it.
        .args(["--exclude-path-regex", "api-keys/.+/revoke"])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["--max-examples", CASES, "--seed", SEED, "--workers", "1", "--request-timeout", "30"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .output()
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the fuzzer found problems in the {label} routes:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{label}: {}", report.lines().rev().find(|l| l.contains("generated")).unwrap_or_default().trim());
}

both_backends! {
    async fn the_fuzzer_finds_no_server_error_and_no_answer_outside_the_document(db: TestDb) {
        let st = schemathesis();
        let dir = tempfile::tempdir().unwrap();
        let program = format!("{}/../../examples/every-card-kind.toml", env!("CARGO_MANIFEST_DIR"));
        loyd(dir.path(), &db, &["apply", "-f", &program]);
        let key = last_line(&loyd(dir.path(), &db, &["terminal", "create", "--store", "riga-01", "--terminal", "pos-1"]));
        let admin = last_line(&loyd(dir.path(), &db, &["api-key", "create", "--name", "fuzz", "--role", "admin"]));
        let customer = last_line(&loyd(dir.path(), &db, &["customer", "create", "--phone", "+37120000123"]));
        let first = |out: String| out.lines().nth(1).unwrap().split('\t').next().unwrap().to_owned();
        let card = first(loyd(dir.path(), &db, &["card", "issue", "--series", "LOY", "--customer", &customer]));
        let gift = first(loyd(dir.path(), &db, &["card", "issue", "--series", "GC"]));
        let pass = first(loyd(dir.path(), &db, &["card", "issue", "--series", "GYM", "--customer", &customer]));

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("serve.log");
        let mut server = serve(dir.path(), &db, port, &[("LOYD_LOG", "warn")], Some(&log)).await;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let receipt = json!({"receipt_id": "r-1", "customer": {"card": card}, "lines": [{"line": 1, "sku": "MILK", "qty": "1", "amount": "10.00"}]});
        let res = client.post(format!("{base}/v1/pos/receipts")).bearer_auth(&key).json(&receipt).send().await.unwrap();
        assert_eq!(res.status(), 201);

        // Real ids for path parameters half of the time, so cases reach past "not found".
        let config = format!(
            "[dictionaries]\n\
             cards = {{ values = [\"{card}\", \"{gift}\", \"{pass}\"] }}\n\
             customers = {{ values = [\"{customer}\"] }}\n\
             receipts = {{ values = [\"r-1\"] }}\n\
             [parameters]\n\
             \"path.number\" = {{ dictionary = \"cards\", probability = 0.5 }}\n\
             \"path.id\" = {{ dictionary = \"customers\", probability = 0.5 }}\n\
             \"path.receipt_id\" = {{ dictionary = \"receipts\", probability = 0.5 }}\n\
             [generation]\n\
             allow-x00 = true\n"
        );
        std::fs::write(dir.path().join("schemathesis.toml"), config).unwrap();
        let (st_, dir_, base_, key_, admin_) = (st.clone(), dir.path().to_owned(), base.clone(), key.clone(), admin.clone());
        tokio::task::spawn_blocking(move || {
            fuzz(&st_, &dir_, &base_, &key_, "^/v1/pos/", "POS");
            fuzz(&st_, &dir_, &base_, &admin_, "^/(v1/admin|v1/auth|healthz|readyz)", "admin");
        })
        .await
        .unwrap_or_else(|e| {
            let _ = server.kill();
            std::panic::resume_unwind(e.into_panic())
        });

        // The fuzzer may have revoked its own key (it is one of the API keys it lists): the
        // ledger is read with a key made after it.
        let checker = last_line(&loyd(dir.path(), &db, &["api-key", "create", "--name", "ledger-check-after-fuzzing", "--role", "auditor"]));
        let audit: Value = client.get(format!("{base}/v1/admin/ledger/audit")).bearer_auth(&checker).send().await.unwrap().json().await.unwrap();
        server.kill().unwrap();
        server.wait().unwrap();
        let sound = audit["problems"].as_array().is_some_and(|p| p.is_empty())
            && audit["assets"].as_array().is_some_and(|a| a.iter().all(|x| x["sum"] == 0));
        assert!(sound, "the ledger after fuzzing: {audit}");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains("panicked"), "the server panicked:\n{text}");
    }
}
