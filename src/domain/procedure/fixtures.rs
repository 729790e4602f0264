//! A small catalogue, directory and calendar for the procedure's unit tests.

use super::{Ctx, Incoming, Policy, Ticket};
use crate::domain::calendar::{BusinessCalendar, CalendarConfig};
use crate::domain::catalog::Catalog;
use crate::domain::directory::Directory;
use crate::domain::sla::SlaClock;
use crate::domain::ticket::{Status, TicketNumber};
use chrono::{DateTime, TimeZone, Utc};

const CATALOG: &str = r#"
[[service]]
code = "IMPRESORA"
name = "Instalación de impresora"
category = "Soporte en sitio"
priority = "media"
resolution_hours = 8
approval = "none"
required_fields = ["Ubicación"]
keywords = ['impresora']

[[service]]
code = "VPN"
name = "Acceso remoto a la red local (VPN)"
category = "Accesos"
priority = "media"
resolution_hours = 16
approval = "jefe_inmediato"
# "Aprobador" is asked for without being listed (verificacion::missing).
required_fields = ["Justificación"]
keywords = ['\bvpn\b']

[[service]]
code = "CLAVE"
name = "Cambio de contraseña"
category = "Accesos"
priority = "alta"
resolution_hours = 4
approval = "seguridad_informacion"
required_fields = ["Justificación"]
keywords = ['contrasena']
"#;

const DIRECTORY: &str = r#"
[[person]]
email = "agente1@example.test"
name = "Agente Uno"
role = "agente"
office = "CST"

[[person]]
email = "especialista@example.test"
name = "Especialista"
role = "especialista"
office = "CST"

[[person]]
email = "coordinador@example.test"
name = "Coordinador"
role = "coordinador"
office = "CST"

[[person]]
email = "subdirector@example.test"
name = "Subdirector"
role = "subdirector"
office = "CST"

[[person]]
email = "director@example.test"
name = "Director"
role = "director"
office = "CST"

[[person]]
email = "jefe@example.test"
name = "Jefe Oficina"
role = "jefe_oficina"
office = "Jurídica"
substitute = "suplente@example.test"

[[person]]
email = "suplente@example.test"
name = "Suplente"
role = "subdirector"
office = "Jurídica"

[[person]]
email = "pedro@example.test"
name = "Pedro Pérez"
role = "funcionario"
office = "Jurídica"

[[person]]
email = "seguridad@example.test"
name = "Oficial de Seguridad"
role = "seguridad_informacion"
office = "Seguridad"
"#;

pub struct World {
    pub catalog: Catalog,
    pub directory: Directory,
    pub calendar: BusinessCalendar,
    pub policy: Policy,
    /// Monday 2026-11-23 09:00 in Bogotá.
    pub start: DateTime<Utc>,
}

impl World {
    pub fn new() -> World {
        World {
            catalog: Catalog::from_toml(CATALOG, "fixture").expect("fixture catalog"),
            directory: Directory::from_toml(DIRECTORY, "fixture").expect("fixture directory"),
            calendar: BusinessCalendar::new(&CalendarConfig::default()).expect("calendar"),
            policy: Policy {
                incident_patterns: vec![regex::Regex::new(r"no funciona|caid[oa]").unwrap()],
                coordinator: Some("coord-config@example.test".into()),
                ..Policy::default()
            },
            start: chrono_tz::America::Bogota
                .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    /// `email` is away (from before the start, with no end).
    pub fn set_away(&mut self, email: &str) {
        let text = DIRECTORY.replace(
            &format!("email = \"{email}\"\n"),
            &format!("email = \"{email}\"\naway_from = \"2026-01-01\"\n"),
        );
        self.directory = Directory::from_toml(&text, "fixture").expect("fixture directory");
    }

    pub fn at(&self, now: DateTime<Utc>) -> Ctx<'_> {
        Ctx {
            now,
            catalog: &self.catalog,
            directory: &self.directory,
            calendar: &self.calendar,
            policy: &self.policy,
        }
    }

    pub fn ctx(&self) -> Ctx<'_> {
        self.at(self.start)
    }

    /// The clock `secs` of wall time after the start.
    pub fn later_ctx(&self, secs: i64) -> Ctx<'_> {
        self.at(self.start + chrono::Duration::seconds(secs))
    }

    pub fn new_ticket(&self, mail: &Incoming) -> Ticket {
        Ticket {
            number: TicketNumber(1),
            status: Status::Registrado,
            close_reason: None,
            subject: mail.subject.clone(),
            requester: mail.from.clone(),
            requester_name: None,
            service: None,
            category: None,
            priority: None,
            assignee: None,
            fields: Default::default(),
            attachments: 0,
            change_id: None,
            resolution: None,
            resolved_at: None,
            closed_at: None,
            created_at: self.start,
            survey: None,
            sla: SlaClock::default(),
            approval: None,
        }
    }
}

pub fn incoming(from: &str, subject: &str, text: &str) -> Incoming {
    Incoming {
        from: from.into(),
        from_name: None,
        subject: subject.into(),
        text: text.into(),
        attachments: 0,
    }
}
