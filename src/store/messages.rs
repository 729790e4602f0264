//! Every mail in or out, kept with its ticket; also the index threading searches.

use super::writes::Writes;
use super::Conn;
use crate::domain::mail_kind::MailKind;
use crate::domain::ticket::TicketNumber;
use sqlx::FromRow;

pub struct NewMessage<'a> {
    pub ticket: Option<TicketNumber>,
    pub direction: &'a str,
    pub kind: MailKind,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: Option<&'a str>,
    pub thread_key: Option<&'a str>,
    pub from_addr: &'a str,
    pub from_name: Option<&'a str>,
    pub to_addrs: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub at: i64,
    pub raw: Option<&'a [u8]>,
    pub imap: Option<ImapOrigin>,
    pub created_at: i64,
    /// Of an inbound mail: [`InboundMail::fingerprint`](crate::mail::inbound::InboundMail::fingerprint),
    /// which tells a second delivery of it from another mail reusing its Message-ID.
    pub fingerprint: Option<&'a str>,
}

/// Where an inbound message sits in the mailbox until it has been moved out.
#[derive(Debug, Clone, Copy)]
pub struct ImapOrigin {
    pub uidvalidity: i64,
    pub uid: i64,
    pub destination: Destination,
}

/// The values of `messages.direction`.
pub const DIRECTIONS: [&str; 2] = ["in", "out"];

/// The values of `messages.imap_state`: moves still owed ([`Destination::pending_state`]) and
/// done.
pub const IMAP_STATES: [&str; 3] = [
    Destination::Processed.pending_state(),
    Destination::Quarantine.pending_state(),
    "moved",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Processed,
    Quarantine,
}

impl Destination {
    const fn pending_state(self) -> &'static str {
        match self {
            Destination::Processed => "pending_move",
            Destination::Quarantine => "pending_quarantine",
        }
    }
}

/// Tokens in the subject, the text and the addresses are stored masked
/// ([`mask_tokens`](crate::domain::text::mask_tokens)): the copy of an approval request we sent
/// and the approver's answer to it are on the ticket, the token that would decide it is not.
/// The raw bytes of a received mail are kept as they came (evidence of what arrived), but for
/// its tokens, which intake overwrites byte for byte
/// ([`mask_raw_tokens`](crate::domain::text::mask_raw_tokens)); over [`RAW_PIECE`], in
/// pieces (see [`insert_raw_pieces`]).
pub async fn insert(conn: &mut Conn, m: &NewMessage<'_>) -> Result<i64, sqlx::Error> {
    let mut w = Writes::new(conn);
    w.push(|p| format!("{INSERT_HEAD} VALUES {} RETURNING id", insert_row(p, m).0));
    let id = w.fetch_id(conn).await?;
    if let Some(raw) = m.raw.filter(|r| in_pieces(r)) {
        insert_raw_pieces(conn, RawOf::Row(id), raw).await?;
    }
    Ok(id)
}

/// A received mail over this size is kept in pieces of this size (table `raw_chunks`, its
/// `raw` column empty), each sent in a statement of its own within the mail's transaction:
/// the database drivers copy a bound value two or three times (the `Any` driver's argument,
/// the backend's, SQLite's own or the PostgreSQL connection's write buffer, which keeps its
/// size), so a 25 MB mail bound whole cost 100 MB or more of copies held at once.
pub const RAW_PIECE: usize = crate::mail::inbound::KEPT_WHOLE_MAX;

fn in_pieces(raw: &[u8]) -> bool {
    raw.len() > RAW_PIECE
}

/// What goes in the `raw` column: the mail, or nothing when it is kept in pieces.
fn raw_column(raw: &[u8]) -> &[u8] {
    if in_pieces(raw) {
        &raw[..0]
    } else {
        raw
    }
}

/// Which message row the pieces belong to.
pub enum RawOf<'a> {
    Row(i64),
    /// The inbound message with this Message-ID (unique among inbound mail).
    Inbound(&'a str),
}

