//! Typed configuration: one TOML file, secrets from the file, a `*_file` or the environment.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Exit code for a configuration the daemon cannot start with.
pub const EXIT_BAD_CONFIG: i32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("config file {path}: key `{key}`: {message}")]
    BadKey {
        path: PathBuf,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub database: DatabaseConfig,
    pub imap: ImapConfig,
    pub smtp: SmtpConfig,
    #[serde(default)]
    pub paths: PathsConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// Where the file was read from, for messages that name it.
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_database_url")]
    pub url: String,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: default_database_url(),
            max_connections: default_max_connections(),
        }
    }
}

fn default_database_url() -> String {
    "sqlite://mesayuda.db".into()
}
fn default_max_connections() -> u32 {
    5
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Tls,
    Starttls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    #[serde(default)]
    pub password: Option<SecretString>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    #[serde(default = "default_processed_folder")]
    pub processed_folder: String,
    #[serde(default = "default_quarantine_folder")]
    pub quarantine_folder: String,
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_true")]
    pub idle: bool,
    /// PEM bundle trusted in addition to the built-in web roots (self-signed or internal CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_processed_folder() -> String {
    "Procesados".into()
}
fn default_quarantine_folder() -> String {
    "Cuarentena".into()
}
fn default_poll_interval() -> u64 {
    30
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The notification address, e.g. `Servicios Tecnológicos <servicios.tecnologicos@…>`.
    pub from: String,
    /// The watched help-desk address, so that replies come back to the mailbox.
    pub reply_to: String,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    #[serde(default = "default_templates")]
    pub templates: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        Self {
            templates: default_templates(),
        }
    }
}

fn default_templates() -> PathBuf {
    "templates".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Messages older than this (by arrival) become tickets without an acknowledgement.
    #[serde(default = "default_ack_max_age_days")]
    pub ack_max_age_days: u32,
    /// Larger messages are quarantined instead of parsed.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// How many messages one IMAP fetch takes, bounding memory.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            ack_max_age_days: default_ack_max_age_days(),
            max_message_bytes: default_max_message_bytes(),
            batch_size: default_batch_size(),
        }
    }
}

fn default_ack_max_age_days() -> u32 {
    3
}
fn default_max_message_bytes() -> usize {
    40 * 1024 * 1024
}
fn default_batch_size() -> u32 {
    50
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `mesayuda=debug`; `RUST_LOG` wins when set.
    #[serde(default)]
    pub level: Option<String>,
}

impl Config {
    /// Reads the file named by `--config`, else `MESAYUDA_CONFIG`, else `mesayuda.toml`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.source = path.to_owned();
        config.imap.password = resolve_secret(
            path,
            "imap.password",
            config.imap.password.take(),
            config.imap.password_file.as_deref(),
            "MESAYUDA_IMAP_PASSWORD",
        )?;
        config.smtp.password = resolve_secret(
            path,
            "smtp.password",
            config.smtp.password.take(),
            config.smtp.password_file.as_deref(),
            "MESAYUDA_SMTP_PASSWORD",
        )?;
        config.validate()?;
        Ok(config)
    }

    fn bad_key(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::BadKey {
            path: self.source.clone(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(self.bad_key(
                "database.url",
                format!("`{url}` is neither sqlite://… nor postgres://…"),
            ));
        }
        if url.starts_with("postgres") && url::Url::parse(url).is_err() {
            return Err(self.bad_key("database.url", "not a valid URL"));
        }
        if self.imap.password.is_none() {
            return Err(self.bad_key(
                "imap.password",
                "missing: set imap.password, imap.password_file or MESAYUDA_IMAP_PASSWORD",
            ));
        }
        if self.imap.poll_interval_secs == 0 {
            return Err(self.bad_key("imap.poll_interval_secs", "must be at least 1"));
        }
        if self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(self.bad_key(
                "smtp.from",
                format!("`{}` is not an email address", self.smtp.from),
            ));
        }
        if self
            .smtp
            .reply_to
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            return Err(self.bad_key(
                "smtp.reply_to",
                format!("`{}` is not an email address", self.smtp.reply_to),
            ));
        }
        if self.smtp.password.is_some() && self.smtp.username.is_none() {
            return Err(self.bad_key("smtp.username", "a password is set but no username"));
        }
        if self.ingest.batch_size == 0 {
            return Err(self.bad_key("ingest.batch_size", "must be at least 1"));
        }
        Ok(())
    }

    /// The help-desk mailbox address (bare, lowercase), from `smtp.reply_to`.
    pub fn helpdesk_address(&self) -> String {
        bare_address(&self.smtp.reply_to)
    }

    /// The notification address (bare, lowercase), from `smtp.from`.
    pub fn notification_address(&self) -> String {
        bare_address(&self.smtp.from)
    }
}

fn bare_address(s: &str) -> String {
    s.parse::<lettre::message::Mailbox>()
        .map(|m| m.email.to_string().to_lowercase())
        .unwrap_or_else(|_| s.trim().to_lowercase())
}

/// One source of a secret wins: the environment, then the `*_file`, then the inline value.
fn resolve_secret(
    path: &Path,
    key: &str,
    inline: Option<SecretString>,
    file: Option<&Path>,
    env_var: &str,
) -> Result<Option<SecretString>, ConfigError> {
    if let Ok(v) = std::env::var(env_var) {
        return Ok(Some(SecretString::from(v)));
    }
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::BadKey {
            path: path.to_owned(),
            key: format!("{key}_file"),
            message: format!("cannot read {}: {e}", file.display()),
        })?;
        return Ok(Some(SecretString::from(
            text.trim_end_matches(['\r', '\n']).to_owned(),
        )));
    }
    Ok(inline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    const MINIMAL: &str = r#"
[imap]
host = "127.0.0.1"
port = 1143
security = "none"
username = "mesayuda@example.test"
password = "s3cr3t-value"
[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
from = "Servicios Tecnológicos <servicios.tecnologicos@example.test>"
reply_to = "mesayuda@example.test"
"#;

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let (_d, p) = write(MINIMAL);
        let c = Config::load(&p).unwrap();
        assert_eq!(c.database.url, "sqlite://mesayuda.db");
        assert_eq!(c.imap.mailbox, "INBOX");
        assert_eq!(c.imap.processed_folder, "Procesados");
        assert_eq!(c.imap.poll_interval_secs, 30);
        assert!(c.imap.idle);
        assert_eq!(c.paths.templates, PathBuf::from("templates"));
        assert_eq!(c.helpdesk_address(), "mesayuda@example.test");
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let (_d, p) = write(MINIMAL);
        let c = Config::load(&p).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn a_missing_key_is_named_with_the_file() {
        let (_d, p) = write(&MINIMAL.replace("port = 1143\n", ""));
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("port") && e.contains("m.toml"), "{e}");
    }

    #[test]
    fn a_bad_database_url_is_named() {
        let (_d, p) = write(&format!("[database]\nurl = \"mysql://x\"\n{MINIMAL}"));
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("database.url"), "{e}");
    }

    #[test]
    fn password_file_is_read_and_an_unreadable_one_is_named() {
        let (d, p) = write(&MINIMAL.replace(
            "password = \"s3cr3t-value\"",
            "password_file = \"/nonexistent/pw\"",
        ));
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("imap.password_file"), "{e}");
        let pw = d.path().join("pw");
        std::fs::write(&pw, "from-file\n").unwrap();
        std::fs::write(
            &p,
            MINIMAL.replace(
                "password = \"s3cr3t-value\"",
                &format!("password_file = \"{}\"", pw.display()),
            ),
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(c.imap.password.unwrap().expose_secret(), "from-file");
    }
}
