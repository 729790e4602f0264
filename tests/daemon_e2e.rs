//! Issue: the daemon end to end — a request emailed to the help desk becomes a ticket and is
//! acknowledged over real IMAP and SMTP; replies land on the same ticket.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World, HELPDESK};

const ANA: &str = "Ana Gómez <ana@example.test>";
const ANA_ADDR: &str = "ana@example.test";
const WAIT: Duration = Duration::from_secs(20);

fn ack_tag(m: &mesayuda::mail::inbound::InboundMail) -> Option<String> {
    mesayuda::domain::text::find_ticket_ref(&m.subject).map(|r| r.to_string())
}

async fn ticket_count(w: &World) -> usize {
    w.cli().tickets().len()
}

async fn request_is_acknowledged_and_shown(w: World) {
    let d = w.spawn_daemon();
    let sent_id = mail::send(
        w.mail.smtp_port,
        &Draft::new(
            ANA,
            "Instalación de impresora",
            "Necesito instalar la impresora del piso 3.",
        ),
    )
    .await;
    let ack = mail::wait_for(w.mail.imap_port, ANA_ADDR, WAIT, "acknowledgement", |m| {
        ack_tag(m).is_some()
    })
    .await;
    let tag = ack_tag(&ack).unwrap();
    assert!(ack.subject.contains(&format!("[{tag}]")), "{}", ack.subject);
    assert!(
        ack.subject.contains("Instalación de impresora"),
        "{}",
        ack.subject
    );
    assert!(ack.body_text.contains(&tag), "{}", ack.body_text);
    assert_eq!(ack.from.as_ref().unwrap().email, support::NOTIFIER);
    assert_eq!(ack.in_reply_to, vec![sent_id.clone()]);
    let t = w.cli().ticket(&tag);
    assert_eq!(t["id"], tag.as_str());
    assert_eq!(t["status"], "registrado");
    assert_eq!(t["requester"], ANA_ADDR);
    assert_eq!(t["subject"], "Instalación de impresora");
    assert!(t["created_at"].as_str().unwrap().starts_with("20"));
    let msgs = t["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["direction"], "in");
    assert_eq!(msgs[0]["from"], ANA_ADDR);
    assert_eq!(
        msgs[0]["body_text"],
        "Necesito instalar la impresora del piso 3."
    );
    assert!(msgs
        .iter()
        .any(|m| m["direction"] == "out" && m["kind"] == "acuse"));
    assert!(!t["events"].as_array().unwrap().is_empty());
    // The request left the inbox for the processed folder only after it was committed.
    eventually(WAIT, "request moved to Procesados", || async {
        let inbox = mail::inbox(w.mail.imap_port, HELPDESK).await;
        let done = mail::read_folder(w.mail.imap_port, HELPDESK, "Procesados").await;
        (inbox.is_empty() && done.iter().any(|m| m.message_id == sent_id)).then_some(())
    })
    .await;
    let listed = w.cli().tickets();
    assert_eq!(listed.len(), 1);
    for key in ["id", "status", "subject", "requester", "created_at"] {
        assert!(
            listed[0].get(key).is_some(),
            "tickets list --json lacks {key}"
        );
    }
    // No library noise at INFO, even with `RUST_LOG` set (as here): the scheduler's start-up
    // chatter stays out of the operator's log.
    let log = d.log_text();
    assert!(log.contains("mesayuda running"), "{log}");
    for noise in ["Uninited", "Job creator created"] {
        assert!(!log.contains(noise), "{noise} in the log:\n{log}");
    }
}

async fn replies_with_and_without_tag_land_on_the_same_ticket(w: World) {
    let _d = w.spawn_daemon();
    mail::send(
        w.mail.smtp_port,
        &Draft::new(ANA, "Cambio de contraseña", "No recuerdo mi clave."),
    )
    .await;
    let ack = mail::wait_for(w.mail.imap_port, ANA_ADDR, WAIT, "ack", |m| {
        ack_tag(m).is_some()
    })
    .await;
    let tag = ack_tag(&ack).unwrap();
    // A reply keeping the tag, as every client does by default (to the acknowledgement's
    // Reply-To: the requester's personal token address).
    let reply_to = ack.reply_to.as_ref().map(|a| a.email.clone()).unwrap();
    let mut with_tag = Draft::new(ANA, "", "Adjunto mi cédula.");
    let subject = format!("RE: {}", ack.subject);
    with_tag.subject = &subject;
    with_tag.to = &reply_to;
    with_tag.in_reply_to = Some(ack.message_id.clone());
    mail::send(w.mail.smtp_port, &with_tag).await;
    // A reply whose subject the user rewrote, tag gone, but threaded by In-Reply-To.
    let mut stripped = Draft::new(ANA, "mi clave otra vez", "¿Hay novedades?");
    stripped.to = &reply_to;
    stripped.in_reply_to = Some(ack.message_id.clone());
    mail::send(w.mail.smtp_port, &stripped).await;
    let t = eventually(WAIT, "both replies on the ticket", || async {
        let t = w.cli().ticket(&tag);
        let ins = t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "in")
            .count();
        (ins == 3).then_some(t)
    })
    .await;
    let bodies: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body_text"].as_str())
        .collect();
    assert!(bodies.contains(&"Adjunto mi cédula."));
    assert!(bodies.contains(&"¿Hay novedades?"));
    assert_eq!(ticket_count(&w).await, 1, "a reply made a second ticket");
    // Replies are not acknowledged again.
    w.wait_idle(WAIT).await;
    assert_eq!(w.outbox_to(ANA_ADDR).len(), 1, "{:?}", w.outbox());
    let acks = mail::inbox(w.mail.imap_port, ANA_ADDR).await;
    assert_eq!(acks.len(), 1, "expected exactly one acknowledgement");
}

