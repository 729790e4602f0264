//! What users do: send mail over SMTP, and read their inbox over IMAP.

use futures::TryStreamExt;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mesayuda::mail::inbound::{parse, InboundMail};
use std::time::Duration;
use tokio::net::TcpStream;

/// A plain-text mail as a mail client would write it.
pub struct Draft<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub extra_headers: &'a str,
}

impl<'a> Draft<'a> {
    pub fn new(from: &'a str, subject: &'a str, body: &'a str) -> Draft<'a> {
        Draft {
            from,
            to: super::HELPDESK,
            subject,
            body,
            message_id: None,
            in_reply_to: None,
            extra_headers: "",
        }
    }

    pub fn render(&self) -> (String, Vec<u8>) {
        let id = self
            .message_id
            .clone()
            .unwrap_or_else(|| format!("{:x}@client.example.test", rand::random::<u64>()));
        let mut h = format!(
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{id}>\r\nDate: {}\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
            self.from,
            self.to,
            encode_subject(self.subject),
            chrono::Utc::now().to_rfc2822(),
        );
        if let Some(p) = &self.in_reply_to {
            h.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
        }
        h.push_str(self.extra_headers);
        let raw = format!("{h}\r\n{}\r\n", self.body.replace('\n', "\r\n"));
        (id, raw.into_bytes())
    }
}

/// RFC 2047 for non-ASCII subjects, as real clients do.
fn encode_subject(s: &str) -> String {
    if s.is_ascii() {
        s.to_owned()
    } else {
        use base64::Engine;
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }
}

fn bare(addr: &str) -> String {
    match (addr.find('<'), addr.find('>')) {
        (Some(a), Some(b)) if a < b => addr[a + 1..b].to_owned(),
        _ => addr.trim().to_owned(),
    }
}

/// Answers `parent` as a mail client's Reply does: to its Reply-To (else its From), subject
/// "RE: …", threaded with In-Reply-To. Returns the Message-ID.
pub async fn reply(smtp_port: u16, from: &str, parent: &InboundMail, body: &str) -> String {
    let to = parent
        .reply_to
        .as_ref()
        .or(parent.from.as_ref())
        .map(|m| m.email.clone())
        .expect("the mail has someone to answer");
    let subject = format!("RE: {}", parent.subject);
    let d = Draft {
        to: &to,
        in_reply_to: Some(parent.message_id.clone()),
        ..Draft::new(from, &subject, body)
    };
    send(smtp_port, &d).await
}

/// A mail from `from` ("Name <address>") to the help desk's plain address with `text` and a
/// small PDF named `filename` attached, as a mail client writes it.
pub fn with_pdf(from: &str, subject: &str, text: &str, filename: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {}\r\nSubject: {subject}\r\n\
         Message-ID: <pdf-{:x}@client.example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --B\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--B--\r\n",
        super::HELPDESK,
        rand::random::<u64>()
    )
    .into_bytes()
}

/// [`with_pdf`], sent over SMTP.
pub async fn send_with_pdf(smtp_port: u16, from: &str, subject: &str, text: &str, filename: &str) {
    let raw = with_pdf(from, subject, text, filename);
    send_raw(smtp_port, &bare(from), super::HELPDESK, &raw).await;
}

/// Sends over SMTP to the test server; returns the Message-ID.
pub async fn send(smtp_port: u16, draft: &Draft<'_>) -> String {
    let (id, raw) = draft.render();
    send_raw(smtp_port, &bare(draft.from), &bare(draft.to), &raw).await;
    id
}

pub async fn send_raw(smtp_port: u16, from: &str, to: &str, raw: &[u8]) {
    send_envelope(smtp_port, Some(from), to, raw).await;
}

/// Delivers over SMTP with the null reverse path (`MAIL FROM:<>`), as bounces and most
/// out-of-office responders send: the mailbox then shows `Return-Path: <>`.
pub async fn send_null_sender(smtp_port: u16, to: &str, raw: &[u8]) {
    send_envelope(smtp_port, None, to, raw).await;
}

async fn send_envelope(smtp_port: u16, from: Option<&str>, to: &str, raw: &[u8]) {
    let t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(smtp_port)
        .build();
    let env = Envelope::new(
        from.map(|f| f.parse().expect("from")),
        vec![to.parse().expect("to")],
    )
    .expect("envelope");
    t.send_raw(&env, raw)
        .await
        .expect("SMTP accepted the test mail");
}

pub type Session = async_imap::Session<TcpStream>;

pub async fn login(imap_port: u16, user: &str) -> Session {
    let tcp = TcpStream::connect(("127.0.0.1", imap_port))
        .await
        .expect("imap connect");
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.expect("greeting");
    client
        .login(user, "secret")
        .await
        .map_err(|(e, _)| e)
        .expect("imap login")
}

/// Puts a mail straight into a mailbox, as when SMTP is down or the mail is already there.
pub async fn append(imap_port: u16, user: &str, folder: &str, raw: &[u8]) {
    let mut s = login(imap_port, user).await;
    s.append(folder, None, None, raw).await.expect("append");
    let _ = s.logout().await;
}

/// Every mail in a user's folder, parsed; an absent folder reads as empty.
pub async fn read_folder(imap_port: u16, user: &str, folder: &str) -> Vec<InboundMail> {
    let mut s = login(imap_port, user).await;
    if s.examine(folder).await.is_err() {
        return Vec::new();
    }
    let fetched: Vec<_> = match s.fetch("1:*", "BODY.PEEK[]").await {
        Ok(stream) => stream.try_collect().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let mails = fetched
        .iter()
        .filter_map(|f| f.body())
        .filter_map(|b| parse(b).ok())
        .collect();
    let _ = s.logout().await;
    mails
}

pub async fn inbox(imap_port: u16, user: &str) -> Vec<InboundMail> {
    read_folder(imap_port, user, "INBOX").await
}

/// Waits until `user`'s inbox holds a mail matching `pred`.
pub async fn wait_for(
    imap_port: u16,
    user: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&InboundMail) -> bool,
) -> InboundMail {
    super::eventually(timeout, what, || async {
        inbox(imap_port, user).await.into_iter().find(|m| pred(m))
    })
    .await
}

/// A mail about a ticket: its subject carries a `[REQ-n]` reference (an acknowledgement, when
/// it is the first mail a requester gets).
pub fn is_ack(m: &InboundMail) -> bool {
    mesayuda::domain::text::find_ticket_ref(&m.subject).is_some()
}
