//! A person's mail reaching the procedure: a new request (or catalogue request, or incident),
//! or a reply on a ticket from its requester or from an agent.

use super::{apply, load_ticket, Procedure};
use crate::domain::authority::{self, Evidence, Standing};
use crate::domain::procedure::registro::{self, NewMail};
use crate::domain::procedure::{
    cierre, tramite, verificacion, Ctx, Effect, Incoming, Plan, Ticket,
};
use crate::domain::text::{new_text, parse_commands};
use crate::domain::ticket::{Status, TicketNumber};
use crate::mail::inbound::InboundMail;
use crate::notify::{Mailer, Notice, NotifyError};
use crate::store::{self, events, incidents, messages, tickets, Conn};
use serde_json::json;

/// What happened to a new mail, for the log line and the stored message kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Ticket(TicketNumber),
    Catalog,
    Incident(i64),
    /// A staff member's `#solicitante` whose sender could not be verified: nothing registered.
    Unverified,
}

/// The stored kind of a `#solicitante` mail refused for lack of proof.
pub const UNVERIFIED_KIND: &str = "solicitante_no_verificado";

/// An inbound mail as stored, with what proves its sender.
pub struct Received<'a> {
    pub mail: &'a InboundMail,
    /// Its row in `messages`.
    pub row: i64,
    pub evidence: &'a Evidence,
}

pub fn incoming(mail: &InboundMail) -> Incoming {
    let from = mail.from.as_ref();
    Incoming {
        from: from.map(|f| f.email.clone()).unwrap_or_default(),
        from_name: from.and_then(|f| f.name.clone()),
        subject: mail.subject.clone(),
        text: new_text(&mail.body_text),
        attachments: mail.attachments.len(),
    }
}

/// Activities 1–3 for a mail that threads onto no open ticket.
pub async fn open(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    received: &Received<'_>,
    related: Option<TicketNumber>,
    acknowledge: bool,
    ctx: &Ctx<'_>,
) -> Result<Opened, NotifyError> {
    let (mail, message_row) = (received.mail, received.row);
    let inc = incoming(mail);
    let at = store::unix(ctx.now);
    match registro::classify(&inc, related, ctx) {
        NewMail::CatalogRequest => {
            messages::assign(conn, message_row, inc.attachments > 0, None, "catalogo").await?;
            if acknowledge {
                let listing = registro::catalog_listing(ctx, &inc.from);
                let n = Notice::ticketless(
                    "catalogo",
                    listing,
                    inc.from.clone(),
                    at,
                    None,
                    "Catálogo de servicios enviado",
                );
                mailer.queue(conn, &n).await?;
            }
            Ok(Opened::Catalog)
        }
        NewMail::Incident => {
            let id =
                incidents::insert(conn, &inc.from, &mail.subject, &mail.message_id, at).await?;
            messages::assign(conn, message_row, inc.attachments > 0, None, "incidente").await?;
            let data = json!({
                "incident": format!("INC-{id}"), "subject": mail.subject, "requester": inc.from,
                "requester_name": inc.from_name.clone().unwrap_or_else(|| inc.from.clone()),
                "text": inc.text,
            });
            if acknowledge {
                let told = "Usuario informado: se atiende como incidente";
                let n = Notice::ticketless(
                    "incidente",
                    data.clone(),
                    inc.from.clone(),
                    at,
                    Some(2),
                    told,
                );
                mailer.queue(conn, &n).await?;
            }
            copy_incident(conn, mailer, proc, id, data, ctx).await?;
            Ok(Opened::Incident(id))
        }
        NewMail::Request {
            on_behalf_of_by: Some(_),
            ..
        } if authority::prove_without_ticket(&inc.from, received.evidence).is_err() => {
            let why = authority::prove_without_ticket(&inc.from, received.evidence)
                .err()
                .map(|r| r.0)
                .unwrap_or_default();
            tracing::warn!(from = %inc.from, "phone request (#solicitante) from an unverified sender not registered");
            messages::assign(
                conn,
                message_row,
                inc.attachments > 0,
                None,
                UNVERIFIED_KIND,
            )
            .await?;
            if !messages::sent_since(conn, None, UNVERIFIED_KIND, &inc.from, at - 3600).await? {
                let n = Notice::ticketless(
                    UNVERIFIED_KIND,
                    json!({ "why": why, "subject": mail.subject }),
                    inc.from.clone(),
                    at,
                    Some(1),
                    "Aviso: solicitud telefónica no registrada por falta de verificación",
                );
                mailer.queue(conn, &n).await?;
            }
            Ok(Opened::Unverified)
        }
        NewMail::Request {
            requester,
            on_behalf_of_by,
        } => {
            let on_behalf = on_behalf_of_by.is_some();
            let row = tickets::insert(
                conn,
                &tickets::NewTicket {
                    status: Status::Registrado.as_str(),
                    subject: &subject_or_placeholder(&mail.subject),
                    requester: &requester,
                    requester_name: if on_behalf {
                        None
                    } else {
                        inc.from_name.as_deref()
                    },
                    root_message_id: &mail.message_id,
                    related_ticket: related,
                    at,
                },
            )
            .await?;
            let n = row.number();
            // The request must be on the ticket before the acknowledgement threads onto it.
            let has_attachments = inc.attachments > 0;
            messages::assign(conn, message_row, has_attachments, Some(n), "solicitud").await?;
            // Counted as stored: a part the intake left out is no attachment of the ticket.
            let stored = match has_attachments {
                true => tickets::attachment_count(conn, n).await?,
                false => 0,
            };
            let ticket = row.to_domain(stored);
            let mut plan = registro::register(ticket, &inc, on_behalf_of_by.as_deref(), ctx);
            if let Some(old) = related {
                plan.event(
                    Some(1),
                    "sistema",
                    "relacionado",
                    format!("Respuesta a {old}, que estaba cerrado"),
                );
            }
            if !acknowledge {
                // An old mail imported on first start: registered silently, requester not mailed.
                let requester = plan.ticket.requester.clone();
                plan.effects
                    .retain(|e| !matches!(e, Effect::Mail(m) if m.to == [requester.clone()]));
                plan.event(
                    Some(1),
                    "sistema",
                    "sin_acuse",
                    "Correo antiguo importado sin acuse de recibo",
                );
            }
            apply(conn, mailer, proc, &plan, ctx).await?;
            Ok(Opened::Ticket(n))
        }
    }
}

