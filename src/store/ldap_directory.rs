//! The last directory read from LDAP (`crate::ldap`), kept so that an outage, and a restart
//! during one, still routes by it.

use super::Conn;
use crate::domain::ldap_directory::Entry;

/// Replaces the stored read.
pub async fn save(conn: &mut Conn, entries: &[Entry], read_at: i64) -> anyhow::Result<()> {
    let json = serde_json::to_string(entries)?;
    sqlx::query(
        "
        INSERT INTO ldap_directory (singleton, entries, read_at)
        VALUES (1, $1, $2)
        ON CONFLICT (singleton) DO UPDATE
        SET entries = excluded.entries, read_at = excluded.read_at
        ",
    )
    .bind(json)
    .bind(read_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored read and when it was made (Unix seconds); `None` before the first one.
pub async fn load(conn: &mut Conn) -> anyhow::Result<Option<(Vec<Entry>, i64)>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT entries, read_at FROM ldap_directory WHERE singleton = 1")
            .fetch_optional(conn)
            .await?;
    match row {
        None => Ok(None),
        Some((json, at)) => Ok(Some((serde_json::from_str(&json)?, at))),
    }
}
