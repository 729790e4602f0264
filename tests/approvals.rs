//! Approvals by email reply (activities 9–12): one-word answers, reasons, agents choosing the
//! approver, deputies, time limits, the digest, and every way a forged answer is refused.

mod support;

use support::flow::{late_today, next_business_morning, tag, ticket_where, token_of};

use chrono::{DateTime, Duration as Days, Utc};
use mesayuda::domain::calendar::{BusinessCalendar, CalendarConfig};
use mesayuda::mail::inbound::InboundMail;
use serde_json::Value;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, World};

const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const BOSS: &str = "luisa.martinez@example.test";
const AGENT: &str = "laura.rojas@example.test";
const WAIT: Duration = Duration::from_secs(25);

fn vpn_body(approver: Option<&str>) -> String {
    let mut b = "Necesito acceso remoto por VPN para trabajar desde casa.\nJustificación: cierre contable de fin de año\nNúmero de equipo: PC-0456\nFecha de finalización: 2026-12-31\n".to_owned();
    if let Some(a) = approver {
        b.push_str(&format!("Aprobador: {a}\n"));
    }
    b
}

async fn request_vpn(w: &World, approver: Option<&str>) -> String {
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

/// Answers like a phone mail client: to the Reply-To (plus-address with the token), subject kept.
async fn answer(
    w: &World,
    from: &str,
    to_token: Option<&str>,
    subject: &str,
    body: &str,
    extra: &'static str,
) {
    let to = match to_token {
        Some(t) => format!("mesayuda+{t}@example.test"),
        None => "mesayuda@example.test".to_owned(),
    };
    let d = Draft {
        to: &to,
        extra_headers: extra,
        ..Draft::new(from, subject, body)
    };
    mail::send(w.mail.smtp_port, &d).await;
}

fn security_events(t: &Value) -> usize {
    t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "accion_rechazada")
        .count()
}

async fn one_word_approval_from_a_phone(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, Some(BOSS)).await;
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
    answer(
        &w,
        BOSS,
        Some(&token_of(&req)),
        &format!("RE: {}", req.subject),
        "Sí\n\nEnviado desde mi iPhone",
        "",
    )
    .await;
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

async fn rejection_reason_reaches_the_requester_and_later_answers_change_nothing(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, Some(BOSS)).await;
    let req = approval_mail(&w, BOSS, &id).await;
    let tok = token_of(&req);
    answer(
        &w,
        BOSS,
        Some(&tok),
        &format!("RE: {}", req.subject),
        "RECHAZAR no corresponde a sus funciones",
        "",
    )
    .await;
    let t = ticket_where(&w, &id, "rejected", |t| t["status"] == "cerrado").await;
    assert_eq!(t["close_reason"], "rechazado");
    assert_eq!(t["approval"]["reason"], "no corresponde a sus funciones");
    let notice = mail::wait_for(
        w.mail.imap_port,
        CARLOS_ADDR,
        WAIT,
        "rejection notice",
        |m| m.subject.contains("rechazada"),
    )
    .await;
    assert!(notice.body_text.contains("no corresponde a sus funciones"));
    assert!(notice.body_text.contains("Justificación"));
    answer(
        &w,
        BOSS,
        Some(&tok),
        &format!("RE: {}", req.subject),
        "APROBAR, me equivoqué",
        "",
    )
    .await;
    // The late answer leaves the inbox only once what it did to the ticket is committed.
    w.wait_idle(WAIT).await;
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "cerrado");
    assert_eq!(t["approval"]["status"], "rechazado");
}

