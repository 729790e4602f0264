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
    /// Required by the daemon and by the commands that talk to the mail servers
    /// ([`Needs::MailServers`]); a command that only reads the database runs without it.
    #[serde(default)]
    pub imap: ImapConfig,
    /// As `imap`; `jobs run` needs its `from` and `reply_to` to compose mail.
    #[serde(default)]
    pub smtp: SmtpConfig,
    #[serde(default)]
    pub paths: PathsConfig,
    /// Where people come from besides `paths.directory`: `[directory.ldap]`.
    #[serde(default)]
    pub directory: DirectorySourceConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub ops: OpsConfig,
    /// Token source for `auth = "xoauth2"` (IMAP and SMTP share it).
    #[serde(default)]
    pub oauth2: Option<OAuth2Config>,
    #[serde(default)]
    pub calendar: crate::domain::calendar::CalendarConfig,
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    #[serde(default)]
    pub sla: SlaConfig,
    #[serde(default)]
    pub incidents: IncidentsConfig,
    #[serde(default)]
    pub escalation: EscalationConfig,
    #[serde(default)]
    pub approvals: ApprovalsConfig,
    #[serde(default)]
    pub security: SecurityConfig,
    #[serde(default)]
    pub reports: ReportsConfig,
    #[serde(default)]
    pub mail: MailConfig,
    #[serde(default)]
    pub lease: LeaseConfig,
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

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    #[default]
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
    /// `password` (LOGIN) or `xoauth2` (token from `[oauth2]`).
    #[serde(default)]
    pub auth: AuthMethod,
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

/// An absent `[imap]` section (host empty): see [`Needs`].
impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            host: String::new(),
            port: 0,
            security: Security::default(),
            username: String::new(),
            password: None,
            password_file: None,
            auth: AuthMethod::default(),
            mailbox: default_mailbox(),
            processed_folder: default_processed_folder(),
            quarantine_folder: default_quarantine_folder(),
            poll_interval_secs: default_poll_interval(),
            idle: true,
            ca_file: None,
        }
    }
}

/// An absent `[smtp]` section (host empty): see [`Needs`].
impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 0,
            security: Security::default(),
            username: None,
            password: None,
            password_file: None,
            auth: AuthMethod::default(),
            from: String::new(),
            reply_to: String::new(),
            ca_file: None,
            max_attempts: default_max_attempts(),
            retry_delay_secs: default_retry_delay(),
        }
    }
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
    /// `password` (AUTH PLAIN/LOGIN when a username is set) or `xoauth2`.
    #[serde(default)]
    pub auth: AuthMethod,
    /// The notification address, e.g. `Servicios Tecnológicos <servicios.tecnologicos@…>`.
    pub from: String,
    /// The watched help-desk address, so that replies come back to the mailbox.
    pub reply_to: String,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A mail the server refuses temporarily (4xx) this many times is marked failed, so that
    /// it shows in `outbox list --status failed` and `mesayuda_outbox_failed` instead of
    /// waiting for ever. Connections that fail before the mail is offered do not count.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait after the first temporary refusal; it doubles with each one, at most an hour.
    #[serde(default = "default_retry_delay")]
    pub retry_delay_secs: u64,
}

/// With the default delays (1, 2, 4 … 32 minutes, then hourly) the 10th try comes about four
/// hours after the first: greylisting and a busy server are over long before, and a recipient
/// still refused after half a working day needs a person, who `outbox retry` lets resend it.
fn default_max_attempts() -> u32 {
    10
}
fn default_retry_delay() -> u64 {
    60
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    #[default]
    Password,
    Xoauth2,
}

/// OAuth2 client-credentials flow (Microsoft 365 by default), or a command that prints a token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Default: `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default = "default_oauth2_scope")]
    pub scope: String,
    /// Instead of the flow above: a shell command printing the access token on stdout.
    #[serde(default)]
    pub token_command: Option<String>,
    /// How long a token from `token_command` is reused.
    #[serde(default = "default_token_command_lifetime")]
    pub token_command_lifetime_secs: u64,
}

fn default_oauth2_scope() -> String {
    "https://outlook.office365.com/.default".into()
}
fn default_token_command_lifetime() -> u64 {
    300
}

