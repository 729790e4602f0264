//! One log line when a shared dependency goes down and one when it is back, whichever worker
//! meets it first. The mailbox reader, the outbox sender, the sweeper, the SMTP prober and the
//! mailbox lease all use the database (and two of them SMTP) and all retry with backoff; an
//! operator reads one line per outage, not one per worker and retry. Retries are logged at
//! debug level by the workers themselves.

use std::sync::Mutex;
use std::time::Instant;
use tracing::{debug, error, info};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Database,
    Smtp,
}

impl Dependency {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Dependency::Database => "database",
            Dependency::Smtp => "SMTP server",
        }
    }
}

static DOWN_SINCE: Mutex<[Option<Instant>; 2]> = Mutex::new([None, None]);

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
    }
    since.is_some()
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
