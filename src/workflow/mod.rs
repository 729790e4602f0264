//! The application layer around the pure procedure: loads a ticket, asks the procedure what to
//! do, and persists the resulting plan (ticket, events, mail, timers) in the caller's
//! transaction.

pub use error::WorkflowError;
pub mod approval_in;
pub mod digest_reply;
mod error;
pub mod evidence;
pub mod incident_in;
pub mod ingest;
pub mod mail_in;
pub mod monthly_report;
pub mod notify;
pub mod panel_in;
pub mod sweep;

use crate::config::Config;
use crate::domain::authority::TokenPurpose;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::catalog::Catalog;
use crate::domain::directory::Directory;
use crate::domain::event_kind::EventKind;
use crate::domain::ldap_directory::{self, Entry, People, RoleRules};
use crate::domain::mail_kind::MailKind;
use crate::domain::procedure::{aprobacion, Ctx, Effect, Plan, Policy, Ticket, TimerKind};
use crate::domain::template::Template;
use crate::domain::text::canonical_address;
use crate::domain::ticket::TicketNumber;
use crate::store::writes::Writes;
use crate::store::{self, approvals, events, messages, tickets, timers, Conn};
use crate::workflow::notify::{Mailer, Notice};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};

/// The procedure's reference data: catalogue and directory (reloadable), calendar, policy.
pub struct Procedure {
    catalog: RwLock<Arc<Catalog>>,
    directory: RwLock<Arc<Directory>>,
    /// The last good read of `[directory.ldap]`, under the TOML directory's overrides.
    ldap: RwLock<Option<Arc<LdapRead>>>,
    role_rules: RoleRules,
    pub calendar: BusinessCalendar,
    pub policy: Policy,
    /// The watched help-desk address; approval tokens ride on its plus-address.
    pub helpdesk: String,
    pub security: crate::config::SecurityConfig,
    pub digest_hour: u32,
    /// Local hour of the monthly compliance report; `None` when it is switched off.
    pub monthly_report_hour: Option<u32>,
    /// `[web] base_url` (no trailing slash) when set: mail to staff about a ticket links to
    /// its page, and an approval request signs its approver straight in.
    pub panel_base: Option<String>,
}

/// An approval request's direct sign-in link works this long (the 24 business hours of the
/// procedure, a weekend, a holiday and a reminder fit in it), once.
pub const APPROVAL_LINK_VALID_SECS: i64 = 7 * 86_400;

/// A consistent view of the reference data for one unit of work.
pub struct Snapshot {
    pub catalog: Arc<Catalog>,
    pub directory: Arc<Directory>,
}

fn load_catalog(c: &Config) -> anyhow::Result<Catalog> {
    match &c.paths.catalog {
        Some(p) => Ok(Catalog::load(p)?),
        None => Ok(Catalog::default()),
    }
}

/// A read of `[directory.ldap]`: the entries as read, and when (Unix seconds).
#[derive(Debug, Clone)]
pub struct LdapRead {
    pub entries: Vec<Entry>,
    pub read_at: i64,
}

/// The TOML directory, over the people of the LDAP read when there is one.
fn load_directory(
    c: &Config,
    ldap: Option<&LdapRead>,
    rules: &RoleRules,
) -> anyhow::Result<(Directory, People)> {
    let read = ldap
        .map(|r| ldap_directory::people(&r.entries, rules))
        .unwrap_or_default();
    let base = read.people.clone();
    let directory = match (&c.paths.directory, c.directory.ldap.is_some()) {
        (Some(p), true) => Directory::load_over(base, p)?,
        (Some(p), false) => Directory::load(p)?,
        (None, _) => Directory::from_toml_over(base, "", "")?,
    };
    Ok((directory, read))
}

fn role_rules(c: &Config) -> anyhow::Result<RoleRules> {
    match &c.directory.ldap {
        None => Ok(RoleRules::default()),
        Some(l) => RoleRules::new(&l.roles_by_group, &l.roles_by_title)
            .map_err(|(key, m)| anyhow::anyhow!("directory.ldap.{key}: {m}")),
    }
}

