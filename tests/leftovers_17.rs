//! Issue 17, what was left: incidents sent back to the request procedure (`#requerimiento`)
//! and listed with the requests, SLA alerts that date each threshold on its own, and the
//! requester's answer to an agent's `#pendiente` reaching that agent — observed in the inboxes
//! of the shipped directory's people and through the CLI, on both databases.

mod support;

use support::flow::{inbox_with, jobs_at, notice, request, tag};

use chrono::{DateTime, Duration as Days, Utc};
use serde_json::Value;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World};

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LAURA: &str = "Laura Rojas <laura.rojas@example.test>";
const LAURA_ADDR: &str = "laura.rojas@example.test";
const SPECIALIST: &str = "miguel.torres@example.test";
const SUBDIRECTOR: &str = "luisa.martinez@example.test";
const DIRECTOR: &str = "hernan.quintero@example.test";
const WAIT: Duration = Duration::from_secs(25);
const TRUSTED_PASS: &str =
    "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n";
const PRINTER: &str = "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n";

/// REQ-1 → INC-1 (`#incidente`) → REQ-2 (`#requerimiento IMPRESORA`), the requester told each
/// time; a `#requerimiento` without proof is refused and changes nothing.
async fn a_request_becomes_an_incident_and_a_request_again(w: World) {
    let _d = w.spawn_daemon();
    let first = request(&w, CARLOS, "Instalación de impresora", PRINTER).await;
    let n = notice(&w, LAURA_ADDR, &first).await;
    mail::reply(
        w.mail.smtp_port,
        LAURA,
        &n,
        "#incidente parece una falla del equipo",
    )
    .await;
    let told = inbox_with(&w, CARLOS_ADDR, "incident notice", |m| {
        m.subject.contains("[INC-1]")
    })
    .await;
    assert!(told.body_text.contains(&first), "{}", told.body_text);
    let copy = inbox_with(&w, LAURA_ADDR, "incident copy", |m| {
        m.subject.contains("[INC-1] Incidente reportado")
    })
    .await;
    assert!(
        copy.body_text.contains("#requerimiento"),
        "{}",
        copy.body_text
    );

    // A From header alone proves nothing: the same command, not answering the copy.
    let forged = Draft::new(
        LAURA,
        "RE: [INC-1] Instalación de impresora",
        "#requerimiento",
    );
    mail::send(w.mail.smtp_port, &forged).await;
    let refused = inbox_with(&w, LAURA_ADDR, "refusal", |m| {
        m.subject.contains("INC-1") && m.body_text.contains("no pudimos verificar")
    })
    .await;
    assert!(
        refused.body_text.contains("#requerimiento")
            && refused.body_text.contains("sobre el incidente INC-1"),
        "{}",
        refused.body_text
    );
    assert_eq!(w.cli().ticket("INC-1")["to_ticket"], Value::Null);
    // A forger repeating it does not flood Laura with our warnings: one an hour at most,
    // however her address is spelt.
    mail::send(w.mail.smtp_port, &forged).await;
    let respelt = Draft::new(
        "Laura Rojas <Laura.Rojas+otra@example.test>",
        "RE: [INC-1] Instalación de impresora",
        "#requerimiento",
    );
    mail::send(w.mail.smtp_port, &respelt).await;
    w.wait_idle(WAIT).await;
    let warnings = mail::inbox(w.mail.imap_port, LAURA_ADDR)
        .await
        .into_iter()
        .filter(|m| m.subject.contains("INC-1") && m.body_text.contains("no pudimos verificar"))
        .count();
    assert_eq!(warnings, 1);
    assert_eq!(w.cli().ticket("INC-1")["to_ticket"], Value::Null);

    // A service the catalogue lacks: Laura is shown the one command an incident takes.
    mail::reply(w.mail.smtp_port, LAURA, &copy, "#requerimiento NOEXISTE").await;
    let unknown = inbox_with(&w, LAURA_ADDR, "command not applied", |m| {
        m.subject.contains("INC-1") && m.body_text.contains("no se aplicaron")
    })
    .await;
    assert!(
        unknown.body_text.contains("«NOEXISTE»")
            && unknown.body_text.contains("#requerimiento CODIGO")
            && !unknown.body_text.contains("#asignar"),
        "{}",
        unknown.body_text
    );
    assert_eq!(w.cli().ticket("INC-1")["to_ticket"], Value::Null);

    mail::reply(w.mail.smtp_port, LAURA, &copy, "#requerimiento IMPRESORA").await;
    let back = inbox_with(&w, CARLOS_ADDR, "continues as a request", |m| {
        m.subject
            .contains("Su reporte INC-1 continúa como la solicitud")
    })
    .await;
    let second = tag(&back).expect("tagged");
    assert_ne!(second, first);
    assert!(back.body_text.contains("INC-1"), "{}", back.body_text);
    let t = w.cli().ticket(&second);
    assert_eq!(t["service"], "IMPRESORA");
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert_eq!(t["related_ticket"], first.as_str());
    // Work reaches the agents again, with the request as Carlos wrote it.
    let again = notice(&w, LAURA_ADDR, &second).await;
    assert!(
        again.body_text.contains("Piso 3, oficina 301"),
        "{}",
        again.body_text
    );
    let inc = w.cli().ticket("INC-1");
    assert_eq!(inc["kind"], "incidente");
    assert_eq!(inc["from_ticket"], first.as_str());
    assert_eq!(inc["to_ticket"], second.as_str());
    assert_eq!(inc["status"], "convertido_requerimiento");
}

