//! Turns the raw bytes of a received mail into what the help desk reads: addresses, threading
//! headers, readable text and attachments. Never panics on malformed input.

use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Lowercased bare address.
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// Header values the loop and auto-reply checks look at, as received.
#[derive(Debug, Clone, Default)]
pub struct AutoHeaders {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub x_autoreply: Option<String>,
    pub x_autorespond: Option<String>,
    pub x_auto_response_suppress: Option<String>,
    pub x_failed_recipients: Option<String>,
    pub list_id: Option<String>,
    pub content_type: Option<String>,
    pub return_path: Option<String>,
}

#[derive(Debug, Clone)]
pub struct InboundMail {
    /// Without angle brackets. Synthesised from the content hash when the mail has none, so
    /// that the same bytes fetched twice are still recognised as one message.
    pub message_id: String,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub thread_index: Option<String>,
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub auto: AutoHeaders,
    /// Every `Authentication-Results` header, newest (topmost) first.
    pub authentication_results: Vec<String>,
    /// `Delivered-To` values: the plus-address the mail really reached, kept by the MTA.
    pub delivered_to: Vec<String>,
}

impl InboundMail {
    /// Every address the mail was sent to, To and Cc.
    pub fn recipients(&self) -> impl Iterator<Item = &Mailbox> {
        self.to.iter().chain(self.cc.iter())
    }
}

/// Reasons a message cannot become a ticket; it is quarantined, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("not a parseable RFC 5322 message")]
    NotAMessage,
    #[error("no usable From address")]
    NoSender,
}

pub fn parse(raw: &[u8]) -> Result<InboundMail, Unreadable> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(Unreadable::NotAMessage)?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(to_mailbox)
        .ok_or(Unreadable::NoSender)?;
    let message_id = msg
        .message_id()
        .map(clean_id)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| synthetic_id(raw));
    let (body_text, body_html) = bodies(&msg);
    let header = |name: &str| msg.header_raw(name).map(|v| v.trim().to_owned());
    Ok(InboundMail {
        message_id,
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        thread_index: header("Thread-Index"),
        from: Some(from),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        subject: msg.subject().unwrap_or("").trim().to_owned(),
        date: msg
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        body_text,
        body_html,
        attachments: attachments(&msg),
        authentication_results: all_raw(&msg, "Authentication-Results"),
        delivered_to: all_raw(&msg, "Delivered-To"),
        auto: AutoHeaders {
            auto_submitted: header("Auto-Submitted"),
            precedence: header("Precedence"),
            x_autoreply: header("X-Autoreply"),
            x_autorespond: header("X-Autorespond"),
            x_auto_response_suppress: header("X-Auto-Response-Suppress"),
            x_failed_recipients: header("X-Failed-Recipients"),
            list_id: header("List-Id"),
            content_type: header("Content-Type"),
            return_path: header("Return-Path"),
        },
    })
}

