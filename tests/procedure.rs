//! The request procedure end to end: mail through the loopback Postfix and Dovecot, the real
//! `mesayuda` daemon reading and sending it, on both databases, with the shipped catalogue
//! and directory. Two stories stay on the real servers:
//!
//! - `complete_request_goes_to_work`: one whole request, from the requester's mail through
//!   SMTP to the acknowledgement in their IMAP inbox and the ticket at work, as `tickets show`
//!   prints it — the proof that the adapters and the binary carry the procedure.
//! - `out_of_office_reply_creates_nothing_and_gets_no_answer`: an auto-reply comes in as a
//!   responder's does, through Postfix and Dovecot with the headers they add, and the proof
//!   that nothing answers it is the daemon's real outbound SMTP and the recipients' real
//!   inboxes once the desk is idle: a loop with an auto-responder is the failure that floods a
//!   real mail server, so it is shown on one.
//!
//! Every other activity (missing information, silence, notes and changes, resolution and
//! survey, reopening, commands, SLA alerts, catalogue, incidents and phone requests, replies to
//! closed tickets) lives in `tests/in_process_procedure.rs`, with these two again: the daemon's
//! own wiring, an injected clock, no mail server and no sleeps.

mod support;

use support::flow::{inbox_with, tag};

use mesayuda::mail::inbound::InboundMail;
use serde_json::Value;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World, HELPDESK};

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const WAIT: Duration = Duration::from_secs(25);

const COMPLETE: &str = "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n";

/// Sends a request and returns its ticket id and the acknowledgement.
async fn request(w: &World, subject: &str, body: &str) -> (String, InboundMail) {
    mail::send(w.mail.smtp_port, &Draft::new(CARLOS, subject, body)).await;
    let ack = inbox_with(w, CARLOS_ADDR, "acknowledgement", |m| {
        m.subject.contains("Recibimos su solicitud")
    })
    .await;
    (tag(&ack).expect("ack has a tag"), ack)
}

async fn wait_status(w: &World, id: &str, status: &str) -> Value {
    eventually(WAIT, &format!("{id} in status {status}"), || async {
        let t = w.cli().ticket(id);
        (t["status"] == status).then_some(t)
    })
    .await
}

async fn complete_request_goes_to_work(w: World) {
    let _d = w.spawn_daemon();
    let (id, ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    // The requester is told what was understood and by when to expect it (issue 17 item 6).
    for line in [
        "Servicio: Instalación de impresora",
        "Prioridad: media",
        "Tiempo de solución: 8,0 horas hábiles",
    ] {
        assert!(ack.body_text.contains(line), "{line}: {}", ack.body_text);
    }
    let due = ack
        .body_text
        .lines()
        .find_map(|l| l.strip_prefix("Fecha estimada de solución: "))
        .unwrap_or_else(|| panic!("no due time: {}", ack.body_text));
    assert!(
        due.contains(" de 20") && (due.ends_with("a. m.") || due.ends_with("p. m.")),
        "{due}"
    );
    let t = wait_status(&w, &id, "trabajo_en_progreso").await;
    support::flow::assert_printer_request_at_work(&t);
}

async fn out_of_office_reply_creates_nothing_and_gets_no_answer(w: World) {
    let _d = w.spawn_daemon();
    let (id, ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    let subject = format!("Respuesta automática: {}", ack.subject);
    let mut oof = Draft::new(
        CARLOS,
        &subject,
        "Estoy fuera de la oficina hasta el lunes.",
    );
    oof.in_reply_to = Some(ack.message_id.clone());
    oof.extra_headers = "Auto-Submitted: auto-replied\r\n";
    // As responders send it: the null reverse path, so Dovecot writes `Return-Path: <>`.
    mail::send_null_sender(w.mail.smtp_port, HELPDESK, &oof.render().1).await;
    let unthreaded = Draft {
        extra_headers: "Auto-Submitted: auto-replied\r\n",
        ..Draft::new(
            "Pedro <pedro@example.test>",
            "Fuera de la oficina",
            "Regreso el lunes.",
        )
    };
    mail::send(w.mail.smtp_port, &unthreaded).await;
    // Both auto-replies taken in, and any answer they caused (queued with them) delivered.
    w.wait_idle(WAIT).await;
    assert_eq!(w.cli().tickets().len(), 1, "an auto-reply opened a ticket");
    let t = w.cli().ticket(&id);
    assert!(t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["kind"] == "respuesta_automatica" || m["kind"] == "fuera_de_oficina"));
    let carlos = mail::inbox(w.mail.imap_port, CARLOS_ADDR).await;
    assert_eq!(
        carlos.len(),
        1,
        "the auto-reply was answered: {:?}",
        carlos.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(mail::inbox(w.mail.imap_port, "pedro@example.test")
        .await
        .is_empty());
}

on_both_databases!(with_procedure;
    complete_request_goes_to_work,
    out_of_office_reply_creates_nothing_and_gets_no_answer,
);
