//! SLA escalation (section 4 of the procedure): alerts from the notification address as a
//! request's resolution time runs out — 50 % to the specialist and coordinator, 75 % adding
//! the subdirector, 100 % adding the director. One mail per threshold per ticket.

use super::{Ctx, MailOut, Plan, Ticket};
use crate::domain::directory::Role;
use crate::domain::es_co;
use crate::domain::event_kind::EventKind;
use crate::domain::mail_kind::MailKind;
use crate::domain::sla::THRESHOLDS;
use crate::domain::template::Template;
use crate::domain::text::canonical_address;
use chrono::{DateTime, Utc};
use serde_json::json;

/// A threshold that falls due this long before the sweep sees it is reported as late.
const LATE_AFTER_SECS: i64 = 300;

/// Why a reader receives an SLA alert: their row in the procedure's table (section 4). The
/// alert says so, and what is expected of them, so nobody has to guess why it reached them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertRole {
    /// The assignee (or a reader of the assigned group): the specialist of the table.
    Assigned,
    Coordinator,
    Subdirector,
    Director,
}

impl AlertRole {
    /// Why this reader gets the alert, completing "Usted recibe esta alerta porque …".
    pub fn reason(self, assigned_to_group: bool) -> &'static str {
        match (self, assigned_to_group) {
            (AlertRole::Assigned, false) => "es el especialista asignado al requerimiento",
            (AlertRole::Assigned, true) => "integra el grupo asignado al requerimiento",
            (AlertRole::Coordinator, _) => "es el coordinador(a) del especialista asignado",
            (AlertRole::Subdirector, _) => {
                "es el subdirector(a): la alerta del 75 % llega a la subdirección"
            }
            (AlertRole::Director, _) => {
                "es el director(a): la alerta del 100 % llega a la dirección"
            }
        }
    }

    /// What the procedure expects of this reader at threshold `tier`.
    pub fn expected(self, tier: usize, assigned: bool) -> &'static str {
        match (self, tier) {
            (AlertRole::Assigned, 0) => {
                "Atienda el requerimiento para resolverlo antes del vencimiento (#resolver); si \
                 depende del usuario, pídale la información con #pendiente."
            }
            (AlertRole::Assigned, 1) => {
                "Priorice este requerimiento: queda la cuarta parte del tiempo. Resuélvalo \
                 (#resolver) o registre qué lo impide con #nota, que queda en el historial \
                 que ve su coordinador."
            }
            (AlertRole::Assigned, _) => {
                "El tiempo de atención se agotó: resuélvalo cuanto antes e informe al usuario y \
                 a su coordinador el estado."
            }
            (AlertRole::Coordinator, _) if !assigned => {
                "El requerimiento no tiene responsable: asígnelo con #asignar correo@… o un \
                 grupo."
            }
            (AlertRole::Coordinator, _) => {
                "Verifique con el especialista que el requerimiento avance; reasígnelo con \
                 #asignar si hace falta."
            }
            (AlertRole::Subdirector, _) => {
                "Haga seguimiento con la coordinación para que el requerimiento se resuelva \
                 antes de vencer."
            }
            (AlertRole::Director, _) => {
                "Acuerde con la subdirección y la coordinación cómo atenderlo y qué informar \
                 al usuario."
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AlertRole::Assigned => "especialista asignado",
            AlertRole::Coordinator => "coordinador(a)",
            AlertRole::Subdirector => "subdirector(a)",
            AlertRole::Director => "director(a)",
        }
    }
}

/// Who receives threshold `tier`, as the procedure's table says (section 4).
pub fn chain(tier: usize) -> &'static str {
    match tier {
        0 => "especialista asignado y coordinador",
        1 => "especialista asignado, coordinador y subdirector",
        _ => "especialista asignado, coordinador, subdirector y director",
    }
}

