//! Only the people the procedure names can decide or change a ticket (issue 11): a forger who
//! knows the help desk's address book tries everything, and nothing changes — while the real
//! staff, answering their own mail or vouched for by our MTA, still work.

mod support;

use support::flow::{events, inbox_with, tag, ticket_where, token_of};

use mesayuda::mail::inbound::InboundMail;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World};

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LAURA: &str = "laura.rojas@example.test";
const LUISA: &str = "luisa.martinez@example.test";
const SANDRA: &str = "sandra.moreno@example.test";
const MIGUEL: &str = "miguel.torres@example.test";
const DIANA: &str = "diana.lopez@example.test";
const WAIT: Duration = Duration::from_secs(25);
const TRUSTED_PASS: &str =
    "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n";
const PRINTER: &str = "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n";

fn about(id: &str) -> impl Fn(&InboundMail) -> bool + '_ {
    move |m| tag(m).as_deref() == Some(id)
}

/// Carlos asks for something; returns the ticket id.
async fn request(w: &World, subject: &str, body: &str) -> String {
    let before = mail::inbox(w.mail.imap_port, CARLOS_ADDR).await.len();
    mail::send(w.mail.smtp_port, &Draft::new(CARLOS, subject, body)).await;
    let ack = eventually(WAIT, "acknowledgement", || async {
        let all = mail::inbox(w.mail.imap_port, CARLOS_ADDR).await;
        (all.len() > before)
            .then(|| {
                all.into_iter()
                    .rev()
                    .find(|m| m.subject.contains("Recibimos"))
            })
            .flatten()
    })
    .await;
    tag(&ack).expect("the acknowledgement names the ticket")
}

/// A mail that claims to come from `from`, sent to the help desk's plain address.
async fn forged(w: &World, from: &str, id: &str, body: &str, headers: &'static str) {
    let subject = format!("RE: [{id}] Instalación de impresora");
    let d = Draft {
        extra_headers: headers,
        ..Draft::new(from, &subject, body)
    };
    mail::send(w.mail.smtp_port, &d).await;
}

async fn answer_with_token(w: &World, from: &str, token: &str, subject: &str, body: &str) {
    let to = format!("mesayuda+{token}@example.test");
    let subject = format!("RE: {subject}");
    let d = Draft {
        to: &to,
        ..Draft::new(from, &subject, body)
    };
    mail::send(w.mail.smtp_port, &d).await;
}

fn vpn(approver: &str) -> String {
    format!("Necesito acceso remoto por VPN.\nJustificación: cierre contable\nNúmero de equipo: PC-0456\nFecha de finalización: 2026-12-31\nAprobador: {approver}\n")
}

async fn a_forged_agent_changes_nothing_and_the_agent_is_warned(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, "Instalación de impresora", PRINTER).await;
    let notice = inbox_with(&w, LAURA, "new-work notice", |m| {
        m.subject.contains("Nueva solicitud") && about(&id)(m)
    })
    .await;
    assert!(
        notice.body_text.contains("Piso 3, oficina 301"),
        "{}",
        notice.body_text
    );
    let spoof = "Laura Rojas <laura.rojas@example.test>";
    forged(
        &w,
        spoof,
        &id,
        "#cerrar duplicado\n#asignar mallory@evil.example",
        "",
    )
    .await;
    forged(
        &w,
        spoof,
        &id,
        "Ingrese aquí para validar su cuenta: http://phish.example/x",
        "",
    )
    .await;
    let t = ticket_where(&w, &id, "two refusals", |t| {
        events(t, "accion_rechazada") == 2
    })
    .await;
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert!(t["assignee"].is_null());
    let warning = inbox_with(&w, LAURA, "warning to the agent named in From", |m| {
        m.subject.contains("no pudimos verificar") && about(&id)(m)
    })
    .await;
    assert!(
        warning.body_text.contains("#cerrar"),
        "{}",
        warning.body_text
    );
    assert!(mail::inbox(w.mail.imap_port, CARLOS_ADDR)
        .await
        .iter()
        .all(|m| !m.body_text.contains("phish")));
    // The real agent answers her own notice: that works.
    mail::reply(
        w.mail.smtp_port,
        spoof,
        &notice,
        &format!("#asignar {MIGUEL}"),
    )
    .await;
    ticket_where(&w, &id, "assigned by the agent", |t| {
        t["assignee"] == MIGUEL
    })
    .await;
    inbox_with(&w, MIGUEL, "assignment mail", |m| {
        m.subject.contains("asignado") && about(&id)(m)
    })
    .await;
    // Another agent's personal notice forwarded to the forger proves nothing for the forger.
    let d = Draft {
        to: &notice.reply_to.as_ref().unwrap().email,
        ..Draft::new(
            "Andrés <andres.castro@example.test>",
            "RE: x",
            "#cerrar listo",
        )
    };
    mail::send(w.mail.smtp_port, &d).await;
    let t = ticket_where(&w, &id, "third refusal", |t| {
        events(t, "accion_rechazada") == 3
    })
    .await;
    assert_eq!(t["status"], "trabajo_en_progreso");
}

