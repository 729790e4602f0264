//! One request's page, `GET /solicitudes/{REQ-n}`, and what can be done from it. Its
//! requester sees their conversation and writes (with files) as if answering by mail; agents,
//! specialists and coordinators also see the internal notes, the audit trail and every file,
//! and act with the forms of the mail commands (the same procedure path and refusals).
//! Anyone else gets 404, as for a request that does not exist.

use super::{
    same_person, see_other, staff_status_label, status_label, ticket_number, Form, Panel,
    PanelError, Signed,
};
use crate::domain::event_kind::EventKind;
use crate::domain::procedure::verificacion;
use crate::domain::text::{canonical_address, command};
use crate::domain::ticket::TicketNumber;
use crate::store::{events, from_unix, panel_ticket, tickets};
use crate::workflow::panel_in::{self, Acted, Upload};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Files sent with one message, together; the mail path keeps larger mail out the same way
/// (`ingest.max_message_bytes` defaults to 40 MiB).
pub const UPLOAD_MAX_BYTES: usize = 40 * 1024 * 1024;

/// The commands a staff member's forms offer, by the names the mail uses (`#asignar` …).
const ACTIONS: &[&str] = &[
    "asignar",
    "nota",
    "pendiente",
    "servicio",
    "prioridad",
    "aprobador",
    "cambio",
    "resolver",
    "cerrar",
];

pub fn routes() -> Router<Arc<Panel>> {
    Router::new()
        .route("/solicitudes/{req}", get(detalle))
        .route("/solicitudes/{req}/accion", post(accion))
        .route(
            "/solicitudes/{req}/mensaje",
            post(mensaje).layer(DefaultBodyLimit::max(UPLOAD_MAX_BYTES)),
        )
        .route("/solicitudes/{req}/adjuntos/{id}", get(adjunto))
}

/// Who the signed-in person is on this ticket.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Requester,
    Staff,
}

fn view_of(p: &Panel, me: &str, row: &tickets::TicketRow) -> Option<View> {
    if same_person(&row.requester, me) {
        return Some(View::Requester);
    }
    let staff = p
        .procedure
        .snapshot()
        .directory
        .person(me)
        .is_some_and(|x| x.works_tickets());
    staff.then_some(View::Staff)
}

/// The ticket and the person's view of it; 404 when there is none.
async fn load(
    p: &Panel,
    s: &Signed,
    req: &str,
) -> Result<(TicketNumber, tickets::TicketRow, View), PanelError> {
    let n = ticket_number(req).ok_or(PanelError::NotFound)?;
    let mut conn = p.db.pool.acquire().await?;
    let row = tickets::get(&mut conn, n)
        .await?
        .ok_or(PanelError::NotFound)?;
    let view = view_of(p, &s.email, &row).ok_or(PanelError::NotFound)?;
    Ok((n, row, view))
}

/// `GET /solicitudes/{REQ-n}`.
pub async fn detalle(
    State(p): State<Arc<Panel>>,
    Path(req): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = signed_or_sign_in!(p, &headers);
    let (n, row, view) = load(&p, &s, &req).await?;
    let done = q
        .get("hecho")
        .filter(|a| ACTIONS.contains(&a.as_str()) || a.as_str() == "mensaje")
        .map(|a| match a.as_str() {
            "mensaje" => "Enviamos su mensaje; también quedó en la solicitud.".to_owned(),
            a => format!("Listo: se aplicó #{a}."),
        });
    render(&p, &s, n, &row, view, StatusCode::OK, done, None).await
}

