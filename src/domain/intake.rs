//! Activities 1–3 (Recibir, Validar, Registrar): what to do with a mail that reached the help
//! desk, decided from facts the adapters gathered. Pure: no I/O, no clock.

use super::mail_kind::MailKind;
use super::text::AutoKind;
use super::ticket::TicketNumber;

/// What the adapters found out about an inbound mail.
#[derive(Debug, Clone)]
pub struct IntakeFacts {
    /// Set when the mail is an auto-reply, bounce, list mail or our own notification.
    pub auto: Option<AutoKind>,
    /// The ticket the mail threads onto, by subject tag or by headers.
    pub thread: Option<TicketNumber>,
    /// Older (by arrival) than the configured age: imported silently.
    pub too_old_to_acknowledge: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeDecision {
    /// Activity 1 → 3: register a new request, acknowledged unless it is too old.
    OpenTicket { acknowledge: bool },
    /// A reply on an existing ticket.
    AddToTicket(TicketNumber),
    /// Machine-written mail: kept (on its ticket when it has one), never answered, never a
    /// ticket, so that two robots cannot answer each other forever.
    StoreWithoutAnswer {
        ticket: Option<TicketNumber>,
        kind: AutoKind,
    },
}

pub fn decide(f: &IntakeFacts) -> IntakeDecision {
    if let Some(kind) = f.auto {
        return IntakeDecision::StoreWithoutAnswer {
            ticket: f.thread,
            kind,
        };
    }
    match f.thread {
        Some(t) => IntakeDecision::AddToTicket(t),
        None => IntakeDecision::OpenTicket {
            acknowledge: !f.too_old_to_acknowledge,
        },
    }
}

/// How a machine-written mail is labelled on the ticket (message kind, Spanish like the UI).
pub fn auto_label(kind: AutoKind) -> MailKind {
    match kind {
        AutoKind::OwnMail => MailKind::CorreoPropio,
        AutoKind::Bounce => MailKind::Rebote,
        AutoKind::AutoReply => MailKind::RespuestaAutomatica,
        AutoKind::OutOfOffice => MailKind::FueraDeOficina,
        AutoKind::Bulk => MailKind::Masivo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(auto: Option<AutoKind>, thread: Option<i64>, old: bool) -> IntakeFacts {
        IntakeFacts {
            auto,
            thread: thread.map(TicketNumber),
            too_old_to_acknowledge: old,
        }
    }

    #[test]
    fn a_new_mail_opens_an_acknowledged_ticket() {
        assert_eq!(
            decide(&facts(None, None, false)),
            IntakeDecision::OpenTicket { acknowledge: true }
        );
    }

    #[test]
    fn an_old_mail_is_registered_without_acknowledgement() {
        assert_eq!(
            decide(&facts(None, None, true)),
            IntakeDecision::OpenTicket { acknowledge: false }
        );
    }

    #[test]
    fn a_threaded_mail_joins_its_ticket() {
        assert_eq!(
            decide(&facts(None, Some(4), false)),
            IntakeDecision::AddToTicket(TicketNumber(4))
        );
    }

    #[test]
    fn an_out_of_office_never_opens_a_ticket_even_unthreaded() {
        assert_eq!(
            decide(&facts(Some(AutoKind::OutOfOffice), None, false)),
            IntakeDecision::StoreWithoutAnswer {
                ticket: None,
                kind: AutoKind::OutOfOffice
            }
        );
        assert_eq!(
            decide(&facts(Some(AutoKind::Bounce), Some(2), false)),
            IntakeDecision::StoreWithoutAnswer {
                ticket: Some(TicketNumber(2)),
                kind: AutoKind::Bounce
            }
        );
    }
}
