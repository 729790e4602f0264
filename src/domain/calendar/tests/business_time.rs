//! Scenarios, Bogotá wall clock, 08:00–17:00 Monday to Friday unless said.

use chrono::{DateTime, TimeDelta, Utc};

use super::{bogota, calendar, date, office, office_with_lunch, CalendarConfig, HOUR};

#[test]
fn acceptance_eight_hour_sla_opened_friday_afternoon() {
    let cal = office();
    let opened = bogota(2026, 11, 27, 16, 0);
    let due = |fraction: f64| cal.add_business_hours(opened, 8.0 * fraction);
    assert_eq!(due(0.50), bogota(2026, 11, 30, 11, 0));
    assert_eq!(due(0.75), bogota(2026, 11, 30, 13, 0));
    assert_eq!(due(1.00), bogota(2026, 11, 30, 15, 0));
}

#[test]
fn acceptance_case_with_lunch_break() {
    let cal = office_with_lunch();
    let opened = bogota(2026, 11, 27, 16, 0);
    let due = |fraction: f64| cal.add_business_hours(opened, 8.0 * fraction);
    assert_eq!(due(0.50), bogota(2026, 11, 30, 11, 0));
    assert_eq!(due(0.75), bogota(2026, 11, 30, 14, 0));
    assert_eq!(due(1.00), bogota(2026, 11, 30, 16, 0));
}

#[test]
fn across_a_weekend() {
    let cal = office();
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 20, 15, 0), 3.0),
        bogota(2026, 11, 23, 9, 0)
    );
}

#[test]
fn across_a_holiday_monday() {
    // Monday 2026-11-16: Independencia de Cartagena.
    let cal = office();
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 13, 16, 0), 2.0),
        bogota(2026, 11, 17, 9, 0)
    );
}

#[test]
fn across_holy_thursday_and_friday() {
    let cal = office();
    assert_eq!(
        cal.add_business_hours(bogota(2026, 4, 1, 16, 0), 2.0),
        bogota(2026, 4, 6, 9, 0)
    );
}

#[test]
fn across_the_end_of_the_year() {
    let cal = office();
    // Christmas on a Friday.
    assert_eq!(
        cal.add_business_hours(bogota(2026, 12, 24, 15, 0), 3.0),
        bogota(2026, 12, 28, 9, 0)
    );
    // New Year's Day on a Friday.
    assert_eq!(
        cal.add_business_hours(bogota(2026, 12, 31, 16, 0), 2.0),
        bogota(2027, 1, 4, 9, 0)
    );
    // Reyes on Monday 2027-01-11.
    assert_eq!(
        cal.add_business_hours(bogota(2027, 1, 8, 16, 0), 2.0),
        bogota(2027, 1, 12, 9, 0)
    );
    // All of it at once: 7 + 9 + 4×9 + 5×9 = 97 h to Friday 8 January.
    assert_eq!(
        cal.add_business_hours(bogota(2026, 12, 23, 10, 0), 99.0),
        bogota(2027, 1, 12, 10, 0)
    );
}

#[test]
fn request_at_16_50_on_a_friday() {
    let cal = office();
    let arrived = bogota(2026, 11, 20, 16, 50);
    assert_eq!(
        cal.add_business_hours(arrived, 1.0),
        bogota(2026, 11, 23, 8, 50)
    );
    assert_eq!(
        cal.add_business_hours(arrived, 5.0),
        bogota(2026, 11, 23, 12, 50)
    );

    let cal = office_with_lunch();
    assert_eq!(
        cal.add_business_hours(arrived, 4.0),
        bogota(2026, 11, 23, 11, 50)
    );
    assert_eq!(
        cal.add_business_hours(arrived, 5.0),
        bogota(2026, 11, 23, 13, 50)
    );
}

#[test]
fn ends_of_periods_are_the_earliest_instant() {
    let cal = office();
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 20, 16, 0), 1.0),
        bogota(2026, 11, 20, 17, 0)
    );
    let cal = office_with_lunch();
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 23, 8, 0), 4.0),
        bogota(2026, 11, 23, 12, 0)
    );
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 23, 8, 0), 8.0),
        bogota(2026, 11, 23, 17, 0)
    );
}

