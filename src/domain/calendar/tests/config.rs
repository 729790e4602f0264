use super::{BusinessCalendar, CalendarConfig, CalendarError};

fn parse(toml_text: &str) -> CalendarConfig {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        calendar: CalendarConfig,
    }
    toml::from_str::<File>(toml_text)
        .expect("valid TOML")
        .calendar
}

fn rejected_key(config: CalendarConfig) -> &'static str {
    match BusinessCalendar::new(&config) {
        Ok(_) => panic!("accepted {config:?}"),
        Err(err) => {
            // The message is what the operator sees: it must name the key.
            assert!(err.to_string().contains(err.key()), "{err}");
            err.key()
        }
    }
}

#[test]
fn defaults_match_missing_section_and_keys() {
    let expected = CalendarConfig {
        timezone: "America/Bogota".into(),
        workday_start: "08:00".into(),
        workday_end: "17:00".into(),
        lunch_start: None,
        lunch_end: None,
        weekdays: ["mon", "tue", "wed", "thu", "fri"]
            .map(String::from)
            .to_vec(),
        extra_holidays: vec![],
        extra_working_days: vec![],
    };
    assert_eq!(CalendarConfig::default(), expected);
    assert_eq!(parse(""), expected);
    assert_eq!(parse("[calendar]\n"), expected);
    assert_eq!(super::office().workday_seconds(), 9 * 3600);
}

#[test]
fn full_section() {
    let config = parse(
        r#"
        [calendar]
        timezone = "America/Bogota"
        workday_start = "07:30"
        workday_end = "16:30"
        lunch_start = "12:00"
        lunch_end = "13:00"
        weekdays = ["mon", "tue", "wed", "thu", "fri", "sat"]
        extra_holidays = ["2026-12-24"]
        extra_working_days = ["2026-12-26"]
        "#,
    );
    let cal = BusinessCalendar::new(&config).expect("valid");
    assert_eq!(cal.workday_seconds(), 8 * 3600);
    assert_eq!(cal.timezone(), chrono_tz::America::Bogota);
}

#[test]
fn unknown_key_is_rejected() {
    let result = toml::from_str::<CalendarConfig>("workday_ends = \"17:00\"");
    assert!(result.is_err());
}

#[test]
fn invalid_values_name_their_key() {
    let base = CalendarConfig::default;
    let lunch = |start: &str, end: &str| CalendarConfig {
        lunch_start: Some(start.into()),
        lunch_end: Some(end.into()),
        ..base()
    };
    let cases: Vec<(CalendarConfig, &str)> = vec![
        (
            CalendarConfig {
                timezone: "America/Bogotá".into(),
                ..base()
            },
            "timezone",
        ),
        (
            CalendarConfig {
                workday_start: "8am".into(),
                ..base()
            },
            "workday_start",
        ),
        (
            CalendarConfig {
                workday_end: "25:00".into(),
                ..base()
            },
            "workday_end",
        ),
        (
            CalendarConfig {
                workday_end: "07:00".into(),
                ..base()
            },
            "workday_end",
        ),
        (
            CalendarConfig {
                workday_end: "08:00".into(),
                ..base()
            },
            "workday_end",
        ),
        (lunch("07:00", "13:00"), "lunch_start"),
        (lunch("12:00", "18:00"), "lunch_end"),
        (lunch("13:00", "12:00"), "lunch_end"),
        (lunch("12:00", "noon"), "lunch_end"),
        (
            CalendarConfig {
                lunch_start: Some("12:00".into()),
                ..base()
            },
            "lunch_end",
        ),
        (
            CalendarConfig {
                lunch_end: Some("13:00".into()),
                ..base()
            },
            "lunch_start",
        ),
        (
            CalendarConfig {
                weekdays: vec!["lunes".into()],
                ..base()
            },
            "weekdays",
        ),
        (
            CalendarConfig {
                weekdays: vec![],
                ..base()
            },
            "weekdays",
        ),
        (
            CalendarConfig {
                extra_holidays: vec!["2026-02-30".into()],
                ..base()
            },
            "extra_holidays",
        ),
        (
            CalendarConfig {
                extra_working_days: vec!["26/12/2026".into()],
                ..base()
            },
            "extra_working_days",
        ),
        (
            CalendarConfig {
                extra_holidays: vec!["2026-12-24".into()],
                extra_working_days: vec!["2026-12-24".into()],
                ..base()
            },
            "extra_working_days",
        ),
    ];
    for (config, key) in cases {
        assert_eq!(rejected_key(config.clone()), key, "{config:?}");
    }
}

#[test]
fn error_message_is_readable() {
    let err = BusinessCalendar::new(&CalendarConfig {
        workday_end: "07:00".into(),
        ..CalendarConfig::default()
    })
    .expect_err("end before start");
    assert_eq!(
        err,
        CalendarError::TimeOrder {
            key: "workday_end",
            value: "07:00".into(),
            relation: "later",
            other: "workday_start",
            other_value: "08:00".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "calendar.workday_end (07:00) must be later than calendar.workday_start (08:00)"
    );
}

#[test]
fn calendar_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<BusinessCalendar>();
}
