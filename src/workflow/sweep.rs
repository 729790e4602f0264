//! Time-driven work: every due timer (SLA thresholds, "pendiente por usuario" expiry,
//! auto-close after resolution, approval reminders) handled once, in its own transaction;
//! then the once-a-period mails: the approvers' morning digest and the monthly report.
//! A sweep reads only due rows through the `timers(due_at)` index.

use super::{apply_into, load_ticket_thread, load_tickets, Known, Procedure};
use crate::domain::mail_kind::MailKind;
use crate::domain::procedure::{
    aprobacion, cierre, escalamiento, verificacion, Plan, Ticket, TimerKind,
};
use crate::domain::template::Template;
use crate::domain::ticket::TicketNumber;
use crate::store::writes::Writes;
use crate::store::{self, approvals, messages, timers, Db};
use crate::workflow::notify::{Mailer, Notice};
use crate::workflow::WorkflowError;
use chrono::{DateTime, Utc};
use futures::stream::{FuturesOrdered, StreamExt};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

const BATCH: i64 = 500;
const PER_TRANSACTION: usize = 125;
/// Transactions of one sweep in flight at once on PostgreSQL (the pool holds more).
const PG_PARALLEL_TRANSACTIONS: usize = 4;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SweepReport {
    pub timers_handled: usize,
    pub alerts_queued: usize,
    pub mails_queued: usize,
    /// Pending-approval digests sent (one per approver, business mornings).
    pub digests_sent: usize,
    /// Monthly compliance report mails queued (one per recipient, first business day).
    pub reports_sent: usize,
    /// One line per ticket changed, e.g. "REQ-4: pendiente_por_usuario → cerrado".
    pub changes: Vec<String>,
}

/// What one handled timer did.
struct Handled {
    ticket: TicketNumber,
    kind: String,
    mails: usize,
    alerts: usize,
    change: Option<String>,
}

impl SweepReport {
    fn add(&mut self, h: Handled) {
        self.timers_handled += 1;
        self.mails_queued += h.mails;
        self.alerts_queued += h.alerts;
        self.changes.extend(h.change);
        tracing::info!(ticket = %h.ticket, timer = %h.kind, mails = h.mails, "timer handled");
    }
}

/// How a timer of a chunk was taken and its ticket read: one statement for the whole chunk,
/// or, alone, one of each per timer.
enum Taken {
    /// Claimed with the chunk; the ticket and its thread as read with the chunk when no other
    /// timer of the chunk is about it (an earlier one may have changed it), read again otherwise.
    WithChunk(Option<Box<(Ticket, Vec<String>)>>),
    /// Not claimed yet.
    Alone,
}

/// Values bound in a chunk's gathered writes before they are sent, far below both databases'
/// limits per statement (see [`Writes::bound`]): the cost of one send grows faster than its
/// size. SQLite's driver binds each statement by looking up the name of every `$n` up to the
/// highest, each lookup a scan of the statement's names (at 20,000, half the sweep's CPU was
/// in `sqlite3_bind_parameter_name`); PostgreSQL parses and plans long `VALUES` lists (its CPU
/// for 1,000 due thresholds: 390–410 ms sent at 20,000, 260–300 ms at 1,000, `bench/README.md`).
/// Each send is a round trip on PostgreSQL (about a dozen per chunk instead of one), a call
/// within the process on SQLite.
const MAX_BOUND: usize = 1_000;