/// Stores `raw` in pieces for a message row whose `raw` column was left empty; one statement
/// per piece, so that only one piece is copied for the driver at a time.
pub async fn insert_raw_pieces(
    conn: &mut Conn,
    of: RawOf<'_>,
    raw: &[u8],
) -> Result<(), sqlx::Error> {
    for (seq, piece) in raw.chunks(RAW_PIECE).enumerate() {
        let q = match of {
            RawOf::Row(id) => sqlx::query(
                "
                INSERT INTO raw_chunks (message_row, seq, data)
                SELECT id, $2, $3 FROM messages WHERE id = $1
                ",
            )
            .bind(id),
            RawOf::Inbound(message_id) => sqlx::query(
                "
                INSERT INTO raw_chunks (message_row, seq, data)
                SELECT id, $2, $3 FROM messages WHERE direction = 'in' AND message_id = $1
                ",
            )
            .bind(message_id),
        };
        let done = q.bind(seq as i64).bind(piece).execute(&mut *conn).await?;
        if done.rows_affected() != 1 {
            // The row was just written in this transaction: failing here rolls it back
            // rather than commit a mail without its bytes.
            return Err(sqlx::Error::RowNotFound);
        }
    }
    Ok(())
}

/// The raw bytes of message `row` as received, joined from their pieces when kept so; `None`
/// for a row without them (a copy's record, mail typed in the panel, outgoing mail).
pub async fn raw_of(conn: &mut Conn, row: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let raw: Option<Option<Vec<u8>>> = sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1")
        .bind(row)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(mut raw) = raw.flatten() else {
        return Ok(None);
    };
    if raw.is_empty() {
        let pieces: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT data FROM raw_chunks WHERE message_row = $1 ORDER BY seq")
                .bind(row)
                .fetch_all(&mut *conn)
                .await?;
        raw = pieces.concat();
    }
    Ok(Some(raw))
}

/// [`insert`] of an outgoing message (nothing needs its row id), sent with the other writes.
pub fn insert_into(w: &mut Writes, m: &NewMessage<'_>) {
    w.push_row(INSERT_HEAD, |p| insert_row(p, m).0);
}

/// [`insert`] of an inbound message with its attachments, sent with the other writes. A mail
/// over [`RAW_PIECE`] is noted in `w` ([`Writes::raw_in_pieces`]): its caller stores the
/// pieces once the row is written ([`insert_raw_pieces`]); the commit refuses to go on before.
pub fn insert_inbound_into(w: &mut Writes, m: &NewMessage<'_>, attachments: &[NewAttachment<'_>]) {
    if m.raw.is_some_and(in_pieces) {
        w.raw_in_pieces(m.message_id);
    }
    let mut message_id = String::new();
    let part = w.push_row(INSERT_HEAD, |p| {
        let (row, id) = insert_row(p, m);
        message_id = id;
        row
    });
    if attachments.is_empty() {
        return;
    }
    let row = w.inbound_row(part, &message_id);
    for a in attachments {
        insert_attachment_into(w, &row, a);
    }
}

const INSERT_HEAD: &str = "
INSERT INTO messages (ticket_id, direction, kind, message_id,
in_reply_to, references_hdr, thread_key, from_addr, from_name, to_addrs, subject, body_text,
body_html, at, raw, imap_uidvalidity, imap_uid, imap_state, created_at, fingerprint)
";

/// The row of [`insert`] with its values bound, and the placeholder of its Message-ID.
fn insert_row(p: &mut super::writes::Part<'_>, m: &NewMessage<'_>) -> (String, String) {
    use crate::domain::text::mask_tokens;
    let message_id = p.bind(m.message_id);
    let row = format!(
        "({}, {}, {}, {message_id}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        p.bind(m.ticket.map(|t| t.0)),
        p.bind(m.direction),
        p.bind(m.kind.as_str()),
        p.bind(m.in_reply_to),
        p.bind(m.references),
        p.bind(m.thread_key),
        p.bind(m.from_addr),
        p.bind(m.from_name),
        p.bind(mask_tokens(m.to_addrs).into_owned()),
        p.bind(mask_tokens(m.subject).into_owned()),
        p.bind(mask_tokens(m.body_text).into_owned()),
        p.bind(m.body_html.map(|h| mask_tokens(h).into_owned())),
        p.bind(m.at),
        p.bind(m.raw.map(raw_column)),
        p.bind(m.imap.map(|i| i.uidvalidity)),
        p.bind(m.imap.map(|i| i.uid)),
        p.bind(m.imap.map(|i| i.destination.pending_state())),
        p.bind(m.created_at),
        p.bind(m.fingerprint),
    );
    (row, message_id)
}

/// An attachment of the inbound message whose row id `row` (an SQL expression) gives.
fn insert_attachment_into(w: &mut Writes, row: &str, a: &NewAttachment<'_>) {
    w.push(|p| {
        format!(
            "
            INSERT INTO attachments (message_row, ticket_id, filename, content_type, size, sha256,
                                     content)
            VALUES ({row}, {}, {}, {}, {}, {}, {})
            ",
            p.bind(a.ticket.map(|t| t.0)),
            p.bind(a.filename),
            p.bind(a.content_type),
            p.bind(a.size as i64),
            p.bind(hex::encode(a.sha256)),
            p.bind(a.content),
        )
    });
}

