//! Activities 13–16: agents and solvers work the ticket by replying with commands at the top
//! of their mail. Text without commands is a public answer to the requester; `#nota` never
//! leaves the help desk. Text left under the commands is a public answer only when it says
//! something (see [`on_agent_reply`]).

use super::aprobacion::ApprovalStatus;
use super::{cierre, registro, verificacion, Ctx, Incoming, MailOut, Plan, Ticket};
use crate::domain::authority::Refusal;
use crate::domain::catalog::ApprovalKind;
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::domain::text::{is_sign_off, parse_commands, Command};
use crate::domain::ticket::{CloseReason, Status};
use serde_json::json;

/// Whether `from` may command tickets (directory role agente, especialista or coordinador).
pub fn is_agent(from: &str, ctx: &Ctx<'_>) -> bool {
    ctx.directory
        .person(from)
        .is_some_and(|p| p.works_tickets())
}

/// Activity 13: the ticket is ready to be worked — the agents (its resolver group) are told,
/// with everything they need to act, and can answer that mail with their commands. When an
/// agent assigned it before it could be worked (uncategorised, waiting for approval), the
/// assignee is the one told: their assignment mail said it could not be worked yet.
pub fn new_work_notice(plan: &mut Plan, why: &str, ctx: &Ctx<'_>) {
    notice_of_new_work(plan, why, None, ctx)
}

/// [`new_work_notice`] quoting the requester's latest message, for work that comes back
/// (a reopening): the request text alone would not say what is still wrong.
pub fn new_work_notice_with_message(plan: &mut Plan, why: &str, message: &str, ctx: &Ctx<'_>) {
    notice_of_new_work(plan, why, Some(message), ctx)
}

fn notice_of_new_work(plan: &mut Plan, why: &str, message: Option<&str>, ctx: &Ctx<'_>) {
    let (to, assignee_label) = match plan.ticket.assignee.as_deref() {
        Some(a) => (ctx.readers_of(a), Some(assignee_label(a, ctx))),
        None => (ctx.resolvers(&plan.ticket), None),
    };
    let service = plan
        .ticket
        .service
        .as_deref()
        .and_then(|c| ctx.catalog.by_code_or_name(c));
    let mut data = json!({
        "why": why,
        "service_name": service.map(|s| s.name.clone()),
        "attachments": plan.ticket.attachments,
        "assignee_label": assignee_label,
        "message": message,
    });
    if let (Some(d), serde_json::Value::Object(sla)) =
        (data.as_object_mut(), ctx.sla_summary(&plan.ticket))
    {
        d.extend(sla);
    }
    plan.mail(MailOut {
        kind: MailKind::NuevaSolicitud,
        template: Template::NuevaSolicitud,
        to,
        data,
        activity: 13,
        description: "Grupo solucionador avisado de trabajo nuevo".into(),
    });
}

/// A staff member's mail that could not be verified (see `domain::authority`): nothing
/// changes; the attempt is recorded and the person named in From is told.
pub fn on_unproven_staff(t: Ticket, mail: &Incoming, why: &Refusal, ctx: &Ctx<'_>) -> Plan {
    let parsed = parse_commands(&mail.text);
    let attempted = if parsed.commands.is_empty() {
        "responder al solicitante desde la mesa de ayuda".to_owned()
    } else {
        let names: Vec<String> = parsed.commands.iter().map(name).collect();
        format!("ejecutar {}", names.join(", "))
    };
    super::aprobacion::refused(t, &mail.from, &attempted, &why.0, ctx)
}

/// Whether a mail in the requester's name without proof is refused on a ticket in `status`:
/// where the requester's answer changes the ticket (information that resumes the SLA and starts
/// the approval, a survey rating, "no está resuelto"). Elsewhere it is only a message for
/// whoever works the ticket — a user often adds to their request by answering their own sent
/// mail, which carries no token — and is passed on marked as unverified.
pub fn unproven_requester_refused(status: Status) -> bool {
    matches!(status, Status::PendientePorUsuario | Status::Resuelto)
}

