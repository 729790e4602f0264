//! One log line when a shared dependency goes down and one when it is back, whichever worker
//! meets it first. The mailbox reader, the outbox sender, the sweeper, the SMTP prober and the
//! mailbox lease all use the database (and two of them SMTP) and all retry with backoff; an
//! operator reads one line per outage, not one per worker and retry. Retries are logged at
//! debug level by the workers themselves.
//!
//! The end of an outage is also news for the workers still waiting out their retry delay for
//! that dependency ([`retry_delay`]): they retry at once instead of after up to half a minute or
//! more (issue 16: the acknowledgements queued during an SMTP outage went out 24 s after the
//! server was found back). On PostgreSQL the news also reaches the other instances
//! (`crate::runtime::news`, over LISTEN/NOTIFY): [`found_back`] is published, and what another
//! instance found is [`heard_back`] here, waking the same waits.

use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::info;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Database,
    Smtp,
    /// The IMAP mailbox. Its outages are the reader's own (`imap::watcher`); only its end is
    /// news here, for a standby that found the mailbox unreachable.
    Mailbox,
    /// `[directory.ldap]`: the last good directory stays in force while it is down.
    Ldap,
}

const DEPENDENCIES: usize = 4;

impl Dependency {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Dependency::Database => "database",
            Dependency::Smtp => "SMTP server",
            Dependency::Mailbox => "IMAP mailbox",
            Dependency::Ldap => "LDAP server",
        }
    }

    pub const ALL: [Dependency; DEPENDENCIES] = [
        Dependency::Database,
        Dependency::Smtp,
        Dependency::Mailbox,
        Dependency::Ldap,
    ];

    /// Its name in the news between instances and in log fields.
    pub fn key(self) -> &'static str {
        match self {
            Dependency::Database => "database",
            Dependency::Smtp => "smtp",
            Dependency::Mailbox => "mailbox",
            Dependency::Ldap => "ldap",
        }
    }

    pub fn from_key(key: &str) -> Option<Dependency> {
        Dependency::ALL.into_iter().find(|d| d.key() == key)
    }
}

static DOWN_SINCE: Mutex<[Option<Instant>; DEPENDENCIES]> = Mutex::new([None; DEPENDENCIES]);

/// Per dependency, how many times it went down or came back: a change wakes the workers
/// waiting on it ([`retry_delay`], [`changes`]).
static CHANGES: LazyLock<[watch::Sender<u64>; DEPENDENCIES]> =
    LazyLock::new(|| std::array::from_fn(|_| watch::Sender::new(0)));

/// Per dependency, ticks when it is found reachable again, by this process or by another
/// instance: ends the waits of [`retry_delay`] and [`delay_unless_back`].
static BACK: LazyLock<[watch::Sender<u64>; DEPENDENCIES]> =
    LazyLock::new(|| std::array::from_fn(|_| watch::Sender::new(0)));

/// Per dependency, ticks when this process found it reachable again: news for the other
/// instances ([`found`]).
static FOUND: LazyLock<[watch::Sender<u64>; DEPENDENCIES]> =
    LazyLock::new(|| std::array::from_fn(|_| watch::Sender::new(0)));

fn tick(s: &watch::Sender<u64>) {
    s.send_modify(|n| *n = n.wrapping_add(1));
}

/// This process found `dep` reachable again after failing to reach it: its workers waiting
/// for `dep` retry now, and the other instances are told.
pub fn found_back(dep: Dependency) {
    tick(&FOUND[dep.index()]);
    tick(&BACK[dep.index()]);
}

/// Another instance found `dep` reachable again: the workers of this process waiting for it
/// retry now. Whether it is back for this instance too, their retry tells; the outage line
/// ("… reachable again") is theirs to write.
pub fn heard_back(dep: Dependency) {
    tick(&BACK[dep.index()]);
}

/// Ticks whenever this process finds `dep` reachable again (for the news to other instances).
pub fn found(dep: Dependency) -> watch::Receiver<u64> {
    FOUND[dep.index()].subscribe()
}

/// Ticks whenever `dep` is found reachable again, by this process or another instance.
pub fn back(dep: Dependency) -> watch::Receiver<u64> {
    BACK[dep.index()].subscribe()
}

/// Sleeps `delay`, or less: returns when `dep` is found reachable again, here or by another
/// instance. For waits whose outage is not tracked here (the mailbox).
pub async fn delay_unless_back(dep: Dependency, delay: Duration) {
    let mut back = BACK[dep.index()].subscribe();
    tokio::select! {
        r = back.changed() => {
            if r.is_err() {
                tokio::time::sleep(delay).await;
            }
        }
        _ = tokio::time::sleep(delay) => {}
    }
}

fn changed(dep: Dependency) {
    CHANGES[dep.index()].send_modify(|n| *n = n.wrapping_add(1));
}

/// Ticks whenever an outage of `dep` starts or ends, for a worker that probes more often
/// while `dep` is down (the SMTP prober).
pub fn changes(dep: Dependency) -> watch::Receiver<u64> {
    CHANGES[dep.index()].subscribe()
}

/// `dep` failed. Runs `announce` (the outage's one line) only when this starts an outage;
/// returns whether it did.
pub fn failed(dep: Dependency, announce: impl FnOnce()) -> bool {
    let started = match DOWN_SINCE.lock() {
        Ok(mut s) => {
            let slot = &mut s[dep.index()];
            let new = slot.is_none();
            slot.get_or_insert_with(Instant::now);
            new
        }
        Err(_) => true,
    };
    if started {
        announce();
        changed(dep);
    }
    started
}

/// Whether `dep` is known to be down.
pub fn is_down(dep: Dependency) -> bool {
    DOWN_SINCE
        .lock()
        .map(|s| s[dep.index()].is_some())
        .unwrap_or(false)
}

/// `dep` worked; logs the end of its outage if there was one, and returns whether there was.
pub fn recovered(dep: Dependency) -> bool {
    let since = match DOWN_SINCE.lock() {
        Ok(mut s) => s[dep.index()].take(),
        Err(_) => None,
    };
    if let Some(since) = since {
        info!(
            outage_secs = since.elapsed().as_secs(),
            "{} reachable again",
            dep.name()
        );
        // After the line, so that whatever the woken workers log comes after it.
        changed(dep);
        found_back(dep);
    }
    since.is_some()
}

/// The retry delay of a worker that found `dep` unavailable (and said so with [`failed`] or
/// [`crate::store::database_failed`]): sleeps `delay`, or less — it returns as soon as any worker of this
/// process (or, on PostgreSQL, another instance) finds `dep` reachable again, or at once if a
/// worker of this process did since this worker's failure.
/// The caller keeps its backoff as it is: if the retry fails anyway, the next delay is longer.
pub async fn retry_delay(dep: Dependency, delay: Duration) {
    // Subscribed before looking, so that a recovery between the look and the sleep still
    // wakes this worker.
    let mut changes = changes(dep);
    let mut back = BACK[dep.index()].subscribe();
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    while is_down(dep) {
        tokio::select! {
            // Another instance found it back: retry now (this worker's own outage line, if
            // it is back for this instance too, comes from its retry).
            r = back.changed() => {
                if r.is_err() {
                    sleep.as_mut().await;
                }
                return;
            }
            r = changes.changed() => {
                if r.is_err() {
                    // Cannot happen (the sender is a static), but must not spin if it did.
                    sleep.as_mut().await;
                    return;
                }
            }
            _ = sleep.as_mut() => return,
        }
    }
}
