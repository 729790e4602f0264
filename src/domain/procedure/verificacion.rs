//! Activities 4–8: verify the request is complete; if not, ask the user ("pendiente por
//! usuario", SLA clock stopped); verify again when they answer; close it after 3 business days
//! of silence, telling them why.

use super::{aprobacion, Ctx, Incoming, MailOut, Plan, Ticket, TimerKind};
use crate::domain::catalog::{ApprovalKind, Service};
use crate::domain::directory::Directory;
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::domain::text::{canonical_address, fold, read_fields};
use crate::domain::ticket::{CloseReason, Status};
use serde_json::json;

/// The field naming the immediate boss who approves (`Aprobador: …`).
pub const APPROVER_FIELD: &str = "Aprobador";

/// The attachment as [`missing`] lists it.
pub const ATTACHMENT: &str = "Documento soporte adjunto";

/// What the request still lacks for its service: required fields, the approver, then the
/// attachment.
///
/// A boss-approved service lacks "Aprobador" until the request names one (activity 4 verifies
/// the authorisations too): asking the requester, who knows their boss, comes before bothering
/// an agent. Only when the directory lists approvers, else nobody could be named and an agent
/// routes it (`#aprobador`), and not when the directory knows the requester's boss (LDAP
/// `manager`): the request goes to them. A named approver who is not eligible is not "missing": agents are
/// told, as before (activity 11).
pub fn missing(t: &Ticket, s: &Service, directory: &Directory) -> Vec<String> {
    let mut out: Vec<String> = s
        .required_fields
        .iter()
        .filter(|f| t.field(f).is_none())
        .cloned()
        .collect();
    let listed = s
        .required_fields
        .iter()
        .any(|f| fold(f) == fold(APPROVER_FIELD));
    if s.approval == ApprovalKind::JefeInmediato
        && !listed
        && t.field(APPROVER_FIELD).is_none()
        && directory.boss_of(&t.requester).is_none()
        && !directory.approvers().is_empty()
    {
        out.push(APPROVER_FIELD.to_owned());
    }
    if s.requires_attachment && t.attachments == 0 {
        out.push(ATTACHMENT.to_owned());
    }
    out
}

/// Activity 4 (and 9): complete → approval branch or work; incomplete → activity 5.
pub fn verify(plan: &mut Plan, s: &Service, ctx: &Ctx<'_>) {
    let lacking = missing(&plan.ticket, s, ctx.directory);
    if !lacking.is_empty() {
        request_information(plan, &lacking, None, "sistema", ctx);
        return;
    }
    plan.event(
        Some(4),
        "sistema",
        EventKind::Verificado,
        "Solicitud completa: cumple los requisitos",
    );
    plan.clear_timer(TimerKind::PendingUser);
    if plan.ticket.status == Status::PendientePorUsuario {
        plan.ticket.sla.resume(ctx.calendar, ctx.now);
        plan.event(
            Some(7),
            "sistema",
            EventKind::SlaReanudado,
            "Información recibida a tiempo: el tiempo de solución se reanuda",
        );
    }
    let already_approved =
        plan.ticket.approval.as_ref().is_some_and(|a| {
            a.status == aprobacion::ApprovalStatus::Approved && a.kind == s.approval
        });
    if s.approval != ApprovalKind::None && !already_approved {
        plan.event(
            Some(9),
            "sistema",
            EventKind::RequiereAprobacion,
            format!("Requiere aprobación ({})", s.approval.label()),
        );
        aprobacion::start(plan, s, ctx);
    } else {
        let why = if already_approved {
            // The approver already said yes; more information from the user does not ask
            // them again.
            plan.event(
                Some(9),
                "sistema",
                EventKind::YaAprobado,
                "La aprobación ya fue otorgada; no se solicita de nuevo",
            );
            "Información completada; la aprobación ya había sido otorgada"
        } else {
            plan.event(
                Some(9),
                "sistema",
                EventKind::SinAprobacion,
                "No requiere aprobación",
            );
            "Solicitud completa; no requiere aprobación"
        };
        let was = plan.ticket.status;
        plan.set_status(Status::TrabajoEnProgreso, 13, "sistema");
        if was != Status::TrabajoEnProgreso {
            super::tramite::new_work_notice(plan, why, ctx);
        }
    }
}