impl OAuth2Config {
    pub fn token_url(&self) -> Option<String> {
        self.token_url.clone().or_else(|| {
            self.tenant
                .as_ref()
                .map(|t| format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/token"))
        })
    }
}

/// The health and metrics listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `host:port` for `/healthz` and `/metrics`; empty disables the listener.
    #[serde(default = "default_http_listen")]
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: default_http_listen(),
        }
    }
}

fn default_http_listen() -> String {
    "127.0.0.1:9187".into()
}

/// The web panel (approvers, requesters, agents), behind a reverse proxy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// `host:port` of the panel's listener; empty (the default) disables the panel.
    #[serde(default)]
    pub listen: String,
    /// The panel's public address, as people reach it through the proxy: the sign-in links
    /// mailed to them start with it, and an `https` one makes the session cookie `Secure`.
    #[serde(default)]
    pub base_url: String,
    /// Reverse proxies on other hosts (addresses or networks, `10.0.0.5`, `10.0.0.0/24`) whose
    /// `X-Forwarded-For` names the client; a proxy on this host (loopback) always is one.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl WebConfig {
    pub fn enabled(&self) -> bool {
        !self.listen.trim().is_empty()
    }

    /// `trusted_proxies` read as networks (an address alone is a network of one); the entry
    /// that is neither, as the error.
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                let p = p.trim();
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| p.to_owned())
            })
            .collect()
    }

    /// `base_url` without a trailing slash, to append paths to.
    pub fn base(&self) -> &str {
        self.base_url.trim().trim_end_matches('/')
    }
}

/// Who hears about failures no retry fixes (a refused login).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Receives at most one alert mail a day while a login keeps failing.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    #[serde(default = "default_templates")]
    pub templates: PathBuf,
    /// The service catalogue (`[[service]]` entries); without it no request is categorised.
    #[serde(default)]
    pub catalog: Option<PathBuf>,
    /// The people directory (`[[person]]` entries): agents, approvers, escalation chain.
    #[serde(default)]
    pub directory: Option<PathBuf>,
}

impl Default for PathsConfig {
    fn default() -> Self {
        Self {
            templates: default_templates(),
            catalog: None,
            directory: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySourceConfig {
    /// People, offices, positions and bosses read from Active Directory / LDAP.
    #[serde(default)]
    pub ldap: Option<LdapConfig>,
}

/// `[directory.ldap]`: the directory read from Active Directory or another LDAP server. The
/// TOML directory (`paths.directory`) still adds people and overrides fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://host` (TLS), or `ldap://host` with `starttls = true`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (required for a host that is not local).
    #[serde(default)]
    pub starttls: bool,
    /// PEM bundle trusted in addition to the built-in web roots (the domain's own CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The account that reads the directory; none binds anonymously.
    #[serde(default)]
    pub bind_dn: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Where people are searched (subtree).
    pub base_dn: String,
    #[serde(default = "default_ldap_filter")]
    pub filter: String,
    /// Attribute names; Active Directory's by default.
    #[serde(default)]
    pub attributes: LdapAttributes,
    /// Roles by group membership: `agente = ["CN=Mesa de Ayuda,OU=Grupos,DC=…"]`.
    #[serde(default)]
    pub roles_by_group: std::collections::BTreeMap<crate::domain::directory::Role, Vec<String>>,
    /// Roles by title (regexes): `director = ["^Director"]`.
    #[serde(default)]
    pub roles_by_title: std::collections::BTreeMap<crate::domain::directory::Role, Vec<String>>,
    /// Minutes between reads; also read on `systemctl reload` (SIGHUP).
    #[serde(default = "default_refresh_minutes")]
    pub refresh_minutes: u64,
}

/// Enabled accounts of people with a mail address (AD marks disabled accounts in bit 2 of
/// userAccountControl).
fn default_ldap_filter() -> String {
    "(&(objectCategory=person)(objectClass=user)(mail=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))".into()
}
fn default_refresh_minutes() -> u64 {
    15
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapAttributes {
    pub mail: String,
    pub name: String,
    pub title: String,
    pub department: String,
    pub phone: String,
    /// The boss's DN.
    pub manager: String,
    /// Group DNs, for `roles_by_group`.
    pub member_of: String,
    /// An attribute holding the substitute's DN or address; "" (the default) takes substitutes
    /// from the TOML directory only.
    pub substitute: String,
}

impl Default for LdapAttributes {
    fn default() -> Self {
        Self {
            mail: "mail".into(),
            name: "displayName".into(),
            title: "title".into(),
            department: "department".into(),
            phone: "telephoneNumber".into(),
            manager: "manager".into(),
            member_of: "memberOf".into(),
            substitute: String::new(),
        }
    }
}

/// Business-day limits of the procedure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    /// Activity 7: days a request waits "pendiente por usuario" before it is closed.
    pub pending_user_business_days: u32,
    /// Activity 18: days a resolved request waits before it closes by itself.
    pub auto_close_business_days: u32,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            pending_user_business_days: 3,
            auto_close_business_days: 2,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// Target for requests whose service is not (yet) known, in business hours.
    pub default_resolution_hours: f64,
    /// Scales the catalogue's target by priority, e.g. `{ alta = 0.5, baja = 1.5 }`; a
    /// priority not named keeps factor 1. None by default.
    pub priority_factors: crate::domain::sla::PriorityFactors,
}

impl Default for SlaConfig {
    fn default() -> Self {
        Self {
            default_resolution_hours: 8.0,
            priority_factors: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsConfig {
    /// Where a copy of each incident goes (the incident procedure's mailbox).
    pub address: Option<String>,
    /// Regexes on the folded (lowercase, unaccented) subject and body.
    pub patterns: Vec<String>,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        Self {
            address: None,
            patterns: vec![
                r"\bno funciona\b".into(),
                r"\bcaid[oa]s?\b".into(),
                r"\bse cayo\b".into(),
                r"\berror\b".into(),
                r"\bfalla\b".into(),
            ],
        }
    }
}

/// Activities 9–12.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// The procedure's "24 horas hábiles": reminder at half, agents told at the end.
    pub target_business_hours: f64,
    /// Whether time waiting for an approver stops the resolution clock.
    pub pause_sla: bool,
    /// Local hour of the business-morning digest of pending approvals.
    pub digest_hour: u32,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            target_business_hours: 24.0,
            pause_sla: true,
            digest_hour: 7,
        }
    }
}

/// The procedure's product: the monthly compliance report by mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Mail the previous month's compliance report on the first business day of each month.
    pub monthly_compliance: bool,
    /// Local hour from which it goes out that day.
    pub hour: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            monthly_compliance: true,
            hour: 7,
        }
    }
}

