//! The web panel's sign-in links and sessions, kept only as SHA-256 hashes of their secrets,
//! and the reads its pages need.

use super::{tickets, Conn};
use crate::domain::ticket::TicketNumber;
use sha2::{Digest, Sha256};

/// 32 random bytes in hex: the secret of a sign-in link or a session cookie.
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new sign-in link for `email`, valid until `expires_at`.
pub async fn add_link(
    conn: &mut Conn,
    secret: &str,
    email: &str,
    at: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO panel_links (token_hash, email, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash_secret(secret))
    .bind(email)
    .bind(at)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many links `email` was sent since `since`: the per-address rate limit.
pub async fn links_since(conn: &mut Conn, email: &str, since: i64) -> Result<i64, sqlx::Error> {
    // Approval links (bound to a ticket) are the help desk's own mail, not asked for.
    sqlx::query_scalar(
        "
        SELECT COUNT(*) FROM panel_links
        WHERE email = $1 AND created_at >= $2 AND ticket_id IS NULL
        ",
    )
    .bind(email)
    .bind(since)
    .fetch_one(conn)
    .await
}

/// Whether the link is still usable (unused, not expired), and for whom; reading it spends
/// nothing (a GET only shows the confirmation).
pub async fn peek_link(
    conn: &mut Conn,
    secret: &str,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "
        SELECT email FROM panel_links
        WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND ticket_id IS NULL
        ",
    )
    .bind(hash_secret(secret))
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Spends the link and returns whom it was mailed to; `None` when it was unknown, used or
/// expired. One statement, so two simultaneous uses cannot both succeed.
pub async fn use_link(
    conn: &mut Conn,
    secret: &str,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "
        UPDATE panel_links SET used_at = $1
        WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 AND ticket_id IS NULL
        RETURNING email
        ",
    )
    .bind(now)
    .bind(hash_secret(secret))
    .fetch_optional(conn)
    .await
}

/// A sign-in link bound to `email` and `ticket`: the approval request's direct link.
pub async fn add_ticket_link(
    conn: &mut Conn,
    secret: &str,
    email: &str,
    ticket: TicketNumber,
    at: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        INSERT INTO panel_links (token_hash, email, created_at, expires_at, ticket_id)
        VALUES ($1, $2, $3, $4, $5)
        ",
    )
    .bind(hash_secret(secret))
    .bind(email)
    .bind(at)
    .bind(expires_at)
    .bind(ticket.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// A ticket-bound link as stored: whom it was mailed to, for which ticket, and whether it can
/// still be used (unused and not expired).
#[derive(Debug, Clone)]
pub struct TicketLink {
    pub email: String,
    pub ticket: TicketNumber,
    pub usable: bool,
}

/// Whether `secret` is a ticket-bound link at all (used, expired or not), and whether it is
/// still usable at `now`. Reading it spends nothing: mail scanners open these links.
pub async fn ticket_link(
    conn: &mut Conn,
    secret: &str,
    now: i64,
) -> Result<Option<TicketLink>, sqlx::Error> {
    // A number, not a boolean: the two databases' drivers agree on BIGINT.
    let row: Option<(String, i64, i64)> = sqlx::query_as(
        "
        SELECT email, ticket_id,
               CAST(CASE WHEN used_at IS NULL AND expires_at > $2 THEN 1 ELSE 0 END AS BIGINT)
        FROM panel_links
        WHERE token_hash = $1 AND ticket_id IS NOT NULL
        ",
    )
    .bind(hash_secret(secret))
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(email, t, usable)| TicketLink {
        email,
        ticket: TicketNumber(t),
        usable: usable == 1,
    }))
}

/// Spends a ticket-bound link; `None` when it was used or expired. One statement, so two
/// simultaneous uses cannot both succeed.
pub async fn use_ticket_link(
    conn: &mut Conn,
    secret: &str,
    now: i64,
) -> Result<Option<(String, TicketNumber)>, sqlx::Error> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "
        UPDATE panel_links SET used_at = $1
        WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 AND ticket_id IS NOT NULL
        RETURNING email, ticket_id
        ",
    )
    .bind(now)
    .bind(hash_secret(secret))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(e, t)| (e, TicketNumber(t))))
}

/// Records a sign-in link asked for by `client_hash` and says how many it asked for since
/// `since`, this one included; older records are dropped on the way.
pub async fn count_client_request(
    conn: &mut Conn,
    client_hash: &str,
    at: i64,
    since: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query("DELETE FROM panel_link_requests WHERE at < $1")
        .bind(since)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO panel_link_requests (client_hash, at) VALUES ($1, $2)")
        .bind(client_hash)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM panel_link_requests WHERE client_hash = $1 AND at >= $2",
    )
    .bind(client_hash)
    .bind(since)
    .fetch_one(conn)
    .await
}

pub async fn add_session(
    conn: &mut Conn,
    secret: &str,
    email: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO panel_sessions (token_hash, email, created_at, last_seen)
         VALUES ($1, $2, $3, $3)",
    )
    .bind(hash_secret(secret))
    .bind(email)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The session's person when it was seen after `idle_since`, which also marks it seen `now`
/// (the idle expiry slides); `None` for an unknown or idle-expired session.
pub async fn touch_session(
    conn: &mut Conn,
    secret: &str,
    idle_since: i64,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE panel_sessions SET last_seen = $1
         WHERE token_hash = $2 AND last_seen > $3
         RETURNING email",
    )
    .bind(now)
    .bind(hash_secret(secret))
    .bind(idle_since)
    .fetch_optional(conn)
    .await
}

pub async fn end_session(conn: &mut Conn, secret: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM panel_sessions WHERE token_hash = $1")
        .bind(hash_secret(secret))
        .execute(conn)
        .await?;
    Ok(())
}

/// Expired links and idle sessions are of no use to anyone: dropped as new ones are made.
pub async fn forget_expired(conn: &mut Conn, now: i64, idle_since: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM panel_links WHERE expires_at < $1")
        .bind(now - 86_400)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM panel_sessions WHERE last_seen <= $1")
        .bind(idle_since)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether `email` (lowercase) ever asked for anything: such a person may sign in.
pub async fn has_tickets(conn: &mut Conn, email: &str) -> Result<bool, sqlx::Error> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT id FROM tickets WHERE LOWER(requester) = $1 LIMIT 1")
            .bind(email)
            .fetch_optional(conn)
            .await?;
    Ok(n.is_some())
}

/// `email`'s own requests (lowercase address), newest first.
pub async fn tickets_of(
    conn: &mut Conn,
    email: &str,
) -> Result<Vec<tickets::TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM tickets WHERE LOWER(requester) = $1 ORDER BY id DESC LIMIT 500",
        tickets::COLUMNS
    )))
    .bind(email)
    .fetch_all(conn)
    .await
}
