//! The procedure "Gestión de Requerimientos de Servicios TIC", activity by activity, as pure
//! functions: a ticket and what happened in, a [`Plan`] out (the ticket's new state plus the
//! mails, events and timers it causes). The adapters persist a plan in one transaction.
//!
//! | activities | file |
//! |---|---|
//! | 1–3 Recibir, Validar, Registrar/Categorizar | `registro.rs` |
//! | 4–8 Verificar, Solicitar información, Cierre sin respuesta | `verificacion.rs` |
//! | 9–12 Requiere aprobación, Verificar/Corregir aprobador, Aprobado | `aprobacion.rs` |
//! | 13–16 Tramitar, Cambio, Resolver (agents' commands) | `tramite.rs` |
//! | 17–18 Encuesta, Cerrar | `cierre.rs` |
//! | SLA alerts at 50/75/100 % | `escalamiento.rs` |

pub mod aprobacion;
pub mod cierre;
pub mod escalamiento;
pub mod registro;
pub mod tramite;
pub mod verificacion;

use super::calendar::BusinessCalendar;
use super::catalog::{Catalog, Service};
use super::directory::Directory;
use super::sla::{PriorityFactors, SlaClock};
use super::text::{field_key, Priority};
use super::ticket::{CloseReason, Status, TicketNumber};
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use chrono::{DateTime, Utc};
use regex::Regex;
use std::collections::BTreeMap;

/// The procedure's settings (from `[lifecycle]`, `[sla]`, `[incidents]`, `[escalation]`).
#[derive(Debug, Clone)]
pub struct Policy {
    pub pending_user_business_days: u32,
    pub auto_close_business_days: u32,
    pub default_resolution_hours: f64,
    /// `[sla] priority_factors`; none by default, so the catalogue's target is the one applied.
    pub priority_factors: PriorityFactors,
    pub incident_patterns: Vec<Regex>,
    pub incident_address: Option<String>,
    /// Activity 10–12: business hours an approver has (24 by the procedure).
    pub approval_target_hours: f64,
    /// Whether waiting on an approver stops the resolution clock.
    pub pause_sla_during_approval: bool,
    pub coordinator: Option<String>,
    pub subdirector: Option<String>,
    pub director: Option<String>,
    /// Where agents are told of work needing them when the directory has no agent.
    pub agents: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            pending_user_business_days: 3,
            auto_close_business_days: 2,
            default_resolution_hours: 8.0,
            priority_factors: PriorityFactors::default(),
            incident_patterns: Vec::new(),
            incident_address: None,
            approval_target_hours: 24.0,
            pause_sla_during_approval: true,
            coordinator: None,
            subdirector: None,
            director: None,
            agents: Vec::new(),
        }
    }
}

/// Everything a procedure step may consult; no I/O behind any of it.
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub catalog: &'a Catalog,
    pub directory: &'a Directory,
    pub calendar: &'a BusinessCalendar,
    pub policy: &'a Policy,
}

impl Ctx<'_> {
    /// Resolution target in business seconds: the service's hours (the default while it has
    /// none), scaled by a priority factor only when `[sla] priority_factors` configures one.
    pub fn target_secs(&self, service: Option<&Service>, priority: Option<Priority>) -> i64 {
        let hours = service
            .map(|s| s.resolution_hours)
            .unwrap_or(self.policy.default_resolution_hours);
        (hours * self.policy.priority_factors.factor(priority) * 3600.0).round() as i64
    }

    /// The target and due time as the requester and staff read them, for mail data:
    /// `sla_target` ("8,0 horas hábiles") and `sla_due_at` (absent while the clock is stopped).
    pub fn sla_summary(&self, t: &Ticket) -> serde_json::Value {
        serde_json::json!({
            "sla_target": format!("{} hábiles", super::es_co::hours(t.sla.target_secs)),
            "sla_due_at": t.sla.deadline(self.calendar).map(|d| self.display(d)),
        })
    }

    /// An instant as the reader of a mail reads it: the calendar's wall clock, in Colombian
    /// Spanish ("miércoles 2 de diciembre de 2026, 5:00 p. m.").
    pub fn display(&self, t: DateTime<Utc>) -> String {
        super::es_co::datetime_in(t, &self.calendar.timezone())
    }

    /// Agents to tell about work that needs one: the directory's agents, else config.
    pub fn agents(&self) -> Vec<String> {
        let people: Vec<String> = self
            .directory
            .with_role(super::directory::Role::Agente)
            .iter()
            .map(|p| p.email.clone())
            .collect();
        if people.is_empty() {
            self.policy.agents.clone()
        } else {
            people
        }
    }
}

