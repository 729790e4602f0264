//! Incidents (`INC-n`): mail the intake recognised as a fault, handed to the incident procedure.

use super::Conn;

pub async fn insert(
    conn: &mut Conn,
    requester: &str,
    subject: &str,
    message_id: &str,
    at: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO incidents (requester, subject, message_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(requester)
    .bind(crate::domain::text::mask_tokens(subject).as_ref())
    .bind(message_id)
    .bind(at)
    .fetch_one(conn)
    .await
}
