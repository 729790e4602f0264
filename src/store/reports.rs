//! Periodic reports sent once: the monthly compliance report is recorded in the `digests`
//! table (the once-a-period mail record the approvals digest already uses) under the key
//! `informe_mensual:<YYYY-MM>`, so no migration is needed and whichever instance or
//! `jobs run` claims it first is the only one that sends it.

use super::Conn;

fn key(month: &str) -> String {
    format!("informe_mensual:{month}")
}

/// Claims the report of `month` ("2026-11"); `false` when it was already sent.
pub async fn claim_monthly(conn: &mut Conn, month: &str, at: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO digests (day, sent_at) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING",
    )
    .bind(key(month))
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}
