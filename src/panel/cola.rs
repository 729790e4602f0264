//! `GET /cola`: for agents, specialists and coordinators, the open tickets, the one closest to
//! breaching its SLA first, with a bar for the SLA used. Filters are GET query parameters, so
//! a filtered queue is a link to keep: `ver` (`sin_asignar`, `mias`, `mis_grupos`), `estado`
//! (a status), `servicio` (a catalogue code) and `nivel` (`menos_50`, `50`, `75`, `vencidas`).
//! `pagina` (from 1) is the page, of [`PAGE_SIZE`] tickets, with links to the next and the
//! previous one that keep the filters.
//! Anyone else gets 404: it is not their page.

use super::{staff_status_label, Panel, PanelError};
use crate::domain::text::canonical_address;
use crate::store::panel_ticket::{self, OpenClock, QueueFilter};
use crate::store::tickets::TicketRow;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Tickets on one page of the queue: a screenful or two on a phone, and the page stays small
/// however many tickets are open.
pub const PAGE_SIZE: usize = 50;

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
    // "De mis grupos": what my groups have — assigned to one of them or to one of their
    // members — and their new work nobody took yet, which reaches them through their services.
    let my_groups: Vec<_> = snap
        .directory
        .groups()
        .iter()
        .filter(|g| g.members.iter().any(|m| canonical_address(m) == me))
        .collect();
    let group_view = view == Some("mis_grupos");
    let filter = QueueFilter {
        status: status.map(str::to_owned),
        service: service.map(|x| x.code.clone()),
        unassigned: view == Some("sin_asignar"),
        assignees: match view {
            Some("mias") => Some(vec![me.clone()]),
            Some("mis_grupos") => Some(
                my_groups
                    .iter()
                    .flat_map(|g| {
                        std::iter::once(g.code.clone())
                            .chain(g.members.iter().map(|m| canonical_address(m)))
                    })
                    .collect(),
            ),
            _ => None,
        },
        unassigned_of_services: if group_view {
            snap.catalog
                .services()
                .iter()
                .filter(|x| {
                    x.group
                        .as_deref()
                        .is_some_and(|c| my_groups.iter().any(|g| g.code == c))
                })
                .map(|x| x.code.clone())
                .collect()
        } else {
            Vec::new()
        },
    };
    let cal = &p.procedure.calendar;
    let now = p.now();
    let mut conn = p.db.pool.acquire().await?;
    // Every open ticket's clock (narrow rows, from an index) to rank them all by time left,
    // which only the calendar computes; then the whole rows of one page only.
    let clocks = panel_ticket::open_clocks(&mut conn, &filter).await?;
    let mut ranked: Vec<(i64, i64, &OpenClock)> = clocks
        .iter()
        .filter_map(|c| {
            let sla = c.sla();
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
            Some((left, percent, c))
        })
        .collect();
    ranked.sort_by_key(|(left, _, c)| (*left, c.id));
    let total = ranked.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = get("pagina")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let shown = &ranked[((page - 1) * PAGE_SIZE).min(total)..(page * PAGE_SIZE).min(total)];
    let ids: Vec<_> = shown.iter().map(|(_, _, c)| c.number()).collect();
    let rows: HashMap<i64, TicketRow> = panel_ticket::tickets(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let items: Vec<Value> = shown
        .iter()
        .filter_map(|&(left, percent, c)| {
            let t = rows.get(&c.id)?;
            Some(json!({
                "req": t.number().to_string(),
                "subject": t.subject,
                "requester": snap.directory.label(&t.requester),
                "status": staff_status_label(&t.status),
                "assignee": t.assignee.as_deref().map(|a| snap.directory.label(a)),
                "unassigned": t.assignee.is_none(),
                "percent": percent,
                "bar": percent.min(100),
                "tier": tier(percent),
                "breached": left <= 0,
                "paused": c.sla().is_paused(),
                "left": crate::domain::es_co::hours(left.abs()),
            }))
        })
        .collect();
    // The same queue, another page: the filters stay in the link.
    let link = |to: usize| -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("ver", view),
            ("estado", status),
            ("servicio", service.map(|x| x.code.as_str())),
            ("nivel", level),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.append_pair("pagina", &to.to_string());
        format!("/cola?{}", q.finish())
    };
    let paging = json!({
        "first": (page - 1) * PAGE_SIZE + 1,
        "last": (page - 1) * PAGE_SIZE + shown.len(),
        "total": crate::domain::es_co::decimal(total as f64, 0),
        "page": page,
        "pages": pages,
        "several": pages > 1,
        "prev": (page > 1).then(|| link(page - 1)),
        "next": (page < pages).then(|| link(page + 1)),
    });
    let options = |list: &[(&str, &str)], chosen: Option<&str>| -> Vec<Value> {
        list.iter()
            .map(|(k, label)| json!({ "value": k, "label": label, "selected": chosen.unwrap_or("") == *k }))
            .collect()
    };
    let statuses: Vec<Value> = std::iter::once(
        json!({ "value": "", "label": "Todos", "selected": status.is_none() }),
    )
    .chain(STATUSES.iter().map(
        |st| json!({ "value": st, "label": staff_status_label(st), "selected": status == Some(*st) }),
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
            "paging": paging,
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