impl Ctx<'_> {
    /// The resolver group of the ticket's service, when it names one the directory has.
    pub fn group_of(&self, t: &Ticket) -> Option<&super::group::Group> {
        let service = t.service.as_deref()?;
        let code = self.catalog.by_code_or_name(service)?.group.as_deref()?;
        self.directory.group(code)
    }

    /// Who receives work nobody has taken yet: the service's group (its list address, else
    /// its members), else the agents — also when the group has nobody left (its members left
    /// the directory): work must reach a person.
    pub fn resolvers(&self, t: &Ticket) -> Vec<String> {
        match self.group_of(t).map(|g| g.recipients()) {
            Some(to) if !to.is_empty() => to,
            _ => self.agents(),
        }
    }

    /// The people an assignee stands for: a group code is its readers, an address itself.
    pub fn readers_of(&self, assignee: &str) -> Vec<String> {
        match self.directory.group(assignee) {
            Some(g) if !assignee.contains('@') => {
                let to = g.recipients();
                if to.is_empty() {
                    self.agents()
                } else {
                    to
                }
            }
            _ => vec![assignee.to_owned()],
        }
    }

    /// Whoever works the ticket: its assignee (a group's readers), else its resolvers.
    pub fn responsible(&self, t: &Ticket) -> Vec<String> {
        match t.assignee.as_deref() {
            Some(a) => self.readers_of(a),
            None => self.resolvers(t),
        }
    }
}

/// A ticket as the procedure sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub number: TicketNumber,
    pub status: Status,
    pub close_reason: Option<CloseReason>,
    pub subject: String,
    pub requester: String,
    pub requester_name: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub assignee: Option<String>,
    /// Request fields as the requester named them.
    pub fields: BTreeMap<String, String>,
    pub attachments: usize,
    pub change_id: Option<String>,
    pub resolution: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub survey: Option<(u8, String)>,
    pub sla: SlaClock,
    pub approval: Option<aprobacion::Approval>,
}

impl Ticket {
    pub fn field(&self, name: &str) -> Option<&str> {
        let key = field_key(name);
        self.fields
            .iter()
            .find(|(k, v)| field_key(k) == key && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Adds fields from a new mail; a later non-empty value replaces an earlier one.
    pub fn merge_fields<'a>(&mut self, new: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (name, value) in new {
            let key = field_key(name);
            let existing = self.fields.keys().find(|k| field_key(k) == key).cloned();
            match existing {
                Some(k) if value.trim().is_empty() => {
                    let _ = k;
                }
                Some(k) => {
                    self.fields.insert(k, value.trim().to_owned());
                }
                None => {
                    self.fields
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
    }
}

/// What arrived by mail, already reduced to what its author wrote (quotes and signature cut).
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    pub from: String,
    pub from_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub attachments: usize,
}

/// Stored as `timers.kind`, by these names (Spanish, the procedure's words).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumIter,
    strum::EnumString,
    strum::IntoStaticStr,
)]
pub enum TimerKind {
    /// Activity 7: the user's 3 business days to complete the request.
    #[strum(serialize = "pendiente_usuario")]
    PendingUser,
    /// Activity 18: a resolved ticket closes itself.
    #[strum(serialize = "autocierre")]
    AutoClose,
    /// The next SLA threshold; kept in step with the clock by the adapter.
    #[strum(serialize = "sla")]
    Sla,
    #[strum(serialize = "aprobacion_recordatorio")]
    ApprovalReminder,
    #[strum(serialize = "aprobacion_vencida")]
    ApprovalOverdue,
}

