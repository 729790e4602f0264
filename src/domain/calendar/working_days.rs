use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};

use super::holidays::holiday_dates;

/// A date as days since 0001-01-01 (day 1, a Monday), so that ranges and
/// week steps are plain integer arithmetic.
pub(super) type Day = i64;

/// Years whose exceptions are computed once when the calendar is built;
/// others are computed on the fly (slower, same result).
const TABLE_YEARS: std::ops::RangeInclusive<i32> = 1970..=2150;

/// Which dates are working days, with counting and stepping that cost per
/// year and per week rather than per day.
///
/// A date is a working day when its weekday is configured, unless it is an
/// exception. Exceptions are the dates where that default is overridden
/// (holidays on working weekdays, extra working days on other days); there
/// are about twenty a year, kept sorted per year.
#[derive(Debug, Clone)]
pub(super) struct WorkingDays {
    weekdays: [bool; 7],
    per_week: i64,
    /// Configured dates: `false` = extra holiday, `true` = extra working day.
    overrides: BTreeMap<NaiveDate, bool>,
    table: Vec<Box<[(Day, bool)]>>,
}

impl WorkingDays {
    pub(super) fn new(
        weekdays: [bool; 7],
        extra_holidays: &BTreeSet<NaiveDate>,
        extra_working_days: &BTreeSet<NaiveDate>,
    ) -> Self {
        let overrides = extra_holidays
            .iter()
            .map(|&d| (d, false))
            .chain(extra_working_days.iter().map(|&d| (d, true)))
            .collect();
        let mut days = Self {
            weekdays,
            per_week: weekdays.iter().filter(|&&w| w).count() as i64,
            overrides,
            table: Vec::new(),
        };
        days.table = TABLE_YEARS
            .map(|year| days.compute_exceptions(year).into_boxed_slice())
            .collect();
        days
    }

    pub(super) fn is_working(&self, day: Day) -> bool {
        let Some(year) = year_of(day) else {
            return false;
        };
        let exceptions = self.exceptions(year);
        match exceptions.binary_search_by_key(&day, |&(d, _)| d) {
            Ok(i) => exceptions[i].1,
            Err(_) => self.is_default_working(day),
        }
    }

    /// Working days in `from..to`.
    pub(super) fn count(&self, from: Day, to: Day) -> i64 {
        let mut total = 0;
        let mut day = from.max(min_day());
        let to = to.min(max_day() + 1);
        while day < to {
            let Some(year) = year_of(day) else { break };
            let end = to.min(year_end(year));
            total += self.count_in_year(&self.exceptions(year), day, end);
            day = end;
        }
        total
    }

    /// The `n`-th working day (`n >= 1`) on or after `from`; `None` past
    /// chrono's last date.
    pub(super) fn nth_from(&self, from: Day, mut n: i64) -> Option<Day> {
        let mut day = from.max(min_day());
        while day <= max_day() {
            let year = year_of(day)?;
            let exceptions = self.exceptions(year);
            let end = year_end(year);
            let in_year = self.count_in_year(&exceptions, day, end);
            if in_year < n {
                n -= in_year;
                day = end;
                continue;
            }
            loop {
                let week_end = (day + 7).min(end);
                let in_week = self.count_in_year(&exceptions, day, week_end);
                if in_week >= n || week_end == end {
                    break;
                }
                n -= in_week;
                day = week_end;
            }
            // At most a week to go and the target is known to be in it.
            while day < end {
                if self.is_working_with(&exceptions, day) {
                    n -= 1;
                    if n == 0 {
                        return Some(day);
                    }
                }
                day += 1;
            }
        }
        None
    }

    /// The `n`-th working day (`n >= 1`) before `before`, counting
    /// backwards; `None` before chrono's first date.
    pub(super) fn nth_before(&self, before: Day, mut n: i64) -> Option<Day> {
        let mut day = before.min(max_day() + 1);
        while day > min_day() {
            let year = year_of(day - 1)?;
            let exceptions = self.exceptions(year);
            let start = year_start(year)?;
            let in_year = self.count_in_year(&exceptions, start, day);
            if in_year < n {
                n -= in_year;
                day = start;
                continue;
            }
            loop {
                let week_start = (day - 7).max(start);
                let in_week = self.count_in_year(&exceptions, week_start, day);
                if in_week >= n || week_start == start {
                    break;
                }
                n -= in_week;
                day = week_start;
            }
            while day > start {
                day -= 1;
                if self.is_working_with(&exceptions, day) {
                    n -= 1;
                    if n == 0 {
                        return Some(day);
                    }
                }
            }
        }
        None
    }

    fn exceptions(&self, year: i32) -> Cow<'_, [(Day, bool)]> {
        let cached = year
            .checked_sub(*TABLE_YEARS.start())
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.table.get(i));
        match cached {
            Some(slice) => Cow::Borrowed(slice),
            None => Cow::Owned(self.compute_exceptions(year)),
        }
    }

    fn compute_exceptions(&self, year: i32) -> Vec<(Day, bool)> {
        let mut dates: BTreeMap<NaiveDate, bool> = holiday_dates(year)
            .into_iter()
            .map(|(date, _)| (date, false))
            .collect();
        // Configured days win over the legal calendar: a ministry can decide
        // to work on a holiday.
        if let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) {
            dates.extend(self.overrides.range(first..=last));
        }
        dates
            .into_iter()
            .map(|(date, working)| (day_of(date), working))
            .filter(|&(day, working)| working != self.is_default_working(day))
            .collect()
    }

    fn is_working_with(&self, exceptions: &[(Day, bool)], day: Day) -> bool {
        match exceptions.binary_search_by_key(&day, |&(d, _)| d) {
            Ok(i) => exceptions[i].1,
            Err(_) => self.is_default_working(day),
        }
    }

    fn is_default_working(&self, day: Day) -> bool {
        self.weekdays[weekday_index(day)]
    }

    /// Working days in `from..to`, both within the year of `exceptions`.
    fn count_in_year(&self, exceptions: &[(Day, bool)], from: Day, to: Day) -> i64 {
        if from >= to {
            return 0;
        }
        let span = to - from;
        let remainder = (from + span / 7 * 7..to)
            .filter(|&d| self.is_default_working(d))
            .count() as i64;
        let lo = exceptions.partition_point(|&(d, _)| d < from);
        let hi = exceptions.partition_point(|&(d, _)| d < to);
        let adjust: i64 = exceptions[lo..hi]
            .iter()
            .map(|&(_, working)| if working { 1 } else { -1 })
            .sum();
        span / 7 * self.per_week + remainder + adjust
    }
}

pub(super) fn day_of(date: NaiveDate) -> Day {
    Day::from(date.num_days_from_ce())
}

pub(super) fn date_of(day: Day) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(day).ok()?)
}

fn year_of(day: Day) -> Option<i32> {
    date_of(day).map(|d| d.year())
}

fn year_start(year: i32) -> Option<Day> {
    NaiveDate::from_ymd_opt(year, 1, 1).map(day_of)
}

/// First day after `year`, even when that day is beyond chrono's range.
fn year_end(year: i32) -> Day {
    year.checked_add(1)
        .and_then(year_start)
        .unwrap_or(max_day() + 1)
}

pub(super) fn min_day() -> Day {
    day_of(NaiveDate::MIN)
}

pub(super) fn max_day() -> Day {
    day_of(NaiveDate::MAX)
}

/// 0 = Monday, as `Weekday::num_days_from_monday`; day 1 is a Monday.
fn weekday_index(day: Day) -> usize {
    (day - 1).rem_euclid(7) as usize
}