/// Every incident reaches someone: `[incidents] address`, else the agents. Each copy carries
/// a personal reply token bound to its reader and this incident (`incident_tokens`), so an
/// agent's answer to it (`#requerimiento`) proves the agent, as on a request.
pub async fn copy_incident(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    id: i64,
    data: serde_json::Value,
    ctx: &Ctx<'_>,
) -> Result<(), NotifyError> {
    let to = match &ctx.policy.incident_address {
        Some(addr) => vec![addr.clone()],
        None => ctx.agents(),
    };
    let at = store::unix(ctx.now);
    for person in to {
        let token = store::approvals::new_token();
        incidents::add_token(conn, id, &token, &person, at).await?;
        let copy = "Copia enviada a gestión de incidentes";
        let mut n = Notice::ticketless("incidente_copia", data.clone(), person, at, Some(2), copy);
        n.reply_to = Some(proc.reply_address(&token));
        mailer.queue(conn, &n).await?;
    }
    Ok(())
}

pub fn subject_or_placeholder(s: &str) -> String {
    if s.trim().is_empty() {
        "(sin asunto)".into()
    } else {
        s.chars().take(500).collect()
    }
}

/// A reply threaded onto ticket `n`. Returns the ticket the mail ended on (a new one when `n`
/// was closed).
pub async fn reply(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    received: &Received<'_>,
    n: TicketNumber,
    ctx: &Ctx<'_>,
) -> Result<TicketNumber, NotifyError> {
    let (mail, message_row) = (received.mail, received.row);
    let Some(ticket) = load_ticket(conn, n).await? else {
        return Err(NotifyError::Db(sqlx::Error::RowNotFound));
    };
    let inc = incoming(mail);
    let at = store::unix(ctx.now);
    if ticket.status == Status::Cerrado {
        // A closed request is not reopened by mail: the answer opens a new one that refers to it.
        return match open(conn, mailer, proc, received, Some(n), true, ctx).await? {
            Opened::Ticket(new) => Ok(new),
            _ => Ok(n),
        };
    }
    let standing = authority::standing(
        &inc.from,
        &ticket.requester,
        n,
        tramite::is_agent(&inc.from, ctx),
        received.evidence,
        proc.rules(),
    );
    let before = (ticket.fields.clone(), ticket.attachments);
    let from_requester = standing == Standing::Requester;
    let mut plan: Plan = match standing {
        Standing::Staff => tramite::on_agent_reply(ticket, &inc, ctx),
        Standing::UnprovenStaff(why) => {
            tracing::warn!(ticket = %n, from = %inc.from, why = %why, "staff action refused: sender not verified");
            messages::assign(
                conn,
                message_row,
                inc.attachments > 0,
                Some(n),
                "accion_rechazada",
            )
            .await?;
            tramite::on_unproven_staff(ticket, &inc, &why, ctx)
        }
        Standing::ThirdParty => {
            tracing::info!(ticket = %n, from = %inc.from, "message from a third party kept; it changes nothing");
            messages::assign(
                conn,
                message_row,
                inc.attachments > 0,
                Some(n),
                "mensaje_tercero",
            )
            .await?;
            tramite::on_third_party(ticket, &inc, ctx)
        }
        Standing::Requester => {
            let ignored = parse_commands(&inc.text).commands;
            if !ignored.is_empty() {
                tracing::warn!(ticket = %n, from = %inc.from, "commands from a non-agent ignored");
                events::insert(
                    conn,
                    &events::NewEvent {
                        ticket: n,
                        at,
                        actor: &inc.from,
                        activity: Some(13),
                        kind: "comandos_ignorados",
                        description:
                            "Comandos ignorados: el remitente no es agente de la mesa de ayuda",
                    },
                )
                .await?;
            }
            let asked = match ticket.status {
                Status::PendientePorUsuario => last_question(conn, n).await?,
                _ => None,
            };
            requester_reply(ticket, &inc, asked.as_ref(), ctx)
        }
    };
    if from_requester && (&plan.ticket.fields, plan.ticket.attachments) == (&before.0, before.1) {
        skip_repeated_answers(conn, &mut plan, &inc.from, at).await?;
    }
    apply(conn, mailer, proc, &plan, ctx).await?;
    Ok(n)
}

