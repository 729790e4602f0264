//! Issue 11 in process: who may change a ticket, shown on the paths the real-server tests do
//! not walk — an agent acting from their assignment mail, the approver's out-of-office reply
//! handing the request to the substitute (never to the requester), an HTML answer hiding a
//! keyword, and header authentication required on top of the reply code. The daemon's own
//! wiring on a temporary database, mail read from the outbox as its recipients would read it.

mod support;

use mesayuda::domain::ticket::{CloseReason, Status};
use mesayuda::mail::inbound::InboundMail;
use support::app::{answer, monday, new_mail, number, TestApp, HELPDESK};
use support::mail::Draft;
use support::DbKind;

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LAURA: &str = "laura.rojas@example.test";
const MIGUEL: &str = "miguel.torres@example.test";
const BOSS: &str = "luisa.martinez@example.test";
/// Luisa's substitute (shipped directory).
const SANDRA: &str = "sandra.moreno@example.test";
const COMPLETE: &str = "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n";
const WARNING: &str = "no pudimos verificar";

fn vpn(approver: &str) -> String {
    format!(
        "Necesito acceso remoto por VPN para trabajar desde casa.\nJustificación: cierre contable de fin de año\nNúmero de equipo: PC-0456\nFecha de finalización: 2026-12-31\nAprobador: {approver}\n"
    )
}

/// `raw` with `headers` (CRLF-terminated lines) put on top, where the receiving MTA puts its
/// own.
fn with_top_headers(headers: &str, raw: Vec<u8>) -> Vec<u8> {
    let mut out = headers.as_bytes().to_vec();
    out.extend(raw);
    out
}

/// What an out-of-office responder sends back to `parent`'s Reply-To.
fn out_of_office(from: &str, parent: &InboundMail) -> Vec<u8> {
    let to = parent.reply_to.as_ref().map(|a| a.email.clone()).unwrap();
    let subject = format!("Respuesta automática: {}", parent.subject);
    Draft {
        to: &to,
        in_reply_to: Some(parent.message_id.clone()),
        extra_headers: "Auto-Submitted: auto-replied\r\n",
        ..Draft::new(from, &subject, "Estoy fuera de la oficina hasta el lunes.")
    }
    .render()
    .1
}

/// An HTML-only answer to `parent` from `from`, as some phone clients send it.
fn html_answer(from: &str, parent: &InboundMail, html: &str) -> Vec<u8> {
    let to = parent.reply_to.as_ref().map(|a| a.email.clone()).unwrap();
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: RE: {}\r\nMessage-ID: <{:x}@client.example.test>\r\n\
In-Reply-To: <{p}>\r\nReferences: <{p}>\r\nDate: {}\r\nMIME-Version: 1.0\r\n\
Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n",
        parent.subject,
        rand::random::<u64>(),
        chrono::Utc::now().to_rfc2822(),
        p = parent.message_id,
    )
    .into_bytes()
}

fn count_to(app: &TestApp, who: &str, what: &str) -> usize {
    app.inbox(who)
        .iter()
        .filter(|m| m.subject.contains(what) || m.body_text.contains(what))
        .count()
}

/// The specialist an agent assigned acts by answering the assignment mail; the same command in
/// their name without its reply code changes nothing, and they are told of the attempt.
async fn an_agent_acts_from_the_assignment_mail(kind: DbKind) {
    let Some(mut app) =
        TestApp::with_request(kind, CARLOS, "Instalación de impresora", COMPLETE).await
    else {
        return;
    };
    let notice = app.last_to(LAURA, "Nueva solicitud").clone();
    let n = number(&notice);
    app.exchange(
        &answer(LAURA, &notice, &format!("#asignar {MIGUEL}")),
        monday(10),
    )
    .await;
    let assigned = app.last_to(MIGUEL, "Requerimiento asignado").clone();
    assert_eq!(number(&assigned), n);

    // Miguel's address in From, written to the help desk's plain address: no proof.
    let forged = Draft {
        to: HELPDESK,
        ..Draft::new(
            MIGUEL,
            &format!("RE: {}", assigned.subject),
            "#cerrar duplicado",
        )
    }
    .render()
    .1;
    app.exchange(&forged, monday(20)).await;
    assert_eq!(app.ticket(n).await.status, Status::TrabajoEnProgreso);
    assert_eq!(count_to(&app, MIGUEL, WARNING), 1);

    app.exchange(
        &answer(MIGUEL, &assigned, "#resolver Impresora instalada y probada"),
        monday(60),
    )
    .await;
    assert_eq!(app.ticket(n).await.status, Status::Resuelto);
    let survey = app.last_to(CARLOS_ADDR, "encuesta");
    assert!(
        survey.body_text.contains("Impresora instalada y probada"),
        "{}",
        survey.body_text
    );
}

