//! Issue 11, item 7: no secret in the logs at any level, none in clear at rest. The real daemon
//! logs in to a real Dovecot (IMAP LOGIN) and a real Postfix (SMTP AUTH PLAIN, through Dovecot's
//! SASL) with passwords handed over as systemd credentials, at `RUST_LOG=trace`, under umask
//! 022, and sends an approval request carrying a live token.

mod support;

use base64::Engine;
use mesayuda::mail::inbound::InboundMail;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, repo_root, DbKind, MailServer, TestDb, HELPDESK, NOTIFIER};

const WAIT: Duration = Duration::from_secs(30);
/// The mailbox and SMTP password: distinctive, so that any trace of it in a log is found.
const PASSWORD: &str = "Pw-7c1e9f.clave-de-prueba_x";
const BOSS: &str = "luisa.martinez@example.test";
const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
const CARLOS_ADDR: &str = "carlos.perez@example.test";

/// A mail server whose SMTP offers AUTH, a database, and a config naming password files, which
/// the daemon gets as systemd credentials (`$CREDENTIALS_DIRECTORY`), as under the shipped unit.
struct Setup {
    mail: MailServer,
    // Held for the test: dropping it removes the database.
    db: TestDb,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Setup {
    async fn new(kind: DbKind) -> Option<Setup> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = TestDb::create(kind, dir.path()).await?;
        // --oauth2-token makes Postfix offer AUTH; that token is then a valid password too.
        let mail = MailServer::start_with(&["--oauth2-token", PASSWORD]).await;
        // As on a server: root-only secret files, and systemd's copy of them for the service.
        let (etc, creds) = (dir.path().join("etc"), dir.path().join("credentials"));
        for d in [&etc, &creds] {
            std::fs::create_dir(d).unwrap();
            for name in ["imap-password", "smtp-password"] {
                std::fs::write(d.join(name), format!("{PASSWORD}\n")).unwrap();
            }
        }
        let config = dir.path().join("mesayuda.toml");
        let root = repo_root();
        std::fs::write(
            &config,
            format!(
                r#"
[database]
url = "{db}"

[imap]
host = "127.0.0.1"
port = {imap}
security = "none"
username = "{HELPDESK}"
password_file = "{etc}/imap-password"
poll_interval_secs = 2

[smtp]
host = "127.0.0.1"
port = {smtp}
security = "none"
username = "{NOTIFIER}"
password_file = "{etc}/smtp-password"
from = "Servicios Tecnológicos <{NOTIFIER}>"
reply_to = "Mesa de Ayuda <{HELPDESK}>"

[paths]
templates = "{templates}"
catalog = "{catalog}"
directory = "{directory}"
"#,
                db = db.url,
                etc = etc.display(),
                imap = mail.imap_port,
                smtp = mail.smtp_port,
                templates = root.join("templates").display(),
                catalog = root.join("deploy/catalog.toml").display(),
                directory = root.join("deploy/directory.toml").display(),
            ),
        )
        .unwrap();
        Some(Setup {
            mail,
            db,
            dir,
            config,
        })
    }

    fn credentials(&self) -> std::path::PathBuf {
        self.dir.path().join("credentials")
    }

    fn ticket(&self, id: &str) -> Value {
        support::Cli::new(&self.config).json(&["tickets", "show", id, "--json"])
    }
}

/// The daemon as an operator might start it by hand: umask 022, everything logged, the
/// credentials where systemd puts them. Its stdout and stderr go to one file.
struct TraceDaemon {
    child: Child,
    log: std::path::PathBuf,
}

