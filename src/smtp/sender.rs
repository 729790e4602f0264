//! Drains the outbox: claims due mail, sends it, marks it sent. A permanent refusal (5xx) fails
//! the mail; a temporary one (4xx) retries it later, and fails it after `[smtp] max_attempts`;
//! an unreachable server pauses the whole sender with backoff, logging one line when the outage
//! starts and one when it ends, and uses up no mail's attempts.

use super::transport::Transport;
use crate::domain::mail_kind::MailKind;
use crate::domain::ticket::TicketNumber;
use crate::ops::backoff::Backoff;
use crate::ops::outage;
use crate::store::{self, outbox, Db};
use chrono::Utc;
use futures::stream::{FuturesUnordered, StreamExt};
use lettre::address::Envelope;
use lettre::AsyncTransport;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How long a claim on queued mail lasts unless renewed (PostgreSQL, several instances): a
/// frozen instance (SIGSTOP, a paused VM) keeps its database sessions, so its claims are taken
/// over only once they run out; short claims keep the mail it held from waiting long.
const CLAIM_SECS: i64 = 8;
/// How often the claims of a batch in hand are renewed while it is being sent: well within
/// `CLAIM_SECS`, so that only an instance that stopped (or lost the database) loses them, not
/// one waiting for a slow SMTP server.
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// A mail is handed to the SMTP server only while, by this instance's own clocks, at least this
/// much of its claim is left; otherwise the claim is renewed first (or found taken over).
const CLAIM_MARGIN_SECS: i64 = 4;
/// SQLite: a single instance, so nobody else can take mail over; claimed once for the longest
/// a batch may take, and not renewed.
const SINGLE_INSTANCE_CLAIM_SECS: i64 = 300;
/// Queue re-check without a wake-up: catches mail queued by the CLI or another instance.
const IDLE_CHECK: Duration = Duration::from_secs(2);
/// Mails claimed at once.
const CLAIM_BATCH: i64 = 50;
/// Mails in flight at once, each on its own pooled SMTP connection (lettre's pool keeps up to
/// 10). A connection spends most of its time waiting for the server's replies, one round trip
/// per command, so a few in parallel multiply the rate against a distant server.
const SEND_CONCURRENCY: usize = 4;
/// The longest one mail may take, connection and login included.
const SEND_TIMEOUT: Duration = Duration::from_secs(300);
/// Pause before claiming again after SQLite said the database was busy.
const BUSY_RETRY: Duration = Duration::from_millis(10);

pub struct Sender {
    pub db: Db,
    pub transport: Transport,
    pub wake: Arc<Notify>,
    /// While the mailbox reader works off a backlog, what can wait stays queued.
    pub backlog: Arc<crate::runtime::backlog::Backlog>,
    pub retry: RetryPolicy,
    /// Mail the SMTP server accepted but whose "sent" the database did not take (it went away
    /// in between), with when it was accepted. Written before anything else is claimed once the
    /// database answers again: left to its claim, which runs out meanwhile, the mail would be
    /// sent a second time.
    pub unrecorded: std::sync::Mutex<Vec<(i64, i64)>>,
}

/// How long a mail the server refuses temporarily (4xx) keeps being tried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Refusals after which the mail is marked failed.
    pub max_attempts: i64,
    /// Wait after the first refusal, in seconds; doubled each time, at most an hour.
    pub first_delay_secs: i64,
}

impl RetryPolicy {
    pub fn from_config(c: &crate::config::SmtpConfig) -> RetryPolicy {
        RetryPolicy {
            max_attempts: i64::from(c.max_attempts),
            first_delay_secs: i64::try_from(c.retry_delay_secs).unwrap_or(i64::MAX),
        }
    }

    /// The wait before the next try of a mail refused `attempts` times (this one included).
    fn delay(&self, attempts: i64) -> i64 {
        const MAX: i64 = 3600;
        let doubled = self
            .first_delay_secs
            .saturating_mul(1i64 << (attempts - 1).clamp(0, 12));
        doubled.min(MAX.max(self.first_delay_secs))
    }
}

enum Attempt {
    Sent,
    Outage(String),
}

