//! The procedure's scenarios in process (issue 12 item 5): the daemon's own wiring on a
//! temporary database, an injected clock, no mail server and no sleeps — so they run in
//! milliseconds and can walk days of business time. Mail is read from the outbox as the
//! recipients would read it, and answered the way their mail client would (to its Reply-To).
//! More stories in `tests/in_process_procedure.rs` and `tests/in_process_approvals.rs`;
//! `tests/procedure.rs` keeps one whole story against the real mail server and binary.

mod support;

use chrono::Duration;
use mesayuda::domain::ticket::{Status, TicketNumber};
use mesayuda::workflow::ingest::Outcome;
use support::app::{answer, monday, new_mail, number, TestApp};
use support::DbKind;

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LAURA: &str = "laura.rojas@example.test";
const BOSS: &str = "luisa.martinez@example.test";
const COMPLETE: &str = "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n";

/// Activities 1–3, 13, 16–18: a complete request is acknowledged and reaches the agents with
/// what they need; the agent answers their notice with `#resolver`; the requester rates it from
/// the survey mail.
async fn a_complete_request_is_worked_resolved_and_rated(kind: DbKind) {
    let Some(mut app) = TestApp::new(kind).await else {
        return;
    };
    let got = app
        .receive(
            &new_mail(CARLOS, "Instalación de impresora", COMPLETE),
            monday(0),
        )
        .await;
    assert!(
        matches!(
            got,
            Outcome::Created {
                acknowledged: true,
                ..
            }
        ),
        "{got:?}"
    );
    app.deliver(monday(0)).await;
    let ack = app.last_to(CARLOS_ADDR, "Recibimos su solicitud").clone();
    // Greeted by the directory's name, the registration dated by the injected clock.
    for line in [
        "Estimado(a) Carlos Andrés Pérez Niño:",
        "Fecha de registro: lunes 30 de noviembre de 2026, 9:00 a. m.",
    ] {
        assert!(ack.body_text.contains(line), "{line}: {}", ack.body_text);
    }
    assert!(
        ack.body_text
            .contains("Tiempo de solución: 8,0 horas hábiles"),
        "{}",
        ack.body_text
    );
    let n = number(&ack);
    // `sla report` tells the help desk what the requester was told: service, priority, target
    // and due time.
    let report = app.cli().json(&["sla", "report", "--json"]);
    let row = &report[0];
    assert_eq!(row["id"], n.to_string());
    let told = |label: &str| {
        ack.body_text
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in {}", ack.body_text))
            .trim()
            .to_owned()
    };
    assert!(
        told("Servicio:").contains(row["service"].as_str().unwrap()),
        "{row}"
    );
    assert_eq!(
        told("Prioridad:"),
        row["priority"].as_str().unwrap_or("por definir")
    );
    assert_eq!(row["target_business_hours"], 8.0);
    assert_eq!(row["due_at"], "2026-11-30T17:00:00-05:00");
    assert_eq!(
        told("Fecha estimada de solución:"),
        "lunes 30 de noviembre de 2026, 5:00 p. m."
    );
    let notice = app.last_to(LAURA, "Nueva solicitud").clone();
    assert_eq!(number(&notice), n);
    // The request as written, and the requester's phone from the directory.
    for line in ["Piso 3, oficina 301", "Teléfono: 601 381 1700 ext. 4120"] {
        assert!(
            notice.body_text.contains(line),
            "{line}: {}",
            notice.body_text
        );
    }
    assert_eq!(app.ticket(n).await.status, Status::TrabajoEnProgreso);

    app.exchange(
        &answer(LAURA, &notice, "#resolver Impresora instalada y probada"),
        monday(90),
    )
    .await;
    assert_eq!(app.ticket(n).await.status, Status::Resuelto);
    let survey = app.last_to(CARLOS_ADDR, "encuesta").clone();
    assert!(
        survey.body_text.contains("Impresora instalada y probada"),
        "{}",
        survey.body_text
    );

    app.receive(&answer(CARLOS, &survey, "5\nMuy amables"), monday(120))
        .await;
    let t = app.ticket(n).await;
    assert_eq!(t.survey.as_ref().map(|s| s.0), Some(5), "{t:?}");
}