/// The mailbox reader's lease between instances on one PostgreSQL database (`src/ops/lease.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaseConfig {
    /// How often the reader renews its lease, and a standby tries to take it.
    pub renew_secs: u64,
    /// A lease not renewed for this long is taken over by a standby, even though the holder's
    /// connections stay open (a frozen process, a paused VM).
    pub expiry_secs: u64,
}

/// A frozen reader is replaced within `expiry_secs + renew_secs` (5 s; the chaos run measured
/// 8 s from SIGSTOP to answering again on a saturated machine, backlog included): under the 10 s
/// a help desk may go unanswered after a fault (issue 16). A renewal is one UPDATE a second per
/// instance; a reader stalled longer than 4 s loses the lease to a standby, which fencing makes
/// safe (it takes nothing in and stands by).
impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            renew_secs: 1,
            expiry_secs: 4,
        }
    }
}

impl LeaseConfig {
    pub fn renew(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.renew_secs)
    }

    pub fn expiry(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.expiry_secs)
    }
}

/// What every mail we send carries.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Text appended under every mail's body (e.g. the Ley 1581 de 2012 data-protection
    /// notice); none by default.
    pub footer: Option<String>,
}

/// What proves who sent a mail beyond its From header (see `domain::authority`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Require DMARC or DKIM pass for the From domain in the topmost Authentication-Results
    /// header, added by `trusted_authserv_id` (the organisation's own MTA), on top of the
    /// personal reply token.
    pub require_authentication_results: bool,
    pub trusted_authserv_id: Option<String>,
    /// The mailbox is on Exchange / Microsoft 365, which marks its own users' mail with
    /// `X-MS-Exchange-Organization-AuthAs: Internal` and strips that header from outside mail.
    pub exchange_internal: bool,
}

