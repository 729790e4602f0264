//! The scaling runs' database: `bench_prefill URL TICKETS` migrates the database at URL and
//! fills it with TICKETS tickets of history as the daemon would have left them, by bulk SQL
//! (a million in minutes instead of hours through the store); `bench_prefill URL TICKETS
//! --sweep DUE` then adds DUE open tickets whose SLA threshold is due and times one sweep.
//! Prints one JSON line of figures; asserts nothing. `bench/bench.py --prefill` runs it.
//!
//! Per ticket, like the daemon's own rows: the request (inbound, moved out of the mailbox) and
//! its acknowledgement (outbound, threaded by References), two audit events, the sent
//! acknowledgement in the outbox, the requester's reply token. One in ten is open with its SLA
//! timer (not due for a year); the rest closed over the last year. Requesters are 5,000
//! addresses, so per-sender counts read a history of about 200 mails each.

// Only its configuration is used here, not its databases.
#[allow(dead_code)]
mod bench_db;

use mesayuda::config::Config;
use mesayuda::mail::outbound::Composer;
use mesayuda::mail::templates::Templates;
use mesayuda::store::{Backend, Db};
use mesayuda::workflow::notify::Mailer;
use mesayuda::workflow::{sweep, Procedure};
use std::time::Instant;

const SENDERS: i64 = 5_000;
/// Rows per INSERT … SELECT: one statement per table and slice keeps SQLite's journal and
/// PostgreSQL's memory bounded.
const SLICE: i64 = 100_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(n)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: bench_prefill URL TICKETS [--sweep DUE]");
    };
    let n: i64 = n.parse()?;
    let due: Option<i64> = match args.get(2).map(String::as_str) {
        Some("--sweep") => Some(args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1000)),
        _ => None,
    };
    let db = Db::connect(url, 5).await?;
    db.migrate().await?;
    let t = chrono::Utc::now().timestamp();
    let started = Instant::now();
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
        .fetch_one(&db.pool)
        .await?;
    if have == 0 && n > 0 {
        fill(&db, n, t).await?;
    }
    let fill_s = started.elapsed().as_secs_f64();
    let mut out = serde_json::json!({ "tickets": n, "fill_s": fill_s });
    if let Some(due) = due {
        let (ms, cpu_ms, pg_cpu_ms, handled) = sweep_due(&db, url, due, t).await?;
        out["sweep_due"] = due.into();
        out["sweep_ms"] = ms.into();
        out["sweep_cpu_ms"] = cpu_ms.into();
        if db.backend == Backend::Postgres {
            out["sweep_pg_cpu_ms"] = pg_cpu_ms.into();
        }
        out["sweep_handled"] = handled.into();
    }
    println!("{out}");
    db.pool.close().await;
    Ok(())
}

/// The numbers `lo..=hi` as rows of a column `n`.
fn series(db: &Db, lo: i64, hi: i64) -> String {
    match db.backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM s WHERE n < {hi}) SELECT n FROM s"
        ),
        // bigint: the spread over a year multiplies n by seconds.
        Backend::Postgres => format!("SELECT n FROM generate_series({lo}::bigint, {hi}::bigint) AS n"),
    }
}

async fn exec(db: &Db, sql: String) -> anyhow::Result<()> {
    // Bench-only SQL built from numbers.
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&db.pool)
        .await?;
    Ok(())
}

