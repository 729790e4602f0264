//! The columns whose stored values the code reads back as one of its own words (status, kind,
//! reason, purpose, …), with the words it knows, taken from the types that write them.
//! Migrations 0019 and 0020 put the same lists in `CHECK`s (a unit test below compares them
//! with both backends' files); before applying either, [`refuse_unknown`] looks for rows it
//! would refuse and names them.

use super::{Conn, Dialect};
use crate::domain::authority::TokenPurpose;
use crate::domain::catalog::ApprovalKind;
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::procedure::aprobacion::ApprovalStatus;
use crate::domain::procedure::TimerKind;
use crate::domain::text::Priority;
use crate::domain::ticket::{CloseReason, Status};

/// The migration that makes SQLite's tables STRICT and adds the first `CHECK`s (status,
/// reason, purpose, and the kinds of timers and approvals).
const STRICT_MIGRATION: i64 = 19;
/// The migration that adds the `CHECK`s on mail and event kinds.
const KINDS_MIGRATION: i64 = 20;

/// One column of closed vocabulary, and its `CHECK`'s name in the migration that adds it.
pub(super) struct Known {
    pub migration: i64,
    pub table: &'static str,
    pub column: &'static str,
    pub constraint: &'static str,
    pub values: Vec<&'static str>,
}

pub(super) fn columns() -> Vec<Known> {
    let known = |table, column, constraint, values| Known {
        migration: STRICT_MIGRATION,
        table,
        column,
        constraint,
        values,
    };
    vec![
        known(
            "tickets",
            "status",
            "tickets_status_known",
            Status::all().map(|s| s.as_str()).collect(),
        ),
        known(
            "tickets",
            "close_reason",
            "tickets_close_reason_known",
            CloseReason::all().map(|r| r.as_str()).collect(),
        ),
        known(
            "tickets",
            "priority",
            "tickets_priority_known",
            priorities(),
        ),
        known(
            "messages",
            "direction",
            "messages_direction_known",
            super::messages::DIRECTIONS.to_vec(),
        ),
        known(
            "messages",
            "imap_state",
            "messages_imap_state_known",
            super::messages::IMAP_STATES.to_vec(),
        ),
        known(
            "outbox",
            "status",
            "outbox_status_known",
            super::outbox::STATUSES.to_vec(),
        ),
        known("timers", "kind", "timers_kind_known", timer_kinds()),
        known(
            "approvals",
            "kind",
            "approvals_kind_known",
            ApprovalKind::ALL.iter().map(|k| k.as_str()).collect(),
        ),
        known(
            "approvals",
            "status",
            "approvals_status_known",
            approval_statuses(),
        ),
        known(
            "approval_tokens",
            "purpose",
            "approval_tokens_purpose_known",
            token_purposes(),
        ),
        Known {
            migration: KINDS_MIGRATION,
            ..known(
                "messages",
                "kind",
                "messages_kind_known",
                MailKind::all().map(MailKind::as_str).collect(),
            )
        },
        Known {
            migration: KINDS_MIGRATION,
            ..known(
                "outbox",
                "kind",
                "outbox_kind_known",
                MailKind::all().map(MailKind::as_str).collect(),
            )
        },
        Known {
            migration: KINDS_MIGRATION,
            ..known(
                "events",
                "kind",
                "events_kind_known",
                EventKind::all().map(EventKind::as_str).collect(),
            )
        },
    ]
}

// The lists below are written out here because their types have no `ALL`; each `match`
// names every variant without a wildcard, so a new one does not compile until it is listed
// (and a migration adds it to the `CHECK`).

fn priorities() -> Vec<&'static str> {
    use Priority::*;
    let all = [Alta, Media, Baja];
    for p in all {
        match p {
            Alta | Media | Baja => {}
        }
    }
    all.iter().map(|p| p.as_str()).collect()
}

fn timer_kinds() -> Vec<&'static str> {
    use TimerKind::*;
    let all = [
        PendingUser,
        AutoClose,
        Sla,
        ApprovalReminder,
        ApprovalOverdue,
    ];
    for k in all {
        match k {
            PendingUser | AutoClose | Sla | ApprovalReminder | ApprovalOverdue => {}
        }
    }
    all.iter().map(|k| k.as_str()).collect()
}

fn approval_statuses() -> Vec<&'static str> {
    use ApprovalStatus::*;
    let all = [WaitingForApprover, Pending, Approved, Rejected, Cancelled];
    for s in all {
        match s {
            WaitingForApprover | Pending | Approved | Rejected | Cancelled => {}
        }
    }
    all.iter().map(|s| s.as_str()).collect()
}

fn token_purposes() -> Vec<&'static str> {
    use TokenPurpose::*;
    let all = [Approval, Reply];
    for p in all {
        match p {
            Approval | Reply => {}
        }
    }
    all.iter().map(|p| p.as_str()).collect()
}

