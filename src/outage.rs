//! One log line when a shared dependency goes down and one when it is back, whichever worker
//! meets it first. The mailbox reader, the outbox sender, the sweeper, the SMTP prober and the
//! mailbox lease all use the database (and two of them SMTP) and all retry with backoff; an
//! operator reads one line per outage, not one per worker and retry. Retries are logged at
//! debug level by the workers themselves.
//!
//! The end of an outage is also news for the workers still waiting out their retry delay for
//! that dependency ([`retry_delay`]): they retry at once instead of after up to half a minute or
//! more (issue 16: the acknowledgements queued during an SMTP outage went out 24 s after the
//! server was found back). This reaches the workers of this process; every instance has its
//! own SMTP prober, which checks every 2 s while SMTP is down, and for the database another
//! instance finds out at its own next try.

use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{debug, error, info};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Database,
    Smtp,
    /// `[directory.ldap]`: the last good directory stays in force while it is down.
    Ldap,
}

impl Dependency {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Dependency::Database => "database",
            Dependency::Smtp => "SMTP server",
            Dependency::Ldap => "LDAP server",
        }
    }
}

static DOWN_SINCE: Mutex<[Option<Instant>; 3]> = Mutex::new([None, None, None]);

/// Per dependency, how many times it went down or came back: a change wakes the workers
/// waiting on it ([`retry_delay`], [`changes`]).
static CHANGES: LazyLock<[watch::Sender<u64>; 3]> = LazyLock::new(|| {
    [
        watch::Sender::new(0),
        watch::Sender::new(0),
        watch::Sender::new(0),
    ]
});

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
    }
    since.is_some()
}

/// The retry delay of a worker that found `dep` unavailable (and said so with [`failed`] or
/// [`database_failed`]): sleeps `delay`, or less — it returns as soon as any worker of this
/// process finds `dep` reachable again, or at once if one did since this worker's failure.
/// The caller keeps its backoff as it is: if the retry fails anyway, the next delay is longer.
pub async fn retry_delay(dep: Dependency, delay: Duration) {
    // Subscribed before looking, so that a recovery between the look and the sleep still
    // wakes this worker.
    let mut changes = changes(dep);
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    while is_down(dep) {
        tokio::select! {
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

/// A database operation of `worker` failed; it retries with backoff. SQLite connections that
/// existed then are replaced (see [`crate::store::sqlite_failed`]).
pub fn database_failed(worker: &str, e: &sqlx::Error) {
    crate::store::sqlite_failed(e);
    let announced = failed(Dependency::Database, || {
        error!(error = %e, worker, "database unavailable; retrying with backoff");
    });
    if !announced {
        debug!(error = %e, worker, "database still unavailable");
    }
}

/// A database write (or, on PostgreSQL, any query) succeeded.
pub fn database_ok() {
    if recovered(Dependency::Database) {
        // SQLite opens a file it cannot write read-only, silently: a connection opened during
        // the outage would fail the next write of whichever worker took it, a second outage
        // line for nothing. Every connection of that time is replaced.
        crate::store::sqlite_reopen_all();
    }
}
