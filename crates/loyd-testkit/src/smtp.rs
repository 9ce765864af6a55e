//! A real SMTP server for the tests of e-mail: Python's aiosmtpd (Debian's
//! `python3-aiosmtpd`, which `.ci/run` installs) writing what it receives into a
//! maildir, read back as JSON by Python's e-mail parser.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// An SMTP server process writing what it receives into a maildir.
pub struct Smtp {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Child,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads a maildir's messages as JSON, decoded by Python's e-mail parser.
const READ_MAILDIR: &str = r#"
import email, email.policy, json, os, sys
out = []
for sub in ("new", "cur"):
    folder = os.path.join(sys.argv[1], sub)
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        m = email.message_from_bytes(open(os.path.join(folder, name), "rb").read(), policy=email.policy.default)
        plain, html = m.get_body(("plain",)), m.get_body(("html",))
        out.append({
            "to": str(m["to"]), "from": str(m["from"]), "subject": str(m["subject"]),
            "message_id": str(m["message-id"]), "list_unsubscribe": str(m["list-unsubscribe"]),
            "list_unsubscribe_post": str(m["list-unsubscribe-post"]),
            "text": plain.get_content() if plain else None, "html": html.get_content() if html else None,
        })
print(json.dumps(out))
"#;

/// An aiosmtpd server that wants a login: port, maildir, user, password.
const WITH_LOGIN: &str = r#"
import sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, folder, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode(), sys.argv[4].encode()
def check(server, session, envelope, mechanism, data):
    return AuthResult(success=isinstance(data, LoginPassword) and data.login == user and data.password == password, handled=False)
Controller(Mailbox(folder), hostname="127.0.0.1", port=port, authenticator=check, auth_required=True, auth_require_tls=False).start()
threading.Event().wait()
"#;

/// A Python that has aiosmtpd: the one on the path, or Debian's (python3-aiosmtpd).
fn python() -> &'static str {
    static FOUND: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    FOUND.get_or_init(|| {
        ["python3", "/usr/bin/python3"]
            .into_iter()
            .find(|p| Command::new(p).args(["-c", "import aiosmtpd"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success()))
            .expect("python3 with aiosmtpd must be installed (Debian: python3-aiosmtpd); .ci/run installs it")
    })
}

/// An aiosmtpd server behind TLS: port, maildir, mode (`starttls`: plain, upgraded
/// with STARTTLS, which it requires before any mail; `tls`: TLS from the first byte),
/// its certificate chain and key (PEM files).
const WITH_TLS: &str = r#"
import ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
port, folder, mode, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
if mode == "starttls":
    Controller(Mailbox(folder), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True).start()
else:
    Controller(Mailbox(folder), hostname="127.0.0.1", port=port, ssl_context=ctx).start()
threading.Event().wait()
"#;

/// How a test server is started.
enum Mode<'a> {
    Plain,
    Login(&'a str, &'a str),
    /// `starttls` or `tls`, with the certificate chain's and the key's files.
    Tls(&'a str, &'a std::path::Path, &'a std::path::Path),
}

/// A certificate authority of a test and a certificate it signed for 127.0.0.1 and
/// localhost, made by the `openssl` command: PEM files in a folder removed on drop.
pub struct TestCa {
    pub dir: std::path::PathBuf,
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestCa {
    pub fn new() -> TestCa {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("loyd-ca-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(&dir).output().expect("the openssl command must be installed");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        run(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Loyd test CA"]);
        run(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n").unwrap();
        run(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"]);
        TestCa { dir }
    }

    /// The authority's certificate (PEM), which a client trusts.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("ca.pem")).unwrap()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl Smtp {
    /// Starts a server on a free port. A port found free may be taken by another test
    /// before the server binds it (the server then exits): it is tried again on another,
    /// and a server counts as started only once the port's listening socket is its own.
    pub async fn start() -> Smtp {
        Smtp::spawn(Mode::Plain).await
    }

    /// As [`Smtp::start`], a server behind TLS with the certificate `ca` signed:
    /// `starttls` (it refuses mail until the client has upgraded the connection) or
    /// `tls` (TLS from the first byte).
    pub async fn start_with_tls(mode: &str, ca: &TestCa) -> Smtp {
        Smtp::spawn(Mode::Tls(mode, &ca.dir.join("server.pem"), &ca.dir.join("server.key"))).await
    }

    /// As [`Smtp::start`], a server that takes mail only after `AUTH` (PLAIN or LOGIN,
    /// over the plain connection) as `user` with `password`, and refuses others (535).
    pub async fn start_with_login(user: &str, password: &str) -> Smtp {
        Smtp::spawn(Mode::Login(user, password)).await
    }

    async fn spawn(mode: Mode<'_>) -> Smtp {
        for _ in 0..10 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let dir = std::env::temp_dir().join(format!("loyd-smtp-{}-{port}", std::process::id()));
            let mut command = Command::new(python());
            match mode {
                Mode::Plain => command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"]).arg(&dir),
                Mode::Login(user, password) => command.args(["-c", WITH_LOGIN, &port.to_string()]).arg(&dir).args([user, password]),
                Mode::Tls(how, cert, key) => command.args(["-c", WITH_TLS, &port.to_string()]).arg(&dir).arg(how).arg(cert).arg(key),
            };
            let child = command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 with aiosmtpd must be installed (Debian: python3-aiosmtpd); .ci/run installs it");
            let mut smtp = Smtp { port, dir, child };
            for _ in 0..100 {
                if smtp.child.try_wait().ok().flatten().is_some() {
                    break; // it could not listen there
                }
                if listens(smtp.child.id(), port) {
                    return smtp;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("the SMTP server did not start");
    }

    /// The messages received so far.
    pub fn received(&self) -> Vec<Value> {
        let out = Command::new(python()).args(["-c", READ_MAILDIR]).arg(&self.dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }
}

/// Reads a maildir's messages' recipients and Message-IDs only (fast for thousands).
const READ_HEADERS: &str = r#"
import email.parser, json, os, sys
parser, out = email.parser.BytesHeaderParser(), []
for sub in ("new", "cur"):
    folder = os.path.join(sys.argv[1], sub)
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name), "rb") as f:
            m = parser.parse(f)
        out.append([str(m["to"]), str(m["message-id"])])
print(json.dumps(out))
"#;

impl Smtp {
    /// The recipient and Message-ID of each message received so far.
    pub fn recipients(&self) -> Vec<(String, String)> {
        let out = Command::new(python()).args(["-c", READ_HEADERS]).arg(&self.dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// How many messages have arrived so far (without reading them).
    pub fn count(&self) -> usize {
        ["new", "cur"].iter().map(|sub| std::fs::read_dir(self.dir.join(sub)).map(|d| d.count()).unwrap_or(0)).sum()
    }
}

/// Whether process `pid` has a socket listening on 127.0.0.1:`port` (read from
/// `/proc`: the listening socket's inode among the process's descriptors).
fn listens(pid: u32, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else { return false };
    // local address 0100007F:PORT, state 0A (LISTEN), inode in the tenth column.
    let wanted = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 9 && f[1] == wanted && f[3] == "0A")
        .map(|f| format!("socket:[{}]", f[9]))
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.filter_map(Result::ok).filter_map(|e| std::fs::read_link(e.path()).ok()).any(|link| inodes.iter().any(|i| link.to_str() == Some(i)))
}
