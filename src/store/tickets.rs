//! Tickets: the request record the procedure moves through its statuses.

use super::writes::Writes;
use super::{from_unix, unix, Conn};
use crate::domain::procedure::Ticket;
use crate::domain::sla::SlaClock;
use crate::domain::ticket::TicketNumber;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct TicketRow {
    pub id: i64,
    pub status: String,
    pub close_reason: Option<String>,
    pub subject: String,
    pub requester: String,
    pub requester_name: Option<String>,
    pub root_message_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<String>,
    pub fields_json: String,
    pub change_id: Option<String>,
    pub related_ticket: Option<i64>,
    pub resolution: Option<String>,
    pub resolved_at: Option<i64>,
    pub survey_rating: Option<i64>,
    pub survey_comment: Option<String>,
    pub sla_target_secs: i64,
    pub sla_used_secs: i64,
    pub sla_running_since: Option<i64>,
    pub sla_paused_secs: i64,
    pub sla_paused_since: Option<i64>,
    pub sla_alerts_sent: i64,
}

/// The SLA clock from its stored columns (`sla_*`), read whole or from an index.
pub fn sla_clock(
    target_secs: i64,
    used_secs: i64,
    running_since: Option<i64>,
    paused_secs: i64,
    paused_since: Option<i64>,
    alerts_sent: i64,
) -> SlaClock {
    SlaClock {
        target_secs,
        used_secs,
        running_since: running_since.map(from_unix),
        paused_secs,
        paused_since: paused_since.map(from_unix),
        alerts_sent: alerts_sent.clamp(0, 3) as u8,
    }
}

impl TicketRow {
    pub fn number(&self) -> TicketNumber {
        TicketNumber(self.id)
    }

    pub fn sla(&self) -> SlaClock {
        sla_clock(
            self.sla_target_secs,
            self.sla_used_secs,
            self.sla_running_since,
            self.sla_paused_secs,
            self.sla_paused_since,
            self.sla_alerts_sent,
        )
    }

    /// The procedure's view; `attachments` is counted by the caller. A status the procedure
    /// does not know (a row written by a newer version, or by hand) is an error, never read as
    /// another status: the procedure would act on it and write that status back.
    pub fn to_domain(&self, attachments: usize) -> Result<Ticket, sqlx::Error> {
        let status = self
            .status
            .parse()
            .map_err(|_| self.unknown("status", &self.status))?;
        let close_reason = self
            .close_reason
            .as_deref()
            .map(|r| r.parse().map_err(|_| self.unknown("close_reason", r)))
            .transpose()?;
        let priority = self
            .priority
            .as_deref()
            .map(|p| p.parse().map_err(|_| self.unknown("priority", p)))
            .transpose()?;
        let fields = serde_json::from_str(&self.fields_json).map_err(|e| {
            sqlx::Error::Decode(format!("ticket {}: fields_json: {e}", self.number()).into())
        })?;
        Ok(Ticket {
            number: self.number(),
            status,
            close_reason,
            subject: self.subject.clone(),
            requester: self.requester.clone(),
            requester_name: self.requester_name.clone(),
            service: self.service.clone(),
            category: self.category.clone(),
            priority,
            assignee: self.assignee.clone(),
            fields,
            attachments,
            change_id: self.change_id.clone(),
            resolution: self.resolution.clone(),
            resolved_at: self.resolved_at.map(from_unix),
            closed_at: self.closed_at.map(from_unix),
            created_at: from_unix(self.created_at),
            survey: self.survey_rating.map(|r| {
                (
                    r.clamp(0, 5) as u8,
                    self.survey_comment.clone().unwrap_or_default(),
                )
            }),
            sla: self.sla(),
            approval: None,
        })
    }
}

impl TicketRow {
    /// A stored word of `column` that the code does not know (see [`TicketRow::to_domain`]).
    fn unknown(&self, column: &str, value: &str) -> sqlx::Error {
        sqlx::Error::Decode(
            format!(
                "ticket {}: unknown {column} `{value}` in the database",
                self.number()
            )
            .into(),
        )
    }
}

