//! Issue "Ready for production": what operations observe — systemd notifications, TLS to real
//! Dovecot/Postfix with a private CA, /healthz and /metrics, SIGHUP reload, refused logins that
//! are loud, one mailbox reader among several PostgreSQL instances, SQLite single-instance,
//! and the ops commands with their exit codes.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::http_get as get;
use support::mail::{self, Draft};

use support::{eventually, Daemon, DbKind, MailServer, TestDb, HELPDESK, NOTIFIER};

const WAIT: Duration = Duration::from_secs(30);
const OPS: &str = "ops@example.test";

/// How the daemon reaches the servers, and anything else a test changes.
struct Opts {
    imap_security: &'static str,
    imap_tls_port: bool,
    smtp_security: &'static str,
    smtp_tls_port: bool,
    imap_ca: bool,
    smtp_ca: bool,
    imap_password: &'static str,
    templates: PathBuf,
    /// Extra lines in [imap] and [smtp].
    imap_extra: String,
    smtp_extra: String,
    extra: String,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            imap_security: "none",
            imap_tls_port: false,
            smtp_security: "none",
            smtp_tls_port: false,
            imap_ca: false,
            smtp_ca: false,
            imap_password: "secret",
            templates: support::repo_root().join("templates"),
            imap_extra: String::new(),
            smtp_extra: String::new(),
            extra: String::new(),
        }
    }
}

struct Setup {
    server: MailServer,
    db: TestDb,
    dir: tempfile::TempDir,
    http: u16,
}

impl Setup {
    async fn new(kind: DbKind) -> Option<Setup> {
        Self::with_server(kind, &[]).await
    }

    async fn with_server(kind: DbKind, server_args: &[&str]) -> Option<Setup> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = TestDb::create(kind, dir.path()).await?;
        Some(Setup {
            server: MailServer::with_smtps(server_args).await,
            db,
            dir,
            http: support::ports::reserve(),
        })
    }

    /// Writes a config file; `http` is the health listener's port.
    fn config_with(&self, name: &str, http: u16, o: &Opts) -> PathBuf {
        let s = &self.server;
        let ca = s.cert();
        let line = |on: bool, key: &str| {
            if on {
                format!("ca_file = \"{}\"", ca.display())
            } else {
                format!("# no {key}")
            }
        };
        let text = format!(
            r#"
[database]
url = "{db}"

[imap]
host = "127.0.0.1"
port = {imap_port}
security = "{imap_security}"
username = "{HELPDESK}"
password = "{imap_password}"
poll_interval_secs = 2
{imap_ca}
{imap_extra}

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "{smtp_security}"
from = "Servicios Tecnológicos <{NOTIFIER}>"
reply_to = "Mesa de Ayuda <{HELPDESK}>"
{smtp_ca}
{smtp_extra}

[paths]
templates = "{templates}"

[http]
listen = "127.0.0.1:{http}"

{extra}
"#,
            db = self.db.url,
            imap_port = if o.imap_tls_port {
                s.imaps_port
            } else {
                s.imap_port
            },
            imap_security = o.imap_security,
            imap_password = o.imap_password,
            imap_ca = line(o.imap_ca, "imap ca"),
            smtp_port = if o.smtp_tls_port {
                s.smtps_port.expect("SMTPS")
            } else {
                s.smtp_port
            },
            smtp_security = o.smtp_security,
            smtp_ca = line(o.smtp_ca, "smtp ca"),
            templates = o.templates.display(),
            imap_extra = o.imap_extra,
            smtp_extra = o.smtp_extra,
            extra = o.extra,
        );
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write config");
        path
    }

    fn config(&self, o: &Opts) -> PathBuf {
        self.config_with("mesayuda.toml", self.http, o)
    }

    fn cli(&self, config: &Path, args: &[&str]) -> std::process::Output {
        support::Cli::new(config).run(args)
    }
}

/// Waits until GET path answers `status`; returns the body.
async fn wait_status(port: u16, path: &str, status: u16, timeout: Duration) -> String {
    eventually(timeout, &format!("GET {path} → {status}"), || async {
        match get(port, path).await {
            Some((s, body)) if s == status => Some(body),
            _ => None,
        }
    })
    .await
}

/// The value of one exact series (`name{labels}`) in a Prometheus exposition.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// The sum of every series of a metric (all label sets).
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn request_is_acknowledged(s: &Setup, who: &str, subject: &str) {
    let from = format!("Usuario <{who}>");
    mail::send(
        s.server.smtp_port,
        &Draft::new(&from, subject, "Necesito ayuda con el equipo, por favor."),
    )
    .await;
    let ack = mail::wait_for(
        s.server.imap_port,
        who,
        WAIT,
        "acknowledgement",
        mail::is_ack,
    )
    .await;
    assert!(ack.subject.contains(subject), "{}", ack.subject);
}

