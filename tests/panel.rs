//! The web panel, over HTTP against the real daemon (real mail server, both databases): sign-in
//! by a mailed one-time link, CSRF, other people's tickets, and approvals decided in the panel
//! through the same procedure path as a mailed answer. One test drives real Chromium.

mod support;

use std::time::Duration;
use support::flow::ticket_where;
use support::mail;
use support::panel::{
    approval_mail, assert_fits_phone, first_link, in_chromium, phone_ask_link, phone_confirm,
    request_vpn, tap_approve, wait_for_page, wait_listening, Browser, BOSS,
};
use support::{eventually, World};

const CARLOS_ADDR: &str = "carlos.perez@example.test";
const WAIT: Duration = Duration::from_secs(25);

async fn sign_in_link_arrives_by_mail_and_works_once(w: World) {
    let _d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    let home = eventually(WAIT, "the panel listening", || async {
        let r = b.http.get(b.url("/")).send().await.ok()?;
        Some(r.status().as_u16())
    })
    .await;
    assert_eq!(home, 200);
    let sent = b.ask_link(BOSS).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("le enviamos un correo"), "{}", sent.body);
    // Every page carries the security headers.
    let csp = sent.header("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(sent.header("x-content-type-options"), "nosniff");
    let link = first_link(&w, BOSS).await;
    assert!(link.starts_with(&format!("{}/ingresar/", b.base)), "{link}");
    // Opening the link (as a mail scanner would) signs nobody in and spends nothing.
    let scanner = Browser::new(&w).get(&link).await;
    assert_eq!(scanner.status, 200);
    assert!(scanner.body.contains(BOSS), "{}", scanner.body);
    assert!(scanner
        .header("set-cookie")
        .find("mesayuda_sesion")
        .is_none());
    let signed = b.follow_link(&link).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let cookie = signed.header("set-cookie");
    assert!(cookie.contains("mesayuda_sesion="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http base_url: {cookie}");
    let mine = b.get("/solicitudes").await;
    assert_eq!(mine.status, 200);
    assert!(mine.body.contains("Luisa"), "{}", mine.body);
    // Used once: a second use, from anywhere, fails.
    let again = Browser::new(&w).get(&link).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("ya fue usado"), "{}", again.body);
    let mut other = Browser::new(&w);
    let csrf = other.get("/").await.field("csrf");
    let reuse = other.post(&link, &[("csrf", &csrf)]).await;
    assert_eq!(reuse.status, 400);
    assert!(other.get("/solicitudes").await.status == 303);
    // The copy of the mail kept by the help desk does not hold a usable link.
    let stored = w.cli().run(&["outbox", "list", "--json"]);
    let secret = link.rsplit('/').next().unwrap();
    assert!(!String::from_utf8_lossy(&stored.stdout).contains(secret));
    // Signing out ends the session.
    let csrf = b.get("/solicitudes").await.field("csrf");
    assert_eq!(b.post("/salir", &[("csrf", &csrf)]).await.status, 303);
    assert_eq!(b.get("/solicitudes").await.status, 303);
}

async fn an_expired_link_fails(w: World) {
    let _d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    wait_listening(&b).await;
    b.ask_link(BOSS).await;
    let link = first_link(&w, BOSS).await;
    // Fifteen minutes cannot be waited in a test: the link is aged in the database as the
    // clock would age it.
    let db = mesayuda::store::Db::connect(&w.db.url, 1).await.unwrap();
    sqlx::query("UPDATE panel_links SET expires_at = created_at - 1")
        .execute(&db.pool)
        .await
        .unwrap();
    db.pool.close().await;
    let page = b.get(&link).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("venció"), "{}", page.body);
    let csrf = b.get("/").await.field("csrf");
    assert_eq!(b.post(&link, &[("csrf", &csrf)]).await.status, 400);
    assert_eq!(b.get("/solicitudes").await.status, 303);
}

/// A session outlives a restart of the daemon (it is in the database), and ends after eight
/// hours without use.
async fn a_session_outlives_a_restart_and_ends_after_eight_idle_hours(w: World) {
    let mut d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    wait_listening(&b).await;
    b.sign_in(&w, BOSS).await;
    assert_eq!(b.get("/solicitudes").await.status, 200);
    d.terminate();
    let _d = w.spawn_daemon();
    wait_listening(&b).await;
    assert_eq!(b.get("/solicitudes").await.status, 200, "signed in still");
    // Eight hours cannot be waited: the session is aged as the clock would age it.
    let db = mesayuda::store::Db::connect(&w.db.url, 1).await.unwrap();
    sqlx::query("UPDATE panel_sessions SET last_seen = last_seen - 8 * 3600 - 1")
        .execute(&db.pool)
        .await
        .unwrap();
    db.pool.close().await;
    assert_eq!(b.get("/solicitudes").await.status, 303, "signed out");
}

