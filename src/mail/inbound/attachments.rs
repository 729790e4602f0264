//! Attachments: safe names, bounded count, measured and hashed; decoded again from the stored
//! mail when the panel serves one.

use super::*;
use mail_parser::{Message, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::domain::text::safe_filename;

/// At most [`MAX_ATTACHMENTS`] attachments, with safe names; and how many were left out.
/// Without `copy`, each file is only measured and hashed (see [`KEPT_WHOLE_MAX`]).
pub(super) fn attachments(msg: &Message<'_>, copy: bool) -> (Vec<Attachment>, usize) {
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

pub(super) fn clean_content_type(ct: &str) -> String {
    ct.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '+' | '-' | '_'))
        .take(100)
        .collect()
}

pub(super) fn extension_for(content_type: &str) -> &'static str {
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