/// A new mail classified as an incident, listed and shown with the requests; an agent whose
/// mail our MTA authenticated sends it back without answering the copy.
async fn incidents_are_listed_shown_and_sent_back_by_an_authenticated_agent(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, CARLOS, "Instalación de impresora", PRINTER).await;
    mail::send(
        w.mail.smtp_port,
        &Draft::new(
            CARLOS,
            "El correo no funciona",
            "Desde esta mañana no abre.",
        ),
    )
    .await;
    inbox_with(&w, CARLOS_ADDR, "incident notice", |m| {
        m.subject.contains("[INC-1]")
    })
    .await;
    let incidents = w
        .cli()
        .json(&["tickets", "list", "--kind", "incidente", "--json"]);
    let incidents = incidents.as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["id"], "INC-1");
    assert_eq!(incidents[0]["kind"], "incidente");
    let all = w.cli().tickets();
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|t| (t["id"].as_str().unwrap(), t["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [(id.as_str(), "requerimiento"), ("INC-1", "incidente")]
    );
    let shown = w.cli().ticket("INC-1");
    assert_eq!(shown["requester"], CARLOS_ADDR);
    assert!(shown["report_text"]
        .as_str()
        .unwrap()
        .contains("Desde esta mañana no abre."));
    let text = w.cli().run(&["tickets", "show", "INC-1"]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("El correo no funciona"));

    let vouched = Draft {
        extra_headers: TRUSTED_PASS,
        ..Draft::new(LAURA, "RE: [INC-1] El correo no funciona", "#requerimiento")
    };
    mail::send(w.mail.smtp_port, &vouched).await;
    let back = inbox_with(&w, CARLOS_ADDR, "continues as a request", |m| {
        m.subject
            .contains("Su reporte INC-1 continúa como la solicitud")
    })
    .await;
    let req = tag(&back).unwrap();
    let t = w.cli().ticket(&req);
    assert_eq!(t["requester"], CARLOS_ADDR);
    assert!(t["messages"][0]["body_text"]
        .as_str()
        .unwrap()
        .contains("Desde esta mañana no abre."));
}

