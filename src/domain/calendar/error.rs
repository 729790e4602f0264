use chrono::NaiveDate;

/// A rejected `[calendar]` section. Every variant names the offending key so
/// that the operator can fix the configuration file without reading code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("calendar.timezone: unknown time zone {value:?} (use an IANA name such as \"America/Bogota\")")]
    UnknownTimezone { value: String },

    #[error("calendar.{key}: expected a time as HH:MM, got {value:?}")]
    InvalidTime { key: &'static str, value: String },

    #[error("calendar.{key}: expected a date as YYYY-MM-DD, got {value:?}")]
    InvalidDate { key: &'static str, value: String },

    #[error(
        "calendar.weekdays: unknown weekday {value:?} (use mon, tue, wed, thu, fri, sat, sun)"
    )]
    InvalidWeekday { value: String },

    #[error("calendar.weekdays: at least one working weekday is required")]
    NoWeekdays,

    #[error("calendar.{key} ({value}) must be {relation} than calendar.{other} ({other_value})")]
    TimeOrder {
        key: &'static str,
        value: String,
        relation: &'static str,
        other: &'static str,
        other_value: String,
    },

    #[error("calendar.{missing} is required when calendar.{present} is set")]
    IncompleteLunch {
        present: &'static str,
        missing: &'static str,
    },

    #[error("calendar.extra_working_days: {date} is also listed in calendar.extra_holidays")]
    ConflictingDate { date: NaiveDate },
}

impl CalendarError {
    /// The `[calendar]` key the error is about.
    #[must_use]
    pub fn key(&self) -> &'static str {
        match self {
            Self::UnknownTimezone { .. } => "timezone",
            Self::InvalidTime { key, .. } | Self::InvalidDate { key, .. } => key,
            Self::InvalidWeekday { .. } | Self::NoWeekdays => "weekdays",
            Self::TimeOrder { key, .. } => key,
            Self::IncompleteLunch { missing, .. } => missing,
            Self::ConflictingDate { .. } => "extra_working_days",
        }
    }
}
