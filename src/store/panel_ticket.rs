//! What the web panel reads of one ticket (its mail with row ids, its files) and of the open
//! queue, filtered in SQL.

use super::{tickets, Conn};
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
    /// Only tickets assigned to one of these (addresses, lowercase, or group codes).
    pub assignees: Option<Vec<String>>,
}

/// Open tickets (not closed) matching `f`.
pub async fn queue(
    conn: &mut Conn,
    f: &QueueFilter,
) -> Result<Vec<tickets::TicketRow>, sqlx::Error> {
    // Placeholders are numbered here; every value is bound below, in the same order.
    let mut sql = format!(
        "SELECT {} FROM tickets WHERE status <> 'cerrado'",
        tickets::COLUMNS
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
        if who.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = who
            .iter()
            .map(|w| {
                binds.push(w.clone());
                format!("${}", binds.len())
            })
            .collect();
        sql.push_str(&format!(" AND LOWER(assignee) IN ({})", list.join(", ")));
    }
    sql.push_str(" ORDER BY id");
    // Built from our own constants and numbered placeholders only; values are bound.
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for b in &binds {
        q = q.bind(b.as_str());
    }
    q.fetch_all(conn).await
}
