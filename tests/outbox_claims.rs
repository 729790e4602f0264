//! Issue 16: queued mail is claimed for a few seconds at a time and the claim is renewed while
//! the mail is being sent, so that mail claimed by a frozen instance (SIGSTOP keeps its
//! database sessions open) is taken over within seconds, and the frozen instance, once it
//! wakes, sends nothing that was taken over.

mod support;

use mesayuda::domain::mail_kind::MailKind;
use mesayuda::store::{self, outbox, Db};
use std::time::Duration;
use support::mail::{self, Draft};
use support::{eventually, Daemon, DbKind, TestDb, World};

const WAIT: Duration = Duration::from_secs(60);
/// Well under the 300 s claims of old: a request is answered while an instance is frozen.
const ANSWER_WHILE_FROZEN: Duration = Duration::from_secs(40);
const CLAIM: i64 = 8;
/// Claims of another instance may be taken over as soon as the server answers (the shipped
/// wait after a server start is `outbox::TAKEOVER_AFTER_START_SECS`; the test's server may
/// have started just before).
const SETTLED: i64 = 0;

// ---------------------------------------------------------------------------------------------
// The store: claims run out unless renewed, and one taken over cannot be renewed

async fn queue(db: &Db, n: u32, at: i64) -> i64 {
    queue_kind(db, n, MailKind::Acuse, at).await
}

async fn queue_kind(db: &Db, n: u32, kind: MailKind, at: i64) -> i64 {
    let mut conn = db.pool.acquire().await.unwrap();
    let message_id = format!("<claim-{n}@example.test>");
    let recipients = vec![format!("user-{n}@example.test")];
    outbox::enqueue(
        &mut conn,
        &outbox::NewOutgoing {
            ticket: None,
            kind,
            message_id: &message_id,
            envelope_from: "s@example.test",
            recipients: &recipients,
            raw: b"Subject: x\r\n\r\nx\r\n",
            at,
        },
    )
    .await
    .unwrap()
}

async fn claimed_by(db: &Db, id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT claimed_by FROM outbox WHERE id = $1 AND claimed_until IS NOT NULL")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn open(kind: DbKind, dir: &std::path::Path) -> Option<(TestDb, Db)> {
    support::built_db(kind, dir).await
}

/// A burst queues the agents' notices of new work next to the acknowledgements; the requester
/// waiting for a number is served first, whatever was queued before.
async fn what_someone_waits_for_is_sent_before_notices_queued_earlier(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some((_tdb, db)) = open(kind, dir.path()).await else {
        return;
    };
    let t0 = store::unix(chrono::Utc::now());
    let notice_1 = queue_kind(&db, 1, MailKind::NuevaSolicitud, t0).await;
    let notice_2 = queue_kind(&db, 2, MailKind::NuevaSolicitud, t0).await;
    let alert = queue_kind(&db, 3, MailKind::AlertaSla, t0).await;
    let ack = queue_kind(&db, 4, MailKind::Acuse, t0).await;
    let question = queue_kind(&db, 5, MailKind::InformacionFaltante, t0).await;

    // While the reader works off a backlog, only what someone waits for is taken.
    let awaited = outbox::claim_due(&db, t0, CLAIM, 50, outbox::Which::Awaited)
        .await
        .unwrap();
    assert_eq!(
        awaited.iter().map(|m| m.id).collect::<Vec<_>>(),
        [ack, question]
    );
    release_claims(&db).await;

    // Taken together, they come in that order too: the sender sends them in the order given.
    let all = outbox::claim_due(&db, t0, CLAIM, 50, outbox::Which::Any)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|m| m.id).collect::<Vec<_>>(),
        [ack, question, notice_1, notice_2, alert]
    );
    release_claims(&db).await;

    let first = outbox::claim_due(&db, t0, CLAIM, 2, outbox::Which::Any)
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|m| m.id).collect::<Vec<_>>(),
        [ack, question]
    );
    let rest = outbox::claim_due(&db, t0, CLAIM, 50, outbox::Which::Any)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|m| m.id).collect::<Vec<_>>(),
        [notice_1, notice_2, alert],
        "then the notices, in the order queued"
    );
}

/// Up to 50 due mails claimed for `CLAIM` seconds by the instance `me`, another instance's
/// claims taken over once the server has been up `settle` seconds.
async fn claim_as(db: &Db, me: &str, now: i64, settle: i64) -> Vec<outbox::Claimed> {
    outbox::claim_due_as(db, me, now, CLAIM, 50, settle, outbox::Which::Any)
        .await
        .unwrap()
}

