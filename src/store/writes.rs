//! Writes gathered while a unit of work decides, sent to the database together when it has
//! decided: one round trip instead of one per row. PostgreSQL gets one statement of
//! data-modifying `WITH` parts (each runs once, and foreign keys are checked at the end of the
//! statement, so a ticket and its messages can go in together); SQLite gets the statements as
//! one script, which its driver runs in one call to its worker thread, binding `$n` across them.
//!
//! Nothing here is visible to a read until [`Writes::flush`]: code that must read what it
//! wrote flushes first (or, better, keeps what it wrote in memory).

use super::Conn;
use sqlx::any::AnyArguments;
use sqlx::Arguments;

pub struct Writes {
    postgres: bool,
    parts: Vec<String>,
    args: AnyArguments,
    bound: usize,
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
            postgres: conn.backend_name() == "PostgreSQL",
            parts: Vec::new(),
            args: AnyArguments::default(),
            bound: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Adds one statement; `build` binds its values and returns its SQL. Statements without
    /// `RETURNING` only: nothing is read back.
    pub fn push(&mut self, build: impl FnOnce(&mut Part<'_>) -> String) {
        let sql = build(&mut Part { w: self });
        self.parts.push(sql);
    }

    /// Adds the insert of an inbound message; `build` returns its SQL and the placeholder of
    /// its Message-ID. Returns an SQL expression for the new row's id, for its attachments:
    /// PostgreSQL reads it from this part's `RETURNING` (the parts of one statement do not see
    /// each other's rows); SQLite's script has inserted the row when a later statement runs,
    /// and finds it by the unique index on inbound Message-IDs.
    pub fn push_inbound(&mut self, build: impl FnOnce(&mut Part<'_>) -> (String, String)) -> String {
        let (mut sql, message_id) = build(&mut Part { w: self });
        let i = self.parts.len();
        if self.postgres {
            sql.push_str(" RETURNING id");
            self.parts.push(sql);
            format!("(SELECT id FROM w{i})")
        } else {
            self.parts.push(sql);
            format!("(SELECT id FROM messages WHERE direction = 'in' AND message_id = {message_id})")
        }
    }

    /// Runs the one statement gathered, which ends in `RETURNING id`, and gives that id.
    pub async fn fetch_id(self, conn: &mut Conn) -> Result<i64, sqlx::Error> {
        // Our own statement; every value is bound.
        sqlx::query_scalar_with(sqlx::AssertSqlSafe(self.parts.concat()), self.args)
            .fetch_one(conn)
            .await
    }

    /// Sends everything gathered, in one round trip, and starts again empty; the caller
    /// commits. Code that must read what was gathered flushes first.
    pub async fn flush(&mut self, conn: &mut Conn) -> Result<(), sqlx::Error> {
        if self.parts.is_empty() {
            return Ok(());
        }
        let parts = std::mem::take(&mut self.parts);
        let args = std::mem::take(&mut self.args);
        self.bound = 0;
        let sql = match (self.postgres, parts.len()) {
            (_, 1) => parts.concat(),
            (false, _) => parts.join(";\n"),
            (true, n) => {
                let with = parts[..n - 1]
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!("w{i} AS ({p})"))
                    .collect::<Vec<_>>()
                    .join(",\n");
                format!("WITH {with}\n{}", parts[n - 1])
            }
        };
        // Our own statements; every value is bound.
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(conn)
            .await?;
        Ok(())
    }
}
