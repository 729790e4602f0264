//! Takes one received mail into the database in a single transaction: the ticket, the stored
//! message, its events, the mail it causes and the mailbox position. Only after this commit
//! may the IMAP adapter move the message out of the inbox.

use crate::domain::intake::{self, IntakeDecision, IntakeFacts};
use crate::domain::text::{self as text, AutoSignals};
use crate::domain::ticket::TicketNumber;
use crate::mail::inbound::{self, InboundMail};
use crate::notify::{Mailer, Notice, NotifyError};
use crate::store::messages::{Destination, ImapOrigin};
use crate::store::{self, events, mailbox, messages, tickets, Conn, Db};
use crate::workflow::{mail_in, Procedure};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::Notify;

/// The stored kind of a person's mail on an incident.
pub const INCIDENT_REPLY_KIND: &str = "respuesta_incidente";

/// The stored kind of a request held by the per-sender limit (also the agents' notice).
pub const HELD_KIND: &str = "limite_remitente";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created {
        ticket: TicketNumber,
        acknowledged: bool,
    },
    Threaded(TicketNumber),
    StoredWithoutAnswer {
        ticket: Option<TicketNumber>,
        kind: String,
    },
    Catalog,
    Incident(i64),
    Duplicate,
    Quarantined(String),
    /// A new request from a sender over `ingest.max_new_tickets_per_sender_per_hour`: kept,
    /// not ticketed, not acknowledged.
    RateLimited,
}

impl Outcome {
    /// Every label `label` can return, for `/metrics` to show each at 0 before it first
    /// happens (a rate of an absent series cannot be alerted on). Keep in step with `label`;
    /// a unit test checks it.
    pub const LABELS: &'static [&'static str] = &[
        "created",
        "threaded",
        "auto",
        "catalog",
        "incident",
        "duplicate",
        "quarantined",
        "rate_limited",
    ];

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Created { .. } => "created",
            Outcome::Threaded(_) => "threaded",
            Outcome::StoredWithoutAnswer { .. } => "auto",
            Outcome::Catalog => "catalog",
            Outcome::Incident(_) => "incident",
            Outcome::Duplicate => "duplicate",
            Outcome::Quarantined(_) => "quarantined",
            Outcome::RateLimited => "rate_limited",
        }
    }

    /// How a mail kept without an answer is labelled (`masivo`, `rebote` …), for the log line.
    pub fn kept_as(&self) -> Option<&str> {
        match self {
            Outcome::StoredWithoutAnswer { kind, .. } => Some(kind),
            _ => None,
        }
    }

    pub fn ticket(&self) -> Option<TicketNumber> {
        match self {
            Outcome::Created { ticket, .. } => Some(*ticket),
            Outcome::Threaded(t) => Some(*t),
            Outcome::StoredWithoutAnswer { ticket, .. } => *ticket,
            _ => None,
        }
    }

    /// Where the message goes in the mailbox once committed.
    pub fn destination(&self) -> Destination {
        match self {
            Outcome::Quarantined(_) => Destination::Quarantine,
            _ => Destination::Processed,
        }
    }
}

/// Where a mail came from in the mailbox, so its position commits with it.
#[derive(Debug, Clone)]
pub struct Source {
    pub mailbox: String,
    pub uidvalidity: i64,
    pub uid: i64,
    /// The reader's lease fencing number (PostgreSQL, `store::lease`): the commit is refused
    /// when another instance took the mailbox over since.
    pub fence: Option<i64>,
}

pub struct Ingestor {
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub procedure: Arc<Procedure>,
    /// Addresses we send from or watch; mail from them is never answered.
    pub own_addresses: Vec<String>,
    pub ack_max_age: chrono::Duration,
    pub max_message_bytes: usize,
    /// New requests a sender (not help-desk staff) may open per hour.
    pub max_new_per_sender_per_hour: u32,
    /// Wakes the outbox sender as soon as a mail is queued.
    pub outbox_wake: Arc<Notify>,
}

