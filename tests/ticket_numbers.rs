//! Ticket numbers without gaps (issue 16): a transaction that inserts a ticket and then rolls
//! back (as PostgreSQL and SQLite do for the open transaction of a killed process) gives its
//! number back, and two instances inserting at once never get the same number. Checked on
//! SQLite and PostgreSQL, through the store as the daemon uses it, and read back with
//! `tickets list --json` as an operator would.

mod support;

use mesayuda::store::tickets::{self, NewTicket};
use mesayuda::store::Db;
use support::cli::config_for_db;
use support::{Cli, DbKind, TestDb};

fn request(message_id: &str) -> NewTicket<'_> {
    NewTicket {
        status: "registrado",
        subject: "No funciona la VPN",
        requester: "ana@example.test",
        requester_name: None,
        root_message_id: message_id,
        related_ticket: None,
        at: 1_790_000_000,
    }
}

/// One committed ticket, as an ingest transaction makes it.
async fn committed(db: &Db, message_id: &str) -> i64 {
    let mut tx = db.pool.begin().await.unwrap();
    let row = tickets::insert(&mut tx, &request(message_id))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    row.id
}

fn listed_numbers(cli: &Cli) -> Vec<i64> {
    let list = cli.json(&["tickets", "list", "--json"]);
    let mut numbers: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_i64().unwrap())
        .collect();
    numbers.sort();
    numbers
}

async fn open(kind: DbKind, dir: &std::path::Path) -> Option<(TestDb, Db)> {
    let tdb = TestDb::create(kind, dir).await?;
    let db = Db::connect(&tdb.url, 2).await.unwrap();
    db.migrate().await.unwrap();
    Some((tdb, db))
}

async fn a_rolled_back_ticket_leaves_no_gap(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some((tdb, db)) = open(kind, dir.path()).await else {
        return;
    };
    let first = committed(&db, "m1@example.test").await;

    let mut killed = db.pool.begin().await.unwrap();
    let lost = tickets::insert(&mut killed, &request("m2@example.test"))
        .await
        .unwrap();
    assert_eq!(lost.id, first + 1);
    killed.rollback().await.unwrap();

    let next = committed(&db, "m3@example.test").await;
    assert_eq!(
        next,
        first + 1,
        "the rolled-back number is the next ticket's"
    );
    let last = committed(&db, "m4@example.test").await;
    assert_eq!(last, first + 2);
    let cli = Cli::new(&config_for_db(dir.path(), &tdb.url));
    assert_eq!(listed_numbers(&cli), vec![first, first + 1, first + 2]);
}

/// Two instances (two pools, as two processes would have) insert at once: the second waits for
/// the first's transaction to end and then takes the next number — or, when the first rolls
/// back, the very number the first gave back.
async fn two_instances_inserting_at_once_share_no_number(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some((tdb, one)) = open(kind, dir.path()).await else {
        return;
    };
    let other = Db::connect(&tdb.url, 2).await.unwrap();

    // The first commits: the second, started while the first held its number, gets the next.
    let mut a = one.pool.begin().await.unwrap();
    let na = tickets::insert(&mut a, &request("a1@example.test"))
        .await
        .unwrap()
        .id;
    let waiting = {
        let other = other.clone();
        tokio::spawn(async move { committed(&other, "b1@example.test").await })
    };
    a.commit().await.unwrap();
    let nb = waiting.await.unwrap();
    assert_eq!(nb, na + 1);

    // The first rolls back: the second, waiting meanwhile, gets the number given back.
    let mut a = one.pool.begin().await.unwrap();
    let given_back = tickets::insert(&mut a, &request("a2@example.test"))
        .await
        .unwrap()
        .id;
    assert_eq!(given_back, nb + 1);
    let waiting = {
        let other = other.clone();
        tokio::spawn(async move { committed(&other, "b2@example.test").await })
    };
    a.rollback().await.unwrap();
    assert_eq!(waiting.await.unwrap(), given_back);

    let cli = Cli::new(&config_for_db(dir.path(), &tdb.url));
    assert_eq!(listed_numbers(&cli), vec![na, na + 1, na + 2]);
}

on_both_databases!(setup = kind;
    a_rolled_back_ticket_leaves_no_gap,
    two_instances_inserting_at_once_share_no_number,
);