/// A mail in the requester's name that carries no proof (their reply token, or our MTA's
/// authentication). Where it would change the ticket ([`unproven_requester_refused`]) nothing
/// changes: the attempt is recorded and the requester is told how to make it count (answer the
/// help desk's last mail), or that someone is using their name. Otherwise it reaches whoever
/// works the ticket, marked as unverified.
pub fn on_unproven_requester(t: Ticket, mail: &Incoming, why: &Refusal, ctx: &Ctx<'_>) -> Plan {
    let attempted = match t.status {
        Status::PendientePorUsuario => "completar la información del requerimiento",
        Status::Resuelto => "responder la encuesta o indicar que no está resuelto",
        _ => return on_requester_message(t, mail, false, ctx),
    };
    super::aprobacion::refused(t, &mail.from, attempted, &why.0, ctx)
}

/// Activity 13: the requester wrote on their open ticket: a message for whoever works it (the
/// assignee, else the service's group, else the agents). `verified`: their own reply token or
/// our MTA vouched for them; an unverified message is passed on saying so.
pub fn on_requester_message(t: Ticket, inc: &Incoming, verified: bool, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    if verified {
        // An unverified mail's files are not the request's (`store::messages::not_the_requesters`).
        plan.ticket.attachments += inc.attachments;
    }
    plan.event(
        Some(13),
        &inc.from,
        EventKind::RespuestaRecibida,
        if verified {
            format!("Correo recibido de {}", inc.from)
        } else {
            format!(
                "Correo recibido a nombre de {} sin verificar (no respondió un correo de la mesa de ayuda)",
                inc.from
            )
        },
    );
    forward_to_responsible(
        &mut plan,
        inc,
        json!({ "unverified": !verified }),
        13,
        "Mensaje del usuario reenviado al responsable",
        ctx,
    );
    plan
}

/// The requester's message passed to whoever works the ticket (`mensaje_usuario`), with
/// `extra` for the template. The assignee writing on their own ticket as its requester is not
/// told of it.
pub fn forward_to_responsible(
    plan: &mut Plan,
    inc: &Incoming,
    extra: serde_json::Value,
    activity: u8,
    description: &str,
    ctx: &Ctx<'_>,
) {
    let to: Vec<String> = ctx
        .responsible(&plan.ticket)
        .into_iter()
        .filter(|a| *a != inc.from)
        .collect();
    if to.is_empty() {
        return;
    }
    let mut data = json!({ "text": inc.text, "from": inc.from });
    if let (Some(d), serde_json::Value::Object(e)) = (data.as_object_mut(), extra) {
        d.extend(e);
    }
    plan.mail(MailOut {
        kind: MailKind::AvisoAsignado,
        template: Template::MensajeUsuario,
        to,
        data,
        activity,
        description: description.into(),
    });
}

