//! The direct link of an approval request (`[web] base_url` set): bound to its approver and
//! that ticket, valid 7 days and once. Opening it signs the approver in and shows that
//! approval with its form; only the form's `POST` (with its CSRF token) decides.

use super::ingreso::{invalid_link, with_cookie};
use super::{
    same_person, see_other, ticket_number, Panel, PanelError, SESSION_COOKIE, SESSION_IDLE_SECS,
};
use crate::domain::procedure::aprobacion::ApprovalStatus;
use crate::store::{self, approvals, panel};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

/// `GET /ingresar/{token}` for a ticket-bound link: `None` when the token is not one (the
/// ordinary sign-in link's confirmation page follows).
pub(super) async fn entrar(
    p: &Panel,
    token: &str,
    headers: &HeaderMap,
) -> Result<Option<Response>, PanelError> {
    let mut conn = p.db.pool.acquire().await?;
    let Some((email, n)) = panel::ticket_link(&mut conn, token).await? else {
        return Ok(None);
    };
    drop(conn);
    let now = store::unix(p.now());
    let session = panel::new_secret();
    let started = {
        let _turn = p.db.write_turn().await;
        let mut tx = p.db.pool.begin().await?;
        let used = panel::use_ticket_link(&mut tx, token, now).await?;
        if used.is_some() {
            panel::add_session(&mut tx, &session, &email, now).await?;
            panel::forget_expired(&mut tx, now, now - SESSION_IDLE_SECS).await?;
        }
        tx.commit().await?;
        used.is_some()
    };
    let to = format!("/aprobaciones/{n}");
    if started {
        tracing::info!(ticket = %n, "panel session started from an approval link");
        let set = p.cookie(SESSION_COOKIE, &session, None);
        return Ok(Some(with_cookie(see_other(&to), Some(set))));
    }
    // Spent or expired. Whoever it already signed in (a second tap on the mail) goes on to
    // the approval; anyone else is refused like any spent link.
    let signed = p.signed(headers).await?;
    if signed.is_some_and(|s| same_person(&s.email, &email)) {
        return Ok(Some(see_other(&to)));
    }
    invalid_link(p, true).map(Some)
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
    let items = super::aprobaciones::pending_items(&p, &s.email, Some(n)).await?;
    let mut note = None;
    if items.is_empty() {
        let mut conn = p.db.pool.acquire().await?;
        let a = approvals::load(&mut conn, n)
            .await?
            .filter(|a| {
                [&a.approver, &a.substitute, &a.decided_by]
                    .into_iter()
                    .flatten()
                    .any(|x| same_person(x, &s.email))
            })
            .ok_or(PanelError::NotFound)?;
        let by = a
            .decided_by
            .as_deref()
            .map(|d| p.procedure.snapshot().directory.name_or(d, d))
            .map(|name| format!(" por {name}"))
            .unwrap_or_default();
        note = Some(match a.status {
            ApprovalStatus::Approved => format!("La solicitud {n} ya fue aprobada{by}."),
            ApprovalStatus::Rejected => format!("La solicitud {n} ya fue rechazada{by}."),
            ApprovalStatus::Cancelled => {
                format!("La solicitud {n} ya no espera aprobación: fue cerrada.")
            }
            _ => format!("La solicitud {n} no espera su decisión."),
        });
    }
    p.page(
        StatusCode::OK,
        "aprobaciones",
        &format!("Aprobación de {n}"),
        Some(&s),
        json!({ "items": items, "csrf": s.csrf, "note": note }),
    )
}
