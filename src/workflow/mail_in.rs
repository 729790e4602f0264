//! A person's mail reaching the procedure: a new request (or catalogue request, or incident),
//! or a reply on a ticket from its requester or from an agent.

use super::{apply_into, load_ticket_thread, Known, Procedure};
use crate::domain::authority::{self, Evidence, Standing};
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::procedure::registro::{self, NewMail};
use crate::domain::procedure::{
    cierre, tramite, verificacion, Ctx, Effect, Incoming, Plan, Ticket,
};
use crate::domain::template::Template;
use crate::domain::text::{new_text, parse_commands};
use crate::domain::ticket::{Status, TicketNumber};
use crate::mail::inbound::InboundMail;
use crate::store::writes::Writes;
use crate::store::{self, events, incidents, messages, tickets, Conn};
use crate::workflow::notify::{Mailer, Notice};
use crate::workflow::WorkflowError;
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

/// An inbound mail as stored, with what proves its sender.
pub struct Received<'a> {
    pub mail: &'a InboundMail,
    /// Its row in `messages`.
    pub row: i64,
    pub evidence: &'a Evidence,
}

/// How the mail being handled gets its row in `messages`, on the ticket and with the kind the
/// procedure decides.
pub enum Landing<'a> {
    /// Already stored as this row (without ticket): given its ticket and kind.
    Stored(i64),
    /// Not stored yet: written once, ticket and kind included, with the other writes.
    New(&'a NewInbound<'a>),
}

/// A received mail to be stored: the row [`NewInbound::write`] inserts.
pub struct NewInbound<'a> {
    pub mail: &'a InboundMail,
    pub raw: &'a [u8],
    pub origin: Option<messages::ImapOrigin>,
    /// When it was taken in (Unix seconds).
    pub at: i64,
}

impl NewInbound<'_> {
    /// The message and its attachments, on `ticket` with `kind`, into `w`.
    pub fn write(&self, w: &mut Writes, ticket: Option<TicketNumber>, kind: MailKind) {
        use crate::domain::text as t;
        let mail = self.mail;
        let from = mail.from.as_ref();
        let to: Vec<&str> = mail.recipients().map(|m| m.email.as_str()).collect();
        let thread_key = mail.thread_index.as_deref().and_then(t::conversation_key);
        let references = mail.references.join(" ");
        let fingerprint = mail.fingerprint();
        let names: Vec<String> = mail
            .attachments
            .iter()
            .map(|a| t::safe_filename(&a.filename))
            .collect();
        let attachments: Vec<messages::NewAttachment<'_>> = mail
            .attachments
            .iter()
            .zip(&names)
            .map(|(a, name)| messages::NewAttachment {
                message_row: 0,
                ticket,
                filename: name,
                content_type: &a.content_type,
                content: &a.content,
                size: a.size,
                sha256: &a.sha256,
            })
            .collect();
        messages::insert_inbound_into(
            w,
            &messages::NewMessage {
                ticket,
                direction: "in",
                kind,
                message_id: &mail.message_id,
                in_reply_to: mail.in_reply_to.last().map(String::as_str),
                references: Some(references.as_str()).filter(|s| !s.is_empty()),
                thread_key: thread_key.as_deref(),
                from_addr: from.map(|f| f.email.as_str()).unwrap_or(""),
                from_name: from.and_then(|f| f.name.as_deref()),
                to_addrs: &to.join(", "),
                subject: &mail.subject,
                body_text: &mail.body_text,
                body_html: mail.body_html.as_deref(),
                at: mail.date.map(store::unix).unwrap_or(self.at),
                raw: Some(self.raw),
                imap: self.origin,
                created_at: self.at,
                fingerprint: Some(&fingerprint),
            },
            &attachments,
        );
    }
}

/// A mail reaching the procedure: what it is, what proves its sender, how it is stored.
pub struct Arrival<'a> {
    pub mail: &'a InboundMail,
    pub evidence: &'a Evidence,
    pub landing: Landing<'a>,
}

