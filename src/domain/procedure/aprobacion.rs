//! Activities 9–12 and the approval conditions of section 4: who approves (the requester's
//! immediate boss, named in an `Aprobador:` line and verified against the directory, or the
//! information-security officer), the request by mail with a one-time secret per recipient,
//! the answer (APROBAR / RECHAZAR), deputies, the 24-business-hour target.
//!
//! Whether an answer is genuine (token, sender, Authentication-Results) is checked by the
//! adapter before [`on_answer`] is called; what this module gets is already verified.

use super::{Ctx, MailOut, Plan, Ticket, TimerKind};
use crate::domain::authority::{prove, Evidence, Refusal, Rules, TokenPurpose};
use crate::domain::catalog::{ApprovalKind, Service};
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::domain::text::{canonical_address, ApprovalAnswer};
use crate::domain::ticket::{CloseReason, Status};
use chrono::{DateTime, Utc};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalStatus {
    /// Activity 10–11: no valid approver yet; an agent must choose one (`#aprobador`).
    WaitingForApprover,
    Pending,
    Approved,
    Rejected,
    /// The ticket closed before anyone decided: its tokens died with it.
    Cancelled,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::WaitingForApprover => "esperando_aprobador",
            ApprovalStatus::Pending => "pendiente",
            ApprovalStatus::Approved => "aprobado",
            ApprovalStatus::Rejected => "rechazado",
            ApprovalStatus::Cancelled => "cancelada",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        [
            ApprovalStatus::WaitingForApprover,
            ApprovalStatus::Pending,
            ApprovalStatus::Approved,
            ApprovalStatus::Rejected,
            ApprovalStatus::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub kind: ApprovalKind,
    pub approver: Option<String>,
    pub substitute: Option<String>,
    pub status: ApprovalStatus,
    pub requested_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub unclear_answers: u32,
    pub substitute_notified: bool,
}

impl Approval {
    fn new(kind: ApprovalKind) -> Approval {
        Approval {
            kind,
            approver: None,
            substitute: None,
            status: ApprovalStatus::WaitingForApprover,
            requested_at: None,
            decided_by: None,
            decided_at: None,
            reason: None,
            unclear_answers: 0,
            substitute_notified: false,
        }
    }

    /// Whether `from` may decide: the approver, or the substitute once the request was sent to
    /// them (the approver away, or answering with an out-of-office).
    pub fn may_decide(&self, from: &str) -> bool {
        let from = canonical_address(from);
        let substitute = self
            .substitute
            .as_ref()
            .filter(|_| self.substitute_notified);
        [self.approver.as_ref(), substitute]
            .into_iter()
            .flatten()
            .any(|a| canonical_address(a) == from)
    }

    /// Nobody has decided yet: the approval can still be answered or cancelled.
    pub fn is_open(&self) -> bool {
        matches!(
            self.status,
            ApprovalStatus::WaitingForApprover | ApprovalStatus::Pending
        )
    }
}

/// Activity 10: whether `person` may approve requests of `kind`.
fn eligible(kind: ApprovalKind, email: &str, ctx: &Ctx<'_>) -> Result<(), String> {
    let p = ctx
        .directory
        .person(email)
        .ok_or_else(|| format!("{email} no está en el directorio"))?;
    let ok = match kind {
        ApprovalKind::SeguridadInformacion => {
            p.role == crate::domain::directory::Role::SeguridadInformacion
        }
        _ => p.can_approve_as_boss(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} <{email}> tiene el cargo {}, que no puede aprobar este tipo de solicitud",
            p.name,
            p.position_label()
        ))
    }
}

/// Nobody approves their own request, whatever their position.
fn not_the_requester(t: &Ticket, approver: &str) -> Result<(), String> {
    if canonical_address(approver) == canonical_address(&t.requester) {
        Err(format!(
            "{approver} es quien hace la solicitud y no puede aprobar su propio requerimiento"
        ))
    } else {
        Ok(())
    }
}

