//! Issue 15 item 2: the directory from Active Directory / LDAP, against a real OpenLDAP
//! (`tests/support/ldap.rs`) loaded with a ministry's people in AD's shape
//! (`tests/data/ldap/ministry.ldif`), with a TOML directory on top
//! (`tests/data/ldap/directory.toml`). On SQLite and PostgreSQL.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::flow::{inbox_with, tag};
use support::ldap::{Slapd, ADMIN_PASSWORD};
use support::mail::{self, Draft};
use support::{eventually, Daemon, DbKind, World};

const ANA: &str = "Ana Gómez <ana.gomez@example.test>";
const ANA_ADDR: &str = "ana.gomez@example.test";
const LUISA_ADDR: &str = "luisa.martinez@example.test";
const RICARDO_ADDR: &str = "ricardo.salazar@example.test";
const PEDRO_DN: &str = "cn=Pedro Nino,ou=Personas,dc=minhacienda,dc=test";
const WAIT: Duration = Duration::from_secs(25);
const READ: &str = "directory read from LDAP";
const OUTAGE: &str = "LDAP directory unavailable";

/// A VPN request (the catalogue's boss-approved service) that names no approver.
const VPN: &str = "Necesito acceso remoto por VPN para trabajar desde casa.\n\
Justificación: cierre contable de fin de año\n\
Número de equipo: PC-0456\n\
Fecha de finalización: 2026-12-31\n";

async fn world(kind: DbKind) -> Option<(Slapd, World)> {
    let slapd = Slapd::start().await?;
    let directory = support::repo_root().join("tests/data/ldap/directory.toml");
    let w = World::with_directory_and(kind, &directory, &slapd.config("")).await?;
    Some((slapd, w))
}

async fn log_count(d: &Daemon, what: &str, n: usize) {
    eventually(
        WAIT,
        &format!("{n} × `{what}` in the daemon's log"),
        || async { (d.log_text().matches(what).count() >= n).then_some(()) },
    )
    .await;
}

