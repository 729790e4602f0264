//! Tickets: the request record the procedure moves through its statuses.

use super::{from_unix, unix, Conn};
use crate::domain::procedure::Ticket;
use crate::domain::sla::SlaClock;
use crate::domain::ticket::TicketNumber;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct TicketRow {
    pub id: i64,
    pub status: String,
    pub close_reason: Option<String>,
    pub subject: String,
    pub requester: String,
    pub requester_name: Option<String>,
    pub root_message_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<String>,
    pub fields_json: String,
    pub change_id: Option<String>,
    pub related_ticket: Option<i64>,
    pub resolution: Option<String>,
    pub resolved_at: Option<i64>,
    pub survey_rating: Option<i64>,
    pub survey_comment: Option<String>,
    pub sla_target_secs: i64,
    pub sla_used_secs: i64,
    pub sla_running_since: Option<i64>,
    pub sla_paused_secs: i64,
    pub sla_paused_since: Option<i64>,
    pub sla_alerts_sent: i64,
}

impl TicketRow {
    pub fn number(&self) -> TicketNumber {
        TicketNumber(self.id)
    }

    pub fn sla(&self) -> SlaClock {
        SlaClock {
            target_secs: self.sla_target_secs,
            used_secs: self.sla_used_secs,
            running_since: self.sla_running_since.map(from_unix),
            paused_secs: self.sla_paused_secs,
            paused_since: self.sla_paused_since.map(from_unix),
            alerts_sent: self.sla_alerts_sent.clamp(0, 3) as u8,
        }
    }

    /// A closed ticket as the compliance report counts it.
    pub fn to_closed(&self) -> crate::domain::compliance::ClosedTicket {
        use crate::domain::ticket::CloseReason;
        crate::domain::compliance::ClosedTicket {
            service: self.service.clone(),
            attended: matches!(
                self.close_reason.as_deref().and_then(|r| r.parse().ok()),
                Some(CloseReason::Resuelto | CloseReason::Cambio)
            ),
            target_secs: self.sla_target_secs,
            used_secs: self.sla_used_secs,
            paused_secs: self.sla_paused_secs,
            alerts_sent: self.sla_alerts_sent.clamp(0, 3) as u8,
            survey_rating: self.survey_rating.and_then(|r| u8::try_from(r).ok()),
        }
    }

    /// The procedure's view; `attachments` is counted by the caller.
    pub fn to_domain(&self, attachments: usize) -> Ticket {
        Ticket {
            number: self.number(),
            status: self
                .status
                .parse()
                .unwrap_or(crate::domain::ticket::Status::Registrado),
            close_reason: self.close_reason.as_deref().and_then(|r| r.parse().ok()),
            subject: self.subject.clone(),
            requester: self.requester.clone(),
            requester_name: self.requester_name.clone(),
            service: self.service.clone(),
            category: self.category.clone(),
            priority: self.priority.as_deref().and_then(|p| p.parse().ok()),
            assignee: self.assignee.clone(),
            fields: serde_json::from_str(&self.fields_json).unwrap_or_default(),
            attachments,
            change_id: self.change_id.clone(),
            resolution: self.resolution.clone(),
            resolved_at: self.resolved_at.map(from_unix),
            closed_at: self.closed_at.map(from_unix),
            created_at: from_unix(self.created_at),
            survey: self.survey_rating.map(|r| {
                (
                    r.clamp(0, 5) as u8,
                    self.survey_comment.clone().unwrap_or_default(),
                )
            }),
            sla: self.sla(),
            approval: None,
        }
    }
}

pub const COLUMNS: &str = "id, status, close_reason, subject, requester, requester_name, \
root_message_id, created_at, updated_at, closed_at, service, category, priority, assignee, \
fields_json, change_id, related_ticket, resolution, resolved_at, survey_rating, survey_comment, \
sla_target_secs, sla_used_secs, sla_running_since, sla_paused_secs, sla_paused_since, sla_alerts_sent";

pub struct NewTicket<'a> {
    pub status: &'a str,
    pub subject: &'a str,
    pub requester: &'a str,
    pub requester_name: Option<&'a str>,
    pub root_message_id: &'a str,
    pub related_ticket: Option<TicketNumber>,
    pub at: i64,
}

/// The new ticket as stored (its number and defaults included). Its number is the next one of
/// the counter in `ticket_numbers`, taken inside the caller's transaction: if that transaction
/// rolls back or its process dies, the number goes back with it and the next committed ticket
/// gets it, so committed numbers have no gaps. The counter's row stays locked until the
/// transaction ends, so concurrent inserts (another worker, another instance) take turns
/// instead of sharing a number. Rows written by hand (an import, a test) are stepped over: the
/// number is above the highest one stored too. Call it inside a transaction: on its own, the
/// counter would commit even if the insert failed.
pub async fn insert(conn: &mut Conn, t: &NewTicket<'_>) -> Result<TicketRow, sqlx::Error> {
    let (number,): (i64,) = sqlx::query_as(
        "
        UPDATE ticket_numbers
        SET last_number = 1 + CASE
            WHEN last_number >= (SELECT COALESCE(MAX(id), 0) FROM tickets) THEN last_number
            ELSE (SELECT COALESCE(MAX(id), 0) FROM tickets)
        END
        WHERE singleton = 1
        RETURNING last_number
        ",
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        // COLUMNS is our own constant.
        "
        INSERT INTO tickets (id, status, subject, requester, requester_name, root_message_id,
                             related_ticket, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
        RETURNING {COLUMNS}
        "
    )))
    .bind(number)
    .bind(t.status)
    // A request opened by forwarding an approval mail must not keep its token (see messages).
    .bind(crate::domain::text::mask_tokens(t.subject).as_ref())
    .bind(t.requester)
    .bind(t.requester_name)
    .bind(t.root_message_id)
    .bind(t.related_ticket.map(|n| n.0))
    .bind(t.at)
    .fetch_one(conn)
    .await
}