async fn restart_after_commit_makes_no_duplicate(w: World) {
    let mut d = w.spawn_daemon();
    let id = mail::send(
        w.mail.smtp_port,
        &Draft::new(ANA, "VPN", "Necesito acceso VPN."),
    )
    .await;
    mail::wait_for(w.mail.imap_port, ANA_ADDR, WAIT, "ack", |m| {
        ack_tag(m).is_some()
    })
    .await;
    // The acknowledgement can leave before the request is moved out; wait for the move.
    eventually(WAIT, "request in Procesados", || async {
        let done = mail::read_folder(w.mail.imap_port, HELPDESK, "Procesados").await;
        done.iter().any(|m| m.message_id == id).then_some(())
    })
    .await;
    d.kill();
    // The same message is put back in the inbox, as if the daemon had died between the commit
    // and the move: it must be recognised, moved, and neither ticketed nor answered again.
    let (_, raw) = {
        let mut again = Draft::new(ANA, "VPN", "Necesito acceso VPN.");
        again.message_id = Some(id.clone());
        again.render()
    };
    mail::append(w.mail.imap_port, HELPDESK, "INBOX", &raw).await;
    let _d2 = w.spawn_daemon();
    eventually(WAIT, "re-delivered copy moved out of the inbox", || async {
        mail::inbox(w.mail.imap_port, HELPDESK)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    w.wait_idle(WAIT).await;
    assert_eq!(ticket_count(&w).await, 1);
    assert_eq!(w.outbox_to(ANA_ADDR).len(), 1, "{:?}", w.outbox());
    assert_eq!(
        mail::inbox(w.mail.imap_port, ANA_ADDR).await.len(),
        1,
        "second ack sent"
    );
}

async fn ack_waits_for_smtp_to_come_back(w: World) {
    let _d = w.spawn_daemon();
    w.mail.stop_smtp();
    let (id, raw) = Draft::new(ANA, "Ampliación de buzón", "Mi buzón está lleno.").render();
    mail::append(w.mail.imap_port, HELPDESK, "INBOX", &raw).await;
    let t = eventually(WAIT, "ticket created while SMTP is down", || async {
        w.cli().tickets().into_iter().next()
    })
    .await;
    assert_eq!(t["status"], "registrado");
    // The sender tried while SMTP was down and kept the acknowledgement queued.
    let queued = eventually(WAIT, "the acknowledgement given back untried", || async {
        w.outbox_to(ANA_ADDR)
            .into_iter()
            .find(|m| m["last_error"].is_string())
    })
    .await;
    assert_eq!(queued["status"], "pending", "{queued}");
    w.mail.start_smtp();
    let ack = mail::wait_for(
        w.mail.imap_port,
        ANA_ADDR,
        Duration::from_secs(60),
        "ack after SMTP outage",
        |m| ack_tag(m).is_some(),
    )
    .await;
    assert_eq!(ack.in_reply_to, vec![id]);
    w.wait_idle(WAIT).await;
    assert_eq!(w.outbox_to(ANA_ADDR).len(), 1, "{:?}", w.outbox());
    assert_eq!(mail::inbox(w.mail.imap_port, ANA_ADDR).await.len(), 1);
}

async fn latin1_and_html_only_mail_are_readable(w: World) {
    let _d = w.spawn_daemon();
    let mut latin1 = b"From: =?ISO-8859-1?Q?Jos=E9_P=E9rez?= <jose@example.test>\r\n\
To: mesayuda@example.test\r\nSubject: =?ISO-8859-1?Q?Reserva_direcci=F3n_IP?=\r\n\
Message-ID: <latin1@example.test>\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n"
        .to_vec();
    latin1.extend_from_slice(
        b"Solicito reservar una direcci\xf3n IP para el equipo de se\xf1al.\r\n",
    );
    mail::send_raw(w.mail.smtp_port, "jose@example.test", HELPDESK, &latin1).await;
    let html = "From: Luz <luz@example.test>\r\nTo: mesayuda@example.test\r\nSubject: Teletrabajo\r\n\
Message-ID: <html@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Buenas tardes,</p><p>solicito <b>teletrabajo</b> los d&iacute;as martes.</p></body></html>\r\n";
    mail::send_raw(
        w.mail.smtp_port,
        "luz@example.test",
        HELPDESK,
        html.as_bytes(),
    )
    .await;
    let tickets = eventually(WAIT, "two tickets", || async {
        let t = w.cli().tickets();
        (t.len() == 2).then_some(t)
    })
    .await;
    let show = |t: &Value| w.cli().ticket(t["id"].as_str().unwrap());
    let by_requester = |who: &str| {
        tickets
            .iter()
            .find(|t| t["requester"] == who)
            .map(show)
            .unwrap()
    };
    let jose = by_requester("jose@example.test");
    assert_eq!(jose["subject"], "Reserva dirección IP");
    assert_eq!(
        jose["messages"][0]["body_text"],
        "Solicito reservar una dirección IP para el equipo de señal."
    );
    let luz = by_requester("luz@example.test");
    let body = luz["messages"][0]["body_text"].as_str().unwrap();
    assert!(
        body.contains("Buenas tardes") && body.contains("los días martes"),
        "{body}"
    );
    assert!(!body.contains("<p>"), "{body}");
}

on_both_databases!(
    request_is_acknowledged_and_shown,
    replies_with_and_without_tag_land_on_the_same_ticket,
    restart_after_commit_makes_no_duplicate,
    ack_waits_for_smtp_to_come_back,
    latin1_and_html_only_mail_are_readable,
);
