//! Time as the service centre reads it. The daemon uses the real clock; sweeps and tests pass
//! an explicit instant instead.

use chrono::{DateTime, Utc};

pub const BOGOTA: chrono_tz::Tz = chrono_tz::America::Bogota;

/// A Bogotá wall-clock rendering for mails and CLI output.
pub fn local_display(t: DateTime<Utc>) -> String {
    t.with_timezone(&BOGOTA)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}