/// How the `incompleto` event words an agent's question; [`Asked::from_event`] reads it back.
/// How the audit trail records the fields a request lacks (activity 6).
const LACKING_PREFIX: &str = "Solicitud incompleta; falta: ";

/// What is missing, as the panel shows it beside "Falta": the fields, or the agent's question,
/// from the `Incompleto` event's description (which says who asked whom).
pub fn missing_shown(description: &str) -> &str {
    description
        .strip_prefix(LACKING_PREFIX)
        .or_else(|| description.strip_prefix(ASKED_PREFIX))
        .unwrap_or(description)
}

const ASKED_PREFIX: &str = "Se solicita información al usuario: ";

/// An agent's `#pendiente` question, as recorded on the ticket: the requester's answer goes
/// back to whoever asked it (item 1 of issue 17), not only into the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub by: String,
    pub question: String,
}

impl Asked {
    /// The question an `incompleto` event records, when a person (not the system's own
    /// verification) asked it.
    pub fn from_event(actor: &str, kind: &str, description: &str) -> Option<Asked> {
        if kind != EventKind::Incompleto.as_str() || actor == "sistema" || !actor.contains('@') {
            return None;
        }
        let question = description.strip_prefix(ASKED_PREFIX)?;
        Some(Asked {
            by: actor.to_owned(),
            question: question.to_owned(),
        })
    }
}

/// Activity 5: tell the user exactly what is missing; the SLA clock stops until they answer.
/// `reason` is an agent's own wording (`#pendiente`), sent instead of a field list; `actor` is
/// who asks (the agent, or "sistema" for the verification's own list).
pub fn request_information(
    plan: &mut Plan,
    lacking: &[String],
    reason: Option<&str>,
    actor: &str,
    ctx: &Ctx<'_>,
) {
    plan.event(
        Some(4),
        actor,
        EventKind::Incompleto,
        match reason {
            Some(r) => format!("{ASKED_PREFIX}{r}"),
            None => format!("{LACKING_PREFIX}{}", lacking.join(", ")),
        },
    );
    plan.set_status(Status::PendientePorUsuario, 5, actor);
    plan.ticket.sla.pause(ctx.calendar, ctx.now);
    plan.event(
        Some(5),
        actor,
        EventKind::SlaPausado,
        "Tiempo de solución detenido: pendiente por usuario",
    );
    let due = ctx
        .calendar
        .add_business_days(ctx.now, ctx.policy.pending_user_business_days);
    plan.timer(TimerKind::PendingUser, due);
    let asks_approver = lacking.iter().any(|f| fold(f) == fold(APPROVER_FIELD));
    let approvers: Vec<_> = if asks_approver {
        approver_choices(&plan.ticket.requester, ctx)
    } else {
        Vec::new()
    };
    // Lines to copy are fields; the document is asked for in words of its own.
    let fields: Vec<&String> = lacking.iter().filter(|f| *f != ATTACHMENT).collect();
    plan.mail(MailOut {
        kind: MailKind::InformacionFaltante,
        template: Template::InformacionFaltante,
        to: vec![plan.ticket.requester.clone()],
        data: json!({
            "missing": fields,
            "example": fields.first(),
            "attachment_missing": lacking.iter().any(|f| f == ATTACHMENT),
            "approvers": approvers,
            "reason": reason,
            "deadline": ctx.display(due),
            "business_days": ctx.policy.pending_user_business_days,
        }),
        activity: 5,
        description: "Solicitud de información adicional enviada al usuario".into(),
    });
}

