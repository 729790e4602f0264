//! Tests of the calendar module. Times in the scenarios are Bogotá wall
//! clock, the way a help-desk operator reads them.

mod business_time;
mod config;
mod holidays;
mod properties;
mod pypi;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::America::Bogota;

use super::{
    colombian_holidays, easter_sunday, BusinessCalendar, CalendarConfig, CalendarError, Holiday,
};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

fn bogota(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Bogota
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid Bogotá time")
        .with_timezone(&Utc)
}

fn calendar(config: &CalendarConfig) -> BusinessCalendar {
    BusinessCalendar::new(config).expect("valid calendar config")
}

/// 08:00–17:00 Monday to Friday, no lunch break.
fn office() -> BusinessCalendar {
    calendar(&CalendarConfig::default())
}

/// 08:00–12:00 and 13:00–17:00 Monday to Friday.
fn office_with_lunch() -> BusinessCalendar {
    calendar(&CalendarConfig {
        lunch_start: Some("12:00".into()),
        lunch_end: Some("13:00".into()),
        ..CalendarConfig::default()
    })
}

const HOUR: i64 = 3600;