/// Readers of threshold `tier` with why each gets it: by the assignee's office in the
/// directory, else config. Sorted by address; someone holding two rows of the table (a
/// coordinator who took the ticket) is one reader with both roles.
pub fn readers(t: &Ticket, tier: usize, ctx: &Ctx<'_>) -> Vec<(String, Vec<AlertRole>)> {
    // A ticket assigned to a group alerts the group's readers; their office is its first
    // member's.
    let assigned: Vec<String> = t
        .assignee
        .as_deref()
        .map(|a| ctx.readers_of(a))
        .unwrap_or_default();
    let office = t
        .assignee
        .as_deref()
        .and_then(|a| {
            ctx.directory
                .group(a)
                .and_then(|g| g.members.first())
                .map(String::as_str)
                .or(Some(a))
        })
        .and_then(|a| ctx.directory.person(a))
        .map(|p| p.office.clone());
    let by_role = |role: Role, fallback: &Option<String>| {
        office
            .as_deref()
            .and_then(|o| ctx.directory.in_office(o, role))
            // Offices report upwards to a different office; the directory's holder of the
            // role is the next best choice, config the last.
            .or_else(|| ctx.directory.with_role(role).first().copied())
            .map(|p| p.email.clone())
            .or_else(|| fallback.clone())
    };
    let mut all: Vec<(String, AlertRole)> = assigned
        .into_iter()
        .map(|a| (a, AlertRole::Assigned))
        .collect();
    let mut add = |who: Option<String>, role| all.extend(who.map(|w| (w, role)));
    add(
        by_role(Role::Coordinador, &ctx.policy.coordinator),
        AlertRole::Coordinator,
    );
    if tier >= 1 {
        add(
            by_role(Role::Subdirector, &ctx.policy.subdirector),
            AlertRole::Subdirector,
        );
    }
    if tier >= 2 {
        add(
            by_role(Role::Director, &ctx.policy.director),
            AlertRole::Director,
        );
    }
    let mut out: Vec<(String, Vec<AlertRole>)> = Vec::new();
    for (who, role) in all {
        let key = canonical_address(&who);
        match out.iter_mut().find(|(w, _)| canonical_address(w) == key) {
            Some((_, roles)) if !roles.contains(&role) => roles.push(role),
            Some(_) => {}
            None => out.push((who, vec![role])),
        }
    }
    out.sort();
    out
}

/// Recipients for threshold `tier` (see [`readers`]).
pub fn recipients(t: &Ticket, tier: usize, ctx: &Ctx<'_>) -> Vec<String> {
    readers(t, tier, ctx).into_iter().map(|(w, _)| w).collect()
}

/// The SLA timer fired (`due` is when it was due): alert every threshold crossed, once. Each
/// reader gets a mail of their own (`apply` gives staff one each anyway, for their reply
/// token) saying why it reached them and what is expected of them.
pub fn on_sla_timer(t: Ticket, due: DateTime<Utc>, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    if !plan.ticket.status.is_open() {
        return plan;
    }
    for tier in plan.ticket.sla.crossed(ctx.calendar, ctx.now) {
        let pct = THRESHOLDS[tier];
        let readers = readers(&plan.ticket, tier, ctx);
        let used = plan.ticket.sla.used_at(ctx.calendar, ctx.now);
        let deadline = plan.ticket.sla.deadline(ctx.calendar);
        // Each threshold's own time: a sweep that finds 75 % and 100 % crossed at once (the
        // daemon was down) must not date them all at the 50 % timer.
        let reached = plan
            .ticket
            .sla
            .due_at(ctx.calendar, tier)
            .unwrap_or(due)
            .min(ctx.now);
        let late = (ctx.now - reached).num_seconds() > LATE_AFTER_SECS;
        plan.ticket.sla.alerts_sent = (tier + 1) as u8;
        let to: Vec<String> = readers.iter().map(|(w, _)| w.clone()).collect();
        plan.event(
            None,
            "sistema",
            EventKind::AlertaSla,
            format!(
                "Alerta de vencimiento al {pct} % enviada a {}",
                to.join(", ")
            ),
        );
        let assignee = plan.ticket.assignee.clone();
        let to_group = assignee.as_deref().is_some_and(|a| !a.contains('@'));
        let everyone: Vec<_> = readers
            .iter()
            .map(|(w, roles)| {
                json!({
                    "name": ctx.directory.label(w),
                    "roles": roles_text(roles),
                })
            })
            .collect();
        for (reader, roles) in &readers {
            plan.mail(MailOut {
                kind: MailKind::AlertaSla,
                template: Template::AlertaSla,
                to: vec![reader.clone()],
                data: json!({
                    "percent": pct,
                    "chain": chain(tier),
                    "reader_name": ctx.directory.name_or(reader, reader),
                    "reader_roles": roles_text(roles),
                    // Commands are for those who work tickets; a subdirector's or director's
                    // answer reaches whoever works it (as a third party's message).
                    "works_tickets": super::tramite::is_agent(reader, ctx),
                    "reasons": roles.iter().map(|r| r.reason(to_group)).collect::<Vec<_>>(),
                    "expected": roles.iter()
                        .map(|r| r.expected(tier, assignee.is_some()))
                        .collect::<Vec<_>>(),
                    "readers": everyone,
                    "used_hours": es_co::decimal(used as f64 / 3600.0, 1),
                    "target_hours": es_co::decimal(plan.ticket.sla.target_secs as f64 / 3600.0, 1),
                    "due_at": deadline.map(|d| ctx.display(d)),
                    "late": late,
                    "reached_at": ctx.display(reached),
                    "assignee": assignee,
                }),
                activity: 13,
                description: format!("Alerta de vencimiento al {pct} %"),
            });
        }
    }
    plan
}

