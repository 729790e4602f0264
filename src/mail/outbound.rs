//! Builds the bytes of an outgoing mail once, at the moment it is queued, so a retry after a
//! crash sends exactly the same message (same Message-ID) that the ticket already recorded.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// Message-IDs (bare) this mail answers; the last one is the direct parent.
    pub thread: Vec<String>,
    /// Overrides the configured Reply-To (approvals use a tokenised help-desk address).
    pub reply_to: Option<String>,
    /// The same content as HTML, sent beside the text as `multipart/alternative`.
    pub html: Option<String>,
}

/// A file sent with a mail (the monthly report's CSV).
#[derive(Debug, Clone)]
pub struct OutgoingAttachment {
    pub filename: String,
    /// MIME type, e.g. `text/csv; charset=utf-8`.
    pub content_type: String,
    pub content: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct ComposedMail {
    pub message_id: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid address `{0}`")]
    Address(String),
    #[error("cannot build message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("invalid content type `{0}` for an attachment")]
    ContentType(String),
}

pub struct Composer {
    from: Mailbox,
    reply_to: Mailbox,
    domain: String,
    /// `[mail] footer`: added here so that every mail, whatever composed it, carries it.
    footer: Option<String>,
}

impl Composer {
    pub fn new(from: &str, reply_to: &str) -> Result<Composer, ComposeError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| ComposeError::Address(from.into()))?;
        let reply_to: Mailbox = reply_to
            .parse()
            .map_err(|_| ComposeError::Address(reply_to.into()))?;
        let domain = from.email.domain().to_owned();
        Ok(Composer {
            from,
            reply_to,
            domain,
            footer: None,
        })
    }

    /// With `[mail] footer` under every body (blank or missing: none).
    pub fn with_footer(mut self, footer: Option<&str>) -> Composer {
        self.footer = footer
            .map(str::trim_end)
            .filter(|f| !f.trim().is_empty())
            .map(str::to_owned);
        self
    }

    /// The body as sent: the text, then the footer after a separator line.
    fn body(&self, text: &str) -> String {
        match &self.footer {
            // "-- " is the signature separator: clients grey it out and leave it out of quotes.
            Some(f) => format!("{}\n\n-- \n{f}\n", text.trim_end()),
            None => text.to_owned(),
        }
    }

    /// The HTML part as sent: the footer, escaped, where the layout marks it (`<!--pie-->`).
    fn html_body(&self, html: &str) -> String {
        match &self.footer {
            Some(f) => html.replacen(
                super::html::FOOTER_MARK,
                &super::html::footer_paragraph(f),
                1,
            ),
            None => html.to_owned(),
        }
    }

    pub fn compose(&self, mail: &OutgoingMail) -> Result<ComposedMail, ComposeError> {
        self.compose_with_attachments(mail, &[])
    }

    /// [`Composer::compose`] with files: the text first, then each file, in a
    /// `multipart/mixed` message. Without files the mail stays a single text part.
    pub fn compose_with_attachments(
        &self,
        mail: &OutgoingMail,
        attachments: &[OutgoingAttachment],
    ) -> Result<ComposedMail, ComposeError> {
        let message_id = format!(
            "{}@{}",
            hex::encode(rand::random::<[u8; 16]>()),
            self.domain
        );
        let reply_to = match &mail.reply_to {
            Some(r) => r.parse().map_err(|_| ComposeError::Address(r.clone()))?,
            None => self.reply_to.clone(),
        };
        let mut b = Message::builder()
            .from(self.from.clone())
            .reply_to(reply_to)
            .subject(one_line(&mail.subject))
            .message_id(Some(format!("<{message_id}>")))
            .date_now()
            // RFC 3834: tells well-behaved auto-responders not to answer us, which breaks loops.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            // Outlook's equivalent of the above.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ));
        let mut recipients = Vec::new();
        for to in &mail.to {
            let mb: Mailbox = to.parse().map_err(|_| ComposeError::Address(to.clone()))?;
            recipients.push(mb.email.to_string());
            b = b.to(mb);
        }
        if let Some(parent) = mail.thread.last() {
            b = b.in_reply_to(format!("<{parent}>"));
            let refs: Vec<String> = mail.thread.iter().map(|id| format!("<{id}>")).collect();
            b = b.references(refs.join(" "));
        }
        let body = self.body(&mail.body);
        let msg = if attachments.is_empty() {
            match &mail.html {
                None => b.header(ContentType::TEXT_PLAIN).body(body)?,
                Some(html) => b.multipart(MultiPart::alternative_plain_html(
                    body,
                    self.html_body(html),
                ))?,
            }
        } else {
            let text = match &mail.html {
                None => MultiPart::mixed().singlepart(SinglePart::plain(body)),
                Some(html) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                    body,
                    self.html_body(html),
                )),
            };
            let mut parts = text;
            for a in attachments {
                let ct = ContentType::parse(&a.content_type)
                    .map_err(|_| ComposeError::ContentType(a.content_type.clone()))?;
                parts = parts
                    .singlepart(Attachment::new(a.filename.clone()).body(a.content.clone(), ct));
            }
            b.multipart(parts)?
        };
        Ok(ComposedMail {
            message_id,
            envelope_from: self.from.email.to_string(),
            recipients,
            raw: msg.formatted(),
        })
    }
}

