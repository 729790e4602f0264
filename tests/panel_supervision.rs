//! The supervisors' pages of the web panel (`/sla`, `/cumplimiento`, `/cumplimiento.csv`) and
//! the panel's operations (`/healthz`, `/metrics` per route, `check-config`), over HTTP
//! against the real daemon on both databases; one test opens the chart in real Chromium.

mod support;

use mesayuda::domain::es_co::decimal;
use mesayuda::store::{tickets, Db};
use serde_json::Value;
use support::flow::WAIT;
use support::panel::{
    assert_fits_phone, in_chromium, phone_ask_link, phone_confirm, wait_listening, Browser, Page,
};
use support::{eventually, World};

const COORDINATOR: &str = "sandra.moreno@example.test";
const SUBDIRECTOR: &str = "luisa.martinez@example.test";
const DIRECTOR: &str = "hernan.quintero@example.test";
const AGENT: &str = "laura.rojas@example.test";
const REQUESTER: &str = "carlos.perez@example.test";
const SPECIALIST: &str = "miguel.torres@example.test";
const H: i64 = 3600;

/// A ticket as the tests need it in the database. Open ones are paused (the clock stopped
/// waiting on the user), so their time used does not move while the test runs.
#[derive(Default, Clone)]
struct Seed {
    service: Option<&'static str>,
    assignee: Option<&'static str>,
    target_h: i64,
    used_h: i64,
    paused_h: i64,
    /// RFC 3339; `None`: still open.
    closed_at: Option<&'static str>,
    reason: Option<&'static str>,
    rating: Option<i64>,
    alerts: i64,
}

/// Writes the tickets through the store (numbers from its counter), then their SLA state.
async fn seed(w: &World, all: &[Seed]) {
    let db = Db::connect(&w.db.url, 1).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    for (i, s) in all.iter().enumerate() {
        let mut tx = db.pool.begin().await.unwrap();
        let root = format!("seed-{i}-{now}@example.test");
        let row = tickets::insert(
            &mut tx,
            &tickets::NewTicket {
                status: "trabajo_en_progreso",
                subject: "Solicitud sembrada",
                requester: REQUESTER,
                requester_name: None,
                root_message_id: &root,
                related_ticket: None,
                at: now,
            },
        )
        .await
        .unwrap();
        let closed = s
            .closed_at
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp());
        sqlx::query(
            "
            UPDATE tickets
            SET status = $1, close_reason = $2, closed_at = $3, service = $4, assignee = $5,
                sla_target_secs = $6, sla_used_secs = $7, sla_running_since = NULL,
                sla_paused_secs = $8, sla_paused_since = $9, sla_alerts_sent = $10,
                survey_rating = $11
            WHERE id = $12
            ",
        )
        .bind(if closed.is_some() {
            "cerrado"
        } else {
            "pendiente_por_usuario"
        })
        .bind(s.reason.or(closed.map(|_| "resuelto")))
        .bind(closed)
        .bind(s.service)
        .bind(s.assignee)
        .bind(s.target_h * H)
        .bind(s.used_h * H)
        .bind(s.paused_h * H)
        .bind(closed.is_none().then_some(now))
        .bind(s.alerts)
        .bind(s.rating)
        .bind(row.id)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    db.pool.close().await;
}

fn open(assignee: Option<&'static str>, service: &'static str, used_h: i64) -> Seed {
    Seed {
        service: Some(service),
        assignee,
        target_h: 10,
        used_h,
        ..Seed::default()
    }
}

/// The cells of the table row whose heading (`<th scope="row">`) starts with `heading`, as
/// the text they show; `nth` picks among several tables.
fn cells(page: &Page, heading: &str, nth: usize) -> Vec<String> {
    let start = format!("<th scope=\"row\">{heading}");
    let at = page
        .body
        .match_indices(&start)
        .nth(nth)
        .unwrap_or_else(|| panic!("no row {heading} in {}", page.body))
        .0;
    let row = &page.body[at..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let cell = &cell[cell.find('>').unwrap() + 1..];
            cell[..cell.find("</td>").unwrap()].trim().to_owned()
        })
        .collect()
}

