//! One mailbox reader at a time.
//!
//! PostgreSQL: several instances may run; the one holding the mailbox's lease (a row in
//! `reader_lease`, `store::lease`) reads the mailbox, the others stand by and try to take it
//! every `[lease] renew_secs`. The holder renews it as often; a lease not renewed for
//! `[lease] expiry_secs` is taken over, even when its holder's connections stay open (a
//! frozen process, a paused VM: an advisory lock, used before, stayed held for as long as the
//! connection lived), and a holder with no database session left (killed, crashed) is
//! replaced at the standby's next try. Each takeover increments the lease's fencing number,
//! which every commit of the reader and every IMAP MOVE checks: a former reader that wakes up
//! after losing the lease takes nothing in, moves nothing, says so once and stands by.
//! The outbox is shared safely by every instance (FOR UPDATE SKIP LOCKED, short claims renewed
//! while the mail is being sent: `smtp::sender`).
//!
//! SQLite: one instance only. `mesayuda run` holds an exclusive lock on `<database>.lock`;
//! a second one exits at once with a message saying so.

use crate::config::Config;
use crate::imap::watcher::{Stopped, Watcher};
use crate::oauth2::TokenSource;
use crate::ops::health::{self, Component};
use crate::ops::metrics;
use crate::ops::outage::{self, Dependency};
use crate::store::{self, Db};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How often a standby checks that it could log in to the mailbox.
const STANDBY_PROBE: Duration = Duration::from_secs(60);

/// How long a stopping reader may take to finish the transaction in hand before it is dropped
/// with it: well within the daemon's shutdown grace (`runtime::app`), so that the lease is
/// always released.
const READER_STOP_GRACE: Duration = Duration::from_secs(3);

/// The SQLite single-instance lock, held for the daemon's lifetime.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file for a SQLite URL, or `None` for an in-memory database.
pub fn sqlite_lock_path(url: &str) -> Option<PathBuf> {
    let db = crate::store::files::sqlite_path(url)?;
    Some(PathBuf::from(format!("{}.lock", db.display())))
}