#[allow(clippy::too_many_arguments)]
async fn render(
    p: &Panel,
    s: &Signed,
    n: TicketNumber,
    t: &tickets::TicketRow,
    view: View,
    status: StatusCode,
    done: Option<String>,
    error: Option<String>,
) -> Result<Response, PanelError> {
    let snap = p.procedure.snapshot();
    let mut conn = p.db.pool.acquire().await?;
    let me = canonical_address(&s.email);
    let mail = panel_ticket::mail_of(&mut conn, n).await?;
    // The requester sees what their own mailbox holds: what they sent and what was sent to
    // them; never the staff's mail about the ticket, nor internal notes.
    let visible: Vec<&panel_ticket::MailRow> = mail
        .iter()
        .filter(|m| match view {
            View::Staff => true,
            View::Requester => match m.direction.as_str() {
                "in" => canonical_address(&m.from_addr) == me,
                _ => m
                    .to_addrs
                    .split(',')
                    .any(|a| canonical_address(a.trim()) == me),
            },
        })
        .collect();
    // Anyone can write the requester's address in From: what nothing proves is shown as such,
    // never as the requester's own words or files.
    let unproven = |m: &panel_ticket::MailRow| {
        use crate::store::messages::{AUTOMATIC, UNPROVEN};
        m.direction == "in"
            && UNPROVEN
                .into_iter()
                .chain(AUTOMATIC)
                .any(|k| m.kind == k.as_str())
    };
    let files: Vec<Value> = panel_ticket::files_of(&mut conn, n)
        .await?
        .into_iter()
        .filter_map(|f| {
            let m = visible.iter().find(|m| m.id == f.message_row)?;
            Some(json!({
                "href": format!("/solicitudes/{n}/adjuntos/{}", f.id),
                "filename": f.filename,
                "size": crate::domain::es_co::size(f.size),
                "unverified": unproven(m),
            }))
        })
        .collect();
    let conversation: Vec<Value> = visible
        .iter()
        .map(|m| {
            let inbound = m.direction == "in";
            let who = if inbound {
                snap.directory.name_or(&m.from_addr, &m.from_addr)
            } else {
                // Each recipient as the directory names them; a masked or unknown address as is.
                let to: Vec<String> = m
                    .to_addrs
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| snap.directory.name_or(a, a))
                    .collect();
                format!("Mesa de ayuda a {}", to.join(", "))
            };
            json!({
                "mine": inbound && canonical_address(&m.from_addr) == me && !unproven(m),
                "unverified": unproven(m),
                "inbound": inbound,
                "who": who,
                "at": p.display(from_unix(m.at)),
                "subject": m.subject,
                "body": m.body_text,
            })
        })
        .collect();
    let all_events = events::for_ticket(&mut conn, n).await?;
    let missing = (t.status == "pendiente_por_usuario")
        .then(|| {
            all_events
                .iter()
                .rev()
                .find(|e| e.kind == EventKind::Incompleto.as_str())
                .map(|e| verificacion::missing_shown(&e.description).to_owned())
        })
        .flatten();
    let service = t
        .service
        .as_deref()
        .and_then(|c| snap.catalog.by_code_or_name(c))
        .map(|x| x.name.clone())
        .or(t.service.clone());
    let mut data = json!({
        "req": n.to_string(),
        "subject": t.subject,
        "status": if view == View::Staff {
            staff_status_label(&t.status)
        } else {
            status_label(&t.status)
        },
        "service": service,
        "created_at": p.display(from_unix(t.created_at)),
        "due": super::solicitudes::sla_due(p, t),
        "messages": conversation,
        "files": files,
        "missing": missing,
        "open": t.status != "cerrado",
        "csrf": s.csrf,
        "done": done,
        "error": error,
        "staff": view == View::Staff,
        "requester_view": view == View::Requester,
    });
    if view == View::Staff {
        let notes: Vec<Value> = all_events
            .iter()
            .filter(|e| e.kind == EventKind::Nota.as_str())
            .map(|e| {
                json!({
                    "who": snap.directory.name_or(&e.actor, &e.actor),
                    "at": p.display(from_unix(e.at)),
                    "text": e.description.trim_start_matches("Nota interna: "),
                })
            })
            .collect();
        let trail: Vec<Value> = all_events
            .iter()
            .map(|e| {
                json!({
                    "activity": e.activity,
                    "at": p.display(from_unix(e.at)),
                    // "sistema" and addresses the directory does not know stay as they are.
                    "actor": snap.directory.name_or(&e.actor, &e.actor),
                    "kind": e.kind,
                    "description": e.description,
                })
            })
            .collect();
        let services: Vec<Value> = snap
            .catalog
            .services()
            .iter()
            .map(|x| {
                json!({
                    "code": x.code,
                    "name": x.name,
                    "selected": t.service.as_deref() == Some(x.code.as_str()),
                })
            })
            .collect();
        // The form opens on the ticket's own priority (none yet: media, the usual one).
        let priorities: Vec<Value> = ["alta", "media", "baja"]
            .iter()
            .map(|p| {
                json!({
                    "value": p,
                    "selected": t.priority.as_deref().map_or(*p == "media", |q| q == *p),
                })
            })
            .collect();
        let extra = json!({
            "requester": snap.directory.label(&t.requester),
            "assignee": t.assignee.as_deref().map(|a| snap.directory.label(a)),
            "assigned_to_me": t.assignee.as_deref().is_some_and(|a| same_person(a, &s.email)),
            "priority": t.priority,
            "priorities": priorities,
            "me": s.email,
            "notes": notes,
            "trail": trail,
            "services": services,
        });
        if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
    }
    p.page(
        status,
        "solicitud",
        &format!("Solicitud {n}"),
        Some(s),
        data,
    )
}

