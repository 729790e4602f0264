//! Issue 13, item 1: intake decides first, then writes once. The database round trips a message
//! costs are counted from the daemon's own log: with `RUST_LOG=sqlx::query=debug` the driver
//! writes one line per statement it sends, inside the `ingest` span of the message's batch.
//!
//! The driver does not log the transaction's own control: SQLite's BEGIN and COMMIT are commands
//! to its worker thread, PostgreSQL's BEGIN is queued as a simple query (its COMMIT is logged).
//! Those are added here, so that the figure is the number of times the daemon waits for the
//! database while it takes the message in. On PostgreSQL the reader lease's fencing check
//! (issue 16) adds one more per transaction (a batch shares it); it is counted apart.

mod support;

use serde_json::Value;
use support::flow::{self, WAIT};
use support::mail;
use support::{eventually, DbKind, World};

/// The daemon's JSON log lines.
fn log_lines(d: &support::Daemon) -> Vec<Value> {
    d.log_text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `message ingested` line whose outcome is `outcome`, once it is written.
async fn ingested(d: &support::Daemon, outcome: &str, nth: usize) -> Value {
    eventually(
        WAIT,
        &format!("a message ingested as {outcome}"),
        || async {
            log_lines(d)
                .into_iter()
                .filter(|l| l["message"] == "message ingested" && l["outcome"] == outcome)
                .nth(nth)
        },
    )
    .await
}

/// Statements the daemon sent for the batch holding `uid`, with the transaction control the
/// driver leaves out of its log.
fn round_trips(d: &support::Daemon, kind: DbKind, uid: i64) -> (usize, Vec<String>) {
    let statements: Vec<String> = log_lines(d)
        .into_iter()
        .filter(|l| l["target"] == "sqlx::query")
        .filter(|l| {
            l["spans"].as_array().is_some_and(|spans| {
                spans
                    .iter()
                    .any(|s| s["name"] == "ingest" && s["uid"].as_i64() == Some(uid))
            })
        })
        .map(|l| l["summary"].as_str().unwrap_or("").to_owned())
        .collect();
    let statements = without_connection_setup(statements);
    let unlogged = match kind {
        DbKind::Sqlite => 2,
        DbKind::Postgres => 1,
    };
    // The reader lease's fencing check (issue 16) opens every PostgreSQL transaction, once per
    // batch of messages, whatever the messages are: it is counted apart (see `fenced`).
    let intake = statements.iter().filter(|s| !is_fence(s)).count();
    (intake + unlogged, statements)
}

/// `statements` without those of a pooled connection opening inside the message's span (the
/// pool replaces an idle connection now and then): setup, not the intake's round trips. On
/// SQLite sqlx's own pragma block (`PRAGMA foreign_keys = ON; …`) and the session's pragmas
/// after it; on PostgreSQL the session's `SET`s, of which only the last two are never run
/// otherwise.
fn without_connection_setup(statements: Vec<String>) -> Vec<String> {
    const SQLITE_SESSION: [&str; 4] = [
        "PRAGMA journal_mode = WAL",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
    ];
    let opens_pg =
        |s: &str| s.starts_with("SET application_name") || s.starts_with("SET idle_in_transaction");
    let mut kept: Vec<String> = Vec::new();
    let mut in_sqlite_setup = 0;
    for (i, s) in statements.iter().enumerate() {
        if s.starts_with("PRAGMA foreign_keys = ON;") {
            in_sqlite_setup = SQLITE_SESSION.len();
            continue;
        }
        if in_sqlite_setup > 0 && SQLITE_SESSION.contains(&s.as_str()) {
            in_sqlite_setup -= 1;
            continue;
        }
        in_sqlite_setup = 0;
        let next_opens = statements.get(i + 1).is_some_and(|n| opens_pg(n));
        if opens_pg(s) || (s == "SET synchronous_commit = off" && next_opens) {
            continue;
        }
        kept.push(s.clone());
    }
    kept
}

fn is_fence(statement: &str) -> bool {
    statement.starts_with("UPDATE reader_lease")
}

/// How many fencing checks the batch holding `uid` made: one on PostgreSQL (the lease), none
/// on SQLite (a single instance).
fn fenced(sent: &[String]) -> usize {
    sent.iter().filter(|s| is_fence(s)).count()
}

async fn a_new_request_costs_five_round_trips_and_a_threaded_reply_four(w: World) {
    let text = std::fs::read_to_string(&w.config).expect("config");
    std::fs::write(&w.config, format!("{text}\n[log]\nformat = \"json\"\n")).expect("config");
    let d = support::Daemon::spawn_logging(&w.config, w.dir.path(), "info,sqlx::query=debug");
    let from = "Laura Gómez <laura.gomez@example.test>";
    let id = flow::request(
        &w,
        from,
        "Desbloqueo de mi usuario de red",
        "Buenos días, mi cuenta quedó bloqueada.\n\nUsuario de red: lgomez\n\nGracias.",
    )
    .await;
    let created = ingested(&d, "created", 0).await;
    let ack = flow::inbox_with(&w, from, "acknowledgement", |m| {
        flow::tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    mail::reply(
        w.mail.smtp_port,
        from,
        &ack,
        "Gracias. Estaré en la oficina toda la tarde.",
    )
    .await;
    let threaded = ingested(&d, "threaded", 0).await;
    assert_eq!(threaded["ticket"], id.as_str(), "{threaded}");

    let kind = w.db.kind;
    let fences = match kind {
        DbKind::Sqlite => 0,
        DbKind::Postgres => 1,
    };
    let (new, sent) = round_trips(&d, kind, created["uid"].as_i64().expect("uid"));
    assert!(new <= 5, "a new request took {new} round trips: {sent:#?}");
    assert_eq!(fenced(&sent), fences, "{sent:#?}");
    let (reply, sent) = round_trips(&d, kind, threaded["uid"].as_i64().expect("uid"));
    assert!(
        reply <= 4,
        "a threaded reply took {reply} round trips: {sent:#?}"
    );
    assert_eq!(fenced(&sent), fences, "{sent:#?}");
    // The daemon did its work: the requester's reply is on the ticket.
    let t = flow::ticket_where(&w, &id, "the reply on the ticket", |t| {
        flow::events(t, "respuesta_recibida") == 1
    })
    .await;
    assert_eq!(t["id"], id.as_str());
}

on_both_databases!(with_procedure; a_new_request_costs_five_round_trips_and_a_threaded_reply_four);

/// The sequence a CI run logged when the pool opened a connection inside a request's span:
/// dropped whole, the intake's own statements kept.
#[test]
fn a_connection_opening_is_not_counted() {
    let seen: Vec<String> = [
        "PRAGMA foreign_keys = ON; …",
        "PRAGMA journal_mode = WAL",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
        "WITH refs (mid, pos) …",
        "PRAGMA synchronous = NORMAL",
        "SET synchronous_commit = off",
        "SET application_name = 'mesayuda'",
        "SET synchronous_commit = off",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        without_connection_setup(seen),
        [
            "WITH refs (mid, pos) …",
            "PRAGMA synchronous = NORMAL",
            "SET synchronous_commit = off"
        ]
    );
}