/// Activity 9 → 10: find the approver and send the request, or ask an agent to choose.
pub fn start(plan: &mut Plan, s: &Service, ctx: &Ctx<'_>) {
    plan.set_status(Status::PendienteAprobacion, 10, "sistema");
    if ctx.policy.pause_sla_during_approval {
        plan.ticket.sla.pause(ctx.calendar, ctx.now);
    }
    let mut approval = Approval::new(s.approval);
    let chosen: Result<String, String> = match s.approval {
        ApprovalKind::SeguridadInformacion => ctx
            .directory
            .security_officer()
            .map(|p| p.email.clone())
            .ok_or_else(|| "el directorio no tiene oficial de seguridad de la información".into()),
        _ => match plan.ticket.field("aprobador") {
            // The boss the directory knows (LDAP `manager`) when the request names nobody.
            None => ctx
                .directory
                .boss_of(&plan.ticket.requester)
                .map(|p| p.email.clone())
                .ok_or_else(|| "la solicitud no indica el aprobador (línea «Aprobador:»)".into()),
            Some(named) => ctx
                .directory
                .find(named)
                .map(|p| p.email.clone())
                .ok_or_else(|| format!("el aprobador «{named}» no está en el directorio"))
                .and_then(|e| eligible(s.approval, &e, ctx).map(|_| e)),
        },
    }
    .and_then(|e| not_the_requester(&plan.ticket, &e).map(|_| e));
    plan.ticket.approval = Some(approval.clone());
    match chosen {
        Ok(email) => request(plan, &email, "sistema", ctx),
        Err(why) => {
            approval.status = ApprovalStatus::WaitingForApprover;
            plan.ticket.approval = Some(approval);
            plan.event(
                Some(10),
                "sistema",
                EventKind::AprobadorInvalido,
                format!("Aprobador no verificado: {why}"),
            );
            plan.mail(MailOut {
                kind: MailKind::AvisoAgentes,
                template: Template::AprobadorRequerido,
                to: ctx.agents(),
                data: json!({
                    "why": why,
                    // Only the security officer approves these: a boss named here is refused.
                    "security": s.approval == ApprovalKind::SeguridadInformacion,
                }),
                activity: 10,
                description: "Agentes avisados: falta un aprobador válido".into(),
            });
        }
    }
}

/// Activity 11: an agent sets or corrects the approver (`#aprobador correo@…`).
pub fn set_approver(
    plan: &mut Plan,
    email: &str,
    agent: &str,
    ctx: &Ctx<'_>,
) -> Result<(), String> {
    let Some(approval) = plan.ticket.approval.clone() else {
        return Err("#aprobador: este requerimiento no requiere aprobación".into());
    };
    if matches!(
        approval.status,
        ApprovalStatus::Approved | ApprovalStatus::Rejected
    ) {
        return Err("#aprobador: la aprobación ya fue decidida".into());
    }
    eligible(approval.kind, email, ctx)
        .and_then(|_| not_the_requester(&plan.ticket, email))
        .map_err(|e| format!("#aprobador: {e}"))?;
    plan.event(
        Some(11),
        agent,
        EventKind::AprobadorCorregido,
        format!("Aprobador corregido: {email}"),
    );
    request(plan, email, agent, ctx);
    Ok(())
}

/// Activity 10 → 12: the request goes to the approver, and to the substitute too when the
/// approver is away.
fn request(plan: &mut Plan, approver: &str, actor: &str, ctx: &Ctx<'_>) {
    let today = ctx.now.with_timezone(&ctx.calendar.timezone()).date_naive();
    let person = ctx.directory.person(approver);
    let substitute = person
        .and_then(|p| p.substitute.clone())
        .filter(|sub| not_the_requester(&plan.ticket, sub).is_ok());
    let own_substitute = person
        .and_then(|p| p.substitute.as_deref())
        .is_some_and(|sub| not_the_requester(&plan.ticket, sub).is_err());
    let away = person.is_some_and(|p| p.is_away(today));
    let mut recipients = vec![approver.to_owned()];
    if away {
        recipients.extend(substitute.clone());
    }
    if away && own_substitute {
        substitute_is_requester(plan, approver, ctx);
    }
    let a = plan
        .ticket
        .approval
        .get_or_insert_with(|| Approval::new(ApprovalKind::JefeInmediato));
    a.approver = Some(approver.to_owned());
    a.substitute = substitute;
    a.status = ApprovalStatus::Pending;
    a.requested_at = Some(ctx.now);
    a.substitute_notified = away && a.substitute.is_some();
    plan.set_status(Status::PendienteAprobacion, 10, actor);
    plan.event(
        Some(10),
        actor,
        EventKind::AprobacionSolicitada,
        format!(
            "Aprobación solicitada a {}{}",
            recipients.join(" y "),
            if away {
                " (el titular está ausente)"
            } else {
                ""
            }
        ),
    );
    let hours = ctx.policy.approval_target_hours;
    let due = ctx.calendar.add_business_hours(ctx.now, hours);
    // The requester knows whom they wait on and until when (SLA paused meanwhile).
    plan.mail(MailOut {
        kind: MailKind::EsperaAprobacion,
        template: Template::EsperaAprobacion,
        to: vec![plan.ticket.requester.clone()],
        data: json!({
            "approver": approver,
            "substitute": recipients.get(1),
            "approval_due": ctx.display(due),
            "sla_paused": ctx.policy.pause_sla_during_approval,
        }),
        activity: 10,
        description: "Solicitante informado: la solicitud espera aprobación".into(),
    });
    plan.effects.push(super::Effect::RequestApproval {
        recipients,
        reminder: false,
    });
    plan.timer(
        TimerKind::ApprovalReminder,
        ctx.calendar.add_business_hours(ctx.now, hours / 2.0),
    );
    plan.timer(
        TimerKind::ApprovalOverdue,
        ctx.calendar.add_business_hours(ctx.now, hours),
    );
}

