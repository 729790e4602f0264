//! Operations commands: `check-config` (templates rendered, database, mailbox and SMTP
//! reached), `send-test-mail ADDRESS`, and `outbox list|retry`.

use super::table::{Align, Table};
use super::{calendar_tz, open_db, CliError, EXIT_FAILURE, EXIT_USAGE};
use crate::config::{Config, Security};
use crate::domain::ticket::TicketNumber;
use crate::mail::outbound::{Composer, OutgoingMail};
use crate::store::{from_unix, outbox};
use clap::Subcommand;
use lettre::AsyncTransport;
use std::process::ExitCode;
use std::time::Duration;

const BAD_USAGE: u8 = EXIT_USAGE;
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);
/// A database answers within milliseconds or not at all: an operator waits 5 s, not 30.
const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Outgoing mail, oldest first: pending, sent and failed.
    List {
        /// pending, sent or failed.
        #[arg(long)]
        status: Option<String>,
        /// Print JSON instead of the table (times in RFC 3339 with their offset).
        #[arg(long)]
        json: bool,
    },
    /// Queue a failed mail again; the daemon sends it within seconds.
    Retry {
        /// The id shown by `outbox list`.
        id: i64,
    },
}

/// Reads the directory as the daemon would and says how many people and roles it found.
/// Also what the TOML directory had to set aside over this read (overrides of people LDAP
/// lacks).
async fn check_ldap(
    config: &Config,
    l: &crate::config::LdapConfig,
) -> Result<(String, Vec<String>), String> {
    let entries = crate::ldap::read(l)
        .await
        .map_err(|e| super::diagnosis::ldap(&e))?;
    let procedure =
        crate::workflow::Procedure::from_config(config).map_err(|e| format!("{e:#}"))?;
    let people = procedure
        .install_ldap(
            config,
            crate::workflow::LdapRead {
                entries,
                read_at: 0,
            },
        )
        .map_err(|e| format!("{e:#}"))?;
    let roles = people.role_counts();
    let total: usize = roles.iter().map(|(_, n)| n).sum();
    let detail = roles
        .iter()
        .map(|(r, n)| format!("{}: {n}", r.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let set_aside = procedure.snapshot().directory.set_aside().to_vec();
    let line = format!(
        "{}, {} personas, {total} con cargo{}{}",
        l.url,
        people.people.len(),
        if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        },
        if people.without_email > 0 {
            format!(", {} entradas sin correo omitidas", people.without_email)
        } else {
            String::new()
        }
    );
    Ok((line, set_aside))
}

fn security(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::Starttls => "starttls",
        Security::None => "none",
    }
}

