//! Answers to approval requests by mail. This adapter only finds out which ticket an answer is
//! about and what proves its sender; who may decide, and when, is the domain's
//! (`aprobacion::on_answer_mail`, `domain::authority`).

use super::{apply, load_ticket, Procedure};
use crate::domain::authority::{Evidence, TokenPurpose};
use crate::domain::procedure::aprobacion::{self, ApprovalStatus};
use crate::domain::text::{self, ApprovalAnswer, AutoKind};
use crate::domain::ticket::TicketNumber;
use crate::mail::inbound::InboundMail;
use crate::store::Conn;
use crate::workflow::notify::Mailer;
use crate::workflow::WorkflowError;
use chrono::{DateTime, Utc};

pub struct AnswerMail<'a> {
    pub mail: &'a InboundMail,
    pub auto: Option<AutoKind>,
    pub thread: Option<TicketNumber>,
}

/// `None`: not an approval answer, the normal flow takes it. `Some(ticket)`: handled; the mail
/// belongs on `ticket` (none when a token matched nothing).
pub async fn route(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    m: &AnswerMail<'_>,
    evidence: &Evidence,
    now: DateTime<Utc>,
) -> Result<Option<Option<TicketNumber>>, WorkflowError> {
    route_with(conn, mailer, proc, m, evidence, now, None).await
}

/// [`route`] with the thread's ticket already loaded (`loaded`, when the caller has it): a
/// reply that is no approval answer costs no read here.
pub async fn route_with(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    m: &AnswerMail<'_>,
    evidence: &Evidence,
    now: DateTime<Utc>,
    loaded: Option<&crate::domain::procedure::Ticket>,
) -> Result<Option<Option<TicketNumber>>, WorkflowError> {
    let from = m
        .mail
        .from
        .as_ref()
        .map(|f| f.email.clone())
        .unwrap_or_default();
    let snap = proc.snapshot();
    let ctx = proc.ctx(&snap, now);
    let rules = proc.rules();
    let answer = text::parse_answer(&m.mail.body_text);
    let n = match &evidence.token {
        Some(tok) if tok.purpose == TokenPurpose::Approval => tok.ticket,
        // A staff member's personal reply token: their mail is work on the ticket.
        Some(_) => return Ok(None),
        None if evidence.unknown_token => {
            tracing::warn!(from = %from, "mail with an unknown approval token");
            if let (Some(n), None) = (m.thread, m.auto) {
                if let Some(t) = load_ticket(conn, n).await? {
                    if !aprobacion::has_a_part_in(&t, &from, &ctx) {
                        // An outsider naming a ticket with a made-up code: a third party's
                        // mail like any other, not told the ticket's subject.
                        return Ok(None);
                    }
                    let why = "el código de aprobación del mensaje no es válido";
                    let plan = aprobacion::refused(t, &from, ATTEMPT, why, &ctx);
                    apply(conn, mailer, proc, &plan, &ctx).await?;
                }
            }
            return Ok(Some(m.thread));
        }
        // Answering without the token (a new mail, or a client that dropped the Reply-To):
        // taken as an answer only when it reads as a decision from someone who may decide;
        // the domain then asks for proof.
        None => {
            let Some(n) = m.thread else { return Ok(None) };
            let t = match loaded.filter(|t| t.number == n) {
                Some(t) => t.clone(),
                None => match load_ticket(conn, n).await? {
                    Some(t) => t,
                    None => return Ok(None),
                },
            };
            let decider = t
                .approval
                .as_ref()
                .is_some_and(|a| a.status == ApprovalStatus::Pending && a.may_decide(&from));
            if m.auto.is_some() || !decider || answer == ApprovalAnswer::Unclear {
                return Ok(None);
            }
            n
        }
    };
    let Some(t) = load_ticket(conn, n).await? else {
        return Ok(Some(None));
    };
    if let Some(k) = m.auto {
        if matches!(k, AutoKind::OutOfOffice | AutoKind::AutoReply) {
            let plan = aprobacion::on_out_of_office(t, &from, evidence, rules, &ctx);
            apply(conn, mailer, proc, &plan, &ctx).await?;
        }
        return Ok(Some(Some(n)));
    }
    let tagged = text::find_ticket_ref(&m.mail.subject)
        .filter(|r| r.kind == text::TicketKind::Req)
        .map(|r| TicketNumber(r.number));
    if let Some(other) = tagged.filter(|x| *x != n) {
        // The subject names one request and the token another: a forwarded or pasted token.
        tracing::warn!(ticket = %other, from = %from, "approval token of another ticket");
        let on = match load_ticket(conn, other).await? {
            Some(o) if !aprobacion::has_a_part_in(&o, &from, &ctx) => {
                // Someone with no part in the ticket the subject names (an old approval mail's
                // code, any From): a third party's mail like any other, not told its subject.
                return Ok(None);
            }
            Some(o) => o,
            None => t,
        };
        let target = on.number;
        let why = "el código de aprobación del mensaje pertenece a otro requerimiento";
        let plan = aprobacion::refused(on, &from, ATTEMPT, why, &ctx);
        apply(conn, mailer, proc, &plan, &ctx).await?;
        return Ok(Some(Some(target)));
    }
    let plan = aprobacion::on_answer_mail(t, &from, evidence, &answer, rules, &ctx);
    if plan.effects.iter().any(|e| {
        matches!(e, crate::domain::procedure::Effect::Event { kind, .. } if *kind == crate::domain::event_kind::EventKind::AccionRechazada)
    }) {
        tracing::warn!(ticket = %n, from = %from, "approval answer refused");
    }
    apply(conn, mailer, proc, &plan, &ctx).await?;
    Ok(Some(Some(n)))
}

const ATTEMPT: &str = "responder una solicitud de aprobación";
