//! The one read intake makes before it decides what a received mail is: everything the
//! decision may need, in one statement, by index lookups only.

use super::Conn;
use crate::domain::mail_kind::MailKind;
use sqlx::FromRow;

/// What the mail offers to look up.
pub struct Ask<'a> {
    pub message_id: &'a str,
    /// The `[REQ-n]` of its subject.
    pub tagged: Option<i64>,
    /// Its In-Reply-To and References, oldest first.
    pub references: &'a [String],
    /// Outlook's conversation key.
    pub thread_key: Option<&'a str>,
    /// The hash of the token it carries (plus-address or `[APR:…]`).
    pub token_hash: Option<&'a str>,
    pub from: &'a str,
    /// Count the sender's mail taken in after this (Unix seconds).
    pub since: i64,
    /// The outgoing kind whose answers are recognised (the approvals digest).
    pub digest_kind: MailKind,
}

/// What the database knows about it.
#[derive(Debug, Clone, FromRow)]
pub struct Facts {
    /// An inbound mail already stored under its Message-ID: its row.
    pub dup_row: Option<i64>,
    pub dup_fingerprint: Option<String>,
    /// Whether that mail's raw bytes are stored (copies and quarantine records have none).
    pub dup_has_raw: Option<i64>,
    /// The mail's thread, by the strongest evidence first: the subject's ticket (when it
    /// exists), the ticket of the newest stored mail among the references (the direct parent
    /// first), Outlook's conversation key.
    pub thread_ticket: Option<i64>,
    /// The approval or reply token, when we issued it.
    pub token_ticket: Option<i64>,
    pub token_recipient: Option<String>,
    pub token_purpose: Option<String>,
    pub token_used_at: Option<i64>,
    /// The incident token, when we issued it.
    pub incident_token: Option<i64>,
    /// Requests (tickets, catalogue, incidents) the sender opened since `since`.
    pub opened: i64,
    /// Of the sender's mail held by the per-sender limit since `since`.
    pub held: i64,
    /// Whether the mail answers one of our approvals digests.
    pub answers_digest: i64,
}

/// Only the newest 50 references count, as a client's list can be long.
const MAX_REFERENCES: usize = 50;

/// The facts, and the ticket the mail threads onto (by [`Facts::thread_ticket`], else by the
/// token's ticket) as [`tickets::get_loaded`](super::tickets::get_loaded) reads it, locked.
pub async fn facts(
    conn: &mut Conn,
    a: &Ask<'_>,
) -> Result<(Facts, Option<super::tickets::Loaded>), sqlx::Error> {
    let refs: Vec<&String> = {
        let skip = a.references.len().saturating_sub(MAX_REFERENCES);
        a.references.iter().skip(skip).collect()
    };
    // $1..$11 below, then one per reference; the list is built from our own numbers only.
    let values = if refs.is_empty() {
        "SELECT NULL AS mid, 0 AS pos WHERE 1 = 0".to_owned()
    } else {
        let rows = (0..refs.len())
            .map(|i| format!("(${}, {i})", 12 + i))
            .collect::<Vec<_>>()
            .join(", ");
        format!("VALUES {rows}")
    };
    let ticket = super::tickets::loaded_select(conn, "(SELECT id FROM th)");
    let sql = format!(
        "
        WITH refs (mid, pos) AS ({values}),
        tok AS (
            SELECT ticket_id, recipient, purpose, used_at FROM approval_tokens
            WHERE token_hash = $4
        ),
        own AS (
            SELECT COALESCE(
                (SELECT id FROM tickets WHERE id = $2),
                (SELECT m.ticket_id FROM messages m JOIN refs r ON m.message_id = r.mid
                 WHERE m.ticket_id IS NOT NULL
                 ORDER BY r.pos DESC, m.id DESC LIMIT 1),
                (SELECT ticket_id FROM messages
                 WHERE thread_key = $3 AND ticket_id IS NOT NULL
                 ORDER BY id DESC LIMIT 1)
            ) AS id
        ),
        th AS (SELECT COALESCE((SELECT id FROM own), (SELECT ticket_id FROM tok)) AS id),
        lt AS ({ticket})
        SELECT
            lt.*,
            dup.id AS dup_row,
            dup.fingerprint AS dup_fingerprint,
            CASE WHEN dup.id IS NULL THEN NULL WHEN dup.raw IS NULL THEN 0 ELSE 1 END
                AS dup_has_raw,
            (SELECT id FROM own) AS thread_ticket,
            tok.ticket_id AS token_ticket,
            tok.recipient AS token_recipient,
            tok.purpose AS token_purpose,
            tok.used_at AS token_used_at,
            itok.incident_id AS incident_token,
            (SELECT COUNT(*) FROM messages
             WHERE direction = 'in' AND from_addr = $5 AND created_at > $6
               AND kind IN ($7, $10, $11)) AS opened,
            (SELECT COUNT(*) FROM messages
             WHERE direction = 'in' AND from_addr = $5 AND created_at > $6
               AND kind = $8) AS held,
            (SELECT COUNT(*) FROM messages m JOIN refs r ON m.message_id = r.mid
             WHERE m.direction = 'out' AND m.kind = $9) AS answers_digest
        FROM (SELECT 1 AS one) AS one
        LEFT JOIN lt ON 1 = 1
        LEFT JOIN messages dup ON dup.direction = 'in' AND dup.message_id = $1
        LEFT JOIN tok ON 1 = 1
        LEFT JOIN incident_tokens itok ON itok.token_hash = $4
        "
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(a.message_id)
        .bind(a.tagged)
        .bind(a.thread_key)
        .bind(a.token_hash)
        .bind(a.from)
        .bind(a.since)
        .bind(MailKind::Solicitud.as_str())
        .bind(MailKind::LimiteRemitente.as_str())
        .bind(a.digest_kind.as_str())
        .bind(MailKind::Catalogo.as_str())
        .bind(MailKind::Incidente.as_str());
    for r in refs {
        q = q.bind(r.as_str());
    }
    let row = q.fetch_one(conn).await?;
    Ok((
        Facts::from_row(&row)?,
        super::tickets::loaded_from_row(&row)?,
    ))
}
