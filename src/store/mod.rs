//! The database adapter: one sqlx `Any` pool over SQLite (embedded default) or PostgreSQL
//! (production, shared by several instances). Queries use `$n` placeholders, which both accept.
//! Timestamps are stored as Unix seconds because the `Any` driver carries no date types.

pub mod approvals;
mod connection_lost;
mod dialect;
pub mod events;
pub mod files;
pub mod incidents;
pub mod intake;
mod known_values;
pub mod ldap_directory;
pub mod lease;
pub mod mailbox;
pub mod messages;
pub mod metrics;
pub mod news;
pub mod outbox;
pub mod panel;
pub mod panel_ticket;
pub mod reports;
pub mod tickets;
pub mod timers;
pub mod writes;
pub use dialect::Dialect;

use crate::ops::outage::{self, Dependency};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::MigrateError;
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

pub type Conn = sqlx::AnyConnection;

/// How long a pooled PostgreSQL connection may have been idle and still be handed out without
/// a ping (see `Db::connect`).
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The name code outside `store` still uses; it is the one [`Dialect`].
pub type Backend = Dialect;

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    /// The same as [`Db::dialect`]; read by code outside `store` that still tests the backend
    /// itself (to be moved here, see STYLE.md's SQL section).
    pub backend: Dialect,
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// SQLite: the file whose lock serialises migrations between processes (see `migrate`).
    migrate_lock: Option<std::path::PathBuf>,
}

