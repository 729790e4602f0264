//! The mailbox reader: select, catch up by UID, take each mail in, move it out once committed,
//! then IDLE (or poll) for more. Reconnects with backoff, logging one line per outage.

use super::connect::{self, Session};
use crate::config::ImapConfig;
use crate::ops::backoff::Backoff;
use crate::store::is_busy;
use crate::store::messages::{self, Destination};
use crate::store::{self, mailbox, Db};
use crate::workflow::ingest::{Fetched, Ingestor, Source};
use crate::workflow::WorkflowError;
use chrono::Utc;
use futures::TryStreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// IMAP servers drop idle connections after 30 minutes (RFC 2177); renew well before.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// Attempts at one message while SQLite reports the database busy, pausing 5, 10, 15 … ms.
const BUSY_RETRIES: u32 = 20;
const BUSY_PAUSE: Duration = Duration::from_millis(5);
/// The longest wait before reconnecting to a mailbox server that could not be reached.
const UNREACHABLE_RETRY_MAX: Duration = Duration::from_secs(5);
/// Messages taken in per transaction: BEGIN and COMMIT are shared by this many, and a SQLite
/// writer (the outbox sender marking mail sent) waits for at most this many.
const MESSAGES_PER_TRANSACTION: usize = 50;
/// And at most this many bytes of mail, so that a big message does not hold the others' (and
/// SQLite's other writers') commit back while it is stored. One FETCH takes what one
/// transaction takes in, and its mail is let go before the next FETCH: the daemon holds at
/// most this much mail, or one bigger message alone.
const TRANSACTION_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Connect(#[from] connect::ConnectError),
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("ingestion: {0}")]
    Ingest(#[from] crate::workflow::WorkflowError),
    #[error("mailbox {0} has no UIDVALIDITY")]
    NoUidValidity(String),
    #[error("mailbox lease lost: another instance reads the mailbox now")]
    LeaseLost,
}

impl WatchError {
    /// A refused login: retrying will not fix it, so it is logged every time.
    pub fn is_auth(&self) -> bool {
        matches!(self, WatchError::Connect(c) if c.is_auth())
    }

    /// Another instance took the mailbox lease over: this reader must stop.
    pub fn is_lease_lost(&self) -> bool {
        matches!(
            self,
            WatchError::LeaseLost | WatchError::Ingest(crate::workflow::WorkflowError::LeaseLost)
        )
    }

    /// The database failed, not the mailbox.
    pub fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            WatchError::Db(e) | WatchError::Ingest(crate::workflow::WorkflowError::Db(e)) => {
                Some(e)
            }
            _ => None,
        }
    }
}

/// Cloned for each turn as the mailbox reader (PostgreSQL instances take turns).
#[derive(Clone)]
pub struct Watcher {
    pub config: Arc<ImapConfig>,
    /// For `auth = "xoauth2"`.
    pub tokens: Option<crate::oauth2::TokenSource>,
    pub db: Db,
    pub ingestor: Arc<Ingestor>,
    pub batch_size: u32,
    /// PostgreSQL: the fencing number of this instance's mailbox lease (`store::lease`),
    /// checked in every commit and before every MOVE. `None` on SQLite, where a second
    /// process cannot start at all.
    pub fence: Option<i64>,
    /// Told when more mail waits than one round takes: the sender then holds what can wait.
    pub backlog: Arc<crate::runtime::backlog::Backlog>,
}

/// Why the reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Asked to (shutdown, or its lease's holder loop stopped it).
    Cancelled,
    /// Another instance took the mailbox lease over.
    LeaseLost,
}

