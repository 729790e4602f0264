//! What the procedure tests do again and again, once: read a ticket tag, wait for a mail or a
//! ticket state, count a ticket's events, and answer as an agent from their own notice.

use super::mail::{self, Draft};
use super::{eventually, World};
use chrono::{DateTime, Utc};
use mesayuda::mail::inbound::InboundMail;
use serde_json::Value;
use std::time::Duration;

/// How long a user waits for the help desk before a test calls it broken.
pub const WAIT: Duration = Duration::from_secs(25);

/// The ticket a mail names in its subject (`REQ-1`, `INC-2`).
pub fn tag(m: &InboundMail) -> Option<String> {
    mesayuda::domain::text::find_ticket_ref(&m.subject).map(|r| r.to_string())
}

/// The `[APR:…]` token of an approval request's subject.
pub fn token_of(m: &InboundMail) -> String {
    mesayuda::domain::text::subject_token(&m.subject).expect("approval subject carries a token")
}

/// The bare address of `Name <address>`.
pub fn bare(who: &str) -> &str {
    who.rsplit('<').next().unwrap_or(who).trim_end_matches('>')
}

/// Waits until `who`'s inbox holds a mail matching `pred`.
pub async fn inbox_with(
    w: &World,
    who: &str,
    what: &str,
    pred: impl Fn(&InboundMail) -> bool,
) -> InboundMail {
    mail::wait_for(w.mail.imap_port, bare(who), WAIT, what, pred).await
}

/// How many events of `kind` a ticket (as `tickets show --json` prints it) has.
pub fn events(t: &Value, kind: &str) -> usize {
    t["events"]
        .as_array()
        .map(|e| e.iter().filter(|e| e["kind"] == kind).count())
        .unwrap_or(0)
}

/// Waits until ticket `id` satisfies `pred`; returns it.
pub async fn ticket_where(w: &World, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(WAIT, what, || async {
        let t = w.cli().ticket(id);
        pred(&t).then_some(t)
    })
    .await
}

/// The new-work notice `agent` received about ticket `id`.
pub async fn notice(w: &World, agent: &str, id: &str) -> InboundMail {
    inbox_with(w, agent, "new-work notice", |m| {
        m.subject.contains("Nueva solicitud") && tag(m).as_deref() == Some(id)
    })
    .await
}

/// An agent answers the notice they received about `id` (its Reply-To is their own).
pub async fn agent_reply(w: &World, agent: &str, id: &str, body: &str) {
    let n = notice(w, agent, id).await;
    mail::reply(w.mail.smtp_port, agent, &n, body).await;
}

/// `from` asks for something and waits for its acknowledgement (the first one naming
/// `subject`); returns the ticket id.
pub async fn request(w: &World, from: &str, subject: &str, body: &str) -> String {
    mail::send(w.mail.smtp_port, &Draft::new(from, subject, body)).await;
    let ack = inbox_with(w, from, "acknowledgement", |m| {
        m.subject.contains("Recibimos su solicitud") && m.subject.contains(subject)
    })
    .await;
    tag(&ack).expect("the acknowledgement names its ticket")
}

/// Every sweep once as if the clock read `now` (`mesayuda jobs run --now`).
pub fn jobs_at(w: &World, now: DateTime<Utc>) -> Value {
    w.cli()
        .json(&["jobs", "run", "--now", &now.to_rfc3339(), "--json"])
}

/// The default calendar's zone, as the daemon under test reads real time.
fn calendar() -> mesayuda::domain::calendar::BusinessCalendar {
    use mesayuda::domain::calendar::{BusinessCalendar, CalendarConfig};
    BusinessCalendar::new(&CalendarConfig::default()).expect("default calendar")
}

/// `hour`:00 of the first business day after today, in the calendar's zone.
pub fn next_business_morning(hour: u32) -> DateTime<Utc> {
    let cal = calendar();
    let mut day = Utc::now().with_timezone(&cal.timezone()).date_naive() + chrono::Days::new(1);
    while !cal.is_working_day(day) {
        day = day + chrono::Days::new(1);
    }
    day.and_hms_opt(hour, 0, 0)
        .and_then(|t| t.and_local_timezone(cal.timezone()).single())
        .expect("a morning hour exists once")
        .with_timezone(&Utc)
}

/// The shipped catalogue's printer request (`COMPLETE` in the procedure tests), as `tickets
/// show --json` prints it once at work: classified, its fields kept, its clock running, and
/// activities 1–4, 9 and 13 in its history.
pub fn assert_printer_request_at_work(t: &Value) {
    assert_eq!(t["status"], "trabajo_en_progreso", "{t}");
    assert_eq!(t["service"], "IMPRESORA");
    assert_eq!(t["category"].as_str().map(|c| !c.is_empty()), Some(true));
    assert_eq!(t["fields"]["Número de equipo"], "PC-0456");
    assert_eq!(t["sla"]["target_business_hours"], 8.0);
    assert_eq!(t["sla"]["paused"], false);
    let acts: Vec<i64> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["activity"].as_i64())
        .collect();
    for a in [1, 2, 3, 4, 9, 13] {
        assert!(
            acts.contains(&a),
            "activity {a} missing from history {acts:?}"
        );
    }
}