async fn an_unknown_address_gets_the_same_answer_and_no_mail(w: World) {
    let _d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    wait_listening(&b).await;
    let stranger = "nadie.conocido@example.test";
    let known = b.ask_link(BOSS).await;
    let unknown = b.ask_link(stranger).await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body.replace(BOSS, stranger), unknown.body);
    first_link(&w, BOSS).await;
    let queued = w.cli().json(&["outbox", "list", "--json"]);
    let to_stranger = queued
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["recipients"].as_str().unwrap_or("").contains(stranger))
        .count();
    assert_eq!(to_stranger, 0, "{queued}");
    // Rate limit: at most five links an hour for one address, the same answer every time.
    for _ in 0..6 {
        let again = b.ask_link(BOSS).await;
        assert_eq!(again.body, known.body);
    }
    // The panel commits a link's mail to the outbox before it answers: with every answer in,
    // every link it was going to mail is queued.
    let links = w
        .outbox()
        .into_iter()
        .filter(|m| m["kind"] == "enlace_ingreso")
        .count();
    assert_eq!(links, 5, "{:#?}", w.outbox());
}

async fn a_post_without_its_csrf_token_is_refused(w: World) {
    let _d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    wait_listening(&b).await;
    // Before sign-in: the form's token is the pre-session cookie's.
    b.get("/").await;
    let no_token = b.post("/ingresar", &[("correo", BOSS)]).await;
    assert_eq!(no_token.status, 403);
    let id = request_vpn(&w).await;
    approval_mail(&w, &id).await;
    b.sign_in(&w, BOSS).await;
    let list = b.get("/aprobaciones").await;
    assert!(list.body.contains(&id), "{}", list.body);
    let path = format!("/aprobaciones/{id}");
    assert_eq!(b.post(&path, &[("decision", "aprobar")]).await.status, 403);
    let forged = b
        .post(&path, &[("decision", "aprobar"), ("csrf", &"0".repeat(64))])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(b.post("/salir", &[]).await.status, 403);
    let t = w.cli().ticket(&id);
    assert_eq!(t["approval"]["status"], "pendiente");
}

async fn another_persons_ticket_is_not_found(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    let mut boss = Browser::new(&w);
    boss.sign_in(&w, BOSS).await;
    let theirs = boss.get(&format!("/solicitudes/{id}")).await;
    assert_eq!(theirs.status, 404);
    assert!(!theirs.body.contains("cierre contable"), "{}", theirs.body);
    assert_eq!(boss.get("/solicitudes/REQ-999").await.status, 404);
    // Not an agent: the queue is not theirs either.
    assert_eq!(boss.get("/cola").await.status, 404);
    let mut carlos = Browser::new(&w);
    carlos.sign_in(&w, CARLOS_ADDR).await;
    let list = carlos.get("/solicitudes").await;
    assert!(list.body.contains(&id), "{}", list.body);
    let own = carlos.get(&format!("/solicitudes/{id}")).await;
    assert_eq!(own.status, 200);
    assert!(own.body.contains("cierre contable"), "{}", own.body);
    assert!(own.body.contains("Esperando aprobación"), "{}", own.body);
    // The approval request to his boss is not part of his conversation.
    assert!(!own.body.contains("Aprobación requerida"), "{}", own.body);
    // An agent finds it in the queue.
    let mut agent = Browser::new(&w);
    agent.sign_in(&w, "laura.rojas@example.test").await;
    let queue = agent.get("/cola").await;
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.contains(&id) && queue.body.contains("Acceso VPN"),
        "{}",
        queue.body
    );
}

