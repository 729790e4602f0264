//! Tickets: the request record the procedure moves through its statuses.

use super::Conn;
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
}

impl TicketRow {
    pub fn number(&self) -> TicketNumber {
        TicketNumber(self.id)
    }
}

const COLUMNS: &str = "id, status, close_reason, subject, requester, requester_name, \
root_message_id, created_at, updated_at, closed_at";

pub struct NewTicket<'a> {
    pub status: &'a str,
    pub subject: &'a str,
    pub requester: &'a str,
    pub requester_name: Option<&'a str>,
    pub root_message_id: &'a str,
    pub at: i64,
}

pub async fn insert(conn: &mut Conn, t: &NewTicket<'_>) -> Result<TicketNumber, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tickets (status, subject, requester, requester_name, root_message_id, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(t.status)
    .bind(t.subject)
    .bind(t.requester)
    .bind(t.requester_name)
    .bind(t.root_message_id)
    .bind(t.at)
    .fetch_one(conn)
    .await?;
    Ok(TicketNumber(id))
}

pub async fn get(conn: &mut Conn, n: TicketNumber) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id = $1"
    )))
    .bind(n.0)
    .fetch_optional(conn)
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

pub async fn touch(conn: &mut Conn, n: TicketNumber, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
        .bind(at)
        .bind(n.0)
        .execute(conn)
        .await?;
    Ok(())
}