/// Before migrations 0019 and 0020: fails, naming each table, column and value, when a row
/// holds a value a pending migration's `CHECK`s would refuse (written by hand, or by a newer
/// version of mesayuda that was rolled back), and before 0019 on SQLite when a row refers to a
/// missing one, so that the operator reads what to correct rather than the name of a
/// constraint. The error carries the first pending migration that would fail. Nothing to do on
/// a new database, or once both are applied.
pub(super) async fn refuse_unknown(
    dialect: Dialect,
    conn: &mut Conn,
) -> Result<(), (i64, sqlx::Error)> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await
        {
            Ok(v) => v,
            // No bookkeeping table: a new database, nothing stored yet.
            Err(_) => return Ok(()),
        };
    // Every column checked exists from migration 0007 on.
    if !applied.contains(&7) {
        return Ok(());
    }
    let pending: Vec<Known> = columns()
        .into_iter()
        .filter(|k| !applied.contains(&k.migration))
        .collect();
    let Some(first_pending) = pending.iter().map(|k| k.migration).min() else {
        return Ok(());
    };
    let mut found = Vec::new();
    let mut first_failing = i64::MAX;
    for k in &pending {
        let list = k
            .values
            .iter()
            .enumerate()
            .map(|(i, _)| format!("${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        // Table and column names are our own constants; the values are bound.
        let sql = format!(
            "
            SELECT {column}, COUNT(*)
            FROM {table}
            WHERE {column} IS NOT NULL AND {column} NOT IN ({list})
            GROUP BY {column}
            ORDER BY {column}
            ",
            column = k.column,
            table = k.table,
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql));
        for v in &k.values {
            q = q.bind(*v);
        }
        let rows = q
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| (first_pending, e))?;
        for (value, rows) in rows {
            first_failing = first_failing.min(k.migration);
            found.push(format!(
                "{}.{} holds `{value}` in {rows} row(s) (known: {}; CHECK {})",
                k.table,
                k.column,
                k.values.join(", "),
                k.constraint
            ));
        }
    }
    // 0019 rebuilds SQLite's tables, which checks every reference.
    let references = dialect
        .broken_references()
        .filter(|_| !applied.contains(&STRICT_MIGRATION));
    if let Some(query) = references {
        let broken: Vec<(String, i64, String)> = sqlx::query_as(query)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| (first_pending, e))?;
        for (table, rowid, parent) in broken {
            first_failing = first_failing.min(STRICT_MIGRATION);
            found.push(format!(
                "{table} row {rowid} refers to a row of {parent} that does not exist"
            ));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err((
        first_failing,
        sqlx::Error::Protocol(format!(
            "migration {first_failing} not applied, the database holds what it would refuse: {}; \
             correct or delete those rows, then start again",
            found.join("; ")
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `CHECK` lists written in the migration files, on both backends, are the code's lists,
    /// value for value: a word added to an enum without a migration would be refused by the
    /// database.
    #[test]
    fn the_migrations_checks_hold_exactly_the_values_the_code_writes() {
        let files = [
            (
                "sqlite",
                STRICT_MIGRATION,
                include_str!("../../migrations/sqlite/0019_strict_checks.sql"),
            ),
            (
                "postgres",
                STRICT_MIGRATION,
                include_str!("../../migrations/postgres/0019_strict_checks.sql"),
            ),
            (
                "sqlite",
                KINDS_MIGRATION,
                include_str!("../../migrations/sqlite/0020_kind_checks.sql"),
            ),
            (
                "postgres",
                KINDS_MIGRATION,
                include_str!("../../migrations/postgres/0020_kind_checks.sql"),
            ),
        ];
        let known = columns();
        for (backend, migration, sql) in files {
            // Every CHECK the file writes on a column of ours (SQLite's 0020 restates those
            // 0019 put on the tables it rebuilds) holds the code's list.
            let mut seen = Vec::new();
            for (at, _) in sql.match_indices("CONSTRAINT ") {
                let rest = &sql[at + "CONSTRAINT ".len()..];
                let Some((name, rest)) = rest.split_once(" CHECK (") else {
                    continue;
                };
                // Not ours (SQLite's check on references): counted below.
                let Some(k) = known.iter().find(|k| k.constraint == name) else {
                    continue;
                };
                let (column, rest) = rest.split_once(" IN (").expect("IN list");
                assert_eq!(column, k.column, "{backend} {name}");
                let list = &rest[..rest.find(')').expect("end of list")];
                let written: Vec<&str> = list
                    .split(',')
                    .map(|v| v.trim().trim_matches('\''))
                    .collect();
                assert_eq!(written, k.values, "{backend} {name}");
                seen.push(name);
            }
            for k in known.iter().filter(|k| k.migration == migration) {
                assert!(
                    seen.contains(&k.constraint),
                    "{backend} {migration}: no CHECK {}",
                    k.constraint
                );
            }
            // SQLite's 0019 has one CHECK more, on the references after its rebuild.
            let other = usize::from(backend == "sqlite" && migration == STRICT_MIGRATION);
            assert_eq!(
                sql.matches(" CHECK (").count() - sql.matches("CHECK (singleton = 1)").count(),
                seen.len() + other,
                "{backend} {migration}: a CHECK this test does not read"
            );
        }
    }
}
