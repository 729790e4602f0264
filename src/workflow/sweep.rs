//! Time-driven work: every due timer (SLA thresholds, "pendiente por usuario" expiry,
//! auto-close after resolution, approval reminders) handled once, in its own transaction.
//! A sweep reads only due rows through the `timers(due_at)` index.

use super::{apply, load_ticket, Procedure};
use crate::domain::procedure::{cierre, escalamiento, verificacion, Plan, TimerKind};
use crate::domain::ticket::TicketNumber;
use crate::notify::{Mailer, NotifyError};
use crate::store::{self, timers, Db};
use chrono::{DateTime, Utc};

const BATCH: i64 = 500;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SweepReport {
    pub timers_handled: usize,
    pub alerts_queued: usize,
    pub mails_queued: usize,
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
            apply(&mut tx, mailer, &plan, &ctx).await?;
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
    Ok(report)
}
