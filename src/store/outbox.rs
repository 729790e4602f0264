//! Outgoing mail as data: queued in the same transaction as the state change that caused it,
//! claimed by one sender at a time, marked sent once the SMTP server accepted it.

use super::{Conn, Db, Dialect};
use crate::domain::mail_kind::MailKind;
use crate::domain::ticket::TicketNumber;
use sqlx::FromRow;

/// The values of `outbox.status`: queued, accepted by the SMTP server, refused for good.
pub const STATUSES: [&str; 3] = ["pending", "sent", "failed"];

pub struct NewOutgoing<'a> {
    pub ticket: Option<TicketNumber>,
    pub kind: MailKind,
    pub message_id: &'a str,
    pub envelope_from: &'a str,
    pub recipients: &'a [String],
    pub raw: &'a [u8],
    pub at: i64,
}

/// Due at once, whatever `at` says: `jobs run --now` may queue mail "in the future", but mail
/// leaves on the wall clock.
/// [`enqueue`], sent with the other writes of `w` (the row id is not read back).
pub fn enqueue_into(w: &mut super::writes::Writes, m: &NewOutgoing<'_>) {
    let head = "
    INSERT INTO outbox (ticket_id, kind, message_id, envelope_from, recipients, raw,
    status, attempts, next_attempt_at, created_at)
    ";
    w.push_row(head, |p| {
        format!(
            "({}, {}, {}, {}, {}, {}, 'pending', 0, 0, {})",
            p.bind(m.ticket.map(|t| t.0)),
            p.bind(m.kind.as_str()),
            p.bind(m.message_id),
            p.bind(m.envelope_from),
            p.bind(m.recipients.join(",")),
            p.bind(m.raw),
            p.bind(m.at)
        )
    });
}

pub async fn enqueue(conn: &mut Conn, m: &NewOutgoing<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "
        INSERT INTO outbox (ticket_id, kind, message_id, envelope_from, recipients, raw, status,
        attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, 0, $7)
        RETURNING id
        ",
    )
    .bind(m.ticket.map(|t| t.0))
    .bind(m.kind.as_str())
    .bind(m.message_id)
    .bind(m.envelope_from)
    .bind(m.recipients.join(","))
    .bind(m.raw)
    .bind(m.at)
    .fetch_one(conn)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub kind: String,
    pub message_id: String,
    pub envelope_from: String,
    pub recipients: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
}

impl Claimed {
    pub fn recipient_list(&self) -> Vec<String> {
        self.recipients
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// How long after a database server (re)started no instance's claims are taken over by another:
/// time for every instance to reconnect and record what it sent while the server was down
/// (see `smtp::sender`), instead of a second instance sending it again. Instances retry the
/// database within a few seconds of its return (the first worker to find it back wakes the
/// others); a stopped instance's mail waits these seconds more only after a server restart.
pub const TAKEOVER_AFTER_START_SECS: i64 = 15;

/// The order queued mail is claimed in: what someone is waiting for first, then what can wait
/// ([`MailKind::can_wait`]), each in the order queued. One person's mail keeps its order
/// unless it mixes the two (an agent who is also a requester may get the acknowledgement of
/// their own request before a notice queued just before it). Pending mail is read through
/// `outbox_due` and sorted either way, so the order costs no index.
static SEND_ORDER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("CASE WHEN kind IN ({}) THEN 1 ELSE 0 END, id", *CAN_WAIT));

/// The kinds of [`MailKind::can_wait`] as an SQL list of our own constants.
static CAN_WAIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    MailKind::all()
        .filter(|k| k.can_wait())
        .map(|k| format!("'{}'", k.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
});

/// Which due mail a claim takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Any, what someone waits for first (see `SEND_ORDER`).
    Any,
    /// Only what someone waits for: what can wait ([`MailKind::can_wait`]) stays queued, while
    /// the mailbox reader works off a backlog (`crate::runtime::backlog`).
    Awaited,
}