/// Handles one due timer in `tx`, its writes gathered in `w` (sent by the caller);
/// `None` when another sweep took it first.
async fn handle(
    tx: &mut crate::store::Conn,
    w: &mut Writes,
    mailer: &Mailer,
    proc: &Procedure,
    d: &timers::Due,
    taken: Taken,
    ctx: &crate::domain::procedure::Ctx<'_>,
) -> Result<Option<Handled>, WorkflowError> {
    let n = TicketNumber(d.ticket_id);
    let loaded = match taken {
        Taken::WithChunk(Some(t)) => Some(*t),
        Taken::WithChunk(None) => {
            // An earlier timer of this ticket may have changed it: read what it wrote.
            w.flush(tx).await?;
            load_ticket_thread(tx, n).await?
        }
        Taken::Alone if timers::claim(tx, d.id, d.due_at).await? => {
            load_ticket_thread(tx, n).await?
        }
        Taken::Alone => return Ok(None),
    };
    let handled = |mails, alerts, change| Handled {
        ticket: n,
        kind: d.kind.clone(),
        mails,
        alerts,
        change,
    };
    let Some((ticket, thread)) = loaded else {
        return Ok(Some(handled(0, 0, None)));
    };
    let before = ticket.status;
    let plan: Plan = match d.kind.parse::<TimerKind>().ok() {
        Some(TimerKind::Sla) => escalamiento::on_sla_timer(ticket, store::from_unix(d.due_at), ctx),
        Some(TimerKind::PendingUser) => verificacion::on_pending_timeout(ticket, ctx),
        Some(TimerKind::AutoClose) => cierre::on_auto_close(ticket, ctx),
        Some(TimerKind::ApprovalReminder) => aprobacion::on_reminder(ticket, ctx),
        Some(TimerKind::ApprovalOverdue) => aprobacion::on_overdue(ticket, ctx),
        None => {
            tracing::warn!(kind = %d.kind, "unknown timer kind dropped");
            return Ok(Some(handled(0, 0, None)));
        }
    };
    let mut known = Known {
        thread: Some(thread),
        ..Known::default()
    };
    apply_into(tx, w, mailer, proc, &plan, ctx, &mut known).await?;
    let change = (plan.ticket.status != before)
        .then(|| format!("{n}: {} → {}", before.as_str(), plan.ticket.status.as_str()));
    // Alerts are counted per threshold, not per reader (each reader gets a mail of their own).
    let mut tiers: Vec<&serde_json::Value> = plan
        .mails()
        .filter(|m| m.kind == MailKind::AlertaSla)
        .map(|m| &m.data["percent"])
        .collect();
    tiers.dedup();
    let alerts = tiers.len();
    Ok(Some(handled(plan.mails().count(), alerts, change)))
}

/// Runs every sweep once as if the clock read `now`.
pub async fn run(
    db: &Db,
    mailer: &Mailer,
    proc: &Procedure,
    now: DateTime<Utc>,
) -> Result<SweepReport, WorkflowError> {
    let mut report = SweepReport::default();
    let snap = proc.snapshot();
    let ctx = proc.ctx(&snap, now);
    // PostgreSQL locks rows: transactions of different timers run side by side, each on its own
    // connection, and its round trips overlap. SQLite writes one transaction at a time.
    let parallel = if db.dialect().single_writer() {
        1
    } else {
        PG_PARALLEL_TRANSACTIONS
    };
    loop {
        let mut conn = db.pool.acquire().await?;
        let due = timers::due(&mut conn, store::unix(now), BATCH).await?;
        drop(conn);
        let mut progressed = false;
        let due = by_ticket(due);
        // A loop rather than a stream combinator: a closure over borrowed chunks here makes the
        // daemon's spawned task fail the compiler's higher-ranked lifetime check.
        let mut chunks = chunks_by_ticket(&due, PER_TRANSACTION).into_iter();
        let mut running = FuturesOrdered::new();
        loop {
            while running.len() < parallel {
                match chunks.next() {
                    Some(chunk) => running.push_back(handle_chunk(db, mailer, proc, chunk, &ctx)),
                    None => break,
                }
            }
            let Some(done) = running.next().await else {
                break;
            };
            for r in done? {
                progressed = true;
                report.add(r);
            }
        }
        if (due.len() as i64) < BATCH || !progressed {
            break;
        }
    }
    report.digests_sent = digest(db, mailer, proc, now).await?;
    report.mails_queued += report.digests_sent;
    report.reports_sent = super::monthly_report::run(db, mailer, proc, now).await?;
    report.mails_queued += report.reports_sent;
    Ok(report)
}