impl Procedure {
    pub fn from_config(c: &Config) -> anyhow::Result<Procedure> {
        let calendar = BusinessCalendar::new(&c.calendar).context("[calendar]")?;
        let patterns = c
            .incidents
            .patterns
            .iter()
            .map(|p| regex::Regex::new(p))
            .collect::<Result<Vec<_>, _>>()
            .context("incidents.patterns")?;
        let role_rules = role_rules(c)?;
        Ok(Procedure {
            catalog: RwLock::new(Arc::new(load_catalog(c)?)),
            directory: RwLock::new(Arc::new(load_directory(c, None, &role_rules)?.0)),
            ldap: RwLock::new(None),
            role_rules,
            calendar,
            policy: Policy {
                pending_user_business_days: c.lifecycle.pending_user_business_days,
                auto_close_business_days: c.lifecycle.auto_close_business_days,
                default_resolution_hours: c.sla.default_resolution_hours,
                priority_factors: c.sla.priority_factors,
                incident_patterns: patterns,
                incident_address: c.incidents.address.clone().filter(|a| !a.trim().is_empty()),
                approval_target_hours: c.approvals.target_business_hours,
                pause_sla_during_approval: c.approvals.pause_sla,
                coordinator: c.escalation.coordinator.clone(),
                subdirector: c.escalation.subdirector.clone(),
                director: c.escalation.director.clone(),
                agents: c.escalation.agents.clone(),
            },
            helpdesk: c.helpdesk_address(),
            security: c.security.clone(),
            digest_hour: c.approvals.digest_hour,
            monthly_report_hour: c.reports.monthly_compliance.then_some(c.reports.hour),
            panel_base: Some(c.web.base().to_owned()).filter(|b| !b.is_empty()),
        })
    }

    /// Re-reads catalogue and directory (SIGHUP); on error the old ones stay in force.
    pub fn reload(&self, c: &Config) -> anyhow::Result<()> {
        let catalog = load_catalog(c)?;
        let ldap = self.ldap_read();
        let (directory, _) = load_directory(c, ldap.as_deref(), &self.role_rules)?;
        if let Ok(mut g) = self.catalog.write() {
            *g = Arc::new(catalog);
        }
        if let Ok(mut g) = self.directory.write() {
            *g = Arc::new(directory);
        }
        Ok(())
    }

    /// Puts a read of `[directory.ldap]` in force, under the TOML directory's overrides; on
    /// error (the TOML file no longer fits) nothing changes. Returns the people read.
    pub fn install_ldap(&self, c: &Config, read: LdapRead) -> anyhow::Result<People> {
        let (directory, people) = load_directory(c, Some(&read), &self.role_rules)?;
        if let Ok(mut g) = self.directory.write() {
            *g = Arc::new(directory);
        }
        if let Ok(mut g) = self.ldap.write() {
            *g = Some(Arc::new(read));
        }
        Ok(people)
    }

    /// The LDAP read in force, if any.
    pub fn ldap_read(&self) -> Option<Arc<LdapRead>> {
        match self.ldap.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            catalog: current(&self.catalog),
            directory: current(&self.directory),
        }
    }

    /// The proof rules of `[security]`, the same for mail, panel and CLI.
    pub fn rules(&self) -> crate::domain::authority::Rules {
        crate::domain::authority::Rules {
            require_header_authentication: self.security.require_authentication_results,
        }
    }

    /// `mesayuda+<token>@domain`: replies to it come back to the watched mailbox with the token.
    pub(crate) fn reply_address(&self, token: &str) -> String {
        match self.helpdesk.split_once('@') {
            Some((local, domain)) => format!("{local}+{token}@{domain}"),
            None => format!("{}+{token}", self.helpdesk),
        }
    }

    /// The panel page of ticket `t` for `person`, when the panel has a public address: the
    /// request's page for those who work tickets, the approval's for its approver or
    /// substitute; none for anyone else (a director's SLA alert), who has no page there.
    pub fn ticket_page(&self, t: &Ticket, person: &str, ctx: &Ctx<'_>) -> Option<String> {
        let base = self.panel_base.as_ref()?;
        if crate::domain::procedure::tramite::is_agent(person, ctx) {
            return Some(format!("{base}/solicitudes/{}", t.number));
        }
        let approver = t.approval.as_ref().is_some_and(|a| {
            [a.approver.as_deref(), a.substitute.as_deref()]
                .into_iter()
                .flatten()
                .any(|x| canonical_address(x) == canonical_address(person))
        });
        approver.then(|| format!("{base}/aprobaciones/{}", t.number))
    }

    pub fn ctx<'a>(&'a self, snap: &'a Snapshot, now: DateTime<Utc>) -> Ctx<'a> {
        Ctx {
            now,
            catalog: &snap.catalog,
            directory: &snap.directory,
            calendar: &self.calendar,
            policy: &self.policy,
        }
    }
}