/// The away approver's substitute is the requester: the copy meant for the substitute goes to
/// the agents, who find someone else (`#aprobador`).
fn substitute_is_requester(plan: &mut Plan, approver: &str, ctx: &Ctx<'_>) {
    let why = format!(
        "{} está ausente y su suplente es quien hace la solicitud, que no puede aprobar su \
         propio requerimiento",
        ctx.directory.label(approver)
    );
    plan.event(
        Some(10),
        "sistema",
        EventKind::SuplenteEsSolicitante,
        why.clone(),
    );
    plan.mail(MailOut {
        kind: MailKind::AvisoAgentes,
        template: Template::AprobadorRequerido,
        to: ctx.agents(),
        data: json!({ "why": why }),
        activity: 10,
        description: "Agentes avisados: el suplente del aprobador es el solicitante".into(),
    });
}

/// Activity 12 as it reaches us: an answer by mail (or panel) from `from`, with what proves
/// them. Every rule about who may decide lives here; [`on_answer`] records the decision.
pub fn on_answer_mail(
    t: Ticket,
    from: &str,
    evidence: &Evidence,
    answer: &ApprovalAnswer,
    rules: Rules,
    ctx: &Ctx<'_>,
) -> Plan {
    let mut plan = decide(t, from, evidence, answer, rules, ctx);
    if evidence.session.is_some() {
        // Signed in to the panel, the person reads why on the page itself; a mail saying "a
        // message in your name could not be verified" would be wrong there.
        plan.effects.retain(|e| {
            !matches!(e, super::Effect::Mail(m)
                if m.kind == MailKind::AccionNoVerificada || m.kind == MailKind::RespuestaSinEfecto)
        });
    }
    plan
}

fn decide(
    t: Ticket,
    from: &str,
    evidence: &Evidence,
    answer: &ApprovalAnswer,
    rules: Rules,
    ctx: &Ctx<'_>,
) -> Plan {
    let Some(a) = t.approval.clone() else {
        return answer_without_effect(t, from, "este requerimiento no requiere aprobación", ctx);
    };
    if matches!(t.status, Status::Cerrado | Status::Resuelto) || !a.is_open() {
        let why = match (t.status, a.status) {
            (Status::Cerrado, _) => "el requerimiento ya está cerrado",
            (Status::Resuelto, _) => "el requerimiento ya fue resuelto",
            (_, ApprovalStatus::Approved) => "la solicitud ya fue aprobada",
            (_, ApprovalStatus::Rejected) => "la solicitud ya fue rechazada",
            _ => "la aprobación ya no está pendiente",
        };
        return answer_without_effect(t, from, why, ctx);
    }
    if a.status == ApprovalStatus::WaitingForApprover {
        return answer_without_effect(
            t,
            from,
            "la mesa de ayuda aún no ha solicitado la aprobación a un aprobador verificado",
            ctx,
        );
    }
    if not_the_requester(&t, from).is_err() {
        return not_allowed(t, from, ATTEMPT, "nadie puede aprobar su propia solicitud");
    }
    if !a.may_decide(from) {
        return not_allowed(
            t,
            from,
            ATTEMPT,
            "usted no es el aprobador de esta solicitud ni su suplente designado",
        );
    }
    let token_ok = match &evidence.token {
        Some(tok) if tok.purpose != TokenPurpose::Approval => Err(Refusal(
            "la respuesta no usa el correo de solicitud de aprobación".into(),
        )),
        Some(tok) if tok.spent => Err(Refusal(
            "el código de aprobación de ese correo ya fue usado o anulado".into(),
        )),
        // No token: a mail answering without it, or a panel session (`evidence.session`),
        // which `prove` accepts for the person it was started by and nobody else.
        _ => prove(from, t.number, evidence, rules),
    };
    if let Err(why) = token_ok {
        return refused(t, from, ATTEMPT, &why.0, ctx);
    }
    let mut plan = on_answer(t, from, answer, ctx);
    if evidence.session.is_some() {
        // The audit trail says which channel decided: the mail and the panel prove differently.
        for e in &mut plan.effects {
            if let super::Effect::Event {
                kind: EventKind::Aprobado | EventKind::Rechazado,
                description,
                ..
            } = e
            {
                description.push_str(" (desde el panel)");
            }
        }
    }
    if let Some(decided) = plan
        .ticket
        .approval
        .as_ref()
        .filter(|a| a.decided_by.is_some())
    {
        let approved = decided.status == ApprovalStatus::Approved;
        plan.effects.push(super::Effect::SpendApprovalTokens);
        plan.mail(MailOut {
            kind: MailKind::DecisionRegistrada,
            template: Template::DecisionRegistrada,
            to: vec![from.to_owned()],
            data: json!({
                "approved": approved,
                "reason": decided.reason,
            }),
            activity: 12,
            description: "Aprobador informado de la decisión registrada".into(),
        });
    }
    plan
}