async fn fill(db: &Db, n: i64, t: i64) -> anyhow::Result<()> {
    let year = 365 * 86_400;
    let mut lo = 1;
    while lo <= n {
        let hi = (lo + SLICE - 1).min(n);
        let s = series(db, lo, hi);
        // Spread over the last year, the oldest first, as ids grow with time.
        let created = format!("({t} - {year} + (n * {year}) / {n})");
        let open = "(n % 10 = 0)";
        let who = format!("('u' || (n % {SENDERS}) || '@example.test')");
        let hex = match db.backend {
            Backend::Sqlite => "lower(hex(randomblob(16)))",
            Backend::Postgres => "md5(n::text || random()::text)",
        };
        let blob = match db.backend {
            Backend::Sqlite => "CAST('From: mesayuda' AS BLOB)",
            Backend::Postgres => "convert_to('From: mesayuda', 'UTF8')",
        };
        exec(db, format!(
            "INSERT INTO tickets (id, status, close_reason, subject, requester, root_message_id, created_at, \
             updated_at, closed_at, resolved_at, service, category, priority, sla_target_secs, sla_used_secs, \
             sla_running_since, sla_alerts_sent) \
             SELECT n, CASE WHEN {open} THEN 'trabajo_en_progreso' ELSE 'cerrado' END, \
                    CASE WHEN {open} THEN NULL ELSE 'resuelto' END, \
                    'Instalación de impresora en el piso ' || (n % 12), {who}, '<p' || n || '@example.test>', \
                    {created}, {created}, CASE WHEN {open} THEN NULL ELSE {created} + 7200 END, \
                    CASE WHEN {open} THEN NULL ELSE {created} + 3600 END, 'IMPRESORA', 'Impresoras', 'media', \
                    28800, CASE WHEN {open} THEN 0 ELSE 5000 END, CASE WHEN {open} THEN {t} ELSE NULL END, 0 \
             FROM ({s}) AS seq"
        )).await?;
        exec(db, format!(
            "INSERT INTO messages (ticket_id, direction, kind, message_id, from_addr, from_name, to_addrs, subject, \
             body_text, at, imap_uidvalidity, imap_uid, imap_state, created_at, fingerprint) \
             SELECT n, d, CASE WHEN d = 'in' THEN 'solicitud' ELSE 'acuse' END, \
                    CASE WHEN d = 'in' THEN 'p' || n || '@example.test' ELSE 'a' || n || '@mesayuda.test' END, \
                    CASE WHEN d = 'in' THEN {who} ELSE 'mesa@example.test' END, 'Usuario ' || n, \
                    CASE WHEN d = 'in' THEN 'mesa@example.test' ELSE {who} END, \
                    'Instalación de impresora en el piso ' || (n % 12), \
                    'Buenos días, les escribo para solicitar su apoyo con lo siguiente. Necesito que instalen \
                     la impresora de la dependencia en mi equipo. Número de equipo: MHCP-' || n || '. Ubicación: \
                     oficina ' || (n % 400) || ', piso ' || (n % 12) || '. Quedo atento(a).', \
                    {created}, CASE WHEN d = 'in' THEN 1 ELSE NULL END, CASE WHEN d = 'in' THEN n ELSE NULL END, \
                    CASE WHEN d = 'in' THEN 'moved' ELSE NULL END, {created}, \
                    CASE WHEN d = 'in' THEN {hex} ELSE NULL END \
             FROM ({s}) AS seq CROSS JOIN (SELECT 'in' AS d UNION ALL SELECT 'out') AS dir"
        )).await?;
        exec(db, format!(
            "INSERT INTO events (ticket_id, at, actor, activity, kind, description) \
             SELECT n, {created} + k * 3600, CASE WHEN k = 0 THEN {who} ELSE 'agente@example.test' END, k + 1, \
                    CASE WHEN k = 0 THEN 'solicitud_recibida' ELSE 'resuelto' END, \
                    CASE WHEN k = 0 THEN 'Solicitud registrada' ELSE 'Solución aplicada' END \
             FROM ({s}) AS seq CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1) AS ks \
             WHERE k = 0 OR NOT {open}"
        )).await?;
        exec(db, format!(
            "INSERT INTO outbox (ticket_id, kind, message_id, envelope_from, recipients, raw, status, attempts, \
             next_attempt_at, created_at, sent_at) \
             SELECT n, 'acuse', '<a' || n || '@mesayuda.test>', 'mesa@example.test', {who}, {blob}, 'sent', 1, \
                    {created}, {created}, {created} \
             FROM ({s}) AS seq"
        )).await?;
        exec(
            db,
            format!(
            "INSERT INTO approval_tokens (token_hash, ticket_id, recipient, created_at, purpose) \
             SELECT {hex}, n, {who}, {created}, 'respuesta' FROM ({s}) AS seq"
        ),
        )
        .await?;
        exec(
            db,
            format!(
                "INSERT INTO timers (ticket_id, kind, due_at) \
             SELECT n, 'sla', {t} + {year} FROM ({s}) AS seq WHERE {open}"
            ),
        )
        .await?;
        lo = hi + 1;
    }
    // The counter the daemon numbers tickets by starts after the history.
    exec(db, format!("UPDATE ticket_numbers SET last_number = {n}")).await?;
    if db.backend == Backend::Postgres {
        // The identity after explicit ids; ANALYZE as autovacuum would within a minute.
        exec(
            db,
            "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT MAX(id) FROM tickets))"
                .to_owned(),
        )
        .await?;
        exec(db, "ANALYZE".to_owned()).await?;
    }
    Ok(())
}

