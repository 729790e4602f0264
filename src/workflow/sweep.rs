//! Time-driven work: every due timer (SLA thresholds, "pendiente por usuario" expiry,
//! auto-close after resolution, approval reminders) handled once, in its own transaction.
//! A sweep reads only due rows through the `timers(due_at)` index.

use super::{apply, load_ticket, Procedure};
use crate::domain::procedure::{cierre, escalamiento, verificacion, Plan, TimerKind};
use crate::domain::ticket::TicketNumber;
use crate::notify::{Mailer, Notice, NotifyError};
use crate::store::{self, approvals, timers, Db};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;

const BATCH: i64 = 500;

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
        for d in &due {
            let mut tx = db.pool.begin().await?;
            if !timers::claim(&mut tx, d.id, d.due_at).await? {
                continue;
            }
            progressed = true;
            report.timers_handled += 1;
            let n = TicketNumber(d.ticket_id);
            let Some(ticket) = load_ticket(&mut tx, n).await? else {
                tx.commit().await?;
                continue;
            };
            let before = ticket.status;
            let plan: Plan = match TimerKind::parse(&d.kind) {
                Some(TimerKind::Sla) => {
                    escalamiento::on_sla_timer(ticket, store::from_unix(d.due_at), &ctx)
                }
                Some(TimerKind::PendingUser) => verificacion::on_pending_timeout(ticket, &ctx),
                Some(TimerKind::AutoClose) => cierre::on_auto_close(ticket, &ctx),
                Some(TimerKind::ApprovalReminder) => {
                    crate::domain::procedure::aprobacion::on_reminder(ticket, &ctx)
                }
                Some(TimerKind::ApprovalOverdue) => {
                    crate::domain::procedure::aprobacion::on_overdue(ticket, &ctx)
                }
                None => {
                    tracing::warn!(kind = %d.kind, "unknown timer kind dropped");
                    tx.commit().await?;
                    continue;
                }
            };
            apply(&mut tx, mailer, proc, &plan, &ctx).await?;
            tx.commit().await?;
            let mails = plan.mails().count();
            report.mails_queued += mails;
            report.alerts_queued += plan.mails().filter(|m| m.kind == "alerta_sla").count();
            if plan.ticket.status != before {
                report.changes.push(format!(
                    "{n}: {} → {}",
                    before.as_str(),
                    plan.ticket.status.as_str()
                ));
            }
            tracing::info!(ticket = %n, timer = %d.kind, mails, "timer handled");
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
