//! `GET /cola`: for agents, specialists and coordinators, the open tickets, the one closest to
//! breaching its SLA first, with a bar for the SLA used. Filters are GET query parameters, so
//! a filtered queue is a link to keep: `ver` (`sin_asignar`, `mias`, `mis_grupos`), `estado`
//! (a status), `servicio` (a catalogue code) and `nivel` (`menos_50`, `50`, `75`, `vencidas`).
//! Anyone else gets 404: it is not their page.

use super::{status_label, Panel, PanelError};
use crate::domain::text::canonical_address;
use crate::store::panel_ticket::{self, QueueFilter};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const VIEWS: &[(&str, &str)] = &[
    ("", "Todas"),
    ("sin_asignar", "Sin asignar"),
    ("mias", "Asignadas a mí"),
    ("mis_grupos", "De mis grupos"),
];

const STATUSES: &[&str] = &[
    "registrado",
    "pendiente_por_usuario",
    "pendiente_aprobacion",
    "trabajo_en_progreso",
    "resuelto",
];

/// The SLA tiers of the escalation: under half, from half, from three quarters, breached.
const TIERS: &[(&str, &str)] = &[
    ("", "Todos"),
    ("menos_50", "Menos del 50 %"),
    ("50", "50 % a 75 %"),
    ("75", "75 % a 100 %"),
    ("vencidas", "Vencidas"),
];

fn tier(percent: i64) -> &'static str {
    match percent {
        p if p >= 100 => "vencidas",
        p if p >= 75 => "75",
        p if p >= 50 => "50",
        _ => "menos_50",
    }
}

pub async fn cola(
    State(p): State<Arc<Panel>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = signed_or_sign_in!(p, &headers);
    let snap = p.procedure.snapshot();
    if !snap
        .directory
        .person(&s.email)
        .is_some_and(|x| x.works_tickets())
    {
        return Err(PanelError::NotFound);
    }
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let me = canonical_address(&s.email);
    let view = get("ver").filter(|v| VIEWS.iter().any(|(k, _)| k == v));
    let status = get("estado").filter(|v| STATUSES.contains(v));
    let service = get("servicio").and_then(|c| snap.catalog.by_code_or_name(c));
    let level = get("nivel").filter(|v| TIERS.iter().any(|(k, _)| k == v));
    let filter = QueueFilter {
        status: status.map(str::to_owned),
        service: service.map(|x| x.code.clone()),
        unassigned: view == Some("sin_asignar"),
        assignees: match view {
            Some("mias") => Some(vec![me.clone()]),
            Some("mis_grupos") => Some(
                snap.directory
                    .groups()
                    .iter()
                    .filter(|g| g.members.iter().any(|m| canonical_address(m) == me))
                    .map(|g| g.code.clone())
                    .collect(),
            ),
            _ => None,
        },
    };
    let cal = &p.procedure.calendar;
    let now = p.now();
    let mut conn = p.db.pool.acquire().await?;
    let mut rows: Vec<(i64, Value)> = panel_ticket::queue(&mut conn, &filter)
        .await?
        .iter()
        .filter_map(|t| {
            let sla = t.sla();
            let used = sla.used_at(cal, now);
            let left = sla.target_secs - used;
            let percent = if sla.target_secs > 0 {
                (used * 100 / sla.target_secs).clamp(0, 999)
            } else {
                0
            };
            if level.is_some_and(|l| l != tier(percent)) {
                return None;
            }
            let item = json!({
                "req": t.number().to_string(),
                "subject": t.subject,
                "requester": snap.directory.label(&t.requester),
                "status": status_label(&t.status),
                "assignee": t.assignee.as_deref().map(|a| snap.directory.label(a)),
                "unassigned": t.assignee.is_none(),
                "percent": percent,
                "bar": percent.min(100),
                "tier": tier(percent),
                "breached": left <= 0,
                "paused": sla.is_paused(),
                "left": crate::domain::es_co::hours(left.abs()),
            });
            Some((left, item))
        })
        .collect();
    rows.sort_by_key(|(left, _)| *left);
    let items: Vec<Value> = rows.into_iter().map(|(_, v)| v).collect();
    let options = |list: &[(&str, &str)], chosen: Option<&str>| -> Vec<Value> {
        list.iter()
            .map(|(k, label)| json!({ "value": k, "label": label, "selected": chosen.unwrap_or("") == *k }))
            .collect()
    };
    let statuses: Vec<Value> = std::iter::once(
        json!({ "value": "", "label": "Todos", "selected": status.is_none() }),
    )
    .chain(STATUSES.iter().map(
        |st| json!({ "value": st, "label": status_label(st), "selected": status == Some(*st) }),
    ))
    .collect();
    let services: Vec<Value> =
        std::iter::once(json!({ "value": "", "label": "Todos", "selected": service.is_none() }))
            .chain(snap.catalog.services().iter().map(|x| {
                json!({
                    "value": x.code,
                    "label": x.name,
                    "selected": service.is_some_and(|c| c.code == x.code),
                })
            }))
            .collect();
    p.page(
        StatusCode::OK,
        "cola",
        "Cola de solicitudes",
        Some(&s),
        json!({
            "items": items,
            "csrf": s.csrf,
            "me": s.email,
            "views": options(VIEWS, view),
            "statuses": statuses,
            "services": services,
            "tiers": options(TIERS, level),
            "filtered": view.is_some() || status.is_some() || service.is_some() || level.is_some(),
        }),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn tiers_follow_the_escalation_thresholds() {
        let t: Vec<&str> = [0, 49, 50, 74, 75, 99, 100, 250]
            .into_iter()
            .map(super::tier)
            .collect();
        assert_eq!(
            t,
            ["menos_50", "menos_50", "50", "50", "75", "75", "vencidas", "vencidas"]
        );
    }
}
