//! The panel as a workplace, over HTTP against the real daemon (real mail server, both
//! databases): the approval request's direct link, the per-client limit on sign-in links, a
//! requester writing (with files) as if by mail, agents acting with the forms of the mail
//! commands (refused exactly when the command is), the queue's filters, a phone request, and
//! two runs in real Chromium.

mod support;

use std::time::Duration;
use support::flow::{self, inbox_with, tag, ticket_where};
use support::mail;
use support::panel::{
    approval_mail, assert_fits_phone, first_link, in_chromium, phone_confirm, request_vpn, tap,
    wait_for_page, wait_for_text, wait_listening, Browser, Page, BOSS, CARLOS,
};
use support::World;

const CARLOS_ADDR: &str = "carlos.perez@example.test";
const LAURA: &str = "laura.rojas@example.test";
const ANA: &str = "ana.gomez@example.test";
const WAIT: Duration = Duration::from_secs(25);
const PRINTER: &str =
    "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-0456\nUbicación: Piso 3, oficina 301\n";

/// The panel link a mail carries (its last line: "Decidir en el panel: …").
fn panel_link(m: &mesayuda::mail::inbound::InboundMail) -> String {
    m.body_text
        .split_whitespace()
        .rfind(|t| t.starts_with("http"))
        .unwrap_or_else(|| panic!("no panel link in {}", m.body_text))
        .to_owned()
}

