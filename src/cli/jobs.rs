//! `mesayuda jobs run --now INSTANT`: every sweep once, as if the clock read INSTANT. Mail it
//! queues goes through the outbox; a running daemon sends it within seconds.

use super::{open_db, CliError, JobsCommand};
use crate::config::Config;
use crate::mail::outbound::Composer;
use crate::mail::templates::Templates;
use crate::workflow::notify::Mailer;
use crate::workflow::{sweep, Procedure};
use chrono::{DateTime, Utc};

/// The pieces a CLI command needs to run the procedure without the mail adapters.
pub(crate) fn procedure_parts(config: &Config) -> Result<(Mailer, Procedure), String> {
    if !config.has_smtp() {
        return Err(format!(
            "{}: smtp: missing: this command composes mail from smtp.from with replies to \
             smtp.reply_to; add the [smtp] section",
            config.source.display()
        ));
    }
    let templates = Templates::load(&config.paths.templates).map_err(|e| e.to_string())?;
    let composer = Composer::new(&config.smtp.from, &config.smtp.reply_to)
        .map_err(|e| e.to_string())?
        .with_footer(config.mail.footer.as_deref());
    let procedure = Procedure::from_config(config).map_err(|e| format!("{e:#}"))?;
    Ok((Mailer::new(templates, composer), procedure))
}

pub async fn run(config: Config, cmd: JobsCommand) -> Result<(), CliError> {
    let JobsCommand::Run { now, json } = cmd;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(&now)
        .map_err(|e| {
            CliError::usage(format_args!(
                "--now `{now}` is not an RFC 3339 instant ({e}); for example 2026-11-30T11:00:00-05:00"
            ))
        })?
        .with_timezone(&Utc);
    let (mailer, procedure) = procedure_parts(&config).map_err(CliError::config)?;
    let db = open_db(&config).await?;
    let report = sweep::run(&db, &mailer, &procedure, now)
        .await
        .map_err(CliError::failure)?;
    if json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!(
            "Tareas ejecutadas a las {}: {} vencimiento(s) atendido(s), {} alerta(s) y {} correo(s) en cola.",
            crate::clock::cli_time(now, &procedure.calendar.timezone()),
            report.timers_handled,
            report.alerts_queued,
            report.mails_queued
        );
        if report.reports_sent > 0 {
            println!(
                "  Informe mensual de cumplimiento enviado a {} destinatario(s).",
                report.reports_sent
            );
        }
        for c in &report.changes {
            println!("  {c}");
        }
    }
    Ok(())
}