async fn the_sla_board_counts_open_tickets_by_tier_for_supervisors_only(w: World) {
    let _d = w.spawn_daemon();
    let mut coordinator = Browser::new(&w);
    wait_listening(&coordinator).await;
    seed(
        &w,
        &[
            // Soporte en sitio works PRESTAMO-PORTATIL; Miguel is its specialist.
            open(Some(SPECIALIST), "PRESTAMO-PORTATIL", 1),
            open(Some(SPECIALIST), "PRESTAMO-PORTATIL", 6),
            open(Some("soporte-sitio"), "PRESTAMO-PORTATIL", 8),
            open(None, "VPN", 12),
            // Closed: not on the board, however late it was.
            Seed {
                closed_at: Some("2026-10-15T15:00:00Z"),
                ..open(None, "VPN", 30)
            },
        ],
    )
    .await;
    coordinator.sign_in(&w, COORDINATOR).await;
    let board = coordinator.get("/sla").await;
    assert_eq!(board.status, 200, "{}", board.body);
    // A no-break space keeps each "%" by its number.
    for tier in [
        "Menos del 50\u{a0}%",
        "Desde el 50\u{a0}%",
        "Desde el 75\u{a0}%",
        "Vencidas",
    ] {
        assert!(board.body.contains(tier), "{tier}: {}", board.body);
    }
    // Under 50 %, from 50 %, from 75 %, breached, total.
    assert_eq!(cells(&board, "Total", 0), ["1", "1", "1", "1", "4"]);
    assert_eq!(
        cells(&board, "Soporte en sitio", 0),
        ["1", "1", "1", "0", "3"]
    );
    assert_eq!(
        cells(&board, "Agentes de soporte (sin grupo)", 0),
        ["0", "0", "0", "1", "1"]
    );
    assert_eq!(cells(&board, "Miguel", 0), ["1", "1", "0", "0", "2"]);
    assert_eq!(cells(&board, "Sin asignar", 0), ["0", "0", "1", "1", "2"]);
    // The navigation offers the supervisors' pages to a supervisor.
    assert!(
        board.body.contains("href=\"/cumplimiento\""),
        "{}",
        board.body
    );
    // Subdirector and director see it too.
    for boss in [SUBDIRECTOR, DIRECTOR] {
        let mut b = Browser::new(&w);
        b.sign_in(&w, boss).await;
        assert_eq!(b.get("/sla").await.status, 200, "{boss}");
    }
    // An agent and a requester are signed in, but it is not their page.
    for other in [AGENT, REQUESTER] {
        let mut b = Browser::new(&w);
        b.sign_in(&w, other).await;
        let page = b.get("/sla").await;
        assert_eq!(page.status, 404, "{other}");
        assert!(!page.body.contains("Soporte en sitio"), "{}", page.body);
        assert!(!b.get("/solicitudes").await.body.contains("href=\"/sla\""));
    }
    // Nobody signed in is sent to sign in.
    assert_eq!(Browser::new(&w).get("/sla").await.status, 303);
}

/// October 2026, seen from Bogotá (UTC-5): the last ticket closed at 10 p.m. on the 31st local
/// time (03:00 UTC on 1 November) is October's; the one after local midnight is not.
fn october() -> Vec<Seed> {
    let closed = |at, service, target_h, used_h, rating| Seed {
        service,
        target_h,
        used_h,
        paused_h: 1,
        closed_at: Some(at),
        rating,
        alerts: if used_h >= target_h { 3 } else { 0 },
        ..Seed::default()
    };
    vec![
        closed("2026-10-02T15:00:00Z", Some("VPN"), 16, 4, Some(5)),
        closed("2026-10-09T15:00:00Z", Some("VPN"), 16, 10, Some(4)),
        closed("2026-10-20T15:00:00Z", Some("VPN"), 16, 20, Some(2)),
        closed("2026-10-21T15:00:00Z", Some("CLAVE"), 4, 2, None),
        closed("2026-11-01T03:00:00Z", None, 8, 9, Some(3)),
        // Cancelled: closed, not attended, so it does not count against the target.
        Seed {
            reason: Some("cancelado"),
            ..closed("2026-10-22T15:00:00Z", Some("CLAVE"), 4, 1, None)
        },
        closed("2026-11-01T06:00:00Z", Some("VPN"), 16, 1, Some(1)),
        closed("2026-09-30T04:00:00Z", Some("VPN"), 16, 1, Some(1)),
    ]
}

