//! Everything due at an instant, indexed by due time, so a sweep reads only what is due.

use super::Conn;
use crate::domain::ticket::TicketNumber;

/// [`set`], sent with the other writes of `w`.
pub fn set_into(w: &mut super::writes::Writes, t: TicketNumber, kind: &str, due_at: i64) {
    w.push(|p| {
        format!(
            "
            INSERT INTO timers (ticket_id, kind, due_at) VALUES ({}, {}, {})
            ON CONFLICT (ticket_id, kind) DO UPDATE SET due_at = excluded.due_at
            ",
            p.bind(t.0),
            p.bind(kind),
            p.bind(due_at)
        )
    });
}

/// [`clear`], sent with the other writes of `w`.
pub fn clear_into(w: &mut super::writes::Writes, t: TicketNumber, kind: &str) {
    w.push(|p| {
        format!(
            "DELETE FROM timers WHERE ticket_id = {} AND kind = {}",
            p.bind(t.0),
            p.bind(kind)
        )
    });
}

pub async fn set(
    conn: &mut Conn,
    t: TicketNumber,
    kind: &str,
    due_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        INSERT INTO timers (ticket_id, kind, due_at) VALUES ($1, $2, $3)
        ON CONFLICT (ticket_id, kind) DO UPDATE SET due_at = excluded.due_at
        ",
    )
    .bind(t.0)
    .bind(kind)
    .bind(due_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn clear(conn: &mut Conn, t: TicketNumber, kind: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM timers WHERE ticket_id = $1 AND kind = $2")
        .bind(t.0)
        .bind(kind)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: String,
    pub due_at: i64,
}

pub async fn due(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, ticket_id, kind, due_at FROM timers WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Takes a due timer for this transaction; `false` when another sweep already took it, which
/// is what makes each alert go out once across instances.
pub async fn claim(conn: &mut Conn, id: i64, due_at: i64) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM timers WHERE id = $1 AND due_at = $2")
            .bind(id)
            .bind(due_at)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

/// [`claim`] for several timers in one statement; returns the ids taken.
pub async fn claim_many(
    conn: &mut Conn,
    due: &[Due],
) -> Result<std::collections::HashSet<i64>, sqlx::Error> {
    if due.is_empty() {
        return Ok(Default::default());
    }
    let which = due
        .iter()
        .map(|d| format!("(id = {} AND due_at = {})", d.id, d.due_at))
        .collect::<Vec<_>>()
        .join(" OR ");
    // The id list leads the planner to the primary key; the pairs alone to the due-time
    // index, where a thousand timers due at one instant would all be visited.
    let ids = super::id_list(due.iter().map(|d| d.id));
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "DELETE FROM timers WHERE id IN ({ids}) AND ({which}) RETURNING id"
    )))
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().collect())
}
