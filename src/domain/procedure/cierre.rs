//! Activities 16–18: resolve, send the satisfaction survey, take the requester's rating or
//! "no está resuelto", and close the request by itself after the configured business days.

use super::{Ctx, Incoming, MailOut, Plan, Ticket, TimerKind};
use crate::domain::text::{parse_rating, says_not_resolved};
use crate::domain::ticket::{CloseReason, Status};
use serde_json::json;

/// Activity 16 → 17: the solution goes to the requester with the survey.
pub fn resolve(plan: &mut Plan, solution: &str, agent: &str, ctx: &Ctx<'_>) {
    plan.ticket.resolution = Some(solution.to_owned());
    plan.ticket.resolved_at = Some(ctx.now);
    plan.ticket.sla.pause(ctx.calendar, ctx.now);
    plan.set_status(Status::Resuelto, 16, agent);
    plan.event(Some(16), agent, "resuelto", format!("Solución: {solution}"));
    let days = ctx.policy.auto_close_business_days;
    plan.timer(
        TimerKind::AutoClose,
        ctx.calendar.add_business_days(ctx.now, days),
    );
    plan.mail(MailOut {
        kind: "encuesta",
        template: "resuelto_encuesta",
        to: vec![plan.ticket.requester.clone()],
        data: json!({ "solution": solution, "business_days": days }),
        activity: 17,
        description: "Solución y encuesta de satisfacción enviadas al usuario".into(),
    });
}

/// The requester wrote after resolution: a rating, a "not solved", or just a comment.
pub fn on_reply_after_resolution(t: Ticket, mail: &Incoming, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    if says_not_resolved(&mail.text) {
        plan.ticket.resolved_at = None;
        plan.ticket.sla.resume(ctx.calendar, ctx.now);
        plan.clear_timer(TimerKind::AutoClose);
        plan.set_status(Status::TrabajoEnProgreso, 13, &mail.from);
        plan.event(
            Some(13),
            &mail.from,
            "reabierto",
            "El usuario indica que no está resuelto; se reabre",
        );
        let to: Vec<String> = plan
            .ticket
            .assignee
            .clone()
            .map(|a| vec![a])
            .unwrap_or_else(|| ctx.agents());
        plan.mail(MailOut {
            kind: "aviso_agentes",
            template: "reabierto",
            to,
            data: json!({ "text": mail.text }),
            activity: 13,
            description: "Agentes avisados de la reapertura".into(),
        });
    } else if let Some((rating, comment)) = parse_rating(&mail.text) {
        plan.ticket.survey = Some((rating, comment.clone()));
        plan.event(
            Some(17),
            &mail.from,
            "encuesta",
            format!("Encuesta respondida: {rating}/5 {comment}")
                .trim()
                .to_owned(),
        );
    } else {
        plan.event(
            Some(17),
            &mail.from,
            "comentario",
            "Comentario del usuario tras la solución",
        );
    }
    plan
}

/// Activity 18: the resolved request closes by itself.
pub fn on_auto_close(t: Ticket, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    if plan.ticket.status == Status::Resuelto {
        plan.close(CloseReason::Resuelto, 18, "sistema", ctx);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::tramite::on_agent_reply;
    use super::*;

    fn resolved(w: &World) -> Ticket {
        let mail = incoming(
            "ana@example.test",
            "Impresora",
            "Instalar impresora\nUbicación: Piso 3",
        );
        let t = super::super::registro::register(w.new_ticket(&mail), &mail, None, &w.ctx()).ticket;
        on_agent_reply(
            t,
            &incoming(
                "agente1@example.test",
                "RE",
                "#resolver Instalada y probada",
            ),
            &w.ctx(),
        )
        .ticket
    }

    #[test]
    fn resolve_rate_and_close_by_itself() {
        let w = World::new();
        let t = resolved(&w);
        assert_eq!(t.status, Status::Resuelto);
        let rated = on_reply_after_resolution(
            t,
            &incoming("ana@example.test", "RE", "5 excelente"),
            &w.ctx(),
        );
        assert_eq!(rated.ticket.survey, Some((5, "excelente".into())));
        let closed = on_auto_close(rated.ticket, &w.later_ctx(2 * 24 * 3600));
        assert_eq!(closed.ticket.status, Status::Cerrado);
        assert_eq!(closed.ticket.close_reason, Some(CloseReason::Resuelto));
    }

    #[test]
    fn not_solved_reopens_and_cancels_auto_close() {
        let w = World::new();
        let plan = on_reply_after_resolution(
            resolved(&w),
            &incoming("ana@example.test", "RE", "No está resuelto, sigue igual"),
            &w.ctx(),
        );
        assert_eq!(plan.ticket.status, Status::TrabajoEnProgreso);
        assert!(plan
            .effects
            .contains(&super::super::Effect::ClearTimer(TimerKind::AutoClose)));
        assert!(!plan.ticket.sla.is_paused());
    }
}