/// Exit code: 2 when the configuration or a template is wrong, else 1 when a server could not
/// be reached, else 0.
pub async fn check_config(config: Config, offline: bool) -> ExitCode {
    // The file parsed (else Config::load stopped earlier, naming the key); whether everything
    // else is fine is the summary line's to say, last.
    println!("Configuración: {}", config.source.display());
    let mut code = 0u8;
    let mut failed: Vec<&str> = Vec::new();
    let dir = &config.paths.templates;
    if !dir.is_dir() {
        println!(
            "plantillas: error: paths.templates = {}: el directorio no existe",
            dir.display()
        );
        failed.push("plantillas");
        code = BAD_USAGE;
    } else {
        match crate::mail::templates::Templates::load(dir)
            .map_err(|e| vec![e.to_string()])
            .and_then(|_| crate::mail::template_check::render_all_templates(dir))
        {
            Ok(names) => println!(
                "plantillas: ok ({} renderizadas con datos de ejemplo, {})",
                names.len(),
                dir.display()
            ),
            Err(errors) => {
                println!("plantillas: error (paths.templates = {})", dir.display());
                for e in errors {
                    println!("  {e}");
                }
                failed.push("plantillas");
                code = BAD_USAGE;
            }
        }
    }
    match crate::workflow::Procedure::from_config(&config) {
        Ok(p) => {
            let snap = p.snapshot();
            println!(
                "catálogo y directorio: ok ({} servicios, {} personas)",
                snap.catalog.len(),
                snap.directory.len()
            );
            // Warnings, not errors: the daemon runs, but part of the procedure would not.
            let ctx = p.ctx(&snap, chrono::Utc::now());
            for w in crate::domain::reference_warnings::procedure_warnings(
                &snap.directory,
                config.incidents.address.as_deref(),
                &ctx.agents(),
            )
            .into_iter()
            .chain(crate::domain::reference_warnings::catalog_warnings(
                &snap.catalog,
                &snap.directory,
            )) {
                println!("aviso: {w}");
            }
        }
        Err(e) => {
            println!("catálogo y directorio: error\n  {e:#}");
            failed.push("catálogo y directorio");
            code = BAD_USAGE;
        }
    }
    if config.web.enabled() {
        let pages = config.paths.templates.join("panel");
        match crate::panel::check_pages(&pages) {
            Ok(n) => println!(
                "panel web: ok (escucha en {}, dirección pública {}, {n} páginas renderizadas con datos de ejemplo)",
                config.web.listen.trim(),
                config.web.base()
            ),
            Err(errors) => {
                println!("panel web: error (paths.templates = {})", dir.display());
                for e in errors {
                    println!("  {e}");
                }
                failed.push("panel web");
                code = BAD_USAGE;
            }
        }
    } else {
        println!("panel web: desactivado (web.listen está vacío)");
    }
    if offline {
        return summary(code, &failed);
    }
    if let Some(l) = &config.directory.ldap {
        match check_ldap(&config, l).await {
            Ok((line, set_aside)) => {
                println!("ldap: ok ({line})");
                for w in set_aside {
                    println!("aviso: directorio: {w}");
                }
            }
            Err(e) => {
                println!("ldap: error: {e}");
                failed.push("ldap");
                code = code.max(EXIT_FAILURE);
            }
        }
    }
    let worse = |code: u8, new: u8| {
        if code == BAD_USAGE {
            code
        } else {
            code.max(new)
        }
    };

    let db_url = crate::runtime::app::redact_url(&config.database.url);
    match check_database(&config.database.url).await {
        Ok(()) => println!("base de datos: ok ({db_url})"),
        Err(cause) => {
            println!("base de datos: error: database.url = {db_url}: {cause}");
            failed.push("base de datos");
            code = worse(code, EXIT_FAILURE);
        }
    }

    let tokens = crate::oauth2::MailTokens::build(&config);
    let imap = &config.imap;
    let where_imap = format!("{}:{} {}", imap.host, imap.port, security(imap.security));
    let result = tokio::time::timeout(CHECK_TIMEOUT, async {
        let mut s = crate::imap::connect::connect(imap, tokens.imap.as_ref())
            .await
            .map_err(|e| {
                let said = super::diagnosis::imap(&e);
                if e.is_auth() {
                    format!(
                        "{said}; revise {}",
                        credential_keys(
                            "imap",
                            &imap.auth,
                            imap.password_file.is_some(),
                            config.oauth2.as_ref()
                        )
                    )
                } else {
                    said
                }
            })?;
        let mbox = s.examine(&imap.mailbox).await.map_err(|e| {
            format!(
                "la sesión se inició, pero el buzón {} (imap.mailbox) no se pudo abrir: {e}",
                imap.mailbox
            )
        })?;
        let _ = s.logout().await;
        Ok::<_, String>(mbox.exists)
    })
    .await
    .unwrap_or_else(|_| Err(format!("sin respuesta en {} s", CHECK_TIMEOUT.as_secs())));
    match result {
        Ok(n) => println!(
            "imap: ok ({where_imap}, {} como {}, {n} mensajes en {})",
            match imap.auth {
                crate::config::AuthMethod::Password => "LOGIN",
                crate::config::AuthMethod::Xoauth2 => "XOAUTH2",
            },
            imap.username,
            imap.mailbox
        ),
        Err(e) => {
            println!("imap: error: {e}");
            failed.push("imap");
            code = worse(code, EXIT_FAILURE);
        }
    }

    let smtp = &config.smtp;
    let where_smtp = format!("{}:{} {}", smtp.host, smtp.port, security(smtp.security));
    match crate::smtp::transport::build(smtp, tokens.smtp) {
        Err(e) => {
            println!("smtp: error: {e}");
            failed.push("smtp");
            code = BAD_USAGE;
        }
        Ok(t) => match tokio::time::timeout(CHECK_TIMEOUT, t.test_connection()).await {
            Ok(Ok(())) => println!("smtp: ok ({where_smtp})"),
            Ok(Err(e)) => {
                let said = super::diagnosis::smtp(&e);
                if e.is_auth() {
                    println!(
                        "smtp: error: {said}; revise {}",
                        credential_keys(
                            "smtp",
                            &smtp.auth,
                            smtp.password_file.is_some(),
                            config.oauth2.as_ref()
                        )
                    );
                } else {
                    println!("smtp: error: {said}");
                }
                failed.push("smtp");
                code = worse(code, EXIT_FAILURE);
            }
            Err(_) => {
                println!(
                    "smtp: error: {where_smtp}: sin respuesta en {} s",
                    CHECK_TIMEOUT.as_secs()
                );
                failed.push("smtp");
                code = worse(code, EXIT_FAILURE);
            }
        },
    }
    summary(code, &failed)
}

