//! Properties checked over many pseudo-random starts and durations, with a
//! fixed seed so that failures reproduce.

use chrono::{DateTime, TimeDelta, Utc};

use super::{bogota, calendar, office, office_with_lunch, BusinessCalendar, CalendarConfig, HOUR};

/// xorshift64*: enough randomness for test inputs, no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: i64) -> i64 {
        (self.next() % n as u64) as i64
    }
}

fn calendars() -> Vec<BusinessCalendar> {
    vec![
        office(),
        office_with_lunch(),
        calendar(&CalendarConfig {
            workday_start: "07:30".into(),
            workday_end: "18:45".into(),
            lunch_start: Some("12:15".into()),
            lunch_end: Some("14:00".into()),
            weekdays: ["mon", "wed", "sat"].map(String::from).to_vec(),
            extra_holidays: vec!["2026-12-23".into(), "2027-01-02".into()],
            extra_working_days: vec!["2026-12-25".into(), "2026-12-27".into()],
            ..CalendarConfig::default()
        }),
    ]
}

/// Whole-second instants 2024–2030; a quarter of them on exact minutes so
/// that period boundaries get hit often.
fn random_start(rng: &mut Rng) -> DateTime<Utc> {
    let base = bogota(2024, 1, 1, 0, 0);
    let secs = rng.below(7 * 365 * 86_400);
    let secs = if rng.below(4) == 0 {
        secs / 60 * 60
    } else {
        secs
    };
    base + TimeDelta::seconds(secs)
}

/// Short and long durations, including exact multiples of a working day.
fn random_duration(rng: &mut Rng, cal: &BusinessCalendar) -> i64 {
    match rng.below(4) {
        0 => rng.below(2 * HOUR),
        1 => rng.below(3000 * HOUR),
        2 => cal.workday_seconds() * rng.below(30),
        _ => rng.below(60) * 60,
    }
}

#[test]
fn between_inverts_add_in_both_directions() {
    let mut rng = Rng(0x5EED_CA1E_4DA2_2026);
    let second = TimeDelta::seconds(1);
    for cal in calendars() {
        for _ in 0..1500 {
            let start = random_start(&mut rng);
            let secs = random_duration(&mut rng, &cal);

            let ahead = cal.add_business_seconds(start, secs);
            assert_eq!(
                cal.business_seconds_between(start, ahead),
                secs,
                "{start} + {secs}"
            );
            let behind = cal.add_business_seconds(start, -secs);
            assert_eq!(
                cal.business_seconds_between(behind, start),
                secs,
                "{start} - {secs}"
            );
            if secs == 0 {
                continue;
            }
            // Earliest/latest: one second less of business time is one
            // second nearer, and that second is working time.
            assert_eq!(
                cal.business_seconds_between(start, ahead - second),
                secs - 1
            );
            assert!(cal.is_working_time(ahead - second), "{start} + {secs}");
            assert_eq!(
                cal.business_seconds_between(behind + second, start),
                secs - 1
            );
            assert!(cal.is_working_time(behind), "{start} - {secs}");

            let more = random_duration(&mut rng, &cal).max(1);
            assert_eq!(
                cal.add_business_seconds(ahead, more),
                cal.add_business_seconds(start, secs + more),
                "{start} + {secs} + {more}"
            );
        }
    }
}

#[test]
fn between_matches_minute_by_minute_counting() {
    let mut rng = Rng(0xB06_07A);
    let minute = TimeDelta::minutes(1);
    for cal in calendars() {
        for _ in 0..60 {
            let a = random_start(&mut rng);
            let a = a - TimeDelta::seconds(a.timestamp().rem_euclid(60));
            let minutes = rng.below(4 * 24 * 60);
            let working = (0..minutes)
                .filter(|&m| cal.is_working_time(a + minute * m as i32))
                .count() as i64;
            let b = a + minute * minutes as i32;
            assert_eq!(cal.business_seconds_between(a, b), working * 60, "{a}..{b}");
        }
    }
}
