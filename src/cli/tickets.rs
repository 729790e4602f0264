//! `mesayuda tickets list|show`: what agents and ops read; JSON for scripts.

use super::table::Table;
use super::{calendar_tz, open_db, CliError, TicketsCommand};
use crate::config::Config;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::sla::THRESHOLDS;
use crate::domain::ticket::TicketNumber;
use crate::store::{events, from_unix, incidents, messages, tickets};
use serde_json::{json, Value};

pub async fn run(config: Config, cmd: TicketsCommand) -> Result<(), CliError> {
    let tz = calendar_tz(&config)?;
    let db = open_db(&config).await?;
    match cmd {
        TicketsCommand::List { status, kind, json } => {
            list(&db, &tz, status.as_deref(), kind.as_deref(), json).await
        }
        TicketsCommand::Show { id, json } => show(&config, &db, &tz, &id, json).await,
    }
}

/// A stored instant (Unix seconds) as the CLI's JSON writes it.
fn rfc3339(t: i64, tz: &chrono_tz::Tz) -> String {
    crate::clock::cli_rfc3339(from_unix(t), tz)
}

fn summary(t: &tickets::TicketRow, tz: &chrono_tz::Tz) -> Value {
    json!({
        "id": t.number().to_string(),
        "kind": "requerimiento",
        "number": t.id,
        "status": t.status,
        "close_reason": t.close_reason,
        "subject": t.subject,
        "requester": t.requester,
        "requester_name": t.requester_name,
        "created_at": rfc3339(t.created_at, tz),
        "updated_at": rfc3339(t.updated_at, tz),
        "service": t.service,
        "category": t.category,
        "priority": t.priority,
        "assignee": t.assignee,
    })
}

/// What `tickets show --json` adds: fields, survey, SLA clock, change and resolution.
fn detail(t: &tickets::TicketRow, cal: &BusinessCalendar) -> Value {
    let tz = cal.timezone();
    let sla = t.sla();
    let fields: Value = serde_json::from_str(&t.fields_json).unwrap_or_else(|_| json!({}));
    json!({
        "fields": fields,
        "survey": t.survey_rating.map(|r| json!({"rating": r, "comment": t.survey_comment})),
        "change_id": t.change_id,
        "resolution": t.resolution,
        "related_ticket": t.related_ticket.map(|r| TicketNumber(r).to_string()),
        "closed_at": t.closed_at.map(|c| rfc3339(c, &tz)),
        "sla": {
            "target_business_hours": sla.target_secs as f64 / 3600.0,
            "used_business_seconds": sla.used_at(cal, chrono::Utc::now()),
            "paused": sla.is_paused(),
            "paused_business_seconds": sla.paused_at(cal, chrono::Utc::now()),
            "due_at": sla.deadline(cal).map(|d| crate::clock::cli_rfc3339(d, &tz)),
            "alerts_sent": THRESHOLDS.iter().take(usize::from(sla.alerts_sent)).collect::<Vec<_>>(),
            "thresholds": (0..THRESHOLDS.len()).map(|i| json!({
                "percent": THRESHOLDS[i],
                "due_at": sla.due_at(cal, i).map(|d| crate::clock::cli_rfc3339(d, &tz)),
            })).collect::<Vec<_>>(),
        },
    })
}

/// An incident as `tickets list` shows it. Its `status` says where it is handled: by the
/// incident procedure, or continued as a request (`#requerimiento`).
fn incident_summary(i: &incidents::IncidentRow, tz: &chrono_tz::Tz) -> Value {
    json!({
        "id": i.label(),
        "kind": "incidente",
        "number": i.id,
        "status": if i.to_ticket.is_some() { "convertido_requerimiento" } else { "gestion_incidentes" },
        "subject": i.subject,
        "requester": i.requester,
        "created_at": rfc3339(i.created_at, tz),
        "from_ticket": i.from_ticket.map(|n| TicketNumber(n).to_string()),
        "reason": i.reason,
        "to_ticket": i.to_ticket.map(|n| TicketNumber(n).to_string()),
    })
}