/// The requester wrote on their open ticket: information asked for, a survey answer, or a
/// message for whoever works it (the assignee, else the service's group, else the agents).
fn requester_reply(
    ticket: Ticket,
    inc: &Incoming,
    asked: Option<&verificacion::Asked>,
    ctx: &Ctx<'_>,
) -> Plan {
    match ticket.status {
        Status::PendientePorUsuario => verificacion::on_user_information(ticket, inc, asked, ctx),
        Status::Resuelto => cierre::on_reply_after_resolution(ticket, inc, ctx),
        _ => {
            let mut plan = Plan::new(ticket);
            plan.ticket.attachments += inc.attachments;
            plan.event(
                Some(13),
                &inc.from,
                "respuesta_recibida",
                format!("Correo recibido de {}", inc.from),
            );
            // The assignee writing on their own ticket as its requester is not told of it.
            let to: Vec<String> = ctx
                .responsible(&plan.ticket)
                .into_iter()
                .filter(|a| *a != inc.from)
                .collect();
            if !to.is_empty() {
                plan.mail(crate::domain::procedure::MailOut {
                    kind: "aviso_asignado",
                    template: "mensaje_usuario",
                    to,
                    data: json!({ "text": inc.text, "from": inc.from }),
                    activity: 13,
                    description: "Mensaje del usuario reenviado al responsable".into(),
                });
            }
            plan
        }
    }
}

/// The question the request waits on, when an agent asked it (`#pendiente`): the latest
/// `incompleto` event decides, so a later list of missing fields asked by the system wins.
async fn last_question(
    conn: &mut Conn,
    n: TicketNumber,
) -> Result<Option<verificacion::Asked>, sqlx::Error> {
    Ok(events::for_ticket(conn, n)
        .await?
        .into_iter()
        .rev()
        .find(|e| e.kind == "incompleto")
        .and_then(|e| verificacion::Asked::from_event(&e.actor, &e.kind, &e.description)))
}

/// Loop guard (RFC 3834 §2): a reply that changed nothing on the ticket (no new field, no
/// attachment) does not get again, within the hour, a mail of a kind its sender already got on
/// this ticket. A robot that answers each of our mails (an auto-responder that ignores
/// `Auto-Submitted`) would otherwise keep a request waiting on information in a loop with us.
async fn skip_repeated_answers(
    conn: &mut Conn,
    plan: &mut Plan,
    sender: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    let mut repeated = Vec::new();
    for effect in &plan.effects {
        let Effect::Mail(m) = effect else { continue };
        if m.to.len() != 1 || m.to[0] != sender {
            continue;
        }
        let sent =
            messages::sent_since(conn, Some(plan.ticket.number), m.kind, sender, at - 3600).await?;
        if sent {
            repeated.push(m.kind);
        }
    }
    if repeated.is_empty() {
        return Ok(());
    }
    plan.effects.retain(
        |e| !matches!(e, Effect::Mail(m) if m.to.len() == 1 && m.to[0] == sender && repeated.contains(&m.kind)),
    );
    for kind in repeated {
        tracing::info!(ticket = %plan.ticket.number, to = sender, kind, "repeated answer not sent (loop guard)");
        plan.event(
            None,
            "sistema",
            "respuesta_omitida",
            format!(
                "No se repite el correo «{kind}» a {sender}: ya lo recibió en la última hora y su \
                 respuesta no agregó información (protección contra bucles de respuestas automáticas)"
            ),
        );
    }
    Ok(())
}
