//! The web panel (`[web] listen`): server-rendered pages for the people the help desk mails —
//! approvers decide, requesters follow their requests, agents see the queue. People sign in with
//! a one-time link mailed to them (the help desk already owns everyone's mailbox); no password
//! exists to steal. Every decision goes through the same procedure path as the mailed answer.
//!
//! Pages are handlebars templates (`templates/panel/*.html.hbs`, HTML escaping on) in a layout,
//! styled by one hand-written stylesheet, with no JavaScript.

#[macro_use]
mod handlers;

mod aprobaciones;
mod check;
mod cola;
mod cumplimiento;
mod enlace_aprobacion;
mod expediente;
mod ingreso;
mod requests;
mod sla;
mod solicitudes;
mod telefonica;

use crate::config::Config;
use crate::domain::text::canonical_address;
use crate::store::{self, panel, Db};
use crate::workflow::notify::Mailer;
use crate::workflow::Procedure;
use crate::workflow::WorkflowError;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use handlebars::Handlebars;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// A session ends after this long without a page asked for.
pub const SESSION_IDLE_SECS: i64 = 8 * 3600;
/// A sign-in link works this long, once.
pub const LINK_VALID_SECS: i64 = 15 * 60;
/// Sign-in links one address may be sent per hour: enough for a mistyped attempt or two, too
/// few to flood someone's mailbox through the panel.
pub const LINKS_PER_HOUR: i64 = 5;
/// Sign-in links one client (address) may ask for per hour, whatever the addresses typed: a
/// ministry's floor behind one NAT stays well under it, a script walking a list of addresses
/// does not.
pub const CLIENT_LINKS_PER_HOUR: i64 = 30;

const SESSION_COOKIE: &str = "mesayuda_sesion";
/// Before sign-in there is no session to bind a CSRF token to: the forms carry the value of
/// this cookie (double submit), which a page on another site can neither read nor set.
const PRESESSION_COOKIE: &str = "mesayuda_csrf";

pub struct Panel {
    db: Db,
    mailer: Arc<Mailer>,
    procedure: Arc<Procedure>,
    /// Wakes the outbox sender, so a sign-in link leaves at once.
    wake: Arc<Notify>,
    /// `[web] base_url` without its trailing slash.
    base: String,
    /// `base_url` is https: cookies are `Secure`.
    secure: bool,
    /// `[web] trusted_proxies`: peers whose `X-Forwarded-For` names the client.
    proxies: Vec<ipnet::IpNet>,
    /// Replaced whole on SIGHUP (`reload_pages`); a request renders with the set it took.
    pages: std::sync::RwLock<Arc<Handlebars<'static>>>,
    css: std::sync::RwLock<Arc<str>>,
    /// `<templates>/panel/`, read again on reload.
    dir: std::path::PathBuf,
}

impl Panel {
    /// Reads the page templates and the stylesheet from `<templates>/panel/`.
    pub fn load(
        config: &Config,
        db: Db,
        mailer: Arc<Mailer>,
        procedure: Arc<Procedure>,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Panel> {
        let dir = config.paths.templates.join("panel");
        let (pages, css) = load_dir(&dir)?;
        let base = config.web.base().to_owned();
        Ok(Panel {
            db,
            mailer,
            procedure,
            wake,
            secure: base.starts_with("https://"),
            proxies: config.web.proxies().map_err(|p| {
                anyhow::anyhow!("web.trusted_proxies: `{p}` is not an IP address or network")
            })?,
            base,
            pages: std::sync::RwLock::new(Arc::new(pages)),
            css: std::sync::RwLock::new(css.into()),
            dir,
        })
    }

    /// Reads the pages and the stylesheet again (SIGHUP); on an error the ones in use stay.
    pub fn reload_pages(&self) -> anyhow::Result<()> {
        let (pages, css) = load_dir(&self.dir)?;
        if let (Ok(mut p), Ok(mut c)) = (self.pages.write(), self.css.write()) {
            *p = Arc::new(pages);
            *c = css.into();
        }
        Ok(())
    }

    fn pages(&self) -> Arc<Handlebars<'static>> {
        match self.pages.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

fn load_dir(dir: &Path) -> anyhow::Result<(Handlebars<'static>, String)> {
    let pages = load_pages(dir)?;
    let css = std::fs::read_to_string(dir.join("estilo.css"))
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join("estilo.css").display()))?;
    Ok((pages, css))
}

/// Every page the panel renders; checked at start so a missing file is known at once.
const PAGES: &[&str] = &[
    "layout",
    "ingreso",
    "enlace_enviado",
    "confirmar",
    "enlace_invalido",
    "aprobaciones",
    "resultado",
    "solicitudes",
    "solicitud",
    "cola",
    "telefonica",
    "sla",
    "cumplimiento",
];

