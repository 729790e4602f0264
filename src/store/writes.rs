//! Writes gathered while a unit of work decides, sent to the database together when it has
//! decided: one round trip instead of one per row. PostgreSQL gets one statement of
//! data-modifying `WITH` parts (each runs once, and foreign keys are checked at the end of the
//! statement, so a ticket and its messages can go in together); SQLite gets the statements as
//! one script, which its driver runs in one call to its worker thread, binding `$n` across them.
//!
//! PostgreSQL runs the parts of one statement in no order it promises (in fact the last first
//! and the others backwards), so rows whose order matters — the messages of a ticket, its
//! events, the mail queued — are inserted by one multi-row INSERT per table
//! ([`Writes::push_row`]), whose rows get their ids in the order they were added.
//!
//! Nothing here is visible to a read until [`Writes::flush`]: code that must read what it
//! wrote flushes first (or, better, keeps what it wrote in memory).

use super::{Conn, Dialect};
use sqlx::any::AnyArguments;
use sqlx::Arguments;

enum Piece {
    Sql(String),
    /// `head` followed by `VALUES` and every row, and `RETURNING` when rows are looked up.
    Rows {
        head: &'static str,
        rows: Vec<String>,
        returning: Option<&'static str>,
    },
}

pub struct Writes {
    dialect: Dialect,
    parts: Vec<Piece>,
    args: AnyArguments,
    bound: usize,
    /// Message-IDs of inbound mail written with its raw bytes left for pieces
    /// (`messages::insert_raw_pieces`), which its caller still owes.
    raw_in_pieces: Vec<String>,
}

/// The SQL of one part being built: each value bound gives its `$n`.
pub struct Part<'w> {
    w: &'w mut Writes,
}

impl Part<'_> {
    /// Binds `v` and returns its placeholder.
    pub fn bind<'t, T>(&mut self, v: T) -> String
    where
        T: sqlx::Encode<'t, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        // Encoding into the `Any` buffer copies the value; it cannot fail for the types bound here.
        let _ = self.w.args.add(v);
        self.w.bound += 1;
        format!("${}", self.w.bound)
    }
}

impl Writes {
    pub fn new(conn: &Conn) -> Writes {
        Writes {
            dialect: Dialect::of(conn),
            parts: Vec::new(),
            args: AnyArguments::default(),
            bound: 0,
            raw_in_pieces: Vec::new(),
        }
    }

    /// Notes that the inbound mail `message_id` is written without its raw bytes, to be
    /// stored in pieces by whoever holds them.
    pub fn raw_in_pieces(&mut self, message_id: &str) {
        self.raw_in_pieces.push(message_id.to_owned());
    }

    /// The Message-IDs noted by [`Writes::raw_in_pieces`] since the last call.
    pub fn take_raw_in_pieces(&mut self) -> Vec<String> {
        std::mem::take(&mut self.raw_in_pieces)
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// How many values are bound so far: a statement takes at most 65,535 on PostgreSQL and
    /// SQLite numbers its `$n` up to 32,766, so callers gathering much flush before that.
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Adds one statement; `build` binds its values and returns its SQL. Statements without
    /// `RETURNING` only: nothing is read back.
    pub fn push(&mut self, build: impl FnOnce(&mut Part<'_>) -> String) {
        let sql = build(&mut Part { w: self });
        self.parts.push(Piece::Sql(sql));
    }

    /// Adds a row to the multi-row INSERT that starts with `head` (`INSERT INTO t (a, b)`);
    /// `build` binds its values and returns the row (`($1, $2)`). The INSERT goes where its
    /// first row was added. Returns the INSERT's part number.
    pub fn push_row(
        &mut self,
        head: &'static str,
        build: impl FnOnce(&mut Part<'_>) -> String,
    ) -> usize {
        let row = build(&mut Part { w: self });
        let found = self
            .parts
            .iter()
            .position(|p| matches!(p, Piece::Rows { head: h, .. } if *h == head));
        match found {
            Some(i) => {
                if let Piece::Rows { rows, .. } = &mut self.parts[i] {
                    rows.push(row);
                }
                i
            }
            None => {
                self.parts.push(Piece::Rows {
                    head,
                    rows: vec![row],
                    returning: None,
                });
                self.parts.len() - 1
            }
        }
    }

    /// An SQL expression for the id of the inbound message row added with [`Writes::push_row`]
    /// as part `part`, whose Message-ID was bound as `message_id` (the placeholder): PostgreSQL
    /// reads it from that part's `RETURNING` (the parts of one statement do not see each
    /// other's rows); SQLite's script has inserted the row when a later statement runs, and
    /// finds it by the unique index on inbound Message-IDs.
    pub fn inbound_row(&mut self, part: usize, message_id: &str) -> String {
        if !self.dialect.batch_parts_see_each_other() {
            if let Some(Piece::Rows { returning, .. }) = self.parts.get_mut(part) {
                *returning = Some("id, direction, message_id");
            }
            format!("(SELECT id FROM w{part} WHERE direction = 'in' AND message_id = {message_id})")
        } else {
            format!(
                "(SELECT id FROM messages WHERE direction = 'in' AND message_id = {message_id})"
            )
        }
    }

    /// Runs the one statement gathered, which ends in `RETURNING id`, and gives that id.
    pub async fn fetch_id(mut self, conn: &mut Conn) -> Result<i64, sqlx::Error> {
        let persistent = self.persistent();
        let (sql, args) = self.take();
        // Our own statement; every value is bound.
        sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), args)
            .persistent(persistent)
            .fetch_one(conn)
            .await
    }

    /// Sends everything gathered, in one round trip, and starts again empty; the caller
    /// commits. Code that must read what was gathered flushes first.
    pub async fn flush(&mut self, conn: &mut Conn) -> Result<(), sqlx::Error> {
        if self.parts.is_empty() {
            return Ok(());
        }
        let persistent = self.persistent();
        let (sql, args) = self.take();
        // Our own statements; every value is bound.
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .persistent(persistent)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Whether the driver keeps the statement prepared for next time. Gathered statements
    /// differ with every count of rows, so a connection's cache (100 statements) fills with
    /// shapes seldom seen again: on SQLite each is a compiled program held in this process,
    /// for every pooled connection, and preparing one again costs no round trip. PostgreSQL
    /// keeps its plans in the server, and an unprepared statement would cost a round trip more.
    fn persistent(&self) -> bool {
        self.dialect.keep_varying_statements_prepared()
    }

    fn take(&mut self) -> (String, AnyArguments) {
        let parts: Vec<String> = std::mem::take(&mut self.parts)
            .into_iter()
            .map(|p| match p {
                Piece::Sql(s) => s,
                Piece::Rows {
                    head,
                    rows,
                    returning,
                } => {
                    let returning = returning
                        .map(|r| format!(" RETURNING {r}"))
                        .unwrap_or_default();
                    format!("{head} VALUES {}{returning}", rows.join(",\n"))
                }
            })
            .collect();
        let args = std::mem::take(&mut self.args);
        self.bound = 0;
        let sql = self.dialect.batch(parts);
        (sql, args)
    }
}