/// The approvers the requester may name (name, position, office, address), their own office's
/// first; the address is what they copy into `Aprobador:`.
pub fn approver_choices(requester: &str, ctx: &Ctx<'_>) -> Vec<serde_json::Value> {
    ctx.directory
        .approver_choices(requester)
        .into_iter()
        .map(|p| {
            json!({
                "name": p.name,
                "position": p.position_label(),
                "office": p.office,
                "email": p.email,
            })
        })
        .collect()
}

/// Activity 6–7: the user answered while the request waited on them; verify again. When an
/// agent asked (`asked`), the answer goes to the assignee (the group's readers), else to that
/// agent, with the requester's text.
pub fn on_user_information(
    t: Ticket,
    mail: &Incoming,
    asked: Option<&Asked>,
    ctx: &Ctx<'_>,
) -> Plan {
    let mut plan = Plan::new(t);
    let fields = read_fields(&mail.text);
    plan.ticket
        .merge_fields(fields.iter().map(|f| (f.name.as_str(), f.value.as_str())));
    plan.ticket.attachments += mail.attachments;
    plan.event(
        Some(6),
        &mail.from,
        EventKind::InformacionRecibida,
        "El usuario envió información complementaria",
    );
    let service = plan
        .ticket
        .service
        .as_deref()
        .and_then(|c| ctx.catalog.by_code_or_name(c));
    match service {
        Some(s) => verify(&mut plan, s, ctx),
        // An agent asked with #pendiente on an uncategorised request: any answer resumes work.
        None => {
            plan.clear_timer(TimerKind::PendingUser);
            plan.ticket.sla.resume(ctx.calendar, ctx.now);
            plan.set_status(Status::TrabajoEnProgreso, 7, "sistema");
        }
    }
    if let Some(a) = asked {
        forward_answer(&mut plan, mail, a, ctx);
    }
    plan
}

/// The requester's answer to an agent's question reaches the agent who asked it (they are
/// waiting for it) and whoever works the ticket now, its assignee, when that is someone else.
fn forward_answer(plan: &mut Plan, mail: &Incoming, asked: &Asked, ctx: &Ctx<'_>) {
    let mut to = vec![asked.by.clone()];
    if let Some(a) = plan.ticket.assignee.as_deref() {
        for r in ctx.readers_of(a) {
            if !to
                .iter()
                .any(|t| canonical_address(t) == canonical_address(&r))
            {
                to.push(r);
            }
        }
    }
    to.retain(|r| canonical_address(r) != canonical_address(&mail.from));
    if to.is_empty() {
        return;
    }
    plan.mail(MailOut {
        kind: MailKind::RespuestaPendiente,
        template: Template::MensajeUsuario,
        to,
        data: json!({
            "text": mail.text,
            "from": mail.from,
            "question": asked.question,
            "asked_by": asked.by,
        }),
        activity: 6,
        description: "Respuesta del usuario reenviada a quien hizo la pregunta".into(),
    });
}

