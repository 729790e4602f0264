//! `[directory.ldap]`: reads people from Active Directory or another LDAP server, every
//! `refresh_minutes` and on SIGHUP. A read that fails keeps the last good directory in force,
//! also across a restart (it is stored in the database), with one log line per outage
//! (`crate::ops::outage`). Turning entries into people is pure code (`domain::ldap_directory`).

use crate::config::{Config, LdapConfig};
use crate::domain::ldap_directory::Entry;
use crate::ops::outage::{self, Dependency};
use crate::store::Db;
use crate::workflow::{LdapRead, Procedure};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// A directory server answers in seconds or is down; a whole read of 5,000 people takes a few.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Active Directory returns at most 1,000 entries per page by default.
const PAGE_SIZE: i32 = 500;

/// Why a read failed, in words that name the key to check. Never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("cannot reach {url}: {cause} (check directory.ldap.url, starttls and ca_file)")]
    Connect { url: String, cause: String },
    #[error("bind as {bind_dn} refused: {cause} (check directory.ldap.bind_dn and password_file)")]
    Bind { bind_dn: String, cause: String },
    #[error("search under {base_dn} failed: {cause} (check directory.ldap.base_dn and filter)")]
    Search { base_dn: String, cause: String },
    #[error(
        "the search under {base_dn} found nobody with an e-mail address (check \
         directory.ldap.base_dn, filter and attributes.mail); the last good directory stays"
    )]
    Empty { base_dn: String },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Reads every person under `base_dn` that `filter` selects.
pub async fn read(cfg: &LdapConfig) -> Result<Vec<Entry>, LdapError> {
    match tokio::time::timeout(READ_TIMEOUT, read_inner(cfg)).await {
        Ok(r) => r,
        Err(_) => Err(LdapError::Timeout(READ_TIMEOUT)),
    }
}

async fn read_inner(cfg: &LdapConfig) -> Result<Vec<Entry>, LdapError> {
    let connect = |cause: String| LdapError::Connect {
        url: cfg.url.clone(),
        cause,
    };
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(CONNECT_TIMEOUT)
        .set_starttls(cfg.starttls);
    if cfg.starttls || cfg.url.starts_with("ldaps:") {
        let tls = crate::tls::client_config(cfg.ca_file.as_deref()).map_err(connect)?;
        settings = settings.set_config(tls);
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
        .await
        .map_err(|e| connect(e.to_string()))?;
    ldap3::drive!(conn);
    if let Some(dn) = &cfg.bind_dn {
        let password = cfg
            .password
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .unwrap_or_default();
        ldap.simple_bind(dn, &password)
            .await
            .and_then(|r| r.success())
            .map_err(|e| LdapError::Bind {
                bind_dn: dn.clone(),
                cause: e.to_string(),
            })?;
    }
    let a = &cfg.attributes;
    let mut attrs: Vec<&str> = vec![
        &a.mail,
        &a.name,
        &a.title,
        &a.department,
        &a.phone,
        &a.manager,
        &a.member_of,
    ];
    if !a.substitute.is_empty() {
        attrs.push(&a.substitute);
    }
    let search = |cause: String| LdapError::Search {
        base_dn: cfg.base_dn.clone(),
        cause,
    };
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(PAGE_SIZE)),
    ];
    let mut stream = ldap
        .streaming_search_with(adapters, &cfg.base_dn, Scope::Subtree, &cfg.filter, attrs)
        .await
        .map_err(|e| search(e.to_string()))?;
    let mut entries = Vec::new();
    while let Some(raw) = stream.next().await.map_err(|e| search(e.to_string()))? {
        entries.push(entry(SearchEntry::construct(raw), cfg));
    }
    stream
        .finish()
        .await
        .success()
        .map_err(|e| search(e.to_string()))?;
    let _ = ldap.unbind().await;
    if !entries.iter().any(|e| e.email.is_some()) {
        return Err(LdapError::Empty {
            base_dn: cfg.base_dn.clone(),
        });
    }
    Ok(entries)
}

