//! Incidents (`INC-n`): mail the intake recognised as a fault, or a request an agent turned
//! into one (`#incidente`), handed to the incident procedure.

use super::Conn;
use crate::domain::ticket::TicketNumber;

pub async fn insert(
    conn: &mut Conn,
    requester: &str,
    subject: &str,
    message_id: &str,
    at: i64,
) -> Result<i64, sqlx::Error> {
    insert_from(conn, requester, subject, message_id, None, at).await
}

/// An incident that continues request `from` (`#incidente`, with the agent's reason).
pub async fn insert_from(
    conn: &mut Conn,
    requester: &str,
    subject: &str,
    message_id: &str,
    from: Option<(TicketNumber, &str)>,
    at: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "
        INSERT INTO incidents (requester, subject, message_id, created_at, from_ticket, reason)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
        ",
    )
    .bind(requester)
    .bind(crate::domain::text::mask_tokens(subject).as_ref())
    .bind(message_id)
    .bind(at)
    .bind(from.map(|(n, _)| n.0))
    .bind(from.map(|(_, r)| r))
    .fetch_one(conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: i64,
    pub requester: String,
    pub subject: String,
    pub message_id: String,
    pub created_at: i64,
    pub from_ticket: Option<i64>,
    pub reason: Option<String>,
    /// The request it continues as (`#requerimiento`).
    pub to_ticket: Option<i64>,
}

impl IncidentRow {
    pub fn label(&self) -> String {
        format!("INC-{}", self.id)
    }
}

const COLUMNS: &str =
    "id, requester, subject, message_id, created_at, from_ticket, reason, to_ticket";

/// Oldest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<IncidentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incidents ORDER BY id"
    )))
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<IncidentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incidents WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// `#requerimiento`: the incident continues as request `n`.
pub async fn set_converted(conn: &mut Conn, id: i64, n: TicketNumber) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE incidents SET to_ticket = $1 WHERE id = $2")
        .bind(n.0)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A personal reply token on mail about incident `id`, stored as its hash.
pub async fn add_token(
    conn: &mut Conn,
    id: i64,
    token: &str,
    recipient: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        INSERT INTO incident_tokens (token_hash, incident_id, recipient, created_at)
        VALUES ($1, $2, $3, $4)
        ",
    )
    .bind(super::approvals::hash_token(token))
    .bind(id)
    .bind(recipient)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The incident and recipient a token was issued for, or `None` when we never issued it.
pub async fn find_token(
    conn: &mut Conn,
    token: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT incident_id, recipient FROM incident_tokens WHERE token_hash = $1")
        .bind(super::approvals::hash_token(token))
        .fetch_optional(conn)
        .await
}