pub const COLUMNS: &str = "
id, status, close_reason, subject, requester, requester_name,
root_message_id, created_at, updated_at, closed_at, service, category, priority, assignee,
fields_json, change_id, related_ticket, resolution, resolved_at, survey_rating, survey_comment,
sla_target_secs, sla_used_secs, sla_running_since, sla_paused_secs, sla_paused_since, sla_alerts_sent
";

pub struct NewTicket<'a> {
    pub status: &'a str,
    pub subject: &'a str,
    pub requester: &'a str,
    pub requester_name: Option<&'a str>,
    pub root_message_id: &'a str,
    pub related_ticket: Option<TicketNumber>,
    pub at: i64,
}

/// The new ticket as stored (its number and defaults included). Its number is the next one of
/// the counter in `ticket_numbers`, taken inside the caller's transaction: if that transaction
/// rolls back or its process dies, the number goes back with it and the next committed ticket
/// gets it, so committed numbers have no gaps. The counter's row stays locked until the
/// transaction ends, so concurrent inserts (another worker, another instance) take turns
/// instead of sharing a number. Rows written by hand (an import, a test) are stepped over: the
/// number is above the highest one stored too. Call it inside a transaction: on its own, the
/// counter would commit even if the insert failed.
pub async fn insert(conn: &mut Conn, t: &NewTicket<'_>) -> Result<TicketRow, sqlx::Error> {
    let number = take_number(conn).await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        // COLUMNS is our own constant.
        "
        INSERT INTO tickets (id, status, subject, requester, requester_name, root_message_id,
                             related_ticket, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
        RETURNING {COLUMNS}
        "
    )))
    .bind(number)
    .bind(t.status)
    // A request opened by forwarding an approval mail must not keep its token (see messages).
    .bind(crate::domain::text::mask_tokens(t.subject).as_ref())
    .bind(t.requester)
    .bind(t.requester_name)
    .bind(t.root_message_id)
    .bind(t.related_ticket.map(|n| n.0))
    .bind(t.at)
    .fetch_one(conn)
    .await
}

/// The next ticket number, taken as [`insert`] takes it (same transaction rules), for a ticket
/// the caller writes whole with [`insert_into`] once the procedure has decided on it.
pub async fn take_number(conn: &mut Conn) -> Result<i64, sqlx::Error> {
    let (number,): (i64,) = sqlx::query_as(
        "
        UPDATE ticket_numbers
        SET last_number = 1 + CASE
            WHEN last_number >= (SELECT COALESCE(MAX(id), 0) FROM tickets) THEN last_number
            ELSE (SELECT COALESCE(MAX(id), 0) FROM tickets)
        END
        WHERE singleton = 1
        RETURNING last_number
        ",
    )
    .fetch_one(conn)
    .await?;
    Ok(number)
}

/// [`get`] to change the ticket: on PostgreSQL its row stays locked until the transaction ends,
/// so two transactions changing one ticket (a reply and a sweep, two instances) take turns
/// instead of the later overwriting the earlier with what it read before. SQLite refuses
/// such a transaction at once (SQLITE_BUSY_SNAPSHOT) and it is done again.
pub async fn get_for_update(
    conn: &mut Conn,
    n: TicketNumber,
) -> Result<Option<TicketRow>, sqlx::Error> {
    let lock = for_update(conn);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id = $1{lock}"
    )))
    .bind(n.0)
    .fetch_optional(conn)
    .await
}

/// A ticket as the procedure changes it, in one statement: its row (locked as by
/// [`get_for_update`]), how many files it has, its approval, and the Message-IDs of its mail in
/// order (for the next mail's References).
pub struct Loaded {
    pub row: TicketRow,
    pub attachments: i64,
    pub approval: Option<crate::domain::procedure::aprobacion::Approval>,
    pub thread: Vec<String>,
}

#[derive(FromRow)]
struct LoadedRow {
    #[sqlx(flatten)]
    row: TicketRow,
    attachment_count: i64,
    thread_json: Option<String>,
    #[sqlx(flatten)]
    approval: super::approvals::Joined,
}

