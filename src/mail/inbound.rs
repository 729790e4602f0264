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
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

use crate::domain::text::{safe_filename, AutoSignals};

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

fn all_raw(msg: &Message<'_>, name: &str) -> Vec<String> {
    msg.headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| clean_line(v))
        .collect()
}

fn to_mailbox(a: &mail_parser::Addr<'_>) -> Option<Mailbox> {
    let email = a.address()?.trim().to_lowercase();
    let well_formed = email.contains('@')
        && email.len() <= 320
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ','));
    if !well_formed {
        return None;
    }
    Some(Mailbox {
        email,
        name: a.name().map(clean_line).filter(|n| !n.is_empty()),
    })
}

fn addresses(a: Option<&mail_parser::Address<'_>>) -> Vec<Mailbox> {
    a.map(|a| a.iter().filter_map(to_mailbox).collect())
        .unwrap_or_default()
}

/// A Message-ID without brackets, whitespace or control characters; one longer than
/// [`MAX_ID_BYTES`] is replaced by a digest of itself (the same everywhere it is referenced).
fn clean_id(s: &str) -> String {
    let id: String = s
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    bounded_id(id)
}

fn bounded_id(id: String) -> String {
    if id.len() <= MAX_ID_BYTES {
        id
    } else {
        format!(
            "sha256-{}@long-id.mesayuda.invalid",
            hex::encode(Sha256::digest(id.as_bytes()))
        )
    }
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

/// For mail without a Message-ID: a digest of its content and of the headers its writer set
/// (not the trace headers each delivery adds), so a second delivery is still recognised.
fn synthetic_id(mail: &InboundMail, msg: &Message<'_>) -> String {
    let mut h = Sha256::new();
    h.update(mail.fingerprint());
    for name in ["To", "Cc", "Date", "Subject", "In-Reply-To", "References"] {
        h.update(name);
        h.update(msg.header_raw(name).unwrap_or("").trim());
    }
    format!("sha256-{}@mesayuda.invalid", hex::encode(h.finalize()))
}

/// Lines that may delimit MIME parts: `--` followed by a word without spaces.
fn delimiter_lines(raw: &[u8]) -> usize {
    raw.split(|b| *b == b'\n')
        .filter(|l| {
            l.strip_prefix(b"--").is_some_and(|rest| {
                let rest = rest.trim_ascii();
                !rest.is_empty() && !rest.contains(&b' ')
            })
        })
        .count()
}

// ---------------------------------------------------------------------------------------------
// Repairs made before parsing.

/// The header block with every line that is not UTF-8 read as windows-1252 (a superset of
/// ISO-8859-1 in practice), so raw 8-bit names and subjects come out right instead of as U+FFFD.
/// The body is left as it is: its parts declare (or fail to declare) their own charsets.
fn readable_headers(raw: &[u8]) -> Cow<'_, [u8]> {
    let end = header_end(raw);
    let head = &raw[..end];
    if std::str::from_utf8(head).is_ok() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 8);
    for line in head.split_inclusive(|b| *b == b'\n') {
        match std::str::from_utf8(line) {
            Ok(_) => out.extend_from_slice(line),
            Err(_) => out.extend_from_slice(encoding_rs::WINDOWS_1252.decode(line).0.as_bytes()),
        }
    }
    out.extend_from_slice(&raw[end..]);
    Cow::Owned(out)
}

/// Offset of the first byte after the header block (after its blank line), or the end.
fn header_end(raw: &[u8]) -> usize {
    let mut i = 0;
    while i < raw.len() {
        let line_end = raw[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |p| i + p + 1);
        let line = &raw[i..line_end];
        if line == b"\n" || line == b"\r\n" {
            return line_end;
        }
        i = line_end;
    }
    raw.len()
}