/// Someone who is neither the requester nor help-desk staff wrote on the ticket: the message
/// is kept and shown to whoever works the ticket, marked as a third party's, and changes
/// nothing (no fields, no survey, no reopening).
pub fn on_third_party(t: Ticket, mail: &Incoming, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    plan.event(
        Some(13),
        &mail.from,
        EventKind::MensajeTercero,
        format!(
            "Mensaje de {}, que no es el solicitante ni personal de la mesa de ayuda: no cambia el requerimiento",
            mail.from
        ),
    );
    let to = ctx.responsible(&plan.ticket);
    plan.mail(MailOut {
        kind: MailKind::MensajeTercero,
        template: Template::MensajeTercero,
        to,
        data: json!({ "text": mail.text, "from": mail.from, "from_name": mail.from_name }),
        activity: 13,
        description: "Mensaje de un tercero mostrado al responsable".into(),
    });
    plan
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
            EventKind::Evidencia,
            format!("{} adjunto(s) guardado(s) como evidencia", mail.attachments),
        );
    }
    let mut errors = Vec::new();
    let mut requester_mailed = false;
    for cmd in &parsed.commands {
        if plan.ticket.status == Status::Cerrado {
            errors.push(format!(
                "El requerimiento ya está cerrado; se ignoró {}",
                name(cmd)
            ));
            continue;
        }
        match apply(&mut plan, cmd, agent, ctx) {
            Ok(()) => requester_mailed |= mails_requester(cmd),
            Err(e) => errors.push(e),
        }
    }
    // What the agent left under the commands. Agents' clients put their signature there, and
    // a mail to the requester holding only "Miguel Torres / Especialista" is noise from the
    // official address, so:
    // - a sign-off alone (closing formula, name, position, phone) is never sent;
    // - when a command of this reply already mails the requester (`#resolver`, `#cerrar`,
    //   `#cambio`, `#pendiente`: the solution, the reason or the question are in that mail), the
    //   text is not sent as a second mail: one reply, one mail to the requester, and the agent
    //   writes what the requester should read in the command's own paragraph. The text is kept
    //   on the ticket, so nothing the agent wrote is lost;
    // - otherwise it is a public answer, signature included, as a letter is.
    let rest = parsed.rest.trim();
    let agent_name = ctx.directory.person(agent).map(|p| p.name.as_str());
    if !rest.is_empty() && !is_sign_off(rest, agent_name) {
        if requester_mailed {
            plan.event(
                Some(13),
                agent,
                EventKind::TextoNoEnviado,
                format!("Texto bajo los comandos, no enviado al solicitante: {rest}"),
            );
        } else if plan.ticket.status != Status::Cerrado {
            plan.event(
                Some(13),
                agent,
                EventKind::RespuestaPublica,
                "Respuesta del agente enviada al solicitante",
            );
            plan.mail(MailOut {
                kind: MailKind::RespuestaAgente,
                template: Template::RespuestaAgente,
                to: vec![plan.ticket.requester.clone()],
                data: json!({ "text": rest, "agent": agent }),
                activity: 13,
                description: "Respuesta del agente enviada al solicitante".into(),
            });
        }
    }
    if !errors.is_empty() {
        plan.mail(MailOut {
            kind: MailKind::ComandoInvalido,
            template: Template::ComandoInvalido,
            to: vec![agent.to_owned()],
            data: json!({ "errors": errors }),
            activity: 13,
            description: "Agente avisado de comandos no aplicados".into(),
        });
    }
    plan
}

/// One command given in the panel by proven staff: applied by the same rules as the line of
/// a mailed reply ([`on_agent_reply`]), but a refusal comes back, worded as the mail would
/// word it, for the page to show, and changes nothing (no "comando inválido" mail: the person
/// reads it on the page). The audit trail says which channel acted.
pub fn on_command(t: Ticket, cmd: &Command, agent: &str, ctx: &Ctx<'_>) -> Result<Plan, String> {
    if t.status == Status::Cerrado {
        return Err(format!(
            "El requerimiento ya está cerrado; se ignoró {}",
            name(cmd)
        ));
    }
    let mut plan = Plan::new(t);
    apply(&mut plan, cmd, agent, ctx)?;
    for e in &mut plan.effects {
        if let super::Effect::Event {
            actor, description, ..
        } = e
        {
            if actor.as_str() == agent {
                description.push_str(" (desde el panel)");
            }
        }
    }
    Ok(plan)
}

/// Commands whose mail to the requester carries the agent's own text.
fn mails_requester(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Resolve { .. }
            | Command::Close { .. }
            | Command::Change { .. }
            | Command::Pending { .. }
    )
}

/// The command as the agent wrote it, for the messages that name it.
fn name(cmd: &Command) -> String {
    let keyword = match cmd {
        Command::Invalid { name, .. } | Command::Unknown { name } => name.as_str(),
        Command::Assign { .. } => "asignar",
        Command::Pending { .. } => "pendiente",
        Command::Note { .. } => "nota",
        Command::Service { .. } => "servicio",
        Command::Priority(_) => "prioridad",
        Command::Change { .. } => "cambio",
        Command::Resolve { .. } => "resolver",
        Command::Close { .. } => "cerrar",
        Command::Approver { .. } => "aprobador",
        Command::Requester { .. } => "solicitante",
        Command::Incident { .. } => "incidente",
        Command::ToRequest { .. } => "requerimiento",
    };
    format!("#{keyword}")
}