/// [`assign`], sent with the other writes.
pub fn assign_into(
    w: &mut Writes,
    row: i64,
    has_attachments: bool,
    ticket: Option<TicketNumber>,
    kind: MailKind,
) {
    w.push(|p| {
        format!(
            "UPDATE messages SET ticket_id = {}, kind = {} WHERE id = {}",
            p.bind(ticket.map(|t| t.0)),
            p.bind(kind.as_str()),
            p.bind(row)
        )
    });
    if has_attachments {
        w.push(|p| {
            format!(
                "UPDATE attachments SET ticket_id = {} WHERE message_row = {}",
                p.bind(ticket.map(|t| t.0)),
                p.bind(row)
            )
        });
    }
}

pub struct NewAttachment<'a> {
    pub message_row: i64,
    pub ticket: Option<TicketNumber>,
    pub filename: &'a str,
    pub content_type: &'a str,
    /// Empty for a file left in its stored mail (one kept in pieces, see [`RAW_PIECE`]): the
    /// row's `size` and `sha256` find it there.
    pub content: &'a [u8],
    pub size: usize,
    pub sha256: &'a [u8; 32],
}

pub async fn insert_attachment(conn: &mut Conn, a: &NewAttachment<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        INSERT INTO attachments (message_row, ticket_id, filename, content_type, size, sha256, content)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ",
    )
    .bind(a.message_row)
    .bind(a.ticket.map(|t| t.0))
    .bind(a.filename)
    .bind(a.content_type)
    .bind(a.size as i64)
    .bind(hex::encode(a.sha256))
    .bind(a.content)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether an inbound message with this Message-ID was already taken in.
pub async fn inbound_exists(conn: &mut Conn, message_id: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND message_id = $1",
    )
    .bind(message_id)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// The ticket of the newest message, in or out, whose Message-ID is one of `ids`.
pub async fn ticket_by_message_ids(
    conn: &mut Conn,
    ids: &[String],
) -> Result<Option<TicketNumber>, sqlx::Error> {
    // Newest reference first: the direct parent is the best evidence.
    for id in ids.iter().rev().take(50) {
        let t: Option<Option<i64>> = sqlx::query_scalar(
            "
            SELECT ticket_id FROM messages WHERE message_id = $1 AND ticket_id IS NOT NULL
            ORDER BY id DESC LIMIT 1
            ",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(Some(t)) = t {
            return Ok(Some(TicketNumber(t)));
        }
    }
    Ok(None)
}

/// Whether one of `ids` (a mail's In-Reply-To and References) is a mail we sent of `kind`:
/// how a reply to a ticketless mail such as the approvals digest is recognised.
pub async fn answers_outgoing_kind(
    conn: &mut Conn,
    ids: &[String],
    kind: MailKind,
) -> Result<bool, sqlx::Error> {
    for id in ids.iter().rev().take(50) {
        let n: i64 = sqlx::query_scalar(
            "
            SELECT COUNT(*) FROM messages WHERE direction = 'out' AND kind = $1
            AND message_id = $2
            ",
        )
        .bind(kind.as_str())
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn ticket_by_thread_key(
    conn: &mut Conn,
    key: &str,
) -> Result<Option<TicketNumber>, sqlx::Error> {
    let t: Option<Option<i64>> = sqlx::query_scalar(
        "
        SELECT ticket_id FROM messages WHERE thread_key = $1 AND ticket_id IS NOT NULL
        ORDER BY id DESC LIMIT 1
        ",
    )
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(t.flatten().map(TicketNumber))
}

/// Message-IDs of a ticket in order, for the References header of the next mail.
/// What a ticket's attachments are, without their content.
#[derive(Debug, Clone, FromRow)]
pub struct AttachmentInfo {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

/// Mail on a ticket whose sender nothing proves: a third party's, one refused for want of
/// proof, one in the requester's name passed on unverified. Whoever reads it (an agent in the
/// panel, the requester) is told so.
pub const UNPROVEN: [MailKind; 3] = [
    MailKind::MensajeTercero,
    MailKind::AccionRechazada,
    MailKind::SolicitanteNoVerificado,
];

/// Mail on a ticket that a machine sent, or that anyone can make look so (`Auto-Submitted`):
/// kept without asking who sent it, so it is no one's word either.
pub const AUTOMATIC: [MailKind; 5] = [
    MailKind::RespuestaAutomatica,
    MailKind::FueraDeOficina,
    MailKind::Masivo,
    MailKind::CorreoPropio,
    MailKind::Rebote,
];

/// The kinds of mail on a ticket that do not speak for the request: [`UNPROVEN`] and
/// [`AUTOMATIC`] mail, and an answer to an approval or to the digest (the approver's, not the
/// requester's). Their text and files stay out of what an approver decides on and never count
/// as the request's document.
pub fn not_the_requesters() -> impl Iterator<Item = MailKind> {
    UNPROVEN
        .into_iter()
        .chain(AUTOMATIC)
        .chain([MailKind::RespuestaAprobacion, MailKind::RespuestaResumen])
}

/// An SQL condition on an attachment row `a`: it came with a mail that speaks for the
/// request (see [`not_the_requesters`]). Only those count towards a required document and are
/// shown to agents and approvers as the request's files: an outsider's "signed form" must not
/// satisfy a requirement or sway an approver.
pub fn request_file_condition() -> String {
    let kinds: Vec<String> = not_the_requesters()
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    format!(
        "NOT EXISTS (SELECT 1 FROM messages fm WHERE fm.id = a.message_row AND fm.kind IN ({}))",
        kinds.join(", ")
    )
}

/// The request's files (see [`request_file_condition`]), in the order they came.
pub async fn request_files(
    conn: &mut Conn,
    t: TicketNumber,
) -> Result<Vec<AttachmentInfo>, sqlx::Error> {
    // Our own constants only.
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "
        SELECT a.filename, a.content_type, a.size, a.sha256 FROM attachments a
        WHERE a.ticket_id = $1 AND {} ORDER BY a.id
        ",
        request_file_condition()
    )))
    .bind(t.0)
    .fetch_all(conn)
    .await
}

