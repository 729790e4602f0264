//! `GET|POST /solicitudes/nueva`: a request taken by phone, registered by an agent,
//! specialist or coordinator for the person who called: the `#solicitante` mail, by the same
//! path (`mail_in::open`), with the panel session as the proof of who registers it.

use super::{see_other, Panel, PanelError, Signed};
use crate::domain::text::parse_email;
use crate::workflow::mail_in::Opened;
use crate::workflow::panel_in;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

fn staff(p: &Panel, s: &Signed) -> bool {
    p.procedure
        .snapshot()
        .directory
        .person(&s.email)
        .is_some_and(|x| x.works_tickets())
}

fn form_page(
    p: &Panel,
    s: &Signed,
    status: StatusCode,
    data: Value,
) -> Result<Response, PanelError> {
    let mut data = data;
    if let Some(d) = data.as_object_mut() {
        d.insert("csrf".into(), json!(s.csrf));
    }
    p.page(
        status,
        "telefonica",
        "Registrar una solicitud telefónica",
        Some(s),
        data,
    )
}

pub async fn formulario(
    State(p): State<Arc<Panel>>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = signed_or_sign_in!(p, &headers);
    if !staff(&p, &s) {
        return Err(PanelError::NotFound);
    }
    form_page(&p, &s, StatusCode::OK, json!({}))
}

/// Fields `solicitante` (the caller's address), `asunto`, `texto` and `csrf`.
pub async fn registrar(
    State(p): State<Arc<Panel>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PanelError> {
    let (s, form) = p.posted_form(&headers, &body).await?;
    if !staff(&p, &s) {
        return Err(PanelError::NotFound);
    }
    let typed = json!({
        "solicitante": form.get("solicitante"),
        "asunto": form.get("asunto"),
        "texto": form.get("texto"),
    });
    let refuse = |why: String| {
        let mut d = typed.clone();
        d["error"] = json!(why);
        form_page(&p, &s, StatusCode::BAD_REQUEST, d)
    };
    let requester = match parse_email(form.get("solicitante")) {
        Ok(e) => e,
        Err(why) => return refuse(format!("Solicitante: {why}")),
    };
    let subject = form.get("asunto").trim().to_owned();
    let text = form.get("texto").trim().to_owned();
    if subject.is_empty() || text.is_empty() {
        return refuse("Escriba el asunto y lo que la persona pidió.".into());
    }
    let opened = in_write_tx!(p, |tx, ctx| panel_in::phone_request(
        &mut tx,
        &p.mailer,
        &p.procedure,
        &s.email,
        &requester,
        &subject,
        &text,
        &[],
        &ctx,
    )
    .await?)?;
    p.wake.notify_one();
    match opened {
        Opened::Ticket(n) => {
            tracing::info!(ticket = %n, "phone request registered from the panel");
            Ok(see_other(&format!("/solicitudes/{n}")))
        }
        Opened::Incident(id) => form_page(
            &p,
            &s,
            StatusCode::OK,
            json!({ "done": format!("Lo que la persona describe es un incidente: quedó registrado como INC-{id} y se envió a gestión de incidentes.") }),
        ),
        Opened::Catalog => form_page(
            &p,
            &s,
            StatusCode::OK,
            json!({ "done": "Con el asunto «catálogo» no se registra una solicitud: se le envió el catálogo de servicios." }),
        ),
        Opened::Unverified => refuse("No se pudo verificar quién registra la solicitud.".into()),
    }
}
