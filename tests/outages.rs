//! Issue "Nothing lost, nothing twice, no loops", part 2: outages.
//!
//! The mailbox server, the SMTP server and the database go away while the daemon runs and
//! requests keep arriving. The daemon stays up, says so in ONE log line per outage (not one
//! per retry: counted), backs off, recovers by itself, loses nothing, and still stops within
//! 10 s on SIGTERM while a dependency is down.
//!
//! The PostgreSQL restart stops the machine's real cluster, which every PostgreSQL test uses:
//! it runs under `CI=true` (test binaries run one after another there, and within this one the
//! other PostgreSQL tests wait for it) or with `MESAYUDA_TEST_PG_RESTART=1` (`tests/torture.sh`
//! sets it); elsewhere it is skipped with a printed reason, so that a developer's run does not
//! break colleagues' tests on a shared machine.

mod support;

use support::flow::tag;

use std::process::Command;
use std::time::{Duration, Instant};
use support::mail::{self, Draft};
use support::{eventually, Daemon, DbKind, World, HELPDESK};
use tokio::sync::RwLock;

const WAIT: Duration = Duration::from_secs(30);
/// Long enough for several reconnection attempts (backoff 2, 4, 8, 16 s…).
const OUTAGE: Duration = Duration::from_secs(25);
/// After the outage ends, the next attempt comes within the backoff ceiling of the reader.
const RECOVERY: Duration = Duration::from_secs(120);

/// The PostgreSQL restart takes this for writing; the other PostgreSQL tests here for reading,
/// before they create their database and until they have dropped it.
static CLUSTER: RwLock<()> = RwLock::const_new(());

/// The daemon's warning and error lines: what an operator is paged or scrolls through.
fn problems(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| matches!(l.split_whitespace().nth(1), Some("WARN") | Some("ERROR")))
        // sqlx's own note on a statement over a second: a loaded test machine, not an outage.
        .filter(|l| !l.contains("slow statement"))
        .map(str::to_owned)
        .collect()
}

/// Prints what an operator saw of an outage (for the record of a run).
fn show(what: &str, log: &str) {
    for l in log.lines().filter(|l| {
        matches!(l.split_whitespace().nth(1), Some("WARN") | Some("ERROR"))
            || l.contains("reachable again")
    }) {
        eprintln!("OUTAGE {what}: {l}");
    }
}

fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// The daemon's own problems appear one by one; waits for the `n`th.
async fn wait_problems(d: &Daemon, n: usize, what: &str) -> Vec<String> {
    eventually(WAIT, what, || async {
        let p = problems(&d.log_text());
        (p.len() >= n).then_some(p)
    })
    .await
}

/// No /healthz listener: concurrent tests would fight over its port (and log about it).
async fn world(kind: DbKind) -> Option<World> {
    World::with_extra_config(kind, "[http]\nlisten = \"\"\n").await
}

async fn acknowledged(w: &World, who: &str, within: Duration) -> String {
    let ack = mail::wait_for(w.mail.imap_port, who, within, "acknowledgement", |m| {
        tag(m).is_some()
    })
    .await;
    tag(&ack).unwrap()
}

