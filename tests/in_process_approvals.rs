//! Approvals by email reply (activities 9–12) in process: one-word answers, reasons, agents
//! choosing the approver, deputies, time limits, the digest, and every way a forged answer is
//! refused. The daemon's own wiring on a temporary database and an injected clock (requests
//! come in on Monday 30 November 2026 at 9:00 in Bogotá), no mail server and no sleeps: the
//! business hours to a reminder or an overdue notice pass by running the jobs at that instant.
//! `tests/approvals.rs` keeps one of these stories against the real mail server and binary.

mod support;

use chrono::{DateTime, Duration, Utc};
use mesayuda::domain::calendar::{BusinessCalendar, CalendarConfig};
use mesayuda::mail::inbound::InboundMail;
use support::app::{answer, monday, new_mail, TestApp, HELPDESK};
use support::flow::{events, tag, token_of};
use support::mail::Draft;
use support::DbKind;

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const BOSS: &str = "luisa.martinez@example.test";
const AGENT: &str = "laura.rojas@example.test";
const REFUSED: &str = "accion_rechazada";

fn vpn_body(approver: Option<&str>) -> String {
    let mut b = "Necesito acceso remoto por VPN para trabajar desde casa.\nJustificación: cierre contable de fin de año\nNúmero de equipo: PC-0456\nFecha de finalización: 2026-12-31\n".to_owned();
    if let Some(a) = approver {
        b.push_str(&format!("Aprobador: {a}\n"));
    }
    b
}

/// Carlos asks for VPN access at `now`; returns the ticket his new acknowledgement names.
async fn request_vpn(app: &mut TestApp, approver: Option<&str>, now: DateTime<Utc>) -> String {
    let before = app.inbox(CARLOS_ADDR).len();
    app.exchange(&new_mail(CARLOS, "Acceso VPN", &vpn_body(approver)), now)
        .await;
    app.inbox(CARLOS_ADDR)[before..]
        .iter()
        .filter(|m| m.subject.contains("Recibimos"))
        .find_map(tag)
        .expect("a new acknowledgement")
}

/// The latest mail `who` received about ticket `id` whose subject contains `what`.
fn mail_about(app: &TestApp, who: &str, what: &str, id: &str) -> InboundMail {
    app.inbox(who)
        .iter()
        .rev()
        .find(|m| m.subject.contains(what) && tag(m).as_deref() == Some(id))
        .cloned()
        .unwrap_or_else(|| {
            let got: Vec<&str> = app.inbox(who).iter().map(|m| m.subject.as_str()).collect();
            panic!("{who} received no mail about `{what}` on {id}; got {got:?}")
        })
}

fn approval_mail(app: &TestApp, who: &str, id: &str) -> InboundMail {
    mail_about(app, who, "Aprobación requerida", id)
}

/// A mail written like a phone mail client's answer: to the help desk's plus-address carrying
/// `token` (the plain address without one), `subject` as given, `headers` added to the
/// client's own, no threading headers.
fn written(from: &str, token: Option<&str>, subject: &str, body: &str, headers: &str) -> Vec<u8> {
    let to = match token {
        Some(t) => format!("mesayuda+{t}@example.test"),
        None => HELPDESK.to_owned(),
    };
    Draft {
        to: &to,
        extra_headers: headers,
        ..Draft::new(from, subject, body)
    }
    .render()
    .1
}

