//! Migrations 0019 and 0020: SQLite tables STRICT, and status, kind, reason and purpose columns
//! (0020: the kinds of mail and events, old ones included) limited to the words the code knows,
//! by `CHECK`s on both databases. A database left at 0018 by the
//! previous version, with a row in every table, is migrated by `mesayuda migrate` as an
//! operator runs it: every row is kept and the tickets are listed as before. A word the code
//! does not know is refused by the database from then on; one already stored stops the
//! migration with a message naming the table, column and value, and the database is left as
//! it was, so the operator can correct the row and migrate again.

mod support;

use mesayuda::domain::event_kind::EventKind;
use mesayuda::domain::mail_kind::MailKind;
use mesayuda::store::{is_data_error, Db};
use sqlx::Row;
use support::cli::config_for_db;
use support::{Cli, DbKind, TestDb};

/// Every table of the schema (0018 and 0019 have the same ones).
const TABLES: [&str; 19] = [
    "tickets",
    "messages",
    "attachments",
    "events",
    "outbox",
    "mailbox_state",
    "timers",
    "incidents",
    "approvals",
    "approval_tokens",
    "digests",
    "incident_tokens",
    "panel_links",
    "panel_sessions",
    "ticket_numbers",
    "ldap_directory",
    "reader_lease",
    "panel_link_requests",
    "raw_chunks",
];

const RAW: &[u8] = b"From: Ana <ana@example.test>\r\nSubject: VPN\r\n\r\nNo conecta.\xff\x00";

/// A database as the previous version left it: migrations up to 0018 applied.
async fn at_0018(kind: DbKind, dir: &std::path::Path) -> Option<(TestDb, Db)> {
    at_version(kind, dir, 18).await
}

/// A database with migrations up to `version` applied.
async fn at_version(kind: DbKind, dir: &std::path::Path, version: i64) -> Option<(TestDb, Db)> {
    let tdb = TestDb::create(kind, dir).await?;
    let db = Db::connect(&tdb.url, 2).await.unwrap();
    let mut migrator = match kind {
        DbKind::Sqlite => sqlx::migrate!("migrations/sqlite"),
        DbKind::Postgres => sqlx::migrate!("migrations/postgres"),
    };
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    migrator.run(&db.pool).await.unwrap();
    Some((tdb, db))
}

