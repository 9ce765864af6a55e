//! Resolved settings: defaults, then the TOML file, then environment and flags (which
//! clap has already merged, flags first).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use loyd_store::DatabaseUrl;
use loyd_store::crypto::Keyring;
use serde::Deserialize;

use crate::cli::{GlobalArgs, LogFormat, ServeArgs};

/// The configuration file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub db_max_connections: Option<u32>,
    pub listen: Option<SocketAddr>,
    pub request_timeout_secs: Option<u64>,
    pub body_limit_bytes: Option<usize>,
    pub jobs_interval_secs: Option<u64>,
    pub deliver_interval_ms: Option<u64>,
    pub public_url: Option<String>,
    pub trust_forwarded_for: Option<bool>,
    pub reports_database_url: Option<String>,
    pub secret_key: Option<String>,
    pub secret_key_file: Option<std::path::PathBuf>,
    pub keyring: Option<String>,
    pub keyring_file: Option<std::path::PathBuf>,
}

impl FileSettings {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in configuration file {}", path.display()))
    }
}

#[derive(Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub log_format: LogFormat,
    pub log_level: String,
    pub db_max_connections: u32,
    /// The key itself (hex), if given directly.
    pub secret_key: Option<String>,
    pub secret_key_file: std::path::PathBuf,
    /// The keyring itself (`ID HEX` entries separated by newlines or `;`), if given directly.
    pub keyring: Option<String>,
    pub keyring_file: std::path::PathBuf,
}

impl Settings {
    pub fn resolve(args: &GlobalArgs, file: &FileSettings) -> anyhow::Result<Self> {
        let database_url = match args.database_url.as_ref().or(file.database_url.as_ref()) {
            Some(url) => DatabaseUrl::parse(url).context("in the database URL")?,
            None => DatabaseUrl::default_sqlite(),
        };
        Ok(Settings {
            database_url,
            log_format: args.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            log_level: args.log_level.clone().or_else(|| file.log_level.clone()).unwrap_or_else(|| "info".into()),
            db_max_connections: args.db_max_connections.or(file.db_max_connections).unwrap_or(16),
            secret_key: args.secret_key.clone().or_else(|| file.secret_key.clone()),
            secret_key_file: args
                .secret_key_file
                .clone()
                .or_else(|| file.secret_key_file.clone())
                .unwrap_or_else(|| "./loyd-data/secret.key".into()),
            keyring: args.keyring.clone().or_else(|| file.keyring.clone()),
            keyring_file: args.keyring_file.clone().or_else(|| file.keyring_file.clone()).unwrap_or_else(|| "./loyd-data/pii.keys".into()),
        })
    }

    /// The data keys that seal personal data: given directly, read from the keyring
    /// file, or — on first start — a new keyring file with one random key.
    pub fn load_keyring(&self, secret: &[u8]) -> anyhow::Result<Keyring> {
        if let Some(text) = &self.keyring {
            return Keyring::parse(&text.replace(';', "\n"), secret).context("in the keyring (LOYD_KEYRING)");
        }
        let path = &self.keyring_file;
        match std::fs::read_to_string(path) {
            Ok(text) => Keyring::parse(&text, secret).with_context(|| format!("in the keyring file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::fill(&mut key);
                let line = format!("k1 {}", key.iter().map(|b| format!("{b:02x}")).collect::<String>());
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                }
                let text = format!("# Loyd data keys: personal data is sealed with the last one. Keep this file safe and\n# identical on every server; `loyd keys rotate` adds keys.\n{line}");
                write_private(path, &text).with_context(|| format!("writing the keyring to {}", path.display()))?;
                tracing::warn!(path = %path.display(), "generated a new keyring; back it up: without it personal data cannot be read");
                Keyring::parse(&text, secret).context("the new keyring")
            }
            Err(e) => Err(e).with_context(|| format!("reading the keyring file {}", path.display())),
        }
    }

    /// The secret key: given directly, read from its file, or — on first start —
    /// generated into its file (readable by its owner only).
    pub fn load_secret(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(hex) = &self.secret_key {
            return decode_key(hex).context("in the secret key (LOYD_SECRET_KEY)");
        }
        let path = &self.secret_key_file;
        match std::fs::read_to_string(path) {
            Ok(text) => decode_key(text.trim()).with_context(|| format!("in the secret key file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::fill(&mut key);
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                }
                write_private(path, &hex).with_context(|| format!("writing the secret key to {}", path.display()))?;
                tracing::warn!(path = %path.display(), "generated a new secret key; keep it safe and give every server of this deployment the same key");
                Ok(key.to_vec())
            }
            Err(e) => Err(e).with_context(|| format!("reading the secret key file {}", path.display())),
        }
    }
}

