//! Mails people can act on (issue 17, items 4, 5 and 10), read in the recipients' inboxes:
//! the approver asked of the requester with their own office's head first, people named as
//! the directory knows them, the substitute told whom they stand in for, a reply to the
//! approvals digest that opens nothing, and `check-config` warnings.

mod support;

use support::flow::{next_business_morning, tag};

use mesayuda::mail::inbound::InboundMail;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, Cli, World};

const ANA: &str = "ana.gomez@example.test";
const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LUISA: &str = "luisa.martinez@example.test";
const WAIT: Duration = Duration::from_secs(25);

const VPN: &str = "Necesito acceso remoto por VPN para trabajar desde casa.\n\
    Justificación: cierre contable de fin de año\nNúmero de equipo: PC-0456\n\
    Fecha de finalización: 2026-12-31\n";

async fn first(
    w: &World,
    who: &str,
    what: &str,
    pred: impl Fn(&InboundMail) -> bool,
) -> InboundMail {
    mail::wait_for(w.mail.imap_port, who, WAIT, what, pred).await
}

/// Sends a VPN request from `from` (with `extra` lines) and returns its ticket id.
async fn request(w: &World, from: &str, to_addr: &str, extra: &str) -> String {
    let body = format!("{VPN}{extra}");
    mail::send(w.mail.smtp_port, &Draft::new(from, "Acceso VPN", &body)).await;
    let ack = first(w, to_addr, "acknowledgement", |m| {
        m.subject.contains("Recibimos")
    })
    .await;
    tag(&ack).expect("tagged acknowledgement")
}

/// Item 4 and 5: Ana works in the Oficina Asesora Jurídica; without `Aprobador:` she is asked
/// for one, her office's head listed first, and every mail greets her by her name.
async fn missing_approver_is_asked_of_the_requester_office_head_first(w: World) {
    let _d = w.spawn_daemon();
    // Written from a bare address: the name comes from the directory.
    mail::send(w.mail.smtp_port, &Draft::new(ANA, "Acceso VPN", VPN)).await;
    let ack = first(&w, ANA, "acknowledgement", |m| {
        m.subject.contains("Recibimos")
    })
    .await;
    assert!(
        ack.body_text
            .starts_with("Estimado(a) Ana María Gómez Rojas:"),
        "{}",
        ack.body_text
    );
    let id = tag(&ack).unwrap();
    let ask = first(&w, ANA, "approver asked", |m| {
        m.subject.contains("Información pendiente")
    })
    .await;
    let body = &ask.body_text;
    assert!(
        body.starts_with("Estimado(a) Ana María Gómez Rojas:"),
        "{body}"
    );
    assert!(body.contains("  Aprobador: "), "{body}");
    // Only what applies: the other fields came with the request.
    assert!(!body.contains("Justificación:"), "{body}");
    let listed: Vec<&str> = body.lines().filter(|l| l.starts_with("  - ")).collect();
    assert!(
        listed[0].starts_with(
            "  - Patricia Elena Vargas Londoño, Jefe de oficina, Oficina Asesora Jurídica"
        ),
        "{body}"
    );
    assert!(listed.iter().any(|l| l.contains(LUISA)), "{body}");
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "pendiente_por_usuario", "{t}");
    assert!(t["approval"].is_null(), "no approver routing yet: {t}");
}

