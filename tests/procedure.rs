//! The request procedure, activity by activity, driven by email and `jobs run --now` against
//! the real daemon, mail server and databases, with the shipped catalogue and directory.

mod support;

use support::flow::{agent_reply, events, inbox_with, jobs_at, tag};

use chrono::{DateTime, Duration as Days, Utc};
use mesayuda::mail::inbound::InboundMail;
use serde_json::Value;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World};

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const AGENT: &str = "Laura Rojas <laura.rojas@example.test>";
const SPECIALIST: &str = "miguel.torres@example.test";
const COORDINATOR: &str = "sandra.moreno@example.test";
const SUBDIRECTOR: &str = "luisa.martinez@example.test";
const DIRECTOR: &str = "hernan.quintero@example.test";
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

/// Replies to `parent` as `from`, keeping the subject tag and answering its Reply-To (the
/// personal token address that proves the sender), as a mail client does.
async fn reply(w: &World, from: &str, parent: &InboundMail, body: &str) {
    mail::reply(w.mail.smtp_port, from, parent, body).await;
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
    assert_eq!(t["service"], "IMPRESORA");
    assert_eq!(t["category"].as_str().map(|c| !c.is_empty()), Some(true));
    assert_eq!(t["fields"]["Número de equipo"], "PC-0456");
    assert_eq!(t["sla"]["target_business_hours"], 8.0);
    assert_eq!(t["sla"]["paused"], false);
    let acts: Vec<i64> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["activity"].as_i64())
        .collect();
    for a in [1, 2, 3, 4, 9, 13] {
        assert!(
            acts.contains(&a),
            "activity {a} missing from history {acts:?}"
        );
    }
}

async fn incomplete_request_waits_on_the_user_until_completed(w: World) {
    let _d = w.spawn_daemon();
    let (id, _) = request(
        &w,
        "Instalación de impresora",
        "Necesito instalar una impresora.",
    )
    .await;
    let ask = inbox_with(&w, CARLOS_ADDR, "missing-information mail", |m| {
        m.subject.contains("Información pendiente")
    })
    .await;
    assert!(
        ask.body_text.contains("Número de equipo") && ask.body_text.contains("Ubicación"),
        "{}",
        ask.body_text
    );
    assert_eq!(tag(&ask).as_deref(), Some(id.as_str()));
    let t = wait_status(&w, &id, "pendiente_por_usuario").await;
    assert_eq!(t["sla"]["paused"], true);
    reply(
        &w,
        CARLOS,
        &ask,
        "Número de equipo: PC-0456\nUbicación: Piso 3\n\nEl mié, Mesa escribió:\n> Para tramitar",
    )
    .await;
    let t = wait_status(&w, &id, "trabajo_en_progreso").await;
    assert_eq!(t["sla"]["paused"], false);
    assert_eq!(t["fields"]["Ubicación"], "Piso 3");
}

async fn silence_for_three_business_days_closes_with_a_mail(w: World) {
    let _d = w.spawn_daemon();
    let (id, _) = request(&w, "Instalación de impresora", "Necesito una impresora.").await;
    wait_status(&w, &id, "pendiente_por_usuario").await;
    let early = jobs_at(&w, Utc::now() + Days::hours(1));
    assert_eq!(early["changes"].as_array().unwrap().len(), 0, "{early}");
    let later = Utc::now() + Days::days(10);
    let r = jobs_at(&w, later);
    assert!(
        r["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains(&id)),
        "{r}"
    );
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "cerrado");
    assert_eq!(t["close_reason"], "sin_respuesta_usuario");
    let closing = inbox_with(&w, CARLOS_ADDR, "closing mail", |m| {
        m.subject.contains("cerrada por falta de información")
    })
    .await;
    assert!(
        closing.body_text.contains("3 días hábiles"),
        "{}",
        closing.body_text
    );
    let again = jobs_at(&w, later);
    assert_eq!(
        again["timers_handled"], 0,
        "second run for the same instant did something: {again}"
    );
}

