//! Activities 1–3: receive the request (mail, or an agent registering a phone call), tell a
//! request from an incident, register it with its number, and categorise it from the catalogue.

use super::{verificacion, Ctx, Incoming, MailOut, Plan, Ticket};
use crate::domain::catalog::Service;
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::domain::text::{
    fold, fold_eq, is_catalog_request, parse_commands, read_fields, Command,
};
use crate::domain::ticket::TicketNumber;
use serde_json::json;

/// What a mail that threads onto no ticket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewMail {
    /// Subject "catálogo": answered with the catalogue, no ticket.
    CatalogRequest,
    /// Activity 2: an incident goes to the incident procedure.
    Incident,
    /// A service request; `requester` differs from the sender when an agent registers a
    /// request taken by phone (`#solicitante correo@…` as the first line).
    Request {
        requester: String,
        on_behalf_of_by: Option<String>,
    },
}

/// Activity 1–2: receive and validate. `answers` is the closed request a reply came to: such
/// a reply is a new request that refers to it, never an incident.
pub fn classify(mail: &Incoming, answers: Option<TicketNumber>, ctx: &Ctx<'_>) -> NewMail {
    if is_catalog_request(&mail.subject) {
        return NewMail::CatalogRequest;
    }
    if ctx
        .directory
        .person(&mail.from)
        .is_some_and(|p| p.works_tickets())
    {
        let parsed = parse_commands(&mail.text);
        if let Some(Command::Requester { email }) = parsed.commands.first() {
            return NewMail::Request {
                requester: email.clone(),
                on_behalf_of_by: Some(mail.from.clone()),
            };
        }
    }
    // The patterns are a hint for mail that says nothing else: a `Servicio:` line or a
    // catalogue keyword ("…buzón lleno… Solicito ampliar el tamaño de mi buzón") makes it a
    // request, and an agent can still turn it into an incident (`#incidente`).
    let explicit_service = read_fields(&mail.text).get("servicio").is_some();
    let catalogued = ctx.catalog.recognise(&mail.subject, &mail.text).is_some();
    let folded = fold(&format!("{}\n{}", mail.subject, mail.text));
    if !explicit_service
        && !catalogued
        && answers.is_none()
        && ctx
            .policy
            .incident_patterns
            .iter()
            .any(|r| r.is_match(&folded))
    {
        return NewMail::Incident;
    }
    NewMail::Request {
        requester: mail.from.clone(),
        on_behalf_of_by: None,
    }
}

/// The text that carries the request: for a phone request, what follows the agent's command.
pub fn request_text(mail: &Incoming, on_behalf: bool) -> String {
    if on_behalf {
        parse_commands(&mail.text).rest
    } else {
        mail.text.clone()
    }
}

/// Activities 1 and 3: a freshly inserted ticket is registered, acknowledged and categorised,
/// then verified (activity 4) when its service is known.
pub fn register(
    ticket: Ticket,
    mail: &Incoming,
    on_behalf_by: Option<&str>,
    ctx: &Ctx<'_>,
) -> Plan {
    let mut plan = Plan::new(ticket);
    let text = request_text(mail, on_behalf_by.is_some());
    let channel = match on_behalf_by {
        Some(agent) => format!("Solicitud recibida por línea telefónica, registrada por {agent}"),
        None => "Solicitud recibida por correo electrónico".to_owned(),
    };
    let actor = plan.ticket.requester.clone();
    plan.event(Some(1), &actor, EventKind::SolicitudRecibida, channel);
    plan.event(
        Some(2),
        "sistema",
        EventKind::Validada,
        "Validada como requerimiento de servicio TIC",
    );
    registered(plan, mail, &text, None, "sistema", json!({}), ctx)
}

/// Activity 2 decided the other way by an agent (`#requerimiento [SERVICIO]`): incident
/// `incident` is a service request. A freshly inserted ticket carries it on from activity 3 —
/// registered, categorised (with `service` when the agent named one, else as any request) and
/// verified — and its acknowledgement tells the reporter the incident continues as this request.
/// `mail` is the incident's report.
pub fn from_incident(
    ticket: Ticket,
    mail: &Incoming,
    incident: &str,
    service: Option<&Service>,
    agent: &str,
    ctx: &Ctx<'_>,
) -> Plan {
    let mut plan = Plan::new(ticket);
    let actor = plan.ticket.requester.clone();
    plan.event(
        Some(1),
        &actor,
        EventKind::SolicitudRecibida,
        format!("Reportado por correo como el incidente {incident}"),
    );
    plan.event(
        Some(2),
        agent,
        EventKind::Validada,
        format!("Validado como requerimiento de servicio TIC: continúa el incidente {incident}"),
    );
    let ack = json!({ "from_incident": incident });
    registered(plan, mail, &mail.text, service, agent, ack, ctx)
}