/// Every file that came on the ticket's mail, whoever sent it (the CLI's full record).
pub async fn attachments_for_ticket(
    conn: &mut Conn,
    t: TicketNumber,
) -> Result<Vec<AttachmentInfo>, sqlx::Error> {
    sqlx::query_as(
        "SELECT filename, content_type, size, sha256 FROM attachments WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(t.0)
    .fetch_all(conn)
    .await
}

pub async fn thread_ids(conn: &mut Conn, t: TicketNumber) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT message_id FROM messages WHERE ticket_id = $1 ORDER BY id")
        .bind(t.0)
        .fetch_all(conn)
        .await
}

/// [`thread_ids`] of several tickets in one statement (tickets without mail get none).
pub async fn thread_ids_many(
    conn: &mut Conn,
    ts: &[TicketNumber],
) -> Result<std::collections::HashMap<TicketNumber, Vec<String>>, sqlx::Error> {
    let mut threads: std::collections::HashMap<TicketNumber, Vec<String>> =
        ts.iter().map(|t| (*t, Vec::new())).collect();
    if ts.is_empty() {
        return Ok(threads);
    }
    let rows: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ticket_id, message_id FROM messages WHERE ticket_id IN ({}) ORDER BY ticket_id, id",
        super::id_list(ts.iter().map(|t| t.0))
    )))
    .fetch_all(conn)
    .await?;
    for (t, id) in rows {
        threads.entry(TicketNumber(t)).or_default().push(id);
    }
    Ok(threads)
}

#[derive(Debug, Clone)]
pub struct PendingMove {
    pub id: i64,
    pub imap_uid: i64,
    destination: Destination,
}

impl PendingMove {
    pub fn destination(&self) -> Destination {
        self.destination
    }
}

impl<'r> FromRow<'r, sqlx::any::AnyRow> for PendingMove {
    /// A state other than a pending move's is an error, not read as one of them.
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let state: String = row.try_get("imap_state")?;
        let destination = [Destination::Processed, Destination::Quarantine]
            .into_iter()
            .find(|d| d.pending_state() == state)
            .ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown messages.imap_state `{state}`").into())
            })?;
        Ok(PendingMove {
            id: row.try_get("id")?,
            imap_uid: row.try_get("imap_uid")?,
            destination,
        })
    }
}

/// Messages committed but not yet moved out of the mailbox (a crash or an IMAP error in between).
/// The `<> 'moved'` repeats the partial index's condition, which SQLite needs spelt out to
/// use `messages_pending_move` instead of reading every message ever received.
pub async fn pending_moves(
    conn: &mut Conn,
    uidvalidity: i64,
) -> Result<Vec<PendingMove>, sqlx::Error> {
    sqlx::query_as(
        "
        SELECT id, imap_uid, imap_state FROM messages
        WHERE imap_state IN ('pending_move', 'pending_quarantine') AND imap_state <> 'moved'
        AND imap_uidvalidity = $1
        ORDER BY imap_uid
        ",
    )
    .bind(uidvalidity)
    .fetch_all(conn)
    .await
}

