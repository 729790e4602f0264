//! Approvals (one per ticket) and their one-time tokens, kept only as SHA-256 hashes.

use super::{from_unix, unix, Conn};
use crate::domain::authority::{IssuedToken, TokenPurpose};
use crate::domain::catalog::ApprovalKind;
use crate::domain::procedure::aprobacion::{Approval, ApprovalStatus};
use crate::domain::ticket::TicketNumber;
use sha2::{Digest, Sha256};
use sqlx::FromRow;

/// Case-insensitive: mail systems may lowercase the local part of an address.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.to_ascii_lowercase().as_bytes()))
}

/// 24 random bytes in hex: hopeless to guess, survives any lowercasing on the way, and keeps
/// `mesayuda+<token>` within the 64-character limit of a local part.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

#[derive(Debug, Clone, FromRow)]
struct Row {
    kind: String,
    approver: Option<String>,
    substitute: Option<String>,
    status: String,
    requested_at: Option<i64>,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    reason: Option<String>,
    unclear_answers: i64,
    substitute_notified: i64,
}

const APPROVAL_COLUMNS: &str = "
kind, approver, substitute, status, requested_at, decided_by,
decided_at, reason, unclear_answers, substitute_notified
";

pub async fn load(conn: &mut Conn, t: TicketNumber) -> Result<Option<Approval>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE ticket_id = $1"
    )))
    .bind(t.0)
    .fetch_optional(conn)
    .await?;
    row.map(Row::into_approval).transpose()
}

/// The approvals of several tickets in one statement, by ticket.
pub async fn load_many(
    conn: &mut Conn,
    ts: &[TicketNumber],
) -> Result<std::collections::HashMap<TicketNumber, Approval>, sqlx::Error> {
    if ts.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<ByTicket> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ticket_id, {APPROVAL_COLUMNS} FROM approvals WHERE ticket_id IN ({})",
        super::id_list(ts.iter().map(|t| t.0))
    )))
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|b| Ok((TicketNumber(b.ticket_id), b.row.into_approval()?)))
        .collect()
}

#[derive(FromRow)]
struct ByTicket {
    ticket_id: i64,
    #[sqlx(flatten)]
    row: Row,
}

/// An approval's columns as [`crate::store::tickets::get_loaded`] reads them beside its
/// ticket (`ap_` prefixed, all absent when the ticket has none).
#[derive(Debug, Clone, FromRow)]
pub struct Joined {
    ap_kind: Option<String>,
    ap_approver: Option<String>,
    ap_substitute: Option<String>,
    ap_status: Option<String>,
    ap_requested_at: Option<i64>,
    ap_decided_by: Option<String>,
    ap_decided_at: Option<i64>,
    ap_reason: Option<String>,
    ap_unclear_answers: Option<i64>,
    ap_substitute_notified: Option<i64>,
}

/// The select list for [`Joined`], from approvals under the alias `ap`.
pub const JOINED_COLUMNS: &str = "
ap.kind AS ap_kind, ap.approver AS ap_approver,
ap.substitute AS ap_substitute, ap.status AS ap_status, ap.requested_at AS ap_requested_at,
ap.decided_by AS ap_decided_by, ap.decided_at AS ap_decided_at, ap.reason AS ap_reason,
ap.unclear_answers AS ap_unclear_answers, ap.substitute_notified AS ap_substitute_notified
";

impl Joined {
    pub fn into_approval(self) -> Result<Option<Approval>, sqlx::Error> {
        let (Some(kind), Some(status)) = (self.ap_kind, self.ap_status) else {
            return Ok(None);
        };
        Row {
            kind,
            approver: self.ap_approver,
            substitute: self.ap_substitute,
            status,
            requested_at: self.ap_requested_at,
            decided_by: self.ap_decided_by,
            decided_at: self.ap_decided_at,
            reason: self.ap_reason,
            unclear_answers: self.ap_unclear_answers.unwrap_or(0),
            substitute_notified: self.ap_substitute_notified.unwrap_or(0),
        }
        .into_approval()
        .map(Some)
    }
}