#[test]
fn going_backwards_gives_the_latest_instant() {
    let cal = office_with_lunch();
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 23, 9, 0), -1.0),
        bogota(2026, 11, 23, 8, 0)
    );
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 23, 14, 0), -1.0),
        bogota(2026, 11, 23, 13, 0)
    );
    // Back over the weekend into Friday.
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 23, 9, 0), -2.0),
        bogota(2026, 11, 20, 16, 0)
    );
}

#[test]
fn start_outside_working_hours_counts_from_next_opening() {
    let cal = office();
    let one_hour = |t| cal.add_business_hours(t, 1.0);
    assert_eq!(
        one_hour(bogota(2026, 11, 21, 10, 0)),
        bogota(2026, 11, 23, 9, 0)
    ); // Saturday
    assert_eq!(
        one_hour(bogota(2026, 11, 23, 6, 0)),
        bogota(2026, 11, 23, 9, 0)
    ); // early
    assert_eq!(
        one_hour(bogota(2026, 11, 19, 20, 0)),
        bogota(2026, 11, 20, 9, 0)
    ); // night
    assert_eq!(
        one_hour(bogota(2026, 11, 16, 10, 0)),
        bogota(2026, 11, 17, 9, 0)
    ); // holiday

    let cal = office_with_lunch();
    assert_eq!(
        cal.add_business_hours(bogota(2026, 11, 23, 12, 30), 1.0),
        bogota(2026, 11, 23, 14, 0)
    );
}

#[test]
fn zero_and_odd_durations() {
    let cal = office();
    let saturday = bogota(2026, 11, 21, 10, 0);
    assert_eq!(cal.add_business_seconds(saturday, 0), saturday);
    assert_eq!(cal.add_business_hours(saturday, f64::NAN), saturday);
    assert_eq!(cal.add_business_days(saturday, 0), saturday);
    assert_eq!(
        cal.add_business_hours(saturday, f64::INFINITY),
        DateTime::<Utc>::MAX_UTC
    );
    assert_eq!(
        cal.add_business_hours(saturday, 0.5),
        bogota(2026, 11, 23, 8, 30)
    );
    // Sub-second parts of the start are ignored.
    let fractional = bogota(2026, 11, 23, 10, 0) + TimeDelta::milliseconds(700);
    assert_eq!(
        cal.add_business_hours(fractional, 1.0),
        bogota(2026, 11, 23, 11, 0)
    );
}

#[test]
fn extra_holidays_and_working_days() {
    let cal = calendar(&CalendarConfig {
        extra_holidays: vec!["2026-12-24".into(), "2026-12-31".into()],
        // A Saturday, and the legal holiday of 8 December (a Tuesday).
        extra_working_days: vec!["2026-12-26".into(), "2026-12-08".into()],
        ..CalendarConfig::default()
    });
    assert!(!cal.is_working_day(date(2026, 12, 24)));
    assert!(!cal.is_working_day(date(2026, 12, 25)));
    assert!(cal.is_working_day(date(2026, 12, 26)));
    assert!(cal.is_working_day(date(2026, 12, 8)));
    assert!(!cal.is_working_day(date(2026, 12, 27)));

    // Wed 23rd: 1 h; 24th and 25th off; Saturday 26th worked.
    assert_eq!(
        cal.add_business_hours(bogota(2026, 12, 23, 16, 0), 2.0),
        bogota(2026, 12, 26, 9, 0)
    );
    assert_eq!(
        cal.add_business_hours(bogota(2026, 12, 7, 16, 0), 2.0),
        bogota(2026, 12, 8, 9, 0)
    );
    // 31st off, then New Year's Day.
    assert_eq!(
        cal.add_business_hours(bogota(2026, 12, 30, 16, 0), 2.0),
        bogota(2027, 1, 4, 9, 0)
    );

    let days: Vec<String> = cal
        .holidays(2026)
        .into_iter()
        .filter(|h| h.date >= date(2026, 12, 1))
        .map(|h| format!("{} {}", h.date, h.name))
        .collect();
    assert_eq!(
        days,
        [
            "2026-12-24 Día no hábil adicional",
            "2026-12-25 Navidad",
            "2026-12-31 Día no hábil adicional",
        ]
    );
    assert_eq!(office().holidays(2026), super::colombian_holidays(2026));
}

