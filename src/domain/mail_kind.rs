//! What kind of mail a row of `messages` (in or out) or `outbox` is, by name. Outgoing mail
//! about no ticket is stored under its template's name (`catalogo`, `informe_mensual`). The
//! database accepts exactly these (migration 0020's `CHECK`s, built from [`MailKind::all`] in
//! `store::known_values`): a kind added here needs a migration, and one the code stops writing
//! stays, since old rows hold it.

use strum::{EnumIter, EnumString, IntoStaticStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum MailKind {
    AccionNoVerificada,
    AccionRechazada,
    Acuse,
    /// Out: the operators' alert that a login is refused.
    AlertaOperaciones,
    AlertaSla,
    AprobacionInvalida,
    Aprobado,
    Asignacion,
    AvisoAgentes,
    AvisoAsignado,
    Catalogo,
    Cierre,
    ComandoInvalido,
    /// In: another copy of a mail already taken in (its mailbox position, to move it too).
    Copia,
    CorreoPropio,
    /// In: a mail that could not be read, kept with its reason.
    Cuarentena,
    DecisionRegistrada,
    Encuesta,
    EncuestaRegistrada,
    EnlaceIngreso,
    EsperaAprobacion,
    FueraDeOficina,
    Incidente,
    IncidenteCopia,
    InformacionFaltante,
    InformeMensual,
    /// In: a request held by the per-sender limit; out: the agents' notice of it.
    LimiteRemitente,
    Masivo,
    MensajeTercero,
    NuevaSolicitud,
    Rebote,
    /// In: any later mail on a request (requester, agent, the panel's answer).
    Respuesta,
    RespuestaAgente,
    RespuestaAprobacion,
    RespuestaAutomatica,
    /// In: a person's mail on an incident.
    RespuestaIncidente,
    RespuestaNoEntendida,
    RespuestaPendiente,
    /// In: an answer to the approvals digest; out: the explanation sent back.
    RespuestaResumen,
    RespuestaSinEfecto,
    /// Out: the approvals digest.
    ResumenAprobaciones,
    /// In: a mail in a requester's name that nothing proves — a `#solicitante` mail refused, or
    /// a message on their ticket passed on marked unverified (kept out of what an approver
    /// reads and of the request's files); out: the notice of the refused `#solicitante`.
    SolicitanteNoVerificado,
    /// In: the mail that opened a request.
    Solicitud,
    SolicitudAprobacion,
    // No longer written; kept so that a database holding it still migrates and reads.
    /// Out: the agents' alert of a refused approval answer, now `accion_no_verificada`.
    AlertaSeguridad,
}

impl MailKind {
    /// The kinds only old databases hold: accepted when read, never written.
    pub const HISTORICAL: [MailKind; 1] = [MailKind::AlertaSeguridad];

    /// Mail nobody is waiting for at the moment it is queued: the agents' notices of new work
    /// and of decisions, the SLA alerts, the approvers' digest and the monthly report. When
    /// mail queues up (a burst of requests), the outbox sends these after the mail someone is
    /// waiting for (an acknowledgement with its number, a question about the request, an
    /// answer to a command), instead of in the order queued: a burst of 1,000 requests
    /// queues about 1,200 notices to agents next to the 1,000 acknowledgements.
    pub fn can_wait(self) -> bool {
        matches!(
            self,
            MailKind::NuevaSolicitud
                | MailKind::AvisoAgentes
                | MailKind::AlertaSla
                | MailKind::ResumenAprobaciones
                | MailKind::InformeMensual
        )
    }
}

super::stored_words!(MailKind, "The stored name, e.g. `acuse`.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_stored_words() {
        assert_eq!(MailKind::FueraDeOficina.as_str(), "fuera_de_oficina");
        assert_eq!(MailKind::Acuse.as_str(), "acuse");
        assert_eq!(
            "limite_remitente".parse::<MailKind>(),
            Ok(MailKind::LimiteRemitente)
        );
        assert!(MailKind::HISTORICAL
            .iter()
            .all(|h| MailKind::all().any(|k| k == *h)));
    }

    #[test]
    fn what_people_wait_for_does_not_wait() {
        for k in [
            MailKind::Acuse,
            MailKind::InformacionFaltante,
            MailKind::SolicitudAprobacion,
            MailKind::Respuesta,
            MailKind::ComandoInvalido,
            MailKind::Encuesta,
            MailKind::AlertaOperaciones,
            MailKind::AvisoAsignado,
        ] {
            assert!(!k.can_wait(), "{k}");
        }
        assert!(MailKind::NuevaSolicitud.can_wait());
        assert!(MailKind::AlertaSla.can_wait());
    }
}
