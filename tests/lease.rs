//! Issue 16: the mailbox reader's lease between instances on one PostgreSQL database survives a
//! frozen holder (SIGSTOP keeps its connections open), and its fencing number keeps a former
//! reader that wakes up from taking anything in; what one instance finds reachable again
//! reaches the other's waiting workers at once.

mod support;

use mesayuda::store::lease;
use mesayuda::workflow::ingest::{Outcome, Source};
use mesayuda::workflow::WorkflowError;
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, Daemon, DbKind, TestDb, World, HELPDESK};

const WAIT: Duration = Duration::from_secs(60);

fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

async fn send_request(w: &World, who: &str, subject: &str) {
    let from = format!("Usuario <{who}>");
    mail::send(
        w.mail.smtp_port,
        &Draft::new(&from, subject, "Necesito ayuda con el equipo, por favor."),
    )
    .await;
}

/// Waits until exactly one of the two logs says it reads the mailbox and the other stands by;
/// returns (reader, standby).
async fn reader_and_standby(a: Daemon, b: Daemon) -> (Daemon, Daemon) {
    eventually(WAIT, "one reader and one standby", || async {
        let (la, lb) = (a.log_text(), b.log_text());
        let reads = |l: &str| l.contains("mailbox lease acquired");
        let stands = |l: &str| l.contains("standing by");
        ((reads(&la) && stands(&lb)) || (reads(&lb) && stands(&la))).then_some(())
    })
    .await;
    if a.log_text().contains("mailbox lease acquired") {
        (a, b)
    } else {
        (b, a)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_reader_is_replaced_and_processes_nothing_once_it_wakes() {
    let Some(w) = World::new(DbKind::Postgres).await else {
        return;
    };
    // Short lease times keep the test short; the defaults (5 s, 15 s) behave the same.
    let lease = "[lease]\nrenew_secs = 1\nexpiry_secs = 3\n";
    let (a, b) = w.two_instances(lease);
    let (old, new) = reader_and_standby(a, b).await;

    send_request(&w, "antes@example.test", "Antes de congelar").await;
    mail::wait_for(
        w.mail.imap_port,
        "antes@example.test",
        WAIT,
        "first ack",
        mail::is_ack,
    )
    .await;
    w.wait_idle(WAIT).await;

    // The reader freezes with its connections open: the standby takes over once the lease
    // expires, and answers a request sent meanwhile.
    old.signal("STOP");
    send_request(
        &w,
        "durante@example.test",
        "Mientras el lector está congelado",
    )
    .await;
    eventually(WAIT, "the standby takes the mailbox over", || async {
        new.log_text()
            .contains("mailbox lease acquired")
            .then_some(())
    })
    .await;
    mail::wait_for(
        w.mail.imap_port,
        "durante@example.test",
        WAIT,
        "ack from the new reader",
        mail::is_ack,
    )
    .await;

    // The former reader wakes up: it says once that it lost the lease and stands by.
    old.signal("CONT");
    eventually(WAIT, "the former reader stands by", || async {
        let log = old.log_text();
        let lost = log.find("mailbox lease lost")?;
        log[lost..].contains("standing by").then_some(())
    })
    .await;
    send_request(&w, "despues@example.test", "Después de despertar").await;
    mail::wait_for(
        w.mail.imap_port,
        "despues@example.test",
        WAIT,
        "third ack",
        mail::is_ack,
    )
    .await;
    w.wait_idle(WAIT).await;

    let old_log = old.log_text();
    assert_eq!(lines_with(&old_log, "mailbox lease lost"), 1, "{old_log}");
    let after = &old_log[old_log.find("mailbox lease lost").unwrap()..];
    assert_eq!(lines_with(after, "message ingested"), 0, "{after}");
    assert_eq!(lines_with(after, "messages moved"), 0, "{after}");
    let errors: Vec<&str> = old_log
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("ERROR"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(new.log_text().contains("message ingested"));

    // Every request: one ticket, one acknowledgement, nothing answered twice.
    let tickets = w.cli().tickets();
    assert_eq!(tickets.len(), 3, "{tickets:?}");
    for who in [
        "antes@example.test",
        "durante@example.test",
        "despues@example.test",
    ] {
        let mine = tickets.iter().filter(|t| t["requester"] == who).count();
        assert_eq!(mine, 1, "{who}: {tickets:?}");
        let acks = mail::inbox(w.mail.imap_port, who).await;
        assert_eq!(acks.len(), 1, "{who} got {} mails", acks.len());
    }
    assert!(mail::inbox(w.mail.imap_port, HELPDESK).await.is_empty());
}

/// A standby that found the mailbox unreachable learns from the reader that it is back, at
/// once, instead of at its own next check (a minute later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_hears_from_the_reader_that_the_mailbox_is_back() {
    let Some(w) = World::new(DbKind::Postgres).await else {
        return;
    };
    let (http_a, http_b) = (support::ports::reserve(), support::ports::reserve());
    let cfg_a = w.instance_config("a.toml", http_a, "");
    let cfg_b = w.instance_config("b.toml", http_b, "");
    let a = Daemon::spawn(&cfg_a, w.dir.path());
    eventually(WAIT, "the first instance reads", || async {
        a.log_text().contains("watching mailbox").then_some(())
    })
    .await;
    w.mail.stop_imap();
    eventually(WAIT, "the reader meets the outage", || async {
        a.log_text()
            .contains("IMAP mailbox unavailable")
            .then_some(())
    })
    .await;
    // Started during the outage, the standby's first check fails.
    let b = Daemon::spawn(&cfg_b, w.dir.path());
    eventually(
        WAIT,
        "the standby finds the mailbox unreachable",
        || async {
            b.log_text()
                .contains("IMAP mailbox unreachable from the standby instance")
                .then_some(())
        },
    )
    .await;
    let (status, body) = support::http_get(http_b, "/healthz").await.unwrap();
    assert_eq!(status, 503, "{body}");

    w.mail.start_imap();
    eventually(
        Duration::from_secs(120),
        "the reader finds the mailbox back",
        || async {
            a.log_text()
                .contains("IMAP mailbox reachable again")
                .then_some(())
        },
    )
    .await;
    eventually(WAIT, "the standby hears it and checks", || async {
        b.log_text()
            .contains("IMAP mailbox reachable again from the standby instance")
            .then_some(())
    })
    .await;
    let log = b.log_text();
    let heard = log
        .lines()
        .position(|l| {
            l.contains("another instance found it reachable again") && l.contains("mailbox")
        })
        .unwrap_or_else(|| panic!("the standby heard nothing: {log}"));
    let checked = log
        .lines()
        .position(|l| l.contains("IMAP mailbox reachable again from the standby instance"))
        .unwrap();
    assert!(heard < checked, "{log}");
    eventually(WAIT, "the standby healthy", || async {
        let (s, _) = support::http_get(http_b, "/healthz").await?;
        (s == 200).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The store: a commit with a stale fencing number is refused

fn request_mail(n: u32) -> Vec<u8> {
    format!(
        "From: Ana <ana@example.test>\r\nTo: {HELPDESK}\r\nSubject: Solicitud {n}\r\n\
         Message-ID: <fence-{n}@example.test>\r\nDate: Sun, 29 Nov 2026 10:00:00 -0500\r\n\r\n\
         Necesito ayuda con el equipo.\r\n"
    )
    .into_bytes()
}

async fn a_commit_with_a_stale_fencing_number_is_refused(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(tdb) = TestDb::create(kind, dir.path()).await else {
        return;
    };
    let config =
        mesayuda::config::Config::load(&support::offline_config(dir.path(), &tdb)).unwrap();
    let app = mesayuda::runtime::app::Application::build(config)
        .await
        .unwrap();
    let db = app.db().clone();
    let ingestor = app.ingestor(Default::default());
    let expiry = Duration::from_secs(15);

    let first = lease::acquire(&db, "INBOX", "instance-a", expiry)
        .await
        .unwrap()
        .expect("a free lease is taken");
    assert_eq!(
        lease::acquire(&db, "INBOX", "instance-b", expiry)
            .await
            .unwrap(),
        if kind == DbKind::Postgres {
            // "instance-a" has no session on the server: it counts as gone.
            Some(first + 1)
        } else {
            None
        },
        "a held lease is not taken"
    );
    if kind == DbKind::Sqlite {
        lease::release(&db, "INBOX", "instance-a", first)
            .await
            .unwrap();
        assert_eq!(
            lease::acquire(&db, "INBOX", "instance-b", expiry)
                .await
                .unwrap(),
            Some(first + 1)
        );
    }
    let second = first + 1;
    assert!(!lease::renew(&db, "INBOX", "instance-a", first, expiry)
        .await
        .unwrap());
    assert!(lease::renew(&db, "INBOX", "instance-b", second, expiry)
        .await
        .unwrap());

    let source = |uid, fence| Source {
        mailbox: "INBOX".into(),
        uidvalidity: 1,
        uid,
        fence: Some(fence),
    };
    let now = chrono::Utc::now();
    let stale = ingestor
        .ingest(&request_mail(1), Some(&source(1, first)), now, now)
        .await;
    assert!(matches!(stale, Err(WorkflowError::LeaseLost)), "{stale:?}");
    let cli = support::Cli::new(&support::offline_config(dir.path(), &tdb));
    assert!(
        cli.tickets().is_empty(),
        "nothing committed: {:?}",
        cli.tickets()
    );
    assert!(cli
        .json(&["outbox", "list", "--json"])
        .as_array()
        .unwrap()
        .is_empty());

    let current = ingestor
        .ingest(&request_mail(2), Some(&source(2, second)), now, now)
        .await
        .unwrap();
    assert!(matches!(current, Outcome::Created { .. }), "{current:?}");
    assert_eq!(cli.tickets().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Shutdown in the middle of a backlog

/// A request from its own sender (the per-sender hourly limit stays out of the way).
fn backlog_mail(n: u32) -> Vec<u8> {
    format!(
        "From: Usuario {n} <backlog-{n}@example.test>\r\nTo: {HELPDESK}\r\n\
         Subject: Pedido pendiente {n}\r\nMessage-ID: <backlog-{n}@example.test>\r\n\
         Date: Sun, 29 Nov 2026 10:00:00 -0500\r\n\r\nNecesito ayuda con el equipo.\r\n"
    )
    .into_bytes()
}

/// Every backlog request has exactly one ticket and one queued acknowledgement, and the
/// mailbox has been emptied.
async fn assert_backlog_answered_once(w: &World, n: u32) {
    w.wait_idle(Duration::from_secs(300)).await;
    let tickets = w.cli().tickets();
    assert_eq!(tickets.len(), n as usize, "tickets");
    let mut requesters: Vec<&str> = tickets
        .iter()
        .map(|t| t["requester"].as_str().unwrap_or(""))
        .collect();
    requesters.sort_unstable();
    requesters.dedup();
    assert_eq!(requesters.len(), n as usize, "a request with two tickets");
    let outbox = w.outbox();
    for i in 0..n {
        let who = format!("backlog-{i}@example.test");
        let mine = outbox
            .iter()
            .filter(|m| m["recipients"].as_str().unwrap_or("") == who)
            .count();
        assert_eq!(mine, 1, "{who} was answered {mine} times");
    }
}

/// Issue 16: a reader stopped with SIGTERM while it works off a backlog stops after the
/// transaction in hand and releases the lease within the shutdown grace; the standby takes
/// the rest over, and every request is answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_stopped_in_a_backlog_releases_the_lease_and_the_standby_finishes() {
    let Some(w) = World::new(DbKind::Postgres).await else {
        return;
    };
    const N: u32 = 400;
    let lease = "[lease]\nrenew_secs = 1\nexpiry_secs = 30\n";
    let (a, b) = w.two_instances(lease);
    let (mut reader, standby) = reader_and_standby(a, b).await;
    // The backlog lands in the reader's mailbox at once (one MOVE), while it runs: appended
    // one by one, a slow machine let the reader keep up and finish before the stop.
    let held = "Retenidos";
    let mut s = mail::login(w.mail.imap_port, HELPDESK).await;
    s.create(held).await.expect("create folder");
    let _ = s.logout().await;
    for i in 0..N {
        mail::append(w.mail.imap_port, HELPDESK, held, &backlog_mail(i)).await;
    }
    let mut s = mail::login(w.mail.imap_port, HELPDESK).await;
    s.select(held).await.expect("select");
    s.uid_mv("1:*", "INBOX").await.expect("move to INBOX");
    let _ = s.logout().await;
    eventually(WAIT, "the reader takes the backlog in", || async {
        reader.log_text().contains("message ingested").then_some(())
    })
    .await;
    let (_, status) = reader.terminate();
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");

    let log = reader.log_text();
    let taken = lines_with(&log, "message ingested");
    assert!(
        taken < N as usize,
        "the reader finished before the stop: {taken}"
    );
    assert_eq!(lines_with(&log, "mailbox lease released"), 1, "{log}");
    assert_eq!(lines_with(&log, "workers did not stop in time"), 0, "{log}");
    eventually(WAIT, "the standby takes the mailbox over", || async {
        standby
            .log_text()
            .contains("mailbox lease acquired")
            .then_some(())
    })
    .await;
    assert_backlog_answered_once(&w, N).await;
}

/// A first pass over a full mailbox cut short by a stop records how far it got, not the
/// mailbox's end: the next start reads the rest (before, the unread rest was skipped for good).
async fn a_first_pass_cut_short_is_finished_at_the_next_start(kind: DbKind) {
    let Some(w) = World::new(kind).await else {
        return;
    };
    const N: u32 = 300;
    for i in 0..N {
        mail::append(w.mail.imap_port, HELPDESK, "INBOX", &backlog_mail(i)).await;
    }
    let mut first = w.spawn_daemon();
    eventually(WAIT, "the first pass takes mail in", || async {
        first.log_text().contains("message ingested").then_some(())
    })
    .await;
    let (_, status) = first.terminate();
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
    let taken = lines_with(&first.log_text(), "message ingested");
    assert!(
        taken < N as usize,
        "the first pass finished before the stop: {taken}"
    );

    let _second = w.spawn_daemon();
    assert_backlog_answered_once(&w, N).await;
}

on_both_databases!(
    setup = kind;
    a_commit_with_a_stale_fencing_number_is_refused,
    a_first_pass_cut_short_is_finished_at_the_next_start,
);