/// Adds `due` open tickets with their last SLA threshold due (as `sweep_bench`: two alerts
/// sent, long past the target) and times one sweep
/// of them: wall and this process's CPU time, and on PostgreSQL the CPU time of the server
/// processes serving this database (the server runs on this machine here), in milliseconds, and
/// the timers handled.
async fn sweep_due(db: &Db, url: &str, due: i64, t: i64) -> anyhow::Result<(f64, f64, f64, usize)> {
    let dir = tempfile::tempdir()?;
    let config_path = bench_db::write_sweep_config(url, dir.path())?;
    let config = Config::load(&config_path)?;
    let mailer = std::sync::Arc::new(Mailer::new(
        Templates::load(&config.paths.templates)?,
        Composer::new(&config.smtp.from, &config.smtp.reply_to)?,
    ));
    let procedure = std::sync::Arc::new(Procedure::from_config(&config)?);
    let base: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM tickets")
        .fetch_one(&db.pool)
        .await?;
    let s = series(db, base + 1, base + due);
    let running_since = t - 30 * 86_400;
    exec(db, format!(
        "INSERT INTO tickets (id, status, subject, requester, root_message_id, created_at, updated_at, service, \
         sla_target_secs, sla_used_secs, sla_running_since, sla_alerts_sent) \
         SELECT n, 'trabajo_en_progreso', 'Solicitud ' || n, 'v' || n || '@example.test', '<v' || n || '@example.test>', \
                {running_since}, {running_since}, 'IMPRESORA', 28800, 0, {running_since}, 2 \
         FROM ({s}) AS seq"
    )).await?;
    exec(db, format!(
        "INSERT INTO messages (ticket_id, direction, kind, message_id, from_addr, to_addrs, subject, body_text, at, \
         created_at) \
         SELECT n, 'in', 'solicitud', 'v' || n || '@example.test', 'v' || n || '@example.test', 'mesa@example.test', \
                'Solicitud ' || n, 'Necesito apoyo.', {running_since}, {running_since} FROM ({s}) AS seq"
    )).await?;
    exec(
        db,
        format!(
            "INSERT INTO timers (ticket_id, kind, due_at) SELECT n, 'sla', {} FROM ({s}) AS seq",
            t - 60
        ),
    )
    .await?;
    exec(
        db,
        format!("UPDATE ticket_numbers SET last_number = {}", base + due),
    )
    .await?;
    if db.backend == Backend::Postgres {
        exec(db, "ANALYZE".to_owned()).await?;
    }
    let now = chrono::Utc::now();
    let server = server_cpu_ms(db).await?;
    let cpu = cpu_ms("self");
    let started = Instant::now();
    let r = sweep::run(db, &mailer, &procedure, now).await?;
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    let cpu = cpu_ms("self") - cpu;
    // Connections the pool opened during the sweep count from zero.
    let server: f64 = server_cpu_ms(db)
        .await?
        .iter()
        .map(|(pid, ms)| ms - server.get(pid).unwrap_or(&0.0))
        .sum();
    Ok((wall, cpu, server, r.timers_handled))
}

/// On PostgreSQL, the CPU time so far of each server process connected to this database, by
/// pid; empty on SQLite.
async fn server_cpu_ms(db: &Db) -> anyhow::Result<std::collections::HashMap<i32, f64>> {
    if db.backend != Backend::Postgres {
        return Ok(Default::default());
    }
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            .fetch_all(&db.pool)
            .await?;
    Ok(pids
        .into_iter()
        .map(|pid| (pid, cpu_ms(&pid.to_string())))
        .collect())
}

/// A process's CPU time (user and system) in milliseconds, from /proc/`pid`/stat (`self`: this
/// one's).
fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which ends with ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; 100 ticks/s.
    (ticks(11) + ticks(12)) * 10.0
}
