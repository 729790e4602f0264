//! Sweep cost with a large history: fills a database with 1,000,000 tickets (100,000 open, each
//! with an SLA timer) and times a sweep when nothing is due and when 1,000 thresholds are due.
//! Prints figures; asserts nothing. Run: `cargo run --release --example sweep_bench [-- URL]`
//! (default: a fresh SQLite file, then PostgreSQL on 127.0.0.1:5432 when reachable).

mod bench_db;

use mesayuda::config::Config;
use mesayuda::mail::outbound::Composer;
use mesayuda::mail::templates::Templates;
use mesayuda::notify::Mailer;
use mesayuda::store::Db;
use mesayuda::workflow::{sweep, Procedure};
use std::time::Instant;

const TICKETS: i64 = 1_000_000;
const OPEN: i64 = 100_000;
const DUE: i64 = 1_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let databases = bench_db::Databases::from_args(dir.path()).await?;
    println!(
        "cores: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    for url in &databases.urls {
        run(url, dir.path()).await?;
    }
    databases.drop_created().await
}

async fn run(url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let config_path = bench_db::write_sweep_config(url, dir)?;
    let config = Config::load(&config_path)?;
    let db = Db::connect(url, 5).await?;
    db.migrate().await?;
    let mailer = Mailer::new(
        Templates::load(&config.paths.templates)?,
        Composer::new(&config.smtp.from, &config.smtp.reply_to)?,
    );
    let procedure = Procedure::from_config(&config)?;
    let now = chrono::Utc::now();
    let t = now.timestamp();
    let started = Instant::now();
    fill(&db, t).await?;
    println!(
        "\n{url}\n  filled {TICKETS} tickets ({OPEN} open) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let s = Instant::now();
    let r = sweep::run(&db, &mailer, &procedure, now).await?;
    println!(
        "  sweep, nothing due:      {:>8.1} ms ({} timers)",
        s.elapsed().as_secs_f64() * 1000.0,
        r.timers_handled
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE timers SET due_at = {} WHERE id IN (SELECT id FROM timers ORDER BY id LIMIT {DUE})",
        t - 60
    )))
    .execute(&db.pool)
    .await?;
    let s = Instant::now();
    let r = sweep::run(&db, &mailer, &procedure, now).await?;
    println!(
        "  sweep, {DUE} thresholds due: {:>8.1} ms ({} timers, {} alerts queued)",
        s.elapsed().as_secs_f64() * 1000.0,
        r.timers_handled,
        r.alerts_queued
    );
    db.pool.close().await;
    Ok(())
}

/// Bulk rows straight in SQL: closed history, then open tickets one threshold from done.
async fn fill(db: &Db, t: i64) -> anyhow::Result<()> {
    let series = match db.backend {
        mesayuda::store::Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {TICKETS}) SELECT n FROM s"
        ),
        mesayuda::store::Backend::Postgres => format!("SELECT n FROM generate_series(1, {TICKETS}) AS n"),
    };
    let running_since = t - 30 * 86_400;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tickets (status, close_reason, subject, requester, root_message_id, created_at, updated_at, \
         closed_at, service, sla_target_secs, sla_used_secs, sla_running_since, sla_alerts_sent) \
         SELECT CASE WHEN n <= {OPEN} THEN 'trabajo_en_progreso' ELSE 'cerrado' END, \
                CASE WHEN n <= {OPEN} THEN NULL ELSE 'resuelto' END, \
                'Solicitud ' || n, 'u' || n || '@example.test', 'm' || n || '@example.test', {t}, {t}, \
                CASE WHEN n <= {OPEN} THEN NULL ELSE {t} - n END, 'IMPRESORA', 28800, \
                CASE WHEN n <= {OPEN} THEN 0 ELSE 20000 END, \
                CASE WHEN n <= {OPEN} THEN {running_since} ELSE NULL END, \
                CASE WHEN n <= {OPEN} THEN 2 ELSE 1 END \
         FROM ({series}) AS seq"
    )))
    .execute(&db.pool)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO timers (ticket_id, kind, due_at) SELECT id, 'sla', {} FROM tickets WHERE status <> 'cerrado'",
        t + 365 * 86_400
    )))
    .execute(&db.pool)
    .await?;
    if db.backend == mesayuda::store::Backend::Postgres {
        sqlx::query("ANALYZE").execute(&db.pool).await?;
    }
    Ok(())
}
