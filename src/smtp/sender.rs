//! Drains the outbox: claims due mail, sends it, marks it sent. A permanent refusal (5xx) fails
//! the mail; a temporary one (4xx) retries it later; an unreachable server pauses the whole
//! sender with backoff, logging one line when the outage starts and one when it ends.

use super::transport::Transport;
use crate::imap::backoff::Backoff;
use crate::outage;
use crate::store::{self, outbox, Db};
use chrono::Utc;
use lettre::address::Envelope;
use lettre::AsyncTransport;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Mail claimed but not confirmed within this time is taken again by any sender.
const LEASE_SECS: i64 = 300;
/// Queue re-check without a wake-up: catches mail queued by the CLI or another instance.
const IDLE_CHECK: Duration = Duration::from_secs(2);

pub struct Sender {
    pub db: Db,
    pub transport: Transport,
    pub wake: Arc<Notify>,
}

enum Attempt {
    Sent,
    Outage(String),
}

impl Sender {
    pub async fn run(self, cancel: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        while !cancel.is_cancelled() {
            match self.drain_once(&cancel).await {
                Ok(Some(Attempt::Sent)) => {
                    outage::recovered(outage::Dependency::Smtp);
                    backoff.reset();
                }
                Ok(Some(Attempt::Outage(e))) => {
                    // One line per outage, whether this or the SMTP prober meets it first.
                    outage::failed(outage::Dependency::Smtp, || {
                        error!(error = %e, "SMTP server unavailable; mail stays queued");
                    });
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
                Ok(None) => {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(IDLE_CHECK) => {}
                    }
                }
                Err(e) => {
                    outage::database_failed("outbox sender", &e);
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
        info!("outbox sender stopped");
    }

    /// Sends what is due; `None` when nothing was.
    async fn drain_once(&self, cancel: &CancellationToken) -> Result<Option<Attempt>, sqlx::Error> {
        let now = store::unix(Utc::now());
        let batch = outbox::claim_due(&self.db, now, LEASE_SECS, 50).await?;
        if batch.is_empty() {
            return Ok(None);
        }
        for (i, mail) in batch.iter().enumerate() {
            if cancel.is_cancelled() {
                break;
            }
            let Some(envelope) = envelope(mail) else {
                error!(id = mail.id, to = %mail.recipients, "outbox row has no valid recipient");
                outbox::mark_failed(&self.db, mail.id, "no valid recipient").await?;
                continue;
            };
            match self.transport.send_raw(&envelope, &mail.raw).await {
                Ok(_) => {
                    outbox::mark_sent(&self.db, mail.id, store::unix(Utc::now())).await?;
                    info!(
                        ticket = mail.ticket_id.map(|t| format!("REQ-{t}")),
                        kind = %mail.kind,
                        to = %mail.recipients,
                        message_id = %mail.message_id,
                        "mail sent"
                    );
                }
                Err(e) if e.is_permanent() => {
                    outbox::mark_failed(&self.db, mail.id, &e.to_string()).await?;
                    error!(
                        ticket = mail.ticket_id.map(|t| format!("REQ-{t}")),
                        to = %mail.recipients, error = %e,
                        "mail refused permanently; not retried"
                    );
                }
                Err(e) if e.is_transient() => {
                    let delay = retry_delay(mail.attempts);
                    outbox::mark_retry(&self.db, mail.id, now + delay, &e.to_string()).await?;
                    warn!(to = %mail.recipients, error = %e, retry_in_secs = delay, "mail deferred");
                }
                Err(e) => {
                    // The server itself is unreachable: release everything claimed and wait.
                    for m in &batch[i..] {
                        outbox::mark_retry(&self.db, m.id, now, &e.to_string()).await?;
                    }
                    return Ok(Some(Attempt::Outage(e.to_string())));
                }
            }
        }
        Ok(Some(Attempt::Sent))
    }
}

fn envelope(mail: &outbox::Claimed) -> Option<Envelope> {
    let from = mail.envelope_from.parse().ok();
    let to: Vec<_> = mail
        .recipient_list()
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    Envelope::new(from, to).ok()
}

/// 4xx retries: 1, 2, 4 … minutes, at most an hour apart.
fn retry_delay(attempts: i64) -> i64 {
    60 * (1i64 << attempts.clamp(0, 6))
}