async fn the_compliance_page_and_its_csv_say_what_the_cli_says(w: World) {
    let _d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    wait_listening(&b).await;
    seed(&w, &october()).await;
    b.sign_in(&w, COORDINATOR).await;
    let query = "desde=2026-10-01&hasta=2026-10-31";
    let page = b.get(&format!("/cumplimiento?{query}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let cli = w.cli().json(&[
        "sla",
        "compliance",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--json",
    ]);
    assert_eq!(cli["overall"]["closed"], 6, "{cli}");
    let lines: Vec<&Value> = cli["services"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&cli["overall"]])
        .collect();
    for l in &lines {
        let heading = match l["service"].as_str().unwrap() {
            "TOTAL" => "Total",
            "VPN" => "Acceso remoto a la red local (VPN)",
            "CLAVE" => "Cambio de contraseña",
            other => other,
        };
        let n = |k: &str| l[k].as_u64().unwrap().to_string();
        let d = |k: &str| decimal(l[k].as_f64().unwrap(), 1);
        let expected = [
            n("closed"),
            n("attended"),
            n("within_target"),
            n("outside_target"),
            d("within_pct"),
            d("median_business_hours"),
            d("p90_business_hours"),
            d("paused_business_hours"),
            n("alerts_50"),
            n("alerts_75"),
            n("alerts_100"),
        ];
        assert_eq!(cells(&page, heading, 0), expected, "{heading}");
        // The survey, where anyone answered.
        if l["survey_answers"].as_u64().unwrap() > 0 {
            let survey = cells(&page, heading, 1);
            assert_eq!(survey[0], n("survey_answers"), "{heading}");
            assert_eq!(
                survey[1],
                decimal(l["average_rating"].as_f64().unwrap(), 2),
                "{heading}"
            );
        }
    }
    // The hand-computed figures the CLI and the page agree on: VPN 2 of 3 within (66,7 %).
    assert_eq!(
        cells(&page, "Acceso remoto a la red local (VPN)", 0)[..5],
        ["3", "3", "2", "1", "66,7"]
    );
    // The chart: one bar per service and the total, drawn by the server.
    let svg = &page.body[page.body.find("<svg").expect("a chart")..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    assert!(svg.contains("role=\"img\""), "{svg}");
    assert_eq!(svg.matches("class=\"barra\"").count(), lines.len(), "{svg}");
    assert!(svg.contains("66,7 % a tiempo (2 de 3)"), "{svg}");
    assert!(!page.body.contains("<script"), "{}", page.body);
    // The security headers of every panel page, on this one and on the download.
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("referrer-policy"), "no-referrer");

    // The CSV is the CLI's, byte for byte, as a download.
    let csv = b.get(&format!("/cumplimiento.csv?{query}")).await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        csv.header("content-disposition"),
        "attachment; filename=\"cumplimiento-2026-10-01-a-2026-10-31.csv\""
    );
    let out = w.cli().run(&[
        "sla",
        "compliance",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--csv",
    ]);
    assert!(out.status.success());
    assert_eq!(csv.body, String::from_utf8(out.stdout).unwrap());
    assert_eq!(csv.header("x-content-type-options"), "nosniff");

    // Without dates: the current month, with the form filled in.
    let current = b.get("/cumplimiento").await;
    assert_eq!(current.status, 200, "{}", current.body);
    let month_start = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Bogota)
        .format("%Y-%m-01")
        .to_string();
    assert_eq!(current.field("desde"), month_start);

    // Bad input: a Spanish sentence, never a server error.
    let bad = b
        .get("/cumplimiento?desde=2026-13-01&hasta=2026-10-31")
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("AAAA-MM-DD"), "{}", bad.body);
    assert_eq!(bad.field("desde"), "2026-13-01");
    let reversed = b
        .get("/cumplimiento?desde=2026-10-31&hasta=2026-10-01")
        .await;
    assert_eq!(reversed.status, 400);
    assert!(
        reversed.body.contains("posterior a la final"),
        "{}",
        reversed.body
    );
    let bad_csv = b.get("/cumplimiento.csv?desde=ayer&hasta=hoy").await;
    assert_eq!(bad_csv.status, 400);
    assert!(bad_csv.body.contains("AAAA-MM-DD"), "{}", bad_csv.body);

    // Not a supervisor: neither the page nor the file.
    let mut agent = Browser::new(&w);
    agent.sign_in(&w, AGENT).await;
    assert_eq!(
        agent.get(&format!("/cumplimiento?{query}")).await.status,
        404
    );
    let refused = agent.get(&format!("/cumplimiento.csv?{query}")).await;
    assert_eq!(refused.status, 404);
    assert!(!refused.body.contains("servicio,cerrados"));
}

/// The panel with the operations listener on a port of its own.
async fn with_panel_and_http(kind: support::DbKind) -> Option<(World, u16)> {
    let (web, http) = (support::ports::reserve(), support::ports::reserve());
    let base = format!("http://127.0.0.1:{web}");
    let extra = format!(
        "[web]\nlisten = \"127.0.0.1:{web}\"\nbase_url = \"{base}\"\n\n[http]\nlisten = \"127.0.0.1:{http}\"\n"
    );
    let mut w = World::with_procedure_and(kind, &extra).await?;
    w.web = Some(base);
    Some((w, http))
}