/// Back in the queue, unclaimed (as if their claim had never been made).
async fn release_claims(db: &Db) {
    sqlx::query("UPDATE outbox SET claimed_until = NULL, claimed_by = NULL")
        .execute(&db.pool)
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The daemon: a backlog in the inbox is acknowledged before the agents are told of it

/// Requests waiting in the inbox when the daemon starts, three rounds' worth: every
/// requester's acknowledgement reaches the mail server before any notice of new work to the
/// agents, although the first round's notices were queued before the last ones'
/// acknowledgements. Read in the order the mail server accepted the mail (its log's
/// `message-id=` lines), matched to the outbox's kinds.
async fn a_backlog_is_acknowledged_before_the_agents_are_told(kind: DbKind) {
    const REQUESTS: usize = 12;
    let Some(w) = World::with_procedure_and(kind, "[ingest]\nbatch_size = 4\n").await else {
        return;
    };
    for i in 0..REQUESTS {
        let from = format!("Usuario {i} <usuario-{i}@example.test>");
        let (_, raw) = Draft::new(
            &from,
            "Instalación de impresora",
            "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\n\
             Ubicación: Piso 3, oficina 301\n",
        )
        .render();
        mail::append(w.mail.imap_port, support::HELPDESK, "INBOX", &raw).await;
    }
    let _daemon = w.spawn_daemon();
    w.wait_idle(WAIT).await;

    let db = Db::connect(&w.db.url, 1).await.unwrap();
    let kinds: std::collections::HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT message_id, kind FROM outbox")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, kind)| (id.trim_matches(['<', '>']).to_owned(), kind))
            .collect();
    let log = w.mail.postfix_log();
    let accepted: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("message-id=").nth(1))
        .filter_map(|id| {
            kinds
                .get(id.trim().trim_matches(['<', '>']))
                .map(String::as_str)
        })
        .collect();
    let acks: Vec<usize> = (0..accepted.len())
        .filter(|&i| accepted[i] == MailKind::Acuse.as_str())
        .collect();
    let waited: Vec<usize> = (0..accepted.len())
        .filter(|&i| accepted[i].parse::<MailKind>().is_ok_and(|k| k.can_wait()))
        .collect();
    assert_eq!(
        acks.len(),
        REQUESTS,
        "every request acknowledged: {accepted:?}"
    );
    assert!(!waited.is_empty(), "the agents were told: {accepted:?}");
    assert!(
        acks.iter().max() < waited.iter().min(),
        "every acknowledgement before the first notice: {accepted:?}"
    );
}

on_both_databases!(setup = kind;
    what_someone_waits_for_is_sent_before_notices_queued_earlier,
    a_backlog_is_acknowledged_before_the_agents_are_told,
);

/// This process plays the holder: it has sessions on the server, so on PostgreSQL it is alive
/// and its claims are taken over only once they run out. "instance-b" has no session: its own
/// claims would count as gone at once, so it only ever takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_not_renewed_is_taken_over_and_its_former_holder_cannot_renew_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_tdb, db)) = open(DbKind::Postgres, dir.path()).await else {
        return;
    };
    let me = store::instance_name();
    let t0 = store::unix(chrono::Utc::now());
    let ids = vec![queue(&db, 1, t0).await, queue(&db, 2, t0).await];

    let mine = outbox::claim_due(&db, t0, CLAIM, 50, outbox::Which::Any)
        .await
        .unwrap();
    assert_eq!(mine.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert!(claim_as(&db, "instance-b", t0 + 1, SETTLED)
        .await
        .is_empty());

    // Renewed by its holder: still its own after the first claim would have run out.
    let kept = outbox::renew_claims(&db, me, &ids, t0 + 5, CLAIM)
        .await
        .unwrap();
    assert_eq!(kept, ids);
    assert!(
        claim_as(&db, "instance-b", t0 + CLAIM + 2, SETTLED)
            .await
            .is_empty(),
        "a renewed claim is not taken"
    );

    // One mail is sent meanwhile: it is no longer renewed.
    outbox::mark_sent(&db, ids[0], t0 + 6).await.unwrap();
    let kept = outbox::renew_claims(&db, me, &ids, t0 + 6, CLAIM)
        .await
        .unwrap();
    assert_eq!(kept, [ids[1]]);

    // Not renewed any more (the holder froze): taken over once it ran out.
    let taken = claim_as(&db, "instance-b", t0 + 6 + CLAIM + 1, SETTLED).await;
    assert_eq!(taken.iter().map(|m| m.id).collect::<Vec<_>>(), [ids[1]]);
    assert_eq!(claimed_by(&db, ids[1]).await.as_deref(), Some("instance-b"));

    // The former holder wakes: its claim is gone, and what it would give back stays taken.
    let kept = outbox::renew_claims(&db, me, &ids, t0 + 6 + CLAIM + 2, CLAIM)
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");
    outbox::release(&db, ids[1], "SMTP server unavailable")
        .await
        .unwrap();
    outbox::mark_retry(&db, ids[1], t0 + 600, "450 try later")
        .await
        .unwrap();
    assert_eq!(claimed_by(&db, ids[1]).await.as_deref(), Some("instance-b"));
}