/// The last line: whether everything passed, and if not which checks failed, so an operator
/// reading only the end of the output (or a script) knows.
fn summary(code: u8, failed: &[&str]) -> ExitCode {
    if failed.is_empty() {
        println!("Resultado: todo en orden");
    } else {
        println!(
            "Resultado: {} con errores: {} (código de salida {code})",
            failed.len(),
            failed.join(", ")
        );
    }
    ExitCode::from(code)
}

/// Reaches the database within `DB_CHECK_TIMEOUT` (the pool itself would wait 30 s for an
/// unreachable server); the cause in plain words.
async fn check_database(url: &str) -> Result<(), String> {
    if let Some(dir) = sqlite_parent(url) {
        if !dir.is_dir() {
            return Err(format!("el directorio {} no existe", dir.display()));
        }
    }
    let reached = tokio::time::timeout(DB_CHECK_TIMEOUT, async {
        if url.starts_with("postgres") {
            return crate::store::check_postgres(url).await;
        }
        let db = crate::store::Db::connect(url, 1).await?;
        db.ping().await?;
        db.pool.close().await;
        Ok::<_, sqlx::Error>(())
    })
    .await;
    match reached {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(super::diagnosis::database(&e)),
        Err(_) => Err(format!(
            "sin respuesta en {} s (¿servidor apagado, host o puerto equivocados?)",
            DB_CHECK_TIMEOUT.as_secs()
        )),
    }
}

/// The directory an `sqlite://` URL's file lives in, when it names one.
fn sqlite_parent(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path.starts_with(':') {
        return None;
    }
    let parent = std::path::Path::new(path).parent()?;
    Some(if parent.as_os_str().is_empty() {
        std::path::PathBuf::from(".")
    } else {
        parent.to_owned()
    })
}

/// The keys (and environment variable) that hold the credentials of a refused login.
fn credential_keys(
    section: &str,
    auth: &crate::config::AuthMethod,
    has_file: bool,
    oauth2: Option<&crate::config::OAuth2Config>,
) -> String {
    let env = format!("MESAYUDA_{}_PASSWORD", section.to_uppercase());
    match auth {
        crate::config::AuthMethod::Xoauth2 => match oauth2 {
            Some(o) if o.token_command.is_some() => "oauth2.token_command".to_owned(),
            _ => "oauth2.client_id y oauth2.client_secret_file (o MESAYUDA_OAUTH2_CLIENT_SECRET)"
                .to_owned(),
        },
        crate::config::AuthMethod::Password if std::env::var_os(&env).is_some() => {
            format!("{section}.username y {env}")
        }
        crate::config::AuthMethod::Password if has_file => {
            format!("{section}.username y {section}.password_file (o {env})")
        }
        crate::config::AuthMethod::Password => {
            format!("{section}.username y {section}.password (o {env})")
        }
    }
}