const ATTEMPT: &str = "responder una solicitud de aprobación";

/// An answer that came too late or too early: nothing changes, and whoever answered (the
/// address in From, which a forger does not read) learns why and what to do.
fn answer_without_effect(t: Ticket, from: &str, why: &str, _ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    plan.event(
        Some(12),
        from,
        EventKind::RespuestaSinEfecto,
        format!("Respuesta de aprobación sin efecto: {why}"),
    );
    plan.mail(MailOut {
        kind: MailKind::RespuestaSinEfecto,
        template: Template::RespuestaSinEfecto,
        to: vec![from.to_owned()],
        data: json!({ "why": why }),
        activity: 12,
        description: "Aprobador informado: su respuesta no tuvo efecto".into(),
    });
    plan
}

/// Whether a mail of `kind` to `person` about `t` is answered with a decision: what we tell a
/// pending approver about their answer ("no entendida", "sin efecto", "no pudimos verificar")
/// asks them to answer again, and that answer must count as the approval request's would. Its
/// reply code is then an approval code, bound to them like the request's and spent with them.
pub fn answered_with_a_decision(t: &Ticket, kind: MailKind, person: &str) -> bool {
    let about_their_answer = matches!(
        kind,
        MailKind::RespuestaNoEntendida
            | MailKind::RespuestaSinEfecto
            | MailKind::AccionNoVerificada
            | MailKind::AprobacionInvalida
    );
    about_their_answer
        && t.approval
            .as_ref()
            .is_some_and(|a| a.status == ApprovalStatus::Pending && a.may_decide(person))
}

/// Whether `from` has a part in the ticket — its requester, its approver or their substitute,
/// or help-desk staff — and so may be told about it (a refused answer, an invalid code).
/// Anyone else who names a ticket learns nothing from us about it, not even its subject.
pub fn has_a_part_in(t: &Ticket, from: &str, ctx: &Ctx<'_>) -> bool {
    let from_c = canonical_address(from);
    canonical_address(&t.requester) == from_c
        || t.approval.as_ref().is_some_and(|a| {
            [a.approver.as_ref(), a.substitute.as_ref()]
                .into_iter()
                .flatten()
                .any(|x| canonical_address(x) == from_c)
        })
        || super::tramite::is_agent(from, ctx)
}

/// A staff action that could not be verified changes nothing: it is recorded, and the person
/// named in From is told (so a forgery in their name does not go unnoticed).
pub fn refused(t: Ticket, from: &str, attempted: &str, why: &str, _ctx: &Ctx<'_>) -> Plan {
    refusal(t, from, attempted, why, false)
}

/// [`refused`] for someone the procedure does not let decide (the requester approving their
/// own request, someone who is not the approver): proving the message would change nothing,
/// so the mail does not ask them to send it again the proven way.
fn not_allowed(t: Ticket, from: &str, attempted: &str, why: &str) -> Plan {
    refusal(t, from, attempted, why, true)
}

fn refusal(t: Ticket, from: &str, attempted: &str, why: &str, not_allowed: bool) -> Plan {
    let mut plan = Plan::new(t);
    plan.event(
        None,
        from,
        EventKind::AccionRechazada,
        format!("Acción rechazada ({attempted}): {why}"),
    );
    plan.mail(MailOut {
        kind: MailKind::AccionNoVerificada,
        template: Template::AccionNoVerificada,
        to: vec![from.to_owned()],
        data: json!({ "attempted": attempted, "why": why, "not_allowed": not_allowed }),
        activity: 13,
        description: "Aviso de mensaje no verificado enviado a la persona nombrada".into(),
    });
    plan
}

/// How many unclear answers to one approval are each told they decided nothing.
const UNCLEAR_ANSWERS_EXPLAINED: u32 = 3;