/// Found late (the daemon was down), the 75 % and 100 % alerts each give their own threshold's
/// time, and say why the reader gets them.
async fn late_alerts_show_their_own_threshold_times(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, CARLOS, "Instalación de impresora", PRINTER).await;
    let n = notice(&w, LAURA_ADDR, &id).await;
    mail::reply(
        w.mail.smtp_port,
        LAURA,
        &n,
        &format!("#asignar {SPECIALIST}"),
    )
    .await;
    let t = eventually(WAIT, "assigned", || async {
        let t = w.cli().ticket(&id);
        (t["assignee"] == SPECIALIST).then_some(t)
    })
    .await;
    let due = |p: usize| -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t["sla"]["thresholds"][p]["due_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let local =
        |p: usize| mesayuda::domain::es_co::datetime_in(due(p), &chrono_tz::America::Bogota);
    // One sweep well after 100 %: all three thresholds at once.
    assert_eq!(jobs_at(&w, due(2) + Days::hours(30))["alerts_queued"], 3);
    let at75 = inbox_with(&w, SUBDIRECTOR, "75 % alert", |m| {
        m.subject.contains("75 %")
    })
    .await;
    assert!(
        at75.body_text
            .contains(&format!("Umbral del 75 %: {}", local(1))),
        "{}\n(75 % at {})",
        at75.body_text,
        local(1)
    );
    assert!(at75.body_text.contains("con retraso"), "{}", at75.body_text);
    assert!(
        at75.body_text.contains("subdirector(a)"),
        "{}",
        at75.body_text
    );
    let at100 = inbox_with(&w, DIRECTOR, "100 % alert", |m| m.subject.contains("100 %")).await;
    assert!(
        at100
            .body_text
            .contains(&format!("Umbral del 100 %: {}", local(2))),
        "{}",
        at100.body_text
    );
    assert!(!at100.body_text.contains(&local(0)), "{}", at100.body_text);
    let mine = inbox_with(&w, SPECIALIST, "100 % alert", |m| {
        m.subject.contains("100 %")
    })
    .await;
    assert!(
        mine.body_text.contains("especialista asignado"),
        "{}",
        mine.body_text
    );
    assert!(mine.body_text.contains("Prioridad:"), "{}", mine.body_text);
    assert!(
        mine.body_text
            .contains("Asignado a: Miguel Ángel Torres Pardo"),
        "{}",
        mine.body_text
    );
}

/// The requester's answer to an agent's `#pendiente` reaches that agent, with question and answer.
async fn the_answer_to_a_pendiente_reaches_the_agent_who_asked(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, CARLOS, "Instalación de impresora", PRINTER).await;
    let n = notice(&w, LAURA_ADDR, &id).await;
    mail::reply(
        w.mail.smtp_port,
        LAURA,
        &n,
        "#pendiente ¿Qué modelo de impresora es?",
    )
    .await;
    let asked = inbox_with(&w, CARLOS_ADDR, "question", |m| {
        tag(m).as_deref() == Some(id.as_str()) && m.body_text.contains("¿Qué modelo")
    })
    .await;
    mail::reply(w.mail.smtp_port, CARLOS, &asked, "Es una HP LaserJet M404.").await;
    let answer = inbox_with(&w, LAURA_ADDR, "answer forwarded", |m| {
        tag(m).as_deref() == Some(id.as_str()) && m.subject.contains("Respuesta del usuario")
    })
    .await;
    assert!(
        answer.body_text.contains("Es una HP LaserJet M404."),
        "{}",
        answer.body_text
    );
    assert!(
        answer.body_text.contains("¿Qué modelo de impresora es?"),
        "{}",
        answer.body_text
    );
    // Its Reply-To is Laura's own: she can act on the answer by replying.
    assert!(answer
        .reply_to
        .as_ref()
        .is_some_and(|r| r.email.contains('+')));
}

on_both_databases!(
    with_procedure_trusting_mta;
    a_request_becomes_an_incident_and_a_request_again,
    incidents_are_listed_shown_and_sent_back_by_an_authenticated_agent,
    late_alerts_show_their_own_threshold_times,
    the_answer_to_a_pendiente_reaches_the_agent_who_asked,
);
