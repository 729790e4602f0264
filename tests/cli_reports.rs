//! Reports ops read from the CLI: the holiday calendar and SLA compliance over a known set of
//! closed tickets (figures computed by hand below), on SQLite and PostgreSQL.

mod support;

use serde_json::Value;
use support::cli::config_for_db;
use support::{Cli, DbKind, TestDb};

#[test]
fn holidays_2026_include_the_new_chiquinquira_monday() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("m.toml");
    std::fs::write(&cfg, "[imap]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nusername=\"u@x.test\"\npassword=\"p\"\n[smtp]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nfrom=\"a@x.test\"\nreply_to=\"b@x.test\"\n").unwrap();
    let days = Cli::new(&cfg).json(&["calendar", "holidays", "2026", "--json"]);
    let dates: Vec<&str> = days
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates.len(), 19, "{dates:?}");
    for d in [
        "2026-01-01",
        "2026-01-12",
        "2026-04-02",
        "2026-04-03",
        "2026-07-13",
        "2026-12-08",
        "2026-12-25",
    ] {
        assert!(dates.contains(&d), "{d} missing");
    }
    let chiquinquira = days
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == "2026-07-13")
        .unwrap();
    assert!(chiquinquira["name"]
        .as_str()
        .unwrap()
        .contains("Chiquinquirá"));
}

/// Closed tickets: (service, close_reason, target h, used h, paused h, alerts, closed day).
const CLOSED: &[(&str, &str, i64, i64, i64, i64, &str)] = &[
    ("VPN", "resuelto", 16, 4, 1, 0, "2026-11-02"),
    ("VPN", "resuelto", 16, 10, 0, 1, "2026-11-03"),
    ("VPN", "cambio", 16, 20, 2, 3, "2026-11-04"),
    ("VPN", "sin_respuesta_usuario", 16, 1, 24, 0, "2026-11-05"),
    ("IMPRESORA", "resuelto", 8, 2, 0, 0, "2026-11-06"),
    ("IMPRESORA", "resuelto", 8, 9, 0, 3, "2026-11-09"),
    // Outside the period: must not count.
    ("IMPRESORA", "resuelto", 8, 30, 0, 3, "2026-12-01"),
];

