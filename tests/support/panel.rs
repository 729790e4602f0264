//! The web panel over plain HTTP, as a browser without JavaScript uses it: cookies kept,
//! redirects not followed (tests look at them), sign-in by the link mailed to the person.
//! (`tests/panel.rs` carries its own copy of this, written before it was shared.)

use super::{eventually, mail, World};
use std::collections::HashMap;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(25);

pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    cookies: HashMap<String, String>,
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

    /// The cells of the table row whose heading (`<th scope="row">`) starts with `heading`,
    /// as the text they show; `None` when no row has it. `nth` picks among several tables.
    pub fn row(&self, heading: &str, nth: usize) -> Option<Vec<String>> {
        let start = format!("<th scope=\"row\">{heading}");
        let at = self.body.match_indices(&start).nth(nth)?.0;
        let row = &self.body[at..];
        let row = &row[..row.find("</tr>")?];
        Some(
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[cell.find('>').unwrap() + 1..];
                    cell[..cell.find("</td>").unwrap()].trim().to_owned()
                })
                .collect(),
        )
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
        }
    }

    /// The value of a cookie the panel set.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
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

    /// Waits until the panel answers at all (the daemon has started it).
    pub async fn wait_listening(&self) {
        eventually(WAIT, "the panel listening", || async {
            self.http.get(self.url("/")).send().await.ok().map(|_| ())
        })
        .await;
    }

    /// Signs `email` in from the link mailed to them.
    pub async fn sign_in(&mut self, w: &World, email: &str) {
        let before = links(w, email).await.len();
        let home = self.get("/").await;
        assert_eq!(home.status, 200, "{}", home.body);
        let csrf = home.field("csrf");
        self.post("/ingresar", &[("correo", email), ("csrf", &csrf)])
            .await;
        let link = eventually(WAIT, "the sign-in mail", || async {
            links(w, email).await.get(before).cloned()
        })
        .await;
        let confirm = self.get(&link).await;
        assert_eq!(confirm.status, 200, "{}", confirm.body);
        let csrf = confirm.field("csrf");
        let r = self.post(&link, &[("csrf", &csrf)]).await;
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