#[test]
fn business_days_from_wednesday_before_a_holiday_monday() {
    let cal = office();
    // Thu 12, Fri 13, (Mon 16 Independencia de Cartagena), Tue 17.
    assert_eq!(
        cal.add_business_days(bogota(2026, 11, 11, 10, 0), 3),
        bogota(2026, 11, 17, 10, 0)
    );
    // The close of the day, not the next opening (see add_business_days).
    assert_eq!(
        cal.add_business_days(bogota(2026, 11, 11, 8, 0), 1),
        bogota(2026, 11, 11, 17, 0)
    );
}

#[test]
fn working_time() {
    let cal = office_with_lunch();
    let at = |h, m| cal.is_working_time(bogota(2026, 11, 23, h, m));
    assert!(!at(7, 59));
    assert!(at(8, 0));
    assert!(at(11, 59));
    assert!(!at(12, 0));
    assert!(!at(12, 59));
    assert!(at(13, 0));
    assert!(at(16, 59));
    assert!(!at(17, 0));
    assert!(!cal.is_working_time(bogota(2026, 11, 16, 10, 0))); // holiday
    assert!(!cal.is_working_time(bogota(2026, 11, 21, 10, 0))); // Saturday
}

#[test]
fn seconds_between() {
    let cal = office();
    let opened = bogota(2026, 11, 27, 16, 0);
    assert_eq!(
        cal.business_seconds_between(opened, bogota(2026, 11, 30, 11, 0)),
        4 * HOUR
    );
    assert_eq!(
        cal.business_seconds_between(bogota(2026, 11, 30, 11, 0), opened),
        0
    );
    assert_eq!(cal.business_seconds_between(opened, opened), 0);
    // 2026: 261 weekdays, all 19 holidays on weekdays.
    assert_eq!(
        cal.business_seconds_between(bogota(2026, 1, 1, 0, 0), bogota(2027, 1, 1, 0, 0)),
        242 * 9 * HOUR
    );
}

#[test]
fn long_spans_agree_with_day_by_day_counting() {
    let cal = office();
    let (from, to) = (date(1990, 1, 1), date(2061, 1, 1));
    let working_days = from
        .iter_days()
        .take_while(|&d| d < to)
        .filter(|&d| cal.is_working_day(d))
        .count() as i64;
    assert_eq!(
        cal.business_seconds_between(bogota(1990, 1, 1, 0, 0), bogota(2061, 1, 1, 0, 0)),
        working_days * cal.workday_seconds()
    );

    // 10,000 business hours in one call equal 100 calls of 100 hours.
    let start = bogota(2026, 1, 2, 13, 0);
    let stepped = (0..100).fold(start, |t, _| cal.add_business_hours(t, 100.0));
    let direct = cal.add_business_hours(start, 10_000.0);
    assert_eq!(direct, stepped);
    assert_eq!(cal.business_seconds_between(start, direct), 10_000 * HOUR);
}

#[test]
fn years_outside_the_precomputed_table() {
    let cal = office();
    assert!(!cal.is_working_day(date(2200, 12, 25)));
    assert!(!cal.is_working_day(date(1900, 1, 1)));
    // Thursday 16:00, from the last precomputed year into computed ones,
    // over Christmas and New Year's Day (both Fridays).
    let start = bogota(2150, 12, 24, 16, 0);
    assert!(cal.is_working_time(start));
    assert_eq!(
        cal.add_business_hours(start, 2.0),
        bogota(2150, 12, 28, 9, 0)
    );
    let end = cal.add_business_hours(start, 500.0);
    assert_eq!(cal.business_seconds_between(start, end), 500 * HOUR);
    assert_eq!(cal.add_business_hours(end, -500.0), start);
}

#[test]
fn extreme_instants_saturate_without_panicking() {
    let cal = office();
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    for t in [min, max] {
        for secs in [1, -1, 100 * HOUR, -100 * HOUR, i64::MAX, i64::MIN] {
            let _ = cal.add_business_seconds(t, secs);
        }
        let _ = cal.is_working_time(t);
    }
    assert_eq!(cal.add_business_seconds(max, 1), max);
    assert_eq!(cal.add_business_seconds(min, -1), min);
    assert_eq!(
        cal.add_business_seconds(bogota(2026, 1, 2, 9, 0), i64::MAX),
        max
    );
    assert_eq!(
        cal.add_business_seconds(bogota(2026, 1, 2, 9, 0), i64::MIN),
        min
    );
    assert_eq!(
        cal.add_business_days(bogota(2026, 1, 2, 9, 0), u32::MAX),
        max
    );
}