super::stored_words!(TimerKind, "The stored name: `pendiente_usuario`.");

#[derive(Debug, Clone, PartialEq)]
pub struct MailOut {
    /// Stored as the message kind, e.g. `informacion_faltante`.
    pub kind: MailKind,
    pub template: Template,
    pub to: Vec<String>,
    /// Template data beyond the ticket basics the adapter always adds.
    pub data: serde_json::Value,
    pub activity: u8,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Mail(MailOut),
    Event {
        activity: Option<u8>,
        actor: String,
        kind: EventKind,
        description: String,
    },
    SetTimer {
        kind: TimerKind,
        due: DateTime<Utc>,
    },
    /// Mail the approval request to each recipient, each with its own secret token (the
    /// adapter makes the tokens: randomness is I/O).
    RequestApproval {
        recipients: Vec<String>,
        reminder: bool,
    },
    ClearTimer(TimerKind),
    /// The approval was decided or cancelled: every approval token of the ticket dies.
    SpendApprovalTokens,
    /// Activity 2 (`#incidente`): the request becomes an incident `INC-m` (the adapter
    /// numbers it); its requester is told, and the incident reaches `[incidents] address`, else
    /// the agents.
    OpenIncident {
        reason: String,
        by: String,
    },
}

/// A ticket's new state and the side effects that go with it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub ticket: Ticket,
    pub effects: Vec<Effect>,
}

impl Plan {
    pub fn new(ticket: Ticket) -> Plan {
        Plan {
            ticket,
            effects: Vec::new(),
        }
    }

    pub fn event(
        &mut self,
        activity: Option<u8>,
        actor: &str,
        kind: EventKind,
        description: impl Into<String>,
    ) {
        self.effects.push(Effect::Event {
            activity,
            actor: actor.to_owned(),
            kind,
            description: description.into(),
        });
    }

    pub fn mail(&mut self, m: MailOut) {
        self.effects.push(Effect::Mail(m));
    }

    pub fn timer(&mut self, kind: TimerKind, due: DateTime<Utc>) {
        self.effects.push(Effect::SetTimer { kind, due });
    }

    pub fn clear_timer(&mut self, kind: TimerKind) {
        self.effects.push(Effect::ClearTimer(kind));
    }

    /// Every transition is recorded with the activity that caused it.
    pub fn set_status(&mut self, status: Status, activity: u8, actor: &str) {
        let from = self.ticket.status;
        if from == status {
            return;
        }
        self.ticket.status = status;
        self.event(
            Some(activity),
            actor,
            EventKind::Estado,
            format!("Estado: {} → {}", from.label(), status.label()),
        );
    }

    /// Activity 8/15/16/18 endings: the clock stops for good and nothing stays due.
    pub fn close(&mut self, reason: CloseReason, activity: u8, actor: &str, ctx: &Ctx<'_>) {
        self.ticket.sla.pause(ctx.calendar, ctx.now);
        self.ticket.close_reason = Some(reason);
        self.ticket.closed_at = Some(ctx.now);
        self.set_status(Status::Cerrado, activity, actor);
        for k in [
            TimerKind::PendingUser,
            TimerKind::AutoClose,
            TimerKind::ApprovalReminder,
            TimerKind::ApprovalOverdue,
        ] {
            self.clear_timer(k);
        }
        // A closed request waits on nobody: its approval leaves the digest and the panel, and
        // an answer that arrives later finds nothing to decide.
        if let Some(a) = self.ticket.approval.as_mut().filter(|a| a.is_open()) {
            a.status = aprobacion::ApprovalStatus::Cancelled;
            self.event(
                Some(activity),
                actor,
                EventKind::AprobacionCancelada,
                "Aprobación pendiente anulada al cerrar el requerimiento",
            );
            self.effects.push(Effect::SpendApprovalTokens);
        }
    }

    pub fn mails(&self) -> impl Iterator<Item = &MailOut> {
        self.effects.iter().filter_map(|e| match e {
            Effect::Mail(m) => Some(m),
            _ => None,
        })
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
