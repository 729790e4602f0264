//! A service request ("requerimiento") as the procedure knows it: number, status, close reason.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use strum::{EnumIter, IntoStaticStr};

/// The request number shown to people as `REQ-123` and tagged in subjects as `[REQ-123]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketNumber(pub i64);

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "REQ-{}", self.0)
    }
}

impl TicketNumber {
    /// The subject tag every mail about the ticket carries.
    pub fn tag(&self) -> String {
        format!("[{self}]")
    }
}

impl FromStr for TicketNumber {
    type Err = String;
    /// Accepts `REQ-12`, `req-12`, `[REQ-12]` and a bare `12`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim();
        let digits = match t.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("REQ-") => &t[4..],
            _ => t,
        };
        digits
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(TicketNumber)
            .ok_or_else(|| format!("`{s}` no es un número de requerimiento (ejemplo: REQ-12)"))
    }
}

/// The statuses of the procedure; these names are public (JSON, CLI, ops scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, EnumIter, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    Registrado,
    PendientePorUsuario,
    PendienteAprobacion,
    TrabajoEnProgreso,
    Resuelto,
    Cerrado,
}

super::stored_words!(Status, "The stored and public name: `trabajo_en_progreso`.");

impl Status {
    pub fn is_open(self) -> bool {
        self != Status::Cerrado
    }

    /// How the status reads to people (the panel, the ticket's history).
    pub fn label(self) -> &'static str {
        match self {
            Status::Registrado => "Registrada",
            Status::PendientePorUsuario => "Esperando información del solicitante",
            Status::PendienteAprobacion => "Esperando aprobación",
            Status::TrabajoEnProgreso => "En atención",
            Status::Resuelto => "Resuelta",
            Status::Cerrado => "Cerrada",
        }
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::all().find(|st| st.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Status::all().map(|s| s.as_str()).collect();
            format!("estado desconocido `{s}`; use uno de: {}", names.join(", "))
        })
    }
}

/// Why a ticket was closed; public names like [`Status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, EnumIter, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CloseReason {
    Resuelto,
    Cambio,
    Rechazado,
    SinRespuestaUsuario,
    Cancelado,
    /// Activity 2 decided late: an agent found it is an incident (`#incidente`); the incident
    /// procedure takes it over as `INC-m`, recorded on the incident row.
    Incidente,
}

super::stored_words!(
    CloseReason,
    "The stored and public name: `sin_respuesta_usuario`."
);

impl FromStr for CloseReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CloseReason::all()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("motivo de cierre desconocido `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_read_the_forms_people_type() {
        for s in ["REQ-12", "req-12", "[REQ-12]", "12", " REQ-12 "] {
            assert_eq!(s.parse::<TicketNumber>(), Ok(TicketNumber(12)), "{s}");
        }
        assert!("REQ-".parse::<TicketNumber>().is_err());
        assert!("REQ-0".parse::<TicketNumber>().is_err());
        assert!("INC-3".parse::<TicketNumber>().is_err());
        assert_eq!(TicketNumber(7).tag(), "[REQ-7]");
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::all() {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("abierto".parse::<Status>().is_err());
    }
}
