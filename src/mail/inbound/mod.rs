//! Turns the raw bytes of a received mail into what the help desk reads: addresses, threading
//! headers, readable text and attachments. Never panics on malformed input.
//!
//! Mail arrives broken or hostile: 8-bit headers and bodies in an undeclared or wrong charset,
//! multiparts whose boundary is missing, base64 with garbage in it, HTML nested thousands of
//! levels deep, NUL bytes, terminal escape sequences, CR/LF smuggled into encoded words, path
//! names as attachment names, identifiers of kilobytes. What leaves this module is plain,
//! printable text that every store (PostgreSQL refuses NUL) and every log line can take:
//! one-line fields have no line breaks, texts keep only `\n` and `\t` as control characters,
//! attachment names are safe file names and identifiers are bounded.

use chrono::{DateTime, Utc};
use mail_parser::{Message, MessageParser};
use sha2::{Digest, Sha256};

use crate::domain::text::AutoSignals;

mod attachments;
mod body;
pub(super) mod html_text;
mod ids;
mod repair;
mod sanitize;
#[cfg(test)]
mod tests;

pub use attachments::attachment_in_mail;
pub use html_text::html_to_text;
pub use sanitize::{clean_line, clean_text};
use {attachments::*, body::*, ids::*, repair::*};

/// Attachments extracted from one mail; any beyond stay in the stored original message.
pub const MAX_ATTACHMENTS: usize = 1000;
/// Longest Message-ID kept as written; longer ones are replaced by a digest of themselves.
pub const MAX_ID_BYTES: usize = 250;
/// Mail with more MIME delimiter lines than this is not parsed: the parser keeps every part in
/// memory (3 million one-line parts in 30 MB take 700 MB) and nobody writes such mail.
pub const MAX_MIME_PARTS: usize = 10_000;
/// HTML nested deeper than this (or with more tags) is read with a simple linear tag stripper:
/// html2text takes time quadratic in the nesting depth.
const MAX_HTML_DEPTH: usize = 200;
const MAX_HTML_TAGS: usize = 50_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Lowercased bare address.
    pub email: String,
    pub name: Option<String>,
}

/// A mail over this size is stored in pieces (`store::messages::RAW_PIECE`) and its
/// attachments are not copied out of it: the daemon holds such a mail once, not its decoded
/// files beside it (mail-parser decodes them while it reads the mail; they are hashed and
/// dropped with its result).
pub const KEPT_WHOLE_MAX: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Attachment {
    /// Already a safe file name (see [`safe_filename`]).
    pub filename: String,
    pub content_type: String,
    /// The file, or nothing when it is read from the stored mail instead (a mail over
    /// [`KEPT_WHOLE_MAX`]; see [`Attachment::in_mail`]).
    pub content: Vec<u8>,
    /// The file's size and SHA-256, whether or not `content` holds it.
    pub size: usize,
    pub sha256: [u8; 32],
}

impl Attachment {
    pub fn new(filename: String, content_type: String, content: Vec<u8>) -> Attachment {
        Attachment {
            filename,
            content_type,
            size: content.len(),
            sha256: Sha256::digest(&content).into(),
            content,
        }
    }

    /// Whether the file is left in the stored mail (decoded from it when asked for).
    pub fn in_mail(&self) -> bool {
        self.content.len() != self.size
    }
}

#[derive(Debug, Clone)]
pub struct InboundMail {
    /// Without angle brackets, at most [`MAX_ID_BYTES`]. Synthesised from the content when the
    /// mail has none, so that the same mail fetched twice is still recognised as one message.
    pub message_id: String,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub thread_index: Option<String>,
    pub from: Option<Mailbox>,
    /// Where the sender wants answers; our own mail to staff puts a personal token here.
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// One line: no control characters, whitespace runs collapsed.
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    /// Plain text: `\n` line ends, no control characters but `\n` and `\t`.
    pub body_text: String,
    /// The HTML as sent (without NUL and control characters); never rendered by the help desk.
    pub body_html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// What the auto-reply, bounce, list and loop checks read, filled here from the headers;
    /// only `own_addresses` (configuration, not mail) is left for the caller.
    pub auto: AutoSignals,
    /// Every `Authentication-Results` header, newest (topmost) first.
    pub authentication_results: Vec<String>,
    /// `Delivered-To` values: the plus-address the mail really reached, kept by the MTA.
    pub delivered_to: Vec<String>,
    /// `X-MS-Exchange-Organization-AuthAs` (topmost): Exchange's word on who sent it.
    pub exchange_auth_as: Option<String>,
}

impl InboundMail {
    /// Every address the mail was sent to, To and Cc.
    pub fn recipients(&self) -> impl Iterator<Item = &Mailbox> {
        self.to.iter().chain(self.cc.iter())
    }