/// Headers must not carry line breaks a user put into a subject.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_mail_threads_and_carries_loop_guards() {
        let c = Composer::new(
            "Servicios Tecnológicos <servicios.tecnologicos@example.test>",
            "mesayuda@example.test",
        )
        .unwrap();
        let m = c
            .compose(&OutgoingMail {
                to: vec!["Ana <ana@example.test>".into()],
                subject: "[REQ-1] Impresora\r\nBcc: x@evil".into(),
                body: "Hola Ana, año".into(),
                thread: vec!["root@x".into(), "parent@x".into()],
                reply_to: None,
                html: None,
            })
            .unwrap();
        let text = String::from_utf8_lossy(&m.raw);
        assert!(text.contains("In-Reply-To: <parent@x>"), "{text}");
        assert!(text.contains("References: <root@x> <parent@x>"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"));
        assert!(text.contains("Reply-To: mesayuda@example.test"));
        assert!(!text.contains("\nBcc:"), "{text}");
        assert_eq!(m.recipients, vec!["ana@example.test"]);
        assert!(m.message_id.ends_with("@example.test"));
        let parsed = crate::mail::inbound::parse(&m.raw).unwrap();
        assert_eq!(parsed.message_id, m.message_id);
        assert_eq!(parsed.body_text, "Hola Ana, año");
    }

    #[test]
    fn the_configured_footer_closes_every_body() {
        let mail = OutgoingMail {
            to: vec!["ana@example.test".into()],
            subject: "s".into(),
            body: "Hola Ana\n".into(),
            thread: vec![],
            reply_to: None,
            html: Some(format!(
                "<p>Hola Ana</p>{}",
                super::super::html::FOOTER_MARK
            )),
        };
        let c = Composer::new("s@example.test", "m@example.test").unwrap();
        let footer =
            "Ley 1581 de 2012: sus datos se tratan según la política del Ministerio & <otros>.";
        let with = c.with_footer(Some(footer)).compose(&mail).unwrap();
        let parsed = crate::mail::inbound::parse(&with.raw).unwrap();
        assert_eq!(
            parsed.body_text.trim_end(),
            format!("Hola Ana\n\n-- \n{footer}")
        );
        // The HTML part ends with the same footer, escaped.
        let html = parsed.body_html.unwrap();
        assert!(html.contains("Ministerio &amp; &lt;otros&gt;."), "{html}");
        for none in [None, Some("  \n")] {
            let c = Composer::new("s@example.test", "m@example.test").unwrap();
            let plain = c.with_footer(none).compose(&mail).unwrap();
            let parsed = crate::mail::inbound::parse(&plain.raw).unwrap();
            assert_eq!(parsed.body_text.trim_end(), "Hola Ana");
        }
    }

    #[test]
    fn an_attached_file_arrives_whole_beside_the_text() {
        let c = Composer::new("s@example.test", "m@example.test").unwrap();
        let csv = "servicio,cerrados\nIMPRESORA,2\nTOTAL,2\n"
            .as_bytes()
            .to_vec();
        let m = c
            .compose_with_attachments(
                &OutgoingMail {
                    to: vec!["coordinador@example.test".into()],
                    subject: "Informe".into(),
                    body: "Informe de cumplimiento de noviembre".into(),
                    thread: vec![],
                    reply_to: None,
                    html: None,
                },
                &[OutgoingAttachment {
                    filename: "cumplimiento-2026-11.csv".into(),
                    content_type: "text/csv; charset=utf-8".into(),
                    content: csv.clone(),
                }],
            )
            .unwrap();
        let parsed = crate::mail::inbound::parse(&m.raw).unwrap();
        assert_eq!(
            parsed.body_text.trim(),
            "Informe de cumplimiento de noviembre"
        );
        assert_eq!(parsed.attachments.len(), 1);
        let a = &parsed.attachments[0];
        assert_eq!(a.filename, "cumplimiento-2026-11.csv");
        assert!(a.content_type.starts_with("text/csv"), "{}", a.content_type);
        assert_eq!(a.content, csv);
    }

    #[test]
    fn an_html_alternative_travels_beside_the_same_text() {
        let c = Composer::new("s@example.test", "m@example.test").unwrap();
        let m = c
            .compose(&OutgoingMail {
                to: vec!["ana@example.test".into()],
                subject: "Hola".into(),
                body: "Texto plano, año".into(),
                thread: vec![],
                reply_to: None,
                html: Some("<p>Texto plano, año</p>".into()),
            })
            .unwrap();
        let text = String::from_utf8_lossy(&m.raw);
        assert!(text.contains("multipart/alternative"), "{text}");
        let parsed = crate::mail::inbound::parse(&m.raw).unwrap();
        assert_eq!(parsed.body_text.trim(), "Texto plano, año");
        assert!(parsed
            .body_html
            .unwrap()
            .contains("<p>Texto plano, año</p>"));
    }
}
