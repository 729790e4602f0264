//! Who may change a ticket, and what proves it. A From header proves nothing: a staff action
//! (an agent's command or public answer, an approval answer, a request registered on someone
//! else's behalf) and a requester's change to their own ticket (information supplied, a survey
//! rating, "no está resuelto") count only when the From address is that person's **and** the
//! mail carries proof — the personal reply token we sent to that person about that ticket, or
//! our own MTA's authentication of the sender. The same rules serve every channel (mail, panel, CLI):
//! each adapter gathers its [`Evidence`], the procedure asks this module.

use super::text::canonical_address;
use super::ticket::TicketNumber;

/// Why a token was issued: approval tokens decide once; reply tokens let a staff member act on
/// the ticket they were told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Approval,
    Reply,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Approval => "aprobacion",
            TokenPurpose::Reply => "respuesta",
        }
    }

    pub fn parse(s: &str) -> Option<TokenPurpose> {
        [TokenPurpose::Approval, TokenPurpose::Reply]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// A token the mail came back with that matched one we issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub ticket: TicketNumber,
    /// The one address it was sent to: a person's, or a resolver group's list (see
    /// [`standing`]).
    pub recipient: String,
    pub purpose: TokenPurpose,
    /// Used (an approval decided with it) or revoked (its approval cancelled).
    pub spent: bool,
}

/// What an inbound mail (or a panel session) offers as proof of its sender.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub token: Option<IssuedToken>,
    /// The mail carried something shaped like a token that we never issued.
    pub unknown_token: bool,
    /// Our MTA vouched for the From domain: the topmost Authentication-Results with the trusted
    /// authserv-id passed, or Exchange marked the mail as internal.
    pub header_authenticated: bool,
    /// A signed-in panel session: the address its one-time sign-in link was mailed to.
    pub session: Option<String>,
}

/// The `[security]` rules that apply to every channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// `require_authentication_results`: header authentication on top of the token.
    pub require_header_authentication: bool,
}

/// Why a staff action was not accepted, in words the person named in From can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse(why: &str) -> Result<(), Refusal> {
    Err(Refusal(why.to_owned()))
}

/// Whether `from` proved to be themselves for an action on `ticket`.
pub fn prove(from: &str, ticket: TicketNumber, e: &Evidence, rules: Rules) -> Result<(), Refusal> {
    // A panel session proves its mailbox: the sign-in link was mailed to that address, used
    // once, and only someone reading that mailbox could open it. That is more than DMARC/DKIM
    // say of a mail (they vouch for a domain, not a person), so it satisfies
    // `require_header_authentication` as well. It proves nothing about anyone else.
    if let Some(session) = &e.session {
        return if canonical_address(session) == canonical_address(from) {
            Ok(())
        } else {
            refuse("la sesión del panel pertenece a otra persona")
        };
    }
    combine(
        token_for(from, &[], ticket, e),
        e.header_authenticated,
        rules,
    )
}

/// [`prove`] for a member of resolver groups with list addresses (`lists`): a code issued to
/// one of those lists was read by its members, so it proves any of them — their own address
/// in From still has to be a member's.
fn prove_member(
    from: &str,
    lists: &[String],
    ticket: TicketNumber,
    e: &Evidence,
    rules: Rules,
) -> Result<(), Refusal> {
    if e.session.is_some() {
        return prove(from, ticket, e, rules);
    }
    combine(
        token_for(from, lists, ticket, e),
        e.header_authenticated,
        rules,
    )
}

/// How a token's verdict and header authentication make proof under `[security]`: either one,
/// or both with `require_authentication_results`. The one place that decides it, for requests
/// and incidents alike.
pub fn combine(
    token: Result<(), Refusal>,
    header_authenticated: bool,
    rules: Rules,
) -> Result<(), Refusal> {
    match (rules.require_header_authentication, header_authenticated) {
        (true, false) => refuse(NO_HEADER_AUTH),
        (true, true) => token,
        (false, true) => Ok(()),
        (false, false) => token,
    }
}

