//! Every difference between SQLite and PostgreSQL the store's SQL has to know about, decided
//! here and nowhere else: the rest of `store` asks its [`Dialect`] (from [`Db::dialect`] or,
//! holding only a connection, [`Dialect::of`]) instead of testing the backend itself.
//!
//! What both accept needs no entry: `$n` placeholders, `ON CONFLICT … DO UPDATE`, `RETURNING`,
//! Unix seconds as integers for time (the `Any` driver carries no date types), `BLOB`/`BYTEA`
//! behind one `Vec<u8>` binding.
//!
//! [`Db::dialect`]: super::Db::dialect

use super::Conn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL: `sqlite:` is SQLite, anything else PostgreSQL.
    pub fn of_url(url: &str) -> Dialect {
        if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }

    /// The dialect of an open connection, for code that holds no [`super::Db`].
    pub fn of(conn: &Conn) -> Dialect {
        match conn.backend_name() {
            "PostgreSQL" => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// Several instances may share the database (PostgreSQL); SQLite runs one at a time, so
    /// nothing another instance holds or announces needs looking at.
    pub fn is_shared(self) -> bool {
        self == Dialect::Postgres
    }

    /// Statements run when a pooled connection opens: `SET`s on PostgreSQL, `PRAGMA`s on
    /// SQLite. The two `SET`s whose values vary are [`Dialect::session_name`] and
    /// [`Dialect::idle_in_transaction_timeout`].
    pub fn session_setup(self) -> &'static [&'static str] {
        match self {
            // A commit waits for the disk only where something leaves the database on the
            // strength of it: before mail is handed to SMTP (`outbox::claim_due`) and before
            // mail leaves the IMAP inbox (`make_durable`); each such commit makes every earlier
            // one durable. The others — one per message taken in, one per mail sent — cost a
            // disk flush each otherwise, and a crash of the daemon loses none of them
            // (PostgreSQL has them); only a crash of PostgreSQL itself can lose the last
            // fraction of a second, as after SQLite's `synchronous = NORMAL`.
            Dialect::Postgres => &["SET synchronous_commit = off"],
            // WAL lets the CLI read while the daemon writes; the busy timeout makes a second
            // writer wait instead of failing.
            Dialect::Sqlite => &[
                "PRAGMA journal_mode = WAL",
                "PRAGMA busy_timeout = 10000",
                "PRAGMA synchronous = NORMAL",
                "PRAGMA foreign_keys = ON",
            ],
        }
    }

    /// How a transaction that writes begins, where it differs from `BEGIN` (see
    /// [`super::Db::begin_write`]).
    pub fn begin_write(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => Some("BEGIN IMMEDIATE"),
            Dialect::Postgres => None,
        }
    }

    /// Names this process's sessions, so that other instances can tell whether the instance
    /// that claimed a queued mail or holds the reader lease is still alive (PostgreSQL only).
    /// `name` is [`super::instance_name`], our own constant.
    pub fn session_name(self, name: &str) -> Option<String> {
        match self {
            Dialect::Postgres => Some(format!("SET application_name = '{name}'")),
            Dialect::Sqlite => None,
        }
    }

    /// A frozen process (SIGSTOP, a paused VM) inside a transaction keeps its row locks: the
    /// ticket counter, queued mail, the reader lease. PostgreSQL ends such a session after
    /// `ms`, so that the other instances go on and a standby can take the mailbox over
    /// (`store::lease::acquire`). SQLite has no such setting, nor row locks.
    pub fn idle_in_transaction_timeout(self, ms: u64) -> Option<String> {
        match self {
            Dialect::Postgres => Some(format!("SET idle_in_transaction_session_timeout = {ms}")),
            Dialect::Sqlite => None,
        }
    }

    /// Makes the current transaction's commit wait for the disk (see
    /// [`Dialect::session_setup`]); SQLite's commits always do.
    pub fn durable_commit(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => Some("SET LOCAL synchronous_commit = on"),
            Dialect::Sqlite => None,
        }
    }

    /// Makes this connection's commits wait for the disk (`true`) or go back to the setting of
    /// [`Dialect::session_setup`] (`false`): SQLite in WAL mode with `synchronous = NORMAL`
    /// syncs its log only at checkpoints, PostgreSQL's sessions commit asynchronously.
    pub fn sync_commits(self, on: bool) -> &'static str {
        match (self, on) {
            (Dialect::Sqlite, true) => "PRAGMA synchronous = FULL",
            (Dialect::Sqlite, false) => "PRAGMA synchronous = NORMAL",
            (Dialect::Postgres, true) => "SET synchronous_commit = on",
            (Dialect::Postgres, false) => "SET synchronous_commit = off",
        }
    }

    /// Whether writers must take turns in this process (`Db::write_turn`): SQLite lets one
    /// writer in at a time, PostgreSQL locks rows, not the database.
    pub fn single_writer(self) -> bool {
        self == Dialect::Sqlite
    }

    /// Whether the database server has been up for at least `secs` seconds, as an SQL
    /// condition. After a PostgreSQL restart every instance's sessions are gone at once and
    /// come back one by one: until they had the time to, none of them counts as stopped.
    /// SQLite runs inside the one instance: always true.
    pub fn server_up_for(self, secs: i64) -> String {
        match self {
            Dialect::Postgres => {
                format!(
                    "pg_postmaster_start_time() < clock_timestamp() - interval '{secs} seconds'"
                )
            }
            Dialect::Sqlite => "1 = 1".to_owned(),
        }
    }

    /// Row locking for work queues: PostgreSQL skips rows another instance holds; SQLite has
    /// a single writer, so nothing is needed there.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Locks the rows read until the transaction ends (PostgreSQL); SQLite's single writer
    /// already excludes the others.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// [`Dialect::for_update`] for the rows of the table aliased `t` only, in a join.
    pub fn for_update_of_t(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE OF t",
        }
    }

    /// A lock held until the transaction ends, serialising the instances that take it with the
    /// same `key` (PostgreSQL advisory lock; SQLite transactions already write one at a time).
    /// `key` is one of our constants.
    pub fn transaction_lock(self, key: i32) -> Option<String> {
        match self {
            Dialect::Postgres => Some(format!("SELECT pg_advisory_xact_lock(1835365217, {key})")),
            Dialect::Sqlite => None,
        }
    }

    /// Makes a row lock wait at most two seconds, then fail with [`Dialect::is_lock_timeout`]
    /// (PostgreSQL; SQLite waits its busy timeout).
    pub fn short_lock_wait(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => Some("SET LOCAL lock_timeout = '2s'"),
            Dialect::Sqlite => None,
        }
    }

    /// PostgreSQL's "lock not available" (SQLSTATE 55P03), what [`Dialect::short_lock_wait`]
    /// raises.
    pub fn is_lock_timeout(e: &sqlx::Error) -> bool {
        e.as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "55P03")
    }

    /// An SQL condition: the instance named by `column` has no database session left
    /// (PostgreSQL sessions carry their instance's name, see [`Dialect::session_name`]). On
    /// SQLite, where one instance runs at a time, any other instance is gone: the condition is
    /// that `column` names someone other than `me` (a placeholder). `table` qualifies `column`
    /// inside the subquery; both are our own identifiers.
    pub fn instance_gone(self, table: &str, column: &str, me: &str) -> String {
        match self {
            Dialect::Sqlite => format!("({column} IS NULL OR {column} <> {me})"),
            Dialect::Postgres => format!(
                "
                ({column} <> {me} AND NOT EXISTS (
                    SELECT 1 FROM pg_stat_activity a WHERE a.application_name = {table}.{column}
                ))
                "
            ),
        }
    }

    /// The database's clock in milliseconds, as an SQL expression. Every instance judges the
    /// reader lease's expiry by this one clock, so hosts whose clocks disagree still agree on
    /// who holds it.
    pub fn now_ms(self) -> &'static str {
        match self {
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        }
    }

    /// A query listing rows that refer to a missing row (`table`, `rowid`, `parent`): SQLite
    /// can hold such rows when foreign keys were off as they were written; PostgreSQL's
    /// constraints cannot be switched off, so it has none to list.
    pub fn broken_references(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => {
                Some("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
            }
            Dialect::Postgres => None,
        }
    }

    /// An aggregate giving, per group, one JSON array (in text) of `[e1, e2, …]` for each row.
    pub fn json_rows_agg(self, exprs: &[&str]) -> String {
        let row = exprs.join(", ");
        match self {
            Dialect::Postgres => format!("json_agg(json_build_array({row}))::text"),
            Dialect::Sqlite => format!("json_group_array(json_array({row}))"),
        }
    }

    /// An aggregate giving the values of `expr`, ordered by `order`, as a JSON array in text.
    pub fn json_array_agg(self, expr: &str, order: &str) -> String {
        match self {
            Dialect::Postgres => format!("json_agg({expr} ORDER BY {order})::text"),
            Dialect::Sqlite => format!("json_group_array({expr} ORDER BY {order})"),
        }
    }

    /// Several statements sent as one (`writes::Writes`): SQLite runs a script of statements
    /// separated by `;`; PostgreSQL's extended protocol takes one statement with bound values,
    /// so all but the last become data-modifying `WITH` parts, `w0`, `w1`, …
    pub fn batch(self, mut parts: Vec<String>) -> String {
        match (self, parts.len()) {
            (_, 1) => parts.remove(0),
            (Dialect::Sqlite, _) => parts.join(";\n"),
            (Dialect::Postgres, _) => {
                let last = parts.pop().unwrap_or_default();
                let with = parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!("w{i} AS ({p})"))
                    .collect::<Vec<_>>()
                    .join(",\n");
                format!("WITH {with}\n{last}")
            }
        }
    }

    /// Whether the parts of one [`Dialect::batch`] see each other's rows: SQLite's script runs
    /// them one after the other; PostgreSQL's `WITH` parts all see the same snapshot, and a
    /// later part reads an earlier one's rows from its `RETURNING`.
    pub fn batch_parts_see_each_other(self) -> bool {
        self == Dialect::Sqlite
    }

    /// Whether the driver should keep a statement of varying shape prepared for next time. On
    /// SQLite each is a compiled program held in this process, for every pooled connection,
    /// and preparing one again costs no round trip; PostgreSQL keeps its plans in the server,
    /// and an unprepared statement would cost a round trip more.
    pub fn keep_varying_statements_prepared(self) -> bool {
        self == Dialect::Postgres
    }
}
