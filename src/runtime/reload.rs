//! `systemctl reload mesayuda` (SIGHUP): re-reads what people edit while the daemon runs,
//! without a restart and without dropping mail in flight. A file that fails to load is logged
//! and the previous version stays in use.

use crate::config::Config;
use crate::mail::templates::Templates;
use crate::workflow::notify::Mailer;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Everything a reload touches.
pub struct Reloadable {
    pub config: Arc<Config>,
    pub mailer: Arc<Mailer>,
    pub procedure: Arc<crate::workflow::Procedure>,
    /// `[directory.ldap]` is read again too (by its refresher, which logs the outcome).
    pub ldap_now: Arc<tokio::sync::Notify>,
    /// The web panel, when it runs: its pages are reloaded like the mail templates.
    pub panel: Option<Arc<crate::panel::Panel>>,
}

impl Reloadable {
    /// Reloads every part; returns how many failed (each is logged).
    pub fn reload(&self) -> usize {
        let mut failures = 0;
        match Templates::load(&self.config.paths.templates) {
            Ok(t) => {
                self.mailer.replace_templates(t);
                info!(dir = %self.config.paths.templates.display(), "templates reloaded");
            }
            Err(e) => {
                failures += 1;
                error!(error = %e, "templates not reloaded; the previous ones stay in use");
            }
        }
        if let Some(panel) = &self.panel {
            match panel.reload_pages() {
                Ok(()) => info!("web panel pages reloaded"),
                Err(e) => {
                    failures += 1;
                    error!(
                        error = format!("{e:#}"),
                        "web panel pages not reloaded; the previous ones stay in use"
                    );
                }
            }
        }
        match self.procedure.reload(&self.config) {
            Ok(()) => info!("service catalogue and directory reloaded"),
            Err(e) => {
                failures += 1;
                error!(
                    error = format!("{e:#}"),
                    "catalogue/directory not reloaded; the previous ones stay in use"
                );
            }
        }
        if self.config.directory.ldap.is_some() {
            self.ldap_now.notify_one();
        }
        failures
    }
}

/// Reloads on every SIGHUP until `cancel` fires.
pub async fn on_sighup(r: Reloadable, cancel: CancellationToken) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGHUP; reload needs a restart");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            got = hup.recv() => if got.is_none() { return },
        }
        info!("SIGHUP received: reloading");
        crate::runtime::systemd::reloading();
        let failures = r.reload();
        crate::runtime::systemd::ready(if failures == 0 {
            "reloaded"
        } else {
            "reload failed; running with the previous files"
        });
    }
}
