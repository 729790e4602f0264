//! Activities 16–18: resolve, send the satisfaction survey, take the requester's rating or
//! "no está resuelto", and close the request by itself after the configured business days.

use super::{Ctx, Incoming, MailOut, Plan, Ticket, TimerKind};
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::domain::text::{parse_rating, says_not_resolved};
use crate::domain::ticket::{CloseReason, Status};
use serde_json::json;

/// Activity 16 → 17: the solution goes to the requester with the survey.
pub fn resolve(plan: &mut Plan, solution: &str, agent: &str, ctx: &Ctx<'_>) {
    plan.ticket.resolution = Some(solution.to_owned());
    plan.ticket.resolved_at = Some(ctx.now);
    plan.ticket.sla.pause(ctx.calendar, ctx.now);
    plan.set_status(Status::Resuelto, 16, agent);
    plan.event(
        Some(16),
        agent,
        EventKind::Resuelto,
        format!("Solución: {solution}"),
    );
    let days = ctx.policy.auto_close_business_days;
    plan.timer(
        TimerKind::AutoClose,
        ctx.calendar.add_business_days(ctx.now, days),
    );
    plan.mail(MailOut {
        kind: MailKind::Encuesta,
        template: Template::ResueltoEncuesta,
        to: vec![plan.ticket.requester.clone()],
        data: json!({ "solution": solution, "business_days": days }),
        activity: 17,
        description: "Solución y encuesta de satisfacción enviadas al usuario".into(),
    });
}