async fn panel_requests_are_counted_per_route_and_healthz_reports_the_listener(
    w: World,
    http: u16,
) {
    let _d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    wait_listening(&b).await;
    let web = w.web.clone().unwrap();
    let addr = web.trim_start_matches("http://");
    let health = eventually(WAIT, "/healthz", || support::http_get(http, "/healthz")).await;
    assert!(
        health
            .1
            .contains(&format!("panel: ok (listening on {addr})")),
        "{}",
        health.1
    );
    b.sign_in(&w, COORDINATOR).await;
    assert_eq!(b.get("/sla").await.status, 200);
    assert_eq!(b.get("/sla").await.status, 200);
    // A made-up sign-in token, and a path that does not exist.
    let token = "ab".repeat(32);
    assert_eq!(b.get(&format!("/ingresar/{token}")).await.status, 400);
    assert_eq!(b.get("/no-existe/secreto123").await.status, 404);
    let (_, metrics) = support::http_get(http, "/metrics").await.unwrap();
    let line = |route: &str, method: &str, status: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("mesayuda_panel_requests_total{")
                    && l.contains(&format!("route=\"{route}\""))
                    && l.contains(&format!("method=\"{method}\""))
                    && l.contains(&format!("status=\"{status}\""))
            })
            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
    };
    assert_eq!(
        line("/sla", "GET", "200").as_deref(),
        Some("2"),
        "{metrics}"
    );
    assert!(
        line("/ingresar/{token}", "GET", "400").is_some(),
        "{metrics}"
    );
    assert!(
        line("/ingresar/{token}", "POST", "303").is_some(),
        "{metrics}"
    );
    assert!(line("unmatched", "GET", "404").is_some(), "{metrics}");
    assert!(
        metrics.contains("mesayuda_panel_request_duration_seconds_bucket{")
            && metrics.contains("route=\"/sla\""),
        "{metrics}"
    );
    // Routes, never paths: no token or made-up path reaches a label.
    assert!(!metrics.contains(&token), "{metrics}");
    assert!(!metrics.contains("secreto123"), "{metrics}");
    let session = b.get("/sla").await;
    assert_eq!(session.status, 200);
    // Nor the logs: no sign-in token and no cookie value.
    let log = _d.log_text();
    let link = support::panel::links(&w, COORDINATOR).await.pop().unwrap();
    let secret = link.rsplit('/').next().unwrap();
    assert!(!log.contains(secret), "the sign-in token is in the log");
    assert!(!log.contains(&token));
    let cookie = b.cookies.get("mesayuda_sesion").expect("signed in").clone();
    assert!(!log.contains(&cookie), "the session cookie is in the log");
}

