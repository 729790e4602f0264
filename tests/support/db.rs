//! A fresh database per test: a SQLite file, or a new PostgreSQL database on 127.0.0.1:5432.

use sqlx::Connection;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub kind: DbKind,
    pub url: String,
    pg_name: Option<String>,
}

pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl TestDb {
    pub async fn create(kind: DbKind, dir: &Path) -> Option<TestDb> {
        match kind {
            DbKind::Sqlite => Some(TestDb {
                kind,
                url: format!("sqlite://{}", dir.join("mesayuda.db").display()),
                pg_name: None,
            }),
            DbKind::Postgres => {
                let mut admin = match sqlx::PgConnection::connect(PG_ADMIN).await {
                    Ok(c) => c,
                    Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                        panic!("PostgreSQL is required in CI but unreachable at {PG_ADMIN}: {e}")
                    }
                    Err(e) => {
                        eprintln!("SKIPPED PostgreSQL variant: {PG_ADMIN} unreachable ({e})");
                        return None;
                    }
                };
                let name = format!("mesayuda_test_{:016x}", rand::random::<u64>());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                Some(TestDb {
                    kind,
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    pg_name: Some(name),
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside the test's runtime; a short-lived one does the cleanup.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(mut c) = sqlx::PgConnection::connect(PG_ADMIN).await {
                            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut c)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}