/// Sends one mail straight through SMTP (not through the outbox), to prove delivery works.
pub async fn send_test_mail(config: Config, address: &str) -> Result<(), CliError> {
    if address.parse::<lettre::message::Mailbox>().is_err() {
        return Err(CliError::usage(format_args!(
            "`{address}` is not an e-mail address"
        )));
    }
    let subject = "Correo de prueba de mesayuda".to_owned();
    let body = format!(
        "Este es un correo de prueba enviado con `mesayuda send-test-mail`.\n\n\
         Servidor SMTP: {}:{} ({})\nRemitente: {}\nConfiguración: {}\n",
        config.smtp.host,
        config.smtp.port,
        security(config.smtp.security),
        config.smtp.from,
        config.source.display()
    );
    // Both parts, like every mail the daemon sends: the test shows how they look in the
    // client (`check-config` reports a broken HTML layout; here it only costs the HTML part).
    let html = crate::mail::html::HtmlTemplates::one_off(
        &config.paths.templates,
        "prueba",
        &subject,
        &body,
    );
    let composed = Composer::new(&config.smtp.from, &config.smtp.reply_to).and_then(|c| {
        c.with_footer(config.mail.footer.as_deref())
            .compose(&OutgoingMail {
                to: vec![address.to_owned()],
                subject,
                body,
                thread: Vec::new(),
                reply_to: None,
                html,
            })
    });
    let composed = composed.map_err(CliError::config)?;
    let tokens = crate::oauth2::MailTokens::build(&config);
    let transport = crate::smtp::transport::build(&config.smtp, tokens.smtp).map_err(|e| {
        CliError::config(format_args!("config file {}: {e}", config.source.display()))
    })?;
    let envelope = lettre::address::Envelope::new(
        composed.envelope_from.parse().ok(),
        composed
            .recipients
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect(),
    );
    let envelope = envelope.map_err(CliError::config)?;
    let resp = tokio::time::timeout(CHECK_TIMEOUT, transport.send_raw(&envelope, &composed.raw))
        .await
        .map_err(|_| {
            CliError::failure(format_args!(
                "the SMTP server did not answer within {CHECK_TIMEOUT:?}"
            ))
        })?
        .map_err(|e| CliError::failure(format_args!("the test mail was not sent: {e}")))?;
    println!(
        "Correo de prueba enviado a {address} (Message-ID <{}>): el servidor respondió {}",
        composed.message_id,
        resp.code()
    );
    Ok(())
}

pub async fn outbox(config: Config, cmd: OutboxCommand) -> Result<(), CliError> {
    if let OutboxCommand::List {
        status: Some(s), ..
    } = &cmd
    {
        if !["pending", "sent", "failed"].contains(&s.as_str()) {
            return Err(CliError::usage(format_args!(
                "unknown status `{s}`: use pending, sent or failed"
            )));
        }
    }
    let tz = calendar_tz(&config)?;
    let db = open_db(&config).await?;
    let mut conn = db.pool.acquire().await?;
    match cmd {
        OutboxCommand::List { status, json } => {
            let rows = outbox::list(&mut conn, status.as_deref()).await?;
            if json {
                // The stored epochs as RFC 3339 with the calendar's offset, like every
                // other JSON output; the field names stay those of the table.
                let at = |t: i64| crate::clock::cli_rfc3339(from_unix(t), &tz);
                let v: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id,
                            "ticket_id": r.ticket_id,
                            "kind": r.kind,
                            "recipients": r.recipients,
                            "status": r.status,
                            "attempts": r.attempts,
                            "next_attempt_at": at(r.next_attempt_at),
                            "last_error": r.last_error,
                            "created_at": at(r.created_at),
                            "sent_at": r.sent_at.map(at),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).unwrap_or_else(|_| "[]".into())
                );
            } else if rows.is_empty() {
                println!("(sin correos)");
            } else {
                let mut table = Table::new(&[
                    "ID", "ESTADO", "TIPO", "INTENTOS", "CASO", "CREADO", "PARA", "ERROR",
                ])
                .align(&[
                    Align::Right,
                    Align::Left,
                    Align::Left,
                    Align::Right,
                    Align::Left,
                    Align::Left,
                    Align::Left,
                    Align::Left,
                ]);
                for r in rows {
                    table.row(vec![
                        r.id.to_string(),
                        r.status,
                        r.kind,
                        r.attempts.to_string(),
                        r.ticket_id
                            .map(|t| TicketNumber(t).to_string())
                            .unwrap_or_else(|| "-".into()),
                        crate::clock::cli_time(from_unix(r.created_at), &tz),
                        r.recipients,
                        r.last_error.unwrap_or_else(|| "-".into()),
                    ]);
                }
                table.print();
            }
            Ok(())
        }
        OutboxCommand::Retry { id } => {
            let now = crate::store::unix(chrono::Utc::now());
            match outbox::retry(&mut conn, id, now).await? {
                outbox::RetryOutcome::Queued => {
                    println!("Correo {id} en cola de nuevo; el daemon lo enviará en segundos.");
                    Ok(())
                }
                outbox::RetryOutcome::NotFound => Err(CliError::not_found(format_args!(
                    "no mail {id} in the outbox"
                ))),
                outbox::RetryOutcome::NotFailed(s) => Err(CliError::usage(format_args!(
                    "mail {id} is `{s}`: only a `failed` mail can be retried"
                ))),
            }
        }
    }
}