/// Due timers ordered by ticket (and due time within a ticket).
fn by_ticket(mut due: Vec<timers::Due>) -> Vec<timers::Due> {
    due.sort_by_key(|d| (d.ticket_id, d.due_at, d.id));
    due
}

/// Slices of about `size` timers of `due` (ordered by ticket) that never split a ticket's
/// timers: transactions running side by side then never wait for each other's tickets.
fn chunks_by_ticket(due: &[timers::Due], size: usize) -> Vec<&[timers::Due]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    for i in 1..=due.len() {
        let boundary = i == due.len() || due[i].ticket_id != due[i - 1].ticket_id;
        if boundary && (i - start >= size || i == due.len()) {
            chunks.push(&due[start..i]);
            start = i;
        }
    }
    chunks
}

/// Handles `chunk` in one transaction: a commit costs a disk flush, which would dominate with
/// one per timer. When one timer fails, the chunk is redone one transaction per timer, so a bad
/// timer does not hold back the rest.
async fn handle_chunk(
    db: &Db,
    mailer: &Mailer,
    proc: &Procedure,
    chunk: &[timers::Due],
    ctx: &crate::domain::procedure::Ctx<'_>,
) -> Result<Vec<Handled>, WorkflowError> {
    let mut tx = db.begin_write().await?;
    let claimed = timers::claim_many(&mut tx, chunk).await?;
    let mine: Vec<&timers::Due> = chunk.iter().filter(|d| claimed.contains(&d.id)).collect();
    let mut per_ticket: HashMap<i64, usize> = HashMap::new();
    for d in &mine {
        *per_ticket.entry(d.ticket_id).or_default() += 1;
    }
    let once: Vec<TicketNumber> = per_ticket
        .iter()
        .filter(|(_, n)| **n == 1)
        .map(|(t, _)| TicketNumber(*t))
        .collect();
    let mut loaded = load_tickets(&mut tx, &once).await?;
    let mut threads = messages::thread_ids_many(&mut tx, &once).await?;
    // The chunk's writes go together: tickets of a chunk are distinct, except those with
    // several timers, which flush before they are read again.
    let mut w = Writes::new(&tx);
    let mut done = Vec::new();
    let mut failed = None;
    for d in mine {
        let n = TicketNumber(d.ticket_id);
        let ticket = loaded
            .remove(&n)
            .map(|t| Box::new((t, threads.remove(&n).unwrap_or_default())));
        match handle(
            &mut tx,
            &mut w,
            mailer,
            proc,
            d,
            Taken::WithChunk(ticket),
            ctx,
        )
        .await
        {
            Ok(r) => done.extend(r),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
        if w.bound() > MAX_BOUND {
            if let Err(e) = w.flush(&mut tx).await {
                failed = Some(e.into());
                break;
            }
        }
    }
    let failed = match failed {
        None => w.flush(&mut tx).await.err().map(WorkflowError::from),
        e => e,
    };
    let Some(e) = failed else {
        tx.commit().await?;
        return Ok(done);
    };
    tx.rollback().await?;
    tracing::warn!(error = %e, "sweep batch failed; handling its timers one by one");
    let mut done = Vec::new();
    for d in chunk {
        let mut tx = db.begin_write().await?;
        let mut w = Writes::new(&tx);
        let r = match handle(&mut tx, &mut w, mailer, proc, d, Taken::Alone, ctx).await {
            Ok(r) => w
                .flush(&mut tx)
                .await
                .map(|()| r)
                .map_err(WorkflowError::from),
            Err(e) => Err(e),
        };
        match r {
            Ok(r) => {
                tx.commit().await?;
                done.extend(r);
            }
            Err(WorkflowError::Db(e)) => return Err(WorkflowError::Db(e)),
            Err(e) => {
                tx.rollback().await?;
                tracing::error!(ticket = %TicketNumber(d.ticket_id), timer = %d.kind, error = %e, "timer failed; retried at the next sweep");
            }
        }
    }
    Ok(done)
}

/// The procedure's "plantilla de aprobaciones pendientes" by mail: every business morning from
/// the configured hour, each approver with pending approvals gets one list, once per day.
async fn digest(
    db: &Db,
    mailer: &Mailer,
    proc: &Procedure,
    now: DateTime<Utc>,
) -> Result<usize, WorkflowError> {
    use chrono::Timelike;
    let local = now.with_timezone(&proc.calendar.timezone());
    if !proc.calendar.is_working_day(local.date_naive()) || local.hour() < proc.digest_hour {
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    let day = local.date_naive().to_string();
    if !approvals::claim_digest(&mut tx, &day, store::unix(now)).await? {
        return Ok(0);
    }
    let pending = approvals::pending(&mut tx, None).await?;
    let snap = proc.snapshot();
    let directory = &snap.directory;
    // Dates in the calendar's zone, as every deadline the approver was given.
    let ctx = proc.ctx(&snap, now);
    let mut by_approver: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for p in &pending {
        let item = json!({
            "ticket": TicketNumber(p.ticket_id).to_string(),
            "subject": p.subject,
            "requester": p.requester,
            "requester_name": directory.label(&p.requester),
            // The service by its name, as the approval request named it.
            "service": p.service.as_deref()
                .map(|c| snap.catalog.name_of(c))
                .unwrap_or_else(|| "-".into()),
            "requested_at": p.requested_at.map(|t| ctx.display(store::from_unix(t))),
        });
        let mut who: Vec<String> = p.approver.iter().cloned().collect();
        if p.substitute_notified != 0 {
            who.extend(p.substitute.iter().cloned());
        }
        for w in who {
            by_approver.entry(w).or_default().push(item.clone());
        }
    }
    for (approver, items) in &by_approver {
        mailer
            .queue(
                &mut tx,
                &Notice {
                    ticket: None,
                    kind: MailKind::ResumenAprobaciones,
                    template: Template::ResumenAprobaciones,
                    data: json!({
                        "approver": approver,
                        "approver_name": directory.name_or(approver, approver),
                        "count": items.len(),
                        "items": items,
                        "panel_link": proc.panel_base.as_ref().map(|b| format!("{b}/aprobaciones")),
                        "panel_label": "Decidir en el panel",
                    }),
                    to: vec![approver.clone()],
                    reply_to: None,
                    at: store::unix(now),
                    activity: Some(10),
                    description: "Resumen de aprobaciones pendientes",
                },
            )
            .await?;
    }
    tx.commit().await?;
    Ok(by_approver.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(id: i64, ticket_id: i64) -> timers::Due {
        timers::Due {
            id,
            ticket_id,
            kind: "sla".into(),
            due_at: 100 - id,
        }
    }

    #[test]
    fn a_tickets_timers_stay_in_one_chunk() {
        let all = by_ticket(vec![due(1, 7), due(2, 3), due(3, 7), due(4, 5), due(5, 3)]);
        let chunks = chunks_by_ticket(&all, 2);
        let tickets: Vec<Vec<i64>> = chunks
            .iter()
            .map(|c| c.iter().map(|d| d.ticket_id).collect())
            .collect();
        assert_eq!(tickets, vec![vec![3, 3], vec![5, 7, 7]]);
        // Within a ticket, the earlier due first.
        assert_eq!(chunks[0][0].id, 5);
    }

    #[test]
    fn chunks_cover_every_timer_once() {
        let all = by_ticket((1..=23).map(|i| due(i, i % 6)).collect());
        let chunks = chunks_by_ticket(&all, 5);
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 23);
        assert!(chunks_by_ticket(&[], 5).is_empty());
    }
}
