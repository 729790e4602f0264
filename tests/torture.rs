//! Issue "Nothing lost, nothing twice, no loops", part 1: crash torture.
//!
//! The help-desk mailbox is loaded with requests (one requester address each, so that their
//! acknowledgements can be counted) and replies to half of them, in waves; the daemon is killed
//! with SIGKILL at a random moment while it works on each wave and started again. At the end:
//! one ticket per request, every reply on its ticket, one acknowledgement per ticket in the
//! requester's inbox, an empty INBOX, and every loaded mail in `Procesados` or `Cuarentena`.
//!
//! CI runs 100 requests and 8 kills per database. The long run (`tests/torture.sh`) sets
//! `MESAYUDA_TORTURE_REQUESTS=500` and `MESAYUDA_TORTURE_KILLS=20`; `MESAYUDA_TORTURE_SEED`
//! replays a run (the seed is printed).

mod support;

use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::mail::{self, Draft};
use support::{eventually, DbKind, World, HELPDESK};

/// No work for this long: the daemon is done with what it was given.
const IDLE: Duration = Duration::from_millis(1500);
/// Bounds for waits that depend on the machine (2 cores shared in CI).
const PROGRESS_WAIT: Duration = Duration::from_secs(60);
const FINISH_WAIT: Duration = Duration::from_secs(240);

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn requester(i: usize) -> String {
    format!("req{i:04}@example.test")
}

/// The subject carries the request's number, so that its ticket can be found again.
fn subject(i: usize) -> String {
    format!("Solicitud de prueba número {i:04}")
}

struct Load {
    /// Request index → Message-ID of the request.
    requests: BTreeMap<usize, String>,
    /// Request index → body of the reply sent for it.
    replies: BTreeMap<usize, String>,
}

/// Appends one wave: its requests, then replies to every other one (threaded by In-Reply-To
/// only, with the subject rewritten, as a user replying to their own sent mail would).
/// A reply always gets a higher UID than its request, as in real life.
async fn load_wave(w: &World, range: std::ops::Range<usize>, load: &mut Load) {
    let mut session = mail::login(w.mail.imap_port, HELPDESK).await;
    let mut raws = Vec::new();
    for i in range.clone() {
        let from = format!("Usuario {i} <{}>", requester(i));
        let subject = subject(i);
        let body = format!("Buenos días, necesito ayuda con el equipo {i}. Gracias.");
        let (id, raw) = Draft::new(&from, &subject, &body).render();
        load.requests.insert(i, id);
        raws.push(raw);
    }
    for i in range.filter(|i| i % 2 == 0) {
        let from = format!("Usuario {i} <{}>", requester(i));
        let body = format!("Complemento {i}: el equipo es el PC-{i:04}.");
        let mut d = Draft::new(&from, "Más información", &body);
        d.in_reply_to = Some(load.requests[&i].clone());
        raws.push(d.render().1);
        load.replies.insert(i, body);
    }
    for raw in raws {
        session
            .append("INBOX", None, None, &raw)
            .await
            .expect("append to the help-desk INBOX");
    }
    let _ = session.logout().await;
}

async fn folder_count(port: u16, user: &str, folder: &str) -> u32 {
    let mut s = mail::login(port, user).await;
    let n = match s.examine(folder).await {
        Ok(m) => m.exists,
        Err(_) => 0,
    };
    let _ = s.logout().await;
    n
}

/// How many lines of a run's log show work done (a mail taken in or sent).
fn progress(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("message ingested") || l.contains("mail sent"))
        .count()
}

fn pending_outbox(w: &World) -> usize {
    match w
        .cli()
        .json(&["outbox", "list", "--status", "pending", "--json"])
    {
        Value::Array(a) => a.len(),
        other => panic!("outbox list --json is not an array: {other}"),
    }
}

struct Figures {
    requests: usize,
    loaded: usize,
    kills: usize,
    killed_mid_work: usize,
    duplicate_acks: usize,
    secs: u64,
}