impl Sender {
    pub async fn run(self, cancel: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut sent = false;
        while !cancel.is_cancelled() {
            match self.drain_once(&cancel).await {
                Ok(Some(Attempt::Sent)) => {
                    outage::recovered(outage::Dependency::Smtp);
                    backoff.reset();
                    sent = true;
                }
                Ok(Some(Attempt::Outage(e))) => {
                    // One line per outage, whether this or the SMTP prober meets it first.
                    outage::failed(outage::Dependency::Smtp, || {
                        error!(error = %e, "SMTP server unavailable; mail stays queued");
                    });
                    // Cut short when the SMTP prober finds the server back first.
                    let delay = backoff.next_delay();
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = outage::retry_delay(outage::Dependency::Smtp, delay) => {}
                    }
                }
                Ok(None) => {
                    // Mail held back for a backlog is not a queue emptied: the burst goes on.
                    if !self.backlog.holds_what_can_wait() && std::mem::take(&mut sent) {
                        // The queue is empty after a burst: its memory goes back.
                        crate::ops::memory::release(&self.db).await;
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(IDLE_CHECK) => {}
                    }
                }
                Err(e) if store::is_busy(&e) => {
                    // Another writer (the reader committing a mail) got in between; not an
                    // outage, so no backoff: mail must not wait seconds for nothing.
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(BUSY_RETRY) => {}
                    }
                }
                Err(e) => {
                    crate::store::database_failed("outbox sender", &e);
                    // Cut short when another worker (the reader taking mail in) finds the
                    // database back first.
                    let delay = backoff.next_delay();
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = outage::retry_delay(outage::Dependency::Database, delay) => {}
                    }
                }
            }
        }
        info!("outbox sender stopped");
    }

    /// Sends what is due; `None` when nothing was. What someone waits for is all handed over
    /// before what can wait starts ([`waiting_first`]); within each, mails of different
    /// tickets go out in parallel (up to `SEND_CONCURRENCY`, each on its own pooled
    /// connection), those of one ticket one after another, in the order claimed.
    async fn drain_once(&self, cancel: &CancellationToken) -> Result<Option<Attempt>, sqlx::Error> {
        self.record_unrecorded().await?;
        let now = store::unix(Utc::now());
        let shared = self.db.dialect().is_shared();
        let claim_secs = if shared {
            CLAIM_SECS
        } else {
            SINGLE_INSTANCE_CLAIM_SECS
        };
        let started = Instant::now();
        let which = if self.backlog.holds_what_can_wait() {
            outbox::Which::Awaited
        } else {
            outbox::Which::Any
        };
        let batch = outbox::claim_due(&self.db, now, claim_secs, CLAIM_BATCH, which).await?;
        if batch.is_empty() {
            return Ok(None);
        }
        let hand = Hand::new(shared, &batch, now + claim_secs, started);
        let outage = std::sync::Mutex::new(None::<String>);
        let work = async {
            let [first, later] = waiting_first(batch);
            let first = self.send_part(first, now, cancel, &outage, &hand).await;
            let later = self.send_part(later, now, cancel, &outage, &hand).await;
            first.and(later)
        };
        // Renewed while the batch is in flight, a long send included, so that the mail in hand
        // is taken over only from an instance that stopped.
        let renewing = async {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                // A failure is not reported here: the check before each mail renews again and
                // reports it, and a mail already with the SMTP server cannot be called back.
                let _ = hand.renew(&self.db).await;
            }
        };
        let result = if shared {
            tokio::select! {
                r = work => r,
                () = renewing => unreachable!("renews until the batch is done"),
            }
        } else {
            work.await
        };
        result?;
        let outage = outage.lock().map(|mut o| o.take()).unwrap_or(None);
        Ok(Some(match outage {
            Some(e) => Attempt::Outage(e),
            None => Attempt::Sent,
        }))
    }

    /// Writes down as sent what the SMTP server accepted while the database was away; those
    /// it still cannot are kept for the next attempt.
    async fn record_unrecorded(&self) -> Result<(), sqlx::Error> {
        let waiting = std::mem::take(&mut *self.unrecorded_list());
        let mut waiting = waiting.into_iter();
        while let Some((id, at)) = waiting.next() {
            if let Err(e) = outbox::mark_sent(&self.db, id, at).await {
                let mut list = self.unrecorded_list();
                list.push((id, at));
                list.extend(waiting);
                return Err(e);
            }
            info!(
                outbox = id,
                "mail accepted while the database was unavailable recorded as sent"
            );
        }
        Ok(())
    }

    fn unrecorded_list(&self) -> std::sync::MutexGuard<'_, Vec<(i64, i64)>> {
        // Plain data: a panic elsewhere while it was held leaves nothing half-written.
        self.unrecorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends one ticket's mails in order. Once the server is found unreachable (here or in a
    /// parallel group), what is left is released for a later attempt.
    /// Sends `part` by ticket, up to `SEND_CONCURRENCY` tickets at a time; the first error,
    /// once every group has had its turn.
    async fn send_part(
        &self,
        part: Vec<outbox::Claimed>,
        now: i64,
        cancel: &CancellationToken,
        outage: &std::sync::Mutex<Option<String>>,
        hand: &Hand,
    ) -> Result<(), sqlx::Error> {
        let mut groups = by_ticket(part).into_iter();
        let mut running = FuturesUnordered::new();
        let mut result = Ok(());
        loop {
            while running.len() < SEND_CONCURRENCY {
                match groups.next() {
                    Some(g) => running.push(self.send_group(g, now, cancel, outage, hand)),
                    None => break,
                }
            }
            match running.next().await {
                Some(Err(e)) if result.is_ok() => result = Err(e),
                Some(_) => {}
                None => break,
            }
        }
        result
    }

    async fn send_group(
        &self,
        group: Vec<outbox::Claimed>,
        now: i64,
        cancel: &CancellationToken,
        outage: &std::sync::Mutex<Option<String>>,
        hand: &Hand,
    ) -> Result<(), sqlx::Error> {
        for (i, mail) in group.iter().enumerate() {
            if cancel.is_cancelled() {
                break;
            }
            let down = outage.lock().ok().and_then(|o| o.clone());
            let down = match down {
                Some(e) => Some(e),
                None => {
                    if !hand.still_mine(&self.db, mail.id).await? {
                        // This instance stopped long enough for its claim to run out (frozen,
                        // paused): another one may be sending the mail already. The rest of
                        // the ticket's mail is left for whoever sends this one, in order; what
                        // is still claimed here runs out within seconds.
                        info!(
                            outbox = mail.id,
                            ticket = mail.ticket_id.map(|t| TicketNumber(t).to_string()),
                            "queued mail no longer claimed by this instance (it was stopped); \
                             not sent from here"
                        );
                        for m in &group[i..] {
                            hand.forget(m.id);
                        }
                        break;
                    }
                    let down = self.send_one(mail, now).await;
                    hand.forget(mail.id);
                    down?
                }
            };
            if let Some(e) = down {
                // Not tried (or refused before it was offered): no attempt is counted.
                for m in &group[i..] {
                    hand.forget(m.id);
                    outbox::release(&self.db, m.id, &e).await?;
                }
                if let Ok(mut o) = outage.lock() {
                    o.get_or_insert(e);
                }
                break;
            }
        }
        Ok(())
    }

    /// Sends one mail and records the outcome; `Some(error)` when the server is unreachable
    /// (the mail itself is then left to the caller).
    async fn send_one(
        &self,
        mail: &outbox::Claimed,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let Some(envelope) = envelope(mail) else {
            error!(outbox = mail.id, to = %mail.recipients, "outbox row has no valid recipient");
            outbox::mark_failed(&self.db, mail.id, "no valid recipient").await?;
            return Ok(None);
        };
        let sent =
            tokio::time::timeout(SEND_TIMEOUT, self.transport.send_raw(&envelope, &mail.raw));
        let Ok(sent) = sent.await else {
            // A server that stops answering mid-mail must not hold the sender for ever; the
            // mail is released and sent again later (it may then arrive twice, same Message-ID).
            return Ok(Some(format!(
                "SMTP server {} did not answer within {} s",
                self.transport.address(),
                SEND_TIMEOUT.as_secs()
            )));
        };
        match sent {
            Ok(_) => {
                let at = store::unix(Utc::now());
                if let Err(e) = outbox::mark_sent(&self.db, mail.id, at).await {
                    warn!(
                        outbox = mail.id,
                        ticket = mail.ticket_id.map(|t| TicketNumber(t).to_string()),
                        error = %e,
                        "mail sent but not recorded as sent (database unavailable); recorded \
                         as soon as the database answers"
                    );
                    self.unrecorded_list().push((mail.id, at));
                    return Err(e);
                }
                info!(
                    ticket = mail.ticket_id.map(|t| TicketNumber(t).to_string()),
                    kind = %mail.kind,
                    to = %mail.recipients,
                    message_id = %mail.message_id,
                    "mail sent"
                );
            }
            Err(e) if e.is_permanent() => {
                outbox::mark_failed(&self.db, mail.id, &e.to_string()).await?;
                error!(
                    ticket = mail.ticket_id.map(|t| TicketNumber(t).to_string()),
                    to = %mail.recipients, error = %e,
                    "mail refused permanently; not retried"
                );
            }
            // 421 closes the connection for every mail ("service not available"): the server
            // is unavailable, not refusing this mail.
            Err(e) if e.is_transient() && !e.is_service_unavailable() => {
                let attempts = mail.attempts + 1;
                if attempts >= self.retry.max_attempts {
                    outbox::mark_failed(&self.db, mail.id, &e.to_string()).await?;
                    warn!(
                        outbox = mail.id,
                        ticket = mail.ticket_id.map(|t| TicketNumber(t).to_string()),
                        to = %mail.recipients,
                        attempts,
                        error = %e,
                        "mail refused temporarily too many times; marked failed \
                         (`mesayuda outbox retry ID` sends it again)"
                    );
                } else {
                    let delay = self.retry.delay(attempts);
                    outbox::mark_retry(&self.db, mail.id, now + delay, &e.to_string()).await?;
                    warn!(
                        outbox = mail.id,
                        to = %mail.recipients,
                        attempts,
                        error = %e,
                        retry_in_secs = delay,
                        "mail deferred"
                    );
                }
            }
            // The server itself is unreachable: everything claimed is released and we wait.
            Err(e) => return Ok(Some(e.to_string())),
        }
        Ok(None)
    }
}