impl Row {
    /// A kind or status the code does not know is an error, never read as another: the
    /// procedure would act on it and write that one back.
    fn into_approval(self) -> Result<Approval, sqlx::Error> {
        let unknown = |column: &str, value: &str| {
            sqlx::Error::Decode(
                format!("approvals: unknown {column} `{value}` in the database").into(),
            )
        };
        Ok(Approval {
            kind: self
                .kind
                .parse::<ApprovalKind>()
                .map_err(|_| unknown("kind", &self.kind))?,
            approver: self.approver,
            substitute: self.substitute,
            status: ApprovalStatus::parse(&self.status)
                .ok_or_else(|| unknown("status", &self.status))?,
            requested_at: self.requested_at.map(from_unix),
            decided_by: self.decided_by,
            decided_at: self.decided_at.map(from_unix),
            reason: self.reason,
            unclear_answers: self.unclear_answers.max(0) as u32,
            substitute_notified: self.substitute_notified != 0,
        })
    }
}

pub async fn save(conn: &mut Conn, t: TicketNumber, a: &Approval) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        INSERT INTO approvals (ticket_id, kind, approver, substitute, status, requested_at, decided_by,
        decided_at, reason, unclear_answers, substitute_notified)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (ticket_id) DO UPDATE SET kind = excluded.kind, approver = excluded.approver,
        substitute = excluded.substitute, status = excluded.status, requested_at = excluded.requested_at,
        decided_by = excluded.decided_by, decided_at = excluded.decided_at, reason = excluded.reason,
        unclear_answers = excluded.unclear_answers, substitute_notified = excluded.substitute_notified
        ",
    )
    .bind(t.0)
    .bind(a.kind.as_str())
    .bind(a.approver.as_deref())
    .bind(a.substitute.as_deref())
    .bind(a.status.as_str())
    .bind(a.requested_at.map(unix))
    .bind(a.decided_by.as_deref())
    .bind(a.decided_at.map(unix))
    .bind(a.reason.as_deref())
    .bind(i64::from(a.unclear_answers))
    .bind(i64::from(a.substitute_notified))
    .execute(conn)
    .await?;
    Ok(())
}

/// [`add_token`], sent with the other writes of `w`.
pub fn add_token_into(
    w: &mut super::writes::Writes,
    t: TicketNumber,
    token: &str,
    recipient: &str,
    purpose: TokenPurpose,
    at: i64,
) {
    let head =
        "INSERT INTO approval_tokens (token_hash, ticket_id, recipient, purpose, created_at)";
    w.push_row(head, |p| {
        format!(
            "({}, {}, {}, {}, {})",
            p.bind(hash_token(token)),
            p.bind(t.0),
            p.bind(recipient),
            p.bind(purpose.as_str()),
            p.bind(at)
        )
    });
}

/// [`save`], sent with the other writes of `w`.
pub fn save_into(w: &mut super::writes::Writes, t: TicketNumber, a: &Approval) {
    w.push(|p| {
        format!(
            "
            INSERT INTO approvals (ticket_id, kind, approver, substitute, status, requested_at,
                                   decided_by, decided_at, reason, unclear_answers,
                                   substitute_notified)
            VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
            ON CONFLICT (ticket_id) DO UPDATE SET kind = excluded.kind,
                approver = excluded.approver, substitute = excluded.substitute,
                status = excluded.status, requested_at = excluded.requested_at,
                decided_by = excluded.decided_by, decided_at = excluded.decided_at,
                reason = excluded.reason, unclear_answers = excluded.unclear_answers,
                substitute_notified = excluded.substitute_notified
            ",
            p.bind(t.0),
            p.bind(a.kind.as_str()),
            p.bind(a.approver.clone()),
            p.bind(a.substitute.clone()),
            p.bind(a.status.as_str()),
            p.bind(a.requested_at.map(unix)),
            p.bind(a.decided_by.clone()),
            p.bind(a.decided_at.map(unix)),
            p.bind(a.reason.clone()),
            p.bind(i64::from(a.unclear_answers)),
            p.bind(i64::from(a.substitute_notified))
        )
    });
}

