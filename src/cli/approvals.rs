//! `mesayuda approvals pending`: what each approver still has to decide.

use super::table::Table;
use super::{calendar_tz, open_db, ApprovalsCommand, CliError};
use crate::config::Config;
use crate::domain::ticket::TicketNumber;
use crate::store::{approvals, from_unix};
use serde_json::json;

pub async fn run(config: Config, cmd: ApprovalsCommand) -> Result<(), CliError> {
    let ApprovalsCommand::Pending { approver, json } = cmd;
    let tz = calendar_tz(&config)?;
    let db = open_db(&config).await?;
    let mut conn = db.pool.acquire().await?;
    let rows = approvals::pending(&mut conn, approver.as_deref()).await?;
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "id": TicketNumber(r.ticket_id).to_string(),
                    "subject": r.subject,
                    "requester": r.requester,
                    "service": r.service,
                    "approver": r.approver,
                    "substitute": r.substitute,
                    "substitute_notified": r.substitute_notified != 0,
                    "requested_at": r.requested_at.map(|t| crate::clock::cli_rfc3339(from_unix(t), &tz)),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    if rows.is_empty() {
        println!("No hay aprobaciones pendientes.");
        return Ok(());
    }
    let mut table = Table::new(&["CASO", "APROBADOR", "SOLICITADA", "ASUNTO"]);
    for r in &rows {
        table.row(vec![
            TicketNumber(r.ticket_id).to_string(),
            r.approver.clone().unwrap_or_else(|| "-".into()),
            r.requested_at
                .map(|t| crate::clock::cli_time(from_unix(t), &tz))
                .unwrap_or_else(|| "-".into()),
            r.subject.clone(),
        ]);
    }
    table.print();
    Ok(())
}
