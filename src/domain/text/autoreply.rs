//! Telling machine-sent mail (bounces, out-of-office, lists, our own mail)
//! from mail a person wrote, so the help desk never answers a robot.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::normalize::{bare_address, canonical_address, fold};
use super::subject::strip_reply_prefixes;

/// The header values that betray automatic mail; `None` when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoSignals {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub x_autoreply: Option<String>,
    pub x_autorespond: Option<String>,
    pub x_auto_response_suppress: Option<String>,
    pub x_failed_recipients: Option<String>,
    /// The full `Content-Type` value, parameters included.
    pub content_type: Option<String>,
    pub return_path: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub list_id: Option<String>,
    pub list_unsubscribe: Option<String>,
    /// `Feedback-Type` of an ARF abuse report.
    pub feedback_type: Option<String>,
    /// The help desk's own addresses; `+detail` variants match too.
    pub own_addresses: Vec<String>,
}

/// Why a message must not be treated as written by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AutoKind {
    /// Sent by the help desk itself (a loop).
    OwnMail,
    /// Delivery failure report (DSN / NDR) or abuse feedback report.
    Bounce,
    /// Other automatic answer (RFC 3834, read receipt, Exchange rules).
    AutoReply,
    /// Out-of-office notice.
    OutOfOffice,
    /// Mailing list or mass mail.
    Bulk,
}

// Folded subject starts that only out-of-office notices use.
static OOF_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:respuesta automatica|resposta automatica|fuera de (?:la )?oficina|out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response)|autoreply|reponse automatique|i am out of (?:the )?office|(?:estoy|estare|me encuentro) fuera de (?:la )?oficina|no estoy en la oficina)",
    )
    .unwrap()
});
// Words a person might also start a subject with ("Vacaciones de Juan …"), so
// they count only when followed by a separator, "hasta" or a date.
static OOF_WEAK_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:ausente|vacaciones|de vacaciones|estoy de vacaciones|en vacaciones|on vacation|on leave)(?:\s*[:\-–—|]|\s+(?:hasta|desde|until|till)\b|\s+(?:del?|el)\s+\d|$)",
    )
    .unwrap()
});
static DSN_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:undeliver|undelivered|delivery (?:status notification|failure|has failed|delayed)|mail delivery (?:failed|failure|subsystem)|returned mail|failure notice|non[- ]?delivery|no se puede entregar|no se pudo entregar|mensaje no entregado|error de entrega|notificacion de estado de entrega|devolucion de correo|entrega fallida)",
    )
    .unwrap()
});

/// Classifies a message from its headers; `None` means a person wrote it.
///
/// Checked in order: own mail (a loop must never be answered, whatever else
/// it looks like), bounces, out-of-office subjects, other automatic replies,
/// bulk mail.
pub fn classify(s: &AutoSignals) -> Option<AutoKind> {
    if is_own(s) {
        Some(AutoKind::OwnMail)
    } else if is_bounce(s) {
        Some(AutoKind::Bounce)
    } else if is_out_of_office(s) {
        Some(AutoKind::OutOfOffice)
    } else if is_auto_reply(s) {
        Some(AutoKind::AutoReply)
    } else if is_bulk(s) {
        Some(AutoKind::Bulk)
    } else {
        None
    }
}

fn folded(v: Option<&str>) -> Option<String> {
    v.map(fold)
}

fn is_own(s: &AutoSignals) -> bool {
    let Some(from) = s.from.as_deref() else {
        return false;
    };
    let from = canonical_address(from);
    !from.is_empty()
        && s.own_addresses
            .iter()
            .any(|own| canonical_address(own) == from)
}