fn current<T>(lock: &RwLock<Arc<T>>) -> Arc<T> {
    match lock.read() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// The ticket as the procedure sees it, to change it in this transaction (locked on PostgreSQL).
pub async fn load_ticket(conn: &mut Conn, n: TicketNumber) -> Result<Option<Ticket>, sqlx::Error> {
    Ok(load_ticket_thread(conn, n).await?.map(|(t, _)| t))
}

/// [`load_ticket`] in one statement, with the Message-IDs of the ticket's mail in order.
pub async fn load_ticket_thread(
    conn: &mut Conn,
    n: TicketNumber,
) -> Result<Option<(Ticket, Vec<String>)>, sqlx::Error> {
    tickets::get_loaded(conn, n).await?.map(loaded).transpose()
}

/// The procedure's view of a ticket read with [`tickets::get_loaded`], and its thread.
pub fn loaded(l: tickets::Loaded) -> Result<(Ticket, Vec<String>), sqlx::Error> {
    let mut t = l.row.to_domain(l.attachments.max(0) as usize)?;
    t.approval = l.approval;
    Ok((t, l.thread))
}

/// [`load_ticket`] for several tickets, in three statements whatever their number.
pub async fn load_tickets(
    conn: &mut Conn,
    ns: &[TicketNumber],
) -> Result<std::collections::HashMap<TicketNumber, Ticket>, sqlx::Error> {
    let rows = tickets::get_many_for_update(conn, ns).await?;
    let attachments = tickets::attachment_counts(conn, ns).await?;
    let mut approvals = approvals::load_many(conn, ns).await?;
    rows.into_iter()
        .map(|row| {
            let n = row.number();
            let mut t = row.to_domain(attachments.get(&n).copied().unwrap_or(0))?;
            t.approval = approvals.remove(&n);
            Ok((n, t))
        })
        .collect()
}

/// Data every template can use, whatever the mail.
fn base_data(t: &Ticket, ctx: &Ctx<'_>) -> Value {
    let service = t
        .service
        .as_deref()
        .and_then(|c| ctx.catalog.by_code_or_name(c));
    json!({
        "ticket": t.number.to_string(),
        "subject": t.subject,
        "requester": t.requester,
        // The directory's name first: a display name is whatever the sender's client had.
        "requester_name": ctx.directory.name_or(
            &t.requester,
            t.requester_name.as_deref().unwrap_or(&t.requester),
        ),
        // Where to find them, for whoever goes to their desk or calls them.
        "requester_office": ctx.directory.person(&t.requester).map(|p| p.office.clone())
            .filter(|o| !o.trim().is_empty()),
        "requester_phone": ctx.directory.person(&t.requester).and_then(|p| p.phone.clone()),
        "service": service.map(|s| s.name.clone()),
        "service_code": t.service,
        "category": t.category,
        "priority": t.priority.map(|p| p.as_str()),
        "status": t.status.as_str(),
        "assignee": t.assignee,
        "fields": t.fields,
        // The same as a list, for templates that show every field whatever its name.
        "field_list": t.fields.iter().filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>(),
        "created_at": ctx.display(t.created_at),
    })
}

/// Keys whose value is a person's address; each gets a `<key>_name` beside it.
const PERSON_KEYS: [&str; 6] = [
    "approver",
    "substitute",
    "substitute_for",
    "agent",
    "assignee",
    "from",
];

/// Adds `<key>_name` ("Name, Position" from the directory, else the address) for every
/// address in [`PERSON_KEYS`], unless the mail already set that name: templates name people
/// as the reader knows them, addresses only as a fallback.
fn with_names(mut data: Value, directory: &Directory) -> Value {
    if let Some(map) = data.as_object_mut() {
        for key in PERSON_KEYS {
            let name_key = format!("{key}_name");
            let has_name = map.get(&name_key).is_some_and(|v| !v.is_null());
            if let (Some(Value::String(email)), false) = (map.get(key), has_name) {
                let label = directory.label(email);
                map.insert(name_key, Value::String(label));
            }
        }
    }
    data
}

fn merge(mut base: Value, extra: &Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Persists a plan; the caller commits.
pub async fn apply(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    plan: &Plan,
    ctx: &Ctx<'_>,
) -> Result<(), WorkflowError> {
    let mut w = Writes::new(conn);
    apply_into(conn, &mut w, mailer, proc, plan, ctx, &mut Known::default()).await?;
    w.flush(conn).await?;
    Ok(())
}

/// What the caller of [`apply_into`] already knows about the ticket, so that it is not read
/// back from the database.
#[derive(Default)]
pub struct Known {
    /// The Message-IDs of the ticket's mail so far, in order (`None`: read them when needed).
    /// Mail queued here is added to it.
    pub thread: Option<Vec<String>>,
    /// The caller has written the ticket row as the plan leaves it (a new ticket, inserted
    /// whole): it is not saved again.
    pub ticket_written: bool,
    /// A new ticket's request as received (not yet readable in the database): its text and
    /// its files (name, size), for the mails that show them.
    pub request: Option<(String, Vec<(String, i64)>)>,
}

/// [`apply`] whose writes go into `w`, sent by the caller with its own. Reads what it cannot
/// know only on the procedure's rarer paths, after sending what `w` holds so far.
pub async fn apply_into(
    conn: &mut Conn,
    w: &mut Writes,
    mailer: &Mailer,
    proc: &Procedure,
    plan: &Plan,
    ctx: &Ctx<'_>,
    known: &mut Known,
) -> Result<(), WorkflowError> {
    let t = &plan.ticket;
    let at = store::unix(ctx.now);
    if !known.ticket_written {
        tickets::save_into(w, t, at);
    }
    if let Some(a) = &t.approval {
        approvals::save_into(w, t.number, a);
    }
    // Timers end as the last effect on each leaves them, written once.
    let mut timers_to: Vec<(&str, Option<i64>)> = Vec::new();
    let mut timer = |kind: &'static str, due: Option<i64>| {
        timers_to.retain(|(k, _)| *k != kind);
        timers_to.push((kind, due));
    };
    // Audit events wait here and go in together: one statement instead of one per event.
    let mut pending_events = Vec::new();
    for effect in &plan.effects {
        match effect {
            Effect::Event {
                activity,
                actor,
                kind,
                description,
            } => pending_events.push(events::NewEvent {
                ticket: t.number,
                at,
                actor,
                activity: activity.map(i64::from),
                kind: *kind,
                description,
            }),
            Effect::Mail(m) => {
                let to = if ONCE_AN_HOUR.contains(&m.kind) {
                    w.flush(conn).await?;
                    unthrottled(conn, t, m, at).await?
                } else {
                    m.to.clone()
                };
                if to.is_empty() {
                    continue;
                }
                let data = with_names(merge(base_data(t, ctx), &m.data), ctx.directory);
                let data = match (m.template, &known.request) {
                    (Template::NuevaSolicitud | Template::Asignacion, Some((text, files))) => {
                        merge(data, &details_of(text, files, Vec::new(), &pending_events))
                    }
                    (Template::NuevaSolicitud | Template::Asignacion, None) => {
                        w.flush(conn).await?;
                        merge(
                            data,
                            &request_details(conn, t.number, &pending_events).await?,
                        )
                    }
                    _ => data,
                };
                let notice = |to: Vec<String>, reply_to: Option<String>| Notice {
                    ticket: Some(t.number),
                    kind: m.kind,
                    template: m.template,
                    data: data.clone(),
                    to,
                    reply_to,
                    at,
                    activity: Some(i64::from(m.activity)),
                    description: &m.description,
                };
                if known.thread.is_none() {
                    w.flush(conn).await?;
                    known.thread = Some(messages::thread_ids(conn, t.number).await?);
                }
                let thread = known.thread.get_or_insert_with(Vec::new);
                // Everyone gets their own copy, whose Reply-To carries a token bound to that
                // person and this ticket: their answer to it is proof that they wrote it
                // (domain::authority) — an agent's commands, an approver's word, and the
                // requester's information, survey rating or "no está resuelto" alike.
                for person in to {
                    let token = approvals::new_token();
                    let purpose = if aprobacion::answered_with_a_decision(t, m.kind, &person) {
                        TokenPurpose::Approval
                    } else {
                        TokenPurpose::Reply
                    };
                    approvals::add_token_into(w, t.number, &token, &person, purpose, at);
                    let reply_to = Some(proc.reply_address(&token));
                    let mut n = notice(vec![person.clone()], reply_to);
                    // Staff and approvers open the ticket's page from their mail.
                    if let Some(page) = proc.ticket_page(t, &person, ctx) {
                        n.data = merge(n.data, &json!({ "panel_link": page }));
                    }
                    let id = mailer.queue_into(w, &n, thread, &mut pending_events, &[])?;
                    thread.push(id);
                }
            }
            Effect::OpenIncident { reason, by } => {
                events::insert_many_into(w, &std::mem::take(&mut pending_events));
                w.flush(conn).await?;
                open_incident(conn, mailer, proc, t, reason, by, ctx).await?;
                known.thread = None;
            }
            Effect::SpendApprovalTokens => {
                w.flush(conn).await?;
                approvals::spend_approval_tokens(conn, t.number, at).await?
            }
            Effect::SetTimer { kind, due } => timer(kind.as_str(), Some(store::unix(*due))),
            Effect::ClearTimer(kind) => timer(kind.as_str(), None),
            Effect::RequestApproval {
                recipients,
                reminder,
            } => {
                // Its mails record their own events: the earlier ones go first.
                events::insert_many_into(w, &std::mem::take(&mut pending_events));
                w.flush(conn).await?;
                request_approval(conn, mailer, proc, t, recipients, *reminder, ctx).await?;
                known.thread = None;
            }
        }
    }
    events::insert_many_into(w, &pending_events);
    // The SLA timer is derived from the clock, so no procedure step has to keep it in step.
    let sla = t
        .sla
        .next_alert(ctx.calendar)
        .filter(|_| t.status.is_open())
        .map(|(_, due)| store::unix(due));
    timer(TimerKind::Sla.as_str(), sla);
    for (kind, due) in timers_to {
        match due {
            Some(due) => timers::set_into(w, t.number, kind, due),
            None => timers::clear_into(w, t.number, kind),
        }
    }
    Ok(())
}

/// `#incidente`: the closed request continues as an incident. The requester is told on the
/// request's thread; the incident copy goes where every incident goes.
async fn open_incident(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    t: &Ticket,
    reason: &str,
    by: &str,
    ctx: &Ctx<'_>,
) -> Result<(), WorkflowError> {
    let at = store::unix(ctx.now);
    let root = tickets::get(conn, t.number)
        .await?
        .map(|r| r.root_message_id)
        .unwrap_or_default();
    let id = store::incidents::insert_from(
        conn,
        &t.requester,
        &t.subject,
        &root,
        Some((t.number, reason)),
        at,
    )
    .await?;
    let incident = format!("INC-{id}");
    events::insert(
        conn,
        &events::NewEvent {
            ticket: t.number,
            at,
            actor: by,
            activity: Some(2),
            kind: EventKind::IncidenteAbierto,
            description: &format!("Continúa como el incidente {incident}"),
        },
    )
    .await?;
    let details = request_details(conn, t.number, &[]).await?;
    let data = merge(
        base_data(t, ctx),
        &json!({
            "incident": incident,
            "from_ticket": t.number.to_string(),
            "reason": reason,
            "text": details["request_text"],
            "unverified": false,
        }),
    );
    // The reporter's own reply code: answering this mail proves them.
    let reply_to = mail_in::incident_reply_address(conn, proc, id, &t.requester, at).await?;
    let mut told = Notice::ticketless(
        MailKind::Incidente,
        Template::Incidente,
        data.clone(),
        t.requester.clone(),
        at,
        Some(2),
        "Usuario informado: se atiende como incidente",
    );
    told.ticket = Some(t.number);
    told.reply_to = Some(reply_to);
    mailer.queue(conn, &told).await?;
    mail_in::copy_incident(conn, mailer, proc, id, data, ctx).await
}

/// Mail kinds a person gets at most once an hour per ticket, and [`WARNINGS_PER_TICKET`] times
/// in all: each answers a mail that anyone can send in their name, so a forger must not be able
/// to flood them, and a robot that answers every mail to the help desk's plain address (never
/// the Reply-To) must not keep a slow loop going with our answers.
const ONCE_AN_HOUR: [MailKind; 2] = [MailKind::AccionNoVerificada, MailKind::RespuestaSinEfecto];
const WARNINGS_PER_TICKET: i64 = 3;

/// Whether a person already told `count` times, the last at `last`, is told again at `at`.
pub(super) fn warn_again(count: i64, last: Option<i64>, at: i64) -> bool {
    count < WARNINGS_PER_TICKET && last.is_none_or(|l| l <= at - 3600)
}

/// The recipients of `m` still to be mailed, after the limits of [`ONCE_AN_HOUR`].
async fn unthrottled(
    conn: &mut Conn,
    t: &Ticket,
    m: &crate::domain::procedure::MailOut,
    at: i64,
) -> Result<Vec<String>, sqlx::Error> {
    if !ONCE_AN_HOUR.contains(&m.kind) {
        return Ok(m.to.clone());
    }
    let mut to = Vec::new();
    for r in &m.to {
        let (count, last) = messages::sent_to(conn, Some(t.number), m.kind, r, 0).await?;
        if warn_again(count, last, at) {
            to.push(r.clone());
        }
    }
    Ok(to)
}

/// What an agent needs to act without opening anything else: the request as written and the
/// names and sizes of the files that came with it.
/// For the assignment mail, the internal notes too (`#nota`), those of this very reply
/// (`unsaved`, not yet in the database) included.
async fn request_details(
    conn: &mut Conn,
    n: TicketNumber,
    unsaved: &[events::NewEvent<'_>],
) -> Result<Value, sqlx::Error> {
    let notes: Vec<String> = events::for_ticket(conn, n)
        .await?
        .into_iter()
        .filter(|e| e.kind == EventKind::Nota.as_str())
        .map(|e| e.description)
        .collect();
    let mut request_text = messages::for_ticket(conn, n)
        .await?
        .into_iter()
        .find(|m| m.direction == "in")
        .map(|m| m.body_text);
    if request_text.is_none() {
        // A request that continues an incident (`#requerimiento`) whose report stays on the
        // request it came from: the report is still what the agent must read.
        if let Some(root) = tickets::get(conn, n).await?.map(|t| t.root_message_id) {
            request_text = messages::inbound_by_message_id(conn, &root)
                .await?
                .map(|(_, _, text)| text);
        }
    }
    let request_text = request_text.unwrap_or_default();
    let files: Vec<(String, i64)> = messages::request_files(conn, n)
        .await?
        .into_iter()
        .map(|a| (a.filename, a.size))
        .collect();
    Ok(details_of(&request_text, &files, notes, unsaved))
}

/// [`request_details`] from what is known: the request's text, its files (name, size), the
/// stored notes and those of this unit of work.
fn details_of(
    request_text: &str,
    files: &[(String, i64)],
    mut notes: Vec<String>,
    unsaved: &[events::NewEvent<'_>],
) -> Value {
    notes.extend(
        unsaved
            .iter()
            .filter(|e| e.kind == EventKind::Nota.as_str())
            .map(|e| e.description.to_owned()),
    );
    let notes: Vec<String> = notes
        .into_iter()
        .map(|d| d.trim_start_matches("Nota interna: ").to_owned())
        .collect();
    let files: Vec<Value> = files
        .iter()
        .map(|(name, size)| json!({ "filename": name, "size": crate::domain::es_co::size(*size) }))
        .collect();
    json!({ "request_text": request_text, "files": files, "notes": notes })
}

/// What an approver decides on: the request as first written, what the requester added
/// later (new text only, quotes cut), every field, the files, and the date the answer is due.
async fn approval_details(
    conn: &mut Conn,
    t: &Ticket,
    ctx: &Ctx<'_>,
) -> Result<Value, sqlx::Error> {
    let from_requester: Vec<messages::MessageRow> = messages::for_ticket(conn, t.number)
        .await?
        .into_iter()
        .filter(|m| m.direction == "in")
        // A mail in the requester's name that nothing proves is no word of theirs.
        .filter(|m| !messages::not_the_requesters().any(|k| m.kind == k.as_str()))
        .filter(|m| canonical_address(&m.from_addr) == canonical_address(&t.requester))
        .collect();
    let request_text = from_requester
        .first()
        .map(|m| m.body_text.clone())
        .unwrap_or_default();
    let later: Vec<Value> = from_requester
        .iter()
        .skip(1)
        .map(|m| {
            json!({
                "at": ctx.display(store::from_unix(m.at)),
                "text": crate::domain::text::new_text(&m.body_text),
            })
        })
        .filter(|m| m["text"].as_str().is_some_and(|s| !s.trim().is_empty()))
        .collect();
    let files: Vec<Value> = messages::request_files(conn, t.number)
        .await?
        .into_iter()
        .map(|a| json!({ "filename": a.filename, "size": crate::domain::es_co::size(a.size) }))
        .collect();
    let fields: Vec<Value> = t
        .fields
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect();
    let requested = t
        .approval
        .as_ref()
        .and_then(|a| a.requested_at)
        .unwrap_or(ctx.now);
    let due = ctx
        .calendar
        .add_business_hours(requested, ctx.policy.approval_target_hours);
    Ok(json!({
        "request_text": request_text,
        "later_messages": later,
        "files": files,
        "field_list": fields,
        "approval_due": ctx.display(due),
        "approval_hours": crate::domain::es_co::hours((ctx.policy.approval_target_hours * 3600.0) as i64),
    }))
}

/// Mails the approval request, one secret token per recipient: in the Reply-To plus-address
/// (`mesayuda+<token>@…`, which every client keeps) and in the subject.
async fn request_approval(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    t: &Ticket,
    recipients: &[String],
    reminder: bool,
    ctx: &Ctx<'_>,
) -> Result<(), WorkflowError> {
    let at = store::unix(ctx.now);
    let details = approval_details(conn, t, ctx).await?;
    let approval = t.approval.as_ref();
    for to in recipients {
        let token = approvals::new_token();
        approvals::add_token(conn, t.number, &token, to, TokenPurpose::Approval, at).await?;
        let kind = approval.map(|a| a.kind.label()).unwrap_or_default();
        // A substitute is told whose approval they give: the request was the titular's.
        let substitute_for = approval
            .and_then(|a| a.approver.as_deref())
            .filter(|a| canonical_address(a) != canonical_address(to));
        let data = merge(
            merge(base_data(t, ctx), &details),
            &json!({
                "token_tag": format!("[APR:{token}]"),
                "reminder": reminder,
                "approval_kind": kind,
                "justification": t.field("justificacion").unwrap_or("(sin justificación)"),
                "approver": to,
                "recipient_name": ctx.directory.name_or(to, to),
                "substitute_for": substitute_for,
            }),
        );
        let mut data = with_names(data, ctx.directory);
        if let (Some(base), true) = (&proc.panel_base, proc.rules().require_header_authentication) {
            // Under `require_authentication_results` a mail alone proves nothing (it may have
            // been forwarded), so it carries no sign-in: the page asks the approver to sign in
            // with a link mailed to them on request.
            data = merge(
                data,
                &json!({
                    "panel_link": format!("{base}/aprobaciones/{}", t.number),
                    "panel_label": "Decidir en el panel",
                    "panel_signs_in": false,
                }),
            );
        } else if let Some(base) = &proc.panel_base {
            // One tap signs the approver in on this approval; deciding is a second one (a GET
            // never decides: mail scanners open links).
            let secret = store::panel::new_secret();
            let until = at + APPROVAL_LINK_VALID_SECS;
            store::panel::add_ticket_link(conn, &secret, to, t.number, at, until).await?;
            data = merge(
                data,
                &json!({
                    "panel_link": format!("{base}/ingresar/{secret}"),
                    "panel_label": "Decidir en el panel",
                    "panel_signs_in": true,
                }),
            );
        }
        mailer
            .queue(
                conn,
                &Notice {
                    ticket: Some(t.number),
                    kind: MailKind::SolicitudAprobacion,
                    template: Template::SolicitudAprobacion,
                    data,
                    to: vec![to.clone()],
                    reply_to: Some(proc.reply_address(&token)),
                    at,
                    activity: Some(10),
                    description: if reminder {
                        "Recordatorio de aprobación enviado"
                    } else {
                        "Solicitud de aprobación enviada"
                    },
                },
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::warn_again;

    #[test]
    fn warnings_once_an_hour_and_three_times_per_ticket_at_most() {
        assert!(warn_again(0, None, 10_000));
        assert!(!warn_again(1, Some(9_000), 10_000));
        assert!(warn_again(1, Some(6_400), 10_000));
        assert!(warn_again(2, Some(0), 10_000));
        assert!(!warn_again(3, Some(0), 100_000));
    }
}