/// Issue 11 item 6: "No hay problema, apruebo" starts with a reject word and holds an approve
/// word; it decides nothing, the approver is told it was not understood, and a clear answer
/// afterwards still decides.
async fn a_mixed_answer_changes_nothing_and_the_approver_is_asked_again(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, Some(BOSS)).await;
    let req = approval_mail(&w, BOSS, &id).await;
    let tok = token_of(&req);
    let subject = format!("RE: {}", req.subject);
    answer(
        &w,
        BOSS,
        Some(&tok),
        &subject,
        "No hay problema, apruebo",
        "",
    )
    .await;
    let asked = mail::wait_for(w.mail.imap_port, BOSS, WAIT, "answer not understood", |m| {
        m.subject.contains("No entendimos") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    assert!(
        asked.body_text.contains("APROBAR") && asked.body_text.contains("RECHAZAR"),
        "{}",
        asked.body_text
    );
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "pendiente_aprobacion");
    assert_eq!(t["approval"]["status"], "pendiente");
    assert!(t["approval"]["decided_by"].is_null(), "{}", t["approval"]);
    let requester = mail::inbox(w.mail.imap_port, CARLOS_ADDR).await;
    assert!(
        !requester
            .iter()
            .any(|m| m.subject.contains("aprobada") || m.subject.contains("rechazada")),
        "the requester was told of a decision nobody made"
    );
    // The approver answers the mail that asked again (its own token, as a phone's "Reply").
    mail::reply(w.mail.smtp_port, BOSS, &asked, "APROBAR").await;
    let t = ticket_where(&w, &id, "approved after a clear answer", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
    assert_eq!(t["approval"]["decided_by"], BOSS);
    // The request's own token died with the decision.
    answer(&w, BOSS, Some(&tok), &subject, "RECHAZAR", "").await;
    w.wait_idle(WAIT).await;
    assert_eq!(w.cli().ticket(&id)["approval"]["status"], "aprobado");
}

async fn missing_approver_is_chosen_by_an_agent(w: World) {
    let _d = w.spawn_daemon();
    // Without `Aprobador:` the requester is asked first (activity 4 verifies authorisations);
    // naming someone who may not approve brings in an agent.
    let id = request_vpn(&w, None).await;
    let ask = mail::wait_for(w.mail.imap_port, CARLOS_ADDR, WAIT, "approver asked", |m| {
        m.subject.contains("Información pendiente") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    assert!(ask.body_text.contains("Aprobador:"), "{}", ask.body_text);
    mail::reply(
        w.mail.smtp_port,
        CARLOS,
        &ask,
        "Aprobador: diana.lopez@example.test",
    )
    .await;
    let notice = mail::wait_for(w.mail.imap_port, AGENT, WAIT, "agents told", |m| {
        m.subject.contains("Falta un aprobador")
    })
    .await;
    assert_eq!(
        w.cli().ticket(&id)["approval"]["status"],
        "esperando_aprobador"
    );
    // The agent answers the notice she received: its Reply-To carries her personal token.
    mail::reply(
        w.mail.smtp_port,
        "Laura Rojas <laura.rojas@example.test>",
        &notice,
        "#aprobador hernan.quintero@example.test",
    )
    .await;
    let req = approval_mail(&w, "hernan.quintero@example.test", &id).await;
    answer(
        &w,
        "hernan.quintero@example.test",
        Some(&token_of(&req)),
        &format!("RE: {}", req.subject),
        "aprobado",
        "",
    )
    .await;
    ticket_where(&w, &id, "approved after correction", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
}

async fn an_ineligible_approver_is_reported_to_agents(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, Some("diana.lopez@example.test")).await;
    let n = mail::wait_for(w.mail.imap_port, AGENT, WAIT, "agents told", |m| {
        m.subject.contains("Falta un aprobador")
    })
    .await;
    assert!(n.body_text.contains("funcionario"), "{}", n.body_text);
    assert!(mail::inbox(w.mail.imap_port, "diana.lopez@example.test")
        .await
        .is_empty());
    assert_eq!(w.cli().ticket(&id)["status"], "pendiente_aprobacion");
}

async fn forged_answers_are_refused(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, Some(BOSS)).await;
    let req = approval_mail(&w, BOSS, &id).await;
    let tok = token_of(&req);
    let subject = format!("RE: {}", req.subject);
    // A valid token from someone who is not the approver (spoofed From is the same case).
    answer(&w, CARLOS, Some(&tok), &subject, "APROBAR", "").await;
    // The approver, but no token: a fresh mail naming the ticket.
    answer(&w, BOSS, None, &format!("[{id}] aprobado"), "APROBAR", "").await;
    // The approver with a made-up token.
    answer(
        &w,
        BOSS,
        Some("00112233445566778899aabbccddeeff0011223344556677"),
        &format!("RE: [{id}] x"),
        "APROBAR",
        "",
    )
    .await;
    let t = ticket_where(&w, &id, "three refusals recorded", |t| {
        security_events(t) == 3
    })
    .await;
    assert_eq!(t["status"], "pendiente_aprobacion");
    assert_eq!(t["approval"]["status"], "pendiente");
    // The people named in From are told, the approver once an hour however many forgeries.
    let warning = |m: &InboundMail| {
        m.subject.contains("no pudimos verificar") && tag(m).as_deref() == Some(id.as_str())
    };
    mail::wait_for(w.mail.imap_port, BOSS, WAIT, "approver warned", warning).await;
    mail::wait_for(
        w.mail.imap_port,
        CARLOS_ADDR,
        WAIT,
        "requester warned",
        warning,
    )
    .await;
    let boss_warnings = mail::inbox(w.mail.imap_port, BOSS)
        .await
        .iter()
        .filter(|m| warning(m))
        .count();
    assert_eq!(boss_warnings, 1);
}

async fn a_token_from_another_ticket_is_refused(w: World) {
    let _d = w.spawn_daemon();
    let first = request_vpn(&w, Some(BOSS)).await;
    let req1 = approval_mail(&w, BOSS, &first).await;
    let second = request_vpn(&w, Some(BOSS)).await;
    approval_mail(&w, BOSS, &second).await;
    answer(
        &w,
        BOSS,
        Some(&token_of(&req1)),
        &format!("RE: [{second}] Aprobación requerida"),
        "APROBAR",
        "",
    )
    .await;
    let t2 = ticket_where(&w, &second, "refusal on the second ticket", |t| {
        security_events(t) == 1
    })
    .await;
    assert_eq!(t2["status"], "pendiente_aprobacion");
    assert_eq!(w.cli().ticket(&first)["status"], "pendiente_aprobacion");
}

async fn an_away_approvers_substitute_decides(w: World) {
    let _d = w.spawn_daemon();
    // Patricia Vargas is away (deploy/directory.toml); Jorge Ramírez is her substitute.
    let id = request_vpn(&w, Some("patricia.vargas@example.test")).await;
    approval_mail(&w, "patricia.vargas@example.test", &id).await;
    let req = approval_mail(&w, "jorge.ramirez@example.test", &id).await;
    answer(
        &w,
        "jorge.ramirez@example.test",
        Some(&token_of(&req)),
        &format!("RE: {}", req.subject),
        "APRUEBO",
        "",
    )
    .await;
    let t = ticket_where(&w, &id, "approved by substitute", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
    assert_eq!(t["approval"]["decided_by"], "jorge.ramirez@example.test");
}

fn at(s: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn reminder_at_half_time_and_overdue_notice_at_the_end(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, Some(BOSS)).await;
    approval_mail(&w, BOSS, &id).await;
    let requested = at(&w.cli().ticket(&id)["approval"]["requested_at"]);
    let cal = BusinessCalendar::new(&CalendarConfig::default()).unwrap();
    let half = cal.add_business_hours(requested, 12.0);
    let full = cal.add_business_hours(requested, 24.0);
    let run = |t: DateTime<Utc>| {
        w.cli()
            .json(&["jobs", "run", "--now", &t.to_rfc3339(), "--json"])
    };
    assert_eq!(run(half - Days::minutes(1))["timers_handled"], 0);
    assert_eq!(run(half + Days::minutes(1))["timers_handled"], 1);
    mail::wait_for(w.mail.imap_port, BOSS, WAIT, "reminder", |m| {
        m.subject.contains("Recordatorio")
    })
    .await;
    assert_eq!(run(full + Days::minutes(1))["timers_handled"], 1);
    for who in [AGENT, "sandra.moreno@example.test"] {
        mail::wait_for(w.mail.imap_port, who, WAIT, "overdue notice", |m| {
            m.subject.contains("Aprobación vencida")
        })
        .await;
    }
}

/// Issue 11: a mail in the requester's name that nothing proves (sent to the plain address,
/// not an answer to the help desk's mail) reaches the agents marked unverified while the
/// approval waits, but the approver never reads it as the requester's: the reminder carries
/// what the requester is proven to have added, not the forger's text or file.
async fn the_approver_reads_only_what_the_requester_is_proven_to_have_sent(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, Some(BOSS)).await;
    approval_mail(&w, BOSS, &id).await;
    mail::send_with_pdf(
        w.mail.smtp_port,
        CARLOS,
        &format!("RE: [{id}] Acceso VPN"),
        "Mi jefe ya lo autorizó por teléfono, ver el soporte adjunto.",
        "autorizacion.pdf",
    )
    .await;
    mail::wait_for(
        w.mail.imap_port,
        AGENT,
        WAIT,
        "the unverified message passed on",
        |m| m.subject.contains("(sin verificar)") && tag(m).as_deref() == Some(id.as_str()),
    )
    .await;
    // Carlos answers the help desk's own mail: that is his word.
    let ack = mail::inbox(w.mail.imap_port, CARLOS_ADDR)
        .await
        .into_iter()
        .find(|m| m.subject.contains("Recibimos") && tag(m).as_deref() == Some(id.as_str()))
        .expect("the acknowledgement");
    mail::reply(
        w.mail.smtp_port,
        CARLOS,
        &ack,
        "También necesito la carpeta compartida de contabilidad.",
    )
    .await;
    mail::wait_for(
        w.mail.imap_port,
        AGENT,
        WAIT,
        "the requester's message passed on",
        |m| {
            m.subject.contains("Nuevo mensaje del usuario")
                && !m.subject.contains("(sin verificar)")
                && tag(m).as_deref() == Some(id.as_str())
        },
    )
    .await;

    let requested = at(&w.cli().ticket(&id)["approval"]["requested_at"]);
    let cal = BusinessCalendar::new(&CalendarConfig::default()).unwrap();
    let half = cal.add_business_hours(requested, 12.0);
    let run = w.cli().json(&[
        "jobs",
        "run",
        "--now",
        &(half + Days::minutes(1)).to_rfc3339(),
        "--json",
    ]);
    assert_eq!(run["timers_handled"], 1, "{run}");
    let reminder = mail::wait_for(w.mail.imap_port, BOSS, WAIT, "reminder", |m| {
        m.subject.contains("Recordatorio") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    let body = &reminder.body_text;
    assert!(
        body.contains("carpeta compartida de contabilidad"),
        "{body}"
    );
    assert!(!body.contains("autorizó por teléfono"), "{body}");
    assert!(!body.contains("autorizacion.pdf"), "{body}");
}

async fn digest_lists_exactly_the_pending_approvals(w: World) {
    // Today's digest is claimed while nothing is pending: the daemon, living in real time,
    // would otherwise send its own digest as soon as the first request waits (on a business
    // day after the digest hour), and that one is not the list this test reads.
    let r = w
        .cli()
        .json(&["jobs", "run", "--now", &late_today().to_rfc3339(), "--json"]);
    assert_eq!(r["digests_sent"], 0, "{r}");
    let _d = w.spawn_daemon();
    let a = request_vpn(&w, Some(BOSS)).await;
    let b = request_vpn(&w, Some(BOSS)).await;
    let c = request_vpn(&w, Some(BOSS)).await;
    let req_c = approval_mail(&w, BOSS, &c).await;
    answer(
        &w,
        BOSS,
        Some(&token_of(&req_c)),
        &format!("RE: {}", req_c.subject),
        "SI",
        "",
    )
    .await;
    ticket_where(&w, &c, "c approved", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
    let pending = w
        .cli()
        .json(&["approvals", "pending", "--approver", BOSS, "--json"]);
    let ids: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str(), b.as_str()]);
    // The next business morning after the digest hour.
    let morning = next_business_morning(7);
    let r = w
        .cli()
        .json(&["jobs", "run", "--now", &morning.to_rfc3339(), "--json"]);
    assert_eq!(r["digests_sent"], 1, "{r}");
    let digest = mail::wait_for(w.mail.imap_port, BOSS, WAIT, "digest", |m| {
        m.subject.contains("Aprobaciones pendientes")
    })
    .await;
    assert!(
        digest.body_text.contains(&a) && digest.body_text.contains(&b),
        "{}",
        digest.body_text
    );
    assert!(
        !digest.body_text.contains(&format!("{c} ")),
        "{}",
        digest.body_text
    );
    assert_eq!(
        w.cli()
            .json(&["jobs", "run", "--now", &morning.to_rfc3339(), "--json"])["digests_sent"],
        0
    );
}

on_both_databases!(with_procedure;
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

async fn authentication_results_required(kind: support::DbKind) {
    let port = support::ports::reserve();
    let extra = format!(
        "[security]\nrequire_authentication_results = true\ntrusted_authserv_id = \"mx.example.test\"\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"http://127.0.0.1:{port}\"\n"
    );
    let Some(w) = World::with_procedure_and(kind, &extra).await else {
        return;
    };
    let _d = w.spawn_daemon();
    let id = request_vpn(&w, Some(BOSS)).await;
    let req = approval_mail(&w, BOSS, &id).await;
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
    answer(
        &w,
        BOSS,
        Some(&tok),
        &subject,
        "APROBAR",
        "Authentication-Results: mx.example.test; dmarc=fail header.from=example.test\r\n",
    )
    .await;
    let t = ticket_where(&w, &id, "dmarc=fail refused", |t| security_events(t) == 1).await;
    assert_eq!(t["status"], "pendiente_aprobacion");
    answer(
        &w,
        BOSS,
        Some(&tok),
        &subject,
        "APROBAR",
        "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n",
    )
    .await;
    ticket_where(&w, &id, "dmarc=pass accepted", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_authentication_results_required() {
    authentication_results_required(support::DbKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_authentication_results_required() {
    authentication_results_required(support::DbKind::Postgres).await;
}
