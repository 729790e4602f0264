//! Business time for the help desk: Colombian public holidays and service
//! level arithmetic on working hours.
//!
//! Everything here is pure (no I/O, no clock): callers pass instants in UTC
//! and get instants in UTC back. Working hours are interpreted on the wall
//! clock of the configured time zone (`America/Bogota` by default).
//!
//! Business time has one-second resolution; sub-second parts of the inputs
//! are ignored. It is measured on the local wall clock, so in a zone whose
//! DST shift fell inside working hours that day would count by the clock, not
//! by elapsed time. Colombia has had no DST since 1993.

mod business_time;
mod config;
mod error;
mod holidays;
mod workday;
mod working_days;

#[cfg(test)]
mod tests;

pub use business_time::BusinessCalendar;
pub use config::CalendarConfig;
pub use error::CalendarError;
pub use holidays::{colombian_holidays, easter_sunday, Holiday};
