//! The `loyd` binary as an operator uses it: real processes, real databases.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use loyd_store::Store;
use loyd_testkit::{TestDb, both_backends};

fn loyd(dir: &Path, db: Option<&TestDb>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyd"));
    cmd.current_dir(dir).args(args).env_remove("LOYD_DATABASE_URL").env_remove("LOYD_CONFIG");
    if let Some(db) = db {
        cmd.env("LOYD_DATABASE_URL", db.url_string());
    }
    cmd.output().expect("run loyd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `loyd serve`, waits until it is ready, sends SIGTERM, and checks that it
/// stops cleanly.
async fn serve_until_ready_then_terminate(dir: &Path, db: Option<&TestDb>) -> String {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loyd"));
    cmd.current_dir(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log-format", "json"])
        .env_remove("LOYD_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(db) = db {
        cmd.env("LOYD_DATABASE_URL", db.url_string());
    }
    let child = cmd.spawn().unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        if let Ok(res) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await {
            break res.json::<serde_json::Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "loyd serve did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "serve exited with {:?}: {}", out.status, stderr(&out));
    let logs = stderr(&out);
    assert!(logs.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "json logs: {logs}");
    assert!(logs.contains("stopped"), "{logs}");
    ready["database"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn serve_comes_up_on_an_embedded_sqlite_file_by_default() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(serve_until_ready_then_terminate(dir.path(), None).await, "sqlite");
    assert!(dir.path().join("loyd-data/loyd.db").exists());
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_loyd"))
        .current_dir(dir.path())
        .args(["migrate", "--database-url", "mysql://localhost/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unsupported database URL scheme"), "{}", stderr(&out));
}

#[test]
fn apply_reports_where_a_file_is_wrong_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[[stores]]\nid = \"a\"\nnmae = \"typo\"\n").unwrap();
    let out = loyd(dir.path(), None, &["apply", "-f", "bad.toml"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.toml:3:1: stores[0].nmae: unknown field `nmae`"), "{err}");
    std::fs::write(dir.path().join("dup.toml"), "[[stores]]\nid = \"a\"\nname = \"A\"\n[[stores]]\nid = \"a\"\nname = \"B\"\n").unwrap();
    let out = loyd(dir.path(), None, &["apply", "-f", "dup.toml"]);
    assert!(stderr(&out).contains("stores[1]: store 'a' is defined twice"), "{}", stderr(&out));
    let out = loyd(dir.path(), None, &["store", "list"]);
    assert_eq!(stdout(&out), "");
}

both_backends! {
    async fn serve_comes_up_on_the_configured_database_and_stops_on_sigterm(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let backend = db.backend();
        assert_eq!(serve_until_ready_then_terminate(dir.path(), Some(&db)).await, backend);
    }

    async fn terminal_create_prints_the_key_alone_on_its_last_line(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let out = loyd(dir.path(), Some(&db), &["store", "create", "riga-01", "--name", "Riga", "--timezone", "Europe/Riga"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = loyd(dir.path(), Some(&db), &["terminal", "create", "--store", "riga-01", "--terminal", "pos-1"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let key = text.lines().last().unwrap();
        assert!(key.len() == 68 && key.starts_with("lyt_") && key[4..].bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        let again = loyd(dir.path(), Some(&db), &["terminal", "create", "--store", "riga-01", "--terminal", "pos-1"]);
        assert!(!again.status.success());
        assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
        let rotated = loyd(dir.path(), Some(&db), &["terminal", "rotate-key", "--store", "riga-01", "--terminal", "pos-1"]);
        let new_key = stdout(&rotated).lines().last().unwrap().to_owned();
        assert!(new_key.starts_with("lyt_") && new_key != key);
        let unknown = loyd(dir.path(), Some(&db), &["terminal", "create", "--store", "nope", "--terminal", "pos-1"]);
        assert!(stderr(&unknown).contains("store 'nope' does not exist"), "{}", stderr(&unknown));
    }

    async fn apply_is_idempotent_and_a_dry_run_changes_nothing(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("loyd.toml");
        std::fs::write(
            &file,
            "[[currencies]]\ncode = \"EUR\"\nkind = \"money\"\nscale = 2\n\n\
             [[stores]]\nid = \"riga-01\"\nname = \"Riga\"\nformat = \"supermarket\"\ntimezone = \"Europe/Riga\"\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let dry = loyd(dir.path(), Some(&db), &["apply", "-f", f, "--dry-run"]);
        assert!(stdout(&dry).contains("2 change(s) planned"), "{}{}", stdout(&dry), stderr(&dry));
        let list = loyd(dir.path(), Some(&db), &["store", "list"]);
        assert_eq!(stdout(&list), "");
        let first = loyd(dir.path(), Some(&db), &["apply", "-f", f]);
        assert!(stdout(&first).contains("configuration version 1"), "{}{}", stdout(&first), stderr(&first));
        let second = loyd(dir.path(), Some(&db), &["apply", "-f", f]);
        assert!(stdout(&second).contains("no changes"), "{}", stdout(&second));
        let list = loyd(dir.path(), Some(&db), &["store", "list"]);
        assert_eq!(stdout(&list), "riga-01\tRiga\tsupermarket\tEurope/Riga\n");
    }

    async fn config_lists_diffs_rolls_back_and_exports_what_apply_reproduces(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let program = format!("{}/../../examples/offers.toml", env!("CARGO_MANIFEST_DIR"));
        assert!(loyd(dir.path(), Some(&db), &["apply", "-f", &program]).status.success());
        std::fs::write(dir.path().join("change.toml"), "[[campaigns]]\nid = \"cabinets\"\nmax_discount = \"150.00\"\n\
            [[campaigns.rewards]]\ntype = \"discount\"\npercent = \"20\"\ngroups = [\"cabinets\"]\n").unwrap();
        assert!(loyd(dir.path(), Some(&db), &["apply", "-f", "change.toml"]).status.success());
        let versions = stdout(&loyd(dir.path(), Some(&db), &["config", "versions"]));
        let rows: Vec<&str> = versions.lines().skip(1).collect();
        assert!(rows[0].trim_start().starts_with('2') && rows[0].ends_with("change.toml"), "{versions}");
        assert!(rows[1].trim_start().starts_with('1'), "{versions}");
        let diff = stdout(&loyd(dir.path(), Some(&db), &["config", "diff", "1"]));
        assert!(diff.contains("~ update campaign cabinets:") && diff.contains("max_discount: \"200.00\" -> \"150.00\""), "{diff}");
        assert!(diff.contains("1 change(s) from version 1 to version 2"), "{diff}");

        let dry = loyd(dir.path(), Some(&db), &["config", "rollback", "1", "--dry-run"]);
        assert!(stdout(&dry).contains("dry run: 1 change(s) planned"), "{}{}", stdout(&dry), stderr(&dry));
        let rolled = loyd(dir.path(), Some(&db), &["config", "rollback", "1"]);
        assert!(stdout(&rolled).contains("as configuration version 3"), "{}{}", stdout(&rolled), stderr(&rolled));
        assert!(stdout(&loyd(dir.path(), Some(&db), &["config", "diff", "1", "3"])).contains("0 change(s)"));

        let out = loyd(dir.path(), Some(&db), &["config", "export", "-o", "exported.toml"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let again = loyd(dir.path(), Some(&db), &["apply", "--prune", "-f", "exported.toml"]);
        assert!(stdout(&again).contains("no changes"), "{}{}", stdout(&again), stderr(&again));
        let shown = stdout(&loyd(dir.path(), Some(&db), &["config", "show", "2"]));
        assert!(shown.contains("max_discount = \"150.00\""), "{shown}");

        // Pruning to a file without the store: refused, the terminal is history.
        assert!(loyd(dir.path(), Some(&db), &["terminal", "create", "--store", "riga-01", "--terminal", "pos-1"]).status.success());
        std::fs::write(dir.path().join("only-money.toml"), "[[currencies]]\ncode = \"EUR\"\nkind = \"money\"\nscale = 2\n").unwrap();
        let out = loyd(dir.path(), Some(&db), &["apply", "--prune", "--dry-run", "-f", "only-money.toml"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("store 'riga-01': cannot be removed: it has 1 terminal(s) and 0 receipt(s)"), "{}", stderr(&out));
    }

    async fn simulate_reports_a_proposed_change_and_refuses_a_broken_one(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let program = format!("{}/../../examples/s10-returns.toml", env!("CARGO_MANIFEST_DIR"));
        assert!(loyd(dir.path(), Some(&db), &["apply", "-f", &program]).status.success());
        std::fs::write(dir.path().join("change.toml"),
            "[[campaigns]]\nid = \"dairy-10\"\n\n[[campaigns.rewards]]\ntype = \"discount\"\npercent = \"10\"\ngroups = [\"dairy\"]\n").unwrap();
        let out = loyd(dir.path(), Some(&db), &["simulate", "-f", "change.toml", "--from", "2026-11-01", "--to", "2026-11-30"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("receipts changed: 0") && text.contains("discounts"), "{text}");
        std::fs::write(dir.path().join("bad.toml"), "[[campaigns]]\nid = \"x\"\ncondition = \"receipt.total_minor >\"\n").unwrap();
        let out = loyd(dir.path(), Some(&db), &["simulate", "-f", "bad.toml", "--from", "2026-11-01", "--to", "2026-11-30"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("campaigns[0].condition"), "{}", stderr(&out));
    }

    async fn customers_get_profile_fields_that_can_be_changed_and_removed(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let out = loyd(dir.path(), Some(&db), &["customer", "create", "--phone", "+37120000888", "--profile", "city=Riga", "--profile", "pet=cat"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let id = stdout(&out).trim().to_owned();
        let out = loyd(dir.path(), Some(&db), &["customer", "update", &id, "--profile", "city=Tartu", "--profile", "pet="]);
        assert_eq!(stdout(&out), format!("{id}\tcity=Tartu\n"), "{}", stderr(&out));
        let show = stdout(&loyd(dir.path(), Some(&db), &["customer", "show", &id]));
        assert!(show.contains("profile.city\tTartu") && !show.contains("pet"), "{show}");
        let bad = loyd(dir.path(), Some(&db), &["customer", "update", &id, "--profile", "email=a@b.c"]);
        assert!(!bad.status.success() && stderr(&bad).contains("email"), "{}", stderr(&bad));
    }

    async fn ledger_verify_reports_a_sound_ledger(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let out = loyd(dir.path(), Some(&db), &["ledger", "verify"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("sound"));
    }
}

both_backends! {
    async fn customers_import_from_csv_keeping_good_rows_and_naming_bad_lines_then_export(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/s10-returns.toml");
        assert!(loyd(dir.path(), Some(&db), &["apply", "-f", program.to_str().unwrap()]).status.success());
        let csv = "phone,email,name,birth_date,cards,consent_sms,city\n\
                   +37120000501,a@example.lv,Anna Ozola,1990-01-02,2770000000501,yes,Riga\n\
                   +37120000502,b@example.lv,\"Bērziņš, Jānis\",,,no,Tartu\n\
                   not-a-phone,c@example.lv,Carl,,,,\n\
                   +37120000504,a@example.lv,Dup Email,,,,\n\
                   +37120000505,,Eve,1990-02-31,,,\n\
                   +37120000506,,Too,Many,Fields,x,y,z\n\
                   +37120000507,,Grete,,,maybe,\n\
                   +37120000508,,Hugo,,2770000000501,,\n\
                   +37120000509,,Ines,,,,Valmiera\n";
        std::fs::write(dir.path().join("in.csv"), csv).unwrap();
        let out = loyd(dir.path(), Some(&db), &["customer", "import", "in.csv", "--card-series", "LOY", "--errors", "refused.csv", "--quiet", "--batch", "3"]);
        assert_eq!(out.status.code(), Some(2), "some rows were refused: {}", stderr(&out));
        assert!(stderr(&out).contains("imported 3 customers, refused 6 rows"), "{}", stderr(&out));
        let refused = std::fs::read_to_string(dir.path().join("refused.csv")).unwrap();
        let mut lines: Vec<&str> = refused.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
        lines.sort();
        assert_eq!(lines, ["4", "5", "6", "7", "8", "9"], "{refused}");
        assert!(refused.contains("phone must be international"), "{refused}");
        assert!(refused.contains("already exists"), "{refused}");

        let found = loyd(dir.path(), Some(&db), &["customer", "find", "--card", "2770000000501"]);
        assert!(stdout(&found).contains("+37120000501\ta@example.lv\tAnna Ozola"), "{}", stdout(&found));
        let out = loyd(dir.path(), Some(&db), &["customer", "export", "-o", "out.csv", "--quiet"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let exported = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
        let mut rows = exported.lines();
        assert_eq!(
            rows.next().unwrap(),
            "id,phone,email,name,birth_date,cards,opted_out,consent_sms,consent_email,consent_push,consent_phone,consent_post,consent_telegram,consent_viber,consent_whatsapp,city"
        );
        assert_eq!(rows.next().unwrap(), "c_1,+37120000501,a@example.lv,Anna Ozola,1990-01-02,2770000000501,,yes,,,,,,,,Riga");
        assert_eq!(rows.next().unwrap(), "c_2,+37120000502,b@example.lv,\"Bērziņš, Jānis\",,,,no,,,,,,,,Tartu");
        assert_eq!(rows.count(), 1);
        // The export imports back (into a fresh database) unchanged.
        let other = TestDb::sqlite().await;
        assert!(loyd(dir.path(), Some(&other), &["apply", "-f", program.to_str().unwrap()]).status.success());
        let back = loyd(dir.path(), Some(&other), &["customer", "import", "out.csv", "--card-series", "LOY", "--quiet"]);
        assert!(back.status.success(), "{}", stderr(&back));
        let again = loyd(dir.path(), Some(&other), &["customer", "export", "--quiet"]);
        let without_ids = |text: &str| text.lines().map(|l| l.split_once(',').unwrap().1.to_owned()).collect::<Vec<_>>();
        assert_eq!(without_ids(&stdout(&again)), without_ids(&exported));
    }

    async fn the_first_admin_is_created_from_the_cli_and_logs_in(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let out = loyd(dir.path(), Some(&db), &["user", "create", "root", "--role", "admin"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let password = stdout(&out).lines().last().unwrap().to_owned();
        assert!(password.len() >= 20);
        let bad = loyd(dir.path(), Some(&db), &["user", "create", "mgr", "--role", "store_manager"]);
        assert!(!bad.status.success() && stderr(&bad).contains("at least one store"), "{}", stderr(&bad));
        let store = Store::open(&db.url, loyd_store::StoreOptions::default(), std::sync::Arc::new(loyd_store::SystemClock)).await.unwrap();
        let session = store.login("root".into(), password, jiff::SignedDuration::from_hours(1)).await.unwrap();
        assert!(session.is_ok());
        let audit = loyd(dir.path(), Some(&db), &["audit", "--object-kind", "user"]);
        assert!(stdout(&audit).contains("user.create"), "{}", stdout(&audit));
        // Where tasks due to them are mailed: set, refused when not an address, removed.
        let mailed = loyd(dir.path(), Some(&db), &["user", "update", "root", "--email", "Root@Shop.Example"]);
        assert!(mailed.status.success(), "{}", stderr(&mailed));
        let email = || async { store.users().await.unwrap().into_iter().find(|u| u.login == "root").unwrap().email };
        assert_eq!(email().await.as_deref(), Some("root@shop.example"));
        let bad = loyd(dir.path(), Some(&db), &["user", "update", "root", "--email", "root"]);
        assert!(!bad.status.success() && stderr(&bad).contains("not an e-mail address"), "{}", stderr(&bad));
        assert!(loyd(dir.path(), Some(&db), &["user", "update", "root", "--email", ""]).status.success());
        assert_eq!(email().await, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_reseals_personal_data_under_a_new_key_and_retires_the_old_one() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let created = loyd(dir.path(), Some(&db), &["customer", "create", "--phone", "+37120000601", "--name", "Rūta Liepa"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let keyring = dir.path().join("loyd-data/pii.keys");
    assert_eq!(std::fs::read_to_string(&keyring).unwrap().lines().filter(|l| l.starts_with("k1 ")).count(), 1);

    let rotated = loyd(dir.path(), Some(&db), &["keys", "rotate", "--retire"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(stdout(&rotated).contains("re-sealed under k2: 1 customers"), "{}", stdout(&rotated));
    assert!(stdout(&rotated).contains("retired keys k1"), "{}", stdout(&rotated));
    let ring = std::fs::read_to_string(&keyring).unwrap();
    assert!(ring.contains("\nk2 ") && !ring.contains("\nk1 "), "{ring}");

    let listed = loyd(dir.path(), Some(&db), &["keys", "list"]);
    assert_eq!(stdout(&listed).trim(), "k2\tin use (seals new data)");
    let shown = loyd(dir.path(), Some(&db), &["customer", "show", "c_1"]);
    assert!(stdout(&shown).contains("Rūta Liepa"), "{}", stdout(&shown));
    let audit = loyd(dir.path(), Some(&db), &["audit", "--object-kind", "keyring"]);
    assert!(stdout(&audit).contains("keys.rotate"), "{}", stdout(&audit));
}
