//! Triggers the sweeps. tokio-cron-scheduler only says "now"; what is due lives in the
//! database (the timers table), so a missed tick or a restart loses nothing.

use crate::store::Db;
use crate::workflow::notify::Mailer;
use crate::workflow::{sweep, Procedure};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Every minute, at second 0.
const EVERY_MINUTE: &str = "0 * * * * *";

pub struct Sweeper {
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub procedure: Arc<Procedure>,
    pub outbox_wake: Arc<Notify>,
}

impl Sweeper {
    pub async fn run(self, cancel: CancellationToken) {
        let (tx, mut ticks) = mpsc::channel::<()>(1);
        let scheduler = match self.schedule(tx.clone()).await {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(error = %e, "cron scheduler unavailable; sweeping every minute by timer");
                None
            }
        };
        // One sweep at start: catches up on whatever fell due while the daemon was down.
        let _ = tx.try_send(());
        let mut fallback = tokio::time::interval(std::time::Duration::from_secs(60));
        let mut database = crate::ops::outage::changes(crate::ops::outage::Dependency::Database);
        let mut failed = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(()) = ticks.recv() => failed = !self.sweep().await,
                _ = fallback.tick(), if scheduler.is_none() => failed = !self.sweep().await,
                // A sweep the database refused is done again as soon as any worker finds the
                // database back, not at the next tick up to a minute later.
                Ok(()) = database.changed(), if failed => {
                    if !crate::ops::outage::is_down(crate::ops::outage::Dependency::Database) {
                        failed = !self.sweep().await;
                    }
                }
            }
        }
        if let Some(mut s) = scheduler {
            let _ = s.shutdown().await;
        }
        info!("sweeper stopped");
    }

    async fn schedule(
        &self,
        tx: mpsc::Sender<()>,
    ) -> Result<JobScheduler, tokio_cron_scheduler::JobSchedulerError> {
        let scheduler = JobScheduler::new().await?;
        scheduler
            .add(Job::new_async(EVERY_MINUTE, move |_, _| {
                let tx = tx.clone();
                Box::pin(async move {
                    // A full channel means a sweep is pending already: nothing is lost.
                    let _ = tx.try_send(());
                })
            })?)
            .await?;
        scheduler.start().await?;
        Ok(scheduler)
    }

    /// Whether the database answered (a sweep it refused is worth doing again when it is back).
    async fn sweep(&self) -> bool {
        match sweep::run(&self.db, &self.mailer, &self.procedure, chrono::Utc::now()).await {
            // Digests and the monthly report queue mail without any timer.
            Ok(r) if r.timers_handled > 0 || r.mails_queued > 0 => {
                info!(
                    timers = r.timers_handled,
                    mails = r.mails_queued,
                    alerts = r.alerts_queued,
                    "sweep done"
                );
                // It wrote: news for the workers waiting out a database outage, if any.
                crate::store::database_ok();
                self.outbox_wake.notify_one();
                true
            }
            Ok(_) => true,
            // An outage: waited out with the other workers. Bad data (a refused value, a
            // template that does not render) is logged below and tried at the next tick.
            Err(crate::workflow::WorkflowError::Db(e)) if !crate::store::is_data_error(&e) => {
                crate::store::database_failed("sweeper", &e);
                false
            }
            Err(e) => {
                warn!(error = %e, "sweep failed; retried at the next tick");
                true
            }
        }
    }
}