/// A multipart whose boundary parameter is missing or never appears, but whose body starts
/// with a `--delimiter` line as multiparts do: the same mail with that delimiter declared.
fn with_guessed_boundary(msg: &Message<'_>) -> Option<Vec<u8>> {
    let root = msg.parts.first()?;
    let ct = root.content_type()?;
    if !ct.ctype().eq_ignore_ascii_case("multipart") || root.sub_parts().is_some() {
        return None;
    }
    let raw = msg.raw_message.as_ref();
    let body = raw.get(root.offset_body as usize..)?;
    let first = body
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))?;
    let boundary = first.strip_prefix(b"--")?.trim_ascii_end();
    let usable = !boundary.is_empty()
        && boundary.len() <= 200
        && boundary
            .iter()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\'))
        && ct.attribute("boundary").map(str::as_bytes) != Some(boundary);
    if !usable {
        return None;
    }
    let header = root
        .headers
        .iter()
        .find(|h| h.name == HeaderName::ContentType)?;
    let (start, end) = (header.offset_start as usize, header.offset_end as usize);
    if start > end || end > raw.len() {
        return None;
    }
    let sub = ct.subtype().unwrap_or("mixed");
    let mut out = Vec::with_capacity(raw.len() + 64);
    out.extend_from_slice(&raw[..start]);
    out.extend_from_slice(format!(" multipart/{sub}; boundary=\"").as_bytes());
    out.extend_from_slice(boundary);
    out.extend_from_slice(b"\"\r\n");
    out.extend_from_slice(&raw[end..]);
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Bodies.

/// Plain text parts as written; HTML-only mail converted to text. A multipart that could not
/// be split at all is read as the text it is.
fn bodies(msg: &Message<'_>) -> (String, Option<String>) {
    let mut text = Vec::new();
    let mut html = Vec::new();
    for part in msg.text_bodies() {
        match &part.body {
            PartType::Text(_) => text.push(part_text(msg, part)),
            PartType::Html(_) => html.push(part_text(msg, part)),
            _ => {}
        }
    }
    for part in msg.html_bodies() {
        if let PartType::Html(_) = &part.body {
            let h = part_text(msg, part);
            if !html.contains(&h) {
                html.push(h);
            }
        }
    }
    let html = (!html.is_empty()).then(|| clean_text(&html.join("\n")));
    let mut text = if !text.is_empty() {
        text.join("\n")
    } else if let Some(h) = &html {
        html_to_text(h)
    } else {
        String::new()
    };
    if text.trim().is_empty() {
        if let Some(t) = unsplit_multipart_text(msg) {
            text = t;
        }
    }
    (clean_text(&text), html)
}

/// The text of a text part. mail-parser turns bytes that are not in the declared charset into
/// U+FFFD; when the part declares no charset, an unknown one, or UTF-8/ASCII while its bytes
/// are not UTF-8, those bytes are read as windows-1252 instead — what Spanish mail without a
/// (right) label almost always is. Base64 that mail-parser had to give up on is decoded
/// leniently, line by line, when that yields text.
fn part_text(msg: &Message<'_>, part: &MessagePart<'_>) -> String {
    let parsed = match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.as_ref(),
        _ => return String::new(),
    };
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(|c| c.trim().to_ascii_lowercase());
    let transfer = part
        .headers
        .iter()
        .find(|h| h.name == HeaderName::ContentTransferEncoding)
        .and_then(|h| h.value.as_text())
        .map(|t| t.trim().to_ascii_lowercase());
    if part.is_encoding_problem && transfer.as_deref() == Some("base64") {
        if let Some(t) = lenient_base64_text(msg, part, charset.as_deref()) {
            return t;
        }
    }
    if !parsed.contains('\u{FFFD}') {
        return parsed.to_owned();
    }
    let labelled_8bit = charset.as_deref().is_some_and(|c| {
        !matches!(c, "utf-8" | "utf8" | "us-ascii" | "ascii")
            && charset_decoder(c.as_bytes()).is_some()
    });
    if labelled_8bit {
        return parsed.to_owned();
    }
    let Some(bytes) = transfer_decoded(msg, part, transfer.as_deref()) else {
        return parsed.to_owned();
    };
    match std::str::from_utf8(&bytes) {
        Ok(_) => parsed.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
    }
}

/// The part's body bytes with the transfer encoding undone, from the raw message.
fn transfer_decoded(
    msg: &Message<'_>,
    part: &MessagePart<'_>,
    transfer: Option<&str>,
) -> Option<Vec<u8>> {
    let raw = msg
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    if part.is_encoding_problem {
        return Some(raw.to_vec());
    }
    match transfer {
        Some("base64") => base64_decode(raw),
        Some("quoted-printable") => quoted_printable_decode(raw),
        _ => Some(raw.to_vec()),
    }
}

