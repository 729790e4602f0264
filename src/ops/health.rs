//! What the daemon knows about the systems it depends on, for `/healthz`, readiness and alerts.
//! The workers report here (the IMAP reader, the SMTP sender and prober); the database is
//! checked live on each request.

use std::sync::{LazyLock, Mutex};
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not tried yet.
    Unknown,
    Ok,
    /// Another instance reads the mailbox; this one waits (PostgreSQL only).
    Standby,
    Failed {
        reason: String,
        /// A refused login or token: no retry will fix it, a person must.
        auth: bool,
        since: chrono::DateTime<chrono::Utc>,
    },
}

impl State {
    pub fn is_healthy(&self) -> bool {
        matches!(self, State::Ok | State::Standby)
    }
    pub fn describe(&self) -> String {
        match self {
            State::Unknown => "error: not checked yet".into(),
            State::Ok => "ok".into(),
            State::Standby => "ok (standby: another instance reads the mailbox)".into(),
            State::Failed { reason, auth, .. } => {
                if *auth {
                    format!("error: login refused: {reason}")
                } else {
                    format!("error: {reason}")
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Mailbox,
    Smtp,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Component::Mailbox => "mailbox",
            Component::Smtp => "smtp",
        }
    }
}

struct Health {
    mailbox: Mutex<State>,
    smtp: Mutex<State>,
    /// Ticks on every change, so readiness and alerts react at once.
    changed: watch::Sender<u64>,
    mailbox_reached: watch::Sender<bool>,
}

static HEALTH: LazyLock<Health> = LazyLock::new(|| Health {
    mailbox: Mutex::new(State::Unknown),
    smtp: Mutex::new(State::Unknown),
    changed: watch::channel(0).0,
    mailbox_reached: watch::channel(false).0,
});

fn slot(c: Component) -> &'static Mutex<State> {
    match c {
        Component::Mailbox => &HEALTH.mailbox,
        Component::Smtp => &HEALTH.smtp,
    }
}

pub fn get(c: Component) -> State {
    slot(c).lock().map(|s| s.clone()).unwrap_or(State::Unknown)
}

fn set(c: Component, new: State) {
    let changed = {
        let Ok(mut s) = slot(c).lock() else { return };
        // A continuing failure keeps the time it started.
        let new = match (&*s, new) {
            (
                State::Failed {
                    reason: _,
                    auth: a0,
                    since,
                },
                State::Failed { reason, auth, .. },
            ) if *a0 == auth => State::Failed {
                reason,
                auth,
                since: *since,
            },
            (_, n) => n,
        };
        let changed = *s != new;
        *s = new;
        changed
    };
    if c == Component::Mailbox && get(c).is_healthy() {
        HEALTH.mailbox_reached.send_replace(true);
    }
    if changed {
        HEALTH.changed.send_modify(|n| *n += 1);
    }
}

pub fn ok(c: Component) {
    set(c, State::Ok);
}

pub fn standby() {
    set(Component::Mailbox, State::Standby);
}

pub fn failed(c: Component, reason: impl Into<String>, auth: bool) {
    set(
        c,
        State::Failed {
            reason: reason.into(),
            auth,
            since: chrono::Utc::now(),
        },
    );
}

/// Resolves once the mailbox has been reached (logged in) at least once.
pub async fn mailbox_reached() {
    let mut rx = HEALTH.mailbox_reached.subscribe();
    let _ = rx.wait_for(|r| *r).await;
}

/// A receiver that changes whenever a component's state does.
pub fn subscribe() -> watch::Receiver<u64> {
    HEALTH.changed.subscribe()
}

/// Components whose login is being refused, with the reason and since when.
pub fn auth_failures() -> Vec<(Component, String, chrono::DateTime<chrono::Utc>)> {
    [Component::Mailbox, Component::Smtp]
        .into_iter()
        .filter_map(|c| match get(c) {
            State::Failed {
                reason,
                auth: true,
                since,
            } => Some((c, reason, since)),
            _ => None,
        })
        .collect()
}

/// The web panel's listener (`[web] listen`), for `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PanelState {
    /// Not configured (the default), or not started yet.
    Disabled,
    Listening(String),
    /// Configured but not serving: its pages did not load or its address is taken.
    Failed(String),
}

static PANEL: Mutex<PanelState> = Mutex::new(PanelState::Disabled);

fn set_panel(state: PanelState) {
    if let Ok(mut p) = PANEL.lock() {
        *p = state;
    }
}

/// The panel accepts connections on `addr`.
pub fn panel_listening(addr: &str) {
    set_panel(PanelState::Listening(addr.to_owned()));
}

/// The panel was configured and is not serving, for `reason`.
pub fn panel_failed(reason: impl Into<String>) {
    set_panel(PanelState::Failed(reason.into()));
}

/// The panel's line of the report, and whether it is healthy: a panel that is configured but
/// not serving is a fault an operator must fix (people get links they cannot open).
pub fn panel_line() -> (bool, String) {
    match PANEL.lock().map(|p| p.clone()) {
        Ok(PanelState::Disabled) => (true, "disabled (web.listen is empty)".into()),
        Ok(PanelState::Listening(addr)) => (true, format!("ok (listening on {addr})")),
        Ok(PanelState::Failed(reason)) => (false, format!("error: {reason}")),
        Err(_) => (false, "error: state unreadable".into()),
    }
}
