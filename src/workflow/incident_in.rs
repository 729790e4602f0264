//! Mail about an incident (`[INC-m]` in the subject, or sent to the personal token address of
//! an incident's mail). An agent's `#requerimiento [SERVICIO]` sends the incident back to the
//! request procedure (activity 2 → 3); the reporter's messages reach whoever handles incidents;
//! anything else is kept.

use super::{apply, mail_in, Procedure};
use crate::domain::authority::Evidence;
use crate::domain::incident::{self, IncidentEvidence};
use crate::domain::mail_kind::MailKind;
use crate::domain::procedure::{registro, tramite, Ctx, Incoming};
use crate::domain::template::Template;
use crate::domain::text::{self, canonical_address, parse_commands, Command};
use crate::domain::ticket::{Status, TicketNumber};
use crate::mail::inbound::InboundMail;
use crate::store::incidents::{self, IncidentRow};
use crate::store::{self, messages, tickets, Conn};
use crate::workflow::notify::{Mailer, Notice};
use crate::workflow::WorkflowError;
use serde_json::json;

/// The incident a mail is about, with the incident token it came back with: the token first
/// (the client may have dropped the subject tag), else an `[INC-m]` tag leading the subject.
pub async fn find(
    conn: &mut Conn,
    proc: &Procedure,
    mail: &InboundMail,
) -> Result<Option<(IncidentRow, Option<(i64, String)>)>, sqlx::Error> {
    let token = super::evidence::incident_token(conn, proc, mail).await?;
    let id = match (&token, text::find_ticket_ref(&mail.subject)) {
        (Some((id, _)), _) => *id,
        (None, Some(r)) if r.kind == text::TicketKind::Inc => r.number,
        _ => return Ok(None),
    };
    Ok(incidents::get(conn, id).await?.map(|row| (row, token)))
}