async fn an_approval_decided_in_the_panel_makes_the_mailed_answer_void(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    let req = approval_mail(&w, &id).await;
    // The mail's own link signs its approver in once, and the mail says so.
    assert!(
        req.body_text.contains(
            "contienen el código que valida su respuesta.\nTambién puede decidir en el panel con el enlace"
        ) && req.body_text.contains("sirve una sola vez y vence en 7 días.\nEl tiempo previsto"),
        "{}",
        req.body_text
    );
    let mut b = Browser::new(&w);
    b.sign_in(&w, BOSS).await;
    let list = b.get("/aprobaciones").await;
    assert!(list.body.contains(&id), "{}", list.body);
    assert!(
        list.body.contains("cierre contable de fin de año"),
        "{}",
        list.body
    );
    // The justification shows once, in its own line, not again among the other fields.
    assert_eq!(
        list.body.matches("cierre contable de fin de año").count(),
        1,
        "{}",
        list.body
    );
    assert!(list.body.contains("Carlos"), "{}", list.body);
    // The time left of the 24 business hours, just asked.
    assert!(
        list.body.contains("Quedan 24,0 horas hábiles")
            || list.body.contains("Quedan 23,9 horas hábiles"),
        "{}",
        list.body
    );
    let csrf = list.field("csrf");
    b.approve(&id, &csrf).await;
    let t = w.cli().ticket(&id);
    assert_eq!(t["status"], "trabajo_en_progreso");
    assert_eq!(t["approval"]["status"], "aprobado");
    assert_eq!(t["approval"]["decided_by"], BOSS);
    let via = t["events"].as_array().unwrap().iter().any(|e| {
        e["kind"] == "aprobado"
            && e["description"]
                .as_str()
                .unwrap()
                .contains("(desde el panel)")
    });
    assert!(via, "{t}");
    mail::wait_for(
        w.mail.imap_port,
        CARLOS_ADDR,
        WAIT,
        "approved notice",
        |m| m.subject.contains("fue aprobada"),
    )
    .await;
    // The mailed answer to the approval request, afterwards, changes nothing.
    mail::reply(w.mail.smtp_port, BOSS, &req, "RECHAZAR\nMejor no.").await;
    mail::wait_for(w.mail.imap_port, BOSS, WAIT, "answer without effect", |m| {
        m.body_text.contains("ya fue aprobada")
    })
    .await;
    let t = w.cli().ticket(&id);
    assert_eq!(t["approval"]["status"], "aprobado");
    assert_eq!(t["status"], "trabajo_en_progreso");
    let after = b.get("/aprobaciones").await;
    assert!(
        after.body.contains("No tiene aprobaciones pendientes"),
        "{}",
        after.body
    );
    // Below, the decision taken, for the approver's record.
    let past = after
        .body
        .split("Sus decisiones anteriores")
        .nth(1)
        .unwrap_or_else(|| panic!("no past decisions: {}", after.body));
    assert!(past.contains(&id) && past.contains("aprobada"), "{past}");
}

/// Luisa's substitute decides in the panel only once the request went to her: not while Luisa
/// is at work, and from Luisa's out-of-office reply on, as by mail.
async fn a_substitute_decides_only_once_on_duty(w: World) {
    const SANDRA: &str = "sandra.moreno@example.test";
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    let req = approval_mail(&w, &id).await;
    let mut b = Browser::new(&w);
    b.sign_in(&w, SANDRA).await;
    b.approve_unoffered(&id).await;
    assert_eq!(w.cli().ticket(&id)["approval"]["status"], "pendiente");

    // Luisa's vacation responder answers the request: now Sandra stands in.
    let to = req.reply_to.as_ref().unwrap().email.clone();
    let subject = format!("Respuesta automática: {}", req.subject);
    let away = mail::Draft {
        to: &to,
        extra_headers: "Auto-Submitted: auto-replied\r\n",
        ..mail::Draft::new(BOSS, &subject, "Estoy de vacaciones hasta el lunes.")
    };
    mail::send(w.mail.smtp_port, &away).await;
    let started = std::time::Instant::now();
    let list = loop {
        let list = b.get("/aprobaciones").await;
        if list.body.contains(&id) {
            break list;
        }
        assert!(started.elapsed() < WAIT, "never on the substitute's page");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        list.body.contains("Usted decide como suplente de"),
        "{}",
        list.body
    );
    b.approve(&id, &list.field("csrf")).await;
    let t = w.cli().ticket(&id);
    assert_eq!(t["approval"]["status"], "aprobado");
    assert_eq!(t["approval"]["decided_by"], SANDRA);
}