/// When the approval of ticket `id` was asked for, as `tickets show --json` prints it.
fn requested_at(app: &TestApp, id: &str) -> DateTime<Utc> {
    let t = app.cli().ticket(id);
    DateTime::parse_from_rfc3339(t["approval"]["requested_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// `hours` business hours after `start` on the default calendar (this configuration's).
fn business_hours_after(start: DateTime<Utc>, hours: f64) -> DateTime<Utc> {
    BusinessCalendar::new(&CalendarConfig::default())
        .unwrap()
        .add_business_hours(start, hours)
}

async fn one_word_approval_from_a_phone(mut app: TestApp) {
    let id = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    let req = approval_mail(&app, BOSS, &id);
    assert!(
        req.body_text.contains("Justificación: cierre contable"),
        "{}",
        req.body_text
    );
    assert!(req.body_text.contains("APROBAR") && req.body_text.contains("RECHAZAR"));
    let t = app.cli().ticket(&id);
    assert_eq!(t["status"], "pendiente_aprobacion");
    assert_eq!(t["approval"]["approver"], BOSS);
    app.exchange(
        &written(
            BOSS,
            Some(&token_of(&req)),
            &format!("RE: {}", req.subject),
            "Sí\n\nEnviado desde mi iPhone",
            "",
        ),
        monday(30),
    )
    .await;
    let t = app.cli().ticket(&id);
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert_eq!(t["approval"]["status"], "aprobado");
    assert_eq!(t["approval"]["decided_by"], BOSS);
    mail_about(&app, CARLOS_ADDR, "fue aprobada", &id);
    // The ticket's history, as the panel shows it, reads as Spanish, not stored words.
    let history: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["description"].as_str())
        .collect();
    for line in [
        "Requiere aprobación (jefe inmediato)",
        "Estado: Esperando aprobación → En atención",
    ] {
        assert!(history.contains(&line), "{line}: {history:?}");
    }
}

async fn rejection_reason_reaches_the_requester_and_later_answers_change_nothing(mut app: TestApp) {
    let id = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    let req = approval_mail(&app, BOSS, &id);
    let tok = token_of(&req);
    let subject = format!("RE: {}", req.subject);
    app.exchange(
        &written(
            BOSS,
            Some(&tok),
            &subject,
            "RECHAZAR no corresponde a sus funciones",
            "",
        ),
        monday(30),
    )
    .await;
    let t = app.cli().ticket(&id);
    assert_eq!(t["status"], "cerrado");
    assert_eq!(t["close_reason"], "rechazado");
    assert_eq!(t["approval"]["reason"], "no corresponde a sus funciones");
    let notice = mail_about(&app, CARLOS_ADDR, "rechazada", &id);
    assert!(notice.body_text.contains("no corresponde a sus funciones"));
    assert!(notice.body_text.contains("Justificación"));
    app.exchange(
        &written(BOSS, Some(&tok), &subject, "APROBAR, me equivoqué", ""),
        monday(60),
    )
    .await;
    let t = app.cli().ticket(&id);
    assert_eq!(t["status"], "cerrado");
    assert_eq!(t["approval"]["status"], "rechazado");
}

/// Issue 11 item 6: "No hay problema, apruebo" starts with a reject word and holds an approve
/// word; it decides nothing, the approver is told it was not understood (so is "No sé"), and a
/// clear answer afterwards still decides.
async fn a_mixed_answer_changes_nothing_and_the_approver_is_asked_again(mut app: TestApp) {
    let id = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    let req = approval_mail(&app, BOSS, &id);
    let tok = token_of(&req);
    let subject = format!("RE: {}", req.subject);
    app.exchange(
        &written(BOSS, Some(&tok), &subject, "No hay problema, apruebo", ""),
        monday(30),
    )
    .await;
    let asked = mail_about(&app, BOSS, "No entendimos", &id);
    assert!(
        asked.body_text.contains("APROBAR") && asked.body_text.contains("RECHAZAR"),
        "{}",
        asked.body_text
    );
    let t = app.cli().ticket(&id);
    assert_eq!(t["status"], "pendiente_aprobacion");
    assert_eq!(t["approval"]["status"], "pendiente");
    assert!(t["approval"]["decided_by"].is_null(), "{}", t["approval"]);
    assert!(
        !app.inbox(CARLOS_ADDR)
            .iter()
            .any(|m| m.subject.contains("aprobada") || m.subject.contains("rechazada")),
        "the requester was told of a decision nobody made"
    );
    // Doubt after a first "no" is no rejection either: nothing decided, and the approver is
    // told again (else they would believe they had decided).
    app.exchange(
        &answer(BOSS, &asked, "No sé, pregúntele a Sandra"),
        monday(45),
    )
    .await;
    let t = app.cli().ticket(&id);
    assert_eq!(events(&t, "respuesta_no_entendida"), 2, "{t}");
    assert_eq!(t["approval"]["status"], "pendiente", "{t}");
    let told = app
        .inbox(BOSS)
        .iter()
        .filter(|m| m.subject.contains("No entendimos") && tag(m).as_deref() == Some(&id))
        .count();
    assert_eq!(told, 2);
    // The approver answers the mail that asked again (its own token, as a phone's "Reply").
    app.exchange(&answer(BOSS, &asked, "APROBAR"), monday(60))
        .await;
    let t = app.cli().ticket(&id);
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert_eq!(t["approval"]["decided_by"], BOSS);
    // The request's own token died with the decision.
    app.exchange(
        &written(BOSS, Some(&tok), &subject, "RECHAZAR", ""),
        monday(90),
    )
    .await;
    // … and the approver is told that this answer changed nothing.
    let t = app.cli().ticket(&id);
    assert_eq!(events(&t, "respuesta_sin_efecto"), 1, "{t}");
    mail_about(&app, BOSS, "no se aplicó", &id);
    assert_eq!(app.cli().ticket(&id)["approval"]["status"], "aprobado");
}

async fn missing_approver_is_chosen_by_an_agent(mut app: TestApp) {
    // Without `Aprobador:` the requester is asked first (activity 4 verifies authorisations);
    // naming someone who may not approve brings in an agent.
    let id = request_vpn(&mut app, None, monday(0)).await;
    let ask = mail_about(&app, CARLOS_ADDR, "Información pendiente", &id);
    assert!(ask.body_text.contains("Aprobador:"), "{}", ask.body_text);
    app.exchange(
        &answer(CARLOS, &ask, "Aprobador: diana.lopez@example.test"),
        monday(30),
    )
    .await;
    let notice = mail_about(&app, AGENT, "Falta un aprobador", &id);
    assert_eq!(
        app.cli().ticket(&id)["approval"]["status"],
        "esperando_aprobador"
    );
    // The agent answers the notice she received: its Reply-To carries her personal token.
    app.exchange(
        &answer(
            "Laura Rojas <laura.rojas@example.test>",
            &notice,
            "#aprobador hernan.quintero@example.test",
        ),
        monday(60),
    )
    .await;
    let req = approval_mail(&app, "hernan.quintero@example.test", &id);
    app.exchange(
        &written(
            "hernan.quintero@example.test",
            Some(&token_of(&req)),
            &format!("RE: {}", req.subject),
            "aprobado",
            "",
        ),
        monday(90),
    )
    .await;
    assert_eq!(app.cli().ticket(&id)["status"], "trabajo_en_progreso");
}

async fn an_ineligible_approver_is_reported_to_agents(mut app: TestApp) {
    let id = request_vpn(&mut app, Some("diana.lopez@example.test"), monday(0)).await;
    let n = mail_about(&app, AGENT, "Falta un aprobador", &id);
    assert!(
        n.body_text.contains(
            "Diana Carolina López Silva <diana.lopez@example.test> tiene el cargo Funcionario(a)"
        ),
        "{}",
        n.body_text
    );
    assert!(app.inbox("diana.lopez@example.test").is_empty());
    assert_eq!(app.cli().ticket(&id)["status"], "pendiente_aprobacion");
}

async fn forged_answers_are_refused(mut app: TestApp) {
    let id = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    let req = approval_mail(&app, BOSS, &id);
    let tok = token_of(&req);
    let subject = format!("RE: {}", req.subject);
    // A valid token from someone who is not the approver (spoofed From is the same case).
    app.exchange(
        &written(CARLOS, Some(&tok), &subject, "APROBAR", ""),
        monday(10),
    )
    .await;
    // The approver, but no token: a fresh mail naming the ticket.
    app.exchange(
        &written(BOSS, None, &format!("[{id}] aprobado"), "APROBAR", ""),
        monday(11),
    )
    .await;
    // The approver with a made-up token.
    app.exchange(
        &written(
            BOSS,
            Some("00112233445566778899aabbccddeeff0011223344556677"),
            &format!("RE: [{id}] x"),
            "APROBAR",
            "",
        ),
        monday(12),
    )
    .await;
    let t = app.cli().ticket(&id);
    assert_eq!(events(&t, REFUSED), 3, "{}", t["events"]);
    assert_eq!(t["status"], "pendiente_aprobacion");
    assert_eq!(t["approval"]["status"], "pendiente");
    // The people named in From are told, the approver once an hour however many forgeries.
    let warnings = |who: &str| {
        app.inbox(who)
            .iter()
            .filter(|m| {
                m.subject.contains("no pudimos verificar") && tag(m).as_deref() == Some(id.as_str())
            })
            .count()
    };
    assert_eq!(warnings(BOSS), 1);
    assert!(warnings(CARLOS_ADDR) >= 1, "the requester was not warned");
    // The approver, unproven, is told how to answer so that it counts; the requester, who may
    // not approve at all, is not asked to try again.
    let body = |who: &str| mail_about(&app, who, "no pudimos verificar", &id).body_text;
    let boss = body(BOSS);
    assert!(boss.contains("repita lo que quería hacer"), "{boss}");
    let carlos = body(CARLOS_ADDR);
    assert!(
        carlos.contains("nadie puede aprobar su propia solicitud")
            && carlos.contains("Enviarlo de nuevo no cambiará el resultado")
            && !carlos.contains("repita"),
        "{carlos}"
    );
}

async fn a_token_from_another_ticket_is_refused(mut app: TestApp) {
    let first = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    let req1 = approval_mail(&app, BOSS, &first);
    let second = request_vpn(&mut app, Some(BOSS), monday(5)).await;
    approval_mail(&app, BOSS, &second);
    app.exchange(
        &written(
            BOSS,
            Some(&token_of(&req1)),
            &format!("RE: [{second}] Aprobación requerida"),
            "APROBAR",
            "",
        ),
        monday(30),
    )
    .await;
    let t2 = app.cli().ticket(&second);
    assert_eq!(events(&t2, REFUSED), 1, "{}", t2["events"]);
    assert_eq!(t2["status"], "pendiente_aprobacion");
    assert_eq!(app.cli().ticket(&first)["status"], "pendiente_aprobacion");
    // Someone with no part in the ticket the subject names, holding a forwarded approval
    // mail's code, learns nothing about that ticket, and decides nothing.
    const OUTSIDER: &str = "curioso@otro.test";
    app.exchange(
        &written(
            OUTSIDER,
            Some(&token_of(&req1)),
            &format!("RE: [{second}] x"),
            "APROBAR",
            "",
        ),
        monday(40),
    )
    .await;
    let told: Vec<&str> = app
        .inbox(OUTSIDER)
        .iter()
        .map(|m| m.subject.as_str())
        .collect();
    assert!(told.iter().all(|s| !s.contains(&second)), "{told:?}");
    let t2 = app.cli().ticket(&second);
    assert_eq!(events(&t2, REFUSED), 1, "{}", t2["events"]);
    assert_eq!(t2["status"], "pendiente_aprobacion");
    assert_eq!(app.cli().ticket(&first)["status"], "pendiente_aprobacion");
}

async fn an_away_approvers_substitute_decides(mut app: TestApp) {
    // Patricia Vargas is away (deploy/directory.toml); Jorge Ramírez is her substitute.
    let id = request_vpn(&mut app, Some("patricia.vargas@example.test"), monday(0)).await;
    approval_mail(&app, "patricia.vargas@example.test", &id);
    let req = approval_mail(&app, "jorge.ramirez@example.test", &id);
    app.exchange(
        &written(
            "jorge.ramirez@example.test",
            Some(&token_of(&req)),
            &format!("RE: {}", req.subject),
            "APRUEBO",
            "",
        ),
        monday(30),
    )
    .await;
    let t = app.cli().ticket(&id);
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert_eq!(t["approval"]["decided_by"], "jorge.ramirez@example.test");
}

async fn reminder_at_half_time_and_overdue_notice_at_the_end(mut app: TestApp) {
    let id = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    approval_mail(&app, BOSS, &id);
    let requested = requested_at(&app, &id);
    let half = business_hours_after(requested, 12.0);
    let full = business_hours_after(requested, 24.0);
    let reminders = |app: &TestApp| {
        app.inbox(BOSS)
            .iter()
            .filter(|m| {
                m.subject.contains("Recordatorio") && tag(m).as_deref() == Some(id.as_str())
            })
            .count()
    };
    assert_eq!(
        app.jobs(half - Duration::minutes(1)).await["timers_handled"],
        0
    );
    assert_eq!(reminders(&app), 0);
    assert_eq!(
        app.jobs(half + Duration::minutes(1)).await["timers_handled"],
        1
    );
    assert_eq!(reminders(&app), 1);
    assert_eq!(
        app.jobs(full + Duration::minutes(1)).await["timers_handled"],
        1
    );
    for who in [AGENT, "sandra.moreno@example.test"] {
        mail_about(&app, who, "Aprobación vencida", &id);
    }
}

/// Issue 11: a mail in the requester's name that nothing proves (sent to the plain address,
/// not an answer to the help desk's mail) reaches the agents marked unverified while the
/// approval waits, but the approver never reads it as the requester's: the reminder carries
/// what the requester is proven to have added, not the forger's text or file.
async fn the_approver_reads_only_what_the_requester_is_proven_to_have_sent(mut app: TestApp) {
    let id = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    approval_mail(&app, BOSS, &id);
    app.exchange(
        &support::mail::with_pdf(
            CARLOS,
            &format!("RE: [{id}] Acceso VPN"),
            "Mi jefe ya lo autorizó por teléfono, ver el soporte adjunto.",
            "autorizacion.pdf",
        ),
        monday(10),
    )
    .await;
    mail_about(&app, AGENT, "(sin verificar)", &id);
    // Carlos answers the help desk's own mail: that is his word.
    let ack = mail_about(&app, CARLOS_ADDR, "Recibimos", &id);
    app.exchange(
        &answer(
            CARLOS,
            &ack,
            "También necesito la carpeta compartida de contabilidad.",
        ),
        monday(20),
    )
    .await;
    assert!(
        app.inbox(AGENT).iter().any(|m| {
            m.subject.contains("Nuevo mensaje del usuario")
                && !m.subject.contains("(sin verificar)")
                && tag(m).as_deref() == Some(id.as_str())
        }),
        "the requester's message was not passed on"
    );

    let half = business_hours_after(requested_at(&app, &id), 12.0);
    let run = app.jobs(half + Duration::minutes(1)).await;
    assert_eq!(run["timers_handled"], 1, "{run}");
    let reminder = mail_about(&app, BOSS, "Recordatorio", &id);
    let body = &reminder.body_text;
    assert!(
        body.contains("carpeta compartida de contabilidad"),
        "{body}"
    );
    assert!(!body.contains("autorizó por teléfono"), "{body}");
    assert!(!body.contains("autorizacion.pdf"), "{body}");
}

async fn digest_lists_exactly_the_pending_approvals(mut app: TestApp) {
    // A business morning with nothing pending: nobody gets a list.
    let r = app.jobs(monday(-60)).await;
    assert_eq!(r["digests_sent"], 0, "{r}");
    assert!(app.inbox(BOSS).is_empty());
    let a = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    let b = request_vpn(&mut app, Some(BOSS), monday(1)).await;
    let c = request_vpn(&mut app, Some(BOSS), monday(2)).await;
    let req_c = approval_mail(&app, BOSS, &c);
    app.exchange(
        &written(
            BOSS,
            Some(&token_of(&req_c)),
            &format!("RE: {}", req_c.subject),
            "SI",
            "",
        ),
        monday(30),
    )
    .await;
    assert_eq!(app.cli().ticket(&c)["status"], "trabajo_en_progreso");
    let pending = app
        .cli()
        .json(&["approvals", "pending", "--approver", BOSS, "--json"]);
    let ids: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str(), b.as_str()]);
    // Tuesday at 7:00, the digest hour.
    let morning = monday(22 * 60);
    let r = app.jobs(morning).await;
    assert_eq!(r["digests_sent"], 1, "{r}");
    let digests: Vec<&InboundMail> = app
        .inbox(BOSS)
        .iter()
        .filter(|m| m.subject.contains("Aprobaciones pendientes"))
        .collect();
    assert_eq!(digests.len(), 1);
    let digest = &digests[0].body_text;
    assert!(digest.contains(&a) && digest.contains(&b), "{digest}");
    assert!(!digest.contains(&format!("{c} ")), "{digest}");
    assert_eq!(app.jobs(morning).await["digests_sent"], 0);
}

