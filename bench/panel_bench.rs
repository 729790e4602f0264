//! Panel page times with 100,000 tickets: fills a database through the store (tickets and two
//! mails each, as the daemon writes them), serves the panel's real router on loopback and
//! times `/cola` (its first and second page, and a filter), `/sla`, `/cumplimiento`,
//! `/solicitudes` and `/solicitudes/{n}` over HTTP with a signed-in session. Prints p50/p95 per page; asserts nothing (the goal, 50 ms, is read off the table).
//! Run: `cargo run --release --example panel_bench [-- URL…]` (default: a fresh SQLite file,
//! then a fresh PostgreSQL database on 127.0.0.1:5432 when reachable). See bench/README.md.

mod bench_db;

use mesayuda::config::Config;
use mesayuda::mail::outbound::Composer;
use mesayuda::mail::templates::Templates;
use mesayuda::store::{messages, panel, tickets, Db};
use mesayuda::workflow::notify::Mailer;
use mesayuda::workflow::Procedure;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TICKETS: i64 = 100_000;
/// One ticket in fifty still open: 2,000 in the queue, a busy desk's worst day.
const OPEN_EVERY: i64 = 50;
const SAMPLES: usize = 50;
const WARMUP: usize = 5;
const COORDINATOR: &str = "sandra.moreno@example.test";
const SERVICES: [&str; 6] = [
    "VPN",
    "CLAVE",
    "BUZON",
    "PORTALES",
    "PRESTAMO-PORTATIL",
    "SW-LIBRE",
];
const ASSIGNEES: [Option<&str>; 4] = [
    None,
    Some("miguel.torres@example.test"),
    Some("soporte-sitio"),
    Some("laura.rojas@example.test"),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let databases = bench_db::Databases::from_args(dir.path()).await?;
    println!(
        "cores: {}, {TICKETS} tickets ({} open), {SAMPLES} requests per page after {WARMUP}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        TICKETS / OPEN_EVERY
    );
    for url in &databases.urls {
        run(url, dir.path()).await?;
    }
    databases.drop_created().await
}

async fn run(url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let root = env!("CARGO_MANIFEST_DIR");
    let config_path = dir.join("bench.toml");
    std::fs::write(
        &config_path,
        bench_db::config_text(
            url,
            &format!(
                "[paths]\ntemplates = \"{root}/templates\"\ncatalog = \"{root}/deploy/catalog.toml\"\n\
             directory = \"{root}/deploy/directory.toml\"\n\
             [web]\nlisten = \"127.0.0.1:1\"\nbase_url = \"http://127.0.0.1\"\n"
            ),
        ),
    )?;
    let config = Config::load(&config_path)?;
    let db = Db::connect(url, 5).await?;
    db.migrate().await?;
    let started = Instant::now();
    let sample = fill(&db).await?;
    println!(
        "\n{}\n  filled in {:.1} s",
        url.split('?').next().unwrap_or(url),
        started.elapsed().as_secs_f64()
    );
    let mailer = Arc::new(Mailer::new(
        Templates::load(&config.paths.templates)?,
        Composer::new(&config.smtp.from, &config.smtp.reply_to)?,
    ));
    let procedure = Arc::new(Procedure::from_config(&config)?);
    let p = mesayuda::panel::Panel::load(
        &config,
        db.clone(),
        mailer,
        procedure,
        Arc::new(tokio::sync::Notify::new()),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let cancel = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(mesayuda::panel::serve(
        listener,
        Arc::new(p),
        cancel.clone(),
    ));

    let now = chrono::Utc::now().timestamp();
    let mut conn = db.pool.acquire().await?;
    let coordinator = panel::new_secret();
    panel::add_session(&mut conn, &coordinator, COORDINATOR, now).await?;
    let requester = panel::new_secret();
    panel::add_session(&mut conn, &requester, &sample.requester, now).await?;
    drop(conn);

    let http = reqwest::Client::new();
    let pages = [
        ("/cola", coordinator.as_str()),
        ("/cola?pagina=2", coordinator.as_str()),
        ("/cola?ver=sin_asignar", coordinator.as_str()),
        ("/sla", coordinator.as_str()),
        ("/cumplimiento", coordinator.as_str()),
        ("/cumplimiento.csv", coordinator.as_str()),
        ("/solicitudes", requester.as_str()),
        (sample.path.as_str(), requester.as_str()),
        // The same request as staff see it: notes, audit trail, the action forms.
        (sample.path.as_str(), coordinator.as_str()),
    ];
    println!(
        "  {:<32} {:>8} {:>8} {:>10}",
        "page", "p50 ms", "p95 ms", "bytes"
    );
    for (path, session) in pages {
        let label = if session == coordinator.as_str() && path.starts_with("/solicitudes/") {
            format!("{path} (staff)")
        } else {
            path.to_owned()
        };
        let mut times = Vec::with_capacity(SAMPLES);
        let mut bytes = 0;
        for i in 0..WARMUP + SAMPLES {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header("Cookie", format!("mesayuda_sesion={session}"))
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "{path}: {}", r.status());
            bytes = r.bytes().await?.len();
            if i >= WARMUP {
                times.push(t.elapsed());
            }
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at =
            |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "  {:<32} {:>8.1} {:>8.1} {:>10}",
            label,
            ms(at(0.50)),
            ms(at(0.95)),
            bytes
        );
    }
    cancel.cancel();
    let _ = server.await;
    db.pool.close().await;
    Ok(())
}