    /// A digest of what a person reads in the mail: sender, subject, text and attachments.
    /// Two deliveries of one mail (with different trace headers, or sent again later) share
    /// it; two different mails that reuse a Message-ID do not.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let from = self.from.as_ref().map(|f| f.email.as_str()).unwrap_or("");
        for field in [from.as_bytes(), self.subject.as_bytes()] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        }
        h.update((self.body_text.len() as u64).to_be_bytes());
        h.update(self.body_text.as_bytes());
        for a in &self.attachments {
            h.update((a.filename.len() as u64).to_be_bytes());
            h.update(a.filename.as_bytes());
            h.update(a.sha256);
        }
        hex::encode(h.finalize())
    }

    /// The Message-ID this mail gets when a different mail already holds its own: the same
    /// id with a digest of the content added, stable across deliveries of this mail.
    pub fn derived_message_id(&self) -> String {
        let tag = &self.fingerprint()[..16];
        let id = &self.message_id;
        let derived = match id.rsplit_once('@') {
            Some((local, domain)) => format!("{local}.dup-{tag}@{domain}"),
            None => format!("{id}.dup-{tag}@mesayuda.invalid"),
        };
        bounded_id(derived)
    }

    /// Whether `other` reads the same as this mail (see [`InboundMail::fingerprint`]).
    pub fn same_content(&self, other: &InboundMail) -> bool {
        self.fingerprint() == other.fingerprint()
    }
}

/// Reasons a message cannot become a ticket; it is quarantined, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("not a parseable RFC 5322 message")]
    NotAMessage,
    #[error("no usable From address")]
    NoSender,
    #[error("more than {MAX_MIME_PARTS} MIME parts ({0} delimiter lines)")]
    TooManyParts(usize),
    #[error("the mail parser failed on this message")]
    ParserFailed,
}

/// Reads a received mail. A panic while reading it (a bug here or in mail-parser) makes the mail
/// unreadable, to be quarantined, rather than taking the mailbox reader down with it.
pub fn parse(raw: &[u8]) -> Result<InboundMail, Unreadable> {
    std::panic::catch_unwind(|| read(raw)).unwrap_or(Err(Unreadable::ParserFailed))
}

fn read(raw: &[u8]) -> Result<InboundMail, Unreadable> {
    let delimiters = delimiter_lines(raw);
    if delimiters > MAX_MIME_PARTS {
        return Err(Unreadable::TooManyParts(delimiters));
    }
    with_message(raw, |msg| read_message(raw, msg)).ok_or(Unreadable::NotAMessage)?
}

/// `raw` read by mail-parser, after the repairs [`parse`] makes (8-bit headers, a multipart
/// boundary guessed); `None` when it is not a message at all.
fn with_message<T>(raw: &[u8], f: impl FnOnce(&Message<'_>) -> T) -> Option<T> {
    let parser = MessageParser::default();
    let prepared = readable_headers(raw);
    let first = parser.parse(prepared.as_ref())?;
    let rebuilt = with_guessed_boundary(&first);
    let second = rebuilt.as_deref().and_then(|r| parser.parse(r));
    Some(f(second.as_ref().unwrap_or(&first)))
}

fn read_message(raw: &[u8], msg: &Message<'_>) -> Result<InboundMail, Unreadable> {
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(to_mailbox)
        .ok_or(Unreadable::NoSender)?;
    let (body_text, body_html) = bodies(msg);
    let (attachments, left_out) = attachments(msg, raw.len() <= KEPT_WHOLE_MAX);
    let body_text = match left_out {
        0 => body_text,
        n => format!(
            "{body_text}\n\n[{n} adjuntos más no se extrajeron; el correo original completo queda guardado]"
        )
        .trim()
        .to_owned(),
    };
    let header = |name: &str| {
        msg.header_raw(name)
            .map(clean_line)
            .filter(|v| !v.is_empty())
    };
    let subject = msg.subject().map(clean_line).unwrap_or_default();
    // Every field spelled out (no `..Default::default()`): a signal the classifier gains must
    // be filled here, or this does not compile.
    let auto = AutoSignals {
        auto_submitted: header("Auto-Submitted"),
        precedence: header("Precedence"),
        x_autoreply: header("X-Autoreply"),
        x_autorespond: header("X-Autorespond"),
        x_auto_response_suppress: header("X-Auto-Response-Suppress"),
        x_failed_recipients: header("X-Failed-Recipients"),
        content_type: header("Content-Type"),
        return_path: header("Return-Path"),
        from: Some(from.email.clone()),
        subject: Some(subject.clone()),
        list_id: header("List-Id"),
        list_unsubscribe: header("List-Unsubscribe"),
        feedback_type: header("Feedback-Type"),
        own_addresses: Vec::new(),
    };
    let mut mail = InboundMail {
        message_id: String::new(),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        thread_index: header("Thread-Index"),
        from: Some(from),
        reply_to: addresses(msg.reply_to()).into_iter().next(),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        subject,
        date: msg
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        body_text,
        body_html,
        attachments,
        authentication_results: all_raw(msg, "Authentication-Results"),
        delivered_to: all_raw(msg, "Delivered-To"),
        exchange_auth_as: all_raw(msg, "X-MS-Exchange-Organization-AuthAs")
            .into_iter()
            .next(),
        auto,
    };
    mail.message_id = msg
        .message_id()
        .map(clean_id)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| synthetic_id(&mail, msg));
    Ok(mail)
}