/// Marks moves done; with the wrong UIDVALIDITY a pending move can never be done, so those
/// are closed too (the message is found again by Message-ID if it is still in the mailbox).
pub async fn mark_moved(conn: &mut Conn, ids: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE messages SET imap_state = 'moved' WHERE id IN ({list})"
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn forget_stale_moves(conn: &mut Conn, uidvalidity: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "
        UPDATE messages SET imap_state = 'moved'
        WHERE imap_state IN ('pending_move', 'pending_quarantine') AND imap_state <> 'moved'
        AND imap_uidvalidity <> $1
        ",
    )
    .bind(uidvalidity)
    .execute(conn)
    .await?
    .rows_affected())
}

#[derive(Debug, Clone, FromRow)]
pub struct MessageRow {
    pub direction: String,
    pub kind: String,
    pub message_id: String,
    pub from_addr: String,
    pub to_addrs: String,
    pub subject: String,
    pub body_text: String,
    pub at: i64,
}

/// Whether mail of `kind` went to `to` (about `ticket`, or about none) after `since`.
pub async fn sent_since(
    conn: &mut Conn,
    ticket: Option<TicketNumber>,
    kind: MailKind,
    to: &str,
    since: i64,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages
         WHERE direction = 'out' AND kind = $1 AND to_addrs = $2 AND created_at > $3
           AND (ticket_id = $4 OR ($4 IS NULL AND ticket_id IS NULL))",
    )
    .bind(kind.as_str())
    .bind(to)
    .bind(since)
    .bind(ticket.map(|t| t.0))
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// How many mails of `kind` went to `to` about ticket `t` (about no ticket: `None`) since
/// `since`, and when the last did.
pub async fn sent_to(
    conn: &mut Conn,
    t: Option<TicketNumber>,
    kind: MailKind,
    to: &str,
    since: i64,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    sqlx::query_as(
        "
        SELECT COUNT(*), MAX(created_at) FROM messages
        WHERE direction = 'out' AND kind = $1 AND to_addrs = $2 AND created_at >= $4
          AND (ticket_id = $3 OR ($3 IS NULL AND ticket_id IS NULL))
        ",
    )
    .bind(kind.as_str())
    .bind(to)
    .bind(t.map(|t| t.0))
    .bind(since)
    .fetch_one(conn)
    .await
}

pub async fn for_ticket(conn: &mut Conn, t: TicketNumber) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(
        "
        SELECT direction, kind, message_id, from_addr, to_addrs, subject, body_text, at
        FROM messages WHERE ticket_id = $1 ORDER BY id
        ",
    )
    .bind(t.0)
    .fetch_all(conn)
    .await
}

/// The inbound message stored under `message_id`: its row, its ticket and its text.
pub async fn inbound_by_message_id(
    conn: &mut Conn,
    message_id: &str,
) -> Result<Option<(i64, Option<i64>, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, ticket_id, body_text FROM messages WHERE direction = 'in' AND message_id = $1",
    )
    .bind(message_id)
    .fetch_optional(conn)
    .await
}

/// Re-points a duplicate Message-ID's mailbox position at the row that already holds it, so
/// the copy left in the mailbox is moved out like the original.
pub async fn set_pending_move(
    conn: &mut Conn,
    message_id: &str,
    origin: ImapOrigin,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        UPDATE messages SET imap_uidvalidity = $1, imap_uid = $2, imap_state = $3
        WHERE id = (SELECT id FROM messages WHERE direction = 'in' AND message_id = $4 LIMIT 1)
        ",
    )
    .bind(origin.uidvalidity)
    .bind(origin.uid)
    .bind(origin.destination.pending_state())
    .bind(message_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a stored inbound message (and its attachments, when it has any) on a ticket, or none,
/// with its kind.
pub async fn assign(
    conn: &mut Conn,
    row: i64,
    has_attachments: bool,
    ticket: Option<TicketNumber>,
    kind: MailKind,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE messages SET ticket_id = $1, kind = $2 WHERE id = $3")
        .bind(ticket.map(|t| t.0))
        .bind(kind.as_str())
        .bind(row)
        .execute(&mut *conn)
        .await?;
    if !has_attachments {
        return Ok(());
    }
    sqlx::query("UPDATE attachments SET ticket_id = $1 WHERE message_row = $2")
        .bind(ticket.map(|t| t.0))
        .bind(row)
        .execute(conn)
        .await?;
    Ok(())
}
