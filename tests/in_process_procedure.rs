//! The procedure's activities in process, moved from `tests/procedure.rs` (issue: "an
//! in-process tier takes the procedure and approval scenarios: no mail server, no sleeps"):
//! the daemon's own wiring on a temporary database, an injected clock starting Monday 30
//! November 2026, 9:00 a. m. in Bogotá. Each story asserts what `procedure.rs` asserted against
//! the real servers — the mails each person receives, the ticket as `tickets show --json`
//! prints it — and, where that file waited and looked, asserts absences exactly: after
//! `deliver`, a mail missing from an inbox was never sent. `jobs run --now T` stays the same
//! command where its report is checked (`TestApp::jobs`), else `sweep(T)` then `deliver(T)`.
//! `procedure.rs` keeps two of these stories on the real servers
//! as well: the complete request and the out-of-office reply.
//!
//! Like `procedure.rs` did, the help desk trusts `mx.example.test`: a topmost
//! `Authentication-Results: mx.example.test; dmarc=pass …` authenticates the sender of a mail
//! that has no reply code to answer (an agent's phone request).

mod support;

use chrono::{DateTime, Utc};
use mesayuda::domain::ticket::TicketNumber;
use mesayuda::mail::inbound::InboundMail;
use serde_json::Value;
use support::app::{answer, monday, new_mail, number, TestApp};
use support::flow::events;
use support::mail::Draft;
use support::DbKind;

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const AGENT: &str = "Laura Rojas <laura.rojas@example.test>";
const AGENT_ADDR: &str = "laura.rojas@example.test";
const SPECIALIST: &str = "miguel.torres@example.test";
const COORDINATOR: &str = "sandra.moreno@example.test";
const SUBDIRECTOR: &str = "luisa.martinez@example.test";
const DIRECTOR: &str = "hernan.quintero@example.test";
const COMPLETE: &str = "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n";
const TRUSTED_PASS: &str =
    "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n";
/// A calendar day, in the minutes `monday` counts.
const DAY: i64 = 24 * 60;

/// The shipped catalogue and directory, the MTA `mx.example.test` trusted, as
/// `World::with_procedure_trusting_mta` configures the real daemon.
async fn trusting_mta(kind: DbKind) -> Option<TestApp> {
    TestApp::with_config(
        kind,
        "[security]\ntrusted_authserv_id = \"mx.example.test\"\n",
    )
    .await
}

/// Carlos asks for something at Monday 9:00 and what it causes is delivered; returns the
/// ticket and its acknowledgement.
async fn request(app: &mut TestApp, subject: &str, body: &str) -> (TicketNumber, InboundMail) {
    app.exchange(&new_mail(CARLOS, subject, body), monday(0))
        .await;
    let ack = app.last_to(CARLOS_ADDR, "Recibimos su solicitud").clone();
    (number(&ack), ack)
}

/// The new-work notice the agent received about `n`: what they answer to act on it.
fn notice(app: &TestApp, n: TicketNumber) -> InboundMail {
    app.inbox(AGENT_ADDR)
        .iter()
        .rev()
        .find(|m| m.subject.contains("Nueva solicitud") && number(m) == n)
        .unwrap_or_else(|| panic!("{AGENT_ADDR} received no notice about {n}"))
        .clone()
}

/// Carlos's complete printer request goes to work, and the agent answers its notice with
/// `resolution` at `at`; returns the ticket and the survey Carlos received.
async fn resolved(
    app: &mut TestApp,
    resolution: &str,
    at: DateTime<Utc>,
) -> (TicketNumber, InboundMail) {
    let (n, _) = request(app, "Instalación de impresora", COMPLETE).await;
    assert_eq!(show(app, n)["status"], "trabajo_en_progreso");
    app.exchange(&answer(AGENT, &notice(app, n), resolution), at)
        .await;
    (n, app.last_to(CARLOS_ADDR, "encuesta").clone())
}

/// Ticket `n` as `tickets show --json` prints it.
fn show(app: &TestApp, n: TicketNumber) -> Value {
    app.cli().ticket(&n.to_string())
}

/// The subjects `who` received whose subject contains `what`.
fn subjects_to(app: &TestApp, who: &str, what: &str) -> Vec<String> {
    app.inbox(who)
        .iter()
        .filter(|m| m.subject.contains(what))
        .map(|m| m.subject.clone())
        .collect()
}