/// After a PostgreSQL restart every instance's sessions are gone at once, as if every instance
/// had stopped, and every claim has run out (nobody could renew it). Until the server has been
/// up long enough for the instances to reconnect, nobody takes over another one's claims: the
/// instance that handed a mail to the SMTP server during the restart records it as sent itself
/// instead of another one sending it again. It takes back its own claims at once, and new mail
/// is claimed as usual. Here "instance-a" has no session, as right after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_not_taken_over_until_the_server_has_been_up_a_while() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_tdb, db)) = open(DbKind::Postgres, dir.path()).await else {
        return;
    };
    // Longer than any server has been up: the server "has just started".
    const JUST_STARTED: i64 = 100 * 365 * 86_400;
    let t0 = store::unix(chrono::Utc::now());
    let held = vec![queue(&db, 1, t0).await, queue(&db, 2, t0).await];
    let a = claim_as(&db, "instance-a", t0, JUST_STARTED).await;
    assert_eq!(a.iter().map(|m| m.id).collect::<Vec<_>>(), held);
    let fresh = queue(&db, 3, t0).await;

    let later = t0 + CLAIM + 1;
    let b = claim_as(&db, "instance-b", later, JUST_STARTED).await;
    assert_eq!(
        b.iter().map(|m| m.id).collect::<Vec<_>>(),
        [fresh],
        "only unclaimed mail while the server has just started"
    );
    let back = claim_as(&db, "instance-a", later, JUST_STARTED).await;
    assert_eq!(
        back.iter().map(|m| m.id).collect::<Vec<_>>(),
        held,
        "its own, at once"
    );

    let settled = later + CLAIM + 1;
    let b = claim_as(&db, "instance-b", settled, SETTLED).await;
    let mut expected = held.clone();
    expected.push(fresh); // its own claim on it ran out too
    assert_eq!(
        b.iter().map(|m| m.id).collect::<Vec<_>>(),
        expected,
        "taken over once the server has been up a while and instance-a is still gone"
    );
}