fn load_pages(dir: &Path) -> anyhow::Result<Handlebars<'static>> {
    // Handlebars escapes HTML by default: every value a person typed is shown as text.
    let mut pages = Handlebars::new();
    for name in PAGES {
        let path = dir.join(format!("{name}.html.hbs"));
        pages
            .register_template_file(name, &path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(pages)
}

/// Binds the panel's listener; `None` (with an error logged) when the address is taken, so a
/// port clash never stops mail from being handled.
pub async fn bind(listen: &str) -> Option<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(listen.trim()).await {
        Ok(l) => {
            let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
            info!(addr = %addr, "web panel listening");
            crate::ops::health::panel_listening(&addr);
            Some(l)
        }
        Err(e) => {
            error!(listen, error = %e, "cannot listen for the web panel (set [web] listen to a free address); continuing without it");
            crate::ops::health::panel_failed(format!("cannot listen on {}: {e}", listen.trim()));
            None
        }
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    panel: Arc<Panel>,
    cancel: CancellationToken,
) {
    // The peer's address feeds the per-client limit on sign-in links.
    let app = router(panel).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await;
    if let Err(e) = result {
        error!(error = %e, "web panel listener failed");
        crate::ops::health::panel_failed(format!("listener failed: {e}"));
    }
}

pub use check::check_pages;

pub fn router(panel: Arc<Panel>) -> Router {
    Router::new()
        .route("/", get(ingreso::inicio))
        .route("/ingresar", post(ingreso::pedir_enlace))
        .route(
            "/ingresar/{token}",
            get(ingreso::confirmar).post(ingreso::ingresar),
        )
        .route("/salir", post(ingreso::salir))
        .route("/aprobaciones", get(aprobaciones::lista))
        .route(
            "/aprobaciones/{req}",
            get(enlace_aprobacion::una).post(aprobaciones::decidir),
        )
        .route("/solicitudes", get(solicitudes::lista))
        .route(
            "/solicitudes/nueva",
            get(telefonica::formulario).post(telefonica::registrar),
        )
        .merge(expediente::routes())
        .route("/cola", get(cola::cola))
        .route("/sla", get(sla::tablero))
        .route("/cumplimiento", get(cumplimiento::informe))
        .route("/cumplimiento.csv", get(cumplimiento::csv))
        .route("/estilo.css", get(estilo))
        .fallback(|| async { PanelError::NotFound })
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(requests::record))
        .with_state(panel)
}

/// Headers on every answer, errors included: no script may run (there is none), the page may
/// not be framed (clickjacking a decision button), the sign-in link in the address bar never
/// leaks in a Referer, and nothing personal stays in a shared cache.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

async fn estilo(axum::extract::State(p): axum::extract::State<Arc<Panel>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        match p.css.read() {
            Ok(c) => c.to_string(),
            Err(poisoned) => poisoned.into_inner().to_string(),
        },
    )
        .into_response()
}

/// What a page can fail with; the person sees a short Spanish page, the log the detail.
#[derive(Debug)]
pub enum PanelError {
    NotFound,
    /// A POST without its CSRF token (or with someone else's).
    Forbidden,
    BadRequest(&'static str),
    Internal(String),
}

impl From<sqlx::Error> for PanelError {
    fn from(e: sqlx::Error) -> Self {
        PanelError::Internal(format!("database: {e}"))
    }
}

impl From<WorkflowError> for PanelError {
    fn from(e: WorkflowError) -> Self {
        PanelError::Internal(e.to_string())
    }
}

impl From<handlebars::RenderError> for PanelError {
    fn from(e: handlebars::RenderError) -> Self {
        PanelError::Internal(format!("template: {e}"))
    }
}

impl IntoResponse for PanelError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            PanelError::NotFound => (
                StatusCode::NOT_FOUND,
                "Página no encontrada",
                "Esta página no existe o no es suya.",
            ),
            PanelError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Solicitud rechazada",
                "El formulario no vino de esta página o su sesión terminó. Vuelva a la página anterior, recárguela e intente de nuevo.",
            ),
            PanelError::BadRequest(why) => (StatusCode::BAD_REQUEST, "Solicitud no válida", why),
            PanelError::Internal(detail) => {
                error!(error = %detail, "web panel request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error del servidor",
                    "No pudimos atender su solicitud. Intente de nuevo en unos minutos.",
                )
            }
        };
        // Fixed texts only: nothing a person sent is echoed here, so nothing needs escaping.
        let html = format!(
            "<!doctype html>\n<html lang=\"es\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · Mesa de ayuda</title><link rel=\"stylesheet\" href=\"/estilo.css\"></head>\
             <body><main class=\"contenido\"><h1>{title}</h1><p>{text}</p>\
             <p><a href=\"/\">Ir al inicio</a></p></main></body></html>\n"
        );
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response()
    }
}

/// The person behind a valid session.
pub struct Signed {
    pub email: String,
    secret: String,
    /// The session's CSRF token: every form of a signed-in page carries it.
    pub csrf: String,
}

