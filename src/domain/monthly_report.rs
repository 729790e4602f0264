//! The procedure's product delivered: on the first business day of each month the coordinator,
//! subdirector and director receive the previous month's compliance report. Here: which month
//! is due at a given instant, who receives it, and the mail's readable figures.

use super::calendar::BusinessCalendar;
use super::catalog::Catalog;
use super::compliance::{Line, Report};
use super::directory::{Directory, Role};
use super::es_co;
use super::procedure::Policy;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use serde_json::{json, Value};

/// A calendar month: the one a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(d: NaiveDate) -> Month {
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("month is 1..=12")
    }

    pub fn last_day(self) -> NaiveDate {
        self.next()
            .first_day()
            .pred_opt()
            .expect("not the first day ever")
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// "2026-11": the key the report is recorded under, and its file name's tail.
    pub fn key(self) -> String {
        format!("{}-{:02}", self.year, self.month)
    }

    /// "noviembre de 2026".
    pub fn label(self) -> String {
        format!("{} de {}", es_co::month_name(self.month), self.year)
    }

    /// From local midnight of the first day to local midnight of the next month's first day,
    /// as `sla compliance --from <first day> --to <last day>` reads it.
    pub fn bounds<Tz: TimeZone>(self, tz: &Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let midnight = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                .earliest()
                .expect("midnight exists in the calendar's zone")
                .with_timezone(&Utc)
        };
        (
            midnight(self.first_day()),
            midnight(self.next().first_day()),
        )
    }
}

/// The first working day of `month` in the business calendar (weekends, Colombian holidays
/// and `[calendar] extra_holidays` skipped).
pub fn first_business_day(cal: &BusinessCalendar, month: Month) -> NaiveDate {
    let mut d = month.first_day();
    // A month always has a working day within its first weeks; the bound only guards against
    // a calendar configured with no working weekday at all.
    for _ in 0..31 {
        if cal.is_working_day(d) {
            return d;
        }
        d = d.succ_opt().expect("date in range");
    }
    month.first_day()
}

/// How many business days of a month still catch up its previous month's report when the
/// daemon was down on the first one. Not the whole month: a help desk installed mid-month must
/// not open with a report of a month it never ran.
pub const CATCH_UP_BUSINESS_DAYS: usize = 5;

/// The month whose report is due at `now`: the previous one, from the first business day of
/// the current month at `hour` (local), through its first [`CATCH_UP_BUSINESS_DAYS`] business
/// days (a report missed while the daemon was down goes out at its next sweep); `None` at any
/// other time. Sending it once is the caller's record to keep.
pub fn due(cal: &BusinessCalendar, now: DateTime<Utc>, hour: u32) -> Option<Month> {
    let local = now.with_timezone(&cal.timezone());
    let today = local.date_naive();
    let this = Month::of(today);
    let first = first_business_day(cal, this);
    let started = today > first || (today == first && local.hour() >= hour);
    let business_days_so_far = first
        .iter_days()
        .take_while(|d| *d <= today)
        .filter(|d| cal.is_working_day(*d))
        .count();
    (started && business_days_so_far <= CATCH_UP_BUSINESS_DAYS).then(|| this.previous())
}