/// A mail in Carlos's name that nothing proves, with a "signed form" attached: staff see it
/// and its file marked unverified, and Carlos does not see it as his own.
async fn an_unproven_mail_in_the_requesters_name_is_marked_in_the_panel(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    approval_mail(&w, &id).await;
    mail::send_with_pdf(
        w.mail.smtp_port,
        "Carlos Pérez <carlos.perez@example.test>",
        &format!("RE: [{id}] Acceso VPN"),
        "Mi jefe ya lo autorizó, adjunto el formulario.",
        "formulario_firmado.pdf",
    )
    .await;
    w.wait_idle(WAIT).await;
    let mut staff = Browser::new(&w);
    staff.sign_in(&w, "laura.rojas@example.test").await;
    let page = staff.get(&format!("/solicitudes/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let forged = page
        .body
        .split("<article")
        .find(|a| a.contains("Mi jefe ya lo autorizó"))
        .unwrap_or_else(|| panic!("the message is shown: {}", page.body));
    assert!(forged.contains("sin verificar"), "{forged}");
    let file = page
        .body
        .lines()
        .find(|l| l.contains("formulario_firmado.pdf"))
        .unwrap_or_else(|| panic!("the file is listed: {}", page.body));
    assert!(file.contains("sin verificar"), "{file}");

    let mut carlos = Browser::new(&w);
    carlos.sign_in(&w, CARLOS_ADDR).await;
    let page = carlos.get(&format!("/solicitudes/{id}")).await;
    let forged = page
        .body
        .split("<article")
        .find(|a| a.contains("Mi jefe ya lo autorizó"))
        .unwrap_or_else(|| panic!("the message is shown: {}", page.body));
    assert!(
        !forged.contains("Usted") && forged.contains("A su nombre"),
        "{forged}"
    );
}

async fn the_requester_cannot_approve_their_own_request(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    approval_mail(&w, &id).await;
    let mut b = Browser::new(&w);
    b.sign_in(&w, CARLOS_ADDR).await;
    let tried = b.approve_unoffered(&id).await;
    assert_eq!(tried.status, 403, "{}", tried.body);
    assert!(
        tried
            .body
            .contains("nadie puede aprobar su propia solicitud"),
        "{}",
        tried.body
    );
    ticket_where(&w, &id, "the refusal recorded", |t| {
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "accion_rechazada")
    })
    .await;
    let t = w.cli().ticket(&id);
    assert_eq!(t["approval"]["status"], "pendiente");
    assert_eq!(t["status"], "pendiente_aprobacion");
}

/// The approver on a phone: the sign-in link from the mail, one tap to confirm, one to approve.
async fn an_approver_on_a_phone_signs_in_from_the_mail_and_approves(w: World) {
    let _d = w.spawn_daemon();
    let id = request_vpn(&w).await;
    approval_mail(&w, &id).await;
    let world = &w;
    if !in_chromium(
        world,
        |c| async move { approve_on_phone(world, &c, &id).await },
    )
    .await
    {
        return;
    }
    mail::wait_for(
        w.mail.imap_port,
        CARLOS_ADDR,
        WAIT,
        "approved notice",
        |m| m.subject.contains("fue aprobada"),
    )
    .await;
}

async fn approve_on_phone(w: &World, c: &fantoccini::Client, id: &str) {
    use fantoccini::Locator;
    let link = phone_ask_link(c, w, BOSS).await;
    phone_confirm(c, &link).await;
    wait_for_page(c, w, "/aprobaciones").await;
    // A phone's width, and nothing wider than it: no sideways scrolling to reach a button.
    assert_fits_phone(c).await;
    let page = c
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("cierre contable de fin de año"), "{page}");
    tap_approve(c, id).await;
}

on_both_databases!(with_panel;
    an_approver_on_a_phone_signs_in_from_the_mail_and_approves,
    sign_in_link_arrives_by_mail_and_works_once,
    an_expired_link_fails,
    a_session_outlives_a_restart_and_ends_after_eight_idle_hours,
    an_unknown_address_gets_the_same_answer_and_no_mail,
    a_post_without_its_csrf_token_is_refused,
    another_persons_ticket_is_not_found,
    an_approval_decided_in_the_panel_makes_the_mailed_answer_void,
    a_substitute_decides_only_once_on_duty,
    an_unproven_mail_in_the_requesters_name_is_marked_in_the_panel,
    the_requester_cannot_approve_their_own_request,
);

/// Behind a TLS proxy (`base_url` https) the cookies are `Secure`: a browser never sends them
/// over plain http.
async fn cookies_are_secure_behind_https(kind: support::DbKind) {
    let port = support::ports::reserve();
    let public = "https://mesayuda.example.test";
    let extra = format!("[web]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"{public}\"\n");
    let Some(mut w) = World::with_procedure_and(kind, &extra).await else {
        return;
    };
    let local = format!("http://127.0.0.1:{port}");
    w.web = Some(local.clone());
    let _d = w.spawn_daemon();
    let mut b = Browser::new(&w);
    wait_listening(&b).await;
    let home = b.get("/").await;
    assert!(
        home.header("set-cookie").contains("Secure"),
        "{:?}",
        home.headers
    );
    let link = b.mailed_link(&w, BOSS).await;
    assert!(link.starts_with(public), "{link}");
    let signed = b.follow_link(&link.replace(public, &local)).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let cookie = signed.header("set-cookie");
    assert!(
        cookie.contains("mesayuda_sesion=") && cookie.contains("Secure"),
        "{cookie}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cookies_are_secure_behind_https() {
    cookies_are_secure_behind_https(support::DbKind::Sqlite).await;
}