pub async fn add_token(
    conn: &mut Conn,
    t: TicketNumber,
    token: &str,
    recipient: &str,
    purpose: TokenPurpose,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO approval_tokens (token_hash, ticket_id, recipient, purpose, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_token(token))
    .bind(t.0)
    .bind(recipient)
    .bind(purpose.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
struct TokenRow {
    ticket_id: i64,
    recipient: String,
    purpose: String,
    used_at: Option<i64>,
}

/// The token as issued, or `None` when we never issued it.
pub async fn find_token(conn: &mut Conn, token: &str) -> Result<Option<IssuedToken>, sqlx::Error> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT ticket_id, recipient, purpose, used_at FROM approval_tokens
         WHERE token_hash = $1",
    )
    .bind(hash_token(token))
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| issued(r.ticket_id, r.recipient, &r.purpose, r.used_at)))
}

/// A token row as read (here or by `store::intake`) as the token issued.
pub fn issued(
    ticket_id: i64,
    recipient: String,
    purpose: &str,
    used_at: Option<i64>,
) -> Option<IssuedToken> {
    // An unknown purpose would be a newer version's token: it proves nothing here.
    Some(IssuedToken {
        ticket: TicketNumber(ticket_id),
        recipient,
        purpose: TokenPurpose::parse(purpose)?,
        spent: used_at.is_some(),
    })
}

pub async fn use_token(conn: &mut Conn, token: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE approval_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(at)
    .bind(hash_token(token))
    .execute(conn)
    .await?;
    Ok(())
}

/// Every approval token of a ticket dies (its approval was decided or cancelled).
pub async fn spend_approval_tokens(
    conn: &mut Conn,
    t: TicketNumber,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE approval_tokens SET used_at = $1
         WHERE ticket_id = $2 AND purpose = 'aprobacion' AND used_at IS NULL",
    )
    .bind(at)
    .bind(t.0)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct PendingRow {
    pub ticket_id: i64,
    pub subject: String,
    pub requester: String,
    pub service: Option<String>,
    pub approver: Option<String>,
    pub substitute: Option<String>,
    pub substitute_notified: i64,
    pub requested_at: Option<i64>,
}

/// Approvals waiting on an approver, oldest first; with `approver`, those they (or, as the
/// notified substitute, they) may decide. Open requests only: a request closed while its
/// approval was pending (by a version that left it so) asks nobody for anything.
pub async fn pending(
    conn: &mut Conn,
    approver: Option<&str>,
) -> Result<Vec<PendingRow>, sqlx::Error> {
    let rows: Vec<PendingRow> = sqlx::query_as(
        "
        SELECT a.ticket_id, t.subject, t.requester, t.service, a.approver, a.substitute,
        a.substitute_notified, a.requested_at FROM approvals a JOIN tickets t ON t.id = a.ticket_id
        WHERE a.status = 'pendiente' AND t.status <> 'cerrado'
        ORDER BY a.requested_at, a.ticket_id
        ",
    )
    .fetch_all(conn)
    .await?;
    let wanted = approver.map(crate::domain::text::canonical_address);
    Ok(rows
        .into_iter()
        .filter(|r| match &wanted {
            None => true,
            Some(w) => {
                r.approver
                    .as_deref()
                    .map(crate::domain::text::canonical_address)
                    .as_ref()
                    == Some(w)
                    || (r.substitute_notified != 0
                        && r.substitute
                            .as_deref()
                            .map(crate::domain::text::canonical_address)
                            .as_ref()
                            == Some(w))
            }
        })
        .collect())
}

/// A decision someone took, for their record in the panel.
#[derive(Debug, Clone, FromRow)]
pub struct DecidedRow {
    pub ticket_id: i64,
    pub subject: String,
    pub status: String,
    pub decided_at: Option<i64>,
    pub reason: Option<String>,
}

/// The approvals `who` (canonical address, as decisions store it) decided, as approver or
/// substitute, newest first, at most `limit`.
pub async fn decided_by(
    conn: &mut Conn,
    who: &str,
    limit: i64,
) -> Result<Vec<DecidedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.ticket_id, t.subject, a.status, a.decided_at, a.reason
         FROM approvals a JOIN tickets t ON t.id = a.ticket_id
         WHERE a.status IN ('aprobado', 'rechazado') AND a.decided_by = $1
         ORDER BY a.decided_at DESC, a.ticket_id DESC
         LIMIT $2",
    )
    .bind(who)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Claims the digest of `day`; `false` when it was already sent.
pub async fn claim_digest(conn: &mut Conn, day: &str, at: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO digests (day, sent_at) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING",
    )
    .bind(day)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}
