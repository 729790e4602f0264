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

/// Mail of `kind` accepted by the SMTP server.
pub async fn sent_of_kind(
    db: &Db,
    kind: crate::domain::mail_kind::MailKind,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = $1 AND status = 'sent'")
        .bind(kind.as_str())
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
