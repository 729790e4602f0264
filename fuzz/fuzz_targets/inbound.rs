//! Raw bytes as they come out of IMAP → `mail::inbound::parse` → the pure reading functions
//! the intake applies to a mail. Checks that what parse returns is what the stores and the
//! log lines are promised: one-line subjects and names, texts without control characters,
//! bounded identifiers, safe attachment names, and the same result for the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesayuda::domain::text::{
    classify, conversation_key, find_ticket_ref, new_text, parse_answer, parse_commands,
    read_fields, safe_filename, strip_reply_prefixes, AutoSignals,
};
use mesayuda::mail::inbound::{parse, MAX_ID_BYTES};

fn one_line(what: &str, s: &str) {
    assert!(
        !s.chars().any(|c| c.is_control()),
        "{what} has a control character: {s:?}"
    );
    assert_eq!(s.trim(), s, "{what} is not trimmed");
}

fn text(what: &str, s: &str) {
    assert!(
        !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{what} has a control character other than \\n and \\t: {s:?}"
    );
}

fn id(what: &str, s: &str) {
    assert!(s.len() <= MAX_ID_BYTES, "{what} is {} bytes", s.len());
    assert!(
        !s.chars().any(|c| c.is_whitespace() || c.is_control()),
        "{what} has whitespace: {s:?}"
    );
}

fuzz_target!(|raw: &[u8]| {
    let Ok(mail) = parse(raw) else {
        return;
    };
    // Deterministic: the same bytes fetched twice are the same message.
    let again = parse(raw).expect("parse succeeded once");
    assert_eq!(mail.message_id, again.message_id);
    assert!(mail.same_content(&again));

    id("message_id", &mail.message_id);
    assert!(!mail.message_id.is_empty());
    id("derived id", &mail.derived_message_id());
    assert_ne!(mail.derived_message_id(), mail.message_id);
    for r in mail.references.iter().chain(&mail.in_reply_to) {
        id("reference", r);
    }
    one_line("subject", &mail.subject);
    text("body_text", &mail.body_text);
    assert!(!mail.body_text.contains('\r'));
    if let Some(h) = &mail.body_html {
        text("body_html", h);
    }
    let from = mail
        .from
        .as_ref()
        .expect("parse never returns a mail without sender");
    assert!(from.email.contains('@'));
    one_line("from address", &from.email);
    assert!(!from.email.contains(' '));
    for m in mail.recipients().chain(std::iter::once(from)) {
        if let Some(n) = &m.name {
            one_line("display name", n);
        }
    }
    for a in &mail.attachments {
        let name = &a.filename;
        assert!(!name.is_empty());
        assert!(!name.contains(['/', '\\']), "path in {name:?}");
        assert!(!name.contains(".."), "dot-dot in {name:?}");
        assert!(!name.starts_with('.'), "hidden name {name:?}");
        assert_eq!(
            &safe_filename(name),
            name,
            "safe_filename is not idempotent"
        );
        one_line("content type", &a.content_type);
    }

    // The reading functions the intake applies to a mail.
    let _ = find_ticket_ref(&mail.subject);
    let _ = strip_reply_prefixes(&mail.subject);
    let own = new_text(&mail.body_text);
    let fields = read_fields(&own);
    let _ = fields.missing(&["Nombre", "Justificación", "Fecha de inicio"]);
    let _ = parse_commands(&own);
    let _ = parse_answer(&own);
    if let Some(t) = &mail.thread_index {
        if let Some(key) = conversation_key(t) {
            assert!(key.len() == 44 && key.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    // The parser fills every signal; only the help desk's own addresses come from elsewhere.
    let _ = classify(&AutoSignals {
        own_addresses: vec!["mesayuda@example.test".into()],
        ..mail.auto.clone()
    });
});