/// Waits until the help desk's inbox is empty: every request in it taken in and moved out.
async fn inbox_emptied(w: &World, wait: Duration, what: &str) {
    eventually(wait, what, || async {
        mail::inbox(w.mail.imap_port, HELPDESK)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}

/// Every request has one ticket and one acknowledgement, and the inbox is empty.
async fn nothing_lost(w: &World, users: &[String]) {
    inbox_emptied(w, RECOVERY, "every request taken in").await;
    for u in users {
        acknowledged(w, u, RECOVERY).await;
    }
    let tickets = w.cli().tickets();
    assert_eq!(tickets.len(), users.len(), "{tickets:?}");
    for u in users {
        assert_eq!(
            mail::inbox(w.mail.imap_port, u).await.len(),
            1,
            "{u}: one acknowledgement"
        );
    }
}

async fn request(w: &World, who: &str, subject: &str) {
    mail::send(
        w.mail.smtp_port,
        &Draft::new(
            &format!("Usuario <{who}>"),
            subject,
            "Necesito ayuda, gracias.",
        ),
    )
    .await;
}

/// SIGTERM now; asserts the daemon is gone within 10 s, cleanly.
fn stops_within_ten_seconds(d: &mut Daemon, during: &str) {
    let log = d.log.clone();
    let (took, status) = d.terminate();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    eprintln!("SIGTERM during {during}: stopped in {took:.1?}");
    assert!(
        took < Duration::from_secs(10),
        "SIGTERM during {during} took {took:?}:\n{text}"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "exit after SIGTERM during {during}: {status:?}:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// IMAP

async fn mailbox_server_stopped_then_restarted(w: World) {
    let mut d = w.spawn_daemon();
    let users: Vec<String> = (1..=4).map(|i| format!("imap{i}@example.test")).collect();
    request(&w, &users[0], "Antes del corte").await;
    acknowledged(&w, &users[0], WAIT).await;
    assert!(problems(&d.log_text()).is_empty(), "{}", d.log_text());

    w.mail.stop_imap();
    let started = Instant::now();
    // Requests keep arriving; the mail server holds them until its mailboxes are back.
    for u in &users[1..] {
        request(&w, u, "Durante el corte").await;
    }
    let p = wait_problems(&d, 1, "the outage noticed").await;
    tokio::time::sleep(OUTAGE.saturating_sub(started.elapsed())).await;
    w.mail.start_imap();
    nothing_lost(&w, &users).await;
    let log = d.log_text();
    assert!(d.is_running());
    show(&format!("IMAP {:?}", w.db.kind), &log);
    // One line when it started, one when it ended; none per retry in between.
    let p2 = problems(&log);
    assert_eq!(p2.len(), 1, "{p2:#?}");
    assert!(p2[0].contains("IMAP mailbox unavailable"), "{}", p[0]);
    assert_eq!(lines_with(&log, "IMAP mailbox reachable again"), 1, "{log}");
    assert!(
        lines_with(&log, "IMAP still unavailable") >= 2,
        "the reader did not retry (debug lines): {log}"
    );

    // Down again: SIGTERM still stops the daemon promptly.
    w.mail.stop_imap();
    wait_problems(&d, 2, "the second outage noticed").await;
    stops_within_ten_seconds(&mut d, "an IMAP outage");
}

// ---------------------------------------------------------------------------------------------
// SMTP

async fn smtp_server_stopped_while_requests_arrive(w: World) {
    let mut d = w.spawn_daemon();
    let users: Vec<String> = (1..=4).map(|i| format!("smtp{i}@example.test")).collect();
    request(&w, &users[0], "Antes del corte").await;
    acknowledged(&w, &users[0], WAIT).await;

    w.mail.stop_smtp();
    let started = Instant::now();
    // Users' mail still reaches the mailbox (another way in: it is appended).
    for u in &users[1..] {
        let from = format!("Usuario <{u}>");
        let (_, raw) = Draft::new(&from, "Durante el corte", "Necesito ayuda.").render();
        mail::append(w.mail.imap_port, HELPDESK, "INBOX", &raw).await;
    }
    // Taken in and ticketed at once; the acknowledgements wait in the queue.
    eventually(WAIT, "tickets created while SMTP is down", || async {
        (w.cli().tickets().len() == users.len()).then_some(())
    })
    .await;
    wait_problems(&d, 1, "the outage noticed").await;
    tokio::time::sleep(OUTAGE.saturating_sub(started.elapsed())).await;
    w.mail.start_smtp();
    nothing_lost(&w, &users).await;
    let log = d.log_text();
    assert!(d.is_running());
    show(&format!("SMTP {:?}", w.db.kind), &log);
    let p = problems(&log);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("SMTP server unavailable"), "{}", p[0]);
    assert_eq!(lines_with(&log, "SMTP server reachable again"), 1, "{log}");

    w.mail.stop_smtp();
    let (_, raw) = Draft::new("Usuario <smtp9@example.test>", "Otra vez", "Hola.").render();
    mail::append(w.mail.imap_port, HELPDESK, "INBOX", &raw).await;
    wait_problems(&d, 2, "the second outage noticed").await;
    stops_within_ten_seconds(&mut d, "an SMTP outage");
}

/// Issue 16, "recovery noticed late": the end of an SMTP outage is news for every worker at
/// once. After 40 s down the outbox sender waits out a backoff of 16–37 s between tries; the
/// SMTP prober, probing every 2 s while the server is down, finds it back first, and the
/// queued acknowledgements go out right after that "reachable again" line, not at the sender's
/// next try. The gaps are printed; the bound asserted is far below the sender's own delay.
async fn queued_mail_leaves_as_soon_as_smtp_is_found_back(w: World) {
    let d = w.spawn_daemon();
    let users: Vec<String> = (1..=3).map(|i| format!("back{i}@example.test")).collect();
    request(&w, &users[0], "Antes del corte").await;
    acknowledged(&w, &users[0], WAIT).await;

    w.mail.stop_smtp();
    for u in &users[1..] {
        let from = format!("Usuario <{u}>");
        let (_, raw) = Draft::new(&from, "Durante el corte", "Necesito ayuda.").render();
        mail::append(w.mail.imap_port, HELPDESK, "INBOX", &raw).await;
    }
    wait_problems(&d, 1, "the outage noticed").await;
    let noticed = Instant::now();
    eventually(WAIT, "tickets created while SMTP is down", || async {
        (w.cli().tickets().len() == users.len()).then_some(())
    })
    .await;
    // The sender's tries: 0, 1, 3, 7, 15, ~31 s (jittered), the next ~30 s later.
    tokio::time::sleep(Duration::from_secs(40).saturating_sub(noticed.elapsed())).await;
    w.mail.start_smtp();
    let restarted = Instant::now();
    let back = eventually(RECOVERY, "SMTP found back", || async {
        (lines_with(&d.log_text(), "SMTP server reachable again") > 0).then(Instant::now)
    })
    .await;
    for u in &users[1..] {
        acknowledged(&w, u, RECOVERY).await;
    }
    let delivered = Instant::now();
    let (found, sent) = (back - restarted, delivered - back);
    eprintln!(
        "SMTP restarted; found back {found:.1?} later; queued acknowledgements delivered {sent:.1?} after that"
    );
    let log = d.log_text();
    show("SMTP recovery", &log);
    assert!(
        found < Duration::from_secs(10),
        "SMTP back for {found:?} before anyone noticed:\n{log}"
    );
    assert!(
        sent < Duration::from_secs(10),
        "queued mail waited {sent:?} after SMTP was found back:\n{log}"
    );
    // Still one line when the outage started and one when it ended.
    let p = problems(&log);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(lines_with(&log, "SMTP server reachable again"), 1, "{log}");
    nothing_lost(&w, &users).await;
}

/// Postfix restarted between two mails: the connection the daemon keeps for the next mail is
/// closed under it. The next mail goes on a new connection, with no outage reported.
async fn smtp_server_restarted_between_two_mails(w: World) {
    let d = w.spawn_daemon();
    request(&w, "antes@example.test", "Primera").await;
    acknowledged(&w, "antes@example.test", WAIT).await;
    w.mail.stop_smtp();
    w.mail.start_smtp();
    request(&w, "despues@example.test", "Segunda").await;
    acknowledged(&w, "despues@example.test", WAIT).await;
    let log = d.log_text();
    assert!(problems(&log).is_empty(), "{:#?}", problems(&log));
}

// ---------------------------------------------------------------------------------------------
// SQLite read-only

/// Makes the database file and its write-ahead log immutable (`chattr +i`): writes through the
/// daemon's open descriptors fail, as on a read-only or failing disk. The tests run as root,
/// for whom permission bits change nothing. Undone on drop, even when the test fails.
struct ReadOnly(Vec<std::path::PathBuf>);

impl ReadOnly {
    fn set(db: &std::path::Path) -> ReadOnly {
        let files: Vec<_> = [db.to_owned(), db.with_extension("db-wal")]
            .into_iter()
            .filter(|f| f.exists())
            .collect();
        for f in &files {
            let ok = Command::new("chattr").arg("+i").arg(f).status();
            assert!(ok.is_ok_and(|s| s.success()), "chattr +i {}", f.display());
        }
        ReadOnly(files)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        for f in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(f).status();
        }
    }
}

async fn sqlite_database_read_only_for_a_while(w: World) {
    let db = w.dir.path().join("mesayuda.db");
    let mut d = w.spawn_daemon();
    let users: Vec<String> = (1..=4).map(|i| format!("ro{i}@example.test")).collect();
    request(&w, &users[0], "Antes del corte").await;
    acknowledged(&w, &users[0], WAIT).await;

    let ro = ReadOnly::set(&db);
    let started = Instant::now();
    for u in &users[1..] {
        request(&w, u, "Durante el corte").await;
    }
    let p = wait_problems(&d, 1, "the outage noticed").await;
    tokio::time::sleep(OUTAGE.saturating_sub(started.elapsed())).await;
    // Nothing was taken in meanwhile: no mail left the inbox without being stored.
    assert_eq!(w.cli().tickets().len(), 1);
    assert_eq!(mail::inbox(w.mail.imap_port, HELPDESK).await.len(), 3);
    drop(ro);
    nothing_lost(&w, &users).await;
    let log = d.log_text();
    assert!(d.is_running());
    show("SQLite read-only", &log);
    let p2 = problems(&log);
    assert_eq!(p2.len(), 1, "{p2:#?}");
    assert!(p2[0].contains("database unavailable"), "{}", p[0]);
    assert!(!p2[0].contains("IMAP"), "{}", p2[0]);
    assert_eq!(lines_with(&log, "database reachable again"), 1, "{log}");

    let _ro = ReadOnly::set(&db);
    request(&w, "ro9@example.test", "Otra vez").await;
    wait_problems(&d, 2, "the second outage noticed").await;
    stops_within_ten_seconds(&mut d, "a read-only database");
}

/// A minimal SMTP server that accepts every mail and keeps its text; before it answers the
/// first mail's final dot, it runs `before_first_ok` (here: makes the database read-only), so
/// that the mail is with the "server" while its sender cannot record it.
async fn recording_smtp(
    before_first_ok: impl FnOnce() + Send + 'static,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = std::sync::Arc::new(std::sync::Mutex::new(Some(before_first_ok)));
    let mails = got.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (mails, hook) = (mails.clone(), hook.clone());
            tokio::spawn(async move {
                let (r, mut w) = socket.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 prueba ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-prueba\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            let _ = w.write_all(b"354 go on\r\n").await;
                            let mut text = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                text.push_str(&l);
                                text.push('\n');
                            }
                            let first = hook.lock().unwrap().take();
                            if let Some(f) = first {
                                tokio::task::spawn_blocking(f).await.unwrap();
                            }
                            mails.lock().unwrap().push(text);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    if w.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, got)
}

/// The SMTP server accepts the acknowledgement just as the database becomes read-only: the
/// daemon cannot record it as sent. Once the database is writable again it records it first,
/// and the acknowledgement is not sent a second time (before, its claim kept it queued and it
/// went out again when the claim ran out).
async fn sqlite_mail_accepted_while_the_database_failed_is_recorded_not_resent(w: World) {
    let db = w.dir.path().join("mesayuda.db");
    let (read_only_tx, read_only_rx) = std::sync::mpsc::channel();
    let path = db.clone();
    let (smtp, got) = recording_smtp(move || {
        let _ = read_only_tx.send(ReadOnly::set(&path));
    })
    .await;
    let text = std::fs::read_to_string(&w.config).unwrap();
    let real = format!("port = {}\nsecurity = \"none\"\nfrom", w.mail.smtp_port);
    assert!(text.contains(&real), "{text}");
    let text = text.replacen(
        &real,
        &format!("port = {smtp}\nsecurity = \"none\"\nfrom"),
        1,
    );
    std::fs::write(&w.config, text).unwrap();

    let mut d = w.spawn_daemon();
    request(&w, "grabado@example.test", "Sin internet").await;
    let ro = eventually(
        WAIT,
        "the acknowledgement handed to the SMTP server",
        || async { read_only_rx.try_recv().ok() },
    )
    .await;
    eventually(WAIT, "the failed record logged", || async {
        d.log_text()
            .contains("mail sent but not recorded as sent")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(ro);

    let ack = eventually(RECOVERY, "the acknowledgement recorded as sent", || async {
        w.outbox_to("grabado@example.test")
            .into_iter()
            .find(|m| m["kind"] == "acuse" && m["status"] == "sent")
    })
    .await;
    w.wait_idle(WAIT).await;
    let log = d.log_text();
    assert!(log.contains("recorded as sent"), "{log}");
    let to_user: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("grabado@example.test"))
        .cloned()
        .collect();
    assert_eq!(to_user.len(), 1, "sent once: {ack}\n{to_user:#?}");
    assert!(d.is_running());
    stops_within_ten_seconds(&mut d, "after a failed record");
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL restart

fn pg_restart_allowed() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
        || std::env::var("MESAYUDA_TEST_PG_RESTART").as_deref() == Ok("1")
}

fn pg_ctl(verb: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a Debian PostgreSQL cluster in /etc/postgresql")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .expect("a PostgreSQL version");
    let out = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", verb])
        .output()
        .expect("pg_ctlcluster");
    assert!(
        out.status.success(),
        "pg_ctlcluster {verb}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn postgresql_restarted_while_the_daemon_runs(w: World) {
    let mut d = w.spawn_daemon();
    let users: Vec<String> = (1..=4).map(|i| format!("pg{i}@example.test")).collect();
    request(&w, &users[0], "Antes del corte").await;
    acknowledged(&w, &users[0], WAIT).await;
    // The request leaves the inbox after its acknowledgement may already be out (the move
    // waits for a durable commit); stopped in between, it would wait in the inbox with the
    // outage's requests, and the count below would wait for 3 in vain (a CI run timed out
    // there once; the inbox's count was not printed, so this is the likely cause, not a
    // proven one).
    inbox_emptied(&w, WAIT, "the first request moved out of the inbox").await;

    pg_ctl("stop");
    let restarted = scopeguard(|| pg_ctl("start"));
    for u in &users[1..] {
        request(&w, u, "Durante el corte").await;
    }
    let p = wait_problems(&d, 1, "the outage noticed").await;
    // The cluster comes back only once the daemon has retried in vain (so that one line for
    // the whole outage is a claim about retries) and the outage's requests wait in the inbox.
    eventually(WAIT, "retries during the outage", || async {
        (lines_with(&d.log_text(), "database still unavailable") >= 2).then_some(())
    })
    .await;
    eventually(WAIT, "the outage's requests in the inbox", || async {
        (mail::inbox(w.mail.imap_port, HELPDESK).await.len() == users.len() - 1).then_some(())
    })
    .await;
    drop(restarted);
    nothing_lost(&w, &users).await;
    let log = d.log_text();
    assert!(d.is_running());
    show("PostgreSQL restart", &log);
    let p2 = problems(&log);
    assert_eq!(p2.len(), 1, "{p2:#?}");
    assert!(p2[0].contains("database unavailable"), "{}", p[0]);
    assert_eq!(lines_with(&log, "database reachable again"), 1, "{log}");

    pg_ctl("stop");
    let _restart = scopeguard(|| pg_ctl("start"));
    wait_problems(&d, 2, "the second outage noticed").await;
    stops_within_ten_seconds(&mut d, "a PostgreSQL outage");
}

struct Guard<F: FnMut()>(F);

impl<F: FnMut()> Drop for Guard<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn scopeguard<F: FnMut()>(f: F) -> Guard<F> {
    Guard(f)
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mailbox_server_stopped_then_restarted() {
        if let Some(w) = world(DbKind::Sqlite).await {
            super::mailbox_server_stopped_then_restarted(w).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn smtp_server_stopped_while_requests_arrive() {
        if let Some(w) = world(DbKind::Sqlite).await {
            super::smtp_server_stopped_while_requests_arrive(w).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_mail_leaves_as_soon_as_smtp_is_found_back() {
        if let Some(w) = world(DbKind::Sqlite).await {
            super::queued_mail_leaves_as_soon_as_smtp_is_found_back(w).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn smtp_server_restarted_between_two_mails() {
        if let Some(w) = world(DbKind::Sqlite).await {
            super::smtp_server_restarted_between_two_mails(w).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_read_only_for_a_while() {
        if let Some(w) = world(DbKind::Sqlite).await {
            super::sqlite_database_read_only_for_a_while(w).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mail_accepted_while_the_database_failed_is_recorded_not_resent() {
        if let Some(w) = world(DbKind::Sqlite).await {
            super::sqlite_mail_accepted_while_the_database_failed_is_recorded_not_resent(w).await;
        }
    }
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mailbox_server_stopped_then_restarted() {
        let _cluster = CLUSTER.read().await;
        if let Some(w) = world(DbKind::Postgres).await {
            super::mailbox_server_stopped_then_restarted(w).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn smtp_server_stopped_while_requests_arrive() {
        let _cluster = CLUSTER.read().await;
        if let Some(w) = world(DbKind::Postgres).await {
            super::smtp_server_stopped_while_requests_arrive(w).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_restarted_while_the_daemon_runs() {
        if !pg_restart_allowed() {
            eprintln!(
                "SKIPPED PostgreSQL restart: it stops the shared cluster; set CI=true or \
                 MESAYUDA_TEST_PG_RESTART=1 (tests/torture.sh does)"
            );
            return;
        }
        let _cluster = CLUSTER.write().await;
        if let Some(w) = world(DbKind::Postgres).await {
            super::postgresql_restarted_while_the_daemon_runs(w).await;
        }
    }
}