/// A new mail on nobody's ticket (an agent registering a phone request): there is no token to
/// answer, so only our MTA's authentication of the sender counts — or, from the panel, the
/// session of `from` itself.
pub fn prove_without_ticket(from: &str, e: &Evidence) -> Result<(), Refusal> {
    if let Some(session) = &e.session {
        return if canonical_address(session) == canonical_address(from) {
            Ok(())
        } else {
            refuse("la sesión del panel pertenece a otra persona")
        };
    }
    if e.header_authenticated {
        Ok(())
    } else {
        refuse(NO_HEADER_AUTH)
    }
}

const NO_HEADER_AUTH: &str =
    "el servidor de correo de la entidad no confirmó la autenticidad del remitente (DMARC/DKIM)";

/// `lists`: list addresses whose codes prove `from` as well as their own.
fn token_for(
    from: &str,
    lists: &[String],
    ticket: TicketNumber,
    e: &Evidence,
) -> Result<(), Refusal> {
    let sent_to = |t: &IssuedToken| {
        let to = canonical_address(&t.recipient);
        to == canonical_address(from) || lists.iter().any(|l| canonical_address(l) == to)
    };
    match &e.token {
        Some(t) if t.ticket != ticket => {
            refuse("el código de respuesta del mensaje pertenece a otro requerimiento")
        }
        Some(t) if !sent_to(t) => {
            refuse("el código de respuesta del mensaje fue enviado a otra persona")
        }
        Some(_) => Ok(()),
        None if e.unknown_token => refuse("el código de respuesta del mensaje no es válido"),
        None => refuse(
            "el mensaje no responde a un correo que la mesa de ayuda le haya enviado sobre este \
             requerimiento",
        ),
    }
}

/// Who someone is on one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The person who asked, proven: adds information, answers the survey, says it is not
    /// resolved.
    Requester,
    /// The requester's address in From, without proof: anyone can write that header, and a
    /// forged rating, reopening or answer to the approver question would change the ticket, so
    /// the mail changes nothing and the requester is told how to make it count.
    UnprovenRequester(Refusal),
    /// Help-desk staff, proven; may command the ticket.
    Staff,
    /// Help-desk staff by the directory, but without proof: the action is refused.
    UnprovenStaff(Refusal),
    /// Anyone else: the message is kept on the ticket and changes nothing.
    ThirdParty,
}

