//! What an inbound mail offers as proof of its sender (see `domain::authority`): a token we
//! issued, found by its hash, and our own MTA's word on the sender's domain.

use super::Procedure;
use crate::domain::authority::Evidence;
use crate::domain::authresults;
use crate::domain::text;
use crate::mail::inbound::InboundMail;
use crate::store::{approvals, incidents, Conn};

/// The token the mail carries: the plus-address it was sent to, else an `[APR:…]` subject tag.
pub fn token(mail: &InboundMail, helpdesk_local: &str) -> Option<String> {
    mail.recipients()
        .map(|m| m.email.as_str())
        .chain(mail.delivered_to.iter().map(String::as_str))
        .find_map(|a| text::plus_token(a, helpdesk_local))
        .or_else(|| text::subject_token(&mail.subject))
}

pub async fn gather(
    conn: &mut Conn,
    proc: &Procedure,
    mail: &InboundMail,
) -> Result<Evidence, sqlx::Error> {
    let local = proc.helpdesk.split('@').next().unwrap_or("");
    let (issued, unknown) = match token(mail, local) {
        Some(t) => {
            let issued = approvals::find_token(conn, &t).await?;
            // A token issued on an incident's mail is ours too: see `incident_token`.
            let unknown = issued.is_none() && incidents::find_token(conn, &t).await?.is_none();
            (issued, unknown)
        }
        None => (None, false),
    };
    Ok(Evidence {
        token: issued,
        unknown_token: unknown,
        header_authenticated: header_authenticated(mail, proc),
        session: None,
    })
}

/// [`gather`] from what was already read: the token issued under the mail's token (if any),
/// and whether an incident token matched it.
pub fn from_found(
    proc: &Procedure,
    mail: &InboundMail,
    issued: Option<crate::domain::authority::IssuedToken>,
    incident_token: bool,
) -> Evidence {
    let local = proc.helpdesk.split('@').next().unwrap_or("");
    let carried = token(mail, local).is_some();
    Evidence {
        unknown_token: carried && issued.is_none() && !incident_token,
        token: issued,
        header_authenticated: header_authenticated(mail, proc),
        session: None,
    }
}

fn header_authenticated(mail: &InboundMail, proc: &Procedure) -> bool {
    let from = mail.from.as_ref().map(|f| f.email.as_str()).unwrap_or("");
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    if domain.is_empty() {
        return false;
    }
    let by_results = proc
        .security
        .trusted_authserv_id
        .as_deref()
        .is_some_and(|trusted| authresults::passes(&mail.authentication_results, trusted, domain));
    let by_exchange = proc.security.exchange_internal
        && authresults::exchange_internal(mail.exchange_auth_as.as_deref());
    by_results || by_exchange
}

/// The incident and recipient of the personal token the mail came back with, when it was
/// issued on an incident's mail (`incident_tokens`).
pub async fn incident_token(
    conn: &mut Conn,
    proc: &Procedure,
    mail: &InboundMail,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let local = proc.helpdesk.split('@').next().unwrap_or("");
    match token(mail, local) {
        Some(t) => incidents::find_token(conn, &t).await,
        None => Ok(None),
    }
}
