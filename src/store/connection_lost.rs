//! One PostgreSQL connection ended while the database stays reachable: the server ended the
//! session (idle in its transaction too long after a network hiccup, `idle_session_timeout`) or
//! a firewall dropped it, and the keepalive of `crate::tcp` found it dead. That is not an
//! outage: the worker retries at once on another connection, with a warning. Only when
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
}