/// What `complete_request_goes_to_work` (kept end to end in `procedure.rs`) checks beyond
/// `in_process.rs`'s first story: the acknowledgement's service, priority and target, and the
/// ticket classified, its fields kept, its clock running and activities 1–4, 9 and 13 recorded.
async fn a_complete_request_is_classified_and_goes_to_work(mut app: TestApp) {
    let (n, ack) = request(&mut app, "Instalación de impresora", COMPLETE).await;
    for line in [
        "Servicio: Instalación de impresora",
        "Prioridad: media",
        "Tiempo de solución: 8,0 horas hábiles",
    ] {
        assert!(ack.body_text.contains(line), "{line}: {}", ack.body_text);
    }
    support::flow::assert_printer_request_at_work(&show(&app, n));
}

/// Activities 4–5: the missing fields are asked for on the ticket, its clock paused; the
/// requester's answer from their client (quoted text and all) completes it and the clock runs.
async fn an_incomplete_request_waits_on_the_user_until_completed(mut app: TestApp) {
    let (n, _) = request(
        &mut app,
        "Instalación de impresora",
        "Necesito instalar una impresora.",
    )
    .await;
    let ask = app.last_to(CARLOS_ADDR, "Información pendiente").clone();
    assert!(
        ask.body_text.contains("Número de equipo") && ask.body_text.contains("Ubicación"),
        "{}",
        ask.body_text
    );
    assert_eq!(number(&ask), n);
    let t = show(&app, n);
    assert_eq!(t["status"], "pendiente_por_usuario");
    assert_eq!(t["sla"]["paused"], true);

    app.exchange(
        &answer(
            CARLOS,
            &ask,
            "Número de equipo: PC-0456\nUbicación: Piso 3\n\nEl mié, Mesa escribió:\n> Para tramitar",
        ),
        monday(30),
    )
    .await;
    let t = show(&app, n);
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert_eq!(t["sla"]["paused"], false);
    assert_eq!(t["fields"]["Ubicación"], "Piso 3");
}

/// Activities 6–8: an hour of silence does nothing; past three business days the request
/// closes for lack of answer with a mail saying why; the same sweep again does nothing more.
async fn silence_for_three_business_days_closes_with_a_mail(mut app: TestApp) {
    let (n, _) = request(
        &mut app,
        "Instalación de impresora",
        "Necesito una impresora.",
    )
    .await;
    assert_eq!(show(&app, n)["status"], "pendiente_por_usuario");
    let received = app.inbox(CARLOS_ADDR).len();
    let early = app.jobs(monday(60)).await;
    assert_eq!(early["changes"], serde_json::json!([]), "{early}");
    assert_eq!(show(&app, n)["status"], "pendiente_por_usuario");
    assert_eq!(app.inbox(CARLOS_ADDR).len(), received, "an hour closed it");

    let later = monday(10 * DAY);
    let r = app.jobs(later).await;
    assert_eq!(
        r["changes"],
        serde_json::json!([format!("{n}: pendiente_por_usuario → cerrado")]),
        "{r}"
    );
    let t = show(&app, n);
    assert_eq!(t["status"], "cerrado");
    assert_eq!(t["close_reason"], "sin_respuesta_usuario");
    let closing = app
        .last_to(CARLOS_ADDR, "cerrada por falta de información")
        .clone();
    assert!(
        closing.body_text.contains("3 días hábiles"),
        "{}",
        closing.body_text
    );

    let received = app.inbox(CARLOS_ADDR).len();
    let again = app.jobs(later).await;
    assert_eq!(again["timers_handled"], 0, "{again}");
    assert_eq!(
        app.inbox(CARLOS_ADDR).len(),
        received,
        "a second sweep for the same instant sent mail"
    );
    assert_eq!(
        show(&app, n)["events"],
        t["events"],
        "a second sweep for the same instant did something"
    );
}

/// Activities 13–14: an agent's `#nota` is recorded and never reaches the requester; `#cambio`
/// closes the request on the change, and the requester is told its number.
async fn agent_note_stays_internal_and_change_closes(mut app: TestApp) {
    let (n, _) = request(&mut app, "Instalación de impresora", COMPLETE).await;
    assert_eq!(show(&app, n)["status"], "trabajo_en_progreso");
    let work = notice(&app, n);
    app.exchange(
        &answer(
            AGENT,
            &work,
            "#nota El usuario pide que sea después de las 3 pm",
        ),
        monday(10),
    )
    .await;
    assert_eq!(events(&show(&app, n), "nota"), 1);

    app.exchange(&answer(AGENT, &work, "#cambio CHG-0042"), monday(20))
        .await;
    let t = show(&app, n);
    assert_eq!(t["status"], "cerrado");
    assert_eq!(t["close_reason"], "cambio");
    assert_eq!(t["change_id"], "CHG-0042");
    let closing = app.last_to(CARLOS_ADDR, "CHG-0042");
    assert!(
        closing.body_text.contains("CHG-0042"),
        "{}",
        closing.body_text
    );
    for m in app.inbox(CARLOS_ADDR) {
        assert!(
            !m.body_text.contains("después de las 3 pm"),
            "the note reached the requester: {}",
            m.subject
        );
    }
}