/// Escalation recipients when the directory has none for the assignee's office.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    pub coordinator: Option<String>,
    pub subdirector: Option<String>,
    pub director: Option<String>,
    /// Told of requests that need an agent when the directory lists no `agente`.
    pub agents: Vec<String>,
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
    /// New requests one sender (not help-desk staff) may open within an hour; further ones
    /// are stored without a ticket or an acknowledgement, and agents are told once. Ends a
    /// loop with a robot that answers every mail with a new one.
    #[serde(default = "default_max_new_tickets_per_sender_per_hour")]
    pub max_new_tickets_per_sender_per_hour: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            ack_max_age_days: default_ack_max_age_days(),
            max_message_bytes: default_max_message_bytes(),
            batch_size: default_batch_size(),
            max_new_tickets_per_sender_per_hour: default_max_new_tickets_per_sender_per_hour(),
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
    200
}
fn default_max_new_tickets_per_sender_per_hour() -> u32 {
    20
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

/// What a command needs of the configuration file. The daemon, `check-config` and
/// `send-test-mail` talk to the mail servers and need every section and secret; the commands
/// that only read or write the database (`tickets`, `approvals pending`, `sla`, `outbox`,
/// `migrate`, `directory show`, `jobs run`) run without `[imap]`/`[smtp]` and never read the
/// mail servers' secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    MailServers,
    Database,
}

