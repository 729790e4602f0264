//! Time as the service centre reads it. The daemon uses the real clock; sweeps and tests pass
//! an explicit instant instead.

use crate::domain::es_co;
use chrono::{DateTime, Utc};

pub const BOGOTA: chrono_tz::Tz = chrono_tz::America::Bogota;

/// How the CLI shows an instant to a person, in tables and in `tickets show`: day first as
/// Colombians write dates, the 12-hour clock with "a. m."/"p. m.", and the calendar's UTC
/// offset, so a reader elsewhere (or comparing with a log in UTC) knows which zone it is:
/// "02/12/2026 5:00 p. m. -05:00". The zone is the `[calendar]` one, as every deadline is.
pub fn cli_time(t: DateTime<Utc>, tz: &chrono_tz::Tz) -> String {
    let local = t.with_timezone(tz);
    format!(
        "{} {} {}",
        local.format("%d/%m/%Y"),
        es_co::time(local.naive_local().time()),
        local.format("%:z")
    )
}

/// How the CLI's JSON writes an instant: RFC 3339 in the same zone as [`cli_time`], so a
/// script and a person read the same wall-clock time: "2026-12-02T17:00:00-05:00".
pub fn cli_rfc3339(t: DateTime<Utc>, tz: &chrono_tz::Tz) -> String {
    t.with_timezone(tz).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_time_carries_the_calendar_offset() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T01:48:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(cli_time(t, &BOGOTA), "29/11/2026 8:48 p. m. -05:00");
        assert_eq!(
            cli_time(t, &chrono_tz::Europe::Madrid),
            "30/11/2026 2:48 a. m. +01:00"
        );
        assert_eq!(cli_rfc3339(t, &BOGOTA), "2026-11-29T20:48:00-05:00");
    }
}