fn show(w: &World, email: &str) -> Option<Value> {
    let out = w.cli().run(&["directory", "show", email, "--json"]);
    match out.status.code() {
        Some(0) => Some(serde_json::from_slice(&out.stdout).expect("JSON")),
        Some(3) => None,
        other => panic!(
            "directory show {email}: exit {other:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Ana asks for VPN without naming an approver; the approval request must reach Luisa, whom
/// LDAP names as Ana's `manager`, and nobody else.
async fn request_goes_to_the_ldap_boss(w: &World) -> String {
    mail::send(w.mail.smtp_port, &Draft::new(ANA, "Acceso VPN", VPN)).await;
    let asked = inbox_with(w, LUISA_ADDR, "approval request to Ana's LDAP boss", |m| {
        m.subject.contains("Aprobación requerida")
    })
    .await;
    let id = tag(&asked).expect("the approval request names its ticket");
    assert!(
        asked.body_text.contains("Ana María Gómez Rojas"),
        "{}",
        asked.body_text
    );
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "pendiente_aprobacion", "{t}");
    w.wait_idle(WAIT).await;
    // The director (another approver, Luisa's own boss) was not asked.
    assert!(w.outbox_to(RICARDO_ADDR).is_empty());
    id
}

async fn a_request_by_mail_is_approved_by_the_boss_ldap_names(kind: DbKind) {
    let Some((_slapd, w)) = world(kind).await else {
        return;
    };
    let d = w.spawn_daemon();
    log_count(&d, READ, 1).await;
    request_goes_to_the_ldap_boss(&w).await;
}

async fn people_roles_bosses_and_overrides_show_as_the_daemon_sees_them(kind: DbKind) {
    let Some((_slapd, w)) = world(kind).await else {
        return;
    };
    let d = w.spawn_daemon();
    log_count(&d, READ, 1).await;

    let ana = show(&w, "Ana.Gomez@example.test").expect("Ana is in the directory");
    assert_eq!(ana["name"], "Ana María Gómez Rojas");
    assert_eq!(ana["position"], "Profesional Especializado");
    assert_eq!(ana["office"], "Subdirección de Infraestructura Tecnológica");
    assert_eq!(ana["phone"], "+57 601 381 1700 ext 2163");
    assert_eq!(ana["roles"], serde_json::json!(["funcionario"]));
    assert_eq!(ana["boss"]["email"], LUISA_ADDR);
    assert_eq!(ana["boss"]["name"], "Luisa Fernanda Martínez Acosta");
    assert_eq!(ana["approver"]["email"], LUISA_ADDR);
    assert!(
        ana["ldap_read_at"].as_str().unwrap().ends_with("-05:00"),
        "{ana}"
    );

    // Roles by title and by group; the substitute from an LDAP attribute.
    let luisa = show(&w, LUISA_ADDR).unwrap();
    assert_eq!(luisa["roles"], serde_json::json!(["subdirector"]));
    assert_eq!(luisa["boss"]["email"], RICARDO_ADDR);
    assert_eq!(luisa["substitute"]["email"], "jorge.ramirez@example.test");
    let role = |e: &str| {
        show(&w, e).unwrap()["roles"][0]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(role(RICARDO_ADDR), "director");
    assert_eq!(role("jorge.ramirez@example.test"), "coordinador");
    assert_eq!(role("laura.rojas@example.test"), "agente");
    assert_eq!(role("camilo.herrera@example.test"), "seguridad_informacion");
    assert_eq!(role("patricia.vargas@example.test"), "jefe_oficina");
    // Pedro reports to a coordinator, who cannot approve: the subdirector above approves.
    let pedro = show(&w, "pedro.nino@example.test").unwrap();
    assert_eq!(pedro["boss"]["email"], "jorge.ramirez@example.test");
    assert_eq!(pedro["approver"]["email"], LUISA_ADDR);

    // The TOML file overrides an LDAP person's absence and substitute, and adds a person.
    let patricia = show(&w, "patricia.vargas@example.test").unwrap();
    assert_eq!(patricia["substitute"]["email"], "carlos.perez@example.test");
    assert_eq!(
        patricia["away_periods"],
        serde_json::json!([{"from": "2026-01-01", "until": "2099-12-31"}])
    );
    assert_eq!(patricia["position"], "Jefe de la Oficina Asesora Jurídica");
    assert_eq!(
        show(&w, "mario.contratista@example.test").unwrap()["roles"][0],
        "especialista"
    );
    // The room has no mail: not a person.
    assert!(show(&w, "sala@example.test").is_none());

    // Spanish for people.
    let out = w.cli().run(&["directory", "show", ANA_ADDR]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        "Nombre:",
        "Ana María Gómez Rojas",
        "Cargo:",
        "Jefe inmediato:",
        "Luisa Fernanda Martínez Acosta <luisa.martinez@example.test>",
        "Ausencias:",
        "ninguna",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    let out = w.cli().run(&["directory", "show", "nadie@example.test"]);
    assert_eq!(out.status.code(), Some(3));
}

async fn a_person_leaving_ldap_leaves_and_an_outage_keeps_the_last_good_directory(kind: DbKind) {
    let Some((mut slapd, w)) = world(kind).await else {
        return;
    };
    let mut d = w.spawn_daemon();
    log_count(&d, READ, 1).await;
    assert!(show(&w, "pedro.nino@example.test").is_some());

    // Pedro leaves the ministry; `systemctl reload` reads LDAP again.
    slapd.delete(PEDRO_DN).await;
    d.hup();
    log_count(&d, READ, 2).await;
    assert!(show(&w, "pedro.nino@example.test").is_none());
    assert!(show(&w, ANA_ADDR).is_some());

    // LDAP goes down: two reads fail, one line says so, the directory stays.
    slapd.stop();
    d.hup();
    log_count(&d, OUTAGE, 1).await;
    d.hup();
    log_count(&d, "LDAP directory still unavailable", 1).await;
    assert_eq!(d.log_text().matches(OUTAGE).count(), 1, "{}", d.log_text());
    assert_eq!(show(&w, ANA_ADDR).unwrap()["boss"]["email"], LUISA_ADDR);

    // A restart during the outage still routes by the stored directory.
    d.terminate();
    let d2 = w.spawn_daemon();
    log_count(&d2, "directory from the stored LDAP read", 1).await;
    log_count(&d2, OUTAGE, 1).await;
    request_goes_to_the_ldap_boss(&w).await;
    assert_eq!(d2.log_text().matches(OUTAGE).count(), 1);

    // LDAP back: read again, and the end of the outage is said once.
    slapd.resume().await;
    d2.hup();
    log_count(&d2, "LDAP server reachable again", 1).await;
    log_count(&d2, READ, 1).await;
    for log in [d.log_text(), d2.log_text()] {
        assert!(
            !log.contains(ADMIN_PASSWORD),
            "the LDAP password reached the log"
        );
    }
}

async fn check_config_says_how_many_people_and_roles_ldap_gave(kind: DbKind) {
    let Some((mut slapd, w)) = world(kind).await else {
        return;
    };
    let out = w.cli().run(&["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("ldap: ok (ldap://127.0.0.1:")
            && text.contains("9 personas, 6 con cargo")
            && text.contains("director: 1")
            && text.contains("agente: 1"),
        "{text}"
    );
    assert!(!text.contains(ADMIN_PASSWORD));
    slapd.stop();
    let out = w.cli().run(&["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ldap: error: no se pudo conectar con")
            && text.contains("directory.ldap.url"),
        "{text}"
    );
}

/// `ldaps://` and StartTLS over rustls, trusting the domain's CA through `ca_file`; without it
/// the server's certificate is refused and check-config names the keys to check.
async fn ldaps_and_starttls_trust_the_domain_ca_given_in_ca_file(kind: DbKind) {
    let Some(slapd) = Slapd::start_tls().await else {
        return;
    };
    let ldaps = format!("ldaps://127.0.0.1:{}", slapd.tls_port.unwrap());
    let ca = format!("ca_file = \"{}\"", slapd.ca_file().display());
    let directory = support::repo_root().join("tests/data/ldap/directory.toml");
    let cases = [
        (ldaps.clone(), ca.clone(), true),
        (slapd.url(), format!("starttls = true\n{ca}"), true),
        (ldaps, String::new(), false),
        (slapd.url(), "starttls = true".to_owned(), false),
    ];
    let first = slapd.config("");
    let Some(w) = World::with_directory_and(kind, &directory, &first).await else {
        return;
    };
    let original = std::fs::read_to_string(&w.config).unwrap();
    for (url, extra, trusted) in cases {
        let section = slapd.config(&extra).replace(&slapd.url(), &url);
        std::fs::write(&w.config, original.replace(&first, &section)).unwrap();
        let out = w.cli().run(&["check-config"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if trusted {
            assert!(out.status.success(), "{url} {extra}: {text}");
            assert!(
                text.contains(&format!("ldap: ok ({url}, 9 personas")),
                "{text}"
            );
        } else {
            assert_eq!(out.status.code(), Some(1), "{url}: {text}");
            assert!(
                text.contains("ldap: error: no se pudo conectar con")
                    && text.contains("certificate")
                    && text.contains("ca_file"),
                "{text}"
            );
        }
        assert!(!text.contains(ADMIN_PASSWORD));
    }
}

/// Without any reload, a change in LDAP reaches the daemon at the next `refresh_minutes`
/// (one here: this test waits about a minute, the timer's smallest period). The timer does not
/// depend on the database, so SQLite alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_ldap_arrives_at_the_next_refresh_without_a_reload() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let directory = support::repo_root().join("tests/data/ldap/directory.toml");
    let ldap = slapd
        .config("")
        .replace("refresh_minutes = 60", "refresh_minutes = 1");
    let Some(w) = World::with_directory_and(DbKind::Sqlite, &directory, &ldap).await else {
        return;
    };
    let d = w.spawn_daemon();
    log_count(&d, READ, 1).await;
    let first_read = std::time::Instant::now();
    slapd.delete(PEDRO_DN).await;
    assert!(show(&w, "pedro.nino@example.test").is_some());
    eventually(
        Duration::from_secs(90),
        "a second LDAP read, with no SIGHUP",
        || async { (d.log_text().matches(READ).count() >= 2).then_some(()) },
    )
    .await;
    assert!(
        first_read.elapsed() >= Duration::from_secs(50),
        "read again after {:?}, before its period",
        first_read.elapsed()
    );
    assert!(!d.log_text().contains("(SIGHUP)"), "{}", d.log_text());
    assert!(show(&w, "pedro.nino@example.test").is_none());
    assert!(show(&w, ANA_ADDR).is_some());
}

on_both_databases!(setup = kind;

    a_request_by_mail_is_approved_by_the_boss_ldap_names,
    people_roles_bosses_and_overrides_show_as_the_daemon_sees_them,
    a_person_leaving_ldap_leaves_and_an_outage_keeps_the_last_good_directory,
    check_config_says_how_many_people_and_roles_ldap_gave,
    ldaps_and_starttls_trust_the_domain_ca_given_in_ca_file,
);