async fn torture(w: World, requests: usize, kills: usize) -> Figures {
    let seed: u64 = std::env::var("MESAYUDA_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!(
        "torture on {:?}: {requests} requests, {kills} kills, seed {seed}",
        w.db.kind
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut load = Load {
        requests: BTreeMap::new(),
        replies: BTreeMap::new(),
    };
    let waves = kills + 1;
    let wave = |k: usize| (k * requests / waves)..((k + 1) * requests / waves);
    let mut killed_mid_work = 0;
    for k in 0..kills {
        load_wave(&w, wave(k), &mut load).await;
        let mut d = w.spawn_daemon();
        // Kill at a random point of this wave's work (mail taken in or sent), or once the
        // daemon has been idle for a while when less work than that was left.
        let work = 3 * wave(k).len();
        let target = rng.gen_range(1..=work.max(1));
        let mut last = (0, Instant::now());
        let spawned = Instant::now();
        loop {
            let done = progress(&d.log_text());
            if done >= target {
                break;
            }
            if done != last.0 {
                last = (done, Instant::now());
            }
            if done > 0 && last.1.elapsed() > IDLE {
                break;
            }
            assert!(
                spawned.elapsed() < PROGRESS_WAIT,
                "no progress in {PROGRESS_WAIT:?}:\n{}",
                d.log_text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            d.is_running(),
            "the daemon exited by itself:\n{}",
            d.log_text()
        );
        d.kill();
        // Was there still work when it died? (Not asserted: the moment is random.)
        let inbox = folder_count(w.mail.imap_port, HELPDESK, "INBOX").await;
        if inbox > 0 || pending_outbox(&w) > 0 {
            killed_mid_work += 1;
        }
    }
    load_wave(&w, wave(kills), &mut load).await;
    let loaded = load.requests.len() + load.replies.len();
    let mut d = w.spawn_daemon();
    eventually(
        FINISH_WAIT,
        "every mail taken in and every mail sent",
        || async {
            let inbox = folder_count(w.mail.imap_port, HELPDESK, "INBOX").await;
            (inbox == 0 && w.cli().tickets().len() >= requests && pending_outbox(&w) == 0)
                .then_some(())
        },
    )
    .await;
    let (took, status) = d.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?}\n{}",
        d.log_text()
    );
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");

    // Nothing deleted without being stored, nothing left behind.
    let port = w.mail.imap_port;
    assert_eq!(folder_count(port, HELPDESK, "INBOX").await, 0);
    let processed = folder_count(port, HELPDESK, "Procesados").await as usize;
    let quarantined = folder_count(port, HELPDESK, "Cuarentena").await as usize;
    assert_eq!(
        processed + quarantined,
        loaded,
        "{processed} processed + {quarantined} quarantined for {loaded} loaded"
    );
    assert_eq!(quarantined, 0, "well-formed mail was quarantined");

    // Exactly one ticket per request, with its request and, where sent, its reply.
    let tickets = w.cli().tickets();
    assert_eq!(tickets.len(), requests, "tickets: {}", tickets.len());
    let mut by_requester = BTreeMap::new();
    for t in &tickets {
        let who = t["requester"].as_str().unwrap().to_owned();
        assert!(
            by_requester
                .insert(who.clone(), t["id"].as_str().unwrap().to_owned())
                .is_none(),
            "{who} has two tickets"
        );
    }
    let cli = w.cli();
    for (i, request_id) in &load.requests {
        let id = by_requester
            .get(&requester(*i))
            .unwrap_or_else(|| panic!("no ticket for request {i}"));
        let t = cli.ticket(id);
        assert_eq!(t["subject"], subject(*i).as_str(), "{id}");
        let ins: Vec<&Value> = t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "in")
            .collect();
        assert_eq!(ins[0]["message_id"], request_id.as_str(), "{id}: {ins:?}");
        match load.replies.get(i) {
            Some(body) => {
                assert_eq!(ins.len(), 2, "{id}: {ins:?}");
                assert_eq!(ins[1]["body_text"], body.as_str(), "{id}");
            }
            None => assert_eq!(ins.len(), 1, "{id}: {ins:?}"),
        }
    }

    // Exactly one acknowledgement per ticket, counted in the requesters' inboxes. A mail the
    // SMTP server accepted just before a kill, and not yet marked sent, goes out again after
    // the restart: the same message (same Message-ID), counted here as a duplicate.
    let mut duplicate_acks = 0;
    for i in load.requests.keys() {
        let who = requester(*i);
        let inbox = mail::inbox(port, &who).await;
        let tag = &by_requester[&who];
        let ids: BTreeSet<&str> = inbox.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(
            ids.len(),
            1,
            "{who} received {} different mails: {:?}",
            ids.len(),
            inbox.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        assert!(
            inbox
                .iter()
                .all(|m| m.subject.contains(&format!("[{tag}]"))),
            "{who}: {:?}",
            inbox.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        duplicate_acks += inbox.len() - 1;
    }
    Figures {
        requests,
        loaded,
        kills,
        killed_mid_work,
        duplicate_acks,
        secs: started.elapsed().as_secs(),
    }
}

async fn run(kind: DbKind, requests: usize, kills: usize) {
    let Some(w) = World::new(kind).await else {
        return;
    };
    let f = torture(w, requests, kills).await;
    eprintln!(
        "TORTURE {kind:?}: {} requests + replies = {} mails, {} SIGKILLs survived ({} with work \
         still pending), 0 lost, {} duplicate acknowledgements, {} s",
        f.requests, f.loaded, f.kills, f.killed_mid_work, f.duplicate_acks, f.secs
    );
    // A duplicate needs a kill in the instant between the server's reply and the commit that
    // marks the mail sent: at most the mails in flight at each kill.
    assert!(
        f.duplicate_acks <= f.kills * 4,
        "{} duplicates for {} kills",
        f.duplicate_acks,
        f.kills
    );
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigkill_at_random_moments_loses_nothing_and_acknowledges_once() {
        let n = env_or("MESAYUDA_TORTURE_REQUESTS", 100);
        let k = env_or("MESAYUDA_TORTURE_KILLS", 8);
        run(DbKind::Sqlite, n, k).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigkill_at_random_moments_loses_nothing_and_acknowledges_once() {
        let n = env_or("MESAYUDA_TORTURE_REQUESTS", 100);
        let k = env_or("MESAYUDA_TORTURE_KILLS", 8);
        run(DbKind::Postgres, n, k).await;
    }
}