async fn compliance_matches_hand_computed_figures(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = TestDb::create(kind, dir.path()).await else {
        return;
    };
    let cli = Cli::new(&config_for_db(dir.path(), &db.url));
    cli.json(&["tickets", "list", "--json"]); // creates the schema
    let pool = mesayuda::store::Db::connect(&db.url, 1).await.unwrap();
    for (i, (svc, reason, target, used, paused, alerts, day)) in CLOSED.iter().enumerate() {
        let closed = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(20, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        sqlx::query(
            "INSERT INTO tickets (status, close_reason, subject, requester, root_message_id, created_at, updated_at, \
             closed_at, service, sla_target_secs, sla_used_secs, sla_paused_secs, sla_alerts_sent) \
             VALUES ('cerrado', $1, 's', 'u@example.test', $2, $3, $3, $3, $4, $5, $6, $7, $8)",
        )
        .bind(*reason)
        .bind(format!("m{i}@example.test"))
        .bind(closed)
        .bind(*svc)
        .bind(target * 3600)
        .bind(used * 3600)
        .bind(paused * 3600)
        .bind(*alerts)
        .execute(&pool.pool)
        .await
        .unwrap();
    }
    let r = cli.json(&[
        "sla",
        "compliance",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--json",
    ]);
    let line = |s: &str| -> Value {
        r["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["service"] == s)
            .cloned()
            .unwrap()
    };
    // VPN: 4 closed, 3 attended (the unanswered one is not), 2 within 16 h (4, 10), 1 outside (20).
    let vpn = line("VPN");
    assert_eq!(
        (vpn["closed"].as_i64(), vpn["attended"].as_i64()),
        (Some(4), Some(3))
    );
    assert_eq!(
        (
            vpn["within_target"].as_i64(),
            vpn["outside_target"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (vpn["within_pct"].as_f64(), vpn["outside_pct"].as_f64()),
        (Some(66.7), Some(33.3))
    );
    assert_eq!(vpn["median_business_hours"].as_f64(), Some(10.0));
    assert_eq!(vpn["paused_business_hours"].as_f64(), Some(27.0));
    assert_eq!(
        (
            vpn["alerts_50"].as_i64(),
            vpn["alerts_75"].as_i64(),
            vpn["alerts_100"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    // IMPRESORA in November: 2 attended, 1 within 8 h (2), 1 outside (9): 50 %.
    let imp = line("IMPRESORA");
    assert_eq!(
        (imp["attended"].as_i64(), imp["within_pct"].as_f64()),
        (Some(2), Some(50.0))
    );
    // Overall: 5 attended, 3 within (60 %); used 2,4,9,10,20 → median 9 h, p90 20 h.
    let all = &r["overall"];
    assert_eq!(
        (all["attended"].as_i64(), all["within_target"].as_i64()),
        (Some(5), Some(3))
    );
    assert_eq!(all["within_pct"].as_f64(), Some(60.0));
    // No survey answered in this set: none counted, no average invented.
    assert_eq!(all["survey_answers"].as_i64(), Some(0));
    assert!(all["average_rating"].is_null(), "{all}");
    assert_eq!(
        (
            all["median_business_hours"].as_f64(),
            all["p90_business_hours"].as_f64()
        ),
        (Some(9.0), Some(20.0))
    );
    let csv = cli.run(&[
        "sla",
        "compliance",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--csv",
    ]);
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("TOTAL,6,5,3,2,60")),
        "{text}"
    );
    assert!(
        text.lines()
            .next()
            .is_some_and(|h| h.ends_with(",encuestas,calificacion_promedio")),
        "{text}"
    );
}

#[test]
fn check_config_names_the_broken_catalogue_entry() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        "[[service]]\ncode = \"VPN\"\nname = \"VPN\"\ncategory = \"Accesos\"\npriority = \"media\"\n\
         resolution_hours = 8\napproval = \"el_jefe\"\nrequired_fields = [\"Justificación\"]\nkeywords = []\n",
    )
    .unwrap();
    let cfg = dir.path().join("m.toml");
    std::fs::write(
        &cfg,
        format!(
            "[imap]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nusername=\"u@x.test\"\npassword=\"p\"\n\
             [smtp]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nfrom=\"a@x.test\"\nreply_to=\"b@x.test\"\n\
             [paths]\ntemplates=\"{}\"\ncatalog=\"{}\"\n",
            support::repo_root().join("templates").display(),
            catalog.display()
        ),
    )
    .unwrap();
    let out = Cli::new(&cfg).run(&["check-config", "--offline"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("VPN") && text.contains("approval"), "{text}");
    let shipped = format!(
        "[imap]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nusername=\"u@x.test\"\npassword=\"p\"\n\
         [smtp]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nfrom=\"a@x.test\"\nreply_to=\"b@x.test\"\n\
         [paths]\ntemplates=\"{}\"\ncatalog=\"{}\"\ndirectory=\"{}\"\n",
        support::repo_root().join("templates").display(),
        support::repo_root().join("deploy/catalog.toml").display(),
        support::repo_root().join("deploy/directory.toml").display()
    );
    std::fs::write(&cfg, shipped).unwrap();
    let out = Cli::new(&cfg).run(&["check-config", "--offline"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_closed_pipe_ends_the_cli_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("m.toml");
    std::fs::write(&cfg, "[imap]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nusername=\"u@x.test\"\npassword=\"p\"\n[smtp]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nfrom=\"a@x.test\"\nreply_to=\"b@x.test\"\n").unwrap();
    // `mesayuda calendar holidays 2030 | head -0`, as a shell pipeline would run it.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "for y in 2024 2025 2026 2027 2028 2029 2030; do '{}' --config '{}' calendar holidays $y; done | head -c 1 >/dev/null",
            env!("CARGO_BIN_EXE_mesayuda"),
            cfg.display()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

on_both_databases!(setup = kind;
    compliance_matches_hand_computed_figures,
);