/// Activity 3 onwards: fields, number, acknowledgement (`ack` adds to its data), category from
/// `service` (else the `Servicio:` field or the catalogue's keywords, categorised by `actor`),
/// then verification.
fn registered(
    mut plan: Plan,
    mail: &Incoming,
    text: &str,
    service: Option<&Service>,
    actor: &str,
    ack: serde_json::Value,
    ctx: &Ctx<'_>,
) -> Plan {
    let fields = read_fields(text);
    plan.ticket
        .merge_fields(fields.iter().map(|f| (f.name.as_str(), f.value.as_str())));
    plan.ticket.attachments = mail.attachments;
    let n = plan.ticket.number;
    plan.event(
        Some(3),
        "sistema",
        EventKind::Registrado,
        format!("Requerimiento registrado con el número {n}"),
    );
    plan.mail(MailOut {
        kind: MailKind::Acuse,
        template: Template::AcuseRecibo,
        to: vec![plan.ticket.requester.clone()],
        data: ack,
        activity: 3,
        description: "Acuse de recibo enviado al solicitante".into(),
    });
    let (service, by) = match service {
        Some(s) => (Some(s), actor),
        None => (
            plan.ticket
                .field("servicio")
                .and_then(|s| ctx.catalog.by_code_or_name(s))
                .or_else(|| ctx.catalog.recognise(&mail.subject, text)),
            "sistema",
        ),
    };
    match service {
        Some(s) => {
            categorise(&mut plan, s, by, ctx);
            verificacion::verify(&mut plan, s, ctx);
        }
        None => {
            plan.ticket.sla =
                crate::domain::sla::SlaClock::start(ctx.now, ctx.target_secs(None, None));
            plan.event(
                Some(3),
                "sistema",
                EventKind::SinCategoria,
                "No se reconoció el servicio del catálogo; un agente debe categorizarlo",
            );
            plan.mail(MailOut {
                kind: MailKind::AvisoAgentes,
                template: Template::SinCategoria,
                to: ctx.agents(),
                data: json!({ "request_text": text }),
                activity: 3,
                description: "Agentes avisados: requerimiento sin categorizar".into(),
            });
        }
    }
    acknowledge_target(&mut plan, ctx);
    plan
}

/// The acknowledgement states the target and due time the request ended up with once
/// categorised and verified (none while the clock waits on the user or an approver).
fn acknowledge_target(plan: &mut Plan, ctx: &Ctx<'_>) {
    let summary = ctx.sla_summary(&plan.ticket);
    for e in &mut plan.effects {
        if let super::Effect::Mail(m) = e {
            if m.template == Template::AcuseRecibo {
                if let (Some(data), Some(extra)) = (m.data.as_object_mut(), summary.as_object()) {
                    data.extend(extra.clone());
                }
            }
        }
    }
}

/// Activity 3: category, priority and SLA target come from the catalogue entry.
pub fn categorise(plan: &mut Plan, s: &Service, actor: &str, ctx: &Ctx<'_>) {
    let t = &mut plan.ticket;
    t.service = Some(s.code.clone());
    t.category = Some(s.category.clone());
    t.priority = Some(s.priority);
    let target = ctx.target_secs(Some(s), Some(s.priority));
    if t.sla.target_secs == 0 && t.sla.running_since.is_none() && t.sla.used_secs == 0 {
        t.sla = crate::domain::sla::SlaClock::start(ctx.now, target);
    } else {
        t.sla.set_target(target);
    }
    plan.event(
        Some(3),
        actor,
        EventKind::Categorizado,
        format!(
            "Categorizado: {} ({}), categoría {}, prioridad {}",
            s.name,
            s.code,
            s.category,
            s.priority.as_str()
        ),
    );
}