/// A requester's request to look at.
struct Sample {
    requester: String,
    path: String,
}

/// Tickets through the store's own insert (numbers from its counter), 1,000 per transaction,
/// each with the request mail and the acknowledgement; then their state in one statement per
/// shape: open ones spread over the tiers, groups and specialists, closed ones over the last
/// twelve months with survey answers.
async fn fill(db: &Db) -> anyhow::Result<Sample> {
    let now = chrono::Utc::now().timestamp();
    let year = 365 * 86_400;
    let mut n = 0;
    while n < TICKETS {
        let mut tx = db.pool.begin().await?;
        for _ in 0..1000 {
            n += 1;
            // A few hundred people ask for everything: about 200 requests each.
            let requester = format!("funcionario{}@example.test", n % 500);
            let root = format!("req{n}@example.test");
            let created = now - year + n * year / TICKETS;
            let row = tickets::insert(
                &mut tx,
                &tickets::NewTicket {
                    status: "registrado",
                    subject: "Solicitud de acceso remoto por VPN para trabajar desde casa",
                    requester: &requester,
                    requester_name: None,
                    root_message_id: &root,
                    related_ticket: None,
                    at: created,
                },
            )
            .await?;
            let body = "Buenos días:\n\nNecesito acceso remoto por VPN para trabajar desde casa \
                        durante el cierre contable.\n\nGracias.";
            for (direction, kind, from, to, id) in [
                (
                    "in",
                    mesayuda::domain::mail_kind::MailKind::Solicitud,
                    requester.as_str(),
                    "mesayuda@example.test",
                    root.clone(),
                ),
                (
                    "out",
                    mesayuda::domain::mail_kind::MailKind::Acuse,
                    "mesayuda@example.test",
                    requester.as_str(),
                    format!("ack{n}@example.test"),
                ),
            ] {
                messages::insert(
                    &mut tx,
                    &messages::NewMessage {
                        ticket: Some(row.number()),
                        direction,
                        kind,
                        message_id: &id,
                        in_reply_to: None,
                        references: None,
                        thread_key: None,
                        from_addr: from,
                        from_name: None,
                        to_addrs: to,
                        subject: "Acceso VPN",
                        body_text: body,
                        body_html: None,
                        at: created,
                        raw: None,
                        imap: None,
                        created_at: created,
                        fingerprint: None,
                    },
                )
                .await?;
            }
        }
        tx.commit().await?;
    }
    // Shapes by id: our own integer constants only, formatted in.
    let services = SERVICES
        .iter()
        .enumerate()
        .map(|(i, s)| format!("WHEN {i} THEN '{s}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let assignees = ASSIGNEES
        .iter()
        .enumerate()
        .map(|(i, a)| match a {
            Some(a) => format!("WHEN {i} THEN '{a}'"),
            None => format!("WHEN {i} THEN NULL"),
        })
        .collect::<Vec<_>>()
        .join(" ");
    let (s, a) = (SERVICES.len(), ASSIGNEES.len());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "
        UPDATE tickets SET
            service = CASE id % {s} {services} END,
            sla_target_secs = 57600,
            status = CASE WHEN id % {OPEN_EVERY} = 0 THEN 'trabajo_en_progreso' ELSE 'cerrado' END,
            close_reason = CASE WHEN id % {OPEN_EVERY} = 0 THEN NULL
                                WHEN id % 20 = 1 THEN 'cancelado' ELSE 'resuelto' END,
            closed_at = CASE WHEN id % {OPEN_EVERY} = 0 THEN NULL ELSE created_at + 86400 END,
            assignee = CASE WHEN id % {OPEN_EVERY} = 0 THEN CASE (id / {OPEN_EVERY}) % {a} {assignees} END
                            ELSE 'miguel.torres@example.test' END,
            sla_used_secs = (id * 7919) % 80000,
            sla_paused_secs = (id * 104729) % 7200,
            sla_alerts_sent = ((id * 7919) % 80000) * 4 / 57600,
            survey_rating = CASE WHEN id % 3 = 0 THEN 1 + id % 5 ELSE NULL END,
            sla_running_since = CASE WHEN id % {OPEN_EVERY} = 0 THEN {now} ELSE NULL END
        "
    )))
    .execute(&db.pool)
    .await?;
    // PostgreSQL: statistics and the visibility map that index-only scans rely on, which
    // autovacuum keeps up on a database in use. SQLite gets none: the daemon never runs
    // ANALYZE, so the pages must be fast on the planner's defaults.
    if db.backend == mesayuda::store::Backend::Postgres {
        sqlx::query("VACUUM ANALYZE").execute(&db.pool).await?;
    }
    // The latest request of one requester: what they open from their list.
    let (id, requester): (i64, String) = sqlx::query_as(
        "SELECT id, requester FROM tickets WHERE requester = 'funcionario7@example.test' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok(Sample {
        requester,
        path: format!("/solicitudes/REQ-{id}"),
    })
}