impl Arrival<'_> {
    fn land(&self, w: &mut Writes, ticket: Option<TicketNumber>, kind: MailKind) {
        match &self.landing {
            Landing::Stored(row) => {
                let has_attachments = !self.mail.attachments.is_empty();
                messages::assign_into(w, *row, has_attachments, ticket, kind)
            }
            Landing::New(m) => m.write(w, ticket, kind),
        }
    }

    /// A new ticket's request, for the mails that show it before it can be read back.
    fn request(&self) -> (String, Vec<(String, i64)>) {
        let files = self
            .mail
            .attachments
            .iter()
            .map(|a| {
                (
                    crate::domain::text::safe_filename(&a.filename),
                    a.size as i64,
                )
            })
            .collect();
        (self.mail.body_text.clone(), files)
    }
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
) -> Result<Opened, WorkflowError> {
    let arrival = Arrival {
        mail: received.mail,
        evidence: received.evidence,
        landing: Landing::Stored(received.row),
    };
    let mut w = Writes::new(conn);
    let opened = open_into(
        conn,
        &mut w,
        mailer,
        proc,
        &arrival,
        related,
        acknowledge,
        ctx,
    )
    .await?;
    w.flush(conn).await?;
    Ok(opened)
}

/// [`open`] whose writes go into `w`: a new request costs one read (its number) before them.
#[allow(clippy::too_many_arguments)]
pub async fn open_into(
    conn: &mut Conn,
    w: &mut Writes,
    mailer: &Mailer,
    proc: &Procedure,
    arrival: &Arrival<'_>,
    related: Option<TicketNumber>,
    acknowledge: bool,
    ctx: &Ctx<'_>,
) -> Result<Opened, WorkflowError> {
    let mail = arrival.mail;
    let inc = incoming(mail);
    let at = store::unix(ctx.now);
    match registro::classify(&inc, related, ctx) {
        NewMail::CatalogRequest => {
            arrival.land(w, None, MailKind::Catalogo);
            if acknowledge {
                let listing = registro::catalog_listing(ctx, &inc.from);
                let n = Notice::ticketless(
                    MailKind::Catalogo,
                    Template::Catalogo,
                    listing,
                    inc.from.clone(),
                    at,
                    None,
                    "Catálogo de servicios enviado",
                );
                mailer.queue_into(w, &n, &[], &mut Vec::new(), &[])?;
            }
            Ok(Opened::Catalog)
        }
        NewMail::Incident => {
            w.flush(conn).await?;
            let id =
                incidents::insert(conn, &inc.from, &mail.subject, &mail.message_id, at).await?;
            arrival.land(w, None, MailKind::Incidente);
            let data = json!({
                "incident": format!("INC-{id}"), "subject": mail.subject, "requester": inc.from,
                // The directory's name first, as every other mail greets people.
                "requester_name": ctx.directory.name_or(
                    &inc.from,
                    inc.from_name.as_deref().unwrap_or(&inc.from),
                ),
                "text": inc.text, "unverified": false,
            });
            if acknowledge {
                let told = "Usuario informado: se atiende como incidente";
                // The reporter's own reply code: answering this mail proves them.
                let reply_to = incident_reply_address(conn, proc, id, &inc.from, at).await?;
                let mut n = Notice::ticketless(
                    MailKind::Incidente,
                    Template::Incidente,
                    data.clone(),
                    inc.from.clone(),
                    at,
                    Some(2),
                    told,
                );
                n.reply_to = Some(reply_to);
                mailer.queue_into(w, &n, &[], &mut Vec::new(), &[])?;
            }
            w.flush(conn).await?;
            copy_incident(conn, mailer, proc, id, data, ctx).await?;
            Ok(Opened::Incident(id))
        }
        NewMail::Request {
            on_behalf_of_by: Some(_),
            ..
        } if authority::prove_without_ticket(&inc.from, arrival.evidence).is_err() => {
            let why = authority::prove_without_ticket(&inc.from, arrival.evidence)
                .err()
                .map(|r| r.0)
                .unwrap_or_default();
            tracing::warn!(from = %inc.from, "phone request (#solicitante) from an unverified sender not registered");
            arrival.land(w, None, MailKind::SolicitanteNoVerificado);
            w.flush(conn).await?;
            if !messages::sent_since(
                conn,
                None,
                MailKind::SolicitanteNoVerificado,
                &inc.from,
                at - 3600,
            )
            .await?
            {
                let n = Notice::ticketless(
                    MailKind::SolicitanteNoVerificado,
                    Template::SolicitanteNoVerificado,
                    json!({ "why": why, "subject": mail.subject }),
                    inc.from.clone(),
                    at,
                    Some(1),
                    "Aviso: solicitud telefónica no registrada por falta de verificación",
                );
                mailer.queue_into(w, &n, &[], &mut Vec::new(), &[])?;
            }
            Ok(Opened::Unverified)
        }
        NewMail::Request {
            requester,
            on_behalf_of_by,
        } => {
            let on_behalf = on_behalf_of_by.is_some();
            let subject = subject_or_placeholder(&mail.subject);
            let new = tickets::NewTicket {
                status: Status::Registrado.as_str(),
                subject: &subject,
                requester: &requester,
                requester_name: if on_behalf {
                    None
                } else {
                    inc.from_name.as_deref()
                },
                root_message_id: &mail.message_id,
                related_ticket: related,
                at,
            };
            // The only read: the number, which the acknowledgement and every mail carry.
            let row = tickets::unsaved(tickets::take_number(conn).await?, &new);
            let n = row.number();
            // A part the intake left out is no attachment of the ticket: the stored ones count.
            let ticket = row.to_domain(inc.attachments)?;
            let mut plan = registro::register(ticket, &inc, on_behalf_of_by.as_deref(), ctx);
            if let Some(old) = related {
                plan.event(
                    Some(1),
                    "sistema",
                    EventKind::Relacionado,
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
                    EventKind::SinAcuse,
                    "Correo antiguo importado sin acuse de recibo",
                );
            }
            // The ticket first, as the procedure left it, then the request on it: the mail it
            // causes threads onto the request.
            tickets::insert_into(w, &row, &plan.ticket, at);
            arrival.land(w, Some(n), MailKind::Solicitud);
            let mut known = Known {
                thread: Some(vec![mail.message_id.clone()]),
                ticket_written: true,
                request: Some(arrival.request()),
            };
            apply_into(conn, w, mailer, proc, &plan, ctx, &mut known).await?;
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
) -> Result<(), WorkflowError> {
    let to = match &ctx.policy.incident_address {
        Some(addr) => vec![addr.clone()],
        None => ctx.agents(),
    };
    let at = store::unix(ctx.now);
    for person in to {
        let reply_to = incident_reply_address(conn, proc, id, &person, at).await?;
        let copy = "Copia enviada a gestión de incidentes";
        let mut n = Notice::ticketless(
            MailKind::IncidenteCopia,
            Template::IncidenteCopia,
            data.clone(),
            person,
            at,
            Some(2),
            copy,
        );
        n.reply_to = Some(reply_to);
        mailer.queue(conn, &n).await?;
    }
    Ok(())
}

/// A reply code bound to `person` and incident `id`, and the address it makes: answering a
/// mail with it proves them (`domain::incident::prove`).
pub async fn incident_reply_address(
    conn: &mut Conn,
    proc: &Procedure,
    id: i64,
    person: &str,
    at: i64,
) -> Result<String, sqlx::Error> {
    let token = store::approvals::new_token();
    incidents::add_token(conn, id, &token, person, at).await?;
    Ok(proc.reply_address(&token))
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
) -> Result<TicketNumber, WorkflowError> {
    let arrival = Arrival {
        mail: received.mail,
        evidence: received.evidence,
        landing: Landing::Stored(received.row),
    };
    let Some(loaded) = load_ticket_thread(conn, n).await? else {
        return Err(WorkflowError::Db(sqlx::Error::RowNotFound));
    };
    let mut w = Writes::new(conn);
    let landed = reply_into(conn, &mut w, mailer, proc, &arrival, loaded, ctx).await?;
    w.flush(conn).await?;
    Ok(landed)
}

/// [`reply`] on a ticket already loaded (with [`load_ticket_thread`]), writes into `w`.
pub async fn reply_into(
    conn: &mut Conn,
    w: &mut Writes,
    mailer: &Mailer,
    proc: &Procedure,
    arrival: &Arrival<'_>,
    loaded: (Ticket, Vec<String>),
    ctx: &Ctx<'_>,
) -> Result<TicketNumber, WorkflowError> {
    let (ticket, mut thread) = loaded;
    let n = ticket.number;
    let mail = arrival.mail;
    let inc = incoming(mail);
    let at = store::unix(ctx.now);
    if ticket.status == Status::Cerrado {
        // A closed request is not reopened by mail: the answer opens a new one that refers to it.
        return match open_into(conn, w, mailer, proc, arrival, Some(n), true, ctx).await? {
            Opened::Ticket(new) => Ok(new),
            _ => Ok(n),
        };
    }
    let standing = authority::standing(
        &inc.from,
        &ticket.requester,
        n,
        tramite::is_agent(&inc.from, ctx),
        &ctx.directory.lists_of(&inc.from),
        arrival.evidence,
        proc.rules(),
    );
    let before = (ticket.fields.clone(), ticket.attachments);
    let from_requester = standing == Standing::Requester;
    let mut plan: Plan = match standing {
        Standing::Staff => {
            arrival.land(w, Some(n), MailKind::Respuesta);
            tramite::on_agent_reply(ticket, &inc, ctx)
        }
        Standing::UnprovenStaff(why) => {
            tracing::warn!(ticket = %n, from = %inc.from, why = %why, "staff action refused: sender not verified");
            arrival.land(w, Some(n), MailKind::AccionRechazada);
            tramite::on_unproven_staff(ticket, &inc, &why, ctx)
        }
        Standing::UnprovenRequester(why) => {
            if tramite::unproven_requester_refused(ticket.status) {
                tracing::warn!(ticket = %n, from = %inc.from, why = %why, "requester's answer refused: sender not verified");
                arrival.land(w, Some(n), MailKind::AccionRechazada);
            } else {
                tracing::info!(ticket = %n, from = %inc.from, "unverified message in the requester's name passed on as such");
                // Not their word: kept out of what an approver reads and of the request's files.
                arrival.land(w, Some(n), MailKind::SolicitanteNoVerificado);
            }
            tramite::on_unproven_requester(ticket, &inc, &why, ctx)
        }
        Standing::ThirdParty => {
            tracing::info!(ticket = %n, from = %inc.from, "message from a third party kept; it changes nothing");
            arrival.land(w, Some(n), MailKind::MensajeTercero);
            tramite::on_third_party(ticket, &inc, ctx)
        }
        Standing::Requester => {
            arrival.land(w, Some(n), MailKind::Respuesta);
            let ignored = parse_commands(&inc.text).commands;
            if !ignored.is_empty() {
                tracing::warn!(ticket = %n, from = %inc.from, "commands from a non-agent ignored");
                events::insert_many_into(
                    w,
                    &[events::NewEvent {
                        ticket: n,
                        at,
                        actor: &inc.from,
                        activity: Some(13),
                        kind: EventKind::ComandosIgnorados,
                        description:
                            "Comandos ignorados: el remitente no es agente de la mesa de ayuda",
                    }],
                );
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
    // The reply is on the ticket now: what is mailed next threads onto it.
    thread.push(mail.message_id.clone());
    let mut known = Known {
        thread: Some(thread),
        ticket_written: false,
        request: None,
    };
    apply_into(conn, w, mailer, proc, &plan, ctx, &mut known).await?;
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
        _ => tramite::on_requester_message(ticket, inc, true, ctx),
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
        .find(|e| e.kind == EventKind::Incompleto.as_str())
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
        tracing::info!(ticket = %plan.ticket.number, to = sender, kind = %kind, "repeated answer not sent (loop guard)");
        plan.event(
            None,
            "sistema",
            EventKind::RespuestaOmitida,
            format!(
                "No se repite el correo «{kind}» a {sender}: ya lo recibió en la última hora y su \
                 respuesta no agregó información (protección contra bucles de respuestas automáticas)"
            ),
        );
    }
    Ok(())
}