async fn check_config_checks_the_web_section(w: World) {
    let ok = w.cli().run(&["check-config", "--offline"]);
    let text = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(text.contains("panel web: ok"), "{text}");
    // A base_url that is not an absolute http(s) address is refused, naming the key.
    let good = std::fs::read_to_string(&w.config).unwrap();
    let base = w.web.clone().unwrap();
    for bad in [
        "mesayuda.example.org",
        "ftp://mesayuda.example.org",
        "/panel",
    ] {
        std::fs::write(&w.config, good.replace(&base, bad)).unwrap();
        let out = w.cli().run(&["check-config", "--offline"]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{bad}: {all}");
        assert!(all.contains("web.base_url"), "{bad}: {all}");
    }
    // A panel page that does not parse is named.
    let templates = w.dir.path().join("plantillas");
    support::copy_templates(&templates);
    std::fs::write(
        templates.join("panel/sla.html.hbs"),
        "{{#each groups}}sin cerrar",
    )
    .unwrap();
    let shipped = support::repo_root().join("templates");
    std::fs::write(
        &w.config,
        good.replace(
            &shipped.display().to_string(),
            &templates.display().to_string(),
        ),
    )
    .unwrap();
    let out = w.cli().run(&["check-config", "--offline"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("panel web: error"), "{text}");
    assert!(text.contains("sla.html.hbs"), "{text}");
}

/// A coordinator opens the compliance report in Chromium, and the chart is drawn.
async fn a_coordinator_sees_the_compliance_chart_in_a_browser(w: World) {
    let _d = w.spawn_daemon();
    let b = Browser::new(&w);
    wait_listening(&b).await;
    // Closed yesterday-ish in this month, so the default period shows it.
    let now = chrono::Utc::now();
    let at: &'static str = Box::leak(now.to_rfc3339().into_boxed_str());
    seed(
        &w,
        &[
            Seed {
                service: Some("VPN"),
                target_h: 16,
                used_h: 4,
                closed_at: Some(at),
                rating: Some(5),
                ..Seed::default()
            },
            Seed {
                service: Some("VPN"),
                target_h: 16,
                used_h: 20,
                closed_at: Some(at),
                ..Seed::default()
            },
        ],
    )
    .await;
    let world = &w;
    in_chromium(world, |c| async move { open_chart(world, &c).await }).await;
}

async fn open_chart(w: &World, c: &fantoccini::Client) {
    use fantoccini::Locator;
    let link = phone_ask_link(c, w, COORDINATOR).await;
    phone_confirm(c, &link).await;
    c.wait()
        .for_element(Locator::Css("nav a[href='/cumplimiento']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("figure.grafico svg[role='img']"))
        .await
        .unwrap();
    // Drawn, not just present: the VPN bar is half green, half red, on screen.
    let within = c.find(Locator::Css("svg rect.dentro")).await.unwrap();
    let outside = c.find(Locator::Css("svg rect.fuera")).await.unwrap();
    let (_, _, w_in, h_in) = within.rectangle().await.unwrap();
    let (_, _, w_out, _) = outside.rectangle().await.unwrap();
    assert!(w_in > 50.0 && h_in > 5.0, "within bar {w_in}x{h_in}");
    assert!((w_in - w_out).abs() < 2.0, "50 % each: {w_in} vs {w_out}");
    let mut texts = Vec::new();
    for t in c
        .find_all(Locator::Css("figure.grafico svg text"))
        .await
        .unwrap()
    {
        texts.push(t.text().await.unwrap());
    }
    assert!(
        texts.iter().any(|t| t == "50,0 % a tiempo (1 de 2)"),
        "{texts:?}"
    );
    // On a phone the page does not scroll sideways; the tables scroll in their box.
    assert_fits_phone(c).await;
}

/// `systemctl reload` (SIGHUP) reads the panel's pages again; a broken one leaves the last good
/// set in use.
async fn sighup_reloads_the_panel_pages_and_keeps_them_when_broken(w: World) {
    let templates = w.dir.path().join("plantillas");
    support::copy_templates(&templates);
    let shipped = support::repo_root().join("templates").display().to_string();
    let text = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(
        &w.config,
        text.replace(&shipped, &templates.display().to_string()),
    )
    .unwrap();
    let d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    wait_listening(&b).await;
    b.sign_in(&w, COORDINATOR).await;
    assert!(!b.get("/sla").await.body.contains("RECARGADA"));
    let page = templates.join("panel/sla.html.hbs");
    let original = std::fs::read_to_string(&page).unwrap();
    std::fs::write(&page, format!("<p>RECARGADA</p>\n{original}")).unwrap();
    d.signal("HUP");
    eventually(WAIT, "the reload logged", || async {
        d.log_text()
            .contains("web panel pages reloaded")
            .then_some(())
    })
    .await;
    assert!(b.get("/sla").await.body.contains("RECARGADA"));
    std::fs::write(&page, "{{#each groups}}sin cerrar").unwrap();
    d.signal("HUP");
    eventually(WAIT, "the refusal logged", || async {
        d.log_text()
            .contains("web panel pages not reloaded")
            .then_some(())
    })
    .await;
    let still = b.get("/sla").await;
    assert_eq!(still.status, 200, "{}", still.body);
    assert!(still.body.contains("RECARGADA"), "{}", still.body);
}

on_both_databases!(with_panel;
    sighup_reloads_the_panel_pages_and_keeps_them_when_broken,
    the_sla_board_counts_open_tickets_by_tier_for_supervisors_only,
    the_compliance_page_and_its_csv_say_what_the_cli_says,
    check_config_checks_the_web_section,
    a_coordinator_sees_the_compliance_chart_in_a_browser,
);

/// Like `on_both_databases!`, for the world that also has the operations listener.
mod metrics_and_health {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some((w, http)) = with_panel_and_http(support::DbKind::Sqlite).await {
            panel_requests_are_counted_per_route_and_healthz_reports_the_listener(w, http).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some((w, http)) = with_panel_and_http(support::DbKind::Postgres).await {
            panel_requests_are_counted_per_route_and_healthz_reports_the_listener(w, http).await;
        }
    }
}
