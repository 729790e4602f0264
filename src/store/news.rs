//! News between the instances sharing one PostgreSQL database, over LISTEN/NOTIFY: "the SMTP
//! server (the mailbox, the database) is reachable again". An instance that hears it wakes its
//! workers waiting out a retry delay for that server (`crate::ops::outage`), instead of each
//! instance finding out at its own next try.
//!
//! LISTEN/NOTIFY rather than a polled row: the news arrives within milliseconds, costs nothing
//! while nothing happens (a polled row would be read every second by every instance), and
//! needs no table. A notification sent while an instance's listening connection is down is
//! lost; that costs nothing but the speed-up, since every worker retries at the end of its
//! own delay anyway. SQLite runs a single instance: nobody to tell.

use super::Db;

/// The channel every instance listens on.
const CHANNEL: &str = "mesayuda_reachable_again";

/// Tells the other instances that `what` (`database`, `smtp`, `mailbox`) is reachable again.
/// `from` is this instance's name, so that it can ignore its own news.
pub async fn publish(db: &Db, what: &str, from: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{what} {from}"))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A connection listening for the other instances' news.
pub struct Listener(sqlx::postgres::PgListener);

/// One piece of news: what is reachable again, and which instance found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct News {
    pub what: String,
    pub from: String,
}

impl Listener {
    pub async fn connect(url: &str) -> Result<Listener, sqlx::Error> {
        // Its own one-connection pool, because `PgListener::connect` uses sqlx's defaults:
        // during a database outage its reconnect is a slow acquire, and sqlx would log a WARN
        // for it beside the outage's own ERROR line (`crate::ops::outage`: one line per outage).
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_slow_threshold(std::time::Duration::from_secs(24 * 3600))
            .connect_lazy(url)?;
        let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
        l.listen(CHANNEL).await?;
        Ok(Listener(l))
    }

    /// The next news; `None` when the connection was lost (news sent meanwhile is lost).
    pub async fn next(&mut self) -> Result<Option<News>, sqlx::Error> {
        let Some(n) = self.0.try_recv().await? else {
            return Ok(None);
        };
        let (what, from) = n.payload().split_once(' ').unwrap_or((n.payload(), ""));
        Ok(Some(News {
            what: what.to_owned(),
            from: from.to_owned(),
        }))
    }
}
