//! Sign-in by a one-time link mailed to the person, and sign-out. A GET never signs anyone in:
//! mail security scanners open links, so the link only shows a button whose POST does.

use super::{
    cookie, is_secret, see_other, Form, Panel, PanelError, CLIENT_LINKS_PER_HOUR, LINKS_PER_HOUR,
    LINK_VALID_SECS, PRESESSION_COOKIE, SESSION_COOKIE, SESSION_IDLE_SECS,
};
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::domain::text::canonical_address;
use crate::store::{self, approvals, panel};
use crate::workflow::notify::Notice;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The pre-session CSRF token: the browser's cookie when it has a good one, else a new one
/// (returned with the `Set-Cookie` to send).
fn presession(p: &Panel, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, PRESESSION_COOKIE).filter(|c| is_secret(c)) {
        Some(c) => (c.to_owned(), None),
        None => {
            let c = panel::new_secret();
            let set = p.cookie(PRESESSION_COOKIE, &c, None);
            (c, Some(set))
        }
    }
}

pub(super) fn with_cookie(mut r: Response, set: Option<String>) -> Response {
    if let Some(v) = set.and_then(|s| HeaderValue::from_str(&s).ok()) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /`: the sign-in form, or, signed in, the page the person most likely came for.
pub async fn inicio(
    State(p): State<Arc<Panel>>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    if let Some(s) = p.signed(&headers).await? {
        let mut conn = p.db.pool.acquire().await?;
        let waiting = !approvals::pending(&mut conn, Some(&s.email))
            .await?
            .is_empty();
        let staff = p
            .procedure
            .snapshot()
            .directory
            .person(&s.email)
            .is_some_and(|x| x.works_tickets());
        return Ok(see_other(match (waiting, staff) {
            (true, _) => "/aprobaciones",
            (false, true) => "/cola",
            (false, false) => "/solicitudes",
        }));
    }
    let (csrf, set) = presession(&p, &headers);
    let r = p.page(
        StatusCode::OK,
        "ingreso",
        "Ingresar",
        None,
        json!({ "csrf": csrf }),
    )?;
    Ok(with_cookie(r, set))
}

/// `POST /ingresar`: mails a sign-in link to a person the help desk knows, and answers the
/// same page whoever asked, so the form tells nobody which addresses exist.
pub async fn pedir_enlace(
    State(p): State<Arc<Panel>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PanelError> {
    let form = Form::parse(&body);
    form.check_csrf(cookie(&headers, PRESESSION_COOKIE).unwrap_or(""))?;
    if over_client_limit(&p, &client(peer, &headers, &p.proxies)).await? {
        tracing::warn!("panel sign-in requests over the per-client limit");
        return p.page(
            StatusCode::TOO_MANY_REQUESTS,
            "ingreso",
            "Ingresar",
            None,
            json!({ "csrf": form.get("csrf"), "error": "Se pidieron demasiados enlaces desde su conexión en la última hora. Espere un rato e intente de nuevo." }),
        );
    }
    let typed = form.get("correo").trim().to_owned();
    if typed.is_empty() || !typed.contains('@') || typed.len() > 254 {
        return p.page(
            StatusCode::BAD_REQUEST,
            "ingreso",
            "Ingresar",
            None,
            json!({ "csrf": form.get("csrf"), "error": "Escriba su dirección de correo completa, por ejemplo ana.gomez@entidad.gov.co.", "correo": typed }),
        );
    }
    let email = canonical_address(&typed);
    let sent = mail_link(&p, &email).await?;
    if sent {
        p.wake.notify_one();
    }
    tracing::debug!(sent, "panel sign-in requested");
    p.page(
        StatusCode::OK,
        "enlace_enviado",
        "Revise su correo",
        None,
        json!({ "correo": typed, "minutes": LINK_VALID_SECS / 60 }),
    )
}

/// Who asks, for the per-client limit, kept only as a hash: the peer's address, unless the
/// peer is a reverse proxy — on this host (loopback) or in `[web] trusted_proxies` — then the
/// address `X-Forwarded-For` names after the proxies (read from the right, skipping trusted
/// proxies: the README's nginx block appends `$remote_addr`; anything further left was written
/// by the client and proves nothing). Behind a load balancer on another host not listed, every
/// user would share one allowance.
fn client(peer: SocketAddr, headers: &HeaderMap, proxies: &[ipnet::IpNet]) -> String {
    let trusted = |ip: &IpAddr| ip.is_loopback() || proxies.iter().any(|n| n.contains(ip));
    let mut ip = peer.ip();
    if trusted(&ip) {
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Ok(addr) = hop.parse::<IpAddr>() else {
                break;
            };
            ip = addr;
            if !trusted(&addr) {
                break;
            }
        }
    }
    panel::hash_secret(&format!("client:{ip}"))
}

/// Counts this request against its client's hourly allowance; `true` once it is used up.
async fn over_client_limit(p: &Panel, client: &str) -> Result<bool, PanelError> {
    let now = store::unix(p.now());
    let _turn = p.db.write_turn().await;
    let mut tx = p.db.begin_write().await?;
    let asked = panel::count_client_request(&mut tx, client, now, now - 3600).await?;
    tx.commit().await?;
    Ok(asked > CLIENT_LINKS_PER_HOUR)
}

/// Queues the link when `email` belongs to someone the directory knows or who has asked for
/// something, within the hourly limit; `true` when a mail was queued.
async fn mail_link(p: &Panel, email: &str) -> Result<bool, PanelError> {
    let now = store::unix(p.now());
    let snap = p.procedure.snapshot();
    let _turn = p.db.write_turn().await;
    let mut tx = p.db.begin_write().await?;
    let known =
        snap.directory.person(email).is_some() || panel::has_tickets(&mut tx, email).await?;
    if !known || panel::links_since(&mut tx, email, now - 3600).await? >= LINKS_PER_HOUR {
        return Ok(false);
    }
    let secret = panel::new_secret();
    panel::add_link(&mut tx, &secret, email, now, now + LINK_VALID_SECS).await?;
    let data = json!({
        "name": snap.directory.name_or(email, email),
        "link": format!("{}/ingresar/{secret}", p.base),
        "minutes": LINK_VALID_SECS / 60,
    });
    let notice = Notice::ticketless(
        MailKind::EnlaceIngreso,
        Template::EnlaceIngreso,
        data,
        email.to_owned(),
        now,
        None,
        "Enlace de ingreso al panel",
    );
    p.mailer.queue(&mut tx, &notice).await?;
    tx.commit().await?;
    Ok(true)
}

/// `approval`: the link came in an approval request (valid 7 days, not 15 minutes).
pub(super) fn invalid_link(p: &Panel, approval: bool) -> Result<Response, PanelError> {
    let days = crate::workflow::APPROVAL_LINK_VALID_SECS / 86_400;
    p.page(
        StatusCode::BAD_REQUEST,
        "enlace_invalido",
        "Enlace no válido",
        None,
        json!({ "minutes": LINK_VALID_SECS / 60, "days": approval.then_some(days) }),
    )
}

/// `GET /ingresar/{token}`: who the link is for and a button to confirm; nothing is spent.
pub async fn confirmar(
    State(p): State<Arc<Panel>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    if !is_secret(&token) {
        return invalid_link(&p, false);
    }
    if let Some(r) = super::enlace_aprobacion::entrar(&p, &token, &headers).await? {
        return Ok(r);
    }
    let mut conn = p.db.pool.acquire().await?;
    let Some(email) = panel::peek_link(&mut conn, &token, store::unix(p.now())).await? else {
        return invalid_link(&p, false);
    };
    let (csrf, set) = presession(&p, &headers);
    let r = p.page(
        StatusCode::OK,
        "confirmar",
        "Confirmar ingreso",
        None,
        json!({ "csrf": csrf, "correo": email, "token": token }),
    )?;
    Ok(with_cookie(r, set))
}

/// `POST /ingresar/{token}`: spends the link and starts the session (for an approval
/// request's link, also decides: `enlace_aprobacion::decidir`).
pub async fn ingresar(
    State(p): State<Arc<Panel>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PanelError> {
    if !is_secret(&token) {
        Form::parse(&body).check_csrf(cookie(&headers, PRESESSION_COOKIE).unwrap_or(""))?;
        return invalid_link(&p, false);
    }
    // An approval request's link carries its own proof instead of the pre-session token.
    if let Some(r) = super::enlace_aprobacion::decidir(&p, &token, &headers, &body).await? {
        return Ok(r);
    }
    Form::parse(&body).check_csrf(cookie(&headers, PRESESSION_COOKIE).unwrap_or(""))?;
    let now = store::unix(p.now());
    let session = panel::new_secret();
    let started = {
        let _turn = p.db.write_turn().await;
        let mut tx = p.db.begin_write().await?;
        let email = panel::use_link(&mut tx, &token, now).await?;
        if let Some(email) = &email {
            panel::add_session(&mut tx, &session, email, now).await?;
            panel::forget_expired(&mut tx, now, now - SESSION_IDLE_SECS).await?;
        }
        tx.commit().await?;
        email.is_some()
    };
    if !started {
        return invalid_link(&p, false);
    }
    tracing::info!("panel session started");
    let set = p.cookie(SESSION_COOKIE, &session, None);
    Ok(with_cookie(see_other("/"), Some(set)))
}

/// `POST /salir`: ends the session here and in the database.
pub async fn salir(
    State(p): State<Arc<Panel>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PanelError> {
    let (s, _) = p.posted_form(&headers, &body).await?;
    let mut conn = p.db.pool.acquire().await?;
    panel::end_session(&mut conn, &s.secret).await?;
    let gone = p.cookie(SESSION_COOKIE, "", Some(0));
    Ok(with_cookie(see_other("/"), Some(gone)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(peer: &str, forwarded: &[&str], proxies: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for f in forwarded {
            headers.append("x-forwarded-for", f.parse().unwrap());
        }
        let proxies: Vec<ipnet::IpNet> = proxies.iter().map(|p| p.parse().unwrap()).collect();
        client(peer.parse().unwrap(), &headers, &proxies)
    }

    fn is(ip: &str) -> String {
        panel::hash_secret(&format!("client:{ip}"))
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        // A client writing the header itself gains nothing.
        assert_eq!(
            who("203.0.113.7:5000", &["198.51.100.1"], &[]),
            is("203.0.113.7")
        );
        // nginx on this host appends the client it saw.
        assert_eq!(
            who("127.0.0.1:5000", &["203.0.113.7"], &[]),
            is("203.0.113.7")
        );
        assert_eq!(
            who("127.0.0.1:5000", &["198.51.100.1, 203.0.113.7"], &[]),
            is("203.0.113.7")
        );
        // A load balancer on another host: trusted only when listed.
        let lb = "10.0.0.5:4000";
        assert_eq!(who(lb, &["203.0.113.7"], &[]), is("10.0.0.5"));
        assert_eq!(
            who(lb, &["203.0.113.7"], &["10.0.0.0/24"]),
            is("203.0.113.7")
        );
        assert_eq!(
            who(lb, &["203.0.113.7"], &["10.0.0.5/32"]),
            is("203.0.113.7")
        );
        // Two proxies in a row: the first address from the right that is not a proxy.
        assert_eq!(
            who(
                lb,
                &["198.51.100.1, 203.0.113.7, 10.0.0.9"],
                &["10.0.0.0/24"]
            ),
            is("203.0.113.7")
        );
        // Garbage stops the walk at the last address read.
        assert_eq!(
            who(lb, &["203.0.113.7, x"], &["10.0.0.0/24"]),
            is("10.0.0.5")
        );
    }
}