/// Item 5: a substitute is told whom they replace; the requester is told whom they wait on.
async fn substitute_is_told_whom_they_replace(w: World) {
    let _d = w.spawn_daemon();
    // Patricia Vargas is away (deploy/directory.toml); Jorge Ramírez is her substitute.
    let id = request(
        &w,
        CARLOS,
        CARLOS_ADDR,
        "Aprobador: patricia.vargas@example.test\n",
    )
    .await;
    let req = first(&w, "jorge.ramirez@example.test", "approval request", |m| {
        m.subject.contains("Aprobación requerida") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    let body = &req.body_text;
    assert!(
        body.starts_with("Estimado(a) Jorge Iván Ramírez Ortega:"),
        "{body}"
    );
    assert!(
        body.contains("en reemplazo de Patricia Elena Vargas Londoño, Jefe de oficina"),
        "{body}"
    );
    assert!(body.contains("  Número de equipo: PC-0456"), "{body}");
    assert!(body.contains("Responda antes del "), "{body}");
    let waits = first(&w, CARLOS_ADDR, "requester told", |m| {
        m.subject.contains("espera aprobación")
    })
    .await;
    assert!(
        waits
            .body_text
            .contains("espera la aprobación de Patricia Elena Vargas Londoño, Jefe de oficina"),
        "{}",
        waits.body_text
    );
}

/// Item 5: answering the digest decides nothing, opens no ticket, and says what to answer.
async fn a_reply_to_the_digest_opens_nothing_and_is_explained(w: World) {
    let _d = w.spawn_daemon();
    let id = request(&w, CARLOS, CARLOS_ADDR, &format!("Aprobador: {LUISA}\n")).await;
    first(&w, LUISA, "approval request", |m| {
        m.subject.contains("Aprobación requerida")
    })
    .await;
    let morning = next_business_morning(9);
    let r = w
        .cli()
        .json(&["jobs", "run", "--now", &morning.to_rfc3339(), "--json"]);
    assert_eq!(r["digests_sent"], 1, "{r}");
    let digest = first(&w, LUISA, "digest", |m| {
        m.subject.contains("Aprobaciones pendientes")
    })
    .await;
    assert!(
        digest
            .body_text
            .starts_with("Estimado(a) Luisa Fernanda Martínez Acosta:"),
        "{}",
        digest.body_text
    );
    assert!(
        digest.body_text.contains("Aprobación requerida"),
        "{}",
        digest.body_text
    );
    let tickets_before = w.cli().tickets().len();
    mail::reply(
        w.mail.smtp_port,
        "Luisa Martínez <luisa.martinez@example.test>",
        &digest,
        "APROBAR",
    )
    .await;
    let told = first(&w, LUISA, "explanation", |m| {
        m.subject.contains("no tuvo efecto")
    })
    .await;
    assert!(
        told.body_text.contains("Aprobación requerida"),
        "{}",
        told.body_text
    );
    assert_eq!(w.cli().tickets().len(), tickets_before, "no ticket opened");
    assert_eq!(w.cli().ticket(&id)["status"], "pendiente_aprobacion");
    // Nothing else reached her: no acknowledgement of a new request.
    let acks = eventually(WAIT, "inbox read", || async {
        Some(mail::inbox(w.mail.imap_port, LUISA).await)
    })
    .await;
    assert!(
        !acks.iter().any(|m| m.subject.contains("Recibimos")),
        "{acks:?}"
    );
}

on_both_databases!(with_procedure;
    missing_approver_is_asked_of_the_requester_office_head_first,
    substitute_is_told_whom_they_replace,
    a_reply_to_the_digest_opens_nothing_and_is_explained,
);

/// Item 10: problems the procedure cares about are printed as warnings; the exit code stays 0.
#[test]
fn check_config_warns_without_failing() {
    let dir = tempfile::tempdir().unwrap();
    let directory = dir.path().join("directory.toml");
    std::fs::write(
        &directory,
        "[[person]]\nemail = \"jefa@x.test\"\nname = \"Jefa Sin Suplente\"\nrole = \"director\"\n\
         office = \"Dirección\"\n",
    )
    .unwrap();
    let cfg = dir.path().join("m.toml");
    std::fs::write(
        &cfg,
        format!(
            "[imap]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nusername=\"u@x.test\"\npassword=\"p\"\n\
             [smtp]\nhost=\"h\"\nport=1\nsecurity=\"none\"\nfrom=\"a@x.test\"\nreply_to=\"b@x.test\"\n\
             [paths]\ntemplates=\"{}\"\ncatalog=\"{}\"\ndirectory=\"{}\"\n\
             [mail]\nfooter = \"Ley 1581 de 2012\"\n",
            support::repo_root().join("templates").display(),
            support::repo_root().join("deploy/catalog.toml").display(),
            directory.display()
        ),
    )
    .unwrap();
    let out = Cli::new(&cfg).run(&["check-config", "--offline"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("aviso: Jefa Sin Suplente (jefa@x.test, Director(a)) no tiene suplente"),
        "{text}"
    );
    assert!(
        text.contains("aviso: los incidentes no llegarían a nadie"),
        "{text}"
    );
    assert!(
        text.contains("aviso: nadie en el directorio tiene el cargo `agente`"),
        "{text}"
    );
}