async fn list(
    db: &crate::store::Db,
    tz: &chrono_tz::Tz,
    status: Option<&str>,
    kind: Option<&str>,
    as_json: bool,
) -> Result<(), CliError> {
    let mut conn = db.pool.acquire().await?;
    // (created_at, JSON, table cells), both kinds in one list, oldest first.
    let mut rows: Vec<(i64, Value, Vec<String>)> = Vec::new();
    if kind != Some("incidente") {
        for t in tickets::list(&mut conn, status).await? {
            let cells = vec![
                t.number().to_string(),
                t.status.clone(),
                crate::clock::cli_time(from_unix(t.created_at), tz),
                t.requester.clone(),
                t.subject.clone(),
            ];
            rows.push((t.created_at, summary(&t, tz), cells));
        }
    }
    // Incidents have no request status: a status filter lists requests only.
    if kind != Some("requerimiento") && status.is_none() {
        for i in incidents::list(&mut conn).await? {
            let v = incident_summary(&i, tz);
            let cells = vec![
                i.label(),
                v["status"].as_str().unwrap_or_default().to_owned(),
                crate::clock::cli_time(from_unix(i.created_at), tz),
                i.requester.clone(),
                i.subject.clone(),
            ];
            rows.push((i.created_at, v, cells));
        }
    }
    rows.sort_by_key(|(at, _, _)| *at);
    if as_json {
        let all: Vec<Value> = rows.into_iter().map(|(_, v, _)| v).collect();
        println!("{}", Value::Array(all));
        return Ok(());
    }
    if rows.is_empty() {
        println!("No hay casos.");
        return Ok(());
    }
    let mut table = Table::new(&["CASO", "ESTADO", "CREADO", "SOLICITANTE", "ASUNTO"]);
    for (_, _, cells) in rows {
        table.row(cells);
    }
    table.print();
    Ok(())
}

/// `tickets show INC-n`: the incident, where it came from and went, and its report.
async fn show_incident(
    db: &crate::store::Db,
    tz: &chrono_tz::Tz,
    id: i64,
    as_json: bool,
) -> Result<(), CliError> {
    let mut conn = db.begin_snapshot().await?;
    let Some(i) = incidents::get(&mut conn, id).await? else {
        return Err(CliError::not_found(format_args!("no incident INC-{id}")));
    };
    let report = messages::inbound_by_message_id(&mut conn, &i.message_id)
        .await?
        .map(|(_, _, text)| text);
    let mut v = incident_summary(&i, tz);
    if as_json {
        v["message_id"] = json!(i.message_id);
        v["report_text"] = json!(report);
        println!("{v}");
        return Ok(());
    }
    println!("{}  {}", i.label(), i.subject);
    println!(
        "Estado:         {}",
        v["status"].as_str().unwrap_or_default()
    );
    println!("Reportado por:  {}", i.requester);
    println!(
        "Registrado:     {}",
        crate::clock::cli_time(from_unix(i.created_at), tz)
    );
    if let Some(from) = v["from_ticket"].as_str() {
        println!(
            "Viene de:       {from} ({})",
            i.reason.as_deref().unwrap_or("-")
        );
    }
    if let Some(to) = v["to_ticket"].as_str() {
        println!("Continúa como:  {to}");
    }
    if let Some(text) = report {
        println!(
            "\nReporte:\n  {}",
            text.lines().collect::<Vec<_>>().join("\n  ")
        );
    }
    Ok(())
}

