//! What every panel handler does the same way: find who is signed in (or send them to sign
//! in), check a posted form's CSRF token, and write through one transaction that SQLite may
//! refuse when busy. Macros, because they return from the handler or run its own code again.

use super::{Form, Panel, PanelError, Signed};
use axum::http::HeaderMap;

/// The signed-in person for a page that needs one; without a session the handler answers with
/// the redirect to the home page, where one signs in.
macro_rules! signed_or_sign_in {
    ($p:expr, $headers:expr) => {
        match $p.require($headers).await? {
            Ok(s) => s,
            Err(redirect) => return Ok(redirect),
        }
    };
}

/// Runs `$attempt` (an expression ending in `.await`, giving `Result<_, WorkflowError>`) again
/// while the database answers busy, up to 5 more times: SQLite may refuse a transaction that
/// read before another committed.
macro_rules! retry_when_busy {
    ($attempt:expr) => {{
        let mut attempt = 0;
        loop {
            match $attempt {
                Err(crate::workflow::WorkflowError::Db(e))
                    if crate::store::is_busy(&e) && attempt < 5 =>
                {
                    attempt += 1
                }
                other => break other,
            }
        }
    }};
}

/// Runs `$body` in one write transaction `$tx` (the database's write turn held) with the
/// procedure's context `$ctx` at this instant, commits, and gives `$body`'s value; retried
/// while the database is busy ([`retry_when_busy`]).
macro_rules! in_write_tx {
    ($p:expr, |$tx:ident, $ctx:ident| $body:expr) => {
        retry_when_busy!(
            async {
                let snap = $p.procedure.snapshot();
                let $ctx = $p.procedure.ctx(&snap, $p.now());
                let _turn = $p.db.write_turn().await;
                let mut $tx = $p.db.begin_write().await?;
                let value = $body;
                $tx.commit().await?;
                Ok::<_, crate::workflow::WorkflowError>(value)
            }
            .await
        )
    };
}

impl Panel {
    /// The person behind a POST: a POST without a session is refused (no redirect: a form is
    /// not re-sent through the sign-in).
    pub(super) async fn signed_poster(&self, headers: &HeaderMap) -> Result<Signed, PanelError> {
        self.signed(headers).await?.ok_or(PanelError::Forbidden)
    }

    /// A posted form with the person who sent it, its CSRF token checked against their session.
    pub(super) async fn posted_form(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Signed, Form), PanelError> {
        let s = self.signed_poster(headers).await?;
        let form = Form::parse(body);
        form.check_csrf(&s.csrf)?;
        Ok((s, form))
    }
}