impl TraceDaemon {
    fn spawn(s: &Setup) -> TraceDaemon {
        let log = s.dir.path().join("daemon.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("sh")
            .args(["-c", "umask 022 && exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_mesayuda"))
            .arg("--config")
            .arg(&s.config)
            .arg("run")
            .env("RUST_LOG", "trace")
            .env("CREDENTIALS_DIRECTORY", s.credentials())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn mesayuda run");
        TraceDaemon { child, log }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

impl Drop for TraceDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Carlos asks for VPN access naming his boss; the daemon acknowledges it and mails the boss
/// the approval request. Returns the ticket and the request as the boss received it.
async fn vpn_request_awaiting_approval(s: &Setup) -> (String, InboundMail) {
    let body = "Necesito acceso remoto por VPN para trabajar desde casa.\n\
                Justificación: cierre contable de fin de año\nNúmero de equipo: PC-0456\n\
                Fecha de finalización: 2026-12-31\nAprobador: luisa.martinez@example.test\n";
    mail::send(s.mail.smtp_port, &Draft::new(CARLOS, "Acceso VPN", body)).await;
    let req = mail::wait_for(s.mail.imap_port, BOSS, WAIT, "approval request", |m| {
        m.subject.contains("Aprobación requerida")
    })
    .await;
    let id = mesayuda::domain::text::find_ticket_ref(&req.subject)
        .expect("the approval request names its ticket")
        .to_string();
    (id, req)
}

fn token_of(m: &InboundMail) -> String {
    mesayuda::domain::text::subject_token(&m.subject).expect("approval subject carries a token")
}

async fn a_trace_log_holds_no_password_credential_or_token(s: Setup) {
    let d = TraceDaemon::spawn(&s);
    let (_, req) = vpn_request_awaiting_approval(&s).await;
    let token = token_of(&req);
    // The boss approves by answering the request; the daemon takes the answer in (logging
    // the mail that carries the code) and tells Carlos.
    let reply_to = req
        .reply_to
        .as_ref()
        .expect("a personal reply address")
        .email
        .clone();
    let subject = format!("RE: {}", req.subject);
    let answer = Draft {
        to: &reply_to,
        ..Draft::new(BOSS, &subject, "APROBAR")
    };
    mail::send(s.mail.smtp_port, &answer).await;
    let ack = mail::wait_for(s.mail.imap_port, CARLOS_ADDR, WAIT, "approved", |m| {
        m.subject.contains("fue aprobada")
    })
    .await;
    // Every personal reply code the help desk handed out: the boss's, and Carlos's own.
    let reply_code = |m: &InboundMail| {
        let to = &m.reply_to.as_ref().expect("a personal reply address").email;
        let local = to.split('@').next().unwrap();
        local.split_once('+').expect("mesayuda+<code>").1.to_owned()
    };
    let codes = [reply_code(&req), reply_code(&ack)];
    // The logins really happened with the secret: Dovecot saw the IMAP login, Postfix the AUTH.
    let postfix = std::fs::read_to_string(s.mail.dir.join("log/postfix.log")).unwrap();
    assert!(
        postfix.contains(&format!("sasl_method=PLAIN, sasl_username={NOTIFIER}")),
        "no SMTP AUTH PLAIN in the Postfix log"
    );
    let dovecot = std::fs::read_to_string(s.mail.dir.join("log/dovecot.log")).unwrap();
    assert!(dovecot.contains(&format!("Login: user=<{HELPDESK}>")));
    // Everything is logged (other crates' debug lines are there, SQL included), yet no secret.
    let log = d.output();
    assert!(
        log.contains("DEBUG") && log.contains("db.statement"),
        "not a full log:\n{log}"
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secrets = [
        ("password", PASSWORD.to_owned()),
        (
            "AUTH PLAIN payload",
            b64(&format!("\0{NOTIFIER}\0{PASSWORD}")),
        ),
        ("AUTH LOGIN password", b64(PASSWORD)),
        ("approval token", token.clone()),
        ("boss's reply code", codes[0].clone()),
        ("requester's reply code", codes[1].clone()),
    ];
    for (what, secret) in &secrets {
        assert!(!log.contains(secret.as_str()), "the {what} is in the log");
    }
    assert!(!log.contains("AUTH PLAIN"), "the SMTP AUTH line is logged");
}

async fn stored_approval_mail_holds_no_live_token(s: Setup) {
    let _d = TraceDaemon::spawn(&s);
    let (id, req) = vpn_request_awaiting_approval(&s).await;
    let token = token_of(&req);
    // What an operator sees of the ticket: the request we sent is there, its token masked.
    let t = eventually(WAIT, "approval request on the ticket", || async {
        let t = s.ticket(&id);
        let stored = t["messages"]
            .as_array()?
            .iter()
            .any(|m| m["kind"] == "solicitud_aprobacion" && m["direction"] == "out");
        stored.then_some(t)
    })
    .await;
    let sent = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "solicitud_aprobacion")
        .unwrap();
    let subject = sent["subject"].as_str().unwrap();
    assert!(subject.ends_with("[APR:••••]"), "{subject}");
    let shown = t.to_string();
    assert!(!shown.contains(&token), "the live token is stored: {shown}");
    // The boss's answer to the tokenised Reply-To is stored masked too, and still counts.
    let (to, subject) = (
        format!("mesayuda+{token}@example.test"),
        format!("RE: {}", req.subject),
    );
    let d = Draft {
        to: &to,
        ..Draft::new(BOSS, &subject, "APROBAR")
    };
    mail::send(s.mail.smtp_port, &d).await;
    let t = eventually(WAIT, "approval recorded", || async {
        let t = s.ticket(&id);
        (t["approval"]["status"] == "aprobado").then_some(t)
    })
    .await;
    let shown = t.to_string();
    assert!(!shown.contains(&token), "the live token is stored: {shown}");
    assert!(shown.contains("mesayuda+••••@example.test"), "{shown}");
    // The answer's own bytes, kept as evidence, hold it overwritten: nothing the database
    // keeps of a received mail, whole or in pieces, can be answered with.
    let db = mesayuda::store::Db::connect(&s.db.url, 1).await.unwrap();
    let mut kept: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT raw FROM messages WHERE direction = 'in' AND raw IS NOT NULL")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    kept.extend(
        sqlx::query_scalar::<_, Vec<u8>>("SELECT data FROM raw_chunks")
            .fetch_all(&db.pool)
            .await
            .unwrap(),
    );
    let answer = kept
        .iter()
        .map(|raw| String::from_utf8_lossy(raw))
        .find(|raw| raw.contains("APROBAR"))
        .expect("the answer's bytes are kept");
    assert!(
        !answer.contains(&token),
        "the live token is in the kept mail:\n{answer}"
    );
    let stars = "*".repeat(token.len());
    assert!(
        answer.contains(&format!("mesayuda+{stars}@example.test")),
        "{answer}"
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_are_0600_after_a_start_under_umask_022() {
    let s = Setup::new(DbKind::Sqlite)
        .await
        .expect("SQLite is always there");
    let d = TraceDaemon::spawn(&s);
    // Mail taken in and sent: the database, its WAL and shared memory have all been written.
    vpn_request_awaiting_approval(&s).await;
    let db = s.dir.path().join("mesayuda.db");
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let p = Path::new(&format!("{}{suffix}", db.display())).to_owned();
        assert_eq!(mode(&p), 0o600, "{} is {:o}", p.display(), mode(&p));
    }
    drop(d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_an_older_version_left_readable_are_made_private() {
    let s = Setup::new(DbKind::Sqlite)
        .await
        .expect("SQLite is always there");
    let db = s.dir.path().join("mesayuda.db");
    for suffix in ["", ".lock"] {
        let p = format!("{}{suffix}", db.display());
        std::fs::write(&p, "").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = support::Cli::new(&s.config).run(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&db), 0o600);
    let d = TraceDaemon::spawn(&s);
    let lock = Path::new(&format!("{}.lock", db.display())).to_owned();
    eventually(WAIT, "lock file made private", || async {
        (mode(&lock) == 0o600).then_some(())
    })
    .await;
    drop(d);
}

/// `LoadCredential=`: the service reads systemd's copy of a secret file it cannot read itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_read_from_systemd_credentials() {
    let s = Setup::new(DbKind::Sqlite)
        .await
        .expect("SQLite is always there");
    // The files the configuration names are out of the service's reach (here: gone).
    std::fs::remove_dir_all(s.dir.path().join("etc")).unwrap();
    let check = |creds: Option<&Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mesayuda"));
        c.arg("--config").arg(&s.config).arg("check-config");
        if let Some(dir) = creds {
            c.env("CREDENTIALS_DIRECTORY", dir);
        }
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    let (code, text) = check(Some(&s.credentials()));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("imap: ok") && text.contains("smtp: ok"),
        "{text}"
    );
    let (code, text) = check(None);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("imap.password_file"), "{text}");
}

on_both_databases!(setup = Setup::new;

    a_trace_log_holds_no_password_credential_or_token,
    stored_approval_mail_holds_no_live_token
);
