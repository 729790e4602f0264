//! One PostgreSQL connection ended while the database stays reachable: the server ended the
//! session (idle in its transaction too long after a network hiccup, `idle_session_timeout`) or
//! a firewall dropped it, and the keepalive of `crate::tcp` found it dead. That is not an
//! outage: the worker retries at once on another connection, with a warning once the retry
//! succeeded ([`reported_on_success`]). Only when
//! [`IN_A_ROW_BEFORE_OUTAGE`] connections in a row are lost, with no success between them, is
//! it one (a proxy resetting every connection must not make the workers spin).
//!
//! Issue 16's chaos run: a slowed loopback made PostgreSQL end three sessions per instance,
//! each reported as a separate "database unavailable" outage, three ERROR lines for one fault.

use std::sync::atomic::{AtomicU32, Ordering};

pub const IN_A_ROW_BEFORE_OUTAGE: u32 = 5;

static IN_A_ROW: InARow = InARow(AtomicU32::new(0));

/// Lost connections since the database last answered.
struct InARow(AtomicU32);

impl InARow {
    fn count(&self) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed) < IN_A_ROW_BEFORE_OUTAGE
    }

    fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// Whether `e` says that this one connection is gone rather than that the database failed.
pub fn is_lost_connection(e: &sqlx::Error) -> bool {
    use std::io::ErrorKind::*;
    match e {
        sqlx::Error::Io(io) => matches!(
            io.kind(),
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | TimedOut
        ),
        // PostgreSQL: idle_in_transaction_session_timeout, idle_session_timeout.
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("25P03" | "57P05")),
        _ => false,
    }
}

/// Counts a lost connection; whether it still counts as one (retry at once) rather than as
/// the start of an outage.
pub fn tolerated() -> bool {
    IN_A_ROW.count()
}

/// The database answered: the count starts again.
pub fn reset() {
    IN_A_ROW.reset();
}

/// A lost connection waits here until it is known not to be an outage's first sign: the next
/// success reports it (one WARN), an outage's ERROR covers it. Reported at once, a PostgreSQL
/// stop whose first sign was a reset connection (rather than the server's goodbye) gave a
/// WARN and an ERROR for one outage.
static HELD: Held = Held {
    any: std::sync::atomic::AtomicBool::new(false),
    slot: std::sync::Mutex::new(None),
};

/// Lost connections not reported yet: how many, and the last one's error and worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreported {
    pub lost: u32,
    pub error: String,
    pub worker: String,
}

struct Held {
    /// Whether `slot` holds something: read without the lock, since every success asks.
    any: std::sync::atomic::AtomicBool,
    slot: std::sync::Mutex<Option<Unreported>>,
}

impl Held {
    fn hold(&self, error: String, worker: &str) {
        if let Ok(mut u) = self.slot.lock() {
            let lost = u.as_ref().map_or(0, |u| u.lost) + 1;
            *u = Some(Unreported {
                lost,
                error,
                worker: worker.to_owned(),
            });
            self.any.store(true, Ordering::Relaxed);
        }
    }

    fn take(&self) -> Option<Unreported> {
        if !self.any.swap(false, Ordering::Relaxed) {
            return None;
        }
        self.slot.lock().ok().and_then(|mut u| u.take())
    }
}

/// Keeps a lost connection for [`reported_on_success`] or [`covered_by_outage`].
pub fn hold(error: &sqlx::Error, worker: &str) {
    HELD.hold(error.to_string(), worker);
}

/// The database answered: the lost connections held, if any, to report now.
pub fn reported_on_success() -> Option<Unreported> {
    HELD.take()
}

/// An outage began: the lost connections held were its first signs, said by its own line.
pub fn covered_by_outage() -> Option<Unreported> {
    HELD.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_or_an_end_of_stream_is_a_lost_connection_and_a_refusal_is_not() {
        use std::io::ErrorKind::*;
        let io = |k| sqlx::Error::Io(std::io::Error::from(k));
        assert!(is_lost_connection(&io(ConnectionReset)));
        assert!(is_lost_connection(&io(BrokenPipe)));
        assert!(is_lost_connection(&io(UnexpectedEof)));
        // Refused: nothing listens, the database is down.
        assert!(!is_lost_connection(&io(ConnectionRefused)));
        assert!(!is_lost_connection(&sqlx::Error::PoolTimedOut));
    }

    #[test]
    fn lost_connections_in_a_row_become_an_outage_and_a_success_starts_again() {
        // Its own count: the process's is touched by every test that uses a database.
        let lost = InARow(AtomicU32::new(0));
        for _ in 0..IN_A_ROW_BEFORE_OUTAGE {
            assert!(lost.count());
        }
        assert!(!lost.count());
        lost.reset();
        assert!(lost.count());
    }

    #[test]
    fn lost_connections_are_held_until_a_success_or_an_outage_says_what_they_were() {
        let held = Held {
            any: std::sync::atomic::AtomicBool::new(false),
            slot: std::sync::Mutex::new(None),
        };
        assert_eq!(held.take(), None);
        held.hold("reset".into(), "outbox");
        held.hold("eof".into(), "mailbox lease");
        let u = held.take().expect("held");
        assert_eq!(
            (u.lost, u.error.as_str(), u.worker.as_str()),
            (2, "eof", "mailbox lease")
        );
        // Said once.
        assert_eq!(held.take(), None);
    }
}