pub async fn get_loaded(conn: &mut Conn, n: TicketNumber) -> Result<Option<Loaded>, sqlx::Error> {
    let sql = loaded_select(conn, "$1");
    // Our own constants only.
    let row: Option<sqlx::any::AnyRow> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(n.0)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => loaded_from_row(&r),
        None => Ok(None),
    }
}

/// The SELECT of [`get_loaded`] for the ticket whose id the SQL expression `id` gives (our
/// own SQL only), locked on PostgreSQL.
pub(super) fn loaded_select(conn: &Conn, id: &str) -> String {
    let dialect = super::Dialect::of(conn);
    let lock = dialect.for_update_of_t();
    let thread = dialect.json_array_agg("m.message_id", "m.id");
    let columns = COLUMNS
        .split(',')
        .map(|c| format!("t.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let approval = super::approvals::JOINED_COLUMNS;
    let files = super::messages::request_file_condition();
    format!(
        "
        SELECT {columns},
               (SELECT COUNT(*) FROM attachments a WHERE a.ticket_id = t.id AND {files})
                   AS attachment_count,
               (SELECT {thread} FROM messages m WHERE m.ticket_id = t.id) AS thread_json,
               {approval}
        FROM tickets t LEFT JOIN approvals ap ON ap.ticket_id = t.id
        WHERE t.id = {id}{lock}
        "
    )
}

/// The ticket [`loaded_select`]'s columns carry in `row`, if any (they may come beside others,
/// from an outer join: all absent when there is no ticket).
pub(super) fn loaded_from_row(row: &sqlx::any::AnyRow) -> Result<Option<Loaded>, sqlx::Error> {
    use sqlx::Row;
    if row.try_get::<Option<i64>, _>("id")?.is_none() {
        return Ok(None);
    }
    let r = LoadedRow::from_row(row)?;
    let thread = match r.thread_json.as_deref() {
        Some(j) => serde_json::from_str(j)
            .map_err(|e| sqlx::Error::Decode(format!("thread_json: {e}").into()))?,
        None => Vec::new(),
    };
    Ok(Some(Loaded {
        row: r.row,
        attachments: r.attachment_count,
        approval: r.approval.into_approval()?,
        thread,
    }))
}

fn for_update(conn: &Conn) -> &'static str {
    super::Dialect::of(conn).for_update()
}

pub async fn get(conn: &mut Conn, n: TicketNumber) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id = $1"
    )))
    .bind(n.0)
    .fetch_optional(conn)
    .await
}

/// [`get_for_update`] for several tickets in one statement (in no particular order); missing
/// ones are left out.
pub async fn get_many_for_update(
    conn: &mut Conn,
    ns: &[TicketNumber],
) -> Result<Vec<TicketRow>, sqlx::Error> {
    if ns.is_empty() {
        return Ok(Vec::new());
    }
    let lock = for_update(conn);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id IN ({}) ORDER BY id{lock}",
        super::id_list(ns.iter().map(|n| n.0))
    )))
    .fetch_all(conn)
    .await
}

pub async fn list(conn: &mut Conn, status: Option<&str>) -> Result<Vec<TicketRow>, sqlx::Error> {
    match status {
        Some(s) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM tickets WHERE status = $1 ORDER BY id"
            )))
            .bind(s)
            .fetch_all(conn)
            .await
        }
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM tickets ORDER BY id"
            )))
            .fetch_all(conn)
            .await
        }
    }
}

