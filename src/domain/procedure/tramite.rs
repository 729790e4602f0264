//! Activities 13–16: agents and solvers work the ticket by replying with commands at the top
//! of their mail. Text without commands is a public answer to the requester; `#nota` never
//! leaves the help desk.

use super::{cierre, registro, verificacion, Ctx, Incoming, MailOut, Plan, Ticket};
use crate::domain::text::{parse_commands, Command};
use crate::domain::ticket::{CloseReason, Status};
use serde_json::json;

/// Whether `from` may command tickets (directory role agente, especialista or coordinador).
pub fn is_agent(from: &str, ctx: &Ctx<'_>) -> bool {
    ctx.directory
        .person(from)
        .is_some_and(|p| p.works_tickets())
}

pub fn on_agent_reply(t: Ticket, mail: &Incoming, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    let parsed = parse_commands(&mail.text);
    let agent = mail.from.as_str();
    plan.ticket.attachments += mail.attachments;
    if mail.attachments > 0 {
        plan.event(
            Some(16),
            agent,
            "evidencia",
            format!("{} adjunto(s) guardado(s) como evidencia", mail.attachments),
        );
    }
    let mut errors = Vec::new();
    for cmd in &parsed.commands {
        if plan.ticket.status == Status::Cerrado {
            errors.push(format!(
                "El requerimiento ya está cerrado; se ignoró {}",
                name(cmd)
            ));
            continue;
        }
        if let Err(e) = apply(&mut plan, cmd, agent, ctx) {
            errors.push(e);
        }
    }
    let rest = parsed.rest.trim();
    if !rest.is_empty() && plan.ticket.status != Status::Cerrado {
        plan.event(
            Some(13),
            agent,
            "respuesta_publica",
            "Respuesta del agente enviada al solicitante",
        );
        plan.mail(MailOut {
            kind: "respuesta_agente",
            template: "respuesta_agente",
            to: vec![plan.ticket.requester.clone()],
            data: json!({ "text": rest, "agent": agent }),
            activity: 13,
            description: "Respuesta del agente enviada al solicitante".into(),
        });
    }
    if !errors.is_empty() {
        plan.mail(MailOut {
            kind: "comando_invalido",
            template: "comando_invalido",
            to: vec![agent.to_owned()],
            data: json!({ "errors": errors }),
            activity: 13,
            description: "Agente avisado de comandos no aplicados".into(),
        });
    }
    plan
}

