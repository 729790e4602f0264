//! A transaction that reads before it writes waits for another writer instead of failing.
//! SQLite never lets a transaction that has read wait for the write lock (two such could
//! deadlock): it fails at once with "database is locked" unless the transaction took the lock
//! at its start (`Db::begin_write`). A CI run failed a panel sign-in so, while the sweep wrote
//! at the daemon's start.

mod support;

use mesayuda::store::Db;
use std::time::Duration;
use support::{DbKind, TestDb};

async fn open(kind: DbKind) -> Option<(tempfile::TempDir, TestDb, Db)> {
    let dir = tempfile::tempdir().unwrap();
    let (tdb, db) = support::built_db(kind, dir.path()).await?;
    sqlx::query("CREATE TABLE scratch (n INTEGER NOT NULL)")
        .execute(&db.pool)
        .await
        .unwrap();
    Some((dir, tdb, db))
}

async fn a_write_that_reads_first_waits_for_another_writer(
    (_dir, _tdb, db): (tempfile::TempDir, TestDb, Db),
) {
    let mut first = db.begin_write().await.unwrap();
    sqlx::query("INSERT INTO scratch (n) VALUES (1)")
        .execute(&mut *first)
        .await
        .unwrap();

    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await?;
            let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scratch")
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO scratch (n) VALUES ($1)")
                .bind(seen + 10)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<i64, sqlx::Error>(seen)
        }
    });
    // Long enough for the second to have begun, and read where it is not made to wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.commit().await.unwrap();

    let seen = second
        .await
        .unwrap()
        .expect("the second writer waits for the first, then writes");
    let rows: Vec<i64> = sqlx::query_scalar("SELECT n FROM scratch ORDER BY n")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, vec![1, seen + 10]);
}

on_both_databases!(setup = open; a_write_that_reads_first_waits_for_another_writer);
