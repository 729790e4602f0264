//! Where the reader is in the IMAP mailbox: UIDVALIDITY and the last UID committed.

use super::Conn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    pub uidvalidity: i64,
    pub last_uid: i64,
}

pub async fn get(conn: &mut Conn, mailbox: &str) -> Result<Option<MailboxState>, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(uidvalidity, last_uid)| MailboxState {
        uidvalidity,
        last_uid,
    }))
}

/// [`advance`], sent with the other writes of `w`.
pub fn advance_into(w: &mut super::writes::Writes, mailbox: &str, state: MailboxState, at: i64) {
    w.push(|p| {
        format!(
            "
            INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at)
            VALUES ({}, {}, {}, {})
            ON CONFLICT (mailbox) DO UPDATE SET
                last_uid = CASE WHEN mailbox_state.uidvalidity = excluded.uidvalidity
                                 AND mailbox_state.last_uid > excluded.last_uid
                           THEN mailbox_state.last_uid ELSE excluded.last_uid END,
                uidvalidity = excluded.uidvalidity, updated_at = excluded.updated_at
            ",
            p.bind(mailbox),
            p.bind(state.uidvalidity),
            p.bind(state.last_uid),
            p.bind(at)
        )
    });
}

/// Records progress; `last_uid` never moves backwards within one UIDVALIDITY.
pub async fn advance(
    conn: &mut Conn,
    mailbox: &str,
    state: MailboxState,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "
        INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, updated_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (mailbox) DO UPDATE SET
        last_uid = CASE WHEN mailbox_state.uidvalidity = excluded.uidvalidity
        AND mailbox_state.last_uid > excluded.last_uid
        THEN mailbox_state.last_uid ELSE excluded.last_uid END,
        uidvalidity = excluded.uidvalidity, updated_at = excluded.updated_at
        ",
    )
    .bind(mailbox)
    .bind(state.uidvalidity)
    .bind(state.last_uid)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// [`advance`] in a commit that, with every commit before it, is on disk when this returns:
/// for the reader's `make_durable`, before mail leaves the IMAP inbox on the strength of it.
/// Costs one sync, where the daemon's other commits cost none (see `Dialect::session_setup`).
pub async fn advance_durably(
    conn: &mut Conn,
    mailbox: &str,
    state: MailboxState,
    at: i64,
) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    let dialect = super::Dialect::of(conn);
    conn.execute(dialect.sync_commits(true)).await?;
    let written = advance(conn, mailbox, state, at).await;
    conn.execute(dialect.sync_commits(false)).await?;
    written
}