/// Takes up to `limit` due mails for `claim_secs`, for this instance. Mail claimed by an
/// instance that is gone (killed, crashed, its host lost) is taken again at once rather than when
/// the claim runs out: on SQLite any other instance is gone (only one runs at a time); on
/// PostgreSQL one is gone when no session carries its name any more. Whatever the dead instance
/// had handed to the SMTP server but not yet marked sent goes out a second time (same
/// Message-ID). A frozen instance keeps its sessions: its claims are taken over once they run
/// out, which is why a sender claims for a few seconds only and renews ([`renew_claims`]).
/// Within [`TAKEOVER_AFTER_START_SECS`] of the server's start another instance's claims are
/// not taken over at all: a restart ends every session and every renewal at once.
pub async fn claim_due(
    db: &Db,
    now: i64,
    claim_secs: i64,
    limit: i64,
    which: Which,
) -> Result<Vec<Claimed>, sqlx::Error> {
    claim_due_as(
        db,
        super::instance_name(),
        now,
        claim_secs,
        limit,
        TAKEOVER_AFTER_START_SECS,
        which,
    )
    .await
}

/// [`claim_due`] for the instance named `me` (tests play several instances in one process),
/// with another instance's claims taken over only once the server has been up `settle_secs`.
pub async fn claim_due_as(
    db: &Db,
    me: &str,
    now: i64,
    claim_secs: i64,
    limit: i64,
    settle_secs: i64,
    which: Which,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let dialect = db.dialect();
    let kinds = match which {
        Which::Any => String::new(),
        Which::Awaited => format!("AND kind NOT IN ({})", *CAN_WAIT),
    };
    let orphaned = dialect.instance_gone("outbox", "claimed_by", "$3");
    let settled = dialect.server_up_for(settle_secs);
    let _turn = db.write_turn().await;
    let mut tx = db.begin_write().await?;
    let skip_locked = dialect.skip_locked();
    let order = &*SEND_ORDER;
    // Our own SQL only (the dialect's fragments).
    let due: Vec<(i64, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "
        SELECT id, claimed_until
        FROM outbox
        WHERE status = 'pending'
          AND next_attempt_at <= $1
          {kinds}
          AND (
            claimed_until IS NULL
            OR (claimed_until < $1 AND (claimed_by = $3 OR {settled}))
            OR ({orphaned} AND {settled})
          )
        ORDER BY {order}
        LIMIT $2{skip_locked}
        "
    )))
    .bind(now)
    .bind(limit)
    .bind(me)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        tx.commit().await?;
        if !dialect.single_writer() {
            // Reached it; on SQLite only a write shows that it can be written again.
            super::database_ok();
        }
        return Ok(Vec::new());
    }
    let taken_over = due
        .iter()
        .filter(|(_, until)| until.is_some_and(|u| u >= now))
        .count();
    if taken_over > 0 {
        tracing::info!(
            count = taken_over,
            "taking over queued mail claimed by an instance that stopped; what it had just \
             handed to the SMTP server is sent again"
        );
    }
    if let Some(set) = dialect.durable_commit() {
        // Durable before any of it goes out: this commit also flushes the commits that queued
        // these mails (see `Db::connect`).
        sqlx::query(set).execute(&mut *tx).await?;
    }
    let ids: Vec<i64> = due.iter().map(|(id, _)| *id).collect();
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE outbox SET claimed_until = $1, claimed_by = $2 WHERE id IN ({list})"
    )))
    .bind(now + claim_secs)
    .bind(me)
    .execute(&mut *tx)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "
        SELECT id, ticket_id, kind, message_id, envelope_from, recipients, raw, attempts
        FROM outbox WHERE id IN ({list}) ORDER BY {order}
        "
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    super::database_ok();
    Ok(rows)
}

/// Extends to `now + claim_secs` the claims of `me` on the mails `ids` that are still its own:
/// still pending, still claimed by `me`, and whose claim has not run out (once it has, another
/// instance may have claimed the mail and handed it to the SMTP server already). Returns those
/// ids; a mail missing from them is no longer `me`'s to send.
pub async fn renew_claims(
    db: &Db,
    me: &str,
    ids: &[i64],
    now: i64,
    claim_secs: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = super::id_list(ids.iter().copied());
    let _turn = db.write_turn().await;
    // Integers only in the list (`id_list`).
    let mut held: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "
        UPDATE outbox
        SET claimed_until = $1
        WHERE id IN ({list})
          AND status = 'pending'
          AND claimed_by = $2
          AND claimed_until >= $3
        RETURNING id
        "
    )))
    .bind(now + claim_secs)
    .bind(me)
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    held.sort_unstable();
    Ok(held)
}