async fn exec(db: &Db, sql: &'static str) {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// One row or more in every table, with the values the daemon writes.
async fn populate(db: &Db) {
    for sql in [
        "
        INSERT INTO tickets (id, status, close_reason, subject, requester, requester_name,
                             root_message_id, created_at, updated_at, service, priority,
                             assignee, fields_json, sla_target_secs, sla_used_secs,
                             sla_running_since)
        VALUES (1, 'pendiente_aprobacion', NULL, 'No conecta la VPN', 'ana@example.test', 'Ana',
                'req1@example.test', 1790000000, 1790000100, 'vpn', 'alta',
                'tecnico@example.test', '{\"Ubicación\":\"Piso 3\"}', 28800, 60, 1790000000)
        ",
        "
        INSERT INTO tickets (id, status, close_reason, subject, requester, root_message_id,
                             created_at, updated_at, closed_at, survey_rating)
        VALUES (2, 'cerrado', 'resuelto', 'Impresora', 'ivan@example.test', 'req2@example.test',
                1790000000, 1790000200, 1790000200, 5)
        ",
        "UPDATE ticket_numbers SET last_number = 2",
        "
        INSERT INTO messages (id, ticket_id, direction, kind, message_id, from_addr, to_addrs,
                              subject, body_text, at, imap_uidvalidity, imap_uid, imap_state,
                              created_at, fingerprint)
        VALUES (1, 1, 'in', 'nueva_solicitud', 'req1@example.test', 'ana@example.test',
                'mesa@example.test', 'No conecta la VPN', 'No conecta.', 1790000000, 7, 41,
                'moved', 1790000000, 'f1'),
               (2, 1, 'out', 'acuse', 'ack1@example.test', 'mesa@example.test',
                'ana@example.test', '[REQ-1] Recibida', 'Recibimos su solicitud.', 1790000001,
                NULL, NULL, NULL, 1790000001, NULL),
               (3, NULL, 'in', 'cuarentena', 'bad@example.test', 'x@example.test',
                'mesa@example.test', '?', '', 1790000002, 7, 42, 'pending_quarantine',
                1790000002, NULL)
        ",
        "
        INSERT INTO events (ticket_id, at, actor, activity, kind, description)
        VALUES (1, 1790000000, 'sistema', 1, 'solicitud_recibida', 'Solicitud registrada'),
               (1, 1790000100, 'tecnico@example.test', 10, 'aprobacion_solicitada', 'Se pide aprobación')
        ",
        "
        INSERT INTO outbox (id, ticket_id, kind, message_id, envelope_from, recipients, raw,
                            status, attempts, next_attempt_at, created_at, sent_at)
        VALUES (5, 1, 'acuse', 'ack1@example.test', 'mesa@example.test', 'ana@example.test',
                '', 'sent', 1, 1790000001, 1790000001, 1790000002)
        ",
        "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at) VALUES ('INBOX', 7, 42, 1790000002)",
        "INSERT INTO timers (ticket_id, kind, due_at) VALUES (1, 'sla', 1790028800), (1, 'aprobacion_recordatorio', 1790086400)",
        "
        INSERT INTO incidents (id, requester, subject, message_id, created_at, from_ticket, reason)
        VALUES (1, 'ana@example.test', 'Caída de la VPN', 'inc1@example.test', 1790000300, 1,
                'Afecta a todo el piso')
        ",
        "
        INSERT INTO approvals (ticket_id, kind, approver, status, requested_at, unclear_answers,
                               substitute_notified)
        VALUES (1, 'jefe_inmediato', 'jefe@example.test', 'pendiente', 1790000100, 0, 0)
        ",
        "
        INSERT INTO approval_tokens (token_hash, ticket_id, recipient, created_at, purpose)
        VALUES ('h1', 1, 'jefe@example.test', 1790000100, 'aprobacion'),
               ('h2', 1, 'tecnico@example.test', 1790000100, 'respuesta')
        ",
        "INSERT INTO digests (day, sent_at) VALUES ('2026-09-21', 1790000400)",
        "INSERT INTO incident_tokens (token_hash, incident_id, recipient, created_at) VALUES ('i1', 1, 'tecnico@example.test', 1790000300)",
        "INSERT INTO panel_links (token_hash, email, created_at, expires_at, ticket_id) VALUES ('p1', 'ana@example.test', 1790000500, 1790004100, 1)",
        "INSERT INTO panel_sessions (token_hash, email, created_at, last_seen) VALUES ('s1', 'ana@example.test', 1790000600, 1790000700)",
        "INSERT INTO ldap_directory (singleton, entries, read_at) VALUES (1, '[]', 1790000000)",
        "INSERT INTO reader_lease (mailbox, holder, fence, expires_at_ms) VALUES ('INBOX', 'mesayuda-0000000000000001', 3, 1790000000000)",
        "INSERT INTO panel_link_requests (client_hash, at) VALUES ('c1', 1790000500)",
    ] {
        exec(db, sql).await;
    }
    // Bytes that are not text, bound as the daemon binds them.
    sqlx::query(
        "
        INSERT INTO attachments (message_row, ticket_id, filename, content_type, size, sha256, content)
        VALUES (1, 1, 'captura.png', 'image/png', $1, 'abc', $2)
        ",
    )
    .bind(RAW.len() as i64)
    .bind(RAW.to_vec())
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE messages SET raw = $1 WHERE id = 1")
        .bind(RAW.to_vec())
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO raw_chunks (message_row, seq, data) VALUES (3, 0, $1)")
        .bind(RAW.to_vec())
        .execute(&db.pool)
        .await
        .unwrap();
    // Outbox id 6 was used and its row deleted: ids are never handed out twice.
    sqlx::query(
        "
        INSERT INTO outbox (id, ticket_id, kind, message_id, envelope_from, recipients, raw,
                            status, attempts, next_attempt_at, created_at)
        VALUES (6, 1, 'solicitud_aprobacion', 'apr1@example.test', 'mesa@example.test',
                'jefe@example.test', $1, 'pending', 0, 1790000100, 1790000100)
        ",
    )
    .bind(RAW.to_vec())
    .execute(&db.pool)
    .await
    .unwrap();
    exec(db, "DELETE FROM outbox WHERE id = 6").await;
}

async fn counts(db: &Db) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for t in TABLES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        out.push((t, n));
    }
    out
}

fn migrate(dir: &std::path::Path, url: &str) -> std::process::Output {
    Cli::new(&config_for_db(dir, url)).run(&["migrate"])
}

