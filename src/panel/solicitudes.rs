//! Requesters: their own requests and each one's conversation. Agents: the open queue.

use super::{same_person, status_label, ticket_number, Panel, PanelError};
use crate::domain::text::canonical_address;
use crate::store::{from_unix, messages, panel, tickets};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// When the request is due, as the requester should read it.
fn sla_due(p: &Panel, row: &tickets::TicketRow) -> Option<String> {
    let status = row.status.as_str();
    if matches!(status, "resuelto" | "cerrado") {
        return None;
    }
    let sla = row.sla();
    if sla.is_paused() {
        return Some("En pausa mientras se espera una respuesta".to_owned());
    }
    sla.deadline(&p.procedure.calendar).map(|d| p.display(d))
}

/// `GET /solicitudes`: the signed-in person's own requests, newest first.
pub async fn lista(
    State(p): State<Arc<Panel>>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = match p.require(&headers).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let mut conn = p.db.pool.acquire().await?;
    let items: Vec<Value> = panel::tickets_of(&mut conn, &s.email)
        .await?
        .iter()
        .map(|t| {
            json!({
                "req": t.number().to_string(),
                "subject": t.subject,
                "status": status_label(&t.status),
                "created_at": p.display(from_unix(t.created_at)),
                "due": sla_due(&p, t),
            })
        })
        .collect();
    p.page(
        StatusCode::OK,
        "solicitudes",
        "Mis solicitudes",
        Some(&s),
        json!({ "items": items }),
    )
}

/// `GET /solicitudes/{REQ-n}`: the request and the mail the requester sent and received —
/// what their own mailbox holds, never the staff's mail or internal notes.
pub async fn detalle(
    State(p): State<Arc<Panel>>,
    Path(req): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = match p.require(&headers).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let n = ticket_number(&req).ok_or(PanelError::NotFound)?;
    let mut conn = p.db.pool.acquire().await?;
    // Someone else's request, or none: the same 404, so nothing tells them apart.
    let t = tickets::get(&mut conn, n)
        .await?
        .filter(|t| same_person(&t.requester, &s.email))
        .ok_or(PanelError::NotFound)?;
    let me = canonical_address(&s.email);
    let conversation: Vec<Value> = messages::for_ticket(&mut conn, n)
        .await?
        .into_iter()
        .filter(|m| match m.direction.as_str() {
            "in" => canonical_address(&m.from_addr) == me,
            _ => m
                .to_addrs
                .split(',')
                .any(|a| canonical_address(a.trim()) == me),
        })
        .map(|m| {
            json!({
                "mine": m.direction == "in",
                "at": p.display(from_unix(m.at)),
                "subject": m.subject,
                "body": m.body_text,
            })
        })
        .collect();
    let snap = p.procedure.snapshot();
    let service = t
        .service
        .as_deref()
        .and_then(|c| snap.catalog.by_code_or_name(c))
        .map(|x| x.name.clone());
    p.page(
        StatusCode::OK,
        "solicitud",
        &format!("Solicitud {n}"),
        Some(&s),
        json!({
            "req": n.to_string(),
            "subject": t.subject,
            "status": status_label(&t.status),
            "service": service,
            "created_at": p.display(from_unix(t.created_at)),
            "due": sla_due(&p, &t),
            "messages": conversation,
        }),
    )
}

/// `GET /cola`: for agents, specialists and coordinators, the open tickets, the one closest
/// to breaching its SLA first. Anyone else gets 404: it is not their page.
pub async fn cola(State(p): State<Arc<Panel>>, headers: HeaderMap) -> Result<Response, PanelError> {
    let s = match p.require(&headers).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let snap = p.procedure.snapshot();
    if !snap
        .directory
        .person(&s.email)
        .is_some_and(|x| x.works_tickets())
    {
        return Err(PanelError::NotFound);
    }
    let cal = &p.procedure.calendar;
    let now = p.now();
    let mut conn = p.db.pool.acquire().await?;
    let mut rows: Vec<(i64, Value)> = panel::open_tickets(&mut conn)
        .await?
        .iter()
        .map(|t| {
            let sla = t.sla();
            let used = sla.used_at(cal, now);
            let left = sla.target_secs - used;
            let percent = if sla.target_secs > 0 {
                (used * 100 / sla.target_secs).clamp(0, 999)
            } else {
                0
            };
            let item = json!({
                "req": t.number().to_string(),
                "subject": t.subject,
                "requester": snap.directory.label(&t.requester),
                "status": status_label(&t.status),
                "assignee": t.assignee.as_deref().map(|a| snap.directory.label(a)),
                "percent": percent,
                "breached": left <= 0,
                "paused": sla.is_paused(),
                "left": crate::domain::es_co::hours(left.abs()),
            });
            (left, item)
        })
        .collect();
    rows.sort_by_key(|(left, _)| *left);
    let items: Vec<Value> = rows.into_iter().map(|(_, v)| v).collect();
    p.page(
        StatusCode::OK,
        "cola",
        "Cola de solicitudes",
        Some(&s),
        json!({ "items": items }),
    )
}
