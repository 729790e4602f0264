use std::collections::BTreeSet;

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, NaiveDate, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use super::config::CalendarConfig;
use super::error::CalendarError;
use super::holidays::{colombian_holidays, Holiday};
use super::workday::Workday;
use super::working_days::{date_of, day_of, max_day, min_day, Day, WorkingDays};

/// Name given to the configured `extra_holidays` in [`BusinessCalendar::holidays`].
const EXTRA_HOLIDAY_NAME: &str = "Día no hábil adicional";

const SECONDS_PER_DAY: i64 = 86_400;

/// Working hours, working days and holidays, with SLA arithmetic on them.
///
/// Immutable once built (holiday tables are precomputed for 1970–2150 and
/// computed on the fly outside that range), so it can be shared across
/// threads and called in sweeps over many tickets. An operation costs one
/// step per calendar year it spans plus at most a year of week steps and a
/// week of day steps at the end, never one per day, hour or second over the
/// whole span (10,000 business hours take about a microsecond in release).
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: Tz,
    workday: Workday,
    days: WorkingDays,
    extra_holidays: BTreeSet<NaiveDate>,
    extra_working_days: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    /// Validates `config` and precomputes the holiday tables.
    ///
    /// # Errors
    ///
    /// A [`CalendarError`] naming the first invalid `[calendar]` key.
    pub fn new(config: &CalendarConfig) -> Result<Self, CalendarError> {
        let valid = config.validate()?;
        Ok(Self {
            tz: valid.tz,
            workday: Workday::new(valid.periods),
            days: WorkingDays::new(
                valid.weekdays,
                &valid.extra_holidays,
                &valid.extra_working_days,
            ),
            extra_holidays: valid.extra_holidays,
            extra_working_days: valid.extra_working_days,
        })
    }

    #[must_use]
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Business seconds in one working day (lunch excluded).
    #[must_use]
    pub fn workday_seconds(&self) -> i64 {
        self.workday.length()
    }

    /// Whether `date` is a working day: `extra_working_days` first, then
    /// holidays (legal or `extra_holidays`), then the configured weekdays.
    #[must_use]
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.days.is_working(day_of(date))
    }

    /// Whether `at` falls inside working hours of a working day. The end of
    /// a period (17:00, the start of lunch) is not working time.
    #[must_use]
    pub fn is_working_time(&self, at: DateTime<Utc>) -> bool {
        let (day, secs) = self.local(at);
        self.days.is_working(day) && self.workday.contains(secs)
    }

    /// The days off the help desk observes in `year`: the Colombian public
    /// holidays plus `extra_holidays`, minus `extra_working_days`; sorted.
    #[must_use]
    pub fn holidays(&self, year: i32) -> Vec<Holiday> {
        let mut list: Vec<Holiday> = colombian_holidays(year)
            .into_iter()
            .filter(|h| !self.extra_working_days.contains(&h.date))
            .collect();
        let legal: BTreeSet<NaiveDate> = list.iter().map(|h| h.date).collect();
        list.extend(
            self.extra_holidays
                .iter()
                .filter(|d| d.year() == year && !legal.contains(d))
                .map(|&date| Holiday {
                    date,
                    name: EXTRA_HOLIDAY_NAME.to_owned(),
                }),
        );
        list.sort();
        list
    }

    /// The instant at which `secs` business seconds have elapsed since
    /// `start`.
    ///
    /// A start outside working hours counts from the next working instant.
    /// When the result falls on the end of a working period it is that end
    /// (Friday 17:00, not Monday 08:00), i.e. the earliest such instant.
    /// A negative `secs` goes backwards and yields the latest instant that
    /// far before `start` (Monday 08:00, not Friday 17:00). Zero returns
    /// `start`. Saturates at chrono's first/last instant.
    #[must_use]
    pub fn add_business_seconds(&self, start: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
        match secs {
            0 => start,
            s if s > 0 => self.forward(start, s),
            s => self.backward(start, s.unsigned_abs()),
        }
    }

    /// [`add_business_seconds`](Self::add_business_seconds) with `hours`
    /// rounded to the nearest second (NaN counts as zero).
    #[must_use]
    pub fn add_business_hours(&self, start: DateTime<Utc>, hours: f64) -> DateTime<Utc> {
        // `as` saturates out-of-range floats, which add_business_seconds then
        // saturates to the last representable instant.
        self.add_business_seconds(start, (hours * 3600.0).round() as i64)
    }

    /// Adds `days` times [`workday_seconds`](Self::workday_seconds) of
    /// business time: the same business time of day `days` working days
    /// later (Wednesday 10:00 + 3 → Monday 10:00 with Monday a working day).
    ///
    /// Because of the earliest-instant rule, a start at the opening of the
    /// day (or outside hours) lands on the close of the last day counted:
    /// Wednesday 08:00 + 1 day → Wednesday 17:00, not Thursday 08:00.
    #[must_use]
    pub fn add_business_days(&self, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        self.add_business_seconds(start, i64::from(days).saturating_mul(self.workday.length()))
    }

    /// Business seconds in `a..b`; 0 when `b <= a`. The inverse of
    /// [`add_business_seconds`](Self::add_business_seconds): for `s >= 0`,
    /// `business_seconds_between(t, add_business_seconds(t, s)) == s`.
    #[must_use]
    pub fn business_seconds_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        if b <= a {
            return 0;
        }
        let (day_a, secs_a) = self.local(a);
        let (day_b, secs_b) = self.local(b);
        // Wall-clock time can run backwards across a DST fall-back.
        if (day_a, secs_a) >= (day_b, secs_b) {
            return 0;
        }
        let wd = &self.workday;
        if day_a == day_b {
            return if self.days.is_working(day_a) {
                wd.offset_at(secs_b) - wd.offset_at(secs_a)
            } else {
                0
            };
        }
        let head = if self.days.is_working(day_a) {
            wd.length() - wd.offset_at(secs_a)
        } else {
            0
        };
        let tail = if self.days.is_working(day_b) {
            wd.offset_at(secs_b)
        } else {
            0
        };
        head + self.days.count(day_a + 1, day_b) * wd.length() + tail
    }

    fn forward(&self, start: DateTime<Utc>, mut secs: i64) -> DateTime<Utc> {
        let wd = &self.workday;
        let (day, time) = self.local(start);
        if self.days.is_working(day) {
            let offset = wd.offset_at(time);
            if secs <= wd.length() - offset {
                return self.instant(day, wd.earliest_at(offset + secs), DateTime::<Utc>::MAX_UTC);
            }
            secs -= wd.length() - offset;
        }
        // The target is on the n-th working day after `day`, `last` business
        // seconds into it (1..=length, so a full day ends at its close).
        let n = (secs - 1) / wd.length() + 1;
        let last = secs - (n - 1) * wd.length();
        // At most one working day per calendar day: skip hopeless searches.
        if n > max_day() - day {
            return DateTime::<Utc>::MAX_UTC;
        }
        match self.days.nth_from(day + 1, n) {
            Some(target) => self.instant(target, wd.earliest_at(last), DateTime::<Utc>::MAX_UTC),
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    fn backward(&self, start: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
        let wd = &self.workday;
        let mut secs = i64::try_from(secs).unwrap_or(i64::MAX);
        let (day, time) = self.local(start);
        if self.days.is_working(day) {
            let offset = wd.offset_at(time);
            if secs <= offset {
                return self.instant(day, wd.latest_at(offset - secs), DateTime::<Utc>::MIN_UTC);
            }
            secs -= offset;
        }
        // Mirror of `forward`: `first` (0..length) is where the target sits
        // on the n-th working day before `day`.
        let n = (secs - 1) / wd.length() + 1;
        let first = (wd.length() - secs % wd.length()) % wd.length();
        if n > day - min_day() {
            return DateTime::<Utc>::MIN_UTC;
        }
        match self.days.nth_before(day, n) {
            Some(target) => self.instant(target, wd.latest_at(first), DateTime::<Utc>::MIN_UTC),
            None => DateTime::<Utc>::MIN_UTC,
        }
    }

    /// Local date (as a day number) and whole seconds since local midnight.
    fn local(&self, at: DateTime<Utc>) -> (Day, i64) {
        let utc = at.naive_utc();
        let offset = self.tz.offset_from_utc_datetime(&utc).fix();
        // `naive_local` panics when the local time is beyond chrono's range
        // (an instant near `MIN_UTC`/`MAX_UTC`); clamp instead.
        match utc.checked_add_offset(offset) {
            Some(local) => (
                day_of(local.date()),
                i64::from(local.time().num_seconds_from_midnight()),
            ),
            None if offset.local_minus_utc() < 0 => (min_day(), 0),
            None => (max_day(), SECONDS_PER_DAY - 1),
        }
    }

    /// The instant of local `secs` after midnight of `day`; `fallback` when
    /// it cannot be represented.
    fn instant(&self, day: Day, secs: i64, fallback: DateTime<Utc>) -> DateTime<Utc> {
        let time = u32::try_from(secs)
            .ok()
            .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, 0));
        let (Some(date), Some(time)) = (date_of(day), time) else {
            return fallback;
        };
        let local = date.and_time(time);
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => {
                // Skipped by a DST jump: use the offset in force before the
                // jump, which names the instant right after it.
                let before = local
                    .checked_sub_signed(TimeDelta::days(1))
                    .unwrap_or(local);
                let offset = self.tz.offset_from_utc_datetime(&before).fix();
                local
                    .checked_sub_signed(TimeDelta::seconds(i64::from(offset.local_minus_utc())))
                    .map_or(fallback, |utc| utc.and_utc())
            }
        }
    }
}