impl Config {
    /// Reads the file named by `--config`, else `MESAYUDA_CONFIG`, else `mesayuda.toml`.
    /// Only the `[calendar]` section, for commands that need nothing else
    /// (`calendar holidays`): a missing file, or a file without the section, gives the default
    /// calendar (Colombia's holidays, Bogotá time); other sections are not read, so a
    /// half-written configuration does not stop ops from checking the holidays.
    pub fn load_calendar(
        path: &Path,
    ) -> Result<crate::domain::calendar::CalendarConfig, ConfigError> {
        #[derive(Deserialize)]
        struct OnlyCalendar {
            #[serde(default)]
            calendar: crate::domain::calendar::CalendarConfig,
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
            Err(source) => {
                return Err(ConfigError::Unreadable {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let only: OnlyCalendar = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(only.calendar)
    }

    /// Everything, for the daemon and the commands that talk to the mail servers.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_for(path, Needs::MailServers)
    }

    pub fn load_for(path: &Path, needs: Needs) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.source = path.to_owned();
        if needs == Needs::MailServers {
            config.require_mail_sections()?;
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
            if let Some(o) = config.oauth2.as_mut() {
                o.client_secret = resolve_secret(
                    path,
                    "oauth2.client_secret",
                    o.client_secret.take(),
                    o.client_secret_file.as_deref(),
                    "MESAYUDA_OAUTH2_CLIENT_SECRET",
                )?;
            }
        } else {
            // Not read at all: an operator reading tickets needs neither the mail servers'
            // secrets nor the right to read their files.
            config.imap.password = None;
            config.smtp.password = None;
            if let Some(o) = config.oauth2.as_mut() {
                o.client_secret = None;
            }
        }
        if let Some(l) = config.directory.ldap.as_mut() {
            l.password = resolve_secret(
                path,
                "directory.ldap.password",
                l.password.take(),
                l.password_file.as_deref(),
                "MESAYUDA_LDAP_PASSWORD",
            )?;
        }
        config.validate()?;
        config.validate_mail(needs)?;
        config.validate_ops(needs)?;
        config.validate_ldap()?;
        Ok(config)
    }

    /// Whether the file has an `[smtp]` section (its `from` and `reply_to` are then checked
    /// whatever the command).
    pub fn has_smtp(&self) -> bool {
        !self.smtp.host.is_empty() || !self.smtp.from.is_empty()
    }

    fn require_mail_sections(&self) -> Result<(), ConfigError> {
        if self.imap.host.is_empty() {
            return Err(self.bad_key(
                "imap",
                "missing: the [imap] section (host, port, security, username and a password) is required to run the help desk",
            ));
        }
        if !self.has_smtp() {
            return Err(self.bad_key(
                "smtp",
                "missing: the [smtp] section (host, port, security, from, reply_to) is required to run the help desk",
            ));
        }
        Ok(())
    }

    /// The mail sections: all of them for [`Needs::MailServers`]; for the other commands only
    /// the addresses of an `[smtp]` section that is there (mail composed by `jobs run`).
    fn validate_mail(&self, needs: Needs) -> Result<(), ConfigError> {
        if needs == Needs::MailServers {
            if self.imap.auth == AuthMethod::Password && self.imap.password.is_none() {
                return Err(self.bad_key(
                    "imap.password",
                    "missing: set imap.password, imap.password_file or MESAYUDA_IMAP_PASSWORD",
                ));
            }
            if self.imap.poll_interval_secs == 0 {
                return Err(self.bad_key("imap.poll_interval_secs", "must be at least 1"));
            }
            if self.smtp.max_attempts == 0 {
                return Err(self.bad_key("smtp.max_attempts", "must be at least 1"));
            }
            if self.smtp.retry_delay_secs == 0 {
                return Err(self.bad_key("smtp.retry_delay_secs", "must be at least 1"));
            }
            if self.smtp.password.is_some() && self.smtp.username.is_none() {
                return Err(self.bad_key("smtp.username", "a password is set but no username"));
            }
        }
        if needs == Needs::MailServers || self.has_smtp() {
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
        }
        Ok(())
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
        if let Err(e) = crate::domain::calendar::BusinessCalendar::new(&self.calendar) {
            return Err(self.bad_key(&format!("calendar.{}", e.key()), e.to_string()));
        }
        // An empty address is no address (the agents receive incidents); anything else must
        // be one, or every incident's copy would fail to compose and the incident be quarantined.
        if let Some(a) = self.incidents.address.as_deref() {
            if !a.trim().is_empty() && a.parse::<lettre::message::Mailbox>().is_err() {
                return Err(self.bad_key(
                    "incidents.address",
                    format!("`{a}` is not an email address"),
                ));
            }
        }
        for p in &self.incidents.patterns {
            if let Err(e) = regex::Regex::new(p) {
                return Err(self.bad_key("incidents.patterns", format!("`{p}`: {e}")));
            }
        }
        // Header authentication comes from our MTA's Authentication-Results or from Exchange's
        // internal mark: requiring it needs one of them, or no mail could ever pass.
        if self.security.require_authentication_results
            && self.security.trusted_authserv_id.is_none()
            && !self.security.exchange_internal
        {
            return Err(self.bad_key(
                "security.trusted_authserv_id",
                "required when security.require_authentication_results = true \
                 (or set security.exchange_internal = true on Exchange / Microsoft 365)",
            ));
        }
        if self.reports.hour > 23 {
            return Err(self.bad_key("reports.hour", "must be 0–23"));
        }
        if self.approvals.digest_hour > 23 {
            return Err(self.bad_key("approvals.digest_hour", "must be 0–23"));
        }
        if self.sla.default_resolution_hours <= 0.0 {
            return Err(self.bad_key("sla.default_resolution_hours", "must be positive"));
        }
        if let Some((key, _)) = self
            .sla
            .priority_factors
            .configured()
            .find(|(_, f)| !(*f > 0.0 && f.is_finite()))
        {
            return Err(self.bad_key(
                &format!("sla.priority_factors.{key}"),
                "must be a positive number",
            ));
        }
        if self.lease.renew_secs == 0 {
            return Err(self.bad_key("lease.renew_secs", "must be at least 1"));
        }
        if self.lease.expiry_secs < 2 * self.lease.renew_secs {
            return Err(self.bad_key(
                "lease.expiry_secs",
                "must be at least twice lease.renew_secs, so that one late renewal does not \
                 hand the mailbox over",
            ));
        }
        if self.ingest.batch_size == 0 {
            return Err(self.bad_key("ingest.batch_size", "must be at least 1"));
        }
        if self.ingest.max_new_tickets_per_sender_per_hour == 0 {
            return Err(self.bad_key(
                "ingest.max_new_tickets_per_sender_per_hour",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn validate_ops(&self, needs: Needs) -> Result<(), ConfigError> {
        let listen = self.http.listen.trim();
        if !listen.is_empty() && listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(self.bad_key(
                "http.listen",
                format!("`{listen}` is not ip:port (e.g. 127.0.0.1:9187), nor empty"),
            ));
        }
        let web = self.web.listen.trim();
        if !web.is_empty() && web.parse::<std::net::SocketAddr>().is_err() {
            return Err(self.bad_key(
                "web.listen",
                format!("`{web}` is not ip:port (e.g. 127.0.0.1:8080), nor empty"),
            ));
        }
        if let Err(p) = self.web.proxies() {
            return Err(self.bad_key(
                "web.trusted_proxies",
                format!("`{p}` is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"),
            ));
        }
        if self.web.enabled() {
            let ok = url::Url::parse(self.web.base())
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(self.bad_key(
                    "web.base_url",
                    format!(
                        "`{}` is not the panel's public address (e.g. https://mesayuda.example.org); \
                         the sign-in links need it",
                        self.web.base_url
                    ),
                ));
            }
        }
        if let Some(e) = &self.ops.email {
            if e.parse::<lettre::message::Mailbox>().is_err() {
                return Err(self.bad_key("ops.email", format!("`{e}` is not an email address")));
            }
        }
        // How the mail servers are logged in to matters only to the commands that do it.
        let xoauth2 = [("imap.auth", self.imap.auth), ("smtp.auth", self.smtp.auth)]
            .into_iter()
            .filter(|_| needs == Needs::MailServers)
            .find(|(_, a)| *a == AuthMethod::Xoauth2);
        if let Some((key, _)) = xoauth2 {
            let Some(o) = &self.oauth2 else {
                return Err(self.bad_key(key, "\"xoauth2\" needs an [oauth2] section"));
            };
            if o.token_command.is_none() {
                if o.client_id.is_none() {
                    return Err(self.bad_key(
                        "oauth2.client_id",
                        "missing: set client_id (with client_secret_file and tenant) or token_command",
                    ));
                }
                if o.client_secret.is_none() {
                    return Err(self.bad_key(
                        "oauth2.client_secret",
                        "missing: set oauth2.client_secret_file or MESAYUDA_OAUTH2_CLIENT_SECRET",
                    ));
                }
                match o.token_url() {
                    None => {
                        return Err(
                            self.bad_key("oauth2.tenant", "missing: set tenant or token_url")
                        )
                    }
                    Some(u) if url::Url::parse(&u).is_err() => {
                        return Err(self.bad_key("oauth2.token_url", format!("`{u}` is not a URL")))
                    }
                    Some(_) => {}
                }
            }
        }
        if self.smtp.auth == AuthMethod::Xoauth2 && self.smtp.username.is_none() {
            return Err(self.bad_key("smtp.username", "\"xoauth2\" needs the mailbox's username"));
        }
        Ok(())
    }

    fn validate_ldap(&self) -> Result<(), ConfigError> {
        let Some(l) = &self.directory.ldap else {
            return Ok(());
        };
        let url = match url::Url::parse(&l.url) {
            Ok(u) if matches!(u.scheme(), "ldap" | "ldaps") && u.host().is_some() => u,
            _ => {
                return Err(self.bad_key(
                    "directory.ldap.url",
                    format!(
                        "`{}` is not ldaps://host[:port] nor ldap://host[:port]",
                        l.url
                    ),
                ))
            }
        };
        // ldap: is not a scheme the URL standard knows, so its host comes as text.
        let local = match url.host() {
            Some(url::Host::Domain(d)) => {
                let d = d.trim_start_matches('[').trim_end_matches(']');
                d == "localhost"
                    || d.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if url.scheme() == "ldaps" && l.starttls {
            return Err(self.bad_key(
                "directory.ldap.starttls",
                "ldaps:// is TLS already; StartTLS is for ldap:// URLs",
            ));
        }
        if url.scheme() == "ldap" && !l.starttls && !local {
            return Err(self.bad_key(
                "directory.ldap.url",
                "plain ldap:// would send the bind password in clear: use ldaps:// or \
                 starttls = true",
            ));
        }
        if l.bind_dn.is_some() && l.password.is_none() {
            return Err(self.bad_key(
                "directory.ldap.password_file",
                "missing: bind_dn is set; set directory.ldap.password_file or \
                 MESAYUDA_LDAP_PASSWORD",
            ));
        }
        if l.base_dn.trim().is_empty() {
            return Err(self.bad_key("directory.ldap.base_dn", "must not be empty"));
        }
        if ldap3::parse_filter(&l.filter).is_err() {
            return Err(self.bad_key(
                "directory.ldap.filter",
                format!("`{}` is not an LDAP filter", l.filter),
            ));
        }
        if l.refresh_minutes == 0 {
            return Err(self.bad_key("directory.ldap.refresh_minutes", "must be at least 1"));
        }
        if let Err((key, message)) =
            crate::domain::ldap_directory::RoleRules::new(&l.roles_by_group, &l.roles_by_title)
        {
            return Err(self.bad_key(&format!("directory.ldap.{key}"), message));
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
    use secrecy::ExposeSecret;
    // An empty secret is never right (it is what `install -m 0640 /dev/null imap-password`
    // leaves behind before the password is written): say so now, naming where it came from,
    // instead of a refused login later that names nothing to fix.
    let empty = |key: String, message: String| ConfigError::BadKey {
        path: path.to_owned(),
        key,
        message,
    };
    if let Ok(v) = std::env::var(env_var) {
        if v.trim().is_empty() {
            return Err(empty(
                env_var.to_owned(),
                "the environment variable is set but empty".into(),
            ));
        }
        return Ok(Some(SecretString::from(v)));
    }
    if let Some(file) = file {
        let file = &credential_path(file, std::env::var_os("CREDENTIALS_DIRECTORY"));
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::BadKey {
            path: path.to_owned(),
            key: format!("{key}_file"),
            message: format!("cannot read {}: {e}", file.display()),
        })?;
        let secret = text.trim_end_matches(['\r', '\n']);
        if secret.trim().is_empty() {
            return Err(empty(
                format!("{key}_file"),
                format!(
                    "{} is empty: write the secret on its first line (or set {env_var})",
                    file.display()
                ),
            ));
        }
        return Ok(Some(SecretString::from(secret.to_owned())));
    }
    if let Some(v) = &inline {
        if v.expose_secret().trim().is_empty() {
            return Err(empty(key.to_owned(), "empty".into()));
        }
    }
    Ok(inline)
}

/// Where a `*_file` secret is read. Under systemd, the unit hands the secrets over with
/// `LoadCredential=imap-password:/etc/mesayuda/imap-password`: systemd (as root) reads the
/// root-only file and gives the service a private copy in `$CREDENTIALS_DIRECTORY`, a directory
/// whose path systemd chooses (TOML cannot expand `%d`). A credential with the same file name
/// as the configured file is that copy, and is read instead. So one configuration serves both
/// the service and an operator's CLI run as root (which reads the file itself), and existing
/// configurations work unchanged outside systemd.
fn credential_path(file: &Path, credentials_dir: Option<std::ffi::OsString>) -> PathBuf {
    if let (Some(dir), Some(name)) = (credentials_dir, file.file_name()) {
        let candidate = Path::new(&dir).join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    file.to_owned()
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
    fn the_panel_is_off_by_default_and_needs_its_public_address() {
        let (_d, p) = write(MINIMAL);
        assert!(!Config::load(&p).unwrap().web.enabled());
        let (_d, p) = write(&format!("{MINIMAL}[web]\nlisten = \"127.0.0.1:8080\"\n"));
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("web.base_url"), "{e}");
        let (_d, p) = write(&format!(
            "{MINIMAL}[web]\nlisten = \"127.0.0.1:8080\"\nbase_url = \"https://mesa.example.test/\"\n"
        ));
        let c = Config::load(&p).unwrap();
        assert_eq!(c.web.base(), "https://mesa.example.test");
        let (_d, p) = write(&format!(
            "{MINIMAL}[web]\ntrusted_proxies = [\"10.0.0.5\", \"192.168.0.0/24\", \"fd00::/8\"]\n"
        ));
        assert_eq!(Config::load(&p).unwrap().web.proxies().unwrap().len(), 3);
        let (_d, p) = write(&format!(
            "{MINIMAL}[web]\ntrusted_proxies = [\"proxy.local\"]\n"
        ));
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("web.trusted_proxies") && e.contains("proxy.local"),
            "{e}"
        );
        let (_d, p) = write(&format!("{MINIMAL}[web]\nlisten = \"8080\"\n"));
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("web.listen"), "{e}");
    }

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
        assert_eq!(c.ingest.max_new_tickets_per_sender_per_hour, 20);
    }

    #[test]
    fn the_sender_rate_limit_is_set_and_checked() {
        let (_d, p) = write(&format!(
            "{MINIMAL}[ingest]\nmax_new_tickets_per_sender_per_hour = 5\n"
        ));
        let c = Config::load(&p).unwrap();
        assert_eq!(c.ingest.max_new_tickets_per_sender_per_hour, 5);
        let (_d, p) = write(&format!(
            "{MINIMAL}[ingest]\nmax_new_tickets_per_sender_per_hour = 0\n"
        ));
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("ingest.max_new_tickets_per_sender_per_hour") && e.contains("m.toml"),
            "{e}"
        );
    }

    #[test]
    fn the_incident_address_is_an_address_or_empty() {
        let (_d, p) = write(&format!("{MINIMAL}[incidents]\naddress = \"\"\n"));
        assert!(Config::load(&p).is_ok());
        let (_d, p) = write(&format!(
            "{MINIMAL}[incidents]\naddress = \"incidentes@example.test\"\n"
        ));
        assert!(Config::load(&p).is_ok());
        let (_d, p) = write(&format!(
            "{MINIMAL}[incidents]\naddress = \"incidentes example.test\"\n"
        ));
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("incidents.address"), "{e}");
    }

    #[test]
    fn required_header_authentication_needs_a_source_of_it() {
        let required = format!("{MINIMAL}[security]\nrequire_authentication_results = true\n");
        let (_d, p) = write(&required);
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("security.trusted_authserv_id"), "{e}");
        // Microsoft 365 strips Authentication-Results from outside mail and marks its own:
        // that mark is the source there.
        let (_d, p) = write(&format!("{required}exchange_internal = true\n"));
        assert!(Config::load(&p).is_ok());
        let (_d, p) = write(&format!(
            "{required}trusted_authserv_id = \"mx.example.test\"\n"
        ));
        assert!(Config::load(&p).is_ok());
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
    fn an_empty_password_file_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("imap-password");
        std::fs::write(&pw, "\n").unwrap();
        let text = MINIMAL.replace(
            "password = \"s3cr3t-value\"",
            &format!("password_file = \"{}\"", pw.display()),
        );
        let (_d, p) = write(&text);
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("imap.password_file"), "{e}");
        assert!(e.contains("is empty"), "{e}");
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

    #[test]
    fn ldap_needs_tls_off_loopback_a_password_with_a_bind_dn_and_valid_rules() {
        let ldap = |url: &str, extra: &str| {
            format!(
                "{MINIMAL}[directory.ldap]\nurl = \"{url}\"\nbase_dn = \"dc=x\"\n\
                 bind_dn = \"cn=svc,dc=x\"\npassword = \"ldap-s3cr3t\"\n{extra}"
            )
        };
        let err = |text: String| Config::load(&write(&text).1).unwrap_err().to_string();
        let e = err(ldap("ldap://dc01.example.org", ""));
        assert!(
            e.contains("directory.ldap.url") && e.contains("in clear"),
            "{e}"
        );
        for ok in [
            ldap("ldap://dc01.example.org", "starttls = true"),
            ldap("ldaps://dc01.example.org:636", ""),
            ldap("ldap://127.0.0.1:3389", ""),
            ldap("ldap://localhost", ""),
        ] {
            let (_d, p) = write(&ok);
            let c = Config::load(&p).unwrap();
            let l = c.directory.ldap.as_ref().unwrap();
            assert_eq!(l.attributes.manager, "manager");
            assert_eq!(l.refresh_minutes, 15);
            assert!(!format!("{c:?}").contains("ldap-s3cr3t"));
        }
        let e = err(ldap("ldaps://dc", "starttls = true"));
        assert!(e.contains("directory.ldap.starttls"), "{e}");
        let e = err(ldap("https://dc", ""));
        assert!(e.contains("directory.ldap.url"), "{e}");
        let e = err(ldap("ldaps://dc", "filter = \"(mail=*\""));
        assert!(e.contains("directory.ldap.filter"), "{e}");
        let e = err(ldap(
            "ldaps://dc",
            "[directory.ldap.roles_by_title]\ndirector = [\"^Director(\"]",
        ));
        assert!(e.contains("directory.ldap.roles_by_title.director"), "{e}");
        let e = err(ldap(
            "ldaps://dc",
            "[directory.ldap.roles_by_group]\njefe = [\"cn=x\"]",
        ));
        assert!(e.contains("jefe"), "{e}");
        let no_password = ldap("ldaps://dc", "").replace("password = \"ldap-s3cr3t\"\n", "");
        let e = err(no_password);
        assert!(e.contains("directory.ldap.password_file"), "{e}");
    }

    #[test]
    fn a_systemd_credential_replaces_the_secret_file_of_the_same_name() {
        let creds = tempfile::tempdir().unwrap();
        std::fs::write(creds.path().join("imap-password"), "x").unwrap();
        let dir = Some(creds.path().as_os_str().to_owned());
        let from_creds = creds.path().join("imap-password");
        let abs = Path::new("/etc/mesayuda/imap-password");
        assert_eq!(credential_path(abs, dir.clone()), from_creds);
        assert_eq!(
            credential_path(Path::new("imap-password"), dir.clone()),
            from_creds
        );
        // Not a credential of this unit, or not under systemd: the file as written.
        let smtp = Path::new("/etc/mesayuda/smtp-password");
        assert_eq!(credential_path(smtp, dir), smtp);
        assert_eq!(credential_path(abs, None), abs);
    }
}