/// A person's mail on incident `incident`, stored as message `row` (on no ticket). Returns the
/// request it now continues as, when an agent sent it back with `#requerimiento`.
#[allow(clippy::too_many_arguments)]
pub async fn take(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    mail: &InboundMail,
    row: i64,
    incident: &IncidentRow,
    token: Option<(i64, String)>,
    evidence: &Evidence,
    ctx: &Ctx<'_>,
) -> Result<Option<TicketNumber>, WorkflowError> {
    let inc = mail_in::incoming(mail);
    let at = store::unix(ctx.now);
    let label = incident.label();
    if canonical_address(&inc.from) == canonical_address(&incident.requester) {
        // The reporter adds to their report: it goes where the incident went, marked unverified
        // unless it answers the code mailed to them or our MTA vouched for the sender (anyone
        // can write the reporter's address in From).
        let proof = IncidentEvidence {
            token: token.clone(),
            unknown_token: evidence.unknown_token,
            header_authenticated: evidence.header_authenticated,
        };
        let proven = incident::prove(&inc.from, incident.id, &proof, proc.rules()).is_ok();
        let data = json!({
            "incident": label, "subject": incident.subject, "requester": incident.requester,
            "requester_name": ctx.directory.name_or(&incident.requester, &incident.requester),
            "text": inc.text, "follow_up": true, "unverified": !proven,
        });
        mail_in::copy_incident(conn, mailer, proc, incident.id, data, ctx).await?;
        return Ok(None);
    }
    let service = parse_commands(&inc.text)
        .commands
        .into_iter()
        .find_map(|c| match c {
            Command::ToRequest { service } => Some(service),
            _ => None,
        });
    let (Some(service), true) = (service, tramite::is_agent(&inc.from, ctx)) else {
        tracing::info!(incident = %label, from = %inc.from, "message on an incident kept");
        return Ok(None);
    };
    let proof = IncidentEvidence {
        token,
        unknown_token: evidence.unknown_token,
        header_authenticated: evidence.header_authenticated,
    };
    if let Err(why) = incident::prove(&inc.from, incident.id, &proof, proc.rules()) {
        tracing::warn!(incident = %label, from = %inc.from, why = %why, "#requerimiento refused: sender not verified");
        // Kept as what it was, a refused action, like one on a request.
        messages::assign(
            conn,
            row,
            inc.attachments > 0,
            None,
            MailKind::AccionRechazada,
        )
        .await?;
        // Anyone can write the agent's address in From: the agent hears of it at most once an
        // hour and three times a day, or a forger could flood them with our warnings.
        // One mailbox however its address is spelt (`Agente+1@…`).
        let warned = canonical_address(&inc.from);
        let (count, last) = messages::sent_to(
            conn,
            None,
            MailKind::AccionNoVerificada,
            &warned,
            at - 24 * 3600,
        )
        .await?;
        if !super::warn_again(count, last, at) {
            tracing::info!(incident = %label, from = %inc.from, "sender already warned recently; not warned again");
            return Ok(None);
        }
        let data = json!({
            "ticket": label, "subject": incident.subject, "why": why.0,
            "attempted": "convertir el incidente en requerimiento (#requerimiento)",
            "incident": true,
        });
        let n = Notice::ticketless(
            MailKind::AccionNoVerificada,
            Template::AccionNoVerificada,
            data,
            warned,
            at,
            Some(2),
            "Aviso: acción no verificada sobre un incidente",
        );
        mailer.queue(conn, &n).await?;
        return Ok(None);
    }
    let refuse = |why: String| json!({ "ticket": label, "subject": incident.subject, "errors": [why], "incident": true });
    let catalogued = match service.as_deref() {
        Some(code) => match ctx.catalog.by_code_or_name(code) {
            Some(s) => Some(s),
            None => {
                let why = format!("#requerimiento: no existe el servicio «{code}» en el catálogo");
                refuse_to(conn, mailer, &inc, refuse(why), at).await?;
                return Ok(None);
            }
        },
        None => None,
    };
    if let Some(n) = incident.to_ticket {
        let why = format!(
            "#requerimiento: el incidente {label} ya continúa como {}",
            TicketNumber(n)
        );
        refuse_to(conn, mailer, &inc, refuse(why), at).await?;
        return Ok(None);
    }
    // The report as first written: on no ticket for an incident that came in as one, on the
    // request it came from for one an agent made with `#incidente`.
    let report = messages::inbound_by_message_id(conn, &incident.message_id).await?;
    let ticket_row = tickets::insert(
        conn,
        &tickets::NewTicket {
            status: Status::Registrado.as_str(),
            subject: &mail_in::subject_or_placeholder(&incident.subject),
            requester: &incident.requester,
            requester_name: None,
            root_message_id: &incident.message_id,
            related_ticket: incident.from_ticket.map(TicketNumber),
            at,
        },
    )
    .await?;
    let n = ticket_row.number();
    if let Some((report_row, None, _)) = &report {
        messages::assign(conn, *report_row, true, Some(n), MailKind::Solicitud).await?;
    }
    // The agent's command stays on the request it made, for the record.
    messages::assign(conn, row, inc.attachments > 0, Some(n), MailKind::Respuesta).await?;
    let attachments = tickets::attachment_count(conn, n).await?;
    let ticket = ticket_row.to_domain(attachments)?;
    let reported = Incoming {
        from: incident.requester.clone(),
        from_name: None,
        subject: incident.subject.clone(),
        text: report
            .map(|(_, _, body)| text::new_text(&body))
            .unwrap_or_default(),
        attachments,
    };
    let plan = registro::from_incident(ticket, &reported, &label, catalogued, &inc.from, ctx);
    apply(conn, mailer, proc, &plan, ctx).await?;
    incidents::set_converted(conn, incident.id, n).await?;
    tracing::info!(incident = %label, ticket = %n, by = %inc.from, "incident continues as a request");
    Ok(Some(n))
}

async fn refuse_to(
    conn: &mut Conn,
    mailer: &Mailer,
    inc: &Incoming,
    data: serde_json::Value,
    at: i64,
) -> Result<(), WorkflowError> {
    let n = Notice::ticketless(
        MailKind::ComandoInvalido,
        Template::ComandoInvalido,
        data,
        inc.from.clone(),
        at,
        Some(2),
        "Agente informado: comando no aplicado sobre un incidente",
    );
    mailer.queue(conn, &n).await?;
    Ok(())
}
