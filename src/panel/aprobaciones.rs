//! Approvers: the approvals waiting on them, and their decision. The decision goes through
//! `aprobacion::on_answer_mail`, exactly as a mailed answer does, with the panel session as
//! the proof of who decides (`domain::authority`).

use super::{same_person, ticket_number, Form, Panel, PanelError, Signed};
use crate::domain::authority::Evidence;
use crate::domain::event_kind::EventKind;
use crate::domain::procedure::aprobacion::{self, ApprovalStatus};
use crate::domain::procedure::Effect;
use crate::domain::text::ApprovalAnswer;
use crate::domain::ticket::TicketNumber;
use crate::store::{approvals, from_unix, tickets, Conn};
use crate::workflow::WorkflowError;
use crate::workflow::{apply, load_ticket};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET /aprobaciones`: oldest first, each with what the approver decides on.
pub async fn lista(
    State(p): State<Arc<Panel>>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = signed_or_sign_in!(p, &headers);
    let items = pending_items(&p, &s.email, None).await?;
    let decided = past_decisions(&p, &s.email).await?;
    p.page(
        StatusCode::OK,
        "aprobaciones",
        "Aprobaciones pendientes",
        Some(&s),
        json!({ "items": items, "decided": decided, "csrf": s.csrf }),
    )
}

/// How many of their past decisions an approver sees below the pending ones.
const PAST_DECISIONS: i64 = 20;

/// `me`'s latest decisions, newest first.
async fn past_decisions(p: &Panel, me: &str) -> Result<Vec<Value>, PanelError> {
    let mut conn = p.db.pool.acquire().await?;
    let me = crate::domain::text::canonical_address(me);
    Ok(approvals::decided_by(&mut conn, &me, PAST_DECISIONS)
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "req": TicketNumber(d.ticket_id).to_string(),
                "subject": d.subject,
                "approved": d.status == ApprovalStatus::Approved.as_str(),
                "decided_at": d.decided_at.map(|t| p.display(from_unix(t))),
                "reason": d.reason.filter(|r| !r.trim().is_empty()),
            })
        })
        .collect())
}

/// The approvals waiting on `me` (only ticket `only`'s, when given), as the page shows them.
pub(super) async fn pending_items(
    p: &Panel,
    me: &str,
    only: Option<crate::domain::ticket::TicketNumber>,
) -> Result<Vec<Value>, PanelError> {
    let snap = p.procedure.snapshot();
    let mut conn = p.db.pool.acquire().await?;
    let mut items = Vec::new();
    for row in approvals::pending(&mut conn, Some(me)).await? {
        let n = crate::domain::ticket::TicketNumber(row.ticket_id);
        if only.is_some_and(|o| o != n) {
            continue;
        }
        let Some(t) = tickets::get(&mut conn, n).await? else {
            continue;
        };
        let t = t.to_domain(0)?;
        let service = t.service.as_deref().map(|c| snap.catalog.name_of(c));
        let requested = row.requested_at.map(from_unix);
        let calendar = &p.procedure.calendar;
        let due = requested
            .map(|r| calendar.add_business_hours(r, p.procedure.policy.approval_target_hours));
        // Of the 24 business hours the procedure gives: what is left now, or that none is.
        let left = due.map(|d| {
            let now = p.now();
            if d <= now {
                "Plazo vencido".to_owned()
            } else {
                let secs = calendar.business_seconds_between(now, d);
                format!("Quedan {} hábiles", crate::domain::es_co::hours(secs))
            }
        });
        let files: Vec<Value> = crate::store::messages::request_files(&mut conn, n)
            .await?
            .into_iter()
            .map(|a| json!({ "filename": a.filename, "size": crate::domain::es_co::size(a.size) }))
            .collect();
        // A substitute sees whose approval they give.
        let instead_of = row
            .approver
            .as_deref()
            .filter(|a| !same_person(a, me))
            .map(|a| snap.directory.label(a));
        let fields: Vec<Value> = t
            .fields
            .iter()
            // Shown apart above; stored as written ("Justificación"), so compared folded.
            .filter(|(k, v)| {
                !v.trim().is_empty() && crate::domain::text::field_key(k) != "justificacion"
            })
            .map(|(k, v)| json!({ "name": k, "value": v }))
            .collect();
        items.push(json!({
            "req": n.to_string(),
            "subject": t.subject,
            "requester": snap.directory.label(&t.requester),
            "service": service,
            "justification": t.field("justificacion"),
            "fields": fields,
            "requested_at": requested.map(|r| p.display(r)),
            "due": due.map(|d| p.display(d)),
            "left": left,
            "files": files,
            "instead_of": instead_of,
        }));
    }
    Ok(items)
}

/// What the decision came to, for the result page.
pub(super) enum Outcome {
    Decided {
        approved: bool,
    },
    /// Refused or without effect: the procedure's reason, as recorded on the ticket.
    NotDecided {
        status: StatusCode,
        why: String,
    },
}

/// The answer a posted form asks for (`decision`, optional `motivo`); the same fields on the
/// approval page and on the approval link's page.
pub(super) fn answer_of(form: &Form) -> Result<ApprovalAnswer, PanelError> {
    let reason = form.get("motivo").trim().to_owned();
    match form.get("decision") {
        "aprobar" => Ok(ApprovalAnswer::Approve { reason }),
        "rechazar" => Ok(ApprovalAnswer::Reject { reason }),
        _ => Err(PanelError::BadRequest("Elija aprobar o rechazar.")),
    }
}

/// The result page of a decision on ticket `n`, for the person signed in as `s`.
pub(super) fn outcome_page(
    p: &Panel,
    n: TicketNumber,
    outcome: Outcome,
    s: Option<&Signed>,
) -> Result<Response, PanelError> {
    let (status, data) = match outcome {
        Outcome::Decided { approved } => (
            StatusCode::OK,
            json!({ "req": n.to_string(), "decided": true, "approved": approved }),
        ),
        Outcome::NotDecided { status, why } => (
            status,
            json!({ "req": n.to_string(), "decided": false, "why": why }),
        ),
    };
    p.page(status, "resultado", "Resultado", s, data)
}

/// `POST /aprobaciones/{REQ-n}` with `decision=aprobar|rechazar`, optional `motivo`, `csrf`.
pub async fn decidir(
    State(p): State<Arc<Panel>>,
    Path(req): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PanelError> {
    let (s, form) = p.posted_form(&headers, &body).await?;
    let n = ticket_number(&req).ok_or(PanelError::NotFound)?;
    let answer = answer_of(&form)?;
    let outcome = retry_when_busy!(decide(&p, &s.email, n, &answer).await)?;
    let Some(outcome) = outcome else {
        return Err(PanelError::NotFound);
    };
    p.wake.notify_one();
    outcome_page(&p, n, outcome, Some(&s))
}

/// `None` when the ticket does not exist or has nothing to do with `me`: it is not theirs to
/// see. Everyone else — approver, substitute, requester — gets the procedure's answer.
async fn decide(
    p: &Panel,
    me: &str,
    n: TicketNumber,
    answer: &ApprovalAnswer,
) -> Result<Option<Outcome>, WorkflowError> {
    let _turn = p.db.write_turn().await;
    let mut tx = p.db.begin_write().await?;
    let outcome = decide_in(&mut tx, p, me, n, answer).await?;
    if outcome.is_some() {
        tx.commit().await?;
    }
    Ok(outcome)
}

/// [`decide`] inside the caller's transaction (the write turn held): the one path every panel
/// decision takes, whether the approver came through a session or the approval link.
pub(super) async fn decide_in(
    tx: &mut Conn,
    p: &Panel,
    me: &str,
    n: TicketNumber,
    answer: &ApprovalAnswer,
) -> Result<Option<Outcome>, WorkflowError> {
    let proc = &p.procedure;
    let Some(t) = load_ticket(tx, n).await? else {
        return Ok(None);
    };
    let involved = same_person(&t.requester, me)
        || t.approval.as_ref().is_some_and(|a| {
            [a.approver.as_deref(), a.substitute.as_deref()]
                .into_iter()
                .flatten()
                .any(|x| same_person(x, me))
        });
    if !involved {
        return Ok(None);
    }
    let snap = proc.snapshot();
    let ctx = proc.ctx(&snap, p.now());
    let evidence = Evidence {
        session: Some(me.to_owned()),
        ..Default::default()
    };
    let plan = aprobacion::on_answer_mail(t, me, &evidence, answer, proc.rules(), &ctx);
    apply(tx, &p.mailer, proc, &plan, &ctx).await?;
    if plan.effects.contains(&Effect::SpendApprovalTokens) {
        let approved = plan
            .ticket
            .approval
            .as_ref()
            .is_some_and(|a| a.status == ApprovalStatus::Approved);
        return Ok(Some(Outcome::Decided { approved }));
    }
    let (status, why) = plan
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Event {
                kind: EventKind::AccionRechazada,
                description,
                ..
            } => Some((StatusCode::FORBIDDEN, description.clone())),
            Effect::Event {
                kind: EventKind::RespuestaSinEfecto,
                description,
                ..
            } => Some((StatusCode::CONFLICT, description.clone())),
            _ => None,
        })
        .unwrap_or((
            StatusCode::CONFLICT,
            "La decisión no cambió el requerimiento.".to_owned(),
        ));
    Ok(Some(Outcome::NotDecided { status, why }))
}