/// Tickets closed in `[from, to)` (Unix seconds), as the compliance report counts them. The
/// columns read are all in the index `tickets_closed_report`, so a period's report reads that
/// index and not the table; the rows come back as one JSON array per service, because
/// handing thousands of rows over one by one cost SQLite's driver more than the query (a
/// month of 8,000 closed tickets: 46–93 ms for `/cumplimiento`, most of it in the handover).
pub async fn closed_between(
    conn: &mut Conn,
    from: i64,
    to: i64,
) -> Result<Vec<crate::domain::compliance::ClosedTicket>, sqlx::Error> {
    use crate::domain::ticket::CloseReason;
    type Row = (Option<String>, i64, i64, i64, i64, Option<i64>);
    let rows = super::Dialect::of(conn).json_rows_agg(&[
        "close_reason",
        "sla_target_secs",
        "sla_used_secs",
        "sla_paused_secs",
        "sla_alerts_sent",
        "survey_rating",
    ]);
    // `closed_at IS NOT NULL` is the index's own condition, said again so that both planners
    // see at once that the partial index holds every row asked for.
    let groups: Vec<(Option<String>, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "
        SELECT service, {rows}
        FROM tickets
        WHERE closed_at IS NOT NULL AND closed_at >= $1 AND closed_at < $2
        GROUP BY service
        "
    )))
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let mut out = Vec::new();
    for (service, json) in groups {
        let tickets: Vec<Row> = serde_json::from_str(&json)
            .map_err(|e| decode(format!("closed tickets of {service:?}: {e}")))?;
        for (reason, target, used, paused, alerts, rating) in tickets {
            let reason = reason
                .as_deref()
                .map(|c| {
                    c.parse::<CloseReason>()
                        .map_err(|_| decode(format!("unknown close_reason `{c}` in the database")))
                })
                .transpose()?;
            out.push(crate::domain::compliance::ClosedTicket {
                attended: matches!(reason, Some(CloseReason::Resuelto | CloseReason::Cambio)),
                service: service.clone(),
                target_secs: target,
                used_secs: used,
                paused_secs: paused,
                alerts_sent: alerts.clamp(0, 3) as u8,
                survey_rating: rating.and_then(|x| u8::try_from(x).ok()),
            });
        }
    }
    Ok(out)
}

