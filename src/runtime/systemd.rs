//! The systemd notify protocol (`Type=notify`): READY=1 once the database and the mailbox were
//! reached, STATUS= lines, RELOADING=1 around a SIGHUP reload, STOPPING=1 on shutdown, and
//! WATCHDOG=1 at half the `WatchdogSec=` interval. Outside systemd (no NOTIFY_SOCKET) every
//! call is a no-op.

use sd_notify::NotifyState;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "cannot notify systemd");
    }
}

pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

pub fn ready(text: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(text)]);
}

pub fn reloading() {
    // systemd 253+ wants MONOTONIC_USEC with RELOADING=1; older versions ignore it.
    match NotifyState::monotonic_usec_now() {
        Ok(m) => send(&[NotifyState::Reloading, m]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// READY=1 as soon as the mailbox was reached once (the database already was, or the daemon
/// would not have started); until then STATUS= tells what it waits for.
pub async fn ready_when_reachable(mailbox: String, cancel: CancellationToken) {
    status(&format!("waiting for the mailbox {mailbox}"));
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = crate::ops::health::mailbox_reached() => {}
    }
    let text = format!("database and mailbox {mailbox} reachable");
    ready(&text);
    info!("ready: {text}");
}

/// Pets the watchdog while the runtime is alive and the database answers within the interval.
pub async fn watchdog(db: crate::store::Db, cancel: CancellationToken) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let period = (interval / 2).max(Duration::from_millis(100));
    info!(
        interval_secs = interval.as_secs_f64(),
        "systemd watchdog enabled"
    );
    loop {
        // A database that hangs (not one that refuses) is the one stall a restart can cure.
        let alive = tokio::time::timeout(period, db.ping()).await;
        match alive {
            Err(_) => warn!("database did not answer within the watchdog period"),
            Ok(_) => send(&[NotifyState::Watchdog]),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
    }
}