// ---------------------------------------------------------------------------------------------
// TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_imap_and_starttls_smtp_carry_a_request_end_to_end() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let cfg = s.config(&Opts {
        imap_security: "tls",
        imap_tls_port: true,
        imap_ca: true,
        smtp_security: "starttls",
        smtp_ca: true,
        ..Opts::default()
    });
    let _d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    request_is_acknowledged(&s, "ana@example.test", "Impresora por TLS").await;
    // The servers' own logs show the daemon's sessions were encrypted.
    let dovecot = s.server.dovecot_log();
    assert!(
        dovecot
            .lines()
            .any(|l| l.contains("Login: user=<mesayuda@example.test>") && l.contains(", TLS,")),
        "no TLS login of the daemon on the IMAPS port in:\n{dovecot}"
    );
    let postfix = s.server.postfix_log();
    assert!(
        postfix.contains("TLS connection established from"),
        "no TLS SMTP session in:\n{postfix}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_imap_and_implicit_tls_smtp_carry_a_request_end_to_end() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let cfg = s.config(&Opts {
        imap_security: "starttls",
        imap_ca: true,
        smtp_security: "tls",
        smtp_tls_port: true,
        smtp_ca: true,
        ..Opts::default()
    });
    let _d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    request_is_acknowledged(&s, "luis@example.test", "VPN por STARTTLS").await;
    let dovecot = s.server.dovecot_log();
    assert!(
        dovecot
            .lines()
            .any(|l| l.contains("Login: user=<mesayuda@example.test>") && l.contains(", TLS,")),
        "no STARTTLS login of the daemon on the IMAP port in:\n{dovecot}"
    );
    let postfix = s.server.postfix_log();
    assert!(
        postfix
            .lines()
            .any(|l| l.contains("/smtps/smtpd[") && l.contains("TLS connection established from")),
        "no TLS session on the SMTPS port in:\n{postfix}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_a_clear_error_and_never_plain_text() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    // No ca_file: the test CA is not among the web roots, so neither server is trusted.
    let cfg = s.config(&Opts {
        imap_security: "starttls",
        smtp_security: "starttls",
        ..Opts::default()
    });
    let d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    let (_, raw) = Draft::new("Ana <ana@example.test>", "Sin confianza", "Hola").render();
    mail::append(s.server.imap_port, HELPDESK, "INBOX", &raw).await;
    d.wait_log("IMAP mailbox unavailable", WAIT).await;
    d.wait_log("SMTP check failed", WAIT).await;
    let log = d.log_text();
    let imap_line = log
        .lines()
        .find(|l| l.contains("IMAP mailbox unavailable"))
        .unwrap();
    assert!(
        imap_line.contains("ERROR")
            && imap_line.contains("certificate")
            && imap_line.contains("imap.ca_file"),
        "{imap_line}"
    );
    let smtp_line = log
        .lines()
        .find(|l| l.contains("SMTP check failed"))
        .unwrap();
    assert!(
        smtp_line.contains("certificate") && smtp_line.contains("smtp.ca_file"),
        "{smtp_line}"
    );
    let body = wait_status(s.http, "/healthz", 503, WAIT).await;
    assert!(
        body.contains("mailbox: error") && body.contains("certificate"),
        "{body}"
    );
    assert!(body.contains("smtp: error"), "{body}");
    // Nothing was read or logged in over plain text instead, not even on the next attempt:
    // the only login to the help-desk mailbox is the test's own APPEND.
    d.wait_log("IMAP still unavailable", WAIT).await;
    let logins = s
        .server
        .dovecot_log()
        .matches("Login: user=<mesayuda@example.test>")
        .count();
    assert_eq!(logins, 1, "the daemon logged in although TLS failed");
    assert_eq!(mail::inbox(s.server.imap_port, HELPDESK).await.len(), 1);
    let out = s.cli(&cfg, &["tickets", "list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    // The same for a mail sent by hand: a clear error, exit 1, nothing delivered.
    let out = s.cli(&cfg, &["send-test-mail", "ana@example.test"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certificate") && err.contains("smtp.ca_file"),
        "{err}"
    );
    assert!(mail::inbox(s.server.imap_port, "ana@example.test")
        .await
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// /healthz and /metrics

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_follow_the_mailbox_smtp_and_queue() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let cfg = s.config(&Opts::default());
    let _d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    let body = wait_status(s.http, "/healthz", 200, WAIT).await;
    for line in ["database: ok", "mailbox: ok", "smtp: ok"] {
        assert!(body.contains(line), "{body}");
    }
    request_is_acknowledged(&s, "ana@example.test", "Teclado").await;
    let m = get(s.http, "/metrics").await.unwrap().1;
    assert_eq!(
        metric(&m, "mesayuda_messages_ingested_total{outcome=\"created\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(metric_sum(&m, "mesayuda_tickets"), 1.0, "{m}");
    assert_eq!(metric(&m, "mesayuda_outbox_backlog"), Some(0.0), "{m}");
    assert_eq!(
        metric(&m, "mesayuda_imap_reconnects_total"),
        Some(0.0),
        "{m}"
    );
    let last_poll = metric(&m, "mesayuda_imap_last_poll_timestamp_seconds").unwrap();
    assert!((chrono::Utc::now().timestamp() as f64 - last_poll).abs() < 60.0);
    for name in [
        "mesayuda_approvals_pending",
        "mesayuda_sla_alerts_sent_total",
        "mesayuda_outbox_oldest_age_seconds",
    ] {
        assert!(metric(&m, name).is_some(), "{name} missing in\n{m}");
    }
    assert!(
        m.contains("# TYPE mesayuda_messages_ingested_total counter"),
        "{m}"
    );
    // Every outcome the `message ingested` log line can name is a series from the start, so an
    // alert on quarantined or rate-limited mail has something to watch before the first one.
    for outcome in [
        "threaded",
        "auto",
        "catalog",
        "incident",
        "duplicate",
        "quarantined",
        "rate_limited",
    ] {
        let series = format!("mesayuda_messages_ingested_total{{outcome=\"{outcome}\"}}");
        assert_eq!(metric(&m, &series), Some(0.0), "{series} in\n{m}");
    }
    // The build answering is the one `mesayuda --version` names.
    let version = Command::new(env!("CARGO_BIN_EXE_mesayuda"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    let commit = version
        .split("(commit ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no commit in --version: {version}"));
    let info = format!(
        "mesayuda_build_info{{version=\"{}\",commit=\"{commit}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    let info_alt = format!(
        "mesayuda_build_info{{commit=\"{commit}\",version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        metric(&m, &info) == Some(1.0) || metric(&m, &info_alt) == Some(1.0),
        "{info} in\n{m}"
    );

    // The mailbox goes away: 503 naming it, and a reconnect counted; back: 200.
    s.server.stop_imap();
    let body = wait_status(s.http, "/healthz", 503, WAIT).await;
    assert!(body.contains("mailbox: error"), "{body}");
    assert!(body.contains("database: ok"), "{body}");
    s.server.start_imap();
    wait_status(s.http, "/healthz", 200, Duration::from_secs(120)).await;
    let m = get(s.http, "/metrics").await.unwrap().1;
    assert!(
        metric(&m, "mesayuda_imap_reconnects_total").unwrap() >= 1.0,
        "{m}"
    );

    // SMTP goes away while a request comes in: 503 naming SMTP, the ack waits in the queue.
    s.server.stop_smtp();
    let (_, raw) = Draft::new("Luis <luis@example.test>", "Monitor", "No enciende").render();
    mail::append(s.server.imap_port, HELPDESK, "INBOX", &raw).await;
    let body = wait_status(s.http, "/healthz", 503, WAIT).await;
    assert!(
        body.contains("smtp: error") && body.contains("mailbox: ok"),
        "{body}"
    );
    // The SMTP check may report the outage before the reader has queued Luis's ack.
    eventually(WAIT, "the ack waiting in the queue", || async {
        let m = get(s.http, "/metrics").await?.1;
        (metric(&m, "mesayuda_outbox_backlog")? >= 1.0).then_some(())
    })
    .await;
    s.server.start_smtp();
    mail::wait_for(
        s.server.imap_port,
        "luis@example.test",
        Duration::from_secs(90),
        "ack",
        mail::is_ack,
    )
    .await;
    wait_status(s.http, "/healthz", 200, WAIT).await;
    let m = get(s.http, "/metrics").await.unwrap().1;
    assert_eq!(metric(&m, "mesayuda_outbox_backlog"), Some(0.0), "{m}");
    assert_eq!(metric_sum(&m, "mesayuda_tickets"), 2.0, "{m}");
}

// ---------------------------------------------------------------------------------------------
// systemd: notify, watchdog, reload, stop

/// Collects what the daemon sends to $NOTIFY_SOCKET.
fn notify_socket(dir: &Path) -> (PathBuf, Arc<Mutex<Vec<String>>>) {
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => sink
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
            if Arc::strong_count(&sink) == 1 {
                return;
            }
        }
    });
    (path, got)
}

fn count(got: &Arc<Mutex<Vec<String>>>, line: &str) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|m| m.lines().any(|l| l == line))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_only_once_the_mailbox_is_reached_then_watchdog_reload_and_stop() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let (sock, got) = notify_socket(s.dir.path());
    let cfg = s.config(&Opts::default());
    s.server.stop_imap();
    let mut d = Daemon::spawn_with_env(
        &cfg,
        s.dir.path(),
        &[
            ("NOTIFY_SOCKET", sock.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    eventually(WAIT, "STATUS= while waiting", || async {
        got.lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("STATUS=waiting for the mailbox"))
            .then_some(())
    })
    .await;
    // The reader tried again and the watchdog was petted twice, still without READY=1.
    eventually(
        WAIT,
        "a second mailbox attempt and two watchdog pets",
        || async {
            (d.log_text().contains("IMAP still unavailable") && count(&got, "WATCHDOG=1") >= 2)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        count(&got, "READY=1"),
        0,
        "READY=1 before the mailbox was reached"
    );
    // The watchdog is petted meanwhile: the process is alive, only the mailbox is missing.
    assert!(count(&got, "WATCHDOG=1") >= 2, "{:?}", got.lock().unwrap());
    s.server.start_imap();
    eventually(Duration::from_secs(120), "READY=1", || async {
        (count(&got, "READY=1") == 1).then_some(())
    })
    .await;
    d.wait_log("ready: database and mailbox", WAIT).await;

    // systemctl reload = SIGHUP: RELOADING=1, the templates read again, READY=1 again.
    d.signal("HUP");
    eventually(WAIT, "RELOADING=1 then READY=1", || async {
        (count(&got, "RELOADING=1") == 1 && count(&got, "READY=1") == 2).then_some(())
    })
    .await;
    d.wait_log("templates reloaded", WAIT).await;

    // systemctl stop = SIGTERM: STOPPING=1 and a clean exit.
    d.signal("TERM");
    let status = d
        .wait_exit(Duration::from_secs(15))
        .expect("daemon exits on SIGTERM");
    assert!(status.success(), "{status}");
    // The socket's reader thread may not have taken the last datagram yet.
    eventually(Duration::from_secs(5), "STOPPING=1", || async {
        (count(&got, "STOPPING=1") >= 1).then_some(())
    })
    .await;
    assert_eq!(count(&got, "STOPPING=1"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_templates_without_restart_and_keeps_them_when_broken() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let templates = s.dir.path().join("templates");
    support::copy_templates(&templates);
    let cfg = s.config(&Opts {
        templates: templates.clone(),
        ..Opts::default()
    });
    let d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    request_is_acknowledged(&s, "ana@example.test", "Antes").await;
    let subject = templates.join("acuse_recibo.asunto.hbs");
    std::fs::write(&subject, "[{{ticket}}] RECARGADA: {{subject}}").unwrap();
    d.signal("HUP");
    d.wait_log("templates reloaded", WAIT).await;
    request_is_acknowledged(&s, "luis@example.test", "Despues").await;
    let ack = &mail::inbox(s.server.imap_port, "luis@example.test").await[0];
    assert!(ack.subject.contains("RECARGADA"), "{}", ack.subject);

    // A broken template is refused; the daemon keeps the last good ones.
    std::fs::write(&subject, "{{#if}} sin cerrar").unwrap();
    d.signal("HUP");
    d.wait_log("templates not reloaded", WAIT).await;
    request_is_acknowledged(&s, "rosa@example.test", "Roto").await;
    let ack = &mail::inbox(s.server.imap_port, "rosa@example.test").await[0];
    assert!(ack.subject.contains("RECARGADA"), "{}", ack.subject);
    assert_eq!(
        d.log_text().matches("mesayuda running").count(),
        1,
        "restarted"
    );
}

// ---------------------------------------------------------------------------------------------
// A refused login

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_login_is_logged_fails_healthz_and_mails_ops_once_a_day() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let cfg = s.config(&Opts {
        imap_password: "wrong-password",
        extra: format!("[ops]\nemail = \"Operaciones <{OPS}>\"\n"),
        ..Opts::default()
    });
    let mut d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    let alert = mail::wait_for(s.server.imap_port, OPS, WAIT, "ops alert", |m| {
        m.subject.contains("ALERTA")
    })
    .await;
    assert!(alert.subject.contains("buzón IMAP"), "{}", alert.subject);
    assert!(alert.body_text.contains(HELPDESK), "{}", alert.body_text);
    let html = alert.body_html.as_deref().unwrap_or_default();
    assert!(html.contains(HELPDESK), "{html}");
    let body = wait_status(s.http, "/healthz", 503, WAIT).await;
    assert!(body.contains("mailbox: error: login refused"), "{body}");
    // It keeps saying so: an error line for each attempt, not only the first.
    eventually(WAIT, "two login errors logged", || async {
        (d.log_text()
            .lines()
            .filter(|l| l.contains("ERROR") && l.contains("IMAP login refused"))
            .count()
            >= 2)
            .then_some(())
    })
    .await;
    assert!(
        !d.log_text().contains("wrong-password"),
        "secret in the log"
    );
    // A restart does not mail again within the day.
    d.kill();
    let d2 = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    d2.wait_log("ops alert already sent within 24 h", WAIT)
        .await;
    // Decided and logged: the queue proves no second alert will leave.
    let out = s.cli(&cfg, &["outbox", "list", "--json"]);
    let queued: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let alerts = queued
        .iter()
        .filter(|m| m["recipients"].as_str().unwrap_or("").contains(OPS))
        .count();
    assert_eq!(alerts, 1, "{queued:?}");
    assert_eq!(mail::inbox(s.server.imap_port, OPS).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// One instance on SQLite, several on PostgreSQL

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_sqlite_database_exits_with_a_clear_message() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let cfg = s.config(&Opts::default());
    let first = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    first.wait_log("watching mailbox", WAIT).await;
    let second_cfg = s.config_with("second.toml", support::ports::reserve(), &Opts::default());
    let mut second = Daemon::spawn_with_env(&second_cfg, s.dir.path(), &[]);
    let status = second
        .wait_exit(Duration::from_secs(20))
        .expect("the second instance exits");
    assert_eq!(status.code(), Some(1), "{}", second.log_text());
    let log = second.log_text();
    assert!(
        log.contains("another mesayuda instance is already running on this SQLite database")
            && log.contains(&format!("pid {}", first.pid())),
        "{log}"
    );
    // The first one is untouched.
    wait_status(s.http, "/healthz", 200, WAIT).await;
    request_is_acknowledged(&s, "ana@example.test", "Sigue vivo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgresql_ticket_and_ack_every_request_once_across_a_kill() {
    let Some(s) = Setup::new(DbKind::Postgres).await else {
        return;
    };
    let (http_a, http_b) = (support::ports::reserve(), support::ports::reserve());
    let cfg_a = s.config_with("a.toml", http_a, &Opts::default());
    let cfg_b = s.config_with("b.toml", http_b, &Opts::default());
    let mut a = Some(Daemon::spawn_with_env(&cfg_a, s.dir.path(), &[]));
    let mut b = Some(Daemon::spawn_with_env(&cfg_b, s.dir.path(), &[]));
    // Exactly one reads the mailbox; the other stands by, and both are healthy.
    eventually(WAIT, "one reader and one standby", || async {
        let logs = [
            a.as_ref().unwrap().log_text(),
            b.as_ref().unwrap().log_text(),
        ];
        let readers = logs
            .iter()
            .filter(|l| l.contains("mailbox lease acquired"))
            .count();
        let standby = logs.iter().filter(|l| l.contains("standing by")).count();
        (readers == 1 && standby == 1).then_some(())
    })
    .await;
    wait_status(http_a, "/healthz", 200, WAIT).await;
    wait_status(http_b, "/healthz", 200, WAIT).await;
    let a_reads = a
        .as_ref()
        .unwrap()
        .log_text()
        .contains("mailbox lease acquired");
    let (holder, standby, standby_http) = if a_reads {
        (&mut a, &mut b, http_b)
    } else {
        (&mut b, &mut a, http_a)
    };
    let m = get(standby_http, "/metrics").await.unwrap().1;
    assert_eq!(metric(&m, "mesayuda_mailbox_reader"), Some(0.0), "{m}");

    let users: Vec<String> = (1..=16).map(|i| format!("u{i:02}@example.test")).collect();
    let mut killed_at = None;
    for (i, u) in users.iter().enumerate() {
        let from = format!("Usuario {i} <{u}>");
        let subject = format!("Solicitud {i}");
        mail::send(
            s.server.smtp_port,
            &Draft::new(&from, &subject, "Favor atender."),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        if i == 5 {
            // Mid-stream: the reader dies without any chance to clean up.
            holder.as_mut().unwrap().kill();
            killed_at = Some(Instant::now());
        }
    }
    let standby = standby.as_ref().unwrap();
    standby.wait_log("mailbox lease acquired", WAIT).await;
    let took_over = killed_at.unwrap().elapsed();
    assert!(
        took_over < Duration::from_secs(30),
        "takeover took {took_over:?}"
    );

    // Every request: one ticket, one acknowledgement.
    let cli = support::Cli::new(&cfg_b);
    eventually(Duration::from_secs(60), "16 tickets", || async {
        (cli.tickets().len() >= users.len()).then_some(())
    })
    .await;
    // An ack the dead instance had claimed but not sent waits out its claim (5 min at most).
    for u in &users {
        mail::wait_for(
            s.server.imap_port,
            u,
            Duration::from_secs(400),
            "ack",
            mail::is_ack,
        )
        .await;
    }
    // Everything read and nothing left to send: a second ticket or acknowledgement would be
    // committed or queued by now.
    eventually(WAIT, "the help desk idle", || async {
        let pending = match cli.json(&["outbox", "list", "--status", "pending", "--json"]) {
            serde_json::Value::Array(a) => a.len(),
            other => panic!("outbox list --json: {other}"),
        };
        (pending == 0 && mail::inbox(s.server.imap_port, HELPDESK).await.is_empty()).then_some(())
    })
    .await;
    let tickets = cli.tickets();
    assert_eq!(tickets.len(), users.len(), "{tickets:?}");
    let mut redelivered = Vec::new();
    for u in &users {
        let mine = tickets
            .iter()
            .filter(|t| t["requester"] == u.as_str())
            .count();
        assert_eq!(mine, 1, "{u} has {mine} tickets");
        let acks = mail::inbox(s.server.imap_port, u).await;
        let mut ids: Vec<&str> = acks.iter().map(|m| m.message_id.as_str()).collect();
        ids.dedup();
        assert_eq!(
            ids.len(),
            1,
            "{u} got {} different acknowledgements",
            ids.len()
        );
        if acks.len() > 1 {
            redelivered.push((u.clone(), acks.len()));
        }
    }
    // Delivery is at-least-once: only a mail the SMTP server had accepted in the instant
    // between its reply and the killed instance's commit can arrive a second time (the same
    // message, same Message-ID). The sender has up to 4 mails of different tickets in flight
    // at once (`SEND_CONCURRENCY` in src/smtp/sender.rs), so at most those 4, each twice.
    assert!(
        redelivered.len() <= 4 && redelivered.iter().all(|(_, n)| *n == 2),
        "acknowledgements sent more than once: {redelivered:?}"
    );
    if !redelivered.is_empty() {
        eprintln!("the acks in flight at the kill were redelivered: {redelivered:?}");
    }
    let m = get(standby_http, "/metrics").await.unwrap().1;
    assert_eq!(metric(&m, "mesayuda_mailbox_reader"), Some(1.0), "{m}");
}

// ---------------------------------------------------------------------------------------------
// Ops commands

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_reports_each_dependency_with_documented_exit_codes() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let cfg = s.config(&Opts {
        imap_security: "tls",
        imap_tls_port: true,
        imap_ca: true,
        smtp_security: "starttls",
        smtp_ca: true,
        ..Opts::default()
    });
    let out = s.cli(&cfg, &["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "plantillas: ok",
        "base de datos: ok",
        "imap: ok",
        "smtp: ok",
    ] {
        assert!(text.contains(line), "{line} missing in:\n{text}");
    }
    // The verdict comes last, after every check.
    assert!(text.starts_with("Configuración: "), "{text}");
    assert_eq!(
        text.lines().last(),
        Some("Resultado: todo en orden"),
        "{text}"
    );

    // A server down is a runtime failure: 1, naming it.
    s.server.stop_smtp();
    let out = s.cli(&cfg, &["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("smtp: error: no se pudo conectar con el servidor SMTP")
            && text.contains("conexión rechazada")
            && text.contains("imap: ok"),
        "{text}"
    );
    assert_eq!(
        text.lines().last(),
        Some("Resultado: 1 con errores: smtp (código de salida 1)"),
        "{text}"
    );
    s.server.start_smtp();

    // A refused login: 1, saying so.
    let bad = s.config_with(
        "bad.toml",
        support::ports::reserve(),
        &Opts {
            imap_password: "nope",
            ..Opts::default()
        },
    );
    let out = s.cli(&bad, &["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "imap: error: el servidor IMAP rechazó el inicio de sesión de mesayuda@example.test \
             (respuesta del servidor: "
        ),
        "{text}"
    );
    // The server's own words, not the mail library's debug output.
    assert!(
        !text.contains("Some(") && !text.contains("code: None"),
        "{text}"
    );
    assert!(
        text.contains("revise imap.username y imap.password (o MESAYUDA_IMAP_PASSWORD)"),
        "{text}"
    );
    // The same with the password in a file: the key to fix is the file's.
    let pw = s.dir.path().join("imap-password");
    std::fs::write(&pw, "nope\n").unwrap();
    let bad = s.config_with(
        "bad-file.toml",
        support::ports::reserve(),
        &Opts {
            imap_extra: format!("password_file = \"{}\"", pw.display()),
            ..Opts::default()
        },
    );
    let out = s.cli(&bad, &["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("revise imap.username y imap.password_file (o MESAYUDA_IMAP_PASSWORD)"),
        "{text}"
    );
    // An empty password file (what `install -m 0640 /dev/null …` leaves) is a configuration
    // error even offline, naming the key.
    std::fs::write(&pw, "").unwrap();
    let out = s.cli(&bad, &["check-config", "--offline"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("imap.password_file") && err.contains("is empty"),
        "{err}"
    );

    // A database that does not answer: named by its key, within seconds, not pool timeouts.
    // A listener that never accepts completes the TCP handshake and then says nothing.
    let silent_port = support::ports::reserve();
    let _silent = std::net::TcpListener::bind(("127.0.0.1", silent_port)).unwrap();
    let good = std::fs::read_to_string(&cfg).unwrap();
    let with_db = |name: &str, url: &str| {
        let p = s.dir.path().join(name);
        let text = good
            .lines()
            .map(|l| {
                if l.starts_with("url = ") {
                    format!("url = \"{url}\"")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&p, text).unwrap();
        p
    };
    let silent = with_db(
        "silent-db.toml",
        &format!("postgres://mesayuda@127.0.0.1:{silent_port}/mesayuda"),
    );
    let started = Instant::now();
    let out = s.cli(&silent, &["check-config"]);
    let silent_took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(silent_took < Duration::from_secs(20), "{text}");
    assert!(
        text.contains("base de datos: error: database.url = postgres://mesayuda@127.0.0.1")
            && text.contains("sin respuesta en 5 s"),
        "{text}"
    );
    // Refused: at once, with the cause.
    let closed_port = support::ports::reserve();
    let refused = with_db(
        "refused-db.toml",
        &format!("postgres://mesayuda@127.0.0.1:{closed_port}/mesayuda"),
    );
    let started = Instant::now();
    let out = s.cli(&refused, &["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // The same other checks as the silent run, without its 5 s wait (measured against that
    // run rather than a fixed bound, which a loaded machine's debug build can miss).
    let refused_took = started.elapsed();
    assert!(
        refused_took + Duration::from_secs(3) < silent_took,
        "refused {refused_took:?}, silent {silent_took:?}\n{text}"
    );
    assert!(
        text.contains("base de datos: error: database.url = postgres://mesayuda@127.0.0.1")
            && text.contains("no se pudo conectar: conexión rechazada"),
        "{text}"
    );
    // A database that does not exist: the server's words, not its source file and line.
    if support::TestDb::create(DbKind::Postgres, s.dir.path())
        .await
        .is_some()
    {
        let absent = with_db(
            "absent-db.toml",
            "postgres://postgres@127.0.0.1:5432/mesayuda_no_existe",
        );
        let out = s.cli(&absent, &["check-config"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("base de datos: "))
            .unwrap_or_default();
        assert!(
            line.contains("database.url = ") && line.contains("mesayuda_no_existe"),
            "{text}"
        );
        assert!(!line.contains("line"), "{line}");
    }
    let missing_dir = with_db("nodir-db.toml", "sqlite:///nonexistent/mesayuda/m.db");
    let out = s.cli(&missing_dir, &["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("el directorio /nonexistent/mesayuda no existe"),
        "{text}"
    );

    // A template directory that does not exist names its key.
    let nowhere = s.config_with(
        "no-templates.toml",
        support::ports::reserve(),
        &Opts {
            templates: s.dir.path().join("no-such-dir"),
            ..Opts::default()
        },
    );
    let out = s.cli(&nowhere, &["check-config", "--offline"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("plantillas: error: paths.templates = ") && text.contains("no existe"),
        "{text}"
    );
    assert_eq!(
        text.lines().last(),
        Some("Resultado: 1 con errores: plantillas (código de salida 2)"),
        "{text}"
    );

    // A template that does not render is a configuration error: 2, naming the file.
    let templates = s.dir.path().join("tpl");
    support::copy_templates(&templates);
    std::fs::write(templates.join("acuse_recibo.cuerpo.hbs"), "{{#each}}").unwrap();
    let broken = s.config_with(
        "broken.toml",
        support::ports::reserve(),
        &Opts {
            templates,
            ..Opts::default()
        },
    );
    let out = s.cli(&broken, &["check-config", "--offline"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("plantillas: error") && text.contains("acuse_recibo.cuerpo.hbs"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_mail_delivers_and_outbox_retry_requeues_failed_mail() {
    let Some(s) = Setup::new(DbKind::Sqlite).await else {
        return;
    };
    let cfg = s.config(&Opts::default());
    let out = s.cli(&cfg, &["send-test-mail", "ana@example.test"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = mail::wait_for(
        s.server.imap_port,
        "ana@example.test",
        WAIT,
        "test mail",
        |m| m.subject == "Correo de prueba de mesayuda",
    )
    .await;
    assert_eq!(m.from.as_ref().unwrap().email, NOTIFIER);
    // Both parts, like every mail the daemon sends.
    let html = m.body_html.as_deref().unwrap_or_default();
    assert!(html.contains("Servidor SMTP"), "{html}");
    let out = s.cli(&cfg, &["send-test-mail", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2));

    // A requester outside the server's domains: the ack is refused for good (relay denied).
    let mut d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    let (_, raw) = Draft::new("Zoe <zoe@elsewhere.test>", "Externa", "Hola").render();
    mail::append(s.server.imap_port, HELPDESK, "INBOX", &raw).await;
    let failed = eventually(WAIT, "a failed outbox mail", || async {
        let out = s.cli(&cfg, &["outbox", "list", "--status", "failed", "--json"]);
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        rows.as_array()?.first().cloned()
    })
    .await;
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("Relay access denied"),
        "{failed}"
    );
    let id = failed["id"].as_i64().unwrap().to_string();
    let out = s.cli(&cfg, &["outbox", "list"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("failed") && table.contains("zoe@elsewhere.test"),
        "{table}"
    );
    d.kill();
    let out = s.cli(&cfg, &["outbox", "retry", &id]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.cli(&cfg, &["outbox", "list", "--status", "pending", "--json"]);
    let pending: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        pending[0]["id"].as_i64().unwrap().to_string(),
        id,
        "{pending}"
    );
    // Only failed mail is retried; an unknown id is "not found".
    let out = s.cli(&cfg, &["outbox", "retry", &id]);
    assert_eq!(out.status.code(), Some(2));
    let out = s.cli(&cfg, &["outbox", "retry", "999999"]);
    assert_eq!(out.status.code(), Some(3));
    let out = s.cli(&cfg, &["outbox", "list", "--status", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// Install files

fn tool(name: &str) -> Option<PathBuf> {
    let found = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is required in CI (deploy/dev/test.sh installs it)"
        );
        eprintln!("SKIPPED: {name} not installed");
    }
    found
}

#[test]
fn systemd_unit_is_hardened_and_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(support::repo_root().join("deploy/mesayuda.service"))
        .expect("deploy/mesayuda.service");
    for line in [
        "Type=notify",
        "WatchdogSec=60s",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "User=mesayuda",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/mesayuda",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "UMask=0077",
        "LoadCredential=imap-password:/etc/mesayuda/imap-password",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing");
    }
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mesayuda.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/mesayuda", env!("CARGO_BIN_EXE_mesayuda")),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{err}"
    );
    assert!(!err.contains("mesayuda.service"), "warnings:\n{err}");
}

#[test]
fn sysusers_file_creates_the_mesayuda_user() {
    let Some(sysusers) = tool("systemd-sysusers") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let conf = root.path().join("usr/lib/sysusers.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::copy(
        support::repo_root().join("deploy/mesayuda.sysusers"),
        conf.join("mesayuda.conf"),
    )
    .unwrap();
    let out = Command::new(sysusers)
        .arg(format!("--root={}", root.path().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|l| l.starts_with("mesayuda:"))
        .expect("user");
    assert!(
        user.ends_with(":/var/lib/mesayuda:/usr/sbin/nologin"),
        "{user}"
    );
}

#[test]
fn example_config_documents_every_key_and_passes_check_config() {
    let root = support::repo_root();
    let text = std::fs::read_to_string(root.join("deploy/mesayuda.example.toml")).unwrap();
    // Every key, set or commented out, has a comment line just above it (or a block of keys
    // sharing one, like workday_start/workday_end).
    let key_of = |line: &str| {
        let l = line.strip_prefix("# ").unwrap_or(line);
        let (k, _) = l.split_once(" = ")?;
        (!k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .then_some(k.to_owned())
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut keys = 0;
    for (i, l) in lines.iter().enumerate() {
        if key_of(l).is_none() {
            continue;
        }
        keys += 1;
        let above = lines[..i].iter().rev().find(|p| key_of(p).is_none());
        assert!(
            above.is_some_and(|a| a.starts_with('#')),
            "key without a comment: {l}"
        );
    }
    assert!(keys > 50, "only {keys} keys");
    // With its files in place, it is a valid configuration with valid templates.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for f in ["imap-password", "smtp-password"] {
        std::fs::write(dir.path().join(f), "secret\n").unwrap();
    }
    for f in ["catalog.toml", "directory.toml"] {
        std::fs::copy(root.join("deploy").join(f), dir.path().join(f)).unwrap();
    }
    let cfg = dir.path().join("mesayuda.toml");
    std::fs::write(
        &cfg,
        text.replace("/etc/mesayuda", &d)
            .replace(
                "/usr/share/mesayuda/templates",
                &root.join("templates").display().to_string(),
            )
            .replace("/var/lib/mesayuda", &d),
    )
    .unwrap();
    let out = support::Cli::new(&cfg).run(&["check-config", "--offline"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The keys a section of the configuration accepts, as the program itself reports them: every
/// section denies unknown keys, and serde's refusal lists the ones it expected. Empty for a
/// table whose keys are data, not names (`[directory.ldap.roles_by_title]`: role = regexes).
fn accepted_keys(section: Option<&str>) -> Vec<String> {
    let text = match section {
        None => "zz_unknown = 1\n".to_owned(),
        Some(s) => format!("[{s}]\nzz_unknown = 1\n"),
    };
    let err = toml::from_str::<mesayuda::config::Config>(&text)
        .expect_err("an unknown key must be refused")
        .to_string();
    if err.contains("unknown variant `zz_unknown`") {
        return Vec::new();
    }
    // "unknown field `zz_unknown`, expected `a`", "… expected `a` or `b`",
    // "… expected one of `a`, `b`, `c`".
    let list = err
        .lines()
        .find(|l| l.contains("unknown field"))
        .and_then(|l| l.split(", expected ").nth(1))
        .unwrap_or_else(|| panic!("no expected keys in: {err}"));
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ")
        .flat_map(|k| k.split(" or "))
        .map(|k| k.trim().trim_matches('`').to_owned())
        .filter(|k| !k.is_empty())
        .collect()
}

#[test]
fn example_config_names_every_key_the_program_reads() {
    let text =
        std::fs::read_to_string(support::repo_root().join("deploy/mesayuda.example.toml")).unwrap();
    // section -> keys, set or commented out ("# [oauth2]", "# token_url = …").
    let mut example: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.strip_prefix("# ").unwrap_or(line);
        if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            section = name.to_owned();
            example.entry(section.clone()).or_default();
        } else if let Some((k, _)) = l.split_once(" = ") {
            if k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                example
                    .entry(section.clone())
                    .or_default()
                    .push(k.to_owned());
            }
        }
    }
    // A key that is a table of its own ([directory.ldap] under [directory]) is a section of
    // the example, checked the same way.
    fn check(
        example: &std::collections::BTreeMap<String, Vec<String>>,
        section: &str,
        missing: &mut Vec<String>,
    ) {
        let keys = example.get(section).cloned().unwrap_or_default();
        for k in accepted_keys(Some(section)) {
            let sub = format!("{section}.{k}");
            if example
                .keys()
                .any(|s| *s == sub || s.starts_with(&format!("{sub}.")))
            {
                check(example, &sub, missing);
            } else if !keys.contains(&k) {
                missing.push(sub);
            }
        }
    }
    let mut missing = Vec::new();
    for s in accepted_keys(None) {
        if !example
            .keys()
            .any(|e| *e == s || e.starts_with(&format!("{s}.")))
        {
            missing.push(format!("[{s}]"));
            continue;
        }
        check(&example, &s, &mut missing);
    }
    assert!(
        missing.is_empty(),
        "deploy/mesayuda.example.toml lacks: {missing:?}"
    );
}

/// The README's configuration block is meant to be copied: with its files in place it must
/// parse and pass `check-config --offline`.
#[test]
fn readme_configuration_block_passes_check_config() {
    let root = support::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("\n## Configuration\n")
        .nth(1)
        .and_then(|r| r.split("```toml\n").nth(1))
        .and_then(|r| r.split("\n```").next())
        .expect("a ```toml block under ## Configuration");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for f in ["imap-password", "smtp-password"] {
        std::fs::write(dir.path().join(f), "secret\n").unwrap();
    }
    for f in ["catalog.toml", "directory.toml"] {
        std::fs::copy(root.join("deploy").join(f), dir.path().join(f)).unwrap();
    }
    let cfg = dir.path().join("mesayuda.toml");
    std::fs::write(
        &cfg,
        block
            .replace("/etc/mesayuda", &d)
            .replace(
                "/usr/share/mesayuda/templates",
                &root.join("templates").display().to_string(),
            )
            .replace("/var/lib/mesayuda", &d),
    )
    .unwrap();
    let out = support::Cli::new(&cfg).run(&["check-config", "--offline"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// OAuth2 (XOAUTH2)

/// A local OAuth2 token endpoint (client-credentials grant) that issues `token` to the right
/// client and refuses any other; counts the tokens it issued.
async fn token_endpoint(token: &'static str) -> (u16, Arc<Mutex<u32>>) {
    use axum::routing::post;
    let issued = Arc::new(Mutex::new(0u32));
    let counter = issued.clone();
    let app = axum::Router::new().route(
        "/tenant/oauth2/v2.0/token",
        post(move |body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                let form: std::collections::HashMap<String, String> =
                    url::form_urlencoded::parse(&body).into_owned().collect();
                let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
                    && form.get("client_id").map(String::as_str) == Some("mesayuda-app")
                    && form.get("client_secret").map(String::as_str) == Some("app-secret")
                    && form.get("scope").is_some_and(|s| s.ends_with("/.default"));
                if ok {
                    *counter.lock().unwrap() += 1;
                    (
                        axum::http::StatusCode::OK,
                        format!(
                            r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{token}"}}"#
                        ),
                    )
                } else {
                    (
                        axum::http::StatusCode::UNAUTHORIZED,
                        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#
                            .to_owned(),
                    )
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, issued)
}

fn oauth2_opts(s: &Setup, token_port: u16, secret: &str) -> Opts {
    let secret_file = s.dir.path().join(format!("secret-{secret}"));
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    Opts {
        imap_security: "starttls",
        imap_ca: true,
        imap_extra: "auth = \"xoauth2\"".into(),
        smtp_security: "starttls",
        smtp_ca: true,
        smtp_extra: format!("auth = \"xoauth2\"\nusername = \"{NOTIFIER}\""),
        extra: format!(
            "[oauth2]\nclient_id = \"mesayuda-app\"\nclient_secret_file = \"{}\"\n\
             token_url = \"http://127.0.0.1:{token_port}/tenant/oauth2/v2.0/token\"\n\
             [ops]\nemail = \"{OPS}\"\n",
            secret_file.display()
        ),
        ..Opts::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xoauth2_with_client_credentials_logs_in_to_imap_and_smtp() {
    const TOKEN: &str = "eyJ0eXAi.test-access-token.sig";
    let Some(s) = Setup::with_server(DbKind::Sqlite, &["--oauth2-token", TOKEN]).await else {
        return;
    };
    let (port, issued) = token_endpoint(TOKEN).await;
    let cfg = s.config(&oauth2_opts(&s, port, "app-secret"));
    let d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    request_is_acknowledged(&s, "ana@example.test", "Correo con OAuth2").await;
    assert!(
        s.server
            .dovecot_log()
            .lines()
            .any(|l| l.contains("Login: user=<mesayuda@example.test>, method=XOAUTH2")),
        "no XOAUTH2 login in the Dovecot log"
    );
    assert!(
        s.server
            .postfix_log()
            .contains(&format!("sasl_method=XOAUTH2, sasl_username={NOTIFIER}")),
        "no XOAUTH2 AUTH in the Postfix log"
    );
    // One token serves IMAP and SMTP until it nears expiry.
    assert_eq!(*issued.lock().unwrap(), 1);
    assert!(
        !d.log_text().contains(TOKEN) && !d.log_text().contains("app-secret"),
        "secret in the log"
    );
    wait_status(s.http, "/healthz", 200, WAIT).await;
    let out = s.cli(&cfg, &["check-config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("imap: ok") && text.contains("XOAUTH2"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_oauth2_client_is_loud_and_mails_ops() {
    const TOKEN: &str = "good-token";
    let Some(s) = Setup::with_server(DbKind::Sqlite, &["--oauth2-token", TOKEN]).await else {
        return;
    };
    let (port, issued) = token_endpoint(TOKEN).await;
    let cfg = s.config(&oauth2_opts(&s, port, "expired-secret"));
    let d = Daemon::spawn_with_env(&cfg, s.dir.path(), &[]);
    d.wait_log("IMAP login refused", WAIT).await;
    let line = d
        .log_text()
        .lines()
        .find(|l| l.contains("IMAP login refused"))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("ERROR") && line.contains("invalid_client") && line.contains("AADSTS7000215"),
        "{line}"
    );
    let body = wait_status(s.http, "/healthz", 503, WAIT).await;
    assert!(body.contains("mailbox: error: login refused"), "{body}");
    assert!(body.contains("smtp: error: login refused"), "{body}");
    assert_eq!(*issued.lock().unwrap(), 0);
    // SMTP refuses too, so the alert waits in the queue: it is there, addressed to ops.
    let alert = eventually(WAIT, "ops alert queued", || async {
        let out = s.cli(&cfg, &["outbox", "list", "--json"]);
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        rows.as_array()?
            .iter()
            .find(|r| r["kind"] == "alerta_operaciones")
            .cloned()
    })
    .await;
    assert_eq!(alert["recipients"], OPS);
    assert_eq!(alert["status"], "pending");
}