/// Takes the SQLite single-instance lock, or explains who has it.
pub fn sqlite_single_instance(url: &str) -> Result<Option<InstanceLock>, String> {
    let Some(path) = sqlite_lock_path(url) else {
        return Ok(None);
    };
    let file = crate::store::files::open_private(&path)
        .map_err(|e| format!("cannot open lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            use std::io::{Seek, Write};
            let mut f = &file;
            let _ = f.set_len(0);
            let _ = f.seek(std::io::SeekFrom::Start(0));
            let _ = writeln!(f, "{}", std::process::id());
            Ok(Some(InstanceLock { _file: file, path }))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            Err(format!(
                "another mesayuda instance is already running on this SQLite database \
                 (lock file {} held{}); SQLite allows a single instance: stop the other one, \
                 or use PostgreSQL to run several",
                path.display(),
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" by pid {holder}")
                }
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// Reads the mailbox: always on SQLite (single instance); on PostgreSQL only while this
/// instance holds the mailbox lease.
pub async fn read_mailbox<F>(
    config: Arc<Config>,
    tokens: Option<TokenSource>,
    db: Db,
    make: F,
    cancel: CancellationToken,
) where
    F: Fn() -> Watcher + Send + 'static,
{
    if !db.dialect().is_shared() {
        metrics::set_reader(true);
        make().run(cancel).await;
        return;
    }
    let mailbox = config.imap.mailbox.clone();
    let me = store::instance_name();
    let renew = config.lease.renew();
    let expiry = config.lease.expiry();
    let mut standing_by = false;
    let mut mailbox_down = false;
    let mut last_probe: Option<Instant> = None;
    let mut mailbox_news = outage::back(Dependency::Mailbox);
    while !cancel.is_cancelled() {
        // Bounded by the expiry: a database that does not answer in that time is an outage,
        // a merely slow one (a loaded machine, the start-up's migrations) is not.
        let tried =
            tokio::time::timeout(expiry, store::lease::acquire(&db, &mailbox, me, expiry)).await;
        match tried {
            Ok(Ok(Some(fence))) => {
                crate::store::database_ok();
                info!(mailbox = %mailbox, fence, "mailbox lease acquired: this instance reads the mailbox");
                metrics::set_reader(true);
                standing_by = false;
                let mut watcher = make();
                watcher.fence = Some(fence);
                let held = hold(&db, &mailbox, fence, &config, watcher, &cancel).await;
                metrics::set_reader(false);
                match held {
                    Held::Lost => {
                        warn!(mailbox = %mailbox, fence, "mailbox lease lost: another instance took over the mailbox; this one processes nothing more and stands by");
                    }
                    Held::Ended => {
                        if cancel.is_cancelled() {
                            // A standby takes over at its next try rather than at expiry.
                            let released = tokio::time::timeout(
                                Duration::from_secs(1),
                                store::lease::release(&db, &mailbox, me, fence),
                            )
                            .await;
                            match released {
                                Ok(Ok(())) => {
                                    info!(mailbox = %mailbox, fence, "mailbox lease released")
                                }
                                Ok(Err(e)) => {
                                    warn!(mailbox = %mailbox, error = %e, "mailbox lease not released; a standby takes over when it expires")
                                }
                                Err(_) => {
                                    warn!(mailbox = %mailbox, "mailbox lease not released in time; a standby takes over when it expires")
                                }
                            }
                        }
                    }
                }
            }
            Ok(Ok(None)) => {
                crate::store::database_ok();
                if !standing_by {
                    info!(mailbox = %mailbox, "another instance reads the mailbox; standing by to take over");
                    standing_by = true;
                }
                // The reader found the mailbox back: so may this standby, now.
                let news = mailbox_news.has_changed().unwrap_or(false);
                mailbox_news.mark_unchanged();
                if last_probe.is_none_or(|t| t.elapsed() >= STANDBY_PROBE) || (mailbox_down && news)
                {
                    mailbox_down = !standby_probe(&config, tokens.as_ref(), mailbox_down).await;
                    last_probe = Some(Instant::now());
                }
            }
            Ok(Err(e)) => crate::store::database_failed("mailbox lease", &e),
            Err(_) => crate::store::database_failed("mailbox lease", &sqlx::Error::PoolTimedOut),
        }
        // Through a database outage the wait ends early when another worker finds it back;
        // a standby that found the mailbox unreachable probes again as soon as it is back.
        let database_down = outage::is_down(Dependency::Database);
        let wait = async {
            if database_down {
                outage::retry_delay(Dependency::Database, renew).await;
            } else if mailbox_down {
                outage::delay_unless_back(Dependency::Mailbox, renew).await;
            } else {
                tokio::time::sleep(renew).await;
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wait => {}
        }
    }
}

enum Held {
    /// Another instance took the lease over.
    Lost,
    /// The reader stopped (shutdown).
    Ended,
}

/// Runs the reader while renewing the lease every `[lease] renew_secs`.
async fn hold(
    db: &Db,
    mailbox: &str,
    fence: i64,
    config: &Config,
    watcher: Watcher,
    cancel: &CancellationToken,
) -> Held {
    let renew = config.lease.renew();
    let expiry = config.lease.expiry();
    let child = cancel.child_token();
    let mut reader = tokio::spawn(watcher.run(child.clone()));
    loop {
        tokio::select! {
            r = &mut reader => {
                return match r {
                    Ok(Stopped::LeaseLost) => Held::Lost,
                    _ => Held::Ended,
                };
            }
            _ = cancel.cancelled() => {
                // Shutdown: the reader finishes the transaction in hand, or, past a short
                // grace, is dropped with it (rolled back and redone by the next reader, as
                // after a kill), so that the lease is released well within the daemon's own
                // shutdown grace and a standby takes over at once.
                if tokio::time::timeout(READER_STOP_GRACE, &mut reader).await.is_err() {
                    warn!(mailbox = %mailbox, "mailbox reader busy at shutdown; its uncommitted messages are left to the next reader");
                    reader.abort();
                    let _ = reader.await;
                }
                return Held::Ended;
            }
            _ = tokio::time::sleep(renew) => {
                if child.is_cancelled() {
                    continue;
                }
                let renewed = tokio::time::timeout(
                    expiry,
                    store::lease::renew(db, mailbox, store::instance_name(), fence, expiry),
                )
                .await;
                match renewed {
                    Ok(Ok(true)) => crate::store::database_ok(),
                    Ok(Ok(false)) => {
                        // Taken over: nothing this reader still has in hand may commit (the
                        // fencing number sees to that); it stops.
                        child.cancel();
                        let _ = reader.await;
                        return Held::Lost;
                    }
                    // The reader keeps going through a database outage: its commits fail
                    // anyway, and if a standby takes over meanwhile, they are fenced off.
                    Ok(Err(e)) => crate::store::database_failed("mailbox lease", &e),
                    Err(_) => crate::store::database_failed("mailbox lease", &sqlx::Error::PoolTimedOut),
                }
            }
        }
    }
}

/// A standby logs in once in a while, so that `/healthz` and readiness mean the same on every
/// instance and a refused login is noticed before this instance has to take over. Returns
/// whether the mailbox was reached.
async fn standby_probe(config: &Config, tokens: Option<&TokenSource>, was_down: bool) -> bool {
    match crate::imap::connect::connect(&config.imap, tokens).await {
        Ok(mut session) => {
            let _ = session.logout().await;
            if was_down {
                info!("IMAP mailbox reachable again from the standby instance");
                outage::found_back(Dependency::Mailbox);
            }
            health::standby();
            true
        }
        Err(e) => {
            if e.is_auth() {
                error!(error = %e, "IMAP login refused");
            } else if !was_down {
                warn!(error = %e, "IMAP mailbox unreachable from the standby instance");
            }
            health::failed(Component::Mailbox, e.to_string(), e.is_auth());
            false
        }
    }
}
