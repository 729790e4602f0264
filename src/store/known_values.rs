//! The columns whose stored values the code reads back as one of its own words (status, kind,
//! reason, purpose, …), with the words it knows, taken from the types that write them. Migration
//! 0019 puts the same lists in `CHECK`s (a unit test below compares them with both migration
//! files); before applying it, [`refuse_unknown`] looks for rows it would refuse and names them.

use super::Db;
use crate::domain::authority::TokenPurpose;
use crate::domain::catalog::ApprovalKind;
use crate::domain::procedure::aprobacion::ApprovalStatus;
use crate::domain::procedure::TimerKind;
use crate::domain::text::Priority;
use crate::domain::ticket::{CloseReason, Status};

/// The migration that adds the `CHECK`s.
pub(super) const CHECKS_MIGRATION: i64 = 19;

/// One column of closed vocabulary, and its `CHECK`'s name in migration 0019.
pub(super) struct Known {
    pub table: &'static str,
    pub column: &'static str,
    pub constraint: &'static str,
    pub values: Vec<&'static str>,
}

pub(super) fn columns() -> Vec<Known> {
    let known = |table, column, constraint, values| Known {
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
            Status::ALL.iter().map(|s| s.as_str()).collect(),
        ),
        known(
            "tickets",
            "close_reason",
            "tickets_close_reason_known",
            CloseReason::ALL.iter().map(|r| r.as_str()).collect(),
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

/// Before migration 0019: fails, naming each table, column and value, when a row holds a value
/// the migration's `CHECK`s would refuse (written by hand, or by a newer version of mesayuda
/// that was rolled back), and on SQLite when a row refers to a missing one, so that the
/// operator reads what to correct rather than the name of a constraint. Nothing to do on a new
/// database, or once 0019 is applied.
pub(super) async fn refuse_unknown(db: &Db) -> Result<(), sqlx::Error> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&db.pool)
            .await
        {
            Ok(v) => v,
            // No bookkeeping table: a new database, nothing stored yet.
            Err(_) => return Ok(()),
        };
    // Every column checked exists from migration 0007 on.
    if applied.contains(&CHECKS_MIGRATION) || !applied.contains(&7) {
        return Ok(());
    }
    let mut found = Vec::new();
    for k in columns() {
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
        for (value, rows) in q.fetch_all(&db.pool).await? {
            found.push(format!(
                "{}.{} holds `{value}` in {rows} row(s) (known: {}; CHECK {})",
                k.table,
                k.column,
                k.values.join(", "),
                k.constraint
            ));
        }
    }
    if let Some(query) = db.dialect().broken_references() {
        let broken: Vec<(String, i64, String)> = sqlx::query_as(query).fetch_all(&db.pool).await?;
        for (table, rowid, parent) in broken {
            found.push(format!(
                "{table} row {rowid} refers to a row of {parent} that does not exist"
            ));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(sqlx::Error::Protocol(format!(
        "migration {CHECKS_MIGRATION} not applied, the database holds what it would refuse: {}; \
         correct or delete those rows, then start again",
        found.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `CHECK` lists written in both migration files are the code's lists, value for value:
    /// a word added to an enum without a migration would be refused by the database.
    #[test]
    fn the_migrations_checks_hold_exactly_the_values_the_code_writes() {
        for (backend, sql) in [
            (
                "sqlite",
                include_str!("../../migrations/sqlite/0019_strict_checks.sql"),
            ),
            (
                "postgres",
                include_str!("../../migrations/postgres/0019_strict_checks.sql"),
            ),
        ] {
            let mut seen = 0;
            for k in columns() {
                let at = sql
                    .find(&format!("CONSTRAINT {} CHECK", k.constraint))
                    .unwrap_or_else(|| panic!("{backend}: no CHECK {}", k.constraint));
                let rest = &sql[at..];
                let open = rest.find(" IN (").expect("IN list") + 5;
                let close = rest[open..].find(')').expect("end of list") + open;
                let column = rest[..open].split('(').nth(1).unwrap_or("").trim();
                assert_eq!(
                    column,
                    format!("{} IN", k.column),
                    "{backend} {}",
                    k.constraint
                );
                let written: Vec<&str> = rest[open..close]
                    .split(',')
                    .map(|v| v.trim().trim_matches('\''))
                    .collect();
                assert_eq!(written, k.values, "{backend} {}", k.constraint);
                seen += 1;
            }
            assert_eq!(
                sql.matches(" CHECK (").count() - sql.matches("CHECK (singleton = 1)").count(),
                seen + usize::from(backend == "sqlite"),
                "{backend}: a CHECK this list does not know"
            );
        }
    }
}