fn name(cmd: &Command) -> String {
    match cmd {
        Command::Invalid { name, .. } | Command::Unknown { name } => format!("#{name}"),
        other => format!("{other:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or("")
            .to_lowercase(),
    }
}

fn apply(plan: &mut Plan, cmd: &Command, agent: &str, ctx: &Ctx<'_>) -> Result<(), String> {
    match cmd {
        Command::Assign { email } => {
            plan.ticket.assignee = Some(email.clone());
            plan.event(Some(13), agent, "asignado", format!("Asignado a {email}"));
            if plan.ticket.status == Status::Registrado {
                return Ok(());
            }
            plan.mail(MailOut {
                kind: "asignacion",
                template: "asignacion",
                to: vec![email.clone()],
                data: json!({ "agent": agent }),
                activity: 13,
                description: format!("Aviso de asignación enviado a {email}"),
            });
        }
        Command::Pending { reason } => {
            verificacion::request_information(plan, &[], Some(reason), ctx);
        }
        Command::Note { text } => {
            plan.event(Some(13), agent, "nota", format!("Nota interna: {text}"));
        }
        Command::Service { code } => {
            let s = ctx.catalog.by_code_or_name(code).ok_or_else(|| {
                format!("#servicio: no existe el servicio «{code}» en el catálogo")
            })?;
            let first_time = plan.ticket.service.is_none();
            registro::categorise(plan, s, agent, ctx);
            if first_time && plan.ticket.status == Status::Registrado {
                verificacion::verify(plan, s, ctx);
            }
        }
        Command::Priority(p) => {
            plan.ticket.priority = Some(*p);
            let service = plan
                .ticket
                .service
                .as_deref()
                .and_then(|c| ctx.catalog.by_code_or_name(c));
            plan.ticket
                .sla
                .set_target(ctx.target_secs(service, Some(*p)));
            plan.event(
                Some(3),
                agent,
                "prioridad",
                format!("Prioridad cambiada a {}", p.as_str()),
            );
        }
        Command::Change { id } => {
            plan.ticket.change_id = Some(id.clone());
            plan.event(
                Some(14),
                agent,
                "cambio",
                format!("Requiere un cambio normal: {id}"),
            );
            plan.close(CloseReason::Cambio, 15, agent, ctx);
            plan.mail(MailOut {
                kind: "cierre",
                template: "cierre_cambio",
                to: vec![plan.ticket.requester.clone()],
                data: json!({ "change_id": id }),
                activity: 15,
                description: format!("Requerimiento cerrado asociado al cambio {id}"),
            });
        }
        Command::Resolve { text } => cierre::resolve(plan, text, agent, ctx),
        Command::Close { reason } => {
            plan.close(CloseReason::Cancelado, 16, agent, ctx);
            plan.mail(MailOut {
                kind: "cierre",
                template: "cierre_cancelado",
                to: vec![plan.ticket.requester.clone()],
                data: json!({ "reason": reason }),
                activity: 16,
                description: "Requerimiento cerrado por el agente".into(),
            });
        }
        Command::Approver { email } => super::aprobacion::set_approver(plan, email, agent, ctx)?,
        Command::Requester { .. } => {
            return Err("#solicitante solo sirve en un correo nuevo, no en una respuesta".into())
        }
        Command::Invalid { name, reason } => return Err(format!("#{name}: {reason}")),
        Command::Unknown { name } => return Err(format!("#{name}: comando desconocido")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn working_ticket(w: &World) -> Ticket {
        let mail = incoming(
            "ana@example.test",
            "Impresora",
            "Instalar impresora\nUbicación: Piso 3",
        );
        super::super::registro::register(w.new_ticket(&mail), &mail, None, &w.ctx()).ticket
    }

    #[test]
    fn a_note_is_recorded_and_never_mailed() {
        let w = World::new();
        let t = working_ticket(&w);
        let plan = on_agent_reply(
            t,
            &incoming("agente1@example.test", "RE", "#nota llamé al usuario"),
            &w.ctx(),
        );
        assert_eq!(plan.mails().count(), 0);
        assert!(plan.effects.iter().any(|e| matches!(e,
            super::super::Effect::Event { kind: "nota", description, .. } if description.contains("llamé"))));
    }

    #[test]
    fn change_closes_with_the_change_number() {
        let w = World::new();
        let plan = on_agent_reply(
            working_ticket(&w),
            &incoming("agente1@example.test", "RE", "#cambio CHG-0042"),
            &w.ctx(),
        );
        assert_eq!(plan.ticket.status, Status::Cerrado);
        assert_eq!(plan.ticket.close_reason, Some(CloseReason::Cambio));
        assert_eq!(plan.ticket.change_id.as_deref(), Some("CHG-0042"));
        assert_eq!(plan.mails().next().unwrap().data["change_id"], "CHG-0042");
    }

    #[test]
    fn free_text_is_a_public_answer_and_bad_commands_are_reported_to_the_agent() {
        let w = World::new();
        let plan = on_agent_reply(
            working_ticket(&w),
            &incoming(
                "agente1@example.test",
                "RE",
                "#servicio NOEXISTE\n\nYa casi está listo.",
            ),
            &w.ctx(),
        );
        let to: Vec<_> = plan
            .mails()
            .map(|m| (m.template, m.to[0].clone()))
            .collect();
        assert!(to.contains(&("respuesta_agente", "ana@example.test".into())));
        assert!(to.contains(&("comando_invalido", "agente1@example.test".into())));
    }

    #[test]
    fn assigning_and_prioritising_change_the_ticket() {
        let w = World::new();
        let plan = on_agent_reply(
            working_ticket(&w),
            &incoming(
                "agente1@example.test",
                "RE",
                "#asignar especialista@example.test\n#prioridad alta",
            ),
            &w.ctx(),
        );
        assert_eq!(
            plan.ticket.assignee.as_deref(),
            Some("especialista@example.test")
        );
        assert_eq!(
            plan.ticket.priority,
            Some(crate::domain::text::Priority::Alta)
        );
        // No priority factors configured: the catalogue's 8 h stays the target.
        assert_eq!(plan.ticket.sla.target_secs, 8 * 3600);
    }

    #[test]
    fn configured_priority_factors_scale_the_target() {
        let mut w = World::new();
        w.policy.priority_factors = crate::domain::sla::PriorityFactors {
            alta: Some(0.5),
            ..Default::default()
        };
        let plan = on_agent_reply(
            working_ticket(&w),
            &incoming("agente1@example.test", "RE", "#prioridad alta"),
            &w.ctx(),
        );
        assert_eq!(plan.ticket.sla.target_secs, 4 * 3600);
    }
}