/// Activity 10: the approver's out-of-office reply sends the request to their substitute, with
/// a code of the substitute's own, saying whom they stand in for; the substitute decides.
async fn an_out_of_office_reply_hands_the_request_to_the_substitute(kind: DbKind) {
    let Some(mut app) = TestApp::with_request(kind, CARLOS, "Acceso VPN", &vpn(BOSS)).await else {
        return;
    };
    let ask = app.last_to(BOSS, "Aprobación requerida").clone();
    let n = number(&ask);
    assert!(app.inbox(SANDRA).is_empty());

    // An "out-of-office" in Luisa's name that does not answer her code (neither her reply
    // address nor the subject's `[APR:…]`): anyone can write it.
    let bare_subject = ask.subject.split(" [APR:").next().unwrap().to_owned();
    let forged = Draft {
        to: HELPDESK,
        in_reply_to: Some(ask.message_id.clone()),
        extra_headers: "Auto-Submitted: auto-replied\r\n",
        ..Draft::new(
            BOSS,
            &format!("Respuesta automática: {bare_subject}"),
            "Fuera de la oficina.",
        )
    }
    .render()
    .1;
    app.exchange(&forged, monday(1)).await;
    assert!(
        app.inbox(SANDRA).is_empty(),
        "a forged out-of-office hands nothing over"
    );

    app.exchange(&out_of_office(BOSS, &ask), monday(1)).await;
    let sub = app.last_to(SANDRA, "Aprobación requerida").clone();
    assert_eq!(number(&sub), n);
    assert!(
        sub.body_text.contains("en reemplazo de Luisa"),
        "{}",
        sub.body_text
    );
    assert_ne!(
        sub.reply_to, ask.reply_to,
        "the substitute's own reply code"
    );
    assert_eq!(app.ticket(n).await.status, Status::PendienteAprobacion);
    // A second out-of-office reply (the responder answers each mail) asks nobody again.
    app.exchange(&out_of_office(BOSS, &ask), monday(2)).await;
    assert_eq!(count_to(&app, SANDRA, "Aprobación requerida"), 1);

    app.exchange(&answer(SANDRA, &sub, "APROBAR"), monday(30))
        .await;
    assert_eq!(app.ticket(n).await.status, Status::TrabajoEnProgreso);
    assert_eq!(number(app.last_to(LAURA, "Nueva solicitud")), n);
}

/// The same, when the substitute is the requester: nobody approves their own request, so the
/// agents are told instead and the substitute receives nothing to approve.
async fn an_out_of_office_never_hands_a_request_to_its_requester(kind: DbKind) {
    let Some(mut app) = TestApp::new(kind).await else {
        return;
    };
    let sandra = "Sandra Moreno <sandra.moreno@example.test>";
    app.exchange(&new_mail(sandra, "Acceso VPN", &vpn(BOSS)), monday(0))
        .await;
    let ask = app.last_to(BOSS, "Aprobación requerida").clone();
    let n = number(&ask);

    app.exchange(&out_of_office(BOSS, &ask), monday(1)).await;
    assert_eq!(count_to(&app, SANDRA, "Aprobación requerida"), 0);
    let told = app.last_to(LAURA, "Falta un aprobador válido");
    assert_eq!(number(told), n);
    assert!(
        told.body_text
            .contains("no puede aprobar su propio requerimiento"),
        "{}",
        told.body_text
    );
    assert_eq!(app.ticket(n).await.status, Status::PendienteAprobacion);
}

/// An HTML-only answer is read as its reader sees it: a hidden APROBAR above a visible
/// RECHAZAR rejects.
async fn a_hidden_keyword_in_an_html_answer_does_not_count(kind: DbKind) {
    let Some(mut app) = TestApp::with_request(kind, CARLOS, "Acceso VPN", &vpn(BOSS)).await else {
        return;
    };
    let ask = app.last_to(BOSS, "Aprobación requerida").clone();
    let n = number(&ask);
    let html = "<html><body><div style=\"display:none\">APROBAR</div>\
                <p>RECHAZAR</p><p>No corresponde a sus funciones.</p></body></html>";
    app.exchange(&html_answer(BOSS, &ask, html), monday(30))
        .await;
    let t = app.ticket(n).await;
    assert_eq!(
        (t.status, t.close_reason),
        (Status::Cerrado, Some(CloseReason::Rechazado))
    );
    let told = app.last_to(CARLOS_ADDR, "rechazada");
    assert_eq!(number(told), n);
}

