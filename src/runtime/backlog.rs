//! The mailbox reader's backlog, told to the outbox sender. While more mail waits in the inbox
//! than the reader takes in one round (`[ingest] batch_size`: a burst, the mail of an outage),
//! the sender sends only what someone is waiting for (acknowledgements, questions, answers)
//! and keeps what can wait ([`crate::domain::mail_kind::MailKind::can_wait`]: the agents'
//! notices, SLA alerts, digests) queued until the backlog is taken in, for at most
//! [`MAX_HOLD`].
//!
//! Why: on a small machine the mail server's work for each mail sent competes for the same
//! cores as taking mail in. A request sends 2.4 mails; during a burst of 1,000 requests the
//! notices going out alongside the acknowledgements took the mail server's CPU that the
//! acknowledgements and the intake needed (bench/README.md, "The backlog first"). The agents
//! get the same notices seconds later, once there is nothing left to take in.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The longest what can wait is held back: a backlog of hours (a long outage) must not keep
/// the agents' notices from them until it is worked off.
pub const MAX_HOLD: Duration = Duration::from_secs(30);

pub struct Backlog {
    since: Mutex<Option<Instant>>,
    /// The outbox sender's wake-up: what was held is due again once the backlog is gone.
    outbox_wake: Arc<Notify>,
}

impl Backlog {
    pub fn new(outbox_wake: Arc<Notify>) -> Backlog {
        Backlog {
            since: Mutex::new(None),
            outbox_wake,
        }
    }

    /// The reader found more mail waiting than it takes in one round.
    pub fn found(&self) {
        if let Ok(mut since) = self.since.lock() {
            since.get_or_insert_with(Instant::now);
        }
    }

    /// The reader found no more than one round's worth waiting.
    pub fn gone(&self) {
        let was = self.since.lock().ok().and_then(|mut s| s.take());
        if was.is_some() {
            self.outbox_wake.notify_one();
        }
    }

    /// Whether the sender should keep what can wait queued for now.
    pub fn holds_what_can_wait(&self) -> bool {
        self.holds_at(Instant::now())
    }

    fn holds_at(&self, now: Instant) -> bool {
        self.since
            .lock()
            .ok()
            .and_then(|s| *s)
            .is_some_and(|since| now.saturating_duration_since(since) < MAX_HOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_from_the_backlog_found_until_it_is_gone() {
        let b = Backlog::new(Arc::new(Notify::new()));
        assert!(!b.holds_what_can_wait());
        b.found();
        assert!(b.holds_what_can_wait());
        b.gone();
        assert!(!b.holds_what_can_wait());
    }

    #[test]
    fn holds_no_longer_than_max_hold_however_long_the_backlog() {
        let b = Backlog::new(Arc::new(Notify::new()));
        b.found();
        let start = b.since.lock().unwrap().unwrap();
        // Found again later: the hold still counts from the first time.
        b.found();
        assert!(b.holds_at(start + MAX_HOLD - Duration::from_millis(1)));
        assert!(!b.holds_at(start + MAX_HOLD));
    }

    #[tokio::test]
    async fn the_sender_is_woken_when_the_backlog_is_gone() {
        let wake = Arc::new(Notify::new());
        let b = Backlog::new(wake.clone());
        b.found();
        b.gone();
        // notify_one stores a permit when nobody waits yet.
        tokio::time::timeout(Duration::from_secs(1), wake.notified())
            .await
            .expect("woken");
    }
}
