//! Mails that look like 2026 (issue 17 item 9): every mail carries an HTML part with the same
//! content, and the buttons in it compose the answer a person would type — one tap and Send.

mod support;

use support::flow::tag;

use mesayuda::mail::inbound::InboundMail;
use percent_encoding::percent_decode_str;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World};

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LUISA: &str = "luisa.martinez@example.test";
const LAURA: &str = "laura.rojas@example.test";
const WAIT: Duration = Duration::from_secs(25);

/// The `mailto:` link of the button labelled `label`, as a mail client opens it:
/// (address, subject, body).
fn button(m: &InboundMail, label: &str) -> (String, String, String) {
    let html = m.body_html.as_deref().expect("the mail has an HTML part");
    let end = html
        .find(&format!(">{label}</a>"))
        .unwrap_or_else(|| panic!("no {label} button in {html}"));
    let start = html[..end].rfind("href=\"mailto:").expect("a mailto link") + 13;
    let href = html[start..end]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let (to, query) = href.split_once('?').unwrap();
    let decode = |s: &str| percent_decode_str(s).decode_utf8().unwrap().into_owned();
    let field = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .map(decode)
            .unwrap_or_default()
    };
    (decode(to), field("subject"), field("body"))
}

async fn the_aprobar_button_approves(w: World) {
    let _d = w.spawn_daemon();
    let body = format!("Necesito acceso remoto por VPN.\nJustificación: cierre contable\nNúmero de equipo: PC-0456\nFecha de finalización: 2026-12-31\nAprobador: {LUISA}\n");
    mail::send(w.mail.smtp_port, &Draft::new(CARLOS, "Acceso VPN", &body)).await;
    let ack = mail::wait_for(w.mail.imap_port, CARLOS_ADDR, WAIT, "ack", |m| {
        m.subject.contains("Recibimos")
    })
    .await;
    // The requester's mail has the same text in its HTML part, and no buttons.
    let html = ack.body_html.as_deref().expect("HTML part");
    assert!(html.contains("<html lang=\"es\">"), "{html}");
    assert!(!html.contains("mailto:"), "{html}");
    let id = tag(&ack).unwrap();
    let req = mail::wait_for(w.mail.imap_port, LUISA, WAIT, "approval request", |m| {
        m.subject.contains("Aprobación requerida") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    let (to, subject, text) = button(&req, "APROBAR");
    assert_eq!(
        Some(to.as_str()),
        req.reply_to.as_ref().map(|r| r.email.as_str())
    );
    assert_eq!(text, "APROBAR");
    button(&req, "RECHAZAR");
    // What the phone's mail app sends after one tap.
    let d = Draft {
        to: &to,
        ..Draft::new(
            "Luisa Martínez <luisa.martinez@example.test>",
            &subject,
            &text,
        )
    };
    mail::send(w.mail.smtp_port, &d).await;
    eventually(WAIT, "approved by the button", || async {
        (w.cli().ticket(&id)["status"] == "trabajo_en_progreso").then_some(())
    })
    .await;
    // The agents' notice offers their usual commands the same way, on their own address.
    let notice = mail::wait_for(w.mail.imap_port, LAURA, WAIT, "new-work notice", |m| {
        m.subject.contains("Nueva solicitud") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    let (to, subject, text) = button(&notice, "Asignármela");
    assert_eq!(
        Some(to.as_str()),
        notice.reply_to.as_ref().map(|r| r.email.as_str())
    );
    assert_eq!(text, "#asignar");
    // Sent as composed, it gives the request to whoever sent it.
    let d = Draft {
        to: &to,
        ..Draft::new("Laura Rojas <laura.rojas@example.test>", &subject, &text)
    };
    mail::send(w.mail.smtp_port, &d).await;
    eventually(WAIT, "assigned by the button", || async {
        (w.cli().ticket(&id)["assignee"] == LAURA).then_some(())
    })
    .await;
}

on_both_databases!(with_procedure;
    the_aprobar_button_approves,
);
