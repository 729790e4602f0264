//! Queues a templated mail about a ticket: rendered, composed and written to the outbox in the
//! caller's transaction, recorded on the ticket as an outgoing message and an event.

use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::domain::ticket::TicketNumber;
use crate::mail::html;
use crate::mail::outbound::{Composer, OutgoingAttachment, OutgoingMail};
use crate::mail::templates::Templates;
use crate::store::writes::Writes;
use crate::store::{events, messages, outbox, Conn};
use crate::workflow::WorkflowError;
use std::sync::{Arc, RwLock};

pub struct Mailer {
    templates: RwLock<Arc<Templates>>,
    composer: Composer,
}

pub struct Notice<'a> {
    pub ticket: Option<TicketNumber>,
    /// Stored as the outbox and message kind, e.g. `acuse`.
    pub kind: MailKind,
    pub template: Template,
    pub data: serde_json::Value,
    pub to: Vec<String>,
    pub reply_to: Option<String>,
    pub at: i64,
    /// The procedure activity this mail belongs to, for the audit trail.
    pub activity: Option<i64>,
    pub description: &'a str,
}

impl<'a> Notice<'a> {
    /// A mail about no ticket (catalogue, incident). Its kind is, by custom, its template's
    /// name (`MailKind::Catalogo` with `Template::Catalogo`).
    pub fn ticketless(
        kind: MailKind,
        template: Template,
        data: serde_json::Value,
        to: String,
        at: i64,
        activity: Option<i64>,
        description: &'a str,
    ) -> Notice<'a> {
        Notice {
            ticket: None,
            kind,
            template,
            data,
            to: vec![to],
            reply_to: None,
            at,
            activity,
            description,
        }
    }
}

impl Mailer {
    pub fn new(templates: Templates, composer: Composer) -> Mailer {
        Mailer {
            templates: RwLock::new(Arc::new(templates)),
            composer,
        }
    }

    /// Swaps in freshly loaded templates (SIGHUP) without disturbing mail being rendered.
    pub fn replace_templates(&self, t: Templates) {
        if let Ok(mut g) = self.templates.write() {
            *g = Arc::new(t);
        }
    }

    fn templates(&self) -> Arc<Templates> {
        match self.templates.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub async fn queue(&self, conn: &mut Conn, n: &Notice<'_>) -> Result<String, WorkflowError> {
        self.queue_with_attachments(conn, n, &[]).await
    }

    /// [`Mailer::queue`] with files attached (the monthly report's CSV).
    pub async fn queue_with_attachments(
        &self,
        conn: &mut Conn,
        n: &Notice<'_>,
        attachments: &[OutgoingAttachment],
    ) -> Result<String, WorkflowError> {
        let mut event = Vec::new();
        let thread = match n.ticket {
            Some(t) => messages::thread_ids(conn, t).await?,
            None => Vec::new(),
        };
        let mut w = Writes::new(conn);
        let id = self.queue_into(&mut w, n, &thread, &mut event, attachments)?;
        events::insert_many_into(&mut w, &event);
        w.flush(conn).await?;
        Ok(id)
    }

    /// [`Mailer::queue`] that leaves the mail's audit event in `events` for the caller to
    /// insert with others in one statement.
    pub async fn queue_deferring_event<'a>(
        &self,
        conn: &mut Conn,
        n: &Notice<'a>,
        events: &mut Vec<events::NewEvent<'a>>,
    ) -> Result<String, WorkflowError> {
        self.queue_inner(conn, n, events, &[]).await
    }

    async fn queue_inner<'a>(
        &self,
        conn: &mut Conn,
        n: &Notice<'a>,
        events: &mut Vec<events::NewEvent<'a>>,
        attachments: &[OutgoingAttachment],
    ) -> Result<String, WorkflowError> {
        let thread = match n.ticket {
            Some(t) => messages::thread_ids(conn, t).await?,
            None => Vec::new(),
        };
        let mut w = Writes::new(conn);
        let id = self.queue_into(&mut w, n, &thread, events, attachments)?;
        w.flush(conn).await?;
        Ok(id)
    }

    /// [`Mailer::queue`] without a read: `thread` is the Message-IDs of the ticket's mail so
    /// far, in order (the caller knows them), and the writes go into `w`. Returns the new
    /// mail's Message-ID, which the caller adds to its `thread` when it queues another.
    pub fn queue_into<'a>(
        &self,
        w: &mut Writes,
        n: &Notice<'a>,
        thread: &[String],
        events: &mut Vec<events::NewEvent<'a>>,
        attachments: &[OutgoingAttachment],
    ) -> Result<String, WorkflowError> {
        let templates = self.templates();
        let mut rendered = templates.render(n.template.as_str(), &n.data)?;
        let mut subject = rendered.subject.clone();
        if let Some(t) = n.ticket {
            // Every mail about a ticket carries its tag, whatever the template says.
            if !subject.contains(&t.tag()) {
                subject = format!("{} {subject}", t.tag());
            }
        }
        rendered.subject = subject.clone();
        // `[web] base_url` set: the ticket's page (or the approval's sign-in link) under every
        // template's text, and as a button in the HTML part.
        let panel = n
            .data
            .get("panel_link")
            .and_then(serde_json::Value::as_str)
            .map(|link| {
                let label = n
                    .data
                    .get("panel_label")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("Abrir en el panel");
                rendered.body = format!("{}\n\n{label}: {link}\n", rendered.body.trim_end());
                html::panel_button(label, link)
            });
        // A reader who works no tickets (a director reading an SLA alert) gets no command buttons.
        let commands_useless = n
            .data
            .get("works_tickets")
            .and_then(serde_json::Value::as_bool)
            == Some(false);
        let actions = if commands_useless {
            Vec::new()
        } else {
            html::actions(n.template, n.reply_to.as_deref(), &subject)
        };
        let html = templates.render_html_with_panel(
            n.template.as_str(),
            &rendered,
            &actions,
            panel.as_ref(),
        )?;
        let composed = self.composer.compose_with_attachments(
            &OutgoingMail {
                to: n.to.clone(),
                subject: subject.clone(),
                body: rendered.body.clone(),
                thread: thread.to_vec(),
                reply_to: n.reply_to.clone(),
                html: Some(html),
            },
            attachments,
        )?;
        outbox::enqueue_into(
            w,
            &outbox::NewOutgoing {
                ticket: n.ticket,
                kind: n.kind,
                message_id: &composed.message_id,
                envelope_from: &composed.envelope_from,
                recipients: &composed.recipients,
                raw: &composed.raw,
                at: n.at,
            },
        );
        messages::insert_into(
            w,
            &messages::NewMessage {
                ticket: n.ticket,
                direction: "out",
                kind: n.kind,
                message_id: &composed.message_id,
                in_reply_to: None,
                references: None,
                thread_key: None,
                from_addr: &composed.envelope_from,
                from_name: None,
                to_addrs: &composed.recipients.join(", "),
                subject: &subject,
                body_text: &rendered.body,
                body_html: None,
                at: n.at,
                raw: None,
                imap: None,
                created_at: n.at,
                fingerprint: None,
            },
        );
        if let Some(t) = n.ticket {
            events.push(events::NewEvent {
                ticket: t,
                at: n.at,
                actor: "sistema",
                activity: n.activity,
                kind: EventKind::CorreoEnviado,
                description: n.description,
            });
        }
        Ok(composed.message_id)
    }
}
