//! The procedure's product delivered (issue 17 item 8): on the first business day of a month
//! the coordinator, subdirector and director each find the previous month's compliance report
//! in their inbox, once, with a CSV that says what `sla compliance --csv` says.

mod support;

use mesayuda::mail::inbound::InboundMail;
use std::time::Duration;
use support::{mail, World};

const WAIT: Duration = Duration::from_secs(60);
/// The shipped directory's holders of the three roles.
const READERS: [&str; 3] = [
    "sandra.moreno@example.test",
    "luisa.martinez@example.test",
    "hernan.quintero@example.test",
];
const SUBJECT: &str = "noviembre de 2026";

/// Closed tickets: (service, close_reason, target h, used h, paused h, alerts, closed day,
/// survey rating).
#[allow(clippy::type_complexity)]
const CLOSED: &[(&str, &str, i64, i64, i64, i64, &str, Option<i64>)] = &[
    ("VPN", "resuelto", 16, 4, 1, 0, "2026-11-03", Some(5)),
    ("VPN", "resuelto", 16, 10, 0, 1, "2026-11-10", Some(4)),
    ("VPN", "cambio", 16, 20, 2, 3, "2026-11-17", None),
    ("IMPRESORA", "resuelto", 8, 2, 0, 0, "2026-11-24", Some(2)),
    (
        "IMPRESORA",
        "sin_respuesta_usuario",
        8,
        1,
        24,
        0,
        "2026-11-30",
        None,
    ),
    // December: not November's business.
    ("IMPRESORA", "resuelto", 8, 30, 0, 3, "2026-12-01", Some(1)),
];

async fn insert_closed_tickets(w: &World) {
    let db = mesayuda::store::Db::connect(&w.db.url, 1).await.unwrap();
    for (i, (svc, reason, target, used, paused, alerts, day, rating)) in CLOSED.iter().enumerate() {
        // 3 p. m. in Bogotá.
        let closed = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(20, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        sqlx::query(
            "INSERT INTO tickets (status, close_reason, subject, requester, root_message_id, created_at, updated_at, \
             closed_at, resolved_at, service, sla_target_secs, sla_used_secs, sla_paused_secs, sla_alerts_sent, survey_rating) \
             VALUES ('cerrado', $1, 's', 'u@example.test', $2, $3, $3, $3, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(*reason)
        .bind(format!("m{i}@example.test"))
        .bind(closed)
        .bind(*svc)
        .bind(target * 3600)
        .bind(used * 3600)
        .bind(paused * 3600)
        .bind(*alerts)
        .bind(*rating)
        .execute(&db.pool)
        .await
        .unwrap();
    }
}

fn reports_sent(w: &World, now: &str) -> i64 {
    let r = w.cli().json(&["jobs", "run", "--now", now, "--json"]);
    r["reports_sent"].as_i64().unwrap_or_else(|| panic!("{r}"))
}

async fn reports_in(w: &World, who: &str) -> Vec<InboundMail> {
    mail::inbox(w.mail.imap_port, who)
        .await
        .into_iter()
        .filter(|m| m.subject.contains(SUBJECT))
        .collect()
}

async fn november_report_arrives_once_on_the_first_business_day_of_december(w: World) {
    let out = w.cli().run(&["migrate"]);
    assert!(out.status.success(), "{out:?}");
    insert_closed_tickets(&w).await;

    // Before the first business day, or not yet the hour: nothing.
    assert_eq!(reports_sent(&w, "2026-11-30T08:00:00-05:00"), 0);
    assert_eq!(reports_sent(&w, "2026-12-01T06:30:00-05:00"), 0);
    // Tuesday December 1 2026, 8 a. m.: the first business day.
    assert_eq!(reports_sent(&w, "2026-12-01T08:00:00-05:00"), 3);
    // Once: a later sweep (the next day, which would catch up a missed report) sends nothing.
    assert_eq!(reports_sent(&w, "2026-12-02T08:00:00-05:00"), 0);

    let _daemon = w.spawn_daemon();
    let csv = w.cli().run(&[
        "sla",
        "compliance",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--csv",
    ]);
    assert!(csv.status.success());
    let expected_csv = String::from_utf8(csv.stdout).unwrap();
    // 4 attended, 3 within target; survey 5, 4, 2 → 3 answers averaging 3.67.
    assert!(
        expected_csv.contains("\nTOTAL,5,4,3,1,75,25,"),
        "{expected_csv}"
    );
    assert!(expected_csv.ends_with(",3,3.67\n"), "{expected_csv}");
    for who in READERS {
        let m = mail::wait_for(w.mail.imap_port, who, WAIT, "monthly report", |m| {
            m.subject.contains(SUBJECT)
        })
        .await;
        assert_eq!(m.attachments.len(), 1, "{who}: {}", m.body_text);
        let a = &m.attachments[0];
        assert_eq!(a.filename, "cumplimiento-2026-11.csv");
        assert!(a.content_type.starts_with("text/csv"), "{}", a.content_type);
        assert_eq!(String::from_utf8_lossy(&a.content), expected_csv, "{who}");
        // Readable in the body, with Colombian dates and numbers.
        for line in [
            "Periodo: del domingo 1 de noviembre de 2026 al lunes 30 de noviembre de 2026.",
            "Dentro del tiempo de solución: 3 (75,0 %)",
            "Encuesta de satisfacción: 3 respuesta(s), calificación promedio 3,7 de 5",
            // Each service by the name readers know, its code beside it.
            "\nAcceso remoto a la red local (VPN)\n",
            "\nInstalación de impresora (IMPRESORA)\n",
        ] {
            assert!(m.body_text.contains(line), "{line}\n{}", m.body_text);
        }
    }

    // The same morning again, and the next sweep: nothing more.
    assert_eq!(reports_sent(&w, "2026-12-01T08:00:00-05:00"), 0);
    assert_eq!(reports_sent(&w, "2026-12-01T09:01:00-05:00"), 0);
    w.wait_idle(Duration::from_secs(30)).await;
    for who in READERS {
        assert_eq!(reports_in(&w, who).await.len(), 1, "{who}");
    }
    let out = w.cli().json(&["outbox", "list", "--json"]);
    let reports = out
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "informe_mensual")
        .filter(|m| m["created_at"] == "2026-12-01T08:00:00-05:00")
        .count();
    assert_eq!(reports, 3, "{out}");
}

/// The shipped procedure with the monthly report on, as the example configuration has it.
async fn with_reports(kind: support::DbKind) -> Option<World> {
    World::with_procedure_and(kind, "[reports]\nmonthly_compliance = true\nhour = 7\n").await
}

on_both_databases!(setup = with_reports; november_report_arrives_once_on_the_first_business_day_of_december);