impl Db {
    /// One trivial statement: whether the database answers at all (health, watchdog).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .map(|_| ())
    }

    /// After a burst (the reader or the sender going idle): each idle SQLite connection gives
    /// its page cache back (`PRAGMA shrink_memory`). Each may keep up to 2 MB of pages it read
    /// or wrote until it closes; measured after 1,000 requests, SQLite held 2.7 MB in all and
    /// gave 0.3 MB back so (bench/README.md): small, and free, as the pages come back from the
    /// kernel's cache at the next burst. PostgreSQL keeps its pages in the server.
    pub async fn release_memory(&self) {
        if self.dialect() != Dialect::Sqlite {
            return;
        }
        // Held until every idle connection has been asked, so that none is asked twice.
        let mut asked = Vec::new();
        while let Some(mut conn) = self.pool.try_acquire() {
            if let Err(e) = conn.execute("PRAGMA shrink_memory").await {
                tracing::debug!(error = %e, "SQLite connection kept its page cache");
            }
            asked.push(conn);
        }
    }

    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url);
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        if dialect == Dialect::Sqlite {
            // Created 0600 before SQLite creates it with the umask's mode (see `files`).
            files::prepare_sqlite(&url)?;
        }
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            // A slow acquire is the symptom of an outage, which `crate::ops::outage` logs once;
            // sqlx's own warning would come again at every acquire while it lasts.
            .acquire_slow_threshold(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if let Some(set) = dialect.session_name(instance_name()) {
                        // Our own constant (see `instance_name`).
                        conn.execute(sqlx::AssertSqlSafe(set)).await?;
                    }
                    for statement in dialect.session_setup() {
                        conn.execute(*statement).await?;
                    }
                    let ms = IDLE_IN_TRANSACTION_MS.load(std::sync::atomic::Ordering::Relaxed);
                    if let Some(set) = dialect.idle_in_transaction_timeout(ms) {
                        // An integer of ours.
                        conn.execute(sqlx::AssertSqlSafe(set)).await?;
                    }
                    if dialect == Dialect::Postgres {
                        crate::tcp::tune_all_sockets();
                    }
                    Ok(())
                })
            })
            .after_release(|conn, _| {
                Box::pin(async move {
                    // A PostgreSQL connection's socket buffers grow to the largest statement
                    // or result it carried (a batch of 50 raw mails) and keep that size for
                    // the connection's life: 5 idle connections held megabytes after a burst.
                    // Back to 8 KiB when idle; a no-op below that, and on SQLite.
                    sqlx::Connection::shrink_buffers(conn);
                    Ok(true)
                })
            })
            // sqlx pings every connection it hands out, by default: one more round trip per
            // statement run outside a transaction on PostgreSQL, and one more trip to the
            // connection's thread on SQLite (2,400 of them to mark a burst's mail sent). A
            // connection used within the last second is trusted as it is; one idle longer is
            // pinged first, so that one broken while it waited (a restarted server) is closed
            // rather than handed out. A connection that breaks within that second fails its
            // statement: the daemon's workers retry on another (`connection_lost`), a panel
            // page shows its error once.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    Ok(match dialect {
                        Dialect::Postgres => {
                            meta.idle_for < PING_AFTER_IDLE
                                || sqlx::Connection::ping(conn).await.is_ok()
                        }
                        Dialect::Sqlite => !opened_before_sqlite_failed(meta.age),
                    })
                })
            })
            .connect_with(options)
            .await?;
        let migrate_lock = match dialect {
            Dialect::Sqlite => files::sqlite_path(&url)
                .map(|db| std::path::PathBuf::from(format!("{}.migrate.lock", db.display()))),
            Dialect::Postgres => None,
        };
        Ok(Db {
            pool,
            backend: dialect,
            write_turn: Default::default(),
            migrate_lock,
        })
    }

    /// SQLite lets one writer in at a time and makes the others sleep and retry (the busy
    /// timeout) in no particular order: under a burst of incoming mail, marking a mail sent
    /// waited up to a quarter of a second, all of it a window in which a crash sends that mail
    /// a second time. The daemon's main writers (taking mail in, claiming and marking queued
    /// mail) take turns here instead, first come first served, and always before they take a
    /// connection. PostgreSQL locks rows, not the database: no turn is needed.
    pub async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.dialect().single_writer() {
            Some(self.write_turn.lock().await)
        } else {
            None
        }
    }

    /// A transaction that writes. On SQLite it takes the write lock at its start (`BEGIN
    /// IMMEDIATE`), waiting for it as long as the busy timeout allows. A plain `BEGIN` takes
    /// it at the first write; when the transaction has read before, SQLite does not wait
    /// for the lock but fails at once with "database is locked" (waiting could deadlock two
    /// readers that both want to write). A CI run failed a panel sign-in so, at the daemon's
    /// start, while the sweep wrote. PostgreSQL locks rows as it goes: a plain `BEGIN`.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.dialect().begin_write() {
            Some(statement) => self.pool.begin_with(statement).await,
            None => self.pool.begin().await,
        }
    }

    /// A read-only view of the database at one instant, for reads that must agree with each
    /// other (a ticket with its messages, approval and events, as `tickets show` prints it).
    /// PostgreSQL's default isolation lets each statement see another moment: a ticket read
    /// while an approval was committed showed the approval decided and the request still
    /// waiting for it. SQLite's transaction already reads one snapshot.
    pub async fn begin_snapshot(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if self.dialect() == Dialect::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// How this database's SQL differs (see [`Dialect`]).
    pub fn dialect(&self) -> Dialect {
        self.backend
    }

    pub async fn migrate(&self) -> Result<usize, MigrateError> {
        match self.dialect() {
            Dialect::Sqlite => {
                // sqlx locks the database while migrating on PostgreSQL, not on SQLite: a CLI
                // command opened while the daemon migrates at its start read the same migration
                // as pending and applied it again ("index … already exists"). An exclusive lock
                // on a file beside the database makes the second process wait, then find
                // nothing left to apply.
                let _lock = match &self.migrate_lock {
                    Some(path) => Some(
                        files::lock_exclusive(path)
                            .await
                            .map_err(|e| MigrateError::Execute(e.into()))?,
                    ),
                    None => None,
                };
                // 0019 and 0020 run outside sqlx's transaction, with foreign keys off, in one of its
                // own (see the file): a connection it failed on may still be inside it, and is
                // not given back to the pool.
                let mut conn = self.pool.acquire().await?;
                known_values::refuse_unknown(self.dialect(), &mut conn)
                    .await
                    .map_err(|(version, e)| MigrateError::ExecuteMigration(e, version))?;
                let applied = self
                    .run_migrator(&mut conn, &sqlx::migrate!("migrations/sqlite"))
                    .await;
                if applied.is_err() {
                    conn.close_on_drop();
                }
                applied
            }
            Dialect::Postgres => {
                // One connection for the check and the migrations: a second one, opened while
                // the first is still being given back to the pool, cost a TLS handshake at
                // every start.
                let mut conn = self.pool.acquire().await?;
                known_values::refuse_unknown(self.dialect(), &mut conn)
                    .await
                    .map_err(|(version, e)| MigrateError::ExecuteMigration(e, version))?;
                self.run_migrator(&mut conn, &sqlx::migrate!("migrations/postgres"))
                    .await
            }
        }
    }

    /// Runs the migrator and returns how many migrations it applied (`migrate` tells ops).
    async fn run_migrator(
        &self,
        conn: &mut Conn,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<usize, MigrateError> {
        let before = Self::applied_migrations(conn).await;
        migrator.run(&mut *conn).await?;
        let after = Self::applied_migrations(conn).await;
        Ok(after.saturating_sub(before))
    }

    /// Rows in sqlx's bookkeeping table; 0 before the first migration created it.
    async fn applied_migrations(conn: &mut Conn) -> usize {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(conn)
            .await
            .map_or(0, |n| n as usize)
    }

    /// Row locking for work queues (see [`Dialect::skip_locked`]).
    pub fn skip_locked(&self) -> &'static str {
        self.dialect().skip_locked()
    }
}