impl Panel {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    /// The request does not come from another site's page. Browsers say where a request
    /// comes from in `Sec-Fetch-Site` (`Origin` does not do: under our `no-referrer` policy
    /// our own forms post `Origin: null`, as any page can make its own); a client that sends
    /// neither (a script, an old browser) is let through, the link's secret being the proof.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        !headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| matches!(v, "cross-site" | "same-site"))
    }

    /// The signed-in person, from the session cookie; seeing them extends the session.
    async fn signed(&self, headers: &HeaderMap) -> Result<Option<Signed>, PanelError> {
        let Some(secret) = cookie(headers, SESSION_COOKIE).filter(|s| is_secret(s)) else {
            return Ok(None);
        };
        let now = store::unix(self.now());
        let mut conn = self.db.pool.acquire().await?;
        let email = panel::touch_session(&mut conn, secret, now - SESSION_IDLE_SECS, now).await?;
        Ok(email.map(|email| Signed {
            email,
            secret: secret.to_owned(),
            csrf: session_csrf(secret),
        }))
    }

    /// [`Panel::signed`] for pages that need someone: `Err` is the redirect to sign in.
    async fn require(&self, headers: &HeaderMap) -> Result<Result<Signed, Response>, PanelError> {
        Ok(match self.signed(headers).await? {
            Some(s) => Ok(s),
            None => Err(see_other("/")),
        })
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        c
    }

    /// Renders `page` inside the layout, with the navigation for `who`.
    fn page(
        &self,
        status: StatusCode,
        page: &str,
        title: &str,
        who: Option<&Signed>,
        data: Value,
    ) -> Result<Response, PanelError> {
        let pages = self.pages();
        let content = pages.render(page, &data)?;
        let nav = who.map(|s| {
            let snap = self.procedure.snapshot();
            let staff = snap
                .directory
                .person(&s.email)
                .is_some_and(|p| p.works_tickets());
            json!({
                "name": snap.directory.name_or(&s.email, &s.email),
                "email": s.email,
                "csrf": s.csrf,
                "staff": staff,
                "supervisor": self.supervises(&s.email),
            })
        });
        let html = pages.render(
            "layout",
            &json!({ "title": title, "content": content, "who": nav }),
        )?;
        Ok((
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response())
    }

    /// A time as people here read it (the calendar's time zone).
    fn display(&self, t: chrono::DateTime<chrono::Utc>) -> String {
        crate::domain::es_co::datetime_in(t, &self.procedure.calendar.timezone())
    }
}

fn see_other(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .body(Body::empty())
        .unwrap_or_default()
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Our secrets are 64 hex digits; anything else is not worth a database look-up.
fn is_secret(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Derived from the session's secret, so it needs no storage, dies with the session, and a
/// page on another site (which cannot read the cookie) cannot compute it.
fn session_csrf(secret: &str) -> String {
    panel::hash_secret(&format!("csrf:{secret}"))
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A submitted form (`application/x-www-form-urlencoded`).
struct Form(HashMap<String, String>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    /// The form's CSRF token matches `expected`; else the POST is refused with 403.
    fn check_csrf(&self, expected: &str) -> Result<(), PanelError> {
        let sent = self.get("csrf");
        if !sent.is_empty() && !expected.is_empty() && same(sent, expected) {
            Ok(())
        } else {
            Err(PanelError::Forbidden)
        }
    }
}

/// `REQ-12` (any case) as a ticket number.
fn ticket_number(req: &str) -> Option<crate::domain::ticket::TicketNumber> {
    let n = req
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("REQ-"))
        .and_then(|_| req[4..].parse::<i64>().ok())?;
    (n > 0).then_some(crate::domain::ticket::TicketNumber(n))
}

fn same_person(a: &str, b: &str) -> bool {
    canonical_address(a) == canonical_address(b)
}

/// How a request's status reads in the panel to its requester ("suya": theirs to give).
fn status_label(s: &str) -> &'static str {
    match s {
        "pendiente_por_usuario" => "Esperando información suya",
        other => staff_status_label(other),
    }
}

/// How a request's status reads to the help desk's staff.
fn staff_status_label(s: &str) -> &'static str {
    s.parse::<crate::domain::ticket::Status>()
        .map(crate::domain::ticket::Status::label)
        .unwrap_or("En trámite")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_pages_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/panel");
        let pages = load_pages(&dir).unwrap();
        let html = pages
            .render(
                "layout",
                &json!({ "title": "<b>x</b>", "content": "<p>y</p>", "who": null }),
            )
            .unwrap();
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"), "{html}");
        assert!(html.contains("<p>y</p>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
    }

    #[test]
    fn ticket_numbers_and_cookies() {
        assert_eq!(ticket_number("REQ-12").map(|n| n.0), Some(12));
        assert_eq!(ticket_number("req-3").map(|n| n.0), Some(3));
        assert!(ticket_number("REQ-").is_none());
        assert!(ticket_number("INC-3").is_none());
        assert!(ticket_number("REQ-0").is_none());
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