impl Ingestor {
    #[tracing::instrument(skip_all, fields(uid = source.as_ref().map(|s| s.uid)))]
    pub async fn ingest(
        &self,
        raw: &[u8],
        source: Option<&Source>,
        arrived_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, NotifyError> {
        let parsed = if raw.len() > self.max_message_bytes {
            Err(format!(
                "message of {} bytes exceeds ingest.max_message_bytes ({})",
                raw.len(),
                self.max_message_bytes
            ))
        } else {
            inbound::parse(raw).map_err(|e| e.to_string())
        };
        match self.commit(raw, parsed, source, arrived_at, now).await {
            // The database refused something this message carries: it would refuse it again
            // at every retry and hold back the mail behind it.
            Err(NotifyError::Db(e)) if store::is_data_error(&e) => {
                tracing::error!(error = %e, "database refused the message's data; quarantined");
                let reason = format!("database refused its data: {e}");
                self.commit(raw, Err(reason), source, arrived_at, now).await
            }
            // Any other database failure is an outage: the caller retries the message later.
            Err(NotifyError::Db(e)) => Err(NotifyError::Db(e)),
            // Another instance reads the mailbox now and takes this message in itself.
            Err(NotifyError::LeaseLost) => Err(NotifyError::LeaseLost),
            // Anything else would fail again on every retry and block the mail behind it.
            Err(e) => {
                tracing::error!(error = %e, "message could not be processed; quarantined");
                let reason = format!("processing failed: {e}");
                self.commit(raw, Err(reason), source, arrived_at, now).await
            }
            ok => ok,
        }
    }

    async fn commit(
        &self,
        raw: &[u8],
        parsed: Result<InboundMail, String>,
        source: Option<&Source>,
        arrived_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, NotifyError> {
        let _turn = self.db.write_turn().await;
        let mut tx = self.db.pool.begin().await?;
        if let Some((s, fence)) = source.and_then(|s| Some((s, s.fence?))) {
            // First, so that the lease's row stays locked to the commit: a takeover waits for
            // this transaction, and one that came first makes it roll back (dropped).
            if !store::lease::check_fence(&mut tx, &s.mailbox, fence).await? {
                return Err(NotifyError::LeaseLost);
            }
        }
        let outcome = match parsed {
            Ok(mail) => {
                self.take_in(&mut tx, &mail, raw, source, arrived_at, now)
                    .await?
            }
            Err(reason) => {
                quarantine(&mut tx, raw, &reason, source, now).await?;
                Outcome::Quarantined(reason)
            }
        };
        if let Some(s) = source {
            mailbox::advance(
                &mut tx,
                &s.mailbox,
                mailbox::MailboxState {
                    uidvalidity: s.uidvalidity,
                    last_uid: s.uid,
                },
                store::unix(now),
            )
            .await?;
        }
        tx.commit().await?;
        crate::outage::database_ok();
        self.outbox_wake.notify_one();
        Ok(outcome)
    }

    async fn take_in(
        &self,
        conn: &mut Conn,
        mail: &InboundMail,
        raw: &[u8],
        source: Option<&Source>,
        arrived_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, NotifyError> {
        let origin = source.map(|s| ImapOrigin {
            uidvalidity: s.uidvalidity,
            uid: s.uid,
            destination: Destination::Processed,
        });
        let reissued;
        let (mail, taken_in) = match reused_message_id(conn, mail).await? {
            Stored::None => (mail, false),
            Stored::Same => (mail, true),
            Stored::Different(id) => {
                reissued = InboundMail {
                    message_id: id,
                    ..mail.clone()
                };
                let taken_in = messages::inbound_exists(conn, &reissued.message_id).await?;
                (&reissued, taken_in)
            }
        };
        if taken_in {
            if let Some(o) = origin {
                record_copy(conn, &mail.message_id, o, store::unix(now)).await?;
            }
            return Ok(Outcome::Duplicate);
        }
        let evidence = crate::workflow::evidence::gather(conn, &self.procedure, mail).await?;
        if let Some(outcome) = self
            .take_incident_mail(conn, mail, raw, origin, &evidence, now)
            .await?
        {
            return Ok(outcome);
        }
        // A mail sent to a personal token address belongs to that token's ticket, even when
        // the client dropped the subject tag and the reply headers.
        let thread = match find_thread(conn, mail).await? {
            Some(t) => Some(t),
            None => evidence.token.as_ref().map(|t| t.ticket),
        };
        let facts = IntakeFacts {
            auto: text::classify(&self.auto_signals(mail)),
            thread,
            too_old_to_acknowledge: now - arrived_at > self.ack_max_age,
        };
        let at = store::unix(now);
        let answer = crate::workflow::approval_in::AnswerMail {
            mail,
            auto: facts.auto,
            thread: facts.thread,
        };
        if let Some(t) = crate::workflow::approval_in::route(
            conn,
            &self.mailer,
            &self.procedure,
            &answer,
            &evidence,
            now,
        )
        .await?
        {
            if let Some(t) = t {
                let row =
                    store_inbound(conn, mail, raw, Some(t), "respuesta_aprobacion", origin, at)
                        .await?;
                let _ = row;
            } else {
                store_inbound(conn, mail, raw, None, "aprobacion_invalida", origin, at).await?;
            }
            return Ok(match t {
                Some(t) => Outcome::Threaded(t),
                None => Outcome::StoredWithoutAnswer {
                    ticket: None,
                    kind: "aprobacion_invalida".into(),
                },
            });
        }
        let from = mail
            .from
            .as_ref()
            .map(|f| f.email.clone())
            .unwrap_or_default();
        let decision = intake::decide(&facts);
        if let IntakeDecision::OpenTicket { acknowledge } = decision {
            use crate::workflow::digest_reply;
            if digest_reply::answers_digest(conn, mail).await? {
                let kind = digest_reply::REPLY_KIND;
                store_inbound(conn, mail, raw, None, kind, origin, at).await?;
                if acknowledge {
                    let name = self.procedure.snapshot().directory.name_or(&from, &from);
                    digest_reply::explain(conn, &self.mailer, &from, &name, at).await?;
                }
                return Ok(Outcome::StoredWithoutAnswer {
                    ticket: None,
                    kind: kind.into(),
                });
            }
        }
        if decision == (IntakeDecision::OpenTicket { acknowledge: true }) {
            if let Some(held) = self
                .hold_if_over_limit(conn, mail, raw, origin, &from, now)
                .await?
            {
                return Ok(held);
            }
        }
        let (ticket, kind) = match &decision {
            IntakeDecision::OpenTicket { .. } => (None, "solicitud".to_owned()),
            IntakeDecision::AddToTicket(t) => (Some(*t), "respuesta".to_owned()),
            IntakeDecision::StoreWithoutAnswer { ticket, kind } => {
                (*ticket, intake::auto_label(*kind).to_owned())
            }
        };
        let row = store_inbound(conn, mail, raw, ticket, &kind, origin, at).await?;
        let snap = self.procedure.snapshot();
        let ctx = self.procedure.ctx(&snap, now);
        let outcome = match decision {
            IntakeDecision::OpenTicket { acknowledge } => {
                let received = mail_in::Received {
                    mail,
                    row,
                    evidence: &evidence,
                };
                let opened = mail_in::open(
                    conn,
                    &self.mailer,
                    &self.procedure,
                    &received,
                    None,
                    acknowledge,
                    &ctx,
                )
                .await?;
                match opened {
                    mail_in::Opened::Ticket(t) => Outcome::Created {
                        ticket: t,
                        acknowledged: acknowledge,
                    },
                    mail_in::Opened::Catalog => Outcome::Catalog,
                    mail_in::Opened::Incident(id) => Outcome::Incident(id),
                    mail_in::Opened::Unverified => Outcome::StoredWithoutAnswer {
                        ticket: None,
                        kind: mail_in::UNVERIFIED_KIND.into(),
                    },
                }
            }
            IntakeDecision::AddToTicket(t) => {
                let received = mail_in::Received {
                    mail,
                    row,
                    evidence: &evidence,
                };
                let landed =
                    mail_in::reply(conn, &self.mailer, &self.procedure, &received, t, &ctx).await?;
                if landed == t {
                    Outcome::Threaded(t)
                } else {
                    Outcome::Created {
                        ticket: landed,
                        acknowledged: true,
                    }
                }
            }
            IntakeDecision::StoreWithoutAnswer { ticket, kind } => {
                if let Some(t) = ticket {
                    let description = format!(
                        "Correo automático ({}) de {from} guardado sin respuesta",
                        intake::auto_label(kind)
                    );
                    event(conn, t, at, &from, None, "correo_automatico", &description).await?;
                }
                Outcome::StoredWithoutAnswer {
                    ticket,
                    kind: intake::auto_label(kind).to_owned(),
                }
            }
        };
        Ok(outcome)
    }

    /// A sender (not help-desk staff) that opened `max_new_per_sender_per_hour` acknowledged
    /// requests within the past hour opens no more: the mail is kept, without a ticket and
    /// without an answer, and agents are told at the first one held. A robot that answers each
    /// acknowledgement with a new mail (another help desk, a broken auto-responder) stops there.
    async fn hold_if_over_limit(
        &self,
        conn: &mut Conn,
        mail: &InboundMail,
        raw: &[u8],
        origin: Option<ImapOrigin>,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Outcome>, NotifyError> {
        let snap = self.procedure.snapshot();
        let ctx = self.procedure.ctx(&snap, now);
        if from.is_empty() || crate::domain::procedure::tramite::is_agent(from, &ctx) {
            return Ok(None);
        }
        let at = store::unix(now);
        let since = at - 3600;
        let opened =
            inbound_since(conn, from, since, &["solicitud", "catalogo", "incidente"]).await?;
        if opened < i64::from(self.max_new_per_sender_per_hour) {
            return Ok(None);
        }
        let already_held = inbound_since(conn, from, since, &[HELD_KIND]).await?;
        store_inbound(conn, mail, raw, None, HELD_KIND, origin, at).await?;
        if already_held > 0 {
            return Ok(Some(Outcome::RateLimited));
        }
        let agents = ctx.agents();
        tracing::warn!(
            from,
            opened,
            limit = self.max_new_per_sender_per_hour,
            agents = agents.join(", "),
            "sender over ingest.max_new_tickets_per_sender_per_hour: its new requests are kept \
             without ticket or acknowledgement; agents told"
        );
        if !agents.is_empty() {
            self.mailer
                .queue(
                    conn,
                    &Notice {
                        ticket: None,
                        kind: HELD_KIND,
                        template: HELD_KIND,
                        data: serde_json::json!({
                            "sender": from,
                            "count": opened,
                            "limit": self.max_new_per_sender_per_hour,
                            "subject": mail.subject,
                            "received_at": crate::clock::local_display(now),
                        }),
                        to: agents,
                        reply_to: None,
                        at,
                        activity: None,
                        description: "Agentes avisados: remitente sobre el límite de solicitudes",
                    },
                )
                .await?;
        }
        Ok(Some(Outcome::RateLimited))
    }

    /// A mail about an incident stays with it (it is never a new request, nor classified
    /// again): automatic replies are kept, a person's mail goes to `incident_in`.
    async fn take_incident_mail(
        &self,
        conn: &mut Conn,
        mail: &InboundMail,
        raw: &[u8],
        origin: Option<ImapOrigin>,
        evidence: &crate::domain::authority::Evidence,
        now: DateTime<Utc>,
    ) -> Result<Option<Outcome>, NotifyError> {
        use crate::workflow::incident_in;
        let Some((incident, token)) = incident_in::find(conn, &self.procedure, mail).await? else {
            return Ok(None);
        };
        let at = store::unix(now);
        let auto = text::classify(&self.auto_signals(mail));
        let kind = auto.map(intake::auto_label).unwrap_or(INCIDENT_REPLY_KIND);
        let row = store_inbound(conn, mail, raw, None, kind, origin, at).await?;
        if auto.is_some() {
            return Ok(Some(Outcome::StoredWithoutAnswer {
                ticket: None,
                kind: kind.into(),
            }));
        }
        let snap = self.procedure.snapshot();
        let ctx = self.procedure.ctx(&snap, now);
        let converted = incident_in::take(
            conn,
            &self.mailer,
            &self.procedure,
            mail,
            row,
            &incident,
            token,
            evidence,
            &ctx,
        )
        .await?;
        Ok(Some(match converted {
            Some(ticket) => Outcome::Created {
                ticket,
                acknowledged: true,
            },
            None => Outcome::StoredWithoutAnswer {
                ticket: None,
                kind: INCIDENT_REPLY_KIND.into(),
            },
        }))
    }

    /// The parser's signals plus the one it cannot know: the help desk's own addresses.
    fn auto_signals(&self, mail: &InboundMail) -> AutoSignals {
        AutoSignals {
            own_addresses: self.own_addresses.clone(),
            ..mail.auto.clone()
        }
    }
}

/// Mail of the given kinds taken in from `from` since `since`.
async fn inbound_since(
    conn: &mut Conn,
    from: &str,
    since: i64,
    kinds: &[&str],
) -> Result<i64, sqlx::Error> {
    let list = kinds
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND from_addr = $1 \
         AND created_at > $2 AND kind IN ({list})"
    )))
    .bind(from)
    .bind(since)
    .fetch_one(conn)
    .await
}

/// What was taken in before under a mail's Message-ID.
enum Stored {
    None,
    /// The same mail (delivered again): a duplicate.
    Same,
    /// A different mail: this one is kept too, under this id derived from its content
    /// (stable, so its own re-delivery is still a duplicate).
    Different(String),
}

async fn reused_message_id(conn: &mut Conn, mail: &InboundMail) -> Result<Stored, sqlx::Error> {
    let stored: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT raw FROM messages WHERE direction = 'in' AND message_id = $1")
            .bind(&mail.message_id)
            .fetch_optional(&mut *conn)
            .await?;
    let raw = match stored {
        None => return Ok(Stored::None),
        Some(None) => return Ok(Stored::Same),
        Some(Some(raw)) => raw,
    };
    Ok(match inbound::parse(&raw) {
        Ok(first) if !first.same_content(mail) => Stored::Different(mail.derived_message_id()),
        _ => Stored::Same,
    })
}

/// Threading, strongest evidence first: our subject tag, then the reply headers matched
/// against every Message-ID we received or sent, then Outlook's conversation index.
async fn find_thread(
    conn: &mut Conn,
    mail: &InboundMail,
) -> Result<Option<TicketNumber>, sqlx::Error> {
    if let Some(r) = text::find_ticket_ref(&mail.subject) {
        if r.kind == text::TicketKind::Req {
            let n = TicketNumber(r.number);
            if tickets::get(conn, n).await?.is_some() {
                return Ok(Some(n));
            }
        }
    }
    let mut ids = mail.references.clone();
    ids.extend(mail.in_reply_to.iter().cloned());
    if let Some(t) = messages::ticket_by_message_ids(conn, &ids).await? {
        return Ok(Some(t));
    }
    if let Some(key) = mail
        .thread_index
        .as_deref()
        .and_then(text::conversation_key)
    {
        return messages::ticket_by_thread_key(conn, &key).await;
    }
    Ok(None)
}

async fn store_inbound(
    conn: &mut Conn,
    mail: &InboundMail,
    raw: &[u8],
    ticket: Option<TicketNumber>,
    kind: &str,
    origin: Option<ImapOrigin>,
    at: i64,
) -> Result<i64, sqlx::Error> {
    let from = mail.from.as_ref();
    let to: Vec<&str> = mail.recipients().map(|m| m.email.as_str()).collect();
    let thread_key = mail
        .thread_index
        .as_deref()
        .and_then(text::conversation_key);
    let row = messages::insert(
        conn,
        &messages::NewMessage {
            ticket,
            direction: "in",
            kind,
            message_id: &mail.message_id,
            in_reply_to: mail.in_reply_to.last().map(String::as_str),
            references: Some(&mail.references.join(" "))
                .filter(|s| !s.is_empty())
                .map(|s| s.as_str()),
            thread_key: thread_key.as_deref(),
            from_addr: from.map(|f| f.email.as_str()).unwrap_or(""),
            from_name: from.and_then(|f| f.name.as_deref()),
            to_addrs: &to.join(", "),
            subject: &mail.subject,
            body_text: &mail.body_text,
            body_html: mail.body_html.as_deref(),
            at: mail.date.map(store::unix).unwrap_or(at),
            raw: Some(raw),
            imap: origin,
            created_at: at,
        },
    )
    .await?;
    for a in &mail.attachments {
        let name = text::safe_filename(&a.filename);
        messages::insert_attachment(
            conn,
            &messages::NewAttachment {
                message_row: row,
                ticket,
                filename: &name,
                content_type: &a.content_type,
                content: &a.content,
            },
        )
        .await?;
    }
    Ok(row)
}

/// Unreadable mail is kept whole (raw bytes) and moved to the quarantine folder, never dropped.
async fn quarantine(
    conn: &mut Conn,
    raw: &[u8],
    reason: &str,
    source: Option<&Source>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    use sha2::Digest;
    let id = format!(
        "sha256-{}@mesayuda.invalid",
        hex::encode(sha2::Sha256::digest(raw))
    );
    let origin = source.map(|s| ImapOrigin {
        uidvalidity: s.uidvalidity,
        uid: s.uid,
        destination: Destination::Quarantine,
    });
    if messages::inbound_exists(conn, &id).await? {
        if let Some(o) = origin {
            tracing::warn!(
                reason,
                "message quarantined (a copy of one already quarantined)"
            );
            record_copy(conn, &id, o, store::unix(now)).await?;
        }
        return Ok(());
    }
    tracing::warn!(reason, "message quarantined");
    let at = store::unix(now);
    messages::insert(
        conn,
        &messages::NewMessage {
            ticket: None,
            direction: "in",
            kind: "cuarentena",
            message_id: &id,
            in_reply_to: None,
            references: None,
            thread_key: None,
            from_addr: "",
            from_name: None,
            to_addrs: "",
            subject: "",
            body_text: reason,
            body_html: None,
            at,
            raw: Some(raw),
            imap: origin,
            created_at: at,
        },
    )
    .await?;
    Ok(())
}

/// Another copy of a message already taken in gets a row of its own holding its mailbox
/// position, so that this copy is moved out too. (Re-pointing the first row at this copy would
/// strand the first copy in the inbox whenever its own move is still pending, as when both
/// arrive in one batch.)
async fn record_copy(
    conn: &mut Conn,
    message_id: &str,
    origin: ImapOrigin,
    at: i64,
) -> Result<(), sqlx::Error> {
    let copy_id = format!("{message_id}#copy-{}-{}", origin.uidvalidity, origin.uid);
    if messages::inbound_exists(conn, &copy_id).await? {
        return Ok(());
    }
    messages::insert(
        conn,
        &messages::NewMessage {
            ticket: None,
            direction: "in",
            kind: "copia",
            message_id: &copy_id,
            in_reply_to: None,
            references: None,
            thread_key: None,
            from_addr: "",
            from_name: None,
            to_addrs: "",
            subject: "",
            body_text: &format!("Copia de {message_id}, ya recibido"),
            body_html: None,
            at,
            raw: None,
            imap: Some(origin),
            created_at: at,
        },
    )
    .await?;
    Ok(())
}

async fn event(
    conn: &mut Conn,
    ticket: TicketNumber,
    at: i64,
    actor: &str,
    activity: Option<i64>,
    kind: &str,
    description: &str,
) -> Result<(), sqlx::Error> {
    events::insert(
        conn,
        &events::NewEvent {
            ticket,
            at,
            actor,
            activity,
            kind,
            description,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each variant; the match below stops compiling when a variant is added, so this
    /// list (and with it `Outcome::LABELS`, checked against it) cannot be forgotten.
    fn one_of_each() -> Vec<Outcome> {
        let all = vec![
            Outcome::Created {
                ticket: TicketNumber(1),
                acknowledged: true,
            },
            Outcome::Threaded(TicketNumber(1)),
            Outcome::StoredWithoutAnswer {
                ticket: None,
                kind: "auto".into(),
            },
            Outcome::Catalog,
            Outcome::Incident(1),
            Outcome::Duplicate,
            Outcome::Quarantined("x".into()),
            Outcome::RateLimited,
        ];
        for o in &all {
            match o {
                Outcome::Created { .. }
                | Outcome::Threaded(_)
                | Outcome::StoredWithoutAnswer { .. }
                | Outcome::Catalog
                | Outcome::Incident(_)
                | Outcome::Duplicate
                | Outcome::Quarantined(_)
                | Outcome::RateLimited => {}
            }
        }
        all
    }

    #[test]
    fn labels_lists_every_outcome_the_log_can_name() {
        let logged: Vec<&str> = one_of_each().iter().map(Outcome::label).collect();
        assert_eq!(logged, Outcome::LABELS);
    }
}