/// The coordinator, subdirector and director: the directory's holder of each role, else the
/// `[escalation]` address (as SLA alerts choose them when no office decides).
pub fn recipients(directory: &Directory, policy: &Policy) -> Vec<String> {
    let roles = [
        (Role::Coordinador, &policy.coordinator),
        (Role::Subdirector, &policy.subdirector),
        (Role::Director, &policy.director),
    ];
    let mut out: Vec<String> = roles
        .iter()
        .filter_map(|(role, fallback)| {
            directory
                .with_role(*role)
                .first()
                .map(|p| p.email.clone())
                .or_else(|| (*fallback).clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One line of the report in words and Colombian numbers, for the mail's text.
fn readable(l: &Line) -> Value {
    json!({
        "service": l.service,
        "closed": l.closed,
        "attended": l.attended,
        "within": l.within_target,
        "outside": l.outside_target,
        "within_pct": es_co::decimal(l.within_pct, 1),
        "outside_pct": es_co::decimal(l.outside_pct, 1),
        "median_hours": es_co::decimal(l.median_business_hours, 1),
        "p90_hours": es_co::decimal(l.p90_business_hours, 1),
        "paused_hours": es_co::decimal(l.paused_business_hours, 1),
        "alerts_50": l.alerts_50,
        "alerts_75": l.alerts_75,
        "alerts_100": l.alerts_100,
        "survey_answers": l.survey_answers,
        "average_rating": l.average_rating.map(|a| es_co::decimal(a, 1)),
    })
}

/// Template data of the monthly mail (`informe_mensual`).
pub fn mail_data(month: Month, report: &Report, catalog: &Catalog) -> Value {
    // Readers know a service by its catalogue name; the code stays beside it, as the CSV has it.
    let named = |l: &Line| {
        let mut v = readable(l);
        if let Some(s) = catalog
            .by_code_or_name(&l.service)
            .filter(|s| s.name != l.service)
        {
            v["service"] = json!(if s.name.contains(&format!("({})", l.service)) {
                s.name.clone()
            } else {
                format!("{} ({})", s.name, l.service)
            });
        }
        v
    };
    json!({
        "month": month.label(),
        "from": es_co::date(month.first_day()),
        "to": es_co::date(month.last_day()),
        "services": report.services.iter().map(named).collect::<Vec<_>>(),
        "overall": readable(&report.overall),
        "csv_name": csv_name(month),
    })
}

/// "cumplimiento-2026-11.csv".
pub fn csv_name(month: Month) -> String {
    format!("cumplimiento-{}.csv", month.key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::CalendarConfig;

    fn cal() -> BusinessCalendar {
        BusinessCalendar::new(&CalendarConfig::default()).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn bogota(y: i32, m: u32, day: u32, h: u32) -> DateTime<Utc> {
        chrono_tz::America::Bogota
            .with_ymd_and_hms(y, m, day, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_first_business_day_skips_weekends_and_colombian_holidays() {
        let c = cal();
        let first = |y, m| first_business_day(&c, Month { year: y, month: m });
        // New Year's Day (Thursday) is a holiday: Friday the 2nd.
        assert_eq!(first(2026, 1), d(2026, 1, 2));
        // Sunday the 1st: Monday.
        assert_eq!(first(2026, 2), d(2026, 2, 2));
        assert_eq!(first(2026, 3), d(2026, 3, 2));
        // Saturday the 1st: Monday the 3rd.
        assert_eq!(first(2026, 8), d(2026, 8, 3));
        // Sunday the 1st, then All Saints' moved to Monday the 2nd: Tuesday the 3rd.
        assert_eq!(first(2026, 11), d(2026, 11, 3));
        // An ordinary Tuesday.
        assert_eq!(first(2026, 12), d(2026, 12, 1));
        // 2027: Friday the 1st a holiday, then a weekend: Monday the 4th.
        assert_eq!(first(2027, 1), d(2027, 1, 4));
    }

    #[test]
    fn the_previous_month_is_due_from_the_first_business_day_at_the_hour() {
        let c = cal();
        let nov = Month {
            year: 2026,
            month: 11,
        };
        assert_eq!(due(&c, bogota(2026, 12, 1, 8), 7), Some(nov));
        assert_eq!(due(&c, bogota(2026, 12, 1, 7), 7), Some(nov));
        assert_eq!(due(&c, bogota(2026, 12, 1, 6), 7), None);
        // Caught up in the next business days when the daemon was down that day (sent once:
        // the caller's record), up to the fifth: December 1, 2, 3, 4 and 7 (Monday).
        assert_eq!(due(&c, bogota(2026, 12, 2, 8), 7), Some(nov));
        assert_eq!(due(&c, bogota(2026, 12, 6, 8), 7), Some(nov));
        assert_eq!(due(&c, bogota(2026, 12, 7, 23), 7), Some(nov));
        // December 8 is a holiday: still the fifth business day so far.
        assert_eq!(due(&c, bogota(2026, 12, 8, 12), 7), Some(nov));
        assert_eq!(due(&c, bogota(2026, 12, 9, 0), 7), None);
        assert_eq!(due(&c, bogota(2026, 12, 31, 9), 7), None);
        // November 2 2026 is a holiday Monday: nothing then, October's report on the 3rd.
        assert_eq!(due(&c, bogota(2026, 11, 2, 9), 7), None);
        assert_eq!(
            due(&c, bogota(2026, 11, 3, 9), 7),
            Some(Month {
                year: 2026,
                month: 10
            })
        );
        // January reports on December of the year before.
        assert_eq!(
            due(&c, bogota(2027, 1, 4, 9), 7),
            Some(Month {
                year: 2026,
                month: 12
            })
        );
        // 11 p. m. Bogotá on the 30th is already December 1 in UTC: not yet due.
        assert_eq!(due(&c, bogota(2026, 11, 30, 23), 7), None);
    }

    #[test]
    fn a_month_spans_local_midnight_to_local_midnight() {
        let nov = Month {
            year: 2026,
            month: 11,
        };
        let (from, to) = nov.bounds(&chrono_tz::America::Bogota);
        assert_eq!(from, bogota(2026, 11, 1, 0));
        assert_eq!(to, bogota(2026, 12, 1, 0));
        assert_eq!(nov.last_day(), d(2026, 11, 30));
        assert_eq!(nov.label(), "noviembre de 2026");
        assert_eq!(csv_name(nov), "cumplimiento-2026-11.csv");
        assert_eq!(
            Month {
                year: 2026,
                month: 12
            }
            .next()
            .key(),
            "2027-01"
        );
    }

    #[test]
    fn recipients_come_from_the_directory_else_the_escalation_addresses() {
        let dir = Directory::from_toml(
            "[[person]]\nemail = \"coord@example.test\"\nname = \"Coord\"\nrole = \"coordinador\"\noffice = \"CST\"\n",
            "test",
        )
        .unwrap();
        let policy = Policy {
            coordinator: Some("otro@example.test".into()),
            director: Some("dir@example.test".into()),
            ..Policy::default()
        };
        assert_eq!(
            recipients(&dir, &policy),
            vec!["coord@example.test", "dir@example.test"]
        );
        assert!(recipients(&Directory::default(), &Policy::default()).is_empty());
    }
}
