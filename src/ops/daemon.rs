//! The operations side of `mesayuda run`: the health/metrics listener, systemd readiness and
//! watchdog, SIGHUP reload, the SMTP probe, ops alerts, and the mailbox reader's lease.

use crate::config::Config;
use crate::imap::watcher::Watcher;
use crate::notify::Mailer;
use crate::ops::health::{self, Component};
use crate::ops::{alert, http, lease, metrics, reload, systemd};
use crate::smtp::transport::Transport;
use crate::store::{Backend, Db};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How often SMTP is checked when no mail goes out (mail sent counts as a check too).
const SMTP_PROBE: Duration = Duration::from_secs(30);
/// SMTP probe period while the server is known to be down: a connection and EHLO.
const SMTP_PROBE_IN_OUTAGE: Duration = Duration::from_secs(2);
/// How often a standby instance checks that it could log in to the mailbox.
const STANDBY_PROBE: Duration = Duration::from_secs(60);

pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub procedure: Arc<crate::workflow::Procedure>,
    pub transport: Transport,
    pub wake: Arc<Notify>,
}

/// Starts every operations task; each stops when `cancel` fires.
pub async fn spawn(s: &Services, tasks: &mut JoinSet<()>, cancel: &CancellationToken) {
    metrics::install();
    if let Some(listener) = http::bind(&s.config.http.listen).await {
        tasks.spawn(http::serve(listener, s.db.clone(), cancel.clone()));
    }
    let panel = if s.config.web.enabled() {
        spawn_panel(s, tasks, cancel).await
    } else {
        None
    };
    tasks.spawn(systemd::ready_when_reachable(
        s.config.imap.mailbox.clone(),
        cancel.clone(),
    ));
    tasks.spawn(systemd::watchdog(s.db.clone(), cancel.clone()));
    tasks.spawn(reload::on_sighup(
        reload::Reloadable {
            config: s.config.clone(),
            mailer: s.mailer.clone(),
            procedure: s.procedure.clone(),
            panel,
        },
        cancel.clone(),
    ));
    tasks.spawn(smtp_probe(s.transport.clone(), cancel.clone()));
    tasks.spawn(alert::run(
        s.config.clone(),
        s.db.clone(),
        s.wake.clone(),
        cancel.clone(),
    ));
}

/// The web panel's listener. Like a clash on the ops port, a panel that cannot start (its
/// pages unreadable, its port taken) is logged and mail keeps being handled without it.
async fn spawn_panel(
    s: &Services,
    tasks: &mut JoinSet<()>,
    cancel: &CancellationToken,
) -> Option<Arc<crate::panel::Panel>> {
    let panel = match crate::panel::Panel::load(
        &s.config,
        s.db.clone(),
        s.mailer.clone(),
        s.procedure.clone(),
        s.wake.clone(),
    ) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            error!(error = %e, "cannot load the web panel's pages; continuing without the panel");
            health::panel_failed(format!("pages not loaded: {e}"));
            return None;
        }
    };
    let listener = crate::panel::bind(&s.config.web.listen).await?;
    tasks.spawn(crate::panel::serve(listener, panel.clone(), cancel.clone()));
    Some(panel)
}

async fn smtp_probe(transport: Transport, cancel: CancellationToken) {
    use crate::outage::{self, Dependency};
    let mut changes = outage::changes(Dependency::Smtp);
    loop {
        match transport.test_connection().await {
            Ok(()) => {
                outage::recovered(Dependency::Smtp);
            }
            // A refused login is logged by the transport at every attempt.
            Err(e) if e.is_auth() => {}
            // One line per outage, whether this or the outbox sender meets it first.
            Err(e) => {
                outage::failed(Dependency::Smtp, || warn!(error = %e, "SMTP check failed"));
            }
        }
        // Its own news is no reason to probe again at once.
        changes.mark_unchanged();
        // While SMTP is down the prober is how this instance (every instance: each has its
        // own) learns within seconds that it is back, and the outbox sender, waiting out a
        // backoff of up to 30 s, goes at once (`outage::retry_delay`).
        let period = if outage::is_down(Dependency::Smtp) {
            SMTP_PROBE_IN_OUTAGE
        } else {
            SMTP_PROBE
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
            // An outage the sender met starts the quick probes now.
            _ = changes.changed() => {}
        }
    }
}

/// Reads the mailbox: always on SQLite (single instance); on PostgreSQL only while this
/// instance holds the mailbox lease.
pub async fn read_mailbox<F>(
    config: Arc<Config>,
    db: Db,
    lease: Option<lease::PgLease>,
    make: F,
    cancel: CancellationToken,
) where
    F: Fn() -> Watcher + Send + 'static,
{
    if db.backend == Backend::Sqlite {
        metrics::set_reader(true);
        make().run(cancel).await;
        return;
    }
    let mut lease =
        lease.unwrap_or_else(|| lease::PgLease::new(&config.database.url, &config.imap.mailbox));
    let mut standing_by = false;
    let mut last_probe: Option<Instant> = None;
    while !cancel.is_cancelled() {
        match lease.try_acquire().await {
            Ok(true) => {
                crate::outage::database_ok();
                info!(mailbox = %config.imap.mailbox, "mailbox lease acquired: this instance reads the mailbox");
                metrics::set_reader(true);
                standing_by = false;
                let child = cancel.child_token();
                let mut watcher = tokio::spawn(make().run(child.clone()));
                loop {
                    tokio::select! {
                        _ = &mut watcher => break,
                        _ = tokio::time::sleep(lease::RETRY) => {
                            if !child.is_cancelled() && !lease.still_held().await {
                                // The database is down (this line is its outage's line, unless
                                // another worker said so already); the reader waits for it.
                                crate::outage::failed(crate::outage::Dependency::Database, || {
                                    error!("database unavailable: mailbox lease lost (connection broken); the reader stops until the lease is regained");
                                });
                                child.cancel();
                            }
                        }
                    }
                }
                metrics::set_reader(false);
            }
            Ok(false) => {
                if !standing_by {
                    info!(
                        mailbox = %config.imap.mailbox,
                        "another instance reads the mailbox; standing by to take over"
                    );
                    standing_by = true;
                }
                if last_probe.is_none_or(|t| t.elapsed() >= STANDBY_PROBE) {
                    standby_probe(&config).await;
                    last_probe = Some(Instant::now());
                }
            }
            Err(e) => crate::outage::database_failed("mailbox lease", &e),
        }
        // Through a database outage the wait ends early when another worker finds it back.
        let database_down = crate::outage::is_down(crate::outage::Dependency::Database);
        let wait = async move {
            if database_down {
                crate::outage::retry_delay(crate::outage::Dependency::Database, lease::RETRY).await;
            } else {
                tokio::time::sleep(lease::RETRY).await;
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wait => {}
        }
    }
    lease.release().await;
}

/// A standby logs in once in a while, so that `/healthz` and readiness mean the same on every
/// instance and a refused login is noticed before this instance has to take over.
async fn standby_probe(config: &Config) {
    match crate::imap::connect::connect(&config.imap).await {
        Ok(mut session) => {
            let _ = session.logout().await;
            health::standby();
        }
        Err(e) => {
            if e.is_auth() {
                error!(error = %e, "IMAP login refused");
            } else {
                warn!(error = %e, "IMAP mailbox unreachable from the standby instance");
            }
            health::failed(Component::Mailbox, e.to_string(), e.is_auth());
        }
    }
}