impl Watcher {
    pub async fn run(self, cancel: CancellationToken) -> Stopped {
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(80));
        let mut outage_since: Option<Instant> = None;
        let mut announced = false;
        while !cancel.is_cancelled() {
            let result = self
                .session(&cancel, &mut outage_since, &mut backoff, &mut announced)
                .await;
            match result {
                Ok(()) => break,
                Err(e) if e.is_lease_lost() => return Stopped::LeaseLost,
                Err(e) => {
                    if e.database_error().is_some() && self.lease_taken_over().await {
                        // Not an outage: this reader was frozen (its transaction ended by the
                        // server meanwhile) and another instance reads the mailbox now.
                        return Stopped::LeaseLost;
                    }
                    crate::ops::metrics::imap_reconnect();
                    if let Some(db) = e.database_error() {
                        // The mailbox is fine: the database is down, and that is said once
                        // whichever worker meets it first. Mail waits in the mailbox.
                        crate::store::database_failed("mailbox reader", db);
                        // Up to 80 s, cut short when another worker (the outbox sender, the
                        // sweeper) finds the database back first.
                        let delay = backoff.next_delay();
                        tokio::select! {
                            _ = cancel.cancelled() => break,
                            _ = crate::ops::outage::retry_delay(crate::ops::outage::Dependency::Database, delay) => {}
                        }
                        continue;
                    }
                    let reason = e.to_string();
                    crate::ops::health::failed(
                        crate::ops::health::Component::Mailbox,
                        reason,
                        e.is_auth(),
                    );
                    if e.is_auth() {
                        error!(error = %e, "IMAP login refused; fix the credentials (retrying with backoff)");
                        outage_since.get_or_insert_with(Instant::now);
                    } else if outage_since.is_none() {
                        error!(error = %e, "IMAP mailbox unavailable; retrying with backoff");
                        outage_since = Some(Instant::now());
                    } else {
                        debug!(error = %e, "IMAP still unavailable");
                    }
                    // A refused login backs off up to 80 s (retrying a wrong password faster
                    // only risks locking the account); an unreachable server is tried again
                    // within seconds: a refused connection costs nothing, and mail waits the
                    // whole delay (issue 16: a mailbox restart of 20 s kept mail waiting 30 s).
                    let mut delay = backoff.next_delay();
                    if !e.is_auth() {
                        delay = delay.min(UNREACHABLE_RETRY_MAX);
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        info!("IMAP watcher stopped");
        Stopped::Cancelled
    }

    /// Whether the database answers and says another instance holds the lease now.
    async fn lease_taken_over(&self) -> bool {
        let Some(fence) = self.fence else {
            return false;
        };
        // Briefly: with the database down this would wait for the pool's 30 s, holding up the
        // outage's line and the retry.
        let check = async {
            let mut conn = self.db.pool.acquire().await?;
            store::lease::holds(&mut conn, &self.config.mailbox, fence).await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), check).await,
            Ok(Ok(false))
        )
    }

    async fn session(
        &self,
        cancel: &CancellationToken,
        outage_since: &mut Option<Instant>,
        backoff: &mut Backoff,
        announced: &mut bool,
    ) -> Result<(), WatchError> {
        let mut session = connect::connect(&self.config, self.tokens.as_ref()).await?;
        let capabilities = session.capabilities().await?;
        let can_move = capabilities.has_str("MOVE");
        let can_idle = capabilities.has_str("IDLE") && self.config.idle;
        for folder in [
            &self.config.processed_folder,
            &self.config.quarantine_folder,
        ] {
            // ALREADYEXISTS is the normal answer after the first start.
            if let Err(e) = session.create(folder).await {
                debug!(folder, error = %e, "create folder");
            }
        }
        let selected = session.select(&self.config.mailbox).await?;
        let uidvalidity = selected
            .uid_validity
            .ok_or_else(|| WatchError::NoUidValidity(self.config.mailbox.clone()))?
            as i64;
        match outage_since.take() {
            Some(since) => {
                info!(
                    outage_secs = since.elapsed().as_secs(),
                    "IMAP mailbox reachable again"
                );
                // A standby that found it unreachable checks again now.
                crate::ops::outage::found_back(crate::ops::outage::Dependency::Mailbox);
            }
            None if !*announced => {
                info!(mailbox = %self.config.mailbox, idle = can_idle, "watching mailbox")
            }
            None => debug!(mailbox = %self.config.mailbox, "mailbox selected again"),
        }
        *announced = true;
        if !crate::ops::outage::is_down(crate::ops::outage::Dependency::Database) {
            // Through a database outage the reader keeps backing off although IMAP answers.
            backoff.reset();
        }
        crate::ops::health::ok(crate::ops::health::Component::Mailbox);
        let mut conn = self.db.pool.acquire().await?;
        let stored = mailbox::get(&mut conn, &self.config.mailbox).await?;
        drop(conn);
        let mut first_pass = match stored {
            Some(s) if s.uidvalidity == uidvalidity => false,
            Some(s) => {
                warn!(
                    old = s.uidvalidity,
                    new = uidvalidity,
                    "UIDVALIDITY changed: rescanning unseen mail, duplicates are recognised by Message-ID"
                );
                let mut conn = self.db.pool.acquire().await?;
                messages::forget_stale_moves(&mut conn, uidvalidity).await?;
                true
            }
            None => true,
        };
        let baseline = selected.uid_next.map(|u| i64::from(u) - 1).unwrap_or(0);
        // True at first too: what start allocated and freed (the catalogue's keywords checked
        // one by one, migrations, templates) goes back to the system before the first wait.
        let mut took_mail = true;
        loop {
            self.move_pending(&mut session, uidvalidity, can_move)
                .await?;
            let uids = self.new_uids(&mut session, uidvalidity, first_pass).await?;
            if uids.len() > self.batch_size as usize {
                self.backlog.found();
            } else {
                self.backlog.gone();
            }
            for chunk in uids.chunks(self.batch_size as usize) {
                if cancel.is_cancelled() {
                    break;
                }
                self.take_batch(&mut session, uidvalidity, chunk, cancel)
                    .await?;
                self.move_pending(&mut session, uidvalidity, can_move)
                    .await?;
            }
            if cancel.is_cancelled() {
                // Stopped part-way: what was committed has moved (after each batch above), the
                // rest waits unseen in the mailbox for the next reader. A first pass cut short
                // must not record the baseline, or the unseen mail below it would never be read.
                let _ = session.logout().await;
                return Ok(());
            }
            if first_pass {
                // Seen mail left in the mailbox before our first start is the humans' business.
                let mut conn = self.db.pool.acquire().await?;
                let state = mailbox::MailboxState {
                    uidvalidity,
                    last_uid: baseline,
                };
                mailbox::advance(
                    &mut conn,
                    &self.config.mailbox,
                    state,
                    store::unix(Utc::now()),
                )
                .await?;
                first_pass = false;
            }
            crate::ops::metrics::poll_succeeded();
            if !uids.is_empty() {
                // Mail that arrived while these were taken in was announced during the FETCH
                // and MOVE commands, and IDLE does not announce it again: look once more first.
                took_mail = true;
                continue;
            }
            if std::mem::take(&mut took_mail) {
                // A burst is over: what it allocated and freed goes back to the system.
                crate::ops::memory::release(&self.db).await;
            }
            session = if can_idle {
                let mut idle = session.idle();
                idle.init().await?;
                let (wait, _stop) = idle.wait_with_timeout(IDLE_RENEW);
                tokio::select! {
                    r = wait => { r?; }
                    _ = cancel.cancelled() => {}
                }
                idle.done().await?
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(self.config.poll_interval_secs)) => {}
                    _ = cancel.cancelled() => {}
                }
                session.noop().await?;
                session
            };
        }
    }

    async fn new_uids(
        &self,
        session: &mut Session,
        uidvalidity: i64,
        first_pass: bool,
    ) -> Result<Vec<u32>, WatchError> {
        let mut uids: Vec<u32> = if first_pass {
            session.uid_search("UNSEEN").await?.into_iter().collect()
        } else {
            let last = {
                let mut conn = self.db.pool.acquire().await?;
                mailbox::get(&mut conn, &self.config.mailbox)
                    .await?
                    .filter(|s| s.uidvalidity == uidvalidity)
                    .map(|s| s.last_uid)
                    .unwrap_or(0)
            };
            // `n:*` always matches the highest UID, even below n; filter again.
            session
                .uid_search(format!("UID {}:*", last + 1))
                .await?
                .into_iter()
                .filter(|u| i64::from(*u) > last)
                .collect()
        };
        uids.sort_unstable();
        Ok(uids)
    }

    async fn take_batch(
        &self,
        session: &mut Session,
        uidvalidity: i64,
        uids: &[u32],
        cancel: &CancellationToken,
    ) -> Result<(), WatchError> {
        let sizes = fetch_sizes(session, uids).await?;
        let mut group = Vec::new();
        let mut bytes = 0u64;
        for (uid, size) in sizes {
            let full =
                group.len() >= MESSAGES_PER_TRANSACTION || bytes + size > TRANSACTION_BYTES as u64;
            if !group.is_empty() && full {
                self.fetch_and_ingest(session, uidvalidity, &group, cancel)
                    .await?;
                group.clear();
                bytes = 0;
                if cancel.is_cancelled() {
                    return Ok(());
                }
            }
            group.push(uid);
            bytes += size;
        }
        if !group.is_empty() {
            self.fetch_and_ingest(session, uidvalidity, &group, cancel)
                .await?;
        }
        Ok(())
    }

    async fn fetch_and_ingest(
        &self,
        session: &mut Session,
        uidvalidity: i64,
        uids: &[u32],
        cancel: &CancellationToken,
    ) -> Result<(), WatchError> {
        let set = uid_set(uids);
        let fetched: Vec<_> = session
            .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
            .await?
            .try_collect()
            .await?;
        let mut by_uid: Vec<_> = fetched.iter().filter(|f| f.uid.is_some()).collect();
        by_uid.sort_by_key(|f| f.uid);
        let batch: Vec<Fetched<'_>> = by_uid
            .into_iter()
            .map(|f| Fetched {
                raw: f.body().unwrap_or(&[]),
                source: Source {
                    mailbox: self.config.mailbox.clone(),
                    uidvalidity,
                    uid: i64::from(f.uid.unwrap_or(0)),
                    fence: self.fence,
                },
                arrived_at: f
                    .internal_date()
                    .map(|d| d.with_timezone(&Utc))
                    .unwrap_or_else(Utc::now),
            })
            .collect();
        let mut rest = &batch[..];
        // At shutdown, stop after the transaction in hand: the mailbox lease is released only
        // once the reader has stopped, and a standby waits for it (issue 16: a reader busy
        // with a backlog outlived the shutdown grace, and the standby waited for the expiry).
        while !rest.is_empty() && !cancel.is_cancelled() {
            // Up to MESSAGES_PER_TRANSACTION messages and TRANSACTION_BYTES (a bigger one alone).
            let mut n = 0;
            let mut bytes = 0;
            while n < rest.len() && n < MESSAGES_PER_TRANSACTION {
                bytes += rest[n].raw.len();
                if n > 0 && bytes > TRANSACTION_BYTES {
                    break;
                }
                n += 1;
            }
            let (chunk, later) = rest.split_at(n);
            rest = later;
            let outcomes = self.ingest_chunk(chunk).await?;
            for (f, outcome) in chunk.iter().zip(outcomes) {
                info!(
                    uid = f.source.uid,
                    outcome = outcome.label(),
                    kind = outcome.kept_as(),
                    ticket = outcome.ticket().map(|t| t.to_string()),
                    bytes = f.raw.len(),
                    "message ingested"
                );
                crate::ops::metrics::message_ingested(outcome.label());
            }
        }
        Ok(())
    }

    /// Takes several messages in one transaction; when one of them fails inside it (the
    /// database refused its data, its mail could not be made), one at a time instead, so that
    /// the failing one is quarantined and the others go on. A busy SQLite is waited out as in
    /// [`Watcher::ingest`]; an outage fails the chunk, nothing of it committed.
    async fn ingest_chunk(
        &self,
        chunk: &[Fetched<'_>],
    ) -> Result<Vec<crate::workflow::ingest::Outcome>, WatchError> {
        if chunk.len() > 1 {
            let mut attempt = 0;
            loop {
                match self.ingestor.ingest_together(chunk, Utc::now()).await {
                    Ok(outcomes) => return Ok(outcomes),
                    Err(WorkflowError::Db(e)) if is_busy(&e) && attempt < BUSY_RETRIES => {
                        attempt += 1;
                        debug!(attempt, "database busy; taking the batch in again");
                        tokio::time::sleep(BUSY_PAUSE * attempt).await;
                    }
                    Err(e) if e.is_outage() => return Err(e.into()),
                    Err(e) => {
                        warn!(error = %e, count = chunk.len(), "a message failed inside its batch; taking the batch in one message at a time");
                        break;
                    }
                }
            }
        }
        let mut outcomes = Vec::with_capacity(chunk.len());
        for f in chunk {
            outcomes.push(self.ingest(f.raw, &f.source, f.arrived_at).await?);
        }
        Ok(outcomes)
    }

    /// Takes one message in. SQLite refuses a transaction at once (SQLITE_BUSY, without the
    /// busy wait) when another connection committed between its first read and its first
    /// write, e.g. the outbox sender marking mail sent: the message is simply taken in again
    /// (nothing was committed) instead of treating it as an outage and reconnecting.
    async fn ingest(
        &self,
        raw: &[u8],
        source: &Source,
        arrived: chrono::DateTime<Utc>,
    ) -> Result<crate::workflow::ingest::Outcome, WatchError> {
        let mut attempt = 0;
        loop {
            match self
                .ingestor
                .ingest(raw, Some(source), arrived, Utc::now())
                .await
            {
                Err(WorkflowError::Db(e)) if is_busy(&e) && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    debug!(
                        uid = source.uid,
                        attempt, "database busy; taking the message in again"
                    );
                    tokio::time::sleep(BUSY_PAUSE * attempt).await;
                }
                r => return Ok(r?),
            }
        }
    }

    /// Makes every commit so far durable before mail leaves the inbox: one commit that waits
    /// for the disk makes all earlier ones durable too, since the log is written in order.
    /// The daemon's PostgreSQL sessions commit without waiting (`synchronous_commit = off`,
    /// see `Db::connect`) and SQLite in WAL mode with `synchronous = NORMAL` syncs its log only
    /// at checkpoints, so without this a crash of the database server or a power cut could
    /// undo commits whose mail was already moved. Costs one sync per batch, not per message.
    /// Only called with moves pending, so this mailbox's state row already carries the
    /// current UIDVALIDITY and the write below changes nothing but `updated_at`.
    async fn make_durable(&self, uidvalidity: i64) -> Result<(), sqlx::Error> {
        // A write like the others: SQLite writers take turns, before taking a connection.
        let _turn = self.db.write_turn().await;
        let mut conn = self.db.pool.acquire().await?;
        let conn = &mut *conn;
        mailbox::advance_durably(
            conn,
            &self.config.mailbox,
            mailbox::MailboxState {
                uidvalidity,
                last_uid: 0,
            },
            store::unix(Utc::now()),
        )
        .await
    }

    /// Moves every committed message out of the mailbox: UID MOVE, or COPY + \Deleted +
    /// UID EXPUNGE where MOVE is missing. Nothing uncommitted is ever touched.
    async fn move_pending(
        &self,
        session: &mut Session,
        uidvalidity: i64,
        can_move: bool,
    ) -> Result<(), WatchError> {
        // No pooled connection is held across the IMAP commands: with a small pool (SQLite
        // works best with one) the ingest and the sender would wait for the server's answer.
        let pending = {
            let mut conn = self.db.pool.acquire().await?;
            messages::pending_moves(&mut conn, uidvalidity).await?
        };
        if pending.is_empty() {
            return Ok(());
        }
        if let Some(fence) = self.fence {
            // A former reader must not touch the mailbox; the new one moves these itself.
            let mut conn = self.db.pool.acquire().await?;
            if !store::lease::holds(&mut conn, &self.config.mailbox, fence).await? {
                return Err(WatchError::LeaseLost);
            }
        }
        self.make_durable(uidvalidity).await?;
        for dest in [Destination::Processed, Destination::Quarantine] {
            let rows: Vec<_> = pending.iter().filter(|p| p.destination() == dest).collect();
            if rows.is_empty() {
                continue;
            }
            let folder = match dest {
                Destination::Processed => &self.config.processed_folder,
                Destination::Quarantine => &self.config.quarantine_folder,
            };
            let uids: Vec<u32> = rows.iter().map(|r| r.imap_uid as u32).collect();
            for chunk in uids.chunks(500) {
                let set = uid_set(chunk);
                if can_move {
                    session.uid_mv(&set, folder).await?;
                } else {
                    session.uid_copy(&set, folder).await?;
                    let _: Vec<_> = session
                        .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                        .await?
                        .try_collect()
                        .await?;
                    let _: Vec<_> = session.uid_expunge(&set).await?.try_collect().await?;
                }
            }
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let mut conn = self.db.pool.acquire().await?;
            messages::mark_moved(&mut conn, &ids).await?;
            debug!(count = ids.len(), folder, "messages moved");
        }
        Ok(())
    }
}

async fn fetch_sizes(session: &mut Session, uids: &[u32]) -> Result<Vec<(u32, u64)>, WatchError> {
    let fetched: Vec<_> = session
        .uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
        .await?
        .try_collect()
        .await?;
    let mut sizes: Vec<(u32, u64)> = fetched
        .iter()
        .filter_map(|f| Some((f.uid?, u64::from(f.size.unwrap_or(0)))))
        .collect();
    sizes.sort_unstable();
    Ok(sizes)
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