/// `require_authentication_results = true`, with the panel's address configured: the approval
/// mail links to the approval's page but signs nobody in (a forwarded mail must not), and the
/// reply code with our MTA's `dmarc=fail` is refused while with `dmarc=pass` it decides.
async fn authentication_results_required(kind: DbKind) {
    // Nothing listens there: the address only goes into the mail.
    let port = support::ports::reserve();
    let extra = format!(
        "[security]\nrequire_authentication_results = true\ntrusted_authserv_id = \"mx.example.test\"\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"http://127.0.0.1:{port}\"\n"
    );
    let Some(mut app) = TestApp::with_config(kind, &extra).await else {
        return;
    };
    let id = request_vpn(&mut app, Some(BOSS), monday(0)).await;
    let req = approval_mail(&app, BOSS, &id);
    // A forwarded mail must not sign anyone in: the link opens the page, which asks for a
    // sign-in of one's own.
    assert!(!req.body_text.contains("/ingresar/"), "{}", req.body_text);
    assert!(
        req.body_text
            .contains(&format!("http://127.0.0.1:{port}/aprobaciones/{id}")),
        "{}",
        req.body_text
    );
    let tok = token_of(&req);
    let subject = format!("RE: {}", req.subject);
    app.exchange(
        &written(
            BOSS,
            Some(&tok),
            &subject,
            "APROBAR",
            "Authentication-Results: mx.example.test; dmarc=fail header.from=example.test\r\n",
        ),
        monday(10),
    )
    .await;
    let t = app.cli().ticket(&id);
    assert_eq!(events(&t, REFUSED), 1, "{}", t["events"]);
    assert_eq!(t["status"], "pendiente_aprobacion");
    app.exchange(
        &written(
            BOSS,
            Some(&tok),
            &subject,
            "APROBAR",
            "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n",
        ),
        monday(20),
    )
    .await;
    assert_eq!(app.cli().ticket(&id)["status"], "trabajo_en_progreso");
}

on_both_databases!(setup = TestApp::new;
    one_word_approval_from_a_phone,
    rejection_reason_reaches_the_requester_and_later_answers_change_nothing,
    a_mixed_answer_changes_nothing_and_the_approver_is_asked_again,
    missing_approver_is_chosen_by_an_agent,
    an_ineligible_approver_is_reported_to_agents,
    forged_answers_are_refused,
    a_token_from_another_ticket_is_refused,
    an_away_approvers_substitute_decides,
    reminder_at_half_time_and_overdue_notice_at_the_end,
    the_approver_reads_only_what_the_requester_is_proven_to_have_sent,
    digest_lists_exactly_the_pending_approvals,
);

/// Its own configuration (header authentication required, a panel address), made in the test.
mod header_authentication {
    use super::*;
    on_both_databases!(setup = kind; authentication_results_required);
}