fn report_type(s: &AutoSignals) -> Option<String> {
    let ct = folded(s.content_type.as_deref())?;
    if !ct.starts_with("multipart/report") {
        return None;
    }
    let kind = ct
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("report-type"))
        .map(|v| {
            v.trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .next();
    // A report without report-type is taken for a delivery report.
    Some(kind.unwrap_or_else(|| "delivery-status".into()))
}

fn is_bounce(s: &AutoSignals) -> bool {
    if s.x_failed_recipients.is_some() || s.feedback_type.is_some() {
        return true;
    }
    if let Some(kind) = report_type(s) {
        if kind == "delivery-status" || kind == "feedback-report" {
            return true;
        }
    }
    let from_daemon = s.from.as_deref().is_some_and(|f| {
        let local = bare_address(f)
            .split('@')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        local == "mailer-daemon" || local == "postmaster"
    });
    from_daemon || (null_sender(s) && dsn_subject(s))
}

fn null_sender(s: &AutoSignals) -> bool {
    s.return_path
        .as_deref()
        .is_some_and(|r| r.trim().trim_matches(['<', '>']).trim().is_empty())
}

fn dsn_subject(s: &AutoSignals) -> bool {
    folded(s.subject.as_deref()).is_some_and(|f| DSN_SUBJECT.is_match(strip_reply_prefixes(&f)))
}

fn is_out_of_office(s: &AutoSignals) -> bool {
    folded(s.subject.as_deref()).is_some_and(|f| {
        let bare = strip_reply_prefixes(&f);
        [f.as_str(), bare]
            .iter()
            .any(|t| OOF_SUBJECT.is_match(t) || OOF_WEAK_SUBJECT.is_match(t))
    })
}

fn is_auto_reply(s: &AutoSignals) -> bool {
    // RFC 3834: any value but "no" (parameters may follow a `;`).
    let auto_submitted = folded(s.auto_submitted.as_deref()).is_some_and(|v| {
        let value = v.split(';').next().unwrap_or("").trim();
        !value.is_empty() && value != "no"
    });
    // Exchange marks the replies it generates (OOF, rules) this way; mail a
    // person writes in Outlook does not carry the header.
    let suppress = folded(s.x_auto_response_suppress.as_deref()).is_some_and(|v| {
        v.split([',', ' '])
            .any(|t| matches!(t, "all" | "oof" | "autoreply"))
    });
    let precedence = folded(s.precedence.as_deref()).is_some_and(|p| p == "auto_reply");
    auto_submitted
        || s.x_autoreply.is_some()
        || s.x_autorespond.is_some()
        || suppress
        || precedence
        || report_type(s).is_some()
        || null_sender(s)
}

fn is_bulk(s: &AutoSignals) -> bool {
    let precedence = folded(s.precedence.as_deref())
        .is_some_and(|p| matches!(p.as_str(), "bulk" | "junk" | "list"));
    precedence || s.list_id.is_some() || s.list_unsubscribe.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> AutoSignals {
        AutoSignals {
            from: Some("Juan Pérez <jperez@minhacienda.gov.co>".into()),
            subject: Some("RE: [REQ-12] Acceso a SIIF".into()),
            return_path: Some("<jperez@minhacienda.gov.co>".into()),
            content_type: Some("multipart/alternative; boundary=\"b1\"".into()),
            own_addresses: vec!["mesaayuda@minhacienda.gov.co".into()],
            ..Default::default()
        }
    }

    #[test]
    fn person_mail_is_not_automatic() {
        assert_eq!(classify(&person()), None);
        assert_eq!(classify(&AutoSignals::default()), None);
        let mut s = person();
        s.auto_submitted = Some("No ; comentario".into());
        s.subject = Some("Vacaciones de Juan: solicitud de acceso para su reemplazo".into());
        assert_eq!(classify(&s), None);
    }

    #[test]
    fn own_mail_first() {
        let mut s = person();
        s.from = Some("Mesa de Ayuda <MesaAyuda+a1b2c3d4e5f6g7h8@Minhacienda.gov.co>".into());
        s.auto_submitted = Some("auto-generated".into());
        s.precedence = Some("bulk".into());
        assert_eq!(classify(&s), Some(AutoKind::OwnMail));
    }

    #[test]
    fn exchange_ndr_is_a_bounce() {
        let s = AutoSignals {
            from: Some("Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@minhacienda.gov.co>".into()),
            subject: Some("No se puede entregar: [REQ-12] Acceso a SIIF".into()),
            content_type: Some("multipart/report; report-type=delivery-status;\r\n\tboundary=\"x\"".into()),
            ..Default::default()
        };
        assert_eq!(classify(&s), Some(AutoKind::Bounce));
    }

    #[test]
    fn other_bounce_signals() {
        let mut s = person();
        s.from = Some("MAILER-DAEMON@mx.gov.co".into());
        assert_eq!(classify(&s), Some(AutoKind::Bounce));
        let mut s = person();
        s.x_failed_recipients = Some("x@y.co".into());
        assert_eq!(classify(&s), Some(AutoKind::Bounce));
        let mut s = person();
        s.from = Some("Mail Delivery System <postmaster@y.co>".into());
        assert_eq!(classify(&s), Some(AutoKind::Bounce));
        let mut s = person();
        s.return_path = Some("<>".into());
        s.subject = Some("Undelivered Mail Returned to Sender".into());
        assert_eq!(classify(&s), Some(AutoKind::Bounce));
    }

    #[test]
    fn out_of_office_subjects() {
        for subject in [
            "Respuesta automática: RE: [REQ-12] Acceso",
            "Fuera de la oficina: [INC-3]",
            "Out of Office: Re: [REQ-1]",
            "Automatic reply: [REQ-1] x",
            "AUTOREPLY",
            "Ausente hasta el 20 de marzo",
            "Ausente del 3 al 10 de marzo",
            "RE: Vacaciones",
            "Vacaciones - regreso el lunes",
        ] {
            let mut s = person();
            s.subject = Some(subject.into());
            assert_eq!(classify(&s), Some(AutoKind::OutOfOffice), "{subject}");
        }
        let mut s = person();
        s.auto_submitted = Some("auto-replied".into());
        s.x_auto_response_suppress = Some("All".into());
        s.subject = Some("Respuesta automática: [REQ-12]".into());
        assert_eq!(classify(&s), Some(AutoKind::OutOfOffice));
    }

    #[test]
    fn auto_replies() {
        let cases: [fn(&mut AutoSignals); 6] = [
            |s| s.auto_submitted = Some("auto-replied; owner-email=\"x@y.co\"".into()),
            |s| s.x_autoreply = Some("yes".into()),
            |s| s.x_autorespond = Some(String::new()),
            |s| s.x_auto_response_suppress = Some("DR, OOF, AutoReply".into()),
            |s| {
                s.content_type =
                    Some("multipart/report; report-type=\"disposition-notification\"".into())
            },
            |s| s.return_path = Some("<>".into()),
        ];
        for (i, set) in cases.iter().enumerate() {
            let mut s = person();
            set(&mut s);
            assert_eq!(classify(&s), Some(AutoKind::AutoReply), "case {i}");
        }
    }

    #[test]
    fn bulk_mail() {
        let mut s = person();
        s.precedence = Some("List".into());
        assert_eq!(classify(&s), Some(AutoKind::Bulk));
        let mut s = person();
        s.list_id = Some("<boletin.minhacienda.gov.co>".into());
        assert_eq!(classify(&s), Some(AutoKind::Bulk));
        let mut s = person();
        s.list_unsubscribe = Some("<mailto:unsub@x.co>".into());
        assert_eq!(classify(&s), Some(AutoKind::Bulk));
    }
}
