//! The readable text of a mail: its plain parts as written, HTML-only mail converted, and the
//! lenient decodings (garbage in base64, undeclared charsets) that keep a broken body readable.

use super::*;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{HeaderName, Message, MessagePart, MimeHeaders, PartType};

/// Plain text parts as written; HTML-only mail converted to text. A multipart that could not
/// be split at all is read as the text it is.
pub(super) fn bodies(msg: &Message<'_>) -> (String, Option<String>) {
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
pub(super) fn part_text(msg: &Message<'_>, part: &MessagePart<'_>) -> String {
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
pub(super) fn transfer_decoded(
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

pub(super) fn lenient_base64_text(
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
pub(super) fn unsplit_multipart_text(msg: &Message<'_>) -> Option<String> {
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
