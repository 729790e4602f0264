//! The audit trail: the "Registro: Herramienta de Gestión" of every activity.

use super::Conn;
use crate::domain::ticket::TicketNumber;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub at: i64,
    pub actor: String,
    pub activity: Option<i64>,
    pub kind: String,
    pub description: String,
}

pub struct NewEvent<'a> {
    pub ticket: TicketNumber,
    pub at: i64,
    pub actor: &'a str,
    pub activity: Option<i64>,
    pub kind: &'a str,
    pub description: &'a str,
}

pub async fn insert(conn: &mut Conn, e: &NewEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (ticket_id, at, actor, activity, kind, description) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(e.ticket.0)
    .bind(e.at)
    .bind(e.actor)
    .bind(e.activity)
    .bind(e.kind)
    .bind(e.description)
    .execute(conn)
    .await?;
    Ok(())
}

/// Several events in one statement, in order.
pub async fn insert_many(conn: &mut Conn, es: &[NewEvent<'_>]) -> Result<(), sqlx::Error> {
    if es.is_empty() {
        return Ok(());
    }
    let rows = (0..es.len())
        .map(|i| {
            let p = |k: usize| format!("${}", 6 * i + k);
            format!(
                "({}, {}, {}, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO events (ticket_id, at, actor, activity, kind, description) VALUES {rows}"
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for e in es {
        q = q
            .bind(e.ticket.0)
            .bind(e.at)
            .bind(e.actor)
            .bind(e.activity)
            .bind(e.kind)
            .bind(e.description);
    }
    q.execute(conn).await?;
    Ok(())
}

pub async fn for_ticket(conn: &mut Conn, n: TicketNumber) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, actor, activity, kind, description FROM events WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(n.0)
    .fetch_all(conn)
    .await
}