fn decode_key(hex: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(hex.len() >= 64 && hex.len().is_multiple_of(2), "a secret key is at least 64 hex digits");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).context("a secret key is hex digits"))
        .collect()
}

pub(crate) fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

pub struct ServeSettings {
    pub listen: SocketAddr,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    /// `None`: scheduled jobs are off.
    pub jobs_interval: Option<Duration>,
    /// `None`: events are not sent.
    pub deliver_interval: Option<Duration>,
    /// Where customers reach this server (links in messages).
    pub public_url: String,
    /// Whether `X-Forwarded-For` names the client (behind the operator's proxy).
    pub trust_forwarded_for: bool,
    /// A read-only replica reports read from; `None`: the database itself.
    pub reports_database_url: Option<DatabaseUrl>,
}

impl ServeSettings {
    pub fn resolve(args: &ServeArgs, file: &FileSettings) -> anyhow::Result<Self> {
        let jobs = args.jobs_interval_secs.or(file.jobs_interval_secs).unwrap_or(30);
        let deliver = args.deliver_interval_ms.or(file.deliver_interval_ms).unwrap_or(1000);
        let reports = args.reports_database_url.as_ref().or(file.reports_database_url.as_ref());
        let reports_database_url = reports.map(|u| DatabaseUrl::parse(u).context("reports_database_url")).transpose()?;
        let listen = args.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        Ok(ServeSettings {
            listen,
            request_timeout: Duration::from_secs(args.request_timeout_secs.or(file.request_timeout_secs).unwrap_or(10)),
            body_limit_bytes: args.body_limit_bytes.or(file.body_limit_bytes).unwrap_or(1024 * 1024),
            jobs_interval: (jobs > 0).then(|| Duration::from_secs(jobs)),
            deliver_interval: (deliver > 0).then(|| Duration::from_millis(deliver)),
            public_url: args.public_url.clone().or_else(|| file.public_url.clone()).unwrap_or_else(|| format!("http://{listen}")),
            trust_forwarded_for: args.trust_forwarded_for.or(file.trust_forwarded_for).unwrap_or(false),
            reports_database_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_environment_win_over_the_file_and_the_file_over_defaults() {
        let file: FileSettings =
            toml::from_str("database_url = \"postgres://u:pw@h/db\"\nlog_level = \"debug\"\nlisten = \"0.0.0.0:9000\"").unwrap();
        let none = GlobalArgs::default();
        let s = Settings::resolve(&none, &file).unwrap();
        assert_eq!(s.database_url, DatabaseUrl::Postgres("postgres://u:pw@h/db".into()));
        assert_eq!(s.log_level, "debug");
        let flags = GlobalArgs { database_url: Some("sqlite://x.db".into()), ..GlobalArgs::default() };
        assert_eq!(Settings::resolve(&flags, &file).unwrap().database_url, DatabaseUrl::Sqlite("x.db".into()));
        let serve = ServeSettings::resolve(&ServeArgs::default(), &file).unwrap();
        assert_eq!(serve.listen.port(), 9000);
        assert_eq!(serve.request_timeout, Duration::from_secs(10));
        let defaults = Settings::resolve(&none, &FileSettings::default()).unwrap();
        assert_eq!(defaults.database_url, DatabaseUrl::default_sqlite());
    }

    #[test]
    fn a_missing_secret_key_file_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = FileSettings { secret_key_file: Some(dir.path().join("k/secret.key")), ..FileSettings::default() };
        let s = Settings::resolve(&GlobalArgs::default(), &file).unwrap();
        let first = s.load_secret().unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(s.load_secret().unwrap(), first);
        let bad = Settings { secret_key: Some("xyz".into()), ..s };
        assert!(bad.load_secret().is_err());
    }

    #[test]
    fn a_missing_keyring_file_is_created_once_with_one_key_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = FileSettings { keyring_file: Some(dir.path().join("pii.keys")), ..FileSettings::default() };
        let s = Settings::resolve(&GlobalArgs::default(), &file).unwrap();
        let first = s.load_keyring(b"secret").unwrap();
        assert_eq!(first.key_ids(), vec!["k1"]);
        let sealed = first.seal("customer", "Anna");
        assert_eq!(s.load_keyring(b"secret").unwrap().open("customer", &sealed).unwrap(), "Anna");
        let direct = Settings { keyring: Some(format!("k7 {}", "ab".repeat(32))), ..s };
        assert_eq!(direct.load_keyring(b"secret").unwrap().current(), "k7");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_not_a_silent_default() {
        assert!(toml::from_str::<FileSettings>("databse_url = \"x\"").is_err());
    }
}
