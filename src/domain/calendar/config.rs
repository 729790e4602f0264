use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::error::CalendarError;

/// The `[calendar]` section of the configuration file.
///
/// ```toml
/// [calendar]
/// timezone = "America/Bogota"
/// workday_start = "08:00"
/// workday_end = "17:00"
/// lunch_start = "12:00"          # optional, together with lunch_end
/// lunch_end = "13:00"
/// weekdays = ["mon", "tue", "wed", "thu", "fri"]
/// extra_holidays = ["2026-12-24"]      # the ministry's own days off
/// extra_working_days = ["2026-12-26"]  # days worked despite weekday/holiday
/// ```
///
/// Values stay as text here so that [`BusinessCalendar::new`] can reject a
/// bad one with an error naming its key instead of a generic parse error.
///
/// [`BusinessCalendar::new`]: super::BusinessCalendar::new
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    pub timezone: String,
    pub workday_start: String,
    pub workday_end: String,
    pub lunch_start: Option<String>,
    pub lunch_end: Option<String>,
    pub weekdays: Vec<String>,
    pub extra_holidays: Vec<String>,
    pub extra_working_days: Vec<String>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            timezone: "America/Bogota".to_owned(),
            workday_start: "08:00".to_owned(),
            workday_end: "17:00".to_owned(),
            lunch_start: None,
            lunch_end: None,
            weekdays: ["mon", "tue", "wed", "thu", "fri"]
                .map(str::to_owned)
                .to_vec(),
            extra_holidays: Vec::new(),
            extra_working_days: Vec::new(),
        }
    }
}

/// A configuration that passed validation, in the form the calendar uses.
#[derive(Debug, Clone)]
pub(super) struct Validated {
    pub tz: Tz,
    /// Working periods of a day in seconds after local midnight: sorted,
    /// non-empty and disjoint.
    pub periods: Vec<(i64, i64)>,
    /// Indexed by `Weekday::num_days_from_monday`.
    pub weekdays: [bool; 7],
    pub extra_holidays: BTreeSet<NaiveDate>,
    pub extra_working_days: BTreeSet<NaiveDate>,
}

impl CalendarConfig {
    pub(super) fn validate(&self) -> Result<Validated, CalendarError> {
        let tz: Tz = self
            .timezone
            .parse()
            .map_err(|_| CalendarError::UnknownTimezone {
                value: self.timezone.clone(),
            })?;

        let start = Clock::parse("workday_start", &self.workday_start)?;
        let end = Clock::parse("workday_end", &self.workday_end)?;
        end.must_follow(&start)?;

        let periods = match (&self.lunch_start, &self.lunch_end) {
            (None, None) => vec![(start.secs, end.secs)],
            (Some(_), None) => {
                return Err(CalendarError::IncompleteLunch {
                    present: "lunch_start",
                    missing: "lunch_end",
                })
            }
            (None, Some(_)) => {
                return Err(CalendarError::IncompleteLunch {
                    present: "lunch_end",
                    missing: "lunch_start",
                })
            }
            (Some(ls), Some(le)) => {
                let lunch_start = Clock::parse("lunch_start", ls)?;
                let lunch_end = Clock::parse("lunch_end", le)?;
                // Strictly inside, so that both halves of the day are
                // non-empty periods.
                lunch_start.must_follow(&start)?;
                lunch_end.must_follow(&lunch_start)?;
                lunch_end.must_precede(&end)?;
                vec![(start.secs, lunch_start.secs), (lunch_end.secs, end.secs)]
            }
        };

        let mut weekdays = [false; 7];
        for name in &self.weekdays {
            let day: Weekday = name
                .trim()
                .parse()
                .map_err(|_| CalendarError::InvalidWeekday {
                    value: name.clone(),
                })?;
            weekdays[day.num_days_from_monday() as usize] = true;
        }
        if !weekdays.contains(&true) {
            return Err(CalendarError::NoWeekdays);
        }

        let extra_holidays = parse_dates("extra_holidays", &self.extra_holidays)?;
        let extra_working_days = parse_dates("extra_working_days", &self.extra_working_days)?;
        if let Some(&date) = extra_holidays.intersection(&extra_working_days).next() {
            return Err(CalendarError::ConflictingDate { date });
        }

        Ok(Validated {
            tz,
            periods,
            weekdays,
            extra_holidays,
            extra_working_days,
        })
    }
}

/// A validated "HH:MM" value, remembered with its key for error messages.
struct Clock<'a> {
    key: &'static str,
    text: &'a str,
    secs: i64,
}

impl<'a> Clock<'a> {
    fn parse(key: &'static str, text: &'a str) -> Result<Self, CalendarError> {
        let time = NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
            CalendarError::InvalidTime {
                key,
                value: text.to_owned(),
            }
        })?;
        Ok(Self {
            key,
            text,
            secs: i64::from(time.num_seconds_from_midnight()),
        })
    }

    fn must_follow(&self, other: &Clock<'_>) -> Result<(), CalendarError> {
        self.check(self.secs > other.secs, "later", other)
    }

    fn must_precede(&self, other: &Clock<'_>) -> Result<(), CalendarError> {
        self.check(self.secs < other.secs, "earlier", other)
    }

    fn check(
        &self,
        ok: bool,
        relation: &'static str,
        other: &Clock<'_>,
    ) -> Result<(), CalendarError> {
        if ok {
            return Ok(());
        }
        Err(CalendarError::TimeOrder {
            key: self.key,
            value: self.text.to_owned(),
            relation,
            other: other.key,
            other_value: other.text.to_owned(),
        })
    }
}

fn parse_dates(key: &'static str, texts: &[String]) -> Result<BTreeSet<NaiveDate>, CalendarError> {
    texts
        .iter()
        .map(|text| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                CalendarError::InvalidDate {
                    key,
                    value: text.clone(),
                }
            })
        })
        .collect()
}
