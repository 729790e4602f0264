//! One mailbox reader at a time.
//!
//! PostgreSQL: several instances may run; the one holding a session-level advisory lock (on a
//! dedicated connection, keyed by the mailbox name) reads the mailbox, the others stand by and
//! try again every few seconds. The lock dies with its connection, so a crashed holder is
//! replaced within seconds; a vanished host within about 30 s (server-side TCP keepalives).
//! The outbox is shared safely by every instance (FOR UPDATE SKIP LOCKED).
//!
//! SQLite: one instance only. `mesayuda run` holds an exclusive lock on `<database>.lock`;
//! a second one exits at once with a message saying so.

use sqlx::{Connection, PgConnection};
use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

/// How often a standby tries for the lock, and the holder checks it still has it.
pub const RETRY: Duration = Duration::from_secs(5);
/// Advisory lock namespace ("mesa").
const LOCK_CLASS: i32 = 0x6d65_7361;

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

/// The PostgreSQL mailbox lease: an advisory lock on a connection of its own.
pub struct PgLease {
    url: String,
    mailbox: String,
    conn: Option<PgConnection>,
}

impl PgLease {
    pub fn new(url: &str, mailbox: &str) -> PgLease {
        PgLease {
            url: url.to_owned(),
            mailbox: mailbox.to_owned(),
            conn: None,
        }
    }

    /// [`PgLease::new`] with its connection opened now if it can be (else at the first try).
    pub async fn opened(url: &str, mailbox: &str) -> PgLease {
        let mut lease = PgLease::new(url, mailbox);
        lease.conn = lease.connect().await.ok();
        lease
    }

    async fn connect(&self) -> Result<PgConnection, sqlx::Error> {
        let mut c = PgConnection::connect(&self.url).await?;
        crate::store::set_nodelay_on_all_sockets();
        // If this host vanishes without closing the connection, the server notices within
        // 10 + 3 × 5 s and frees the lock for a standby.
        for s in [
            "SET tcp_keepalives_idle = 10",
            "SET tcp_keepalives_interval = 5",
            "SET tcp_keepalives_count = 3",
            "SET application_name = 'mesayuda mailbox lease'",
        ] {
            sqlx::query(s).execute(&mut c).await?;
        }
        Ok(c)
    }

    /// Tries once; `Ok(true)` when this instance now holds the lease.
    pub async fn try_acquire(&mut self) -> Result<bool, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        let got = tokio::time::timeout(
            RETRY,
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1, hashtext($2))")
                .bind(LOCK_CLASS)
                .bind(format!("mesayuda-reader:{}", self.mailbox))
                .fetch_one(&mut *conn),
        )
        .await;
        match got {
            Ok(Ok(held)) => Ok(held),
            Ok(Err(e)) => {
                self.conn = None;
                Err(e)
            }
            Err(_) => {
                self.conn = None;
                Err(sqlx::Error::PoolTimedOut)
            }
        }
    }

    /// Whether the lease is still held: the connection that holds it still answers.
    pub async fn still_held(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let ok = tokio::time::timeout(RETRY, conn.ping()).await;
        if matches!(ok, Ok(Ok(()))) {
            true
        } else {
            self.conn = None;
            false
        }
    }

    /// Gives the lease up (on shutdown): closing the connection frees the lock.
    pub async fn release(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.close().await;
        }
    }
}
