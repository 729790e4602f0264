//! What the audit trail (`events.kind`) records, by name. The database accepts exactly these
//! (migration 0020's `CHECK`, built from [`EventKind::all`] in `store::known_values`): a kind
//! added here needs a migration, and one the code stops writing stays, since old rows hold it.

use strum::{EnumIter, EnumString, IntoStaticStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum EventKind {
    AccionRechazada,
    AlertaSla,
    AprobacionCancelada,
    AprobacionSolicitada,
    AprobacionVencida,
    Aprobado,
    AprobadorAusente,
    AprobadorCorregido,
    AprobadorInvalido,
    Asignado,
    Cambio,
    Categorizado,
    ComandosIgnorados,
    Comentario,
    ConvertidoIncidente,
    CorreoAutomatico,
    CorreoEnviado,
    Encuesta,
    Estado,
    Evidencia,
    IncidenteAbierto,
    Incompleto,
    InformacionRecibida,
    MensajeTercero,
    Nota,
    Prioridad,
    Reabierto,
    Rechazado,
    Recordatorio,
    Registrado,
    Relacionado,
    RequiereAprobacion,
    RespuestaNoEntendida,
    RespuestaOmitida,
    RespuestaPublica,
    RespuestaRecibida,
    RespuestaSinEfecto,
    RespuestaTardia,
    Resuelto,
    SinAcuse,
    SinAprobacion,
    SinCategoria,
    SinRespuesta,
    SlaPausado,
    SlaReanudado,
    SolicitudRecibida,
    Suplente,
    SuplenteEsSolicitante,
    TextoNoEnviado,
    Validada,
    Verificado,
    YaAprobado,
    // No longer written; kept so that a database holding them still migrates and reads.
    /// Now `aprobacion_solicitada` (approvals by mail reply).
    AprobacionPendiente,
    /// Now `aprobador_corregido` (`#aprobador`).
    Aprobador,
    /// Now `accion_rechazada` (an approval answer refused).
    Seguridad,
}

impl EventKind {
    /// The kinds only old databases hold: accepted when read, never written.
    pub const HISTORICAL: [EventKind; 3] = [
        EventKind::AprobacionPendiente,
        EventKind::Aprobador,
        EventKind::Seguridad,
    ];
}

super::stored_words!(EventKind, "The stored name, e.g. `solicitud_recibida`.");

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored names are the ones the audit trail has always held: a variant renamed by
    /// accident would write a new word and refuse the old rows.
    #[test]
    fn names_are_the_stored_words() {
        assert_eq!(EventKind::SolicitudRecibida.as_str(), "solicitud_recibida");
        assert_eq!(EventKind::SlaPausado.as_str(), "sla_pausado");
        assert_eq!(
            "ya_aprobado".parse::<EventKind>(),
            Ok(EventKind::YaAprobado)
        );
        assert!(EventKind::HISTORICAL
            .iter()
            .all(|h| EventKind::all().any(|k| k == *h)));
    }
}