/// `mesayuda migrate` succeeds; returns what it printed.
fn migrates(dir: &std::path::Path, url: &str) -> String {
    let out = migrate(dir, url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn a_database_at_0018_keeps_every_row_and_its_tickets(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some((tdb, db)) = at_0018(kind, dir.path()).await else {
        return;
    };
    populate(&db).await;
    let before = counts(&db).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");
    db.pool.close().await;

    // 0019 to 0022.
    assert_eq!(
        migrates(dir.path(), &tdb.url),
        "Se aplicaron 4 migraciones."
    );

    let db = Db::connect(&tdb.url, 2).await.unwrap();
    assert_eq!(counts(&db).await, before);
    let cli = Cli::new(&config_for_db(dir.path(), &tdb.url));
    let listed: Vec<String> = cli
        .tickets()
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(listed, ["REQ-1", "REQ-2", "INC-1"]);
    let shown = cli.ticket("REQ-1");
    assert_eq!(shown["status"], "pendiente_aprobacion", "{shown}");
    assert_eq!(shown["priority"], "alta", "{shown}");
    let raw: Vec<u8> = sqlx::query_scalar("SELECT raw FROM messages WHERE id = 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(raw, RAW);
    let content: Vec<u8> = sqlx::query_scalar("SELECT content FROM attachments")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(content, RAW);
    // SQLite's rebuilt table keeps AUTOINCREMENT's counter: the next queued mail does not take
    // the id of the one deleted before the migration (PostgreSQL's sequences are untouched).
    let id: i64 = sqlx::query_scalar(
        "
        INSERT INTO outbox (ticket_id, kind, message_id, envelope_from, recipients, raw, status,
                            attempts, next_attempt_at, created_at)
        VALUES (1, 'acuse', 'ack9@example.test', 'mesa@example.test', 'ana@example.test', $1,
                'pending', 0, 1790000900, 1790000900)
        RETURNING id
        ",
    )
    .bind(RAW.to_vec())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    if kind == DbKind::Sqlite {
        assert_eq!(id, 7);
        for t in TABLES {
            let sql: String = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1",
            )
            .bind(t)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            assert!(sql.trim_end().ends_with("STRICT"), "{t}: {sql}");
        }
        let fk_on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(fk_on, 1);
    }
}

/// After 0019 the database itself refuses what the code would not write, as bad data (not an
/// outage to wait out): a word outside a column's list, and on SQLite (STRICT) text in an
/// integer column, which PostgreSQL's typed columns always refused.
async fn a_value_outside_the_checks_is_refused(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(tdb) = TestDb::create(kind, dir.path()).await else {
        return;
    };
    let db = Db::connect(&tdb.url, 2).await.unwrap();
    db.migrate().await.unwrap();
    let ticket = "
        INSERT INTO tickets (id, status, subject, requester, root_message_id, created_at, updated_at)
        VALUES (1, 'registrado', 's', 'ana@example.test', 'm@example.test', 1790000000, 1790000000)
        ";
    exec(&db, ticket).await;
    sqlx::query(
        "
        INSERT INTO outbox (id, kind, message_id, envelope_from, recipients, raw, status,
                            next_attempt_at, created_at)
        VALUES (1, 'acuse', 'o@example.test', 'mesa@example.test', 'ana@example.test', $1,
                'pending', 1, 1)
        ",
    )
    .bind(RAW.to_vec())
    .execute(&db.pool)
    .await
    .unwrap();
    for (sql, what) in [
        (
            "UPDATE tickets SET status = 'en_revision_externa' WHERE id = 1",
            "tickets_status_known",
        ),
        (
            "UPDATE tickets SET close_reason = 'olvido' WHERE id = 1",
            "tickets_close_reason_known",
        ),
        (
            "UPDATE tickets SET priority = 'urgente' WHERE id = 1",
            "tickets_priority_known",
        ),
        (
            "INSERT INTO timers (ticket_id, kind, due_at) VALUES (1, 'recordatorio', 1)",
            "timers_kind_known",
        ),
        (
            "
            INSERT INTO approvals (ticket_id, kind, status)
            VALUES (1, 'jefe_inmediato', 'aprobada')
            ",
            "approvals_status_known",
        ),
        (
            "
            INSERT INTO approval_tokens (token_hash, ticket_id, recipient, created_at, purpose)
            VALUES ('h', 1, 'x@example.test', 1, 'consulta')
            ",
            "approval_tokens_purpose_known",
        ),
        (
            "UPDATE outbox SET status = 'queued' WHERE id = 1",
            "outbox_status_known",
        ),
        (
            "UPDATE outbox SET kind = 'boletin' WHERE id = 1",
            "outbox_kind_known",
        ),
        (
            "
            INSERT INTO messages (ticket_id, direction, kind, message_id, from_addr, to_addrs,
                                  subject, body_text, at, created_at)
            VALUES (1, 'in', 'request', 'x@example.test', 'ana@example.test',
                    'mesa@example.test', 's', 'b', 1, 1)
            ",
            "messages_kind_known",
        ),
        (
            "
            INSERT INTO events (ticket_id, at, actor, kind, description)
            VALUES (1, 1, 'sistema', 'creado', 'x')
            ",
            "events_kind_known",
        ),
        ("UPDATE tickets SET created_at = 'ayer' WHERE id = 1", ""),
    ] {
        let e = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&db.pool)
            .await
            .expect_err(sql);
        assert!(is_data_error(&e), "{sql}: {e:?}");
        assert!(e.to_string().contains(what), "{sql}: {e}");
    }
    let status: String = sqlx::query("SELECT status FROM tickets WHERE id = 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "registrado");
}

/// A word the code does not know, already stored by a newer version that was rolled back, or
/// by hand: the migration does not start, says where it is, and leaves the database as it was;
/// once the operator corrects the row, it goes through.
async fn an_unknown_stored_value_stops_the_migration_naming_it(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some((tdb, db)) = at_0018(kind, dir.path()).await else {
        return;
    };
    populate(&db).await;
    exec(
        &db,
        "UPDATE tickets SET status = 'en_revision_externa' WHERE id = 1",
    )
    .await;
    exec(
        &db,
        "UPDATE approvals SET kind = 'comite' WHERE ticket_id = 1",
    )
    .await;
    exec(&db, "UPDATE outbox SET kind = 'boletin' WHERE id = 5").await;

    let out = migrate(dir.path(), &tdb.url);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tickets.status holds `en_revision_externa` in 1 row(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("approvals.kind holds `comite` in 1 row(s)"),
        "{stderr}"
    );
    // 0020's CHECKs are looked at too, before anything is applied: one start names it all.
    assert!(
        stderr.contains("outbox.kind holds `boletin` in 1 row(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("migration 19 not applied"), "{stderr}");
    let status: String = sqlx::query("SELECT status FROM tickets WHERE id = 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "en_revision_externa");
    let applied: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(applied, 18);

    exec(
        &db,
        "UPDATE tickets SET status = 'trabajo_en_progreso' WHERE id = 1",
    )
    .await;
    exec(
        &db,
        "UPDATE approvals SET kind = 'jefe_inmediato' WHERE ticket_id = 1",
    )
    .await;
    exec(&db, "UPDATE outbox SET kind = 'acuse' WHERE id = 5").await;
    db.pool.close().await;
    migrates(dir.path(), &tdb.url);
    let shown = Cli::new(&config_for_db(dir.path(), &tdb.url)).ticket("REQ-1");
    assert_eq!(shown["status"], "trabajo_en_progreso", "{shown}");
}

/// Migration 0020 on a database of any age: every mail and event kind a version of mesayuda
/// ever wrote, those it no longer writes included (`alerta_seguridad`, `aprobacion_pendiente`),
/// is kept, and the ticket shows them as before.
async fn every_kind_ever_written_survives_the_migration(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some((tdb, db)) = at_0018(kind, dir.path()).await else {
        return;
    };
    populate(&db).await;
    for (i, k) in MailKind::all().enumerate() {
        sqlx::query(
            "
            INSERT INTO messages (id, ticket_id, direction, kind, message_id, from_addr, to_addrs,
                                  subject, body_text, at, created_at)
            VALUES ($4, 1, 'out', $1, $2, 'mesa@example.test', 'ana@example.test', $1, 'x', $3, $3)
            ",
        )
        .bind(k.as_str())
        .bind(format!("k{i}@example.test"))
        .bind(1790001000 + i as i64)
        .bind(100 + i as i64)
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query(
            "
            INSERT INTO outbox (id, ticket_id, kind, message_id, envelope_from, recipients, raw,
                                status, attempts, next_attempt_at, created_at)
            VALUES ($4, 1, $1, $2, 'mesa@example.test', 'ana@example.test', $3, 'sent', 1, 1, 1)
            ",
        )
        .bind(k.as_str())
        .bind(format!("o{i}@example.test"))
        .bind(RAW.to_vec())
        .bind(100 + i as i64)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    for (i, k) in EventKind::all().enumerate() {
        sqlx::query(
            "
            INSERT INTO events (ticket_id, at, actor, activity, kind, description)
            VALUES (1, $1, 'sistema', NULL, $2, 'x')
            ",
        )
        .bind(1790001000 + i as i64)
        .bind(k.as_str())
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let before = counts(&db).await;
    db.pool.close().await;

    migrates(dir.path(), &tdb.url);
    let db = Db::connect(&tdb.url, 2).await.unwrap();
    assert_eq!(counts(&db).await, before);
    let shown = Cli::new(&config_for_db(dir.path(), &tdb.url)).ticket("REQ-1");
    let kinds = |list: &str| -> Vec<String> {
        shown[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let (messages, events) = (kinds("messages"), kinds("events"));
    for k in MailKind::all() {
        assert!(
            messages.iter().any(|m| m == k.as_str()),
            "{k}: {messages:?}"
        );
    }
    for k in EventKind::all() {
        assert!(events.iter().any(|e| e == k.as_str()), "{k}: {events:?}");
    }
    assert!(messages.iter().any(|m| m == "alerta_seguridad"));
    assert!(events.iter().any(|e| e == "aprobacion_pendiente"));
}

/// A database already at 0019 with a kind the code does not know: 0020 does not start, names
/// the row, and goes through once it is corrected.
async fn an_unknown_kind_stops_migration_0020_naming_it(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some((tdb, db)) = at_version(kind, dir.path(), 19).await else {
        return;
    };
    let rows = [
        "
        INSERT INTO tickets (id, status, subject, requester, root_message_id, created_at, updated_at)
        VALUES (1, 'registrado', 's', 'ana@example.test', 'm@example.test', 1790000000, 1790000000)
        ",
        "
        INSERT INTO events (ticket_id, at, actor, activity, kind, description)
        VALUES (1, 1790000000, 'sistema', 1, 'creado', 'Solicitud registrada')
        ",
    ];
    for sql in rows {
        exec(&db, sql).await;
    }

    let out = migrate(dir.path(), &tdb.url);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("migration 20 not applied"), "{stderr}");
    assert!(
        stderr.contains("events.kind holds `creado` in 1 row(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("CHECK events_kind_known"), "{stderr}");
    let applied: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(applied, 19);

    exec(
        &db,
        "UPDATE events SET kind = 'solicitud_recibida' WHERE kind = 'creado'",
    )
    .await;
    db.pool.close().await;
    // 0020, then 0021 and 0022.
    assert_eq!(
        migrates(dir.path(), &tdb.url),
        "Se aplicaron 3 migraciones."
    );
}

/// SQLite only: a row written with foreign keys off (by hand, with the `sqlite3` shell, whose
/// default that is) that refers to a missing ticket stops the migration, named, since the
/// rebuilt tables are checked before they replace the old ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_referring_to_a_missing_ticket_stops_the_sqlite_migration_naming_it() {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    let Some((tdb, db)) = at_0018(DbKind::Sqlite, dir.path()).await else {
        return;
    };
    populate(&db).await;
    db.pool.close().await;
    let mut by_hand = sqlx::sqlite::SqliteConnectOptions::from_str(&tdb.url)
        .unwrap()
        .foreign_keys(false)
        .connect()
        .await
        .unwrap();
    sqlx::query("INSERT INTO events (ticket_id, at, actor, kind, description) VALUES (99, 1, 'a', 'nota', 'x')")
        .execute(&mut by_hand)
        .await
        .unwrap();
    drop(by_hand);

    let out = migrate(dir.path(), &tdb.url);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("events row 3 refers to a row of tickets that does not exist"),
        "{stderr}"
    );
}

on_both_databases!(setup = kind;
    a_database_at_0018_keeps_every_row_and_its_tickets,
    a_value_outside_the_checks_is_refused,
    an_unknown_stored_value_stops_the_migration_naming_it,
    every_kind_ever_written_survives_the_migration,
    an_unknown_kind_stops_migration_0020_naming_it,
);
