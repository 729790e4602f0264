//! What the web panel reads of one ticket (its mail with row ids, its files) and of the open
//! queue, filtered in SQL and read from the index of open tickets.

use super::{tickets, Conn};
use crate::domain::sla::SlaClock;
use crate::domain::ticket::TicketNumber;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct MailRow {
    pub id: i64,
    pub direction: String,
    pub kind: String,
    pub from_addr: String,
    pub to_addrs: String,
    pub subject: String,
    pub body_text: String,
    pub at: i64,
}

/// Every mail of ticket `n`, in and out, oldest first.
pub async fn mail_of(conn: &mut Conn, n: TicketNumber) -> Result<Vec<MailRow>, sqlx::Error> {
    sqlx::query_as(
        "
        SELECT id, direction, kind, from_addr, to_addrs, subject, body_text, at
        FROM messages
        WHERE ticket_id = $1
        ORDER BY id
        ",
    )
    .bind(n.0)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct FileRow {
    pub id: i64,
    pub message_row: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
}

/// Ticket `n`'s files, without their content.
pub async fn files_of(conn: &mut Conn, n: TicketNumber) -> Result<Vec<FileRow>, sqlx::Error> {
    sqlx::query_as(
        "
        SELECT id, message_row, filename, content_type, size
        FROM attachments
        WHERE ticket_id = $1
        ORDER BY id
        ",
    )
    .bind(n.0)
    .fetch_all(conn)
    .await
}

/// Where a file's bytes are.
pub enum FileContent {
    Here(Vec<u8>),
    /// Left in its stored mail (a mail kept in pieces, `messages::raw_of` the message row):
    /// the attachment with this SHA-256 (hex) in it.
    InMail {
        sha256: String,
    },
}

#[derive(FromRow)]
struct FileWithContent {
    #[sqlx(flatten)]
    file: FileRow,
    sha256: String,
    content: Vec<u8>,
}

/// File `id` of ticket `n` with its content; `None` when it is not that ticket's.
pub async fn file(
    conn: &mut Conn,
    n: TicketNumber,
    id: i64,
) -> Result<Option<(FileRow, FileContent)>, sqlx::Error> {
    let row: Option<FileWithContent> = sqlx::query_as(
        "
        SELECT id, message_row, filename, content_type, size, sha256, content
        FROM attachments
        WHERE ticket_id = $1 AND id = $2
        ",
    )
    .bind(n.0)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        let content = if r.content.len() as i64 == r.file.size {
            FileContent::Here(r.content)
        } else {
            FileContent::InMail { sha256: r.sha256 }
        };
        (r.file, content)
    }))
}

/// Which open tickets the queue shows.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// Only these statuses' tickets (stored values).
    pub status: Option<String>,
    /// Only this service's (catalogue code).
    pub service: Option<String>,
    /// Only tickets nobody has.
    pub unassigned: bool,
    /// Only tickets assigned to one of these (addresses, lowercase, or group codes)...
    pub assignees: Option<Vec<String>>,
    /// ...or, with `assignees`, unassigned tickets of these services (catalogue codes): the new
    /// work a group receives through its services before anyone takes it.
    pub unassigned_of_services: Vec<String>,
}

/// What the queue and the SLA board read of every open ticket: who has it, its service and
/// its SLA clock, all in the index `tickets_open`, so these reads never touch the table.
#[derive(Debug, Clone, FromRow)]
pub struct OpenClock {
    pub id: i64,
    pub status: String,
    pub service: Option<String>,
    pub assignee: Option<String>,
    pub sla_target_secs: i64,
    pub sla_used_secs: i64,
    pub sla_running_since: Option<i64>,
    pub sla_paused_secs: i64,
    pub sla_paused_since: Option<i64>,
    pub sla_alerts_sent: i64,
}

impl OpenClock {
    pub fn number(&self) -> TicketNumber {
        TicketNumber(self.id)
    }

    pub fn sla(&self) -> SlaClock {
        tickets::sla_clock(
            self.sla_target_secs,
            self.sla_used_secs,
            self.sla_running_since,
            self.sla_paused_secs,
            self.sla_paused_since,
            self.sla_alerts_sent,
        )
    }
}

/// The clocks of the open tickets (not closed) matching `f`, in no particular order: the
/// queue sorts them by time left, which only the calendar knows.
pub async fn open_clocks(conn: &mut Conn, f: &QueueFilter) -> Result<Vec<OpenClock>, sqlx::Error> {
    // `status <> 'cerrado'` word for word as in the index `tickets_open`'s condition, which is
    // how SQLite knows the partial index holds every row asked for. Placeholders are numbered
    // here; every value is bound below, in the same order.
    let mut sql = String::from(
        "
        SELECT id, status, service, assignee, sla_target_secs, sla_used_secs,
               sla_running_since, sla_paused_secs, sla_paused_since, sla_alerts_sent
        FROM tickets
        WHERE status <> 'cerrado'",
    );
    let mut binds: Vec<String> = Vec::new();
    if let Some(s) = &f.status {
        binds.push(s.clone());
        sql.push_str(&format!(" AND status = ${}", binds.len()));
    }
    if let Some(s) = &f.service {
        binds.push(s.clone());
        sql.push_str(&format!(" AND service = ${}", binds.len()));
    }
    if f.unassigned {
        sql.push_str(" AND assignee IS NULL");
    }
    if let Some(who) = &f.assignees {
        if who.is_empty() && f.unassigned_of_services.is_empty() {
            return Ok(Vec::new());
        }
        let mut placeholders = |values: &[String]| -> String {
            values
                .iter()
                .map(|w| {
                    binds.push(w.clone());
                    format!("${}", binds.len())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut either = Vec::new();
        if !who.is_empty() {
            either.push(format!("LOWER(assignee) IN ({})", placeholders(who)));
        }
        if !f.unassigned_of_services.is_empty() {
            either.push(format!(
                "(assignee IS NULL AND service IN ({}))",
                placeholders(&f.unassigned_of_services)
            ));
        }
        sql.push_str(&format!(" AND ({})", either.join(" OR ")));
    }
    // Built from our own constants and numbered placeholders only; values are bound.
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for b in &binds {
        q = q.bind(b.as_str());
    }
    q.fetch_all(conn).await
}

/// Tickets `ns` whole, in one statement (a page of the queue), in no particular order.
pub async fn tickets(
    conn: &mut Conn,
    ns: &[TicketNumber],
) -> Result<Vec<tickets::TicketRow>, sqlx::Error> {
    if ns.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = ns.iter().map(|n| n.0.to_string()).collect();
    // Our own constant and a list of integers, formatted in.
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM tickets WHERE id IN ({})",
        tickets::COLUMNS,
        list.join(", ")
    )))
    .fetch_all(conn)
    .await
}