async fn header_authentication_counts_only_from_the_topmost_header(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, "Instalación de impresora", PRINTER).await;
    let laura = "Laura Rojas <laura.rojas@example.test>";
    forged(&w, laura, &id, "#nota llamé al usuario", TRUSTED_PASS).await;
    ticket_where(&w, &id, "note from the vouched-for agent", |t| {
        events(t, "nota") == 1
    })
    .await;
    let forged_below =
        "Authentication-Results: mx.example.test; dmarc=fail header.from=example.test\r\n\
        Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n";
    forged(&w, laura, &id, "#cerrar duplicado", forged_below).await;
    let t = ticket_where(&w, &id, "refused", |t| events(t, "accion_rechazada") == 1).await;
    assert_eq!(t["status"], "trabajo_en_progreso");
}

async fn a_phone_request_needs_header_authentication(w: World) {
    let _d = w.spawn_daemon();
    let body = "#solicitante diana.lopez@example.test\nInstalación de impresora\nNúmero de equipo: PC-9\nUbicación: Piso 8";
    let laura = "Laura Rojas <laura.rojas@example.test>";
    mail::send(
        w.mail.smtp_port,
        &Draft::new(laura, "Llamada sin verificar", body),
    )
    .await;
    let told = inbox_with(&w, LAURA, "not registered", |m| {
        m.subject.contains("no registrada")
    })
    .await;
    assert!(
        told.body_text.contains("no se\nregistró") || told.body_text.contains("no se registró")
    );
    assert!(w.cli().tickets().is_empty());
    let d = Draft {
        extra_headers: TRUSTED_PASS,
        ..Draft::new(laura, "Llamada verificada", body)
    };
    mail::send(w.mail.smtp_port, &d).await;
    inbox_with(&w, DIANA, "ack to the phone requester", |m| {
        m.subject.contains("Recibimos")
    })
    .await;
    let tickets = w.cli().tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["requester"], DIANA);
}

async fn nobody_approves_their_own_request(w: World) {
    let _d = w.spawn_daemon();
    let luisa = "Luisa Martínez <luisa.martinez@example.test>";
    mail::send(
        w.mail.smtp_port,
        &Draft::new(luisa, "Acceso VPN", &vpn(LUISA)),
    )
    .await;
    let ack = inbox_with(&w, LUISA, "ack", |m| m.subject.contains("Recibimos")).await;
    let id = tag(&ack).unwrap();
    let told = inbox_with(&w, LAURA, "agents told", |m| {
        m.subject.contains("Falta un aprobador") && about(&id)(m)
    })
    .await;
    assert!(
        told.body_text.contains("propio requerimiento"),
        "{}",
        told.body_text
    );
    assert!(mail::inbox(w.mail.imap_port, LUISA)
        .await
        .iter()
        .all(|m| !m.subject.contains("Aprobación requerida")));
    // Jorge is the substitute of Patricia, who is away: his own request's copy goes to agents.
    let jorge = "Jorge Ramírez <jorge.ramirez@example.test>";
    mail::send(
        w.mail.smtp_port,
        &Draft::new(jorge, "Acceso VPN", &vpn("patricia.vargas@example.test")),
    )
    .await;
    inbox_with(&w, LAURA, "agents told about the substitute", |m| {
        m.body_text
            .contains("su suplente es quien hace la solicitud")
    })
    .await;
    assert!(mail::inbox(w.mail.imap_port, "jorge.ramirez@example.test")
        .await
        .iter()
        .all(|m| !m.subject.contains("Aprobación requerida")));
}

