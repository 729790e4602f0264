//! The direct link of an approval request (`[web] base_url` set): bound to its approver and
//! that ticket, valid 7 days and once. Opening it (`GET`) spends nothing and decides nothing:
//! mail security scanners (Defender Safe Links, Proofpoint) open every link of a mail, and the
//! approver's own tap must still find it usable. The page shows the approval with its two
//! buttons; their `POST` spends the link and records the decision, and signs the approver in
//! when a decision was taken.

use super::aprobaciones::{answer_of, decide_in, outcome_page, Outcome};
use super::ingreso::{invalid_link, with_cookie};
use super::{
    same_person, see_other, session_csrf, ticket_number, Form, Panel, PanelError, Signed,
    SESSION_COOKIE, SESSION_IDLE_SECS,
};
use crate::domain::procedure::aprobacion::ApprovalStatus;
use crate::domain::text::ApprovalAnswer;
use crate::domain::ticket::TicketNumber;
use crate::store::{self, approvals, panel};
use crate::workflow::WorkflowError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET /ingresar/{token}` for a ticket-bound link: `None` when the token is not one (the
/// ordinary sign-in link's confirmation page follows). While the link is usable: the approval
/// and its form, to anyone holding the link, as often as it is opened. Once spent: whoever it
/// signed in goes on to the approval's page; anyone else is refused like any spent link.
pub(super) async fn entrar(
    p: &Panel,
    token: &str,
    headers: &HeaderMap,
) -> Result<Option<Response>, PanelError> {
    let mut conn = p.db.pool.acquire().await?;
    let now = store::unix(p.now());
    let Some(link) = panel::ticket_link(&mut conn, token, now).await? else {
        return Ok(None);
    };
    drop(conn);
    let n = link.ticket;
    if link.usable {
        let (items, note) = approval_view(p, &link.email, n)
            .await?
            .unwrap_or_else(|| (Vec::new(), Some(not_yours(n))));
        // The form posts back to this link: see `decidir` for why that needs no CSRF field.
        return p
            .page(
                StatusCode::OK,
                "aprobaciones",
                &format!("Aprobación de {n}"),
                None,
                json!({ "items": items, "note": note, "link": token }),
            )
            .map(Some);
    }
    spent(p, headers, &link.email, n).await.map(Some)
}

/// `POST /ingresar/{token}` for a ticket-bound link, with `decision=aprobar|rechazar` and an
/// optional `motivo`: spends the link, starts the approver's session and records the decision
/// through the panel's one decision path, in one transaction. `None` when the token is not a
/// ticket-bound link (the ordinary sign-in follows).
///
/// No CSRF field: before this POST there is no session to bind one to, and the link's token
/// in the form's action does that job. It is 256 random bits, mailed only to this approver and
/// bound to this ticket, so a page on another site cannot forge this POST without knowing it,
/// and whoever knows it already holds everything the POST would prove.
pub(super) async fn decidir(
    p: &Panel,
    token: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Response>, PanelError> {
    let mut conn = p.db.pool.acquire().await?;
    let now = store::unix(p.now());
    let Some(link) = panel::ticket_link(&mut conn, token, now).await? else {
        return Ok(None);
    };
    drop(conn);
    // A page elsewhere posting someone's own link would sign the reader in as that someone
    // (login CSRF): the browser names the page's origin, and it must be ours.
    if !p.same_origin(headers) {
        return Err(PanelError::Forbidden);
    }
    // A form without a decision spends nothing.
    let answer = answer_of(&Form::parse(body))?;
    let session = panel::new_secret();
    let decided = retry_when_busy!(spend_and_decide(p, token, &session, &answer).await)?;
    let Some((email, n, outcome)) = decided else {
        return spent(p, headers, &link.email, link.ticket).await.map(Some);
    };
    p.wake.notify_one();
    if !matches!(outcome, Outcome::Decided { .. }) {
        // Nothing decided (already decided by mail, moved on to another approver, refused):
        // the link signs nobody in, or an old forwarded mail would open the approver's panel.
        return outcome_page(p, n, outcome, None).map(Some);
    }
    tracing::info!(ticket = %n, "panel session started from an approval link");
    let s = Signed {
        email,
        csrf: session_csrf(&session),
        secret: session,
    };
    let r = outcome_page(p, n, outcome, Some(&s))?;
    let set = p.cookie(SESSION_COOKIE, &s.secret, None);
    Ok(Some(with_cookie(r, Some(set))))
}

/// Spends the link, starts the session `session` for its approver and decides, all or
/// nothing; `None` when the link was already spent or has expired.
async fn spend_and_decide(
    p: &Panel,
    token: &str,
    session: &str,
    answer: &ApprovalAnswer,
) -> Result<Option<(String, TicketNumber, Outcome)>, WorkflowError> {
    let now = store::unix(p.now());
    let _turn = p.db.write_turn().await;
    let mut tx = p.db.begin_write().await?;
    let Some((email, n)) = panel::use_ticket_link(&mut tx, token, now).await? else {
        return Ok(None);
    };
    // The approval moved on to someone else since the mail (a new approver was named): the
    // page says the request no longer waits on them.
    let outcome = decide_in(&mut tx, p, &email, n, answer)
        .await?
        .unwrap_or_else(|| Outcome::NotDecided {
            status: StatusCode::CONFLICT,
            why: not_yours(n),
        });
    // Only a decision taken signs the approver in (see `decidir`).
    if matches!(outcome, Outcome::Decided { .. }) {
        panel::add_session(&mut tx, session, &email, now).await?;
        panel::forget_expired(&mut tx, now, now - SESSION_IDLE_SECS).await?;
    }
    tx.commit().await?;
    Ok(Some((email, n, outcome)))
}

/// A spent or expired link: the person it signed in (a second tap on the mail, a reload of
/// the result) goes on to the approval's page; anyone else is refused like any spent link.
async fn spent(
    p: &Panel,
    headers: &HeaderMap,
    email: &str,
    n: TicketNumber,
) -> Result<Response, PanelError> {
    let signed = p.signed(headers).await?;
    if signed.is_some_and(|s| same_person(&s.email, email)) {
        return Ok(see_other(&format!("/aprobaciones/{n}")));
    }
    invalid_link(p, true)
}

fn not_yours(n: TicketNumber) -> String {
    format!("La solicitud {n} no espera su decisión.")
}

/// What the approval page shows `me` of ticket `n`: the approval with its form while it waits
/// on them, else a note of what became of it; `None` when it never concerned them.
async fn approval_view(
    p: &Panel,
    me: &str,
    n: TicketNumber,
) -> Result<Option<(Vec<Value>, Option<String>)>, PanelError> {
    let items = super::aprobaciones::pending_items(p, me, Some(n)).await?;
    if !items.is_empty() {
        return Ok(Some((items, None)));
    }
    let mut conn = p.db.pool.acquire().await?;
    let Some(a) = approvals::load(&mut conn, n).await?.filter(|a| {
        [&a.approver, &a.substitute, &a.decided_by]
            .into_iter()
            .flatten()
            .any(|x| same_person(x, me))
    }) else {
        return Ok(None);
    };
    let by = a
        .decided_by
        .as_deref()
        .map(|d| p.procedure.snapshot().directory.name_or(d, d))
        .map(|name| format!(" por {name}"))
        .unwrap_or_default();
    let note = match a.status {
        ApprovalStatus::Approved => format!("La solicitud {n} ya fue aprobada{by}."),
        ApprovalStatus::Rejected => format!("La solicitud {n} ya fue rechazada{by}."),
        ApprovalStatus::Cancelled => {
            format!("La solicitud {n} ya no espera aprobación: fue cerrada.")
        }
        _ => not_yours(n),
    };
    Ok(Some((Vec::new(), Some(note))))
}

/// `GET /aprobaciones/{REQ-n}`: that approval with its form while it waits on the signed-in
/// person; once decided, what became of it. Anyone it never concerned gets 404.
pub async fn una(
    State(p): State<Arc<Panel>>,
    Path(req): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = signed_or_sign_in!(p, &headers);
    let n = ticket_number(&req).ok_or(PanelError::NotFound)?;
    let (items, note) = approval_view(&p, &s.email, n)
        .await?
        .ok_or(PanelError::NotFound)?;
    p.page(
        StatusCode::OK,
        "aprobaciones",
        &format!("Aprobación de {n}"),
        Some(&s),
        json!({ "items": items, "csrf": s.csrf, "note": note }),
    )
}
