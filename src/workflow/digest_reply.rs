//! Replies to the approvals digest. The digest belongs to no ticket, so its reply would open a
//! new request ("APROBAR" as a ticket); instead it opens nothing and its writer is told to
//! answer each request's own approval mail, whose token is what decides.

use crate::domain::mail_kind::MailKind;
use crate::domain::template::Template;
use crate::mail::inbound::InboundMail;
use crate::store::{messages, Conn};
use crate::workflow::notify::{Mailer, Notice};
use crate::workflow::WorkflowError;
use serde_json::json;

/// Whether `mail` answers one of our digests (its In-Reply-To or References name one).
pub async fn answers_digest(conn: &mut Conn, mail: &InboundMail) -> Result<bool, sqlx::Error> {
    let mut ids = mail.references.clone();
    ids.extend(mail.in_reply_to.iter().cloned());
    messages::answers_outgoing_kind(conn, &ids, MailKind::ResumenAprobaciones).await
}

/// Tells `to` that the digest decides nothing and what to answer instead.
pub async fn explain(
    conn: &mut Conn,
    mailer: &Mailer,
    to: &str,
    name: &str,
    at: i64,
) -> Result<(), WorkflowError> {
    let n = Notice::ticketless(
        MailKind::RespuestaResumen,
        Template::RespuestaResumen,
        json!({ "approver": to, "approver_name": name }),
        to.to_owned(),
        at,
        Some(12),
        "Respuesta al resumen de aprobaciones: sin efecto, explicado al aprobador",
    );
    mailer.queue(conn, &n).await?;
    Ok(())
}
