//! Addresses and message identifiers read from the headers: bounded, cleaned, and made up
//! (from the content) for a mail that has none.

use super::*;
use mail_parser::{HeaderValue, Message};
use sha2::{Digest, Sha256};

pub(super) fn all_raw(msg: &Message<'_>, name: &str) -> Vec<String> {
    msg.headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| clean_line(v))
        .collect()
}

pub(super) fn to_mailbox(a: &mail_parser::Addr<'_>) -> Option<Mailbox> {
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

pub(super) fn addresses(a: Option<&mail_parser::Address<'_>>) -> Vec<Mailbox> {
    a.map(|a| a.iter().filter_map(to_mailbox).collect())
        .unwrap_or_default()
}

/// A Message-ID without brackets, whitespace or control characters; one longer than
/// [`MAX_ID_BYTES`] is replaced by a digest of itself (the same everywhere it is referenced).
pub(super) fn clean_id(s: &str) -> String {
    let id: String = s
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    bounded_id(id)
}

pub(super) fn bounded_id(id: String) -> String {
    if id.len() <= MAX_ID_BYTES {
        id
    } else {
        format!(
            "sha256-{}@long-id.mesayuda.invalid",
            hex::encode(Sha256::digest(id.as_bytes()))
        )
    }
}

pub(super) fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
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
pub(super) fn synthetic_id(mail: &InboundMail, msg: &Message<'_>) -> String {
    let mut h = Sha256::new();
    h.update(mail.fingerprint());
    for name in ["To", "Cc", "Date", "Subject", "In-Reply-To", "References"] {
        h.update(name);
        h.update(msg.header_raw(name).unwrap_or("").trim());
    }
    format!("sha256-{}@mesayuda.invalid", hex::encode(h.finalize()))
}
