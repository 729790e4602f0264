//! The audit trail: the "Registro: Herramienta de Gestión" of every activity.

use super::writes::Writes;
use super::Conn;
use crate::domain::event_kind::EventKind;
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
    pub kind: EventKind,
    pub description: &'a str,
}

pub async fn insert(conn: &mut Conn, e: &NewEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        INSERT INTO events (ticket_id, at, actor, activity, kind, description)
        VALUES ($1, $2, $3, $4, $5, $6)
        ",
    )
    .bind(e.ticket.0)
    .bind(e.at)
    .bind(e.actor)
    .bind(e.activity)
    .bind(e.kind.as_str())
    .bind(e.description)
    .execute(conn)
    .await?;
    Ok(())
}

/// Several events in one statement, in order.
pub async fn insert_many(conn: &mut Conn, es: &[NewEvent<'_>]) -> Result<(), sqlx::Error> {
    let mut w = Writes::new(conn);
    insert_many_into(&mut w, es);
    w.flush(conn).await
}

/// [`insert_many`], sent with the other writes of `w` (in order, with every other event
/// they hold, by one INSERT).
pub fn insert_many_into(w: &mut Writes, es: &[NewEvent<'_>]) {
    for e in es {
        w.push_row(
            "INSERT INTO events (ticket_id, at, actor, activity, kind, description)",
            |p| {
                format!(
                    "({}, {}, {}, {}, {}, {})",
                    p.bind(e.ticket.0),
                    p.bind(e.at),
                    p.bind(e.actor),
                    p.bind(e.activity),
                    p.bind(e.kind.as_str()),
                    p.bind(e.description)
                )
            },
        );
    }
}

pub async fn for_ticket(conn: &mut Conn, n: TicketNumber) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, actor, activity, kind, description FROM events WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(n.0)
    .fetch_all(conn)
    .await
}