async fn a_substitute_cannot_use_the_approvers_token(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, "Acceso VPN", &vpn(LUISA)).await;
    let req = inbox_with(&w, LUISA, "approval request", |m| {
        m.subject.contains("Aprobación requerida") && about(&id)(m)
    })
    .await;
    answer_with_token(&w, SANDRA, &token_of(&req), &req.subject, "APROBAR").await;
    let t = ticket_where(&w, &id, "refused", |t| events(t, "accion_rechazada") == 1).await;
    assert_eq!(t["status"], "pendiente_aprobacion");
    inbox_with(&w, SANDRA, "substitute told", |m| {
        m.subject.contains("no pudimos verificar")
    })
    .await;
}

async fn transitions_follow_the_procedure(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, "Acceso VPN", &vpn(LUISA)).await;
    let req = inbox_with(&w, LUISA, "approval request", |m| {
        m.subject.contains("Aprobación requerida") && about(&id)(m)
    })
    .await;
    let laura = "Laura Rojas <laura.rojas@example.test>";
    forged(&w, laura, &id, "#resolver VPN configurada", TRUSTED_PASS).await;
    let refused = inbox_with(&w, LAURA, "command refused", |m| {
        m.body_text.contains("espera aprobación")
    })
    .await;
    assert!(about(&id)(&refused));
    assert_eq!(w.cli().ticket(&id)["status"], "pendiente_aprobacion");
    // A question to the requester would be skipped by the approver's yes: asked after it.
    forged(
        &w,
        laura,
        &id,
        "#pendiente ¿Cuál es su usuario de red?",
        TRUSTED_PASS,
    )
    .await;
    inbox_with(&w, LAURA, "#pendiente refused", |m| {
        m.body_text
            .contains("#pendiente: la solicitud espera la decisión de Luisa")
    })
    .await;
    assert_eq!(w.cli().ticket(&id)["status"], "pendiente_aprobacion");
    forged(
        &w,
        laura,
        &id,
        "#cerrar el usuario ya no lo necesita",
        TRUSTED_PASS,
    )
    .await;
    let t = ticket_where(&w, &id, "closed", |t| t["status"] == "cerrado").await;
    assert_eq!(t["approval"]["status"], "cancelada");
    let pending = w.cli().json(&["approvals", "pending", "--json"]);
    assert_eq!(pending.as_array().map(Vec::len), Some(0), "{pending}");
    // The approver's answer now changes nothing, and she is told why.
    answer_with_token(&w, LUISA, &token_of(&req), &req.subject, "APROBAR").await;
    inbox_with(&w, LUISA, "approver told", |m| {
        m.subject.contains("no se aplicó") && about(&id)(m)
    })
    .await;
    assert_eq!(w.cli().ticket(&id)["status"], "cerrado");
}