/// PostgreSQL's `idle_in_transaction_session_timeout` for this process's sessions, in
/// milliseconds (an integer of ours, formatted into the `SET`).
static IDLE_IN_TRANSACTION_MS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(15_000);

/// Sets how long a session of this process may stay idle inside a transaction before
/// PostgreSQL ends it; for connections opened from now on. The daemon uses the reader lease's
/// expiry (`[lease] expiry_secs`): a reader frozen inside a commit holds the lease's row, and a
/// standby can take over only once that session is gone.
pub fn set_idle_in_transaction_timeout(d: Duration) {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    IDLE_IN_TRANSACTION_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// When SQLite last failed the way a read-only, full or failing disk makes it fail.
static SQLITE_FAILED_AT: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

/// Notes a SQLite failure of the read-only, full or failing disk kind (primary codes READONLY,
/// IOERR, FULL, CANTOPEN). The connections open at that moment are replaced as they are next
/// taken from the pool: SQLite may have left them unusable, opened read-only while the file
/// could not be written (and read-only they stay), or inside a transaction it could not roll
/// back. Without this the daemon kept failing after the disk was writable again.
pub fn sqlite_failed(e: &sqlx::Error) {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok());
    if code.is_some_and(|c| matches!(c & 0xff, 8 | 10 | 13 | 14)) {
        sqlite_reopen_all();
    }
}

/// SQLite refuses at once (SQLITE_BUSY or SQLITE_BUSY_SNAPSHOT, without the busy wait) a
/// transaction that has read and then wants to write after another connection committed;
/// the work is simply tried again.
pub fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "5" || c == "517")
}

