//! Incidents (`INC-m`) seen from the request procedure: what proves the agent who sends one
//! back to it (`#requerimiento`). The rules are `authority`'s, applied to the tokens issued on
//! an incident's mail, which are bound to that incident and never to a request.

use super::authority::{self, Refusal, Rules};
use super::text::canonical_address;

/// What a mail about incident `id` offers as proof of its sender.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentEvidence {
    /// The incident and the one recipient of the personal token the mail came back with.
    pub token: Option<(i64, String)>,
    /// The mail carried something shaped like a token that we never issued.
    pub unknown_token: bool,
    /// Our MTA vouched for the From domain (see `authority::Evidence`).
    pub header_authenticated: bool,
}

/// Whether `from` proved to be themselves for an action on incident `id`: as on a request,
/// header authentication or the token sent to them about this incident (both when
/// `[security] require_authentication_results`).
pub fn prove(from: &str, id: i64, e: &IncidentEvidence, rules: Rules) -> Result<(), Refusal> {
    let token = match &e.token {
        Some((other, _)) if *other != id => {
            Err("el código de respuesta del mensaje pertenece a otro incidente")
        }
        Some((_, to)) if canonical_address(to) != canonical_address(from) => {
            Err("el código de respuesta del mensaje fue enviado a otra persona")
        }
        Some(_) => Ok(()),
        None if e.unknown_token => Err("el código de respuesta del mensaje no es válido"),
        None => Err(
            "el mensaje no responde a un correo que la mesa de ayuda le haya enviado sobre este \
             incidente",
        ),
    };
    let token = token.map_err(|why| Refusal(why.to_owned()));
    authority::combine(token, e.header_authenticated, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAURA: &str = "laura.rojas@example.test";
    const OPEN: Rules = Rules {
        require_header_authentication: false,
    };
    const STRICT: Rules = Rules {
        require_header_authentication: true,
    };

    fn token(id: i64, to: &str) -> IncidentEvidence {
        IncidentEvidence {
            token: Some((id, to.to_owned())),
            ..Default::default()
        }
    }

    #[test]
    fn the_token_sent_to_that_agent_about_that_incident_proves_them() {
        assert!(prove(LAURA, 3, &token(3, LAURA), OPEN).is_ok());
        assert!(prove("Laura.Rojas@Example.test", 3, &token(3, LAURA), OPEN).is_ok());
    }

    #[test]
    fn a_from_header_another_incidents_or_another_persons_token_do_not() {
        assert!(prove(LAURA, 3, &IncidentEvidence::default(), OPEN).is_err());
        let elsewhere = prove(LAURA, 3, &token(4, LAURA), OPEN).unwrap_err();
        assert!(elsewhere.0.contains("otro incidente"), "{elsewhere}");
        let other = prove(LAURA, 3, &token(3, "miguel@example.test"), OPEN).unwrap_err();
        assert!(other.0.contains("otra persona"), "{other}");
        let forged = IncidentEvidence {
            unknown_token: true,
            ..Default::default()
        };
        assert!(prove(LAURA, 3, &forged, OPEN)
            .unwrap_err()
            .0
            .contains("no es válido"));
    }

    #[test]
    fn header_authentication_suffices_unless_both_are_required() {
        let headers = IncidentEvidence {
            header_authenticated: true,
            ..Default::default()
        };
        assert!(prove(LAURA, 3, &headers, OPEN).is_ok());
        assert!(prove(LAURA, 3, &headers, STRICT).is_err());
        assert!(prove(LAURA, 3, &token(3, LAURA), STRICT).is_err());
        let both = IncidentEvidence {
            header_authenticated: true,
            ..token(3, LAURA)
        };
        assert!(prove(LAURA, 3, &both, STRICT).is_ok());
    }
}
