//! Time-driven work: every due timer (SLA thresholds, "pendiente por usuario" expiry,
//! auto-close after resolution, approval reminders) handled once, in its own transaction.
//! A sweep reads only due rows through the `timers(due_at)` index.

use super::{apply, load_ticket, Procedure};
use crate::domain::procedure::{aprobacion, cierre, escalamiento, verificacion, Plan, TimerKind};
use crate::domain::ticket::TicketNumber;
use crate::notify::{Mailer, Notice, NotifyError};
use crate::store::{self, approvals, timers, Db};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;

const BATCH: i64 = 500;
const PER_TRANSACTION: usize = 100;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SweepReport {
    pub timers_handled: usize,
    pub alerts_queued: usize,
    pub mails_queued: usize,
    /// Pending-approval digests sent (one per approver, business mornings).
    pub digests_sent: usize,
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

    fn add_all(&mut self, h: Option<Handled>) {
        if let Some(h) = h {
            self.add(h);
        }
    }
}

/// Claims and handles one due timer in `tx`; `None` when another sweep took it first.
async fn handle(
    tx: &mut crate::store::Conn,
    mailer: &Mailer,
    proc: &Procedure,
    d: &timers::Due,
    ctx: &crate::domain::procedure::Ctx<'_>,
) -> Result<Option<Handled>, NotifyError> {
    if !timers::claim(tx, d.id, d.due_at).await? {
        return Ok(None);
    }
    let n = TicketNumber(d.ticket_id);
    let handled = |mails, alerts, change| Handled {
        ticket: n,
        kind: d.kind.clone(),
        mails,
        alerts,
        change,
    };
    let Some(ticket) = load_ticket(tx, n).await? else {
        return Ok(Some(handled(0, 0, None)));
    };
    let before = ticket.status;
    let plan: Plan = match TimerKind::parse(&d.kind) {
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
    apply(tx, mailer, proc, &plan, ctx).await?;
    let change = (plan.ticket.status != before)
        .then(|| format!("{n}: {} → {}", before.as_str(), plan.ticket.status.as_str()));
    let alerts = plan.mails().filter(|m| m.kind == "alerta_sla").count();
    Ok(Some(handled(plan.mails().count(), alerts, change)))
}

/// Runs every sweep once as if the clock read `now`.
pub async fn run(
    db: &Db,
    mailer: &Mailer,
    proc: &Procedure,
    now: DateTime<Utc>,
) -> Result<SweepReport, NotifyError> {
    let mut report = SweepReport::default();
    let snap = proc.snapshot();
    let ctx = proc.ctx(&snap, now);
    loop {
        let mut conn = db.pool.acquire().await?;
        let due = timers::due(&mut conn, store::unix(now), BATCH).await?;
        drop(conn);
        let mut progressed = false;
        for chunk in due.chunks(PER_TRANSACTION) {
            // Many timers per commit: a commit costs a disk flush, which dominates otherwise.
            let mut tx = db.pool.begin().await?;
            let mut done = Vec::new();
            let mut failed = None;
            for d in chunk {
                match handle(&mut tx, mailer, proc, d, &ctx).await {
                    Ok(r) => done.extend(r),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => {
                    tx.commit().await?;
                    progressed |= !done.is_empty();
                    for r in done {
                        report.add(r);
                    }
                }
                Some(e) => {
                    // One bad timer must not hold back the rest: redo the chunk one by one.
                    tx.rollback().await?;
                    tracing::warn!(error = %e, "sweep batch failed; handling its timers one by one");
                    for d in chunk {
                        let mut tx = db.pool.begin().await?;
                        match handle(&mut tx, mailer, proc, d, &ctx).await {
                            Ok(r) => {
                                tx.commit().await?;
                                progressed |= r.is_some();
                                report.add_all(r);
                            }
                            Err(NotifyError::Db(e)) => return Err(NotifyError::Db(e)),
                            Err(e) => {
                                tx.rollback().await?;
                                tracing::error!(ticket = d.ticket_id, timer = %d.kind, error = %e, "timer failed; retried at the next sweep");
                            }
                        }
                    }
                }
            }
        }
        if (due.len() as i64) < BATCH || !progressed {
            break;
        }
    }
    report.digests_sent = digest(db, mailer, proc, now).await?;
    report.mails_queued += report.digests_sent;
    Ok(report)
}

/// The procedure's "plantilla de aprobaciones pendientes" by mail: every business morning from
/// the configured hour, each approver with pending approvals gets one list, once per day.
async fn digest(
    db: &Db,
    mailer: &Mailer,
    proc: &Procedure,
    now: DateTime<Utc>,
) -> Result<usize, NotifyError> {
    use chrono::Timelike;
    let local = now.with_timezone(&proc.calendar.timezone());
    if !proc.calendar.is_working_day(local.date_naive()) || local.hour() < proc.digest_hour {
        return Ok(0);
    }
    let mut tx = db.pool.begin().await?;
    let day = local.date_naive().to_string();
    if !approvals::claim_digest(&mut tx, &day, store::unix(now)).await? {
        return Ok(0);
    }
    let pending = approvals::pending(&mut tx, None).await?;
    let mut by_approver: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for p in &pending {
        let item = json!({
            "ticket": TicketNumber(p.ticket_id).to_string(),
            "subject": p.subject,
            "requester": p.requester,
            "service": p.service.clone().unwrap_or_else(|| "-".into()),
            "requested_at": p.requested_at.map(|t| crate::clock::local_display(store::from_unix(t))),
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
                    kind: "resumen_aprobaciones",
                    template: "resumen_aprobaciones",
                    data: json!({ "approver": approver, "count": items.len(), "items": items }),
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