/// Activity 7 → 8: no answer within the business days allowed; close and say why.
pub fn on_pending_timeout(t: Ticket, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    if plan.ticket.status != Status::PendientePorUsuario {
        return plan;
    }
    let days = ctx.policy.pending_user_business_days;
    plan.event(
        Some(7),
        "sistema",
        EventKind::SinRespuesta,
        format!("No se recibió la información en {days} días hábiles"),
    );
    plan.close(CloseReason::SinRespuestaUsuario, 8, "sistema", ctx);
    plan.mail(MailOut {
        kind: MailKind::Cierre,
        template: Template::CierreSinRespuesta,
        to: vec![plan.ticket.requester.clone()],
        data: json!({ "business_days": days }),
        activity: 8,
        description: "Usuario notificado del cierre por falta de respuesta".into(),
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::registro::register;
    use super::*;

    #[test]
    fn the_panel_shows_what_is_missing_not_the_audit_line() {
        assert_eq!(
            missing_shown("Solicitud incompleta; falta: Justificación, Aprobador"),
            "Justificación, Aprobador"
        );
        assert_eq!(
            missing_shown("Se solicita información al usuario: ¿En qué piso?"),
            "¿En qué piso?"
        );
        assert_eq!(missing_shown("otra cosa"), "otra cosa");
    }

    #[test]
    fn an_incomplete_request_waits_on_the_user_with_the_clock_stopped() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Necesito VPN",
            "Quiero acceso remoto por VPN.",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert_eq!(plan.ticket.status, Status::PendientePorUsuario);
        assert!(plan.ticket.sla.is_paused());
        let ask: Vec<_> = plan
            .mails()
            .filter(|m| m.template == "informacion_faltante")
            .collect();
        assert_eq!(ask.len(), 1);
        assert_eq!(
            ask[0].data["missing"],
            json!(["Justificación", "Aprobador"])
        );
        assert!(plan.effects.iter().any(|e| matches!(
            e,
            super::super::Effect::SetTimer {
                kind: TimerKind::PendingUser,
                ..
            }
        )));
    }

    #[test]
    fn the_users_answer_completes_the_request_and_resumes_the_clock() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Impresora",
            "Instalar impresora por favor",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert_eq!(plan.ticket.status, Status::PendientePorUsuario);
        let later = w.later_ctx(3600);
        let answer = incoming("ana@example.test", "RE: x", "Ubicación: Piso 2");
        let plan2 = on_user_information(plan.ticket, &answer, None, &later);
        // The system's own list was asked by nobody: no one is sent the answer.
        assert!(plan2
            .mails()
            .all(|m| m.kind != MailKind::RespuestaPendiente));
        assert_eq!(plan2.ticket.status, Status::TrabajoEnProgreso);
        assert!(!plan2.ticket.sla.is_paused());
        assert!(plan2
            .effects
            .contains(&super::super::Effect::ClearTimer(TimerKind::PendingUser)));
    }

    #[test]
    fn silence_for_three_business_days_closes_with_the_reason() {
        let w = World::new();
        let mail = incoming("ana@example.test", "Impresora", "Instalar impresora");
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        let closed = on_pending_timeout(plan.ticket, &w.later_ctx(3 * 24 * 3600));
        assert_eq!(closed.ticket.status, Status::Cerrado);
        assert_eq!(
            closed.ticket.close_reason,
            Some(CloseReason::SinRespuestaUsuario)
        );
        assert_eq!(
            closed.mails().next().unwrap().template,
            "cierre_sin_respuesta"
        );
    }

    fn information_request(plan: &Plan) -> &MailOut {
        plan.mails()
            .find(|m| m.template == "informacion_faltante")
            .expect("an information request")
    }

    #[test]
    fn a_boss_approved_request_without_approver_asks_the_requester_office_head_first() {
        let w = World::new();
        let mail = incoming(
            "pedro@example.test",
            "Necesito VPN",
            "Quiero acceso remoto por VPN.\nJustificación: viaje de trabajo",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert_eq!(plan.ticket.status, Status::PendientePorUsuario);
        // The requester is asked, the agents are not bothered.
        assert!(plan.mails().all(|m| m.template != "aprobador_requerido"));
        let ask = information_request(&plan);
        assert_eq!(ask.data["missing"], json!(["Aprobador"]));
        let approvers = ask.data["approvers"].as_array().unwrap();
        assert_eq!(approvers[0]["name"], "Jefe Oficina");
        assert_eq!(approvers[0]["position"], "Jefe de oficina");
        assert_eq!(approvers[0]["office"], "Jurídica");
        assert_eq!(approvers[0]["email"], "jefe@example.test");
        assert_eq!(approvers.len(), 4);
    }

    #[test]
    fn a_named_but_ineligible_approver_still_goes_to_the_agents() {
        let w = World::new();
        let mail = incoming(
            "pedro@example.test",
            "Necesito VPN",
            "VPN\nJustificación: viaje\nAprobador: agente1@example.test",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert!(plan.mails().all(|m| m.template != "informacion_faltante"));
        assert!(plan.mails().any(|m| m.template == "aprobador_requerido"));
    }

    #[test]
    fn without_approvers_in_the_directory_an_agent_routes_it() {
        let mut w = World::new();
        w.directory = Directory::default();
        let mail = incoming("pedro@example.test", "VPN", "VPN\nJustificación: viaje");
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert!(plan.mails().all(|m| m.template != "informacion_faltante"));
        assert!(plan.mails().any(|m| m.template == "aprobador_requerido"));
    }

    #[test]
    fn an_agents_question_is_sent_as_asked_without_field_lines() {
        let w = World::new();
        let mail = incoming("ana@example.test", "Impresora", "Ubicación: Piso 3");
        let mut plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        request_information(
            &mut plan,
            &[],
            Some("¿Qué modelo de impresora es?"),
            "agente1@example.test",
            &w.ctx(),
        );
        let ask = information_request(&plan);
        assert_eq!(ask.data["reason"], "¿Qué modelo de impresora es?");
        assert_eq!(ask.data["missing"], json!([]));
        assert!(ask.data["approvers"].as_array().unwrap().is_empty());
    }

    #[test]
    fn the_answer_to_an_agents_question_goes_to_that_agent_and_the_assignee() {
        let w = World::new();
        let mail = incoming("ana@example.test", "Impresora", "Ubicación: Piso 3");
        let mut plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        request_information(
            &mut plan,
            &[],
            Some("¿Qué modelo es?"),
            "agente1@example.test",
            &w.ctx(),
        );
        let (actor, kind, description) = plan
            .effects
            .iter()
            .find_map(|e| match e {
                super::super::Effect::Event {
                    actor,
                    kind,
                    description,
                    ..
                } if *kind == EventKind::Incompleto => {
                    Some((actor.clone(), *kind, description.clone()))
                }
                _ => None,
            })
            .unwrap();
        let asked = Asked::from_event(&actor, kind.as_str(), &description).unwrap();
        assert_eq!(asked.by, "agente1@example.test");
        assert_eq!(asked.question, "¿Qué modelo es?");
        assert_eq!(
            Asked::from_event("sistema", kind.as_str(), &description),
            None
        );
        let answer = incoming("ana@example.test", "RE: x", "Es una HP LaserJet M404");
        let later = w.later_ctx(3600);
        let plan2 = on_user_information(plan.ticket.clone(), &answer, Some(&asked), &later);
        let fwd: Vec<_> = plan2
            .mails()
            .filter(|m| m.kind == MailKind::RespuestaPendiente)
            .collect();
        assert_eq!(fwd.len(), 1);
        assert_eq!(fwd[0].to, ["agente1@example.test"]);
        assert_eq!(fwd[0].data["text"], "Es una HP LaserJet M404");
        assert_eq!(fwd[0].data["question"], "¿Qué modelo es?");
        let mut assigned = plan.ticket;
        assigned.assignee = Some("especialista@example.test".into());
        let plan3 = on_user_information(assigned, &answer, Some(&asked), &later);
        let fwd = plan3
            .mails()
            .find(|m| m.kind == MailKind::RespuestaPendiente)
            .unwrap();
        // Assigned to someone else since: both the agent who asked and the assignee read it.
        assert_eq!(
            fwd.to,
            ["agente1@example.test", "especialista@example.test"]
        );
        let mut by_asker = plan2.ticket;
        by_asker.assignee = Some("AGENTE1@example.test".into());
        let plan4 = on_user_information(by_asker, &answer, Some(&asked), &later);
        let fwd = plan4
            .mails()
            .find(|m| m.kind == MailKind::RespuestaPendiente)
            .unwrap();
        assert_eq!(fwd.to, ["agente1@example.test"]);
    }
}