/// Marks a mail sent and empties its raw bytes. They were needed only to send it; kept, they
/// would hold at rest the live tokens of approval requests and reply addresses, which the
/// ticket's copy of the mail (`messages`) stores masked. Pending and failed mail keep their
/// bytes, so a retry (`outbox retry`) sends exactly what was queued.
pub async fn mark_sent(db: &Db, id: i64, now: i64) -> Result<(), sqlx::Error> {
    let _turn = db.write_turn().await;
    sqlx::query(
        "
        UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1,
        claimed_until = NULL, last_error = NULL, raw = $3 WHERE id = $2
        ",
    )
    .bind(now)
    .bind(id)
    .bind(Vec::<u8>::new())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Counts one refused try (a 4xx answer to this mail) and makes the mail due again at
/// `next_at`. Only while the mail is still claimed by this instance: one that was frozen and
/// wakes up must not put back in the queue a mail another instance has taken over.
pub async fn mark_retry(db: &Db, id: i64, next_at: i64, error: &str) -> Result<(), sqlx::Error> {
    let _turn = db.write_turn().await;
    sqlx::query(
        "
        UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, claimed_until = NULL,
        last_error = $2 WHERE id = $3 AND claimed_by = $4
        ",
    )
    .bind(next_at)
    .bind(error)
    .bind(id)
    .bind(super::instance_name())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Gives a claimed mail back untried: the server could not be reached, or refused the
/// connection before this mail was offered. No attempt is counted, so an outage does not use
/// up the attempts `[smtp] max_attempts` allows each mail; the mail stays due. Only while the
/// mail is still claimed by this instance (see [`mark_retry`]).
pub async fn release(db: &Db, id: i64, error: &str) -> Result<(), sqlx::Error> {
    let _turn = db.write_turn().await;
    sqlx::query(
        "
        UPDATE outbox
        SET claimed_until = NULL, last_error = $1
        WHERE id = $2 AND claimed_by = $3
        ",
    )
    .bind(error)
    .bind(id)
    .bind(super::instance_name())
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn mark_failed(db: &Db, id: i64, error: &str) -> Result<(), sqlx::Error> {
    let _turn = db.write_turn().await;
    sqlx::query(
        "
        UPDATE outbox SET status = 'failed', attempts = attempts + 1, claimed_until = NULL,
        last_error = $1 WHERE id = $2
        ",
    )
    .bind(error)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub kind: String,
    pub recipients: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

pub async fn list(conn: &mut Conn, status: Option<&str>) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let q = "
        SELECT id, ticket_id, kind, recipients, status, attempts, next_attempt_at, last_error,
        created_at, sent_at FROM outbox
        ";
    match status {
        Some(s) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{q} WHERE status = $1 ORDER BY id"
            )))
            .bind(s)
            .fetch_all(conn)
            .await
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{q} ORDER BY id")))
                .fetch_all(conn)
                .await
        }
    }
}

/// What `retry` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The failed mail is pending again, due now.
    Queued,
    /// No mail with that id.
    NotFound,
    /// The mail exists but is not failed (its status is given).
    NotFailed(String),
}

/// Puts a failed mail back in the queue, due at `now`, with its attempt count reset.
pub async fn retry(conn: &mut Conn, id: i64, now: i64) -> Result<RetryOutcome, sqlx::Error> {
    let done = sqlx::query(
        "
        UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1,
        claimed_until = NULL WHERE id = $2 AND status = 'failed'
        ",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(RetryOutcome::Queued);
    }
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match status {
        None => RetryOutcome::NotFound,
        Some(s) => RetryOutcome::NotFailed(s),
    })
}

/// Serialises the instances deciding whether to queue an operations alert, until the
/// transaction ends (PostgreSQL; SQLite transactions already write one at a time).
pub async fn lock_ops_alerts(conn: &mut Conn, dialect: Dialect) -> Result<(), sqlx::Error> {
    if let Some(lock) = dialect.transaction_lock(2) {
        // Our own constant.
        sqlx::query(sqlx::AssertSqlSafe(lock)).execute(conn).await?;
    }
    Ok(())
}

/// When the latest mail of `kind` was queued.
pub async fn last_queued_of_kind(
    conn: &mut Conn,
    kind: MailKind,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MAX(created_at) FROM outbox WHERE kind = $1")
        .bind(kind.as_str())
        .fetch_one(conn)
        .await
}
