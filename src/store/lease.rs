//! The mailbox reader's lease (table `reader_lease`): which instance reads a mailbox, until
//! when, and the fencing number its commits carry.
//!
//! The holder renews the lease every few seconds; a standby takes it over once it has expired
//! (a frozen holder stops renewing although its connections stay open) or at once when the
//! holder has no database session left (killed, crashed). Each takeover increments the fencing
//! number, and every commit of a reader checks it ([`check_fence`]), so a former holder that
//! wakes up after losing the lease commits nothing.

use super::{Conn, Db, Dialect};
use std::time::Duration;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Takes the lease of `mailbox` for `holder` for `expiry`, when nobody holds it, its holder
/// let it expire or is gone, or `holder` itself had it. Returns the new fencing number, one
/// more than the previous holder's; `None` while another instance holds it.
pub async fn acquire(
    db: &Db,
    mailbox: &str,
    holder: &str,
    expiry: Duration,
) -> Result<Option<i64>, sqlx::Error> {
    let dialect = db.dialect();
    let now = dialect.now_ms();
    let mut tx = db.begin_write().await?;
    if let Some(set) = dialect.short_lock_wait() {
        // The holder locks the row in each of its commits; frozen inside one, it keeps the
        // lock until the server ends its session (`idle_in_transaction_session_timeout`, see
        // `Db::connect`). The standby must not hang meanwhile: it tries again later.
        sqlx::query(set).execute(&mut *tx).await?;
    }
    if dialect.is_shared() {
        // A holder with no session left was killed or crashed (its sessions carry its
        // instance name): its lease ends now rather than when its time runs out.
        let gone = dialect.instance_gone("reader_lease", "holder", "$2");
        // Our own SQL only.
        let gone = sqlx::query(sqlx::AssertSqlSafe(format!(
            "
            UPDATE reader_lease
            SET expires_at_ms = 0
            WHERE mailbox = $1
              AND {gone}
            "
        )))
        .bind(mailbox)
        .bind(holder)
        .execute(&mut *tx)
        .await;
        match gone {
            Err(e) if Dialect::is_lock_timeout(&e) => return Ok(None),
            r => r?,
        };
    }
    let taken: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "
        INSERT INTO reader_lease (mailbox, holder, fence, expires_at_ms)
        VALUES ($1, $2, 1, {now} + $3)
        ON CONFLICT (mailbox) DO UPDATE
        SET holder = excluded.holder,
            fence = reader_lease.fence + 1,
            expires_at_ms = excluded.expires_at_ms
        WHERE reader_lease.expires_at_ms < {now} OR reader_lease.holder = excluded.holder
        RETURNING fence
        "
    )))
    .bind(mailbox)
    .bind(holder)
    .bind(millis(expiry))
    .fetch_optional(&mut *tx)
    .await;
    let fence = match taken {
        Err(e) if Dialect::is_lock_timeout(&e) => return Ok(None),
        r => r?,
    };
    tx.commit().await?;
    Ok(fence)
}

/// Extends the lease by `expiry` from now. `false` when another instance took it over (the
/// fencing number changed): this instance must stop reading. A lease that ran out but that
/// nobody took over is still this holder's, since nobody else committed anything meanwhile.
pub async fn renew(
    db: &Db,
    mailbox: &str,
    holder: &str,
    fence: i64,
    expiry: Duration,
) -> Result<bool, sqlx::Error> {
    let now = db.dialect().now_ms();
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "
        UPDATE reader_lease
        SET expires_at_ms = {now} + $4
        WHERE mailbox = $1 AND holder = $2 AND fence = $3
        "
    )))
    .bind(mailbox)
    .bind(holder)
    .bind(fence)
    .bind(millis(expiry))
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the lease up at shutdown: a standby takes it at its next try.
pub async fn release(db: &Db, mailbox: &str, holder: &str, fence: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        UPDATE reader_lease
        SET expires_at_ms = 0
        WHERE mailbox = $1 AND holder = $2 AND fence = $3
        ",
    )
    .bind(mailbox)
    .bind(holder)
    .bind(fence)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Inside a reader's transaction: whether `fence` is still the lease's number. The row stays
/// locked until the transaction ends, so a takeover waits for this commit, and a commit that
/// started after a takeover finds the new number and must roll back.
pub async fn check_fence(conn: &mut Conn, mailbox: &str, fence: i64) -> Result<bool, sqlx::Error> {
    let held = sqlx::query(
        "
        UPDATE reader_lease
        SET fence = fence
        WHERE mailbox = $1 AND fence = $2
        ",
    )
    .bind(mailbox)
    .bind(fence)
    .execute(conn)
    .await?;
    Ok(held.rows_affected() == 1)
}

/// Whether `fence` is still the lease's number, without locking (before an IMAP MOVE).
pub async fn holds(conn: &mut Conn, mailbox: &str, fence: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "
        SELECT COUNT(*) FROM reader_lease
        WHERE mailbox = $1 AND fence = $2
        ",
    )
    .bind(mailbox)
    .bind(fence)
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}