/// [`get`] to change the ticket: on PostgreSQL its row stays locked until the transaction ends,
/// so two transactions changing one ticket (a reply and a sweep, two instances) take turns
/// instead of the later overwriting the earlier with what it read before. SQLite refuses
/// such a transaction at once (SQLITE_BUSY_SNAPSHOT) and it is done again.
pub async fn get_for_update(
    conn: &mut Conn,
    n: TicketNumber,
) -> Result<Option<TicketRow>, sqlx::Error> {
    let lock = for_update(conn);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id = $1{lock}"
    )))
    .bind(n.0)
    .fetch_optional(conn)
    .await
}

fn for_update(conn: &Conn) -> &'static str {
    match conn.backend_name() {
        "PostgreSQL" => " FOR UPDATE",
        _ => "",
    }
}

pub async fn get(conn: &mut Conn, n: TicketNumber) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id = $1"
    )))
    .bind(n.0)
    .fetch_optional(conn)
    .await
}

/// [`get_for_update`] for several tickets in one statement (in no particular order); missing
/// ones are left out.
pub async fn get_many_for_update(
    conn: &mut Conn,
    ns: &[TicketNumber],
) -> Result<Vec<TicketRow>, sqlx::Error> {
    if ns.is_empty() {
        return Ok(Vec::new());
    }
    let lock = for_update(conn);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id IN ({}) ORDER BY id{lock}",
        super::id_list(ns.iter().map(|n| n.0))
    )))
    .fetch_all(conn)
    .await
}

pub async fn list(conn: &mut Conn, status: Option<&str>) -> Result<Vec<TicketRow>, sqlx::Error> {
    match status {
        Some(s) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM tickets WHERE status = $1 ORDER BY id"
            )))
            .bind(s)
            .fetch_all(conn)
            .await
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM tickets ORDER BY id"
            )))
            .fetch_all(conn)
            .await
        }
    }
}

/// Tickets closed in `[from, to)` (Unix seconds), for the compliance report.
pub async fn closed_between(
    conn: &mut Conn,
    from: i64,
    to: i64,
) -> Result<Vec<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE closed_at >= $1 AND closed_at < $2 ORDER BY id"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

pub async fn touch(conn: &mut Conn, n: TicketNumber, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
        .bind(at)
        .bind(n.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the procedure's view of a ticket back.
pub async fn save(conn: &mut Conn, t: &Ticket, at: i64) -> Result<(), sqlx::Error> {
    let s = &t.sla;
    sqlx::query(
        "UPDATE tickets SET status = $1, close_reason = $2, service = $3, category = $4, \
         priority = $5, assignee = $6, fields_json = $7, change_id = $8, resolution = $9, \
         resolved_at = $10, closed_at = $11, survey_rating = $12, survey_comment = $13, \
         sla_target_secs = $14, sla_used_secs = $15, sla_running_since = $16, sla_paused_secs = $17, \
         sla_paused_since = $18, sla_alerts_sent = $19, updated_at = $20, requester = $21 WHERE id = $22",
    )
    .bind(t.status.as_str())
    .bind(t.close_reason.map(|r| r.as_str()))
    .bind(t.service.as_deref())
    .bind(t.category.as_deref())
    .bind(t.priority.map(|p| p.as_str()))
    .bind(t.assignee.as_deref())
    .bind(serde_json::to_string(&t.fields).unwrap_or_else(|_| "{}".into()))
    .bind(t.change_id.as_deref())
    .bind(t.resolution.as_deref())
    .bind(t.resolved_at.map(unix))
    .bind(t.closed_at.map(unix))
    .bind(t.survey.as_ref().map(|(r, _)| i64::from(*r)))
    .bind(t.survey.as_ref().map(|(_, c)| c.as_str()))
    .bind(s.target_secs)
    .bind(s.used_secs)
    .bind(s.running_since.map(unix))
    .bind(s.paused_secs)
    .bind(s.paused_since.map(unix))
    .bind(i64::from(s.alerts_sent))
    .bind(at)
    .bind(t.requester.as_str())
    .bind(t.number.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// Attachment counts of several tickets in one statement; tickets without any are left out.
pub async fn attachment_counts(
    conn: &mut Conn,
    ns: &[TicketNumber],
) -> Result<std::collections::HashMap<TicketNumber, usize>, sqlx::Error> {
    if ns.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ticket_id, COUNT(*) FROM attachments WHERE ticket_id IN ({}) GROUP BY ticket_id",
        super::id_list(ns.iter().map(|n| n.0))
    )))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(t, c)| (TicketNumber(t), c as usize))
        .collect())
}

pub async fn attachment_count(conn: &mut Conn, n: TicketNumber) -> Result<usize, sqlx::Error> {
    let c: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE ticket_id = $1")
        .bind(n.0)
        .fetch_one(conn)
        .await?;
    Ok(c as usize)
}