/// The database refused the data itself (PostgreSQL SQLSTATE classes 22 data exception, 23
/// integrity constraint, 54 program limit such as an index row too large; SQLite's TOOBIG,
/// CONSTRAINT, MISMATCH; a value that cannot be decoded): the same statement would fail again
/// on every retry, so it is no outage to wait out.
pub fn is_data_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } | sqlx::Error::Encode(_) => true,
        sqlx::Error::Database(d) => {
            let Some(code) = d.code() else {
                return false;
            };
            match (code.len(), code.parse::<i32>()) {
                // SQLite: numeric result codes of at most four digits, extended in the high bits.
                (..=4, Ok(n)) => matches!(n & 0xff, 18..=20),
                // PostgreSQL: five-character SQLSTATE (many all digits, e.g. 22021).
                (5, _) => matches!(code.get(..2), Some("22" | "23" | "54")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// One plain PostgreSQL connection that answers a statement, then closes: not the pool, which
/// retries a refused connection until its timeout and then reports only that, losing the cause
/// (`check-config`).
pub async fn check_postgres(url: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await
}

/// Replaces every SQLite connection opened until now, as they are next taken from the pool.
pub fn sqlite_reopen_all() {
    if let Ok(mut at) = SQLITE_FAILED_AT.lock() {
        *at = Some(std::time::Instant::now());
    }
}

fn opened_before_sqlite_failed(age: Duration) -> bool {
    SQLITE_FAILED_AT
        .lock()
        .ok()
        .and_then(|at| *at)
        .is_some_and(|at| age >= at.elapsed())
}

/// This process among the instances sharing a database: random, fixed for its lifetime. Queued
/// mail it claims carries it; on PostgreSQL it is also the `application_name` of its sessions.
pub fn instance_name() -> &'static str {
    static NAME: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("mesayuda-{:016x}", rand::random::<u64>()));
    &NAME
}

/// Integer ids as an SQL list for `IN (…)`: formatting integers cannot inject anything, and
/// one statement for a list costs one round trip instead of one per id.
pub fn id_list(ids: impl Iterator<Item = i64>) -> String {
    ids.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// Current time as stored (Unix seconds).
pub fn unix(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp()
}

pub fn from_unix(s: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(s, 0).unwrap_or_default()
}

/// A database operation of `worker` failed; it retries with backoff, or at once when only its
/// connection was lost. SQLite connections that existed then are replaced (see
/// [`sqlite_failed`]).
pub fn database_failed(worker: &str, e: &sqlx::Error) {
    sqlite_failed(e);
    if connection_lost::is_lost_connection(e)
        && !outage::is_down(Dependency::Database)
        && connection_lost::tolerated()
    {
        // Not an outage, unless the retry finds the database down (see `connection_lost`):
        // `outage::retry_delay` returns at once, and the warning waits for the retry.
        tracing::debug!(error = %e, worker, "database connection lost; retrying on another");
        connection_lost::hold(e, worker);
        return;
    }
    let lost_before = connection_lost::covered_by_outage().map_or(0, |u| u.lost);
    let announced = outage::failed(Dependency::Database, || {
        tracing::error!(error = %e, worker, lost_connections_before = lost_before, "database unavailable; retrying with backoff");
    });
    if !announced {
        tracing::debug!(error = %e, worker, "database still unavailable");
    }
}

/// A database write (or, on PostgreSQL, any query) succeeded.
pub fn database_ok() {
    connection_lost::reset();
    if let Some(u) = connection_lost::reported_on_success() {
        tracing::warn!(error = %u.error, worker = %u.worker, lost = u.lost, "database connection lost; retried on another");
    }
    if outage::recovered(Dependency::Database) {
        // SQLite opens a file it cannot write read-only, silently: a connection opened during
        // the outage would fail the next write of whichever worker took it, a second outage
        // line for nothing. Every connection of that time is replaced.
        sqlite_reopen_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_sqlite_cannot_hold_is_a_data_error_and_a_busy_database_is_not() {
        let db = Db::connect("sqlite::memory:", 1).await.expect("memory db");
        let mut conn = db.pool.acquire().await.expect("conn");
        let e = sqlx::query("SELECT zeroblob(2000000000)")
            .execute(&mut *conn)
            .await
            .expect_err("too big");
        assert!(is_data_error(&e), "{e:?}");
        let e = sqlx::query("SELECT * FROM no_such_table")
            .execute(&mut *conn)
            .await
            .expect_err("no table");
        assert!(!is_data_error(&e), "{e:?}");
        assert!(!is_data_error(&sqlx::Error::PoolTimedOut));
    }
}