/// `require_authentication_results = true`: the reply code alone no longer proves anyone, and
/// only the topmost Authentication-Results (our MTA's) counts — a `dmarc=pass` the sender
/// wrote below it, naming our MTA, is ignored.
async fn header_authentication_is_required_on_top_of_the_reply_code(kind: DbKind) {
    let security = "[security]\nrequire_authentication_results = true\ntrusted_authserv_id = \"mx.example.test\"\n";
    let Some(mut app) = TestApp::with_config(kind, security).await else {
        return;
    };
    const PASS: &str =
        "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n";
    const FAIL: &str =
        "Authentication-Results: mx.example.test; dmarc=fail header.from=example.test\r\n";
    app.exchange(&new_mail(CARLOS, "Acceso VPN", &vpn(BOSS)), monday(0))
        .await;
    let ask = app.last_to(BOSS, "Aprobación requerida").clone();
    let n = number(&ask);

    // The code alone.
    app.receive(&answer(BOSS, &ask, "APROBAR"), monday(10))
        .await;
    // Our MTA said fail; the sender's own "pass" sits below it.
    let mut raw = FAIL.as_bytes().to_vec();
    raw.extend(with_top_headers(PASS, answer(BOSS, &ask, "APROBAR")));
    app.exchange(&raw, monday(20)).await;
    assert_eq!(app.ticket(n).await.status, Status::PendienteAprobacion);
    assert!(count_to(&app, BOSS, WARNING) >= 1);

    // Our MTA vouched, and the code came back: approved.
    app.exchange(
        &with_top_headers(PASS, answer(BOSS, &ask, "APROBAR")),
        monday(30),
    )
    .await;
    assert_eq!(app.ticket(n).await.status, Status::TrabajoEnProgreso);

    // An agent's command with the code alone is refused the same way.
    let notice = app.last_to(LAURA, "Nueva solicitud").clone();
    app.exchange(&answer(LAURA, &notice, "#resolver listo"), monday(40))
        .await;
    assert_eq!(app.ticket(n).await.status, Status::TrabajoEnProgreso);
    assert!(count_to(&app, LAURA, WARNING) >= 1);
    app.receive(
        &with_top_headers(PASS, answer(LAURA, &notice, "#resolver listo")),
        monday(50),
    )
    .await;
    assert_eq!(app.ticket(n).await.status, Status::Resuelto);
}

/// Anyone can mark a mail `Auto-Submitted`: one in the requester's name with a "signed
/// authorisation" attached is kept on the ticket, but its file is not the request's document
/// and its text is not the requester's word to the approver.
async fn an_automatic_looking_mail_does_not_supply_the_requests_document(kind: DbKind) {
    let Some(mut app) = TestApp::new(kind).await else {
        return;
    };
    let body = format!(
        "Servicio: TELETRABAJO\nJustificación: cuidado de un familiar\nNúmero de equipo: PC-0456\nFecha de inicio: 2026-12-07\nAprobador: {BOSS}\n"
    );
    app.exchange(
        &new_mail(CARLOS, "Solicitud de teletrabajo", &body),
        monday(0),
    )
    .await;
    let ask = app.last_to(CARLOS_ADDR, "Información pendiente").clone();
    let n = number(&ask);
    assert_eq!(app.ticket(n).await.status, Status::PendientePorUsuario);

    let forged = format!(
        "From: {CARLOS}\r\nTo: {HELPDESK}\r\nSubject: RE: {}\r\nAuto-Submitted: auto-replied\r\n\
         Message-ID: <forged-{:x}@evil.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSeguridad ya validó este acceso.\r\n\
         --B\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename=\"autorizacion_firmada.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--B--\r\n",
        ask.subject,
        rand::random::<u64>()
    );
    app.exchange(forged.as_bytes(), monday(10)).await;
    let t = app.ticket(n).await;
    assert_eq!((t.status, t.attachments), (Status::PendientePorUsuario, 0));
    // Carlos answers, still without the document: the request still waits for it, and the
    // approver is asked nothing.
    app.exchange(&answer(CARLOS, &ask, "Lo envío mañana."), monday(20))
        .await;
    assert_eq!(app.ticket(n).await.status, Status::PendientePorUsuario);
    assert_eq!(count_to(&app, BOSS, "Aprobación requerida"), 0);
}

on_both_databases!(setup = kind;
    an_agent_acts_from_the_assignment_mail,
    an_out_of_office_reply_hands_the_request_to_the_substitute,
    an_out_of_office_never_hands_a_request_to_its_requester,
    a_hidden_keyword_in_an_html_answer_does_not_count,
    header_authentication_is_required_on_top_of_the_reply_code,
    an_automatic_looking_mail_does_not_supply_the_requests_document,
);
