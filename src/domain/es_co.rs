//! Dates and numbers as people in Colombia write them, for everything a user reads: mails and
//! the CLI's human output. "miércoles 2 de diciembre de 2026, 5:00 p. m.", "6,0 horas".
//! Machine output (JSON, CSV, logs) keeps ISO dates and decimal points.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

const WEEKDAYS: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];

const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// "enero" … "diciembre" for 1 … 12.
pub fn month_name(month: u32) -> &'static str {
    MONTHS[(month.clamp(1, 12) - 1) as usize]
}

/// "lunes" … "domingo".
pub fn weekday_name(d: NaiveDate) -> &'static str {
    WEEKDAYS[d.weekday().num_days_from_monday() as usize]
}

/// "miércoles 2 de diciembre de 2026": lowercase names, day without a leading zero.
pub fn date(d: NaiveDate) -> String {
    format!(
        "{} {} de {} de {}",
        weekday_name(d),
        d.day(),
        month_name(d.month()),
        d.year()
    )
}

/// "5:00 p. m.": twelve-hour clock as the RAE and Colombian usage write it; noon is
/// "12:00 p. m." and midnight "12:00 a. m.".
pub fn time(t: NaiveTime) -> String {
    let (pm, hour) = t.hour12();
    format!(
        "{hour}:{:02} {}",
        t.minute(),
        if pm { "p. m." } else { "a. m." }
    )
}

/// "miércoles 2 de diciembre de 2026, 5:00 p. m." for a wall-clock time.
pub fn datetime(local: NaiveDateTime) -> String {
    format!("{}, {}", date(local.date()), time(local.time()))
}

/// [`datetime`] of an instant as read in `tz` (the business calendar's zone).
pub fn datetime_in<Tz: TimeZone>(t: DateTime<Utc>, tz: &Tz) -> String {
    datetime(t.with_timezone(tz).naive_local())
}

/// "1.234,5": decimal comma and a point every three digits, `places` decimals.
pub fn decimal(x: f64, places: usize) -> String {
    let s = format!("{:.*}", places, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    // "-0,0" would read as a sign error to a user.
    let negative = x < 0.0 && s.chars().any(|c| ('1'..='9').contains(&c));
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// Business seconds as "6,0 horas" (one decimal, as the SLA is read).
pub fn hours(secs: i64) -> String {
    format!("{} horas", decimal(secs as f64 / 3600.0, 1))
}

/// A file size as a reader takes it in: "2,4 MB", "300 KB", "512 bytes".
pub fn size(bytes: i64) -> String {
    const MB: i64 = 1024 * 1024;
    match bytes {
        b if b >= MB => format!("{} MB", decimal(b as f64 / MB as f64, 1)),
        b if b >= 1024 => format!("{} KB", decimal((b / 1024) as f64, 0)),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn the_issues_example_reads_as_written_in_colombia() {
        assert_eq!(
            datetime(at(2026, 12, 2, 17, 0)),
            "miércoles 2 de diciembre de 2026, 5:00 p. m."
        );
    }

    #[test]
    fn midnight_is_a_m_and_noon_is_p_m() {
        assert_eq!(
            time(NaiveTime::from_hms_opt(0, 0, 0).unwrap()),
            "12:00 a. m."
        );
        assert_eq!(
            time(NaiveTime::from_hms_opt(12, 0, 0).unwrap()),
            "12:00 p. m."
        );
        assert_eq!(
            time(NaiveTime::from_hms_opt(0, 5, 0).unwrap()),
            "12:05 a. m."
        );
        assert_eq!(
            time(NaiveTime::from_hms_opt(8, 30, 0).unwrap()),
            "8:30 a. m."
        );
        assert_eq!(
            time(NaiveTime::from_hms_opt(23, 59, 0).unwrap()),
            "11:59 p. m."
        );
    }

    #[test]
    fn single_digit_days_have_no_leading_zero() {
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
            "jueves 1 de enero de 2026"
        );
    }

    #[test]
    fn every_weekday_and_month_is_named_in_lowercase_spanish() {
        // 2026-06-01 is a Monday: seven days give every weekday in order.
        let days: Vec<String> = (1..=7)
            .map(|d| date(NaiveDate::from_ymd_opt(2026, 6, d).unwrap()))
            .collect();
        let names: Vec<&str> = days.iter().map(|d| d.split(' ').next().unwrap()).collect();
        assert_eq!(
            names,
            [
                "lunes",
                "martes",
                "miércoles",
                "jueves",
                "viernes",
                "sábado",
                "domingo"
            ]
        );
        let months: Vec<String> = (1..=12)
            .map(|m| date(NaiveDate::from_ymd_opt(2026, m, 15).unwrap()))
            .collect();
        let expected = [
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ];
        for (text, month) in months.iter().zip(expected) {
            assert!(text.contains(&format!(" 15 de {month} de 2026")), "{text}");
        }
    }

    #[test]
    fn instants_are_read_on_the_calendars_wall_clock() {
        // 22:00 UTC is 5:00 p. m. in Bogotá (UTC−5, no daylight saving).
        let t = Utc.with_ymd_and_hms(2026, 12, 2, 22, 0, 0).unwrap();
        assert_eq!(
            datetime_in(t, &chrono_tz::America::Bogota),
            "miércoles 2 de diciembre de 2026, 5:00 p. m."
        );
    }

    #[test]
    fn numbers_use_a_decimal_comma_and_thousands_points() {
        assert_eq!(decimal(6.0, 1), "6,0");
        assert_eq!(decimal(0.25, 2), "0,25");
        assert_eq!(decimal(1234.56, 1), "1.234,6");
        assert_eq!(decimal(1_000_000.0, 0), "1.000.000");
        assert_eq!(decimal(-2.5, 1), "-2,5");
        assert_eq!(decimal(-0.01, 1), "0,0");
        assert_eq!(hours(6 * 3600), "6,0 horas");
        assert_eq!(hours(5400), "1,5 horas");
    }

    #[test]
    fn file_sizes() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(300 * 1024 + 7), "300 KB");
        assert_eq!(size(2_516_582), "2,4 MB");
        assert_eq!(size(1500 * 1024 * 1024), "1.500,0 MB");
    }
}
