//! Requesters: their own requests (each one's page is `expediente`).

use super::{status_label, Panel, PanelError};
use crate::store::{from_unix, panel, tickets};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// When the request is due, as the requester should read it.
pub(super) fn sla_due(p: &Panel, row: &tickets::TicketRow) -> Option<String> {
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
    let s = signed_or_sign_in!(p, &headers);
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
