//! The daemon: one `Application` built from config, used by `mesayuda run` and by the tests.

use crate::config::Config;
use crate::imap::watcher::Watcher;
use crate::mail::outbound::Composer;
use crate::mail::templates::Templates;
use crate::smtp::sender::Sender;
use crate::store::Db;
use crate::workflow::ingest::Ingestor;
use crate::workflow::notify::Mailer;
use crate::workflow::Procedure;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// SIGTERM must stop the daemon within this bound, work in flight included.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// The same while the database is known to be down.
const OUTAGE_GRACE: Duration = Duration::from_secs(2);

pub struct Application {
    /// SQLite: held while the daemon runs, so that a second instance refuses to start.
    _instance_lock: Option<crate::runtime::lease::InstanceLock>,
    config: Arc<Config>,
    db: Db,
    mailer: Arc<Mailer>,
    procedure: Arc<Procedure>,
    /// `[directory.ldap]`: the start used the stored read, so a fresh one is due at once.
    ldap_read_due: bool,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let instance_lock = crate::runtime::lease::sqlite_single_instance(&config.database.url)
            .map_err(anyhow::Error::msg)?;
        // Start-up is mostly waiting for the database: the CPU work (templates, catalogue
        // regexes) proceeds meanwhile.
        let config = Arc::new(config);
        let reference = {
            let config = config.clone();
            tokio::task::spawn_blocking(
                move || -> anyhow::Result<(Templates, Composer, Procedure)> {
                    Ok((
                        Templates::load(&config.paths.templates)?,
                        Composer::new(&config.smtp.from, &config.smtp.reply_to)?
                            .with_footer(config.mail.footer.as_deref()),
                        Procedure::from_config(&config)?,
                    ))
                },
            )
        };
        // A reader frozen inside a commit holds the lease's row until the server ends its
        // session; this bounds how long a standby waits for that (`store::lease`).
        crate::store::set_idle_in_transaction_timeout(config.lease.expiry());
        let database = async {
            let db = Db::connect(&config.database.url, config.database.max_connections)
                .await
                .with_context(|| {
                    format!("cannot open database {}", redact_url(&config.database.url))
                })?;
            db.migrate()
                .await
                .context("cannot apply database migrations")?;
            anyhow::Ok(db)
        };
        let (db, reference) = tokio::join!(database, reference);
        let db = db?;
        let (templates, composer, procedure) = reference.context("start-up task")??;
        let procedure = Arc::new(procedure);
        let ldap_read_due = crate::ldap::Refresher {
            config: config.clone(),
            db: db.clone(),
            procedure: procedure.clone(),
        }
        .start()
        .await;
        Ok(Application {
            _instance_lock: instance_lock,
            ldap_read_due,
            procedure,
            mailer: Arc::new(Mailer::new(templates, composer)),
            config,
            db,
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub fn procedure(&self) -> &Procedure {
        &self.procedure
    }

    pub fn ingestor(&self, wake: Arc<Notify>) -> Ingestor {
        let c = &self.config;
        Ingestor {
            db: self.db.clone(),
            mailer: self.mailer.clone(),
            procedure: self.procedure.clone(),
            own_addresses: vec![
                c.notification_address(),
                c.helpdesk_address(),
                c.imap.username.to_lowercase(),
            ],
            ack_max_age: chrono::Duration::days(i64::from(c.ingest.ack_max_age_days)),
            max_message_bytes: c.ingest.max_message_bytes,
            max_new_per_sender_per_hour: c.ingest.max_new_tickets_per_sender_per_hour,
            outbox_wake: wake,
        }
    }

    /// Runs until `cancel` fires, then gives the workers a bounded time to finish.
    pub async fn run_until(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let wake = Arc::new(Notify::new());
        let wake_for_sweeper = wake.clone();
        let tokens = crate::oauth2::MailTokens::build(&self.config);
        let transport = crate::smtp::transport::build(&self.config.smtp, tokens.smtp)
            .map_err(|e| anyhow::anyhow!("SMTP configuration: {e}"))?;
        let ldap_now = Arc::new(Notify::new());
        let ops = crate::runtime::supervisor::Services {
            config: self.config.clone(),
            db: self.db.clone(),
            mailer: self.mailer.clone(),
            procedure: self.procedure.clone(),
            transport: transport.clone(),
            wake: wake.clone(),
            ldap_now: ldap_now.clone(),
        };
        let imap_cfg = Arc::new(self.config.imap.clone());
        let backlog = Arc::new(crate::runtime::backlog::Backlog::new(wake.clone()));
        let watcher = Watcher {
            config: imap_cfg,
            tokens: tokens.imap.clone(),
            db: self.db.clone(),
            ingestor: Arc::new(self.ingestor(wake.clone())),
            batch_size: self.config.ingest.batch_size,
            fence: None,
            backlog: backlog.clone(),
        };
        let sender = Sender {
            db: self.db.clone(),
            retry: crate::smtp::sender::RetryPolicy::from_config(&self.config.smtp),
            transport,
            wake,
            backlog,
            unrecorded: Default::default(),
        };
        let mut tasks = tokio::task::JoinSet::new();
        crate::runtime::supervisor::spawn(&ops, &mut tasks, &cancel).await;
        tasks.spawn(crate::runtime::lease::read_mailbox(
            self.config.clone(),
            tokens.imap,
            self.db.clone(),
            move || watcher.clone(),
            cancel.clone(),
        ));
        tasks.spawn(sender.run(cancel.clone()));
        let refresher = crate::ldap::Refresher {
            config: self.config.clone(),
            db: self.db.clone(),
            procedure: self.procedure.clone(),
        };
        tasks.spawn(refresher.run(ldap_now, self.ldap_read_due, cancel.clone()));
        let sweeper = crate::runtime::scheduler::Sweeper {
            db: self.db.clone(),
            mailer: self.mailer.clone(),
            procedure: self.procedure.clone(),
            outbox_wake: wake_for_sweeper,
        };
        tasks.spawn(sweeper.run(cancel.clone()));
        info!(
            database = %redact_url(&self.config.database.url),
            mailbox = %self.config.imap.mailbox,
            "mesayuda running"
        );
        cancel.cancelled().await;
        crate::runtime::systemd::stopping();
        info!("shutting down");
        // With the database down, work in flight cannot commit: no point waiting for it (it is
        // redone at the next start), and workers stuck waiting for a connection never would.
        let grace = if crate::ops::outage::is_down(crate::ops::outage::Dependency::Database) {
            OUTAGE_GRACE
        } else {
            SHUTDOWN_GRACE
        };
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            warn!("workers did not stop in time; aborting them (uncommitted work is redone at next start)");
            tasks.abort_all();
        }
        // Closing waits for connections still being opened; a database that does not answer
        // must not hold the exit up.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.db.pool.close()).await;
        Ok(())
    }
}

/// Hides a password in a database URL before it reaches a log line: the one of `user:pass@`
/// and the `password=` parameter, which the PostgreSQL driver accepts as well.
pub fn redact_url(url: &str) -> String {
    let secret = |k: &str| k.eq_ignore_ascii_case("password");
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let in_query = u.query_pairs().any(|(k, _)| secret(&k));
    if u.password().is_none() && !in_query {
        // Shown as written, not as the parser would normalise it.
        return url.to_owned();
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    if in_query {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// Cancels on SIGTERM or SIGINT.
pub fn shutdown_on_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    warn!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => info!("SIGINT received"),
        }
        cancel.cancel();
    });
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_database_password_never_reaches_a_log_line() {
        assert_eq!(
            redact_url("postgres://u:s3cret@db.example.test/m"),
            "postgres://u:***@db.example.test/m"
        );
        let shown = redact_url("postgres://u@db.example.test/m?sslmode=require&password=s3cret");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("sslmode=require") && shown.contains("password=***"),
            "{shown}"
        );
        assert_eq!(
            redact_url("sqlite:///var/lib/m.db"),
            "sqlite:///var/lib/m.db"
        );
    }
}