async fn show(
    config: &Config,
    db: &crate::store::Db,
    tz: &chrono_tz::Tz,
    id: &str,
    as_json: bool,
) -> Result<(), CliError> {
    if let Ok(r) = id.parse::<crate::domain::text::TicketRef>() {
        if r.kind == crate::domain::text::TicketKind::Inc {
            return show_incident(db, tz, r.number, as_json).await;
        }
    }
    let n: TicketNumber = id.parse().map_err(|_| {
        CliError::usage(format_args!(
            "`{id}` is not a ticket number (e.g. REQ-12 or INC-3)"
        ))
    })?;
    let mut conn = db.begin_snapshot().await?;
    let Some(t) = tickets::get(&mut conn, n).await? else {
        return Err(CliError::not_found(format_args!("no request {n}")));
    };
    let msgs = messages::for_ticket(&mut conn, n).await?;
    let atts = messages::attachments_for_ticket(&mut conn, n).await?;
    let approval = crate::store::approvals::load(&mut conn, n).await?;
    let evs = events::for_ticket(&mut conn, n).await?;
    let cal = BusinessCalendar::new(&config.calendar).unwrap_or_else(|_| {
        BusinessCalendar::new(&Default::default()).expect("default calendar is valid")
    });
    if as_json {
        let mut v = summary(&t, tz);
        if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), detail(&t, &cal)) {
            obj.extend(extra);
        }
        v["approval"] = match &approval {
            None => Value::Null,
            Some(a) => json!({
                "kind": a.kind.as_str(),
                "approver": a.approver,
                "substitute": a.substitute,
                "status": a.status.as_str(),
                "decided_by": a.decided_by,
                "decided_at": a.decided_at.map(|d| crate::clock::cli_rfc3339(d, tz)),
                "requested_at": a.requested_at.map(|d| crate::clock::cli_rfc3339(d, tz)),
                "reason": a.reason,
            }),
        };
        v["messages"] = msgs
            .iter()
            .map(|m| {
                json!({
                    "from": m.from_addr, "to": m.to_addrs, "at": rfc3339(m.at, tz),
                    "direction": m.direction, "kind": m.kind, "subject": m.subject,
                    "body_text": m.body_text, "message_id": m.message_id,
                })
            })
            .collect();
        v["attachments"] = atts
            .iter()
            .map(|a| {
                json!({
                    "filename": a.filename, "content_type": a.content_type,
                    "size": a.size, "sha256": a.sha256,
                })
            })
            .collect();
        v["events"] = evs
            .iter()
            .map(|e| {
                json!({
                    "at": rfc3339(e.at, tz), "actor": e.actor, "activity": e.activity,
                    "kind": e.kind, "description": e.description,
                })
            })
            .collect();
        println!("{v}");
        return Ok(());
    }
    println!("{n}  {}", t.subject);
    println!("Estado:         {}", t.status);
    if let Some(r) = &t.close_reason {
        println!("Motivo cierre:  {r}");
    }
    println!("Solicitante:    {}", t.requester);
    if let Some(s) = &t.service {
        println!(
            "Servicio:       {s} ({})",
            t.category.as_deref().unwrap_or("-")
        );
    }
    if let Some(a) = &t.assignee {
        println!("Asignado a:     {a}");
    }
    println!(
        "Registrado:     {}",
        crate::clock::cli_time(from_unix(t.created_at), tz)
    );
    if !atts.is_empty() {
        println!("\nAdjuntos:");
        for a in &atts {
            println!("  {}  ({}, {} bytes)", a.filename, a.content_type, a.size);
        }
    }
    println!("\nMensajes:");
    for m in &msgs {
        let arrow = if m.direction == "in" { "←" } else { "→" };
        println!(
            "  {arrow} {}  {}  {}\n    {}",
            crate::clock::cli_time(from_unix(m.at), tz),
            if m.direction == "in" {
                &m.from_addr
            } else {
                &m.to_addrs
            },
            m.subject,
            m.body_text
                .lines()
                .take(6)
                .collect::<Vec<_>>()
                .join("\n    ")
        );
    }
    println!("\nHistorial:");
    for e in &evs {
        let act = e
            .activity
            .map(|a| format!("[act. {a}] "))
            .unwrap_or_default();
        println!(
            "  {}  {act}{} ({})",
            crate::clock::cli_time(from_unix(e.at), tz),
            e.description,
            e.actor
        );
    }
    Ok(())
}