/// The requester wrote after resolution: a rating, a "not solved", or just a comment.
///
/// A reply that starts with a rating is an answer to the survey (activity 17), whatever its
/// comment says: the rating and the comment are kept as written and the ticket stays resolved.
/// Only a reply *without* a rating that says the problem is still there reopens it. Reading
/// the comment for "not solved" would turn satisfied answers into reopenings ("5 Excelente
/// servicio. Todavía no lo recojo, pero ya me confirmaron la reserva." holds "todavía no") and
/// lose their rating. Even "1 no está resuelto" is kept as a rating of 1: the requester chose
/// to answer the survey, the low rating reaches the compliance report where the coordinator
/// sees it, and the requester can still reopen with a reply that is not a rating ("no está
/// resuelto") while the ticket is resolved.
pub fn on_reply_after_resolution(t: Ticket, mail: &Incoming, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    if let Some((rating, comment)) = parse_rating(&mail.text) {
        // Thanked once: a second rating replaces the first without another mail.
        let first_answer = plan.ticket.survey.is_none();
        plan.ticket.survey = Some((rating, comment.clone()));
        if first_answer {
            plan.mail(MailOut {
                kind: MailKind::EncuestaRegistrada,
                template: Template::EncuestaRegistrada,
                to: vec![plan.ticket.requester.clone()],
                data: json!({ "rating": rating, "comment": comment }),
                activity: 17,
                description: "Solicitante informado: su respuesta a la encuesta quedó registrada"
                    .into(),
            });
        }
        plan.event(
            Some(17),
            &mail.from,
            EventKind::Encuesta,
            format!("Encuesta respondida: {rating}/5 {comment}")
                .trim()
                .to_owned(),
        );
    } else if says_not_resolved(&mail.text) {
        plan.ticket.resolved_at = None;
        plan.ticket.sla.resume(ctx.calendar, ctx.now);
        plan.clear_timer(TimerKind::AutoClose);
        plan.set_status(Status::TrabajoEnProgreso, 13, &mail.from);
        plan.event(
            Some(13),
            &mail.from,
            EventKind::Reabierto,
            "El usuario indica que no está resuelto; se reabre",
        );
        if plan.ticket.assignee.is_some() {
            let to = ctx.responsible(&plan.ticket);
            plan.mail(MailOut {
                kind: MailKind::AvisoAgentes,
                template: Template::Reabierto,
                to,
                data: json!({ "text": mail.text }),
                activity: 13,
                description: "Responsable avisado de la reapertura".into(),
            });
        } else {
            // Nobody has it: for the group it is new work, and the notice carries everything
            // needed to take it (issue 17, item 1), with what the requester says is wrong.
            super::tramite::new_work_notice_with_message(
                &mut plan,
                "El solicitante indica que no quedó resuelto y se reabrió",
                &mail.text,
                ctx,
            );
        }
    } else {
        plan.event(
            Some(17),
            &mail.from,
            EventKind::Comentario,
            "Comentario del usuario tras la solución",
        );
        // A question or a remark ("¿el préstamo incluye el cargador?") needs a person: it goes
        // to whoever solved it, as on an open ticket, saying that nothing changed.
        super::tramite::forward_to_responsible(
            &mut plan,
            mail,
            json!({ "after_resolution": true }),
            17,
            "Comentario del usuario tras la solución reenviado al responsable",
            ctx,
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

    fn reply(w: &World, text: &str) -> Plan {
        on_reply_after_resolution(
            resolved(w),
            &incoming("ana@example.test", "RE: [REQ-1] Resuelto", text),
            &w.ctx(),
        )
    }

    /// Reopened, and whoever works it is told: the assignee by `reabierto`, or, with nobody
    /// assigned, the group by a new-work notice.
    fn reopened(plan: &Plan) -> bool {
        plan.ticket.status == Status::TrabajoEnProgreso
            && plan
                .mails()
                .any(|m| m.template == "reabierto" || m.template == "nueva_solicitud")
    }

    /// Issue 17 item 7: a rated reply whose comment holds "todavía no" keeps its rating.
    #[test]
    fn a_rating_with_a_comment_is_kept_and_does_not_reopen() {
        let w = World::new();
        let plan = reply(
            &w,
            "5 Excelente servicio. Todavía no lo recojo, pero ya me confirmaron la reserva.",
        );
        assert_eq!(plan.ticket.status, Status::Resuelto);
        assert!(!reopened(&plan));
        assert_eq!(
            plan.ticket.survey,
            Some((
                5,
                "Excelente servicio. Todavía no lo recojo, pero ya me confirmaron la reserva."
                    .into()
            ))
        );
        // Only the thank-you, to the requester.
        let mails: Vec<_> = plan.mails().collect();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].template, "encuesta_registrada");
        assert_eq!(mails[0].to, ["ana@example.test"]);
        assert_eq!(mails[0].data["rating"], 5);
        let again = on_reply_after_resolution(
            plan.ticket,
            &incoming("ana@example.test", "RE", "4"),
            &w.ctx(),
        );
        assert_eq!(again.ticket.survey, Some((4, String::new())));
        assert_eq!(again.mails().count(), 0, "thanked once");
    }

    /// A low rating that complains is still a survey answer (see `on_reply_after_resolution`).
    #[test]
    fn a_low_rating_saying_not_resolved_is_kept_as_a_rating() {
        let w = World::new();
        let plan = reply(&w, "1 no está resuelto");
        assert_eq!(plan.ticket.status, Status::Resuelto);
        assert!(!reopened(&plan));
        assert_eq!(plan.ticket.survey, Some((1, "no está resuelto".into())));
    }

    #[test]
    fn a_question_after_the_solution_reaches_who_solved_it_and_changes_nothing() {
        let w = World::new();
        let plan = reply(
            &w,
            "¿La impresora quedó configurada también en el portátil?",
        );
        assert_eq!(plan.ticket.status, Status::Resuelto);
        assert_eq!(plan.ticket.survey, None);
        let m = plan
            .mails()
            .find(|m| m.template == "mensaje_usuario")
            .expect("the question reaches a person");
        assert_eq!(m.to, w.ctx().responsible(&plan.ticket));
        assert!(!m.to.is_empty() && !m.to.contains(&"ana@example.test".to_owned()));
        assert_eq!(m.data["after_resolution"], true);
    }

    #[test]
    fn without_a_rating_not_resolved_reopens_and_no_survey_is_recorded() {
        let w = World::new();
        let plan = reply(&w, "no está resuelto");
        assert!(reopened(&plan));
        assert_eq!(plan.ticket.survey, None);
        let plan = reply(
            &w,
            "Buenas tardes, todavía no puedo imprimir.\n\nEl lun, 3 mar 2025, Mesa <m@x.co> escribió:\n> 5",
        );
        assert!(reopened(&plan));
    }

    #[test]
    fn a_rating_then_not_resolved_reopens_keeping_the_rating() {
        let w = World::new();
        let rated = reply(&w, "4 bien");
        let plan = on_reply_after_resolution(
            rated.ticket,
            &incoming("ana@example.test", "RE", "Perdón, sigue fallando"),
            &w.ctx(),
        );
        assert!(reopened(&plan));
        assert_eq!(plan.ticket.survey, Some((4, "bien".into())));
    }

    /// Issue 17 item 1: a reopened ticket nobody has is new work for its group, with
    /// everything needed to take it and what the requester says; an assigned one goes back
    /// to its assignee.
    #[test]
    fn a_reopened_ticket_is_new_work_for_the_group_unless_someone_has_it() {
        let w = World::new();
        let said = "No está resuelto: la impresora sigue sin aparecer en mi equipo";
        let plan = reply(&w, said);
        let notice: Vec<_> = plan.mails().collect();
        assert_eq!(notice.len(), 1);
        assert_eq!(notice[0].template, "nueva_solicitud");
        assert_eq!(notice[0].to, w.ctx().resolvers(&plan.ticket));
        assert_eq!(notice[0].data["message"], said);
        assert!(notice[0].data["why"]
            .as_str()
            .unwrap()
            .contains("se reabrió"));

        let mut assigned = resolved(&w);
        assigned.assignee = Some("agente1@example.test".into());
        let plan = on_reply_after_resolution(
            assigned,
            &incoming("ana@example.test", "RE", said),
            &w.ctx(),
        );
        let told: Vec<_> = plan.mails().collect();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].template, "reabierto");
        assert_eq!(told[0].to, vec!["agente1@example.test".to_owned()]);
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
