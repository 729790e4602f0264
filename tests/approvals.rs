//! Approvals by email reply (activities 9–12) against the real mail server and the daemon's
//! binary: the one end-to-end story of an approval, from the request sent over SMTP to the
//! approver's one-word answer from a phone and the requester's notice read over IMAP. It proves
//! the adapters carry the approval's token (the Reply-To's plus-address, through Postfix's
//! delivery to Dovecot) and that the running daemon reads, decides and sends on its own.
//!
//! The other approval scenarios (reasons, mixed answers, agents choosing the approver,
//! deputies, time limits, the digest, forged answers, required Authentication-Results) live in
//! `tests/in_process_approvals.rs`: none of them needs the mail server or a running daemon
//! (the CLI's output they read is the same there), and an injected clock walks business days
//! instead of waiting.

mod support;

use support::flow::{tag, ticket_where, token_of};

use mesayuda::mail::inbound::InboundMail;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World};

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const BOSS: &str = "luisa.martinez@example.test";
const WAIT: Duration = Duration::from_secs(25);

fn vpn_body(approver: &str) -> String {
    format!(
        "Necesito acceso remoto por VPN para trabajar desde casa.\nJustificación: cierre contable de fin de año\nNúmero de equipo: PC-0456\nFecha de finalización: 2026-12-31\nAprobador: {approver}\n"
    )
}

async fn request_vpn(w: &World, approver: &str) -> String {
    let acks = |all: Vec<InboundMail>| -> Vec<String> {
        all.iter()
            .filter(|m| m.subject.contains("Recibimos"))
            .filter_map(tag)
            .collect()
    };
    let before = acks(mail::inbox(w.mail.imap_port, CARLOS_ADDR).await);
    mail::send(
        w.mail.smtp_port,
        &Draft::new(CARLOS, "Acceso VPN", &vpn_body(approver)),
    )
    .await;
    eventually(WAIT, "acknowledgement", || async {
        acks(mail::inbox(w.mail.imap_port, CARLOS_ADDR).await)
            .into_iter()
            .find(|id| !before.contains(id))
    })
    .await
}

async fn approval_mail(w: &World, who: &str, id: &str) -> InboundMail {
    mail::wait_for(w.mail.imap_port, who, WAIT, "approval request", |m| {
        m.subject.contains("Aprobación requerida") && tag(m).as_deref() == Some(id)
    })
    .await
}

/// Answers `req` like a phone mail client: to the Reply-To it received, threaded, but with a
/// subject the client shortened (no `[APR:…]`): the token then travels only in the Reply-To's
/// plus-address, as delivered by Postfix to Dovecot and read back over IMAP.
async fn answer(w: &World, from: &str, req: &InboundMail, body: &str) {
    let to = req
        .reply_to
        .as_ref()
        .map(|a| a.email.clone())
        .expect("the approval request has a Reply-To");
    assert!(to.contains(&token_of(req)), "Reply-To {to} lacks the token");
    let subject = format!("RE: Aprobación requerida [{}]", tag(req).unwrap());
    let d = Draft {
        to: &to,
        in_reply_to: Some(req.message_id.clone()),
        ..Draft::new(from, &subject, body)
    };
    mail::send(w.mail.smtp_port, &d).await;
}

async fn one_word_approval_from_a_phone(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, BOSS).await;
    let req = approval_mail(&w, BOSS, &id).await;
    assert!(
        req.body_text.contains("Justificación: cierre contable"),
        "{}",
        req.body_text
    );
    assert!(req.body_text.contains("APROBAR") && req.body_text.contains("RECHAZAR"));
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "pendiente_aprobacion");
    assert_eq!(t["approval"]["approver"], BOSS);
    answer(&w, BOSS, &req, "Sí\n\nEnviado desde mi iPhone").await;
    let t = ticket_where(&w, &id, "approved", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
    assert_eq!(t["approval"]["status"], "aprobado");
    assert_eq!(t["approval"]["decided_by"], BOSS);
    mail::wait_for(
        w.mail.imap_port,
        CARLOS_ADDR,
        WAIT,
        "approved notice",
        |m| m.subject.contains("fue aprobada"),
    )
    .await;
}

on_both_databases!(with_procedure; one_word_approval_from_a_phone);