/// Activity 13: the ticket goes to a person who works tickets, or to a resolver group; the
/// assignee is stored as the address or the group code, so the ticket keeps saying which
/// team has it, and every mail for the assignee reaches the group's readers
/// ([`Ctx::readers_of`]) until one of them takes it with `#asignar` themselves.
/// An assignee as mails name it: "grupo Soporte en sitio (soporte-sitio)", "Miguel Torres,
/// Especialista <miguel.torres@…>", the bare address for someone the directory no longer has.
fn assignee_label(assignee: &str, ctx: &Ctx<'_>) -> String {
    match ctx
        .directory
        .group(assignee)
        .filter(|_| !assignee.contains('@'))
    {
        Some(g) => format!("grupo {} ({})", g.name, g.code),
        // Staff read it: the address stays, for `#asignar`.
        None => match ctx.directory.person(assignee) {
            Some(p) => format!("{} <{}>", p.label(), p.email),
            None => assignee.to_owned(),
        },
    }
}

fn assign(plan: &mut Plan, to: &str, agent: &str, ctx: &Ctx<'_>) -> Result<(), String> {
    let assignee = if let Some(g) = ctx.directory.group(to).filter(|_| !to.contains('@')) {
        g.code.clone()
    } else {
        match ctx.directory.person(to) {
            Some(p) if p.works_tickets() => p.email.clone(),
            Some(p) => {
                return Err(format!(
                    "#asignar: {} es {} en el directorio; solo se asigna a agentes, \
                     especialistas, coordinadores o a un grupo solucionador",
                    p.name,
                    p.role.label().to_lowercase()
                ))
            }
            None if to.contains('@') => {
                return Err(format!(
                    "#asignar: {to} no está en el directorio de la mesa de ayuda; solo se asigna \
                     a agentes, especialistas, coordinadores o a un grupo solucionador"
                ))
            }
            None => {
                let codes: Vec<&str> = ctx
                    .directory
                    .groups()
                    .iter()
                    .map(|g| g.code.as_str())
                    .collect();
                return Err(format!(
                    "#asignar: no existe el grupo solucionador «{to}» (grupos: {})",
                    if codes.is_empty() {
                        "ninguno".to_owned()
                    } else {
                        codes.join(", ")
                    }
                ));
            }
        }
    };
    let label = assignee_label(&assignee, ctx);
    plan.ticket.assignee = Some(assignee.clone());
    plan.event(
        Some(13),
        agent,
        EventKind::Asignado,
        format!("Asignado a {label}"),
    );
    if plan.ticket.status == Status::Registrado {
        // Not workable yet: the assignee hears of it when it is (`new_work_notice`).
        return Ok(());
    }
    let service = plan
        .ticket
        .service
        .as_deref()
        .and_then(|c| ctx.catalog.by_code_or_name(c));
    let mut data = json!({
        "agent": agent,
        "assignee_label": label,
        "service_name": service.map(|s| s.name.clone()),
    });
    if let (Some(d), serde_json::Value::Object(sla)) =
        (data.as_object_mut(), ctx.sla_summary(&plan.ticket))
    {
        d.extend(sla);
    }
    plan.mail(MailOut {
        kind: MailKind::Asignacion,
        template: Template::Asignacion,
        to: ctx.readers_of(&assignee),
        data,
        activity: 13,
        description: format!("Aviso de asignación enviado a {label}"),
    });
    Ok(())
}

/// Activity 2, decided by a person: the request is an incident. It closes (`incidente`), its
/// pending approval dies with it, and the adapter opens the incident that continues it.
fn to_incident(plan: &mut Plan, reason: &str, agent: &str, ctx: &Ctx<'_>) {
    plan.event(
        Some(2),
        agent,
        EventKind::ConvertidoIncidente,
        if reason.is_empty() {
            "Validado como incidente: sigue el procedimiento de gestión de incidentes".to_owned()
        } else {
            format!("Validado como incidente: {reason}")
        },
    );
    plan.close(CloseReason::Incidente, 2, agent, ctx);
    plan.effects.push(super::Effect::OpenIncident {
        reason: reason.to_owned(),
        by: agent.to_owned(),
    });
}

/// Activities 12–16: no solution and no change while the approver has not said yes.
fn not_waiting_on_approval(plan: &Plan, command: &str) -> Result<(), String> {
    match plan.ticket.approval.as_ref().map(|a| a.status) {
        Some(ApprovalStatus::WaitingForApprover | ApprovalStatus::Pending) => Err(format!(
            "{command}: el requerimiento espera aprobación; no puede resolverse antes (#cerrar \
             lo cierra y anula la aprobación)"
        )),
        Some(ApprovalStatus::Rejected) => Err(format!(
            "{command}: la solicitud fue rechazada por el aprobador"
        )),
        _ => Ok(()),
    }
}

