//! What `/metrics` reads from the database: counts, each its own statement so that one that
//! fails (a table not yet migrated) leaves the others readable.

use super::Db;

/// Tickets per stored status.
pub async fn tickets_by_status(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, COUNT(*) FROM tickets GROUP BY status")
        .fetch_all(&db.pool)
        .await
}

/// Mail queued and not yet accepted, and when the oldest of it was queued.
pub async fn outbox_backlog(db: &Db) -> Result<(i64, Option<i64>), sqlx::Error> {
    sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'")
        .fetch_one(&db.pool)
        .await
}

/// Mail refused for good.
pub async fn outbox_failed(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
        .fetch_one(&db.pool)
        .await
}

/// SLA alerts accepted by the SMTP server. The values are written into the statement, not
/// bound: only then may SQLite and PostgreSQL (whose prepared statements get a generic plan)
/// answer from the partial index `outbox_sla_alerts_sent` (migration 0022) instead of reading
/// the whole outbox at every scrape.
pub async fn sla_alerts_sent(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'alerta_sla' AND status = 'sent'")
        .fetch_one(&db.pool)
        .await
}

/// Tickets in status `status`.
pub async fn tickets_in(db: &Db, status: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE status = $1")
        .bind(status)
        .fetch_one(&db.pool)
        .await
}

#[cfg(test)]
mod tests {
    use crate::domain::mail_kind::MailKind;

    /// The literal in `sla_alerts_sent` and in migration 0022 is the kind's stored name.
    #[test]
    fn the_alert_count_names_the_stored_kind() {
        assert_eq!(MailKind::AlertaSla.as_str(), "alerta_sla");
        for dir in ["sqlite", "postgres"] {
            let path = format!(
                "{}/migrations/{dir}/0022_sla_alerts_sent_index.sql",
                env!("CARGO_MANIFEST_DIR")
            );
            let sql = std::fs::read_to_string(path).unwrap();
            assert!(
                sql.contains("kind = 'alerta_sla' AND status = 'sent'"),
                "{dir}"
            );
        }
    }
}