/// The first `href` on the page that starts with `prefix`.
fn href(page: &Page, prefix: &str) -> String {
    let at = page
        .body
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("no link to {prefix} in {}", page.body));
    let rest = &page.body[at + 6..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn signed_in(w: &World, who: &str) -> Browser {
    let mut b = Browser::new(w);
    b.sign_in(w, who).await;
    b
}

/// Decided by mail first: the approval mail's panel link, tapped later (or forwarded to
/// someone), decides nothing and signs nobody in.
async fn an_approval_link_after_the_decision_signs_nobody_in(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    let req = approval_mail(&w, &id).await;
    let link = panel_link(&req);
    // Posted from a page elsewhere (a login CSRF): refused, nothing spent or decided.
    let elsewhere = reqwest::Client::new()
        .post(&link)
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("decision", "rechazar"), ("motivo", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403);
    assert_eq!(w.cli().ticket(&id)["approval"]["status"], "pendiente");
    mail::reply(w.mail.smtp_port, BOSS, &req, "APROBAR").await;
    ticket_where(&w, &id, "approved by mail", |t| {
        t["approval"]["status"] == "aprobado"
    })
    .await;
    let mut b = Browser::new(&w);
    let late = b
        .post(&link, &[("decision", "rechazar"), ("motivo", "")])
        .await;
    assert!(late.body.contains("ya fue aprobada"), "{}", late.body);
    assert!(
        !late.header("set-cookie").contains("mesayuda_sesion="),
        "{:?}",
        late.headers
    );
    assert_eq!(b.get("/aprobaciones").await.status, 303, "not signed in");
    assert_eq!(w.cli().ticket(&id)["approval"]["status"], "aprobado");
}

async fn the_approval_mail_signs_its_approver_in_and_only_the_post_decides(w: World) {
    let _d = w.spawn_daemon();
    let base = w.web.clone().unwrap();
    let id = request_vpn(&w).await;
    let req = approval_mail(&w, &id).await;
    let link = panel_link(&req);
    assert!(link.starts_with(&format!("{base}/ingresar/")), "{link}");
    // The copy the help desk keeps holds no usable link.
    let secret = link.rsplit('/').next().unwrap();
    let kept = w.cli().run(&["tickets", "show", &id, "--json"]);
    assert!(!String::from_utf8_lossy(&kept.stdout).contains(secret));
    // A mail scanner (Defender Safe Links, Proofpoint) opens the link, twice, with no
    // cookies: it sees the approval and its buttons, and nothing is spent or decided.
    for _ in 0..2 {
        let scanned = Browser::new(&w).get(&link).await;
        assert_eq!(scanned.status, 200, "{}", scanned.body);
        assert!(!scanned.header("set-cookie").contains("mesayuda_sesion"));
        assert!(
            scanned.body.contains("cierre contable de fin de año"),
            "{}",
            scanned.body
        );
        assert!(
            scanned
                .body
                .contains(&format!("action=\"/ingresar/{secret}\"")),
            "{}",
            scanned.body
        );
    }
    let t = w.cli().ticket(&id);
    assert_eq!(t["approval"]["status"], "pendiente");
    assert_eq!(t["status"], "pendiente_aprobacion");
    // The approver's tap after the scanner: the same page, still usable, not signed in yet.
    let mut b = Browser::new(&w);
    let opened = b.get(&link).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert!(opened.body.contains(&id), "{}", opened.body);
    assert!(
        opened.body.contains("Carlos Andrés Pérez"),
        "{}",
        opened.body
    );
    assert_eq!(b.get("/aprobaciones").await.status, 303, "not signed in");
    // The second tap, APROBAR: the POST spends the link, signs in and decides.
    let done = b
        .post(&link, &[("decision", "aprobar"), ("motivo", "")])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Aprobó la solicitud"), "{}", done.body);
    assert!(done.header("set-cookie").contains("mesayuda_sesion="));
    let t = w.cli().ticket(&id);
    assert_eq!(t["approval"]["status"], "aprobado");
    assert!(t["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "aprobado"
            && e["description"]
                .as_str()
                .unwrap()
                .contains("(desde el panel)")));
    // Spent: anyone else opening it again is refused, a second POST decides nothing; the
    // approver tapping the mail again goes on to the approval's page.
    let mut scanner = Browser::new(&w);
    let again = scanner.get(&link).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("ya fue usado"), "{}", again.body);
    assert!(!again.header("set-cookie").contains("mesayuda_sesion"));
    let replay = scanner
        .post(&link, &[("decision", "rechazar"), ("motivo", "")])
        .await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert_eq!(w.cli().ticket(&id)["approval"]["status"], "aprobado");
    let back = b.get(&link).await;
    assert_eq!(back.status, 303);
    assert_eq!(back.header("location"), format!("/aprobaciones/{id}"));
    // The approver's confirmation links to the approval's page.
    let confirmed = inbox_with(&w, BOSS, "the decision's confirmation", |m| {
        m.subject.contains("Decisión registrada")
    })
    .await;
    assert!(
        confirmed
            .body_text
            .contains(&format!("{base}/aprobaciones/{id}")),
        "{}",
        confirmed.body_text
    );
    // The mailed answer afterwards no longer counts.
    mail::reply(w.mail.smtp_port, BOSS, &req, "RECHAZAR\nMejor no.").await;
    inbox_with(&w, BOSS, "answer without effect", |m| {
        m.body_text.contains("ya fue aprobada")
    })
    .await;
    assert_eq!(w.cli().ticket(&id)["approval"]["status"], "aprobado");
    let after = b.get(&format!("/aprobaciones/{id}")).await;
    assert!(after.body.contains("ya fue aprobada"), "{}", after.body);
    // Mail to staff about the ticket links to its page: the agents' new-work notice.
    let notice = flow::notice(&w, LAURA, &id).await;
    assert!(
        notice
            .body_text
            .contains(&format!("{base}/solicitudes/{id}")),
        "{}",
        notice.body_text
    );
}

async fn an_approval_link_is_refused_after_seven_days(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    let link = panel_link(&approval_mail(&w, &id).await);
    let db = mesayuda::store::Db::connect(&w.db.url, 1).await.unwrap();
    let (created, expires): (i64, i64) = sqlx::query_as(
        "SELECT created_at, expires_at FROM panel_links WHERE ticket_id IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(expires - created, 7 * 86_400);
    // Seven days cannot be waited in a test: the link is aged as the clock would age it.
    sqlx::query("UPDATE panel_links SET expires_at = created_at - 1 WHERE ticket_id IS NOT NULL")
        .execute(&db.pool)
        .await
        .unwrap();
    db.pool.close().await;
    let mut b = Browser::new(&w);
    let page = b.get(&link).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("venció (dura 7 días)"), "{}", page.body);
    assert_eq!(b.get("/aprobaciones").await.status, 303, "not signed in");
    assert_eq!(w.cli().ticket(&id)["approval"]["status"], "pendiente");
}