/// Activities 16–18: `#resolver` sends the survey with the solution and the 1-to-5 scale; the
/// rating and comment are kept; two business days later the request closes as resolved.
async fn resolution_survey_and_auto_close(mut app: TestApp) {
    let (n, survey) = resolved(
        &mut app,
        "#resolver Impresora instalada y probada con página de prueba",
        monday(90),
    )
    .await;
    assert!(
        survey.body_text.contains("Impresora instalada y probada"),
        "{}",
        survey.body_text
    );
    assert!(survey.body_text.contains("1 al 5"), "{}", survey.body_text);
    assert_eq!(show(&app, n)["status"], "resuelto");

    app.exchange(
        &answer(CARLOS, &survey, "5\nExcelente servicio, gracias"),
        monday(120),
    )
    .await;
    let t = show(&app, n);
    assert_eq!(t["survey"]["rating"], 5);
    assert!(
        t["survey"]["comment"]
            .as_str()
            .is_some_and(|c| c.contains("Excelente")),
        "{t}"
    );

    let later = monday(7 * DAY);
    app.sweep(later).await;
    app.deliver(later).await;
    let t = show(&app, n);
    assert_eq!(t["status"], "cerrado");
    assert_eq!(t["close_reason"], "resuelto");
}

/// Issue 17: a signature under `#resolver` is no mail of its own, and a rated survey answer
/// whose comment says "todavía no" keeps its rating instead of reopening.
async fn signed_resolution_and_rated_comment_keep_their_meaning(mut app: TestApp) {
    let (n, survey) = resolved(
        &mut app,
        "#resolver Impresora instalada y probada\n\nLaura Rojas\nAgente de Soporte",
        monday(60),
    )
    .await;
    assert_eq!(show(&app, n)["status"], "resuelto");

    app.exchange(
        &answer(
            CARLOS,
            &survey,
            "5 Excelente servicio. Todavía no lo recojo, pero ya me confirmaron la reserva.",
        ),
        monday(90),
    )
    .await;
    let t = show(&app, n);
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
    let wrong: Vec<&str> = app
        .inbox(CARLOS_ADDR)
        .iter()
        .map(|m| m.subject.as_str())
        .filter(|s| s.contains("Respuesta a su solicitud") || s.contains("Reabierto"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}

/// Activity 17: "no está resuelto" in the survey answer reopens the request, its clock running
/// again, and the assignee is told.
async fn not_resolved_reopens(mut app: TestApp) {
    let (n, _) = request(&mut app, "Instalación de impresora", COMPLETE).await;
    assert_eq!(show(&app, n)["status"], "trabajo_en_progreso");
    app.exchange(
        &answer(
            AGENT,
            &notice(&app, n),
            &format!("#asignar {SPECIALIST}\n#resolver Listo"),
        ),
        monday(60),
    )
    .await;
    let survey = app.last_to(CARLOS_ADDR, "encuesta").clone();
    assert!(subjects_to(&app, SPECIALIST, "Reabierto").is_empty());

    app.exchange(
        &answer(
            CARLOS,
            &survey,
            "No está resuelto, la impresora sigue sin imprimir.",
        ),
        monday(90),
    )
    .await;
    let t = show(&app, n);
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert_eq!(t["sla"]["paused"], false);
    assert_eq!(number(app.last_to(SPECIALIST, "Reabierto")), n);
}

/// Issue 17 item 1: resolved by an agent who never took it, the reopened request is new work
/// again: the group's agents get the full notice, with what the requester says is wrong.
async fn not_resolved_unassigned_is_new_work_for_the_group(mut app: TestApp) {
    let (n, _) = request(&mut app, "Instalación de impresora", COMPLETE).await;
    assert_eq!(show(&app, n)["status"], "trabajo_en_progreso");
    app.exchange(
        &answer(AGENT, &notice(&app, n), "#resolver Listo"),
        monday(60),
    )
    .await;
    let survey = app.last_to(CARLOS_ADDR, "encuesta").clone();
    let said = "No está resuelto, la impresora no aparece en mi equipo.";
    app.exchange(&answer(CARLOS, &survey, said), monday(90))
        .await;
    assert_eq!(show(&app, n)["status"], "trabajo_en_progreso");

    let again = app
        .inbox(AGENT_ADDR)
        .iter()
        .find(|m| {
            m.subject.contains("Nueva solicitud")
                && number(m) == n
                && m.body_text.contains("Último mensaje del solicitante")
        })
        .unwrap_or_else(|| {
            panic!(
                "no notice of the reopened request: {:?}",
                subjects_to(&app, AGENT_ADDR, "")
            )
        });
    for line in [said, "se reabrió", "Ubicación: Piso 3, oficina 301"] {
        assert!(
            again.body_text.contains(line),
            "{line}: {}",
            again.body_text
        );
    }
}

/// Out-of-office and other automatic replies, threaded on a ticket or not, open nothing and are
/// never answered: the threaded one is kept on its ticket, and nobody receives anything.
async fn out_of_office_reply_creates_nothing_and_gets_no_answer(mut app: TestApp) {
    let (n, ack) = request(&mut app, "Instalación de impresora", COMPLETE).await;
    let subject = format!("Respuesta automática: {}", ack.subject);
    let oof = Draft {
        in_reply_to: Some(ack.message_id.clone()),
        extra_headers: "Auto-Submitted: auto-replied\r\n",
        ..Draft::new(
            CARLOS,
            &subject,
            "Estoy fuera de la oficina hasta el lunes.",
        )
    };
    app.exchange(&oof.render().1, monday(1)).await;
    let unthreaded = Draft {
        extra_headers: "Auto-Submitted: auto-replied\r\n",
        ..Draft::new(
            "Pedro <pedro@example.test>",
            "Fuera de la oficina",
            "Regreso el lunes.",
        )
    };
    app.exchange(&unthreaded.render().1, monday(2)).await;

    assert_eq!(
        app.cli().tickets().len(),
        1,
        "an auto-reply opened a ticket"
    );
    let t = show(&app, n);
    assert!(
        t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "respuesta_automatica" || m["kind"] == "fuera_de_oficina"),
        "{}",
        t["messages"]
    );
    assert_eq!(
        subjects_to(&app, CARLOS_ADDR, ""),
        std::slice::from_ref(&ack.subject),
        "the auto-reply was answered"
    );
    assert!(app.inbox("pedro@example.test").is_empty());
}

/// Commands are an agent's: the requester's `#cerrar` and `#asignar` are recorded as ignored and
/// change nothing.
async fn commands_from_a_non_agent_do_nothing(mut app: TestApp) {
    let (n, ack) = request(&mut app, "Instalación de impresora", COMPLETE).await;
    assert_eq!(show(&app, n)["status"], "trabajo_en_progreso");
    app.exchange(
        &answer(
            CARLOS,
            &ack,
            "#cerrar ya no lo necesito\n#asignar carlos.perez@example.test",
        ),
        monday(10),
    )
    .await;
    let t = show(&app, n);
    assert_eq!(events(&t, "comandos_ignorados"), 1);
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert!(t["assignee"].is_null(), "{}", t["assignee"]);
}

/// SLA alerts: none before 50 % of the target; at 50 % the assignee and the coordinator, once
/// however often the sweep runs; at 75 % the subdirector and at 100 % the director, who never
/// sees the 50 % alert. The assignee receives all three.
async fn sla_alerts_reach_the_escalation_chain_once(mut app: TestApp) {
    let (n, _) = request(&mut app, "Instalación de impresora", COMPLETE).await;
    assert_eq!(show(&app, n)["status"], "trabajo_en_progreso");
    app.exchange(
        &answer(AGENT, &notice(&app, n), &format!("#asignar {SPECIALIST}")),
        monday(10),
    )
    .await;
    let t = show(&app, n);
    assert_eq!(t["assignee"], SPECIALIST);
    let due = |p: usize| -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t["sla"]["thresholds"][p]["due_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let chain = [SPECIALIST, COORDINATOR, SUBDIRECTOR, DIRECTOR];
    let alerts = |app: &TestApp| -> Vec<Vec<String>> {
        chain
            .iter()
            .map(|who| subjects_to(app, who, "Alerta"))
            .collect()
    };

    let at = due(0) - chrono::Duration::minutes(1);
    assert_eq!(app.jobs(at).await["alerts_queued"], 0);
    assert!(alerts(&app).iter().all(Vec::is_empty), "{:?}", alerts(&app));

    let at = due(0) + chrono::Duration::minutes(1);
    assert_eq!(app.jobs(at).await["alerts_queued"], 1);
    assert_eq!(app.jobs(at).await["alerts_queued"], 0, "50 % alert twice");
    for who in [SPECIALIST, COORDINATOR] {
        let got = subjects_to(&app, who, "Alerta");
        assert_eq!(got.len(), 1, "{who}: {got:?}");
        assert!(got[0].contains("50 %"), "{who}: {got:?}");
    }

    let at = due(2) + chrono::Duration::minutes(1);
    assert_eq!(app.jobs(at).await["alerts_queued"], 2);
    assert_eq!(number(app.last_to(SUBDIRECTOR, "75 %")), n);
    let full = app.last_to(DIRECTOR, "100 %");
    assert!(
        full.body_text
            .contains("Servicio: Instalación de impresora"),
        "{}",
        full.body_text
    );
    assert!(subjects_to(&app, DIRECTOR, "50 %").is_empty());
    assert_eq!(subjects_to(&app, SPECIALIST, "Alerta").len(), 3);
    assert_eq!(
        show(&app, n)["sla"]["alerts_sent"],
        serde_json::json!([50, 75, 100])
    );
}

/// A "Catálogo" mail gets the catalogue, a failure gets an incident notice, and an agent
/// registers a request taken by phone for its requester; only the last is a request.
async fn catalogue_by_mail_incidents_and_phone_requests(mut app: TestApp) {
    app.exchange(&new_mail(CARLOS, "Catálogo", ""), monday(0))
        .await;
    let cat = app.last_to(CARLOS_ADDR, "Catálogo de servicios");
    for s in [
        "Servicio: VPN",
        "Justificación:",
        "Anillado",
        "Cambio de contraseña",
    ] {
        assert!(cat.body_text.contains(s), "catalogue lacks {s}");
    }

    app.exchange(
        &new_mail(
            CARLOS,
            "El correo no funciona",
            "Desde esta mañana no abre.",
        ),
        monday(10),
    )
    .await;
    app.last_to(CARLOS_ADDR, "[INC-");

    // Our MTA vouches for the agent: a new mail has no reply code to answer.
    let phone = Draft {
        extra_headers: TRUSTED_PASS,
        ..Draft::new(
            AGENT,
            "Solicitud telefónica",
            "#solicitante diana.lopez@example.test\nInstalación de impresora\nNúmero de equipo: PC-9\nUbicación: Piso 8",
        )
    };
    app.exchange(&phone.render().1, monday(20)).await;
    let ack = app.last_to("diana.lopez@example.test", "Recibimos");
    assert_eq!(
        show(&app, number(ack))["requester"],
        "diana.lopez@example.test"
    );
    // `tickets list` shows incidents too; none of them may be a request.
    let requests = app
        .cli()
        .tickets()
        .into_iter()
        .filter(|t| t["kind"] == "requerimiento")
        .count();
    assert_eq!(requests, 1, "catalogue or incident mail opened a request");
}

/// A reply to a closed request is a new request that refers to the closed one.
async fn a_reply_to_a_closed_ticket_opens_a_new_one(mut app: TestApp) {
    let (n, ack) = request(&mut app, "Instalación de impresora", COMPLETE).await;
    app.exchange(
        &answer(AGENT, &notice(&app, n), "#cerrar duplicado"),
        monday(10),
    )
    .await;
    assert_eq!(show(&app, n)["status"], "cerrado");

    app.exchange(
        &answer(
            CARLOS,
            &ack,
            "Necesito otra impresora para el piso 4.\nNúmero de equipo: PC-7\nUbicación: Piso 4",
        ),
        monday(20),
    )
    .await;
    let tickets = app.cli().tickets();
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    let new = tickets
        .iter()
        .find_map(|t| t["id"].as_str().filter(|id| *id != n.to_string()))
        .unwrap();
    assert_eq!(app.cli().ticket(new)["related_ticket"], n.to_string());
}

on_both_databases!(setup = trusting_mta;
    a_complete_request_is_classified_and_goes_to_work,
    an_incomplete_request_waits_on_the_user_until_completed,
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
