//! The operations side of `mesayuda run`: the health/metrics listener, systemd readiness and
//! watchdog, SIGHUP reload, the SMTP probe, ops alerts, and recovery news between instances.

use crate::config::Config;
use crate::ops::health;
use crate::ops::metrics;
use crate::runtime::{alert, http, reload, systemd};
use crate::smtp::transport::Transport;
use crate::store::Db;
use crate::workflow::notify::Mailer;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// How often SMTP is checked when no mail goes out (mail sent counts as a check too).
const SMTP_PROBE: Duration = Duration::from_secs(30);
/// SMTP probe period while the server is known to be down: a connection and EHLO.
const SMTP_PROBE_IN_OUTAGE: Duration = Duration::from_secs(2);

pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub procedure: Arc<crate::workflow::Procedure>,
    pub transport: Transport,
    pub wake: Arc<Notify>,
    /// Asks the LDAP refresher for a read now (SIGHUP).
    pub ldap_now: Arc<Notify>,
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
            ldap_now: s.ldap_now.clone(),
            panel,
        },
        cancel.clone(),
    ));
    tasks.spawn(smtp_probe(s.transport.clone(), cancel.clone()));
    if s.db.dialect().is_shared() {
        tasks.spawn(crate::runtime::news::run(
            s.db.clone(),
            s.config.database.url.clone(),
            cancel.clone(),
        ));
    }
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
    use crate::ops::outage::{self, Dependency};
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
