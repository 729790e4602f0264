//! Mail to `[ops] email` while a login keeps being refused (mailbox or SMTP): at most one a
//! day, whatever the number of instances or restarts, because the last one is looked up in
//! the outbox, where it is queued like any other mail.

use crate::config::Config;
use crate::domain::mail_kind::MailKind;
use crate::mail::outbound::{Composer, OutgoingMail};
use crate::ops::health::{self, Component};
use crate::store::{self, outbox, Db};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

pub const KIND: MailKind = MailKind::AlertaOperaciones;
const PERIOD_SECS: i64 = 24 * 3600;
const RECHECK: Duration = Duration::from_secs(15);

pub async fn run(config: Arc<Config>, db: Db, wake: Arc<Notify>, cancel: CancellationToken) {
    let mut changes = health::subscribe();
    let mut warned_no_address = false;
    loop {
        let failures = health::auth_failures();
        if !failures.is_empty() {
            match &config.ops.email {
                Some(to) => {
                    if let Err(e) = maybe_queue(&config, &db, to, &failures).await {
                        warn!(error = format!("{e:#}"), "cannot queue the ops alert");
                    } else {
                        wake.notify_one();
                    }
                }
                None if !warned_no_address => {
                    warned_no_address = true;
                    warn!("a login is refused and no [ops] email is configured: nobody is mailed about it");
                }
                None => {}
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(RECHECK) => {}
        }
    }
}

async fn maybe_queue(
    config: &Config,
    db: &Db,
    to: &str,
    failures: &[(Component, String, chrono::DateTime<chrono::Utc>)],
) -> anyhow::Result<()> {
    let now = store::unix(chrono::Utc::now());
    // Composed before the transaction: reading the layout file must not hold the lock.
    let mail = compose(config, failures);
    // Both parts, like every mail we send (ops read it in the same clients as everyone).
    let html = crate::mail::html::HtmlTemplates::one_off(
        &config.paths.templates,
        "alerta_operaciones",
        &mail.0,
        &mail.1,
    );
    let mut tx = db.begin_write().await?;
    // Instances sharing the database decide one at a time.
    outbox::lock_ops_alerts(&mut tx, db.dialect()).await?;
    let last = outbox::last_queued_of_kind(&mut tx, KIND).await?;
    if let Some(last) = last {
        if now - last < PERIOD_SECS {
            debug!(last_alert = last, "ops alert already sent within 24 h");
            tx.rollback().await?;
            return Ok(());
        }
    }
    let composer = Composer::new(&config.smtp.from, &config.smtp.reply_to)?
        .with_footer(config.mail.footer.as_deref());
    let composed = composer.compose(&OutgoingMail {
        to: vec![to.to_owned()],
        subject: mail.0,
        body: mail.1,
        thread: Vec::new(),
        reply_to: None,
        html,
    })?;
    outbox::enqueue(
        &mut tx,
        &outbox::NewOutgoing {
            ticket: None,
            kind: KIND,
            message_id: &composed.message_id,
            envelope_from: &composed.envelope_from,
            recipients: &composed.recipients,
            raw: &composed.raw,
            at: now,
        },
    )
    .await?;
    tx.commit().await?;
    error!(
        to,
        "login refused: ops alert mail queued (next one in 24 h at the earliest)"
    );
    Ok(())
}

fn compose(
    config: &Config,
    failures: &[(Component, String, chrono::DateTime<chrono::Utc>)],
) -> (String, String) {
    let names: Vec<&str> = failures
        .iter()
        .map(|(c, ..)| match c {
            Component::Mailbox => "buzón IMAP",
            Component::Smtp => "servidor SMTP",
        })
        .collect();
    let subject = format!(
        "[mesayuda] ALERTA: inicio de sesión rechazado ({})",
        names.join(", ")
    );
    let mut body = String::from(
        "mesayuda no logra iniciar sesión y reintentar no lo va a resolver: hace falta corregir\n\
         las credenciales (contraseña o autorización OAuth2).\n\n",
    );
    for (c, reason, since) in failures {
        let (what, account, effect) = match c {
            Component::Mailbox => (
                "Buzón IMAP",
                format!(
                    "{} en {}:{}",
                    config.imap.username, config.imap.host, config.imap.port
                ),
                "no se registran solicitudes nuevas; el correo espera en el buzón",
            ),
            Component::Smtp => (
                "Servidor SMTP",
                format!(
                    "{} en {}:{}",
                    config.smtp.username.as_deref().unwrap_or("(sin usuario)"),
                    config.smtp.host,
                    config.smtp.port
                ),
                "no sale correo; queda en cola y se enviará al corregirlo",
            ),
        };
        body.push_str(&format!(
            "{what}: {account}\n  Error: {reason}\n  Desde: {} UTC\n  Efecto: {effect}\n\n",
            since.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    body.push_str(&format!(
        "Configuración: {}\n\
         Corrija el secreto y reinicie el servicio (systemctl restart mesayuda). El estado se ve en\n\
         GET /healthz y en el registro (journalctl -u mesayuda).\n\n\
         Este aviso se envía como máximo una vez al día mientras el problema continúe.\n",
        config.source.display()
    ));
    (subject, body)
}