fn lenient_base64_text(
    msg: &Message<'_>,
    part: &MessagePart<'_>,
    charset: Option<&str>,
) -> Option<String> {
    let raw = msg
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    let mut bytes = Vec::new();
    for line in raw.split(|b| *b == b'\n') {
        let clean: Vec<u8> = line
            .iter()
            .copied()
            .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
            .collect();
        let whole = clean.len() / 4 * 4;
        let rest = clean.len() - whole;
        let mut chunk = clean[..whole].to_vec();
        // A last group of 2 or 3 characters is a padded group whose `=` went missing.
        if rest >= 2 {
            chunk.extend_from_slice(&clean[whole..]);
            chunk.extend(std::iter::repeat_n(b'=', 4 - rest));
        }
        if let Some(d) = base64_decode(&chunk) {
            bytes.extend_from_slice(&d);
        }
    }
    let text = match charset.and_then(|c| charset_decoder(c.as_bytes())) {
        Some(decode) if !matches!(charset, Some("utf-8" | "utf8")) => decode(&bytes),
        _ => String::from_utf8(bytes).ok()?,
    };
    let readable = !text.trim().is_empty()
        && !text
            .chars()
            .any(|c| c == '\u{FFFD}' || (c.is_control() && !c.is_whitespace()));
    readable.then_some(text)
}

/// The body of a top-level multipart that mail-parser could not split (no boundary, or one
/// that never appears), when it is text.
fn unsplit_multipart_text(msg: &Message<'_>) -> Option<String> {
    let root = msg.parts.first()?;
    let is_multipart = root
        .content_type()
        .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"));
    if !is_multipart || root.sub_parts().is_some() {
        return None;
    }
    let bytes = msg
        .raw_message
        .get(root.offset_body as usize..root.offset_end.max(root.offset_body) as usize)?;
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    };
    (!text.trim().is_empty()).then_some(text)
}

/// Readable text from HTML, as its reader saw it: what a mail client does not show (hidden
/// elements, `<head>`, scripts, styles; see [`super::hidden`]) is dropped first. html2text keeps
/// link URLs and table structure, and never runs scripts or fetches images; HTML too deeply
/// nested for it (its time grows with the square of the depth) goes through a linear tag
/// stripper instead.
pub fn html_to_text(html: &str) -> String {
    let visible = super::hidden::drop_hidden(html);
    let html = visible.as_ref();
    if too_nested(html) {
        return strip_tags(html);
    }
    html2text::config::plain()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), 100)
        .unwrap_or_else(|_| strip_tags(html))
}

/// Elements that never nest (void) or that the HTML parser closes by itself.
const FLAT_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "td", "th", "tr", "option", "dt", "dd", "o:p",
];

fn too_nested(html: &str) -> bool {
    let bytes = html.as_bytes();
    let (mut depth, mut max, mut tags) = (0usize, 0usize, 0usize);
    // The next `>`, found again only once passed, so that `<a<a<a…` stays linear.
    let mut next_gt = 0;
    let mut i = 0;
    while let Some(p) = find_lt(&bytes[i..]) {
        let at = i + p + 1;
        i = at;
        let closing = bytes.get(at) == Some(&b'/');
        let name_start = if closing { at + 1 } else { at };
        let name_end = bytes[name_start..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b':'))
            .map_or(bytes.len(), |n| name_start + n);
        if name_end == name_start {
            continue;
        }
        tags += 1;
        let name = html[name_start..name_end].to_ascii_lowercase();
        if FLAT_ELEMENTS.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            if next_gt < name_end {
                next_gt = bytes[name_end..]
                    .iter()
                    .position(|b| *b == b'>')
                    .map_or(bytes.len(), |gt| name_end + gt);
            }
            let self_closing =
                next_gt < bytes.len() && next_gt > name_end && bytes[next_gt - 1] == b'/';
            if !self_closing {
                depth += 1;
                max = max.max(depth);
            }
        }
        if max > MAX_HTML_DEPTH || tags > MAX_HTML_TAGS {
            return true;
        }
    }
    false
}

fn find_lt(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'<')
}