/// `POST /solicitudes/{REQ-n}/accion` with `accion` (`asignar`, `nota`, `pendiente`,
/// `servicio`, `prioridad`, `aprobador`, `cambio`, `resolver`, `cerrar`), `valor` and `csrf`:
/// the mail command `#accion valor`, for staff only.
pub async fn accion(
    State(p): State<Arc<Panel>>,
    Path(req): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PanelError> {
    let (s, form) = p.posted_form(&headers, &body).await?;
    let (n, row, view) = load(&p, &s, &req).await?;
    let name = form.get("accion");
    if !ACTIONS.contains(&name) {
        return Err(PanelError::BadRequest("Esa acción no existe."));
    }
    if view != View::Staff {
        let why = "Solo el personal de la mesa de ayuda que atiende solicitudes puede hacer esto; \
                   usted es quien hizo esta solicitud."
            .to_owned();
        return render(
            &p,
            &s,
            n,
            &row,
            view,
            StatusCode::FORBIDDEN,
            None,
            Some(why),
        )
        .await;
    }
    let cmd = command(name, form.get("valor"));
    let acted = in_write_tx!(p, |tx, ctx| panel_in::staff_command(
        &mut tx,
        &p.mailer,
        &p.procedure,
        n,
        &s.email,
        &cmd,
        &ctx
    )
    .await?)?;
    match acted {
        Acted::Done => {
            p.wake.notify_one();
            tracing::info!(ticket = %n, kind = name, "panel action applied");
            Ok(see_other(&format!("/solicitudes/{n}?hecho={name}")))
        }
        Acted::Refused(why) => {
            let row = reload(&p, n).await?;
            render(&p, &s, n, &row, view, StatusCode::CONFLICT, None, Some(why)).await
        }
        Acted::NotStaff => Err(PanelError::Forbidden),
        Acted::NotFound => Err(PanelError::NotFound),
    }
}

async fn reload(p: &Panel, n: TicketNumber) -> Result<tickets::TicketRow, PanelError> {
    let mut conn = p.db.pool.acquire().await?;
    tickets::get(&mut conn, n)
        .await?
        .ok_or(PanelError::NotFound)
}

/// `POST /solicitudes/{REQ-n}/mensaje` (multipart: `texto`, files in `adjuntos`, `csrf`): the
/// requester's message, handled as their mailed reply.
pub async fn mensaje(
    State(p): State<Arc<Panel>>,
    Path(req): Path<String>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, PanelError> {
    let s = p.signed_poster(&headers).await?;
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut files = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| PanelError::BadRequest("El formulario llegó incompleto o es muy grande."))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = field.bytes().await.map_err(|_| {
            PanelError::BadRequest("El formulario llegó incompleto o es muy grande.")
        })?;
        match (name.as_str(), filename) {
            ("adjuntos", Some(f)) if !f.is_empty() && !bytes.is_empty() => files.push(Upload {
                filename: f,
                content_type,
                content: bytes.to_vec(),
            }),
            ("adjuntos", _) => {}
            _ => {
                fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    let form = Form(fields);
    form.check_csrf(&s.csrf)?;
    let (n, row, view) = load(&p, &s, &req).await?;
    if view != View::Requester {
        // Staff answer the requester with the mail they were sent; the panel's forms are
        // the commands.
        return Err(PanelError::NotFound);
    }
    let text = form.get("texto").trim().to_owned();
    if text.is_empty() && files.is_empty() {
        let why = "Escriba un mensaje o adjunte un archivo.".to_owned();
        return render(
            &p,
            &s,
            n,
            &row,
            view,
            StatusCode::BAD_REQUEST,
            None,
            Some(why),
        )
        .await;
    }
    let landed = in_write_tx!(p, |tx, ctx| panel_in::requester_message(
        &mut tx,
        &p.mailer,
        &p.procedure,
        n,
        &row.subject,
        &s.email,
        &text,
        &files,
        &ctx,
    )
    .await?)?;
    p.wake.notify_one();
    tracing::info!(ticket = %landed, count = files.len(), "requester message taken from the panel");
    Ok(see_other(&format!("/solicitudes/{landed}?hecho=mensaje")))
}

/// `GET /solicitudes/{REQ-n}/adjuntos/{id}`: a file the person may see on that ticket, always
/// as a download (never rendered in the panel's origin).
pub async fn adjunto(
    State(p): State<Arc<Panel>>,
    Path((req, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = signed_or_sign_in!(p, &headers);
    let (n, _row, view) = load(&p, &s, &req).await?;
    let mut conn = p.db.pool.acquire().await?;
    let (file, content) = panel_ticket::file(&mut conn, n, id)
        .await?
        .ok_or(PanelError::NotFound)?;
    if view == View::Requester {
        let me = canonical_address(&s.email);
        let mail = panel_ticket::mail_of(&mut conn, n).await?;
        let theirs = mail.iter().any(|m| {
            m.id == file.message_row
                && match m.direction.as_str() {
                    "in" => canonical_address(&m.from_addr) == me,
                    _ => m
                        .to_addrs
                        .split(',')
                        .any(|a| canonical_address(a.trim()) == me),
                }
        });
        if !theirs {
            return Err(PanelError::NotFound);
        }
    }
    let content = match content {
        panel_ticket::FileContent::Here(bytes) => bytes,
        panel_ticket::FileContent::InMail { sha256 } => {
            let raw = crate::store::messages::raw_of(&mut conn, file.message_row)
                .await?
                .unwrap_or_default();
            crate::mail::inbound::attachment_in_mail(&raw, &sha256).ok_or_else(|| {
                PanelError::Internal(format!(
                    "attachment {id} not found in its stored mail (row {})",
                    file.message_row
                ))
            })?
        }
    };
    let disposition = content_disposition(&file.filename);
    Response::builder()
        .status(StatusCode::OK)
        // Whatever the sender declared, the browser gets bytes to save, not a page to run.
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        )
        .body(Body::from(content))
        .map_err(|e| PanelError::Internal(format!("attachment response: {e}")))
}

/// `attachment` with an ASCII `filename` and the real one in `filename*` (RFC 6266/8187).
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .-_()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn downloads_name_the_file_safely() {
        assert_eq!(
            super::content_disposition("cédula \"x\".pdf"),
            "attachment; filename=\"c_dula _x_.pdf\"; filename*=UTF-8''c%C3%A9dula%20%22x%22%2Epdf"
        );
    }
}
