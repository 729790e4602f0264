//! What a signed-in person does in the web panel, taken through the path of the mail that
//! would do the same: a requester's message is their mailed reply (`mail_in::reply`), a staff
//! member's form is the mailed command (`tramite::on_command`, the same rules and refusals), a
//! phone request is the `#solicitante` mail (`mail_in::open`). The panel session is the proof
//! of who acts (`domain::authority`); the adapter here only turns a form into what the mail
//! path reads.

use super::{apply, load_ticket, mail_in, Procedure};
use crate::domain::authority::{self, Evidence, Standing};
use crate::domain::mail_kind::MailKind;
use crate::domain::procedure::{tramite, Ctx};
use crate::domain::text::{self, Command};
use crate::domain::ticket::TicketNumber;
use crate::mail::inbound::{Attachment, InboundMail, Mailbox};
use crate::store::{self, messages, Conn};
use crate::workflow::notify::Mailer;
use crate::workflow::WorkflowError;

/// A file sent with a panel form.
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// What became of a staff member's form.
#[derive(Debug, PartialEq, Eq)]
pub enum Acted {
    Done,
    /// The procedure refused it, with the reason the mailed command would get.
    Refused(String),
    /// The person may see the ticket (its requester) but not work it.
    NotStaff,
    /// No such ticket, or not theirs to see.
    NotFound,
}

fn evidence(me: &str) -> Evidence {
    Evidence {
        session: Some(me.to_owned()),
        ..Default::default()
    }
}

/// What a person typed in a form, as the mail parser leaves a text: `\n` line ends and no
/// control characters but `\n` and `\t` (PostgreSQL refuses NUL).
fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// The form as the mail it stands for: from `from`, to the help desk, never automatic.
fn as_mail(
    proc: &Procedure,
    from: &str,
    subject: &str,
    text: &str,
    files: &[Upload],
) -> InboundMail {
    let domain = proc
        .helpdesk
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("mesayuda.invalid");
    InboundMail {
        message_id: format!("panel-{}@{domain}", store::panel::new_secret()),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        thread_index: None,
        from: Some(Mailbox {
            email: text::canonical_address(from),
            name: None,
        }),
        reply_to: None,
        to: vec![Mailbox {
            email: proc.helpdesk.clone(),
            name: None,
        }],
        cc: Vec::new(),
        subject: clean(subject).replace(['\n', '\t'], " "),
        date: None,
        body_text: clean(text),
        body_html: None,
        attachments: files
            .iter()
            .map(|f| {
                Attachment::new(
                    text::safe_filename(&f.filename),
                    f.content_type.clone(),
                    f.content.clone(),
                )
            })
            .collect(),
        auto: Default::default(),
        authentication_results: Vec::new(),
        delivered_to: Vec::new(),
        exchange_auth_as: None,
    }
}

/// Keeps the form's message with the ticket's mail, as a received mail is kept.
async fn keep(
    conn: &mut Conn,
    mail: &InboundMail,
    ticket: Option<TicketNumber>,
    kind: MailKind,
    at: i64,
) -> Result<i64, sqlx::Error> {
    let from = mail.from.as_ref().map(|f| f.email.as_str()).unwrap_or("");
    let row = messages::insert(
        conn,
        &messages::NewMessage {
            ticket,
            direction: "in",
            kind,
            message_id: &mail.message_id,
            in_reply_to: None,
            references: None,
            thread_key: None,
            from_addr: from,
            from_name: None,
            to_addrs: &mail
                .to
                .iter()
                .map(|m| m.email.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            subject: &mail.subject,
            body_text: &mail.body_text,
            body_html: None,
            at,
            raw: None,
            imap: None,
            created_at: at,
            // Typed in the panel: no raw mail to recognise a second copy of.
            fingerprint: None,
        },
    )
    .await?;
    for a in &mail.attachments {
        messages::insert_attachment(
            conn,
            &messages::NewAttachment {
                message_row: row,
                ticket,
                filename: &a.filename,
                content_type: &a.content_type,
                content: &a.content,
                size: a.size,
                sha256: &a.sha256,
            },
        )
        .await?;
    }
    Ok(row)
}

/// The requester writes on ticket `n` from its page: their mailed reply, word for word (the
/// information asked for, a survey answer, a message for whoever works it). Returns the
/// ticket the message ended on (a new one when `n` was closed, as by mail).
#[allow(clippy::too_many_arguments)]
pub async fn requester_message(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    n: TicketNumber,
    subject: &str,
    me: &str,
    text: &str,
    files: &[Upload],
    ctx: &Ctx<'_>,
) -> Result<TicketNumber, WorkflowError> {
    let mail = as_mail(proc, me, &format!("RE: {} {subject}", n.tag()), text, files);
    let row = keep(
        conn,
        &mail,
        Some(n),
        MailKind::Respuesta,
        store::unix(ctx.now),
    )
    .await?;
    let evidence = evidence(me);
    let received = mail_in::Received {
        mail: &mail,
        row,
        evidence: &evidence,
    };
    mail_in::reply(conn, mailer, proc, &received, n, ctx).await
}

/// A staff member's form on ticket `n`: the mailed command `cmd`, by the same rules.
pub async fn staff_command(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    n: TicketNumber,
    me: &str,
    cmd: &Command,
    ctx: &Ctx<'_>,
) -> Result<Acted, WorkflowError> {
    let Some(t) = load_ticket(conn, n).await? else {
        return Ok(Acted::NotFound);
    };
    let standing = authority::standing(
        me,
        &t.requester,
        n,
        tramite::is_agent(me, ctx),
        &[],
        &evidence(me),
        proc.rules(),
    );
    match standing {
        Standing::Staff => {}
        Standing::Requester | Standing::UnprovenRequester(_) | Standing::UnprovenStaff(_) => {
            return Ok(Acted::NotStaff)
        }
        Standing::ThirdParty => return Ok(Acted::NotFound),
    }
    match tramite::on_command(t, cmd, me, ctx) {
        Ok(plan) => {
            apply(conn, mailer, proc, &plan, ctx).await?;
            Ok(Acted::Done)
        }
        Err(why) => Ok(Acted::Refused(why)),
    }
}

/// A request taken by phone, registered by staff member `me` for `requester`: the mail
/// `#solicitante requester` with the request under it.
#[allow(clippy::too_many_arguments)]
pub async fn phone_request(
    conn: &mut Conn,
    mailer: &Mailer,
    proc: &Procedure,
    me: &str,
    requester: &str,
    subject: &str,
    text: &str,
    files: &[Upload],
    ctx: &Ctx<'_>,
) -> Result<mail_in::Opened, WorkflowError> {
    let body = format!("#solicitante {requester}\n\n{}", text.trim());
    let mail = as_mail(proc, me, subject, &body, files);
    let row = keep(conn, &mail, None, MailKind::Solicitud, store::unix(ctx.now)).await?;
    let evidence = evidence(me);
    let received = mail_in::Received {
        mail: &mail,
        row,
        evidence: &evidence,
    };
    mail_in::open(conn, mailer, proc, &received, None, true, ctx).await
}