/// Activity 12: a verified answer from the approver or substitute.
pub fn on_answer(t: Ticket, from: &str, answer: &ApprovalAnswer, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    let Some(mut a) = plan.ticket.approval.clone() else {
        return plan;
    };
    if a.status != ApprovalStatus::Pending {
        plan.event(
            Some(12),
            from,
            EventKind::RespuestaTardia,
            "Respuesta de aprobación tras la decisión: sin efecto",
        );
        return plan;
    }
    match answer {
        ApprovalAnswer::Unclear => {
            a.unclear_answers += 1;
            let explained = a.unclear_answers <= UNCLEAR_ANSWERS_EXPLAINED;
            plan.ticket.approval = Some(a);
            plan.event(
                Some(12),
                from,
                EventKind::RespuestaNoEntendida,
                "Respuesta del aprobador no entendida",
            );
            // An approver who answers unclearly again is told again (else they believe they
            // decided), but a robot answering our answer must not start a loop: a few times.
            if explained {
                plan.mail(MailOut {
                    kind: MailKind::RespuestaNoEntendida,
                    template: Template::RespuestaNoEntendida,
                    to: vec![from.to_owned()],
                    data: json!({}),
                    activity: 12,
                    description: "Aprobador avisado: respuesta no entendida".into(),
                });
            }
            return plan;
        }
        ApprovalAnswer::Approve { reason } | ApprovalAnswer::Reject { reason } => {
            a.decided_by = Some(canonical_address(from));
            a.decided_at = Some(ctx.now);
            a.reason = Some(reason.clone()).filter(|r| !r.is_empty());
        }
    }
    plan.clear_timer(TimerKind::ApprovalReminder);
    plan.clear_timer(TimerKind::ApprovalOverdue);
    if let ApprovalAnswer::Approve { .. } = answer {
        a.status = ApprovalStatus::Approved;
        plan.ticket.approval = Some(a);
        plan.event(
            Some(12),
            from,
            EventKind::Aprobado,
            format!("Aprobado por {from}"),
        );
        plan.ticket.sla.resume(ctx.calendar, ctx.now);
        plan.set_status(Status::TrabajoEnProgreso, 13, from);
        plan.mail(MailOut {
            kind: MailKind::Aprobado,
            template: Template::Aprobado,
            to: vec![plan.ticket.requester.clone()],
            data: json!({ "approver": from }),
            activity: 12,
            description: "Solicitante informado de la aprobación".into(),
        });
        let by = ctx.directory.name_or(from, from);
        super::tramite::new_work_notice(&mut plan, &format!("Aprobada por {by}"), ctx);
    } else {
        a.status = ApprovalStatus::Rejected;
        let reason = a.reason.clone().unwrap_or_default();
        plan.ticket.approval = Some(a);
        plan.event(
            Some(12),
            from,
            EventKind::Rechazado,
            format!("Rechazado por {from}: {reason}"),
        );
        plan.close(CloseReason::Rechazado, 8, from, ctx);
        plan.mail(MailOut {
            kind: MailKind::Cierre,
            template: Template::Rechazado,
            to: vec![plan.ticket.requester.clone()],
            data: json!({ "approver": from, "reason": reason }),
            activity: 8,
            description: "Solicitante informado del rechazo y su motivo".into(),
        });
    }
    plan
}

/// The approver's out-of-office answered the request: the substitute gets it too. Only an
/// answer to the approval code mailed to that approver counts: anyone can write the approver's
/// address in From and mark a mail automatic, and the substitute would then decide while the
/// approver is at work.
/// The proof is the one a decision needs ([`prove`] under `rules`), with a live approval code.
pub fn on_out_of_office(
    t: Ticket,
    from: &str,
    evidence: &Evidence,
    rules: Rules,
    ctx: &Ctx<'_>,
) -> Plan {
    let mut plan = Plan::new(t);
    let Some(mut a) = plan.ticket.approval.clone() else {
        return plan;
    };
    let answers_their_code = evidence
        .token
        .as_ref()
        .is_some_and(|tok| tok.purpose == TokenPurpose::Approval && !tok.spent)
        && prove(from, plan.ticket.number, evidence, rules).is_ok();
    let from_approver = answers_their_code
        && a.approver
            .as_deref()
            .is_some_and(|ap| canonical_address(ap) == canonical_address(from));
    if a.status != ApprovalStatus::Pending || !from_approver || a.substitute_notified {
        return plan;
    }
    let Some(sub) = a.substitute.clone() else {
        let own = ctx
            .directory
            .person(from)
            .and_then(|p| p.substitute.as_deref())
            .is_some_and(|sub| not_the_requester(&plan.ticket, sub).is_err());
        if own {
            a.substitute_notified = true;
            plan.ticket.approval = Some(a);
            substitute_is_requester(&mut plan, from, ctx);
            return plan;
        }
        plan.event(
            Some(10),
            from,
            EventKind::AprobadorAusente,
            "El aprobador está ausente y no tiene suplente",
        );
        return plan;
    };
    a.substitute_notified = true;
    plan.ticket.approval = Some(a);
    plan.event(
        Some(10),
        from,
        EventKind::Suplente,
        format!("El aprobador respondió fuera de oficina; se envía al suplente {sub}"),
    );
    plan.effects.push(super::Effect::RequestApproval {
        recipients: vec![sub],
        reminder: false,
    });
    plan
}

