//! `mesayuda sla report` (open tickets against their clock) and `mesayuda sla compliance`
//! (closed tickets against their target, per service and overall).

use super::table::{Align, Table};
use super::{open_db, CliError, SlaCommand};
use crate::config::Config;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::compliance::{self, Period};
use crate::domain::es_co;
use crate::store::{tickets, Db};
use chrono::Utc;
use serde_json::json;

pub async fn run(config: Config, cmd: SlaCommand) -> Result<(), CliError> {
    let cal = BusinessCalendar::new(&config.calendar).map_err(CliError::calendar)?;
    let db = open_db(&config).await?;
    match cmd {
        SlaCommand::Report { json } => report(&db, &cal, json).await,
        SlaCommand::Compliance {
            from,
            to,
            json,
            csv,
        } => {
            let bounds = Period::parse(&from, &to).and_then(|p| {
                p.bounds(&cal.timezone())
                    .ok_or("Esas fechas no existen en la zona horaria del calendario.")
            });
            // Not `why`: that is the panel's Spanish sentence; stderr is English.
            let (from, to) = bounds.map_err(|_why| {
                CliError::usage(
                    "--from and --to must be dates written YYYY-MM-DD, the first not after the second",
                )
            })?;
            compliance_report(&db, from, to, json, csv).await
        }
    }
}

async fn report(db: &Db, cal: &BusinessCalendar, as_json: bool) -> Result<(), CliError> {
    let mut conn = db.pool.acquire().await?;
    let now = Utc::now();
    let rows: Vec<_> = tickets::list(&mut conn, None)
        .await?
        .into_iter()
        .filter(|t| t.status != "cerrado")
        .collect();
    let lines: Vec<_> = rows
        .iter()
        .map(|t| {
            let sla = t.sla();
            let used = sla.used_at(cal, now);
            let pct = if sla.target_secs > 0 {
                used as f64 * 100.0 / sla.target_secs as f64
            } else {
                0.0
            };
            json!({
                "id": t.number().to_string(),
                "service": t.service,
                "priority": t.priority,
                "status": t.status,
                "used_business_seconds": used,
                "target_business_hours": sla.target_secs as f64 / 3600.0,
                "percent_used": (pct * 10.0).round() / 10.0,
                "paused": sla.is_paused(),
                "due_at": sla.deadline(cal).map(|d| crate::clock::cli_rfc3339(d, &cal.timezone())),
            })
        })
        .collect();
    if as_json {
        println!("{}", serde_json::Value::Array(lines));
        return Ok(());
    }
    // Hours with a decimal comma and the due time as Colombians read them; the target is the
    // one the requester was told in the acknowledgement.
    let tz = cal.timezone();
    let mut table = Table::new(&[
        "CASO",
        "SERVICIO",
        "PRIORIDAD",
        "ESTADO",
        "USADO (H)",
        "META (H)",
        "% USADO",
        "VENCE",
    ])
    .align(&[
        Align::Left,
        Align::Left,
        Align::Left,
        Align::Left,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Left,
    ]);
    for l in &lines {
        table.row(vec![
            l["id"].as_str().unwrap_or("").to_owned(),
            l["service"].as_str().unwrap_or("-").to_owned(),
            l["priority"].as_str().unwrap_or("por definir").to_owned(),
            l["status"].as_str().unwrap_or("").to_owned(),
            es_co::decimal(
                l["used_business_seconds"].as_i64().unwrap_or(0) as f64 / 3600.0,
                1,
            ),
            es_co::decimal(l["target_business_hours"].as_f64().unwrap_or(0.0), 1),
            format!(
                "{} %",
                es_co::decimal(l["percent_used"].as_f64().unwrap_or(0.0), 1)
            ),
            if l["paused"] == true {
                "(detenido)".to_owned()
            } else {
                l["due_at"]
                    .as_str()
                    .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                    .map(|d| crate::clock::cli_time(d.with_timezone(&Utc), &tz))
                    .unwrap_or_else(|| "-".into())
            },
        ]);
    }
    if lines.is_empty() {
        println!("No hay casos abiertos.");
    } else {
        table.print();
    }
    Ok(())
}

async fn compliance_report(
    db: &Db,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
    as_json: bool,
    csv: bool,
) -> Result<(), CliError> {
    let mut conn = db.pool.acquire().await?;
    let r = crate::workflow::monthly_report::report_between(&mut conn, from, to).await?;
    if as_json {
        println!("{}", serde_json::to_string(&r).unwrap_or_default());
        return Ok(());
    }
    let all = r.services.iter().chain(std::iter::once(&r.overall));
    if csv {
        print!("{}", compliance::csv(&r));
        return Ok(());
    }
    let pct = |n: usize, p: f64| format!("{n} ({} %)", es_co::decimal(p, 1));
    let mut table = Table::new(&[
        "SERVICIO",
        "CERRADOS",
        "ATENDIDOS",
        "DENTRO",
        "FUERA",
        "MEDIANA (H)",
        "P90 (H)",
        "ENCUESTAS",
        "PROMEDIO",
    ])
    .align(&[
        Align::Left,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
    ]);
    for l in all {
        table.row(vec![
            l.service.clone(),
            l.closed.to_string(),
            l.attended.to_string(),
            pct(l.within_target, l.within_pct),
            pct(l.outside_target, l.outside_pct),
            es_co::decimal(l.median_business_hours, 1),
            es_co::decimal(l.p90_business_hours, 1),
            l.survey_answers.to_string(),
            l.average_rating
                .map(|a| es_co::decimal(a, 1))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    table.print();
    Ok(())
}
