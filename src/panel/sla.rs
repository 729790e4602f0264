//! Coordinator, subdirector and director: `GET /sla`, the open tickets by SLA tier (under
//! 50 %, 50 %, 75 %, breached), per resolver group and per specialist. Counted by
//! `domain::sla_board` from the same clock the queue and the alerts use.

use super::{Panel, PanelError, Signed};
use crate::domain::sla_board::{self, Counts, OpenTicket, Tier};
use crate::store::panel_ticket::{self, QueueFilter};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// The signed-in person when the directory gives them a supervising role; anyone else signed
/// in gets 404 (it is not their page), and nobody signed in is sent to sign in.
pub(super) async fn require_supervisor(
    p: &Panel,
    headers: &HeaderMap,
) -> Result<Result<Signed, Response>, PanelError> {
    let s = match p.require(headers).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(Err(redirect)),
    };
    if !p.supervises(&s.email) {
        return Err(PanelError::NotFound);
    }
    Ok(Ok(s))
}

impl Panel {
    /// Coordinador, subdirector or director in the directory.
    pub(super) fn supervises(&self, email: &str) -> bool {
        self.procedure
            .snapshot()
            .directory
            .person(email)
            .is_some_and(|x| x.role.supervises())
    }
}

fn row(name: &str, c: &Counts) -> Value {
    json!({
        "name": name,
        "tiers": Tier::ALL.map(|t| c.get(t)),
        "total": c.total(),
    })
}

/// `GET /sla`.
pub async fn tablero(
    State(p): State<Arc<Panel>>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = match require_supervisor(&p, &headers).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let snap = p.procedure.snapshot();
    let cal = &p.procedure.calendar;
    let now = p.now();
    let mut conn = p.db.pool.acquire().await?;
    let rows = panel_ticket::open_clocks(&mut conn, &QueueFilter::default()).await?;
    let open: Vec<OpenTicket> = rows
        .iter()
        .map(|t| OpenTicket {
            assignee: t.assignee.as_deref(),
            service: t.service.as_deref(),
            used_secs: t.sla().used_at(cal, now),
            target_secs: t.sla_target_secs,
        })
        .collect();
    let board = sla_board::board(&open, &snap.directory, &snap.catalog);
    let table = |rows: &[(String, Counts)]| -> Vec<Value> {
        rows.iter().map(|(name, c)| row(name, c)).collect()
    };
    p.page(
        StatusCode::OK,
        "sla",
        "Tiempos de atención",
        Some(&s),
        json!({
            "tiers": Tier::ALL.map(Tier::label),
            "overall": row("Total", &board.overall),
            "groups": table(&board.groups),
            "specialists": table(&board.specialists),
            "at": p.display(now),
        }),
    )
}