pub async fn touch(conn: &mut Conn, n: TicketNumber, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
        .bind(at)
        .bind(n.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the procedure's view of a ticket back.
pub async fn save(conn: &mut Conn, t: &Ticket, at: i64) -> Result<(), sqlx::Error> {
    let mut w = Writes::new(conn);
    save_into(&mut w, t, at);
    w.flush(conn).await
}

/// [`save`], sent with the other writes of `w`.
pub fn save_into(w: &mut Writes, t: &Ticket, at: i64) {
    let s = &t.sla;
    w.push(|p| {
        format!(
            "
            UPDATE tickets
            SET status = {}, close_reason = {}, service = {}, category = {}, priority = {},
                assignee = {}, fields_json = {}, change_id = {}, resolution = {}, resolved_at = {},
                closed_at = {}, survey_rating = {}, survey_comment = {}, sla_target_secs = {},
                sla_used_secs = {}, sla_running_since = {}, sla_paused_secs = {},
                sla_paused_since = {}, sla_alerts_sent = {}, updated_at = {}, requester = {}
            WHERE id = {}
            ",
            p.bind(t.status.as_str()),
            p.bind(t.close_reason.map(|r| r.as_str())),
            p.bind(t.service.clone()),
            p.bind(t.category.clone()),
            p.bind(t.priority.map(|p| p.as_str())),
            p.bind(t.assignee.clone()),
            p.bind(serde_json::to_string(&t.fields).unwrap_or_else(|_| "{}".into())),
            p.bind(t.change_id.clone()),
            p.bind(t.resolution.clone()),
            p.bind(t.resolved_at.map(unix)),
            p.bind(t.closed_at.map(unix)),
            p.bind(t.survey.as_ref().map(|(r, _)| i64::from(*r))),
            p.bind(t.survey.as_ref().map(|(_, c)| c.clone())),
            p.bind(s.target_secs),
            p.bind(s.used_secs),
            p.bind(s.running_since.map(unix)),
            p.bind(s.paused_secs),
            p.bind(s.paused_since.map(unix)),
            p.bind(i64::from(s.alerts_sent)),
            p.bind(at),
            p.bind(t.requester.clone()),
            p.bind(t.number.0),
        )
    });
}

/// A ticket not yet stored, numbered with [`take_number`], as [`insert`] would have stored it:
/// the procedure decides on it before it is written, once, with [`insert_into`].
pub fn unsaved(number: i64, t: &NewTicket<'_>) -> TicketRow {
    TicketRow {
        id: number,
        status: t.status.to_owned(),
        close_reason: None,
        subject: crate::domain::text::mask_tokens(t.subject).into_owned(),
        requester: t.requester.to_owned(),
        requester_name: t.requester_name.map(str::to_owned),
        root_message_id: t.root_message_id.to_owned(),
        created_at: t.at,
        updated_at: t.at,
        closed_at: None,
        service: None,
        category: None,
        priority: None,
        assignee: None,
        fields_json: "{}".into(),
        change_id: None,
        related_ticket: t.related_ticket.map(|n| n.0),
        resolution: None,
        resolved_at: None,
        survey_rating: None,
        survey_comment: None,
        sla_target_secs: 0,
        sla_used_secs: 0,
        sla_running_since: None,
        sla_paused_secs: 0,
        sla_paused_since: None,
        sla_alerts_sent: 0,
    }
}

/// Inserts a ticket numbered with [`take_number`] as the procedure left it: one row, written
/// once (`row` is what [`unsaved`] gave, for what the procedure's view does not carry).
pub fn insert_into(w: &mut Writes, row: &TicketRow, t: &Ticket, at: i64) {
    let s = &t.sla;
    w.push(|p| {
        format!(
            "
            INSERT INTO tickets (id, status, close_reason, subject, requester, requester_name,
                                 root_message_id, created_at, updated_at, closed_at, service,
                                 category, priority, assignee, fields_json, change_id,
                                 related_ticket, resolution, resolved_at, survey_rating,
                                 survey_comment, sla_target_secs, sla_used_secs,
                                 sla_running_since, sla_paused_secs, sla_paused_since,
                                 sla_alerts_sent)
            VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {},
                    {}, {}, {}, {}, {}, {}, {})
            ",
            p.bind(t.number.0),
            p.bind(t.status.as_str()),
            p.bind(t.close_reason.map(|r| r.as_str())),
            p.bind(row.subject.clone()),
            p.bind(t.requester.clone()),
            p.bind(row.requester_name.clone()),
            p.bind(row.root_message_id.clone()),
            p.bind(row.created_at),
            p.bind(at),
            p.bind(t.closed_at.map(unix)),
            p.bind(t.service.clone()),
            p.bind(t.category.clone()),
            p.bind(t.priority.map(|p| p.as_str())),
            p.bind(t.assignee.clone()),
            p.bind(serde_json::to_string(&t.fields).unwrap_or_else(|_| "{}".into())),
            p.bind(t.change_id.clone()),
            p.bind(row.related_ticket),
            p.bind(t.resolution.clone()),
            p.bind(t.resolved_at.map(unix)),
            p.bind(t.survey.as_ref().map(|(r, _)| i64::from(*r))),
            p.bind(t.survey.as_ref().map(|(_, c)| c.clone())),
            p.bind(s.target_secs),
            p.bind(s.used_secs),
            p.bind(s.running_since.map(unix)),
            p.bind(s.paused_secs),
            p.bind(s.paused_since.map(unix)),
            p.bind(i64::from(s.alerts_sent)),
        )
    });
}

/// Attachment counts of several tickets in one statement; tickets without any are left out.
pub async fn attachment_counts(
    conn: &mut Conn,
    ns: &[TicketNumber],
) -> Result<std::collections::HashMap<TicketNumber, usize>, sqlx::Error> {
    if ns.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "
        SELECT a.ticket_id, COUNT(*) FROM attachments a WHERE a.ticket_id IN ({}) AND {}
        GROUP BY a.ticket_id
        ",
        super::id_list(ns.iter().map(|n| n.0)),
        super::messages::request_file_condition()
    )))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(t, c)| (TicketNumber(t), c as usize))
        .collect())
}

pub async fn attachment_count(conn: &mut Conn, n: TicketNumber) -> Result<usize, sqlx::Error> {
    // Our own constants only.
    let c: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM attachments a WHERE a.ticket_id = $1 AND {}",
        super::messages::request_file_condition()
    )))
    .bind(n.0)
    .fetch_one(conn)
    .await?;
    Ok(c as usize)
}