/// Attribute names compare without case (LDAP's rule); the first value of each is taken.
fn entry(e: SearchEntry, cfg: &LdapConfig) -> Entry {
    let values = |name: &str| -> Vec<String> {
        if name.is_empty() {
            return Vec::new();
        }
        e.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let first = |name: &str| values(name).into_iter().next();
    let a = &cfg.attributes;
    Entry {
        dn: e.dn.clone(),
        email: first(&a.mail),
        name: first(&a.name),
        title: first(&a.title),
        department: first(&a.department),
        phone: first(&a.phone),
        manager: first(&a.manager),
        groups: values(&a.member_of),
        substitute: first(&a.substitute),
    }
}

/// Keeps the procedure's directory in step with LDAP.
pub struct Refresher {
    pub config: Arc<Config>,
    pub db: Db,
    pub procedure: Arc<Procedure>,
}

impl Refresher {
    /// At start: the stored read when there is one (routing starts at once, also during an
    /// LDAP outage); else a read now, so that the first mail is routed by LDAP. Returns whether
    /// the stored read was used, and so a fresh read is still due.
    pub async fn start(&self) -> bool {
        if self.config.directory.ldap.is_none() {
            return false;
        }
        match self.stored().await {
            Ok(Some(read)) => {
                let at = read.read_at;
                match self.procedure.install_ldap(&self.config, read) {
                    Ok(people) => {
                        info!(
                            count = people.people.len(),
                            read_at = at,
                            "directory from the stored LDAP read"
                        );
                        return true;
                    }
                    Err(e) => error!(
                        error = format!("{e:#}"),
                        "stored LDAP read not used: the TOML directory does not fit it"
                    ),
                }
            }
            Ok(None) => {}
            Err(e) => warn!(error = format!("{e:#}"), "cannot load the stored LDAP read"),
        }
        self.refresh().await;
        false
    }

    async fn stored(&self) -> anyhow::Result<Option<LdapRead>> {
        let mut conn = self.db.pool.acquire().await?;
        Ok(crate::store::ldap_directory::load(&mut conn)
            .await?
            .map(|(entries, read_at)| LdapRead { entries, read_at }))
    }

    /// One read: on success it is stored and in force; on failure the directory in force
    /// stays, and the outage is logged once. Returns whether the read succeeded.
    pub async fn refresh(&self) -> bool {
        let Some(cfg) = &self.config.directory.ldap else {
            return false;
        };
        let entries = match read(cfg).await {
            Ok(e) => e,
            Err(e) => {
                let announced = outage::failed(Dependency::Ldap, || {
                    error!(
                        error = %e,
                        "LDAP directory unavailable; the last good directory stays in force"
                    );
                });
                if !announced {
                    debug!(error = %e, "LDAP directory still unavailable");
                }
                return false;
            }
        };
        outage::recovered(Dependency::Ldap);
        let read_at = chrono::Utc::now().timestamp();
        let read = LdapRead {
            entries: entries.clone(),
            read_at,
        };
        let people = match self.procedure.install_ldap(&self.config, read) {
            Ok(p) => p,
            Err(e) => {
                error!(
                    error = format!("{e:#}"),
                    "LDAP read not used: the TOML directory does not fit it; the previous \
                     directory stays in force"
                );
                return false;
            }
        };
        let saved = async {
            let mut conn = self.db.pool.acquire().await?;
            crate::store::ldap_directory::save(&mut conn, &entries, read_at).await
        }
        .await;
        if let Err(e) = saved {
            warn!(
                error = format!("{e:#}"),
                "LDAP read in force but not stored; a restart during an LDAP outage would not have it"
            );
        }
        let roles: usize = people.role_counts().iter().map(|(_, n)| n).sum();
        info!(
            count = people.people.len(),
            roles,
            without_email = people.without_email,
            "directory read from LDAP"
        );
        true
    }

    /// Reads every `refresh_minutes`, and at once when `now` is notified (SIGHUP) or when the
    /// start used the stored read.
    pub async fn run(self, now: Arc<Notify>, fresh_read_due: bool, cancel: CancellationToken) {
        let Some(cfg) = &self.config.directory.ldap else {
            return;
        };
        let period = Duration::from_secs(cfg.refresh_minutes.saturating_mul(60));
        if fresh_read_due {
            self.refresh().await;
        }
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
                _ = now.notified() => info!("reading the LDAP directory again (SIGHUP)"),
            }
            self.refresh().await;
        }
    }
}
