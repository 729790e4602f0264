//! SLA escalation (section 4 of the procedure): alerts from the notification address as a
//! request's resolution time runs out — 50 % to the specialist and coordinator, 75 % adding
//! the subdirector, 100 % adding the director. One mail per threshold per ticket.

use super::{Ctx, MailOut, Plan, Ticket};
use crate::domain::directory::Role;
use crate::domain::es_co;
use crate::domain::sla::THRESHOLDS;
use chrono::{DateTime, Utc};
use serde_json::json;

/// A threshold that falls due this long before the sweep sees it is reported as late.
const LATE_AFTER_SECS: i64 = 300;

/// Recipients for threshold `tier`: by the assignee's office in the directory, else config.
pub fn recipients(t: &Ticket, tier: usize, ctx: &Ctx<'_>) -> Vec<String> {
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
    let mut out = assigned;
    out.extend(by_role(Role::Coordinador, &ctx.policy.coordinator));
    if tier >= 1 {
        out.extend(by_role(Role::Subdirector, &ctx.policy.subdirector));
    }
    if tier >= 2 {
        out.extend(by_role(Role::Director, &ctx.policy.director));
    }
    out.sort();
    out.dedup();
    out
}

/// The SLA timer fired (`due` is when it was due): alert every threshold crossed, once.
pub fn on_sla_timer(t: Ticket, due: DateTime<Utc>, ctx: &Ctx<'_>) -> Plan {
    let mut plan = Plan::new(t);
    if !plan.ticket.status.is_open() {
        return plan;
    }
    let late = (ctx.now - due).num_seconds() > LATE_AFTER_SECS;
    for tier in plan.ticket.sla.crossed(ctx.calendar, ctx.now) {
        let pct = THRESHOLDS[tier];
        let to = recipients(&plan.ticket, tier, ctx);
        let used = plan.ticket.sla.used_at(ctx.calendar, ctx.now);
        let deadline = plan.ticket.sla.deadline(ctx.calendar);
        plan.ticket.sla.alerts_sent = (tier + 1) as u8;
        plan.event(
            None,
            "sistema",
            "alerta_sla",
            format!(
                "Alerta de vencimiento al {pct} % enviada a {}",
                to.join(", ")
            ),
        );
        if to.is_empty() {
            continue;
        }
        plan.mail(MailOut {
            kind: "alerta_sla",
            template: "alerta_sla",
            to,
            data: json!({
                "percent": pct,
                "used_hours": es_co::decimal(used as f64 / 3600.0, 1),
                "target_hours": es_co::decimal(plan.ticket.sla.target_secs as f64 / 3600.0, 1),
                "due_at": deadline.map(|d| ctx.display(d)),
                "late": late,
                "reached_at": ctx.display(due),
                "assignee": plan.ticket.assignee,
            }),
            activity: 13,
            description: format!("Alerta de vencimiento al {pct} %"),
        });
    }
    plan
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
        assert_eq!(late.mails().count(), 2);
        assert!(late.mails().all(|m| m.data["late"] == true));
    }
}