async fn sign_in_links_are_limited_per_client_as_well_as_per_address(w: World) {
    let _d = w.spawn_daemon();
    let mut script = Browser::new(&w);
    script.client = Some("203.0.113.7".into());
    wait_listening(&script).await;
    for i in 0..30 {
        let r = script.ask_link(&format!("nadie{i}@example.test")).await;
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
    }
    let over = script.ask_link(BOSS).await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert!(over.body.contains("demasiados enlaces"), "{}", over.body);
    // Another client is not held back by the first one.
    let mut other = Browser::new(&w);
    other.client = Some("198.51.100.9".into());
    assert_eq!(other.ask_link(BOSS).await.status, 200);
    first_link(&w, BOSS).await;
    w.wait_idle(WAIT).await;
    let sent = w
        .outbox()
        .into_iter()
        .filter(|m| m["kind"] == "enlace_ingreso")
        .count();
    assert_eq!(sent, 1, "only the other client's link went out");
}

async fn a_requester_writes_from_the_panel_as_if_by_mail(w: World) {
    let _d = w.spawn_daemon();
    let id = flow::request(&w, CARLOS, "Instalación de impresora", PRINTER).await;
    flow::notice(&w, LAURA, &id).await;
    let mut agent = signed_in(&w, LAURA).await;
    let page = agent.get(&format!("/solicitudes/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.field("csrf");
    let noted = agent
        .post(
            &format!("/solicitudes/{id}/accion"),
            &[
                ("accion", "nota"),
                ("valor", "Llamé: el equipo está detrás del archivador"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(noted.status, 303, "{}", noted.body);
    let mut carlos = signed_in(&w, CARLOS_ADDR).await;
    let own = carlos.get(&format!("/solicitudes/{id}")).await;
    assert_eq!(own.status, 200, "{}", own.body);
    // Internal notes never reach the requester; the audit trail neither.
    assert!(!own.body.contains("archivador"), "{}", own.body);
    assert!(!own.body.contains("Historial"), "{}", own.body);
    let csrf = own.field("csrf");
    let sent = carlos
        .post_multipart(
            &format!("/solicitudes/{id}/mensaje"),
            &[
                ("csrf", &csrf),
                ("texto", "El equipo tiene la etiqueta PC-0456 atrás."),
            ],
            &[("adjuntos", "foto-equipo.txt", b"contenido de la foto")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    // The agents are told exactly as if Carlos had mailed it.
    let told = inbox_with(&w, LAURA, "the requester's message", |m| {
        m.subject.contains("Nuevo mensaje del usuario") && tag(m).as_deref() == Some(id.as_str())
    })
    .await;
    assert!(
        told.body_text.contains("etiqueta PC-0456"),
        "{}",
        told.body_text
    );
    let t = w.cli().ticket(&id);
    assert!(
        t["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["filename"] == "foto-equipo.txt"),
        "{t}"
    );
    // The agent sees the note, the trail with activity numbers, and downloads the file.
    let page = agent.get(&format!("/solicitudes/{id}")).await;
    assert!(page.body.contains("detrás del archivador"), "{}", page.body);
    assert!(page.body.contains("Historial") && page.body.contains("<td>13</td>"));
    // Who did each step, by name (the requester's message above was Carlos's).
    assert!(
        page.body.contains("<td>Carlos Andrés Pérez Niño</td>")
            && !page.body.contains("<td>carlos.perez@example.test</td>"),
        "{}",
        page.body
    );
    let file = href(&page, &format!("/solicitudes/{id}/adjuntos/"));
    let got = agent.get(&file).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, "contenido de la foto");
    assert!(got.header("content-disposition").starts_with("attachment;"));
    assert_eq!(got.header("x-content-type-options"), "nosniff");
    // The requester downloads what they sent; someone else gets 404 for page and file.
    assert_eq!(carlos.get(&file).await.status, 200);
    let mut ana = signed_in(&w, ANA).await;
    assert_eq!(ana.get(&file).await.status, 404);
    assert_eq!(ana.get(&format!("/solicitudes/{id}")).await.status, 404);
}

async fn the_requester_sends_the_missing_information_from_the_panel(w: World) {
    let _d = w.spawn_daemon();
    let id = flow::request(&w, CARLOS, "Instalación de impresora", PRINTER).await;
    let mut agent = signed_in(&w, LAURA).await;
    let csrf = agent.get(&format!("/solicitudes/{id}")).await.field("csrf");
    let asked = agent
        .post(
            &format!("/solicitudes/{id}/accion"),
            &[
                ("accion", "pendiente"),
                ("valor", "¿Qué modelo de impresora es?"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    inbox_with(&w, CARLOS_ADDR, "the question", |m| {
        m.body_text.contains("¿Qué modelo de impresora es?")
    })
    .await;
    let mut carlos = signed_in(&w, CARLOS_ADDR).await;
    let own = carlos.get(&format!("/solicitudes/{id}")).await;
    assert!(
        own.body.contains("Envíe la información que falta"),
        "{}",
        own.body
    );
    assert!(
        own.body.contains("¿Qué modelo de impresora es?"),
        "{}",
        own.body
    );
    let sent = carlos
        .post_multipart(
            &format!("/solicitudes/{id}/mensaje"),
            &[
                ("csrf", &own.field("csrf")),
                ("texto", "Es una HP LaserJet M404."),
            ],
            &[],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    // As by mail: the request is worked again, and the agent who asked gets the answer.
    let answer = inbox_with(&w, LAURA, "the answer to her question", |m| {
        m.subject.contains("Respuesta del usuario a su pregunta")
            && m.body_text.contains("HP LaserJet M404")
    })
    .await;
    assert!(answer.body_text.contains("¿Qué modelo de impresora es?"));
    ticket_where(&w, &id, "worked again", |t| {
        t["status"] == "trabajo_en_progreso"
    })
    .await;
    // Nothing typed, nothing attached: nothing sent.
    let empty = carlos
        .post_multipart(
            &format!("/solicitudes/{id}/mensaje"),
            &[("csrf", &own.field("csrf")), ("texto", "  ")],
            &[],
        )
        .await;
    assert_eq!(empty.status, 400);
}

async fn each_agent_action_is_refused_in_the_panel_when_its_mail_command_is(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    approval_mail(&w, &id).await;
    let path = format!("/solicitudes/{id}/accion");
    let mut agent = signed_in(&w, LAURA).await;
    let csrf = agent.get(&format!("/solicitudes/{id}")).await.field("csrf");
    let refused = agent
        .post(
            &path,
            &[("accion", "resolver"), ("valor", "Listo"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("#resolver: el requerimiento espera aprobación"),
        "{}",
        refused.body
    );
    let changed = agent
        .post(
            &path,
            &[("accion", "cambio"), ("valor", "CHG-9"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(changed.status, 409, "{}", changed.body);
    let bad = agent
        .post(
            &path,
            &[
                ("accion", "prioridad"),
                ("valor", "urgente"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(bad.status, 409);
    assert!(
        bad.body.contains("Prioridad «urgente» no válida"),
        "{}",
        bad.body
    );
    assert_eq!(
        agent
            .post(&path, &[("accion", "resolver"), ("valor", "x")])
            .await
            .status,
        403,
        "no CSRF token"
    );
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "pendiente_aprobacion");
    assert_eq!(t["approval"]["status"], "pendiente");
    // The requester may see the ticket but not work it; a stranger does not even see it.
    let mut carlos = signed_in(&w, CARLOS_ADDR).await;
    let csrf_c = carlos
        .get(&format!("/solicitudes/{id}"))
        .await
        .field("csrf");
    let tried = carlos
        .post(
            &path,
            &[("accion", "cerrar"), ("valor", "ya no"), ("csrf", &csrf_c)],
        )
        .await;
    assert_eq!(tried.status, 403, "{}", tried.body);
    let mut ana = signed_in(&w, ANA).await;
    let csrf_a = ana.get("/solicitudes").await.field("csrf");
    let stranger = ana
        .post(
            &path,
            &[("accion", "cerrar"), ("valor", "x"), ("csrf", &csrf_a)],
        )
        .await;
    assert_eq!(stranger.status, 404);
    assert_eq!(w.cli().ticket(&id)["status"], "pendiente_aprobacion");
    // Approved, the same #resolver goes through, and the requester gets the solution.
    let mut boss = signed_in(&w, BOSS).await;
    let csrf_b = boss.get("/aprobaciones").await.field("csrf");
    let decided = boss
        .post(
            &format!("/aprobaciones/{id}"),
            &[("decision", "aprobar"), ("csrf", &csrf_b)],
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let resolved = agent
        .post(
            &path,
            &[
                ("accion", "resolver"),
                ("valor", "VPN configurada."),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(resolved.status, 303, "{}", resolved.body);
    inbox_with(&w, CARLOS_ADDR, "the solution", |m| {
        m.subject.contains("resuelta") && m.body_text.contains("VPN configurada.")
    })
    .await;
    ticket_where(&w, &id, "resolved through the panel", |t| {
        t["status"] == "resuelto"
            && t["events"].as_array().unwrap().iter().any(|e| {
                e["kind"] == "resuelto"
                    && e["description"]
                        .as_str()
                        .unwrap()
                        .contains("(desde el panel)")
            })
    })
    .await;
}

async fn the_queue_filters_and_a_phone_request(w: World) {
    let _d = w.spawn_daemon();
    let printer = flow::request(&w, CARLOS, "Instalación de impresora", PRINTER).await;
    let vpn = request_vpn(&w).await;
    let mut agent = signed_in(&w, LAURA).await;
    let shows = |p: &Page, id: &str| p.body.contains(&format!("href=\"/solicitudes/{id}\""));
    let q = agent.get("/cola?ver=sin_asignar").await;
    assert_eq!(q.status, 200, "{}", q.body);
    assert!(shows(&q, &printer) && shows(&q, &vpn), "{}", q.body);
    let q = agent.get("/cola?estado=pendiente_aprobacion").await;
    assert!(shows(&q, &vpn) && !shows(&q, &printer), "{}", q.body);
    let q = agent.get("/cola?servicio=IMPRESORA").await;
    assert!(shows(&q, &printer) && !shows(&q, &vpn), "{}", q.body);
    let q = agent.get("/cola?nivel=vencidas").await;
    assert!(!shows(&q, &printer) && !shows(&q, &vpn), "{}", q.body);
    let q = agent.get("/cola?nivel=menos_50").await;
    assert!(shows(&q, &printer), "{}", q.body);
    assert!(q.body.contains("<progress"), "{}", q.body);
    // Taking one from the queue.
    let csrf = q.field("csrf");
    let took = agent
        .post(
            &format!("/solicitudes/{printer}/accion"),
            &[("accion", "asignar"), ("valor", LAURA), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(took.status, 303, "{}", took.body);
    let mine = agent.get("/cola?ver=mias").await;
    assert!(
        shows(&mine, &printer) && !shows(&mine, &vpn),
        "{}",
        mine.body
    );
    assert!(!shows(&agent.get("/cola?ver=sin_asignar").await, &printer));
    // A group's new work reaches it through its service before anyone takes it: on-site
    // support sees the videobeam loan under "De mis grupos", not the printer nor the VPN.
    let loan = flow::request(
        &w,
        CARLOS,
        "Préstamo de videobeam",
        "Necesito un videobeam para una reunión.\nFecha y hora: 2026-12-03 9:00\nLugar: Sala 2\n",
    )
    .await;
    let mut miguel = signed_in(&w, "miguel.torres@example.test").await;
    let theirs = miguel.get("/cola?ver=mis_grupos").await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert!(
        shows(&theirs, &loan) && !shows(&theirs, &printer) && !shows(&theirs, &vpn),
        "{}",
        theirs.body
    );
    // A phone request, registered for Ana: her request, acknowledged to her.
    let form = agent.get("/solicitudes/nueva").await;
    assert_eq!(form.status, 200);
    let made = agent
        .post(
            "/solicitudes/nueva",
            &[
                ("solicitante", ANA),
                ("asunto", "Impresora por teléfono"),
                (
                    "texto",
                    "Instalar la impresora.\nNúmero de equipo: PC-77\nUbicación: Piso 2",
                ),
                ("csrf", &form.field("csrf")),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let ack = inbox_with(&w, ANA, "the acknowledgement of the phone request", |m| {
        m.subject.contains("Recibimos") && m.subject.contains("Impresora por teléfono")
    })
    .await;
    let id = tag(&ack).unwrap();
    assert_eq!(made.header("location"), format!("/solicitudes/{id}"));
    let t = w.cli().ticket(&id);
    assert_eq!(t["requester"], ANA);
    // Not staff: no phone form, no queue.
    let mut carlos = signed_in(&w, CARLOS_ADDR).await;
    assert_eq!(carlos.get("/solicitudes/nueva").await.status, 404);
    assert_eq!(carlos.get("/cola").await.status, 404);
}

/// The request numbers a queue page links to, in order.
fn queue_ids(page: &Page) -> Vec<String> {
    page.body
        .split("href=\"/solicitudes/REQ-")
        .skip(1)
        .map(|rest| format!("REQ-{}", &rest[..rest.find('"').unwrap()]))
        .collect()
}

/// The `href` of the page's link with `rel`, as a browser reads it (entities decoded).
fn rel_link(page: &Page, rel: &str) -> Option<String> {
    let at = page.body.find(&format!("rel=\"{rel}\""))?;
    let start = page.body[..at].rfind("href=\"")? + 6;
    let end = start + page.body[start..].find('"')?;
    Some(
        page.body[start..end]
            .replace("&amp;", "&")
            .replace("&#x3D;", "="),
    )
}

/// More open requests than a page holds: the queue shows the first 50 and how many there
/// are, and "Siguiente" (keeping the filter) shows the rest; "Anterior" goes back.
async fn the_queue_shows_fifty_requests_a_page_with_links_to_the_next(w: World) {
    let _d = w.spawn_daemon();
    for i in 0..55 {
        let from = format!("persona{i}@example.test");
        let body = format!(
            "Necesito instalar la impresora de la oficina.\nNúmero de equipo: PC-{i:04}\nUbicación: Piso 3, oficina 301\n"
        );
        let subject = format!("Impresora {i}");
        let (_, raw) = mail::Draft::new(&from, &subject, &body).render();
        mail::append(w.mail.imap_port, support::HELPDESK, "INBOX", &raw).await;
    }
    let all: Vec<String> = support::eventually(WAIT, "55 requests registered", || async {
        let t = w.cli().tickets();
        (t.len() == 55).then(|| {
            t.iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect()
        })
    })
    .await;
    let mut agent = signed_in(&w, LAURA).await;
    let first = agent.get("/cola?nivel=menos_50").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(
        first
            .body
            .contains("Solicitudes 1 a 50 de 55 · página 1 de 2"),
        "{}",
        first.body
    );
    assert!(rel_link(&first, "prev").is_none(), "{}", first.body);
    let on_first = queue_ids(&first);
    assert_eq!(on_first.len(), 50, "{}", first.body);
    let next = rel_link(&first, "next").expect("a link to the next page");
    assert!(
        next.contains("nivel=menos_50") && next.contains("pagina=2"),
        "{next}"
    );
    assert!(first.body.contains("Siguiente"), "{}", first.body);
    let second = agent.get(&next).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(
        second
            .body
            .contains("Solicitudes 51 a 55 de 55 · página 2 de 2"),
        "{}",
        second.body
    );
    let on_second = queue_ids(&second);
    assert_eq!(on_second.len(), 5, "{}", second.body);
    assert!(on_second.iter().all(|id| !on_first.contains(id)));
    let mut shown: Vec<String> = on_first.into_iter().chain(on_second).collect();
    shown.sort();
    let mut all = all;
    all.sort();
    assert_eq!(shown, all, "every open request on one of the two pages");
    assert!(rel_link(&second, "next").is_none(), "{}", second.body);
    assert!(second.body.contains("Anterior"), "{}", second.body);
    let back = rel_link(&second, "prev").expect("a link to the previous page");
    assert!(back.contains("pagina=1"), "{back}");
    assert_eq!(queue_ids(&agent.get(&back).await).len(), 50);
}

/// The approver on a phone, after a mail scanner opened the link: one tap on the mailed link,
/// one to approve.
async fn an_approver_approves_on_a_phone_from_the_approval_mail(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    let link = panel_link(&approval_mail(&w, &id).await);
    let world = &w;
    let ticket = id.clone();
    // The mail scanner first, twice: plain GETs that must leave the link usable.
    for _ in 0..2 {
        assert_eq!(Browser::new(&w).get(&link).await.status, 200);
    }
    assert_eq!(w.cli().ticket(&id)["approval"]["status"], "pendiente");
    let ran = in_chromium(world, |c| async move {
        c.goto(&link).await.unwrap();
        wait_for_text(&c, "cierre contable de fin de año").await;
        assert_fits_phone(&c).await;
        let path = link
            .trim_start_matches(&world.web.clone().unwrap())
            .to_owned();
        tap(
            &c,
            fantoccini::Locator::Css(&format!("form[action='{path}'] button[value='aprobar']")),
        )
        .await;
        wait_for_text(&c, &format!("Aprobó la solicitud {ticket}")).await;
        // Signed in by that tap: the approval's own page says what became of it.
        c.goto(&format!(
            "{}/aprobaciones/{ticket}",
            world.web.clone().unwrap()
        ))
        .await
        .unwrap();
        wait_for_text(&c, "ya fue aprobada").await;
    })
    .await;
    if !ran {
        return;
    }
    inbox_with(&w, CARLOS_ADDR, "approved notice", |m| {
        m.subject.contains("fue aprobada")
    })
    .await;
}

/// An agent takes an unassigned request from the queue and resolves it; the requester gets
/// the solution by mail.
async fn an_agent_takes_a_request_from_the_queue_and_resolves_it(w: World) {
    use fantoccini::Locator;
    let _d = w.spawn_daemon();
    let id = flow::request(&w, CARLOS, "Instalación de impresora", PRINTER).await;
    let mut http = Browser::new(&w);
    let link = http.mailed_link(&w, LAURA).await;
    let world = &w;
    let ticket = id.clone();
    let ran = in_chromium(world, |c| async move {
        phone_confirm(&c, &link).await;
        wait_for_page(&c, world, "/cola").await;
        tap(
            &c,
            Locator::Css(&format!(
                "form[action='/solicitudes/{ticket}/accion'] button.tomar"
            )),
        )
        .await;
        wait_for_text(&c, "se aplicó #asignar").await;
        // The request's page, forms and audit trail included, fits a phone's width.
        if let Ok(dir) = std::env::var("PANEL_SCREENSHOTS") {
            let png = c.screenshot().await.unwrap();
            std::fs::write(format!("{dir}/solicitud-agente.png"), png).unwrap();
        }
        assert_fits_phone(&c).await;
        c.find(Locator::Css("#valor-resolver"))
            .await
            .unwrap()
            .send_keys("Impresora instalada y probada.")
            .await
            .unwrap();
        tap(
            &c,
            Locator::XPath("//button[normalize-space(.)='Resolver']"),
        )
        .await;
        wait_for_text(&c, "se aplicó #resolver").await;
    })
    .await;
    if !ran {
        return;
    }
    inbox_with(&w, CARLOS_ADDR, "the solution", |m| {
        m.subject.contains("resuelta") && m.body_text.contains("Impresora instalada y probada.")
    })
    .await;
}

/// A mail of several megabytes (a 3 MB file) is taken in like any other: the ticket, the
/// original kept byte for byte (as ops read it with sqlite3 or psql: the pieces of a big mail
/// in order), and the agent downloads the file whole from the panel.
async fn a_big_mail_is_kept_whole_and_its_file_downloads_from_the_panel(w: World) {
    use base64::Engine;
    use sqlx::{Connection, Row};
    let _d = w.spawn_daemon();
    let file: String = (0..60_000)
        .map(|i| format!("registro {i:06} del inventario de equipos\n"))
        .collect();
    assert!(file.len() > 2_500_000);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&file);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    let raw = format!(
        "From: {CARLOS}\r\nTo: {}\r\nSubject: Instalación de impresora grande\r\n\
         Message-ID: <grande-{}@client.example.test>\r\nDate: {}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {}\r\n--b1\r\nContent-Type: text/plain; name=\"inventario.txt\"\r\n\
         Content-Disposition: attachment; filename=\"inventario.txt\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        support::HELPDESK,
        rand::random::<u64>(),
        chrono::Utc::now().to_rfc2822(),
        PRINTER.replace('\n', "\r\n"),
        lines.join("\r\n"),
    );
    mail::append(w.mail.imap_port, support::HELPDESK, "INBOX", raw.as_bytes()).await;
    let ack = inbox_with(&w, CARLOS_ADDR, "acknowledgement", |m| {
        m.subject.contains("Recibimos su solicitud") && m.subject.contains("impresora grande")
    })
    .await;
    let id = tag(&ack).expect("the acknowledgement names its ticket");

    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&w.db.url).await.unwrap();
    let row = sqlx::query(
        "SELECT id, raw FROM messages WHERE direction = 'in' AND subject LIKE '%grande%'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    let (row_id, mut kept): (i64, Vec<u8>) = (row.get(0), row.get(1));
    for piece in sqlx::query("SELECT data FROM raw_chunks WHERE message_row = $1 ORDER BY seq")
        .bind(row_id)
        .fetch_all(&mut c)
        .await
        .unwrap()
    {
        kept.extend_from_slice(&piece.get::<Vec<u8>, _>(0));
    }
    assert!(kept == raw.as_bytes(), "the original is kept as received");

    let mut agent = signed_in(&w, LAURA).await;
    let page = agent.get(&format!("/solicitudes/{id}")).await;
    assert!(page.body.contains("inventario.txt"), "{}", page.body);
    let link = href(&page, &format!("/solicitudes/{id}/adjuntos/"));
    let got = agent.get(&link).await;
    assert_eq!(got.status, 200);
    assert!(got.body == file, "the file downloads whole");
}

on_both_databases!(with_panel;
    the_approval_mail_signs_its_approver_in_and_only_the_post_decides,
    an_approval_link_after_the_decision_signs_nobody_in,
    an_approval_link_is_refused_after_seven_days,
    sign_in_links_are_limited_per_client_as_well_as_per_address,
    a_requester_writes_from_the_panel_as_if_by_mail,
    the_requester_sends_the_missing_information_from_the_panel,
    each_agent_action_is_refused_in_the_panel_when_its_mail_command_is,
    the_queue_filters_and_a_phone_request,
    the_queue_shows_fifty_requests_a_page_with_links_to_the_next,
    an_approver_approves_on_a_phone_from_the_approval_mail,
    an_agent_takes_a_request_from_the_queue_and_resolves_it,
    a_big_mail_is_kept_whole_and_its_file_downloads_from_the_panel,
);