/// Text of HTML without the markup: script, style and head contents and comments dropped,
/// block ends turned into line breaks, character references decoded. Linear time.
fn strip_tags(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = html[i..].find('<').map(|p| i + p) else {
            out.push_str(&decode_entities(&html[i..]));
            break;
        };
        out.push_str(&decode_entities(&html[i..lt]));
        if lower[lt..].starts_with("<!--") {
            i = lower[lt + 4..]
                .find("-->")
                .map_or(html.len(), |p| lt + 4 + p + 3);
            continue;
        }
        let Some(gt) = html[lt..].find('>').map(|p| lt + p) else {
            break;
        };
        let tag = &lower[lt + 1..gt];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        i = gt + 1;
        if !closing
            && matches!(
                name.as_str(),
                "script" | "style" | "head" | "title" | "template"
            )
        {
            let end_tag = format!("</{name}");
            i = lower[i..]
                .find(&end_tag)
                .and_then(|p| lower[i + p..].find('>').map(|q| i + p + q + 1))
                .unwrap_or(html.len());
            continue;
        }
        let block = matches!(
            name.as_str(),
            "br" | "p"
                | "div"
                | "tr"
                | "li"
                | "ul"
                | "ol"
                | "table"
                | "blockquote"
                | "hr"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "pre"
                | "section"
                | "article"
        );
        if block && !out.ends_with('\n') {
            out.push('\n');
        }
    }
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let mut text = String::with_capacity(out.len());
    let mut blank = 0;
    for l in lines {
        if l.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(l);
        text.push('\n');
    }
    text.trim().to_owned()
}

pub(super) fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|e| entity(&rest[1..e]).map(|c| (c, e)));
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "aacute" => 'á',
        "eacute" => 'é',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "Aacute" => 'Á',
        "Eacute" => 'É',
        "Iacute" => 'Í',
        "Oacute" => 'Ó',
        "Uacute" => 'Ú',
        "ntilde" => 'ñ',
        "Ntilde" => 'Ñ',
        "uuml" => 'ü',
        "Uuml" => 'Ü',
        "iexcl" => '¡',
        "iquest" => '¿',
        "ordf" => 'ª',
        "ordm" => 'º',
        "deg" => '°',
        "euro" => '€',
        "laquo" => '«',
        "raquo" => '»',
        "copy" => '©',
        "reg" => '®',
        "middot" => '·',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "ldquo" => '“',
        "rdquo" => '”',
        "lsquo" => '‘',
        "rsquo" => '’',
        "bull" => '•',
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Sanitising.

/// Characters that can reorder what a reader sees (bidi overrides and isolates) or hide text.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Removes terminal escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \`) and
/// leaves every other character for the caller to judge.
fn without_escapes(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{1b}') && !s.contains('\u{9b}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    for d in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&d) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    while let Some(d) = chars.next() {
                        if d == '\u{7}' {
                            break;
                        }
                        if d == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            '\u{9b}' => {
                for d in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&d) {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A one-line field (subject, display name, header value): line breaks, tabs and runs of
/// whitespace become one space; control and invisible characters and escapes are removed.
pub fn clean_line(s: &str) -> String {
    let s = without_escapes(s);
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
        } else if c.is_control() || invisible(c) {
            continue;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// A text: `\r\n` and lone `\r` become `\n`; control characters other than `\n` and `\t`,
/// invisible characters and escapes are removed; trailing spaces and blank ends trimmed.
pub fn clean_text(s: &str) -> String {
    let s = without_escapes(s);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() || invisible(c) => {}
            c => out.push(c),
        }
    }
    out.trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Attachments.

/// At most [`MAX_ATTACHMENTS`] attachments, with safe names; and how many were left out.
/// Without `copy`, each file is only measured and hashed (see [`KEPT_WHOLE_MAX`]).
fn attachments(msg: &Message<'_>, copy: bool) -> (Vec<Attachment>, usize) {
    let mut out = Vec::new();
    let mut left_out = 0;
    for (i, part) in msg.attachments().enumerate() {
        // A top-level multipart that could not be split was read as the body text.
        let unsplit_root = std::ptr::eq(part, &msg.parts[0])
            && part
                .content_type()
                .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"));
        if unsplit_root {
            continue;
        }
        if out.len() >= MAX_ATTACHMENTS {
            left_out += 1;
            continue;
        }
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .map(|ct| clean_content_type(&ct))
            .filter(|ct| ct.contains('/'))
            .unwrap_or_else(|| "application/octet-stream".into());
        let name = part
            .attachment_name()
            .map(|n| n.replace('\u{FFFD}', "_"))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("adjunto-{}{}", i + 1, extension_for(&content_type)));
        let content = match &part.body {
            PartType::Message(m) => m.raw_message(),
            _ => part.contents(),
        };
        out.push(Attachment {
            filename: safe_filename(&name),
            content_type,
            size: content.len(),
            sha256: Sha256::digest(content).into(),
            content: if copy { content.to_vec() } else { Vec::new() },
        });
    }
    (out, left_out)
}

/// The file with this SHA-256 (hex) among the attachments of the stored mail `raw`, decoded
/// as [`parse`] decodes it: for a file left in its mail ([`Attachment::in_mail`]).
pub fn attachment_in_mail(raw: &[u8], sha256_hex: &str) -> Option<Vec<u8>> {
    std::panic::catch_unwind(|| {
        with_message(raw, |msg| {
            msg.attachments().find_map(|part| {
                let content = match &part.body {
                    PartType::Message(m) => m.raw_message(),
                    _ => part.contents(),
                };
                (hex::encode(Sha256::digest(content)) == sha256_hex).then(|| content.to_vec())
            })
        })
        .flatten()
    })
    .ok()
    .flatten()
}

fn clean_content_type(ct: &str) -> String {
    ct.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '+' | '-' | '_'))
        .take(100)
        .collect()
}

fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "message/rfc822" | "message/global" => ".eml",
        "text/calendar" => ".ics",
        "text/html" => ".html",
        "text/plain"
        | "message/delivery-status"
        | "message/disposition-notification"
        | "text/rfc822-headers" => ".txt",
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "application/zip" => ".zip",
        "application/ms-tnef" => ".dat",
        _ => "",
    }
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

    /// Issue 11 item 6: an HTML-only answer is read as its reader saw it.
    #[test]
    fn html_only_approval_answer_reads_without_hidden_elements() {
        use crate::domain::text::{parse_answer, ApprovalAnswer};
        let raw = "From: Luisa Martinez <luisa.martinez@example.test>\r\n\
To: mesayuda+tok@example.test\r\nSubject: RE: [REQ-7] Solicitud de aprobación [APR:abc]\r\n\
Message-ID: <hidden-approve@example.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
<html><head><style>p{margin:0}</style><title>APROBAR</title></head><body>\r\n\
<div style=3D\"display:none\"><div><p>APROBAR</p></div></div>\r\n\
<span style=3D\"font-size:0px\">APROBAR</span>\r\n\
<p>RECHAZAR</p><p>No corresponde a su cargo.</p>\r\n\
<div id=3D\"divRplyFwdMsg\"><b>De:</b> Mesa de Ayuda &lt;mesayuda@example.test&gt;<br>\r\n\
<b>Enviado:</b> lunes, 3 de marzo de 2025 10:15<br><b>Para:</b> Luisa<br>\r\n\
<b>Asunto:</b> [REQ-7] Solicitud de aprobaci=C3=B3n</div>\r\n\
<div>Responda APROBAR o RECHAZAR.</div></body></html>\r\n";
        let m = parse(raw.as_bytes()).unwrap();
        assert!(
            m.body_text.trim_start().starts_with("RECHAZAR"),
            "{}",
            m.body_text
        );
        assert_eq!(
            parse_answer(&m.body_text),
            ApprovalAnswer::Reject {
                reason: "No corresponde a su cargo.".into()
            }
        );
        // The stored HTML is the mail as received.
        assert!(m.body_html.unwrap().contains("display:none"));
    }

    #[test]
    fn corpus_html_with_hidden_text_reads_only_what_is_shown() {
        let raw = include_bytes!("../../tests/corpus/52-html-hidden-text.eml");
        let m = parse(raw).unwrap();
        assert_eq!(
            m.body_text,
            "El monitor de la oficina 204 parpadea y se apaga.\n\nGracias,\nJulián"
        );
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
    fn missing_message_id_survives_a_second_delivery() {
        let body = b"From: a@example.test\r\nDate: Tue, 4 Mar 2025 08:00:00 -0500\r\nSubject: x\r\n\r\nhola";
        let mut again = b"Received: from relay2 by mx; Tue, 4 Mar 2025 08:01:00 -0500\r\n".to_vec();
        again.extend_from_slice(body);
        assert_eq!(
            parse(body).unwrap().message_id,
            parse(&again).unwrap().message_id
        );
        let other = b"From: a@example.test\r\nDate: Tue, 4 Mar 2025 08:00:00 -0500\r\nSubject: x\r\n\r\nchao";
        assert_ne!(
            parse(body).unwrap().message_id,
            parse(other).unwrap().message_id
        );
    }

    #[test]
    fn no_sender_and_garbage_are_unreadable_not_panics() {
        assert_eq!(
            parse(b"Subject: x\r\n\r\nhola").unwrap_err(),
            Unreadable::NoSender
        );
        assert!(parse(b"").is_err());
        assert!(parse(&[0xff; 300]).is_err());
        assert_eq!(
            parse(b"From: Sistemas\r\n\r\nhola").unwrap_err(),
            Unreadable::NoSender
        );
    }

    #[test]
    fn mail_of_too_many_parts_is_unreadable() {
        let mut raw =
            b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for _ in 0..=MAX_MIME_PARTS {
            raw.extend_from_slice(b"--b\r\n\r\nx\r\n");
        }
        assert!(matches!(parse(&raw), Err(Unreadable::TooManyParts(_))));
        let sql =
            "From: a@example.test\r\n\r\n".to_owned() + &"-- comentario de SQL\r\n".repeat(20_000);
        assert!(parse(sql.as_bytes()).is_ok());
    }

    #[test]
    fn threading_headers_lose_their_brackets() {
        let raw = b"From: a@example.test\r\nIn-Reply-To: <x@y>\r\nReferences: <r1@y> <x@y>\r\nThread-Index: AQHZ\r\n\r\nhola";
        let m = parse(raw).unwrap();
        assert_eq!(m.in_reply_to, vec!["x@y"]);
        assert_eq!(m.references, vec!["r1@y", "x@y"]);
        assert_eq!(m.thread_index.as_deref(), Some("AQHZ"));
    }

    #[test]
    fn eight_bit_text_without_a_usable_charset_is_read_as_windows_1252() {
        for ct in [
            "",
            "Content-Type: text/plain\r\n",
            "Content-Type: text/plain; charset=x-desconocido\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
        ] {
            let mut raw = format!("From: a@example.test\r\nSubject: x\r\n{ct}\r\n").into_bytes();
            raw.extend_from_slice(b"El ca\xf1\xf3n del sal\xf3n \x93no\x94 enciende.\r\n");
            assert_eq!(
                parse(&raw).unwrap().body_text,
                "El cañón del salón “no” enciende.",
                "{ct:?}"
            );
        }
        let qp = b"From: a@example.test\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSe=F1al d=E9bil";
        assert_eq!(parse(qp).unwrap().body_text, "Señal débil");
    }

    #[test]
    fn raw_eight_bit_headers_are_read_as_windows_1252() {
        let raw = b"From: Jos\xe9 Mu\xf1oz <jm@example.test>\r\nSubject: Instalaci\xf3n\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhola";
        let m = parse(raw).unwrap();
        assert_eq!(m.subject, "Instalación");
        assert_eq!(m.from.unwrap().name.as_deref(), Some("José Muñoz"));
        let utf8 = "From: Ángela <a@example.test>\r\nSubject: Contraseña\r\n\r\nhola";
        assert_eq!(parse(utf8.as_bytes()).unwrap().subject, "Contraseña");
    }

    #[test]
    fn subject_is_one_clean_line() {
        let raw = b"From: a@example.test\r\nSubject: =?UTF-8?Q?Falla_<script>alert(1)</script>=0D=0ABcc:_x@y=0D=0A=00fin?=\r\n\r\nhola";
        let m = parse(raw).unwrap();
        assert_eq!(m.subject, "Falla <script>alert(1)</script> Bcc: x@y fin");
        let esc = b"From: G \x1b[31mRoja\x1b[0m <g@example.test>\r\nSubject: Escape \x1b]0;titulo\x07 y \x08fin\r\n\r\nTexto \x1b[2J\x00con\r\rlineas";
        let m = parse(esc).unwrap();
        assert_eq!(m.subject, "Escape y fin");
        assert_eq!(m.from.unwrap().name.as_deref(), Some("G Roja"));
        assert_eq!(m.body_text, "Texto con\n\nlineas");
    }

    #[test]
    fn multipart_without_usable_boundary_is_still_read() {
        let no_param = b"From: a@example.test\r\nContent-Type: multipart/mixed\r\n\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nNo funciona el tel\xc3\xa9fono.\r\n--xyz--\r\n";
        assert_eq!(
            parse(no_param).unwrap().body_text,
            "No funciona el teléfono."
        );
        let never = b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\nTexto sin partes.\r\n";
        assert_eq!(parse(never).unwrap().body_text, "Texto sin partes.");
    }

    #[test]
    fn base64_with_garbage_keeps_the_readable_lines() {
        let raw = b"From: a@example.test\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nRWwgdGVjbGFkbyBubyBmdW5jaW9uYS4=\r\n!!!@@@\r\nIERlc3B1w6lz\r\n";
        assert_eq!(
            parse(raw).unwrap().body_text,
            "El teclado no funciona. Después"
        );
    }

    #[test]
    fn html_is_text_without_script_even_when_deeply_nested() {
        let html = format!(
            "From: a@example.test\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>{}Texto &aacute;rbol{}<style>p{{}}</style>",
            "<div>".repeat(5000),
            "</div>".repeat(5000)
        );
        // No time is asserted (timings belong in benchmarks); a quadratic reader would hang here.
        let m = parse(html.as_bytes()).unwrap();
        assert_eq!(m.body_text, "Texto árbol");
        let unclosed = format!(
            "From: a@example.test\r\nContent-Type: text/html\r\n\r\nHola {}",
            "<a".repeat(200_000)
        );
        assert!(parse(unclosed.as_bytes())
            .unwrap()
            .body_text
            .starts_with("Hola"));
        let self_closing = format!(
            "From: a@example.test\r\nContent-Type: text/html\r\n\r\n{}<p>Texto</p>",
            "<span/>".repeat(300)
        );
        assert_eq!(parse(self_closing.as_bytes()).unwrap().body_text, "Texto");
        let flat = "From: a@example.test\r\nContent-Type: text/html\r\n\r\n<p>Hola</p><script>alert(1)</script><img src=\"https://t.example/x.gif\">";
        let m = parse(flat.as_bytes()).unwrap();
        assert!(
            m.body_text.contains("Hola") && !m.body_text.contains("alert"),
            "{}",
            m.body_text
        );
    }

    #[test]
    fn attachment_names_are_safe_and_default_names_have_extensions() {
        let raw = b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhola\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nroot\r\n\
--b\r\nContent-Type: text/calendar\r\nContent-Disposition: attachment\r\n\r\nBEGIN:VCALENDAR\r\n--b--\r\n";
        let m = parse(raw).unwrap();
        let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["passwd", "adjunto-2.ics"]);
    }

    #[test]
    fn huge_identifiers_are_bounded_consistently() {
        let long = "x".repeat(5000);
        let raw = format!(
            "From: a@example.test\r\nMessage-ID: <{long}@y>\r\nReferences: <{long}@y>\r\n\r\nhola"
        );
        let m = parse(raw.as_bytes()).unwrap();
        assert!(m.message_id.len() <= MAX_ID_BYTES);
        assert_eq!(m.references, vec![m.message_id.clone()]);
    }

    #[test]
    fn reused_message_id_gets_a_stable_derived_id() {
        let a = parse(b"From: a@example.test\r\nMessage-ID: <r@x>\r\nSubject: uno\r\n\r\nhola")
            .unwrap();
        let b = parse(b"From: a@example.test\r\nMessage-ID: <r@x>\r\nSubject: dos\r\n\r\nhola")
            .unwrap();
        let a2 = parse(b"Received: by mx\r\nFrom: a@example.test\r\nMessage-ID: <r@x>\r\nSubject: uno\r\n\r\nhola").unwrap();
        assert!(a.same_content(&a2));
        assert!(!a.same_content(&b));
        assert_ne!(b.derived_message_id(), a.message_id);
        assert_eq!(b.derived_message_id(), b.derived_message_id());
        assert!(
            b.derived_message_id().starts_with("r.dup-") && b.derived_message_id().ends_with("@x")
        );
    }
}