/// Activities 4–5 and the three-business-day rule: a request missing fields waits on the user
/// with its SLA paused; a mail in Carlos's name to the plain address (no proof) completes
/// nothing; silence closes it after three business days, not before, with a mail.
async fn an_incomplete_request_waits_and_silence_closes_it(kind: DbKind) {
    let Some(mut app) = TestApp::with_request(
        kind,
        CARLOS,
        "Instalación de impresora",
        "Necesito instalar una impresora.",
    )
    .await
    else {
        return;
    };
    let ask = app.last_to(CARLOS_ADDR, "Información pendiente").clone();
    assert!(ask.body_text.contains("Ubicación"), "{}", ask.body_text);
    let n = number(&ask);
    let t = app.ticket(n).await;
    assert_eq!(t.status, Status::PendientePorUsuario);

    let forged = new_mail(
        CARLOS,
        &format!("RE: [{}] Instalación de impresora", n),
        "Número de equipo: PC-0456\nUbicación: Piso 3\n",
    );
    app.exchange(&forged, monday(30)).await;
    assert_eq!(app.ticket(n).await.status, Status::PendientePorUsuario);
    app.last_to(CARLOS_ADDR, "no pudimos verificar");

    // Thursday 3 December, 8:00: not yet three business days of silence.
    app.sweep(monday(3 * 24 * 60 - 60)).await;
    assert_eq!(app.ticket(n).await.status, Status::PendientePorUsuario);
    // Friday 4 December: past them.
    app.sweep(monday(4 * 24 * 60)).await;
    app.deliver(monday(4 * 24 * 60)).await;
    assert_eq!(app.ticket(n).await.status, Status::Cerrado);
    app.last_to(CARLOS_ADDR, "cerrada por falta de información");
}

/// Activities 9–12: the approver named by the requester is asked; their APROBAR, answered
/// from the approval mail, approves, the requester is told by whom, and the work reaches the
/// agents.
async fn the_named_approver_approves_by_reply(kind: DbKind) {
    let Some(mut app) = TestApp::new(kind).await else {
        return;
    };
    let body = format!(
        "Necesito acceso remoto por VPN para trabajar desde casa.\nJustificación: cierre contable de fin de año\nNúmero de equipo: PC-0456\nFecha de finalización: 2026-12-31\nAprobador: {BOSS}\n"
    );
    app.exchange(&new_mail(CARLOS, "Acceso VPN", &body), monday(0))
        .await;
    let ask = app.last_to(BOSS, "Aprobación requerida").clone();
    let n = number(&ask);
    assert_eq!(app.ticket(n).await.status, Status::PendienteAprobacion);
    assert!(app
        .inbox(LAURA)
        .iter()
        .all(|m| number(m) != n || !m.subject.contains("Nueva solicitud")));

    app.exchange(&answer(BOSS, &ask, "APROBAR"), monday(45))
        .await;
    assert_eq!(app.ticket(n).await.status, Status::TrabajoEnProgreso);
    let told = app.last_to(CARLOS_ADDR, "fue aprobada");
    // Named with the position the directory writes for her.
    assert!(
        told.body_text.contains(
            "Luisa Fernanda Martínez Acosta, Subdirectora de Infraestructura Tecnológica"
        ),
        "{}",
        told.body_text
    );
    assert_eq!(number(app.last_to(LAURA, "Nueva solicitud")), n);
}

/// Issue 13 item 4: a sweep with more due thresholds than one transaction takes (several
/// chunks, on PostgreSQL side by side, each sending its writes in several parts) on a
/// two-thread runtime like the daemon's: each threshold reaches each reader once, and the next
/// sweep sends nothing again.
async fn many_due_thresholds_are_each_alerted_once(kind: DbKind) {
    let Some(mut app) = TestApp::new(kind).await else {
        return;
    };
    // Three transactions' worth of tickets, each from its own requester (a sender's hourly
    // limit would hold back the rest).
    const TICKETS: usize = 260;
    for i in 0..TICKETS {
        let from = format!("Usuario {i} <usuario{i}@example.test>");
        app.receive(
            &new_mail(&from, "Instalación de impresora", COMPLETE),
            monday(0),
        )
        .await;
    }
    // Thursday: far past the 8 business hours, so every ticket's 50, 75 and 100 % at once.
    let later = monday(3 * 24 * 60);
    app.sweep(later).await;
    app.deliver(later).await;
    app.sweep(later + Duration::hours(1)).await;
    app.deliver(later + Duration::hours(1)).await;
    for (reader, percent) in [
        ("sandra.moreno@example.test", "50 %"),
        ("luisa.martinez@example.test", "75 %"),
        ("hernan.quintero@example.test", "100 %"),
    ] {
        let alerts: Vec<TicketNumber> = app
            .inbox(reader)
            .iter()
            .filter(|m| {
                m.subject
                    .contains(&format!("Alerta de vencimiento al {percent}"))
            })
            .map(number)
            .collect();
        let tickets: std::collections::BTreeSet<&TicketNumber> = alerts.iter().collect();
        assert_eq!(alerts.len(), TICKETS, "{reader}: {percent} alerts");
        assert_eq!(
            tickets.len(),
            TICKETS,
            "{reader}: one {percent} alert per ticket"
        );
    }
}

on_both_databases!(setup = kind;
    a_complete_request_is_worked_resolved_and_rated,
    an_incomplete_request_waits_and_silence_closes_it,
    the_named_approver_approves_by_reply,
    many_due_thresholds_are_each_alerted_once,
);
