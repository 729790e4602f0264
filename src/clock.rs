//! Time as the service centre reads it. The daemon uses the real clock; sweeps and tests pass
//! an explicit instant instead.

use crate::domain::es_co;
use chrono::{DateTime, Utc};

pub const BOGOTA: chrono_tz::Tz = chrono_tz::America::Bogota;

/// A Bogotá wall-clock rendering for mails and CLI output, as written in Colombia:
/// "miércoles 2 de diciembre de 2026, 5:00 p. m.".
pub fn local_display(t: DateTime<Utc>) -> String {
    es_co::datetime_in(t, &BOGOTA)
}

/// The same instant in a table column, where the long form would break the alignment:
/// "02/12/2026 5:00 p. m." (day first, as Colombians write dates).
pub fn local_short(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&BOGOTA).naive_local();
    format!("{} {}", local.format("%d/%m/%Y"), es_co::time(local.time()))
}