/// `is_staff`: the directory gives `from` a role that works tickets; `lists`: the list
/// addresses of the resolver groups `from` is a member of (`Directory::lists_of`), whose
/// notices carry a code issued to the list.
pub fn standing(
    from: &str,
    requester: &str,
    ticket: TicketNumber,
    is_staff: bool,
    lists: &[String],
    e: &Evidence,
    rules: Rules,
) -> Standing {
    if canonical_address(from) == canonical_address(requester) {
        return match prove(from, ticket, e, rules) {
            Ok(()) => Standing::Requester,
            Err(r) => Standing::UnprovenRequester(r),
        };
    }
    if !is_staff {
        return Standing::ThirdParty;
    }
    match prove_member(from, lists, ticket, e, rules) {
        Ok(()) => Standing::Staff,
        Err(r) => Standing::UnprovenStaff(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TicketNumber = TicketNumber(8);
    const LAURA: &str = "laura.rojas@example.test";

    fn token(ticket: i64, to: &str) -> Evidence {
        Evidence {
            token: Some(IssuedToken {
                ticket: TicketNumber(ticket),
                recipient: to.into(),
                purpose: TokenPurpose::Reply,
                spent: false,
            }),
            ..Default::default()
        }
    }

    const OPEN: Rules = Rules {
        require_header_authentication: false,
    };
    const STRICT: Rules = Rules {
        require_header_authentication: true,
    };

    #[test]
    fn a_from_header_alone_proves_nothing() {
        assert!(prove(LAURA, T, &Evidence::default(), OPEN).is_err());
    }

    #[test]
    fn the_token_sent_to_that_person_about_that_ticket_proves_them() {
        assert!(prove(LAURA, T, &token(8, LAURA), OPEN).is_ok());
        assert!(prove("Laura.Rojas@Example.test", T, &token(8, LAURA), OPEN).is_ok());
    }

    #[test]
    fn someone_elses_token_or_another_tickets_token_does_not() {
        let other = prove(LAURA, T, &token(8, "miguel@example.test"), OPEN).unwrap_err();
        assert!(other.0.contains("otra persona"));
        let elsewhere = prove(LAURA, T, &token(9, LAURA), OPEN).unwrap_err();
        assert!(elsewhere.0.contains("otro requerimiento"));
    }

    #[test]
    fn header_authentication_alone_suffices_unless_both_are_required() {
        let headers = Evidence {
            header_authenticated: true,
            ..Default::default()
        };
        assert!(prove(LAURA, T, &headers, OPEN).is_ok());
        assert!(prove(LAURA, T, &headers, STRICT).is_err());
        let both = Evidence {
            header_authenticated: true,
            ..token(8, LAURA)
        };
        assert!(prove(LAURA, T, &both, STRICT).is_ok());
        assert!(prove(LAURA, T, &token(8, LAURA), STRICT).is_err());
    }

    #[test]
    fn a_panel_session_proves_its_owner_even_when_header_authentication_is_required() {
        let session = |who: &str| Evidence {
            session: Some(who.into()),
            ..Default::default()
        };
        assert!(prove(LAURA, T, &session(LAURA), OPEN).is_ok());
        assert!(prove("Laura.Rojas@Example.test", T, &session(LAURA), STRICT).is_ok());
        let other = prove(LAURA, T, &session("miguel@example.test"), STRICT).unwrap_err();
        assert!(other.0.contains("otra persona"));
    }

    #[test]
    fn a_new_mail_needs_header_authentication() {
        assert!(prove_without_ticket(LAURA, &Evidence::default()).is_err());
        assert!(prove_without_ticket(
            LAURA,
            &Evidence {
                header_authenticated: true,
                ..Default::default()
            }
        )
        .is_ok());
        let session = |who: &str| Evidence {
            session: Some(who.into()),
            ..Default::default()
        };
        assert!(prove_without_ticket(LAURA, &session(LAURA)).is_ok());
        assert!(prove_without_ticket(LAURA, &session("miguel@example.test")).is_err());
    }

    #[test]
    fn standing_on_a_ticket() {
        let ana = "ana@example.test";
        let none = Evidence::default();
        assert!(matches!(
            standing(ana, ana, T, false, &[], &none, OPEN),
            Standing::UnprovenRequester(_)
        ));
        assert_eq!(
            standing(ana, ana, T, false, &[], &token(8, ana), OPEN),
            Standing::Requester
        );
        // Another ticket's token, or one sent to someone else, proves nothing here either.
        assert!(matches!(
            standing(ana, ana, T, false, &[], &token(9, ana), OPEN),
            Standing::UnprovenRequester(_)
        ));
        assert!(matches!(
            standing(ana, ana, T, false, &[], &token(8, LAURA), OPEN),
            Standing::UnprovenRequester(_)
        ));
        assert_eq!(
            standing("mallory@example.test", ana, T, false, &[], &none, OPEN),
            Standing::ThirdParty
        );
        assert!(matches!(
            standing(LAURA, ana, T, true, &[], &none, OPEN),
            Standing::UnprovenStaff(_)
        ));
        assert_eq!(
            standing(LAURA, ana, T, true, &[], &token(8, LAURA), OPEN),
            Standing::Staff
        );
    }

    /// A resolver group with a list address: its notices carry a code issued to the list,
    /// which proves the list's members, and nobody else.
    #[test]
    fn a_code_sent_to_a_groups_list_proves_its_members() {
        let ana = "ana@example.test";
        let list = "soporte@example.test";
        let lists = vec![list.to_owned()];
        assert_eq!(
            standing(LAURA, ana, T, true, &lists, &token(8, list), OPEN),
            Standing::Staff
        );
        // Staff who are not members do not read the list.
        assert!(matches!(
            standing(LAURA, ana, T, true, &[], &token(8, list), OPEN),
            Standing::UnprovenStaff(_)
        ));
        // Nor does the requester prove anything with a code sent to a list.
        assert!(matches!(
            standing(ana, ana, T, false, &lists, &token(8, list), OPEN),
            Standing::UnprovenRequester(_)
        ));
        // The list's code is still bound to its ticket.
        assert!(matches!(
            standing(LAURA, ana, T, true, &lists, &token(9, list), OPEN),
            Standing::UnprovenStaff(_)
        ));
    }
}