fn roles_text(roles: &[AlertRole]) -> String {
    roles
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(" y ")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn recipients_grow_with_each_threshold_by_the_assignees_office() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Impresora",
            "Instalar impresora\nUbicación: Piso 3",
        );
        let mut t =
            super::super::registro::register(w.new_ticket(&mail), &mail, None, &w.ctx()).ticket;
        t.assignee = Some("especialista@example.test".into());
        let ctx = w.ctx();
        assert_eq!(
            recipients(&t, 0, &ctx),
            vec!["coordinador@example.test", "especialista@example.test"]
        );
        assert_eq!(recipients(&t, 1, &ctx).len(), 3);
        assert!(recipients(&t, 2, &ctx).contains(&"director@example.test".to_owned()));
    }

    #[test]
    fn one_alert_per_threshold_and_late_ones_say_so() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Impresora",
            "Instalar impresora\nUbicación: Piso 3",
        );
        let t = super::super::registro::register(w.new_ticket(&mail), &mail, None, &w.ctx()).ticket;
        let half = t.sla.next_alert(w.ctx().calendar).unwrap().1;
        let plan = on_sla_timer(t, half, &w.at(half));
        assert_eq!(plan.ticket.sla.alerts_sent, 1);
        let m: Vec<_> = plan.mails().collect();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].data["percent"], 50);
        assert_eq!(m[0].data["late"], false);
        // IMPRESORA: 8 h, half used, read with a decimal comma; the deadline in Colombian words.
        assert_eq!(
            (&m[0].data["used_hours"], &m[0].data["target_hours"]),
            (&json!("4,0"), &json!("8,0"))
        );
        let due = m[0].data["due_at"].as_str().unwrap();
        assert!(due.ends_with(" de 2026, 5:00 p. m."), "{due}");
        let again = on_sla_timer(plan.ticket.clone(), half, &w.at(half));
        assert_eq!(again.mails().count(), 0);
        let much_later = half + chrono::Duration::days(7);
        let late = on_sla_timer(plan.ticket, half, &w.at(much_later));
        // 75 % to coordinator and subdirector, 100 % adding the director: one mail each.
        assert_eq!(late.mails().count(), 5);
        assert!(late.mails().all(|m| m.data["late"] == true));
    }

    #[test]
    fn late_alerts_show_their_own_threshold_time_and_why_each_reader_gets_them() {
        let w = World::new();
        let mail = incoming(
            "ana@example.test",
            "Impresora",
            "Instalar impresora\nUbicación: Piso 3",
        );
        let mut t =
            super::super::registro::register(w.new_ticket(&mail), &mail, None, &w.ctx()).ticket;
        t.assignee = Some("especialista@example.test".into());
        let cal = w.ctx().calendar;
        let times: Vec<String> = (0..3)
            .map(|i| w.ctx().display(t.sla.due_at(cal, i).unwrap()))
            .collect();
        assert_eq!(
            times
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            3
        );
        let half = t.sla.due_at(cal, 0).unwrap();
        // The daemon was down: one sweep, a week later, finds all three crossed.
        let plan = on_sla_timer(t, half, &w.at(half + chrono::Duration::days(7)));
        for (tier, pct) in [50, 75, 100].into_iter().enumerate() {
            let mails: Vec<_> = plan.mails().filter(|m| m.data["percent"] == pct).collect();
            assert!(!mails.is_empty(), "{pct} %");
            assert!(
                mails
                    .iter()
                    .all(|m| m.data["reached_at"] == json!(times[tier])),
                "{pct} %: {:?} vs {}",
                mails[0].data["reached_at"],
                times[tier]
            );
        }
        let director: Vec<_> = plan
            .mails()
            .filter(|m| m.to == ["director@example.test"])
            .collect();
        assert_eq!(director.len(), 1, "the director only gets the 100 % alert");
        assert_eq!(director[0].data["reader_roles"], "director(a)");
        assert_eq!(
            director[0].data["works_tickets"], false,
            "no commands offered"
        );
        assert!(director[0].data["reasons"][0]
            .as_str()
            .unwrap()
            .contains("100 %"));
        let specialist = plan
            .mails()
            .find(|m| m.to == ["especialista@example.test"] && m.data["percent"] == 100)
            .unwrap();
        assert_eq!(specialist.data["reader_roles"], "especialista asignado");
        assert_eq!(specialist.data["works_tickets"], true);
        assert!(specialist.data["expected"][0]
            .as_str()
            .unwrap()
            .contains("resuélvalo"));
        assert_eq!(specialist.data["readers"].as_array().unwrap().len(), 4);
    }
}
