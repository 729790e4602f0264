//! Answers to approval requests. An answer counts only when (a) it carries a valid token for
//! this ticket, (b) its From is the approver or the substitute, and (c) when required, our own
//! MTA vouches for the From domain (DMARC or DKIM pass). Anything else changes nothing: it is
//! stored on the ticket as a security event and the agents are told.

use super::{apply, load_ticket, Procedure};
use crate::domain::procedure::aprobacion::{self, ApprovalStatus};
use crate::domain::text::{self, ApprovalAnswer, AutoKind};
use crate::domain::ticket::TicketNumber;
use crate::mail::inbound::InboundMail;
use crate::notify::{Mailer, NotifyError};
use crate::store::{self, approvals, Conn};
use chrono::{DateTime, Utc};

pub struct AnswerMail<'a> {
    pub mail: &'a InboundMail,
    pub auto: Option<AutoKind>,
    pub thread: Option<TicketNumber>,
}

/// The token the mail carries: the plus-address it was sent to, else the subject tag.
fn token(mail: &InboundMail, helpdesk_local: &str) -> Option<String> {
    mail.recipients()
        .map(|m| m.email.as_str())
        .chain(mail.delivered_to.iter().map(String::as_str))
        .find_map(|a| text::plus_token(a, helpdesk_local))
        .or_else(|| text::subject_token(&mail.subject))
}

/// `None`: not an approval answer, the normal flow takes it. `Some(ticket)`: handled; the mail
/// belongs on `ticket` (none when a token matched nothing).
pub async fn route(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    m: &AnswerMail<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Option<TicketNumber>>, NotifyError> {
    let local = proc.helpdesk.split('@').next().unwrap_or("");
    let from = m
        .mail
        .from
        .as_ref()
        .map(|f| f.email.clone())
        .unwrap_or_default();
    let snap = proc.snapshot();
    let ctx = proc.ctx(&snap, now);
    let Some(tok) = token(m.mail, local) else {
        // The approver answering without the token (a new mail, or a client that dropped it).
        let Some(n) = m.thread else { return Ok(None) };
        let Some(t) = load_ticket(conn, n).await? else {
            return Ok(None);
        };
        let is_decider = t
            .approval
            .as_ref()
            .is_some_and(|a| a.status == ApprovalStatus::Pending && a.may_decide(&from));
        if m.auto.is_some()
            || !is_decider
            || text::parse_answer(&m.mail.body_text) == ApprovalAnswer::Unclear
        {
            return Ok(None);
        }
        let plan = aprobacion::on_refused(
            t,
            &from,
            "respuesta sin el código de aprobación (token)",
            &ctx,
        );
        apply(conn, mailer, proc, &plan, &ctx).await?;
        tracing::warn!(ticket = %n, from = %from, "approval answer without token refused");
        return Ok(Some(Some(n)));
    };
    let row = approvals::find_token(conn, &tok).await?;
    let Some(row) = row else {
        tracing::warn!(from = %from, "approval answer with an unknown token refused");
        if let Some(n) = m.thread {
            if let Some(t) = load_ticket(conn, n).await? {
                let plan =
                    aprobacion::on_refused(t, &from, "código de aprobación desconocido", &ctx);
                apply(conn, mailer, proc, &plan, &ctx).await?;
            }
        }
        return Ok(Some(m.thread));
    };
    let n = TicketNumber(row.ticket_id);
    let tagged = text::find_ticket_ref(&m.mail.subject)
        .filter(|r| r.kind == text::TicketKind::Req)
        .map(|r| TicketNumber(r.number));
    let Some(t) = load_ticket(conn, n).await? else {
        return Ok(Some(None));
    };
    if let Some(k) = m.auto {
        if matches!(k, AutoKind::OutOfOffice | AutoKind::AutoReply) {
            let plan = aprobacion::on_out_of_office(t, &from, &ctx);
            apply(conn, mailer, proc, &plan, &ctx).await?;
        }
        return Ok(Some(Some(n)));
    }
    let refusal = if tagged.is_some_and(|x| x != n) {
        Some("el código de aprobación pertenece a otro requerimiento")
    } else if !t.approval.as_ref().is_some_and(|a| a.may_decide(&from)) {
        Some("el remitente no es el aprobador ni su suplente")
    } else if proc.security.require_authentication_results && !authenticated(m.mail, &from, proc) {
        Some("el servidor de correo no confirmó la autenticidad del remitente (DMARC/DKIM)")
    } else {
        None
    };
    if let Some(why) = refusal {
        tracing::warn!(ticket = %n, from = %from, why, "approval answer refused");
        // The refusal is recorded on the ticket the mail was threaded to, if different.
        let on = match tagged.filter(|x| *x != n) {
            Some(other) => load_ticket(conn, other).await?.unwrap_or(t),
            None => t,
        };
        let target = on.number;
        let plan = aprobacion::on_refused(on, &from, why, &ctx);
        apply(conn, mailer, proc, &plan, &ctx).await?;
        return Ok(Some(Some(target)));
    }
    let answer = if row.used_at.is_some() {
        // A token works once; what it says now cannot change a decision already made.
        ApprovalAnswer::Approve {
            reason: String::new(),
        }
    } else {
        text::parse_answer(&m.mail.body_text)
    };
    let plan = aprobacion::on_answer(t, &from, &answer, &ctx);
    if plan
        .ticket
        .approval
        .as_ref()
        .is_some_and(|a| a.decided_by.is_some())
    {
        approvals::use_token(conn, &tok, store::unix(now)).await?;
    }
    apply(conn, mailer, proc, &plan, &ctx).await?;
    Ok(Some(Some(n)))
}

fn authenticated(mail: &InboundMail, from: &str, proc: &Procedure) -> bool {
    let Some(trusted) = proc.security.trusted_authserv_id.as_deref() else {
        return false;
    };
    let domain = from.rsplit('@').next().unwrap_or("");
    crate::domain::authresults::passes(&mail.authentication_results, trusted, domain)
}