/// A claim that ran out is not renewed even if nobody took it: another instance may have taken
/// it and handed the mail to the SMTP server already (SQLite: the same rule, one instance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_ran_out_is_not_renewed_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_tdb, db)) = open(DbKind::Sqlite, dir.path()).await else {
        return;
    };
    let me = store::instance_name();
    let t0 = store::unix(chrono::Utc::now());
    let id = queue(&db, 1, t0).await;
    assert_eq!(
        outbox::claim_due(&db, t0, CLAIM, 50, outbox::Which::Any)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        outbox::renew_claims(&db, me, &[id], t0 + 3, CLAIM)
            .await
            .unwrap(),
        [id]
    );
    assert!(
        outbox::claim_due(&db, t0 + CLAIM + 1, CLAIM, 50, outbox::Which::Any)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        outbox::renew_claims(&db, me, &[id], t0 + 3 + CLAIM + 1, CLAIM)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Two daemons: one frozen while requests keep coming

async fn send_request(w: &World, who: &str) {
    let from = format!("Usuario <{who}>");
    mail::send(
        w.mail.smtp_port,
        &Draft::new(&from, "Necesito ayuda", "El equipo no enciende, por favor."),
    )
    .await;
}

async fn assert_acknowledged(w: &World, who: &str, within: Duration) {
    mail::wait_for(
        w.mail.imap_port,
        who,
        within,
        "acknowledgement",
        mail::is_ack,
    )
    .await;
}

/// Three more requests while an instance is frozen; every request so far is acknowledged
/// while it still is.
async fn answered_while_frozen(w: &World, everyone: &mut Vec<String>) {
    for n in 0..3 {
        let who = format!("congelado-{n}@example.test");
        send_request(w, &who).await;
        everyone.push(who);
    }
    for who in everyone.iter() {
        assert_acknowledged(w, who, ANSWER_WHILE_FROZEN).await;
    }
}

async fn one_frozen_while_requests_keep_coming(freeze_reader: bool) {
    let Some(w) = World::new(DbKind::Postgres).await else {
        return;
    };
    let lease = "[lease]\nrenew_secs = 1\nexpiry_secs = 3\n";
    let (a, b) = w.two_instances(lease);
    let reader = eventually(WAIT, "one instance reads the mailbox", || async {
        if a.log_text().contains("mailbox lease acquired") {
            Some(true)
        } else if b.log_text().contains("mailbox lease acquired") {
            Some(false)
        } else {
            None
        }
    })
    .await;
    let frozen = if reader == freeze_reader { &a } else { &b };
    send_request(&w, "antes@example.test").await;
    assert_acknowledged(&w, "antes@example.test", WAIT).await;

    // A burst, then the freeze while its mail is being claimed and sent, then more requests.
    let mut everyone = vec!["antes@example.test".to_string()];
    for n in 0..6 {
        let who = format!("rafaga-{n}@example.test");
        send_request(&w, &who).await;
        everyone.push(who);
    }
    frozen.signal("STOP");
    answered_while_frozen(&w, &mut everyone).await;

    frozen.signal("CONT");
    w.wait_idle(WAIT).await;
    // What the former holder might still send once awake has had time to go out (its renewal
    // tick runs every 2 s): it sends nothing that was taken over.
    send_request(&w, "despues@example.test").await;
    assert_acknowledged(&w, "despues@example.test", WAIT).await;
    w.wait_idle(WAIT).await;
    everyone.push("despues@example.test".into());
    // Delivery is at least once (README): a mail the frozen instance had already handed to the
    // SMTP server, but not yet recorded, when SIGSTOP came is sent again by the other one, the
    // same mail (same Message-ID). At most the few it had in flight (4 senders), and only of the
    // burst it was sending; everything else exactly once, and never a second acknowledgement.
    let mut again = Vec::new();
    for who in &everyone {
        let got = mail::inbox(w.mail.imap_port, who).await;
        let mut ids: Vec<&str> = got.iter().map(|m| m.message_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            1,
            "{who}: {} distinct acknowledgements",
            ids.len()
        );
        if got.len() > 1 {
            again.push(format!("{who}: {}", got.len()));
        }
    }
    assert!(
        again.len() <= 4 && again.iter().all(|a| a.starts_with("rafaga-")),
        "sent twice beyond the mail in flight at the freeze: {again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_answered_while_the_reader_is_frozen_and_none_twice() {
    one_frozen_while_requests_keep_coming(true).await;
}

/// An SMTP server that accepts connections and never answers: a mail handed to it stays in
/// flight (until the sender's own timeouts), with its claim held.
async fn silent_smtp() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

async fn claimed_rows(url: &str) -> i64 {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND claimed_until IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    n
}

/// The instance holding the acknowledgement (its send in flight, its claim renewed) freezes:
/// the other one sends it within seconds, not once a 300 s claim ran out; woken up, the former
/// holder sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_claimed_by_a_frozen_instance_is_sent_by_the_other_within_seconds() {
    let Some(w) = World::new(DbKind::Postgres).await else {
        return;
    };
    let lease = "[lease]\nrenew_secs = 1\nexpiry_secs = 3\n";
    let silent = silent_smtp().await;
    let cfg_a = w.instance_config("a.toml", support::ports::reserve(), lease);
    let text = std::fs::read_to_string(&cfg_a).unwrap();
    let real = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\n",
        w.mail.smtp_port
    );
    assert!(text.contains(&real));
    let text = text.replacen(
        &real,
        &format!("[smtp]\nhost = \"127.0.0.1\"\nport = {silent}\n"),
        1,
    );
    std::fs::write(&cfg_a, text).unwrap();
    let cfg_b = w.instance_config("b.toml", support::ports::reserve(), lease);

    // Alone, A reads the request and claims its acknowledgement; its send hangs.
    let a = Daemon::spawn(&cfg_a, w.dir.path());
    eventually(WAIT, "A reads the mailbox", || async {
        a.log_text()
            .contains("mailbox lease acquired")
            .then_some(())
    })
    .await;
    send_request(&w, "retenido@example.test").await;
    eventually(WAIT, "A claims the acknowledgement", || async {
        (claimed_rows(&w.db.url).await > 0).then_some(())
    })
    .await;
    a.signal("STOP");

    // B, started meanwhile, answers that request and new ones while A is frozen.
    let _b = Daemon::spawn(&cfg_b, w.dir.path());
    let mut everyone = vec!["retenido@example.test".to_string()];
    answered_while_frozen(&w, &mut everyone).await;

    a.signal("CONT");
    eventually(WAIT, "A, awake, stands by", || async {
        a.log_text().contains("mailbox lease lost").then_some(())
    })
    .await;
    w.wait_idle(WAIT).await;
    for who in &everyone {
        let got = mail::inbox(w.mail.imap_port, who).await;
        assert_eq!(got.len(), 1, "{who} got {} mails", got.len());
    }
}