/// The reply to a "catálogo" mail: every service with its fields, ready to copy.
pub fn catalog_listing(ctx: &Ctx<'_>, requester: &str) -> serde_json::Value {
    use crate::domain::catalog::ApprovalKind;
    use verificacion::APPROVER_FIELD;
    let officer = ctx.directory.security_officer().map(|p| p.label());
    let services: Vec<_> = ctx
        .catalog
        .services()
        .iter()
        .map(|s| {
            // The lines to copy: the boss-approved services need `Aprobador:` too, as the
            // verification asks for it (verificacion::missing).
            let mut fields = s.required_fields.clone();
            let boss = s.approval == ApprovalKind::JefeInmediato;
            if boss && !fields.iter().any(|f| fold_eq(f, APPROVER_FIELD)) {
                fields.push(APPROVER_FIELD.to_owned());
            }
            json!({
                "code": s.code,
                "name": s.name,
                "category": s.category,
                "approval": match s.approval {
                    ApprovalKind::None => "no requiere aprobación",
                    ApprovalKind::JefeInmediato => "requiere aprobación del jefe inmediato",
                    ApprovalKind::SeguridadInformacion => "requiere aprobación de seguridad de la información",
                },
                "needs_approver_line": boss,
                "approved_by": match s.approval {
                    ApprovalKind::None => None,
                    ApprovalKind::JefeInmediato => Some("su jefe inmediato (ver la lista al final)".to_owned()),
                    ApprovalKind::SeguridadInformacion => Some(officer.clone().unwrap_or_else(|| {
                        "el oficial de seguridad de la información".to_owned()
                    })),
                },
                "sla_target": format!(
                    "{} hábiles",
                    crate::domain::es_co::hours(ctx.target_secs(Some(s), Some(s.priority)))
                ),
                "priority": s.priority.as_str(),
                "required_fields": fields,
                "requires_attachment": s.requires_attachment,
            })
        })
        .collect();
    json!({
        "services": services,
        "requester_name": ctx.directory.name_or(requester, requester),
        "approvers": verificacion::approver_choices(requester, ctx),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::domain::ticket::Status;

    #[test]
    fn a_complete_request_is_acknowledged_categorised_and_worked() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Instalar impresora",
            "Necesito instalar la impresora nueva.\nUbicación: Piso 3, oficina 301\n",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert_eq!(plan.ticket.service.as_deref(), Some("IMPRESORA"));
        assert_eq!(plan.ticket.status, Status::TrabajoEnProgreso);
        assert!(!plan.ticket.sla.is_paused());
        let templates: Vec<_> = plan.mails().map(|m| m.template.as_str()).collect();
        assert_eq!(templates, vec!["acuse_recibo", "nueva_solicitud"]);
        let notice = plan.mails().nth(1).unwrap();
        assert_eq!(notice.to, w.ctx().agents());
        // Monday 9:00 + 8 business hours (the catalogue's target) = Monday 5:00 p. m.
        let ack = plan.mails().next().unwrap();
        assert_eq!(ack.data["sla_target"], "8,0 horas hábiles");
        assert_eq!(
            ack.data["sla_due_at"],
            "lunes 23 de noviembre de 2026, 5:00 p. m."
        );
    }

    #[test]
    fn an_incomplete_request_is_acknowledged_without_a_due_time() {
        let w = World::new();
        let mail = incoming("ana@example.test", "VPN", "Servicio: VPN\n");
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert_eq!(plan.ticket.status, Status::PendientePorUsuario);
        let ack = plan.mails().find(|m| m.template == "acuse_recibo").unwrap();
        assert_eq!(ack.data["sla_target"], "16,0 horas hábiles");
        assert!(ack.data["sla_due_at"].is_null());
    }

    #[test]
    fn the_catalogue_reply_shows_each_services_target() {
        let w = World::new();
        let listing = catalog_listing(&w.ctx(), "ana@example.test");
        let vpn = listing["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == "VPN")
            .unwrap();
        assert_eq!(vpn["sla_target"], "16,0 horas hábiles");
    }

    #[test]
    fn the_catalogue_reply_asks_for_the_approver_and_says_who_may_approve() {
        let w = World::new();
        let listing = catalog_listing(&w.ctx(), "pedro@example.test");
        let service = |code: &str| {
            listing["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["code"] == code)
                .unwrap()
                .clone()
        };
        // Once, whether or not the catalogue lists it among the required fields.
        assert_eq!(
            service("VPN")["required_fields"],
            json!(["Justificación", "Aprobador"])
        );
        assert_eq!(
            service("IMPRESORA")["required_fields"],
            json!(["Ubicación"])
        );
        assert!(service("IMPRESORA")["approved_by"].is_null());
        assert_eq!(
            service("CLAVE")["approved_by"],
            "Oficial de Seguridad, Seguridad de la información"
        );
        // Pedro's own office (Jurídica) first.
        let approvers: Vec<_> = listing["approvers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["email"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            approvers,
            [
                "jefe@example.test",
                "suplente@example.test",
                "subdirector@example.test",
                "director@example.test"
            ]
        );
        assert_eq!(listing["requester_name"], "Pedro Pérez");
    }

    #[test]
    fn an_unrecognised_request_waits_for_an_agent_to_categorise() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Consulta",
            "Buenos días, una pregunta general.",
        );
        let plan = register(w.new_ticket(&mail), &mail, None, &w.ctx());
        assert_eq!(plan.ticket.status, Status::Registrado);
        assert_eq!(plan.ticket.service, None);
        let sin: Vec<_> = plan
            .mails()
            .filter(|m| m.template == "sin_categoria")
            .collect();
        assert_eq!(sin.len(), 1);
        assert_eq!(sin[0].to, vec!["agente1@example.test".to_owned()]);
    }

    #[test]
    fn incidents_catalog_requests_and_phone_requests_are_told_apart() {
        let w = World::new();
        let ctx = w.ctx();
        let inc = incoming("ana@example.test", "El correo no funciona", "Desde ayer.");
        assert_eq!(classify(&inc, None, &ctx), NewMail::Incident);
        let with_service = incoming(
            "ana@example.test",
            "VPN no funciona",
            "Servicio: VPN\nJustificación: x",
        );
        assert!(matches!(
            classify(&with_service, None, &ctx),
            NewMail::Request { .. }
        ));
        let cat = incoming("ana@example.test", "RE: Catálogo", "");
        assert_eq!(classify(&cat, None, &ctx), NewMail::CatalogRequest);
        let phone = incoming(
            "agente1@example.test",
            "Llamada",
            "#solicitante pedro@example.test\nNecesita impresora",
        );
        assert_eq!(
            classify(&phone, None, &ctx),
            NewMail::Request {
                requester: "pedro@example.test".into(),
                on_behalf_of_by: Some("agente1@example.test".into())
            }
        );
        let not_agent = incoming(
            "ana@example.test",
            "x",
            "#solicitante pedro@example.test\nhola",
        );
        assert_eq!(
            classify(&not_agent, None, &ctx),
            NewMail::Request {
                requester: "ana@example.test".into(),
                on_behalf_of_by: None
            }
        );
    }

    #[test]
    fn an_incident_sent_back_continues_at_activity_3_with_the_agents_service() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "La impresora no funciona",
            "No funciona la impresora nueva: hay que instalarla.\nNúmero de equipo: PC-1\nUbicación: Piso 3",
        );
        let s = w
            .ctx()
            .catalog
            .by_code_or_name("IMPRESORA")
            .cloned()
            .unwrap();
        let plan = from_incident(
            w.new_ticket(&mail),
            &mail,
            "INC-4",
            Some(&s),
            "agente1@example.test",
            &w.ctx(),
        );
        assert_eq!(plan.ticket.service.as_deref(), Some("IMPRESORA"));
        let ack = plan.mails().find(|m| m.template == "acuse_recibo").unwrap();
        assert_eq!(ack.data["from_incident"], "INC-4");
        assert!(ack.data["sla_target"].is_string(), "{}", ack.data);
        let validated = plan.effects.iter().any(|e| {
            matches!(e,
            super::super::Effect::Event { kind: EventKind::Validada, actor, description, .. }
                if actor == "agente1@example.test" && description.contains("INC-4"))
        });
        assert!(validated);
        let categorised = plan.effects.iter().any(|e| {
            matches!(e,
            super::super::Effect::Event { kind: EventKind::Categorizado, actor, .. }
                if actor == "agente1@example.test")
        });
        assert!(categorised);
        assert_eq!(
            plan.ticket.status,
            crate::domain::ticket::Status::TrabajoEnProgreso
        );
    }
}