/// Issue 11 item 4, by mail: `#servicio` onto a service that needs approval starts the
/// approval (activity 9) instead of skipping it, and `#pendiente` on the approved request does
/// not send it back to the approver.
async fn servicio_asks_for_approval_and_pendiente_after_it_does_not(w: World) {
    let _d = w.spawn_daemon();
    let body = format!(
        "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\n\
         Ubicación: Piso 3, oficina 301\nJustificación: impresora de red fija\nAprobador: {LUISA}\n"
    );
    let id = request(&w, "Instalación de impresora", &body).await;
    ticket_where(&w, &id, "being worked", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
    let laura = "Laura Rojas <laura.rojas@example.test>";
    forged(&w, laura, &id, "#servicio RESERVA-IP", TRUSTED_PASS).await;
    let req = inbox_with(&w, LUISA, "approval request", |m| {
        m.subject.contains("Aprobación requerida") && about(&id)(m)
    })
    .await;
    assert_eq!(w.cli().ticket(&id)["status"], "pendiente_aprobacion");
    answer_with_token(&w, LUISA, &token_of(&req), &req.subject, "APROBAR").await;
    ticket_where(&w, &id, "approved", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;

    forged(
        &w,
        laura,
        &id,
        "#pendiente ¿A qué punto de red se conecta?",
        TRUSTED_PASS,
    )
    .await;
    let asked = inbox_with(&w, CARLOS_ADDR, "the question", |m| {
        m.subject.contains("Información pendiente") && about(&id)(m)
    })
    .await;
    mail::reply(w.mail.smtp_port, CARLOS, &asked, "Al punto 12 del piso 3.").await;
    let t = ticket_where(&w, &id, "answered", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
    assert_eq!(t["approval"]["status"], "aprobado", "{t}");
    w.wait_idle(WAIT).await;
    let asked_again = mail::inbox(w.mail.imap_port, LUISA)
        .await
        .iter()
        .filter(|m| m.subject.contains("Aprobación requerida") && about(&id)(m))
        .count();
    assert_eq!(asked_again, 1, "the approver was asked again");
}

/// The new-work notice Laura received about `id`.
async fn laura_notice(w: &World, id: &str) -> InboundMail {
    inbox_with(w, LAURA, "new-work notice", |m| {
        m.subject.contains("Nueva solicitud") && about(id)(m)
    })
    .await
}

/// Laura resolves `id` by answering her notice; returns the survey Carlos receives.
async fn resolve(w: &World, notice: &InboundMail, id: &str) -> InboundMail {
    mail::reply(
        w.mail.smtp_port,
        LAURA,
        notice,
        "#resolver Impresora instalada",
    )
    .await;
    inbox_with(w, CARLOS_ADDR, "survey", |m| {
        m.subject.contains("encuesta") && about(id)(m)
    })
    .await
}

async fn a_third_party_neither_rates_nor_reopens(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, "Instalación de impresora", PRINTER).await;
    let notice = laura_notice(&w, &id).await;
    let survey = resolve(&w, &notice, &id).await;
    let diana = "Diana López <diana.lopez@example.test>";
    mail::reply(w.mail.smtp_port, diana, &survey, "1\nPésimo").await;
    mail::reply(w.mail.smtp_port, diana, &survey, "No está resuelto.").await;
    let t = ticket_where(&w, &id, "two third-party messages", |t| {
        events(t, "mensaje_tercero") == 2
    })
    .await;
    assert_eq!(t["status"], "resuelto");
    assert!(t["survey"].is_null(), "{t}");
    inbox_with(&w, LAURA, "third party shown to the agents", |m| {
        m.subject.contains("Mensaje de un tercero") && about(&id)(m)
    })
    .await;
    // A made-up code does not make her an approver, nor earn her a warning that would tell
    // her the ticket's subject: her mail is one more third party's.
    answer_with_token(
        &w,
        diana,
        "zq8Xw2mK4pR7tY1uV3nB5cD6",
        &format!("[{id}] Instalación de impresora"),
        "APROBAR",
    )
    .await;
    ticket_where(&w, &id, "a third third-party message", |t| {
        events(t, "mensaje_tercero") == 3
    })
    .await;
    w.wait_idle(WAIT).await;
    let told = mail::inbox(w.mail.imap_port, DIANA).await;
    assert!(
        told.iter().all(|m| !about(&id)(m)),
        "{:?}",
        told.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

/// A mail in the requester's name to the help desk's plain address proves nothing: it
/// neither rates nor reopens, the requester is told, and their own answer to the survey (its
/// Reply-To is their personal token address) still counts. While the ticket is worked, such a
/// mail is only passed on, marked as unverified.
async fn a_forged_requester_neither_rates_nor_reopens(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, "Instalación de impresora", PRINTER).await;
    let notice = laura_notice(&w, &id).await;
    // While it is worked, a message in Carlos's name (as when a user answers their own sent
    // mail) reaches the agents, saying it is unverified; it changes nothing and warns no one.
    forged(
        &w,
        CARLOS,
        &id,
        "Mejor envíen la clave a mi otro correo.",
        "",
    )
    .await;
    let passed_on = inbox_with(&w, LAURA, "unverified message passed on", |m| {
        m.subject
            .contains("Nuevo mensaje del usuario (sin verificar)")
            && about(&id)(m)
    })
    .await;
    assert!(
        passed_on.body_text.contains("no podemos confirmar"),
        "{}",
        passed_on.body_text
    );
    let survey = resolve(&w, &notice, &id).await;
    forged(&w, CARLOS, &id, "1\nPésimo servicio", "").await;
    forged(&w, CARLOS, &id, "No está resuelto.", "").await;
    let t = ticket_where(&w, &id, "two refused requester mails", |t| {
        events(t, "accion_rechazada") == 2
    })
    .await;
    assert_eq!(t["status"], "resuelto");
    assert!(t["survey"].is_null(), "{t}");
    // One warning an hour per person and ticket, naming the ticket.
    let warning = inbox_with(&w, CARLOS_ADDR, "warning to the requester", |m| {
        m.subject.contains("no pudimos verificar") && about(&id)(m)
    })
    .await;
    assert!(
        warning.body_text.contains("responder la encuesta"),
        "{}",
        warning.body_text
    );
    // The requester answers the survey they received: it counts.
    mail::reply(w.mail.smtp_port, CARLOS, &survey, "5\nMuy amables").await;
    let t = ticket_where(&w, &id, "rating recorded", |t| !t["survey"].is_null()).await;
    assert_eq!(t["survey"]["rating"], 5, "{t}");
    let warnings = mail::inbox(w.mail.imap_port, CARLOS_ADDR)
        .await
        .into_iter()
        .filter(|m| m.subject.contains("no pudimos verificar"))
        .count();
    assert_eq!(warnings, 1);
}

/// A third party's file is not the request's supporting document: an outsider cannot supply
/// the "contract" a new account needs, and the requester's next answer (proven, without the
/// file) still finds it missing.
async fn a_third_partys_file_is_not_the_requests_document(w: World) {
    let _d = w.spawn_daemon();
    let body = "Solicito crear la cuenta de usuario para una funcionaria nueva.\n\
                Nombre completo: Ana María Ruiz\nNúmero de documento: 52123456\n\
                Dependencia: Subdirección de Presupuesto\nCargo: Profesional\n\
                Fecha de inicio: 2026-12-07\n";
    let id = request(&w, "Creación de cuenta de usuario", body).await;
    let asked = inbox_with(&w, CARLOS_ADDR, "asked for the document", |m| {
        about(&id)(m) && m.subject.contains("Información pendiente")
    })
    .await;
    mail::send_with_pdf(
        w.mail.smtp_port,
        &format!("Diana López <{DIANA}>"),
        &format!("RE: [{id}] Creación de cuenta de usuario"),
        "Adjunto el contrato firmado.",
        "contrato.pdf",
    )
    .await;
    let by_carlos = |t: &serde_json::Value| {
        t["events"].as_array().map_or(0, |e| {
            e.iter().filter(|e| e["actor"] == CARLOS_ADDR).count()
        })
    };
    let kept = ticket_where(&w, &id, "the third party's mail kept", |t| {
        events(t, "mensaje_tercero") == 1
    })
    .await;
    let before = by_carlos(&kept);
    mail::reply(w.mail.smtp_port, CARLOS, &asked, "Ya enviaron el contrato.").await;
    ticket_where(&w, &id, "the requester's answer taken in", |t| {
        by_carlos(t) > before
    })
    .await;
    w.wait_idle(WAIT).await;
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "pendiente_por_usuario", "{t}");
}

on_both_databases!(with_procedure_trusting_mta;
    a_forged_agent_changes_nothing_and_the_agent_is_warned,
    header_authentication_counts_only_from_the_topmost_header,
    a_phone_request_needs_header_authentication,
    nobody_approves_their_own_request,
    a_substitute_cannot_use_the_approvers_token,
    transitions_follow_the_procedure,
    servicio_asks_for_approval_and_pendiente_after_it_does_not,
    a_third_party_neither_rates_nor_reopens,
    a_forged_requester_neither_rates_nor_reopens,
    a_third_partys_file_is_not_the_requests_document,
);

/// Exchange / Microsoft 365: with `exchange_internal`, Exchange's own mark on its users' mail
/// proves the sender (Exchange strips it from outside mail); without the setting it proves
/// nothing.
async fn exchange_marks_internal_mail(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, "Instalación de impresora", PRINTER).await;
    let laura = "Laura Rojas <laura.rojas@example.test>";
    let internal = "X-MS-Exchange-Organization-AuthAs: Internal\r\n";
    forged(&w, laura, &id, "#nota el usuario llamó", internal).await;
    ticket_where(&w, &id, "note from the Exchange-vouched agent", |t| {
        events(t, "nota") == 1
    })
    .await;
    let anonymous = "X-MS-Exchange-Organization-AuthAs: Anonymous\r\n";
    forged(&w, laura, &id, "#cerrar duplicado", anonymous).await;
    let t = ticket_where(&w, &id, "refused", |t| events(t, "accion_rechazada") == 1).await;
    assert_eq!(t["status"], "trabajo_en_progreso");
}

mod exchange {
    use super::*;

    async fn with_exchange(kind: support::DbKind) -> Option<World> {
        World::with_procedure_and(kind, "[security]\nexchange_internal = true\n").await
    }

    on_both_databases!(setup = with_exchange; exchange_marks_internal_mail);
}