fn all_raw(msg: &mail_parser::Message<'_>, name: &str) -> Vec<String> {
    msg.headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn to_mailbox(a: &mail_parser::Addr<'_>) -> Option<Mailbox> {
    let email = a.address()?.trim().to_lowercase();
    if !email.contains('@') || email.len() > 320 {
        return None;
    }
    Some(Mailbox {
        email,
        name: a
            .name()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
    })
}

fn addresses(a: Option<&mail_parser::Address<'_>>) -> Vec<Mailbox> {
    a.map(|a| a.iter().filter_map(to_mailbox).collect())
        .unwrap_or_default()
}

fn clean_id(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_owned()
}

fn id_list(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![clean_id(t)],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

fn synthetic_id(raw: &[u8]) -> String {
    format!(
        "sha256-{}@mesayuda.invalid",
        hex::encode(Sha256::digest(raw))
    )
}

/// Plain text parts as written; HTML-only mail converted with html2text, which keeps link URLs
/// and table structure that mail-parser's own conversion drops.
fn bodies(msg: &mail_parser::Message<'_>) -> (String, Option<String>) {
    let mut text = Vec::new();
    let mut html = Vec::new();
    for part in msg.text_bodies() {
        match &part.body {
            PartType::Text(t) => text.push(t.to_string()),
            PartType::Html(h) => html.push(h.to_string()),
            _ => {}
        }
    }
    for part in msg.html_bodies() {
        if let PartType::Html(h) = &part.body {
            if !html.iter().any(|x| x == h.as_ref()) {
                html.push(h.to_string());
            }
        }
    }
    let html = (!html.is_empty()).then(|| html.join("\n"));
    let text = if !text.is_empty() {
        text.join("\n")
    } else if let Some(h) = &html {
        html_to_text(h)
    } else {
        String::new()
    };
    (normalise_newlines(&text), html)
}

pub fn html_to_text(html: &str) -> String {
    html2text::from_read(html.as_bytes(), 100).unwrap_or_else(|_| html.to_owned())
}

fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").trim().to_owned()
}

fn attachments(msg: &mail_parser::Message<'_>) -> Vec<Attachment> {
    msg.attachments()
        .enumerate()
        .map(|(i, part)| {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            let name = part
                .attachment_name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("adjunto-{}", i + 1));
            let content = match &part.body {
                PartType::Message(m) => m.raw_message().to_vec(),
                _ => part.contents().to_vec(),
            };
            Attachment {
                filename: name,
                content_type: content_type.to_lowercase(),
                content,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_body_and_encoded_subject_read_as_spanish() {
        let mut raw = b"From: =?ISO-8859-1?Q?Jos=E9_P=E9rez?= <Jose@Example.Test>\r\n\
To: mesayuda@example.test\r\n\
Subject: =?ISO-8859-1?Q?Instalaci=F3n_de_impresora?=\r\n\
Message-ID: <a1@example.test>\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(
            b"Necesito instalaci\xf3n en el sal\xf3n de reuniones, a\xf1o 2026.\r\n",
        );
        let m = parse(&raw).unwrap();
        assert_eq!(m.subject, "Instalación de impresora");
        assert_eq!(m.from.as_ref().unwrap().email, "jose@example.test");
        assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("José Pérez"));
        assert_eq!(
            m.body_text,
            "Necesito instalación en el salón de reuniones, año 2026."
        );
        assert_eq!(m.message_id, "a1@example.test");
    }

    #[test]
    fn html_only_mail_becomes_readable_text_with_links() {
        let raw = "From: ana@example.test\r\nSubject: Correo\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Buenos d&iacute;as,</p><p>no puedo abrir <a href=\"https://intranet/x\">la intranet</a>.</p></body></html>";
        let m = parse(raw.as_bytes()).unwrap();
        assert!(m.body_text.contains("Buenos días"), "{}", m.body_text);
        assert!(
            m.body_text.contains("https://intranet/x"),
            "{}",
            m.body_text
        );
        assert!(m.body_html.is_some());
    }

    #[test]
    fn missing_message_id_is_stable_for_the_same_bytes() {
        let raw = b"From: a@example.test\r\nSubject: x\r\n\r\nhola";
        assert_eq!(
            parse(raw).unwrap().message_id,
            parse(raw).unwrap().message_id
        );
        assert!(parse(raw)
            .unwrap()
            .message_id
            .ends_with("@mesayuda.invalid"));
    }

    #[test]
    fn no_sender_and_garbage_are_unreadable_not_panics() {
        assert_eq!(
            parse(b"Subject: x\r\n\r\nhola").unwrap_err(),
            Unreadable::NoSender
        );
        assert!(parse(b"").is_err());
        assert!(parse(&[0xff; 300]).is_err());
    }

    #[test]
    fn threading_headers_lose_their_brackets() {
        let raw = b"From: a@example.test\r\nIn-Reply-To: <x@y>\r\nReferences: <r1@y> <x@y>\r\nThread-Index: AQHZ\r\n\r\nhola";
        let m = parse(raw).unwrap();
        assert_eq!(m.in_reply_to, vec!["x@y"]);
        assert_eq!(m.references, vec!["r1@y", "x@y"]);
        assert_eq!(m.thread_index.as_deref(), Some("AQHZ"));
    }
}