fn pending_recipients(t: &Ticket) -> Vec<String> {
    t.approval
        .as_ref()
        .filter(|a| a.status == ApprovalStatus::Pending)
        .map(|a| {
            let mut v: Vec<String> = a.approver.iter().cloned().collect();
            if a.substitute_notified {
                v.extend(a.substitute.iter().cloned());
            }
            v
        })
        .unwrap_or_default()
}

/// Half the approval target has passed: the request is sent again as a reminder (with fresh
/// tokens, so answering the reminder works like answering the original).
pub fn on_reminder(t: Ticket, _ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    let recipients = pending_recipients(&plan.ticket);
    if recipients.is_empty() {
        return plan;
    }
    plan.event(
        Some(12),
        "sistema",
        EventKind::Recordatorio,
        "Recordatorio de aprobación enviado",
    );
    plan.effects.push(super::Effect::RequestApproval {
        recipients,
        reminder: true,
    });
    plan
}

/// The approval target has passed: agents and the coordinator are told.
pub fn on_overdue(t: Ticket, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    if pending_recipients(&plan.ticket).is_empty() {
        return plan;
    }
    let mut to = ctx.agents();
    let coordinator = ctx
        .directory
        .with_role(crate::domain::directory::Role::Coordinador)
        .first()
        .map(|p| p.email.clone())
        .or_else(|| ctx.policy.coordinator.clone());
    to.extend(coordinator);
    plan.event(
        Some(12),
        "sistema",
        EventKind::AprobacionVencida,
        "La aprobación superó el tiempo establecido",
    );
    plan.mail(MailOut {
        kind: MailKind::AvisoAgentes,
        template: Template::AprobacionVencida,
        to,
        data: json!({
            "hours": crate::domain::es_co::decimal(ctx.policy.approval_target_hours, 1),
            "approver": plan.ticket.approval.as_ref().and_then(|a| a.approver.clone()),
        }),
        activity: 12,
        description: "Aviso de aprobación vencida a agentes y coordinador".into(),
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::registro::register;
    use super::super::Effect;
    use super::*;

    fn vpn(w: &World, aprobador: &str) -> Plan {
        let mail = incoming(
            "ana@example.test",
            "Acceso VPN",
            &format!(
                "Necesito VPN.\nJustificación: teletrabajo aprobado\nAprobador: {aprobador}\n"
            ),
        );
        register(w.new_ticket(&mail), &mail, None, &w.ctx())
    }

    fn requested(plan: &Plan) -> Vec<String> {
        plan.effects
            .iter()
            .filter_map(|e| match e {
                Effect::RequestApproval { recipients, .. } => Some(recipients.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn an_eligible_boss_named_by_the_requester_is_asked() {
        let w = World::new();
        let plan = vpn(&w, "jefe@example.test");
        assert_eq!(plan.ticket.status, Status::PendienteAprobacion);
        assert_eq!(requested(&plan), vec!["jefe@example.test"]);
        let a = plan.ticket.approval.clone().unwrap();
        assert_eq!(a.status, ApprovalStatus::Pending);
        assert_eq!(a.substitute.as_deref(), Some("suplente@example.test"));
        assert!(plan.ticket.sla.is_paused());
        // The requester is told whom they wait on, and until when.
        let told = plan
            .mails()
            .find(|m| m.template == "espera_aprobacion")
            .expect("requester told");
        assert_eq!(told.to, ["ana@example.test"]);
        assert_eq!(told.data["approver"], "jefe@example.test");
        assert!(told.data["substitute"].is_null(), "the approver is present");
        assert_eq!(
            told.data["approval_due"],
            "miércoles 25 de noviembre de 2026, 3:00 p. m."
        );
    }

    #[test]
    fn an_ineligible_approver_waits_for_an_agent_who_corrects_it() {
        let w = World::new();
        let plan = vpn(&w, "agente1@example.test");
        assert_eq!(
            plan.ticket.approval.as_ref().unwrap().status,
            ApprovalStatus::WaitingForApprover
        );
        assert!(requested(&plan).is_empty());
        assert!(plan.mails().any(|m| m.template == "aprobador_requerido"));
        let mut fix = Plan::new(plan.ticket);
        assert!(set_approver(
            &mut fix,
            "ana@example.test",
            "agente1@example.test",
            &w.ctx()
        )
        .is_err());
        set_approver(
            &mut fix,
            "director@example.test",
            "agente1@example.test",
            &w.ctx(),
        )
        .unwrap();
        assert_eq!(requested(&fix), vec!["director@example.test"]);
    }

    #[test]
    fn approve_resumes_work_and_reject_closes_with_the_reason() {
        let w = World::new();
        let t = vpn(&w, "jefe@example.test").ticket;
        let ok = on_answer(
            t.clone(),
            "suplente@example.test",
            &ApprovalAnswer::Approve {
                reason: String::new(),
            },
            &w.ctx(),
        );
        assert_eq!(ok.ticket.status, Status::TrabajoEnProgreso);
        assert!(!ok.ticket.sla.is_paused());
        let no = on_answer(
            t,
            "jefe@example.test",
            &ApprovalAnswer::Reject {
                reason: "no procede".into(),
            },
            &w.ctx(),
        );
        assert_eq!(no.ticket.close_reason, Some(CloseReason::Rechazado));
        assert_eq!(no.mails().next().unwrap().data["reason"], "no procede");
        let late = on_answer(
            no.ticket,
            "jefe@example.test",
            &ApprovalAnswer::Approve {
                reason: String::new(),
            },
            &w.ctx(),
        );
        assert_eq!(late.ticket.status, Status::Cerrado);
    }

    #[test]
    fn security_requests_go_to_the_security_officer() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Cambio de contraseña",
            "Justificación: vacaciones",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert_eq!(requested(&plan), vec!["seguridad@example.test"]);
    }

    #[test]
    fn unclear_answers_are_explained_three_times_at_most() {
        let w = World::new();
        let mut t = vpn(&w, "jefe@example.test").ticket;
        let mut told = Vec::new();
        for _ in 0..5 {
            let p = on_answer(t, "jefe@example.test", &ApprovalAnswer::Unclear, &w.ctx());
            told.push(p.mails().count());
            t = p.ticket;
        }
        assert_eq!(told, vec![1, 1, 1, 0, 0]);
    }

    #[test]
    fn only_the_approvers_own_out_of_office_hands_the_request_to_the_substitute() {
        let w = World::new();
        let t = vpn(&w, "jefe@example.test").ticket;
        // A code mailed to someone else (a former approver, a forwarded mail) under an
        // automatic mail in the approver's name proves nothing of the approver.
        let other = approval_token(&t, "antiguo.jefe@example.test");
        let rules = Rules::default();
        let plan = on_out_of_office(t.clone(), "jefe@example.test", &other, rules, &w.ctx());
        assert!(requested(&plan).is_empty());
        assert!(!plan.ticket.approval.as_ref().unwrap().substitute_notified);
        let own = approval_token(&t, "jefe@example.test");
        let plan = on_out_of_office(t, "jefe@example.test", &own, rules, &w.ctx());
        assert_eq!(requested(&plan), vec!["suplente@example.test"]);
    }

    fn approval_token(ticket: &Ticket, to: &str) -> Evidence {
        Evidence {
            token: Some(crate::domain::authority::IssuedToken {
                ticket: ticket.number,
                recipient: to.into(),
                purpose: TokenPurpose::Approval,
                spent: false,
            }),
            ..Default::default()
        }
    }

    fn approve() -> ApprovalAnswer {
        ApprovalAnswer::Approve {
            reason: String::new(),
        }
    }

    fn refusals(plan: &Plan) -> usize {
        plan.effects
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Effect::Event {
                        kind: EventKind::AccionRechazada,
                        ..
                    }
                )
            })
            .count()
    }

    #[test]
    fn a_token_works_only_for_the_person_it_was_sent_to() {
        let w = World::new();
        let t = vpn(&w, "jefe@example.test").ticket;
        let rules = Rules::default();
        // The substitute holding the approver's token, while the approver is present.
        let forged = on_answer_mail(
            t.clone(),
            "suplente@example.test",
            &approval_token(&t, "jefe@example.test"),
            &approve(),
            rules,
            &w.ctx(),
        );
        assert_eq!(forged.ticket.status, Status::PendienteAprobacion);
        assert_eq!(refusals(&forged), 1);
        let warned: Vec<_> = forged
            .mails()
            .map(|m| (m.template.as_str(), m.to[0].as_str()))
            .collect();
        assert_eq!(
            warned,
            vec![("accion_no_verificada", "suplente@example.test")]
        );
        let real = on_answer_mail(
            t.clone(),
            "jefe@example.test",
            &approval_token(&t, "jefe@example.test"),
            &approve(),
            rules,
            &w.ctx(),
        );
        assert_eq!(real.ticket.status, Status::TrabajoEnProgreso);
        assert!(real.effects.contains(&Effect::SpendApprovalTokens));
        let to: Vec<_> = real.mails().map(|m| m.template.as_str()).collect();
        assert!(to.contains(&"decision_registrada"), "{to:?}");
        assert!(to.contains(&"nueva_solicitud"), "{to:?}");
    }

    fn panel_session(who: &str) -> Evidence {
        Evidence {
            session: Some(who.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_panel_session_decides_for_its_approver_only_and_says_so() {
        let w = World::new();
        let t = vpn(&w, "jefe@example.test").ticket;
        let strict = Rules {
            require_header_authentication: true,
        };
        let requester = on_answer_mail(
            t.clone(),
            "ana@example.test",
            &panel_session("ana@example.test"),
            &approve(),
            strict,
            &w.ctx(),
        );
        assert_eq!(requester.ticket.status, Status::PendienteAprobacion);
        assert_eq!(refusals(&requester), 1);
        let approver = on_answer_mail(
            t,
            "jefe@example.test",
            &panel_session("jefe@example.test"),
            &approve(),
            strict,
            &w.ctx(),
        );
        assert_eq!(approver.ticket.status, Status::TrabajoEnProgreso);
        assert!(approver.effects.iter().any(|e| matches!(
            e,
            Effect::Event { kind: EventKind::Aprobado, description, .. } if description.ends_with("(desde el panel)")
        )));
    }

    #[test]
    fn the_requester_never_approves_their_own_request() {
        let w = World::new();
        let mail = incoming(
            "jefe@example.test",
            "Acceso VPN",
            "Necesito VPN.\nJustificación: viaje\nAprobador: jefe@example.test\n",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        let a = plan.ticket.approval.as_ref().unwrap();
        assert_eq!(a.status, ApprovalStatus::WaitingForApprover);
        assert!(requested(&plan).is_empty());
        assert!(plan.mails().any(|m| m.template == "aprobador_requerido"));
        let mut fix = Plan::new(plan.ticket);
        assert!(set_approver(
            &mut fix,
            "jefe@example.test",
            "agente1@example.test",
            &w.ctx()
        )
        .is_err());
    }

    #[test]
    fn an_away_approvers_substitute_who_is_the_requester_is_replaced_by_the_agents() {
        let mut w = World::new();
        w.set_away("jefe@example.test");
        let mail = incoming(
            "suplente@example.test",
            "Acceso VPN",
            "Necesito VPN.\nJustificación: viaje\nAprobador: jefe@example.test\n",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert_eq!(requested(&plan), vec!["jefe@example.test"]);
        assert!(plan
            .mails()
            .any(|m| m.template == "aprobador_requerido" && m.to == w.ctx().agents()));
    }

    #[test]
    fn answers_on_closed_or_decided_requests_change_nothing_and_say_why() {
        let w = World::new();
        let t = vpn(&w, "jefe@example.test").ticket;
        let ev = approval_token(&t, "jefe@example.test");
        let no = on_answer_mail(
            t.clone(),
            "jefe@example.test",
            &ev,
            &ApprovalAnswer::Reject {
                reason: "no".into(),
            },
            Rules::default(),
            &w.ctx(),
        );
        assert_eq!(no.ticket.status, Status::Cerrado);
        let late = on_answer_mail(
            no.ticket,
            "jefe@example.test",
            &ev,
            &approve(),
            Rules::default(),
            &w.ctx(),
        );
        assert_eq!(late.ticket.status, Status::Cerrado);
        assert_eq!(
            late.mails().next().unwrap().template,
            "respuesta_sin_efecto"
        );
    }

    #[test]
    fn closing_cancels_a_pending_approval() {
        let w = World::new();
        let t = vpn(&w, "jefe@example.test").ticket;
        let mut plan = Plan::new(t);
        plan.close(CloseReason::Cancelado, 16, "agente1@example.test", &w.ctx());
        assert_eq!(
            plan.ticket.approval.as_ref().unwrap().status,
            ApprovalStatus::Cancelled
        );
        assert!(plan.effects.contains(&Effect::SpendApprovalTokens));
    }
}
