//! The web panel over HTTP as a browser without JavaScript would use it: cookies kept, no
//! redirect followed (tests look at them), forms read off the page.

use super::flow::{self, inbox_with, tag};
use super::mail;
use super::{eventually, World};
use mesayuda::mail::inbound::InboundMail;
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(25);

/// The requester of the VPN request the panel tests start from, and his boss, its approver.
pub const CARLOS: &str = "Carlos Pérez <carlos.perez@example.test>";
pub const BOSS: &str = "luisa.martinez@example.test";

/// A browser without JavaScript: keeps its cookies, follows no redirect (the tests look at them).
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub cookies: HashMap<String, String>,
    /// Sent as `X-Forwarded-For`, as a reverse proxy on this host would (the per-client limit).
    pub client: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The value of the first `<input name="name" value="…">`.
    pub fn field(&self, name: &str) -> String {
        let at = self
            .body
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body));
        let rest = &self.body[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Browser {
    pub fn new(w: &World) -> Browser {
        Browser {
            base: w.web.clone().expect("a world with the panel"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            client: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("Cookie", cookie.join("; "))
        };
        let req = match &self.client {
            Some(ip) => req.header("X-Forwarded-For", ip),
            None => req,
        };
        let r = req.send().await.expect("the panel answers");
        for set in r.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(self.url(path));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(self.url(path)).form(form);
        self.send(req).await
    }

    /// A `multipart/form-data` POST, as a browser sends a form with files: `fields` as
    /// text parts, `files` as (field, file name, content).
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        let boundary = "----mesayudaPruebaLimite7MA4YWxkTrZu0gW";
        let mut body: Vec<u8> = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, filename, content) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = self
            .http
            .post(self.url(path))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        self.send(req).await
    }

    /// Asks for a sign-in link on the home page's form.
    pub async fn ask_link(&mut self, email: &str) -> Page {
        let home = self.get("/").await;
        assert_eq!(home.status, 200, "{}", home.body);
        let csrf = home.field("csrf");
        self.post("/ingresar", &[("correo", email), ("csrf", &csrf)])
            .await
    }

    /// Opens the mailed link and confirms; returns the page the confirmation led to.
    pub async fn follow_link(&mut self, link: &str) -> Page {
        let confirm = self.get(link).await;
        assert_eq!(confirm.status, 200, "{}", confirm.body);
        let csrf = confirm.field("csrf");
        self.post(link, &[("csrf", &csrf)]).await
    }

    /// Asks for a sign-in link for `email` and returns it once it is mailed (a new one, not
    /// one mailed before).
    pub async fn mailed_link(&mut self, w: &World, email: &str) -> String {
        let before = links(w, email).await.len();
        self.ask_link(email).await;
        eventually(WAIT, "the sign-in mail", || async {
            links(w, email).await.get(before).cloned()
        })
        .await
    }

    /// Approves request `id` as its form's "aprobar" button does, with the page's CSRF token
    /// `csrf`; the answer says it was approved.
    pub async fn approve(&mut self, id: &str, csrf: &str) {
        let done = self
            .post(
                &format!("/aprobaciones/{id}"),
                &[("decision", "aprobar"), ("motivo", ""), ("csrf", csrf)],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert!(done.body.contains("Aprobó la solicitud"), "{}", done.body);
    }

    /// The signed-in person is not offered approval `id`, and approving it anyway (a form
    /// posted by hand) does not approve it; returns what the post answered.
    pub async fn approve_unoffered(&mut self, id: &str) -> Page {
        let list = self.get("/aprobaciones").await;
        assert!(!list.body.contains(id), "{}", list.body);
        let csrf = list.field("csrf");
        let tried = self
            .post(
                &format!("/aprobaciones/{id}"),
                &[("decision", "aprobar"), ("csrf", &csrf)],
            )
            .await;
        assert!(
            !tried.body.contains("Aprobó la solicitud"),
            "{}",
            tried.body
        );
        tried
    }

    /// Signs `email` in from the link mailed to them.
    pub async fn sign_in(&mut self, w: &World, email: &str) {
        let link = self.mailed_link(w, email).await;
        let r = self.follow_link(&link).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
}

/// Every sign-in link mailed to `email`, oldest first.
pub async fn links(w: &World, email: &str) -> Vec<String> {
    mail::inbox(w.mail.imap_port, email)
        .await
        .iter()
        .filter(|m| m.subject.contains("enlace para ingresar"))
        .filter_map(|m| {
            m.body_text
                .split_whitespace()
                .find(|t| t.contains("/ingresar/"))
                .map(str::to_owned)
        })
        .collect()
}

pub async fn wait_listening(b: &Browser) {
    eventually(WAIT, "the panel listening", || async {
        b.http.get(b.url("/")).send().await.ok().map(|_| ())
    })
    .await;
}

/// The first sign-in link mailed to `email`, once it has arrived.
pub async fn first_link(w: &World, email: &str) -> String {
    eventually(WAIT, "the sign-in mail", || async {
        links(w, email).await.into_iter().next()
    })
    .await
}

/// Runs `f` with a phone-sized Chromium session, closed whatever happens (a failed assertion
/// goes on failing after it); `false` when chromedriver is not installed (outside CI; the
/// reason is printed).
pub async fn in_chromium<F, Fut>(w: &World, f: F) -> bool
where
    F: FnOnce(fantoccini::Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(driver) = super::browser::Chromedriver::start(w.dir.path()).await else {
        return false;
    };
    let client = driver.phone().await;
    let run = std::panic::AssertUnwindSafe(f(client.clone()));
    let outcome = futures::FutureExt::catch_unwind(run).await;
    let _ = client.close().await;
    drop(driver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    true
}

/// In the browser: asks for a sign-in link for `email` on the home page's form, sees the
/// page say a mail was sent, and returns the link from that mail.
pub async fn phone_ask_link(c: &fantoccini::Client, w: &World, email: &str) -> String {
    use fantoccini::Locator;
    let base = w.web.clone().expect("a world with the panel");
    let before = links(w, email).await.len();
    c.goto(&format!("{base}/")).await.unwrap();
    c.find(Locator::Css("#correo"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    tap(c, Locator::Css("form[action='/ingresar'] button")).await;
    wait_for_text(c, "le enviamos un correo").await;
    eventually(WAIT, "the sign-in mail", || async {
        links(w, email).await.get(before).cloned()
    })
    .await
}

/// In the browser: opens a mailed sign-in link and taps to confirm.
pub async fn phone_confirm(c: &fantoccini::Client, link: &str) {
    use fantoccini::Locator;
    c.goto(link).await.unwrap();
    tap(c, Locator::Css("#confirmar")).await;
}

/// The page is a phone's width and nothing on it is wider: no sideways scrolling to reach a
/// button (the tables scroll in their own box).
pub async fn assert_fits_phone(c: &fantoccini::Client) {
    let widths = c
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        widths,
        serde_json::json!([390, 390]),
        "viewport and page width"
    );
}

/// Carlos asks for VPN access with his boss as approver; returns the request's number.
pub async fn request_vpn(w: &World) -> String {
    let body = format!(
        "Necesito acceso remoto por VPN para trabajar desde casa.\nJustificación: cierre contable de fin de año\nNúmero de equipo: PC-0456\nFecha de finalización: 2026-12-31\nAprobador: {BOSS}\n"
    );
    flow::request(w, CARLOS, "Acceso VPN", &body).await
}

/// The approval request for ticket `id` in the boss's inbox.
pub async fn approval_mail(w: &World, id: &str) -> InboundMail {
    inbox_with(w, BOSS, "approval request", |m| {
        m.subject.contains("Aprobación requerida") && tag(m).as_deref() == Some(id)
    })
    .await
}

/// In the browser: taps what `locator` finds on the page as it is now.
pub async fn tap(c: &fantoccini::Client, locator: fantoccini::Locator<'_>) {
    c.find(locator).await.unwrap().click().await.unwrap();
}

/// In the browser: waits until the page shows `text`.
pub async fn wait_for_text(c: &fantoccini::Client, text: &str) {
    let xpath = format!("//*[contains(., '{text}')]");
    c.wait()
        .for_element(fantoccini::Locator::XPath(&xpath))
        .await
        .unwrap();
}

/// In the browser: waits until the panel's page at `path` is open.
pub async fn wait_for_page(c: &fantoccini::Client, w: &World, path: &str) {
    let base = w.web.clone().expect("a world with the panel");
    c.wait()
        .for_url(&url::Url::parse(&format!("{base}{path}")).unwrap())
        .await
        .unwrap();
}

/// In the browser: taps "aprobar" on request `id`'s approval form and waits for the answer.
pub async fn tap_approve(c: &fantoccini::Client, id: &str) {
    tap(
        c,
        fantoccini::Locator::Css(&format!(
            "form[action='/aprobaciones/{id}'] button[value='aprobar']"
        )),
    )
    .await;
    wait_for_text(c, "Aprobó la solicitud").await;
}
