//! Takes one received mail into the database in a single transaction: the ticket, the stored
//! message, its events, the mail it causes and the mailbox position. Only after this commit
//! may the IMAP adapter move the message out of the inbox.

use crate::domain::event_kind::EventKind;
use crate::domain::intake::{self, IntakeDecision, IntakeFacts};
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::domain::text::{self as text, AutoSignals};
use crate::domain::ticket::TicketNumber;
use crate::mail::inbound::{self, InboundMail};
use crate::store::messages::{Destination, ImapOrigin};
use crate::store::writes::Writes;
use crate::store::{self, events, mailbox, messages, Conn, Db};
use crate::workflow::notify::{Mailer, Notice};
use crate::workflow::WorkflowError;
use crate::workflow::{mail_in, Procedure};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created {
        ticket: TicketNumber,
        acknowledged: bool,
    },
    Threaded(TicketNumber),
    StoredWithoutAnswer {
        ticket: Option<TicketNumber>,
        kind: MailKind,
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
    pub fn kept_as(&self) -> Option<&'static str> {
        match self {
            Outcome::StoredWithoutAnswer { kind, .. } => Some(kind.as_str()),
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

/// A message fetched from the mailbox, for [`Ingestor::ingest_together`].
pub struct Fetched<'a> {
    pub raw: &'a [u8],
    pub source: Source,
    pub arrived_at: DateTime<Utc>,
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
    ) -> Result<Outcome, WorkflowError> {
        let parsed = self.parse(raw);
        match self.commit(raw, parsed, source, arrived_at, now).await {
            // The database refused something this message carries: it would refuse it again
            // at every retry and hold back the mail behind it.
            Err(WorkflowError::Db(e)) if store::is_data_error(&e) => {
                tracing::error!(error = %e, "database refused the message's data; quarantined");
                let reason = format!("database refused its data: {e}");
                self.commit(raw, Err(reason), source, arrived_at, now).await
            }
            // Any other database failure is an outage: the caller retries the message later.
            Err(WorkflowError::Db(e)) => Err(WorkflowError::Db(e)),
            // Another instance reads the mailbox now and takes this message in itself.
            Err(WorkflowError::LeaseLost) => Err(WorkflowError::LeaseLost),
            // Anything else would fail again on every retry and block the mail behind it.
            Err(e) => {
                tracing::error!(error = %e, "message could not be processed; quarantined");
                let reason = format!("processing failed: {e}");
                self.commit(raw, Err(reason), source, arrived_at, now).await
            }
            ok => ok,
        }
    }

    /// The mail, or why it is quarantined.
    fn parse(&self, raw: &[u8]) -> Result<InboundMail, String> {
        if raw.len() > self.max_message_bytes {
            Err(format!(
                "message of {} bytes exceeds ingest.max_message_bytes ({})",
                raw.len(),
                self.max_message_bytes
            ))
        } else {
            inbound::parse(raw).map_err(|e| e.to_string())
        }
    }

    /// Several messages in one transaction: BEGIN and COMMIT once for all of them instead of
    /// once each. Unreadable mail is quarantined inside it, as alone. Any error fails the
    /// whole batch and commits nothing: the caller retries it after an outage, or takes its
    /// messages in one at a time with [`Ingestor::ingest`] when one of them fails (so that
    /// one bad message is quarantined without holding back the others).
    pub async fn ingest_together(
        &self,
        batch: &[Fetched<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>, WorkflowError> {
        use tracing::Instrument;
        // Parsed before the transaction: SQLite's other writers (the outbox sender) wait for
        // the database work only.
        let parsed: Vec<_> = batch.iter().map(|f| self.parse(f.raw)).collect();
        // What is stored: the tokens read by the parse are masked in the kept bytes.
        let kept: Vec<_> = batch
            .iter()
            .map(|f| text::mask_raw_tokens(f.raw, &self.own_addresses))
            .collect();
        let _turn = self.db.write_turn().await;
        let mut tx = self.db.begin_write().await?;
        // The lease's fencing number once per transaction.
        check_lease_fence(&mut tx, batch.first().map(|f| &f.source)).await?;
        let mut w = Writes::new(&tx);
        let mut outcomes = Vec::with_capacity(batch.len());
        for ((f, parsed), raw) in batch.iter().zip(parsed).zip(&kept) {
            let span = tracing::info_span!("ingest", uid = f.source.uid);
            let outcome = async {
                // This message's read must see what the previous one wrote: a reply to it,
                // another copy of it.
                w.flush(&mut tx).await?;
                match parsed {
                    Ok(mail) => {
                        let source = Some(&f.source);
                        let outcome = self
                            .take_in(&mut tx, &mut w, &mail, raw, source, f.arrived_at, now)
                            .await?;
                        // The parsed mail is not needed while its bytes are stored.
                        drop(mail);
                        store_raw_pieces(&mut tx, &mut w, raw).await?;
                        Ok::<_, WorkflowError>(outcome)
                    }
                    Err(reason) => {
                        quarantine(&mut tx, raw, &reason, Some(&f.source), now).await?;
                        Ok(Outcome::Quarantined(reason))
                    }
                }
            }
            .instrument(span)
            .await?;
            outcomes.push(outcome);
        }
        let last = batch.iter().map(|f| &f.source).max_by_key(|s| s.uid);
        self.finish(tx, w, last, now).await?;
        tracing::debug!(count = batch.len(), "messages taken in together");
        Ok(outcomes)
    }

    async fn commit(
        &self,
        raw: &[u8],
        parsed: Result<InboundMail, String>,
        source: Option<&Source>,
        arrived_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, WorkflowError> {
        let raw = &*text::mask_raw_tokens(raw, &self.own_addresses);
        let _turn = self.db.write_turn().await;
        let mut tx = self.db.begin_write().await?;
        check_lease_fence(&mut tx, source).await?;
        let mut w = Writes::new(&tx);
        let outcome = match parsed {
            Ok(mail) => {
                let outcome = self
                    .take_in(&mut tx, &mut w, &mail, raw, source, arrived_at, now)
                    .await?;
                drop(mail);
                store_raw_pieces(&mut tx, &mut w, raw).await?;
                outcome
            }
            Err(reason) => {
                quarantine(&mut tx, raw, &reason, source, now).await?;
                Outcome::Quarantined(reason)
            }
        };
        self.finish(tx, w, source, now).await?;
        Ok(outcome)
    }

    /// Ends an intake transaction: the mailbox's read position past `last` (the message with
    /// the highest UID taken in), the pending writes, the commit, then the outbox woken for
    /// what it queued.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        mut w: Writes,
        last: Option<&Source>,
        now: DateTime<Utc>,
    ) -> Result<(), WorkflowError> {
        if !w.take_raw_in_pieces().is_empty() {
            // A bug, not an outage: a mail whose bytes were not stored must not be committed
            // (and then moved out of the inbox).
            return Err(WorkflowError::Db(sqlx::Error::Protocol(
                "a mail kept in pieces was about to be committed without them".into(),
            )));
        }
        if let Some(s) = last {
            mailbox::advance_into(
                &mut w,
                &s.mailbox,
                mailbox::MailboxState {
                    uidvalidity: s.uidvalidity,
                    last_uid: s.uid,
                },
                store::unix(now),
            );
        }
        w.flush(&mut tx).await?;
        tx.commit().await?;
        crate::store::database_ok();
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Reads once what the decision needs, lets the procedure decide, and leaves the writes
    /// in `w`. Only the rarer paths (approval answers, incidents, a reused Message-ID, the
    /// per-sender limit reached) read or write on their own.
    #[allow(clippy::too_many_arguments)]
    async fn take_in(
        &self,
        conn: &mut Conn,
        w: &mut Writes,
        mail: &InboundMail,
        raw: &[u8],
        source: Option<&Source>,
        arrived_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, WorkflowError> {
        let origin = source.map(|s| ImapOrigin {
            uidvalidity: s.uidvalidity,
            uid: s.uid,
            destination: Destination::Processed,
        });
        let at = store::unix(now);
        let from = mail
            .from
            .as_ref()
            .map(|f| f.email.clone())
            .unwrap_or_default();
        let local = self.procedure.helpdesk.split('@').next().unwrap_or("");
        let token_hash =
            crate::workflow::evidence::token(mail, local).map(|t| store::approvals::hash_token(&t));
        let mut references = mail.references.clone();
        references.extend(mail.in_reply_to.iter().cloned());
        let tagged = text::find_ticket_ref(&mail.subject)
            .filter(|r| r.kind == text::TicketKind::Req)
            .map(|r| r.number);
        let thread_key = mail
            .thread_index
            .as_deref()
            .and_then(text::conversation_key);
        let (facts, thread_loaded) = store::intake::facts(
            conn,
            &store::intake::Ask {
                message_id: &mail.message_id,
                tagged,
                references: &references,
                thread_key: thread_key.as_deref(),
                token_hash: token_hash.as_deref(),
                from: &from,
                since: at - 3600,
                digest_kind: MailKind::ResumenAprobaciones,
            },
        )
        .await?;

        let reissued;
        let (mail, taken_in) = match reused_message_id(conn, mail, &facts).await? {
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
                record_copy(conn, &mail.message_id, o, at).await?;
            }
            return Ok(Outcome::Duplicate);
        }
        let issued = facts.token_ticket.and_then(|t| {
            store::approvals::issued(
                t,
                facts.token_recipient.clone().unwrap_or_default(),
                facts.token_purpose.as_deref().unwrap_or(""),
                facts.token_used_at,
            )
        });
        let evidence = crate::workflow::evidence::from_found(
            &self.procedure,
            mail,
            issued,
            facts.incident_token.is_some(),
        );
        let about_incident = facts.incident_token.is_some()
            || text::find_ticket_ref(&mail.subject)
                .is_some_and(|r| r.kind == text::TicketKind::Inc);
        if about_incident {
            if let Some(outcome) = self
                .take_incident_mail(conn, mail, raw, origin, &evidence, now)
                .await?
            {
                return Ok(outcome);
            }
        }
        // Threading, strongest evidence first: our subject tag, then the reply headers matched
        // against every Message-ID we received or sent, then Outlook's conversation index. A
        // mail sent to a personal token address belongs to that token's ticket, even when the
        // client dropped the subject tag and the reply headers.
        let thread = facts
            .thread_ticket
            .map(TicketNumber)
            .or(evidence.token.as_ref().map(|t| t.ticket));
        let facts_in = IntakeFacts {
            auto: text::classify(&self.auto_signals(mail)),
            thread,
            too_old_to_acknowledge: now - arrived_at > self.ack_max_age,
        };
        // The thread's ticket, read with the facts (locked), for whatever the mail turns out
        // to be.
        let thread_loaded = thread_loaded.map(crate::workflow::loaded).transpose()?;
        let mut loaded = match (thread, thread_loaded) {
            (Some(n), Some(l)) if l.0.number == n => Some(l),
            (Some(n), _) => crate::workflow::load_ticket_thread(conn, n).await?,
            (None, _) => None,
        };
        let answer = crate::workflow::approval_in::AnswerMail {
            mail,
            auto: facts_in.auto,
            thread: facts_in.thread,
        };
        let inbound = mail_in::NewInbound {
            mail,
            raw,
            origin,
            at,
        };
        if let Some(t) = crate::workflow::approval_in::route_with(
            conn,
            &self.mailer,
            &self.procedure,
            &answer,
            &evidence,
            now,
            loaded.as_ref().map(|(t, _)| t),
        )
        .await?
        {
            let kind = match t {
                Some(_) => MailKind::RespuestaAprobacion,
                None => MailKind::AprobacionInvalida,
            };
            inbound.write(w, t, kind);
            return Ok(match t {
                Some(t) => Outcome::Threaded(t),
                None => Outcome::StoredWithoutAnswer { ticket: None, kind },
            });
        }
        let decision = intake::decide(&facts_in);
        if let IntakeDecision::OpenTicket { acknowledge } = decision {
            use crate::workflow::digest_reply;
            if facts.answers_digest > 0 {
                let kind = MailKind::RespuestaResumen;
                inbound.write(w, None, kind);
                if acknowledge {
                    w.flush(conn).await?;
                    let name = self.procedure.snapshot().directory.name_or(&from, &from);
                    digest_reply::explain(conn, &self.mailer, &from, &name, at).await?;
                }
                return Ok(Outcome::StoredWithoutAnswer { ticket: None, kind });
            }
        }
        if decision == (IntakeDecision::OpenTicket { acknowledge: true }) {
            if let Some(held) = self
                .hold_if_over_limit(conn, w, mail, &inbound, &from, &facts, &evidence, now)
                .await?
            {
                return Ok(held);
            }
        }
        let snap = self.procedure.snapshot();
        let ctx = self.procedure.ctx(&snap, now);
        let arrival = mail_in::Arrival {
            mail,
            evidence: &evidence,
            landing: mail_in::Landing::New(&inbound),
        };
        let outcome = match decision {
            IntakeDecision::OpenTicket { acknowledge } => {
                let opened = mail_in::open_into(
                    conn,
                    w,
                    &self.mailer,
                    &self.procedure,
                    &arrival,
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
                        kind: MailKind::SolicitanteNoVerificado,
                    },
                }
            }
            IntakeDecision::AddToTicket(t) => {
                let Some(ticket) = loaded.take().filter(|(l, _)| l.number == t) else {
                    return Err(WorkflowError::Db(sqlx::Error::RowNotFound));
                };
                let landed = mail_in::reply_into(
                    conn,
                    w,
                    &self.mailer,
                    &self.procedure,
                    &arrival,
                    ticket,
                    &ctx,
                )
                .await?;
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
                let label = intake::auto_label(kind);
                inbound.write(w, ticket, label);
                if let Some(t) = ticket {
                    let description =
                        format!("Correo automático ({label}) de {from} guardado sin respuesta");
                    events::insert_many_into(
                        w,
                        &[events::NewEvent {
                            ticket: t,
                            at,
                            actor: &from,
                            activity: None,
                            kind: EventKind::CorreoAutomatico,
                            description: &description,
                        }],
                    );
                }
                Outcome::StoredWithoutAnswer {
                    ticket,
                    kind: label,
                }
            }
        };
        Ok(outcome)
    }

    /// A sender (not help-desk staff) that opened `max_new_per_sender_per_hour` acknowledged
    /// requests within the past hour opens no more: the mail is kept, without a ticket and
    /// without an answer, and agents are told at the first one held. A robot that answers each
    /// acknowledgement with a new mail (another help desk, a broken auto-responder) stops there.
    /// Staff are exempt only when our MTA vouches for their address: a From header alone
    /// proves nothing, and a forged agent's From would otherwise open tickets without limit.
    #[allow(clippy::too_many_arguments)]
    async fn hold_if_over_limit(
        &self,
        conn: &mut Conn,
        w: &mut Writes,
        mail: &InboundMail,
        inbound: &mail_in::NewInbound<'_>,
        from: &str,
        facts: &store::intake::Facts,
        evidence: &crate::domain::authority::Evidence,
        now: DateTime<Utc>,
    ) -> Result<Option<Outcome>, WorkflowError> {
        let snap = self.procedure.snapshot();
        let ctx = self.procedure.ctx(&snap, now);
        let proven_staff = evidence.header_authenticated
            && crate::domain::procedure::tramite::is_agent(from, &ctx);
        if from.is_empty() || proven_staff {
            return Ok(None);
        }
        let at = store::unix(now);
        let opened = facts.opened;
        if opened < i64::from(self.max_new_per_sender_per_hour) {
            return Ok(None);
        }
        inbound.write(w, None, MailKind::LimiteRemitente);
        if facts.held > 0 {
            return Ok(Some(Outcome::RateLimited));
        }
        w.flush(conn).await?;
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
                        kind: MailKind::LimiteRemitente,
                        template: Template::LimiteRemitente,
                        data: serde_json::json!({
                            "sender": from,
                            "count": opened,
                            "limit": self.max_new_per_sender_per_hour,
                            "subject": mail.subject,
                            "received_at": ctx.display(now),
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
    ) -> Result<Option<Outcome>, WorkflowError> {
        use crate::workflow::incident_in;
        let Some((incident, token)) = incident_in::find(conn, &self.procedure, mail).await? else {
            return Ok(None);
        };
        let at = store::unix(now);
        let auto = text::classify(&self.auto_signals(mail));
        let kind = auto
            .map(intake::auto_label)
            .unwrap_or(MailKind::RespuestaIncidente);
        let row = store_inbound(conn, mail, raw, None, kind, origin, at).await?;
        if auto.is_some() {
            return Ok(Some(Outcome::StoredWithoutAnswer { ticket: None, kind }));
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
                kind: MailKind::RespuestaIncidente,
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

/// What was taken in before under a mail's Message-ID.
enum Stored {
    None,
    /// The same mail (delivered again): a duplicate.
    Same,
    /// A different mail: this one is kept too, under this id derived from its content
    /// (stable, so its own re-delivery is still a duplicate).
    Different(String),
}

/// Whether the mail stored under this mail's Message-ID (`facts`) is this one: by the
/// fingerprint stored with it; a mail stored before fingerprints were kept is parsed again.
async fn reused_message_id(
    conn: &mut Conn,
    mail: &InboundMail,
    facts: &store::intake::Facts,
) -> Result<Stored, sqlx::Error> {
    if facts.dup_row.is_none() {
        return Ok(Stored::None);
    }
    if facts.dup_has_raw == Some(0) {
        return Ok(Stored::Same);
    }
    let same = match &facts.dup_fingerprint {
        Some(stored) => *stored == mail.fingerprint(),
        None => {
            let stored = match facts.dup_row {
                Some(row) => messages::raw_of(conn, row).await?,
                None => None,
            };
            match stored.map(|raw| inbound::parse(&raw)) {
                Some(Ok(first)) => first.same_content(mail),
                _ => true,
            }
        }
    };
    Ok(if same {
        Stored::Same
    } else {
        Stored::Different(mail.derived_message_id())
    })
}

async fn store_inbound(
    conn: &mut Conn,
    mail: &InboundMail,
    raw: &[u8],
    ticket: Option<TicketNumber>,
    kind: MailKind,
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
            fingerprint: Some(&mail.fingerprint()),
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
                size: a.size,
                sha256: &a.sha256,
            },
        )
        .await?;
    }
    Ok(row)
}

/// The raw bytes of the mail just taken in, in pieces, for the rows `w` wrote without them
/// (a mail over `messages::RAW_PIECE`): the rows first, then one statement per piece.
async fn store_raw_pieces(conn: &mut Conn, w: &mut Writes, raw: &[u8]) -> Result<(), sqlx::Error> {
    let ids = w.take_raw_in_pieces();
    if ids.is_empty() {
        return Ok(());
    }
    w.flush(conn).await?;
    for id in &ids {
        messages::insert_raw_pieces(conn, messages::RawOf::Inbound(id), raw).await?;
    }
    Ok(())
}

/// The lease's fencing number of `source`'s reader, checked first in the transaction so that
/// the lease's row stays locked to the commit: a takeover waits for this transaction, and one
/// that came first makes it roll back (dropped). Mail without a reader (no `source`, or a
/// reader without a lease) has nothing to check.
async fn check_lease_fence(conn: &mut Conn, source: Option<&Source>) -> Result<(), WorkflowError> {
    if let Some((s, fence)) = source.and_then(|s| Some((s, s.fence?))) {
        if !store::lease::check_fence(conn, &s.mailbox, fence).await? {
            return Err(WorkflowError::LeaseLost);
        }
    }
    Ok(())
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
            kind: MailKind::Cuarentena,
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
            fingerprint: None,
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
            kind: MailKind::Copia,
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
            fingerprint: None,
        },
    )
    .await?;
    Ok(())
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
                kind: MailKind::Masivo,
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