fn apply(plan: &mut Plan, cmd: &Command, agent: &str, ctx: &Ctx<'_>) -> Result<(), String> {
    match cmd {
        // `#asignar` alone: the sender takes it.
        Command::Assign { to } if to.is_empty() => assign(plan, agent, agent, ctx)?,
        Command::Assign { to } => assign(plan, to, agent, ctx)?,
        Command::Pending { reason } => {
            // The procedure asks for what is missing before the approval (activities 5–8),
            // and an approver's yes takes a ticket waiting on its requester straight to work,
            // past the question asked.
            if let Some(a) = plan
                .ticket
                .approval
                .as_ref()
                .filter(|a| a.status == ApprovalStatus::Pending)
            {
                return Err(format!(
                    "#pendiente: la solicitud espera la decisión de {}; pida la información                      cuando decida, o corrija el aprobador con #aprobador",
                    a.approver
                        .as_deref()
                        .map(|e| ctx.directory.label(e))
                        .unwrap_or_else(|| "su aprobador".into())
                ));
            }
            verificacion::request_information(plan, &[], Some(reason), agent, ctx);
        }
        Command::Note { text } => {
            plan.event(
                Some(13),
                agent,
                EventKind::Nota,
                format!("Nota interna: {text}"),
            );
        }
        Command::Service { code } => {
            let s = ctx.catalog.by_code_or_name(code).ok_or_else(|| {
                format!("#servicio: no existe el servicio «{code}» en el catálogo")
            })?;
            // An approval under way was asked of a person chosen for its kind (the boss, the
            // security officer): another kind would let the wrong person's word unlock the
            // request, and none would leave their pending request behind.
            if let Some(a) = plan.ticket.approval.as_ref().filter(|a| {
                matches!(
                    a.status,
                    ApprovalStatus::WaitingForApprover | ApprovalStatus::Pending
                ) && a.kind != s.approval
            }) {
                return Err(format!(
                    "#servicio: el requerimiento espera la aprobación ({}); el servicio {} {}. \
                     Espere la decisión, o cierre este requerimiento (#cerrar) y pida al \
                     solicitante uno nuevo",
                    a.kind.label(),
                    s.code,
                    s.approval.requirement()
                ));
            }
            let first_time = plan.ticket.service.is_none();
            registro::categorise(plan, s, agent, ctx);
            let approved = plan
                .ticket
                .approval
                .as_ref()
                .is_some_and(|a| a.status == ApprovalStatus::Approved && a.kind == s.approval);
            let needs_approval = s.approval != ApprovalKind::None && !approved;
            // Activity 9 again: a service that needs approval is not worked before it has one.
            let workable = matches!(
                plan.ticket.status,
                Status::Registrado | Status::TrabajoEnProgreso
            );
            if (first_time && plan.ticket.status == Status::Registrado)
                || (needs_approval && workable)
            {
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
                EventKind::Prioridad,
                format!("Prioridad cambiada a {}", p.as_str()),
            );
        }
        Command::Change { id } => {
            not_waiting_on_approval(plan, "#cambio")?;
            plan.ticket.change_id = Some(id.clone());
            plan.event(
                Some(14),
                agent,
                EventKind::Cambio,
                format!("Requiere un cambio normal: {id}"),
            );
            plan.close(CloseReason::Cambio, 15, agent, ctx);
            plan.mail(MailOut {
                kind: MailKind::Cierre,
                template: Template::CierreCambio,
                to: vec![plan.ticket.requester.clone()],
                data: json!({ "change_id": id }),
                activity: 15,
                description: format!("Requerimiento cerrado asociado al cambio {id}"),
            });
        }
        Command::Resolve { text } => {
            not_waiting_on_approval(plan, "#resolver")?;
            cierre::resolve(plan, text, agent, ctx)
        }
        Command::Close { reason } => {
            plan.close(CloseReason::Cancelado, 16, agent, ctx);
            plan.mail(MailOut {
                kind: MailKind::Cierre,
                template: Template::CierreCancelado,
                to: vec![plan.ticket.requester.clone()],
                data: json!({ "reason": reason }),
                activity: 16,
                description: "Requerimiento cerrado por el agente".into(),
            });
        }
        Command::Approver { email } => super::aprobacion::set_approver(plan, email, agent, ctx)?,
        Command::Incident { reason } => to_incident(plan, reason, agent, ctx),
        Command::ToRequest { .. } => {
            return Err(format!(
                "#requerimiento: {} ya es un requerimiento; el comando se usa al responder un \
                 incidente [INC-…]",
                plan.ticket.number
            ))
        }
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
            super::super::Effect::Event { kind: EventKind::Nota, description, .. } if description.contains("llamé"))));
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
            .map(|m| (m.template.as_str(), m.to[0].clone()))
            .collect();
        assert!(to.contains(&("respuesta_agente", "ana@example.test".into())));
        assert!(to.contains(&("comando_invalido", "agente1@example.test".into())));
    }

    fn to_requester(plan: &Plan) -> Vec<&'static str> {
        plan.mails()
            .filter(|m| m.to.iter().any(|t| t == "ana@example.test"))
            .map(|m| m.template.as_str())
            .collect()
    }

    fn reply(w: &World, text: &str) -> Plan {
        on_agent_reply(
            working_ticket(w),
            &incoming("agente1@example.test", "RE: [REQ-1]", text),
            &w.ctx(),
        )
    }

    /// Issue 17: "a signature under an agent's #resolver line went to the requester as a mail
    /// of its own".
    #[test]
    fn a_signature_under_resolver_is_not_a_mail_of_its_own() {
        let w = World::new();
        let plan = reply(
            &w,
            "#resolver Se instaló la impresora y se imprimió una prueba.\n\nMiguel Torres\nEspecialista",
        );
        assert_eq!(plan.ticket.status, Status::Resuelto);
        assert_eq!(to_requester(&plan), ["resuelto_encuesta"]);
        let survey = plan.mails().next().unwrap();
        assert_eq!(
            survey.data["solution"],
            "Se instaló la impresora y se imprimió una prueba."
        );
    }

    #[test]
    fn a_signature_alone_under_any_command_is_never_sent() {
        let w = World::new();
        for text in [
            "#nota llamé al usuario\n\nMiguel Torres\nEspecialista",
            "#prioridad alta\n\nCordialmente,\nMiguel Torres",
            "#asignar especialista@example.test\n\nGracias",
            "#nota revisado\n\nAgente",
        ] {
            let plan = reply(&w, text);
            assert!(to_requester(&plan).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn text_under_a_command_that_mails_the_requester_is_kept_not_sent() {
        let w = World::new();
        for (text, template) in [
            (
                "#resolver Instalada.\n\nCualquier inquietud me escribe.\nMiguel Torres",
                "resuelto_encuesta",
            ),
            (
                "#pendiente ¿En qué piso está?\n\nAna, sin eso no podemos ir.",
                "informacion_faltante",
            ),
            (
                "#cerrar duplicado de REQ-4\n\nYa lo atendemos allá.",
                "cierre_cancelado",
            ),
            ("#cambio CHG-0042\n\nLo verá en el comité.", "cierre_cambio"),
        ] {
            let plan = reply(&w, text);
            assert_eq!(to_requester(&plan), [template], "{text:?}");
            assert!(
                plan.effects.iter().any(|e| matches!(e,
                    super::super::Effect::Event { kind: EventKind::TextoNoEnviado, description, .. }
                        if description.contains(text.split("\n\n").nth(1).unwrap()))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn an_answer_under_other_commands_is_sent_with_its_signature() {
        let w = World::new();
        let plan = reply(
            &w,
            "#prioridad alta\n\nAna, mañana a las 9 paso por su oficina.\n\nMiguel Torres\nEspecialista",
        );
        assert_eq!(to_requester(&plan), ["respuesta_agente"]);
        let answer = plan.mails().next().unwrap();
        assert_eq!(
            answer.data["text"],
            "Ana, mañana a las 9 paso por su oficina.\n\nMiguel Torres\nEspecialista"
        );
        let plain = reply(&w, "Listo.");
        assert_eq!(to_requester(&plain), ["respuesta_agente"]);
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
    fn someone_assigned_before_the_request_could_be_worked_is_told_when_it_can() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Ayuda",
            "Necesito ayuda con un equipo\nUbicación: Piso 3",
        );
        let t = super::super::registro::register(w.new_ticket(&mail), &mail, None, &w.ctx()).ticket;
        assert_eq!(t.status, Status::Registrado);
        let agent = |text: &str| incoming("agente1@example.test", "RE", text);
        let plan = on_agent_reply(t, &agent("#asignar especialista@example.test"), &w.ctx());
        assert!(
            plan.mails().all(|m| m.template != "asignacion"),
            "not workable yet"
        );
        let plan = on_agent_reply(plan.ticket, &agent("#servicio IMPRESORA"), &w.ctx());
        assert_eq!(plan.ticket.status, Status::TrabajoEnProgreso);
        let notice = plan
            .mails()
            .find(|m| m.template == "nueva_solicitud")
            .expect("the assignee is told it can be worked");
        assert_eq!(notice.to, ["especialista@example.test"]);
        assert!(
            notice.data["assignee_label"]
                .as_str()
                .is_some_and(|l| l.contains("especialista@example.test")),
            "{notice:?}"
        );
    }

    #[test]
    fn the_service_cannot_change_to_another_approval_while_one_is_under_way() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Acceso VPN",
            "Necesito VPN\nJustificación: teletrabajo\nNúmero de equipo: PC-1\n\
             Fecha de finalización: 2026-12-31\nAprobador: jefe@example.test",
        );
        let t = super::super::registro::register(w.new_ticket(&mail), &mail, None, &w.ctx()).ticket;
        assert_eq!(t.status, Status::PendienteAprobacion);
        let kind = t.approval.as_ref().map(|a| a.kind);
        let plan = on_agent_reply(
            t,
            &incoming("agente1@example.test", "RE", "#servicio IMPRESORA"),
            &w.ctx(),
        );
        assert_eq!(plan.ticket.service.as_deref(), Some("VPN"));
        assert_eq!(plan.ticket.approval.as_ref().map(|a| a.kind), kind);
        let m = plan
            .mails()
            .find(|m| m.template == "comando_invalido")
            .expect("the agent is told why");
        assert!(
            m.data["errors"][0]
                .as_str()
                .is_some_and(|e| e.contains("espera la aprobación")),
            "{m:?}"
        );
    }

    /// `#asignar` alone, as the notices' "Asignármela" button composes it: the sender takes it.
    #[test]
    fn assigning_with_no_one_named_takes_it_for_the_sender() {
        let w = World::new();
        let plan = reply(&w, "#asignar");
        assert_eq!(
            plan.ticket.assignee.as_deref(),
            Some("agente1@example.test")
        );
        assert!(plan.mails().all(|m| m.template != "comando_invalido"));
    }

    #[test]
    fn assigning_to_someone_who_does_not_work_tickets_is_refused_with_the_reason() {
        let w = World::new();
        for (to, why) in [
            ("ana@example.test", "solo se asigna a agentes"),
            ("nadie@example.test", "no está en el directorio"),
            ("redes", "no existe el grupo solucionador"),
        ] {
            let plan = reply(&w, &format!("#asignar {to}"));
            assert_eq!(plan.ticket.assignee, None, "{to}");
            let m = plan
                .mails()
                .find(|m| m.template == "comando_invalido")
                .unwrap();
            assert!(
                m.data["errors"][0].as_str().unwrap().contains(why),
                "{to}: {m:?}"
            );
        }
    }

    #[test]
    fn an_agent_turns_a_request_into_an_incident() {
        let w = World::new();
        let plan = reply(&w, "#incidente dejó de imprimir");
        assert_eq!(plan.ticket.status, Status::Cerrado);
        assert_eq!(plan.ticket.close_reason, Some(CloseReason::Incidente));
        assert!(plan.effects.iter().any(|e| matches!(e,
            super::super::Effect::OpenIncident { reason, .. } if reason == "dejó de imprimir")));
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

    fn vpn_pending(w: &World) -> Ticket {
        let mail = incoming(
            "ana@example.test",
            "Acceso VPN",
            "Necesito VPN.\nJustificación: viaje\nAprobador: jefe@example.test\n",
        );
        super::super::registro::register(w.new_ticket(&mail), &mail, None, &w.ctx()).ticket
    }

    #[test]
    fn no_solution_or_change_while_the_approver_has_not_decided() {
        let w = World::new();
        for cmd in ["#resolver listo", "#cambio CHG-1"] {
            let plan = on_agent_reply(
                vpn_pending(&w),
                &incoming("agente1@example.test", "RE", cmd),
                &w.ctx(),
            );
            assert_eq!(plan.ticket.status, Status::PendienteAprobacion, "{cmd}");
            let m = plan.mails().next().unwrap();
            assert_eq!(m.template, "comando_invalido");
            assert!(m.data["errors"][0]
                .as_str()
                .unwrap()
                .contains("espera aprobación"));
        }
        let closed = on_agent_reply(
            vpn_pending(&w),
            &incoming("agente1@example.test", "RE", "#cerrar duplicado"),
            &w.ctx(),
        );
        assert_eq!(closed.ticket.status, Status::Cerrado);
        assert_eq!(
            closed.ticket.approval.unwrap().status,
            ApprovalStatus::Cancelled
        );
    }

    #[test]
    fn a_panel_command_is_refused_exactly_when_the_mailed_one_is() {
        let w = World::new();
        for (name, arg) in [("resolver", "listo"), ("cambio", "CHG-1")] {
            let mailed = on_agent_reply(
                vpn_pending(&w),
                &incoming("agente1@example.test", "RE", &format!("#{name} {arg}")),
                &w.ctx(),
            );
            let why = mailed.mails().next().unwrap().data["errors"][0]
                .as_str()
                .unwrap()
                .to_owned();
            let cmd = crate::domain::text::command(name, arg);
            let panel = on_command(vpn_pending(&w), &cmd, "agente1@example.test", &w.ctx());
            assert_eq!(panel.err(), Some(why), "{name}");
        }
        let cmd = crate::domain::text::command("resolver", "Instalada.");
        let done = on_command(working_ticket(&w), &cmd, "agente1@example.test", &w.ctx()).unwrap();
        assert_eq!(done.ticket.status, Status::Resuelto);
        assert!(done.effects.iter().any(|e| matches!(e,
            super::super::Effect::Event { kind: EventKind::Resuelto, description, .. } if description.ends_with("(desde el panel)"))));
    }

    #[test]
    fn moving_to_a_service_that_needs_approval_asks_for_it() {
        let w = World::new();
        let t = working_ticket(&w);
        assert_eq!(t.status, Status::TrabajoEnProgreso);
        let mut t = t;
        t.merge_fields([
            ("Justificación", "viaje"),
            ("Aprobador", "jefe@example.test"),
        ]);
        let plan = on_agent_reply(
            t,
            &incoming("agente1@example.test", "RE", "#servicio VPN"),
            &w.ctx(),
        );
        assert_eq!(plan.ticket.status, Status::PendienteAprobacion);
        assert!(plan
            .effects
            .iter()
            .any(|e| matches!(e, super::super::Effect::RequestApproval { .. })));
    }

    #[test]
    fn more_information_on_an_approved_request_does_not_ask_the_approver_again() {
        let w = World::new();
        let t = vpn_pending(&w);
        let approved = super::super::aprobacion::on_answer(
            t,
            "jefe@example.test",
            &crate::domain::text::ApprovalAnswer::Approve {
                reason: String::new(),
            },
            &w.ctx(),
        )
        .ticket;
        let asked = on_agent_reply(
            approved,
            &incoming("agente1@example.test", "RE", "#pendiente ¿Qué equipo?"),
            &w.ctx(),
        )
        .ticket;
        assert_eq!(asked.status, Status::PendientePorUsuario);
        let answered = super::super::verificacion::on_user_information(
            asked,
            &incoming("ana@example.test", "RE", "Equipo PC-0456"),
            None,
            &w.ctx(),
        );
        assert_eq!(answered.ticket.status, Status::TrabajoEnProgreso);
        assert!(!answered
            .effects
            .iter()
            .any(|e| matches!(e, super::super::Effect::RequestApproval { .. })));
    }
}