/// The mail a sender has claimed and not yet dealt with, and how long, by its own clocks, its
/// claim on it lasts.
struct Hand {
    /// Renewed at all: only where other instances could take the mail over.
    shared: bool,
    state: std::sync::Mutex<HandState>,
    /// One renewal at a time: mails checked together wait for the same one.
    renewing: tokio::sync::Mutex<()>,
}

struct HandState {
    held: HashSet<i64>,
    /// The claim's end as written (wall clock, Unix seconds)...
    until: i64,
    /// ...and when the statement that wrote it was sent (monotonic): whichever clock says the
    /// claim may be running out, it is renewed before a mail goes out.
    since: Instant,
}

impl HandState {
    fn fresh(&self) -> bool {
        let wall = store::unix(Utc::now());
        let elapsed = i64::try_from(self.since.elapsed().as_secs()).unwrap_or(i64::MAX);
        wall.saturating_add(CLAIM_MARGIN_SECS) <= self.until
            && elapsed.saturating_add(CLAIM_MARGIN_SECS) < CLAIM_SECS
    }
}

impl Hand {
    fn new(shared: bool, batch: &[outbox::Claimed], until: i64, since: Instant) -> Hand {
        Hand {
            shared,
            state: std::sync::Mutex::new(HandState {
                held: batch.iter().map(|m| m.id).collect(),
                until,
                since,
            }),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HandState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Dealt with (or given up): no longer renewed.
    fn forget(&self, id: i64) {
        self.lock().held.remove(&id);
    }

    /// Renews the claims in hand; those another instance took over leave it.
    async fn renew(&self, db: &Db) -> Result<(), sqlx::Error> {
        let _one = self.renewing.lock().await;
        self.renew_now(db).await
    }

    async fn renew_now(&self, db: &Db) -> Result<(), sqlx::Error> {
        let ids: Vec<i64> = self.lock().held.iter().copied().collect();
        let since = Instant::now();
        let now = store::unix(Utc::now());
        let kept = outbox::renew_claims(db, store::instance_name(), &ids, now, CLAIM_SECS).await?;
        let kept: HashSet<i64> = kept.into_iter().collect();
        let mut state = self.lock();
        // Mails dealt with meanwhile stay out.
        state.held.retain(|id| kept.contains(id));
        state.until = now + CLAIM_SECS;
        state.since = since;
        Ok(())
    }

    /// Whether this instance may hand `id` to the SMTP server now: its claim is still its own
    /// and, by its own clocks, not about to run out (renewed first when it might).
    async fn still_mine(&self, db: &Db, id: i64) -> Result<bool, sqlx::Error> {
        if !self.shared {
            return Ok(true);
        }
        {
            let state = self.lock();
            if !state.held.contains(&id) || state.fresh() {
                return Ok(state.held.contains(&id));
            }
        }
        let _one = self.renewing.lock().await;
        if !self.lock().fresh() {
            self.renew_now(db).await?;
        }
        Ok(self.lock().held.contains(&id))
    }
}

/// The batch in two parts, each in the order claimed: what someone waits for, then what can
/// wait ([`MailKind::can_wait`]). The second part starts once the first is handed over: sent
/// as one, a ticket's group (its acknowledgement, then its notices) went on with its notices
/// while another connection still had an acknowledgement to send.
fn waiting_first(batch: Vec<outbox::Claimed>) -> [Vec<outbox::Claimed>; 2] {
    let (later, first): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .partition(|m| m.kind.parse::<MailKind>().is_ok_and(MailKind::can_wait));
    [first, later]
}

/// The batch split by ticket, each group in the order claimed; mail about no ticket goes alone.
fn by_ticket(batch: Vec<outbox::Claimed>) -> Vec<Vec<outbox::Claimed>> {
    let mut groups: Vec<Vec<outbox::Claimed>> = Vec::new();
    let mut index: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for mail in batch {
        match mail.ticket_id {
            Some(t) => match index.get(&t) {
                Some(&g) => groups[g].push(mail),
                None => {
                    index.insert(t, groups.len());
                    groups.push(vec![mail]);
                }
            },
            None => groups.push(vec![mail]),
        }
    }
    groups
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

#[cfg(test)]
mod tests {
    use super::{waiting_first, RetryPolicy};
    use crate::store::outbox::Claimed;

    fn claimed(id: i64, ticket: i64, kind: &str) -> Claimed {
        Claimed {
            id,
            ticket_id: Some(ticket),
            kind: kind.into(),
            message_id: format!("<{id}@example.test>"),
            envelope_from: "s@example.test".into(),
            recipients: "a@example.test".into(),
            raw: Vec::new(),
            attempts: 0,
        }
    }

    #[test]
    fn what_someone_waits_for_is_handed_over_before_what_can_wait() {
        // A question to a requester claimed after the notices (its claim ran out and was
        // taken again) still goes before them; each part keeps the order it was given in.
        let batch = vec![
            claimed(3, 2, "acuse"),
            claimed(4, 3, "acuse"),
            claimed(1, 2, "nueva_solicitud"),
            claimed(2, 3, "nueva_solicitud"),
            claimed(5, 3, "informacion_faltante"),
        ];
        let [first, later] = waiting_first(batch);
        let ids = |v: &[Claimed]| v.iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(&first), [3, 4, 5]);
        assert_eq!(ids(&later), [1, 2]);
    }

    #[test]
    fn retries_double_up_to_an_hour() {
        let p = RetryPolicy {
            max_attempts: 10,
            first_delay_secs: 60,
        };
        let delays: Vec<i64> = (1..10).map(|a| p.delay(a)).collect();
        assert_eq!(
            delays,
            [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600],
            "the 10th try comes about four hours after the first"
        );
        assert_eq!(delays.iter().sum::<i64>(), 14_580);
    }
}
