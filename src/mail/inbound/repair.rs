//! Repairs made before parsing: 8-bit headers in an undeclared charset, multiparts whose
//! boundary is missing.

use mail_parser::{HeaderName, Message, MimeHeaders};
use std::borrow::Cow;

/// Lines that may delimit MIME parts: `--` followed by a word without spaces.
pub(super) fn delimiter_lines(raw: &[u8]) -> usize {
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
pub(super) fn readable_headers(raw: &[u8]) -> Cow<'_, [u8]> {
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
pub(super) fn header_end(raw: &[u8]) -> usize {
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
pub(super) fn with_guessed_boundary(msg: &Message<'_>) -> Option<Vec<u8>> {
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