async fn agent_note_stays_internal_and_change_closes(w: World) {
    let _d = w.spawn_daemon();
    let (id, _ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    wait_status(&w, &id, "trabajo_en_progreso").await;
    agent_reply(
        &w,
        AGENT,
        &id,
        "#nota El usuario pide que sea después de las 3 pm",
    )
    .await;
    eventually(WAIT, "note recorded", || async {
        (events(&w.cli().ticket(&id), "nota") == 1).then_some(())
    })
    .await;
    agent_reply(&w, AGENT, &id, "#cambio CHG-0042").await;
    let t = wait_status(&w, &id, "cerrado").await;
    assert_eq!(t["close_reason"], "cambio");
    assert_eq!(t["change_id"], "CHG-0042");
    let closing = inbox_with(&w, CARLOS_ADDR, "change closing mail", |m| {
        m.subject.contains("CHG-0042")
    })
    .await;
    assert!(closing.body_text.contains("CHG-0042"));
    for m in mail::inbox(w.mail.imap_port, CARLOS_ADDR).await {
        assert!(
            !m.body_text.contains("después de las 3 pm"),
            "the note reached the requester: {}",
            m.subject
        );
    }
}

async fn resolution_survey_and_auto_close(w: World) {
    let _d = w.spawn_daemon();
    let (id, _ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    wait_status(&w, &id, "trabajo_en_progreso").await;
    agent_reply(
        &w,
        AGENT,
        &id,
        "#resolver Impresora instalada y probada con página de prueba",
    )
    .await;
    let survey = inbox_with(&w, CARLOS_ADDR, "survey", |m| {
        m.subject.contains("encuesta")
    })
    .await;
    assert!(survey.body_text.contains("Impresora instalada y probada"));
    assert!(survey.body_text.contains("1 al 5"));
    wait_status(&w, &id, "resuelto").await;
    reply(&w, CARLOS, &survey, "5\nExcelente servicio, gracias").await;
    let t = eventually(WAIT, "rating stored", || async {
        let t = w.cli().ticket(&id);
        (!t["survey"].is_null()).then_some(t)
    })
    .await;
    assert_eq!(t["survey"]["rating"], 5);
    assert!(t["survey"]["comment"]
        .as_str()
        .unwrap()
        .contains("Excelente"));
    jobs_at(&w, Utc::now() + Days::days(7));
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "cerrado");
    assert_eq!(t["close_reason"], "resuelto");
}

/// Issue 17: a signature under `#resolver` is no mail of its own, and a rated survey answer
/// whose comment says "todavía no" keeps its rating instead of reopening.
async fn signed_resolution_and_rated_comment_keep_their_meaning(w: World) {
    let _d = w.spawn_daemon();
    let (id, _ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    wait_status(&w, &id, "trabajo_en_progreso").await;
    agent_reply(
        &w,
        AGENT,
        &id,
        "#resolver Impresora instalada y probada\n\nLaura Rojas\nAgente de Soporte",
    )
    .await;
    let survey = inbox_with(&w, CARLOS_ADDR, "survey", |m| {
        m.subject.contains("encuesta")
    })
    .await;
    wait_status(&w, &id, "resuelto").await;
    reply(
        &w,
        CARLOS,
        &survey,
        "5 Excelente servicio. Todavía no lo recojo, pero ya me confirmaron la reserva.",
    )
    .await;
    let t = eventually(WAIT, "rating stored", || async {
        let t = w.cli().ticket(&id);
        (!t["survey"].is_null()).then_some(t)
    })
    .await;
    assert_eq!(t["status"], "resuelto");
    assert_eq!(t["survey"]["rating"], 5);
    assert_eq!(
        t["survey"]["comment"],
        "Excelente servicio. Todavía no lo recojo, pero ya me confirmaron la reserva."
    );
    let agent_answers = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "respuesta_agente")
        .count();
    assert_eq!(agent_answers, 0, "the signature went out as a message");
    let inbox = mail::inbox(w.mail.imap_port, CARLOS_ADDR).await;
    assert!(
        !inbox
            .iter()
            .any(|m| m.subject.contains("Respuesta a su solicitud")
                || m.subject.contains("Reabierto")),
        "{:#?}",
        inbox.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

async fn not_resolved_reopens(w: World) {
    let _d = w.spawn_daemon();
    let (id, _ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    wait_status(&w, &id, "trabajo_en_progreso").await;
    agent_reply(
        &w,
        AGENT,
        &id,
        "#asignar miguel.torres@example.test\n#resolver Listo",
    )
    .await;
    let survey = inbox_with(&w, CARLOS_ADDR, "survey", |m| {
        m.subject.contains("encuesta")
    })
    .await;
    reply(
        &w,
        CARLOS,
        &survey,
        "No está resuelto, la impresora sigue sin imprimir.",
    )
    .await;
    let t = wait_status(&w, &id, "trabajo_en_progreso").await;
    assert_eq!(t["sla"]["paused"], false);
    inbox_with(&w, SPECIALIST, "reopen notice to the assignee", |m| {
        m.subject.contains("Reabierto")
    })
    .await;
}

/// Issue 17 item 1: resolved by an agent who never took it, the reopened request is new work
/// again: the group's agents get the full notice, with what the requester says is wrong.
async fn not_resolved_unassigned_is_new_work_for_the_group(w: World) {
    let _d = w.spawn_daemon();
    let (id, _ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    wait_status(&w, &id, "trabajo_en_progreso").await;
    agent_reply(&w, AGENT, &id, "#resolver Listo").await;
    let survey = inbox_with(&w, CARLOS_ADDR, "survey", |m| {
        m.subject.contains("encuesta")
    })
    .await;
    let said = "No está resuelto, la impresora no aparece en mi equipo.";
    reply(&w, CARLOS, &survey, said).await;
    wait_status(&w, &id, "trabajo_en_progreso").await;
    let notice = inbox_with(
        &w,
        "laura.rojas@example.test",
        "the reopened request as new work",
        |m| {
            m.subject.contains("Nueva solicitud")
                && m.subject.contains(id.as_str())
                && m.body_text.contains("Último mensaje del solicitante")
        },
    )
    .await;
    assert!(notice.body_text.contains(said), "{}", notice.body_text);
    assert!(
        notice.body_text.contains("se reabrió"),
        "{}",
        notice.body_text
    );
    assert!(
        notice.body_text.contains("Ubicación: Piso 3, oficina 301"),
        "{}",
        notice.body_text
    );
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
    mail::send(w.mail.smtp_port, &oof).await;
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

async fn commands_from_a_non_agent_do_nothing(w: World) {
    let _d = w.spawn_daemon();
    let (id, ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    wait_status(&w, &id, "trabajo_en_progreso").await;
    reply(
        &w,
        CARLOS,
        &ack,
        "#cerrar ya no lo necesito\n#asignar carlos.perez@example.test",
    )
    .await;
    let t = eventually(WAIT, "ignored commands recorded", || async {
        let t = w.cli().ticket(&id);
        (events(&t, "comandos_ignorados") == 1).then_some(t)
    })
    .await;
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert!(t["assignee"].is_null());
}

async fn sla_alerts_reach_the_escalation_chain_once(w: World) {
    let _d = w.spawn_daemon();
    let (id, _ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    wait_status(&w, &id, "trabajo_en_progreso").await;
    agent_reply(&w, AGENT, &id, &format!("#asignar {SPECIALIST}")).await;
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
    assert_eq!(jobs_at(&w, due(0) - Days::minutes(1))["alerts_queued"], 0);
    assert_eq!(jobs_at(&w, due(0) + Days::minutes(1))["alerts_queued"], 1);
    assert_eq!(
        jobs_at(&w, due(0) + Days::minutes(1))["alerts_queued"],
        0,
        "50 % alert sent twice"
    );
    for who in [SPECIALIST, COORDINATOR] {
        inbox_with(&w, who, "50 % alert", |m| m.subject.contains("50 %")).await;
    }
    assert_eq!(jobs_at(&w, due(2) + Days::minutes(1))["alerts_queued"], 2);
    inbox_with(&w, SUBDIRECTOR, "75 % alert", |m| {
        m.subject.contains("75 %")
    })
    .await;
    let full = inbox_with(&w, DIRECTOR, "100 % alert", |m| m.subject.contains("100 %")).await;
    assert!(
        full.body_text
            .contains("Servicio: Instalación de impresora"),
        "{}",
        full.body_text
    );
    // `jobs run` queued every alert before it answered; idle, each of them is in its inbox.
    w.wait_idle(WAIT).await;
    assert!(mail::inbox(w.mail.imap_port, DIRECTOR)
        .await
        .iter()
        .all(|m| !m.subject.contains("50 %")));
    assert_eq!(
        mail::inbox(w.mail.imap_port, SPECIALIST)
            .await
            .iter()
            .filter(|m| m.subject.contains("Alerta"))
            .count(),
        3
    );
    assert_eq!(
        w.cli().ticket(&id)["sla"]["alerts_sent"],
        serde_json::json!([50, 75, 100])
    );
}

async fn catalogue_by_mail_incidents_and_phone_requests(w: World) {
    let _d = w.spawn_daemon();
    mail::send(w.mail.smtp_port, &Draft::new(CARLOS, "Catálogo", "")).await;
    let cat = inbox_with(&w, CARLOS_ADDR, "catalogue", |m| {
        m.subject.contains("Catálogo de servicios")
    })
    .await;
    for s in [
        "Servicio: VPN",
        "Justificación:",
        "Anillado",
        "Cambio de contraseña",
    ] {
        assert!(cat.body_text.contains(s), "catalogue lacks {s}");
    }
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
        m.subject.contains("[INC-")
    })
    .await;
    // Our MTA vouches for the agent: a new mail has no token to answer.
    let phone = Draft {
        extra_headers: TRUSTED_PASS,
        ..Draft::new(AGENT, "Solicitud telefónica", "#solicitante diana.lopez@example.test\nInstalación de impresora\nNúmero de equipo: PC-9\nUbicación: Piso 8")
    };
    mail::send(w.mail.smtp_port, &phone).await;
    let ack = inbox_with(
        &w,
        "diana.lopez@example.test",
        "ack to the phone requester",
        |m| m.subject.contains("Recibimos"),
    )
    .await;
    let t = w.cli().ticket(&tag(&ack).unwrap());
    assert_eq!(t["requester"], "diana.lopez@example.test");
    // `tickets list` shows incidents too; none of them may be a request.
    let requests = w
        .cli()
        .tickets()
        .into_iter()
        .filter(|t| t["kind"] == "requerimiento")
        .count();
    assert_eq!(requests, 1, "catalogue or incident mail opened a request");
}

async fn a_reply_to_a_closed_ticket_opens_a_new_one(w: World) {
    let _d = w.spawn_daemon();
    let (id, ack) = request(&w, "Instalación de impresora", COMPLETE).await;
    agent_reply(&w, AGENT, &id, "#cerrar duplicado").await;
    wait_status(&w, &id, "cerrado").await;
    reply(
        &w,
        CARLOS,
        &ack,
        "Necesito otra impresora para el piso 4.\nNúmero de equipo: PC-7\nUbicación: Piso 4",
    )
    .await;
    let tickets = eventually(WAIT, "second ticket", || async {
        let t = w.cli().tickets();
        (t.len() == 2).then_some(t)
    })
    .await;
    let new = w.cli().ticket(tickets[1]["id"].as_str().unwrap());
    assert_eq!(new["related_ticket"], id.as_str());
}

const TRUSTED_PASS: &str =
    "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n";

on_both_databases!(with_procedure_trusting_mta;
    complete_request_goes_to_work,
    incomplete_request_waits_on_the_user_until_completed,
    silence_for_three_business_days_closes_with_a_mail,
    agent_note_stays_internal_and_change_closes,
    resolution_survey_and_auto_close,
    signed_resolution_and_rated_comment_keep_their_meaning,
    not_resolved_reopens,
    not_resolved_unassigned_is_new_work_for_the_group,
    out_of_office_reply_creates_nothing_and_gets_no_answer,
    commands_from_a_non_agent_do_nothing,
    sla_alerts_reach_the_escalation_chain_once,
    catalogue_by_mail_incidents_and_phone_requests,
    a_reply_to_a_closed_ticket_opens_a_new_one,
);
